/* l4sim model of the STM32L476 IWDG (independent watchdog) at 0x40003000.
 *
 * | off | register | reset      | notes |
 * |-----|----------|------------|-------|
 * | 00  | KR       | -          | WO; 0xCCCC start (forces the LSI on), 0xAAAA reload, 0x5555 unlocks PR/RLR/WINR, any other key locks |
 * | 04  | PR       | 0x00000000 | PR[2:0]: LSI / (4 << PR), 6 and 7 both /256 |
 * | 08  | RLR      | 0x00000FFF | RL[11:0] |
 * | 0C  | SR       | 0x00000000 | PVU 0, RVU 1, WVU 2: busy for IWDG_UPDATE_LSI_CYCLES LSI periods after a write (unverified) |
 * | 10  | WINR     | 0x00000FFF | a reload while the counter is above WIN resets the chip; writing WINR reloads the counter |
 *
 * The counter runs on the LSI (RCC_LSI_HZ = 32 kHz): it starts from 0xFFF on 0xCCCC, is loaded
 * with RLR on each reload, and the chip resets (SIM_CAUSE_IWDG) (counter+1) ticks later; the
 * prescaler and reload value in force at the last reload/start apply until the next one. No
 * RCC enable bit. After a reset the watchdog is stopped, unless the option bytes select the
 * hardware watchdog (FLASH_OPTR.IWDG_SW=0): then it starts by itself as if 0xCCCC had been
 * written. The debug freeze (DBGMCU) is not modelled.
 */
#include "iwdg.h"

#include <stdlib.h>

#include "rcc.h"

#if __has_include("flash.h")
#include "flash.h"
#define IWDG_HAVE_OPTR 1
#define OPTR_IWDG_SW (1u << 16)
#endif

#define KEY_START 0xCCCCu
#define KEY_RELOAD 0xAAAAu
#define KEY_UNLOCK 0x5555u
#define SR_PVU 1u
#define SR_RVU 2u
#define SR_WVU 4u
#define LSI_PERIOD_PS (SIM_PS_PER_S / RCC_LSI_HZ)

struct iwdg {
    sim_t *sim;
    uint32_t pr, rlr, winr;
    bool unlocked, running, fired;
    bool check_hw_mode; /* after a reset, once every model (FLASH's option bytes) is reset */
    uint64_t loaded_at;   /* last start or reload */
    uint32_t loaded_with; /* counter value then */
    uint64_t tick_ps;     /* counter period in force */
    uint64_t busy_until[3]; /* PR, RLR, WINR */
};

static uint64_t tick_ps_for(uint32_t pr)
{
    unsigned shift = pr > 6 ? 6 : pr;
    return (uint64_t)LSI_PERIOD_PS * (4u << shift);
}

static uint64_t deadline(const struct iwdg *w)
{
    if (!w->running || w->fired)
        return SIM_NEVER;
    return w->loaded_at + (uint64_t)(w->loaded_with + 1) * w->tick_ps;
}

static uint32_t counter_now(const struct iwdg *w)
{
    uint64_t ticks = (sim_now(w->sim) - w->loaded_at) / w->tick_ps;
    return ticks >= w->loaded_with ? 0 : (uint32_t)(w->loaded_with - ticks);
}

static void load_counter(struct iwdg *w, uint32_t value)
{
    w->loaded_at = sim_now(w->sim);
    w->loaded_with = value;
    w->tick_ps = tick_ps_for(w->pr);
    sim_reschedule(w->sim);
}

static void reload(struct iwdg *w)
{
    if (w->winr < 0xFFFu && counter_now(w) > w->winr) {
        sim_warn(w->sim, "IWDG refreshed outside its window (counter %u > WINR %u): reset", counter_now(w), w->winr);
        w->fired = true;
        sim_request_reset(w->sim, SIM_RESET_SYSTEM, SIM_CAUSE_IWDG);
        return;
    }
    load_counter(w, w->rlr);
}

static void start(struct iwdg *w)
{
    w->running = true;
    w->fired = false;
    rcc_force_lsi(w->sim, true);
    load_counter(w, 0xFFFu);
    sim_trace(w->sim, SIM_TR_MISC, "IWDG started: reset in %llu us unless refreshed",
              (unsigned long long)((deadline(w) - sim_now(w->sim)) / SIM_PS_PER_US));
}

/* The hardware watchdog option starts the IWDG out of every reset. */
static void apply_hw_mode(struct iwdg *w)
{
    if (!w->check_hw_mode)
        return;
    w->check_hw_mode = false;
#ifdef IWDG_HAVE_OPTR
    if (sim_model(w->sim, SIM_M_FLASH) && !(flash_optr(w->sim) & OPTR_IWDG_SW) && !w->running) {
        sim_trace(w->sim, SIM_TR_MISC, "IWDG: hardware watchdog (FLASH_OPTR.IWDG_SW=0)");
        start(w);
    }
#endif
}

static uint32_t iwdg_read(void *self, uint32_t offset, unsigned size)
{
    struct iwdg *w = self;
    apply_hw_mode(w);
    uint32_t off = offset & ~3u, v;
    uint64_t now = sim_now(w->sim);
    switch (off) {
    case 0x00: v = 0; break;
    case 0x04: v = w->pr; break;
    case 0x08: v = w->rlr; break;
    case 0x0C:
        v = (now < w->busy_until[0] ? SR_PVU : 0) | (now < w->busy_until[1] ? SR_RVU : 0) |
            (now < w->busy_until[2] ? SR_WVU : 0);
        break;
    case 0x10: v = w->winr; break;
    default: return sim_bad_access(w->sim, "IWDG", IWDG_BASE + offset, false, 0);
    }
    unsigned shift = (offset & 3u) * 8;
    return size == 4 ? v : (v >> shift) & ((1u << (size * 8)) - 1);
}

static bool write_guarded(struct iwdg *w, unsigned idx, const char *name, uint32_t *reg, uint32_t value)
{
    static const char *const busy_bit[3] = {"PVU", "RVU", "WVU"};
    if (!w->unlocked) {
        sim_warn(w->sim, "IWDG_%s write lost: write 0x5555 to IWDG_KR first", name);
        return false;
    }
    uint64_t now = sim_now(w->sim);
    if (now < w->busy_until[idx]) {
        sim_warn(w->sim, "IWDG_%s write lost: the previous update is still busy (IWDG_SR.%s=1)", name, busy_bit[idx]);
        return false;
    }
    *reg = value;
    w->busy_until[idx] = now + IWDG_UPDATE_LSI_CYCLES * LSI_PERIOD_PS;
    sim_trace(w->sim, SIM_TR_MISC, "IWDG %s = 0x%x", name, value);
    return true;
}

static void iwdg_write(void *self, uint32_t offset, uint32_t value, unsigned size)
{
    struct iwdg *w = self;
    uint32_t off = offset & ~3u;
    (void)size; /* 16-bit registers: the low half is what counts */
    apply_hw_mode(w);
    switch (off) {
    case 0x00:
        value &= 0xFFFFu;
        w->unlocked = value == KEY_UNLOCK;
        if (value == KEY_START && !w->running) {
            start(w);
        } else if (value == KEY_RELOAD && w->running && !w->fired) {
            reload(w);
        }
        break;
    case 0x04:
        write_guarded(w, 0, "PR", &w->pr, value & 7u);
        break;
    case 0x08:
        write_guarded(w, 1, "RLR", &w->rlr, value & 0xFFFu);
        break;
    case 0x10:
        if (write_guarded(w, 2, "WINR", &w->winr, value & 0xFFFu) && w->running && !w->fired)
            load_counter(w, w->rlr); /* a WINR write refreshes the counter */
        break;
    case 0x0C:
    default:
        sim_bad_access(w->sim, "IWDG", IWDG_BASE + offset, true, value);
        break;
    }
}

static uint64_t iwdg_next_event(void *self)
{
    return deadline(self);
}

static void iwdg_advance(void *self, uint64_t now)
{
    struct iwdg *w = self;
    apply_hw_mode(w);
    if (w->running && !w->fired && now >= deadline(w)) {
        w->fired = true;
        sim_trace(w->sim, SIM_TR_MISC, "IWDG counter reached 0: system reset");
        sim_request_reset(w->sim, SIM_RESET_SYSTEM, SIM_CAUSE_IWDG);
    }
}

static void iwdg_reset(void *self, enum sim_reset_kind kind)
{
    (void)kind;
    struct iwdg *w = self;
    w->pr = 0;
    w->rlr = 0xFFFu;
    w->winr = 0xFFFu;
    w->unlocked = w->running = w->fired = false;
    w->tick_ps = tick_ps_for(0);
    w->busy_until[0] = w->busy_until[1] = w->busy_until[2] = 0;
    w->check_hw_mode = true;
}

static const sim_periph_ops iwdg_ops = {
    .name = "IWDG",
    .read = iwdg_read,
    .write = iwdg_write,
    .reset = iwdg_reset,
    .next_event = iwdg_next_event,
    .advance = iwdg_advance,
    .destroy = free,
};

void iwdg_attach(sim_t *sim)
{
    struct iwdg *w = calloc(1, sizeof *w);
    if (!w)
        abort();
    w->sim = sim;
    iwdg_reset(w, SIM_RESET_POWER_ON);
    sim_set_model(sim, SIM_M_IWDG, w);
    sim_add_periph(sim, IWDG_BASE, IWDG_SIZE, &iwdg_ops, w);
}

bool iwdg_running(sim_t *sim)
{
    struct iwdg *w = sim_model(sim, SIM_M_IWDG);
    if (w)
        apply_hw_mode(w);
    return w && w->running;
}

uint64_t iwdg_deadline(sim_t *sim)
{
    struct iwdg *w = sim_model(sim, SIM_M_IWDG);
    if (w)
        apply_hw_mode(w);
    return w ? deadline(w) : SIM_NEVER;
}
