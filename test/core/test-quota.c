/*
 * Quotas (doc/core-quota.md): a flooding user cannot exhaust a receiver for
 * a second user; a stuck peer cannot take its user's other peers down;
 * per-peer limits; refusals are EDQUOT and leave the state consistent;
 * notifications are never refused.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>
#include "core-test.h"

#define L 64

static struct t_engine t;

static int setup(void **state)
{
        struct bus1_limits l = { .messages = L, .bytes = 1 << 20, .handles = 1024, .fds = 64 };

        assert_int_equal(t_engine_init(&t, &l), 0);
        return 0;
}

static int teardown(void **state)
{
        core_engine_free(t.engine);
        assert_int_equal(host_alloc_live(t.host), 0);
        core_host_free(t.host);
        return 0;
}

static __u64 give(struct core_peer *owner, __u64 node, struct core_peer *to)
{
        __u64 id;

        assert_int_equal(t_transfer(owner, node, to, &id), 0);
        return id;
}

static int flood(struct core_peer *from, __u64 h, int max)
{
        int n = 0, r;

        while (n < max && !(r = t_send(from, h, "x", 1)))
                ++n;
        if (n < max)
                assert_int_equal(r, -EDQUOT);
        return n;
}

static int drain(struct core_peer *p)
{
        static char buf[512 * 1024];
        struct bus1_cmd_recv c;
        int n = 0;

        for (;;) {
                memset(&c, 0, sizeof(c));
                c.ptr_payload = U(buf);
                c.n_payload = sizeof(buf);
                if (core_peer_ioctl(p, BUS1_CMD_RECV, U(&c)))
                        return n;
                ++n;
        }
}

static void test_flooding_user(void **state)
{
        struct core_peer *r = t_peer(&t, 10), *f = t_peer(&t, 1), *s = t_peer(&t, 2);
        __u64 n = t_node(r), hf = give(r, n, f), hs = give(r, n, s);
        int nf, ns;

        nf = flood(f, hf, 1000);
        /* the flooder holds at most half of what the peer may take: L/4 */
        assert_true(nf >= 1 && nf <= L / 4);
        ns = flood(s, hs, 1000);
        printf("# flooder queued %d, second user still queued %d (limit %d)\n", nf, ns, L);
        assert_true(ns >= L / 16);
        /* refusals changed nothing: everything queued can be received */
        assert_int_equal(drain(r), nf + ns);
        assert_int_equal(flood(f, hf, nf), nf);
        assert_int_equal(drain(r), nf);
        core_peer_free(r);
        core_peer_free(f);
        core_peer_free(s);
}

/*
 * A flooding user spread over many peers of one receiving user: level 1 is
 * per receiving peer, so without the per-receiving-user share (level 0) the
 * flooder took a share of what was left on each peer in turn and drove the
 * receiving user's remainder to a few units, leaving another sending user
 * nothing on a fresh peer of that user. Level 0 keeps the flooder's total on
 * the receiving user at most what that user has left (<= L/2 alone).
 */
#define N_SPREAD 20
static void test_flooding_user_spread(void **state)
{
        struct core_peer *rx[N_SPREAD], *x0 = t_peer(&t, 10), *f = t_peer(&t, 1), *g = t_peer(&t, 2);
        __u64 n0 = t_node(x0), hg = give(x0, n0, g);
        int i, nf = 0, ng;

        for (i = 0; i < N_SPREAD; ++i) {
                __u64 n;

                rx[i] = t_peer(&t, 10);
                assert_non_null(rx[i]);
                n = t_node(rx[i]);
                nf += flood(f, give(rx[i], n, f), 1000);
        }
        ng = flood(g, hg, 1000);
        printf("# flooder spread over %d peers queued %d, second user still queued %d on another (limit %d)\n",
               N_SPREAD, nf, ng, L);
        /* level 0: the flooder holds at most half of the receiving user's limit */
        assert_true(nf >= 1 && nf <= L / 2);
        assert_true(ng >= 4);
        for (i = 0; i < N_SPREAD; ++i) {
                drain(rx[i]);
                core_peer_free(rx[i]);
        }
        assert_int_equal(drain(x0), ng);
        core_peer_free(x0);
        core_peer_free(f);
        core_peer_free(g);
}

static void test_stuck_peer(void **state)
{
        struct core_peer *r1 = t_peer(&t, 10), *r2 = t_peer(&t, 10), *f = t_peer(&t, 1), *g = t_peer(&t, 2);
        __u64 n1 = t_node(r1), n2 = t_node(r2);
        int nf, ng;

        nf = flood(f, give(r1, n1, f), 1000);       /* r1 never reads */
        assert_true(nf <= L / 2);
        ng = flood(g, give(r2, n2, g), 1000);
        printf("# stuck peer holds %d, its sibling still got %d (limit %d)\n", nf, ng, L);
        assert_true(ng >= L / 8);
        assert_int_equal(drain(r2), ng);
        core_peer_free(r1);
        core_peer_free(r2);
        core_peer_free(f);
        core_peer_free(g);
}

static void test_flooding_peer(void **state)
{
        struct core_peer *r = t_peer(&t, 10), *f1 = t_peer(&t, 1), *f2 = t_peer(&t, 1);
        __u64 n = t_node(r);
        int n1, n2;

        /* one peer of user 1 floods: its sibling of the same user still gets in */
        n1 = flood(f1, give(r, n, f1), 1000);
        n2 = flood(f2, give(r, n, f2), 1000);
        printf("# flooding peer queued %d, its sibling (same user) still %d (limit %d)\n", n1, n2, L);
        assert_true(n1 <= L / 4);
        assert_true(n2 >= 1);
        assert_int_equal(flood(f1, give(r, n, f1), 1000), 0);     /* still refused */
        assert_int_equal(drain(r), n1 + n2);
        core_peer_free(r);
        core_peer_free(f1);
        core_peer_free(f2);
}

/* Charge records of senders that have nothing queued are freed (beyond a cache). */
static void test_charge_records_bounded(void **state)
{
        struct core_peer *r = t_peer(&t, 10), *s[100];
        __u64 n = t_node(r), h[100];
        long live0, live1;
        int i;

        for (i = 0; i < 100; ++i) {
                s[i] = t_peer(&t, 1000 + i);
                h[i] = give(r, n, s[i]);
        }
        live0 = host_alloc_live(t.host);
        for (i = 0; i < 100; ++i) {
                assert_int_equal(t_send(s[i], h[i], "x", 1), 0);
                assert_int_equal(drain(r), 1);
        }
        live1 = host_alloc_live(t.host);
        printf("# 100 senders: %ld allocations remain after draining (300 records were made)\n",
               live1 - live0);
        assert_true(live1 - live0 <= 3 * 32 + 8);     /* three maps: peer x user, peer x peer, user x user */
        for (i = 0; i < 100; ++i)
                core_peer_free(s[i]);
        core_peer_free(r);
}

static void test_peer_limit_and_bytes(void **state)
{
        struct bus1_limits pl = { .messages = 5 };
        struct core_peer *r, *f = t_peer(&t, 1);
        static char big[300 * 1024];
        __u64 h;

        assert_int_equal(t_peer_new_limits(&t, 10, &pl, &r), 0);
        h = give(r, t_node(r), f);
        assert_int_equal(flood(f, h, 1000), 5);
        assert_int_equal(drain(r), 5);
        /* bytes (KiB): L = 1024; one sender, one peer: 100 fits
         * (3 * 100 <= 512 - 0); a second 100 does not: s = (924 - 100) / 2 =
         * 412, t = 412 - 100 = 312 < 100 + 3 * 100 */
        assert_int_equal(t_send(f, h, big, 100 * 1024), 0);
        assert_int_equal(t_send(f, h, big, 100 * 1024), -EDQUOT);
        assert_int_equal(t_send(f, h, big, sizeof(big)), -EDQUOT);
        assert_int_equal(t_send(f, h, big, 50 * 1024), 0);
        assert_int_equal(drain(r), 2);
        assert_int_equal(t_send(f, h, big, 100 * 1024), 0);
        assert_int_equal(drain(r), 1);
        core_peer_free(r);
        core_peer_free(f);
}

static void test_multicast_quota(void **state)
{
        struct bus1_limits pl = { .messages = 1 };
        struct core_peer *full, *ok = t_peer(&t, 11), *f = t_peer(&t, 1);
        __u64 d[2], errs[2];

        assert_int_equal(t_peer_new_limits(&t, 10, &pl, &full), 0);
        d[0] = give(ok, t_node(ok), f);
        d[1] = give(full, t_node(full), f);
        assert_int_equal(t_send(f, d[1], "x", 1), 0);
        assert_int_equal(t_sendv(f, d, 2, errs, "y", 1, NULL, 0, NULL, 0, 0), -EDQUOT);
        assert_int_equal(errs[0], 0);
        assert_int_equal(errs[1], EDQUOT);
        assert_int_equal(drain(ok), 0);                 /* all or nothing */
        assert_int_equal(t_sendv(f, d, 2, errs, "y", 1, NULL, 0, NULL, 0, BUS1_SEND_CONTINUE), 0);
        assert_int_equal(errs[1], EDQUOT);
        assert_int_equal(drain(ok), 1);

        /* notifications are never refused, even on a full peer */
        __u64 of = t_node(f), held = give(f, of, full);
        assert_int_equal(t_destroy(f, &of, 1), 0);
        struct t_msg m;
        assert_int_equal(t_recv(full, &m), 0);
        assert_int_equal(m.cmd.type, BUS1_MSG_DATA);
        assert_int_equal(t_recv(full, &m), 0);
        assert_int_equal(m.cmd.type, BUS1_MSG_NODE_DESTROY);
        assert_int_equal(m.cmd.destination, held);
        core_peer_free(full);
        core_peer_free(ok);
        core_peer_free(f);
}

/*
 * BUS1_SEND_CHARGE: a message is charged max(payload, declared) bytes and
 * max(fds passed, declared) fds. With the limits of setup() (bytes L_B =
 * 2^20, fds 64) and nothing queued, one sender's first message fits iff
 * 3c <= L/2 (level 2), so the byte boundary is CB = 174762 and the fd
 * boundary is 10.
 */
#define CB 174762ULL

static int recv_close(struct core_peer *p)
{
        struct t_msg m;
        __u64 i;
        int r = t_recv(p, &m);

        for (i = 0; !r && i < m.cmd.n_fds; ++i)
                close((int)m.fds[i]);
        return r;
}

static void test_charge_bytes(void **state)
{
        struct core_peer *r = t_peer(&t, 10), *f = t_peer(&t, 1), *g = t_peer(&t, 2);
        __u64 n = t_node(r), hf = give(r, n, f), hg = give(r, n, g);
        static char big[100 * 1024];

        /* applied: refused exactly above the boundary, for a 1-byte payload */
        assert_int_equal(t_send_charge(f, &hf, 1, NULL, "x", 1, NULL, 0, 0, CB + 1, 0), -EDQUOT);
        assert_int_equal(t_send_charge(f, &hf, 1, NULL, "x", 1, NULL, 0, 0, CB, 0), 0);
        /* with CB queued even one more byte from that sender is refused:
         * t = (L - 2 CB) / 2 - CB = CB + 2 < CB + 3 */
        assert_int_equal(t_send(f, hf, "x", 1), -EDQUOT);
        /* another user still gets in, up to its own share: s = L/2 - CB,
         * 3c <= s gives c <= 116508 */
        assert_int_equal(t_send_charge(g, &hg, 1, NULL, "x", 1, NULL, 0, 0, 116509, 0), -EDQUOT);
        assert_int_equal(t_send_charge(g, &hg, 1, NULL, "x", 1, NULL, 0, 0, 116508, 0), 0);
        /* discharged on receive: the same sends succeed again */
        assert_int_equal(drain(r), 2);
        assert_int_equal(t_send(f, hf, "x", 1), 0);
        assert_int_equal(drain(r), 1);
        assert_int_equal(t_send_charge(f, &hf, 1, NULL, "x", 1, NULL, 0, 0, CB, 0), 0);
        assert_int_equal(drain(r), 1);

        /* a charge below the payload is ignored: 100 KiB count, so a second
         * 100 KiB does not fit (see test_peer_limit_and_bytes) */
        assert_int_equal(t_send_charge(f, &hf, 1, NULL, big, sizeof(big), NULL, 0, 0, 1, 0), 0);
        assert_int_equal(t_send(f, hf, big, sizeof(big)), -EDQUOT);
        assert_int_equal(drain(r), 1);
        assert_int_equal(t_send_charge(f, &hf, 1, NULL, big, sizeof(big), NULL, 0, 0, 0, 0), 0);
        assert_int_equal(t_send(f, hf, big, sizeof(big)), -EDQUOT);
        assert_int_equal(drain(r), 1);
        assert_int_equal(t_send(f, hf, big, sizeof(big)), 0);
        assert_int_equal(drain(r), 1);
        core_peer_free(r);
        core_peer_free(f);
        core_peer_free(g);
}

static void test_charge_fds(void **state)
{
        struct core_peer *r = t_peer(&t, 10), *f = t_peer(&t, 1);
        __u64 h = give(r, t_node(r), f), fds[8];
        int pfd[2], i;

        assert_int_equal(pipe(pfd), 0);
        for (i = 0; i < 8; ++i)
                fds[i] = (__u64)pfd[i & 1];

        /* fds: 64, the first charge fits iff 3c <= 32 */
        assert_int_equal(t_send_charge(f, &h, 1, NULL, "x", 1, NULL, 0, 0, 0, 11), -EDQUOT);
        assert_int_equal(t_send_charge(f, &h, 1, NULL, "x", 1, NULL, 0, 0, 0, 10), 0);
        /* no fds: nothing to charge; one real fd: t = 22 - 10 < 10 + 3 */
        assert_int_equal(t_send(f, h, "x", 1), 0);
        assert_int_equal(t_sendv(f, &h, 1, NULL, "x", 1, NULL, 0, fds, 1, 0), -EDQUOT);
        assert_int_equal(recv_close(r), 0);
        assert_int_equal(recv_close(r), 0);
        assert_int_equal(t_sendv(f, &h, 1, NULL, "x", 1, NULL, 0, fds, 1, 0), 0);
        assert_int_equal(recv_close(r), 0);

        /* below the fds passed: the 8 real fds count (with 1, 3 would fit) */
        assert_int_equal(t_send_charge(f, &h, 1, NULL, "x", 1, fds, 8, 0, 0, 1), 0);
        assert_int_equal(t_send_charge(f, &h, 1, NULL, "x", 1, NULL, 0, 0, 0, 3), -EDQUOT);
        assert_int_equal(t_send_charge(f, &h, 1, NULL, "x", 1, NULL, 0, 0, 0, 2), 0);
        assert_int_equal(recv_close(r), 0);
        assert_int_equal(recv_close(r), 0);
        assert_int_equal(recv_close(r), -EAGAIN);
        close(pfd[0]);
        close(pfd[1]);
        core_peer_free(r);
        core_peer_free(f);
}

/* A multicast charges every destination the whole declared charge. */
static void test_charge_multicast(void **state)
{
        struct core_peer *r1 = t_peer(&t, 10), *r2 = t_peer(&t, 11), *f = t_peer(&t, 1);
        __u64 d[2], errs[2];

        d[0] = give(r1, t_node(r1), f);
        d[1] = give(r2, t_node(r2), f);
        assert_int_equal(t_send_charge(f, d, 2, errs, "x", 1, NULL, 0, BUS1_SEND_CONTINUE, CB + 1, 0), 0);
        assert_int_equal(errs[0], EDQUOT);
        assert_int_equal(errs[1], EDQUOT);
        assert_int_equal(t_send_charge(f, d, 2, errs, "x", 1, NULL, 0, 0, CB, 0), 0);
        assert_int_equal(errs[0], 0);
        assert_int_equal(errs[1], 0);
        /* each destination holds CB: one more byte fits on neither */
        assert_int_equal(t_send(f, d[0], "x", 1), -EDQUOT);
        assert_int_equal(t_send(f, d[1], "x", 1), -EDQUOT);
        /* r1 drained: its share is back, r2's is not */
        assert_int_equal(drain(r1), 1);
        assert_int_equal(t_send_charge(f, d, 2, errs, "x", 1, NULL, 0, 0, CB, 0), -EDQUOT);
        assert_int_equal(errs[1], EDQUOT);
        assert_int_equal(drain(r1), 0);                 /* all or nothing */
        assert_int_equal(t_send_charge(f, d, 2, errs, "x", 1, NULL, 0, BUS1_SEND_CONTINUE, CB, 0), 0);
        assert_int_equal(errs[0], 0);
        assert_int_equal(errs[1], EDQUOT);
        assert_int_equal(drain(r1), 1);
        assert_int_equal(drain(r2), 1);
        core_peer_free(r1);
        core_peer_free(r2);
        core_peer_free(f);
}

/* BUS1_CMD_CALL takes BUS1_SEND_CHARGE (and no other send flag). */
static void test_charge_call(void **state)
{
        struct core_peer *r = t_peer(&t, 10), *f = t_peer(&t, 1);
        __u64 h = give(r, t_node(r), f);
        struct bus1_vec v = { .ptr = U("x"), .len = 1 };
        char buf[64];
        struct bus1_cmd_call c = {
                .timeout_ns = 1000 * 1000,
                .send = { .flags = BUS1_SEND_CHARGE, .n_destinations = 1, .ptr_destinations = U(&h),
                          .n_vecs = 1, .ptr_vecs = U(&v), .charge_bytes = CB + 1 },
                .recv = { .ptr_payload = U(buf), .n_payload = sizeof(buf) },
        };

        assert_int_equal(core_peer_ioctl(f, BUS1_CMD_CALL, U(&c)), -EDQUOT);
        c.send.flags = BUS1_SEND_CONTINUE;
        assert_int_equal(core_peer_ioctl(f, BUS1_CMD_CALL, U(&c)), -EINVAL);
        c.send.flags = 0;
        assert_int_equal(core_peer_ioctl(f, BUS1_CMD_CALL, U(&c)), -EINVAL);
        c.send.flags = BUS1_SEND_CHARGE;
        c.send.charge_bytes = CB;
        assert_int_equal(core_peer_ioctl(f, BUS1_CMD_CALL, U(&c)), -ETIMEDOUT);
        assert_true(drain(r) >= 1);
        assert_int_equal(t_send_charge(f, &h, 1, NULL, "x", 1, NULL, 0, 0, CB, 0), 0);
        assert_int_equal(drain(r), 1);
        core_peer_free(r);
        core_peer_free(f);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_flooding_user, setup, teardown),
                cmocka_unit_test_setup_teardown(test_flooding_user_spread, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stuck_peer, setup, teardown),
                cmocka_unit_test_setup_teardown(test_flooding_peer, setup, teardown),
                cmocka_unit_test_setup_teardown(test_charge_records_bounded, setup, teardown),
                cmocka_unit_test_setup_teardown(test_peer_limit_and_bytes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_multicast_quota, setup, teardown),
                cmocka_unit_test_setup_teardown(test_charge_bytes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_charge_fds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_charge_multicast, setup, teardown),
                cmocka_unit_test_setup_teardown(test_charge_call, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
