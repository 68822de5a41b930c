/* OTG_FS (Synopsys DWC2 core 3.10a) in device mode, slave (no DMA): the model of the
 * L476's USB controller, and the "wire" the virtual USB host (usbhost.c) talks over.
 *
 * The wire is one full-speed cable seen from the host's side: the host calls the
 * otgfs_wire_* functions at the modelled bus time of each packet; the model answers
 * as the silicon would (ACK / NAK / STALL / data, or nothing at all when no device
 * is listening) and raises its interrupts. A device that does not pull D+ up, or a
 * token to another address, gets no answer (OTG_WIRE_NO_RESPONSE): the host's
 * timeout. The bus-level time each packet costs is the host's business (it owns the
 * schedule); the model only needs "now" for its own SOF/suspend bookkeeping.
 *
 * Facts: shared/reference/otg-fs-device.md. Model rules: docs/sim-usb.md.
 */
#ifndef L4SIM_OTGFS_H
#define L4SIM_OTGFS_H

#include <stdbool.h>
#include <stdint.h>

#include "sim.h"

#define OTGFS_BASE       0x50000000u
#define OTGFS_FIFO_BASE  0x50001000u /* EP n push/pop window at OTGFS_FIFO_BASE + n * 0x1000 */
#define OTGFS_FIFO_STRIDE 0x1000u
#define OTGFS_IRQ        67u
#define OTGFS_NUM_EPS    6u
#define OTGFS_RAM_WORDS  320u /* 1.25 KB shared by the RX FIFO and the six TX FIFOs */

struct otgfs;

/* Create the model and map it (board_attach_models). */
void otgfs_attach(sim_t *sim);
struct otgfs *otgfs_of(sim_t *sim);

/* NULL when the D+ pull-up is visible to a host, else the first unmet condition,
 * worded as an engineer would search for it. Used by --diagnose-usb. */
const char *otgfs_connect_blocker(sim_t *sim);
bool otgfs_pullup(sim_t *sim);

/* ---- the wire (host side) ---- */

enum otg_wire_result {
    OTG_WIRE_ACK,         /* SETUP/OUT accepted; IN: data returned (and the host's ACK taken) */
    OTG_WIRE_NAK,
    OTG_WIRE_STALL,
    OTG_WIRE_NO_RESPONSE, /* nobody answered: no pull-up, wrong address, unknown endpoint */
};

/* Data PIDs as they travel on the bus. */
enum otg_wire_pid { OTG_PID_DATA0 = 0, OTG_PID_DATA1 = 1 };

/* A SETUP token + DATA0 with the 8 request bytes. */
enum otg_wire_result otgfs_wire_setup(sim_t *sim, uint8_t addr, const uint8_t setup[8]);
/* An OUT token + data packet (len <= 1023, data may be NULL when len is 0). */
enum otg_wire_result otgfs_wire_out(sim_t *sim, uint8_t addr, uint8_t ep, enum otg_wire_pid pid,
                                    const uint8_t *data, unsigned len);
/* An IN token. On OTG_WIRE_ACK, *len bytes (at most max) are in buf and *pid says which
 * data PID the device sent; the host is taken to have ACKed the packet (a host that
 * sees the wrong toggle still ACKs and drops it, as USB requires). */
enum otg_wire_result otgfs_wire_in(sim_t *sim, uint8_t addr, uint8_t ep, uint8_t *buf, unsigned max,
                                   unsigned *len, enum otg_wire_pid *pid);
/* SE0 on the bus for a reset: begin (USBRST) and end (ENUMDNE, full speed). */
void otgfs_wire_reset(sim_t *sim, bool asserted);
/* Start-of-frame with its 11-bit frame number. */
void otgfs_wire_sof(sim_t *sim, uint16_t frame);
/* VBUS on the connector (drives PA9, the VBUS sense pin). */
void otgfs_wire_vbus(sim_t *sim, bool on);

/* The host on the other end of the cable: the model carries its events in virtual time
 * (its next_event/advance are folded into the model's), and tells it when the pull-up
 * appears or goes away. One host per model; NULL ops disconnect it. */
struct otgfs_host_ops {
    uint64_t (*next_event)(void *host);
    void (*advance)(void *host, uint64_t now);
    void (*pullup_changed)(void *host, bool on, uint64_t now);
    void (*destroy)(void *host); /* the board goes away (sim_destroy) */
};
void otgfs_connect_host(sim_t *sim, const struct otgfs_host_ops *ops, void *host);
/* The host connected with these ops, or NULL. */
void *otgfs_host(sim_t *sim, const struct otgfs_host_ops *ops);

/* The core 3.10a quirk (extra EP0 completion words flagged STPKTRX / STSPHSRX, sheet §5
 * option b): on by default, as on real L476 silicon; sim_config.usb_quirk_310a feeds it. */
void otgfs_set_quirk_310a(sim_t *sim, bool on);

/* Whether the device's 48 MHz clock is good enough for the host to read its packets
 * (false with MSI not locked to LSE: the host sees CRC errors on device packets). */
bool otgfs_clock_accurate(sim_t *sim, const char **why);

/* Format a SETUP packet for people: "GET_DESCRIPTOR(DEVICE, 0, len 64)", DFU requests
 * too. Returns buf. */
const char *otgfs_decode_setup(const uint8_t setup[8], char *buf, unsigned size);

#endif
