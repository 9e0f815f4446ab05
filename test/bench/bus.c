/*
 * bench-dbus: method calls and connections on sd-bus (see bench.h).
 *
 * The server is an sd-bus connection in a child process with one filter
 * that answers org.bus1.Bench.Ping (echoes its string) and .Echo (echoes
 * its byte array). The client measures, on one connection:
 *   rtt        sequential calls: calls/s and the p50/p99 of each call
 *   pipelined  BENCH_PIPELINE calls in flight: calls/s
 *   echo       sequential 1 MiB byte-array echoes: round trips/s
 * and, with broker pids given, the broker's CPU time per call.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-id128.h>
#include "test/bench/bench.h"

static const char *bus_hello(sd_bus *bus);

static int serve_filter(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        sd_bus_message *reply = NULL;
        const char *member;
        int r;

        if (!sd_bus_message_is_method_call(m, BENCH_INTERFACE, NULL))
                return 0;
        member = sd_bus_message_get_member(m);
        bench_check(sd_bus_message_new_method_return(m, &reply), "new reply");
        if (!strcmp(member, "Echo")) {
                const void *p;
                size_t n;

                bench_check(sd_bus_message_read_array(m, 'y', &p, &n), "read echo");
                bench_check(sd_bus_message_append_array(reply, 'y', p, n), "append echo");
        } else {
                const char *s;

                bench_check(sd_bus_message_read(m, "s", &s), "read ping");
                bench_check(sd_bus_message_append(reply, "s", s), "append ping");
        }
        r = sd_bus_send(NULL, reply, NULL);
        sd_bus_message_unref(reply);
        if (r < 0 && r != -ENOTCONN && r != -ECONNRESET)
                bench_check(r, "send reply");
        return 1;
}

_Noreturn void bench_bus_serve(const char *address, int p2p_fd, int ready_fd)
{
        const char *name = "p2p";
        sd_bus *bus = NULL;
        int r;

        bench_check(sd_bus_new(&bus), "sd_bus_new");
        if (address) {
                bench_check(sd_bus_set_address(bus, address), "set address");
                bench_check(sd_bus_set_bus_client(bus, 1), "set bus client");
        } else {
                sd_id128_t id;

                bench_check(sd_id128_randomize(&id), "id");
                bench_check(sd_bus_set_fd(bus, p2p_fd, p2p_fd), "set fd");
                bench_check(sd_bus_set_server(bus, 1, id), "set server");
        }
        bench_check(sd_bus_add_filter(bus, NULL, serve_filter, NULL), "add filter");
        bench_check(sd_bus_start(bus), "server start");
        if (address)
                name = bus_hello(bus);
        bench_write_all(ready_fd, name, strlen(name) + 1);
        close(ready_fd);
        for (;;) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        _exit(0); /* the client went away */
                if (r > 0)
                        continue;
                if (sd_bus_wait(bus, UINT64_MAX) < 0)
                        _exit(0);
        }
}

static double cpu_begin(const struct bench_opts *opts)
{
        return opts->n_cpu_pids ? (double)bench_cpu_ns(opts) : 0;
}

static void cpu_end(const struct bench_opts *opts, double begin, double ops, const char *key)
{
        if (opts->n_cpu_pids && ops > 0)
                bench_result(key, ((double)bench_cpu_ns(opts) - begin) / 1e3 / ops);
}

static void ping(sd_bus *bus, const char *dest)
{
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_call_method(bus, dest, BENCH_PATH, BENCH_INTERFACE, "Ping", &error, &reply,
                               "s", BENCH_PING_ARG);
        if (r < 0)
                bench_die("Ping: %s", error.message ? error.message : strerror(-r));
        sd_bus_message_unref(reply);
}

void bench_calls_rtt(const struct bench_opts *opts, sd_bus *bus, const char *dest)
{
        struct bench_samples s = {};
        double t0, t, c0, p50, p99;
        long n = 0;

        ping(bus, dest); /* warm up */
        c0 = cpu_begin(opts);
        t0 = bench_now();
        do {
                t = bench_now();
                ping(bus, dest);
                bench_samples_add(&s, (bench_now() - t) * 1e6);
                ++n;
        } while (bench_now() - t0 < opts->duration);
        t = bench_now() - t0;
        cpu_end(opts, c0, n, "cpu_rtt_us");
        bench_samples_stats(&s, &p50, &p99);
        bench_result("rtt_calls_per_s", n / t);
        bench_result("rtt_p50_us", p50);
        bench_result("rtt_p99_us", p99);
        bench_samples_free(&s);
}

struct pipeline {
        sd_bus *bus;
        const char *dest;
        double deadline;
        long issued;
        long done;
};

static int issue(struct pipeline *p);

static int pipeline_reply(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        struct pipeline *p = userdata;

        if (sd_bus_message_is_method_error(m, NULL))
                bench_die("pipelined Ping: %s", sd_bus_message_get_error(m)->message);
        ++p->done;
        if (bench_now() < p->deadline)
                issue(p);
        return 1;
}

static int issue(struct pipeline *p)
{
        ++p->issued;
        return bench_check(sd_bus_call_method_async(p->bus, NULL, p->dest, BENCH_PATH, BENCH_INTERFACE,
                                                    "Ping", pipeline_reply, p, "s", BENCH_PING_ARG),
                           "call async");
}

void bench_calls_pipelined(const struct bench_opts *opts, sd_bus *bus, const char *dest)
{
        struct pipeline p = { .bus = bus, .dest = dest };
        double t0, c0;
        int i, r;

        ping(bus, dest);
        c0 = cpu_begin(opts);
        t0 = bench_now();
        p.deadline = t0 + opts->duration;
        for (i = 0; i < BENCH_PIPELINE; ++i)
                issue(&p);
        while (p.done < p.issued) {
                r = bench_check(sd_bus_process(bus, NULL), "process");
                if (r == 0)
                        bench_check(sd_bus_wait(bus, UINT64_MAX), "wait");
        }
        t0 = bench_now() - t0;
        cpu_end(opts, c0, p.done, "cpu_pipe64_us");
        bench_result("pipe64_calls_per_s", p.done / t0);
}

void bench_calls_echo(const struct bench_opts *opts, sd_bus *bus, const char *dest)
{
        uint8_t *data = malloc(BENCH_ECHO_SIZE);
        double t0, c0;
        long n = 0;

        if (!data)
                bench_die("out of memory");
        memset(data, 0x5a, BENCH_ECHO_SIZE);
        c0 = cpu_begin(opts);
        t0 = bench_now();
        do {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                sd_bus_message *m = NULL, *reply = NULL;
                const void *p;
                size_t len;
                int r;

                bench_check(sd_bus_message_new_method_call(bus, &m, dest, BENCH_PATH, BENCH_INTERFACE, "Echo"),
                            "new echo");
                bench_check(sd_bus_message_append_array(m, 'y', data, BENCH_ECHO_SIZE), "append");
                r = sd_bus_call(bus, m, 0, &error, &reply);
                if (r < 0)
                        bench_die("Echo: %s", error.message ? error.message : strerror(-r));
                bench_check(sd_bus_message_read_array(reply, 'y', &p, &len), "read echo reply");
                if (len != BENCH_ECHO_SIZE)
                        bench_die("Echo: %zu bytes back", len);
                sd_bus_message_unref(reply);
                sd_bus_message_unref(m);
                ++n;
        } while (bench_now() - t0 < opts->duration);
        t0 = bench_now() - t0;
        cpu_end(opts, c0, n, "cpu_echo1m_us");
        bench_result("echo1m_per_s", n / t0);
        free(data);
}

/* Run @bus until its Hello reply arrived. */
static const char *bus_hello(sd_bus *bus)
{
        const char *unique = NULL;

        while (sd_bus_get_unique_name(bus, &unique) < 0) {
                if (bench_check(sd_bus_process(bus, NULL), "process Hello") == 0)
                        bench_check(sd_bus_wait(bus, UINT64_MAX), "wait Hello");
        }
        return unique;
}

static sd_bus *client_open(const char *address)
{
        sd_bus *bus = NULL;

        bench_check(sd_bus_new(&bus), "sd_bus_new");
        bench_check(sd_bus_set_address(bus, address), "set address");
        bench_check(sd_bus_set_bus_client(bus, 1), "set bus client");
        bench_check(sd_bus_start(bus), "client start");
        return bus;
}

/* bench_server_start()'s server: the sd-bus one, on the broker */
static _Noreturn void serve_bus(const char *address, int ready_fd)
{
        bench_bus_serve(address, -1, ready_fd);
}

static void bus_group(const struct bench_opts *opts,
                      void (*fn)(const struct bench_opts *, sd_bus *, const char *))
{
        char name[256];
        pid_t server = bench_server_start(serve_bus, opts->address, name, sizeof(name));
        sd_bus *bus = client_open(opts->address);

        fn(opts, bus, name);
        sd_bus_flush_close_unref(bus);
        bench_reap(server, true);
}

void bench_bus_rtt(const struct bench_opts *opts)
{
        bus_group(opts, bench_calls_rtt);
}

void bench_bus_pipelined(const struct bench_opts *opts)
{
        bus_group(opts, bench_calls_pipelined);
}

void bench_bus_echo(const struct bench_opts *opts)
{
        bus_group(opts, bench_calls_echo);
}

void bench_bus_connect(const struct bench_opts *opts)
{
        double t0, c0;
        long n = 0;

        sd_bus_flush_close_unref(client_open(opts->address)); /* warm up */
        c0 = cpu_begin(opts);
        t0 = bench_now();
        do {
                sd_bus *bus = client_open(opts->address);

                bus_hello(bus);
                sd_bus_flush_close_unref(bus);
                ++n;
        } while (bench_now() - t0 < opts->duration);
        t0 = bench_now() - t0;
        cpu_end(opts, c0, n, "cpu_connect_us");
        bench_result("connect_per_s", n / t0);
}
