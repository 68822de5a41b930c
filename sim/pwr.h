/* l4sim PWR model: backup-domain write protection, supply-valid flags, voltage scaling. */
#ifndef L4SIM_PWR_H
#define L4SIM_PWR_H

#include <stdbool.h>

#include "sim.h"

#define PWR_BASE 0x40007000u
#define PWR_SIZE 0x400u

void pwr_attach(sim_t *sim);

bool pwr_usb_supply_valid(sim_t *sim); /* PWR_CR2.USV: VDDUSB declared valid */
bool pwr_backup_writable(sim_t *sim);  /* PWR_CR1.DBP */
bool pwr_vddio2_valid(sim_t *sim);     /* PWR_CR2.IOSV: PG2..PG15 powered */
/* Voltage range in force (1 or 2). While SR2.VOSF is set after a change, the old one. */
unsigned pwr_voltage_range(sim_t *sim);

/* Time SR2.VOSF stays set after a VOS change (unverified). */
#define PWR_VOS_SETTLE_PS (20 * SIM_PS_PER_US)

#endif
