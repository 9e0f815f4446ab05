/*
 * bus1-dbus: a D-Bus message bus daemon, started like dbus-daemon.
 *
 * The process: parse the command line, set up the broker (configuration,
 * sockets, engine), choose the log targets (stderr, syslog), fork if asked,
 * print the address and pid, write the pid file, switch to the configured
 * <user>, tell systemd we are ready, run the loop until SIGTERM. Messages
 * logged before the log targets are chosen (configuration errors and
 * warnings, failures to listen) go to stderr.
 */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "dbus-proxy/broker.h"
#include "dbus-proxy/cmdline.h"
#include "dbus-proxy/driver.h"
#include "policy/config.h"
#include "util/log.h"

/*
 * Where log messages go, as dbus-daemon 1.14 decides it: --syslog adds
 * syslog to stderr, --syslog-only logs to syslog alone, --nosyslog to
 * stderr alone; without any of them the configuration's <syslog/> adds
 * syslog to stderr (system.conf has it, session.conf does not). Decided
 * once, when the configuration is first read: a reload keeps it.
 */
static unsigned int main_log_targets(const struct cmdline *cmdline, const struct bus_config *config)
{
        switch (cmdline->syslog) {
        case CMDLINE_SYSLOG_ON:
                return LOG_TARGET_STDERR | LOG_TARGET_SYSLOG;
        case CMDLINE_SYSLOG_ONLY:
                return LOG_TARGET_SYSLOG;
        case CMDLINE_SYSLOG_OFF:
                return LOG_TARGET_STDERR;
        case CMDLINE_SYSLOG_DEFAULT:
                break;
        }
        return config->syslog ? LOG_TARGET_STDERR | LOG_TARGET_SYSLOG : LOG_TARGET_STDERR;
}

static int main_write_pidfile(const char *path)
{
        FILE *f;

        f = fopen(path, "we");
        if (!f)
                return -errno;
        fprintf(f, "%d\n", (int)getpid());
        if (fclose(f) != 0)
                return -errno;
        return 0;
}

/*
 * <user>: switch to that user, as dbus-daemon 1.14 does once its sockets
 * are bound, the address and pid printed and the pid file written. The
 * user must exist, whoever we are. As root: drop every supplementary group
 * (dbus-daemon does not initgroups() either), then take the user's primary
 * gid and uid as real, effective and saved ids, so it cannot be undone.
 * Not as root: change nothing, silently (dbus-daemon neither warns).
 * Unlike dbus-daemon built with libcap-ng, no capability is kept (it keeps
 * CAP_AUDIT_WRITE for the audit log, which bus1-dbus does not write).
 *
 * On success writes the uid the bus runs as to *uidp and returns 0; on
 * failure logs why and returns -1.
 */
static int main_switch_user(const char *user, uid_t *uidp)
{
        struct passwd *pw;
        uid_t uid;
        gid_t gid;

        pw = getpwnam(user);
        if (!pw) {
                log_err("Could not get UID and GID for username \"%s\"", user);
                return -1;
        }
        uid = pw->pw_uid;
        gid = pw->pw_gid;
        if (geteuid() != 0) {
                *uidp = getuid();
                return 0;
        }
        if (setgroups(0, NULL) < 0) {
                log_err("Failed to drop supplementary groups: %m");
                return -1;
        }
        if (setgid(gid) < 0) {
                log_err("Failed to set GID to %lu: %m", (unsigned long)gid);
                return -1;
        }
        if (setuid(uid) < 0) {
                log_err("Failed to set UID to %lu: %m", (unsigned long)uid);
                return -1;
        }
        log_debug("running as user %s (uid %lu, gid %lu)", user, (unsigned long)uid, (unsigned long)gid);
        *uidp = uid;
        return 0;
}

/*
 * --fork: the child runs the bus; the parent exits once the child has
 * printed the address and pid (it tells the parent through a pipe).
 */
static int main_daemonize(int *notify_fd)
{
        int p[2];
        pid_t pid;
        char c;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid > 0) {
                close(p[1]);
                if (read(p[0], &c, 1) != 1) {
                        int status = 0;

                        waitpid(pid, &status, 0);
                        _exit(1);
                }
                _exit(0);
        }
        close(p[0]);
        setsid();
        if (chdir("/") < 0)
                return -errno;
        {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);

                if (null >= 0) {
                        dup2(null, STDIN_FILENO);
                        close(null);
                }
        }
        /* a second fork so the daemon is no session leader */
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid > 0)
                _exit(0);
        *notify_fd = p[1];
        return 0;
}

/*
 * Make sure fds 0, 1 and 2 are open (on /dev/null if the caller closed
 * them), so no socket or engine fd of ours ends up there and is later
 * replaced by the daemon's stdin or mistaken for stdout.
 */
static void main_ensure_std_fds(void)
{
        for (int fd = 0; fd < 3; ++fd) {
                if (fcntl(fd, F_GETFD) >= 0)
                        continue;
                int null = open("/dev/null", O_RDWR);

                if (null >= 0 && null != fd) {
                        dup2(null, fd);
                        close(null);
                }
        }
}

int main(int argc, char **argv)
{
        struct cmdline *cmdline = NULL;
        struct broker *b = NULL;
        char *message = NULL;
        int notify_fd = -1;
        bool do_fork;
        int r, ret = 1;

        main_ensure_std_fds();
        log_init("bus1-dbus");

        r = cmdline_parse(&cmdline, &message, argc, argv);
        if (r > 0) {
                fputs(message, stderr);
                free(message);
                return 1;
        }
        if (r < 0) {
                fprintf(stderr, "bus1-dbus: %s\n", strerror(-r));
                return 1;
        }

        switch (cmdline->action) {
        case CMDLINE_HELP:
                fputs(cmdline_help_text(), stdout);
                ret = 0;
                goto out;
        case CMDLINE_VERSION:
                fputs(cmdline_version_text(), stdout);
                ret = 0;
                goto out;
        case CMDLINE_INTROSPECT:
                /* as dbus-daemon: the XML and an empty line */
                fputs(driver_introspect_xml(), stdout);
                fputc('\n', stdout);
                ret = 0;
                goto out;
        case CMDLINE_RUN:
                break;
        }

        r = broker_new(&b, cmdline);
        if (r) {
                if (r < 0)
                        log_err("cannot start the bus: %s", strerror(-r));
                goto out;
        }
        log_set_targets(main_log_targets(cmdline, b->config));

        do_fork = cmdline->fork == CMDLINE_FORK_ALWAYS ||
                  (cmdline->fork == CMDLINE_FORK_DEFAULT && b->config->fork);
        if (do_fork) {
                r = main_daemonize(&notify_fd);
                if (r < 0) {
                        log_err("cannot fork: %s", strerror(-r));
                        goto out;
                }
        }

        if (cmdline->print_address) {
                r = cmdline_print_address(cmdline, b->address);
                if (r < 0) {
                        log_err("cannot print the address: %s", strerror(-r));
                        goto out;
                }
        }
        if (cmdline->print_pid) {
                r = cmdline_print_pid(cmdline, getpid());
                if (r < 0) {
                        log_err("cannot print the pid: %s", strerror(-r));
                        goto out;
                }
        }
        if (b->config->pidfile && !cmdline->nopidfile) {
                r = main_write_pidfile(b->config->pidfile);
                if (r < 0)
                        log_warn("cannot write pid file %s: %s", b->config->pidfile, strerror(-r));
        }
        /* before the --fork parent is told, so it exits 1 on failure (as dbus-daemon's) */
        if (b->config->user && main_switch_user(b->config->user, &b->uid) < 0) {
                if (b->config->pidfile && !cmdline->nopidfile)
                        unlink(b->config->pidfile);
                goto out;
        }
        if (notify_fd >= 0) {
                if (write(notify_fd, "", 1) < 0)
                        log_warn("cannot notify the parent: %m");
                close(notify_fd);
                notify_fd = -1;
        }
        sd_notify(0, "READY=1");

        r = broker_run(b);
        if (r < 0)
                log_err("event loop failed: %s", strerror(-r));
        else
                ret = 0;
        sd_notify(0, "STOPPING=1");
        if (b->config->pidfile && !cmdline->nopidfile)
                unlink(b->config->pidfile);

out:
        broker_free(b);
        cmdline_free(cmdline);
        return ret;
}
