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
 * The queue is a red-black tree (util/rbtree.h): insertion, commit (a move
 * to a larger key) and removal are O(log n) whatever the interleaving of
 * staged and committed entries.
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
        /*
         * One transaction, several entries on one queue (a batch destroy, or
         * a destination listed twice): they share one position of the
         * global order; any fixed order among them will do.
         */
        if (a->node != b->node)
                return a->node->id < b->node->id ? -1 : 1;
        if (a != b)
                return (unsigned long)a < (unsigned long)b ? -1 : 1;
        return 0;
}

struct core_queue_key {
        const struct core_queue *q;
        const struct core_entry *e;
};

static int core_queue_cmp(const void *key, const struct rb_node *n)
{
        const struct core_queue_key *k = key;

        return core_queue_compare(k->q, k->e, rb_entry(n, struct core_entry, rb));
}

void core_queue_init(struct core_queue *q)
{
        rb_root_init(&q->tree);
        q->n_entries = 0;
        q->reverse_ties = false;
}

void core_queue_link(struct core_queue *q, struct core_entry *e)
{
        struct core_queue_key k = { q, e };
        struct rb_node *dup;

        dup = rb_insert(&q->tree, &e->rb, &k, core_queue_cmp);
        (void)dup;      /* keys are unique: (sender, seq) names one transaction */
        e->queued = true;
        ++q->n_entries;
}

void core_queue_unlink(struct core_queue *q, struct core_entry *e)
{
        rb_remove(&q->tree, &e->rb);
        e->queued = false;
        --q->n_entries;
}

void core_queue_relink(struct core_queue *q, struct core_entry *e, __u64 ts)
{
        core_queue_unlink(q, e);
        e->ts = ts;
        core_queue_link(q, e);
}

struct core_entry *core_queue_first(struct core_queue *q)
{
        struct rb_node *n = rb_first(&q->tree);

        return n ? rb_entry(n, struct core_entry, rb) : NULL;
}

struct core_entry *core_queue_next(struct core_entry *e)
{
        struct rb_node *n = rb_next(&e->rb);

        return n ? rb_entry(n, struct core_entry, rb) : NULL;
}

