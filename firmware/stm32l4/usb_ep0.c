/* The bootloader's USB device: EP0 of the OTG_FS core and the control transfers of one
 * fixed device (USBD_FIXED_DEVICE, one interface: the DFU class) in one layer.
 * Applications use the general pair instead (usbd.c over usb_otgfs.c: any endpoints,
 * several interfaces); this file implements the part of usbd.h and usbd_port.h the
 * bootloader calls (usbd_init, usbd_port_poll; usbd_port_connect is in otgfs_core.c)
 * and follows usbd.c's rules request by request, so the class sees the same calls.
 *
 * EP0 moves one packet at a time: an IN reply is fed to the TX FIFO 64 bytes per XFRC,
 * an OUT data stage is re-armed per packet until wLength bytes or a short packet came.
 * The data stage of a class OUT request is stalled in its SETUP when it is longer than
 * the buffer the class offers (a host must not write past it).
 *
 * Core 3.10a quirk: extra EP0 "OUT transfer complete" entries flagged with
 * DOEPINT0.STPKTRX or STSPHSRX are dropped (as in usb_otgfs.c).
 */
#include <stdbool.h>

#include "otgfs_core.h"
#include "usbd.h"
#include "usbd_descriptors.h"
#include "usbd_port.h"
#include "regs/otgfs.h"

#ifndef USBD_FIXED_DEVICE
#error "usb_ep0.c serves one fixed device: define USBD_FIXED_DEVICE"
#endif
extern const struct usbd_device USBD_FIXED_DEVICE;
#define DEVICE USBD_FIXED_DEVICE
#define CLASS (*DEVICE.interfaces[0])

enum { REQ_GET_STATUS = 0, REQ_CLEAR_FEATURE = 1, REQ_SET_FEATURE = 3, REQ_SET_ADDRESS = 5,
       REQ_GET_DESCRIPTOR = 6, REQ_GET_CONFIGURATION = 8, REQ_SET_CONFIGURATION = 9,
       REQ_GET_INTERFACE = 10, REQ_SET_INTERFACE = 11 };
enum { FEATURE_ENDPOINT_HALT = 0 };
enum ep0_stage { EP0_IDLE, EP0_DATA_IN, EP0_DATA_OUT, EP0_STATUS_IN, EP0_STATUS_OUT };

static struct {
    union { /* the SETUP packet as the FIFO gave it: struct usbd_setup is its layout */
        struct usbd_setup req;
        uint32_t words[2];
    } setup;
    const uint8_t *in_data;
    uint16_t in_left;   /* bytes of the reply not yet acknowledged */
    uint16_t in_packet; /* bytes in the packet in flight */
    uint16_t out_got;
    uint8_t out_last;   /* size of the last OUT packet */
    bool zlp_pending;
    bool class_request;
    uint8_t stage;
    uint8_t configuration;
    uint8_t alt;
    uint8_t *out_buf;
    uint8_t small[2];
    uint8_t text[USBD_STRING_BUFFER];
} ep0;

#define REQUEST (&ep0.setup.req)
_Static_assert(sizeof(struct usbd_setup) == 8, "struct usbd_setup is the SETUP packet");

void usbd_init(const struct usbd_device *dev)
{
    (void)dev; /* always USBD_FIXED_DEVICE */
    usbd_port_init();
}

/* ---- EP0 packets ---- */

static void send_packet(void)
{
    uint32_t len = ep0.in_left < OTGFS_EP0_SIZE ? ep0.in_left : OTGFS_EP0_SIZE;
    ep0.in_packet = (uint16_t)len;
    OTG_DIEPTSIZ(0) = OTG_TSIZ_PKTCNT_ONE | len;
    OTG_DIEPCTL(0) |= OTG_EPCTL_CNAK | OTG_EPCTL_EPENA;
    otgfs_fifo_write(0, ep0.in_data, len);
}

static void arm_out(void)
{
    OTG_DOEPTSIZ(0) = OTG_DOEPTSIZ_STUPCNT_3 | OTG_TSIZ_PKTCNT_ONE | OTGFS_EP0_SIZE;
    OTG_DOEPCTL(0) |= OTG_EPCTL_CNAK | OTG_EPCTL_EPENA;
}

/* A control-pipe stall covers both directions; the core lifts it at the next SETUP. */
static void stall(void)
{
    ep0.stage = EP0_IDLE;
    OTG_DIEPCTL(0) |= OTG_EPCTL_STALL;
    OTG_DOEPCTL(0) |= OTG_EPCTL_STALL;
}

static void send_status_in(void)
{
    ep0.stage = EP0_STATUS_IN;
    ep0.in_left = 0;
    send_packet();
}

/* ---- standard requests (usbd.c's rules for one interface and EP0 only) ---- */

static bool get_descriptor(const struct usbd_setup *r, uint8_t **data, uint16_t *len)
{
    return usbd_get_descriptor(&DEVICE, r->wValue, ep0.text, data, len);
}

static bool standard_request(const struct usbd_setup *r, uint8_t **data, uint16_t *len)
{
    uint8_t recipient = r->bmRequestType & USBD_RECIPIENT_MASK;
    bool iface_ok = ep0.configuration != 0 && r->wIndex == 0;
    bool ep0_named = (r->wIndex & 0x7Fu) == 0; /* endpoint requests: EP0 is all there is */
    *data = ep0.small;
    ep0.small[0] = 0;
    ep0.small[1] = 0;

    switch (r->bRequest) {
    case REQ_GET_STATUS:
        *len = 2;
        if (recipient == USBD_RECIPIENT_DEVICE) {
            ep0.small[0] = (DEVICE.config_descriptor[7] >> 6) & 1u; /* self-powered */
            return true;
        }
        if (recipient == USBD_RECIPIENT_INTERFACE)
            return iface_ok;
        return recipient == USBD_RECIPIENT_ENDPOINT && ep0_named;
    case REQ_CLEAR_FEATURE:
    case REQ_SET_FEATURE:
        /* Only ENDPOINT_HALT (no remote wakeup is advertised, test modes are high-speed
         * only), and EP0's halt is not kept: the next SETUP would lift it anyway. */
        return recipient == USBD_RECIPIENT_ENDPOINT && r->wValue == FEATURE_ENDPOINT_HALT &&
               ep0_named;
    case REQ_SET_ADDRESS:
        if (recipient != USBD_RECIPIENT_DEVICE || r->wValue > 127)
            return false;
        usbd_port_set_address((uint8_t)r->wValue);
        return true;
    case REQ_GET_DESCRIPTOR:
        return get_descriptor(r, data, len);
    case REQ_GET_CONFIGURATION:
        ep0.small[0] = ep0.configuration;
        *len = 1;
        return true;
    case REQ_SET_CONFIGURATION: {
        uint16_t value = r->wValue;
        if (recipient != USBD_RECIPIENT_DEVICE ||
            (value != 0 && value != DEVICE.config_descriptor[5]))
            return false;
        ep0.configuration = (uint8_t)value;
        ep0.alt = 0;
        return value == 0 || CLASS.set_alt(0, 0);
    }
    case REQ_GET_INTERFACE:
        ep0.small[0] = ep0.alt;
        *len = 1;
        return iface_ok;
    case REQ_SET_INTERFACE:
        if (!iface_ok || r->wValue > 255 || !CLASS.set_alt(0, (uint8_t)r->wValue))
            return false;
        ep0.alt = (uint8_t)r->wValue;
        return true;
    default:
        return false;
    }
}

/* ---- control transfers ---- */

static void on_setup(void)
{
    const struct usbd_setup *r = REQUEST;
    uint8_t *data = NULL;
    uint16_t len = 0;
    bool ok;
    ep0.class_request = false;
    if ((r->bmRequestType & USBD_TYPE_MASK) == USBD_TYPE_STANDARD) {
        ok = standard_request(r, &data, &len);
    } else if ((r->bmRequestType & (USBD_TYPE_MASK | USBD_RECIPIENT_MASK)) ==
                   (USBD_TYPE_CLASS | USBD_RECIPIENT_INTERFACE) &&
               ep0.configuration != 0 && r->wIndex == 0) {
        ep0.class_request = true;
        ok = CLASS.control(r, USBD_STAGE_SETUP, &data, &len);
    } else {
        ok = false; /* vendor requests, class requests to the device or an endpoint */
    }
    if (!ok) {
        stall();
        return;
    }

    if (r->bmRequestType & USBD_DIR_IN) {
        if (len > r->wLength)
            len = r->wLength;
        /* A reply shorter than asked ends on a short packet; a full last packet
         * needs a zero-length one after it. */
        ep0.zlp_pending = len != 0 && len < r->wLength && len % OTGFS_EP0_SIZE == 0;
        ep0.stage = EP0_DATA_IN;
        ep0.in_data = data;
        ep0.in_left = len;
        send_packet();
    } else if (r->wLength != 0) {
        /* Only as many bytes as the class has room for (it said so in len). */
        if (data == NULL || len < r->wLength) {
            stall();
            return;
        }
        ep0.out_buf = data;
        ep0.out_got = 0;
        ep0.stage = EP0_DATA_OUT;
        arm_out();
    } else {
        send_status_in();
    }
}

static void control_done(void)
{
    ep0.stage = EP0_IDLE;
    if (ep0.class_request) {
        uint8_t *data = ep0.out_buf;
        uint16_t len = 0;
        CLASS.control(REQUEST, USBD_STAGE_DONE, &data, &len);
    }
}

/* An EP0 OUT packet completed (not a 3.10a extra entry). */
static void on_out_complete(void)
{
    if (ep0.stage == EP0_DATA_OUT) {
        uint16_t want = REQUEST->wLength;
        if (ep0.out_last == OTGFS_EP0_SIZE && ep0.out_got < want) {
            arm_out();
            return;
        }
        uint8_t *data = ep0.out_buf;
        uint16_t got = ep0.out_got;
        /* A short data stage is a protocol error. */
        if (got != want || !CLASS.control(REQUEST, USBD_STAGE_DATA, &data, &got)) {
            stall();
            return;
        }
        send_status_in();
    } else if (ep0.stage == EP0_STATUS_OUT) {
        control_done();
    }
}

/* The host acknowledged the IN packet in flight. */
static void on_in_complete(void)
{
    ep0.in_data += ep0.in_packet;
    ep0.in_left -= ep0.in_packet;
    ep0.in_packet = 0;
    if (ep0.stage == EP0_DATA_IN) {
        if (ep0.in_left != 0 || ep0.zlp_pending) {
            ep0.zlp_pending = ep0.in_left != 0 && ep0.zlp_pending;
            send_packet();
            return;
        }
        ep0.stage = EP0_STATUS_OUT;
        arm_out();
    } else if (ep0.stage == EP0_STATUS_IN) {
        control_done();
    }
}

/* ---- controller events ---- */

static void on_usb_reset(void)
{
    OTG_DCTL &= ~OTG_DCTL_RWUSIG;
    otgfs_flush_tx_fifo(OTG_GRSTCTL_TXFNUM_ALL);
    OTG_DIEPINT(0) = 0xFFFFu;
    OTG_DOEPINT(0) = 0xFFFFu;
    OTG_DIEPCTL(0) &= ~OTG_EPCTL_STALL;
    OTG_DOEPCTL(0) = (OTG_DOEPCTL(0) & ~OTG_EPCTL_STALL) | OTG_EPCTL_SNAK;
    OTG_DAINTMSK = 1u | (1u << 16);
    usbd_port_set_address(0u);
    /* Ready for SETUPs (the core takes them whether or not EP0 OUT is enabled). */
    OTG_DOEPTSIZ(0) = OTG_DOEPTSIZ_STUPCNT_3 | OTG_TSIZ_PKTCNT_ONE | 24u;
}

static void rx_fifo_entry(void)
{
    uint32_t status = OTG_GRXSTSP;
    uint32_t count = OTG_GRXSTS_BCNT(status);
    uint32_t kind = OTG_GRXSTS_EPNUM(status) == 0u ? OTG_GRXSTS_PKTSTS(status) : 0u;

    switch (kind) {
    case OTG_PKTSTS_SETUP_DATA:
        otgfs_fifo_read((uint8_t *)ep0.setup.words, count, sizeof ep0.setup.words);
        break;
    case OTG_PKTSTS_SETUP_DONE:
        OTG_DOEPINT(0) = OTG_DOEPINT_STUP | OTG_DOEPINT_STPKTRX | OTG_DOEPINT_STSPHSRX;
        otgfs_ep0_abort_in();
        ep0.in_left = 0;
        on_setup();
        break;
    case OTG_PKTSTS_OUT_DATA: {
        uint32_t room = ep0.stage == EP0_DATA_OUT ? (uint32_t)(REQUEST->wLength - ep0.out_got) : 0u;
        otgfs_fifo_read(ep0.out_buf + ep0.out_got, count, room);
        ep0.out_got = (uint16_t)(ep0.out_got + (count < room ? count : room));
        ep0.out_last = (uint8_t)count;
        break;
    }
    case OTG_PKTSTS_OUT_COMPLETE: {
        uint32_t flags = OTG_DOEPINT(0);
        OTG_DOEPINT(0) = OTG_EPINT_XFRC | OTG_DOEPINT_STPKTRX | OTG_DOEPINT_STSPHSRX;
        if (!(flags & (OTG_DOEPINT_STPKTRX | OTG_DOEPINT_STSPHSRX)))
            on_out_complete(); /* else the 3.10a extra entry, not a transfer */
        break;
    }
    default: /* global OUT NAK, other endpoints: no data we use */
        otgfs_fifo_read((uint8_t *)0, count, 0u);
        break;
    }
}

void usbd_port_poll(void)
{
    uint32_t events = OTG_GINTSTS;
    if (events & OTG_GINT_USBRST) {
        OTG_GINTSTS = OTG_GINT_USBRST;
        on_usb_reset();
    }
    if (events & OTG_GINT_ENUMDNE) {
        otgfs_enumeration_done();
        ep0.stage = EP0_IDLE;
        ep0.configuration = 0;
        CLASS.bus_reset();
    }
    /* IN completions before new OUT/SETUP entries, so a finished status stage is seen
     * before the next request. */
    if (events & OTG_GINT_IEPINT) {
        uint32_t flags = OTG_DIEPINT(0);
        OTG_DIEPINT(0) = flags;
        if (flags & OTG_EPINT_XFRC)
            on_in_complete();
    }
    while (OTG_GINTSTS & OTG_GINT_RXFLVL)
        rx_fifo_entry();
    if (events & OTG_GINT_OEPINT)
        OTG_DOEPINT(0) = OTG_DOEPINT(0); /* the work is done on the popped RX entries */
    if (events & OTG_GINT_USBSUSP)
        OTG_GINTSTS = OTG_GINT_USBSUSP;
}
