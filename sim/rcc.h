/* l4sim RCC model: clocks, bus-clock enables, peripheral resets, reset flags, backup-domain
 * control. Other models ask it whether their bus clock runs and how fast their clocks are. */
#ifndef L4SIM_RCC_H
#define L4SIM_RCC_H

#include <stdbool.h>
#include <stdint.h>

#include "sim.h"

#define RCC_BASE 0x40021000u
#define RCC_SIZE 0x400u

enum rcc_periph {
    RCC_P_GPIOA, RCC_P_GPIOB, RCC_P_GPIOC, RCC_P_GPIOD, RCC_P_GPIOE, RCC_P_GPIOF,
    RCC_P_GPIOG, RCC_P_GPIOH, RCC_P_OTGFS, RCC_P_CRC, RCC_P_FLASH, RCC_P_PWR, RCC_P_SYSCFG,
    RCC_P_USART1, RCC_P_USART2, RCC_P_LPUART1, RCC_P_COUNT
};

void rcc_attach(sim_t *sim);

/* Bus clock enable bit of `p` (RCC_xxxENR). */
bool rcc_periph_enabled(sim_t *sim, enum rcc_periph p);
/* Register and bit that enable `p`, for warnings: e.g. "RCC_AHB2ENR.GPIOBEN". */
const char *rcc_periph_enable_name(enum rcc_periph p);

uint32_t rcc_sysclk_hz(sim_t *sim);
uint32_t rcc_hclk_hz(sim_t *sim); /* the CPU clock: drives instruction timing */
uint32_t rcc_pclk_hz(sim_t *sim, int apb); /* 1 or 2 */

/* USB 48 MHz kernel clock: its frequency if CCIPR.CLK48SEL selects a running source, else 0
 * with *why saying what is missing. *accurate is false (and *why says so) for MSI that is
 * not trimmed by the LSE (MSIPLLEN with LSERDY). accurate and why may be NULL. */
uint32_t rcc_clk48_hz(sim_t *sim, bool *accurate, const char **why);

bool rcc_lsi_on(sim_t *sim); /* LSI oscillating and ready (LSION, or forced by the IWDG) */
bool rcc_lse_ready(sim_t *sim);
/* Kernel clock of USART1 (which=1), USART2 (2) or LPUART1 (0) per CCIPR; 0 if not running. */
uint32_t rcc_usart_kernel_hz(sim_t *sim, int which);

/* Called when software pulses the peripheral's RCC_xxxRSTR bit (on the 0->1 write). */
void rcc_on_periph_reset(sim_t *sim, enum rcc_periph p, void (*fn)(void *), void *arg);

/* The IWDG forces the LSI on while it runs (LSION reads unchanged). */
void rcc_force_lsi(sim_t *sim, bool on);

/* Oscillator start-up and PLL lock times (ps) the model uses; one table, all unverified. */
#define RCC_MSI_STARTUP_PS   (6 * SIM_PS_PER_US)
#define RCC_HSI_STARTUP_PS   (4 * SIM_PS_PER_US)
#define RCC_HSE_STARTUP_PS   (2 * SIM_PS_PER_MS)
#define RCC_LSE_STARTUP_PS   (200 * SIM_PS_PER_MS)
#define RCC_LSI_STARTUP_PS   (80 * SIM_PS_PER_US)
#define RCC_PLL_LOCK_PS      (20 * SIM_PS_PER_US)

#define RCC_HSE_HZ  8000000u /* the EVAL's crystal */
#define RCC_HSI_HZ  16000000u
#define RCC_LSE_HZ  32768u
#define RCC_LSI_HZ  32000u

#endif
