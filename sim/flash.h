/* l4sim FLASH model: the embedded flash interface of the STM32L476 (registers at
 * 0x40022000), the 1 MB main array in two banks, the 1 KB OTP area and the
 * option-byte memory of both banks. See docs/sim-flash.md for what it enforces.
 *
 * The core owns the bytes (sim_mem_ptr); this model decides what CPU stores to
 * flash do and when erase/program operations finish in virtual time.
 */
#ifndef L4SIM_FLASH_H
#define L4SIM_FLASH_H

#include "sim.h"

#define FLASH_REG_BASE 0x40022000u
#define FLASH_REG_SIZE 0x400u
#define FLASH_IRQ      4u

/* Option-byte memory: each option register is stored as a 64-bit slot,
 * the value in the low word and its complement in the high word. */
#define FLASH_OB1_BASE 0x1FFF7800u /* OPTR, PCROP1SR, PCROP1ER, WRP1AR, WRP1BR */
#define FLASH_OB2_BASE 0x1FFFF800u /* (reserved), PCROP2SR, PCROP2ER, WRP2AR, WRP2BR */
#define FLASH_OB_AREA_SIZE 0x800u

#define FLASH_OPTR_FACTORY 0xFFEFF8AAu

/* Modelled durations (DS10198 typical values as collected in the fact sheet; all
 * "(unverified)" there). Every timing of the model comes from this list. */
#define FLASH_T_PROGRAM_DW_PS  (81690ULL * SIM_PS_PER_NS)       /* 81.69 us per double word */
#define FLASH_T_FAST_ROW_PS    (3800ULL * SIM_PS_PER_US)        /* 3.8 ms per 32-double-word row */
#define FLASH_T_PAGE_ERASE_PS  (22020ULL * SIM_PS_PER_US)       /* 22.02 ms per 2 KB page */
#define FLASH_T_MASS_ERASE_PS  (22130ULL * SIM_PS_PER_US)       /* 22.13 ms, one or both banks */
/* Not in any source: an option-byte program is modelled as erasing the option page
 * and programming its ten double words. */
#define FLASH_T_OPTION_PROGRAM_PS (FLASH_T_PAGE_ERASE_PS + 10 * FLASH_T_PROGRAM_DW_PS)

/* Create the model, map its registers and claim SIM_M_FLASH. Leaves the board in
 * factory state (erased array and OTP, factory option bytes). */
void flash_attach(sim_t *sim);

/* A store (CPU or sim_bus_write) to flash, OTP or option-byte memory; the core
 * keeps in memory whatever this function leaves there. */
void flash_mem_write(sim_t *sim, uint32_t addr, uint32_t value, unsigned size);

/* True while an erase/program occupies the bank holding addr (0x08xxxxxx or the
 * flash alias at 0); *until_ps is when BSY clears. A fast-programming row counts as
 * ending at its next double word's deadline, since a CPU stalled on that bank cannot
 * deliver the data (the row then ends with MISERR). */
bool flash_bank_busy_until(sim_t *sim, uint32_t addr, uint64_t *until_ps);

/* ACR as the instruction timing needs it. */
uint32_t flash_latency(sim_t *sim);
bool flash_prefetch_on(sim_t *sim);
bool flash_icache_on(sim_t *sim);

/* Option bytes in effect (loaded at the last power-on or OBL_LAUNCH), for the
 * models that act on them (boot selection, IWDG, SRAM2). */
uint32_t flash_optr(sim_t *sim);
/* Read-protection level in effect: 0, 1 or 2. */
unsigned flash_rdp_level(sim_t *sim);

/* Power cut: at virtual time at_ps, or halfway through the at_nth_op-th operation
 * counted by flash_op_count (whichever comes first; 0 = criterion unused). The
 * double word / page / bank being changed is left as a pseudo-random mix of old and
 * new bits, then a power-on reset is requested. Fires once. */
void flash_power_cut_arm(sim_t *sim, uint64_t at_ps, unsigned at_nth_op);
/* Seed of the indeterminate-bit mix (the default is fixed, so runs repeat). */
void flash_power_cut_seed(sim_t *sim, uint64_t seed);
/* Program, fast-row, erase and option-program operations started since attach. */
unsigned flash_op_count(sim_t *sim);

/* Persistence of flash + OTP + both option-byte areas in one file.
 * load: a missing file gives the factory state and returns 0; a short, foreign
 * or corrupt file returns a negative errno value (and says why on sim_warn).
 * save: 0 or a negative errno value. */
int flash_image_load(sim_t *sim, const char *path);
int flash_image_save(sim_t *sim, const char *path);

#endif
