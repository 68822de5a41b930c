/* SYSCFG: RM0351 section "System configuration controller (SYSCFG)".
 * Facts: stm32l476-registers.md §6. Needs RCC_APB2ENR.SYSCFGEN. */
#ifndef L4_REGS_SYSCFG_H
#define L4_REGS_SYSCFG_H

#include "mmio.h"

#define SYSCFG_BASE 0x40010000u
#define SYSCFG_MEMRMP L4_REG32(SYSCFG_BASE + 0x00)

#define SYSCFG_MEMRMP_MEM_MODE_MASK   7u
#define SYSCFG_MEMRMP_MEM_MODE_SYSMEM 1u /* system memory (ROM bootloader) at 0x00000000 */
#define SYSCFG_MEMRMP_FB_MODE         (1u << 8) /* bank 2 mapped at 0x08000000 */

#endif
