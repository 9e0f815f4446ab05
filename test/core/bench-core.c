/*
 * bench-core: throughput of the in-process engine (not a test).
 *
 *   unicast   send + recv of 64-byte messages between two peers, one thread
 *   multicast one send to N peers (N = 1, 10, 100) + N receives, one thread
 *   call      request/reply round trips between two threads (poll on the
 *             server's fd, BUS1_CMD_CALL on the client)
 *
 * Usage: bench-core [scale]   (scale multiplies the iteration counts; 1.0)
 * Run pinned for comparable figures: taskset -c 0 ./bench-core
 * Single-thread figures are also given per CPU-second of the thread, which
 * does not depend on other load on the machine.
 */

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "libbus1/bus1.h"

#define U(_p) ((uint64_t)(uintptr_t)(_p))

static double now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of this thread: the figure that does not depend on machine load. */
static double cpu(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int r)
{
        fprintf(stderr, "bench-core: %s: %s\n", what, strerror(-r));
        exit(1);
}

static bus1_context *ctx;

static bus1_peer *peer(void)
{
        bus1_peer *p;
        int r = bus1_peer_new(&p, ctx);

        if (r)
                die("peer", r);
        return p;
}

static uint64_t handle_to(bus1_peer *owner, bus1_peer *holder)
{
        uint64_t node = 0, h = 0;
        int r;

        if ((r = bus1_node_new(owner, &node)) || (r = bus1_handle_transfer(owner, node, holder, &h)))
                die("handle", r);
        return h;
}

static void bench_unicast(long n)
{
        bus1_peer *a = peer(), *b = peer();
        uint64_t h = handle_to(a, b);
        char msg[64] = "x", buf[64];
        struct bus1_vec v = { U(msg), sizeof(msg) };
        struct bus1_cmd_recv rc;
        double t0, t, c0, c;
        long i;
        int r;

        t0 = now();
        c0 = cpu();
        for (i = 0; i < n; ++i) {
                if ((r = bus1_send(b, &h, 1, NULL, &v, 1, NULL, 0, NULL, 0, 0)))
                        die("send", r);
                memset(&rc, 0, sizeof(rc));
                rc.ptr_payload = U(buf);
                rc.n_payload = sizeof(buf);
                if ((r = bus1_recv(a, &rc)))
                        die("recv", r);
        }
        t = now() - t0;
        c = cpu() - c0;
        printf("unicast 64B send+recv      %10ld msgs  %8.3f s  %12.0f msgs/s   (%.0f msgs per CPU-s)\n",
               n, t, n / t, n / c);
        bus1_peer_free(a);
        bus1_peer_free(b);
}

static void bench_multicast(long n, int k)
{
        bus1_peer *s = peer(), **rcv = calloc(k, sizeof(*rcv));
        uint64_t *h = calloc(k, sizeof(*h));
        char msg[64] = "m", buf[64];
        struct bus1_vec v = { U(msg), sizeof(msg) };
        struct bus1_cmd_recv rc;
        double t0, t, c0, c;
        long i;
        int j, r;

        for (j = 0; j < k; ++j) {
                rcv[j] = peer();
                h[j] = handle_to(rcv[j], s);
        }
        t0 = now();
        c0 = cpu();
        for (i = 0; i < n; ++i) {
                if ((r = bus1_send(s, h, k, NULL, &v, 1, NULL, 0, NULL, 0, 0)))
                        die("send", r);
                for (j = 0; j < k; ++j) {
                        memset(&rc, 0, sizeof(rc));
                        rc.ptr_payload = U(buf);
                        rc.n_payload = sizeof(buf);
                        if ((r = bus1_recv(rcv[j], &rc)))
                                die("recv", r);
                }
        }
        t = now() - t0;
        c = cpu() - c0;
        printf("multicast to %3d peers     %10ld sends %8.3f s  %12.0f sends/s %12.0f deliveries/s"
               "   (%.0f deliveries per CPU-s)\n", k, n, t, n / t, (double)n * k / t, (double)n * k / c);
        for (j = 0; j < k; ++j)
                bus1_peer_free(rcv[j]);
        bus1_peer_free(s);
        free(rcv);
        free(h);
}

struct server {
        bus1_peer *p;
        long n;
};

static void *server(void *arg)
{
        struct server *s = arg;
        struct pollfd pfd = { .fd = bus1_peer_get_fd(s->p), .events = POLLIN };
        char buf[64];
        long i;

        for (i = 0; i < s->n; ++i) {
                struct bus1_cmd_recv rc;
                struct bus1_vec v = { U(buf), sizeof(buf) };
                uint64_t rh;
                int r;

                for (;;) {
                        memset(&rc, 0, sizeof(rc));
                        rc.ptr_payload = U(buf);
                        rc.n_payload = sizeof(buf);
                        r = bus1_recv(s->p, &rc);
                        if (r != -EAGAIN)
                                break;
                        poll(&pfd, 1, -1);
                }
                if (r)
                        die("server recv", r);
                rh = rc.reply_handle;
                if ((r = bus1_send(s->p, &rh, 1, NULL, &v, 1, NULL, 0, NULL, 0, 0)))
                        die("reply", r);
        }
        return NULL;
}

static void bench_call(long n)
{
        struct server s = { .p = peer(), .n = n };
        bus1_peer *c = peer();
        uint64_t h = handle_to(s.p, c);
        char msg[64] = "q", buf[64];
        struct bus1_vec v = { U(msg), sizeof(msg) };
        pthread_t th;
        double t0, t;
        long i;
        int r;

        pthread_create(&th, NULL, server, &s);
        t0 = now();
        for (i = 0; i < n; ++i) {
                struct bus1_cmd_call call = {
                        .send = { .n_destinations = 1, .ptr_destinations = U(&h), .n_vecs = 1, .ptr_vecs = U(&v) },
                        .recv = { .ptr_payload = U(buf), .n_payload = sizeof(buf) },
                };

                if ((r = bus1_call(c, &call)))
                        die("call", r);
        }
        t = now() - t0;
        pthread_join(th, NULL);
        printf("call round trip (2 threads) %9ld calls %8.3f s  %12.0f calls/s (%.2f us each)\n",
               n, t, n / t, t / n * 1e6);
        bus1_peer_free(s.p);
        bus1_peer_free(c);
}

int main(int argc, char **argv)
{
        double scale = argc > 1 ? atof(argv[1]) : 1.0;
        struct bus1_limits big = { .messages = 1 << 20 };
        int r;

        if ((r = bus1_context_new_inprocess(&ctx, &big)))
                die("context", r);
        bench_unicast((long)(4000000 * scale));
        bench_multicast((long)(1000000 * scale), 1);
        bench_multicast((long)(200000 * scale), 10);
        bench_multicast((long)(20000 * scale), 100);
        bench_call((long)(200000 * scale));
        bus1_context_free(ctx);
        return 0;
}
