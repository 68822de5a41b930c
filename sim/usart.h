/* l4sim USART model: USART1, USART2 and LPUART1 (same layout; LPUART's BRR differs). TX bytes
 * reach the console one frame time after they start; RX bytes are injected by the host. */
#ifndef L4SIM_USART_H
#define L4SIM_USART_H

#include <stddef.h>
#include <stdint.h>

#include "sim.h"

#define USART1_BASE 0x40013800u
#define USART2_BASE 0x40004400u
#define LPUART1_BASE 0x40008000u
#define USART_SIZE 0x400u

#define USART1_IRQ 37u
#define USART2_IRQ 38u
#define LPUART1_IRQ 70u

void usart_attach(sim_t *sim); /* all three */
/* which: 1 = USART1, 2 = USART2, 0 = LPUART1 (as rcc_usart_kernel_hz). */
void usart_inject(sim_t *sim, int which, const uint8_t *data, size_t len);
/* Duration of one frame (start + data + parity + stop bits) at the programmed rate; 0 if none. */
uint64_t usart_frame_ps(sim_t *sim, int which);

#endif
