/* Cortex-M4 system peripherals and exceptions: NVIC, SCB, SysTick, FPU control, DWT
 * cycle counter, DBGMCU. Unicorn has none of these (shared/reference/unicorn-cortex-m.md
 * §2): exception entry and return are done here, by the host, on the engine's registers.
 *
 * Register table (System Control Space 0xE000E000, offsets from it):
 *   off    name        reset        notes
 *   0x004  ICTR        0x00000002   RO: 82 IRQs = 3 banks of 32
 *   0x008  ACTLR       0            stored, no effect
 *   0x010  SYST_CSR    0            ENABLE 0, TICKINT 1, CLKSOURCE 2 (0 = HCLK/8 on STM32), COUNTFLAG 16 (clear on read)
 *   0x014  SYST_RVR    0            24 bits
 *   0x018  SYST_CVR    0            any write clears it and COUNTFLAG
 *   0x01C  SYST_CALIB  0xC0000000   NOREF|SKEW, no TENMS (unverified for the L476)
 *   0x100  ISER0..2    0            set-enable
 *   0x180  ICER0..2    0            clear-enable
 *   0x200  ISPR0..2    0            set-pending
 *   0x280  ICPR0..2    0            clear-pending
 *   0x300  IABR0..2    0            RO active
 *   0x400  IPR0..81    0            8 bits per IRQ, 4 implemented (upper nibble)
 *   0xD00  CPUID       0x410FC241   Cortex-M4 r0p1
 *   0xD04  ICSR        0            VECTACTIVE, RETTOBASE, VECTPENDING, ISRPENDING, PENDST/PENDSV set/clear
 *   0xD08  VTOR        0            TBLOFF; 98 vectors need 512-byte alignment
 *   0xD0C  AIRCR       0xFA050000   VECTKEY 0x05FA to write; SYSRESETREQ 2; PRIGROUP 10:8
 *   0xD10  SCR         0            SLEEPONEXIT 1, SLEEPDEEP 2, SEVONPEND 4 (stored)
 *   0xD14  CCR         0x00000200   STKALIGN; others stored
 *   0xD18  SHPR1..3    0            priorities of exceptions 4..15
 *   0xD24  SHCSR       0            MEMFAULTENA 16, BUSFAULTENA 17, USGFAULTENA 18; active/pended bits
 *   0xD28  CFSR        0            W1C
 *   0xD2C  HFSR        0            W1C; FORCED 30
 *   0xD34  MMFAR / 0xD38 BFAR       fault addresses
 *   0xD88  CPACR       0            CP10/CP11 (the engine runs FP regardless; stored)
 *   0xD90  MPU_TYPE    0x00000800   8 regions; MPU registers stored, never enforced
 *   0xDFC  DEMCR       0            TRCENA 24 (gates the DWT)
 *   0xF00  STIR        -            WO: pend IRQ n
 *   0xF34  FPCCR       0xC0000000   ASPEN|LSPEN; stored (lazy stacking is not modelled: frames are eager)
 *   0xF38  FPCAR / 0xF3C FPDSCR     stored
 */
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

#if __has_include("rcc.h")
#include "rcc.h"
#define L4SIM_HAVE_RCC 1
#endif

#define SCS_BASE 0xE000E000u
#define DWT_BASE 0xE0001000u
#define DBGMCU_BASE 0xE0042000u
#define NUM_EXC (16 + SIM_IRQ_COUNT)

enum { EXC_RESET = 1, EXC_NMI = 2, EXC_HARDFAULT = 3, EXC_MEMMANAGE = 4, EXC_BUSFAULT = 5, EXC_USAGEFAULT = 6,
       EXC_SVCALL = 11, EXC_DEBUGMON = 12, EXC_PENDSV = 14, EXC_SYSTICK = 15 };

struct cortexm {
    sim_t *sim;
    bool enabled[SIM_IRQ_COUNT];
    bool line[SIM_IRQ_COUNT];
    unsigned lines_high; /* how many lines are high: skips the scan when none */
    uint8_t ipr[SIM_IRQ_COUNT];
    uint8_t shpr[12]; /* exceptions 4..15 */
    bool pending[NUM_EXC];
    bool active[NUM_EXC];
    uint32_t vtor, prigroup, scr, ccr, shcsr, cfsr, hfsr, mmfar, bfar, cpacr, actlr, demcr;
    uint32_t mpu_ctrl, mpu_rnr, mpu_rbar[8], mpu_rasr[8];
    uint32_t fpccr, fpcar, fpdscr;
    /* SysTick */
    uint32_t syst_csr, syst_rvr;
    uint64_t syst_epoch;     /* time at which the counter held syst_val0 */
    uint32_t syst_val0;
    uint64_t syst_tick_ps;
    uint64_t syst_zeros_read; /* zero crossings already reported through COUNTFLAG */
    uint64_t syst_zeros_irq;  /* ... and through the interrupt */
    bool syst_flag_carry;     /* COUNTFLAG from before the last re-anchor */
    /* DWT, DBGMCU */
    uint32_t dwt_ctrl;
    uint64_t dwt_base_ps;
    uint32_t dwt_base_count;
    uint32_t dbg_cr, dbg_apb1fz1, dbg_apb1fz2, dbg_apb2fz;
};

static struct cortexm *cm(sim_t *sim)
{
    return sim->core;
}

static uint32_t reg_read(sim_t *sim, int reg)
{
    uint32_t v = 0;
    uc_reg_read(sim->uc, reg, &v);
    return v;
}

static void reg_write(sim_t *sim, int reg, uint32_t v)
{
    uc_reg_write(sim->uc, reg, &v);
}

/* ------------------------------------------------------------------ priorities */

/* Priority of an exception as an int: fixed negative ones, else the 8-bit field. */
static int exc_priority(struct cortexm *c, unsigned exc)
{
    if (exc == EXC_RESET)
        return -3;
    if (exc == EXC_NMI)
        return -2;
    if (exc == EXC_HARDFAULT)
        return -1;
    if (exc >= 16)
        return c->ipr[exc - 16];
    if (exc >= 4)
        return c->shpr[exc - 4];
    return 256;
}

static int group_of(struct cortexm *c, int prio)
{
    if (prio < 0)
        return prio;
    unsigned mask = (0xFFu << (c->prigroup + 1)) & 0xFFu;
    return prio & (int)mask;
}

/* Execution priority with `skip` not counted as active (for return/tail-chain checks). */
static int execution_priority(sim_t *sim, int skip)
{
    struct cortexm *c = cm(sim);
    int p = 256;
    for (unsigned e = 2; e < NUM_EXC; e++)
        if (c->active[e] && (int)e != skip) {
            int g = group_of(c, exc_priority(c, e));
            if (g < p)
                p = g;
        }
    uint32_t primask = reg_read(sim, UC_ARM_REG_PRIMASK) & 1;
    uint32_t faultmask = reg_read(sim, UC_ARM_REG_FAULTMASK) & 1;
    uint32_t basepri = reg_read(sim, UC_ARM_REG_BASEPRI) & 0xF0; /* 4 implemented bits */
    if (basepri) {
        int g = group_of(c, (int)basepri);
        if (g < p)
            p = g;
    }
    if (primask && p > 0)
        p = 0;
    if (faultmask && p > -1)
        p = -1;
    return p;
}

static bool exc_enabled(struct cortexm *c, unsigned exc)
{
    if (exc >= 16)
        return c->enabled[exc - 16];
    return true;
}

/* Highest-priority pending exception that is enabled, or 0. */
static unsigned highest_pending(struct cortexm *c)
{
    unsigned best = 0;
    int best_p = 1000;
    for (unsigned e = 2; e < NUM_EXC; e++) {
        if (!c->pending[e] || !exc_enabled(c, e))
            continue;
        int p = exc_priority(c, e);
        if (p < best_p) {
            best_p = p;
            best = e;
        }
    }
    return best;
}

static void refresh_lines(struct cortexm *c)
{
    if (!c->lines_high)
        return;
    for (unsigned n = 0; n < SIM_IRQ_COUNT; n++)
        if (c->line[n] && !c->active[16 + n])
            c->pending[16 + n] = true;
}

/* ------------------------------------------------------------------ entry and return */

static void lockup(sim_t *sim, const char *why)
{
    sim_set_stop(sim, SIM_STOP_FAULT, "lockup: %s (PC 0x%08x)", why, sim->pc);
    uc_emu_stop(sim->uc);
}

/* The handler address of an exception; false (lockup follows) when the vector is not
 * a Thumb address of memory the CPU can execute — an erased vector table reads 0xFFFFFFFF. */
static bool read_vector(sim_t *sim, unsigned exc, uint32_t *vec)
{
    uint32_t addr = cm(sim)->vtor + 4 * exc;
    uint16_t insn;
    if (sim_read_mem(sim, addr, vec, 4) != 0) {
        sim_warn(sim, "vector %u at 0x%08x is not in memory (VTOR 0x%08x)", exc, addr, cm(sim)->vtor);
        return false;
    }
    if (!(*vec & 1u) || sim_read_mem(sim, *vec & ~1u, &insn, 2) != 0) {
        sim_warn(sim, "vector %u at 0x%08x holds 0x%08x: not a Thumb address in flash or RAM%s", exc, addr, *vec,
                 *vec == 0xFFFFFFFFu ? " (erased flash)" : "");
        return false;
    }
    return true;
}

/* Push the frame and branch to the handler; return_pc is where the interrupted code resumes. */
static bool enter_exception(sim_t *sim, unsigned exc, uint32_t return_pc)
{
    struct cortexm *c = cm(sim);
    uint32_t control = reg_read(sim, UC_ARM_REG_CONTROL);
    uint32_t ipsr = reg_read(sim, UC_ARM_REG_IPSR) & 0x1FF;
    bool thread = ipsr == 0;
    bool on_psp = thread && (control & 2);
    bool fpca = control & 4;
    uint32_t frame_size = fpca ? 0x68 : 0x20;
    uint32_t sp = reg_read(sim, UC_ARM_REG_SP);
    uint32_t base = (sp - frame_size) & ~7u;
    bool realign = ((sp - frame_size) & 4) != 0;
    uint32_t xpsr = reg_read(sim, UC_ARM_REG_XPSR);
    uint32_t frame[26];
    static const int core_regs[6] = {UC_ARM_REG_R0, UC_ARM_REG_R1, UC_ARM_REG_R2, UC_ARM_REG_R3, UC_ARM_REG_R12,
                                     UC_ARM_REG_LR};
    for (int i = 0; i < 6; i++)
        frame[i] = reg_read(sim, core_regs[i]);
    frame[6] = return_pc & ~1u;
    frame[7] = (xpsr & ~(1u << 9)) | (realign ? 1u << 9 : 0) | (1u << 24);
    if (fpca) {
        for (int i = 0; i < 16; i++)
            frame[8 + i] = reg_read(sim, UC_ARM_REG_S0 + i);
        frame[24] = reg_read(sim, UC_ARM_REG_FPSCR);
        frame[25] = 0;
    }
    if (uc_mem_write(sim->uc, base, frame, frame_size) != UC_ERR_OK) {
        sim_warn(sim, "exception %u: stacking to 0x%08x failed (SP 0x%08x outside RAM)", exc, base, sp);
        if (c->active[EXC_HARDFAULT] || exc == EXC_HARDFAULT) {
            lockup(sim, "stacking fault in HardFault");
            return false;
        }
        c->hfsr |= 1u << 30;
        c->cfsr |= 1u << 12; /* BFSR.STKERR */
        exc = EXC_HARDFAULT;
    }
    reg_write(sim, UC_ARM_REG_SP, base);
    reg_write(sim, UC_ARM_REG_IPSR, exc);
    reg_write(sim, UC_ARM_REG_CONTROL, reg_read(sim, UC_ARM_REG_CONTROL) & ~4u);
    uint32_t exc_return = 0xFFFFFFE1u | (fpca ? 0 : 0x10u) | (thread ? 8u : 0) | (on_psp ? 4u : 0);
    reg_write(sim, UC_ARM_REG_LR, exc_return);
    uint32_t vec;
    if (!read_vector(sim, exc, &vec) || !(vec & 1u)) {
        lockup(sim, "exception vector without Thumb bit or outside memory");
        return false;
    }
    c->pending[exc] = false;
    c->active[exc] = true;
    sim->pc = vec & ~1u;
    reg_write(sim, UC_ARM_REG_PC, vec | 1u);
    sim_rebuild_hflags(sim);
    sim_trace(sim, SIM_TR_IRQ, "exception %u entry (return to 0x%08x, LR 0x%08x)", exc, return_pc, exc_return);
    return true;
}

bool cortexm_take_pending(sim_t *sim)
{
    struct cortexm *c = cm(sim);
    refresh_lines(c);
    unsigned e = highest_pending(c);
    if (!e)
        return false;
    if (group_of(c, exc_priority(c, e)) >= execution_priority(sim, -1))
        return false;
    return enter_exception(sim, e, sim->pc);
}

bool cortexm_masked_pending(sim_t *sim)
{
    struct cortexm *c = cm(sim);
    refresh_lines(c);
    return highest_pending(c) != 0;
}

bool cortexm_wakeup_pending(sim_t *sim)
{
    struct cortexm *c = cm(sim);
    refresh_lines(c);
    unsigned e = highest_pending(c);
    if (!e)
        return false;
    /* WFI wakes on a pending interrupt that would preempt if PRIMASK were clear. */
    int p = 256;
    for (unsigned x = 2; x < NUM_EXC; x++)
        if (c->active[x]) {
            int g = group_of(c, exc_priority(c, x));
            if (g < p)
                p = g;
        }
    return group_of(c, exc_priority(c, e)) < p;
}

static void exception_return(sim_t *sim, uint32_t exc_return)
{
    struct cortexm *c = cm(sim);
    uint32_t ipsr = reg_read(sim, UC_ARM_REG_IPSR) & 0x1FF;
    if (ipsr == 0 || (exc_return & 0xFFFFFF00u) != 0xFFFFFF00u) {
        lockup(sim, "EXC_RETURN in thread mode");
        return;
    }
    c->active[ipsr] = false;
    sim_trace(sim, SIM_TR_IRQ, "exception %u return (EXC_RETURN 0x%08x)", ipsr, exc_return);

    /* Tail-chain: a pending exception that may preempt the context we would return to. */
    refresh_lines(c);
    unsigned next = highest_pending(c);
    if (next && group_of(c, exc_priority(c, next)) < execution_priority(sim, -1)) {
        uint32_t vec;
        if (!read_vector(sim, next, &vec) || !(vec & 1u)) {
            lockup(sim, "tail-chained vector invalid");
            return;
        }
        c->pending[next] = false;
        c->active[next] = true;
        reg_write(sim, UC_ARM_REG_IPSR, next);
        reg_write(sim, UC_ARM_REG_LR, exc_return);
        sim->pc = vec & ~1u;
        reg_write(sim, UC_ARM_REG_PC, vec | 1u);
        sim_rebuild_hflags(sim);
        sim_trace(sim, SIM_TR_IRQ, "tail-chain to exception %u", next);
        return;
    }

    bool to_thread = exc_return & 8;
    bool use_psp = exc_return & 4;
    bool fp_frame = !(exc_return & 0x10);
    uint32_t frame_sp = reg_read(sim, use_psp ? UC_ARM_REG_PSP : UC_ARM_REG_MSP);
    uint32_t size = fp_frame ? 0x68 : 0x20;
    uint32_t frame[26];
    if (uc_mem_read(sim->uc, frame_sp, frame, size) != UC_ERR_OK) {
        lockup(sim, "unstacking from invalid memory");
        return;
    }
    uint32_t xpsr = frame[7];
    uint32_t new_sp = frame_sp + size + ((xpsr >> 9) & 1 ? 4 : 0);
    reg_write(sim, use_psp ? UC_ARM_REG_PSP : UC_ARM_REG_MSP, new_sp);
    uint32_t control = reg_read(sim, UC_ARM_REG_CONTROL);
    if (to_thread) {
        /* v7-M ignores SPSEL writes in handler mode: drop privilege last. */
        reg_write(sim, UC_ARM_REG_CONTROL, control & ~1u);
        reg_write(sim, UC_ARM_REG_IPSR, 0);
        reg_write(sim, UC_ARM_REG_CONTROL, (control & 1u) | (use_psp ? 2u : 0) | (fp_frame ? 4u : 0));
    } else {
        reg_write(sim, UC_ARM_REG_IPSR, xpsr & 0x1FF);
        reg_write(sim, UC_ARM_REG_CONTROL, (control & ~4u) | (fp_frame ? 4u : 0));
    }
    static const int core_regs[6] = {UC_ARM_REG_R0, UC_ARM_REG_R1, UC_ARM_REG_R2, UC_ARM_REG_R3, UC_ARM_REG_R12,
                                     UC_ARM_REG_LR};
    for (int i = 0; i < 6; i++)
        reg_write(sim, core_regs[i], frame[i]);
    if (fp_frame) {
        for (int i = 0; i < 16; i++)
            reg_write(sim, UC_ARM_REG_S0 + i, frame[8 + i]);
        reg_write(sim, UC_ARM_REG_FPSCR, frame[24]);
    }
    reg_write(sim, UC_ARM_REG_XPSR_NZCVQG, (xpsr & ~(1u << 9)) | (1u << 24));
    if (to_thread && (xpsr & 0x1FF) != 0)
        sim_warn(sim, "EXC_RETURN to thread mode but the stacked IPSR is %u", xpsr & 0x1FF);
    sim->pc = frame[6] & ~1u;
    reg_write(sim, UC_ARM_REG_PC, frame[6] | 1u);
    sim_rebuild_hflags(sim);
}

static void escalate(sim_t *sim, unsigned want, uint32_t return_pc, const char *why)
{
    struct cortexm *c = cm(sim);
    bool enabled = (want == EXC_MEMMANAGE && (c->shcsr & (1u << 16))) ||
                   (want == EXC_BUSFAULT && (c->shcsr & (1u << 17))) ||
                   (want == EXC_USAGEFAULT && (c->shcsr & (1u << 18)));
    unsigned exc = want;
    if (!enabled || group_of(c, exc_priority(c, want)) >= execution_priority(sim, -1)) {
        exc = EXC_HARDFAULT;
        c->hfsr |= 1u << 30; /* FORCED */
    }
    if (exc == EXC_HARDFAULT && (c->active[EXC_HARDFAULT] || c->active[EXC_NMI])) {
        lockup(sim, why);
        return;
    }
    sim_trace(sim, SIM_TR_IRQ, "fault: %s -> exception %u", why, exc);
    enter_exception(sim, exc, return_pc);
}

void cortexm_bus_fault(sim_t *sim, uint32_t addr, bool write)
{
    struct cortexm *c = cm(sim);
    (void)write;
    c->cfsr |= (1u << 9) | (1u << 15); /* PRECISERR, BFARVALID */
    c->bfar = addr;
    escalate(sim, EXC_BUSFAULT, sim->pc, "bus fault");
}

void cortexm_usage_fault(sim_t *sim, const char *what)
{
    struct cortexm *c = cm(sim);
    c->cfsr |= 1u << 16; /* UNDEFINSTR */
    sim_warn(sim, "usage fault: %s at 0x%08x", what, sim->pc);
    escalate(sim, EXC_USAGEFAULT, sim->pc, what);
}

void cortexm_on_intr(sim_t *sim, uint32_t intno)
{
    struct cortexm *c = cm(sim);
    uint32_t pc = reg_read(sim, UC_ARM_REG_PC);
    switch (intno) {
    case 8: /* EXC_RETURN branch in handler mode */
        exception_return(sim, pc | 1u);
        return;
    case 3: /* prefetch abort: EXC_RETURN with stale hflags, or execution from XN space */
        if (pc >= 0xFFFFFFE0u) {
            exception_return(sim, pc | 1u);
            return;
        }
        c->cfsr |= 1u << 0; /* IACCVIOL */
        sim->pc = pc & ~1u;
        escalate(sim, EXC_MEMMANAGE, pc, "instruction fetch from a no-execute region");
        return;
    case 2: { /* SVC: PC is after the instruction */
        sim->pc = pc & ~1u;
        if (group_of(c, exc_priority(c, EXC_SVCALL)) >= execution_priority(sim, -1)) {
            escalate(sim, EXC_HARDFAULT, pc, "SVC at a priority that cannot take SVCall");
            return;
        }
        enter_exception(sim, EXC_SVCALL, pc);
        return;
    }
    case 7: { /* BKPT */
        sim->pc = pc & ~1u;
        uint16_t insn = 0;
        sim_read_mem(sim, sim->pc, &insn, 2);
        if (sim->pc >= SIM_SYSMEM_BASE && sim->pc < SIM_SYSMEM_BASE + SIM_SYSMEM_SIZE) {
            char why[900];
            sim_describe_rom_entry(sim, why, sizeof why);
            sim_set_stop(sim, SIM_STOP_BREAK, "%s", why);
        } else
            sim_set_stop(sim, SIM_STOP_BREAK, "BKPT #0x%02x at 0x%08x", insn & 0xFF, sim->pc);
        uc_emu_stop(sim->uc);
        return;
    }
    case 17: /* NOCP */
        c->cfsr |= 1u << 19;
        sim->pc = pc & ~1u;
        escalate(sim, EXC_USAGEFAULT, pc, "coprocessor access (NOCP)");
        return;
    case 4: /* data abort: misaligned exclusive access */
        c->cfsr |= 1u << 24; /* UNALIGNED */
        sim->pc = pc & ~1u;
        escalate(sim, EXC_USAGEFAULT, pc, "unaligned exclusive access");
        return;
    default:
        sim->pc = pc & ~1u;
        sim_warn(sim, "engine exception %u at 0x%08x", intno, pc);
        escalate(sim, EXC_HARDFAULT, pc, "unexpected engine exception");
        return;
    }
}

/* ------------------------------------------------------------------ IRQ lines */

void cortexm_set_pending_irq(sim_t *sim, unsigned irqn, bool level)
{
    struct cortexm *c = cm(sim);
    if (c->line[irqn] == level)
        return;
    c->line[irqn] = level;
    if (level)
        c->lines_high++;
    else
        c->lines_high--;
    if (level) {
        if (!c->active[16 + irqn])
            c->pending[16 + irqn] = true;
        sim_trace(sim, SIM_TR_IRQ, "IRQ %u line high", irqn);
        sim_attention(sim);
    }
}

void cortexm_pulse_irq(sim_t *sim, unsigned irqn)
{
    struct cortexm *c = cm(sim);
    c->pending[16 + irqn] = true;
    sim_trace(sim, SIM_TR_IRQ, "IRQ %u pended", irqn);
    sim_attention(sim);
}

uint32_t cortexm_vtor(sim_t *sim)
{
    return cm(sim)->vtor;
}

/* ------------------------------------------------------------------ SysTick */

static uint32_t systick_clock_hz(sim_t *sim)
{
    uint32_t hclk = 4000000;
#ifdef L4SIM_HAVE_RCC
    if (sim->models[SIM_M_RCC])
        hclk = rcc_hclk_hz(sim);
#endif
    if (!hclk)
        hclk = 4000000;
    return (cm(sim)->syst_csr & 4) ? hclk : hclk / 8;
}

/* Zero crossings of the down-counter in (epoch, t]. */
static uint64_t systick_zeros(struct cortexm *c, uint64_t t)
{
    if (!(c->syst_csr & 1) || t <= c->syst_epoch || !c->syst_tick_ps)
        return 0;
    uint64_t ticks = (t - c->syst_epoch) / c->syst_tick_ps;
    uint64_t first = c->syst_val0 ? c->syst_val0 : (uint64_t)c->syst_rvr + 1; /* ticks to the first zero */
    if (c->syst_val0 == 0 && c->syst_rvr == 0)
        return 0;
    if (ticks < first)
        return 0;
    if (c->syst_rvr == 0)
        return 1;
    return 1 + (ticks - first) / ((uint64_t)c->syst_rvr + 1);
}

static uint32_t systick_value(struct cortexm *c, uint64_t t)
{
    if (!(c->syst_csr & 1) || !c->syst_tick_ps)
        return c->syst_val0;
    uint64_t ticks = (t - c->syst_epoch) / c->syst_tick_ps;
    if (ticks <= c->syst_val0)
        return c->syst_val0 - (uint32_t)ticks;
    if (c->syst_rvr == 0)
        return 0;
    uint64_t after = ticks - c->syst_val0 - 1; /* ticks after the first reload */
    return c->syst_rvr - (uint32_t)(after % ((uint64_t)c->syst_rvr + 1));
}

/* Re-anchor the counter at now (clock change or register write), turning crossings
 * already due into the interrupt and COUNTFLAG first. */
static void systick_rebase(sim_t *sim)
{
    struct cortexm *c = cm(sim);
    uint64_t now = sim->now;
    uint64_t z = systick_zeros(c, now);
    if (z > c->syst_zeros_irq && (c->syst_csr & 3) == 3) {
        c->pending[EXC_SYSTICK] = true;
        sim_attention(sim);
    }
    if (z > c->syst_zeros_read)
        c->syst_flag_carry = true;
    c->syst_val0 = systick_value(c, now);
    c->syst_epoch = now;
    c->syst_tick_ps = SIM_PS_PER_S / systick_clock_hz(sim);
    c->syst_zeros_irq = 0;
    c->syst_zeros_read = 0;
}

/* ------------------------------------------------------------------ register access */

static uint32_t icsr_read(sim_t *sim)
{
    struct cortexm *c = cm(sim);
    uint32_t v = reg_read(sim, UC_ARM_REG_IPSR) & 0x1FF;
    refresh_lines(c);
    unsigned p = highest_pending(c);
    v |= (p & 0x1FF) << 12;
    for (unsigned n = 0; n < SIM_IRQ_COUNT; n++)
        if (c->pending[16 + n]) {
            v |= 1u << 22;
            break;
        }
    unsigned nactive = 0;
    for (unsigned e = 2; e < NUM_EXC; e++)
        nactive += c->active[e];
    if (nactive <= 1)
        v |= 1u << 11; /* RETTOBASE */
    if (c->pending[EXC_SYSTICK])
        v |= 1u << 26;
    if (c->pending[EXC_PENDSV])
        v |= 1u << 28;
    if (c->pending[EXC_NMI])
        v |= 1u << 31;
    return v;
}

static uint32_t bits_of(const bool *b, unsigned first, unsigned count)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < 32 && first + i < count; i++)
        if (b[first + i])
            v |= 1u << i;
    return v;
}

static uint32_t scs_read(void *self, uint32_t off, unsigned size)
{
    struct cortexm *c = self;
    sim_t *sim = c->sim;
    if (off >= 0x400 && off < 0x400 + SIM_IRQ_COUNT) {
        uint32_t v = 0;
        for (unsigned i = 0; i < size && off - 0x400 + i < SIM_IRQ_COUNT; i++)
            v |= (uint32_t)c->ipr[off - 0x400 + i] << (8 * i);
        return v;
    }
    if (off >= 0xD18 && off < 0xD24) {
        uint32_t v = 0;
        for (unsigned i = 0; i < size && off - 0xD18 + i < 12; i++)
            v |= (uint32_t)c->shpr[off - 0xD18 + i] << (8 * i);
        return v;
    }
    if (off >= 0x100 && off < 0x10C)
        return bits_of(c->enabled, (off - 0x100) * 8, SIM_IRQ_COUNT);
    if (off >= 0x180 && off < 0x18C)
        return bits_of(c->enabled, (off - 0x180) * 8, SIM_IRQ_COUNT);
    if ((off >= 0x200 && off < 0x20C) || (off >= 0x280 && off < 0x28C)) {
        refresh_lines(c);
        return bits_of(c->pending + 16, ((off & 0xF) * 8), SIM_IRQ_COUNT);
    }
    if (off >= 0x300 && off < 0x30C)
        return bits_of(c->active + 16, (off - 0x300) * 8, SIM_IRQ_COUNT);
    if (off >= 0xDA0 && off < 0xDB8) { /* MPU RBAR/RASR and aliases */
        unsigned r = c->mpu_rnr & 7;
        return ((off - 0xD9C) & 4) ? c->mpu_rbar[r] : c->mpu_rasr[r];
    }
    switch (off) {
    case 0x004: return 2;
    case 0x008: return c->actlr;
    case 0x010: {
        uint32_t v = c->syst_csr;
        uint64_t z = systick_zeros(c, sim->now);
        if (z > c->syst_zeros_read || c->syst_flag_carry) {
            v |= 1u << 16;
            c->syst_zeros_read = z;
            c->syst_flag_carry = false;
        }
        return v;
    }
    case 0x014: return c->syst_rvr;
    case 0x018: return systick_value(c, sim->now);
    case 0x01C: return 0xC0000000u;
    case 0xD00: return 0x410FC241u;
    case 0xD04: return icsr_read(sim);
    case 0xD08: return c->vtor;
    case 0xD0C: return 0xFA050000u | (c->prigroup << 8);
    case 0xD10: return c->scr;
    case 0xD14: return c->ccr;
    case 0xD24: {
        uint32_t v = c->shcsr & 0x00070000u;
        v |= c->active[EXC_MEMMANAGE] ? 1u : 0;
        v |= c->active[EXC_BUSFAULT] ? 2u : 0;
        v |= c->active[EXC_USAGEFAULT] ? 8u : 0;
        v |= c->active[EXC_SVCALL] ? 1u << 7 : 0;
        v |= c->active[EXC_PENDSV] ? 1u << 10 : 0;
        v |= c->active[EXC_SYSTICK] ? 1u << 11 : 0;
        return v;
    }
    case 0xD28: return c->cfsr >> (8 * 0);
    case 0xD29: return (c->cfsr >> 8) & 0xFF;
    case 0xD2A: return c->cfsr >> 16;
    case 0xD2C: return c->hfsr;
    case 0xD30: return 0;
    case 0xD34: return c->mmfar;
    case 0xD38: return c->bfar;
    case 0xD3C: return 0;
    case 0xD88: return c->cpacr;
    case 0xD90: return 0x00000800u;
    case 0xD94: return c->mpu_ctrl;
    case 0xD98: return c->mpu_rnr;
    case 0xD9C: return c->mpu_rbar[c->mpu_rnr & 7];
    case 0xDF0: return 0; /* DHCSR: no debugger attached */
    case 0xDFC: return c->demcr;
    case 0xF34: return c->fpccr;
    case 0xF38: return c->fpcar;
    case 0xF3C: return c->fpdscr;
    }
    return sim_bad_access(sim, "SCS", SCS_BASE + off, false, 0);
}

static void set_bits(bool *b, unsigned first, unsigned count, uint32_t v, bool to)
{
    for (unsigned i = 0; i < 32 && first + i < count; i++)
        if (v & (1u << i))
            b[first + i] = to;
}

static void scs_write(void *self, uint32_t off, uint32_t v, unsigned size)
{
    struct cortexm *c = self;
    sim_t *sim = c->sim;
    if (off >= 0x400 && off < 0x400 + SIM_IRQ_COUNT) {
        for (unsigned i = 0; i < size && off - 0x400 + i < SIM_IRQ_COUNT; i++)
            c->ipr[off - 0x400 + i] = (uint8_t)(v >> (8 * i)) & 0xF0;
        sim_attention(sim);
        return;
    }
    if (off >= 0xD18 && off < 0xD24) {
        for (unsigned i = 0; i < size && off - 0xD18 + i < 12; i++)
            c->shpr[off - 0xD18 + i] = (uint8_t)(v >> (8 * i)) & 0xF0;
        sim_attention(sim);
        return;
    }
    if (off >= 0x100 && off < 0x10C) {
        set_bits(c->enabled, (off - 0x100) * 8, SIM_IRQ_COUNT, v, true);
        sim_attention(sim);
        return;
    }
    if (off >= 0x180 && off < 0x18C) {
        set_bits(c->enabled, (off - 0x180) * 8, SIM_IRQ_COUNT, v, false);
        return;
    }
    if (off >= 0x200 && off < 0x20C) {
        set_bits(c->pending + 16, (off - 0x200) * 8, SIM_IRQ_COUNT, v, true);
        sim_attention(sim);
        return;
    }
    if (off >= 0x280 && off < 0x28C) {
        set_bits(c->pending + 16, (off - 0x280) * 8, SIM_IRQ_COUNT, v, false);
        return;
    }
    if (off >= 0xDA0 && off < 0xDB8) {
        unsigned r = c->mpu_rnr & 7;
        if ((off - 0xD9C) & 4)
            c->mpu_rbar[r] = v;
        else
            c->mpu_rasr[r] = v;
        return;
    }
    switch (off) {
    case 0x008: c->actlr = v; return;
    case 0x010:
        systick_rebase(sim);
        c->syst_csr = v & 7u;
        c->syst_tick_ps = SIM_PS_PER_S / systick_clock_hz(sim);
        sim_reschedule(sim);
        return;
    case 0x014: c->syst_rvr = v & 0x00FFFFFFu; return;
    case 0x018:
        /* any write clears the counter and COUNTFLAG */
        c->syst_epoch = sim->now;
        c->syst_val0 = 0;
        c->syst_tick_ps = SIM_PS_PER_S / systick_clock_hz(sim);
        c->syst_zeros_read = 0;
        c->syst_zeros_irq = 0;
        c->syst_flag_carry = false;
        sim_reschedule(sim);
        return;
    case 0x01C: return;
    case 0xD04:
        if (v & (1u << 31))
            c->pending[EXC_NMI] = true;
        if (v & (1u << 28))
            c->pending[EXC_PENDSV] = true;
        if (v & (1u << 27))
            c->pending[EXC_PENDSV] = false;
        if (v & (1u << 26))
            c->pending[EXC_SYSTICK] = true;
        if (v & (1u << 25))
            c->pending[EXC_SYSTICK] = false;
        sim_attention(sim);
        return;
    case 0xD08:
        if (v & 0x1FFu)
            sim_warn(sim, "VTOR=0x%08x is not 512-byte aligned: with 98 vectors the table needs 512-byte alignment", v);
        c->vtor = v & 0xFFFFFF80u;
        return;
    case 0xD0C:
        if ((v >> 16) != 0x05FA) {
            sim_warn(sim, "AIRCR write 0x%08x without VECTKEY 0x05FA: ignored", v);
            return;
        }
        c->prigroup = (v >> 8) & 7;
        if (v & 4) {
            sim_trace(sim, SIM_TR_CPU, "AIRCR.SYSRESETREQ");
            sim_request_reset(sim, SIM_RESET_SYSTEM, SIM_CAUSE_SOFTWARE);
        }
        if (v & 2)
            memset(c->active, 0, sizeof c->active);
        return;
    case 0xD10: c->scr = v & 0x16u; return;
    case 0xD14: c->ccr = (v & 0x31Bu) | 0x200u; return;
    case 0xD24: c->shcsr = (c->shcsr & ~0x00070000u) | (v & 0x00070000u); return;
    case 0xD28: c->cfsr &= ~v; return;
    case 0xD29: c->cfsr &= ~(v << 8); return;
    case 0xD2A: c->cfsr &= ~(v << 16); return;
    case 0xD2C: c->hfsr &= ~v; return;
    case 0xD34: c->mmfar = v; return;
    case 0xD38: c->bfar = v; return;
    case 0xD88: c->cpacr = v & 0x00F00000u; return;
    case 0xD94: c->mpu_ctrl = v & 7u; return;
    case 0xD98: c->mpu_rnr = v & 0xFFu; return;
    case 0xD9C:
        if (v & 0x10u)
            c->mpu_rnr = v & 7u;
        c->mpu_rbar[c->mpu_rnr & 7] = v & ~0x1Fu;
        return;
    case 0xDF0: case 0xDF4: case 0xDF8: return; /* debug halting control: no debugger */
    case 0xDFC: c->demcr = v & 0x010F07F1u; return;
    case 0xF00:
        if ((v & 0x1FF) < SIM_IRQ_COUNT) {
            c->pending[16 + (v & 0x1FF)] = true;
            sim_attention(sim);
        }
        return;
    case 0xF34: c->fpccr = v & 0xC00001FBu; return;
    case 0xF38: c->fpcar = v & ~7u; return;
    case 0xF3C: c->fpdscr = v & 0x07C00000u; return;
    }
    sim_bad_access(sim, "SCS", SCS_BASE + off, true, v);
}

static uint64_t scs_next_event(void *self)
{
    struct cortexm *c = self;
    if ((c->syst_csr & 3) != 3 || !c->syst_tick_ps)
        return SIM_NEVER;
    /* time of the next zero crossing not yet turned into an interrupt */
    uint64_t done = c->syst_zeros_irq;
    uint64_t first = c->syst_val0 ? c->syst_val0 : (uint64_t)c->syst_rvr + 1;
    if (c->syst_rvr == 0 && done >= 1)
        return SIM_NEVER;
    uint64_t ticks = first + done * ((uint64_t)c->syst_rvr + 1);
    return c->syst_epoch + ticks * c->syst_tick_ps;
}

static void scs_advance(void *self, uint64_t now)
{
    struct cortexm *c = self;
    sim_t *sim = c->sim;
    if (!(c->syst_csr & 1))
        return;
    uint64_t want = SIM_PS_PER_S / systick_clock_hz(sim);
    if (want != c->syst_tick_ps) {
        systick_rebase(sim);
        return;
    }
    uint64_t z = systick_zeros(c, now);
    if (z > c->syst_zeros_irq) {
        c->syst_zeros_irq = z;
        if (c->syst_csr & 2) {
            c->pending[EXC_SYSTICK] = true;
            sim_attention(sim);
        }
    }
}

static void scs_reset(void *self, enum sim_reset_kind kind)
{
    (void)kind;
    struct cortexm *c = self;
    sim_t *sim = c->sim;
    memset(c, 0, sizeof *c);
    c->sim = sim;
    c->ccr = 0x200;
    c->fpccr = 0xC0000000u;
    c->syst_tick_ps = SIM_PS_PER_S / 500000; /* HCLK/8 at 4 MHz */
}


/* DWT: only CTRL.CYCCNTENA and CYCCNT; cycles derived from virtual time at the current HCLK. */
static uint32_t dwt_cycles(struct cortexm *c)
{
    sim_t *sim = c->sim;
    if (!(c->dwt_ctrl & 1) || !sim->ps_per_cycle)
        return c->dwt_base_count;
    return c->dwt_base_count + (uint32_t)((sim->now - c->dwt_base_ps) / sim->ps_per_cycle);
}

static uint32_t dwt_read(void *self, uint32_t off, unsigned size)
{
    (void)size;
    struct cortexm *c = self;
    switch (off) {
    case 0x000: return c->dwt_ctrl | 0x40000000u; /* NUMCOMP = 4 */
    case 0x004: return dwt_cycles(c);
    }
    return sim_bad_access(c->sim, "DWT", DWT_BASE + off, false, 0);
}

static void dwt_write(void *self, uint32_t off, uint32_t v, unsigned size)
{
    (void)size;
    struct cortexm *c = self;
    switch (off) {
    case 0x000:
        if (!(c->demcr & (1u << 24)))
            sim_warn(c->sim, "DWT_CTRL written while DEMCR.TRCENA is 0: the DWT is not powered, write lost");
        else {
            c->dwt_base_count = dwt_cycles(c);
            c->dwt_base_ps = c->sim->now;
            c->dwt_ctrl = v & 1u;
        }
        return;
    case 0x004:
        c->dwt_base_count = v;
        c->dwt_base_ps = c->sim->now;
        return;
    }
    sim_bad_access(c->sim, "DWT", DWT_BASE + off, true, v);
}

static const sim_periph_ops dwt_ops = {.name = "DWT", .read = dwt_read, .write = dwt_write};

/* DBGMCU: IDCODE (device 0x415, revision 4 = rev. 3 silicon, unverified) and freeze bits. */
static uint32_t dbgmcu_read(void *self, uint32_t off, unsigned size)
{
    (void)size;
    struct cortexm *c = self;
    switch (off) {
    case 0x00: return 0x10076415u;
    case 0x04: return c->dbg_cr;
    case 0x08: return c->dbg_apb1fz1;
    case 0x0C: return c->dbg_apb1fz2;
    case 0x10: return c->dbg_apb2fz;
    }
    return sim_bad_access(c->sim, "DBGMCU", DBGMCU_BASE + off, false, 0);
}

static void dbgmcu_write(void *self, uint32_t off, uint32_t v, unsigned size)
{
    (void)size;
    struct cortexm *c = self;
    switch (off) {
    case 0x04: c->dbg_cr = v & 0xE7u; return;
    case 0x08: c->dbg_apb1fz1 = v; return;
    case 0x0C: c->dbg_apb1fz2 = v; return;
    case 0x10: c->dbg_apb2fz = v; return;
    }
    sim_bad_access(c->sim, "DBGMCU", DBGMCU_BASE + off, true, v);
}

static const sim_periph_ops dbgmcu_ops = {.name = "DBGMCU", .read = dbgmcu_read, .write = dbgmcu_write};

static void cortexm_destroy(void *self)
{
    free(self);
}

static const sim_periph_ops scs_ops_owner = {
    .name = "SCS",
    .read = scs_read,
    .write = scs_write,
    .reset = scs_reset,
    .next_event = scs_next_event,
    .advance = scs_advance,
    .destroy = cortexm_destroy,
};

void cortexm_attach(sim_t *sim)
{
    struct cortexm *c = calloc(1, sizeof *c);
    c->sim = sim;
    sim->core = c;
    scs_reset(c, SIM_RESET_POWER_ON);
    sim_add_periph(sim, SCS_BASE, 0x1000, &scs_ops_owner, c);
    sim_add_periph(sim, DWT_BASE, 0x1000, &dwt_ops, c);
    sim_add_periph(sim, DBGMCU_BASE, 0x400, &dbgmcu_ops, c);
}

void cortexm_reset(sim_t *sim)
{
    /* scs_reset ran as the SCS window's reset hook; nothing else to do */
    (void)sim;
}
