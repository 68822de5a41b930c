/* l4sim: the virtual STM32L476G-EVAL on the command line. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

#if __has_include("rtc.h")
#include "rtc.h"
#define L4SIM_HAVE_RTC 1
#endif
#if __has_include("gpio.h")
#include "gpio.h"
#define L4SIM_HAVE_GPIO 1
#endif
#if __has_include("flash.h")
#include "flash.h"
#define L4SIM_HAVE_FLASH 1
#endif
#if __has_include("otgfs.h")
#include "otgfs.h"
#define L4SIM_HAVE_OTG 1
#endif
#if __has_include("usb_bridge.h")
#include "usb_bridge.h"
#include "usbhost.h"
#define L4SIM_HAVE_BRIDGE 1
#endif

enum { EXIT_OK = 0, EXIT_NOT_SEEN = 1, EXIT_USAGE = 2, EXIT_FAULT = 3 };

static void usage(FILE *f)
{
    fputs("usage: l4sim [options] [-- COMMAND ARGS...]\n"
          "  --board NAME            board model (stm32l476g-eval)\n"
          "  --load FILE.elf         load an ELF at its load addresses (repeatable)\n"
          "  --load FILE.bin@ADDR    load a raw binary at ADDR (hex)\n"
          "  --run-for MS            run for MS milliseconds of modelled time (default 1000)\n"
          "  --until-console TEXT    stop with status 0 once the console printed TEXT, else 1\n"
          "  --trace LIST            cpu,mem,irq,rcc,flash,gpio,usb,pwr,misc or all\n"
          "  --trace-file FILE       trace to FILE instead of stderr\n"
          "  --timeline FILE         write milestones (resets, USB, console lines) with modelled time\n"
          "  --console FILE          console (USART) output to FILE instead of stdout\n"
          "  --flash-image FILE      keep flash and option bytes in FILE across runs\n"
          "  --power-cut-at WHEN     cut power at MS of modelled time, or at flash operation op:N\n"
          "  --press-button          hold the tamper button (PC13) from reset on\n"
          "  --backup-reg N=VALUE    start with RTC backup register N = VALUE, as if firmware had\n"
          "                          written it and reset the chip by software (0=0x21554644 is\n"
          "                          the DFU handshake)\n"
          "  --strict                a reserved or unimplemented register access is an error\n"
          "  --no-usb-quirk          OTG_FS without the core 3.10a extra EP0 status words\n"
          "  --usb                   plug in the virtual USB host\n"
          "  --diagnose-usb          after the run, say why the host does (not) see a device\n"
          "  --wait-usb MS           with a COMMAND: first run the board until the host has the\n"
          "                          device configured, up to MS modelled ms (default 3000; 0 = don't)\n"
          "  --stats                 print instructions, modelled and wall time\n"
          "  -- COMMAND ARGS...      run COMMAND (e.g. dfu-util) against the board's USB port;\n"
          "                          l4sim exits with COMMAND's status\n",
          f);
}

static uint32_t parse_trace(const char *list)
{
    static const struct {
        const char *name;
        uint32_t bit;
    } names[] = {{"cpu", SIM_TR_CPU},   {"mem", SIM_TR_MEM},   {"irq", SIM_TR_IRQ}, {"rcc", SIM_TR_RCC},
                 {"flash", SIM_TR_FLASH}, {"gpio", SIM_TR_GPIO}, {"usb", SIM_TR_USB}, {"pwr", SIM_TR_PWR},
                 {"misc", SIM_TR_MISC}, {"all", 0xFFFFFFFFu}};
    uint32_t mask = 0;
    char *copy = strdup(list), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        bool found = false;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcmp(tok, names[i].name) == 0) {
                mask |= names[i].bit;
                found = true;
            }
        if (!found) {
            fprintf(stderr, "l4sim: unknown trace category '%s'\n", tok);
            free(copy);
            exit(EXIT_USAGE);
        }
    }
    free(copy);
    return mask;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    sim_config cfg;
    sim_config_defaults(&cfg);
    const char *loads[16];
    int n_loads = 0;
    double run_ms = -1;
    const char *until_console = NULL, *power_cut = NULL;
    bool stats = false, press_button = false, want_usb = false, diagnose_usb = false;
    double wait_usb_ms = 3000;
    unsigned bkp_n[8], n_bkp = 0;
    uint32_t bkp_v[8];

    enum { O_BOARD = 256, O_LOAD, O_RUN_FOR, O_UNTIL, O_TRACE, O_TRACE_FILE, O_CONSOLE, O_FLASH_IMAGE, O_POWER_CUT,
           O_BUTTON, O_STRICT, O_NO_QUIRK, O_USB, O_DIAG, O_STATS, O_HELP, O_TIMELINE, O_WAIT_USB, O_BKP };
    static const struct option opts[] = {
        {"board", required_argument, 0, O_BOARD},
        {"load", required_argument, 0, O_LOAD},
        {"run-for", required_argument, 0, O_RUN_FOR},
        {"until-console", required_argument, 0, O_UNTIL},
        {"trace", required_argument, 0, O_TRACE},
        {"trace-file", required_argument, 0, O_TRACE_FILE},
        {"console", required_argument, 0, O_CONSOLE},
        {"flash-image", required_argument, 0, O_FLASH_IMAGE},
        {"power-cut-at", required_argument, 0, O_POWER_CUT},
        {"press-button", no_argument, 0, O_BUTTON},
        {"strict", no_argument, 0, O_STRICT},
        {"no-usb-quirk", no_argument, 0, O_NO_QUIRK},
        {"usb", no_argument, 0, O_USB},
        {"diagnose-usb", no_argument, 0, O_DIAG},
        {"stats", no_argument, 0, O_STATS},
        {"help", no_argument, 0, O_HELP},
        {"timeline", required_argument, 0, O_TIMELINE},
        {"wait-usb", required_argument, 0, O_WAIT_USB},
        {"backup-reg", required_argument, 0, O_BKP},
        {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case O_BOARD: cfg.board = optarg; break;
        case O_LOAD:
            if (n_loads == 16) {
                fprintf(stderr, "l4sim: too many --load\n");
                return EXIT_USAGE;
            }
            loads[n_loads++] = optarg;
            break;
        case O_RUN_FOR: {
            char *end;
            run_ms = strtod(optarg, &end);
            if (*end || run_ms < 0) {
                fprintf(stderr, "l4sim: --run-for takes milliseconds, got '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        }
        case O_UNTIL: until_console = optarg; break;
        case O_TRACE: cfg.trace_mask |= parse_trace(optarg); break;
        case O_TRACE_FILE: cfg.trace_file = optarg; break;
        case O_TIMELINE: cfg.timeline_file = optarg; break;
        case O_WAIT_USB: wait_usb_ms = strtod(optarg, NULL); break;
        case O_BKP: {
            char *end;
            unsigned long n = strtoul(optarg, &end, 0);
            if (*end != '=' || n > 31 || n_bkp == 8) {
                fprintf(stderr, "l4sim: --backup-reg takes N=VALUE with N in 0..31\n");
                return EXIT_USAGE;
            }
            bkp_n[n_bkp] = (unsigned)n;
            bkp_v[n_bkp++] = (uint32_t)strtoul(end + 1, NULL, 0);
            break;
        }
        case O_CONSOLE: cfg.console_file = optarg; break;
        case O_FLASH_IMAGE: cfg.flash_image = optarg; break;
        case O_POWER_CUT: power_cut = optarg; break;
        case O_BUTTON: press_button = true; break;
        case O_STRICT: cfg.strict = true; break;
        case O_NO_QUIRK: cfg.usb_quirk_310a = false; break;
        case O_USB: want_usb = true; break;
        case O_DIAG: diagnose_usb = true; want_usb = true; break;
        case O_STATS: stats = true; break;
        case 'h':
        case O_HELP: usage(stdout); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    char **command = optind < argc ? argv + optind : NULL;
    if (command)
        want_usb = true;
    if (n_loads == 0 && !cfg.flash_image) {
        fprintf(stderr, "l4sim: nothing to run: give --load FILE (or --flash-image FILE)\n");
        usage(stderr);
        return EXIT_USAGE;
    }

    sim_t *sim = sim_create(&cfg);
    if (!sim)
        return EXIT_FAULT;
    for (int i = 0; i < n_loads; i++) {
        const char *at = strrchr(loads[i], '@');
        int rc;
        if (at) {
            char *path = strndup(loads[i], (size_t)(at - loads[i]));
            char *end;
            unsigned long addr = strtoul(at + 1, &end, 16);
            if (*end) {
                fprintf(stderr, "l4sim: --load %s: address after @ must be hex\n", loads[i]);
                return EXIT_USAGE;
            }
            rc = sim_load_bin(sim, path, (uint32_t)addr);
            free(path);
        } else {
            rc = sim_load_elf(sim, loads[i]);
        }
        if (rc != 0) {
            sim_destroy(sim);
            return EXIT_USAGE;
        }
    }
    if (power_cut) {
#ifdef L4SIM_HAVE_FLASH
        if (strncmp(power_cut, "op:", 3) == 0)
            flash_power_cut_arm(sim, 0, (unsigned)strtoul(power_cut + 3, NULL, 10));
        else
            flash_power_cut_arm(sim, (uint64_t)(strtod(power_cut, NULL) * (double)SIM_PS_PER_MS), 0);
#else
        fprintf(stderr, "l4sim: --power-cut-at needs the flash model\n");
        return EXIT_USAGE;
#endif
    }
    sim_reset(sim, SIM_RESET_POWER_ON, SIM_CAUSE_POWER_ON);
#ifdef L4SIM_HAVE_RTC
    if (n_bkp) {
        /* As on a board: something ran since power-on (and, like our bootloader, cleared
         * the reset flags with RMVF), wrote the backup registers, then reset the chip by
         * software. The bootloader ignores backup registers after a power-on reset. */
        for (unsigned i = 0; i < n_bkp; i++)
            rtc_backup_write_host(sim, bkp_n[i], bkp_v[i]);
        sim_bus_write(sim, 0x40021094u, sim_bus_read(sim, 0x40021094u, 4) | (1u << 23), 4); /* RCC_CSR.RMVF */
        sim_reset(sim, SIM_RESET_SYSTEM, SIM_CAUSE_SOFTWARE);
    }
#else
    if (n_bkp) {
        fprintf(stderr, "l4sim: --backup-reg needs the RTC model\n");
        return EXIT_USAGE;
    }
#endif
#ifdef L4SIM_HAVE_GPIO
    if (press_button)
        gpio_drive(sim, 'C', 13, 1);
#else
    if (press_button) {
        fprintf(stderr, "l4sim: --press-button needs the GPIO model\n");
        return EXIT_USAGE;
    }
#endif
    if (until_console)
        sim_stop_on_console(sim, until_console);

    double t0 = wall_s();
    int status = EXIT_OK;
    enum sim_stop stop = SIM_STOP_TIME;
#ifdef L4SIM_HAVE_BRIDGE
    struct usbhost *host = want_usb ? usbhost_attach(sim) : NULL;
    if (command) {
        char *err = NULL;
        struct usb_bridge *bridge = usb_bridge_start(sim, host, &err);
        if (!bridge) {
            fprintf(stderr, "l4sim: USB bridge: %s\n", err ? err : "failed");
            sim_destroy(sim);
            return EXIT_FAULT;
        }
        int cmd_status = 0;
        /* A person plugs the board in and then types the command: let it enumerate first. */
        if (wait_usb_ms > 0 && !usb_bridge_wait_device(bridge, (uint64_t)(wait_usb_ms * (double)SIM_PS_PER_MS))) {
#ifdef L4SIM_HAVE_OTG
            const char *why = otgfs_connect_blocker(sim);
            fprintf(stderr, "l4sim: no USB device after %.0f ms (modelled): %s\n", wait_usb_ms,
                    why ? why : usbhost_failure(host) ? usbhost_failure(host) : "enumeration did not finish");
#endif
        }
        if (usb_bridge_run_command(bridge, command, &cmd_status) != 0)
            status = EXIT_FAULT;
        else
            status = cmd_status;
        usb_bridge_stop(bridge);
    } else
#else
    if (want_usb || command) {
        fprintf(stderr, "l4sim: this build has no USB host/bridge yet\n");
        sim_destroy(sim);
        return EXIT_USAGE;
    }
#endif
    {
        uint64_t duration = (uint64_t)((run_ms < 0 ? 1000.0 : run_ms) * (double)SIM_PS_PER_MS);
        stop = sim_run_for(sim, duration);
        if (stop == SIM_STOP_FAULT || stop == SIM_STOP_ERROR) {
            fprintf(stderr, "l4sim: %s\n", sim_stop_message(sim));
            status = EXIT_FAULT;
        } else if (stop == SIM_STOP_BREAK) {
            fprintf(stderr, "l4sim: %s\n", sim_stop_message(sim));
            status = until_console ? EXIT_NOT_SEEN : EXIT_OK;
        } else if (until_console) {
            status = stop == SIM_STOP_CONSOLE ? EXIT_OK : EXIT_NOT_SEEN;
            if (status)
                fprintf(stderr, "l4sim: console never printed \"%s\" in %.1f ms (modelled)\n", until_console,
                        (double)sim_now(sim) / (double)SIM_PS_PER_MS);
        }
    }
    double wall = wall_s() - t0;
#ifdef L4SIM_HAVE_OTG
    if (diagnose_usb) {
        const char *why = otgfs_connect_blocker(sim);
        if (why)
            printf("l4sim: USB: the host sees no device: %s\n", why);
        else
            printf("l4sim: USB: device connected (D+ pull-up on)\n");
    }
#else
    (void)diagnose_usb;
#endif
    if (stats) {
        double modelled_s = (double)sim_now(sim) / (double)SIM_PS_PER_S;
        uint64_t n = sim_instructions(sim);
        fprintf(stderr,
                "l4sim stats:\n"
                "  guest instructions      %llu\n"
                "  modelled time           %.3f ms (board time)\n"
                "  wall time               %.3f ms\n"
                "  modelled / wall         %.3f\n"
                "  guest instructions/s    %.1f M (wall)\n",
                (unsigned long long)n, modelled_s * 1e3, wall * 1e3, wall > 0 ? modelled_s / wall : 0.0,
                wall > 0 ? (double)n / wall / 1e6 : 0.0);
    }
    sim_destroy(sim);
    return status;
}
