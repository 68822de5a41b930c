/* l4sim CRC model: the programmable CRC unit (7/8/16/32-bit polynomial, input/output reversal). */
#ifndef L4SIM_CRC_H
#define L4SIM_CRC_H

#include "sim.h"

#define CRC_BASE 0x40023000u
#define CRC_SIZE 0x400u

void crc_attach(sim_t *sim);

#endif
