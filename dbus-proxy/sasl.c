/*
 * D-Bus SASL server state machine (see sasl.h for the protocol and limits).
 *
 * Input is assembled into one line at a time in sasl->line; a complete line
 * is handled only when the output buffer has room for the longest reply
 * (SASL_REPLY_MAX), so no reply is ever truncated or dropped.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dbus-proxy/sasl.h"
#include "dbus-proxy/hex.h"
#include "dbus-proxy/validate.h"

/* Longest reply: "OK " + GUID + "\r\n", or an ERROR with its message. */
#define SASL_REPLY_MAX 128

void sasl_init(struct sasl *sasl, unsigned int mechs, bool have_uid, uid_t uid,
               bool fds_supported, const char *guid)
{
        assert(strlen(guid) == SASL_GUID_LEN);

        memset(sasl, 0, sizeof(*sasl));
        sasl->mechs = mechs & (SASL_MECH_EXTERNAL | SASL_MECH_ANONYMOUS);
        if (!have_uid)
                sasl->mechs &= ~SASL_MECH_EXTERNAL;
        sasl->have_uid = have_uid;
        sasl->uid = uid;
        sasl->fds_supported = fds_supported;
        memcpy(sasl->guid, guid, SASL_GUID_LEN + 1);
        sasl->state = SASL_STATE_WAIT_NUL;
        sasl->auth = SASL_AUTH_NONE;
}

unsigned int sasl_mech_from_name(const char *name)
{
        if (!strcmp(name, "EXTERNAL"))
                return SASL_MECH_EXTERNAL;
        if (!strcmp(name, "ANONYMOUS"))
                return SASL_MECH_ANONYMOUS;
        return 0;
}

static void sasl_append(struct sasl *sasl, const char *s)
{
        size_t n = strlen(s);

        /* sasl_feed() guarantees SASL_REPLY_MAX bytes of room per line */
        assert(n <= SASL_REPLY_MAX);
        assert(sasl->n_output + n <= SASL_OUTPUT_MAX);
        memcpy(sasl->output + sasl->n_output, s, n);
        sasl->n_output += n;
}

static void sasl_fail(struct sasl *sasl, const char *why)
{
        sasl->state = SASL_STATE_FAILED;
        sasl->failure = why;
}

static void sasl_count_failure(struct sasl *sasl)
{
        if (++sasl->n_failures > SASL_FAILURES_MAX)
                sasl_fail(sasl, "too many failed authentication attempts");
}

static void sasl_reject(struct sasl *sasl)
{
        sasl_append(sasl, "REJECTED");
        if (sasl->mechs & SASL_MECH_EXTERNAL)
                sasl_append(sasl, " EXTERNAL");
        if (sasl->mechs & SASL_MECH_ANONYMOUS)
                sasl_append(sasl, " ANONYMOUS");
        sasl_append(sasl, "\r\n");
        sasl->state = SASL_STATE_WAIT_AUTH;
        sasl->auth = SASL_AUTH_NONE;
        sasl->fds_agreed = false;
        sasl_count_failure(sasl);
}

static void sasl_error(struct sasl *sasl, const char *message)
{
        sasl_append(sasl, "ERROR \"");
        sasl_append(sasl, message);
        sasl_append(sasl, "\"\r\n");
        sasl_count_failure(sasl);
}

static void sasl_ok(struct sasl *sasl, enum sasl_auth auth)
{
        sasl_append(sasl, "OK ");
        sasl_append(sasl, sasl->guid);
        sasl_append(sasl, "\r\n");
        sasl->auth = auth;
        sasl->state = SASL_STATE_WAIT_BEGIN;
}

/*
 * Decode one hex-encoded byte at @s (two hex digits). Returns the byte or -1.
 */
static int hex_byte(const char *s)
{
        int hi = hex_digit_value(s[0]), lo;

        if (hi < 0)
                return -1;
        lo = hex_digit_value(s[1]);
        if (lo < 0)
                return -1;
        return (hi << 4) | lo;
}

/*
 * EXTERNAL identity: hex-encoded ASCII decimal uid. Returns true and the uid
 * if @hex is well-formed and the number fits a valid uid_t.
 */
static bool sasl_parse_uid(const char *hex, uid_t *uidp)
{
        size_t n = strlen(hex);
        uint64_t v = 0;

        if (n == 0 || n % 2 || n / 2 > 20)
                return false;
        for (size_t i = 0; i < n; i += 2) {
                int b = hex_byte(hex + i);

                if (b < '0' || b > '9')
                        return false;
                v = v * 10 + (uint64_t)(b - '0');
                if (v >= (uint64_t)(uid_t)-1)
                        return false;
        }
        *uidp = (uid_t)v;
        return true;
}

static void sasl_external(struct sasl *sasl, const char *identity)
{
        uid_t uid;

        if (!identity || !*identity) {
                /* empty identity: authorise as the socket's credentials */
                sasl_ok(sasl, SASL_AUTH_EXTERNAL);
                return;
        }
        if (sasl_parse_uid(identity, &uid) && uid == sasl->uid)
                sasl_ok(sasl, SASL_AUTH_EXTERNAL);
        else
                sasl_reject(sasl);
}

/*
 * ANONYMOUS with its optional trace (hex-encoded UTF-8 text, e.g. an email
 * address; never used beyond this check), checked as dbus-daemon 1.14
 * checks it: a character that is not a hex digit is an ERROR "Invalid hex
 * encoding"; a trailing odd digit is ignored; decoded text that is not
 * UTF-8, or holds a NUL, is REJECTED.
 */
static void sasl_anonymous(struct sasl *sasl, const char *trace)
{
        char text[SASL_LINE_MAX / 2];
        size_t n = 0, i;

        for (i = 0; trace && trace[i]; ++i) {
                if (hex_digit_value(trace[i]) < 0) {
                        sasl_error(sasl, "Invalid hex encoding");
                        return;
                }
        }
        for (i = 0; trace && trace[i] && trace[i + 1]; i += 2)
                text[n++] = (char)hex_byte(trace + i);
        if (validate_utf8(text, n))
                sasl_ok(sasl, SASL_AUTH_ANONYMOUS);
        else
                sasl_reject(sasl);
}

static void sasl_handle_auth(struct sasl *sasl, char *arg)
{
        char *mech = arg, *ir = NULL;

        if (!mech || !*mech) {
                sasl_reject(sasl);
                return;
        }
        ir = strchr(mech, ' ');
        if (ir)
                *ir++ = 0;
        if (!strcmp(mech, "ANONYMOUS") && (sasl->mechs & SASL_MECH_ANONYMOUS)) {
                /* the whole rest of the line is the trace */
                sasl_anonymous(sasl, ir);
                return;
        }
        if (ir && strchr(ir, ' ')) {
                /* more than one argument after the mechanism */
                sasl_reject(sasl);
                return;
        }

        if (!strcmp(mech, "EXTERNAL") && (sasl->mechs & SASL_MECH_EXTERNAL)) {
                if (!ir || !*ir) {
                        /* no initial response: empty challenge */
                        sasl_append(sasl, "DATA\r\n");
                        sasl->state = SASL_STATE_WAIT_DATA;
                } else {
                        sasl_external(sasl, ir);
                }
        } else {
                sasl_reject(sasl);
        }
}

/* ERROR reply for a command the current state does not accept. */
static void sasl_unexpected(struct sasl *sasl, const char *command)
{
        static const char *const known[] = {
                "AUTH", "CANCEL", "BEGIN", "DATA", "ERROR", "NEGOTIATE_UNIX_FD",
        };

        for (size_t i = 0; i < sizeof(known) / sizeof(*known); ++i) {
                if (!strcmp(command, known[i])) {
                        sasl_error(sasl, "Command not expected now");
                        return;
                }
        }
        sasl_error(sasl, "Unknown command");
}

static void sasl_handle_line(struct sasl *sasl, char *line)
{
        char *arg = strchr(line, ' ');

        if (arg)
                *arg++ = 0;

        switch (sasl->state) {
        case SASL_STATE_WAIT_AUTH:
                if (!strcmp(line, "AUTH"))
                        sasl_handle_auth(sasl, arg);
                else if (!strcmp(line, "ERROR"))
                        sasl_reject(sasl);
                else if (!strcmp(line, "BEGIN"))
                        sasl_fail(sasl, "BEGIN before authentication");
                else
                        sasl_unexpected(sasl, line);
                break;

        case SASL_STATE_WAIT_DATA:
                if (!strcmp(line, "DATA"))
                        sasl_external(sasl, arg);
                else if (!strcmp(line, "CANCEL") || !strcmp(line, "ERROR"))
                        sasl_reject(sasl);
                else if (!strcmp(line, "BEGIN"))
                        sasl_fail(sasl, "BEGIN before authentication");
                else
                        sasl_unexpected(sasl, line);
                break;

        case SASL_STATE_WAIT_BEGIN:
                if (!strcmp(line, "BEGIN") && !arg) {
                        sasl->state = SASL_STATE_DONE;
                } else if (!strcmp(line, "NEGOTIATE_UNIX_FD") && !arg) {
                        if (sasl->fds_supported) {
                                sasl_append(sasl, "AGREE_UNIX_FD\r\n");
                                sasl->fds_agreed = true;
                        } else {
                                /* an expected answer, not a client failure */
                                sasl_append(sasl, "ERROR \"Unix fd passing not supported\"\r\n");
                        }
                } else if (!strcmp(line, "CANCEL") || !strcmp(line, "ERROR")) {
                        sasl_reject(sasl);
                } else {
                        sasl_unexpected(sasl, line);
                }
                break;

        default:
                assert(0);
        }
}

int sasl_feed(struct sasl *sasl, const void *data, size_t n_data, size_t *consumed)
{
        const unsigned char *p = data;
        size_t i = 0;

        *consumed = 0;
        if (sasl->state == SASL_STATE_DONE)
                return SASL_DONE;
        if (sasl->state == SASL_STATE_FAILED)
                return SASL_E_FAILED;

        if (sasl->state == SASL_STATE_WAIT_NUL) {
                if (n_data == 0)
                        return SASL_CONTINUE;
                if (p[0] != 0) {
                        sasl_fail(sasl, "first byte is not NUL");
                        *consumed = 1;
                        return SASL_E_FAILED;
                }
                sasl->state = SASL_STATE_WAIT_AUTH;
                i = 1;
        }

        while (i < n_data) {
                unsigned char c = p[i];

                if (sasl->n_line > 0 && sasl->line[sasl->n_line - 1] == '\r') {
                        if (c != '\n') {
                                sasl_fail(sasl, "CR not followed by LF");
                                *consumed = i + 1;
                                return SASL_E_FAILED;
                        }
                        if (SASL_OUTPUT_MAX - sasl->n_output < SASL_REPLY_MAX)
                                break; /* caller must drain the output first */
                        ++i;
                        sasl->line[sasl->n_line - 1] = 0;
                        sasl->n_line = 0;
                        sasl_handle_line(sasl, sasl->line);
                        if (sasl->state == SASL_STATE_DONE) {
                                *consumed = i;
                                return SASL_DONE;
                        }
                        if (sasl->state == SASL_STATE_FAILED) {
                                *consumed = i;
                                return SASL_E_FAILED;
                        }
                        continue;
                }

                if (c != '\r' && (c < 0x20 || c > 0x7e)) {
                        sasl_fail(sasl, "invalid byte in authentication line");
                        *consumed = i + 1;
                        return SASL_E_FAILED;
                }
                /* the stored line (with '\r') plus the '\n' fit SASL_LINE_MAX */
                if (sasl->n_line >= SASL_LINE_MAX - 1) {
                        sasl_fail(sasl, "authentication line too long");
                        *consumed = i + 1;
                        return SASL_E_FAILED;
                }
                sasl->line[sasl->n_line++] = (char)c;
                ++i;
        }

        *consumed = i;
        return SASL_CONTINUE;
}

const char *sasl_output(const struct sasl *sasl, size_t *n_output)
{
        *n_output = sasl->n_output;
        return sasl->output;
}

void sasl_output_advance(struct sasl *sasl, size_t n)
{
        assert(n <= sasl->n_output);
        memmove(sasl->output, sasl->output + n, sasl->n_output - n);
        sasl->n_output -= n;
}

const char *sasl_failure(const struct sasl *sasl)
{
        return sasl->state == SASL_STATE_FAILED ? sasl->failure : NULL;
}

bool sasl_fds_agreed(const struct sasl *sasl)
{
        return sasl->fds_agreed;
}
