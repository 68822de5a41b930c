/* Private to the l4sim core (sim.c, cortexm.c, loader.c): the board's state. Models use sim.h. */
#ifndef L4SIM_SIM_INTERNAL_H
#define L4SIM_SIM_INTERNAL_H

#include <stdio.h>
#include <unicorn/unicorn.h>

#include "sim.h"

#define SIM_MAX_PERIPHS 64
#define SIM_MAX_FIXUPS 16
#define SIM_BLOCK_CACHE_BITS 16

struct sim_periph {
    uint32_t base, size;
    const sim_periph_ops *ops;
    void *self;
};

/* A store the CPU made into flash-like memory; the flash model decided what the bytes
 * are, and the core puts them back once the raw store has landed (next block). */
struct sim_fixup {
    uint32_t addr;
    unsigned size;
    uint8_t bytes[8];
};

/* Why the block hook must look closer at a block (flags in the cache, mask in sim). */
#define SIM_ATTN_MASKED_IRQ 1u /* block can unmask interrupts; one waits */
#define SIM_ATTN_FLASH_BUSY 2u /* block runs from flash; a bank is busy */

struct sim_block_count {
    uint32_t addr;
    uint16_t size;
    uint16_t count;
    uint32_t ps;      /* modelled cost at the current clock */
    uint32_t generation;
    uint8_t flags;
};

struct cortexm; /* cortexm.c */

struct sim {
    sim_config cfg;
    uc_engine *uc;
    uc_context *reset_context;

    /* memory the core owns */
    uint8_t *flash;   /* 1 MB: bank 1 then bank 2 */
    uint8_t *sram1, *sram2, *sysmem;
    uint8_t *info1;   /* 0x1FFF7000-0x1FFF7FFF: OTP, package, UID, flash size, OB bank 1 */
    uint8_t *info2;   /* 0x1FFFF000-0x1FFFFFFF: OB bank 2 */
    unsigned mem_mode; /* what is aliased at 0 */
    bool fb_mode;
    bool remap_pending;
    unsigned pending_mem_mode;
    bool pending_fb_mode;

    struct sim_periph periphs[SIM_MAX_PERIPHS];
    unsigned n_periphs;
    void *models[SIM_M_COUNT];
    struct cortexm *core;

    /* time */
    uint64_t now;          /* ps */
    uint64_t instructions;
    uint64_t deadline;     /* the block hook stops the engine at or after this */
    uint32_t ps_per_cycle;
    uint32_t flash_extra_q4; /* extra cycles per flash-resident instruction, in 1/16 */
    uint32_t wall_pacing;
    bool paced;
    uint64_t pace_virtual0, pace_wall0_ns;

    /* run state */
    uint32_t pc;           /* where the CPU resumes (Thumb bit clear) */
    bool sleeping;         /* WFI */
    bool masked_pending;   /* an interrupt waits behind PRIMASK/BASEPRI */
    uint8_t attention;     /* SIM_ATTN_*: which slow paths the block hook takes */
    volatile int stop_flag; /* ask the block hook to stop */
    volatile int host_stop; /* sim_request_stop */
    bool stopped_in_hook;
    uint32_t hook_pc;
    uint32_t mmio_pc_hint;
    enum sim_stop stop_reason;
    char stop_message[1024];
    bool fault_stop;       /* lockup or strict error */
    bool break_stop;
    bool reset_pending;
    enum sim_reset_kind pending_reset_kind;
    enum sim_reset_cause pending_reset_cause;
    enum sim_reset_cause last_cause;
    uint64_t stall_until;
    uint32_t busy_start, busy_end; /* flash bank being erased/programmed: fetches stall */
    uint64_t busy_until;
    uint32_t reset_vector; /* as fetched at the last reset */

    /* unmapped access seen by the hook */
    bool bus_fault;
    uint32_t bus_fault_addr;
    bool bus_fault_write;

    struct sim_fixup fixups[SIM_MAX_FIXUPS];
    unsigned n_fixups;

    struct sim_block_count *blocks;
    uint32_t code_generation;

    /* console */
    char *console;
    size_t console_len, console_cap;
    FILE *console_out;
    char *console_wait;
    bool console_hit;

    FILE *trace;
    FILE *timeline;
    size_t console_line_start; /* where the console line being printed began */
    unsigned bad_accesses;
};

/* cortexm.c: NVIC, SCB, SysTick, FPU control; exception entry and return */
void cortexm_attach(sim_t *sim);
void cortexm_reset(sim_t *sim);
/* Take the highest pending exception if it may preempt now; returns true if it did
 * (PC and registers now point into the handler). */
bool cortexm_take_pending(sim_t *sim);
/* Something pending, enabled, but masked by PRIMASK/BASEPRI/FAULTMASK: the run loop
 * polls often so a CPSIE/MSR without a callback is noticed. */
bool cortexm_masked_pending(sim_t *sim);
/* Would a pending interrupt wake the CPU from WFI (even if masked by PRIMASK)? */
bool cortexm_wakeup_pending(sim_t *sim);
/* Engine interrupt hook (intno per Unicorn/QEMU). */
void cortexm_on_intr(sim_t *sim, uint32_t intno);
/* Enter HardFault for a bus error at the current PC (escalated BusFault). */
void cortexm_bus_fault(sim_t *sim, uint32_t addr, bool write);
void cortexm_usage_fault(sim_t *sim, const char *what);
void cortexm_set_pending_irq(sim_t *sim, unsigned irqn, bool level);
void cortexm_pulse_irq(sim_t *sim, unsigned irqn);
uint32_t cortexm_vtor(sim_t *sim);

/* Make the block hook stop the engine at the next block (one compare there: the deadline). */
static inline void sim_attention(sim_t *sim)
{
    sim->stop_flag = 1;
    sim->deadline = 0;
}

/* sim.c helpers shared with cortexm.c */
void sim_describe_rom_entry(sim_t *sim, char *out, size_t n);
void sim_set_stop(sim_t *sim, enum sim_stop reason, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void sim_rebuild_hflags(sim_t *sim);

#endif
