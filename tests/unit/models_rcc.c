/* RCC model (sim/rcc.c): reset values, oscillators that become ready only as virtual time
 * passes, clock switching, PLLs, the USB 48 MHz clock and what is missing for it, peripheral
 * enables and resets, the backup-domain control and the reset flags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "models_util.h"
#include "rcc.h"

#define HSEON (1u << 16)
#define HSERDY (1u << 17)
#define HSION (1u << 8)
#define HSIRDY (1u << 10)
#define MSION 1u
#define MSIPLLEN (1u << 2)
#define MSIRGSEL (1u << 3)
#define PLLON (1u << 24)
#define PLLRDY (1u << 25)
#define PLLSAI1ON (1u << 26)
#define LSEON 1u
#define LSERDY 2u

static int setup(void **state)
{
    *state = models_board();
    return 0;
}

static int teardown(void **state)
{
    sim_destroy(*state);
    return 0;
}

static void reset_values(void **state)
{
    sim_t *sim = *state;
    assert_int_equal(rd(sim, RCC_CR), 0x00000063u);
    assert_int_equal(rd(sim, RCC_CFGR), 0);
    assert_int_equal(rd(sim, RCC_PLLCFGR), 0x00001000u);
    assert_int_equal(rd(sim, RCC_PLLSAI1CFGR), 0x00001000u);
    assert_int_equal(rd(sim, RCC_AHB1ENR), 0x00000100u);
    assert_int_equal(rd(sim, RCC_AHB2ENR), 0);
    assert_int_equal(rd(sim, RCC_APB1ENR1), 0);
    assert_int_equal(rd(sim, 0x40021068u), 0x00011303u); /* AHB1SMENR */
    assert_int_equal(rd(sim, 0x40021078u), 0xF2FECA3Fu); /* APB1SMENR1 */
    assert_int_equal(rd(sim, RCC_CCIPR), 0);
    assert_int_equal(rd(sim, RCC_BDCR), 0);
    assert_int_equal(rd(sim, RCC_CSR), 0x0C000600u);
    assert_int_equal(rcc_sysclk_hz(sim), 4000000u);
    assert_int_equal(rcc_hclk_hz(sim), 4000000u);
    assert_true(rcc_periph_enabled(sim, RCC_P_FLASH));
    assert_false(rcc_periph_enabled(sim, RCC_P_GPIOA));
}

static void hse_ready_only_after_startup(void **state)
{
    sim_t *sim = *state;
    set_bits(sim, RCC_CR, HSEON);
    assert_int_equal(rd(sim, RCC_CR) & HSERDY, 0);
    sim_advance(sim, RCC_HSE_STARTUP_PS - SIM_PS_PER_US);
    assert_int_equal(rd(sim, RCC_CR) & HSERDY, 0);
    sim_advance(sim, 2 * SIM_PS_PER_US);
    assert_int_equal(rd(sim, RCC_CR) & HSERDY, HSERDY);

    set_bits(sim, RCC_CR, HSION);
    assert_int_equal(rd(sim, RCC_CR) & HSIRDY, 0);
    sim_advance(sim, RCC_HSI_STARTUP_PS);
    assert_int_equal(rd(sim, RCC_CR) & HSIRDY, HSIRDY);
}

static void switch_waits_for_a_ready_clock(void **state)
{
    sim_t *sim = *state;
    set_bits(sim, RCC_CR, HSEON);
    warnings_begin();
    wr(sim, RCC_CFGR, 2); /* SW = HSE */
    assert_non_null(strstr(warnings_end(), "not ready"));
    assert_int_equal((rd(sim, RCC_CFGR) >> 2) & 3u, 0); /* SWS still MSI */
    assert_int_equal(rcc_sysclk_hz(sim), 4000000u);
    sim_advance(sim, RCC_HSE_STARTUP_PS);
    assert_int_equal((rd(sim, RCC_CFGR) >> 2) & 3u, 2);
    assert_int_equal(rcc_sysclk_hz(sim), 8000000u);

    /* HPRE /2, PPRE1 /4, PPRE2 /1 */
    wr(sim, RCC_CFGR, 2 | (8u << 4) | (5u << 8));
    assert_int_equal(rcc_hclk_hz(sim), 4000000u);
    assert_int_equal(rcc_pclk_hz(sim, 1), 1000000u);
    assert_int_equal(rcc_pclk_hz(sim, 2), 4000000u);

    /* the oscillator SYSCLK runs on cannot be stopped */
    warnings_begin();
    wr(sim, RCC_CR, rd(sim, RCC_CR) & ~HSEON);
    assert_non_null(strstr(warnings_end(), "HSEON=0 refused"));
    assert_int_equal(rd(sim, RCC_CR) & HSERDY, HSERDY);
}

static void msi_cannot_stop_while_sysclk(void **state)
{
    sim_t *sim = *state;
    warnings_begin();
    wr(sim, RCC_CR, rd(sim, RCC_CR) & ~MSION);
    assert_non_null(strstr(warnings_end(), "MSION=0 refused"));
    assert_int_equal(rd(sim, RCC_CR) & 3u, 3u);
}

/* HSE 8 MHz / M1 * N20 = 160 MHz VCO, R /2 = 80 MHz. */
static void setup_pll_80mhz(sim_t *sim)
{
    set_bits(sim, RCC_CR, HSEON);
    sim_advance(sim, RCC_HSE_STARTUP_PS);
    wr(sim, RCC_PLLCFGR, 3u | (0u << 4) | (20u << 8) | (1u << 24) | (0u << 25));
    set_bits(sim, RCC_CR, PLLON);
}

static void pll_locks_and_runs_sysclk(void **state)
{
    sim_t *sim = *state;
    wr(sim, FLASH_ACR, (rd(sim, FLASH_ACR) & ~7u) | 4u); /* 4 wait states for 80 MHz */
    setup_pll_80mhz(sim);
    assert_int_equal(rd(sim, RCC_CR) & PLLRDY, 0);
    sim_advance(sim, RCC_PLL_LOCK_PS);
    assert_int_equal(rd(sim, RCC_CR) & PLLRDY, PLLRDY);
    wr(sim, RCC_CFGR, 3);
    assert_int_equal((rd(sim, RCC_CFGR) >> 2) & 3u, 3u);
    assert_int_equal(rcc_sysclk_hz(sim), 80000000u);
    assert_int_equal(rcc_hclk_hz(sim), 80000000u);
}

static void pll_out_of_range_warns(void **state)
{
    sim_t *sim = *state;
    set_bits(sim, RCC_CR, HSEON);
    wr(sim, RCC_PLLCFGR, 3u | (20u << 8) | (7u << 4)); /* 8 MHz / 8 = 1 MHz VCO input: too low */
    warnings_begin();
    set_bits(sim, RCC_CR, PLLON);
    assert_non_null(strstr(warnings_end(), "outside the VCO input range"));
}

static void fast_clock_in_range2_warns(void **state)
{
    sim_t *sim = *state;
    set_bits(sim, RCC_APB1ENR1, PWREN);
    wr(sim, FLASH_ACR, (rd(sim, FLASH_ACR) & ~7u) | 4u);
    wr(sim, PWR_CR1, (rd(sim, PWR_CR1) & ~(3u << 9)) | (2u << 9)); /* Range 2 */
    sim_advance(sim, 100 * SIM_PS_PER_US);
    setup_pll_80mhz(sim);
    sim_advance(sim, RCC_PLL_LOCK_PS);
    warnings_begin();
    wr(sim, RCC_CFGR, 3);
    assert_non_null(strstr(warnings_end(), "Range 2"));
}

static void hclk_too_fast_for_latency_warns(void **state)
{
    sim_t *sim = *state;
    wr(sim, FLASH_ACR, rd(sim, FLASH_ACR) & ~7u); /* 0 wait states */
    setup_pll_80mhz(sim);
    sim_advance(sim, RCC_PLL_LOCK_PS);
    warnings_begin();
    wr(sim, RCC_CFGR, 3);
    assert_non_null(strstr(warnings_end(), "FLASH_ACR.LATENCY>=4"));
}

static void clk48_names_each_missing_step(void **state)
{
    sim_t *sim = *state;
    bool accurate = true;
    const char *why = NULL;

    assert_int_equal(rcc_clk48_hz(sim, &accurate, &why), 0);
    assert_non_null(strstr(why, "CLK48SEL=00"));
    assert_non_null(strstr(why, "HSI48"));

    /* MSI selected, still at 4 MHz */
    wr(sim, RCC_CCIPR, 3u << 26);
    assert_int_equal(rcc_clk48_hz(sim, &accurate, &why), 4000000u);
    assert_false(accurate);
    assert_non_null(strstr(why, "MSIRANGE=11"));

    /* MSI range 11 (48 MHz) but not trimmed by the LSE */
    wr(sim, RCC_CR, (rd(sim, RCC_CR) & ~0xF0u) | (11u << 4) | MSIRGSEL);
    assert_int_equal(rcc_clk48_hz(sim, &accurate, &why), 48000000u);
    assert_false(accurate);
    assert_non_null(strstr(why, "MSIPLLEN"));

    /* LSE on, ready, MSIPLLEN: accurate */
    unlock_backup_domain(sim);
    wr(sim, RCC_BDCR, LSEON);
    sim_advance(sim, RCC_LSE_STARTUP_PS);
    assert_true(rcc_lse_ready(sim));
    set_bits(sim, RCC_CR, MSIPLLEN);
    assert_int_equal(rcc_clk48_hz(sim, &accurate, &why), 48000000u);
    assert_true(accurate);
    assert_null(why);
}

static void clk48_from_pllsai1(void **state)
{
    sim_t *sim = *state;
    bool accurate = true;
    const char *why = NULL;
    wr(sim, RCC_CCIPR, 1u << 26);
    assert_int_equal(rcc_clk48_hz(sim, &accurate, &why), 0);
    assert_non_null(strstr(why, "PLLSAI1ON=0"));

    /* PLLSAI1: N=24, Q /4: 8 MHz * 24 / 4 = 48 MHz; PLLSRC still none */
    wr(sim, RCC_PLLSAI1CFGR, (24u << 8) | (1u << 21));
    set_bits(sim, RCC_CR, PLLSAI1ON);
    assert_int_equal(rcc_clk48_hz(sim, &accurate, &why), 0);
    assert_non_null(strstr(why, "PLLSRC=00"));

    wr(sim, RCC_CR, rd(sim, RCC_CR) & ~PLLSAI1ON);
    wr(sim, RCC_PLLCFGR, 3u | (20u << 8)); /* HSE, M=1 */
    set_bits(sim, RCC_CR, PLLSAI1ON);
    assert_int_equal(rcc_clk48_hz(sim, &accurate, &why), 0);
    assert_non_null(strstr(why, "HSE is not ready"));

    set_bits(sim, RCC_CR, HSEON);
    sim_advance(sim, RCC_HSE_STARTUP_PS);
    assert_int_equal(rcc_clk48_hz(sim, &accurate, &why), 0);
    assert_non_null(strstr(why, "not locked"));

    sim_advance(sim, RCC_PLL_LOCK_PS);
    assert_int_equal(rcc_clk48_hz(sim, &accurate, &why), 0);
    assert_non_null(strstr(why, "PLLSAI1QEN=0"));

    wr(sim, RCC_PLLSAI1CFGR, rd(sim, RCC_PLLSAI1CFGR) | (1u << 20));
    assert_int_equal(rcc_clk48_hz(sim, &accurate, &why), 48000000u);
    assert_true(accurate);
}

static void clk48_from_main_pll_q(void **state)
{
    sim_t *sim = *state;
    bool accurate = true;
    const char *why = NULL;
    wr(sim, RCC_CCIPR, 2u << 26);
    assert_int_equal(rcc_clk48_hz(sim, &accurate, &why), 0);
    assert_non_null(strstr(why, "PLLON=0"));
    /* HSE 8 MHz, N=24, Q /4 = 48 MHz, Q enabled */
    set_bits(sim, RCC_CR, HSEON);
    sim_advance(sim, RCC_HSE_STARTUP_PS);
    wr(sim, RCC_PLLCFGR, 3u | (24u << 8) | (1u << 20) | (1u << 21));
    set_bits(sim, RCC_CR, PLLON);
    sim_advance(sim, RCC_PLL_LOCK_PS);
    assert_int_equal(rcc_clk48_hz(sim, &accurate, &why), 48000000u);
    assert_true(accurate);
}

static int hook_calls;
static void count_hook(void *arg)
{
    (void)arg;
    hook_calls++;
}

static void rstr_pulse_calls_hook(void **state)
{
    sim_t *sim = *state;
    hook_calls = 0;
    rcc_on_periph_reset(sim, RCC_P_OTGFS, count_hook, NULL);
    wr(sim, RCC_AHB2RSTR, 1u << 12);
    assert_int_equal(hook_calls, 1);
    wr(sim, RCC_AHB2RSTR, 1u << 12); /* still held: no new pulse */
    assert_int_equal(hook_calls, 1);
    wr(sim, RCC_AHB2RSTR, 0);
    wr(sim, RCC_AHB2RSTR, 1u << 0); /* GPIOA: not this hook */
    assert_int_equal(hook_calls, 1);
    wr(sim, RCC_AHB2RSTR, (1u << 12) | 1u);
    assert_int_equal(hook_calls, 2);
}

static void enables_follow_enr(void **state)
{
    sim_t *sim = *state;
    wr(sim, RCC_AHB2ENR, (1u << 1) | (1u << 12));
    assert_true(rcc_periph_enabled(sim, RCC_P_GPIOB));
    assert_true(rcc_periph_enabled(sim, RCC_P_OTGFS));
    assert_false(rcc_periph_enabled(sim, RCC_P_GPIOA));
    wr(sim, RCC_APB2ENR, (1u << 14) | 1u);
    assert_true(rcc_periph_enabled(sim, RCC_P_USART1));
    assert_true(rcc_periph_enabled(sim, RCC_P_SYSCFG));
    wr(sim, RCC_APB1ENR2, 1u);
    assert_true(rcc_periph_enabled(sim, RCC_P_LPUART1));
    wr(sim, RCC_AHB1ENR, 1u << 12);
    assert_true(rcc_periph_enabled(sim, RCC_P_CRC));
    assert_false(rcc_periph_enabled(sim, RCC_P_FLASH));
}

static void bdcr_needs_dbp_and_survives_system_reset(void **state)
{
    sim_t *sim = *state;
    warnings_begin();
    wr(sim, RCC_BDCR, LSEON);
    assert_non_null(strstr(warnings_end(), "DBP=0"));
    assert_int_equal(rd(sim, RCC_BDCR), 0);

    unlock_backup_domain(sim);
    wr(sim, RCC_BDCR, LSEON | (1u << 8)); /* RTCSEL = LSE */
    sim_advance(sim, RCC_LSE_STARTUP_PS - SIM_PS_PER_MS);
    assert_int_equal(rd(sim, RCC_BDCR) & LSERDY, 0);
    sim_advance(sim, 2 * SIM_PS_PER_MS);
    assert_int_equal(rd(sim, RCC_BDCR), LSEON | LSERDY | (1u << 8));

    /* RTCSEL is write-once */
    warnings_begin();
    wr(sim, RCC_BDCR, LSEON | (2u << 8));
    assert_non_null(strstr(warnings_end(), "RTCSEL"));
    assert_int_equal(rd(sim, RCC_BDCR) & (3u << 8), 1u << 8);

    sim_reset(sim, SIM_RESET_SYSTEM, SIM_CAUSE_PIN);
    assert_int_equal(rd(sim, RCC_BDCR), LSEON | LSERDY | (1u << 8));
    assert_true(rcc_lse_ready(sim));

    sim_reset(sim, SIM_RESET_POWER_ON, SIM_CAUSE_POWER_ON);
    assert_int_equal(rd(sim, RCC_BDCR), 0);
    assert_false(rcc_lse_ready(sim));
}

static void bdrst_clears_backup_domain(void **state)
{
    sim_t *sim = *state;
    unlock_backup_domain(sim);
    wr(sim, RCC_BDCR, LSEON | (2u << 8));
    wr(sim, 0x40002850u, 0xDEADBEEFu); /* RTC_BKP0R */
    assert_int_equal(rd(sim, 0x40002850u), 0xDEADBEEFu);
    wr(sim, RCC_BDCR, rd(sim, RCC_BDCR) | (1u << 16));
    wr(sim, RCC_BDCR, 0);
    assert_int_equal(rd(sim, RCC_BDCR), 0);
    assert_int_equal(rd(sim, 0x40002850u), 0);
    /* RTCSEL may be chosen again after the backup domain reset */
    wr(sim, RCC_BDCR, 1u << 8);
    assert_int_equal(rd(sim, RCC_BDCR), 1u << 8);
}

static void csr_reset_flags(void **state)
{
    sim_t *sim = *state;
    wr(sim, RCC_CSR, rd(sim, RCC_CSR) | (1u << 23)); /* RMVF */
    assert_int_equal(rd(sim, RCC_CSR) & 0xFF000000u, 0);
    sim_reset(sim, SIM_RESET_SYSTEM, SIM_CAUSE_SOFTWARE);
    assert_int_equal(rd(sim, RCC_CSR) & 0xFF000000u, (1u << 28) | (1u << 26)); /* SFTRSTF, PINRSTF */
    sim_reset(sim, SIM_RESET_SYSTEM, SIM_CAUSE_PIN);
    assert_int_equal(rd(sim, RCC_CSR) & 0xFF000000u, (1u << 28) | (1u << 26)); /* flags accumulate */
    sim_reset(sim, SIM_RESET_POWER_ON, SIM_CAUSE_POWER_ON);
    assert_int_equal(rd(sim, RCC_CSR), 0x0C000600u);
}

static void lsi_ready_after_startup(void **state)
{
    sim_t *sim = *state;
    wr(sim, RCC_CSR, rd(sim, RCC_CSR) | 1u);
    assert_false(rcc_lsi_on(sim));
    assert_int_equal(rd(sim, RCC_CSR) & 2u, 0);
    sim_advance(sim, RCC_LSI_STARTUP_PS);
    assert_true(rcc_lsi_on(sim));
    assert_int_equal(rd(sim, RCC_CSR) & 2u, 2u);
}

static void usart_kernel_clock_selection(void **state)
{
    sim_t *sim = *state;
    assert_int_equal(rcc_usart_kernel_hz(sim, 1), 4000000u); /* PCLK2 */
    wr(sim, RCC_CCIPR, 2u);                                  /* USART1SEL = HSI16 */
    assert_int_equal(rcc_usart_kernel_hz(sim, 1), 0);
    set_bits(sim, RCC_CR, HSION);
    sim_advance(sim, RCC_HSI_STARTUP_PS);
    assert_int_equal(rcc_usart_kernel_hz(sim, 1), 16000000u);
    wr(sim, RCC_CCIPR, 3u << 10); /* LPUART1SEL = LSE, not running */
    assert_int_equal(rcc_usart_kernel_hz(sim, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(reset_values, setup, teardown),
        cmocka_unit_test_setup_teardown(hse_ready_only_after_startup, setup, teardown),
        cmocka_unit_test_setup_teardown(switch_waits_for_a_ready_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(msi_cannot_stop_while_sysclk, setup, teardown),
        cmocka_unit_test_setup_teardown(pll_locks_and_runs_sysclk, setup, teardown),
        cmocka_unit_test_setup_teardown(pll_out_of_range_warns, setup, teardown),
        cmocka_unit_test_setup_teardown(fast_clock_in_range2_warns, setup, teardown),
        cmocka_unit_test_setup_teardown(hclk_too_fast_for_latency_warns, setup, teardown),
        cmocka_unit_test_setup_teardown(clk48_names_each_missing_step, setup, teardown),
        cmocka_unit_test_setup_teardown(clk48_from_pllsai1, setup, teardown),
        cmocka_unit_test_setup_teardown(clk48_from_main_pll_q, setup, teardown),
        cmocka_unit_test_setup_teardown(rstr_pulse_calls_hook, setup, teardown),
        cmocka_unit_test_setup_teardown(enables_follow_enr, setup, teardown),
        cmocka_unit_test_setup_teardown(bdcr_needs_dbp_and_survives_system_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(bdrst_clears_backup_domain, setup, teardown),
        cmocka_unit_test_setup_teardown(csr_reset_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(lsi_ready_after_startup, setup, teardown),
        cmocka_unit_test_setup_teardown(usart_kernel_clock_selection, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
