/* Cortex-M4 system control space: SCB, NVIC, SysTick, FPU access
 * (ARMv7-M ARM B3; PM0214). Facts: stm32l476-registers.md §6 "Cortex-M4 core". */
#ifndef L4_REGS_CORTEX_M4_H
#define L4_REGS_CORTEX_M4_H

#include "mmio.h"

#define SYST_CSR   L4_REG32(0xE000E010u)
#define SYST_RVR   L4_REG32(0xE000E014u)
#define SYST_CVR   L4_REG32(0xE000E018u)
#define SYST_CSR_ENABLE    (1u << 0)
#define SYST_CSR_TICKINT   (1u << 1)
#define SYST_CSR_CLKSOURCE (1u << 2) /* 1 = processor clock (HCLK) */
#define SYST_CSR_COUNTFLAG (1u << 16)
#define SYST_MAX_RELOAD    0x00FFFFFFu

#define NVIC_ISER(n) L4_REG32(0xE000E100u + 4u * (n))
#define NVIC_ICER(n) L4_REG32(0xE000E180u + 4u * (n))
#define NVIC_ISPR(n) L4_REG32(0xE000E200u + 4u * (n))
#define NVIC_ICPR(n) L4_REG32(0xE000E280u + 4u * (n))
#define NVIC_IABR(n) L4_REG32(0xE000E300u + 4u * (n))
#define NVIC_IPR8(irq) L4_REG8(0xE000E400u + (irq)) /* priority in the upper 4 bits */
#define NVIC_STIR    L4_REG32(0xE000EF00u)
#define NVIC_WORDS   3u /* 82 device IRQs */

#define SCB_CPUID L4_REG32(0xE000ED00u)
#define SCB_ICSR  L4_REG32(0xE000ED04u)
#define SCB_VTOR  L4_REG32(0xE000ED08u)
#define SCB_AIRCR L4_REG32(0xE000ED0Cu)
#define SCB_SHPR2 L4_REG32(0xE000ED1Cu) /* SVCall priority in [31:24] */
#define SCB_SHPR3 L4_REG32(0xE000ED20u) /* PendSV [23:16], SysTick [31:24] */
#define SCB_CPACR L4_REG32(0xE000ED88u)

#define SCB_ICSR_PENDSVSET (1u << 28)
#define SCB_AIRCR_VECTKEY  (0x05FAu << 16)
#define SCB_AIRCR_PRIGROUP_MASK (7u << 8)
#define SCB_AIRCR_SYSRESETREQ (1u << 2)
#define SCB_CPACR_CP10_CP11_FULL (0xFu << 20)

static inline void cpu_dsb(void) { __asm__ volatile("dsb 0xF" ::: "memory"); }
static inline void cpu_isb(void) { __asm__ volatile("isb 0xF" ::: "memory"); }
static inline void cpu_irq_disable(void) { __asm__ volatile("cpsid i" ::: "memory"); }
static inline void cpu_irq_enable(void) { __asm__ volatile("cpsie i" ::: "memory"); }

#endif
