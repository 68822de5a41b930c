/* Shared by the firmware test programs: console reporting, each program ending on a
 * line "PASS" or "FAIL: <reason>" that l4sim's --until-console waits for. */
#ifndef L4_TESTLIB_H
#define L4_TESTLIB_H

#include <stdbool.h>
#include <stdint.h>

#include "chip.h"

/* Console at the current clock, then a line naming the test. */
void test_begin(const char *name);
/* On failure: "FAIL: <what>" and stop. */
void test_check(bool ok, const char *what);
/* As test_check, with the value seen and the value wanted in hex. */
void test_check_eq(uint32_t seen, uint32_t wanted, const char *what);
void test_pass(void) __attribute__((noreturn));
void test_fail(const char *why) __attribute__((noreturn));
/* Spin until *flag != 0 or the budget of polls is spent; true if it became set. Each
 * poll is a loop back-edge, so an emulator that takes interrupts between blocks gets
 * its chance. */
bool test_wait_flag(volatile uint32_t *flag, uint32_t polls);

#endif
