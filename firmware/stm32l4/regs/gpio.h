/* GPIO ports A..H: RM0351 section "General-purpose I/Os (GPIO)".
 * Facts: stm32l476-registers.md §5. The L476 has no GPIOI. */
#ifndef L4_REGS_GPIO_H
#define L4_REGS_GPIO_H

#include "mmio.h"

#define GPIO_PORT_BASE(port) (0x48000000u + 0x400u * (uint32_t)(port)) /* 0 = A .. 7 = H */
#define GPIO_PORT_A 0u
#define GPIO_PORT_B 1u
#define GPIO_PORT_C 2u

#define GPIO_MODER(port)   L4_REG32(GPIO_PORT_BASE(port) + 0x00)
#define GPIO_OTYPER(port)  L4_REG32(GPIO_PORT_BASE(port) + 0x04)
#define GPIO_OSPEEDR(port) L4_REG32(GPIO_PORT_BASE(port) + 0x08)
#define GPIO_PUPDR(port)   L4_REG32(GPIO_PORT_BASE(port) + 0x0C)
#define GPIO_IDR(port)     L4_REG32(GPIO_PORT_BASE(port) + 0x10)
#define GPIO_ODR(port)     L4_REG32(GPIO_PORT_BASE(port) + 0x14)
#define GPIO_BSRR(port)    L4_REG32(GPIO_PORT_BASE(port) + 0x18)
/* n = 0 (AFRL, pins 0-7), 1 (AFRH, pins 8-15) */
#define GPIO_AFR(port, n)  L4_REG32(GPIO_PORT_BASE(port) + 0x20 + 4u * (n))

/* MODER field values */
#define GPIO_MODE_INPUT  0u
#define GPIO_MODE_OUTPUT 1u
#define GPIO_MODE_AF     2u
#define GPIO_MODE_ANALOG 3u
/* OSPEEDR */
#define GPIO_SPEED_LOW       0u
#define GPIO_SPEED_VERY_HIGH 3u
/* PUPDR */
#define GPIO_PULL_NONE 0u
#define GPIO_PULL_UP   1u
#define GPIO_PULL_DOWN 2u

#endif
