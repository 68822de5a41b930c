/* USB device port driver interface: what the device core (usbd.c) needs from a
 * USB controller. firmware/stm32l4/usb_otgfs.c implements it for the L476's
 * OTG_FS core; tests/unit has a fake. The port owns no policy: it moves packets
 * and reports events by calling the usbd_port_on_* functions below, from
 * usbd_port_poll() (a polled bootloader calls it in its main loop; an
 * interrupt-driven application calls it from the OTG_FS IRQ handler).
 */
#ifndef L4DFU_USBD_PORT_H
#define L4DFU_USBD_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum usbd_ep_type { USBD_EP_CONTROL = 0, USBD_EP_ISO = 1, USBD_EP_BULK = 2, USBD_EP_INTERRUPT = 3 };

/* ---- implemented by the port driver ---- */

/* Core reset, FIFOs, device mode; leaves the device disconnected (soft-disconnect). */
void usbd_port_init(void);
/* Pull-up on (connect) or off. */
void usbd_port_connect(bool on);
/* Disconnect and put the controller back to its reset state (before jumping away). */
void usbd_port_deinit(void);
/* Handle pending controller events; calls the usbd_port_on_* callbacks. */
void usbd_port_poll(void);
/* Called from the SET_ADDRESS setup, before the status stage is queued (DWC2 wants
 * DCFG.DAD written before its status-IN ZLP; the core keeps answering address 0 until
 * that ZLP is acknowledged). */
void usbd_port_set_address(uint8_t addr);
/* Open a non-control endpoint (ep: number | 0x80 for IN). */
void usbd_port_ep_open(uint8_t ep, enum usbd_ep_type type, uint16_t max_packet);
/* Start an IN transfer of len bytes (any length; the port splits it into packets and,
 * for control IN, the caller decides about a ZLP by calling again with len 0).
 * data must stay valid until usbd_port_on_in_done(ep). */
void usbd_port_ep_send(uint8_t ep, const void *data, size_t len);
/* Arm an OUT endpoint to receive up to len bytes into buf (EP0: one data stage or status). */
void usbd_port_ep_receive(uint8_t ep, void *buf, size_t len);
void usbd_port_ep_stall(uint8_t ep, bool stall);

/* ---- implemented by the device core, called by the port ---- */
void usbd_port_on_bus_reset(void);
void usbd_port_on_setup(const uint8_t setup[8]);
/* An OUT transfer armed with usbd_port_ep_receive finished (len bytes, short packet or full). */
void usbd_port_on_out_done(uint8_t ep, size_t len);
/* An IN transfer started with usbd_port_ep_send was fully acknowledged by the host. */
void usbd_port_on_in_done(uint8_t ep);
void usbd_port_on_suspend(void);

#endif
