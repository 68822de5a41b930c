/* The demo application's USB device: one configuration with a CDC-ACM serial port
 * (interfaces 0 and 1, grouped by an IAD) and the run-time DFU interface (2).
 * Portable (no registers), so tests/unit checks it field by field on the host. */
#ifndef DEMO_USB_DEVICE_H
#define DEMO_USB_DEVICE_H

#include <stdint.h>

#include "cdc_acm.h"
#include "usbd.h"

/* ST's virtual COM port ID: the host's in-box CDC-ACM driver binds to it. The l4dfu
 * bootloader is 0483:DF11, so dfu-util needs both: -d 0483:5740,0483:df11. */
#define DEMO_USB_VID 0x0483u
#define DEMO_USB_PID 0x5740u

#define DEMO_IFACE_CDC_COMM 0u
#define DEMO_IFACE_CDC_DATA 1u
#define DEMO_IFACE_DFU 2u
#define DEMO_INTERFACES 3u

enum demo_string {
    DEMO_STR_MANUFACTURER = 1,
    DEMO_STR_PRODUCT,
    DEMO_STR_SERIAL,
    DEMO_STR_CDC,
    DEMO_STR_DFU,
};

#define DEMO_CONFIG_LENGTH (9u + CDC_ACM_DESCRIPTORS_LENGTH + 18u)

extern const uint8_t demo_device_descriptor[18];
extern const uint8_t demo_config_descriptor[DEMO_CONFIG_LENGTH];
extern const struct usbd_device demo_usb_device;

#endif
