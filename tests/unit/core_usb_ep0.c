/* The bootloader's own USB device (firmware/stm32l4/usb_ep0.c: EP0 and the control
 * transfers in one layer) as built, on l4sim's virtual host: the rules usbd.c follows
 * for applications must hold here too. The DFU protocol itself is tested on the host
 * fakes (core_dfu_*); this test is about EP0: standard requests, STALLs, the ZLP after
 * a short reply of whole packets, multi-packet IN and OUT stages, and an OUT data
 * stage longer than the class's buffer (STALLed, nothing written past it).
 * The ELF: argv[1], or the build's bootloader (L4_BOOTLOADER_ELF). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sim.h"
#include "usbhost.h"

static const char *bootloader_elf;
static bool usb_quirk; /* the group runs with and without the 3.10a extra EP0 entries */

struct board {
    sim_t *sim;
    struct usbhost *host;
};

enum { DFU_DNLOAD = 1, DFU_UPLOAD = 2, DFU_GETSTATUS = 3, DFU_CLRSTATUS = 4, DFU_GETSTATE = 5,
       DFU_ABORT = 6 };
enum { STATE_IDLE = 2, STATE_DNLOAD_IDLE = 5, STATE_ERROR = 10 };

static int setup_board(void **state)
{
    static struct board b;
    sim_config cfg;
    sim_config_defaults(&cfg);
    cfg.strict = true; /* a reserved or unimplemented register access fails the run */
    cfg.usb_quirk_310a = usb_quirk;
    b.sim = sim_create(&cfg);
    assert_non_null(b.sim);
    assert_int_equal(sim_load_elf(b.sim, bootloader_elf), 0);
    sim_reset(b.sim, SIM_RESET_POWER_ON, SIM_CAUSE_POWER_ON);
    b.host = usbhost_attach(b.sim);
    assert_true(usbhost_wait_state(b.host, USBH_CONFIGURED, 3000));
    *state = &b;
    return 0;
}

static int teardown_board(void **state)
{
    struct board *b = *state;
    sim_destroy(b->sim);
    return 0;
}

static int control(struct board *b, uint8_t type, uint8_t request, uint16_t value,
                   uint16_t index, uint16_t length, uint8_t *data, uint32_t *actual)
{
    uint8_t setup[8] = {type, request, (uint8_t)value, (uint8_t)(value >> 8),
                        (uint8_t)index, (uint8_t)(index >> 8), (uint8_t)length,
                        (uint8_t)(length >> 8)};
    uint32_t ignored;
    return usbhost_control_sync(b->host, setup, data, actual ? actual : &ignored, 1000);
}

static uint8_t dfu_state(struct board *b)
{
    uint8_t reply[6] = {0};
    uint32_t n = 0;
    assert_int_equal(control(b, 0xA1, DFU_GETSTATUS, 0, 0, 6, reply, &n), 0);
    assert_int_equal(n, 6);
    return reply[4];
}

/* Polls until the block or command is done (the GETSTATUS after the work says
 * dfuDNLOAD-IDLE); bounded, so a device that never finishes fails the test. */
static void wait_dnload_idle(struct board *b)
{
    for (unsigned polls = 0; polls < 200u; polls++) {
        if (dfu_state(b) == STATE_DNLOAD_IDLE)
            return;
    }
    fail_msg("the DFU device never came back to dfuDNLOAD-IDLE");
}

static void dfu_back_to_idle(struct board *b)
{
    if (dfu_state(b) == STATE_ERROR)
        assert_int_equal(control(b, 0x21, DFU_CLRSTATUS, 0, 0, 0, NULL, NULL), 0);
    assert_int_equal(dfu_state(b), STATE_IDLE);
}

static void standard_requests(void **state)
{
    struct board *b = *state;
    uint8_t buf[256];
    uint32_t n = 0;

    assert_int_equal(control(b, 0x80, 0 /* GET_STATUS */, 0, 0, 2, buf, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(buf[0], 0); /* bus powered */
    assert_int_equal(control(b, 0x81, 0, 0, 0, 2, buf, &n), 0);  /* interface 0 */
    assert_int_equal(control(b, 0x81, 0, 0, 1, 2, buf, &n), -EPIPE); /* no interface 1 */
    assert_int_equal(control(b, 0x82, 0, 0, 0x80, 2, buf, &n), 0); /* EP0 IN */
    assert_int_equal(control(b, 0x82, 0, 0, 0x81, 2, buf, &n), -EPIPE); /* no EP1 */
    assert_int_equal(control(b, 0x02, 3 /* SET_FEATURE */, 0, 0x01, 0, NULL, NULL), -EPIPE);
    assert_int_equal(control(b, 0x02, 1 /* CLEAR_FEATURE */, 0, 0x00, 0, NULL, NULL), 0);
    assert_int_equal(control(b, 0x00, 3, 1 /* remote wakeup */, 0, 0, NULL, NULL), -EPIPE);

    assert_int_equal(control(b, 0x80, 8 /* GET_CONFIGURATION */, 0, 0, 1, buf, &n), 0);
    assert_int_equal(buf[0], 1);
    assert_int_equal(control(b, 0x01, 11 /* SET_INTERFACE */, 2, 0, 0, NULL, NULL), 0);
    assert_int_equal(control(b, 0x81, 10 /* GET_INTERFACE */, 0, 0, 1, buf, &n), 0);
    assert_int_equal(buf[0], 2);
    assert_int_equal(control(b, 0x01, 11, 3, 0, 0, NULL, NULL), -EPIPE); /* alts 0..2 */
    assert_int_equal(control(b, 0x81, 10, 0, 0, 1, buf, &n), 0);
    assert_int_equal(buf[0], 2);
    assert_int_equal(control(b, 0x00, 9 /* SET_CONFIGURATION */, 2, 0, 0, NULL, NULL), -EPIPE);
    assert_int_equal(control(b, 0x00, 9, 1, 0, 0, NULL, NULL), 0);
    assert_int_equal(control(b, 0x81, 10, 0, 0, 1, buf, &n), 0);
    assert_int_equal(buf[0], 0); /* SET_CONFIGURATION puts alt 0 back */

    assert_int_equal(control(b, 0x80, 6, 0x0600 /* qualifier */, 0, 10, buf, &n), -EPIPE);
    assert_int_equal(control(b, 0x80, 6, 0x0201 /* config 1 */, 0, 255, buf, &n), -EPIPE);
    assert_int_equal(control(b, 0x80, 6, 0x0309 /* no string 9 */, 0x409, 255, buf, &n), -EPIPE);
    assert_int_equal(control(b, 0xC0, 1 /* vendor */, 0, 0, 4, buf, &n), -EPIPE);
    /* After a STALL the next request is served. */
    assert_int_equal(control(b, 0x80, 6, 0x0100, 0, 18, buf, &n), 0);
    assert_int_equal(n, 18);
    assert_int_equal(buf[1], 1);
}

/* The alt 0 name (the flash layout, > 64 bytes as UTF-16) comes in two packets, and a
 * shorter wLength cuts it. */
static void multi_packet_string(void **state)
{
    struct board *b = *state;
    uint8_t buf[256];
    uint32_t n = 0;
    assert_int_equal(control(b, 0x80, 6, 0x0304, 0x409, 255, buf, &n), 0);
    assert_true(n > 64);
    assert_int_equal(buf[0], n);
    assert_int_equal(buf[1], 3);
    assert_memory_equal(&buf[2], "@\0I\0n\0t\0", 8);
    assert_int_equal(control(b, 0x80, 6, 0x0304, 0x409, 70, buf, &n), 0);
    assert_int_equal(n, 70);
}

/* A reply of whole packets shorter than wLength needs a zero-length packet: an UPLOAD
 * that reaches the end of the flash with 64 bytes left, asked for 128. Without the ZLP
 * the host would wait for more data and time out. */
static void zlp_after_short_reply_of_whole_packets(void **state)
{
    struct board *b = *state;
    uint8_t buf[128];
    uint32_t n = 0;
    dfu_back_to_idle(b);
    assert_int_equal(control(b, 0x01, 11, 0, 0, 0, NULL, NULL), 0);
    /* Flash size from the layout: 1 MB part in l4sim. SET_ADDRESS end - 64. */
    uint32_t addr = 0x08100000u - 64u;
    uint8_t cmd[5] = {0x21, (uint8_t)addr, (uint8_t)(addr >> 8), (uint8_t)(addr >> 16),
                      (uint8_t)(addr >> 24)};
    assert_int_equal(control(b, 0x21, DFU_DNLOAD, 0, 0, 5, cmd, &n), 0);
    wait_dnload_idle(b);
    assert_int_equal(control(b, 0x21, DFU_ABORT, 0, 0, 0, NULL, NULL), 0);
    /* wBlockNum 2 reads from the address pointer. */
    assert_int_equal(control(b, 0xA1, DFU_UPLOAD, 2, 0, 128, buf, &n), 0);
    assert_int_equal(n, 64);
    assert_int_equal(dfu_state(b), STATE_IDLE); /* a short frame ends the upload */
}

/* A DNLOAD data stage of several packets, then read back. */
static void multi_packet_out_stage(void **state)
{
    struct board *b = *state;
    uint8_t block[200], back[200];
    uint32_t n = 0;
    dfu_back_to_idle(b);
    assert_int_equal(control(b, 0x01, 11, 0, 0, 0, NULL, NULL), 0);
    uint32_t addr = 0x08080000u; /* bank 2, application area */
    uint8_t erase[5] = {0x41, (uint8_t)addr, (uint8_t)(addr >> 8), (uint8_t)(addr >> 16),
                        (uint8_t)(addr >> 24)};
    uint8_t set[5] = {0x21, erase[1], erase[2], erase[3], erase[4]};
    assert_int_equal(control(b, 0x21, DFU_DNLOAD, 0, 0, 5, erase, &n), 0);
    wait_dnload_idle(b);
    assert_int_equal(control(b, 0x21, DFU_DNLOAD, 0, 0, 5, set, &n), 0);
    wait_dnload_idle(b);
    for (unsigned i = 0; i < sizeof block; i++)
        block[i] = (uint8_t)(i * 7u + 3u);
    assert_int_equal(control(b, 0x21, DFU_DNLOAD, 2, 0, sizeof block, block, &n), 0);
    assert_int_equal(n, sizeof block);
    wait_dnload_idle(b);
    assert_int_equal(control(b, 0x21, DFU_ABORT, 0, 0, 0, NULL, NULL), 0);
    assert_int_equal(control(b, 0xA1, DFU_UPLOAD, 2, 0, sizeof back, back, &n), 0);
    assert_int_equal(n, sizeof back);
    assert_memory_equal(back, block, sizeof block);
    assert_int_equal(control(b, 0x21, DFU_ABORT, 0, 0, 0, NULL, NULL), 0);
}

/* Class OUT requests whose data stage is longer than the class's buffer: STALLed in the
 * SETUP, and the device keeps working. DNLOAD takes at most wTransferSize (2048); ABORT
 * and CLRSTATUS take no data (the class offers no buffer); GETSTATUS is IN. */
static void out_stage_longer_than_class_buffer(void **state)
{
    struct board *b = *state;
    static uint8_t big[2112];
    uint8_t serial[64], serial_after[64];
    uint32_t n = 0, serial_len = 0;
    /* The serial number string lives in RAM next to the class's small reply buffer: a
     * data stage written past that buffer would show in it. */
    assert_int_equal(control(b, 0x80, 6, 0x0303, 0x409, sizeof serial, serial, &serial_len), 0);
    assert_int_equal(serial_len, 2 + 2 * 12);
    dfu_back_to_idle(b);
    memset(big, 0x5A, sizeof big);
    assert_int_equal(control(b, 0x21, DFU_DNLOAD, 2, 0, 2049, big, &n), -EPIPE);
    dfu_back_to_idle(b);
    assert_int_equal(control(b, 0x21, DFU_ABORT, 0, 0, 64, big, &n), -EPIPE);
    dfu_back_to_idle(b);
    assert_int_equal(control(b, 0x21, DFU_CLRSTATUS, 0, 0, 16, big, &n), -EPIPE);
    dfu_back_to_idle(b);
    /* An IN request sent as OUT with data. */
    assert_int_equal(control(b, 0x21, DFU_GETSTATUS, 0, 0, 6, big, &n), -EPIPE);
    dfu_back_to_idle(b);
    assert_int_equal(control(b, 0x80, 6, 0x0303, 0x409, sizeof serial_after, serial_after, &n), 0);
    assert_int_equal(n, serial_len);
    assert_memory_equal(serial_after, serial, serial_len);
    uint8_t reply[18];
    assert_int_equal(control(b, 0x80, 6, 0x0100, 0, 18, reply, &n), 0);
    assert_int_equal(n, 18);
}

int main(int argc, char **argv)
{
    bootloader_elf = argc > 1 ? argv[1] : L4_BOOTLOADER_ELF;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(standard_requests, setup_board, teardown_board),
        cmocka_unit_test_setup_teardown(multi_packet_string, setup_board, teardown_board),
        cmocka_unit_test_setup_teardown(zlp_after_short_reply_of_whole_packets, setup_board,
                                        teardown_board),
        cmocka_unit_test_setup_teardown(multi_packet_out_stage, setup_board, teardown_board),
        cmocka_unit_test_setup_teardown(out_stage_longer_than_class_buffer, setup_board,
                                        teardown_board),
    };
    usb_quirk = true;
    int failed = cmocka_run_group_tests_name("core 3.10a (extra EP0 entries)", tests, NULL, NULL);
    usb_quirk = false;
    failed += cmocka_run_group_tests_name("core without the extra entries", tests, NULL, NULL);
    return failed;
}
