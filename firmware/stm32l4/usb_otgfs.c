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
 * every event it handles is acknowledged, so the interrupt line drops.
 *
 * VBUS: the EVAL's PA9 sensing is optional, so the driver does not use it (VBDEN = 0)
 * and overrides B-valid instead (BVALOEN = BVALOVAL = 1). The device therefore cannot
 * see an unplug as a session end; the bootloader does not need to.
 *
 * Core 3.10a quirk: the core pushes extra EP0 "OUT transfer complete" entries, flagged
 * with DOEPINT0.STPKTRX (per SETUP) or STSPHSRX (status stage of a control write). An
 * entry popped while either flag is set is dropped, and both flags are cleared.
 */
#include <stdbool.h>

#include "board.h"
#include "chip.h"
#include "usbd_port.h"
#include "regs/gpio.h"
#include "regs/otgfs.h"
#include "regs/pwr.h"
#include "regs/rcc.h"

#ifndef USBD_PORT_ENDPOINTS
#define USBD_PORT_ENDPOINTS 4u /* EP0..EP3; the core has 6 */
#endif
#define EP0_SIZE 64u
/* Bounded waits: a core without its 48 MHz clock never finishes a reset, and the
 * bootloader must not hang on that. */
#define CORE_WAIT_POLLS 200000u

/* FIFO RAM (320 words): RX 128, then TX0 32, TX1 64, TX2 32, TX3 64 (words). RX holds
 * the 8-word SETUP space, one 64-byte packet per endpoint plus status entries. */
#define RX_FIFO_WORDS 128u
static const uint16_t tx_fifo_words[4] = { 32u, 64u, 32u, 64u };
_Static_assert(USBD_PORT_ENDPOINTS <= 4u, "FIFO RAM is laid out for EP0..EP3");

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

static bool wait_clear(volatile uint32_t *reg, uint32_t mask)
{
    for (uint32_t polls = CORE_WAIT_POLLS; polls != 0u; polls--) {
        if ((*reg & mask) == 0u)
            return true;
    }
    return false;
}

static void wait_ahb_idle(void)
{
    for (uint32_t polls = CORE_WAIT_POLLS; polls != 0u; polls--) {
        if (OTG_GRSTCTL & OTG_GRSTCTL_AHBIDL)
            return;
    }
}

static void flush_tx_fifo(uint32_t txfnum_field)
{
    OTG_GRSTCTL = OTG_GRSTCTL_TXFFLSH | txfnum_field;
    wait_clear(&OTG_GRSTCTL, OTG_GRSTCTL_TXFFLSH);
}

/* Whole words, unaligned loads (the M4 allows them): the last word may carry up to
 * three bytes from beyond the packet, which the core does not send. */
static void fifo_write(unsigned ep, const uint8_t *src, uint32_t len)
{
    for (uint32_t i = 0; i < len; i += 4u) {
        uint32_t word;
        __builtin_memcpy(&word, src + i, 4u);
        OTG_FIFO(ep) = word;
    }
}

/* Pops ceil(len/4) words of one packet; keeps what fits in dst[0..room). */
static void fifo_read(uint8_t *dst, uint32_t len, uint32_t room)
{
    uint32_t keep = len < room ? len : room;
    for (uint32_t i = 0; i < len; i += 4u) {
        uint32_t word = OTG_FIFO(0);
        for (uint32_t b = i; b < i + 4u && b < keep; b++, word >>= 8)
            dst[b] = (uint8_t)word;
    }
}

static void in_start_packet(unsigned n)
{
    struct in_endpoint *e = &in_ep[n];
    uint32_t len = e->remaining < e->max_packet ? e->remaining : e->max_packet;
    e->packet = (uint16_t)len;
    OTG_DIEPTSIZ(n) = OTG_TSIZ_PKTCNT_ONE | len;
    OTG_DIEPCTL(n) |= OTG_EPCTL_CNAK | OTG_EPCTL_EPENA;
    fifo_write(n, e->data, len);
}

static void out_arm_packet(unsigned n)
{
    uint32_t size = OTG_TSIZ_PKTCNT_ONE | out_ep[n].max_packet;
    if (n == 0u)
        size |= OTG_DOEPTSIZ_STUPCNT_3;
    OTG_DOEPTSIZ(n) = size;
    OTG_DOEPCTL(n) |= OTG_EPCTL_CNAK | OTG_EPCTL_EPENA;
}

static void fifo_layout(void)
{
    uint32_t start = RX_FIFO_WORDS;
    OTG_GRXFSIZ = RX_FIFO_WORDS;
    OTG_DIEPTXF0 = ((uint32_t)tx_fifo_words[0] << 16) | start;
    start += tx_fifo_words[0];
    for (unsigned x = 1; x < USBD_PORT_ENDPOINTS; x++) {
        OTG_DIEPTXF(x) = ((uint32_t)tx_fifo_words[x] << 16) | start;
        start += tx_fifo_words[x];
    }
}

void usbd_port_init(void)
{
    /* SoC side: the 48 MHz kernel clock (SYSCLK must already be >= 32 MHz, see TRDT),
     * VDDUSB valid, the controller's clock, DM/DP on AF10. */
    clock_enable_usb48();
    RCC_APB1ENR1 |= RCC_APB1_1_PWR;
    (void)RCC_APB1ENR1;
    PWR_CR2 |= PWR_CR2_USV;
    gpio_config(BOARD_USB_PORT, BOARD_USB_DM_PIN, GPIO_MODE_AF, GPIO_PULL_NONE,
                GPIO_SPEED_VERY_HIGH, BOARD_USB_AF);
    gpio_config(BOARD_USB_PORT, BOARD_USB_DP_PIN, GPIO_MODE_AF, GPIO_PULL_NONE,
                GPIO_SPEED_VERY_HIGH, BOARD_USB_AF);
    RCC_AHB2ENR |= RCC_AHB2_OTGFS;
    (void)RCC_AHB2ENR;

    /* Core reset with the FS PHY selected. */
    OTG_GAHBCFG = 0u;
    OTG_GUSBCFG |= OTG_GUSBCFG_PHYSEL;
    wait_ahb_idle();
    OTG_GRSTCTL = OTG_GRSTCTL_CSRST;
    wait_clear(&OTG_GRSTCTL, OTG_GRSTCTL_CSRST);
    wait_ahb_idle();

    OTG_GCCFG = OTG_GCCFG_PWRDWN; /* transceiver on, VBUS detection off */
    /* Forced device mode; TRDT 6 suits any HCLK >= 32 MHz (48 and 80 MHz here). */
    OTG_GUSBCFG = (OTG_GUSBCFG & ~(OTG_GUSBCFG_FHMOD | OTG_GUSBCFG_TRDT_MASK)) |
                  OTG_GUSBCFG_FDMOD | (6u << OTG_GUSBCFG_TRDT_SHIFT);
    for (uint32_t polls = CORE_WAIT_POLLS; polls != 0u && (OTG_GINTSTS & OTG_GINT_CMOD); polls--) {
    }
    OTG_GOTGCTL |= OTG_GOTGCTL_BVALOEN | OTG_GOTGCTL_BVALOVAL;
    OTG_PCGCCTL = 0u;
    OTG_DCTL |= OTG_DCTL_SDIS; /* stay disconnected until usbd_port_connect */
    OTG_DCFG = OTG_DCFG_DSPD_FS48;

    fifo_layout();
    flush_tx_fifo(OTG_GRSTCTL_TXFNUM_ALL);
    OTG_GRSTCTL = OTG_GRSTCTL_RXFFLSH;
    wait_clear(&OTG_GRSTCTL, OTG_GRSTCTL_RXFFLSH);

    OTG_DIEPMSK = OTG_EPINT_XFRC;
    OTG_DOEPMSK = OTG_EPINT_XFRC | OTG_DOEPINT_STUP;
    OTG_DAINTMSK = 0u;
    OTG_GINTSTS = 0xFFFFFFFFu;
    OTG_GINTMSK = OTG_GINT_RXFLVL | OTG_GINT_USBSUSP | OTG_GINT_USBRST | OTG_GINT_ENUMDNE |
                  OTG_GINT_IEPINT | OTG_GINT_OEPINT;
    /* The global enable is harmless when polled: the IRQ only fires once an
     * application enables it in the NVIC. */
    OTG_GAHBCFG = OTG_GAHBCFG_GINT;
}

void usbd_port_connect(bool on)
{
    if (on)
        OTG_DCTL &= ~OTG_DCTL_SDIS;
    else
        OTG_DCTL |= OTG_DCTL_SDIS;
}

void usbd_port_deinit(void)
{
    /* Never started (a boot straight into the application): nothing to undo, and the
     * core's registers are not to be touched without its clock. */
    if (!(RCC_AHB2ENR & RCC_AHB2_OTGFS))
        return;
    OTG_DCTL |= OTG_DCTL_SDIS;
    /* Hold the disconnect long enough (>= 10 ms at 48-80 MHz) for the host to see it
     * before whatever runs next connects again. */
    for (volatile uint32_t spin = 250000u; spin != 0u; spin--) {
    }
    OTG_GRSTCTL = OTG_GRSTCTL_CSRST;
    wait_clear(&OTG_GRSTCTL, OTG_GRSTCTL_CSRST);
    OTG_GCCFG = 0u;
    RCC_AHB2RSTR |= RCC_AHB2_OTGFS;
    RCC_AHB2RSTR &= ~RCC_AHB2_OTGFS;
    RCC_AHB2ENR &= ~RCC_AHB2_OTGFS;
}

void usbd_port_set_address(uint8_t addr)
{
    OTG_DCFG = (OTG_DCFG & ~OTG_DCFG_DAD_MASK) | ((uint32_t)addr << OTG_DCFG_DAD_SHIFT);
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
    flush_tx_fifo(OTG_GRSTCTL_TXFNUM_ALL);
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

/* A SETUP ends whatever EP0 was doing: an IN packet the host gave up on must leave the
 * TX FIFO before the answer to the new request goes in. */
static void ep0_abort_in(void)
{
    if (!(OTG_DIEPCTL(0) & OTG_EPCTL_EPENA))
        return;
    OTG_DIEPCTL(0) |= OTG_EPCTL_SNAK;
    OTG_DIEPCTL(0) |= OTG_EPCTL_EPDIS;
    wait_clear(&OTG_DIEPCTL(0), OTG_EPCTL_EPENA);
    OTG_DIEPINT(0) = 0xFFFFu;
    flush_tx_fifo(0u);
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
        fifo_read((uint8_t *)0, count, 0u);
        return;
    }
    struct out_endpoint *e = &out_ep[n];

    switch (OTG_GRXSTS_PKTSTS(status)) {
    case OTG_PKTSTS_SETUP_DATA:
        fifo_read((uint8_t *)setup_words, count, sizeof setup_words);
        break;
    case OTG_PKTSTS_SETUP_DONE:
        OTG_DOEPINT(0) = OTG_DOEPINT_STUP | OTG_DOEPINT_STPKTRX | OTG_DOEPINT_STSPHSRX;
        ep0_abort_in();
        in_ep[0].remaining = 0u;
        out_ep[0].capacity = 0u;
        usbd_port_on_setup((const uint8_t *)setup_words);
        break;
    case OTG_PKTSTS_OUT_DATA: {
        uint32_t room = e->capacity > e->received ? e->capacity - e->received : 0u;
        fifo_read(e->buf + e->received, count, room);
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
        fifo_read((uint8_t *)0, count, 0u);
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
        OTG_GINTSTS = OTG_GINT_ENUMDNE;
        OTG_DIEPCTL(0) &= ~3u; /* MPSIZ 0 = 64 bytes */
        OTG_DCTL |= OTG_DCTL_CGINAK;
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
