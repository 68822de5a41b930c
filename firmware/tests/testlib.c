#include "testlib.h"

void test_begin(const char *name)
{
    console_init();
    console_puts("test ");
    console_puts(name);
    console_putc('\n');
}

void test_fail(const char *why)
{
    console_puts("FAIL: ");
    console_puts(why);
    console_putc('\n');
    console_flush();
    for (;;) {
    }
}

void test_pass(void)
{
    console_puts("PASS\n");
    console_flush();
    for (;;) {
    }
}

void test_check(bool ok, const char *what)
{
    if (!ok)
        test_fail(what);
}

void test_check_eq(uint32_t seen, uint32_t wanted, const char *what)
{
    if (seen == wanted)
        return;
    console_puts("  seen 0x");
    console_put_hex(seen, 8);
    console_puts(", wanted 0x");
    console_put_hex(wanted, 8);
    console_putc('\n');
    test_fail(what);
}

bool test_wait_flag(volatile uint32_t *flag, uint32_t polls)
{
    while (*flag == 0u) {
        if (polls-- == 0u)
            return false;
    }
    return true;
}

/* A fault in a test is a failure with a reason, not a hang until the time-out. */
void HardFault_Handler(void)
{
    test_fail("hard fault");
}

void MemManage_Handler(void)
{
    test_fail("memory management fault");
}

void BusFault_Handler(void)
{
    test_fail("bus fault");
}

void UsageFault_Handler(void)
{
    test_fail("usage fault");
}
