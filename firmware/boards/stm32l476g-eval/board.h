/* STM32L476G-EVAL: what the chip layer needs to know about the board.
 * Facts: shared/reference/stm32l476-registers.md §7. */
#ifndef L4_BOARD_H
#define L4_BOARD_H

#define BOARD_NAME "stm32l476g-eval"

/* Crystals */
#define BOARD_HSE_HZ 8000000u
#define BOARD_LSE_HZ 32768u

/* LED1 (green) on PB2, lit when the pin is low. */
#define BOARD_LED1_PORT GPIO_PORT_B
#define BOARD_LED1_PIN  2u

/* Tamper/wake-up button B2 on PC13. ST's BSP configures it with a pull-down, so idle
 * reads low and a press reads high (the pressed level itself is unverified). */
#define BOARD_BUTTON_PORT GPIO_PORT_C
#define BOARD_BUTTON_PIN  13u
#define BOARD_BUTTON_PRESSED_LEVEL 1u

/* USART1 on PB6 (TX) / PB7 (RX), AF7: the RS-232 connector CN9 (JP15 on RS232). */
#define BOARD_CONSOLE_TX_PORT GPIO_PORT_B
#define BOARD_CONSOLE_TX_PIN  6u
#define BOARD_CONSOLE_RX_PORT GPIO_PORT_B
#define BOARD_CONSOLE_RX_PIN  7u
#define BOARD_CONSOLE_AF      7u
#define BOARD_CONSOLE_BAUD    115200u

/* USB OTG FS: PA11 DM, PA12 DP (AF10). PA9 VBUS sensing is not used: the driver
 * overrides B-valid, so the board works whether or not PA9 sees VBUS. */
#define BOARD_USB_PORT   GPIO_PORT_A
#define BOARD_USB_DM_PIN 11u
#define BOARD_USB_DP_PIN 12u
#define BOARD_USB_AF     10u

#endif
