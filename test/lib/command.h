#pragma once

/*
 * Run a command-line D-Bus client (dbus-send, gdbus, busctl, ...) against a
 * test bus and capture what it prints.
 *
 * The command runs with DBUS_SESSION_BUS_ADDRESS set to the given address
 * (DBUS_STARTER_* and DBUS_SYSTEM_BUS_ADDRESS removed, so it cannot reach
 * a bus of the machine by accident), stdin from /dev/null, stdout captured,
 * stderr passed through. It runs in its own process group; the group is
 * killed with SIGKILL when the command outlives the timeout, and the command
 * itself when the test process dies.
 */

/* Expected outcomes (positive codes). */
enum {
        _TEST_COMMAND_E_SUCCESS,
        TEST_COMMAND_E_TIMEOUT, /* the command ran too long and was killed */
};

/* Largest captured output; more makes test_command_run() fail with -E2BIG. */
#define TEST_COMMAND_OUTPUT_MAX (16 * 1024 * 1024)

/**
 * test_command_run() - run a command with the bus address and capture stdout
 * @outputp:    output: NUL-terminated stdout of the command (free() it);
 *              may be NULL to discard
 * @statusp:    output: wait status (use WIFEXITED()/WEXITSTATUS())
 * @address:    value for DBUS_SESSION_BUS_ADDRESS, or NULL to unset it
 * @argv:       command and arguments, NULL-terminated; argv[0] is looked up
 *              in PATH; if it cannot be executed the child exits with 127
 * @timeout_ms: bound on the run time
 *
 * Return: 0 when the command exited (any status); TEST_COMMAND_E_TIMEOUT
 *         (outputs not written, the command killed and reaped);
 *         -E2BIG if it printed more than TEST_COMMAND_OUTPUT_MAX;
 *         other negative errno on system failures.
 */
int test_command_run(char **outputp, int *statusp, const char *address,
                     const char *const *argv, unsigned int timeout_ms);
