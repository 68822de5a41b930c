/* l4sim core: the virtual STM32L476G-EVAL that peripheral models plug into.
 *
 * Time: one virtual clock in picoseconds (sim_now). The CPU advances it by the
 * instructions it executes at the current HCLK (plus flash wait states); models
 * schedule their own events (a flash erase ending, a USB frame) by returning a
 * deadline from next_event(). Everything l4sim reports about time is modelled.
 *
 * Models: one file per peripheral in sim/, register table at the top. A model
 * registers its address window with sim_add_periph(); the core maps it with
 * uc_mmio_map for the CPU, and sim_bus_read/sim_bus_write reach the same
 * callbacks from host code (unit tests poke registers at their real addresses
 * without running any guest code).
 *
 * Models find each other through sim_model(sim, SIM_M_xxx) and the query
 * functions their own headers declare (rcc_clk48_hz(), pwr_usv(), ...).
 */
#ifndef L4SIM_SIM_H
#define L4SIM_SIM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sim sim_t;

#define SIM_PS_PER_NS 1000ULL
#define SIM_PS_PER_US 1000000ULL
#define SIM_PS_PER_MS 1000000000ULL
#define SIM_PS_PER_S  1000000000000ULL
#define SIM_NEVER     UINT64_MAX

/* Memory map of the STM32L476ZG (facts: shared/reference/stm32l476-registers.md §1). */
#define SIM_FLASH_BASE      0x08000000u
#define SIM_FLASH_SIZE      0x00100000u /* 1 MB, two banks of 512 KB */
#define SIM_FLASH_BANK_SIZE 0x00080000u
#define SIM_FLASH_PAGE_SIZE 0x800u
#define SIM_SYSMEM_BASE     0x1FFF0000u /* ST ROM bootloader, 28 KB */
#define SIM_SYSMEM_SIZE     0x7000u
#define SIM_OTP_BASE        0x1FFF7000u
#define SIM_OTP_SIZE        0x400u
#define SIM_UID_BASE        0x1FFF7590u
#define SIM_FLASHSIZE_REG   0x1FFF75E0u
#define SIM_SRAM1_BASE      0x20000000u
#define SIM_SRAM1_SIZE      0x18000u
#define SIM_SRAM2_BASE      0x10000000u
#define SIM_SRAM2_SIZE      0x8000u

enum sim_reset_kind {
    SIM_RESET_POWER_ON, /* power cycle: SRAM, backup domain and every register lost */
    SIM_RESET_SYSTEM,   /* NRST/AIRCR/IWDG/OBL: SRAM and backup domain survive */
};

/* Why the last reset happened; RCC_CSR reports it. */
enum sim_reset_cause {
    SIM_CAUSE_POWER_ON,
    SIM_CAUSE_SOFTWARE, /* AIRCR.SYSRESETREQ */
    SIM_CAUSE_IWDG,
    SIM_CAUSE_WWDG,
    SIM_CAUSE_PIN,
    SIM_CAUSE_OPTION_LOAD, /* FLASH_CR.OBL_LAUNCH */
};

/* Trace categories for --trace (a bit each). */
enum {
    SIM_TR_CPU = 1u << 0,
    SIM_TR_MEM = 1u << 1, /* unmapped/reserved accesses, faults */
    SIM_TR_IRQ = 1u << 2,
    SIM_TR_RCC = 1u << 3,
    SIM_TR_FLASH = 1u << 4,
    SIM_TR_GPIO = 1u << 5,
    SIM_TR_USB = 1u << 6,
    SIM_TR_PWR = 1u << 7,
    SIM_TR_MISC = 1u << 8, /* crc, iwdg, syscfg, rtc, usart */
};

/* Model slots, so models can find their peers. */
enum sim_model_id {
    SIM_M_RCC,
    SIM_M_PWR,
    SIM_M_GPIO, /* one model for ports A..H */
    SIM_M_FLASH,
    SIM_M_SYSCFG,
    SIM_M_RTC,
    SIM_M_IWDG,
    SIM_M_CRC,
    SIM_M_USART1,
    SIM_M_USART2,
    SIM_M_LPUART1,
    SIM_M_OTGFS,
    SIM_M_EXTI,
    SIM_M_COUNT
};

typedef struct sim_periph_ops {
    const char *name;
    /* size is 1, 2 or 4; offset is from the window's base. */
    uint32_t (*read)(void *self, uint32_t offset, unsigned size);
    void (*write)(void *self, uint32_t offset, uint32_t value, unsigned size);
    /* Optional. Called for every reset; the model keeps what survives `kind`. */
    void (*reset)(void *self, enum sim_reset_kind kind);
    /* Optional. Absolute virtual time (ps) of the model's next event, or SIM_NEVER. */
    uint64_t (*next_event)(void *self);
    /* Optional. Called whenever the clock moved; handles every event due at or before now. */
    void (*advance)(void *self, uint64_t now);
    /* Optional. Frees self. */
    void (*destroy)(void *self);
} sim_periph_ops;

/* ---- configuration and life cycle ---- */

typedef struct sim_config {
    const char *board;      /* "stm32l476g-eval" (default) */
    uint32_t trace_mask;    /* SIM_TR_* */
    const char *trace_file; /* NULL: stderr */
    bool strict;            /* reserved/unimplemented register access stops the run with an error */
    const char *console_file; /* USART output; NULL: stdout */
    const char *flash_image;  /* persist flash + option bytes here (loaded if present) */
    bool usb_quirk_310a;      /* OTG_FS core 3.10a extra EP0 status words (default on) */
    const char *timeline_file; /* milestones with modelled time; NULL: none */
} sim_config;

void sim_config_defaults(sim_config *cfg);
sim_t *sim_create(const sim_config *cfg);
void sim_destroy(sim_t *sim);

/* Load an ELF (its PT_LOAD segments at their physical addresses) or a raw binary. */
int sim_load_elf(sim_t *sim, const char *path);
int sim_load_bin(sim_t *sim, const char *path, uint32_t addr);
/* Host-side write into flash/SRAM contents as a programmer (SWD) would; not a bus access. */
int sim_load_mem(sim_t *sim, uint32_t addr, const void *data, size_t len);
int sim_read_mem(sim_t *sim, uint32_t addr, void *out, size_t len);

/* Reset the whole board. POWER_ON also clears SRAM and the backup domain. */
void sim_reset(sim_t *sim, enum sim_reset_kind kind, enum sim_reset_cause cause);
/* From a model: request a reset; it happens at the next instruction boundary. */
void sim_request_reset(sim_t *sim, enum sim_reset_kind kind, enum sim_reset_cause cause);
enum sim_reset_cause sim_last_reset_cause(const sim_t *sim);

/* ---- running ---- */

enum sim_stop {
    SIM_STOP_TIME,    /* reached the requested virtual time */
    SIM_STOP_CONSOLE, /* the console printed the awaited text */
    SIM_STOP_HOST,    /* sim_request_stop() */
    SIM_STOP_FAULT,   /* guest locked up (fault in a fault handler), or strict-mode error */
    SIM_STOP_ERROR,   /* engine error */
    SIM_STOP_BREAK,   /* guest BKPT */
};
/* Run until virtual time `until_ps` (absolute) or another stop reason. */
enum sim_stop sim_run_until(sim_t *sim, uint64_t until_ps);
enum sim_stop sim_run_for(sim_t *sim, uint64_t duration_ps);
/* Stop sim_run_* at the next block; safe from any thread and from MMIO callbacks. */
void sim_request_stop(sim_t *sim);
/* Stop when the console output contains text (NULL to clear). */
void sim_stop_on_console(sim_t *sim, const char *text);
const char *sim_stop_message(const sim_t *sim); /* why the last run stopped, for people */

uint64_t sim_now(const sim_t *sim);
uint64_t sim_instructions(const sim_t *sim);
/* Move virtual time forward with the CPU idle (as if sleeping); models advance. For tests. */
void sim_advance(sim_t *sim, uint64_t duration_ps);
/* Ask the run loop to re-read every model's next_event (after a model scheduled something). */
void sim_reschedule(sim_t *sim);

/* Wall-clock pacing while an outside client (dfu-util) is attached: virtual time never
 * runs ahead of wall time. 0 = free-running (default). */
void sim_set_pacing(sim_t *sim, bool paced);

/* ---- bus ---- */

void sim_add_periph(sim_t *sim, uint32_t base, uint32_t size, const sim_periph_ops *ops, void *self);
void sim_set_model(sim_t *sim, enum sim_model_id id, void *model);
void *sim_model(const sim_t *sim, enum sim_model_id id);

/* Host-side register access at a real address (unit tests, debugger-like tools). */
uint32_t sim_bus_read(sim_t *sim, uint32_t addr, unsigned size);
void sim_bus_write(sim_t *sim, uint32_t addr, uint32_t value, unsigned size);

/* Raw memory of a region the core owns (flash, SRAM, system memory, OTP); NULL if none. */
uint8_t *sim_mem_ptr(sim_t *sim, uint32_t addr, size_t len);
/* Tell the engine that code bytes in [addr, addr+len) changed (flash program/erase). */
void sim_code_changed(sim_t *sim, uint32_t addr, size_t len);
/* Boot alias at 0x00000000: SYSCFG MEMRMP MEM_MODE (0 flash, 1 system memory, 3 SRAM1);
 * fb_mode swaps the banks (bank 2 at 0x08000000). */
void sim_remap(sim_t *sim, unsigned mem_mode, bool fb_mode);
/* The flash model marks the bank it is erasing/programming: a CPU fetch from
 * [start, end) (physical addresses) stalls until until_ps. until_ps = 0 clears it. */
void sim_set_busy_region(sim_t *sim, uint32_t start, uint32_t end, uint64_t until_ps);
/* Stall the CPU until `until_ps` (e.g. a bus access that must wait for the flash). */
void sim_stall_until(sim_t *sim, uint64_t until_ps);

/* A model's register that is reserved or not implemented was touched: report it with the
 * guest PC; in strict mode the run stops with an error. Returns 0 for reads. */
uint32_t sim_bad_access(sim_t *sim, const char *model, uint32_t addr, bool write, uint32_t value);

/* ---- interrupts (NVIC) ---- */
#define SIM_IRQ_COUNT 82
/* Level of a device interrupt line (0..81): while high the IRQ is pending. */
void sim_irq_set(sim_t *sim, unsigned irqn, bool level);
/* Edge: set the pending bit once (like a pulse). */
void sim_irq_pulse(sim_t *sim, unsigned irqn);

/* ---- console and reporting ---- */
void sim_console_putc(sim_t *sim, const char *source, uint8_t byte);
const char *sim_console_text(const sim_t *sim); /* everything printed since power-on */

/* Timeline (--timeline FILE): milestones with their modelled time, one per line, for
 * reports such as `make demo` (resets, USB attach/enumerated/detach, console lines). */
void sim_event(sim_t *sim, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

bool sim_tracing(const sim_t *sim, uint32_t category);
void sim_trace(sim_t *sim, uint32_t category, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Always printed: something the firmware did that the silicon would not accept. */
void sim_warn(sim_t *sim, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Guest PC as best known (block start inside MMIO callbacks). */
uint32_t sim_guest_pc(const sim_t *sim);

#endif
