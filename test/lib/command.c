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

static void command_kill(pid_t pid, int *statusp)
{
        kill(pid, SIGKILL);
        while (waitpid(pid, statusp, 0) < 0 && errno == EINTR)
                ;
}

int test_command_run(char **outputp, int *statusp, const char *address,
                     const char *const *argv, unsigned int timeout_ms)
{
        int64_t deadline = now_ms() + timeout_ms;
        size_t len = 0, size = 4096;
        int pipefd[2], status, r = 0;
        char *buf;
        pid_t pid, parent;
        ssize_t n;

        if (!argv || !argv[0])
                return -EINVAL;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;

        fflush(stdout);
        fflush(stderr);
        parent = getpid();
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(pipefd[0]);
                close(pipefd[1]);
                return r;
        }
        if (pid == 0) {
                close(pipefd[0]);
                command_exec(address, argv, pipefd[1], parent);
        }
        close(pipefd[1]);

        /* allocated after fork(): a child that fails to exec leaks nothing */
        buf = malloc(size);
        if (!buf) {
                close(pipefd[0]);
                command_kill(pid, &status);
                return -ENOMEM;
        }

        /* read until EOF; r becomes TEST_COMMAND_E_TIMEOUT or a negative errno */
        for (;;) {
                int64_t left = deadline - now_ms();

                if (left <= 0) {
                        r = TEST_COMMAND_E_TIMEOUT;
                        break;
                }
                n = poll(&(struct pollfd){ .fd = pipefd[0], .events = POLLIN }, 1, (int)left);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = -errno;
                        break;
                }
                if (n == 0) {
                        r = TEST_COMMAND_E_TIMEOUT;
                        break;
                }

                if (size - len < 2) {
                        char *p;

                        if (size >= TEST_COMMAND_OUTPUT_MAX) {
                                r = -E2BIG;
                                break;
                        }
                        p = realloc(buf, size * 2);
                        if (!p) {
                                r = -ENOMEM;
                                break;
                        }
                        buf = p;
                        size *= 2;
                }
                n = read(pipefd[0], buf + len, size - len - 1);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n < 0) {
                        r = -errno;
                        break;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        close(pipefd[0]);

        if (r != 0) {
                command_kill(pid, &status);
                free(buf);
                return r;
        }

        /* stdout closed: the command exited or closed it; wait out the rest of the bound */
        for (;;) {
                pid_t w = waitpid(pid, &status, WNOHANG);

                if (w == pid)
                        break;
                if (w < 0 && errno != EINTR) {
                        r = -errno;
                        free(buf);
                        return r;
                }
                if (now_ms() >= deadline) {
                        command_kill(pid, &status);
                        free(buf);
                        return TEST_COMMAND_E_TIMEOUT;
                }
                usleep(5 * 1000);
        }

        buf[len] = 0;
        if (outputp)
                *outputp = buf;
        else
                free(buf);
        *statusp = status;
        return 0;
}
