/* l4sim IWDG model: the independent watchdog counting the LSI in virtual time. */
#ifndef L4SIM_IWDG_H
#define L4SIM_IWDG_H

#include <stdbool.h>
#include <stdint.h>

#include "sim.h"

#define IWDG_BASE 0x40003000u
#define IWDG_SIZE 0x400u

void iwdg_attach(sim_t *sim);
bool iwdg_running(sim_t *sim);
/* Virtual time (ps) at which the watchdog will reset the chip, or SIM_NEVER. */
uint64_t iwdg_deadline(sim_t *sim);

/* PR/RLR/WINR updates stay busy (SR.PVU/RVU/WVU) this many LSI periods (unverified). */
#define IWDG_UPDATE_LSI_CYCLES 5u

#endif
