/*
 * Unit tests of dbus-proxy/sasl.c: every command in every state, bad lines,
 * pipelining, uid checks, ANONYMOUS allowed/denied, fd negotiation, output
 * backpressure, byte-at-a-time feeding; then real clients (libdbus, sd-bus,
 * gdbus) authenticating against the state machine over a unix socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <dbus/dbus.h>
#include <systemd/sd-bus.h>

#include "dbus-proxy/guid.h"
#include "dbus-proxy/sasl.h"

#define GUID "0123456789abcdef0123456789abcdef"
#define UID 1000
/* "1000" hex-encoded */
#define UID_HEX "31303030"

static void setup(struct sasl *s, unsigned int mechs, bool fds)
{
        sasl_init(s, mechs, true, UID, fds, GUID);
}

/* Feed a whole string; returns the sasl_feed() result, checks consumption. */
static int feed(struct sasl *s, const char *in, size_t n, size_t *consumed)
{
        return sasl_feed(s, in, n, consumed);
}

static int feed_n(struct sasl *s, const char *in, size_t n)
{
        size_t consumed;
        int r = feed(s, in, n, &consumed);

        if (r == SASL_CONTINUE)
                assert_int_equal(consumed, n);
        return r;
}

/* Feed a string literal (which may start with the NUL byte) completely. */
#define feed_all(_s, _lit) feed_n((_s), "" _lit, sizeof(_lit) - 1)

/* Compare and drain the pending output. */
static void expect_output(struct sasl *s, const char *expected)
{
        size_t n;
        const char *out = sasl_output(s, &n);

        if (n != strlen(expected) || memcmp(out, expected, n))
                fail_msg("output \"%.*s\" != expected \"%s\"", (int)n, out, expected);
        sasl_output_advance(s, n);
}

static void test_nul_byte(void **state)
{
        struct sasl s;
        size_t consumed;

        setup(&s, SASL_MECH_EXTERNAL, true);
        assert_int_equal(feed(&s, "", 0, &consumed), SASL_CONTINUE);
        assert_int_equal(consumed, 0);
        assert_int_equal(feed(&s, "AUTH", 4, &consumed), SASL_E_FAILED);
        assert_string_equal(sasl_failure(&s), "first byte is not NUL");
        /* final: nothing more consumed */
        assert_int_equal(feed(&s, "\0", 1, &consumed), SASL_E_FAILED);
        assert_int_equal(consumed, 0);

        setup(&s, SASL_MECH_EXTERNAL, true);
        assert_null(sasl_failure(&s));
        assert_int_equal(feed(&s, "\0", 1, &consumed), SASL_CONTINUE);
        assert_int_equal(consumed, 1);
        /* a second NUL is a control byte inside a line */
        assert_int_equal(feed(&s, "\0", 1, &consumed), SASL_E_FAILED);
}

static void test_external_ok(void **state)
{
        struct sasl s;
        size_t consumed;

        setup(&s, SASL_MECH_EXTERNAL, true);
        assert_int_equal(feed_all(&s, "\0AUTH EXTERNAL " UID_HEX "\r\n"), SASL_CONTINUE);
        expect_output(&s, "OK " GUID "\r\n");
        assert_int_equal(s.auth, SASL_AUTH_EXTERNAL);
        assert_int_equal(feed(&s, "BEGIN\r\n", 7, &consumed), SASL_DONE);
        assert_int_equal(consumed, 7);
        expect_output(&s, "");
        /* done is final */
        assert_int_equal(feed(&s, "x", 1, &consumed), SASL_DONE);
        assert_int_equal(consumed, 0);
        assert_false(sasl_fds_agreed(&s));

        /* upper-case hex is accepted too; uid 0 */
        sasl_init(&s, SASL_MECH_EXTERNAL, true, 0, true, GUID);
        assert_int_equal(feed_all(&s, "\0AUTH EXTERNAL 30\r\n"), SASL_CONTINUE);
        expect_output(&s, "OK " GUID "\r\n");
        sasl_init(&s, SASL_MECH_EXTERNAL, true, 1010, true, GUID);
        assert_int_equal(feed_all(&s, "\0AUTH EXTERNAL 31303130\r\n"), SASL_CONTINUE);
        expect_output(&s, "OK " GUID "\r\n");
}

static void test_external_wrong_uid(void **state)
{
        static const char *const bad[] = {
                "AUTH EXTERNAL 31303031\r\n",   /* 1001 */
                "AUTH EXTERNAL 3130303\r\n",    /* odd length */
                "AUTH EXTERNAL 3x303030\r\n",   /* not hex */
                "AUTH EXTERNAL 2d31\r\n",       /* "-1" */
                "AUTH EXTERNAL 61\r\n",         /* "a" */
                "AUTH EXTERNAL 3430393439363732393536\r\n", /* 4294967296 */
                "AUTH EXTERNAL 3430393439363732393535\r\n", /* (uid_t)-1 */
                "AUTH EXTERNAL " UID_HEX " extra\r\n",
        };
        struct sasl s;

        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); ++i) {
                setup(&s, SASL_MECH_EXTERNAL, true);
                assert_int_equal(feed_all(&s, "\0"), SASL_CONTINUE);
                assert_int_equal(feed_n(&s, bad[i], strlen(bad[i])), SASL_CONTINUE);
                expect_output(&s, "REJECTED EXTERNAL\r\n");
                assert_int_equal(s.state, SASL_STATE_WAIT_AUTH);
                /* a retry with the right uid still works */
                assert_int_equal(feed_all(&s, "AUTH EXTERNAL " UID_HEX "\r\n"), SASL_CONTINUE);
                expect_output(&s, "OK " GUID "\r\n");
        }
}

static void test_external_data(void **state)
{
        struct sasl s;
        size_t consumed;

        /* empty DATA: the socket's uid */
        setup(&s, SASL_MECH_EXTERNAL, true);
        assert_int_equal(feed_all(&s, "\0AUTH EXTERNAL\r\n"), SASL_CONTINUE);
        expect_output(&s, "DATA\r\n");
        assert_int_equal(s.state, SASL_STATE_WAIT_DATA);
        assert_int_equal(feed_all(&s, "DATA\r\n"), SASL_CONTINUE);
        expect_output(&s, "OK " GUID "\r\n");

        /* "DATA " with an empty argument, and trailing space after AUTH EXTERNAL */
        setup(&s, SASL_MECH_EXTERNAL, true);
        assert_int_equal(feed_all(&s, "\0AUTH EXTERNAL \r\nDATA \r\n"), SASL_CONTINUE);
        expect_output(&s, "DATA\r\nOK " GUID "\r\n");

        /* DATA with the right and the wrong uid */
        setup(&s, SASL_MECH_EXTERNAL, true);
        assert_int_equal(feed_all(&s, "\0AUTH EXTERNAL\r\nDATA 31\r\n"), SASL_CONTINUE);
        expect_output(&s, "DATA\r\nREJECTED EXTERNAL\r\n");
        assert_int_equal(feed_all(&s, "AUTH EXTERNAL\r\nDATA " UID_HEX "\r\n"), SASL_CONTINUE);
        expect_output(&s, "DATA\r\nOK " GUID "\r\n");

        /* CANCEL and ERROR in WAIT_DATA reject; other commands are errors */
        setup(&s, SASL_MECH_EXTERNAL, true);
        assert_int_equal(feed_all(&s, "\0AUTH EXTERNAL\r\nCANCEL\r\n"), SASL_CONTINUE);
        expect_output(&s, "DATA\r\nREJECTED EXTERNAL\r\n");
        assert_int_equal(feed_all(&s, "AUTH EXTERNAL\r\nERROR bad\r\n"), SASL_CONTINUE);
        expect_output(&s, "DATA\r\nREJECTED EXTERNAL\r\n");
        assert_int_equal(feed_all(&s, "AUTH EXTERNAL\r\nAUTH EXTERNAL\r\n"), SASL_CONTINUE);
        expect_output(&s, "DATA\r\nERROR \"Command not expected now\"\r\n");
        assert_int_equal(s.state, SASL_STATE_WAIT_DATA);
        assert_int_equal(feed_all(&s, "NEGOTIATE_UNIX_FD\r\n"), SASL_CONTINUE);
        expect_output(&s, "ERROR \"Command not expected now\"\r\n");
        assert_int_equal(feed(&s, "BEGIN\r\n", 7, &consumed), SASL_E_FAILED);
        assert_string_equal(sasl_failure(&s), "BEGIN before authentication");
}

static void test_no_mechanism(void **state)
{
        struct sasl s;

        setup(&s, SASL_MECH_EXTERNAL | SASL_MECH_ANONYMOUS, true);
        assert_int_equal(feed_all(&s, "\0AUTH\r\n"), SASL_CONTINUE);
        expect_output(&s, "REJECTED EXTERNAL ANONYMOUS\r\n");
        assert_int_equal(feed_all(&s, "AUTH \r\n"), SASL_CONTINUE);
        expect_output(&s, "REJECTED EXTERNAL ANONYMOUS\r\n");
        assert_int_equal(feed_all(&s, "AUTH DBUS_COOKIE_SHA1 31303030\r\n"), SASL_CONTINUE);
        expect_output(&s, "REJECTED EXTERNAL ANONYMOUS\r\n");
        assert_int_equal(feed_all(&s, "AUTH external " UID_HEX "\r\n"), SASL_CONTINUE);
        expect_output(&s, "REJECTED EXTERNAL ANONYMOUS\r\n");

        /* no peer credentials: EXTERNAL is neither offered nor accepted */
        sasl_init(&s, SASL_MECH_EXTERNAL | SASL_MECH_ANONYMOUS, false, 0, true, GUID);
        assert_int_equal(feed_all(&s, "\0AUTH EXTERNAL 30\r\n"), SASL_CONTINUE);
        expect_output(&s, "REJECTED ANONYMOUS\r\n");

        /* nothing enabled at all */
        sasl_init(&s, SASL_MECH_EXTERNAL, false, 0, true, GUID);
        assert_int_equal(feed_all(&s, "\0AUTH\r\n"), SASL_CONTINUE);
        expect_output(&s, "REJECTED\r\n");
}

static void test_anonymous(void **state)
{
        struct sasl s;
        size_t consumed;

        /* denied unless enabled */
        setup(&s, SASL_MECH_EXTERNAL, true);
        assert_int_equal(feed_all(&s, "\0AUTH ANONYMOUS\r\n"), SASL_CONTINUE);
        expect_output(&s, "REJECTED EXTERNAL\r\n");
        assert_int_equal(feed_all(&s, "AUTH ANONYMOUS 6c6962\r\n"), SASL_CONTINUE);
        expect_output(&s, "REJECTED EXTERNAL\r\n");

        /* allowed: with and without trace */
        setup(&s, SASL_MECH_EXTERNAL | SASL_MECH_ANONYMOUS, true);
        assert_int_equal(feed_all(&s, "\0AUTH ANONYMOUS 6c6962646275732031\r\n"), SASL_CONTINUE);
        expect_output(&s, "OK " GUID "\r\n");
        assert_int_equal(s.auth, SASL_AUTH_ANONYMOUS);
        assert_int_equal(feed(&s, "BEGIN\r\n", 7, &consumed), SASL_DONE);

        sasl_init(&s, SASL_MECH_ANONYMOUS, false, 0, false, GUID);
        assert_int_equal(feed_all(&s, "\0AUTH ANONYMOUS\r\n"), SASL_CONTINUE);
        expect_output(&s, "OK " GUID "\r\n");

        /* as dbus-daemon: a trailing odd hex digit is ignored */
        sasl_init(&s, SASL_MECH_ANONYMOUS, false, 0, false, GUID);
        assert_int_equal(feed_all(&s, "\0AUTH ANONYMOUS 7465737\r\n"), SASL_CONTINUE);
        expect_output(&s, "OK " GUID "\r\n");

        /* a trace that is not hex is an ERROR; the conversation goes on */
        sasl_init(&s, SASL_MECH_ANONYMOUS, false, 0, false, GUID);
        assert_int_equal(feed_all(&s, "\0AUTH ANONYMOUS xyz\r\n"), SASL_CONTINUE);
        expect_output(&s, "ERROR \"Invalid hex encoding\"\r\n");
        assert_int_equal(s.state, SASL_STATE_WAIT_AUTH);
        assert_int_equal(feed_all(&s, "AUTH ANONYMOUS 74 65\r\n"), SASL_CONTINUE);
        expect_output(&s, "ERROR \"Invalid hex encoding\"\r\n");
        assert_int_equal(feed_all(&s, "AUTH ANONYMOUS\r\n"), SASL_CONTINUE);
        expect_output(&s, "OK " GUID "\r\n");

        /* a trace that is not UTF-8, or holds a NUL, is REJECTED */
        sasl_init(&s, SASL_MECH_ANONYMOUS, false, 0, false, GUID);
        assert_int_equal(feed_all(&s, "\0AUTH ANONYMOUS c328\r\n"), SASL_CONTINUE);
        expect_output(&s, "REJECTED ANONYMOUS\r\n");
        assert_int_equal(feed_all(&s, "AUTH ANONYMOUS 610062\r\n"), SASL_CONTINUE);
        expect_output(&s, "REJECTED ANONYMOUS\r\n");
        assert_int_equal(feed_all(&s, "AUTH ANONYMOUS e282ac\r\n"), SASL_CONTINUE);  /* U+20AC */
        expect_output(&s, "OK " GUID "\r\n");
}

static void test_mech_names(void **state)
{
        assert_int_equal(sasl_mech_from_name("EXTERNAL"), SASL_MECH_EXTERNAL);
        assert_int_equal(sasl_mech_from_name("ANONYMOUS"), SASL_MECH_ANONYMOUS);
        assert_int_equal(sasl_mech_from_name("DBUS_COOKIE_SHA1"), 0);
        assert_int_equal(sasl_mech_from_name("external"), 0);
        assert_int_equal(sasl_mech_from_name(""), 0);
}

static void test_wait_auth_commands(void **state)
{
        struct sasl s;
        size_t consumed;

        setup(&s, SASL_MECH_EXTERNAL, true);
        assert_int_equal(feed_all(&s, "\0ERROR whatever\r\n"), SASL_CONTINUE);
        expect_output(&s, "REJECTED EXTERNAL\r\n");
        assert_int_equal(feed_all(&s, "CANCEL\r\n"), SASL_CONTINUE);
        expect_output(&s, "ERROR \"Command not expected now\"\r\n");
        assert_int_equal(feed_all(&s, "DATA 3030\r\n"), SASL_CONTINUE);
        expect_output(&s, "ERROR \"Command not expected now\"\r\n");
        assert_int_equal(feed_all(&s, "NEGOTIATE_UNIX_FD\r\n"), SASL_CONTINUE);
        expect_output(&s, "ERROR \"Command not expected now\"\r\n");
        assert_int_equal(feed_all(&s, "HELLO\r\n"), SASL_CONTINUE);
        expect_output(&s, "ERROR \"Unknown command\"\r\n");
        assert_int_equal(feed_all(&s, "\r\n"), SASL_CONTINUE);
        expect_output(&s, "ERROR \"Unknown command\"\r\n");
        assert_int_equal(s.state, SASL_STATE_WAIT_AUTH);
        assert_int_equal(feed(&s, "BEGIN\r\n", 7, &consumed), SASL_E_FAILED);
        assert_int_equal(consumed, 7);
}

static void test_wait_begin_commands(void **state)
{
        struct sasl s;

        setup(&s, SASL_MECH_EXTERNAL, true);
        assert_int_equal(feed_all(&s, "\0AUTH EXTERNAL " UID_HEX "\r\n"), SASL_CONTINUE);
        expect_output(&s, "OK " GUID "\r\n");
        assert_int_equal(feed_all(&s, "AUTH EXTERNAL " UID_HEX "\r\n"), SASL_CONTINUE);
        expect_output(&s, "ERROR \"Command not expected now\"\r\n");
        assert_int_equal(feed_all(&s, "DATA\r\n"), SASL_CONTINUE);
        expect_output(&s, "ERROR \"Command not expected now\"\r\n");
        assert_int_equal(feed_all(&s, "BEGIN now\r\n"), SASL_CONTINUE);
        expect_output(&s, "ERROR \"Command not expected now\"\r\n");
        assert_int_equal(s.state, SASL_STATE_WAIT_BEGIN);
        assert_int_equal(feed_all(&s, "NEGOTIATE_UNIX_FD\r\n"), SASL_CONTINUE);
        expect_output(&s, "AGREE_UNIX_FD\r\n");
        assert_true(sasl_fds_agreed(&s));
        /* CANCEL goes back to WAIT_AUTH and forgets the fd agreement */
        assert_int_equal(feed_all(&s, "CANCEL\r\n"), SASL_CONTINUE);
        expect_output(&s, "REJECTED EXTERNAL\r\n");
        assert_false(sasl_fds_agreed(&s));
        assert_int_equal(s.state, SASL_STATE_WAIT_AUTH);
        assert_int_equal(feed_all(&s, "AUTH EXTERNAL " UID_HEX "\r\nERROR x\r\n"), SASL_CONTINUE);
        expect_output(&s, "OK " GUID "\r\nREJECTED EXTERNAL\r\n");
        assert_int_equal(s.state, SASL_STATE_WAIT_AUTH);
}

static void test_unix_fd(void **state)
{
        struct sasl s;
        size_t consumed;

        setup(&s, SASL_MECH_EXTERNAL, false);
        assert_int_equal(feed_all(&s, "\0AUTH EXTERNAL " UID_HEX "\r\nNEGOTIATE_UNIX_FD\r\n"),
                         SASL_CONTINUE);
        expect_output(&s, "OK " GUID "\r\nERROR \"Unix fd passing not supported\"\r\n");
        assert_false(sasl_fds_agreed(&s));
        /* the refusal is not a failure: many of them do not close */
        for (int i = 0; i < 2 * SASL_FAILURES_MAX; ++i) {
                assert_int_equal(feed_all(&s, "NEGOTIATE_UNIX_FD\r\n"), SASL_CONTINUE);
                expect_output(&s, "ERROR \"Unix fd passing not supported\"\r\n");
        }
        assert_int_equal(feed(&s, "BEGIN\r\n", 7, &consumed), SASL_DONE);
        assert_false(sasl_fds_agreed(&s));

        setup(&s, SASL_MECH_EXTERNAL, true);
        assert_int_equal(feed_all(&s, "\0AUTH EXTERNAL " UID_HEX "\r\nNEGOTIATE_UNIX_FD\r\n"),
                         SASL_CONTINUE);
        expect_output(&s, "OK " GUID "\r\nAGREE_UNIX_FD\r\n");
        assert_int_equal(feed(&s, "BEGIN\r\n", 7, &consumed), SASL_DONE);
        assert_true(sasl_fds_agreed(&s));
}

static void test_pipelined(void **state)
{
        static const char in[] = "\0AUTH EXTERNAL\r\nDATA\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n"
                                 "l\1\0\1HELLO-MESSAGE";
        size_t n = sizeof(in) - 1, consumed;
        /* everything up to and including "BEGIN\r\n" (the first 'l') */
        size_t auth_len = (size_t)((const char *)memchr(in, 'l', n) - in);
        struct sasl s;

        setup(&s, SASL_MECH_EXTERNAL, true);
        assert_int_equal(feed(&s, in, n, &consumed), SASL_DONE);
        assert_int_equal(consumed, auth_len);
        assert_int_equal(in[consumed], 'l');
        expect_output(&s, "DATA\r\nOK " GUID "\r\nAGREE_UNIX_FD\r\n");

        /* the same input one byte at a time */
        setup(&s, SASL_MECH_EXTERNAL, true);
        for (size_t i = 0; i < auth_len; ++i) {
                int r = feed(&s, in + i, 1, &consumed);

                assert_int_equal(consumed, 1);
                assert_int_equal(r, i + 1 == auth_len ? SASL_DONE : SASL_CONTINUE);
        }
        expect_output(&s, "DATA\r\nOK " GUID "\r\nAGREE_UNIX_FD\r\n");

        /* every split into two chunks */
        for (size_t cut = 0; cut <= n; ++cut) {
                size_t c1, c2 = 0;
                int r;

                setup(&s, SASL_MECH_EXTERNAL, true);
                r = feed(&s, in, cut, &c1);
                if (r == SASL_CONTINUE) {
                        assert_int_equal(c1, cut);
                        r = feed(&s, in + cut, n - cut, &c2);
                }
                assert_int_equal(r, SASL_DONE);
                assert_int_equal(c1 + c2, auth_len);
        }
}

static void test_bad_lines(void **state)
{
        static const struct {
                const char *in;
                size_t n;
                const char *why;
        } bad[] = {
                { "\0AUTH\xc3\xa9\r\n", 9, "invalid byte in authentication line" },
                { "\0AUTH\x7f\r\n", 8, "invalid byte in authentication line" },
                { "\0AUTH\n", 6, "invalid byte in authentication line" },
                { "\0AUTH\tEXTERNAL\r\n", 16, "invalid byte in authentication line" },
                { "\0AUTH\rX", 7, "CR not followed by LF" },
                { "\0AUTH\r\r\n", 8, "CR not followed by LF" },
                { "\0\0", 2, "invalid byte in authentication line" },
        };
        struct sasl s;
        size_t consumed;

        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); ++i) {
                setup(&s, SASL_MECH_EXTERNAL, true);
                assert_int_equal(feed(&s, bad[i].in, bad[i].n, &consumed), SASL_E_FAILED);
                assert_string_equal(sasl_failure(&s), bad[i].why);
        }

        /* a line without its CRLF just waits */
        setup(&s, SASL_MECH_EXTERNAL, true);
        assert_int_equal(feed_all(&s, "\0AUTH EXTERNAL 31303030"), SASL_CONTINUE);
        expect_output(&s, "");
        assert_int_equal(s.state, SASL_STATE_WAIT_AUTH);
}

static void test_line_length(void **state)
{
        char buf[SASL_LINE_MAX + 8];
        struct sasl s;
        size_t consumed;

        /* exactly SASL_LINE_MAX bytes including CRLF: accepted (unknown mech) */
        memset(buf, 'A', sizeof(buf));
        memcpy(buf, "AUTH ", 5);
        memcpy(buf + SASL_LINE_MAX - 2, "\r\n", 2);
        setup(&s, SASL_MECH_EXTERNAL, true);
        assert_int_equal(feed_all(&s, "\0"), SASL_CONTINUE);
        assert_int_equal(feed(&s, buf, SASL_LINE_MAX, &consumed), SASL_CONTINUE);
        assert_int_equal(consumed, SASL_LINE_MAX);
        expect_output(&s, "REJECTED EXTERNAL\r\n");

        /* one byte more: fails */
        memset(buf, 'A', sizeof(buf));
        memcpy(buf, "AUTH ", 5);
        memcpy(buf + SASL_LINE_MAX - 1, "\r\n", 2);
        setup(&s, SASL_MECH_EXTERNAL, true);
        assert_int_equal(feed_all(&s, "\0"), SASL_CONTINUE);
        assert_int_equal(feed(&s, buf, SASL_LINE_MAX + 1, &consumed), SASL_E_FAILED);
        assert_string_equal(sasl_failure(&s), "authentication line too long");

        /* endless garbage without CRLF: fails at the limit, not later */
        memset(buf, 'x', sizeof(buf));
        setup(&s, SASL_MECH_EXTERNAL, true);
        assert_int_equal(feed_all(&s, "\0"), SASL_CONTINUE);
        assert_int_equal(feed(&s, buf, sizeof(buf), &consumed), SASL_E_FAILED);
        assert_int_equal(consumed, SASL_LINE_MAX);
}

static void test_failure_limit(void **state)
{
        struct sasl s;
        size_t consumed;
        int r = SASL_CONTINUE;
        int i;

        setup(&s, SASL_MECH_EXTERNAL, true);
        assert_int_equal(feed_all(&s, "\0"), SASL_CONTINUE);
        for (i = 0; i < SASL_FAILURES_MAX; ++i) {
                assert_int_equal(feed_n(&s, i % 2 ? "AUTH\r\n" : "FOO\r\n", i % 2 ? 6 : 5), SASL_CONTINUE);
                sasl_output_advance(&s, s.n_output);
        }
        r = feed(&s, "AUTH EXTERNAL 31\r\n", 18, &consumed);
        assert_int_equal(r, SASL_E_FAILED);
        assert_string_equal(sasl_failure(&s), "too many failed authentication attempts");

        /* a success in between does not reset the count (no endless CANCEL loop) */
        setup(&s, SASL_MECH_EXTERNAL, true);
        assert_int_equal(feed_all(&s, "\0"), SASL_CONTINUE);
        r = SASL_CONTINUE;
        for (i = 0; i < 100 && r != SASL_E_FAILED; ++i) {
                r = feed(&s, "AUTH EXTERNAL " UID_HEX "\r\nCANCEL\r\n",
                         strlen("AUTH EXTERNAL " UID_HEX "\r\nCANCEL\r\n"), &consumed);
                sasl_output_advance(&s, s.n_output);
        }
        assert_int_equal(r, SASL_E_FAILED);
        assert_int_equal(i, SASL_FAILURES_MAX + 1);
}

static void test_backpressure(void **state)
{
        char in[64 * 19];
        size_t n = 0, total = 0, consumed, n_out, n_replies = 0;
        struct sasl s;
        int r;

        /* 64 pipelined NEGOTIATE_UNIX_FD after OK (not failures) */
        setup(&s, SASL_MECH_EXTERNAL, false);
        assert_int_equal(feed_all(&s, "\0AUTH EXTERNAL " UID_HEX "\r\n"), SASL_CONTINUE);
        expect_output(&s, "OK " GUID "\r\n");
        for (int i = 0; i < 64; ++i) {
                memcpy(in + n, "NEGOTIATE_UNIX_FD\r\n", 19);
                n += 19;
        }
        r = feed(&s, in, n, &consumed);
        assert_int_equal(r, SASL_CONTINUE);
        assert_true(consumed < n);
        sasl_output(&s, &n_out);
        assert_true(n_out <= SASL_OUTPUT_MAX);
        total = consumed;
        while (total < n) {
                sasl_output(&s, &n_out);
                n_replies += n_out;
                sasl_output_advance(&s, n_out);
                assert_int_equal(feed(&s, in + total, n - total, &consumed), SASL_CONTINUE);
                assert_true(consumed > 0);
                total += consumed;
        }
        sasl_output(&s, &n_out);
        n_replies += n_out;
        assert_int_equal(n_replies, 64 * strlen("ERROR \"Unix fd passing not supported\"\r\n"));
}

/*
 * Real clients. The test listens on a unix socket, forks a client, and serves
 * the handshake with the state machine; after BEGIN it reads the first
 * message and checks it is a method call named "Hello".
 */

struct served {
        enum sasl_auth auth;
        bool fds_agreed;
        bool hello;
        unsigned char first[2];
};

static int listen_tmp(char *dir, size_t n_dir, char *addr, size_t n_addr)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        snprintf(dir, n_dir, "/tmp/bus1-test-sasl-XXXXXX");
        assert_non_null(mkdtemp(dir));
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", dir);
        snprintf(addr, n_addr, "unix:path=%s", sa.sun_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 4), 0);
        return fd;
}

static void cleanup_tmp(const char *dir)
{
        char path[256];

        snprintf(path, sizeof(path), "%s/sock", dir);
        unlink(path);
        rmdir(dir);
}

static int wait_readable(int fd)
{
        struct pollfd p = { .fd = fd, .events = POLLIN };

        return poll(&p, 1, 10000);
}

static uint32_t read_u32(const unsigned char *p, bool le)
{
        return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
                  : (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}

static void serve(int lfd, struct served *out)
{
        static unsigned char buf[65536];
        struct ucred cred;
        socklen_t n_cred = sizeof(cred);
        char guid[GUID_LEN + 1];
        struct sasl s;
        size_t n = 0, consumed = 0, n_out, need;
        int fd, r = SASL_CONTINUE;
        ssize_t l;

        memset(out, 0, sizeof(*out));
        assert_int_equal(guid_generate(guid), 0);
        assert_int_equal(wait_readable(lfd), 1);
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &n_cred), 0);
        sasl_init(&s, SASL_MECH_EXTERNAL, true, cred.uid, true, guid);

        while (r == SASL_CONTINUE) {
                assert_int_equal(wait_readable(fd), 1);
                l = read(fd, buf, sizeof(buf));
                assert_true(l > 0);
                n = (size_t)l;
                consumed = 0;
                while (r == SASL_CONTINUE && consumed < n) {
                        size_t c;
                        const char *o;

                        r = sasl_feed(&s, buf + consumed, n - consumed, &c);
                        consumed += c;
                        o = sasl_output(&s, &n_out);
                        if (n_out) {
                                assert_int_equal(write(fd, o, n_out), (ssize_t)n_out);
                                sasl_output_advance(&s, n_out);
                        }
                }
        }
        assert_int_equal(r, SASL_DONE);
        out->auth = s.auth;
        out->fds_agreed = sasl_fds_agreed(&s);

        /* the message stream: leftover bytes plus whatever follows */
        memmove(buf, buf + consumed, n - consumed);
        n -= consumed;
        need = 16;
        for (;;) {
                if (n >= 16) {
                        bool le = buf[0] == 'l';
                        uint32_t fields = read_u32(buf + 12, le);

                        need = 16 + ((fields + 7) & ~7u);
                        assert_true(need <= sizeof(buf));
                }
                if (n >= need && n >= 16)
                        break;
                assert_int_equal(wait_readable(fd), 1);
                l = read(fd, buf + n, sizeof(buf) - n);
                assert_true(l > 0);
                n += (size_t)l;
        }
        out->first[0] = buf[0];
        out->first[1] = buf[1];
        out->hello = memmem(buf, need, "Hello", 5) != NULL;
        close(fd);
}

/*
 * Runs @client in a child and serves it; @exit_zero: the client must exit 0
 * (our own client code); gdbus exits 1 when the server hangs up on its call.
 */
static void run_client(void (*client)(const char *), int lfd, const char *addr,
                       struct served *out, bool exit_zero)
{
        pid_t pid = fork();
        int status;

        assert_true(pid >= 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                close(lfd);
                client(addr);
                _exit(0);
        }
        serve(lfd, out);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (exit_zero)
                assert_int_equal(WEXITSTATUS(status), 0);
}

static void client_libdbus(const char *addr)
{
        DBusError err;
        DBusConnection *c;

        dbus_error_init(&err);
        c = dbus_connection_open_private(addr, &err);
        if (!c)
                _exit(2);
        /* sends Hello; fails when the test server hangs up */
        dbus_bus_register(c, &err);
        dbus_error_free(&err);
        dbus_connection_close(c);
        dbus_connection_unref(c);
        dbus_shutdown();
        _exit(0);
}

static void client_sdbus(const char *addr)
{
        sd_bus *bus = NULL;
        sd_bus_message *reply = NULL;
        sd_bus_error err = SD_BUS_ERROR_NULL;

        if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, addr) < 0 ||
            sd_bus_set_bus_client(bus, 1) < 0 || sd_bus_start(bus) < 0)
                _exit(2);
        /* the Hello of sd_bus_start() goes out while this call waits */
        sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                           "org.freedesktop.DBus", "GetId", &err, &reply, "");
        sd_bus_error_free(&err);
        sd_bus_message_unref(reply);
        sd_bus_flush_close_unref(bus);
        _exit(0);
}

static void client_gdbus(const char *addr)
{
        int null = open("/dev/null", O_RDWR);

        if (null >= 0) {
                dup2(null, 1);
                dup2(null, 2);
        }
        execlp("gdbus", "gdbus", "call", "--address", addr, "--dest", "org.freedesktop.DBus",
               "--object-path", "/org/freedesktop/DBus", "--method",
               "org.freedesktop.DBus.GetId", (char *)NULL);
        _exit(127);
}

static void check_hello(const struct served *sv)
{
        assert_true(sv->first[0] == 'l' || sv->first[0] == 'B');
        assert_int_equal(sv->first[1], 1); /* METHOD_CALL */
        assert_true(sv->hello);
        assert_int_equal(sv->auth, SASL_AUTH_EXTERNAL);
}

static void test_client_libdbus(void **state)
{
        char dir[64], addr[128];
        struct served sv;
        int lfd = listen_tmp(dir, sizeof(dir), addr, sizeof(addr));

        run_client(client_libdbus, lfd, addr, &sv, true);
        check_hello(&sv);
        assert_true(sv.fds_agreed);
        close(lfd);
        cleanup_tmp(dir);
}

static void test_client_sdbus(void **state)
{
        char dir[64], addr[128];
        struct served sv;
        int lfd = listen_tmp(dir, sizeof(dir), addr, sizeof(addr));

        run_client(client_sdbus, lfd, addr, &sv, true);
        check_hello(&sv);
        assert_true(sv.fds_agreed);
        close(lfd);
        cleanup_tmp(dir);
}

static void test_client_gdbus(void **state)
{
        char dir[64], addr[128];
        struct served sv;
        int lfd;

        if (access("/usr/bin/gdbus", X_OK) != 0)
                skip();
        lfd = listen_tmp(dir, sizeof(dir), addr, sizeof(addr));
        run_client(client_gdbus, lfd, addr, &sv, false);
        check_hello(&sv);
        close(lfd);
        cleanup_tmp(dir);
}

/*
 * The same conversations with dbus-daemon ($DBUS_DAEMON, no <auth> limits,
 * so EXTERNAL and ANONYMOUS are allowed): the kind of every reply (first
 * word), and whether the connection is closed, must match ours. Known,
 * deliberate differences are left out: we count ERROR replies towards the
 * failure limit (dbus-daemon allows 6 REJECTED and unlimited ERRORs) and do
 * not offer DBUS_COOKIE_SHA1.
 */

#define MAX_LINES 8

struct conversation {
        const char *lines[MAX_LINES];
};

/* "%UID%" in a line is replaced by the hex-encoded uid of this process. */
static const struct conversation conversations[] = {
        { { "AUTH" } },
        { { "AUTH EXTERNAL %UID%", "NEGOTIATE_UNIX_FD", "BEGIN" } },
        { { "AUTH EXTERNAL", "DATA", "NEGOTIATE_UNIX_FD", "BEGIN" } },
        { { "AUTH EXTERNAL", "DATA %UID%", "BEGIN" } },
        { { "AUTH EXTERNAL", "DATA 3939393939", "AUTH EXTERNAL %UID%" } },
        { { "AUTH EXTERNAL 3939393939", "AUTH EXTERNAL %UID%" } },
        { { "AUTH ANONYMOUS" } },
        { { "AUTH ANONYMOUS 6c6962646275732031" } },
        { { "AUTH ANONYMOUS 7465737" } },
        { { "AUTH ANONYMOUS zz", "AUTH ANONYMOUS 74 65", "AUTH ANONYMOUS 74657374" } },
        { { "AUTH ANONYMOUS c328", "AUTH ANONYMOUS 00", "AUTH ANONYMOUS e282ac" } },
        { { "AUTH KERBEROS_V4", "AUTH EXTERNAL %UID%" } },
        { { "FOO", "CANCEL", "DATA", "NEGOTIATE_UNIX_FD", "ERROR", "AUTH EXTERNAL %UID%" } },
        { { "AUTH EXTERNAL %UID%", "AUTH EXTERNAL", "DATA", "CANCEL", "AUTH EXTERNAL %UID%" } },
        { { "AUTH EXTERNAL", "CANCEL", "AUTH EXTERNAL", "ERROR oops", "AUTH EXTERNAL %UID%" } },
        { { "AUTH EXTERNAL %UID%", "ERROR", "AUTH EXTERNAL %UID%", "BEGIN" } },
        { { "AUTH EXTERNAL", "FOO", "DATA" } },
        { { "BEGIN" } },
        { { "AUTH EXTERNAL", "BEGIN" } },
};

static void expand_line(char *buf, size_t n, const char *line)
{
        const char *p = strstr(line, "%UID%");
        char dec[32], hex[80];
        size_t k;

        if (!p) {
                snprintf(buf, n, "%s\r\n", line);
                return;
        }
        snprintf(dec, sizeof(dec), "%u", (unsigned int)getuid());
        for (k = 0; dec[k]; ++k)
                snprintf(hex + 2 * k, 3, "%02x", (unsigned char)dec[k]);
        hex[2 * k] = 0;
        snprintf(buf, n, "%.*s%s%s\r\n", (int)(p - line), line, hex, p + 5);
}

/* Our replies: one word per line ("-" for none), "CLOSED" on failure. */
static void run_ours(const struct conversation *cv, char out[][16])
{
        char guid[GUID_LEN + 1], line[256];
        struct sasl s;
        size_t consumed, n;
        const char *o;
        int r;

        assert_int_equal(guid_generate(guid), 0);
        sasl_init(&s, SASL_MECH_EXTERNAL | SASL_MECH_ANONYMOUS, true, getuid(), true, guid);
        assert_int_equal(sasl_feed(&s, "", 1, &consumed), SASL_CONTINUE);
        for (int i = 0; i < MAX_LINES && cv->lines[i]; ++i) {
                expand_line(line, sizeof(line), cv->lines[i]);
                r = sasl_feed(&s, line, strlen(line), &consumed);
                o = sasl_output(&s, &n);
                if (r == SASL_E_FAILED)
                        snprintf(out[i], 16, "CLOSED");
                else if (n == 0)
                        snprintf(out[i], 16, "-");
                else
                        snprintf(out[i], 16, "%.*s", (int)strcspn(o, " \r"), o);
                sasl_output_advance(&s, n);
                if (r != SASL_CONTINUE)
                        break;
        }
}

/* dbus-daemon's replies, the same way. */
static void run_daemon(const char *path, const struct conversation *cv, char out[][16], char ours[][16])
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char line[256], buf[512];
        int fd;

        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(write(fd, "", 1), 1);
        for (int i = 0; i < MAX_LINES && cv->lines[i]; ++i) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t l;

                expand_line(line, sizeof(line), cv->lines[i]);
                if (write(fd, line, strlen(line)) != (ssize_t)strlen(line)) {
                        snprintf(out[i], 16, "CLOSED");
                        break;
                }
                /* wait long for an expected reply or close, briefly otherwise */
                if (poll(&p, 1, strcmp(ours[i], "-") ? 5000 : 300) == 0) {
                        snprintf(out[i], 16, "-");
                        continue;
                }
                l = read(fd, buf, sizeof(buf) - 1);
                if (l <= 0) {
                        snprintf(out[i], 16, "CLOSED");
                        break;
                }
                buf[l] = 0;
                snprintf(out[i], 16, "%.*s", (int)strcspn(buf, " \r"), buf);
        }
        close(fd);
}

static void test_compare_dbus_daemon(void **state)
{
        const char *daemon = getenv("DBUS_DAEMON");
        char dir[64], conf[128], sock[128], addr[512];
        int pfd[2], status;
        pid_t pid;
        FILE *f;
        ssize_t l;

        if (!daemon || access(daemon, X_OK) != 0) {
                print_message("dbus-daemon not found ($DBUS_DAEMON unset or not executable)\n");
                skip();
        }
        snprintf(dir, sizeof(dir), "/tmp/bus1-test-sasl-XXXXXX");
        assert_non_null(mkdtemp(dir));
        snprintf(conf, sizeof(conf), "%s/bus.conf", dir);
        snprintf(sock, sizeof(sock), "%s/bus", dir);
        f = fopen(conf, "w");
        assert_non_null(f);
        fprintf(f, "<busconfig><type>session</type><listen>unix:path=%s</listen>"
                   "<policy context=\"default\"><allow send_destination=\"*\"/>"
                   "<allow own=\"*\"/></policy></busconfig>\n", sock);
        fclose(f);

        assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                char fdarg[32];
                int devnull = open("/dev/null", O_RDWR);

                prctl(PR_SET_PDEATHSIG, SIGKILL);
                dup2(pfd[1], 3);
                if (devnull >= 0)
                        dup2(devnull, 2);
                snprintf(fdarg, sizeof(fdarg), "--print-address=3");
                execl(daemon, daemon, "--nofork", fdarg, "--config-file", conf, (char *)NULL);
                _exit(127);
        }
        close(pfd[1]);
        l = read(pfd[0], addr, sizeof(addr) - 1);
        close(pfd[0]);
        assert_true(l > 0);

        for (size_t c = 0; c < sizeof(conversations) / sizeof(*conversations); ++c) {
                char ours[MAX_LINES][16] = {}, theirs[MAX_LINES][16] = {};

                run_ours(&conversations[c], ours);
                run_daemon(sock, &conversations[c], theirs, ours);
                for (int i = 0; i < MAX_LINES; ++i)
                        if (strcmp(ours[i], theirs[i]))
                                fail_msg("conversation %zu line %d (\"%s\"): we reply %s, dbus-daemon %s",
                                         c, i, conversations[c].lines[i] ? conversations[c].lines[i] : "",
                                         ours[i], theirs[i]);
        }

        kill(pid, SIGTERM);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        unlink(conf);
        unlink(sock);
        rmdir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_nul_byte),
                cmocka_unit_test(test_external_ok),
                cmocka_unit_test(test_external_wrong_uid),
                cmocka_unit_test(test_external_data),
                cmocka_unit_test(test_no_mechanism),
                cmocka_unit_test(test_anonymous),
                cmocka_unit_test(test_mech_names),
                cmocka_unit_test(test_wait_auth_commands),
                cmocka_unit_test(test_wait_begin_commands),
                cmocka_unit_test(test_unix_fd),
                cmocka_unit_test(test_pipelined),
                cmocka_unit_test(test_bad_lines),
                cmocka_unit_test(test_line_length),
                cmocka_unit_test(test_failure_limit),
                cmocka_unit_test(test_backpressure),
                cmocka_unit_test(test_client_libdbus),
                cmocka_unit_test(test_client_sdbus),
                cmocka_unit_test(test_client_gdbus),
                cmocka_unit_test(test_compare_dbus_daemon),
        };

        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
