/* The l4dfu application image: metadata in the reserved vector slots, the
 * validity rules the bootloader applies, and stamping. docs/image-format.md is
 * the specification; this is the host side of it. */
#ifndef L4DFU_TOOLS_L4IMAGE_H
#define L4DFU_TOOLS_L4IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define L4IMG_OFFSET_SP 0x00u
#define L4IMG_OFFSET_RESET 0x04u
#define L4IMG_OFFSET_MAGIC 0x1Cu
#define L4IMG_OFFSET_LENGTH 0x20u
#define L4IMG_OFFSET_CRC 0x24u
#define L4IMG_OFFSET_VERSION 0x28u
#define L4IMG_METADATA_END 0x2Cu

#define L4IMG_MAGIC 0x4644344Cu /* "L4DF" in memory order */
#define L4IMG_MIN_LENGTH 0x200u
#define L4IMG_LENGTH_ALIGN 8u
#define L4IMG_PAD_BYTE 0xFFu

#define L4IMG_SRAM1_BASE 0x20000000u
#define L4IMG_SRAM1_TOP 0x20018000u
#define L4IMG_SRAM2_BASE 0x10000000u
#define L4IMG_SRAM2_TOP 0x10008000u

#define L4IMG_BOOTLOADER_BASE 0x08000000u
#define L4IMG_BOOTLOADER_SIZE 0x4000u
#define L4IMG_SLOT_A_BASE 0x08004000u
#define L4IMG_SLOT_A_SIZE 0x7C000u
#define L4IMG_SLOT_B_BASE 0x08080000u
#define L4IMG_SLOT_B_SIZE 0x80000u

/* Optional Ed25519 signature trailer, placed at offset `length`. */
#define L4IMG_SIG_MAGIC 0x4753344Cu /* "L4SG" */
#define L4IMG_SIG_TRAILER_SIZE 104u
#define L4IMG_SIG_OFFSET_PUBLIC_KEY 8u
#define L4IMG_SIG_OFFSET_SIGNATURE 40u
#define L4IMG_SIG_PUBLIC_KEY_SIZE 32u
#define L4IMG_SIG_SIGNATURE_SIZE 64u

struct l4img_slot {
    uint32_t base;
    uint32_t size;
};

struct l4img_metadata {
    uint32_t initial_sp;
    uint32_t reset_vector;
    uint32_t magic;
    uint32_t length;
    uint32_t crc;
    uint32_t version;
};

enum l4img_status {
    L4IMG_OK = 0,
    L4IMG_ERR_TOO_SHORT,       /* fewer bytes than the metadata or the stated length */
    L4IMG_ERR_BAD_MAGIC,
    L4IMG_ERR_BAD_LENGTH,      /* below the minimum, above the slot, or not a multiple of 8 */
    L4IMG_ERR_BAD_SP,
    L4IMG_ERR_BAD_RESET,
    L4IMG_ERR_BAD_CRC,
    L4IMG_ERR_RESERVED_IN_USE, /* stamping: the reserved vectors hold something else */
    L4IMG_ERR_BAD_VERSION,
};

/* What went wrong, in words, for the user. */
struct l4img_diag {
    char message[200];
};

static inline uint32_t l4img_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void l4img_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

const char *l4img_status_name(enum l4img_status status);

/* "1.2.3" -> 0x01020003. Refuses anything else (extra text, out-of-range parts). */
enum l4img_status l4img_parse_version(const char *text, uint32_t *version);
void l4img_format_version(uint32_t version, char out[16]);

/* Length of `input_len` bytes after padding to the next multiple of 8. */
uint32_t l4img_padded_length(size_t input_len);

/* The image CRC over [0, length) with the CRC word taken as zero. length >= 0x28. */
uint32_t l4img_compute_crc(const uint8_t *image, uint32_t length);

/* Reads the metadata words (needs at least L4IMG_METADATA_END bytes). */
enum l4img_status l4img_read_metadata(const uint8_t *image, size_t len, struct l4img_metadata *out);

/* Applies the rules of docs/image-format.md §2.3 to `len` bytes holding the image
 * from the slot start; bytes beyond the stated length are not looked at. */
enum l4img_status l4img_check(const uint8_t *image, size_t len, const struct l4img_slot *slot,
                              struct l4img_metadata *meta, struct l4img_diag *diag);

/* Stamps `input_len` bytes in `buf` (capacity `cap`, which must hold the padded
 * length): pads with 0xFF to a multiple of 8, writes magic, length, version and
 * CRC. Refuses what l4img_check would refuse, before changing anything. */
enum l4img_status l4img_stamp(uint8_t *buf, size_t cap, size_t input_len,
                              const struct l4img_slot *slot, uint32_t version,
                              uint32_t *stamped_len, struct l4img_diag *diag);

#endif
