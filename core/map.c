/*
 * core/map: u64-keyed intrusive hash map
 *
 * Used for the handle tables of a peer (by handle ID and by node ID).
 * Entries are embedded in their objects, so insertion never fails; the
 * bucket array is grown when the load factor exceeds 1 and growing is
 * skipped (longer chains) when the allocation fails.
 *
 * Locking: none; the owner (the peer) serialises access.
 */

#include "core/internal.h"

void core_map_init(struct core_map *m)
{
        m->inline_bucket = NULL;
        m->buckets = &m->inline_bucket;
        m->n_buckets = 1;
        m->n_entries = 0;
}

void core_map_deinit(struct core_host *h, struct core_map *m)
{
        if (m->buckets != &m->inline_bucket)
                host_free(h, m->buckets);
        core_map_init(m);
}

static void core_map_grow(struct core_host *h, struct core_map *m)
{
        size_t n = m->n_buckets * 4, i;
        struct core_map_entry **b, *e, *next;

        b = host_alloc(h, n * sizeof(*b));
        if (!b)
                return;
        for (i = 0; i < m->n_buckets; ++i) {
                for (e = m->buckets[i]; e; e = next) {
                        size_t k = core_map_hash(e->key, n);

                        next = e->next;
                        e->next = b[k];
                        b[k] = e;
                }
        }
        if (m->buckets != &m->inline_bucket)
                host_free(h, m->buckets);
        m->buckets = b;
        m->n_buckets = n;
}

void core_map_insert(struct core_host *h, struct core_map *m, struct core_map_entry *e, __u64 key)
{
        size_t k;

        if (m->n_entries >= m->n_buckets)
                core_map_grow(h, m);
        k = core_map_hash(key, m->n_buckets);
        e->key = key;
        e->next = m->buckets[k];
        m->buckets[k] = e;
        ++m->n_entries;
}

void core_map_remove(struct core_map *m, struct core_map_entry *e)
{
        struct core_map_entry **pos = &m->buckets[core_map_hash(e->key, m->n_buckets)];

        while (*pos != e)
                pos = &(*pos)->next;
        *pos = e->next;
        e->next = NULL;
        --m->n_entries;
}
