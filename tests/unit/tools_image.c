/* Image metadata: stamping and the validity rules of docs/image-format.md §2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "l4image.h"

#define SLOT_A ((struct l4img_slot){L4IMG_SLOT_A_BASE, L4IMG_SLOT_A_SIZE})
#define SLOT_B ((struct l4img_slot){L4IMG_SLOT_B_BASE, L4IMG_SLOT_B_SIZE})

/* A bit-at-a-time CRC-32 written from the definition, independent of zlib. */
static uint32_t reference_crc32(const uint8_t *data, size_t len)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        for (int bit = 0; bit < 8; bit++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return crc ^ 0xFFFFFFFFu;
}

static uint8_t image[0x1000];

/* An unstamped application of `len` bytes linked for `base`: vector table, then a pattern. */
static void make_app(size_t len, uint32_t base)
{
    memset(image, 0xA5, sizeof image);
    for (size_t i = 0; i < len; i++)
        image[i] = (uint8_t)(i * 7 + 3);
    l4img_put32(image + 0, 0x20018000u);
    l4img_put32(image + 4, base + 0x189u);
    memset(image + 8, 0, 0x2C - 8);
}

static uint32_t stamp_ok(size_t len, const struct l4img_slot *slot, uint32_t version)
{
    uint32_t stamped = 0;
    struct l4img_diag diag;
    enum l4img_status status = l4img_stamp(image, sizeof image, len, slot, version, &stamped, &diag);
    assert_int_equal(status, L4IMG_OK);
    return stamped;
}

static void test_crc_matches_definition(void **state)
{
    (void)state;
    static const uint8_t check[] = "123456789";
    assert_int_equal(reference_crc32(check, 9), 0xCBF43926u);

    make_app(0x300, L4IMG_SLOT_A_BASE);
    l4img_put32(image + L4IMG_OFFSET_CRC, 0xDEADBEEFu);
    uint8_t copy[0x300];
    memcpy(copy, image, sizeof copy);
    memset(copy + L4IMG_OFFSET_CRC, 0, 4);
    assert_int_equal(l4img_compute_crc(image, 0x300), reference_crc32(copy, sizeof copy));
}

static void test_version_parsing(void **state)
{
    (void)state;
    uint32_t v = 0;
    assert_int_equal(l4img_parse_version("1.2.3", &v), L4IMG_OK);
    assert_int_equal(v, 0x01020003u);
    assert_int_equal(l4img_parse_version("255.255.65535", &v), L4IMG_OK);
    assert_int_equal(v, 0xFFFFFFFFu);
    assert_int_equal(l4img_parse_version("0.0.0", &v), L4IMG_OK);
    assert_int_equal(v, 0u);
    static const char *const bad[] = {"", "1", "1.2", "1.2.3.4", "256.0.0", "0.256.0", "0.0.65536",
                                      "1..3", "a.b.c", "-1.2.3", "1.2.3 ", " 1.2.3", "1.2.3x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(l4img_parse_version(bad[i], &v), L4IMG_ERR_BAD_VERSION);
    char text[16];
    l4img_format_version(0x0A0B1234u, text);
    assert_string_equal(text, "10.11.4660");
}

static void test_stamp_pads_and_fills_metadata(void **state)
{
    (void)state;
    make_app(0x301, L4IMG_SLOT_A_BASE);
    uint32_t length = stamp_ok(0x301, &SLOT_A, 0x01020003u);
    assert_int_equal(length, 0x308);
    for (size_t i = 0x301; i < 0x308; i++)
        assert_int_equal(image[i], 0xFF);
    assert_int_equal(image[0x308], 0xA5); /* nothing written past the padding */
    assert_int_equal(l4img_get32(image + L4IMG_OFFSET_MAGIC), 0x4644344Cu);
    assert_memory_equal(image + L4IMG_OFFSET_MAGIC, "L4DF", 4);
    assert_int_equal(l4img_get32(image + L4IMG_OFFSET_LENGTH), 0x308);
    assert_int_equal(l4img_get32(image + L4IMG_OFFSET_VERSION), 0x01020003u);

    uint8_t copy[0x308];
    memcpy(copy, image, sizeof copy);
    memset(copy + L4IMG_OFFSET_CRC, 0, 4);
    assert_int_equal(l4img_get32(image + L4IMG_OFFSET_CRC), reference_crc32(copy, sizeof copy));

    struct l4img_metadata meta;
    assert_int_equal(l4img_check(image, 0x308, &SLOT_A, &meta, NULL), L4IMG_OK);
    assert_int_equal(meta.length, 0x308);
    assert_int_equal(meta.version, 0x01020003u);
}

static void test_restamp_replaces_version(void **state)
{
    (void)state;
    make_app(0x400, L4IMG_SLOT_A_BASE);
    uint32_t length = stamp_ok(0x400, &SLOT_A, 0x01000000u);
    uint32_t first_crc = l4img_get32(image + L4IMG_OFFSET_CRC);
    assert_int_equal(stamp_ok(length, &SLOT_A, 0x02000000u), length);
    struct l4img_metadata meta;
    assert_int_equal(l4img_check(image, length, &SLOT_A, &meta, NULL), L4IMG_OK);
    assert_int_equal(meta.version, 0x02000000u);
    assert_int_not_equal(meta.crc, first_crc);
}

static void expect_stamp_refused(size_t len, const struct l4img_slot *slot, enum l4img_status expected)
{
    uint8_t before[sizeof image];
    memcpy(before, image, sizeof image);
    uint32_t stamped = 0xABCD;
    struct l4img_diag diag = {{0}};
    assert_int_equal(l4img_stamp(image, sizeof image, len, slot, 1, &stamped, &diag), expected);
    assert_true(strlen(diag.message) > 0);
    assert_int_equal(stamped, 0xABCD);
    assert_memory_equal(before, image, sizeof image); /* a refusal changes nothing */
}

static void test_stamp_refuses_bad_sizes(void **state)
{
    (void)state;
    make_app(0x1F8, L4IMG_SLOT_A_BASE);
    l4img_put32(image + 4, L4IMG_SLOT_A_BASE + 0x101);
    expect_stamp_refused(0x1F8, &SLOT_A, L4IMG_ERR_BAD_LENGTH);
    expect_stamp_refused(0x20, &SLOT_A, L4IMG_ERR_TOO_SHORT);
    make_app(0x1F9, L4IMG_SLOT_A_BASE); /* pads to 0x200: just enough */
    assert_int_equal(stamp_ok(0x1F9, &SLOT_A, 1), 0x200);

    struct l4img_slot tiny = {L4IMG_SLOT_A_BASE, 0x400};
    make_app(0x401, L4IMG_SLOT_A_BASE);
    expect_stamp_refused(0x401, &tiny, L4IMG_ERR_BAD_LENGTH);
    struct l4img_slot odd = {L4IMG_SLOT_A_BASE, 0x404}; /* fits unpadded, not padded */
    expect_stamp_refused(0x401, &odd, L4IMG_ERR_BAD_LENGTH);
    make_app(0x400, L4IMG_SLOT_A_BASE);
    assert_int_equal(stamp_ok(0x400, &tiny, 1), 0x400);
}

static void test_stamp_refuses_implausible_sp(void **state)
{
    (void)state;
    static const uint32_t bad_sp[] = {0, 0xFFFFFFFFu, 0x1FFFFFFCu, 0x20018004u, 0x0FFFFFFCu, 0x10008004u,
                                      0x08004000u};
    for (size_t i = 0; i < sizeof bad_sp / sizeof bad_sp[0]; i++) {
        make_app(0x300, L4IMG_SLOT_A_BASE);
        l4img_put32(image, bad_sp[i]);
        expect_stamp_refused(0x300, &SLOT_A, L4IMG_ERR_BAD_SP);
    }
    static const uint32_t good_sp[] = {0x20000000u, 0x20018000u, 0x10000000u, 0x10008000u};
    for (size_t i = 0; i < sizeof good_sp / sizeof good_sp[0]; i++) {
        make_app(0x300, L4IMG_SLOT_A_BASE);
        l4img_put32(image, good_sp[i]);
        stamp_ok(0x300, &SLOT_A, 1);
    }
}

static void test_stamp_refuses_implausible_reset(void **state)
{
    (void)state;
    const uint32_t base = L4IMG_SLOT_A_BASE;
    static const uint32_t bad_offsets[] = {0x188 /* even */, 0x300 + 1 /* at the end */, 0x1000 + 1};
    for (size_t i = 0; i < sizeof bad_offsets / sizeof bad_offsets[0]; i++) {
        make_app(0x300, base);
        l4img_put32(image + 4, base + bad_offsets[i]);
        expect_stamp_refused(0x300, &SLOT_A, L4IMG_ERR_BAD_RESET);
    }
    make_app(0x300, base);
    l4img_put32(image + 4, base - 0x100 + 1); /* below the slot: linked for the bootloader? */
    expect_stamp_refused(0x300, &SLOT_A, L4IMG_ERR_BAD_RESET);
    make_app(0x300, base);
    l4img_put32(image + 4, base + 0x2FF); /* last halfword of the image, odd: fine */
    stamp_ok(0x300, &SLOT_A, 1);
}

static void test_slot_b_image_belongs_to_slot_b(void **state)
{
    (void)state;
    make_app(0x300, L4IMG_SLOT_B_BASE);
    expect_stamp_refused(0x300, &SLOT_A, L4IMG_ERR_BAD_RESET);
    uint32_t length = stamp_ok(0x300, &SLOT_B, 1);
    assert_int_equal(l4img_check(image, length, &SLOT_B, NULL, NULL), L4IMG_OK);
    assert_int_equal(l4img_check(image, length, &SLOT_A, NULL, NULL), L4IMG_ERR_BAD_RESET);
}

static void test_stamp_refuses_reserved_vectors_in_use(void **state)
{
    (void)state;
    for (uint32_t off = L4IMG_OFFSET_MAGIC; off < L4IMG_METADATA_END; off += 3) {
        make_app(0x300, L4IMG_SLOT_A_BASE);
        image[off] = 0x01;
        expect_stamp_refused(0x300, &SLOT_A, L4IMG_ERR_RESERVED_IN_USE);
    }
}

static void test_check_detects_every_corruption(void **state)
{
    (void)state;
    make_app(0x300, L4IMG_SLOT_A_BASE);
    uint32_t length = stamp_ok(0x300, &SLOT_A, 0x00010000u);
    assert_int_equal(l4img_check(image, length, &SLOT_A, NULL, NULL), L4IMG_OK);

    /* Any single flipped bit in [0, length) makes the image invalid, whichever rule notices. */
    for (uint32_t off = 0; off < length; off++) {
        image[off] ^= 0x10;
        assert_int_not_equal(l4img_check(image, length, &SLOT_A, NULL, NULL), L4IMG_OK);
        image[off] ^= 0x10;
    }
    /* Bytes past the stated length are not the image's business. */
    image[length] ^= 0xFF;
    assert_int_equal(l4img_check(image, length + 8, &SLOT_A, NULL, NULL), L4IMG_OK);

    struct l4img_diag diag = {{0}};
    assert_int_equal(l4img_check(image, length - 8, &SLOT_A, NULL, &diag), L4IMG_ERR_TOO_SHORT);
    assert_non_null(strstr(diag.message, "only"));
    assert_int_equal(l4img_check(image, 0x20, &SLOT_A, NULL, NULL), L4IMG_ERR_TOO_SHORT);

    l4img_put32(image + L4IMG_OFFSET_MAGIC, 0);
    assert_int_equal(l4img_check(image, length, &SLOT_A, NULL, NULL), L4IMG_ERR_BAD_MAGIC);
    l4img_put32(image + L4IMG_OFFSET_MAGIC, L4IMG_MAGIC);

    l4img_put32(image + L4IMG_OFFSET_CRC, l4img_get32(image + L4IMG_OFFSET_CRC) ^ 1);
    assert_int_equal(l4img_check(image, length, &SLOT_A, NULL, NULL), L4IMG_ERR_BAD_CRC);
    l4img_put32(image + L4IMG_OFFSET_CRC, l4img_get32(image + L4IMG_OFFSET_CRC) ^ 1);
    assert_int_equal(l4img_check(image, length, &SLOT_A, NULL, NULL), L4IMG_OK);

    /* Length rules are checked before any byte beyond the buffer could be read. */
    static const uint32_t bad_lengths[] = {0x1F8, 0x304, L4IMG_SLOT_A_SIZE + 8, 0xFFFFFFF8u};
    for (size_t i = 0; i < sizeof bad_lengths / sizeof bad_lengths[0]; i++) {
        l4img_put32(image + L4IMG_OFFSET_LENGTH, bad_lengths[i]);
        assert_int_equal(l4img_check(image, length, &SLOT_A, NULL, NULL), L4IMG_ERR_BAD_LENGTH);
    }
    l4img_put32(image + L4IMG_OFFSET_LENGTH, 0x1000);
    assert_int_equal(l4img_check(image, length, &SLOT_A, NULL, NULL), L4IMG_ERR_TOO_SHORT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc_matches_definition),
        cmocka_unit_test(test_version_parsing),
        cmocka_unit_test(test_stamp_pads_and_fills_metadata),
        cmocka_unit_test(test_restamp_replaces_version),
        cmocka_unit_test(test_stamp_refuses_bad_sizes),
        cmocka_unit_test(test_stamp_refuses_implausible_sp),
        cmocka_unit_test(test_stamp_refuses_implausible_reset),
        cmocka_unit_test(test_slot_b_image_belongs_to_slot_b),
        cmocka_unit_test(test_stamp_refuses_reserved_vectors_in_use),
        cmocka_unit_test(test_check_detects_every_corruption),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
