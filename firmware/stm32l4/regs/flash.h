/* FLASH: RM0351 section "Embedded flash memory (FLASH)", its registers.
 * Facts: stm32l476-registers.md §1-2. */
#ifndef L4_REGS_FLASH_H
#define L4_REGS_FLASH_H

#include "mmio.h"

#define FLASH_MEM_BASE   0x08000000u
#define FLASH_PAGE_SIZE  0x800u
#define FLASH_SIZE_KB_REG L4_REG16(0x1FFF75E0u) /* flash size in KB, factory-programmed */

#define FLASH_R_BASE 0x40022000u

#define FLASH_ACR     L4_REG32(FLASH_R_BASE + 0x00)
#define FLASH_KEYR    L4_REG32(FLASH_R_BASE + 0x08)
#define FLASH_OPTKEYR L4_REG32(FLASH_R_BASE + 0x0C)
#define FLASH_SR      L4_REG32(FLASH_R_BASE + 0x10)
#define FLASH_CR      L4_REG32(FLASH_R_BASE + 0x14)
#define FLASH_OPTR    L4_REG32(FLASH_R_BASE + 0x20)
#define FLASH_WRP1AR  L4_REG32(FLASH_R_BASE + 0x2C)

#define FLASH_KEY1    0x45670123u
#define FLASH_KEY2    0xCDEF89ABu
#define FLASH_OPTKEY1 0x08192A3Bu
#define FLASH_OPTKEY2 0x4C5D6E7Fu

/* ACR */
#define FLASH_ACR_LATENCY_MASK 7u
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_ACR_ICEN   (1u << 9)
#define FLASH_ACR_DCEN   (1u << 10)
#define FLASH_ACR_ICRST  (1u << 11)
#define FLASH_ACR_DCRST  (1u << 12)
#define FLASH_ACR_RESET_VALUE 0x00000600u

/* SR: error flags are write-1-to-clear. No PEMPTY on the L476. */
#define FLASH_SR_EOP     (1u << 0)
#define FLASH_SR_OPERR   (1u << 1)
#define FLASH_SR_PROGERR (1u << 3)
#define FLASH_SR_WRPERR  (1u << 4)
#define FLASH_SR_PGAERR  (1u << 5)
#define FLASH_SR_SIZERR  (1u << 6)
#define FLASH_SR_PGSERR  (1u << 7)
#define FLASH_SR_MISERR  (1u << 8)
#define FLASH_SR_FASTERR (1u << 9)
#define FLASH_SR_RDERR   (1u << 14)
#define FLASH_SR_OPTVERR (1u << 15)
#define FLASH_SR_BSY     (1u << 16)
#define FLASH_SR_ALL_ERRORS                                                                    \
    (FLASH_SR_OPERR | FLASH_SR_PROGERR | FLASH_SR_WRPERR | FLASH_SR_PGAERR | FLASH_SR_SIZERR | \
     FLASH_SR_PGSERR | FLASH_SR_MISERR | FLASH_SR_FASTERR | FLASH_SR_RDERR | FLASH_SR_OPTVERR)

/* CR */
#define FLASH_CR_PG         (1u << 0)
#define FLASH_CR_PER        (1u << 1)
#define FLASH_CR_MER1       (1u << 2)
#define FLASH_CR_PNB_SHIFT  3
#define FLASH_CR_PNB_MASK   (0xFFu << 3)
#define FLASH_CR_BKER       (1u << 11)
#define FLASH_CR_MER2       (1u << 15)
#define FLASH_CR_STRT       (1u << 16)
#define FLASH_CR_OPTSTRT    (1u << 17)
#define FLASH_CR_FSTPG      (1u << 18)
#define FLASH_CR_EOPIE      (1u << 24)
#define FLASH_CR_ERRIE      (1u << 25)
#define FLASH_CR_OBL_LAUNCH (1u << 27)
#define FLASH_CR_OPTLOCK    (1u << 30)
#define FLASH_CR_LOCK       (1u << 31)

#endif
