/*
 * Allocation-failure injection: for every command, fail the k-th allocation
 * for every k until the command no longer allocates that many times. Each
 * run checks that the command failed cleanly (ENOMEM, nothing delivered,
 * nothing changed), that the engine still works afterwards, and that
 * nothing leaked (the host's live allocation count returns to 0; ASan checks
 * the rest).
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

struct fx {
        struct t_engine t;
        struct core_peer *a, *b, *c;
        __u64 na, nb, nc;       /* owner handles */
        __u64 b_a, c_a, a_b, a_c, b_c;  /* x_y: x's handle to y's node */
};

static void fx_init(struct fx *f)
{
        memset(f, 0, sizeof(*f));
        assert_int_equal(t_engine_init(&f->t, NULL), 0);
        f->a = t_peer(&f->t, 1);
        f->b = t_peer(&f->t, 2);
        f->c = t_peer(&f->t, 3);
        assert_non_null(f->a);
        assert_non_null(f->b);
        assert_non_null(f->c);
        f->na = t_node(f->a);
        f->nb = t_node(f->b);
        f->nc = t_node(f->c);
        assert_int_equal(t_transfer(f->a, f->na, f->b, &f->b_a), 0);
        assert_int_equal(t_transfer(f->a, f->na, f->c, &f->c_a), 0);
        assert_int_equal(t_transfer(f->b, f->nb, f->a, &f->a_b), 0);
        assert_int_equal(t_transfer(f->c, f->nc, f->a, &f->a_c), 0);
        assert_int_equal(t_transfer(f->c, f->nc, f->b, &f->b_c), 0);
}

static void fx_deinit(struct fx *f)
{
        core_peer_free(f->a);
        core_peer_free(f->b);
        core_peer_free(f->c);
        core_engine_free(f->t.engine);
        assert_int_equal(host_alloc_live(f->t.host), 0);
        core_host_free(f->t.host);
}

static void inject(struct fx *f, unsigned long k)
{
        host_alloc_fail_at(f->t.host, k);
}

static int n_queued(struct core_peer *p)
{
        struct bus1_cmd_peer_query q = {};

        assert_int_equal(core_peer_ioctl(p, BUS1_CMD_PEER_QUERY, U(&q)), 0);
        return (int)q.n_queued;
}

/* Each scenario returns 1 if the injected failure hit, 0 if the command succeeded. */

static int sc_peer_create(struct fx *f, unsigned long k)
{
        struct core_peer *p = NULL;
        int r;

        inject(f, k);
        r = t_peer_new_limits(&f->t, 7, NULL, &p);
        inject(f, 0);
        if (r) {
                assert_int_equal(r, -ENOMEM);
                assert_null(p);
                return 1;
        }
        core_peer_free(p);
        return 0;
}

static int sc_node_create(struct fx *f, unsigned long k)
{
        struct bus1_cmd_peer_query q = {};
        __u64 id;

        inject(f, k);
        id = t_node(f->a);
        inject(f, 0);
        assert_int_equal(core_peer_ioctl(f->a, BUS1_CMD_PEER_QUERY, U(&q)), 0);
        if (id == BUS1_HANDLE_INVALID) {
                assert_int_equal(q.n_nodes, 1);
                return 1;
        }
        assert_int_equal(q.n_nodes, 2);
        return 0;
}

static int sc_transfer(struct fx *f, unsigned long k)
{
        __u64 id;
        int r;

        inject(f, k);
        r = t_transfer(f->b, f->nb, f->c, &id);
        inject(f, 0);
        if (r) {
                assert_int_equal(r, -ENOMEM);
                assert_int_equal(t_send(f->c, 1000, "x", 1), -ENXIO);
                return 1;
        }
        assert_int_equal(t_send(f->c, id, "x", 1), 0);
        assert_int_equal(n_queued(f->b), 1);
        return 0;
}

static int sc_send(struct fx *f, unsigned long k, int n_dest, __u64 flags, int n_handles)
{
        __u64 dests[2] = { f->b_a, f->b_c }, errs[2] = { 99, 99 }, handles[20], fds[1];
        int pipefd[2], r, i, delivered = 0;

        assert_int_equal(pipe(pipefd), 0);
        fds[0] = (__u64)pipefd[0];
        for (i = 0; i < n_handles; ++i)
                handles[i] = i % 2 ? f->b_c : f->nb;
        inject(f, k);
        r = t_sendv(f->b, dests, n_dest, errs, "payload", 7, handles, n_handles, fds, 1, flags);
        inject(f, 0);
        close(pipefd[0]);
        close(pipefd[1]);
        delivered = n_queued(f->a) + n_queued(f->c);
        if (r) {
                assert_int_equal(r, -ENOMEM);
                assert_int_equal(delivered, 0);         /* all or nothing */
                return 1;
        }
        for (i = 0; i < n_dest; ++i)
                assert_true(errs[i] == 0 || errs[i] == ENOMEM);
        assert_int_equal(delivered, (errs[0] == 0) + (n_dest > 1 && errs[1] == 0));
        if (errs[0] || (n_dest > 1 && errs[1]))
                return 1;
        return 0;
}

static int sc_send_unicast(struct fx *f, unsigned long k)
{
        return sc_send(f, k, 1, 0, 2);
}

static int sc_send_multicast(struct fx *f, unsigned long k)
{
        return sc_send(f, k, 2, 0, 2);
}

static int sc_send_multicast_continue(struct fx *f, unsigned long k)
{
        return sc_send(f, k, 2, BUS1_SEND_CONTINUE, 2);
}

static int sc_recv(struct fx *f, unsigned long k)
{
        __u64 handles[20];
        struct bus1_cmd_recv c = {};
        __u64 ids[20];
        char buf[16];
        int i, r;

        for (i = 0; i < 20; ++i)
                handles[i] = i % 2 ? f->b_c : f->nb;
        assert_int_equal(t_sendv(f->b, &f->b_a, 1, NULL, "x", 1, handles, 20, NULL, 0, 0), 0);
        c.ptr_payload = U(buf);
        c.n_payload = sizeof(buf);
        c.ptr_handles = U(ids);
        c.n_handles = 20;
        inject(f, k);
        r = core_peer_ioctl(f->a, BUS1_CMD_RECV, U(&c));
        inject(f, 0);
        if (r) {
                /* nothing was dequeued */
                assert_int_equal(r, -ENOMEM);
                assert_int_equal(n_queued(f->a), 1);
                return 1;
        }
        assert_int_equal(ids[0], f->a_b);
        assert_int_equal(ids[1], f->a_c);
        return 0;
}

static int sc_destroy(struct fx *f, unsigned long k)
{
        __u64 ids[2] = { f->na, t_node(f->a) };
        int r;

        inject(f, k);
        r = t_destroy(f->a, ids, 2);
        inject(f, 0);
        if (r) {
                assert_int_equal(r, -ENOMEM);
                assert_int_equal(n_queued(f->b), 0);
                assert_int_equal(t_send(f->b, f->b_a, "x", 1), 0);
                return 1;
        }
        assert_int_equal(n_queued(f->b), 1);
        assert_int_equal(t_send(f->b, f->b_a, "x", 1), -EHOSTUNREACH);
        return 0;
}

static int sc_call(struct fx *f, unsigned long k)
{
        char buf[16];
        struct bus1_vec v = { U("req"), 3 };
        struct bus1_cmd_call call = {
                .timeout_ns = 1000 * 1000,
                .send = { .n_destinations = 1, .ptr_destinations = U(&f->b_a), .n_vecs = 1, .ptr_vecs = U(&v) },
                .recv = { .ptr_payload = U(buf), .n_payload = sizeof(buf) },
        };
        int r;

        inject(f, k);
        r = core_peer_ioctl(f->b, BUS1_CMD_CALL, U(&call));
        inject(f, 0);
        if (r == -ENOMEM) {
                assert_int_equal(n_queued(f->a), 0);
                assert_int_equal(n_queued(f->b), 0);
                return 1;
        }
        assert_int_equal(r, -ETIMEDOUT);
        /* the request; its reply handle's destruction is queued when it is received */
        assert_int_equal(n_queued(f->a), 1);
        assert_int_equal(n_queued(f->b), 0);
        return 0;
}

static int sc_release(struct fx *f, unsigned long k)
{
        int r;

        assert_int_equal(t_release(f->a, f->a_c), 0);
        inject(f, k);
        r = t_release(f->b, f->b_c);
        inject(f, 0);
        assert_int_equal(r, 0);                 /* never allocates */
        assert_int_equal(n_queued(f->c), 1);    /* NODE_RELEASE: reserved memory */
        return 0;
}

static int sc_disconnect(struct fx *f, unsigned long k)
{
        int r;

        assert_int_equal(t_send(f->b, f->b_a, "x", 1), 0);
        inject(f, k);
        r = core_peer_ioctl(f->a, BUS1_CMD_PEER_DISCONNECT, 0);
        inject(f, 0);
        assert_int_equal(r, 0);                 /* never fails */
        /* NODE_DESTROY of a's node, NODE_RELEASE of b's: reserved memory */
        assert_int_equal(n_queued(f->b), 2);
        return 0;
}

static int sc_reset(struct fx *f, unsigned long k)
{
        struct bus1_cmd_peer_reset rs = {};
        int r;

        assert_int_equal(t_send(f->b, f->b_a, "x", 1), 0);
        inject(f, k);
        r = core_peer_ioctl(f->a, BUS1_CMD_PEER_RESET, U(&rs));
        inject(f, 0);
        assert_int_equal(r, 0);                 /* never fails */
        assert_int_equal(n_queued(f->a), 0);
        return 0;
}

static void run_scenario(const char *name, int (*fn)(struct fx *, unsigned long))
{
        struct fx f;
        unsigned long k;
        int hit;

        for (k = 1;; ++k) {
                fx_init(&f);
                hit = fn(&f, k);
                fx_deinit(&f);
                if (!hit)
                        break;
                assert_true(k < 1000);
        }
        printf("# %s: failed allocations 1..%lu, then succeeded\n", name, k - 1);
}

#define SCENARIO(_n) static void test_##_n(void **state) { run_scenario(#_n, sc_##_n); }
SCENARIO(peer_create)
SCENARIO(node_create)
SCENARIO(transfer)
SCENARIO(send_unicast)
SCENARIO(send_multicast)
SCENARIO(send_multicast_continue)
SCENARIO(recv)
SCENARIO(destroy)
SCENARIO(call)
SCENARIO(reset)
SCENARIO(release)
SCENARIO(disconnect)

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_peer_create),
                cmocka_unit_test(test_node_create),
                cmocka_unit_test(test_transfer),
                cmocka_unit_test(test_send_unicast),
                cmocka_unit_test(test_send_multicast),
                cmocka_unit_test(test_send_multicast_continue),
                cmocka_unit_test(test_recv),
                cmocka_unit_test(test_destroy),
                cmocka_unit_test(test_call),
                cmocka_unit_test(test_reset),
                cmocka_unit_test(test_release),
                cmocka_unit_test(test_disconnect),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
