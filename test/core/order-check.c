/*
 * Order checker (see order-check.h). Tickets come from one atomic counter;
 * the order check is Kahn's topological sort over the union of the
 * per-receiver successor edges and the dependency edges; the causality
 * check scans each receiver's sequence keeping the largest begin-ticket seen
 * so far.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "order-check.h"

struct order_log {
        uint64_t *msgs;
        size_t n, cap;
};

struct order_check {
        size_t n_msgs, n_receivers;
        uint64_t ticket;                /* atomic */
        uint64_t *begin, *end, *dep;
        struct order_log *logs;
};

int order_check_new(struct order_check **out, size_t n_msgs, size_t n_receivers)
{
        struct order_check *oc = calloc(1, sizeof(*oc));

        if (!oc)
                return -ENOMEM;
        oc->n_msgs = n_msgs;
        oc->n_receivers = n_receivers;
        oc->begin = calloc(n_msgs, sizeof(uint64_t));
        oc->end = calloc(n_msgs, sizeof(uint64_t));
        oc->dep = malloc(n_msgs * sizeof(uint64_t));
        oc->logs = calloc(n_receivers, sizeof(*oc->logs));
        if (!oc->begin || !oc->end || !oc->dep || !oc->logs) {
                order_check_free(oc);
                return -ENOMEM;
        }
        memset(oc->dep, 0xff, n_msgs * sizeof(uint64_t));
        *out = oc;
        return 0;
}

struct order_check *order_check_free(struct order_check *oc)
{
        size_t i;

        if (!oc)
                return NULL;
        for (i = 0; oc->logs && i < oc->n_receivers; ++i)
                free(oc->logs[i].msgs);
        free(oc->logs);
        free(oc->begin);
        free(oc->end);
        free(oc->dep);
        free(oc);
        return NULL;
}

void order_check_send_begin(struct order_check *oc, uint64_t msg, uint64_t dep)
{
        oc->dep[msg] = dep;
        oc->begin[msg] = __atomic_add_fetch(&oc->ticket, 1, __ATOMIC_SEQ_CST);
}

void order_check_send_end(struct order_check *oc, uint64_t msg)
{
        oc->end[msg] = __atomic_add_fetch(&oc->ticket, 1, __ATOMIC_SEQ_CST);
}

int order_check_recv(struct order_check *oc, size_t receiver, uint64_t msg)
{
        struct order_log *l = &oc->logs[receiver];

        if (l->n == l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 1024;
                uint64_t *m = realloc(l->msgs, cap * sizeof(*m));

                if (!m)
                        return -ENOMEM;
                l->msgs = m;
                l->cap = cap;
        }
        l->msgs[l->n++] = msg;
        return 0;
}

int order_check_run(struct order_check *oc, struct order_check_result *out)
{
        size_t n = oc->n_msgs, i, j, n_edges = 0, head = 0, tail = 0, done = 0, involved = 0;
        size_t *off = NULL, *fill = NULL, *indeg = NULL, *queue = NULL;
        uint64_t *adj = NULL;
        char *seen = NULL;
        struct order_check_result res = {};
        int r = -ENOMEM;

        /* causality, per receiver */
        for (i = 0; i < oc->n_receivers; ++i) {
                struct order_log *l = &oc->logs[i];
                uint64_t max_begin = 0;

                res.n_deliveries += l->n;
                for (j = 0; j < l->n; ++j) {
                        uint64_t m = l->msgs[j];

                        if (oc->end[m] < max_begin)
                                ++res.causality_violations;
                        if (oc->begin[m] > max_begin)
                                max_begin = oc->begin[m];
                }
        }

        /* order: the union of all edges must be acyclic */
        off = calloc(n + 1, sizeof(*off));
        fill = calloc(n + 1, sizeof(*fill));
        indeg = calloc(n, sizeof(*indeg));
        queue = malloc(n * sizeof(*queue));
        seen = calloc(n, 1);
        if (!off || !fill || !indeg || !queue || !seen)
                goto out;
        for (i = 0; i < oc->n_receivers; ++i) {
                struct order_log *l = &oc->logs[i];

                for (j = 0; j < l->n; ++j) {
                        seen[l->msgs[j]] = 1;
                        if (j + 1 < l->n) {
                                ++off[l->msgs[j]];
                                ++n_edges;
                        }
                }
        }
        for (i = 0; i < n; ++i) {
                if (oc->dep[i] != ORDER_CHECK_NONE && seen[i] && seen[oc->dep[i]]) {
                        ++off[oc->dep[i]];
                        ++n_edges;
                }
        }
        for (i = 0; i < n; ++i)
                fill[i + 1] = fill[i] + off[i];
        for (i = 0; i <= n; ++i)
                off[i] = fill[i];
        adj = malloc((n_edges ? n_edges : 1) * sizeof(*adj));
        if (!adj)
                goto out;
        for (i = 0; i < oc->n_receivers; ++i) {
                struct order_log *l = &oc->logs[i];

                for (j = 0; j + 1 < l->n; ++j) {
                        adj[fill[l->msgs[j]]++] = l->msgs[j + 1];
                        ++indeg[l->msgs[j + 1]];
                }
        }
        for (i = 0; i < n; ++i) {
                if (oc->dep[i] != ORDER_CHECK_NONE && seen[i] && seen[oc->dep[i]]) {
                        adj[fill[oc->dep[i]]++] = i;
                        ++indeg[i];
                }
        }
        for (i = 0; i < n; ++i) {
                if (!seen[i])
                        continue;
                ++involved;
                if (!indeg[i])
                        queue[tail++] = i;
        }
        while (head < tail) {
                size_t v = queue[head++];

                ++done;
                for (j = off[v]; j < off[v + 1]; ++j)
                        if (!--indeg[adj[j]])
                                queue[tail++] = adj[j];
        }
        res.order_violations = involved - done;
        *out = res;
        r = 0;
out:
        free(off);
        free(fill);
        free(indeg);
        free(queue);
        free(seen);
        free(adj);
        return r;
}
