/* The run-time DFU interface an application embeds: its descriptors, appIDLE /
 * appDETACH, and DETACH handing over to the bootloader after the status stage. */
#include "core_dfu_helpers.h"

#include "boot.h"
#include "dfu_runtime.h"

static const uint8_t device_desc[18] = {18, 1, 0, 2, 0, 0, 0, 64, 0x83, 0x04,
                                        0x40, 0x57, 0, 1, 0, 0, 0, 1};
static const uint8_t config_desc[9 + 18] = {9, 2, 27, 0, 1, 1, 0, 0x80, 50,
                                            DFU_RUNTIME_DESCRIPTORS(0, 0)};
static const struct usbd_class *const interfaces[] = {&dfu_runtime_class};
static const char *no_strings(uint8_t index)
{
    (void)index;
    return NULL;
}
static const struct usbd_device app = {device_desc, config_desc, no_strings, interfaces, 1, NULL};

static unsigned detaches;
static void count_detach(void)
{
    detaches++;
}

static int setup(void **state)
{
    (void)state;
    fake_chip_reset(1024 * 1024);
    detaches = 0;
    dfu_runtime_init(count_detach);
    usbd_init(&app);
    host_enumerate();
    return 0;
}

static void test_descriptors(void **state)
{
    (void)state;
    const uint8_t *i = &config_desc[9];
    assert_int_equal(i[0], 9);
    assert_int_equal(i[1], 4);
    assert_int_equal(i[4], 0);    /* no endpoints */
    assert_int_equal(i[5], 0xFE);
    assert_int_equal(i[6], 0x01);
    assert_int_equal(i[7], 0x01); /* run-time protocol */
    const uint8_t *f = &config_desc[18];
    assert_int_equal(f[0], 9);
    assert_int_equal(f[1], 0x21);
    assert_int_equal(f[2], DFU_ATTR_WILL_DETACH | DFU_ATTR_CAN_DNLOAD);
    assert_int_equal(f[3] | f[4] << 8, 1000);
    assert_int_equal(f[5] | f[6] << 8, 2048);
    assert_int_equal(f[7] | f[8] << 8, 0x011A);
}

static void test_status_and_state_in_app_idle(void **state)
{
    (void)state;
    struct status_reply s = get_status();
    assert_int_equal(s.result, HOST_OK);
    assert_int_equal(s.status, DFU_OK);
    assert_int_equal(s.state, DFU_STATE_APP_IDLE);
    uint8_t st = 0xFF;
    assert_int_equal(host_in(IN_CLASS, DFU_GETSTATE, 0, 0, 1, &st, NULL, NULL), HOST_OK);
    assert_int_equal(st, DFU_STATE_APP_IDLE);
    /* dfu-util sends SET_INTERFACE alt 0 first; it must succeed */
    assert_int_equal(host_out(0x01, 11, 0, 0, NULL, 0), HOST_OK);
    assert_int_equal(host_out(0x01, 11, 1, 0, NULL, 0), HOST_STALL);
}

static void test_other_requests_stall_and_state_stays(void **state)
{
    (void)state;
    uint8_t buf[64] = {0};
    assert_int_equal(dnload(0, buf, 8), HOST_STALL);
    assert_int_equal(host_in(IN_CLASS, DFU_UPLOAD, 0, 0, 64, buf, NULL, NULL), HOST_STALL);
    assert_int_equal(simple(DFU_CLRSTATUS), HOST_STALL);
    assert_int_equal(simple(DFU_ABORT), HOST_STALL);
    assert_int_equal(host_in(IN_CLASS, DFU_DETACH, 1000, 0, 1, buf, NULL, NULL), HOST_STALL);
    assert_int_equal(get_status().state, DFU_STATE_APP_IDLE);
    assert_int_equal(detaches, 0);
}

static void test_detach_after_the_status_stage(void **state)
{
    (void)state;
    const uint8_t detach[8] = {OUT_CLASS, DFU_DETACH, 0xE8, 0x03, 0, 0, 0, 0};
    usbd_port_on_setup(detach);
    assert_int_equal(detaches, 0); /* the host has no answer yet */
    assert_true(port.in_armed);
    usbd_port_on_in_done(0x80);
    assert_int_equal(detaches, 1);
    assert_int_equal(get_status().state, DFU_STATE_APP_DETACH);
    /* a second DETACH is not valid in appDETACH */
    assert_int_equal(host_out(OUT_CLASS, DFU_DETACH, 1000, 0, NULL, 0), HOST_STALL);
    assert_int_equal(detaches, 1);
    usbd_port_on_bus_reset();
    host_enumerate();
    assert_int_equal(get_status().state, DFU_STATE_APP_IDLE);
}

static void test_default_detach_writes_the_handshake_and_resets(void **state)
{
    (void)state;
    dfu_runtime_init(NULL);
    jmp_buf reset;
    chip.reset_jump = &reset;
    if (setjmp(reset) == 0) {
        host_out(OUT_CLASS, DFU_DETACH, 1000, 0, NULL, 0);
        fail_msg("DETACH did not reset");
    }
    chip.reset_jump = NULL;
    assert_int_equal(chip.handshake, BOOT_HANDSHAKE_DFU);
    assert_int_equal(chip.resets, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_descriptors, setup),
        cmocka_unit_test_setup(test_status_and_state_in_app_idle, setup),
        cmocka_unit_test_setup(test_other_requests_stall_and_state_stays, setup),
        cmocka_unit_test_setup(test_detach_after_the_status_stage, setup),
        cmocka_unit_test_setup(test_default_detach_writes_the_handshake_and_resets, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
