/* l4sim model of the STM32L476 SYSCFG at 0x40010000.
 *
 * | off | register | reset      | notes |
 * |-----|----------|------------|-------|
 * | 00  | MEMRMP   | 0x00000000 | MEM_MODE[2:0] (000 flash, 001 system memory, 010 FMC, 011 SRAM1, 110 QUADSPI), FB_MODE 8; reset MEM_MODE follows the boot selection: the EVAL boots with BOOT0=0, so flash (unverified) |
 * | 04  | CFGR1    | 0x7C000001 | FWDIS 0, BOOSTEN 8, I2C fast-mode bits, FPU_IE[31:26]; stored |
 * | 08  | EXTICR1  | 0x00000000 | 4 bits per line, 0..7 = port A..H; lines 0..3 |
 * | 0C  | EXTICR2  | 0x00000000 | lines 4..7 |
 * | 10  | EXTICR3  | 0x00000000 | lines 8..11 |
 * | 14  | EXTICR4  | 0x00000000 | lines 12..15 (PC13 = 0x0020 in bits 7:4) |
 * | 18  | SCSR     | 0x00000000 | SRAM2ER 0 (erase SRAM2, needs the SKR keys), SRAM2BSY 1 RO; the erase is instant here |
 * | 1C  | CFGR2    | 0x00000000 | lock bits 0..3 (set-once), SPF 8 W1C; stored |
 * | 20  | SWPR     | 0x00000000 | SRAM2 page write protection: not modelled, a non-zero write is a bad access |
 * | 24  | SKR      | -          | WO; 0xCA then 0x53 arms one SRAM2ER |
 *
 * Writes need RCC_APB2ENR.SYSCFGEN. A MEMRMP change reaches the core through sim_remap().
 */
#include "syscfg.h"

#include <stdlib.h>
#include <string.h>

#include "rcc.h"

#define MEMRMP_MEM_MODE_MASK 7u
#define MEMRMP_FB_MODE (1u << 8)
#define CFGR1_RESET 0x7C000001u
#define CFGR1_WRITABLE 0xFC7F0101u
#define SCSR_SRAM2ER 1u

struct syscfg {
    sim_t *sim;
    uint32_t memrmp, cfgr1, exticr[4], cfgr2;
    unsigned key_step; /* SKR: 0 none, 1 after 0xCA, 2 armed */
};

static uint32_t syscfg_read(void *self, uint32_t offset, unsigned size)
{
    struct syscfg *s = self;
    uint32_t off = offset & ~3u, v;
    switch (off) {
    case 0x00: v = s->memrmp; break;
    case 0x04: v = s->cfgr1; break;
    case 0x08: case 0x0C: case 0x10: case 0x14: v = s->exticr[(off - 0x08) / 4]; break;
    case 0x18: v = 0; break; /* erase done, not busy */
    case 0x1C: v = s->cfgr2; break;
    case 0x20: v = 0; break;
    case 0x24: v = 0; break;
    default: return sim_bad_access(s->sim, "SYSCFG", SYSCFG_BASE + offset, false, 0);
    }
    if (!rcc_periph_enabled(s->sim, RCC_P_SYSCFG))
        return 0;
    unsigned shift = (offset & 3u) * 8;
    return size == 4 ? v : (v >> shift) & ((1u << (size * 8)) - 1);
}

static void write_memrmp(struct syscfg *s, uint32_t value)
{
    unsigned mode = value & MEMRMP_MEM_MODE_MASK;
    if (mode == 4 || mode == 5 || mode == 7) {
        sim_warn(s->sim, "SYSCFG_MEMRMP.MEM_MODE=%u is reserved (0 flash, 1 system memory, 2 FMC, 3 SRAM1, "
                         "6 QUADSPI): ignored", mode);
        return;
    }
    uint32_t v = value & (MEMRMP_MEM_MODE_MASK | MEMRMP_FB_MODE);
    if (v == s->memrmp)
        return;
    s->memrmp = v;
    sim_trace(s->sim, SIM_TR_MISC, "SYSCFG: MEM_MODE=%u FB_MODE=%u", mode, (v & MEMRMP_FB_MODE) ? 1 : 0);
    sim_remap(s->sim, mode, (v & MEMRMP_FB_MODE) != 0);
}

static void write_scsr(struct syscfg *s, uint32_t value)
{
    if (!(value & SCSR_SRAM2ER))
        return;
    if (s->key_step != 2) {
        sim_warn(s->sim, "SYSCFG_SCSR.SRAM2ER ignored: write 0xCA then 0x53 to SYSCFG_SKR first");
        return;
    }
    s->key_step = 0;
    uint8_t *sram2 = sim_mem_ptr(s->sim, SIM_SRAM2_BASE, SIM_SRAM2_SIZE);
    if (sram2)
        memset(sram2, 0, SIM_SRAM2_SIZE);
    sim_trace(s->sim, SIM_TR_MISC, "SYSCFG: SRAM2 erased");
}

static void syscfg_write(void *self, uint32_t offset, uint32_t value, unsigned size)
{
    struct syscfg *s = self;
    uint32_t off = offset & ~3u;
    if (off > 0x24) {
        sim_bad_access(s->sim, "SYSCFG", SYSCFG_BASE + offset, true, value);
        return;
    }
    if (!rcc_periph_enabled(s->sim, RCC_P_SYSCFG)) {
        sim_warn(s->sim, "SYSCFG write to offset 0x%02x lost: %s=0 (SYSCFG clock off)", off,
                 rcc_periph_enable_name(RCC_P_SYSCFG));
        return;
    }
    if (size != 4) {
        unsigned shift = (offset & 3u) * 8;
        uint32_t mask = ((size == 1) ? 0xFFu : 0xFFFFu) << shift;
        uint32_t cur = (off == 0x18 || off == 0x24) ? 0 : syscfg_read(s, off, 4);
        if (off == 0x1C)
            cur &= ~0x100u; /* SPF is W1C */
        value = (cur & ~mask) | ((value << shift) & mask);
    }
    sim_trace(s->sim, SIM_TR_MISC, "SYSCFG write 0x%02x = 0x%08x", off, value);
    switch (off) {
    case 0x00:
        write_memrmp(s, value);
        break;
    case 0x04:
        s->cfgr1 = (s->cfgr1 & ~CFGR1_WRITABLE) | (value & CFGR1_WRITABLE);
        break;
    case 0x08: case 0x0C: case 0x10: case 0x14:
        s->exticr[(off - 0x08) / 4] = value & 0x7777u;
        break;
    case 0x18:
        write_scsr(s, value);
        break;
    case 0x1C:
        s->cfgr2 |= value & 0xFu; /* lock bits are set-once */
        break;
    case 0x20:
        if (value)
            sim_bad_access(s->sim, "SYSCFG (SWPR: SRAM2 write protection not modelled)", SYSCFG_BASE + off, true,
                           value);
        break;
    case 0x24:
        value &= 0xFFu;
        s->key_step = value == 0xCA ? 1 : (value == 0x53 && s->key_step == 1) ? 2 : 0;
        break;
    }
}

static void syscfg_reset(void *self, enum sim_reset_kind kind)
{
    (void)kind;
    struct syscfg *s = self;
    s->memrmp = 0; /* BOOT0=0: flash; the core maps flash at 0 on reset itself */
    s->cfgr1 = CFGR1_RESET;
    memset(s->exticr, 0, sizeof s->exticr);
    s->cfgr2 = 0;
    s->key_step = 0;
}

static void syscfg_periph_reset(void *arg)
{
    struct syscfg *s = arg;
    bool remapped = s->memrmp != 0;
    syscfg_reset(s, SIM_RESET_SYSTEM);
    if (remapped)
        sim_remap(s->sim, 0, false);
}

static const sim_periph_ops syscfg_ops = {
    .name = "SYSCFG",
    .read = syscfg_read,
    .write = syscfg_write,
    .reset = syscfg_reset,
    .destroy = free,
};

void syscfg_attach(sim_t *sim)
{
    struct syscfg *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->sim = sim;
    syscfg_reset(s, SIM_RESET_POWER_ON);
    sim_set_model(sim, SIM_M_SYSCFG, s);
    sim_add_periph(sim, SYSCFG_BASE, SYSCFG_SIZE, &syscfg_ops, s);
    rcc_on_periph_reset(sim, RCC_P_SYSCFG, syscfg_periph_reset, s);
}

char syscfg_exti_port(sim_t *sim, unsigned line)
{
    struct syscfg *s = sim_model(sim, SIM_M_SYSCFG);
    if (!s || line > 15)
        return 'A';
    return (char)('A' + ((s->exticr[line / 4] >> (4 * (line % 4))) & 7u));
}
