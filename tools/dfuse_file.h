/* DfuSe .dfu files (ST UM0391): prefix, targets, elements, DFU suffix.
 *
 * The reader trusts nothing in the file: every count and size is checked against
 * the bytes that are really there before it is used. Parsed elements point into
 * the caller's buffer, which must outlive the parsed file. Fields the format
 * leaves loose (DFUImageSize, bTargetNamed, the bytes after the name's NUL) are
 * kept raw, so encoding a parsed file gives back the same bytes. */
#ifndef L4DFU_TOOLS_DFUSE_FILE_H
#define L4DFU_TOOLS_DFUSE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DFUSE_PREFIX_SIZE 11u
#define DFUSE_TARGET_HEADER_SIZE 274u
#define DFUSE_TARGET_NAME_SIZE 255u
#define DFUSE_ELEMENT_HEADER_SIZE 8u
#define DFU_SUFFIX_SIZE 16u
#define DFUSE_BCD_DFU 0x011Au
#define DFU_ID_ANY 0xFFFFu

struct dfu_suffix {
    uint16_t bcd_device;
    uint16_t id_product;
    uint16_t id_vendor;
    uint16_t bcd_dfu;
    uint8_t length;
    uint32_t crc;
};

struct dfuse_element {
    uint32_t address;
    uint32_t size;
    const uint8_t *data;
};

struct dfuse_target {
    uint8_t alt_setting;
    uint32_t named;                                /* raw bTargetNamed; non-zero = named */
    uint8_t name_raw[DFUSE_TARGET_NAME_SIZE];
    char name[DFUSE_TARGET_NAME_SIZE + 1];         /* name_raw up to its first NUL */
    uint32_t element_count;
    struct dfuse_element *elements;
};

struct dfuse_file {
    uint32_t image_size;                           /* raw DFUImageSize */
    uint8_t target_count;
    struct dfuse_target *targets;
    struct dfu_suffix suffix;
};

enum dfuse_status {
    DFUSE_OK = 0,
    DFUSE_ERR_TRUNCATED,          /* shorter than prefix + suffix */
    DFUSE_ERR_SUFFIX_SIGNATURE,   /* no "UFD" */
    DFUSE_ERR_SUFFIX_LENGTH,      /* bLength != 16 */
    DFUSE_ERR_SUFFIX_CRC,
    DFUSE_ERR_NOT_DFUSE,          /* bcdDFU != 0x011A */
    DFUSE_ERR_PREFIX_SIGNATURE,   /* no "DfuSe" */
    DFUSE_ERR_PREFIX_VERSION,
    DFUSE_ERR_IMAGE_SIZE,         /* DFUImageSize matches neither convention */
    DFUSE_ERR_NO_TARGETS,
    DFUSE_ERR_TARGET_HEADER,      /* header missing, cut short or without "Target" */
    DFUSE_ERR_TARGET_SIZE,        /* dwTargetSize past the end, or not the sum of its elements */
    DFUSE_ERR_ELEMENT_OVERRUN,    /* element header or data past its target */
    DFUSE_ERR_ELEMENT_WRAPS,      /* address + size past 2^32 */
    DFUSE_ERR_TRAILING_DATA,      /* bytes between the last target and the suffix */
    DFUSE_ERR_NO_MEMORY,
    DFUSE_ERR_INVALID_ARGUMENT,   /* encoder: a value that cannot be written */
};

struct dfuse_diag {
    size_t offset;      /* byte in the file where the problem was found */
    char message[200];
};

const char *dfuse_status_name(enum dfuse_status status);

/* The DFU suffix CRC: reflected CRC-32, initial 0xFFFFFFFF, no final XOR. */
uint32_t dfu_suffix_crc(const uint8_t *data, size_t len);

/* Reads and checks the 16-byte suffix at the end of `buf` (signature, bLength,
 * CRC). Does not look at bcdDFU. */
enum dfuse_status dfu_suffix_parse(const uint8_t *buf, size_t len, struct dfu_suffix *out,
                                   struct dfuse_diag *diag);

/* Parses a whole DfuSe file. On success free with dfuse_file_free(). On failure
 * nothing is left allocated and `out` is zeroed. */
enum dfuse_status dfuse_parse(const uint8_t *buf, size_t len, struct dfuse_file *out,
                              struct dfuse_diag *diag);
void dfuse_file_free(struct dfuse_file *file);

/* Size in bytes of the encoded file; 0 if it would not fit in 32 bits. */
size_t dfuse_encoded_size(const struct dfuse_file *file);

/* Writes the file into `out` (capacity `cap` >= dfuse_encoded_size), computing
 * dwTargetSize, the suffix's bLength and CRC; image_size, named, name_raw and the
 * suffix IDs are written as given. Returns the bytes written, 0 on error. */
size_t dfuse_encode(const struct dfuse_file *file, uint8_t *out, size_t cap);

/* Helper for writers: fills a target's name fields from a C string (<= 254 chars). */
bool dfuse_target_set_name(struct dfuse_target *target, const char *name);

#endif
