/*
 * Activation of a real D-Bus service: the dbus-tests echo service
 * (/usr/lib/dbus-1.0/installed-tests/dbus/test-service, started from the
 * corpus service file) is exec'd by dbus-proxy/activation.c with
 * DBUS_STARTER_ADDRESS pointing at a private dbus-daemon ($DBUS_DAEMON)
 * standing in for our broker. It must connect there and take its name; the
 * test watches for that with sd-bus and then releases the queue, calls the
 * service, and asks it to exit. Skipped when dbus-daemon or the dbus-tests
 * files are missing.
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
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <systemd/sd-bus.h>

#include "dbus-proxy/activation.h"
#include "dbus-proxy/servicedir.h"

#define TESTS_DIR "/usr/lib/dbus-1.0/installed-tests/dbus"
#define ECHO_NAME "org.freedesktop.DBus.TestSuiteEchoService"

struct state {
        size_t n_ready, n_failed;
        char error[128];
};

static void on_ready(void *userdata, const char *name, void *request)
{
        (void)name;
        (void)request;
        ++((struct state *)userdata)->n_ready;
}

static void on_failed(void *userdata, const char *name, void *request, const struct activation_error *e)
{
        struct state *s = userdata;

        (void)name;
        (void)request;
        ++s->n_failed;
        snprintf(s->error, sizeof(s->error), "%s", e->name);
}

static void on_discard(void *userdata, void *request)
{
        (void)userdata;
        (void)request;
        fail();
}

static const struct activation_ops ops = { .ready = on_ready, .failed = on_failed, .discard = on_discard };

static bool name_has_owner(sd_bus *bus, const char *name)
{
        sd_bus_message *reply = NULL;
        int has = 0;

        assert_true(sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                       "NameHasOwner", NULL, &reply, "s", name) >= 0);
        assert_true(sd_bus_message_read(reply, "b", &has) >= 0);
        sd_bus_message_unref(reply);
        return has;
}

static pid_t bus_pid;

/* the stand-in bus dies with us, whatever happens to the test */
static pid_t start_bus(const char *daemon, const char *arg)
{
        pid_t parent = getpid(), pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(127);
                execl(daemon, daemon, "--nofork", arg, (char *)NULL);
                _exit(127);
        }
        return pid;
}

static int teardown(void **unused)
{
        (void)unused;
        if (bus_pid > 0) {
                kill(bus_pid, SIGTERM);
                waitpid(bus_pid, NULL, 0);
                bus_pid = 0;
        }
        return 0;
}

static void test_echo_service(void **unused)
{
        const char *daemon = getenv("DBUS_DAEMON") ? getenv("DBUS_DAEMON") : "/usr/bin/dbus-daemon";
        char dir[] = "/tmp/test-activation-daemon-XXXXXX", conf[128], sock[128], address[160], arg[160];
        struct bus_config_servicedir sd = { .path = TESTS_DIR "/data/valid-service-files" };
        struct activation_config config = {
                .bus_type = "session",
                .start_timeout_usec = 20 * 1000000ULL,
                .max_pending = 16,
                .max_bytes_per_owner = 1024,
        };
        struct servicedir_registry *reg;
        struct activation *act;
        struct state s = {};
        struct loop *event;
        sd_bus *bus = NULL;
        sd_bus_message *reply = NULL;
        const char *echo = NULL;
        FILE *f;
        int i;

        (void)unused;
        if (access(daemon, X_OK) < 0 || access(TESTS_DIR "/test-service", X_OK) < 0) {
                skip(); /* needs dbus-daemon and dbus-tests */
                return;
        }

        /* a private dbus-daemon as the bus the service connects to */
        assert_non_null(mkdtemp(dir));
        snprintf(conf, sizeof(conf), "%s/bus.conf", dir);
        snprintf(sock, sizeof(sock), "%s/socket", dir);
        snprintf(address, sizeof(address), "unix:path=%s", sock);
        snprintf(arg, sizeof(arg), "--config-file=%s", conf);
        f = fopen(conf, "w");
        assert_non_null(f);
        fprintf(f, "<busconfig><type>session</type><listen>%s</listen>"
                   "<policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>"
                   "<allow eavesdrop=\"true\"/><allow own=\"*\"/></policy>"
                   "</busconfig>\n", address);
        fclose(f);
        bus_pid = start_bus(daemon, arg);
        for (i = 0; i < 500 && access(sock, F_OK) < 0; ++i)
                usleep(10000);
        assert_int_equal(access(sock, F_OK), 0);

        /* the socket file appears at bind(), before listen(): retry */
        for (i = 0; i < 500; ++i) {
                assert_true(sd_bus_new(&bus) >= 0);
                assert_true(sd_bus_set_address(bus, address) >= 0);
                assert_true(sd_bus_set_bus_client(bus, 1) >= 0);
                if (sd_bus_start(bus) >= 0)
                        break;
                bus = sd_bus_unref(bus);
                usleep(10000);
        }
        assert_non_null(bus);

        config.address = address;
        assert_int_equal(loop_new(&event), 0);
        assert_int_equal(servicedir_registry_new(&reg, &sd, 1, 0), 0);
        assert_int_equal(servicedir_registry_rescan(reg, NULL), 0);
        assert_int_equal(activation_new(&act, event, reg, &config, &ops, &s), 0);

        /* two callers, one start */
        assert_false(name_has_owner(bus, ECHO_NAME));
        assert_int_equal(activation_start(act, ECHO_NAME, NULL, (void *)1, 10, NULL), 0);
        assert_int_equal(activation_start(act, ECHO_NAME, NULL, (void *)2, 10, NULL), 0);
        assert_int_equal(activation_count_children(act), 1);
        for (i = 0; i < 1000 && !name_has_owner(bus, ECHO_NAME) && !s.n_failed; ++i)
                assert_true(loop_run_once(event, 10000) >= 0);
        assert_int_equal(s.n_failed, 0);
        assert_true(name_has_owner(bus, ECHO_NAME));
        activation_name_acquired(act, ECHO_NAME);
        assert_int_equal(s.n_ready, 2);

        /* it is the echo service, and it runs as our tracked child */
        assert_true(sd_bus_call_method(bus, ECHO_NAME, "/org/freedesktop/TestSuite", "org.freedesktop.TestSuite",
                                       "Echo", NULL, &reply, "s", "hello") >= 0);
        assert_true(sd_bus_message_read(reply, "s", &echo) >= 0);
        assert_string_equal(echo, "hello");
        reply = sd_bus_message_unref(reply);
        (void)sd_bus_call_method(bus, ECHO_NAME, "/org/freedesktop/TestSuite", "org.freedesktop.TestSuite",
                                 "Exit", NULL, NULL, "");
        for (i = 0; i < 1000 && activation_count_children(act) > 0; ++i)
                assert_true(loop_run_once(event, 10000) >= 0);
        assert_int_equal(activation_count_children(act), 0);

        activation_free(act);
        servicedir_registry_free(reg);
        loop_free(event);
        sd_bus_flush_close_unref(bus);
        teardown(NULL);
        unlink(conf);
        unlink(sock);
        rmdir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_echo_service, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
