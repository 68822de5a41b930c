/* The umockdev bridge between a real libusb client (dfu-util) and the virtual USB host.
 *
 * Two threads meet here:
 *  - umockdev's worker thread runs on_ioctl() for every usbfs ioctl a client issues on
 *    the mocked /dev/bus/usb/001/NNN. It never touches the simulator: it validates the
 *    request against the published descriptors, copies the client's memory, and queues.
 *  - the simulator thread runs usb_bridge_service() and the transfers' done callbacks:
 *    it follows the host (publish / remove the device), hands queued requests to
 *    usbhost_submit(), and files completions where the worker will hand them back.
 * One mutex (bridge->lock) guards everything both threads touch.
 *
 * Each published device (one per enumeration) is a `struct bdev`; a client that opened
 * its node is a `struct bclient`; each URB or internal control request is a `struct rec`.
 * A bdev that went away stays allocated until the bridge stops, because its clients may
 * still hold the node open and keep issuing ioctls (they get ENODEV).
 *
 * Readiness: libusb waits for URB completions with poll(POLLOUT) on the device fd. The
 * mocked node is a FIFO that we keep full (so not writable) while the client has nothing
 * to reap, and drain when it has (see fifo_update). Without that the client busy-polls.
 */
#include "usb_bridge.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include <sys/ioctl.h>
#include <linux/usbdevice_fs.h>

#include <umockdev.h>

extern char **environ;

#define PRELOAD_LIBRARY "libumockdev-preload.so.0"
#define BUS_NUMBER 1u
#define USB_DEVICE_MAJOR 189u
#define SYSFS_NAME "platform/l4sim/usb1/1-1"
/* The kernel's USB_CTRL_SET_TIMEOUT, for the control requests usbfs makes on its own. */
#define KERNEL_CTRL_TIMEOUT_MS 5000u
#define RESET_TIMEOUT_PS (5 * SIM_PS_PER_S)
/* How much virtual time passes between two services while a command runs. With pacing
 * this is also the worst added latency before a queued request reaches the host. */
#define RUN_SLICE_PS (125 * SIM_PS_PER_US) /* a host controller's microframe: a request waits at most this long */
#define MAX_INTERFACES 32u /* usbfs keeps claims in a 32-bit mask */
#define MAX_PENDING_TRACE_LINES 20000u
/* Linux's default usbfs_memory_mb: buffers beyond it are refused with ENOMEM. */
#define USBFS_MEMORY_LIMIT (16u * 1024u * 1024u)

/* usbfs's enum usb_device_speed value for full speed (USBDEVFS_GET_SPEED). */
#define USBFS_SPEED_FULL 2

/* ------------------------------------------------------------------------------------ */

struct usb_bridge;
struct bdev;
struct bclient;

enum rec_kind { REC_URB, REC_CTRL };
enum rec_state { REC_QUEUED, REC_ACTIVE, REC_DONE };
enum ctrl_op { OP_SETINTERFACE, OP_SETCONFIG, OP_CLEARHALT };

struct rec {
    struct usbh_xfer xfer; /* what the host sees; xfer.user points back here */
    enum rec_kind kind;
    enum rec_state state;
    struct bdev *dev;
    struct bclient *cl;
    /* REC_URB: our copies of the client's struct usbdevfs_urb and of its buffer */
    UMockdevIoctlData *urb_data;
    UMockdevIoctlData *buf_data;
    unsigned long urb_addr; /* the URB's address in the client: its name in traces */
    unsigned urb_flags;
    size_t data_offset; /* 8 for control URBs: the setup packet leads the buffer */
    bool dir_in;
    int status; /* usbfs status once done */
    bool orphan; /* its client closed the device: nobody will reap it */
    /* REC_CTRL: the ioctl waiting for this request; REC_URB: a DISCARDURB waiting */
    UMockdevIoctlClient *waiter;
    enum ctrl_op op;
    unsigned op_value, op_index;
};

struct bclient {
    struct bdev *dev;
    UMockdevIoctlClient *client; /* referenced */
    unsigned id;
    GQueue inflight; /* REC_QUEUED and REC_ACTIVE URBs */
    GQueue reapq;    /* REC_DONE URBs, in completion order */
    UMockdevIoctlClient *reaper; /* a blocking REAPURB waiting for a completion */
    UMockdevIoctlData *reaper_ptr;
    bool closed;       /* the client closed its fd (worker saw it) */
    bool close_handled; /* the simulator thread has dropped its claims and transfers */
};

struct bdev {
    struct usb_bridge *bridge;
    unsigned devnum;
    uint32_t generation;
    char devnode[40]; /* /dev/bus/usb/001/NNN */
    char *syspath;
    char *fifo_path;
    int fifo_fd;
    bool fifo_full;
    uint8_t *desc;
    size_t desc_len;
    unsigned active_config;
    struct bclient *claimed_by[MAX_INTERFACES];
    UMockdevIoctlBase *handler;
    GList *clients;
    bool gone;
    char *uevent_props; /* KEY=VALUE lines of the device's uevent, as udev would send them */
};

enum req_kind { RQ_DISCARD, RQ_CTRL, RQ_RESET };

struct req {
    enum req_kind kind;
    struct rec *rec;   /* RQ_DISCARD, RQ_CTRL; NULL once its client has gone */
    struct bclient *cl; /* NULL once its client has gone */
    struct bdev *dev;
    UMockdevIoctlClient *client;
};

struct usb_bridge {
    sim_t *sim;
    struct usbhost *host;
    UMockdevTestbed *testbed;
    char *root_dir;

    pthread_mutex_t lock;
    GQueue submitq; /* REC_QUEUED URBs, oldest first */
    GQueue inbox;   /* struct req */
    struct bdev *cur;
    GList *old_devs;
    struct usb_bridge_stats stats;
    unsigned next_client_id;
    uint32_t failed_generation;
    bool failed_generation_valid;

    struct {
        bool active;
        struct bdev *dev;
        UMockdevIoctlClient *client;
        uint32_t generation;
        uint64_t deadline;
    } reset;

    pthread_mutex_t trace_lock;
    GQueue trace_lines;
    unsigned trace_dropped;
    atomic_bool trace_on;
};

/* ---- trace -------------------------------------------------------------------------- */

static void flush_traces(struct usb_bridge *b)
{
    pthread_mutex_lock(&b->trace_lock);
    GQueue lines = b->trace_lines;
    g_queue_init(&b->trace_lines);
    unsigned dropped = b->trace_dropped;
    b->trace_dropped = 0;
    pthread_mutex_unlock(&b->trace_lock);
    char *line;
    while ((line = g_queue_pop_head(&lines)) != NULL) {
        sim_trace(b->sim, SIM_TR_USB, "%s", line);
        g_free(line);
    }
    if (dropped)
        sim_trace(b->sim, SIM_TR_USB, "bridge: %u trace lines lost (client faster than the trace)", dropped);
}

/* From any thread: the worker's lines wait for the simulator thread, which owns the trace. */
static void btrace(struct usb_bridge *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void btrace(struct usb_bridge *b, const char *fmt, ...)
{
    if (!atomic_load(&b->trace_on))
        return;
    va_list ap;
    va_start(ap, fmt);
    char *line = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&b->trace_lock);
    if (b->trace_lines.length < MAX_PENDING_TRACE_LINES)
        g_queue_push_tail(&b->trace_lines, line);
    else {
        b->trace_dropped++;
        g_free(line);
    }
    pthread_mutex_unlock(&b->trace_lock);
}

static const char *ioctl_name(unsigned long request)
{
    switch (request) {
    case USBDEVFS_CONTROL: return "CONTROL";
    case USBDEVFS_BULK: return "BULK";
    case USBDEVFS_RESETEP: return "RESETEP";
    case USBDEVFS_SETINTERFACE: return "SETINTERFACE";
    case USBDEVFS_SETCONFIGURATION: return "SETCONFIGURATION";
    case USBDEVFS_GETDRIVER: return "GETDRIVER";
    case USBDEVFS_SUBMITURB: return "SUBMITURB";
    case USBDEVFS_DISCARDURB: return "DISCARDURB";
    case USBDEVFS_REAPURB: return "REAPURB";
    case USBDEVFS_REAPURBNDELAY: return "REAPURBNDELAY";
    case USBDEVFS_DISCSIGNAL: return "DISCSIGNAL";
    case USBDEVFS_CLAIMINTERFACE: return "CLAIMINTERFACE";
    case USBDEVFS_RELEASEINTERFACE: return "RELEASEINTERFACE";
    case USBDEVFS_CONNECTINFO: return "CONNECTINFO";
    case USBDEVFS_IOCTL: return "IOCTL";
    case USBDEVFS_HUB_PORTINFO: return "HUB_PORTINFO";
    case USBDEVFS_RESET: return "RESET";
    case USBDEVFS_CLEAR_HALT: return "CLEAR_HALT";
    case USBDEVFS_DISCONNECT: return "DISCONNECT";
    case USBDEVFS_CONNECT: return "CONNECT";
    case USBDEVFS_CLAIM_PORT: return "CLAIM_PORT";
    case USBDEVFS_RELEASE_PORT: return "RELEASE_PORT";
    case USBDEVFS_GET_CAPABILITIES: return "GET_CAPABILITIES";
    case USBDEVFS_DISCONNECT_CLAIM: return "DISCONNECT_CLAIM";
    case USBDEVFS_ALLOC_STREAMS: return "ALLOC_STREAMS";
    case USBDEVFS_FREE_STREAMS: return "FREE_STREAMS";
    case USBDEVFS_DROP_PRIVILEGES: return "DROP_PRIVILEGES";
    case USBDEVFS_GET_SPEED: return "GET_SPEED";
    default: return "?";
    }
}

static const char *errno_name(int e)
{
    switch (e) {
    case 0: return "ok";
    case EAGAIN: return "EAGAIN";
    case ENODEV: return "ENODEV";
    case ENOENT: return "ENOENT";
    case EINVAL: return "EINVAL";
    case EBUSY: return "EBUSY";
    case EPIPE: return "EPIPE";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ENOTTY: return "ENOTTY";
    case ENODATA: return "ENODATA";
    case EFAULT: return "EFAULT";
    case EPROTO: return "EPROTO";
    case EREMOTEIO: return "EREMOTEIO";
    case ECONNRESET: return "ECONNRESET";
    case EIO: return "EIO";
    case ENOMEM: return "ENOMEM";
    default: return "error";
    }
}

static const char *urb_type_name(unsigned type)
{
    switch (type) {
    case USBDEVFS_URB_TYPE_CONTROL: return "control";
    case USBDEVFS_URB_TYPE_BULK: return "bulk";
    case USBDEVFS_URB_TYPE_INTERRUPT: return "interrupt";
    case USBDEVFS_URB_TYPE_ISO: return "isochronous";
    default: return "unknown";
    }
}

/* ---- descriptors -------------------------------------------------------------------- */

/* The configuration descriptor (with everything under it) whose bConfigurationValue is
 * `value`, within the device-then-configurations blob sysfs `descriptors` holds. */
static const uint8_t *find_config(const uint8_t *desc, size_t len, unsigned value, size_t *config_len)
{
    if (value == 0 || len < 18 || desc[0] != 18)
        return NULL;
    size_t at = 18;
    while (at + 9 <= len && desc[at + 1] == 2) {
        size_t total = (size_t)desc[at + 2] | ((size_t)desc[at + 3] << 8);
        if (total < 9 || at + total > len)
            return NULL;
        if (desc[at + 5] == value) {
            *config_len = total;
            return desc + at;
        }
        at += total;
    }
    return NULL;
}

static unsigned first_config_value(const uint8_t *desc, size_t len)
{
    if (len >= 18 + 9 && desc[0] == 18 && desc[19] == 2)
        return desc[18 + 5];
    return 0;
}

/* How many alternate settings interface `ifnum` has, and whether `alt` (if >= 0) is one. */
static unsigned interface_alts(const uint8_t *cfg, size_t len, unsigned ifnum, int alt, bool *alt_found)
{
    unsigned alts = 0;
    if (alt_found)
        *alt_found = false;
    for (size_t at = cfg[0]; at + 2 <= len && cfg[at] >= 2; at += cfg[at]) {
        if (cfg[at + 1] == 4 && cfg[at] >= 9 && at + 9 <= len && cfg[at + 2] == ifnum) {
            alts++;
            if (alt_found && alt >= 0 && cfg[at + 3] == (unsigned)alt)
                *alt_found = true;
        }
    }
    return alts;
}

/* Finds endpoint `ep` in any alternate setting; gives its transfer type and interface. */
static bool find_endpoint(const uint8_t *cfg, size_t len, unsigned ep, unsigned *type, unsigned *ifnum)
{
    int cur_if = -1;
    for (size_t at = cfg[0]; at + 2 <= len && cfg[at] >= 2; at += cfg[at]) {
        if (cfg[at + 1] == 4 && cfg[at] >= 9 && at + 9 <= len)
            cur_if = cfg[at + 2];
        else if (cfg[at + 1] == 5 && cfg[at] >= 7 && at + 7 <= len && cfg[at + 2] == ep && cur_if >= 0) {
            *type = cfg[at + 3] & 3u;
            *ifnum = (unsigned)cur_if;
            return true;
        }
    }
    return false;
}

static const uint8_t *active_config(struct bdev *d, size_t *len)
{
    return find_config(d->desc, d->desc_len, d->active_config, len);
}

/* ---- FIFO readiness ----------------------------------------------------------------- */

static void fifo_fill(struct bdev *d)
{
    static const uint8_t filler[4096];
    if (d->fifo_fd < 0)
        return;
    while (write(d->fifo_fd, filler, sizeof filler) > 0) {
    }
    /* a partly filled last page still leaves room for small writes: top it up */
    while (write(d->fifo_fd, filler, 1) > 0) {
    }
    d->fifo_full = true;
}

static void fifo_drain(struct bdev *d)
{
    uint8_t sink[4096];
    if (d->fifo_fd < 0)
        return;
    while (read(d->fifo_fd, sink, sizeof sink) > 0) {
    }
    d->fifo_full = false;
}

/* Lock held. Writable (POLLOUT for the client) exactly while one of its clients has
 * something to reap. */
static void fifo_update(struct bdev *d)
{
    bool reapable = false;
    for (GList *l = d->clients; l && !reapable; l = l->next) {
        struct bclient *cl = l->data;
        reapable = cl->reapq.length > 0;
    }
    if (reapable && d->fifo_full)
        fifo_drain(d);
    else if (!reapable && !d->fifo_full)
        fifo_fill(d);
}

/* Lock held. A device that went away keeps its bdev (a client may still hold the node
 * open and will get ENODEV), but once nobody has it open its FIFO is closed, so repeated
 * re-enumerations in a long run do not pile up descriptors. */
static void retire_if_unused(struct bdev *d)
{
    if (d->gone && !d->clients && d->fifo_fd >= 0) {
        close(d->fifo_fd);
        d->fifo_fd = -1;
    }
}

/* ---- records ------------------------------------------------------------------------ */

static void rec_free(struct rec *r)
{
    if (r->urb_data)
        g_object_unref(r->urb_data);
    if (r->buf_data)
        g_object_unref(r->buf_data);
    g_free(r->xfer.data);
    g_free(r);
}

static void client_free(struct usb_bridge *b, struct bclient *cl)
{
    (void)b;
    struct rec *r;
    while ((r = g_queue_pop_head(&cl->reapq)) != NULL)
        rec_free(r);
    if (cl->reaper_ptr)
        g_object_unref(cl->reaper_ptr);
    g_object_unref(cl->client);
    g_free(cl);
}

/* Lock held. Fills the client's URB (status, length, IN data) and points the reap
 * ioctl's result at it; the caller completes the ioctl. */
static void hand_back(struct rec *r, UMockdevIoctlData *ptr)
{
    struct usbdevfs_urb *urb = (struct usbdevfs_urb *)r->urb_data->data;
    urb->status = r->status;
    urb->actual_length = (int)r->xfer.actual;
    if (r->dir_in && r->buf_data && r->xfer.actual)
        memcpy(r->buf_data->data + r->data_offset, r->xfer.data, r->xfer.actual);
    umockdev_ioctl_data_set_ptr(ptr, 0, r->urb_data);
}

/* Lock held; simulator thread or worker. A URB has finished (or was cancelled before it
 * reached the host): file it for reaping. Returns a client to answer 0 (a waiting
 * DISCARDURB), which the caller completes after unlocking. */
static UMockdevIoctlClient *file_done(struct usb_bridge *b, struct rec *r, UMockdevIoctlClient **reaper_done)
{
    struct bclient *cl = r->cl;
    g_queue_remove(&cl->inflight, r);
    r->state = REC_DONE;
    UMockdevIoctlClient *discarder = r->waiter;
    r->waiter = NULL;
    btrace(b, "bridge: client %u URB 0x%lx done: status %d (%s), %u of %u bytes", cl->id, r->urb_addr, r->status,
           errno_name(-r->status), r->xfer.actual, r->xfer.length);
    if (r->orphan || cl->closed) {
        rec_free(r);
        return discarder;
    }
    if (cl->reaper) {
        hand_back(r, cl->reaper_ptr);
        b->stats.urbs_reaped++;
        g_object_unref(cl->reaper_ptr);
        cl->reaper_ptr = NULL;
        *reaper_done = cl->reaper;
        cl->reaper = NULL;
        rec_free(r);
    } else {
        g_queue_push_tail(&cl->reapq, r);
    }
    fifo_update(cl->dev);
    return discarder;
}

static int usbfs_status(const struct rec *r)
{
    int st = r->xfer.status;
    if (st == -ECONNRESET)
        return r->dev->gone ? -ENODEV : -ENOENT; /* usbfs reports a killed URB as -ENOENT */
    if (st == 0 && r->dir_in && (r->urb_flags & USBDEVFS_URB_SHORT_NOT_OK) && r->xfer.actual < r->xfer.length)
        return -EREMOTEIO;
    return st;
}

static int ctrl_errno(int st)
{
    switch (st) {
    case 0: return 0;
    case -EPIPE: return EPIPE;
    case -ETIMEDOUT: return ETIMEDOUT;
    case -ENODEV:
    case -ECONNRESET: return ENODEV;
    case -EPROTO: return EPROTO;
    default: return EIO;
    }
}

static void complete_ctrl(struct usb_bridge *b, struct rec *r, int st);

/* Simulator thread: the host finished a transfer. */
static void on_xfer_done(struct usbh_xfer *x)
{
    struct rec *r = x->user;
    struct usb_bridge *b = r->dev->bridge;
    if (x->actual > x->length)
        x->actual = x->length;
    if (r->kind == REC_CTRL) {
        complete_ctrl(b, r, x->status);
        return;
    }
    UMockdevIoctlClient *reaper = NULL;
    pthread_mutex_lock(&b->lock);
    r->status = usbfs_status(r);
    struct bclient *cl = r->cl;
    unsigned long urb_addr = r->urb_addr; /* file_done may free r */
    unsigned client_id = cl->id;
    UMockdevIoctlClient *discarder = file_done(b, r, &reaper);
    bool free_client = cl->close_handled && cl->inflight.length == 0;
    if (free_client) {
        cl->dev->clients = g_list_remove(cl->dev->clients, cl);
        retire_if_unused(cl->dev);
    }
    pthread_mutex_unlock(&b->lock);
    if (reaper) {
        btrace(b, "bridge: client %u REAPURB -> URB 0x%lx", client_id, urb_addr);
        umockdev_ioctl_client_complete(reaper, 0, 0);
    }
    if (discarder) {
        btrace(b, "bridge: client %u DISCARDURB 0x%lx -> 0", client_id, urb_addr);
        umockdev_ioctl_client_complete(discarder, 0, 0);
        g_object_unref(discarder);
    }
    if (free_client)
        client_free(b, cl);
}

static void complete_ctrl(struct usb_bridge *b, struct rec *r, int st)
{
    struct bdev *d = r->dev;
    const char *what = r->op == OP_SETINTERFACE ? "SETINTERFACE" : r->op == OP_SETCONFIG ? "SETCONFIGURATION" : "CLEAR_HALT";
    if (r->op == OP_SETINTERFACE && st == -EPIPE) {
        /* Like Linux: a device with a single alternate setting may stall SET_INTERFACE. */
        size_t clen;
        const uint8_t *cfg = active_config(d, &clen);
        if (cfg && interface_alts(cfg, clen, r->op_index, -1, NULL) == 1)
            st = 0;
    }
    int err = ctrl_errno(st);
    if (err == 0 && r->op == OP_SETCONFIG) {
        pthread_mutex_lock(&b->lock);
        d->active_config = r->op_value;
        pthread_mutex_unlock(&b->lock);
        char value[16];
        snprintf(value, sizeof value, "%u\n", r->op_value);
        if (!d->gone)
            umockdev_testbed_set_attribute(b->testbed, d->syspath, "bConfigurationValue", value);
    }
    flush_traces(b);
    sim_trace(b->sim, SIM_TR_USB, "bridge: %s (%u, %u) -> %s (transfer status %d)", what, r->op_index, r->op_value,
              errno_name(err), st);
    umockdev_ioctl_client_complete(r->waiter, err ? -1 : 0, err);
    g_object_unref(r->waiter);
    r->waiter = NULL;
    rec_free(r);
}

/* ---- the worker thread: ioctls -------------------------------------------------------- */

/* The umockdev client object knows when the fd's socket closed; its "connected"
 * property changes without a notification in umockdev 0.17, so we ask. */
static bool client_alive(const struct bclient *cl)
{
    return !cl->closed && umockdev_ioctl_client_get_connected(cl->client);
}

/* Lock held. */
static struct bclient *client_of(struct bdev *d, UMockdevIoctlClient *c)
{
    for (GList *l = d->clients; l; l = l->next) {
        struct bclient *cl = l->data;
        if (cl->client == c && !cl->closed)
            return cl;
    }
    struct bclient *cl = g_new0(struct bclient, 1);
    cl->dev = d;
    cl->client = g_object_ref(c);
    cl->id = ++d->bridge->next_client_id;
    g_queue_init(&cl->inflight);
    g_queue_init(&cl->reapq);
    d->clients = g_list_append(d->clients, cl);
    return cl;
}

static UMockdevIoctlData *resolve_arg(UMockdevIoctlClient *c, size_t len)
{
    GError *error = NULL;
    UMockdevIoctlData *data = umockdev_ioctl_data_resolve(umockdev_ioctl_client_get_arg(c), 0, len, &error);
    if (error)
        g_error_free(error);
    return data;
}

static unsigned long raw_arg(UMockdevIoctlClient *c)
{
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(c);
    unsigned long value = 0;
    if (arg->data_len >= (int)sizeof value)
        memcpy(&value, arg->data, sizeof value);
    return value;
}

struct ioctl_ctx {
    struct usb_bridge *b;
    struct bdev *d;
    struct bclient *cl;
    UMockdevIoctlClient *c;
    unsigned long request;
};

static gboolean answer(struct ioctl_ctx *x, long result, int err)
{
    btrace(x->b, "bridge: client %u %s -> %ld%s%s", x->cl->id, ioctl_name(x->request), result, err ? " " : "",
           err ? errno_name(err) : "");
    umockdev_ioctl_client_complete(x->c, result, err);
    return TRUE;
}

static gboolean fail(struct ioctl_ctx *x, int err)
{
    return answer(x, -1, err);
}

/* Reads the unsigned int an ioctl argument points to. */
static bool read_uint_arg(struct ioctl_ctx *x, unsigned *value)
{
    UMockdevIoctlData *data = resolve_arg(x->c, sizeof(unsigned));
    if (!data)
        return false;
    memcpy(value, data->data, sizeof *value);
    g_object_unref(data);
    return true;
}

static void post(struct usb_bridge *b, enum req_kind kind, struct rec *r, struct bclient *cl, UMockdevIoctlClient *c)
{
    struct req *q = g_new0(struct req, 1);
    q->kind = kind;
    q->rec = r;
    q->cl = cl;
    q->dev = cl->dev;
    q->client = c ? g_object_ref(c) : NULL;
    g_queue_push_tail(&b->inbox, q);
}

/* Lock held: the interface is claimed for this client, as usbfs does implicitly before
 * it touches an interface. Returns 0 or an errno. */
static int claim(struct ioctl_ctx *x, unsigned ifnum)
{
    size_t clen;
    const uint8_t *cfg = active_config(x->d, &clen);
    if (ifnum >= MAX_INTERFACES)
        return EINVAL;
    if (x->d->claimed_by[ifnum] == x->cl)
        return 0;
    if (!cfg || interface_alts(cfg, clen, ifnum, -1, NULL) == 0)
        return ENOENT;
    if (x->d->claimed_by[ifnum] && client_alive(x->d->claimed_by[ifnum]))
        return EBUSY;
    x->d->claimed_by[ifnum] = x->cl;
    return 0;
}

static struct rec *new_ctrl(struct ioctl_ctx *x, enum ctrl_op op, unsigned value, unsigned index)
{
    struct rec *r = g_new0(struct rec, 1);
    r->kind = REC_CTRL;
    r->dev = x->d;
    r->cl = x->cl;
    r->op = op;
    r->op_value = value;
    r->op_index = index;
    r->waiter = g_object_ref(x->c);
    uint8_t *s = r->xfer.setup;
    switch (op) {
    case OP_SETINTERFACE: s[0] = 0x01; s[1] = 11; break;   /* SET_INTERFACE, to an interface */
    case OP_SETCONFIG: s[0] = 0x00; s[1] = 9; break;       /* SET_CONFIGURATION, to the device */
    case OP_CLEARHALT: s[0] = 0x02; s[1] = 1; break;       /* CLEAR_FEATURE, to an endpoint */
    }
    s[2] = (uint8_t)value;
    s[3] = (uint8_t)(value >> 8);
    s[4] = (uint8_t)index;
    s[5] = (uint8_t)(index >> 8);
    r->xfer.ep = 0;
    r->xfer.type = 0;
    r->xfer.timeout_ms = KERNEL_CTRL_TIMEOUT_MS;
    r->xfer.done = on_xfer_done;
    r->xfer.user = r;
    return r;
}

static gboolean do_submiturb(struct ioctl_ctx *x)
{
    UMockdevIoctlData *urb_data = resolve_arg(x->c, sizeof(struct usbdevfs_urb));
    if (!urb_data)
        return fail(x, EFAULT);
    struct usbdevfs_urb *urb = (struct usbdevfs_urb *)urb_data->data;
    unsigned long urb_addr = urb_data->client_addr;
    const unsigned urb_type = urb->type, urb_ep = urb->endpoint;
    uint8_t setup[8] = { 0 };
    uint32_t length = 0;
    bool dir_in = false;
    int err = 0;
    UMockdevIoctlData *buf_data = NULL;
    struct rec *r = NULL;

    if (urb->buffer_length < 0) {
        err = EINVAL;
        goto out;
    }
    if ((size_t)urb->buffer_length > USBFS_MEMORY_LIMIT) {
        err = ENOMEM;
        goto out;
    }
    if (urb->buffer_length > 0) {
        if (!urb->buffer) {
            err = EFAULT;
            goto out;
        }
        GError *error = NULL;
        buf_data = umockdev_ioctl_data_resolve(urb_data, offsetof(struct usbdevfs_urb, buffer),
                                               (size_t)urb->buffer_length, &error);
        if (error)
            g_error_free(error);
        if (!buf_data) {
            err = EFAULT;
            goto out;
        }
    }

    r = g_new0(struct rec, 1);
    r->kind = REC_URB;
    r->dev = x->d;
    r->cl = x->cl;
    r->urb_addr = urb_addr;
    r->urb_flags = urb->flags;
    r->xfer.done = on_xfer_done;
    r->xfer.user = r;

    pthread_mutex_lock(&x->b->lock);
    switch (urb->type) {
    case USBDEVFS_URB_TYPE_CONTROL: {
        if (urb->buffer_length < 8) {
            err = EINVAL;
            break;
        }
        const uint8_t *setup = buf_data->data;
        unsigned wlength = setup[6] | (unsigned)setup[7] << 8;
        if (wlength + 8u > (unsigned)urb->buffer_length) {
            err = EINVAL;
            break;
        }
        memcpy(r->xfer.setup, setup, 8);
        r->dir_in = (setup[0] & 0x80) != 0;
        r->xfer.ep = r->dir_in ? 0x80 : 0x00;
        r->xfer.type = 0;
        r->xfer.length = wlength;
        r->data_offset = 8;
        break;
    }
    case USBDEVFS_URB_TYPE_BULK:
    case USBDEVFS_URB_TYPE_INTERRUPT: {
        size_t clen;
        const uint8_t *cfg = active_config(x->d, &clen);
        unsigned type, ifnum;
        if (!cfg || !find_endpoint(cfg, clen, urb->endpoint, &type, &ifnum)) {
            err = ENOENT;
            break;
        }
        if (type != 2 && type != 3) {
            err = EINVAL;
            break;
        }
        err = claim(x, ifnum);
        if (err)
            break;
        r->dir_in = (urb->endpoint & 0x80) != 0;
        r->xfer.ep = urb->endpoint;
        r->xfer.type = (uint8_t)type; /* usbfs lets a bulk URB go to an interrupt endpoint */
        r->xfer.length = (uint32_t)urb->buffer_length;
        break;
    }
    case USBDEVFS_URB_TYPE_ISO:
        btrace(x->b, "bridge: isochronous URBs are not supported by the virtual host");
        err = EINVAL;
        break;
    default:
        err = EINVAL;
        break;
    }
    if (!err) {
        r->urb_data = g_object_ref(urb_data);
        r->buf_data = buf_data ? g_object_ref(buf_data) : NULL;
        r->xfer.data = g_malloc0(r->xfer.length ? r->xfer.length : 1);
        if (!r->dir_in && r->xfer.length)
            memcpy(r->xfer.data, buf_data->data + r->data_offset, r->xfer.length);
        r->state = REC_QUEUED;
        memcpy(setup, r->xfer.setup, sizeof setup);
        length = r->xfer.length;
        dir_in = r->dir_in;
        g_queue_push_tail(&x->cl->inflight, r);
        g_queue_push_tail(&x->b->submitq, r);
        x->b->stats.urbs_submitted++;
    }
    pthread_mutex_unlock(&x->b->lock);

    if (!err) {
        const uint8_t *s = setup;
        if (urb_type == USBDEVFS_URB_TYPE_CONTROL)
            btrace(x->b,
                   "bridge: client %u SUBMITURB 0x%lx control setup %02x %02x %02x%02x %02x%02x %02x%02x, %u bytes %s",
                   x->cl->id, urb_addr, s[0], s[1], s[3], s[2], s[5], s[4], s[7], s[6], length, dir_in ? "in" : "out");
        else
            btrace(x->b, "bridge: client %u SUBMITURB 0x%lx %s ep 0x%02x, %u bytes%s", x->cl->id, urb_addr,
                   urb_type_name(urb_type), urb_ep, length,
                   (urb->flags & USBDEVFS_URB_ZERO_PACKET) ? " (zero-packet flag not forwarded)" : "");
        r = NULL;
    }
out:
    if (r)
        g_free(r);
    if (buf_data)
        g_object_unref(buf_data);
    g_object_unref(urb_data);
    if (err) {
        btrace(x->b, "bridge: client %u SUBMITURB 0x%lx %s ep 0x%02x refused", x->cl->id, urb_addr,
               urb_type_name(urb_type), urb_ep);
        return fail(x, err);
    }
    return answer(x, 0, 0);
}

static gboolean do_reap(struct ioctl_ctx *x, bool block)
{
    UMockdevIoctlData *ptr = resolve_arg(x->c, sizeof(void *));
    if (!ptr)
        return fail(x, EFAULT);
    pthread_mutex_lock(&x->b->lock);
    struct rec *r = g_queue_pop_head(&x->cl->reapq);
    if (!r) {
        int err = x->d->gone ? ENODEV : EAGAIN;
        if (block && !x->d->gone && !x->cl->reaper) {
            x->cl->reaper = x->c;
            x->cl->reaper_ptr = ptr;
            pthread_mutex_unlock(&x->b->lock);
            return TRUE; /* answered when a URB completes */
        }
        if (err == EAGAIN)
            x->b->stats.reap_empty++;
        fifo_update(x->d);
        pthread_mutex_unlock(&x->b->lock);
        g_object_unref(ptr);
        return fail(x, err);
    }
    hand_back(r, ptr);
    x->b->stats.urbs_reaped++;
    fifo_update(x->d);
    pthread_mutex_unlock(&x->b->lock);
    btrace(x->b, "bridge: client %u %s -> URB 0x%lx status %d, %u bytes", x->cl->id, ioctl_name(x->request),
           r->urb_addr, r->status, r->xfer.actual);
    umockdev_ioctl_client_complete(x->c, 0, 0);
    g_object_unref(ptr);
    rec_free(r);
    return TRUE;
}

static gboolean do_discardurb(struct ioctl_ctx *x)
{
    unsigned long addr = raw_arg(x->c);
    UMockdevIoctlClient *reaper = NULL;
    pthread_mutex_lock(&x->b->lock);
    struct rec *found = NULL;
    for (GList *l = x->cl->inflight.head; l; l = l->next) {
        struct rec *r = l->data;
        if (r->urb_addr == addr) {
            found = r;
            break;
        }
    }
    if (!found) {
        pthread_mutex_unlock(&x->b->lock);
        return fail(x, EINVAL); /* already completed, or never submitted */
    }
    x->b->stats.discards++;
    if (found->state == REC_QUEUED) {
        g_queue_remove(&x->b->submitq, found);
        found->status = -ENOENT;
        file_done(x->b, found, &reaper);
        pthread_mutex_unlock(&x->b->lock);
        if (reaper)
            umockdev_ioctl_client_complete(reaper, 0, 0);
        return answer(x, 0, 0);
    }
    post(x->b, RQ_DISCARD, found, x->cl, x->c);
    pthread_mutex_unlock(&x->b->lock);
    btrace(x->b, "bridge: client %u DISCARDURB 0x%lx: cancelling on the host", x->cl->id, addr);
    return TRUE; /* answered once the host has let go of it */
}

static gboolean do_claim_release(struct ioctl_ctx *x, bool release)
{
    unsigned ifnum;
    if (!read_uint_arg(x, &ifnum))
        return fail(x, EFAULT);
    pthread_mutex_lock(&x->b->lock);
    int err;
    if (!release) {
        err = claim(x, ifnum);
    } else {
        size_t clen;
        const uint8_t *cfg = active_config(x->d, &clen);
        if (ifnum >= MAX_INTERFACES)
            err = EINVAL;
        else if (!cfg || interface_alts(cfg, clen, ifnum, -1, NULL) == 0)
            err = ENOENT;
        else if (x->d->claimed_by[ifnum] != x->cl)
            err = EINVAL;
        else {
            x->d->claimed_by[ifnum] = NULL;
            err = 0;
        }
    }
    pthread_mutex_unlock(&x->b->lock);
    btrace(x->b, "bridge: client %u %s interface %u", x->cl->id, release ? "releases" : "claims", ifnum);
    return err ? fail(x, err) : answer(x, 0, 0);
}

static gboolean do_setinterface(struct ioctl_ctx *x)
{
    UMockdevIoctlData *data = resolve_arg(x->c, sizeof(struct usbdevfs_setinterface));
    if (!data)
        return fail(x, EFAULT);
    struct usbdevfs_setinterface si;
    memcpy(&si, data->data, sizeof si);
    g_object_unref(data);
    pthread_mutex_lock(&x->b->lock);
    int err = claim(x, si.interface);
    if (!err) {
        size_t clen;
        bool alt_found;
        const uint8_t *cfg = active_config(x->d, &clen);
        interface_alts(cfg, clen, si.interface, (int)si.altsetting, &alt_found);
        if (!alt_found)
            err = EINVAL;
    }
    if (!err)
        post(x->b, RQ_CTRL, new_ctrl(x, OP_SETINTERFACE, si.altsetting, si.interface), x->cl, NULL);
    pthread_mutex_unlock(&x->b->lock);
    if (err)
        return fail(x, err);
    btrace(x->b, "bridge: client %u SETINTERFACE %u alt %u: queued", x->cl->id, si.interface, si.altsetting);
    return TRUE;
}

static gboolean do_setconfiguration(struct ioctl_ctx *x)
{
    unsigned value;
    if (!read_uint_arg(x, &value))
        return fail(x, EFAULT);
    if ((int)value == -1)
        value = 0; /* -1 asks for the unconfigured state */
    pthread_mutex_lock(&x->b->lock);
    int err = 0;
    for (unsigned i = 0; i < MAX_INTERFACES; i++)
        if (x->d->claimed_by[i] && client_alive(x->d->claimed_by[i]))
            err = EBUSY; /* Linux refuses while any interface is claimed */
    size_t clen;
    if (!err && value != 0 && !find_config(x->d->desc, x->d->desc_len, value, &clen))
        err = EINVAL;
    if (!err)
        post(x->b, RQ_CTRL, new_ctrl(x, OP_SETCONFIG, value, 0), x->cl, NULL);
    pthread_mutex_unlock(&x->b->lock);
    if (err)
        return fail(x, err);
    return TRUE;
}

/* CLEAR_HALT (sends CLEAR_FEATURE) and RESETEP (host-side toggle only). */
static gboolean do_endpoint(struct ioctl_ctx *x, bool clear_halt)
{
    unsigned ep;
    if (!read_uint_arg(x, &ep))
        return fail(x, EFAULT);
    pthread_mutex_lock(&x->b->lock);
    size_t clen;
    unsigned type, ifnum;
    const uint8_t *cfg = active_config(x->d, &clen);
    int err = (!cfg || !find_endpoint(cfg, clen, ep, &type, &ifnum)) ? ENOENT : claim(x, ifnum);
    if (!err && clear_halt)
        post(x->b, RQ_CTRL, new_ctrl(x, OP_CLEARHALT, 0 /* ENDPOINT_HALT */, ep), x->cl, NULL);
    pthread_mutex_unlock(&x->b->lock);
    if (err)
        return fail(x, err);
    if (clear_halt)
        return TRUE;
    btrace(x->b, "bridge: RESETEP 0x%02x: the virtual host keeps no toggle to reset", ep);
    return answer(x, 0, 0);
}

static gboolean on_ioctl(UMockdevIoctlBase *handler, UMockdevIoctlClient *c, gpointer user)
{
    (void)handler;
    struct bdev *d = user;
    struct usb_bridge *b = d->bridge;
    struct ioctl_ctx x = { .b = b, .d = d, .c = c, .request = umockdev_ioctl_client_get_request(c) };

    pthread_mutex_lock(&b->lock);
    x.cl = client_of(d, c);
    b->stats.ioctls++;
    bool gone = d->gone;
    pthread_mutex_unlock(&b->lock);

    if (x.request == USBDEVFS_REAPURBNDELAY || x.request == USBDEVFS_REAPURB)
        return do_reap(&x, x.request == USBDEVFS_REAPURB);
    if (gone)
        return fail(&x, ENODEV); /* usbfs: everything but reaping fails once unplugged */

    switch (x.request) {
    case USBDEVFS_GET_CAPABILITIES: {
        UMockdevIoctlData *data = resolve_arg(c, sizeof(uint32_t));
        if (!data)
            return fail(&x, EFAULT);
        /* One URB per transfer of any size; no zero-length-packet flag, no scatter-gather:
         * the virtual host has no way to honour them. */
        uint32_t caps = USBDEVFS_CAP_NO_PACKET_SIZE_LIM | USBDEVFS_CAP_REAP_AFTER_DISCONNECT;
        memcpy(data->data, &caps, sizeof caps);
        g_object_unref(data);
        return answer(&x, 0, 0);
    }
    case USBDEVFS_GET_SPEED:
        return answer(&x, USBFS_SPEED_FULL, 0);
    case USBDEVFS_CONNECTINFO: {
        UMockdevIoctlData *data = resolve_arg(c, sizeof(struct usbdevfs_connectinfo));
        if (!data)
            return fail(&x, EFAULT);
        struct usbdevfs_connectinfo ci;
        memset(&ci, 0, sizeof ci);
        ci.devnum = d->devnum;
        ci.slow = 0;
        memcpy(data->data, &ci, sizeof ci);
        g_object_unref(data);
        return answer(&x, 0, 0);
    }
    case USBDEVFS_CLAIMINTERFACE:
        return do_claim_release(&x, false);
    case USBDEVFS_RELEASEINTERFACE:
        return do_claim_release(&x, true);
    case USBDEVFS_SETINTERFACE:
        return do_setinterface(&x);
    case USBDEVFS_SETCONFIGURATION:
        return do_setconfiguration(&x);
    case USBDEVFS_SUBMITURB:
        return do_submiturb(&x);
    case USBDEVFS_DISCARDURB:
        return do_discardurb(&x);
    case USBDEVFS_CLEAR_HALT:
        return do_endpoint(&x, true);
    case USBDEVFS_RESETEP:
        return do_endpoint(&x, false);
    case USBDEVFS_RESET:
        pthread_mutex_lock(&b->lock);
        post(b, RQ_RESET, NULL, x.cl, c);
        pthread_mutex_unlock(&b->lock);
        btrace(b, "bridge: client %u RESET: port reset queued", x.cl->id);
        return TRUE;
    case USBDEVFS_GETDRIVER:
    case USBDEVFS_IOCTL:
        return fail(&x, ENODATA); /* no kernel driver is bound to anything here */
    default:
        pthread_mutex_lock(&b->lock);
        b->stats.unknown_ioctls++;
        pthread_mutex_unlock(&b->lock);
        btrace(b, "bridge: client %u ioctl 0x%08lx (%s, type '%c' nr %lu) is not emulated", x.cl->id, x.request,
               ioctl_name(x.request), (int)((x.request >> _IOC_TYPESHIFT) & 0xff),
               (x.request >> _IOC_NRSHIFT) & 0xff);
        return fail(&x, ENOTTY);
    }
}

/* ---- the simulator thread: publishing ------------------------------------------------- */

/* udev's 32-bit MurmurHash2 of a string: libudev subscribers may filter on it. */
static uint32_t udev_string_hash(const char *text)
{
    const uint32_t mix = 0x5bd1e995u;
    size_t len = strlen(text);
    uint32_t hash = (uint32_t)len;
    const unsigned char *p = (const unsigned char *)text;
    for (; len >= 4; len -= 4, p += 4) {
        uint32_t k = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        k *= mix;
        k ^= k >> 24;
        k *= mix;
        hash = hash * mix ^ k;
    }
    if (len) {
        for (size_t i = len; i-- > 0;)
            hash ^= (uint32_t)p[i] << (8 * i);
        hash *= mix;
    }
    hash ^= hash >> 13;
    hash *= mix;
    hash ^= hash >> 15;
    return hash;
}

/* The header libudev puts in front of the device properties it multicasts. */
struct udev_message_header {
    char prefix[8]; /* "libudev" */
    uint32_t magic; /* 0xfeedcafe, network order */
    uint32_t header_size;
    uint32_t properties_off;
    uint32_t properties_len;
    uint32_t subsystem_hash; /* network order */
    uint32_t devtype_hash;   /* network order */
    uint32_t tag_bloom_hi;
    uint32_t tag_bloom_lo;
};

/* umockdev_testbed_uevent() needs the sender itself to run under the preload library
 * (it looks the device up with libudev in the real /sys), which the simulator does not.
 * So we speak to the clients' monitors directly: the preload library turns each udev
 * netlink socket a client opens into a datagram socket $UMOCKDEV_DIR/eventN. */
static void send_uevent(struct usb_bridge *b, struct bdev *d, const char *action)
{
    static unsigned long long seqnum;
    GString *props = g_string_new(NULL);
    g_string_append_printf(props, "ACTION=%s", action);
    g_string_append_c(props, '\0');
    g_string_append_printf(props, "DEVPATH=%s", d->syspath + strlen("/sys"));
    g_string_append_c(props, '\0');
    g_string_append(props, "SUBSYSTEM=usb");
    g_string_append_c(props, '\0');
    g_string_append_printf(props, "SEQNUM=%llu", ++seqnum);
    g_string_append_c(props, '\0');
    for (const char *line = d->uevent_props; *line;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        g_string_append_len(props, line, (gssize)n);
        g_string_append_c(props, '\0');
        line += n + (end ? 1 : 0);
    }
    struct udev_message_header header;
    memset(&header, 0, sizeof header);
    memcpy(header.prefix, "libudev", 8);
    header.magic = htonl(0xfeedcafeu);
    header.header_size = sizeof header;
    header.properties_off = sizeof header;
    header.properties_len = (uint32_t)props->len;
    header.subsystem_hash = htonl(udev_string_hash("usb"));
    header.devtype_hash = htonl(udev_string_hash("usb_device"));
    struct iovec iov[2] = { { &header, sizeof header }, { props->str, props->len } };

    char *pattern = g_strdup_printf("%s/event[0-9]*", b->root_dir);
    glob_t found;
    unsigned delivered = 0;
    if (glob(pattern, GLOB_NOSORT, NULL, &found) == 0) {
        for (size_t i = 0; i < found.gl_pathc; i++) {
            struct sockaddr_un addr = { .sun_family = AF_UNIX };
            if (strlen(found.gl_pathv[i]) >= sizeof addr.sun_path)
                continue;
            strcpy(addr.sun_path, found.gl_pathv[i]);
            int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
            if (fd < 0)
                continue;
            if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
                if (errno == ECONNREFUSED)
                    unlink(addr.sun_path); /* a monitor of a client that has exited */
            } else {
                struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
                if (sendmsg(fd, &msg, 0) >= 0)
                    delivered++;
            }
            close(fd);
        }
        globfree(&found);
    }
    g_free(pattern);
    g_string_free(props, TRUE);
    flush_traces(b);
    sim_trace(b->sim, SIM_TR_USB, "bridge: uevent %s %s to %u listening client(s)", action, d->devnode, delivered);
}


static bool make_fifo(struct bdev *d, char **why)
{
    char *dir = g_path_get_dirname(d->fifo_path);
    if (g_mkdir_with_parents(dir, 0755) != 0) {
        *why = g_strdup_printf("cannot create %s: %s", dir, strerror(errno));
        g_free(dir);
        return false;
    }
    g_free(dir);
    unlink(d->fifo_path); /* umockdev made a regular file there */
    if (mkfifo(d->fifo_path, 0666) != 0) {
        *why = g_strdup_printf("cannot create the FIFO %s: %s", d->fifo_path, strerror(errno));
        return false;
    }
    d->fifo_fd = open(d->fifo_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (d->fifo_fd < 0) {
        *why = g_strdup_printf("cannot open the FIFO %s: %s", d->fifo_path, strerror(errno));
        return false;
    }
    /* the smallest pipe: quick to fill and to drain */
    (void)fcntl(d->fifo_fd, F_SETPIPE_SZ, 4096);
    fifo_fill(d);
    return true;
}

static void publish(struct usb_bridge *b, uint32_t generation)
{
    size_t len = 0;
    const uint8_t *desc = usbhost_descriptors(b->host, &len);
    unsigned addr = usbhost_address(b->host);
    if (!desc || len < 18 || desc[0] != 18 || desc[1] != 1 || addr < 1 || addr > 127) {
        sim_warn(b->sim,
                 "usb bridge: the configured device cannot be published (address %u, %zu descriptor bytes, "
                 "first bytes %02x %02x): the host needs a device descriptor and an address",
                 addr, len, len > 0 ? desc[0] : 0, len > 1 ? desc[1] : 0);
        b->failed_generation = generation;
        b->failed_generation_valid = true;
        return;
    }
    struct bdev *d = g_new0(struct bdev, 1);
    d->bridge = b;
    d->devnum = addr;
    d->generation = generation;
    d->fifo_fd = -1;
    d->desc = g_memdup2(desc, len);
    d->desc_len = len;
    d->active_config = first_config_value(desc, len);
    snprintf(d->devnode, sizeof d->devnode, "/dev/bus/usb/%03u/%03u", BUS_NUMBER, addr);
    d->fifo_path = g_strconcat(b->root_dir, d->devnode, NULL);

    unsigned vid = desc[8] | (unsigned)desc[9] << 8, pid = desc[10] | (unsigned)desc[11] << 8;
    unsigned bcd = desc[12] | (unsigned)desc[13] << 8;
    unsigned minor = (BUS_NUMBER - 1) * 128 + (addr - 1);
    char busnum[8], devnum[8], config[8], nconfigs[8], idv[8], idp[8], bcdd[8], cls[8], sub[8], proto[8], mps[8],
        dev[24], product[32], type[32], busnum3[8], devnum3[8], minor_s[8], major_s[8];
    snprintf(busnum, sizeof busnum, "%u\n", BUS_NUMBER);
    snprintf(devnum, sizeof devnum, "%u\n", addr);
    snprintf(config, sizeof config, "%u\n", d->active_config);
    snprintf(nconfigs, sizeof nconfigs, "%u\n", desc[17]);
    snprintf(idv, sizeof idv, "%04x\n", vid);
    snprintf(idp, sizeof idp, "%04x\n", pid);
    snprintf(bcdd, sizeof bcdd, "%04x\n", bcd);
    snprintf(cls, sizeof cls, "%02x\n", desc[4]);
    snprintf(sub, sizeof sub, "%02x\n", desc[5]);
    snprintf(proto, sizeof proto, "%02x\n", desc[6]);
    snprintf(mps, sizeof mps, "%u\n", desc[7]);
    snprintf(dev, sizeof dev, "%u:%u\n", USB_DEVICE_MAJOR, minor);
    snprintf(product, sizeof product, "%x/%x/%x", vid, pid, bcd);
    snprintf(type, sizeof type, "%u/%u/%u", desc[4], desc[5], desc[6]);
    snprintf(busnum3, sizeof busnum3, "%03u", BUS_NUMBER);
    snprintf(devnum3, sizeof devnum3, "%03u", addr);
    snprintf(minor_s, sizeof minor_s, "%u", minor);
    snprintf(major_s, sizeof major_s, "%u", USB_DEVICE_MAJOR);
    char *attrs[] = { "busnum", busnum, "devnum", devnum, "speed", "12\n", "bConfigurationValue", config,
                      "bNumConfigurations", nconfigs, "idVendor", idv, "idProduct", idp, "bcdDevice", bcdd,
                      "bDeviceClass", cls, "bDeviceSubClass", sub, "bDeviceProtocol", proto, "bMaxPacketSize0", mps,
                      "maxchild", "0\n", "dev", dev, NULL };
    char *props[] = { "DEVNAME", d->devnode, "DEVTYPE", "usb_device", "DRIVER", "usb", "PRODUCT", product,
                      "TYPE", type, "BUSNUM", busnum3, "DEVNUM", devnum3, "MAJOR", major_s, "MINOR", minor_s, NULL };
    d->syspath = umockdev_testbed_add_devicev(b->testbed, "usb", SYSFS_NAME, NULL, attrs, props);
    char *why = NULL;
    if (!d->syspath)
        why = g_strdup("umockdev refused the device");
    if (!why) {
        umockdev_testbed_set_attribute_binary(b->testbed, d->syspath, "descriptors", d->desc, (int)d->desc_len);
        if (make_fifo(d, &why)) {
            d->handler = umockdev_ioctl_base_new();
            g_signal_connect(d->handler, "handle-ioctl", G_CALLBACK(on_ioctl), d);
            GError *error = NULL;
            if (!umockdev_testbed_attach_ioctl(b->testbed, d->devnode, d->handler, &error)) {
                why = g_strdup_printf("cannot attach the ioctl handler to %s: %s", d->devnode,
                                      error ? error->message : "?");
                g_clear_error(&error);
            }
        }
    }
    if (why) {
        sim_warn(b->sim, "usb bridge: cannot publish the device: %s", why);
        g_free(why);
        if (d->syspath)
            umockdev_testbed_remove_device(b->testbed, d->syspath);
        if (d->fifo_fd >= 0)
            close(d->fifo_fd);
        if (d->handler)
            g_object_unref(d->handler);
        g_free(d->syspath);
        g_free(d->fifo_path);
        g_free(d->desc);
        g_free(d);
        b->failed_generation = generation;
        b->failed_generation_valid = true;
        return;
    }
    char *uevent_file = g_strconcat(b->root_dir, d->syspath, "/uevent", NULL);
    if (!g_file_get_contents(uevent_file, &d->uevent_props, NULL, NULL))
        d->uevent_props = g_strdup("");
    g_free(uevent_file);
    send_uevent(b, d, "add");
    pthread_mutex_lock(&b->lock);
    b->cur = d;
    b->stats.publishes++;
    pthread_mutex_unlock(&b->lock);
    flush_traces(b);
    sim_trace(b->sim, SIM_TR_USB, "bridge: published %04x:%04x as %s (generation %u, configuration %u, %zu descriptor bytes)",
              vid, pid, d->devnode, generation, d->active_config, len);
}

static void unpublish(struct usb_bridge *b)
{
    struct bdev *d = b->cur;
    if (!d)
        return;
    GList *reapers = NULL;
    pthread_mutex_lock(&b->lock);
    b->cur = NULL;
    d->gone = true;
    b->stats.removals++;
    b->old_devs = g_list_prepend(b->old_devs, d);
    /* URBs the host never saw end here; the host fails the ones it holds itself */
    for (GList *l = b->submitq.head; l;) {
        GList *next = l->next;
        struct rec *r = l->data;
        if (r->dev == d) {
            g_queue_delete_link(&b->submitq, l);
            r->status = -ENODEV;
            UMockdevIoctlClient *reaper = NULL;
            file_done(b, r, &reaper);
            if (reaper)
                reapers = g_list_prepend(reapers, reaper);
        }
        l = next;
    }
    for (GList *l = d->clients; l; l = l->next) {
        struct bclient *cl = l->data;
        if (cl->reaper) {
            umockdev_ioctl_client_complete(cl->reaper, -1, ENODEV);
            g_object_unref(cl->reaper_ptr);
            cl->reaper_ptr = NULL;
            cl->reaper = NULL;
        }
    }
    fifo_update(d);
    retire_if_unused(d);
    pthread_mutex_unlock(&b->lock);
    for (GList *l = reapers; l; l = l->next)
        umockdev_ioctl_client_complete(l->data, 0, 0);
    g_list_free(reapers);

    send_uevent(b, d, "remove");
    GError *error = NULL;
    if (!umockdev_testbed_detach_ioctl(b->testbed, d->devnode, &error))
        g_clear_error(&error);
    umockdev_testbed_remove_device(b->testbed, d->syspath);
    flush_traces(b);
    sim_trace(b->sim, SIM_TR_USB, "bridge: removed %s (generation %u)", d->devnode, d->generation);
}

static void finish_reset(struct usb_bridge *b, int err)
{
    flush_traces(b);
    sim_trace(b->sim, SIM_TR_USB, "bridge: RESET -> %s", errno_name(err));
    umockdev_ioctl_client_complete(b->reset.client, err ? -1 : 0, err);
    g_object_unref(b->reset.client);
    b->reset.client = NULL;
    b->reset.active = false;
}

/* Follows the host: the device is published exactly while the host has it configured,
 * and each new enumeration is a new device (new devnum, new descriptors), except after a
 * RESET ioctl that brought back the same device at the same address, which Linux keeps. */
static void follow_host(struct usb_bridge *b)
{
    enum usbh_state state = usbhost_state(b->host);
    uint32_t gen = usbhost_generation(b->host);
    if (b->reset.active) {
        if (b->reset.dev != b->cur || b->reset.dev == NULL) {
            finish_reset(b, ENODEV);
        } else if (state == USBH_CONFIGURED && gen != b->reset.generation) {
            size_t len = 0;
            const uint8_t *desc = usbhost_descriptors(b->host, &len);
            struct bdev *d = b->cur;
            if (usbhost_address(b->host) == d->devnum && len == d->desc_len && memcmp(desc, d->desc, len) == 0) {
                d->generation = gen;
                finish_reset(b, 0);
            } else {
                /* Linux: "device firmware changed", the old device is gone */
                finish_reset(b, ENODEV);
            }
        } else if (state == USBH_DETACHED || state == USBH_FAILED || sim_now(b->sim) >= b->reset.deadline) {
            finish_reset(b, ENODEV);
        } else {
            return; /* the device stays published while its port is being reset */
        }
    }
    bool want = state == USBH_CONFIGURED;
    if (b->cur && (!want || gen != b->cur->generation))
        unpublish(b);
    if (want && !b->cur && !(b->failed_generation_valid && b->failed_generation == gen))
        publish(b, gen);
}

/* ---- the simulator thread: requests ------------------------------------------------- */

static void submit_queued(struct usb_bridge *b)
{
    for (;;) {
        pthread_mutex_lock(&b->lock);
        struct rec *r = g_queue_pop_head(&b->submitq);
        if (r)
            r->state = REC_ACTIVE;
        pthread_mutex_unlock(&b->lock);
        if (!r)
            return;
        int st = usbhost_submit(b->host, &r->xfer);
        if (st != 0) {
            r->xfer.status = st;
            r->xfer.actual = 0;
            on_xfer_done(&r->xfer);
        }
    }
}

static void close_client(struct usb_bridge *b, struct bclient *cl)
{
    GList *active = NULL;
    pthread_mutex_lock(&b->lock);
    struct bdev *d = cl->dev;
    cl->closed = true;
    cl->close_handled = true;
    /* requests it queued just before it went must not touch what is freed below */
    for (GList *l = b->inbox.head; l; l = l->next) {
        struct req *q = l->data;
        if (q->cl == cl) {
            q->cl = NULL;
            if (q->kind == RQ_DISCARD)
                q->rec = NULL;
        }
    }
    for (unsigned i = 0; i < MAX_INTERFACES; i++)
        if (d->claimed_by[i] == cl)
            d->claimed_by[i] = NULL;
    struct rec *r;
    while ((r = g_queue_pop_head(&cl->reapq)) != NULL)
        rec_free(r);
    for (GList *l = cl->inflight.head; l;) {
        GList *next = l->next;
        r = l->data;
        if (r->state == REC_QUEUED) {
            g_queue_remove(&b->submitq, r);
            g_queue_delete_link(&cl->inflight, l);
            rec_free(r);
        } else {
            r->orphan = true;
            active = g_list_prepend(active, r);
        }
        l = next;
    }
    bool free_now = cl->inflight.length == 0;
    if (free_now) {
        d->clients = g_list_remove(d->clients, cl);
        retire_if_unused(d);
    }
    fifo_update(d);
    pthread_mutex_unlock(&b->lock);
    /* like closing a usbfs fd: what the client left in flight is killed */
    for (GList *l = active; l; l = l->next)
        usbhost_cancel(b->host, &((struct rec *)l->data)->xfer);
    g_list_free(active);
    if (free_now)
        client_free(b, cl);
}

static void handle_request(struct usb_bridge *b, struct req *q)
{
    switch (q->kind) {
    case RQ_DISCARD: {
        if (!q->rec)
            break; /* its client is gone, and with it the URB */
        pthread_mutex_lock(&b->lock);
        bool active = q->rec->state == REC_ACTIVE;
        if (active)
            q->rec->waiter = g_object_ref(q->client);
        pthread_mutex_unlock(&b->lock);
        if (active) {
            usbhost_cancel(b->host, &q->rec->xfer);
        } else {
            flush_traces(b);
            sim_trace(b->sim, SIM_TR_USB, "bridge: DISCARDURB 0x%lx: it had already completed", q->rec->urb_addr);
            umockdev_ioctl_client_complete(q->client, -1, EINVAL);
        }
        break;
    }
    case RQ_CTRL:
        if (q->rec->dev->gone) {
            complete_ctrl(b, q->rec, -ENODEV);
        } else {
            int st = usbhost_submit(b->host, &q->rec->xfer);
            if (st != 0)
                complete_ctrl(b, q->rec, st);
        }
        break;
    case RQ_RESET:
        if (q->dev->gone || b->reset.active || q->dev != b->cur) {
            flush_traces(b);
            sim_trace(b->sim, SIM_TR_USB, "bridge: RESET -> %s", b->reset.active ? "EBUSY" : "ENODEV");
            umockdev_ioctl_client_complete(q->client, -1, b->reset.active ? EBUSY : ENODEV);
            break;
        }
        b->reset.active = true;
        b->reset.dev = q->dev;
        b->reset.client = g_object_ref(q->client);
        b->reset.generation = usbhost_generation(b->host);
        b->reset.deadline = sim_now(b->sim) + RESET_TIMEOUT_PS;
        flush_traces(b);
        sim_trace(b->sim, SIM_TR_USB, "bridge: RESET: resetting the port of %s", q->dev->devnode);
        usbhost_port_reset(b->host);
        break;
    }
    if (q->client)
        g_object_unref(q->client);
    g_free(q);
}

/* Clients whose process closed the device (or exited): like closing a usbfs fd. */
static void close_vanished_clients(struct usb_bridge *b)
{
    GList *vanished = NULL;
    pthread_mutex_lock(&b->lock);
    GList *devs = g_list_copy(b->old_devs);
    if (b->cur)
        devs = g_list_prepend(devs, b->cur);
    for (GList *dl = devs; dl; dl = dl->next) {
        struct bdev *d = dl->data;
        for (GList *l = d->clients; l; l = l->next) {
            struct bclient *cl = l->data;
            if (!cl->close_handled && !client_alive(cl)) {
                cl->closed = true;
                vanished = g_list_prepend(vanished, cl);
            }
        }
    }
    g_list_free(devs);
    pthread_mutex_unlock(&b->lock);
    for (GList *l = vanished; l; l = l->next) {
        struct bclient *cl = l->data;
        btrace(b, "bridge: client %u closed %s", cl->id, cl->dev->devnode);
        close_client(b, cl);
    }
    g_list_free(vanished);
}

void usb_bridge_service(struct usb_bridge *b)
{
    atomic_store(&b->trace_on, sim_tracing(b->sim, SIM_TR_USB));
    close_vanished_clients(b);
    follow_host(b);
    submit_queued(b);
    for (;;) {
        pthread_mutex_lock(&b->lock);
        struct req *q = g_queue_pop_head(&b->inbox);
        pthread_mutex_unlock(&b->lock);
        if (!q)
            break;
        handle_request(b, q);
        submit_queued(b);
    }
    if (b->reset.active)
        follow_host(b);
    flush_traces(b);
}

/* ---- life cycle --------------------------------------------------------------------- */

static bool preload_library_present(void)
{
    static const char *const dirs[] = { "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
                                        "/usr/lib/arm-linux-gnueabihf", "/usr/lib/i386-linux-gnu",
                                        "/usr/lib64", "/usr/lib", "/usr/local/lib", "/lib" };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dirs[i], PRELOAD_LIBRARY);
        if (access(path, R_OK) == 0)
            return true;
    }
    return false;
}

static void set_err(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(char **err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(err, fmt, ap) < 0)
        *err = NULL;
    va_end(ap);
}

/* Debian's libunicorn exports its own partial copies of GLib functions (g_hash_table_new,
 * g_malloc, ...). If it comes before GLib in the process's symbol lookup order, GObject
 * ends up mixing both and crashes inside umockdev_testbed_new(). Say so instead. */
static bool glib_is_shadowed(const char **by)
{
    void *glib = dlopen("libglib-2.0.so.0", RTLD_LAZY | RTLD_NOLOAD);
    if (!glib)
        return false;
    void *ours = dlsym(glib, "g_hash_table_new");
    void *used = dlsym(RTLD_DEFAULT, "g_hash_table_new");
    dlclose(glib);
    if (!ours || ours == used)
        return false;
    Dl_info info;
    *by = used && dladdr(used, &info) && info.dli_fname ? info.dli_fname : "another library";
    return true;
}

struct usb_bridge *usb_bridge_start(sim_t *sim, struct usbhost *host, char **err)
{
    const char *shadow = NULL;
    if (glib_is_shadowed(&shadow)) {
        set_err(err,
                "GLib's g_hash_table_new resolves to %s, not to GLib: link GLib (umockdev) before Unicorn, "
                "or GObject crashes",
                shadow);
        return NULL;
    }
    if (err)
        *err = NULL;
    if (!host)
        host = usbhost_of(sim);
    if (!host) {
        set_err(err, "no virtual USB host is attached to the board");
        return NULL;
    }
    if (!preload_library_present()) {
        /* without it the client would see this machine's real USB devices */
        set_err(err, "%s not found (Debian package libumockdev0)", PRELOAD_LIBRARY);
        return NULL;
    }
    struct usb_bridge *b = g_new0(struct usb_bridge, 1);
    b->sim = sim;
    b->host = host;
    pthread_mutex_init(&b->lock, NULL);
    pthread_mutex_init(&b->trace_lock, NULL);
    g_queue_init(&b->submitq);
    g_queue_init(&b->inbox);
    g_queue_init(&b->trace_lines);
    atomic_init(&b->trace_on, sim_tracing(sim, SIM_TR_USB));
    b->testbed = umockdev_testbed_new();
    if (!b->testbed) {
        set_err(err, "umockdev could not create a testbed");
        g_free(b);
        return NULL;
    }
    b->root_dir = umockdev_testbed_get_root_dir(b->testbed);
    sim_trace(sim, SIM_TR_USB, "bridge: testbed at %s", b->root_dir);
    usb_bridge_service(b);
    return b;
}

static void free_dev(struct usb_bridge *b, struct bdev *d)
{
    /* as if every client closed its fd: their transfers are cancelled on the host */
    GList *clients = g_list_copy(d->clients);
    for (GList *l = clients; l; l = l->next)
        if (!((struct bclient *)l->data)->close_handled)
            close_client(b, l->data);
    g_list_free(clients);
    if (d->clients)
        sim_warn(b->sim, "usb bridge: the host kept transfers of %s after cancelling them", d->devnode);
    if (d->fifo_fd >= 0)
        close(d->fifo_fd);
    if (d->handler)
        g_object_unref(d->handler);
    if (!d->clients) {
        g_free(d->uevent_props);
        g_free(d->syspath);
        g_free(d->fifo_path);
        g_free(d->desc);
        g_free(d);
    }
}

void usb_bridge_stop(struct usb_bridge *b)
{
    if (!b)
        return;
    usb_bridge_service(b);
    unpublish(b);
    if (b->reset.client)
        g_object_unref(b->reset.client);
    struct req *q;
    while ((q = g_queue_pop_head(&b->inbox)) != NULL) {
        if (q->kind == RQ_CTRL) {
            g_object_unref(q->rec->waiter);
            rec_free(q->rec);
        }
        if (q->client)
            g_object_unref(q->client);
        g_free(q);
    }
    g_queue_clear(&b->submitq);
    for (GList *l = b->old_devs; l; l = l->next)
        free_dev(b, l->data);
    g_list_free(b->old_devs);
    flush_traces(b);
    g_object_unref(b->testbed);
    g_free(b->root_dir);
    pthread_mutex_destroy(&b->lock);
    pthread_mutex_destroy(&b->trace_lock);
    g_free(b);
}

/* ---- running a client ---------------------------------------------------------------- */

static char **client_environment(struct usb_bridge *b)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = g_new0(char *, n + 3);
    size_t k = 0;
    const char *old_preload = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(environ[i], "LD_PRELOAD=", 11) == 0)
            old_preload = environ[i] + 11;
        else if (strncmp(environ[i], "UMOCKDEV_DIR=", 13) != 0)
            env[k++] = g_strdup(environ[i]);
    }
    if (old_preload && *old_preload && !strstr(old_preload, PRELOAD_LIBRARY))
        env[k++] = g_strdup_printf("LD_PRELOAD=%s:%s", PRELOAD_LIBRARY, old_preload);
    else if (old_preload && strstr(old_preload, PRELOAD_LIBRARY))
        env[k++] = g_strdup_printf("LD_PRELOAD=%s", old_preload);
    else
        env[k++] = g_strdup_printf("LD_PRELOAD=%s", PRELOAD_LIBRARY);
    env[k++] = g_strdup_printf("UMOCKDEV_DIR=%s", b->root_dir);
    env[k] = NULL;
    return env;
}

static bool clients_open(struct usb_bridge *b)
{
    bool open = false;
    pthread_mutex_lock(&b->lock);
    GList *devs = g_list_copy(b->old_devs);
    if (b->cur)
        devs = g_list_prepend(devs, b->cur);
    for (GList *dl = devs; dl && !open; dl = dl->next)
        for (GList *l = ((struct bdev *)dl->data)->clients; l && !open; l = l->next)
            open = !((struct bclient *)l->data)->close_handled;
    g_list_free(devs);
    pthread_mutex_unlock(&b->lock);
    return open;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

int usb_bridge_run_command(struct usb_bridge *b, char *const argv[], int *exit_status)
{
    if (!argv || !argv[0])
        return -1;
    usb_bridge_service(b);
    char **env = client_environment(b);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, env);
    g_strfreev(env);
    if (rc != 0) {
        fprintf(stderr, "l4sim: cannot run %s: %s\n", argv[0], strerror(rc));
        return -1;
    }
    flush_traces(b);
    sim_trace(b->sim, SIM_TR_USB, "bridge: started %s (pid %d), pacing virtual time to the wall clock", argv[0],
              (int)pid);
    /* The client sleeps in wall-clock time (bwPollTimeout): virtual time must not run
     * ahead of it, or modelled figures would describe the simulator, not the board. */
    sim_set_pacing(b->sim, true);
    bool halted = false;
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            status = 0;
            break;
        }
        if (!halted) {
            enum sim_stop stop = sim_run_for(b->sim, RUN_SLICE_PS);
            if (stop == SIM_STOP_HOST) {
                halted = true;
                kill(pid, SIGTERM);
                sim_warn(b->sim, "usb bridge: simulation stopped on request; terminating %s", argv[0]);
            } else if (stop == SIM_STOP_FAULT || stop == SIM_STOP_ERROR || stop == SIM_STOP_BREAK) {
                halted = true;
                sim_warn(b->sim, "usb bridge: the simulation stopped (%s); %s now talks to a board that no longer runs",
                         sim_stop_message(b->sim), argv[0]);
            }
        } else {
            sleep_ms(1);
        }
        usb_bridge_service(b);
    }
    sim_set_pacing(b->sim, false);
    /* umockdev's thread notices the closed sockets a moment after the exit; wait for it
     * (without moving virtual time), so the command's claims and transfers are released
     * before this returns. A client some other process holds open may stay. */
    usb_bridge_service(b);
    for (int i = 0; i < 1000 && clients_open(b); i++) {
        sleep_ms(1);
        usb_bridge_service(b);
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
    flush_traces(b);
    sim_trace(b->sim, SIM_TR_USB, "bridge: %s exited with status %d", argv[0], code);
    if (exit_status)
        *exit_status = code;
    return 0;
}

bool usb_bridge_wait_device(struct usb_bridge *b, uint64_t timeout_ps)
{
    uint64_t deadline = sim_now(b->sim) + timeout_ps;
    usb_bridge_service(b);
    while (!b->cur && sim_now(b->sim) < deadline) {
        enum sim_stop stop = sim_run_for(b->sim, RUN_SLICE_PS);
        usb_bridge_service(b);
        if (stop != SIM_STOP_TIME && stop != SIM_STOP_CONSOLE)
            break;
    }
    return b->cur != NULL;
}

unsigned usb_bridge_devnum(const struct usb_bridge *b)
{
    return b->cur ? b->cur->devnum : 0;
}

const char *usb_bridge_root_dir(const struct usb_bridge *b)
{
    return b->root_dir;
}

void usb_bridge_stats(struct usb_bridge *b, struct usb_bridge_stats *out)
{
    pthread_mutex_lock(&b->lock);
    *out = b->stats;
    pthread_mutex_unlock(&b->lock);
}
