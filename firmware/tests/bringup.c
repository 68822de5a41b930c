/* bring-up: the 80 MHz clock tree (MSI 48 MHz -> PLL, voltage range 1, flash latency 4),
 * LED1, the tamper button and the console. */
#include "target.h"
#include "testlib.h"
#include "regs/flash.h"
#include "regs/pwr.h"
#include "regs/rcc.h"

int main(void)
{
    clock_init_80mhz();
    test_begin("bringup");

    test_check_eq(RCC_CFGR & RCC_CFGR_SWS_MASK, RCC_CFGR_SWS_PLL, "SYSCLK is not the PLL");
    test_check(RCC_CR & RCC_CR_PLLRDY, "PLL not ready");
    test_check_eq(RCC_PLLCFGR & 0x07007F73u,
                  RCC_PLLCFGR_PLLSRC_MSI | RCC_PLLCFGR_PLLM(6) | RCC_PLLCFGR_PLLN(20) |
                      RCC_PLLCFGR_PLLREN,
                  "PLL not MSI 48 MHz / 6 x 20 / 2");
    test_check_eq((RCC_CR & RCC_CR_MSIRANGE_MASK) >> RCC_CR_MSIRANGE_SHIFT, RCC_MSIRANGE_48MHZ,
                  "MSI not at 48 MHz");
    test_check_eq(FLASH_ACR & FLASH_ACR_LATENCY_MASK, 4u, "flash latency is not 4");
    test_check(FLASH_ACR & FLASH_ACR_PRFTEN, "prefetch off");
    test_check_eq(PWR_CR1 & PWR_CR1_VOS_MASK, PWR_CR1_VOS_RANGE1, "not voltage range 1");
    test_check_eq(clock_hclk_hz(), 80000000u, "HCLK bookkeeping");

    led_init();
    test_check(!led_is_on(), "LED1 should start off");
    for (int i = 0; i < 4; i++) {
        bool was_on = led_is_on();
        led_toggle();
        test_check(led_is_on() != was_on, "LED1 did not toggle");
    }
    led_set(true);
    test_check(!gpio_read(1u, 2u), "LED1 on must drive PB2 low (active low)");

    /* The CRC unit as target.h promises it: zlib's CRC-32 (check value of "123456789"),
     * continued across calls, from word-aligned and unaligned data, with a byte tail. */
    static const char digits[] __attribute__((aligned(4))) = "x123456789";
    test_check_eq(target_crc32(digits + 1, 9), 0xCBF43926u, "CRC-32 of \"123456789\" (unaligned)");
    test_check_eq(target_crc32_update(target_crc32(digits + 1, 3), digits + 4, 6), 0xCBF43926u,
                  "CRC-32 continued across calls");
    test_check_eq(target_crc32(digits, 8), 0xD7F8E3ADu, "CRC-32 of \"x1234567\" (aligned words)");
    test_check_eq(target_crc32(digits, 0), 0u, "CRC-32 of nothing");

    /* The tamper button, as the bootloader reads it (pull-down, pressed = high). The
     * sim test runs this twice: without and with l4sim --press-button. */
    button_init();
    console_puts(target_button_pressed() ? "button pressed\n" : "button released\n");

    console_puts("l4dfu bring-up ok\n");
    test_pass();
}
