/* libFuzzer harness for the .dfu reader and the image checker (tools/).
 *
 * Random bytes almost never carry a right CRC, so each input is tried twice:
 * as it is (the CRC checks must reject it safely) and with its CRCs made right
 * (so the structure parsers behind them get exercised). Properties checked:
 * no memory error (ASan/UBSan), a parsed file re-encodes to the same bytes,
 * and a stamped image passes the checker. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dfuse_file.h"
#include "l4image.h"

static const struct l4img_slot slots[] = {
    {L4IMG_SLOT_A_BASE, L4IMG_SLOT_A_SIZE},
    {L4IMG_SLOT_B_BASE, L4IMG_SLOT_B_SIZE},
    {L4IMG_SLOT_A_BASE, 0x400},
};

static void check_image_everywhere(const uint8_t *data, size_t size)
{
    for (size_t s = 0; s < sizeof slots / sizeof slots[0]; s++) {
        struct l4img_metadata meta;
        struct l4img_diag diag;
        (void)l4img_check(data, size, &slots[s], &meta, &diag);
    }
}

static void parse_and_round_trip(const uint8_t *data, size_t size)
{
    struct dfuse_file file;
    struct dfuse_diag diag;
    if (dfuse_parse(data, size, &file, &diag) != DFUSE_OK) {
        if (file.targets != NULL || file.target_count != 0)
            abort(); /* a failed parse must leave nothing behind */
        return;
    }
    size_t encoded_size = dfuse_encoded_size(&file);
    if (encoded_size != size)
        abort();
    uint8_t *again = malloc(encoded_size);
    if (!again)
        abort();
    if (dfuse_encode(&file, again, encoded_size) != size || memcmp(again, data, size) != 0)
        abort();
    free(again);
    for (unsigned t = 0; t < file.target_count; t++)
        for (uint32_t e = 0; e < file.targets[t].element_count; e++)
            check_image_everywhere(file.targets[t].elements[e].data, file.targets[t].elements[e].size);
    dfuse_file_free(&file);
}

/* Stamping whatever arrives must either refuse or give an image the checker accepts. */
static void stamp_and_check(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size + L4IMG_LENGTH_ALIGN);
    if (!buf)
        abort();
    memcpy(buf, data, size);
    uint32_t length;
    struct l4img_diag diag;
    if (l4img_stamp(buf, size + L4IMG_LENGTH_ALIGN, size, &slots[0], 0x01020003u, &length, &diag) == L4IMG_OK &&
        l4img_check(buf, length, &slots[0], NULL, &diag) != L4IMG_OK)
        abort();
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse_and_round_trip(data, size);
    check_image_everywhere(data, size);
    stamp_and_check(data, size);

    uint8_t *fixed = malloc(size ? size : 1);
    if (!fixed)
        abort();
    memcpy(fixed, data, size);
    if (size >= DFU_SUFFIX_SIZE) {
        l4img_put32(fixed + size - 4, dfu_suffix_crc(fixed, size - 4));
        parse_and_round_trip(fixed, size);
    }
    memcpy(fixed, data, size);
    uint32_t length = size >= L4IMG_METADATA_END ? l4img_get32(fixed + L4IMG_OFFSET_LENGTH) : 0;
    if (length >= L4IMG_METADATA_END && length <= size) {
        l4img_put32(fixed + L4IMG_OFFSET_CRC, l4img_compute_crc(fixed, length));
        check_image_everywhere(fixed, size);
    }
    free(fixed);
    return 0;
}
