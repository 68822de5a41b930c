/* A bare test program for the l4sim core (no startup code, no libc): each test leaves
 * its results in a struct at the start of SRAM1, which the host test reads back. */
#include <stdint.h>

#define REG(a) (*(volatile uint32_t *)(a))
#define NVIC_ISER0 REG(0xE000E100u)
#define NVIC_ISPR0 REG(0xE000E200u)
#define NVIC_IPR(n) (*(volatile uint8_t *)(0xE000E400u + (n)))
#define STIR REG(0xE000EF00u)
#define SYST_CSR REG(0xE000E010u)
#define SYST_RVR REG(0xE000E014u)
#define SYST_CVR REG(0xE000E018u)
#define ICSR REG(0xE000ED04u)
#define SHPR3 REG(0xE000ED20u)

struct results {
    volatile uint32_t done;
    volatile uint32_t systick_count;
    volatile uint32_t order[16];
    volatile uint32_t order_len;
    volatile uint32_t svc_r0_after;
    volatile uint32_t fp_ok;
    volatile uint32_t ipsr_in_irq0;
    volatile uint32_t pendsv_ran;
    volatile uint32_t masked_taken_at;
    volatile uint32_t psp_thread_ok;
};
#define R ((struct results *)0x20000000u)

static void record(uint32_t v) { R->order[R->order_len++] = v; }

void systick_handler(void) { R->systick_count++; }

void irq0_handler(void)
{
    uint32_t ipsr;
    __asm volatile("mrs %0, ipsr" : "=r"(ipsr));
    R->ipsr_in_irq0 = ipsr;
    record(0x10);
    NVIC_ISPR0 = 1u << 1; /* higher priority: preempts right here */
    record(0x11);
}
void irq1_handler(void) { record(0x20); }
void irq2_handler(void) { record(0x30); }
void irq3_handler(void) { record(0x40); }
void irq4_handler(void)
{
    /* clobber the FP registers the interrupted code uses */
    __asm volatile("vmov.f32 s0, #1.0\n vmov.f32 s1, #2.0\n vmov.f32 s15, #3.0" ::: "s0", "s1", "s15");
}
void irq5_handler(void) { R->masked_taken_at = R->order_len; }

void __attribute__((naked)) svc_handler(void)
{
    /* stacked r0 += 0x100 */
    __asm volatile("tst lr, #4\n ite eq\n mrseq r0, msp\n mrsne r0, psp\n"
                   "ldr r1, [r0]\n add r1, r1, #0x100\n str r1, [r0]\n bx lr");
}
void pendsv_handler(void) { R->pendsv_ran++; }

static uint32_t svc_call(uint32_t arg)
{
    register uint32_t r0 __asm("r0") = arg;
    __asm volatile("svc #1" : "+r"(r0) : : "memory");
    return r0;
}

void main_prog(void)
{
    /* nested priorities: IRQ0 low (0x80), IRQ1 high (0x40) */
    NVIC_IPR(0) = 0x80;
    NVIC_IPR(1) = 0x40;
    NVIC_IPR(2) = 0xC0;
    NVIC_IPR(3) = 0xC0;
    NVIC_IPR(4) = 0x80;
    NVIC_IPR(5) = 0x80;
    NVIC_ISER0 = 0x3F;
    NVIC_ISPR0 = 1u << 0;
    __asm volatile("dsb\n isb");
    record(0x01); /* after IRQ0 (and IRQ1 inside it) */

    /* tail-chaining: two pending at once while masked, released by CPSIE */
    __asm volatile("cpsid i");
    NVIC_ISPR0 = (1u << 2) | (1u << 3);
    record(0x02);
    __asm volatile("cpsie i");
    __asm volatile("nop\n nop");
    record(0x03);

    /* a masked interrupt is taken right at CPSIE: IRQ5 pended with PRIMASK set */
    __asm volatile("cpsid i");
    STIR = 5;
    record(0x04);
    record(0x05);
    __asm volatile("cpsie i");
    record(0x06);

    /* SVC edits the caller's r0 through the stack frame */
    R->svc_r0_after = svc_call(0x23);

    /* FP registers survive an interrupt whose handler uses them */
    __asm volatile("vmov s0, %0" : : "r"(0x3F000000u) : "s0"); /* 0.5f */
    NVIC_ISPR0 = 1u << 4;
    __asm volatile("dsb\n isb\n nop\n nop");
    uint32_t s0;
    __asm volatile("vmov %0, s0" : "=r"(s0));
    R->fp_ok = (s0 == 0x3F000000u);

    /* PendSV */
    SHPR3 = 0xF0F00000u; /* SysTick and PendSV lowest */
    ICSR = 1u << 28;
    __asm volatile("dsb\n isb\n nop");

    /* SysTick at core clock: 1000 cycles per tick */
    SYST_RVR = 999;
    SYST_CVR = 0;
    SYST_CSR = 7;

    /* thread mode on PSP (privileged), an interrupt, then unprivileged with an SVC */
    static uint32_t psp_stack[64] __attribute__((aligned(8), section(".psp")));
    uint32_t top = (uint32_t)&psp_stack[64];
    __asm volatile("msr psp, %0\n movs r0, #2\n msr control, r0\n isb" : : "r"(top) : "r0");
    NVIC_ISPR0 = 1u << 2;
    __asm volatile("nop\n nop");
    __asm volatile("movs r0, #3\n msr control, r0\n isb" : : : "r0");
    uint32_t r0_back = svc_call(0x40);
    uint32_t control, sp;
    __asm volatile("mrs %0, control\n mov %1, sp" : "=r"(control), "=r"(sp));
    R->psp_thread_ok = ((control & 3) == 3) && sp > (uint32_t)&psp_stack[0] && sp <= top && r0_back == 0x140;
    R->done = 1;
    for (;;)
        __asm volatile("wfi");
}

extern uint32_t _stack_top;
__attribute__((section(".vectors"), used)) const void *const vectors[16 + 8] = {
    (void *)0x20004000u, (void *)main_prog, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    (void *)svc_handler, 0, 0, (void *)pendsv_handler, (void *)systick_handler,
    (void *)irq0_handler, (void *)irq1_handler, (void *)irq2_handler, (void *)irq3_handler,
    (void *)irq4_handler, (void *)irq5_handler, 0, 0,
};
