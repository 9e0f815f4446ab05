/*
 * Unit tests of policy/config: the distribution's real configuration files,
 * dbus-daemon's valid/invalid configuration corpus, malformed XML, include
 * handling (recursion, relative paths, includedir order and skipping),
 * limits and their defaults.
 */
#include <dirent.h>
#include <errno.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "policy/config.h"
#include "policy/db.h"

#define DBUS_TEST_DATA "/usr/lib/dbus-1.0/installed-tests/dbus/data"

static char tmpdir[256];        /* made by the group setup, for every test */

static bool exists(const char *path)
{
        return access(path, R_OK) == 0;
}

static int parse(struct bus_config **c, const char *xml, char **err)
{
        return bus_config_parse(c, xml, strlen(xml), "/test/t.conf", NULL, err);
}

static const char *find_string(const char *const *v, size_t n, const char *s)
{
        size_t i;

        for (i = 0; i < n; ++i)
                if (!strcmp(v[i], s))
                        return v[i];
        return NULL;
}

static bool has_warning(const struct bus_config *c, const char *needle)
{
        size_t i;

        for (i = 0; i < c->n_warnings; ++i)
                if (strstr(c->warnings[i], needle))
                        return true;
        return false;
}

/*
 * Real files
 */

static void test_system_conf(void **state)
{
        const char *root_name[] = { "org.freedesktop.login1", ":1.1" };
        struct policy_message introspect = {
                .type = POLICY_TYPE_METHOD_CALL, .path = "/org/freedesktop/login1",
                .interface = "org.freedesktop.DBus.Introspectable", .member = "Introspect",
                .destination = "org.freedesktop.login1",
        };
        struct policy_message poweroff = {
                .type = POLICY_TYPE_METHOD_CALL, .path = "/org/freedesktop/login1",
                .interface = "org.freedesktop.login1.Manager", .member = "NoSuchMethodForBus1Tests",
                .destination = "org.freedesktop.login1",
        };
        struct policy_message hello = {
                .type = POLICY_TYPE_METHOD_CALL, .path = "/org/freedesktop/DBus",
                .interface = "org.freedesktop.DBus", .member = "Hello",
                .destination = "org.freedesktop.DBus",
        };
        struct policy_snapshot user = {}, root = {};
        struct bus_config *c = NULL;
        struct policy_db *db = NULL;
        struct policy_verdict v;
        uint32_t gid = 1000;
        char *err = NULL;
        int r;

        if (!exists("/usr/share/dbus-1/system.conf"))
                skip();
        r = bus_config_load(&c, "/usr/share/dbus-1/system.conf", NULL, &err);
        if (r)
                fail_msg("system.conf: %d %s", r, err);
        assert_string_equal(c->type, "system");
        assert_string_equal(c->user, "messagebus");
        assert_true(c->fork);
        assert_true(c->syslog);
        assert_false(c->keep_umask);
        assert_false(c->allow_anonymous);
        assert_string_equal(c->pidfile, "/run/dbus/pid");
        assert_string_equal(c->servicehelper, "/usr/lib/dbus-1.0/dbus-daemon-launch-helper");
        assert_int_equal(c->n_auth, 1);
        assert_string_equal(c->auth[0], "EXTERNAL");
        assert_int_equal(c->n_listen, 1);
        assert_string_equal(c->listen[0], "unix:path=/run/dbus/system_bus_socket");
        assert_true(c->n_servicedirs >= 3);
        assert_string_equal(c->servicedirs[0].path, "/usr/local/share/dbus-1/system-services");
        assert_string_equal(c->servicedirs[1].path, "/usr/share/dbus-1/system-services");
        assert_string_equal(c->servicedirs[2].path, "/lib/dbus-1/system-services");
        assert_non_null(find_string(c->conf_dirs, c->n_conf_dirs, "/usr/share/dbus-1/system.d"));
        assert_non_null(find_string(c->conf_dirs, c->n_conf_dirs, "/etc/dbus-1/system.d"));
        /* the commented-out limits are dbus-daemon's defaults */
        assert_int_equal(c->limits.max_message_unix_fds, 16);
        assert_int_equal(c->limits.max_names_per_connection, 512);
        assert_int_equal(c->limits.max_incoming_bytes, 133169152);
        assert_int_equal(c->limits.auth_timeout, 5000);
        assert_int_equal(c->limits.reply_timeout, -1);
        assert_int_equal(c->apparmor, BUS_CONFIG_APPARMOR_ENABLED);

        r = policy_db_new(&db, c);
        assert_int_equal(r, 0);
        assert_int_equal(policy_db_n_rules(db), c->n_rules);

        policy_db_check_connect(db, 1000, &gid, 1, 100, &v);
        assert_true(v.allow);
        assert_int_equal(policy_snapshot_init(&user, db, 1000, &gid, 1, false), 0);
        assert_int_equal(policy_snapshot_init(&root, db, 0, NULL, 0, false), 0);

        if (exists("/usr/share/dbus-1/system.d/org.freedesktop.login1.conf")) {
                policy_snapshot_check_own(&user, "org.freedesktop.login1", &v);
                assert_false(v.allow);
                policy_snapshot_check_own(&root, "org.freedesktop.login1", &v);
                assert_true(v.allow);
                policy_snapshot_check_send(&user, &introspect, root_name, 2, false, &v);
                assert_true(v.allow);
                policy_snapshot_check_send(&user, &poweroff, root_name, 2, false, &v);
                assert_false(v.allow);
                policy_snapshot_check_send(&root, &poweroff, root_name, 2, false, &v);
                assert_true(v.allow);
        }
        /* anyone may call the driver; nobody may own arbitrary names */
        policy_snapshot_check_send(&user, &hello, NULL, 0, false, &v);
        assert_true(v.allow);
        policy_snapshot_check_own(&user, "com.example.Anything", &v);
        assert_false(v.allow);

        policy_snapshot_deinit(&user);
        policy_snapshot_deinit(&root);
        policy_db_unref(db);
        bus_config_free(c);
}

static void test_session_conf(void **state)
{
        const char *names[] = { ":1.7" };
        struct policy_message call = {
                .type = POLICY_TYPE_METHOD_CALL, .path = "/", .interface = "a.b", .member = "C",
                .destination = ":1.7",
        };
        struct policy_snapshot s = {};
        struct bus_config *c = NULL;
        struct policy_db *db = NULL;
        struct policy_verdict v;
        char *err = NULL;
        int r;

        char runtime[512], transient[600];

        if (!exists("/usr/share/dbus-1/session.conf"))
                skip();
        /* the transient directory is used only under a runtime dir we own */
        snprintf(runtime, sizeof(runtime), "%s/session-run", tmpdir);
        snprintf(transient, sizeof(transient), "%s/dbus-1/services", runtime);
        assert_int_equal(mkdir(runtime, 0700), 0);
        setenv("XDG_RUNTIME_DIR", runtime, 1);
        setenv("XDG_DATA_HOME", "/home/t/.data", 1);
        setenv("XDG_DATA_DIRS", "/opt/share::/usr/share", 1);
        r = bus_config_load(&c, "/usr/share/dbus-1/session.conf", NULL, &err);
        if (r)
                fail_msg("session.conf: %d %s", r, err);
        assert_string_equal(c->type, "session");
        assert_null(c->user);
        assert_false(c->fork);
        assert_true(c->keep_umask);
        assert_int_equal(c->n_listen, 1);
        assert_string_equal(c->listen[0], "unix:tmpdir=/tmp");
        assert_int_equal(c->n_auth, 1);
        assert_string_equal(c->auth[0], "EXTERNAL");
        assert_int_equal(c->limits.max_incoming_bytes, 1000000000);
        assert_int_equal(c->limits.max_names_per_connection, 50000);
        assert_int_equal(c->limits.max_match_rules_per_connection, 50000);
        assert_int_equal(c->limits.auth_timeout, 240000);
        assert_int_equal(c->limits.service_start_timeout, 120000);
        assert_int_equal(c->limits.max_message_unix_fds, 16);  /* not overridden */

        /* standard session directories, in order, /usr/share only once */
        assert_int_equal(c->n_servicedirs, 4);
        assert_string_equal(c->servicedirs[0].path, transient);
        assert_int_equal(c->n_warnings, 0);
        assert_int_equal(c->servicedirs[0].flags,
                         BUS_CONFIG_SERVICEDIR_NO_WATCH | BUS_CONFIG_SERVICEDIR_STRICT_NAMING);
        assert_string_equal(c->servicedirs[1].path, "/home/t/.data/dbus-1/services");
        assert_int_equal(c->servicedirs[1].flags, 0);
        assert_string_equal(c->servicedirs[2].path, "/opt/share/dbus-1/services");
        assert_string_equal(c->servicedirs[3].path, "/usr/share/dbus-1/services");

        assert_int_equal(policy_db_new(&db, c), 0);
        /* no user="*": only the bus owner may connect */
        policy_db_check_connect(db, 4242, NULL, 0, 4242, &v);
        assert_true(v.allow);
        assert_null(v.rule);
        policy_db_check_connect(db, 4243, NULL, 0, 4242, &v);
        assert_false(v.allow);
        assert_int_equal(policy_snapshot_init(&s, db, 4242, NULL, 0, false), 0);
        policy_snapshot_check_own(&s, "org.example.Anything", &v);
        assert_true(v.allow);
        policy_snapshot_check_send(&s, &call, names, 1, false, &v);
        assert_true(v.allow);
        policy_snapshot_check_receive(&s, &call, names, 1, false, true, &v);
        assert_true(v.allow);   /* eavesdropping allowed on the session bus */
        policy_snapshot_deinit(&s);
        policy_db_unref(db);
        bus_config_free(c);
        unsetenv("XDG_RUNTIME_DIR");
        unsetenv("XDG_DATA_HOME");
        unsetenv("XDG_DATA_DIRS");
}

/* every policy fragment installed in system.d parses (as a fragment) */
static void test_system_d_fragments(void **state)
{
        static const char *const dirs[] = { "/usr/share/dbus-1/system.d", "/etc/dbus-1/system.d",
                                            "/usr/share/dbus-1/session.d", "/etc/dbus-1/session.d" };
        struct bus_config_options opts = { .flags = BUS_CONFIG_FRAGMENT };
        size_t d, n = 0;

        for (d = 0; d < sizeof(dirs) / sizeof(*dirs); ++d) {
                DIR *dir = opendir(dirs[d]);
                struct dirent *e;

                if (!dir)
                        continue;
                while ((e = readdir(dir))) {
                        struct bus_config *c = NULL;
                        char path[4096], *err = NULL;
                        size_t len = strlen(e->d_name);
                        int r;

                        if (len < 5 || strcmp(e->d_name + len - 5, ".conf"))
                                continue;
                        snprintf(path, sizeof(path), "%s/%s", dirs[d], e->d_name);
                        r = bus_config_load(&c, path, &opts, &err);
                        if (r)
                                fail_msg("%s: %d %s", path, r, err);
                        assert_true(c->n_rules > 0);
                        assert_int_equal(c->n_listen, 0);
                        bus_config_free(c);
                        ++n;
                }
                closedir(dir);
        }
        if (!n)
                skip();
}

/*
 * dbus-daemon's corpus
 */

static size_t load_dir(const char *dir, bool valid)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        regex_t re;
        size_t n = 0;

        if (!d)
                return 0;
        /* FILE:LINE:COLUMN: message */
        assert_int_equal(regcomp(&re, "^/[^:]*\\.conf:[0-9]+:[0-9]+: .+", REG_EXTENDED | REG_NOSUB), 0);
        while ((e = readdir(d))) {
                struct bus_config *c = NULL;
                char path[4096], *err = NULL;
                size_t len = strlen(e->d_name);
                int r;

                if (len < 5 || strcmp(e->d_name + len - 5, ".conf"))
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                r = bus_config_load(&c, path, NULL, &err);
                if (valid) {
                        if (r)
                                fail_msg("valid %s rejected: %d %s", path, r, err);
                        assert_non_null(c);
                        assert_true(c->n_listen > 0);
                } else {
                        if (r != BUS_CONFIG_E_INVALID)
                                fail_msg("invalid %s: %d", path, r);
                        assert_null(c);
                        assert_non_null(err);
                        if (regexec(&re, err, 0, NULL, 0))
                                fail_msg("error without location: %s", err);
                }
                free(err);
                bus_config_free(c);
                ++n;
        }
        regfree(&re);
        closedir(d);
        return n;
}

static void test_dbus_valid_corpus(void **state)
{
        size_t n;

        n = load_dir(DBUS_TEST_DATA "/valid-config-files", true);
        n += load_dir(DBUS_TEST_DATA "/valid-config-files-system", true);
        n += load_dir(DBUS_TEST_DATA "/equiv-config-files/basic", true);
        n += load_dir(DBUS_TEST_DATA "/equiv-config-files/entities", true);
        if (!n)
                skip();
        assert_true(n >= 20);
}

static void test_dbus_invalid_corpus(void **state)
{
        size_t n = load_dir(DBUS_TEST_DATA "/invalid-config-files", false);

        if (!n)
                skip();
        assert_true(n >= 25);
}

/* the facts dbus-daemon's own config-parser test checks on check-own-rules.conf */
static void test_dbus_check_own_rules(void **state)
{
        static const struct {
                const char *name;
                bool allowed;
        } checks[] = {
                { "org.freedesktop", false },
                { "org.freedesktop.ManySystem", false },
                { "org.freedesktop.ManySystems", true },
                { "org.freedesktop.ManySystems.foo", true },
                { "org.freedesktop.ManySystems.foo.bar", true },
                { "org.freedesktop.ManySystems2", false },
                { "org.freedesktop.ManySystems2.foo", false },
                { "org.freedesktop.ManySystems2.foo.bar", false },
        };
        const char *path = DBUS_TEST_DATA "/valid-config-files/check-own-rules.conf";
        struct policy_snapshot s;
        struct bus_config *c = NULL;
        struct policy_db *db = NULL;
        struct policy_verdict v;
        size_t i;

        if (!exists(path))
                skip();
        assert_int_equal(bus_config_load(&c, path, NULL, NULL), 0);
        assert_int_equal(policy_db_new(&db, c), 0);
        assert_int_equal(policy_snapshot_init(&s, db, 1000, NULL, 0, false), 0);
        for (i = 0; i < sizeof(checks) / sizeof(*checks); ++i) {
                policy_snapshot_check_own(&s, checks[i].name, &v);
                if (v.allow != checks[i].allowed)
                        fail_msg("own %s: %d", checks[i].name, v.allow);
        }
        policy_snapshot_deinit(&s);
        policy_db_unref(db);
        bus_config_free(c);
}

/* the entities file is equivalent to basic.conf once entities are expanded */
static void test_dbus_entities(void **state)
{
        const char *path = DBUS_TEST_DATA "/valid-config-files/entities.conf";
        struct bus_config *c = NULL;

        if (!exists(path))
                skip();
        assert_int_equal(bus_config_load(&c, path, NULL, NULL), 0);
        assert_string_equal(c->listen[0], "unix:path=/foo/<bar>");
        assert_int_equal(c->n_servicedirs, 2);  /* basic.d adds /usr/share/foo first */
        assert_string_equal(c->servicedirs[1].path, "/usr/&share/foo");
        assert_int_equal(c->n_rules, 2);        /* one from basic.d */
        bus_config_free(c);
}

/*
 * Malformed and invalid input
 */

static void test_malformed(void **state)
{
        static const struct {
                const char *xml;
                const char *error;
        } cases[] = {
                { "", "/test/t.conf:1:1: no element found" },
                { "<busconfig>", "no element found" },
                { "<busconfig><listen>x</listen></busconfi>", "mismatched tag" },
                { "<busconfig><listen>x</listen></busconfig><busconfig/>", "junk after document element" },
                { "<busconfig><listen>x</listen>&bogus;</busconfig>", "undefined entity" },
                { "<?xml version=\"1.0\"?>\n<!DOCTYPE busconfig [<!ENTITY a \"aaaa\">]>\n<busconfig/>",
                  "/test/t.conf:2:33: Entity declarations are not supported" },
                { "<bees/>", "Unknown element <bees> at root" },
                { "<busconfig a=\"b\"/>", "Attribute \"a\" is invalid on <busconfig>" },
                { "<busconfig>\n  <listen>x</listen>\n  <bees/>\n</busconfig>",
                  "/test/t.conf:3:3: Element <bees> not allowed inside <busconfig>" },
                { "<busconfig>text<listen>x</listen></busconfig>", "No text content expected inside XML element busconfig" },
                { "<busconfig><listen>x</listen><fork>now</fork></busconfig>", "No text content expected inside XML element fork" },
                { "<busconfig><listen></listen></busconfig>", "<listen> was expected to have content" },
                { "<busconfig><listen>x<a/></listen></busconfig>", "Element <a> is not allowed in this context" },
                { "<busconfig><user/><listen>x</listen></busconfig>", "<user> was expected to have content" },
                { "<busconfig><include/><listen>x</listen></busconfig>", "<include> was expected to have content" },
                { "<busconfig><limit name=\"max_message_size\"/><listen>x</listen></busconfig>",
                  "<limit> was expected to have content" },
                { "<busconfig><type>session</type></busconfig>", "needs one or more <listen>" },
                { "<busconfig><listen>x</listen><allow own=\"a\"/></busconfig>", "Element <allow> not allowed inside <busconfig>" },
                { "<busconfig><listen>x</listen><associate own=\"a\" context=\"b\"/></busconfig>",
                  "Element <associate> not allowed inside <busconfig>" },
                { "<busconfig><listen>x</listen><selinux><associate own=\"a\"/></selinux></busconfig>",
                  "must have attributes own=" },
                { "<busconfig><listen>x</listen><selinux><allow own=\"a\"/></selinux></busconfig>",
                  "Element <allow> not allowed inside <selinux>" },
                { "<busconfig><listen>x</listen><policy context=\"default\"><allow own=\"a\"><deny own=\"b\"/></allow></policy></busconfig>",
                  "Element <deny> is not allowed in this context" },
                { "<busconfig><listen>x</listen><policy context=\"default\"><own/></policy></busconfig>",
                  "Element <own> not allowed inside <policy>" },
                { "<busconfig><listen>x</listen><policy context=\"default\" user=\"root\"/></busconfig>",
                  "exactly one of (context|user|group|at_console)" },
                { "<busconfig><listen>x</listen><policy context=\"default\"><deny receive_member=\"M\"/></policy></busconfig>",
                  "if you specify a member you must specify an interface or a path" },
                { "<busconfig><listen>x</listen><policy context=\"default\"><deny send_error=\"e\" send_member=\"M\" send_path=\"/\"/></policy></busconfig>",
                  "send_error cannot be combined" },
                { "<busconfig><listen>x</listen><policy context=\"default\"><deny receive_error=\"e\" receive_interface=\"i\"/></policy></busconfig>",
                  "receive_error cannot be combined" },
                { "<busconfig><listen>x</listen><policy context=\"default\"><deny send_destination=\"a\" send_destination_prefix=\"a\"/></policy></busconfig>",
                  "send_destination cannot be combined with send_destination_prefix" },
                { "<busconfig><listen>x</listen><policy context=\"default\"><deny send_type=\"bogus\"/></policy></busconfig>",
                  "Bad message type \"bogus\"" },
                { "<busconfig><listen>x</listen><policy context=\"default\"><deny receive_type=\"call\"/></policy></busconfig>",
                  "Bad message type \"call\"" },
                { "<busconfig><listen>x</listen><policy context=\"default\"><deny eavesdrop=\"yes\"/></policy></busconfig>",
                  "Bad value \"yes\" for eavesdrop attribute" },
                { "<busconfig><listen>x</listen><policy context=\"default\"><deny send_broadcast=\"1\"/></policy></busconfig>",
                  "for send_broadcast attribute" },
                { "<busconfig><listen>x</listen><policy context=\"default\"><allow send_requested_reply=\"maybe\"/></policy></busconfig>",
                  "for send_requested_reply attribute" },
                { "<busconfig><listen>x</listen><policy context=\"default\"><allow receive_requested_reply=\"maybe\"/></policy></busconfig>",
                  "for receive_requested_reply attribute" },
                { "<busconfig><listen>x</listen><policy context=\"default\"><deny send_destination=\"a\" max_fds=\"-1\"/></policy></busconfig>",
                  "for max_fds attribute, must be an integer in range 0 to 33554432" },
                { "<busconfig><listen>x</listen><policy context=\"default\"><deny send_destination=\"a\" min_fds=\"33554433\"/></policy></busconfig>",
                  "for min_fds attribute" },
                { "<busconfig><listen>x</listen><policy context=\"default\"><deny min_fds=\"1\" own=\"a\"/></policy></busconfig>",
                  "cannot be combined" },
                { "<busconfig><listen>x</listen><policy context=\"default\"><deny log=\"true\"/></policy></busconfig>",
                  "must have one or more attributes" },
                { "<busconfig><listen>x</listen><policy user=\"0\"><allow user=\"*\"/></policy></busconfig>",
                  "<allow> rule cannot be per-user because it has bus-global semantics" },
                { "<busconfig><listen>x</listen><policy group=\"0\"><deny group=\"*\"/></policy></busconfig>",
                  "<deny> rule cannot be per-group" },
                { "<busconfig><listen>x</listen><include ignore_missing=\"maybe\">a</include></busconfig>",
                  "ignore_missing attribute must have value" },
                { "<busconfig><listen>x</listen><include selinux_root_relative=\"yes\">a</include></busconfig>",
                  "Could not determine SELinux policy root" },
                { "<busconfig><listen>x</listen><include>/nonexistent/file.conf</include></busconfig>",
                  "/test/t.conf:1:61: Failed to open '/nonexistent/file.conf': No such file or directory" },
                { "<busconfig><listen>x</listen><limit name=\"reply_timeout\">2147483648</limit></busconfig>",
                  "value is too large" },
                { "<busconfig><listen>x</listen><limit name=\"max_bees\">1</limit></busconfig>",
                  "There is no limit called \"max_bees\"" },
                { "<busconfig><listen>x</listen><apparmor mode=\"on\"/></busconfig>", "Mode attribute on <apparmor>" },
                { "<busconfig><listen>x</listen><servicedir a=\"b\">x</servicedir></busconfig>",
                  "Attribute \"a\" is invalid on <servicedir>" },
                { "\xff\xfe<busconfig/>", "t.conf:1:" },
        };
        size_t i;

        for (i = 0; i < sizeof(cases) / sizeof(*cases); ++i) {
                struct bus_config *c = NULL;
                char *err = NULL;
                int r;

                r = parse(&c, cases[i].xml, &err);
                if (r != BUS_CONFIG_E_INVALID)
                        fail_msg("case %zu accepted (%d): %s", i, r, cases[i].xml);
                assert_null(c);
                if (!err || !strstr(err, cases[i].error))
                        fail_msg("case %zu: expected \"%s\", got \"%s\"", i, cases[i].error, err);
                free(err);
        }
}

static void test_valid_snippets(void **state)
{
        struct bus_config *c = NULL;
        char *err = NULL;
        int r;

        r = parse(&c,
                  "<!DOCTYPE busconfig SYSTEM \"busconfig.dtd\">\n"
                  "<busconfig>\n"
                  "  <listen> unix:path=/a </listen>\n"
                  "  <listen>tcp:host=localhost</listen>\n"
                  "  <auth>EXTERNAL</auth><auth>ANONYMOUS</auth>\n"
                  "  <allow_anonymous/><keep_umask/><syslog/><fork/>\n"
                  "  <user>1</user><user>2</user>\n"
                  "  <type>a</type><type>custom</type>\n"
                  "  <pidfile>/p</pidfile>\n"
                  "  <servicedir>rel</servicedir><servicedir>/abs</servicedir><servicedir>/abs</servicedir>\n"
                  "  <servicehelper>helper</servicehelper>\n"
                  "  <apparmor mode=\"required\"/>\n"
                  "  <selinux><associate own=\"a.b\" context=\"x_t\"/><associate own=\"a.b\" context=\"y_t\"/></selinux>\n"
                  "  <limit name=\"max_message_size\">0x100</limit>\n"
                  "  <limit name=\"reply_timeout\"> 25000 ms</limit>\n"
                  "  <limit name=\"max_incoming_bytes\">1</limit><limit name=\"max_incoming_bytes\">2</limit>\n"
                  "  <include if_selinux_enabled=\"yes\" selinux_root_relative=\"yes\">contexts/x</include>\n"
                  "  <policy context=\"default\">\n"
                  "    <allow send_destination=\"*\" send_broadcast=\"true\"/>\n"
                  "    <allow eavesdrop=\"true\"/>\n"
                  "    <deny send_interface=\"i\" send_member=\"m\" log=\"true\" max_fds=\"0\"/>\n"
                  "    <allow user=\"nonexistent-user-for-bus1-tests\"/>\n"
                  "  </policy>\n"
                  "  <policy user=\"nonexistent-user-for-bus1-tests\"><allow own=\"*\"/><allow user=\"*\"/></policy>\n"
                  "  <policy group=\"nonexistent-group-for-bus1-tests\"><allow own=\"*\"/></policy>\n"
                  "  <policy at_console=\"false\"><allow own_prefix=\"c\"/></policy>\n"
                  "  <policy user=\"3999999999\"><allow own=\"n\"/></policy>\n"
                  "  <policy user=\"0\"><allow own=\"root\"/></policy>\n"
                  "  <policy group=\"0\"><allow own=\"rootgroup\"/></policy>\n"
                  "</busconfig>\n",
                  &err);
        if (r)
                fail_msg("%d %s", r, err);
        /* content is raw, as in dbus-daemon */
        assert_int_equal(c->n_listen, 2);
        assert_string_equal(c->listen[0], " unix:path=/a ");
        assert_int_equal(c->n_auth, 2);
        assert_true(c->allow_anonymous && c->keep_umask && c->syslog && c->fork);
        assert_string_equal(c->user, "2");
        assert_string_equal(c->type, "custom");
        assert_string_equal(c->pidfile, "/p");
        assert_int_equal(c->n_servicedirs, 2);
        assert_string_equal(c->servicedirs[0].path, "/test/rel");
        assert_string_equal(c->servicedirs[1].path, "/abs");
        assert_string_equal(c->servicehelper, "/test/helper");
        assert_int_equal(c->apparmor, BUS_CONFIG_APPARMOR_REQUIRED);
        assert_string_equal(bus_config_find_association(c, "a.b"), "y_t");
        assert_null(bus_config_find_association(c, "a.c"));
        assert_int_equal(c->limits.max_message_size, 256);
        assert_int_equal(c->limits.reply_timeout, 25000);
        assert_int_equal(c->limits.max_incoming_bytes, 2);
        /* rules: 3 default (unknown user dropped), user/group policies of
         * unknown users/groups dropped */
        assert_int_equal(c->rules[0].kind, POLICY_RULE_SEND);
        assert_null(c->rules[0].name);
        assert_int_equal(c->rules[0].broadcast, POLICY_BROADCAST_TRUE);
        assert_int_equal(c->rules[1].kind, POLICY_RULE_RECEIVE);
        assert_true(c->rules[1].eavesdrop);
        assert_true(c->rules[2].log);
        assert_false(c->rules[2].allow);
        assert_false(c->rules[2].requested_reply);
        assert_int_equal(c->rules[2].max_fds, 0);
        assert_int_equal(c->rules[2].line, 21);
        assert_int_equal(c->rules[3].kind, POLICY_RULE_OWN);
        assert_true(c->rules[3].name_is_prefix);
        assert_int_equal(c->rules[3].context, POLICY_CONTEXT_CONSOLE);
        assert_int_equal(c->rules[3].context_id, 0);
        assert_true(has_warning(c, "Unknown username \"nonexistent-user-for-bus1-tests\" on element <allow>"));
        assert_true(has_warning(c, "/test/t.conf:24:3: Unknown username"));
        assert_true(has_warning(c, "Unknown group \"nonexistent-group-for-bus1-tests\""));
        assert_true(has_warning(c, "Unknown username \"3999999999\""));
        assert_int_equal(c->n_rules, 6);
        assert_int_equal(c->rules[4].context, POLICY_CONTEXT_USER);
        assert_int_equal(c->rules[4].context_id, 0);
        assert_string_equal(c->rules[4].name, "root");
        assert_int_equal(c->rules[5].context, POLICY_CONTEXT_GROUP);
        assert_string_equal(c->rules[5].name, "rootgroup");
        bus_config_free(c);
}

static void test_limits_default(void **state)
{
        struct bus_config_limits d;
        struct bus_config *c = NULL;

        bus_config_limits_init_default(&d);
        assert_int_equal(parse(&c, "<busconfig><listen>x</listen></busconfig>", NULL), 0);
        assert_memory_equal(&c->limits, &d, sizeof(d));
        assert_int_equal(d.max_incoming_bytes, 127 * 1024 * 1024);
        assert_int_equal(d.max_outgoing_bytes, 127 * 1024 * 1024);
        assert_int_equal(d.max_message_size, 32 * 1024 * 1024);
        assert_int_equal(d.max_incoming_unix_fds, 64);
        assert_int_equal(d.max_outgoing_unix_fds, 64);
        assert_int_equal(d.max_message_unix_fds, 16);
        assert_int_equal(d.service_start_timeout, 25000);
        assert_int_equal(d.pending_fd_timeout, 150000);
        assert_int_equal(d.max_completed_connections, 2048);
        assert_int_equal(d.max_incomplete_connections, 64);
        assert_int_equal(d.max_connections_per_user, 256);
        assert_int_equal(d.max_pending_service_starts, 512);
        assert_int_equal(d.max_replies_per_connection, 128);
        assert_null(c->user);
        assert_null(c->type);
        assert_int_equal(c->n_auth, 0);
        assert_int_equal(c->n_rules, 0);
        bus_config_free(c);
}

/*
 * Includes, in a temporary directory
 */

static void write_file(const char *rel, const char *text)
{
        char path[512];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static void make_dir(const char *rel)
{
        char path[512];

        snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
        assert_int_equal(mkdir(path, 0755), 0);
}

static int load_rel(const char *rel, struct bus_config **c, char **err, const struct bus_config_options *o)
{
        char path[512];

        snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
        return bus_config_load(c, path, o, err);
}

static int setup_tmpdir(void **state)
{
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/bus1-test-policy-XXXXXX");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmpdir(void **state)
{
        char cmd[512];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

static void test_include_recursion(void **state)
{
        struct bus_config *c = NULL;
        char *err = NULL;

        write_file("self.conf", "<busconfig>\n<listen>x</listen>\n<include>self.conf</include>\n</busconfig>\n");
        assert_int_equal(load_rel("self.conf", &c, &err, NULL), BUS_CONFIG_E_INVALID);
        assert_non_null(strstr(err, "self.conf:3:"));
        assert_non_null(strstr(err, "Circular inclusion of file"));
        free(err);
        err = NULL;

        write_file("a.conf", "<busconfig><listen>x</listen><include>b.conf</include></busconfig>");
        write_file("b.conf", "<busconfig>\n<include>./a.conf</include></busconfig>");
        assert_int_equal(load_rel("a.conf", &c, &err, NULL), BUS_CONFIG_E_INVALID);
        assert_non_null(strstr(err, "/b.conf:2:18: Circular inclusion of file"));
        free(err);
        err = NULL;

        /* the same file twice, not nested, is fine */
        write_file("leaf.conf", "<busconfig><policy context=\"default\"><allow own=\"x\"/></policy></busconfig>");
        write_file("twice.conf", "<busconfig><listen>x</listen><include>leaf.conf</include>"
                                 "<include>leaf.conf</include></busconfig>");
        assert_int_equal(load_rel("twice.conf", &c, &err, NULL), 0);
        assert_int_equal(c->n_rules, 2);
        assert_non_null(strstr(c->rules[0].file, "leaf.conf"));
        c = bus_config_free(c);

        /* an error inside an included file names that file */
        write_file("bad.conf", "<busconfig>\n\n  <bees/></busconfig>");
        write_file("incbad.conf", "<busconfig><listen>x</listen><include>bad.conf</include></busconfig>");
        assert_int_equal(load_rel("incbad.conf", &c, &err, NULL), BUS_CONFIG_E_INVALID);
        assert_non_null(strstr(err, "/bad.conf:3:3: Element <bees>"));
        free(err);
}

static void test_include_paths(void **state)
{
        struct bus_config_options o = {};
        struct bus_config *c = NULL;
        char *err = NULL, root[512];

        make_dir("sub");
        make_dir("selinux");
        write_file("main.conf", "<busconfig><listen>x</listen>"
                                "<include>sub/x.conf</include>"
                                "<include ignore_missing=\"yes\">missing.conf</include>"
                                "<includedir>nonexistent.d</includedir>"
                                "<include if_selinux_enabled=\"yes\" selinux_root_relative=\"yes\">ctx.conf</include>"
                                "</busconfig>");
        write_file("sub/x.conf", "<busconfig><include>y.conf</include><type>x</type></busconfig>");
        write_file("sub/y.conf", "<busconfig><user>y</user></busconfig>");
        write_file("selinux/ctx.conf", "<busconfig><pidfile>/selinux</pidfile></busconfig>");
        assert_int_equal(load_rel("main.conf", &c, &err, NULL), 0);
        assert_string_equal(c->type, "x");
        assert_string_equal(c->user, "y");
        assert_null(c->pidfile);        /* SELinux off: include skipped */
        c = bus_config_free(c);

        snprintf(root, sizeof(root), "%s/selinux", tmpdir);
        o.flags = BUS_CONFIG_SELINUX_ENABLED;
        o.selinux_policy_root = root;
        assert_int_equal(load_rel("main.conf", &c, &err, &o), 0);
        assert_string_equal(c->pidfile, "/selinux");
        c = bus_config_free(c);

        o.selinux_policy_root = NULL;
        assert_int_equal(load_rel("main.conf", &c, &err, &o), BUS_CONFIG_E_INVALID);
        assert_non_null(strstr(err, "main.conf:1:"));
        free(err);
        err = NULL;

        /* NO_INCLUDE validates but does not follow */
        o.flags = BUS_CONFIG_NO_INCLUDE;
        write_file("noinc.conf", "<busconfig><listen>x</listen><include>/nonexistent</include>"
                                 "<includedir>sub</includedir></busconfig>");
        assert_int_equal(load_rel("noinc.conf", &c, &err, &o), 0);
        assert_null(c->user);
        bus_config_free(c);
}

static void test_includedir(void **state)
{
        struct bus_config *c = NULL;
        char *err = NULL;

        make_dir("d");
        write_file("dir.conf", "<busconfig><listen>x</listen><type>main</type>"
                               "<includedir>d</includedir></busconfig>");
        /* written out of order: the result must not depend on readdir() */
        write_file("d/30-c.conf", "<busconfig><type>c</type>"
                                  "<policy context=\"default\"><allow own=\"c\"/></policy></busconfig>");
        write_file("d/10-a.conf", "<busconfig><type>a</type>"
                                  "<policy context=\"default\"><allow own=\"a\"/></policy></busconfig>");
        write_file("d/20-b.conf", "<busconfig><type>b</type><user>bad</user><listen>bad</listen>"
                                  "<policy context=\"default\"><allow own=\"b\"/></policy><bees/></busconfig>");
        write_file("d/40-d.txt", "<busconfig><type>txt</type></busconfig>");
        write_file("d/50-e.conf", "not xml");
        /* a file of the directory that includes the includer: skipped */
        write_file("d/60-loop.conf", "<busconfig><include>../dir.conf</include></busconfig>");
        {
                char target[512], link[512];

                snprintf(target, sizeof(target), "%s/dir.conf", tmpdir);
                snprintf(link, sizeof(link), "%s/d/70-link.conf", tmpdir);
                assert_int_equal(symlink(target, link), 0);
        }
        write_file("d/80-last.conf", "<busconfig><pidfile>/last</pidfile></busconfig>");
        assert_int_equal(load_rel("dir.conf", &c, &err, NULL), 0);
        assert_string_equal(c->type, "c");
        /* the failing file was rolled back entirely */
        assert_null(c->user);
        assert_int_equal(c->n_listen, 1);
        assert_int_equal(c->n_rules, 2);
        assert_string_equal(c->rules[0].name, "a");
        assert_string_equal(c->rules[1].name, "c");
        assert_true(has_warning(c, "20-b.conf:1:"));
        assert_true(has_warning(c, "50-e.conf:1:1: syntax error"));
        assert_true(has_warning(c, "60-loop.conf:1:32: Circular inclusion of file"));
        assert_true(has_warning(c, "70-link.conf: Circular inclusion of file"));
        /* and the files after them are still read */
        assert_string_equal(c->pidfile, "/last");
        assert_int_equal(c->n_conf_dirs, 1);
        assert_non_null(strstr(c->conf_dirs[0], "/d"));
        bus_config_free(c);
}

/*
 * <standard_session_servicedirs/>: the transient directory
 * $XDG_RUNTIME_DIR/dbus-1/services, set up as dbus-daemon 1.14 does it
 * (observed): silently absent when $XDG_RUNTIME_DIR is unset; present when
 * it and its dbus-1 subdirectory (if any) are our own directories; else a
 * warning naming the reason, and absent.
 */
static const char *transient_dir(const struct bus_config *c)
{
        size_t i;

        for (i = 0; i < c->n_servicedirs; ++i)
                if (c->servicedirs[i].flags & BUS_CONFIG_SERVICEDIR_STRICT_NAMING)
                        return c->servicedirs[i].path;
        return NULL;
}

/* Load the session directories with $XDG_RUNTIME_DIR = @runtime (NULL: unset). */
static struct bus_config *load_session_dirs(const char *runtime)
{
        static const char xml[] = "<busconfig><listen>x</listen><standard_session_servicedirs/></busconfig>";
        struct bus_config *c = NULL;
        char *err = NULL;

        if (runtime)
                setenv("XDG_RUNTIME_DIR", runtime, 1);
        else
                unsetenv("XDG_RUNTIME_DIR");
        if (parse(&c, xml, &err) != 0)
                fail_msg("%s", err);
        unsetenv("XDG_RUNTIME_DIR");
        return c;
}

/* the transient directory is absent and the only warning contains @needle */
static void assert_transient_refused(const char *runtime, const char *needle)
{
        struct bus_config *c = load_session_dirs(runtime);

        assert_null(transient_dir(c));
        assert_int_equal(c->n_warnings, 1);
        if (!strstr(c->warnings[0], "Unable to set up transient service directory: ") ||
            !strstr(c->warnings[0], needle))
                fail_msg("warning \"%s\" lacks \"%s\"", c->warnings[0], needle);
        bus_config_free(c);
}

static void test_transient_servicedir(void **state)
{
        char rt[512], sub[600], want[600], other[512], msg[1200];
        struct bus_config *c;

        /* unset: no directory, and silence (dbus-daemon says nothing) */
        c = load_session_dirs(NULL);
        assert_null(transient_dir(c));
        assert_int_equal(c->n_warnings, 0);
        assert_true(c->n_servicedirs >= 1);     /* the data dirs are still there */
        bus_config_free(c);

        /* our own directory without dbus-1: used, and loading creates nothing */
        snprintf(rt, sizeof(rt), "%s/rt", tmpdir);
        snprintf(sub, sizeof(sub), "%s/dbus-1", rt);
        snprintf(want, sizeof(want), "%s/dbus-1/services", rt);
        assert_int_equal(mkdir(rt, 0700), 0);
        c = load_session_dirs(rt);
        assert_non_null(transient_dir(c));
        assert_string_equal(transient_dir(c), want);
        assert_int_equal(c->servicedirs[0].flags,
                         BUS_CONFIG_SERVICEDIR_NO_WATCH | BUS_CONFIG_SERVICEDIR_STRICT_NAMING);
        assert_int_equal(c->n_warnings, 0);
        assert_false(exists(sub));
        bus_config_free(c);

        /* with our own dbus-1 */
        assert_int_equal(mkdir(sub, 0700), 0);
        c = load_session_dirs(rt);
        assert_non_null(transient_dir(c));
        assert_string_equal(transient_dir(c), want);
        assert_int_equal(c->n_warnings, 0);
        bus_config_free(c);

        /* missing, empty, not a directory, relative */
        assert_transient_refused("/nonexistent-bus1-runtime",
                                 "XDG_RUNTIME_DIR \"/nonexistent-bus1-runtime\" not available: "
                                 "No such file or directory");
        assert_transient_refused("", "XDG_RUNTIME_DIR \"\" not available: No such file or directory");
        write_file("rt-file", "");
        snprintf(other, sizeof(other), "%s/rt-file", tmpdir);
        snprintf(msg, sizeof(msg), "XDG_RUNTIME_DIR \"%s\" is not a directory", other);
        assert_transient_refused(other, msg);
        assert_transient_refused("relative/run", "XDG_RUNTIME_DIR \"relative/run\" is not an absolute path");

        /* dbus-1 is not a directory */
        assert_int_equal(rmdir(sub), 0);
        write_file("rt/dbus-1", "");
        snprintf(msg, sizeof(msg), "XDG_RUNTIME_DIR subdirectory \"%s\" is not a directory", sub);
        assert_transient_refused(rt, msg);
        assert_int_equal(unlink(sub), 0);

        /*
         * Another user's directory: root makes one for uid 65534; anyone
         * else uses "/", which root owns.
         */
        if (getuid() == 0) {
                snprintf(other, sizeof(other), "%s/foreign", tmpdir);
                assert_int_equal(mkdir(other, 0755), 0);
                assert_int_equal(chown(other, 65534, 65534), 0);
        } else {
                snprintf(other, sizeof(other), "/");
        }
        snprintf(msg, sizeof(msg), "XDG_RUNTIME_DIR \"%s\" is owned by uid %ld, not our uid %ld", other,
                 getuid() == 0 ? 65534L : 0L, (long)getuid());
        assert_transient_refused(other, msg);
        /* ... and our runtime dir whose dbus-1 (through a symlink) is theirs */
        assert_int_equal(symlink(other, sub), 0);
        snprintf(msg, sizeof(msg), "XDG_RUNTIME_DIR subdirectory \"%s\" is owned by uid %ld, not our uid %ld",
                 sub, getuid() == 0 ? 65534L : 0L, (long)getuid());
        assert_transient_refused(rt, msg);
        assert_int_equal(unlink(sub), 0);
}

static void test_load_errors(void **state)
{
        struct bus_config *c = NULL;
        char *err = NULL;

        assert_int_equal(bus_config_load(&c, "/nonexistent/bus.conf", NULL, &err), BUS_CONFIG_E_INVALID);
        assert_null(c);
        assert_non_null(strstr(err, "/nonexistent/bus.conf"));
        free(err);
        err = NULL;
        assert_int_equal(bus_config_load(&c, "/tmp", NULL, &err), BUS_CONFIG_E_INVALID);
        assert_non_null(strstr(err, "Is a directory"));
        free(err);
        /* errorp is optional */
        assert_int_equal(bus_config_load(&c, "/nonexistent", NULL, NULL), BUS_CONFIG_E_INVALID);
        assert_null(bus_config_free(NULL));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_system_conf),
                cmocka_unit_test(test_session_conf),
                cmocka_unit_test(test_system_d_fragments),
                cmocka_unit_test(test_dbus_valid_corpus),
                cmocka_unit_test(test_dbus_invalid_corpus),
                cmocka_unit_test(test_dbus_check_own_rules),
                cmocka_unit_test(test_dbus_entities),
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_valid_snippets),
                cmocka_unit_test(test_limits_default),
                cmocka_unit_test(test_include_recursion),
                cmocka_unit_test(test_include_paths),
                cmocka_unit_test(test_includedir),
                cmocka_unit_test(test_transient_servicedir),
                cmocka_unit_test(test_load_errors),
        };

        return cmocka_run_group_tests(tests, setup_tmpdir, teardown_tmpdir);
}
