/* DfuSe file reader and writer; see dfuse_file.h and docs/image-format.md §4. */
#include "dfuse_file.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const uint8_t prefix_signature[5] = {'D', 'f', 'u', 'S', 'e'};
static const uint8_t target_signature[6] = {'T', 'a', 'r', 'g', 'e', 't'};
static const uint8_t suffix_signature[3] = {'U', 'F', 'D'};

/* Offsets inside the 16-byte suffix and the 274-byte target header. */
enum {
    SUFFIX_BCD_DEVICE = 0,
    SUFFIX_ID_PRODUCT = 2,
    SUFFIX_ID_VENDOR = 4,
    SUFFIX_BCD_DFU = 6,
    SUFFIX_SIGNATURE = 8,
    SUFFIX_LENGTH = 11,
    SUFFIX_CRC = 12,
    PREFIX_VERSION = 5,
    PREFIX_IMAGE_SIZE = 6,
    PREFIX_TARGETS = 10,
    TARGET_ALT = 6,
    TARGET_NAMED = 7,
    TARGET_NAME = 11,
    TARGET_SIZE = 266,
    TARGET_ELEMENTS = 270,
};

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}

static enum dfuse_status fail(struct dfuse_diag *diag, enum dfuse_status status, size_t offset,
                              const char *fmt, ...)
{
    if (diag) {
        va_list ap;
        diag->offset = offset;
        va_start(ap, fmt);
        vsnprintf(diag->message, sizeof diag->message, fmt, ap);
        va_end(ap);
    }
    return status;
}

const char *dfuse_status_name(enum dfuse_status status)
{
    switch (status) {
    case DFUSE_OK: return "ok";
    case DFUSE_ERR_TRUNCATED: return "truncated";
    case DFUSE_ERR_SUFFIX_SIGNATURE: return "no DFU suffix signature";
    case DFUSE_ERR_SUFFIX_LENGTH: return "bad DFU suffix length";
    case DFUSE_ERR_SUFFIX_CRC: return "DFU suffix CRC mismatch";
    case DFUSE_ERR_NOT_DFUSE: return "not a DfuSe suffix";
    case DFUSE_ERR_PREFIX_SIGNATURE: return "no DfuSe prefix";
    case DFUSE_ERR_PREFIX_VERSION: return "unknown DfuSe version";
    case DFUSE_ERR_IMAGE_SIZE: return "bad DFUImageSize";
    case DFUSE_ERR_NO_TARGETS: return "no targets";
    case DFUSE_ERR_TARGET_HEADER: return "bad target header";
    case DFUSE_ERR_TARGET_SIZE: return "bad target size";
    case DFUSE_ERR_ELEMENT_OVERRUN: return "element overruns its target";
    case DFUSE_ERR_ELEMENT_WRAPS: return "element address range wraps";
    case DFUSE_ERR_TRAILING_DATA: return "trailing data before suffix";
    case DFUSE_ERR_NO_MEMORY: return "out of memory";
    case DFUSE_ERR_INVALID_ARGUMENT: return "invalid argument";
    }
    return "unknown";
}

uint32_t dfu_suffix_crc(const uint8_t *data, size_t len)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (len > 0) {
        uInt chunk = len > 0x40000000u ? 0x40000000u : (uInt)len;
        crc = crc32(crc, data, chunk);
        data += chunk;
        len -= chunk;
    }
    return (uint32_t)crc ^ 0xFFFFFFFFu;
}

enum dfuse_status dfu_suffix_parse(const uint8_t *buf, size_t len, struct dfu_suffix *out,
                                   struct dfuse_diag *diag)
{
    if (len < DFU_SUFFIX_SIZE)
        return fail(diag, DFUSE_ERR_TRUNCATED, 0, "%zu bytes cannot hold a %u-byte DFU suffix", len,
                    DFU_SUFFIX_SIZE);
    size_t at = len - DFU_SUFFIX_SIZE;
    const uint8_t *s = buf + at;
    if (memcmp(s + SUFFIX_SIGNATURE, suffix_signature, sizeof suffix_signature) != 0)
        return fail(diag, DFUSE_ERR_SUFFIX_SIGNATURE, at + SUFFIX_SIGNATURE,
                    "no \"UFD\" signature in the last 16 bytes: no DFU suffix");
    if (s[SUFFIX_LENGTH] != DFU_SUFFIX_SIZE)
        return fail(diag, DFUSE_ERR_SUFFIX_LENGTH, at + SUFFIX_LENGTH, "suffix bLength is %u, expected %u",
                    s[SUFFIX_LENGTH], DFU_SUFFIX_SIZE);
    out->bcd_device = get16(s + SUFFIX_BCD_DEVICE);
    out->id_product = get16(s + SUFFIX_ID_PRODUCT);
    out->id_vendor = get16(s + SUFFIX_ID_VENDOR);
    out->bcd_dfu = get16(s + SUFFIX_BCD_DFU);
    out->length = s[SUFFIX_LENGTH];
    out->crc = get32(s + SUFFIX_CRC);
    uint32_t computed = dfu_suffix_crc(buf, len - 4);
    if (computed != out->crc)
        return fail(diag, DFUSE_ERR_SUFFIX_CRC, at + SUFFIX_CRC,
                    "suffix dwCRC is 0x%08X but the file's CRC is 0x%08X", out->crc, computed);
    return DFUSE_OK;
}

void dfuse_file_free(struct dfuse_file *file)
{
    if (!file || !file->targets)
        return;
    for (unsigned t = 0; t < file->target_count; t++)
        free(file->targets[t].elements);
    free(file->targets);
    file->targets = NULL;
    file->target_count = 0;
}

/* Parses the target starting at *pos; body_end is where the suffix begins. */
static enum dfuse_status parse_target(const uint8_t *buf, size_t *pos, size_t body_end, unsigned index,
                                      struct dfuse_target *target, struct dfuse_diag *diag)
{
    size_t at = *pos;
    if (body_end - at < DFUSE_TARGET_HEADER_SIZE)
        return fail(diag, DFUSE_ERR_TARGET_HEADER, at,
                    "target %u: its %u-byte header needs more than the %zu bytes left before the suffix",
                    index, DFUSE_TARGET_HEADER_SIZE, body_end - at);
    const uint8_t *h = buf + at;
    if (memcmp(h, target_signature, sizeof target_signature) != 0)
        return fail(diag, DFUSE_ERR_TARGET_HEADER, at, "target %u: no \"Target\" signature", index);
    target->alt_setting = h[TARGET_ALT];
    target->named = get32(h + TARGET_NAMED);
    memcpy(target->name_raw, h + TARGET_NAME, DFUSE_TARGET_NAME_SIZE);
    memcpy(target->name, target->name_raw, DFUSE_TARGET_NAME_SIZE);
    target->name[DFUSE_TARGET_NAME_SIZE] = '\0';
    uint32_t declared_size = get32(h + TARGET_SIZE);
    uint32_t declared_elements = get32(h + TARGET_ELEMENTS);

    size_t data_start = at + DFUSE_TARGET_HEADER_SIZE;
    if (declared_size > body_end - data_start)
        return fail(diag, DFUSE_ERR_TARGET_SIZE, at + TARGET_SIZE,
                    "target %u: dwTargetSize %u runs past the suffix (%zu bytes left)", index, declared_size,
                    body_end - data_start);
    size_t data_end = data_start + declared_size;
    /* Each element costs at least its header, which bounds the allocation by the bytes present. */
    if (declared_elements > declared_size / DFUSE_ELEMENT_HEADER_SIZE)
        return fail(diag, DFUSE_ERR_ELEMENT_OVERRUN, at + TARGET_ELEMENTS,
                    "target %u: %u elements cannot fit in dwTargetSize %u", index, declared_elements,
                    declared_size);
    if (declared_elements > 0) {
        target->elements = calloc(declared_elements, sizeof *target->elements);
        if (!target->elements)
            return fail(diag, DFUSE_ERR_NO_MEMORY, at, "target %u: out of memory", index);
    }

    size_t p = data_start;
    for (uint32_t e = 0; e < declared_elements; e++) {
        if (data_end - p < DFUSE_ELEMENT_HEADER_SIZE)
            return fail(diag, DFUSE_ERR_ELEMENT_OVERRUN, p,
                        "target %u element %u: header runs past the target's end", index, e);
        struct dfuse_element *el = &target->elements[e];
        el->address = get32(buf + p);
        el->size = get32(buf + p + 4);
        p += DFUSE_ELEMENT_HEADER_SIZE;
        if (el->size > data_end - p)
            return fail(diag, DFUSE_ERR_ELEMENT_OVERRUN, p - 4,
                        "target %u element %u: %u bytes at 0x%08X, but only %zu remain in the target", index,
                        e, el->size, el->address, data_end - p);
        if (el->size > 0 && el->size - 1 > UINT32_MAX - el->address)
            return fail(diag, DFUSE_ERR_ELEMENT_WRAPS, p - 8,
                        "target %u element %u: %u bytes at 0x%08X wrap past the 4 GB address space", index, e,
                        el->size, el->address);
        el->data = buf + p;
        p += el->size;
        target->element_count = e + 1;
    }
    if (p != data_end)
        return fail(diag, DFUSE_ERR_TARGET_SIZE, at + TARGET_SIZE,
                    "target %u: dwTargetSize %u but its %u elements take %zu bytes", index, declared_size,
                    declared_elements, p - data_start);
    *pos = data_end;
    return DFUSE_OK;
}

enum dfuse_status dfuse_parse(const uint8_t *buf, size_t len, struct dfuse_file *out,
                              struct dfuse_diag *diag)
{
    memset(out, 0, sizeof *out);
    if (len < DFUSE_PREFIX_SIZE + DFU_SUFFIX_SIZE)
        return fail(diag, DFUSE_ERR_TRUNCATED, 0, "%zu bytes cannot hold a DfuSe prefix and a DFU suffix", len);
    if (memcmp(buf, prefix_signature, sizeof prefix_signature) != 0)
        return fail(diag, DFUSE_ERR_PREFIX_SIGNATURE, 0, "no \"DfuSe\" signature: not a DfuSe file");
    if (buf[PREFIX_VERSION] != 1)
        return fail(diag, DFUSE_ERR_PREFIX_VERSION, PREFIX_VERSION, "DfuSe bVersion %u, only 1 is known",
                    buf[PREFIX_VERSION]);
    uint32_t image_size = get32(buf + PREFIX_IMAGE_SIZE);
    if (image_size > len)
        return fail(diag, DFUSE_ERR_TRUNCATED, PREFIX_IMAGE_SIZE,
                    "the file has %zu bytes, its prefix says %u: truncated", len, image_size);

    struct dfu_suffix suffix;
    enum dfuse_status status = dfu_suffix_parse(buf, len, &suffix, diag);
    if (status != DFUSE_OK)
        return status;
    if (suffix.bcd_dfu != DFUSE_BCD_DFU)
        return fail(diag, DFUSE_ERR_NOT_DFUSE, len - DFU_SUFFIX_SIZE + SUFFIX_BCD_DFU,
                    "suffix bcdDFU is 0x%04X; a DfuSe file needs 0x%04X", suffix.bcd_dfu, DFUSE_BCD_DFU);
    if (image_size != len && image_size != len - DFU_SUFFIX_SIZE)
        return fail(diag, DFUSE_ERR_IMAGE_SIZE, PREFIX_IMAGE_SIZE,
                    "DFUImageSize %u is neither the file length %zu nor that without the suffix (%zu)",
                    image_size, len, len - DFU_SUFFIX_SIZE);
    uint8_t target_count = buf[PREFIX_TARGETS];
    if (target_count == 0)
        return fail(diag, DFUSE_ERR_NO_TARGETS, PREFIX_TARGETS, "bTargets is 0: nothing to download");

    out->image_size = image_size;
    out->suffix = suffix;
    out->targets = calloc(target_count, sizeof *out->targets);
    if (!out->targets)
        return fail(diag, DFUSE_ERR_NO_MEMORY, 0, "out of memory");
    out->target_count = target_count;

    size_t body_end = len - DFU_SUFFIX_SIZE;
    size_t pos = DFUSE_PREFIX_SIZE;
    for (unsigned t = 0; t < target_count; t++) {
        status = parse_target(buf, &pos, body_end, t, &out->targets[t], diag);
        if (status != DFUSE_OK) {
            dfuse_file_free(out);
            memset(out, 0, sizeof *out);
            return status;
        }
    }
    if (pos != body_end) {
        dfuse_file_free(out);
        memset(out, 0, sizeof *out);
        return fail(diag, DFUSE_ERR_TRAILING_DATA, pos, "%zu bytes after the last target, before the suffix",
                    body_end - pos);
    }
    return DFUSE_OK;
}

static uint64_t target_payload_size(const struct dfuse_target *target)
{
    uint64_t size = 0;
    for (uint32_t e = 0; e < target->element_count; e++)
        size += DFUSE_ELEMENT_HEADER_SIZE + (uint64_t)target->elements[e].size;
    return size;
}

size_t dfuse_encoded_size(const struct dfuse_file *file)
{
    uint64_t size = DFUSE_PREFIX_SIZE + DFU_SUFFIX_SIZE;
    for (unsigned t = 0; t < file->target_count; t++) {
        uint64_t payload = target_payload_size(&file->targets[t]);
        if (payload > UINT32_MAX)
            return 0;
        size += DFUSE_TARGET_HEADER_SIZE + payload;
    }
    return size > UINT32_MAX ? 0 : (size_t)size;
}

size_t dfuse_encode(const struct dfuse_file *file, uint8_t *out, size_t cap)
{
    size_t size = dfuse_encoded_size(file);
    if (size == 0 || cap < size)
        return 0;
    memcpy(out, prefix_signature, sizeof prefix_signature);
    out[PREFIX_VERSION] = 1;
    put32(out + PREFIX_IMAGE_SIZE, file->image_size);
    out[PREFIX_TARGETS] = file->target_count;
    size_t p = DFUSE_PREFIX_SIZE;
    for (unsigned t = 0; t < file->target_count; t++) {
        const struct dfuse_target *target = &file->targets[t];
        uint8_t *h = out + p;
        memcpy(h, target_signature, sizeof target_signature);
        h[TARGET_ALT] = target->alt_setting;
        put32(h + TARGET_NAMED, target->named);
        memcpy(h + TARGET_NAME, target->name_raw, DFUSE_TARGET_NAME_SIZE);
        put32(h + TARGET_SIZE, (uint32_t)target_payload_size(target));
        put32(h + TARGET_ELEMENTS, target->element_count);
        p += DFUSE_TARGET_HEADER_SIZE;
        for (uint32_t e = 0; e < target->element_count; e++) {
            const struct dfuse_element *el = &target->elements[e];
            put32(out + p, el->address);
            put32(out + p + 4, el->size);
            p += DFUSE_ELEMENT_HEADER_SIZE;
            if (el->size > 0)
                memcpy(out + p, el->data, el->size);
            p += el->size;
        }
    }
    uint8_t *s = out + p;
    put16(s + SUFFIX_BCD_DEVICE, file->suffix.bcd_device);
    put16(s + SUFFIX_ID_PRODUCT, file->suffix.id_product);
    put16(s + SUFFIX_ID_VENDOR, file->suffix.id_vendor);
    put16(s + SUFFIX_BCD_DFU, file->suffix.bcd_dfu);
    memcpy(s + SUFFIX_SIGNATURE, suffix_signature, sizeof suffix_signature);
    s[SUFFIX_LENGTH] = DFU_SUFFIX_SIZE;
    put32(s + SUFFIX_CRC, dfu_suffix_crc(out, p + SUFFIX_CRC));
    return size;
}

bool dfuse_target_set_name(struct dfuse_target *target, const char *name)
{
    size_t n = strlen(name);
    if (n >= DFUSE_TARGET_NAME_SIZE)
        return false;
    memset(target->name_raw, 0, sizeof target->name_raw);
    memcpy(target->name_raw, name, n);
    memcpy(target->name, name, n + 1);
    target->named = 1;
    return true;
}
