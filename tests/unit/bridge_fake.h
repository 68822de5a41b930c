/* A stand-in simulator core and virtual USB host for the bridge's unit test: just enough
 * of sim.h and usbhost.h for usb_bridge.c, with a scripted device behind it, so the
 * bridge's mechanism is tested on its own (no CPU, no OTG_FS model).
 *
 * The scripted device answers, one 1 ms frame after a transfer is submitted:
 *   standard GET_DESCRIPTOR (device, configuration, strings), SET_INTERFACE (stalls on
 *   interfaces with one alternate setting, as many devices do), SET_CONFIGURATION,
 *   CLEAR_FEATURE;
 *   vendor requests (see FAKE_REQ_*); bulk OUT 0x01 feeds an echo buffer that bulk IN
 *   0x81 returns (NAKing while it is empty); interrupt IN 0x82 returns a counter.
 */
#ifndef BRIDGE_FAKE_H
#define BRIDGE_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim.h"
#include "usbhost.h"

#define FAKE_VENDOR_VID 0x1209
#define FAKE_VENDOR_PID 0x4c34
#define FAKE_DFU_VID 0x0483
#define FAKE_DFU_PID 0xdf11

/* Vendor requests the scripted device understands (bRequest). */
enum {
    FAKE_REQ_PATTERN = 1,  /* IN: byte i = (i + wValue) & 0xff */
    FAKE_REQ_STORE = 2,    /* OUT: kept for FAKE_REQ_READBACK and for the test */
    FAKE_REQ_READBACK = 3, /* IN: what FAKE_REQ_STORE kept */
    FAKE_REQ_STALL = 4,    /* either direction: STALL */
    FAKE_REQ_DETACH = 5,   /* OUT, no data: after wValue ms drop off the bus, come back 20 ms later
                              with the next address and descriptor set wIndex (0 vendor, 1 DFU) */
    FAKE_REQ_NEVER = 6,    /* IN: NAKs forever (until cancelled) */
};

enum fake_set { FAKE_SET_VENDOR = 0, FAKE_SET_DFU = 1 };

/* ---- the stand-in core ---- */
sim_t *fake_sim_create(void);
void fake_sim_destroy(sim_t *sim);
void fake_sim_set_trace(sim_t *sim, bool on);
/* Everything sim_trace printed (with tracing on), one line each. */
const char *fake_sim_trace_text(const sim_t *sim);
bool fake_sim_was_paced(const sim_t *sim); /* sim_set_pacing(true) was seen */
bool fake_sim_is_paced(const sim_t *sim);
unsigned fake_sim_warnings(const sim_t *sim);

/* ---- the stand-in host ---- */
struct usbhost *fake_host_create(sim_t *sim, enum fake_set set, uint8_t address);
void fake_host_destroy(struct usbhost *h);
/* Cable: configured at once with the given address (a new generation), or detached. */
void fake_host_connect(struct usbhost *h, enum fake_set set, uint8_t address);
void fake_host_disconnect(struct usbhost *h);
/* What the last FAKE_REQ_STORE carried. */
const uint8_t *fake_host_stored(const struct usbhost *h, size_t *len);
unsigned fake_host_port_resets(const struct usbhost *h);
unsigned fake_host_cancels(const struct usbhost *h);
unsigned fake_host_pending(const struct usbhost *h); /* transfers not yet finished */
/* Descriptor blob of a set (device descriptor + configuration), as sysfs holds it. */
const uint8_t *fake_descriptors(enum fake_set set, size_t *len);

#endif
