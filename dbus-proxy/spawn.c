/*
 * The launcher (spawn.h).
 */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dbus-proxy/spawn.h"
#include "util/cleanup.h"
#include "util/error.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

struct spawn_child {
        pid_t pid;
        int pidfd;
        bool reaped;
        struct spawn_status status;
        struct loop_source *source;
        spawn_exit_fn fn;
        void *userdata;
};

/* what the child reports through the error pipe before it dies */
struct child_report {
        int stage;              /* SPAWN_E_SETUP_FAILED or SPAWN_E_EXEC_FAILED */
        int error;              /* errno */
};

/*
 * Command lines.
 */

struct words {
        char **v;
        size_t n, cap;
        char *cur;
        size_t n_cur, cap_cur;
};

static int words_putc(struct words *w, char c)
{
        if (w->n_cur + 1 >= w->cap_cur) {
                char *t = realloc(w->cur, w->cap_cur = w->cap_cur ? 2 * w->cap_cur : 64);

                if (!t)
                        return error_origin(-ENOMEM);
                w->cur = t;
        }
        w->cur[w->n_cur++] = c;
        w->cur[w->n_cur] = 0;
        return 0;
}

static int words_push(struct words *w)
{
        if (w->n + 1 >= w->cap) {
                char **t = realloc(w->v, (w->cap = w->cap ? 2 * w->cap : 8) * sizeof(*t));

                if (!t)
                        return error_origin(-ENOMEM);
                w->v = t;
        }
        if (!w->cur) {
                w->cur = strdup("");
                if (!w->cur)
                        return error_origin(-ENOMEM);
        }
        w->v[w->n++] = w->cur;
        w->v[w->n] = NULL;
        w->cur = NULL;
        w->n_cur = w->cap_cur = 0;
        return 0;
}

char **spawn_argv_free(char **argv)
{
        char **p;

        if (argv) {
                for (p = argv; *p; ++p)
                        free(*p);
                free(argv);
        }
        return NULL;
}

static int command_error(char **errorp, const char *msg)
{
        if (errorp && !(*errorp = strdup(msg)))
                return error_origin(-ENOMEM);
        return SPAWN_E_INVALID_COMMAND;
}

int spawn_parse_command_line(const char *line, char ***argvp, char **errorp)
{
        struct words w = {};
        bool in_word = false;
        const char *p = line;
        int r = 0;

        while (*p && !r) {
                char c = *p;

                if (c == '\\' && p[1] == '\n') {
                        p += 2; /* line continuation */
                        continue;
                }
                if (c == ' ' || c == '\t' || c == '\n') {
                        if (in_word)
                                r = words_push(&w);
                        in_word = false;
                        ++p;
                        continue;
                }
                if (c == '#' && !in_word) {
                        while (*p && *p != '\n')
                                ++p;
                        continue;
                }
                in_word = true;
                if (c == '\\') {
                        if (!p[1]) {
                                r = command_error(errorp, "command line ends in a backslash");
                                break;
                        }
                        r = words_putc(&w, p[1]);
                        p += 2;
                } else if (c == '\'') {
                        const char *end = strchr(p + 1, '\'');

                        if (!end) {
                                r = command_error(errorp, "unclosed single quote in command line");
                                break;
                        }
                        for (++p; p < end && !r; ++p)
                                r = words_putc(&w, *p);
                        p = end + 1;
                } else if (c == '"') {
                        ++p;
                        for (;;) {
                                if (!*p) {
                                        r = command_error(errorp, "unclosed double quote in command line");
                                        break;
                                }
                                if (*p == '"') {
                                        ++p;
                                        break;
                                }
                                if (*p == '\\' && p[1] && strchr("$`\"\\\n", p[1])) {
                                        if (p[1] != '\n')
                                                r = words_putc(&w, p[1]);
                                        p += 2;
                                } else {
                                        r = words_putc(&w, *p++);
                                }
                                if (r)
                                        break;
                        }
                } else {
                        r = words_putc(&w, c);
                        ++p;
                }
        }
        if (!r && in_word)
                r = words_push(&w);
        if (!r && !w.n)
                r = command_error(errorp, "command line is empty");
        free(w.cur);
        if (r) {
                if (w.v) {
                        w.v[w.n] = NULL;
                        spawn_argv_free(w.v);
                }
                return r < 0 ? error_trace(r) : r;
        }
        *argvp = w.v;
        return 0;
}

/*
 * Processes.
 */

static int pidfd_open_(pid_t pid)
{
        return (int)syscall(SYS_pidfd_open, pid, 0);
}

static void child_fail(int fd, int stage) __attribute__((noreturn));

static void child_fail(int fd, int stage)
{
        struct child_report rep = { .stage = stage, .error = errno };
        ssize_t l;

        do
                l = write(fd, &rep, sizeof(rep));
        while (l < 0 && errno == EINTR);
        _exit(127);
}

/* Runs between fork and exec: only async-signal-safe calls. */
static void child_run(const struct spawn_options *o, int report_fd, bool switch_user,
                      uid_t uid, gid_t gid, const gid_t *groups, int n_groups)
{
        static const char *const empty_env[] = { NULL };
        struct sigaction sa = { .sa_handler = SIG_DFL };
        sigset_t all;
        int fd, sig;

        for (sig = 1; sig < _NSIG; ++sig)
                (void)sigaction(sig, &sa, NULL);
        sigemptyset(&all);
        (void)sigprocmask(SIG_SETMASK, &all, NULL);

        if (o->stdout_fd >= 0 && dup2(o->stdout_fd, STDOUT_FILENO) < 0)
                child_fail(report_fd, SPAWN_E_SETUP_FAILED);
        if (o->stderr_fd >= 0 && dup2(o->stderr_fd, STDERR_FILENO) < 0)
                child_fail(report_fd, SPAWN_E_SETUP_FAILED);
        fd = open("/dev/null", O_RDONLY | O_NOCTTY);
        if (fd < 0)
                child_fail(report_fd, SPAWN_E_SETUP_FAILED);
        if (fd != STDIN_FILENO) {
                if (dup2(fd, STDIN_FILENO) < 0)
                        child_fail(report_fd, SPAWN_E_SETUP_FAILED);
                close(fd);
        }

        if (switch_user) {
                if (setgroups((size_t)n_groups, groups) < 0 || setresgid(gid, gid, gid) < 0 ||
                    setresuid(uid, uid, uid) < 0)
                        child_fail(report_fd, SPAWN_E_SETUP_FAILED);
        }

        /* every fd above stderr goes at exec (the report pipe too) */
        if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
                long max = sysconf(_SC_OPEN_MAX);

                for (fd = 3; fd < (max > 0 ? max : 65536); ++fd)
                        if (fd != report_fd)
                                (void)close(fd);
        }

        execve(o->argv[0], (char *const *)o->argv, (char *const *)(o->envp ? o->envp : empty_env));
        child_fail(report_fd, SPAWN_E_EXEC_FAILED);
}

static int resolve_user(const char *user, uid_t *uid, gid_t *gid, gid_t **groupsp, int *n_groupsp)
{
        _cleanup_free_ char *buf = NULL;
        _cleanup_free_ gid_t *groups = NULL;
        struct passwd pw, *res = NULL;
        size_t n_buf = 16384;
        int n = 32, r;

        for (;;) {
                buf = malloc(n_buf);
                if (!buf)
                        return error_origin(-ENOMEM);
                r = getpwnam_r(user, &pw, buf, n_buf, &res);
                if (r != ERANGE)
                        break;
                free(steal_ptr(buf));
                n_buf *= 2;
        }
        if (r == ENOMEM)
                return error_origin(-ENOMEM);
        if (!res)
                return SPAWN_E_USER_UNKNOWN;
        for (;;) {
                int m = n;

                groups = malloc((size_t)n * sizeof(*groups));
                if (!groups)
                        return error_origin(-ENOMEM);
                if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &m) >= 0) {
                        n = m;
                        break;
                }
                free(steal_ptr(groups));
                n = m > n ? m : 2 * n;
        }
        *uid = pw.pw_uid;
        *gid = pw.pw_gid;
        *groupsp = steal_ptr(groups);
        *n_groupsp = n;
        return 0;
}

int spawn_child_new(struct spawn_child **childp, const struct spawn_options *options, int *errnop)
{
        _cleanup_free_ gid_t *groups = NULL;
        _cleanup_close_ int rfd = -1, wfd = -1;
        struct child_report rep;
        struct spawn_child *c;
        bool switch_user = false;
        uid_t uid = 0;
        gid_t gid = 0;
        int n_groups = 0, pipefd[2], pidfd, r;
        ssize_t l;
        pid_t pid;

        if (options->user) {
                r = resolve_user(options->user, &uid, &gid, &groups, &n_groups);
                if (r)
                        return error_trace(r);
                /* only root can switch; anybody else runs services as itself */
                switch_user = geteuid() == 0;
        }

        c = calloc(1, sizeof(*c));
        if (!c)
                return error_origin(-ENOMEM);
        c->pidfd = -1;

        if (pipe2(pipefd, O_CLOEXEC) < 0) {
                free(c);
                return error_origin(-errno);
        }
        rfd = pipefd[0];
        wfd = pipefd[1];

        pid = fork();
        if (pid < 0) {
                free(c);
                return error_origin(-errno);
        }
        if (pid == 0)
                child_run(options, wfd, switch_user, uid, gid, groups, n_groups);

        close(steal_fd(wfd));
        do
                l = read(rfd, &rep, sizeof(rep));
        while (l < 0 && errno == EINTR);
        if (l == (ssize_t)sizeof(rep)) {
                int status;

                while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                        ;
                free(c);
                if (errnop)
                        *errnop = rep.error;
                return rep.stage;
        }

        /* exec succeeded (EOF on the pipe) */
        pidfd = pidfd_open_(pid);
        if (pidfd < 0) {
                r = -errno;
                /* cannot track it: do not leave it unreaped */
                kill(pid, SIGKILL);
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                free(c);
                return error_origin(r);
        }
        c->pid = pid;
        c->pidfd = pidfd;
        *childp = c;
        return 0;
}

struct spawn_child *spawn_child_free(struct spawn_child *child)
{
        if (!child)
                return NULL;
        loop_source_free(child->source);
        if (child->pidfd >= 0)
                close(child->pidfd);
        free(child);
        return NULL;
}

pid_t spawn_child_get_pid(struct spawn_child *child)
{
        return child->pid;
}

bool spawn_child_get_status(struct spawn_child *child, struct spawn_status *status)
{
        if (!child->reaped)
                return false;
        *status = child->status;
        return true;
}

/* waitid() on the pidfd; returns 1 if reaped, 0 if still running */
static int child_reap(struct spawn_child *child, bool block)
{
        siginfo_t si = {};

        if (child->reaped)
                return 1;
        for (;;) {
                if (waitid((idtype_t)P_PIDFD, (id_t)child->pidfd, &si, WEXITED | (block ? 0 : WNOHANG)) >= 0)
                        break;
                if (errno != EINTR)
                        return error_origin(-errno);
        }
        if (si.si_pid == 0)
                return 0;
        child->reaped = true;
        child->status.code = si.si_code;
        child->status.status = si.si_status;
        child->source = loop_source_free(child->source);
        return 1;
}

static int child_on_pidfd(struct loop_source *source, int fd, uint32_t revents, void *userdata)
{
        struct spawn_child *child = userdata;
        struct spawn_status status;
        int r;

        (void)source;
        (void)fd;
        (void)revents;
        r = child_reap(child, false);
        if (r <= 0) {
                if (r < 0)
                        error_trace_log("cannot reap child");
                return 0;
        }
        status = child->status;
        child->fn(child, &status, child->userdata);
        return 0;
}

int spawn_child_watch(struct spawn_child *child, struct loop *loop, spawn_exit_fn fn, void *userdata)
{
        int r;

        if (child->reaped)
                return -ECHILD;
        if (child->source)
                return -EBUSY;
        r = loop_add_io(loop, &child->source, child->pidfd, EPOLLIN, child_on_pidfd, child);
        if (r < 0)
                return error_origin(r);
        child->fn = fn;
        child->userdata = userdata;
        return 0;
}

int spawn_child_wait(struct spawn_child *child, struct spawn_status *status)
{
        int r = child_reap(child, true);

        if (r < 0)
                return error_trace(r);
        *status = child->status;
        return 0;
}

int spawn_child_kill(struct spawn_child *child, int sig)
{
        if (child->reaped)
                return 0;
        if (syscall(SYS_pidfd_send_signal, child->pidfd, sig, NULL, 0) < 0 && errno != ESRCH)
                return error_origin(-errno);
        return 0;
}
