/* DfuSe file reader/writer: round trips and every kind of corruption. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dfuse_file.h"

/* The suffix CRC from its definition (reflected CRC-32, no final XOR), independent of zlib. */
static uint32_t reference_suffix_crc(const uint8_t *data, size_t len)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        for (int bit = 0; bit < 8; bit++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return crc;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* After editing a file, make its suffix CRC right again, so the edit is what the parser sees. */
static void fix_crc(uint8_t *buf, size_t len)
{
    put32(buf + len - 4, reference_suffix_crc(buf, len - 4));
}

static uint8_t payload_a[100], payload_b[3], payload_c[2048];

/* Two targets: alt 0 with two elements (one empty), alt 1 with one element. */
struct sample {
    struct dfuse_element elements0[3];
    struct dfuse_element elements1[1];
    struct dfuse_target targets[2];
    struct dfuse_file file;
    uint8_t *buf;
    size_t len;
};

static struct sample *make_sample(void)
{
    struct sample *s = calloc(1, sizeof *s);
    assert_non_null(s);
    for (size_t i = 0; i < sizeof payload_a; i++)
        payload_a[i] = (uint8_t)(i ^ 0x5A);
    memcpy(payload_b, "xyz", 3);
    for (size_t i = 0; i < sizeof payload_c; i++)
        payload_c[i] = (uint8_t)(i * 13);
    s->elements0[0] = (struct dfuse_element){0x08004000u, sizeof payload_a, payload_a};
    s->elements0[1] = (struct dfuse_element){0x08005000u, 0, NULL};
    s->elements0[2] = (struct dfuse_element){0x08006000u, sizeof payload_b, payload_b};
    s->elements1[0] = (struct dfuse_element){0x1FFF7800u, sizeof payload_c, payload_c};
    assert_true(dfuse_target_set_name(&s->targets[0], "Internal Flash"));
    s->targets[0].alt_setting = 0;
    s->targets[0].element_count = 3;
    s->targets[0].elements = s->elements0;
    s->targets[1].alt_setting = 1;
    s->targets[1].named = 0;
    s->targets[1].element_count = 1;
    s->targets[1].elements = s->elements1;
    s->file.target_count = 2;
    s->file.targets = s->targets;
    s->file.suffix = (struct dfu_suffix){0xFFFF, 0xDF11, 0x0483, 0x011A, 16, 0};
    s->len = dfuse_encoded_size(&s->file);
    s->file.image_size = (uint32_t)s->len;
    s->buf = malloc(s->len);
    assert_non_null(s->buf);
    assert_int_equal(dfuse_encode(&s->file, s->buf, s->len), s->len);
    return s;
}

static void free_sample(struct sample *s)
{
    free(s->buf);
    free(s);
}

static enum dfuse_status parse_status(const uint8_t *buf, size_t len)
{
    struct dfuse_file file;
    struct dfuse_diag diag = {0, {0}};
    enum dfuse_status status = dfuse_parse(buf, len, &file, &diag);
    if (status == DFUSE_OK)
        dfuse_file_free(&file);
    else
        assert_true(strlen(diag.message) > 0);
    return status;
}

static void test_layout_matches_um0391(void **state)
{
    (void)state;
    struct sample *s = make_sample();
    const size_t targets = 2 * 274, elements = 4 * 8 + 100 + 3 + 2048;
    assert_int_equal(s->len, 11 + targets + elements + 16);
    assert_memory_equal(s->buf, "DfuSe\x01", 6);
    assert_int_equal(get32(s->buf + 6), s->len);
    assert_int_equal(s->buf[10], 2);
    const uint8_t *t0 = s->buf + 11;
    assert_memory_equal(t0, "Target", 6);
    assert_int_equal(t0[6], 0);
    assert_int_equal(get32(t0 + 7), 1);
    assert_string_equal((const char *)t0 + 11, "Internal Flash");
    assert_int_equal(t0[11 + 254], 0);
    assert_int_equal(get32(t0 + 266), 3 * 8 + 100 + 3);
    assert_int_equal(get32(t0 + 270), 3);
    assert_int_equal(get32(t0 + 274), 0x08004000u);
    assert_int_equal(get32(t0 + 278), 100);
    assert_memory_equal(t0 + 282, payload_a, 100);
    const uint8_t *suffix = s->buf + s->len - 16;
    static const uint8_t expected_suffix_head[12] = {0xFF, 0xFF, 0x11, 0xDF, 0x83, 0x04,
                                                     0x1A, 0x01, 'U',  'F',  'D',  16};
    assert_memory_equal(suffix, expected_suffix_head, 12);
    assert_int_equal(get32(suffix + 12), reference_suffix_crc(s->buf, s->len - 4));
    assert_int_equal(dfu_suffix_crc(s->buf, s->len - 4), reference_suffix_crc(s->buf, s->len - 4));
    free_sample(s);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct sample *s = make_sample();
    struct dfuse_file file;
    struct dfuse_diag diag;
    assert_int_equal(dfuse_parse(s->buf, s->len, &file, &diag), DFUSE_OK);
    assert_int_equal(file.image_size, s->len);
    assert_int_equal(file.target_count, 2);
    assert_int_equal(file.targets[0].alt_setting, 0);
    assert_string_equal(file.targets[0].name, "Internal Flash");
    assert_int_equal(file.targets[0].element_count, 3);
    assert_int_equal(file.targets[0].elements[0].address, 0x08004000u);
    assert_int_equal(file.targets[0].elements[0].size, 100);
    assert_memory_equal(file.targets[0].elements[0].data, payload_a, 100);
    assert_int_equal(file.targets[0].elements[1].size, 0);
    assert_memory_equal(file.targets[0].elements[2].data, "xyz", 3);
    assert_int_equal(file.targets[1].alt_setting, 1);
    assert_int_equal(file.targets[1].named, 0);
    assert_int_equal(file.targets[1].elements[0].address, 0x1FFF7800u);
    assert_memory_equal(file.targets[1].elements[0].data, payload_c, sizeof payload_c);
    assert_int_equal(file.suffix.id_vendor, 0x0483);
    assert_int_equal(file.suffix.id_product, 0xDF11);
    assert_int_equal(file.suffix.bcd_device, 0xFFFF);
    assert_int_equal(file.suffix.bcd_dfu, 0x011A);

    uint8_t *again = malloc(s->len);
    assert_non_null(again);
    assert_int_equal(dfuse_encoded_size(&file), s->len);
    assert_int_equal(dfuse_encode(&file, again, s->len), s->len);
    assert_memory_equal(again, s->buf, s->len);
    assert_int_equal(dfuse_encode(&file, again, s->len - 1), 0); /* too small a buffer */
    free(again);
    dfuse_file_free(&file);
    free_sample(s);
}

static void test_every_truncation_refused(void **state)
{
    (void)state;
    struct sample *s = make_sample();
    for (size_t len = 0; len < s->len; len++)
        assert_int_not_equal(parse_status(s->buf, len), DFUSE_OK);
    assert_int_equal(parse_status(s->buf, 26), DFUSE_ERR_TRUNCATED);
    assert_int_equal(parse_status(s->buf, s->len - 1), DFUSE_ERR_TRUNCATED);
    free_sample(s);
}

static void test_every_flipped_byte_refused(void **state)
{
    (void)state;
    struct sample *s = make_sample();
    for (size_t i = 0; i < s->len; i++) {
        s->buf[i] ^= 0x04;
        assert_int_not_equal(parse_status(s->buf, s->len), DFUSE_OK);
        s->buf[i] ^= 0x04;
    }
    s->buf[300] ^= 1;
    assert_int_equal(parse_status(s->buf, s->len), DFUSE_ERR_SUFFIX_CRC);
    s->buf[300] ^= 1;
    s->buf[s->len - 1] ^= 0x80;
    assert_int_equal(parse_status(s->buf, s->len), DFUSE_ERR_SUFFIX_CRC);
    free_sample(s);
}

/* Each edit is made with the CRC fixed afterwards, so the structural check is what fails. */
static void test_structural_corruptions(void **state)
{
    (void)state;
    struct sample *s = make_sample();
    uint8_t *b = s->buf;
    const size_t t0 = 11, e0 = t0 + 274, t1 = e0 + 3 * 8 + 100 + 3, sfx = s->len - 16;

    struct {
        size_t offset;
        uint32_t value;
        int width;
        enum dfuse_status expected;
    } cases[] = {
        {0, 'd', 1, DFUSE_ERR_PREFIX_SIGNATURE},
        {5, 2, 1, DFUSE_ERR_PREFIX_VERSION},
        {6, (uint32_t)s->len + 1, 4, DFUSE_ERR_TRUNCATED},
        {6, (uint32_t)s->len - 1, 4, DFUSE_ERR_IMAGE_SIZE},
        {6, 0, 4, DFUSE_ERR_IMAGE_SIZE},
        {10, 0, 1, DFUSE_ERR_NO_TARGETS},
        {10, 3, 1, DFUSE_ERR_TARGET_HEADER},
        {10, 1, 1, DFUSE_ERR_TRAILING_DATA},
        {t1, 't', 1, DFUSE_ERR_TARGET_HEADER},
        {t0 + 266, 0x7FFFFFFFu, 4, DFUSE_ERR_TARGET_SIZE},
        {t0 + 266, 3 * 8 + 100 + 3 + 1, 4, DFUSE_ERR_TARGET_SIZE},
        {t0 + 266, 3 * 8 + 100 + 3 - 1, 4, DFUSE_ERR_ELEMENT_OVERRUN},
        {t0 + 270, 2, 4, DFUSE_ERR_TARGET_SIZE},
        {t0 + 270, 4, 4, DFUSE_ERR_ELEMENT_OVERRUN},
        {t0 + 270, 0xFFFFFFFFu, 4, DFUSE_ERR_ELEMENT_OVERRUN},
        {e0 + 4, 101, 4, DFUSE_ERR_ELEMENT_OVERRUN},
        {e0 + 4, 99, 4, DFUSE_ERR_ELEMENT_OVERRUN},
        {e0 + 4, 0xFFFFFFF8u, 4, DFUSE_ERR_ELEMENT_OVERRUN},
        {e0, 0xFFFFFFF0u, 4, DFUSE_ERR_ELEMENT_WRAPS},
        {sfx + 6, 0x0100, 2, DFUSE_ERR_NOT_DFUSE},
        {sfx + 8, 'u', 1, DFUSE_ERR_SUFFIX_SIGNATURE},
        {sfx + 11, 17, 1, DFUSE_ERR_SUFFIX_LENGTH},
    };
    uint8_t *original = malloc(s->len);
    assert_non_null(original);
    memcpy(original, b, s->len);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(b, original, s->len);
        for (int k = 0; k < cases[i].width; k++)
            b[cases[i].offset + (size_t)k] = (uint8_t)(cases[i].value >> (8 * k));
        fix_crc(b, s->len);
        print_message("case %zu: offset %zu\n", i, cases[i].offset);
        assert_int_equal(parse_status(b, s->len), cases[i].expected);
    }
    /* An element ending exactly at 2^32 does not wrap. */
    memcpy(b, original, s->len);
    put32(b + e0, 0xFFFFFF9Cu); /* + 100 = 2^32 */
    fix_crc(b, s->len);
    assert_int_equal(parse_status(b, s->len), DFUSE_OK);
    free(original);
    free_sample(s);
}

static void test_image_size_conventions(void **state)
{
    (void)state;
    struct sample *s = make_sample();
    /* Older dfuse-pack counted the file without its suffix; dfu-util ignores the field. */
    put32(s->buf + 6, (uint32_t)s->len - 16);
    fix_crc(s->buf, s->len);
    struct dfuse_file file;
    assert_int_equal(dfuse_parse(s->buf, s->len, &file, NULL), DFUSE_OK);
    assert_int_equal(file.image_size, s->len - 16);
    dfuse_file_free(&file);
    free_sample(s);
}

static void test_failure_reports_offset_and_leaves_nothing(void **state)
{
    (void)state;
    struct sample *s = make_sample();
    const size_t e0 = 11 + 274;
    put32(s->buf + e0 + 4, 5000);
    fix_crc(s->buf, s->len);
    struct dfuse_file file;
    struct dfuse_diag diag = {0, {0}};
    assert_int_equal(dfuse_parse(s->buf, s->len, &file, &diag), DFUSE_ERR_ELEMENT_OVERRUN);
    assert_int_equal(diag.offset, e0 + 4);
    assert_non_null(strstr(diag.message, "5000"));
    assert_null(file.targets);
    assert_int_equal(file.target_count, 0);
    free_sample(s);
}

static void test_suffix_alone(void **state)
{
    (void)state;
    uint8_t buf[40];
    memset(buf, 0x33, sizeof buf);
    static const uint8_t suffix_head[12] = {0x00, 0x22, 0x11, 0xDF, 0x83, 0x04, 0x00, 0x01, 'U', 'F', 'D', 16};
    memcpy(buf + 24, suffix_head, 12);
    fix_crc(buf, sizeof buf);
    struct dfu_suffix suffix;
    assert_int_equal(dfu_suffix_parse(buf, sizeof buf, &suffix, NULL), DFUSE_OK);
    assert_int_equal(suffix.bcd_device, 0x2200);
    assert_int_equal(suffix.bcd_dfu, 0x0100);
    /* A plain DFU file is not a DfuSe file. */
    assert_int_equal(parse_status(buf, sizeof buf), DFUSE_ERR_PREFIX_SIGNATURE);
    assert_int_equal(dfu_suffix_parse(buf, 15, &suffix, NULL), DFUSE_ERR_TRUNCATED);
}

static void test_target_name_limits(void **state)
{
    (void)state;
    struct dfuse_target target;
    memset(&target, 0, sizeof target);
    char name[256];
    memset(name, 'n', sizeof name);
    name[254] = '\0';
    assert_true(dfuse_target_set_name(&target, name));
    assert_int_equal(target.name_raw[254], 0);
    name[254] = 'n';
    name[255] = '\0';
    assert_false(dfuse_target_set_name(&target, name));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_matches_um0391),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_every_truncation_refused),
        cmocka_unit_test(test_every_flipped_byte_refused),
        cmocka_unit_test(test_structural_corruptions),
        cmocka_unit_test(test_image_size_conventions),
        cmocka_unit_test(test_failure_reports_offset_and_leaves_nothing),
        cmocka_unit_test(test_suffix_alone),
        cmocka_unit_test(test_target_name_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
