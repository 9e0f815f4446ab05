/*
 * Randomized commands: 200000 commands with random mixes of valid and
 * invalid flags, reserved fields, IDs, counts, buffers and peers, on a few
 * peers that also disconnect and come back. Every result must be 0 or an
 * errno documented for that command in core/uapi/bus1.h; nothing may crash
 * or leak (ASan, and the host's live allocation count at the end).
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

#define N_PEERS 4
#define POOL 32

static uint64_t seed = 0x853c49e6748fea9bULL;

static uint64_t rnd(void)
{
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        return seed;
}

static bool chance(unsigned int pct)
{
        return rnd() % 100 < pct;
}

struct world {
        struct t_engine t;
        struct core_peer *p[N_PEERS];
        __u64 ids[N_PEERS][POOL];
        int fds[2];
};

static __u64 pick_id(struct world *w, int i)
{
        if (chance(10))
                return chance(50) ? rnd() % 64 : BUS1_HANDLE_INVALID;
        return w->ids[i][rnd() % POOL];
}

static void learn(struct world *w, int i, __u64 id)
{
        if (id != BUS1_HANDLE_INVALID && id)
                w->ids[i][rnd() % POOL] = id;
}

static __u64 flags(__u64 valid)
{
        if (chance(5))
                return 1ULL << (rnd() % 64);
        return chance(50) ? valid : 0;
}

static __u64 reserved(void)
{
        return chance(3) ? rnd() | 1 : 0;
}

/* a count within a buffer of 16, or (rarely) far above every maximum */
static __u64 count(void)
{
        return chance(3) ? (1ULL << 40) : rnd() % 17;
}

static long n_ok[10], n_err[10];

#define ALLOWED(_r, ...) do { \
                if (_r) ++n_err[op]; else ++n_ok[op]; \
                const int _ok[] = { 0, __VA_ARGS__ }; size_t _i; bool _found = false; \
                for (_i = 0; _i < sizeof(_ok) / sizeof(_ok[0]); ++_i) \
                        if ((_r) == -_ok[_i]) _found = true; \
                if (!_found) fail_msg("cmd %d returned undocumented %d", op, (_r)); \
        } while (0)

static void one(struct world *w)
{
        int i = rnd() % N_PEERS, op = rnd() % 10, r;
        struct core_peer *p = w->p[i];
        __u64 a[16], b[16], fdv[16];
        struct bus1_vec vec[16];
        char payload[64] = "data";
        static char rbuf[16 * 64];
        unsigned int k;

        for (k = 0; k < 16; ++k) {
                a[k] = pick_id(w, i);
                b[k] = pick_id(w, i);
                vec[k].ptr = U(payload);
                vec[k].len = rnd() % 64;
                fdv[k] = chance(90) ? (__u64)w->fds[rnd() % 2] : 9999;
        }

        switch (op) {
        case 0: {
                struct bus1_cmd_peer_query c = { .flags = flags(0), .reserved = reserved() };

                r = core_peer_ioctl(p, BUS1_CMD_PEER_QUERY, U(&c));
                ALLOWED(r, EINVAL, ESHUTDOWN);
                break;
        }
        case 1: {
                struct bus1_cmd_peer_reset c = { .flags = flags(BUS1_PEER_RESET_LIMITS), .reserved = reserved() };

                if (!chance(10))
                        return;
                c.limits.messages = rnd() % 4 ? 0 : 1 + rnd() % 100;
                r = core_peer_ioctl(p, BUS1_CMD_PEER_RESET, U(&c));
                ALLOWED(r, EINVAL, ESHUTDOWN);
                break;
        }
        case 2: {
                struct bus1_cmd_node_create c = { .flags = flags(0), .reserved = reserved() };

                r = core_peer_ioctl(p, BUS1_CMD_NODE_CREATE, U(&c));
                ALLOWED(r, EINVAL, ESHUTDOWN);
                if (!r)
                        learn(w, i, c.handle_id);
                break;
        }
        case 3: {
                int j = rnd() % N_PEERS;
                struct bus1_cmd_handle_transfer c = {
                        .flags = flags(0), .reserved = reserved(), .src_id = a[0],
                        .dst_peer = chance(95) ? U(w->p[j]) : 0,
                };

                r = core_peer_ioctl(p, BUS1_CMD_HANDLE_TRANSFER, U(&c));
                ALLOWED(r, EINVAL, ENXIO, EBADF, EHOSTUNREACH, ESHUTDOWN);
                if (!r)
                        learn(w, j, c.dst_id);
                break;
        }
        case 4: {
                struct bus1_cmd_handle_release c = { .flags = flags(0), .reserved = reserved(), .handle_id = a[0] };

                r = core_peer_ioctl(p, BUS1_CMD_HANDLE_RELEASE, U(&c));
                ALLOWED(r, EINVAL, ENXIO, EBUSY, ESHUTDOWN);
                break;
        }
        case 5: {
                struct bus1_cmd_nodes_destroy c = {
                        .flags = flags(0), .reserved = reserved(), .n_ids = count() % 4, .ptr_ids = U(a),
                };

                if (chance(2))
                        c.n_ids = BUS1_HANDLE_MAX + 1;
                r = core_peer_ioctl(p, BUS1_CMD_NODES_DESTROY, U(&c));
                ALLOWED(r, EINVAL, ENXIO, EPERM, EHOSTUNREACH, ESHUTDOWN);
                break;
        }
        case 6:
        case 7: {
                __u64 errs[16];
                struct bus1_cmd_send c = {
                        .flags = flags(BUS1_SEND_CONTINUE), .reserved = reserved(),
                        .n_destinations = count() % 5, .ptr_destinations = U(a),
                        .ptr_errors = chance(50) ? U(errs) : 0,
                        .n_vecs = count(), .ptr_vecs = U(vec),
                        .n_handles = count() % 5, .ptr_handles = U(b),
                        .n_fds = count() % 3, .ptr_fds = U(fdv),
                };

                if (chance(2))
                        c.ptr_vecs = 0;
                /* declared charges: mostly with the flag, sometimes above
                 * the bounds, sometimes without the flag (EINVAL) */
                if (chance(30)) {
                        c.flags |= chance(90) ? BUS1_SEND_CHARGE : 0;
                        c.charge_bytes = chance(10) ? BUS1_PAYLOAD_MAX + (rnd() % 2) : rnd() % 4096;
                        c.charge_fds = rnd() % (BUS1_FD_MAX + 2);
                }
                r = core_peer_ioctl(p, BUS1_CMD_SEND, U(&c));
                ALLOWED(r, EINVAL, EFAULT, EBADF, ENXIO, EHOSTUNREACH, EDQUOT, ESHUTDOWN);
                break;
        }
        case 8: {
                struct bus1_cmd_recv c = {
                        .flags = flags(BUS1_RECV_PEEK), .reserved = reserved(),
                        .ptr_payload = U(rbuf), .n_payload = rnd() % 2 ? sizeof(rbuf) : rnd() % 64,
                        .ptr_handles = U(a), .n_handles = count(),
                        .ptr_fds = U(fdv), .n_fds = count(),
                };

                if (c.n_handles > 16)
                        c.n_handles = 16;
                if (c.n_fds > 16)
                        c.n_fds = 16;
                r = core_peer_ioctl(p, BUS1_CMD_RECV, U(&c));
                ALLOWED(r, EINVAL, EFAULT, EAGAIN, EMSGSIZE, EMFILE, ESHUTDOWN);
                if (!r && !(c.flags & BUS1_RECV_PEEK)) {
                        for (k = 0; k < c.n_handles; ++k)
                                learn(w, i, a[k]);
                        learn(w, i, c.reply_handle);
                        for (k = 0; k < c.n_fds; ++k)
                                close((int)fdv[k]);
                }
                break;
        }
        default: {
                struct bus1_cmd_call c = {
                        .flags = flags(0), .reserved = reserved(), .timeout_ns = 1000,
                        .send = { .n_destinations = 1, .ptr_destinations = U(a), .n_vecs = 1, .ptr_vecs = U(vec) },
                        .recv = { .ptr_payload = U(rbuf), .n_payload = sizeof(rbuf) },
                };

                if (chance(80))
                        return;
                if (chance(30)) {
                        c.send.flags = flags(BUS1_SEND_CHARGE);
                        c.send.charge_bytes = rnd() % 4096;
                }
                r = core_peer_ioctl(p, BUS1_CMD_CALL, U(&c));
                ALLOWED(r, EINVAL, EFAULT, EBADF, ENXIO, EHOSTUNREACH, EDQUOT, ESHUTDOWN, ETIMEDOUT, EPIPE,
                        EMSGSIZE);
                break;
        }
        }

        if (chance(1) && chance(20)) {
                r = core_peer_ioctl(p, BUS1_CMD_PEER_DISCONNECT, 0);
                ALLOWED(r, ESHUTDOWN);
                if (chance(70)) {
                        core_peer_free(p);
                        w->p[i] = t_peer(&w->t, i);
                        assert_non_null(w->p[i]);
                        memset(w->ids[i], 0, sizeof(w->ids[i]));
                }
        }
}

static void test_random_commands(void **state)
{
        struct bus1_limits l = { .messages = 256 };
        struct world w = {};
        long n;
        int i;

        assert_int_equal(pipe(w.fds), 0);
        assert_int_equal(t_engine_init(&w.t, &l), 0);
        for (i = 0; i < N_PEERS; ++i) {
                w.p[i] = t_peer(&w.t, i);
                assert_non_null(w.p[i]);
        }
        for (n = 0; n < 200000; ++n)
                one(&w);
        printf("# per command (query reset create transfer release destroy send send recv call): ok/failed");
        for (i = 0; i < 10; ++i)
                printf(" %ld/%ld", n_ok[i], n_err[i]);
        printf("\n");
        for (i = 0; i < 10; ++i)
                if (i != 1 && i != 9)
                        assert_true(n_ok[i] > 0 && n_err[i] > 0);
        for (i = 0; i < N_PEERS; ++i)
                core_peer_free(w.p[i]);
        core_engine_free(w.t.engine);
        assert_int_equal(host_alloc_live(w.t.host), 0);
        core_host_free(w.t.host);
        close(w.fds[0]);
        close(w.fds[1]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_random_commands),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
