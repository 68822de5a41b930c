/* Flash driver behind target.h's target_flash_* (RM0351 "Embedded flash memory":
 * program, erase, option bytes).
 * Non-blocking: each *_start call checks the address, clears stale error flags,
 * starts one operation and returns; target_flash_poll() reports its end, mapping the
 * SR error bits. Which pages may be touched is policy (firmware/core); this driver only
 * refuses addresses that are not flash (or OTP, for programming). */
#include <stdbool.h>

#include "target.h"
#include "regs/cortex_m4.h"
#include "regs/flash.h"
#include "regs/rcc.h"
#include "regs/syscfg.h"

#define OTP_BASE 0x1FFF7000u
#define OTP_SIZE 0x400u
#define RDP_LEVEL0 0xAAu
#define RDP_LEVEL2 0xCCu
/* WRPxyR: STRT page in [7:0], END page in [23:16]; STRT > END means no area. */
#define WRP_PAGE_MASK 0xFFu
#define WRP_END_SHIFT 16u
#define CR_OPERATION_BITS                                                                    \
    (FLASH_CR_PG | FLASH_CR_PER | FLASH_CR_MER1 | FLASH_CR_MER2 | FLASH_CR_PNB_MASK |        \
     FLASH_CR_BKER | FLASH_CR_STRT | FLASH_CR_FSTPG)

uint32_t target_flash_base(void)
{
    return FLASH_MEM_BASE;
}

uint32_t target_flash_size(void)
{
    return (uint32_t)FLASH_SIZE_KB_REG * 1024u;
}

uint32_t target_flash_page_size(void)
{
    return FLASH_PAGE_SIZE;
}

uint32_t target_flash_bank_size(void)
{
    return target_flash_size() / 2u;
}

static enum target_flash_status status_from_sr(uint32_t sr)
{
    if (sr & FLASH_SR_WRPERR)
        return TARGET_FLASH_ERR_WRITE_PROTECTED;
    if (sr & FLASH_SR_PROGERR)
        return TARGET_FLASH_ERR_NOT_ERASED;
    if (sr & (FLASH_SR_PGAERR | FLASH_SR_SIZERR | FLASH_SR_PGSERR))
        return TARGET_FLASH_ERR_ALIGNMENT;
    if (sr & FLASH_SR_ALL_ERRORS)
        return TARGET_FLASH_ERR_OTHER;
    return TARGET_FLASH_OK;
}

/* Ready the controller for a new operation: idle, unlocked, no error left over from
 * the previous one (a pending PROGERR/PGAERR/SIZERR would turn the next start into
 * PGSERR). */
static enum target_flash_status begin_operation(void)
{
    if (FLASH_SR & FLASH_SR_BSY)
        return TARGET_FLASH_BUSY;
    if (FLASH_CR & FLASH_CR_LOCK) {
        FLASH_KEYR = FLASH_KEY1;
        FLASH_KEYR = FLASH_KEY2;
        if (FLASH_CR & FLASH_CR_LOCK)
            return TARGET_FLASH_ERR_OTHER; /* a wrong sequence locks it until reset */
    }
    FLASH_SR = FLASH_SR_ALL_ERRORS | FLASH_SR_EOP;
    return TARGET_FLASH_OK;
}

static void start(uint32_t operation)
{
    FLASH_CR = (FLASH_CR & ~CR_OPERATION_BITS) | operation;
    FLASH_CR |= FLASH_CR_STRT;
}

/* Starts an erase in the bank the address map shows first (op1) or second (op2).
 * The controller names physical banks (BKER, MER1/MER2), and with SYSCFG FB_MODE set
 * the two swap places in the map. */
static enum target_flash_status start_erase(bool second, uint32_t op1, uint32_t op2)
{
    enum target_flash_status status = begin_operation();
    if (status != TARGET_FLASH_OK)
        return status;
    RCC_APB2ENR |= RCC_APB2_SYSCFG;
    (void)RCC_APB2ENR;
    bool swapped = (SYSCFG_MEMRMP & SYSCFG_MEMRMP_FB_MODE) != 0u;
    start(second != swapped ? op2 : op1);
    return TARGET_FLASH_OK;
}

enum target_flash_status target_flash_erase_page_start(uint32_t addr)
{
    uint32_t offset = addr - FLASH_MEM_BASE;
    uint32_t bank_size = target_flash_bank_size();
    if (offset >= target_flash_size())
        return TARGET_FLASH_ERR_ADDRESS;
    uint32_t op = FLASH_CR_PER | ((offset % bank_size) / FLASH_PAGE_SIZE) << FLASH_CR_PNB_SHIFT;
    return start_erase(offset >= bank_size, op, op | FLASH_CR_BKER);
}

/* bank counts in the address map (target.h), so mass-erasing bank 2 never takes the
 * bank the bootloader runs from, whatever FB_MODE says. */
enum target_flash_status target_flash_mass_erase_start(unsigned bank)
{
    if (bank != 1u && bank != 2u)
        return TARGET_FLASH_ERR_ADDRESS;
    return start_erase(bank == 2u, FLASH_CR_MER1, FLASH_CR_MER2);
}

enum target_flash_status target_flash_program_start(uint32_t addr, uint32_t lo, uint32_t hi)
{
    bool in_flash = addr - FLASH_MEM_BASE < target_flash_size();
    bool in_otp = addr - OTP_BASE < OTP_SIZE;
    if (!in_flash && !in_otp)
        return TARGET_FLASH_ERR_ADDRESS;
    if (addr & 7u)
        return TARGET_FLASH_ERR_ALIGNMENT;
    enum target_flash_status status = begin_operation();
    if (status != TARGET_FLASH_OK)
        return status;
    FLASH_CR = (FLASH_CR & ~CR_OPERATION_BITS) | FLASH_CR_PG;
    /* The second word of the double word starts the program cycle. */
    L4_REG32(addr) = lo;
    cpu_isb();
    L4_REG32(addr + 4u) = hi;
    return TARGET_FLASH_OK;
}

/* The flash caches may hold lines read before an erase or program. Resetting a cache
 * needs it disabled. */
static void flush_caches(void)
{
    uint32_t acr = FLASH_ACR;
    FLASH_ACR = acr & ~(FLASH_ACR_ICEN | FLASH_ACR_DCEN);
    FLASH_ACR = (acr & ~(FLASH_ACR_ICEN | FLASH_ACR_DCEN)) | FLASH_ACR_ICRST | FLASH_ACR_DCRST;
    FLASH_ACR = acr;
}

enum target_flash_status target_flash_poll(void)
{
    uint32_t sr = FLASH_SR;
    if (sr & FLASH_SR_BSY)
        return TARGET_FLASH_BUSY;
    uint32_t cr = FLASH_CR;
    if (cr & (FLASH_CR_PG | FLASH_CR_PER | FLASH_CR_MER1 | FLASH_CR_MER2)) {
        FLASH_CR = cr & ~CR_OPERATION_BITS;
        flush_caches();
    }
    return status_from_sr(sr);
}

void target_flash_lock(void)
{
    FLASH_CR |= FLASH_CR_LOCK;
}

unsigned target_flash_rdp_level(void)
{
    uint32_t rdp = FLASH_OPTR & 0xFFu;
    if (rdp == RDP_LEVEL0)
        return 0u;
    return rdp == RDP_LEVEL2 ? 2u : 1u;
}

/* Writes the bits `mask` of one option-byte register and launches the reload, which
 * resets the chip: returns only when the option bytes cannot be written. */
static enum target_flash_status program_option(volatile uint32_t *reg, uint32_t mask,
                                               uint32_t value)
{
    enum target_flash_status status;
    while ((status = begin_operation()) == TARGET_FLASH_BUSY) {
    }
    if (status != TARGET_FLASH_OK)
        return status;
    if (FLASH_CR & FLASH_CR_OPTLOCK) {
        FLASH_OPTKEYR = FLASH_OPTKEY1;
        FLASH_OPTKEYR = FLASH_OPTKEY2;
        if (FLASH_CR & FLASH_CR_OPTLOCK)
            return TARGET_FLASH_ERR_OTHER;
    }
    *reg = (*reg & ~mask) | value;
    FLASH_CR |= FLASH_CR_OPTSTRT;
    while (FLASH_SR & FLASH_SR_BSY) {
    }
    status = status_from_sr(FLASH_SR);
    if (status != TARGET_FLASH_OK)
        return status;
    FLASH_CR |= FLASH_CR_OBL_LAUNCH; /* reloads the option bytes: a system reset */
    for (;;) {
    }
}

enum target_flash_status target_flash_read_unprotect(void)
{
    unsigned level = target_flash_rdp_level();
    if (level == 0u)
        return TARGET_FLASH_OK;
    if (level == 2u)
        return TARGET_FLASH_ERR_WRITE_PROTECTED;
    return program_option(&FLASH_OPTR, 0xFFu, RDP_LEVEL0);
}

enum target_flash_status target_flash_write_protect_bank1(unsigned first_page, unsigned last_page)
{
    uint32_t area = FLASH_WRP1AR;
    uint32_t start = area & WRP_PAGE_MASK;
    uint32_t end = (area >> WRP_END_SHIFT) & WRP_PAGE_MASK;
    if (start <= first_page && end >= last_page && start <= end)
        return TARGET_FLASH_OK;
    return program_option(&FLASH_WRP1AR, WRP_PAGE_MASK | WRP_PAGE_MASK << WRP_END_SHIFT,
                          first_page | (uint32_t)last_page << WRP_END_SHIFT);
}
