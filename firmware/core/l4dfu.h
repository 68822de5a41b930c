/* The l4dfu application API: what an application running in slot A calls to hand the
 * chip to a bootloader and to tell the l4dfu bootloader it started well.
 * docs/run-time-dfu.md shows the whole flow with dfu-util.
 *
 * Both hand-overs go through a system reset with a request left in the backup domain
 * (RTC BKP0R, which a system reset keeps), so whatever the application did to clocks,
 * USB, interrupts and pins is undone by the hardware, not by code that has to know
 * about every peripheral the application touched.
 *
 * Typical use:
 *     dfu_runtime_init(l4dfu_request_update);   // DETACH -> l4dfu bootloader
 *     ... once the application is known to work:
 *     l4dfu_confirm_boot();
 */
#ifndef L4DFU_APP_API_H
#define L4DFU_APP_API_H

#include <stdint.h>

/* Enter the l4dfu bootloader in DFU mode: disconnects USB (long enough for the host to
 * see the device leave), writes "DFU!" (0x21554644) into BKP0R and resets. The
 * bootloader consumes the value and stays in DFU mode even though the application is
 * valid. Suitable as the run-time DFU interface's detach action: it runs after the
 * DETACH status stage and, as the functional descriptor says WillDetach, dfu-util
 * waits for the device to come back as 0483:DF11 instead of resetting it. */
void l4dfu_request_update(void) __attribute__((noreturn));

/* Enter ST's ROM bootloader (system memory, USB DFU as 0483:DF11 with ST's own
 * descriptors): writes "ROM!" (0x214D4F52) into BKP0R and resets. The chip's startup
 * code (firmware/stm32l4/startup.c, in the l4dfu bootloader that runs first after
 * reset) sees the value before it touches any clock, clears it, remaps system memory
 * to address 0 (SYSCFG_MEMRMP.MEM_MODE = 001) and starts the ROM through the vectors at
 * 0x1FFF0000.
 * What the ROM needs, and why the reset gives it:
 *   - clocks as after reset (MSI 4 MHz, PLLs off, RCC_CFGR 0): the ROM sets up its own
 *     USB clock from the HSE or the LSE-trimmed MSI; the system reset restores them;
 *   - USB off and disconnected, SysTick and NVIC quiet, no pending interrupts: the
 *     reset does it, and the startup hook runs before anything is re-enabled;
 *   - BOOT0 does not matter: the pin chooses what is mapped at 0 at reset, and the
 *     remap overrides that choice, so a board with BOOT0 tied low still gets the ROM.
 * The ROM leaves (after a dfu-util ":leave") by jumping to its address pointer, by
 * default 0x08000000: the l4dfu bootloader, which then starts the application. */
void l4dfu_enter_rom_bootloader(void) __attribute__((noreturn));

/* The application started and works: clears the boot-attempt counter (BKP1R) that the
 * bootloader increments before each start. Call it once the application has done
 * whatever "working" means for it (the demo: USB configured, or a few seconds up);
 * after 3 starts without it the bootloader stays in DFU mode. Cheap to call again. */
void l4dfu_confirm_boot(void);

/* Starts since the last confirmation, this one included (BKP1R): 1 on a normal start. */
uint32_t l4dfu_boot_attempts(void);

/* ---- chip part, implemented by the chip layer (firmware/stm32l4/l4dfu_app_stm32l4.c) ---- */

/* Make the chip safe to reset into a bootloader: interrupts masked, and USB, if it is
 * running, disconnected and held off long enough for the host to notice. */
void l4dfu_chip_quiesce(void);

#endif
