#include "models_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

sim_t *models_board(void)
{
    sim_config cfg;
    sim_config_defaults(&cfg);
    cfg.console_file = "/dev/null";
    sim_t *sim = sim_create(&cfg);
    if (!sim) {
        fprintf(stderr, "sim_create failed\n");
        abort();
    }
    return sim;
}

uint32_t rd(sim_t *sim, uint32_t addr)
{
    return sim_bus_read(sim, addr, 4);
}

void wr(sim_t *sim, uint32_t addr, uint32_t value)
{
    sim_bus_write(sim, addr, value, 4);
}

void set_bits(sim_t *sim, uint32_t addr, uint32_t bits)
{
    wr(sim, addr, rd(sim, addr) | bits);
}

void unlock_backup_domain(sim_t *sim)
{
    set_bits(sim, RCC_APB1ENR1, PWREN);
    set_bits(sim, PWR_CR1, DBP);
}

static int saved_stderr = -1;
static FILE *capture;
static char *captured;

void warnings_begin(void)
{
    fflush(stderr);
    capture = tmpfile();
    if (!capture)
        abort();
    saved_stderr = dup(STDERR_FILENO);
    dup2(fileno(capture), STDERR_FILENO);
}

const char *warnings_end(void)
{
    fflush(stderr);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    long len = ftell(capture);
    if (len < 0)
        len = 0;
    free(captured);
    captured = calloc(1, (size_t)len + 1);
    rewind(capture);
    size_t got = fread(captured, 1, (size_t)len, capture);
    captured[got] = '\0';
    fclose(capture);
    /* let the run's log keep what was said */
    fputs(captured, stderr);
    return captured;
}

void load_idle_program(sim_t *sim)
{
    uint32_t vectors[2] = {0x20018000u, 0x08000009u}; /* SP, reset handler (Thumb) at 0x08000008 */
    uint8_t spin[2] = {0xFE, 0xE7};                   /* b . */
    sim_load_mem(sim, 0x08000000u, vectors, sizeof vectors);
    sim_load_mem(sim, 0x08000008u, spin, sizeof spin);
    sim_reset(sim, SIM_RESET_POWER_ON, SIM_CAUSE_POWER_ON);
}

bool irq_pending(sim_t *sim, unsigned irqn)
{
    return (rd(sim, 0xE000E200u + 4 * (irqn / 32)) >> (irqn % 32)) & 1u;
}
