/* CRC: RM0351 section "Cyclic redundancy check calculation unit (CRC)".
 * Facts: stm32l476-registers.md §6. Needs RCC_AHB1ENR.CRCEN. */
#ifndef L4_REGS_CRC_H
#define L4_REGS_CRC_H

#include "mmio.h"

#define CRC_BASE 0x40023000u
#define CRC_DR    L4_REG32(CRC_BASE + 0x00)
#define CRC_DR8   L4_REG8(CRC_BASE + 0x00)
#define CRC_CR    L4_REG32(CRC_BASE + 0x08)
#define CRC_INIT  L4_REG32(CRC_BASE + 0x10)
#define CRC_POL   L4_REG32(CRC_BASE + 0x14)

#define CRC_CR_RESET       (1u << 0)
#define CRC_CR_REV_IN_BYTE (1u << 5)
#define CRC_CR_REV_IN_WORD (3u << 5)
#define CRC_CR_REV_OUT     (1u << 7)

#endif
