/* l4sim EXTI model: the GPIO lines 0..15 as edge interrupts (IMR1, RTSR1, FTSR1, SWIER1, PR1). */
#ifndef L4SIM_EXTI_H
#define L4SIM_EXTI_H

#include <stdbool.h>

#include "sim.h"

#define EXTI_BASE 0x40010400u
#define EXTI_SIZE 0x400u

void exti_attach(sim_t *sim);
/* The GPIO model reports a level change of an input on pin `pin` of `port`;
 * EXTI takes it if SYSCFG routes that port to line `pin`. */
void exti_gpio_edge(sim_t *sim, char port, unsigned pin, bool level);

#endif
