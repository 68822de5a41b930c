/* romroute: the software route into ST's ROM bootloader. The first run stores "ROM!"
 * in BKP0R and resets; the startup code must then enter system memory before main()
 * (in l4sim, system memory is a stand-in that stops the run and says so). Reaching
 * main() a second time means the request was ignored. */
#include "layout.h"
#include "target.h"
#include "testlib.h"
#include "regs/pwr.h"
#include "regs/rcc.h"
#include "regs/rtc.h"

#define RUN_MARKER_BKP 31u
#define RUN_MARKER 0x524F4D31u /* "ROM1" */

int main(void)
{
    test_begin("romroute");
    if (RTC_BKPR(RUN_MARKER_BKP) == RUN_MARKER)
        test_fail("startup ignored the ROM bootloader request");
    RCC_APB1ENR1 |= RCC_APB1_1_PWR;
    (void)RCC_APB1ENR1;
    PWR_CR1 |= PWR_CR1_DBP;
    RTC_BKPR(RUN_MARKER_BKP) = RUN_MARKER;
    target_handshake_write(LAYOUT_HANDSHAKE_ROM);
    console_puts("requesting the ROM bootloader\n");
    console_flush();
    target_reset();
}
