/*
 * Tests of the core engine commands: every command, its documented errors,
 * handle lifetime and notifications.
 */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>
#include "core-test.h"

static int setup(void **state)
{
        struct t_engine *t = calloc(1, sizeof(*t));

        assert_non_null(t);
        assert_int_equal(t_engine_init(t, NULL), 0);
        *state = t;
        return 0;
}

static int teardown(void **state)
{
        struct t_engine *t = *state;

        core_engine_free(t->engine);
        assert_int_equal(host_alloc_live(t->host), 0);  /* nothing leaked inside the engine */
        core_host_free(t->host);
        assert_null(core_host_free(NULL));
        free(t);
        return 0;
}

/* The ABI: fixed sizes, 8-byte multiples, no implicit padding. */
static void test_abi_layout(void **state)
{
        assert_int_equal(sizeof(struct bus1_limits), 4 * 8);
        assert_int_equal(sizeof(struct bus1_vec), 2 * 8);
        assert_int_equal(sizeof(struct bus1_cmd_peer_create), 14 * 8);
        assert_int_equal(sizeof(struct bus1_cmd_peer_query), 10 * 8);
        assert_int_equal(sizeof(struct bus1_cmd_peer_reset), 6 * 8);
        assert_int_equal(sizeof(struct bus1_cmd_node_create), 3 * 8);
        assert_int_equal(sizeof(struct bus1_cmd_handle_transfer), 5 * 8);
        assert_int_equal(sizeof(struct bus1_cmd_handle_release), 3 * 8);
        assert_int_equal(sizeof(struct bus1_cmd_nodes_destroy), 4 * 8);
        assert_int_equal(sizeof(struct bus1_cmd_send), 13 * 8);
        assert_int_equal(sizeof(struct bus1_cmd_recv), 19 * 8);
        assert_int_equal(sizeof(struct bus1_cmd_call), 3 * 8 + 13 * 8 + 19 * 8);
        assert_int_equal(_IOC_SIZE(BUS1_CMD_SEND), sizeof(struct bus1_cmd_send));
        assert_int_not_equal(BUS1_CMD_SEND, BUS1_CMD_RECV);
}

static int n_traces;

static void t_trace(void *userdata, int r, const char *func, const char *file, int line)
{
        assert_int_equal(r, -ENOMEM);
        assert_non_null(func);
        assert_non_null(file);
        assert_true(line > 0);
        ++n_traces;
}

/* Unexpected errors go through the host's trace hook with their origin. */
static void test_trace_hook(void **state)
{
        struct t_engine *t = *state;
        struct core_peer *a = t_peer(t, 1);

        host_set_trace(t->host, t_trace, NULL);
        host_alloc_fail_at(t->host, 1);
        assert_int_equal(t_node(a), BUS1_HANDLE_INVALID);
        host_alloc_fail_at(t->host, 0);
        assert_int_equal(n_traces, 1);
        host_set_trace(t->host, NULL, NULL);
        core_peer_free(a);
}

static void test_peer_create(void **state)
{
        struct t_engine *t = *state;
        struct bus1_cmd_peer_create c = { .uid = 1 };
        struct bus1_cmd_peer_query q = {};
        struct core_peer *p = NULL, *p2 = NULL;

        c.flags = 1;
        assert_int_equal(core_peer_create(t->engine, U(&c), &p), -EINVAL);
        c.flags = 0;
        c.reserved = 1;
        assert_int_equal(core_peer_create(t->engine, U(&c), &p), -EINVAL);
        c.reserved = 0;
        c.uid = 1ULL << 32;
        assert_int_equal(core_peer_create(t->engine, U(&c), &p), -EINVAL);
        c.uid = 1;
        c.n_gids = BUS1_GID_MAX + 1;
        assert_int_equal(core_peer_create(t->engine, U(&c), &p), -EINVAL);
        c.n_gids = 1;
        c.ptr_gids = 0;
        assert_int_equal(core_peer_create(t->engine, U(&c), &p), -EFAULT);
        c.n_gids = 0;
        assert_int_equal(core_peer_create(t->engine, 0, &p), -EFAULT);
        assert_null(p);

        assert_int_equal(core_peer_create(t->engine, U(&c), &p), 0);
        assert_int_equal(core_peer_create(t->engine, U(&c), &p2), 0);
        assert_true(c.peer_id > 0);
        assert_int_not_equal(core_peer_id(p), core_peer_id(p2));

        assert_int_equal(core_peer_ioctl(p, BUS1_CMD_PEER_QUERY, U(&q)), 0);
        assert_int_equal(q.peer_id, core_peer_id(p));
        assert_int_equal(q.limits.messages, CORE_DEFAULT_MESSAGES);
        assert_int_equal(q.n_queued, 0);
        q.flags = 1;
        assert_int_equal(core_peer_ioctl(p, BUS1_CMD_PEER_QUERY, U(&q)), -EINVAL);
        assert_int_equal(core_peer_ioctl(p, 0xdead, 0), -ENOTTY);

        core_peer_free(p);
        core_peer_free(p2);
        assert_null(core_peer_free(NULL));
}

static void test_node_and_send(void **state)
{
        struct t_engine *t = *state;
        struct core_peer *a = t_peer(t, 1), *b = t_peer(t, 2);
        __u64 node, hb, hb2;
        struct t_msg m;

        node = t_node(a);
        assert_int_not_equal(node, BUS1_HANDLE_INVALID);
        assert_int_equal(t_transfer(a, node, b, &hb), 0);
        assert_int_equal(t_transfer(a, node, b, &hb2), 0);
        assert_int_equal(hb, hb2);      /* coalesced */

        assert_int_equal(t_recv(a, &m), -EAGAIN);
        assert_int_equal(t_send(b, hb, "hello", 5), 0);
        assert_int_equal(t_send(b, hb, "world!", 6), 0);

        /* peek leaves it queued */
        assert_int_equal(t_recv_flags(a, &m, BUS1_RECV_PEEK), 0);
        assert_int_equal(m.cmd.n_payload, 5);
        assert_int_equal(t_recv(a, &m), 0);
        assert_int_equal(m.cmd.type, BUS1_MSG_DATA);
        assert_int_equal(m.cmd.destination, node);
        assert_int_equal(m.cmd.n_payload, 5);
        assert_memory_equal(m.payload, "hello", 5);
        assert_int_equal(m.cmd.uid, 2);
        assert_int_equal(m.cmd.gid, 2);
        assert_int_equal(m.cmd.pid, 1002);
        assert_int_equal(m.cmd.n_gids, 2);
        assert_int_equal(m.gids[1], 202);
        assert_int_equal(m.cmd.n_label, 4);
        assert_memory_equal(m.label, "lbl0", 4);
        assert_int_equal(m.cmd.reply_handle, BUS1_HANDLE_INVALID);
        __u64 ts1 = m.cmd.timestamp;

        /* EMSGSIZE keeps it queued and reports sizes */
        memset(&m, 0, sizeof(m));
        m.cmd.ptr_payload = U(m.payload);
        m.cmd.n_payload = 3;
        m.cmd.n_gids = 8;
        m.cmd.ptr_gids = U(m.gids);
        m.cmd.n_label = 8;
        m.cmd.ptr_label = U(m.label);
        assert_int_equal(core_peer_ioctl(a, BUS1_CMD_RECV, U(&m.cmd)), -EMSGSIZE);
        assert_int_equal(m.cmd.n_payload, 6);
        assert_int_equal(t_recv(a, &m), 0);
        assert_memory_equal(m.payload, "world!", 6);
        assert_true(m.cmd.timestamp > ts1);
        assert_int_equal(t_recv(a, &m), -EAGAIN);

        /* invalid recv flags */
        assert_int_equal(t_recv_flags(a, &m, 2), -EINVAL);
        core_peer_free(a);
        core_peer_free(b);
}

static void test_send_errors(void **state)
{
        struct t_engine *t = *state;
        struct core_peer *a = t_peer(t, 1), *b = t_peer(t, 2);
        __u64 node = t_node(a), hb, errs[3], dests[3];
        __u64 bogus_fd = 9999;
        struct t_msg m;

        assert_int_equal(t_transfer(a, node, b, &hb), 0);
        assert_int_equal(t_sendv(b, &hb, 0, NULL, "x", 1, NULL, 0, NULL, 0, 0), -EINVAL);
        assert_int_equal(t_sendv(b, &hb, 1, NULL, "x", 1, NULL, 0, NULL, 0, 4), -EINVAL);
        assert_int_equal(t_sendv(b, &hb, BUS1_DESTINATION_MAX + 1, NULL, "x", 1, NULL, 0, NULL, 0, 0), -EINVAL);
        assert_int_equal(t_send(b, 777, "x", 1), -ENXIO);
        assert_int_equal(t_sendv(b, &hb, 1, NULL, "x", 1, NULL, 0, &bogus_fd, 1, 0), -EBADF);
        dests[0] = 777;
        assert_int_equal(t_sendv(b, &hb, 1, NULL, "x", 1, dests, 1, NULL, 0, 0), -ENXIO);
        assert_int_equal(t_sendv(b, &hb, 1, NULL, NULL, 1, NULL, 0, NULL, 0, 0), -EFAULT);

        /* charge fields: only with BUS1_SEND_CHARGE, and bounded as a payload */
        {
                struct bus1_vec v = { .ptr = U("x"), .len = 1 };
                struct bus1_cmd_send c = { .n_destinations = 1, .ptr_destinations = U(&hb), .n_vecs = 1,
                                           .ptr_vecs = U(&v) };

                c.charge_bytes = 1;
                assert_int_equal(core_peer_ioctl(b, BUS1_CMD_SEND, U(&c)), -EINVAL);
                c.charge_bytes = 0;
                c.charge_fds = 1;
                assert_int_equal(core_peer_ioctl(b, BUS1_CMD_SEND, U(&c)), -EINVAL);
                c.flags = BUS1_SEND_CHARGE;
                c.charge_fds = BUS1_FD_MAX + 1;
                assert_int_equal(core_peer_ioctl(b, BUS1_CMD_SEND, U(&c)), -EINVAL);
                c.charge_fds = 0;
                c.charge_bytes = BUS1_PAYLOAD_MAX + 1;
                assert_int_equal(core_peer_ioctl(b, BUS1_CMD_SEND, U(&c)), -EINVAL);
                c.reserved = 1;
                c.charge_bytes = 0;
                assert_int_equal(core_peer_ioctl(b, BUS1_CMD_SEND, U(&c)), -EINVAL);
                c.reserved = 0;
                /* the largest charges are valid (the default quota refuses them) */
                c.charge_bytes = BUS1_PAYLOAD_MAX;
                assert_int_equal(core_peer_ioctl(b, BUS1_CMD_SEND, U(&c)), -EDQUOT);
                c.charge_bytes = 0;
                c.charge_fds = BUS1_FD_MAX;
                assert_int_equal(core_peer_ioctl(b, BUS1_CMD_SEND, U(&c)), 0);
                /* the flag with zero charges: the payload's own figures */
                c.charge_fds = 0;
                assert_int_equal(core_peer_ioctl(b, BUS1_CMD_SEND, U(&c)), 0);
                assert_int_equal(t_recv(a, &m), 0);
                assert_int_equal(m.cmd.n_fds, 0);       /* a charge passes no fds */
                assert_int_equal(t_recv(a, &m), 0);
                assert_int_equal(m.cmd.n_payload, 1);
                assert_int_equal(t_recv(a, &m), -EAGAIN);
        }

        /* all-or-nothing multicast vs. continue */
        dests[0] = hb;
        dests[1] = 777;
        dests[2] = hb;
        assert_int_equal(t_sendv(b, dests, 3, errs, "y", 1, NULL, 0, NULL, 0, 0), -ENXIO);
        assert_int_equal(errs[0], 0);
        assert_int_equal(errs[1], ENXIO);
        assert_int_equal(t_recv(a, &m), -EAGAIN);
        assert_int_equal(t_sendv(b, dests, 3, errs, "z", 1, NULL, 0, NULL, 0, BUS1_SEND_CONTINUE), 0);
        assert_int_equal(errs[0], 0);
        assert_int_equal(errs[1], ENXIO);
        assert_int_equal(errs[2], 0);
        assert_int_equal(t_recv(a, &m), 0);
        assert_int_equal(t_recv(a, &m), 0);
        assert_int_equal(m.payload[0], 'z');
        assert_int_equal(t_recv(a, &m), -EAGAIN);

        /* destroyed node: EHOSTUNREACH */
        assert_int_equal(t_destroy(a, &node, 1), 0);
        assert_int_equal(t_send(b, hb, "x", 1), -EHOSTUNREACH);
        core_peer_free(a);
        core_peer_free(b);
}

static void test_handles_in_messages(void **state)
{
        struct t_engine *t = *state;
        struct core_peer *a = t_peer(t, 1), *b = t_peer(t, 2), *c = t_peer(t, 3);
        __u64 na = t_node(a), nc = t_node(c), hb, hb_c, passed[2];
        struct t_msg m;

        assert_int_equal(t_transfer(a, na, b, &hb), 0);
        assert_int_equal(t_transfer(c, nc, b, &hb_c), 0);
        /* b passes a handle to c's node and one to a's own node to a */
        passed[0] = hb_c;
        passed[1] = hb;
        assert_int_equal(t_sendv(b, &hb, 1, NULL, "h", 1, passed, 2, NULL, 0, 0), 0);
        assert_int_equal(t_recv(a, &m), 0);
        assert_int_equal(m.cmd.n_handles, 2);
        assert_int_not_equal(m.handles[0], BUS1_HANDLE_INVALID);
        assert_int_equal(m.handles[1], na);     /* own node: the owner handle */
        __u64 a_to_c = m.handles[0];

        /* a can now send to c */
        assert_int_equal(t_send(a, a_to_c, "to c", 4), 0);
        assert_int_equal(t_recv(c, &m), 0);
        assert_int_equal(m.cmd.uid, 1);

        /* receiving it again coalesces */
        assert_int_equal(t_sendv(b, &hb, 1, NULL, "h", 1, passed, 1, NULL, 0, 0), 0);
        assert_int_equal(t_recv(a, &m), 0);
        assert_int_equal(m.handles[0], a_to_c);

        /* two references now: release twice; then c hears NODE_RELEASE once b drops too */
        assert_int_equal(t_release(a, a_to_c), 0);
        assert_int_equal(t_release(a, a_to_c), 0);
        assert_int_equal(t_release(a, a_to_c), -ENXIO);
        assert_int_equal(t_recv(c, &m), -EAGAIN);
        assert_int_equal(t_release(b, hb_c), 0);
        assert_int_equal(t_recv(c, &m), 0);
        assert_int_equal(m.cmd.type, BUS1_MSG_NODE_RELEASE);
        assert_int_equal(m.cmd.destination, nc);
        assert_int_equal(m.cmd.uid, 2);
        assert_int_equal(t_recv(c, &m), -EAGAIN);

        /* owner handle of a live node cannot be released */
        assert_int_equal(t_release(c, nc), -EBUSY);
        assert_int_equal(t_destroy(c, &nc, 1), 0);
        assert_int_equal(t_recv(c, &m), 0);
        assert_int_equal(m.cmd.type, BUS1_MSG_NODE_DESTROY);
        assert_int_equal(t_release(c, nc), 0);

        /* handle release errors */
        struct bus1_cmd_handle_release rel = { .flags = 1 };
        assert_int_equal(core_peer_ioctl(a, BUS1_CMD_HANDLE_RELEASE, U(&rel)), -EINVAL);

        core_peer_free(a);
        core_peer_free(b);
        core_peer_free(c);
}

static void test_destroy(void **state)
{
        struct t_engine *t = *state;
        struct core_peer *a = t_peer(t, 1), *b = t_peer(t, 2), *c = t_peer(t, 3);
        __u64 n1 = t_node(a), n2 = t_node(a), hb1, hb2, hc1, ids[2], hc_b;
        struct t_msg m;

        assert_int_equal(t_transfer(a, n1, b, &hb1), 0);
        assert_int_equal(t_transfer(a, n2, b, &hb2), 0);
        assert_int_equal(t_transfer(a, n1, c, &hc1), 0);
        assert_int_equal(t_transfer(c, t_node(c), b, &hc_b), 0);

        /* a message in flight to n1, and one carrying n1 to c ordered before the destroy */
        assert_int_equal(t_send(b, hb1, "before", 6), 0);
        assert_int_equal(t_sendv(b, &hc_b, 1, NULL, "carry", 5, &hb1, 1, NULL, 0, 0), 0);

        ids[0] = n2;
        ids[1] = 12345;
        assert_int_equal(t_destroy(a, ids, 2), -ENXIO);
        ids[1] = hb1;
        assert_int_equal(t_destroy(b, ids + 1, 1), -EPERM);
        ids[1] = n2;
        assert_int_equal(t_destroy(a, ids, 2), -EINVAL);
        ids[1] = n1;
        assert_int_equal(t_destroy(a, ids, 2), 0);
        assert_int_equal(t_destroy(a, ids, 1), -EHOSTUNREACH);

        /* b: one destroy notification per node, same position */
        assert_int_equal(t_recv(b, &m), 0);
        assert_int_equal(m.cmd.type, BUS1_MSG_NODE_DESTROY);
        __u64 ts = m.cmd.timestamp, first = m.cmd.destination;
        assert_int_equal(t_recv(b, &m), 0);
        assert_int_equal(m.cmd.type, BUS1_MSG_NODE_DESTROY);
        assert_int_equal(m.cmd.timestamp, ts);
        assert_true((first == hb1 && m.cmd.destination == hb2) || (first == hb2 && m.cmd.destination == hb1));
        assert_int_equal(t_recv(b, &m), -EAGAIN);

        /* a: the message sent before the destroy, then its own notifications */
        assert_int_equal(t_recv(a, &m), 0);
        assert_int_equal(m.cmd.type, BUS1_MSG_DATA);
        assert_true(m.cmd.timestamp < ts);
        assert_int_equal(t_recv(a, &m), 0);
        assert_int_equal(m.cmd.type, BUS1_MSG_NODE_DESTROY);
        assert_int_equal(t_recv(a, &m), 0);
        assert_int_equal(m.cmd.type, BUS1_MSG_NODE_DESTROY);
        assert_int_equal(t_recv(a, &m), -EAGAIN);

        /* c: its own handle's notification, and the carried handle (ordered
         * before the destroy) arrives valid; they coalesce */
        assert_int_equal(t_recv(c, &m), 0);
        assert_int_equal(m.cmd.type, BUS1_MSG_DATA);
        assert_int_equal(m.handles[0], hc1);
        assert_int_equal(t_recv(c, &m), 0);
        assert_int_equal(m.cmd.type, BUS1_MSG_NODE_DESTROY);
        assert_int_equal(m.cmd.destination, hc1);
        assert_int_equal(t_recv(c, &m), -EAGAIN);

        /* sends after the destroy fail; a handle carried after arrives invalid */
        assert_int_equal(t_send(b, hb1, "x", 1), -EHOSTUNREACH);
        assert_int_equal(t_sendv(b, &hc_b, 1, NULL, "late", 4, &hb1, 1, NULL, 0, 0), 0);
        assert_int_equal(t_recv(c, &m), 0);
        assert_int_equal(m.handles[0], BUS1_HANDLE_INVALID);

        core_peer_free(a);
        core_peer_free(b);
        core_peer_free(c);
}

static void test_destroy_inflight_to_new_holder(void **state)
{
        struct t_engine *t = *state;
        struct core_peer *a = t_peer(t, 1), *b = t_peer(t, 2), *c = t_peer(t, 3);
        __u64 n1 = t_node(a), hb1, hc_b;
        struct t_msg m;

        assert_int_equal(t_transfer(a, n1, b, &hb1), 0);
        assert_int_equal(t_transfer(c, t_node(c), b, &hc_b), 0);
        /* c gets a handle to n1 in a message ordered before the destroy, and
         * receives it only after the destroy: it must still be notified */
        assert_int_equal(t_sendv(b, &hc_b, 1, NULL, "carry", 5, &hb1, 1, NULL, 0, 0), 0);
        assert_int_equal(t_destroy(a, &n1, 1), 0);
        assert_int_equal(t_recv(c, &m), 0);
        __u64 h = m.handles[0];
        assert_int_not_equal(h, BUS1_HANDLE_INVALID);
        assert_int_equal(t_recv(c, &m), 0);
        assert_int_equal(m.cmd.type, BUS1_MSG_NODE_DESTROY);
        assert_int_equal(m.cmd.destination, h);
        assert_int_equal(t_recv(c, &m), -EAGAIN);
        assert_int_equal(t_release(c, h), 0);
        assert_int_equal(t_recv(a, &m), 0);     /* a's own destroy notification */
        assert_int_equal(m.cmd.type, BUS1_MSG_NODE_DESTROY);
        assert_int_equal(t_recv(a, &m), -EAGAIN); /* no release after destroy */
        core_peer_free(a);
        core_peer_free(b);
        core_peer_free(c);
}

static void test_fds(void **state)
{
        struct t_engine *t = *state;
        struct core_peer *a = t_peer(t, 1), *b = t_peer(t, 2);
        __u64 n = t_node(a), hb, fds[1];
        int pipefd[2];
        struct t_msg m;
        char ch = 0;

        assert_int_equal(pipe(pipefd), 0);
        assert_int_equal(t_transfer(a, n, b, &hb), 0);
        fds[0] = (__u64)pipefd[1];
        assert_int_equal(t_sendv(b, &hb, 1, NULL, "f", 1, NULL, 0, fds, 1, 0), 0);
        close(pipefd[1]);
        assert_int_equal(t_recv(a, &m), 0);
        assert_int_equal(m.cmd.n_fds, 1);
        assert_int_equal(write((int)m.fds[0], "!", 1), 1);
        close((int)m.fds[0]);
        assert_int_equal(read(pipefd[0], &ch, 1), 1);
        assert_int_equal(ch, '!');
        /* the last writer is gone: EOF, so no fd leaked inside the engine */
        assert_int_equal(read(pipefd[0], &ch, 1), 0);
        close(pipefd[0]);

        /* undelivered fds are closed when the peer goes */
        assert_int_equal(pipe(pipefd), 0);
        fds[0] = (__u64)pipefd[1];
        assert_int_equal(t_sendv(b, &hb, 1, NULL, "f", 1, NULL, 0, fds, 1, 0), 0);
        close(pipefd[1]);
        core_peer_free(a);
        assert_int_equal(read(pipefd[0], &ch, 1), 0);
        close(pipefd[0]);
        core_peer_free(b);
}

static void test_reset_disconnect(void **state)
{
        struct t_engine *t = *state;
        struct core_peer *a = t_peer(t, 1), *b = t_peer(t, 2);
        __u64 n = t_node(a), hb, hb2, n2;
        struct bus1_cmd_peer_reset rs = { .flags = BUS1_PEER_RESET_LIMITS, .limits = { .messages = 7 } };
        struct bus1_cmd_peer_query q = {};
        struct t_msg m;

        assert_int_equal(t_transfer(a, n, b, &hb), 0);
        assert_int_equal(t_send(b, hb, "x", 1), 0);
        assert_int_equal(core_peer_ioctl(a, BUS1_CMD_PEER_RESET, U(&rs)), 0);
        assert_int_equal(core_peer_ioctl(a, BUS1_CMD_PEER_QUERY, U(&q)), 0);
        assert_int_equal(q.limits.messages, 7);
        assert_int_equal(q.n_nodes, 0);
        assert_int_equal(q.n_queued, 0);
        assert_int_equal(q.n_handles, 0);
        assert_int_equal(t_recv(b, &m), 0);
        assert_int_equal(m.cmd.type, BUS1_MSG_NODE_DESTROY);
        assert_int_equal(t_send(b, hb, "x", 1), -EHOSTUNREACH);
        rs.flags = 2;
        assert_int_equal(core_peer_ioctl(a, BUS1_CMD_PEER_RESET, U(&rs)), -EINVAL);

        /* IDs are never reused */
        n2 = t_node(a);
        assert_true(n2 > n);

        /* disconnect: holders notified; every command then ESHUTDOWN */
        assert_int_equal(t_transfer(a, n2, b, &hb2), 0);
        assert_int_equal(core_peer_ioctl(a, BUS1_CMD_PEER_DISCONNECT, 0), 0);
        assert_int_equal(core_peer_ioctl(a, BUS1_CMD_PEER_DISCONNECT, 0), -ESHUTDOWN);
        assert_int_equal(t_recv(a, &m), -ESHUTDOWN);
        assert_int_equal(t_node(a), BUS1_HANDLE_INVALID);
        assert_int_equal(t_send(a, n2, "x", 1), -ESHUTDOWN);
        assert_int_equal(core_peer_ioctl(a, BUS1_CMD_PEER_QUERY, U(&q)), -ESHUTDOWN);
        assert_int_equal(core_peer_ioctl(a, BUS1_CMD_PEER_RESET, U(&rs)), -EINVAL);
        rs.flags = 0;
        assert_int_equal(core_peer_ioctl(a, BUS1_CMD_PEER_RESET, U(&rs)), -ESHUTDOWN);
        assert_int_equal(t_release(a, n2), -ESHUTDOWN);
        assert_int_equal(t_transfer(b, hb2, a, NULL), -EHOSTUNREACH);
        assert_int_equal(t_recv(b, &m), 0);
        assert_int_equal(m.cmd.type, BUS1_MSG_NODE_DESTROY);
        assert_int_equal(m.cmd.destination, hb2);
        assert_int_equal(t_send(b, hb2, "x", 1), -EHOSTUNREACH);

        /* b's handles to a's nodes can be released; transfer errors */
        assert_int_equal(t_release(b, hb2), 0);
        assert_int_equal(t_transfer(b, 999, a, NULL), -ENXIO);
        struct bus1_cmd_handle_transfer tc = { .src_id = hb };
        assert_int_equal(core_peer_ioctl(b, BUS1_CMD_HANDLE_TRANSFER, U(&tc)), -EBADF);
        tc.flags = 1;
        assert_int_equal(core_peer_ioctl(b, BUS1_CMD_HANDLE_TRANSFER, U(&tc)), -EINVAL);
        core_peer_free(a);
        core_peer_free(b);
}

static void test_disconnect_with_inflight(void **state)
{
        struct t_engine *t = *state;
        struct core_peer *a = t_peer(t, 1), *b = t_peer(t, 2), *c = t_peer(t, 3);
        __u64 na = t_node(a), nc = t_node(c), hb, hb_c;
        struct t_msg m;

        assert_int_equal(t_transfer(a, na, b, &hb), 0);
        assert_int_equal(t_transfer(c, nc, b, &hb_c), 0);
        /* b passes c's node to a, then drops its own handle: in flight only */
        assert_int_equal(t_sendv(b, &hb, 1, NULL, "h", 1, &hb_c, 1, NULL, 0, 0), 0);
        assert_int_equal(t_release(b, hb_c), 0);
        assert_int_equal(t_recv(c, &m), -EAGAIN);       /* still in flight */
        /* a disconnects without receiving: the in-flight handle is dropped,
         * c hears NODE_RELEASE exactly once */
        core_peer_free(a);
        assert_int_equal(t_recv(c, &m), 0);
        assert_int_equal(m.cmd.type, BUS1_MSG_NODE_RELEASE);
        assert_int_equal(t_recv(c, &m), -EAGAIN);
        core_peer_free(b);
        core_peer_free(c);
}

struct t_caller {
        struct core_peer *p;
        __u64 dest;
        int r;
        char reply[64];
        __u64 n_reply;
        __u64 timeout;
};

#include <pthread.h>

static void *t_call_thread(void *arg)
{
        struct t_caller *c = arg;
        struct bus1_vec v = { U("ping"), 4 };
        struct bus1_cmd_call call = {
                .timeout_ns = c->timeout,
                .send = { .n_destinations = 1, .ptr_destinations = U(&c->dest), .n_vecs = 1, .ptr_vecs = U(&v) },
                .recv = { .ptr_payload = U(c->reply), .n_payload = sizeof(c->reply) },
        };

        c->r = core_peer_ioctl(c->p, BUS1_CMD_CALL, U(&call));
        c->n_reply = call.recv.n_payload;
        return NULL;
}

static void test_call(void **state)
{
        struct t_engine *t = *state;
        struct core_peer *srv = t_peer(t, 1), *cli = t_peer(t, 2);
        __u64 n = t_node(srv), h;
        struct t_caller c = {};
        struct bus1_cmd_call bad = {};
        pthread_t th;
        struct t_msg m;

        assert_int_equal(t_transfer(srv, n, cli, &h), 0);
        assert_int_equal(core_peer_ioctl(cli, BUS1_CMD_CALL, U(&bad)), -EINVAL);

        /* reply */
        c.p = cli;
        c.dest = h;
        assert_int_equal(pthread_create(&th, NULL, t_call_thread, &c), 0);
        while (t_recv(srv, &m) == -EAGAIN)
                usleep(100);
        assert_memory_equal(m.payload, "ping", 4);
        assert_int_not_equal(m.cmd.reply_handle, BUS1_HANDLE_INVALID);
        assert_int_equal(t_send(srv, m.cmd.reply_handle, "pong!", 5), 0);
        assert_int_equal(t_send(srv, m.cmd.reply_handle, "again", 5), -ENXIO); /* one-shot */
        pthread_join(th, NULL);
        assert_int_equal(c.r, 0);
        assert_int_equal(c.n_reply, 5);
        assert_memory_equal(c.reply, "pong!", 5);
        assert_int_equal(t_recv(srv, &m), -EAGAIN);     /* no notification noise */
        assert_int_equal(t_recv(cli, &m), -EAGAIN);

        /* released without reply: EPIPE */
        assert_int_equal(pthread_create(&th, NULL, t_call_thread, &c), 0);
        while (t_recv(srv, &m) == -EAGAIN)
                usleep(100);
        assert_int_equal(t_release(srv, m.cmd.reply_handle), 0);
        pthread_join(th, NULL);
        assert_int_equal(c.r, -EPIPE);

        /* timeout: the replier sees the reply handle destroyed */
        c.timeout = 20 * 1000 * 1000;
        t_call_thread(&c);
        assert_int_equal(c.r, -ETIMEDOUT);
        assert_int_equal(t_recv(srv, &m), 0);
        __u64 rh = m.cmd.reply_handle;
        assert_int_equal(t_recv(srv, &m), 0);
        assert_int_equal(m.cmd.type, BUS1_MSG_NODE_DESTROY);
        assert_int_equal(m.cmd.destination, rh);
        assert_int_equal(t_send(srv, rh, "late", 4), -EHOSTUNREACH);
        assert_int_equal(t_release(srv, rh), 0);

        /* a disconnect from another thread ends a waiting call */
        c.timeout = 0;
        assert_int_equal(pthread_create(&th, NULL, t_call_thread, &c), 0);
        while (t_recv(srv, &m) == -EAGAIN)
                usleep(100);
        assert_int_equal(core_peer_ioctl(cli, BUS1_CMD_PEER_DISCONNECT, 0), 0);
        pthread_join(th, NULL);
        assert_int_equal(c.r, -ESHUTDOWN);
        assert_int_equal(t_send(srv, m.cmd.reply_handle, "late", 4), -EHOSTUNREACH);
        core_peer_free(cli);
        cli = t_peer(t, 2);
        assert_int_equal(t_transfer(srv, n, cli, &h), 0);
        c.p = cli;
        c.dest = h;

        /* call errors of the send */
        c.dest = 4242;
        c.timeout = 0;
        t_call_thread(&c);
        assert_int_equal(c.r, -ENXIO);
        assert_int_equal(t_recv(cli, &m), -EAGAIN);

        core_peer_free(srv);
        core_peer_free(cli);
}

static bool last;

static void t_wake_fn(void *ud, unsigned int event)
{
        ++*(int *)ud;
        last = event == CORE_WAKE_READY;
}

static void test_wake(void **state)
{
        struct t_engine *t = *state;
        struct core_peer *a = t_peer(t, 1), *b = t_peer(t, 2);
        __u64 n = t_node(a), hb;
        struct t_msg m;
        int calls = 0;

        core_peer_set_wake(a, t_wake_fn, &calls);
        assert_int_equal(calls, 1);
        assert_false(last);
        assert_int_equal(t_transfer(a, n, b, &hb), 0);
        assert_int_equal(t_send(b, hb, "x", 1), 0);
        assert_true(last);
        assert_int_equal(t_send(b, hb, "x", 1), 0);
        assert_int_equal(calls, 2);
        assert_int_equal(t_recv(a, &m), 0);
        assert_true(last);
        assert_int_equal(t_recv(a, &m), 0);
        assert_false(last);
        assert_int_equal(calls, 3);
        core_peer_wake_check(a);
        assert_int_equal(calls, 4);
        assert_false(last);
        core_peer_set_wake(a, NULL, NULL);
        core_peer_free(a);
        core_peer_free(b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_abi_layout),
                cmocka_unit_test_setup_teardown(test_trace_hook, setup, teardown),
                cmocka_unit_test_setup_teardown(test_peer_create, setup, teardown),
                cmocka_unit_test_setup_teardown(test_node_and_send, setup, teardown),
                cmocka_unit_test_setup_teardown(test_send_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_handles_in_messages, setup, teardown),
                cmocka_unit_test_setup_teardown(test_destroy, setup, teardown),
                cmocka_unit_test_setup_teardown(test_destroy_inflight_to_new_holder, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reset_disconnect, setup, teardown),
                cmocka_unit_test_setup_teardown(test_disconnect_with_inflight, setup, teardown),
                cmocka_unit_test_setup_teardown(test_call, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wake, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
