/* PWR: RM0351 section "Power control (PWR)". Facts: stm32l476-registers.md §4.
 * Writes need RCC_APB1ENR1.PWREN. */
#ifndef L4_REGS_PWR_H
#define L4_REGS_PWR_H

#include "mmio.h"

#define PWR_BASE 0x40007000u

#define PWR_CR1 L4_REG32(PWR_BASE + 0x00)
#define PWR_CR2 L4_REG32(PWR_BASE + 0x04)
#define PWR_SR2 L4_REG32(PWR_BASE + 0x14)

#define PWR_CR1_DBP        (1u << 8)
#define PWR_CR1_VOS_MASK   (3u << 9)
#define PWR_CR1_VOS_RANGE1 (1u << 9)
#define PWR_CR2_USV        (1u << 10)
#define PWR_SR2_VOSF       (1u << 10)

#endif
