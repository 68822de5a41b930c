/* USART1/USART2/LPUART1 (sim/usart.c): TXE/TC timing at the programmed rate, the console text,
 * the EVAL's PB6 AF7 requirement for USART1, clock and enable gating, RX injection with RXNE,
 * overrun and the interrupt line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "models_util.h"
#include "usart.h"

#define U1(off) (0x40013800u + (off))
#define LP(off) (0x40008000u + (off))
#define CR1 0x00
#define CR2 0x04
#define BRR 0x0C
#define ISR 0x1C
#define ICR 0x20
#define RDR 0x24
#define TDR 0x28
#define UE 1u
#define RE (1u << 2)
#define TE (1u << 3)
#define RXNEIE (1u << 5)
#define TCIE (1u << 6)
#define ORE (1u << 3)
#define RXNE (1u << 5)
#define TC (1u << 6)
#define TXE (1u << 7)
#define USART1EN (1u << 14)
#define GPIOBEN (1u << 1)
#define GPIOB(off) (0x48000400u + (off))

/* 4 MHz PCLK2 / 35 = 114286 baud; 10-bit frame = 350 cycles of 4 MHz = 87.5 us */
#define FRAME_PS (350u * 250000u)

static int setup(void **state)
{
    *state = models_board();
    return 0;
}

static int teardown(void **state)
{
    sim_destroy(*state);
    return 0;
}

static void console_pin(sim_t *sim)
{
    set_bits(sim, RCC_AHB2ENR, GPIOBEN);
    wr(sim, GPIOB(0x00), (rd(sim, GPIOB(0x00)) & ~(3u << 12)) | (2u << 12)); /* PB6 AF */
    wr(sim, GPIOB(0x20), (rd(sim, GPIOB(0x20)) & ~(0xFu << 24)) | (7u << 24)); /* AF7 */
}

static void usart1_on(sim_t *sim, uint32_t cr1)
{
    set_bits(sim, RCC_APB2ENR, USART1EN);
    wr(sim, U1(BRR), 35);
    wr(sim, U1(CR1), cr1);
}

static void reset_values(void **state)
{
    sim_t *sim = *state;
    set_bits(sim, RCC_APB2ENR, USART1EN);
    assert_int_equal(rd(sim, U1(CR1)), 0);
    assert_int_equal(rd(sim, U1(BRR)), 0);
    assert_int_equal(rd(sim, U1(ISR)), TXE | TC);
}

static void byte_leaves_after_one_frame(void **state)
{
    sim_t *sim = *state;
    console_pin(sim);
    usart1_on(sim, UE | TE);
    assert_int_equal(usart_frame_ps(sim, 1), FRAME_PS);
    size_t before = strlen(sim_console_text(sim));

    wr(sim, U1(TDR), 'H');
    assert_int_equal(rd(sim, U1(ISR)) & (TXE | TC), TXE); /* TDR moved to the shifter; TC low */
    wr(sim, U1(TDR), 'i');
    assert_int_equal(rd(sim, U1(ISR)) & (TXE | TC), 0); /* both full */

    sim_advance(sim, FRAME_PS - SIM_PS_PER_US);
    assert_int_equal(strlen(sim_console_text(sim)), before);
    assert_int_equal(rd(sim, U1(ISR)) & TXE, 0);
    sim_advance(sim, SIM_PS_PER_US);
    assert_string_equal(sim_console_text(sim) + before, "H");
    assert_int_equal(rd(sim, U1(ISR)) & (TXE | TC), TXE);
    sim_advance(sim, FRAME_PS - SIM_PS_PER_US);
    assert_int_equal(rd(sim, U1(ISR)) & TC, 0);
    sim_advance(sim, SIM_PS_PER_US);
    assert_string_equal(sim_console_text(sim) + before, "Hi");
    assert_int_equal(rd(sim, U1(ISR)) & (TXE | TC), TXE | TC);

    wr(sim, U1(ICR), TC); /* TCCF */
    assert_int_equal(rd(sim, U1(ISR)) & TC, 0);
}

static void frame_follows_format(void **state)
{
    sim_t *sim = *state;
    set_bits(sim, RCC_APB2ENR, USART1EN);
    wr(sim, U1(BRR), 35);
    wr(sim, U1(CR2), 2u << 12); /* 2 stop bits: 11-bit frame */
    assert_int_equal(usart_frame_ps(sim, 1), 385u * 250000u);
    wr(sim, U1(CR2), 0);
    wr(sim, U1(CR1), 1u << 15); /* OVER8: BRR 0x23 = USARTDIV 0x26, bit = 38 / (2 * 4 MHz) */
    assert_int_equal(usart_frame_ps(sim, 1), 10u * 38u * 125000u);

    /* LPUART1: 256 * 4 MHz / 0x1A0AB = 9600 baud */
    set_bits(sim, RCC_APB1ENR2, 1u);
    wr(sim, LP(BRR), 0x1A0ABu);
    uint64_t f = usart_frame_ps(sim, 0);
    assert_true(f > 1041000u * 1000u && f < 1042000u * 1000u); /* 10 bits at 9600 baud: 1.0417 ms */
}

static void no_console_without_pb6_af7(void **state)
{
    sim_t *sim = *state;
    usart1_on(sim, UE | TE);
    size_t before = strlen(sim_console_text(sim));
    warnings_begin();
    wr(sim, U1(TDR), 'x');
    sim_advance(sim, FRAME_PS);
    wr(sim, U1(TDR), 'y');
    sim_advance(sim, FRAME_PS);
    const char *w = warnings_end();
    assert_non_null(strstr(w, "PB6"));
    assert_null(strstr(strstr(w, "PB6") + 1, "PB6")); /* warned once */
    assert_int_equal(strlen(sim_console_text(sim)), before);
    assert_int_equal(rd(sim, U1(ISR)) & TC, TC); /* the USART itself finished */
}

static void gated_writes_are_lost(void **state)
{
    sim_t *sim = *state;
    console_pin(sim);
    warnings_begin();
    wr(sim, U1(BRR), 35);
    assert_non_null(strstr(warnings_end(), "RCC_APB2ENR.USART1EN=0"));
    assert_int_equal(rd(sim, U1(ISR)), 0); /* no clock: reads 0 */
    set_bits(sim, RCC_APB2ENR, USART1EN);
    assert_int_equal(rd(sim, U1(BRR)), 0);

    wr(sim, U1(BRR), 35);
    wr(sim, U1(CR1), UE); /* TE off */
    warnings_begin();
    wr(sim, U1(TDR), 'z');
    assert_non_null(strstr(warnings_end(), "TE"));
    warnings_begin();
    wr(sim, U1(BRR), 70); /* UE=1 */
    assert_non_null(strstr(warnings_end(), "UE=0"));
    assert_int_equal(rd(sim, U1(BRR)), 35);
}

static void rx_injection_rxne_overrun_irq(void **state)
{
    sim_t *sim = *state;
    usart1_on(sim, UE | RE | RXNEIE);
    const uint8_t in[] = {'a', 'b'};
    usart_inject(sim, 1, in, 2);
    assert_int_equal(rd(sim, U1(ISR)) & RXNE, 0);
    assert_false(irq_pending(sim, USART1_IRQ));
    sim_advance(sim, FRAME_PS);
    assert_int_equal(rd(sim, U1(ISR)) & RXNE, RXNE);
    assert_true(irq_pending(sim, USART1_IRQ));
    sim_advance(sim, FRAME_PS); /* 'b' arrives while 'a' is unread */
    assert_int_equal(rd(sim, U1(ISR)) & (RXNE | ORE), RXNE | ORE);
    assert_int_equal(rd(sim, U1(RDR)), 'a');
    assert_int_equal(rd(sim, U1(ISR)) & RXNE, 0);
    wr(sim, U1(ICR), ORE);
    assert_int_equal(rd(sim, U1(ISR)) & ORE, 0);

    const uint8_t c = 'c';
    usart_inject(sim, 1, &c, 1);
    sim_advance(sim, FRAME_PS);
    assert_int_equal(rd(sim, U1(RDR)), 'c');

    /* receiver off: bytes are lost */
    wr(sim, U1(CR1), UE | TE);
    warnings_begin();
    usart_inject(sim, 1, &c, 1);
    assert_non_null(strstr(warnings_end(), "lost"));
}

static void tc_interrupt(void **state)
{
    sim_t *sim = *state;
    console_pin(sim);
    usart1_on(sim, UE | TE);
    wr(sim, U1(ICR), TC);
    wr(sim, U1(CR1), UE | TE | TCIE);
    assert_false(irq_pending(sim, USART1_IRQ));
    wr(sim, U1(TDR), '!');
    sim_advance(sim, FRAME_PS);
    assert_true(irq_pending(sim, USART1_IRQ));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(reset_values, setup, teardown),
        cmocka_unit_test_setup_teardown(byte_leaves_after_one_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(frame_follows_format, setup, teardown),
        cmocka_unit_test_setup_teardown(no_console_without_pb6_af7, setup, teardown),
        cmocka_unit_test_setup_teardown(gated_writes_are_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(rx_injection_rxne_overrun_irq, setup, teardown),
        cmocka_unit_test_setup_teardown(tc_interrupt, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
