/*
 * core/handle: a peer's capability to a node
 *
 * A handle is created for a receiving peer when a message (or a transfer)
 * carries a node to it, before the receiver is known to need it, so that
 * installing it later never allocates. Installing coalesces: a peer has at
 * most one handle per node, counting in n_user how often it got it.
 *
 * Each handle embeds the entry of its NODE_DESTROY notification, so that
 * notification can never fail: its memory exists as long as the handle.
 *
 * Lifetime: memory refs (n_refs) are held by the holder's table, by a queued
 * notification and by whoever installs it. `holder` carries no reference: a
 * handle is in its holder's table or queue only while the holder is alive
 * (both are emptied on disconnect).
 *
 * Locking: node->lock -> holder->lock. The table fields are protected by
 * holder->lock, node_link by node->lock. core_handle_install() holds both
 * while it compares the node's destroy position with the installation's:
 * under node->lock a destroy is either fully committed or not begun. A
 * transfer computes its position under holder->lock (it used to take the
 * transferring peer's clock alone, a race with concurrent destroys fixed
 * with test_transfer_vs_destroy; see doc/core-order.md).
 */

#include "core/internal.h"

int core_handle_new(struct core_peer *holder, struct core_node *node, struct core_handle **out)
{
        struct core_handle *h;

        h = host_alloc(holder->engine->host, sizeof(*h));
        if (!h)
                return CORE_TRACE(holder->engine->host, -ENOMEM);
        h->holder = holder;
        h->node = core_node_ref(node);
        h->n_refs = 1;
        list_node_init(&h->peer_link);
        list_node_init(&h->node_link);
        list_node_init(&h->notify.link);
        h->notify.type = CORE_ENTRY_DESTROY_HOLDER;
        h->notify.node = node;
        *out = h;
        return 0;
}

struct core_handle *core_handle_ref(struct core_handle *h)
{
        if (h)
                host_atomic_inc(&h->n_refs);
        return h;
}

struct core_handle *core_handle_unref(struct core_handle *h)
{
        if (h && !host_atomic_dec(&h->n_refs)) {
                struct core_host *host = h->holder->engine->host;

                core_node_unref(h->node);
                host_free(host, h);
        }
        return NULL;
}

/* Remove @h from its holder's table. Holder lock held. */
void core_handle_unlink_locked(struct core_handle *h)
{
        struct core_peer *p = h->holder;

        core_map_remove(&p->handles_by_id, &h->by_id);
        core_map_remove(&p->handles_by_node, &h->by_node);
        list_unlink(&h->peer_link);
        --p->n_handles;
        h->linked = false;
}

/* Put @h back into its holder's table under its old ID. Holder lock held. */
void core_handle_relink_locked(struct core_handle *h)
{
        struct core_peer *p = h->holder;

        core_map_insert(p->engine->host, &p->handles_by_id, &h->by_id, h->id);
        core_map_insert(p->engine->host, &p->handles_by_node, &h->by_node, h->node->id);
        list_link_tail(&p->handles, &h->peer_link);
        ++p->n_handles;
        h->linked = true;
}

/**
 * core_handle_install() - install a preallocated handle in its holder
 * @p:          the holder (no lock held)
 * @h:          the handle; the caller's reference is consumed
 * @ts:         position of the message that carried it, or with @now the
 *              clock of the peer that transfers it (a floor)
 * @now:        a transfer (no message): the installation takes the position
 *              (max(@ts, clock of @p) | 1) + 1, computed under @p's lock, so
 *              it is after everything @p has received or staged
 *
 * Carries over the in-flight count of the node: it becomes the holder's
 * count, or is dropped when the holder already has a handle to the node,
 * when the node was destroyed before the position, or when @p is
 * disconnected. If the node was destroyed after the position, the
 * NODE_DESTROY notification is queued at the destroy's position.
 *
 * Why @now: a transfer is not on @p's queue, so its position must not lie
 * behind what @p already received. With the transferring peer's clock alone,
 * a destroy committed at D between the transfer's check and this install
 * (D >= that clock) queued NODE_DESTROY at D on a @p whose clock was already
 * past D: @p received it after entries ordered behind it (Theorem 1 broken;
 * test-lifetime test_transfer_vs_destroy). Under node->lock the destroy has
 * either fully committed (destroy_ts set) or not begun, so the comparison
 * with the position computed under @p's lock is exact.
 *
 * Return: the handle ID in @p, or BUS1_HANDLE_INVALID.
 */
__u64 core_handle_install(struct core_peer *p, struct core_handle *h, __u64 ts, bool now)
{
        struct core_node *n = h->node;
        struct core_map_entry *me;
        __u64 d, id;

        host_lock_lock(&n->lock);
        d = host_atomic_load(&n->destroy_ts);
        if (d && d < ts) {
                --n->n_remote;
                host_lock_unlock(&n->lock);
                core_handle_unref(h);
                return BUS1_HANDLE_INVALID;
        }

        host_lock_lock(&p->lock);
        if (now && !p->disconnected) {
                ts = ((p->clock > ts ? p->clock : ts) | 1) + 1;
                if (d && d < ts) {
                        host_lock_unlock(&p->lock);
                        --n->n_remote;
                        host_lock_unlock(&n->lock);
                        core_handle_unref(h);
                        return BUS1_HANDLE_INVALID;
                }
                core_peer_sync_locked(p, ts);
        }
        if (p->disconnected) {
                __u64 floor = p->clock;

                host_lock_unlock(&p->lock);
                host_lock_unlock(&n->lock);
                core_node_release_remote(n, p, floor);
                core_handle_unref(h);
                return BUS1_HANDLE_INVALID;
        }

        me = core_map_lookup(&p->handles_by_node, n->id);
        if (me) {
                struct core_handle *old = list_entry(me, struct core_handle, by_node);

                ++old->n_user;
                id = old->id;
                host_lock_unlock(&p->lock);
                --n->n_remote;
                host_lock_unlock(&n->lock);
                core_handle_unref(h);
                return id;
        }

        h->id = ++p->next_handle_id;
        h->n_user = 1;
        h->linked = true;
        core_map_insert(p->engine->host, &p->handles_by_id, &h->by_id, h->id);
        core_map_insert(p->engine->host, &p->handles_by_node, &h->by_node, n->id);
        list_link_tail(&p->handles, &h->peer_link);
        ++p->n_handles;
        list_link_tail(&n->holders, &h->node_link);

        if (d) {
                /* destroyed after the message: notify at the destroy's position */
                h->notify.ts = d;
                h->notify.sender = n->destroy_sender;
                h->notify.seq = n->destroy_seq;
                h->notify.creds = core_creds_ref(n->owner->creds);
                core_handle_ref(h);
                core_queue_link(&p->queue, &h->notify);
                core_peer_sync_locked(p, d);
                core_peer_update_readable_locked(p);
        }
        id = h->id;
        host_lock_unlock(&p->lock);
        host_lock_unlock(&n->lock);
        /* the table's reference is the caller's one */
        return id;
}
