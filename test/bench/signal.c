/*
 * bench-dbus: signals and memory, with raw D-Bus clients (see bench.h).
 *
 * The clients here are hand-written so that only the broker is measured:
 * a sender writes pre-built signal messages (only the serial changes), and
 * a subscriber reads in 256 KiB chunks and merely frames messages by their
 * fixed header and counts the signals. Unix socket addresses only
 * (unix:path= and unix:abstract=), SASL EXTERNAL, little-endian messages.
 *
 *   fanout   signals/s from one sender to 1, 10, 100 subscribers
 *   matches  signals/s to one subscriber while idle connections hold
 *            0, 1000, 10000 match rules that do not match the signal
 *   rss      broker RSS idle, and KiB per connection for clients that each
 *            did Hello and added 10 (unrelated) match rules
 *
 * Flow control: the sender sends batches of BATCH signals and has at most
 * two batches outstanding; every subscriber reports each completed batch
 * with one byte on a shared pipe. The broker's queues stay small, so no
 * broker drops or throttles anything.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "test/bench/bench.h"

#define BATCH 128
#define TICK_MEMBER "Tick"
#define TICK_ARG_LEN 100        /* body: u32 length + 100 bytes + NUL */
#define TICK_BODY_LEN (4 + TICK_ARG_LEN + 1)
#define RULES_PER_HOLDER 100

struct mbuf {
        uint8_t *p;
        size_t n;
        size_t cap;
};

static void mb_reserve(struct mbuf *b, size_t more)
{
        if (b->n + more <= b->cap)
                return;
        b->cap = (b->n + more) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
                bench_die("out of memory");
}

static void mb_align(struct mbuf *b, size_t base, size_t a)
{
        while ((b->n - base) % a) {
                mb_reserve(b, 1);
                b->p[b->n++] = 0;
        }
}

static void mb_put(struct mbuf *b, const void *p, size_t n)
{
        mb_reserve(b, n);
        memcpy(b->p + b->n, p, n);
        b->n += n;
}

static void mb_u32(struct mbuf *b, size_t base, uint32_t v)
{
        mb_align(b, base, 4);
        mb_put(b, &v, 4); /* little-endian host (x86, arm64) */
}

static void mb_string(struct mbuf *b, size_t base, const char *s)
{
        mb_u32(b, base, (uint32_t)strlen(s));
        mb_put(b, s, strlen(s) + 1);
}

static void mb_field(struct mbuf *b, size_t base, uint8_t code, char type, const char *value)
{
        char sig[3] = { 1, type, 0 };

        mb_align(b, base, 8);
        mb_put(b, &code, 1);
        mb_put(b, sig, 3);
        if (type == 'g') {
                uint8_t len = (uint8_t)strlen(value);

                mb_put(b, &len, 1);
                mb_put(b, value, len + 1u);
        } else {
                mb_string(b, base, value);
        }
}

/*
 * Append a message (method call or signal) with one string argument (or
 * none if @arg is NULL). Returns the offset of the message in @b.
 */
static size_t mb_message(struct mbuf *b, uint8_t type, uint32_t serial, const char *dest, const char *path,
                         const char *iface, const char *member, const char *arg)
{
        size_t base = b->n, fields, body;
        uint8_t head[4] = { 'l', type, 0, 1 };

        mb_put(b, head, 4);
        mb_u32(b, base, 0); /* body length, patched */
        mb_u32(b, base, serial);
        mb_u32(b, base, 0); /* fields length, patched */
        fields = b->n;
        mb_field(b, base, 1, 'o', path);
        mb_field(b, base, 2, 's', iface);
        mb_field(b, base, 3, 's', member);
        if (dest)
                mb_field(b, base, 6, 's', dest);
        if (arg)
                mb_field(b, base, 8, 'g', "s");
        {
                uint32_t flen = (uint32_t)(b->n - fields);

                memcpy(b->p + base + 12, &flen, 4);
        }
        mb_align(b, base, 8);
        body = b->n;
        if (arg)
                mb_string(b, base, arg);
        {
                uint32_t blen = (uint32_t)(b->n - body);

                memcpy(b->p + base + 4, &blen, 4);
        }
        return base;
}

/* Total length of the message at @p if its fixed header is complete, else 0. */
static size_t frame_len(const uint8_t *p, size_t avail)
{
        uint32_t body, fields;

        if (avail < 16)
                return 0;
        memcpy(&body, p + 4, 4);
        memcpy(&fields, p + 12, 4);
        if (p[0] == 'B') {
                body = __builtin_bswap32(body);
                fields = __builtin_bswap32(fields);
        }
        return 16 + (((size_t)fields + 7) & ~(size_t)7) + body;
}

static uint32_t frame_body_len(const uint8_t *p)
{
        uint32_t body;

        memcpy(&body, p + 4, 4);
        return p[0] == 'B' ? __builtin_bswap32(body) : body;
}

struct raw {
        int fd;
        uint32_t serial;
        struct mbuf in;
};

static int raw_socket(const char *address)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        const char *p;
        socklen_t len;
        size_t n;
        int fd;

        if ((p = strstr(address, "unix:path="))) {
                p += strlen("unix:path=");
                n = strcspn(p, ",;");
                if (n >= sizeof(sa.sun_path))
                        bench_die("address too long");
                memcpy(sa.sun_path, p, n);
                len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        } else if ((p = strstr(address, "unix:abstract="))) {
                p += strlen("unix:abstract=");
                n = strcspn(p, ",;");
                if (n + 1 >= sizeof(sa.sun_path))
                        bench_die("address too long");
                memcpy(sa.sun_path + 1, p, n);
                len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
        } else {
                bench_die("raw clients need a unix:path= or unix:abstract= address: %s", address);
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                bench_die("socket: %m");
        if (connect(fd, (struct sockaddr *)&sa, len) < 0)
                bench_die("connect %s: %m", address);
        return fd;
}

/* Read until @n method returns arrived (other messages are skipped). */
static void raw_wait_returns(struct raw *c, unsigned int n)
{
        while (n > 0) {
                size_t len;
                ssize_t k;

                while ((len = frame_len(c->in.p, c->in.n)) && len <= c->in.n) {
                        if (c->in.p[1] == 3)
                                bench_die("the broker answered with an error");
                        if (c->in.p[1] == 2)
                                --n;
                        memmove(c->in.p, c->in.p + len, c->in.n - len);
                        c->in.n -= len;
                        if (!n)
                                return;
                }
                mb_reserve(&c->in, 65536);
                k = read(c->fd, c->in.p + c->in.n, 65536);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        bench_die("raw client: connection lost: %s", k ? strerror(errno) : "EOF");
                c->in.n += (size_t)k;
        }
}

/* Connect, authenticate, BEGIN, Hello, and AddMatch each of @rules. */
static void raw_open(struct raw *c, const char *address, const char *const *rules, size_t n_rules)
{
        char auth[128], line[256];
        struct mbuf out = {};
        size_t n = 0, i;

        *c = (struct raw){ .fd = raw_socket(address), .serial = 1 };
        snprintf(auth, sizeof(auth), "%cAUTH EXTERNAL ", 0);
        {
                char uid[32];
                size_t k = strlen(auth + 1) + 1;

                snprintf(uid, sizeof(uid), "%u", (unsigned int)getuid());
                for (i = 0; uid[i]; ++i)
                        k += (size_t)snprintf(auth + k, sizeof(auth) - k, "%02x", (unsigned char)uid[i]);
                k += (size_t)snprintf(auth + k, sizeof(auth) - k, "\r\n");
                bench_write_all(c->fd, auth, k);
        }
        while (n < sizeof(line) - 1) {
                bench_read_all(c->fd, line + n, 1);
                if (line[n++] == '\n')
                        break;
        }
        line[n] = 0;
        if (strncmp(line, "OK ", 3))
                bench_die("SASL: %s", line);
        mb_put(&out, "BEGIN\r\n", 7);
        mb_message(&out, 1, c->serial++, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                   "Hello", NULL);
        for (i = 0; i < n_rules; ++i)
                mb_message(&out, 1, c->serial++, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                           "org.freedesktop.DBus", "AddMatch", rules[i]);
        bench_write_all(c->fd, out.p, out.n);
        free(out.p);
        raw_wait_returns(c, (unsigned int)(1 + n_rules));
}

static void raw_close(struct raw *c)
{
        if (c->fd >= 0)
                close(c->fd);
        free(c->in.p);
        *c = (struct raw){ .fd = -1 };
}

static const char tick_rule[] = "type='signal',interface='" BENCH_INTERFACE "',member='" TICK_MEMBER "'";

/* Subscriber child: count Tick signals; one byte on @progress per BATCH. */
static _Noreturn void subscriber(const char *address, int ready, int progress)
{
        const char *rules[] = { tick_rule };
        struct raw c;
        size_t off;
        long count = 0;

        raw_open(&c, address, rules, 1);
        bench_write_all(ready, "r", 1);
        close(ready);
        mb_reserve(&c.in, 256 * 1024);
        for (;;) {
                ssize_t k = read(c.fd, c.in.p + c.in.n, c.in.cap - c.in.n);
                size_t len;

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        _exit(0);
                c.in.n += (size_t)k;
                off = 0;
                while ((len = frame_len(c.in.p + off, c.in.n - off)) && len <= c.in.n - off) {
                        if (c.in.p[off + 1] == 4 && frame_body_len(c.in.p + off) == TICK_BODY_LEN &&
                            ++count % BATCH == 0)
                                bench_write_all(progress, "b", 1);
                        off += len;
                }
                memmove(c.in.p, c.in.p + off, c.in.n - off);
                c.in.n -= off;
                if (frame_len(c.in.p, c.in.n) > c.in.cap)
                        mb_reserve(&c.in, frame_len(c.in.p, c.in.n));
        }
}

/* Connections holding @n_rules unrelated rules, RULES_PER_HOLDER each at most. */
static struct raw *holders_open(const char *address, size_t n_conns, size_t rules_per_conn)
{
        struct raw *h = calloc(n_conns ? n_conns : 1, sizeof(*h));
        char **rules = calloc(rules_per_conn ? rules_per_conn : 1, sizeof(*rules));
        size_t i, j, serial = 0;

        if (!h || !rules)
                bench_die("out of memory");
        for (i = 0; i < n_conns; ++i) {
                for (j = 0; j < rules_per_conn; ++j, ++serial) {
                        char *r = NULL;
                        int k;

                        /* half differ only in path, half in interface */
                        if (serial % 2)
                                k = asprintf(&r, "type='signal',interface='%s',member='%s',path='/org/bus1/Other/%zu'",
                                             BENCH_INTERFACE, TICK_MEMBER, serial);
                        else
                                k = asprintf(&r, "type='signal',interface='org.bus1.Unrelated%zu',member='Changed'",
                                             serial);
                        if (k < 0)
                                bench_die("out of memory");
                        rules[j] = r;
                }
                raw_open(&h[i], address, (const char *const *)rules, rules_per_conn);
                for (j = 0; j < rules_per_conn; ++j)
                        free(rules[j]);
        }
        free(rules);
        return h;
}

static void holders_close(struct raw *h, size_t n_conns)
{
        size_t i;

        for (i = 0; i < n_conns; ++i)
                raw_close(&h[i]);
        free(h);
}

/* Signals per second from one raw sender to @n_subs subscribers. */
static double signal_rate(const struct bench_opts *opts, unsigned int n_subs, double *cpu_us)
{
        char arg[TICK_ARG_LEN + 1];
        int ready[2], progress[2];
        struct mbuf batch = {};
        size_t offs[BATCH];
        pid_t *subs = calloc(n_subs, sizeof(*subs));
        struct raw sender;
        long sent = 0, acks = 0;
        double t0, c0 = 0, t;
        unsigned int i;
        char c[256];

        if (!subs)
                bench_die("out of memory");
        if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(progress, O_CLOEXEC) < 0)
                bench_die("pipe: %m");
        for (i = 0; i < n_subs; ++i) {
                subs[i] = bench_fork();
                if (subs[i] == 0) {
                        close(ready[0]);
                        close(progress[0]);
                        subscriber(opts->address, ready[1], progress[1]);
                }
        }
        close(ready[1]);
        close(progress[1]);
        for (i = 0; i < n_subs; ++i)
                bench_read_all(ready[0], c, 1);
        close(ready[0]);

        raw_open(&sender, opts->address, NULL, 0);
        memset(arg, 's', TICK_ARG_LEN);
        arg[TICK_ARG_LEN] = 0;
        for (i = 0; i < BATCH; ++i)
                offs[i] = mb_message(&batch, 4, 1, NULL, BENCH_PATH, BENCH_INTERFACE, TICK_MEMBER, arg);

        if (opts->n_cpu_pids)
                c0 = (double)bench_cpu_ns(opts);
        t0 = bench_now();
        for (;;) {
                if (sent < 2 || acks >= (long)n_subs * (sent - 1)) {
                        if (bench_now() - t0 >= opts->duration && sent >= 2)
                                break;
                        for (i = 0; i < BATCH; ++i) {
                                uint32_t serial = sender.serial++;

                                memcpy(batch.p + offs[i] + 8, &serial, 4);
                        }
                        bench_write_all(sender.fd, batch.p, batch.n);
                        ++sent;
                        continue;
                }
                {
                        ssize_t k = read(progress[0], c, sizeof(c));

                        if (k <= 0)
                                bench_die("subscribers vanished");
                        acks += k;
                }
        }
        while (acks < (long)n_subs * sent) {
                ssize_t k = read(progress[0], c, sizeof(c));

                if (k <= 0)
                        bench_die("subscribers vanished");
                acks += k;
        }
        t = bench_now() - t0;
        if (opts->n_cpu_pids)
                *cpu_us = ((double)bench_cpu_ns(opts) - c0) / 1e3 / ((double)sent * BATCH);
        raw_close(&sender);
        for (i = 0; i < n_subs; ++i)
                bench_reap(subs[i], true);
        close(progress[0]);
        free(subs);
        free(batch.p);
        return (double)sent * BATCH / t;
}

void bench_signal_fanout(const struct bench_opts *opts)
{
        static const unsigned int n[] = { 1, 10, 100 };
        char key[64];
        double cpu = 0;
        size_t i;

        for (i = 0; i < sizeof(n) / sizeof(*n); ++i) {
                snprintf(key, sizeof(key), "fanout%u_sig_per_s", n[i]);
                bench_result(key, signal_rate(opts, n[i], &cpu));
                if (opts->n_cpu_pids) {
                        snprintf(key, sizeof(key), "cpu_fanout%u_us", n[i]);
                        bench_result(key, cpu);
                }
        }
}

void bench_signal_matches(const struct bench_opts *opts)
{
        static const unsigned int n[] = { 0, 1000, 10000 };
        char key[64];
        double cpu = 0;
        size_t i;

        for (i = 0; i < sizeof(n) / sizeof(*n); ++i) {
                size_t conns = n[i] / RULES_PER_HOLDER;
                struct raw *h = holders_open(opts->address, conns, RULES_PER_HOLDER);

                snprintf(key, sizeof(key), "match%u_sig_per_s", n[i]);
                bench_result(key, signal_rate(opts, 1, &cpu));
                if (opts->n_cpu_pids) {
                        snprintf(key, sizeof(key), "cpu_match%u_us", n[i]);
                        bench_result(key, cpu);
                }
                holders_close(h, conns);
        }
}

void bench_signal_rss(const struct bench_opts *opts)
{
        long idle, loaded;
        struct raw *h;

        if (!opts->rss_pid)
                bench_die("rss needs --rss-pid");
        idle = bench_rss_kib(opts->rss_pid);
        bench_result("rss_idle_kib", (double)idle);
        h = holders_open(opts->address, opts->clients, 10);
        /* every client got its replies: the broker has set them all up */
        loaded = bench_rss_kib(opts->rss_pid);
        bench_result("rss_per_conn_kib", (double)(loaded - idle) / opts->clients);
        holders_close(h, opts->clients);
}
