/*
 * Tests of the integration-test library (test/lib/): start a private
 * dbus-daemon, talk to it with libdbus and dbus-send, and check that the
 * broker dies with its test, is killed and reaped by test_bus_free(), and
 * that failures to start come back as the documented codes.
 *
 * Tests named test_reference_* always use dbus-daemon. Tests named test_env_*
 * use the broker the environment selects (BUS1_TEST_BROKER, default our
 * bus1-dbus) and report SKIP while that binary does not exist;
 * test-testbus-reference.sh runs this program again with
 * BUS1_TEST_BROKER=dbus-daemon.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "test/lib/bus.h"
#include "test/lib/client.h"
#include "test/lib/command.h"
#include "test/lib/tap.h"

static const struct test_bus_options reference = { .broker = "dbus-daemon" };
static const struct test_bus_options from_env = { .broker = NULL };

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait up to @bound_ms for @pid (our child) to exit; returns its status or -1. */
static int wait_bounded(pid_t pid, int bound_ms)
{
        int64_t deadline = now_ms() + bound_ms;
        int status;

        do {
                pid_t r = waitpid(pid, &status, WNOHANG);

                if (r == pid)
                        return status;
                assert_true(r == 0 || (r < 0 && errno == EINTR));
                usleep(10 * 1000);
        } while (now_ms() < deadline);
        return -1;
}

/* Write an executable shell script into @dir; returns its path (free it). */
static char *write_script(const char *dir, const char *name, const char *body)
{
        char *path;
        FILE *f;

        assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
        f = fopen(path, "we");
        assert_non_null(f);
        fprintf(f, "#!/bin/sh\n%s\n", body);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(path, 0755), 0);
        return path;
}

static char *make_tmpdir(void)
{
        char *dir = strdup("/tmp/bus1-test-lib-XXXXXX");

        assert_non_null(dir);
        assert_non_null(mkdtemp(dir));
        return dir;
}

static void remove_tmpdir(char *dir, const char *const *files)
{
        for (; *files; ++files) {
                char *p;

                assert_true(asprintf(&p, "%s/%s", dir, *files) > 0);
                unlink(p);
                free(p);
        }
        assert_int_equal(rmdir(dir), 0);
        free(dir);
}

/* GetId and ListNames through libdbus. */
static void check_driver_calls(const struct test_bus_options *options)
{
        DBusConnection *conn = NULL;
        DBusMessage *reply = NULL;
        struct test_bus *bus = NULL;
        DBusError error;
        const char *id;
        char **names = NULL;
        int n_names = 0, i;
        bool found_driver = false, found_self = false;

        TEST_BUS_NEW_OR_SKIP(&bus, options);
        assert_non_null(test_bus_address(bus));
        assert_true(test_bus_pid(bus) > 0);
        assert_int_equal(kill(test_bus_pid(bus), 0), 0);

        assert_int_equal(test_client_connect(&conn, test_bus_address(bus)), 0);
        assert_non_null(dbus_bus_get_unique_name(conn));

        assert_int_equal(test_client_call(&reply, conn, DBUS_SERVICE_DBUS, DBUS_PATH_DBUS,
                                          DBUS_INTERFACE_DBUS, "GetId", 5000), 0);
        assert_int_equal(dbus_message_get_type(reply), DBUS_MESSAGE_TYPE_METHOD_RETURN);
        dbus_error_init(&error);
        assert_true(dbus_message_get_args(reply, &error, DBUS_TYPE_STRING, &id, DBUS_TYPE_INVALID));
        assert_int_equal(strlen(id), 32);
        assert_int_equal(strspn(id, "0123456789abcdef"), 32);
        dbus_message_unref(reply);

        assert_int_equal(test_client_call(&reply, conn, DBUS_SERVICE_DBUS, DBUS_PATH_DBUS,
                                          DBUS_INTERFACE_DBUS, "ListNames", 5000), 0);
        assert_int_equal(dbus_message_get_type(reply), DBUS_MESSAGE_TYPE_METHOD_RETURN);
        assert_true(dbus_message_get_args(reply, &error, DBUS_TYPE_ARRAY, DBUS_TYPE_STRING,
                                          &names, &n_names, DBUS_TYPE_INVALID));
        for (i = 0; i < n_names; ++i) {
                found_driver |= !strcmp(names[i], DBUS_SERVICE_DBUS);
                found_self |= !strcmp(names[i], dbus_bus_get_unique_name(conn));
        }
        assert_true(found_driver);
        assert_true(found_self);
        dbus_free_string_array(names);
        dbus_message_unref(reply);

        /* an unknown method gets an error reply from the driver */
        assert_int_equal(test_client_call(&reply, conn, DBUS_SERVICE_DBUS, DBUS_PATH_DBUS,
                                          DBUS_INTERFACE_DBUS, "NoSuchMethod", 5000), 0);
        assert_int_equal(dbus_message_get_type(reply), DBUS_MESSAGE_TYPE_ERROR);
        assert_true(dbus_message_is_error(reply, DBUS_ERROR_UNKNOWN_METHOD));
        dbus_message_unref(reply);

        test_client_free(conn);
        test_bus_free(bus);
}

/* dbus-send, gdbus and busctl against the bus, output captured. */
static void check_cli_clients(const struct test_bus_options *options)
{
        const char *const gdbus[] = {
                "gdbus", "call", "--session", "--dest", "org.freedesktop.DBus",
                "--object-path", "/org/freedesktop/DBus", "--method",
                "org.freedesktop.DBus.NameHasOwner", "org.freedesktop.DBus", NULL
        };
        const char *const busctl[] = {
                "busctl", "--user", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
                "org.freedesktop.DBus", "GetNameOwner", "s", "org.freedesktop.DBus", NULL
        };
        const char *const argv[] = {
                "dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus", "org.freedesktop.DBus.ListNames", NULL
        };
        const char *const bad[] = {
                "dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus", "org.freedesktop.DBus.NoSuchMethod", NULL
        };
        struct test_bus *bus = NULL;
        char *out = NULL;
        int status;

        TEST_BUS_NEW_OR_SKIP(&bus, options);

        assert_int_equal(test_command_run(&out, &status, test_bus_address(bus), argv, 10000), 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_non_null(strstr(out, "method return"));
        assert_non_null(strstr(out, "string \"org.freedesktop.DBus\""));
        free(out);

        assert_int_equal(test_command_run(&out, &status, test_bus_address(bus), bad, 10000), 0);
        assert_true(WIFEXITED(status));
        assert_int_not_equal(WEXITSTATUS(status), 0);
        free(out);

        assert_int_equal(test_command_run(&out, &status, test_bus_address(bus), gdbus, 10000), 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_string_equal(out, "(true,)\n");
        free(out);

        /* sd-bus's user bus honours DBUS_SESSION_BUS_ADDRESS */
        assert_int_equal(test_command_run(&out, &status, test_bus_address(bus), busctl, 10000), 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_string_equal(out, "s \"org.freedesktop.DBus\"\n");
        free(out);

        test_bus_free(bus);
}

/*
 * A test process that starts a bus and is then SIGKILLed takes its broker
 * with it. We become a child subreaper so the orphaned broker is reparented
 * to us and we can see it die (PID 1 here does not reap).
 */
static void check_dies_with_test(const struct test_bus_options *options)
{
        pid_t child, broker = 0;
        int pipefd[2], status;
        char *path = NULL;
        bool present;

        assert_int_equal(test_bus_broker_select(&path, options->broker), 0);
        present = access(path, X_OK) == 0;
        free(path);
        if (!present) {
                test_bus_print_skip_reason(options);
                skip();
        }

        assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
        assert_int_equal(pipe(pipefd), 0);

        child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                struct test_bus *bus = NULL;
                pid_t pid;

                close(pipefd[0]);
                if (test_bus_new(&bus, options) != 0)
                        _exit(1);
                pid = test_bus_pid(bus);
                if (write(pipefd[1], &pid, sizeof(pid)) != sizeof(pid))
                        _exit(1);
                for (;;)
                        pause();
        }
        close(pipefd[1]);
        assert_int_equal(read(pipefd[0], &broker, sizeof(broker)), sizeof(broker));
        close(pipefd[0]);
        assert_true(broker > 0);
        assert_int_equal(kill(broker, 0), 0);

        assert_int_equal(kill(child, SIGKILL), 0);
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

        status = wait_bounded(broker, 5000);
        assert_int_not_equal(status, -1);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGKILL);

        assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
}

/* test_bus_stop()/test_bus_free() terminate and reap, and remove the directory. */
static void check_free_reaps(const struct test_bus_options *options)
{
        struct test_bus *bus = NULL;
        struct stat st;
        char *dir;
        pid_t pid;
        int status;

        TEST_BUS_NEW_OR_SKIP(&bus, options);
        pid = test_bus_pid(bus);
        dir = strdup(test_bus_dir(bus));
        assert_non_null(dir);
        assert_int_equal(stat(dir, &st), 0);

        assert_int_equal(test_bus_stop(bus, &status), 0);
        /* dbus-daemon exits on SIGTERM by its handler or by the signal */
        assert_true((WIFEXITED(status)) || (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM));
        assert_int_equal(test_bus_pid(bus), 0);
        assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
        assert_int_equal(errno, ECHILD);
        assert_int_equal(test_bus_stop(bus, &status), -ECHILD);

        assert_null(test_bus_free(bus));
        assert_int_equal(stat(dir, &st), -1);
        assert_int_equal(errno, ENOENT);
        free(dir);

        /* free() alone does all of it too */
        TEST_BUS_NEW_OR_SKIP(&bus, options);
        pid = test_bus_pid(bus);
        assert_null(test_bus_free(bus));
        assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
        assert_int_equal(errno, ECHILD);
}

static void test_reference_driver_calls(void **state) { check_driver_calls(&reference); }
static void test_reference_cli_clients(void **state) { check_cli_clients(&reference); }
static void test_reference_dies_with_test(void **state) { check_dies_with_test(&reference); }
static void test_reference_free_reaps(void **state) { check_free_reaps(&reference); }
static void test_env_driver_calls(void **state) { check_driver_calls(&from_env); }
static void test_env_cli_clients(void **state) { check_cli_clients(&from_env); }
static void test_env_dies_with_test(void **state) { check_dies_with_test(&from_env); }
static void test_env_free_reaps(void **state) { check_free_reaps(&from_env); }

/*
 * A test that blocks SIGTERM and ignores SIGPIPE does not pass that on: the
 * broker still stops on SIGTERM, well before the SIGKILL bound.
 */
static void test_reference_signal_mask(void **state)
{
        struct test_bus_options options = { .broker = "dbus-daemon", .stop_timeout_ms = 4000 };
        struct test_bus *bus = NULL;
        sigset_t mask, old;
        int64_t start;
        int status;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        assert_int_equal(sigprocmask(SIG_BLOCK, &mask, &old), 0);
        assert_ptr_not_equal(signal(SIGPIPE, SIG_IGN), SIG_ERR);

        TEST_BUS_NEW_OR_SKIP(&bus, &options);
        start = now_ms();
        assert_int_equal(test_bus_stop(bus, &status), 0);
        assert_true(now_ms() - start < 3000);
        assert_false(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        test_bus_free(bus);

        assert_ptr_not_equal(signal(SIGPIPE, SIG_DFL), SIG_ERR);
        assert_int_equal(sigprocmask(SIG_SETMASK, &old, NULL), 0);
}

/* The extra config snippet and the service dir land in the config. */
static void test_reference_extra_config(void **state)
{
        struct test_bus_options options = {
                .broker = "dbus-daemon",
                .extra_config = "  <policy context=\"mandatory\">\n"
                                "    <deny own=\"com.example.Denied\"/>\n"
                                "  </policy>",
                .service_dir = "/nonexistent/bus1-services",
        };
        DBusConnection *conn = NULL;
        struct test_bus *bus = NULL;
        DBusError error;
        char *conf, *text = NULL;
        size_t len = 0;
        FILE *f;

        TEST_BUS_NEW_OR_SKIP(&bus, &options);

        assert_true(asprintf(&conf, "%s/bus.conf", test_bus_dir(bus)) > 0);
        f = fopen(conf, "re");
        assert_non_null(f);
        assert_true(getdelim(&text, &len, 0, f) > 0);
        fclose(f);
        assert_non_null(strstr(text, "<type>session</type>"));
        assert_non_null(strstr(text, "<auth>EXTERNAL</auth>"));
        assert_non_null(strstr(text, "<servicedir>/nonexistent/bus1-services</servicedir>"));
        assert_non_null(strstr(text, "com.example.Denied"));
        free(text);
        free(conf);

        assert_int_equal(test_client_connect(&conn, test_bus_address(bus)), 0);
        dbus_error_init(&error);
        assert_int_equal(dbus_bus_request_name(conn, "com.example.Denied", 0, &error), -1);
        assert_true(dbus_error_has_name(&error, DBUS_ERROR_ACCESS_DENIED));
        dbus_error_free(&error);
        assert_int_equal(dbus_bus_request_name(conn, "com.example.Allowed", 0, &error),
                         DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER);

        test_client_free(conn);
        test_bus_free(bus);
}

/* A missing binary gives TEST_BUS_E_NO_BROKER, from options and from the environment. */
static void test_missing_broker(void **state)
{
        struct test_bus_options options = { .broker = "/nonexistent/bus1-dbus" };
        struct test_bus *bus = (struct test_bus *)0x1;
        char *saved = getenv("BUS1_TEST_BROKER") ? strdup(getenv("BUS1_TEST_BROKER")) : NULL;

        assert_int_equal(test_bus_new(&bus, &options), TEST_BUS_E_NO_BROKER);
        assert_ptr_equal(bus, (struct test_bus *)0x1);

        assert_int_equal(setenv("BUS1_TEST_BROKER", "/nonexistent/bus1-dbus", 1), 0);
        assert_int_equal(test_bus_new(&bus, NULL), TEST_BUS_E_NO_BROKER);
        assert_ptr_equal(bus, (struct test_bus *)0x1);

        /* not executable counts as missing too */
        assert_int_equal(setenv("BUS1_TEST_BROKER", "/etc/passwd", 1), 0);
        assert_int_equal(test_bus_new(&bus, NULL), TEST_BUS_E_NO_BROKER);

        if (saved)
                assert_int_equal(setenv("BUS1_TEST_BROKER", saved, 1), 0);
        else
                assert_int_equal(unsetenv("BUS1_TEST_BROKER"), 0);
        free(saved);
}

/* Selection: explicit path, "dbus-daemon", and the defaults. */
static void test_broker_select(void **state)
{
        char *saved_sel = getenv("BUS1_TEST_BROKER") ? strdup(getenv("BUS1_TEST_BROKER")) : NULL;
        char *saved_dbus = getenv("BUS1_DBUS") ? strdup(getenv("BUS1_DBUS")) : NULL;
        char *saved_daemon = getenv("DBUS_DAEMON") ? strdup(getenv("DBUS_DAEMON")) : NULL;
        char *saved_top = getenv("top_builddir") ? strdup(getenv("top_builddir")) : NULL;
        char *path = NULL;

        assert_int_equal(test_bus_broker_select(&path, "/some/broker"), 0);
        assert_string_equal(path, "/some/broker");
        free(path);

        assert_int_equal(setenv("DBUS_DAEMON", "/x/dbus-daemon", 1), 0);
        assert_int_equal(test_bus_broker_select(&path, "dbus-daemon"), 0);
        assert_string_equal(path, "/x/dbus-daemon");
        free(path);
        assert_int_equal(unsetenv("DBUS_DAEMON"), 0);
        assert_int_equal(test_bus_broker_select(&path, "dbus-daemon"), 0);
        assert_string_equal(path, "/usr/bin/dbus-daemon");
        free(path);

        assert_int_equal(setenv("BUS1_TEST_BROKER", "/env/broker", 1), 0);
        assert_int_equal(test_bus_broker_select(&path, NULL), 0);
        assert_string_equal(path, "/env/broker");
        free(path);

        assert_int_equal(unsetenv("BUS1_TEST_BROKER"), 0);
        assert_int_equal(setenv("BUS1_DBUS", "/build/bus1-dbus", 1), 0);
        assert_int_equal(test_bus_broker_select(&path, NULL), 0);
        assert_string_equal(path, "/build/bus1-dbus");
        free(path);

        assert_int_equal(unsetenv("BUS1_DBUS"), 0);
        assert_int_equal(setenv("top_builddir", "/top", 1), 0);
        assert_int_equal(test_bus_broker_select(&path, NULL), 0);
        assert_string_equal(path, "/top/bus1-dbus");
        free(path);

        if (saved_sel)
                setenv("BUS1_TEST_BROKER", saved_sel, 1);
        if (saved_dbus)
                setenv("BUS1_DBUS", saved_dbus, 1);
        if (saved_daemon)
                setenv("DBUS_DAEMON", saved_daemon, 1);
        if (saved_top)
                setenv("top_builddir", saved_top, 1);
        else
                unsetenv("top_builddir");
        free(saved_top);
        free(saved_sel);
        free(saved_dbus);
        free(saved_daemon);
}

/* A broker that exits early, one that never prints, one that ignores SIGTERM. */
static void test_broker_failures(void **state)
{
        const char *const files[] = { "exits", "silent", "stubborn", NULL };
        struct test_bus_options options = { .start_timeout_ms = 300, .stop_timeout_ms = 300 };
        struct test_bus *bus = NULL;
        char *dir = make_tmpdir(), *exits, *silent, *stubborn;
        int64_t start;
        int status;

        exits = write_script(dir, "exits", "echo 'broker failing on purpose' >&2; exit 3");
        silent = write_script(dir, "silent", "exec sleep 30");
        stubborn = write_script(dir, "stubborn",
                                "trap '' TERM\necho 'unix:path=/nonexistent' >&3\nexec sleep 30");

        options.broker = exits;
        assert_int_equal(test_bus_new(&bus, &options), TEST_BUS_E_EXITED);

        options.broker = silent;
        start = now_ms();
        assert_int_equal(test_bus_new(&bus, &options), TEST_BUS_E_TIMEOUT);
        assert_true(now_ms() - start >= 300);
        assert_true(now_ms() - start < 5000);

        options.broker = stubborn;
        assert_int_equal(test_bus_new(&bus, &options), 0);
        assert_string_equal(test_bus_address(bus), "unix:path=/nonexistent");
        assert_false(test_bus_is_reference(bus));
        start = now_ms();
        assert_int_equal(test_bus_stop(bus, &status), 0);
        assert_true(now_ms() - start >= 300);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGKILL);
        test_bus_free(bus);

        free(exits);
        free(silent);
        free(stubborn);
        remove_tmpdir(dir, files);
}

/* test_command_run(): output, exit status, environment, timeout, missing program. */
static void test_command(void **state)
{
        const char *const echo[] = { "sh", "-c", "echo \"$DBUS_SESSION_BUS_ADDRESS\"; exit 3", NULL };
        const char *const sleeper[] = { "sleep", "30", NULL };
        const char *const missing[] = { "/nonexistent/program", NULL };
        char *out = (char *)0x1;
        int status = -1;
        int64_t start;

        assert_int_equal(test_command_run(&out, &status, "unix:path=/x", echo, 5000), 0);
        assert_string_equal(out, "unix:path=/x\n");
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 3);
        free(out);

        assert_int_equal(test_command_run(&out, &status, NULL, echo, 5000), 0);
        assert_string_equal(out, "\n");
        free(out);

        out = (char *)0x1;
        start = now_ms();
        assert_int_equal(test_command_run(&out, &status, NULL, sleeper, 200), TEST_COMMAND_E_TIMEOUT);
        assert_true(now_ms() - start < 5000);
        assert_ptr_equal(out, (char *)0x1);

        assert_int_equal(test_command_run(NULL, &status, NULL, missing, 5000), 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 127);

        assert_int_equal(test_command_run(NULL, &status, NULL, (const char *const[]){ NULL }, 5000),
                         -EINVAL);

        /* no output at all is an empty string */
        assert_int_equal(test_command_run(&out, &status, NULL, (const char *const[]){ "true", NULL },
                                          5000), 0);
        assert_string_equal(out, "");
        free(out);

        /* output beyond the cap is refused and the command is killed */
        out = (char *)0x1;
        assert_int_equal(test_command_run(&out, &status, NULL,
                                          (const char *const[]){ "sh", "-c",
                                                  "head -c 20000000 /dev/zero; sleep 30", NULL },
                                          20000), -E2BIG);
        assert_ptr_equal(out, (char *)0x1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_broker_select),
                cmocka_unit_test(test_missing_broker),
                cmocka_unit_test(test_broker_failures),
                cmocka_unit_test(test_command),
                cmocka_unit_test(test_reference_driver_calls),
                cmocka_unit_test(test_reference_cli_clients),
                cmocka_unit_test(test_reference_extra_config),
                cmocka_unit_test(test_reference_signal_mask),
                cmocka_unit_test(test_reference_dies_with_test),
                cmocka_unit_test(test_reference_free_reaps),
                cmocka_unit_test(test_env_driver_calls),
                cmocka_unit_test(test_env_cli_clients),
                cmocka_unit_test(test_env_dies_with_test),
                cmocka_unit_test(test_env_free_reaps),
        };

        return test_tap_run_group(tests);
}
