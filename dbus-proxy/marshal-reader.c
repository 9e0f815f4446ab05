/*
 * D-Bus wire codec: reader of validated values.
 */

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbus-proxy/marshal.h"
#include "dbus-proxy/marshal-reader.h"
#include "dbus-proxy/validate.h"

void marshal_reader_init(struct marshal_reader *r, const uint8_t *data, bool big_endian,
                         size_t pos, size_t end, const char *signature)
{
        r->data = data;
        r->big_endian = big_endian;
        r->pos = pos;
        r->depth = 0;
        r->levels[0] = (struct marshal_reader_level){
                .container = 0,
                .sig = signature,
                .end = end,
        };
}

char marshal_reader_peek(const struct marshal_reader *r)
{
        const struct marshal_reader_level *l = &r->levels[r->depth];

        switch (l->container) {
        case 'a':
                return r->pos < l->end ? *l->sig : 0;
        case '(': case '{':
                return (*l->sig == ')' || *l->sig == '}') ? 0 : *l->sig;
        default:
                return *l->sig;
        }
}

const char *marshal_reader_signature(const struct marshal_reader *r)
{
        return r->levels[r->depth].sig;
}

/* the cursor moved past one complete type of length @n */
static void reader_advance(struct marshal_reader *r, size_t n)
{
        struct marshal_reader_level *l = &r->levels[r->depth];

        if (l->container != 'a')
                l->sig += n;
}

/* offset after the validated value of type @sig at @pos */
static size_t reader_skip_value(const struct marshal_reader *r, size_t pos, const char *sig)
{
        size_t n, fixed;
        const char *p;

        switch (*sig) {
        case 's': case 'o':
                pos = marshal_align(pos, 4);
                n = marshal_load_u32(r->data + pos, r->big_endian);
                return pos + 4 + n + 1;
        case 'g':
                return pos + 1 + r->data[pos] + 1;
        case 'v':
                n = r->data[pos];
                p = (const char *)r->data + pos + 1;
                return reader_skip_value(r, pos + 1 + n + 1, p);
        case '(': case '{':
                pos = marshal_align(pos, 8);
                for (p = sig + 1; *p != ')' && *p != '}'; p += validate_signature_next(p))
                        pos = reader_skip_value(r, pos, p);
                return pos;
        case 'a':
                pos = marshal_align(pos, 4);
                n = marshal_load_u32(r->data + pos, r->big_endian);
                pos = marshal_align(pos + 4, marshal_type_alignment(sig[1]));
                return pos + n;
        default:
                fixed = marshal_type_fixed_size(*sig);
                assert(fixed);
                return marshal_align(pos, fixed) + fixed;
        }
}

int marshal_reader_read(struct marshal_reader *r, char type, void *out)
{
        char t = marshal_reader_peek(r);
        const uint8_t *p;
        size_t pos, n;

        if (!t)
                return MARSHAL_E_END;
        if (t != type || !marshal_type_is_basic(type))
                return MARSHAL_E_TYPE;

        switch (type) {
        case 's': case 'o':
                pos = marshal_align(r->pos, 4);
                n = marshal_load_u32(r->data + pos, r->big_endian);
                if (out)
                        *(const char **)out = (const char *)r->data + pos + 4;
                r->pos = pos + 4 + n + 1;
                break;
        case 'g':
                n = r->data[r->pos];
                if (out)
                        *(const char **)out = (const char *)r->data + r->pos + 1;
                r->pos += 1 + n + 1;
                break;
        default:
                n = marshal_type_fixed_size(type);
                pos = marshal_align(r->pos, n);
                p = r->data + pos;
                if (out) {
                        switch (type) {
                        case 'y':
                                *(uint8_t *)out = *p;
                                break;
                        case 'b':
                                *(bool *)out = !!marshal_load_u32(p, r->big_endian);
                                break;
                        case 'n': case 'q':
                                *(uint16_t *)out = marshal_load_u16(p, r->big_endian);
                                break;
                        case 'i': case 'u': case 'h':
                                *(uint32_t *)out = marshal_load_u32(p, r->big_endian);
                                break;
                        default: {
                                uint64_t v = marshal_load_u64(p, r->big_endian);

                                memcpy(out, &v, sizeof(v));
                                break;
                        }
                        }
                }
                r->pos = pos + n;
                break;
        }

        reader_advance(r, 1);
        return 0;
}

int marshal_reader_enter(struct marshal_reader *r, char container)
{
        struct marshal_reader_level *l = &r->levels[r->depth], next = { .container = container };
        char t = marshal_reader_peek(r);
        size_t pos, n;

        if (!t)
                return MARSHAL_E_END;
        if (t != container || (t != 'a' && t != '(' && t != '{' && t != 'v'))
                return MARSHAL_E_TYPE;
        /* validated data never nests deeper than the levels array */
        assert(r->depth < MARSHAL_MAX_TOTAL_DEPTH);

        switch (container) {
        case 'a':
                pos = marshal_align(r->pos, 4);
                n = marshal_load_u32(r->data + pos, r->big_endian);
                pos = marshal_align(pos + 4, marshal_type_alignment(l->sig[1]));
                next.sig = l->sig + 1;
                next.end = pos + n;
                break;
        case '(': case '{':
                pos = marshal_align(r->pos, 8);
                next.sig = l->sig + 1;
                break;
        default:
                n = r->data[r->pos];
                next.sig = (const char *)r->data + r->pos + 1;
                pos = r->pos + 1 + n + 1;
                break;
        }

        reader_advance(r, validate_signature_next(l->sig));
        r->pos = pos;
        r->levels[++r->depth] = next;
        return 0;
}

int marshal_reader_skip(struct marshal_reader *r)
{
        struct marshal_reader_level *l = &r->levels[r->depth];

        if (!marshal_reader_peek(r))
                return MARSHAL_E_END;

        r->pos = reader_skip_value(r, r->pos, l->sig);
        reader_advance(r, validate_signature_next(l->sig));
        return 0;
}

int marshal_reader_exit(struct marshal_reader *r)
{
        struct marshal_reader_level *l = &r->levels[r->depth];

        if (r->depth == 0)
                return MARSHAL_E_STATE;

        if (l->container == 'a')
                r->pos = l->end;
        else
                while (marshal_reader_skip(r) == 0)
                        ;

        --r->depth;
        return 0;
}
