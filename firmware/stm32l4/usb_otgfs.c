/* usbd_port.h on the L476's OTG_FS core (DWC2 3.10a), device mode, slave (no DMA).
 * Facts: shared/reference/otg-fs-device.md.
 *
 * Shape: one packet per endpoint in flight. An IN transfer is fed to its TX FIFO a
 * packet at a time and the next packet goes in when the core reports XFRC; an OUT
 * endpoint is armed for one max-size packet at a time and re-armed until the caller's
 * length is reached or a short packet ends the transfer. That keeps FIFO space and code
 * small (EP0 can only take one packet per arm anyway) at the cost of one poll per packet.
 *
 * Works polled (usbd_port_poll from a main loop) and from the OTG_FS IRQ handler:
 * every event it handles is acknowledged, so the interrupt line drops. Bring-up, connect
 * and the FIFO access are in otgfs_core.c.
 *
 * Core 3.10a quirk: the core pushes extra EP0 "OUT transfer complete" entries, flagged
 * with DOEPINT0.STPKTRX (per SETUP) or STSPHSRX (status stage of a control write). An
 * entry popped while either flag is set is dropped, and both flags are cleared.
 */
#include <stdbool.h>

#include "otgfs_core.h"
#include "usbd_port.h"
#include "regs/otgfs.h"

#define EP0_SIZE OTGFS_EP0_SIZE

struct in_endpoint {
    const uint8_t *data;
    uint32_t remaining;
    uint16_t packet;
    uint16_t max_packet;
};

struct out_endpoint {
    uint8_t *buf;
    uint32_t capacity;
    uint32_t received;
    uint16_t last_packet;
    uint16_t max_packet;
};

static struct in_endpoint in_ep[USBD_PORT_ENDPOINTS];
static struct out_endpoint out_ep[USBD_PORT_ENDPOINTS];
static uint32_t setup_words[2];
#ifdef USBD_PORT_COUNT_QUIRK
/* Test builds: how many 3.10a extra EP0 entries were recognised and dropped. */
uint32_t usbd_port_quirk_entries_dropped;
#endif

static void in_start_packet(unsigned n)
{
    struct in_endpoint *e = &in_ep[n];
    uint32_t len = e->remaining < e->max_packet ? e->remaining : e->max_packet;
    e->packet = (uint16_t)len;
    OTG_DIEPTSIZ(n) = OTG_TSIZ_PKTCNT_ONE | len;
    OTG_DIEPCTL(n) |= OTG_EPCTL_CNAK | OTG_EPCTL_EPENA;
    otgfs_fifo_write(n, e->data, len);
}

static void out_arm_packet(unsigned n)
{
    uint32_t size = OTG_TSIZ_PKTCNT_ONE | out_ep[n].max_packet;
    if (n == 0u)
        size |= OTG_DOEPTSIZ_STUPCNT_3;
    OTG_DOEPTSIZ(n) = size;
    OTG_DOEPCTL(n) |= OTG_EPCTL_CNAK | OTG_EPCTL_EPENA;
}

void usbd_port_ep_open(uint8_t ep, enum usbd_ep_type type, uint16_t max_packet)
{
    unsigned n = ep & 0x7Fu;
    if (n == 0u || n >= USBD_PORT_ENDPOINTS)
        return;
    uint32_t ctl = max_packet | OTG_EPCTL_USBAEP | ((uint32_t)type << OTG_EPCTL_EPTYP_SHIFT) |
                   OTG_EPCTL_SD0PID;
    if (ep & 0x80u) {
        in_ep[n].max_packet = max_packet;
        OTG_DIEPCTL(n) = ctl | ((uint32_t)n << OTG_EPCTL_TXFNUM_SHIFT);
        OTG_DAINTMSK |= 1u << n;
    } else {
        out_ep[n].max_packet = max_packet;
        OTG_DOEPCTL(n) = ctl;
        OTG_DAINTMSK |= 1u << (16u + n);
    }
}

void usbd_port_ep_send(uint8_t ep, const void *data, size_t len)
{
    unsigned n = ep & 0x7Fu;
    in_ep[n].data = data;
    in_ep[n].remaining = len;
    in_start_packet(n);
}

void usbd_port_ep_receive(uint8_t ep, void *buf, size_t len)
{
    unsigned n = ep & 0x7Fu;
    out_ep[n].buf = buf;
    out_ep[n].capacity = len;
    out_ep[n].received = 0u;
    out_arm_packet(n);
}

void usbd_port_ep_stall(uint8_t ep, bool stall)
{
    unsigned n = ep & 0x7Fu;
    if (n == 0u) {
        /* A control-pipe stall covers both directions; the core lifts it at the next
         * SETUP. */
        if (stall) {
            OTG_DIEPCTL(0) |= OTG_EPCTL_STALL;
            OTG_DOEPCTL(0) |= OTG_EPCTL_STALL;
        }
        return;
    }
    if (n >= USBD_PORT_ENDPOINTS)
        return;
    volatile uint32_t *ctl = (ep & 0x80u) ? &OTG_DIEPCTL(n) : &OTG_DOEPCTL(n);
    if (stall)
        *ctl |= OTG_EPCTL_STALL;
    else
        *ctl = (*ctl & ~OTG_EPCTL_STALL) | OTG_EPCTL_SD0PID; /* clear-halt resets the toggle */
}

static void on_usb_reset(void)
{
    OTG_DCTL &= ~OTG_DCTL_RWUSIG;
    otgfs_flush_tx_fifo(OTG_GRSTCTL_TXFNUM_ALL);
    for (unsigned n = 0; n < USBD_PORT_ENDPOINTS; n++) {
        OTG_DIEPINT(n) = 0xFFFFu;
        OTG_DOEPINT(n) = 0xFFFFu;
        if (n == 0u) {
            OTG_DIEPCTL(0) &= ~OTG_EPCTL_STALL;
            OTG_DOEPCTL(0) = (OTG_DOEPCTL(0) & ~OTG_EPCTL_STALL) | OTG_EPCTL_SNAK;
        } else {
            /* Endpoints exist again only once the host configures the device. */
            uint32_t stop = OTG_EPCTL_EPDIS | OTG_EPCTL_SNAK;
            OTG_DIEPCTL(n) = (OTG_DIEPCTL(n) & OTG_EPCTL_EPENA) ? stop : 0u;
            OTG_DOEPCTL(n) = (OTG_DOEPCTL(n) & OTG_EPCTL_EPENA) ? stop : 0u;
        }
        in_ep[n].remaining = 0u;
        out_ep[n].capacity = 0u;
    }
    in_ep[0].max_packet = EP0_SIZE;
    out_ep[0].max_packet = EP0_SIZE;
    OTG_DAINTMSK = 1u | (1u << 16);
    usbd_port_set_address(0u);
    /* Ready for SETUPs (the core takes them whether or not EP0 OUT is enabled). */
    OTG_DOEPTSIZ(0) = OTG_DOEPTSIZ_STUPCNT_3 | OTG_TSIZ_PKTCNT_ONE | 24u;
}

static void on_out_complete(unsigned n)
{
    struct out_endpoint *e = &out_ep[n];
    if (e->last_packet < e->max_packet || e->received >= e->capacity) {
        e->capacity = 0u;
        usbd_port_on_out_done((uint8_t)n, e->received);
    } else {
        out_arm_packet(n);
    }
}

static void rx_fifo_entry(void)
{
    uint32_t status = OTG_GRXSTSP;
    unsigned n = OTG_GRXSTS_EPNUM(status);
    uint32_t count = OTG_GRXSTS_BCNT(status);
    if (n >= USBD_PORT_ENDPOINTS) { /* not ours: drain it */
        otgfs_fifo_read((uint8_t *)0, count, 0u);
        return;
    }
    struct out_endpoint *e = &out_ep[n];

    switch (OTG_GRXSTS_PKTSTS(status)) {
    case OTG_PKTSTS_SETUP_DATA:
        otgfs_fifo_read((uint8_t *)setup_words, count, sizeof setup_words);
        break;
    case OTG_PKTSTS_SETUP_DONE:
        OTG_DOEPINT(0) = OTG_DOEPINT_STUP | OTG_DOEPINT_STPKTRX | OTG_DOEPINT_STSPHSRX;
        otgfs_ep0_abort_in();
        in_ep[0].remaining = 0u;
        out_ep[0].capacity = 0u;
        usbd_port_on_setup((const uint8_t *)setup_words);
        break;
    case OTG_PKTSTS_OUT_DATA: {
        uint32_t room = e->capacity > e->received ? e->capacity - e->received : 0u;
        otgfs_fifo_read(e->buf + e->received, count, room);
        e->received += count < room ? count : room;
        e->last_packet = (uint16_t)count;
        break;
    }
    case OTG_PKTSTS_OUT_COMPLETE: {
        uint32_t flags = OTG_DOEPINT(n);
        OTG_DOEPINT(n) = OTG_EPINT_XFRC | OTG_DOEPINT_STPKTRX | OTG_DOEPINT_STSPHSRX;
        if (n == 0u && (flags & (OTG_DOEPINT_STPKTRX | OTG_DOEPINT_STSPHSRX))) {
#ifdef USBD_PORT_COUNT_QUIRK
            usbd_port_quirk_entries_dropped++;
#endif
            break; /* the 3.10a extra entry, not a transfer */
        }
        on_out_complete(n);
        break;
    }
    default: /* global OUT NAK and others carry no data we use */
        otgfs_fifo_read((uint8_t *)0, count, 0u);
        break;
    }
}

static void in_endpoint_events(void)
{
    uint32_t pending = OTG_DAINT & 0xFFFFu;
    for (unsigned n = 0; n < USBD_PORT_ENDPOINTS; n++) {
        if (!(pending & (1u << n)))
            continue;
        uint32_t flags = OTG_DIEPINT(n);
        OTG_DIEPINT(n) = flags;
        if (!(flags & OTG_EPINT_XFRC))
            continue;
        struct in_endpoint *e = &in_ep[n];
        e->data += e->packet;
        e->remaining -= e->packet;
        e->packet = 0u;
        if (e->remaining != 0u)
            in_start_packet(n);
        else
            usbd_port_on_in_done((uint8_t)(n | 0x80u));
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
        usbd_port_on_bus_reset();
    }
    /* IN completions before new OUT/SETUP entries, so a finished status stage is seen
     * before the next request. */
    if (events & OTG_GINT_IEPINT)
        in_endpoint_events();
    while (OTG_GINTSTS & OTG_GINT_RXFLVL)
        rx_fifo_entry();
    if (events & OTG_GINT_OEPINT) {
        /* Work is done on the popped RX entries; this only acknowledges. */
        uint32_t pending = OTG_DAINT >> 16;
        for (unsigned n = 0; n < USBD_PORT_ENDPOINTS; n++) {
            if (pending & (1u << n))
                OTG_DOEPINT(n) = OTG_DOEPINT(n);
        }
    }
    if (events & OTG_GINT_USBSUSP) {
        OTG_GINTSTS = OTG_GINT_USBSUSP;
        usbd_port_on_suspend();
    }
}
