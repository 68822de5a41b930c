/* apphello: an application image for slot A, started by the real bootloader. It checks
 * that the hand-over left the chip as a reset would (VTOR at the slot, MSI 4 MHz with the
 * PLLs off, flash latency 0, SysTick off, no IRQ enabled or pending, PRIMASK clear, USB
 * controller off), that its metadata is where the image format puts it, and that the
 * bootloader counted the boot attempt; then it confirms the boot (clears the counter). */
#include "layout.h"
#include "target.h"
#include "testlib.h"
#include "regs/cortex_m4.h"
#include "regs/flash.h"
#include "regs/rcc.h"

struct handover {
    uint32_t vtor, rcc_cr, rcc_cfgr, rcc_pllcfgr, rcc_ccipr, rcc_ahb2enr, flash_acr, systick;
    uint32_t nvic_enabled, nvic_pending, primask;
};

int main(void)
{
    struct handover seen = {
        .vtor = SCB_VTOR,
        .rcc_cr = RCC_CR,
        .rcc_cfgr = RCC_CFGR,
        .rcc_pllcfgr = RCC_PLLCFGR,
        .rcc_ccipr = RCC_CCIPR,
        .rcc_ahb2enr = RCC_AHB2ENR,
        .flash_acr = FLASH_ACR,
        .systick = SYST_CSR,
    };
    for (unsigned i = 0; i < NVIC_WORDS; i++) {
        seen.nvic_enabled |= NVIC_ISER(i);
        seen.nvic_pending |= NVIC_ISPR(i);
    }
    __asm__ volatile("mrs %0, primask" : "=r"(seen.primask));

    test_begin("apphello");
    test_check_eq(seen.vtor, LAYOUT_SLOT_A_BASE, "VTOR is not the slot");
    test_check_eq(seen.rcc_cfgr, 0u, "RCC_CFGR not at reset (SYSCLK MSI, no prescalers)");
    test_check_eq(seen.rcc_cr & (RCC_CR_PLLON | RCC_CR_PLLSAI1ON | RCC_CR_HSEON), 0u,
                  "a PLL or the HSE left running");
    test_check_eq((seen.rcc_cr & RCC_CR_MSIRANGE_MASK) >> RCC_CR_MSIRANGE_SHIFT, RCC_MSIRANGE_4MHZ,
                  "MSI not back at 4 MHz");
    test_check_eq(seen.rcc_cr & RCC_CR_MSIPLLEN, 0u, "MSI still in PLL mode");
    test_check_eq(seen.rcc_pllcfgr, RCC_PLLCFGR_RESET_VALUE, "RCC_PLLCFGR not at reset");
    test_check_eq(seen.rcc_ccipr, 0u, "RCC_CCIPR (CLK48SEL) not at reset");
    test_check_eq(seen.rcc_ahb2enr, 0u, "GPIO or OTG_FS clocks left on");
    test_check_eq(seen.flash_acr & FLASH_ACR_LATENCY_MASK, 0u, "flash latency not back to 0");
    test_check_eq(seen.systick & SYST_CSR_ENABLE, 0u, "SysTick left running");
    test_check_eq(seen.nvic_enabled, 0u, "an IRQ left enabled");
    test_check_eq(seen.nvic_pending, 0u, "an IRQ left pending");
    test_check_eq(seen.primask, 0u, "started with PRIMASK set");

    const uint32_t *image = (const uint32_t *)LAYOUT_SLOT_A_BASE;
    test_check_eq(image[LAYOUT_IMAGE_MAGIC_OFFSET / 4u], LAYOUT_IMAGE_MAGIC, "image magic");
    test_check_eq(image[LAYOUT_IMAGE_VERSION_OFFSET / 4u], 0x01020003u, "image version 1.2.3");
    test_check(target_bootcount_read() >= 1u, "bootloader did not count the boot attempt");
    target_bootcount_write(0u);
    test_check_eq(target_bootcount_read(), 0u, "boot counter not cleared");
    console_puts("application started by the bootloader\n");
    test_pass();
}
