/* The virtual USB host: a PC's root-hub port and host controller for the board's one
 * USB device, on the OTG_FS model's wire (otgfs.h). Everything runs in virtual time,
 * driven by the OTG_FS model's next_event/advance (the cable carries the host's events).
 *
 * Scheduling rules (docs/sim-usb.md has the why):
 * - Full speed, 12 Mbit/s, 1 ms frames, each starting with a SOF. A transaction costs
 *   its packets' bits (SYNC, PID, fields, CRC, EOP, the bit stuffing computed from the
 *   actual bits), the device's turnaround and the host's inter-packet gaps; it is only
 *   started if its worst case ends before the frame's EOF guard.
 * - Work starts on 125 us (microframe) boundaries: a transfer submitted mid-microframe
 *   and a pipe that NAKed are (re)tried at the next boundary. Within a microframe the
 *   host runs transactions back to back: interrupt pipes that are due, then control,
 *   then bulk, each in submission order; a pipe runs one transaction per pick.
 * - A device that does not answer (or sends a packet the host cannot read) costs three
 *   strikes; then the transfer fails with -EPROTO (Linux: error -71).
 */
#include "usbhost.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otgfs.h"

#define PS_PER_BIT_NUM 250000ull /* 1 bit at 12 Mbit/s = 250000/3 ps */
#define PS_PER_BIT_DEN 3ull
#define FRAME_PS SIM_PS_PER_MS
#define MICROFRAME_PS (125 * SIM_PS_PER_US)

/* Bus timing constants (bit times), our estimates within the USB 2.0 limits. */
#define BITS_SYNC 8
#define BITS_EOP 3
#define BITS_HOST_IPG 4        /* host packet after host packet (spec: >= 2) */
#define BITS_TURNAROUND 7      /* device answers within 7.5 bit times */
#define BITS_TIMEOUT 18        /* host gives up waiting for an answer */
#define BITS_EOF_GUARD 42      /* no transaction may still run this close to the frame end */

/* Host behaviour, modelled on Linux (drivers/usb/core/hub.c values). */
#define DEBOUNCE_PS (100 * SIM_PS_PER_MS)
#define RESET_PS (10 * SIM_PS_PER_MS)
#define RESET_RECOVERY_PS (10 * SIM_PS_PER_MS)
#define SET_ADDRESS_RECOVERY_PS (2 * SIM_PS_PER_MS)
#define ENUM_TIMEOUT_MS 5000u
#define STRIKES 3

enum host_phase {
    PH_IDLE,      /* nothing connected, or enumeration failed */
    PH_DEBOUNCE,  /* pull-up seen, waiting for it to stay 100 ms */
    PH_RESET,     /* SE0 on the bus */
    PH_WAIT,      /* SOFs running, waiting for `timer` before the next enumeration step */
    PH_RUN,       /* transfers flowing */
};

enum enum_step {
    E_DEV64,
    E_SET_ADDRESS,
    E_DEV18,
    E_CFG9,
    E_CFG_FULL,
    E_STR0,
    E_STR_MFR,
    E_STR_PRODUCT,
    E_STR_SERIAL,
    E_SET_CONFIG,
    E_DONE,
};

struct ep_info {
    uint16_t mps;
    uint8_t type;
    uint8_t interval_frames;
    uint8_t toggle; /* next data PID for bulk/interrupt */
};

struct usbhost {
    sim_t *sim;
    enum usbh_state state;
    enum host_phase phase;
    char failure[256];
    uint32_t generation;
    uint8_t address;
    uint8_t next_address;
    uint8_t reset_address; /* port reset: Linux keeps the device's address */
    bool plugged, pullup;
    uint64_t timer;

    /* frames */
    bool sof_running;
    uint64_t frame_start;
    uint16_t frame_no;
    uint64_t bus_free_at;

    /* enumeration */
    enum enum_step step;
    struct usbh_xfer enum_xfer;
    uint8_t enum_buf[4096];
    uint8_t dev_desc[18];
    uint8_t ep0_mps;
    unsigned config_index, num_configs;
    uint16_t langid;
    uint8_t config_value;
    uint8_t descs[8192];
    size_t descs_len;

    struct ep_info in_eps[16], out_eps[16];

    struct usbh_xfer *queue;

    usbh_listener_fn listener;
    void *listener_user;
    struct usbh_stats stats;
};

static void start_enum_step(struct usbhost *h, uint64_t now);
static const struct otgfs_host_ops host_ops;

/* ------------------------------------------------------------------ bit costs */

static uint64_t bits_to_ps(uint64_t bits)
{
    return (bits * PS_PER_BIT_NUM + PS_PER_BIT_DEN - 1) / PS_PER_BIT_DEN;
}

/* Stuffed bits in a field sent LSB first, continuing the run of ones from `*run`. */
static unsigned stuff_bits(uint32_t value, unsigned nbits, unsigned *run)
{
    unsigned stuffed = 0;
    for (unsigned i = 0; i < nbits; i++) {
        if ((value >> i) & 1u) {
            if (++*run == 6) {
                stuffed++;
                *run = 0;
            }
        } else {
            *run = 0;
        }
    }
    return stuffed;
}

static uint16_t crc16_usb(const uint8_t *d, unsigned len)
{
    uint16_t crc = 0xFFFF;
    for (unsigned i = 0; i < len; i++) {
        crc ^= d[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001u) : (uint16_t)(crc >> 1);
    }
    return (uint16_t)~crc;
}

static uint8_t crc5_usb(uint32_t v11)
{
    uint8_t crc = 0x1F;
    for (int i = 0; i < 11; i++) {
        unsigned bit = (v11 >> i) & 1u;
        if ((crc & 1u) ^ bit)
            crc = (uint8_t)((crc >> 1) ^ 0x14u);
        else
            crc >>= 1;
    }
    return (uint8_t)(~crc & 0x1Fu);
}

static unsigned pid_byte(unsigned pid4)
{
    return (pid4 & 0xFu) | ((~pid4 & 0xFu) << 4);
}

/* SYNC + PID + 11 bits + CRC5 + EOP: tokens and SOF. */
static unsigned token_bits(unsigned pid4, uint32_t field11)
{
    unsigned run = 1; /* SYNC ends in a 1 */
    unsigned s = stuff_bits(pid_byte(pid4), 8, &run);
    s += stuff_bits(field11, 11, &run);
    s += stuff_bits(crc5_usb(field11), 5, &run);
    return BITS_SYNC + 8 + 11 + 5 + s + BITS_EOP;
}

static unsigned data_bits(unsigned pid4, const uint8_t *d, unsigned len)
{
    unsigned run = 1;
    unsigned s = stuff_bits(pid_byte(pid4), 8, &run);
    for (unsigned i = 0; i < len; i++)
        s += stuff_bits(d[i], 8, &run);
    s += stuff_bits(crc16_usb(d, len), 16, &run);
    return BITS_SYNC + 8 + 8 * len + 16 + s + BITS_EOP;
}

/* Worst case for a payload the host does not know yet: all ones (stuffing 1 in 6). */
static unsigned data_bits_worst(unsigned len)
{
    unsigned raw = 8 + 8 * len + 16;
    return BITS_SYNC + raw + raw / 6 + 1 + BITS_EOP;
}

#define BITS_HANDSHAKE (BITS_SYNC + 8 + BITS_EOP)

enum { PID_OUT = 0x1, PID_IN = 0x9, PID_SOF = 0x5, PID_SETUP = 0xD, PID_DATA0 = 0x3, PID_DATA1 = 0xB };

static uint32_t token_field(uint8_t addr, uint8_t ep)
{
    return (addr & 0x7Fu) | ((uint32_t)(ep & 0xFu) << 7);
}

/* ------------------------------------------------------------------ state, queue */

static const char *state_name(enum usbh_state s)
{
    switch (s) {
    case USBH_DETACHED: return "detached";
    case USBH_RESETTING: return "resetting";
    case USBH_ENUMERATING: return "enumerating";
    case USBH_CONFIGURED: return "configured";
    case USBH_FAILED: return "failed";
    }
    return "?";
}

static void set_state(struct usbhost *h, enum usbh_state s)
{
    if (h->state == s)
        return;
    h->state = s;
    sim_trace(h->sim, SIM_TR_USB, "USB host: %s%s%s", state_name(s), s == USBH_FAILED ? ": " : "",
              s == USBH_FAILED ? h->failure : "");
    if (s == USBH_CONFIGURED)
        sim_event(h->sim, "usb configured %04x:%04x bcdDevice %04x address %u", h->dev_desc[8] | (h->dev_desc[9] << 8),
                  h->dev_desc[10] | (h->dev_desc[11] << 8), h->dev_desc[12] | (h->dev_desc[13] << 8), h->address);
    else if (s == USBH_DETACHED || s == USBH_RESETTING || s == USBH_FAILED)
        sim_event(h->sim, "usb %s%s%s", state_name(s), s == USBH_FAILED ? ": " : "", s == USBH_FAILED ? h->failure : "");
    if (h->listener)
        h->listener(h->listener_user, s);
}

static void unlink_xfer(struct usbhost *h, struct usbh_xfer *x)
{
    for (struct usbh_xfer **p = &h->queue; *p; p = &(*p)->next_) {
        if (*p == x) {
            *p = x->next_;
            x->next_ = NULL;
            return;
        }
    }
}

static bool queued(struct usbhost *h, struct usbh_xfer *x)
{
    for (struct usbh_xfer *p = h->queue; p; p = p->next_)
        if (p == x)
            return true;
    return false;
}

static void complete(struct usbhost *h, struct usbh_xfer *x, int status)
{
    unlink_xfer(h, x);
    x->status = status;
    /* DFU downloads are milestones for reports (make demo): class OUT, bRequest DNLOAD */
    if (x->type == 0 && x->setup[0] == 0x21 && x->setup[1] == 1)
        sim_event(h->sim, "usb dfu dnload block %u length %u status %d", x->setup[2] | (x->setup[3] << 8),
                  x->setup[6] | (x->setup[7] << 8), status);
    if (x->done)
        x->done(x);
}

static void fail_all(struct usbhost *h, int status)
{
    while (h->queue)
        complete(h, h->queue, status);
}

static uint64_t next_microframe(uint64_t t)
{
    return (t / MICROFRAME_PS + 1) * MICROFRAME_PS;
}

static void queue_xfer(struct usbhost *h, struct usbh_xfer *x, uint64_t now)
{
    x->next_ = NULL;
    x->actual = 0;
    x->status = 0;
    x->stage_ = 0;
    x->offset_ = 0;
    x->errors_ = 0;
    x->toggle_ = 0;
    x->retry_at_ = next_microframe(now);
    x->deadline_ = x->timeout_ms ? now + (uint64_t)x->timeout_ms * SIM_PS_PER_MS : SIM_NEVER;
    struct usbh_xfer **p = &h->queue;
    while (*p)
        p = &(*p)->next_;
    *p = x;
    sim_reschedule(h->sim);
}

/* ------------------------------------------------------------------ attach / detach */

static void stop_bus(struct usbhost *h)
{
    h->sof_running = false;
    h->phase = PH_IDLE;
}

static void detach(struct usbhost *h, const char *why)
{
    h->reset_address = 0;
    sim_trace(h->sim, SIM_TR_USB, "USB host: device gone (%s)", why);
    stop_bus(h);
    fail_all(h, -ENODEV);
    h->address = 0;
    set_state(h, USBH_DETACHED);
}

static void begin_reset(struct usbhost *h, uint64_t now)
{
    h->sof_running = false;
    h->phase = PH_RESET;
    h->timer = now + RESET_PS;
    h->address = 0;
    set_state(h, USBH_RESETTING);
    otgfs_wire_reset(h->sim, true);
}

static void start_frames(struct usbhost *h, uint64_t now)
{
    h->sof_running = true;
    h->frame_start = now;
    h->bus_free_at = now;
    h->frame_no = (uint16_t)((h->frame_no + 1) & 0x7FFu);
    otgfs_wire_sof(h->sim, h->frame_no);
    h->bus_free_at = now + bits_to_ps(token_bits(PID_SOF, h->frame_no) + BITS_HOST_IPG);
    h->stats.frames++;
}

static void host_pullup_changed(void *self, bool on, uint64_t now)
{
    struct usbhost *h = self;
    h->pullup = on;
    if (!h->plugged)
        return;
    if (on) {
        if (h->state == USBH_DETACHED) {
            h->phase = PH_DEBOUNCE;
            h->timer = now + DEBOUNCE_PS;
            sim_trace(h->sim, SIM_TR_USB, "USB host: connect seen, debouncing 100 ms");
            sim_reschedule(h->sim);
        }
    } else if (h->phase == PH_DEBOUNCE) {
        h->phase = PH_IDLE;
    } else if (h->state != USBH_DETACHED) {
        detach(h, "D+ pull-up dropped");
    }
}

/* ------------------------------------------------------------------ enumeration */

static void fail_enum(struct usbhost *h, const char *fmt, int err)
{
    snprintf(h->failure, sizeof h->failure, fmt, err);
    stop_bus(h);
    fail_all(h, -ENODEV);
    set_state(h, USBH_FAILED);
}

static void enum_control(struct usbhost *h, uint64_t now, uint8_t bm, uint8_t req, uint16_t value, uint16_t index,
                         uint16_t length)
{
    struct usbh_xfer *x = &h->enum_xfer;
    uint8_t setup[8] = {bm, req, (uint8_t)value, (uint8_t)(value >> 8), (uint8_t)index, (uint8_t)(index >> 8),
                        (uint8_t)length, (uint8_t)(length >> 8)};
    memcpy(x->setup, setup, 8);
    x->ep = (bm & 0x80) ? 0x80 : 0x00;
    x->type = 0;
    x->data = h->enum_buf;
    x->length = length;
    x->timeout_ms = ENUM_TIMEOUT_MS;
    queue_xfer(h, x, now);
}

static uint8_t string_index_for(struct usbhost *h, enum enum_step s)
{
    switch (s) {
    case E_STR_MFR: return h->dev_desc[14];
    case E_STR_PRODUCT: return h->dev_desc[15];
    case E_STR_SERIAL: return h->dev_desc[16];
    default: return 0;
    }
}

/* Record the endpoints of the chosen configuration (first interface settings seen). */
static void parse_endpoints(struct usbhost *h, const uint8_t *cfg, size_t len)
{
    memset(h->in_eps, 0, sizeof h->in_eps);
    memset(h->out_eps, 0, sizeof h->out_eps);
    for (size_t i = 0; i + 2 <= len && cfg[i] >= 2; i += cfg[i]) {
        if (cfg[i + 1] == 5 && cfg[i] >= 7 && i + 7 <= len) {
            uint8_t addr = cfg[i + 2];
            struct ep_info *e = (addr & 0x80) ? &h->in_eps[addr & 0xF] : &h->out_eps[addr & 0xF];
            if (e->mps)
                continue;
            e->type = cfg[i + 3] & 3u;
            e->mps = (uint16_t)((cfg[i + 4] | cfg[i + 5] << 8) & 0x7FF);
            unsigned iv = cfg[i + 6] ? cfg[i + 6] : 1;
            unsigned p2 = 1;
            while (p2 * 2 <= iv && p2 < 128)
                p2 *= 2;
            e->interval_frames = (uint8_t)p2;
        }
    }
}

static uint8_t new_address(const struct usbhost *h)
{
    return h->reset_address ? h->reset_address : h->next_address;
}

static void enum_done(struct usbh_xfer *x)
{
    struct usbhost *h = x->user;
    uint64_t now = sim_now(h->sim);
    if (x->status == -ENODEV || x->status == -ECONNRESET)
        return; /* detached or reset meanwhile: a new enumeration follows */
    int err = x->status;
    switch (h->step) {
    case E_DEV64:
        if (err || x->actual < 8) {
            fail_enum(h, "device descriptor read/64, error %d", err ? err : -EPROTO);
            return;
        }
        h->ep0_mps = h->enum_buf[7];
        if (h->ep0_mps != 8 && h->ep0_mps != 16 && h->ep0_mps != 32 && h->ep0_mps != 64) {
            fail_enum(h, "device descriptor read/64: bMaxPacketSize0 is invalid (error %d)", -EPROTO);
            return;
        }
        h->step = E_SET_ADDRESS;
        break;
    case E_SET_ADDRESS:
        if (err) {
            char buf[96];
            snprintf(buf, sizeof buf, "device not accepting address %u, error %%d", new_address(h));
            h->reset_address = 0;
            fail_enum(h, buf, err);
            return;
        }
        h->address = new_address(h);
        if (h->reset_address)
            h->reset_address = 0;
        else
            h->next_address = h->next_address >= 127 ? 2 : (uint8_t)(h->next_address + 1);
        h->step = E_DEV18;
        h->phase = PH_WAIT;
        h->timer = now + SET_ADDRESS_RECOVERY_PS;
        sim_reschedule(h->sim);
        return;
    case E_DEV18:
        if (err || x->actual < 18 || h->enum_buf[1] != 1) {
            fail_enum(h, "device descriptor read/all, error %d", err ? err : -EMSGSIZE);
            return;
        }
        memcpy(h->dev_desc, h->enum_buf, 18);
        memcpy(h->descs, h->enum_buf, 18);
        h->descs_len = 18;
        h->num_configs = h->dev_desc[17];
        h->config_index = 0;
        if (h->num_configs == 0) {
            fail_enum(h, "no configurations (error %d)", -EINVAL);
            return;
        }
        h->step = E_CFG9;
        break;
    case E_CFG9:
        if (err || x->actual < 9 || h->enum_buf[1] != 2) {
            char buf[96];
            snprintf(buf, sizeof buf, "unable to read config index %u descriptor/start: %%d", h->config_index);
            fail_enum(h, buf, err ? err : -EMSGSIZE);
            return;
        }
        h->step = E_CFG_FULL;
        break;
    case E_CFG_FULL: {
        uint16_t total = (uint16_t)(h->enum_buf[2] | h->enum_buf[3] << 8);
        if (err || x->actual < total) {
            char buf[96];
            snprintf(buf, sizeof buf, "unable to read config index %u descriptor/all: %%d", h->config_index);
            fail_enum(h, buf, err ? err : -EMSGSIZE);
            return;
        }
        if (h->descs_len + total <= sizeof h->descs) {
            memcpy(h->descs + h->descs_len, h->enum_buf, total);
            if (h->config_index == 0) {
                h->config_value = h->enum_buf[5];
                parse_endpoints(h, h->enum_buf, total);
            }
            h->descs_len += total;
        }
        h->config_index++;
        h->step = h->config_index < h->num_configs && h->config_index < 8 ? E_CFG9 : E_STR0;
        break;
    }
    case E_STR0:
        /* Strings are optional: Linux carries on without them. */
        h->langid = (!err && x->actual >= 4 && h->enum_buf[1] == 3) ? (uint16_t)(h->enum_buf[2] | h->enum_buf[3] << 8)
                                                                    : 0;
        h->step = h->langid ? E_STR_MFR : E_SET_CONFIG;
        break;
    case E_STR_MFR:
    case E_STR_PRODUCT:
    case E_STR_SERIAL:
        if (err)
            sim_trace(h->sim, SIM_TR_USB, "USB host: string descriptor read failed, error %d", err);
        h->step = (enum enum_step)(h->step + 1);
        break;
    case E_SET_CONFIG:
        if (err) {
            char buf[96];
            snprintf(buf, sizeof buf, "can't set config #%u, error %%d", h->config_value);
            fail_enum(h, buf, err);
            return;
        }
        for (unsigned i = 0; i < 16; i++)
            h->in_eps[i].toggle = h->out_eps[i].toggle = 0;
        h->step = E_DONE;
        h->generation++;
        h->failure[0] = 0;
        set_state(h, USBH_CONFIGURED);
        return;
    case E_DONE:
        return;
    }
    start_enum_step(h, now);
}

static void start_enum_step(struct usbhost *h, uint64_t now)
{
    while (h->step >= E_STR_MFR && h->step <= E_STR_SERIAL && string_index_for(h, h->step) == 0)
        h->step = (enum enum_step)(h->step + 1);
    h->enum_xfer.user = h;
    h->enum_xfer.done = enum_done;
    switch (h->step) {
    case E_DEV64: enum_control(h, now, 0x80, 6, 0x0100, 0, 64); break;
    case E_SET_ADDRESS: enum_control(h, now, 0x00, 5, new_address(h), 0, 0); break;
    case E_DEV18: enum_control(h, now, 0x80, 6, 0x0100, 0, 18); break;
    case E_CFG9: enum_control(h, now, 0x80, 6, (uint16_t)(0x0200 | h->config_index), 0, 9); break;
    case E_CFG_FULL: {
        uint16_t total = (uint16_t)(h->enum_buf[2] | h->enum_buf[3] << 8);
        if (total > sizeof h->enum_buf)
            total = sizeof h->enum_buf;
        enum_control(h, now, 0x80, 6, (uint16_t)(0x0200 | h->config_index), 0, total);
        break;
    }
    case E_STR0: enum_control(h, now, 0x80, 6, 0x0300, 0, 255); break;
    case E_STR_MFR:
    case E_STR_PRODUCT:
    case E_STR_SERIAL:
        enum_control(h, now, 0x80, 6, (uint16_t)(0x0300 | string_index_for(h, h->step)), h->langid, 255);
        break;
    case E_SET_CONFIG: enum_control(h, now, 0x00, 9, h->config_value, 0, 0); break;
    case E_DONE: break;
    }
}

/* ------------------------------------------------------------------ transactions */

static unsigned xfer_mps(struct usbhost *h, const struct usbh_xfer *x)
{
    if (x->type == 0)
        return h->ep0_mps ? h->ep0_mps : 8;
    const struct ep_info *e = (x->ep & 0x80) ? &h->in_eps[x->ep & 0xF] : &h->out_eps[x->ep & 0xF];
    return e->mps ? e->mps : 64;
}

static struct ep_info *xfer_ep(struct usbhost *h, const struct usbh_xfer *x)
{
    return (x->ep & 0x80) ? &h->in_eps[x->ep & 0xF] : &h->out_eps[x->ep & 0xF];
}

/* Worst-case bus time of the transfer's next transaction, in bits. */
static unsigned next_transaction_bits(struct usbhost *h, const struct usbh_xfer *x)
{
    unsigned payload = xfer_mps(h, x);
    if (x->type == 0 && x->stage_ == 0)
        payload = 8;
    return 32 + BITS_SYNC + BITS_EOP + BITS_HOST_IPG + BITS_TURNAROUND + data_bits_worst(payload) +
           BITS_TURNAROUND + BITS_HANDSHAKE + BITS_HOST_IPG;
}

/* Which queued transfers may run now: the first transfer of each pipe. */
static bool pipe_head(struct usbhost *h, const struct usbh_xfer *x)
{
    for (struct usbh_xfer *p = h->queue; p && p != x; p = p->next_) {
        if (x->type == 0 && p->type == 0)
            return false;
        if (x->type != 0 && p->ep == x->ep)
            return false;
    }
    return true;
}

static struct usbh_xfer *pick(struct usbhost *h, uint64_t t, uint64_t *earliest)
{
    static const uint8_t order[3] = {3, 0, 2};
    *earliest = SIM_NEVER;
    for (unsigned k = 0; k < 3; k++) {
        for (struct usbh_xfer *x = h->queue; x; x = x->next_) {
            if (x->type != order[k] || !pipe_head(h, x))
                continue;
            if (x->type == 0 && x != &h->enum_xfer && h->state != USBH_CONFIGURED)
                continue;
            if (x->retry_at_ <= t)
                return x;
            if (x->retry_at_ < *earliest)
                *earliest = x->retry_at_;
        }
    }
    return NULL;
}

static void strike(struct usbhost *h, struct usbh_xfer *x, uint64_t t, const char *why)
{
    x->errors_++;
    sim_trace(h->sim, SIM_TR_USB, "USB host: ep 0x%02x transaction error %u/%d: %s", x->ep, x->errors_, STRIKES, why);
    if (x->errors_ >= STRIKES)
        complete(h, x, -EPROTO);
    else
        x->retry_at_ = next_microframe(t);
}

static void nak(struct usbhost *h, struct usbh_xfer *x, uint64_t t)
{
    h->stats.naks++;
    x->retry_at_ = next_microframe(t);
}

/* An IN token the device answered without data: NAK (try again later), STALL (the
 * transfer ends with -EPIPE), or nothing readable (a transaction error). Returns the bus
 * bits the answer cost. */
static uint64_t in_without_data(struct usbhost *h, struct usbh_xfer *x, uint64_t t, enum otg_wire_result r,
                                bool garbled, unsigned mps)
{
    if (r == OTG_WIRE_NAK) {
        nak(h, x, t);
        return BITS_HANDSHAKE;
    }
    if (r == OTG_WIRE_STALL) {
        h->stats.stalls++;
        complete(h, x, -EPIPE);
        return BITS_HANDSHAKE;
    }
    strike(h, x, t, garbled ? "unreadable packet from the device (its 48 MHz clock is off)" : "no answer to IN");
    return garbled ? data_bits_worst(mps) : BITS_TIMEOUT;
}

/* Side effects a host keeps track of when a control transfer succeeds. */
static void control_succeeded(struct usbhost *h, const struct usbh_xfer *x)
{
    const uint8_t *s = x->setup;
    if (s[0] == 0x00 && s[1] == 9) {
        for (unsigned i = 0; i < 16; i++)
            h->in_eps[i].toggle = h->out_eps[i].toggle = 0;
    } else if (s[0] == 0x01 && s[1] == 11) {
        for (unsigned i = 0; i < 16; i++)
            h->in_eps[i].toggle = h->out_eps[i].toggle = 0;
    } else if (s[0] == 0x02 && s[1] == 1 && s[2] == 0 && s[3] == 0) {
        struct ep_info *e = (s[4] & 0x80) ? &h->in_eps[s[4] & 0xF] : &h->out_eps[s[4] & 0xF];
        e->toggle = 0;
    }
}

/* IN data as the host receives it. An inaccurate device clock makes the host unable
 * to read it (CRC/bit errors): the host does not ACK, so the device keeps it. */
static enum otg_wire_result host_in(struct usbhost *h, uint8_t ep, uint8_t *buf, unsigned max, unsigned *len,
                                    enum otg_wire_pid *pid, bool *garbled)
{
    *garbled = false;
    const char *why = NULL;
    if (!otgfs_clock_accurate(h->sim, &why) && otgfs_pullup(h->sim)) {
        *garbled = true;
        *len = 0;
        return OTG_WIRE_NO_RESPONSE;
    }
    return otgfs_wire_in(h->sim, h->address, ep, buf, max, len, pid);
}

static uint64_t do_control(struct usbhost *h, struct usbh_xfer *x, uint64_t t)
{
    uint8_t addr = h->address;
    unsigned mps = xfer_mps(h, x);
    uint64_t bits = 0;
    bool dir_in = (x->setup[0] & 0x80) != 0;
    uint16_t wlength = (uint16_t)(x->setup[6] | x->setup[7] << 8);
    uint32_t length = x->length < wlength ? x->length : wlength;
    enum otg_wire_result r;
    bool garbled = false;

    if (x->stage_ == 0) {
        h->stats.setup_packets++;
        r = otgfs_wire_setup(h->sim, addr, x->setup);
        bits = token_bits(PID_SETUP, token_field(addr, 0)) + BITS_HOST_IPG + data_bits(PID_DATA0, x->setup, 8);
        if (r == OTG_WIRE_ACK) {
            bits += BITS_TURNAROUND + BITS_HANDSHAKE;
            x->errors_ = 0;
            x->stage_ = length ? 1 : 2;
            x->toggle_ = 1;
            x->offset_ = 0;
        } else {
            bits += BITS_TIMEOUT;
            strike(h, x, t, r == OTG_WIRE_NO_RESPONSE ? "no answer to SETUP" : "SETUP not ACKed");
        }
        return bits + BITS_HOST_IPG;
    }
    bool in_token = x->stage_ == 1 ? dir_in : !dir_in;
    if (in_token) {
        uint8_t buf[1024];
        unsigned len = 0;
        enum otg_wire_pid pid = OTG_PID_DATA0;
        unsigned max = x->stage_ == 1 ? mps : 0;
        r = host_in(h, 0, buf, x->stage_ == 1 ? mps : 64, &len, &pid, &garbled);
        bits = token_bits(PID_IN, token_field(addr, 0)) + BITS_TURNAROUND;
        if (r == OTG_WIRE_ACK) {
            bits += data_bits(pid ? PID_DATA1 : PID_DATA0, buf, len) + BITS_TURNAROUND + BITS_HANDSHAKE;
            x->errors_ = 0;
            h->stats.in_packets++;
            if (pid != x->toggle_) {
                sim_trace(h->sim, SIM_TR_USB, "USB host: EP0 IN with the wrong data toggle: dropped");
            } else if (x->stage_ == 2) {
                if (len) {
                    complete(h, x, -EPROTO);
                } else {
                    control_succeeded(h, x);
                    complete(h, x, 0);
                }
            } else {
                if (len > max || x->offset_ + len > length) {
                    complete(h, x, -EOVERFLOW);
                } else {
                    memcpy(x->data + x->offset_, buf, len);
                    x->offset_ += len;
                    x->actual = x->offset_;
                    h->stats.bytes_in += len;
                    x->toggle_ ^= 1;
                    if (len < mps || x->offset_ >= length) {
                        x->stage_ = 2;
                        x->toggle_ = 1;
                    }
                }
            }
        } else {
            bits += in_without_data(h, x, t, r, garbled, mps);
        }
        return bits + BITS_HOST_IPG;
    }
    /* OUT token: data stage of a control write or the status stage of a read */
    unsigned len = 0;
    const uint8_t *d = NULL;
    if (x->stage_ == 1) {
        len = length - x->offset_ < mps ? length - x->offset_ : mps;
        d = x->data + x->offset_;
    }
    enum otg_wire_pid pid = x->toggle_ ? OTG_PID_DATA1 : OTG_PID_DATA0;
    r = otgfs_wire_out(h->sim, addr, 0, pid, d, len);
    bits = token_bits(PID_OUT, token_field(addr, 0)) + BITS_HOST_IPG + data_bits(pid ? PID_DATA1 : PID_DATA0, d, len);
    h->stats.out_packets++;
    if (r == OTG_WIRE_ACK) {
        bits += BITS_TURNAROUND + BITS_HANDSHAKE;
        x->errors_ = 0;
        if (x->stage_ == 2) {
            control_succeeded(h, x);
            complete(h, x, 0);
        } else {
            x->offset_ += len;
            x->actual = x->offset_;
            h->stats.bytes_out += len;
            x->toggle_ ^= 1;
            if (x->offset_ >= length) {
                x->stage_ = 2;
                x->toggle_ = 1;
            }
        }
    } else if (r == OTG_WIRE_NAK) {
        bits += BITS_TURNAROUND + BITS_HANDSHAKE;
        nak(h, x, t);
    } else if (r == OTG_WIRE_STALL) {
        bits += BITS_TURNAROUND + BITS_HANDSHAKE;
        h->stats.stalls++;
        complete(h, x, -EPIPE);
    } else {
        bits += BITS_TIMEOUT;
        strike(h, x, t, "no answer to OUT");
    }
    return bits + BITS_HOST_IPG;
}

static uint64_t do_data(struct usbhost *h, struct usbh_xfer *x, uint64_t t)
{
    uint8_t addr = h->address;
    struct ep_info *e = xfer_ep(h, x);
    unsigned mps = xfer_mps(h, x);
    uint8_t epn = x->ep & 0xF;
    uint64_t bits;
    enum otg_wire_result r;
    uint64_t next_poll = x->type == 3 ? h->frame_start + (uint64_t)(e->interval_frames ? e->interval_frames : 1) * FRAME_PS
                                      : 0;
    if (x->ep & 0x80) {
        uint8_t buf[1024];
        unsigned len = 0;
        enum otg_wire_pid pid = OTG_PID_DATA0;
        bool garbled = false;
        r = host_in(h, epn, buf, mps, &len, &pid, &garbled);
        bits = token_bits(PID_IN, token_field(addr, epn)) + BITS_TURNAROUND;
        if (r == OTG_WIRE_ACK) {
            bits += data_bits(pid ? PID_DATA1 : PID_DATA0, buf, len) + BITS_TURNAROUND + BITS_HANDSHAKE;
            x->errors_ = 0;
            h->stats.in_packets++;
            if (pid != e->toggle) {
                sim_trace(h->sim, SIM_TR_USB, "USB host: EP%u IN with the wrong data toggle: dropped", epn);
            } else {
                e->toggle ^= 1;
                unsigned room = x->length - x->offset_;
                if (len > room) {
                    memcpy(x->data + x->offset_, buf, room);
                    x->actual = x->length;
                    complete(h, x, -EOVERFLOW);
                    return bits + BITS_HOST_IPG;
                }
                memcpy(x->data + x->offset_, buf, len);
                x->offset_ += len;
                x->actual = x->offset_;
                h->stats.bytes_in += len;
                if (len < mps || x->offset_ >= x->length) {
                    complete(h, x, 0);
                    return bits + BITS_HOST_IPG;
                }
            }
            if (x->type == 3)
                x->retry_at_ = next_poll;
        } else {
            bits += in_without_data(h, x, t, r, garbled, mps);
            if (r == OTG_WIRE_NAK && x->type == 3)
                x->retry_at_ = next_poll;
        }
        return bits + BITS_HOST_IPG;
    }
    unsigned len = x->length - x->offset_ < mps ? x->length - x->offset_ : mps;
    const uint8_t *d = x->data ? x->data + x->offset_ : NULL;
    enum otg_wire_pid pid = e->toggle ? OTG_PID_DATA1 : OTG_PID_DATA0;
    r = otgfs_wire_out(h->sim, addr, epn, pid, d, len);
    bits = token_bits(PID_OUT, token_field(addr, epn)) + BITS_HOST_IPG + data_bits(pid ? PID_DATA1 : PID_DATA0, d, len);
    h->stats.out_packets++;
    if (r == OTG_WIRE_ACK) {
        bits += BITS_TURNAROUND + BITS_HANDSHAKE;
        x->errors_ = 0;
        e->toggle ^= 1;
        x->offset_ += len;
        x->actual = x->offset_;
        h->stats.bytes_out += len;
        if (x->offset_ >= x->length)
            complete(h, x, 0);
        else if (x->type == 3)
            x->retry_at_ = next_poll;
    } else if (r == OTG_WIRE_NAK) {
        bits += BITS_TURNAROUND + BITS_HANDSHAKE;
        nak(h, x, t);
        if (x->type == 3)
            x->retry_at_ = next_poll;
    } else if (r == OTG_WIRE_STALL) {
        bits += BITS_TURNAROUND + BITS_HANDSHAKE;
        h->stats.stalls++;
        complete(h, x, -EPIPE);
    } else {
        bits += BITS_TIMEOUT;
        strike(h, x, t, "no answer to OUT");
    }
    return bits + BITS_HOST_IPG;
}

/* ------------------------------------------------------------------ the host's clock */

enum host_event { EV_NONE, EV_TIMER, EV_SOF, EV_TRANSACTION };

static uint64_t frame_end_guard(const struct usbhost *h)
{
    return h->frame_start + FRAME_PS - bits_to_ps(BITS_EOF_GUARD);
}

static uint64_t host_next(struct usbhost *h, enum host_event *kind)
{
    uint64_t t = SIM_NEVER;
    *kind = EV_NONE;
    if (h->phase == PH_DEBOUNCE || h->phase == PH_RESET || h->phase == PH_WAIT) {
        t = h->timer;
        *kind = EV_TIMER;
    }
    if (h->sof_running) {
        uint64_t sof = h->frame_start + FRAME_PS;
        if (sof < t) {
            t = sof;
            *kind = EV_SOF;
        }
        if (h->phase == PH_RUN && h->queue) {
            uint64_t earliest;
            uint64_t at = h->bus_free_at;
            struct usbh_xfer *x = pick(h, at, &earliest);
            if (!x && earliest != SIM_NEVER) {
                at = earliest > at ? earliest : at;
                x = pick(h, at, &earliest);
            }
            if (x && at + bits_to_ps(next_transaction_bits(h, x)) <= frame_end_guard(h) && at < t) {
                t = at;
                *kind = EV_TRANSACTION;
            }
        }
    }
    return t;
}

static void host_event(struct usbhost *h, enum host_event kind, uint64_t t)
{
    switch (kind) {
    case EV_TIMER:
        if (h->phase == PH_DEBOUNCE) {
            if (!h->pullup) {
                h->phase = PH_IDLE;
                return;
            }
            begin_reset(h, t);
        } else if (h->phase == PH_RESET) {
            otgfs_wire_reset(h->sim, false);
            h->phase = PH_WAIT;
            h->timer = t + RESET_RECOVERY_PS;
            h->step = E_DEV64;
            h->ep0_mps = 64;
            h->descs_len = 0;
            set_state(h, USBH_ENUMERATING);
            start_frames(h, t);
        } else if (h->phase == PH_WAIT) {
            h->phase = PH_RUN;
            start_enum_step(h, t);
        }
        break;
    case EV_SOF:
        start_frames(h, t);
        /* Timeouts are looked at once a frame. */
        for (struct usbh_xfer *x = h->queue; x;) {
            struct usbh_xfer *next = x->next_;
            if (x->deadline_ <= t) {
                sim_trace(h->sim, SIM_TR_USB, "USB host: transfer on ep 0x%02x timed out", x->ep);
                complete(h, x, -ETIMEDOUT);
            }
            x = next;
        }
        break;
    case EV_TRANSACTION: {
        uint64_t earliest;
        struct usbh_xfer *x = pick(h, t, &earliest);
        if (!x)
            break;
        uint64_t bits = x->type == 0 ? do_control(h, x, t) : do_data(h, x, t);
        h->bus_free_at = t + bits_to_ps(bits);
        break;
    }
    case EV_NONE: break;
    }
}

static uint64_t host_next_event(void *self)
{
    enum host_event k;
    return host_next(self, &k);
}

static void host_advance(void *self, uint64_t now)
{
    struct usbhost *h = self;
    for (unsigned guard = 0; guard < 100000; guard++) {
        enum host_event k;
        uint64_t t = host_next(h, &k);
        if (t > now || k == EV_NONE)
            return;
        host_event(h, k, t);
    }
}

static void host_destroy(void *self)
{
    struct usbhost *h = self;
    fail_all(h, -ENODEV);
    free(h);
}

static const struct otgfs_host_ops host_ops = {
    .next_event = host_next_event,
    .advance = host_advance,
    .pullup_changed = host_pullup_changed,
    .destroy = host_destroy,
};

/* ------------------------------------------------------------------ public API */

struct usbhost *usbhost_attach(sim_t *sim)
{
    struct usbhost *old = usbhost_of(sim);
    if (old)
        return old;
    if (!otgfs_of(sim))
        return NULL;
    struct usbhost *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->sim = sim;
    h->state = USBH_DETACHED;
    h->next_address = 2; /* 1 is the root hub's, as on a Linux bus */
    h->ep0_mps = 64;
    otgfs_connect_host(sim, &host_ops, h);
    usbhost_plug(h, true);
    return h;
}

struct usbhost *usbhost_of(sim_t *sim)
{
    return otgfs_host(sim, &host_ops);
}

void usbhost_plug(struct usbhost *h, bool plugged)
{
    if (plugged == h->plugged)
        return;
    h->plugged = plugged;
    otgfs_wire_vbus(h->sim, plugged);
    if (!plugged) {
        if (h->state != USBH_DETACHED)
            detach(h, "cable unplugged");
        h->phase = PH_IDLE;
        return;
    }
    h->pullup = otgfs_pullup(h->sim);
    if (h->pullup)
        host_pullup_changed(h, true, sim_now(h->sim));
}

enum usbh_state usbhost_state(const struct usbhost *h)
{
    return h->state;
}

const char *usbhost_failure(const struct usbhost *h)
{
    return h->failure[0] ? h->failure : NULL;
}

uint32_t usbhost_generation(const struct usbhost *h)
{
    return h->generation;
}

uint8_t usbhost_address(const struct usbhost *h)
{
    return h->address;
}

const uint8_t *usbhost_descriptors(const struct usbhost *h, size_t *len)
{
    *len = h->state == USBH_CONFIGURED ? h->descs_len : 0;
    return h->descs;
}

void usbhost_set_listener(struct usbhost *h, usbh_listener_fn fn, void *user)
{
    h->listener = fn;
    h->listener_user = user;
}

int usbhost_submit(struct usbhost *h, struct usbh_xfer *xfer)
{
    if (h->state != USBH_CONFIGURED)
        return -ENODEV;
    if (xfer->type != 0 && xfer->type != 2 && xfer->type != 3)
        return -EINVAL;
    if (xfer->type == 0) {
        uint16_t wlength = (uint16_t)(xfer->setup[6] | xfer->setup[7] << 8);
        if (wlength > 0 && !xfer->data)
            return -EINVAL;
    } else if (xfer->length && !xfer->data) {
        return -EINVAL;
    }
    queue_xfer(h, xfer, sim_now(h->sim));
    return 0;
}

void usbhost_cancel(struct usbhost *h, struct usbh_xfer *xfer)
{
    if (queued(h, xfer))
        complete(h, xfer, -ECONNRESET);
}

void usbhost_port_reset(struct usbhost *h)
{
    if (!h->plugged || !h->pullup)
        return;
    fail_all(h, -ECONNRESET);
    h->reset_address = h->state == USBH_CONFIGURED ? h->address : 0;
    begin_reset(h, sim_now(h->sim));
    sim_reschedule(h->sim);
}

/* A synchronous transfer stops the simulation the moment it completes, so the modelled
 * time it took is the bus's and the device's, not the granularity of a run step. */
struct sync_wait {
    bool done, running;
    sim_t *sim;
};

static void sync_done(struct usbh_xfer *x)
{
    struct sync_wait *w = x->user;
    w->done = true;
    if (w->running)
        sim_request_stop(w->sim);
}

int usbhost_control_sync(struct usbhost *h, const uint8_t setup[8], uint8_t *data, uint32_t *actual,
                         uint32_t timeout_ms)
{
    struct sync_wait w = {false, false, h->sim};
    struct usbh_xfer x;
    memset(&x, 0, sizeof x);
    memcpy(x.setup, setup, 8);
    x.ep = (setup[0] & 0x80) ? 0x80 : 0x00;
    x.type = 0;
    x.data = data;
    x.length = (uint32_t)(setup[6] | setup[7] << 8);
    x.timeout_ms = timeout_ms;
    x.done = sync_done;
    x.user = &w;
    int rc = usbhost_submit(h, &x);
    if (rc)
        return rc;
    uint64_t limit = sim_now(h->sim) + (uint64_t)(timeout_ms ? timeout_ms + 2 : 60000) * SIM_PS_PER_MS;
    while (!w.done && sim_now(h->sim) < limit) {
        w.running = true;
        enum sim_stop s = sim_run_until(h->sim, limit);
        w.running = false;
        if (s != SIM_STOP_TIME && s != SIM_STOP_HOST && !w.done)
            break;
    }
    if (!w.done)
        usbhost_cancel(h, &x);
    if (actual)
        *actual = x.actual;
    return x.status;
}

bool usbhost_wait_state(struct usbhost *h, enum usbh_state state, uint32_t timeout_ms)
{
    uint64_t limit = sim_now(h->sim) + (uint64_t)timeout_ms * SIM_PS_PER_MS;
    while (h->state != state && sim_now(h->sim) < limit) {
        enum sim_stop s = sim_run_for(h->sim, SIM_PS_PER_MS);
        if (s != SIM_STOP_TIME && s != SIM_STOP_HOST)
            break;
    }
    return h->state == state;
}

void usbhost_stats(const struct usbhost *h, struct usbh_stats *out)
{
    *out = h->stats;
}
