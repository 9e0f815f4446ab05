/*
 * Unit tests of dbus-proxy/spawn.c: command line splitting (also of the
 * Exec= lines of the dbus-tests corpus), and real children: success, exit
 * status, a crash, a missing binary, the environment, closed fds, the
 * signal mask, switching user, kill, and reaping through the event loop.
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
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "dbus-proxy/spawn.h"

static void split_ok(const char *line, const char *const *expect)
{
        char **argv = NULL, *err = NULL;
        size_t i;

        assert_int_equal(spawn_parse_command_line(line, &argv, &err), 0);
        assert_null(err);
        for (i = 0; expect[i]; ++i) {
                assert_non_null(argv[i]);
                assert_string_equal(argv[i], expect[i]);
        }
        assert_null(argv[i]);
        spawn_argv_free(argv);
}

static void split_bad(const char *line, const char *what)
{
        char **argv = (void *)0x1, *err = NULL;

        assert_int_equal(spawn_parse_command_line(line, &argv, &err), SPAWN_E_INVALID_COMMAND);
        assert_ptr_equal(argv, (void *)0x1);
        assert_non_null(err);
        assert_non_null(strstr(err, what));
        free(err);
        assert_int_equal(spawn_parse_command_line(line, &argv, NULL), SPAWN_E_INVALID_COMMAND);
}

#define V(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void test_split(void **state)
{
        (void)state;
        split_ok("/bin/true", V("/bin/true"));
        split_ok("  a\tb \n c  ", V("a", "b", "c"));
        /* the dbus-tests corpus line */
        split_ok("/usr/lib/dbus-1.0/installed-tests/dbus/test-shell-service -test \"that\" 'we get' back --what \"we put in\"",
                 V("/usr/lib/dbus-1.0/installed-tests/dbus/test-shell-service", "-test", "that", "we get", "back",
                   "--what", "we put in"));
        split_ok("a \"b\"'c'd e", V("a", "bcd", "e"));
        split_ok("a '' \"\" b", V("a", "", "", "b"));
        split_ok("'a\\b \"c\"'", V("a\\b \"c\""));
        split_ok("\"a\\\"b\\\\c\\$d\\`e\\xf\"", V("a\"b\\c$d`e\\xf"));
        split_ok("\"a\\\nb\"", V("ab"));
        split_ok("a\\ b \\'c\\\" \\x", V("a b", "'c\"", "x"));
        split_ok("a \\\n b", V("a", "b"));
        split_ok("a#b # comment 'x\nc", V("a#b", "c"));
        split_ok("'#x' \"#y\" \\#z", V("#x", "#y", "#z"));
        split_ok("$HOME ~ * ;|&", V("$HOME", "~", "*", ";|&"));
        split_bad("", "empty");
        split_bad("   \t\n", "empty");
        split_bad("# only a comment", "empty");
        split_bad("a 'b", "unclosed single quote");
        split_bad("/usr/lib/dbus-1.0/installed-tests/dbus/test-shell-service \"this should 'fail' because of an unterminated quote",
                  "unclosed double quote");
        split_bad("a \"b\\\"", "unclosed double quote");
        split_bad("a\\", "backslash");
        assert_null(spawn_argv_free(NULL));
}

static int spawn_sh(struct spawn_child **c, const char *script, const char *const *envp, int *err)
{
        const char *argv[] = { "/bin/sh", "-c", script, NULL };
        struct spawn_options o = { .argv = argv, .envp = envp, .stdout_fd = -1, .stderr_fd = -1 };

        return spawn_child_new(c, &o, err);
}

static struct spawn_status run_sh(const char *script, const char *const *envp)
{
        struct spawn_child *c = NULL;
        struct spawn_status st;

        assert_int_equal(spawn_sh(&c, script, envp, NULL), 0);
        assert_true(spawn_child_get_pid(c) > 0);
        assert_false(spawn_child_get_status(c, &st));
        assert_int_equal(spawn_child_wait(c, &st), 0);
        /* a second wait returns the same */
        {
                struct spawn_status again;

                assert_int_equal(spawn_child_wait(c, &again), 0);
                assert_int_equal(again.code, st.code);
                assert_int_equal(again.status, st.status);
                assert_true(spawn_child_get_status(c, &again));
                assert_int_equal(spawn_child_kill(c, SIGTERM), 0);
        }
        spawn_child_free(c);
        return st;
}

static void test_exit_status(void **state)
{
        struct spawn_status st;

        (void)state;
        st = run_sh("exit 0", NULL);
        assert_int_equal(st.code, CLD_EXITED);
        assert_int_equal(st.status, 0);
        st = run_sh("exit 3", NULL);
        assert_int_equal(st.code, CLD_EXITED);
        assert_int_equal(st.status, 3);
        st = run_sh("kill -KILL $$", NULL);
        assert_int_equal(st.code, CLD_KILLED);
        assert_int_equal(st.status, SIGKILL);
}

static void test_exec_failed(void **state)
{
        const char *argv[] = { "/nonexistent/binary", NULL };
        const char *rel[] = { "sh", NULL }; /* no $PATH search */
        struct spawn_options o = { .argv = argv, .stdout_fd = -1, .stderr_fd = -1 };
        struct spawn_child *c = (void *)0x1;
        int err = 0;

        (void)state;
        assert_int_equal(spawn_child_new(&c, &o, &err), SPAWN_E_EXEC_FAILED);
        assert_int_equal(err, ENOENT);
        assert_ptr_equal(c, (void *)0x1);
        o.argv = rel;
        assert_int_equal(spawn_child_new(&c, &o, &err), SPAWN_E_EXEC_FAILED);
        assert_int_equal(err, ENOENT);
        {
                char tmp[] = "/tmp/test-spawn-noexec-XXXXXX";
                int fd = mkstemp(tmp); /* mode 0600: not executable, even for root */

                assert_true(fd >= 0);
                close(fd);
                argv[0] = tmp;
                o.argv = argv;
                assert_int_equal(spawn_child_new(&c, &o, &err), SPAWN_E_EXEC_FAILED);
                assert_int_equal(err, EACCES);
                unlink(tmp);
        }
        /* the failed children were reaped */
        assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
        assert_int_equal(errno, ECHILD);
}

static char *slurp(const char *path)
{
        static char buf[65536];
        FILE *f = fopen(path, "r");
        size_t n;

        assert_non_null(f);
        n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = 0;
        fclose(f);
        return buf;
}

static void test_environment_and_fds(void **state)
{
        const char *envp[] = { "FOO=bar baz", "DBUS_STARTER_BUS_TYPE=session", NULL };
        char tmp[] = "/tmp/test-spawn-XXXXXX", script[512], *out;
        struct spawn_status st;
        sigset_t block, old;
        int leak, fd;

        (void)state;
        fd = mkstemp(tmp);
        assert_true(fd >= 0);
        close(fd);
        /* an fd without O_CLOEXEC must not reach the child */
        leak = open("/dev/null", O_RDONLY);
        assert_true(leak > 2);
        /* nor our signal mask */
        sigemptyset(&block);
        sigaddset(&block, SIGTERM);
        sigaddset(&block, SIGCHLD);
        assert_int_equal(sigprocmask(SIG_BLOCK, &block, &old), 0);

        snprintf(script, sizeof(script),
                 "exec > %s; env; echo FDS; ls /proc/$$/fd; "
                 /* builtins only: the shell's own mask, not one it holds around a fork */
                 "while read -r l; do case \"$l\" in SigBlk*) echo \"$l\";; esac; done < /proc/$$/status",
                 tmp);
        st = run_sh(script, envp);
        assert_int_equal(sigprocmask(SIG_SETMASK, &old, NULL), 0);
        close(leak);
        assert_int_equal(st.code, CLD_EXITED);
        assert_int_equal(st.status, 0);

        out = slurp(tmp);
        assert_non_null(strstr(out, "FOO=bar baz\n"));
        assert_non_null(strstr(out, "DBUS_STARTER_BUS_TYPE=session\n"));
        assert_null(strstr(out, "HOME="));
        /* fds of the shell: 0 1 2 only */
        out = strstr(out, "FDS\n");
        assert_non_null(out);
        assert_string_equal(out, "FDS\n0\n1\n2\nSigBlk:\t0000000000000000\n");
        unlink(tmp);
}

static void test_output_fd(void **state)
{
        const char *argv[] = { "/bin/sh", "-c", "echo out; echo err >&2; read x || echo stdin-eof", NULL };
        struct spawn_options o = { .argv = argv, .stdout_fd = -1, .stderr_fd = -1 };
        struct spawn_child *c;
        struct spawn_status st;
        char buf[128] = {};
        int p[2];
        ssize_t n, l;

        (void)state;
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        o.stdout_fd = p[1];
        o.stderr_fd = p[1];
        assert_int_equal(spawn_child_new(&c, &o, NULL), 0);
        close(p[1]);
        for (n = 0; (l = read(p[0], buf + n, sizeof(buf) - 1 - (size_t)n)) > 0; n += l)
                ;
        close(p[0]);
        assert_int_equal(spawn_child_wait(c, &st), 0);
        spawn_child_free(c);
        assert_string_equal(buf, "out\nerr\nstdin-eof\n");
}

static void test_user(void **state)
{
        const char *argv[] = { "/bin/sh", "-c", "test \"$(id -u)\" = 65534 && test \"$(id -G)\" = 65534", NULL };
        struct spawn_options o = { .argv = argv, .user = "nobody", .stdout_fd = -1, .stderr_fd = -1 };
        struct spawn_child *c;
        struct spawn_status st;

        (void)state;
        o.user = "no-such-user-for-bus1";
        assert_int_equal(spawn_child_new(&c, &o, NULL), SPAWN_E_USER_UNKNOWN);
        if (geteuid() != 0) {
                skip(); /* switching needs root */
                return;
        }
        o.user = "nobody";
        assert_int_equal(spawn_child_new(&c, &o, NULL), 0);
        assert_int_equal(spawn_child_wait(c, &st), 0);
        spawn_child_free(c);
        assert_int_equal(st.code, CLD_EXITED);
        assert_int_equal(st.status, 0);
}

struct exits {
        int n;
        struct spawn_status last;
};

static void on_exit_cb(struct spawn_child *child, const struct spawn_status *st, void *userdata)
{
        struct exits *e = userdata;
        struct spawn_status again;

        assert_true(spawn_child_get_status(child, &again));
        assert_int_equal(again.code, st->code);
        ++e->n;
        e->last = *st;
}

static void test_watch(void **state)
{
        struct spawn_child *c, *d;
        struct exits e = {};
        struct loop *event;
        int i;

        (void)state;
        assert_int_equal(loop_new(&event), 0);

        /* a crash (SIGSEGV, as test-segfault does) */
        assert_int_equal(spawn_sh(&c, "kill -SEGV $$", NULL, NULL), 0);
        assert_int_equal(spawn_child_watch(c, event, on_exit_cb, &e), 0);
        assert_int_equal(spawn_child_watch(c, event, on_exit_cb, &e), -EBUSY);
        for (i = 0; i < 500 && !e.n; ++i)
                assert_true(loop_run_once(event, 10000) >= 0);
        assert_int_equal(e.n, 1);
        assert_true(e.last.code == CLD_KILLED || e.last.code == CLD_DUMPED);
        assert_int_equal(e.last.status, SIGSEGV);
        assert_int_equal(spawn_child_watch(c, event, on_exit_cb, &e), -ECHILD);
        spawn_child_free(c);

        /* killed through the pidfd while watched */
        assert_int_equal(spawn_sh(&d, "exec sleep 30", NULL, NULL), 0);
        assert_int_equal(spawn_child_watch(d, event, on_exit_cb, &e), 0);
        assert_int_equal(spawn_child_kill(d, SIGTERM), 0);
        for (i = 0; i < 500 && e.n < 2; ++i)
                assert_true(loop_run_once(event, 10000) >= 0);
        assert_int_equal(e.n, 2);
        assert_int_equal(e.last.code, CLD_KILLED);
        assert_int_equal(e.last.status, SIGTERM);
        spawn_child_free(d);

        /* a blocking wait disables the watch */
        assert_int_equal(spawn_sh(&d, "exit 7", NULL, NULL), 0);
        assert_int_equal(spawn_child_watch(d, event, on_exit_cb, &e), 0);
        {
                struct spawn_status st;

                assert_int_equal(spawn_child_wait(d, &st), 0);
                assert_int_equal(st.status, 7);
        }
        for (i = 0; i < 5; ++i)
                assert_true(loop_run_once(event, 1000) >= 0);
        assert_int_equal(e.n, 2);
        spawn_child_free(d);
        loop_free(event);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_split),
                cmocka_unit_test(test_exit_status),
                cmocka_unit_test(test_exec_failed),
                cmocka_unit_test(test_environment_and_fds),
                cmocka_unit_test(test_output_fd),
                cmocka_unit_test(test_user),
                cmocka_unit_test(test_watch),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
