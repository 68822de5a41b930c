/* fbmode: with SYSCFG FB_MODE set (banks swapped in the address map), the flash driver's
 * erases follow the address map, as target.h promises: a mass erase of "bank 2" takes the
 * bank shown at 0x08080000 and never the one the program runs from (0x08000000).
 * l4sim loads this program into both banks (--load ELF --load BIN@0x08080000), so it keeps
 * running when the swap puts the copy at 0x08000000. */
#include "target.h"
#include "testlib.h"
#include "regs/rcc.h"
#include "regs/syscfg.h"

#define LOW_MARK 0x08070000u  /* bank 1 of the map: physical bank 2 once swapped */
#define HIGH_MARK 0x080F0000u /* bank 2 of the map: physical bank 1 once swapped */
#define POLLS 50000000u

static enum target_flash_status finish(enum target_flash_status started)
{
    if (started != TARGET_FLASH_OK)
        return started;
    enum target_flash_status status;
    uint32_t polls = POLLS;
    while ((status = target_flash_poll()) == TARGET_FLASH_BUSY && polls--) {
    }
    return status;
}

static void mark(uint32_t addr, const char *what)
{
    test_check_eq(finish(target_flash_erase_page_start(addr)), TARGET_FLASH_OK, what);
    test_check_eq(finish(target_flash_program_start(addr, 0x4B52414Du, addr)), TARGET_FLASH_OK,
                  what);
    test_check_eq(L4_REG32(addr), 0x4B52414Du, what);
}

int main(void)
{
    test_begin("fbmode");
    RCC_APB2ENR |= RCC_APB2_SYSCFG;
    (void)RCC_APB2ENR;
    SYSCFG_MEMRMP |= SYSCFG_MEMRMP_FB_MODE;
    __asm__ volatile("dsb 0xF\n\tisb 0xF" ::: "memory");
    test_check((SYSCFG_MEMRMP & SYSCFG_MEMRMP_FB_MODE) != 0u, "FB_MODE did not set");

    mark(LOW_MARK, "marker in bank 1 of the map");
    mark(HIGH_MARK, "marker in bank 2 of the map");
    /* Page erase: the page the address names, in the swapped map. */
    test_check_eq(finish(target_flash_erase_page_start(HIGH_MARK)), TARGET_FLASH_OK,
                  "page erase in bank 2 of the map");
    test_check_eq(L4_REG32(HIGH_MARK), 0xFFFFFFFFu, "page erase missed its page");
    test_check_eq(L4_REG32(LOW_MARK), 0x4B52414Du, "page erase hit the other bank");

    mark(HIGH_MARK, "marker in bank 2 of the map again");
    /* Mass erase of bank 2: if it took the physical bank 2 (now at 0x08000000) the program
     * would erase itself here. */
    test_check_eq(finish(target_flash_mass_erase_start(2u)), TARGET_FLASH_OK,
                  "mass erase of bank 2");
    test_check_eq(L4_REG32(HIGH_MARK), 0xFFFFFFFFu, "mass erase left bank 2 of the map");
    test_check_eq(L4_REG32(LOW_MARK), 0x4B52414Du, "mass erase of bank 2 hit bank 1 of the map");
    test_pass();
}
