/*
 * Cross-check of the wire codec with libdbus, the reference implementation:
 *  - messages libdbus marshals parse with us, with the same header fields and
 *    values (little-endian from libdbus directly; big-endian by having
 *    libdbus re-marshal a big-endian message it demarshalled, which keeps
 *    the byte order);
 *  - messages we build (both byte orders) are accepted by
 *    dbus_message_demarshal() with the same content;
 *  - message_set_sender() output is accepted by libdbus, sender visible;
 *  - invalid messages: our verdict (valid or not) equals libdbus' for a set of
 *    hand-written defects and for thousands of random mutations of valid
 *    messages, and frame sizes agree with dbus_message_demarshal_bytes_needed();
 *  - the invalid-message corpus of dbus-tests is refused (SKIP if absent).
 */
#include <dbus/dbus.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "dbus-proxy/marshal-builder.h"
#include "dbus-proxy/marshal-reader.h"
#include "dbus-proxy/message.h"
#include "dbus-proxy/validate.h"
#include "test/dbus-proxy/wire-raw.h"

#define CORPUS_DIR "/usr/lib/dbus-1.0/installed-tests/dbus/data/invalid-messages"

/* a libdbus method call with arguments of every type */
static DBusMessage *libdbus_everything(void)
{
        DBusMessageIter it, sub, entry, var, st;
        DBusMessage *msg;
        unsigned char y = 0xab;
        dbus_bool_t b = TRUE;
        dbus_int16_t n = -3;
        dbus_uint16_t q = 65000;
        dbus_int32_t i = -7;
        dbus_uint32_t u = 4000000000U;
        dbus_int64_t x = -9000000000LL;
        dbus_uint64_t t = 18000000000000000000ULL;
        double d = -0.5;
        const char *s = "gr\xc3\xbc\xc3\x9f", *o = "/a/b", *g = "a{sv}", *k = "key";
        const char *strs[] = { "x", "", "yz" };
        const char **pstrs = strs;

        msg = dbus_message_new_method_call("org.example.Dest", "/org/example/Path",
                                           "org.example.Iface", "Method");
        assert_non_null(msg);
        dbus_message_set_serial(msg, 1234);
        assert_true(dbus_message_append_args(msg,
                                             DBUS_TYPE_BYTE, &y,
                                             DBUS_TYPE_BOOLEAN, &b,
                                             DBUS_TYPE_INT16, &n,
                                             DBUS_TYPE_UINT16, &q,
                                             DBUS_TYPE_INT32, &i,
                                             DBUS_TYPE_UINT32, &u,
                                             DBUS_TYPE_INT64, &x,
                                             DBUS_TYPE_UINT64, &t,
                                             DBUS_TYPE_DOUBLE, &d,
                                             DBUS_TYPE_STRING, &s,
                                             DBUS_TYPE_OBJECT_PATH, &o,
                                             DBUS_TYPE_SIGNATURE, &g,
                                             DBUS_TYPE_ARRAY, DBUS_TYPE_STRING, &pstrs, 3,
                                             DBUS_TYPE_INVALID));

        dbus_message_iter_init_append(msg, &it);
        /* a{sv} */
        assert_true(dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "{sv}", &sub));
        assert_true(dbus_message_iter_open_container(&sub, DBUS_TYPE_DICT_ENTRY, NULL, &entry));
        assert_true(dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &k));
        assert_true(dbus_message_iter_open_container(&entry, DBUS_TYPE_VARIANT, "x", &var));
        assert_true(dbus_message_iter_append_basic(&var, DBUS_TYPE_INT64, &x));
        assert_true(dbus_message_iter_close_container(&entry, &var));
        assert_true(dbus_message_iter_close_container(&sub, &entry));
        assert_true(dbus_message_iter_close_container(&it, &sub));
        /* (yd) */
        assert_true(dbus_message_iter_open_container(&it, DBUS_TYPE_STRUCT, NULL, &st));
        assert_true(dbus_message_iter_append_basic(&st, DBUS_TYPE_BYTE, &y));
        assert_true(dbus_message_iter_append_basic(&st, DBUS_TYPE_DOUBLE, &d));
        assert_true(dbus_message_iter_close_container(&it, &st));
        /* v(as) */
        assert_true(dbus_message_iter_open_container(&it, DBUS_TYPE_VARIANT, "as", &var));
        assert_true(dbus_message_iter_open_container(&var, DBUS_TYPE_ARRAY, "s", &sub));
        assert_true(dbus_message_iter_append_basic(&sub, DBUS_TYPE_STRING, &k));
        assert_true(dbus_message_iter_close_container(&var, &sub));
        assert_true(dbus_message_iter_close_container(&it, &var));
        /* empty at */
        assert_true(dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "t", &sub));
        assert_true(dbus_message_iter_close_container(&it, &sub));

        return msg;
}

#define EVERYTHING_SIG "ybnqiuxtdsogasa{sv}(yd)vat"

/* check a message with the content of libdbus_everything() with our reader */
static void check_everything(struct message *m)
{
        struct marshal_reader r;
        const char *str;
        uint8_t y;
        bool b;
        int16_t n;
        uint16_t q;
        int32_t i;
        uint32_t u;
        int64_t x;
        uint64_t t;
        double d;

        assert_int_equal(m->type, MARSHAL_TYPE_METHOD_CALL);
        assert_int_equal(m->serial, 1234);
        assert_string_equal(m->destination, "org.example.Dest");
        assert_string_equal(m->path, "/org/example/Path");
        assert_string_equal(m->interface, "org.example.Iface");
        assert_string_equal(m->member, "Method");
        assert_string_equal(m->signature, EVERYTHING_SIG);

        message_body_reader(m, &r);
        assert_int_equal(marshal_reader_read(&r, 'y', &y), 0);
        assert_int_equal(y, 0xab);
        assert_int_equal(marshal_reader_read(&r, 'b', &b), 0);
        assert_true(b);
        assert_int_equal(marshal_reader_read(&r, 'n', &n), 0);
        assert_int_equal(n, -3);
        assert_int_equal(marshal_reader_read(&r, 'q', &q), 0);
        assert_int_equal(q, 65000);
        assert_int_equal(marshal_reader_read(&r, 'i', &i), 0);
        assert_int_equal(i, -7);
        assert_int_equal(marshal_reader_read(&r, 'u', &u), 0);
        assert_int_equal(u, 4000000000U);
        assert_int_equal(marshal_reader_read(&r, 'x', &x), 0);
        assert_true(x == -9000000000LL);
        assert_int_equal(marshal_reader_read(&r, 't', &t), 0);
        assert_true(t == 18000000000000000000ULL);
        assert_int_equal(marshal_reader_read(&r, 'd', &d), 0);
        assert_true(d == -0.5);
        assert_int_equal(marshal_reader_read(&r, 's', &str), 0);
        assert_string_equal(str, "gr\xc3\xbc\xc3\x9f");
        assert_int_equal(marshal_reader_read(&r, 'o', &str), 0);
        assert_string_equal(str, "/a/b");
        assert_int_equal(marshal_reader_read(&r, 'g', &str), 0);
        assert_string_equal(str, "a{sv}");
        assert_int_equal(marshal_reader_enter(&r, 'a'), 0);
        assert_int_equal(marshal_reader_read(&r, 's', &str), 0);
        assert_string_equal(str, "x");
        assert_int_equal(marshal_reader_read(&r, 's', &str), 0);
        assert_string_equal(str, "");
        assert_int_equal(marshal_reader_read(&r, 's', &str), 0);
        assert_string_equal(str, "yz");
        assert_int_equal(marshal_reader_peek(&r), 0);
        assert_int_equal(marshal_reader_exit(&r), 0);
        assert_int_equal(marshal_reader_enter(&r, 'a'), 0);
        assert_int_equal(marshal_reader_enter(&r, '{'), 0);
        assert_int_equal(marshal_reader_read(&r, 's', &str), 0);
        assert_string_equal(str, "key");
        assert_int_equal(marshal_reader_enter(&r, 'v'), 0);
        assert_int_equal(marshal_reader_read(&r, 'x', &x), 0);
        assert_true(x == -9000000000LL);
        assert_int_equal(marshal_reader_exit(&r), 0);
        assert_int_equal(marshal_reader_exit(&r), 0);
        assert_int_equal(marshal_reader_peek(&r), 0);
        assert_int_equal(marshal_reader_exit(&r), 0);
        assert_int_equal(marshal_reader_enter(&r, '('), 0);
        assert_int_equal(marshal_reader_read(&r, 'y', &y), 0);
        assert_int_equal(marshal_reader_read(&r, 'd', &d), 0);
        assert_true(d == -0.5);
        assert_int_equal(marshal_reader_exit(&r), 0);
        assert_int_equal(marshal_reader_enter(&r, 'v'), 0);
        assert_string_equal(marshal_reader_signature(&r), "as");
        assert_int_equal(marshal_reader_enter(&r, 'a'), 0);
        assert_int_equal(marshal_reader_read(&r, 's', &str), 0);
        assert_string_equal(str, "key");
        assert_int_equal(marshal_reader_exit(&r), 0);
        assert_int_equal(marshal_reader_exit(&r), 0);
        assert_int_equal(marshal_reader_enter(&r, 'a'), 0);
        assert_int_equal(marshal_reader_peek(&r), 0);
        assert_int_equal(marshal_reader_exit(&r), 0);
        assert_int_equal(marshal_reader_peek(&r), 0);
        assert_int_equal(r.pos, m->n_data);
}

/* build the same content as libdbus_everything() with our builder */
static struct message *our_everything(bool be)
{
        struct message_builder b;
        struct message *m = NULL;
        uint8_t y = 0xab;
        bool bb = true;
        int16_t n = -3;
        uint16_t q = 65000;
        int32_t i = -7;
        uint32_t u = 4000000000U;
        int64_t x = -9000000000LL;
        uint64_t t = 18000000000000000000ULL;
        double d = -0.5;
        const char *s = "gr\xc3\xbc\xc3\x9f", *o = "/a/b", *g = "a{sv}";

        message_builder_init(&b, MARSHAL_TYPE_METHOD_CALL, be, 1234);
        message_builder_set_field(&b, MARSHAL_FIELD_DESTINATION, "org.example.Dest");
        message_builder_set_field(&b, MARSHAL_FIELD_PATH, "/org/example/Path");
        message_builder_set_field(&b, MARSHAL_FIELD_INTERFACE, "org.example.Iface");
        message_builder_set_field(&b, MARSHAL_FIELD_MEMBER, "Method");
        message_builder_append(&b, 'y', &y);
        message_builder_append(&b, 'b', &bb);
        message_builder_append(&b, 'n', &n);
        message_builder_append(&b, 'q', &q);
        message_builder_append(&b, 'i', &i);
        message_builder_append(&b, 'u', &u);
        message_builder_append(&b, 'x', &x);
        message_builder_append(&b, 't', &t);
        message_builder_append(&b, 'd', &d);
        message_builder_append(&b, 's', &s);
        message_builder_append(&b, 'o', &o);
        message_builder_append(&b, 'g', &g);
        message_builder_open(&b, "as");
        message_builder_append_string(&b, "x");
        message_builder_append_string(&b, "");
        message_builder_append_string(&b, "yz");
        message_builder_close(&b);
        message_builder_open(&b, "a{sv}");
        message_builder_open(&b, "{sv}");
        message_builder_append_string(&b, "key");
        message_builder_open_variant(&b, "x");
        message_builder_append(&b, 'x', &x);
        message_builder_close(&b);
        message_builder_close(&b);
        message_builder_close(&b);
        message_builder_open(&b, "(yd)");
        message_builder_append(&b, 'y', &y);
        message_builder_append(&b, 'd', &d);
        message_builder_close(&b);
        message_builder_open_variant(&b, "as");
        message_builder_open(&b, "as");
        message_builder_append_string(&b, "key");
        message_builder_close(&b);
        message_builder_close(&b);
        message_builder_open(&b, "at");
        message_builder_close(&b);
        assert_int_equal(message_builder_seal(&b, &m, NULL, 0), 0);
        message_builder_deinit(&b);
        return m;
}

/* check a libdbus message against the content of libdbus_everything() */
static void check_libdbus_everything(DBusMessage *msg)
{
        DBusMessageIter it, sub, entry, var;
        const char *str;
        dbus_int64_t x;
        double d;
        int n;

        assert_string_equal(dbus_message_get_destination(msg), "org.example.Dest");
        assert_string_equal(dbus_message_get_path(msg), "/org/example/Path");
        assert_string_equal(dbus_message_get_interface(msg), "org.example.Iface");
        assert_string_equal(dbus_message_get_member(msg), "Method");
        assert_string_equal(dbus_message_get_signature(msg), EVERYTHING_SIG);
        assert_int_equal(dbus_message_get_serial(msg), 1234);

        assert_true(dbus_message_iter_init(msg, &it));
        for (n = 0; n < 9; ++n)
                assert_true(dbus_message_iter_next(&it));
        dbus_message_iter_get_basic(&it, &str);
        assert_string_equal(str, "gr\xc3\xbc\xc3\x9f");
        assert_true(dbus_message_iter_next(&it));
        dbus_message_iter_get_basic(&it, &str);
        assert_string_equal(str, "/a/b");
        assert_true(dbus_message_iter_next(&it));
        assert_true(dbus_message_iter_next(&it));
        dbus_message_iter_recurse(&it, &sub);
        n = 0;
        while (dbus_message_iter_get_arg_type(&sub) == DBUS_TYPE_STRING) {
                ++n;
                dbus_message_iter_next(&sub);
        }
        assert_int_equal(n, 3);
        assert_true(dbus_message_iter_next(&it));
        dbus_message_iter_recurse(&it, &sub);
        dbus_message_iter_recurse(&sub, &entry);
        dbus_message_iter_get_basic(&entry, &str);
        assert_string_equal(str, "key");
        dbus_message_iter_next(&entry);
        dbus_message_iter_recurse(&entry, &var);
        assert_int_equal(dbus_message_iter_get_arg_type(&var), DBUS_TYPE_INT64);
        dbus_message_iter_get_basic(&var, &x);
        assert_true(x == -9000000000LL);
        assert_true(dbus_message_iter_next(&it));
        dbus_message_iter_recurse(&it, &sub);
        dbus_message_iter_next(&sub);
        dbus_message_iter_get_basic(&sub, &d);
        assert_true(d == -0.5);
        assert_true(dbus_message_iter_next(&it));
        assert_int_equal(dbus_message_iter_get_arg_type(&it), DBUS_TYPE_VARIANT);
        assert_true(dbus_message_iter_next(&it));
        assert_int_equal(dbus_message_iter_get_arg_type(&it), DBUS_TYPE_ARRAY);
        assert_false(dbus_message_iter_next(&it));
}

static DBusMessage *demarshal(const void *data, size_t n)
{
        DBusError error = DBUS_ERROR_INIT;
        DBusMessage *msg;

        msg = dbus_message_demarshal(data, n, &error);
        if (!msg)
                dbus_error_free(&error);
        return msg;
}

static void test_libdbus_to_us(void **state)
{
        DBusMessage *msg, *msg2;
        struct message *m;
        char *blob, *blob2;
        int n, n2;

        msg = libdbus_everything();
        assert_true(dbus_message_marshal(msg, &blob, &n));
        /* libdbus marshals in host order */
        assert_int_equal(blob[0], 'l');
        assert_int_equal(message_new_from_data(&m, blob, n, NULL, 0), 0);
        check_everything(m);
        message_unref(m);

        /* big-endian: libdbus keeps the byte order of a message it demarshalled */
        m = our_everything(true);
        blob2 = malloc(m->n_wire);
        assert_non_null(blob2);
        message_write(m, blob2);
        msg2 = demarshal(blob2, m->n_wire);
        assert_non_null(msg2);
        message_unref(m);
        free(blob2);
        dbus_message_set_serial(msg2, 1234);
        assert_true(dbus_message_marshal(msg2, &blob2, &n2));
        assert_int_equal(blob2[0], 'B');
        assert_int_equal(message_new_from_data(&m, blob2, n2, NULL, 0), 0);
        assert_true(m->big_endian);
        check_everything(m);
        message_unref(m);

        dbus_free(blob2);
        dbus_free(blob);
        dbus_message_unref(msg2);
        dbus_message_unref(msg);
}

static void test_us_to_libdbus(void **state)
{
        DBusMessage *msg, *ref;
        struct message *m;
        char *blob, *ref_blob;
        int be, n;

        for (be = 0; be < 2; ++be) {
                m = our_everything(be);
                check_everything(m);
                blob = malloc(m->n_wire);
                assert_non_null(blob);
                message_write(m, blob);
                assert_int_equal(dbus_message_demarshal_bytes_needed(blob, m->n_wire), m->n_wire);
                msg = demarshal(blob, m->n_wire);
                assert_non_null(msg);
                check_libdbus_everything(msg);

                /* the same size as what libdbus marshals itself (field order differs) */
                ref = libdbus_everything();
                assert_true(dbus_message_marshal(ref, &ref_blob, &n));
                assert_int_equal(n, m->n_wire);
                dbus_free(ref_blob);
                dbus_message_unref(ref);

                dbus_message_unref(msg);
                free(blob);
                message_unref(m);
        }
}

static void test_set_sender_libdbus(void **state)
{
        DBusMessage *msg, *out;
        struct message *m;
        char *blob, *wire;
        int be, n;

        /* a libdbus message with a sender of its own */
        msg = libdbus_everything();
        assert_true(dbus_message_set_sender(msg, ":1.999"));
        assert_true(dbus_message_marshal(msg, &blob, &n));
        assert_int_equal(message_new_from_data(&m, blob, n, NULL, 0), 0);
        assert_string_equal(m->sender, ":1.999");
        assert_int_equal(message_set_sender(m, ":1.42"), 0);
        wire = malloc(m->n_wire);
        assert_non_null(wire);
        message_write(m, wire);
        out = demarshal(wire, m->n_wire);
        assert_non_null(out);
        assert_string_equal(dbus_message_get_sender(out), ":1.42");
        check_libdbus_everything(out);
        dbus_message_unref(out);
        free(wire);
        message_unref(m);
        dbus_free(blob);
        dbus_message_unref(msg);

        /* ours without a sender, both byte orders */
        for (be = 0; be < 2; ++be) {
                m = our_everything(be);
                assert_int_equal(message_set_sender(m, ":1.7"), 0);
                wire = malloc(m->n_wire);
                assert_non_null(wire);
                message_write(m, wire);
                out = demarshal(wire, m->n_wire);
                assert_non_null(out);
                assert_string_equal(dbus_message_get_sender(out), ":1.7");
                check_libdbus_everything(out);
                dbus_message_unref(out);
                free(wire);
                message_unref(m);
        }
}

/* libdbus and we must agree whether @data is a valid message */
static bool check_agree(const void *data, size_t n, const char *what)
{
        struct message *m = NULL;
        DBusMessage *msg;
        int r, needed;

        r = message_new_from_data(&m, data, n, NULL, 0);
        msg = demarshal(data, n);

        /*
         * Deliberate difference: dbus_message_demarshal() gets no fds and
         * checks neither UNIX_FDS against them nor 'h' indices against
         * UNIX_FDS (libdbus checks when a receiver reads the fd); we get the
         * fds with the message and refuse a mismatch at the border.
         */
        if (msg && (r == MARSHAL_E_UNIX_FD || r == MARSHAL_E_UNIX_FDS))
                r = 0;

        if (!!msg != !r) {
                size_t i;

                for (i = 0; i < n; ++i)
                        fprintf(stderr, "%02x%s", ((const uint8_t *)data)[i], i % 16 == 15 ? "\n" : " ");
                fprintf(stderr, "\n");
                fail_msg("%s: libdbus %s, we %s (%s)", what, msg ? "accepts" : "refuses",
                         r ? "refuse" : "accept", marshal_strerror(r));
        }

        if (n >= 16) {
                size_t size;

                needed = dbus_message_demarshal_bytes_needed(data, n);
                if (message_frame_size(data, n, &size) == 0 && needed > 0)
                        assert_int_equal(size, needed);
        }

        if (msg)
                dbus_message_unref(msg);
        message_unref(m);
        return r == 0;
}

/* defects both implementations must refuse (and a few valid corner cases) */
static void test_agree_cases(void **state)
{
        char sig[80];
        struct raw r;
        int be;

        for (be = 0; be < 2; ++be) {
                raw_call(&r, be, "s");
                raw_str(&r, "\xed\xa0\x80");
                raw_finish(&r);
                check_agree(r.buf, r.n, "surrogate");
                raw_call(&r, be, "s");
                raw_str(&r, "\xf4\x90\x80\x80");
                raw_finish(&r);
                check_agree(r.buf, r.n, "above U+10FFFF");
                raw_call(&r, be, "s");
                raw_str(&r, "\xe0\x80\xaf");
                raw_finish(&r);
                check_agree(r.buf, r.n, "overlong");
                raw_call(&r, be, "s");
                raw_str(&r, "\xef\xbf\xbf");
                raw_finish(&r);
                check_agree(r.buf, r.n, "noncharacter");
                raw_call(&r, be, "b");
                raw_u32(&r, 2);
                raw_finish(&r);
                check_agree(r.buf, r.n, "boolean 2");
                raw_call(&r, be, "yu");
                raw_u8(&r, 1);
                raw_u8(&r, 1);
                raw_u32(&r, 1);
                raw_finish(&r);
                check_agree(r.buf, r.n, "padding");
                raw_call(&r, be, "au");
                raw_u32(&r, 6);
                raw_u32(&r, 1);
                raw_u16(&r, 0);
                raw_finish(&r);
                check_agree(r.buf, r.n, "array length");
                raw_call(&r, be, "o");
                raw_str(&r, "/a/");
                raw_finish(&r);
                check_agree(r.buf, r.n, "object path");
                raw_call(&r, be, "g");
                raw_sig(&r, "a{vs}");
                raw_finish(&r);
                check_agree(r.buf, r.n, "signature");
                raw_call(&r, be, "v");
                raw_sig(&r, "");
                raw_finish(&r);
                check_agree(r.buf, r.n, "empty variant");
                raw_call(&r, be, "u");
                raw_u32(&r, 1);
                raw_u32(&r, 1);
                raw_finish(&r);
                check_agree(r.buf, r.n, "trailing body");
                raw_call(&r, be, NULL);
                raw_u32(&r, 1);
                raw_finish(&r);
                check_agree(r.buf, r.n, "body without signature");

                memset(sig, 'a', 33);
                strcpy(sig + 33, "y");
                raw_call(&r, be, sig);
                raw_u32(&r, 0);
                raw_finish(&r);
                check_agree(r.buf, r.n, "33 arrays");
                memset(sig, 'a', 32);
                strcpy(sig + 32, "y");
                raw_call(&r, be, sig);
                raw_u32(&r, 0);
                raw_finish(&r);
                check_agree(r.buf, r.n, "32 arrays");

                raw_begin(&r, be, MARSHAL_TYPE_METHOD_CALL, 0, 1);
                raw_field_str(&r, MARSHAL_FIELD_MEMBER, 's', "M");
                raw_end_fields(&r);
                raw_finish(&r);
                check_agree(r.buf, r.n, "no path");
                raw_begin(&r, be, MARSHAL_TYPE_SIGNAL, 0, 1);
                raw_call_fields(&r);
                raw_end_fields(&r);
                raw_finish(&r);
                check_agree(r.buf, r.n, "signal without interface");
                raw_begin(&r, be, MARSHAL_TYPE_ERROR, 0, 1);
                raw_field_u32(&r, MARSHAL_FIELD_REPLY_SERIAL, 1);
                raw_end_fields(&r);
                raw_finish(&r);
                check_agree(r.buf, r.n, "error without name");
                raw_begin(&r, be, MARSHAL_TYPE_METHOD_RETURN, 0, 1);
                raw_end_fields(&r);
                raw_finish(&r);
                check_agree(r.buf, r.n, "return without reply serial");
                raw_begin(&r, be, MARSHAL_TYPE_METHOD_CALL, 0, 1);
                raw_call_fields(&r);
                raw_field_str(&r, MARSHAL_FIELD_MEMBER, 's', "N");
                raw_end_fields(&r);
                raw_finish(&r);
                check_agree(r.buf, r.n, "duplicate member");
                raw_begin(&r, be, MARSHAL_TYPE_METHOD_CALL, 0, 1);
                raw_call_fields(&r);
                raw_field_str(&r, MARSHAL_FIELD_INTERFACE, 'o', "/x");
                raw_end_fields(&r);
                raw_finish(&r);
                check_agree(r.buf, r.n, "interface as object path");
                raw_begin(&r, be, MARSHAL_TYPE_METHOD_CALL, 0, 1);
                raw_call_fields(&r);
                raw_field_str(&r, MARSHAL_FIELD_DESTINATION, 's', "a");
                raw_end_fields(&r);
                raw_finish(&r);
                check_agree(r.buf, r.n, "bad destination");
                raw_begin(&r, be, MARSHAL_TYPE_METHOD_CALL, 0, 1);
                raw_call_fields(&r);
                raw_field_str(&r, 99, 's', "unknown field");
                raw_end_fields(&r);
                raw_finish(&r);
                check_agree(r.buf, r.n, "unknown field");
                raw_begin(&r, be, MARSHAL_TYPE_METHOD_CALL, 0, 1);
                raw_field_str(&r, MARSHAL_FIELD_PATH, 'o', "/org/freedesktop/DBus/Local");
                raw_field_str(&r, MARSHAL_FIELD_MEMBER, 's', "M");
                raw_end_fields(&r);
                raw_finish(&r);
                check_agree(r.buf, r.n, "local path");
                raw_begin(&r, be, MARSHAL_TYPE_METHOD_CALL, 0, 0);
                raw_call_fields(&r);
                raw_end_fields(&r);
                raw_finish(&r);
                check_agree(r.buf, r.n, "serial 0");
        }
}

/* xorshift: deterministic pseudo-random numbers */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
        rnd_state ^= rnd_state << 13;
        rnd_state ^= rnd_state >> 7;
        rnd_state ^= rnd_state << 17;
        return rnd_state;
}

/* random byte mutations of valid messages: both must agree on every one */
static void test_agree_mutations(void **state)
{
        struct message *m;
        uint8_t *base, *buf;
        size_t n, i, k, n_valid = 0;
        int be;
        char what[64];

        for (be = 0; be < 2; ++be) {
                m = our_everything(be);
                assert_int_equal(message_set_sender(m, ":1.5"), 0);
                n = m->n_wire;
                base = malloc(n);
                buf = malloc(n);
                assert_true(base && buf);
                message_write(m, base);
                message_unref(m);

                for (i = 0; i < 20000; ++i) {
                        memcpy(buf, base, n);
                        for (k = 0; k < 1 + rnd() % 3; ++k) {
                                size_t at = rnd() % n;

                                switch (rnd() % 4) {
                                case 0: buf[at] ^= 1u << (rnd() % 8); break;
                                case 1: buf[at] = rnd(); break;
                                case 2: buf[at] = 0; break;
                                default: buf[at] = 0xff; break;
                                }
                        }
                        snprintf(what, sizeof(what), "mutation %zu (%s)", i, be ? "BE" : "LE");
                        n_valid += check_agree(buf, n, what);
                }
                free(buf);
                free(base);
        }
        /* the mutations hit both sides of the line */
        assert_true(n_valid > 100);
}

static void test_corpus(void **state)
{
        struct dirent *de;
        size_t n_files = 0;
        DIR *dir;

        dir = opendir(CORPUS_DIR);
        if (!dir) {
                print_message("SKIP: %s not present (package dbus-tests)\n", CORPUS_DIR);
                skip();
        }

        while ((de = readdir(dir))) {
                char path[512], buf[65536];
                struct message *m = NULL;
                ssize_t len;
                size_t n = strlen(de->d_name);
                int fd, r;

                if (n < 12 || strcmp(de->d_name + n - 12, ".message-raw"))
                        continue;
                snprintf(path, sizeof(path), "%s/%s", CORPUS_DIR, de->d_name);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                assert_true(fd >= 0);
                len = read(fd, buf, sizeof(buf));
                close(fd);
                assert_true(len >= 0);

                r = message_new_from_data(&m, buf, len, NULL, 0);
                if (r == 0)
                        fail_msg("%s: accepted", de->d_name);
                print_message("# %s: %s\n", de->d_name, marshal_strerror(r));
                check_agree(buf, len, de->d_name);
                ++n_files;
        }
        closedir(dir);
        assert_true(n_files > 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_libdbus_to_us),
                cmocka_unit_test(test_us_to_libdbus),
                cmocka_unit_test(test_set_sender_libdbus),
                cmocka_unit_test(test_agree_cases),
                cmocka_unit_test(test_agree_mutations),
                cmocka_unit_test(test_corpus),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
