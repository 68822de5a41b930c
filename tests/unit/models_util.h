/* Shared helpers of the peripheral model tests (tests/unit/models_*.c): a board, register
 * pokes at real addresses, and a capture of the simulator's warnings (stderr). */
#ifndef MODELS_UTIL_H
#define MODELS_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "sim.h"

sim_t *models_board(void); /* a fresh STM32L476G-EVAL after power-on, console to /dev/null */
uint32_t rd(sim_t *sim, uint32_t addr);
void wr(sim_t *sim, uint32_t addr, uint32_t value);
void set_bits(sim_t *sim, uint32_t addr, uint32_t bits);

/* Everything sim_warn prints between warnings_begin() and warnings_end() is returned by
 * warnings_end() (valid until the next call). */
void warnings_begin(void);
const char *warnings_end(void);

/* Flash holds a vector table whose reset handler spins (b .); the board is power-on reset
 * so the CPU can run (needed where the core acts between instructions: resets, remaps). */
void load_idle_program(sim_t *sim);

/* NVIC pending bit of a device interrupt, read through the SCS registers. */
bool irq_pending(sim_t *sim, unsigned irqn);

/* Register addresses used by several tests. */
#define RCC_CR 0x40021000u
#define RCC_CFGR 0x40021008u
#define RCC_PLLCFGR 0x4002100Cu
#define RCC_PLLSAI1CFGR 0x40021010u
#define RCC_AHB1RSTR 0x40021028u
#define RCC_AHB2RSTR 0x4002102Cu
#define RCC_AHB1ENR 0x40021048u
#define RCC_AHB2ENR 0x4002104Cu
#define RCC_APB1ENR1 0x40021058u
#define RCC_APB1ENR2 0x4002105Cu
#define RCC_APB2ENR 0x40021060u
#define RCC_CCIPR 0x40021088u
#define RCC_BDCR 0x40021090u
#define RCC_CSR 0x40021094u
#define PWR_CR1 0x40007000u
#define PWR_CR2 0x40007004u
#define PWR_SR2 0x40007014u
#define FLASH_ACR 0x40022000u
#define PWREN (1u << 28)
#define DBP (1u << 8)

/* PWREN then DBP: the backup domain becomes writable. */
void unlock_backup_domain(sim_t *sim);

#endif
