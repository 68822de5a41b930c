/* Register access helper shared by the per-block headers in this folder. */
#ifndef L4_REGS_MMIO_H
#define L4_REGS_MMIO_H

#include <stdint.h>

#define L4_REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))
#define L4_REG16(addr) (*(volatile uint16_t *)(uintptr_t)(addr))
#define L4_REG8(addr)  (*(volatile uint8_t *)(uintptr_t)(addr))

#endif
