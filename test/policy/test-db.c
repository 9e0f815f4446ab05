/*
 * Unit tests of policy/db: a table of policies x requests x expected
 * verdicts written from dbus-daemon(1) and its policy.c semantics, the
 * send_destination_prefix corpus of dbus-daemon's tests, reference counting
 * and snapshots, and a randomized cross-check of the indexed evaluator
 * against a naive linear evaluation over all rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "policy/config.h"
#include "policy/console.h"
#include "policy/db.h"

#define DBUS_TEST_DATA "/usr/lib/dbus-1.0/installed-tests/dbus/data"

/*
 * Policies name only ids of base-passwd's static users and groups (root 0,
 * daemon 1, bin 2, sys 3, nobody/nogroup 65534, users group 100): user and
 * group ids must exist to be honoured, as in dbus-daemon.
 */
static struct policy_db *compile(const char *body)
{
        struct bus_config *c = NULL;
        struct policy_db *db = NULL;
        char *xml = NULL, *err = NULL;
        int r;

        assert_true(asprintf(&xml, "<busconfig><listen>unix:path=/x</listen>%s</busconfig>", body) > 0);
        r = bus_config_parse(&c, xml, strlen(xml), "/test/t.conf", NULL, &err);
        if (r)
                fail_msg("%d %s", r, err);
        assert_int_equal(policy_db_new(&db, c), 0);
        bus_config_free(c);
        free(xml);
        return db;
}

/*
 * The verdict table
 */

enum op { CONNECT, OWN, SEND, RECV, EAVESDROP };

struct request {
        enum op op;
        uint32_t uid;
        uint32_t gid;                   /* one group (0 = none... gid 0 is root) */
        bool console;
        const char *name;               /* OWN: the name */
        struct policy_message m;
        const char *peer[3];            /* names of the other side; [0] NULL: driver */
        bool requested_reply;
        bool allow;
        bool log;
};

#define CALL(dst, iface, memb) { .type = POLICY_TYPE_METHOD_CALL, .path = "/p", .interface = iface, \
                                 .member = memb, .destination = dst, .sender = ":1.1" }

static const char *const policy_system_like =
        "<policy context=\"default\">"
        "  <allow user=\"*\"/>"
        "  <deny user=\"2\"/>"
        "  <deny own=\"*\"/>"
        "  <deny send_type=\"method_call\"/>"
        "  <allow send_type=\"signal\"/>"
        "  <allow send_requested_reply=\"true\" send_type=\"method_return\"/>"
        "  <allow send_requested_reply=\"true\" send_type=\"error\"/>"
        "  <allow receive_type=\"method_call\"/>"
        "  <allow receive_type=\"method_return\"/>"
        "  <allow receive_type=\"error\"/>"
        "  <allow receive_type=\"signal\"/>"
        "  <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus\"/>"
        "  <deny send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus\""
        "        send_member=\"UpdateActivationEnvironment\" log=\"true\"/>"
        "  <allow send_destination=\"com.example.Svc\"/>"
        "  <deny send_destination=\"com.example.Svc\" send_interface=\"com.example.Admin\"/>"
        "  <deny send_destination=\"com.example.Svc\" min_fds=\"1\"/>"
        "  <deny send_destination=\"com.example.Svc\" send_path=\"/secret\"/>"
        "  <allow own_prefix=\"com.example.Prefix\"/>"
        "  <allow send_destination_prefix=\"com.example.Prefix\"/>"
        "  <deny send_destination=\"com.example.Prefix.Secret\"/>"
        "  <deny receive_sender=\"com.example.Noisy\" receive_type=\"signal\"/>"
        "  <deny send_type=\"signal\" send_broadcast=\"true\" send_interface=\"com.example.Quiet\"/>"
        "  <allow send_type=\"method_return\" send_requested_reply=\"false\" send_destination=\"com.example.Lax\"/>"
        "  <deny send_type=\"error\" send_requested_reply=\"true\" send_destination=\"com.example.Strict\"/>"
        "  <allow receive_type=\"signal\" eavesdrop=\"true\" receive_sender=\"com.example.Public\"/>"
        "</policy>"
        "<policy user=\"0\"><allow own=\"com.example.Svc\"/></policy>"
        "<policy group=\"100\"><allow own=\"com.example.GroupName\"/>"
        "  <allow send_destination=\"com.example.Svc\" send_interface=\"com.example.Svc\" send_member=\"Kill\"/></policy>"
        "<policy user=\"65534\"><deny own=\"com.example.GroupName\"/></policy>"
        "<policy at_console=\"true\"><allow send_destination=\"com.example.Console\"/></policy>"
        "<policy at_console=\"false\"><allow own=\"com.example.NotConsole\"/></policy>"
        "<policy context=\"mandatory\">"
        "  <deny send_destination=\"com.example.Svc\" send_interface=\"com.example.Svc\" send_member=\"Kill\"/>"
        "  <deny user=\"3\"/>"
        "</policy>";

static const struct request requests_system_like[] = {
        /* connect: user="*", then deny user 2 (default), 3 (mandatory) */
        { .op = CONNECT, .uid = 1000, .allow = true },
        { .op = CONNECT, .uid = 2, .allow = false },
        { .op = CONNECT, .uid = 3, .allow = false },
        /* own: denied by default, user/group/console policies, user beats group */
        { .op = OWN, .uid = 1000, .name = "com.example.Svc", .allow = false },
        { .op = OWN, .uid = 0, .name = "com.example.Svc", .allow = true },
        { .op = OWN, .uid = 0, .name = "com.example.Svc.Sub", .allow = false },
        { .op = OWN, .uid = 1001, .gid = 100, .name = "com.example.GroupName", .allow = true },
        { .op = OWN, .uid = 65534, .gid = 100, .name = "com.example.GroupName", .allow = false },
        { .op = OWN, .uid = 1001, .gid = 101, .name = "com.example.GroupName", .allow = false },
        { .op = OWN, .uid = 1000, .name = "com.example.Prefix", .allow = true },
        { .op = OWN, .uid = 1000, .name = "com.example.Prefix.A.B", .allow = true },
        { .op = OWN, .uid = 1000, .name = "com.example.PrefixNot", .allow = false },
        { .op = OWN, .uid = 1000, .name = "com.example", .allow = false },
        { .op = OWN, .uid = 1000, .console = false, .name = "com.example.NotConsole", .allow = true },
        { .op = OWN, .uid = 1000, .console = true, .name = "com.example.NotConsole", .allow = false },
        /* send: method calls denied unless punched */
        { .op = SEND, .uid = 1000, .m = CALL("com.example.Other", "a.b", "C"), .peer = { "com.example.Other", ":1.2" },
          .allow = false },
        { .op = SEND, .uid = 1000, .m = CALL("com.example.Svc", "com.example.Svc", "Get"),
          .peer = { "com.example.Svc", ":1.2" }, .allow = true },
        /* send_destination matches any name the receiver owns, not the
         * destination field */
        { .op = SEND, .uid = 1000, .m = CALL(":1.2", "com.example.Svc", "Get"),
          .peer = { ":1.2", "com.example.Svc" }, .allow = true },
        { .op = SEND, .uid = 1000, .m = CALL("com.example.Other", "com.example.Svc", "Get"),
          .peer = { "com.example.Other", "com.example.Svc", ":1.2" }, .allow = true },
        { .op = SEND, .uid = 1000, .m = CALL("com.example.Svc", "com.example.Admin", "Reboot"),
          .peer = { "com.example.Svc" }, .allow = false },
        /* a deny on send_interface also catches messages without interface */
        { .op = SEND, .uid = 1000, .m = CALL("com.example.Svc", NULL, "Reboot"), .peer = { "com.example.Svc" },
          .allow = false },
        /* send_path: a message with a different path escapes, without one does not */
        { .op = SEND, .uid = 1000, .m = { .type = POLICY_TYPE_METHOD_CALL, .path = "/secret", .interface = "x",
          .member = "Y", .destination = "com.example.Svc" }, .peer = { "com.example.Svc" }, .allow = false },
        /* fds */
        { .op = SEND, .uid = 1000, .m = { .type = POLICY_TYPE_METHOD_CALL, .path = "/p", .interface = "x",
          .member = "Y", .destination = "com.example.Svc", .n_fds = 1 }, .peer = { "com.example.Svc" }, .allow = false },
        /* group allows Kill, but mandatory denies it */
        { .op = SEND, .uid = 1001, .gid = 100, .m = CALL("com.example.Svc", "com.example.Svc", "Kill"),
          .peer = { "com.example.Svc" }, .allow = false },
        /* at_console */
        { .op = SEND, .uid = 1000, .console = true, .m = CALL("com.example.Console", "a", "B"),
          .peer = { "com.example.Console" }, .allow = true },
        { .op = SEND, .uid = 1000, .console = false, .m = CALL("com.example.Console", "a", "B"),
          .peer = { "com.example.Console" }, .allow = false },
        /* the driver: matched against the destination field; log flag */
        { .op = SEND, .uid = 1000, .m = CALL("org.freedesktop.DBus", "org.freedesktop.DBus", "Hello"), .allow = true },
        { .op = SEND, .uid = 1000, .m = CALL("org.freedesktop.DBus", "org.freedesktop.DBus",
          "UpdateActivationEnvironment"), .allow = false, .log = true },
        { .op = SEND, .uid = 1000, .m = CALL("org.freedesktop.DBus", "org.freedesktop.DBus.Monitoring",
          "BecomeMonitor"), .allow = false },
        /* send_destination_prefix, and an exact deny inside it */
        { .op = SEND, .uid = 1000, .m = CALL("com.example.Prefix.A", "a", "B"), .peer = { "com.example.Prefix.A" },
          .allow = true },
        { .op = SEND, .uid = 1000, .m = CALL("com.example.Prefix", "a", "B"), .peer = { "com.example.Prefix" },
          .allow = true },
        { .op = SEND, .uid = 1000, .m = CALL("com.example.PrefixB", "a", "B"), .peer = { "com.example.PrefixB" },
          .allow = false },
        { .op = SEND, .uid = 1000, .m = CALL("com.example.Prefix.Secret", "a", "B"),
          .peer = { "com.example.Prefix.Secret" }, .allow = false },
        { .op = SEND, .uid = 1000, .m = CALL("com.example.Prefix.Secret.Sub", "a", "B"),
          .peer = { "com.example.Prefix.Secret.Sub" }, .allow = true },
        /* signals: allowed; broadcast deny only for broadcasts */
        { .op = SEND, .uid = 1000, .m = { .type = POLICY_TYPE_SIGNAL, .path = "/", .interface = "com.example.Quiet",
          .member = "S" }, .allow = false },
        { .op = SEND, .uid = 1000, .m = { .type = POLICY_TYPE_SIGNAL, .path = "/", .interface = "com.example.Quiet",
          .member = "S", .destination = ":1.2" }, .peer = { ":1.2" }, .allow = true },
        { .op = SEND, .uid = 1000, .m = { .type = POLICY_TYPE_SIGNAL, .path = "/", .interface = "com.example.Loud",
          .member = "S" }, .allow = true },
        /* replies: requested ones pass, unrequested ones do not */
        { .op = SEND, .uid = 1000, .m = { .type = POLICY_TYPE_METHOD_RETURN, .is_reply = true, .destination = ":1.2" },
          .peer = { ":1.2" }, .requested_reply = true, .allow = true },
        { .op = SEND, .uid = 1000, .m = { .type = POLICY_TYPE_METHOD_RETURN, .is_reply = true, .destination = ":1.2" },
          .peer = { ":1.2" }, .requested_reply = false, .allow = false },
        { .op = SEND, .uid = 1000, .m = { .type = POLICY_TYPE_ERROR, .is_reply = true, .error = "e.E",
          .destination = ":1.2" }, .peer = { ":1.2" }, .requested_reply = true, .allow = true },
        /* send_requested_reply="false" on allow: also unrequested */
        { .op = SEND, .uid = 1000, .m = { .type = POLICY_TYPE_METHOD_RETURN, .is_reply = true,
          .destination = "com.example.Lax" }, .peer = { "com.example.Lax" }, .requested_reply = false, .allow = true },
        /* deny with send_requested_reply="true": also requested ones */
        { .op = SEND, .uid = 1000, .m = { .type = POLICY_TYPE_ERROR, .is_reply = true, .error = "e.E",
          .destination = "com.example.Strict" }, .peer = { "com.example.Strict" }, .requested_reply = true,
          .allow = false },
        /* receive */
        { .op = RECV, .uid = 1000, .m = CALL(":1.5", "a", "B"), .peer = { ":1.1" }, .allow = true },
        { .op = RECV, .uid = 1000, .m = { .type = POLICY_TYPE_SIGNAL, .path = "/", .interface = "i", .member = "S",
          .sender = ":1.9" }, .peer = { ":1.9", "com.example.Noisy" }, .allow = false },
        { .op = RECV, .uid = 1000, .m = { .type = POLICY_TYPE_SIGNAL, .path = "/", .interface = "i", .member = "S",
          .sender = ":1.9" }, .peer = { ":1.9" }, .allow = true },
        /* receive from the driver: matched against the sender field */
        { .op = RECV, .uid = 1000, .m = { .type = POLICY_TYPE_SIGNAL, .path = "/", .interface = "i", .member = "S",
          .sender = "com.example.Noisy" }, .allow = false },
        { .op = RECV, .uid = 1000, .m = { .type = POLICY_TYPE_METHOD_RETURN, .is_reply = true }, .peer = { ":1.3" },
          .requested_reply = false, .allow = false },
        { .op = RECV, .uid = 1000, .m = { .type = POLICY_TYPE_METHOD_RETURN, .is_reply = true }, .peer = { ":1.3" },
          .requested_reply = true, .allow = true },
        /* eavesdropping: allow rules without eavesdrop="true" do not count */
        { .op = EAVESDROP, .uid = 1000, .m = CALL(":1.5", "a", "B"), .peer = { ":1.1" }, .allow = false },
        { .op = EAVESDROP, .uid = 1000, .m = { .type = POLICY_TYPE_SIGNAL, .path = "/", .interface = "i",
          .member = "S", .destination = ":1.5" }, .peer = { "com.example.Public" }, .allow = true },
};

static const char *const policy_session_like =
        "<policy context=\"default\">"
        "  <allow send_destination=\"*\" eavesdrop=\"true\"/>"
        "  <allow eavesdrop=\"true\"/>"
        "  <allow own=\"*\"/>"
        "  <deny eavesdrop=\"true\" receive_sender=\"com.example.Private\"/>"
        "  <deny send_interface=\"com.example.Forbidden\" send_destination=\"com.example.Guarded\"/>"
        "</policy>";

static const struct request requests_session_like[] = {
        /* no user/group rules: only the bus owner (uid 1000 here) connects */
        { .op = CONNECT, .uid = 1000, .allow = true },
        { .op = CONNECT, .uid = 1001, .allow = false },
        { .op = OWN, .uid = 1000, .name = "any.Name", .allow = true },
        { .op = SEND, .uid = 1000, .m = CALL("x.Y", "a", "B"), .peer = { "x.Y" }, .allow = true },
        /* unrequested replies pass thanks to eavesdrop="true" on the allow */
        { .op = SEND, .uid = 1000, .m = { .type = POLICY_TYPE_METHOD_RETURN, .is_reply = true, .destination = ":1.2" },
          .peer = { ":1.2" }, .requested_reply = false, .allow = true },
        { .op = SEND, .uid = 1000, .m = CALL("com.example.Guarded", "com.example.Forbidden", "B"),
          .peer = { "com.example.Guarded" }, .allow = false },
        { .op = SEND, .uid = 1000, .m = CALL("com.example.Guarded", "com.example.Allowed", "B"),
          .peer = { "com.example.Guarded" }, .allow = true },
        { .op = RECV, .uid = 1000, .m = CALL(":1.5", "a", "B"), .peer = { "com.example.Private" }, .allow = true },
        { .op = EAVESDROP, .uid = 1000, .m = CALL(":1.5", "a", "B"), .peer = { ":1.7" }, .allow = true },
        /* deny eavesdrop="true" applies only to eavesdropping */
        { .op = EAVESDROP, .uid = 1000, .m = CALL(":1.5", "a", "B"), .peer = { "com.example.Private" },
          .allow = false },
};

static const char *const policy_empty = "";

static const struct request requests_empty[] = {
        { .op = CONNECT, .uid = 1000, .allow = true },  /* the bus owner */
        { .op = CONNECT, .uid = 0, .allow = false },
        { .op = OWN, .uid = 1000, .name = "a.b", .allow = false },
        { .op = SEND, .uid = 1000, .m = CALL("a.b", "a", "B"), .peer = { "a.b" }, .allow = false },
        { .op = RECV, .uid = 1000, .m = CALL("a.b", "a", "B"), .peer = { "a.b" }, .allow = false },
};

static size_t peer_count(const struct request *q)
{
        size_t n = 0;

        while (n < 3 && q->peer[n])
                ++n;
        return n;
}

static void run_table(const char *policy, const struct request *reqs, size_t n)
{
        struct policy_db *db = compile(policy);
        size_t i;

        for (i = 0; i < n; ++i) {
                const struct request *q = &reqs[i];
                struct policy_snapshot s;
                struct policy_verdict v;
                size_t n_peer = peer_count(q);

                assert_int_equal(policy_snapshot_init(&s, db, q->uid, &q->gid, q->gid ? 1 : 0, q->console), 0);
                switch (q->op) {
                case CONNECT:
                        policy_db_check_connect(db, q->uid, &q->gid, q->gid ? 1 : 0, 1000, &v);
                        break;
                case OWN:
                        policy_snapshot_check_own(&s, q->name, &v);
                        break;
                case SEND:
                        policy_snapshot_check_send(&s, &q->m, n_peer ? q->peer : NULL, n_peer,
                                                   q->requested_reply, &v);
                        break;
                case RECV:
                case EAVESDROP:
                        policy_snapshot_check_receive(&s, &q->m, n_peer ? q->peer : NULL, n_peer,
                                                      q->requested_reply, q->op == EAVESDROP, &v);
                        break;
                }
                if (v.allow != q->allow || v.log != q->log)
                        fail_msg("request %zu: allow=%d log=%d, expected allow=%d log=%d (rule line %lu)", i,
                                 v.allow, v.log, q->allow, q->log, v.rule ? v.rule->line : 0);
                assert_true(!v.rule || v.rule->allow == v.allow);
                policy_snapshot_deinit(&s);
        }
        policy_db_unref(db);
}

static void test_table_system_like(void **state)
{
        run_table(policy_system_like, requests_system_like,
                  sizeof(requests_system_like) / sizeof(*requests_system_like));
}

static void test_table_session_like(void **state)
{
        run_table(policy_session_like, requests_session_like,
                  sizeof(requests_session_like) / sizeof(*requests_session_like));
}

static void test_table_empty(void **state)
{
        run_table(policy_empty, requests_empty, sizeof(requests_empty) / sizeof(*requests_empty));
}

/*
 * dbus-daemon's send-destination-prefix-rules.conf: the names encode the
 * expected verdict ("a"/"ap" allowed, "d"/"dp" denied; see the file).
 */
static void test_destination_prefix_corpus(void **state)
{
        static const struct {
                const char *name;
                bool allow;
        } cases[] = {
                { "foo.bar.test.dest_prefix.ap", true },
                { "foo.bar.test.dest_prefix.ap.f", true },
                { "foo.bar.test.dest_prefix.ao", true },
                { "foo.bar.test.dest_prefix.ao.f", false },
                { "foo.bar.test.dest_prefix.apx", false },
                { "foo.bar.test.dest_prefix", false },
                { "foo.bar.test", false },
                { "foo.bar.test.dest_prefix.ap.f1.d", false },
                { "foo.bar.test.dest_prefix.ap.f1.d.f", true },
                { "foo.bar.test.dest_prefix.ap.f1.d.ap", true },
                { "foo.bar.test.dest_prefix.ap.f1.dp", false },
                { "foo.bar.test.dest_prefix.ap.f1.dp.f", false },
                { "foo.bar.test.dest_prefix.ap.f1.dp.ap", true },
                { "foo.bar.test.dest_prefix.ap.f1.dp.a", true },
                { "foo.bar.test.dest_prefix.ap.f2.apxdp", false },
                { "foo.bar.test.dest_prefix.ap.f2.apxdp.dp.a", true },
                { "foo.bar.test.dest_prefix.ap.f2.apxdp.dp.ap.f.a", true },
                { "foo.bar.test.dest_prefix.ap.f2.apxdp.f.f.f.ap", true },
                { "foo.bar.test.dest_prefix.ap.f2.apxdp.f.f.f.ap.f", true },
                { "foo.bar.test.dest_prefix.ap.f3.dpxap", true },
                { "foo.bar.test.dest_prefix.ap.f3.dpxap.ap.dp.x", true },
        };
        const char *path = DBUS_TEST_DATA "/valid-config-files/send-destination-prefix-rules.conf";
        struct bus_config *c = NULL;
        struct policy_db *db = NULL;
        struct policy_snapshot s;
        size_t i;

        if (access(path, R_OK))
                skip();
        assert_int_equal(bus_config_load(&c, path, NULL, NULL), 0);
        assert_int_equal(policy_db_new(&db, c), 0);
        assert_int_equal(policy_snapshot_init(&s, db, 1000, NULL, 0, false), 0);
        for (i = 0; i < sizeof(cases) / sizeof(*cases); ++i) {
                struct policy_message m = CALL(cases[i].name, "a.b", "C");
                const char *names[] = { cases[i].name, ":1.99" };
                struct policy_verdict v;

                policy_snapshot_check_send(&s, &m, names, 2, false, &v);
                if (v.allow != cases[i].allow)
                        fail_msg("%s: %d (line %lu)", cases[i].name, v.allow, v.rule ? v.rule->line : 0);
                /* owning the name as one of several, or via the driver path */
                policy_snapshot_check_send(&s, &m, NULL, 0, false, &v);
                assert_int_equal(v.allow, cases[i].allow);
        }
        policy_snapshot_deinit(&s);
        policy_db_unref(db);
        bus_config_free(c);
}

static void test_refcount_and_snapshot(void **state)
{
        struct policy_db *db = compile("<policy group=\"3\"><allow own=\"g.Three\"/></policy>");
        uint32_t gids[] = { 9, 7, 9, 3, 7 };
        struct policy_snapshot s, zero = {};
        struct policy_verdict v;

        assert_ptr_equal(policy_db_ref(db), db);
        assert_null(policy_db_unref(db));
        assert_null(policy_db_ref(NULL));
        assert_null(policy_db_unref(NULL));
        assert_int_equal(policy_snapshot_init(&s, db, 5, gids, 5, false), 0);
        /* the snapshot keeps the database alive after its creator drops it */
        assert_null(policy_db_unref(db));
        assert_int_equal(s.n_gids, 3);
        assert_int_equal(s.gids[0], 3);
        assert_int_equal(s.gids[1], 7);
        assert_int_equal(s.gids[2], 9);
        policy_snapshot_check_own(&s, "g.Three", &v);
        assert_true(v.allow);
        assert_non_null(v.rule);
        assert_string_equal(v.rule->name, "g.Three");
        assert_string_equal(v.rule->file, "/test/t.conf");
        policy_snapshot_deinit(&s);
        policy_snapshot_deinit(&zero);
}

/*
 * Randomized cross-check: indexed evaluation == naive linear evaluation.
 */

static const char *const rnd_names[] = { "a", "a.b", "a.b.c", "a.bc", "b", "b.a", ":1.1", ":1.2", ".a", "" };
static const char *const rnd_words[] = { "x", "y", "/p", "/q" };

static uint32_t rnd_state = 12345;

static uint32_t rnd(uint32_t n)
{
        rnd_state = rnd_state * 1103515245u + 12345u;
        return (rnd_state >> 16) % n;
}

static const char *rnd_pick(const char *const *v, size_t n, bool maybe_null)
{
        if (maybe_null && !rnd(2))
                return NULL;
        return v[rnd(n)];
}

static bool prefix_matches(const char *prefix, const char *name)
{
        size_t n = strlen(prefix);

        return !strncmp(name, prefix, n) && (name[n] == 0 || name[n] == '.');
}

static bool naive_name(const struct policy_rule *r, const char *const *names, size_t n, const char *header)
{
        size_t i;

        if (!r->name)
                return true;
        if (!names) {
                names = &header;
                n = header ? 1 : 0;
        }
        for (i = 0; i < n; ++i)
                if (r->name_is_prefix ? prefix_matches(r->name, names[i]) : !strcmp(r->name, names[i]))
                        return true;
        return false;
}

static bool naive_applies(const struct policy_rule *r, uint32_t uid, uint32_t gid, bool console)
{
        switch (r->context) {
        case POLICY_CONTEXT_GROUP:
                return r->context_id == gid;
        case POLICY_CONTEXT_USER:
                return r->context_id == uid;
        case POLICY_CONTEXT_CONSOLE:
                return r->context_id == (uint32_t)console;
        default:
                return true;
        }
}

static bool field_ok(const char *rule, const char *msg)
{
        return !rule || !msg || !strcmp(rule, msg);
}

/* the semantics, restated from dbus-daemon's policy.c, over all rules */
static bool naive_message(const struct bus_config *c, bool send, const struct policy_message *m,
                          const char *const *names, size_t n, bool requested, bool eavesdropping,
                          uint32_t uid, uint32_t gid, bool console)
{
        unsigned int context;
        bool allow = false;
        size_t i;

        for (context = POLICY_CONTEXT_DEFAULT; context <= POLICY_CONTEXT_MANDATORY; ++context) {
                for (i = 0; i < c->n_rules; ++i) {
                        const struct policy_rule *r = &c->rules[i];

                        if (r->context != context || r->kind != (send ? POLICY_RULE_SEND : POLICY_RULE_RECEIVE))
                                continue;
                        if (!naive_applies(r, uid, gid, console))
                                continue;
                        if (r->type && r->type != m->type)
                                continue;
                        if (!send && eavesdropping && r->allow && !r->eavesdrop)
                                continue;
                        if (!send && !eavesdropping && !r->allow && r->eavesdrop)
                                continue;
                        if (m->is_reply && !requested && r->allow && r->requested_reply && !r->eavesdrop)
                                continue;
                        if (m->is_reply && requested && !r->allow && !r->requested_reply)
                                continue;
                        if (send && r->broadcast != POLICY_BROADCAST_ANY &&
                            (!m->destination && m->type == POLICY_TYPE_SIGNAL) !=
                                    (r->broadcast == POLICY_BROADCAST_TRUE))
                                continue;
                        if (!field_ok(r->path, m->path) || !field_ok(r->member, m->member) ||
                            !field_ok(r->error, m->error))
                                continue;
                        if (r->interface && (!m->interface ? r->allow : !!strcmp(r->interface, m->interface)))
                                continue;
                        if (m->n_fds < r->min_fds || m->n_fds > r->max_fds)
                                continue;
                        if (!naive_name(r, names, n, send ? m->destination : m->sender))
                                continue;
                        allow = r->allow;
                }
        }
        return allow;
}

static bool naive_own(const struct bus_config *c, const char *name, uint32_t uid, uint32_t gid, bool console)
{
        unsigned int context;
        bool allow = false;
        size_t i;

        for (context = POLICY_CONTEXT_DEFAULT; context <= POLICY_CONTEXT_MANDATORY; ++context)
                for (i = 0; i < c->n_rules; ++i)
                        if (c->rules[i].context == context && c->rules[i].kind == POLICY_RULE_OWN &&
                            naive_applies(&c->rules[i], uid, gid, console) &&
                            naive_name(&c->rules[i], &name, 1, NULL))
                                allow = c->rules[i].allow;
        return allow;
}

__attribute__((format(printf, 3, 4)))
static void append(char **buf, size_t *len, const char *fmt, ...)
{
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(*buf + *len, 65536 - *len, fmt, ap);
        va_end(ap);
        assert_true(n > 0 && *len + n < 65536);
        *len += n;
}

static void random_policy(char **buf, size_t *len)
{
        static const char *const policies[] = {
                "context=\"default\"", "context=\"mandatory\"", "user=\"1\"", "user=\"2\"",
                "group=\"1\"", "group=\"2\"", "at_console=\"true\"", "at_console=\"false\"",
        };
        static const char *const types[] = { "method_call", "method_return", "error", "signal", "*" };
        size_t p, i;

        append(buf, len, "<busconfig><listen>x</listen>");
        for (p = 0; p < 6; ++p) {
                append(buf, len, "<policy %s>", policies[rnd(8)]);
                for (i = 0; i < 1 + rnd(8); ++i) {
                        const char *el = rnd(2) ? "allow" : "deny";
                        const char *name = rnd_pick(rnd_names, 10, false);

                        switch (rnd(4)) {
                        case 3: {
                                /* a rule for every name and message: the checks' shortcut (open rule) */
                                const char *kind = rnd(2) ? "send" : "receive";

                                append(buf, len, "<%s %s=\"*\"", el,
                                       kind[0] == 's' ? "send_destination" : "receive_sender");
                                if (rnd(2))
                                        append(buf, len, " eavesdrop=\"%s\"", rnd(2) ? "true" : "false");
                                if (!rnd(3))
                                        append(buf, len, " %s_requested_reply=\"%s\"", kind, rnd(2) ? "true" : "false");
                                append(buf, len, "/>");
                                break;
                        }
                        case 0:
                                append(buf, len, "<%s %s=\"%s\"/>", el, rnd(2) ? "own" : "own_prefix",
                                       rnd(5) ? name : "*");
                                break;
                        case 1:
                                append(buf, len, "<%s", el);
                                if (rnd(2))
                                        append(buf, len, " send_destination%s=\"%s\"", rnd(2) ? "_prefix" : "", name);
                                else
                                        append(buf, len, " send_type=\"%s\"", types[rnd(5)]);
                                if (!rnd(3))
                                        append(buf, len, " send_interface=\"%s\"", rnd_pick(rnd_words, 2, false));
                                if (!rnd(3))
                                        append(buf, len, " send_path=\"%s\"", rnd_words[2 + rnd(2)]);
                                if (!rnd(4))
                                        append(buf, len, " send_requested_reply=\"%s\"", rnd(2) ? "true" : "false");
                                if (!rnd(4))
                                        append(buf, len, " eavesdrop=\"%s\"", rnd(2) ? "true" : "false");
                                if (!rnd(5))
                                        append(buf, len, " send_broadcast=\"false\"");
                                if (!rnd(5))
                                        append(buf, len, " max_fds=\"%u\"", rnd(2));
                                append(buf, len, "/>");
                                break;
                        default:
                                append(buf, len, "<%s receive_sender=\"%s\"", el, rnd(4) ? name : "*");
                                if (!rnd(3))
                                        append(buf, len, " receive_type=\"%s\"", types[rnd(5)]);
                                if (!rnd(3))
                                        append(buf, len, " receive_interface=\"%s\"", rnd_pick(rnd_words, 2, false));
                                if (!rnd(3))
                                        append(buf, len, " eavesdrop=\"%s\"", rnd(2) ? "true" : "false");
                                if (!rnd(4))
                                        append(buf, len, " receive_requested_reply=\"%s\"", rnd(2) ? "true" : "false");
                                if (!rnd(5))
                                        append(buf, len, " min_fds=\"1\"");
                                append(buf, len, "/>");
                                break;
                        }
                }
                append(buf, len, "</policy>");
        }
        append(buf, len, "</busconfig>");
}

static void test_random_cross_check(void **state)
{
        size_t round, q, n_checks = 0, n_user = 0, n_group = 0, k;

        for (round = 0; round < 200; ++round) {
                char *buf = calloc(1, 65536), *err = NULL;
                struct bus_config *c = NULL;
                struct policy_db *db = NULL;
                size_t len = 0;

                assert_non_null(buf);
                random_policy(&buf, &len);
                if (bus_config_parse(&c, buf, len, "/r.conf", NULL, &err))
                        fail_msg("%s\n%s", err, buf);
                assert_int_equal(policy_db_new(&db, c), 0);
                for (k = 0; k < c->n_rules; ++k) {
                        n_user += c->rules[k].context == POLICY_CONTEXT_USER;
                        n_group += c->rules[k].context == POLICY_CONTEXT_GROUP;
                }

                for (q = 0; q < 200; ++q) {
                        static const uint8_t types[] = { POLICY_TYPE_METHOD_CALL, POLICY_TYPE_METHOD_RETURN,
                                                         POLICY_TYPE_ERROR, POLICY_TYPE_SIGNAL };
                        uint32_t uid = rnd(3), gid = 1 + rnd(2);
                        bool console = rnd(2), requested = rnd(2), eavesdropping = rnd(2);
                        const char *names[3];
                        size_t n_names = rnd(4), i;
                        struct policy_message m = {};
                        struct policy_snapshot s;
                        struct policy_verdict v;
                        bool driver = n_names == 0 && rnd(2);

                        for (i = 0; i < n_names; ++i)
                                names[i] = rnd_pick(rnd_names, 10, false);
                        m.type = types[rnd(4)];
                        m.is_reply = m.type == POLICY_TYPE_METHOD_RETURN || m.type == POLICY_TYPE_ERROR;
                        m.interface = rnd_pick(rnd_words, 2, true);
                        m.path = rnd(3) ? rnd_words[2 + rnd(2)] : NULL;
                        m.destination = rnd_pick(rnd_names, 10, true);
                        m.sender = rnd_pick(rnd_names, 10, true);
                        m.n_fds = rnd(3);

                        assert_int_equal(policy_snapshot_init(&s, db, uid, &gid, 1, console), 0);
                        policy_snapshot_check_send(&s, &m, driver ? NULL : names, n_names, requested, &v);
                        if (v.allow != naive_message(c, true, &m, driver ? NULL : names, n_names, requested,
                                                     false, uid, gid, console))
                                fail_msg("send mismatch, round %zu query %zu\n%s", round, q, buf);
                        policy_snapshot_check_receive(&s, &m, driver ? NULL : names, n_names, requested,
                                                      eavesdropping, &v);
                        if (v.allow != naive_message(c, false, &m, driver ? NULL : names, n_names, requested,
                                                     eavesdropping, uid, gid, console))
                                fail_msg("receive mismatch, round %zu query %zu\n%s", round, q, buf);
                        for (i = 0; i < 10; ++i) {
                                policy_snapshot_check_own(&s, rnd_names[i], &v);
                                if (v.allow != naive_own(c, rnd_names[i], uid, gid, console))
                                        fail_msg("own %s mismatch, round %zu\n%s", rnd_names[i], round, buf);
                        }
                        policy_snapshot_deinit(&s);
                        n_checks += 12;
                }
                policy_db_unref(db);
                bus_config_free(c);
                free(buf);
        }
        assert_true(n_checks >= 400000);
        /* the user/group policies were honoured, not dropped as unknown */
        assert_true(n_user > 100);
        assert_true(n_group > 100);
}

static void test_console(void **state)
{
        char dir[] = "/tmp/bus1-test-console-XXXXXX", path[64];
        FILE *f;

        assert_non_null(mkdtemp(dir));
        assert_false(policy_console_user_is_at_console(dir, 0));
        snprintf(path, sizeof(path), "%s/root", dir);
        f = fopen(path, "w");
        assert_non_null(f);
        fclose(f);
        assert_true(policy_console_user_is_at_console(dir, 0));
        assert_false(policy_console_user_is_at_console(dir, 1));
        assert_false(policy_console_user_is_at_console(dir, 3999999999u));     /* no such user */
        assert_false(policy_console_user_is_at_console("/nonexistent", 0));
        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table_system_like),
                cmocka_unit_test(test_table_session_like),
                cmocka_unit_test(test_table_empty),
                cmocka_unit_test(test_destination_prefix_corpus),
                cmocka_unit_test(test_refcount_and_snapshot),
                cmocka_unit_test(test_random_cross_check),
                cmocka_unit_test(test_console),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
