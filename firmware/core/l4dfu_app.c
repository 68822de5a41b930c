/* The policy half of the application API (l4dfu.h): which request goes where, and in
 * which order. Register work is in the chip layer (target.h, l4dfu_chip_quiesce). */
#include "l4dfu.h"

#include "boot.h"
#include "target.h"

/* The request must be in BKP0R before the reset, and nothing may run in between that
 * could change it: interrupts are masked by the quiesce. */
static void __attribute__((noreturn)) hand_over(uint32_t request)
{
    l4dfu_chip_quiesce();
    target_handshake_write(request);
    target_reset();
}

void l4dfu_request_update(void)
{
    hand_over(BOOT_HANDSHAKE_DFU);
}

void l4dfu_enter_rom_bootloader(void)
{
    hand_over(BOOT_HANDSHAKE_ROM);
}

/* A backup-domain write only when the counter is set, so calling this from a loop
 * costs a read. */
void l4dfu_confirm_boot(void)
{
    if (target_bootcount_read() != 0u)
        target_bootcount_write(0u);
}

uint32_t l4dfu_boot_attempts(void)
{
    return target_bootcount_read();
}
