/*
 * Unit tests of util/log.[ch]: level filtering and $BUS1_LOG_LEVEL, the
 * stderr format (fd 2 is replaced by a SOCK_SEQPACKET socket, so every
 * write(2) arrives as one packet and "one write per message" is checked),
 * truncation of long messages, and the journal's native protocol against a
 * datagram socket bound in a temporary directory ($BUS1_JOURNAL_SOCKET),
 * including the $JOURNAL_STREAM matching rule and the fallback to stderr;
 * the syslog target against such a socket ($BUS1_SYSLOG_SOCKET): format,
 * facility, levels, truncation, target combinations, a missing socket.
 * (test/dbus-proxy/test-syslog-daemon.py covers the real /dev/log.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <regex.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/log.h"

struct capture {
        int saved_stderr;
        int reader;
};

/* Replace fd 2 by one end of a seqpacket socketpair. */
static void capture_start(struct capture *c)
{
        int sv[2];

        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        c->saved_stderr = dup(STDERR_FILENO);
        assert_true(c->saved_stderr >= 0);
        assert_int_equal(dup2(sv[1], STDERR_FILENO), STDERR_FILENO);
        close(sv[1]);
        c->reader = sv[0];
}

static void capture_stop(struct capture *c)
{
        assert_int_equal(dup2(c->saved_stderr, STDERR_FILENO), STDERR_FILENO);
        close(c->saved_stderr);
        close(c->reader);
}

/* The next packet written to fd 2 as a string, or NULL if there is none. */
static char *capture_next(struct capture *c, char *buf, size_t size)
{
        ssize_t n = recv(c->reader, buf, size - 1, MSG_DONTWAIT);

        if (n < 0) {
                assert_int_equal(errno, EAGAIN);
                return NULL;
        }
        buf[n] = '\0';
        return buf;
}

static void env_reset(void)
{
        unsetenv("JOURNAL_STREAM");
        unsetenv("BUS1_LOG_LEVEL");
        unsetenv("BUS1_JOURNAL_SOCKET");
        unsetenv("BUS1_SYSLOG_SOCKET");
        log_set_targets(LOG_TARGET_STDERR);
}

static void test_format(void **state)
{
        struct capture c;
        char buf[4096], expect[256];

        env_reset();
        log_init("test-log");
        log_set_max_level(LOG_DEBUG);
        capture_start(&c);

        errno = EXDEV;
        log_warn("hello %d %s", 42, "world");
        assert_int_equal(errno, EXDEV); /* preserved */
        log_err("second");
        log_notice("multi\nline");
        log_emit(LOG_DEBUG | LOG_DAEMON, "f.c", 1, "f", "facility bits ignored");
        log_emit(LOG_CRIT, NULL, 0, NULL, "no location");

        snprintf(expect, sizeof(expect), "test-log[%ld]: warning: hello 42 world\n", (long)getpid());
        assert_string_equal(capture_next(&c, buf, sizeof(buf)), expect);
        snprintf(expect, sizeof(expect), "test-log[%ld]: error: second\n", (long)getpid());
        assert_string_equal(capture_next(&c, buf, sizeof(buf)), expect);
        /* one write per message, even with an embedded newline */
        snprintf(expect, sizeof(expect), "test-log[%ld]: notice: multi\nline\n", (long)getpid());
        assert_string_equal(capture_next(&c, buf, sizeof(buf)), expect);
        snprintf(expect, sizeof(expect), "test-log[%ld]: debug: facility bits ignored\n", (long)getpid());
        assert_string_equal(capture_next(&c, buf, sizeof(buf)), expect);
        snprintf(expect, sizeof(expect), "test-log[%ld]: crit: no location\n", (long)getpid());
        assert_string_equal(capture_next(&c, buf, sizeof(buf)), expect);
        assert_null(capture_next(&c, buf, sizeof(buf)));

        /* NULL identifier means "bus1"; long ones are cut to 63 bytes */
        log_init(NULL);
        log_info("x");
        snprintf(expect, sizeof(expect), "bus1[%ld]: info: x\n", (long)getpid());
        assert_string_equal(capture_next(&c, buf, sizeof(buf)), expect);
        memset(expect, 'i', 100);
        expect[100] = '\0';
        log_init(expect);
        log_info("y");
        assert_non_null(capture_next(&c, buf, sizeof(buf)));
        assert_true(strncmp(buf, expect, 63) == 0);
        assert_int_equal(buf[63], '[');

        capture_stop(&c);
        log_set_max_level(LOG_INFO);
}

static void test_levels(void **state)
{
        struct capture c;
        char buf[4096];

        env_reset();
        log_init("test-log");
        log_set_max_level(LOG_INFO);
        assert_int_equal(log_get_max_level(), LOG_INFO);
        capture_start(&c);

        log_debug("dropped");
        assert_null(capture_next(&c, buf, sizeof(buf)));
        log_info("kept");
        assert_non_null(strstr(capture_next(&c, buf, sizeof(buf)), ": info: kept\n"));

        log_set_max_level(LOG_WARNING);
        log_notice("dropped");
        log_info("dropped");
        assert_null(capture_next(&c, buf, sizeof(buf)));
        log_warn("kept");
        assert_non_null(strstr(capture_next(&c, buf, sizeof(buf)), ": warning: kept\n"));
        log_err("kept");
        assert_non_null(strstr(capture_next(&c, buf, sizeof(buf)), ": error: kept\n"));

        /* out of range is clamped */
        log_set_max_level(100);
        assert_int_equal(log_get_max_level(), LOG_DEBUG);
        log_set_max_level(-3);
        assert_int_equal(log_get_max_level(), LOG_EMERG);
        log_err("dropped");
        assert_null(capture_next(&c, buf, sizeof(buf)));
        log_emit(LOG_EMERG, __FILE__, __LINE__, __func__, "kept");
        assert_non_null(strstr(capture_next(&c, buf, sizeof(buf)), ": emerg: kept\n"));

        capture_stop(&c);
        log_set_max_level(LOG_INFO);
}

static void test_env_level(void **state)
{
        static const struct {
                const char *value;
                int level; /* -1: ignored */
        } cases[] = {
                { "debug", LOG_DEBUG }, { "DEBUG", LOG_DEBUG }, { "err", LOG_ERR },
                { "error", LOG_ERR },   { "warn", LOG_WARNING }, { "warning", LOG_WARNING },
                { "notice", LOG_NOTICE }, { "info", LOG_INFO }, { "crit", LOG_CRIT },
                { "alert", LOG_ALERT }, { "emerg", LOG_EMERG }, { "0", LOG_EMERG },
                { "7", LOG_DEBUG },     { "3", LOG_ERR },       { "8", -1 },
                { "-1", -1 },           { "", -1 },             { "bogus", -1 },
                { "33", -1 },           { "info ", -1 },
        };
        struct capture c;
        char buf[4096];
        size_t i;

        env_reset();
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
                setenv("BUS1_LOG_LEVEL", cases[i].value, 1);
                log_init("test-log");
                log_set_max_level(LOG_NOTICE);
                assert_int_equal(log_get_max_level(),
                                 cases[i].level >= 0 ? cases[i].level : LOG_NOTICE);
        }

        /* the environment overrides log_set_max_level() in both directions */
        setenv("BUS1_LOG_LEVEL", "debug", 1);
        log_init("test-log");
        log_set_max_level(LOG_ERR);
        capture_start(&c);
        log_debug("kept");
        assert_non_null(strstr(capture_next(&c, buf, sizeof(buf)), ": debug: kept\n"));
        setenv("BUS1_LOG_LEVEL", "err", 1);
        log_init("test-log");
        log_set_max_level(LOG_DEBUG);
        log_warn("dropped");
        assert_null(capture_next(&c, buf, sizeof(buf)));
        capture_stop(&c);

        /* and stops doing so once unset and re-read */
        unsetenv("BUS1_LOG_LEVEL");
        log_init("test-log");
        assert_int_equal(log_get_max_level(), LOG_DEBUG);
        log_set_max_level(LOG_INFO);
}

static void test_truncate(void **state)
{
        static char big[3 * LOG_MESSAGE_MAX];
        struct capture c;
        char buf[4 * LOG_MESSAGE_MAX], prefix[64];
        size_t plen;

        env_reset();
        log_init("test-log");
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        capture_start(&c);

        log_info("%s", big);
        assert_non_null(capture_next(&c, buf, sizeof(buf)));
        plen = (size_t)snprintf(prefix, sizeof(prefix), "test-log[%ld]: info: ", (long)getpid());
        assert_true(strncmp(buf, prefix, plen) == 0);
        /* LOG_MESSAGE_MAX - 1 bytes of message, the last three "...", then \n */
        assert_int_equal(strlen(buf), plen + LOG_MESSAGE_MAX - 1 + 1);
        assert_string_equal(buf + strlen(buf) - 4, "...\n");
        assert_int_equal(buf[plen + LOG_MESSAGE_MAX - 5], 'a');

        /* exactly LOG_MESSAGE_MAX - 1 bytes fit without cutting */
        big[LOG_MESSAGE_MAX - 1] = '\0';
        log_info("%s", big);
        assert_non_null(capture_next(&c, buf, sizeof(buf)));
        assert_int_equal(strlen(buf), plen + LOG_MESSAGE_MAX - 1 + 1);
        assert_string_equal(buf + strlen(buf) - 4, "aaa\n");

        capture_stop(&c);
}

/* A journal stand-in: a datagram socket bound in a temporary directory. */
struct journal {
        char dir[64];
        char path[128];
        int fd;
};

static void journal_start(struct journal *j)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        strcpy(j->dir, "/tmp/test-log.XXXXXX");
        assert_non_null(mkdtemp(j->dir));
        snprintf(j->path, sizeof(j->path), "%s/socket", j->dir);
        j->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(j->fd >= 0);
        strcpy(sa.sun_path, j->path);
        assert_int_equal(bind(j->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        setenv("BUS1_JOURNAL_SOCKET", j->path, 1);
}

static void journal_stop(struct journal *j)
{
        close(j->fd);
        unlink(j->path);
        rmdir(j->dir);
}

/* Point $JOURNAL_STREAM at the current fd 2, adjusted by @ino_delta. */
static void set_journal_stream(long ino_delta)
{
        struct stat st;
        char v[64];

        assert_int_equal(fstat(STDERR_FILENO, &st), 0);
        snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino + (unsigned long long)ino_delta);
        setenv("JOURNAL_STREAM", v, 1);
}

struct field {
        char key[32];
        const char *value;
        size_t len;
};

/* Parse a native-protocol datagram into @fields; returns the field count. */
static size_t parse_fields(const char *d, size_t n, struct field *fields, size_t max)
{
        size_t count = 0, klen;
        const char *end = d + n, *eq, *nl;
        uint64_t len;
        int i;

        while (d < end) {
                const char *k = d;

                assert_true(count < max);
                nl = memchr(d, '\n', (size_t)(end - d));
                eq = memchr(d, '=', (size_t)(end - d));
                assert_non_null(nl);
                if (eq && eq < nl) {
                        klen = (size_t)(eq - d);
                        fields[count].value = eq + 1;
                        fields[count].len = (size_t)(nl - eq - 1);
                        d = nl + 1;
                } else {
                        klen = (size_t)(nl - d);
                        assert_true(end - nl - 1 >= 8);
                        len = 0;
                        for (i = 7; i >= 0; --i)
                                len = (len << 8) | (unsigned char)nl[1 + i];
                        assert_true(len <= (uint64_t)(end - nl - 1 - 8 - 1));
                        fields[count].value = nl + 9;
                        fields[count].len = (size_t)len;
                        assert_int_equal(nl[9 + len], '\n');
                        d = nl + 9 + len + 1;
                }
                assert_true(klen > 0 && klen < sizeof(fields[count].key));
                memcpy(fields[count].key, k, klen);
                fields[count].key[klen] = '\0';
                ++count;
        }
        return count;
}

static const struct field *find_field(const struct field *f, size_t n, const char *key)
{
        size_t i;

        for (i = 0; i < n; ++i)
                if (!strcmp(f[i].key, key))
                        return &f[i];
        return NULL;
}

static void assert_field(const struct field *f, size_t n, const char *key, const char *value)
{
        const struct field *x = find_field(f, n, key);

        assert_non_null(x);
        assert_int_equal(x->len, strlen(value));
        assert_memory_equal(x->value, value, x->len);
}

static void test_journal(void **state)
{
        static char dgram[4 * LOG_MESSAGE_MAX], big[2 * LOG_MESSAGE_MAX];
        struct field f[16];
        struct journal j;
        struct capture c;
        char buf[256], num[32];
        const struct field *m;
        size_t n;
        ssize_t l;
        int line;

        env_reset();
        journal_start(&j);
        capture_start(&c);
        set_journal_stream(0);
        log_init("test-log");

        line = __LINE__ + 1;
        log_notice("hello %d", 5);
        l = recv(j.fd, dgram, sizeof(dgram), MSG_DONTWAIT);
        assert_true(l > 0);
        n = parse_fields(dgram, (size_t)l, f, 16);
        assert_int_equal(n, 7);
        assert_field(f, n, "MESSAGE", "hello 5");
        assert_field(f, n, "PRIORITY", "5");
        assert_field(f, n, "SYSLOG_IDENTIFIER", "test-log");
        snprintf(num, sizeof(num), "%ld", (long)getpid());
        assert_field(f, n, "SYSLOG_PID", num);
        assert_field(f, n, "CODE_FILE", __FILE__);
        snprintf(num, sizeof(num), "%d", line);
        assert_field(f, n, "CODE_LINE", num);
        assert_field(f, n, "CODE_FUNC", "test_journal");
        /* nothing went to stderr */
        assert_null(capture_next(&c, buf, sizeof(buf)));

        /* level filtering applies to the journal as well */
        log_debug("dropped");
        assert_true(recv(j.fd, dgram, sizeof(dgram), MSG_DONTWAIT) < 0 && errno == EAGAIN);

        /* a message with a newline uses the binary field format */
        log_err("two\nlines");
        l = recv(j.fd, dgram, sizeof(dgram), MSG_DONTWAIT);
        assert_true(l > 0);
        n = parse_fields(dgram, (size_t)l, f, 16);
        assert_field(f, n, "MESSAGE", "two\nlines");
        assert_field(f, n, "PRIORITY", "3");

        /* without a location there are no CODE_* fields */
        log_emit(LOG_INFO, NULL, 0, NULL, "bare");
        l = recv(j.fd, dgram, sizeof(dgram), MSG_DONTWAIT);
        assert_true(l > 0);
        n = parse_fields(dgram, (size_t)l, f, 16);
        assert_int_equal(n, 4);
        assert_null(find_field(f, n, "CODE_FILE"));
        assert_field(f, n, "MESSAGE", "bare");

        /* long messages are cut */
        memset(big, 'b', sizeof(big) - 1);
        log_info("%s", big);
        l = recv(j.fd, dgram, sizeof(dgram), MSG_DONTWAIT);
        assert_true(l > 0);
        n = parse_fields(dgram, (size_t)l, f, 16);
        m = find_field(f, n, "MESSAGE");
        assert_non_null(m);
        assert_int_equal(m->len, LOG_MESSAGE_MAX - 1);
        assert_memory_equal(m->value + m->len - 3, "...", 3);

        /* the journal is gone: messages fall back to stderr */
        close(j.fd);
        unlink(j.path);
        log_warn("fallback");
        assert_non_null(strstr(capture_next(&c, buf, sizeof(buf)), ": warning: fallback\n"));

        capture_stop(&c);
        j.fd = -1;
        journal_stop(&j);
        env_reset();
        log_init("test-log");
}

static void test_journal_stream_mismatch(void **state)
{
        static const char *const bad[] = { "", "abc", "1", "1:", ":1", "1:2:3", "1:2x" };
        char dgram[4096], buf[256];
        struct journal j;
        struct capture c;
        size_t i;

        env_reset();
        journal_start(&j);
        capture_start(&c);

        /* $JOURNAL_STREAM names another inode: stderr it is */
        set_journal_stream(1);
        log_init("test-log");
        log_info("to stderr");
        assert_non_null(strstr(capture_next(&c, buf, sizeof(buf)), ": info: to stderr\n"));
        assert_true(recv(j.fd, dgram, sizeof(dgram), MSG_DONTWAIT) < 0 && errno == EAGAIN);

        /* unset or malformed $JOURNAL_STREAM: stderr */
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
                setenv("JOURNAL_STREAM", bad[i], 1);
                log_init("test-log");
                log_info("to stderr");
                assert_non_null(capture_next(&c, buf, sizeof(buf)));
                assert_true(recv(j.fd, dgram, sizeof(dgram), MSG_DONTWAIT) < 0 && errno == EAGAIN);
        }
        unsetenv("JOURNAL_STREAM");
        log_init("test-log");
        log_info("to stderr");
        assert_non_null(capture_next(&c, buf, sizeof(buf)));
        assert_true(recv(j.fd, dgram, sizeof(dgram), MSG_DONTWAIT) < 0 && errno == EAGAIN);

        /* matching again: the journal */
        set_journal_stream(0);
        log_init("test-log");
        log_info("to journal");
        assert_null(capture_next(&c, buf, sizeof(buf)));
        assert_true(recv(j.fd, dgram, sizeof(dgram), MSG_DONTWAIT) > 0);

        capture_stop(&c);
        journal_stop(&j);
        env_reset();
        log_init("test-log");
}

/* The next syslog datagram on @fd as a string, or NULL if there is none. */
static char *syslog_next(int fd, char *buf, size_t size)
{
        ssize_t n = recv(fd, buf, size - 1, MSG_DONTWAIT);

        if (n < 0) {
                assert_int_equal(errno, EAGAIN);
                return NULL;
        }
        buf[n] = '\0';
        return buf;
}

/* @s is "<@pri>Mmm dd hh:mm:ss test-log[<our pid>]: @msg" */
static void assert_syslog_line(const char *s, int pri, const char *msg)
{
        char pattern[256];
        regex_t re;

        assert_non_null(s);
        snprintf(pattern, sizeof(pattern),
                 "^<%d>[A-Z][a-z][a-z] [ 1-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9] test-log\\[%ld\\]: ", pri,
                 (long)getpid());
        assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
        if (regexec(&re, s, 0, NULL, 0) != 0)
                fail_msg("\"%s\" does not match \"%s\"", s, pattern);
        regfree(&re);
        assert_string_equal(strstr(s, "]: ") + 3, msg);
}

static void test_syslog(void **state)
{
        static char dgram[2 * LOG_MESSAGE_MAX], big[2 * LOG_MESSAGE_MAX];
        struct journal j;
        struct capture c;
        char buf[4096], *p;

        env_reset();
        journal_start(&j);      /* the same stand-in: a bound datagram socket */
        unsetenv("BUS1_JOURNAL_SOCKET");
        setenv("BUS1_SYSLOG_SOCKET", j.path, 1);
        log_init("test-log");
        log_set_max_level(LOG_INFO);
        capture_start(&c);

        /* default: stderr only */
        assert_int_equal(log_get_targets(), LOG_TARGET_STDERR);
        log_info("nowhere near syslog");
        assert_non_null(capture_next(&c, buf, sizeof(buf)));
        assert_null(syslog_next(j.fd, dgram, sizeof(dgram)));

        /* syslog only, facility LOG_DAEMON, one datagram per message */
        log_set_targets(LOG_TARGET_SYSLOG);
        assert_int_equal(log_get_targets(), LOG_TARGET_SYSLOG);
        errno = 42;
        log_warn("disk %s is %d%% full", "sda", 99);
        assert_int_equal(errno, 42);
        assert_syslog_line(syslog_next(j.fd, dgram, sizeof(dgram)), (3 << 3) | 4, "disk sda is 99% full");
        assert_null(syslog_next(j.fd, dgram, sizeof(dgram)));
        assert_null(capture_next(&c, buf, sizeof(buf)));
        log_err("e");
        assert_syslog_line(syslog_next(j.fd, dgram, sizeof(dgram)), (3 << 3) | 3, "e");
        /* the level filter applies, a message keeps its priority */
        log_debug("dropped");
        assert_null(syslog_next(j.fd, dgram, sizeof(dgram)));
        log_set_max_level(LOG_DEBUG);
        log_debug("kept");
        assert_syslog_line(syslog_next(j.fd, dgram, sizeof(dgram)), (3 << 3) | 7, "kept");

        /* a long message is cut like on stderr */
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        log_info("%s", big);
        p = syslog_next(j.fd, dgram, sizeof(dgram));
        assert_non_null(p);
        p = strstr(p, "]: ") + 3;
        assert_int_equal(strlen(p), LOG_MESSAGE_MAX - 1);
        assert_string_equal(p + strlen(p) - 4, "a...");

        /* both: each message once on each */
        log_set_targets(LOG_TARGET_SYSLOG | LOG_TARGET_STDERR);
        log_notice("twice");
        assert_syslog_line(syslog_next(j.fd, dgram, sizeof(dgram)), (3 << 3) | 5, "twice");
        assert_non_null(strstr(capture_next(&c, buf, sizeof(buf)), ": notice: twice\n"));
        assert_null(syslog_next(j.fd, dgram, sizeof(dgram)));
        assert_null(capture_next(&c, buf, sizeof(buf)));

        /* log_init() keeps the targets */
        log_init("test-log");
        assert_int_equal(log_get_targets(), LOG_TARGET_SYSLOG | LOG_TARGET_STDERR);

        /* no target is taken as stderr */
        log_set_targets(0);
        assert_int_equal(log_get_targets(), LOG_TARGET_STDERR);
        log_info("stderr again");
        assert_non_null(capture_next(&c, buf, sizeof(buf)));
        assert_null(syslog_next(j.fd, dgram, sizeof(dgram)));

        /* no syslog daemon listening: the message is lost, quietly */
        setenv("BUS1_SYSLOG_SOCKET", "/nonexistent/bus1-test-log", 1);
        log_set_targets(LOG_TARGET_SYSLOG);
        errno = 7;
        log_err("lost");
        assert_int_equal(errno, 7);
        assert_null(capture_next(&c, buf, sizeof(buf)));
        assert_null(syslog_next(j.fd, dgram, sizeof(dgram)));

        capture_stop(&c);
        journal_stop(&j);
        env_reset();
        log_init("test-log");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_format),
                cmocka_unit_test(test_levels),
                cmocka_unit_test(test_env_level),
                cmocka_unit_test(test_truncate),
                cmocka_unit_test(test_journal),
                cmocka_unit_test(test_journal_stream_mismatch),
                cmocka_unit_test(test_syslog),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
