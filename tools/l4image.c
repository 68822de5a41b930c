/* Host side of docs/image-format.md §2: metadata, validity, stamping. */
#include "l4image.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static enum l4img_status fail(struct l4img_diag *diag, enum l4img_status status, const char *fmt, ...)
{
    if (diag) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(diag->message, sizeof diag->message, fmt, ap);
        va_end(ap);
    }
    return status;
}

const char *l4img_status_name(enum l4img_status status)
{
    switch (status) {
    case L4IMG_OK: return "ok";
    case L4IMG_ERR_TOO_SHORT: return "too short";
    case L4IMG_ERR_BAD_MAGIC: return "bad magic";
    case L4IMG_ERR_BAD_LENGTH: return "bad length";
    case L4IMG_ERR_BAD_SP: return "implausible initial SP";
    case L4IMG_ERR_BAD_RESET: return "implausible reset vector";
    case L4IMG_ERR_BAD_CRC: return "CRC mismatch";
    case L4IMG_ERR_RESERVED_IN_USE: return "reserved vectors in use";
    case L4IMG_ERR_BAD_VERSION: return "bad version";
    }
    return "unknown";
}

static bool parse_decimal_part(const char **cursor, unsigned long max, unsigned long *value)
{
    const char *p = *cursor;
    unsigned long v = 0;
    if (*p < '0' || *p > '9')
        return false;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > max)
            return false;
        p++;
    }
    *cursor = p;
    *value = v;
    return true;
}

enum l4img_status l4img_parse_version(const char *text, uint32_t *version)
{
    unsigned long major, minor, patch;
    const char *p = text;
    if (!parse_decimal_part(&p, 255, &major) || *p++ != '.' ||
        !parse_decimal_part(&p, 255, &minor) || *p++ != '.' ||
        !parse_decimal_part(&p, 65535, &patch) || *p != '\0')
        return L4IMG_ERR_BAD_VERSION;
    *version = (uint32_t)(major << 24 | minor << 16 | patch);
    return L4IMG_OK;
}

void l4img_format_version(uint32_t version, char out[16])
{
    snprintf(out, 16, "%u.%u.%u", (unsigned)(version >> 24), (unsigned)(version >> 16 & 0xFF),
             (unsigned)(version & 0xFFFF));
}

uint32_t l4img_padded_length(size_t input_len)
{
    return (uint32_t)((input_len + L4IMG_LENGTH_ALIGN - 1) & ~(size_t)(L4IMG_LENGTH_ALIGN - 1));
}

uint32_t l4img_compute_crc(const uint8_t *image, uint32_t length)
{
    static const uint8_t zero_word[4];
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, image, L4IMG_OFFSET_CRC);
    crc = crc32(crc, zero_word, sizeof zero_word);
    crc = crc32(crc, image + L4IMG_OFFSET_CRC + 4, length - (L4IMG_OFFSET_CRC + 4));
    return (uint32_t)crc;
}

enum l4img_status l4img_read_metadata(const uint8_t *image, size_t len, struct l4img_metadata *out)
{
    if (len < L4IMG_METADATA_END)
        return L4IMG_ERR_TOO_SHORT;
    out->initial_sp = l4img_get32(image + L4IMG_OFFSET_SP);
    out->reset_vector = l4img_get32(image + L4IMG_OFFSET_RESET);
    out->magic = l4img_get32(image + L4IMG_OFFSET_MAGIC);
    out->length = l4img_get32(image + L4IMG_OFFSET_LENGTH);
    out->crc = l4img_get32(image + L4IMG_OFFSET_CRC);
    out->version = l4img_get32(image + L4IMG_OFFSET_VERSION);
    return L4IMG_OK;
}

static bool sp_plausible(uint32_t sp)
{
    return (sp >= L4IMG_SRAM1_BASE && sp <= L4IMG_SRAM1_TOP) ||
           (sp >= L4IMG_SRAM2_BASE && sp <= L4IMG_SRAM2_TOP);
}

/* Rules 2-4 of §2.3, shared by the checker and the stamper. */
static enum l4img_status check_layout(uint32_t length, uint32_t sp, uint32_t reset,
                                      const struct l4img_slot *slot, struct l4img_diag *diag)
{
    if (length < L4IMG_MIN_LENGTH)
        return fail(diag, L4IMG_ERR_BAD_LENGTH,
                    "image length %u (0x%X) is below the minimum of %u bytes (a vector table alone is 392)",
                    length, length, L4IMG_MIN_LENGTH);
    if (length > slot->size)
        return fail(diag, L4IMG_ERR_BAD_LENGTH,
                    "image length %u (0x%X) does not fit the %u-byte slot at 0x%08X", length, length,
                    slot->size, slot->base);
    if (length % L4IMG_LENGTH_ALIGN != 0)
        return fail(diag, L4IMG_ERR_BAD_LENGTH, "image length %u is not a multiple of %u", length,
                    L4IMG_LENGTH_ALIGN);
    if (!sp_plausible(sp))
        return fail(diag, L4IMG_ERR_BAD_SP,
                    "initial SP 0x%08X is in neither SRAM1 (0x%08X..0x%08X) nor SRAM2 (0x%08X..0x%08X): "
                    "is this a vector table?",
                    sp, L4IMG_SRAM1_BASE, L4IMG_SRAM1_TOP, L4IMG_SRAM2_BASE, L4IMG_SRAM2_TOP);
    if ((reset & 1u) == 0)
        return fail(diag, L4IMG_ERR_BAD_RESET, "reset vector 0x%08X is even: not a Thumb address", reset);
    uint32_t target = reset & ~1u;
    if (target < slot->base || target - slot->base >= length)
        return fail(diag, L4IMG_ERR_BAD_RESET,
                    "reset vector 0x%08X points outside the image [0x%08X, 0x%08X): linked for another address?",
                    reset, slot->base, slot->base + length);
    return L4IMG_OK;
}

enum l4img_status l4img_check(const uint8_t *image, size_t len, const struct l4img_slot *slot,
                              struct l4img_metadata *meta, struct l4img_diag *diag)
{
    struct l4img_metadata local;
    if (!meta)
        meta = &local;
    memset(meta, 0, sizeof *meta);
    if (l4img_read_metadata(image, len, meta) != L4IMG_OK)
        return fail(diag, L4IMG_ERR_TOO_SHORT, "%zu bytes cannot hold the metadata (ends at 0x%X)", len,
                    L4IMG_METADATA_END);
    if (meta->magic != L4IMG_MAGIC)
        return fail(diag, L4IMG_ERR_BAD_MAGIC, "magic at 0x%02X is 0x%08X, expected 0x%08X: not stamped",
                    L4IMG_OFFSET_MAGIC, meta->magic, L4IMG_MAGIC);
    enum l4img_status status = check_layout(meta->length, meta->initial_sp, meta->reset_vector, slot, diag);
    if (status != L4IMG_OK)
        return status;
    if (meta->length > len)
        return fail(diag, L4IMG_ERR_TOO_SHORT, "image states %u bytes but only %zu are present",
                    meta->length, len);
    uint32_t crc = l4img_compute_crc(image, meta->length);
    if (crc != meta->crc)
        return fail(diag, L4IMG_ERR_BAD_CRC, "CRC over %u bytes is 0x%08X, image states 0x%08X",
                    meta->length, crc, meta->crc);
    return L4IMG_OK;
}

enum l4img_status l4img_stamp(uint8_t *buf, size_t cap, size_t input_len, const struct l4img_slot *slot,
                              uint32_t version, uint32_t *stamped_len, struct l4img_diag *diag)
{
    if (input_len < L4IMG_METADATA_END)
        return fail(diag, L4IMG_ERR_TOO_SHORT, "input of %zu bytes is too small for a vector table",
                    input_len);
    if (input_len > slot->size)
        return fail(diag, L4IMG_ERR_BAD_LENGTH, "input of %zu bytes does not fit the %u-byte slot at 0x%08X",
                    input_len, slot->size, slot->base);
    uint32_t length = l4img_padded_length(input_len);
    uint32_t sp = l4img_get32(buf + L4IMG_OFFSET_SP);
    uint32_t reset = l4img_get32(buf + L4IMG_OFFSET_RESET);
    enum l4img_status status = check_layout(length, sp, reset, slot, diag);
    if (status != L4IMG_OK)
        return status;
    if (cap < length)
        return fail(diag, L4IMG_ERR_TOO_SHORT, "buffer of %zu bytes cannot hold %u padded bytes", cap, length);

    bool reserved_zero = true;
    for (uint32_t off = L4IMG_OFFSET_MAGIC; off < L4IMG_METADATA_END; off++)
        reserved_zero = reserved_zero && buf[off] == 0;
    bool earlier_stamp = l4img_get32(buf + L4IMG_OFFSET_MAGIC) == L4IMG_MAGIC;
    if (!reserved_zero && !earlier_stamp)
        return fail(diag, L4IMG_ERR_RESERVED_IN_USE,
                    "reserved vector entries 7-10 (0x%02X..0x%02X) are not zero; the metadata would overwrite them",
                    L4IMG_OFFSET_MAGIC, L4IMG_METADATA_END - 1);

    memset(buf + input_len, L4IMG_PAD_BYTE, length - input_len);
    l4img_put32(buf + L4IMG_OFFSET_MAGIC, L4IMG_MAGIC);
    l4img_put32(buf + L4IMG_OFFSET_LENGTH, length);
    l4img_put32(buf + L4IMG_OFFSET_VERSION, version);
    l4img_put32(buf + L4IMG_OFFSET_CRC, l4img_compute_crc(buf, length));
    *stamped_len = length;
    return L4IMG_OK;
}
