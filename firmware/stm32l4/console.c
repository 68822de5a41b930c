/* USART1 console (PB6 TX / PB7 RX, AF7) for test programs and applications. */
#include "board.h"
#include "chip.h"
#include "regs/gpio.h"
#include "regs/rcc.h"
#include "regs/usart.h"

void console_init(void)
{
    gpio_config(BOARD_CONSOLE_TX_PORT, BOARD_CONSOLE_TX_PIN, GPIO_MODE_AF, GPIO_PULL_NONE,
                GPIO_SPEED_VERY_HIGH, BOARD_CONSOLE_AF);
    gpio_config(BOARD_CONSOLE_RX_PORT, BOARD_CONSOLE_RX_PIN, GPIO_MODE_AF, GPIO_PULL_UP,
                GPIO_SPEED_VERY_HIGH, BOARD_CONSOLE_AF);
    RCC_APB2ENR |= RCC_APB2_USART1; /* kernel clock: PCLK2 (CCIPR.USART1SEL = 00) */
    (void)RCC_APB2ENR;
    USART_CR1(USART1_BASE) = 0u;
    /* Oversampling by 16: BRR = f_ck / baud, rounded. */
    USART_BRR(USART1_BASE) = (clock_hclk_hz() + BOARD_CONSOLE_BAUD / 2u) / BOARD_CONSOLE_BAUD;
    USART_CR1(USART1_BASE) = USART_CR1_UE | USART_CR1_TE | USART_CR1_RE;
}

void console_putc(char c)
{
    if (c == '\n')
        console_putc('\r');
    while (!(USART_ISR(USART1_BASE) & USART_ISR_TXE)) {
    }
    USART_TDR(USART1_BASE) = (uint8_t)c;
}

void console_puts(const char *s)
{
    while (*s)
        console_putc(*s++);
}

void console_put_hex(uint32_t value, unsigned digits)
{
    while (digits--)
        console_putc("0123456789ABCDEF"[(value >> (4u * digits)) & 0xFu]);
}

void console_put_dec(uint32_t value)
{
    char text[10];
    unsigned n = 0;
    do {
        text[n++] = (char)('0' + value % 10u);
        value /= 10u;
    } while (value != 0u);
    while (n)
        console_putc(text[--n]);
}

void console_flush(void)
{
    while (!(USART_ISR(USART1_BASE) & USART_ISR_TC)) {
    }
}
