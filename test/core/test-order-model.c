/*
 * A model of the ordering rule of doc/core-order.md, explored over every
 * interleaving (2 transactions) or many random ones (3 transactions), with
 * deliveries interleaved at every possible point. Each step of the model is
 * one critical section of the engine: stage a transaction on one
 * destination, commit it on one destination, or deliver a queue's head.
 *
 * Checked at the end of every schedule: every two queues deliver their
 * common transactions in the same order, and a transaction that started
 * after another one finished (real time) is delivered after it wherever both
 * are delivered. The same exploration with a tie-break that differs between
 * queues, or with commits that do not sync clocks, must find violations,
 * which shows the checks are able to see them.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#define MQ 3    /* queues */
#define MT 3    /* transactions */

struct m_txn {
        int sender;             /* sender peer (its clock is the floor) */
        int n_dest, dest[MQ];
        int after;              /* -1 or a transaction this one starts after (same sender thread) */
        /* progress */
        int staged, committed;
        uint64_t floor, max, t;
        int start_step, end_step;
};

struct m_entry {
        int txn;
        uint64_t ts;
};

struct m_state {
        uint64_t clock[MQ + MT];        /* queues 0..MQ-1, senders MQ.. */
        struct m_entry q[MQ][MT];
        int n_q[MQ];
        int delivered[MQ][MT];
        int n_delivered[MQ];
        struct m_txn txn[MT];
        int n_txn, n_queues, step;
        bool broken;                    /* queue 1 breaks ties the other way */
        bool no_sync;                   /* commits do not sync clocks */
};

static long n_schedules, n_violations;

static int m_cmp(const struct m_state *s, int q, const struct m_entry *a, const struct m_entry *b)
{
        int sa = s->txn[a->txn].sender, sb = s->txn[b->txn].sender;

        if (a->ts != b->ts)
                return a->ts < b->ts ? -1 : 1;
        if (sa != sb)
                return (sa < sb ? -1 : 1) * (s->broken && q == 1 ? -1 : 1);
        return a->txn < b->txn ? -1 : 1;
}

static void m_insert(struct m_state *s, int q, int txn, uint64_t ts)
{
        struct m_entry e = { txn, ts };
        int i = s->n_q[q]++;

        while (i > 0 && m_cmp(s, q, &s->q[q][i - 1], &e) > 0) {
                s->q[q][i] = s->q[q][i - 1];
                --i;
        }
        s->q[q][i] = e;
}

static void m_remove(struct m_state *s, int q, int txn)
{
        int i, j = 0;

        for (i = 0; i < s->n_q[q]; ++i)
                if (s->q[q][i].txn != txn)
                        s->q[q][j++] = s->q[q][i];
        s->n_q[q] = j;
}

static bool m_check(const struct m_state *s)
{
        int a, b, i, j, x, y;

        for (a = 0; a < s->n_queues; ++a)
                for (b = a + 1; b < s->n_queues; ++b)
                        for (i = 0; i < s->n_delivered[a]; ++i)
                                for (j = i + 1; j < s->n_delivered[a]; ++j)
                                        for (x = 0; x < s->n_delivered[b]; ++x)
                                                for (y = x + 1; y < s->n_delivered[b]; ++y)
                                                        if (s->delivered[a][i] == s->delivered[b][y] &&
                                                            s->delivered[a][j] == s->delivered[b][x])
                                                                return false;
        /* real-time causality at every common receiver */
        for (a = 0; a < s->n_queues; ++a)
                for (i = 0; i < s->n_delivered[a]; ++i)
                        for (j = i + 1; j < s->n_delivered[a]; ++j)
                                if (s->txn[s->delivered[a][j]].end_step < s->txn[s->delivered[a][i]].start_step)
                                        return false;
        return true;
}

/* Enabled steps: 0..n_txn-1 advance a transaction, n_txn+q deliver queue q. */
static bool m_enabled(const struct m_state *s, int k)
{
        if (k < s->n_txn) {
                const struct m_txn *t = &s->txn[k];

                if (t->committed == t->n_dest)
                        return false;
                return t->after < 0 || s->txn[t->after].committed == s->txn[t->after].n_dest;
        }
        k -= s->n_txn;
        return s->n_q[k] && !(s->q[k][0].ts & 1);
}

static void m_step(struct m_state *s, int k)
{
        ++s->step;
        if (k < s->n_txn) {
                struct m_txn *t = &s->txn[k];

                if (t->staged < t->n_dest) {
                        int q = t->dest[t->staged++];
                        uint64_t c;

                        if (t->staged == 1) {
                                t->floor = s->clock[MQ + t->sender];
                                t->start_step = s->step;
                        }
                        c = s->clock[q] > t->floor ? s->clock[q] : t->floor;
                        s->clock[q] = (c & 1) ? c + 2 : c + 1;
                        if (s->clock[q] > t->max)
                                t->max = s->clock[q];
                        m_insert(s, q, k, s->clock[q]);
                } else {
                        int q = t->dest[t->committed++];

                        t->t = t->max + 1;
                        m_remove(s, q, k);
                        m_insert(s, q, k, t->t);
                        if (s->clock[q] < t->t && !s->no_sync)
                                s->clock[q] = t->t;
                        if (t->committed == t->n_dest) {
                                if (s->clock[MQ + t->sender] < t->t && !s->no_sync)
                                        s->clock[MQ + t->sender] = t->t;
                                t->end_step = s->step;
                        }
                }
        } else {
                int q = k - s->n_txn, i;

                s->delivered[q][s->n_delivered[q]++] = s->q[q][0].txn;
                for (i = 1; i < s->n_q[q]; ++i)
                        s->q[q][i - 1] = s->q[q][i];
                --s->n_q[q];
        }
}

static void m_explore(const struct m_state *s)
{
        int k, n = s->n_txn + s->n_queues;
        bool any = false;

        for (k = 0; k < n; ++k) {
                struct m_state next;

                if (!m_enabled(s, k))
                        continue;
                any = true;
                next = *s;
                m_step(&next, k);
                m_explore(&next);
        }
        if (!any) {
                ++n_schedules;
                if (!m_check(s))
                        ++n_violations;
        }
}

static uint64_t seed = 0x243f6a8885a308d3ULL;

static uint64_t m_rnd(void)
{
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        return seed;
}

static void m_random(const struct m_state *init, long rounds)
{
        long r;

        for (r = 0; r < rounds; ++r) {
                struct m_state s = *init;
                int en[MT + MQ], n, k;

                for (;;) {
                        for (n = 0, k = 0; k < s.n_txn + s.n_queues; ++k)
                                if (m_enabled(&s, k))
                                        en[n++] = k;
                        if (!n)
                                break;
                        m_step(&s, en[m_rnd() % n]);
                }
                ++n_schedules;
                if (!m_check(&s))
                        ++n_violations;
        }
}

static void m_init(struct m_state *s, int n_queues, int n_txn, bool broken)
{
        int i;

        memset(s, 0, sizeof(*s));
        s->n_queues = n_queues;
        s->n_txn = n_txn;
        s->broken = broken;
        for (i = 0; i < n_txn; ++i)
                s->txn[i].after = -1;
}

static void m_dest(struct m_state *s, int t, int sender, const int *dest, int n)
{
        s->txn[t].sender = sender;
        s->txn[t].n_dest = n;
        memcpy(s->txn[t].dest, dest, n * sizeof(int));
}

static void run_two(bool broken, bool no_sync, size_t n_sets, long *schedules, long *violations)
{
        static const int sets[][3] = { { 0, 1 }, { 1, 0 }, { 0, 1, 2 }, { 2, 1, 0 }, { 1, 2 }, { 0 }, { 1 } };
        static const int sizes[] = { 2, 2, 3, 3, 2, 1, 1 };
        struct m_state s;
        size_t a, b;

        n_schedules = n_violations = 0;
        for (a = 0; a < n_sets; ++a) {
                for (b = 0; b < n_sets; ++b) {
                        m_init(&s, 3, 2, broken);
                        s.no_sync = no_sync;
                        m_dest(&s, 0, 0, sets[a], sizes[a]);
                        m_dest(&s, 1, 1, sets[b], sizes[b]);
                        m_explore(&s);
                        /* the same, second transaction sent by the same thread after the first */
                        m_init(&s, 3, 2, broken);
                        s.no_sync = no_sync;
                        m_dest(&s, 0, 0, sets[a], sizes[a]);
                        m_dest(&s, 1, 0, sets[b], sizes[b]);
                        s.txn[1].after = 0;
                        m_explore(&s);
                }
        }
        *schedules = n_schedules;
        *violations = n_violations;
}

static void test_model_two_exhaustive(void **state)
{
        long sch, vio;

        run_two(false, false, 7, &sch, &vio);
        printf("# 2 transactions, every interleaving: %ld schedules, %ld violations\n", sch, vio);
        assert_true(sch > 10000);
        assert_int_equal(vio, 0);
}

static void test_model_broken_tiebreak(void **state)
{
        long sch, vio;

        run_two(true, false, 2, &sch, &vio);
        printf("# broken tie-break: %ld of %ld schedules violate the order\n", vio, sch);
        assert_true(vio > 0);
}

static void test_model_missing_sync(void **state)
{
        long sch, vio;

        run_two(false, true, 2, &sch, &vio);
        printf("# commits without clock sync: %ld of %ld schedules violate the order\n", vio, sch);
        assert_true(vio > 0);
}

static void test_model_three_random(void **state)
{
        static const int d0[] = { 0, 1, 2 }, d1[] = { 2, 0 }, d2[] = { 1, 2 };
        struct m_state s;

        n_schedules = n_violations = 0;
        m_init(&s, 3, 3, false);
        m_dest(&s, 0, 0, d0, 3);
        m_dest(&s, 1, 1, d1, 2);
        m_dest(&s, 2, 2, d2, 2);
        m_random(&s, 200000);
        /* a chain: txn 2 is sent by txn 0's thread after it */
        m_init(&s, 3, 3, false);
        m_dest(&s, 0, 0, d0, 3);
        m_dest(&s, 1, 1, d1, 2);
        m_dest(&s, 2, 0, d2, 2);
        s.txn[2].after = 0;
        m_random(&s, 200000);
        printf("# 3 transactions, random interleavings: %ld schedules, %ld violations\n",
               n_schedules, n_violations);
        assert_int_equal(n_violations, 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_model_two_exhaustive),
                cmocka_unit_test(test_model_broken_tiebreak),
                cmocka_unit_test(test_model_missing_sync),
                cmocka_unit_test(test_model_three_random),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
