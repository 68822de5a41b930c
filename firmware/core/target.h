/* The line between policy (firmware/core, firmware/bootloader) and the chip
 * (firmware/stm32l4). Everything the bootloader and the DFU class need from the
 * hardware goes through these functions; nothing in core/ touches a register.
 * Implemented by firmware/stm32l4/target_stm32l4.c; a host fake in tests/unit.
 */
#ifndef L4DFU_TARGET_H
#define L4DFU_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- memory layout (values from the board's layout.h) ---- */
uint32_t target_flash_base(void);      /* 0x08000000 */
uint32_t target_flash_size(void);      /* read from the flash-size register (bytes) */
uint32_t target_flash_page_size(void); /* 2048 */
uint32_t target_flash_bank_size(void); /* size / 2 on dual-bank parts */

/* ---- clocks, reset, hand-over ---- */
void target_init(void);     /* clocks for USB (48 MHz), GPIO for button/LED, CRC unit */
void target_reset(void) __attribute__((noreturn));
/* Start the image at `vectors` (slot A) from the chip's reset state: on the L476 a
 * system reset whose startup code enters the image before touching anything, so
 * nothing the bootloader set up (USB, clocks, SysTick, NVIC) reaches the image. */
void target_start_image(uint32_t vectors) __attribute__((noreturn));
/* Milliseconds since target_init (SysTick-free: derived from a free-running counter). */
uint32_t target_millis(void);

/* ---- inputs ---- */
bool target_button_pressed(void); /* the board's "stay in bootloader" button */

/* ---- backup-domain handshake (survives system reset, not power loss) ---- */
uint32_t target_handshake_read(void);
void target_handshake_write(uint32_t value);
uint32_t target_bootcount_read(void);
void target_bootcount_write(uint32_t value);
/* true if the last reset was a power-on (backup registers then hold no valid handshake) */
bool target_reset_was_power_on(void);

/* ---- CRC-32 (zlib/IEEE 802.3, as the L476's CRC unit computes it) ---- */
uint32_t target_crc32(const void *data, size_t len);
/* Continue a CRC-32 with zlib's crc32() semantics: crc is a finished value (0 to start),
 * the result is finished too, so update(update(0, a), b) == crc32(a ++ b). The image
 * check needs it to treat the stored CRC field as zero without copying the image.
 * (On the CRC unit: INIT = rbit(~crc), REV_IN word, REV_OUT, result = ~DR.) */
uint32_t target_crc32_update(uint32_t crc, const void *data, size_t len);

/* ---- memory reads (DFU UPLOAD, verify after programming) ----
 * Copy len bytes of the chip's address space (flash, option bytes, OTP) to dst. On the
 * chip a memcpy from the address; host fakes back it with their own arrays. */
void target_memory_read(uint32_t addr, void *dst, size_t len);

/* ---- identity ---- */
/* 12 upper-case hex digits, as ST's ROM bootloader derives them from the UID; NUL-terminated. */
void target_serial_number(char out[13]);

/* ---- flash (non-blocking, so USB is serviced while the flash is busy) ----
 * Each call starts one operation; target_flash_poll() reports its end.
 * Errors use the codes below, mapped from FLASH_SR by the chip layer. */
enum target_flash_status {
    TARGET_FLASH_OK = 0,
    TARGET_FLASH_BUSY,
    TARGET_FLASH_ERR_WRITE_PROTECTED, /* WRPERR */
    TARGET_FLASH_ERR_NOT_ERASED,      /* PROGERR */
    TARGET_FLASH_ERR_ALIGNMENT,       /* PGAERR/SIZERR/PGSERR */
    TARGET_FLASH_ERR_ADDRESS,         /* outside flash */
    TARGET_FLASH_ERR_OTHER,
};
enum target_flash_status target_flash_erase_page_start(uint32_t addr); /* page holding addr */
/* bank 1 or 2 as the address map shows them: bank 2 is the one at base + bank size,
 * whatever FB_MODE says (the DFU mass erase relies on it to spare the bootloader). */
enum target_flash_status target_flash_mass_erase_start(unsigned bank);
/* Program one 64-bit double word at an 8-aligned address. */
enum target_flash_status target_flash_program_start(uint32_t addr, uint32_t lo, uint32_t hi);
enum target_flash_status target_flash_poll(void);
void target_flash_lock(void);
/* Readout protection (FLASH_OPTR.RDP): 0, 1 or 2. At level >= 1 the DFU class refuses
 * UPLOAD of memory (otherwise the bootloader would defeat RDP). */
unsigned target_flash_rdp_level(void);
/* DfuSe "Read Unprotect": program RDP back to level 0 (0xAA) and launch the option-byte
 * reload. On silicon the 1 -> 0 regression mass-erases the whole flash (the bootloader
 * too) and the reload resets the chip, so on success this does not return. Returns
 * TARGET_FLASH_OK at once, touching nothing, if RDP is already 0; an error if the
 * option bytes cannot be written (level 2 is permanent: ERR_WRITE_PROTECTED).
 * The program call must also accept OTP addresses (0x1FFF7000..0x1FFF73FF). */
enum target_flash_status target_flash_read_unprotect(void);
/* Write protection of bank 1 pages first..last through WRP1AR (page indexes of 2 KB).
 * Returns TARGET_FLASH_OK at once if WRP1AR already covers them; otherwise programs
 * WRP1AR and launches the option-byte reload (a reset), so it returns only on an error. */
enum target_flash_status target_flash_write_protect_bank1(unsigned first_page, unsigned last_page);
/* Typical durations, for DFU bwPollTimeout (datasheet figures). */
#define TARGET_FLASH_PAGE_ERASE_US 22020u
#define TARGET_FLASH_MASS_ERASE_US 22130u
#define TARGET_FLASH_PROGRAM_DW_US 82u

#endif
