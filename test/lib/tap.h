#pragma once

/*
 * Run a cmocka group with TAP output that the automake TAP driver reads
 * correctly.
 *
 * cmocka 1.1.5 (Debian 12) prints a skipped test as "not ok N # SKIP name",
 * which the automake TAP driver counts as a failure. test_tap_run() runs
 * the group in a child process with its stdout on a pipe and rewrites
 * exactly those lines to "ok N # SKIP name"; everything else passes
 * through unchanged. Without CMOCKA_MESSAGE_OUTPUT=TAP it just runs the
 * group.
 *
 * Needs <setjmp.h>, <stdarg.h>, <stddef.h> and <cmocka.h> included first.
 */

#include <stddef.h>

/**
 * test_tap_run() - run a cmocka group, fixing SKIP lines
 * @name:       group name
 * @tests:      the tests
 * @n_tests:    number of tests
 *
 * Return: what cmocka's group runner returned (number of failed tests),
 *         or 1 if the child could not be run or died from a signal.
 */
int test_tap_run(const char *name, const struct CMUnitTest *tests, size_t n_tests);

#define test_tap_run_group(_tests) \
        test_tap_run(#_tests, (_tests), sizeof(_tests) / sizeof((_tests)[0]))
