/* The virtual USB host: what a PC's host controller and root-hub port do for the one
 * device on the board's USB connector (the OTG_FS model). It attaches when the device
 * pulls D+ up, resets the bus, enumerates (GET_DESCRIPTOR device/config/strings,
 * SET_ADDRESS, SET_CONFIGURATION), then carries out transfers submitted from outside
 * (the dfu-util bridge, tests, the bench), in 1 ms full-speed frames of virtual time.
 *
 * Threading: every function here runs on the simulator thread (the one calling
 * sim_run_*). The bridge hands requests over from its own thread through a queue.
 */
#ifndef L4SIM_USBHOST_H
#define L4SIM_USBHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim.h"

struct usbhost;

enum usbh_state {
    USBH_DETACHED,   /* no pull-up on D+ (or VBUS off) */
    USBH_RESETTING,  /* pull-up seen, bus reset in progress */
    USBH_ENUMERATING,
    USBH_CONFIGURED, /* descriptors read, address and configuration set */
    USBH_FAILED,     /* enumeration failed; usbhost_failure() says why */
};

struct usbh_xfer;
typedef void (*usbh_done_fn)(struct usbh_xfer *xfer);

struct usbh_xfer {
    uint8_t ep;         /* endpoint address: bit 7 = IN; 0x00/0x80 = control */
    uint8_t type;       /* 0 control, 2 bulk, 3 interrupt */
    uint8_t setup[8];   /* control transfers: the setup packet (wLength = data length) */
    uint8_t *data;      /* data stage buffer */
    uint32_t length;    /* bytes requested */
    uint32_t actual;    /* bytes transferred (data stage only, setup excluded) */
    int status;         /* 0, or -EPIPE (STALL), -ETIMEDOUT, -ENODEV (device gone),
                           -ECONNRESET (cancelled), -EPROTO (protocol error) */
    uint32_t timeout_ms; /* virtual-time timeout; 0 = none */
    usbh_done_fn done;  /* called on the simulator thread when finished */
    void *user;
    /* private to the host */
    struct usbh_xfer *next_;
    uint64_t deadline_;
    uint32_t stage_;
    uint32_t offset_;
    uint64_t retry_at_;  /* not before this virtual time (NAK retry, interrupt interval) */
    uint32_t errors_;    /* consecutive transaction errors (three strikes) */
    uint8_t toggle_;     /* control transfers: next data PID */
};

/* Create the host and plug it into the board's USB connector (VBUS on). */
struct usbhost *usbhost_attach(sim_t *sim);
struct usbhost *usbhost_of(sim_t *sim); /* the one attached, or NULL */

/* Cable: VBUS on/off (unplug makes the device see session end, the host forget it). */
void usbhost_plug(struct usbhost *h, bool plugged);

enum usbh_state usbhost_state(const struct usbhost *h);
const char *usbhost_failure(const struct usbhost *h);
/* Increments every time the device is (re)enumerated; a change means "new device". */
uint32_t usbhost_generation(const struct usbhost *h);
uint8_t usbhost_address(const struct usbhost *h);

/* What the device answered during enumeration: the device descriptor followed by every
 * configuration descriptor (full wTotalLength), as Linux's sysfs `descriptors` holds. */
const uint8_t *usbhost_descriptors(const struct usbhost *h, size_t *len);

/* Called (simulator thread) whenever the state changes: detach, configured, failed. */
typedef void (*usbh_listener_fn)(void *user, enum usbh_state state);
void usbhost_set_listener(struct usbhost *h, usbh_listener_fn fn, void *user);

/* Queue a transfer; returns 0, or -ENODEV when no configured device. */
int usbhost_submit(struct usbhost *h, struct usbh_xfer *xfer);
/* Cancel a queued/active transfer: it completes with -ECONNRESET. */
void usbhost_cancel(struct usbhost *h, struct usbh_xfer *xfer);
/* Reset the port and enumerate again (libusb_reset_device). */
void usbhost_port_reset(struct usbhost *h);

/* Convenience for tests and tools: submit and run the simulator until it completes.
 * Returns the transfer status; *actual gets the byte count. */
int usbhost_control_sync(struct usbhost *h, const uint8_t setup[8], uint8_t *data,
                         uint32_t *actual, uint32_t timeout_ms);
/* Run the simulator until the host reaches `state` or timeout (virtual ms). */
bool usbhost_wait_state(struct usbhost *h, enum usbh_state state, uint32_t timeout_ms);

/* Bus statistics for the bench: packets, NAKs, bytes, frames. */
struct usbh_stats {
    uint64_t setup_packets, in_packets, out_packets, naks, stalls, bytes_in, bytes_out, frames;
};
void usbhost_stats(const struct usbhost *h, struct usbh_stats *out);

#endif
