/* USB device core: EP0 control transfers, standard requests, descriptors, and the
 * dispatch of class requests to the driver that owns the addressed interface.
 * It sits between the port (usbd_port.h, moves packets) and the class drivers
 * (dfu.c, dfu_runtime.c). No heap, no formatted output: it goes into the bootloader. */
#ifndef L4DFU_USBD_H
#define L4DFU_USBD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define USBD_EP0_SIZE 64u
#define USBD_MAX_INTERFACES 4u
#define USBD_MAX_STRING_CHARS 63u /* longer ASCII strings are cut */

struct usbd_setup {
    uint8_t bmRequestType;
    uint8_t bRequest;
    uint16_t wValue;
    uint16_t wIndex;
    uint16_t wLength;
};

#define USBD_DIR_IN 0x80u
#define USBD_TYPE_MASK 0x60u
#define USBD_TYPE_STANDARD 0x00u
#define USBD_TYPE_CLASS 0x20u
#define USBD_RECIPIENT_MASK 0x1Fu
#define USBD_RECIPIENT_DEVICE 0u
#define USBD_RECIPIENT_INTERFACE 1u
#define USBD_RECIPIENT_ENDPOINT 2u

enum usbd_stage {
    USBD_STAGE_SETUP, /* IN: give the reply; OUT with data: give the buffer for it */
    USBD_STAGE_DATA,  /* OUT: the data stage arrived (*len bytes) */
    USBD_STAGE_DONE,  /* the status stage completed: the host has its answer */
};

struct usbd_class {
    /* A class request for one of this driver's interfaces. Return false to STALL.
     * SETUP, IN request: point *data at the reply and set *len (trimmed to wLength by
     * the core; the buffer must live until the transfer ends).
     * SETUP, OUT with wLength > 0: point *data at a buffer and set *len to its size;
     * the core stalls a data stage longer than that (a host must not write past it).
     * DATA: *len bytes arrived in that buffer. DONE: return value ignored. */
    bool (*control)(const struct usbd_setup *req, enum usbd_stage stage, uint8_t **data,
                    uint16_t *len);
    /* SET_INTERFACE, and alt 0 at SET_CONFIGURATION. false = no such alt (STALL). */
    bool (*set_alt)(uint8_t iface, uint8_t alt);
    void (*bus_reset)(void);
};

struct usbd_device {
    const uint8_t *device_descriptor; /* 18 bytes */
    const uint8_t *config_descriptor; /* one configuration; wTotalLength inside */
    /* ASCII text of string descriptor `index` (>= 1), or NULL (STALL). The pointer
     * need only stay valid until the call returns. */
    const char *(*string)(uint8_t index);
    const struct usbd_class *const *interfaces; /* indexed by interface number */
    uint8_t interface_count;
    /* Transfers on endpoints other than EP0 (optional, for applications). */
    void (*endpoint_done)(uint8_t ep, size_t len);
};

void usbd_init(const struct usbd_device *dev);
bool usbd_configured(void);

#endif
