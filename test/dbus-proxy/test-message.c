/*
 * Unit tests of dbus-proxy/message.[ch], marshal-reader and marshal-builder:
 * frame sizes, parsing and every validation rule (each with a failing case,
 * in both byte orders), SENDER rewriting, the reader, the builder, and
 * round trips builder -> bytes -> parser -> reader.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "dbus-proxy/marshal-builder.h"
#include "dbus-proxy/marshal-reader.h"
#include "dbus-proxy/message.h"
#include "dbus-proxy/validate.h"
#include "test/dbus-proxy/wire-raw.h"

#define assert_marshal(_r, _expected) do {                                              \
                int _rr = (_r), _ee = (_expected);                                      \
                if (_rr != _ee)                                                         \
                        fail_msg("%s: got %d (%s), expected %d (%s)", #_r, _rr,        \
                                 marshal_strerror(_rr), _ee, marshal_strerror(_ee));    \
        } while (0)

/* parse @r; expect @expected; on success check and free the message */
#define expect_parse(_r, _e) expect_parse_at(_r, _e, __LINE__)
static void expect_parse_at(const struct raw *r, int expected, int line)
{
        struct message *m = NULL;

        int ret = message_new_from_data(&m, r->buf, r->n, NULL, 0);

        if (ret != expected)
                fail_msg("line %d: got %d (%s), expected %d (%s)", line, ret,
                         marshal_strerror(ret), expected, marshal_strerror(expected));
        if (expected == 0) {
                assert_non_null(m);
                assert_int_equal(m->n_wire, r->n);
                message_unref(m);
        } else {
                assert_null(m);
        }
}

static void test_frame_size(void **state)
{
        struct raw r;
        size_t size;
        int be;

        for (be = 0; be < 2; ++be) {
                raw_call(&r, be, "u");
                raw_u32(&r, 1);
                raw_finish(&r);

                assert_int_equal(message_frame_size(r.buf, 0, &size), 0);
                assert_int_equal(size, 16);
                assert_int_equal(message_frame_size(r.buf, 15, &size), 0);
                assert_int_equal(size, 16);
                assert_int_equal(message_frame_size(r.buf, 16, &size), 0);
                assert_int_equal(size, r.n);
                assert_int_equal(message_frame_size(r.buf, r.n, &size), 0);
                assert_int_equal(size, r.n);

                r.buf[0] = 'x';
                assert_marshal(message_frame_size(r.buf, 16, &size), MARSHAL_E_ENDIAN);
                r.buf[0] = be ? 'B' : 'l';
                r.buf[3] = 2;
                assert_marshal(message_frame_size(r.buf, 16, &size), MARSHAL_E_VERSION);
                assert_marshal(message_new_from_data(&(struct message *){ NULL }, r.buf, r.n, NULL, 0),
                               MARSHAL_E_VERSION);
                r.buf[3] = 1;

                /* header fields array over 64 MiB: refused from the fixed header */
                marshal_store_u32(r.buf + 12, MARSHAL_MAX_ARRAY_SIZE + 1, be);
                assert_marshal(message_frame_size(r.buf, 16, &size), MARSHAL_E_ARRAY_TOO_LARGE);
                marshal_store_u32(r.buf + 12, MARSHAL_MAX_ARRAY_SIZE, be);
                marshal_store_u32(r.buf + 4, MARSHAL_MAX_MESSAGE_SIZE - MARSHAL_MAX_ARRAY_SIZE - 16, be);
                assert_int_equal(message_frame_size(r.buf, 16, &size), 0);
                assert_int_equal(size, MARSHAL_MAX_MESSAGE_SIZE);

                /* one byte over 128 MiB; and the largest claim possible */
                marshal_store_u32(r.buf + 4, MARSHAL_MAX_MESSAGE_SIZE - MARSHAL_MAX_ARRAY_SIZE - 16 + 1, be);
                assert_marshal(message_frame_size(r.buf, 16, &size), MARSHAL_E_TOO_LARGE);
                marshal_store_u32(r.buf + 4, UINT32_MAX, be);
                assert_marshal(message_frame_size(r.buf, 16, &size), MARSHAL_E_TOO_LARGE);
                assert_marshal(message_new_from_data(&(struct message *){ NULL }, r.buf, r.n, NULL, 0),
                               MARSHAL_E_TOO_LARGE);
        }
}

static void test_minimal(void **state)
{
        struct message *m;
        struct raw r;
        int be;

        for (be = 0; be < 2; ++be) {
                raw_begin(&r, be, MARSHAL_TYPE_SIGNAL, 0x5, 0x12345678);
                raw_field_str(&r, MARSHAL_FIELD_PATH, 'o', "/org/x");
                raw_field_str(&r, MARSHAL_FIELD_INTERFACE, 's', "org.x.Y");
                raw_field_str(&r, MARSHAL_FIELD_MEMBER, 's', "Changed");
                raw_field_str(&r, MARSHAL_FIELD_DESTINATION, 's', ":1.7");
                raw_end_fields(&r);
                raw_finish(&r);

                assert_int_equal(message_new_from_data(&m, r.buf, r.n, NULL, 0), 0);
                assert_int_equal(m->big_endian, be);
                assert_int_equal(m->type, MARSHAL_TYPE_SIGNAL);
                assert_int_equal(m->flags, 0x5);
                assert_int_equal(m->serial, 0x12345678);
                assert_string_equal(m->path, "/org/x");
                assert_int_equal(m->n_path, 6);
                assert_string_equal(m->interface, "org.x.Y");
                assert_string_equal(m->member, "Changed");
                assert_string_equal(m->destination, ":1.7");
                assert_null(m->sender);
                assert_null(m->error_name);
                assert_string_equal(m->signature, "");
                assert_false(m->has_reply_serial);
                assert_int_equal(m->n_body, 0);
                assert_int_equal(m->n_wire, r.n);
                assert_ptr_equal(message_ref(m), m);
                assert_int_equal(m->n_refs, 2);
                assert_null(message_unref(m));
                assert_int_equal(m->n_refs, 1);
                assert_null(message_unref(m));
                assert_null(message_unref(NULL));
                assert_null(message_ref(NULL));
        }
}

static void test_required_fields(void **state)
{
        struct raw r;
        int be;

        for (be = 0; be < 2; ++be) {
                /* method call: PATH and MEMBER */
                raw_begin(&r, be, MARSHAL_TYPE_METHOD_CALL, 0, 1);
                raw_field_str(&r, MARSHAL_FIELD_MEMBER, 's', "M");
                raw_end_fields(&r);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_FIELD_MISSING);
                raw_begin(&r, be, MARSHAL_TYPE_METHOD_CALL, 0, 1);
                raw_field_str(&r, MARSHAL_FIELD_PATH, 'o', "/");
                raw_end_fields(&r);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_FIELD_MISSING);
                raw_field_str(&r, MARSHAL_FIELD_MEMBER, 's', "M");
                raw_end_fields(&r);
                raw_finish(&r);
                expect_parse(&r, 0);

                /* method return: REPLY_SERIAL, non-zero */
                raw_begin(&r, be, MARSHAL_TYPE_METHOD_RETURN, 0, 1);
                raw_end_fields(&r);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_FIELD_MISSING);
                raw_field_u32(&r, MARSHAL_FIELD_REPLY_SERIAL, 0);
                raw_end_fields(&r);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_SERIAL);
                raw_begin(&r, be, MARSHAL_TYPE_METHOD_RETURN, 0, 1);
                raw_field_u32(&r, MARSHAL_FIELD_REPLY_SERIAL, 9);
                raw_end_fields(&r);
                raw_finish(&r);
                expect_parse(&r, 0);

                /* error: ERROR_NAME and REPLY_SERIAL */
                raw_begin(&r, be, MARSHAL_TYPE_ERROR, 0, 1);
                raw_field_u32(&r, MARSHAL_FIELD_REPLY_SERIAL, 9);
                raw_end_fields(&r);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_FIELD_MISSING);
                raw_begin(&r, be, MARSHAL_TYPE_ERROR, 0, 1);
                raw_field_str(&r, MARSHAL_FIELD_ERROR_NAME, 's', "a.b.Failed");
                raw_end_fields(&r);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_FIELD_MISSING);
                raw_field_u32(&r, MARSHAL_FIELD_REPLY_SERIAL, 9);
                raw_end_fields(&r);
                raw_finish(&r);
                expect_parse(&r, 0);

                /* signal: PATH, INTERFACE, MEMBER */
                raw_begin(&r, be, MARSHAL_TYPE_SIGNAL, 0, 1);
                raw_call_fields(&r);
                raw_end_fields(&r);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_FIELD_MISSING);
                raw_field_str(&r, MARSHAL_FIELD_INTERFACE, 's', "a.b");
                raw_end_fields(&r);
                raw_finish(&r);
                expect_parse(&r, 0);

                /* unknown message types are kept, type 0 is invalid */
                raw_begin(&r, be, 5, 0, 1);
                raw_end_fields(&r);
                raw_finish(&r);
                expect_parse(&r, 0);
                raw_begin(&r, be, 0, 0, 1);
                raw_end_fields(&r);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_MESSAGE_TYPE);

                /* serial 0 */
                raw_begin(&r, be, MARSHAL_TYPE_METHOD_CALL, 0, 0);
                raw_call_fields(&r);
                raw_end_fields(&r);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_SERIAL);
        }
}

/* a method call with one extra header field written by @fn */
static void call_with_field(struct raw *r, bool be, uint8_t code, char type, const char *value)
{
        raw_begin(r, be, MARSHAL_TYPE_METHOD_CALL, 0, 1);
        raw_call_fields(r);
        raw_field_str(r, code, type, value);
        raw_end_fields(r);
        raw_finish(r);
}

static void test_header_fields(void **state)
{
        struct raw r;
        int be;

        for (be = 0; be < 2; ++be) {
                /* wrong types of known fields */
                raw_begin(&r, be, MARSHAL_TYPE_METHOD_CALL, 0, 1);
                raw_field_str(&r, MARSHAL_FIELD_PATH, 's', "/a");
                raw_field_str(&r, MARSHAL_FIELD_MEMBER, 's', "M");
                raw_end_fields(&r);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_FIELD_TYPE);
                call_with_field(&r, be, MARSHAL_FIELD_INTERFACE, 'o', "/a");
                expect_parse(&r, MARSHAL_E_FIELD_TYPE);
                call_with_field(&r, be, MARSHAL_FIELD_SIGNATURE, 's', "s");
                expect_parse(&r, MARSHAL_E_FIELD_TYPE);
                call_with_field(&r, be, MARSHAL_FIELD_REPLY_SERIAL, 's', "s");
                expect_parse(&r, MARSHAL_E_FIELD_TYPE);
                call_with_field(&r, be, MARSHAL_FIELD_INVALID, 's', "s");
                expect_parse(&r, MARSHAL_E_FIELD_TYPE);
                call_with_field(&r, be, MARSHAL_FIELD_CONTAINER_INSTANCE, 's', "s");
                expect_parse(&r, MARSHAL_E_FIELD_TYPE);
                call_with_field(&r, be, MARSHAL_FIELD_CONTAINER_INSTANCE, 'o', "/c");
                expect_parse(&r, 0);

                /* duplicate */
                call_with_field(&r, be, MARSHAL_FIELD_MEMBER, 's', "N");
                expect_parse(&r, MARSHAL_E_FIELD_DUPLICATE);

                /* unknown fields of any type are skipped (but validated) */
                call_with_field(&r, be, 42, 's', "whatever");
                expect_parse(&r, 0);
                call_with_field(&r, be, 200, 'o', "/x");
                expect_parse(&r, 0);
                call_with_field(&r, be, 200, 's', "bad\xff");
                expect_parse(&r, MARSHAL_E_UTF8);

                raw_begin(&r, be, MARSHAL_TYPE_METHOD_CALL, 0, 1);
                raw_call_fields(&r);
                raw_pad(&r, 8);
                raw_u8(&r, 77);
                raw_sig(&r, "a{sv}");
                raw_u32(&r, 0);
                raw_pad(&r, 8);
                raw_end_fields(&r);
                raw_finish(&r);
                expect_parse(&r, 0);

                /* invalid names */
                call_with_field(&r, be, MARSHAL_FIELD_INTERFACE, 's', "nodot");
                expect_parse(&r, MARSHAL_E_INTERFACE);
                call_with_field(&r, be, MARSHAL_FIELD_ERROR_NAME, 's', "a..b");
                expect_parse(&r, MARSHAL_E_ERROR_NAME);
                call_with_field(&r, be, MARSHAL_FIELD_DESTINATION, 's', "1.2");
                expect_parse(&r, MARSHAL_E_BUS_NAME);
                call_with_field(&r, be, MARSHAL_FIELD_SENDER, 's', ":a..b");
                expect_parse(&r, MARSHAL_E_BUS_NAME);
                call_with_field(&r, be, MARSHAL_FIELD_SIGNATURE, 'g', "a");
                expect_parse(&r, MARSHAL_E_SIGNATURE);
                raw_begin(&r, be, MARSHAL_TYPE_METHOD_CALL, 0, 1);
                raw_field_str(&r, MARSHAL_FIELD_PATH, 'o', "/a/");
                raw_field_str(&r, MARSHAL_FIELD_MEMBER, 's', "M");
                raw_end_fields(&r);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_OBJECT_PATH);
                raw_begin(&r, be, MARSHAL_TYPE_METHOD_CALL, 0, 1);
                raw_field_str(&r, MARSHAL_FIELD_PATH, 'o', "/a");
                raw_field_str(&r, MARSHAL_FIELD_MEMBER, 's', "a.b");
                raw_end_fields(&r);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_MEMBER);

                /* the reserved local path and interface */
                raw_begin(&r, be, MARSHAL_TYPE_METHOD_CALL, 0, 1);
                raw_field_str(&r, MARSHAL_FIELD_PATH, 'o', "/org/freedesktop/DBus/Local");
                raw_field_str(&r, MARSHAL_FIELD_MEMBER, 's', "M");
                raw_end_fields(&r);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_LOCAL);
                call_with_field(&r, be, MARSHAL_FIELD_INTERFACE, 's', "org.freedesktop.DBus.Local");
                expect_parse(&r, MARSHAL_E_LOCAL);

                /* variant signature of a field: not one complete type */
                raw_begin(&r, be, MARSHAL_TYPE_METHOD_CALL, 0, 1);
                raw_call_fields(&r);
                raw_pad(&r, 8);
                raw_u8(&r, 50);
                raw_sig(&r, "ss");
                raw_str(&r, "a");
                raw_str(&r, "b");
                raw_end_fields(&r);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_SIGNATURE);

                /* non-zero padding between fields and after the fields */
                raw_begin(&r, be, MARSHAL_TYPE_METHOD_CALL, 0, 1);
                raw_field_str(&r, MARSHAL_FIELD_PATH, 'o', "/a");       /* ends at 27 */
                raw_pad(&r, 8);
                assert_int_equal(r.n, 32);
                r.buf[31] = 1;
                raw_field_str(&r, MARSHAL_FIELD_MEMBER, 's', "M");
                raw_end_fields(&r);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_PADDING);
                r.buf[31] = 0;
                expect_parse(&r, 0);
                raw_begin(&r, be, MARSHAL_TYPE_METHOD_CALL, 0, 1);
                raw_call_fields(&r);
                raw_end_fields(&r);
                raw_finish(&r);
                assert_true(r.n % 8 == 0);
                assert_true(r.n > 16 + marshal_load_u32(r.buf + 12, be));
                r.buf[r.n - 1] = 0xff;
                expect_parse(&r, MARSHAL_E_PADDING);

                /* the fields array ends inside a field */
                raw_begin(&r, be, MARSHAL_TYPE_METHOD_CALL, 0, 1);
                raw_call_fields(&r);
                raw_end_fields(&r);
                raw_finish(&r);
                marshal_store_u32(r.buf + 12, marshal_load_u32(r.buf + 12, be) - 1, be);
                expect_parse(&r, MARSHAL_E_TRUNCATED);
        }
}

static void test_truncation(void **state)
{
        struct message *m = NULL;
        uint8_t more[4096];
        struct raw r;
        size_t i;
        int be;

        for (be = 0; be < 2; ++be) {
                raw_call(&r, be, "sa{sv}");
                raw_str(&r, "hello");
                raw_u32(&r, 0);
                raw_pad(&r, 8);
                raw_finish(&r);
                expect_parse(&r, 0);

                /* every prefix is truncated, one byte more is too long */
                for (i = 0; i < r.n; ++i)
                        assert_marshal(message_new_from_data(&m, r.buf, i, NULL, 0), MARSHAL_E_TRUNCATED);
                memcpy(more, r.buf, r.n);
                more[r.n] = 0;
                assert_marshal(message_new_from_data(&m, more, r.n + 1, NULL, 0), MARSHAL_E_BODY_LENGTH);

                /* body length claims more than the values, or less */
                raw_call(&r, be, "u");
                raw_u32(&r, 1);
                raw_u32(&r, 0);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_BODY_LENGTH);
                raw_call(&r, be, "uu");
                raw_u32(&r, 1);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_BODY_LENGTH);

                /* a body without a signature */
                raw_call(&r, be, NULL);
                raw_u32(&r, 1);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_BODY_LENGTH);

                /* a string running past the end of the body */
                raw_call(&r, be, "s");
                raw_strn(&r, "abc", 3);
                raw_finish(&r);
                marshal_store_u32(r.buf + r.body, 4, be);
                expect_parse(&r, MARSHAL_E_BODY_LENGTH);
        }
        assert_null(m);
}

static void test_body_values(void **state)
{
        struct raw r;
        int be;

        for (be = 0; be < 2; ++be) {
                /* all basic types, correctly padded */
                raw_call(&r, be, "ybnqiuxtdsogv");
                raw_u8(&r, 1);
                raw_u32(&r, 1);
                raw_u16(&r, 2);
                raw_u16(&r, 3);
                raw_u32(&r, 4);
                raw_u32(&r, 5);
                raw_u64(&r, 6);
                raw_u64(&r, 7);
                raw_u64(&r, 8);
                raw_str(&r, "s");
                raw_str(&r, "/o");
                raw_sig(&r, "a{sv}");
                raw_sig(&r, "i");
                raw_u32(&r, 9);
                raw_finish(&r);
                expect_parse(&r, 0);

                /* boolean 2 */
                raw_call(&r, be, "b");
                raw_u32(&r, 2);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_BOOLEAN);

                /* non-zero padding before a u32 */
                raw_call(&r, be, "yu");
                raw_u8(&r, 1);
                raw_u8(&r, 0);
                raw_u8(&r, 7);
                raw_u8(&r, 0);
                raw_u32(&r, 1);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_PADDING);

                /* non-zero padding before a struct, and inside an array before its elements */
                raw_call(&r, be, "y(y)");
                raw_u8(&r, 1);
                raw_u8(&r, 0); raw_u8(&r, 0); raw_u8(&r, 0); raw_u8(&r, 0);
                raw_u8(&r, 0); raw_u8(&r, 0); raw_u8(&r, 1);
                raw_u8(&r, 1);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_PADDING);
                raw_call(&r, be, "at");
                raw_u32(&r, 8);
                raw_u32(&r, 0x01000000);        /* padding to 8 */
                raw_u64(&r, 1);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_PADDING);

                /* strings: missing terminator, embedded NUL, bad UTF-8 */
                raw_call(&r, be, "s");
                raw_str(&r, "abc");
                r.buf[r.n - 1] = 'x';
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_STRING);
                raw_call(&r, be, "s");
                raw_strn(&r, "a\0c", 3);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_STRING);
                raw_call(&r, be, "s");
                raw_str(&r, "\xed\xa0\x80");
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_UTF8);
                raw_call(&r, be, "s");
                raw_str(&r, "\xc0\xaf");
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_UTF8);
                raw_call(&r, be, "o");
                raw_str(&r, "/a//b");
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_OBJECT_PATH);
                raw_call(&r, be, "g");
                raw_sig(&r, "a{vs}");
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_SIGNATURE);
                raw_call(&r, be, "g");
                raw_sig(&r, "i");
                r.buf[r.n - 1] = 'i';
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_STRING);

                /* variants: empty, two types, dict entry alone */
                raw_call(&r, be, "v");
                raw_sig(&r, "");
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_SIGNATURE);
                raw_call(&r, be, "v");
                raw_sig(&r, "yy");
                raw_u8(&r, 1);
                raw_u8(&r, 1);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_SIGNATURE);
                raw_call(&r, be, "v");
                raw_sig(&r, "{yy}");
                raw_pad(&r, 8);
                raw_u8(&r, 1);
                raw_u8(&r, 1);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_SIGNATURE);
        }
}

static void test_arrays(void **state)
{
        struct raw r;
        int be;

        for (be = 0; be < 2; ++be) {
                /* empty arrays still pad to the element alignment */
                raw_call(&r, be, "atay");
                raw_u32(&r, 0);
                raw_pad(&r, 8);
                raw_u32(&r, 0);
                raw_finish(&r);
                expect_parse(&r, 0);

                /* length not a multiple of the element size */
                raw_call(&r, be, "au");
                raw_u32(&r, 5);
                raw_u32(&r, 1);
                raw_u8(&r, 0);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_ARRAY_LENGTH);

                /* an element crossing the array's end */
                raw_call(&r, be, "asy");
                raw_u32(&r, 11);
                raw_str(&r, "abcdefg");
                raw_u8(&r, 1);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_ARRAY_LENGTH);

                /* booleans and fd indices are checked per element */
                raw_call(&r, be, "ab");
                raw_u32(&r, 8);
                raw_u32(&r, 1);
                raw_u32(&r, 3);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_BOOLEAN);

                /* over 64 MiB (claimed) */
                raw_call(&r, be, "ay");
                raw_u32(&r, MARSHAL_MAX_ARRAY_SIZE + 1);
                raw_u8(&r, 1);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_ARRAY_TOO_LARGE);

                /* array of dict entries and of structs */
                raw_call(&r, be, "a{sv}a(yy)");
                raw_u32(&r, 0);
                raw_pad(&r, 8);
                {
                        size_t start = r.n;

                        raw_str(&r, "k");
                        raw_sig(&r, "u");
                        raw_u32(&r, 1);
                        raw_pad(&r, 8);
                        raw_str(&r, "l");
                        raw_sig(&r, "s");
                        raw_str(&r, "v");
                        marshal_store_u32(r.buf + start - 8, r.n - start, be);
                }
                raw_u32(&r, 10);
                raw_pad(&r, 8);
                raw_u8(&r, 1); raw_u8(&r, 2);
                raw_pad(&r, 8);
                raw_u8(&r, 3); raw_u8(&r, 4);
                raw_finish(&r);
                expect_parse(&r, 0);
        }
}

/* a body of @n nested variants around a byte */
static void raw_nested_variants(struct raw *r, bool be, size_t n)
{
        size_t i;

        raw_call(r, be, "v");
        for (i = 1; i < n; ++i)
                raw_sig(r, "v");
        raw_sig(r, "y");
        raw_u8(r, 1);
        raw_finish(r);
}

static void test_depth(void **state)
{
        char sig[100];
        struct raw r;
        size_t i;
        int be;

        for (be = 0; be < 2; ++be) {
                raw_nested_variants(&r, be, 64);
                expect_parse(&r, 0);
                raw_nested_variants(&r, be, 65);
                expect_parse(&r, MARSHAL_E_DEPTH);

                /* 32 arrays in the signature are fine, 33 are not */
                memset(sig, 'a', 32);
                strcpy(sig + 32, "y");
                raw_call(&r, be, sig);
                raw_u32(&r, 0);
                raw_finish(&r);
                expect_parse(&r, 0);
                memset(sig, 'a', 33);
                strcpy(sig + 33, "y");
                raw_call(&r, be, sig);
                raw_u32(&r, 0);
                raw_finish(&r);
                expect_parse(&r, MARSHAL_E_DEPTH);

                /* variants add to arrays: 32 arrays of variants nested 33 deep */
                memset(sig, 'a', 31);
                strcpy(sig + 31, "v");
                raw_call(&r, be, sig);
                {
                        size_t lens[31];

                        for (i = 0; i < 31; ++i) {
                                raw_u32(&r, 0);
                                lens[i] = r.n;
                        }
                        for (i = 0; i < 33; ++i)
                                raw_sig(&r, "v");
                        raw_sig(&r, "y");
                        raw_u8(&r, 1);
                        for (i = 0; i < 31; ++i)
                                marshal_store_u32(r.buf + lens[i] - 4, r.n - lens[i], be);
                }
                raw_finish(&r);
                /* 31 arrays + 34 variants = 65 */
                expect_parse(&r, MARSHAL_E_DEPTH);
        }
}

static void test_unix_fds(void **state)
{
        struct message *m = NULL;
        struct raw r;
        int be, fds[2], fd;

        for (be = 0; be < 2; ++be) {
                raw_begin(&r, be, MARSHAL_TYPE_METHOD_CALL, 0, 1);
                raw_call_fields(&r);
                raw_field_str(&r, MARSHAL_FIELD_SIGNATURE, 'g', "hahh");
                raw_field_u32(&r, MARSHAL_FIELD_UNIX_FDS, 2);
                raw_end_fields(&r);
                raw_u32(&r, 1);
                raw_u32(&r, 8);
                raw_u32(&r, 0);
                raw_u32(&r, 1);
                raw_u32(&r, 0);
                raw_finish(&r);

                fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
                fds[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
                assert_true(fds[0] >= 0 && fds[1] >= 0);

                /* fd count must match UNIX_FDS; nothing is taken over on failure */
                assert_marshal(message_new_from_data(&m, r.buf, r.n, fds, 1), MARSHAL_E_UNIX_FDS);
                assert_marshal(message_new_from_data(&m, r.buf, r.n, NULL, 0), MARSHAL_E_UNIX_FDS);
                assert_true(fcntl(fds[0], F_GETFD) >= 0);

                /* index 2 with two fds is out of range */
                marshal_store_u32(r.buf + r.n - 4, 2, be);
                assert_marshal(message_new_from_data(&m, r.buf, r.n, fds, 2), MARSHAL_E_UNIX_FD);
                marshal_store_u32(r.buf + r.n - 12, 2, be);
                marshal_store_u32(r.buf + r.n - 4, 0, be);
                assert_marshal(message_new_from_data(&m, r.buf, r.n, fds, 2), MARSHAL_E_UNIX_FD);
                marshal_store_u32(r.buf + r.n - 12, 1, be);
                assert_true(fcntl(fds[1], F_GETFD) >= 0);

                assert_int_equal(message_new_from_data(&m, r.buf, r.n, fds, 2), 0);
                assert_int_equal(m->unix_fds, 2);
                assert_int_equal(m->n_fds, 2);
                assert_int_equal(m->fds[1], fds[1]);
                fd = fds[1];
                message_unref(m);
                /* the message owned and closed the fds */
                assert_int_equal(fcntl(fd, F_GETFD), -1);
                assert_int_equal(errno, EBADF);
        }
}

/* from a stream: a message takes the first UNIX_FDS fds, the rest stay the caller's */
static void test_from_stream(void **state)
{
        struct message *m = NULL;
        struct raw r;
        int fds[3];

        (void)state;
        raw_begin(&r, false, MARSHAL_TYPE_METHOD_CALL, 0, 1);
        raw_call_fields(&r);
        raw_field_str(&r, MARSHAL_FIELD_SIGNATURE, 'g', "h");
        raw_field_u32(&r, MARSHAL_FIELD_UNIX_FDS, 1);
        raw_end_fields(&r);
        raw_u32(&r, 0);
        raw_finish(&r);

        for (int i = 0; i < 3; ++i) {
                fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
                assert_true(fds[i] >= 0);
        }
        /* too few fds: refused, nothing taken */
        assert_marshal(message_new_from_stream(&m, r.buf, r.n, NULL, 0), MARSHAL_E_UNIX_FDS);
        assert_null(m);

        assert_int_equal(message_new_from_stream(&m, r.buf, r.n, fds, 3), 0);
        assert_int_equal(m->n_fds, 1);
        assert_int_equal(m->fds[0], fds[0]);
        message_unref(m);
        assert_int_equal(fcntl(fds[0], F_GETFD), -1);
        /* the others were not taken over */
        assert_true(fcntl(fds[1], F_GETFD) >= 0);
        assert_true(fcntl(fds[2], F_GETFD) >= 0);

        /* a message without UNIX_FDS takes none of them */
        raw_begin(&r, false, MARSHAL_TYPE_METHOD_CALL, 0, 2);
        raw_call_fields(&r);
        raw_end_fields(&r);
        raw_finish(&r);
        assert_int_equal(message_new_from_stream(&m, r.buf, r.n, fds + 1, 2), 0);
        assert_int_equal(m->n_fds, 0);
        message_unref(m);
        assert_true(fcntl(fds[1], F_GETFD) >= 0);
        close(fds[1]);
        close(fds[2]);
}

struct account_probe {
        unsigned int n_calls;
};

static void account_released(void *userdata)
{
        struct account_probe *p = userdata;

        ++p->n_calls;
}

/* message accounts: charge while alive, callback on release, detach */
static void test_account(void **state)
{
        struct account_probe probe = {};
        struct message_account *a = NULL;
        struct message *m1 = NULL, *m2 = NULL;
        struct raw r;
        int fd;

        (void)state;
        raw_begin(&r, false, MARSHAL_TYPE_METHOD_CALL, 0, 1);
        raw_call_fields(&r);
        raw_field_str(&r, MARSHAL_FIELD_SIGNATURE, 'g', "h");
        raw_field_u32(&r, MARSHAL_FIELD_UNIX_FDS, 1);
        raw_end_fields(&r);
        raw_u32(&r, 0);
        raw_finish(&r);

        assert_int_equal(message_account_new(&a, account_released, &probe), 0);
        assert_int_equal(a->n_bytes, 0);

        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(message_new_from_data(&m1, r.buf, r.n, &fd, 1), 0);
        message_charge(m1, a, 100);
        assert_int_equal(a->n_bytes, 100);
        assert_int_equal(a->n_fds, 1);

        raw_begin(&r, false, MARSHAL_TYPE_METHOD_CALL, 0, 2);
        raw_call_fields(&r);
        raw_end_fields(&r);
        raw_finish(&r);
        assert_int_equal(message_new_from_data(&m2, r.buf, r.n, NULL, 0), 0);
        message_charge(m2, a, r.n);
        assert_int_equal(a->n_bytes, 100 + r.n);

        /* a reference more does not release; the last one does */
        message_ref(m1);
        message_unref(m1);
        assert_int_equal(probe.n_calls, 0);
        message_unref(m1);
        assert_int_equal(probe.n_calls, 1);
        assert_int_equal(a->n_bytes, r.n);
        assert_int_equal(a->n_fds, 0);

        /* detached: the account lives on for m2, without callbacks */
        a = message_account_detach(a);
        assert_null(a);
        message_unref(m2);
        assert_int_equal(probe.n_calls, 1);
        assert_null(message_account_detach(NULL));
}

/* build a message with every type in byte order @be and read it back */
static struct message *build_everything(bool be, const int *fds, size_t n_fds)
{
        struct message_builder b;
        struct message *m = NULL;
        const char *s = "h\xc3\xa4llo", *o = "/org/example", *g = "a{sv}(ii)";
        uint8_t y = 0xfe;
        bool t = true;
        int16_t n = -2;
        uint16_t q = 0xfffe;
        int32_t i = -100000;
        uint32_t u = 0xdeadbeef, h = 1;
        int64_t x = -5000000000LL;
        uint64_t tt = 0xfedcba9876543210ULL;
        double d = 3.25;

        message_builder_init(&b, MARSHAL_TYPE_METHOD_CALL, be, 42);
        message_builder_set_flags(&b, MARSHAL_FLAG_NO_AUTO_START);
        assert_int_equal(message_builder_set_field(&b, MARSHAL_FIELD_PATH, "/org/example/Obj"), 0);
        assert_int_equal(message_builder_set_field(&b, MARSHAL_FIELD_INTERFACE, "org.example.Iface"), 0);
        assert_int_equal(message_builder_set_field(&b, MARSHAL_FIELD_MEMBER, "Everything"), 0);
        assert_int_equal(message_builder_set_field(&b, MARSHAL_FIELD_DESTINATION, "org.example.Service"), 0);

        assert_int_equal(message_builder_append(&b, 'y', &y), 0);
        assert_int_equal(message_builder_append(&b, 'b', &t), 0);
        assert_int_equal(message_builder_append(&b, 'n', &n), 0);
        assert_int_equal(message_builder_append(&b, 'q', &q), 0);
        assert_int_equal(message_builder_append(&b, 'i', &i), 0);
        assert_int_equal(message_builder_append(&b, 'u', &u), 0);
        assert_int_equal(message_builder_append(&b, 'x', &x), 0);
        assert_int_equal(message_builder_append(&b, 't', &tt), 0);
        assert_int_equal(message_builder_append(&b, 'd', &d), 0);
        assert_int_equal(message_builder_append(&b, 's', &s), 0);
        assert_int_equal(message_builder_append(&b, 'o', &o), 0);
        assert_int_equal(message_builder_append(&b, 'g', &g), 0);
        assert_int_equal(message_builder_append(&b, 'h', &h), 0);

        /* as */
        assert_int_equal(message_builder_open(&b, "as"), 0);
        assert_int_equal(message_builder_append_string(&b, "one"), 0);
        assert_int_equal(message_builder_append_string(&b, "two"), 0);
        assert_int_equal(message_builder_close(&b), 0);

        /* a{sv} with a nested a{sv} in a variant */
        assert_int_equal(message_builder_open(&b, "a{sv}"), 0);
        assert_int_equal(message_builder_open(&b, "{sv}"), 0);
        assert_int_equal(message_builder_append_string(&b, "k1"), 0);
        assert_int_equal(message_builder_open_variant(&b, "u"), 0);
        assert_int_equal(message_builder_append_u32(&b, 7), 0);
        assert_int_equal(message_builder_close(&b), 0);
        assert_int_equal(message_builder_close(&b), 0);
        assert_int_equal(message_builder_open(&b, "{sv}"), 0);
        assert_int_equal(message_builder_append_string(&b, "k2"), 0);
        assert_int_equal(message_builder_open_variant(&b, "a{sv}"), 0);
        assert_int_equal(message_builder_open(&b, "a{sv}"), 0);
        assert_int_equal(message_builder_open(&b, "{sv}"), 0);
        assert_int_equal(message_builder_append_string(&b, "inner"), 0);
        assert_int_equal(message_builder_open_variant(&b, "as"), 0);
        assert_int_equal(message_builder_open(&b, "as"), 0);
        assert_int_equal(message_builder_close(&b), 0);
        assert_int_equal(message_builder_close(&b), 0);
        assert_int_equal(message_builder_close(&b), 0);
        assert_int_equal(message_builder_close(&b), 0);
        assert_int_equal(message_builder_close(&b), 0);
        assert_int_equal(message_builder_close(&b), 0);
        assert_int_equal(message_builder_close(&b), 0);

        /* (i(ss)) */
        assert_int_equal(message_builder_open(&b, "(i(ss))"), 0);
        assert_int_equal(message_builder_append(&b, 'i', &i), 0);
        assert_int_equal(message_builder_open(&b, "(ss)"), 0);
        assert_int_equal(message_builder_append_string(&b, "a"), 0);
        assert_int_equal(message_builder_append_string(&b, ""), 0);
        assert_int_equal(message_builder_close(&b), 0);
        assert_int_equal(message_builder_close(&b), 0);

        /* aay, at (empty), ad */
        assert_int_equal(message_builder_open(&b, "aay"), 0);
        assert_int_equal(message_builder_open(&b, "ay"), 0);
        assert_int_equal(message_builder_append(&b, 'y', &y), 0);
        assert_int_equal(message_builder_append(&b, 'y', &y), 0);
        assert_int_equal(message_builder_close(&b), 0);
        assert_int_equal(message_builder_open(&b, "ay"), 0);
        assert_int_equal(message_builder_close(&b), 0);
        assert_int_equal(message_builder_close(&b), 0);
        assert_int_equal(message_builder_open(&b, "at"), 0);
        assert_int_equal(message_builder_close(&b), 0);
        assert_int_equal(message_builder_open(&b, "ad"), 0);
        assert_int_equal(message_builder_append(&b, 'd', &d), 0);
        assert_int_equal(message_builder_close(&b), 0);

        /* v holding (yv) holding s */
        assert_int_equal(message_builder_open_variant(&b, "(yv)"), 0);
        assert_int_equal(message_builder_open(&b, "(yv)"), 0);
        assert_int_equal(message_builder_append(&b, 'y', &y), 0);
        assert_int_equal(message_builder_open_variant(&b, "s"), 0);
        assert_int_equal(message_builder_append_string(&b, "deep"), 0);
        assert_int_equal(message_builder_close(&b), 0);
        assert_int_equal(message_builder_close(&b), 0);
        assert_int_equal(message_builder_close(&b), 0);

        assert_int_equal(message_builder_seal(&b, &m, fds, n_fds), 0);
        message_builder_deinit(&b);
        return m;
}

static void check_everything(struct message *m, bool be)
{
        struct marshal_reader r;
        const char *str;
        uint8_t y;
        bool t;
        int16_t n;
        uint16_t q;
        int32_t i;
        uint32_t u;
        int64_t x;
        uint64_t tt;
        double d;

        assert_int_equal(m->big_endian, be);
        assert_int_equal(m->type, MARSHAL_TYPE_METHOD_CALL);
        assert_int_equal(m->flags, MARSHAL_FLAG_NO_AUTO_START);
        assert_int_equal(m->serial, 42);
        assert_string_equal(m->path, "/org/example/Obj");
        assert_string_equal(m->interface, "org.example.Iface");
        assert_string_equal(m->member, "Everything");
        assert_string_equal(m->destination, "org.example.Service");
        assert_string_equal(m->signature, "ybnqiuxtdsogh" "as" "a{sv}" "(i(ss))" "aay" "at" "ad" "v");

        message_body_reader(m, &r);
        assert_int_equal(marshal_reader_peek(&r), 'y');
        /* wrong type: nothing consumed */
        assert_marshal(marshal_reader_read(&r, 'u', &u), MARSHAL_E_TYPE);
        assert_int_equal(marshal_reader_read(&r, 'y', &y), 0);
        assert_int_equal(y, 0xfe);
        assert_int_equal(marshal_reader_read(&r, 'b', &t), 0);
        assert_true(t);
        assert_int_equal(marshal_reader_read(&r, 'n', &n), 0);
        assert_int_equal(n, -2);
        assert_int_equal(marshal_reader_read(&r, 'q', &q), 0);
        assert_int_equal(q, 0xfffe);
        assert_int_equal(marshal_reader_read(&r, 'i', &i), 0);
        assert_int_equal(i, -100000);
        assert_int_equal(marshal_reader_read(&r, 'u', &u), 0);
        assert_int_equal(u, 0xdeadbeef);
        assert_int_equal(marshal_reader_read(&r, 'x', &x), 0);
        assert_true(x == -5000000000LL);
        assert_int_equal(marshal_reader_read(&r, 't', &tt), 0);
        assert_true(tt == 0xfedcba9876543210ULL);
        assert_int_equal(marshal_reader_read(&r, 'd', &d), 0);
        assert_true(d == 3.25);
        assert_int_equal(marshal_reader_read(&r, 's', &str), 0);
        assert_string_equal(str, "h\xc3\xa4llo");
        assert_int_equal(marshal_reader_read(&r, 'o', &str), 0);
        assert_string_equal(str, "/org/example");
        assert_int_equal(marshal_reader_read(&r, 'g', &str), 0);
        assert_string_equal(str, "a{sv}(ii)");
        assert_int_equal(marshal_reader_read(&r, 'h', &u), 0);
        assert_int_equal(u, 1);

        /* as */
        assert_marshal(marshal_reader_enter(&r, '('), MARSHAL_E_TYPE);
        assert_int_equal(marshal_reader_enter(&r, 'a'), 0);
        assert_int_equal(marshal_reader_read(&r, 's', &str), 0);
        assert_string_equal(str, "one");
        assert_int_equal(marshal_reader_read(&r, 's', &str), 0);
        assert_string_equal(str, "two");
        assert_int_equal(marshal_reader_peek(&r), 0);
        assert_marshal(marshal_reader_read(&r, 's', &str), MARSHAL_E_END);
        assert_int_equal(marshal_reader_exit(&r), 0);

        /* a{sv}: read the first entry, skip into the second, exit early */
        assert_int_equal(marshal_reader_enter(&r, 'a'), 0);
        assert_int_equal(marshal_reader_enter(&r, '{'), 0);
        assert_int_equal(marshal_reader_read(&r, 's', &str), 0);
        assert_string_equal(str, "k1");
        assert_int_equal(marshal_reader_enter(&r, 'v'), 0);
        assert_string_equal(marshal_reader_signature(&r), "u");
        assert_int_equal(marshal_reader_read(&r, 'u', &u), 0);
        assert_int_equal(u, 7);
        assert_int_equal(marshal_reader_exit(&r), 0);
        assert_int_equal(marshal_reader_peek(&r), 0);
        assert_int_equal(marshal_reader_exit(&r), 0);
        assert_int_equal(marshal_reader_enter(&r, '{'), 0);
        assert_int_equal(marshal_reader_read(&r, 's', &str), 0);
        assert_string_equal(str, "k2");
        assert_int_equal(marshal_reader_enter(&r, 'v'), 0);
        assert_string_equal(marshal_reader_signature(&r), "a{sv}");
        assert_int_equal(marshal_reader_exit(&r), 0);
        assert_int_equal(marshal_reader_exit(&r), 0);
        assert_int_equal(marshal_reader_exit(&r), 0);

        /* (i(ss)) */
        assert_int_equal(marshal_reader_enter(&r, '('), 0);
        assert_int_equal(marshal_reader_read(&r, 'i', &i), 0);
        assert_int_equal(i, -100000);
        assert_int_equal(marshal_reader_enter(&r, '('), 0);
        assert_int_equal(marshal_reader_read(&r, 's', &str), 0);
        assert_string_equal(str, "a");
        assert_int_equal(marshal_reader_read(&r, 's', &str), 0);
        assert_string_equal(str, "");
        assert_int_equal(marshal_reader_exit(&r), 0);
        assert_int_equal(marshal_reader_exit(&r), 0);

        /* aay: skip whole elements */
        assert_int_equal(marshal_reader_enter(&r, 'a'), 0);
        assert_int_equal(marshal_reader_skip(&r), 0);
        assert_int_equal(marshal_reader_enter(&r, 'a'), 0);
        assert_int_equal(marshal_reader_peek(&r), 0);
        assert_int_equal(marshal_reader_exit(&r), 0);
        assert_marshal(marshal_reader_skip(&r), MARSHAL_E_END);
        assert_int_equal(marshal_reader_exit(&r), 0);

        /* at, ad */
        assert_int_equal(marshal_reader_enter(&r, 'a'), 0);
        assert_int_equal(marshal_reader_peek(&r), 0);
        assert_int_equal(marshal_reader_exit(&r), 0);
        assert_int_equal(marshal_reader_enter(&r, 'a'), 0);
        assert_int_equal(marshal_reader_read(&r, 'd', &d), 0);
        assert_true(d == 3.25);
        assert_int_equal(marshal_reader_exit(&r), 0);

        /* v((yv)) */
        assert_int_equal(marshal_reader_enter(&r, 'v'), 0);
        assert_int_equal(marshal_reader_enter(&r, '('), 0);
        assert_int_equal(marshal_reader_read(&r, 'y', &y), 0);
        assert_int_equal(marshal_reader_enter(&r, 'v'), 0);
        assert_int_equal(marshal_reader_read(&r, 's', &str), 0);
        assert_string_equal(str, "deep");
        assert_int_equal(marshal_reader_exit(&r), 0);
        assert_int_equal(marshal_reader_exit(&r), 0);
        assert_int_equal(marshal_reader_exit(&r), 0);

        assert_int_equal(marshal_reader_peek(&r), 0);
        assert_marshal(marshal_reader_exit(&r), MARSHAL_E_STATE);
        assert_int_equal(r.pos, m->n_data);
}

static void test_round_trip(void **state)
{
        struct message *m, *m2;
        uint8_t *wire;
        int be, fds[2];

        for (be = 0; be < 2; ++be) {
                fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
                fds[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
                m = build_everything(be, fds, 2);
                assert_int_equal(m->unix_fds, 2);
                check_everything(m, be);

                /* bytes -> parser -> same content */
                wire = malloc(m->n_wire);
                assert_non_null(wire);
                message_write(m, wire);
                assert_int_equal(message_new_from_data(&m2, wire, m->n_wire, (int[]){ -1, -1 }, 2), 0);
                check_everything(m2, be);
                assert_memory_equal(m2->data, m->data, m->n_data);
                message_unref(m2);
                free(wire);
                message_unref(m);
        }
}

static void test_builder_errors(void **state)
{
        struct message_builder b;
        struct message *m = NULL;
        const char *bad = "\xff";
        uint32_t u = 1;

        /* wrong type inside a container, sticky afterwards */
        message_builder_init(&b, MARSHAL_TYPE_METHOD_CALL, false, 1);
        assert_int_equal(message_builder_open(&b, "as"), 0);
        assert_marshal(message_builder_append_u32(&b, 1), MARSHAL_E_TYPE);
        assert_marshal(message_builder_append_string(&b, "x"), MARSHAL_E_TYPE);
        assert_marshal(message_builder_seal(&b, &m, NULL, 0), MARSHAL_E_TYPE);
        message_builder_deinit(&b);

        /* incomplete struct, unclosed container, nothing to close */
        message_builder_init(&b, MARSHAL_TYPE_METHOD_CALL, false, 1);
        assert_int_equal(message_builder_open(&b, "(uu)"), 0);
        assert_int_equal(message_builder_append_u32(&b, 1), 0);
        assert_marshal(message_builder_close(&b), MARSHAL_E_STATE);
        message_builder_deinit(&b);
        message_builder_init(&b, MARSHAL_TYPE_METHOD_CALL, false, 1);
        assert_int_equal(message_builder_open(&b, "au"), 0);
        assert_marshal(message_builder_seal(&b, &m, NULL, 0), MARSHAL_E_STATE);
        message_builder_deinit(&b);
        message_builder_init(&b, MARSHAL_TYPE_METHOD_CALL, false, 1);
        assert_marshal(message_builder_close(&b), MARSHAL_E_STATE);
        message_builder_deinit(&b);

        /* too many values in a struct or variant, none in a variant */
        message_builder_init(&b, MARSHAL_TYPE_METHOD_CALL, false, 1);
        assert_int_equal(message_builder_open(&b, "(u)"), 0);
        assert_int_equal(message_builder_append_u32(&b, 1), 0);
        assert_marshal(message_builder_append_u32(&b, 1), MARSHAL_E_TYPE);
        message_builder_deinit(&b);
        message_builder_init(&b, MARSHAL_TYPE_METHOD_CALL, false, 1);
        assert_int_equal(message_builder_open_variant(&b, "u"), 0);
        assert_marshal(message_builder_close(&b), MARSHAL_E_STATE);
        message_builder_deinit(&b);

        /* invalid values and types */
        message_builder_init(&b, MARSHAL_TYPE_METHOD_CALL, false, 1);
        assert_marshal(message_builder_append(&b, 's', &bad), MARSHAL_E_UTF8);
        message_builder_deinit(&b);
        message_builder_init(&b, MARSHAL_TYPE_METHOD_CALL, false, 1);
        assert_marshal(message_builder_append(&b, 'o', &(const char *){ "x" }), MARSHAL_E_OBJECT_PATH);
        message_builder_deinit(&b);
        message_builder_init(&b, MARSHAL_TYPE_METHOD_CALL, false, 1);
        assert_marshal(message_builder_append(&b, 'g', &(const char *){ "(" }), MARSHAL_E_SIGNATURE);
        message_builder_deinit(&b);
        message_builder_init(&b, MARSHAL_TYPE_METHOD_CALL, false, 1);
        assert_marshal(message_builder_append(&b, 'v', &u), MARSHAL_E_TYPE);
        message_builder_deinit(&b);
        message_builder_init(&b, MARSHAL_TYPE_METHOD_CALL, false, 1);
        assert_marshal(message_builder_open(&b, "{sv}"), MARSHAL_E_TYPE);
        message_builder_deinit(&b);
        message_builder_init(&b, MARSHAL_TYPE_METHOD_CALL, false, 1);
        assert_marshal(message_builder_open(&b, "a{vs}"), MARSHAL_E_SIGNATURE);
        message_builder_deinit(&b);
        message_builder_init(&b, MARSHAL_TYPE_METHOD_CALL, false, 1);
        assert_marshal(message_builder_open_variant(&b, "uu"), MARSHAL_E_SIGNATURE);
        message_builder_deinit(&b);
        message_builder_init(&b, MARSHAL_TYPE_METHOD_CALL, false, 1);
        assert_marshal(message_builder_set_field(&b, MARSHAL_FIELD_SIGNATURE, "s"), MARSHAL_E_FIELD_TYPE);
        message_builder_deinit(&b);

        /* seal refuses what the parser refuses */
        message_builder_init(&b, MARSHAL_TYPE_METHOD_CALL, false, 1);
        assert_marshal(message_builder_seal(&b, &m, NULL, 0), MARSHAL_E_FIELD_MISSING);
        message_builder_deinit(&b);
        message_builder_init(&b, MARSHAL_TYPE_SIGNAL, true, 1);
        message_builder_set_field(&b, MARSHAL_FIELD_PATH, "/");
        message_builder_set_field(&b, MARSHAL_FIELD_INTERFACE, "a.b");
        message_builder_set_field(&b, MARSHAL_FIELD_MEMBER, "1x");
        assert_marshal(message_builder_seal(&b, &m, NULL, 0), MARSHAL_E_MEMBER);
        message_builder_deinit(&b);
        message_builder_init(&b, MARSHAL_TYPE_ERROR, true, 0);
        message_builder_set_field(&b, MARSHAL_FIELD_ERROR_NAME, "a.b.E");
        message_builder_set_reply_serial(&b, 3);
        assert_marshal(message_builder_seal(&b, &m, NULL, 0), MARSHAL_E_SERIAL);
        message_builder_deinit(&b);

        /* a 'h' beyond the fds given */
        message_builder_init(&b, MARSHAL_TYPE_METHOD_CALL, false, 1);
        message_builder_set_field(&b, MARSHAL_FIELD_PATH, "/");
        message_builder_set_field(&b, MARSHAL_FIELD_MEMBER, "M");
        assert_int_equal(message_builder_append(&b, 'h', &u), 0);
        assert_marshal(message_builder_seal(&b, &m, NULL, 0), MARSHAL_E_UNIX_FD);
        message_builder_deinit(&b);

        /* 64 nested containers are possible, a 65th is not */
        message_builder_init(&b, MARSHAL_TYPE_METHOD_CALL, false, 1);
        for (u = 0; u < 64; ++u)
                assert_int_equal(message_builder_open_variant(&b, "v"), 0);
        assert_marshal(message_builder_open_variant(&b, "v"), MARSHAL_E_DEPTH);
        message_builder_deinit(&b);

        /* body signature over 255 */
        message_builder_init(&b, MARSHAL_TYPE_METHOD_CALL, false, 1);
        for (u = 0; u < 255; ++u)
                assert_int_equal(message_builder_append(&b, 'y', &(uint8_t){ 0 }), 0);
        assert_marshal(message_builder_append(&b, 'y', &(uint8_t){ 0 }), MARSHAL_E_SIGNATURE);
        message_builder_deinit(&b);
        message_builder_deinit(&b);

        assert_null(m);
}

/* a signal, optionally with a SENDER field first/middle/last */
static void raw_signal_with_sender(struct raw *r, bool be, int where)
{
        raw_begin(r, be, MARSHAL_TYPE_SIGNAL, 0, 99);
        if (where == 0)
                raw_field_str(r, MARSHAL_FIELD_SENDER, 's', ":1.999999");
        raw_field_str(r, MARSHAL_FIELD_PATH, 'o', "/p");
        raw_field_str(r, MARSHAL_FIELD_INTERFACE, 's', "a.b");
        if (where == 1)
                raw_field_str(r, MARSHAL_FIELD_SENDER, 's', "org.fake.Sender");
        raw_field_str(r, MARSHAL_FIELD_MEMBER, 's', "Sig");
        raw_field_str(r, MARSHAL_FIELD_SIGNATURE, 'g', "su");
        if (where == 2)
                raw_field_str(r, MARSHAL_FIELD_SENDER, 's', ":1.2");
        raw_end_fields(r);
        raw_str(r, "body");
        raw_u32(r, 77);
        raw_finish(r);
}

static void check_resent(struct message *m, const char *sender)
{
        struct message *m2;
        struct marshal_reader rd;
        const char *str;
        uint32_t u;
        uint8_t *wire;

        wire = malloc(m->n_wire);
        assert_non_null(wire);
        message_write(m, wire);
        assert_int_equal(message_new_from_data(&m2, wire, m->n_wire, NULL, 0), 0);
        assert_string_equal(m2->sender, sender);
        assert_string_equal(m2->path, "/p");
        assert_string_equal(m2->interface, "a.b");
        assert_string_equal(m2->member, "Sig");
        assert_string_equal(m2->signature, "su");
        assert_int_equal(m2->serial, 99);
        assert_int_equal(m2->big_endian, m->big_endian);
        message_body_reader(m2, &rd);
        assert_int_equal(marshal_reader_read(&rd, 's', &str), 0);
        assert_string_equal(str, "body");
        assert_int_equal(marshal_reader_read(&rd, 'u', &u), 0);
        assert_int_equal(u, 77);
        assert_int_equal(m2->n_body, m->n_body);
        assert_memory_equal(m2->data + m2->body_offset, m->vecs[2].iov_base, m->n_body);
        message_unref(m2);
        free(wire);
}

static void test_set_sender(void **state)
{
        struct message *m;
        const void *body;
        struct raw r;
        int be, where;

        for (be = 0; be < 2; ++be) {
                for (where = -1; where < 3; ++where) {
                        raw_signal_with_sender(&r, be, where);
                        assert_int_equal(message_new_from_data(&m, r.buf, r.n, NULL, 0), 0);
                        body = m->vecs[2].iov_base;

                        assert_marshal(message_set_sender(m, "not a name"), MARSHAL_E_BUS_NAME);
                        assert_marshal(message_set_sender(m, ""), MARSHAL_E_BUS_NAME);
                        /* failed calls leave the message as it was */
                        assert_int_equal(m->n_wire, r.n);
                        assert_int_equal(m->vecs[1].iov_len, 0);
                        assert_memory_equal(m->data, r.buf, r.n);

                        assert_int_equal(message_set_sender(m, ":1.42"), 0);
                        assert_string_equal(m->sender, ":1.42");
                        assert_int_equal(m->n_sender, 5);
                        /* the parsed fields still point at the right strings */
                        assert_string_equal(m->path, "/p");
                        assert_string_equal(m->interface, "a.b");
                        assert_string_equal(m->member, "Sig");
                        assert_string_equal(m->signature, "su");
                        /* the body did not move */
                        assert_ptr_equal(m->vecs[2].iov_base, body);
                        assert_int_equal(m->vecs[0].iov_len % 8, 0);
                        assert_int_equal(m->vecs[1].iov_len % 8, 0);
                        assert_int_equal(m->n_wire, m->vecs[0].iov_len + m->vecs[1].iov_len + m->vecs[2].iov_len);
                        check_resent(m, ":1.42");

                        /* again: the last call wins */
                        assert_int_equal(message_set_sender(m, "org.freedesktop.DBus"), 0);
                        assert_string_equal(m->path, "/p");
                        check_resent(m, "org.freedesktop.DBus");
                        message_unref(m);
                }
        }
}

/*
 * The signal of raw_signal_with_sender() with header fields of unknown codes
 * where @mask says (bit 0: first, bit 1: after PATH, bit 2: last), and a
 * SENDER if @sender.
 */
static void raw_signal_with_unknown(struct raw *r, bool be, unsigned int mask, bool sender)
{
        raw_begin(r, be, MARSHAL_TYPE_SIGNAL, 0, 99);
        if (mask & 1)
                raw_field_str(r, 123, 's', "unknown string field");
        raw_field_str(r, MARSHAL_FIELD_PATH, 'o', "/p");
        if (mask & 2)
                raw_field_u32(r, 200, 7);
        if (sender)
                raw_field_str(r, MARSHAL_FIELD_SENDER, 's', ":1.999999");
        raw_field_str(r, MARSHAL_FIELD_INTERFACE, 's', "a.b");
        raw_field_str(r, MARSHAL_FIELD_MEMBER, 's', "Sig");
        raw_field_str(r, MARSHAL_FIELD_SIGNATURE, 'g', "su");
        if (mask & 4)
                raw_field_str(r, 11, 'o', "/x/y");
        raw_end_fields(r);
        raw_str(r, "body");
        raw_u32(r, 77);
        raw_finish(r);
}

/* set_sender drops header fields of unknown codes (dbus-daemon's header filtering) */
static void test_set_sender_filters(void **state)
{
        struct message *m, *plain;
        struct raw r;
        uint8_t *a, *b;
        int be;

        for (be = 0; be < 2; ++be) {
                raw_signal_with_unknown(&r, be, 0, false);
                assert_int_equal(message_new_from_data(&plain, r.buf, r.n, NULL, 0), 0);
                assert_int_equal(message_set_sender(plain, ":1.42"), 0);
                b = malloc(plain->n_wire);
                assert_non_null(b);
                message_write(plain, b);

                for (unsigned int mask = 0; mask < 8; ++mask) {
                        for (int sender = 0; sender < 2; ++sender) {
                                raw_signal_with_unknown(&r, be, mask, sender);
                                assert_int_equal(message_new_from_data(&m, r.buf, r.n, NULL, 0), 0);
                                assert_int_equal(message_set_sender(m, ":1.42"), 0);
                                assert_string_equal(m->path, "/p");
                                assert_string_equal(m->interface, "a.b");
                                assert_string_equal(m->member, "Sig");
                                assert_string_equal(m->signature, "su");
                                /* the same bytes as the message that never had them */
                                assert_int_equal(m->n_wire, plain->n_wire);
                                a = malloc(m->n_wire);
                                assert_non_null(a);
                                message_write(m, a);
                                assert_memory_equal(a, b, m->n_wire);
                                free(a);
                                check_resent(m, ":1.42");
                                message_unref(m);
                        }
                }
                free(b);
                message_unref(plain);
        }
}

static void test_read_args(void **state)
{
        struct message_arg args[4];
        struct message *m;
        struct raw r;
        int be;

        for (be = 0; be < 2; ++be) {
                raw_call(&r, be, "sua{sv}os");
                raw_str(&r, "zero");
                raw_u32(&r, 1);
                raw_u32(&r, 0);
                raw_pad(&r, 8);
                raw_str(&r, "/three");
                raw_str(&r, "four");
                raw_finish(&r);
                assert_int_equal(message_new_from_data(&m, r.buf, r.n, NULL, 0), 0);
                assert_int_equal(message_read_args(m, args, 4), 4);
                assert_int_equal(args[0].type, 's');
                assert_string_equal(args[0].value, "zero");
                assert_int_equal(args[0].n_value, 4);
                assert_int_equal(args[1].type, 'u');
                assert_null(args[1].value);
                assert_int_equal(args[2].type, 'a');
                assert_null(args[2].value);
                assert_int_equal(args[3].type, 'o');
                assert_string_equal(args[3].value, "/three");
                assert_int_equal(message_read_args(m, args, 1), 1);
                message_unref(m);

                raw_call(&r, be, NULL);
                raw_finish(&r);
                assert_int_equal(message_new_from_data(&m, r.buf, r.n, NULL, 0), 0);
                assert_int_equal(message_read_args(m, args, 4), 0);
                message_unref(m);
        }
}

static void test_read_basic(void **state)
{
        const char *name = NULL, *path = NULL;
        uint32_t flags = 0;
        bool b = false;
        struct message *m;
        struct raw r;
        int be;

        for (be = 0; be < 2; ++be) {
                name = NULL;
                flags = 0;
                raw_call(&r, be, "suob");
                raw_str(&r, "com.example.Name");
                raw_u32(&r, 4);
                raw_str(&r, "/p");
                raw_u32(&r, 1);
                raw_finish(&r);
                assert_int_equal(message_new_from_data(&m, r.buf, r.n, NULL, 0), 0);

                /* another signature: nothing written */
                assert_marshal(message_read_basic(m, "su", &name, &flags), MARSHAL_E_TYPE);
                assert_marshal(message_read_basic(m, "suobs", &name, &flags, &path, &b, &name),
                               MARSHAL_E_TYPE);
                assert_null(name);
                assert_int_equal(flags, 0);

                assert_int_equal(message_read_basic(m, "suob", &name, &flags, &path, &b), 0);
                assert_string_equal(name, "com.example.Name");
                assert_int_equal(flags, 4);
                assert_string_equal(path, "/p");
                assert_true(b);
                message_unref(m);

                raw_call(&r, be, "as");
                raw_u32(&r, 0);
                raw_finish(&r);
                assert_int_equal(message_new_from_data(&m, r.buf, r.n, NULL, 0), 0);
                assert_marshal(message_read_basic(m, "as", &name), MARSHAL_E_TYPE);
                assert_marshal(message_read_basic(m, ""), MARSHAL_E_TYPE);
                message_unref(m);

                raw_call(&r, be, NULL);
                raw_finish(&r);
                assert_int_equal(message_new_from_data(&m, r.buf, r.n, NULL, 0), 0);
                assert_int_equal(message_read_basic(m, ""), 0);
                message_unref(m);
        }
}

static void test_from_buffer(void **state)
{
        struct message *m;
        uint8_t *buf;
        struct raw r;

        raw_call(&r, true, "s");
        raw_str(&r, "x");
        raw_finish(&r);

        /* failure: the caller keeps the buffer */
        buf = malloc(r.n);
        assert_non_null(buf);
        memcpy(buf, r.buf, r.n);
        buf[r.n - 1] = 'x';
        assert_marshal(message_new_from_buffer(&m, buf, r.n, NULL, 0), MARSHAL_E_STRING);
        buf[r.n - 1] = 0;
        assert_int_equal(message_new_from_buffer(&m, buf, r.n, NULL, 0), 0);
        assert_ptr_equal(m->data, buf);
        assert_int_equal(message_set_sender(m, ":1.1"), 0);
        assert_string_equal(m->sender, ":1.1");
        assert_string_equal(m->path, "/a");
        assert_int_equal(m->n_wire, r.n + 16);
        message_unref(m);
}

/*
 * A message of @size bytes (a multiple of 4, >= 72 + 64 MiB) with body "ayay":
 * a 64 MiB array and one filling the rest. Pages stay untouched (calloc).
 */
static uint8_t *big_message(bool be, size_t size)
{
        size_t l1 = MARSHAL_MAX_ARRAY_SIZE, l2 = size - 72 - l1;
        uint8_t *buf;
        struct raw r;

        raw_call(&r, be, "ayay");
        assert_int_equal(r.n, 64);
        raw_u32(&r, l1);
        raw_finish(&r);
        marshal_store_u32(r.buf + 4, size - 64, be);

        buf = calloc(1, size);
        assert_non_null(buf);
        memcpy(buf, r.buf, r.n);
        marshal_store_u32(buf + 68 + l1, l2, be);
        return buf;
}

static void test_size_limits(void **state)
{
        struct message *m;
        uint8_t *buf;
        size_t size;
        int be;

        for (be = 0; be < 2; ++be) {
                /* exactly 128 MiB, with an array of exactly 64 MiB: valid */
                buf = big_message(be, MARSHAL_MAX_MESSAGE_SIZE);
                assert_int_equal(message_frame_size(buf, 16, &size), 0);
                assert_int_equal(size, MARSHAL_MAX_MESSAGE_SIZE);
                assert_int_equal(message_new_from_buffer(&m, buf, MARSHAL_MAX_MESSAGE_SIZE, NULL, 0), 0);
                /* no room for a SENDER field */
                assert_marshal(message_set_sender(m, ":1.1"), MARSHAL_E_TOO_LARGE);
                message_unref(m);

                /* 16 bytes less: SENDER ":1.1" takes 16 and fits exactly */
                size = MARSHAL_MAX_MESSAGE_SIZE - 16;
                buf = big_message(be, size);
                assert_int_equal(message_new_from_buffer(&m, buf, size, NULL, 0), 0);
                assert_int_equal(message_set_sender(m, ":1.1"), 0);
                assert_int_equal(m->n_wire, MARSHAL_MAX_MESSAGE_SIZE);
                assert_int_equal(message_set_sender(m, ":1.1234"), 0);     /* 8 + 7 + 1: still 16 */
                assert_marshal(message_set_sender(m, ":1.12345"), MARSHAL_E_TOO_LARGE);
                message_unref(m);

                /* 8 bytes over: refused from the fixed header alone */
                size = MARSHAL_MAX_MESSAGE_SIZE + 8;
                buf = big_message(be, size);
                assert_marshal(message_frame_size(buf, 16, &size), MARSHAL_E_TOO_LARGE);
                assert_marshal(message_new_from_buffer(&m, buf, MARSHAL_MAX_MESSAGE_SIZE + 8, NULL, 0),
                               MARSHAL_E_TOO_LARGE);
                /* the caller still owns the buffer */
                free(buf);

                /* an array of 64 MiB + 4 in a message under the limit */
                size = MARSHAL_MAX_MESSAGE_SIZE - 64;
                buf = big_message(be, size);
                marshal_store_u32(buf + 64, MARSHAL_MAX_ARRAY_SIZE + 4, be);
                marshal_store_u32(buf + 68 + MARSHAL_MAX_ARRAY_SIZE + 4, size - 76 - MARSHAL_MAX_ARRAY_SIZE - 4, be);
                assert_marshal(message_new_from_buffer(&m, buf, size, NULL, 0), MARSHAL_E_ARRAY_TOO_LARGE);
                free(buf);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_frame_size),
                cmocka_unit_test(test_minimal),
                cmocka_unit_test(test_required_fields),
                cmocka_unit_test(test_header_fields),
                cmocka_unit_test(test_truncation),
                cmocka_unit_test(test_body_values),
                cmocka_unit_test(test_arrays),
                cmocka_unit_test(test_depth),
                cmocka_unit_test(test_unix_fds),
                cmocka_unit_test(test_from_stream),
                cmocka_unit_test(test_account),
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_builder_errors),
                cmocka_unit_test(test_set_sender),
                cmocka_unit_test(test_set_sender_filters),
                cmocka_unit_test(test_read_args),
                cmocka_unit_test(test_read_basic),
                cmocka_unit_test(test_from_buffer),
                cmocka_unit_test(test_size_limits),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
