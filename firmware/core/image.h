/* Application image: where it lives and when the bootloader may start it.
 * The metadata sits in the four reserved Cortex-M vector slots (0x1C..0x2B), so an
 * image is an ordinary vector table first; docs/image-format.md has the full story.
 * No target calls here: the host packer links this file too and passes zlib's CRC. */
#ifndef L4DFU_IMAGE_H
#define L4DFU_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/* Memory map (STM32L476xG). The bootloader owns the first 16 KB whatever its size. */
#define L4DFU_FLASH_BASE 0x08000000u
#define L4DFU_BOOTLOADER_SIZE 0x4000u
#define L4DFU_SLOT_A_BASE (L4DFU_FLASH_BASE + L4DFU_BOOTLOADER_SIZE)

#define IMAGE_OFFSET_MAGIC 0x1Cu
#define IMAGE_OFFSET_LENGTH 0x20u
#define IMAGE_OFFSET_CRC 0x24u
#define IMAGE_OFFSET_VERSION 0x28u
#define IMAGE_MAGIC 0x4644344Cu /* bytes "L4DF" */
#define IMAGE_MIN_LENGTH 0x200u

enum image_status {
    IMAGE_OK = 0,
    IMAGE_BAD_MAGIC,
    IMAGE_BAD_LENGTH,       /* below 0x200, above the slot, or not a multiple of 8 */
    IMAGE_BAD_STACK,        /* initial SP outside SRAM1 and SRAM2 */
    IMAGE_BAD_RESET_VECTOR, /* even (not Thumb) or outside [slot, slot + length) */
    IMAGE_BAD_CRC,
};

/* zlib crc32() semantics: start with 0, feed pieces, each result is final. */
typedef uint32_t (*image_crc32_fn)(uint32_t crc, const void *data, size_t len);

/* Check the image whose first byte is at `image` (a slot's memory, or a host buffer),
 * to be run from `slot_addr`; `slot_size` bytes are readable from `image`. */
enum image_status image_check(const uint8_t *image, uint32_t slot_addr, uint32_t slot_size,
                              image_crc32_fn crc32);

/* The CRC the image should carry: over [0, length) with the CRC field read as zero.
 * `length` must be at least IMAGE_OFFSET_CRC + 4. */
uint32_t image_crc(const uint8_t *image, uint32_t length, image_crc32_fn crc32);

static inline uint32_t image_word(const uint8_t *image, uint32_t offset)
{
    const uint8_t *p = image + offset;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
