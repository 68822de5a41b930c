/* DfuSe transfers as dfu-util 0.11 performs them (dfu-dfuse.md §3): the download of
 * a 3-page image with its erase pass, write pass, ABORT and leave; uploads; and the
 * protection rules, each with the DFU status it must give. */
#include "core_dfu_helpers.h"

#include "image.h"

static unsigned leaves;
static void count_leave(void)
{
    leaves++;
}

static void start_device(uint32_t flash_size)
{
    fake_chip_reset(flash_size);
    leaves = 0;
    dfu_init(count_leave);
    usbd_init(&dfu_usb_device);
    host_enumerate();
}

static int setup(void **state)
{
    (void)state;
    start_device(1024 * 1024);
    return 0;
}

static enum host_result set_alt(uint8_t alt)
{
    return host_out(0x01, 11, alt, 0, NULL, 0);
}

static uint8_t image[5000];

static void fill_image(void)
{
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof image; i++) {
        x = x * 1103515245u + 12345u;
        image[i] = (uint8_t)(x >> 16);
        if (i % 8 == 0)
            image[i] = 0x5A; /* no double word of all 0xFF */
    }
}

static unsigned mass_erases_total(void)
{
    return chip.mass_erases[1] + chip.mass_erases[2];
}

static uint32_t ms(uint32_t us)
{
    return (us + 999) / 1000;
}

/* dfu-util's dfuse_dnload_chunk: DNLOAD, then GETSTATUS until the state leaves DNBUSY. */
static struct status_reply write_chunk(uint32_t addr, const uint8_t *data, uint16_t len,
                                       uint32_t *first_poll)
{
    assert_int_equal(command_and_wait(DFUSE_CMD_SET_ADDRESS, addr, NULL).state,
                     DFU_STATE_DNLOAD_IDLE);
    assert_int_equal(dnload(2, data, len), HOST_OK);
    struct status_reply s = get_status();
    assert_int_equal(s.state, DFU_STATE_DNBUSY);
    *first_poll = s.poll_ms;
    finish_work();
    return get_status();
}

static void test_download_of_a_three_page_image(void **state)
{
    (void)state;
    fill_image();
    const uint32_t base = L4DFU_SLOT_A_BASE;

    /* pass 1: erase, one command per chunk start (and the last byte's page) */
    for (uint32_t off = 0; off < sizeof image; off += DFU_TRANSFER_SIZE) {
        uint32_t poll_ms;
        struct status_reply s = command_and_wait(DFUSE_CMD_ERASE, base + off, &poll_ms);
        assert_int_equal(poll_ms, ms(TARGET_FLASH_PAGE_ERASE_US)); /* 23 ms for 22.02 ms */
        assert_int_equal(s.status, DFU_OK);
        assert_int_equal(s.state, DFU_STATE_DNLOAD_IDLE);
        assert_int_equal(s.poll_ms, 0);
    }
    for (unsigned p = 8; p < 11; p++)
        assert_int_equal(chip.page_erases[p], 1);

    /* pass 2: Set Address + DNLOAD wBlockNum 2 per chunk */
    for (uint32_t off = 0; off < sizeof image; off += DFU_TRANSFER_SIZE) {
        uint16_t len = (uint16_t)(sizeof image - off < DFU_TRANSFER_SIZE ? sizeof image - off
                                                                        : DFU_TRANSFER_SIZE);
        uint32_t poll_ms;
        struct status_reply s = write_chunk(base + off, image + off, len, &poll_ms);
        /* 2048 bytes = 256 double words × 86 µs (82 µs flash + the CPU's share) = 22.016
         * ms; the 904-byte tail 113 */
        assert_int_equal(poll_ms, ms(len / 8 * DFU_PROGRAM_DW_US));
        assert_int_equal(s.status, DFU_OK);
        assert_int_equal(s.state, DFU_STATE_DNLOAD_IDLE);
    }
    assert_int_equal(ms(256 * DFU_PROGRAM_DW_US), 23);
    assert_memory_equal(fake_memory(base), image, sizeof image);
    assert_int_equal(chip.programs, sizeof image / 8);

    /* ABORT, GETSTATUS must say dfuIDLE */
    assert_int_equal(simple(DFU_ABORT), HOST_OK);
    struct status_reply s = get_status();
    assert_int_equal(s.state, DFU_STATE_IDLE);
    assert_int_equal(s.status, DFU_OK);

    /* leave: zero-length DNLOAD (wValue 2) in dfuIDLE, one GETSTATUS = dfuMANIFEST, OK */
    assert_int_equal(dnload(2, NULL, 0), HOST_OK);
    s = get_status();
    assert_int_equal(s.status, DFU_OK);
    assert_int_equal(s.state, DFU_STATE_MANIFEST);
    dfu_poll();
    assert_int_equal(leaves, 1);

    /* the bootloader's pages were never touched */
    for (unsigned p = 0; p < 8; p++)
        assert_int_equal(chip.page_erases[p], 0);
    assert_int_equal(chip.op_started_while_busy, 0);
}

static void test_busy_answers_again_with_the_remaining_time(void **state)
{
    (void)state;
    fill_image();
    assert_int_equal(command_and_wait(DFUSE_CMD_ERASE, 0x08004000, NULL).status, DFU_OK);
    assert_int_equal(command_and_wait(DFUSE_CMD_SET_ADDRESS, 0x08004000, NULL).status, DFU_OK);
    assert_int_equal(dnload(2, image, 2048), HOST_OK);
    assert_int_equal(get_status().poll_ms, ms(256 * DFU_PROGRAM_DW_US));
    /* 100 double words done (each takes the fake 3 busy polls and a final one) */
    for (int i = 0; i < 100 * (FAKE_POLLS_PER_OP + 1); i++)
        dfu_poll();
    assert_int_equal(chip.programs, 101); /* the 101st is in flight */
    struct status_reply s = get_status();
    assert_int_equal(s.state, DFU_STATE_DNBUSY);
    assert_int_equal(s.poll_ms, ms(156 * DFU_PROGRAM_DW_US)); /* 14 ms */
    finish_work();
    s = get_status();
    assert_int_equal(s.state, DFU_STATE_DNLOAD_IDLE);
}

static void test_padding_double_words_are_skipped_and_verified(void **state)
{
    (void)state;
    uint8_t data[2048];
    memset(data, 0xFF, sizeof data);
    memset(data, 0x11, 24); /* three double words of data, the rest padding */
    assert_int_equal(command_and_wait(DFUSE_CMD_ERASE, 0x08004000, NULL).status, DFU_OK);
    uint32_t poll_ms;
    struct status_reply s = write_chunk(0x08004000, data, sizeof data, &poll_ms);
    assert_int_equal(poll_ms, 1); /* 3 × 82 µs */
    assert_int_equal(s.state, DFU_STATE_DNLOAD_IDLE);
    assert_int_equal(chip.programs, 3);
    assert_memory_equal(fake_memory(0x08004000), data, sizeof data);

    /* padding over flash that is not erased: the verify catches it */
    memset(fake_memory(0x08004800), 0x00, 8);
    s = write_chunk(0x08004800, data + 1024, 1024, &poll_ms);
    assert_int_equal(s.state, DFU_STATE_ERROR);
    assert_int_equal(s.status, DFU_ERR_VERIFY);
}

static void test_unaligned_block_is_padded_with_ff(void **state)
{
    (void)state;
    const uint8_t data[5] = {1, 2, 3, 4, 5};
    assert_int_equal(command_and_wait(DFUSE_CMD_ERASE, 0x08004000, NULL).status, DFU_OK);
    uint32_t poll_ms;
    struct status_reply s = write_chunk(0x08004006, data, sizeof data, &poll_ms);
    assert_int_equal(s.status, DFU_OK);
    const uint8_t want[16] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2,
                              3, 4, 5, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    assert_memory_equal(fake_memory(0x08004000), want, sizeof want);
}

static void test_block_numbers_count_from_the_pointer(void **state)
{
    (void)state;
    uint8_t data[16];
    memset(data, 0x42, sizeof data);
    assert_int_equal(command_and_wait(DFUSE_CMD_ERASE, 0x08006000, NULL).status, DFU_OK);
    assert_int_equal(command_and_wait(DFUSE_CMD_SET_ADDRESS, 0x08005000, NULL).status, DFU_OK);
    /* (5 - 2) × 2048 + 0x08005000 = 0x08006800 ... use block 4: 0x08006000 */
    assert_int_equal(dnload(4, data, sizeof data), HOST_OK);
    assert_int_equal(get_status().state, DFU_STATE_DNBUSY);
    finish_work();
    assert_int_equal(get_status().status, DFU_OK);
    assert_memory_equal(fake_memory(0x08006000), data, sizeof data);
}

static void test_mass_erase_spares_the_bootloader(void **state)
{
    (void)state;
    memset(fake_memory(0x08000000), 0x12, 0x4000); /* "the bootloader" */
    memset(fake_memory(0x08004000), 0x34, 64);
    memset(fake_memory(0x08090000), 0x56, 64);
    const uint8_t cmd = DFUSE_CMD_ERASE;
    assert_int_equal(dnload(0, &cmd, 1), HOST_OK);
    struct status_reply s = get_status();
    assert_int_equal(s.state, DFU_STATE_DNBUSY);
    /* 248 pages of bank 1 and one bank-2 mass erase */
    assert_int_equal(s.poll_ms, ms(248 * TARGET_FLASH_PAGE_ERASE_US + TARGET_FLASH_MASS_ERASE_US));
    assert_int_equal(s.poll_ms, 5484);
    finish_work();
    s = get_status();
    assert_int_equal(s.status, DFU_OK);
    assert_int_equal(s.state, DFU_STATE_DNLOAD_IDLE);
    for (unsigned p = 0; p < 8; p++)
        assert_int_equal(chip.page_erases[p], 0);
    for (unsigned p = 8; p < 256; p++)
        assert_int_equal(chip.page_erases[p], 1);
    assert_int_equal(chip.mass_erases[1], 0);
    assert_int_equal(chip.mass_erases[2], 1);
    assert_int_equal(*fake_memory(0x08003FFF), 0x12);
    assert_int_equal(*fake_memory(0x08004000), 0xFF);
    assert_int_equal(*fake_memory(0x08090000), 0xFF);
}

static void test_mass_erase_on_512k(void **state)
{
    (void)state;
    start_device(512 * 1024);
    const uint8_t cmd = DFUSE_CMD_ERASE;
    assert_int_equal(dnload(0, &cmd, 1), HOST_OK);
    struct status_reply s = get_status();
    assert_int_equal(s.poll_ms, ms(120 * TARGET_FLASH_PAGE_ERASE_US + TARGET_FLASH_MASS_ERASE_US));
    finish_work();
    assert_int_equal(get_status().status, DFU_OK);
    assert_int_equal(chip.page_erases[7], 0);
    assert_int_equal(chip.page_erases[8], 1);
    assert_int_equal(chip.page_erases[127], 1);
    assert_int_equal(chip.page_erases[128], 0); /* bank 2, erased as a bank */
    assert_int_equal(chip.mass_erases[2], 1);
}

/* ---- uploads ---- */

static void test_get_commands(void **state)
{
    (void)state;
    uint8_t buf[2048];
    size_t n;
    assert_int_equal(host_in(IN_CLASS, DFU_UPLOAD, 0, 0, sizeof buf, buf, &n, NULL), HOST_OK);
    const uint8_t want[] = {0x00, 0x21, 0x41, 0x92};
    assert_int_equal(n, sizeof want);
    assert_memory_equal(buf, want, sizeof want);
    assert_int_equal(dfu_state(), DFU_STATE_IDLE); /* a short reply ends the upload */
}

static void test_upload_with_address(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < 4096; i++)
        *fake_memory(0x08004000 + i) = (uint8_t)(i * 7);
    /* dfu-util: Set Address, ABORT, GETSTATUS = dfuIDLE, UPLOAD 2, 3, ... */
    assert_int_equal(command_and_wait(DFUSE_CMD_SET_ADDRESS, 0x08004000, NULL).status, DFU_OK);
    assert_int_equal(simple(DFU_ABORT), HOST_OK);
    assert_int_equal(get_status().state, DFU_STATE_IDLE);
    uint8_t buf[2048];
    size_t n;
    assert_int_equal(host_in(IN_CLASS, DFU_UPLOAD, 2, 0, 2048, buf, &n, NULL), HOST_OK);
    assert_int_equal(n, 2048);
    assert_memory_equal(buf, fake_memory(0x08004000), 2048);
    assert_int_equal(dfu_state(), DFU_STATE_UPLOAD_IDLE);
    /* the last request shortened to what remains: still a full answer */
    assert_int_equal(host_in(IN_CLASS, DFU_UPLOAD, 3, 0, 1000, buf, &n, NULL), HOST_OK);
    assert_int_equal(n, 1000);
    assert_memory_equal(buf, fake_memory(0x08004800), 1000);
    assert_int_equal(dfu_state(), DFU_STATE_UPLOAD_IDLE);
    assert_int_equal(simple(DFU_ABORT), HOST_OK);
    assert_int_equal(dfu_state(), DFU_STATE_IDLE);
}

static void test_upload_ends_short_at_the_end_of_memory(void **state)
{
    (void)state;
    uint8_t buf[2048];
    size_t n;
    assert_int_equal(command_and_wait(DFUSE_CMD_SET_ADDRESS, 0x080FFC00, NULL).status, DFU_OK);
    assert_int_equal(simple(DFU_ABORT), HOST_OK);
    assert_int_equal(host_in(IN_CLASS, DFU_UPLOAD, 2, 0, 2048, buf, &n, NULL), HOST_OK);
    assert_int_equal(n, 1024);
    assert_int_equal(dfu_state(), DFU_STATE_IDLE);
    /* the block after the end: nothing there */
    assert_int_equal(host_in(IN_CLASS, DFU_UPLOAD, 3, 0, 2048, buf, &n, NULL), HOST_STALL);
    assert_int_equal(dfu_status(), DFU_ERR_ADDRESS);
}

static void test_upload_option_bytes_and_otp(void **state)
{
    (void)state;
    uint8_t buf[2048];
    size_t n;
    assert_int_equal(set_alt(1), HOST_OK);
    assert_int_equal(command_and_wait(DFUSE_CMD_SET_ADDRESS, 0x1FFF7800, NULL).status, DFU_OK);
    assert_int_equal(simple(DFU_ABORT), HOST_OK);
    assert_int_equal(host_in(IN_CLASS, DFU_UPLOAD, 2, 0, 2048, buf, &n, NULL), HOST_OK);
    assert_int_equal(n, 40);
    assert_memory_equal(buf, chip.option_bytes, 40);

    assert_int_equal(set_alt(2), HOST_OK);
    assert_int_equal(command_and_wait(DFUSE_CMD_SET_ADDRESS, 0x1FFF7000, NULL).status, DFU_OK);
    assert_int_equal(simple(DFU_ABORT), HOST_OK);
    assert_int_equal(host_in(IN_CLASS, DFU_UPLOAD, 2, 0, 2048, buf, &n, NULL), HOST_OK);
    assert_int_equal(n, 1024);
}

/* ---- protection ---- */

static void expect_command_fails(uint8_t cmd, uint32_t addr, enum dfu_status status)
{
    struct status_reply s = command_and_wait(cmd, addr, NULL);
    assert_int_equal(s.state, DFU_STATE_ERROR);
    assert_int_equal(s.status, status);
    assert_int_equal(simple(DFU_CLRSTATUS), HOST_OK);
}

static void expect_write_fails(uint32_t addr, uint16_t len, enum dfu_status status)
{
    static uint8_t data[2048];
    memset(data, 0x77, sizeof data);
    uint32_t poll_ms;
    struct status_reply s = write_chunk(addr, data, len, &poll_ms);
    assert_int_equal(s.state, DFU_STATE_ERROR);
    assert_int_equal(s.status, status);
    assert_int_equal(simple(DFU_CLRSTATUS), HOST_OK);
}

static void test_bootloader_pages_are_never_erased_or_written(void **state)
{
    (void)state;
    expect_command_fails(DFUSE_CMD_ERASE, 0x08000000, DFU_ERR_TARGET);
    expect_command_fails(DFUSE_CMD_ERASE, 0x08003FFF, DFU_ERR_TARGET);
    expect_write_fails(0x08003800, 2048, DFU_ERR_TARGET);
    expect_write_fails(0x08003C00, 2048, DFU_ERR_TARGET); /* straddles into slot A */
    for (unsigned p = 0; p < 16; p++)
        assert_int_equal(chip.page_erases[p], 0);
    assert_int_equal(chip.programs, 0);
}

static void test_out_of_range_is_err_address(void **state)
{
    (void)state;
    expect_command_fails(DFUSE_CMD_SET_ADDRESS, 0x30000000, DFU_ERR_ADDRESS);
    expect_command_fails(DFUSE_CMD_ERASE, 0x08100000, DFU_ERR_ADDRESS);
    expect_write_fails(0x080FFC00, 2048, DFU_ERR_ADDRESS); /* runs past the end */
    start_device(512 * 1024);
    expect_command_fails(DFUSE_CMD_ERASE, 0x08080000, DFU_ERR_ADDRESS);
    assert_int_equal(chip.programs, 0);
}

static void test_read_only_and_unerasable_alts(void **state)
{
    (void)state;
    const uint8_t mass = DFUSE_CMD_ERASE;
    assert_int_equal(set_alt(1), HOST_OK);
    expect_write_fails(0x1FFF7800, 8, DFU_ERR_TARGET);
    expect_command_fails(DFUSE_CMD_ERASE, 0x1FFF7800, DFU_ERR_TARGET);
    assert_int_equal(dnload(0, &mass, 1), HOST_OK);
    assert_int_equal(get_status().state, DFU_STATE_DNBUSY);
    struct status_reply s = get_status();
    assert_int_equal(s.status, DFU_ERR_TARGET);
    assert_int_equal(simple(DFU_CLRSTATUS), HOST_OK);
    /* flash addresses belong to alt 0 only */
    expect_command_fails(DFUSE_CMD_SET_ADDRESS, 0x08004000, DFU_ERR_ADDRESS);

    assert_int_equal(set_alt(2), HOST_OK);
    expect_command_fails(DFUSE_CMD_ERASE, 0x1FFF7000, DFU_ERR_TARGET);
    /* OTP takes writes */
    const uint8_t otp_data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint32_t poll_ms;
    s = write_chunk(0x1FFF7010, otp_data, 8, &poll_ms);
    assert_int_equal(s.status, DFU_OK);
    assert_memory_equal(&chip.otp[0x10], otp_data, 8);
    assert_int_equal(mass_erases_total(), 0);
}

static void test_flash_failures_give_their_status(void **state)
{
    (void)state;
    /* writing over data that was never erased: PROGERR */
    memset(fake_memory(0x08008000), 0x00, 16);
    expect_write_fails(0x08008000, 16, DFU_ERR_PROG);
    /* write protection */
    chip.wrp_start = 0x08010000;
    chip.wrp_end = 0x08012000;
    expect_command_fails(DFUSE_CMD_ERASE, 0x08010000, DFU_ERR_ERASE);
    expect_write_fails(0x08011000, 16, DFU_ERR_WRITE);
    /* a failure in the middle of a block stops it there */
    assert_int_equal(command_and_wait(DFUSE_CMD_ERASE, 0x08020000, NULL).status, DFU_OK);
    chip.inject = TARGET_FLASH_ERR_OTHER;
    expect_write_fails(0x08020000, 64, DFU_ERR_PROG);
    assert_int_equal(chip.op_started_while_busy, 0);
}

static void test_read_protection_blocks_uploads(void **state)
{
    (void)state;
    chip.rdp_level = 1;
    uint8_t buf[2048];
    size_t n;
    assert_int_equal(host_in(IN_CLASS, DFU_UPLOAD, 0, 0, 2048, buf, &n, NULL), HOST_OK);
    assert_int_equal(n, 4);
    assert_int_equal(host_in(IN_CLASS, DFU_UPLOAD, 2, 0, 2048, buf, &n, NULL), HOST_STALL);
    struct status_reply s = get_status();
    assert_int_equal(s.state, DFU_STATE_ERROR);
    assert_int_equal(s.status, DFU_ERR_VENDOR);
}

static void test_read_unprotect(void **state)
{
    (void)state;
    const uint8_t cmd = DFUSE_CMD_READ_UNPROTECT;
    /* level 0: nothing to do */
    assert_int_equal(dnload(0, &cmd, 1), HOST_OK);
    assert_int_equal(get_status().state, DFU_STATE_DNBUSY);
    struct status_reply s = get_status();
    assert_int_equal(s.status, DFU_OK);
    assert_int_equal(chip.unprotect_calls, 1);

    /* level 2 cannot be undone */
    chip.unprotect_result = TARGET_FLASH_ERR_WRITE_PROTECTED;
    chip.rdp_level = 2;
    assert_int_equal(dnload(0, &cmd, 1), HOST_OK);
    assert_int_equal(get_status().state, DFU_STATE_DNBUSY);
    s = get_status();
    assert_int_equal(s.state, DFU_STATE_ERROR);
    assert_int_equal(s.status, DFU_ERR_VENDOR);
    assert_int_equal(simple(DFU_CLRSTATUS), HOST_OK);

    /* level 1: dfu-util's one poll answers DNBUSY, then the chip erases and resets */
    chip.unprotect_result = TARGET_FLASH_OK;
    chip.rdp_level = 1;
    jmp_buf reset;
    chip.reset_jump = &reset;
    assert_int_equal(dnload(0, &cmd, 1), HOST_OK);
    if (setjmp(reset) == 0) {
        s = get_status();
        fail_msg("no reset after the unprotect");
    }
    chip.reset_jump = NULL;
    assert_int_equal(chip.resets, 1);
    assert_int_equal(chip.rdp_level, 0);
    assert_int_equal(port.in_len, 6); /* the DNBUSY reply was delivered first */
    assert_int_equal(port.in_data[4], DFU_STATE_DNBUSY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_download_of_a_three_page_image, setup),
        cmocka_unit_test_setup(test_busy_answers_again_with_the_remaining_time, setup),
        cmocka_unit_test_setup(test_padding_double_words_are_skipped_and_verified, setup),
        cmocka_unit_test_setup(test_unaligned_block_is_padded_with_ff, setup),
        cmocka_unit_test_setup(test_block_numbers_count_from_the_pointer, setup),
        cmocka_unit_test_setup(test_mass_erase_spares_the_bootloader, setup),
        cmocka_unit_test_setup(test_mass_erase_on_512k, setup),
        cmocka_unit_test_setup(test_get_commands, setup),
        cmocka_unit_test_setup(test_upload_with_address, setup),
        cmocka_unit_test_setup(test_upload_ends_short_at_the_end_of_memory, setup),
        cmocka_unit_test_setup(test_upload_option_bytes_and_otp, setup),
        cmocka_unit_test_setup(test_bootloader_pages_are_never_erased_or_written, setup),
        cmocka_unit_test_setup(test_out_of_range_is_err_address, setup),
        cmocka_unit_test_setup(test_read_only_and_unerasable_alts, setup),
        cmocka_unit_test_setup(test_flash_failures_give_their_status, setup),
        cmocka_unit_test_setup(test_read_protection_blocks_uploads, setup),
        cmocka_unit_test_setup(test_read_unprotect, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
