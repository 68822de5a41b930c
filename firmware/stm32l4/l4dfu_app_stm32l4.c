/* The chip part of the application API (l4dfu.h) on the STM32L476. The backup-register
 * write and the reset are target.h's (target_stm32l4.c); the ROM route's remap and jump
 * live in startup.c, which must run them before any clock is touched. */
#include "l4dfu.h"
#include "usbd_port.h"
#include "regs/cortex_m4.h"
#include "regs/rcc.h"

void l4dfu_chip_quiesce(void)
{
    cpu_irq_disable();
    SYST_CSR = 0u; /* no SysTick exception pending behind the masked interrupts */
    /* Only a running controller can be disconnected: with its clock off the OTG
     * registers are not there, and the pull-up is off anyway. usbd_port_deinit holds
     * the disconnect for >= 10 ms so the host sees the device leave before the
     * bootloader connects again (the same USB cable, a different device). */
    if (RCC_AHB2ENR & RCC_AHB2_OTGFS)
        usbd_port_deinit();
}
