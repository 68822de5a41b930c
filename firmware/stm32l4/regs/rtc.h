/* RTC backup registers: RM0351 section "Real-time clock (RTC)", RTC_BKPxR.
 * Facts: stm32l476-registers.md §6.
 * Writes need RCC_APB1ENR1.PWREN and PWR_CR1.DBP; reads need neither. */
#ifndef L4_REGS_RTC_H
#define L4_REGS_RTC_H

#include "mmio.h"

#define RTC_BASE 0x40002800u
#define RTC_BKPR(n) L4_REG32(RTC_BASE + 0x50 + 4u * (n)) /* n = 0..31 */

#endif
