/*
 * Unit tests of dbus-proxy/validate.[ch]: UTF-8, names, object paths and
 * signatures, each rule with accepted and refused cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dbus-proxy/validate.h"

#define S(_s) (_s), (sizeof(_s) - 1)

static void test_utf8(void **state)
{
        char big[300];

        assert_true(validate_utf8(S("")));
        assert_true(validate_utf8(S("plain ascii")));
        assert_true(validate_utf8(S("\xc2\x80")));                 /* U+0080 */
        assert_true(validate_utf8(S("\xdf\xbf")));                 /* U+07FF */
        assert_true(validate_utf8(S("\xe0\xa0\x80")));             /* U+0800 */
        assert_true(validate_utf8(S("\xed\x9f\xbf")));             /* U+D7FF */
        assert_true(validate_utf8(S("\xee\x80\x80")));             /* U+E000 */
        assert_true(validate_utf8(S("\xef\xbf\xbe")));             /* U+FFFE noncharacter: allowed */
        assert_true(validate_utf8(S("\xf0\x90\x80\x80")));         /* U+10000 */
        assert_true(validate_utf8(S("\xf4\x8f\xbf\xbf")));         /* U+10FFFF */

        assert_false(validate_utf8(S("a\0b")));                    /* NUL */
        assert_false(validate_utf8(S("\x80")));                    /* lone continuation */
        assert_false(validate_utf8(S("\xc0\x80")));                /* overlong NUL */
        assert_false(validate_utf8(S("\xc1\xbf")));                /* overlong */
        assert_false(validate_utf8(S("\xe0\x9f\xbf")));            /* overlong 3-byte */
        assert_false(validate_utf8(S("\xf0\x8f\xbf\xbf")));        /* overlong 4-byte */
        assert_false(validate_utf8(S("\xed\xa0\x80")));            /* U+D800 surrogate */
        assert_false(validate_utf8(S("\xed\xbf\xbf")));            /* U+DFFF surrogate */
        assert_false(validate_utf8(S("\xf4\x90\x80\x80")));        /* U+110000 */
        assert_false(validate_utf8(S("\xf5\x80\x80\x80")));
        assert_false(validate_utf8(S("\xff")));
        assert_false(validate_utf8(S("\xc2")));                    /* truncated */
        assert_false(validate_utf8(S("\xe2\x82")));                /* truncated */
        assert_false(validate_utf8(S("\xf0\x90\x80")));            /* truncated */
        assert_false(validate_utf8(S("\xc2\x41")));                /* bad continuation */
        assert_false(validate_utf8(S("\xe2\x28\xa1")));

        memset(big, 'x', sizeof(big));
        assert_true(validate_utf8(big, sizeof(big)));
        big[299] = '\xc3';
        assert_false(validate_utf8(big, sizeof(big)));
}

static void test_object_path(void **state)
{
        assert_true(syntax_is_object_path_n(S("/")));
        assert_true(syntax_is_object_path_n(S("/a")));
        assert_true(syntax_is_object_path_n(S("/org/freedesktop/DBus")));
        assert_true(syntax_is_object_path_n(S("/_0/A_z9")));

        assert_false(syntax_is_object_path_n(S("")));
        assert_false(syntax_is_object_path_n(S("a")));
        assert_false(syntax_is_object_path_n(S("//")));
        assert_false(syntax_is_object_path_n(S("/a/")));
        assert_false(syntax_is_object_path_n(S("/a//b")));
        assert_false(syntax_is_object_path_n(S("/a-b")));
        assert_false(syntax_is_object_path_n(S("/a.b")));
        assert_false(syntax_is_object_path_n(S("/\xc3\xa4")));
}

static void test_interface(void **state)
{
        char name[300];

        assert_true(syntax_is_interface_n(S("org.freedesktop.DBus")));
        assert_true(syntax_is_interface_n(S("a.b")));
        assert_true(syntax_is_interface_n(S("_a._1")));

        assert_false(syntax_is_interface_n(S("")));
        assert_false(syntax_is_interface_n(S("a")));
        assert_false(syntax_is_interface_n(S(".a.b")));
        assert_false(syntax_is_interface_n(S("a.b.")));
        assert_false(syntax_is_interface_n(S("a..b")));
        assert_false(syntax_is_interface_n(S("a.1b")));
        assert_false(syntax_is_interface_n(S("1a.b")));
        assert_false(syntax_is_interface_n(S("a-b.c")));
        assert_false(syntax_is_interface_n(S(":a.b")));

        memset(name, 'a', sizeof(name));
        name[1] = '.';
        assert_true(syntax_is_interface_n(name, 255));
        assert_false(syntax_is_interface_n(name, 256));

        assert_true(syntax_is_error_name_n(S("org.freedesktop.DBus.Error.Failed")));
        assert_false(syntax_is_error_name_n(S("Failed")));
}

static void test_member(void **state)
{
        char name[300];

        assert_true(syntax_is_member_n(S("Hello")));
        assert_true(syntax_is_member_n(S("_")));
        assert_true(syntax_is_member_n(S("a9")));

        assert_false(syntax_is_member_n(S("")));
        assert_false(syntax_is_member_n(S("9a")));
        assert_false(syntax_is_member_n(S("a.b")));
        assert_false(syntax_is_member_n(S("a-b")));

        memset(name, 'm', sizeof(name));
        assert_true(syntax_is_member_n(name, 255));
        assert_false(syntax_is_member_n(name, 256));
}

static void test_bus_name(void **state)
{
        char name[300];

        assert_true(syntax_is_unique_name_n(S(":1.42")));
        assert_true(syntax_is_unique_name_n(S(":a-b.0_c")));
        /* libdbus' rule (see validate.h): one element is enough */
        assert_true(syntax_is_unique_name_n(S(":1")));
        assert_true(syntax_is_unique_name_n(S(":.1")));
        assert_true(syntax_is_unique_name_n(S(":")));
        assert_false(syntax_is_unique_name_n(S(":1.")));
        assert_false(syntax_is_unique_name_n(S(":1..2")));
        assert_false(syntax_is_unique_name_n(S(":1.\xc3\xa9")));
        assert_false(syntax_is_unique_name_n(S(":a b")));
        assert_false(syntax_is_unique_name_n(S("1.42")));

        assert_true(syntax_is_well_known_name_n(S("org.freedesktop.DBus")));
        assert_true(syntax_is_well_known_name_n(S("a-b.c_d")));
        assert_false(syntax_is_well_known_name_n(S("org")));
        assert_false(syntax_is_well_known_name_n(S("org.1x")));
        assert_false(syntax_is_well_known_name_n(S("org..x")));
        assert_false(syntax_is_well_known_name_n(S("org.x.")));
        assert_false(syntax_is_well_known_name_n(S("org.x!")));

        assert_true(syntax_is_bus_name_n(S(":1.1")));
        assert_true(syntax_is_bus_name_n(S("com.example")));
        assert_false(syntax_is_bus_name_n(S("")));
        assert_false(syntax_is_bus_name_n(S(":.")));

        memset(name, 'n', sizeof(name));
        name[0] = ':';
        name[5] = '.';
        assert_true(syntax_is_bus_name_n(name, 255));
        assert_false(syntax_is_bus_name_n(name, 256));
}

static void test_signature(void **state)
{
        char sig[300];
        size_t i;

        assert_int_equal(validate_signature(S("")), 0);
        assert_int_equal(validate_signature(S("ybnqiuxtdsoghv")), 0);
        assert_int_equal(validate_signature(S("a{sv}as(i(ss))aay")), 0);
        assert_int_equal(validate_signature(S("a{ya{sv}}")), 0);

        assert_int_equal(validate_signature(S("a")), MARSHAL_E_SIGNATURE);
        assert_int_equal(validate_signature(S("()")), MARSHAL_E_SIGNATURE);
        assert_int_equal(validate_signature(S("(i")), MARSHAL_E_SIGNATURE);
        assert_int_equal(validate_signature(S("i)")), MARSHAL_E_SIGNATURE);
        assert_int_equal(validate_signature(S("{sv}")), MARSHAL_E_SIGNATURE);
        assert_int_equal(validate_signature(S("a{vs}")), MARSHAL_E_SIGNATURE);
        assert_int_equal(validate_signature(S("a{(i)s}")), MARSHAL_E_SIGNATURE);
        assert_int_equal(validate_signature(S("a{s}")), MARSHAL_E_SIGNATURE);
        assert_int_equal(validate_signature(S("a{sss}")), MARSHAL_E_SIGNATURE);
        assert_int_equal(validate_signature(S("a{s")), MARSHAL_E_SIGNATURE);
        assert_int_equal(validate_signature(S("(a{sv)}")), MARSHAL_E_SIGNATURE);
        assert_int_equal(validate_signature(S("z")), MARSHAL_E_SIGNATURE);
        assert_int_equal(validate_signature(S("i\0")), MARSHAL_E_SIGNATURE);
        assert_int_equal(validate_signature(S("r")), MARSHAL_E_SIGNATURE);
        assert_int_equal(validate_signature(S("e")), MARSHAL_E_SIGNATURE);

        assert_int_equal(validate_signature_single(S("a{sv}")), 0);
        assert_int_equal(validate_signature_single(S("ii")), MARSHAL_E_SIGNATURE);
        assert_int_equal(validate_signature_single(S("")), MARSHAL_E_SIGNATURE);

        /* 255 is the longest signature */
        memset(sig, 'y', sizeof(sig));
        assert_int_equal(validate_signature(sig, 255), 0);
        assert_int_equal(validate_signature(sig, 256), MARSHAL_E_SIGNATURE);

        /* 32 nested arrays, then 33 */
        memset(sig, 'a', 32);
        sig[32] = 'y';
        assert_int_equal(validate_signature(sig, 33), 0);
        memset(sig, 'a', 33);
        sig[33] = 'y';
        assert_int_equal(validate_signature(sig, 34), MARSHAL_E_DEPTH);

        /* 32 nested structs, then 33 */
        for (i = 0; i < 32; ++i) {
                sig[i] = '(';
                sig[32 + 1 + i] = ')';
        }
        sig[32] = 'y';
        assert_int_equal(validate_signature(sig, 65), 0);
        memmove(sig + 1, sig, 65);
        sig[0] = '(';
        sig[66] = ')';
        assert_int_equal(validate_signature(sig, 67), MARSHAL_E_DEPTH);

        /* 32 arrays and 32 structs together are fine (64 total) */
        memset(sig, 'a', 32);
        for (i = 0; i < 32; ++i) {
                sig[32 + i] = '(';
                sig[32 + 32 + 1 + i] = ')';
        }
        sig[64] = 'y';
        assert_int_equal(validate_signature(sig, 97), 0);

        /* dict entries count as structs: 31 structs + 1 dict entry, then 32 + 1 */
        {
                char deep[100] = "";

                for (i = 0; i < 31; ++i)
                        strcat(deep, "(");
                strcat(deep, "a{sy}");
                for (i = 0; i < 31; ++i)
                        strcat(deep, ")");
                assert_int_equal(validate_signature(deep, strlen(deep)), 0);
                memmove(deep + 1, deep, strlen(deep) + 1);
                deep[0] = '(';
                strcat(deep, ")");
                assert_int_equal(validate_signature(deep, strlen(deep)), MARSHAL_E_DEPTH);
        }

        assert_int_equal(validate_signature_next("a{sv}i"), 5);
        assert_int_equal(validate_signature_next("(i(ss))y"), 7);
        assert_int_equal(validate_signature_next("aai"), 3);
        assert_int_equal(validate_signature_next("v"), 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_utf8),
                cmocka_unit_test(test_object_path),
                cmocka_unit_test(test_interface),
                cmocka_unit_test(test_member),
                cmocka_unit_test(test_bus_name),
                cmocka_unit_test(test_signature),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
