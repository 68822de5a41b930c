/* Modelled DfuSe download/upload throughput of the bootloader, in virtual time.
 *
 * l4sim's own virtual host replays the request sequence dfu-util 0.11 sends for
 * `dfu-util -a 0 -s ADDR -D file` (shared/reference/dfu-dfuse.md §3): pass 1 erases every
 * page (ERASE_PAGE + GETSTATUS polls), pass 2 sends SET_ADDRESS + DNLOAD(wBlockNum 2) per
 * 2 KiB chunk with GETSTATUS polls, then ABORT; dfu-util's sleeps of bwPollTimeout happen
 * here in virtual time, after every GETSTATUS as dfu-util does. So the figure is the
 * board's, not the simulator's or the wall clock's. Upload replays `-U` (SET_ADDRESS,
 * ABORT, UPLOAD wBlockNum 2, 3, ...). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"
#include "usbhost.h"

#define XFER 2048u

static struct usbhost *host;
static sim_t *sim;
static unsigned polls, busy_polls;

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int status)
{
    fprintf(stderr, "dfu_throughput: %s failed (status %d) at %.3f ms modelled\n", what, status,
            (double)sim_now(sim) / (double)SIM_PS_PER_MS);
    exit(1);
}

static int control(uint8_t type, uint8_t req, uint16_t value, uint16_t index, uint8_t *data, uint16_t len,
                   uint32_t *actual)
{
    uint8_t setup[8] = {type, req, (uint8_t)value, (uint8_t)(value >> 8), (uint8_t)index, (uint8_t)(index >> 8),
                        (uint8_t)len, (uint8_t)(len >> 8)};
    uint32_t got = 0;
    int st = usbhost_control_sync(host, setup, data, &got, 5000);
    if (actual)
        *actual = got;
    return st;
}

/* GETSTATUS, then sleep bwPollTimeout in virtual time, as dfu-util does after every reply. */
static uint8_t get_status(uint8_t *status_out)
{
    uint8_t st[6];
    uint32_t n;
    int rc = control(0xA1, 3, 0, 0, st, 6, &n);
    if (rc != 0 || n != 6)
        die("GETSTATUS", rc);
    polls++;
    uint32_t poll_ms = st[1] | (st[2] << 8) | ((uint32_t)st[3] << 16);
    if (st[4] == 4)
        busy_polls++;
    sim_run_for(sim, (uint64_t)poll_ms * SIM_PS_PER_MS);
    if (status_out)
        *status_out = st[0];
    return st[4];
}

static void special(uint8_t cmd, uint32_t addr)
{
    uint8_t buf[5] = {cmd, (uint8_t)addr, (uint8_t)(addr >> 8), (uint8_t)(addr >> 16), (uint8_t)(addr >> 24)};
    int rc = control(0x21, 1, 0, 0, buf, 5, NULL);
    if (rc != 0)
        die("DfuSe command", rc);
    uint8_t status;
    uint8_t state = get_status(&status);
    if (state != 4)
        die("DfuSe command: first GETSTATUS not dfuDNBUSY", state);
    while (state == 4)
        state = get_status(&status);
    if (status != 0)
        die("DfuSe command status", status);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: dfu_throughput BOOTLOADER.elf KIB\n");
        return 2;
    }
    uint32_t kib = (uint32_t)strtoul(argv[2], NULL, 0);
    uint32_t base = 0x08004000u, len = kib * 1024u;
    sim_config cfg;
    sim_config_defaults(&cfg);
    sim = sim_create(&cfg);
    if (!sim || sim_load_elf(sim, argv[1]) != 0)
        return 1;
    sim_reset(sim, SIM_RESET_POWER_ON, SIM_CAUSE_POWER_ON);
    host = usbhost_attach(sim);
    double w0 = wall_s();
    if (!usbhost_wait_state(host, USBH_CONFIGURED, 2000)) {
        fprintf(stderr, "dfu_throughput: bootloader did not enumerate: %s\n", usbhost_failure(host));
        return 1;
    }
    double t_enum = (double)sim_now(sim) / (double)SIM_PS_PER_MS;

    uint8_t *image = malloc(len), *back = malloc(len);
    srand(1);
    for (uint32_t i = 0; i < len; i++)
        image[i] = (uint8_t)rand();
    if (control(0x01, 11, 0, 0, NULL, 0, NULL) != 0) /* SET_INTERFACE alt 0 */
        die("SET_INTERFACE", -1);
    get_status(NULL);

    uint64_t t0 = sim_now(sim);
    unsigned p0 = polls;
    for (uint32_t a = base; a < base + len; a += XFER)
        special(0x41, a);
    uint64_t t_erased = sim_now(sim);
    for (uint32_t off = 0; off < len; off += XFER) {
        special(0x21, base + off);
        int rc = control(0x21, 1, 2, 0, image + off, XFER, NULL);
        if (rc != 0)
            die("DNLOAD", rc);
        uint8_t status, state;
        do
            state = get_status(&status);
        while (state != 5 && state != 10 && state != 7);
        if (state != 5 || status != 0)
            die("DNLOAD block", state);
    }
    control(0x21, 6, 0, 0, NULL, 0, NULL); /* ABORT */
    if (get_status(NULL) != 2)
        die("ABORT to dfuIDLE", -1);
    uint64_t t1 = sim_now(sim);

    special(0x21, base);
    control(0x21, 6, 0, 0, NULL, 0, NULL);
    get_status(NULL);
    uint64_t u0 = sim_now(sim);
    for (uint32_t off = 0, block = 2; off < len; off += XFER, block++) {
        uint32_t n;
        int rc = control(0xA1, 2, (uint16_t)block, 0, back + off, XFER, &n);
        if (rc != 0 || n != XFER)
            die("UPLOAD", rc);
    }
    control(0x21, 6, 0, 0, NULL, 0, NULL);
    uint64_t u1 = sim_now(sim);
    double wall = wall_s() - w0;
    int same = memcmp(image, back, len) == 0;

    struct usbh_stats st;
    usbhost_stats(host, &st);
    double dl_ms = (double)(t1 - t0) / (double)SIM_PS_PER_MS, er_ms = (double)(t_erased - t0) / (double)SIM_PS_PER_MS;
    double ul_ms = (double)(u1 - u0) / (double)SIM_PS_PER_MS;
    printf("DfuSe transfer through l4sim's virtual host (modelled board time; dfu-util 0.11 request sequence)\n");
    printf("%-34s %12s\n", "figure", "value");
    printf("%-34s %12.1f\n", "enumerated after reset (ms)", t_enum);
    printf("%-34s %12u\n", "download size (bytes)", len);
    printf("%-34s %12.1f\n", "  erase pass (ms)", er_ms);
    printf("%-34s %12.1f\n", "  write pass (ms)", dl_ms - er_ms);
    printf("%-34s %12.1f\n", "download total (ms)", dl_ms);
    printf("%-34s %12.1f\n", "download KiB/s (erase included)", (double)len / 1024.0 / (dl_ms / 1000.0));
    printf("%-34s %12.1f\n", "flash-bound ceiling KiB/s", 2.0 / ((22.02 + 256 * 0.08169) / 1000.0));
    printf("%-34s %12u\n", "GETSTATUS polls (busy)", polls - p0);
    printf("%-34s %12u\n", "  of which dfuDNBUSY", busy_polls);
    printf("%-34s %12.1f\n", "upload KiB/s", (double)len / 1024.0 / (ul_ms / 1000.0));
    printf("%-34s %12s\n", "upload equals download", same ? "yes" : "NO");
    printf("%-34s %12llu\n", "NAKed packets", (unsigned long long)st.naks);
    printf("%-34s %12.1f\n", "wall time (s)", wall);
    sim_destroy(sim);
    return same ? 0 : 1;
}
