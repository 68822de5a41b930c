/* The packer's checker (tools/l4image.c) and the bootloader's (firmware/core/image.c)
 * must give the same verdict on every image: one image, mutated many ways, both judged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "image.h"
#include "l4image.h"

#define SLOT_BASE L4IMG_SLOT_A_BASE
#define SLOT_SIZE 0x800u

static uint8_t buf[SLOT_SIZE];

static uint32_t zlib_crc32(uint32_t crc, const void *data, size_t len)
{
    return (uint32_t)crc32(crc, data, (uInt)len);
}

static enum l4img_status as_packer_status(enum image_status status)
{
    switch (status) {
    case IMAGE_OK: return L4IMG_OK;
    case IMAGE_BAD_MAGIC: return L4IMG_ERR_BAD_MAGIC;
    case IMAGE_BAD_LENGTH: return L4IMG_ERR_BAD_LENGTH;
    case IMAGE_BAD_STACK: return L4IMG_ERR_BAD_SP;
    case IMAGE_BAD_RESET_VECTOR: return L4IMG_ERR_BAD_RESET;
    case IMAGE_BAD_CRC: return L4IMG_ERR_BAD_CRC;
    }
    return L4IMG_ERR_TOO_SHORT;
}

static void expect_same_verdict(void)
{
    const struct l4img_slot slot = {SLOT_BASE, SLOT_SIZE};
    enum l4img_status packer = l4img_check(buf, sizeof buf, &slot, NULL, NULL);
    enum image_status bootloader = image_check(buf, SLOT_BASE, SLOT_SIZE, zlib_crc32);
    assert_int_equal(as_packer_status(bootloader), packer);
}

static uint32_t make_stamped(uint32_t input_len)
{
    memset(buf, 0xFF, sizeof buf);
    for (uint32_t i = 8; i < input_len; i++)
        buf[i] = (uint8_t)(i * 37 + 11);
    memset(buf + 8, 0, L4IMG_METADATA_END - 8);
    l4img_put32(buf, 0x20018000u);
    l4img_put32(buf + 4, SLOT_BASE + 0x1A1u);
    uint32_t length;
    const struct l4img_slot slot = {SLOT_BASE, SLOT_SIZE};
    assert_int_equal(l4img_stamp(buf, sizeof buf, input_len, &slot, 0x00030001u, &length, NULL), L4IMG_OK);
    return length;
}

static void test_stamped_image_accepted_by_bootloader(void **state)
{
    (void)state;
    static const uint32_t sizes[] = {0x1F9, 0x200, 0x333, 0x7FF, SLOT_SIZE};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        make_stamped(sizes[i]);
        assert_int_equal(image_check(buf, SLOT_BASE, SLOT_SIZE, zlib_crc32), IMAGE_OK);
        const struct l4img_slot slot = {SLOT_BASE, SLOT_SIZE};
        assert_int_equal(l4img_compute_crc(buf, l4img_get32(buf + L4IMG_OFFSET_LENGTH)),
                         image_crc(buf, l4img_get32(buf + L4IMG_OFFSET_LENGTH), zlib_crc32));
        assert_int_equal(l4img_check(buf, sizeof buf, &slot, NULL, NULL), L4IMG_OK);
    }
}

static void test_every_header_bit_flip(void **state)
{
    (void)state;
    make_stamped(0x400);
    for (uint32_t off = 0; off < 0x40; off++)
        for (int bit = 0; bit < 8; bit++) {
            buf[off] ^= (uint8_t)(1u << bit);
            expect_same_verdict();
            buf[off] ^= (uint8_t)(1u << bit);
        }
}

static void test_boundary_values(void **state)
{
    (void)state;
    static const uint32_t sps[] = {0x1FFFFFFCu, 0x20000000u, 0x20017FF8u, 0x20018000u, 0x20018008u,
                                   0x0FFFFFF8u, 0x10000000u, 0x10008000u, 0x10008008u, 0};
    static const uint32_t resets[] = {SLOT_BASE - 1, SLOT_BASE + 1, SLOT_BASE, SLOT_BASE + 0x3FF, SLOT_BASE + 0x401,
                                      SLOT_BASE + 0x3FE, 0x00000001u, 0xFFFFFFFFu};
    static const uint32_t lengths[] = {0, 0x1F8, 0x200, 0x3F8, 0x400, 0x404, 0x408, SLOT_SIZE, SLOT_SIZE + 8,
                                       0xFFFFFFF8u};
    for (size_t s = 0; s < sizeof sps / sizeof sps[0]; s++)
        for (size_t r = 0; r < sizeof resets / sizeof resets[0]; r++)
            for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
                make_stamped(0x400);
                l4img_put32(buf, sps[s]);
                l4img_put32(buf + 4, resets[r]);
                l4img_put32(buf + L4IMG_OFFSET_LENGTH, lengths[l]);
                /* Give every variant a right CRC too, so the later rules are reached. */
                if (lengths[l] >= L4IMG_METADATA_END && lengths[l] <= SLOT_SIZE)
                    l4img_put32(buf + L4IMG_OFFSET_CRC, l4img_compute_crc(buf, lengths[l]));
                expect_same_verdict();
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stamped_image_accepted_by_bootloader),
        cmocka_unit_test(test_every_header_bit_flip),
        cmocka_unit_test(test_boundary_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
