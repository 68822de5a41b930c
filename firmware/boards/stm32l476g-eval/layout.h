/* Memory layout of an l4dfu system on the STM32L476xG (1 MB, two 512 KB banks,
 * 2 KB pages), following the project's image-format decisions (docs/image-format.md).
 * The linker scripts in firmware/stm32l4/linker/ repeat the region numbers: keep them
 * in step with this file. */
#ifndef L4_LAYOUT_H
#define L4_LAYOUT_H

#define LAYOUT_FLASH_BASE       0x08000000u
#define LAYOUT_FLASH_PAGE_SIZE  0x800u
#define LAYOUT_FLASH_BANK_SIZE  0x80000u

/* Bootloader: 16 KB reserved, code budget 4 KB (text + data). */
#define LAYOUT_BOOTLOADER_BASE   0x08000000u
#define LAYOUT_BOOTLOADER_SIZE   0x4000u
#define LAYOUT_BOOTLOADER_BUDGET 4096u

/* Application slot A: after the bootloader to the end of bank 1. */
#define LAYOUT_SLOT_A_BASE 0x08004000u
#define LAYOUT_SLOT_A_SIZE (0x08080000u - 0x08004000u)
/* Slot B: all of bank 2, for the live update. */
#define LAYOUT_SLOT_B_BASE 0x08080000u
#define LAYOUT_SLOT_B_SIZE 0x80000u

/* RAM */
#define LAYOUT_SRAM1_BASE 0x20000000u
#define LAYOUT_SRAM1_SIZE 0x18000u
#define LAYOUT_SRAM2_BASE 0x10000000u
#define LAYOUT_SRAM2_SIZE 0x8000u

/* Image metadata in the application's vector table (the Cortex-M reserved slots). */
#define LAYOUT_IMAGE_MAGIC_OFFSET   0x1Cu
#define LAYOUT_IMAGE_LENGTH_OFFSET  0x20u
#define LAYOUT_IMAGE_CRC_OFFSET     0x24u
#define LAYOUT_IMAGE_VERSION_OFFSET 0x28u
#define LAYOUT_IMAGE_MAGIC          0x4644344Cu /* "L4DF" */
#define LAYOUT_IMAGE_MIN_LENGTH     0x200u

/* Backup-register handshake (RTC BKPxR). */
#define LAYOUT_BKP_HANDSHAKE     0u
#define LAYOUT_BKP_BOOTCOUNT     1u
#define LAYOUT_HANDSHAKE_STAY_DFU 0x21554644u /* "DFU!" */
#define LAYOUT_HANDSHAKE_ROM      0x214D4F52u /* "ROM!" */
#define LAYOUT_HANDSHAKE_RUN      0x214E5552u /* "RUN!": the bootloader hands slot A over */
#define LAYOUT_BOOT_ATTEMPTS_MAX  3u

/* ST's ROM bootloader (system memory). */
#define LAYOUT_SYSMEM_BASE 0x1FFF0000u

#endif
