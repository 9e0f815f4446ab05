#pragma once

/*
 * D-Bus wire codec: validation of untrusted data
 *
 * Signatures and UTF-8 by the rules of the D-Bus specification (names and
 * object paths: syntax.h), and a validating walk over marshalled values.
 * The walk is what makes a message "validated": after it, readers
 * (marshal-reader.h) can trust alignment, lengths, padding, string
 * termination and encodings.
 *
 * All functions are pure: no allocation, no global state, thread-safe.
 * Lengths never include a terminating NUL; strings need not be terminated.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbus-proxy/marshal.h"
#include "dbus-proxy/syntax.h"      /* the name grammars: syntax_is_*_n() */

/**
 * validate_utf8() - whether @n bytes at @s are valid UTF-8 without NUL.
 *
 * Rejects overlong encodings, UTF-16 surrogates (U+D800..U+DFFF), code points
 * above U+10FFFF, truncated sequences and any NUL byte. Noncharacters
 * (U+FFFE...) are accepted, as the specification allows since 0.21.
 */
bool validate_utf8(const char *s, size_t n);

/**
 * validate_signature() - validate a signature (a sequence of complete types).
 * @s:          signature, not necessarily NUL-terminated
 * @n:          its length (the empty signature is valid)
 *
 * Checks type codes, completeness of every type, non-empty structs, dict
 * entries only as array elements with a basic key and exactly one value,
 * length <= 255, and at most 32 nested arrays and 32 nested structs.
 *
 * Return: 0 if valid, MARSHAL_E_DEPTH if nested too deeply,
 *         MARSHAL_E_SIGNATURE otherwise.
 */
int validate_signature(const char *s, size_t n);

/**
 * validate_signature_single() - like validate_signature(), and @s must be
 * exactly one complete type (as a variant's signature must be).
 *
 * Return: 0, MARSHAL_E_DEPTH or MARSHAL_E_SIGNATURE.
 */
int validate_signature_single(const char *s, size_t n);

/**
 * validate_signature_next() - length of the complete type at the start of a
 * signature that validate_signature() accepted (no checks).
 */
size_t validate_signature_next(const char *s);

/**
 * struct validate_ctx - what a validating walk needs to know about a message
 * @data:       the message, from its first byte (alignment is counted from here)
 * @end:        offset just past the region being walked
 * @big_endian: byte order of the message
 * @n_fds:      number of unix fds attached; 'h' values must be below it
 */
struct validate_ctx {
        const uint8_t *data;
        size_t end;
        bool big_endian;
        uint32_t n_fds;
};

/**
 * validate_value() - validate one marshalled value of a complete type.
 * @ctx:        the message and region
 * @posp:       in: offset of the value (before its alignment padding);
 *              out (only on success): offset just past the value
 * @sig:        the complete type, from a signature validate_signature() accepted
 * @depth:      number of containers (arrays, structs, dict entries, variants)
 *              enclosing the value; the value's own containers add to it and
 *              the total may not exceed 64
 *
 * Checks alignment padding is zero, lengths stay inside @ctx->end, arrays
 * are at most 64 MiB and end exactly on an element, booleans are 0 or 1,
 * strings are NUL-terminated UTF-8 without NUL, object paths and signatures
 * are valid, variants hold one complete type, fd indices are < n_fds.
 *
 * Return: 0 on success, or the MARSHAL_E_* code of the first violation:
 *         TRUNCATED, PADDING, ARRAY_TOO_LARGE, ARRAY_LENGTH, DEPTH, BOOLEAN,
 *         STRING, UTF8, OBJECT_PATH, SIGNATURE, UNIX_FD.
 */
int validate_value(const struct validate_ctx *ctx, size_t *posp, const char *sig, unsigned int depth);

/**
 * validate_string() - validate one string-like value ('s', 'o' or 'g').
 * @ctx, @posp: as for validate_value()
 * @type:       's', 'o' or 'g'
 * @strp:       out: the string inside @ctx->data (NUL-terminated there)
 * @np:         out: its length
 *
 * Return: as validate_value(); @strp/@np written only on success.
 */
int validate_string(const struct validate_ctx *ctx, size_t *posp, char type, const char **strp, size_t *np);

/**
 * validate_string_ascii() - read one 's' value whose bytes the caller checks.
 * @ctx, @posp, @strp, @np: as for validate_string()
 *
 * Checks the framing of the string (alignment, length, terminating NUL)
 * but not its bytes: for header fields whose validator (interface, member,
 * error or bus name) accepts only ASCII without NUL, which implies valid
 * UTF-8, so the UTF-8 pass of validate_string() would be done twice.
 *
 * Return: as validate_string().
 */
int validate_string_ascii(const struct validate_ctx *ctx, size_t *posp, const char **strp, size_t *np);

/**
 * validate_padding() - check that the bytes from *@posp up to @alignment are
 * zero and inside the region, and advance *@posp to the aligned offset.
 *
 * Return: 0, MARSHAL_E_TRUNCATED or MARSHAL_E_PADDING.
 */
int validate_padding(const struct validate_ctx *ctx, size_t *posp, size_t alignment);
