#include "boot.h"

struct boot_decision boot_decide(const struct boot_inputs *in)
{
    /* After a power-on the backup domain is fresh or stale: neither register means
     * anything, and both are rewritten below. */
    uint32_t handshake = in->power_on_reset ? 0 : in->handshake;
    uint32_t boot_count = in->power_on_reset ? 0 : in->boot_count;
    struct boot_decision d = {
        .action = BOOT_STAY_IN_DFU,
        .clear_handshake = handshake != 0 || in->power_on_reset,
        /* Staying in DFU mode gives the (perhaps new) application fresh attempts. */
        .new_boot_count = 0,
    };

    if (handshake == BOOT_HANDSHAKE_DFU)
        d.reason = BOOT_REASON_REQUESTED;
    else if (in->button_pressed)
        d.reason = BOOT_REASON_BUTTON;
    else if (!in->app_valid)
        d.reason = BOOT_REASON_NO_VALID_APP;
    else if (boot_count >= BOOT_MAX_ATTEMPTS)
        d.reason = BOOT_REASON_APP_FAILED;
    else {
        d.action = BOOT_START_APP;
        d.reason = BOOT_REASON_APP_OK;
        d.new_boot_count = boot_count + 1;
    }
    return d;
}
