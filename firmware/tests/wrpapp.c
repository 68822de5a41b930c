/* wrpapp: an application image for slot A, run behind the bootloader built with
 * L4_BOOTLOADER_WRP. By the time it runs, the bootloader has written WRP1AR and
 * reloaded the option bytes; this program checks that the bootloader's pages (0..7 of
 * bank 1) refuse erase and program with WRPERR and keep their contents, and that the
 * application area still erases and programs. */
#include "layout.h"
#include "target.h"
#include "testlib.h"
#include "regs/flash.h"
#include "regs/rcc.h"

#define WRP_AREA_MASK 0x00FF00FFu
#define BOOTLOADER_LAST_PAGE (LAYOUT_BOOTLOADER_SIZE / LAYOUT_FLASH_PAGE_SIZE - 1u)
/* The last page of bank 1: application area, far past this small image. */
#define APP_SCRATCH_ADDR (LAYOUT_FLASH_BASE + LAYOUT_FLASH_BANK_SIZE - LAYOUT_FLASH_PAGE_SIZE)

static enum target_flash_status finish(enum target_flash_status started)
{
    if (started != TARGET_FLASH_OK)
        return started;
    enum target_flash_status status;
    while ((status = target_flash_poll()) == TARGET_FLASH_BUSY) {
    }
    return status;
}

int main(void)
{
    test_begin("wrpapp");
    test_check_eq(FLASH_WRP1AR & WRP_AREA_MASK, BOOTLOADER_LAST_PAGE << 16,
                  "WRP1AR does not cover pages 0..7 (STRT 0, END 7)");

    const volatile uint32_t *first_page = (const volatile uint32_t *)LAYOUT_BOOTLOADER_BASE;
    const volatile uint32_t *last_page = (const volatile uint32_t *)(LAYOUT_BOOTLOADER_BASE +
        BOOTLOADER_LAST_PAGE * LAYOUT_FLASH_PAGE_SIZE);
    uint32_t stack_word = first_page[0];
    uint32_t last_word = last_page[0];

    test_check_eq(finish(target_flash_erase_page_start(LAYOUT_BOOTLOADER_BASE)),
                  TARGET_FLASH_ERR_WRITE_PROTECTED, "erase of page 0");
    test_check(FLASH_SR & FLASH_SR_WRPERR, "WRPERR not set after the page 0 erase");
    test_check_eq(first_page[0], stack_word, "page 0 changed by a refused erase");
    test_check_eq(finish(target_flash_erase_page_start((uint32_t)last_page)),
                  TARGET_FLASH_ERR_WRITE_PROTECTED, "erase of page 7");
    test_check_eq(last_page[0], last_word, "page 7 changed by a refused erase");
    test_check_eq(finish(target_flash_program_start((uint32_t)last_page + 0x7F8u, 0u, 0u)),
                  TARGET_FLASH_ERR_WRITE_PROTECTED, "program in page 7");
    console_puts("bootloader pages refused\n");

    test_check_eq(finish(target_flash_erase_page_start(APP_SCRATCH_ADDR)), TARGET_FLASH_OK,
                  "erase in the application area");
    test_check_eq(finish(target_flash_program_start(APP_SCRATCH_ADDR, 0x12345678u, 0x9ABCDEF0u)),
                  TARGET_FLASH_OK, "program in the application area");
    test_check_eq(*(const volatile uint32_t *)(APP_SCRATCH_ADDR + 4u), 0x9ABCDEF0u,
                  "application area read-back");
    console_puts("application area writable\n");
    target_bootcount_write(0u);
    test_pass();
}
