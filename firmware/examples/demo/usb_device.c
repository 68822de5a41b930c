#include "usb_device.h"

#include "dfu_runtime.h"
#include "target.h"

/* The image version (major << 24 | minor << 16 | patch) comes from the build
 * (l4_add_app VERSION); bcdDevice shows major.minor, so a host can tell v1 from v2. */
#ifndef L4_IMAGE_VERSION
#define L4_IMAGE_VERSION 0u
#endif
#define VERSION_MAJOR ((L4_IMAGE_VERSION >> 24) & 0xFFu)
#define VERSION_MINOR ((L4_IMAGE_VERSION >> 16) & 0xFFu)
#define BCD2(n) ((((n) / 10u % 10u) << 4) | ((n) % 10u))
#define BCD_DEVICE (BCD2(VERSION_MAJOR) << 8 | BCD2(VERSION_MINOR))

const uint8_t demo_device_descriptor[18] = {
    18, 1, 0x00, 0x02,  /* USB 2.0 */
    0xEF, 0x02, 0x01,   /* miscellaneous / common / IAD: the functions are in the IADs */
    USBD_EP0_SIZE,
    DEMO_USB_VID & 0xFF, DEMO_USB_VID >> 8, DEMO_USB_PID & 0xFF, DEMO_USB_PID >> 8,
    BCD_DEVICE & 0xFF, BCD_DEVICE >> 8,
    DEMO_STR_MANUFACTURER, DEMO_STR_PRODUCT, DEMO_STR_SERIAL,
    1,                  /* one configuration */
};

const uint8_t demo_config_descriptor[DEMO_CONFIG_LENGTH] = {
    9, 2, DEMO_CONFIG_LENGTH & 0xFF, DEMO_CONFIG_LENGTH >> 8, DEMO_INTERFACES,
    1,          /* bConfigurationValue */
    0,          /* no string */
    0x80, 50,   /* bus-powered, 100 mA */
    CDC_ACM_DESCRIPTORS(DEMO_IFACE_CDC_COMM, DEMO_STR_CDC),
    DFU_RUNTIME_DESCRIPTORS(DEMO_IFACE_DFU, DEMO_STR_DFU),
};

/* The same serial number as the bootloader's (and ST's ROM's), derived from the UID,
 * so `dfu-util -S` names one board in both of its modes. */
static const char *demo_string(uint8_t index)
{
    static char serial[13];
    switch (index) {
    case DEMO_STR_MANUFACTURER:
        return "l4dfu";
    case DEMO_STR_PRODUCT:
        return "l4dfu demo app";
    case DEMO_STR_SERIAL:
        target_serial_number(serial);
        return serial;
    case DEMO_STR_CDC:
        return "l4dfu demo serial port";
    case DEMO_STR_DFU:
        return "l4dfu run-time DFU";
    default:
        return NULL;
    }
}

static const struct usbd_class *const demo_interfaces[DEMO_INTERFACES] = {
    [DEMO_IFACE_CDC_COMM] = &cdc_acm_comm_class,
    [DEMO_IFACE_CDC_DATA] = &cdc_acm_data_class,
    [DEMO_IFACE_DFU] = &dfu_runtime_class,
};

const struct usbd_device demo_usb_device = {
    .device_descriptor = demo_device_descriptor,
    .config_descriptor = demo_config_descriptor,
    .string = demo_string,
    .interfaces = demo_interfaces,
    .interface_count = DEMO_INTERFACES,
    .endpoint_done = cdc_acm_endpoint_done,
};
