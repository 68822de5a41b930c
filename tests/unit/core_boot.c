/* The boot decision table (firmware/core/boot.c), walked over every combination of
 * its inputs against an independent statement of the policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "boot.h"

static void test_table(void **state)
{
    (void)state;
    const uint32_t handshakes[] = {0, BOOT_HANDSHAKE_DFU, BOOT_HANDSHAKE_ROM, 0x12345678};
    const uint32_t counts[] = {0, 1, 2, 3, 4, 0xFFFFFFFF};
    unsigned rows = 0;
    for (int por = 0; por < 2; por++)
        for (size_t h = 0; h < 4; h++)
            for (int button = 0; button < 2; button++)
                for (int valid = 0; valid < 2; valid++)
                    for (size_t c = 0; c < 6; c++) {
                        struct boot_inputs in = {por, handshakes[h], button, valid, counts[c]};
                        struct boot_decision d = boot_decide(&in);
                        bool asked = !por && handshakes[h] == BOOT_HANDSHAKE_DFU;
                        bool failed = !por && counts[c] >= 3;
                        enum boot_reason want = asked ? BOOT_REASON_REQUESTED
                                                : button ? BOOT_REASON_BUTTON
                                                : !valid ? BOOT_REASON_NO_VALID_APP
                                                : failed ? BOOT_REASON_APP_FAILED
                                                         : BOOT_REASON_APP_OK;
                        assert_int_equal(d.reason, want);
                        assert_int_equal(d.action, want == BOOT_REASON_APP_OK ? BOOT_START_APP
                                                                              : BOOT_STAY_IN_DFU);
                        /* a start counts one more attempt; staying gives fresh ones */
                        uint32_t count = por ? 0 : counts[c];
                        assert_int_equal(d.new_boot_count,
                                         d.action == BOOT_START_APP ? count + 1 : 0);
                        /* a handshake is used once; after power-on it is noise */
                        assert_int_equal(d.clear_handshake, por || handshakes[h] != 0);
                        rows++;
                    }
    assert_int_equal(rows, 2 * 4 * 2 * 2 * 6);
}

static void test_named_cases(void **state)
{
    (void)state;
    struct boot_inputs in = {.app_valid = true};
    struct boot_decision d = boot_decide(&in);
    assert_int_equal(d.action, BOOT_START_APP);
    assert_int_equal(d.new_boot_count, 1);

    in.boot_count = 2; /* third try still starts */
    assert_int_equal(boot_decide(&in).action, BOOT_START_APP);
    in.boot_count = 3; /* three starts never confirmed */
    d = boot_decide(&in);
    assert_int_equal(d.reason, BOOT_REASON_APP_FAILED);

    in.power_on_reset = true; /* the count is stale after a power cycle */
    assert_int_equal(boot_decide(&in).action, BOOT_START_APP);

    struct boot_inputs asked = {.handshake = BOOT_HANDSHAKE_DFU, .app_valid = true};
    d = boot_decide(&asked);
    assert_int_equal(d.reason, BOOT_REASON_REQUESTED);
    assert_true(d.clear_handshake);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_named_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
