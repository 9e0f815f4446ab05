#pragma once

/*
 * D-Bus wire codec: message builder
 *
 * Builds the messages the broker emits itself (driver replies, signals,
 * errors). Header fields are set with the setters; the body is appended value
 * by value, containers are opened and closed explicitly, and
 * message_builder_seal() produces a struct message, which it parses and
 * validates like any received message (so a sealed message is valid, or
 * sealing fails).
 *
 * Typing: at the top level any type may be appended; the body signature is
 * the sequence of what was appended. Inside a container the types are fixed
 * by the container's type given when it was opened (e.g. "a{sv}"): every
 * append is checked against it, and a mismatch fails with MARSHAL_E_TYPE.
 *
 * Errors are sticky: the first failure is remembered, every later call
 * returns it without doing anything, and seal reports it. So a sequence of
 * appends may be checked once, at seal.
 *
 * Embeddable: message_builder_init()/message_builder_deinit(). Not thread-safe.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbus-proxy/marshal.h"

struct message;

struct message_builder_level {
        char container;         /* 0 (top), 'a', '(', '{' or 'v' */
        bool sig_in_body;       /* cursor is in the body (variant), else in signature[] */
        size_t sig;             /* offset of the cursor: the type of the next value */
        size_t sig_end;         /* offset after this level's types */
        size_t length_pos;      /* arrays: offset of the length word */
        size_t data_start;      /* arrays: offset of the first element */
};

struct message_builder {
        int error;              /* sticky first failure, 0 if none */
        bool big_endian;
        uint8_t type;
        uint8_t flags;
        uint32_t serial;
        bool has_reply_serial;
        uint32_t reply_serial;
        char *fields[_MARSHAL_FIELD_N];         /* string header fields, owned copies */

        char signature[MARSHAL_MAX_SIGNATURE_LENGTH + 1];
        size_t n_signature;

        uint8_t *body;          /* offsets are relative to the body, which starts 8-aligned */
        size_t n_body;
        size_t n_body_alloc;

        unsigned int depth;
        struct message_builder_level levels[MARSHAL_MAX_TOTAL_DEPTH + 1];
};

/**
 * message_builder_init() - start a message.
 * @b:          the builder
 * @type:       MARSHAL_TYPE_METHOD_CALL, _METHOD_RETURN, _ERROR or _SIGNAL
 * @big_endian: byte order of the message to build
 * @serial:     its serial (non-zero)
 */
void message_builder_init(struct message_builder *b, uint8_t type, bool big_endian, uint32_t serial);

/** message_builder_deinit() - release what the builder holds. Idempotent. */
void message_builder_deinit(struct message_builder *b);

/** message_builder_set_flags() - set the header flags (MARSHAL_FLAG_*). */
void message_builder_set_flags(struct message_builder *b, uint8_t flags);

/** message_builder_set_reply_serial() - set REPLY_SERIAL (non-zero). */
void message_builder_set_reply_serial(struct message_builder *b, uint32_t serial);

/**
 * message_builder_set_field() - set a string header field (copied).
 * @field:      MARSHAL_FIELD_PATH, _INTERFACE, _MEMBER, _ERROR_NAME,
 *              _DESTINATION or _SENDER
 * @value:      its value, or NULL to remove it; checked at seal
 *
 * Return: 0, -ENOMEM, MARSHAL_E_FIELD_TYPE for another field code, or the
 *         sticky error.
 */
int message_builder_set_field(struct message_builder *b, unsigned int field, const char *value);

/**
 * message_builder_append() - append one basic value.
 * @type:       a basic type code (y b n q i u x t d h s o g)
 * @value:      pointer to the value: uint8_t, bool, int16_t, uint16_t,
 *              int32_t, uint32_t (u, and h: an index into the fds given to
 *              seal), int64_t, uint64_t, double, or for s/o/g a pointer to a
 *              NUL-terminated string (const char **)
 *
 * Return: 0; MARSHAL_E_TYPE if the container expects another type or @type
 *         is not basic; MARSHAL_E_UTF8/_STRING/_OBJECT_PATH/_SIGNATURE for an
 *         invalid string; MARSHAL_E_BOOLEAN; MARSHAL_E_SIGNATURE if the body
 *         signature would exceed 255; MARSHAL_E_TOO_LARGE; -ENOMEM; or the
 *         sticky error.
 */
int message_builder_append(struct message_builder *b, char type, const void *value);

/* shorthands for message_builder_append() */
int message_builder_append_string(struct message_builder *b, const char *s);
int message_builder_append_u32(struct message_builder *b, uint32_t u);

/**
 * message_builder_open() - open an array, struct or dict entry.
 * @type:       its complete type, e.g. "as", "a{sv}", "(su)", "{sv}"
 *              (a dict entry only as the element of an "a{..}")
 *
 * Return: 0; MARSHAL_E_SIGNATURE or MARSHAL_E_DEPTH for an invalid type;
 *         MARSHAL_E_TYPE if the enclosing container expects another type;
 *         -ENOMEM; or the sticky error.
 */
int message_builder_open(struct message_builder *b, const char *type);

/**
 * message_builder_open_variant() - open a variant holding one value of type
 * @contents (a single complete type, e.g. "s", "a{sv}").
 *
 * Return: as message_builder_open().
 */
int message_builder_open_variant(struct message_builder *b, const char *contents);

/**
 * message_builder_close() - close the innermost open container. Structs,
 * dict entries and variants must have received all their values.
 *
 * Return: 0; MARSHAL_E_STATE if nothing is open or the container is
 *         incomplete; MARSHAL_E_ARRAY_TOO_LARGE; or the sticky error.
 */
int message_builder_close(struct message_builder *b);

/**
 * message_builder_seal() - produce the message.
 * @msgp:       out: the new message (reference count 1)
 * @fds:        fds to attach (owned by the message on success), or NULL
 * @n_fds:      their number; sets UNIX_FDS when non-zero
 *
 * Writes the header, copies the body behind it and parses the result with
 * message_new_from_buffer(), so every rule of a received message applies
 * (required fields, valid names, ...). The builder may then be deinit'ed.
 *
 * Return: 0; the sticky error; MARSHAL_E_STATE if a container is open;
 *         -ENOMEM; or the MARSHAL_E_* code that parsing reported.
 */
int message_builder_seal(struct message_builder *b, struct message **msgp, const int *fds, size_t n_fds);
