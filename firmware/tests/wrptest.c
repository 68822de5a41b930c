/* wrptest: write protection through the option bytes. Run 1 protects bank 2 page 254
 * (WRP2AR) and reloads the option bytes (OBL_LAUNCH resets the chip); run 2 finds the
 * page refused with WRPERR (the driver says TARGET_FLASH_ERR_WRITE_PROTECTED) while its
 * neighbour still erases, then lifts the protection and reloads again; run 3 erases the
 * page and prints PASS. A backup register carries the run number across the resets. */
#include "target.h"
#include "testlib.h"
#include "regs/flash.h"
#include "regs/pwr.h"
#include "regs/rcc.h"
#include "regs/rtc.h"

#define FLASH_WRP2AR L4_REG32(FLASH_R_BASE + 0x4C)
#define WRP_AREA_MASK 0x00FF00FFu
#define WRP_OFF 0x000000FFu /* STRT 0xFF > END 0: no area */
#define PROTECTED_PAGE 254u
#define PROTECTED_ADDR 0x080FF000u
#define NEIGHBOUR_ADDR 0x080FE800u
#define RUN_BKP 31u
#define RUN_MAGIC 0x57525000u /* "WRP" + run number */

static void set_run(uint32_t run)
{
    RCC_APB1ENR1 |= RCC_APB1_1_PWR;
    (void)RCC_APB1ENR1;
    PWR_CR1 |= PWR_CR1_DBP;
    RTC_BKPR(RUN_BKP) = run ? RUN_MAGIC | run : 0u;
}

static enum target_flash_status finish(enum target_flash_status started)
{
    if (started != TARGET_FLASH_OK)
        return started;
    enum target_flash_status status;
    while ((status = target_flash_poll()) == TARGET_FLASH_BUSY) {
    }
    return status;
}

static enum target_flash_status erase(uint32_t addr)
{
    return finish(target_flash_erase_page_start(addr));
}

/* Writes WRP2AR's area and reloads the option bytes: does not return. */
static void program_wrp2a(uint32_t area, uint32_t next_run)
{
    while (FLASH_SR & FLASH_SR_BSY) {
    }
    if (FLASH_CR & FLASH_CR_LOCK) {
        FLASH_KEYR = FLASH_KEY1;
        FLASH_KEYR = FLASH_KEY2;
    }
    FLASH_OPTKEYR = FLASH_OPTKEY1;
    FLASH_OPTKEYR = FLASH_OPTKEY2;
    test_check(!(FLASH_CR & FLASH_CR_OPTLOCK), "option bytes still locked after the key sequence");
    FLASH_SR = FLASH_SR_ALL_ERRORS;
    FLASH_WRP2AR = (FLASH_WRP2AR & ~WRP_AREA_MASK) | area;
    FLASH_CR |= FLASH_CR_OPTSTRT;
    while (FLASH_SR & FLASH_SR_BSY) {
    }
    test_check_eq(FLASH_SR & FLASH_SR_ALL_ERRORS, 0u, "option byte programming failed");
    set_run(next_run);
    console_puts("reloading the option bytes\n");
    console_flush();
    FLASH_CR |= FLASH_CR_OBL_LAUNCH;
    for (;;) {
    }
}

int main(void)
{
    uint32_t reset_flags = RCC_CSR;
    RCC_CSR |= RCC_CSR_RMVF;
    test_begin("wrptest");
    uint32_t marker = RTC_BKPR(RUN_BKP);
    uint32_t run = (marker & ~0xFFu) == RUN_MAGIC ? marker & 0xFFu : 1u;
    console_puts("run ");
    console_put_dec(run);
    console_putc('\n');

    switch (run) {
    case 1:
        test_check_eq(FLASH_WRP2AR & WRP_AREA_MASK, WRP_OFF, "bank 2 already write-protected");
        test_check_eq(erase(PROTECTED_ADDR), TARGET_FLASH_OK, "erase before protection");
        program_wrp2a(PROTECTED_PAGE | (PROTECTED_PAGE << 16), 2u);
        break;
    case 2:
        test_check(reset_flags & RCC_CSR_OBLRSTF, "reset after OBL_LAUNCH not reported as OBLRSTF");
        test_check_eq(FLASH_WRP2AR & WRP_AREA_MASK, PROTECTED_PAGE | (PROTECTED_PAGE << 16),
                      "WRP2AR after the reload");
        test_check_eq(erase(PROTECTED_ADDR), TARGET_FLASH_ERR_WRITE_PROTECTED,
                      "erase of the protected page");
        test_check(FLASH_SR & FLASH_SR_WRPERR, "WRPERR not set");
        test_check_eq(finish(target_flash_program_start(PROTECTED_ADDR, 0u, 0u)),
                      TARGET_FLASH_ERR_WRITE_PROTECTED, "program of the protected page");
        test_check_eq(erase(NEIGHBOUR_ADDR), TARGET_FLASH_OK, "erase next to the protected page");
        console_puts("write protection ok\n");
        program_wrp2a(WRP_OFF, 3u);
        break;
    default:
        test_check_eq(FLASH_WRP2AR & WRP_AREA_MASK, WRP_OFF, "protection not lifted");
        test_check_eq(erase(PROTECTED_ADDR), TARGET_FLASH_OK, "erase after lifting the protection");
        set_run(0u);
        test_pass();
    }
    return 0;
}
