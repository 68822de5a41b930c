/* Host fakes for the firmware core's two lower interfaces (target.h, usbd_port.h),
 * and a tiny USB host that runs control transfers through the device core the way
 * the OTG_FS port would. */
#ifndef L4DFU_TESTS_CORE_FAKES_H
#define L4DFU_TESTS_CORE_FAKES_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "target.h"

/* ---- fake chip ---- */
#define FAKE_FLASH_BASE 0x08000000u
#define FAKE_FLASH_MAX (1024u * 1024u)
#define FAKE_PAGE_SIZE 2048u
#define FAKE_OPTION_BASE 0x1FFF7800u
#define FAKE_OPTION_SIZE 40u
#define FAKE_OTP_BASE 0x1FFF7000u
#define FAKE_OTP_SIZE 1024u
#define FAKE_POLLS_PER_OP 3 /* target_flash_poll answers BUSY this often, then the result */

struct fake_chip {
    uint32_t flash_size; /* 1 MB or 512 KB; banks are half each */
    uint8_t flash[FAKE_FLASH_MAX];
    uint8_t option_bytes[FAKE_OPTION_SIZE];
    uint8_t otp[FAKE_OTP_SIZE];
    uint32_t wrp_start, wrp_end; /* write-protected [start, end): WRPERR */
    enum target_flash_status inject; /* next operation's result, OK = none */

    /* what the core did */
    unsigned page_erases[2 * 256];
    unsigned mass_erases[3];
    unsigned programs;
    unsigned op_started_while_busy; /* must stay 0: one flash operation at a time */
    unsigned unprotect_calls;
    enum target_flash_status unprotect_result;
    unsigned rdp_level;

    /* operation in flight */
    int busy_polls;
    enum target_flash_status pending;

    uint32_t handshake, bootcount;
    bool button, power_on;
    unsigned resets;
    jmp_buf *reset_jump; /* target_reset / target_start_image longjmp here */
    uint32_t started_image;
};
extern struct fake_chip chip;

void fake_chip_reset(uint32_t flash_size);
/* Runs target_flash_poll-driven work to the end: calls dfu_poll until the chip idles. */
void fake_run_flash(void (*poll)(void));
uint8_t *fake_memory(uint32_t addr); /* NULL outside flash/option bytes/OTP */

/* ---- fake port + host ---- */
enum host_result { HOST_OK, HOST_STALL, HOST_BAD_SEQUENCE };

struct fake_port {
    bool initialised, connected;
    uint8_t address;
    bool stalled_in, stalled_out;
    unsigned stall_calls[32];
    /* last EP0 IN transfer started */
    bool in_armed;
    const uint8_t *in_data;
    size_t in_len;
    unsigned zlp_count;
    /* last EP0 OUT arm */
    bool out_armed;
    uint8_t *out_buf;
    size_t out_len;
    void (*poll_hook)(void); /* what usbd_port_poll does: the test's host acting */
};
extern struct fake_port port;

/* GET-type control transfer; *got receives the bytes the device sent (data stage),
 * *zlp whether it ended with an extra zero-length packet. */
enum host_result host_in(uint8_t type, uint8_t request, uint16_t value, uint16_t index,
                         uint16_t length, uint8_t *got, size_t *got_len, bool *zlp);
enum host_result host_out(uint8_t type, uint8_t request, uint16_t value, uint16_t index,
                          const void *data, uint16_t length);
/* Device gets a bus reset, an address and configuration 1. */
void host_enumerate(void);

#endif
