/* The bootloader's main() on the host, against the fake chip and a scripted host:
 * the boot story end to end (decide, start the image or be a DFU device, leave). */
#include "core_dfu_helpers.h"

#include <zlib.h>

#include "boot.h"
#include "image.h"

int bootloader_main(void);

static jmp_buf exit_jump;

/* The outcome of one run of main(): 1 = reset, 2 = image started. */
static int run_bootloader(void)
{
    chip.reset_jump = &exit_jump;
    int how = setjmp(exit_jump);
    if (how == 0) {
        bootloader_main();
        fail_msg("main() returned");
    }
    chip.reset_jump = NULL;
    return how;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void write_valid_image(void)
{
    uint8_t *img = fake_memory(L4DFU_SLOT_A_BASE);
    const uint32_t length = 1024;
    for (uint32_t i = 0; i < length; i++)
        img[i] = (uint8_t)(i * 3);
    put32(img, 0x20018000);
    put32(img + 4, L4DFU_SLOT_A_BASE + 0x101);
    put32(img + IMAGE_OFFSET_MAGIC, IMAGE_MAGIC);
    put32(img + IMAGE_OFFSET_LENGTH, length);
    put32(img + IMAGE_OFFSET_CRC, 0);
    put32(img + IMAGE_OFFSET_CRC, (uint32_t)crc32(0, img, length));
}

static unsigned polls;
static bool saw_connected;

/* The host: the first time USB is polled, enumerate and ask the device to leave. */
static void host_leaves(void)
{
    if (polls++ != 0)
        return;
    saw_connected = port.connected;
    host_enumerate();
    assert_int_equal(dnload(2, NULL, 0), HOST_OK);
    assert_int_equal(get_status().state, DFU_STATE_MANIFEST);
}

static int setup(void **state)
{
    (void)state;
    fake_chip_reset(1024 * 1024);
    polls = 0;
    saw_connected = false;
    port.poll_hook = host_leaves;
    return 0;
}

static void test_valid_image_is_started_and_counted(void **state)
{
    (void)state;
    write_valid_image();
    assert_int_equal(run_bootloader(), 2);
    assert_int_equal(chip.started_image, L4DFU_SLOT_A_BASE);
    assert_int_equal(chip.bootcount, 1);
    assert_int_equal(polls, 0); /* USB never came up */
}

static void test_no_image_means_dfu_until_the_host_leaves(void **state)
{
    (void)state;
    assert_int_equal(run_bootloader(), 1);
    assert_true(saw_connected);
    assert_int_equal(chip.resets, 1);
    assert_false(port.connected); /* off the bus before the reset */
    assert_int_equal(chip.bootcount, 0);
}

static void test_handshake_keeps_a_valid_image_waiting(void **state)
{
    (void)state;
    write_valid_image();
    chip.handshake = BOOT_HANDSHAKE_DFU;
    assert_int_equal(run_bootloader(), 1);
    assert_true(saw_connected);
    assert_int_equal(chip.handshake, 0); /* used once */
}

static void test_three_unconfirmed_starts_stop_the_app(void **state)
{
    (void)state;
    write_valid_image();
    for (int attempt = 1; attempt <= 3; attempt++) {
        assert_int_equal(run_bootloader(), 2);
        assert_int_equal(chip.bootcount, attempt); /* the app never confirms */
    }
    assert_int_equal(run_bootloader(), 1); /* the fourth boot stays in DFU */
    assert_true(saw_connected);
    assert_int_equal(chip.bootcount, 0);
    /* and the next reset tries the application again */
    assert_int_equal(run_bootloader(), 2);
}

static void test_button_keeps_a_valid_image_waiting(void **state)
{
    (void)state;
    write_valid_image();
    chip.button = true;
    assert_int_equal(run_bootloader(), 1);
    assert_true(saw_connected);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_valid_image_is_started_and_counted, setup),
        cmocka_unit_test_setup(test_no_image_means_dfu_until_the_host_leaves, setup),
        cmocka_unit_test_setup(test_handshake_keeps_a_valid_image_waiting, setup),
        cmocka_unit_test_setup(test_three_unconfirmed_starts_stop_the_app, setup),
        cmocka_unit_test_setup(test_button_keeps_a_valid_image_waiting, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
