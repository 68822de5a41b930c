/* Clock trees (RM0351 "Reset and clock control (RCC)").
 * Facts: stm32l476-registers.md §2 (latency table), §3. */
#include "board.h"
#include "chip.h"
#include "regs/flash.h"
#include "regs/pwr.h"
#include "regs/rcc.h"

#define RESET_HCLK_HZ 4000000u
/* An LSE crystal can take a second or more to start; past this many polls we run
 * without it rather than hang the bootloader. */
#define OSC_START_POLLS 4000000u

static uint32_t hclk_hz = RESET_HCLK_HZ;

uint32_t clock_hclk_hz(void)
{
    return hclk_hz;
}

static bool wait_set(volatile uint32_t *reg, uint32_t mask, uint32_t polls)
{
    while ((*reg & mask) == 0u) {
        if (polls-- == 0u)
            return false;
    }
    return true;
}

static void flash_latency(uint32_t wait_states)
{
    FLASH_ACR = (FLASH_ACR & ~FLASH_ACR_LATENCY_MASK) | wait_states | FLASH_ACR_PRFTEN |
                FLASH_ACR_ICEN | FLASH_ACR_DCEN;
    while ((FLASH_ACR & FLASH_ACR_LATENCY_MASK) != wait_states) {
    }
}

static void power_range1(void)
{
    RCC_APB1ENR1 |= RCC_APB1_1_PWR;
    (void)RCC_APB1ENR1;
    PWR_CR1 = (PWR_CR1 & ~PWR_CR1_VOS_MASK) | PWR_CR1_VOS_RANGE1;
    while (PWR_SR2 & PWR_SR2_VOSF) {
    }
}

static void switch_sysclk(uint32_t sw, uint32_t sws)
{
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW_MASK) | sw;
    while ((RCC_CFGR & RCC_CFGR_SWS_MASK) != sws) {
    }
}

/* Open the backup domain and start the LSE without waiting: clock_enable_usb48 waits
 * for it only if USB is wanted. */
static void lse_start(void)
{
    RCC_APB1ENR1 |= RCC_APB1_1_PWR;
    (void)RCC_APB1ENR1;
    PWR_CR1 |= PWR_CR1_DBP;
    RCC_BDCR |= RCC_BDCR_LSEON;
}

static void msi_48mhz(void)
{
    RCC_CR = (RCC_CR & ~RCC_CR_MSIRANGE_MASK) | (RCC_MSIRANGE_48MHZ << RCC_CR_MSIRANGE_SHIFT) |
             RCC_CR_MSIRGSEL;
    while (!(RCC_CR & RCC_CR_MSIRDY)) {
    }
}

void clock_init_80mhz(void)
{
    power_range1();
    lse_start();
    flash_latency(4u); /* range 1, 64 < HCLK <= 80 MHz */
    /* MSI at 48 MHz feeds both the PLL and (LSE-trimmed) the USB clock:
     * 48 MHz / M 6 * N 20 = VCO 160 MHz, / R 2 = 80 MHz. */
    msi_48mhz();
    RCC_PLLCFGR = RCC_PLLCFGR_PLLSRC_MSI | RCC_PLLCFGR_PLLM(6) | RCC_PLLCFGR_PLLN(20) |
                  RCC_PLLCFGR_PLLREN | RCC_PLLCFGR_PLLR_DIV2;
    RCC_CR |= RCC_CR_PLLON;
    while (!(RCC_CR & RCC_CR_PLLRDY)) {
    }
    switch_sysclk(RCC_CFGR_SW_PLL, RCC_CFGR_SWS_PLL);
    hclk_hz = 80000000u;
}

#ifndef L4_USB_CLOCK_HSE_PLLSAI1
void clock_init_48mhz(void)
{
    /* Voltage range 1 is the reset state: no VOS change. A boot straight into the
     * application never waits for the LSE crystal. */
    lse_start();
    flash_latency(2u); /* range 1, 32 < HCLK <= 48 MHz: raise before the clock */
    msi_48mhz();
    hclk_hz = 48000000u;
}

bool clock_enable_usb48(void)
{
    bool lse_ok = wait_set(&RCC_BDCR, RCC_BDCR_LSERDY, OSC_START_POLLS);
    /* MSI in PLL mode: the LSE trims it to the accuracy USB needs. */
    if (lse_ok)
        RCC_CR |= RCC_CR_MSIPLLEN;
    RCC_CCIPR = (RCC_CCIPR & ~RCC_CCIPR_CLK48SEL_MASK) | RCC_CCIPR_CLK48SEL_MSI;
    return lse_ok;
}
#else
static bool hse_ok;

void clock_init_48mhz(void)
{
    power_range1();
    RCC_CR |= RCC_CR_HSEON;
    hse_ok = wait_set(&RCC_CR, RCC_CR_HSERDY, OSC_START_POLLS);
    if (!hse_ok)
        return; /* stay on MSI 4 MHz */
    flash_latency(2u);
    /* HSE 8 MHz / M 1 * N 12 = VCO 96 MHz; main PLL R / 2 = 48 MHz SYSCLK,
     * PLLSAI1 (same input) Q / 2 = 48 MHz USB. */
    RCC_PLLCFGR = RCC_PLLCFGR_PLLSRC_HSE | RCC_PLLCFGR_PLLM(BOARD_HSE_HZ / 8000000u) |
                  RCC_PLLCFGR_PLLN(12) | RCC_PLLCFGR_PLLREN | RCC_PLLCFGR_PLLR_DIV2;
    RCC_CR |= RCC_CR_PLLON;
    while (!(RCC_CR & RCC_CR_PLLRDY)) {
    }
    switch_sysclk(RCC_CFGR_SW_PLL, RCC_CFGR_SWS_PLL);
    hclk_hz = 48000000u;
}

bool clock_enable_usb48(void)
{
    if (!hse_ok)
        return false;
    RCC_PLLSAI1CFGR = RCC_PLLCFGR_PLLN(12) | RCC_PLLCFGR_PLLQEN | RCC_PLLCFGR_PLLQ_DIV2;
    RCC_CR |= RCC_CR_PLLSAI1ON;
    while (!(RCC_CR & RCC_CR_PLLSAI1RDY)) {
    }
    RCC_CCIPR = (RCC_CCIPR & ~RCC_CCIPR_CLK48SEL_MASK) | RCC_CCIPR_CLK48SEL_PLLSAI1Q;
    return true;
}
#endif

bool clock_init_usb48(void)
{
    clock_init_48mhz();
    return clock_enable_usb48();
}

void clock_reset(void)
{
    RCC_CR |= RCC_CR_MSION;
    while (!(RCC_CR & RCC_CR_MSIRDY)) {
    }
    switch_sysclk(RCC_CFGR_SW_MSI, RCC_CFGR_SWS_MSI);
    /* Range 6 (4 MHz) while MSI is on and ready; MSIRGSEL stays set until MSI has
     * settled, then the reset value hands the range back to RCC_CSR.MSISRANGE (also 6). */
    RCC_CR = (RCC_CR & ~(RCC_CR_MSIRANGE_MASK | RCC_CR_MSIPLLEN)) |
             (RCC_MSIRANGE_4MHZ << RCC_CR_MSIRANGE_SHIFT) | RCC_CR_MSIRGSEL;
    while (!(RCC_CR & RCC_CR_MSIRDY)) {
    }
    RCC_CFGR = 0u;
    RCC_CR = RCC_CR_RESET_VALUE; /* PLLs, HSE, HSI off */
    RCC_PLLCFGR = RCC_PLLCFGR_RESET_VALUE;
    RCC_PLLSAI1CFGR = RCC_PLLSAI1CFGR_RESET_VALUE;
    RCC_CCIPR = 0u;
    FLASH_ACR = FLASH_ACR_RESET_VALUE; /* latency 0 only once the clock is down */
    hclk_hz = RESET_HCLK_HZ;
}
