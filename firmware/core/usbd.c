#include "usbd.h"
#include "usbd_descriptors.h"

#include "usbd_port.h"

enum { REQ_GET_STATUS = 0, REQ_CLEAR_FEATURE = 1, REQ_SET_FEATURE = 3, REQ_SET_ADDRESS = 5,
       REQ_GET_DESCRIPTOR = 6, REQ_GET_CONFIGURATION = 8, REQ_SET_CONFIGURATION = 9,
       REQ_GET_INTERFACE = 10, REQ_SET_INTERFACE = 11 };
enum { FEATURE_ENDPOINT_HALT = 0 };

/* A port built with EP0 only (the bootloader: USBD_PORT_ENDPOINTS=1) has no endpoint to
 * halt or to report on: endpoint requests name EP0 or STALL, and the bookkeeping for the
 * others is left out. */
#if defined(USBD_PORT_ENDPOINTS) && USBD_PORT_ENDPOINTS == 1
#define USBD_EP0_ONLY 1
#else
#define USBD_EP0_ONLY 0
#endif

/* Built for one fixed device (the bootloader: USBD_FIXED_DEVICE=dfu_usb_device), the
 * device's tables are constants: the compiler folds the interface count, the class
 * callbacks become direct calls, and usbd_init's argument is not kept. */
#ifdef USBD_FIXED_DEVICE
extern const struct usbd_device USBD_FIXED_DEVICE;
#define DEV (&USBD_FIXED_DEVICE)
#else
#define DEV usbd.dev
#endif

enum ep0_stage { EP0_IDLE, EP0_DATA_IN, EP0_DATA_OUT, EP0_STATUS_IN, EP0_STATUS_OUT };

static struct {
#ifndef USBD_FIXED_DEVICE
    const struct usbd_device *dev;
#endif
    struct usbd_setup req;
    const struct usbd_class *req_class; /* NULL: a standard request */
    uint8_t *out_buf;
    uint8_t stage;
    bool zlp_pending;
    uint8_t configuration;
    uint8_t alt[USBD_MAX_INTERFACES];
    uint32_t halted; /* bit n: OUT endpoint n, bit 16 + n: IN endpoint n */
    uint8_t small[2];
    uint8_t text[USBD_STRING_BUFFER];
} usbd;

void usbd_init(const struct usbd_device *dev)
{
#ifdef USBD_FIXED_DEVICE
    (void)dev;
#else
    usbd.dev = dev;
#endif
    usbd_port_init();
}

bool usbd_configured(void)
{
    return usbd.configuration != 0;
}

void usbd_port_on_bus_reset(void)
{
    usbd.stage = EP0_IDLE;
    usbd.configuration = 0;
    usbd.halted = 0;
    for (uint8_t i = 0; i < DEV->interface_count; i++)
        DEV->interfaces[i]->bus_reset();
}

void usbd_port_on_suspend(void)
{
}

static uint32_t halt_bit(uint8_t ep)
{
    return 1u << ((ep & 0x0Fu) + ((ep & USBD_DIR_IN) ? 16u : 0u));
}

static bool get_descriptor(const struct usbd_setup *r, uint8_t **data, uint16_t *len)
{
    return usbd_get_descriptor(DEV, r->wValue, usbd.text, data, len);
}

static bool set_configuration(uint8_t value)
{
    if (value != 0 && value != DEV->config_descriptor[5])
        return false;
    usbd.configuration = value;
    usbd.halted = 0;
    for (uint8_t i = 0; i < DEV->interface_count && value != 0; i++) {
        usbd.alt[i] = 0;
        if (!DEV->interfaces[i]->set_alt(i, 0))
            return false;
    }
    return true;
}

/* Endpoints other than EP0 exist only once configured. */
static bool endpoint_ok(uint16_t ep)
{
    if (USBD_EP0_ONLY)
        return (ep & 0x7Fu) == 0;
    return (ep & 0x70u) == 0 && ((ep & 0x0Fu) == 0 || usbd.configuration != 0);
}

static bool standard_request(const struct usbd_setup *r, uint8_t **data, uint16_t *len)
{
    uint8_t recipient = r->bmRequestType & USBD_RECIPIENT_MASK;
    uint8_t iface = (uint8_t)r->wIndex;
    bool iface_ok = usbd.configuration != 0 && r->wIndex < DEV->interface_count;
    *data = usbd.small;
    usbd.small[0] = 0;
    usbd.small[1] = 0;

    switch (r->bRequest) {
    case REQ_GET_STATUS:
        *len = 2;
        if (recipient == USBD_RECIPIENT_DEVICE) {
            usbd.small[0] = (DEV->config_descriptor[7] >> 6) & 1u; /* self-powered */
            return true;
        }
        if (recipient == USBD_RECIPIENT_INTERFACE)
            return iface_ok;
        if (recipient == USBD_RECIPIENT_ENDPOINT && endpoint_ok(r->wIndex)) {
            usbd.small[0] = !USBD_EP0_ONLY && (usbd.halted & halt_bit(iface)) != 0;
            return true;
        }
        return false;
    case REQ_CLEAR_FEATURE:
    case REQ_SET_FEATURE: {
        /* Only ENDPOINT_HALT: no remote wakeup is advertised, and test modes are
         * high-speed only. */
        if (recipient != USBD_RECIPIENT_ENDPOINT || r->wValue != FEATURE_ENDPOINT_HALT ||
            !endpoint_ok(r->wIndex))
            return false;
        bool halt = r->bRequest == REQ_SET_FEATURE;
        if (!USBD_EP0_ONLY && (iface & 0x0Fu) != 0) {
            usbd_port_ep_stall(iface, halt);
            usbd.halted = halt ? usbd.halted | halt_bit(iface) : usbd.halted & ~halt_bit(iface);
        }
        return true;
    }
    case REQ_SET_ADDRESS:
        if (recipient != USBD_RECIPIENT_DEVICE || r->wValue > 127)
            return false;
        usbd_port_set_address((uint8_t)r->wValue);
        return true;
    case REQ_GET_DESCRIPTOR:
        return get_descriptor(r, data, len);
    case REQ_GET_CONFIGURATION:
        usbd.small[0] = usbd.configuration;
        *len = 1;
        return true;
    case REQ_SET_CONFIGURATION:
        return recipient == USBD_RECIPIENT_DEVICE && set_configuration((uint8_t)r->wValue);
    case REQ_GET_INTERFACE:
        usbd.small[0] = iface_ok ? usbd.alt[iface] : 0;
        *len = 1;
        return iface_ok;
    case REQ_SET_INTERFACE:
        if (!iface_ok || r->wValue > 255 ||
            !DEV->interfaces[iface]->set_alt(iface, (uint8_t)r->wValue))
            return false;
        usbd.alt[iface] = (uint8_t)r->wValue;
        return true;
    default:
        return false;
    }
}

static void stall_ep0(void)
{
    usbd.stage = EP0_IDLE;
    usbd_port_ep_stall(0x80, true);
    usbd_port_ep_stall(0x00, true);
}

static void send_status_in(void)
{
    usbd.stage = EP0_STATUS_IN;
    usbd_port_ep_send(0x80, NULL, 0);
}

void usbd_port_on_setup(const uint8_t setup[8])
{
    struct usbd_setup *r = &usbd.req;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* The struct is the wire layout (two bytes, three LE16 fields): two word loads. */
    _Static_assert(sizeof *r == 8, "struct usbd_setup is the 8-byte SETUP packet");
    uint32_t words[2];
    __builtin_memcpy(words, setup, sizeof words);
    __builtin_memcpy(r, words, sizeof words);
#else
    r->bmRequestType = setup[0];
    r->bRequest = setup[1];
    r->wValue = (uint16_t)(setup[2] | setup[3] << 8);
    r->wIndex = (uint16_t)(setup[4] | setup[5] << 8);
    r->wLength = (uint16_t)(setup[6] | setup[7] << 8);
#endif

    uint8_t *data = NULL;
    uint16_t len = 0;
    bool ok;
    usbd.req_class = NULL;
    if ((r->bmRequestType & USBD_TYPE_MASK) == USBD_TYPE_STANDARD) {
        ok = standard_request(r, &data, &len);
    } else if ((r->bmRequestType & (USBD_TYPE_MASK | USBD_RECIPIENT_MASK)) ==
                   (USBD_TYPE_CLASS | USBD_RECIPIENT_INTERFACE) &&
               usbd.configuration != 0 && r->wIndex < DEV->interface_count) {
        usbd.req_class = DEV->interfaces[r->wIndex];
        ok = usbd.req_class->control(r, USBD_STAGE_SETUP, &data, &len);
    } else {
        ok = false; /* vendor requests, class requests to the device or an endpoint */
    }
    if (!ok) {
        stall_ep0();
        return;
    }

    if (r->bmRequestType & USBD_DIR_IN) {
        if (len > r->wLength)
            len = r->wLength;
        /* A reply shorter than asked ends on a short packet; a full last packet
         * needs a zero-length one after it. */
        usbd.zlp_pending = len != 0 && len < r->wLength && len % USBD_EP0_SIZE == 0;
        usbd.stage = EP0_DATA_IN;
        usbd_port_ep_send(0x80, data, len);
    } else if (r->wLength != 0) {
        /* Only as many bytes as the handler has room for (it said so in len; no standard
         * request has an OUT data stage): anything else would let a host write past the
         * end of a buffer (found by tests/fuzz/dfu_fuzz.c). */
        if (data == NULL || len < r->wLength) {
            stall_ep0();
            return;
        }
        usbd.out_buf = data;
        usbd.stage = EP0_DATA_OUT;
        usbd_port_ep_receive(0x00, data, r->wLength);
    } else {
        send_status_in();
    }
}

static void control_done(void)
{
    usbd.stage = EP0_IDLE;
    if (usbd.req_class != NULL) {
        uint8_t *data = usbd.out_buf;
        uint16_t len = 0;
        usbd.req_class->control(&usbd.req, USBD_STAGE_DONE, &data, &len);
    }
}

void usbd_port_on_out_done(uint8_t ep, size_t len)
{
    if (!USBD_EP0_ONLY && ep != 0) {
        if (DEV->endpoint_done != NULL)
            DEV->endpoint_done(ep, len);
        return;
    }
    if (usbd.stage == EP0_DATA_OUT) {
        uint8_t *data = usbd.out_buf;
        uint16_t got = (uint16_t)len;
        /* Only class requests take a data stage; a short one is a protocol error. */
        if (usbd.req_class == NULL || got != usbd.req.wLength ||
            !usbd.req_class->control(&usbd.req, USBD_STAGE_DATA, &data, &got)) {
            stall_ep0();
            return;
        }
        send_status_in();
    } else if (usbd.stage == EP0_STATUS_OUT) {
        control_done();
    }
}

void usbd_port_on_in_done(uint8_t ep)
{
    if (!USBD_EP0_ONLY && (ep & 0x7Fu) != 0) {
        if (DEV->endpoint_done != NULL)
            DEV->endpoint_done(ep, 0);
        return;
    }
    if (usbd.stage == EP0_DATA_IN) {
        if (usbd.zlp_pending) {
            usbd.zlp_pending = false;
            usbd_port_ep_send(0x80, NULL, 0);
            return;
        }
        usbd.stage = EP0_STATUS_OUT;
        usbd_port_ep_receive(0x00, NULL, 0);
    } else if (usbd.stage == EP0_STATUS_IN) {
        control_done();
    }
}
