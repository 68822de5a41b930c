/* flashtest: the flash driver (target_flash_*) and the controller's refusals.
 * Works in the last pages of bank 2, which nothing else uses: erase, program, read
 * back, run code written into flash (and rewritten), then provoke PROGERR, PGAERR,
 * SIZERR and PGSERR with raw register writes and check the SR bits. */
#include "target.h"
#include "testlib.h"
#include "regs/flash.h"

#define TEST_PAGE 0x080FF000u /* bank 2, page 254 */
#define CODE_PAGE 0x080FF800u /* bank 2, page 255 */
#define POLLS 50000000u

static enum target_flash_status finish(enum target_flash_status started, bool *saw_busy)
{
    if (started != TARGET_FLASH_OK)
        return started;
    enum target_flash_status status;
    uint32_t polls = POLLS;
    while ((status = target_flash_poll()) == TARGET_FLASH_BUSY && polls--) {
        if (saw_busy)
            *saw_busy = true;
    }
    return status;
}

static void program(uint32_t addr, uint32_t lo, uint32_t hi, const char *what)
{
    test_check_eq(finish(target_flash_program_start(addr, lo, hi), 0), TARGET_FLASH_OK, what);
}

static void erase(uint32_t addr, const char *what)
{
    bool saw_busy = false;
    test_check_eq(finish(target_flash_erase_page_start(addr), &saw_busy), TARGET_FLASH_OK, what);
    test_check(saw_busy, "page erase finished without ever reporting BUSY");
    for (uint32_t a = addr & ~(FLASH_PAGE_SIZE - 1u); a < (addr | (FLASH_PAGE_SIZE - 1u)); a += 4u)
        test_check_eq(L4_REG32(a), 0xFFFFFFFFu, "page not erased");
}

static void test_geometry(void)
{
    test_check_eq(target_flash_size(), 0x100000u, "flash size register");
    test_check_eq(target_flash_bank_size(), 0x80000u, "bank size");
    test_check_eq(target_flash_page_size(), 2048u, "page size");
    test_check_eq(target_flash_erase_page_start(0x08100000u), TARGET_FLASH_ERR_ADDRESS,
                  "erase past the end of flash accepted");
    test_check_eq(target_flash_program_start(0x20000000u, 0, 0), TARGET_FLASH_ERR_ADDRESS,
                  "program of SRAM accepted");
    test_check_eq(target_flash_program_start(TEST_PAGE + 4u, 0, 0), TARGET_FLASH_ERR_ALIGNMENT,
                  "misaligned double word accepted");
    test_check_eq(target_flash_mass_erase_start(3u), TARGET_FLASH_ERR_ADDRESS, "bank 3 accepted");
}

static void test_program_and_read_back(void)
{
    erase(TEST_PAGE, "erase of the test page");
    for (uint32_t i = 0; i < 32u; i++)
        program(TEST_PAGE + 8u * i, 0xA5000000u | i, ~i, "program of a double word");
    for (uint32_t i = 0; i < 32u; i++) {
        test_check_eq(L4_REG32(TEST_PAGE + 8u * i), 0xA5000000u | i, "read-back, low word");
        test_check_eq(L4_REG32(TEST_PAGE + 8u * i + 4u), ~i, "read-back, high word");
    }
    test_check_eq(L4_REG32(TEST_PAGE + 8u * 32u), 0xFFFFFFFFu, "programmed past the end");
    /* All-zero over programmed data is the one overwrite the flash accepts. */
    program(TEST_PAGE, 0u, 0u, "zeroing a programmed double word");
    test_check_eq(L4_REG32(TEST_PAGE), 0u, "zeroed double word");
    console_puts("program ok\n");
}

/* Thumb: "adds r0, #imm8; bx lr" */
static uint32_t add_immediate_code(uint8_t imm)
{
    return (0x4770u << 16) | 0x3000u | imm;
}

static void test_run_from_flash(void)
{
    typedef uint32_t (*adder)(uint32_t);
    adder run = (adder)(CODE_PAGE | 1u);
    erase(CODE_PAGE, "erase of the code page");
    program(CODE_PAGE, add_immediate_code(42), 0xFFFFFFFFu, "program of code");
    test_check_eq(run(100u), 142u, "code written to flash");
    /* New code at the same address must run, not a stale translation of the old. */
    erase(CODE_PAGE, "second erase of the code page");
    program(CODE_PAGE, add_immediate_code(7), 0xFFFFFFFFu, "program of new code");
    test_check_eq(run(100u), 107u, "rewritten code in flash");
    console_puts("code in flash ok\n");
}

static void clear_errors(void)
{
    FLASH_CR &= ~(FLASH_CR_PG | FLASH_CR_PER);
    FLASH_SR = FLASH_SR_ALL_ERRORS;
}

static void expect_error(uint32_t bit, const char *what)
{
    uint32_t polls = POLLS;
    while ((FLASH_SR & FLASH_SR_BSY) && polls--) {
    }
    uint32_t errors = FLASH_SR & FLASH_SR_ALL_ERRORS;
    console_puts("  SR errors 0x");
    console_put_hex(errors, 4);
    console_putc('\n');
    test_check(errors & bit, what);
    clear_errors();
}

static void test_errors(void)
{
    /* PROGERR through the driver: the double word is programmed, not erased. */
    test_check_eq(finish(target_flash_program_start(TEST_PAGE + 8u, 1u, 2u), 0),
                  TARGET_FLASH_ERR_NOT_ERASED, "driver status for a non-erased double word");
    test_check_eq(FLASH_SR & FLASH_SR_ALL_ERRORS, FLASH_SR_PROGERR, "PROGERR");
    test_check_eq(L4_REG32(TEST_PAGE + 8u), 0xA5000001u, "refused program changed the flash");
    clear_errors();

    /* Raw sequences from here on; the controller is unlocked by the driver above. */
    test_check(!(FLASH_CR & FLASH_CR_LOCK), "flash still locked");
    uint32_t blank = TEST_PAGE + 0x400u;

    FLASH_CR |= FLASH_CR_PG;
    /* Two words that are not one double word (the first starts in the middle of one);
     * the second write may add PGSERR, PGAERR must be there. */
    L4_REG32(blank + 4u) = 0x12345678u;
    L4_REG32(blank + 8u) = 0x12345678u;
    expect_error(FLASH_SR_PGAERR, "PGAERR for a misaligned double word");

    FLASH_CR |= FLASH_CR_PG;
    L4_REG8(blank + 0x10u) = 0x5Au;
    expect_error(FLASH_SR_SIZERR, "SIZERR for a byte write");

    L4_REG32(blank + 0x20u) = 0x5A5A5A5Au; /* PG = 0 */
    expect_error(FLASH_SR_PGSERR, "PGSERR for a write without PG");

    for (uint32_t a = blank; a < blank + 0x40u; a += 4u)
        test_check_eq(L4_REG32(a), 0xFFFFFFFFu, "a refused write changed the flash");

    /* A start while an error is still flagged is refused with PGSERR too. */
    FLASH_CR |= FLASH_CR_PG;
    L4_REG8(blank + 0x10u) = 0x5Au; /* SIZERR, left set */
    while (FLASH_SR & FLASH_SR_BSY) {
    }
    L4_REG32(blank + 0x30u) = 0x11111111u;
    L4_REG32(blank + 0x34u) = 0x22222222u;
    test_check(FLASH_SR & FLASH_SR_PGSERR, "program with SIZERR pending did not raise PGSERR");
    clear_errors();
    test_check_eq(L4_REG32(blank + 0x30u), 0xFFFFFFFFu, "program with an error pending wrote");
    console_puts("error bits ok\n");
}

static void test_mass_erase(void)
{
    bool saw_busy = false;
    test_check_eq(finish(target_flash_mass_erase_start(2u), &saw_busy), TARGET_FLASH_OK,
                  "mass erase of bank 2");
    test_check(saw_busy, "mass erase finished without ever reporting BUSY");
    test_check_eq(L4_REG32(TEST_PAGE), 0xFFFFFFFFu, "bank 2 not erased");
    test_check_eq(L4_REG32(CODE_PAGE), 0xFFFFFFFFu, "bank 2 not erased (code page)");
    test_check(L4_REG32(0x08000000u) != 0xFFFFFFFFu, "bank 1 erased by a bank 2 mass erase");
    target_flash_lock();
    test_check(FLASH_CR & FLASH_CR_LOCK, "target_flash_lock did not lock");
    console_puts("mass erase ok\n");
}

int main(void)
{
    clock_init_80mhz();
    test_begin("flashtest");
    test_geometry();
    test_program_and_read_back();
    test_run_from_flash();
    test_errors();
    test_mass_erase();
    test_pass();
}
