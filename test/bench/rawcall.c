/*
 * bench-dbus: method calls between raw D-Bus clients through a broker (see
 * bench.h).
 *
 * The sd-bus groups (bus.c) measure a broker together with sd-bus, whose
 * client and server take about as long per call as a broker hop does (the
 * "sd-bus p2p" and "socketpair" floors show it). Here both ends are
 * hand-written and do almost nothing: the client writes a pre-built Ping
 * call (only the serial changes) and frames what it reads; the server frames
 * what it reads, parses the header fields of each call and answers it with a
 * method return echoing its body, all answers to one read in one write. What
 * is left is the broker and the socket work any client does, which is what
 * the floors' clients and servers do. bench_raw_floor() runs the same
 * client and server without a broker, on a socketpair and through the relay
 * process of floor.c: the like-for-like floors of these rows.
 *
 *   raw   raw_rtt_*: sequential calls, calls/s and p50/p99 per call;
 *         raw_pipe64_*: BENCH_PIPELINE calls in flight, calls/s;
 *         with broker pids, the broker's CPU per call of each
 *
 * Both ends use libraw (test/integration/raw.h): SASL EXTERNAL, Hello,
 * little-endian messages, unix:path= addresses.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "test/bench/bench.h"
#include "test/integration/raw.h"

#define READ_CHUNK (256 * 1024)
#define FLAG_NO_REPLY_EXPECTED 0x1
#define TIMEOUT_MS 10000

/* A read buffer that frames messages. */
struct framer {
        int fd;
        uint8_t *p;
        size_t n;
        size_t cap;
        size_t off;     /* start of the next unframed message */
};

static void framer_init(struct framer *f, int fd)
{
        *f = (struct framer){ .fd = fd, .cap = READ_CHUNK };
        f->p = malloc(f->cap);
        if (!f->p)
                bench_die("out of memory");
}

/* Read what is there (at least one byte); false at EOF or a reset. */
static bool framer_fill(struct framer *f)
{
        size_t need = 0;
        ssize_t k;

        memmove(f->p, f->p + f->off, f->n - f->off);
        f->n -= f->off;
        f->off = 0;
        if (f->n >= 16)
                need = raw_message_size(f->p);
        if (need > f->cap) {
                f->cap = need;
                f->p = realloc(f->p, f->cap);
                if (!f->p)
                        bench_die("out of memory");
        }
        do
                k = read(f->fd, f->p + f->n, f->cap - f->n);
        while (k < 0 && errno == EINTR);
        if (k <= 0)
                return false;
        f->n += (size_t)k;
        return true;
}

/* The next complete message (and its length), or NULL until more is read. */
static const uint8_t *framer_next(struct framer *f, size_t *len)
{
        size_t avail = f->n - f->off;
        const uint8_t *m = f->p + f->off;

        if (avail < 16)
                return NULL;
        *len = raw_message_size(m);
        if (!*len)
                bench_die("raw client: the broker sent bytes that are not a message");
        if (*len > avail)
                return NULL;
        f->off += *len;
        return m;
}

/*
 * Server: answer every method call on @fd that expects a reply (to its
 * sender, if it has one: not without a bus), until the connection ends.
 */
static _Noreturn void serve_fd(int fd, uint32_t serial)
{
        struct raw_buf out, one;
        struct framer in;

        framer_init(&in, fd);
        raw_buf_init(&out, false);
        raw_buf_init(&one, false);
        while (framer_fill(&in)) {
                const uint8_t *m;
                size_t len;

                out.len = 0;
                while ((m = framer_next(&in, &len))) {
                        struct raw_info info;
                        struct raw_header h = { .type = RAW_METHOD_RETURN, .flags = FLAG_NO_REPLY_EXPECTED };

                        if (m[1] != RAW_METHOD_CALL || (m[2] & FLAG_NO_REPLY_EXPECTED))
                                continue;
                        if (raw_message_parse(&info, m, len) < 0)
                                bench_die("raw server: unreadable call");
                        h.serial = serial++;
                        h.reply_serial = info.serial;
                        h.destination = info.sender[0] ? info.sender : NULL;
                        h.signature = info.signature[0] ? info.signature : NULL;
                        one.len = 0;
                        raw_message_build(&one, &h, m + info.body_offset, info.body_len);
                        raw_buf_put(&out, one.data, one.len);
                }
                if (out.len)
                        bench_write_all(fd, out.data, out.len);
        }
        _exit(0);
}

/* Server child on a bus: Hello, its unique name NUL-terminated on @ready, serve. */
static _Noreturn void serve(const char *address, int ready)
{
        char unique[256];
        int fd;

        fd = raw_connect_hello(address, false, false, unique, TIMEOUT_MS);
        bench_check(fd, "raw server: connect");
        bench_write_all(ready, unique, strlen(unique) + 1);
        close(ready);
        serve_fd(fd, 2); /* Hello was 1 */
}

struct caller {
        struct framer in;
        struct raw_buf call;    /* one pre-built Ping */
        uint32_t serial;
};

/* Write @n Pings (serials patched) in one write. */
static void caller_send(struct caller *c, struct raw_buf *batch, unsigned int n)
{
        unsigned int i;

        batch->len = 0;
        for (i = 0; i < n; ++i) {
                uint32_t serial = c->serial++;

                memcpy(c->call.data + 8, &serial, 4); /* little-endian host (x86, arm64) */
                raw_buf_put(batch, c->call.data, c->call.len);
        }
        bench_write_all(c->in.fd, batch->data, batch->len);
}

/* Method returns among what has been read; dies on an error reply. */
static unsigned int caller_returns(struct caller *c)
{
        const uint8_t *m;
        unsigned int n = 0;
        size_t len;

        while ((m = framer_next(&c->in, &len))) {
                struct raw_info info;

                if (m[1] == RAW_ERROR) {
                        if (raw_message_parse(&info, m, len) < 0)
                                bench_die("raw client: unreadable error reply");
                        bench_die("raw client: Ping failed: %s", info.error_name);
                }
                n += m[1] == RAW_METHOD_RETURN;
        }
        return n;
}

static void caller_wait(struct caller *c, unsigned int n)
{
        unsigned int got = caller_returns(c);

        while (got < n) {
                if (!framer_fill(&c->in))
                        bench_die("raw client: connection lost");
                got += caller_returns(c);
        }
}

static void raw_rtt(const struct bench_opts *opts, struct caller *c, struct raw_buf *batch)
{
        struct bench_samples s = {};
        double t0, t, c0 = 0, p50, p99;
        long n = 0;

        if (opts->n_cpu_pids)
                c0 = (double)bench_cpu_ns(opts);
        t0 = bench_now();
        do {
                t = bench_now();
                caller_send(c, batch, 1);
                caller_wait(c, 1);
                bench_samples_add(&s, (bench_now() - t) * 1e6);
                ++n;
        } while (bench_now() - t0 < opts->duration);
        t = bench_now() - t0;
        if (opts->n_cpu_pids)
                bench_result("cpu_raw_rtt_us", ((double)bench_cpu_ns(opts) - c0) / 1e3 / (double)n);
        bench_samples_stats(&s, &p50, &p99);
        bench_result("raw_rtt_calls_per_s", (double)n / t);
        bench_result("raw_rtt_p50_us", p50);
        bench_result("raw_rtt_p99_us", p99);
        bench_samples_free(&s);
}

static void raw_pipelined(const struct bench_opts *opts, struct caller *c, struct raw_buf *batch)
{
        long issued = BENCH_PIPELINE, done = 0;
        double t0, c0 = 0, deadline;

        if (opts->n_cpu_pids)
                c0 = (double)bench_cpu_ns(opts);
        t0 = bench_now();
        deadline = t0 + opts->duration;
        caller_send(c, batch, BENCH_PIPELINE);
        while (done < issued) {
                unsigned int k;

                if (!framer_fill(&c->in))
                        bench_die("raw client: connection lost");
                k = caller_returns(c);
                done += k;
                if (k && bench_now() < deadline) {
                        caller_send(c, batch, k);
                        issued += k;
                }
        }
        t0 = bench_now() - t0;
        if (opts->n_cpu_pids)
                bench_result("cpu_raw_pipe64_us", ((double)bench_cpu_ns(opts) - c0) / 1e3 / (double)done);
        bench_result("raw_pipe64_calls_per_s", (double)done / t0);
}

/*
 * One connection with the writes of sd-bus: AUTH and BEGIN in one write;
 * once OK is read, the Hello; read up to the Hello reply, close.
 */
static void connect_once(const char *address, const struct raw_buf *auth, const struct raw_buf *hello,
                         struct framer *in)
{
        const uint8_t *m;
        uint8_t *eol;
        size_t len;
        int fd = raw_connect(address);

        bench_check(fd, "raw client: connect");
        bench_write_all(fd, auth->data, auth->len);
        *in = (struct framer){ .fd = fd, .p = in->p, .cap = in->cap };
        while (!(eol = memmem(in->p, in->n, "\r\n", 2)))
                if (!framer_fill(in))
                        bench_die("raw client: connection lost during SASL");
        if (in->n < 3 || memcmp(in->p, "OK ", 3))
                bench_die("raw client: SASL refused: %.*s", (int)(eol - in->p), (const char *)in->p);
        in->off = (size_t)(eol - in->p) + 2;
        bench_write_all(fd, hello->data, hello->len);
        for (;;) {
                while (!(m = framer_next(in, &len)))
                        if (!framer_fill(in))
                                bench_die("raw client: connection lost before the Hello reply");
                if (m[1] == RAW_METHOD_RETURN)
                        break;
                if (m[1] == RAW_ERROR)
                        bench_die("raw client: Hello failed");
        }
        close(fd);
}

void bench_raw_connect(const struct bench_opts *opts)
{
        static const struct raw_header hello = {
                .type = RAW_METHOD_CALL, .serial = 1, .path = "/org/freedesktop/DBus",
                .interface = "org.freedesktop.DBus", .member = "Hello", .destination = "org.freedesktop.DBus",
        };
        struct raw_buf auth, msg;
        struct framer in;
        double t0, c0 = 0;
        long n = 0;

        framer_init(&in, -1);
        raw_buf_init(&auth, false);
        raw_buf_init(&msg, false);
        raw_buf_put_auth_external(&auth);
        raw_buf_put(&auth, "BEGIN\r\n", 7);
        raw_message_build(&msg, &hello, NULL, 0);

        connect_once(opts->address, &auth, &msg, &in); /* warm up */
        if (opts->n_cpu_pids)
                c0 = (double)bench_cpu_ns(opts);
        t0 = bench_now();
        do {
                connect_once(opts->address, &auth, &msg, &in);
                ++n;
        } while (bench_now() - t0 < opts->duration);
        t0 = bench_now() - t0;
        if (opts->n_cpu_pids)
                bench_result("cpu_raw_connect_us", ((double)bench_cpu_ns(opts) - c0) / 1e3 / (double)n);
        bench_result("raw_connect_per_s", (double)n / t0);
        free(in.p);
        raw_buf_deinit(&msg);
        raw_buf_deinit(&auth);
}

/* The round trip and pipeline figures of a client on @fd, calling @dest. */
static void calls(const struct bench_opts *opts, int fd, const char *dest)
{
        struct raw_buf body, batch;
        struct caller c = { .serial = 2 };

        framer_init(&c.in, fd);
        raw_buf_init(&body, false);
        raw_buf_init(&batch, false);
        raw_buf_init(&c.call, false);
        raw_buf_put_string(&body, BENCH_PING_ARG);
        raw_message_build(&c.call, &(struct raw_header){ .type = RAW_METHOD_CALL, .path = BENCH_PATH,
                                                         .interface = BENCH_INTERFACE, .member = "Ping",
                                                         .destination = dest, .signature = "s" },
                          body.data, body.len);
        caller_send(&c, &batch, 1); /* warm up */
        caller_wait(&c, 1);
        raw_rtt(opts, &c, &batch);
        raw_pipelined(opts, &c, &batch);
        free(c.in.p);
        raw_buf_deinit(&c.call);
        raw_buf_deinit(&batch);
        raw_buf_deinit(&body);
}

void bench_raw_calls(const struct bench_opts *opts)
{
        char unique[256], dest[256];
        pid_t server = bench_server_start(serve, opts->address, dest, sizeof(dest));
        int fd;

        fd = raw_connect_hello(opts->address, false, false, unique, TIMEOUT_MS);
        bench_check(fd, "raw client: connect");
        calls(opts, fd, dest);
        close(fd);
        bench_reap(server, true);
        bench_raw_connect(opts);
}

static void serve_floor(int fd, void *userdata)
{
        (void)userdata;
        serve_fd(fd, 1);
}

void bench_raw_floor(const struct bench_opts *opts, bool with_relay)
{
        pid_t server, relay_pid;
        int fd = bench_floor_start(opts, with_relay, serve_floor, NULL, &server, &relay_pid);

        calls(opts, fd, ":1.1"); /* as long as the unique name on a bus */
        close(fd);
        bench_reap(relay_pid, true);
        bench_reap(server, true);
}
