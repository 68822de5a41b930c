#include "cdc_acm.h"

#include "usbd_port.h"

static struct {
    cdc_acm_receive_fn receive;
    bool data_open; /* the data interface is configured: its endpoints exist */
    uint8_t control_lines;
    uint8_t line_coding[7];
    uint8_t request_buf[7]; /* SET_LINE_CODING data stage lands here first */
    uint8_t rx[CDC_ACM_PACKET_SIZE];
    size_t rx_off, rx_left; /* bytes of rx the application has not taken yet */
    bool rx_armed;          /* the OUT endpoint waits for a packet */
    /* TX ring: [tail, head) waits, the first `in_flight` bytes of it are on the bus. */
    uint8_t tx[CDC_ACM_TX_BUFFER];
    size_t head, tail, queued;
    size_t in_flight;
    bool busy;          /* an IN transfer (data or ZLP) is on the endpoint */
    bool zlp_owed;      /* the last packet was full and nothing followed it yet */
} acm;

/* 115200 8N1 until the host says otherwise. */
static const uint8_t default_line_coding[7] = {0x00, 0xC2, 0x01, 0x00, 0, 0, 8};

static void copy7(uint8_t *dst, const uint8_t *src)
{
    for (unsigned i = 0; i < 7u; i++)
        dst[i] = src[i];
}

static void reset_state(void)
{
    acm.data_open = false;
    acm.control_lines = 0;
    acm.head = acm.tail = acm.queued = acm.in_flight = 0;
    acm.busy = false;
    acm.zlp_owed = false;
    acm.rx_off = acm.rx_left = 0;
    acm.rx_armed = false;
}

void cdc_acm_init(cdc_acm_receive_fn receive)
{
    acm.receive = receive;
    copy7(acm.line_coding, default_line_coding);
    reset_state();
}

/* Starts the next IN transfer: at most one packet from the ring (so a transfer never
 * wraps), or the zero-length packet that closes a run of full packets. */
static void tx_kick(void)
{
    if (acm.busy || !acm.data_open)
        return;
    if (acm.queued == 0) {
        if (acm.zlp_owed) {
            acm.zlp_owed = false;
            acm.busy = true;
            acm.in_flight = 0;
            usbd_port_ep_send(CDC_ACM_EP_DATA_IN, NULL, 0);
        }
        return;
    }
    size_t len = acm.queued;
    if (len > CDC_ACM_TX_BUFFER - acm.tail)
        len = CDC_ACM_TX_BUFFER - acm.tail;
    if (len > CDC_ACM_PACKET_SIZE)
        len = CDC_ACM_PACKET_SIZE;
    acm.busy = true;
    acm.in_flight = len;
    acm.zlp_owed = len == CDC_ACM_PACKET_SIZE;
    usbd_port_ep_send(CDC_ACM_EP_DATA_IN, &acm.tx[acm.tail], len);
}

size_t cdc_acm_write(const void *data, size_t len)
{
    /* SET_CONFIGURATION 0 closes the endpoints without telling the interfaces. */
    if (!acm.data_open || !usbd_configured())
        return 0;
    const uint8_t *bytes = data;
    size_t taken = 0;
    while (taken < len && acm.queued < CDC_ACM_TX_BUFFER) {
        acm.tx[acm.head] = bytes[taken++];
        acm.head = (acm.head + 1) % CDC_ACM_TX_BUFFER;
        acm.queued++;
    }
    tx_kick();
    return taken;
}

bool cdc_acm_tx_idle(void)
{
    return !acm.busy && acm.queued == 0;
}

uint8_t cdc_acm_control_lines(void)
{
    return acm.control_lines;
}

struct cdc_acm_line_coding cdc_acm_line_coding(void)
{
    const uint8_t *c = acm.line_coding;
    struct cdc_acm_line_coding lc = {
        .baud = (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24,
        .stop_bits = c[4],
        .parity = c[5],
        .data_bits = c[6],
    };
    return lc;
}

void cdc_acm_rx_retry(void)
{
    if (!acm.data_open)
        return;
    if (acm.rx_left != 0) {
        size_t took = acm.receive(acm.rx + acm.rx_off, acm.rx_left);
        if (took > acm.rx_left)
            took = acm.rx_left;
        acm.rx_off += took;
        acm.rx_left -= took;
        if (acm.rx_left != 0)
            return; /* the host waits (NAK) until the application takes the rest */
    }
    /* The callback may have answered, but the port is still ours only if a bus reset
     * did not close it meanwhile; and arm only once per packet. */
    if (acm.data_open && !acm.rx_armed) {
        acm.rx_armed = true;
        usbd_port_ep_receive(CDC_ACM_EP_DATA_OUT, acm.rx, sizeof acm.rx);
    }
}

void cdc_acm_endpoint_done(uint8_t ep, size_t len)
{
    if (ep == CDC_ACM_EP_DATA_OUT && acm.data_open) {
        acm.rx_armed = false;
        acm.rx_off = 0;
        acm.rx_left = acm.receive != NULL ? len : 0;
        cdc_acm_rx_retry();
    } else if (ep == CDC_ACM_EP_DATA_IN && acm.busy) {
        acm.tail = (acm.tail + acm.in_flight) % CDC_ACM_TX_BUFFER;
        acm.queued -= acm.in_flight;
        acm.in_flight = 0;
        acm.busy = false;
        tx_kick();
        cdc_acm_rx_retry(); /* room in the TX ring may be what the application waited for */
    }
    /* CDC_ACM_EP_NOTIFY: nothing is ever sent on it (see comm_set_alt). */
}

/* ---- communications interface: line coding and control lines ---- */

static bool comm_control(const struct usbd_setup *r, enum usbd_stage stage, uint8_t **data,
                         uint16_t *len)
{
    bool in = (r->bmRequestType & USBD_DIR_IN) != 0;
    switch (r->bRequest) {
    case CDC_REQ_SET_LINE_CODING:
        if (in || r->wLength != sizeof acm.request_buf)
            return false;
        if (stage == USBD_STAGE_SETUP) {
            *data = acm.request_buf;
            *len = sizeof acm.request_buf;
        }
        else if (stage == USBD_STAGE_DATA)
            copy7(acm.line_coding, acm.request_buf);
        return true;
    case CDC_REQ_GET_LINE_CODING:
        if (!in)
            return false;
        *data = acm.line_coding;
        *len = sizeof acm.line_coding;
        return true;
    case CDC_REQ_SET_CONTROL_LINE_STATE:
        if (in || r->wLength != 0)
            return false;
        if (stage == USBD_STAGE_SETUP)
            acm.control_lines = (uint8_t)(r->wValue & (CDC_CONTROL_DTR | CDC_CONTROL_RTS));
        return true;
    default: /* SEND_BREAK, encapsulated commands, comm features: not offered */
        return false;
    }
}

/* The notification endpoint exists because the class requires it; there are no UART
 * lines behind this port whose state (SERIAL_STATE) would be worth reporting, and
 * neither Linux's cdc_acm nor usbser.sys needs a notification to work. */
static bool comm_set_alt(uint8_t iface, uint8_t alt)
{
    (void)iface;
    if (alt != 0)
        return false;
    usbd_port_ep_open(CDC_ACM_EP_NOTIFY, USBD_EP_INTERRUPT, CDC_ACM_NOTIFY_PACKET_SIZE);
    return true;
}

static void comm_bus_reset(void)
{
    acm.control_lines = 0;
}

const struct usbd_class cdc_acm_comm_class = {comm_control, comm_set_alt, comm_bus_reset};

/* ---- data interface: the two bulk endpoints ---- */

static bool data_control(const struct usbd_setup *r, enum usbd_stage stage, uint8_t **data,
                         uint16_t *len)
{
    (void)r;
    (void)stage;
    (void)data;
    (void)len;
    return false; /* the data class defines no requests */
}

/* (Re)configuring starts the data pipe afresh: bytes queued for a previous host session
 * are dropped, as the endpoints' data toggles restart too. */
static bool data_set_alt(uint8_t iface, uint8_t alt)
{
    (void)iface;
    if (alt != 0)
        return false;
    acm.head = acm.tail = acm.queued = acm.in_flight = 0;
    acm.busy = false;
    acm.zlp_owed = false;
    usbd_port_ep_open(CDC_ACM_EP_DATA_OUT, USBD_EP_BULK, CDC_ACM_PACKET_SIZE);
    usbd_port_ep_open(CDC_ACM_EP_DATA_IN, USBD_EP_BULK, CDC_ACM_PACKET_SIZE);
    acm.data_open = true;
    acm.rx_off = acm.rx_left = 0;
    acm.rx_armed = true;
    usbd_port_ep_receive(CDC_ACM_EP_DATA_OUT, acm.rx, sizeof acm.rx);
    return true;
}

static void data_bus_reset(void)
{
    reset_state();
}

const struct usbd_class cdc_acm_data_class = {data_control, data_set_alt, data_bus_reset};
