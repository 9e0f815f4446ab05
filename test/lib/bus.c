/*
 * A private message bus for one integration test; see bus.h.
 *
 * The broker is started with fork()+execv(). The child asks for SIGKILL when
 * its parent dies and then re-checks getppid(): the parent may have died
 * between fork() and prctl(), in which case the signal would never come.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test/lib/bus.h"
#include "util/cleanup.h"

#define ADDRESS_MAX 4096
#define BROKER_ADDRESS_FD 3
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

struct test_bus {
        char *broker;
        char *dir;
        char *config_path;
        char *address;
        unsigned int stop_timeout_ms;
        pid_t pid;
};

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int test_bus_broker_select(char **pathp, const char *selection)
{
        const char *e;
        char *path;

        if (!selection)
                selection = getenv("BUS1_TEST_BROKER");
        if (selection && *selection) {
                if (!strcmp(selection, "dbus-daemon")) {
                        e = getenv("DBUS_DAEMON");
                        path = strdup(e && *e ? e : "/usr/bin/dbus-daemon");
                } else {
                        path = strdup(selection);
                }
        } else if ((e = getenv("BUS1_DBUS")) && *e) {
                path = strdup(e);
        } else {
                e = getenv("top_builddir");
                if (asprintf(&path, "%s/bus1-dbus", e && *e ? e : ".") < 0)
                        path = NULL;
        }
        if (!path)
                return -ENOMEM;

        *pathp = path;
        return 0;
}

void test_bus_print_skip_reason(const struct test_bus_options *options)
{
        char *path = NULL;

        if (test_bus_broker_select(&path, options ? options->broker : NULL) < 0)
                printf("# SKIP: broker not found (out of memory resolving it)\n");
        else
                printf("# SKIP: broker %s not found or not executable "
                       "(set BUS1_TEST_BROKER=dbus-daemon to use the reference daemon)\n",
                       path);
        fflush(stdout);
        free(path);
}

/* Append @s to the stream with XML special characters escaped. */
static void fputs_xml(const char *s, FILE *f)
{
        for (; *s; ++s) {
                switch (*s) {
                case '&': fputs("&amp;", f); break;
                case '<': fputs("&lt;", f); break;
                case '>': fputs("&gt;", f); break;
                case '"': fputs("&quot;", f); break;
                case '\'': fputs("&apos;", f); break;
                default: fputc(*s, f); break;
                }
        }
}

static int bus_write_config(struct test_bus *bus, const struct test_bus_options *options)
{
        FILE *f;
        int r;

        /* the path goes into a D-Bus address unescaped: allow only the safe set */
        if (bus->dir[strspn(bus->dir, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_/.")])
                return -EINVAL;

        f = fopen(bus->config_path, "wxe");
        if (!f)
                return -errno;

        fputs("<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
              " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
              "<busconfig>\n"
              "  <type>session</type>\n"
              "  <listen>unix:path=", f);
        fputs_xml(bus->dir, f);
        fputs("/bus</listen>\n"
              "  <auth>EXTERNAL</auth>\n"
              "  <policy context=\"default\">\n"
              "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
              "    <allow eavesdrop=\"true\"/>\n"
              "    <allow own=\"*\"/>\n"
              "  </policy>\n", f);
        if (options && options->service_dir) {
                fputs("  <servicedir>", f);
                fputs_xml(options->service_dir, f);
                fputs("</servicedir>\n", f);
        }
        if (options && options->extra_config) {
                fputs(options->extra_config, f);
                fputc('\n', f);
        }
        fputs("</busconfig>\n", f);

        r = ferror(f) ? -EIO : 0;
        if (fclose(f) < 0 && r == 0)
                r = -errno;
        return r;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)ftw;
        if (flag == FTW_DP)
                rmdir(path);
        else
                unlink(path);
        return 0;
}

/* Child side of the spawn: never returns. */
static _Noreturn void bus_exec_broker(struct test_bus *bus, char **argv, int address_fd,
                                      pid_t parent)
{
        sigset_t mask;
        int null_fd;

        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(127);

        /* a test may block or ignore signals; the child starts clean */
        sigemptyset(&mask);
        if (sigprocmask(SIG_SETMASK, &mask, NULL) < 0)
                _exit(127);
        for (int sig = 1; sig < _NSIG; ++sig)
                if (sig != SIGKILL && sig != SIGSTOP)
                        signal(sig, SIG_DFL);

        /* stdin from /dev/null; stdout to our stderr, so TAP stdout stays clean */
        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 ||
            dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
                _exit(127);
        if (address_fd == BROKER_ADDRESS_FD) {
                if (fcntl(address_fd, F_SETFD, 0) < 0)
                        _exit(127);
        } else if (dup2(address_fd, BROKER_ADDRESS_FD) < 0) {
                _exit(127);
        }

        execv(bus->broker, argv);
        fprintf(stderr, "test_bus: cannot execute %s: %m\n", bus->broker);
        _exit(127);
}

/*
 * Read the address line from @fd until newline, EOF or the deadline.
 * Returns 0, TEST_BUS_E_EXITED (EOF before a newline) or TEST_BUS_E_TIMEOUT.
 */
static int bus_read_address(struct test_bus *bus, int fd, unsigned int timeout_ms)
{
        int64_t deadline = now_ms() + timeout_ms;
        char buf[ADDRESS_MAX];
        size_t len = 0;
        char *nl;
        ssize_t n;
        int r;

        for (;;) {
                int64_t left = deadline - now_ms();

                if (left <= 0)
                        return TEST_BUS_E_TIMEOUT;
                r = poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, (int)left);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (r == 0)
                        return TEST_BUS_E_TIMEOUT;

                n = read(fd, buf + len, sizeof(buf) - 1 - len);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return TEST_BUS_E_EXITED;
                len += (size_t)n;
                buf[len] = 0;

                nl = strchr(buf, '\n');
                if (nl) {
                        *nl = 0;
                        if (!*buf)
                                return TEST_BUS_E_EXITED;
                        bus->address = strdup(buf);
                        return bus->address ? 0 : -ENOMEM;
                }
                if (len >= sizeof(buf) - 1)
                        return -E2BIG;
        }
}

int test_bus_stop(struct test_bus *bus, int *statusp)
{
        int64_t deadline;
        int status = 0;
        pid_t r;

        if (bus->pid <= 0)
                return -ECHILD;

        kill(bus->pid, SIGTERM);
        deadline = now_ms() + bus->stop_timeout_ms;
        for (;;) {
                r = waitpid(bus->pid, &status, WNOHANG);
                if (r == bus->pid)
                        break;
                if (r < 0 && errno != EINTR) {
                        bus->pid = 0;
                        return -errno;
                }
                if (now_ms() >= deadline) {
                        kill(bus->pid, SIGKILL);
                        while (waitpid(bus->pid, &status, 0) < 0 && errno == EINTR)
                                ;
                        break;
                }
                usleep(10 * 1000);
        }

        bus->pid = 0;
        if (statusp)
                *statusp = status;
        return 0;
}

struct test_bus *test_bus_free(struct test_bus *bus)
{
        if (!bus)
                return NULL;

        if (bus->pid > 0)
                test_bus_stop(bus, NULL);
        if (bus->dir)
                nftw(bus->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);

        free(bus->address);
        free(bus->config_path);
        free(bus->dir);
        free(bus->broker);
        free(bus);
        return NULL;
}

DEFINE_CLEANUP_FUNC(struct test_bus *, test_bus_free);

int test_bus_new(struct test_bus **busp, const struct test_bus_options *options)
{
        _cleanup_(test_bus_freep) struct test_bus *bus = NULL;
        _cleanup_free_ char *dir = NULL, *arg_config = NULL;
        _cleanup_close_ int read_fd = -1, write_fd = -1;
        unsigned int timeout_ms = TEST_BUS_START_TIMEOUT_MS;
        const char *tmp = getenv("TMPDIR");
        int pipefd[2];
        pid_t parent;
        int r;

        if (options && options->start_timeout_ms)
                timeout_ms = options->start_timeout_ms;

        bus = calloc(1, sizeof(*bus));
        if (!bus)
                return -ENOMEM;
        bus->stop_timeout_ms = TEST_BUS_STOP_TIMEOUT_MS;
        if (options && options->stop_timeout_ms)
                bus->stop_timeout_ms = options->stop_timeout_ms;

        r = test_bus_broker_select(&bus->broker, options ? options->broker : NULL);
        if (r < 0)
                return r;
        if (access(bus->broker, X_OK) < 0)
                return TEST_BUS_E_NO_BROKER;

        if (asprintf(&dir, "%s/bus1-test-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0) {
                dir = NULL;
                return -ENOMEM;
        }
        if (!mkdtemp(dir))
                return -errno;
        bus->dir = steal_ptr(dir);

        if (asprintf(&bus->config_path, "%s/bus.conf", bus->dir) < 0) {
                bus->config_path = NULL;
                return -ENOMEM;
        }
        r = bus_write_config(bus, options);
        if (r < 0)
                return r;

        /* built before fork(): the child only execs */
        if (asprintf(&arg_config, "--config-file=%s", bus->config_path) < 0) {
                arg_config = NULL;
                return -ENOMEM;
        }
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        read_fd = pipefd[0];
        write_fd = pipefd[1];

        fflush(stdout);
        fflush(stderr);
        parent = getpid();
        bus->pid = fork();
        if (bus->pid < 0) {
                bus->pid = 0;
                return -errno;
        }
        if (bus->pid == 0) {
                close(steal_fd(read_fd));
                bus_exec_broker(bus, (char *[]){ bus->broker, (char *)"--nofork",
                                                 (char *)"--print-address=" STRINGIFY(BROKER_ADDRESS_FD),
                                                 arg_config, NULL },
                                write_fd, parent);
        }
        close(steal_fd(write_fd));

        /* on failure the cleanup of @bus stops and reaps the broker */
        r = bus_read_address(bus, read_fd, timeout_ms);
        if (r != 0) {
                if (r == TEST_BUS_E_TIMEOUT)
                        kill(bus->pid, SIGKILL);
                return r;
        }

        *busp = steal_ptr(bus);
        return 0;
}

const char *test_bus_address(struct test_bus *bus)
{
        return bus->address;
}

pid_t test_bus_pid(struct test_bus *bus)
{
        return bus->pid;
}

const char *test_bus_broker(struct test_bus *bus)
{
        return bus->broker;
}

const char *test_bus_dir(struct test_bus *bus)
{
        return bus->dir;
}

bool test_bus_is_reference(struct test_bus *bus)
{
        const char *base = strrchr(bus->broker, '/');

        base = base ? base + 1 : bus->broker;
        return !strcmp(base, "dbus-daemon");
}
