/*
 * Unit tests of dbus-proxy/activation.c with fake broker callbacks and real
 * children: coalescing and queue order, every failure the clients see
 * (ServiceUnknown, Spawn.ExecFailed, Spawn.ChildExited,
 * Spawn.ChildSignaled, TimedOut, InvalidArgs, the system-bus rules),
 * limits, cancelling an owner, the activation environment, systemd mode
 * (ActivationRequest callback, ActivationFailure, exec fallback) and
 * re-entrant callbacks.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "dbus-proxy/activation.h"
#include "dbus-proxy/servicedir.h"

#define MAX_EVENTS 64

enum { EV_READY, EV_FAILED, EV_DISCARD };

struct event_rec {
        int kind;
        char name[128];
        uintptr_t request;
        char error[128];
        char message[512];
};

struct fixture {
        char dir[64];
        struct loop *event;
        struct servicedir_registry *registry;
        struct activation *activation;
        struct activation_config config;
        struct event_rec events[MAX_EVENTS];
        size_t n_events;
        char units[8][128];
        size_t n_units;
        int systemd_result;
        size_t n_changed;
        bool restart_in_ready;          /* re-entrancy test */
};

static void record(struct fixture *f, int kind, const char *name, void *request,
                   const struct activation_error *e)
{
        struct event_rec *r;

        assert_true(f->n_events < MAX_EVENTS);
        r = &f->events[f->n_events++];
        r->kind = kind;
        snprintf(r->name, sizeof(r->name), "%s", name ? name : "");
        r->request = (uintptr_t)request;
        snprintf(r->error, sizeof(r->error), "%s", e ? e->name : "");
        snprintf(r->message, sizeof(r->message), "%s", e ? e->message : "");
}

static void on_ready(void *userdata, const char *name, void *request)
{
        struct fixture *f = userdata;

        record(f, EV_READY, name, request, NULL);
        if (f->restart_in_ready && (uintptr_t)request == 1) {
                /* the pending start is gone already: this starts afresh */
                assert_false(activation_is_pending(f->activation, name));
                assert_int_equal(activation_start(f->activation, name, NULL, (void *)100, 1, NULL), 0);
                assert_true(activation_is_pending(f->activation, name));
        }
}

static void on_failed(void *userdata, const char *name, void *request, const struct activation_error *e)
{
        record(userdata, EV_FAILED, name, request, e);
}

static void on_discard(void *userdata, void *request)
{
        record(userdata, EV_DISCARD, NULL, request, NULL);
}

static int on_systemd_start(void *userdata, const char *name, const char *unit)
{
        struct fixture *f = userdata;

        (void)name;
        assert_true(f->n_units < 8);
        snprintf(f->units[f->n_units++], sizeof(f->units[0]), "%s", unit);
        return f->systemd_result;
}

static void on_changed(void *userdata)
{
        ++((struct fixture *)userdata)->n_changed;
}

static const struct activation_ops ops = {
        .ready = on_ready,
        .failed = on_failed,
        .discard = on_discard,
        .systemd_start = on_systemd_start,
        .services_changed = on_changed,
};

static void write_service(struct fixture *f, const char *file, const char *name, const char *exec,
                          const char *extra)
{
        char path[256];
        FILE *fp;

        snprintf(path, sizeof(path), "%s/%s", f->dir, file);
        fp = fopen(path, "w");
        assert_non_null(fp);
        fprintf(fp, "[D-BUS Service]\nName=%s\nExec=%s\n%s", name, exec, extra ? extra : "");
        assert_int_equal(fclose(fp), 0);
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        struct bus_config_servicedir d;

        assert_non_null(f);
        strcpy(f->dir, "/tmp/test-activation-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        d = (struct bus_config_servicedir){ .path = f->dir };
        assert_int_equal(loop_new(&f->event), 0);
        assert_int_equal(servicedir_registry_new(&f->registry, &d, 1, 0), 0);
        f->config = (struct activation_config){
                .address = "unix:path=/tmp/test-bus-socket",
                .bus_type = "session",
                .start_timeout_usec = 5 * 1000000ULL,
                .max_pending = 512,
                .max_bytes_per_owner = 1 << 20,
        };
        *state = f;
        return 0;
}

static void make_activation(struct fixture *f)
{
        assert_int_equal(servicedir_registry_rescan(f->registry, NULL), 0);
        assert_int_equal(activation_new(&f->activation, f->event, f->registry, &f->config, &ops, f), 0);
}

/* run the loop until @cond holds (10 s at most) */
#define RUN_UNTIL(_f, _cond) \
        do { \
                for (int _i = 0; _i < 1000 && !(_cond); ++_i) \
                        assert_true(loop_run_once((_f)->event, 10000) >= 0); \
                assert_true(_cond); \
        } while (0)

static int teardown(void **state)
{
        struct fixture *f = *state;
        char cmd[128];

        if (f->activation) {
                /* no child may be left behind unreaped */
                RUN_UNTIL(f, activation_count_children(f->activation) == 0);
                activation_free(f->activation);
        }
        servicedir_registry_free(f->registry);
        loop_free(f->event);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

static char *slurp(const char *path)
{
        static char buf[65536];
        FILE *fp = fopen(path, "r");
        size_t n;

        if (!fp)
                return NULL;
        n = fread(buf, 1, sizeof(buf) - 1, fp);
        buf[n] = 0;
        fclose(fp);
        return buf;
}

static size_t count_lines(const char *path)
{
        char *s = slurp(path);
        size_t n = 0;

        for (; s && *s; ++s)
                n += *s == '\n';
        return n;
}

static void kill_pid_in(const char *path)
{
        char *s = slurp(path);

        assert_non_null(s);
        assert_int_equal(kill((pid_t)atoi(s), SIGTERM), 0);
}

/* the pid of our child running "sleep" (read from /proc, no procps needed) */
static pid_t find_sleeping_child(void)
{
        struct dirent *de;
        pid_t found = 0;
        DIR *d = opendir("/proc");

        assert_non_null(d);
        while (!found && (de = readdir(d))) {
                char path[300], buf[512], comm[64];
                int pid, ppid;
                char state;
                FILE *fp;

                if (de->d_name[0] < '0' || de->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
                fp = fopen(path, "r");
                if (!fp)
                        continue;
                if (fgets(buf, sizeof(buf), fp) &&
                    sscanf(buf, "%d (%63[^)]) %c %d", &pid, comm, &state, &ppid) == 4 &&
                    ppid == (int)getpid() && !strcmp(comm, "sleep"))
                        found = pid;
                fclose(fp);
        }
        closedir(d);
        assert_true(found > 0);
        return found;
}

static void test_unknown(void **state)
{
        struct fixture *f = *state;
        struct activation_error e = {};

        make_activation(f);
        assert_int_equal(activation_start(f->activation, "org.example.Nope", NULL, (void *)1, 10, &e),
                         ACTIVATION_E_SERVICE_UNKNOWN);
        assert_string_equal(e.name, "org.freedesktop.DBus.Error.ServiceUnknown");
        assert_non_null(strstr(e.message, "org.example.Nope"));
        activation_error_deinit(&e);
        assert_null(e.message);
        assert_int_equal(activation_count_requests(f->activation), 0);
        assert_int_equal(f->n_events, 0);
        assert_int_equal(f->n_changed, 0);

        /* a file added later is found by the lookup's rescan, and the
         * broker hears about the change */
        write_service(f, "org.example.Late.service", "org.example.Late", "/nonexistent/late", NULL);
        assert_int_equal(activation_start(f->activation, "org.example.Late", NULL, (void *)1, 10, &e),
                         ACTIVATION_E_FAILED);
        assert_string_equal(e.name, "org.freedesktop.DBus.Error.Spawn.ExecFailed");
        assert_non_null(strstr(e.message, "/nonexistent/late"));
        activation_error_deinit(&e);
        assert_int_equal(f->n_changed, 1);
        assert_false(activation_is_pending(f->activation, "org.example.Late"));
        /* a NULL error pointer is fine */
        assert_int_equal(activation_start(f->activation, "org.example.Nope", NULL, (void *)1, 10, NULL),
                         ACTIVATION_E_SERVICE_UNKNOWN);
}

static void test_coalesce_and_order(void **state)
{
        struct fixture *f = *state;
        char exec[512], log[128];
        int owner_a, owner_b;
        size_t i;

        snprintf(log, sizeof(log), "%s/started", f->dir);
        snprintf(exec, sizeof(exec), "/bin/sh -c 'echo $$ >> %s; exec sleep 30'", log);
        write_service(f, "org.example.Svc.service", "org.example.Svc", exec, NULL);
        make_activation(f);

        for (i = 1; i <= 5; ++i)
                assert_int_equal(activation_start(f->activation, "org.example.Svc",
                                                  i % 2 ? (void *)&owner_a : (void *)&owner_b,
                                                  (void *)(uintptr_t)i, 100 * i, NULL), 0);
        assert_true(activation_is_pending(f->activation, "org.example.Svc"));
        assert_int_equal(activation_count_requests(f->activation), 5);
        assert_int_equal(activation_owner_bytes(f->activation, &owner_a), 100 + 300 + 500);
        assert_int_equal(activation_owner_bytes(f->activation, &owner_b), 200 + 400);
        assert_int_equal(activation_count_children(f->activation), 1);

        RUN_UNTIL(f, count_lines(log) == 1);
        for (i = 0; i < 20; ++i)
                assert_true(loop_run_once(f->event, 1000) >= 0);
        assert_int_equal(count_lines(log), 1); /* one start for five requests */
        assert_int_equal(f->n_events, 0);

        activation_name_acquired(f->activation, "org.example.Other"); /* not pending: no-op */
        assert_int_equal(f->n_events, 0);
        activation_name_acquired(f->activation, "org.example.Svc");
        assert_int_equal(f->n_events, 5);
        for (i = 0; i < 5; ++i) {
                assert_int_equal(f->events[i].kind, EV_READY);
                assert_string_equal(f->events[i].name, "org.example.Svc");
                assert_int_equal(f->events[i].request, i + 1);
        }
        assert_false(activation_is_pending(f->activation, "org.example.Svc"));
        assert_int_equal(activation_count_requests(f->activation), 0);
        assert_int_equal(activation_owner_bytes(f->activation, &owner_a), 0);
        /* the service keeps running, still tracked; its later exit is no error */
        assert_int_equal(activation_count_children(f->activation), 1);
        kill_pid_in(log);
        RUN_UNTIL(f, activation_count_children(f->activation) == 0);
        assert_int_equal(f->n_events, 5);
}

static void expect_failures(struct fixture *f, size_t n, const char *name, const char *error, const char *text)
{
        size_t i;

        assert_int_equal(f->n_events, n);
        for (i = 0; i < n; ++i) {
                assert_int_equal(f->events[i].kind, EV_FAILED);
                assert_string_equal(f->events[i].name, name);
                assert_int_equal(f->events[i].request, i + 1);
                assert_string_equal(f->events[i].error, error);
                if (!strstr(f->events[i].message, text)) {
                        fprintf(stderr, "# message \"%s\" lacks \"%s\"\n", f->events[i].message, text);
                        fail();
                }
        }
}

static void test_child_exited(void **state)
{
        struct fixture *f = *state;

        write_service(f, "org.example.Exit.service", "org.example.Exit", "/bin/sh -c 'sleep 0.2; exit 3'", NULL);
        make_activation(f);
        assert_int_equal(activation_start(f->activation, "org.example.Exit", NULL, (void *)1, 1, NULL), 0);
        assert_int_equal(activation_start(f->activation, "org.example.Exit", NULL, (void *)2, 1, NULL), 0);
        RUN_UNTIL(f, f->n_events == 2);
        expect_failures(f, 2, "org.example.Exit", "org.freedesktop.DBus.Error.Spawn.ChildExited",
                        "exited with status 3");
        assert_false(activation_is_pending(f->activation, "org.example.Exit"));
        assert_int_equal(activation_count_requests(f->activation), 0);
        assert_int_equal(activation_count_children(f->activation), 0);
}

static void test_child_signaled(void **state)
{
        struct fixture *f = *state;

        write_service(f, "org.example.Crash.service", "org.example.Crash", "/bin/sh -c 'kill -SEGV $$'", NULL);
        make_activation(f);
        assert_int_equal(activation_start(f->activation, "org.example.Crash", NULL, (void *)1, 1, NULL), 0);
        RUN_UNTIL(f, f->n_events == 1);
        expect_failures(f, 1, "org.example.Crash", "org.freedesktop.DBus.Error.Spawn.ChildSignaled",
                        "received signal 11");
}

static void test_same_exec_fails_together(void **state)
{
        struct fixture *f = *state;

        write_service(f, "org.example.X1.service", "org.example.X1", "/bin/sh -c 'sleep 0.3; exit 1'", NULL);
        write_service(f, "org.example.X2.service", "org.example.X2", "/bin/sh -c 'sleep 0.3; exit 1'", NULL);
        make_activation(f);
        assert_int_equal(activation_start(f->activation, "org.example.X1", NULL, (void *)1, 1, NULL), 0);
        assert_int_equal(activation_start(f->activation, "org.example.X2", NULL, (void *)2, 1, NULL), 0);
        RUN_UNTIL(f, f->n_events == 2);
        assert_int_equal(f->events[0].kind, EV_FAILED);
        assert_int_equal(f->events[1].kind, EV_FAILED);
        assert_string_equal(f->events[1].error, "org.freedesktop.DBus.Error.Spawn.ChildExited");
        assert_false(activation_is_pending(f->activation, "org.example.X1"));
        assert_false(activation_is_pending(f->activation, "org.example.X2"));
}

static void test_timeout(void **state)
{
        struct fixture *f = *state;
        struct timespec t0, t1;
        long ms;

        /* exits 0 without taking the name (daemonized?): no error until
         * the timeout */
        write_service(f, "org.example.Quiet.service", "org.example.Quiet", "/bin/true", NULL);
        /* never appears: killed at the timeout */
        write_service(f, "org.example.Hang.service", "org.example.Hang", "/bin/sleep 30", NULL);
        f->config.start_timeout_usec = 300 * 1000;
        make_activation(f);

        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_int_equal(activation_start(f->activation, "org.example.Quiet", NULL, (void *)1, 1, NULL), 0);
        assert_int_equal(activation_start(f->activation, "org.example.Hang", NULL, (void *)1, 1, NULL), 0);
        RUN_UNTIL(f, f->n_events == 2);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        assert_true(ms >= 290);
        assert_true(ms < 5000);
        assert_int_equal(f->events[0].kind, EV_FAILED);
        assert_string_equal(f->events[0].error, "org.freedesktop.DBus.Error.TimedOut");
        assert_non_null(strstr(f->events[0].message, "service_start_timeout=300ms"));
        assert_string_equal(f->events[1].error, "org.freedesktop.DBus.Error.TimedOut");
        /* the hanging child got SIGKILL and is reaped */
        RUN_UNTIL(f, activation_count_children(f->activation) == 0);
}

static void test_spawn_errors(void **state)
{
        struct fixture *f = *state;
        struct activation_error e = {};
        const char *data = "/usr/lib/dbus-1.0/installed-tests/dbus/data/valid-service-files";
        struct bus_config_servicedir dirs[2];

        write_service(f, "org.example.Missing.service", "org.example.Missing", "/nonexistent/binary --x", NULL);
        write_service(f, "org.example.Quote.service", "org.example.Quote", "/bin/true 'unclosed", NULL);
        dirs[0] = (struct bus_config_servicedir){ .path = f->dir };
        dirs[1] = (struct bus_config_servicedir){ .path = data };
        assert_int_equal(servicedir_registry_set_dirs(f->registry, dirs, 2), 0);
        make_activation(f);

        assert_int_equal(activation_start(f->activation, "org.example.Missing", NULL, (void *)1, 1, &e),
                         ACTIVATION_E_FAILED);
        assert_string_equal(e.name, "org.freedesktop.DBus.Error.Spawn.ExecFailed");
        assert_non_null(strstr(e.message, "Failed to execute program /nonexistent/binary: No such file"));
        activation_error_deinit(&e);

        assert_int_equal(activation_start(f->activation, "org.example.Quote", NULL, (void *)1, 1, &e),
                         ACTIVATION_E_FAILED);
        assert_string_equal(e.name, "org.freedesktop.DBus.Error.InvalidArgs");
        activation_error_deinit(&e);

        /* the dbus-tests corpus: the unterminated quote gives InvalidArgs,
         * as dbus-daemon's test-dbus-daemon expects */
        if (access(data, R_OK) == 0) {
                assert_int_equal(activation_start(f->activation, "org.freedesktop.DBus.TestSuiteShellEchoServiceFail",
                                                  NULL, (void *)1, 1, &e),
                                 ACTIVATION_E_FAILED);
                assert_string_equal(e.name, "org.freedesktop.DBus.Error.InvalidArgs");
                activation_error_deinit(&e);
        }
        assert_int_equal(activation_count_requests(f->activation), 0);
        assert_int_equal(f->n_events, 0);
}

static void test_system_bus_rules(void **state)
{
        struct fixture *f = *state;
        struct activation_error e = {};
        char exec[512], out[128];

        write_service(f, "misnamed.service", "org.example.Misnamed", "/bin/true", "User=nobody\n");
        write_service(f, "org.example.NoUser.service", "org.example.NoUser", "/bin/true", NULL);
        snprintf(out, sizeof(out), "%s/uid", f->dir);
        snprintf(exec, sizeof(exec), "/bin/sh -c 'id -u > %s.tmp; mv %s.tmp %s'", out, out, out);
        write_service(f, "org.example.AsNobody.service", "org.example.AsNobody", exec, "User=nobody\n");
        write_service(f, "org.example.Ghost.service", "org.example.Ghost", "/bin/true", "User=no-such-user-bus1\n");
        f->config.flags = ACTIVATION_SYSTEM_BUS;
        f->config.bus_type = "system";
        /* the service must be able to write its file */
        assert_int_equal(chmod(f->dir, 0777), 0);
        make_activation(f);

        assert_int_equal(activation_start(f->activation, "org.example.Misnamed", NULL, (void *)1, 1, &e),
                         ACTIVATION_E_FAILED);
        assert_string_equal(e.name, "org.freedesktop.DBus.Error.Spawn.ServiceNotFound");
        activation_error_deinit(&e);
        assert_int_equal(activation_start(f->activation, "org.example.NoUser", NULL, (void *)1, 1, &e),
                         ACTIVATION_E_FAILED);
        assert_string_equal(e.name, "org.freedesktop.DBus.Error.Spawn.FileInvalid");
        activation_error_deinit(&e);
        assert_int_equal(activation_start(f->activation, "org.example.Ghost", NULL, (void *)1, 1, &e),
                         ACTIVATION_E_FAILED);
        assert_string_equal(e.name, "org.freedesktop.DBus.Error.Spawn.SetupFailed");
        activation_error_deinit(&e);

        assert_int_equal(activation_start(f->activation, "org.example.AsNobody", NULL, (void *)1, 1, &e), 0);
        RUN_UNTIL(f, slurp(out) != NULL);
        if (geteuid() == 0)
                assert_string_equal(slurp(out), "65534\n");
        activation_name_acquired(f->activation, "org.example.AsNobody");
        assert_int_equal(f->n_events, 1);
        assert_int_equal(f->events[0].kind, EV_READY);
}

static void test_environment(void **state)
{
        struct fixture *f = *state;
        const char *keys[] = { "BUS1_TEST_A", "BUS1_TEST_B", "BUS1_TEST_A" };
        const char *values[] = { "first", "with space", "second" };
        const char *bad[] = { "OK", "NOT=OK" };
        const char *empty[] = { "" };
        const char *const *envp;
        char exec[512], out[128], *s;

        snprintf(out, sizeof(out), "%s/env", f->dir);
        snprintf(exec, sizeof(exec), "/bin/sh -c 'env > %s.tmp; mv %s.tmp %s'", out, out, out);
        write_service(f, "org.example.Env.service", "org.example.Env", exec, NULL);
        setenv("BUS1_TEST_INHERITED", "yes", 1);
        make_activation(f);
        unsetenv("BUS1_TEST_INHERITED");

        assert_int_equal(activation_update_environment(f->activation, keys, values, 3), 0);
        assert_int_equal(activation_update_environment(f->activation, bad, values, 2),
                         ACTIVATION_E_INVALID_ENVIRONMENT);
        assert_int_equal(activation_update_environment(f->activation, empty, values, 1),
                         ACTIVATION_E_INVALID_ENVIRONMENT);
        assert_int_equal(activation_update_environment(f->activation, NULL, NULL, 0), 0);
        envp = activation_get_environment(f->activation);
        assert_non_null(envp);

        assert_int_equal(activation_start(f->activation, "org.example.Env", NULL, (void *)1, 1, NULL), 0);
        RUN_UNTIL(f, slurp(out) != NULL);
        s = slurp(out);
        assert_non_null(strstr(s, "BUS1_TEST_INHERITED=yes\n"));
        assert_non_null(strstr(s, "BUS1_TEST_A=second\n"));
        assert_null(strstr(s, "BUS1_TEST_A=first"));
        assert_non_null(strstr(s, "BUS1_TEST_B=with space\n"));
        assert_null(strstr(s, "OK="));
        assert_non_null(strstr(s, "DBUS_STARTER_ADDRESS=unix:path=/tmp/test-bus-socket\n"));
        assert_non_null(strstr(s, "DBUS_STARTER_BUS_TYPE=session\n"));
        assert_non_null(strstr(s, "DBUS_SESSION_BUS_ADDRESS=unix:path=/tmp/test-bus-socket\n"));
        activation_name_acquired(f->activation, "org.example.Env");
}

static void test_limits_and_cancel(void **state)
{
        struct fixture *f = *state;
        struct activation_error e = {};
        int a, b;

        write_service(f, "org.example.L.service", "org.example.L", "/bin/sleep 30", NULL);
        f->config.max_pending = 3;
        f->config.max_bytes_per_owner = 100;
        make_activation(f);

        assert_int_equal(activation_start(f->activation, "org.example.L", &a, (void *)1, 60, NULL), 0);
        assert_int_equal(activation_start(f->activation, "org.example.L", &a, (void *)2, 41, &e),
                         ACTIVATION_E_LIMITS_EXCEEDED);
        assert_string_equal(e.name, "org.freedesktop.DBus.Error.LimitsExceeded");
        activation_error_deinit(&e);
        assert_int_equal(activation_start(f->activation, "org.example.L", &a, (void *)2, 40, NULL), 0);
        assert_int_equal(activation_start(f->activation, "org.example.L", &b, (void *)3, 101, NULL),
                         ACTIVATION_E_LIMITS_EXCEEDED);
        assert_int_equal(activation_start(f->activation, "org.example.L", &b, (void *)3, 100, NULL), 0);
        assert_int_equal(activation_start(f->activation, "org.example.L", NULL, (void *)4, 0, &e),
                         ACTIVATION_E_LIMITS_EXCEEDED);
        assert_non_null(strstr(e.message, "max_pending_service_starts=3"));
        activation_error_deinit(&e);

        /* owner a goes away: its two requests are dropped, b's stays */
        activation_cancel_owner(f->activation, &a);
        assert_int_equal(f->n_events, 2);
        assert_int_equal(f->events[0].kind, EV_DISCARD);
        assert_int_equal(f->events[0].request, 1);
        assert_int_equal(f->events[1].request, 2);
        assert_int_equal(activation_owner_bytes(f->activation, &a), 0);
        assert_int_equal(activation_owner_bytes(f->activation, &b), 100);
        assert_int_equal(activation_count_requests(f->activation), 1);
        assert_true(activation_is_pending(f->activation, "org.example.L"));

        /* a reload lowers the limits: the next request is refused, then raises them */
        f->config.max_pending = 1;
        activation_set_limits(f->activation, &f->config);
        assert_int_equal(activation_start(f->activation, "org.example.L", &b, (void *)5, 0, &e),
                         ACTIVATION_E_LIMITS_EXCEEDED);
        assert_non_null(strstr(e.message, "max_pending_service_starts=1"));
        activation_error_deinit(&e);
        f->config.max_pending = 2;
        f->config.max_bytes_per_owner = SIZE_MAX;
        activation_set_limits(f->activation, &f->config);
        assert_int_equal(activation_start(f->activation, "org.example.L", &b, (void *)5, 1000, NULL), 0);
        assert_int_equal(activation_count_requests(f->activation), 2);
        activation_cancel_owner(f->activation, &b);
        assert_int_equal(f->n_events, 4);
        assert_int_equal(activation_count_requests(f->activation), 0);

        /* freeing the activation discards nothing more; the child stays */
        {
                pid_t pid;

                activation_free(f->activation);
                f->activation = NULL;
                assert_int_equal(f->n_events, 4);
                assert_int_equal(f->events[2].kind, EV_DISCARD);
                assert_int_equal(f->events[2].request, 3);
                assert_int_equal(f->events[3].request, 5);
                /* find and reap the untracked sleep */
                pid = find_sleeping_child();
                assert_int_equal(kill(pid, SIGKILL), 0);
                assert_int_equal(waitpid(pid, NULL, 0), pid);
        }
}

static void test_systemd(void **state)
{
        struct fixture *f = *state;
        struct activation_error e = {};

        write_service(f, "org.example.Sd.service", "org.example.Sd", "/bin/false",
                      "SystemdService=dbus-org.example.Sd.service\n");
        write_service(f, "org.example.Sd2.service", "org.example.Sd2", "/bin/false",
                      "SystemdService=dbus-org.example.Sd.service\n");
        write_service(f, "org.example.Plain.service", "org.example.Plain", "/bin/sleep 30", NULL);
        f->config.flags = ACTIVATION_SYSTEMD;
        make_activation(f);

        assert_int_equal(activation_start(f->activation, "org.example.Sd", NULL, (void *)1, 1, NULL), 0);
        assert_int_equal(activation_start(f->activation, "org.example.Sd", NULL, (void *)2, 1, NULL), 0);
        assert_int_equal(activation_start(f->activation, "org.example.Sd2", NULL, (void *)3, 1, NULL), 0);
        assert_int_equal(f->n_units, 2); /* one request per name, not per caller */
        assert_string_equal(f->units[0], "dbus-org.example.Sd.service");
        assert_int_equal(activation_count_children(f->activation), 0);

        activation_systemd_failure(f->activation, "other.service", "org.freedesktop.systemd1.NoSuchUnit", "x");
        assert_int_equal(f->n_events, 0);
        activation_systemd_failure(f->activation, "dbus-org.example.Sd.service",
                                   "org.freedesktop.systemd1.NoSuchUnit", "Unit dbus-org.example.Sd.service not found.");
        assert_int_equal(f->n_events, 3);
        assert_string_equal(f->events[0].error, "org.freedesktop.systemd1.NoSuchUnit");
        assert_string_equal(f->events[0].message, "Unit dbus-org.example.Sd.service not found.");
        assert_int_equal(f->events[1].request, 2);
        assert_string_equal(f->events[2].name, "org.example.Sd2");

        /* the broker failing to send the request */
        f->systemd_result = -ENOTCONN;
        assert_int_equal(activation_start(f->activation, "org.example.Sd", NULL, (void *)4, 1, &e),
                         ACTIVATION_E_FAILED);
        assert_string_equal(e.name, "org.freedesktop.DBus.Error.Spawn.Failed");
        activation_error_deinit(&e);
        f->systemd_result = 0;

        /* systemd itself needs no file; its queue waits for it */
        assert_int_equal(activation_start(f->activation, "org.freedesktop.systemd1", NULL, (void *)5, 1, NULL), 0);
        activation_name_acquired(f->activation, "org.freedesktop.systemd1");
        assert_int_equal(f->n_events, 4);
        assert_int_equal(f->events[3].kind, EV_READY);

        /* no SystemdService=: exec fallback */
        assert_int_equal(activation_start(f->activation, "org.example.Plain", NULL, (void *)6, 1, NULL), 0);
        assert_int_equal(activation_count_children(f->activation), 1);
        activation_name_acquired(f->activation, "org.example.Plain");
        activation_free(f->activation);
        f->activation = NULL;
        {
                pid_t pid = find_sleeping_child();

                kill(pid, SIGKILL);
                assert_int_equal(waitpid(pid, NULL, 0), pid);
        }

        /* and without the fallback */
        f->config.flags = ACTIVATION_SYSTEMD | ACTIVATION_NO_EXEC_FALLBACK;
        make_activation(f);
        assert_int_equal(activation_start(f->activation, "org.example.Plain", NULL, (void *)7, 1, &e),
                         ACTIVATION_E_FAILED);
        assert_string_equal(e.name, "org.freedesktop.DBus.Error.Spawn.Failed");
        activation_error_deinit(&e);
}

static void test_reentrant_ready(void **state)
{
        struct fixture *f = *state;
        char exec[256], log[128];

        snprintf(log, sizeof(log), "%s/runs", f->dir);
        snprintf(exec, sizeof(exec), "/bin/sh -c 'echo x >> %s'", log);
        write_service(f, "org.example.Re.service", "org.example.Re", exec, NULL);
        make_activation(f);
        f->restart_in_ready = true;
        assert_int_equal(activation_start(f->activation, "org.example.Re", NULL, (void *)1, 1, NULL), 0);
        assert_int_equal(activation_start(f->activation, "org.example.Re", NULL, (void *)2, 1, NULL), 0);
        activation_name_acquired(f->activation, "org.example.Re");
        assert_int_equal(f->n_events, 2);
        assert_int_equal(f->events[1].request, 2);
        /* the request queued from the callback started a second run */
        assert_true(activation_is_pending(f->activation, "org.example.Re"));
        RUN_UNTIL(f, count_lines(log) == 2);
        f->restart_in_ready = false;
        activation_name_acquired(f->activation, "org.example.Re");
        assert_int_equal(f->n_events, 3);
        assert_int_equal(f->events[2].request, 100);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_unknown, setup, teardown),
                cmocka_unit_test_setup_teardown(test_coalesce_and_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_child_exited, setup, teardown),
                cmocka_unit_test_setup_teardown(test_child_signaled, setup, teardown),
                cmocka_unit_test_setup_teardown(test_same_exec_fails_together, setup, teardown),
                cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_spawn_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_system_bus_rules, setup, teardown),
                cmocka_unit_test_setup_teardown(test_environment, setup, teardown),
                cmocka_unit_test_setup_teardown(test_limits_and_cancel, setup, teardown),
                cmocka_unit_test_setup_teardown(test_systemd, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reentrant_ready, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
