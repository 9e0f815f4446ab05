/*
 * Tests of dbus-proxy/cmdline.c: every option in each of its forms, the
 * order-dependent value rules, every error and its message; each case is
 * also run through the real dbus-daemon ($DBUS_DAEMON) to check that it
 * accepts and refuses the same command lines with the same messages. Then
 * the address/pid printing helpers (one write, fd closed unless stdio).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "dbus-proxy/cmdline.h"

#define NOCONF "--config-file=/nonexistent-bus1-test.conf"
#define NOCONF_PATH "/nonexistent-bus1-test.conf"
#define MAX_ARGS 8

struct expect {
        int r;                          /* cmdline_parse() result */
        const char *message;            /* for errors: exact text; NULL: usage */
        enum cmdline_action action;
        const char *config;             /* NULL: don't check */
        const char *address;
        int print_address;              /* -1: not set; else fd (-1 is "stdout") */
        bool has_address_fd;            /* else the expected fd is -1 (stdout) */
        int address_fd;
        int print_pid;
        bool has_pid_fd;
        int pid_fd;
        enum cmdline_fork fork;
        enum cmdline_syslog syslog;
        bool nopidfile;
        bool systemd;
        enum cmdline_bus bus;
};

/* .config == NULL means NOCONF_PATH */
struct testcase {
        const char *args[MAX_ARGS];
        struct expect e;
};

#define RUN(...) { .r = 0, .action = CMDLINE_RUN, __VA_ARGS__ }
#define ADDR_FD(_n) .has_address_fd = true, .address_fd = (_n)
#define PID_FD(_n) .has_pid_fd = true, .pid_fd = (_n)
#define ERR(code, msg) { .r = (code), .message = (msg) }

static const struct testcase cases[] = {
        /* configuration */
        { { "--session" }, RUN(.config = CMDLINE_SESSION_CONFIG, .bus = CMDLINE_BUS_SESSION) },
        { { "--system" }, RUN(.config = CMDLINE_SYSTEM_CONFIG, .bus = CMDLINE_BUS_SYSTEM) },
        { { NOCONF }, RUN(.config = NOCONF_PATH) },
        { { "--config-file", NOCONF_PATH }, RUN(.config = NOCONF_PATH) },
        { { "--config-file=", NOCONF }, RUN(.config = NOCONF_PATH) },
        { { NOCONF, "--config-file" }, RUN(.config = NOCONF_PATH) },
        { { "--config-file", "--syslog", NOCONF }, RUN(.config = NOCONF_PATH, .syslog = CMDLINE_SYSLOG_ON) },
        /* address */
        { { NOCONF, "--address=unix:path=/a" }, RUN(.config = NOCONF_PATH, .address = "unix:path=/a") },
        { { NOCONF, "--address", "unix:path=/a" }, RUN(.address = "unix:path=/a") },
        { { NOCONF, "--address=" }, RUN(.address = NULL) },
        { { NOCONF, "--address", "--nofork" }, RUN(.address = NULL, .fork = CMDLINE_FORK_NEVER) },
        { { "--address", "--print-pid", NOCONF }, RUN(.address = "--print-pid") },
        { { "--address", "--print-address=4", NOCONF }, RUN(.address = "--print-address=4") },
        /* print-address / print-pid */
        { { NOCONF, "--print-address" }, RUN(.print_address = 1) },
        { { NOCONF, "--print-address=5" }, RUN(.print_address = 1, ADDR_FD(5)) },
        { { NOCONF, "--print-address", "5" }, RUN(.print_address = 1, ADDR_FD(5)) },
        { { NOCONF, "--print-address=0x5" }, RUN(.print_address = 1, ADDR_FD(5)) },
        { { NOCONF, "--print-address=010" }, RUN(.print_address = 1, ADDR_FD(8)) },
        { { NOCONF, "--print-address=+3" }, RUN(.print_address = 1, ADDR_FD(3)) },
        { { NOCONF, "--print-address= 9" }, RUN(.print_address = 1, ADDR_FD(9)) },
        { { NOCONF, "--print-address=0" }, RUN(.print_address = 1, ADDR_FD(0)) },
        { { NOCONF, "--print-address=2147483647" }, RUN(.print_address = 1, ADDR_FD(2147483647)) },
        { { NOCONF, "--print-address=" }, RUN(.print_address = 1) },
        { { NOCONF, "--print-address=", "--print-address=6" }, RUN(.print_address = 1, ADDR_FD(6)) },
        { { NOCONF, "--print-address", "--print-address=6" }, RUN(.print_address = 1, ADDR_FD(6)) },
        { { NOCONF, "--print-address", "--nofork" }, RUN(.print_address = 1, .fork = CMDLINE_FORK_NEVER) },
        { { NOCONF, "--print-address", "--address=q" }, RUN(.print_address = 1, .address = "q") },
        { { NOCONF, "--print-pid" }, RUN(.print_pid = 1) },
        { { NOCONF, "--print-pid=7", "--print-address" }, RUN(.print_pid = 1, PID_FD(7), .print_address = 1) },
        { { NOCONF, "--print-pid", "7", "--print-address", "8" },
          RUN(.print_pid = 1, PID_FD(7), .print_address = 1, ADDR_FD(8)) },
        /* flags: the last one wins */
        { { NOCONF, "--fork" }, RUN(.fork = CMDLINE_FORK_ALWAYS) },
        { { NOCONF, "--fork", "--nofork" }, RUN(.fork = CMDLINE_FORK_NEVER) },
        { { NOCONF, "--nofork", "--fork" }, RUN(.fork = CMDLINE_FORK_ALWAYS) },
        { { NOCONF, "--syslog", "--nosyslog" }, RUN(.syslog = CMDLINE_SYSLOG_OFF) },
        { { NOCONF, "--nosyslog", "--syslog" }, RUN(.syslog = CMDLINE_SYSLOG_ON) },
        { { NOCONF, "--syslog-only" }, RUN(.syslog = CMDLINE_SYSLOG_ONLY) },
        { { NOCONF, "--syslog-only", "--nosyslog" }, RUN(.syslog = CMDLINE_SYSLOG_OFF) },
        { { NOCONF, "--nopidfile", "--systemd-activation" }, RUN(.nopidfile = true, .systemd = true) },
        /* immediate actions */
        { { "--version" }, { .action = CMDLINE_VERSION } },
        { { "--version", "--foo" }, { .action = CMDLINE_VERSION } },
        { { NOCONF, "--version" }, { .action = CMDLINE_VERSION } },
        { { "--session", "--introspect" }, { .action = CMDLINE_INTROSPECT } },
        { { NOCONF, "--introspect", "--foo" }, { .action = CMDLINE_INTROSPECT } },
        { { "--introspect" }, { .action = CMDLINE_INTROSPECT } },
        { { "--help" }, { .action = CMDLINE_HELP } },
        { { "-h" }, { .action = CMDLINE_HELP } },
        { { "-?" }, { .action = CMDLINE_HELP } },
        { { "--config-file", "--help" }, { .action = CMDLINE_HELP } },
        /* conflicts */
        { { "--session", "--system" },
          ERR(CMDLINE_E_CONFLICT, "--system specified but configuration file " CMDLINE_SESSION_CONFIG " already requested\n") },
        { { "--system", "--session" },
          ERR(CMDLINE_E_CONFLICT, "--session specified but configuration file " CMDLINE_SYSTEM_CONFIG " already requested\n") },
        { { "--session", "--session" },
          ERR(CMDLINE_E_CONFLICT, "--session specified but configuration file " CMDLINE_SESSION_CONFIG " already requested\n") },
        { { "--session", "--system", "--help" },
          ERR(CMDLINE_E_CONFLICT, "--system specified but configuration file " CMDLINE_SESSION_CONFIG " already requested\n") },
        { { NOCONF, "--session" },
          ERR(CMDLINE_E_CONFLICT, "--session specified but configuration file " NOCONF_PATH " already requested\n") },
        { { "--session", NOCONF },
          ERR(CMDLINE_E_CONFLICT, "--config-file specified but configuration file " CMDLINE_SESSION_CONFIG " already requested\n") },
        { { "--config-file=/a", "--config-file", "/b" },
          ERR(CMDLINE_E_CONFLICT, "--config-file specified but configuration file /a already requested\n") },
        { { NOCONF, "--config-file=" },
          ERR(CMDLINE_E_CONFLICT, "--config-file specified but configuration file " NOCONF_PATH " already requested\n") },
        { { "--config-file", "--address=q", NOCONF },
          ERR(CMDLINE_E_CONFLICT, "--config-file specified but configuration file --address=q already requested\n") },
        { { NOCONF, "--address=a", "--address", "b" },
          ERR(CMDLINE_E_CONFLICT, "--address specified but address a already requested\n") },
        { { NOCONF, "--print-address=1", "--print-address=2" },
          ERR(CMDLINE_E_CONFLICT, "--print-address specified but printing address to 1 already requested\n") },
        { { NOCONF, "--print-address", "3", "--print-address", "4" },
          ERR(CMDLINE_E_CONFLICT, "--print-address specified but printing address to 3 already requested\n") },
        { { NOCONF, "--print-address", "--print-pid", "--print-address=4" },
          ERR(CMDLINE_E_CONFLICT, "--print-address specified but printing address to --print-pid already requested\n") },
        { { NOCONF, "--print-pid=1", "--print-pid=2" },
          ERR(CMDLINE_E_CONFLICT, "--print-pid specified but printing pid to 1 already requested\n") },
        /* no configuration */
        { { NULL }, ERR(CMDLINE_E_NO_CONFIG, NULL) },
        { { "--config-file" }, ERR(CMDLINE_E_NO_CONFIG, NULL) },
        { { "--config-file=" }, ERR(CMDLINE_E_NO_CONFIG, NULL) },
        { { "--address" }, ERR(CMDLINE_E_NO_CONFIG, NULL) },
        { { "--nofork", "--print-address=abc" }, ERR(CMDLINE_E_NO_CONFIG, NULL) },
        /* bad descriptors */
        { { NOCONF, "--print-address=abc" }, ERR(CMDLINE_E_BAD_FD, "Invalid file descriptor: \"abc\"\n") },
        { { NOCONF, "--print-address=-1" }, ERR(CMDLINE_E_BAD_FD, "Invalid file descriptor: \"-1\"\n") },
        { { NOCONF, "--print-address=5x" }, ERR(CMDLINE_E_BAD_FD, "Invalid file descriptor: \"5x\"\n") },
        { { NOCONF, "--print-address=2147483648" },
          ERR(CMDLINE_E_BAD_FD, "Invalid file descriptor: \"2147483648\"\n") },
        { { NOCONF, "--print-address", "abc" }, ERR(CMDLINE_E_BAD_FD, "Invalid file descriptor: \"abc\"\n") },
        { { NOCONF, "--print-address", "--print-address" },
          ERR(CMDLINE_E_BAD_FD, "Invalid file descriptor: \"--print-address\"\n") },
        { { NOCONF, "--print-pid=xyz" }, ERR(CMDLINE_E_BAD_FD, "Invalid file descriptor: \"xyz\"\n") },
        { { NOCONF, "--print-pid", "abc" }, ERR(CMDLINE_E_BAD_FD, "Invalid file descriptor: \"abc\"\n") },
        { { NOCONF, "--print-address=abc", "--print-pid=xyz" },
          ERR(CMDLINE_E_BAD_FD, "Invalid file descriptor: \"abc\"\n") },
        { { NOCONF, "--print-pid=xyz", "--print-address=abc" },
          ERR(CMDLINE_E_BAD_FD, "Invalid file descriptor: \"abc\"\n") },
        /* unknown arguments */
        { { "foo" }, ERR(CMDLINE_E_USAGE, NULL) },
        { { "--foo" }, ERR(CMDLINE_E_USAGE, NULL) },
        { { "--foo", "--version" }, ERR(CMDLINE_E_USAGE, NULL) },
        { { NOCONF, "foo" }, ERR(CMDLINE_E_USAGE, NULL) },
        { { "--config-file", NOCONF_PATH, "/other" }, ERR(CMDLINE_E_USAGE, NULL) },
        { { NOCONF, "--address", "a", "b" }, ERR(CMDLINE_E_USAGE, NULL) },
        { { NOCONF, "--print-address", "3", "4" }, ERR(CMDLINE_E_USAGE, NULL) },
        { { NOCONF, "--print-address=3", "4" }, ERR(CMDLINE_E_USAGE, NULL) },
        { { "--version=3" }, ERR(CMDLINE_E_USAGE, NULL) },
        { { "--helpx" }, ERR(CMDLINE_E_USAGE, NULL) },
        { { "--" }, ERR(CMDLINE_E_USAGE, NULL) },
        { { "-" }, ERR(CMDLINE_E_USAGE, NULL) },
        { { "" }, ERR(CMDLINE_E_USAGE, NULL) },
        { { "--Session" }, ERR(CMDLINE_E_USAGE, NULL) },
};

#define N_CASES (sizeof(cases) / sizeof(*cases))

static int make_argv(const struct testcase *tc, char **argv)
{
        int argc = 0;

        argv[argc++] = (char *)"bus1-dbus";
        for (int i = 0; i < MAX_ARGS && tc->args[i]; ++i)
                argv[argc++] = (char *)tc->args[i];
        argv[argc] = NULL;
        return argc;
}

static void describe(const struct testcase *tc, char *buf, size_t n)
{
        buf[0] = 0;
        for (int i = 0; i < MAX_ARGS && tc->args[i]; ++i) {
                strncat(buf, "'", n - strlen(buf) - 1);
                strncat(buf, tc->args[i], n - strlen(buf) - 1);
                strncat(buf, "' ", n - strlen(buf) - 1);
        }
}

static char *expected_message(const struct expect *e)
{
        char *s = NULL;

        if (e->message)
                s = strdup(e->message);
        else if (e->r == CMDLINE_E_NO_CONFIG)
                assert_true(asprintf(&s, "No configuration file specified.\n%s", cmdline_usage_text()) > 0);
        else
                s = strdup(cmdline_usage_text());
        assert_non_null(s);
        return s;
}

static void test_parse(void **state)
{
        for (size_t i = 0; i < N_CASES; ++i) {
                const struct testcase *tc = &cases[i];
                const struct expect *e = &tc->e;
                struct cmdline *c = NULL;
                char *argv[MAX_ARGS + 2], *message = NULL, what[256];
                int argc = make_argv(tc, argv), r;

                describe(tc, what, sizeof(what));
                r = cmdline_parse(&c, &message, argc, argv);
                if (r != e->r)
                        fail_msg("%s: result %d, expected %d (%s)", what, r, e->r, message ? message : "");
                if (r) {
                        char *exp = expected_message(e);

                        assert_null(c);
                        assert_non_null(message);
                        if (strcmp(message, exp))
                                fail_msg("%s: message \"%s\", expected \"%s\"", what, message, exp);
                        free(exp);
                        free(message);
                        continue;
                }
                assert_null(message);
                assert_non_null(c);
                if (c->action != e->action)
                        fail_msg("%s: action %d, expected %d", what, c->action, e->action);
                if (e->action == CMDLINE_RUN) {
                        assert_non_null(c->config_file);
                        assert_string_equal(c->config_file, e->config ? e->config : NOCONF_PATH);
                        if (e->address)
                                assert_string_equal(c->address, e->address);
                        else
                                assert_null(c->address);
                        assert_int_equal(c->print_address, e->print_address == 1);
                        assert_int_equal(c->print_address_fd, e->has_address_fd ? e->address_fd : -1);
                        assert_int_equal(c->print_pid, e->print_pid == 1);
                        assert_int_equal(c->print_pid_fd, e->has_pid_fd ? e->pid_fd : -1);
                        assert_int_equal(c->fork, e->fork);
                        assert_int_equal(c->syslog, e->syslog);
                        assert_int_equal(c->nopidfile, e->nopidfile);
                        assert_int_equal(c->systemd_activation, e->systemd);
                        assert_int_equal(c->bus, e->bus);
                }
                cmdline_free(c);
        }
        assert_null(cmdline_free(NULL));
}

/* Run @argv through dbus-daemon; collect exit status, stdout and stderr. */
static int run_dbus_daemon(const char *daemon, char **argv, char *out, size_t n_out, char *err, size_t n_err)
{
        int po[2], pe[2], status;
        ssize_t l;
        size_t got;
        pid_t pid;

        assert_int_equal(pipe2(po, O_CLOEXEC), 0);
        assert_int_equal(pipe2(pe, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                alarm(10);
                dup2(po[1], 1);
                dup2(pe[1], 2);
                argv[0] = (char *)daemon;
                execv(daemon, argv);
                _exit(127);
        }
        close(po[1]);
        close(pe[1]);
        for (got = 0; got < n_out - 1 && (l = read(po[0], out + got, n_out - 1 - got)) > 0;)
                got += (size_t)l;
        out[got] = 0;
        for (got = 0; got < n_err - 1 && (l = read(pe[0], err + got, n_err - 1 - got)) > 0;)
                got += (size_t)l;
        err[got] = 0;
        close(po[0]);
        close(pe[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

static void test_against_dbus_daemon(void **state)
{
        const char *daemon = getenv("DBUS_DAEMON");
        size_t checked = 0;

        if (!daemon || access(daemon, X_OK) != 0) {
                print_message("dbus-daemon not found ($DBUS_DAEMON unset or not executable)\n");
                skip();
        }

        for (size_t i = 0; i < N_CASES; ++i) {
                const struct testcase *tc = &cases[i];
                const struct expect *e = &tc->e;
                char *argv[MAX_ARGS + 2], out[4096], err[4096], what[256];
                int rc;

                /* only command lines that cannot start a real bus */
                if (e->r == 0 && e->action == CMDLINE_RUN && e->config && strcmp(e->config, NOCONF_PATH))
                        continue;
                if (e->r == 0 && e->action == CMDLINE_HELP)
                        continue; /* deliberate difference, see cmdline.h */
                make_argv(tc, argv);
                describe(tc, what, sizeof(what));
                rc = run_dbus_daemon(daemon, argv, out, sizeof(out), err, sizeof(err));
                ++checked;

                if (e->r) {
                        char *exp = expected_message(e), *p;

                        /* our usage line names bus1-dbus */
                        p = strstr(exp, "bus1-dbus");
                        if (p) {
                                char *fixed = NULL;

                                *p = 0;
                                assert_true(asprintf(&fixed, "%sdbus-daemon%s", exp, p + 9) > 0);
                                free(exp);
                                exp = fixed;
                        }
                        if (rc != 1 || strcmp(err, exp))
                                fail_msg("%s: dbus-daemon rc %d stderr \"%s\", we say \"%s\"", what, rc, err, exp);
                        free(exp);
                } else if (e->action == CMDLINE_VERSION) {
                        if (rc != 0 || strncmp(out, "D-Bus Message Bus Daemon", 24))
                                fail_msg("%s: dbus-daemon rc %d stdout \"%s\"", what, rc, out);
                } else if (e->action == CMDLINE_INTROSPECT) {
                        if (rc != 0 || !strstr(out, "<node>"))
                                fail_msg("%s: dbus-daemon rc %d stdout \"%s\"", what, rc, out);
                } else {
                        /* parsing passed: it fails on the missing configuration */
                        if (rc != 1 || !strstr(err, "Failed to open \"" NOCONF_PATH "\""))
                                fail_msg("%s: dbus-daemon rc %d stderr \"%s\"", what, rc, err);
                }
        }
        assert_true(checked > 60);
}

static void test_texts(void **state)
{
        static const char *const options[] = {
                "--session", "--system", "--config-file", "--address", "--print-address",
                "--print-pid", "--fork", "--nofork", "--nopidfile", "--systemd-activation",
                "--syslog", "--nosyslog", "--syslog-only", "--introspect", "--version", "--help",
        };
        const char *help = cmdline_help_text(), *usage = cmdline_usage_text();

        for (size_t i = 0; i < sizeof(options) / sizeof(*options); ++i) {
                assert_non_null(strstr(help, options[i]));
                if (strcmp(options[i], "--help"))
                        assert_non_null(strstr(usage, options[i]));
        }
        assert_int_equal(strncmp(cmdline_version_text(), "bus1-dbus ", 10), 0);
        assert_non_null(strstr(cmdline_version_text(), "dbus-daemon " CMDLINE_DBUS_COMPAT_VERSION));
        assert_int_equal(usage[strlen(usage) - 1], '\n');
        assert_int_equal(help[strlen(help) - 1], '\n');
}

static struct cmdline *parse_args(const char *a1, const char *a2)
{
        char *argv[] = { (char *)"bus1-dbus", (char *)NOCONF, (char *)a1, (char *)a2, NULL };
        struct cmdline *c = NULL;
        char *message = NULL;

        int r = cmdline_parse(&c, &message, a2 ? 4 : a1 ? 3 : 2, argv);

        if (r)
                fail_msg("parse: %d %s", r, message);
        return c;
}

static void read_all(int fd, char *buf, size_t n)
{
        ssize_t l;
        size_t got = 0;

        while (got < n - 1 && (l = read(fd, buf + got, n - 1 - got)) > 0)
                got += (size_t)l;
        buf[got] = 0;
}

static void test_print(void **state)
{
        char arg1[64], arg2[64], buf[256];
        struct cmdline *c;
        int p[2], saved;

        /* to an fd: one line, then the fd is closed */
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        snprintf(arg1, sizeof(arg1), "--print-address=%d", p[1]);
        c = parse_args(arg1, NULL);
        assert_int_equal(cmdline_print_address(c, "unix:path=/x,guid=00"), 0);
        assert_int_equal(fcntl(p[1], F_GETFD), -1);
        assert_int_equal(errno, EBADF);
        read_all(p[0], buf, sizeof(buf));
        assert_string_equal(buf, "unix:path=/x,guid=00\n");
        close(p[0]);
        cmdline_free(c);

        /* pid to an fd */
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        snprintf(arg1, sizeof(arg1), "--print-pid=%d", p[1]);
        c = parse_args(arg1, NULL);
        assert_int_equal(cmdline_print_pid(c, 4242), 0);
        assert_int_equal(fcntl(p[1], F_GETFD), -1);
        read_all(p[0], buf, sizeof(buf));
        assert_string_equal(buf, "4242\n");
        close(p[0]);
        cmdline_free(c);

        /* both to the same fd: closed only after the pid */
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        snprintf(arg1, sizeof(arg1), "--print-address=%d", p[1]);
        snprintf(arg2, sizeof(arg2), "--print-pid=%d", p[1]);
        c = parse_args(arg1, arg2);
        assert_int_equal(cmdline_print_address(c, "unix:abstract=a"), 0);
        assert_true(fcntl(p[1], F_GETFD) >= 0);
        assert_int_equal(cmdline_print_pid(c, 17), 0);
        assert_int_equal(fcntl(p[1], F_GETFD), -1);
        read_all(p[0], buf, sizeof(buf));
        assert_string_equal(buf, "unix:abstract=a\n17\n");
        close(p[0]);
        cmdline_free(c);

        /* stdout (no fd given): written there and not closed */
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        saved = dup(1);
        assert_true(saved >= 0);
        assert_int_equal(dup2(p[1], 1), 1);
        /* (not "--print-address --print-pid": that makes "--print-pid" the fd) */
        c = parse_args("--print-pid", "--print-address");
        assert_int_equal(cmdline_print_address(c, "unix:path=/y"), 0);
        assert_int_equal(cmdline_print_pid(c, 1), 0);
        assert_true(fcntl(1, F_GETFD) >= 0);
        assert_int_equal(dup2(saved, 1), 1);
        close(saved);
        close(p[1]);
        read_all(p[0], buf, sizeof(buf));
        assert_string_equal(buf, "unix:path=/y\n1\n");
        close(p[0]);
        cmdline_free(c);

        /* a closed fd: the error is reported */
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        close(p[0]);
        close(p[1]);
        snprintf(arg1, sizeof(arg1), "--print-address=%d", p[1]);
        c = parse_args(arg1, NULL);
        assert_int_equal(cmdline_print_address(c, "x"), -EBADF);
        cmdline_free(c);

        /* the reader went away */
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        close(p[0]);
        snprintf(arg1, sizeof(arg1), "--print-pid=%d", p[1]);
        c = parse_args(arg1, NULL);
        assert_int_equal(cmdline_print_pid(c, 5), -EPIPE);
        assert_int_equal(fcntl(p[1], F_GETFD), -1);
        cmdline_free(c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_against_dbus_daemon),
                cmocka_unit_test(test_texts),
                cmocka_unit_test(test_print),
        };

        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
