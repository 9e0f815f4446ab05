/*
 * bench-dbus: the benchmark client of `make bench` (see bench.h).
 *
 * Usage: bench-dbus [--duration S] [--address A] [--cpu-pid PID]...
 *                   [--rss-pid PID] [--clients N] GROUP
 *
 * Groups against a broker (need --address): rtt pipelined echo fanout
 * matches connect rss raw raw-connect. Floors: floor-socketpair floor-relay floor-p2p
 *                   floor-p2p-relay.
 * libbus1: native-call.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include "test/bench/bench.h"

static const struct group {
        const char *name;
        bool needs_bus;
        void (*fn)(const struct bench_opts *opts);
} groups[] = {
        { "rtt", true, bench_bus_rtt },
        { "pipelined", true, bench_bus_pipelined },
        { "echo", true, bench_bus_echo },
        { "fanout", true, bench_signal_fanout },
        { "matches", true, bench_signal_matches },
        { "connect", true, bench_bus_connect },
        { "rss", true, bench_signal_rss },
        { "raw", true, bench_raw_calls },
        { "raw-connect", true, bench_raw_connect },
        { "floor-socketpair", false, bench_floor_socketpair },
        { "floor-relay", false, bench_floor_relay },
        { "floor-p2p", false, bench_floor_p2p },
        { "floor-p2p-relay", false, bench_floor_p2p_relay },
        { "floor-connect", false, bench_floor_connect },
        { "native-call", false, bench_native_call },
};

static _Noreturn void usage(void)
{
        size_t i;

        fprintf(stderr, "usage: bench-dbus [--duration S] [--address A] [--cpu-pid PID]... "
                        "[--rss-pid PID] [--clients N] [--relay-session] GROUP\ngroups:");
        for (i = 0; i < sizeof(groups) / sizeof(*groups); ++i)
                fprintf(stderr, " %s", groups[i].name);
        fputc('\n', stderr);
        exit(2);
}

int main(int argc, char **argv)
{
        struct bench_opts opts = { .duration = 1.0, .clients = 1000 };
        const char *group = NULL;
        size_t i;
        int a;

        signal(SIGPIPE, SIG_IGN);
        for (a = 1; a < argc; ++a) {
                const char *v = a + 1 < argc ? argv[a + 1] : NULL;

                if (!strcmp(argv[a], "--duration") && v) {
                        opts.duration = atof(v);
                        ++a;
                } else if (!strcmp(argv[a], "--address") && v) {
                        opts.address = v;
                        ++a;
                } else if (!strcmp(argv[a], "--cpu-pid") && v) {
                        if (opts.n_cpu_pids == sizeof(opts.cpu_pids) / sizeof(*opts.cpu_pids))
                                usage();
                        opts.cpu_pids[opts.n_cpu_pids++] = atoi(v);
                        ++a;
                } else if (!strcmp(argv[a], "--rss-pid") && v) {
                        opts.rss_pid = atoi(v);
                        ++a;
                } else if (!strcmp(argv[a], "--clients") && v) {
                        opts.clients = (unsigned int)atoi(v);
                        ++a;
                } else if (!strcmp(argv[a], "--relay-session")) {
                        opts.relay_session = true;
                } else if (argv[a][0] != '-' && !group) {
                        group = argv[a];
                } else {
                        usage();
                }
        }
        if (!group || opts.duration <= 0 || !opts.clients)
                usage();
        for (i = 0; i < sizeof(groups) / sizeof(*groups); ++i) {
                if (strcmp(groups[i].name, group))
                        continue;
                if (groups[i].needs_bus && !opts.address)
                        bench_die("%s needs --address", group);
                groups[i].fn(&opts);
                return 0;
        }
        usage();
}
