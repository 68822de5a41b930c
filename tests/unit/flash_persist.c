/* FLASH model: the board image file across runs, and power cuts during operations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "flash.h"
#include "sim.h"

#define KEYR    (FLASH_REG_BASE + 0x08)
#define OPTKEYR (FLASH_REG_BASE + 0x0C)
#define SR      (FLASH_REG_BASE + 0x10)
#define CR      (FLASH_REG_BASE + 0x14)
#define OPTR    (FLASH_REG_BASE + 0x20)

#define SR_BSY     (1u << 16)
#define CR_PG      (1u << 0)
#define CR_PER     (1u << 1)
#define CR_STRT    (1u << 16)
#define CR_OPTSTRT (1u << 17)
#define CR_LOCK    (1u << 31)

#define PAGE10 (SIM_FLASH_BASE + 10 * SIM_FLASH_PAGE_SIZE)

static sim_t *board(void)
{
    sim_config cfg;
    sim_config_defaults(&cfg);
    sim_t *sim = sim_create(&cfg);
    assert_non_null(sim);
    return sim;
}

static uint32_t rd(sim_t *sim, uint32_t addr)
{
    return sim_bus_read(sim, addr, 4);
}

static void wr(sim_t *sim, uint32_t addr, uint32_t value)
{
    sim_bus_write(sim, addr, value, 4);
}

static void unlock(sim_t *sim)
{
    wr(sim, KEYR, 0x45670123u);
    wr(sim, KEYR, 0xCDEF89ABu);
    assert_int_equal(rd(sim, CR) & CR_LOCK, 0);
}

static void wait_idle(sim_t *sim)
{
    for (int i = 0; i < 1000 && (rd(sim, SR) & SR_BSY); i++)
        sim_advance(sim, SIM_PS_PER_MS);
    assert_int_equal(rd(sim, SR) & SR_BSY, 0);
}

static void image_path(char *buf, size_t size, const char *what)
{
    snprintf(buf, size, "%s/l4sim-flash-test-%ld-%s.img", P_tmpdir, (long)getpid(), what);
}

/* A reset vector and a `b .` loop, so sim_run_for can carry out a requested reset. */
static void load_idle_program(sim_t *sim)
{
    const uint32_t vectors[2] = {0x20001000u, SIM_FLASH_BASE + 0x101u};
    const uint8_t loop[2] = {0xFE, 0xE7};
    assert_int_equal(sim_load_mem(sim, SIM_FLASH_BASE, vectors, sizeof vectors), 0);
    assert_int_equal(sim_load_mem(sim, SIM_FLASH_BASE + 0x100, loop, sizeof loop), 0);
    sim_reset(sim, SIM_RESET_POWER_ON, SIM_CAUSE_POWER_ON);
}

static void fill_page10(sim_t *sim, uint8_t *pattern)
{
    for (unsigned i = 0; i < SIM_FLASH_PAGE_SIZE; i++)
        pattern[i] = (uint8_t)(i * 37u + 11u);
    assert_int_equal(sim_load_mem(sim, PAGE10, pattern, SIM_FLASH_PAGE_SIZE), 0);
}

static void start_page10_erase(sim_t *sim)
{
    wr(sim, CR, CR_PER | (10u << 3));
    wr(sim, CR, CR_PER | (10u << 3) | CR_STRT);
}

/* ---------------------------------------------------------------- persistence */

static void test_missing_file_is_factory_state(void **state)
{
    (void)state;
    char path[256];
    image_path(path, sizeof path, "missing");
    remove(path);
    sim_t *sim = board();
    const uint32_t junk = 0x12345678u;
    assert_int_equal(sim_load_mem(sim, SIM_FLASH_BASE + 0x40, &junk, 4), 0);
    assert_int_equal(flash_image_load(sim, path), 0);
    assert_int_equal(rd(sim, SIM_FLASH_BASE + 0x40), 0xFFFFFFFFu);
    assert_int_equal(rd(sim, FLASH_OB1_BASE), FLASH_OPTR_FACTORY);
    assert_int_equal(flash_optr(sim), FLASH_OPTR_FACTORY);
    sim_destroy(sim);
}

static void test_round_trip(void **state)
{
    (void)state;
    char path[256];
    image_path(path, sizeof path, "roundtrip");
    const uint32_t optr = FLASH_OPTR_FACTORY | (1u << 20);

    sim_t *sim = board();
    unlock(sim);
    wr(sim, CR, CR_PG);
    wr(sim, SIM_FLASH_BASE + 0x9000, 0xCAFEF00Du);
    wr(sim, SIM_FLASH_BASE + 0x9004, 0x0BADBEEFu);
    wait_idle(sim);
    wr(sim, SIM_OTP_BASE, 0x4F545031u);
    wr(sim, SIM_OTP_BASE + 4, 0);
    wait_idle(sim);
    wr(sim, CR, 0);
    wr(sim, OPTKEYR, 0x08192A3Bu);
    wr(sim, OPTKEYR, 0x4C5D6E7Fu);
    wr(sim, OPTR, optr);
    wr(sim, CR, CR_OPTSTRT);
    wait_idle(sim);
    assert_int_equal(flash_image_save(sim, path), 0);
    sim_destroy(sim);

    sim = board();
    assert_int_equal(rd(sim, SIM_FLASH_BASE + 0x9000), 0xFFFFFFFFu);
    assert_int_equal(flash_image_load(sim, path), 0);
    assert_int_equal(rd(sim, SIM_FLASH_BASE + 0x9000), 0xCAFEF00Du);
    assert_int_equal(rd(sim, SIM_FLASH_BASE + 0x9004), 0x0BADBEEFu);
    assert_int_equal(rd(sim, SIM_OTP_BASE), 0x4F545031u);
    assert_int_equal(flash_optr(sim), optr);
    assert_int_equal(rd(sim, OPTR), optr);
    sim_destroy(sim);
    remove(path);
}

static void test_board_image_through_config(void **state)
{
    (void)state;
    char path[256];
    image_path(path, sizeof path, "config");
    remove(path);
    sim_config cfg;
    sim_config_defaults(&cfg);
    cfg.flash_image = path;
    sim_t *sim = sim_create(&cfg);
    assert_non_null(sim);
    unlock(sim);
    wr(sim, CR, CR_PG);
    wr(sim, SIM_FLASH_BASE + 0x80000 + 0x10, 0x600DD00Du);
    wr(sim, SIM_FLASH_BASE + 0x80000 + 0x14, 0);
    wait_idle(sim);
    sim_destroy(sim); /* saves */

    sim = sim_create(&cfg); /* loads */
    assert_non_null(sim);
    assert_int_equal(rd(sim, SIM_FLASH_BASE + 0x80000 + 0x10), 0x600DD00Du);
    sim_destroy(sim);
    remove(path);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(*len);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, *len, f), *len);
    fclose(f);
    return buf;
}

static void test_corrupt_and_short_files_rejected(void **state)
{
    (void)state;
    char path[256], bad[256];
    image_path(path, sizeof path, "good");
    image_path(bad, sizeof bad, "bad");
    sim_t *sim = board();
    assert_int_equal(flash_image_save(sim, path), 0);
    size_t len;
    uint8_t *image = read_file(path, &len);
    assert_true(len > SIM_FLASH_SIZE);

    write_file(bad, image, 20); /* short */
    assert_true(flash_image_load(sim, bad) < 0);
    write_file(bad, image, len - 1); /* truncated contents */
    assert_true(flash_image_load(sim, bad) < 0);
    image[len / 2] ^= 0x01; /* one flipped bit in the contents */
    write_file(bad, image, len);
    assert_true(flash_image_load(sim, bad) < 0);
    image[len / 2] ^= 0x01;
    image[0] = 'X'; /* foreign file */
    write_file(bad, image, len);
    assert_true(flash_image_load(sim, bad) < 0);
    free(image);

    assert_int_equal(flash_image_load(sim, path), 0); /* the untouched file still loads */
    sim_destroy(sim);
    remove(path);
    remove(bad);
}

/* ---------------------------------------------------------------- power cuts */

static void test_power_cut_by_operation_count(void **state)
{
    (void)state;
    sim_t *sim = board();
    load_idle_program(sim);
    uint8_t old[SIM_FLASH_PAGE_SIZE], now[SIM_FLASH_PAGE_SIZE];
    fill_page10(sim, old);
    const uint32_t sram_marker = 0xA5A5A5A5u;
    assert_int_equal(sim_load_mem(sim, SIM_SRAM1_BASE + 0x2000, &sram_marker, 4), 0);

    unlock(sim);
    unsigned ops = flash_op_count(sim);
    flash_power_cut_arm(sim, 0, ops + 1);
    start_page10_erase(sim);
    assert_int_equal(flash_op_count(sim), ops + 1);
    sim_advance(sim, FLASH_T_PAGE_ERASE_PS);

    assert_int_equal(sim_read_mem(sim, PAGE10, now, sizeof now), 0);
    uint8_t erased[SIM_FLASH_PAGE_SIZE];
    memset(erased, 0xFF, sizeof erased);
    assert_memory_not_equal(now, old, sizeof now);
    assert_memory_not_equal(now, erased, sizeof now);
    /* Interrupted erase only sets bits: nothing that was 1 became 0. */
    for (unsigned i = 0; i < SIM_FLASH_PAGE_SIZE; i++)
        assert_int_equal(now[i] & old[i], old[i]);

    /* The power-on reset that was requested happens at the next run. */
    sim_run_for(sim, 10 * SIM_PS_PER_US);
    assert_int_equal(rd(sim, CR) & CR_LOCK, CR_LOCK);
    uint32_t marker = 1;
    assert_int_equal(sim_read_mem(sim, SIM_SRAM1_BASE + 0x2000, &marker, 4), 0);
    assert_int_equal(marker, 0);
    sim_destroy(sim);
}

static void test_power_cut_at_time_during_program(void **state)
{
    (void)state;
    sim_t *sim = board();
    const uint32_t addr = SIM_FLASH_BASE + 0x5000;
    unlock(sim);
    flash_power_cut_arm(sim, sim_now(sim) + FLASH_T_PROGRAM_DW_PS / 2, 0);
    wr(sim, CR, CR_PG);
    wr(sim, addr, 0x00000000u);
    wr(sim, addr + 4, 0x0F0F0F0Fu);
    sim_advance(sim, FLASH_T_PROGRAM_DW_PS);
    uint32_t low = rd(sim, addr), high = rd(sim, addr + 4);
    assert_false(low == 0xFFFFFFFFu && high == 0xFFFFFFFFu);
    assert_false(low == 0x00000000u && high == 0x0F0F0F0Fu);
    assert_int_equal(high & 0x0F0F0F0Fu, 0x0F0F0F0Fu); /* bits kept at 1 stay 1 */
    assert_int_equal(rd(sim, addr + 8), 0xFFFFFFFFu);
    sim_destroy(sim);
}

static void test_power_cut_result_follows_seed(void **state)
{
    (void)state;
    uint8_t first[SIM_FLASH_PAGE_SIZE], second[SIM_FLASH_PAGE_SIZE], third[SIM_FLASH_PAGE_SIZE];
    uint8_t *results[3] = {first, second, third};
    const uint64_t seeds[3] = {1, 1, 2};
    for (int run = 0; run < 3; run++) {
        sim_t *sim = board();
        uint8_t old[SIM_FLASH_PAGE_SIZE];
        fill_page10(sim, old);
        flash_power_cut_seed(sim, seeds[run]);
        unlock(sim);
        flash_power_cut_arm(sim, 0, flash_op_count(sim) + 1);
        start_page10_erase(sim);
        sim_advance(sim, FLASH_T_PAGE_ERASE_PS);
        assert_int_equal(sim_read_mem(sim, PAGE10, results[run], SIM_FLASH_PAGE_SIZE), 0);
        sim_destroy(sim);
    }
    assert_memory_equal(first, second, SIM_FLASH_PAGE_SIZE);
    assert_memory_not_equal(first, third, SIM_FLASH_PAGE_SIZE);
}

static void test_power_cut_later_operation_untouched(void **state)
{
    (void)state;
    sim_t *sim = board();
    uint8_t old[SIM_FLASH_PAGE_SIZE];
    fill_page10(sim, old);
    unlock(sim);
    flash_power_cut_arm(sim, 0, flash_op_count(sim) + 2); /* the second operation, not this one */
    start_page10_erase(sim);
    sim_advance(sim, FLASH_T_PAGE_ERASE_PS);
    assert_int_equal(rd(sim, PAGE10), 0xFFFFFFFFu);
    assert_int_equal(rd(sim, PAGE10 + SIM_FLASH_PAGE_SIZE - 4), 0xFFFFFFFFu);
    sim_destroy(sim);
}

static void test_power_cut_while_idle_resets(void **state)
{
    (void)state;
    sim_t *sim = board();
    load_idle_program(sim);
    sim_run_for(sim, SIM_PS_PER_US);
    unlock(sim);
    flash_power_cut_arm(sim, sim_now(sim) + 5 * SIM_PS_PER_US, 0);
    sim_run_for(sim, 20 * SIM_PS_PER_US);
    assert_int_equal(rd(sim, CR) & CR_LOCK, CR_LOCK);
    assert_int_equal(sim_last_reset_cause(sim), SIM_CAUSE_POWER_ON);
    sim_destroy(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_file_is_factory_state),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_board_image_through_config),
        cmocka_unit_test(test_corrupt_and_short_files_rejected),
        cmocka_unit_test(test_power_cut_by_operation_count),
        cmocka_unit_test(test_power_cut_at_time_during_program),
        cmocka_unit_test(test_power_cut_result_follows_seed),
        cmocka_unit_test(test_power_cut_later_operation_untouched),
        cmocka_unit_test(test_power_cut_while_idle_resets),
    };
    return cmocka_run_group_tests_name("flash_persist", tests, NULL, NULL);
}
