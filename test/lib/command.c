/*
 * Run a command-line client against a test bus; see command.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test/lib/command.h"
#include "util/cleanup.h"

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static _Noreturn void command_exec(const char *address, const char *const *argv,
                                   int out_fd, pid_t parent)
{
        sigset_t mask;
        int null_fd;

        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(127);

        /* own process group, so a timeout takes down what it started */
        if (setpgid(0, 0) < 0)
                _exit(127);

        /* a test may block or ignore signals; the child starts clean */
        sigemptyset(&mask);
        if (sigprocmask(SIG_SETMASK, &mask, NULL) < 0)
                _exit(127);
        for (int sig = 1; sig < _NSIG; ++sig)
                if (sig != SIGKILL && sig != SIGSTOP)
                        signal(sig, SIG_DFL);

        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0)
                _exit(127);

        unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
        unsetenv("DBUS_STARTER_ADDRESS");
        unsetenv("DBUS_STARTER_BUS_TYPE");
        if (address)
                setenv("DBUS_SESSION_BUS_ADDRESS", address, 1);
        else
                unsetenv("DBUS_SESSION_BUS_ADDRESS");

        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "test_command: cannot execute %s: %m\n", argv[0]);
        _exit(127);
}

/* Kill the command's process group (its helpers too) and reap it. */
static void command_kill(pid_t pid, int *statusp)
{
        kill(-pid, SIGKILL);
        while (waitpid(pid, statusp, 0) < 0 && errno == EINTR)
                ;
}

/*
 * Read @fd until EOF or @deadline into a new NUL-terminated buffer.
 * Returns 0 (buffer in *outp), TEST_COMMAND_E_TIMEOUT, -E2BIG, -ENOMEM or
 * another negative errno.
 */
static int command_read(char **outp, int fd, int64_t deadline)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, size = 0;

        for (;;) {
                int64_t left = deadline - now_ms();
                ssize_t n;

                if (left <= 0)
                        return TEST_COMMAND_E_TIMEOUT;
                n = poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, (int)left);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return TEST_COMMAND_E_TIMEOUT;

                if (size - len < 2) {
                        size_t new_size = size ? size * 2 : 4096;
                        char *p;

                        if (new_size > TEST_COMMAND_OUTPUT_MAX)
                                return -E2BIG;
                        p = realloc(buf, new_size);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        size = new_size;
                }
                n = read(fd, buf + len, size - len - 1);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += (size_t)n;
        }

        if (!buf) {
                buf = malloc(1);
                if (!buf)
                        return -ENOMEM;
        }
        buf[len] = 0;
        *outp = steal_ptr(buf);
        return 0;
}

/* Wait for @pid until @deadline; on timeout kill it. Returns 0 or TEST_COMMAND_E_TIMEOUT. */
static int command_wait(int *statusp, pid_t pid, int64_t deadline)
{
        for (;;) {
                pid_t w = waitpid(pid, statusp, WNOHANG);

                if (w == pid)
                        return 0;
                if (w < 0 && errno != EINTR)
                        return -errno;
                if (now_ms() >= deadline) {
                        command_kill(pid, statusp);
                        return TEST_COMMAND_E_TIMEOUT;
                }
                usleep(5 * 1000);
        }
}

int test_command_run(char **outputp, int *statusp, const char *address,
                     const char *const *argv, unsigned int timeout_ms)
{
        int64_t deadline = now_ms() + timeout_ms;
        _cleanup_close_ int read_fd = -1, write_fd = -1;
        _cleanup_free_ char *out = NULL;
        int pipefd[2], status, r;
        pid_t pid, parent;

        if (!argv || !argv[0])
                return -EINVAL;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        read_fd = pipefd[0];
        write_fd = pipefd[1];

        fflush(stdout);
        fflush(stderr);
        parent = getpid();
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                close(steal_fd(read_fd));
                command_exec(address, argv, write_fd, parent);
        }
        /* also from this side, so the group exists before any kill(-pid) */
        (void)setpgid(pid, pid);
        close(steal_fd(write_fd));

        /* read (and allocate) only after fork(): a child that fails to exec leaks nothing */
        r = command_read(&out, read_fd, deadline);
        if (r != 0) {
                command_kill(pid, &status);
                return r;
        }

        /* stdout closed: the command exited or closed it; wait out the rest of the bound */
        r = command_wait(&status, pid, deadline);
        if (r != 0)
                return r;

        if (outputp)
                *outputp = steal_ptr(out);
        *statusp = status;
        return 0;
}
