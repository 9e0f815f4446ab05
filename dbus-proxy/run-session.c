/*
 * bus1-run-session: run one program with its own private session bus.
 *
 *     bus1-run-session [--config-file=FILE] [--dbus-daemon=BINARY] [--] PROGRAM [ARGUMENTS...]
 *
 * Like dbus-run-session(1): starts "BINARY --nofork --print-address FD
 * --session" (or "--config-file FILE" instead of "--session"), reads the
 * address it prints, runs PROGRAM with DBUS_SESSION_BUS_ADDRESS set to it
 * (and DBUS_SESSION_BUS_PID, DBUS_SESSION_BUS_WINDOWID,
 * DBUS_STARTER_ADDRESS, DBUS_STARTER_BUS_TYPE removed), and when PROGRAM
 * exits, stops the bus with SIGTERM, waits for it and exits with PROGRAM's
 * status (128 + signal number if it was killed, as sh does). If the bus
 * exits first, a warning is printed and PROGRAM keeps running.
 *
 * The default BINARY is "bus1-dbus" in the directory of this executable if
 * it exists there, else "bus1-dbus" looked up in $PATH. The bus gets
 * PR_SET_PDEATHSIG(SIGTERM), so it goes away with us even if we are killed.
 * Options may also be given as "--config-file FILE", "--dbus-daemon
 * BINARY". Our own failures exit with 127.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define ME "bus1-run-session"
#define EXIT_OWN_FAILURE 127
#define ADDRESS_MAX 4096

static void usage(FILE *f)
{
        fprintf(f,
                "%s [OPTIONS] [--] PROGRAM [ARGUMENTS]\n"
                "%s --version\n"
                "%s --help\n"
                "\n"
                "Options:\n"
                "--dbus-daemon=BINARY       run BINARY instead of bus1-dbus\n"
                "--config-file=FILENAME     pass to the bus instead of --session\n",
                ME, ME, ME);
}

/* "bus1-dbus" next to /proc/self/exe, or the bare name for $PATH */
static const char *default_daemon(char *buf, size_t n)
{
        ssize_t l = readlink("/proc/self/exe", buf, n - 1);
        char *slash;

        if (l > 0 && (size_t)l < n - 16) {
                buf[l] = 0;
                slash = strrchr(buf, '/');
                if (slash) {
                        strcpy(slash + 1, "bus1-dbus");
                        if (access(buf, X_OK) == 0)
                                return buf;
                }
        }
        return "bus1-dbus";
}

/* read one line (the address) until newline or EOF */
static int read_address(int fd, char *buf, size_t n)
{
        size_t len = 0;

        while (len < n - 1) {
                ssize_t l = read(fd, buf + len, n - 1 - len);

                if (l < 0 && errno == EINTR)
                        continue;
                if (l < 0)
                        return -errno;
                if (l == 0)
                        break;
                len += (size_t)l;
                if (memchr(buf, '\n', len))
                        break;
        }
        buf[len] = 0;
        buf[strcspn(buf, "\n")] = 0;
        return buf[0] ? 0 : -ENODATA;
}

int main(int argc, char **argv)
{
        const char *config_file = NULL, *daemon = NULL, **slot = NULL, *slot_name = NULL;
        char exe[PATH_MAX], address[ADDRESS_MAX], fdstr[16];
        int prog = 0, pipefd[2], i, r;
        pid_t bus_pid, app_pid;

        for (i = 1; i < argc; ++i) {
                const char *arg = argv[i];

                if (slot) {
                        *slot = arg;
                        slot = NULL;
                        continue;
                }
                if (!strcmp(arg, "--help") || !strcmp(arg, "-h") || !strcmp(arg, "-?")) {
                        usage(stdout);
                        return 0;
                } else if (!strcmp(arg, "--version")) {
                        printf("%s %s\n", ME, PACKAGE_VERSION);
                        return 0;
                } else if (!strncmp(arg, "--config-file", 13) && (arg[13] == '=' || !arg[13])) {
                        if (config_file) {
                                fprintf(stderr, "%s: --config-file given twice\n", ME);
                                return EXIT_OWN_FAILURE;
                        }
                        config_file = "";
                        if (arg[13] == '=')
                                config_file = arg + 14;
                        else
                                slot = &config_file, slot_name = "--config-file";
                } else if (!strncmp(arg, "--dbus-daemon", 13) && (arg[13] == '=' || !arg[13])) {
                        if (daemon) {
                                fprintf(stderr, "%s: --dbus-daemon given twice\n", ME);
                                return EXIT_OWN_FAILURE;
                        }
                        daemon = "";
                        if (arg[13] == '=')
                                daemon = arg + 14;
                        else
                                slot = &daemon, slot_name = "--dbus-daemon";
                } else if (!strcmp(arg, "--")) {
                        prog = i + 1;
                        break;
                } else if (arg[0] == '-') {
                        fprintf(stderr, "%s: option '%s' is unknown\n", ME, arg);
                        return EXIT_OWN_FAILURE;
                } else {
                        prog = i;
                        break;
                }
        }
        if (slot) {
                fprintf(stderr, "%s: option '%s' requires an argument\n", ME, slot_name);
                return EXIT_OWN_FAILURE;
        }
        if (prog < 1 || prog >= argc) {
                fprintf(stderr, "%s: a non-option argument is required\n", ME);
                return EXIT_OWN_FAILURE;
        }
        if (!daemon || !daemon[0])
                daemon = default_daemon(exe, sizeof(exe));

        if (pipe2(pipefd, O_CLOEXEC) < 0) {
                fprintf(stderr, "%s: failed to create pipe: %m\n", ME);
                return EXIT_OWN_FAILURE;
        }
        bus_pid = fork();
        if (bus_pid < 0) {
                fprintf(stderr, "%s: failed to fork: %m\n", ME);
                return EXIT_OWN_FAILURE;
        }
        if (bus_pid == 0) {
                pid_t parent = getppid();

                /* the write end survives exec, nothing else of ours does */
                if (fcntl(pipefd[1], F_SETFD, 0) < 0 || prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
                        _exit(EXIT_OWN_FAILURE);
                if (getppid() != parent)
                        _exit(EXIT_OWN_FAILURE); /* we were already orphaned */
                snprintf(fdstr, sizeof(fdstr), "%d", pipefd[1]);
                if (config_file)
                        execlp(daemon, daemon, "--nofork", "--print-address", fdstr, "--config-file",
                               config_file, (char *)NULL);
                else
                        execlp(daemon, daemon, "--nofork", "--print-address", fdstr, "--session", (char *)NULL);
                fprintf(stderr, "%s: failed to execute message bus daemon '%s': %m\n", ME, daemon);
                _exit(EXIT_OWN_FAILURE);
        }
        close(pipefd[1]);
        r = read_address(pipefd[0], address, sizeof(address));
        close(pipefd[0]);
        if (r < 0) {
                if (r == -ENODATA)
                        fprintf(stderr, "%s: EOF reading address from bus daemon\n", ME);
                else
                        fprintf(stderr, "%s: error reading address from bus daemon: %s\n", ME, strerror(-r));
                kill(bus_pid, SIGTERM);
                while (waitpid(bus_pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                return EXIT_OWN_FAILURE;
        }

        if (setenv("DBUS_SESSION_BUS_ADDRESS", address, 1) < 0 || unsetenv("DBUS_SESSION_BUS_PID") < 0 ||
            unsetenv("DBUS_SESSION_BUS_WINDOWID") < 0 || unsetenv("DBUS_STARTER_ADDRESS") < 0 ||
            unsetenv("DBUS_STARTER_BUS_TYPE") < 0) {
                fprintf(stderr, "%s: cannot set up the environment: %m\n", ME);
                kill(bus_pid, SIGTERM);
                while (waitpid(bus_pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                return EXIT_OWN_FAILURE;
        }

        app_pid = fork();
        if (app_pid < 0) {
                fprintf(stderr, "%s: failed to fork: %m\n", ME);
                kill(bus_pid, SIGTERM);
                while (waitpid(bus_pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                return EXIT_OWN_FAILURE;
        }
        if (app_pid == 0) {
                execvp(argv[prog], argv + prog);
                fprintf(stderr, "%s: failed to exec '%s': %m\n", ME, argv[prog]);
                _exit(EXIT_OWN_FAILURE);
        }

        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, 0);

                if (pid < 0) {
                        if (errno == EINTR)
                                continue;
                        fprintf(stderr, "%s: waitpid() failed: %m\n", ME);
                        return EXIT_OWN_FAILURE;
                }
                if (pid == bus_pid) {
                        bus_pid = 0;
                        if (WIFEXITED(status))
                                fprintf(stderr, "%s: bus daemon exited with code %d\n", ME, WEXITSTATUS(status));
                        else if (WIFSIGNALED(status))
                                fprintf(stderr, "%s: bus daemon terminated by signal %d\n", ME, WTERMSIG(status));
                } else if (pid == app_pid) {
                        if (bus_pid > 0) {
                                kill(bus_pid, SIGTERM);
                                while (waitpid(bus_pid, NULL, 0) < 0 && errno == EINTR)
                                        ;
                        }
                        if (WIFEXITED(status))
                                return WEXITSTATUS(status);
                        if (WIFSIGNALED(status))
                                return 128 + WTERMSIG(status);
                        return EXIT_OWN_FAILURE;
                }
        }
}
