/* IWDG (sim/iwdg.c): keys, guarded PR/RLR with their busy flags, the timeout in virtual time,
 * the system reset it causes and RCC_CSR.IWDGRSTF afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "iwdg.h"
#include "models_util.h"
#include "rcc.h"

#define IWDG_KR 0x40003000u
#define IWDG_PR 0x40003004u
#define IWDG_RLR 0x40003008u
#define IWDG_SR 0x4000300Cu
#define IWDG_WINR 0x40003010u
#define IWDGRSTF (1u << 29)
#define LSI_TICK_PS (SIM_PS_PER_S / 32000u)

static int setup(void **state)
{
    sim_t *sim = models_board();
    load_idle_program(sim);
    *state = sim;
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
    assert_int_equal(rd(sim, IWDG_PR), 0);
    assert_int_equal(rd(sim, IWDG_RLR), 0xFFFu);
    assert_int_equal(rd(sim, IWDG_SR), 0);
    assert_int_equal(rd(sim, IWDG_WINR), 0xFFFu);
    assert_false(iwdg_running(sim));
    assert_int_equal(iwdg_deadline(sim), SIM_NEVER);
}

static void timeout_resets_with_iwdgrstf(void **state)
{
    sim_t *sim = *state;
    wr(sim, RCC_CSR, rd(sim, RCC_CSR) | (1u << 23)); /* clear the power-on flags */
    uint64_t start = sim_now(sim);
    wr(sim, IWDG_KR, 0xCCCC);
    assert_true(iwdg_running(sim));
    /* 0xFFF + 1 ticks of LSI/4: 512 ms */
    assert_int_equal(iwdg_deadline(sim) - start, 4096u * 4u * LSI_TICK_PS);

    sim_run_for(sim, 511 * SIM_PS_PER_MS);
    assert_true(iwdg_running(sim));
    assert_int_equal(rd(sim, RCC_CSR) & IWDGRSTF, 0);
    sim_run_for(sim, 2 * SIM_PS_PER_MS);
    assert_int_equal(sim_last_reset_cause(sim), SIM_CAUSE_IWDG);
    assert_int_equal(rd(sim, RCC_CSR) & IWDGRSTF, IWDGRSTF);
    assert_false(iwdg_running(sim)); /* software mode: stopped by the reset */
}

static void start_forces_lsi(void **state)
{
    sim_t *sim = *state;
    assert_false(rcc_lsi_on(sim));
    wr(sim, IWDG_KR, 0xCCCC);
    sim_advance(sim, RCC_LSI_STARTUP_PS);
    assert_true(rcc_lsi_on(sim));
    assert_int_equal(rd(sim, RCC_CSR) & 1u, 0); /* LSION itself unchanged */
}

static void pr_rlr_need_unlock_and_are_busy(void **state)
{
    sim_t *sim = *state;
    warnings_begin();
    wr(sim, IWDG_RLR, 100);
    assert_non_null(strstr(warnings_end(), "0x5555"));
    assert_int_equal(rd(sim, IWDG_RLR), 0xFFFu);

    wr(sim, IWDG_KR, 0x5555);
    wr(sim, IWDG_PR, 2);   /* LSI / 16 */
    wr(sim, IWDG_RLR, 99); /* 100 ticks */
    assert_int_equal(rd(sim, IWDG_SR), 3u); /* PVU, RVU */
    warnings_begin();
    wr(sim, IWDG_RLR, 50);
    assert_non_null(strstr(warnings_end(), "RVU=1"));
    assert_int_equal(rd(sim, IWDG_RLR), 99);
    sim_advance(sim, IWDG_UPDATE_LSI_CYCLES * LSI_TICK_PS);
    assert_int_equal(rd(sim, IWDG_SR), 0);

    wr(sim, IWDG_KR, 0xCCCC);
    wr(sim, IWDG_KR, 0xAAAA); /* reload: RLR and PR now apply */
    uint64_t t = sim_now(sim);
    assert_int_equal(iwdg_deadline(sim) - t, 100u * 16u * LSI_TICK_PS);

    /* the reload key locked PR/RLR again */
    warnings_begin();
    wr(sim, IWDG_PR, 0);
    assert_non_null(strstr(warnings_end(), "0x5555"));
}

static void refresh_postpones_the_reset(void **state)
{
    sim_t *sim = *state;
    wr(sim, IWDG_KR, 0xCCCC);
    for (int i = 0; i < 3; i++) {
        sim_run_for(sim, 400 * SIM_PS_PER_MS);
        wr(sim, IWDG_KR, 0xAAAA);
    }
    assert_true(iwdg_running(sim));
    assert_int_not_equal(sim_last_reset_cause(sim), SIM_CAUSE_IWDG);
    assert_int_equal(iwdg_deadline(sim) - sim_now(sim), 4096u * 4u * LSI_TICK_PS);
}

static void refresh_outside_window_resets(void **state)
{
    sim_t *sim = *state;
    wr(sim, IWDG_KR, 0xCCCC);
    wr(sim, IWDG_KR, 0x5555);
    wr(sim, IWDG_WINR, 0x100); /* refresh allowed only once the counter is below 0x100 */
    sim_run_for(sim, 10 * SIM_PS_PER_MS);
    warnings_begin();
    wr(sim, IWDG_KR, 0xAAAA);
    assert_non_null(strstr(warnings_end(), "window"));
    sim_run_for(sim, SIM_PS_PER_MS);
    assert_int_equal(sim_last_reset_cause(sim), SIM_CAUSE_IWDG);
}

static void hardware_watchdog_option_starts_it(void **state)
{
    sim_t *sim = *state;
    const uint32_t optr = 0xFFEFF8AAu & ~(1u << 16); /* factory, IWDG_SW=0 */
    const uint32_t slot[2] = {optr, ~optr};
    assert_int_equal(sim_load_mem(sim, 0x1FFF7800u, slot, sizeof slot), 0);
    load_idle_program(sim); /* power-on: the option bytes load */
    assert_true(iwdg_running(sim));
    uint64_t start = sim_now(sim);
    assert_int_equal(iwdg_deadline(sim) - start, 4096u * 4u * LSI_TICK_PS);
    sim_run_for(sim, 513 * SIM_PS_PER_MS);
    assert_int_equal(sim_last_reset_cause(sim), SIM_CAUSE_IWDG);
    assert_true(iwdg_running(sim)); /* and again after its own reset */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(reset_values, setup, teardown),
        cmocka_unit_test_setup_teardown(timeout_resets_with_iwdgrstf, setup, teardown),
        cmocka_unit_test_setup_teardown(start_forces_lsi, setup, teardown),
        cmocka_unit_test_setup_teardown(pr_rlr_need_unlock_and_are_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(refresh_postpones_the_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(refresh_outside_window_resets, setup, teardown),
        cmocka_unit_test_setup_teardown(hardware_watchdog_option_starts_it, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
