/* l4sim model of the STM32L476 EXTI for the GPIO lines 0..15 at 0x40010400.
 *
 * | off | register | reset      | notes |
 * |-----|----------|------------|-------|
 * | 00  | IMR1     | 0xFF820000 | the direct lines 17, 23..31 start unmasked (QEMU's RM0351-based model agrees) |
 * | 04  | EMR1     | 0x00000000 | stored; events (not interrupts) are not modelled |
 * | 08  | RTSR1    | 0x00000000 | rising-edge trigger, configurable lines 0..16, 18..22 |
 * | 0C  | FTSR1    | 0x00000000 | falling-edge trigger |
 * | 10  | SWIER1   | 0x00000000 | writing 1 raises the pending bit of an unmasked line; reads back until PR1 is cleared |
 * | 14  | PR1      | 0x00000000 | pending, write 1 to clear |
 * | 20  | IMR2     | 0x00000087 | stored (QEMU agrees) |
 * | 24-34 | EMR2, RTSR2, FTSR2, SWIER2, PR2 | 0 | stored; no line 32..39 source is modelled |
 *
 * Only GPIO lines drive edges here: lines 0..4 raise IRQ 6..10, 5..9 IRQ 23, 10..15 IRQ 40
 * (EXTI15_10). The interrupt line is a level: high while a pending bit is set and unmasked.
 * SYSCFG_EXTICRx chooses the port of each line. EXTI needs no RCC enable bit.
 */
#include "exti.h"

#include <stdlib.h>

#include "syscfg.h"

#define CONFIGURABLE1 0x007DFFFFu /* lines 0..16, 18..22 */

struct exti {
    sim_t *sim;
    uint32_t imr1, emr1, rtsr1, ftsr1, swier1, pr1;
    uint32_t imr2, emr2, rtsr2, ftsr2, swier2, pr2;
};

static const struct {
    unsigned first, last, irq;
} irq_groups[] = {{0, 0, 6}, {1, 1, 7}, {2, 2, 8}, {3, 3, 9}, {4, 4, 10}, {5, 9, 23}, {10, 15, 40}};

static void update_irqs(struct exti *e)
{
    uint32_t active = e->pr1 & e->imr1;
    for (unsigned i = 0; i < sizeof irq_groups / sizeof irq_groups[0]; i++) {
        uint32_t m = 0;
        for (unsigned l = irq_groups[i].first; l <= irq_groups[i].last; l++)
            m |= 1u << l;
        sim_irq_set(e->sim, irq_groups[i].irq, (active & m) != 0);
    }
}

static uint32_t exti_read(void *self, uint32_t offset, unsigned size)
{
    struct exti *e = self;
    uint32_t off = offset & ~3u, v;
    switch (off) {
    case 0x00: v = e->imr1; break;
    case 0x04: v = e->emr1; break;
    case 0x08: v = e->rtsr1; break;
    case 0x0C: v = e->ftsr1; break;
    case 0x10: v = e->swier1; break;
    case 0x14: v = e->pr1; break;
    case 0x20: v = e->imr2; break;
    case 0x24: v = e->emr2; break;
    case 0x28: v = e->rtsr2; break;
    case 0x2C: v = e->ftsr2; break;
    case 0x30: v = e->swier2; break;
    case 0x34: v = e->pr2; break;
    default: return sim_bad_access(e->sim, "EXTI", EXTI_BASE + offset, false, 0);
    }
    unsigned shift = (offset & 3u) * 8;
    return size == 4 ? v : (v >> shift) & ((1u << (size * 8)) - 1);
}

static void exti_write(void *self, uint32_t offset, uint32_t value, unsigned size)
{
    struct exti *e = self;
    uint32_t off = offset & ~3u;
    if (size != 4) {
        unsigned shift = (offset & 3u) * 8;
        uint32_t mask = ((size == 1) ? 0xFFu : 0xFFFFu) << shift;
        bool strobe = off == 0x10 || off == 0x14 || off == 0x30 || off == 0x34;
        uint32_t cur = strobe ? 0 : exti_read(e, off, 4);
        value = (cur & ~mask) | ((value << shift) & mask);
    }
    switch (off) {
    case 0x00: e->imr1 = value; break;
    case 0x04: e->emr1 = value; break;
    case 0x08: e->rtsr1 = value & CONFIGURABLE1; break;
    case 0x0C: e->ftsr1 = value & CONFIGURABLE1; break;
    case 0x10:
        e->swier1 = value & CONFIGURABLE1;
        e->pr1 |= e->swier1 & e->imr1;
        break;
    case 0x14:
        e->pr1 &= ~value;
        e->swier1 &= ~value;
        break;
    case 0x20: e->imr2 = value & 0xFFu; break;
    case 0x24: e->emr2 = value & 0xFFu; break;
    case 0x28: e->rtsr2 = value & 0x78u; break;
    case 0x2C: e->ftsr2 = value & 0x78u; break;
    case 0x30:
        e->swier2 = value & 0x78u;
        e->pr2 |= e->swier2 & e->imr2;
        break;
    case 0x34:
        e->pr2 &= ~value;
        e->swier2 &= ~value;
        break;
    default: sim_bad_access(e->sim, "EXTI", EXTI_BASE + offset, true, value); return;
    }
    sim_trace(e->sim, SIM_TR_MISC, "EXTI write 0x%02x = 0x%08x", off, value);
    update_irqs(e);
}

static void exti_reset(void *self, enum sim_reset_kind kind)
{
    (void)kind;
    struct exti *e = self;
    e->imr1 = 0xFF820000u;
    e->emr1 = e->rtsr1 = e->ftsr1 = e->swier1 = e->pr1 = 0;
    e->imr2 = 0x00000087u;
    e->emr2 = e->rtsr2 = e->ftsr2 = e->swier2 = e->pr2 = 0;
    update_irqs(e);
}

static const sim_periph_ops exti_ops = {
    .name = "EXTI",
    .read = exti_read,
    .write = exti_write,
    .reset = exti_reset,
    .destroy = free,
};

void exti_attach(sim_t *sim)
{
    struct exti *e = calloc(1, sizeof *e);
    if (!e)
        abort();
    e->sim = sim;
    sim_set_model(sim, SIM_M_EXTI, e);
    exti_reset(e, SIM_RESET_POWER_ON);
    sim_add_periph(sim, EXTI_BASE, EXTI_SIZE, &exti_ops, e);
}

void exti_gpio_edge(sim_t *sim, char port, unsigned pin, bool level)
{
    struct exti *e = sim_model(sim, SIM_M_EXTI);
    if (!e || pin > 15 || syscfg_exti_port(sim, pin) != port)
        return;
    uint32_t bit = 1u << pin;
    bool take = level ? (e->rtsr1 & bit) : (e->ftsr1 & bit);
    if (!take)
        return;
    /* the pending bit latches only for unmasked lines; masked edges are forgotten (as QEMU's model) */
    if (e->imr1 & bit) {
        e->pr1 |= bit;
        sim_trace(sim, SIM_TR_MISC, "EXTI line %u %s edge from P%c%u: pending", pin, level ? "rising" : "falling",
                  port, pin);
        update_irqs(e);
    }
}
