/*
 * libbus1 tests: argument checks, the in-process backend end to end, the
 * pollable fd, call, and the exported symbol set.
 */

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "libbus1/bus1.h"

#define U(_p) ((uint64_t)(uintptr_t)(_p))

static bool readable(bus1_peer *p)
{
        struct pollfd pfd = { .fd = bus1_peer_get_fd(p), .events = POLLIN };

        assert_true(poll(&pfd, 1, 0) >= 0);
        return pfd.revents & POLLIN;
}

static void test_args(void **state)
{
        bus1_context *ctx;
        bus1_peer *p;
        uint64_t id;
        struct bus1_cmd_peer_create cc = {};

        assert_int_equal(bus1_context_new_inprocess(NULL, NULL), -EINVAL);
        assert_int_equal(bus1_context_new_inprocess(&ctx, NULL), 0);
        assert_int_equal(bus1_peer_new(NULL, ctx), -EINVAL);
        assert_int_equal(bus1_peer_new(&p, NULL), -EINVAL);
        assert_int_equal(bus1_peer_new_with_creds(&p, ctx, NULL), -EINVAL);
        cc.flags = 1;
        assert_int_equal(bus1_peer_new_with_creds(&p, ctx, &cc), -EINVAL);
        assert_int_equal(bus1_peer_new(&p, ctx), 0);
        assert_int_equal(bus1_peer_get_fd(NULL), -EINVAL);
        assert_int_equal(bus1_peer_get_id(NULL), 0);
        assert_true(bus1_peer_get_id(p) > 0);
        assert_int_equal(bus1_peer_ioctl(NULL, BUS1_CMD_PEER_QUERY, &cc), -EINVAL);
        assert_int_equal(bus1_peer_ioctl(p, BUS1_CMD_PEER_QUERY, NULL), -EINVAL);
        assert_int_equal(bus1_peer_ioctl(p, BUS1_CMD_PEER_CREATE, &cc), -EINVAL);
        assert_int_equal(bus1_peer_ioctl(p, 12345, &cc), -ENOTTY);
        assert_int_equal(bus1_node_new(NULL, &id), -EINVAL);
        assert_int_equal(bus1_node_new(p, NULL), -EINVAL);
        assert_int_equal(bus1_handle_transfer(p, 1, NULL, &id), -EINVAL);
        assert_int_equal(bus1_handle_release(NULL, 1), -EINVAL);
        assert_int_equal(bus1_handle_release(p, 1), -ENXIO);
        assert_int_equal(bus1_nodes_destroy(p, NULL, 1), -EINVAL);
        assert_int_equal(bus1_send(p, NULL, 1, NULL, NULL, 0, NULL, 0, NULL, 0, 0), -EINVAL);
        assert_int_equal(bus1_send(p, &id, 0, NULL, NULL, 0, NULL, 0, NULL, 0, 0), -EINVAL);
        int bad = -1;
        id = 1;
        assert_int_equal(bus1_send(p, &id, 1, NULL, NULL, 0, NULL, 0, &bad, 1, 0), -EBADF);
        assert_int_equal(bus1_recv(p, NULL), -EINVAL);
        assert_int_equal(bus1_call(NULL, NULL), -EINVAL);
        assert_null(bus1_peer_free(p));
        assert_null(bus1_peer_free(NULL));
        assert_null(bus1_context_free(ctx));
        assert_null(bus1_context_free(NULL));
}

static void test_send_recv_poll(void **state)
{
        bus1_context *ctx, *ctx2;
        bus1_peer *a, *b, *x;
        uint64_t node, h, dummy;
        struct bus1_vec v[2] = { { U("hello "), 6 }, { U("world"), 5 } };
        char buf[32];
        struct bus1_cmd_recv r = {};

        assert_int_equal(bus1_context_new_inprocess(&ctx, NULL), 0);
        assert_int_equal(bus1_context_new_inprocess(&ctx2, NULL), 0);
        assert_int_equal(bus1_peer_new(&a, ctx), 0);
        assert_int_equal(bus1_peer_new(&b, ctx), 0);
        assert_int_equal(bus1_peer_new(&x, ctx2), 0);
        assert_int_equal(bus1_node_new(a, &node), 0);
        assert_int_equal(bus1_handle_transfer(a, node, b, &h), 0);
        assert_int_equal(bus1_handle_transfer(a, node, x, &dummy), -EINVAL);

        assert_false(readable(a));
        assert_int_equal(bus1_send(b, &h, 1, NULL, v, 2, NULL, 0, NULL, 0, 0), 0);
        assert_true(readable(a));
        assert_int_equal(bus1_send(b, &h, 1, NULL, v, 1, NULL, 0, NULL, 0, 0), 0);
        r.ptr_payload = U(buf);
        r.n_payload = sizeof(buf);
        assert_int_equal(bus1_recv(a, &r), 0);
        assert_int_equal(r.n_payload, 11);
        assert_memory_equal(buf, "hello world", 11);
        assert_int_equal(r.uid, getuid());
        assert_int_equal(r.pid, (uint64_t)getpid());
        assert_true(readable(a));
        r.n_payload = sizeof(buf);
        assert_int_equal(bus1_recv(a, &r), 0);
        r.n_payload = sizeof(buf);
        assert_int_equal(bus1_recv(a, &r), -EAGAIN);
        assert_false(readable(a));      /* reset by the EAGAIN */

        assert_int_equal(bus1_nodes_destroy(a, &node, 1), 0);
        assert_true(readable(b));
        assert_true(readable(a));
        r.n_payload = sizeof(buf);
        assert_int_equal(bus1_recv(b, &r), 0);
        assert_int_equal(r.type, BUS1_MSG_NODE_DESTROY);
        assert_int_equal(r.destination, h);
        assert_int_equal(bus1_recv(b, &r), -EAGAIN);
        assert_false(readable(b));
        assert_int_equal(bus1_handle_release(b, h), 0);

        bus1_peer_free(a);
        bus1_peer_free(b);
        bus1_peer_free(x);
        bus1_context_free(ctx);
        bus1_context_free(ctx2);
}

static void count_wake(void *userdata)
{
        ++*(int *)userdata;
}

/* bus1_peer_set_wake(): the callback replaces the fd, once per transition */
static void test_wake_callback(void **state)
{
        bus1_context *ctx;
        bus1_peer *a, *b;
        uint64_t node, h;
        struct bus1_vec v = { U("x"), 1 };
        struct bus1_cmd_recv r = {};
        char buf[8];
        int n = 0;

        assert_int_equal(bus1_context_new_inprocess(&ctx, NULL), 0);
        assert_int_equal(bus1_peer_new(&a, ctx), 0);
        assert_int_equal(bus1_peer_new(&b, ctx), 0);
        assert_int_equal(bus1_node_new(a, &node), 0);
        assert_int_equal(bus1_handle_transfer(a, node, b, &h), 0);
        assert_int_equal(bus1_peer_set_wake(NULL, count_wake, &n), -EINVAL);
        assert_false(bus1_peer_is_idle(NULL));
        assert_false(bus1_peer_is_idle(a));     /* no callback: not tracked */

        /* a message already ready: the fd is readable, then the callback runs at once */
        assert_int_equal(bus1_send(b, &h, 1, NULL, &v, 1, NULL, 0, NULL, 0, 0), 0);
        assert_true(readable(a));
        assert_int_equal(bus1_peer_set_wake(a, count_wake, &n), 0);
        assert_int_equal(n, 1);
        assert_false(bus1_peer_is_idle(a));
        assert_false(readable(a));      /* the fd was drained: the callback owns wakeups */

        /* still ready: no new call for a second message */
        assert_int_equal(bus1_send(b, &h, 1, NULL, &v, 1, NULL, 0, NULL, 0, 0), 0);
        assert_int_equal(n, 1);
        assert_false(readable(a));
        for (int i = 0; i < 2; ++i) {
                assert_false(bus1_peer_is_idle(a));
                r.ptr_payload = U(buf);
                r.n_payload = sizeof(buf);
                assert_int_equal(bus1_recv(a, &r), 0);
        }
        /* the last one was taken: idle without another receive */
        assert_true(bus1_peer_is_idle(a));
        r.n_payload = sizeof(buf);
        assert_int_equal(bus1_recv(a, &r), -EAGAIN);
        assert_true(bus1_peer_is_idle(a));
        assert_int_equal(n, 1);

        /* idle -> ready: one call per transition */
        assert_int_equal(bus1_send(b, &h, 1, NULL, &v, 1, NULL, 0, NULL, 0, 0), 0);
        assert_int_equal(n, 2);
        assert_false(bus1_peer_is_idle(a));
        assert_false(readable(a));

        /* back to the fd: it is signalled at once because a message is ready */
        assert_int_equal(bus1_peer_set_wake(a, NULL, NULL), 0);
        assert_false(bus1_peer_is_idle(a));
        assert_true(readable(a));
        r.n_payload = sizeof(buf);
        assert_int_equal(bus1_recv(a, &r), 0);
        r.n_payload = sizeof(buf);
        assert_int_equal(bus1_recv(a, &r), -EAGAIN);
        assert_false(readable(a));
        assert_int_equal(bus1_send(b, &h, 1, NULL, &v, 1, NULL, 0, NULL, 0, 0), 0);
        assert_true(readable(a));
        assert_int_equal(n, 2);

        assert_int_equal(bus1_handle_release(b, h), 0);
        bus1_peer_free(a);
        bus1_peer_free(b);
        bus1_context_free(ctx);
}

struct server {
        bus1_peer *p;
        int n;
        int r;
};

static void *server_thread(void *arg)
{
        struct server *s = arg;
        struct pollfd pfd = { .fd = bus1_peer_get_fd(s->p), .events = POLLIN };
        char buf[16];
        int i;

        for (i = 0; i < s->n; ++i) {
                struct bus1_cmd_recv r = { .ptr_payload = U(buf), .n_payload = sizeof(buf) };
                struct bus1_vec v = { U(buf), 0 };

                while (bus1_recv(s->p, &r) == -EAGAIN) {
                        poll(&pfd, 1, 1000);
                        r.n_payload = sizeof(buf);
                }
                uint64_t rh = r.reply_handle;

                v.len = r.n_payload;
                buf[0]++;
                s->r = bus1_send(s->p, &rh, 1, NULL, &v, 1, NULL, 0, NULL, 0, 0);
                if (s->r)
                        return NULL;
        }
        return NULL;
}

static void test_call(void **state)
{
        bus1_context *ctx;
        struct server s = { .n = 100 };
        bus1_peer *cli;
        uint64_t node, h;
        pthread_t th;
        int i;

        assert_int_equal(bus1_context_new_inprocess(&ctx, NULL), 0);
        assert_int_equal(bus1_peer_new(&s.p, ctx), 0);
        assert_int_equal(bus1_peer_new(&cli, ctx), 0);
        assert_int_equal(bus1_node_new(s.p, &node), 0);
        assert_int_equal(bus1_handle_transfer(s.p, node, cli, &h), 0);
        assert_int_equal(pthread_create(&th, NULL, server_thread, &s), 0);
        for (i = 0; i < s.n; ++i) {
                char out[2] = { 'a', (char)i }, in[8];
                struct bus1_vec v = { U(out), 2 };
                struct bus1_cmd_call c = {
                        .timeout_ns = 5ULL * 1000 * 1000 * 1000,
                        .send = { .n_destinations = 1, .ptr_destinations = U(&h), .n_vecs = 1, .ptr_vecs = U(&v) },
                        .recv = { .ptr_payload = U(in), .n_payload = sizeof(in) },
                };

                int rc = bus1_call(cli, &c);

                if (rc)
                        fprintf(stderr, "call %d: %d, server %d\n", i, rc, s.r);
                assert_int_equal(rc, 0);
                assert_int_equal(c.recv.n_payload, 2);
                assert_int_equal(in[0], 'b');
                assert_int_equal(in[1], (char)i);
        }
        pthread_join(th, NULL);
        struct bus1_cmd_recv r = {};
        assert_int_equal(bus1_recv(cli, &r), -EAGAIN);
        assert_false(readable(cli));
        bus1_peer_free(s.p);
        bus1_peer_free(cli);
        bus1_context_free(ctx);
}

/*
 * A declared charge goes through bus1_peer_ioctl(BUS1_CMD_SEND). With a byte
 * quota of 6000 per user and nothing queued, one sender's message fits iff
 * it is charged at most 6000 / 6 = 1000 bytes (doc/core-quota.md).
 */
static void test_send_charge(void **state)
{
        struct bus1_limits limits = { .bytes = 6000 };
        bus1_context *ctx;
        bus1_peer *a, *b;
        uint64_t node, h;
        struct bus1_vec v = { U("x"), 1 };
        struct bus1_cmd_send c = {};
        struct bus1_cmd_recv r = {};
        char buf[8];

        assert_int_equal(bus1_context_new_inprocess(&ctx, &limits), 0);
        assert_int_equal(bus1_peer_new(&a, ctx), 0);
        assert_int_equal(bus1_peer_new(&b, ctx), 0);
        assert_int_equal(bus1_node_new(a, &node), 0);
        assert_int_equal(bus1_handle_transfer(a, node, b, &h), 0);

        c.flags = BUS1_SEND_CHARGE;
        c.n_destinations = 1;
        c.ptr_destinations = U(&h);
        c.n_vecs = 1;
        c.ptr_vecs = U(&v);
        c.charge_bytes = 1001;
        assert_int_equal(bus1_peer_ioctl(b, BUS1_CMD_SEND, &c), -EDQUOT);
        c.charge_bytes = 1000;
        assert_int_equal(bus1_peer_ioctl(b, BUS1_CMD_SEND, &c), 0);
        /* the 1000 are held: one more byte does not fit, until received */
        assert_int_equal(bus1_send(b, &h, 1, NULL, &v, 1, NULL, 0, NULL, 0, 0), -EDQUOT);
        /* bus1_send() has no charge fields: the flag alone charges the payload */
        assert_int_equal(bus1_send(b, &h, 1, NULL, &v, 1, NULL, 0, NULL, 0, BUS1_SEND_CHARGE), -EDQUOT);
        r.ptr_payload = U(buf);
        r.n_payload = sizeof(buf);
        assert_int_equal(bus1_recv(a, &r), 0);
        assert_int_equal(r.n_payload, 1);
        assert_int_equal(bus1_send(b, &h, 1, NULL, &v, 1, NULL, 0, NULL, 0, BUS1_SEND_CHARGE), 0);
        c.flags = 0;
        assert_int_equal(bus1_peer_ioctl(b, BUS1_CMD_SEND, &c), -EINVAL);    /* charge without the flag */
        bus1_peer_free(a);
        bus1_peer_free(b);
        bus1_context_free(ctx);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_args),
                cmocka_unit_test(test_send_recv_poll),
                cmocka_unit_test(test_wake_callback),
                cmocka_unit_test(test_call),
                cmocka_unit_test(test_send_charge),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
