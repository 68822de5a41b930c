/* l4sim core: the engine, the memory map, the bus, virtual time and the run loop.
 *
 * The run loop follows what the Unicorn fact sheet measured (shared/reference/
 * unicorn-cortex-m.md §7, §10): one block hook counts guest instructions exactly
 * (Thumb widths decoded once per block and cached) and stops the engine at the next
 * deadline or when something asked for attention; no count= slicing, no per-instruction
 * hook; MMIO callbacks never stop the engine themselves, they set a flag.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "board.h"
#include "sim_internal.h"

#if __has_include("rcc.h")
#include "rcc.h"
#define L4SIM_HAVE_RCC 1
#endif
#if __has_include("flash.h")
#include "flash.h"
#define L4SIM_HAVE_FLASH 1
#endif
#include "otgfs.h"

/* Longest stretch of virtual time the CPU runs without the loop looking at models,
 * pacing and masked interrupts. */
#define MAX_SLICE_PS (1000 * SIM_PS_PER_US)
/* While an interrupt is pending but masked (PRIMASK/BASEPRI), re-check this often:
 * CPSIE and MSR make no callback. */
#define MASKED_POLL_CYCLES 1024
/* Cycles an exception entry costs on a Cortex-M4 (12, no wait states). */
#define EXCEPTION_ENTRY_CYCLES 12

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------ reporting */

bool sim_tracing(const sim_t *sim, uint32_t category)
{
    return (sim->cfg.trace_mask & category) != 0;
}

static void vtrace(sim_t *sim, const char *prefix, const char *fmt, va_list ap)
{
    FILE *f = sim->trace ? sim->trace : stderr;
    fprintf(f, "[%12.6f ms] %s", (double)sim->now / (double)SIM_PS_PER_MS, prefix);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
}

void sim_trace(sim_t *sim, uint32_t category, const char *fmt, ...)
{
    if (!sim_tracing(sim, category))
        return;
    va_list ap;
    va_start(ap, fmt);
    vtrace(sim, "", fmt, ap);
    va_end(ap);
}

void sim_event(sim_t *sim, const char *fmt, ...)
{
    if (!sim->timeline)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(sim->timeline, "%.3f ", (double)sim->now / (double)SIM_PS_PER_MS);
    vfprintf(sim->timeline, fmt, ap);
    fputc('\n', sim->timeline);
    fflush(sim->timeline);
    va_end(ap);
}

void sim_warn(sim_t *sim, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "l4sim: warning [%.3f ms, PC 0x%08x]: ", (double)sim->now / (double)SIM_PS_PER_MS,
            sim_guest_pc(sim));
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (sim->trace && sim->trace != stderr) {
        va_start(ap, fmt);
        vtrace(sim, "warning: ", fmt, ap);
        va_end(ap);
    }
}

void sim_set_stop(sim_t *sim, enum sim_stop reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sim->stop_message, sizeof sim->stop_message, fmt, ap);
    va_end(ap);
    sim->stop_reason = reason;
    if (reason == SIM_STOP_FAULT || reason == SIM_STOP_ERROR)
        sim->fault_stop = true;
    if (reason == SIM_STOP_BREAK)
        sim->break_stop = true;
    sim_attention(sim);
}

const char *sim_stop_message(const sim_t *sim)
{
    return sim->stop_message;
}

uint32_t sim_guest_pc(const sim_t *sim)
{
    return sim->hook_pc ? sim->hook_pc : sim->pc;
}

uint32_t sim_bad_access(sim_t *sim, const char *model, uint32_t addr, bool write, uint32_t value)
{
    sim->bad_accesses++;
    if (write)
        sim_warn(sim, "%s: write of 0x%08x to reserved or unimplemented register 0x%08x", model, value, addr);
    else
        sim_warn(sim, "%s: read of reserved or unimplemented register 0x%08x (reads 0)", model, addr);
    if (sim->cfg.strict)
        sim_set_stop(sim, SIM_STOP_FAULT, "strict: %s register 0x%08x is reserved or not implemented", model,
                     addr);
    return 0;
}

/* ------------------------------------------------------------------ console */

void sim_console_putc(sim_t *sim, const char *source, uint8_t byte)
{
    (void)source;
    if (sim->console_len + 2 > sim->console_cap) {
        size_t cap = sim->console_cap ? sim->console_cap * 2 : 4096;
        char *n = realloc(sim->console, cap);
        if (!n)
            return;
        sim->console = n;
        sim->console_cap = cap;
    }
    sim->console[sim->console_len++] = (char)byte;
    sim->console[sim->console_len] = 0;
    if (sim->console_out) {
        fputc(byte, sim->console_out);
        if (byte == '\n')
            fflush(sim->console_out);
    }
    if (byte == '\n') {
        size_t start = sim->console_line_start;
        size_t end = sim->console_len - 1;
        if (end > start && sim->console[end - 1] == '\r')
            end--;
        sim_event(sim, "console %.*s", (int)(end - start), sim->console + start);
        sim->console_line_start = sim->console_len;
    }
    if (sim->console_wait && !sim->console_hit) {
        size_t wl = strlen(sim->console_wait);
        if (sim->console_len >= wl && memcmp(sim->console + sim->console_len - wl, sim->console_wait, wl) == 0) {
            sim->console_hit = true;
            sim_attention(sim);
        }
    }
}

const char *sim_console_text(const sim_t *sim)
{
    return sim->console ? sim->console : "";
}

void sim_stop_on_console(sim_t *sim, const char *text)
{
    free(sim->console_wait);
    sim->console_wait = text ? strdup(text) : NULL;
    sim->console_hit = false;
    /* text already printed counts too */
    if (text && sim->console && strstr(sim->console, text))
        sim->console_hit = true;
}

/* ------------------------------------------------------------------ memory */

/* Physical storage behind an address (flash banks as physical, not FB_MODE-swapped). */
uint8_t *sim_mem_ptr(sim_t *sim, uint32_t addr, size_t len)
{
    struct {
        uint32_t base, size;
        uint8_t *p;
    } r[] = {
        {SIM_FLASH_BASE, SIM_FLASH_SIZE, sim->flash},   {SIM_SRAM1_BASE, SIM_SRAM1_SIZE, sim->sram1},
        {SIM_SRAM2_BASE, SIM_SRAM2_SIZE, sim->sram2},   {SIM_SYSMEM_BASE, SIM_SYSMEM_SIZE, sim->sysmem},
        {0x1FFF7000u, 0x1000u, sim->info1},             {0x1FFFF000u, 0x1000u, sim->info2},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        if (addr >= r[i].base && (uint64_t)addr + len <= (uint64_t)r[i].base + r[i].size)
            return r[i].p + (addr - r[i].base);
    return NULL;
}

/* What the CPU sees at addr: the boot alias at 0 and the FB_MODE bank swap applied. */
static uint32_t cpu_to_physical(const sim_t *sim, uint32_t addr)
{
    if (addr < SIM_FLASH_SIZE) {
        switch (sim->mem_mode) {
        case 0: addr += SIM_FLASH_BASE; break;
        case 1: return addr < SIM_SYSMEM_SIZE ? addr + SIM_SYSMEM_BASE : 0xFFFFFFFFu;
        case 3: return addr < SIM_SRAM1_SIZE ? addr + SIM_SRAM1_BASE : 0xFFFFFFFFu;
        default: return 0xFFFFFFFFu;
        }
    }
    if (sim->fb_mode && addr >= SIM_FLASH_BASE && addr < SIM_FLASH_BASE + SIM_FLASH_SIZE)
        addr ^= SIM_FLASH_BANK_SIZE;
    return addr;
}

static uint8_t *cpu_ptr(sim_t *sim, uint32_t addr, size_t len)
{
    return sim_mem_ptr(sim, cpu_to_physical(sim, addr), len);
}

int sim_load_mem(sim_t *sim, uint32_t addr, const void *data, size_t len)
{
    uint8_t *p = sim_mem_ptr(sim, addr, len);
    if (!p)
        return -1;
    memcpy(p, data, len);
    sim_code_changed(sim, addr, len);
    return 0;
}

int sim_read_mem(sim_t *sim, uint32_t addr, void *out, size_t len)
{
    uint8_t *p = cpu_ptr(sim, addr, len);
    if (!p)
        return -1;
    memcpy(out, p, len);
    return 0;
}

void sim_code_changed(sim_t *sim, uint32_t addr, size_t len)
{
    sim->code_generation++;
    if (!len)
        return;
    uint64_t end = (uint64_t)addr + len;
    uc_ctl_remove_cache(sim->uc, addr, end);
    if (addr >= SIM_FLASH_BASE && addr < SIM_FLASH_BASE + SIM_FLASH_SIZE) {
        uint32_t other = addr ^ SIM_FLASH_BANK_SIZE; /* FB_MODE view */
        uc_ctl_remove_cache(sim->uc, other, (uint64_t)other + len);
        uc_ctl_remove_cache(sim->uc, addr - SIM_FLASH_BASE, end - SIM_FLASH_BASE); /* boot alias */
        uc_ctl_remove_cache(sim->uc, other - SIM_FLASH_BASE, (uint64_t)other - SIM_FLASH_BASE + len);
    }
}

static void map_alias(sim_t *sim)
{
    uc_mem_unmap(sim->uc, 0, SIM_FLASH_SIZE);
    uint8_t *b1 = sim->flash, *b2 = sim->flash + SIM_FLASH_BANK_SIZE;
    if (sim->fb_mode) {
        uint8_t *t = b1;
        b1 = b2;
        b2 = t;
    }
    /* Banks at 0x08000000 follow FB_MODE. */
    uc_mem_unmap(sim->uc, SIM_FLASH_BASE, SIM_FLASH_SIZE);
    uc_mem_map_ptr(sim->uc, SIM_FLASH_BASE, SIM_FLASH_BANK_SIZE, UC_PROT_READ | UC_PROT_EXEC, b1);
    uc_mem_map_ptr(sim->uc, SIM_FLASH_BASE + SIM_FLASH_BANK_SIZE, SIM_FLASH_BANK_SIZE,
                   UC_PROT_READ | UC_PROT_EXEC, b2);
    switch (sim->mem_mode) {
    case 1:
        uc_mem_map_ptr(sim->uc, 0, SIM_SYSMEM_SIZE, UC_PROT_READ | UC_PROT_EXEC, sim->sysmem);
        break;
    case 3:
        uc_mem_map_ptr(sim->uc, 0, SIM_SRAM1_SIZE, UC_PROT_ALL, sim->sram1);
        break;
    default:
        uc_mem_map_ptr(sim->uc, 0, SIM_FLASH_BANK_SIZE, UC_PROT_READ | UC_PROT_EXEC, b1);
        uc_mem_map_ptr(sim->uc, SIM_FLASH_BANK_SIZE, SIM_FLASH_BANK_SIZE, UC_PROT_READ | UC_PROT_EXEC, b2);
        break;
    }
    uc_ctl_remove_cache(sim->uc, 0, SIM_FLASH_SIZE);
    uc_ctl_remove_cache(sim->uc, SIM_FLASH_BASE, SIM_FLASH_BASE + SIM_FLASH_SIZE);
    sim->code_generation++;
}

void sim_remap(sim_t *sim, unsigned mem_mode, bool fb_mode)
{
    if (mem_mode == 2 || mem_mode > 3) {
        sim_warn(sim, "SYSCFG_MEMRMP MEM_MODE=%u (FMC/QUADSPI) is not modelled; alias at 0 unchanged", mem_mode);
        return;
    }
    /* Unmapping under the running engine is unsafe: apply between runs. */
    sim->pending_mem_mode = mem_mode;
    sim->pending_fb_mode = fb_mode;
    sim->remap_pending = true;
    sim_attention(sim);
}

void sim_stall_until(sim_t *sim, uint64_t until_ps)
{
    if (until_ps > sim->stall_until)
        sim->stall_until = until_ps;
    sim_attention(sim);
}

/* ------------------------------------------------------------------ bus */

static struct sim_periph *find_periph(sim_t *sim, uint32_t addr)
{
    for (unsigned i = 0; i < sim->n_periphs; i++) {
        struct sim_periph *p = &sim->periphs[i];
        if (addr >= p->base && addr - p->base < p->size)
            return p;
    }
    return NULL;
}

static uint64_t mmio_read(uc_engine *uc, uint64_t offset, unsigned size, void *user)
{
    (void)uc;
    struct sim_periph *p = user;
    return p->ops->read(p->self, (uint32_t)offset, size);
}

static void mmio_write(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value, void *user)
{
    (void)uc;
    struct sim_periph *p = user;
    p->ops->write(p->self, (uint32_t)offset, (uint32_t)value, size);
}

void sim_add_periph(sim_t *sim, uint32_t base, uint32_t size, const sim_periph_ops *ops, void *self)
{
    if (sim->n_periphs >= SIM_MAX_PERIPHS) {
        fprintf(stderr, "l4sim: too many peripheral windows\n");
        abort();
    }
    struct sim_periph *p = &sim->periphs[sim->n_periphs++];
    p->base = base;
    p->size = size;
    p->ops = ops;
    p->self = self;
    uint32_t mapped = (size + 0x3FFu) & ~0x3FFu;
    uc_err e = uc_mmio_map(sim->uc, base, mapped, mmio_read, p, mmio_write, p);
    if (e != UC_ERR_OK) {
        fprintf(stderr, "l4sim: cannot map %s at 0x%08x: %s\n", ops->name, base, uc_strerror(e));
        abort();
    }
}

void sim_set_model(sim_t *sim, enum sim_model_id id, void *model)
{
    sim->models[id] = model;
}

void *sim_model(const sim_t *sim, enum sim_model_id id)
{
    return sim->models[id];
}

static void flash_like_write(sim_t *sim, uint32_t phys, uint32_t value, unsigned size)
{
#ifdef L4SIM_HAVE_FLASH
    if (sim->models[SIM_M_FLASH]) {
        flash_mem_write(sim, phys, value, size);
        return;
    }
#endif
    sim_warn(sim, "%u-byte write of 0x%08x to flash address 0x%08x with no flash model", size, value, phys);
}

uint32_t sim_bus_read(sim_t *sim, uint32_t addr, unsigned size)
{
    struct sim_periph *p = find_periph(sim, addr);
    if (p)
        return p->ops->read(p->self, addr - p->base, size);
    uint8_t *m = cpu_ptr(sim, addr, size);
    if (m) {
        uint32_t v = 0;
        memcpy(&v, m, size);
        return v;
    }
    sim_warn(sim, "host bus read of unmapped address 0x%08x", addr);
    return 0;
}

void sim_bus_write(sim_t *sim, uint32_t addr, uint32_t value, unsigned size)
{
    struct sim_periph *p = find_periph(sim, addr);
    if (p) {
        p->ops->write(p->self, addr - p->base, value, size);
        return;
    }
    uint32_t phys = cpu_to_physical(sim, addr);
    if ((phys >= SIM_FLASH_BASE && phys < SIM_FLASH_BASE + SIM_FLASH_SIZE) || (phys >= 0x1FFF7000u && phys < 0x1FFF8000u) ||
        (phys >= 0x1FFFF000u)) {
        flash_like_write(sim, phys, value, size);
        return;
    }
    uint8_t *m = sim_mem_ptr(sim, phys, size);
    if (m && (phys >= SIM_SRAM1_BASE || (phys >= SIM_SRAM2_BASE && phys < SIM_SRAM2_BASE + SIM_SRAM2_SIZE))) {
        memcpy(m, &value, size);
        return;
    }
    sim_warn(sim, "host bus write of 0x%08x to unmapped or read-only address 0x%08x", value, addr);
}

/* ------------------------------------------------------------------ interrupts */

void sim_irq_set(sim_t *sim, unsigned irqn, bool level)
{
    if (irqn >= SIM_IRQ_COUNT)
        return;
    cortexm_set_pending_irq(sim, irqn, level);
}

void sim_irq_pulse(sim_t *sim, unsigned irqn)
{
    if (irqn >= SIM_IRQ_COUNT)
        return;
    cortexm_pulse_irq(sim, irqn);
}

/* ------------------------------------------------------------------ time */

uint64_t sim_now(const sim_t *sim)
{
    return sim->now;
}

uint64_t sim_instructions(const sim_t *sim)
{
    return sim->instructions;
}

void sim_reschedule(sim_t *sim)
{
    sim_attention(sim);
}

void sim_set_pacing(sim_t *sim, bool paced)
{
    sim->paced = paced;
    sim->pace_virtual0 = sim->now;
    sim->pace_wall0_ns = wall_ns();
}

static void update_timing(sim_t *sim)
{
    uint32_t hclk = 4000000; /* MSI 4 MHz at reset */
#ifdef L4SIM_HAVE_RCC
    if (sim->models[SIM_M_RCC])
        hclk = rcc_hclk_hz(sim);
#endif
    if (hclk == 0)
        hclk = 4000000;
    uint32_t old_ps = sim->ps_per_cycle, old_extra = sim->flash_extra_q4;
    sim->ps_per_cycle = (uint32_t)(SIM_PS_PER_S / hclk);
    sim->flash_extra_q4 = 0;
#ifdef L4SIM_HAVE_FLASH
    if (sim->models[SIM_M_FLASH]) {
        /* Wait states cost less with the prefetch buffer or the ART I-cache on: a
         * documented average (docs/l4sim.md), not a pipeline model. */
        uint32_t ws = flash_latency(sim);
        bool helped = flash_prefetch_on(sim) || flash_icache_on(sim);
        sim->flash_extra_q4 = helped ? ws * 4 : ws * 8;
    }
#endif
    if (sim->ps_per_cycle != old_ps || sim->flash_extra_q4 != old_extra)
        sim->code_generation++; /* cached block costs are stale */
}

static uint64_t next_model_event(sim_t *sim)
{
    uint64_t t = SIM_NEVER;
    for (unsigned i = 0; i < sim->n_periphs; i++) {
        const sim_periph_ops *o = sim->periphs[i].ops;
        if (o->next_event) {
            uint64_t e = o->next_event(sim->periphs[i].self);
            if (e < t)
                t = e;
        }
    }
    return t;
}

static void advance_models(sim_t *sim)
{
    for (unsigned i = 0; i < sim->n_periphs; i++) {
        const sim_periph_ops *o = sim->periphs[i].ops;
        if (o->advance)
            o->advance(sim->periphs[i].self, sim->now);
    }
}

void sim_advance(sim_t *sim, uint64_t duration_ps)
{
    uint64_t end = sim->now + duration_ps;
    while (sim->now < end) {
        advance_models(sim);
        uint64_t t = next_model_event(sim);
        if (t <= sim->now)
            t = sim->now + 1;
        sim->now = t < end ? t : end;
    }
    advance_models(sim);
}

/* ------------------------------------------------------------------ engine hooks */

/* Instructions in a block (Thumb-2 widths decoded), and whether the block can unmask
 * interrupts (CPSIE, MSR to PRIMASK/BASEPRI/BASEPRI_MAX/FAULTMASK): those make no callback,
 * so the run loop stops after such a block when an interrupt waits behind the mask. */
static unsigned count_thumb(const uint8_t *p, uint32_t size, bool *unmasks)
{
    unsigned n = 0;
    for (uint32_t off = 0; off + 1 < size;) {
        uint16_t hw = (uint16_t)(p[off] | (p[off + 1] << 8));
        if ((hw >> 11) >= 0x1D) {
            if ((hw & 0xFFF0u) == 0xF380u && off + 3 < size) {
                uint16_t hw2 = (uint16_t)(p[off + 2] | (p[off + 3] << 8));
                if ((hw2 & 0xFF00u) == 0x8800u && (hw2 & 0xFCu) == 0x10u)
                    *unmasks = true;
            }
            off += 4;
        } else {
            if (hw == 0xB662u || hw == 0xB661u || hw == 0xB663u)
                *unmasks = true;
            off += 2;
        }
        n++;
    }
    return n ? n : 1;
}

/* Fill the cache entry for a block: instruction count, modelled cost at the current
 * clock, and the flags the hook's slow path looks at. Entries die with code_generation,
 * which moves on every code change, remap and clock change. */
static __attribute__((noinline)) struct sim_block_count *block_fill(sim_t *sim, struct sim_block_count *b,
                                                                     uint32_t addr, uint32_t size)
{
    uint8_t *p = cpu_ptr(sim, addr, size);
    unsigned n;
    bool unmasks = false;
    if (p) {
        n = count_thumb(p, size, &unmasks);
    } else {
        uint8_t buf[4096];
        if (size > sizeof buf || uc_mem_read(sim->uc, addr, buf, size) != UC_ERR_OK)
            n = size / 2 ? size / 2 : 1;
        else
            n = count_thumb(buf, size, &unmasks);
    }
    uint32_t phys = cpu_to_physical(sim, addr);
    bool in_flash = phys >= SIM_FLASH_BASE && phys < SIM_FLASH_BASE + SIM_FLASH_SIZE;
    uint64_t cycles16 = (uint64_t)n * (16 + (in_flash ? sim->flash_extra_q4 : 0));
    b->addr = addr;
    b->size = (uint16_t)size;
    b->count = (uint16_t)n;
    b->flags = (uint8_t)((unmasks ? SIM_ATTN_MASKED_IRQ : 0) | (in_flash ? SIM_ATTN_FLASH_BUSY : 0));
    b->ps = (uint32_t)((cycles16 * sim->ps_per_cycle) >> 4);
    b->generation = sim->code_generation;
    return b;
}

static void apply_fixups(sim_t *sim)
{
    for (unsigned i = 0; i < sim->n_fixups; i++) {
        struct sim_fixup *f = &sim->fixups[i];
        uint8_t *p = sim_mem_ptr(sim, f->addr, f->size);
        if (p && memcmp(p, f->bytes, f->size) != 0) {
            memcpy(p, f->bytes, f->size);
            sim_code_changed(sim, f->addr, f->size);
        }
    }
    sim->n_fixups = 0;
}

/* Runs before every translated block: keep it short, it sets the engine's speed. */
/* The block hook's rare paths, out of line so the common path needs no register spills. */
static __attribute__((noinline)) void hook_stop(sim_t *sim, uc_engine *uc)
{
    sim->stopped_in_hook = true;
    uc_emu_stop(uc);
}

static __attribute__((noinline)) void hook_attention(sim_t *sim, const struct sim_block_count *b, uint32_t a)
{
    if ((b->flags & SIM_ATTN_MASKED_IRQ) && sim->masked_pending)
        sim_attention(sim); /* take the waiting interrupt right after this block */
    if ((b->flags & SIM_ATTN_FLASH_BUSY) && sim->busy_until > sim->now) {
        uint32_t phys = cpu_to_physical(sim, a);
        if (phys >= sim->busy_start && phys < sim->busy_end) {
            sim_trace(sim, SIM_TR_FLASH, "CPU fetch at 0x%08x stalls until %.3f ms: its bank is busy", a,
                      (double)sim->busy_until / (double)SIM_PS_PER_MS);
            sim->now = sim->busy_until;
        }
    }
}

static void hook_block(uc_engine *uc, uint64_t address, uint32_t size, void *user)
{
    sim_t *sim = user;
    uint32_t a = (uint32_t)address;
    sim->hook_pc = a;
    if (__builtin_expect(sim->now >= sim->deadline, 0)) { /* also 0 when something asked for attention */
        hook_stop(sim, uc);
        return;
    }
    struct sim_block_count *b = &sim->blocks[(a >> 1) & ((1u << SIM_BLOCK_CACHE_BITS) - 1)];
    if (__builtin_expect(b->addr != a || b->size != size || b->generation != sim->code_generation, 0))
        b = block_fill(sim, b, a, size);
    sim->instructions += b->count;
    sim->now += b->ps;
    if (__builtin_expect((b->flags & sim->attention) != 0, 0))
        hook_attention(sim, b, a);
}

void sim_set_busy_region(sim_t *sim, uint32_t start, uint32_t end, uint64_t until_ps)
{
    sim->busy_start = start;
    sim->busy_end = end;
    sim->busy_until = until_ps;
    if (until_ps)
        sim->attention |= SIM_ATTN_FLASH_BUSY;
    else
        sim->attention &= ~SIM_ATTN_FLASH_BUSY;
}

static bool hook_flash_store(uc_engine *uc, uc_mem_type type, uint64_t address, int size, int64_t value,
                             void *user)
{
    (void)uc;
    (void)type;
    sim_t *sim = user;
    uint32_t phys = cpu_to_physical(sim, (uint32_t)address);
    flash_like_write(sim, phys, (uint32_t)value, (unsigned)size);
    /* The raw store lands after this hook returns: remember what the memory must hold;
     * the run loop puts it back before the next block (stop_flag). */
    sim_attention(sim);
    if (sim->n_fixups < SIM_MAX_FIXUPS) {
        uint8_t *p = sim_mem_ptr(sim, phys, (size_t)size);
        if (p) {
            struct sim_fixup *f = &sim->fixups[sim->n_fixups++];
            f->addr = phys;
            f->size = (unsigned)size;
            memcpy(f->bytes, p, (size_t)size);
        }
    }
    return true;
}

static bool hook_unmapped(uc_engine *uc, uc_mem_type type, uint64_t address, int size, int64_t value, void *user)
{
    (void)uc;
    (void)size;
    (void)value;
    sim_t *sim = user;
    sim->bus_fault = true;
    sim->bus_fault_addr = (uint32_t)address;
    sim->bus_fault_write = (type == UC_MEM_WRITE_UNMAPPED);
    return false;
}

static void hook_intr(uc_engine *uc, uint32_t intno, void *user)
{
    (void)uc;
    cortexm_on_intr(user, intno);
}

static bool hook_invalid(uc_engine *uc, void *user)
{
    (void)uc;
    (void)user;
    return false; /* let uc_emu_start return UC_ERR_INSN_INVALID; the loop decides */
}

void sim_rebuild_hflags(sim_t *sim)
{
    uint32_t v;
    uc_reg_read(sim->uc, UC_ARM_REG_APSR_NZCV, &v);
    uc_reg_write(sim->uc, UC_ARM_REG_APSR_NZCV, &v);
}

/* ------------------------------------------------------------------ life cycle */

void sim_config_defaults(sim_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->board = "stm32l476g-eval";
    cfg->usb_quirk_310a = true;
}

static void *page_alloc(size_t n, uint8_t fill)
{
    void *p = aligned_alloc(4096, (n + 4095) & ~(size_t)4095);
    if (p)
        memset(p, fill, n);
    return p;
}

/* The UID words and the flash-size register, as ST programs them at the factory. */
static void write_factory_info(sim_t *sim)
{
    static const uint32_t uid[3] = {0x00320045u, 0x4D4B5011u, 0x20373843u}; /* a plausible L476 UID */
    memcpy(sim->info1 + (SIM_UID_BASE - 0x1FFF7000u), uid, sizeof uid);
    uint16_t kb = SIM_FLASH_SIZE / 1024;
    memcpy(sim->info1 + (SIM_FLASHSIZE_REG - 0x1FFF7000u), &kb, 2);
    uint32_t package = 0x00000002u; /* LQFP144 (unverified encoding) */
    memcpy(sim->info1 + 0x500, &package, 4);
}

/* Until a stand-in ROM image is loaded, system memory holds a vector table whose reset
 * handler is a BKPT, so entering it is visible instead of running into zeroes. */
static void write_standin_rom(sim_t *sim)
{
    uint32_t vec[2] = {0x20004000u, SIM_SYSMEM_BASE + 0x101u};
    memcpy(sim->sysmem, vec, sizeof vec);
    uint16_t bkpt = 0xBEAB; /* BKPT #0xAB */
    memcpy(sim->sysmem + 0x100, &bkpt, 2);
}

sim_t *sim_create(const sim_config *cfg_in)
{
    sim_t *sim = calloc(1, sizeof *sim);
    if (!sim)
        return NULL;
    if (cfg_in)
        sim->cfg = *cfg_in;
    else
        sim_config_defaults(&sim->cfg);
    if (!sim->cfg.board)
        sim->cfg.board = "stm32l476g-eval";
    if (strcmp(sim->cfg.board, "stm32l476g-eval") != 0) {
        fprintf(stderr, "l4sim: unknown board '%s' (known: stm32l476g-eval)\n", sim->cfg.board);
        free(sim);
        return NULL;
    }
    sim->console_out = stdout;
    if (sim->cfg.console_file) {
        sim->console_out = fopen(sim->cfg.console_file, "w");
        if (!sim->console_out) {
            fprintf(stderr, "l4sim: cannot write console file %s: %s\n", sim->cfg.console_file, strerror(errno));
            free(sim);
            return NULL;
        }
    }
    if (sim->cfg.timeline_file) {
        sim->timeline = fopen(sim->cfg.timeline_file, "w");
        if (!sim->timeline) {
            fprintf(stderr, "l4sim: cannot write timeline file %s: %s\n", sim->cfg.timeline_file, strerror(errno));
            free(sim);
            return NULL;
        }
    }
    if (sim->cfg.trace_file) {
        sim->trace = fopen(sim->cfg.trace_file, "w");
        if (!sim->trace) {
            fprintf(stderr, "l4sim: cannot write trace file %s: %s\n", sim->cfg.trace_file, strerror(errno));
            free(sim);
            return NULL;
        }
    }

    uc_err e = uc_open(UC_ARCH_ARM, UC_MODE_THUMB, &sim->uc);
    if (e == UC_ERR_OK)
        e = uc_ctl_set_cpu_model(sim->uc, UC_CPU_ARM_CORTEX_M4);
    if (e != UC_ERR_OK) {
        fprintf(stderr, "l4sim: unicorn: %s\n", uc_strerror(e));
        free(sim);
        return NULL;
    }
    sim->flash = page_alloc(SIM_FLASH_SIZE, 0xFF);
    sim->sram1 = page_alloc(SIM_SRAM1_SIZE, 0);
    sim->sram2 = page_alloc(SIM_SRAM2_SIZE, 0);
    sim->sysmem = page_alloc(SIM_SYSMEM_SIZE, 0xFF);
    sim->info1 = page_alloc(0x1000, 0xFF);
    sim->info2 = page_alloc(0x1000, 0xFF);
    sim->blocks = calloc((size_t)1 << SIM_BLOCK_CACHE_BITS, sizeof *sim->blocks);
    write_factory_info(sim);
    write_standin_rom(sim);

    map_alias(sim);
    uc_mem_map_ptr(sim->uc, SIM_SRAM1_BASE, SIM_SRAM1_SIZE, UC_PROT_ALL, sim->sram1);
    uc_mem_map_ptr(sim->uc, SIM_SRAM2_BASE, SIM_SRAM2_SIZE, UC_PROT_ALL, sim->sram2);
    uc_mem_map_ptr(sim->uc, SIM_SYSMEM_BASE, SIM_SYSMEM_SIZE, UC_PROT_READ | UC_PROT_EXEC, sim->sysmem);
    uc_mem_map_ptr(sim->uc, 0x1FFF7000u, 0x1000, UC_PROT_READ | UC_PROT_EXEC, sim->info1);
    uc_mem_map_ptr(sim->uc, 0x1FFFF000u, 0x1000, UC_PROT_READ | UC_PROT_EXEC, sim->info2);

    uc_hook h;
    uc_hook_add(sim->uc, &h, UC_HOOK_BLOCK, hook_block, sim, 1, 0);
    uc_hook_add(sim->uc, &h, UC_HOOK_MEM_WRITE_PROT, hook_flash_store, sim, 0, 0x1FFFFFFF);
    uc_hook_add(sim->uc, &h, UC_HOOK_MEM_UNMAPPED, hook_unmapped, sim, 1, 0);
    uc_hook_add(sim->uc, &h, UC_HOOK_INTR, hook_intr, sim, 1, 0);
    uc_hook_add(sim->uc, &h, UC_HOOK_INSN_INVALID, hook_invalid, sim, 1, 0);

    uc_context_alloc(sim->uc, &sim->reset_context);
    uc_context_save(sim->uc, sim->reset_context);

    cortexm_attach(sim);
    board_attach_models(sim);
    otgfs_set_quirk_310a(sim, sim->cfg.usb_quirk_310a);
#ifdef L4SIM_HAVE_FLASH
    if (sim->cfg.flash_image && sim->models[SIM_M_FLASH] && flash_image_load(sim, sim->cfg.flash_image) != 0) {
        sim_destroy(sim);
        return NULL;
    }
#endif
    sim_reset(sim, SIM_RESET_POWER_ON, SIM_CAUSE_POWER_ON);
    return sim;
}

void sim_destroy(sim_t *sim)
{
    if (!sim)
        return;
#ifdef L4SIM_HAVE_FLASH
    if (sim->cfg.flash_image && sim->models[SIM_M_FLASH])
        flash_image_save(sim, sim->cfg.flash_image);
#endif
    for (unsigned i = 0; i < sim->n_periphs; i++)
        if (sim->periphs[i].ops->destroy)
            sim->periphs[i].ops->destroy(sim->periphs[i].self);
    if (sim->reset_context)
        uc_context_free(sim->reset_context);
    uc_close(sim->uc);
    if (sim->console_out && sim->console_out != stdout)
        fclose(sim->console_out);
    else if (sim->console_out)
        fflush(sim->console_out);
    if (sim->trace)
        fclose(sim->trace);
    if (sim->timeline)
        fclose(sim->timeline);
    free(sim->flash);
    free(sim->sram1);
    free(sim->sram2);
    free(sim->sysmem);
    free(sim->info1);
    free(sim->info2);
    free(sim->blocks);
    free(sim->console);
    free(sim->console_wait);
    free(sim);
}

enum sim_reset_cause sim_last_reset_cause(const sim_t *sim)
{
    return sim->last_cause;
}

void sim_request_reset(sim_t *sim, enum sim_reset_kind kind, enum sim_reset_cause cause)
{
    if (sim->reset_pending && sim->pending_reset_kind == SIM_RESET_POWER_ON)
        return; /* a power-on reset already wins */
    sim->reset_pending = true;
    sim->pending_reset_kind = kind;
    sim->pending_reset_cause = cause;
    sim_attention(sim);
}

static const char *cause_name(enum sim_reset_cause c)
{
    switch (c) {
    case SIM_CAUSE_POWER_ON: return "power-on";
    case SIM_CAUSE_SOFTWARE: return "software (AIRCR.SYSRESETREQ)";
    case SIM_CAUSE_IWDG: return "independent watchdog";
    case SIM_CAUSE_WWDG: return "window watchdog";
    case SIM_CAUSE_PIN: return "NRST pin";
    case SIM_CAUSE_OPTION_LOAD: return "option byte load";
    }
    return "?";
}

void sim_reset(sim_t *sim, enum sim_reset_kind kind, enum sim_reset_cause cause)
{
    sim_trace(sim, SIM_TR_CPU, "reset: %s (%s)", kind == SIM_RESET_POWER_ON ? "power-on" : "system",
              cause_name(cause));
    sim_event(sim, "reset %s", cause_name(cause));
    sim->last_cause = cause;
    sim->reset_pending = false;
    if (kind == SIM_RESET_POWER_ON) {
        memset(sim->sram1, 0, SIM_SRAM1_SIZE);
        memset(sim->sram2, 0, SIM_SRAM2_SIZE);
    }
    sim->n_fixups = 0;
    sim->stall_until = 0;
    sim->remap_pending = false;
    /* Back to the boot mapping, but only if it changed: unmapping and mapping the flash
     * again leaves Unicorn 2.0.1 with stale page descriptors that make every later guest
     * store ~1.8x dearer (callgrind: g_tree_insert in the store slow path). */
    if (sim->mem_mode != 0 || sim->fb_mode) {
        sim->mem_mode = 0;
        sim->fb_mode = false;
        map_alias(sim);
    }
    for (unsigned i = 0; i < sim->n_periphs; i++)
        if (sim->periphs[i].ops->reset)
            sim->periphs[i].ops->reset(sim->periphs[i].self, kind);
    cortexm_reset(sim);
    uc_context_restore(sim->uc, sim->reset_context);

    uint32_t vec[2] = {0, 0};
    sim_read_mem(sim, 0, vec, sizeof vec);
    uc_reg_write(sim->uc, UC_ARM_REG_MSP, &vec[0]);
    uc_reg_write(sim->uc, UC_ARM_REG_SP, &vec[0]);
    uint32_t lr = 0xFFFFFFFFu;
    uc_reg_write(sim->uc, UC_ARM_REG_LR, &lr);
    sim->pc = vec[1] & ~1u;
    sim->sleeping = false;
    sim->hook_pc = 0;
    sim->reset_vector = vec[1];
    update_timing(sim);
}

/* ------------------------------------------------------------------ ROM stand-in */

/* System memory holds a stand-in, not ST's ROM: its reset handler is a BKPT. When the CPU
 * gets there, say what it was entered with — what ST's ROM bootloader relies on (AN2606:
 * system memory remapped at 0, stack from its vector table, reset clocks, no interrupt
 * sources left running). */
void sim_describe_rom_entry(sim_t *sim, char *out, size_t n)
{
    uint32_t msp = 0, control = 0, ipsr = 0, rom_sp = 0, rom_pc = 0;
    uc_reg_read(sim->uc, UC_ARM_REG_MSP, &msp);
    uc_reg_read(sim->uc, UC_ARM_REG_CONTROL, &control);
    uc_reg_read(sim->uc, UC_ARM_REG_IPSR, &ipsr);
    memcpy(&rom_sp, sim->sysmem, 4);
    memcpy(&rom_pc, sim->sysmem + 4, 4);
    bool via_vector = sim->pc == (rom_pc & ~1u);
    uint32_t syst = sim_bus_read(sim, 0xE000E010u, 4) & 3u;
    unsigned enabled = 0;
    for (unsigned bank = 0; bank < 3; bank++)
        enabled += (unsigned)__builtin_popcount(sim_bus_read(sim, 0xE000E100u + 4 * bank, 4));
    uint32_t sysclk = 0;
    bool otg_on = false;
#ifdef L4SIM_HAVE_RCC
    if (sim->models[SIM_M_RCC]) {
        sysclk = rcc_sysclk_hz(sim);
        otg_on = rcc_periph_enabled(sim, RCC_P_OTGFS);
    }
#endif
    snprintf(out, n,
             "entered system memory (l4sim's ROM bootloader stand-in, not ST's ROM) at 0x%08x: "
             "%s; MSP 0x%08x %s the ROM's 0x%08x; %s; %s mode, %s, on %s; SYSCLK %.1f MHz%s; SysTick %s; "
             "%u NVIC interrupts enabled; OTG_FS clock %s",
             sim->pc, sim->mem_mode == 1 ? "system memory remapped at 0 (MEMRMP=001)" : "NOT remapped (MEMRMP!=001)",
             msp, msp == rom_sp ? "=" : "!=", rom_sp, via_vector ? "entered through its reset vector" : "NOT through its reset vector",
             ipsr ? "handler" : "thread", (control & 1) ? "unprivileged" : "privileged", (control & 2) ? "PSP" : "MSP",
             (double)sysclk / 1e6, sysclk == 4000000 ? " (reset clock, MSI 4 MHz)" : " (NOT the reset clock)",
             syst ? "running" : "off", enabled, otg_on ? "on" : "off");
    sim_event(sim, "rom stand-in: %s", out);
}

/* ------------------------------------------------------------------ run loop */

static void pace(sim_t *sim)
{
    if (!sim->paced)
        return;
    uint64_t virt_ns = (sim->now - sim->pace_virtual0) / SIM_PS_PER_NS;
    uint64_t wall = wall_ns() - sim->pace_wall0_ns;
    if (virt_ns > wall + 200000) {
        uint64_t ahead = virt_ns - wall;
        struct timespec ts = {(time_t)(ahead / 1000000000ull), (long)(ahead % 1000000000ull)};
        nanosleep(&ts, NULL);
    }
}

static bool at_wfi(sim_t *sim)
{
    uint16_t hw = 0;
    if (sim->pc < 2 || sim_read_mem(sim, sim->pc - 2, &hw, 2) != 0)
        return false;
    return hw == 0xBF30;
}

enum sim_stop sim_run_for(sim_t *sim, uint64_t duration_ps)
{
    return sim_run_until(sim, sim->now + duration_ps);
}

void sim_request_stop(sim_t *sim)
{
    sim->host_stop = 1;
    sim_attention(sim);
}

/* A core whose reset vector has no Thumb bit locks up at once. */
static bool check_reset_vector(sim_t *sim)
{
    uint32_t v = sim->reset_vector;
    if (v & 1u)
        return true;
    if (v == 0xFFFFFFFFu)
        sim_warn(sim, "reset vector is 0xFFFFFFFF: the boot memory is erased (nothing to boot)");
    else
        sim_warn(sim, "reset vector 0x%08x has no Thumb bit: the core locks up", v);
    sim_set_stop(sim, SIM_STOP_FAULT, "lockup at reset: reset vector 0x%08x is not a Thumb address", v);
    return false;
}

enum sim_stop sim_run_until(sim_t *sim, uint64_t until)
{
    uint64_t last_instructions = ~0ull, last_now = ~0ull;
    unsigned no_progress = 0;
    sim->fault_stop = false;
    sim->break_stop = false;
    if (sim->pc == (sim->reset_vector & ~1u) && !check_reset_vector(sim))
        return SIM_STOP_FAULT;
    for (;;) {
        if (sim->reset_pending) {
            sim_reset(sim, sim->pending_reset_kind, sim->pending_reset_cause);
            if (!check_reset_vector(sim))
                return SIM_STOP_FAULT;
        }
        if (sim->remap_pending) {
            sim->remap_pending = false;
            sim->mem_mode = sim->pending_mem_mode;
            sim->fb_mode = sim->pending_fb_mode;
            map_alias(sim);
            sim_trace(sim, SIM_TR_MEM, "boot alias at 0: mem_mode %u, fb_mode %d", sim->mem_mode, sim->fb_mode);
        }
        if (sim->stall_until > sim->now)
            sim->now = sim->stall_until;
        advance_models(sim);
        if (sim->reset_pending)
            continue;
        sim->stop_flag = 0;
        if (sim->fault_stop)
            return sim->stop_reason;
        if (sim->break_stop)
            return SIM_STOP_BREAK;
        if (sim->host_stop) {
            sim->host_stop = 0;
            snprintf(sim->stop_message, sizeof sim->stop_message, "stopped by host");
            return sim->stop_reason = SIM_STOP_HOST;
        }
        if (sim->console_hit) {
            snprintf(sim->stop_message, sizeof sim->stop_message, "console printed \"%s\"", sim->console_wait);
            return sim->stop_reason = SIM_STOP_CONSOLE;
        }
        if (sim->now >= until) {
            snprintf(sim->stop_message, sizeof sim->stop_message, "ran for the requested time");
            return sim->stop_reason = SIM_STOP_TIME;
        }
        update_timing(sim);

        if (cortexm_take_pending(sim)) {
            sim->sleeping = false;
            sim->now += (uint64_t)EXCEPTION_ENTRY_CYCLES * sim->ps_per_cycle;
        }
        uint64_t deadline = until;
        uint64_t ev = next_model_event(sim);
        if (ev < deadline)
            deadline = ev;
        if (deadline > sim->now + MAX_SLICE_PS)
            deadline = sim->now + MAX_SLICE_PS;
        sim->masked_pending = cortexm_masked_pending(sim);
        if (sim->masked_pending)
            sim->attention |= SIM_ATTN_MASKED_IRQ;
        else
            sim->attention &= ~SIM_ATTN_MASKED_IRQ;
        if (sim->masked_pending) {
            uint64_t poll = sim->now + (uint64_t)MASKED_POLL_CYCLES * sim->ps_per_cycle;
            if (poll < deadline)
                deadline = poll;
        }
        pace(sim);
        if (sim->sleeping) {
            if (cortexm_wakeup_pending(sim)) {
                sim->sleeping = false;
            } else {
                sim->now = deadline > sim->now ? deadline : sim->now + 1;
                continue;
            }
        }
        if (sim->now >= deadline) {
            /* an event is due now: let the models run before the CPU */
            continue;
        }
        sim->deadline = sim->stop_flag ? 0 : deadline; /* attention asked since the loop began */
        sim->stopped_in_hook = false;
        sim->bus_fault = false;
        /* A CPU that faults at once, again and again, without an instruction or a
         * picosecond of progress, is stuck: say so instead of spinning. */
        if (sim->instructions == last_instructions && sim->now == last_now) {
            if (++no_progress > 100000) {
                sim_set_stop(sim, SIM_STOP_FAULT, "no progress at PC 0x%08x: the CPU faults before executing anything",
                             sim->pc);
                return SIM_STOP_FAULT;
            }
        } else {
            no_progress = 0;
            last_instructions = sim->instructions;
            last_now = sim->now;
        }
        uc_err err = uc_emu_start(sim->uc, sim->pc | 1u, 0, 0, 0);
        if (sim->n_fixups)
            apply_fixups(sim);
        uint32_t pc;
        uc_reg_read(sim->uc, UC_ARM_REG_PC, &pc);
        sim->pc = pc & ~1u;
        if (sim->stopped_in_hook) {
            sim->pc = sim->hook_pc;
            continue;
        }
        if (err == UC_ERR_OK) {
            if (at_wfi(sim)) {
                sim->sleeping = true;
                sim_trace(sim, SIM_TR_CPU, "WFI at 0x%08x: sleeping", sim->pc - 2);
            }
            continue;
        }
        if (err == UC_ERR_READ_UNMAPPED || err == UC_ERR_WRITE_UNMAPPED || err == UC_ERR_FETCH_UNMAPPED) {
            uint32_t a = sim->bus_fault ? sim->bus_fault_addr : pc;
            bool w = err == UC_ERR_WRITE_UNMAPPED;
            const char *what = err == UC_ERR_FETCH_UNMAPPED ? "instruction fetch from" : w ? "write to" : "read of";
            sim_warn(sim, "bus fault: %s unmapped address 0x%08x (in the block starting at 0x%08x)", what, a,
                     sim->hook_pc);
            if (sim->cfg.strict) {
                sim_set_stop(sim, SIM_STOP_FAULT, "bus fault: %s unmapped address 0x%08x near PC 0x%08x", what, a,
                             sim->hook_pc);
                return SIM_STOP_FAULT;
            }
            if (err != UC_ERR_FETCH_UNMAPPED)
                sim->pc = sim->hook_pc;
            cortexm_bus_fault(sim, a, w);
            continue;
        }
        if (err == UC_ERR_INSN_INVALID) {
            uint16_t hw = 0;
            sim_read_mem(sim, sim->pc, &hw, 2);
            if (sim->pc >= 2) {
                uint16_t prev = 0;
                sim_read_mem(sim, sim->pc - 2, &prev, 2);
                if (prev == 0xBF20 || prev == 0xBF10) /* WFE / YIELD: a hint; carry on */
                    continue;
            }
            cortexm_usage_fault(sim, "undefined or invalid instruction");
            continue;
        }
        if (err == UC_ERR_EXCEPTION && (sim->fault_stop || sim->break_stop))
            continue;
        sim_set_stop(sim, SIM_STOP_ERROR, "engine error at PC 0x%08x: %s", sim->pc, uc_strerror(err));
        return SIM_STOP_ERROR;
    }
}
