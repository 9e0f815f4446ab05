/*
 * Allocation failure paths of dbus-proxy/name.c and dbus-proxy/match.c.
 *
 * The test links with -Wl,--wrap=malloc/calloc/realloc, which redirects the
 * allocations of dbus-proxy/libbus.la (linked in as an archive) to the
 * wrappers below; they fail the n-th allocation on request. Every operation
 * is run with its 1st, 2nd, ... allocation failing until it succeeds, and
 * each failure must return -ENOMEM and leave everything exactly as it was
 * (ASan's leak checker sees leaks of the failure paths).
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

#include "dbus-proxy/match.h"
#include "dbus-proxy/name.h"

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

/* < 0: never fail; otherwise the number of allocations still allowed */
static long fail_after = -1;
static unsigned long n_failed;

static bool should_fail(void)
{
        if (fail_after < 0)
                return false;
        if (fail_after == 0) {
                ++n_failed;
                return true;
        }
        --fail_after;
        return false;
}

void *__wrap_malloc(size_t size)
{
        return should_fail() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
        return should_fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
        return should_fail() ? NULL : __real_realloc(p, size);
}

/*
 * Names
 */

#define N_OWNERS 4

static struct name_registry reg;
static struct name_owner owners[N_OWNERS];
static struct name_changes changes;

/* Everything observable about the registry, as text. */
static void name_dump(char *buf, size_t size)
{
        struct name_entry *e;
        size_t n = 0;

        buf[0] = '\0';
        for (e = name_registry_first(&reg); e; e = name_entry_next(e)) {
                struct name_ownership *o;

                n += (size_t)snprintf(buf + n, size - n, "%s:", e->name);
                name_entry_for_each_ownership(o, e)
                        n += (size_t)snprintf(buf + n, size - n, " %d/%u", (int)(o->owner - owners), o->flags);
                n += (size_t)snprintf(buf + n, size - n, "\n");
        }
        for (int i = 0; i < N_OWNERS; ++i) {
                struct name_ownership *o;

                n += (size_t)snprintf(buf + n, size - n, "owner %d (%zu):", i, owners[i].n_ownerships);
                name_owner_for_each_ownership(o, &owners[i])
                        n += (size_t)snprintf(buf + n, size - n, " %s", o->entry->name);
                n += (size_t)snprintf(buf + n, size - n, "\n");
        }
        n += (size_t)snprintf(buf + n, size - n, "changes %zu\n", changes.n_changes);
        assert_true(n < size);
}

enum { OP_REQUEST, OP_RELEASE, OP_RELEASE_ALL };

/* Run one operation with the k-th allocation failing, k = 0, 1, ... */
static void name_op_under_oom(int op, int owner, const char *name, unsigned int flags, int expected)
{
        char before[4096], after[4096];

        for (long k = 0;; ++k) {
                int r;

                name_dump(before, sizeof(before));
                n_failed = 0;
                fail_after = k;
                switch (op) {
                case OP_REQUEST:
                        r = name_registry_request(&reg, &owners[owner], name, flags, &changes);
                        break;
                case OP_RELEASE:
                        r = name_registry_release(&reg, &owners[owner], name, &changes);
                        break;
                default:
                        r = name_registry_release_all(&reg, &owners[owner], &changes);
                        break;
                }
                fail_after = -1;
                if (n_failed == 0) {
                        assert_int_equal(r, expected);
                        break;
                }
                assert_int_equal(r, -ENOMEM);
                name_dump(after, sizeof(after));
                assert_string_equal(before, after);
        }
}

static void test_name_oom(void **state)
{
        name_registry_init(&reg);
        name_changes_init(&changes);
        for (int i = 0; i < N_OWNERS; ++i)
                name_owner_init(&owners[i]);

        /* each with a fresh change list, so that its growth can fail */
        name_op_under_oom(OP_REQUEST, 0, "org.a", NAME_FLAG_ALLOW_REPLACEMENT, NAME_E_PRIMARY_OWNER);
        name_changes_clear(&changes);
        name_op_under_oom(OP_REQUEST, 1, "org.a", 0, NAME_E_IN_QUEUE);
        name_changes_clear(&changes);
        name_op_under_oom(OP_REQUEST, 2, "org.a", NAME_FLAG_REPLACE_EXISTING, NAME_E_PRIMARY_OWNER);
        name_changes_clear(&changes);
        name_op_under_oom(OP_REQUEST, 0, "org.b", 0, NAME_E_PRIMARY_OWNER);
        name_op_under_oom(OP_REQUEST, 3, "org.b", NAME_FLAG_DO_NOT_QUEUE, NAME_E_EXISTS);
        name_op_under_oom(OP_REQUEST, 0, "org.c", 0, NAME_E_PRIMARY_OWNER);
        name_changes_clear(&changes);
        name_op_under_oom(OP_RELEASE, 2, "org.a", 0, NAME_E_RELEASED);
        name_changes_clear(&changes);
        name_op_under_oom(OP_RELEASE_ALL, 0, NULL, 0, 0);
        assert_int_equal(owners[0].n_ownerships, 0);
        /* an allocation really failed in each step that allocates */
        name_changes_clear(&changes);
        n_failed = 0;
        fail_after = 0;
        assert_int_equal(name_registry_request(&reg, &owners[3], "org.d", 0, &changes), -ENOMEM);
        fail_after = -1;
        assert_int_equal(n_failed, 1);
        assert_null(name_registry_find(&reg, "org.d"));

        for (int i = 0; i < N_OWNERS; ++i) {
                assert_int_equal(name_registry_release_all(&reg, &owners[i], &changes), 0);
                name_owner_deinit(&owners[i]);
        }
        name_changes_clear(&changes);
        name_registry_deinit(&reg);
}

/*
 * Matches
 */

static int count_fn(struct match_owner *owner, void *userdata)
{
        ++*(int *)userdata;
        return 0;
}

static void test_match_oom(void **state)
{
        static const char *const texts[] = {
                "type='signal',sender='org.a',interface='org.b.C',member='M',path='/p',arg0='x',arg3path='/q/'",
                "member='M'",
                "path_namespace='/p'",
                "",
                "arg0namespace='org'",
        };
        struct match_registry mreg;
        struct match_owner owner;
        struct match_filter f;
        static const char *const names[] = { ":1.1", "org.a" };

        match_registry_init(&mreg);
        match_owner_init(&owner);
        memset(&f, 0, sizeof(f));
        f.type = MATCH_TYPE_SIGNAL;
        f.sender_names = names;
        f.n_sender_names = 2;
        f.interface = "org.b.C";
        f.member = "M";
        f.path = "/p";
        f.args[0].value = "x";
        f.args[3].value = "/q/r";

        for (size_t t = 0; t < sizeof(texts) / sizeof(*texts); ++t) {
                struct match_rule *rule;
                unsigned long parse_failures = 0;

                /* parsing */
                for (long k = 0;; ++k) {
                        int r;

                        rule = (struct match_rule *)(uintptr_t)0x1;
                        n_failed = 0;
                        fail_after = k;
                        r = match_rule_new(&rule, texts[t]);
                        fail_after = -1;
                        if (n_failed == 0) {
                                assert_int_equal(r, 0);
                                break;
                        }
                        assert_int_equal(r, -ENOMEM);
                        assert_ptr_equal(rule, (struct match_rule *)(uintptr_t)0x1); /* untouched */
                        ++parse_failures;
                }
                assert_true(parse_failures > 0);

                /* adding; the first add of a bucket may grow the table too */
                for (long k = 0;; ++k) {
                        size_t n_rules = mreg.n_rules;
                        int found = 0, r;

                        n_failed = 0;
                        fail_after = k;
                        r = match_registry_add(&mreg, &owner, rule);
                        fail_after = -1;
                        if (n_failed == 0) {
                                assert_int_equal(r, 0);
                                break;
                        }
                        assert_int_equal(r, -ENOMEM);
                        assert_int_equal(mreg.n_rules, n_rules);
                        assert_int_equal(owner.n_rules, n_rules);
                        assert_null(rule->owner);
                        assert_int_equal(match_registry_lookup(&mreg, &f, NULL, count_fn, &found), 0);
                        assert_int_equal(found, n_rules > 0);
                }
        }
        {
                int found = 0;

                assert_int_equal(match_registry_lookup(&mreg, &f, NULL, count_fn, &found), 0);
                assert_int_equal(found, 1);
        }

        /* normalised text: -ENOMEM or the text, never anything half */
        {
                struct match_rule *rule;
                char *s = NULL;

                assert_int_equal(match_rule_new(&rule, texts[0]), 0);
                assert_int_equal(match_rule_to_string(rule, &s), 0);
                assert_non_null(s);
                free(s);
                match_rule_free(rule);
        }

        match_registry_remove_all(&mreg, &owner);
        match_owner_deinit(&owner);
        match_registry_deinit(&mreg);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_name_oom),
                cmocka_unit_test(test_match_oom),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
