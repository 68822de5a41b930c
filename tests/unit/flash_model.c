/* FLASH model: registers, unlock, program/erase rules and timing, protection, option bytes.
 * Everything goes through sim_bus_read/sim_bus_write at real addresses, as firmware would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "flash.h"
#include "sim.h"

#define ACR     (FLASH_REG_BASE + 0x00)
#define KEYR    (FLASH_REG_BASE + 0x08)
#define OPTKEYR (FLASH_REG_BASE + 0x0C)
#define SR      (FLASH_REG_BASE + 0x10)
#define CR      (FLASH_REG_BASE + 0x14)
#define OPTR    (FLASH_REG_BASE + 0x20)
#define WRP1AR  (FLASH_REG_BASE + 0x2C)
#define WRP2AR  (FLASH_REG_BASE + 0x4C)
#define PCROP1SR (FLASH_REG_BASE + 0x24)
#define PCROP1ER (FLASH_REG_BASE + 0x28)

#define SR_EOP     (1u << 0)
#define SR_OPERR   (1u << 1)
#define SR_PROGERR (1u << 3)
#define SR_WRPERR  (1u << 4)
#define SR_PGAERR  (1u << 5)
#define SR_SIZERR  (1u << 6)
#define SR_PGSERR  (1u << 7)
#define SR_MISERR  (1u << 8)
#define SR_FASTERR (1u << 9)
#define SR_OPTVERR (1u << 15)
#define SR_BSY     (1u << 16)
#define SR_ERRORS  0xC3FAu

#define CR_PG         (1u << 0)
#define CR_PER        (1u << 1)
#define CR_MER1       (1u << 2)
#define CR_BKER       (1u << 11)
#define CR_MER2       (1u << 15)
#define CR_STRT       (1u << 16)
#define CR_OPTSTRT    (1u << 17)
#define CR_FSTPG      (1u << 18)
#define CR_EOPIE      (1u << 24)
#define CR_ERRIE      (1u << 25)
#define CR_OBL_LAUNCH (1u << 27)
#define CR_OPTLOCK    (1u << 30)
#define CR_LOCK       (1u << 31)

#define NVIC_ISPR0 0xE000E200u
#define BANK2      (SIM_FLASH_BASE + SIM_FLASH_BANK_SIZE)

static sim_t *board(void)
{
    sim_config cfg;
    sim_config_defaults(&cfg);
    sim_t *sim = sim_create(&cfg);
    assert_non_null(sim);
    return sim;
}

static int setup(void **state)
{
    *state = board();
    return 0;
}

static int teardown(void **state)
{
    sim_destroy(*state);
    return 0;
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

static void unlock_options(sim_t *sim)
{
    unlock(sim);
    wr(sim, OPTKEYR, 0x08192A3Bu);
    wr(sim, OPTKEYR, 0x4C5D6E7Fu);
    assert_int_equal(rd(sim, CR) & CR_OPTLOCK, 0);
}

static void wait_idle(sim_t *sim)
{
    for (int i = 0; i < 1000 && (rd(sim, SR) & SR_BSY); i++)
        sim_advance(sim, SIM_PS_PER_MS);
    assert_int_equal(rd(sim, SR) & SR_BSY, 0);
}

static void program_dw(sim_t *sim, uint32_t addr, uint32_t low, uint32_t high)
{
    wr(sim, CR, CR_PG);
    wr(sim, addr, low);
    wr(sim, addr + 4, high);
    wait_idle(sim);
    wr(sim, CR, 0);
}

/* Option bytes take effect at the next load: a power-on reset is one. */
static void program_options_and_power_cycle(sim_t *sim, uint32_t reg, uint32_t value)
{
    unlock_options(sim);
    wr(sim, reg, value);
    wr(sim, CR, CR_OPTSTRT);
    wait_idle(sim);
    sim_reset(sim, SIM_RESET_POWER_ON, SIM_CAUSE_POWER_ON);
}

/* A reset vector and a `b .` loop, so sim_run_for can carry out requested resets. */
static void load_idle_program(sim_t *sim)
{
    const uint32_t vectors[2] = {0x20001000u, SIM_FLASH_BASE + 0x101u};
    const uint8_t loop[2] = {0xFE, 0xE7};
    assert_int_equal(sim_load_mem(sim, SIM_FLASH_BASE, vectors, sizeof vectors), 0);
    assert_int_equal(sim_load_mem(sim, SIM_FLASH_BASE + 0x100, loop, sizeof loop), 0);
    sim_reset(sim, SIM_RESET_POWER_ON, SIM_CAUSE_POWER_ON);
}

/* ---------------------------------------------------------------- reset state, keys */

static void test_reset_values(void **state)
{
    sim_t *sim = *state;
    assert_int_equal(rd(sim, ACR), 0x00000600u);
    assert_int_equal(rd(sim, CR), 0xC0000000u);
    assert_int_equal(rd(sim, SR), 0);
    assert_int_equal(rd(sim, OPTR), FLASH_OPTR_FACTORY);
    assert_int_equal(rd(sim, FLASH_OB1_BASE), FLASH_OPTR_FACTORY);
    assert_int_equal(rd(sim, FLASH_OB1_BASE + 4), (uint32_t)~FLASH_OPTR_FACTORY);
    assert_int_equal(rd(sim, SIM_FLASH_BASE), 0xFFFFFFFFu);
    assert_int_equal(rd(sim, BANK2 + SIM_FLASH_BANK_SIZE - 4), 0xFFFFFFFFu);
    assert_int_equal(rd(sim, SIM_OTP_BASE), 0xFFFFFFFFu);
    assert_int_equal(flash_rdp_level(sim), 0);
    assert_int_equal(flash_latency(sim), 0);
    assert_true(flash_icache_on(sim));
    assert_false(flash_prefetch_on(sim));
}

static void test_acr_latency_and_caches(void **state)
{
    sim_t *sim = *state;
    wr(sim, ACR, 0x00000704u); /* 4 WS, prefetch, I-cache, D-cache */
    assert_int_equal(flash_latency(sim), 4);
    assert_true(flash_prefetch_on(sim));
    assert_int_equal(rd(sim, ACR), 0x00000704u);
}

static void test_unlock_and_relock(void **state)
{
    sim_t *sim = *state;
    unlock(sim);
    assert_int_equal(rd(sim, CR) & CR_OPTLOCK, CR_OPTLOCK);
    wr(sim, CR, CR_LOCK);
    assert_int_equal(rd(sim, CR) & (CR_LOCK | CR_OPTLOCK), CR_LOCK | CR_OPTLOCK);
    unlock(sim); /* the sequence works again after software locked */
}

static void test_wrong_key_locks_until_reset(void **state)
{
    sim_t *sim = *state;
    wr(sim, KEYR, 0x45670123u);
    wr(sim, KEYR, 0x12345678u);
    assert_int_equal(rd(sim, CR) & CR_LOCK, CR_LOCK);
    wr(sim, KEYR, 0x45670123u);
    wr(sim, KEYR, 0xCDEF89ABu);
    assert_int_equal(rd(sim, CR) & CR_LOCK, CR_LOCK);
    sim_reset(sim, SIM_RESET_SYSTEM, SIM_CAUSE_PIN);
    unlock(sim);
}

static void test_keys_in_wrong_order(void **state)
{
    sim_t *sim = *state;
    wr(sim, KEYR, 0xCDEF89ABu);
    wr(sim, KEYR, 0x45670123u);
    assert_int_equal(rd(sim, CR) & CR_LOCK, CR_LOCK);
}

static void test_locked_cr_ignores_writes(void **state)
{
    sim_t *sim = *state;
    wr(sim, CR, CR_PG);
    assert_int_equal(rd(sim, CR), 0xC0000000u);
}

static void test_optkey_needs_lock_clear(void **state)
{
    sim_t *sim = *state;
    wr(sim, OPTKEYR, 0x08192A3Bu);
    wr(sim, OPTKEYR, 0x4C5D6E7Fu);
    assert_int_equal(rd(sim, CR) & CR_OPTLOCK, CR_OPTLOCK);
    unlock_options(sim);
}

static void test_wrong_option_key(void **state)
{
    sim_t *sim = *state;
    unlock(sim);
    wr(sim, OPTKEYR, 0x4C5D6E7Fu);
    wr(sim, OPTKEYR, 0x08192A3Bu);
    wr(sim, OPTKEYR, 0x4C5D6E7Fu);
    assert_int_equal(rd(sim, CR) & CR_OPTLOCK, CR_OPTLOCK);
}

/* ---------------------------------------------------------------- programming */

static void test_program_double_word_timing(void **state)
{
    sim_t *sim = *state;
    const uint32_t addr = SIM_FLASH_BASE + 0x4010;
    unlock(sim);
    wr(sim, CR, CR_PG);
    wr(sim, addr, 0x12345678u);
    assert_int_equal(rd(sim, SR) & SR_BSY, 0); /* the low word alone starts nothing */
    wr(sim, addr + 4, 0x9ABCDEF0u);
    assert_int_equal(rd(sim, SR) & SR_BSY, SR_BSY);
    assert_int_equal(flash_op_count(sim), 1);
    sim_advance(sim, FLASH_T_PROGRAM_DW_PS - 1);
    assert_int_equal(rd(sim, SR) & SR_BSY, SR_BSY);
    sim_advance(sim, 1);
    assert_int_equal(rd(sim, SR), 0); /* no EOP without EOPIE */
    assert_int_equal(rd(sim, addr), 0x12345678u);
    assert_int_equal(rd(sim, addr + 4), 0x9ABCDEF0u);
    assert_int_equal(rd(sim, addr + 8), 0xFFFFFFFFu);
}

static void test_eop_and_irq_with_eopie(void **state)
{
    sim_t *sim = *state;
    unlock(sim);
    wr(sim, CR, CR_PG | CR_EOPIE);
    wr(sim, BANK2, 1);
    wr(sim, BANK2 + 4, 2);
    wait_idle(sim);
    assert_int_equal(rd(sim, SR) & SR_EOP, SR_EOP);
    assert_int_equal(rd(sim, NVIC_ISPR0) & (1u << FLASH_IRQ), 1u << FLASH_IRQ);
    wr(sim, SR, SR_EOP);
    assert_int_equal(rd(sim, SR) & SR_EOP, 0);
}

static void test_progerr_non_erased(void **state)
{
    sim_t *sim = *state;
    const uint32_t addr = SIM_FLASH_BASE + 0x4010;
    unlock(sim);
    program_dw(sim, addr, 0x12345678u, 0x9ABCDEF0u);
    wr(sim, CR, CR_PG);
    wr(sim, addr, 0x11111111u);
    wr(sim, addr + 4, 0x22222222u);
    assert_int_equal(rd(sim, SR) & (SR_PROGERR | SR_BSY), SR_PROGERR);
    assert_int_equal(rd(sim, addr), 0x12345678u);
    /* all zeros may be written over anything */
    wr(sim, SR, SR_ERRORS);
    wr(sim, addr, 0);
    wr(sim, addr + 4, 0);
    wait_idle(sim);
    assert_int_equal(rd(sim, SR) & SR_ERRORS, 0);
    assert_int_equal(rd(sim, addr), 0);
    assert_int_equal(rd(sim, addr + 4), 0);
}

static void test_sizerr_halfword(void **state)
{
    sim_t *sim = *state;
    unlock(sim);
    wr(sim, CR, CR_PG);
    sim_bus_write(sim, SIM_FLASH_BASE + 0x100, 0x1234, 2);
    assert_int_equal(rd(sim, SR) & SR_SIZERR, SR_SIZERR);
    assert_int_equal(rd(sim, SIM_FLASH_BASE + 0x100), 0xFFFFFFFFu);
}

static void test_pgaerr_misaligned_and_split(void **state)
{
    sim_t *sim = *state;
    unlock(sim);
    wr(sim, CR, CR_PG);
    wr(sim, SIM_FLASH_BASE + 0x104, 0); /* first word not 8-aligned */
    assert_int_equal(rd(sim, SR) & SR_PGAERR, SR_PGAERR);
    wr(sim, SR, SR_ERRORS);
    wr(sim, SIM_FLASH_BASE + 0x200, 0);
    wr(sim, SIM_FLASH_BASE + 0x208, 0); /* second word in another double word */
    assert_int_equal(rd(sim, SR) & (SR_PGAERR | SR_BSY), SR_PGAERR);
    assert_int_equal(rd(sim, SIM_FLASH_BASE + 0x200), 0xFFFFFFFFu);
    assert_int_equal(flash_op_count(sim), 0);
}

static void test_pgserr_without_pg(void **state)
{
    sim_t *sim = *state;
    wr(sim, SIM_FLASH_BASE + 0x300, 0); /* locked: PG cannot even be set */
    assert_int_equal(rd(sim, SR) & SR_PGSERR, SR_PGSERR);
    wr(sim, SR, SR_PGSERR);
    unlock(sim);
    wr(sim, SIM_FLASH_BASE + 0x300, 0);
    assert_int_equal(rd(sim, SR) & SR_PGSERR, SR_PGSERR);
    assert_int_equal(rd(sim, SIM_FLASH_BASE + 0x300), 0xFFFFFFFFu);
}

static void test_pgserr_leftover_error(void **state)
{
    sim_t *sim = *state;
    unlock(sim);
    wr(sim, CR, CR_PG);
    sim_bus_write(sim, SIM_FLASH_BASE + 0x400, 0, 1); /* SIZERR, left uncleared */
    wr(sim, SIM_FLASH_BASE + 0x400, 0x55555555u);
    wr(sim, SIM_FLASH_BASE + 0x404, 0x55555555u);
    assert_int_equal(rd(sim, SR) & (SR_PGSERR | SR_SIZERR | SR_BSY), SR_PGSERR | SR_SIZERR);
    assert_int_equal(rd(sim, SIM_FLASH_BASE + 0x400), 0xFFFFFFFFu);
}

static void test_operr_only_with_errie(void **state)
{
    sim_t *sim = *state;
    unlock(sim);
    wr(sim, CR, CR_PG);
    sim_bus_write(sim, SIM_FLASH_BASE, 0, 2);
    assert_int_equal(rd(sim, SR) & SR_OPERR, 0);
    wr(sim, SR, SR_ERRORS);
    wr(sim, CR, CR_PG | CR_ERRIE);
    sim_bus_write(sim, SIM_FLASH_BASE, 0, 2);
    assert_int_equal(rd(sim, SR) & (SR_OPERR | SR_SIZERR), SR_OPERR | SR_SIZERR);
    assert_int_equal(rd(sim, NVIC_ISPR0) & (1u << FLASH_IRQ), 1u << FLASH_IRQ);
}

static void test_otp_programs_once(void **state)
{
    sim_t *sim = *state;
    unlock(sim);
    program_dw(sim, SIM_OTP_BASE + 0x10, 0xA5A5A5A5u, 0x5A5A5A5Au);
    assert_int_equal(rd(sim, SIM_OTP_BASE + 0x10), 0xA5A5A5A5u);
    wr(sim, CR, CR_PG);
    wr(sim, SIM_OTP_BASE + 0x10, 0xFFFFFFFEu);
    wr(sim, SIM_OTP_BASE + 0x14, 0xFFFFFFFFu);
    assert_int_equal(rd(sim, SR) & SR_PROGERR, SR_PROGERR);
    assert_int_equal(rd(sim, SIM_OTP_BASE + 0x10), 0xA5A5A5A5u);
}

static void test_store_to_option_bytes_ignored(void **state)
{
    sim_t *sim = *state;
    unlock_options(sim);
    wr(sim, CR, CR_PG);
    wr(sim, FLASH_OB1_BASE, 0);
    wr(sim, FLASH_OB1_BASE + 4, 0);
    assert_int_equal(rd(sim, FLASH_OB1_BASE), FLASH_OPTR_FACTORY);
}

/* ---------------------------------------------------------------- erase */

static void test_page_erase(void **state)
{
    sim_t *sim = *state;
    const uint32_t page5 = BANK2 + 5 * SIM_FLASH_PAGE_SIZE;
    unlock(sim);
    program_dw(sim, page5, 1, 2);
    program_dw(sim, page5 + SIM_FLASH_PAGE_SIZE - 8, 3, 4);
    program_dw(sim, page5 + SIM_FLASH_PAGE_SIZE, 5, 6); /* page 6 */
    wr(sim, CR, CR_PER | (5u << 3) | CR_BKER);
    wr(sim, CR, CR_PER | (5u << 3) | CR_BKER | CR_STRT);
    assert_int_equal(rd(sim, SR) & SR_BSY, SR_BSY);
    assert_int_equal(rd(sim, CR) & CR_STRT, CR_STRT);
    sim_advance(sim, FLASH_T_PAGE_ERASE_PS - 1);
    assert_int_equal(rd(sim, SR) & SR_BSY, SR_BSY);
    sim_advance(sim, 1);
    assert_int_equal(rd(sim, SR) & SR_BSY, 0);
    assert_int_equal(rd(sim, CR) & CR_STRT, 0);
    assert_int_equal(rd(sim, page5), 0xFFFFFFFFu);
    assert_int_equal(rd(sim, page5 + SIM_FLASH_PAGE_SIZE - 4), 0xFFFFFFFFu);
    assert_int_equal(rd(sim, page5 + SIM_FLASH_PAGE_SIZE), 5);
}

static void test_mass_erase_one_bank(void **state)
{
    sim_t *sim = *state;
    unlock(sim);
    program_dw(sim, SIM_FLASH_BASE + 0x1000, 7, 8);
    program_dw(sim, BANK2 + 0x7F000, 9, 10);
    wr(sim, CR, CR_MER2);
    wr(sim, CR, CR_MER2 | CR_STRT);
    sim_advance(sim, FLASH_T_MASS_ERASE_PS - 1);
    assert_int_equal(rd(sim, SR) & SR_BSY, SR_BSY);
    sim_advance(sim, 1);
    assert_int_equal(rd(sim, SR) & SR_BSY, 0);
    assert_int_equal(rd(sim, BANK2 + 0x7F000), 0xFFFFFFFFu);
    assert_int_equal(rd(sim, SIM_FLASH_BASE + 0x1000), 7);
    wr(sim, CR, CR_MER1 | CR_STRT);
    wait_idle(sim);
    assert_int_equal(rd(sim, SIM_FLASH_BASE + 0x1000), 0xFFFFFFFFu);
}

static void test_stall_query(void **state)
{
    sim_t *sim = *state;
    unlock(sim);
    uint64_t start = sim_now(sim);
    wr(sim, CR, CR_PER | (3u << 3));
    wr(sim, CR, CR_PER | (3u << 3) | CR_STRT);
    uint64_t until = 0;
    assert_true(flash_bank_busy_until(sim, SIM_FLASH_BASE + 0x10, &until));
    assert_int_equal(until, start + FLASH_T_PAGE_ERASE_PS);
    assert_true(flash_bank_busy_until(sim, 0x10, &until)); /* boot alias of bank 1 */
    assert_false(flash_bank_busy_until(sim, BANK2 + 0x10, &until));
    wait_idle(sim);
    assert_false(flash_bank_busy_until(sim, SIM_FLASH_BASE + 0x10, &until));
}

static void test_cr_write_while_busy_waits_for_end(void **state)
{
    sim_t *sim = *state;
    unlock(sim);
    program_dw(sim, SIM_FLASH_BASE + 0x800 * 7, 1, 1);
    wr(sim, CR, CR_PER | (7u << 3) | CR_STRT);
    wr(sim, CR, 0); /* software clears PER while BSY: the write waits for the end */
    assert_int_equal(rd(sim, SR) & SR_BSY, 0);
    assert_int_equal(rd(sim, SIM_FLASH_BASE + 0x800 * 7), 0xFFFFFFFFu);
    assert_int_equal(rd(sim, CR) & CR_PER, 0);
}

static void test_strt_without_operation_does_nothing(void **state)
{
    sim_t *sim = *state;
    unlock(sim);
    wr(sim, CR, CR_STRT);
    assert_int_equal(rd(sim, SR) & SR_BSY, 0);
    assert_int_equal(flash_op_count(sim), 0);
}

/* Firmware that unlocks FLASH_CR and writes it from the word at 0x20000000, then spins:
 *   ldr r0, =0x40022000; ldr r1, =0x45670123; str r1, [r0, #8]; ldr r1, =0xCDEF89AB
 *   str r1, [r0, #8]; mov.w r2, #0x20000000; ldr r1, [r2]; str r1, [r0, #0x14]; loop: b loop
 * (assembled with arm-none-eabi-as -mcpu=cortex-m4 -mthumb) */
static const uint8_t cr_writer[] = {
    0x04, 0x48, 0x05, 0x49, 0x81, 0x60, 0x05, 0x49, 0x81, 0x60, 0x4f, 0xf0, 0x00, 0x52, 0x11, 0x68,
    0x41, 0x61, 0xfe, 0xe7, 0x00, 0x20, 0x02, 0x40, 0x23, 0x01, 0x67, 0x45, 0xab, 0x89, 0xef, 0xcd,
};

/* Runs cr_writer from bank 1 for 1 ms of requested time; returns the virtual time that passed. */
static uint64_t run_cr_writer(sim_t *sim, uint32_t cr_value)
{
    const uint32_t vectors[2] = {0x20001000u, SIM_FLASH_BASE + 0x101u};
    assert_int_equal(sim_load_mem(sim, SIM_FLASH_BASE, vectors, sizeof vectors), 0);
    assert_int_equal(sim_load_mem(sim, SIM_FLASH_BASE + 0x100, cr_writer, sizeof cr_writer), 0);
    sim_reset(sim, SIM_RESET_POWER_ON, SIM_CAUSE_POWER_ON);
    assert_int_equal(sim_load_mem(sim, SIM_SRAM1_BASE, &cr_value, 4), 0);
    uint64_t start = sim_now(sim);
    sim_run_for(sim, SIM_PS_PER_MS);
    return sim_now(sim) - start;
}

static void test_cpu_keeps_running_while_other_bank_busy(void **state)
{
    sim_t *sim = *state;
    uint64_t elapsed = run_cr_writer(sim, CR_PER | CR_BKER | (10u << 3) | CR_STRT);
    assert_true(elapsed < FLASH_T_PAGE_ERASE_PS);
    assert_int_equal(rd(sim, SR) & SR_BSY, SR_BSY);
}

static void test_cpu_fetch_stalls_on_busy_bank(void **state)
{
    sim_t *sim = *state;
    const uint32_t junk = 0x12345678u;
    assert_int_equal(sim_load_mem(sim, SIM_FLASH_BASE + 10 * SIM_FLASH_PAGE_SIZE, &junk, 4), 0);
    uint64_t elapsed = run_cr_writer(sim, CR_PER | (10u << 3) | CR_STRT);
    assert_true(elapsed >= FLASH_T_PAGE_ERASE_PS);
    assert_int_equal(rd(sim, SR) & SR_BSY, 0);
    assert_int_equal(rd(sim, SIM_FLASH_BASE + 10 * SIM_FLASH_PAGE_SIZE), 0xFFFFFFFFu);
}

/* ---------------------------------------------------------------- protection */

static void test_wrp_area_refused(void **state)
{
    sim_t *sim = *state;
    /* Pages 0..3 of bank 1 (a bootloader's own pages) write-protected. */
    program_options_and_power_cycle(sim, WRP1AR, 0x00030000u);
    assert_int_equal(rd(sim, WRP1AR) & 0x00FF00FFu, 0x00030000u);
    unlock(sim);
    wr(sim, CR, CR_PG);
    wr(sim, SIM_FLASH_BASE + 0x1800, 0);
    wr(sim, SIM_FLASH_BASE + 0x1804, 0);
    assert_int_equal(rd(sim, SR) & (SR_WRPERR | SR_BSY), SR_WRPERR);
    assert_int_equal(rd(sim, SIM_FLASH_BASE + 0x1800), 0xFFFFFFFFu);
    wr(sim, SR, SR_ERRORS);
    wr(sim, CR, CR_PER | (1u << 3) | CR_STRT);
    assert_int_equal(rd(sim, SR) & (SR_WRPERR | SR_BSY), SR_WRPERR);
    wr(sim, SR, SR_ERRORS);
    wr(sim, CR, CR_MER1 | CR_STRT);
    assert_int_equal(rd(sim, SR) & (SR_WRPERR | SR_BSY), SR_WRPERR);
    wr(sim, SR, SR_ERRORS);
    /* page 4 is outside the area */
    wr(sim, CR, CR_PER | (4u << 3) | CR_STRT);
    assert_int_equal(rd(sim, SR) & (SR_WRPERR | SR_BSY), SR_BSY);
    wait_idle(sim);
    /* bank 2's mass erase is not affected by bank 1's area */
    wr(sim, CR, CR_MER2 | CR_STRT);
    assert_int_equal(rd(sim, SR) & (SR_WRPERR | SR_BSY), SR_BSY);
}

static void test_pcrop_area_refused(void **state)
{
    sim_t *sim = *state;
    /* Double words 0x100..0x1FF of bank 1 = page 1 (0x08000800..0x08000FFF). */
    unlock_options(sim);
    wr(sim, PCROP1SR, 0x100);
    wr(sim, PCROP1ER, 0x1FF);
    wr(sim, CR, CR_OPTSTRT);
    wait_idle(sim);
    sim_reset(sim, SIM_RESET_POWER_ON, SIM_CAUSE_POWER_ON);
    unlock(sim);
    wr(sim, CR, CR_PG);
    wr(sim, SIM_FLASH_BASE + 0xFF8, 0);
    wr(sim, SIM_FLASH_BASE + 0xFFC, 0);
    assert_int_equal(rd(sim, SR) & (SR_WRPERR | SR_BSY), SR_WRPERR);
    wr(sim, SR, SR_ERRORS);
    wr(sim, SIM_FLASH_BASE + 0x1000, 0); /* page 2: outside */
    wr(sim, SIM_FLASH_BASE + 0x1004, 0);
    assert_int_equal(rd(sim, SR) & (SR_WRPERR | SR_BSY), SR_BSY);
}

static void test_rdp_level2_freezes_options(void **state)
{
    sim_t *sim = *state;
    program_options_and_power_cycle(sim, OPTR, (FLASH_OPTR_FACTORY & ~0xFFu) | 0xCC);
    assert_int_equal(flash_rdp_level(sim), 2);
    unlock_options(sim);
    wr(sim, OPTR, FLASH_OPTR_FACTORY);
    wr(sim, CR, CR_OPTSTRT);
    assert_int_equal(rd(sim, SR) & SR_BSY, 0);
    sim_reset(sim, SIM_RESET_POWER_ON, SIM_CAUSE_POWER_ON);
    assert_int_equal(flash_rdp_level(sim), 2);
}

/* ---------------------------------------------------------------- fast programming */

static void fast_row(sim_t *sim, uint32_t row, unsigned words)
{
    for (unsigned i = 0; i < words; i++)
        wr(sim, row + 4 * i, 0x01010101u * i);
}

static void test_fast_row(void **state)
{
    sim_t *sim = *state;
    unlock(sim);
    wr(sim, CR, CR_MER2 | CR_STRT);
    wait_idle(sim);
    wr(sim, CR, CR_FSTPG);
    fast_row(sim, BANK2 + 0x100, 64);
    assert_int_equal(rd(sim, SR) & SR_BSY, SR_BSY);
    sim_advance(sim, FLASH_T_FAST_ROW_PS - 1);
    assert_int_equal(rd(sim, SR) & SR_BSY, SR_BSY);
    sim_advance(sim, 1);
    assert_int_equal(rd(sim, SR) & (SR_BSY | SR_ERRORS), 0);
    assert_int_equal(rd(sim, BANK2 + 0x100 + 4 * 63), 0x01010101u * 63);
    assert_int_equal(rd(sim, BANK2 + 0x200), 0xFFFFFFFFu);
}

static void test_fast_row_miserr(void **state)
{
    sim_t *sim = *state;
    unlock(sim);
    wr(sim, CR, CR_MER2 | CR_STRT);
    wait_idle(sim);
    wr(sim, CR, CR_FSTPG);
    fast_row(sim, BANK2, 4); /* two double words, then nothing */
    sim_advance(sim, FLASH_T_FAST_ROW_PS);
    assert_int_equal(rd(sim, SR) & (SR_BSY | SR_MISERR), SR_MISERR);
    assert_int_equal(rd(sim, BANK2 + 12), 0x03030303u);
    assert_int_equal(rd(sim, BANK2 + 16), 0xFFFFFFFFu);
}

static void test_fast_row_out_of_order(void **state)
{
    sim_t *sim = *state;
    unlock(sim);
    wr(sim, CR, CR_MER2 | CR_STRT);
    wait_idle(sim);
    wr(sim, CR, CR_FSTPG);
    fast_row(sim, BANK2, 2);
    wr(sim, BANK2 + 0x10, 0); /* skips a double word */
    assert_int_equal(rd(sim, SR) & (SR_PGAERR | SR_FASTERR | SR_BSY), SR_PGAERR | SR_FASTERR);
}

static void test_fast_needs_mass_erase(void **state)
{
    sim_t *sim = *state;
    unlock(sim);
    wr(sim, CR, CR_FSTPG);
    wr(sim, BANK2, 0);
    assert_int_equal(rd(sim, SR) & SR_PGSERR, SR_PGSERR);
    assert_int_equal(flash_op_count(sim), 0);
}

/* ---------------------------------------------------------------- option bytes */

static void test_option_write_needs_optlock_clear(void **state)
{
    sim_t *sim = *state;
    unlock(sim);
    wr(sim, OPTR, 0xFFFFF8AAu);
    assert_int_equal(rd(sim, OPTR), FLASH_OPTR_FACTORY);
    wr(sim, CR, CR_OPTSTRT);
    assert_int_equal(rd(sim, SR) & SR_BSY, 0);
}

static void test_option_program_and_obl_launch(void **state)
{
    sim_t *sim = *state;
    const uint32_t optr_bfb2 = FLASH_OPTR_FACTORY | (1u << 20);
    load_idle_program(sim);
    unlock_options(sim);
    wr(sim, OPTR, optr_bfb2);
    assert_int_equal(rd(sim, OPTR), optr_bfb2);
    wr(sim, CR, CR_OPTSTRT);
    assert_int_equal(rd(sim, SR) & SR_BSY, SR_BSY);
    sim_advance(sim, FLASH_T_OPTION_PROGRAM_PS - 1);
    assert_int_equal(rd(sim, SR) & SR_BSY, SR_BSY);
    sim_advance(sim, 1);
    assert_int_equal(rd(sim, SR) & SR_BSY, 0);
    assert_int_equal(rd(sim, FLASH_OB1_BASE), optr_bfb2);
    assert_int_equal(rd(sim, FLASH_OB1_BASE + 4), ~optr_bfb2);
    assert_int_equal(flash_optr(sim), FLASH_OPTR_FACTORY); /* programmed, not yet loaded */

    wr(sim, CR, CR_OBL_LAUNCH);
    sim_run_for(sim, 10 * SIM_PS_PER_US);
    assert_int_equal(sim_last_reset_cause(sim), SIM_CAUSE_OPTION_LOAD);
    assert_int_equal(flash_optr(sim), optr_bfb2);
    assert_int_equal(rd(sim, OPTR), optr_bfb2);
    assert_int_equal(rd(sim, CR), 0xC0000000u);
}

static void test_obl_launch_needs_optlock_clear(void **state)
{
    sim_t *sim = *state;
    load_idle_program(sim);
    sim_run_for(sim, SIM_PS_PER_US);
    unlock(sim);
    wr(sim, CR, CR_OBL_LAUNCH);
    sim_run_for(sim, 10 * SIM_PS_PER_US);
    assert_int_equal(sim_last_reset_cause(sim), SIM_CAUSE_POWER_ON);
    assert_int_equal(rd(sim, CR) & CR_LOCK, 0); /* no reset happened */
}

static void test_system_reset_keeps_loaded_options(void **state)
{
    sim_t *sim = *state;
    unlock_options(sim);
    wr(sim, OPTR, FLASH_OPTR_FACTORY | (1u << 20));
    wr(sim, CR, CR_OPTSTRT);
    wait_idle(sim);
    sim_reset(sim, SIM_RESET_SYSTEM, SIM_CAUSE_PIN); /* only power-on and OBL load options */
    assert_int_equal(rd(sim, OPTR), FLASH_OPTR_FACTORY);
    sim_reset(sim, SIM_RESET_POWER_ON, SIM_CAUSE_POWER_ON);
    assert_int_equal(rd(sim, OPTR), FLASH_OPTR_FACTORY | (1u << 20));
}

static void test_rdp_level1_to_0_mass_erases(void **state)
{
    sim_t *sim = *state;
    program_options_and_power_cycle(sim, OPTR, (FLASH_OPTR_FACTORY & ~0xFFu) | 0xBB);
    assert_int_equal(flash_rdp_level(sim), 1);
    unlock(sim);
    program_dw(sim, SIM_FLASH_BASE + 0x2000, 0x11, 0x22);
    program_dw(sim, BANK2 + 0x2000, 0x33, 0x44);
    wr(sim, CR, CR_LOCK);
    program_options_and_power_cycle(sim, OPTR, FLASH_OPTR_FACTORY);
    assert_int_equal(flash_rdp_level(sim), 0);
    assert_int_equal(rd(sim, SIM_FLASH_BASE + 0x2000), 0xFFFFFFFFu);
    assert_int_equal(rd(sim, BANK2 + 0x2000), 0xFFFFFFFFu);
}

static void test_rdp_level0_to_1_keeps_flash(void **state)
{
    sim_t *sim = *state;
    unlock(sim);
    program_dw(sim, SIM_FLASH_BASE + 0x2000, 0x11, 0x22);
    wr(sim, CR, CR_LOCK);
    program_options_and_power_cycle(sim, OPTR, (FLASH_OPTR_FACTORY & ~0xFFu) | 0xBB);
    assert_int_equal(flash_rdp_level(sim), 1);
    assert_int_equal(rd(sim, SIM_FLASH_BASE + 0x2000), 0x11);
}

static void test_corrupt_option_pair_sets_optverr(void **state)
{
    sim_t *sim = *state;
    const uint32_t bad[2] = {0x000000FFu, 0x12345678u}; /* WRP1BR slot, complement wrong */
    assert_int_equal(sim_load_mem(sim, FLASH_OB1_BASE + 0x20, bad, sizeof bad), 0);
    sim_reset(sim, SIM_RESET_POWER_ON, SIM_CAUSE_POWER_ON);
    assert_int_equal(rd(sim, SR) & SR_OPTVERR, SR_OPTVERR);
    wr(sim, SR, SR_OPTVERR);
    assert_int_equal(rd(sim, SR) & SR_OPTVERR, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reset_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acr_latency_and_caches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unlock_and_relock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key_locks_until_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_in_wrong_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_locked_cr_ignores_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_optkey_needs_lock_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_option_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_program_double_word_timing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eop_and_irq_with_eopie, setup, teardown),
        cmocka_unit_test_setup_teardown(test_progerr_non_erased, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sizerr_halfword, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pgaerr_misaligned_and_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pgserr_without_pg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pgserr_leftover_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_operr_only_with_errie, setup, teardown),
        cmocka_unit_test_setup_teardown(test_otp_programs_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_to_option_bytes_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_erase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mass_erase_one_bank, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stall_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cr_write_while_busy_waits_for_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strt_without_operation_does_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cpu_keeps_running_while_other_bank_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cpu_fetch_stalls_on_busy_bank, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrp_area_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pcrop_area_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rdp_level2_freezes_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fast_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fast_row_miserr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fast_row_out_of_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fast_needs_mass_erase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_option_write_needs_optlock_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_option_program_and_obl_launch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_obl_launch_needs_optlock_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_system_reset_keeps_loaded_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rdp_level1_to_0_mass_erases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rdp_level0_to_1_keeps_flash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_option_pair_sets_optverr, setup, teardown),
    };
    return cmocka_run_group_tests_name("flash_model", tests, NULL, NULL);
}
