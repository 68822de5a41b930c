/* exceptions: the Cortex-M4 exception model as l4dfu's programs rely on it.
 * SysTick ticks; a high-priority IRQ pended inside a low-priority handler preempts it;
 * two IRQs pending together tail-chain in priority/number order; the FP context
 * survives an interrupt that uses FP; an IRQ pended under PRIMASK is taken right at
 * CPSIE; BASEPRI masks by priority; SVC starts and PendSV switches two tasks on PSP.
 * Device IRQs used (all of peripherals nothing here enables): 54..61. */
#include "testlib.h"
#include "regs/cortex_m4.h"

enum {
    IRQ_NEST_HIGH = 54, /* TIM6_DAC */
    IRQ_NEST_LOW = 55,  /* TIM7 */
    IRQ_CHAIN_A = 56,   /* DMA2_Channel1 */
    IRQ_CHAIN_B = 57,   /* DMA2_Channel2 */
    IRQ_FP = 58,        /* DMA2_Channel3 */
    IRQ_PRIMASK = 59,   /* DMA2_Channel4 */
    IRQ_BASEPRI_LOW = 60,  /* DMA2_Channel5 */
    IRQ_BASEPRI_HIGH = 61, /* DFSDM1_FLT0 */
};
#define POLLS 2000000u

static void irq_setup(unsigned irq, uint8_t priority)
{
    NVIC_IPR8(irq) = priority;
    NVIC_ICPR(irq / 32u) = 1u << (irq % 32u);
    NVIC_ISER(irq / 32u) = 1u << (irq % 32u);
}

static void irq_pend(unsigned irq)
{
    NVIC_ISPR(irq / 32u) = 1u << (irq % 32u);
}

static uint32_t ipsr(void)
{
    uint32_t value;
    __asm__ volatile("mrs %0, ipsr" : "=r"(value));
    return value;
}

/* ---- SysTick ---- */
static volatile uint32_t systicks;

void SysTick_Handler(void)
{
    systicks++;
}

static void test_systick(void)
{
    SYST_RVR = clock_hclk_hz() / 1000u - 1u;
    SYST_CVR = 0u;
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE;
    uint32_t polls = POLLS;
    while (systicks < 5u && polls--) {
    }
    SYST_CSR = 0u;
    test_check(systicks >= 5u, "SysTick interrupt did not tick");
    console_puts("systick ok\n");
}

/* ---- preemption and tail-chaining ---- */
static volatile char order[8];
static volatile uint32_t order_len;
static volatile uint32_t nest_high_ipsr, nest_done;
static volatile uint32_t chain_a_seen, chain_b_seen, thread_spins;

static void note(char c)
{
    if (order_len < sizeof order)
        order[order_len++] = c;
}

void TIM6_DAC_IRQHandler(void)
{
    nest_high_ipsr = ipsr();
    note('H');
}

void TIM7_IRQHandler(void)
{
    note('L');
    NVIC_STIR = IRQ_NEST_HIGH;
    cpu_dsb();
    cpu_isb();
    uint32_t polls = POLLS;
    while (nest_high_ipsr == 0u && polls--) {
    }
    note('l');
    nest_done = 1u;
}

void DMA2_Channel1_IRQHandler(void)
{
    note('A');
    chain_a_seen = thread_spins + 1u;
}

void DMA2_Channel2_IRQHandler(void)
{
    note('B');
    chain_b_seen = thread_spins + 1u;
}

static void test_nesting_and_chaining(void)
{
    irq_setup(IRQ_NEST_HIGH, 0x40);
    irq_setup(IRQ_NEST_LOW, 0xC0);
    NVIC_STIR = IRQ_NEST_LOW;
    test_check(test_wait_flag(&nest_done, POLLS), "low-priority IRQ did not run");
    test_check_eq(nest_high_ipsr, 16u + IRQ_NEST_HIGH, "IPSR in the preempting handler");
    test_check(order_len == 3 && order[0] == 'L' && order[1] == 'H' && order[2] == 'l',
               "high-priority IRQ did not preempt the low one");
    console_puts("preemption ok\n");

    order_len = 0;
    irq_setup(IRQ_CHAIN_A, 0x80);
    irq_setup(IRQ_CHAIN_B, 0x80);
    cpu_irq_disable();
    irq_pend(IRQ_CHAIN_B);
    irq_pend(IRQ_CHAIN_A);
    cpu_irq_enable();
    uint32_t polls = POLLS;
    while (chain_b_seen == 0u && polls--)
        thread_spins++;
    test_check(order_len == 2 && order[0] == 'A' && order[1] == 'B',
               "equal-priority IRQs not taken in IRQ-number order");
    test_check_eq(chain_b_seen, chain_a_seen,
                  "thread ran between two pending IRQs (no tail-chain)");
    console_puts("tail-chain ok\n");
}

/* ---- FP context across an interrupt ---- */
static volatile uint32_t fp_irq_done, fp_irq_exc_return;

void DMA2_Channel3_IRQHandler(void)
{
    uint32_t exc_return;
    __asm__ volatile("mov %0, lr" : "=r"(exc_return));
    fp_irq_exc_return = exc_return;
    /* Use the FP unit and wreck every caller-saved FP register and FPSCR. */
    __asm__ volatile("vmov.f32 s0, #1.0\n\t"
                     "vadd.f32 s1, s0, s0\n\t"
                     "vmul.f32 s2, s1, s1\n\t"
                     "vmov s3, s2\n\tvmov s4, s2\n\tvmov s5, s2\n\tvmov s6, s2\n\t"
                     "vmov s7, s2\n\tvmov s8, s2\n\tvmov s9, s2\n\tvmov s10, s2\n\t"
                     "vmov s11, s2\n\tvmov s12, s2\n\tvmov s13, s2\n\tvmov s14, s2\n\t"
                     "vmov s15, s2\n\t"
                     "vmsr fpscr, %0\n\t"
                     :
                     : "r"(0u)
                     : "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10",
                       "s11", "s12", "s13", "s14", "s15");
    fp_irq_done = 1u;
}

static void test_fp_context(void)
{
    static uint32_t before[16], after[16];
    for (unsigned i = 0; i < 16; i++)
        before[i] = 0x40490FDBu + 0x01010101u * i;
    uint32_t fpscr_before = 0x03C00000u; /* DN, FZ, RMode = towards zero */
    uint32_t fpscr_after;
    irq_setup(IRQ_FP, 0x80);
    __asm__ volatile("vldmia %[in], {s0-s15}\n\t"
                     "vmsr fpscr, %[fpscr_in]\n\t"
                     "str %[irq], [%[stir]]\n\t"
                     "mov r12, #0x100000\n"
                     "1:\tldr r3, [%[done]]\n\t"
                     "cbnz r3, 2f\n\t"
                     "subs r12, r12, #1\n\t"
                     "bne 1b\n"
                     "2:\tvstmia %[out], {s0-s15}\n\t"
                     "vmrs %[fpscr_out], fpscr\n\t"
                     : [fpscr_out] "=&r"(fpscr_after)
                     : [in] "r"(before), [out] "r"(after), [stir] "r"(&NVIC_STIR),
                       [irq] "r"((uint32_t)IRQ_FP), [done] "r"(&fp_irq_done),
                       [fpscr_in] "r"(fpscr_before)
                     : "r3", "r12", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9",
                       "s10", "s11", "s12", "s13", "s14", "s15", "memory", "cc");
    test_check(fp_irq_done, "FP-using IRQ did not run");
    test_check((fp_irq_exc_return & 0x10u) == 0u, "IRQ entered without the extended (FP) frame");
    for (unsigned i = 0; i < 16; i++)
        test_check_eq(after[i], before[i], "FP register changed across the interrupt");
    test_check_eq(fpscr_after & 0x0FC0009Fu, fpscr_before, "FPSCR changed across the interrupt");
    console_puts("fp context ok\n");
}

/* ---- PRIMASK and BASEPRI ---- */
static volatile uint32_t primask_irq_ran, basepri_low_ran, basepri_high_ran;

void DMA2_Channel4_IRQHandler(void)
{
    primask_irq_ran = 1u;
}

void DMA2_Channel5_IRQHandler(void)
{
    basepri_low_ran = 1u;
}

void DFSDM1_FLT0_IRQHandler(void)
{
    basepri_high_ran = 1u;
}

static void test_masking(void)
{
    irq_setup(IRQ_PRIMASK, 0x80);
    cpu_irq_disable();
    irq_pend(IRQ_PRIMASK);
    for (volatile uint32_t spin = 0; spin < 2000u; spin++) {
    }
    test_check(!primask_irq_ran, "IRQ ran while PRIMASK was set");
    uint32_t ran_at_cpsie;
    __asm__ volatile("cpsie i\n\tisb\n\tldr %0, [%1]"
                     : "=r"(ran_at_cpsie)
                     : "r"(&primask_irq_ran)
                     : "memory");
    test_check(ran_at_cpsie, "pending IRQ not taken right at CPSIE");
    console_puts("primask ok\n");

    irq_setup(IRQ_BASEPRI_LOW, 0xC0);
    irq_setup(IRQ_BASEPRI_HIGH, 0x40);
    __asm__ volatile("msr basepri, %0\n\tisb" : : "r"(0x80u) : "memory");
    irq_pend(IRQ_BASEPRI_LOW);
    for (volatile uint32_t spin = 0; spin < 2000u; spin++) {
    }
    test_check(!basepri_low_ran, "BASEPRI 0x80 did not mask a priority 0xC0 IRQ");
    irq_pend(IRQ_BASEPRI_HIGH);
    test_check(test_wait_flag(&basepri_high_ran, POLLS), "BASEPRI 0x80 masked a priority 0x40 IRQ");
    uint32_t ran_at_unmask;
    __asm__ volatile("msr basepri, %1\n\tisb\n\tldr %0, [%2]"
                     : "=r"(ran_at_unmask)
                     : "r"(0u), "r"(&basepri_low_ran)
                     : "memory");
    test_check(ran_at_unmask, "masked IRQ not taken when BASEPRI was lowered");
    console_puts("basepri ok\n");
}

/* ---- SVC + PendSV: two tasks on the process stack ---- */
#define TASK_STACK_WORDS 256u
#define SWITCHES 16u
static uint32_t task_stack[2][TASK_STACK_WORDS] __attribute__((aligned(8)));
uint32_t *task_sp[2];
uint32_t current_task;
static volatile uint32_t switch_log[SWITCHES];
static volatile uint32_t switch_count;

/* SVC starts task 0: its saved frame looks like one PendSV left behind. */
__attribute__((naked)) void SVC_Handler(void)
{
    __asm__ volatile("ldr r0, =task_sp\n\t"
                     "ldr r0, [r0]\n\t"
                     "ldmia r0!, {r4-r11, lr}\n\t"
                     "msr psp, r0\n\t"
                     "bx lr\n\t");
}

/* Saves r4-r11 (and s16-s31 when the task used FP) on the running task's stack and
 * resumes the other task. */
__attribute__((naked)) void PendSV_Handler(void)
{
    __asm__ volatile("mrs r0, psp\n\t"
                     "tst lr, #0x10\n\t"
                     "it eq\n\t"
                     "vstmdbeq r0!, {s16-s31}\n\t"
                     "stmdb r0!, {r4-r11, lr}\n\t"
                     "ldr r2, =current_task\n\t"
                     "ldr r1, [r2]\n\t"
                     "ldr r3, =task_sp\n\t"
                     "str r0, [r3, r1, lsl #2]\n\t"
                     "eor r1, r1, #1\n\t"
                     "str r1, [r2]\n\t"
                     "ldr r0, [r3, r1, lsl #2]\n\t"
                     "ldmia r0!, {r4-r11, lr}\n\t"
                     "tst lr, #0x10\n\t"
                     "it eq\n\t"
                     "vldmiaeq r0!, {s16-s31}\n\t"
                     "msr psp, r0\n\t"
                     "bx lr\n\t");
}

static void yield(void)
{
    SCB_ICSR = SCB_ICSR_PENDSVSET;
    cpu_dsb();
    cpu_isb();
    uint32_t polls = POLLS;
    while ((SCB_ICSR & SCB_ICSR_PENDSVSET) && polls--) {
    }
}

static void tasks_finished(void)
{
    for (unsigned i = 0; i < SWITCHES; i++)
        test_check_eq(switch_log[i], i & 1u, "tasks did not alternate");
    console_puts("context switch ok\n");
    test_pass();
}

static void task_body(uint32_t id)
{
    uint32_t control;
    __asm__ volatile("mrs %0, control" : "=r"(control));
    test_check(control & 2u, "task not running on PSP");
    uint32_t runs = 0;
    uint32_t own = 1000u * id; /* lives in the task's registers/stack across switches */
    for (;;) {
        if (switch_count >= SWITCHES)
            tasks_finished();
        test_check_eq(own, 1000u * id + runs, "task state lost across a switch");
        switch_log[switch_count++] = id;
        own++;
        runs++;
        yield();
    }
}

static void task0(void) { task_body(0); }
static void task1(void) { task_body(1); }

static void task_create(unsigned i, void (*entry)(void))
{
    uint32_t *sp = &task_stack[i][TASK_STACK_WORDS];
    *--sp = 0x01000000u;                 /* xPSR: Thumb */
    *--sp = (uint32_t)entry | 1u;        /* PC */
    *--sp = 0xFFFFFFFFu;                 /* LR: a task never returns */
    for (unsigned r = 0; r < 5; r++)     /* r12, r3, r2, r1, r0 */
        *--sp = 0u;
    *--sp = 0xFFFFFFFDu;                 /* EXC_RETURN: thread, PSP, no FP frame */
    for (unsigned r = 0; r < 8; r++)     /* r11..r4 */
        *--sp = 0u;
    task_sp[i] = sp;
}

static void test_context_switch(void)
{
    SCB_SHPR3 = (SCB_SHPR3 & ~0x00FF0000u) | 0x00F00000u; /* PendSV lowest */
    task_create(0, task0);
    task_create(1, task1);
    current_task = 0;
    __asm__ volatile("svc 0" ::: "memory");
    test_fail("SVC returned to main");
}

int main(void)
{
    clock_init_80mhz();
    test_begin("exceptions");
    test_systick();
    test_nesting_and_chaining();
    test_fp_context();
    test_masking();
    test_context_switch();
}
