/* PWR (sim/pwr.c) and the RTC backup registers (sim/rtc.c): bus clock and DBP gating, voltage
 * scaling with VOSF, supply-valid flags, backup registers across system and power-on resets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "models_util.h"
#include "pwr.h"
#include "rtc.h"

#define RTC_BKP(n) (0x40002850u + 4u * (n))
#define VOSF (1u << 10)

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

static void pwr_needs_its_clock(void **state)
{
    sim_t *sim = *state;
    assert_int_equal(rd(sim, PWR_CR1), 0); /* no clock: reads 0 */
    warnings_begin();
    wr(sim, PWR_CR1, 0x200u | DBP);
    assert_non_null(strstr(warnings_end(), "RCC_APB1ENR1.PWREN=0"));
    assert_false(pwr_backup_writable(sim));

    set_bits(sim, RCC_APB1ENR1, PWREN);
    assert_int_equal(rd(sim, PWR_CR1), 0x00000200u);
    assert_int_equal(rd(sim, PWR_CR2), 0);
    assert_int_equal(rd(sim, 0x40007008u), 0x00008000u); /* CR3 */
    assert_int_equal(rd(sim, PWR_SR2), 0);
    wr(sim, PWR_CR1, 0x200u | DBP);
    assert_true(pwr_backup_writable(sim));
}

static void supply_valid_flags(void **state)
{
    sim_t *sim = *state;
    set_bits(sim, RCC_APB1ENR1, PWREN);
    assert_false(pwr_usb_supply_valid(sim));
    assert_false(pwr_vddio2_valid(sim));
    wr(sim, PWR_CR2, 1u << 10);
    assert_true(pwr_usb_supply_valid(sim));
    assert_false(pwr_vddio2_valid(sim));
    wr(sim, PWR_CR2, 1u << 9);
    assert_false(pwr_usb_supply_valid(sim));
    assert_true(pwr_vddio2_valid(sim));
}

static void vos_change_sets_vosf_for_a_while(void **state)
{
    sim_t *sim = *state;
    set_bits(sim, RCC_APB1ENR1, PWREN);
    assert_int_equal(pwr_voltage_range(sim), 1);
    wr(sim, PWR_CR1, (2u << 9));
    assert_int_equal(rd(sim, PWR_SR2) & VOSF, VOSF);
    assert_int_equal(pwr_voltage_range(sim), 1);
    sim_advance(sim, PWR_VOS_SETTLE_PS);
    assert_int_equal(rd(sim, PWR_SR2) & VOSF, 0);
    assert_int_equal(pwr_voltage_range(sim), 2);

    warnings_begin();
    wr(sim, PWR_CR1, (3u << 9)); /* reserved */
    assert_non_null(strstr(warnings_end(), "reserved"));
    assert_int_equal((rd(sim, PWR_CR1) >> 9) & 3u, 2u);
}

static void pwr_registers_reset_with_the_chip(void **state)
{
    sim_t *sim = *state;
    unlock_backup_domain(sim);
    wr(sim, PWR_CR2, 1u << 10);
    sim_reset(sim, SIM_RESET_SYSTEM, SIM_CAUSE_PIN);
    set_bits(sim, RCC_APB1ENR1, PWREN);
    assert_int_equal(rd(sim, PWR_CR1), 0x200u);
    assert_false(pwr_usb_supply_valid(sim));
}

static void backup_write_needs_dbp(void **state)
{
    sim_t *sim = *state;
    warnings_begin();
    wr(sim, RTC_BKP(0), 0x12345678u);
    const char *w = warnings_end();
    assert_non_null(strstr(w, "DBP=0"));
    assert_non_null(strstr(w, "PWREN=0"));
    assert_int_equal(rd(sim, RTC_BKP(0)), 0);

    set_bits(sim, RCC_APB1ENR1, PWREN); /* clock alone is not enough */
    warnings_begin();
    wr(sim, RTC_BKP(0), 0x12345678u);
    assert_non_null(strstr(warnings_end(), "DBP=0"));
    assert_int_equal(rd(sim, RTC_BKP(0)), 0);

    set_bits(sim, PWR_CR1, DBP);
    wr(sim, RTC_BKP(0), 0x12345678u);
    wr(sim, RTC_BKP(31), 0xCAFEF00Du);
    assert_int_equal(rd(sim, RTC_BKP(0)), 0x12345678u);
    assert_int_equal(rd(sim, RTC_BKP(31)), 0xCAFEF00Du);
    assert_int_equal(rtc_backup_read(sim, 31), 0xCAFEF00Du);
}

static void backup_survives_system_reset_not_power_on(void **state)
{
    sim_t *sim = *state;
    unlock_backup_domain(sim);
    wr(sim, RTC_BKP(3), 0xB00710ADu);
    rtc_backup_write_host(sim, 4, 0x55AA55AAu);
    sim_reset(sim, SIM_RESET_SYSTEM, SIM_CAUSE_SOFTWARE);
    assert_int_equal(rd(sim, RTC_BKP(3)), 0xB00710ADu);
    assert_int_equal(rtc_backup_read(sim, 4), 0x55AA55AAu);
    /* DBP was reset: the registers are protected again */
    warnings_begin();
    wr(sim, RTC_BKP(3), 0);
    assert_non_null(strstr(warnings_end(), "DBP=0"));
    assert_int_equal(rd(sim, RTC_BKP(3)), 0xB00710ADu);

    sim_reset(sim, SIM_RESET_POWER_ON, SIM_CAUSE_POWER_ON);
    assert_int_equal(rd(sim, RTC_BKP(3)), 0);
    assert_int_equal(rtc_backup_read(sim, 4), 0);
}

static void rtc_other_registers(void **state)
{
    sim_t *sim = *state;
    assert_int_equal(rd(sim, 0x40002804u), 0x00002101u); /* DR */
    assert_int_equal(rd(sim, 0x4000280Cu), 0x00000007u); /* ISR */
    assert_int_equal(rd(sim, 0x40002810u), 0x007F00FFu); /* PRER */
    unlock_backup_domain(sim);
    wr(sim, 0x40002824u, 0xCA); /* WPR keys are accepted */
    wr(sim, 0x40002824u, 0x53);
    warnings_begin();
    wr(sim, 0x40002800u, 0x00123456u); /* TR: calendar not modelled */
    assert_non_null(strstr(warnings_end(), "calendar not modelled"));
    warnings_begin();
    rd(sim, 0x400028D0u); /* past BKP31R */
    assert_non_null(strstr(warnings_end(), "reserved or unimplemented"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(pwr_needs_its_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(supply_valid_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(vos_change_sets_vosf_for_a_while, setup, teardown),
        cmocka_unit_test_setup_teardown(pwr_registers_reset_with_the_chip, setup, teardown),
        cmocka_unit_test_setup_teardown(backup_write_needs_dbp, setup, teardown),
        cmocka_unit_test_setup_teardown(backup_survives_system_reset_not_power_on, setup, teardown),
        cmocka_unit_test_setup_teardown(rtc_other_registers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
