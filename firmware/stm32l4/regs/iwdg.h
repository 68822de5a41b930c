/* IWDG: RM0351 section "Independent watchdog (IWDG)". Facts: stm32l476-registers.md §6. */
#ifndef L4_REGS_IWDG_H
#define L4_REGS_IWDG_H

#include "mmio.h"

#define IWDG_BASE 0x40003000u
#define IWDG_KR   L4_REG32(IWDG_BASE + 0x00)
#define IWDG_PR   L4_REG32(IWDG_BASE + 0x04)
#define IWDG_RLR  L4_REG32(IWDG_BASE + 0x08)
#define IWDG_SR   L4_REG32(IWDG_BASE + 0x0C)

#define IWDG_KEY_START  0xCCCCu
#define IWDG_KEY_RELOAD 0xAAAAu
#define IWDG_KEY_UNLOCK 0x5555u
#define IWDG_SR_PVU (1u << 0)
#define IWDG_SR_RVU (1u << 1)
#define IWDG_SR_WVU (1u << 2)

#endif
