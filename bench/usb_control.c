/* EP0 control-transfer figures of the bootloader on l4sim's virtual host: modelled bytes/s
 * for 64-byte EP0 packets (DfuSe UPLOAD of 2048 bytes = 32 IN packets) and small requests
 * (GET_DESCRIPTOR device), with the wall time each transfer costs the simulator. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sim.h"
#include "usbhost.h"

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: usb_control BOOTLOADER.elf\n");
        return 2;
    }
    sim_t *sim = sim_create(NULL);
    if (!sim || sim_load_elf(sim, argv[1]) != 0)
        return 1;
    sim_reset(sim, SIM_RESET_POWER_ON, SIM_CAUSE_POWER_ON);
    struct usbhost *host = usbhost_attach(sim);
    if (!usbhost_wait_state(host, USBH_CONFIGURED, 3000)) {
        fprintf(stderr, "usb_control: no enumeration: %s\n", usbhost_failure(host));
        return 1;
    }
    static const uint8_t set_alt0[8] = {0x01, 11, 0, 0, 0, 0, 0, 0};
    uint32_t n;
    usbhost_control_sync(host, set_alt0, NULL, &n, 1000);

    struct {
        const char *name;
        uint8_t setup[8];
        unsigned count;
    } cases[] = {
        {"GET_DESCRIPTOR device (18 B)", {0x80, 6, 0, 1, 0, 0, 18, 0}, 2000},
        {"GET_DESCRIPTOR config (full)", {0x80, 6, 0, 2, 0, 0, 255, 0}, 1000},
        {"DfuSe UPLOAD block (2048 B)", {0xA1, 2, 2, 0, 0, 0, 0x00, 0x08}, 500},
    };
    static uint8_t buf[4096];
    printf("EP0 control transfers, bootloader on l4sim's virtual host (64-byte EP0, full speed)\n");
    printf("%-32s %7s %9s %12s %14s %12s\n", "request", "count", "bytes", "modelled B/s", "modelled us/xfer",
           "wall us/xfer");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint64_t t0 = sim_now(sim);
        double w0 = wall_s();
        uint64_t bytes = 0;
        for (unsigned i = 0; i < cases[c].count; i++) {
            int st = usbhost_control_sync(host, cases[c].setup, buf, &n, 1000);
            if (st != 0) {
                fprintf(stderr, "usb_control: %s #%u failed: %d\n", cases[c].name, i, st);
                return 1;
            }
            bytes += n;
        }
        double modelled = (double)(sim_now(sim) - t0) / (double)SIM_PS_PER_S;
        double wall = wall_s() - w0;
        printf("%-32s %7u %9llu %12.0f %14.1f %12.1f\n", cases[c].name, cases[c].count, (unsigned long long)bytes,
               (double)bytes / modelled, modelled * 1e6 / cases[c].count, wall * 1e6 / cases[c].count);
        if (c == 1) {
            /* after the upload pointer is set, UPLOAD blocks read flash */
            static const uint8_t abort_req[8] = {0x21, 6, 0, 0, 0, 0, 0, 0};
            usbhost_control_sync(host, abort_req, NULL, &n, 1000);
        }
    }
    struct usbh_stats st;
    usbhost_stats(host, &st);
    printf("(bus: %llu SETUP, %llu IN, %llu OUT packets, %llu NAKs, %llu frames)\n",
           (unsigned long long)st.setup_packets, (unsigned long long)st.in_packets,
           (unsigned long long)st.out_packets, (unsigned long long)st.naks, (unsigned long long)st.frames);
    sim_destroy(sim);
    return 0;
}
