#pragma once

/*
 * bench-dbus: the benchmark client of `make bench` (not a test, not a library).
 *
 * One invocation measures one metric group against one target and prints
 * its results on stdout, one "key value" line per figure, as soon as each is
 * known (so a crash later in the group keeps what was measured). Progress
 * and errors go to stderr. Any failure exits non-zero: the driver
 * (test/bench/bench.py) then records the group as failed for that target.
 *
 * The program forks its helper processes (servers, subscribers, relays);
 * every child gets PR_SET_PDEATHSIG(SIGKILL) and is reaped by the parent.
 * sd-bus connections are created after every fork that precedes their use.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Options shared by every metric group. */
struct bench_opts {
        double duration;        /* seconds per measured figure */
        const char *address;    /* D-Bus address of the broker (bus metrics) */
        pid_t cpu_pids[8];      /* broker processes whose CPU time is counted */
        size_t n_cpu_pids;
        pid_t rss_pid;          /* broker process whose RSS is measured (0: none) */
        unsigned int clients;   /* connections of the RSS figure */
        bool relay_session;     /* the floors' relay or canned server runs in a session of its own */
};

/* A growing array of samples (microseconds). */
struct bench_samples {
        double *v;
        size_t n;
        size_t cap;
};

double bench_now(void);
_Noreturn void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Die with @what and strerror(-r) when r < 0; returns r otherwise. */
int bench_check(int r, const char *what);
void bench_result(const char *key, double value);

/* Fork; the child gets PR_SET_PDEATHSIG(SIGKILL). Dies on failure. */
pid_t bench_fork(void);
/* SIGKILL (if @kill) and reap a child. */
void bench_reap(pid_t pid, bool kill);
/*
 * Fork a server, serve(@address, ready_fd), which writes its unique name
 * with its NUL to ready_fd once it is on the bus; wait for that name (into
 * @name, @size bytes at most) and return the server's pid. Dies on failure.
 */
pid_t bench_server_start(void (*serve)(const char *address, int ready_fd), const char *address,
                         char *name, size_t size);
/* Write/read exactly @n bytes on a blocking fd; die on error or EOF. */
void bench_write_all(int fd, const void *p, size_t n);
void bench_read_all(int fd, void *p, size_t n);

/* Sum of on-CPU nanoseconds of every thread of opts->cpu_pids (schedstat). */
uint64_t bench_cpu_ns(const struct bench_opts *opts);
/* VmRSS of @pid in KiB; dies if unreadable. */
long bench_rss_kib(pid_t pid);

void bench_samples_add(struct bench_samples *s, double us);
/* Sorts the samples; writes the median and the 99th percentile. */
void bench_samples_stats(struct bench_samples *s, double *p50, double *p99);
void bench_samples_free(struct bench_samples *s);

/* Metric groups against a broker (bus.c, sd-bus clients). */
void bench_bus_rtt(const struct bench_opts *opts);
void bench_bus_pipelined(const struct bench_opts *opts);
void bench_bus_echo(const struct bench_opts *opts);
void bench_bus_connect(const struct bench_opts *opts);
/* Metric groups against a broker (signal.c, raw clients). */
void bench_signal_fanout(const struct bench_opts *opts);
void bench_signal_matches(const struct bench_opts *opts);
void bench_signal_rss(const struct bench_opts *opts);

/* Method calls between raw clients through a broker, then bench_raw_connect() (rawcall.c). */
void bench_raw_calls(const struct bench_opts *opts);
/* connect + SASL + Hello + disconnect per second with a raw client (rawcall.c). */
void bench_raw_connect(const struct bench_opts *opts);
/*
 * The raw group's calls with no broker: its client and server on a
 * socketpair, or (@with_relay) through the relay process (rawcall.c).
 */
void bench_raw_floor(const struct bench_opts *opts, bool with_relay);

/* Floors without a broker (floor.c). */
/*
 * Fork a child that runs @serve(fd, @userdata) on one end of a new
 * socketpair, directly or (@with_relay) behind the relay process, which
 * then gets its own session if opts->relay_session; return the other end.
 * @serve must not return. *server and *relay_pid (0 without a relay) are
 * for bench_reap().
 */
int bench_floor_start(const struct bench_opts *opts, bool with_relay, void (*serve)(int fd, void *userdata),
                      void *userdata, pid_t *server, pid_t *relay_pid);
void bench_floor_socketpair(const struct bench_opts *opts);
void bench_floor_relay(const struct bench_opts *opts);
void bench_floor_p2p(const struct bench_opts *opts);
void bench_floor_p2p_relay(const struct bench_opts *opts);
/* connect + Hello + disconnect against a server of canned answers (floor-connect.c). */
void bench_floor_connect(const struct bench_opts *opts);
/* libbus1 in-process call round trip (native.c). */
void bench_native_call(const struct bench_opts *opts);

/* Shared by the sd-bus groups and the sd-bus peer-to-peer floor. */
#define BENCH_PATH "/org/bus1/Bench"
#define BENCH_INTERFACE "org.bus1.Bench"
#define BENCH_PIPELINE 64
#define BENCH_ECHO_SIZE (1024 * 1024)
/* Payload of a Ping call (and of the floors' fixed-size messages). */
#define BENCH_PING_ARG "0123456789abcdef0123456789abcdef"
#define BENCH_FLOOR_MSG 128

typedef struct sd_bus sd_bus;
/*
 * Serve Ping/Echo on a new sd-bus connection (a bus client on @address, or
 * the server side of a peer-to-peer connection on @p2p_fd if @address is
 * NULL); write the unique name (or "p2p") NUL-terminated to @ready_fd, then
 * serve until the connection dies. Runs in a forked child; never returns.
 */
_Noreturn void bench_bus_serve(const char *address, int p2p_fd, int ready_fd);
/* The three call figures of one client connection to a server (or NULL). */
void bench_calls_rtt(const struct bench_opts *opts, sd_bus *bus, const char *dest);
void bench_calls_pipelined(const struct bench_opts *opts, sd_bus *bus, const char *dest);
void bench_calls_echo(const struct bench_opts *opts, sd_bus *bus, const char *dest);
