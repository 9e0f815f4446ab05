/*
 * Unit tests of dbus-proxy/address.c: valid server addresses of every kind,
 * alternatives, escaping both ways, and every parse error.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dbus-proxy/address.h"

static struct address_list *parse_ok(const char *text)
{
        struct address_list *l = NULL;
        int r = address_list_parse(&l, text);

        if (r != 0)
                fail_msg("parse \"%s\": %d", text, r);
        assert_non_null(l);
        assert_true(l->n >= 1);
        return l;
}

static void check_one(const char *text, enum address_kind kind, const char *value)
{
        struct address_list *l = parse_ok(text);

        assert_int_equal(l->n, 1);
        assert_int_equal(l->entries[0].kind, kind);
        if (value)
                assert_string_equal(l->entries[0].value, value);
        else
                assert_null(l->entries[0].value);
        address_list_free(l);
}

static void test_kinds(void **state)
{
        check_one("unix:path=/run/dbus/system_bus_socket", ADDRESS_UNIX_PATH,
                  "/run/dbus/system_bus_socket");
        check_one("unix:tmpdir=/tmp", ADDRESS_UNIX_TMPDIR, "/tmp");
        check_one("unix:dir=/run/user/1000", ADDRESS_UNIX_DIR, "/run/user/1000");
        check_one("unix:abstract=/tmp/dbus-abc", ADDRESS_UNIX_ABSTRACT, "/tmp/dbus-abc");
        check_one("unix:runtime=yes", ADDRESS_UNIX_RUNTIME, NULL);
        check_one("systemd:", ADDRESS_SYSTEMD, NULL);
        /* relative paths are allowed (bind(2) resolves them) */
        check_one("unix:path=relative/sock", ADDRESS_UNIX_PATH, "relative/sock");
}

static void test_keys(void **state)
{
        /* unknown keys are ignored, also guid= */
        check_one("unix:path=/a,guid=0123456789abcdef0123456789abcdef", ADDRESS_UNIX_PATH, "/a");
        check_one("unix:foo=bar,path=/a", ADDRESS_UNIX_PATH, "/a");
        /* the first of duplicate keys counts */
        check_one("unix:path=/a,path=/b", ADDRESS_UNIX_PATH, "/a");
        /* keys are case-sensitive: PATH is unknown */
        assert_int_equal(address_list_parse(&(struct address_list *){ NULL }, "unix:PATH=/a"),
                         ADDRESS_E_MISSING);
}

static void test_escaping(void **state)
{
        char *s = NULL;

        check_one("unix:path=/tmp/a%2cb%20c", ADDRESS_UNIX_PATH, "/tmp/a,b c");
        check_one("unix:path=/tmp/a%2Cb", ADDRESS_UNIX_PATH, "/tmp/a,b");
        check_one("unix:abstract=a%2fb/c*d\\e", ADDRESS_UNIX_ABSTRACT, "a/b/c*d\\e");
        check_one("unix:path=%c3%a9", ADDRESS_UNIX_PATH, "\xc3\xa9");
        check_one("unix:path=%3b%3d%25", ADDRESS_UNIX_PATH, ";=%");

        assert_int_equal(address_escape(&s, "/tmp/a,b c~;=%\xc3\xa9-_/.\\*Zz09"), 0);
        assert_string_equal(s, "/tmp/a%2cb%20c%7e%3b%3d%25%c3%a9-_/.\\*Zz09");
        free(s);
        assert_int_equal(address_escape(&s, ""), 0);
        assert_string_equal(s, "");
        free(s);

        /* round trip of every byte value */
        {
                char raw[256], *esc = NULL;
                struct address_list *l;
                char *text;

                for (int i = 1; i < 256; ++i)
                        raw[i - 1] = (char)i;
                raw[255] = 0;
                assert_int_equal(address_escape(&esc, raw), 0);
                text = malloc(strlen(esc) + 16);
                assert_non_null(text);
                strcpy(text, "unix:abstract=");
                strcat(text, esc);
                /* too long for a socket, so check the escaping via TOO_LONG */
                assert_int_equal(address_list_parse(&l, text), ADDRESS_E_TOO_LONG);
                free(text);
                free(esc);

                raw[100] = 0;
                assert_int_equal(address_escape(&esc, raw), 0);
                text = malloc(strlen(esc) + 16);
                assert_non_null(text);
                strcpy(text, "unix:abstract=");
                strcat(text, esc);
                l = parse_ok(text);
                assert_string_equal(l->entries[0].value, raw);
                address_list_free(l);
                free(text);
                free(esc);
        }
}

static void test_alternatives(void **state)
{
        struct address_list *l = parse_ok("unix:path=/a;unix:abstract=b;;systemd:;unix:runtime=yes;");

        assert_int_equal(l->n, 4);
        assert_int_equal(l->entries[0].kind, ADDRESS_UNIX_PATH);
        assert_string_equal(l->entries[0].value, "/a");
        assert_int_equal(l->entries[1].kind, ADDRESS_UNIX_ABSTRACT);
        assert_string_equal(l->entries[1].value, "b");
        assert_int_equal(l->entries[2].kind, ADDRESS_SYSTEMD);
        assert_int_equal(l->entries[3].kind, ADDRESS_UNIX_RUNTIME);
        address_list_free(l);
        assert_null(address_list_free(NULL));
}

static void test_lengths(void **state)
{
        char text[256];
        char name[ADDRESS_UNIX_NAME_MAX + 2];
        struct address_list *l = NULL;

        memset(name, 'x', sizeof(name));
        name[0] = '/';
        name[ADDRESS_UNIX_NAME_MAX] = 0;
        snprintf(text, sizeof(text), "unix:path=%s", name);
        check_one(text, ADDRESS_UNIX_PATH, name);
        snprintf(text, sizeof(text), "unix:abstract=%s", name);
        check_one(text, ADDRESS_UNIX_ABSTRACT, name);

        name[ADDRESS_UNIX_NAME_MAX] = 'x';
        name[ADDRESS_UNIX_NAME_MAX + 1] = 0;
        snprintf(text, sizeof(text), "unix:path=%s", name);
        assert_int_equal(address_list_parse(&l, text), ADDRESS_E_TOO_LONG);
        snprintf(text, sizeof(text), "unix:abstract=%s", name);
        assert_int_equal(address_list_parse(&l, text), ADDRESS_E_TOO_LONG);

        /* tmpdir/dir leave room for "/dbus-XXXXXXXXXX" */
        name[ADDRESS_UNIX_NAME_MAX - ADDRESS_RANDOM_NAME_LEN] = 0;
        snprintf(text, sizeof(text), "unix:tmpdir=%s", name);
        check_one(text, ADDRESS_UNIX_TMPDIR, name);
        name[ADDRESS_UNIX_NAME_MAX - ADDRESS_RANDOM_NAME_LEN] = 'x';
        name[ADDRESS_UNIX_NAME_MAX - ADDRESS_RANDOM_NAME_LEN + 1] = 0;
        snprintf(text, sizeof(text), "unix:dir=%s", name);
        assert_int_equal(address_list_parse(&l, text), ADDRESS_E_TOO_LONG);
        assert_null(l);
}

static void test_errors(void **state)
{
        static const struct {
                const char *text;
                int code;
        } bad[] = {
                { "", ADDRESS_E_EMPTY },
                { ";", ADDRESS_E_EMPTY },
                { ";;;", ADDRESS_E_EMPTY },
                { "unixpath", ADDRESS_E_NO_COLON },
                { "unix:path=/a;nocolon", ADDRESS_E_NO_COLON },
                { ":path=/a", ADDRESS_E_TRANSPORT },
                { "tcp:host=localhost", ADDRESS_E_TRANSPORT },
                { "nonce-tcp:host=localhost,port=1", ADDRESS_E_TRANSPORT },
                { "launchd:env=X", ADDRESS_E_TRANSPORT },
                { "autolaunch:", ADDRESS_E_TRANSPORT },
                { "Unix:path=/a", ADDRESS_E_TRANSPORT },
                { "unix:", ADDRESS_E_MISSING },
                { "unix:guid=0123456789abcdef0123456789abcdef", ADDRESS_E_MISSING },
                { "unix:path=", ADDRESS_E_BAD_PAIR },
                { "unix:abstract=", ADDRESS_E_BAD_PAIR },
                { "unix:=x", ADDRESS_E_BAD_PAIR },
                { "unix:path", ADDRESS_E_BAD_PAIR },
                { "unix:path=/a,", ADDRESS_E_BAD_PAIR },
                { "unix:path=/a,,", ADDRESS_E_BAD_PAIR },
                { "unix:,path=/a", ADDRESS_E_BAD_PAIR },
                { "unix:path=/a,foo", ADDRESS_E_BAD_PAIR },
                { "unix:path=/a,path=/b,", ADDRESS_E_BAD_PAIR },
                { "unix:path=/a,tmpdir=/b", ADDRESS_E_CONFLICT },
                { "unix:tmpdir=/a,dir=/b", ADDRESS_E_CONFLICT },
                { "unix:abstract=a,path=/b", ADDRESS_E_CONFLICT },
                { "unix:runtime=yes,path=/b", ADDRESS_E_CONFLICT },
                { "unix:path=/a,tmpdir=/b,dir=/c,abstract=d,runtime=yes", ADDRESS_E_CONFLICT },
                { "unix:runtime=no", ADDRESS_E_RUNTIME },
                { "unix:runtime=YES", ADDRESS_E_RUNTIME },
                { "unix:path=/tmp/%zz", ADDRESS_E_BAD_ESCAPE },
                { "unix:path=/tmp/%4", ADDRESS_E_BAD_ESCAPE },
                { "unix:path=/tmp/%", ADDRESS_E_BAD_ESCAPE },
                { "unix:path=/tmp/%g0", ADDRESS_E_BAD_ESCAPE },
                { "unix:path=/tmp/%00x", ADDRESS_E_NUL },
                { "unix:path=/tmp/fo~o", ADDRESS_E_UNESCAPED },
                { "unix:path=/tmp/a b", ADDRESS_E_UNESCAPED },
                { "unix:path=/tmp/\xc3\xa9", ADDRESS_E_UNESCAPED },
                { "unix:path=/tmp/a:b", ADDRESS_E_UNESCAPED },
                { "unix:path=/tmp/a=b", ADDRESS_E_UNESCAPED },
                /* escapes are checked in unknown keys too */
                { "unix:path=/a,foo=%z1", ADDRESS_E_BAD_ESCAPE },
                /* one bad alternative fails the whole address */
                { "unix:path=/a;tcp:host=x", ADDRESS_E_TRANSPORT },
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); ++i) {
                struct address_list *l = NULL;
                int r = address_list_parse(&l, bad[i].text);

                if (r != bad[i].code)
                        fail_msg("\"%s\": got %d, expected %d", bad[i].text, r, bad[i].code);
                assert_null(l);
                assert_non_null(address_error_string(r));
                assert_string_not_equal(address_error_string(r), address_error_string(0));
        }
        assert_string_equal(address_error_string(12345), "invalid address");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_kinds),
                cmocka_unit_test(test_keys),
                cmocka_unit_test(test_escaping),
                cmocka_unit_test(test_alternatives),
                cmocka_unit_test(test_lengths),
                cmocka_unit_test(test_errors),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
