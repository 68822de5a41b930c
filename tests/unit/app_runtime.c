/* Run-time DFU in an application, as dfu-util 0.11 drives it (dfu-dfuse.md §3: claim,
 * SET_INTERFACE alt 0, GETSTATUS, DETACH wValue 1000, no USB reset as WillDetach is
 * set): the hand-over to the bootloader happens only after the DETACH status stage,
 * and in the order quiesce -> "DFU!" in BKP0R -> reset. Also the l4dfu API's other
 * calls: the ROM route and the boot confirmation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "app_fakes.h"
#include "boot.h"
#include "cdc_acm.h"
#include "dfu.h"
#include "dfu_runtime.h"
#include "l4dfu.h"
#include "usb_device.h"
#include "usbd.h"
#include "usbd_port.h"

#define DFU_OUT 0x21
#define DFU_IN 0xA1

static jmp_buf reset_jump;

static int setup(void **state)
{
    (void)state;
    app_fake_reset();
    fake.reset_jump = &reset_jump;
    cdc_acm_init(NULL);
    dfu_runtime_init(l4dfu_request_update);
    usbd_init(&demo_usb_device);
    host_enumerate();
    fake.event_count = 0;
    return 0;
}

static uint8_t runtime_state(void)
{
    uint8_t status[6] = {0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE};
    size_t len = 0;
    assert_int_equal(host_control_in(DFU_IN, DFU_GETSTATUS, 0, DEMO_IFACE_DFU, 6, status, &len),
                     HOST_OK);
    assert_int_equal(len, 6);
    assert_int_equal(status[0], DFU_OK);
    return status[4];
}

static void dfu_util_detach_sequence(void **state)
{
    (void)state;
    /* dfu-util claims the interface and always selects alt 0 */
    assert_int_equal(host_control_out(0x01, 11, 0, DEMO_IFACE_DFU, NULL, 0), HOST_OK);
    assert_int_equal(runtime_state(), DFU_STATE_APP_IDLE);
    fake.event_count = 0;

    volatile enum host_result result = HOST_BAD_SEQUENCE;
    if (setjmp(reset_jump) == 0) {
        result = host_control_out(DFU_OUT, DFU_DETACH, 1000, DEMO_IFACE_DFU, NULL, 0);
        fail_msg("DETACH returned (%d) without a reset", result);
    }
    /* status stage queued, acknowledged by the host, and only then the hand-over */
    assert_int_equal(fake.event_count, 5);
    assert_int_equal(fake.events[0].kind, EV_EP0_STATUS_IN_QUEUED);
    assert_int_equal(fake.events[1].kind, EV_EP0_STATUS_IN_ACKED);
    assert_int_equal(fake.events[2].kind, EV_QUIESCE);
    assert_int_equal(fake.events[3].kind, EV_HANDSHAKE_WRITE);
    assert_int_equal(fake.events[3].value, 0x21554644u); /* "DFU!" */
    assert_int_equal(fake.events[4].kind, EV_RESET);
    assert_int_equal(fake.handshake, BOOT_HANDSHAKE_DFU);
}

/* DETACH whose status stage never completes (the host went away): the device stays. */
static void no_hand_over_before_the_status_stage(void **state)
{
    (void)state;
    assert_int_equal(host_control_out_no_status(DFU_OUT, DFU_DETACH, 1000, DEMO_IFACE_DFU),
                     HOST_OK);
    assert_int_equal(app_events_of(EV_RESET), 0);
    assert_int_equal(app_events_of(EV_HANDSHAKE_WRITE), 0);
    assert_int_equal(fake.handshake, 0);
    /* the bus reset that follows a lost host returns the interface to appIDLE */
    usbd_port_on_bus_reset();
    host_enumerate();
    assert_int_equal(runtime_state(), DFU_STATE_APP_IDLE);
    assert_int_equal(app_events_of(EV_RESET), 0);
}

/* Requests a run-time interface does not take: STALL, and the state stays. */
static void runtime_refusals(void **state)
{
    (void)state;
    uint8_t buf[64] = {0};
    assert_int_equal(host_control_out(DFU_OUT, DFU_DNLOAD, 0, DEMO_IFACE_DFU, buf, 16),
                     HOST_STALL);
    assert_int_equal(host_control_in(DFU_IN, DFU_UPLOAD, 0, DEMO_IFACE_DFU, 64, buf, NULL),
                     HOST_STALL);
    assert_int_equal(host_control_out(DFU_OUT, DFU_ABORT, 0, DEMO_IFACE_DFU, NULL, 0),
                     HOST_STALL);
    assert_int_equal(host_control_in(DFU_IN, DFU_DETACH, 1000, DEMO_IFACE_DFU, 1, buf, NULL),
                     HOST_STALL);
    assert_int_equal(host_control_out(0x01, 11, 1, DEMO_IFACE_DFU, NULL, 0), HOST_STALL);
    assert_int_equal(runtime_state(), DFU_STATE_APP_IDLE);
    size_t len = 0;
    assert_int_equal(host_control_in(DFU_IN, DFU_GETSTATE, 0, DEMO_IFACE_DFU, 1, buf, &len),
                     HOST_OK);
    assert_int_equal(len, 1);
    assert_int_equal(buf[0], DFU_STATE_APP_IDLE);
    assert_int_equal(app_events_of(EV_RESET), 0);
}

/* The CDC port and the DFU interface live side by side: DFU requests to the CDC
 * interfaces are not DFU's, and CDC traffic does not disturb the DFU state. */
static void interfaces_do_not_mix(void **state)
{
    (void)state;
    assert_int_equal(host_control_in(DFU_IN, DFU_GETSTATUS, 0, DEMO_IFACE_CDC_DATA, 6, NULL,
                                     NULL),
                     HOST_STALL);
    if (setjmp(reset_jump) != 0)
        fail_msg("DETACH to the CDC interface reset the device");
    assert_int_equal(host_control_out(DFU_OUT, DFU_DETACH, 1000, DEMO_IFACE_CDC_COMM, NULL, 0),
                     HOST_STALL);
    assert_int_equal(host_bulk_out(CDC_ACM_EP_DATA_OUT, "x", 1), HOST_OK);
    assert_int_equal(runtime_state(), DFU_STATE_APP_IDLE);
    assert_int_equal(app_events_of(EV_RESET), 0);
}

static void request_update_writes_dfu_handshake(void **state)
{
    (void)state;
    fake.handshake = 0x12345678u;
    if (setjmp(reset_jump) == 0) {
        l4dfu_request_update();
        fail_msg("l4dfu_request_update returned");
    }
    assert_int_equal(fake.event_count, 3);
    assert_int_equal(fake.events[0].kind, EV_QUIESCE);
    assert_int_equal(fake.events[1].kind, EV_HANDSHAKE_WRITE);
    assert_int_equal(fake.events[1].value, 0x21554644u);
    assert_int_equal(fake.events[2].kind, EV_RESET);
}

static void rom_route_writes_rom_handshake(void **state)
{
    (void)state;
    if (setjmp(reset_jump) == 0) {
        l4dfu_enter_rom_bootloader();
        fail_msg("l4dfu_enter_rom_bootloader returned");
    }
    assert_int_equal(fake.event_count, 3);
    assert_int_equal(fake.events[0].kind, EV_QUIESCE);
    assert_int_equal(fake.events[1].kind, EV_HANDSHAKE_WRITE);
    assert_int_equal(fake.events[1].value, 0x214D4F52u); /* "ROM!" */
    assert_int_equal(fake.events[2].kind, EV_RESET);
    assert_int_equal(fake.handshake, BOOT_HANDSHAKE_ROM);
    assert_int_equal(app_events_of(EV_BOOTCOUNT_WRITE), 0);
}

static void confirm_boot_clears_the_attempt_counter(void **state)
{
    (void)state;
    fake.bootcount = 2;
    fake.handshake = 0xCAFEu;
    assert_int_equal(l4dfu_boot_attempts(), 2);
    l4dfu_confirm_boot();
    assert_int_equal(fake.bootcount, 0);
    assert_int_equal(l4dfu_boot_attempts(), 0);
    assert_int_equal(app_events_of(EV_BOOTCOUNT_WRITE), 1);
    /* again: nothing left to clear, no backup-domain write */
    l4dfu_confirm_boot();
    assert_int_equal(app_events_of(EV_BOOTCOUNT_WRITE), 1);
    /* it touches neither the handshake nor the device */
    assert_int_equal(fake.handshake, 0xCAFEu);
    assert_int_equal(app_events_of(EV_RESET) + app_events_of(EV_QUIESCE), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(dfu_util_detach_sequence, setup),
        cmocka_unit_test_setup(no_hand_over_before_the_status_stage, setup),
        cmocka_unit_test_setup(runtime_refusals, setup),
        cmocka_unit_test_setup(interfaces_do_not_mix, setup),
        cmocka_unit_test_setup(request_update_writes_dfu_handshake, setup),
        cmocka_unit_test_setup(rom_route_writes_rom_handshake, setup),
        cmocka_unit_test_setup(confirm_boot_clears_the_attempt_counter, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
