/*
 * Tests of dbus-proxy/listener.c: real sockets for path=, tmpdir=, dir=,
 * abstract=, runtime=yes, alternatives, several listeners, adopted fds and
 * systemd socket activation; printed addresses in dbus-daemon's format and
 * accepted by libdbus; cleanup of socket files.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <dbus/dbus.h>

#include "dbus-proxy/listener.h"

static char tmpdir[64];

static int setup_dir(void **state)
{
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/bus1-test-listener-XXXXXX");
        if (!mkdtemp(tmpdir))
                return -1;
        return 0;
}

static int teardown_dir(void **state)
{
        return rmdir(tmpdir);
}

__attribute__((format(printf, 1, 2)))
static struct address_list *parse(const char *fmt, ...)
{
        struct address_list *l = NULL;
        char text[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        assert_int_equal(address_list_parse(&l, text), 0);
        return l;
}

static void assert_matches(const char *s, const char *pattern)
{
        regex_t re;

        assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
        if (regexec(&re, s, 0, NULL, 0) != 0)
                fail_msg("\"%s\" does not match /%s/", s, pattern);
        regfree(&re);
}

static bool exists(const char *path)
{
        struct stat st;

        return lstat(path, &st) == 0;
}

/* Connect to a path or abstract name and check the listener accepts it. */
static void check_connect(struct listener *l, const char *name, bool abstract)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct pollfd p = { .fd = l->fd, .events = POLLIN };
        socklen_t len;
        int c, a = -1, flags;

        assert_int_equal(listener_accept(l, &a), LISTENER_E_AGAIN);
        assert_int_equal(a, -1);

        if (abstract) {
                memcpy(sa.sun_path + 1, name, strlen(name));
                len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
        } else {
                strcpy(sa.sun_path, name);
                len = sizeof(sa);
        }
        c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(c >= 0);
        assert_int_equal(connect(c, (struct sockaddr *)&sa, len), 0);
        assert_int_equal(poll(&p, 1, 5000), 1);
        assert_int_equal(listener_accept(l, &a), 0);
        assert_true(a >= 0);
        flags = fcntl(a, F_GETFL);
        assert_true(flags & O_NONBLOCK);
        assert_true(fcntl(a, F_GETFD) & FD_CLOEXEC);
        assert_int_equal(write(c, "x", 1), 1);
        {
                char b;

                assert_int_equal(read(a, &b, 1), 1);
                assert_int_equal(b, 'x');
        }
        close(a);
        close(c);
}

static void check_listening_flags(struct listener *l)
{
        assert_true(fcntl(l->fd, F_GETFL) & O_NONBLOCK);
        assert_true(fcntl(l->fd, F_GETFD) & FD_CLOEXEC);
        assert_true(guid_is_valid(l->guid));
}

static void test_path(void **state)
{
        struct address_list *a;
        struct listener *l = NULL;
        char path[128], expected[256];

        snprintf(path, sizeof(path), "%s/sock", tmpdir);
        a = parse("unix:path=%s", path);
        assert_int_equal(listener_new(&l, a), 0);
        check_listening_flags(l);
        snprintf(expected, sizeof(expected), "unix:path=%s,guid=%s", path, l->guid);
        assert_string_equal(l->address, expected);
        assert_true(exists(path));
        {
                struct stat st;

                assert_int_equal(stat(path, &st), 0);
                assert_true(S_ISSOCK(st.st_mode));
                assert_int_equal(st.st_mode & 07777, 0777);
        }
        check_connect(l, path, false);

        /* a stale socket (the listener still holds it here) is replaced */
        {
                struct listener *l2 = NULL;

                assert_int_equal(listener_new(&l2, a), 0);
                assert_string_not_equal(l2->guid, l->guid);
                check_connect(l2, path, false);
                listener_free(l2);
                assert_false(exists(path));
        }
        listener_free(l);
        assert_false(exists(path));
        address_list_free(a);

        /* a file that is not a socket is never removed */
        {
                int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);

                assert_true(fd >= 0);
                close(fd);
                a = parse("unix:path=%s", path);
                assert_int_equal(listener_new(&l, a), -EADDRINUSE);
                assert_true(exists(path));
                unlink(path);
                address_list_free(a);
        }
}

static void test_path_escaped(void **state)
{
        struct address_list *a;
        struct listener *l = NULL;
        char path[128], expected[256];

        snprintf(path, sizeof(path), "%s/a,b c~", tmpdir);
        a = parse("unix:path=%s/a%%2cb%%20c%%7E", tmpdir);
        assert_int_equal(listener_new(&l, a), 0);
        snprintf(expected, sizeof(expected), "unix:path=%s/a%%2cb%%20c%%7e,guid=%s", tmpdir, l->guid);
        assert_string_equal(l->address, expected);
        assert_true(exists(path));
        check_connect(l, path, false);
        listener_free(l);
        assert_false(exists(path));
        address_list_free(a);
}

static void test_tmpdir_dir(void **state)
{
        static const char *const keys[] = { "tmpdir", "dir" };

        for (size_t k = 0; k < 2; ++k) {
                struct address_list *a = parse("unix:%s=%s", keys[k], tmpdir);
                struct listener *l = NULL, *l2 = NULL;
                char pattern[256], path[128];

                assert_int_equal(listener_new(&l, a), 0);
                assert_int_equal(listener_new(&l2, a), 0);
                check_listening_flags(l);
                snprintf(pattern, sizeof(pattern),
                         "^unix:path=%s/dbus-[A-Za-z0-9]{10},guid=[0-9a-f]{32}$", tmpdir);
                assert_matches(l->address, pattern);
                assert_matches(l2->address, pattern);
                assert_string_not_equal(l->address, l2->address);
                assert_non_null(l->unlink_path);
                strcpy(path, l->unlink_path);
                assert_true(exists(path));
                check_connect(l, path, false);
                listener_free(l);
                listener_free(l2);
                assert_false(exists(path));
                address_list_free(a);
        }

        /* a directory that does not exist */
        {
                struct address_list *a = parse("unix:dir=%s/nonexistent", tmpdir);
                struct listener *l = NULL;

                assert_int_equal(listener_new(&l, a), -ENOENT);
                assert_null(l);
                address_list_free(a);
        }
}

static void test_abstract(void **state)
{
        struct address_list *a;
        struct listener *l = NULL, *l2 = NULL;
        char name[64], expected[256];

        snprintf(name, sizeof(name), "bus1-test/%d x,y", (int)getpid());
        a = parse("unix:abstract=bus1-test/%d%%20x%%2cy", (int)getpid());
        assert_int_equal(listener_new(&l, a), 0);
        check_listening_flags(l);
        snprintf(expected, sizeof(expected), "unix:abstract=bus1-test/%d%%20x%%2cy,guid=%s",
                 (int)getpid(), l->guid);
        assert_string_equal(l->address, expected);
        assert_null(l->unlink_path);
        check_connect(l, name, true);
        /* taken */
        assert_int_equal(listener_new(&l2, a), -EADDRINUSE);
        listener_free(l);
        /* free again: the name is released with the socket */
        assert_int_equal(listener_new(&l2, a), 0);
        listener_free(l2);
        address_list_free(a);
}

static void test_runtime(void **state)
{
        struct address_list *a = parse("unix:runtime=yes");
        struct listener *l = NULL;
        char *old = getenv("XDG_RUNTIME_DIR") ? strdup(getenv("XDG_RUNTIME_DIR")) : NULL;
        char path[128], expected[256];

        unsetenv("XDG_RUNTIME_DIR");
        assert_int_equal(listener_new(&l, a), LISTENER_E_NO_RUNTIME_DIR);
        setenv("XDG_RUNTIME_DIR", "relative", 1);
        assert_int_equal(listener_new(&l, a), LISTENER_E_NO_RUNTIME_DIR);

        setenv("XDG_RUNTIME_DIR", tmpdir, 1);
        snprintf(path, sizeof(path), "%s/bus", tmpdir);
        assert_int_equal(listener_new(&l, a), 0);
        snprintf(expected, sizeof(expected), "unix:path=%s,guid=%s", path, l->guid);
        assert_string_equal(l->address, expected);
        check_connect(l, path, false);
        listener_free(l);
        assert_false(exists(path));

        if (old)
                setenv("XDG_RUNTIME_DIR", old, 1);
        else
                unsetenv("XDG_RUNTIME_DIR");
        free(old);
        address_list_free(a);
}

static void test_alternatives(void **state)
{
        struct address_list *a;
        struct listener *l = NULL;
        char path[128];

        /* the first alternative fails, the second is used */
        snprintf(path, sizeof(path), "%s/alt", tmpdir);
        a = parse("unix:dir=%s/nonexistent;unix:path=%s", tmpdir, path);
        assert_int_equal(listener_new(&l, a), 0);
        assert_int_equal(strncmp(l->address, "unix:path=", 10), 0);
        assert_non_null(strstr(l->address, "/alt,guid="));
        listener_free(l);
        address_list_free(a);

        /* only the first working alternative is used */
        a = parse("unix:path=%s;unix:abstract=bus1-test-alt-%d", path, (int)getpid());
        assert_int_equal(listener_new(&l, a), 0);
        assert_non_null(strstr(l->address, "/alt,guid="));
        listener_free(l);
        address_list_free(a);

        /* all fail: the last error */
        a = parse("unix:dir=%s/nonexistent;unix:runtime=yes", tmpdir);
        {
                char *old = getenv("XDG_RUNTIME_DIR") ? strdup(getenv("XDG_RUNTIME_DIR")) : NULL;

                unsetenv("XDG_RUNTIME_DIR");
                assert_int_equal(listener_new(&l, a), LISTENER_E_NO_RUNTIME_DIR);
                if (old)
                        setenv("XDG_RUNTIME_DIR", old, 1);
                free(old);
        }
        address_list_free(a);
}

static void test_set(void **state)
{
        struct listener_set *set = NULL;
        struct address_list *a1, *a2, *bad;
        char path[128], *printed = NULL, expected[512];

        snprintf(path, sizeof(path), "%s/p1", tmpdir);
        a1 = parse("unix:path=%s", path);
        a2 = parse("unix:abstract=bus1-test-set-%d", (int)getpid());
        bad = parse("unix:dir=%s/nonexistent", tmpdir);
        assert_int_equal(listener_set_new(&set), 0);
        assert_int_equal(listener_set_add(set, a1), 0);
        assert_int_equal(listener_set_add(set, bad), -ENOENT);
        assert_int_equal(set->n, 1);
        assert_int_equal(listener_set_add(set, a2), 0);
        assert_int_equal(set->n, 2);
        assert_string_not_equal(set->listeners[0]->guid, set->listeners[1]->guid);

        /* dbus-daemon order: the last <listen> first */
        assert_int_equal(listener_set_address(set, &printed), 0);
        snprintf(expected, sizeof(expected), "%s;%s", set->listeners[1]->address,
                 set->listeners[0]->address);
        assert_string_equal(printed, expected);
        free(printed);

        check_connect(set->listeners[0], path, false);
        listener_set_free(set);
        assert_false(exists(path));
        assert_null(listener_set_free(NULL));
        assert_null(listener_free(NULL));
        address_list_free(a1);
        address_list_free(a2);
        address_list_free(bad);
}

static int make_listening(const char *path, bool do_listen)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);

        assert_true(fd >= 0);
        strcpy(sa.sun_path, path);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        if (do_listen)
                assert_int_equal(listen(fd, 4), 0);
        return fd;
}

static void test_add_fds(void **state)
{
        struct listener_set *set = NULL;
        char p1[128], p2[128], p3[128], expected[256];
        int fds[2], bad[2], pipefd[2], unbound;

        snprintf(p1, sizeof(p1), "%s/fd1", tmpdir);
        snprintf(p2, sizeof(p2), "%s/fd2", tmpdir);
        snprintf(p3, sizeof(p3), "%s/fd3", tmpdir);
        fds[0] = make_listening(p1, true);
        fds[1] = make_listening(p2, true);
        assert_int_equal(listener_set_new(&set), 0);

        /* not a socket, not bound, not listening: refused, fds stay the caller's */
        assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
        bad[0] = fds[0];
        bad[1] = pipefd[0];
        assert_int_equal(listener_set_add_fds(set, bad, 2), LISTENER_E_BAD_FD);
        assert_int_equal(set->n, 0);
        assert_true(fcntl(fds[0], F_GETFD) >= 0);
        assert_true(fcntl(pipefd[0], F_GETFD) >= 0);
        unbound = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_int_equal(listener_set_add_fds(set, &unbound, 1), LISTENER_E_BAD_FD);
        close(unbound);
        bad[0] = make_listening(p3, false);
        assert_int_equal(listener_set_add_fds(set, bad, 1), LISTENER_E_BAD_FD);
        close(bad[0]);
        unlink(p3);
        bad[0] = socket(AF_UNIX, SOCK_DGRAM, 0);
        assert_int_equal(listener_set_add_fds(set, bad, 1), LISTENER_E_BAD_FD);
        close(bad[0]);
        assert_int_equal(listener_set_add_fds(set, fds, 0), -EINVAL);
        close(pipefd[0]);
        close(pipefd[1]);

        assert_int_equal(listener_set_add_fds(set, fds, 2), 0);
        assert_int_equal(set->n, 2);
        check_listening_flags(set->listeners[0]);
        snprintf(expected, sizeof(expected), "unix:path=%s,guid=%s", p1, set->listeners[0]->guid);
        assert_string_equal(set->listeners[0]->address, expected);
        assert_null(set->listeners[0]->unlink_path);
        check_connect(set->listeners[1], p2, false);
        listener_set_free(set);
        /* adopted sockets' files are not ours to remove */
        assert_true(exists(p1));
        assert_true(exists(p2));
        unlink(p1);
        unlink(p2);
}

/*
 * systemd socket activation: in a child (it moves a socket to fd 3 and sets
 * LISTEN_FDS/LISTEN_PID). The child reports through its exit code.
 */
static int child_systemd(void)
{
        struct address_list *a = NULL;
        struct listener_set *set = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char name[64], *printed = NULL, pid[32];
        int fd;

        snprintf(name, sizeof(name), "bus1-test-systemd-%d", (int)getpid());
        memcpy(sa.sun_path + 1, name, strlen(name));
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa,
                           (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name))) < 0 ||
            listen(fd, 4) < 0)
                return 10;
        if (dup2(fd, 3) != 3)
                return 11;
        if (fd != 3)
                close(fd);
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        setenv("LISTEN_PID", pid, 1);
        setenv("LISTEN_FDS", "1", 1);

        if (address_list_parse(&a, "systemd:") != 0)
                return 12;
        if (listener_set_new(&set) != 0)
                return 13;
        if (listener_set_add(set, a) != 0)
                return 14;
        if (set->n != 1 || set->listeners[0]->fd != 3)
                return 15;
        if (listener_set_address(set, &printed) != 0)
                return 16;
        if (strncmp(printed, "unix:abstract=bus1-test-systemd-", 32) || !strstr(printed, ",guid="))
                return 17;
        /* the environment is consumed: a second systemd: finds nothing */
        if (getenv("LISTEN_FDS"))
                return 18;
        if (listener_set_add(set, a) != LISTENER_E_NOT_ACTIVATED)
                return 19;
        if (listener_set_add_systemd(set) != LISTENER_E_NOT_ACTIVATED || set->n != 1)
                return 20;

        /* two sockets through listener_set_add_systemd() directly */
        listener_set_free(set); /* closes fd 3 */
        set = NULL;
        for (int k = 0; k < 2; ++k) {
                snprintf(name, sizeof(name), "bus1-test-systemd%d-%d", k, (int)getpid());
                memset(sa.sun_path, 0, sizeof(sa.sun_path));
                memcpy(sa.sun_path + 1, name, strlen(name));
                fd = socket(AF_UNIX, SOCK_STREAM, 0);
                if (fd < 0 || bind(fd, (struct sockaddr *)&sa,
                                   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name))) < 0 ||
                    listen(fd, 4) < 0)
                        return 21;
                if (fd != 3 + k) {
                        if (dup2(fd, 3 + k) != 3 + k)
                                return 22;
                        close(fd);
                }
        }
        setenv("LISTEN_PID", pid, 1);
        setenv("LISTEN_FDS", "2", 1);
        if (listener_set_new(&set) != 0 || listener_set_add_systemd(set) != 0 || set->n != 2)
                return 23;
        if (!strstr(set->listeners[0]->address, "unix:abstract=bus1-test-systemd0-") ||
            !strstr(set->listeners[1]->address, "unix:abstract=bus1-test-systemd1-"))
                return 24;
        free(printed);
        listener_set_free(set);
        address_list_free(a);
        return 0;
}

static void test_systemd(void **state)
{
        struct address_list *a = NULL;
        struct listener_set *set = NULL;
        pid_t pid;
        int status;

        /* not activated (LISTEN_PID of another process) */
        setenv("LISTEN_PID", "1", 1);
        setenv("LISTEN_FDS", "1", 1);
        assert_int_equal(address_list_parse(&a, "systemd:"), 0);
        assert_int_equal(listener_set_new(&set), 0);
        assert_int_equal(listener_set_add(set, a), LISTENER_E_NOT_ACTIVATED);
        assert_int_equal(set->n, 0);
        listener_set_free(set);
        address_list_free(a);
        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDS");

        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                _exit(child_systemd());
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

/* libdbus accepts the printed address and reaches the listener with it. */
static void test_libdbus_address(void **state)
{
        struct listener_set *set = NULL;
        struct address_list *a1, *a2;
        char *printed = NULL;

        a1 = parse("unix:tmpdir=%s", tmpdir);
        a2 = parse("unix:abstract=bus1-test-libdbus-%d%%20x", (int)getpid());
        assert_int_equal(listener_set_new(&set), 0);
        assert_int_equal(listener_set_add(set, a1), 0);
        assert_int_equal(listener_set_add(set, a2), 0);
        assert_int_equal(listener_set_address(set, &printed), 0);

        for (size_t i = 0; i < set->n; ++i) {
                /* connect to each listener's own address */
                struct pollfd p = { .fd = set->listeners[i]->fd, .events = POLLIN };
                pid_t pid = fork();
                int status, fd = -1;

                assert_true(pid >= 0);
                if (pid == 0) {
                        DBusError err;
                        DBusConnection *c;

                        prctl(PR_SET_PDEATHSIG, SIGKILL);
                        dbus_error_init(&err);
                        c = dbus_connection_open_private(i == 0 ? set->listeners[i]->address
                                                                : printed, &err);
                        if (!c)
                                _exit(1);
                        dbus_connection_close(c);
                        dbus_connection_unref(c);
                        dbus_shutdown();
                        _exit(0);
                }
                assert_int_equal(poll(&p, 1, 10000), 1);
                assert_int_equal(listener_accept(set->listeners[i], &fd), 0);
                assert_int_equal(waitpid(pid, &status, 0), pid);
                assert_true(WIFEXITED(status));
                assert_int_equal(WEXITSTATUS(status), 0);
                close(fd);
        }
        free(printed);
        listener_set_free(set);
        address_list_free(a1);
        address_list_free(a2);
}

/*
 * Printed addresses compared with dbus-daemon's ($DBUS_DAEMON): the same
 * <listen> elements give the same string once the guids are removed (the
 * random names of tmpdir= only have to have the same shape).
 */

/* Remove every ",guid=<32 hex>" from @s in place. */
static void strip_guids(char *s)
{
        char *p;

        while ((p = strstr(s, ",guid=")))
                memmove(p, p + 6 + GUID_LEN, strlen(p + 6 + GUID_LEN) + 1);
}

static void daemon_address(const char *daemon, const char *listens, char *out, size_t n)
{
        char conf[128];
        int pfd[2], status;
        ssize_t l;
        pid_t pid;
        FILE *f;

        snprintf(conf, sizeof(conf), "%s/bus.conf", tmpdir);
        f = fopen(conf, "w");
        assert_non_null(f);
        fprintf(f, "<busconfig><type>session</type>%s<policy context=\"default\">"
                   "<allow send_destination=\"*\"/><allow own=\"*\"/></policy></busconfig>\n", listens);
        fclose(f);
        assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int devnull = open("/dev/null", O_RDWR);

                prctl(PR_SET_PDEATHSIG, SIGKILL);
                dup2(pfd[1], 3);
                if (devnull >= 0)
                        dup2(devnull, 2);
                execl(daemon, daemon, "--nofork", "--print-address=3", "--config-file", conf, (char *)NULL);
                _exit(127);
        }
        close(pfd[1]);
        l = read(pfd[0], out, n - 1);
        close(pfd[0]);
        assert_true(l > 1);
        out[l - 1] = 0; /* drop the newline */
        kill(pid, SIGTERM);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        unlink(conf);

        /* a SIGTERM before its handlers are set leaves its sockets behind */
        for (char *entry = out; entry && *entry;) {
                char *semi = strchr(entry, ';');
                struct address_list *a = NULL;

                if (semi)
                        *semi = 0;
                if (address_list_parse(&a, entry) == 0 && a->entries[0].kind == ADDRESS_UNIX_PATH)
                        unlink(a->entries[0].value);
                address_list_free(a);
                if (semi)
                        *semi = ';';
                entry = semi ? semi + 1 : NULL;
        }
}

static void our_address(const char *const *addresses, size_t n, char *out, size_t n_out)
{
        struct listener_set *set = NULL;
        char *printed = NULL;

        assert_int_equal(listener_set_new(&set), 0);
        for (size_t i = 0; i < n; ++i) {
                struct address_list *a = parse("%s", addresses[i]);

                assert_int_equal(listener_set_add(set, a), 0);
                address_list_free(a);
        }
        assert_int_equal(listener_set_address(set, &printed), 0);
        snprintf(out, n_out, "%s", printed);
        free(printed);
        listener_set_free(set);
}

static void test_compare_dbus_daemon(void **state)
{
        const char *daemon = getenv("DBUS_DAEMON");
        char *old_xdg = getenv("XDG_RUNTIME_DIR") ? strdup(getenv("XDG_RUNTIME_DIR")) : NULL;
        char a1[256], a2[256], a3[256], listens[1024], theirs[1024], ours[1024], pattern[256];
        const char *v[3];

        if (!daemon || access(daemon, X_OK) != 0) {
                print_message("dbus-daemon not found ($DBUS_DAEMON unset or not executable)\n");
                skip();
        }
        setenv("XDG_RUNTIME_DIR", tmpdir, 1);

        snprintf(a1, sizeof(a1), "unix:path=%s/p%%2cx%%20y", tmpdir);
        snprintf(a2, sizeof(a2), "unix:abstract=bus1-test-cmp-%d%%7e", (int)getpid());
        snprintf(a3, sizeof(a3), "unix:runtime=yes");
        /* each alone, all three at once, and ';' alternatives */
        for (int k = 0; k < 5; ++k) {
                size_t n = 0;

                if (k == 0 || k == 3)
                        v[n++] = a1;
                if (k == 1 || k == 3)
                        v[n++] = a2;
                if (k == 2 || k == 3)
                        v[n++] = a3;
                listens[0] = 0;
                if (k == 4) {
                        snprintf(listens, sizeof(listens), "<listen>%s;%s</listen>", a2, a1);
                        snprintf(theirs, sizeof(theirs), "%s;%s", a2, a1);
                        v[n++] = theirs;
                } else {
                        for (size_t i = 0; i < n; ++i)
                                snprintf(listens + strlen(listens), sizeof(listens) - strlen(listens),
                                         "<listen>%s</listen>", v[i]);
                }
                our_address(v, n, ours, sizeof(ours));
                daemon_address(daemon, listens, theirs, sizeof(theirs));
                strip_guids(ours);
                strip_guids(theirs);
                if (strcmp(ours, theirs))
                        fail_msg("%s: we print \"%s\", dbus-daemon \"%s\"", listens, ours, theirs);
        }

        /* tmpdir=: random names of the same shape */
        snprintf(a1, sizeof(a1), "unix:tmpdir=%s", tmpdir);
        snprintf(listens, sizeof(listens), "<listen>%s</listen>", a1);
        v[0] = a1;
        our_address(v, 1, ours, sizeof(ours));
        daemon_address(daemon, listens, theirs, sizeof(theirs));
        snprintf(pattern, sizeof(pattern), "^unix:path=%s/dbus-[A-Za-z0-9]{10},guid=[0-9a-f]{32}$", tmpdir);
        assert_matches(ours, pattern);
        assert_matches(theirs, pattern);

        if (old_xdg)
                setenv("XDG_RUNTIME_DIR", old_xdg, 1);
        else
                unsetenv("XDG_RUNTIME_DIR");
        free(old_xdg);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_path),
                cmocka_unit_test(test_path_escaped),
                cmocka_unit_test(test_tmpdir_dir),
                cmocka_unit_test(test_abstract),
                cmocka_unit_test(test_runtime),
                cmocka_unit_test(test_alternatives),
                cmocka_unit_test(test_set),
                cmocka_unit_test(test_add_fds),
                cmocka_unit_test(test_systemd),
                cmocka_unit_test(test_libdbus_address),
                cmocka_unit_test(test_compare_dbus_daemon),
        };

        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
