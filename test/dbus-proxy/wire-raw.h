#pragma once

/*
 * Test helper: write D-Bus messages byte by byte, valid or not, in either
 * byte order, to feed the parser exactly the defect a test is about.
 *
 * Usage: raw_begin(), header fields (raw_field_*), raw_end_fields(), body
 * values (raw_u32, raw_str, ...), raw_finish() (fills in the lengths).
 */

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dbus-proxy/marshal.h"

struct raw {
        uint8_t buf[16384];
        size_t n;
        size_t body;
        bool be;
};

static inline void raw_u8(struct raw *r, uint8_t v)
{
        assert(r->n < sizeof(r->buf));
        r->buf[r->n++] = v;
}

static inline void raw_pad(struct raw *r, size_t a)
{
        while (r->n % a)
                raw_u8(r, 0);
}

static inline void raw_u16(struct raw *r, uint16_t v)
{
        raw_pad(r, 2);
        marshal_store_u16(r->buf + r->n, v, r->be);
        r->n += 2;
}

static inline void raw_u32(struct raw *r, uint32_t v)
{
        raw_pad(r, 4);
        marshal_store_u32(r->buf + r->n, v, r->be);
        r->n += 4;
}

static inline void raw_u64(struct raw *r, uint64_t v)
{
        raw_pad(r, 8);
        marshal_store_u64(r->buf + r->n, v, r->be);
        r->n += 8;
}

static inline void raw_bytes(struct raw *r, const void *p, size_t n)
{
        assert(r->n + n <= sizeof(r->buf));
        memcpy(r->buf + r->n, p, n);
        r->n += n;
}

/* 's' or 'o' with explicit length, so tests can lie about it */
static inline void raw_strn(struct raw *r, const char *s, size_t n)
{
        raw_u32(r, n);
        raw_bytes(r, s, n);
        raw_u8(r, 0);
}

static inline void raw_str(struct raw *r, const char *s)
{
        raw_strn(r, s, strlen(s));
}

static inline void raw_sig(struct raw *r, const char *s)
{
        raw_u8(r, strlen(s));
        raw_bytes(r, s, strlen(s));
        raw_u8(r, 0);
}

static inline void raw_begin(struct raw *r, bool be, uint8_t type, uint8_t flags, uint32_t serial)
{
        memset(r, 0, sizeof(*r));
        r->be = be;
        raw_u8(r, be ? 'B' : 'l');
        raw_u8(r, type);
        raw_u8(r, flags);
        raw_u8(r, 1);
        raw_u32(r, 0);          /* body length, raw_finish() */
        raw_u32(r, serial);
        raw_u32(r, 0);          /* fields length, raw_end_fields() */
}

/* a header field with a string-like value of type @type */
static inline void raw_field_str(struct raw *r, uint8_t code, char type, const char *s)
{
        char sig[2] = { type, 0 };

        raw_pad(r, 8);
        raw_u8(r, code);
        raw_sig(r, sig);
        if (type == 'g')
                raw_sig(r, s);
        else
                raw_str(r, s);
}

static inline void raw_field_u32(struct raw *r, uint8_t code, uint32_t v)
{
        raw_pad(r, 8);
        raw_u8(r, code);
        raw_sig(r, "u");
        raw_u32(r, v);
}

/* PATH /a, MEMBER M: the fields every method call needs */
static inline void raw_call_fields(struct raw *r)
{
        raw_field_str(r, MARSHAL_FIELD_PATH, 'o', "/a");
        raw_field_str(r, MARSHAL_FIELD_MEMBER, 's', "M");
}

static inline void raw_end_fields(struct raw *r)
{
        marshal_store_u32(r->buf + 12, r->n - 16, r->be);
        raw_pad(r, 8);
        r->body = r->n;
}

static inline void raw_finish(struct raw *r)
{
        marshal_store_u32(r->buf + 4, r->n - r->body, r->be);
}

/* a method call with signature @sig, body written by the caller after this */
static inline void raw_call(struct raw *r, bool be, const char *sig)
{
        raw_begin(r, be, MARSHAL_TYPE_METHOD_CALL, 0, 7);
        raw_call_fields(r);
        if (sig && *sig)
                raw_field_str(r, MARSHAL_FIELD_SIGNATURE, 'g', sig);
        raw_end_fields(r);
}
