/* Host fakes for the application side (cdc_acm, dfu_runtime, l4dfu API, the demo's USB
 * device): a port that records every endpoint, a USB host driving it the way the
 * OTG_FS port would, and the few target.h / l4dfu chip functions these need. Every
 * call that matters is appended to one event log, so a test can check the order. */
#ifndef L4DFU_TESTS_APP_FAKES_H
#define L4DFU_TESTS_APP_FAKES_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum app_event_kind {
    EV_EP0_STATUS_IN_QUEUED, /* the device queued the status-stage ZLP of a control write */
    EV_EP0_STATUS_IN_ACKED,  /* the host took it: the control transfer is over */
    EV_QUIESCE,              /* l4dfu_chip_quiesce */
    EV_HANDSHAKE_WRITE,      /* value = what went into BKP0R */
    EV_BOOTCOUNT_WRITE,      /* value = what went into BKP1R */
    EV_RESET,
};

struct app_event {
    enum app_event_kind kind;
    uint32_t value;
};

#define APP_MAX_EVENTS 32
#define APP_EP_SLOTS 16

struct app_fake {
    /* chip */
    uint32_t handshake, bootcount;
    jmp_buf *reset_jump; /* target_reset longjmps here with 1 (abort if NULL) */
    struct app_event events[APP_MAX_EVENTS];
    unsigned event_count;

    /* port: endpoints as opened by the device (index = number, IN and OUT apart) */
    bool connected;
    uint8_t address;
    bool in_open[APP_EP_SLOTS], out_open[APP_EP_SLOTS];
    uint8_t in_type[APP_EP_SLOTS], out_type[APP_EP_SLOTS];
    uint16_t in_mps[APP_EP_SLOTS], out_mps[APP_EP_SLOTS];
    bool in_stalled[APP_EP_SLOTS], out_stalled[APP_EP_SLOTS];
    /* transfers in flight */
    bool in_armed[APP_EP_SLOTS];
    const uint8_t *in_data[APP_EP_SLOTS];
    size_t in_len[APP_EP_SLOTS];
    unsigned in_sends[APP_EP_SLOTS];
    bool out_armed[APP_EP_SLOTS];
    uint8_t *out_buf[APP_EP_SLOTS];
    size_t out_cap[APP_EP_SLOTS];
    unsigned deinit_calls;
};
extern struct app_fake fake;

/* Everything back to power-on: port, chip, events. */
void app_fake_reset(void);
unsigned app_events_of(enum app_event_kind kind);
/* Index of the first event of `kind` at or after `from`, or -1. */
int app_event_index(enum app_event_kind kind, unsigned from);

enum host_result { HOST_OK, HOST_STALL, HOST_BAD_SEQUENCE };

/* Control transfers on EP0, status stage included. */
enum host_result host_control_in(uint8_t type, uint8_t request, uint16_t value, uint16_t index,
                                 uint16_t length, uint8_t *got, size_t *got_len);
enum host_result host_control_out(uint8_t type, uint8_t request, uint16_t value,
                                  uint16_t index, const void *data, uint16_t length);
/* A control write whose status stage the host never completes (e.g. the cable is
 * pulled): the SETUP and data go in, the status ZLP stays unacknowledged. */
enum host_result host_control_out_no_status(uint8_t type, uint8_t request, uint16_t value,
                                            uint16_t index);
/* Bus reset, SET_ADDRESS 5, SET_CONFIGURATION 1. */
void host_enumerate(void);
/* One bulk/interrupt OUT packet to an armed endpoint. */
enum host_result host_bulk_out(uint8_t ep, const void *data, size_t len);
/* Takes the IN transfer queued on `ep` (number | 0x80): copies it to buf and
 * acknowledges it. Returns its length, or -1 if nothing was queued. */
long host_bulk_in(uint8_t ep, uint8_t *buf, size_t room);

#endif
