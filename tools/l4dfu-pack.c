/* l4dfu-pack: stamps an application image (docs/image-format.md §2) and wraps it
 * in a DfuSe .dfu file (§4); with --info, reads a .dfu or stamped .bin back and
 * checks everything in it. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfuse_file.h"
#include "fileio.h"
#include "l4image.h"
#include "l4sig.h"

#define MAX_INFO_FILE (64u * 1024 * 1024)
#define DEFAULT_VENDOR 0x0483u
#define DEFAULT_PRODUCT 0xDF11u
#define DEFAULT_BCD_DEVICE 0xFFFFu
#define DEFAULT_TARGET_NAME "Internal Flash"

struct options {
    const char *input;
    const char *bin_out;
    const char *dfu_out;
    const char *info;
    const char *stamped;
    const char *version_text;
    bool slot_given;
    struct l4img_slot slot;
    bool address_given, size_given;
    uint16_t vendor, product, bcd_device;
    const char *target_name;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: l4dfu-pack --version X.Y.Z [--bin OUT.bin] [--dfu OUT.dfu] [options] IN.bin\n"
            "       l4dfu-pack --stamped IN.bin --dfu OUT.dfu [options]\n"
            "       l4dfu-pack --info FILE [--slot a|b | --address ADDR --slot-size SIZE]\n"
            "\n"
            "Stamps the l4dfu metadata (magic, length, CRC, version) into an application\n"
            "linked for its slot and writes the stamped image and/or a DfuSe file.\n"
            "\n"
            "  --version X.Y.Z      image version (major, minor 0-255; patch 0-65535)\n"
            "  --bin FILE           write the stamped, padded image\n"
            "  --dfu FILE           write a DfuSe file: alt 0, one element at the slot start\n"
            "  --slot a|b           slot A 0x%08X (%u KB, default) or slot B 0x%08X (%u KB)\n"
            "  --address ADDR       slot start for other layouts (with --slot-size)\n"
            "  --slot-size SIZE     slot size in bytes\n"
            "  --device VID:PID     suffix IDs, hex (default %04x:%04x; ffff = any)\n"
            "  --bcd-device HEX     suffix bcdDevice (default %04x = any release)\n"
            "  --target-name NAME   DfuSe target name (default \"%s\")\n"
            "  --stamped FILE       wrap an image stamped (and maybe signed) before, unchanged\n"
            "  --info FILE          print and check a .dfu or stamped .bin; exit 1 on any problem\n"
            "  --help\n",
            L4IMG_SLOT_A_BASE, L4IMG_SLOT_A_SIZE / 1024, L4IMG_SLOT_B_BASE, L4IMG_SLOT_B_SIZE / 1024,
            DEFAULT_VENDOR, DEFAULT_PRODUCT, DEFAULT_BCD_DEVICE, DEFAULT_TARGET_NAME);
}

static bool parse_u32(const char *text, uint32_t *value)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 0);
    if (errno || end == text || *end != '\0' || v > UINT32_MAX || text[0] == '-')
        return false;
    *value = (uint32_t)v;
    return true;
}

static bool parse_hex16(const char *text, uint16_t *value)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 16);
    if (errno || end == text || *end != '\0' || v > 0xFFFF || text[0] == '-')
        return false;
    *value = (uint16_t)v;
    return true;
}

static bool parse_device(const char *text, uint16_t *vendor, uint16_t *product)
{
    const char *colon = strchr(text, ':');
    if (!colon || colon == text || colon - text > 6)
        return false;
    char vid[8];
    memcpy(vid, text, (size_t)(colon - text));
    vid[colon - text] = '\0';
    return parse_hex16(vid, vendor) && parse_hex16(colon + 1, product);
}

static bool slot_from_name(const char *name, struct l4img_slot *slot)
{
    if (strcmp(name, "a") == 0 || strcmp(name, "A") == 0) {
        *slot = (struct l4img_slot){L4IMG_SLOT_A_BASE, L4IMG_SLOT_A_SIZE};
        return true;
    }
    if (strcmp(name, "b") == 0 || strcmp(name, "B") == 0) {
        *slot = (struct l4img_slot){L4IMG_SLOT_B_BASE, L4IMG_SLOT_B_SIZE};
        return true;
    }
    return false;
}

static const char *slot_label(const struct l4img_slot *slot)
{
    if (slot->base == L4IMG_SLOT_A_BASE && slot->size == L4IMG_SLOT_A_SIZE)
        return "slot A";
    if (slot->base == L4IMG_SLOT_B_BASE && slot->size == L4IMG_SLOT_B_SIZE)
        return "slot B";
    return "custom slot";
}

/* ---------------------------------------------------------------- --info */

struct report {
    unsigned problems;
    unsigned warnings;
};

static void problem(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct report *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("error: ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    r->problems++;
}

static void print_hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
}

/* The bytes after `length`: nothing, or exactly one signature trailer. */
static void check_after_image(const uint8_t *data, size_t size, uint32_t length, const char *indent,
                              struct report *r)
{
    const uint8_t *key = NULL;
    switch (l4sig_inspect(data, size, length, &key)) {
    case L4SIG_NONE:
        printf("%ssignature:    none\n", indent);
        return;
    case L4SIG_SHORT:
        problem(r, "%zu bytes present, the image states %" PRIu32, size, length);
        return;
    case L4SIG_BAD_TRAILER:
        problem(r, "%zu bytes after the image's stated length %" PRIu32 " are not covered by its CRC "
                   "and are not a signature trailer",
                size - length, length);
        return;
    case L4SIG_VALID:
    case L4SIG_INVALID:
        break;
    }
    bool valid = l4sig_inspect(data, size, length, &key) == L4SIG_VALID;
    printf("%ssignature:    ed25519, key ", indent);
    print_hex(key, L4IMG_SIG_PUBLIC_KEY_SIZE);
    printf(", %s\n", valid ? "valid" : "INVALID");
    if (!valid)
        problem(r, "the signature does not verify with the key in the trailer");
}

static void describe_image(const uint8_t *data, size_t size, const struct l4img_slot *slot, const char *indent,
                           struct report *r)
{
    printf("%simage: %s at 0x%08" PRIX32 ", %" PRIu32 " bytes\n", indent, slot_label(slot), slot->base,
           slot->size);
    if (size > slot->size)
        problem(r, "%zu bytes do not fit the %" PRIu32 "-byte slot", size, slot->size);
    struct l4img_metadata meta;
    struct l4img_diag diag = {{0}};
    enum l4img_status status = l4img_check(data, size, slot, &meta, &diag);
    if (size < L4IMG_METADATA_END) {
        problem(r, "%s", diag.message);
        return;
    }
    char version[16];
    l4img_format_version(meta.version, version);
    printf("%s  initial SP:   0x%08" PRIX32 "\n", indent, meta.initial_sp);
    printf("%s  reset vector: 0x%08" PRIX32 "\n", indent, meta.reset_vector);
    printf("%s  magic:        0x%08" PRIX32 "\n", indent, meta.magic);
    printf("%s  length:       %" PRIu32 " (0x%" PRIX32 ")\n", indent, meta.length, meta.length);
    printf("%s  crc:          0x%08" PRIX32 "\n", indent, meta.crc);
    printf("%s  version:      %s (0x%08" PRIX32 ")\n", indent, version, meta.version);
    if (status != L4IMG_OK) {
        problem(r, "image: %s: %s", l4img_status_name(status), diag.message);
        return;
    }
    printf("%s  check:        valid\n", indent);
    char deeper[16];
    snprintf(deeper, sizeof deeper, "%s  ", indent);
    check_after_image(data, size, meta.length, deeper, r);
}

static bool slot_for_address(uint32_t address, struct l4img_slot *slot)
{
    if (address == L4IMG_SLOT_A_BASE)
        return slot_from_name("a", slot);
    if (address == L4IMG_SLOT_B_BASE)
        return slot_from_name("b", slot);
    return false;
}

static void info_dfuse(const uint8_t *buf, size_t len, const struct options *opt, struct report *r)
{
    struct dfuse_file file;
    struct dfuse_diag diag = {0, {0}};
    enum dfuse_status status = dfuse_parse(buf, len, &file, &diag);
    if (status != DFUSE_OK) {
        problem(r, "DfuSe: %s at offset %zu (0x%zX): %s", dfuse_status_name(status), diag.offset, diag.offset,
                diag.message);
        return;
    }
    printf("format: DfuSe, %zu bytes\n", len);
    printf("prefix: DfuSe v1, DFUImageSize %" PRIu32 " (%s), targets %u\n", file.image_size,
           file.image_size == len ? "whole file" : "without suffix", file.target_count);
    for (unsigned t = 0; t < file.target_count; t++) {
        const struct dfuse_target *target = &file.targets[t];
        printf("target %u: alt %u, name \"%s\"%s, elements %" PRIu32 "\n", t, target->alt_setting,
               target->named ? target->name : "", target->named ? "" : " (unnamed)", target->element_count);
        for (uint32_t e = 0; e < target->element_count; e++) {
            const struct dfuse_element *el = &target->elements[e];
            uint64_t end = (uint64_t)el->address + el->size;
            printf("  element %" PRIu32 ": address 0x%08" PRIX32 ", size %" PRIu32 ", end 0x%08" PRIX64 "\n", e,
                   el->address, el->size, end);
            if (target->alt_setting != 0)
                continue;
            uint64_t boot_end = (uint64_t)L4IMG_BOOTLOADER_BASE + L4IMG_BOOTLOADER_SIZE;
            /* An explicit --address describes another layout (say, an image for ST's ROM
             * bootloader), so the l4dfu bootloader's own region rule does not apply. */
            if (!opt->address_given && el->size > 0 && el->address < boot_end && end > L4IMG_BOOTLOADER_BASE) {
                problem(r, "target %u element %" PRIu32 " writes into the bootloader region 0x%08X..0x%08" PRIX64
                           ", which the bootloader refuses",
                        t, e, L4IMG_BOOTLOADER_BASE, boot_end - 1);
                continue;
            }
            struct l4img_slot slot = opt->slot;
            if (opt->slot_given ? el->address == slot.base : slot_for_address(el->address, &slot))
                describe_image(el->data, el->size, &slot, "    ", r);
            else {
                printf("    warning: not at a slot start; not checked as an l4dfu image\n");
                r->warnings++;
            }
        }
    }
    const struct dfu_suffix *s = &file.suffix;
    printf("suffix: usb %04x:%04x, bcdDevice 0x%04X, bcdDFU 0x%04X, crc 0x%08" PRIX32 " (valid)\n", s->id_vendor,
           s->id_product, s->bcd_device, s->bcd_dfu, s->crc);
    dfuse_file_free(&file);
}

static void info_bin(const uint8_t *buf, size_t len, const struct options *opt, struct report *r)
{
    printf("format: raw image, %zu bytes\n", len);
    struct dfu_suffix suffix;
    if (dfu_suffix_parse(buf, len, &suffix, NULL) == DFUSE_OK) {
        problem(r, "the file ends in a DFU suffix (usb %04x:%04x) but has no DfuSe prefix; l4dfu uses DfuSe files",
                suffix.id_vendor, suffix.id_product);
        return;
    }
    struct l4img_slot slot = opt->slot;
    if (!opt->slot_given) {
        /* Without a slot given, the reset vector says which slot the image was linked for. */
        uint32_t reset = len >= 8 ? l4img_get32(buf + L4IMG_OFFSET_RESET) & ~1u : 0;
        slot_from_name(reset >= L4IMG_SLOT_B_BASE && reset - L4IMG_SLOT_B_BASE < L4IMG_SLOT_B_SIZE ? "b" : "a",
                       &slot);
    }
    describe_image(buf, len, &slot, "", r);
}

static int run_info(const struct options *opt)
{
    size_t len;
    uint8_t *buf = fileio_read(opt->info, MAX_INFO_FILE, 0, &len);
    if (!buf)
        return 1;
    struct report r = {0, 0};
    printf("file: %s\n", opt->info);
    if (len >= 5 && memcmp(buf, "DfuSe", 5) == 0)
        info_dfuse(buf, len, opt, &r);
    else
        info_bin(buf, len, opt, &r);
    free(buf);
    if (r.problems)
        printf("result: %u problem%s\n", r.problems, r.problems == 1 ? "" : "s");
    else
        printf("result: ok%s\n", r.warnings ? " (with warnings)" : "");
    return r.problems ? 1 : 0;
}

/* ---------------------------------------------------------------- packing */

static int write_dfu(const struct options *opt, const uint8_t *image, uint32_t length)
{
    struct dfuse_element element = {opt->slot.base, length, image};
    struct dfuse_target target;
    memset(&target, 0, sizeof target);
    target.alt_setting = 0;
    if (!dfuse_target_set_name(&target, opt->target_name)) {
        fprintf(stderr, "error: target name is longer than %u characters\n", DFUSE_TARGET_NAME_SIZE - 1);
        return 1;
    }
    target.element_count = 1;
    target.elements = &element;
    struct dfuse_file file;
    memset(&file, 0, sizeof file);
    file.target_count = 1;
    file.targets = &target;
    file.suffix = (struct dfu_suffix){opt->bcd_device, opt->product, opt->vendor, DFUSE_BCD_DFU,
                                      DFU_SUFFIX_SIZE, 0};
    size_t size = dfuse_encoded_size(&file);
    file.image_size = (uint32_t)size;
    uint8_t *out = malloc(size);
    if (!out || dfuse_encode(&file, out, size) != size) {
        fprintf(stderr, "error: cannot encode the DfuSe file\n");
        free(out);
        return 1;
    }
    int rc = fileio_write_atomic(opt->dfu_out, out, size);
    free(out);
    return rc == 0 ? 0 : 1;
}

static int run_pack(const struct options *opt)
{
    uint32_t version;
    if (l4img_parse_version(opt->version_text, &version) != L4IMG_OK) {
        fprintf(stderr, "error: version \"%s\" is not MAJOR.MINOR.PATCH (0-255.0-255.0-65535)\n", opt->version_text);
        return 1;
    }
    size_t len;
    /* Files larger than the slot are refused by the stamper with the sizes named. */
    uint8_t *buf = fileio_read(opt->input, MAX_INFO_FILE, L4IMG_LENGTH_ALIGN, &len);
    if (!buf)
        return 1;
    if (len >= 5 && memcmp(buf, "DfuSe", 5) == 0) {
        fprintf(stderr, "error: %s is already a DfuSe file; give the application's .bin\n", opt->input);
        free(buf);
        return 1;
    }
    uint32_t length;
    struct l4img_diag diag = {{0}};
    enum l4img_status status =
        l4img_stamp(buf, len + L4IMG_LENGTH_ALIGN, len, &opt->slot, version, &length, &diag);
    if (status != L4IMG_OK) {
        fprintf(stderr, "error: %s: %s\n", opt->input, diag.message);
        free(buf);
        return 1;
    }
    int rc = 0;
    if (opt->bin_out && fileio_write_atomic(opt->bin_out, buf, length) != 0)
        rc = 1;
    if (rc == 0 && opt->dfu_out)
        rc = write_dfu(opt, buf, length);
    if (rc == 0) {
        char text[16];
        l4img_format_version(version, text);
        printf("%s: %" PRIu32 " bytes at 0x%08" PRIX32 " (%s), version %s, crc 0x%08" PRIX32 "\n", opt->input,
               length, opt->slot.base, slot_label(&opt->slot), text, l4img_get32(buf + L4IMG_OFFSET_CRC));
    }
    free(buf);
    return rc;
}

/* A stamped image, maybe with a signature trailer, goes into the .dfu as it is. */
static int run_wrap(const struct options *opt)
{
    size_t len;
    uint8_t *buf = fileio_read(opt->stamped, MAX_INFO_FILE, 0, &len);
    if (!buf)
        return 1;
    struct l4img_metadata meta;
    struct l4img_diag diag = {{0}};
    const uint8_t *key = NULL;
    int rc = 1;
    if (l4img_check(buf, len, &opt->slot, &meta, &diag) != L4IMG_OK)
        fprintf(stderr, "error: %s: %s\n", opt->stamped, diag.message);
    else if (len > opt->slot.size)
        fprintf(stderr, "error: %s: %zu bytes do not fit the %" PRIu32 "-byte slot\n", opt->stamped, len,
                opt->slot.size);
    else {
        enum l4sig_status sig = l4sig_inspect(buf, len, meta.length, &key);
        if (sig == L4SIG_NONE || sig == L4SIG_VALID) {
            rc = write_dfu(opt, buf, (uint32_t)len);
            if (rc == 0)
                printf("%s: %zu bytes at 0x%08" PRIX32 " (%s), %s\n", opt->stamped, len, opt->slot.base,
                       slot_label(&opt->slot), sig == L4SIG_VALID ? "signed" : "unsigned");
        } else
            fprintf(stderr, "error: %s: %s\n", opt->stamped,
                    sig == L4SIG_INVALID ? "its signature does not verify"
                                         : "bytes after the stated length are not a signature trailer");
    }
    free(buf);
    return rc;
}

enum { OPT_BIN = 256, OPT_DFU, OPT_INFO, OPT_VERSION, OPT_SLOT, OPT_ADDRESS, OPT_SLOT_SIZE, OPT_DEVICE,
       OPT_BCD_DEVICE, OPT_TARGET_NAME, OPT_STAMPED, OPT_HELP };

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"bin", required_argument, NULL, OPT_BIN},
        {"dfu", required_argument, NULL, OPT_DFU},
        {"info", required_argument, NULL, OPT_INFO},
        {"version", required_argument, NULL, OPT_VERSION},
        {"slot", required_argument, NULL, OPT_SLOT},
        {"address", required_argument, NULL, OPT_ADDRESS},
        {"slot-size", required_argument, NULL, OPT_SLOT_SIZE},
        {"device", required_argument, NULL, OPT_DEVICE},
        {"bcd-device", required_argument, NULL, OPT_BCD_DEVICE},
        {"target-name", required_argument, NULL, OPT_TARGET_NAME},
        {"stamped", required_argument, NULL, OPT_STAMPED},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    struct options opt = {
        .slot = {L4IMG_SLOT_A_BASE, L4IMG_SLOT_A_SIZE},
        .vendor = DEFAULT_VENDOR,
        .product = DEFAULT_PRODUCT,
        .bcd_device = DEFAULT_BCD_DEVICE,
        .target_name = DEFAULT_TARGET_NAME,
    };
    if (sodium_init() < 0) {
        fprintf(stderr, "error: libsodium failed to initialise\n");
        return 1;
    }
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_BIN: opt.bin_out = optarg; break;
        case OPT_DFU: opt.dfu_out = optarg; break;
        case OPT_INFO: opt.info = optarg; break;
        case OPT_VERSION: opt.version_text = optarg; break;
        case OPT_SLOT:
            if (!slot_from_name(optarg, &opt.slot)) {
                fprintf(stderr, "error: --slot takes a or b, not \"%s\"\n", optarg);
                return 2;
            }
            opt.slot_given = true;
            break;
        case OPT_ADDRESS:
            if (!parse_u32(optarg, &opt.slot.base) || opt.slot.base % 512 != 0) {
                fprintf(stderr, "error: --address \"%s\" is not a 512-byte aligned (VTOR) address\n", optarg);
                return 2;
            }
            opt.address_given = opt.slot_given = true;
            break;
        case OPT_SLOT_SIZE:
            if (!parse_u32(optarg, &opt.slot.size) || opt.slot.size == 0) {
                fprintf(stderr, "error: --slot-size \"%s\" is not a size in bytes\n", optarg);
                return 2;
            }
            opt.size_given = true;
            break;
        case OPT_DEVICE:
            if (!parse_device(optarg, &opt.vendor, &opt.product)) {
                fprintf(stderr, "error: --device \"%s\" is not VID:PID in hex\n", optarg);
                return 2;
            }
            break;
        case OPT_BCD_DEVICE:
            if (!parse_hex16(optarg, &opt.bcd_device)) {
                fprintf(stderr, "error: --bcd-device \"%s\" is not a 16-bit hex number\n", optarg);
                return 2;
            }
            break;
        case OPT_TARGET_NAME:
            /* Checked here, so a bad name cannot stop the .dfu after the .bin was written. */
            if (strlen(optarg) >= DFUSE_TARGET_NAME_SIZE) {
                fprintf(stderr, "error: --target-name is longer than %u characters\n", DFUSE_TARGET_NAME_SIZE - 1);
                return 2;
            }
            opt.target_name = optarg;
            break;
        case OPT_STAMPED: opt.stamped = optarg; break;
        case OPT_HELP: usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (opt.address_given != opt.size_given) {
        fprintf(stderr, "error: --address and --slot-size go together\n");
        return 2;
    }
    if ((uint64_t)opt.slot.base + opt.slot.size > 0x100000000ull) {
        fprintf(stderr, "error: the slot runs past the 4 GB address space\n");
        return 2;
    }
    if (opt.info) {
        if (optind != argc || opt.bin_out || opt.dfu_out || opt.version_text || opt.stamped) {
            fprintf(stderr, "error: --info takes one file and no packing options\n");
            return 2;
        }
        return run_info(&opt);
    }
    if (opt.stamped) {
        if (optind != argc || opt.bin_out || opt.version_text || !opt.dfu_out) {
            fprintf(stderr, "error: --stamped takes one image, --dfu OUT, and neither --bin nor --version\n");
            return 2;
        }
        return run_wrap(&opt);
    }
    if (optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    opt.input = argv[optind];
    if (!opt.version_text) {
        fprintf(stderr, "error: --version X.Y.Z is required: every image says what it is\n");
        return 2;
    }
    if (!opt.bin_out && !opt.dfu_out) {
        fprintf(stderr, "error: nothing to write: give --bin and/or --dfu\n");
        return 2;
    }
    return run_pack(&opt);
}
