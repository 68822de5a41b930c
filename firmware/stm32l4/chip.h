/* Chip-level services beyond target.h, for test programs and applications (the
 * bootloader's policy code uses target.h only). */
#ifndef L4_CHIP_H
#define L4_CHIP_H

#include <stdbool.h>
#include <stdint.h>

/* ---- clocks (clocks.c) ---- */
/* SYSCLK = 80 MHz from the PLL fed by MSI at 48 MHz (range 11), voltage range 1, flash
 * latency 4, prefetch and caches on; the LSE is started, so clock_enable_usb48 can then
 * give USB its clock from the same MSI. Call from the reset clock state. */
void clock_init_80mhz(void);
/* The bootloader's clock, in two steps so that booting the application never waits for
 * a crystal. clock_init_48mhz: SYSCLK = 48 MHz (latency 2); default MSI range 11 with the
 * LSE started but not awaited; with L4_USB_CLOCK_HSE_PLLSAI1, HSE 8 MHz through the main
 * PLL. clock_enable_usb48 (called by usbd_port_init): the 48 MHz USB clock, MSI locked
 * to the LSE (MSIPLLEN) or PLLSAI1 Q from the HSE. Returns false if the LSE (HSE) did not
 * start: the USB clock is then untrimmed MSI (absent with HSE). */
void clock_init_48mhz(void);
bool clock_enable_usb48(void);
/* Both steps at once (applications that run at 48 MHz with USB). */
bool clock_init_usb48(void);
/* Back to the reset clock tree: MSI 4 MHz, PLLs and HSE off, latency 0. */
void clock_reset(void);
uint32_t clock_hclk_hz(void);

/* ---- GPIO (gpio.c) ---- */
/* Enables the port clock and sets mode, pull, speed and alternate function of one pin. */
void gpio_config(unsigned port, unsigned pin, unsigned mode, unsigned pull, unsigned speed,
                 unsigned af);
void gpio_write(unsigned port, unsigned pin, bool high);
bool gpio_read(unsigned port, unsigned pin);

/* ---- the board's tamper button: input with pull-down (target_init does this; read
 * it with target_button_pressed) ---- */
void button_init(void);

/* ---- the board's LED1 (target_stm32l4.c) ---- */
void led_init(void);
void led_set(bool on);
void led_toggle(void);
bool led_is_on(void);

/* ---- USART1 console on the board's CN9 (console.c) ---- */
void console_init(void); /* at the current HCLK (PCLK2 = HCLK), 115200 8N1 */
void console_putc(char c);
void console_puts(const char *s);
void console_put_hex(uint32_t value, unsigned digits);
void console_put_dec(uint32_t value);
void console_flush(void); /* wait until the last byte left the shift register */

#endif
