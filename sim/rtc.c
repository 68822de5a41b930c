/* l4sim model of the STM32L476 RTC at 0x40002800: the backup registers and the write
 * protection. The calendar, alarms, wake-up timer and tamper are not modelled.
 *
 * | off   | register        | reset      | notes |
 * |-------|-----------------|------------|-------|
 * | 00    | TR              | 0x00000000 | read only here (calendar not modelled) |
 * | 04    | DR              | 0x00002101 | idem |
 * | 08    | CR              | 0x00000000 | idem |
 * | 0C    | ISR             | 0x00000007 | ALRAWF, ALRBWF, WUTWF (unverified reset value) |
 * | 10    | PRER            | 0x007F00FF | idem |
 * | 14    | WUTR            | 0x0000FFFF | idem |
 * | 1C/20 | ALRMAR/ALRMBR   | 0x00000000 | idem |
 * | 24    | WPR             | -          | WO; 0xCA then 0x53 unlocks the RTC registers, anything else locks |
 * | 28    | SSR             | 0x00000000 | idem |
 * | 3C-4C | CALR, TAMPCR, ALRMASSR, ALRMBSSR, OR | 0 | idem |
 * | 50-CC | BKP0R..BKP31R   | 0x00000000 | backup domain: survive system reset, lost on power-on and BDRST |
 *
 * Every RTC register is in the backup domain: writes need PWR_CR1.DBP=1 (set through the
 * PWR clock, RCC_APB1ENR1.PWREN), else they are lost. The WPR key guards the calendar
 * registers, not BKPxR (unverified). Writes to unmodelled registers are bad accesses.
 */
#include "rtc.h"

#include <stdlib.h>
#include <string.h>

#include "pwr.h"
#include "rcc.h"

#define BKP_FIRST 0x50u
#define BKP_LAST (BKP_FIRST + 4 * (RTC_BKP_COUNT - 1))

struct rtc {
    sim_t *sim;
    uint32_t bkp[RTC_BKP_COUNT];
    unsigned wpr_step; /* 0 locked, 1 after 0xCA, 2 unlocked */
};

static const struct {
    uint32_t off;
    uint32_t reset;
} unmodelled[] = {{0x00, 0}, {0x04, 0x00002101u}, {0x08, 0}, {0x0C, 0x00000007u}, {0x10, 0x007F00FFu},
                  {0x14, 0x0000FFFFu}, {0x1C, 0}, {0x20, 0}, {0x28, 0}, {0x30, 0}, {0x34, 0}, {0x38, 0},
                  {0x3C, 0}, {0x40, 0}, {0x44, 0}, {0x48, 0}, {0x4C, 0}};

static uint32_t rtc_read(void *self, uint32_t offset, unsigned size)
{
    struct rtc *r = self;
    uint32_t off = offset & ~3u;
    uint32_t v = 0;
    bool found = false;
    if (off >= BKP_FIRST && off <= BKP_LAST) {
        v = r->bkp[(off - BKP_FIRST) / 4];
        found = true;
    } else if (off == 0x24 || off == 0x2C) {
        found = true; /* write-only */
    } else {
        for (unsigned i = 0; i < sizeof unmodelled / sizeof unmodelled[0]; i++)
            if (unmodelled[i].off == off) {
                v = unmodelled[i].reset;
                found = true;
            }
    }
    if (!found)
        return sim_bad_access(r->sim, "RTC", RTC_BASE + offset, false, 0);
    unsigned shift = (offset & 3u) * 8;
    return size == 4 ? v : (v >> shift) & ((1u << (size * 8)) - 1);
}

static void rtc_write(void *self, uint32_t offset, uint32_t value, unsigned size)
{
    struct rtc *r = self;
    uint32_t off = offset & ~3u;
    if (!pwr_backup_writable(r->sim)) {
        sim_warn(r->sim, "RTC write to offset 0x%02x lost: backup domain write-protected (PWR_CR1.DBP=0%s)", off,
                 rcc_periph_enabled(r->sim, RCC_P_PWR) ? "" : "; RCC_APB1ENR1.PWREN=0, so DBP cannot be set");
        return;
    }
    if (size != 4) {
        unsigned shift = (offset & 3u) * 8;
        uint32_t mask = ((size == 1) ? 0xFFu : 0xFFFFu) << shift;
        uint32_t cur = off == 0x24 ? 0 : rtc_read(r, off, 4);
        value = (cur & ~mask) | ((value << shift) & mask);
    }
    if (off >= BKP_FIRST && off <= BKP_LAST) {
        unsigned n = (off - BKP_FIRST) / 4;
        sim_trace(r->sim, SIM_TR_MISC, "RTC BKP%uR = 0x%08x", n, value);
        r->bkp[n] = value;
        return;
    }
    if (off == 0x24) {
        value &= 0xFFu;
        r->wpr_step = value == 0xCA ? 1 : (value == 0x53 && r->wpr_step == 1) ? 2 : 0;
        sim_trace(r->sim, SIM_TR_MISC, "RTC WPR 0x%02x: %s", value, r->wpr_step == 2 ? "unlocked" : "locked");
        return;
    }
    sim_bad_access(r->sim, r->wpr_step == 2 ? "RTC (calendar not modelled)" : "RTC (write-protected: WPR keys missing)",
                   RTC_BASE + offset, true, value);
}

static void rtc_reset(void *self, enum sim_reset_kind kind)
{
    struct rtc *r = self;
    if (kind == SIM_RESET_POWER_ON) {
        memset(r->bkp, 0, sizeof r->bkp);
        r->wpr_step = 0;
    }
}

static const sim_periph_ops rtc_ops = {
    .name = "RTC",
    .read = rtc_read,
    .write = rtc_write,
    .reset = rtc_reset,
    .destroy = free,
};

void rtc_attach(sim_t *sim)
{
    struct rtc *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    r->sim = sim;
    sim_set_model(sim, SIM_M_RTC, r);
    sim_add_periph(sim, RTC_BASE, RTC_SIZE, &rtc_ops, r);
}

uint32_t rtc_backup_read(sim_t *sim, unsigned n)
{
    struct rtc *r = sim_model(sim, SIM_M_RTC);
    return r && n < RTC_BKP_COUNT ? r->bkp[n] : 0;
}

void rtc_backup_write_host(sim_t *sim, unsigned n, uint32_t v)
{
    struct rtc *r = sim_model(sim, SIM_M_RTC);
    if (r && n < RTC_BKP_COUNT)
        r->bkp[n] = v;
}

void rtc_backup_domain_reset(sim_t *sim)
{
    struct rtc *r = sim_model(sim, SIM_M_RTC);
    if (!r)
        return;
    memset(r->bkp, 0, sizeof r->bkp);
    r->wpr_step = 0;
}
