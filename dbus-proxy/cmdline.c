/*
 * The dbus-daemon command line (see cmdline.h for the rules).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbus-proxy/cmdline.h"
#include "util/error.h"

/* Values as given on the command line, validated after the loop. */
struct cmdline_raw {
        char *config_file;
        char *address;
        char *address_fd;
        char *pid_fd;
};

const char *cmdline_usage_text(void)
{
        return "bus1-dbus [--version] [--session] [--system] [--config-file=FILE] "
               "[--print-address[=DESCRIPTOR]] [--print-pid[=DESCRIPTOR]] [--introspect] "
               "[--address=ADDRESS] [--nopidfile] [--nosyslog] [--syslog] [--syslog-only] "
               "[--nofork] [--fork] [--systemd-activation]\n";
}

const char *cmdline_help_text(void)
{
        return "Usage: bus1-dbus [OPTION]...\n"
               "A D-Bus message bus built on bus1; a drop-in replacement for dbus-daemon.\n"
               "\n"
               "  --session                 use the session bus configuration ("
               CMDLINE_SESSION_CONFIG ")\n"
               "  --system                  use the system bus configuration ("
               CMDLINE_SYSTEM_CONFIG ")\n"
               "  --config-file=FILE        use FILE as the configuration\n"
               "  --address=ADDRESS         listen on ADDRESS instead of the configured <listen>\n"
               "  --print-address[=FD]      print the bus address on FD (default: stdout)\n"
               "  --print-pid[=FD]          print the process id on FD (default: stdout)\n"
               "  --fork                    run in the background\n"
               "  --nofork                  stay in the foreground\n"
               "  --nopidfile               do not write the configured pid file\n"
               "  --systemd-activation      activate services through systemd\n"
               "  --syslog                  log to syslog and stderr\n"
               "  --nosyslog                log to stderr only\n"
               "  --syslog-only             log to syslog only\n"
               "  --introspect              print the bus driver's introspection data and exit\n"
               "  --version                 print the version and exit\n"
               "  --help                    print this help and exit\n"
               "\n"
               "FILE, ADDRESS and FD may also be given as the next argument.\n";
}

const char *cmdline_version_text(void)
{
        return "bus1-dbus " PACKAGE_VERSION "\n"
               "D-Bus message bus compatible with dbus-daemon " CMDLINE_DBUS_COMPAT_VERSION "\n";
}

__attribute__((format(printf, 3, 4)))
static int cmdline_message(char **messagep, int code, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(messagep, fmt, ap);
        va_end(ap);
        if (r < 0) {
                *messagep = NULL;
                return error_origin(-ENOMEM);
        }
        return code;
}

static bool has_prefix(const char *s, const char *prefix)
{
        return !strncmp(s, prefix, strlen(prefix));
}

static bool is_set(const char *s)
{
        return s && *s;
}

static int cmdline_set(char **slot, const char *value)
{
        char *v = strdup(value);

        if (!v)
                return error_origin(-ENOMEM);
        free(*slot);
        *slot = v;
        return 0;
}

/* Set the configuration file unless one was already requested. */
static int cmdline_set_config(struct cmdline_raw *raw, char **messagep, const char *option,
                              const char *file)
{
        if (is_set(raw->config_file))
                return cmdline_message(messagep, CMDLINE_E_CONFLICT,
                                       "--%s specified but configuration file %s already requested\n",
                                       option, raw->config_file);
        return cmdline_set(&raw->config_file, file);
}

static int cmdline_set_address(struct cmdline_raw *raw, char **messagep, const char *address)
{
        if (is_set(raw->address))
                return cmdline_message(messagep, CMDLINE_E_CONFLICT,
                                       "--address specified but address %s already requested\n",
                                       raw->address);
        return cmdline_set(&raw->address, address);
}

static int cmdline_set_fd(char **slot, char **messagep, const char *option, const char *what,
                          const char *fd)
{
        if (is_set(*slot))
                return cmdline_message(messagep, CMDLINE_E_CONFLICT,
                                       "--%s specified but printing %s to %s already requested\n",
                                       option, what, *slot);
        return cmdline_set(slot, fd);
}

/* strtol(3) with base 0 over the whole string, 0..INT_MAX. */
static int cmdline_parse_fd(const char *s, int *fdp)
{
        char *end = NULL;
        long v;

        errno = 0;
        v = strtol(s, &end, 0);
        if (errno || end == s || *end || v < 0 || v > INT_MAX)
                return -EINVAL;
        *fdp = (int)v;
        return 0;
}

static int cmdline_parse_args(struct cmdline *c, struct cmdline_raw *raw, char **messagep,
                              int argc, char **argv)
{
        const char *prev = NULL;
        int r = 0;

        for (int i = 1; i < argc; ++i) {
                const char *arg = argv[i];

                if (!strcmp(arg, "--help") || !strcmp(arg, "-h") || !strcmp(arg, "-?")) {
                        c->action = CMDLINE_HELP;
                        return 0;
                } else if (!strcmp(arg, "--version")) {
                        c->action = CMDLINE_VERSION;
                        return 0;
                } else if (!strcmp(arg, "--introspect")) {
                        c->action = CMDLINE_INTROSPECT;
                        return 0;
                } else if (!strcmp(arg, "--nofork")) {
                        c->fork = CMDLINE_FORK_NEVER;
                } else if (!strcmp(arg, "--fork")) {
                        c->fork = CMDLINE_FORK_ALWAYS;
                } else if (!strcmp(arg, "--nopidfile")) {
                        c->nopidfile = true;
                } else if (!strcmp(arg, "--systemd-activation")) {
                        c->systemd_activation = true;
                } else if (!strcmp(arg, "--system")) {
                        r = cmdline_set_config(raw, messagep, "system", CMDLINE_SYSTEM_CONFIG);
                        c->bus = CMDLINE_BUS_SYSTEM;
                } else if (!strcmp(arg, "--session")) {
                        r = cmdline_set_config(raw, messagep, "session", CMDLINE_SESSION_CONFIG);
                        c->bus = CMDLINE_BUS_SESSION;
                } else if (!strcmp(arg, "--syslog")) {
                        c->syslog = CMDLINE_SYSLOG_ON;
                } else if (!strcmp(arg, "--nosyslog")) {
                        c->syslog = CMDLINE_SYSLOG_OFF;
                } else if (!strcmp(arg, "--syslog-only")) {
                        c->syslog = CMDLINE_SYSLOG_ONLY;
                } else if (has_prefix(arg, "--config-file=")) {
                        r = cmdline_set_config(raw, messagep, "config-file", arg + strlen("--config-file="));
                        c->bus = CMDLINE_BUS_NONE;
                } else if (prev && !strcmp(prev, "--config-file")) {
                        r = cmdline_set_config(raw, messagep, "config-file", arg);
                        c->bus = CMDLINE_BUS_NONE;
                } else if (!strcmp(arg, "--config-file")) {
                        /* the value follows */
                } else if (has_prefix(arg, "--address=")) {
                        r = cmdline_set_address(raw, messagep, arg + strlen("--address="));
                } else if (prev && !strcmp(prev, "--address")) {
                        r = cmdline_set_address(raw, messagep, arg);
                } else if (!strcmp(arg, "--address")) {
                        /* the value follows */
                } else if (has_prefix(arg, "--print-address=")) {
                        c->print_address = true;
                        r = cmdline_set_fd(&raw->address_fd, messagep, "print-address", "address",
                                           arg + strlen("--print-address="));
                } else if (prev && !strcmp(prev, "--print-address")) {
                        r = cmdline_set_fd(&raw->address_fd, messagep, "print-address", "address", arg);
                } else if (!strcmp(arg, "--print-address")) {
                        c->print_address = true;
                } else if (has_prefix(arg, "--print-pid=")) {
                        c->print_pid = true;
                        r = cmdline_set_fd(&raw->pid_fd, messagep, "print-pid", "pid",
                                           arg + strlen("--print-pid="));
                } else if (prev && !strcmp(prev, "--print-pid")) {
                        r = cmdline_set_fd(&raw->pid_fd, messagep, "print-pid", "pid", arg);
                } else if (!strcmp(arg, "--print-pid")) {
                        c->print_pid = true;
                } else {
                        return cmdline_message(messagep, CMDLINE_E_USAGE, "%s", cmdline_usage_text());
                }
                if (r)
                        return r;
                prev = arg;
        }

        if (!is_set(raw->config_file))
                return cmdline_message(messagep, CMDLINE_E_NO_CONFIG, "No configuration file specified.\n%s",
                                       cmdline_usage_text());
        if (is_set(raw->address_fd) && cmdline_parse_fd(raw->address_fd, &c->print_address_fd) < 0)
                return cmdline_message(messagep, CMDLINE_E_BAD_FD, "Invalid file descriptor: \"%s\"\n",
                                       raw->address_fd);
        if (is_set(raw->pid_fd) && cmdline_parse_fd(raw->pid_fd, &c->print_pid_fd) < 0)
                return cmdline_message(messagep, CMDLINE_E_BAD_FD, "Invalid file descriptor: \"%s\"\n",
                                       raw->pid_fd);

        c->config_file = raw->config_file;
        raw->config_file = NULL;
        if (is_set(raw->address)) {
                c->address = raw->address;
                raw->address = NULL;
        }
        c->action = CMDLINE_RUN;
        return 0;
}

int cmdline_parse(struct cmdline **out, char **messagep, int argc, char **argv)
{
        struct cmdline_raw raw = {};
        struct cmdline *c;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return error_origin(-ENOMEM);
        c->print_address_fd = -1;
        c->print_pid_fd = -1;

        r = cmdline_parse_args(c, &raw, messagep, argc, argv);
        free(raw.config_file);
        free(raw.address);
        free(raw.address_fd);
        free(raw.pid_fd);
        if (r) {
                cmdline_free(c);
                return error_trace(r);
        }
        *out = c;
        return 0;
}

struct cmdline *cmdline_free(struct cmdline *cmdline)
{
        if (!cmdline)
                return NULL;
        free(cmdline->config_file);
        free(cmdline->address);
        free(cmdline);
        return NULL;
}

/* One write of @text (continued only after a short write), then close. */
static int cmdline_write(int fd, const char *text, bool close_fd)
{
        size_t n = strlen(text), done = 0;
        int r = 0;

        while (done < n) {
                ssize_t l = write(fd, text + done, n - done);

                if (l < 0) {
                        if (errno == EINTR)
                                continue;
                        r = error_origin(-errno);
                        break;
                }
                done += (size_t)l;
        }
        if (close_fd && fd > 2)
                close(fd);
        return r;
}

int cmdline_print_address(const struct cmdline *cmdline, const char *address)
{
        int fd = cmdline->print_address_fd < 0 ? STDOUT_FILENO : cmdline->print_address_fd;
        int pid_fd = cmdline->print_pid_fd < 0 ? STDOUT_FILENO : cmdline->print_pid_fd;
        bool keep = cmdline->print_pid && pid_fd == fd;
        char *line;
        int r;

        if (asprintf(&line, "%s\n", address) < 0)
                return error_origin(-ENOMEM);
        r = cmdline_write(fd, line, !keep);
        free(line);
        return r;
}

int cmdline_print_pid(const struct cmdline *cmdline, pid_t pid)
{
        int fd = cmdline->print_pid_fd < 0 ? STDOUT_FILENO : cmdline->print_pid_fd;
        char line[32];

        snprintf(line, sizeof(line), "%ld\n", (long)pid);
        return cmdline_write(fd, line, true);
}
