/* GET_DESCRIPTOR for a struct usbd_device: the one piece both EP0 layers use (usbd.c for
 * applications, stm32l4/usb_ep0.c for the bootloader). Header-only so each layer's build
 * keeps its own file list; with -Os/LTO it costs nothing over a private copy. */
#ifndef L4DFU_USBD_DESCRIPTORS_H
#define L4DFU_USBD_DESCRIPTORS_H

#include "usbd.h"

#define USBD_DESC_DEVICE 1u
#define USBD_DESC_CONFIGURATION 2u
#define USBD_DESC_STRING 3u
/* Room for the longest string descriptor: header + UTF-16LE characters. */
#define USBD_STRING_BUFFER (2u + 2u * USBD_MAX_STRING_CHARS)

/* The UTF-16LE string descriptor `index` into d (index 0: the language list, US English);
 * returns its length, 0 if the device has no such string. */
static inline uint16_t usbd_string_descriptor(const struct usbd_device *dev, uint8_t index, uint8_t *d)
{
    if (index == 0) {
        d[2] = 0x09;
        d[3] = 0x04;
        d[0] = 4;
    } else {
        const char *s = dev->string(index);
        if (s == 0)
            return 0;
        uint8_t n = 0;
        for (; s[n] != '\0' && n < USBD_MAX_STRING_CHARS; n++) {
            d[2 + 2 * n] = (uint8_t)s[n];
            d[3 + 2 * n] = 0;
        }
        d[0] = (uint8_t)(2 + 2 * n);
    }
    d[1] = USBD_DESC_STRING;
    return d[0];
}

/* GET_DESCRIPTOR (wValue = type << 8 | index): point *data at it, *len its full length;
 * false = STALL (unknown type or index; a full-speed-only device has no qualifier).
 * `text` (USBD_STRING_BUFFER bytes) receives string descriptors. */
static inline bool usbd_get_descriptor(const struct usbd_device *dev, uint16_t wValue, uint8_t *text,
                                       uint8_t **data, uint16_t *len)
{
    const uint8_t *cfg = dev->config_descriptor;
    uint8_t index = (uint8_t)wValue;
    switch (wValue >> 8) {
    case USBD_DESC_DEVICE:
        *data = (uint8_t *)dev->device_descriptor;
        *len = 18;
        return true;
    case USBD_DESC_CONFIGURATION:
        *data = (uint8_t *)cfg;
        *len = (uint16_t)(cfg[2] | cfg[3] << 8);
        return index == 0;
    case USBD_DESC_STRING:
        *data = text;
        *len = usbd_string_descriptor(dev, index, text);
        return *len != 0;
    default:
        return false;
    }
}

#endif
