#pragma once

/*
 * D-Bus wire codec: reader of validated values
 *
 * An iterator over marshalled values of a known signature, for data that
 * validate_value() accepted (normally the body of a struct message, see
 * message_body_reader()). It never checks the data again: it trusts lengths,
 * padding and encodings, and only checks that the caller asks for the types
 * the signature has. Reading a string returns a pointer into the data, so
 * nothing is copied and nothing is allocated.
 *
 * Levels: the reader starts at the top level (the body's sequence of values);
 * marshal_reader_enter() descends into the array, struct, dict entry or
 * variant at the cursor and marshal_reader_exit() returns to the enclosing
 * level, skipping what was not read. Inside an array every element has the
 * element type; marshal_reader_peek() returns 0 at the end of each level.
 *
 * Not thread-safe (one reader per thread); any number of readers may read
 * the same data concurrently.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbus-proxy/marshal.h"

struct marshal_reader_level {
        char container;         /* 0 (top), 'a', '(', '{' or 'v' */
        const char *sig;        /* cursor: the type of the next value */
        size_t end;             /* arrays and top level: offset after the last value */
};

struct marshal_reader {
        const uint8_t *data;    /* the message, from its first byte */
        bool big_endian;
        size_t pos;             /* offset of the next value (before its padding) */
        unsigned int depth;     /* current level index */
        struct marshal_reader_level levels[MARSHAL_MAX_TOTAL_DEPTH + 1];
};

/**
 * marshal_reader_init() - start reading values.
 * @r:          the reader
 * @data:       the message, from its first byte
 * @big_endian: its byte order
 * @pos:        offset of the first value
 * @end:        offset after the last value
 * @signature:  NUL-terminated signature of the values (valid, as checked by
 *              the validation of the data)
 */
void marshal_reader_init(struct marshal_reader *r, const uint8_t *data, bool big_endian,
                         size_t pos, size_t end, const char *signature);

/**
 * marshal_reader_peek() - type code of the next value at the current level,
 * or 0 if the level has no more values.
 */
char marshal_reader_peek(const struct marshal_reader *r);

/**
 * marshal_reader_signature() - the signature of the values left at the
 * current level (for arrays: the element type). NUL-terminated only at the
 * top level and in variants; use validate_signature_next() to measure one
 * complete type.
 */
const char *marshal_reader_signature(const struct marshal_reader *r);

/**
 * marshal_reader_read() - read the next value, of basic type @type.
 * @out:        where to store it: uint8_t (y), bool (b), int16_t (n),
 *              uint16_t (q), int32_t (i), uint32_t (u, h: the fd index),
 *              int64_t (x), uint64_t (t), double (d), const char * (s, o, g:
 *              pointer into the data, NUL-terminated); may be NULL to skip
 *
 * Return: 0; MARSHAL_E_END if the level has no more values; MARSHAL_E_TYPE if
 *         the next value is not of type @type (nothing is consumed).
 */
int marshal_reader_read(struct marshal_reader *r, char type, void *out);

/**
 * marshal_reader_enter() - descend into the container at the cursor.
 * @container:  'a', '(', '{' or 'v', as the signature has it
 *
 * Return: 0; MARSHAL_E_END; MARSHAL_E_TYPE if the next value is another type.
 */
int marshal_reader_enter(struct marshal_reader *r, char container);

/**
 * marshal_reader_exit() - skip what is left of the current container and
 * return to the enclosing level, after the container.
 *
 * Return: 0; MARSHAL_E_STATE at the top level.
 */
int marshal_reader_exit(struct marshal_reader *r);

/**
 * marshal_reader_skip() - skip the next value, of any type.
 *
 * Return: 0; MARSHAL_E_END if the level has no more values.
 */
int marshal_reader_skip(struct marshal_reader *r);
