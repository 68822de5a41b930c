/* The demo application on the virtual board (l4sim), started by the real bootloader
 * from a stamped slot-A image, driven by l4sim's virtual USB host: enumeration as the
 * composite 0483:5740 device, CDC echo, and both hand-overs: DETACH on the run-time
 * interface (as dfu-util sends it) and the CDC "update" command come back as the l4dfu
 * bootloader (0483:DF11) with the handshake consumed; "rom" reaches system memory.
 * Each case runs for the interrupt-driven and the polled image. No timing asserts:
 * the waits are generous bounds in modelled time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "usbhost.h"

#define RTC_BKP0R 0x40002850u
#define RTC_BKP1R 0x40002854u
#define DEMO_EP_OUT 0x01
#define DEMO_EP_IN 0x81
#define DFU_IFACE 2
#define boot(b, variant) boot_named((b), (variant), __func__)

struct board {
    sim_t *sim;
    struct usbhost *host;
};

static const char *variant_image(const void *variant)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/demo-%s-v1-stm32l476g-eval-stamped.bin", L4_FIRMWARE_DIR,
             (const char *)variant);
    return path;
}

/* APP_SIM_TIMELINE=DIR keeps each run's milestones (modelled times of resets, USB
 * states, console lines) as DIR/<test>-<variant>.txt. */
static void boot_named(struct board *b, const char *variant, const char *test)
{
    sim_config cfg;
    sim_config_defaults(&cfg);
    cfg.console_file = "/dev/null";
    char timeline[512];
    const char *dir = getenv("APP_SIM_TIMELINE");
    if (dir != NULL) {
        snprintf(timeline, sizeof timeline, "%s/%s-%s.txt", dir, test, variant);
        cfg.timeline_file = timeline;
    }
    b->sim = sim_create(&cfg);
    assert_non_null(b->sim);
    assert_int_equal(sim_load_elf(b->sim, L4_FIRMWARE_DIR "/bootloader-stm32l476g-eval.elf"), 0);
    assert_int_equal(sim_load_bin(b->sim, variant_image(variant), 0x08004000u), 0);
    sim_reset(b->sim, SIM_RESET_POWER_ON, SIM_CAUSE_POWER_ON);
    b->host = usbhost_attach(b->sim);
    assert_non_null(b->host);
    assert_true(usbhost_wait_state(b->host, USBH_CONFIGURED, 3000));
}

static unsigned device_pid(struct board *b)
{
    size_t len = 0;
    const uint8_t *d = usbhost_descriptors(b->host, &len);
    assert_true(len >= 18);
    return (unsigned)d[10] | (unsigned)d[11] << 8;
}

static bool console_has(struct board *b, const char *text)
{
    return strstr(sim_console_text(b->sim), text) != NULL;
}

static void on_done(struct usbh_xfer *x)
{
    *(bool *)x->user = true;
}

static int transfer(struct board *b, uint8_t ep, void *data, uint32_t len, uint32_t *actual)
{
    bool done = false;
    struct usbh_xfer x;
    memset(&x, 0, sizeof x);
    x.ep = ep;
    x.type = 2;
    x.data = data;
    x.length = len;
    x.timeout_ms = 1000;
    x.done = on_done;
    x.user = &done;
    int rc = usbhost_submit(b->host, &x);
    if (rc != 0)
        return rc;
    for (unsigned ms = 0; ms < 2000 && !done; ms++)
        sim_run_for(b->sim, SIM_PS_PER_MS);
    assert_true(done);
    *actual = x.actual;
    return x.status;
}

static int control(struct board *b, uint8_t type, uint8_t request, uint16_t value,
                   uint16_t index, uint8_t *data, uint16_t length, uint32_t *actual)
{
    const uint8_t setup[8] = {type, request, (uint8_t)value, (uint8_t)(value >> 8),
                              (uint8_t)index, (uint8_t)(index >> 8), (uint8_t)length,
                              (uint8_t)(length >> 8)};
    return usbhost_control_sync(b->host, setup, data, actual, 1000);
}

/* The device left and came back (a new enumeration) and is configured. */
static bool wait_reenumerated(struct board *b, uint32_t generation)
{
    for (unsigned ms = 0; ms < 5000; ms++) {
        if (usbhost_generation(b->host) != generation &&
            usbhost_state(b->host) == USBH_CONFIGURED)
            return true;
        sim_run_for(b->sim, SIM_PS_PER_MS);
    }
    return false;
}

static void send_line(struct board *b, const char *text)
{
    uint8_t buf[64];
    uint32_t n = 0;
    size_t len = strlen(text);
    memcpy(buf, text, len);
    assert_int_equal(transfer(b, DEMO_EP_OUT, buf, (uint32_t)len, &n), 0);
    assert_int_equal(n, len);
}

static void enumerates_and_echoes(void **state)
{
    struct board b;
    boot(&b, *state);
    assert_int_equal(device_pid(&b), 0x5740);
    assert_true(console_has(&b, "l4dfu demo app v1.0.0"));
    /* the bootloader counted the start, the application confirmed it */
    assert_int_equal(sim_bus_read(b.sim, RTC_BKP1R, 4), 0);

    send_line(&b, "hello");
    uint8_t got[64];
    uint32_t n = 0;
    assert_int_equal(transfer(&b, DEMO_EP_IN, got, sizeof got, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(got, "hello", 5);
    sim_destroy(b.sim);
}

static void detach_comes_back_as_the_bootloader(void **state)
{
    struct board b;
    boot(&b, *state);
    uint8_t status[6] = {0};
    uint32_t n = 0;
    /* dfu-util 0.11: SET_INTERFACE alt 0, GETSTATUS, DETACH wValue 1000 */
    assert_int_equal(control(&b, 0x01, 11, 0, DFU_IFACE, NULL, 0, &n), 0);
    assert_int_equal(control(&b, 0xA1, 3, 0, DFU_IFACE, status, 6, &n), 0);
    assert_int_equal(n, 6);
    assert_int_equal(status[4], 0); /* appIDLE */
    uint32_t generation = usbhost_generation(b.host);
    assert_int_equal(control(&b, 0x21, 0, 1000, DFU_IFACE, NULL, 0, &n), 0);
    uint64_t detached_at = sim_now(b.sim);

    assert_true(wait_reenumerated(&b, generation));
    /* a figure for people (modelled), not an assertion */
    printf("    %s: DETACH done -> bootloader configured: %.1f ms (modelled)\n", (char *)*state,
           (double)(sim_now(b.sim) - detached_at) / (double)SIM_PS_PER_MS);
    assert_int_equal(device_pid(&b), 0xDF11);
    assert_true(console_has(&b, "dfu: detach"));
    assert_int_equal(sim_bus_read(b.sim, RTC_BKP0R, 4), 0); /* the bootloader consumed it */
    sim_destroy(b.sim);
}

/* DETACH while the CDC pipes are busy in both directions: the detach still happens, every
 * bulk transfer in flight finishes (data or "device gone"), none hangs. */
static void detach_during_busy_cdc_transfer(void **state)
{
    struct board b;
    boot(&b, *state);
    enum { N = 12 };
    static uint8_t out[N][256], in[4096];
    struct usbh_xfer xo[N], xi;
    bool done_out[N] = {false}, done_in = false;
    for (unsigned i = 0; i < N; i++) {
        memset(out[i], 'a' + (int)i, sizeof out[i]);
        memset(&xo[i], 0, sizeof xo[i]);
        xo[i].ep = DEMO_EP_OUT;
        xo[i].type = 2;
        xo[i].data = out[i];
        xo[i].length = sizeof out[i];
        xo[i].timeout_ms = 3000;
        xo[i].done = on_done;
        xo[i].user = &done_out[i];
        assert_int_equal(usbhost_submit(b.host, &xo[i]), 0);
    }
    memset(&xi, 0, sizeof xi);
    xi.ep = DEMO_EP_IN;
    xi.type = 2;
    xi.data = in;
    xi.length = sizeof in;
    xi.timeout_ms = 3000;
    xi.done = on_done;
    xi.user = &done_in;
    assert_int_equal(usbhost_submit(b.host, &xi), 0);
    sim_run_for(b.sim, 2 * SIM_PS_PER_MS); /* the echo is flowing */
    unsigned finished_before = 0;
    for (unsigned i = 0; i < N; i++)
        finished_before += done_out[i];
    assert_true(finished_before < N); /* really in the middle of it */

    uint32_t generation = usbhost_generation(b.host), n = 0;
    assert_int_equal(control(&b, 0x21, 0, 1000, DFU_IFACE, NULL, 0, &n), 0);
    assert_true(wait_reenumerated(&b, generation));
    assert_int_equal(device_pid(&b), 0xDF11);
    for (unsigned i = 0; i < N; i++) {
        assert_true(done_out[i]);
        assert_true(xo[i].status == 0 || xo[i].status == -19 /* ENODEV */);
    }
    assert_true(done_in);
    assert_true(xi.status == 0 || xi.status == -19);
    assert_true(console_has(&b, "dfu: detach"));
    sim_destroy(b.sim);
}

static void update_command_comes_back_as_the_bootloader(void **state)
{
    struct board b;
    boot(&b, *state);
    uint32_t generation = usbhost_generation(b.host);
    send_line(&b, "update\r");
    uint8_t got[128];
    uint32_t n = 0, total = 0;
    while (total < 7 + 2 && transfer(&b, DEMO_EP_IN, got + total, 64, &n) == 0 && n != 0)
        total += n;
    assert_true(total >= 7);
    assert_memory_equal(got, "update\r", 7);
    assert_true(wait_reenumerated(&b, generation));
    assert_int_equal(device_pid(&b), 0xDF11);
    assert_true(console_has(&b, "cdc: update"));
    assert_int_equal(sim_bus_read(b.sim, RTC_BKP0R, 4), 0);
    sim_destroy(b.sim);
}

static void rom_command_reaches_system_memory(void **state)
{
    struct board b;
    boot(&b, *state);
    send_line(&b, "rom\r");
    enum sim_stop stop = SIM_STOP_TIME;
    for (unsigned ms = 0; ms < 3000 && stop == SIM_STOP_TIME; ms++)
        stop = sim_run_for(b.sim, SIM_PS_PER_MS);
    assert_int_equal(stop, SIM_STOP_BREAK);
    const char *how = sim_stop_message(b.sim);
    assert_non_null(strstr(how, "system memory remapped at 0"));
    assert_non_null(strstr(how, "entered through its reset vector"));
    assert_non_null(strstr(how, "SysTick off"));
    assert_non_null(strstr(how, " 0 NVIC interrupts enabled"));
    assert_non_null(strstr(how, "OTG_FS clock off")); /* the app shut USB down first */
    assert_true(console_has(&b, "cdc: rom"));
    assert_int_equal(sim_bus_read(b.sim, RTC_BKP0R, 4), 0); /* consumed by the startup hook */
    sim_destroy(b.sim);
}

int main(void)
{
    static const char *irq = "irq", *poll = "poll";
    const struct CMUnitTest tests[] = {
#define BOTH(test)                                                                       \
    {#test " (irq)", test, NULL, NULL, (void *)irq}, {#test " (poll)", test, NULL, NULL, (void *)poll}
        BOTH(enumerates_and_echoes),
        BOTH(detach_comes_back_as_the_bootloader),
        BOTH(update_command_comes_back_as_the_bootloader),
        BOTH(rom_command_reaches_system_memory),
        BOTH(detach_during_busy_cdc_transfer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
