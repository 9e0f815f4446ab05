#pragma once

/*
 * Logging to stderr (or the systemd journal) and to syslog
 *
 * One process-wide logger. Messages carry a syslog priority (LOG_ERR ..
 * LOG_DEBUG from <syslog.h>); messages less important than the maximum level
 * are dropped. Each message goes to every enabled target (log_set_targets();
 * by default LOG_TARGET_STDERR only):
 *
 * LOG_TARGET_SYSLOG: one datagram per message to the local syslog socket
 * /dev/log, or $BUS1_SYSLOG_SOCKET if set (read by log_set_targets(); for
 * tests), in the format syslog(3) uses:
 *     "<PRI>Mmm dd hh:mm:ss <ident>[<pid>]: <message>"
 * with facility LOG_DAEMON, as dbus-daemon logs. Unlike syslog(3) this
 * never allocates; a datagram that cannot be sent (no syslog daemon) is
 * lost, as with syslog(3). Stream-type /dev/log sockets are not supported.
 *
 * LOG_TARGET_STDERR, where exactly (decided by log_init(), again on every
 * call of it):
 *  - the journal, through its native datagram protocol, if and only if
 *    $JOURNAL_STREAM is set to "<device>:<inode>" (decimal) and that pair
 *    equals st_dev:st_ino of our fd 2. That is systemd's documented rule
 *    (systemd.exec(5)): the service manager connected stderr to the journal,
 *    so the structured protocol may be used instead. We deliberately do not
 *    guess from "stderr is not a tty and the socket exists": a daemon whose
 *    stderr was redirected to a file or pipe by its caller must log there.
 *    The socket is /run/systemd/journal/socket, or $BUS1_JOURNAL_SOCKET if
 *    set (for tests). Each record has the fields MESSAGE, PRIORITY,
 *    SYSLOG_IDENTIFIER, SYSLOG_PID, CODE_FILE, CODE_LINE and CODE_FUNC.
 *    If sending a record fails, that record goes to stderr instead.
 *  - stderr otherwise, one write(2) per message, formatted
 *        "<ident>[<pid>]: <level>: <message>\n"
 *    with <level> one of emerg, alert, crit, error, warning, notice, info,
 *    debug.
 *
 * Messages longer than LOG_MESSAGE_MAX - 1 bytes are cut there and end in
 * "...". Nothing is ever allocated while logging.
 *
 * Maximum level: LOG_INFO by default, changed by log_set_max_level(). The
 * environment variable $BUS1_LOG_LEVEL, read by log_init(), overrides both
 * when it holds a valid level: a number 0..7 or one of emerg, alert, crit,
 * err, error, warning, warn, notice, info, debug. Invalid values are ignored.
 *
 * Threads: call log_init() and log_set_max_level() before starting threads;
 * log_emit() may be called from any thread. log_emit() preserves errno.
 * Logging before log_init() goes to stderr with the identifier "bus1".
 */

#include <stdarg.h>
#include <syslog.h>

/** Maximum length of one message text, including its terminating NUL. */
#define LOG_MESSAGE_MAX 2048

/**
 * log_init() - set the identifier and choose the target (see above).
 * @ident: program name shown in every message (copied, truncated to 63
 *         bytes); NULL means "bus1"
 *
 * Also (re)reads $BUS1_LOG_LEVEL. May be called again, e.g. by tests.
 */
void log_init(const char *ident);

/* Targets for log_set_targets(), a bit mask. */
enum {
        LOG_TARGET_STDERR = 1u << 0,    /* stderr, or the journal (see above) */
        LOG_TARGET_SYSLOG = 1u << 1,    /* the local syslog socket */
};

/**
 * log_set_targets() - choose where messages go.
 * @targets: LOG_TARGET_STDERR and/or LOG_TARGET_SYSLOG; 0 is taken as
 *           LOG_TARGET_STDERR (some target always stays)
 *
 * With LOG_TARGET_SYSLOG, (re)reads $BUS1_SYSLOG_SOCKET and opens the
 * socket used to send; log_init() does not change the targets. Call it
 * before starting threads, like log_init().
 */
void log_set_targets(unsigned int targets);

/** log_get_targets() - the enabled targets. */
unsigned int log_get_targets(void);

/**
 * log_set_max_level() - drop messages with a priority above @prio.
 * @prio: LOG_EMERG..LOG_DEBUG; values outside are clamped
 *
 * Has no visible effect while $BUS1_LOG_LEVEL (as read by log_init())
 * overrides the level.
 */
void log_set_max_level(int prio);

/** log_get_max_level() - the effective maximum level. */
int log_get_max_level(void);

/**
 * log_emit() - log one message.
 * @prio:  syslog priority LOG_EMERG..LOG_DEBUG (facility bits are ignored)
 * @file:  source file of the caller (CODE_FILE), may be NULL
 * @line:  source line of the caller (CODE_LINE)
 * @func:  function of the caller (CODE_FUNC), may be NULL
 * @fmt:   printf format
 *
 * Never fails visibly: if no target accepts the message it is lost.
 */
void log_emit(int prio, const char *file, int line, const char *func, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

/** log_emitv() - log_emit() with a va_list. */
void log_emitv(int prio, const char *file, int line, const char *func, const char *fmt, va_list ap)
        __attribute__((format(printf, 5, 0)));

#define log_full(_prio, ...) log_emit((_prio), __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_err(...) log_full(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
