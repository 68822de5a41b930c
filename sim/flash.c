/* l4sim FLASH model: STM32L476 embedded flash interface (RM0351 chapter 3).
 * Facts: shared/reference/stm32l476-registers.md section 2 ("sheet" below).
 *
 * Registers at 0x40022000:
 * | off | name     | reset        | notes |
 * |-----|----------|--------------|-------|
 * | 00  | ACR      | 0x00000600   | LATENCY[2:0], PRFTEN 8, ICEN 9, DCEN 10, ICRST 11, DCRST 12, RUN_PD 13, SLEEP_PD 14 |
 * | 04  | PDKEYR   | - (WO)       | 0x04152637, 0xFAFBFCFD: allows RUN_PD |
 * | 08  | KEYR     | - (WO)       | 0x45670123, 0xCDEF89AB: clears CR.LOCK; wrong key: locked until reset (bus error on silicon unverified, not raised) |
 * | 0C  | OPTKEYR  | - (WO)       | 0x08192A3B, 0x4C5D6E7F: clears CR.OPTLOCK; needs LOCK=0 |
 * | 10  | SR       | 0x00000000   | EOP 0, OPERR 1, PROGERR 3, WRPERR 4, PGAERR 5, SIZERR 6, PGSERR 7, MISERR 8, FASTERR 9, RDERR 14, OPTVERR 15 (W1C), BSY 16 (RO) |
 * | 14  | CR       | 0xC0000000   | PG 0, PER 1, MER1 2, PNB[10:3], BKER 11, MER2 15, STRT 16, OPTSTRT 17, FSTPG 18, EOPIE 24, ERRIE 25, RDERRIE 26, OBL_LAUNCH 27, OPTLOCK 30, LOCK 31 |
 * | 18  | ECCR     | 0x00000000   | ECCIE 24 kept; ECCC 30/ECCD 31 W1C (unverified), never raised: no ECC faults modelled |
 * | 1C  | -        |              | reserved |
 * | 20  | OPTR     | from OB      | factory 0xFFEFF8AA; writable bits 0x03BF77FF |
 * | 24  | PCROP1SR | from OB      | factory 0xFFFFFFFF (unverified); STRT[15:0] in double words from the bank start (offset base unverified) |
 * | 28  | PCROP1ER | from OB      | factory 0x7FFF0000 (unverified); END[15:0], PCROP_RDP 31 |
 * | 2C  | WRP1AR   | from OB      | factory 0xFF00FFFF (unverified); STRT[7:0], END[23:16] page index; STRT>END = off |
 * | 30  | WRP1BR   | from OB      | as WRP1AR |
 * | 34-40 | -      |              | reserved |
 * | 44  | PCROP2SR | from OB      | bank 2, as PCROP1SR |
 * | 48  | PCROP2ER | from OB      | bank 2, as PCROP1ER |
 * | 4C  | WRP2AR   | from OB      | bank 2, as WRP1AR |
 * | 50  | WRP2BR   | from OB      | bank 2, as WRP1AR |
 * Factory values other than OPTR: protection off, as in Black Magic Debug's table of L47x
 * defaults; reserved bits read as 1 (unverified). Option bytes load at power-on and after
 * OBL_LAUNCH only; a system reset restores the values of the last load.
 */
#include "flash.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define R_ACR      0x00u
#define R_PDKEYR   0x04u
#define R_KEYR     0x08u
#define R_OPTKEYR  0x0Cu
#define R_SR       0x10u
#define R_CR       0x14u
#define R_ECCR     0x18u
#define R_OPTR     0x20u
#define R_PCROP1SR 0x24u
#define R_PCROP1ER 0x28u
#define R_WRP1AR   0x2Cu
#define R_WRP1BR   0x30u
#define R_PCROP2SR 0x44u
#define R_PCROP2ER 0x48u
#define R_WRP2AR   0x4Cu
#define R_WRP2BR   0x50u

#define ACR_RESET    0x00000600u
#define ACR_LATENCY  0x7u
#define ACR_PRFTEN   (1u << 8)
#define ACR_ICEN     (1u << 9)
#define ACR_DCEN     (1u << 10)
#define ACR_ICRST    (1u << 11)
#define ACR_DCRST    (1u << 12)
#define ACR_RUN_PD   (1u << 13)
#define ACR_SLEEP_PD (1u << 14)
#define ACR_WRITABLE 0x7F07u

#define KEY1    0x45670123u
#define KEY2    0xCDEF89ABu
#define OPTKEY1 0x08192A3Bu
#define OPTKEY2 0x4C5D6E7Fu
#define PDKEY1  0x04152637u
#define PDKEY2  0xFAFBFCFDu

#define SR_EOP     (1u << 0)
#define SR_OPERR   (1u << 1)
#define SR_PROGERR (1u << 3)
#define SR_WRPERR  (1u << 4)
#define SR_PGAERR  (1u << 5)
#define SR_SIZERR  (1u << 6)
#define SR_PGSERR  (1u << 7)
#define SR_MISERR  (1u << 8)
#define SR_FASTERR (1u << 9)
#define SR_RDERR   (1u << 14)
#define SR_OPTVERR (1u << 15)
#define SR_BSY     (1u << 16)
#define SR_W1C     0xC3FBu
/* An operation refuses to start while one of these is left over (PGSERR). */
#define SR_BLOCKING (SR_PROGERR | SR_SIZERR | SR_PGAERR | SR_MISERR | SR_FASTERR)

#define CR_RESET      0xC0000000u
#define CR_PG         (1u << 0)
#define CR_PER        (1u << 1)
#define CR_MER1       (1u << 2)
#define CR_PNB_SHIFT  3
#define CR_PNB        (0xFFu << CR_PNB_SHIFT)
#define CR_BKER       (1u << 11)
#define CR_MER2       (1u << 15)
#define CR_STRT       (1u << 16)
#define CR_OPTSTRT    (1u << 17)
#define CR_FSTPG      (1u << 18)
#define CR_EOPIE      (1u << 24)
#define CR_ERRIE      (1u << 25)
#define CR_RDERRIE    (1u << 26)
#define CR_OBL_LAUNCH (1u << 27)
#define CR_OPTLOCK    (1u << 30)
#define CR_LOCK       (1u << 31)
/* Bits software sets and clears; STRT, OPTSTRT and OBL_LAUNCH are triggers. */
#define CR_PLAIN (CR_PG | CR_PER | CR_MER1 | CR_PNB | CR_BKER | CR_MER2 | CR_FSTPG | CR_EOPIE | CR_ERRIE | CR_RDERRIE)

#define ECCR_ECCIE (1u << 24)
#define ECCR_ECCC  (1u << 30)
#define ECCR_ECCD  (1u << 31)

#define RDP_LEVEL0 0xAAu
#define RDP_LEVEL2 0xCCu

#define PAGES_PER_BANK 256u
#define ROW_BYTES      256u
#define ROW_DWORDS     32u

#define INFO1_BASE 0x1FFF7000u /* information block of bank 1 as the core maps it */
#define INFO_SIZE  0x1000u

/* The option registers in the order of their option-byte slots. */
enum opt_index { O_OPTR, O_PCROP1SR, O_PCROP1ER, O_WRP1AR, O_WRP1BR, O_PCROP2SR, O_PCROP2ER, O_WRP2AR, O_WRP2BR, O_COUNT };

static const struct opt_desc {
    const char *name;
    uint32_t reg;     /* register offset */
    uint32_t ob_addr; /* option-byte slot: value, then complement */
    uint32_t factory;
    uint32_t writable;
} opt_desc[O_COUNT] = {
    [O_OPTR] = {"OPTR", R_OPTR, FLASH_OB1_BASE + 0x00, FLASH_OPTR_FACTORY, 0x03BF77FFu},
    [O_PCROP1SR] = {"PCROP1SR", R_PCROP1SR, FLASH_OB1_BASE + 0x08, 0xFFFFFFFFu, 0x0000FFFFu},
    [O_PCROP1ER] = {"PCROP1ER", R_PCROP1ER, FLASH_OB1_BASE + 0x10, 0x7FFF0000u, 0x8000FFFFu},
    [O_WRP1AR] = {"WRP1AR", R_WRP1AR, FLASH_OB1_BASE + 0x18, 0xFF00FFFFu, 0x00FF00FFu},
    [O_WRP1BR] = {"WRP1BR", R_WRP1BR, FLASH_OB1_BASE + 0x20, 0xFF00FFFFu, 0x00FF00FFu},
    [O_PCROP2SR] = {"PCROP2SR", R_PCROP2SR, FLASH_OB2_BASE + 0x08, 0xFFFFFFFFu, 0x0000FFFFu},
    [O_PCROP2ER] = {"PCROP2ER", R_PCROP2ER, FLASH_OB2_BASE + 0x10, 0x7FFF0000u, 0x8000FFFFu},
    [O_WRP2AR] = {"WRP2AR", R_WRP2AR, FLASH_OB2_BASE + 0x18, 0xFF00FFFFu, 0x00FF00FFu},
    [O_WRP2BR] = {"WRP2BR", R_WRP2BR, FLASH_OB2_BASE + 0x20, 0xFF00FFFFu, 0x00FF00FFu},
};

enum key_state { KEY_WAIT_FIRST, KEY_WAIT_SECOND, KEY_REFUSED };

enum op_kind { OP_NONE, OP_PROGRAM, OP_FAST_ROW, OP_PAGE_ERASE, OP_MASS_ERASE, OP_OPTION_PROGRAM };

#define BANK1_BIT 1u
#define BANK2_BIT 2u

struct flash_op {
    enum op_kind kind;
    uint64_t start_ps;
    uint64_t end_ps;      /* for a fast row: the end if every double word arrives in time */
    unsigned banks;       /* BANK1_BIT | BANK2_BIT: which fetches stall */
    uint32_t addr;        /* first byte changed (program, row, page, first bank) */
    uint32_t len;         /* bytes changed */
    uint8_t data[ROW_BYTES]; /* bytes being programmed (program and fast row) */
    unsigned row_words;   /* fast row: 32-bit words received */
    uint32_t opt_new[O_COUNT]; /* option program: what goes into the option bytes */
    bool rdp_regression;  /* option program from level 1 to level 0: mass erase too */
    uint64_t cut_ps;      /* power cut planned inside this operation, or SIM_NEVER */
};

struct flash {
    sim_t *sim;
    uint32_t acr, sr, cr, eccr;
    uint32_t opt[O_COUNT];        /* option registers as software sees them */
    uint32_t opt_loaded[O_COUNT]; /* as loaded by the last option-byte load (in effect) */
    enum key_state key, optkey, pdkey;
    bool pd_unlocked;
    bool obl_pending; /* the reset being requested is an option-byte load */

    bool dw_pending; /* standard programming: low word received, waiting for high word */
    uint32_t dw_addr;
    uint32_t dw_low;

    bool bank_mass_erased[2]; /* fast programming needs the bank mass-erased first */

    struct flash_op op;
    unsigned op_count;

    uint64_t cut_at_ps;
    unsigned cut_at_op;
    uint64_t cut_seed;

    bool irq_level;
};

static void flash_advance(void *self, uint64_t now);
static void publish_busy(struct flash *f);

/* ---------- small helpers ---------- */

static struct flash *flash_of(sim_t *sim)
{
    return sim_model(sim, SIM_M_FLASH);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint8_t *mem(struct flash *f, uint32_t addr, size_t len)
{
    return sim_mem_ptr(f->sim, addr, len);
}

static uint32_t mem_word(struct flash *f, uint32_t addr)
{
    uint8_t *p = mem(f, addr, 4);
    return p ? rd32(p) : 0xFFFFFFFFu;
}

static double ms_of(uint64_t ps)
{
    return (double)ps / (double)SIM_PS_PER_MS;
}

static bool in_main(uint32_t addr)
{
    return addr >= SIM_FLASH_BASE && addr - SIM_FLASH_BASE < SIM_FLASH_SIZE;
}

static bool in_otp(uint32_t addr)
{
    return addr >= SIM_OTP_BASE && addr - SIM_OTP_BASE < SIM_OTP_SIZE;
}

/* Bank index (0, 1) of a physical main-array address. The core hands this model physical
 * addresses (FB_MODE bank swap already undone), so 0x08000000 is always bank 1 here. */
static unsigned bank_of(uint32_t addr)
{
    return (addr - SIM_FLASH_BASE) / SIM_FLASH_BANK_SIZE;
}

static uint32_t page_in_bank(uint32_t addr)
{
    return ((addr - SIM_FLASH_BASE) % SIM_FLASH_BANK_SIZE) / SIM_FLASH_PAGE_SIZE;
}

static const char *op_name(enum op_kind kind)
{
    switch (kind) {
    case OP_PROGRAM: return "double-word program";
    case OP_FAST_ROW: return "fast row program";
    case OP_PAGE_ERASE: return "page erase";
    case OP_MASS_ERASE: return "mass erase";
    case OP_OPTION_PROGRAM: return "option-byte program";
    default: return "none";
    }
}

static void update_irq(struct flash *f)
{
    bool level = ((f->sr & SR_EOP) && (f->cr & CR_EOPIE)) || ((f->sr & SR_OPERR) && (f->cr & CR_ERRIE)) ||
                 ((f->sr & SR_RDERR) && (f->cr & CR_RDERRIE)) || ((f->eccr & ECCR_ECCC) && (f->eccr & ECCR_ECCIE));
    if (level != f->irq_level) {
        f->irq_level = level;
        sim_irq_set(f->sim, FLASH_IRQ, level);
    }
}

static const char *sr_bit_name(uint32_t bit)
{
    switch (bit) {
    case SR_PROGERR: return "PROGERR";
    case SR_WRPERR: return "WRPERR";
    case SR_PGAERR: return "PGAERR";
    case SR_SIZERR: return "SIZERR";
    case SR_PGSERR: return "PGSERR";
    case SR_MISERR: return "MISERR";
    case SR_FASTERR: return "FASTERR";
    case SR_OPTVERR: return "OPTVERR";
    default: return "?";
    }
}

/* Raise error flags with the reason in words. OPERR follows only with ERRIE (sheet). */
static void raise_error(struct flash *f, uint32_t bits, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void raise_error(struct flash *f, uint32_t bits, const char *fmt, ...)
{
    char why[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);

    char names[80] = "";
    for (uint32_t bit = 1; bit && bit <= SR_OPTVERR; bit <<= 1) {
        if (bits & bit) {
            if (names[0])
                strcat(names, "+");
            strcat(names, sr_bit_name(bit));
        }
    }
    f->sr |= bits;
    if ((f->cr & CR_ERRIE) && (bits & ~SR_OPTVERR))
        f->sr |= SR_OPERR;
    /* sim_warn also copies the line into the trace file. */
    sim_warn(f->sim, "FLASH_SR %s: %s", names, why);
    update_irq(f);
}

/* ---------- write protection ---------- */

static bool wrp_covers(uint32_t reg, uint32_t page)
{
    uint32_t start = reg & 0xFFu;
    uint32_t end = (reg >> 16) & 0xFFu;
    return start <= end && page >= start && page <= end;
}

/* PCROP areas refuse program and erase too; their bounds count double words from the bank start. */
static bool pcrop_overlaps(uint32_t sr_reg, uint32_t er_reg, uint32_t bank_offset, uint32_t len)
{
    uint32_t start = (sr_reg & 0xFFFFu) * 8u;
    uint32_t end = (er_reg & 0xFFFFu) * 8u + 7u;
    if ((sr_reg & 0xFFFFu) > (er_reg & 0xFFFFu))
        return false;
    return bank_offset <= end && bank_offset + len - 1 >= start;
}

/* Why [addr, addr+len) in the main array may not be changed, or NULL. */
static const char *protection_of(struct flash *f, uint32_t addr, uint32_t len, char *buf, size_t bufsize)
{
    unsigned bank = bank_of(addr);
    uint32_t first_page = page_in_bank(addr);
    uint32_t last_page = page_in_bank(addr + len - 1);
    const uint32_t *wrp_a = &f->opt_loaded[bank ? O_WRP2AR : O_WRP1AR];
    const uint32_t *wrp_b = &f->opt_loaded[bank ? O_WRP2BR : O_WRP1BR];
    for (uint32_t page = first_page; page <= last_page; page++) {
        if (wrp_covers(*wrp_a, page) || wrp_covers(*wrp_b, page)) {
            snprintf(buf, bufsize, "page %u of bank %u is write-protected by %s=0x%08x", page, bank + 1,
                     wrp_covers(*wrp_a, page) ? (bank ? "WRP2AR" : "WRP1AR") : (bank ? "WRP2BR" : "WRP1BR"),
                     wrp_covers(*wrp_a, page) ? *wrp_a : *wrp_b);
            return buf;
        }
    }
    uint32_t pcrop_sr = f->opt_loaded[bank ? O_PCROP2SR : O_PCROP1SR];
    uint32_t pcrop_er = f->opt_loaded[bank ? O_PCROP2ER : O_PCROP1ER];
    if (pcrop_overlaps(pcrop_sr, pcrop_er, (addr - SIM_FLASH_BASE) % SIM_FLASH_BANK_SIZE, len)) {
        snprintf(buf, bufsize, "0x%08x..0x%08x overlaps the PCROP area of bank %u", addr, addr + len - 1, bank + 1);
        return buf;
    }
    return NULL;
}

/* ---------- the indeterminate result of an interrupted operation ---------- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Each bit that the operation would change has changed with probability `done`
 * (the elapsed fraction of the operation); the draw is deterministic from the seed,
 * the address and the operation number. */
static void mix_bits(struct flash *f, uint32_t addr, uint8_t *cell, const uint8_t *target, size_t len, double done)
{
    uint64_t state = f->cut_seed ^ ((uint64_t)addr << 20) ^ f->op_count;
    uint32_t threshold = (uint32_t)(done * 65536.0);
    uint64_t draws = 0;
    unsigned left = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t flips = 0;
        for (unsigned bit = 0; bit < 8; bit++) {
            if (left == 0) {
                draws = splitmix64(&state);
                left = 4;
            }
            if ((uint32_t)(draws & 0xFFFFu) < threshold)
                flips |= (uint8_t)(1u << bit);
            draws >>= 16;
            left--;
        }
        cell[i] = (uint8_t)((cell[i] & ~flips) | (target[i] & flips));
    }
}

/* ---------- option bytes ---------- */

static bool ob_area_blank(struct flash *f)
{
    bool all_ff = true, all_00 = true;
    for (unsigned i = 0; i < O_COUNT; i++) {
        for (uint32_t w = 0; w < 8; w += 4) {
            uint32_t v = mem_word(f, opt_desc[i].ob_addr + w);
            all_ff = all_ff && v == 0xFFFFFFFFu;
            all_00 = all_00 && v == 0;
        }
    }
    return all_ff || all_00;
}

static void ob_store(struct flash *f, const uint32_t values[O_COUNT])
{
    for (unsigned i = 0; i < O_COUNT; i++) {
        uint8_t *p = mem(f, opt_desc[i].ob_addr, 8);
        if (!p)
            continue;
        wr32(p, values[i]);
        wr32(p + 4, ~values[i]);
        sim_code_changed(f->sim, opt_desc[i].ob_addr, 8);
    }
}

static void ob_store_factory(struct flash *f)
{
    uint32_t values[O_COUNT];
    for (unsigned i = 0; i < O_COUNT; i++)
        values[i] = opt_desc[i].factory;
    ob_store(f, values);
}

/* The option-byte load of a power-on or OBL_LAUNCH. A slot whose complement does not
 * match sets OPTVERR and loads as all ones (RDP then reads level 1; a modelled choice). */
static void ob_load(struct flash *f)
{
    bool changed = false;
    for (unsigned i = 0; i < O_COUNT; i++) {
        uint32_t value = mem_word(f, opt_desc[i].ob_addr);
        uint32_t check = mem_word(f, opt_desc[i].ob_addr + 4);
        if (value != ~check) {
            raise_error(f, SR_OPTVERR, "option byte %s at 0x%08x: value 0x%08x and complement 0x%08x do not match",
                        opt_desc[i].name, opt_desc[i].ob_addr, value, check);
            value = 0xFFFFFFFFu;
        }
        uint32_t loaded = (value & opt_desc[i].writable) | (opt_desc[i].factory & ~opt_desc[i].writable);
        changed = changed || loaded != f->opt_loaded[i];
        f->opt_loaded[i] = loaded;
        f->opt[i] = loaded;
    }
    /* Every power-on reloads the same values; say so only when something changed. */
    if (changed || f->obl_pending)
        sim_trace(f->sim, SIM_TR_FLASH,
                  "option bytes loaded: OPTR=0x%08x WRP1A=0x%08x WRP1B=0x%08x WRP2A=0x%08x WRP2B=0x%08x",
                  f->opt[O_OPTR], f->opt[O_WRP1AR], f->opt[O_WRP1BR], f->opt[O_WRP2AR], f->opt[O_WRP2BR]);
}

static unsigned rdp_level_of(uint32_t optr)
{
    uint32_t rdp = optr & 0xFFu;
    return rdp == RDP_LEVEL0 ? 0 : rdp == RDP_LEVEL2 ? 2 : 1;
}

/* ---------- operations ---------- */

static bool op_running(const struct flash *f)
{
    return f->op.kind != OP_NONE;
}

static uint64_t dw_time_fast(void)
{
    return FLASH_T_FAST_ROW_PS / ROW_DWORDS;
}

static void start_op(struct flash *f, enum op_kind kind, uint64_t duration, unsigned banks, uint32_t addr, uint32_t len)
{
    uint64_t now = sim_now(f->sim);
    f->op.kind = kind;
    f->op.start_ps = now;
    f->op.end_ps = now + duration;
    f->op.banks = banks;
    f->op.addr = addr;
    f->op.len = len;
    f->op.cut_ps = SIM_NEVER;
    f->op.row_words = 0;
    f->op_count++;
    if (f->cut_at_op && f->cut_at_op == f->op_count)
        f->op.cut_ps = now + duration / 2;
    f->sr |= SR_BSY;
    sim_trace(f->sim, SIM_TR_FLASH, "start #%u %s at 0x%08x (%u bytes), modelled %.5f ms", f->op_count, op_name(kind),
              addr, len, ms_of(duration));
    publish_busy(f);
    sim_reschedule(f->sim);
}

/* Put the bytes of a finished (or interrupted, with done < 1) operation into memory. */
static void apply_op(struct flash *f, double done)
{
    struct flash_op *op = &f->op;
    switch (op->kind) {
    case OP_PROGRAM:
    case OP_FAST_ROW: {
        uint32_t len = op->kind == OP_PROGRAM ? 8u : (op->row_words / 2u) * 8u;
        uint8_t *cell = mem(f, op->addr, len ? len : 1);
        if (!cell || !len)
            break;
        uint8_t target[ROW_BYTES];
        /* Programming only clears bits. */
        for (uint32_t i = 0; i < len; i++)
            target[i] = cell[i] & op->data[i];
        if (done >= 1.0) {
            memcpy(cell, target, len);
        } else if (op->kind == OP_PROGRAM) {
            mix_bits(f, op->addr, cell, target, len, done);
        } else {
            /* A row programs its double words one after another. */
            double dw_progress = done * ROW_DWORDS;
            uint32_t complete = (uint32_t)dw_progress;
            if (complete * 8u > len)
                complete = len / 8u;
            memcpy(cell, target, complete * 8u);
            if (complete * 8u < len)
                mix_bits(f, op->addr + complete * 8u, cell + complete * 8u, target + complete * 8u, 8,
                         dw_progress - complete);
        }
        sim_code_changed(f->sim, op->addr, len);
        break;
    }
    case OP_PAGE_ERASE:
    case OP_MASS_ERASE: {
        uint8_t *cell = mem(f, op->addr, op->len);
        if (!cell)
            break;
        if (done >= 1.0) {
            memset(cell, 0xFF, op->len);
        } else {
            static uint8_t erased[SIM_FLASH_SIZE];
            memset(erased, 0xFF, op->len);
            mix_bits(f, op->addr, cell, erased, op->len, done);
        }
        sim_code_changed(f->sim, op->addr, op->len);
        if (op->kind == OP_MASS_ERASE && done >= 1.0) {
            for (unsigned b = 0; b < 2; b++)
                if (op->banks & (1u << b))
                    f->bank_mass_erased[b] = true;
        }
        break;
    }
    case OP_OPTION_PROGRAM: {
        if (done >= 1.0) {
            ob_store(f, op->opt_new);
            if (op->rdp_regression) {
                uint8_t *cell = mem(f, SIM_FLASH_BASE, SIM_FLASH_SIZE);
                if (cell) {
                    memset(cell, 0xFF, SIM_FLASH_SIZE);
                    sim_code_changed(f->sim, SIM_FLASH_BASE, SIM_FLASH_SIZE);
                }
                f->bank_mass_erased[0] = f->bank_mass_erased[1] = true;
            }
        } else {
            for (unsigned i = 0; i < O_COUNT; i++) {
                uint8_t *cell = mem(f, opt_desc[i].ob_addr, 8);
                if (!cell)
                    continue;
                uint8_t target[8];
                wr32(target, op->opt_new[i]);
                wr32(target + 4, ~op->opt_new[i]);
                mix_bits(f, opt_desc[i].ob_addr, cell, target, 8, done);
                sim_code_changed(f->sim, opt_desc[i].ob_addr, 8);
            }
        }
        break;
    }
    default:
        break;
    }
}

static void finish_op(struct flash *f, uint64_t at)
{
    apply_op(f, 1.0);
    sim_trace(f->sim, SIM_TR_FLASH, "end #%u %s at 0x%08x after %.5f ms", f->op_count, op_name(f->op.kind), f->op.addr,
              ms_of(at - f->op.start_ps));
    f->op.kind = OP_NONE;
    f->sr &= ~SR_BSY;
    f->cr &= ~(CR_STRT | CR_OPTSTRT);
    publish_busy(f);
    if (f->cr & CR_EOPIE)
        f->sr |= SR_EOP;
    update_irq(f);
}

/* An operation cut short by a power cut or a reset: its bytes are indeterminate. */
static void interrupt_op(struct flash *f, uint64_t at, const char *why)
{
    uint64_t span = f->op.end_ps - f->op.start_ps;
    double done = span ? (double)(at - f->op.start_ps) / (double)span : 1.0;
    if (done > 1.0)
        done = 1.0;
    if (done < 0.0)
        done = 0.0;
    sim_trace(f->sim, SIM_TR_FLASH, "%s during #%u %s at 0x%08x, %.0f%% done: contents indeterminate", why,
              f->op_count, op_name(f->op.kind), f->op.addr, done * 100.0);
    apply_op(f, done);
    f->op.kind = OP_NONE;
    f->sr &= ~SR_BSY;
    f->cr &= ~(CR_STRT | CR_OPTSTRT);
    publish_busy(f);
}

static uint64_t cut_time(const struct flash *f)
{
    uint64_t t = f->cut_at_ps ? f->cut_at_ps : SIM_NEVER;
    if (op_running(f) && f->op.cut_ps < t)
        t = f->op.cut_ps;
    return t;
}

/* A fast row whose next double word did not arrive in time: MISERR. */
static uint64_t fast_deadline(const struct flash *f)
{
    if (f->op.kind != OP_FAST_ROW || f->op.row_words >= ROW_DWORDS * 2)
        return SIM_NEVER;
    return f->op.start_ps + (f->op.row_words / 2u) * dw_time_fast();
}

static uint64_t flash_next_event(void *self)
{
    struct flash *f = self;
    uint64_t t = cut_time(f);
    if (op_running(f)) {
        uint64_t d = fast_deadline(f);
        if (d < t)
            t = d;
        if (f->op.end_ps < t)
            t = f->op.end_ps;
    }
    return t;
}

static void power_cut(struct flash *f, uint64_t at)
{
    f->cut_at_ps = 0;
    f->cut_at_op = 0;
    if (op_running(f) && at < f->op.end_ps)
        interrupt_op(f, at, "power cut");
    else
        sim_trace(f->sim, SIM_TR_FLASH, "power cut at %.6f ms (no flash operation running)", ms_of(at));
    sim_request_reset(f->sim, SIM_RESET_POWER_ON, SIM_CAUSE_POWER_ON);
}

static void flash_advance(void *self, uint64_t now)
{
    struct flash *f = self;
    for (;;) {
        uint64_t cut = cut_time(f);
        uint64_t deadline = op_running(f) ? fast_deadline(f) : SIM_NEVER;
        uint64_t end = op_running(f) ? f->op.end_ps : SIM_NEVER;
        /* At equal times the operation completes before the cut hits. */
        if (deadline <= now && deadline <= end && deadline <= cut) {
            raise_error(f, SR_MISERR, "fast programming: double word %u of the row at 0x%08x did not arrive in time",
                        f->op.row_words / 2u, f->op.addr);
            finish_op(f, deadline);
            f->sr &= ~SR_EOP; /* an aborted row is not a completed operation */
            update_irq(f);
            continue;
        }
        if (end <= now && end <= cut) {
            finish_op(f, end);
            continue;
        }
        if (cut <= now) {
            power_cut(f, cut);
            continue;
        }
        break;
    }
}

/* End of BSY as the bus sees it: a fast row that gets no more data ends at its next deadline. */
static uint64_t busy_end(const struct flash *f)
{
    uint64_t d = fast_deadline(f);
    return d < f->op.end_ps ? d : f->op.end_ps;
}

/* Tell the core which bank's fetches stall, and until when. */
static void publish_busy(struct flash *f)
{
    if (!op_running(f)) {
        sim_set_busy_region(f->sim, 0, 0, 0);
        return;
    }
    uint32_t start = (f->op.banks & BANK1_BIT) ? SIM_FLASH_BASE : SIM_FLASH_BASE + SIM_FLASH_BANK_SIZE;
    uint32_t end = (f->op.banks & BANK2_BIT) ? SIM_FLASH_BASE + SIM_FLASH_SIZE : SIM_FLASH_BASE + SIM_FLASH_BANK_SIZE;
    sim_set_busy_region(f->sim, start, end, busy_end(f));
}

/* Software touched the flash interface while BSY: the bus waits for the operation. */
static void wait_not_busy(struct flash *f)
{
    if (!op_running(f))
        return;
    uint64_t end = busy_end(f);
    sim_trace(f->sim, SIM_TR_FLASH, "bus stalled until %.6f ms: flash busy", ms_of(end));
    sim_stall_until(f->sim, end);
    uint64_t now = sim_now(f->sim);
    flash_advance(f, end > now ? end : now);
}

static bool blocking_errors(struct flash *f, const char *what)
{
    if (!(f->sr & SR_BLOCKING))
        return false;
    raise_error(f, SR_PGSERR, "%s started while SR=0x%08x still holds an error from a previous operation (clear SR first)",
                what, f->sr);
    return true;
}

/* ---------- programming ---------- */

static void start_program(struct flash *f, uint32_t addr, uint32_t low, uint32_t high)
{
    if (blocking_errors(f, "double-word program"))
        return;
    char why[160];
    if (in_main(addr) && protection_of(f, addr, 8, why, sizeof why)) {
        raise_error(f, SR_WRPERR, "double word at 0x%08x refused: %s", addr, why);
        return;
    }
    uint32_t old_low = mem_word(f, addr), old_high = mem_word(f, addr + 4);
    bool erased = old_low == 0xFFFFFFFFu && old_high == 0xFFFFFFFFu;
    bool zeros = low == 0 && high == 0;
    if (!erased && !zeros) {
        raise_error(f, SR_PROGERR, "double word at 0x%08x is not erased (0x%08x%08x); only all-zero may be written over it",
                    addr, old_high, old_low);
        return;
    }
    if (in_main(addr))
        f->bank_mass_erased[bank_of(addr)] = false;
    memset(f->op.data, 0xFF, sizeof f->op.data);
    wr32(f->op.data, low);
    wr32(f->op.data + 4, high);
    /* OTP belongs to bank 1's information block. */
    unsigned banks = in_main(addr) ? (bank_of(addr) ? BANK2_BIT : BANK1_BIT) : BANK1_BIT;
    start_op(f, OP_PROGRAM, FLASH_T_PROGRAM_DW_PS, banks, addr, 8);
}

static void standard_write(struct flash *f, uint32_t addr, uint32_t value, unsigned size)
{
    if (size != 4) {
        f->dw_pending = false;
        raise_error(f, SR_SIZERR, "%u-byte write to 0x%08x during programming; only 32-bit writes program flash", size,
                    addr);
        return;
    }
    if (!f->dw_pending) {
        if (addr % 8u) {
            raise_error(f, SR_PGAERR, "first word of a double word written at 0x%08x, which is not 8-byte aligned", addr);
            return;
        }
        f->dw_pending = true;
        f->dw_addr = addr;
        f->dw_low = value;
        return;
    }
    f->dw_pending = false;
    if (addr != f->dw_addr + 4) {
        raise_error(f, SR_PGAERR, "second word written at 0x%08x does not complete the double word begun at 0x%08x", addr,
                    f->dw_addr);
        return;
    }
    start_program(f, f->dw_addr, f->dw_low, value);
}

static void fast_abort(struct flash *f, uint32_t cause, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fast_abort(struct flash *f, uint32_t cause, const char *fmt, ...)
{
    char why[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    f->dw_pending = false;
    raise_error(f, cause | SR_FASTERR, "fast programming aborted: %s", why);
    if (f->op.kind == OP_FAST_ROW) {
        /* The double words already taken are programmed; the row ends here without EOP. */
        finish_op(f, sim_now(f->sim));
        f->sr &= ~SR_EOP;
        update_irq(f);
    }
}

/* Fast programming: one 256-byte row, 64 word writes in order; the row operation
 * starts with its first complete double word and each later double word must arrive
 * before the previous one is programmed (FLASH_T_FAST_ROW_PS / 32 each). */
static void fast_write(struct flash *f, uint32_t addr, uint32_t value, unsigned size)
{
    if (size != 4) {
        fast_abort(f, SR_SIZERR, "%u-byte write to 0x%08x, only 32-bit writes program flash", size, addr);
        return;
    }
    if (f->op.kind == OP_FAST_ROW) {
        uint32_t expect = f->op.addr + f->op.row_words * 4u;
        if (f->op.row_words >= ROW_DWORDS * 2 || addr != expect) {
            fast_abort(f, SR_PGAERR, "word written at 0x%08x, the row at 0x%08x expected 0x%08x next", addr, f->op.addr,
                       expect);
            return;
        }
        wr32(f->op.data + f->op.row_words * 4u, value);
        f->op.row_words++;
        publish_busy(f);
        sim_reschedule(f->sim);
        return;
    }
    if (f->dw_pending) {
        if (addr != f->dw_addr + 4) {
            fast_abort(f, SR_PGAERR, "word written at 0x%08x, the row at 0x%08x expected 0x%08x next", addr, f->dw_addr,
                       f->dw_addr + 4);
            return;
        }
        f->dw_pending = false;
        uint32_t row = f->dw_addr;
        start_op(f, OP_FAST_ROW, FLASH_T_FAST_ROW_PS, bank_of(row) ? BANK2_BIT : BANK1_BIT, row, ROW_BYTES);
        memset(f->op.data, 0xFF, sizeof f->op.data);
        wr32(f->op.data, f->dw_low);
        wr32(f->op.data + 4, value);
        f->op.row_words = 2;
        publish_busy(f);
        return;
    }
    if (!in_main(addr)) {
        fast_abort(f, SR_PGAERR, "0x%08x is outside the main flash", addr);
        return;
    }
    if (blocking_errors(f, "fast programming"))
        return;
    if (addr % ROW_BYTES) {
        fast_abort(f, SR_PGAERR, "a row starts 256-byte aligned; first word written at 0x%08x", addr);
        return;
    }
    char why[160];
    if (protection_of(f, addr, ROW_BYTES, why, sizeof why)) {
        raise_error(f, SR_WRPERR, "fast row at 0x%08x refused: %s", addr, why);
        return;
    }
    if (!f->bank_mass_erased[bank_of(addr)]) {
        raise_error(f, SR_PGSERR, "fast programming at 0x%08x: bank %u was not mass-erased first", addr,
                    bank_of(addr) + 1);
        return;
    }
    f->dw_pending = true;
    f->dw_addr = addr;
    f->dw_low = value;
}

void flash_mem_write(sim_t *sim, uint32_t addr, uint32_t value, unsigned size)
{
    struct flash *f = flash_of(sim);
    if (!f)
        return;
    if (addr < SIM_FLASH_SIZE)
        addr += SIM_FLASH_BASE; /* boot alias at 0 (MEMRMP = flash) */
    if (!in_main(addr) && !in_otp(addr)) {
        sim_warn(sim, "store of 0x%08x to 0x%08x ignored: only main flash and OTP are programmed by stores; option "
                 "bytes change through the FLASH option registers and OPTSTRT",
                 value, addr);
        return;
    }
    if (op_running(f) && !(f->op.kind == OP_FAST_ROW && (f->cr & CR_FSTPG)))
        wait_not_busy(f);

    if (f->cr & CR_FSTPG) {
        fast_write(f, addr, value, size);
        return;
    }
    if (!(f->cr & CR_PG)) {
        raise_error(f, SR_PGSERR, "store of 0x%08x to 0x%08x with CR.PG=0 and CR.FSTPG=0%s", value, addr,
                    (f->cr & CR_LOCK) ? " (CR is locked: unlock with KEYR, then set PG)" : " (set PG first)");
        return;
    }
    standard_write(f, addr, value, size);
}

/* ---------- erase and option programming ---------- */

static void start_erase(struct flash *f)
{
    uint32_t cr = f->cr;
    bool mass = cr & (CR_MER1 | CR_MER2);
    if (!(cr & CR_PER) && !mass) {
        sim_warn(f->sim, "FLASH_CR.STRT set with PER, MER1 and MER2 all clear: nothing erased (RM0351 forbids this)");
        f->cr &= ~CR_STRT;
        return;
    }
    if ((cr & CR_PER) && mass)
        sim_warn(f->sim, "FLASH_CR.STRT with both PER and MER set: modelled as a mass erase");
    if (cr & (CR_PG | CR_FSTPG))
        sim_warn(f->sim, "FLASH_CR.STRT with PG/FSTPG still set: erase started anyway");
    if (blocking_errors(f, mass ? "mass erase" : "page erase")) {
        f->cr &= ~CR_STRT;
        return;
    }
    char why[160];
    if (mass) {
        unsigned banks = ((cr & CR_MER1) ? BANK1_BIT : 0) | ((cr & CR_MER2) ? BANK2_BIT : 0);
        for (unsigned b = 0; b < 2; b++) {
            uint32_t base = SIM_FLASH_BASE + b * SIM_FLASH_BANK_SIZE;
            if ((banks & (1u << b)) && protection_of(f, base, SIM_FLASH_BANK_SIZE, why, sizeof why)) {
                raise_error(f, SR_WRPERR, "mass erase of bank %u refused: %s", b + 1, why);
                f->cr &= ~CR_STRT;
                return;
            }
        }
        uint32_t addr = (banks & BANK1_BIT) ? SIM_FLASH_BASE : SIM_FLASH_BASE + SIM_FLASH_BANK_SIZE;
        uint32_t len = banks == (BANK1_BIT | BANK2_BIT) ? SIM_FLASH_SIZE : SIM_FLASH_BANK_SIZE;
        start_op(f, OP_MASS_ERASE, FLASH_T_MASS_ERASE_PS, banks, addr, len);
        return;
    }
    uint32_t page = (cr & CR_PNB) >> CR_PNB_SHIFT;
    unsigned bank = (cr & CR_BKER) ? 1 : 0;
    uint32_t addr = SIM_FLASH_BASE + bank * SIM_FLASH_BANK_SIZE + page * SIM_FLASH_PAGE_SIZE;
    if (protection_of(f, addr, SIM_FLASH_PAGE_SIZE, why, sizeof why)) {
        raise_error(f, SR_WRPERR, "erase of page %u in bank %u refused: %s", page, bank + 1, why);
        f->cr &= ~CR_STRT;
        return;
    }
    start_op(f, OP_PAGE_ERASE, FLASH_T_PAGE_ERASE_PS, bank ? BANK2_BIT : BANK1_BIT, addr, SIM_FLASH_PAGE_SIZE);
}

static void start_option_program(struct flash *f)
{
    unsigned level_now = rdp_level_of(f->opt_loaded[O_OPTR]);
    if (level_now == 2) {
        sim_warn(f->sim, "FLASH_CR.OPTSTRT refused: read protection level 2 freezes the option bytes");
        f->cr &= ~CR_OPTSTRT;
        return;
    }
    if (blocking_errors(f, "option-byte program")) {
        f->cr &= ~CR_OPTSTRT;
        return;
    }
    memcpy(f->op.opt_new, f->opt, sizeof f->op.opt_new);
    f->op.rdp_regression = level_now == 1 && rdp_level_of(f->opt[O_OPTR]) == 0;
    uint64_t duration = FLASH_T_OPTION_PROGRAM_PS + (f->op.rdp_regression ? FLASH_T_MASS_ERASE_PS : 0);
    if (f->op.rdp_regression)
        sim_trace(f->sim, SIM_TR_FLASH, "RDP level 1 -> 0: both banks are mass-erased with the option bytes");
    start_op(f, OP_OPTION_PROGRAM, duration, BANK1_BIT | BANK2_BIT, FLASH_OB1_BASE, O_COUNT * 8u);
}

/* ---------- registers ---------- */

static void write_key(struct flash *f, enum key_state *state, const char *reg, uint32_t first, uint32_t second,
                      uint32_t value, unsigned size, uint32_t *lock_reg, uint32_t lock_bit)
{
    if (*state == KEY_REFUSED) {
        sim_warn(f->sim, "FLASH_%s write ignored: a wrong key earlier locked it until the next reset", reg);
        return;
    }
    if (!(*lock_reg & lock_bit)) {
        sim_warn(f->sim, "FLASH_%s written while already unlocked: ignored", reg);
        return;
    }
    uint32_t expect = *state == KEY_WAIT_FIRST ? first : second;
    if (size != 4 || value != expect) {
        *state = KEY_REFUSED;
        sim_warn(f->sim, "FLASH_%s: wrong key 0x%08x (%u bytes), expected 0x%08x: locked until the next reset "
                 "(sibling parts also raise a bus error; unverified for the L476, not modelled)",
                 reg, value, size, expect);
        sim_trace(f->sim, SIM_TR_FLASH, "%s wrong key 0x%08x: locked until reset", reg, value);
        return;
    }
    if (*state == KEY_WAIT_FIRST) {
        *state = KEY_WAIT_SECOND;
        return;
    }
    *state = KEY_WAIT_FIRST;
    *lock_reg &= ~lock_bit;
    sim_trace(f->sim, SIM_TR_FLASH, "%s sequence accepted: CR.%s cleared", reg,
              lock_bit == CR_LOCK ? "LOCK" : "OPTLOCK");
}

static void write_acr(struct flash *f, uint32_t value)
{
    uint32_t next = (f->acr & ~ACR_WRITABLE) | (value & ACR_WRITABLE);
    if ((next & ACR_LATENCY) > 4)
        sim_warn(f->sim, "FLASH_ACR.LATENCY=%u is reserved on the L476 (0..4 wait states)",
                 next & ACR_LATENCY);
    if ((next & ACR_ICRST) && !(f->acr & ACR_ICRST) && (f->acr & ACR_ICEN) && (next & ACR_ICEN)) {
        sim_warn(f->sim, "FLASH_ACR.ICRST ignored: the instruction cache must be disabled (ICEN=0) first");
        next &= ~ACR_ICRST;
    }
    if ((next & ACR_DCRST) && !(f->acr & ACR_DCRST) && (f->acr & ACR_DCEN) && (next & ACR_DCEN)) {
        sim_warn(f->sim, "FLASH_ACR.DCRST ignored: the data cache must be disabled (DCEN=0) first");
        next &= ~ACR_DCRST;
    }
    if ((next & ACR_RUN_PD) && !(f->acr & ACR_RUN_PD)) {
        if (!f->pd_unlocked) {
            sim_warn(f->sim, "FLASH_ACR.RUN_PD ignored: write the PDKEYR sequence first");
            next &= ~ACR_RUN_PD;
        } else {
            sim_warn(f->sim, "FLASH_ACR.RUN_PD set: flash power-down in Run mode is not modelled");
            f->pd_unlocked = false;
        }
    }
    if ((next ^ f->acr) & (ACR_LATENCY | ACR_PRFTEN | ACR_ICEN | ACR_DCEN))
        sim_trace(f->sim, SIM_TR_FLASH, "ACR: latency %u WS, prefetch %s, I-cache %s, D-cache %s", next & ACR_LATENCY,
                  (next & ACR_PRFTEN) ? "on" : "off", (next & ACR_ICEN) ? "on" : "off", (next & ACR_DCEN) ? "on" : "off");
    f->acr = next;
}

static void write_cr(struct flash *f, uint32_t value)
{
    if (op_running(f))
        wait_not_busy(f);
    if (f->cr & CR_LOCK) {
        if ((value & ~(CR_LOCK | CR_OPTLOCK)) != (f->cr & CR_PLAIN))
            sim_warn(f->sim, "FLASH_CR write 0x%08x ignored: CR.LOCK=1 (unlock with the KEYR sequence first)",
                     value);
        return;
    }
    f->cr = (f->cr & ~CR_PLAIN) | (value & CR_PLAIN);
    if (!(f->cr & CR_PG) && !(f->cr & CR_FSTPG))
        f->dw_pending = false;

    if (value & CR_OPTSTRT) {
        if (f->cr & CR_OPTLOCK) {
            sim_warn(f->sim, "FLASH_CR.OPTSTRT ignored: CR.OPTLOCK=1 (unlock with the OPTKEYR sequence first)");
        } else {
            f->cr |= CR_OPTSTRT;
            start_option_program(f);
        }
    } else if (value & CR_STRT) {
        f->cr |= CR_STRT;
        start_erase(f);
    }
    if (value & CR_OBL_LAUNCH) {
        if (f->cr & CR_OPTLOCK) {
            sim_warn(f->sim, "FLASH_CR.OBL_LAUNCH ignored: CR.OPTLOCK=1");
        } else {
            if (op_running(f))
                wait_not_busy(f);
            f->cr |= CR_OBL_LAUNCH;
            f->obl_pending = true;
            sim_trace(f->sim, SIM_TR_FLASH, "OBL_LAUNCH: option bytes reload, system reset requested");
            sim_request_reset(f->sim, SIM_RESET_SYSTEM, SIM_CAUSE_OPTION_LOAD);
        }
    }
    /* Setting LOCK also sets OPTLOCK (unverified, sheet). */
    if (value & CR_LOCK) {
        f->cr |= CR_LOCK | CR_OPTLOCK;
        sim_trace(f->sim, SIM_TR_FLASH, "CR locked");
    } else if (value & CR_OPTLOCK) {
        f->cr |= CR_OPTLOCK;
    }
    update_irq(f);
}

static int opt_index_of(uint32_t offset)
{
    for (unsigned i = 0; i < O_COUNT; i++)
        if (opt_desc[i].reg == offset)
            return (int)i;
    return -1;
}

static uint32_t reg_read32(struct flash *f, uint32_t offset, bool *ok)
{
    *ok = true;
    switch (offset) {
    case R_ACR: return f->acr;
    case R_PDKEYR:
    case R_KEYR:
    case R_OPTKEYR: return 0; /* write-only, read as zero */
    case R_SR: return f->sr;
    case R_CR: return f->cr;
    case R_ECCR: return f->eccr;
    default: break;
    }
    int i = opt_index_of(offset);
    if (i >= 0)
        return f->opt[i];
    *ok = false;
    return 0;
}

static uint32_t flash_read(void *self, uint32_t offset, unsigned size)
{
    struct flash *f = self;
    bool ok;
    uint32_t aligned = offset & ~3u;
    uint32_t value = reg_read32(f, aligned, &ok);
    if (!ok)
        return sim_bad_access(f->sim, "FLASH", FLASH_REG_BASE + offset, false, 0);
    value >>= 8u * (offset & 3u);
    if (size < 4)
        value &= (1u << (8u * size)) - 1u;
    return value;
}

static void flash_write(void *self, uint32_t offset, uint32_t value, unsigned size)
{
    struct flash *f = self;
    uint32_t aligned = offset & ~3u;
    bool ok;
    uint32_t current = reg_read32(f, aligned, &ok);
    if (!ok) {
        sim_bad_access(f->sim, "FLASH", FLASH_REG_BASE + offset, true, value);
        return;
    }
    uint32_t merged = value;
    if (size < 4) {
        unsigned shift = 8u * (offset & 3u);
        uint32_t mask = ((1u << (8u * size)) - 1u) << shift;
        /* W1C and trigger bits outside the written bytes must not act. */
        uint32_t keep = aligned == R_SR ? 0 : aligned == R_CR ? (current & ~(CR_STRT | CR_OPTSTRT | CR_OBL_LAUNCH)) : current;
        merged = (keep & ~mask) | ((value << shift) & mask);
    }
    switch (aligned) {
    case R_ACR:
        write_acr(f, merged);
        return;
    case R_PDKEYR:
        if (size == 4 && merged == (f->pdkey == KEY_WAIT_FIRST ? PDKEY1 : PDKEY2)) {
            if (f->pdkey == KEY_WAIT_SECOND)
                f->pd_unlocked = true;
            f->pdkey = f->pdkey == KEY_WAIT_FIRST ? KEY_WAIT_SECOND : KEY_WAIT_FIRST;
        } else {
            f->pdkey = KEY_WAIT_FIRST;
            sim_warn(f->sim, "FLASH_PDKEYR: wrong key 0x%08x", merged);
        }
        return;
    case R_KEYR:
        write_key(f, &f->key, "KEYR", KEY1, KEY2, value, size, &f->cr, CR_LOCK);
        return;
    case R_OPTKEYR:
        if (f->cr & CR_LOCK) {
            sim_warn(f->sim, "FLASH_OPTKEYR written while CR.LOCK=1: ignored (unlock KEYR first)");
            return;
        }
        write_key(f, &f->optkey, "OPTKEYR", OPTKEY1, OPTKEY2, value, size, &f->cr, CR_OPTLOCK);
        return;
    case R_SR: {
        uint32_t cleared = merged & SR_W1C & f->sr;
        f->sr &= ~cleared;
        update_irq(f);
        return;
    }
    case R_CR:
        write_cr(f, merged);
        return;
    case R_ECCR:
        f->eccr = (f->eccr & ~(merged & (ECCR_ECCC | ECCR_ECCD)) & ~ECCR_ECCIE) | (merged & ECCR_ECCIE);
        update_irq(f);
        return;
    default: {
        int i = opt_index_of(aligned);
        if (f->cr & (CR_LOCK | CR_OPTLOCK)) {
            sim_warn(f->sim, "FLASH_%s write 0x%08x ignored: CR.%s=1", opt_desc[i].name, merged,
                     (f->cr & CR_LOCK) ? "LOCK" : "OPTLOCK");
            return;
        }
        f->opt[i] = (merged & opt_desc[i].writable) | (f->opt[i] & ~opt_desc[i].writable);
        return;
    }
    }
}

/* ---------- reset, life cycle ---------- */

static void flash_reset(void *self, enum sim_reset_kind kind)
{
    struct flash *f = self;
    if (op_running(f)) {
        sim_warn(f->sim, "reset during a flash %s at 0x%08x: its contents are left indeterminate", op_name(f->op.kind),
                 f->op.addr);
        interrupt_op(f, sim_now(f->sim), "reset");
    }
    f->acr = ACR_RESET;
    f->cr = CR_RESET;
    f->sr = 0;
    f->eccr = 0;
    f->key = f->optkey = f->pdkey = KEY_WAIT_FIRST;
    f->pd_unlocked = false;
    f->dw_pending = false;
    f->bank_mass_erased[0] = f->bank_mass_erased[1] = false;
    if (kind == SIM_RESET_POWER_ON || f->obl_pending) {
        if (kind == SIM_RESET_POWER_ON && ob_area_blank(f))
            ob_store_factory(f);
        ob_load(f);
    } else {
        /* A system reset does not reload the option bytes (RM0351: only power-on and OBL_LAUNCH do). */
        memcpy(f->opt, f->opt_loaded, sizeof f->opt);
    }
    f->obl_pending = false;
    update_irq(f);
}

static void flash_destroy(void *self)
{
    free(self);
}

static const sim_periph_ops flash_ops = {
    .name = "FLASH",
    .read = flash_read,
    .write = flash_write,
    .reset = flash_reset,
    .next_event = flash_next_event,
    .advance = flash_advance,
    .destroy = flash_destroy,
};

static void factory_contents(struct flash *f)
{
    uint8_t *array = mem(f, SIM_FLASH_BASE, SIM_FLASH_SIZE);
    if (array) {
        memset(array, 0xFF, SIM_FLASH_SIZE);
        sim_code_changed(f->sim, SIM_FLASH_BASE, SIM_FLASH_SIZE);
    }
    uint8_t *otp = mem(f, SIM_OTP_BASE, SIM_OTP_SIZE);
    if (otp)
        memset(otp, 0xFF, SIM_OTP_SIZE);
    ob_store_factory(f);
}

void flash_attach(sim_t *sim)
{
    struct flash *f = calloc(1, sizeof *f);
    if (!f)
        abort();
    f->sim = sim;
    f->cut_seed = 0x4C34464C41534821ULL;
    f->op.kind = OP_NONE;
    sim_add_periph(sim, FLASH_REG_BASE, FLASH_REG_SIZE, &flash_ops, f);
    sim_set_model(sim, SIM_M_FLASH, f);
    factory_contents(f);
    flash_reset(f, SIM_RESET_POWER_ON);
}

/* ---------- queries ---------- */

bool flash_bank_busy_until(sim_t *sim, uint32_t addr, uint64_t *until_ps)
{
    struct flash *f = flash_of(sim);
    if (!f || !op_running(f))
        return false;
    if (addr < SIM_FLASH_SIZE)
        addr += SIM_FLASH_BASE;
    unsigned bit;
    if (in_main(addr))
        bit = bank_of(addr) ? BANK2_BIT : BANK1_BIT;
    else if (addr >= INFO1_BASE && addr - INFO1_BASE < INFO_SIZE)
        bit = BANK1_BIT;
    else
        return false;
    if (!(f->op.banks & bit))
        return false;
    if (until_ps)
        *until_ps = busy_end(f);
    return true;
}

uint32_t flash_latency(sim_t *sim)
{
    struct flash *f = flash_of(sim);
    return f ? (f->acr & ACR_LATENCY) : 0;
}

bool flash_prefetch_on(sim_t *sim)
{
    struct flash *f = flash_of(sim);
    return f && (f->acr & ACR_PRFTEN);
}

bool flash_icache_on(sim_t *sim)
{
    struct flash *f = flash_of(sim);
    return f && (f->acr & ACR_ICEN);
}

uint32_t flash_optr(sim_t *sim)
{
    struct flash *f = flash_of(sim);
    return f ? f->opt_loaded[O_OPTR] : FLASH_OPTR_FACTORY;
}

unsigned flash_rdp_level(sim_t *sim)
{
    return rdp_level_of(flash_optr(sim));
}

void flash_power_cut_arm(sim_t *sim, uint64_t at_ps, unsigned at_nth_op)
{
    struct flash *f = flash_of(sim);
    if (!f)
        return;
    f->cut_at_ps = at_ps;
    f->cut_at_op = at_nth_op;
    if (op_running(f) && at_nth_op == f->op_count)
        f->op.cut_ps = sim_now(sim) > f->op.start_ps + (f->op.end_ps - f->op.start_ps) / 2
                           ? sim_now(sim)
                           : f->op.start_ps + (f->op.end_ps - f->op.start_ps) / 2;
    if (at_ps)
        sim_trace(sim, SIM_TR_FLASH, "power cut armed at %.6f ms", ms_of(at_ps));
    if (at_nth_op)
        sim_trace(sim, SIM_TR_FLASH, "power cut armed halfway through operation #%u", at_nth_op);
    sim_reschedule(sim);
}

void flash_power_cut_seed(sim_t *sim, uint64_t seed)
{
    struct flash *f = flash_of(sim);
    if (f)
        f->cut_seed = seed;
}

unsigned flash_op_count(sim_t *sim)
{
    struct flash *f = flash_of(sim);
    return f ? f->op_count : 0;
}

/* ---------- persistence ---------- */

#define IMAGE_MAGIC   "L4SIMFLS"
#define IMAGE_VERSION 1u
#define IMAGE_HEADER  40u

static const struct image_part {
    uint32_t addr;
    uint32_t size;
} image_parts[] = {
    {SIM_FLASH_BASE, SIM_FLASH_SIZE},
    {SIM_OTP_BASE, SIM_OTP_SIZE},
    {FLASH_OB1_BASE, FLASH_OB_AREA_SIZE},
    {FLASH_OB2_BASE, FLASH_OB_AREA_SIZE},
};
#define IMAGE_PARTS (sizeof image_parts / sizeof image_parts[0])

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t len)
{
    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static size_t image_payload_size(void)
{
    size_t n = 0;
    for (size_t i = 0; i < IMAGE_PARTS; i++)
        n += image_parts[i].size;
    return n;
}

int flash_image_save(sim_t *sim, const char *path)
{
    struct flash *f = flash_of(sim);
    if (!f)
        return -ENODEV;
    size_t payload = image_payload_size();
    uint8_t *buf = malloc(IMAGE_HEADER + payload);
    if (!buf)
        return -ENOMEM;
    memset(buf, 0, IMAGE_HEADER);
    memcpy(buf, IMAGE_MAGIC, 8);
    wr32(buf + 8, IMAGE_VERSION);
    wr32(buf + 12, IMAGE_HEADER);
    for (size_t i = 0; i < IMAGE_PARTS; i++)
        wr32(buf + 16 + 4 * i, image_parts[i].size);
    size_t at = IMAGE_HEADER;
    for (size_t i = 0; i < IMAGE_PARTS; i++) {
        const uint8_t *src = mem(f, image_parts[i].addr, image_parts[i].size);
        if (src)
            memcpy(buf + at, src, image_parts[i].size);
        else
            memset(buf + at, 0xFF, image_parts[i].size);
        at += image_parts[i].size;
    }
    wr32(buf + 32, crc32_update(0, buf + IMAGE_HEADER, payload));

    size_t tmplen = strlen(path) + 8;
    char *tmp = malloc(tmplen);
    if (!tmp) {
        free(buf);
        return -ENOMEM;
    }
    snprintf(tmp, tmplen, "%s.tmp", path);
    int rc = 0;
    FILE *out = fopen(tmp, "wb");
    if (!out) {
        rc = -errno;
    } else {
        if (fwrite(buf, 1, IMAGE_HEADER + payload, out) != IMAGE_HEADER + payload)
            rc = -EIO;
        if (fclose(out) != 0 && rc == 0)
            rc = -errno;
        if (rc == 0 && rename(tmp, path) != 0)
            rc = -errno;
        if (rc != 0)
            remove(tmp);
    }
    if (rc != 0)
        sim_warn(sim, "flash image %s not saved: %s", path, strerror(-rc));
    else
        sim_trace(sim, SIM_TR_FLASH, "flash image saved to %s", path);
    free(tmp);
    free(buf);
    return rc;
}

static void reload_after_load(struct flash *f)
{
    f->op.kind = OP_NONE;
    f->sr &= ~SR_BSY;
    publish_busy(f);
    sim_code_changed(f->sim, SIM_FLASH_BASE, SIM_FLASH_SIZE);
    sim_code_changed(f->sim, INFO1_BASE, INFO_SIZE);
    sim_code_changed(f->sim, FLASH_OB2_BASE, FLASH_OB_AREA_SIZE);
    f->sr &= ~SR_OPTVERR;
    if (ob_area_blank(f))
        ob_store_factory(f);
    ob_load(f);
    memcpy(f->opt, f->opt_loaded, sizeof f->opt);
    update_irq(f);
}

int flash_image_load(sim_t *sim, const char *path)
{
    struct flash *f = flash_of(sim);
    if (!f)
        return -ENODEV;
    FILE *in = fopen(path, "rb");
    if (!in) {
        int err = errno;
        if (err == ENOENT) {
            sim_trace(sim, SIM_TR_FLASH, "flash image %s does not exist: factory state", path);
            factory_contents(f);
            reload_after_load(f);
            return 0;
        }
        sim_warn(sim, "flash image %s cannot be opened: %s", path, strerror(err));
        return -err;
    }
    size_t payload = image_payload_size();
    size_t want = IMAGE_HEADER + payload;
    uint8_t *buf = malloc(want + 1);
    if (!buf) {
        fclose(in);
        return -ENOMEM;
    }
    size_t got = fread(buf, 1, want + 1, in);
    bool read_error = ferror(in);
    fclose(in);
    const char *bad = NULL;
    char detail[120];
    if (read_error) {
        bad = "read error";
    } else if (got < IMAGE_HEADER || memcmp(buf, IMAGE_MAGIC, 8) != 0) {
        bad = "not an l4sim flash image (bad magic or shorter than the header)";
    } else if (rd32(buf + 8) != IMAGE_VERSION || rd32(buf + 12) != IMAGE_HEADER) {
        snprintf(detail, sizeof detail, "version %u / header %u bytes, this l4sim reads version %u / %u bytes",
                 rd32(buf + 8), rd32(buf + 12), IMAGE_VERSION, IMAGE_HEADER);
        bad = detail;
    } else {
        for (size_t i = 0; i < IMAGE_PARTS && !bad; i++) {
            if (rd32(buf + 16 + 4 * i) != image_parts[i].size) {
                snprintf(detail, sizeof detail, "section %zu holds %u bytes, expected %u", i, rd32(buf + 16 + 4 * i),
                         image_parts[i].size);
                bad = detail;
            }
        }
        if (!bad && got != want) {
            snprintf(detail, sizeof detail, "%zu bytes, expected %zu (truncated or trailing data)", got, want);
            bad = detail;
        }
        if (!bad && crc32_update(0, buf + IMAGE_HEADER, payload) != rd32(buf + 32))
            bad = "CRC-32 of the contents does not match the header (corrupt file)";
    }
    if (bad) {
        sim_warn(sim, "flash image %s rejected: %s", path, bad);
        free(buf);
        return read_error ? -EIO : -EINVAL;
    }
    size_t at = IMAGE_HEADER;
    for (size_t i = 0; i < IMAGE_PARTS; i++) {
        uint8_t *dst = mem(f, image_parts[i].addr, image_parts[i].size);
        if (dst)
            memcpy(dst, buf + at, image_parts[i].size);
        at += image_parts[i].size;
    }
    free(buf);
    sim_trace(sim, SIM_TR_FLASH, "flash image %s loaded", path);
    reload_after_load(f);
    return 0;
}
