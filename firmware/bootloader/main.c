/* The l4dfu bootloader: decide, then either start the application or be a DFU device.
 * The ROM handshake ("ROM!") never gets here: the chip's startup code takes it before
 * the clocks are touched. */
#include "boot.h"
#include "dfu.h"
#include "image.h"
#include "target.h"
#include "usbd.h"
#include "usbd_port.h"

/* Where the CPU sees slot A; the host test of this file points it at its fake flash. */
#ifndef L4DFU_SLOT_A_MEMORY
#define L4DFU_SLOT_A_MEMORY ((const uint8_t *)L4DFU_SLOT_A_BASE)
#endif

/* After a DfuSe leave: reset, so the new image goes through the same checks as any boot.
 * The disconnect is held (>= 10 ms at 48 MHz) so the host sees the device go before the
 * next boot connects again; the reset puts the USB controller back to its reset state. */
static void leave_dfu(void)
{
    usbd_port_connect(false);
    for (volatile uint32_t spin = 250000u; spin != 0u; spin--) {
    }
    target_reset();
}

int main(void)
{
#ifdef L4_BOOTLOADER_WRP
    /* Build option: the bootloader's own pages (0..7 of bank 1) write-protected in the
     * option bytes. The first boot programs WRP1AR and the reload resets the chip; from
     * then on this only reads WRP1AR. An error leaves the chip unprotected but bootable. */
    (void)target_flash_write_protect_bank1(0u, L4DFU_BOOTLOADER_SIZE / 2048u - 1u);
#endif
    target_init();

    uint32_t slot_size = target_flash_base() + target_flash_bank_size() - L4DFU_SLOT_A_BASE;
    struct boot_inputs in = {
        .power_on_reset = target_reset_was_power_on(),
        .handshake = target_handshake_read(),
        .button_pressed = target_button_pressed(),
        .app_valid = image_check(L4DFU_SLOT_A_MEMORY, L4DFU_SLOT_A_BASE,
                                 slot_size, target_crc32_update) == IMAGE_OK,
        .boot_count = target_bootcount_read(),
    };
    struct boot_decision d = boot_decide(&in);
    if (d.clear_handshake)
        target_handshake_write(0);
    target_bootcount_write(d.new_boot_count);
    if (d.action == BOOT_START_APP)
        target_start_image(L4DFU_SLOT_A_BASE);

    dfu_init(leave_dfu);
    usbd_init(&dfu_usb_device);
    usbd_port_connect(true);
    for (;;) {
        usbd_port_poll();
        dfu_poll();
    }
}
