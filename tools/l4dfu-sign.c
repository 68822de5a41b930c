/* l4dfu-sign: Ed25519 keys, and the signature trailer of docs/image-format.md §3
 * on a stamped image. Then `l4dfu-pack --stamped` wraps the signed image. */
#include <getopt.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "l4image.h"
#include "l4sig.h"

#define MAX_IMAGE_FILE (64u * 1024 * 1024)

static void usage(FILE *out)
{
    fprintf(out,
            "usage: l4dfu-sign keygen --public KEY.pub --secret KEY.sec\n"
            "       l4dfu-sign sign --secret KEY.sec --output OUT.bin [slot options] IN.bin\n"
            "       l4dfu-sign verify --public KEY.pub [slot options] IN.bin\n"
            "\n"
            "Keys are libsodium's raw bytes: a 32-byte public key, a 64-byte secret key\n"
            "(written readable by the owner only). `sign` takes an image stamped by\n"
            "l4dfu-pack and appends the 104-byte trailer (a trailer already there is\n"
            "replaced). `verify` exits 0 only if the image is valid and signed by KEY.pub.\n"
            "\n"
            "  --slot a|b                    slot A 0x%08X (default) or slot B 0x%08X\n"
            "  --address ADDR --slot-size N  another slot\n",
            L4IMG_SLOT_A_BASE, L4IMG_SLOT_B_BASE);
}

static uint8_t *read_key(const char *path, size_t expected)
{
    size_t len;
    uint8_t *key = fileio_read(path, expected, 0, &len);
    if (key && len != expected) {
        fprintf(stderr, "error: %s has %zu bytes; a key file has %zu\n", path, len, expected);
        sodium_memzero(key, len);
        free(key);
        return NULL;
    }
    return key;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int keygen(const char *public_path, const char *secret_path)
{
    if (exists(secret_path) || exists(public_path)) {
        fprintf(stderr, "error: %s or %s exists; not overwriting a key\n", public_path, secret_path);
        return 1;
    }
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair(pk, sk);
    int rc = fileio_write_atomic_private(secret_path, sk, sizeof sk) == 0 &&
                     fileio_write_atomic(public_path, pk, sizeof pk) == 0
                 ? 0
                 : 1;
    sodium_memzero(sk, sizeof sk);
    if (rc == 0) {
        printf("public key ");
        for (size_t i = 0; i < sizeof pk; i++)
            printf("%02x", pk[i]);
        printf("\n");
    }
    return rc;
}

/* Reads a stamped image and checks it; returns the buffer (with room for a trailer). */
static uint8_t *read_stamped(const char *path, const struct l4img_slot *slot, size_t *len,
                             struct l4img_metadata *meta)
{
    uint8_t *buf = fileio_read(path, MAX_IMAGE_FILE, L4IMG_SIG_TRAILER_SIZE, len);
    if (!buf)
        return NULL;
    struct l4img_diag diag = {{0}};
    if (l4img_check(buf, *len, slot, meta, &diag) != L4IMG_OK) {
        fprintf(stderr, "error: %s: %s (stamp it with l4dfu-pack first)\n", path, diag.message);
        free(buf);
        return NULL;
    }
    return buf;
}

static int sign(const char *secret_path, const char *output, const char *input, const struct l4img_slot *slot)
{
    uint8_t *sk = read_key(secret_path, crypto_sign_SECRETKEYBYTES);
    if (!sk)
        return 1;
    size_t len;
    struct l4img_metadata meta;
    uint8_t *buf = read_stamped(input, slot, &len, &meta);
    int rc = 1;
    const uint8_t *old_key;
    if (!buf) {
        /* already reported */
    } else if (len != meta.length && l4sig_inspect(buf, len, meta.length, &old_key) == L4SIG_BAD_TRAILER) {
        fprintf(stderr, "error: %s: %zu bytes after the stated length are not a signature trailer\n", input,
                len - meta.length);
    } else if ((uint64_t)meta.length + L4IMG_SIG_TRAILER_SIZE > slot->size) {
        fprintf(stderr, "error: %s: %" PRIu32 " bytes plus the %u-byte trailer do not fit the %" PRIu32
                        "-byte slot\n",
                input, meta.length, L4IMG_SIG_TRAILER_SIZE, slot->size);
    } else {
        l4sig_make_trailer(buf + meta.length, buf, meta.length, sk);
        rc = fileio_write_atomic(output, buf, meta.length + L4IMG_SIG_TRAILER_SIZE) == 0 ? 0 : 1;
        if (rc == 0)
            printf("%s: signed %" PRIu32 " bytes, wrote %s\n", input, meta.length, output);
    }
    sodium_memzero(sk, crypto_sign_SECRETKEYBYTES);
    free(sk);
    free(buf);
    return rc;
}

static int verify(const char *public_path, const char *input, const struct l4img_slot *slot)
{
    uint8_t *pk = read_key(public_path, crypto_sign_PUBLICKEYBYTES);
    if (!pk)
        return 1;
    size_t len;
    struct l4img_metadata meta;
    uint8_t *buf = read_stamped(input, slot, &len, &meta);
    int rc = 1;
    const uint8_t *key = NULL;
    if (buf) {
        switch (l4sig_inspect(buf, len, meta.length, &key)) {
        case L4SIG_NONE: fprintf(stderr, "error: %s is not signed\n", input); break;
        case L4SIG_BAD_TRAILER: fprintf(stderr, "error: %s: malformed signature trailer\n", input); break;
        case L4SIG_SHORT: fprintf(stderr, "error: %s is shorter than its stated length\n", input); break;
        case L4SIG_INVALID: fprintf(stderr, "error: %s: the signature does not verify\n", input); break;
        case L4SIG_VALID:
            if (sodium_memcmp(key, pk, crypto_sign_PUBLICKEYBYTES) != 0)
                fprintf(stderr, "error: %s is signed, but by another key\n", input);
            else {
                printf("%s: valid image, signed by %s\n", input, public_path);
                rc = 0;
            }
            break;
        }
    }
    free(pk);
    free(buf);
    return rc;
}

enum { OPT_PUBLIC = 256, OPT_SECRET, OPT_OUTPUT, OPT_SLOT, OPT_ADDRESS, OPT_SLOT_SIZE, OPT_HELP };

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"public", required_argument, NULL, OPT_PUBLIC},   {"secret", required_argument, NULL, OPT_SECRET},
        {"output", required_argument, NULL, OPT_OUTPUT},   {"slot", required_argument, NULL, OPT_SLOT},
        {"address", required_argument, NULL, OPT_ADDRESS}, {"slot-size", required_argument, NULL, OPT_SLOT_SIZE},
        {"help", no_argument, NULL, OPT_HELP},             {NULL, 0, NULL, 0},
    };
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "error: libsodium failed to initialise\n");
        return 1;
    }
    const char *command = argv[1];
    const char *public_path = NULL, *secret_path = NULL, *output = NULL;
    struct l4img_slot slot = {L4IMG_SLOT_A_BASE, L4IMG_SLOT_A_SIZE};
    bool address_given = false, size_given = false;
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case OPT_PUBLIC: public_path = optarg; break;
        case OPT_SECRET: secret_path = optarg; break;
        case OPT_OUTPUT: output = optarg; break;
        case OPT_SLOT:
            if (strcmp(optarg, "a") == 0 || strcmp(optarg, "A") == 0)
                slot = (struct l4img_slot){L4IMG_SLOT_A_BASE, L4IMG_SLOT_A_SIZE};
            else if (strcmp(optarg, "b") == 0 || strcmp(optarg, "B") == 0)
                slot = (struct l4img_slot){L4IMG_SLOT_B_BASE, L4IMG_SLOT_B_SIZE};
            else {
                fprintf(stderr, "error: --slot takes a or b\n");
                return 2;
            }
            break;
        case OPT_ADDRESS:
        case OPT_SLOT_SIZE: {
            unsigned long long v = strtoull(optarg, &end, 0);
            if (end == optarg || *end != '\0' || v > UINT32_MAX || optarg[0] == '-') {
                fprintf(stderr, "error: \"%s\" is not a 32-bit number\n", optarg);
                return 2;
            }
            if (c == OPT_ADDRESS) {
                slot.base = (uint32_t)v;
                address_given = true;
            } else {
                slot.size = (uint32_t)v;
                size_given = true;
            }
            break;
        }
        case OPT_HELP: usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (address_given != size_given) {
        fprintf(stderr, "error: --address and --slot-size go together\n");
        return 2;
    }
    int positional = argc - optind;
    if (strcmp(command, "keygen") == 0 && public_path && secret_path && positional == 0)
        return keygen(public_path, secret_path);
    if (strcmp(command, "sign") == 0 && secret_path && output && positional == 1)
        return sign(secret_path, output, argv[optind], &slot);
    if (strcmp(command, "verify") == 0 && public_path && positional == 1)
        return verify(public_path, argv[optind], &slot);
    usage(stderr);
    return 2;
}
