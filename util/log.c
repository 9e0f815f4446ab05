/*
 * Logging to stderr, the systemd journal and syslog (see log.h for the rules).
 *
 * State: written only by log_init(), log_set_max_level() and
 * log_set_targets() (called before threads start), read by log_emit() from
 * any thread.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

#define LOG_IDENT_MAX 64
#define LOG_JOURNAL_SOCKET "/run/systemd/journal/socket"
#define LOG_SYSLOG_SOCKET "/dev/log"
/* Bound on CODE_FILE/CODE_FUNC values we pass on; longer ones are cut. */
#define LOG_FIELD_MAX 256

static char log_ident[LOG_IDENT_MAX] = "bus1";
static int log_max_level = LOG_INFO;
static int log_env_level = -1; /* from $BUS1_LOG_LEVEL, -1 if unset/invalid */
static int log_journal_fd = -1;
static struct sockaddr_un log_journal_addr;
static socklen_t log_journal_addrlen;
static unsigned int log_targets = LOG_TARGET_STDERR;
static int log_syslog_fd = -1;
static struct sockaddr_un log_syslog_addr;
static socklen_t log_syslog_addrlen;

static const char *const log_level_names[] = {
        [LOG_EMERG] = "emerg",
        [LOG_ALERT] = "alert",
        [LOG_CRIT] = "crit",
        [LOG_ERR] = "error",
        [LOG_WARNING] = "warning",
        [LOG_NOTICE] = "notice",
        [LOG_INFO] = "info",
        [LOG_DEBUG] = "debug",
};

static int log_clamp(int prio)
{
        if (prio < LOG_EMERG)
                return LOG_EMERG;
        if (prio > LOG_DEBUG)
                return LOG_DEBUG;
        return prio;
}

/* Parse a $BUS1_LOG_LEVEL value; -1 if invalid. */
static int log_parse_level(const char *s)
{
        static const struct {
                const char *name;
                int level;
        } names[] = {
                { "emerg", LOG_EMERG },   { "alert", LOG_ALERT },  { "crit", LOG_CRIT },
                { "err", LOG_ERR },       { "error", LOG_ERR },    { "warning", LOG_WARNING },
                { "warn", LOG_WARNING },  { "notice", LOG_NOTICE }, { "info", LOG_INFO },
                { "debug", LOG_DEBUG },
        };
        size_t i;

        if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
                return s[0] - '0';
        for (i = 0; i < sizeof(names) / sizeof(names[0]); ++i)
                if (!strcasecmp(s, names[i].name))
                        return names[i].level;
        return -1;
}

/* Whether $JOURNAL_STREAM names the device:inode of our fd 2. */
static bool log_stderr_is_journal(void)
{
        const char *env = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        char *end;

        if (!env || !*env)
                return false;
        errno = 0;
        dev = strtoull(env, &end, 10);
        if (errno || end == env || *end != ':')
                return false;
        env = end + 1;
        ino = strtoull(env, &end, 10);
        if (errno || end == env || *end != '\0')
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* Fill @addr with the AF_UNIX address of @path; false if it is too long. */
static bool log_socket_addr(struct sockaddr_un *addr, socklen_t *addrlen, const char *path)
{
        size_t len = strlen(path);

        if (len >= sizeof(addr->sun_path))
                return false;
        memset(addr, 0, sizeof(*addr));
        addr->sun_family = AF_UNIX;
        memcpy(addr->sun_path, path, len + 1);
        *addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
        return true;
}

static void log_journal_close(void)
{
        if (log_journal_fd >= 0)
                close(log_journal_fd);
        log_journal_fd = -1;
}

static void log_journal_open(void)
{
        const char *path = getenv("BUS1_JOURNAL_SOCKET");

        if (!path || !*path)
                path = LOG_JOURNAL_SOCKET;
        if (log_socket_addr(&log_journal_addr, &log_journal_addrlen, path))
                log_journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

void log_set_targets(unsigned int targets)
{
        int saved_errno = errno;
        const char *path;

        targets &= LOG_TARGET_STDERR | LOG_TARGET_SYSLOG;
        if (!targets)
                targets = LOG_TARGET_STDERR;
        log_targets = targets;

        if (log_syslog_fd >= 0)
                close(log_syslog_fd);
        log_syslog_fd = -1;
        if (targets & LOG_TARGET_SYSLOG) {
                path = getenv("BUS1_SYSLOG_SOCKET");
                if (!path || !*path)
                        path = LOG_SYSLOG_SOCKET;
                if (log_socket_addr(&log_syslog_addr, &log_syslog_addrlen, path))
                        log_syslog_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                /* load the time zone now, so localtime_r() finds it loaded
                 * and does not allocate while logging */
                tzset();
        }
        errno = saved_errno;
}

unsigned int log_get_targets(void)
{
        return log_targets;
}

void log_init(const char *ident)
{
        int saved_errno = errno;
        const char *env;
        size_t len;

        if (!ident)
                ident = "bus1";
        len = strnlen(ident, LOG_IDENT_MAX - 1);
        memcpy(log_ident, ident, len);
        log_ident[len] = '\0';

        env = getenv("BUS1_LOG_LEVEL");
        log_env_level = env ? log_parse_level(env) : -1;

        log_journal_close();
        if (log_stderr_is_journal())
                log_journal_open();

        errno = saved_errno;
}

void log_set_max_level(int prio)
{
        log_max_level = log_clamp(prio);
}

int log_get_max_level(void)
{
        return log_env_level >= 0 ? log_env_level : log_max_level;
}

/*
 * Append one field in the journal's native format: "KEY=value\n", or, if
 * the value holds a newline, "KEY\n" + 64-bit little-endian length + value +
 * "\n". Returns false if it does not fit.
 */
static bool log_append_field(char *buf, size_t *pos, size_t size, const char *key,
                             const char *value, size_t vlen)
{
        size_t klen = strlen(key), need;
        uint64_t le;
        size_t i;

        if (memchr(value, '\n', vlen)) {
                need = klen + 1 + 8 + vlen + 1;
                if (need > size - *pos)
                        return false;
                memcpy(buf + *pos, key, klen);
                *pos += klen;
                buf[(*pos)++] = '\n';
                le = vlen;
                for (i = 0; i < 8; ++i)
                        buf[(*pos)++] = (char)((le >> (8 * i)) & 0xff);
        } else {
                need = klen + 1 + vlen + 1;
                if (need > size - *pos)
                        return false;
                memcpy(buf + *pos, key, klen);
                *pos += klen;
                buf[(*pos)++] = '=';
        }
        memcpy(buf + *pos, value, vlen);
        *pos += vlen;
        buf[(*pos)++] = '\n';
        return true;
}

static bool log_append_str(char *buf, size_t *pos, size_t size, const char *key, const char *value)
{
        return log_append_field(buf, pos, size, key, value, strlen(value));
}

static bool log_journal_send(int prio, const char *file, int line, const char *func, const char *msg)
{
        char buf[LOG_MESSAGE_MAX + 4 * LOG_FIELD_MAX + LOG_IDENT_MAX + 256];
        char num[32];
        size_t pos = 0;
        ssize_t l;
        bool ok;

        snprintf(num, sizeof(num), "%d", prio);
        ok = log_append_str(buf, &pos, sizeof(buf), "PRIORITY", num);
        ok = ok && log_append_str(buf, &pos, sizeof(buf), "SYSLOG_IDENTIFIER", log_ident);
        snprintf(num, sizeof(num), "%ld", (long)getpid());
        ok = ok && log_append_str(buf, &pos, sizeof(buf), "SYSLOG_PID", num);
        if (file) {
                ok = ok && log_append_field(buf, &pos, sizeof(buf), "CODE_FILE", file,
                                            strnlen(file, LOG_FIELD_MAX));
                snprintf(num, sizeof(num), "%d", line);
                ok = ok && log_append_str(buf, &pos, sizeof(buf), "CODE_LINE", num);
        }
        if (func)
                ok = ok && log_append_field(buf, &pos, sizeof(buf), "CODE_FUNC", func,
                                            strnlen(func, LOG_FIELD_MAX));
        ok = ok && log_append_field(buf, &pos, sizeof(buf), "MESSAGE", msg, strlen(msg));
        if (!ok)
                return false;

        do {
                l = sendto(log_journal_fd, buf, pos, MSG_NOSIGNAL,
                           (const struct sockaddr *)&log_journal_addr, log_journal_addrlen);
        } while (l < 0 && errno == EINTR);
        return l == (ssize_t)pos;
}

/* One syslog datagram: "<PRI>Mmm dd hh:mm:ss ident[pid]: msg". */
static void log_syslog_send(int prio, const char *msg)
{
        char buf[LOG_IDENT_MAX + 96 + LOG_MESSAGE_MAX];
        char stamp[32] = "";
        struct tm tm;
        time_t now;
        ssize_t l;
        int n;

        now = time(NULL);
        if (localtime_r(&now, &tm))
                strftime(stamp, sizeof(stamp), "%b %e %T", &tm);
        n = snprintf(buf, sizeof(buf), "<%d>%s %s[%ld]: %s", LOG_DAEMON | prio, stamp, log_ident,
                     (long)getpid(), msg);
        if (n < 0)
                return;
        if ((size_t)n >= sizeof(buf))
                n = sizeof(buf) - 1;
        do {
                l = sendto(log_syslog_fd, buf, (size_t)n, MSG_NOSIGNAL,
                           (const struct sockaddr *)&log_syslog_addr, log_syslog_addrlen);
        } while (l < 0 && errno == EINTR);
}

static void log_stderr_write(int prio, const char *msg)
{
        char buf[LOG_IDENT_MAX + 64 + LOG_MESSAGE_MAX];
        int n;
        ssize_t l;

        n = snprintf(buf, sizeof(buf), "%s[%ld]: %s: %s\n", log_ident, (long)getpid(),
                     log_level_names[prio], msg);
        if (n < 0)
                return;
        if ((size_t)n >= sizeof(buf)) {
                /* Cannot happen with the sizes above; keep the line terminated. */
                n = sizeof(buf) - 1;
                buf[n - 1] = '\n';
        }
        do {
                l = write(STDERR_FILENO, buf, (size_t)n);
        } while (l < 0 && errno == EINTR);
}

void log_emitv(int prio, const char *file, int line, const char *func, const char *fmt, va_list ap)
{
        char msg[LOG_MESSAGE_MAX];
        int saved_errno = errno;
        int n;

        prio = log_clamp(LOG_PRI(prio));
        if (prio > log_get_max_level())
                return;

        n = vsnprintf(msg, sizeof(msg), fmt, ap);
        if (n < 0)
                snprintf(msg, sizeof(msg), "(unformattable message: %s)", fmt);
        else if ((size_t)n >= sizeof(msg))
                memcpy(msg + sizeof(msg) - 4, "...", 4);

        if (log_targets & LOG_TARGET_SYSLOG) {
                if (log_syslog_fd >= 0)
                        log_syslog_send(prio, msg);
        }
        if (log_targets & LOG_TARGET_STDERR) {
                if (log_journal_fd < 0 || !log_journal_send(prio, file, line, func, msg))
                        log_stderr_write(prio, msg);
        }

        errno = saved_errno;
}

void log_emit(int prio, const char *file, int line, const char *func, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        log_emitv(prio, file, line, func, fmt, ap);
        va_end(ap);
}
