#pragma once

/*
 * D-Bus SASL server (the authentication handshake of a D-Bus connection)
 *
 * A `struct sasl` is the server side of the line-based authentication
 * protocol of the D-Bus specification ("Authentication Protocol"). It is a
 * pure state machine over byte buffers: it never touches a socket. The
 * caller feeds it the bytes read from a new connection with sasl_feed(),
 * writes out what sasl_output() returns, and stops feeding when sasl_feed()
 * reports SASL_DONE: the bytes after "BEGIN\r\n" (typically the client's
 * pipelined Hello) were not consumed and belong to the message reader.
 *
 * Protocol handled (server states of the spec):
 *  - first byte: a single NUL byte; anything else fails the connection;
 *  - WAIT_AUTH: "AUTH" (no mechanism or an unknown/disabled one: REJECTED
 *    with the list of enabled mechanisms), "AUTH EXTERNAL <hex uid>" (OK if
 *    the uid equals the peer's SO_PEERCRED uid), "AUTH EXTERNAL" without an
 *    initial response (answered with an empty "DATA" challenge), "AUTH
 *    ANONYMOUS [trace]" (when enabled: OK; as in dbus-daemon, a trace with
 *    a non-hex character is an ERROR, one that decodes to invalid UTF-8
 *    or a NUL is REJECTED, a trailing odd hex digit is ignored), "ERROR"
 *    (REJECTED), "BEGIN" (fails the connection), anything else: ERROR;
 *  - WAIT_DATA (EXTERNAL without initial response): "DATA" (empty: use the
 *    peer's uid) or "DATA <hex uid>"; "CANCEL"/"ERROR": REJECTED; "BEGIN"
 *    fails the connection; anything else: ERROR;
 *  - WAIT_BEGIN (after OK): "BEGIN" ends the handshake, "NEGOTIATE_UNIX_FD"
 *    (AGREE_UNIX_FD if the transport passes fds, else ERROR),
 *    "CANCEL"/"ERROR": REJECTED and back to WAIT_AUTH; anything else: ERROR.
 *
 * Limits (untrusted input is checked here, once):
 *  - a line is at most SASL_LINE_MAX bytes including its "\r\n";
 *  - a line holds printable ASCII only (0x20..0x7e) and ends in "\r\n";
 *    a control byte, a non-ASCII byte or a bare "\r" fails the connection;
 *  - after SASL_FAILURES_MAX replies of REJECTED or ERROR the connection
 *    fails (a client cannot loop forever; the caller also applies an
 *    overall auth timeout);
 *  - output is buffered internally (SASL_OUTPUT_MAX bytes); when the client
 *    pipelines more commands than fit, sasl_feed() stops consuming until the
 *    caller drains the output (backpressure instead of unbounded buffers).
 *
 * Invariants: the output buffer never holds more than SASL_OUTPUT_MAX bytes;
 * once sasl_feed() returned SASL_DONE or SASL_E_FAILED the state is final.
 *
 * Not part of the state machine: the overall authentication timeout
 * (dbus-daemon's auth_timeout limit) is applied by the connection that owns
 * the object, and so is <allow_anonymous/> after an ANONYMOUS login.
 *
 * Not thread-safe; one object per connection.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SASL_LINE_MAX 1024
#define SASL_OUTPUT_MAX 512
#define SASL_FAILURES_MAX 8
#define SASL_GUID_LEN 32

/* Mechanisms (bit mask for sasl_init()). */
#define SASL_MECH_EXTERNAL (1u << 0)
#define SASL_MECH_ANONYMOUS (1u << 1)

/* Results of sasl_feed(). */
enum {
        SASL_CONTINUE = 0,      /* handshake goes on: drain output, feed more */
        SASL_DONE = 1,          /* BEGIN received: authenticated */
        SASL_E_FAILED = 2,      /* protocol violation or too many failures: close */
};

enum sasl_state {
        SASL_STATE_WAIT_NUL,
        SASL_STATE_WAIT_AUTH,
        SASL_STATE_WAIT_DATA,
        SASL_STATE_WAIT_BEGIN,
        SASL_STATE_DONE,
        SASL_STATE_FAILED,
};

enum sasl_auth {
        SASL_AUTH_NONE,
        SASL_AUTH_EXTERNAL,
        SASL_AUTH_ANONYMOUS,
};

struct sasl {
        /* immutable after sasl_init() */
        unsigned int mechs;             /* enabled SASL_MECH_* */
        bool have_uid;                  /* peer credentials known */
        uid_t uid;                      /* peer uid (SO_PEERCRED) */
        bool fds_supported;             /* transport can pass unix fds */
        char guid[SASL_GUID_LEN + 1];   /* server GUID sent in OK */

        enum sasl_state state;
        enum sasl_auth auth;            /* mechanism that succeeded */
        bool fds_agreed;                /* AGREE_UNIX_FD was sent */
        unsigned int n_failures;        /* REJECTED/ERROR replies so far */
        const char *failure;            /* why SASL_E_FAILED, static string */

        size_t n_line;
        char line[SASL_LINE_MAX];

        size_t n_output;
        char output[SASL_OUTPUT_MAX];
};

/**
 * sasl_init() - initialise a SASL server for one connection
 * @sasl:          object to initialise
 * @mechs:         enabled mechanisms, a mask of SASL_MECH_*; EXTERNAL is
 *                 offered only if @have_uid
 * @have_uid:      whether the peer's uid is known (SO_PEERCRED)
 * @uid:           the peer's uid, used if @have_uid
 * @fds_supported: whether NEGOTIATE_UNIX_FD may be agreed
 * @guid:          the server GUID: exactly SASL_GUID_LEN lower-case hex
 *                 characters (see guid_generate())
 *
 * The caller guarantees @guid is valid (it is not client input). Cannot fail.
 */
void sasl_init(struct sasl *sasl, unsigned int mechs, bool have_uid, uid_t uid,
               bool fds_supported, const char *guid);

/**
 * sasl_mech_from_name() - map a mechanism name (from a config <auth>) to its bit
 * @name: mechanism name, case-sensitive as in the protocol
 *
 * Return: SASL_MECH_EXTERNAL or SASL_MECH_ANONYMOUS; 0 if the mechanism is
 * not supported (e.g. DBUS_COOKIE_SHA1).
 */
unsigned int sasl_mech_from_name(const char *name);

/**
 * sasl_feed() - feed bytes read from the client
 * @sasl:     the SASL server
 * @data:     bytes received (may be any split of the stream, even 1 byte)
 * @n_data:   number of bytes at @data
 * @consumed: always written: number of bytes of @data taken by the handshake
 *
 * Consumes whole or partial lines (partial lines are kept internally) and
 * queues the replies. Stops early when the output buffer is too full to hold
 * another reply (the caller drains it and feeds the rest again), and right
 * after "BEGIN\r\n".
 *
 * Return: SASL_CONTINUE if more input is needed (or output must be drained
 * first: then *consumed < @n_data); SASL_DONE once BEGIN was received in
 * WAIT_BEGIN: @data[*consumed..] is the start of the message stream;
 * SASL_E_FAILED if the client broke the protocol or failed too often: the
 * caller closes the connection (sasl_failure() says why, for the log).
 * After SASL_DONE or SASL_E_FAILED, further calls consume nothing and
 * return the same value.
 */
int sasl_feed(struct sasl *sasl, const void *data, size_t n_data, size_t *consumed);

/**
 * sasl_output() - pending reply bytes
 * @sasl:     the SASL server
 * @n_output: written: number of pending bytes (0 if none)
 *
 * Return: pointer to the pending bytes (valid until the next call of
 * sasl_feed() or sasl_output_advance()).
 */
const char *sasl_output(const struct sasl *sasl, size_t *n_output);

/**
 * sasl_output_advance() - drop bytes the caller has written
 * @sasl: the SASL server
 * @n:    number of bytes written, at most what sasl_output() reported
 */
void sasl_output_advance(struct sasl *sasl, size_t n);

/**
 * sasl_failure() - reason of SASL_E_FAILED
 * @sasl: the SASL server
 *
 * Return: a static human-readable string, or NULL if not failed.
 */
const char *sasl_failure(const struct sasl *sasl);

/**
 * sasl_fds_agreed() - whether AGREE_UNIX_FD was sent to the client
 * @sasl: the SASL server
 *
 * Return: true if the client negotiated unix fd passing.
 */
bool sasl_fds_agreed(const struct sasl *sasl);
