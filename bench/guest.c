/* Guest programs for the l4sim speed bench, one per BENCH_KIND; each ends in BKPT so both
 * bare Unicorn and l4sim stop at the same instruction. No startup code, no libc. */
#include <stdint.h>

#define ITERATIONS 2000000u

__attribute__((noreturn)) void bench_main(void)
{
#if BENCH_KIND == 0
    /* register-only loop: 6 instructions per iteration, no memory traffic */
    uint32_t a = 1, b = 2, n = ITERATIONS;
    __asm volatile("1: adds %0, %0, %1\n eors %1, %1, %0\n lsls %0, %0, #1\n orrs %0, %0, #1\n subs %2, %2, #1\n bne 1b"
                   : "+l"(a), "+l"(b), "+l"(n));
#elif BENCH_KIND == 1
    /* store-heavy C: fill and checksum a buffer in SRAM, as firmware does with packets */
    volatile uint32_t *buf = (volatile uint32_t *)0x20001000u;
    uint32_t sum = 0;
    for (uint32_t round = 0; round < ITERATIONS / 512; round++) {
        for (uint32_t i = 0; i < 256; i++)
            buf[i] = i * 2654435761u + round;
        for (uint32_t i = 0; i < 256; i++)
            sum += buf[i];
    }
    *(volatile uint32_t *)0x20000000u = sum;
#else
    /* polling a peripheral register: RCC_CR (MSIRDY) as a driver waits on a flag */
    volatile uint32_t *rcc_cr = (volatile uint32_t *)0x40021000u;
    uint32_t seen = 0;
    for (uint32_t i = 0; i < ITERATIONS / 4; i++)
        seen += *rcc_cr & 2u;
    *(volatile uint32_t *)0x20000000u = seen;
#endif
    for (;;)
        __asm volatile("bkpt #0x42");
}

__attribute__((section(".vectors"), used)) const void *const bench_vectors[2] = {(void *)0x20008000u,
                                                                                 (void *)bench_main};
