/* GPIO pin set-up for the chip layer and the programs. */
#include "chip.h"
#include "regs/gpio.h"
#include "regs/rcc.h"

void gpio_config(unsigned port, unsigned pin, unsigned mode, unsigned pull, unsigned speed,
                 unsigned af)
{
    RCC_AHB2ENR |= RCC_AHB2_GPIO(port);
    (void)RCC_AHB2ENR; /* the clock runs before the port is written */
    unsigned two = 2u * pin;
    GPIO_OSPEEDR(port) = (GPIO_OSPEEDR(port) & ~(3u << two)) | (speed << two);
    GPIO_PUPDR(port) = (GPIO_PUPDR(port) & ~(3u << two)) | (pull << two);
    unsigned four = 4u * (pin & 7u);
    GPIO_AFR(port, pin >> 3) = (GPIO_AFR(port, pin >> 3) & ~(0xFu << four)) | (af << four);
    /* Mode last, so an output or AF pin never drives with a stale configuration. */
    GPIO_MODER(port) = (GPIO_MODER(port) & ~(3u << two)) | (mode << two);
}

void gpio_write(unsigned port, unsigned pin, bool high)
{
    GPIO_BSRR(port) = high ? 1u << pin : 1u << (pin + 16u);
}

bool gpio_read(unsigned port, unsigned pin)
{
    return (GPIO_IDR(port) >> pin) & 1u;
}
