/* l4sim GPIO model: ports A..H (the L476 has no port I), one window of 0x400 each. */
#ifndef L4SIM_GPIO_H
#define L4SIM_GPIO_H

#include <stdbool.h>

#include "sim.h"

#define GPIO_BASE 0x48000000u
#define GPIO_PORT_STRIDE 0x400u
#define GPIO_PORT_COUNT 8 /* 'A'..'H' */

enum gpio_mode { GPIO_MODE_INPUT = 0, GPIO_MODE_OUTPUT = 1, GPIO_MODE_AF = 2, GPIO_MODE_ANALOG = 3 };

void gpio_attach(sim_t *sim);

unsigned gpio_pin_mode(sim_t *sim, char port, unsigned pin); /* enum gpio_mode */
unsigned gpio_pin_af(sim_t *sim, char port, unsigned pin);   /* AFRL/AFRH nibble */
bool gpio_pin_level(sim_t *sim, char port, unsigned pin);    /* what IDR would read */
/* The outside world drives the pin: 0 or 1, or -1 to release it (floating, pulls apply). */
void gpio_drive(sim_t *sim, char port, unsigned pin, int level);

/* Output level changes of pins in output mode (LEDs), for tests and traces. */
typedef void (*gpio_watch_fn)(void *user, char port, unsigned pin, bool level);
void gpio_watch(sim_t *sim, gpio_watch_fn fn, void *user);

/* STM32L476G-EVAL pins. LEDs light when the pin is low. The tamper button is wired so
 * that pressing it drives PC13 high (the BSP configures a pull-down and a falling-edge
 * interrupt, i.e. the release); the pressed level is our choice, unverified on a board. */
#define BOARD_LED1_PORT 'B'
#define BOARD_LED1_PIN 2
#define BOARD_LED3_PORT 'C'
#define BOARD_LED3_PIN 1
#define BOARD_TAMPER_PORT 'C'
#define BOARD_TAMPER_PIN 13
#define BOARD_TAMPER_PRESSED_LEVEL 1
/* Press (true) or release (false) the tamper button. */
void board_tamper_button(sim_t *sim, bool pressed);

#endif
