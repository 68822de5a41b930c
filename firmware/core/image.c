#include "image.h"

#define SRAM1_BASE 0x20000000u
#define SRAM1_TOP 0x20018000u
#define SRAM2_BASE 0x10000000u
#define SRAM2_TOP 0x10008000u

uint32_t image_crc(const uint8_t *image, uint32_t length, image_crc32_fn crc32)
{
    static const uint8_t zero_field[4];
    uint32_t crc = crc32(0, image, IMAGE_OFFSET_CRC);
    crc = crc32(crc, zero_field, sizeof zero_field);
    return crc32(crc, image + IMAGE_OFFSET_CRC + 4, length - (IMAGE_OFFSET_CRC + 4));
}

/* The stack grows down from the initial SP, so the top of a RAM (one past its last
 * byte) is the usual value; both ends count, as the packer (tools/l4image.c) counts them. */
static int stack_in_ram(uint32_t sp)
{
    return (sp >= SRAM1_BASE && sp <= SRAM1_TOP) || (sp >= SRAM2_BASE && sp <= SRAM2_TOP);
}

enum image_status image_check(const uint8_t *image, uint32_t slot_addr, uint32_t slot_size,
                              image_crc32_fn crc32)
{
    if (slot_size < IMAGE_MIN_LENGTH || image_word(image, IMAGE_OFFSET_MAGIC) != IMAGE_MAGIC)
        return IMAGE_BAD_MAGIC;
    uint32_t length = image_word(image, IMAGE_OFFSET_LENGTH);
    if (length < IMAGE_MIN_LENGTH || length > slot_size || (length & 7u) != 0)
        return IMAGE_BAD_LENGTH;
    if (!stack_in_ram(image_word(image, 0)))
        return IMAGE_BAD_STACK;
    uint32_t reset = image_word(image, 4);
    if ((reset & 1u) == 0 || reset - slot_addr >= length)
        return IMAGE_BAD_RESET_VECTOR;
    if (image_crc(image, length, crc32) != image_word(image, IMAGE_OFFSET_CRC))
        return IMAGE_BAD_CRC;
    return IMAGE_OK;
}
