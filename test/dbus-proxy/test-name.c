/*
 * Unit tests of dbus-proxy/name.[ch]: the RequestName table of the D-Bus
 * specification for every flag combination (with the requester new and
 * already queued), queue promotion on release and disconnect, replacement,
 * queue jumping with REPLACE_EXISTING, the order of change reports, invalid
 * names, and a randomized test of many owners and names against a simple
 * array-based reference model of dbus-daemon's algorithm.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dbus-proxy/name.h"

#define AR NAME_FLAG_ALLOW_REPLACEMENT
#define RE NAME_FLAG_REPLACE_EXISTING
#define DNQ NAME_FLAG_DO_NOT_QUEUE

struct conn {
        struct name_owner owner;
        int id;
};

static struct name_registry reg;
static struct name_changes changes;
static struct conn conns[16];

static int setup(void **state)
{
        name_registry_init(&reg);
        name_changes_init(&changes);
        for (size_t i = 0; i < sizeof(conns) / sizeof(*conns); ++i) {
                name_owner_init(&conns[i].owner);
                conns[i].id = (int)i;
        }
        return 0;
}

static int teardown(void **state)
{
        for (size_t i = 0; i < sizeof(conns) / sizeof(*conns); ++i) {
                assert_int_equal(name_registry_release_all(&reg, &conns[i].owner, &changes), 0);
                name_owner_deinit(&conns[i].owner);
        }
        name_changes_clear(&changes);
        assert_int_equal(reg.n_entries, 0);
        name_registry_deinit(&reg);
        return 0;
}

static struct name_owner *O(int i)
{
        return &conns[i].owner;
}

static int id_of(const struct name_owner *o)
{
        return o ? ((const struct conn *)(const void *)((const char *)o - offsetof(struct conn, owner)))->id : -1;
}

/* Assert that the queue of @name is exactly @ids (primary first), -1 ends. */
static void assert_queue(const char *name, const int *ids)
{
        struct name_entry *e = name_registry_find(&reg, name);
        struct name_ownership *o;
        size_t i = 0;

        if (ids[0] < 0) {
                assert_null(e);
                assert_null(name_registry_lookup(&reg, name));
                return;
        }
        assert_non_null(e);
        assert_ptr_equal(name_registry_lookup(&reg, name), O(ids[0]));
        name_entry_for_each_ownership(o, e) {
                assert_true(ids[i] >= 0);
                assert_int_equal(id_of(o->owner), ids[i]);
                assert_ptr_equal(o->entry, e);
                ++i;
        }
        assert_int_equal(ids[i], -1);
        assert_int_equal(e->n_queue, i);
}

#define QUEUE(_name, ...) assert_queue((_name), (const int[]){ __VA_ARGS__, -1 })
#define NOBODY(_name) assert_queue((_name), (const int[]){ -1 })

/* Assert that change @i is (@name, @old, @new) (ids; -1 for none). */
static void assert_change(size_t i, const char *name, int old_id, int new_id)
{
        assert_true(i < changes.n_changes);
        assert_string_equal(name_change_name(&changes.changes[i]), name);
        assert_int_equal(id_of(changes.changes[i].old_owner), old_id);
        assert_int_equal(id_of(changes.changes[i].new_owner), new_id);
}

static void test_basic(void **state)
{
        struct name_entry *e;

        NOBODY("org.a.b");
        assert_int_equal(name_registry_request(&reg, O(1), "org.a.b", 0, &changes), NAME_E_PRIMARY_OWNER);
        assert_int_equal(changes.n_changes, 1);
        assert_change(0, "org.a.b", -1, 1);
        QUEUE("org.a.b", 1);
        assert_int_equal(O(1)->n_ownerships, 1);

        assert_int_equal(name_registry_request(&reg, O(1), "org.a.b", 0, &changes), NAME_E_ALREADY_OWNER);
        assert_int_equal(changes.n_changes, 1);

        assert_int_equal(name_registry_release(&reg, O(2), "org.a.b", &changes), NAME_E_NOT_OWNER);
        assert_int_equal(name_registry_release(&reg, O(2), "org.a.c", &changes), NAME_E_NON_EXISTENT);
        assert_int_equal(changes.n_changes, 1);

        assert_int_equal(name_registry_release(&reg, O(1), "org.a.b", &changes), NAME_E_RELEASED);
        assert_int_equal(changes.n_changes, 2);
        assert_change(1, "org.a.b", 1, -1);
        NOBODY("org.a.b");
        assert_int_equal(reg.n_entries, 0);
        assert_int_equal(O(1)->n_ownerships, 0);
        /* the change keeps the vanished name readable */
        assert_string_equal(name_change_name(&changes.changes[0]), "org.a.b");
        name_changes_clear(&changes);
        assert_int_equal(changes.n_changes, 0);

        /* listing is sorted */
        assert_int_equal(name_registry_request(&reg, O(1), "org.z", 0, &changes), NAME_E_PRIMARY_OWNER);
        assert_int_equal(name_registry_request(&reg, O(2), "org.b", 0, &changes), NAME_E_PRIMARY_OWNER);
        assert_int_equal(name_registry_request(&reg, O(3), "org.m", 0, &changes), NAME_E_PRIMARY_OWNER);
        assert_int_equal(name_registry_request(&reg, O(3), "org.z", 0, &changes), NAME_E_IN_QUEUE);
        e = name_registry_first(&reg);
        assert_string_equal(e->name, "org.b");
        e = name_entry_next(e);
        assert_string_equal(e->name, "org.m");
        e = name_entry_next(e);
        assert_string_equal(e->name, "org.z");
        assert_null(name_entry_next(e));
        assert_int_equal(reg.n_entries, 3);
}

static void test_invalid(void **state)
{
        static const char *const invalid[] = {
                "", "org", ".org.a", "org.a.", "org..a", "org.1a", "org.a b", "org.a/b",
                "org.a\xc3\xa4", ":1.", ":1..2", "-", "a.b.",
        };
        char longname[300];

        for (size_t i = 0; i < sizeof(invalid) / sizeof(*invalid); ++i) {
                assert_int_equal(name_registry_request(&reg, O(1), invalid[i], 0, &changes), NAME_E_INVALID);
                assert_int_equal(name_registry_release(&reg, O(1), invalid[i], &changes), NAME_E_INVALID);
        }
        /* libdbus's unique-name syntax is lax: these are unique names, not invalid */
        assert_int_equal(name_registry_request(&reg, O(1), ":", 0, &changes), NAME_E_UNIQUE);
        assert_int_equal(name_registry_request(&reg, O(1), ":.1", 0, &changes), NAME_E_UNIQUE);
        assert_int_equal(name_registry_request(&reg, O(1), ":-.x", 0, &changes), NAME_E_UNIQUE);
        assert_int_equal(name_registry_request(&reg, O(1), ":1.5", 0, &changes), NAME_E_UNIQUE);
        assert_int_equal(name_registry_release(&reg, O(1), ":1.5", &changes), NAME_E_UNIQUE);
        assert_int_equal(name_registry_request(&reg, O(1), "org.freedesktop.DBus", 0, &changes), NAME_E_RESERVED);
        assert_int_equal(name_registry_release(&reg, O(1), "org.freedesktop.DBus", &changes), NAME_E_RESERVED);

        /* 255 bytes is the limit */
        memset(longname, 'a', sizeof(longname));
        longname[1] = '.';
        longname[255] = '\0';
        assert_int_equal(name_registry_request(&reg, O(1), longname, 0, &changes), NAME_E_PRIMARY_OWNER);
        longname[255] = 'a';
        longname[256] = '\0';
        assert_int_equal(name_registry_request(&reg, O(1), longname, 0, &changes), NAME_E_INVALID);

        /* valid oddities: dashes, underscores, digits after the first char */
        assert_int_equal(name_registry_request(&reg, O(1), "a-b._c9.d-", 0, &changes), NAME_E_PRIMARY_OWNER);
        assert_int_equal(changes.n_changes, 2);
        assert_int_equal(reg.n_entries, 2);
        assert_int_equal(O(1)->n_ownerships, 2);
}

/*
 * The RequestName table: primary owner 1 holds the name with flags @pf,
 * owner 3 waits in the queue; owner 2 requests with flags @rf, either as a
 * newcomer or (if @queued) waiting between 1 and 3 already.
 */
static void check_request_case(unsigned int pf, unsigned int rf, bool queued)
{
        bool can_replace = (rf & RE) && (pf & AR);
        struct name_ownership *o;
        int r;

        name_changes_clear(&changes);
        assert_int_equal(name_registry_request(&reg, O(1), "com.x", pf, &changes), NAME_E_PRIMARY_OWNER);
        if (queued)
                assert_int_equal(name_registry_request(&reg, O(2), "com.x", 0, &changes), NAME_E_IN_QUEUE);
        assert_int_equal(name_registry_request(&reg, O(3), "com.x", 0, &changes), NAME_E_IN_QUEUE);
        name_changes_clear(&changes);

        r = name_registry_request(&reg, O(2), "com.x", rf, &changes);
        if (can_replace) {
                assert_int_equal(r, NAME_E_PRIMARY_OWNER);
                assert_int_equal(changes.n_changes, 1);
                assert_change(0, "com.x", 1, 2);
                if (pf & DNQ) {
                        QUEUE("com.x", 2, 3);
                        assert_int_equal(O(1)->n_ownerships, 0);
                } else {
                        QUEUE("com.x", 2, 1, 3);
                }
        } else if (rf & DNQ) {
                assert_int_equal(r, NAME_E_EXISTS);
                assert_int_equal(changes.n_changes, 0);
                QUEUE("com.x", 1, 3);
                assert_int_equal(O(2)->n_ownerships, 0);
        } else {
                assert_int_equal(r, NAME_E_IN_QUEUE);
                assert_int_equal(changes.n_changes, 0);
                if (rf & RE) /* jumps the queue */
                        QUEUE("com.x", 1, 2, 3);
                else if (queued) /* keeps its place */
                        QUEUE("com.x", 1, 2, 3);
                else
                        QUEUE("com.x", 1, 3, 2);
        }

        /* the requester's flags are recorded when it stays in the queue */
        o = NULL;
        if (name_registry_find(&reg, "com.x"))
                name_entry_for_each_ownership(o, name_registry_find(&reg, "com.x"))
                        if (o->owner == O(2))
                                break;
        if (o && &o->entry_link != &name_registry_find(&reg, "com.x")->queue)
                assert_int_equal(o->flags, rf & (AR | DNQ));

        for (int i = 1; i <= 3; ++i)
                assert_int_equal(name_registry_release_all(&reg, O(i), &changes), 0);
        NOBODY("com.x");
        name_changes_clear(&changes);
}

static void test_request_table(void **state)
{
        for (unsigned int pf = 0; pf < 8; ++pf)
                for (unsigned int rf = 0; rf < 8; ++rf) {
                        check_request_case(pf, rf, false);
                        check_request_case(pf, rf, true);
                }
}

static void test_already_owner_updates_flags(void **state)
{
        assert_int_equal(name_registry_request(&reg, O(1), "com.x", 0, &changes), NAME_E_PRIMARY_OWNER);
        /* not replaceable yet */
        assert_int_equal(name_registry_request(&reg, O(2), "com.x", RE | DNQ, &changes), NAME_E_EXISTS);
        /* primary owner now allows replacement: flags are replaced, not or'ed */
        assert_int_equal(name_registry_request(&reg, O(1), "com.x", AR, &changes), NAME_E_ALREADY_OWNER);
        assert_int_equal(name_entry_primary(name_registry_find(&reg, "com.x"))->flags, AR);
        assert_int_equal(name_registry_request(&reg, O(1), "com.x", RE, &changes), NAME_E_ALREADY_OWNER);
        assert_int_equal(name_entry_primary(name_registry_find(&reg, "com.x"))->flags, 0);
        assert_int_equal(name_registry_request(&reg, O(2), "com.x", RE | DNQ, &changes), NAME_E_EXISTS);
        assert_int_equal(name_registry_request(&reg, O(1), "com.x", AR | RE, &changes), NAME_E_ALREADY_OWNER);
        assert_int_equal(name_registry_request(&reg, O(2), "com.x", RE | DNQ, &changes), NAME_E_PRIMARY_OWNER);
        /* 1 did not ask for DO_NOT_QUEUE: it waits behind 2 */
        QUEUE("com.x", 2, 1);
        /* unknown flag bits are ignored */
        assert_int_equal(name_registry_request(&reg, O(2), "com.x", 0xfff8 | AR, &changes), NAME_E_ALREADY_OWNER);
        assert_int_equal(name_entry_primary(name_registry_find(&reg, "com.x"))->flags, AR);
        assert_int_equal(name_registry_request(&reg, O(1), "com.x", RE, &changes), NAME_E_PRIMARY_OWNER);
        QUEUE("com.x", 1, 2);
        assert_int_equal(changes.n_changes, 3);
        assert_change(0, "com.x", -1, 1);
        assert_change(1, "com.x", 1, 2);
        assert_change(2, "com.x", 2, 1);
}

static void test_promotion(void **state)
{
        for (int i = 1; i <= 4; ++i)
                assert_int_equal(name_registry_request(&reg, O(i), "com.x", 0, &changes),
                                 i == 1 ? NAME_E_PRIMARY_OWNER : NAME_E_IN_QUEUE);
        QUEUE("com.x", 1, 2, 3, 4);
        name_changes_clear(&changes);

        /* a waiting owner leaves silently */
        assert_int_equal(name_registry_release(&reg, O(3), "com.x", &changes), NAME_E_RELEASED);
        assert_int_equal(changes.n_changes, 0);
        QUEUE("com.x", 1, 2, 4);
        assert_int_equal(name_registry_release(&reg, O(3), "com.x", &changes), NAME_E_NOT_OWNER);

        /* the primary owner leaves: the next takes over */
        assert_int_equal(name_registry_release(&reg, O(1), "com.x", &changes), NAME_E_RELEASED);
        assert_int_equal(changes.n_changes, 1);
        assert_change(0, "com.x", 1, 2);
        QUEUE("com.x", 2, 4);

        /* disconnect of the primary owner */
        assert_int_equal(name_registry_release_all(&reg, O(2), &changes), 0);
        assert_change(1, "com.x", 2, 4);
        QUEUE("com.x", 4);
        assert_int_equal(name_registry_release_all(&reg, O(4), &changes), 0);
        assert_change(2, "com.x", 4, -1);
        assert_int_equal(changes.n_changes, 3);
        NOBODY("com.x");

        /* DO_NOT_QUEUE on the primary owner: replaced means gone */
        assert_int_equal(name_registry_request(&reg, O(1), "com.y", AR | DNQ, &changes), NAME_E_PRIMARY_OWNER);
        assert_int_equal(name_registry_request(&reg, O(2), "com.y", RE, &changes), NAME_E_PRIMARY_OWNER);
        QUEUE("com.y", 2);
        assert_int_equal(O(1)->n_ownerships, 0);
        /* without ALLOW_REPLACEMENT, REPLACE_EXISTING only queues (first in line) */
        assert_int_equal(name_registry_request(&reg, O(3), "com.y", 0, &changes), NAME_E_IN_QUEUE);
        assert_int_equal(name_registry_request(&reg, O(4), "com.y", RE, &changes), NAME_E_IN_QUEUE);
        QUEUE("com.y", 2, 4, 3);
        /* a second request without REPLACE_EXISTING keeps the place */
        assert_int_equal(name_registry_request(&reg, O(4), "com.y", 0, &changes), NAME_E_IN_QUEUE);
        QUEUE("com.y", 2, 4, 3);
        /* a waiting owner asking DO_NOT_QUEUE leaves the queue */
        assert_int_equal(name_registry_request(&reg, O(4), "com.y", DNQ, &changes), NAME_E_EXISTS);
        QUEUE("com.y", 2, 3);
}

static void test_release_all_order(void **state)
{
        /* 1 creates ownerships in the order a, b, c, d; releases in d, c, b, a */
        assert_int_equal(name_registry_request(&reg, O(1), "n.a", 0, &changes), NAME_E_PRIMARY_OWNER);
        assert_int_equal(name_registry_request(&reg, O(2), "n.b", 0, &changes), NAME_E_PRIMARY_OWNER);
        assert_int_equal(name_registry_request(&reg, O(1), "n.b", 0, &changes), NAME_E_IN_QUEUE);
        assert_int_equal(name_registry_request(&reg, O(1), "n.c", 0, &changes), NAME_E_PRIMARY_OWNER);
        assert_int_equal(name_registry_request(&reg, O(3), "n.c", 0, &changes), NAME_E_IN_QUEUE);
        assert_int_equal(name_registry_request(&reg, O(1), "n.d", 0, &changes), NAME_E_PRIMARY_OWNER);
        /* re-requesting does not move n.a to the end */
        assert_int_equal(name_registry_request(&reg, O(1), "n.a", AR, &changes), NAME_E_ALREADY_OWNER);
        assert_int_equal(O(1)->n_ownerships, 4);
        name_changes_clear(&changes);

        assert_int_equal(name_registry_release_all(&reg, O(1), &changes), 0);
        assert_int_equal(changes.n_changes, 3); /* waiting on n.b: no change */
        assert_change(0, "n.d", 1, -1);
        assert_change(1, "n.c", 1, 3);
        assert_change(2, "n.a", 1, -1);
        QUEUE("n.b", 2);
        QUEUE("n.c", 3);
        NOBODY("n.a");
        NOBODY("n.d");
        assert_int_equal(O(1)->n_ownerships, 0);

        /* primary names, oldest ownership first, waiting ones left out */
        {
                const char *names[4];

                assert_int_equal(name_registry_request(&reg, O(5), "n.x", 0, &changes), NAME_E_PRIMARY_OWNER);
                assert_int_equal(name_registry_request(&reg, O(5), "n.b", 0, &changes), NAME_E_IN_QUEUE);
                assert_int_equal(name_registry_request(&reg, O(5), "n.a", 0, &changes), NAME_E_PRIMARY_OWNER);
                assert_int_equal(name_owner_primary_names(O(5), names, 4), 2);
                assert_string_equal(names[0], "n.x");
                assert_string_equal(names[1], "n.a");
                names[1] = NULL;
                assert_int_equal(name_owner_primary_names(O(5), names, 1), 2);
                assert_null(names[1]);
                assert_int_equal(name_owner_primary_names(O(6), names, 4), 0);
                assert_int_equal(name_registry_release_all(&reg, O(5), &changes), 0);
                assert_int_equal(name_owner_primary_names(O(5), names, 4), 0);
        }

        /* an owner that was dropped from a queue and re-added goes to the end */
        name_changes_clear(&changes);
        assert_int_equal(name_registry_request(&reg, O(4), "n.b", 0, &changes), NAME_E_IN_QUEUE);
        assert_int_equal(name_registry_request(&reg, O(4), "n.c", 0, &changes), NAME_E_IN_QUEUE);
        assert_int_equal(name_registry_request(&reg, O(4), "n.b", DNQ, &changes), NAME_E_EXISTS);
        assert_int_equal(name_registry_request(&reg, O(4), "n.b", 0, &changes), NAME_E_IN_QUEUE);
        assert_int_equal(name_registry_release(&reg, O(2), "n.b", &changes), NAME_E_RELEASED);
        assert_int_equal(name_registry_release(&reg, O(3), "n.c", &changes), NAME_E_RELEASED);
        name_changes_clear(&changes);
        assert_int_equal(name_registry_release_all(&reg, O(4), &changes), 0);
        assert_int_equal(changes.n_changes, 2);
        assert_change(0, "n.b", 4, -1);
        assert_change(1, "n.c", 4, -1);
}

/*
 * Reference model: per name an array queue of (owner, flags); per
 * (owner, name) the sequence number of the ownership's creation, which
 * orders release_all. Written from the RequestName description, with arrays.
 */
#define M_NAMES 12
#define M_OWNERS 9

struct m_slot {
        int owner;
        unsigned int flags;
};

struct m_change {
        int name, old_owner, new_owner;
};

static struct m_slot m_queue[M_NAMES][M_OWNERS];
static int m_len[M_NAMES];
static unsigned long m_seq[M_OWNERS][M_NAMES]; /* 0: none */
static unsigned long m_counter;
static struct m_change m_changes[M_NAMES];
static int m_n_changes;

static int m_find(int n, int owner)
{
        for (int i = 0; i < m_len[n]; ++i)
                if (m_queue[n][i].owner == owner)
                        return i;
        return -1;
}

static void m_remove_at(int n, int i)
{
        m_seq[m_queue[n][i].owner][n] = 0;
        memmove(&m_queue[n][i], &m_queue[n][i + 1], (size_t)(m_len[n] - i - 1) * sizeof(m_queue[n][0]));
        --m_len[n];
}

static void m_change(int n, int old_owner, int new_owner)
{
        m_changes[m_n_changes++] = (struct m_change){ n, old_owner, new_owner };
}

static int m_request(int n, int owner, unsigned int f)
{
        unsigned int keep = f & (AR | DNQ);
        bool can_replace;
        int i;

        if (m_len[n] == 0) {
                m_queue[n][0] = (struct m_slot){ owner, keep };
                m_len[n] = 1;
                m_seq[owner][n] = ++m_counter;
                m_change(n, -1, owner);
                return NAME_E_PRIMARY_OWNER;
        }
        if (m_queue[n][0].owner == owner) {
                m_queue[n][0].flags = keep;
                return NAME_E_ALREADY_OWNER;
        }
        can_replace = (f & RE) && (m_queue[n][0].flags & AR);
        i = m_find(n, owner);
        if ((f & DNQ) && !can_replace) {
                if (i >= 0)
                        m_remove_at(n, i);
                return NAME_E_EXISTS;
        }
        if (i < 0) {
                i = m_len[n]++;
                m_queue[n][i] = (struct m_slot){ owner, keep };
                m_seq[owner][n] = ++m_counter;
        } else {
                m_queue[n][i].flags = keep;
        }
        if (f & RE) {
                struct m_slot s = m_queue[n][i];

                memmove(&m_queue[n][2], &m_queue[n][1], (size_t)(i - 1) * sizeof(s));
                m_queue[n][1] = s;
        }
        if (!can_replace)
                return NAME_E_IN_QUEUE;
        m_change(n, m_queue[n][0].owner, owner);
        if (m_queue[n][0].flags & DNQ) {
                m_remove_at(n, 0);
        } else {
                struct m_slot s = m_queue[n][0];

                m_queue[n][0] = m_queue[n][1];
                m_queue[n][1] = s;
        }
        return NAME_E_PRIMARY_OWNER;
}

static int m_release(int n, int owner)
{
        int i;

        if (m_len[n] == 0)
                return NAME_E_NON_EXISTENT;
        i = m_find(n, owner);
        if (i < 0)
                return NAME_E_NOT_OWNER;
        if (i == 0)
                m_change(n, owner, m_len[n] > 1 ? m_queue[n][1].owner : -1);
        m_remove_at(n, i);
        return NAME_E_RELEASED;
}

static void m_release_all(int owner)
{
        for (;;) {
                unsigned long best = 0;
                int bn = -1;

                for (int n = 0; n < M_NAMES; ++n)
                        if (m_seq[owner][n] > best) {
                                best = m_seq[owner][n];
                                bn = n;
                        }
                if (bn < 0)
                        return;
                m_release(bn, owner);
        }
}

static char m_names[M_NAMES][32];

static void m_check_state(void)
{
        size_t n_names = 0;

        for (int n = 0; n < M_NAMES; ++n) {
                int ids[M_OWNERS + 1];

                for (int i = 0; i < m_len[n]; ++i)
                        ids[i] = m_queue[n][i].owner;
                ids[m_len[n]] = -1;
                assert_queue(m_names[n], ids);
                if (m_len[n]) {
                        ++n_names;
                        for (int i = 0; i < m_len[n]; ++i) {
                                struct name_ownership *o;

                                name_entry_for_each_ownership(o, name_registry_find(&reg, m_names[n]))
                                        if (o->owner == O(m_queue[n][i].owner))
                                                assert_int_equal(o->flags, m_queue[n][i].flags);
                        }
                }
        }
        assert_int_equal(reg.n_entries, n_names);

        /* per-owner lists: exactly the model's ownerships, by creation order */
        for (int w = 0; w < M_OWNERS; ++w) {
                struct name_ownership *o;
                unsigned long last = 0;
                size_t count = 0, expected = 0;

                for (int n = 0; n < M_NAMES; ++n)
                        expected += m_seq[w][n] != 0;
                name_owner_for_each_ownership(o, O(w)) {
                        int n = atoi(o->entry->name + strlen("org.model.n"));

                        assert_true(m_seq[w][n] > last);
                        last = m_seq[w][n];
                        ++count;
                }
                assert_int_equal(count, expected);
                assert_int_equal(O(w)->n_ownerships, expected);
        }
}

static void m_check_changes(void)
{
        assert_int_equal(changes.n_changes, m_n_changes);
        for (int i = 0; i < m_n_changes; ++i)
                assert_change((size_t)i, m_names[m_changes[i].name], m_changes[i].old_owner, m_changes[i].new_owner);
}

static void test_random_model(void **state)
{
        unsigned int seed = 0x5eed;

        memset(m_len, 0, sizeof(m_len));
        memset(m_seq, 0, sizeof(m_seq));
        m_counter = 0;
        for (int n = 0; n < M_NAMES; ++n)
                snprintf(m_names[n], sizeof(m_names[n]), "org.model.n%d", n);

        for (int step = 0; step < 200000; ++step) {
                int op = rand_r(&seed) % 100;
                int n = rand_r(&seed) % M_NAMES;
                int w = rand_r(&seed) % M_OWNERS;
                int expected, r;

                name_changes_clear(&changes);
                m_n_changes = 0;
                if (op < 70) {
                        unsigned int f = (unsigned int)rand_r(&seed) % 8;

                        if (rand_r(&seed) % 16 == 0)
                                f |= 0x100; /* ignored bit */
                        expected = m_request(n, w, f);
                        r = name_registry_request(&reg, O(w), m_names[n], f, &changes);
                        assert_int_equal(r, expected);
                } else if (op < 95) {
                        expected = m_release(n, w);
                        r = name_registry_release(&reg, O(w), m_names[n], &changes);
                        assert_int_equal(r, expected);
                } else {
                        m_release_all(w);
                        assert_int_equal(name_registry_release_all(&reg, O(w), &changes), 0);
                }
                m_check_changes();
                if (step % 16 == 0 || step < 2000)
                        m_check_state();
        }
        m_check_state();
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
                cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
                cmocka_unit_test_setup_teardown(test_request_table, setup, teardown),
                cmocka_unit_test_setup_teardown(test_already_owner_updates_flags, setup, teardown),
                cmocka_unit_test_setup_teardown(test_promotion, setup, teardown),
                cmocka_unit_test_setup_teardown(test_release_all_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_random_model, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
