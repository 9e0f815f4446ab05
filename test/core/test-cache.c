/*
 * Tests of core/cache: reuse, zeroing, the size classes, a full cache,
 * accounting of live allocations, and concurrent use from several threads.
 */

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "core/internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define T_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_ASAN 1
#endif
#endif
#ifdef T_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define SIZE 96

static struct core_host *h;

static int setup(void **state)
{
        (void)state;
        assert_int_equal(core_host_new(&h), 0);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        assert_int_equal(host_alloc_live(h), 0);
        core_host_free(h);
        return 0;
}

/* A freed object comes back on the next allocation, zeroed up to the size asked. */
static void test_reuse_zeroed(void **state)
{
        struct core_cache c;
        unsigned char *p, *q;
        size_t i;

        (void)state;
        core_cache_init(&c, SIZE);
        p = core_cache_alloc(h, &c, 40);
        assert_non_null(p);
        for (i = 0; i < 40; ++i)
                assert_int_equal(p[i], 0);
        memset(p, 0xaa, 40);
        core_cache_free(h, &c, p, 40);
        assert_int_equal(host_alloc_live(h), 1);        /* parked, still a live allocation */
#ifdef T_ASAN
        /* a parked object is poisoned: a use after free is reported */
        assert_true(__asan_address_is_poisoned(p));
        assert_true(__asan_address_is_poisoned(p + SIZE - 1));
#endif
        q = core_cache_alloc(h, &c, 64);                /* any size within the class */
        assert_ptr_equal(q, p);
#ifdef T_ASAN
        assert_false(__asan_address_is_poisoned(q + SIZE - 1));
#endif
        for (i = 0; i < 64; ++i)
                assert_int_equal(q[i], 0);
        memset(q, 0x55, SIZE);                          /* the whole class is usable */
        core_cache_free(h, &c, q, 64);
        core_cache_deinit(h, &c);
        assert_int_equal(host_alloc_live(h), 0);
}

/* Objects above the class size are never cached. */
static void test_oversize(void **state)
{
        struct core_cache c;
        void *p, *q;

        (void)state;
        core_cache_init(&c, SIZE);
        p = core_cache_alloc(h, &c, SIZE + 1);
        assert_non_null(p);
        memset(p, 1, SIZE + 1);
        core_cache_free(h, &c, p, SIZE + 1);
        assert_int_equal(host_alloc_live(h), 0);
        q = core_cache_alloc(h, &c, SIZE);
        core_cache_free(h, &c, q, SIZE);
        assert_int_equal(host_alloc_live(h), 1);
        core_cache_free(h, &c, NULL, SIZE);             /* NULL is fine */
        core_cache_deinit(h, &c);
        assert_int_equal(host_alloc_live(h), 0);
}

/* A full cache frees the surplus; at most CORE_CACHE_MAX + 1 objects stay parked. */
#define N_KEPT (CORE_CACHE_MAX + 1)

static void test_full(void **state)
{
        void *p[N_KEPT + 5], *q[N_KEPT + 1];
        struct core_cache c;
        size_t i, j, n = N_KEPT + 5;

        (void)state;
        core_cache_init(&c, SIZE);
        for (i = 0; i < n; ++i)
                assert_non_null(p[i] = core_cache_alloc(h, &c, SIZE));
        assert_int_equal(host_alloc_live(h), (long)n);
        for (i = 0; i < n; ++i)
                core_cache_free(h, &c, p[i], SIZE);
        assert_int_equal(host_alloc_live(h), N_KEPT);
        /* the parked ones are handed out again, each once */
        for (i = 0; i < N_KEPT; ++i) {
                q[i] = core_cache_alloc(h, &c, SIZE);
                for (j = 0; j < i; ++j)
                        assert_ptr_not_equal(q[i], q[j]);
        }
        assert_int_equal(host_alloc_live(h), N_KEPT);
        q[N_KEPT] = core_cache_alloc(h, &c, SIZE);      /* empty again: a new one */
        assert_int_equal(host_alloc_live(h), N_KEPT + 1);
        for (i = 0; i <= N_KEPT; ++i)
                core_cache_free(h, &c, q[i], SIZE);
        core_cache_deinit(h, &c);
        assert_int_equal(host_alloc_live(h), 0);
}

/* An injected allocation failure is reported when the cache is empty. */
static void test_alloc_failure(void **state)
{
        struct core_cache c;
        void *p;

        (void)state;
        core_cache_init(&c, SIZE);
        host_alloc_fail_at(h, 1);
        assert_null(core_cache_alloc(h, &c, SIZE));
        host_alloc_fail_at(h, 0);
        p = core_cache_alloc(h, &c, SIZE);
        assert_non_null(p);
        core_cache_free(h, &c, p, SIZE);
        host_alloc_fail_at(h, 1);
        p = core_cache_alloc(h, &c, SIZE);              /* from the cache: cannot fail */
        host_alloc_fail_at(h, 0);
        assert_non_null(p);
        core_cache_free(h, &c, p, SIZE);
        core_cache_deinit(h, &c);
}

/*
 * Threads allocate, stamp, check and free objects of one cache: an object
 * handed to two owners at once would show another thread's stamp.
 */
#define N_THREADS 4
#define N_ROUNDS 20000

static struct core_cache shared;
static int n_clobbered;

static void *thread_fn(void *arg)
{
        uintptr_t id = (uintptr_t)arg;
        uintptr_t *p[3];
        int i, j, k;

        for (i = 0; i < N_ROUNDS; ++i) {
                for (j = 0; j < 3; ++j) {
                        p[j] = core_cache_alloc(h, &shared, SIZE);
                        if (!p[j])
                                abort();
                        for (k = 0; k < (int)(SIZE / sizeof(uintptr_t)); ++k)
                                p[j][k] = id;
                }
                for (j = 0; j < 3; ++j) {
                        for (k = 0; k < (int)(SIZE / sizeof(uintptr_t)); ++k)
                                if (p[j][k] != id)
                                        __atomic_add_fetch(&n_clobbered, 1, __ATOMIC_RELAXED);
                        core_cache_free(h, &shared, p[j], SIZE);
                }
        }
        return NULL;
}

static void test_threads(void **state)
{
        pthread_t t[N_THREADS];
        uintptr_t i;

        (void)state;
        core_cache_init(&shared, SIZE);
        for (i = 0; i < N_THREADS; ++i)
                assert_int_equal(pthread_create(&t[i], NULL, thread_fn, (void *)(i + 1)), 0);
        for (i = 0; i < N_THREADS; ++i)
                assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(n_clobbered, 0);
        assert_true(host_alloc_live(h) <= N_KEPT);
        core_cache_deinit(h, &shared);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_reuse_zeroed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oversize, setup, teardown),
                cmocka_unit_test_setup_teardown(test_full, setup, teardown),
                cmocka_unit_test_setup_teardown(test_alloc_failure, setup, teardown),
                cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
