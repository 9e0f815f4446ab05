/*
 * Concurrent handle lifetime: threads, each driving one peer, create nodes,
 * pass handles (their own and ones they received) in unicasts and
 * multicasts, release handles, destroy nodes and reset their peer, all at
 * once. Checked:
 *  - a handle ID never receives two NODE_DESTROY notifications, and a node's
 *    owner never gets NODE_RELEASE after its NODE_DESTROY;
 *  - at the end (every node destroyed, every queue drained), every handle a
 *    peer still holds has been notified of its node's destruction;
 *  - the engine frees everything (no live allocations, ASan).
 * Thread 0 disconnects its peer half-way, in the middle of the others'
 * traffic to it.
 */

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include "core-test.h"

#define N_THREADS 4
#define MAX_ID (1 << 18)
#define ROUNDS_DEFAULT 100000

static long rounds = ROUNDS_DEFAULT;    /* BUS1_TEST_LIFETIME_STEPS overrides */

struct life {
        struct t_engine t;
        struct core_peer *peers[N_THREADS];
        pthread_barrier_t barrier;
        int failed;
};

struct actor {
        struct life *l;
        int idx;
        uint64_t rnd;
        uint32_t *held;         /* user references per handle ID */
        uint8_t *destroyed;     /* NODE_DESTROY seen per handle ID */
        uint8_t *own;           /* handle ID is an owner handle of a live node */
        uint8_t *ever_own;      /* handle ID is an owner handle */
        __u64 ids[64];          /* some IDs to pass around */
        int n_ids;
        long n_destroy, n_release;
};

static uint64_t rnd(struct actor *a)
{
        a->rnd ^= a->rnd << 13;
        a->rnd ^= a->rnd >> 7;
        a->rnd ^= a->rnd << 17;
        return a->rnd;
}

#define CHECK(_c) do { if (!(_c)) { fprintf(stderr, "check failed: %s (line %d)\n", #_c, __LINE__); \
                                   __atomic_store_n(&a->l->failed, 1, __ATOMIC_RELAXED); } } while (0)

static void remember(struct actor *a, __u64 id)
{
        int i;

        for (i = 0; i < a->n_ids; ++i)
                if (a->ids[i] == id)
                        return;
        if (a->n_ids < 64)
                a->ids[a->n_ids++] = id;
        else
                a->ids[rnd(a) % 64] = id;
}

static void forget(struct actor *a, __u64 id)
{
        int i;

        for (i = 0; i < a->n_ids; ++i)
                if (a->ids[i] == id)
                        a->ids[i] = a->ids[--a->n_ids];
}

static int drain(struct actor *a)
{
        struct core_peer *p = a->l->peers[a->idx];
        struct t_msg m;
        int n = 0;
        __u64 i;

        while (!t_recv(p, &m)) {
                ++n;
                CHECK(m.cmd.destination < MAX_ID || m.cmd.destination == BUS1_HANDLE_INVALID);
                switch (m.cmd.type) {
                case BUS1_MSG_DATA:
                        for (i = 0; i < m.cmd.n_handles; ++i) {
                                __u64 id = m.handles[i];

                                if (id == BUS1_HANDLE_INVALID)
                                        continue;
                                CHECK(id < MAX_ID);
                                if (a->ever_own[id])
                                        continue;
                                ++a->held[id];
                                remember(a, id);
                        }
                        break;
                case BUS1_MSG_NODE_DESTROY:
                        CHECK(m.cmd.destination != BUS1_HANDLE_INVALID || true);
                        if (m.cmd.destination < MAX_ID) {
                                CHECK(!a->destroyed[m.cmd.destination]);
                                a->destroyed[m.cmd.destination] = 1;
                        }
                        ++a->n_destroy;
                        break;
                case BUS1_MSG_NODE_RELEASE:
                        if (m.cmd.destination < MAX_ID)
                                CHECK(!a->destroyed[m.cmd.destination]);
                        ++a->n_release;
                        break;
                default:
                        CHECK(0);
                }
        }
        return n;
}

static void step(struct actor *a, struct life *l)
{
        struct core_peer *p = l->peers[a->idx];
        unsigned int op = rnd(a) % 100;
        __u64 id;

        if (op < 10) {
                id = t_node(p);
                CHECK(id < MAX_ID);
                a->own[id] = 1;
                a->ever_own[id] = 1;
                remember(a, id);
        } else if (op < 55 && a->n_ids) {
                __u64 dests[3], pass[2];
                int n_d = 1 + rnd(a) % 3, n_p = rnd(a) % 3, i, r;

                for (i = 0; i < n_d; ++i)
                        dests[i] = a->ids[rnd(a) % a->n_ids];
                for (i = 0; i < n_p; ++i)
                        pass[i] = a->ids[rnd(a) % a->n_ids];
                r = t_sendv(p, dests, n_d, NULL, "l", 1, pass, n_p, NULL, 0, BUS1_SEND_CONTINUE);
                CHECK(r == 0 || r == -ENXIO || r == -EDQUOT);
        } else if (op < 62 && a->n_ids) {
                /* hand one of ours to a random other peer directly */
                int to = rnd(a) % N_THREADS;

                id = a->ids[rnd(a) % a->n_ids];
                (void)t_transfer(p, id, l->peers[to], NULL);
        } else if (op < 75 && a->n_ids) {
                id = a->ids[rnd(a) % a->n_ids];
                if (!a->ever_own[id] && a->held[id]) {
                        CHECK(t_release(p, id) == 0);
                        if (!--a->held[id])
                                forget(a, id);
                }
        } else if (op < 82 && a->n_ids) {
                id = a->ids[rnd(a) % a->n_ids];
                if (a->own[id]) {
                        CHECK(t_destroy(p, &id, 1) == 0);
                        a->own[id] = 0;
                        forget(a, id);
                }
        } else if (op < 83) {
                struct bus1_cmd_peer_reset rs = {};

                CHECK(core_peer_ioctl(p, BUS1_CMD_PEER_RESET, U(&rs)) == 0);
                memset(a->held, 0, MAX_ID * sizeof(*a->held));
                memset(a->own, 0, MAX_ID);
                a->n_ids = 0;
        } else {
                drain(a);
        }
}

static void *actor_thread(void *arg)
{
        struct actor *a = arg;
        struct life *l = a->l;
        struct core_peer *p = l->peers[a->idx];
        __u64 id;
        long i;

        for (i = 0; i < rounds && !l->failed; ++i) {
                if (a->idx == 0 && i == rounds / 2) {
                        /* disconnect in the middle of everybody's traffic */
                        CHECK(core_peer_ioctl(p, BUS1_CMD_PEER_DISCONNECT, 0) == 0);
                        memset(a->held, 0, MAX_ID * sizeof(*a->held));
                        memset(a->own, 0, MAX_ID);
                        break;
                }
                step(a, l);
        }

        /* the end: destroy all own nodes, then drain */
        pthread_barrier_wait(&l->barrier);
        for (id = 0; id < MAX_ID; ++id)
                if (a->own[id]) {
                        CHECK(t_destroy(p, &id, 1) == 0);
                        a->own[id] = 0;
                }
        pthread_barrier_wait(&l->barrier);
        if (a->idx)
                drain(a);
        pthread_barrier_wait(&l->barrier);
        for (id = 0; id < MAX_ID; ++id)
                if (a->held[id])
                        CHECK(a->destroyed[id]);        /* notified at least once */
        return NULL;
}

static void test_lifetime(void **state)
{
        struct bus1_limits big = { .messages = 1 << 20, .bytes = 1 << 30, .handles = 1 << 24, .fds = 16 };
        struct actor actors[N_THREADS];
        pthread_t th[N_THREADS];
        struct life *l = calloc(1, sizeof(*l));
        long n_destroy = 0, n_release = 0;
        int i;

        assert_non_null(l);
        if (getenv("BUS1_TEST_LIFETIME_STEPS"))
                rounds = strtol(getenv("BUS1_TEST_LIFETIME_STEPS"), NULL, 10);
        assert_int_equal(t_engine_init(&l->t, &big), 0);
        pthread_barrier_init(&l->barrier, NULL, N_THREADS);
        for (i = 0; i < N_THREADS; ++i)
                assert_int_equal(t_peer_new_limits(&l->t, i % 2, &big, &l->peers[i]), 0);
        for (i = 0; i < N_THREADS; ++i) {
                memset(&actors[i], 0, sizeof(actors[i]));
                actors[i].l = l;
                actors[i].idx = i;
                actors[i].rnd = 0x2545f4914f6cdd1dULL * (uint64_t)(i + 3);
                actors[i].held = calloc(MAX_ID, sizeof(uint32_t));
                actors[i].destroyed = calloc(MAX_ID, 1);
                actors[i].own = calloc(MAX_ID, 1);
                actors[i].ever_own = calloc(MAX_ID, 1);
                assert_non_null(actors[i].ever_own);
                assert_non_null(actors[i].held);
                assert_non_null(actors[i].destroyed);
                assert_non_null(actors[i].own);
        }
        /* bootstrap: everybody holds a handle to a node of everybody */
        for (i = 0; i < N_THREADS; ++i) {
                __u64 n = t_node(l->peers[i]);
                int j;

                actors[i].own[n] = 1;
                actors[i].ever_own[n] = 1;
                remember(&actors[i], n);
                for (j = 0; j < N_THREADS; ++j) {
                        __u64 h;

                        if (j == i)
                                continue;
                        assert_int_equal(t_transfer(l->peers[i], n, l->peers[j], &h), 0);
                        ++actors[j].held[h];
                        remember(&actors[j], h);
                }
        }
        for (i = 0; i < N_THREADS; ++i)
                assert_int_equal(pthread_create(&th[i], NULL, actor_thread, &actors[i]), 0);
        for (i = 0; i < N_THREADS; ++i) {
                pthread_join(th[i], NULL);
                n_destroy += actors[i].n_destroy;
                n_release += actors[i].n_release;
        }
        printf("# %d threads x %ld steps: %ld destroy and %ld release notifications\n",
               N_THREADS, rounds, n_destroy, n_release);
        assert_int_equal(l->failed, 0);
        assert_true(n_destroy > 0);
        assert_true(n_release > 0);
        for (i = 0; i < N_THREADS; ++i) {
                core_peer_free(l->peers[i]);
                free(actors[i].held);
                free(actors[i].destroyed);
                free(actors[i].own);
                free(actors[i].ever_own);
        }
        pthread_barrier_destroy(&l->barrier);
        core_engine_free(l->t.engine);
        assert_int_equal(host_alloc_live(l->t.host), 0);
        core_host_free(l->t.host);
        free(l);
}

/*
 * A handle transfer racing with the destruction of its node: the transfer's
 * position must be after everything the destination already received, or a
 * NODE_DESTROY queued at the destruction's position would be received after
 * entries ordered behind it. Thread "owner" creates a node, transfers it to
 * P and destroys it; thread "dst" transfers P's handle on to D while Q keeps
 * D's clock far ahead of P's, and checks that D receives in timestamp order.
 */
struct t_race {
        struct t_engine t;
        struct core_peer *o, *p, *q, *d;
        __u64 p_id;             /* atomic: P's handle to the current node */
        int done;               /* atomic */
        long n_destroy, n_invalid, n_backwards;
};

static void *race_owner(void *arg)
{
        struct t_race *x = arg;
        struct t_msg m;
        __u64 h, pid;
        int i;

        for (i = 0; i < 20000; ++i) {
                h = t_node(x->o);
                if (h == BUS1_HANDLE_INVALID || t_transfer(x->o, h, x->p, &pid))
                        break;
                __atomic_store_n(&x->p_id, pid, __ATOMIC_RELEASE);
                for (int spin = 0; spin < (i & 63); ++spin)
                        __asm__ __volatile__("" ::: "memory");
                t_destroy(x->o, &h, 1);
                t_release(x->o, h);
                t_release(x->p, pid);
                while (!t_recv(x->o, &m))
                        ;
                while (!t_recv(x->p, &m))
                        ;
        }
        __atomic_store_n(&x->done, 1, __ATOMIC_RELEASE);
        return NULL;
}

static void *race_dst(void *arg)
{
        struct t_race *x = arg;
        __u64 last = 0, did, qd, dn;
        struct t_msg m;
        int k;

        dn = t_node(x->d);
        assert_int_equal(t_transfer(x->d, dn, x->q, &qd), 0);
        while (!__atomic_load_n(&x->done, __ATOMIC_ACQUIRE)) {
                __u64 pid = __atomic_load_n(&x->p_id, __ATOMIC_ACQUIRE);

                if (pid && !t_transfer(x->p, pid, x->d, &did))
                        t_release(x->d, did);
                else
                        ++x->n_invalid;
                for (k = 0; k < 20; ++k)
                        assert_int_equal(t_send(x->q, qd, "x", 1), 0);
                while (!t_recv(x->d, &m)) {
                        if (m.cmd.type == BUS1_MSG_NODE_DESTROY)
                                ++x->n_destroy;
                        if (m.cmd.timestamp < last)
                                ++x->n_backwards;
                        else
                                last = m.cmd.timestamp;
                }
        }
        return NULL;
}

static void test_transfer_vs_destroy(void **state)
{
        struct t_race *x = calloc(1, sizeof(*x));
        pthread_t a, b;

        (void)state;
        assert_non_null(x);
        assert_int_equal(t_engine_init(&x->t, NULL), 0);
        x->o = t_peer(&x->t, 1);
        x->p = t_peer(&x->t, 2);
        x->q = t_peer(&x->t, 3);
        x->d = t_peer(&x->t, 4);
        assert_non_null(x->o && x->p && x->q && x->d ? x : NULL);
        assert_int_equal(pthread_create(&a, NULL, race_owner, x), 0);
        assert_int_equal(pthread_create(&b, NULL, race_dst, x), 0);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        printf("# transfer vs destroy: %ld NODE_DESTROY at D, %ld transfers refused, %ld out of order\n",
               x->n_destroy, x->n_invalid, x->n_backwards);
        assert_int_equal(x->n_backwards, 0);
        core_peer_free(x->o);
        core_peer_free(x->p);
        core_peer_free(x->q);
        core_peer_free(x->d);
        t_engine_deinit(&x->t);
        free(x);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_lifetime),
                cmocka_unit_test(test_transfer_vs_destroy),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
