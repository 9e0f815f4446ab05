/*
 * Unit tests of dbus-proxy/service.c: the service file parser against
 * hand-written valid and invalid files and against the dbus-tests corpus
 * (/usr/lib/dbus-1.0/installed-tests/dbus/data, or $DBUS_TEST_DATA).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "dbus-proxy/service.h"

static struct service *parse_ok(const char *text)
{
        struct service *s = NULL;
        char *err = NULL;
        int r;

        r = service_parse(&s, text, strlen(text), "/d/org.example.Foo.service", &err);
        if (r)
                fprintf(stderr, "# unexpected error: %s\n", err ? err : "?");
        assert_int_equal(r, 0);
        assert_null(err);
        assert_non_null(s);
        return s;
}

static void parse_bad(const char *text, const char *expect)
{
        struct service *s = (void *)0x1;
        char *err = NULL;

        assert_int_equal(service_parse(&s, text, strlen(text), NULL, &err), SERVICE_E_INVALID);
        assert_ptr_equal(s, (void *)0x1);
        assert_non_null(err);
        if (!strstr(err, expect)) {
                fprintf(stderr, "# error \"%s\" lacks \"%s\"\n", err, expect);
                fail();
        }
        free(err);
        /* a NULL error pointer is fine too */
        assert_int_equal(service_parse(&s, text, strlen(text), NULL, NULL), SERVICE_E_INVALID);
}

static void test_minimal(void **state)
{
        struct service *s;

        (void)state;
        s = parse_ok("[D-BUS Service]\nName=org.example.Foo\nExec=/bin/foo --bar\n");
        assert_string_equal(s->name, "org.example.Foo");
        assert_string_equal(s->exec, "/bin/foo --bar");
        assert_null(s->user);
        assert_null(s->systemd_service);
        assert_null(s->apparmor_label);
        assert_string_equal(s->path, "/d/org.example.Foo.service");
        assert_string_equal(s->filename, "org.example.Foo.service");
        assert_true(service_filename_matches(s));
        assert_ptr_equal(service_ref(s), s);
        assert_int_equal(s->n_refs, 2);
        assert_null(service_unref(s));
        assert_null(service_unref(s));
        assert_null(service_unref(NULL));
        assert_null(service_ref(NULL));
}

static void test_all_keys(void **state)
{
        struct service *s, *t;

        (void)state;
        s = parse_ok("# comment\n"
                     "\n"
                     "   \t\n"
                     "[Other Group]\n"
                     "Name=org.example.Wrong\n"
                     "[D-BUS Service]\r\n"
                     "Name = org.example.Bar\r"
                     "Exec=  /bin/x a\\sb\\tc\\\\d\\ne\\rf  \n"
                     "User=nobody\n"
                     "SystemdService=dbus-org.example.Bar.service\n"
                     "AssumedAppArmorLabel=/bin/x//label\n"
                     "Name[de]=localized and ignored\n"
                     "Unknown-Key-1=ignored\n"
                     "Name=org.example.Second\n"
                     "[D-BUS Service]\n"
                     "Exec=/repeated/group/ignored\n");
        assert_string_equal(s->name, "org.example.Bar");
        assert_string_equal(s->exec, "/bin/x a b\tc\\d\ne\rf  ");
        assert_string_equal(s->user, "nobody");
        assert_string_equal(s->systemd_service, "dbus-org.example.Bar.service");
        assert_string_equal(s->apparmor_label, "/bin/x//label");
        assert_false(service_filename_matches(s));

        t = parse_ok("[D-BUS Service]\nName=org.example.Bar\nExec=/bin/x\n");
        assert_false(service_equal(s, t));
        service_unref(t);
        t = parse_ok("[D-BUS Service]\n"
                     "Name=org.example.Bar\n"
                     "Exec=/bin/x a\\sb\\tc\\\\d\\ne\\rf  \n"
                     "User=nobody\n"
                     "SystemdService=dbus-org.example.Bar.service\n"
                     "AssumedAppArmorLabel=/bin/x//label");
        assert_true(service_equal(s, t));
        service_unref(t);
        service_unref(s);

        /* no trailing newline, no path */
        assert_int_equal(service_parse(&s, "[D-BUS Service]\nName=a.b\nExec=x", 31, NULL, NULL), 0);
        assert_string_equal(s->exec, "x");
        assert_null(s->path);
        assert_false(service_filename_matches(s));
        service_unref(s);
}

static void test_invalid(void **state)
{
        (void)state;
        parse_bad("", "no [D-BUS Service] group");
        parse_bad("[Foo]\nName=a.b\nExec=x\n", "no [D-BUS Service] group");
        parse_bad("[D-BUS Service]\nExec=x\n", "no \"Name\"");
        parse_bad("[D-BUS Service]\nName=a.b\n", "no \"Exec\"");
        parse_bad("[D-BUS Service]\nName=nodots\nExec=x\n", "not a valid well-known bus name");
        parse_bad("[D-BUS Service]\nName=:1.2\nExec=x\n", "not a valid well-known bus name");
        parse_bad("[D-BUS Service]\nName=a..b\nExec=x\n", "not a valid");
        parse_bad("Name=a.b\n[D-BUS Service]\n", "line 1: key/value pair before the first group");
        parse_bad("[D-BUS Service\nName=a.b\n", "line 1: invalid group header");
        parse_bad("[]\n", "line 1: invalid group header");
        parse_bad("[a]b]\n", "invalid character in group name");
        parse_bad("[a\tb]\n", "invalid character in group name");
        parse_bad("[D-BUS Service]\n=x\n", "line 2: empty key name");
        parse_bad("[D-BUS Service]\n Name=a.b\n", "line 2: empty key name");
        parse_bad("[D-BUS Service]\nName\n", "no '='");
        parse_bad("[D-BUS Service]\nName:a.b\n", "invalid character in key name");
        parse_bad("[D-BUS Service]\nName\t=a.b\n", "invalid character in key name");
        parse_bad("[D-BUS Service]\nName=a.b\nExec=x\\q\n", "line 3: invalid escape");
        parse_bad("[D-BUS Service]\nName=a.b\nExec=x\\\n", "ends in a backslash");
        /* values of ignored groups are checked too */
        parse_bad("[D-BUS Service]\nName=a.b\nExec=x\n[X]\nY=\\z\n", "line 5: invalid escape");
        parse_bad("[D-BUS Service]\nName=a.b\nExec=\xff\n", "UTF-8");
        {
                static const char nul[] = "[D-BUS Service]\nName=a.b\nExec=x\0y\n";
                char *err = NULL;
                struct service *s;

                assert_int_equal(service_parse(&s, nul, sizeof(nul) - 1, NULL, &err), SERVICE_E_INVALID);
                free(err);
        }
        {
                size_t n = SERVICE_FILE_MAX + 1;
                char *big = malloc(n), *err = NULL;
                struct service *s;

                assert_non_null(big);
                memset(big, '#', n);
                assert_int_equal(service_parse(&s, big, n, NULL, &err), SERVICE_E_INVALID);
                assert_non_null(strstr(err, "too large"));
                free(err);
                free(big);
        }
}

static const char *data_dir(void)
{
        const char *d = getenv("DBUS_TEST_DATA");

        return d ? d : "/usr/lib/dbus-1.0/installed-tests/dbus/data";
}

static size_t load_dir(const char *sub, int expect, const char *const *expect_invalid)
{
        char dir[4096];
        struct dirent *de;
        size_t n = 0;
        DIR *d;

        snprintf(dir, sizeof(dir), "%s/%s", data_dir(), sub);
        d = opendir(dir);
        if (!d)
                return 0;
        while ((de = readdir(d))) {
                char path[8192], *err = NULL;
                struct service *s = NULL;
                const char *const *x;
                int want = expect, r;

                if (!strstr(de->d_name, ".service"))
                        continue;
                for (x = expect_invalid; x && *x; ++x)
                        if (!strcmp(*x, de->d_name))
                                want = SERVICE_E_INVALID;
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                r = service_load(&s, dirfd(d), de->d_name, path, &err);
                if (r != want)
                        fprintf(stderr, "# %s: %d (%s), expected %d\n", path, r, err ? err : "", want);
                assert_int_equal(r, want);
                if (!r) {
                        assert_true(service_filename_matches(s));
                        assert_string_equal(s->path, path);
                        assert_int_not_equal(s->ino, 0);
                }
                free(err);
                service_unref(s);
                ++n;
        }
        closedir(d);
        return n;
}

static void test_corpus(void **state)
{
        /* the "invalid" system files are invalid for dbus-daemon's launch
         * helper; as service files, only those lacking Name or Exec are */
        static const char *const invalid_system[] = {
                "org.freedesktop.DBus.TestSuiteNoExec.service",
                "org.freedesktop.DBus.TestSuiteNoService.service",
                NULL,
        };
        size_t n;

        (void)state;
        if (access(data_dir(), R_OK) < 0) {
                skip();
                return;
        }
        n = load_dir("valid-service-files", 0, NULL);
        assert_true(n >= 6);
        n = load_dir("valid-service-files-system", 0, NULL);
        assert_true(n >= 4);
        n = load_dir("invalid-service-files-system", 0, invalid_system);
        assert_true(n >= 3);
        n = load_dir("systemd-activation", 0, NULL);
        assert_true(n >= 10);
}

static void test_load_errors(void **state)
{
        char dir[] = "/tmp/test-service-XXXXXX", path[256], *err = NULL;
        struct service *s;
        int fd;

        (void)state;
        assert_non_null(mkdtemp(dir));
        assert_int_equal(service_load(&s, AT_FDCWD, "/nonexistent/x.service", "/nonexistent/x.service", &err),
                         SERVICE_E_INVALID);
        assert_non_null(strstr(err, "cannot open"));
        free(err);
        err = NULL;
        assert_int_equal(service_load(&s, AT_FDCWD, dir, dir, &err), SERVICE_E_INVALID);
        assert_non_null(strstr(err, "not a regular file"));
        free(err);
        err = NULL;

        snprintf(path, sizeof(path), "%s/big.service", dir);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, SERVICE_FILE_MAX + 1), 0);
        close(fd);
        assert_int_equal(service_load(&s, AT_FDCWD, path, path, &err), SERVICE_E_INVALID);
        assert_non_null(strstr(err, "too large"));
        free(err);
        unlink(path);
        rmdir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_minimal),
                cmocka_unit_test(test_all_keys),
                cmocka_unit_test(test_invalid),
                cmocka_unit_test(test_corpus),
                cmocka_unit_test(test_load_errors),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
