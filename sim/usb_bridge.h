/* The umockdev bridge: lets an unmodified libusb program (dfu-util) on this machine talk
 * to the device on the virtual board's USB connector.
 *
 * The bridge owns a umockdev testbed (a private /sys and /dev). While the virtual host
 * has the device configured, the testbed holds it as bus 1, device <host address>, with
 * the descriptors the firmware answered during enumeration; usbfs ioctls the client
 * issues on /dev/bus/usb/001/NNN arrive in umockdev's worker thread, are queued, and
 * the simulator thread turns them into transfers on the virtual host.
 *
 * Threading: every function here is called on the simulator thread (the one running
 * sim_run_*). See docs/usb-bridge.md for the mechanism, the time rule and the limits.
 */
#ifndef L4SIM_USB_BRIDGE_H
#define L4SIM_USB_BRIDGE_H

#include <stdbool.h>
#include <stdint.h>

#include "sim.h"
#include "usbhost.h"

struct usb_bridge;

/* Creates the testbed and publishes the device if the host already has it configured.
 * host NULL: the one attached to sim (usbhost_of). On failure returns NULL and, when err
 * is not NULL, a malloc'd explanation in *err. */
struct usb_bridge *usb_bridge_start(sim_t *sim, struct usbhost *host, char **err);

/* Removes the testbed (and its temporary directory). Clients must have exited. */
void usb_bridge_stop(struct usb_bridge *bridge);

/* The simulator thread's half of the bridge; call it from the run loop between slices:
 * follows the host (publish / remove / re-add the device), hands queued requests to the
 * host, and emits the bridge's trace lines. Cheap when idle. */
void usb_bridge_service(struct usb_bridge *bridge);

/* Runs argv (argv[0] looked up in PATH) with LD_PRELOAD=libumockdev-preload.so.0 and
 * UMOCKDEV_DIR set, as umockdev-wrapper would, while the simulator keeps running on
 * the calling thread with wall-clock pacing. Returns 0 once the command has exited
 * (*exit_status: its exit code, or 128 + signal number), -1 if it could not be started.
 * Can be called any number of times on one bridge. */
int usb_bridge_run_command(struct usb_bridge *bridge, char *const argv[], int *exit_status);

/* Runs the simulator (not paced) until the device is published or `timeout_ps` of
 * virtual time has passed. Returns whether it is published. */
bool usb_bridge_wait_device(struct usb_bridge *bridge, uint64_t timeout_ps);

/* The device number under which the device is published, or 0 when none is. */
unsigned usb_bridge_devnum(const struct usb_bridge *bridge);

/* The testbed's root (what UMOCKDEV_DIR must be for clients started by other means). */
const char *usb_bridge_root_dir(const struct usb_bridge *bridge);

struct usb_bridge_stats {
    uint64_t ioctls;         /* every ioctl a client issued */
    uint64_t urbs_submitted; /* SUBMITURB accepted */
    uint64_t urbs_reaped;    /* URBs handed back by REAPURB/REAPURBNDELAY */
    uint64_t reap_empty;     /* REAPURBNDELAY answered EAGAIN (a client polled too early) */
    uint64_t discards;       /* DISCARDURB that cancelled something */
    uint64_t unknown_ioctls; /* answered ENOTTY */
    uint64_t publishes;      /* device added to the testbed */
    uint64_t removals;       /* device removed from the testbed */
};
void usb_bridge_stats(struct usb_bridge *bridge, struct usb_bridge_stats *out);

#endif
