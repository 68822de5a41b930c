/* A small libusb program that the bridge test runs under the bridge, like dfu-util would
 * be: it talks to the scripted device of bridge_fake.c and exits 0 only if every answer
 * was the expected one; otherwise it says which check failed and exits 1.
 *
 *   bridge_client list       finds the vendor device, prints "found 1209:4c34 devnum N"
 *   bridge_client transfers  control IN/OUT, STALL, bulk, interrupt, SET_INTERFACE,
 *                            claim errors, a transfer that times out (DISCARDURB)
 *   bridge_client reenum     asks the device to detach; expects remove + add with a new
 *                            devnum and the DFU descriptor set, then talks to it
 *   bridge_client gone       asks the device to detach; the old handle must then fail
 *                            with NO_DEVICE
 *   bridge_client reset      libusb_reset_device on an unchanged device: handle survives
 *   bridge_client raw        usbfs ioctls by hand on the device node: errno of each
 *   bridge_client abandon    exits holding interface 0 with a transfer in flight
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/ioctl.h>
#include <linux/usbdevice_fs.h>

#include <libusb.h>

#include "bridge_fake.h"

static int failures;

#define CHECK(cond, ...)                                                                                     \
    do {                                                                                                      \
        if (!(cond)) {                                                                                        \
            fprintf(stderr, "bridge_client: check failed at line %d: %s: ", __LINE__, #cond);                \
            fprintf(stderr, __VA_ARGS__);                                                                     \
            fputc('\n', stderr);                                                                              \
            failures++;                                                                                       \
        }                                                                                                     \
    } while (0)

static libusb_device_handle *open_device(libusb_context *ctx, uint16_t vid, uint16_t pid)
{
    libusb_device_handle *h = libusb_open_device_with_vid_pid(ctx, vid, pid);
    if (!h)
        fprintf(stderr, "bridge_client: %04x:%04x not found\n", vid, pid);
    return h;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int do_list(libusb_context *ctx)
{
    libusb_device_handle *h = open_device(ctx, FAKE_VENDOR_VID, FAKE_VENDOR_PID);
    if (!h)
        return 1;
    libusb_device *dev = libusb_get_device(h);
    printf("found %04x:%04x bus %u devnum %u\n", FAKE_VENDOR_VID, FAKE_VENDOR_PID, libusb_get_bus_number(dev),
           libusb_get_device_address(dev));
    libusb_close(h);
    return 0;
}

static void transfers(libusb_device_handle *h)
{
    uint8_t buf[4096];
    int r;

    /* strings come over the wire */
    r = libusb_get_string_descriptor_ascii(h, 2, buf, sizeof buf);
    CHECK(r > 0 && strcmp((char *)buf, "bridge vendor device") == 0, "product string: %d", r);

    /* control IN, data computed by the device */
    r = libusb_control_transfer(h, 0xc0, FAKE_REQ_PATTERN, 7, 0, buf, 300, 1000);
    CHECK(r == 300, "pattern length %d", r);
    int pattern_ok = 1;
    for (int i = 0; i < 300 && r == 300; i++)
        pattern_ok &= buf[i] == (uint8_t)(i + 7);
    CHECK(pattern_ok, "pattern bytes");

    /* control OUT: libusb reports the data length (setup excluded), then read it back */
    uint8_t out[1000];
    for (int i = 0; i < 1000; i++)
        out[i] = (uint8_t)(i * 13 + 1);
    r = libusb_control_transfer(h, 0x40, FAKE_REQ_STORE, 0, 0, out, sizeof out, 1000);
    CHECK(r == (int)sizeof out, "store returned %d", r);
    memset(buf, 0, sizeof buf);
    r = libusb_control_transfer(h, 0xc0, FAKE_REQ_READBACK, 0, 0, buf, 2000, 1000);
    CHECK(r == (int)sizeof out && memcmp(buf, out, sizeof out) == 0, "readback %d", r);

    /* a STALL is LIBUSB_ERROR_PIPE, both directions, and EP0 works again afterwards */
    r = libusb_control_transfer(h, 0x40, FAKE_REQ_STALL, 0, 0, NULL, 0, 1000);
    CHECK(r == LIBUSB_ERROR_PIPE, "stall out gave %d", r);
    r = libusb_control_transfer(h, 0xc0, FAKE_REQ_STALL, 0, 0, buf, 8, 1000);
    CHECK(r == LIBUSB_ERROR_PIPE, "stall in gave %d", r);
    r = libusb_control_transfer(h, 0xc0, FAKE_REQ_PATTERN, 1, 0, buf, 4, 1000);
    CHECK(r == 4 && buf[0] == 1, "after stall %d", r);

    /* bulk: out 1000 bytes, back in from the echo endpoint */
    r = libusb_claim_interface(h, 0);
    CHECK(r == 0, "claim 0 gave %d", r);
    int done = 0;
    r = libusb_bulk_transfer(h, 0x01, out, sizeof out, &done, 1000);
    CHECK(r == 0 && done == (int)sizeof out, "bulk out %d, %d bytes", r, done);
    memset(buf, 0, sizeof buf);
    r = libusb_bulk_transfer(h, 0x81, buf, 2048, &done, 1000);
    CHECK(r == 0 && done == (int)sizeof out && memcmp(buf, out, sizeof out) == 0, "bulk in %d, %d bytes", r, done);

    /* interrupt IN: a counter that moves */
    uint32_t c1 = 0, c2 = 0;
    r = libusb_interrupt_transfer(h, 0x82, (uint8_t *)&c1, 4, &done, 1000);
    CHECK(r == 0 && done == 4, "interrupt %d", r);
    r = libusb_interrupt_transfer(h, 0x82, (uint8_t *)&c2, 4, &done, 1000);
    CHECK(r == 0 && c2 == c1 + 1, "interrupt counter %u then %u", c1, c2);

    /* an endpoint the configuration does not have */
    r = libusb_bulk_transfer(h, 0x03, out, 10, &done, 1000);
    CHECK(r != 0, "bulk to a missing endpoint gave %d", r);

    /* SET_INTERFACE: a real alternate setting, a missing one */
    r = libusb_claim_interface(h, 1);
    CHECK(r == 0, "claim 1 gave %d", r);
    r = libusb_set_interface_alt_setting(h, 1, 1);
    CHECK(r == 0, "alt 1 gave %d", r);
    r = libusb_set_interface_alt_setting(h, 1, 5);
    CHECK(r == LIBUSB_ERROR_NOT_FOUND || r == LIBUSB_ERROR_INVALID_PARAM || r == LIBUSB_ERROR_IO,
          "missing alt gave %d", r);
    /* interface 0 has one setting and the device stalls the request: Linux hides that */
    r = libusb_set_interface_alt_setting(h, 0, 0);
    CHECK(r == 0, "single-alt SET_INTERFACE gave %d", r);
    r = libusb_claim_interface(h, 7);
    CHECK(r == LIBUSB_ERROR_NOT_FOUND, "claim of a missing interface gave %d", r);
    r = libusb_clear_halt(h, 0x81);
    CHECK(r == 0, "clear halt gave %d", r);

    /* a request the device never answers: libusb times out and discards the URB */
    r = libusb_control_transfer(h, 0xc0, FAKE_REQ_NEVER, 0, 0, buf, 8, 150);
    CHECK(r == LIBUSB_ERROR_TIMEOUT, "never-answered request gave %d", r);
    r = libusb_control_transfer(h, 0xc0, FAKE_REQ_PATTERN, 3, 0, buf, 64, 1000);
    CHECK(r == 64 && buf[0] == 3, "after the timeout %d", r);

    /* leave a known pattern on the device for the test to check from the host side */
    r = libusb_control_transfer(h, 0x40, FAKE_REQ_STORE, 0, 0, (uint8_t *)"bridge-ok", 9, 1000);
    CHECK(r == 9, "final store %d", r);

    libusb_release_interface(h, 1);
    libusb_release_interface(h, 0);
}

static int do_transfers(libusb_context *ctx)
{
    libusb_device_handle *h = open_device(ctx, FAKE_VENDOR_VID, FAKE_VENDOR_PID);
    if (!h)
        return 1;
    transfers(h);
    libusb_close(h);
    return failures ? 1 : 0;
}

struct hotplug_seen {
    int left, arrived;
    uint8_t left_addr, arrived_addr;
    uint16_t arrived_pid;
};

static int LIBUSB_CALL on_hotplug(libusb_context *ctx, libusb_device *dev, libusb_hotplug_event event, void *user)
{
    (void)ctx;
    struct hotplug_seen *seen = user;
    struct libusb_device_descriptor dd;
    libusb_get_device_descriptor(dev, &dd);
    if (event == LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT) {
        seen->left++;
        seen->left_addr = libusb_get_device_address(dev);
    } else if (dd.idVendor == FAKE_DFU_VID && dd.idProduct == FAKE_DFU_PID) {
        seen->arrived++;
        seen->arrived_addr = libusb_get_device_address(dev);
        seen->arrived_pid = dd.idProduct;
    }
    return 0;
}

static int do_reenum(libusb_context *ctx)
{
    CHECK(libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG), "libusb without hotplug");
    libusb_device_handle *h = open_device(ctx, FAKE_VENDOR_VID, FAKE_VENDOR_PID);
    if (!h)
        return 1;
    uint8_t old_addr = libusb_get_device_address(libusb_get_device(h));
    struct hotplug_seen seen = { 0 };
    libusb_hotplug_callback_handle cb;
    int r = libusb_hotplug_register_callback(ctx, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT,
                                             0, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY,
                                             LIBUSB_HOTPLUG_MATCH_ANY, on_hotplug, &seen, &cb);
    CHECK(r == 0, "hotplug register %d", r);
    /* like DFU_DETACH: drop off the bus in 30 ms, come back as the DFU set */
    r = libusb_control_transfer(h, 0x40, FAKE_REQ_DETACH, 30, FAKE_SET_DFU, NULL, 0, 1000);
    CHECK(r == 0, "detach request %d", r);
    libusb_close(h);
    for (int i = 0; i < 2000 && !(seen.left && seen.arrived); i++) {
        struct timeval tv = { 0, 10000 };
        libusb_handle_events_timeout_completed(ctx, &tv, NULL);
    }
    CHECK(seen.left == 1 && seen.left_addr == old_addr, "left %d (address %u, was %u)", seen.left, seen.left_addr,
          old_addr);
    CHECK(seen.arrived == 1 && seen.arrived_addr != old_addr, "arrived %d (address %u)", seen.arrived,
          seen.arrived_addr);
    libusb_hotplug_deregister_callback(ctx, cb);

    h = open_device(ctx, FAKE_DFU_VID, FAKE_DFU_PID);
    CHECK(h != NULL, "the re-enumerated device does not open");
    if (h) {
        uint8_t name[256];
        r = libusb_get_string_descriptor_ascii(h, 4, name, sizeof name);
        CHECK(r > 0 && strncmp((char *)name, "@Internal Flash", 15) == 0, "alt name %d", r);
        printf("re-enumerated as %04x:%04x devnum %u (was %u)\n", FAKE_DFU_VID, FAKE_DFU_PID,
               libusb_get_device_address(libusb_get_device(h)), old_addr);
        libusb_close(h);
    }
    CHECK(libusb_open_device_with_vid_pid(ctx, FAKE_VENDOR_VID, FAKE_VENDOR_PID) == NULL,
          "the old device is still listed");
    return failures ? 1 : 0;
}

static int do_gone(libusb_context *ctx)
{
    libusb_device_handle *h = open_device(ctx, FAKE_VENDOR_VID, FAKE_VENDOR_PID);
    if (!h)
        return 1;
    int r = libusb_claim_interface(h, 0);
    CHECK(r == 0, "claim %d", r);
    r = libusb_control_transfer(h, 0x40, FAKE_REQ_DETACH, 10, FAKE_SET_VENDOR, NULL, 0, 1000);
    CHECK(r == 0, "detach request %d", r);
    /* until the drop (10 ms of virtual time later) the old handle still works */
    uint8_t buf[8];
    for (int i = 0; i < 1000; i++) {
        r = libusb_control_transfer(h, 0xc0, FAKE_REQ_PATTERN, 0, 0, buf, sizeof buf, 1000);
        if (r != (int)sizeof buf)
            break;
        sleep_ms(10);
    }
    CHECK(r == LIBUSB_ERROR_NO_DEVICE, "transfer on the old handle gave %d", r);
    libusb_close(h);
    /* the device comes back (20 ms later) under a new number with the same identity */
    h = NULL;
    for (int i = 0; i < 1000 && !h; i++) {
        h = libusb_open_device_with_vid_pid(ctx, FAKE_VENDOR_VID, FAKE_VENDOR_PID);
        if (!h)
            sleep_ms(10);
    }
    CHECK(h != NULL, "no device after the return");
    if (h) {
        r = libusb_control_transfer(h, 0xc0, FAKE_REQ_PATTERN, 2, 0, buf, sizeof buf, 1000);
        CHECK(r == 8 && buf[0] == 2, "new handle transfer %d", r);
        libusb_close(h);
    }
    return failures ? 1 : 0;
}

static int do_reset(libusb_context *ctx)
{
    libusb_device_handle *h = open_device(ctx, FAKE_VENDOR_VID, FAKE_VENDOR_PID);
    if (!h)
        return 1;
    uint8_t addr = libusb_get_device_address(libusb_get_device(h));
    int r = libusb_reset_device(h);
    CHECK(r == 0, "reset gave %d", r);
    uint8_t buf[16];
    r = libusb_control_transfer(h, 0xc0, FAKE_REQ_PATTERN, 9, 0, buf, sizeof buf, 1000);
    CHECK(r == 16 && buf[0] == 9, "transfer after reset gave %d", r);
    CHECK(libusb_get_device_address(libusb_get_device(h)) == addr, "address changed");
    libusb_close(h);
    return failures ? 1 : 0;
}

/* Exits holding a claim and with a transfer in flight, as a killed dfu-util would. */
static void LIBUSB_CALL ignore_transfer(struct libusb_transfer *t)
{
    (void)t;
}

static int do_abandon(libusb_context *ctx)
{
    libusb_device_handle *h = open_device(ctx, FAKE_VENDOR_VID, FAKE_VENDOR_PID);
    if (!h)
        return 1;
    int r = libusb_claim_interface(h, 0);
    CHECK(r == 0, "claim %d", r);
    static uint8_t buf[LIBUSB_CONTROL_SETUP_SIZE + 8];
    libusb_fill_control_setup(buf, 0xc0, FAKE_REQ_NEVER, 0, 0, 8);
    struct libusb_transfer *t = libusb_alloc_transfer(0);
    libusb_fill_control_transfer(t, h, buf, ignore_transfer, NULL, 0);
    r = libusb_submit_transfer(t);
    CHECK(r == 0, "submit %d", r);
    sleep_ms(20);
    _exit(failures ? 1 : 0);
}

/* usbfs by hand: the answers libusb never shows. */
static int do_raw(libusb_context *ctx)
{
    libusb_device_handle *h = open_device(ctx, FAKE_VENDOR_VID, FAKE_VENDOR_PID);
    if (!h)
        return 1;
    char node[64];
    snprintf(node, sizeof node, "/dev/bus/usb/%03u/%03u", libusb_get_bus_number(libusb_get_device(h)),
             libusb_get_device_address(libusb_get_device(h)));
    libusb_close(h);
    int fd = open(node, O_RDWR);
    CHECK(fd >= 0, "open %s: %s", node, strerror(errno));
    if (fd < 0)
        return 1;

    struct usbdevfs_urb *reaped = NULL;
    int r = ioctl(fd, USBDEVFS_REAPURBNDELAY, &reaped);
    CHECK(r == -1 && errno == EAGAIN, "reap with nothing pending: %d %s", r, strerror(errno));

    unsigned caps = 0;
    r = ioctl(fd, USBDEVFS_GET_CAPABILITIES, &caps);
    CHECK(r == 0 && (caps & USBDEVFS_CAP_NO_PACKET_SIZE_LIM) && !(caps & USBDEVFS_CAP_ZERO_PACKET),
          "caps %d 0x%x", r, caps);

    struct usbdevfs_connectinfo ci = { 0 };
    r = ioctl(fd, USBDEVFS_CONNECTINFO, &ci);
    CHECK(r == 0 && ci.devnum == (unsigned)atoi(node + strlen(node) - 3) && ci.slow == 0, "connectinfo %d %u", r,
          ci.devnum);

    struct usbdevfs_getdriver gd = { .interface = 0 };
    r = ioctl(fd, USBDEVFS_GETDRIVER, &gd);
    CHECK(r == -1 && errno == ENODATA, "getdriver: %d %s", r, strerror(errno));

    struct usbdevfs_hub_portinfo pi;
    r = ioctl(fd, USBDEVFS_HUB_PORTINFO, &pi);
    CHECK(r == -1 && errno == ENOTTY, "hub portinfo: %d %s", r, strerror(errno));

    unsigned ifnum = 40;
    r = ioctl(fd, USBDEVFS_CLAIMINTERFACE, &ifnum);
    CHECK(r == -1 && errno == EINVAL, "claim 40: %d %s", r, strerror(errno));
    ifnum = 3;
    r = ioctl(fd, USBDEVFS_CLAIMINTERFACE, &ifnum);
    CHECK(r == -1 && errno == ENOENT, "claim 3: %d %s", r, strerror(errno));
    ifnum = 1;
    r = ioctl(fd, USBDEVFS_RELEASEINTERFACE, &ifnum);
    CHECK(r == -1 && errno == EINVAL, "release unclaimed: %d %s", r, strerror(errno));
    r = ioctl(fd, USBDEVFS_CLAIMINTERFACE, &ifnum);
    CHECK(r == 0, "claim 1: %d %s", r, strerror(errno));
    unsigned config = 1;
    r = ioctl(fd, USBDEVFS_SETCONFIGURATION, &config);
    CHECK(r == -1 && errno == EBUSY, "set configuration while claimed: %d %s", r, strerror(errno));
    r = ioctl(fd, USBDEVFS_RELEASEINTERFACE, &ifnum);
    CHECK(r == 0, "release 1: %d %s", r, strerror(errno));
    config = 9;
    r = ioctl(fd, USBDEVFS_SETCONFIGURATION, &config);
    CHECK(r == -1 && errno == EINVAL, "set a missing configuration: %d %s", r, strerror(errno));
    config = 1;
    r = ioctl(fd, USBDEVFS_SETCONFIGURATION, &config);
    CHECK(r == 0, "set configuration 1: %d %s", r, strerror(errno));

    uint8_t buf[64];
    struct usbdevfs_urb urb = { .type = USBDEVFS_URB_TYPE_ISO, .endpoint = 0x81, .buffer = buf, .buffer_length = 8 };
    r = ioctl(fd, USBDEVFS_SUBMITURB, &urb);
    CHECK(r == -1 && errno == EINVAL, "iso URB: %d %s", r, strerror(errno));
    struct usbdevfs_urb short_ctrl = { .type = USBDEVFS_URB_TYPE_CONTROL, .buffer = buf, .buffer_length = 4 };
    r = ioctl(fd, USBDEVFS_SUBMITURB, &short_ctrl);
    CHECK(r == -1 && errno == EINVAL, "control URB without a setup packet: %d %s", r, strerror(errno));

    /* a control URB by hand, reaped with the blocking REAPURB */
    const uint8_t setup[8] = { 0xc0, FAKE_REQ_PATTERN, 5, 0, 0, 0, 16, 0 };
    memset(buf, 0, sizeof buf);
    memcpy(buf, setup, 8);
    struct usbdevfs_urb ctrl = { .type = USBDEVFS_URB_TYPE_CONTROL, .buffer = buf, .buffer_length = 8 + 16 };
    r = ioctl(fd, USBDEVFS_SUBMITURB, &ctrl);
    CHECK(r == 0, "control URB: %d %s", r, strerror(errno));
    reaped = NULL;
    r = ioctl(fd, USBDEVFS_REAPURB, &reaped);
    CHECK(r == 0 && reaped == &ctrl && ctrl.status == 0 && ctrl.actual_length == 16 && buf[8] == 5 && buf[23] == 20,
          "reap: %d, urb %p (want %p), status %d, length %d", r, (void *)reaped, (void *)&ctrl, ctrl.status,
          ctrl.actual_length);

    /* DISCARDURB: a pending URB comes back with -ENOENT; an unknown one is EINVAL */
    const uint8_t never[8] = { 0xc0, FAKE_REQ_NEVER, 0, 0, 0, 0, 8, 0 };
    memcpy(buf, never, 8);
    struct usbdevfs_urb stuck = { .type = USBDEVFS_URB_TYPE_CONTROL, .buffer = buf, .buffer_length = 16 };
    r = ioctl(fd, USBDEVFS_SUBMITURB, &stuck);
    CHECK(r == 0, "stuck URB: %d", r);
    sleep_ms(20);
    r = ioctl(fd, USBDEVFS_DISCARDURB, &stuck);
    CHECK(r == 0, "discard: %d %s", r, strerror(errno));
    reaped = NULL;
    r = ioctl(fd, USBDEVFS_REAPURBNDELAY, &reaped);
    CHECK(r == 0 && reaped == &stuck && stuck.status == -ENOENT, "reap discarded: %d, status %d", r, stuck.status);
    r = ioctl(fd, USBDEVFS_DISCARDURB, &stuck);
    CHECK(r == -1 && errno == EINVAL, "discard again: %d %s", r, strerror(errno));

    close(fd);
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bridge_client list|transfers|reenum|gone|reset|raw\n");
        return 2;
    }
    libusb_context *ctx = NULL;
    if (libusb_init(&ctx) != 0) {
        fprintf(stderr, "bridge_client: libusb_init failed\n");
        return 1;
    }
    int rc;
    if (strcmp(argv[1], "list") == 0)
        rc = do_list(ctx);
    else if (strcmp(argv[1], "transfers") == 0)
        rc = do_transfers(ctx);
    else if (strcmp(argv[1], "reenum") == 0)
        rc = do_reenum(ctx);
    else if (strcmp(argv[1], "gone") == 0)
        rc = do_gone(ctx);
    else if (strcmp(argv[1], "reset") == 0)
        rc = do_reset(ctx);
    else if (strcmp(argv[1], "raw") == 0)
        rc = do_raw(ctx);
    else if (strcmp(argv[1], "abandon") == 0)
        rc = do_abandon(ctx);
    else {
        fprintf(stderr, "bridge_client: unknown mode %s\n", argv[1]);
        rc = 2;
    }
    libusb_exit(ctx);
    return rc;
}
