/* Startup for every l4dfu program on the STM32L476: the vector table (16 system + 82
 * device entries, 512-byte aligned for VTOR) and Reset_Handler.
 *
 * Application images (built with L4_IMAGE_APP) carry their metadata in the four
 * Cortex-M reserved vector slots at 0x1C..0x28 (magic, length, CRC, version); the
 * linker script provides the length, the packer fills in the CRC.
 */
#include <stdint.h>

#include "layout.h"
#include "regs/cortex_m4.h"
#include "regs/pwr.h"
#include "regs/rcc.h"
#include "regs/rtc.h"
#include "regs/syscfg.h"

int main(void);
void Reset_Handler(void);
void default_handler(void);

/* Linker script symbols. */
extern uint32_t _estack[];
extern uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[];
#ifdef L4_IMAGE_APP
extern uint32_t __image_length[];
#endif

typedef void (*vector_fn)(void);

#define HANDLER(name) void name(void) __attribute__((weak, alias("default_handler")));
HANDLER(NMI_Handler)
HANDLER(HardFault_Handler)
HANDLER(MemManage_Handler)
HANDLER(BusFault_Handler)
HANDLER(UsageFault_Handler)
HANDLER(SVC_Handler)
HANDLER(DebugMon_Handler)
HANDLER(PendSV_Handler)
HANDLER(SysTick_Handler)

/* Device interrupts 0..81, in IRQ number order (names as in ST's device header). */
#define DEVICE_IRQS(X)                                                                        \
    X(WWDG) X(PVD_PVM) X(TAMP_STAMP) X(RTC_WKUP) X(FLASH) X(RCC) X(EXTI0) X(EXTI1) X(EXTI2)  \
    X(EXTI3) X(EXTI4) X(DMA1_Channel1) X(DMA1_Channel2) X(DMA1_Channel3) X(DMA1_Channel4)     \
    X(DMA1_Channel5) X(DMA1_Channel6) X(DMA1_Channel7) X(ADC1_2) X(CAN1_TX) X(CAN1_RX0)      \
    X(CAN1_RX1) X(CAN1_SCE) X(EXTI9_5) X(TIM1_BRK_TIM15) X(TIM1_UP_TIM16)                   \
    X(TIM1_TRG_COM_TIM17) X(TIM1_CC) X(TIM2) X(TIM3) X(TIM4) X(I2C1_EV) X(I2C1_ER)           \
    X(I2C2_EV) X(I2C2_ER) X(SPI1) X(SPI2) X(USART1) X(USART2) X(USART3) X(EXTI15_10)         \
    X(RTC_Alarm) X(DFSDM1_FLT3) X(TIM8_BRK) X(TIM8_UP) X(TIM8_TRG_COM) X(TIM8_CC) X(ADC3)    \
    X(FMC) X(SDMMC1) X(TIM5) X(SPI3) X(UART4) X(UART5) X(TIM6_DAC) X(TIM7) X(DMA2_Channel1) \
    X(DMA2_Channel2) X(DMA2_Channel3) X(DMA2_Channel4) X(DMA2_Channel5) X(DFSDM1_FLT0)       \
    X(DFSDM1_FLT1) X(DFSDM1_FLT2) X(COMP) X(LPTIM1) X(LPTIM2) X(OTG_FS) X(DMA2_Channel6)     \
    X(DMA2_Channel7) X(LPUART1) X(QUADSPI) X(I2C3_EV) X(I2C3_ER) X(SAI1) X(SAI2) X(SWPMI1)  \
    X(TSC) X(LCD) X(Reserved79) X(RNG) X(FPU)

#define DECLARE_IRQ(name) HANDLER(name##_IRQHandler)
#define IRQ_ENTRY(name) name##_IRQHandler,
DEVICE_IRQS(DECLARE_IRQ)

struct vector_table {
    uint32_t *initial_sp;
    vector_fn reset, nmi, hard_fault, mem_manage, bus_fault, usage_fault;
    uint32_t image_magic;   /* 0x1C */
    uint32_t image_length;  /* 0x20 */
    uint32_t image_crc;     /* 0x24 */
    uint32_t image_version; /* 0x28 */
    vector_fn svcall, debug_monitor;
    uint32_t reserved_34;
    vector_fn pendsv, systick;
#ifndef L4_VECTORS_SYSTEM_ONLY
    vector_fn irq[82];
#endif
};
#ifndef L4_VECTORS_SYSTEM_ONLY
_Static_assert(sizeof(struct vector_table) == 98 * 4, "16 system + 82 device vectors");
#else
/* A program that never enables a device interrupt (the polled bootloader, as an opt-in
 * to save 328 bytes) may stop after the system exceptions. */
_Static_assert(sizeof(struct vector_table) == 16 * 4, "16 system vectors");
#endif

#ifdef L4_IMAGE_APP
#ifndef L4_IMAGE_VERSION
#define L4_IMAGE_VERSION 0u
#endif
#define IMAGE_MAGIC   LAYOUT_IMAGE_MAGIC
#define IMAGE_LENGTH  ((uint32_t)__image_length)
#define IMAGE_VERSION ((uint32_t)(L4_IMAGE_VERSION))
#else
#define IMAGE_MAGIC   0u
#define IMAGE_LENGTH  0u
#define IMAGE_VERSION 0u
#endif

__attribute__((section(".vectors"), used)) const struct vector_table vector_table = {
    .initial_sp = _estack,
    .reset = Reset_Handler,
    .nmi = NMI_Handler,
    .hard_fault = HardFault_Handler,
    .mem_manage = MemManage_Handler,
    .bus_fault = BusFault_Handler,
    .usage_fault = UsageFault_Handler,
    .image_magic = IMAGE_MAGIC,
    .image_length = IMAGE_LENGTH,
    .image_crc = 0u, /* stamped by the packer */
    .image_version = IMAGE_VERSION,
    .svcall = SVC_Handler,
    .debug_monitor = DebugMon_Handler,
    .pendsv = PendSV_Handler,
    .systick = SysTick_Handler,
#ifndef L4_VECTORS_SYSTEM_ONLY
    .irq = { DEVICE_IRQS(IRQ_ENTRY) },
#endif
};

void default_handler(void)
{
    for (;;) {
    }
}

/* Two requests are taken here, from BKP0R, before any clock is touched:
 * - "ROM!" (written by an application, then a reset): ST's ROM bootloader, entered with
 *   the system memory mapped at 0 as if BOOT0 were high (the ROM expects the reset
 *   clock tree);
 * - "RUN!" (bootloader only, written by target_start_image, then a reset): the image
 *   in slot A, which the bootloader has just checked, so that it starts from a real
 *   reset state rather than one the bootloader would have to undo.
 * The request is consumed first, so a failing image cannot loop here. */
static void enter_requested_image(void)
{
    uint32_t request = RTC_BKPR(LAYOUT_BKP_HANDSHAKE);
#ifdef L4_BOOTLOADER
    if (request != LAYOUT_HANDSHAKE_ROM && request != LAYOUT_HANDSHAKE_RUN)
        return;
#else
    if (request != LAYOUT_HANDSHAKE_ROM)
        return;
#endif
    RCC_APB1ENR1 |= RCC_APB1_1_PWR;
    (void)RCC_APB1ENR1; /* the enable takes effect before PWR is written */
    PWR_CR1 |= PWR_CR1_DBP;
    RTC_BKPR(LAYOUT_BKP_HANDSHAKE) = 0u;
    uint32_t vectors = LAYOUT_SYSMEM_BASE;
#ifdef L4_BOOTLOADER
    if (request == LAYOUT_HANDSHAKE_RUN) {
        vectors = LAYOUT_SLOT_A_BASE;
        SCB_VTOR = vectors;
    } else
#endif
    {
        RCC_APB2ENR |= RCC_APB2_SYSCFG;
        (void)RCC_APB2ENR;
        SYSCFG_MEMRMP = (SYSCFG_MEMRMP & ~SYSCFG_MEMRMP_MEM_MODE_MASK) |
                        SYSCFG_MEMRMP_MEM_MODE_SYSMEM;
    }
    cpu_dsb();
    cpu_isb();
    uint32_t sp = L4_REG32(vectors);
    uint32_t entry = L4_REG32(vectors + 4u);
    __asm__ volatile("msr msp, %0\n\tbx %1" : : "r"(sp), "r"(entry) : "memory");
    __builtin_unreachable();
}

/* Plain loops, so that GCC does not turn them into memcpy/memset calls before .data
 * and .bss exist (and the bootloader does not pull in newlib's versions). */
__attribute__((noreturn, optimize("no-tree-loop-distribute-patterns"))) void Reset_Handler(void)
{
    enter_requested_image();

#ifndef L4_BOOTLOADER /* built with -mgeneral-regs-only: it never touches the FPU */
    SCB_CPACR |= SCB_CPACR_CP10_CP11_FULL;
    cpu_dsb();
    cpu_isb();
#endif

    uint32_t *dst = _sdata;
    for (const uint32_t *src = _sidata; dst < _edata;)
        *dst++ = *src++;
    for (dst = _sbss; dst < _ebss;)
        *dst++ = 0u;

    SCB_VTOR = (uint32_t)&vector_table;
    main();
    for (;;) {
    }
}
