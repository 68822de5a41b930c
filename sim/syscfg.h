/* l4sim SYSCFG model: memory remap (MEMRMP), EXTI port routing, SRAM2 erase and lock keys. */
#ifndef L4SIM_SYSCFG_H
#define L4SIM_SYSCFG_H

#include <stdbool.h>

#include "sim.h"

#define SYSCFG_BASE 0x40010000u
#define SYSCFG_SIZE 0x400u

void syscfg_attach(sim_t *sim);
/* Port ('A'..'H') routed to EXTI line 0..15 by EXTICR1..4. */
char syscfg_exti_port(sim_t *sim, unsigned line);

#endif
