#ifndef L4SIM_BOARD_H
#define L4SIM_BOARD_H
#include "sim.h"
/* Create every peripheral model of the STM32L476G-EVAL on sim's bus. */
void board_attach_models(sim_t *sim);
#endif
