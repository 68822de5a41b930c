/* Run-time DFU interface (class FE/01/01) for applications: `dfu-util -e` sends
 * DETACH, and the application hands over to the bootloader. The bootloader does not
 * link this file. */
#ifndef L4DFU_DFU_RUNTIME_H
#define L4DFU_DFU_RUNTIME_H

#include "usbd.h"

#define DFU_RUNTIME_DETACH_TIMEOUT_MS 1000u

/* The interface and functional descriptors (18 bytes) for an application's
 * configuration descriptor: no endpoints, WillDetach | CanDnload (the device drops
 * off the bus by itself, so dfu-util does not reset it), wTransferSize 2048,
 * bcdDFUVersion 0x011A. */
#define DFU_RUNTIME_DESCRIPTORS(iface, istring)                                              \
    9, 4, (iface), 0, 0, 0xFE, 0x01, 0x01, (istring),                                        \
    9, 0x21, 0x09, DFU_RUNTIME_DETACH_TIMEOUT_MS & 0xFF, DFU_RUNTIME_DETACH_TIMEOUT_MS >> 8,  \
    0x00, 0x08, 0x1A, 0x01

/* `detach` runs once the host has the DETACH status stage; NULL selects
 * dfu_runtime_enter_bootloader. */
void dfu_runtime_init(void (*detach)(void));
/* Writes the "stay in DFU" handshake and resets into the bootloader. */
void dfu_runtime_enter_bootloader(void);

extern const struct usbd_class dfu_runtime_class;

#endif
