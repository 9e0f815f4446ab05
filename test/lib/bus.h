#pragma once

/*
 * A private message bus for one integration test.
 *
 * test_bus_new() creates a fresh temporary directory, writes a session-bus
 * like configuration into it (listen on a unix socket in that directory,
 * EXTERNAL authentication, a policy that allows everything, plus optional
 * extra XML and a service directory), and starts a broker on it with
 * `--nofork --print-address=3 --config-file=<dir>/bus.conf`. It returns
 * once the broker has printed its address.
 *
 * Which broker runs is chosen by the caller or by the environment:
 *   - options->broker, if set, else the environment variable
 *     BUS1_TEST_BROKER, else $BUS1_DBUS, else $top_builddir/bus1-dbus;
 *   - the special value "dbus-daemon" selects the reference daemon: the
 *     path in $DBUS_DAEMON, else /usr/bin/dbus-daemon.
 * Any other value is a path of a broker binary.
 *
 * Invariants of a bus returned by test_bus_new(): the broker process is a
 * child of the caller, it has printed its address, it gets SIGKILL when
 * the thread that created it dies (PR_SET_PDEATHSIG), and nobody but
 * test_bus_free() reaps it. The temporary directory exists until
 * test_bus_free().
 *
 * Not thread-safe; one thread owns a bus.
 */

#include <stdbool.h>
#include <sys/types.h>

/* Expected outcomes of test_bus_new() (positive codes). */
enum {
        _TEST_BUS_E_SUCCESS,
        TEST_BUS_E_NO_BROKER,   /* the selected broker binary is not there */
        TEST_BUS_E_EXITED,      /* the broker exited before it printed an address */
        TEST_BUS_E_TIMEOUT,     /* no address within the timeout (broker killed) */
};

/* Default bound for the broker to print its address, in milliseconds. */
#define TEST_BUS_START_TIMEOUT_MS 10000
/* Bound between SIGTERM and SIGKILL in test_bus_free(), in milliseconds. */
#define TEST_BUS_STOP_TIMEOUT_MS 5000

struct test_bus_options {
        /* broker selection as described above; NULL: from the environment */
        const char *broker;
        /* XML inserted verbatim at the end of <busconfig>; NULL: none */
        const char *extra_config;
        /* a <servicedir> to add; NULL: none */
        const char *service_dir;
        /* bound for the address to appear; 0: TEST_BUS_START_TIMEOUT_MS */
        unsigned int start_timeout_ms;
        /* bound between SIGTERM and SIGKILL on stop; 0: TEST_BUS_STOP_TIMEOUT_MS */
        unsigned int stop_timeout_ms;
};

struct test_bus;

/**
 * test_bus_broker_select() - resolve a broker selection to a path
 * @pathp:      output: newly allocated path (free() it)
 * @selection:  a selection as in options->broker, or NULL for the
 *              environment's choice
 *
 * Does not check that the path exists; test_bus_new() does.
 *
 * Return: 0 on success, -ENOMEM.
 */
int test_bus_broker_select(char **pathp, const char *selection);

/**
 * test_bus_new() - start a private broker
 * @busp:       output: the new bus
 * @options:    options, or NULL for all defaults
 *
 * Return: 0 on success;
 *         TEST_BUS_E_NO_BROKER if the selected binary does not exist or is
 *         not executable (a test reports SKIP);
 *         TEST_BUS_E_EXITED if the broker exited without an address (its
 *         stderr went to ours);
 *         TEST_BUS_E_TIMEOUT if it printed no address in time;
 *         -EINVAL if $TMPDIR holds characters that would need escaping in
 *         a D-Bus address (anything outside [A-Za-z0-9_/.-]);
 *         other negative errno on system failures (-ENOMEM, -EMFILE, ...).
 */
int test_bus_new(struct test_bus **busp, const struct test_bus_options *options);

/**
 * test_bus_free() - stop the broker and remove its directory
 * @bus:        the bus, or NULL
 *
 * Sends SIGTERM, waits up to options->stop_timeout_ms for the broker to
 * exit, then sends SIGKILL; reaps it and removes the temporary directory
 * with everything in it.
 *
 * Return: NULL.
 */
struct test_bus *test_bus_free(struct test_bus *bus);

/**
 * test_bus_stop() - stop and reap the broker, keep the bus object
 * @bus:        the bus
 * @statusp:    output: wait status of the broker (may be NULL)
 *
 * Same as the first half of test_bus_free(); lets a test check how the
 * broker exited. Calling it again, or test_bus_free() afterwards, is fine.
 *
 * Return: 0 on success; -ECHILD if the broker was already reaped.
 */
int test_bus_stop(struct test_bus *bus, int *statusp);

/* The address the broker printed (no trailing newline). */
const char *test_bus_address(struct test_bus *bus);
/* The pid of the broker; 0 after test_bus_stop(). */
pid_t test_bus_pid(struct test_bus *bus);
/* The path of the broker binary that runs. */
const char *test_bus_broker(struct test_bus *bus);
/* The temporary directory (holds bus.conf and the socket). */
const char *test_bus_dir(struct test_bus *bus);
/* Whether the broker is the reference dbus-daemon (by file name). */
bool test_bus_is_reference(struct test_bus *bus);

/*
 * TEST_BUS_NEW_OR_SKIP() - for cmocka tests: start a bus, or skip the
 * test with its reason when the broker binary is missing; any other
 * failure fails the test. Run the group with test_tap_run_group()
 * (test/lib/tap.h): cmocka 1.1.5 prints skips as "not ok # SKIP", which
 * the automake TAP driver counts as FAIL.
 */
#define TEST_BUS_NEW_OR_SKIP(_busp, _options) do {                              \
                int _r = test_bus_new((_busp), (_options));                     \
                if (_r == TEST_BUS_E_NO_BROKER) {                               \
                        test_bus_print_skip_reason((_options));                 \
                        skip();                                                 \
                }                                                               \
                assert_int_equal(_r, 0);                                        \
        } while (0)

/* Print "# SKIP: broker <path> not found" to stdout (a TAP comment). */
void test_bus_print_skip_reason(const struct test_bus_options *options);
