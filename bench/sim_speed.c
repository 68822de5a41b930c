/* l4sim speed against bare Unicorn, in one run, on the same guest programs.
 * Bare = the engine alone (M4 model, flash/SRAM mapped, one MMIO window, no hooks).
 * l4sim = the whole board: block hook counting instructions, virtual time, NVIC, models.
 * Our machines are shared and noisy: only the ratio in one run means something. */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unicorn/unicorn.h>

#include "sim.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t *load_flat(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    static uint8_t file[1 << 20];
    size_t n = fread(file, 1, sizeof file, f);
    fclose(f);
    Elf32_Ehdr eh;
    memcpy(&eh, file, sizeof eh);
    uint8_t *flash = calloc(1, 0x100000);
    memset(flash, 0xFF, 0x100000);
    *len = 0;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf32_Phdr ph;
        memcpy(&ph, file + eh.e_phoff + i * sizeof ph, sizeof ph);
        if (ph.p_type == PT_LOAD && ph.p_filesz && ph.p_paddr >= 0x08000000u && ph.p_offset + ph.p_filesz <= n) {
            memcpy(flash + (ph.p_paddr - 0x08000000u), file + ph.p_offset, ph.p_filesz);
            if (ph.p_paddr - 0x08000000u + ph.p_filesz > *len)
                *len = ph.p_paddr - 0x08000000u + ph.p_filesz;
        }
    }
    return flash;
}

static uint64_t bare_mmio_read(uc_engine *uc, uint64_t off, unsigned size, void *user)
{
    (void)uc;
    (void)off;
    (void)size;
    (void)user;
    return 0x63; /* RCC_CR reset value: MSIRDY set */
}

static void bare_mmio_write(uc_engine *uc, uint64_t off, unsigned size, uint64_t v, void *user)
{
    (void)uc;
    (void)off;
    (void)size;
    (void)v;
    (void)user;
}

static void bare_intr(uc_engine *uc, uint32_t intno, void *user)
{
    (void)intno;
    (void)user;
    uc_emu_stop(uc);
}

static void bare_empty_block_hook(uc_engine *uc, uint64_t address, uint32_t size, void *user)
{
    (void)uc;
    (void)address;
    (void)size;
    (void)user;
}

/* with_block_hook: the engine's own price for a block hook, with nothing in it */
static double run_bare(const char *path, bool with_block_hook)
{
    size_t len;
    uint8_t *flash = load_flat(path, &len);
    uint8_t *sram = calloc(1, 0x18000);
    uc_engine *uc;
    uc_open(UC_ARCH_ARM, UC_MODE_THUMB, &uc);
    uc_ctl_set_cpu_model(uc, UC_CPU_ARM_CORTEX_M4);
    uc_mem_map_ptr(uc, 0x08000000u, 0x100000, UC_PROT_READ | UC_PROT_EXEC, flash);
    uc_mem_map_ptr(uc, 0x20000000u, 0x18000, UC_PROT_ALL, sram);
    uc_mmio_map(uc, 0x40021000u, 0x400, bare_mmio_read, NULL, bare_mmio_write, NULL);
    uc_hook h;
    uc_hook_add(uc, &h, UC_HOOK_INTR, bare_intr, NULL, 1, 0);
    if (with_block_hook)
        uc_hook_add(uc, &h, UC_HOOK_BLOCK, bare_empty_block_hook, NULL, 1, 0);
    uint32_t sp, pc;
    memcpy(&sp, flash, 4);
    memcpy(&pc, flash + 4, 4);
    uc_reg_write(uc, UC_ARM_REG_SP, &sp);
    double t0 = now_s();
    uc_emu_start(uc, pc, 0, 0, 0);
    double t = now_s() - t0;
    uc_close(uc);
    free(flash);
    free(sram);
    return t;
}

static double run_l4sim(const char *path, uint64_t *insns, double *modelled_ms)
{
    sim_config cfg;
    sim_config_defaults(&cfg);
    sim_t *sim = sim_create(&cfg);
    if (!sim || sim_load_elf(sim, path) != 0)
        exit(1);
    sim_reset(sim, SIM_RESET_POWER_ON, SIM_CAUSE_POWER_ON);
    double t0 = now_s();
    enum sim_stop stop = sim_run_for(sim, 3600 * SIM_PS_PER_S);
    double t = now_s() - t0;
    if (stop != SIM_STOP_BREAK) {
        fprintf(stderr, "sim_speed: %s did not end at its BKPT: %s\n", path, sim_stop_message(sim));
        exit(1);
    }
    *insns = sim_instructions(sim);
    *modelled_ms = (double)sim_now(sim) / (double)SIM_PS_PER_MS;
    sim_destroy(sim);
    return t;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: sim_speed ALU.elf STORES.elf POLL.elf\n");
        return 2;
    }
    static const char *names[3] = {"register-only loop", "store-heavy C", "peripheral poll loop"};
    static const double targets[3] = {0.5, 0.8, 0.7};
    printf("l4sim speed vs bare Unicorn (same guest programs, same run; M = million guest instructions)\n");
    printf("%-22s %12s %10s %12s %10s %7s %7s %12s\n", "program", "instructions", "bare M/s", "bare+hook M/s",
           "l4sim M/s", "ratio", "target", "modelled ms");
    int missed = 0;
    for (int k = 0; k < 3; k++) {
        uint64_t insns;
        double modelled;
        /* interleave and keep the best of three of each: noise only ever slows a run down */
        double bare = 1e9, hooked = 1e9, sim = 1e9;
        for (int rep = 0; rep < 5; rep++) {
            double b = run_bare(argv[1 + k], false);
            double h = run_bare(argv[1 + k], true);
            double s = run_l4sim(argv[1 + k], &insns, &modelled);
            if (b < bare)
                bare = b;
            if (h < hooked)
                hooked = h;
            if (s < sim)
                sim = s;
        }
        double bare_rate = (double)insns / bare / 1e6, sim_rate = (double)insns / sim / 1e6;
        double hook_rate = (double)insns / hooked / 1e6;
        double ratio = sim_rate / bare_rate;
        missed += ratio < targets[k];
        printf("%-22s %12llu %10.1f %12.1f %10.1f %7.2f %6.1fx %12.3f\n", names[k], (unsigned long long)insns,
               bare_rate, hook_rate, sim_rate, ratio, targets[k], modelled);
    }
    printf("(ratio = l4sim / bare, best of 5 interleaved runs; bare+hook = the engine with an empty block hook,\n"
           " the price of any exact instruction count; modelled ms = board time at the reset clock, MSI 4 MHz;\n"
           " %d target(s) missed)\n", missed);
    return 0;
}
