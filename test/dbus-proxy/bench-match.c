/*
 * Microbenchmark of the match registry (not a test): the cost of routing one
 * signal with 16 subscribers while 0, 1 000, 10 000 and 100 000 unrelated
 * rules are registered, for the index (match_registry_lookup()) and, for
 * comparison, a linear scan over all rules (what an unindexed matcher does).
 *
 * The unrelated rules are the shapes real clients add: sd-bus/GDBus name
 * watches (NameOwnerChanged with arg0), PropertiesChanged on other paths,
 * signals of other senders, path_namespace subscriptions elsewhere.
 *
 * Usage: bench-match [iterations]   (default 200000; the index time is the
 * best of 5 runs of that many lookups)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dbus-proxy/match.h"

#define N_OWNERS 256

static struct match_owner owners[N_OWNERS];
static struct match_rule **all_rules;
static size_t n_all, n_allocated;

static void add_rule(struct match_registry *r, size_t owner, const char *text)
{
        struct match_rule *rule;

        if (match_rule_new(&rule, text) != 0 || match_registry_add(r, &owners[owner % N_OWNERS], rule) != 0) {
                fprintf(stderr, "cannot add \"%s\"\n", text);
                exit(1);
        }
        if (n_all == n_allocated) {
                n_allocated = n_allocated ? 2 * n_allocated : 1024;
                all_rules = realloc(all_rules, n_allocated * sizeof(*all_rules));
                if (!all_rules)
                        exit(1);
        }
        all_rules[n_all++] = rule;
}

static void add_unrelated(struct match_registry *r, size_t i)
{
        char text[512];

        switch (i % 4) {
        case 0:
                snprintf(text, sizeof(text),
                         "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
                         "member='NameOwnerChanged',path='/org/freedesktop/DBus',arg0=':1.%zu'", i);
                break;
        case 1:
                snprintf(text, sizeof(text),
                         "type='signal',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
                         "path='/org/other/obj%zu'", i);
                break;
        case 2:
                snprintf(text, sizeof(text), "type='signal',sender=':1.%zu',member='Sig%zu'", 100000 + i, i);
                break;
        default:
                snprintf(text, sizeof(text), "type='signal',path_namespace='/org/ns%zu'", i);
                break;
        }
        add_rule(r, i, text);
}

static int count_fn(struct match_owner *owner, void *userdata)
{
        ++*(size_t *)userdata;
        return 0;
}

static double now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
        static const size_t sizes[] = { 0, 1000, 10000, 100000 };
        static const char *const sender_names[] = { ":1.42", "org.example.Service" };
        unsigned long iterations = argc > 1 ? strtoul(argv[1], NULL, 0) : 200000;
        struct match_registry reg;
        struct match_filter f;
        size_t added = 0;

        match_registry_init(&reg);
        for (size_t i = 0; i < N_OWNERS; ++i)
                match_owner_init(&owners[i]);

        /* the signal and its 16 subscribers, in the usual shapes */
        memset(&f, 0, sizeof(f));
        f.type = MATCH_TYPE_SIGNAL;
        f.sender_names = sender_names;
        f.n_sender_names = 2;
        f.interface = "org.example.Iface";
        f.member = "Changed";
        f.path = "/org/example/obj";
        f.args[0].value = "state";
        for (size_t i = 0; i < 16; ++i) {
                static const char *const shapes[] = {
                        "type='signal',sender='org.example.Service',interface='org.example.Iface',member='Changed'",
                        "type='signal',interface='org.example.Iface',member='Changed',path='/org/example/obj'",
                        "type='signal',path_namespace='/org/example'",
                        "type='signal',sender=':1.42',arg0='state'",
                };
                add_rule(&reg, 1000 + i, shapes[i % 4]);
        }

        printf("%-16s %14s %14s %10s\n", "unrelated rules", "index ns/op", "linear ns/op", "receivers");
        for (size_t s = 0; s < sizeof(sizes) / sizeof(*sizes); ++s) {
                size_t receivers = 0, linear_hits = 0;
                unsigned long linear_iterations = iterations / (1 + sizes[s] / 1000);
                double t0, t_index, t_linear;

                while (added < sizes[s])
                        add_unrelated(&reg, added++);

                /* best of 5 runs: the machine may be busy */
                t_index = 0;
                for (int rep = 0; rep < 5; ++rep) {
                        double t;

                        t0 = now_ns();
                        for (unsigned long it = 0; it < iterations; ++it) {
                                receivers = 0;
                                match_registry_lookup(&reg, &f, NULL, count_fn, &receivers);
                        }
                        t = (now_ns() - t0) / (double)iterations;
                        if (rep == 0 || t < t_index)
                                t_index = t;
                }

                if (linear_iterations == 0)
                        linear_iterations = 1;
                t0 = now_ns();
                for (unsigned long it = 0; it < linear_iterations; ++it) {
                        linear_hits = 0;
                        for (size_t k = 0; k < n_all; ++k)
                                linear_hits += match_rule_matches(all_rules[k], &f);
                }
                t_linear = (now_ns() - t0) / (double)linear_iterations;

                printf("%-16zu %14.1f %14.1f %10zu\n", sizes[s], t_index, t_linear, receivers);
                if (receivers == 0 || linear_hits < receivers) {
                        fprintf(stderr, "inconsistent result\n");
                        return 1;
                }
        }

        for (size_t i = 0; i < N_OWNERS; ++i) {
                match_registry_remove_all(&reg, &owners[i]);
                match_owner_deinit(&owners[i]);
        }
        match_registry_deinit(&reg);
        free(all_rules);
        return 0;
}
