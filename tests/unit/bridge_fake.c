/* The stand-in core and host for the bridge test; see bridge_fake.h. */
#include "bridge_fake.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- descriptor sets ---- */

static const uint8_t vendor_set[] = {
    /* device: USB 2.0, class per interface, EP0 64, 1209:4c34 bcd 0100, strings 1/2/3, 1 config */
    18, 1, 0x00, 0x02, 0, 0, 0, 64, 0x09, 0x12, 0x34, 0x4c, 0x00, 0x01, 1, 2, 3, 1,
    /* configuration 1: two interfaces, bus powered, 100 mA */
    9, 2, 57, 0, 2, 1, 0, 0x80, 50,
    /* interface 0, alt 0: vendor, three endpoints */
    9, 4, 0, 0, 3, 0xff, 0, 0, 0,
    7, 5, 0x01, 2, 64, 0, 0,  /* bulk OUT */
    7, 5, 0x81, 2, 64, 0, 0,  /* bulk IN */
    7, 5, 0x82, 3, 8, 0, 10,  /* interrupt IN */
    /* interface 1, alt 0 and alt 1: no endpoints */
    9, 4, 1, 0, 0, 0xff, 0, 0, 0,
    9, 4, 1, 1, 0, 0xff, 0, 0, 0,
};

static const uint8_t dfu_set[] = {
    /* device: 0483:df11 bcd 2200, strings 1/2/3, 1 config */
    18, 1, 0x00, 0x02, 0, 0, 0, 64, 0x83, 0x04, 0x11, 0xdf, 0x00, 0x22, 1, 2, 3, 1,
    9, 2, 36, 0, 1, 1, 0, 0xc0, 50,
    /* interface 0, alt 0 and 1: DFU mode (class fe, subclass 01, protocol 02) */
    9, 4, 0, 0, 0, 0xfe, 1, 2, 4,
    9, 4, 0, 1, 0, 0xfe, 1, 2, 5,
    /* DFU functional: can download/upload/manifest-tolerant, 255 ms, 2048 bytes, DfuSe 1.1a */
    9, 0x21, 0x0b, 0xff, 0x00, 0x00, 0x08, 0x1a, 0x01,
};

static const char *const vendor_strings[] = { NULL, "l4dfu tests", "bridge vendor device", "VEND0001" };
static const char *const dfu_strings[] = { NULL, "l4dfu tests", "DFU in FS Mode", "DFU00001",
                                           "@Internal Flash  /0x08000000/256*002Kg",
                                           "@Option Bytes  /0x1FFF7800/01*040 e" };

const uint8_t *fake_descriptors(enum fake_set set, size_t *len)
{
    if (set == FAKE_SET_DFU) {
        *len = sizeof dfu_set;
        return dfu_set;
    }
    *len = sizeof vendor_set;
    return vendor_set;
}

/* ---- the stand-in core ---- */

struct sim {
    uint64_t now;
    bool paced, was_paced, trace_on;
    char *trace;
    size_t trace_len, trace_cap;
    unsigned warnings;
    struct usbhost *host;
};

static void fake_host_tick(struct usbhost *h, uint64_t now);

sim_t *fake_sim_create(void)
{
    return calloc(1, sizeof(struct sim));
}

void fake_sim_destroy(sim_t *sim)
{
    free(sim->trace);
    free(sim);
}

void fake_sim_set_trace(sim_t *sim, bool on)
{
    sim->trace_on = on;
}

const char *fake_sim_trace_text(const sim_t *sim)
{
    return sim->trace ? sim->trace : "";
}

bool fake_sim_was_paced(const sim_t *sim)
{
    return sim->was_paced;
}

bool fake_sim_is_paced(const sim_t *sim)
{
    return sim->paced;
}

unsigned fake_sim_warnings(const sim_t *sim)
{
    return sim->warnings;
}

bool sim_tracing(const sim_t *sim, uint32_t category)
{
    return sim->trace_on && category == SIM_TR_USB;
}

static void append(sim_t *sim, const char *text)
{
    size_t n = strlen(text);
    if (sim->trace_len + n + 1 > sim->trace_cap) {
        sim->trace_cap = (sim->trace_len + n + 1) * 2;
        sim->trace = realloc(sim->trace, sim->trace_cap);
    }
    memcpy(sim->trace + sim->trace_len, text, n + 1);
    sim->trace_len += n;
}

void sim_trace(sim_t *sim, uint32_t category, const char *fmt, ...)
{
    if (!sim_tracing(sim, category))
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    strcat(line, "\n");
    append(sim, line);
    if (getenv("BRIDGE_TEST_VERBOSE"))
        fprintf(stderr, "[%.3f ms] %s", (double)sim->now / (double)SIM_PS_PER_MS, line);
}

void sim_warn(sim_t *sim, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fake sim warning: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    sim->warnings++;
}

uint64_t sim_now(const sim_t *sim)
{
    return sim->now;
}

void sim_set_pacing(sim_t *sim, bool paced)
{
    sim->paced = paced;
    if (paced)
        sim->was_paced = true;
}

const char *sim_stop_message(const sim_t *sim)
{
    (void)sim;
    return "fake";
}

enum sim_stop sim_run_for(sim_t *sim, uint64_t duration_ps)
{
    if (sim->paced) {
        /* the real core sleeps so that virtual time never runs ahead of the wall clock */
        struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)(duration_ps / SIM_PS_PER_NS) };
        nanosleep(&ts, NULL);
    }
    sim->now += duration_ps;
    if (sim->host)
        fake_host_tick(sim->host, sim->now);
    return SIM_STOP_TIME;
}

/* ---- the stand-in host ---- */

struct usbhost {
    sim_t *sim;
    enum usbh_state state;
    uint32_t generation;
    uint8_t address;
    enum fake_set set;
    struct usbh_xfer *queue; /* submitted, oldest first */
    uint8_t stored[4096];
    size_t stored_len;
    uint8_t echo[65536];
    size_t echo_len;
    uint32_t interrupt_count;
    unsigned port_resets, cancels;
    /* scripted detach: drop at detach_at, come back at return_at */
    uint64_t detach_at, return_at;
    enum fake_set return_set;
    uint64_t reset_done_at;
};

struct usbhost *fake_host_create(sim_t *sim, enum fake_set set, uint8_t address)
{
    struct usbhost *h = calloc(1, sizeof *h);
    h->sim = sim;
    sim->host = h;
    h->detach_at = h->return_at = h->reset_done_at = SIM_NEVER;
    fake_host_connect(h, set, address);
    return h;
}

void fake_host_destroy(struct usbhost *h)
{
    h->sim->host = NULL;
    free(h);
}

static void finish(struct usbhost *h, struct usbh_xfer *x, int status)
{
    struct usbh_xfer **p = &h->queue;
    while (*p && *p != x)
        p = &(*p)->next_;
    if (*p)
        *p = x->next_;
    x->status = status;
    x->done(x);
}

static void fail_all(struct usbhost *h, int status)
{
    while (h->queue) {
        struct usbh_xfer *x = h->queue;
        x->actual = 0;
        finish(h, x, status);
    }
}

void fake_host_connect(struct usbhost *h, enum fake_set set, uint8_t address)
{
    h->set = set;
    h->address = address;
    h->state = USBH_CONFIGURED;
    h->generation++;
}

void fake_host_disconnect(struct usbhost *h)
{
    h->state = USBH_DETACHED;
    fail_all(h, -ENODEV);
}

const uint8_t *fake_host_stored(const struct usbhost *h, size_t *len)
{
    *len = h->stored_len;
    return h->stored;
}

unsigned fake_host_port_resets(const struct usbhost *h)
{
    return h->port_resets;
}

unsigned fake_host_cancels(const struct usbhost *h)
{
    return h->cancels;
}

unsigned fake_host_pending(const struct usbhost *h)
{
    unsigned n = 0;
    for (struct usbh_xfer *x = h->queue; x; x = x->next_)
        n++;
    return n;
}

struct usbhost *usbhost_of(sim_t *sim)
{
    return sim->host;
}

enum usbh_state usbhost_state(const struct usbhost *h)
{
    return h->state;
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
    return fake_descriptors(h->set, len);
}

int usbhost_submit(struct usbhost *h, struct usbh_xfer *xfer)
{
    if (h->state != USBH_CONFIGURED)
        return -ENODEV;
    xfer->actual = 0;
    xfer->status = 0;
    xfer->next_ = NULL;
    xfer->deadline_ = h->sim->now + SIM_PS_PER_MS; /* answered in the next frame */
    struct usbh_xfer **p = &h->queue;
    while (*p)
        p = &(*p)->next_;
    *p = xfer;
    return 0;
}

void usbhost_cancel(struct usbhost *h, struct usbh_xfer *xfer)
{
    for (struct usbh_xfer *x = h->queue; x; x = x->next_) {
        if (x == xfer) {
            h->cancels++;
            finish(h, x, -ECONNRESET);
            return;
        }
    }
}

void usbhost_port_reset(struct usbhost *h)
{
    h->port_resets++;
    fail_all(h, -ECONNRESET);
    h->state = USBH_RESETTING;
    h->reset_done_at = h->sim->now + 10 * SIM_PS_PER_MS;
}

/* Returns the transfer status, or 1 to keep it pending (NAK). */
static int string_descriptor(struct usbhost *h, unsigned index, struct usbh_xfer *x)
{
    uint8_t d[256];
    size_t n;
    if (index == 0) {
        d[0] = 4, d[1] = 3, d[2] = 0x09, d[3] = 0x04;
        n = 4;
    } else {
        const char *const *table = h->set == FAKE_SET_DFU ? dfu_strings : vendor_strings;
        size_t count = h->set == FAKE_SET_DFU ? 6 : 4;
        if (index >= count)
            return -EPIPE;
        const char *s = table[index];
        n = 2;
        for (; *s && n + 2 <= 254; s++) {
            d[n++] = (uint8_t)*s;
            d[n++] = 0;
        }
        d[0] = (uint8_t)n, d[1] = 3;
    }
    x->actual = n < x->length ? (uint32_t)n : x->length;
    memcpy(x->data, d, x->actual);
    return 0;
}

static int control(struct usbhost *h, struct usbh_xfer *x)
{
    const uint8_t *s = x->setup;
    unsigned value = s[2] | (unsigned)s[3] << 8, index = s[4] | (unsigned)s[5] << 8;
    size_t len;
    const uint8_t *desc = fake_descriptors(h->set, &len);
    switch ((unsigned)s[0] << 8 | s[1]) {
    case 0x8006: /* GET_DESCRIPTOR */
        if ((value >> 8) == 1 || (value >> 8) == 2) {
            const uint8_t *from = (value >> 8) == 1 ? desc : desc + 18;
            size_t n = (value >> 8) == 1 ? 18 : len - 18;
            x->actual = n < x->length ? (uint32_t)n : x->length;
            memcpy(x->data, from, x->actual);
            return 0;
        }
        if ((value >> 8) == 3)
            return string_descriptor(h, value & 0xff, x);
        return -EPIPE;
    case 0x010b: { /* SET_INTERFACE */
        unsigned alts = 0;
        for (size_t at = 18 + 9; at + 9 <= len; at += desc[at])
            if (desc[at + 1] == 4 && desc[at + 2] == index)
                alts++;
        return alts > 1 ? 0 : -EPIPE;
    }
    case 0x0009: /* SET_CONFIGURATION */
    case 0x0201: /* CLEAR_FEATURE(ENDPOINT_HALT) */
        return 0;
    case 0xc001:
        for (uint32_t i = 0; i < x->length; i++)
            x->data[i] = (uint8_t)(i + value);
        x->actual = x->length;
        return 0;
    case 0x4002:
        h->stored_len = x->length < sizeof h->stored ? x->length : sizeof h->stored;
        memcpy(h->stored, x->data, h->stored_len);
        x->actual = x->length;
        return 0;
    case 0xc003:
        x->actual = h->stored_len < x->length ? (uint32_t)h->stored_len : x->length;
        memcpy(x->data, h->stored, x->actual);
        return 0;
    case 0x4004:
    case 0xc004:
        return -EPIPE;
    case 0x4005:
        h->detach_at = h->sim->now + (uint64_t)value * SIM_PS_PER_MS;
        h->return_at = h->detach_at + 20 * SIM_PS_PER_MS;
        h->return_set = index ? FAKE_SET_DFU : FAKE_SET_VENDOR;
        return 0;
    case 0xc006:
        return 1;
    case 0xa103: /* DFU_GETSTATUS: OK, no poll timeout, dfuIDLE */
        if (x->length >= 6) {
            memset(x->data, 0, 6);
            x->data[4] = 2;
            x->actual = 6;
            return 0;
        }
        return -EPIPE;
    default:
        return -EPIPE;
    }
}

static int transfer(struct usbhost *h, struct usbh_xfer *x)
{
    if (x->type == 0)
        return control(h, x);
    if (x->ep == 0x01) {
        size_t room = sizeof h->echo - h->echo_len;
        if (x->length > room)
            return 1;
        memcpy(h->echo + h->echo_len, x->data, x->length);
        h->echo_len += x->length;
        x->actual = x->length;
        return 0;
    }
    if (x->ep == 0x81) {
        if (h->echo_len == 0)
            return 1;
        uint32_t n = h->echo_len < x->length ? (uint32_t)h->echo_len : x->length;
        memcpy(x->data, h->echo, n);
        memmove(h->echo, h->echo + n, h->echo_len - n);
        h->echo_len -= n;
        x->actual = n;
        return 0;
    }
    if (x->ep == 0x82) {
        h->interrupt_count++;
        uint32_t n = x->length < 4 ? x->length : 4;
        memcpy(x->data, &h->interrupt_count, n);
        x->actual = n;
        return 0;
    }
    return -EPIPE;
}

static void fake_host_tick(struct usbhost *h, uint64_t now)
{
    if (h->reset_done_at <= now) {
        h->reset_done_at = SIM_NEVER;
        fake_host_connect(h, h->set, h->address);
    }
    if (h->detach_at <= now) {
        h->detach_at = SIM_NEVER;
        fake_host_disconnect(h);
    }
    if (h->return_at <= now) {
        h->return_at = SIM_NEVER;
        fake_host_connect(h, h->return_set, (uint8_t)(h->address % 127 + 1));
    }
    if (h->state != USBH_CONFIGURED)
        return;
    struct usbh_xfer *x = h->queue;
    while (x) {
        struct usbh_xfer *next = x->next_;
        if (x->deadline_ <= now) {
            int st = transfer(h, x);
            if (st != 1)
                finish(h, x, st);
        }
        x = next;
    }
}
