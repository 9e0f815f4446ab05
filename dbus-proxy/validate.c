/*
 * D-Bus wire codec: validation of names, signatures, UTF-8 and values.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dbus-proxy/marshal.h"
#include "dbus-proxy/validate.h"

const char *marshal_strerror(int r)
{
        static const char *const names[_MARSHAL_E_N] = {
                [0] = "ok",
                [MARSHAL_E_TRUNCATED] = "truncated",
                [MARSHAL_E_ENDIAN] = "invalid byte order",
                [MARSHAL_E_VERSION] = "invalid protocol version",
                [MARSHAL_E_MESSAGE_TYPE] = "invalid message type",
                [MARSHAL_E_SERIAL] = "zero serial",
                [MARSHAL_E_TOO_LARGE] = "message too large",
                [MARSHAL_E_ARRAY_TOO_LARGE] = "array too large",
                [MARSHAL_E_ARRAY_LENGTH] = "array length not on an element boundary",
                [MARSHAL_E_DEPTH] = "nested too deeply",
                [MARSHAL_E_PADDING] = "non-zero padding",
                [MARSHAL_E_BOOLEAN] = "invalid boolean",
                [MARSHAL_E_STRING] = "invalid string termination",
                [MARSHAL_E_UTF8] = "invalid UTF-8",
                [MARSHAL_E_OBJECT_PATH] = "invalid object path",
                [MARSHAL_E_SIGNATURE] = "invalid signature",
                [MARSHAL_E_UNIX_FD] = "unix fd index out of range",
                [MARSHAL_E_BODY_LENGTH] = "body length does not match signature",
                [MARSHAL_E_FIELD_TYPE] = "header field of wrong type",
                [MARSHAL_E_FIELD_DUPLICATE] = "duplicate header field",
                [MARSHAL_E_FIELD_MISSING] = "required header field missing",
                [MARSHAL_E_BUS_NAME] = "invalid bus name",
                [MARSHAL_E_INTERFACE] = "invalid interface name",
                [MARSHAL_E_MEMBER] = "invalid member name",
                [MARSHAL_E_ERROR_NAME] = "invalid error name",
                [MARSHAL_E_LOCAL] = "reserved local path or interface",
                [MARSHAL_E_UNIX_FDS] = "unix fd count mismatch",
                [MARSHAL_E_TYPE] = "type mismatch",
                [MARSHAL_E_END] = "no more values",
                [MARSHAL_E_STATE] = "invalid builder state",
        };

        if (r == -ENOMEM)
                return "out of memory";
        if (r >= 0 && r < _MARSHAL_E_N && names[r])
                return names[r];
        return "unknown";
}

bool validate_utf8(const char *str, size_t n)
{
        const uint8_t *s = (const uint8_t *)str, *e = s + n;

        while (s < e) {
                uint8_t c;

                /* ASCII without NUL, a word at a time */
                while (e - s >= 8) {
                        uint64_t v;

                        memcpy(&v, s, sizeof(v));
                        if ((v & 0x8080808080808080ULL) ||
                            ((v - 0x0101010101010101ULL) & ~v & 0x8080808080808080ULL))
                                break;
                        s += 8;
                }
                if (s >= e)
                        break;
                c = *s;
                if (c < 0x80) {
                        if (!c)
                                return false;
                        ++s;
                        continue;
                }

                if (c < 0xc2) {
                        /* stray continuation byte, or overlong 2-byte form */
                        return false;
                } else if (c < 0xe0) {
                        if (e - s < 2 || (s[1] & 0xc0) != 0x80)
                                return false;
                        s += 2;
                } else if (c < 0xf0) {
                        if (e - s < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
                                return false;
                        if (c == 0xe0 && s[1] < 0xa0)
                                return false; /* overlong */
                        if (c == 0xed && s[1] >= 0xa0)
                                return false; /* surrogate */
                        s += 3;
                } else if (c < 0xf5) {
                        if (e - s < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
                            (s[3] & 0xc0) != 0x80)
                                return false;
                        if (c == 0xf0 && s[1] < 0x90)
                                return false; /* overlong */
                        if (c == 0xf4 && s[1] >= 0x90)
                                return false; /* above U+10FFFF */
                        s += 4;
                } else {
                        return false;
                }
        }

        return true;
}

/* validate the complete type at *@p (before @end), advance *@p past it */
static int signature_complete_type(const char **p, const char *end,
                                   unsigned int n_arrays, unsigned int n_structs)
{
        const char *s = *p;
        int r;

        if (s >= end)
                return MARSHAL_E_SIGNATURE;

        switch (*s) {
        case 'a':
                if (++n_arrays > MARSHAL_MAX_ARRAY_DEPTH)
                        return MARSHAL_E_DEPTH;
                ++s;
                if (s < end && *s == '{') {
                        if (++n_structs > MARSHAL_MAX_STRUCT_DEPTH)
                                return MARSHAL_E_DEPTH;
                        ++s;
                        if (s >= end || !marshal_type_is_basic(*s))
                                return MARSHAL_E_SIGNATURE;
                        ++s;
                        r = signature_complete_type(&s, end, n_arrays, n_structs);
                        if (r)
                                return r;
                        if (s >= end || *s != '}')
                                return MARSHAL_E_SIGNATURE;
                        ++s;
                } else {
                        r = signature_complete_type(&s, end, n_arrays, n_structs);
                        if (r)
                                return r;
                }
                break;
        case '(':
                if (++n_structs > MARSHAL_MAX_STRUCT_DEPTH)
                        return MARSHAL_E_DEPTH;
                ++s;
                if (s < end && *s == ')')
                        return MARSHAL_E_SIGNATURE;
                while (s < end && *s != ')') {
                        r = signature_complete_type(&s, end, n_arrays, n_structs);
                        if (r)
                                return r;
                }
                if (s >= end)
                        return MARSHAL_E_SIGNATURE;
                ++s;
                break;
        default:
                if (!marshal_type_is_basic(*s) && *s != 'v')
                        return MARSHAL_E_SIGNATURE;
                ++s;
                break;
        }

        *p = s;
        return 0;
}

int validate_signature(const char *s, size_t n)
{
        const char *end = s + n;
        int r;

        if (n > MARSHAL_MAX_SIGNATURE_LENGTH)
                return MARSHAL_E_SIGNATURE;

        while (s < end) {
                r = signature_complete_type(&s, end, 0, 0);
                if (r)
                        return r;
        }

        return 0;
}

int validate_signature_single(const char *s, size_t n)
{
        const char *p = s;
        int r;

        if (n > MARSHAL_MAX_SIGNATURE_LENGTH)
                return MARSHAL_E_SIGNATURE;

        r = signature_complete_type(&p, s + n, 0, 0);
        if (r)
                return r;

        return p == s + n ? 0 : MARSHAL_E_SIGNATURE;
}

size_t validate_signature_next(const char *s)
{
        size_t depth = 0, i = 0;

        for (;;) {
                switch (s[i++]) {
                case 'a':
                        continue;
                case '(': case '{':
                        ++depth;
                        continue;
                case ')': case '}':
                        --depth;
                        break;
                default:
                        break;
                }
                if (!depth)
                        return i;
        }
}

int validate_string_ascii(const struct validate_ctx *ctx, size_t *posp, const char **strp, size_t *np)
{
        return validate_string(ctx, posp, 0, strp, np);
}

int validate_padding(const struct validate_ctx *ctx, size_t *posp, size_t alignment)
{
        size_t pos = *posp, aligned = marshal_align(pos, alignment);

        if (aligned > ctx->end)
                return MARSHAL_E_TRUNCATED;
        for (; pos < aligned; ++pos)
                if (ctx->data[pos])
                        return MARSHAL_E_PADDING;

        *posp = aligned;
        return 0;
}

int validate_string(const struct validate_ctx *ctx, size_t *posp, char type, const char **strp, size_t *np)
{
        size_t pos = *posp, n;
        const char *s;
        int r;

        if (type == 'g') {
                if (pos + 1 > ctx->end)
                        return MARSHAL_E_TRUNCATED;
                n = ctx->data[pos++];
        } else {
                r = validate_padding(ctx, &pos, 4);
                if (r)
                        return r;
                if (ctx->end - pos < 4)
                        return MARSHAL_E_TRUNCATED;
                n = marshal_load_u32(ctx->data + pos, ctx->big_endian);
                pos += 4;
        }

        /* n + 1 cannot overflow: n < 2^32 and size_t is at least 64 bits here */
        if (ctx->end - pos < n + 1)
                return MARSHAL_E_TRUNCATED;

        s = (const char *)ctx->data + pos;
        if (s[n])
                return MARSHAL_E_STRING;

        switch (type) {
        case 0:
                /* validate_string_ascii(): the caller checks the bytes */
                break;
        case 's':
                if (!validate_utf8(s, n))
                        return memchr(s, 0, n) ? MARSHAL_E_STRING : MARSHAL_E_UTF8;
                break;
        case 'o':
                if (!syntax_is_object_path_n(s, n))
                        return MARSHAL_E_OBJECT_PATH;
                break;
        case 'g':
                r = validate_signature(s, n);
                if (r)
                        return r;
                break;
        default:
                return MARSHAL_E_TYPE;
        }

        *posp = pos + n + 1;
        *strp = s;
        *np = n;
        return 0;
}

int validate_value(const struct validate_ctx *ctx, size_t *posp, const char *sig, unsigned int depth)
{
        size_t pos = *posp, n, fixed, elem_len, array_end;
        const char *str;
        uint32_t u;
        int r;

        switch (*sig) {
        case 'y':
                if (pos >= ctx->end)
                        return MARSHAL_E_TRUNCATED;
                ++pos;
                break;
        case 'n': case 'q': case 'i': case 'u': case 'x': case 't': case 'd':
        case 'b': case 'h':
                fixed = marshal_type_fixed_size(*sig);
                r = validate_padding(ctx, &pos, fixed);
                if (r)
                        return r;
                if (ctx->end - pos < fixed)
                        return MARSHAL_E_TRUNCATED;
                if (*sig == 'b' || *sig == 'h') {
                        u = marshal_load_u32(ctx->data + pos, ctx->big_endian);
                        if (*sig == 'b' && u > 1)
                                return MARSHAL_E_BOOLEAN;
                        if (*sig == 'h' && u >= ctx->n_fds)
                                return MARSHAL_E_UNIX_FD;
                }
                pos += fixed;
                break;
        case 's': case 'o': case 'g':
                r = validate_string(ctx, &pos, *sig, &str, &n);
                if (r)
                        return r;
                break;
        case 'v': {
                const char *vsig;

                if (++depth > MARSHAL_MAX_TOTAL_DEPTH)
                        return MARSHAL_E_DEPTH;
                r = validate_string(ctx, &pos, 'g', &vsig, &n);
                if (r)
                        return r;
                r = validate_signature_single(vsig, n);
                if (r)
                        return r == MARSHAL_E_DEPTH ? r : MARSHAL_E_SIGNATURE;
                r = validate_value(ctx, &pos, vsig, depth);
                if (r)
                        return r;
                break;
        }
        case '(': case '{': {
                const char *p;

                if (++depth > MARSHAL_MAX_TOTAL_DEPTH)
                        return MARSHAL_E_DEPTH;
                r = validate_padding(ctx, &pos, 8);
                if (r)
                        return r;
                for (p = sig + 1; *p != ')' && *p != '}'; p += validate_signature_next(p)) {
                        r = validate_value(ctx, &pos, p, depth);
                        if (r)
                                return r;
                }
                break;
        }
        case 'a': {
                const char *elem = sig + 1;

                if (++depth > MARSHAL_MAX_TOTAL_DEPTH)
                        return MARSHAL_E_DEPTH;
                r = validate_padding(ctx, &pos, 4);
                if (r)
                        return r;
                if (ctx->end - pos < 4)
                        return MARSHAL_E_TRUNCATED;
                elem_len = marshal_load_u32(ctx->data + pos, ctx->big_endian);
                pos += 4;
                if (elem_len > MARSHAL_MAX_ARRAY_SIZE)
                        return MARSHAL_E_ARRAY_TOO_LARGE;
                r = validate_padding(ctx, &pos, marshal_type_alignment(*elem));
                if (r)
                        return r;
                if (ctx->end - pos < elem_len)
                        return MARSHAL_E_TRUNCATED;
                array_end = pos + elem_len;

                fixed = marshal_type_fixed_size(*elem);
                if (fixed && *elem != 'b' && *elem != 'h') {
                        /* plain numbers: no per-element checks needed */
                        if (elem_len % fixed)
                                return MARSHAL_E_ARRAY_LENGTH;
                        pos = array_end;
                        break;
                }

                {
                        struct validate_ctx sub = *ctx;

                        /* elements may not reach past the array */
                        sub.end = array_end;
                        while (pos < array_end) {
                                r = validate_value(&sub, &pos, elem, depth);
                                if (r)
                                        return r == MARSHAL_E_TRUNCATED ? MARSHAL_E_ARRAY_LENGTH : r;
                        }
                }
                break;
        }
        default:
                return MARSHAL_E_SIGNATURE;
        }

        *posp = pos;
        return 0;
}
