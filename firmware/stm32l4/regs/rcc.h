/* RCC: RM0351 section "Reset and clock control (RCC)". Only what l4dfu uses.
 * Facts: shared/reference/stm32l476-registers.md §3. */
#ifndef L4_REGS_RCC_H
#define L4_REGS_RCC_H

#include "mmio.h"

#define RCC_BASE 0x40021000u

#define RCC_CR          L4_REG32(RCC_BASE + 0x00)
#define RCC_CFGR        L4_REG32(RCC_BASE + 0x08)
#define RCC_PLLCFGR     L4_REG32(RCC_BASE + 0x0C)
#define RCC_PLLSAI1CFGR L4_REG32(RCC_BASE + 0x10)
#define RCC_CIER        L4_REG32(RCC_BASE + 0x18)
#define RCC_AHB1RSTR    L4_REG32(RCC_BASE + 0x28)
#define RCC_AHB2RSTR    L4_REG32(RCC_BASE + 0x2C)
#define RCC_APB1RSTR1   L4_REG32(RCC_BASE + 0x38)
#define RCC_APB2RSTR    L4_REG32(RCC_BASE + 0x40)
#define RCC_AHB1ENR     L4_REG32(RCC_BASE + 0x48)
#define RCC_AHB2ENR     L4_REG32(RCC_BASE + 0x4C)
#define RCC_APB1ENR1    L4_REG32(RCC_BASE + 0x58)
#define RCC_APB1ENR2    L4_REG32(RCC_BASE + 0x5C)
#define RCC_APB2ENR     L4_REG32(RCC_BASE + 0x60)
#define RCC_CCIPR       L4_REG32(RCC_BASE + 0x88)
#define RCC_BDCR        L4_REG32(RCC_BASE + 0x90)
#define RCC_CSR         L4_REG32(RCC_BASE + 0x94)

/* CR */
#define RCC_CR_MSION          (1u << 0)
#define RCC_CR_MSIRDY         (1u << 1)
#define RCC_CR_MSIPLLEN       (1u << 2)
#define RCC_CR_MSIRGSEL       (1u << 3)
#define RCC_CR_MSIRANGE_SHIFT 4
#define RCC_CR_MSIRANGE_MASK  (0xFu << 4)
#define RCC_CR_HSION          (1u << 8)
#define RCC_CR_HSEON          (1u << 16)
#define RCC_CR_HSERDY         (1u << 17)
#define RCC_CR_HSEBYP         (1u << 18)
#define RCC_CR_CSSON          (1u << 19)
#define RCC_CR_PLLON          (1u << 24)
#define RCC_CR_PLLRDY         (1u << 25)
#define RCC_CR_PLLSAI1ON      (1u << 26)
#define RCC_CR_PLLSAI1RDY     (1u << 27)
#define RCC_CR_PLLSAI2ON      (1u << 28)
#define RCC_CR_RESET_VALUE    0x00000063u /* MSI on, 4 MHz (range 6) */

#define RCC_MSIRANGE_4MHZ  6u
#define RCC_MSIRANGE_48MHZ 11u

/* CFGR */
#define RCC_CFGR_SW_MASK   (3u << 0)
#define RCC_CFGR_SW_MSI    (0u << 0)
#define RCC_CFGR_SW_HSE    (2u << 0)
#define RCC_CFGR_SW_PLL    (3u << 0)
#define RCC_CFGR_SWS_MASK  (3u << 2)
#define RCC_CFGR_SWS_MSI   (0u << 2)
#define RCC_CFGR_SWS_PLL   (3u << 2)

/* PLLCFGR (PLLSAI1CFGR shares the N/Q/R layout and the main PLL's M) */
#define RCC_PLLCFGR_PLLSRC_MSI  (1u << 0)
#define RCC_PLLCFGR_PLLSRC_HSE  (3u << 0)
#define RCC_PLLCFGR_PLLM(m)     ((uint32_t)((m) - 1u) << 4)
#define RCC_PLLCFGR_PLLN(n)     ((uint32_t)(n) << 8)
#define RCC_PLLCFGR_PLLQEN      (1u << 20)
#define RCC_PLLCFGR_PLLQ_DIV2   (0u << 21)
#define RCC_PLLCFGR_PLLREN      (1u << 24)
#define RCC_PLLCFGR_PLLR_DIV2   (0u << 25)
#define RCC_PLLCFGR_RESET_VALUE 0x00001000u
#define RCC_PLLSAI1CFGR_RESET_VALUE 0x00001000u

/* AHB1ENR / AHB1RSTR */
#define RCC_AHB1_FLASH (1u << 8)
#define RCC_AHB1_CRC   (1u << 12)
#define RCC_AHB1ENR_RESET_VALUE 0x00000100u

/* AHB2ENR / AHB2RSTR */
#define RCC_AHB2_GPIO(port) (1u << (port)) /* port 0 = A .. 7 = H */
#define RCC_AHB2_GPIO_ALL   0xFFu
#define RCC_AHB2_OTGFS      (1u << 12)

/* APB1ENR1 / APB1RSTR1 */
#define RCC_APB1_1_PWR (1u << 28)

/* APB2ENR / APB2RSTR */
#define RCC_APB2_SYSCFG (1u << 0)
#define RCC_APB2_USART1 (1u << 14)

/* CCIPR */
#define RCC_CCIPR_CLK48SEL_MASK     (3u << 26)
#define RCC_CCIPR_CLK48SEL_PLLSAI1Q (1u << 26)
#define RCC_CCIPR_CLK48SEL_PLLQ     (2u << 26)
#define RCC_CCIPR_CLK48SEL_MSI      (3u << 26)

/* BDCR (backup domain: writes need PWR_CR1.DBP) */
#define RCC_BDCR_LSEON  (1u << 0)
#define RCC_BDCR_LSERDY (1u << 1)

/* CSR */
#define RCC_CSR_RMVF     (1u << 23)
#define RCC_CSR_FWRSTF   (1u << 24)
#define RCC_CSR_OBLRSTF  (1u << 25)
#define RCC_CSR_PINRSTF  (1u << 26)
#define RCC_CSR_BORRSTF  (1u << 27)
#define RCC_CSR_SFTRSTF  (1u << 28)
#define RCC_CSR_IWDGRSTF (1u << 29)
#define RCC_CSR_WWDGRSTF (1u << 30)
#define RCC_CSR_LPWRRSTF (1u << 31)
#define RCC_CSR_LSION    (1u << 0)

#endif
