/* The application image check (firmware/core/image.c): a good image passes, and each
 * rule of the shared image format, broken alone, is reported as itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>
#include <zlib.h>

#include "image.h"

#define SLOT 0x08004000u
#define SLOT_SIZE 0x7C000u
static uint8_t img[4096];

static uint32_t zlib_crc(uint32_t crc, const void *data, size_t len)
{
    return (uint32_t)crc32(crc, data, (uInt)len);
}

static void put32(uint32_t off, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        img[off + i] = (uint8_t)(v >> (8 * i));
}

/* Recompute the CRC the way the packer does: a copy with the field zeroed, one pass. */
static void seal(void)
{
    uint32_t length = image_word(img, IMAGE_OFFSET_LENGTH);
    static uint8_t copy[sizeof img];
    memcpy(copy, img, length);
    memset(copy + IMAGE_OFFSET_CRC, 0, 4);
    put32(IMAGE_OFFSET_CRC, (uint32_t)crc32(0, copy, length));
}

static int make_good_image(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof img; i++)
        img[i] = (uint8_t)(i * 13 + 1);
    put32(0, 0x20018000);      /* top of SRAM1 */
    put32(4, SLOT + 0x201);    /* Thumb reset handler inside the image */
    put32(IMAGE_OFFSET_MAGIC, IMAGE_MAGIC);
    put32(IMAGE_OFFSET_LENGTH, 2048);
    put32(IMAGE_OFFSET_VERSION, 0x01020003);
    seal();
    return 0;
}

static enum image_status check(void)
{
    return image_check(img, SLOT, SLOT_SIZE, zlib_crc);
}

static void test_good_image(void **state)
{
    (void)state;
    assert_int_equal(check(), IMAGE_OK);
    assert_memory_equal(&img[IMAGE_OFFSET_MAGIC], "L4DF", 4);
}

static void test_crc_skips_its_own_field(void **state)
{
    (void)state;
    uint32_t stored = image_word(img, IMAGE_OFFSET_CRC);
    put32(IMAGE_OFFSET_CRC, 0xDEADBEEF);
    assert_int_equal(image_crc(img, 2048, zlib_crc), stored);
}

static void test_bad_magic(void **state)
{
    (void)state;
    img[IMAGE_OFFSET_MAGIC] ^= 1;
    seal();
    assert_int_equal(check(), IMAGE_BAD_MAGIC);
}

static void test_bad_length(void **state)
{
    (void)state;
    const uint32_t lengths[] = {0, 0x1F8, 2044 /* not a multiple of 8 */, SLOT_SIZE + 8};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        make_good_image(state);
        put32(IMAGE_OFFSET_LENGTH, lengths[i]);
        assert_int_equal(check(), IMAGE_BAD_LENGTH);
    }
    make_good_image(state);
    put32(IMAGE_OFFSET_LENGTH, 0x200);
    put32(4, SLOT + 0x101);
    seal();
    assert_int_equal(check(), IMAGE_OK); /* the smallest image is fine */
}

static void test_bad_stack(void **state)
{
    (void)state;
    const uint32_t bad[] = {0, 0x20018004, 0x1FFFFFFC, 0x10008004, 0x08004000, 0x20040000};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        make_good_image(state);
        put32(0, bad[i]);
        seal();
        assert_int_equal(check(), IMAGE_BAD_STACK);
    }
    const uint32_t good[] = {0x20000000, 0x20018000, 0x10000000, 0x10008000, 0x10004000};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        make_good_image(state);
        put32(0, good[i]);
        seal();
        assert_int_equal(check(), IMAGE_OK);
    }
}

static void test_bad_reset_vector(void **state)
{
    (void)state;
    const uint32_t bad[] = {SLOT + 0x200 /* even: ARM state */, SLOT - 3, SLOT + 2048 + 1,
                            0x1FFF0001};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        make_good_image(state);
        put32(4, bad[i]);
        seal();
        assert_int_equal(check(), IMAGE_BAD_RESET_VECTOR);
    }
    make_good_image(state);
    put32(4, SLOT + 2047);
    seal();
    assert_int_equal(check(), IMAGE_OK);
}

static void test_bad_crc(void **state)
{
    (void)state;
    img[1000] ^= 0x80;
    assert_int_equal(check(), IMAGE_BAD_CRC);
    make_good_image(state);
    img[2047] ^= 1; /* last byte counted */
    assert_int_equal(check(), IMAGE_BAD_CRC);
    make_good_image(state);
    img[2048] ^= 1; /* beyond the length: not counted */
    assert_int_equal(check(), IMAGE_OK);
}

static void test_erased_slot(void **state)
{
    (void)state;
    memset(img, 0xFF, sizeof img);
    assert_int_equal(check(), IMAGE_BAD_MAGIC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_good_image, make_good_image),
        cmocka_unit_test_setup(test_crc_skips_its_own_field, make_good_image),
        cmocka_unit_test_setup(test_bad_magic, make_good_image),
        cmocka_unit_test_setup(test_bad_length, make_good_image),
        cmocka_unit_test_setup(test_bad_stack, make_good_image),
        cmocka_unit_test_setup(test_bad_reset_vector, make_good_image),
        cmocka_unit_test_setup(test_bad_crc, make_good_image),
        cmocka_unit_test_setup(test_erased_slot, make_good_image),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
