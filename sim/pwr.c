/* l4sim model of the STM32L476 PWR (power control) at 0x40007000.
 *
 * | off   | register      | reset      | notes |
 * |-------|---------------|------------|-------|
 * | 00    | CR1           | 0x00000200 | LPMS[2:0], DBP 8 (backup domain writable), VOS[10:9] (01 Range 1, 10 Range 2), LPR 14 |
 * | 04    | CR2           | 0x00000000 | PVDE, PLS, PVME1..4, IOSV 9 (VDDIO2 valid), USV 10 (VDDUSB valid) |
 * | 08    | CR3           | 0x00008000 | EIWUL 15; stored |
 * | 0C    | CR4           | 0x00000000 | stored |
 * | 10    | SR1           | 0x00000000 | RO; no wake-up flags are ever raised |
 * | 14    | SR2           | 0x00000000 | RO; VOSF 10 for PWR_VOS_SETTLE_PS after a VOS change (unverified time); PVMO1..4 0 (the EVAL's supplies are present) |
 * | 18    | SCR           | -          | WO; clears SR1 flags (none) |
 * | 20-5C | PUCRx/PDCRx   | 0x00000000 | stored; pull configuration only matters in Standby/Shutdown |
 *
 * Writes need RCC_APB1ENR1.PWREN. The registers are reset by every reset (unverified for a
 * system reset; ST's code sets DBP, VOS, USV again after each reset anyway).
 */
#include "pwr.h"

#include <stdlib.h>

#include "rcc.h"

#define CR1_DBP (1u << 8)
#define CR1_VOS_SHIFT 9
#define CR1_VOS_MASK (3u << 9)
#define CR1_RESET 0x00000200u
#define CR1_WRITABLE 0x00004707u
#define CR2_IOSV (1u << 9)
#define CR2_USV (1u << 10)
#define CR2_WRITABLE 0x000006FFu
#define CR3_RESET 0x00008000u
#define CR3_WRITABLE 0x0000851Fu
#define CR4_WRITABLE 0x0000231Fu
#define SR2_VOSF (1u << 10)
#define PUPD_FIRST 0x20u
#define PUPD_LAST 0x5Cu

struct pwr {
    sim_t *sim;
    uint32_t cr1, cr2, cr3, cr4;
    uint32_t pupd[(PUPD_LAST - PUPD_FIRST) / 4 + 1];
    unsigned range_before; /* in force until vos_settled_at */
    uint64_t vos_settled_at;
};

static struct pwr *pwr_of(sim_t *sim)
{
    return sim_model(sim, SIM_M_PWR);
}

static unsigned vos_range(uint32_t cr1)
{
    return ((cr1 & CR1_VOS_MASK) >> CR1_VOS_SHIFT) == 2 ? 2 : 1;
}

static bool vos_settling(struct pwr *p)
{
    return sim_now(p->sim) < p->vos_settled_at;
}

static uint32_t pwr_read(void *self, uint32_t offset, unsigned size)
{
    struct pwr *p = self;
    uint32_t off = offset & ~3u;
    uint32_t v;
    switch (off) {
    case 0x00:
        v = p->cr1;
        break;
    case 0x04:
        v = p->cr2;
        break;
    case 0x08:
        v = p->cr3;
        break;
    case 0x0C:
        v = p->cr4;
        break;
    case 0x10:
        v = 0;
        break;
    case 0x14:
        v = vos_settling(p) ? SR2_VOSF : 0;
        break;
    case 0x18:
        v = 0;
        break;
    default:
        if (off >= PUPD_FIRST && off <= PUPD_LAST) {
            v = p->pupd[(off - PUPD_FIRST) / 4];
            break;
        }
        return sim_bad_access(p->sim, "PWR", PWR_BASE + offset, false, 0);
    }
    if (!rcc_periph_enabled(p->sim, RCC_P_PWR))
        return 0;
    unsigned shift = (offset & 3u) * 8;
    return size == 4 ? v : (v >> shift) & ((1u << (size * 8)) - 1);
}

static void write_cr1(struct pwr *p, uint32_t value)
{
    uint32_t old = p->cr1;
    uint32_t v = (old & ~CR1_WRITABLE) | (value & CR1_WRITABLE);
    unsigned vos = (v & CR1_VOS_MASK) >> CR1_VOS_SHIFT;
    if (vos == 0 || vos == 3) {
        sim_warn(p->sim, "PWR_CR1.VOS=%u is reserved (01 Range 1, 10 Range 2): VOS unchanged", vos);
        v = (v & ~CR1_VOS_MASK) | (old & CR1_VOS_MASK);
    } else if ((v ^ old) & CR1_VOS_MASK) {
        p->range_before = vos_range(old);
        p->vos_settled_at = sim_now(p->sim) + PWR_VOS_SETTLE_PS;
        sim_trace(p->sim, SIM_TR_PWR, "PWR: voltage Range %u -> %u (VOSF set)", p->range_before, vos_range(v));
        if (vos_range(v) == 2 && rcc_sysclk_hz(p->sim) > 26000000u)
            sim_warn(p->sim, "PWR_CR1.VOS=Range 2 while SYSCLK is %u Hz (limit 26 MHz): lower the clock first",
                     rcc_sysclk_hz(p->sim));
    }
    if ((v ^ old) & CR1_DBP)
        sim_trace(p->sim, SIM_TR_PWR, "PWR: backup domain %s", (v & CR1_DBP) ? "writable" : "write-protected");
    p->cr1 = v;
}

static void pwr_write(void *self, uint32_t offset, uint32_t value, unsigned size)
{
    struct pwr *p = self;
    uint32_t off = offset & ~3u;
    bool known = off <= 0x18 || (off >= PUPD_FIRST && off <= PUPD_LAST);
    if (!known || off == 0x10 || off == 0x14) {
        sim_bad_access(p->sim, "PWR", PWR_BASE + offset, true, value);
        return;
    }
    if (!rcc_periph_enabled(p->sim, RCC_P_PWR)) {
        sim_warn(p->sim, "PWR write to offset 0x%02x lost: %s=0 (PWR bus clock off)", off,
                 rcc_periph_enable_name(RCC_P_PWR));
        return;
    }
    if (size != 4) {
        unsigned shift = (offset & 3u) * 8;
        uint32_t mask = ((size == 1) ? 0xFFu : 0xFFFFu) << shift;
        uint32_t cur = off == 0x18 ? 0 : pwr_read(p, off, 4);
        value = (cur & ~mask) | ((value << shift) & mask);
    }
    sim_trace(p->sim, SIM_TR_PWR, "PWR write 0x%02x = 0x%08x", off, value);
    switch (off) {
    case 0x00:
        write_cr1(p, value);
        break;
    case 0x04:
        if ((value ^ p->cr2) & CR2_USV)
            sim_trace(p->sim, SIM_TR_PWR, "PWR: VDDUSB %s", (value & CR2_USV) ? "valid" : "isolated");
        p->cr2 = (p->cr2 & ~CR2_WRITABLE) | (value & CR2_WRITABLE);
        break;
    case 0x08:
        p->cr3 = (p->cr3 & ~CR3_WRITABLE) | (value & CR3_WRITABLE);
        break;
    case 0x0C:
        p->cr4 = (p->cr4 & ~CR4_WRITABLE) | (value & CR4_WRITABLE);
        break;
    case 0x18:
        break;
    default:
        p->pupd[(off - PUPD_FIRST) / 4] = value & 0xFFFFu;
        break;
    }
}

static void pwr_reset(void *self, enum sim_reset_kind kind)
{
    (void)kind;
    struct pwr *p = self;
    p->cr1 = CR1_RESET;
    p->cr2 = 0;
    p->cr3 = CR3_RESET;
    p->cr4 = 0;
    for (unsigned i = 0; i < sizeof p->pupd / sizeof p->pupd[0]; i++)
        p->pupd[i] = 0;
    p->range_before = 1;
    p->vos_settled_at = 0;
}

static void pwr_periph_reset(void *arg)
{
    pwr_reset(arg, SIM_RESET_SYSTEM);
}

static const sim_periph_ops pwr_ops = {
    .name = "PWR",
    .read = pwr_read,
    .write = pwr_write,
    .reset = pwr_reset,
    .destroy = free,
};

void pwr_attach(sim_t *sim)
{
    struct pwr *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    p->sim = sim;
    pwr_reset(p, SIM_RESET_POWER_ON);
    sim_set_model(sim, SIM_M_PWR, p);
    sim_add_periph(sim, PWR_BASE, PWR_SIZE, &pwr_ops, p);
    rcc_on_periph_reset(sim, RCC_P_PWR, pwr_periph_reset, p);
}

bool pwr_usb_supply_valid(sim_t *sim)
{
    struct pwr *p = pwr_of(sim);
    return p && (p->cr2 & CR2_USV);
}

bool pwr_backup_writable(sim_t *sim)
{
    struct pwr *p = pwr_of(sim);
    return p && (p->cr1 & CR1_DBP);
}

bool pwr_vddio2_valid(sim_t *sim)
{
    struct pwr *p = pwr_of(sim);
    return p && (p->cr2 & CR2_IOSV);
}

unsigned pwr_voltage_range(sim_t *sim)
{
    struct pwr *p = pwr_of(sim);
    if (!p)
        return 1;
    return vos_settling(p) ? p->range_before : vos_range(p->cr1);
}
