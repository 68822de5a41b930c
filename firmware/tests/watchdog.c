/* watchdog: IWDG with a ~10 ms timeout resets the chip; the second run finds
 * IWDGRSTF in RCC_CSR. A backup register (survives the reset) tells the runs apart. */
#include "testlib.h"
#include "regs/iwdg.h"
#include "regs/pwr.h"
#include "regs/rcc.h"
#include "regs/rtc.h"

#define RUN_MARKER_BKP 31u /* clear of the handshake registers BKP0R/BKP1R */
#define RUN_MARKER 0x57444F47u /* "WDOG" */

static void backup_write(uint32_t value)
{
    RCC_APB1ENR1 |= RCC_APB1_1_PWR;
    (void)RCC_APB1ENR1;
    PWR_CR1 |= PWR_CR1_DBP;
    RTC_BKPR(RUN_MARKER_BKP) = value;
}

int main(void)
{
    uint32_t reset_flags = RCC_CSR;
    RCC_CSR |= RCC_CSR_RMVF;
    test_begin("watchdog");

    if (RTC_BKPR(RUN_MARKER_BKP) == RUN_MARKER) {
        backup_write(0u);
        console_puts("second run, RCC_CSR 0x");
        console_put_hex(reset_flags, 8);
        console_putc('\n');
        test_check(reset_flags & RCC_CSR_IWDGRSTF, "IWDGRSTF not set after the watchdog reset");
        test_check(!(reset_flags & RCC_CSR_SFTRSTF), "reset reported as a software reset");
        test_pass();
    }

    test_check(!(reset_flags & RCC_CSR_IWDGRSTF), "IWDGRSTF set before any watchdog reset");
    backup_write(RUN_MARKER);
    /* LSI ~32 kHz / 4 (PR 0) = 8 kHz: reload 80 = 10 ms. */
    IWDG_KR = IWDG_KEY_START;
    IWDG_KR = IWDG_KEY_UNLOCK;
    IWDG_PR = 0u;
    IWDG_RLR = 80u;
    while (IWDG_SR & (IWDG_SR_PVU | IWDG_SR_RVU)) {
    }
    IWDG_KR = IWDG_KEY_RELOAD;
    console_puts("first run, waiting for the watchdog\n");
    for (;;) {
    }
}
