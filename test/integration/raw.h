#pragma once

/*
 * A minimal raw D-Bus client for integration tests: a unix socket, SASL
 * EXTERNAL typed by hand, and messages built byte by byte in either byte
 * order. It exists to send what real client libraries never send (big-endian
 * messages, truncated or lying headers, bad signatures, bad UTF-8, fds that
 * are claimed but not passed) and to see how the broker reacts.
 *
 * Invariants: a struct raw_buf owns its data (malloc'ed, grown on demand);
 * all writes into it are in its byte order, aligned relative to its start.
 * A message body built in its own raw_buf aligns the same way as inside the
 * message, because the body starts on an 8-byte boundary.
 *
 * Every wait is bounded by the caller's timeout. Allocation failures abort
 * (this is test code).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growing byte buffer with a byte order. */
struct raw_buf {
        uint8_t *data;
        size_t len;
        size_t cap;
        bool big_endian;
};

void raw_buf_init(struct raw_buf *b, bool big_endian);
void raw_buf_deinit(struct raw_buf *b);
/* Pad with zero bytes to a multiple of @n (1, 2, 4 or 8). */
void raw_buf_align(struct raw_buf *b, size_t n);
void raw_buf_put(struct raw_buf *b, const void *p, size_t n);
void raw_buf_put_u8(struct raw_buf *b, uint8_t v);
/* Align to 4, then write @v in the buffer's byte order. */
void raw_buf_put_u32(struct raw_buf *b, uint32_t v);
/* Align to 4; length, bytes (any, unchecked), NUL. */
void raw_buf_put_string(struct raw_buf *b, const char *s);
/* Length byte, bytes, NUL. */
void raw_buf_put_signature(struct raw_buf *b, const char *s);
/* the client's first SASL bytes: the NUL byte and "AUTH EXTERNAL <our uid in hex>\r\n" */
void raw_buf_put_auth_external(struct raw_buf *b);

/* D-Bus message types and header field codes. */
enum {
        RAW_METHOD_CALL = 1,
        RAW_METHOD_RETURN = 2,
        RAW_ERROR = 3,
        RAW_SIGNAL = 4,
};

/* What raw_message_build() writes; NULL / 0 fields are left out. */
struct raw_header {
        uint8_t type;
        uint8_t flags;
        uint32_t serial;
        const char *path;
        const char *interface;
        const char *member;
        const char *error_name;
        const char *destination;
        const char *sender;
        const char *signature;
        uint32_t reply_serial;  /* written when non-zero */
        uint32_t unix_fds;      /* written when non-zero */
};

/**
 * raw_message_build() - write a whole message into @out
 * @out:        an initialised, empty buffer; its byte order is used
 * @h:          header
 * @body:       body bytes (built in a raw_buf of the same byte order)
 * @body_len:   their length; also written as the header's body length
 */
void raw_message_build(struct raw_buf *out, const struct raw_header *h,
                       const void *body, size_t body_len);

/**
 * raw_message_size() - total length of a message from its fixed header
 * @h:          the message's first 16 bytes (the caller checks they are there)
 * Return: header, fields, padding and body in bytes; 0 if the bytes are not
 *         a fixed header (bad endianness mark, absurd lengths).
 */
size_t raw_message_size(const uint8_t *h);

/* What raw_message_parse() finds in a received message. */
struct raw_info {
        bool big_endian;
        uint8_t type;
        uint32_t serial;
        uint32_t reply_serial;
        char member[256];
        char interface[256];
        char error_name[256];
        char sender[256];
        char signature[256];
        size_t body_offset;     /* into the message */
        uint32_t body_len;
};

/**
 * raw_message_parse() - read the fixed header and the fields we know
 * Return: 0, or -EBADMSG if the bytes are not a message we can read.
 */
int raw_message_parse(struct raw_info *info, const uint8_t *msg, size_t len);

/**
 * raw_connect() - connect to a "unix:path=..." address (other keys ignored)
 * Return: the socket fd, or a negative errno.
 */
int raw_connect(const char *address);

/**
 * raw_send() - write all of @p, passing @n_fds fds with the first byte
 * Return: 0 or a negative errno (-EPIPE/-ECONNRESET once the peer closed).
 */
int raw_send(int fd, const void *p, size_t n, const int *fds, size_t n_fds);

/**
 * raw_read_line() - read one SASL line (up to "\r\n", not included)
 * Return: its length, -ETIMEDOUT, -ECONNRESET at EOF, -E2BIG if longer
 *         than @size - 1.
 */
int raw_read_line(int fd, char *line, size_t size, int timeout_ms);

/**
 * raw_auth() - NUL byte, AUTH EXTERNAL with our uid, optionally
 * NEGOTIATE_UNIX_FD, BEGIN
 * Return: 0, -EACCES if the server did not say OK (or AGREE_UNIX_FD), or
 *         a negative errno.
 */
int raw_auth(int fd, bool unix_fds, int timeout_ms);

/**
 * raw_read_message() - read exactly one message into @out (cleared first)
 * Return: 0, -ETIMEDOUT, -ECONNRESET at EOF, -EBADMSG on a header we
 *         cannot size.
 */
int raw_read_message(int fd, struct raw_buf *out, int timeout_ms);

/**
 * raw_read_reply() - read messages until the reply (return or error) to
 * @serial; others are dropped
 * Return: as raw_read_message(); @info describes the reply in @out.
 */
int raw_read_reply(int fd, uint32_t serial, struct raw_buf *out, struct raw_info *info,
                   int timeout_ms);

/**
 * raw_hello() - send Hello (serial 1) in the given byte order and read the
 * reply; @unique (256 bytes) receives the unique name
 * Return: 0, -EPROTO if the reply was not a method return with a string,
 *         or what raw_read_reply() returns.
 */
int raw_hello(int fd, bool big_endian, char *unique, int timeout_ms);

/**
 * raw_connect_hello() - raw_connect() + raw_auth() + raw_hello()
 * Return: the fd, or a negative errno.
 */
int raw_connect_hello(const char *address, bool big_endian, bool unix_fds, char *unique,
                      int timeout_ms);

/**
 * raw_wait_closed() - read and drop everything until the peer closes
 * Return: 0 once EOF (or ECONNRESET) is seen, -ETIMEDOUT.
 */
int raw_wait_closed(int fd, int timeout_ms);
