/*
 * D-Bus wire codec: message builder.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dbus-proxy/marshal.h"
#include "dbus-proxy/marshal-builder.h"
#include "dbus-proxy/message.h"
#include "dbus-proxy/validate.h"
#include "util/error.h"

void message_builder_init(struct message_builder *b, uint8_t type, bool big_endian, uint32_t serial)
{
        memset(b, 0, sizeof(*b));
        b->type = type;
        b->big_endian = big_endian;
        b->serial = serial;
}

void message_builder_deinit(struct message_builder *b)
{
        size_t i;

        for (i = 0; i < _MARSHAL_FIELD_N; ++i) {
                free(b->fields[i]);
                b->fields[i] = NULL;
        }
        free(b->body);
        b->body = NULL;
        b->n_body = 0;
        b->n_body_alloc = 0;
}

void message_builder_set_flags(struct message_builder *b, uint8_t flags)
{
        b->flags = flags;
}

void message_builder_set_reply_serial(struct message_builder *b, uint32_t serial)
{
        b->has_reply_serial = true;
        b->reply_serial = serial;
}

static int builder_fail(struct message_builder *b, int r)
{
        if (!b->error)
                b->error = r;
        return r;
}

int message_builder_set_field(struct message_builder *b, unsigned int field, const char *value)
{
        char *copy = NULL;

        if (b->error)
                return b->error;

        switch (field) {
        case MARSHAL_FIELD_PATH: case MARSHAL_FIELD_INTERFACE: case MARSHAL_FIELD_MEMBER:
        case MARSHAL_FIELD_ERROR_NAME: case MARSHAL_FIELD_DESTINATION: case MARSHAL_FIELD_SENDER:
                break;
        default:
                return builder_fail(b, MARSHAL_E_FIELD_TYPE);
        }

        if (value) {
                copy = strdup(value);
                if (!copy)
                        return builder_fail(b, error_origin(-ENOMEM));
        }
        free(b->fields[field]);
        b->fields[field] = copy;
        return 0;
}

static char *builder_sig(struct message_builder *b, const struct message_builder_level *l)
{
        return l->sig_in_body ? (char *)b->body + l->sig : b->signature + l->sig;
}

/* make room for @n more body bytes */
static int builder_reserve(struct message_builder *b, size_t n)
{
        size_t want = b->n_body + n;
        uint8_t *p;

        if (want > MARSHAL_MAX_MESSAGE_SIZE)
                return builder_fail(b, MARSHAL_E_TOO_LARGE);
        if (want <= b->n_body_alloc)
                return 0;

        want = want < 256 ? 256 : want * 2;
        p = realloc(b->body, want);
        if (!p)
                return builder_fail(b, error_origin(-ENOMEM));
        b->body = p;
        b->n_body_alloc = want;
        return 0;
}

/* zero-pad the body to @alignment and reserve @n bytes after the padding */
static int builder_align(struct message_builder *b, size_t alignment, size_t n)
{
        size_t aligned = marshal_align(b->n_body, alignment);
        int r;

        r = builder_reserve(b, aligned - b->n_body + n);
        if (r)
                return r;
        if (aligned > b->n_body)
                memset(b->body + b->n_body, 0, aligned - b->n_body);
        b->n_body = aligned;
        return 0;
}

/*
 * Check that the next value may be of complete type @type (@n bytes) and move
 * the cursor past it. Writes where the type lives to @in_bodyp/@offp.
 */
static int builder_expect(struct message_builder *b, const char *type, size_t n,
                          bool *in_bodyp, size_t *offp)
{
        struct message_builder_level *l = &b->levels[b->depth];

        if (!l->container) {
                if (b->n_signature + n > MARSHAL_MAX_SIGNATURE_LENGTH)
                        return builder_fail(b, MARSHAL_E_SIGNATURE);
                memcpy(b->signature + b->n_signature, type, n);
                *in_bodyp = false;
                *offp = b->n_signature;
                b->n_signature += n;
                b->signature[b->n_signature] = 0;
                return 0;
        }

        if (l->sig_end - l->sig < n || memcmp(builder_sig(b, l), type, n))
                return builder_fail(b, MARSHAL_E_TYPE);

        *in_bodyp = l->sig_in_body;
        *offp = l->sig;
        if (l->container != 'a')
                l->sig += n;
        return 0;
}

int message_builder_append(struct message_builder *b, char type, const void *value)
{
        const char *str = NULL;
        size_t n = 0, fixed, off;
        bool in_body;
        int r;

        if (b->error)
                return b->error;
        if (!marshal_type_is_basic(type))
                return builder_fail(b, MARSHAL_E_TYPE);

        switch (type) {
        case 's':
                str = *(const char *const *)value;
                n = strlen(str);
                if (!validate_utf8(str, n))
                        return builder_fail(b, MARSHAL_E_UTF8);
                break;
        case 'o':
                str = *(const char *const *)value;
                n = strlen(str);
                if (!syntax_is_object_path_n(str, n))
                        return builder_fail(b, MARSHAL_E_OBJECT_PATH);
                break;
        case 'g':
                str = *(const char *const *)value;
                n = strlen(str);
                r = validate_signature(str, n);
                if (r)
                        return builder_fail(b, r);
                break;
        default:
                break;
        }

        r = builder_expect(b, &type, 1, &in_body, &off);
        if (r)
                return r;

        switch (type) {
        case 's': case 'o':
                r = builder_align(b, 4, 4 + n + 1);
                if (r)
                        return r;
                marshal_store_u32(b->body + b->n_body, n, b->big_endian);
                memcpy(b->body + b->n_body + 4, str, n + 1);
                b->n_body += 4 + n + 1;
                break;
        case 'g':
                r = builder_reserve(b, 1 + n + 1);
                if (r)
                        return r;
                b->body[b->n_body] = n;
                memcpy(b->body + b->n_body + 1, str, n + 1);
                b->n_body += 1 + n + 1;
                break;
        default: {
                uint8_t *p;

                fixed = marshal_type_fixed_size(type);
                r = builder_align(b, fixed, fixed);
                if (r)
                        return r;
                p = b->body + b->n_body;
                switch (type) {
                case 'y':
                        *p = *(const uint8_t *)value;
                        break;
                case 'b':
                        marshal_store_u32(p, *(const bool *)value ? 1 : 0, b->big_endian);
                        break;
                case 'n': case 'q':
                        marshal_store_u16(p, *(const uint16_t *)value, b->big_endian);
                        break;
                case 'i': case 'u': case 'h':
                        marshal_store_u32(p, *(const uint32_t *)value, b->big_endian);
                        break;
                default: {
                        uint64_t v;

                        memcpy(&v, value, sizeof(v));
                        marshal_store_u64(p, v, b->big_endian);
                        break;
                }
                }
                b->n_body += fixed;
                break;
        }
        }

        return 0;
}

int message_builder_append_string(struct message_builder *b, const char *s)
{
        return message_builder_append(b, 's', &s);
}

int message_builder_append_u32(struct message_builder *b, uint32_t u)
{
        return message_builder_append(b, 'u', &u);
}

int message_builder_open(struct message_builder *b, const char *type)
{
        struct message_builder_level next = {};
        size_t n = strlen(type), off;
        bool in_body;
        int r;

        if (b->error)
                return b->error;

        if (type[0] == '{') {
                char array[MARSHAL_MAX_SIGNATURE_LENGTH + 2];

                if (b->levels[b->depth].container != 'a')
                        return builder_fail(b, MARSHAL_E_TYPE);
                if (n > MARSHAL_MAX_SIGNATURE_LENGTH - 1)
                        return builder_fail(b, MARSHAL_E_SIGNATURE);
                array[0] = 'a';
                memcpy(array + 1, type, n + 1);
                r = validate_signature_single(array, n + 1);
        } else if (type[0] == 'a' || type[0] == '(') {
                r = validate_signature_single(type, n);
        } else {
                r = MARSHAL_E_TYPE;
        }
        if (r)
                return builder_fail(b, r);
        if (b->depth >= MARSHAL_MAX_TOTAL_DEPTH)
                return builder_fail(b, MARSHAL_E_DEPTH);

        r = builder_expect(b, type, n, &in_body, &off);
        if (r)
                return r;

        next.container = type[0];
        next.sig_in_body = in_body;
        if (type[0] == 'a') {
                r = builder_align(b, 4, 4);
                if (r)
                        return r;
                next.length_pos = b->n_body;
                memset(b->body + b->n_body, 0, 4);
                b->n_body += 4;
                r = builder_align(b, marshal_type_alignment(type[1]), 0);
                if (r)
                        return r;
                next.data_start = b->n_body;
                next.sig = off + 1;
                next.sig_end = off + n;
        } else {
                r = builder_align(b, 8, 0);
                if (r)
                        return r;
                next.sig = off + 1;
                next.sig_end = off + n - 1;
        }

        b->levels[++b->depth] = next;
        return 0;
}

int message_builder_open_variant(struct message_builder *b, const char *contents)
{
        struct message_builder_level next = { .container = 'v', .sig_in_body = true };
        size_t n = strlen(contents), off;
        bool in_body;
        int r;

        if (b->error)
                return b->error;

        r = validate_signature_single(contents, n);
        if (r)
                return builder_fail(b, r);
        if (b->depth >= MARSHAL_MAX_TOTAL_DEPTH)
                return builder_fail(b, MARSHAL_E_DEPTH);

        r = builder_expect(b, "v", 1, &in_body, &off);
        if (r)
                return r;
        r = builder_reserve(b, 1 + n + 1);
        if (r)
                return r;

        b->body[b->n_body] = n;
        memcpy(b->body + b->n_body + 1, contents, n + 1);
        next.sig = b->n_body + 1;
        next.sig_end = next.sig + n;
        b->n_body += 1 + n + 1;

        b->levels[++b->depth] = next;
        return 0;
}

int message_builder_close(struct message_builder *b)
{
        struct message_builder_level *l = &b->levels[b->depth];
        size_t n;

        if (b->error)
                return b->error;
        if (!b->depth)
                return builder_fail(b, MARSHAL_E_STATE);

        if (l->container == 'a') {
                n = b->n_body - l->data_start;
                if (n > MARSHAL_MAX_ARRAY_SIZE)
                        return builder_fail(b, MARSHAL_E_ARRAY_TOO_LARGE);
                marshal_store_u32(b->body + l->length_pos, n, b->big_endian);
        } else if (l->sig != l->sig_end) {
                return builder_fail(b, MARSHAL_E_STATE);
        }

        --b->depth;
        return 0;
}

/* append a header field element at *@posp; @value is a string or a uint32_t */
static void builder_put_field(uint8_t *buf, size_t *posp, bool big_endian, uint8_t code,
                              char type, const char *str, uint32_t u)
{
        size_t pos = marshal_align(*posp, 8), n;

        memset(buf + *posp, 0, pos - *posp);    /* padding before the element */
        buf[pos] = code;
        buf[pos + 1] = 1;
        buf[pos + 2] = type;
        buf[pos + 3] = 0;
        pos += 4;

        switch (type) {
        case 'u':
                marshal_store_u32(buf + pos, u, big_endian);
                pos += 4;
                break;
        case 'g':
                n = strlen(str);
                buf[pos] = n;
                memcpy(buf + pos + 1, str, n + 1);
                pos += 1 + n + 1;
                break;
        default:
                n = strlen(str);
                marshal_store_u32(buf + pos, n, big_endian);
                memcpy(buf + pos + 4, str, n + 1);
                pos += 4 + n + 1;
                break;
        }

        *posp = pos;
}

int message_builder_seal(struct message_builder *b, struct message **msgp, const int *fds, size_t n_fds)
{
        static const char string_types[_MARSHAL_FIELD_N] = {
                [MARSHAL_FIELD_PATH] = 'o',
                [MARSHAL_FIELD_INTERFACE] = 's',
                [MARSHAL_FIELD_MEMBER] = 's',
                [MARSHAL_FIELD_ERROR_NAME] = 's',
                [MARSHAL_FIELD_DESTINATION] = 's',
                [MARSHAL_FIELD_SENDER] = 's',
        };
        size_t i, n_max, pos, header;
        uint8_t *buf;
        int r;

        if (b->error)
                return b->error;
        if (b->depth)
                return builder_fail(b, MARSHAL_E_STATE);
        if (n_fds > UINT32_MAX)
                return builder_fail(b, MARSHAL_E_UNIX_FDS);

        /* upper bound: every field padded, plus signature, serial, fds */
        n_max = MARSHAL_FIXED_HEADER_SIZE + 3 * 16 + 8 + 4 + MARSHAL_MAX_SIGNATURE_LENGTH + 2;
        for (i = 0; i < _MARSHAL_FIELD_N; ++i)
                if (b->fields[i])
                        n_max += 8 + 4 + strlen(b->fields[i]) + 1 + 8;
        n_max += b->n_body;
        if (n_max > MARSHAL_MAX_MESSAGE_SIZE + 4096)
                return builder_fail(b, MARSHAL_E_TOO_LARGE);

        /* malloc, not calloc (glibc's calloc skips its per-thread cache): every padding byte is written */
        buf = malloc(n_max);
        if (!buf)
                return builder_fail(b, error_origin(-ENOMEM));

        pos = MARSHAL_FIXED_HEADER_SIZE;
        for (i = 1; i < _MARSHAL_FIELD_N; ++i) {
                if (string_types[i] && b->fields[i])
                        builder_put_field(buf, &pos, b->big_endian, i, string_types[i], b->fields[i], 0);
                else if (i == MARSHAL_FIELD_REPLY_SERIAL && b->has_reply_serial)
                        builder_put_field(buf, &pos, b->big_endian, i, 'u', NULL, b->reply_serial);
                else if (i == MARSHAL_FIELD_SIGNATURE && b->n_signature)
                        builder_put_field(buf, &pos, b->big_endian, i, 'g', b->signature, 0);
                else if (i == MARSHAL_FIELD_UNIX_FDS && n_fds)
                        builder_put_field(buf, &pos, b->big_endian, i, 'u', NULL, n_fds);
        }

        header = marshal_align(pos, 8);
        memset(buf + pos, 0, header - pos);     /* padding between the header and the body */
        buf[0] = b->big_endian ? MARSHAL_BIG_ENDIAN : MARSHAL_LITTLE_ENDIAN;
        buf[1] = b->type;
        buf[2] = b->flags;
        buf[3] = 1;
        marshal_store_u32(buf + 4, b->n_body, b->big_endian);
        marshal_store_u32(buf + 8, b->serial, b->big_endian);
        marshal_store_u32(buf + 12, pos - MARSHAL_FIXED_HEADER_SIZE, b->big_endian);
        if (b->n_body)
                memcpy(buf + header, b->body, b->n_body);

        r = message_new_from_buffer(msgp, buf, header + b->n_body, fds, n_fds);
        if (r < 0) {
                free(buf);
                return builder_fail(b, error_trace(r));
        }
        if (r) {
                free(buf);
                return builder_fail(b, r);
        }

        return 0;
}
