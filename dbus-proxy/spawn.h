#pragma once

/*
 * The launcher: starts an activated service as a child process and tells
 * when it ends.
 *
 * spawn_child_new() forks and execs in one step and reports synchronously
 * whether the exec worked (a close-on-exec pipe carries the child's errno
 * back). The child:
 *  - has all signals unblocked and every signal disposition reset to the
 *    default (the broker blocks the signals its event loop handles);
 *  - has stdin on /dev/null and stdout/stderr on the given fds (or the
 *    parent's);
 *  - runs as the given user (supplementary groups from the group database,
 *    resolved in the parent before fork) when the parent is root;
 *  - has every other fd closed (close_range(CLOSE_RANGE_CLOEXEC), or a loop
 *    on old kernels);
 *  - is not killed when the parent exits (no PR_SET_PDEATHSIG; dbus-daemon
 *    does not kill activated services either) and keeps its process group.
 * argv[0] is executed as given (execve, no $PATH search), like dbus-daemon.
 *
 * A struct spawn_child owns a pidfd of the process. Exit is noticed by
 * watching the pidfd in the event loop (loop.h; spawn_child_watch(); no SIGCHLD
 * handling needed, so it works next to other users of SIGCHLD) or by
 * waiting for it (spawn_child_wait()). The child is reaped exactly once, by
 * whichever of the two sees it exit.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "dbus-proxy/loop.h"

enum {
        /* the command line cannot be split (unclosed quote, empty) */
        SPAWN_E_INVALID_COMMAND = 1,
        /* User= names no user */
        SPAWN_E_USER_UNKNOWN,
        /* the child could not be set up (fds, groups, uid); errno returned */
        SPAWN_E_SETUP_FAILED,
        /* execve() failed; errno returned */
        SPAWN_E_EXEC_FAILED,
};

struct spawn_options {
        const char *const *argv;        /* NULL-terminated, argv[0] is executed */
        const char *const *envp;        /* NULL-terminated; NULL: an empty environment */
        const char *user;               /* NULL: keep the parent's user */
        int stdout_fd;                  /* -1: inherit */
        int stderr_fd;                  /* -1: inherit */
};

/* how a child ended (the si_code/si_status of waitid()) */
struct spawn_status {
        int code;                       /* CLD_EXITED, CLD_KILLED or CLD_DUMPED */
        int status;                     /* exit status or signal number */
};

struct spawn_child;

/**
 * spawn_exit_fn - called once when a watched child has exited (and was
 * reaped)
 * @child: the child; the callback may free it
 * @status: how it ended
 * @userdata: as given to spawn_child_watch()
 */
typedef void (*spawn_exit_fn)(struct spawn_child *child, const struct spawn_status *status, void *userdata);

/**
 * spawn_parse_command_line() - split an Exec= line into arguments
 * @line: the command line
 * @argvp: output: malloc'd NULL-terminated array of malloc'd strings
 *         (free with spawn_argv_free()), written only on success
 * @errorp: on SPAWN_E_INVALID_COMMAND receives a malloc'd message; may be NULL
 *
 * Shell-like, as dbus-daemon (and the desktop entry spec) do it: words are
 * separated by unquoted space, tab or newline; '...' is literal; inside
 * "..." a backslash escapes only $ ` " \ and newline (backslash-newline is
 * removed), other backslashes are kept; outside quotes a backslash escapes
 * any character (backslash-newline is removed); '#' at the start of a word
 * starts a comment up to the end of the line; quotes may join parts of one
 * word ("a"'b'c is abc) and an empty quoted word ("" or '') is an empty
 * argument. No expansion of any kind.
 *
 * Return: 0; SPAWN_E_INVALID_COMMAND for an unclosed quote, a trailing
 * backslash or a line without words; -ENOMEM.
 */
int spawn_parse_command_line(const char *line, char ***argvp, char **errorp);

/** spawn_argv_free() - free an array from spawn_parse_command_line(). Return: NULL. */
char **spawn_argv_free(char **argv);

/**
 * spawn_child_new() - start a process
 * @childp: output, written only on success
 * @options: what to run and how
 * @errnop: on SPAWN_E_SETUP_FAILED/SPAWN_E_EXEC_FAILED receives the errno
 *          of the failed step; may be NULL
 *
 * On SPAWN_E_SETUP_FAILED and SPAWN_E_EXEC_FAILED the child has already
 * been reaped.
 *
 * Return: 0; SPAWN_E_USER_UNKNOWN; SPAWN_E_SETUP_FAILED; SPAWN_E_EXEC_FAILED;
 * -ENOMEM; a negative errno if fork, pipe or pidfd_open fails.
 */
int spawn_child_new(struct spawn_child **childp, const struct spawn_options *options, int *errnop);

/**
 * spawn_child_free() - forget a child
 * @child: the child or NULL
 *
 * The process is neither killed nor waited for; if it has not been reaped
 * it stays a child of ours (reap it elsewhere, or exit).
 *
 * Return: NULL.
 */
struct spawn_child *spawn_child_free(struct spawn_child *child);

/** spawn_child_get_pid() - the child's pid. */
pid_t spawn_child_get_pid(struct spawn_child *child);

/**
 * spawn_child_get_status() - how the child ended
 * Return: true and *status filled if it has been reaped; false otherwise.
 */
bool spawn_child_get_status(struct spawn_child *child, struct spawn_status *status);

/**
 * spawn_child_watch() - call @fn when the child exits
 * @child: a child not reaped yet
 * @loop: the event loop
 * @fn: the callback
 * @userdata: passed to @fn
 *
 * Return: 0; -EBUSY if already watched; -ECHILD if already reaped; a
 * negative errno from the loop.
 */
int spawn_child_watch(struct spawn_child *child, struct loop *loop, spawn_exit_fn fn, void *userdata);

/**
 * spawn_child_wait() - block until the child exits and reap it
 * @child: the child
 * @status: output
 *
 * Returns at once if it has already been reaped. A watch, if any, is
 * disabled (its callback is not called).
 *
 * Return: 0; a negative errno from waitid().
 */
int spawn_child_wait(struct spawn_child *child, struct spawn_status *status);

/**
 * spawn_child_kill() - send a signal to the child, if it was not reaped
 * @child: the child
 * @sig: the signal
 *
 * Uses the pidfd, so it never hits a recycled pid.
 *
 * Return: 0 (also if it was already reaped); a negative errno.
 */
int spawn_child_kill(struct spawn_child *child, int sig);
