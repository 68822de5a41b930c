/* The virtual USB host (sim/usbhost.c) against the OTG_FS model, with a tiny polled
 * device driver written in the test (otgfs_testdev.c) playing the firmware. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "otgfs.h"
#include "otgfs_testdev.h"
#include "usbhost.h"

struct fixture {
    sim_t *sim;
    struct usbhost *host;
    struct tdev dev;
    unsigned listener_calls[5];
};

static void listener(void *user, enum usbh_state s)
{
    struct fixture *f = user;
    f->listener_calls[s]++;
}

static void run_until_state(struct fixture *f, enum usbh_state s, unsigned max_ms)
{
    for (unsigned t = 0; t < max_ms * 50 && usbhost_state(f->host) != s; t++)
        tdev_run_us(&f->dev, 20);
}

static void setup_board(struct fixture *f, bool quirk)
{
    memset(f, 0, sizeof *f);
    f->sim = t_board(quirk);
    tdev_init(&f->dev, f->sim);
    f->host = usbhost_attach(f->sim);
    assert_non_null(f->host);
    usbhost_set_listener(f->host, listener, f);
}

static void enumerate(struct fixture *f, bool quirk)
{
    setup_board(f, quirk);
    t_bringup(f->sim, T_ALL);
    run_until_state(f, USBH_CONFIGURED, 1000);
    assert_int_equal(usbhost_state(f->host), USBH_CONFIGURED);
}

struct waiter {
    bool done;
};

static void on_done(struct usbh_xfer *x)
{
    ((struct waiter *)x->user)->done = true;
}

static int run_xfer(struct fixture *f, struct usbh_xfer *x, unsigned max_ms)
{
    struct waiter w = {false};
    x->done = on_done;
    x->user = &w;
    int rc = usbhost_submit(f->host, x);
    if (rc)
        return rc;
    for (unsigned t = 0; t < max_ms * 50 && !w.done; t++)
        tdev_run_us(&f->dev, 20);
    assert_true(w.done);
    return x->status;
}

static void control(struct usbh_xfer *x, uint8_t bm, uint8_t req, uint16_t value, uint16_t index, uint8_t *data,
                    uint16_t len)
{
    memset(x, 0, sizeof *x);
    uint8_t s[8] = {bm, req, (uint8_t)value, (uint8_t)(value >> 8), (uint8_t)index, (uint8_t)(index >> 8),
                    (uint8_t)len, (uint8_t)(len >> 8)};
    memcpy(x->setup, s, 8);
    x->ep = (bm & 0x80) ? 0x80 : 0;
    x->type = 0;
    x->data = data;
    x->length = len;
    x->timeout_ms = 1000;
}

static void bulk(struct usbh_xfer *x, uint8_t ep, uint8_t *data, uint32_t len, uint32_t timeout_ms)
{
    memset(x, 0, sizeof *x);
    x->ep = ep;
    x->type = 2;
    x->data = data;
    x->length = len;
    x->timeout_ms = timeout_ms;
}

/* ---- connect conditions ---- */

static void check_missing(unsigned missing, const char *expected)
{
    struct fixture f;
    setup_board(&f, true);
    t_bringup(f.sim, T_ALL & ~missing);
    const char *why = otgfs_connect_blocker(f.sim);
    assert_non_null(why);
    if (!strstr(why, expected))
        fail_msg("blocker \"%s\" does not mention \"%s\"", why, expected);
    sim_advance(f.sim, 200 * SIM_PS_PER_MS);
    assert_int_equal(usbhost_state(f.host), USBH_DETACHED);
    struct usbh_stats st;
    usbhost_stats(f.host, &st);
    assert_int_equal(st.setup_packets, 0);
    assert_int_equal(st.frames, 0);
    assert_int_equal(f.dev.resets, 0);
    t_destroy(f.sim);
}

static void test_no_connect_without_otgfs_clock(void **state)
{
    (void)state;
    check_missing(T_CLOCK_ENABLE, "RCC_AHB2ENR.OTGFSEN is 0");
}

static void test_no_connect_without_48mhz(void **state)
{
    (void)state;
    check_missing(T_CLK48, "CLK48SEL");
}

static void test_no_connect_without_usv(void **state)
{
    (void)state;
    check_missing(T_USV, "PWR_CR2.USV is 0: VDDUSB is isolated, the USB pads are off");
}

static void test_no_connect_without_af10_pins(void **state)
{
    (void)state;
    check_missing(T_PINS, "PA11 (OTG_FS_DM) is not in alternate function AF10");
}

static void test_no_connect_with_transceiver_off(void **state)
{
    (void)state;
    check_missing(T_PWRDWN, "GCCFG.PWRDWN is 0");
}

static void test_no_connect_without_bsession(void **state)
{
    (void)state;
    check_missing(T_BVALID, "B-session not valid");
}

static void test_no_connect_with_soft_disconnect(void **state)
{
    (void)state;
    check_missing(T_CONNECT, "DCTL.SDIS is 1");
}

static void test_vbus_sensing_and_unplug(void **state)
{
    (void)state;
    struct fixture f;
    setup_board(&f, true);
    t_bringup(f.sim, T_ALL & ~T_BVALID);
    setb(f.sim, GCCFG, 1u << 21); /* VBDEN: the B-session follows VBUS on PA9 */
    assert_null(otgfs_connect_blocker(f.sim));
    assert_true(rd(f.sim, GOTGCTL) & (1u << 19));
    run_until_state(&f, USBH_CONFIGURED, 1000);
    assert_int_equal(usbhost_state(f.host), USBH_CONFIGURED);
    uint8_t buf[64];
    struct usbh_xfer x;
    bulk(&x, 0x81, buf, 64, 0);
    struct waiter w = {false};
    x.done = on_done;
    x.user = &w;
    assert_int_equal(usbhost_submit(f.host, &x), 0);
    tdev_run_us(&f.dev, 2000);
    usbhost_plug(f.host, false);
    assert_true(w.done);
    assert_int_equal(x.status, -ENODEV);
    assert_int_equal(usbhost_state(f.host), USBH_DETACHED);
    assert_true(rd(f.sim, GOTGINT) & (1u << 2)); /* SEDET: session end */
    assert_non_null(strstr(otgfs_connect_blocker(f.sim), "no VBUS on PA9"));
    assert_int_equal(usbhost_submit(f.host, &x), -ENODEV);
    usbhost_plug(f.host, true);
    run_until_state(&f, USBH_CONFIGURED, 1000);
    assert_int_equal(usbhost_state(f.host), USBH_CONFIGURED);
    assert_int_equal(usbhost_generation(f.host), 2);
    t_destroy(f.sim);
}

/* ---- enumeration ---- */

static bool saw_setup(const struct tdev *d, uint8_t bm, uint8_t req, uint16_t value, uint16_t wlength)
{
    for (unsigned i = 0; i < d->setups && i < 64; i++) {
        const uint8_t *s = d->setup_log[i];
        if (s[0] == bm && s[1] == req && (s[2] | s[3] << 8) == value && (s[6] | s[7] << 8) == wlength)
            return true;
    }
    return false;
}

static void check_enumeration(bool quirk)
{
    struct fixture f;
    enumerate(&f, quirk);
    struct tdev *d = &f.dev;
    assert_int_equal(usbhost_address(f.host), 2);
    assert_int_equal(usbhost_generation(f.host), 1);
    assert_null(usbhost_failure(f.host));
    assert_int_equal(f.listener_calls[USBH_CONFIGURED], 1);
    size_t len;
    const uint8_t *descs = usbhost_descriptors(f.host, &len);
    assert_int_equal(len, 18 + 32);
    assert_memory_equal(descs, tdev_device_desc, 18);
    assert_memory_equal(descs + 18, tdev_config_desc, 32);
    /* Linux's order: device/64 at address 0, SET_ADDRESS, device/18, config 9 then all,
     * strings, SET_CONFIGURATION */
    const uint8_t *first = d->setup_log[0];
    assert_int_equal(first[1], 6);
    assert_int_equal(first[6], 64);
    assert_true(saw_setup(d, 0x00, 5, 2, 0));
    assert_true(saw_setup(d, 0x80, 6, 0x0100, 18));
    assert_true(saw_setup(d, 0x80, 6, 0x0200, 9));
    assert_true(saw_setup(d, 0x80, 6, 0x0200, 32));
    assert_true(saw_setup(d, 0x80, 6, 0x0300, 255));
    assert_true(saw_setup(d, 0x80, 6, 0x0301, 255));
    assert_true(saw_setup(d, 0x80, 6, 0x0302, 255));
    assert_true(saw_setup(d, 0x80, 6, 0x0303, 255));
    assert_true(saw_setup(d, 0x00, 9, 1, 0));
    assert_int_equal(d->config, 1);
    assert_true(d->resets >= 1);
    assert_true(d->enum_dones >= 1);
    /* the 3.10a words: flagged EP0 completions present by default, absent with the switch off */
    unsigned flagged = 0;
    for (unsigned i = 0; i < d->rx_n; i++)
        if (STS_TYPE(d->rx_log[i]) == 3 && (d->rx_log_doepint[i] & (OUT_STPKTRX | OUT_STSPHSRX)))
            flagged++;
    if (quirk) {
        assert_true(d->flagged_dropped >= 9); /* one per control transfer at least */
        assert_int_equal(flagged, d->flagged_dropped);
    } else {
        assert_int_equal(d->flagged_dropped, 0);
        assert_int_equal(flagged, 0);
    }
    const char *t = t_trace(f.sim);
    assert_non_null(strstr(t, "GET_DESCRIPTOR(DEVICE, index 0, lang 0x0000, len 64) -> ACK"));
    assert_non_null(strstr(t, "SET_ADDRESS(2) -> ACK"));
    assert_non_null(strstr(t, "USB host: configured"));
    t_destroy(f.sim);
}

static void test_enumeration_quirk_on(void **state)
{
    (void)state;
    check_enumeration(true);
}

static void test_enumeration_quirk_off(void **state)
{
    (void)state;
    check_enumeration(false);
}

static void test_control_write_then_read(void **state)
{
    (void)state;
    struct fixture f;
    enumerate(&f, true);
    uint8_t out[100], in[128];
    for (unsigned i = 0; i < sizeof out; i++)
        out[i] = (uint8_t)(i * 7 + 1);
    struct usbh_xfer x;
    control(&x, 0x40, 1, 0, 0, out, sizeof out);
    assert_int_equal(run_xfer(&f, &x, 100), 0);
    assert_int_equal(x.actual, 100);
    assert_int_equal(f.dev.vendor_len, 100);
    assert_memory_equal(f.dev.vendor, out, 100);
    memset(in, 0, sizeof in);
    control(&x, 0xC0, 2, 0, 0, in, sizeof in);
    assert_int_equal(run_xfer(&f, &x, 100), 0);
    assert_int_equal(x.actual, 100); /* short: the device had 100 */
    assert_memory_equal(in, out, 100);
    t_destroy(f.sim);
}

static void test_stall_gives_epipe(void **state)
{
    (void)state;
    struct fixture f;
    enumerate(&f, true);
    uint8_t buf[64];
    struct usbh_xfer x;
    control(&x, 0xC0, 0x77, 0, 0, buf, 8);
    assert_int_equal(run_xfer(&f, &x, 100), -EPIPE);
    /* the next SETUP clears the EP0 stall */
    control(&x, 0x80, 6, 0x0100, 0, buf, 18);
    assert_int_equal(run_xfer(&f, &x, 100), 0);
    assert_int_equal(x.actual, 18);
    /* a halted bulk endpoint: -EPIPE until CLEAR_FEATURE(ENDPOINT_HALT) */
    control(&x, 0x02, 3, 0, 0x81, NULL, 0);
    assert_int_equal(run_xfer(&f, &x, 100), 0);
    bulk(&x, 0x81, buf, 64, 100);
    assert_int_equal(run_xfer(&f, &x, 100), -EPIPE);
    control(&x, 0x02, 1, 0, 0x81, NULL, 0);
    assert_int_equal(run_xfer(&f, &x, 100), 0);
    static const uint8_t msg[5] = {'h', 'e', 'l', 'l', 'o'};
    tdev_bulk_in_send(&f.dev, msg, 5);
    bulk(&x, 0x81, buf, 64, 100);
    assert_int_equal(run_xfer(&f, &x, 100), 0);
    assert_int_equal(x.actual, 5);
    assert_memory_equal(buf, msg, 5);
    struct usbh_stats st;
    usbhost_stats(f.host, &st);
    assert_true(st.stalls >= 2);
    t_destroy(f.sim);
}

static void test_bulk_out_and_in(void **state)
{
    (void)state;
    struct fixture f;
    enumerate(&f, true);
    static uint8_t out[300], in[512], src[200];
    for (unsigned i = 0; i < sizeof out; i++)
        out[i] = (uint8_t)(i ^ 0x5A);
    for (unsigned i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(255 - i);
    struct usbh_stats before, after;
    usbhost_stats(f.host, &before);
    tdev_bulk_out_arm(&f.dev, 300);
    struct usbh_xfer x;
    bulk(&x, 0x01, out, sizeof out, 1000);
    assert_int_equal(run_xfer(&f, &x, 100), 0);
    assert_int_equal(x.actual, 300);
    tdev_run_us(&f.dev, 100);
    assert_true(f.dev.bulk_out_done);
    assert_int_equal(f.dev.bulk_out_len, 300);
    assert_memory_equal(f.dev.bulk_out, out, 300);
    /* a second transfer continues the data toggles (5 packets: next is DATA1) */
    tdev_bulk_out_arm(&f.dev, 64);
    bulk(&x, 0x01, out, 64, 1000);
    assert_int_equal(run_xfer(&f, &x, 100), 0);
    tdev_run_us(&f.dev, 100);
    assert_int_equal(f.dev.bulk_out_len, 64);
    /* IN: the host NAKs until the device has data, then takes a short transfer */
    bulk(&x, 0x81, in, sizeof in, 1000);
    struct waiter w = {false};
    x.done = on_done;
    x.user = &w;
    assert_int_equal(usbhost_submit(f.host, &x), 0);
    tdev_run_us(&f.dev, 3000);
    assert_false(w.done);
    tdev_bulk_in_send(&f.dev, src, sizeof src);
    for (unsigned t = 0; t < 5000 && !w.done; t++)
        tdev_run_us(&f.dev, 20);
    assert_true(w.done);
    assert_int_equal(x.status, 0);
    assert_int_equal(x.actual, 200);
    assert_memory_equal(in, src, 200);
    usbhost_stats(f.host, &after);
    assert_int_equal(after.bytes_out - before.bytes_out, 364);
    assert_int_equal(after.bytes_in - before.bytes_in, 200);
    assert_true(after.naks > before.naks);
    t_destroy(f.sim);
}

static void test_timeout_and_cancel(void **state)
{
    (void)state;
    struct fixture f;
    enumerate(&f, true);
    uint8_t buf[64];
    struct usbh_xfer x;
    bulk(&x, 0x81, buf, 64, 20);
    assert_int_equal(run_xfer(&f, &x, 100), -ETIMEDOUT);
    bulk(&x, 0x81, buf, 64, 0);
    struct waiter w = {false};
    x.done = on_done;
    x.user = &w;
    assert_int_equal(usbhost_submit(f.host, &x), 0);
    tdev_run_us(&f.dev, 5000);
    assert_false(w.done);
    usbhost_cancel(f.host, &x);
    assert_true(w.done);
    assert_int_equal(x.status, -ECONNRESET);
    t_destroy(f.sim);
}

static void test_reenumeration_after_soft_disconnect(void **state)
{
    (void)state;
    struct fixture f;
    enumerate(&f, true);
    uint8_t buf[64];
    struct usbh_xfer x;
    bulk(&x, 0x81, buf, 64, 0);
    struct waiter w = {false};
    x.done = on_done;
    x.user = &w;
    assert_int_equal(usbhost_submit(f.host, &x), 0);
    tdev_run_us(&f.dev, 2000);
    setb(f.sim, DCTL, 2u); /* SDIS: pull-up off */
    tdev_run_us(&f.dev, 100);
    assert_int_equal(usbhost_state(f.host), USBH_DETACHED);
    assert_true(w.done);
    assert_int_equal(x.status, -ENODEV);
    assert_int_equal(f.listener_calls[USBH_DETACHED], 1);
    tdev_run_us(&f.dev, 20000);
    clrb(f.sim, DCTL, 2u);
    run_until_state(&f, USBH_CONFIGURED, 1000);
    assert_int_equal(usbhost_state(f.host), USBH_CONFIGURED);
    assert_int_equal(usbhost_generation(f.host), 2);
    assert_int_equal(usbhost_address(f.host), 3);
    assert_int_equal(f.listener_calls[USBH_CONFIGURED], 2);
    t_destroy(f.sim);
}

static void test_system_reset_detaches(void **state)
{
    (void)state;
    struct fixture f;
    enumerate(&f, true);
    uint8_t buf[64];
    struct usbh_xfer x;
    bulk(&x, 0x81, buf, 64, 0);
    struct waiter w = {false};
    x.done = on_done;
    x.user = &w;
    assert_int_equal(usbhost_submit(f.host, &x), 0);
    tdev_run_us(&f.dev, 1000);
    sim_reset(f.sim, SIM_RESET_SYSTEM, SIM_CAUSE_SOFTWARE);
    assert_int_equal(usbhost_state(f.host), USBH_DETACHED);
    assert_true(w.done);
    assert_int_equal(x.status, -ENODEV);
    assert_non_null(strstr(otgfs_connect_blocker(f.sim), "OTGFSEN is 0"));
    /* the firmware starts over and the host enumerates a new device */
    tdev_init(&f.dev, f.sim);
    t_bringup(f.sim, T_ALL);
    run_until_state(&f, USBH_CONFIGURED, 1000);
    assert_int_equal(usbhost_state(f.host), USBH_CONFIGURED);
    assert_int_equal(usbhost_generation(f.host), 2);
    assert_int_equal(usbhost_address(f.host), 3);
    t_destroy(f.sim);
}

static void test_port_reset_reenumerates(void **state)
{
    (void)state;
    struct fixture f;
    enumerate(&f, true);
    unsigned resets = f.dev.resets;
    usbhost_port_reset(f.host);
    assert_int_equal(usbhost_state(f.host), USBH_RESETTING);
    run_until_state(&f, USBH_CONFIGURED, 1000);
    assert_int_equal(usbhost_state(f.host), USBH_CONFIGURED);
    assert_int_equal(usbhost_generation(f.host), 2);
    assert_int_equal(usbhost_address(f.host), 2); /* as Linux's usb_reset_device: same address */
    assert_int_equal(f.dev.resets, resets + 1);
    /* a real reconnect afterwards gets a new one */
    setb(f.sim, DCTL, 2u);
    tdev_run_us(&f.dev, 1000);
    clrb(f.sim, DCTL, 2u);
    run_until_state(&f, USBH_CONFIGURED, 1000);
    assert_int_equal(usbhost_address(f.host), 3);
    t_destroy(f.sim);
}

static void test_inaccurate_clock_fails_enumeration(void **state)
{
    (void)state;
    struct fixture f;
    setup_board(&f, true);
    t_clk48_from_hsi(f.sim);
    t_bringup(f.sim, T_ALL & ~T_CLK48);
    assert_null(otgfs_connect_blocker(f.sim)); /* it does connect ... */
    run_until_state(&f, USBH_FAILED, 1000);
    assert_int_equal(usbhost_state(f.host), USBH_FAILED); /* ... but the host cannot read it */
    assert_non_null(strstr(usbhost_failure(f.host), "device descriptor read/64, error -71"));
    t_destroy(f.sim);
}

static void test_bus_time_figures(void **state)
{
    (void)state;
    struct fixture f;
    enumerate(&f, true);
    static uint8_t out[4096];
    tdev_bulk_out_arm(&f.dev, 4096);
    struct usbh_xfer x;
    bulk(&x, 0x01, out, sizeof out, 1000);
    uint64_t t0 = sim_now(f.sim);
    assert_int_equal(run_xfer(&f, &x, 200), 0);
    uint64_t bulk_ps = sim_now(f.sim) - t0;
    uint8_t desc[18];
    control(&x, 0x80, 6, 0x0100, 0, desc, 18);
    t0 = sim_now(f.sim);
    assert_int_equal(run_xfer(&f, &x, 100), 0);
    uint64_t ctrl_ps = sim_now(f.sim) - t0;
    /* figures for people, not assertions: they depend on the driver's poll rate here */
    print_message("modelled: 4096-byte bulk OUT %.3f ms (%.0f KB/s), GET_DESCRIPTOR(18) %.3f ms\n",
                  (double)bulk_ps / SIM_PS_PER_MS, 4096.0 / 1024 / ((double)bulk_ps / SIM_PS_PER_S),
                  (double)ctrl_ps / SIM_PS_PER_MS);
    struct usbh_stats st;
    usbhost_stats(f.host, &st);
    assert_true(st.frames > 0);
    assert_true(st.out_packets >= 64);
    t_destroy(f.sim);
}

static void test_interrupt_driven_device(void **state)
{
    (void)state;
    struct fixture f;
    setup_board(&f, true);
    t_bringup(f.sim, T_ALL & ~T_CONNECT);
    tdev_use_irq(&f.dev);
    clrb(f.sim, DCTL, 2u);
    run_until_state(&f, USBH_CONFIGURED, 1000);
    assert_int_equal(usbhost_state(f.host), USBH_CONFIGURED);
    assert_true(f.dev.irqs > 20);
    uint8_t out[70], in[128];
    for (unsigned i = 0; i < sizeof out; i++)
        out[i] = (uint8_t)(3 * i);
    struct usbh_xfer x;
    control(&x, 0x40, 1, 0, 0, out, sizeof out);
    assert_int_equal(run_xfer(&f, &x, 100), 0);
    control(&x, 0xC0, 2, 0, 0, in, sizeof in);
    assert_int_equal(run_xfer(&f, &x, 100), 0);
    assert_int_equal(x.actual, sizeof out);
    assert_memory_equal(in, out, sizeof out);
    /* 600 bytes through a 512-byte TX FIFO, written from the TXFE interrupt */
    static uint8_t src[600], got[1024];
    for (unsigned i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i * 13);
    tdev_bulk_in_send(&f.dev, src, sizeof src);
    bulk(&x, 0x81, got, sizeof got, 1000);
    assert_int_equal(run_xfer(&f, &x, 100), 0);
    assert_int_equal(x.actual, 600);
    assert_memory_equal(got, src, 600);
    tdev_run_us(&f.dev, 200);
    assert_true(f.dev.bulk_in_done);
    assert_int_equal(rd(f.sim, DIEPEMPMSK), 0);
    t_destroy(f.sim);
}

static void test_tinyusb_fifo_layout(void **state)
{
    (void)state;
    struct fixture f;
    setup_board(&f, true);
    f.dev.tinyusb_fifos = true;
    t_bringup(f.sim, T_ALL);
    wr(f.sim, GINTSTS, 0xFFFFFFFFu); /* TinyUSB clears with all ones, RO bits included */
    run_until_state(&f, USBH_CONFIGURED, 1000);
    assert_int_equal(usbhost_state(f.host), USBH_CONFIGURED);
    assert_int_equal(rd(f.sim, DIEPTXF0), (16u << 16) | 304u);
    static const uint8_t msg[100] = {1, 2, 3};
    uint8_t got[128];
    tdev_bulk_in_send(&f.dev, msg, sizeof msg);
    struct usbh_xfer x;
    bulk(&x, 0x81, got, sizeof got, 1000);
    assert_int_equal(run_xfer(&f, &x, 100), 0);
    assert_int_equal(x.actual, 100);
    assert_memory_equal(got, msg, 100);
    /* a layout that ends exactly at word 320 is legal */
    assert_null(strstr(t_trace(f.sim), "beyond the 320 words"));
    assert_null(strstr(t_trace(f.sim), "overlaps"));
    t_destroy(f.sim);
}

static void test_interrupt_polling_and_parallel_pipes(void **state)
{
    (void)state;
    struct fixture f;
    enumerate(&f, true);
    /* an interrupt IN transfer is polled once per interval (bInterval 0 -> every frame),
     * not at every microframe like a NAKed bulk pipe */
    uint8_t ibuf[64], bbuf[64], desc[18];
    struct usbh_xfer intr, bin, ctl;
    bulk(&intr, 0x81, ibuf, 64, 0);
    intr.type = 3;
    struct waiter wi = {false};
    intr.done = on_done;
    intr.user = &wi;
    struct usbh_stats s0, s1;
    assert_int_equal(usbhost_submit(f.host, &intr), 0);
    tdev_run_us(&f.dev, 1000);
    usbhost_stats(f.host, &s0);
    tdev_run_us(&f.dev, 10000);
    usbhost_stats(f.host, &s1);
    assert_int_equal(s1.naks - s0.naks, 10);
    usbhost_cancel(f.host, &intr);
    assert_int_equal(intr.status, -ECONNRESET);
    /* a bulk IN that keeps NAKing (8 tries a frame) does not hold up control transfers */
    bulk(&bin, 0x81, bbuf, 64, 0);
    struct waiter wb = {false};
    bin.done = on_done;
    bin.user = &wb;
    assert_int_equal(usbhost_submit(f.host, &bin), 0);
    tdev_run_us(&f.dev, 1000);
    usbhost_stats(f.host, &s0);
    tdev_run_us(&f.dev, 10000);
    usbhost_stats(f.host, &s1);
    assert_int_equal(s1.naks - s0.naks, 80);
    control(&ctl, 0x80, 6, 0x0100, 0, desc, 18);
    assert_int_equal(run_xfer(&f, &ctl, 100), 0);
    assert_memory_equal(desc, tdev_device_desc, 18);
    assert_false(wb.done);
    static const uint8_t msg[3] = {7, 8, 9};
    tdev_bulk_in_send(&f.dev, msg, 3);
    for (unsigned t = 0; t < 500 && !wb.done; t++)
        tdev_run_us(&f.dev, 20);
    assert_true(wb.done);
    assert_int_equal(bin.status, 0);
    assert_int_equal(bin.actual, 3);
    t_destroy(f.sim);
}

/* The CPU-running helpers: firmware that only spins (b .), so the host acts alone. */
static void test_wait_state_runs_the_board(void **state)
{
    (void)state;
    struct fixture f;
    setup_board(&f, true);
    static const uint8_t spin[10] = {0x00, 0x10, 0x00, 0x20, 0x09, 0x00, 0x00, 0x08, 0xFE, 0xE7};
    assert_int_equal(sim_load_mem(f.sim, 0x08000000u, spin, sizeof spin), 0);
    sim_reset(f.sim, SIM_RESET_SYSTEM, SIM_CAUSE_PIN);
    t_bringup(f.sim, T_ALL);
    uint64_t connected = sim_now(f.sim);
    uint8_t setup[8] = {0x80, 6, 0, 1, 0, 0, 18, 0}, buf[18];
    uint32_t actual = 99;
    assert_int_equal(usbhost_control_sync(f.host, setup, buf, &actual, 100), -ENODEV);
    assert_false(usbhost_wait_state(f.host, USBH_ENUMERATING, 50)); /* still debouncing */
    assert_true(usbhost_wait_state(f.host, USBH_ENUMERATING, 200));
    /* 100 ms debounce + 10 ms reset after the pull-up, within the 1 ms run steps */
    uint64_t waited = sim_now(f.sim) - connected;
    assert_true(waited >= 110 * SIM_PS_PER_MS && waited <= 112 * SIM_PS_PER_MS);
    /* nobody answers EP0 (the firmware spins): Linux's 5 s timeout, then failure */
    assert_true(usbhost_wait_state(f.host, USBH_FAILED, 6000));
    assert_non_null(strstr(usbhost_failure(f.host), "device descriptor read/64, error -110"));
    t_destroy(f.sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_connect_without_otgfs_clock),
        cmocka_unit_test(test_no_connect_without_48mhz),
        cmocka_unit_test(test_no_connect_without_usv),
        cmocka_unit_test(test_no_connect_without_af10_pins),
        cmocka_unit_test(test_no_connect_with_transceiver_off),
        cmocka_unit_test(test_no_connect_without_bsession),
        cmocka_unit_test(test_no_connect_with_soft_disconnect),
        cmocka_unit_test(test_vbus_sensing_and_unplug),
        cmocka_unit_test(test_enumeration_quirk_on),
        cmocka_unit_test(test_enumeration_quirk_off),
        cmocka_unit_test(test_control_write_then_read),
        cmocka_unit_test(test_stall_gives_epipe),
        cmocka_unit_test(test_bulk_out_and_in),
        cmocka_unit_test(test_timeout_and_cancel),
        cmocka_unit_test(test_reenumeration_after_soft_disconnect),
        cmocka_unit_test(test_system_reset_detaches),
        cmocka_unit_test(test_port_reset_reenumerates),
        cmocka_unit_test(test_inaccurate_clock_fails_enumeration),
        cmocka_unit_test(test_bus_time_figures),
        cmocka_unit_test(test_interrupt_driven_device),
        cmocka_unit_test(test_tinyusb_fifo_layout),
        cmocka_unit_test(test_interrupt_polling_and_parallel_pipes),
        cmocka_unit_test(test_wait_state_runs_the_board),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
