/* A libusb client for the end-to-end USB tests (tests/e2e/usb_storm.sh, usb_lsusb.sh),
 * run under l4sim's umockdev bridge against the real bootloader:
 *
 *   storm_client storm VID:PID N   N GET_DESCRIPTOR requests (device, configuration whole
 *                                  and header only, language list, every string the
 *                                  descriptors name), cycling; each reply must be the
 *                                  same complete bytes as the first read of it. Prints the
 *                                  count, the wall time and the rate; exit 1 on any
 *                                  error, short or different reply.
 *   storm_client dump VID:PID      the descriptors as the host read them, one key=value
 *                                  per line (what lsusb -v would show), for the script
 *                                  to compare with what the firmware declares.
 *   storm_client dfuse VID:PID ALT XX..  one DfuSe command (DNLOAD block 0 with the hex
 *                                  bytes XX..) on alternate setting ALT, then GETSTATUS
 *                                  until the device is no longer busy; prints every
 *                                  reply ("dnload: ok|<libusb error>", "getstatus:
 *                                  state=S status=B poll=MS"), then CLRSTATUS if the
 *                                  device ended in dfuERROR. For commands dfu-util will
 *                                  not send (an erase of a read-only page).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libusb.h>

#define TIMEOUT_MS 2000u
#define LANGID_US_ENGLISH 0x0409u
#define MAX_REQUESTS 16u

struct descriptor_request {
    const char *what;
    uint8_t type, index;
    uint16_t langid, length;
    uint8_t expected[512];
    int expected_len;
};

static int get_descriptor(libusb_device_handle *h, const struct descriptor_request *r, uint8_t *buf)
{
    return libusb_control_transfer(h, LIBUSB_ENDPOINT_IN | LIBUSB_REQUEST_TYPE_STANDARD | LIBUSB_RECIPIENT_DEVICE,
                                   LIBUSB_REQUEST_GET_DESCRIPTOR, (uint16_t)((r->type << 8) | r->index), r->langid,
                                   buf, r->length, TIMEOUT_MS);
}

static bool parse_ids(const char *text, uint16_t *vid, uint16_t *pid)
{
    unsigned v, p;
    if (sscanf(text, "%x:%x", &v, &p) != 2 || v > 0xFFFFu || p > 0xFFFFu)
        return false;
    *vid = (uint16_t)v;
    *pid = (uint16_t)p;
    return true;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void add_request(struct descriptor_request *list, unsigned *n, const char *what, uint8_t type,
                        uint8_t index, uint16_t langid, uint16_t length)
{
    if (*n == MAX_REQUESTS)
        return;
    list[(*n)++] = (struct descriptor_request){
        .what = what, .type = type, .index = index, .langid = langid, .length = length};
}

static int storm(libusb_device_handle *h, long count)
{
    struct libusb_device_descriptor dd;
    if (libusb_get_device_descriptor(libusb_get_device(h), &dd) != 0)
        return 1;
    uint8_t header[9];
    struct descriptor_request probe = {.type = LIBUSB_DT_CONFIG, .length = sizeof header};
    if (get_descriptor(h, &probe, header) != (int)sizeof header) {
        fprintf(stderr, "storm: configuration header not read\n");
        return 1;
    }
    uint16_t total = (uint16_t)(header[2] | header[3] << 8);
    if (total > sizeof probe.expected) {
        fprintf(stderr, "storm: configuration of %u bytes is larger than this client handles\n", total);
        return 1;
    }

    struct descriptor_request req[MAX_REQUESTS];
    unsigned n = 0;
    add_request(req, &n, "device", LIBUSB_DT_DEVICE, 0, 0, LIBUSB_DT_DEVICE_SIZE);
    add_request(req, &n, "configuration", LIBUSB_DT_CONFIG, 0, 0, total);
    add_request(req, &n, "configuration header", LIBUSB_DT_CONFIG, 0, 0, 9);
    add_request(req, &n, "language list", LIBUSB_DT_STRING, 0, 0, 255);
    /* Every string the device declares: 1..3 from the device descriptor, and as many
     * interface strings as follow (the bootloader has 4..6 for its three alts). */
    for (unsigned i = 1; i <= 6; i++)
        add_request(req, &n, "string", LIBUSB_DT_STRING, (uint8_t)i, LANGID_US_ENGLISH, 255);

    for (unsigned i = 0; i < n; i++) {
        req[i].expected_len = get_descriptor(h, &req[i], req[i].expected);
        if (req[i].expected_len <= 0) {
            fprintf(stderr, "storm: first read of %s %u failed: %s\n", req[i].what, req[i].index,
                    libusb_error_name(req[i].expected_len));
            return 1;
        }
    }
    /* Completeness of the reference copies: each says its own length. */
    if (req[0].expected_len != LIBUSB_DT_DEVICE_SIZE || req[1].expected_len != total ||
        req[2].expected_len != 9) {
        fprintf(stderr, "storm: reference replies incomplete (%d, %d of %u, %d)\n", req[0].expected_len,
                req[1].expected_len, total, req[2].expected_len);
        return 1;
    }
    for (unsigned i = 3; i < n; i++)
        if (req[i].expected_len != req[i].expected[0]) {
            fprintf(stderr, "storm: string %u: reply of %d bytes, bLength says %u\n", req[i].index,
                    req[i].expected_len, req[i].expected[0]);
            return 1;
        }

    long errors = 0, short_replies = 0, different = 0;
    double t0 = now_s();
    for (long k = 0; k < count; k++) {
        const struct descriptor_request *r = &req[k % n];
        uint8_t buf[512];
        memset(buf, 0xA5, sizeof buf);
        int got = get_descriptor(h, r, buf);
        if (got < 0) {
            if (errors++ < 5)
                fprintf(stderr, "storm: request %ld (%s %u): %s\n", k, r->what, r->index, libusb_error_name(got));
        } else if (got != r->expected_len) {
            if (short_replies++ < 5)
                fprintf(stderr, "storm: request %ld (%s %u): %d bytes, wanted %d\n", k, r->what, r->index, got,
                        r->expected_len);
        } else if (memcmp(buf, r->expected, (size_t)got) != 0) {
            if (different++ < 5)
                fprintf(stderr, "storm: request %ld (%s %u): bytes differ\n", k, r->what, r->index);
        }
    }
    double wall = now_s() - t0;
    printf("storm: %ld GET_DESCRIPTOR requests over %u distinct descriptors in %.2f s wall (%.0f/s): "
           "%ld errors, %ld wrong length, %ld different\n",
           count, n, wall, wall > 0 ? (double)count / wall : 0.0, errors, short_replies, different);
    return errors || short_replies || different ? 1 : 0;
}

static void print_string(libusb_device_handle *h, const char *key, uint8_t index)
{
    unsigned char text[256];
    if (index == 0) {
        printf("%s=\n", key);
        return;
    }
    int r = libusb_get_string_descriptor_ascii(h, index, text, sizeof text);
    if (r < 0)
        printf("%s=<error %s>\n", key, libusb_error_name(r));
    else
        printf("%s=%s\n", key, (char *)text);
}

static int dump(libusb_device_handle *h)
{
    libusb_device *dev = libusb_get_device(h);
    struct libusb_device_descriptor dd;
    if (libusb_get_device_descriptor(dev, &dd) != 0)
        return 1;
    printf("device.bcdUSB=%04x\n", dd.bcdUSB);
    printf("device.class=%02x/%02x/%02x\n", dd.bDeviceClass, dd.bDeviceSubClass, dd.bDeviceProtocol);
    printf("device.bMaxPacketSize0=%u\n", dd.bMaxPacketSize0);
    printf("device.id=%04x:%04x\n", dd.idVendor, dd.idProduct);
    printf("device.bcdDevice=%04x\n", dd.bcdDevice);
    printf("device.bNumConfigurations=%u\n", dd.bNumConfigurations);
    print_string(h, "device.manufacturer", dd.iManufacturer);
    print_string(h, "device.product", dd.iProduct);
    print_string(h, "device.serial", dd.iSerialNumber);

    uint8_t langs[255];
    int r = libusb_get_string_descriptor(h, 0, 0, langs, sizeof langs);
    printf("strings.languages=");
    for (int i = 2; i + 1 < r; i += 2)
        printf("%s%04x", i > 2 ? "," : "", langs[i] | langs[i + 1] << 8);
    printf("\n");

    struct libusb_config_descriptor *cfg;
    if (libusb_get_active_config_descriptor(dev, &cfg) != 0)
        return 1;
    printf("config.wTotalLength=%u\n", cfg->wTotalLength);
    printf("config.bNumInterfaces=%u\n", cfg->bNumInterfaces);
    printf("config.bConfigurationValue=%u\n", cfg->bConfigurationValue);
    printf("config.bmAttributes=%02x\n", cfg->bmAttributes);
    printf("config.MaxPower=%u\n", cfg->MaxPower);
    const unsigned char *functional = NULL;
    int functional_len = 0;
    for (int i = 0; i < cfg->bNumInterfaces; i++) {
        const struct libusb_interface *itf = &cfg->interface[i];
        printf("interface%d.alts=%d\n", i, itf->num_altsetting);
        for (int a = 0; a < itf->num_altsetting; a++) {
            const struct libusb_interface_descriptor *alt = &itf->altsetting[a];
            char key[64];
            printf("interface%d.alt%d=%u class=%02x/%02x/%02x endpoints=%u\n", i, a, alt->bAlternateSetting,
                   alt->bInterfaceClass, alt->bInterfaceSubClass, alt->bInterfaceProtocol, alt->bNumEndpoints);
            snprintf(key, sizeof key, "interface%d.alt%d.name", i, a);
            print_string(h, key, alt->iInterface);
            if (alt->extra_length >= 9 && alt->extra[1] == 0x21) {
                functional = alt->extra;
                functional_len = alt->extra_length;
            }
        }
    }
    if (!functional && cfg->extra_length >= 9 && cfg->extra[1] == 0x21) {
        functional = cfg->extra;
        functional_len = cfg->extra_length;
    }
    if (functional) {
        printf("dfu.bLength=%u\n", functional[0]);
        printf("dfu.extra_bytes=%d\n", functional_len);
        printf("dfu.bmAttributes=%02x\n", functional[2]);
        printf("dfu.wDetachTimeOut=%u\n", functional[3] | functional[4] << 8);
        printf("dfu.wTransferSize=%u\n", functional[5] | functional[6] << 8);
        printf("dfu.bcdDFUVersion=%04x\n", functional[7] | functional[8] << 8);
    } else {
        printf("dfu.functional=missing\n");
    }
    libusb_free_config_descriptor(cfg);
    return 0;
}

enum { DFU_DNLOAD = 1, DFU_GETSTATUS = 3, DFU_CLRSTATUS = 4 };
enum { DFU_STATE_DNBUSY = 4, DFU_STATE_ERROR = 10 };
#define DFU_OUT (LIBUSB_ENDPOINT_OUT | LIBUSB_REQUEST_TYPE_CLASS | LIBUSB_RECIPIENT_INTERFACE)
#define DFU_IN (LIBUSB_ENDPOINT_IN | LIBUSB_REQUEST_TYPE_CLASS | LIBUSB_RECIPIENT_INTERFACE)

static int dfuse_command(libusb_device_handle *h, int alt, int nbytes, char **hex)
{
    uint8_t cmd[16];
    if (nbytes < 1 || nbytes > (int)sizeof cmd)
        return 2;
    for (int i = 0; i < nbytes; i++)
        cmd[i] = (uint8_t)strtoul(hex[i], NULL, 16);
    int r = libusb_claim_interface(h, 0);
    if (r == 0)
        r = libusb_set_interface_alt_setting(h, 0, alt);
    if (r != 0) {
        fprintf(stderr, "dfuse: claim/alt %d: %s\n", alt, libusb_error_name(r));
        return 1;
    }
    r = libusb_control_transfer(h, DFU_OUT, DFU_DNLOAD, 0, 0, cmd, (uint16_t)nbytes, TIMEOUT_MS);
    if (r == nbytes)
        printf("dnload: ok\n");
    else
        printf("dnload: %s\n", r < 0 ? libusb_error_name(r) : "short");
    uint8_t st[6] = {0};
    for (int polls = 0; polls < 100; polls++) {
        r = libusb_control_transfer(h, DFU_IN, DFU_GETSTATUS, 0, 0, st, sizeof st, TIMEOUT_MS);
        if (r != (int)sizeof st) {
            printf("getstatus: %s\n", r < 0 ? libusb_error_name(r) : "short");
            return 1;
        }
        unsigned poll_ms = st[1] | st[2] << 8 | (unsigned)st[3] << 16;
        printf("getstatus: state=%u status=%u poll=%u\n", st[4], st[0], poll_ms);
        if (st[4] != DFU_STATE_DNBUSY)
            break;
        struct timespec ts = {.tv_sec = poll_ms / 1000u, .tv_nsec = (long)(poll_ms % 1000u) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (st[4] == DFU_STATE_ERROR) {
        r = libusb_control_transfer(h, DFU_OUT, DFU_CLRSTATUS, 0, 0, NULL, 0, TIMEOUT_MS);
        printf("clrstatus: %s\n", r == 0 ? "ok" : libusb_error_name(r));
    }
    libusb_release_interface(h, 0);
    return 0;
}

int main(int argc, char **argv)
{
    uint16_t vid, pid;
    if (argc < 3 || !parse_ids(argv[2], &vid, &pid) || (strcmp(argv[1], "storm") == 0 && argc != 4) ||
        (strcmp(argv[1], "dfuse") == 0 && argc < 5)) {
        fprintf(stderr, "usage: storm_client storm VID:PID COUNT | dump VID:PID | dfuse VID:PID ALT XX..\n");
        return 2;
    }
    libusb_context *ctx;
    if (libusb_init(&ctx) != 0)
        return 1;
    libusb_device_handle *h = libusb_open_device_with_vid_pid(ctx, vid, pid);
    if (!h) {
        fprintf(stderr, "storm_client: %04x:%04x not found\n", vid, pid);
        libusb_exit(ctx);
        return 1;
    }
    int rc;
    if (strcmp(argv[1], "storm") == 0)
        rc = storm(h, strtol(argv[3], NULL, 10));
    else if (strcmp(argv[1], "dump") == 0)
        rc = dump(h);
    else if (strcmp(argv[1], "dfuse") == 0)
        rc = dfuse_command(h, atoi(argv[3]), argc - 4, argv + 4);
    else {
        fprintf(stderr, "storm_client: unknown mode %s\n", argv[1]);
        rc = 2;
    }
    libusb_close(h);
    libusb_exit(ctx);
    return rc;
}
