/*
 * bench-dbus: libbus1 in-process call round trip (see bench.h).
 *
 * Two peers of one in-process engine, a server thread that polls its peer's
 * fd, receives a request and replies on the reply handle, and the calling
 * thread issuing bus1_call() with a BENCH_FLOOR_MSG-byte request: calls/s
 * and p50/p99 per call.
 */

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "libbus1/bus1.h"
#include "test/bench/bench.h"

#define U(_p) ((uint64_t)(uintptr_t)(_p))

static void *native_server(void *arg)
{
        bus1_peer *p = arg;
        struct pollfd pfd = { .fd = bus1_peer_get_fd(p), .events = POLLIN };
        char buf[BENCH_FLOOR_MSG];

        for (;;) {
                struct bus1_cmd_recv rc = { .ptr_payload = U(buf), .n_payload = sizeof(buf) };
                struct bus1_vec v = { U(buf), sizeof(buf) };
                uint64_t rh;
                int r = bus1_recv(p, &rc);

                if (r == -EAGAIN) {
                        poll(&pfd, 1, -1);
                        continue;
                }
                if (r == -ESHUTDOWN)
                        return NULL;
                bench_check(r, "native recv");
                if (rc.reply_handle == BUS1_HANDLE_INVALID)
                        return NULL; /* the stop message */
                rh = rc.reply_handle;
                bench_check(bus1_send(p, &rh, 1, NULL, &v, 1, NULL, 0, NULL, 0, 0), "native reply");
        }
}

void bench_native_call(const struct bench_opts *opts)
{
        char msg[BENCH_FLOOR_MSG], buf[BENCH_FLOOR_MSG];
        struct bus1_vec v = { U(msg), sizeof(msg) };
        struct bench_samples s = {};
        bus1_context *ctx = NULL;
        bus1_peer *server = NULL, *client = NULL;
        uint64_t node = 0, h = 0;
        double t0, t, p50, p99;
        pthread_t th;
        long n = 0;

        memset(msg, 'n', sizeof(msg));
        bench_check(bus1_context_new_inprocess(&ctx, NULL), "context");
        bench_check(bus1_peer_new(&server, ctx), "peer");
        bench_check(bus1_peer_new(&client, ctx), "peer");
        bench_check(bus1_node_new(server, &node), "node");
        bench_check(bus1_handle_transfer(server, node, client, &h), "handle");
        if (pthread_create(&th, NULL, native_server, server))
                bench_die("pthread_create failed");
        t0 = bench_now();
        do {
                struct bus1_cmd_call call = {
                        .send = { .n_destinations = 1, .ptr_destinations = U(&h), .n_vecs = 1, .ptr_vecs = U(&v) },
                        .recv = { .ptr_payload = U(buf), .n_payload = sizeof(buf) },
                };

                t = bench_now();
                bench_check(bus1_call(client, &call), "bus1_call");
                bench_samples_add(&s, (bench_now() - t) * 1e6);
                ++n;
        } while (bench_now() - t0 < opts->duration);
        t = bench_now() - t0;
        bench_check(bus1_send(client, &h, 1, NULL, &v, 1, NULL, 0, NULL, 0, 0), "native stop");
        pthread_join(th, NULL);
        bench_samples_stats(&s, &p50, &p99);
        bench_result("rtt_calls_per_s", n / t);
        bench_result("rtt_p50_us", p50);
        bench_result("rtt_p99_us", p99);
        bench_samples_free(&s);
        bus1_peer_free(client);
        bus1_peer_free(server);
        bus1_context_free(ctx);
}
