/* The boot decision: a pure function of what the bootloader read at reset, so the
 * whole table is unit-tested. firmware/bootloader/main.c performs the outcome. */
#ifndef L4DFU_BOOT_H
#define L4DFU_BOOT_H

#include <stdbool.h>
#include <stdint.h>

#define BOOT_HANDSHAKE_DFU 0x21554644u /* "DFU!": the application asks for DFU mode */
#define BOOT_HANDSHAKE_ROM 0x214D4F52u /* "ROM!": handled by the chip's startup code */
#define BOOT_MAX_ATTEMPTS 3u           /* unconfirmed starts before the app is given up */

struct boot_inputs {
    bool power_on_reset; /* backup registers hold nothing meaningful */
    uint32_t handshake;  /* RTC BKP0R */
    bool button_pressed;
    bool app_valid;      /* image_check() == IMAGE_OK for slot A */
    uint32_t boot_count; /* RTC BKP1R: starts not yet confirmed by the app */
};

enum boot_action { BOOT_STAY_IN_DFU, BOOT_START_APP };

enum boot_reason {
    BOOT_REASON_APP_OK,        /* start the application */
    BOOT_REASON_REQUESTED,     /* the application wrote the DFU handshake */
    BOOT_REASON_BUTTON,
    BOOT_REASON_NO_VALID_APP,
    BOOT_REASON_APP_FAILED,    /* BOOT_MAX_ATTEMPTS starts without a confirmation */
};

struct boot_decision {
    enum boot_action action;
    enum boot_reason reason;
    bool clear_handshake;    /* write 0 to BKP0R */
    uint32_t new_boot_count; /* write to BKP1R */
};

struct boot_decision boot_decide(const struct boot_inputs *in);

#endif
