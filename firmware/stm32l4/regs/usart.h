/* USART: RM0351 section "Universal synchronous asynchronous receiver transmitter
 * (USART)". Register offsets and bit positions as in ST's stm32l476xx.h (USART_TypeDef).
 * Needs RCC_APB2ENR.USART1EN for USART1. */
#ifndef L4_REGS_USART_H
#define L4_REGS_USART_H

#include "mmio.h"

#define USART1_BASE 0x40013800u

#define USART_CR1(base) L4_REG32((base) + 0x00)
#define USART_CR2(base) L4_REG32((base) + 0x04)
#define USART_CR3(base) L4_REG32((base) + 0x08)
#define USART_BRR(base) L4_REG32((base) + 0x0C)
#define USART_ISR(base) L4_REG32((base) + 0x1C)
#define USART_ICR(base) L4_REG32((base) + 0x20)
#define USART_RDR(base) L4_REG32((base) + 0x24)
#define USART_TDR(base) L4_REG32((base) + 0x28)

#define USART_CR1_UE (1u << 0)
#define USART_CR1_RE (1u << 2)
#define USART_CR1_TE (1u << 3)
#define USART_ISR_RXNE (1u << 5)
#define USART_ISR_TC   (1u << 6)
#define USART_ISR_TXE  (1u << 7)

#endif
