/* What the two OTG_FS device drivers share: the bring-up and the FIFO access of the
 * L476's OTG_FS core. usb_otgfs.c puts usbd_port.h's endpoints on it (applications);
 * usb_ep0.c is the bootloader's EP0-only device. Facts: shared/reference/otg-fs-device.md. */
#ifndef L4_OTGFS_CORE_H
#define L4_OTGFS_CORE_H

#include <stdbool.h>
#include <stdint.h>

#ifndef USBD_PORT_ENDPOINTS
#define USBD_PORT_ENDPOINTS 4u /* EP0..EP3; the core has 6 */
#endif
#define OTGFS_EP0_SIZE 64u

/* Bounded wait for the bits `mask` of *reg to clear; false if they never did. */
bool otgfs_wait_clear(volatile uint32_t *reg, uint32_t mask);
void otgfs_flush_tx_fifo(uint32_t txfnum_field);
/* Pushes len bytes to TX FIFO ep in whole words (the last may read up to three bytes
 * past src: the core does not send them). */
void otgfs_fifo_write(unsigned ep, const uint8_t *src, uint32_t len);
/* Pops the ceil(len/4) words of one packet; keeps what fits in dst[0..room). */
void otgfs_fifo_read(uint8_t *dst, uint32_t len, uint32_t room);
/* A SETUP ends whatever EP0 was doing: an IN packet the host gave up on leaves the TX
 * FIFO before the answer to the new request goes in. */
void otgfs_ep0_abort_in(void);
/* GINTSTS.ENUMDNE: acknowledge it, EP0 to 64-byte packets, clear the global IN NAK. */
void otgfs_enumeration_done(void);

#endif
