#include "app_fakes.h"

#include <stdlib.h>
#include <string.h>

#include "l4dfu.h"
#include "target.h"
#include "usbd_port.h"

struct app_fake fake;

void app_fake_reset(void)
{
    memset(&fake, 0, sizeof fake);
}

static void log_event(enum app_event_kind kind, uint32_t value)
{
    if (fake.event_count < APP_MAX_EVENTS)
        fake.events[fake.event_count++] = (struct app_event){kind, value};
}

unsigned app_events_of(enum app_event_kind kind)
{
    unsigned n = 0;
    for (unsigned i = 0; i < fake.event_count; i++)
        n += fake.events[i].kind == kind;
    return n;
}

int app_event_index(enum app_event_kind kind, unsigned from)
{
    for (unsigned i = from; i < fake.event_count; i++)
        if (fake.events[i].kind == kind)
            return (int)i;
    return -1;
}

/* ---- target.h (only what the application side uses) and the l4dfu chip part ---- */

uint32_t target_handshake_read(void) { return fake.handshake; }
uint32_t target_bootcount_read(void) { return fake.bootcount; }

void target_handshake_write(uint32_t value)
{
    fake.handshake = value;
    log_event(EV_HANDSHAKE_WRITE, value);
}

void target_bootcount_write(uint32_t value)
{
    fake.bootcount = value;
    log_event(EV_BOOTCOUNT_WRITE, value);
}

void target_reset(void)
{
    log_event(EV_RESET, 0);
    if (fake.reset_jump == NULL)
        abort();
    longjmp(*fake.reset_jump, 1);
}

void target_serial_number(char out[13])
{
    memcpy(out, "0123456789AB", 13);
}

void l4dfu_chip_quiesce(void)
{
    log_event(EV_QUIESCE, 0);
}

/* ---- port ---- */

void usbd_port_init(void) {}
void usbd_port_connect(bool on) { fake.connected = on; }
void usbd_port_poll(void) {}
void usbd_port_set_address(uint8_t addr) { fake.address = addr; }

void usbd_port_deinit(void)
{
    fake.deinit_calls++;
    fake.connected = false;
}

void usbd_port_ep_open(uint8_t ep, enum usbd_ep_type type, uint16_t max_packet)
{
    unsigned n = ep & 0x0Fu;
    if (ep & 0x80u) {
        fake.in_open[n] = true;
        fake.in_type[n] = (uint8_t)type;
        fake.in_mps[n] = max_packet;
    } else {
        fake.out_open[n] = true;
        fake.out_type[n] = (uint8_t)type;
        fake.out_mps[n] = max_packet;
    }
}

void usbd_port_ep_send(uint8_t ep, const void *data, size_t len)
{
    unsigned n = ep & 0x0Fu;
    fake.in_armed[n] = true;
    fake.in_data[n] = data;
    fake.in_len[n] = len;
    fake.in_sends[n]++;
    if (n == 0 && len == 0)
        log_event(EV_EP0_STATUS_IN_QUEUED, 0);
}

void usbd_port_ep_receive(uint8_t ep, void *buf, size_t len)
{
    unsigned n = ep & 0x0Fu;
    fake.out_armed[n] = true;
    fake.out_buf[n] = buf;
    fake.out_cap[n] = len;
}

void usbd_port_ep_stall(uint8_t ep, bool stall)
{
    unsigned n = ep & 0x0Fu;
    if (ep & 0x80u)
        fake.in_stalled[n] = stall;
    else
        fake.out_stalled[n] = stall;
}

/* ---- host ---- */

static void send_setup(uint8_t type, uint8_t request, uint16_t value, uint16_t index,
                       uint16_t length)
{
    const uint8_t setup[8] = {type, request, (uint8_t)value, (uint8_t)(value >> 8),
                              (uint8_t)index, (uint8_t)(index >> 8), (uint8_t)length,
                              (uint8_t)(length >> 8)};
    fake.in_stalled[0] = fake.out_stalled[0] = false; /* a SETUP lifts an EP0 STALL */
    fake.in_armed[0] = fake.out_armed[0] = false;
    usbd_port_on_setup(setup);
}

static bool ep0_stalled(void)
{
    return fake.in_stalled[0] || fake.out_stalled[0];
}

enum host_result host_control_in(uint8_t type, uint8_t request, uint16_t value, uint16_t index,
                                 uint16_t length, uint8_t *got, size_t *got_len)
{
    send_setup(type, request, value, index, length);
    if (ep0_stalled())
        return HOST_STALL;
    if (!fake.in_armed[0] || fake.in_len[0] > length)
        return HOST_BAD_SEQUENCE;
    if (got != NULL && fake.in_len[0] != 0)
        memcpy(got, fake.in_data[0], fake.in_len[0]);
    if (got_len != NULL)
        *got_len = fake.in_len[0];
    fake.in_armed[0] = false;
    usbd_port_on_in_done(0x80);
    if (fake.in_armed[0]) { /* the terminating ZLP of a reply that ended on a full packet */
        if (fake.in_len[0] != 0)
            return HOST_BAD_SEQUENCE;
        fake.in_armed[0] = false;
        usbd_port_on_in_done(0x80);
    }
    if (!fake.out_armed[0] || fake.out_cap[0] != 0)
        return HOST_BAD_SEQUENCE;
    fake.out_armed[0] = false;
    usbd_port_on_out_done(0, 0);
    return HOST_OK;
}

static enum host_result control_out_until_status(uint8_t type, uint8_t request, uint16_t value,
                                                 uint16_t index, const void *data,
                                                 uint16_t length)
{
    send_setup(type, request, value, index, length);
    if (ep0_stalled())
        return HOST_STALL;
    if (length != 0) {
        if (!fake.out_armed[0] || fake.out_cap[0] != length)
            return HOST_BAD_SEQUENCE;
        memcpy(fake.out_buf[0], data, length);
        fake.out_armed[0] = false;
        usbd_port_on_out_done(0, length);
        if (ep0_stalled())
            return HOST_STALL;
    }
    if (!fake.in_armed[0] || fake.in_len[0] != 0)
        return HOST_BAD_SEQUENCE;
    return HOST_OK;
}

enum host_result host_control_out(uint8_t type, uint8_t request, uint16_t value,
                                  uint16_t index, const void *data, uint16_t length)
{
    enum host_result r = control_out_until_status(type, request, value, index, data, length);
    if (r != HOST_OK)
        return r;
    fake.in_armed[0] = false;
    log_event(EV_EP0_STATUS_IN_ACKED, 0);
    usbd_port_on_in_done(0x80);
    return HOST_OK;
}

enum host_result host_control_out_no_status(uint8_t type, uint8_t request, uint16_t value,
                                            uint16_t index)
{
    return control_out_until_status(type, request, value, index, NULL, 0);
}

void host_enumerate(void)
{
    usbd_port_on_bus_reset();
    host_control_out(0x00, 5, 5, 0, NULL, 0);
    host_control_out(0x00, 9, 1, 0, NULL, 0);
}

enum host_result host_bulk_out(uint8_t ep, const void *data, size_t len)
{
    unsigned n = ep & 0x0Fu;
    if (fake.out_stalled[n])
        return HOST_STALL;
    if (!fake.out_open[n] || !fake.out_armed[n] || len > fake.out_cap[n] ||
        len > fake.out_mps[n])
        return HOST_BAD_SEQUENCE;
    memcpy(fake.out_buf[n], data, len);
    fake.out_armed[n] = false;
    usbd_port_on_out_done((uint8_t)n, len);
    return HOST_OK;
}

long host_bulk_in(uint8_t ep, uint8_t *buf, size_t room)
{
    unsigned n = ep & 0x0Fu;
    if (!fake.in_open[n] || !fake.in_armed[n] || fake.in_len[n] > room)
        return -1;
    size_t len = fake.in_len[n];
    if (len != 0)
        memcpy(buf, fake.in_data[n], len);
    fake.in_armed[n] = false;
    usbd_port_on_in_done((uint8_t)(n | 0x80u));
    return (long)len;
}
