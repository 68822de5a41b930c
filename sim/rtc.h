/* l4sim RTC model: the 32 backup registers the l4dfu handshake lives in, and the RTC
 * write protection; the calendar is not modelled. */
#ifndef L4SIM_RTC_H
#define L4SIM_RTC_H

#include <stdint.h>

#include "sim.h"

#define RTC_BASE 0x40002800u
#define RTC_SIZE 0x400u
#define RTC_BKP_COUNT 32u

void rtc_attach(sim_t *sim);
uint32_t rtc_backup_read(sim_t *sim, unsigned n);
/* From the host (tests, tools): no DBP needed. */
void rtc_backup_write_host(sim_t *sim, unsigned n, uint32_t v);
/* RCC_BDCR.BDRST: the backup domain (RTC registers, backup registers) goes to reset. */
void rtc_backup_domain_reset(sim_t *sim);

#endif
