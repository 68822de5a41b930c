/* l4sim model of the STM32L476 CRC calculation unit at 0x40023000.
 *
 * | off | register | reset      | notes |
 * |-----|----------|------------|-------|
 * | 00  | DR       | 0xFFFFFFFF | write: 8, 16 or 32 bits of data fed MSB first (after REV_IN); read: the CRC (after REV_OUT) |
 * | 04  | IDR      | 0x00000000 | 8-bit scratch byte |
 * | 08  | CR       | 0x00000000 | RESET 0 (DR <- INIT, reads 0), POLYSIZE[4:3] (00 32, 01 16, 10 8, 11 7 bits), REV_IN[6:5] (none/byte/half-word/word), REV_OUT 7 |
 * | 10  | INIT     | 0xFFFFFFFF | loaded into DR by CR.RESET only (an INIT write alone leaves DR, unverified) |
 * | 14  | POL      | 0x04C11DB7 | polynomial without its top bit; must be odd |
 *
 * With a polynomial of N < 32 bits the CRC lives in DR[N-1:0] and REV_OUT reverses those N
 * bits (unverified; it gives the catalogue's CRC-16/ARC). REV_IN reverses within each byte,
 * half-word or word, never wider than the write itself (unverified for narrow writes with a
 * wider mode). Writes need RCC_AHB1ENR.CRCEN; reads return 0 without it.
 */
#include "crc.h"

#include <stdlib.h>

#include "rcc.h"

#define CR_RESET 1u
#define CR_POLYSIZE_SHIFT 3
#define CR_REV_IN_SHIFT 5
#define CR_REV_OUT (1u << 7)
#define CR_WRITABLE 0xF8u

struct crc {
    sim_t *sim;
    uint32_t crc; /* the shift register, `width` bits */
    uint32_t idr, cr, init, pol;
};

static unsigned width(const struct crc *c)
{
    static const unsigned w[4] = {32, 16, 8, 7};
    return w[(c->cr >> CR_POLYSIZE_SHIFT) & 3u];
}

static uint32_t mask_of(unsigned bits)
{
    return bits >= 32 ? 0xFFFFFFFFu : (1u << bits) - 1;
}

static uint32_t reverse_bits(uint32_t v, unsigned bits)
{
    uint32_t r = 0;
    for (unsigned i = 0; i < bits; i++)
        if (v & (1u << i))
            r |= 1u << (bits - 1 - i);
    return r;
}

/* Reverse the bits inside each `unit`-bit chunk of a `bits`-bit value. */
static uint32_t reverse_units(uint32_t v, unsigned bits, unsigned unit)
{
    uint32_t r = 0;
    for (unsigned at = 0; at < bits; at += unit)
        r |= reverse_bits((v >> at) & mask_of(unit), unit) << at;
    return r;
}

static void feed(struct crc *c, uint32_t data, unsigned bits)
{
    static const unsigned rev_unit[4] = {0, 8, 16, 32};
    unsigned unit = rev_unit[(c->cr >> CR_REV_IN_SHIFT) & 3u];
    if (unit) {
        if (unit > bits)
            unit = bits;
        data = reverse_units(data, bits, unit);
    }
    unsigned w = width(c);
    uint32_t top = 1u << (w - 1), poly = c->pol & mask_of(w);
    uint32_t crc = c->crc;
    for (int i = (int)bits - 1; i >= 0; i--) {
        bool in = (data >> i) & 1u;
        bool out = (crc & top) != 0;
        crc = (crc << 1) & mask_of(w);
        if (in != out)
            crc ^= poly;
    }
    c->crc = crc;
}

static uint32_t dr_value(const struct crc *c)
{
    unsigned w = width(c);
    return (c->cr & CR_REV_OUT) ? reverse_bits(c->crc, w) : c->crc;
}

static uint32_t crc_read(void *self, uint32_t offset, unsigned size)
{
    struct crc *c = self;
    uint32_t off = offset & ~3u, v;
    switch (off) {
    case 0x00: v = dr_value(c); break;
    case 0x04: v = c->idr; break;
    case 0x08: v = c->cr; break;
    case 0x10: v = c->init; break;
    case 0x14: v = c->pol; break;
    default: return sim_bad_access(c->sim, "CRC", CRC_BASE + offset, false, 0);
    }
    if (!rcc_periph_enabled(c->sim, RCC_P_CRC))
        return 0;
    unsigned shift = (offset & 3u) * 8;
    return size == 4 ? v : (v >> shift) & ((1u << (size * 8)) - 1);
}

static void crc_write(void *self, uint32_t offset, uint32_t value, unsigned size)
{
    struct crc *c = self;
    uint32_t off = offset & ~3u;
    if (off != 0x00 && off != 0x04 && off != 0x08 && off != 0x10 && off != 0x14) {
        sim_bad_access(c->sim, "CRC", CRC_BASE + offset, true, value);
        return;
    }
    if (!rcc_periph_enabled(c->sim, RCC_P_CRC)) {
        sim_warn(c->sim, "CRC write to offset 0x%02x lost: %s=0 (CRC clock off)", off,
                 rcc_periph_enable_name(RCC_P_CRC));
        return;
    }
    if (off == 0x00) {
        /* A narrow write to DR is narrow data, wherever in the word it lands. */
        feed(c, value & mask_of(size * 8), size * 8);
        return;
    }
    if (size != 4) {
        unsigned shift = (offset & 3u) * 8;
        uint32_t mask = ((size == 1) ? 0xFFu : 0xFFFFu) << shift;
        uint32_t cur = crc_read(c, off, 4);
        value = (cur & ~mask) | ((value << shift) & mask);
    }
    sim_trace(c->sim, SIM_TR_MISC, "CRC write 0x%02x = 0x%08x", off, value);
    switch (off) {
    case 0x04:
        c->idr = value & 0xFFu;
        break;
    case 0x08:
        c->cr = value & CR_WRITABLE;
        if (value & CR_RESET)
            c->crc = c->init & mask_of(width(c));
        break;
    case 0x10:
        c->init = value;
        break;
    case 0x14:
        if (!(value & 1u))
            sim_warn(c->sim, "CRC_POL=0x%08x is even: the unit supports only odd polynomials", value);
        c->pol = value;
        break;
    }
}

static void crc_reset(void *self, enum sim_reset_kind kind)
{
    (void)kind;
    struct crc *c = self;
    c->crc = 0xFFFFFFFFu;
    c->idr = 0;
    c->cr = 0;
    c->init = 0xFFFFFFFFu;
    c->pol = 0x04C11DB7u;
}

static void crc_periph_reset(void *arg)
{
    crc_reset(arg, SIM_RESET_SYSTEM);
}

static const sim_periph_ops crc_ops = {
    .name = "CRC",
    .read = crc_read,
    .write = crc_write,
    .reset = crc_reset,
    .destroy = free,
};

void crc_attach(sim_t *sim)
{
    struct crc *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->sim = sim;
    crc_reset(c, SIM_RESET_POWER_ON);
    sim_set_model(sim, SIM_M_CRC, c);
    sim_add_periph(sim, CRC_BASE, CRC_SIZE, &crc_ops, c);
    rcc_on_periph_reset(sim, RCC_P_CRC, crc_periph_reset, c);
}
