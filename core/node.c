/*
 * core/node: nodes, their destruction and release notifications
 *
 * A node is created together with its owner handle. n_remote counts the
 * handles of peers other than the owner, installed or in flight inside
 * messages; when it drops to 0 on a live node, the owner gets a
 * NODE_RELEASE notification whose memory was reserved (node->release) when
 * the count last left 0. Destruction is a transaction over a batch of nodes
 * that takes one position D in the global order (doc/core-order.md):
 *
 *   1. lock every node (ascending id), mark them destroying (new sends fail
 *      with EHOSTUNREACH);
 *   2. stage the NODE_DESTROY entry embedded in every holder's handle (and
 *      the owner's, embedded in the node) on the holders' queues;
 *   3. D = (largest staged timestamp) + 1; commit every entry at D;
 *   4. publish destroy_ts = D and unlock.
 * Holding the node locks across the transaction excludes concurrent handle
 * installs, so every holder is notified exactly once: either it is in the
 * holders list at step 2, or it installs the handle later and
 * core_handle_install() queues the notification at D itself (or the handle
 * arrives invalid, when its message is ordered after D).
 *
 * Locking: node->lock (several at once only in ascending id order) ->
 * peer->lock. n->destroying and n->destroy_ts are written under n->lock and
 * read atomically without it.
 */

#include "core/internal.h"

int core_node_new(struct core_peer *owner, bool oneshot, struct core_node **out)
{
        struct core_host *host = owner->engine->host;
        struct core_node *n;
        struct core_handle *h;
        int r;

        n = host_alloc(host, sizeof(*n));
        if (!n)
                return CORE_TRACE(host, -ENOMEM);
        n->release = host_alloc(host, sizeof(*n->release));
        if (!n->release) {
                host_free(host, n);
                return CORE_TRACE(host, -ENOMEM);
        }
        n->owner = core_peer_ref(owner);
        n->oneshot = oneshot;
        n->n_refs = 1;
        host_lock_init(&n->lock);
        list_node_init(&n->holders);
        list_node_init(&n->owner_link);
        list_node_init(&n->destroy_entry.link);
        n->destroy_entry.type = CORE_ENTRY_DESTROY_OWNER;
        n->destroy_entry.node = n;
        list_node_init(&n->release->link);
        n->release->type = CORE_ENTRY_RELEASE;
        n->id = host_atomic_inc(&owner->engine->next_node_id);

        r = core_handle_new(owner, n, &h);
        if (r) {
                core_node_unref(n);
                return r;
        }

        host_lock_lock(&owner->lock);
        if (owner->disconnected) {
                host_lock_unlock(&owner->lock);
                core_handle_unref(h);
                core_node_unref(n);
                return -ESHUTDOWN;
        }
        list_link_tail(&owner->nodes, &n->owner_link);
        ++owner->n_nodes;
        h->id = ++owner->next_handle_id;
        h->n_user = 1;
        h->linked = true;
        core_map_insert(host, &owner->handles_by_id, &h->by_id, h->id);
        core_map_insert(host, &owner->handles_by_node, &h->by_node, n->id);
        list_link_tail(&owner->handles, &h->peer_link);
        ++owner->n_handles;
        n->owner_handle = h;
        host_lock_unlock(&owner->lock);

        /* the table holds @h; the caller gets @n's initial reference */
        *out = n;
        return 0;
}

bool core_node_is_gone(struct core_node *n)
{
        return host_atomic_load(&n->destroying);
}

void core_node_free_unused(struct core_node *n)
{
        struct core_peer *owner = n->owner;
        struct core_host *host = owner->engine->host;

        host_free(host, n->release);
        host_lock_deinit(&n->lock);
        host_free(host, n);
        core_peer_unref(owner);
}


/**
 * core_node_acquire_remote() - count a new non-owner handle (in flight)
 *
 * Reserves the release notification if none is reserved.
 * Return: 0, or -ENOMEM (nothing counted).
 */
int core_node_acquire_remote(struct core_node *n)
{
        struct core_host *host = n->owner->engine->host;
        struct core_entry *spare = NULL;

        for (;;) {
                host_lock_lock(&n->lock);
                if (n->release || n->destroying || spare) {
                        if (!n->release && !n->destroying) {
                                n->release = spare;
                                spare = NULL;
                        }
                        ++n->n_remote;
                        host_lock_unlock(&n->lock);
                        host_free(host, spare);
                        return 0;
                }
                host_lock_unlock(&n->lock);
                spare = host_alloc(host, sizeof(*spare));
                if (!spare)
                        return CORE_TRACE(host, -ENOMEM);
                list_node_init(&spare->link);
                spare->type = CORE_ENTRY_RELEASE;
        }
}

/**
 * core_node_release_remote() - drop a non-owner handle count of @n
 * @actor:      the peer whose action released it (sender key, credentials)
 * @floor:      the actor's clock (causality)
 *
 * No lock may be held. Queues NODE_RELEASE on the owner when the count drops
 * to 0 on a live node. Never fails.
 */
void core_node_release_remote(struct core_node *n, struct core_peer *actor, __u64 floor)
{
        struct core_peer *owner = n->owner;
        struct core_entry *e;

        host_lock_lock(&n->lock);
        if (--n->n_remote || n->destroying || !n->release) {
                host_lock_unlock(&n->lock);
                return;
        }
        e = n->release;
        n->release = NULL;

        host_lock_lock(&owner->lock);
        if (owner->disconnected) {
                host_lock_unlock(&owner->lock);
                host_lock_unlock(&n->lock);
                host_free(owner->engine->host, e);
                return;
        }
        e->ts = core_peer_stage_locked(owner, floor) + 1;
        core_peer_sync_locked(owner, e->ts);
        e->sender = actor->id;
        e->seq = host_atomic_inc(&actor->seq);
        e->creds = core_creds_ref(actor->creds);
        e->node = core_node_ref(n);
        core_queue_link(&owner->queue, e);
        core_peer_update_readable_locked(owner);
        host_lock_unlock(&owner->lock);
        host_lock_unlock(&n->lock);
}

static void core_destroy_stage_locked(struct core_peer *p, struct core_entry *e, struct core_peer *owner,
                                      __u64 floor, __u64 seq, __u64 *max)
{
        e->ts = core_peer_stage_locked(p, floor);
        e->sender = owner->id;
        e->seq = seq;
        e->creds = core_creds_ref(owner->creds);
        core_queue_link(&p->queue, e);
        if (e->ts > *max)
                *max = e->ts;
}

static void core_destroy_commit(struct core_peer *p, struct core_entry *e, __u64 d)
{
        bool drop = false;

        host_lock_lock(&p->lock);
        if (e->queued && (e->ts & 1)) {
                if (p->disconnected) {
                        /* disconnected since staging: its flush left staged entries to us */
                        core_queue_unlink(&p->queue, e);
                        drop = true;
                } else {
                        core_queue_relink(&p->queue, e, d);
                        core_peer_sync_locked(p, d);
                        core_peer_update_readable_locked(p);
                }
        }
        host_lock_unlock(&p->lock);
        if (drop)
                core_entry_free(p->engine->host, e);
}

/**
 * core_nodes_destroy() - destroy a batch of nodes in one transaction
 * @owner:      their owner (no lock held)
 * @nodes:      the nodes, ascending id, owned by @owner, each listed once
 *
 * Return: 0, or -EHOSTUNREACH if one of them is already being destroyed
 * (then nothing changed).
 */
int core_nodes_destroy(struct core_peer *owner, struct core_node **nodes, size_t n_nodes)
{
        struct core_handle *h;
        __u64 floor, seq, max = 0, d;
        bool owner_ok;
        size_t i;

        for (i = 0; i < n_nodes; ++i)
                host_lock_lock(&nodes[i]->lock);
        for (i = 0; i < n_nodes; ++i) {
                if (nodes[i]->destroying) {
                        while (n_nodes)
                                host_lock_unlock(&nodes[--n_nodes]->lock);
                        return -EHOSTUNREACH;
                }
        }
        for (i = 0; i < n_nodes; ++i)
                host_atomic_store(&nodes[i]->destroying, true);

        host_lock_lock(&owner->lock);
        floor = owner->clock;
        owner_ok = !owner->disconnected;
        host_lock_unlock(&owner->lock);
        seq = host_atomic_inc(&owner->seq);

        /* stage */
        for (i = 0; i < n_nodes; ++i) {
                struct core_node *n = nodes[i];

                list_for_each_entry(h, &n->holders, struct core_handle, node_link) {
                        struct core_peer *p = h->holder;

                        host_lock_lock(&p->lock);
                        if (!p->disconnected && !h->notify.queued) {
                                core_handle_ref(h);
                                core_destroy_stage_locked(p, &h->notify, owner, floor, seq, &max);
                        }
                        host_lock_unlock(&p->lock);
                }
                if (owner_ok && !n->oneshot) {
                        host_lock_lock(&owner->lock);
                        if (!owner->disconnected) {
                                core_node_ref(n);
                                core_destroy_stage_locked(owner, &n->destroy_entry, owner, floor, seq, &max);
                        }
                        host_lock_unlock(&owner->lock);
                }
        }

        d = max ? max + 1 : (floor | 1) + 1;

        /* commit */
        for (i = 0; i < n_nodes; ++i) {
                struct core_node *n = nodes[i];

                list_for_each_entry(h, &n->holders, struct core_handle, node_link)
                        if (h->notify.sender == owner->id && h->notify.seq == seq)
                                core_destroy_commit(h->holder, &h->notify, d);
                if (n->destroy_entry.sender == owner->id && n->destroy_entry.seq == seq)
                        core_destroy_commit(owner, &n->destroy_entry, d);
                n->destroy_sender = owner->id;
                n->destroy_seq = seq;
                host_atomic_store(&n->destroy_ts, d);
        }

        host_lock_lock(&owner->lock);
        for (i = 0; i < n_nodes; ++i) {
                list_unlink(&nodes[i]->owner_link);
                --owner->n_nodes;
        }
        core_peer_sync_locked(owner, d);
        host_lock_unlock(&owner->lock);

        while (n_nodes)
                host_lock_unlock(&nodes[--n_nodes]->lock);
        return 0;
}
