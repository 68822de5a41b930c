/* GPIO (sim/gpio.c), EXTI (sim/exti.c) and SYSCFG (sim/syscfg.c): reset values, clock-gated
 * writes, BSRR/BRR, input levels, the LCKR key sequence, the EVAL's LED and tamper button
 * through EXTI15_10, and the MEMRMP remap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gpio.h"
#include "models_util.h"

#define GPIO(port, off) (0x48000000u + 0x400u * (uint32_t)((port) - 'A') + (off))
#define MODER 0x00
#define OTYPER 0x04
#define OSPEEDR 0x08
#define PUPDR 0x0C
#define IDR 0x10
#define ODR 0x14
#define BSRR 0x18
#define LCKR 0x1C
#define AFRL 0x20
#define AFRH 0x24
#define BRR 0x28
#define SYSCFG_MEMRMP 0x40010000u
#define SYSCFG_EXTICR4 0x40010014u
#define SYSCFG_SCSR 0x40010018u
#define SYSCFG_SKR 0x40010024u
#define EXTI_SWIER1 0x40010410u
#define EXTI_IMR1 0x40010400u
#define EXTI_RTSR1 0x40010408u
#define EXTI_FTSR1 0x4001040Cu
#define EXTI_PR1 0x40010414u
#define SYSCFGEN 1u

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

static void enable_ports(sim_t *sim)
{
    wr(sim, RCC_AHB2ENR, 0xFFu);
}

static void reset_values(void **state)
{
    sim_t *sim = *state;
    enable_ports(sim);
    assert_int_equal(rd(sim, GPIO('A', MODER)), 0xABFFFFFFu);
    assert_int_equal(rd(sim, GPIO('A', OSPEEDR)), 0x0C000000u);
    assert_int_equal(rd(sim, GPIO('A', PUPDR)), 0x64000000u);
    assert_int_equal(rd(sim, GPIO('B', MODER)), 0xFFFFFEBFu);
    assert_int_equal(rd(sim, GPIO('B', PUPDR)), 0x00000100u);
    assert_int_equal(rd(sim, GPIO('C', MODER)), 0xFFFFFFFFu);
    assert_int_equal(rd(sim, GPIO('G', MODER)), 0xFFFFFFFFu);
    assert_int_equal(rd(sim, GPIO('H', MODER)), 0x0000000Fu);
    assert_int_equal(rd(sim, GPIO('C', ODR)), 0);
    assert_int_equal(rd(sim, GPIO('C', AFRH)), 0);
    assert_int_equal(gpio_pin_mode(sim, 'A', 13), GPIO_MODE_AF); /* SWDIO */
    assert_int_equal(gpio_pin_mode(sim, 'C', 13), GPIO_MODE_ANALOG);
}

static void writes_without_clock_are_lost(void **state)
{
    sim_t *sim = *state;
    warnings_begin();
    wr(sim, GPIO('B', MODER), 0);
    assert_non_null(strstr(warnings_end(), "RCC_AHB2ENR.GPIOBEN=0"));
    assert_int_equal(rd(sim, GPIO('B', MODER)), 0); /* reads 0 without the clock too */
    assert_int_equal(gpio_pin_mode(sim, 'B', 2), GPIO_MODE_ANALOG);
    wr(sim, RCC_AHB2ENR, 1u << 1);
    assert_int_equal(rd(sim, GPIO('B', MODER)), 0xFFFFFEBFu);
}

struct led_log {
    unsigned calls;
    char port;
    unsigned pin;
    bool level;
};

static void log_led(void *user, char port, unsigned pin, bool level)
{
    struct led_log *log = user;
    log->calls++;
    log->port = port;
    log->pin = pin;
    log->level = level;
}

static void bsrr_set_wins_and_watchers_see_led(void **state)
{
    sim_t *sim = *state;
    struct led_log log = {0};
    enable_ports(sim);
    gpio_watch(sim, log_led, &log);
    wr(sim, GPIO('B', BSRR), 1u << BOARD_LED1_PIN); /* LED1 off (active low), before it drives */
    wr(sim, GPIO('B', MODER), (rd(sim, GPIO('B', MODER)) & ~(3u << 4)) | (1u << 4));
    assert_int_equal(log.calls, 1);
    assert_true(log.level);
    assert_int_equal(log.port, 'B');
    assert_int_equal(log.pin, 2);

    wr(sim, GPIO('B', BSRR), 1u << (16 + 2)); /* reset: LED1 on */
    assert_int_equal(log.calls, 2);
    assert_false(log.level);
    assert_false(gpio_pin_level(sim, 'B', 2));

    wr(sim, GPIO('B', BSRR), (1u << 2) | (1u << (16 + 2))); /* both: set wins */
    assert_int_equal(rd(sim, GPIO('B', ODR)) & 4u, 4u);
    assert_true(log.level);

    wr(sim, GPIO('B', BRR), 1u << 2);
    assert_int_equal(rd(sim, GPIO('B', ODR)) & 4u, 0);
    assert_int_equal(rd(sim, GPIO('B', IDR)) & 4u, 0);
    assert_int_equal(log.calls, 4);

    /* a half-word write to the upper half of BSRR resets only */
    wr(sim, GPIO('B', BSRR), 1u << 2);
    sim_bus_write(sim, GPIO('B', BSRR) + 2, 1u << 2, 2);
    assert_int_equal(rd(sim, GPIO('B', ODR)) & 4u, 0);
}

static void input_levels(void **state)
{
    sim_t *sim = *state;
    enable_ports(sim);
    wr(sim, GPIO('D', MODER), 0); /* all inputs */
    wr(sim, GPIO('D', PUPDR), (1u << 0) | (2u << 2)); /* PD0 up, PD1 down */
    assert_true(gpio_pin_level(sim, 'D', 0));
    assert_false(gpio_pin_level(sim, 'D', 1));
    assert_int_equal(rd(sim, GPIO('D', IDR)) & 3u, 1u);
    gpio_drive(sim, 'D', 0, 0);
    gpio_drive(sim, 'D', 1, 1);
    assert_int_equal(rd(sim, GPIO('D', IDR)) & 3u, 2u);
    gpio_drive(sim, 'D', 0, -1);
    assert_int_equal(rd(sim, GPIO('D', IDR)) & 3u, 3u);
    /* analog: the input buffer is off */
    wr(sim, GPIO('D', MODER), 3u << 2);
    assert_int_equal(rd(sim, GPIO('D', IDR)) & 2u, 0);
    /* open drain left high: the outside world decides */
    wr(sim, GPIO('D', MODER), 1u << 4);
    wr(sim, GPIO('D', OTYPER), 1u << 2);
    wr(sim, GPIO('D', ODR), 1u << 2);
    gpio_drive(sim, 'D', 2, 0);
    assert_false(gpio_pin_level(sim, 'D', 2));
    gpio_drive(sim, 'D', 2, -1);
    wr(sim, GPIO('D', PUPDR), 1u << 4);
    assert_true(gpio_pin_level(sim, 'D', 2));
}

static void alternate_functions(void **state)
{
    sim_t *sim = *state;
    enable_ports(sim);
    wr(sim, GPIO('A', AFRH), (10u << 12) | (10u << 16)); /* PA11, PA12 AF10 */
    wr(sim, GPIO('B', AFRL), 7u << 24);                  /* PB6 AF7 */
    assert_int_equal(gpio_pin_af(sim, 'A', 11), 10);
    assert_int_equal(gpio_pin_af(sim, 'A', 12), 10);
    assert_int_equal(gpio_pin_af(sim, 'A', 10), 0);
    assert_int_equal(gpio_pin_af(sim, 'B', 6), 7);
}

static void lckr_sequence_locks_pins(void **state)
{
    sim_t *sim = *state;
    enable_ports(sim);
    const uint32_t key = 1u << 5; /* lock PE5 */
    wr(sim, GPIO('E', LCKR), (1u << 16) | key);
    wr(sim, GPIO('E', LCKR), key);
    wr(sim, GPIO('E', LCKR), (1u << 16) | key);
    rd(sim, GPIO('E', LCKR));
    assert_int_equal(rd(sim, GPIO('E', LCKR)), (1u << 16) | key);

    warnings_begin();
    wr(sim, GPIO('E', MODER), 0); /* PE5 keeps analog; the others change */
    assert_non_null(strstr(warnings_end(), "locked"));
    assert_int_equal(rd(sim, GPIO('E', MODER)), 3u << 10);
    /* LCKR itself is frozen */
    wr(sim, GPIO('E', LCKR), 0);
    assert_int_equal(rd(sim, GPIO('E', LCKR)), (1u << 16) | key);

    /* a wrong sequence (key changed midway) does not lock */
    wr(sim, GPIO('F', LCKR), (1u << 16) | key);
    warnings_begin();
    wr(sim, GPIO('F', LCKR), 1u << 6);
    assert_non_null(strstr(warnings_end(), "aborted"));
    wr(sim, GPIO('F', LCKR), (1u << 16) | key);
    rd(sim, GPIO('F', LCKR));
    wr(sim, GPIO('F', MODER), 0);
    assert_int_equal(rd(sim, GPIO('F', MODER)), 0);

    /* the lock lasts until reset */
    sim_reset(sim, SIM_RESET_SYSTEM, SIM_CAUSE_PIN);
    enable_ports(sim);
    assert_int_equal(rd(sim, GPIO('E', LCKR)), 0);
    wr(sim, GPIO('E', MODER), 0);
    assert_int_equal(rd(sim, GPIO('E', MODER)), 0);
}

static void tamper_button_raises_exti15_10(void **state)
{
    sim_t *sim = *state;
    enable_ports(sim);
    wr(sim, GPIO('C', MODER), rd(sim, GPIO('C', MODER)) & ~(3u << 26)); /* PC13 input */
    wr(sim, GPIO('C', PUPDR), 2u << 26);                                /* pull-down */
    assert_false(gpio_pin_level(sim, 'C', 13));

    /* SYSCFG needs its clock for the routing */
    warnings_begin();
    wr(sim, SYSCFG_EXTICR4, 2u << 4);
    assert_non_null(strstr(warnings_end(), "SYSCFGEN=0"));
    set_bits(sim, RCC_APB2ENR, SYSCFGEN);
    wr(sim, SYSCFG_EXTICR4, 2u << 4); /* line 13 <- port C */
    set_bits(sim, EXTI_IMR1, 1u << 13);
    wr(sim, EXTI_RTSR1, 1u << 13);

    board_tamper_button(sim, true);
    assert_true(gpio_pin_level(sim, 'C', 13));
    assert_int_equal(rd(sim, EXTI_PR1), 1u << 13);
    assert_true(irq_pending(sim, 40));

    wr(sim, EXTI_PR1, 1u << 13); /* W1C */
    assert_int_equal(rd(sim, EXTI_PR1), 0);
    board_tamper_button(sim, false); /* falling edge: not selected */
    assert_int_equal(rd(sim, EXTI_PR1), 0);

    wr(sim, EXTI_FTSR1, 1u << 13);
    board_tamper_button(sim, true);
    board_tamper_button(sim, false);
    assert_int_equal(rd(sim, EXTI_PR1), 1u << 13);
    wr(sim, EXTI_PR1, 1u << 13);

    /* routed to port A: PC13 edges no longer count */
    wr(sim, SYSCFG_EXTICR4, 0);
    board_tamper_button(sim, true);
    assert_int_equal(rd(sim, EXTI_PR1), 0);
}

static void memrmp_remaps_address_zero(void **state)
{
    sim_t *sim = *state;
    load_idle_program(sim);
    uint32_t sysmem_word = 0, zero_word = 0, flash_word = 0;
    assert_int_equal(sim_read_mem(sim, SIM_SYSMEM_BASE, &sysmem_word, 4), 0);
    assert_int_equal(sim_read_mem(sim, SIM_FLASH_BASE, &flash_word, 4), 0);
    assert_int_not_equal(sysmem_word, flash_word);
    assert_int_equal(sim_read_mem(sim, 0, &zero_word, 4), 0);
    assert_int_equal(zero_word, flash_word);

    warnings_begin();
    wr(sim, SYSCFG_MEMRMP, 1);
    assert_non_null(strstr(warnings_end(), "SYSCFGEN=0"));
    set_bits(sim, RCC_APB2ENR, SYSCFGEN);
    assert_int_equal(rd(sim, SYSCFG_MEMRMP), 0);
    wr(sim, SYSCFG_MEMRMP, 1); /* system memory at 0 */
    assert_int_equal(rd(sim, SYSCFG_MEMRMP), 1);
    sim_run_for(sim, 10 * SIM_PS_PER_US); /* the core applies the remap between runs */
    assert_int_equal(sim_read_mem(sim, 0, &zero_word, 4), 0);
    assert_int_equal(zero_word, sysmem_word);

    sim_reset(sim, SIM_RESET_SYSTEM, SIM_CAUSE_PIN);
    set_bits(sim, RCC_APB2ENR, SYSCFGEN);
    assert_int_equal(rd(sim, SYSCFG_MEMRMP), 0);
    assert_int_equal(sim_read_mem(sim, 0, &zero_word, 4), 0);
    assert_int_equal(zero_word, flash_word);
}

static void swier_raises_unmasked_lines(void **state)
{
    sim_t *sim = *state;
    wr(sim, EXTI_IMR1, rd(sim, EXTI_IMR1) | (1u << 3));
    wr(sim, EXTI_SWIER1, (1u << 3) | (1u << 4)); /* line 4 is masked */
    assert_int_equal(rd(sim, EXTI_PR1), 1u << 3);
    assert_true(irq_pending(sim, 9)); /* EXTI3 */
    assert_false(irq_pending(sim, 10));
    wr(sim, EXTI_PR1, 1u << 3);
    assert_int_equal(rd(sim, EXTI_PR1), 0);
    assert_int_equal(rd(sim, EXTI_SWIER1) & (1u << 3), 0);
}

static void sram2_erase_needs_keys(void **state)
{
    sim_t *sim = *state;
    const uint32_t pattern = 0xA5A5A5A5u;
    uint32_t word = 0;
    assert_int_equal(sim_load_mem(sim, SIM_SRAM2_BASE + 0x100, &pattern, 4), 0);
    set_bits(sim, RCC_APB2ENR, SYSCFGEN);
    warnings_begin();
    wr(sim, SYSCFG_SCSR, 1); /* SRAM2ER without the SKR keys */
    assert_non_null(strstr(warnings_end(), "SKR"));
    sim_read_mem(sim, SIM_SRAM2_BASE + 0x100, &word, 4);
    assert_int_equal(word, pattern);
    wr(sim, SYSCFG_SKR, 0xCA);
    wr(sim, SYSCFG_SKR, 0x53);
    wr(sim, SYSCFG_SCSR, 1);
    sim_read_mem(sim, SIM_SRAM2_BASE + 0x100, &word, 4);
    assert_int_equal(word, 0);
    assert_int_equal(rd(sim, SYSCFG_SCSR) & 2u, 0); /* not busy */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(reset_values, setup, teardown),
        cmocka_unit_test_setup_teardown(writes_without_clock_are_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(bsrr_set_wins_and_watchers_see_led, setup, teardown),
        cmocka_unit_test_setup_teardown(input_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(alternate_functions, setup, teardown),
        cmocka_unit_test_setup_teardown(lckr_sequence_locks_pins, setup, teardown),
        cmocka_unit_test_setup_teardown(tamper_button_raises_exti15_10, setup, teardown),
        cmocka_unit_test_setup_teardown(memrmp_remaps_address_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(swier_raises_unmasked_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(sram2_erase_needs_keys, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
