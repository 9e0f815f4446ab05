#pragma once

/*
 * The dbus-daemon command line
 *
 * `struct cmdline` is the parsed command line of bus1-dbus, which accepts
 * exactly what dbus-daemon 1.14 accepts and reports the same errors with
 * the same texts and exit status (1), so it can replace dbus-daemon in
 * service files and scripts:
 *
 *   --session --system --config-file=FILE --config-file FILE
 *   --address=ADDR --address ADDR --print-address[=FD] --print-address FD
 *   --print-pid[=FD] --print-pid FD --fork --nofork --nopidfile
 *   --systemd-activation --syslog --nosyslog --syslog-only
 *   --introspect --version --help (-h, -?)
 *
 * Rules (observed from dbus-daemon 1.14):
 *  - arguments are matched in a fixed order; an argument after
 *    "--config-file", "--address", "--print-address" or "--print-pid" is
 *    that option's value unless it is one of the options matched before
 *    that value (e.g. "--address --nofork" leaves the address unset, but
 *    "--address --print-pid" makes "--print-pid" the address);
 *  - --version, --introspect and --help act as soon as they are seen,
 *    whatever follows;
 *  - --session, --system and --config-file conflict with an earlier one of
 *    them; --address, --print-address=FD and --print-pid=FD with an earlier
 *    value of the same option; --fork/--nofork and the syslog options:
 *    the last one wins;
 *  - after the loop: no configuration file is an error; FDs must be
 *    integers in 0..INT_MAX as strtol(3) with base 0 reads them (leading
 *    blanks, '+', "0x" and octal "0" prefixes accepted), the address FD is
 *    checked before the pid FD.
 * Deliberate difference: --help prints a full help text on stdout and
 * exits 0 (dbus-daemon prints its usage line on stderr and exits 1).
 */

#include <stdbool.h>
#include <sys/types.h>

#ifndef CMDLINE_SESSION_CONFIG
#define CMDLINE_SESSION_CONFIG "/usr/share/dbus-1/session.conf"
#endif
#ifndef CMDLINE_SYSTEM_CONFIG
#define CMDLINE_SYSTEM_CONFIG "/usr/share/dbus-1/system.conf"
#endif

/* Version of the D-Bus daemon this broker is compatible with. */
#define CMDLINE_DBUS_COMPAT_VERSION "1.14"

/* Parse errors (positive); each comes with the message to print. */
enum {
        CMDLINE_E_USAGE = 1,    /* unknown argument: usage on stderr, exit 1 */
        CMDLINE_E_CONFLICT,     /* an option given twice or conflicting */
        CMDLINE_E_NO_CONFIG,    /* neither --session, --system nor --config-file */
        CMDLINE_E_BAD_FD,       /* --print-address/--print-pid FD not a valid number */
};

enum cmdline_action {
        CMDLINE_RUN,            /* start the bus */
        CMDLINE_HELP,           /* print cmdline_help_text() on stdout, exit 0 */
        CMDLINE_VERSION,        /* print cmdline_version_text() on stdout, exit 0 */
        CMDLINE_INTROSPECT,     /* print the driver's introspection XML, exit 0 */
};

enum cmdline_bus {
        CMDLINE_BUS_NONE,       /* --config-file */
        CMDLINE_BUS_SESSION,    /* --session */
        CMDLINE_BUS_SYSTEM,     /* --system */
};

enum cmdline_fork {
        CMDLINE_FORK_DEFAULT,   /* as the configuration's <fork/> says */
        CMDLINE_FORK_ALWAYS,    /* --fork */
        CMDLINE_FORK_NEVER,     /* --nofork */
};

enum cmdline_syslog {
        CMDLINE_SYSLOG_DEFAULT, /* as the configuration says */
        CMDLINE_SYSLOG_ON,      /* --syslog: syslog and stderr */
        CMDLINE_SYSLOG_OFF,     /* --nosyslog: stderr only */
        CMDLINE_SYSLOG_ONLY,    /* --syslog-only: syslog only */
};

struct cmdline {
        enum cmdline_action action;
        enum cmdline_bus bus;
        char *config_file;              /* non-NULL when action == RUN */
        char *address;                  /* --address, or NULL */
        bool print_address;
        int print_address_fd;           /* -1: stdout */
        bool print_pid;
        int print_pid_fd;               /* -1: stdout */
        enum cmdline_fork fork;
        bool nopidfile;
        bool systemd_activation;
        enum cmdline_syslog syslog;
};

/**
 * cmdline_parse() - parse dbus-daemon's command line
 * @out:      written on success: the parsed command line (cmdline_free())
 * @messagep: written when a positive error is returned: the complete text
 *            to print on stderr before exiting with status 1 (free())
 * @argc:     argument count (argv[0] is the program name and ignored)
 * @argv:     arguments
 *
 * When the result's action is not CMDLINE_RUN, the other fields hold what
 * was parsed before the action's option and must be ignored.
 *
 * Return: 0 on success; CMDLINE_E_USAGE, CMDLINE_E_CONFLICT,
 * CMDLINE_E_NO_CONFIG, CMDLINE_E_BAD_FD (with *messagep); -ENOMEM.
 */
int cmdline_parse(struct cmdline **out, char **messagep, int argc, char **argv);

/**
 * cmdline_free() - free a parsed command line
 * @cmdline: object or NULL
 *
 * Return: NULL.
 */
struct cmdline *cmdline_free(struct cmdline *cmdline);

/**
 * cmdline_usage_text() - the one-line usage printed with parse errors
 *
 * Return: static string ending in a newline.
 */
const char *cmdline_usage_text(void);

/**
 * cmdline_help_text() - the --help text
 *
 * Return: static string ending in a newline.
 */
const char *cmdline_help_text(void);

/**
 * cmdline_version_text() - the --version text
 *
 * Return: static string ending in a newline: names bus1-dbus, its version
 * and the dbus-daemon version it is compatible with.
 */
const char *cmdline_version_text(void);

/**
 * cmdline_print_address() - print the bus address as dbus-daemon does
 * @cmdline: parsed command line with print_address set
 * @address: the address (listener_set_address())
 *
 * Writes "@address\n" in one write(2) (continuing only after a short write)
 * to print_address_fd, or to stdout if none was given, then closes that fd
 * unless it is 0, 1 or 2, or --print-pid names the same fd (then
 * cmdline_print_pid() closes it; dbus-daemon closes it here and loses the
 * pid).
 *
 * Return: 0 on success; negative errno of write(2) (e.g. -EBADF, -EPIPE).
 */
int cmdline_print_address(const struct cmdline *cmdline, const char *address);

/**
 * cmdline_print_pid() - print the daemon's pid as dbus-daemon does
 * @cmdline: parsed command line with print_pid set
 * @pid:     the pid of the daemon (after forking)
 *
 * Writes "<pid>\n" in one write(2) to print_pid_fd (stdout if none), then
 * closes it unless it is 0, 1 or 2.
 *
 * Return: 0 on success; negative errno of write(2).
 */
int cmdline_print_pid(const struct cmdline *cmdline, pid_t pid);
