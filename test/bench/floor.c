/*
 * bench-dbus: the floors no broker can beat (see bench.h).
 *
 *   socketpair  a client and a byte-echo server process on one AF_UNIX
 *               socketpair
 *   relay       client -> relay process -> echo server and back: the relay
 *               is non-blocking, polls both sockets and forwards through
 *               4 MiB buffers (the floor of any brokered design)
 *
 * Both also run the raw D-Bus client and server of the raw group
 * (bench_raw_floor()), on the socketpair and through the relay.
 *   p2p         an sd-bus client and an sd-bus server on a socketpair, the
 *               same Ping/Echo calls as against a broker
 *   p2p-relay   the same sd-bus client and server, through the relay: the
 *               floor of a brokered design with the clients a broker serves
 *
 * The socket floors send fixed BENCH_FLOOR_MSG-byte messages (about the
 * size of a small D-Bus call) for the round trip and the pipeline, and
 * 1 MiB each way for the echo.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <systemd/sd-bus.h>
#include "test/bench/bench.h"

#define RELAY_BUF (4 * 1024 * 1024)

static _Noreturn void echo_server(int fd)
{
        static char buf[256 * 1024];

        for (;;) {
                ssize_t k = read(fd, buf, sizeof(buf));

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        _exit(0);
                bench_write_all(fd, buf, (size_t)k);
        }
}

struct relay_dir {
        int from;
        int to;
        char *buf;
        size_t head;
        size_t len;
};

/*
 * --relay-session: the relay gets a session, hence with sched_autogroup a
 * scheduling group, of its own, as the brokers it stands in for do when
 * bench.py starts them as services.
 */
static void relay_detach(const struct bench_opts *opts)
{
        if (opts->relay_session && setsid() < 0)
                bench_die("setsid: %s", strerror(errno));
}

static _Noreturn void relay(int a, int b)
{
        struct relay_dir d[2] = { { .from = a, .to = b }, { .from = b, .to = a } };
        int i;

        for (i = 0; i < 2; ++i) {
                d[i].buf = malloc(RELAY_BUF);
                if (!d[i].buf)
                        _exit(1);
        }
        fcntl(a, F_SETFL, O_NONBLOCK);
        fcntl(b, F_SETFL, O_NONBLOCK);
        for (;;) {
                struct pollfd p[2] = { { .fd = a }, { .fd = b } };

                for (i = 0; i < 2; ++i) {
                        /* p[i] is d[i].from's read side and d[1-i].to's write side */
                        if (d[i].head + d[i].len < RELAY_BUF)
                                p[i].events |= POLLIN;
                        if (d[1 - i].len)
                                p[i].events |= POLLOUT;
                }
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        _exit(1);
                }
                for (i = 0; i < 2; ++i) {
                        struct relay_dir *r = &d[i];
                        ssize_t k;

                        if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) && r->head + r->len < RELAY_BUF) {
                                k = read(r->from, r->buf + r->head + r->len, RELAY_BUF - r->head - r->len);
                                if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
                                        _exit(0);
                                if (k > 0)
                                        r->len += (size_t)k;
                        }
                        if (r->len) {
                                k = write(r->to, r->buf + r->head, r->len);
                                if (k < 0 && errno != EAGAIN && errno != EINTR)
                                        _exit(0);
                                if (k > 0) {
                                        r->head += (size_t)k;
                                        r->len -= (size_t)k;
                                }
                                if (!r->len)
                                        r->head = 0;
                                else if (r->head > RELAY_BUF / 2) {
                                        memmove(r->buf, r->buf + r->head, r->len);
                                        r->head = 0;
                                }
                        }
                }
        }
}

static void fd_rtt(const struct bench_opts *opts, int fd)
{
        char msg[BENCH_FLOOR_MSG], back[BENCH_FLOOR_MSG];
        struct bench_samples s = {};
        double t0, t, p50, p99;
        long n = 0;

        memset(msg, 'm', sizeof(msg));
        bench_write_all(fd, msg, sizeof(msg));
        bench_read_all(fd, back, sizeof(back));
        t0 = bench_now();
        do {
                t = bench_now();
                bench_write_all(fd, msg, sizeof(msg));
                bench_read_all(fd, back, sizeof(back));
                bench_samples_add(&s, (bench_now() - t) * 1e6);
                ++n;
        } while (bench_now() - t0 < opts->duration);
        t = bench_now() - t0;
        bench_samples_stats(&s, &p50, &p99);
        bench_result("rtt_calls_per_s", n / t);
        bench_result("rtt_p50_us", p50);
        bench_result("rtt_p99_us", p99);
        bench_samples_free(&s);
}

static void fd_pipelined(const struct bench_opts *opts, int fd)
{
        static char msgs[BENCH_PIPELINE * BENCH_FLOOR_MSG], buf[BENCH_PIPELINE * BENCH_FLOOR_MSG];
        long issued = BENCH_PIPELINE, done = 0;
        size_t partial = 0;
        double t0;

        memset(msgs, 'p', sizeof(msgs));
        t0 = bench_now();
        bench_write_all(fd, msgs, sizeof(msgs));
        while (done < issued) {
                ssize_t k = read(fd, buf, sizeof(buf));
                long complete, more;

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        bench_die("floor pipeline: read: %m");
                partial += (size_t)k;
                complete = (long)(partial / BENCH_FLOOR_MSG);
                partial %= BENCH_FLOOR_MSG;
                done += complete;
                more = bench_now() - t0 < opts->duration ? complete : 0;
                if (more) {
                        bench_write_all(fd, msgs, (size_t)more * BENCH_FLOOR_MSG);
                        issued += more;
                }
        }
        bench_result("pipe64_calls_per_s", done / (bench_now() - t0));
}

static void fd_echo(const struct bench_opts *opts, int fd)
{
        char *out = malloc(BENCH_ECHO_SIZE), *in = malloc(BENCH_ECHO_SIZE);
        double t0;
        long n = 0;

        if (!out || !in)
                bench_die("out of memory");
        memset(out, 'e', BENCH_ECHO_SIZE);
        fcntl(fd, F_SETFL, O_NONBLOCK);
        t0 = bench_now();
        do {
                size_t w = 0, r = 0;

                while (r < BENCH_ECHO_SIZE) {
                        struct pollfd p = { .fd = fd, .events = POLLIN | (w < BENCH_ECHO_SIZE ? POLLOUT : 0) };
                        ssize_t k;

                        if (poll(&p, 1, -1) < 0 && errno != EINTR)
                                bench_die("poll: %m");
                        if (w < BENCH_ECHO_SIZE && (p.revents & POLLOUT)) {
                                k = write(fd, out + w, BENCH_ECHO_SIZE - w);
                                if (k < 0 && errno != EAGAIN && errno != EINTR)
                                        bench_die("echo write: %m");
                                if (k > 0)
                                        w += (size_t)k;
                        }
                        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
                                k = read(fd, in + r, BENCH_ECHO_SIZE - r);
                                if (k == 0)
                                        bench_die("echo: EOF");
                                if (k < 0 && errno != EAGAIN && errno != EINTR)
                                        bench_die("echo read: %m");
                                if (k > 0)
                                        r += (size_t)k;
                        }
                }
                ++n;
        } while (bench_now() - t0 < opts->duration);
        bench_result("echo1m_per_s", n / (bench_now() - t0));
        fcntl(fd, F_SETFL, 0);
        free(out);
        free(in);
}

int bench_floor_start(const struct bench_opts *opts, bool with_relay, void (*serve)(int fd, void *userdata),
                      void *userdata, pid_t *server, pid_t *relay_pid)
{
        int cs[2], ss[2] = { -1, -1 };

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cs) < 0)
                bench_die("socketpair: %m");
        if (with_relay && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ss) < 0)
                bench_die("socketpair: %m");
        *relay_pid = 0;
        *server = bench_fork();
        if (*server == 0) {
                close(cs[0]);
                if (with_relay) {
                        close(cs[1]);
                        close(ss[0]);
                        serve(ss[1], userdata);
                } else {
                        serve(cs[1], userdata);
                }
                _exit(0);
        }
        if (with_relay) {
                *relay_pid = bench_fork();
                if (*relay_pid == 0) {
                        close(cs[0]);
                        close(ss[1]);
                        relay_detach(opts);
                        relay(cs[1], ss[0]);
                }
                close(ss[0]);
                close(ss[1]);
        }
        close(cs[1]);
        return cs[0];
}

static void serve_echo(int fd, void *userdata)
{
        (void)userdata;
        echo_server(fd);
}

static void socket_floor(const struct bench_opts *opts, bool with_relay)
{
        pid_t server, relay_pid;
        int fd = bench_floor_start(opts, with_relay, serve_echo, NULL, &server, &relay_pid);

        fd_rtt(opts, fd);
        fd_pipelined(opts, fd);
        fd_echo(opts, fd);
        close(fd);
        bench_reap(relay_pid, true);
        bench_reap(server, true);
        bench_raw_floor(opts, with_relay);
}

void bench_floor_socketpair(const struct bench_opts *opts)
{
        socket_floor(opts, false);
}

void bench_floor_relay(const struct bench_opts *opts)
{
        socket_floor(opts, true);
}

/* the sd-bus server of the floors: says it is ready on ready[1] */
static void serve_sdbus(int fd, void *userdata)
{
        int *ready = userdata;

        close(ready[0]);
        bench_bus_serve(NULL, fd, ready[1]);
}

/* sd-bus client and server on a socketpair, or (@with_relay) through the relay process */
static void sdbus_floor(const struct bench_opts *opts, bool with_relay)
{
        int ready[2], fd;
        sd_bus *bus = NULL;
        char c[8];
        pid_t server, relay_pid;

        if (pipe2(ready, O_CLOEXEC) < 0)
                bench_die("pipe: %m");
        fd = bench_floor_start(opts, with_relay, serve_sdbus, ready, &server, &relay_pid);
        close(ready[1]);
        bench_check(sd_bus_new(&bus), "sd_bus_new");
        bench_check(sd_bus_set_fd(bus, fd, fd), "set fd");
        bench_check(sd_bus_start(bus), "p2p start");
        bench_read_all(ready[0], c, 4);
        close(ready[0]);
        bench_calls_rtt(opts, bus, NULL);
        bench_calls_pipelined(opts, bus, NULL);
        bench_calls_echo(opts, bus, NULL);
        sd_bus_flush_close_unref(bus);
        bench_reap(relay_pid, true);
        bench_reap(server, true);
}

void bench_floor_p2p(const struct bench_opts *opts)
{
        sdbus_floor(opts, false);
}

void bench_floor_p2p_relay(const struct bench_opts *opts)
{
        sdbus_floor(opts, true);
}
