/*
 * core/queue: a peer's receive queue, in global order
 *
 * Entries are kept sorted by the key (ts, sender, seq). A staged entry has
 * an odd ts (a lower bound of its final position); committing it moves it to
 * its final, even ts, which is never lower. The first entry is ready to be
 * received if and only if it is committed: a staged entry in front of it may
 * still commit at a position lower than any later entry's. The rule and its
 * proof are in doc/core-order.md.
 *
 * New entries get the largest ts of the queue's clock, so insertion scans
 * from the tail and is O(1) in the common case.
 *
 * Locking: the owning peer's lock protects the queue and its entries.
 */

#include "core/internal.h"

static int core_queue_compare(const struct core_queue *q, const struct core_entry *a,
                              const struct core_entry *b)
{
        if (q->reverse_ties && a->ts == b->ts && a->sender != b->sender)
                return a->sender < b->sender ? 1 : -1;
        return core_entry_compare(a, b);
}

int core_entry_compare(const struct core_entry *a, const struct core_entry *b)
{
        if (a->ts != b->ts)
                return a->ts < b->ts ? -1 : 1;
        if (a->sender != b->sender)
                return a->sender < b->sender ? -1 : 1;
        if (a->seq != b->seq)
                return a->seq < b->seq ? -1 : 1;
        return 0;
}

void core_queue_init(struct core_queue *q)
{
        list_node_init(&q->entries);
        q->n_entries = 0;
        q->reverse_ties = false;
}

void core_queue_link(struct core_queue *q, struct core_entry *e)
{
        struct list_node *pos;

        for (pos = q->entries.prev; pos != &q->entries; pos = pos->prev)
                if (core_queue_compare(q, list_entry(pos, struct core_entry, link), e) < 0)
                        break;
        list_link_after(pos, &e->link);
        e->queued = true;
        ++q->n_entries;
}

void core_queue_unlink(struct core_queue *q, struct core_entry *e)
{
        list_unlink(&e->link);
        e->queued = false;
        --q->n_entries;
}

void core_queue_relink(struct core_queue *q, struct core_entry *e, __u64 ts)
{
        core_queue_unlink(q, e);
        e->ts = ts;
        core_queue_link(q, e);
}

struct core_entry *core_queue_first_ready(struct core_queue *q)
{
        struct core_entry *e;

        if (list_is_empty(&q->entries))
                return NULL;
        e = list_entry(q->entries.next, struct core_entry, link);
        return core_entry_is_committed(e) ? e : NULL;
}
