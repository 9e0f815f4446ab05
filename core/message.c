/*
 * core/message: send, receive and call
 *
 * A send is a transaction over its destinations (doc/core-order.md):
 *
 *   1. copy and validate the command; build one shared payload (data, file
 *      references, references to the nodes of the handles passed);
 *   2. under the sender's lock: resolve destination and passed handles to
 *      nodes, read the sender's clock (floor);
 *   3. per destination, without locks: allocate its message, preallocate
 *      the handles it will install (so receiving never allocates) and count
 *      them as in flight on their nodes;
 *   4. stage: per destination, under its lock, charge the quota and link the
 *      message with an odd timestamp above the destination's clock and floor;
 *   5. commit: T = largest staged timestamp + 1; per destination, under its
 *      lock, move the message to T and sync the clock to T;
 *   6. sync the sender's clock to T.
 * A single destination stages and commits in one critical section.
 * Without BUS1_SEND_CONTINUE any failure before the commit unstages every
 * destination, so a multicast is all-or-nothing.
 *
 * Locking: one peer lock at a time (sender, then each destination); node
 * locks only in core_node_*() and core_handle_install() with no peer lock
 * held. The caller's memory is copied with no lock held, except the receive
 * path, which copies into the caller's buffers under the receiver's lock so a
 * failing copy leaves the message queued.
 */

#include "core/core.h"
#include "core/internal.h"

#define CORE_STACK_N 16

struct core_dest {
        struct core_node *node;
        struct core_message *m;
        struct core_handle *oneshot;    /* ref: a consumed one-shot (reply) handle */
        __u64 id;
        int error;
        bool staged;
};

/*
 * One-shot (reply) handles are consumed by the send through them: taken out
 * of the sender's table when resolving, and released for good between
 * staging and commit, so the reply is never visible before the handle is
 * gone (the caller may destroy the reply node as soon as it sees the reply,
 * and the replier must not hear about that). If the send does not reach
 * the destination, the handle goes back into the table under its old ID.
 */
static void core_oneshot_finish_slow(struct core_peer *p, struct core_dest *d, __u64 floor, bool delivered)
{
        struct core_handle *h = d->oneshot;
        struct core_node *n;

        d->oneshot = NULL;
        n = h->node;
        if (!delivered) {
                host_lock_lock(&p->lock);
                if (!p->disconnected) {
                        core_handle_relink_locked(h);
                        host_lock_unlock(&p->lock);
                        core_handle_unref(h);
                        return;
                }
                host_lock_unlock(&p->lock);
        }
        host_lock_lock(&n->lock);
        list_unlink(&h->node_link);
        host_lock_unlock(&n->lock);
        core_node_release_remote(n, p, floor);
        core_handle_unref(h);   /* the table's reference */
        core_handle_unref(h);   /* ours */
}

static inline void core_oneshot_finish(struct core_peer *p, struct core_dest *d, __u64 floor, bool delivered)
{
        if (d->oneshot)
                core_oneshot_finish_slow(p, d, floor, delivered);
}

static struct core_payload *core_payload_unref(struct core_engine *eng, struct core_payload *pl)
{
        struct core_host *h = eng->host;
        __u64 i;

        if (pl && !host_atomic_dec(&pl->n_refs)) {
                for (i = 0; i < pl->n_files; ++i)
                        host_file_put(h, pl->files[i]);
                for (i = 0; i < pl->n_nodes; ++i)
                        core_node_unref(pl->nodes[i]);
                core_node_unref(pl->reply);
                host_free(h, pl->files);
                host_free(h, pl->nodes);
                core_cache_free(h, &eng->payload_cache, pl, sizeof(*pl) + pl->n_data);
        }
        return NULL;
}

static void core_handle_drop_inflight(struct core_handle *h, struct core_peer *actor)
{
        core_node_release_remote(h->node, actor, core_peer_clock(actor));
        core_handle_unref(h);
}

/**
 * core_entry_free() - free an entry that is not queued (NULL is fine)
 *
 * No lock may be held: dropping a message releases the handles it carried.
 * Return: NULL.
 */
struct core_entry *core_entry_free(struct core_host *h, struct core_entry *e)
{
        struct core_engine *eng;
        struct core_message *m;
        __u64 i;

        if (!e)
                return NULL;
        core_creds_unref(h, e->creds);
        e->creds = NULL;
        switch (e->type) {
        case CORE_ENTRY_DATA:
                m = (struct core_message *)e;
                eng = e->node->owner->engine;
                for (i = 0; i < m->n_handles; ++i)
                        if (m->handles[i])
                                core_handle_drop_inflight(m->handles[i], e->node->owner);
                if (m->reply_handle)
                        core_handle_drop_inflight(m->reply_handle, e->node->owner);
                core_payload_unref(eng, m->payload);
                core_node_unref(e->node);
                core_cache_free(h, &eng->message_cache, m, sizeof(*m) + m->n_handles * sizeof(m->handles[0]));
                break;
        case CORE_ENTRY_DESTROY_HOLDER:
                core_handle_unref(list_entry(e, struct core_handle, notify));
                break;
        case CORE_ENTRY_DESTROY_OWNER:
                core_node_unref(e->node);
                break;
        case CORE_ENTRY_RELEASE:
                core_node_unref(e->node);
                host_free(h, e);
                break;
        }
        return NULL;
}

void core_entries_free(struct core_engine *eng, struct list_node *list)
{
        struct core_entry *e, *tmp;

        list_for_each_entry_safe(e, tmp, list, struct core_entry, link) {
                list_unlink(&e->link);
                core_entry_free(eng->host, e);
        }
}

/* Remove a queued DATA entry from @p, discharging it. Peer lock held. */
static void core_message_unqueue_locked(struct core_peer *p, struct core_entry *e)
{
        core_queue_unlink(&p->queue, e);
        if (e->type == CORE_ENTRY_DATA) {
                struct core_message *m = (struct core_message *)e;

                if (m->charged) {
                        core_user_discharge_locked(p, &m->charge_refs, &m->charge);
                        m->charged = false;
                }
        }
}

static inline int core_copy_array(struct core_host *h, __u64 **out, __u64 *stack, __u64 ptr, __u64 n)
{
        __u64 *a = stack;
        int r;

        if (!n) {
                *out = stack;
                return 0;
        }
        if (n > CORE_STACK_N) {
                a = host_alloc(h, n * sizeof(*a));
                if (!a)
                        return CORE_TRACE(h, -ENOMEM);
        }
        r = host_copy_from(a, ptr, n * sizeof(*a));
        if (r) {
                if (a != stack)
                        host_free(h, a);
                return r;
        }
        *out = a;
        return 0;
}

static int core_message_new(struct core_peer *sender, struct core_dest *d, struct core_payload *pl,
                            struct core_message **out)
{
        struct core_host *h = sender->engine->host;
        struct core_peer *dst = d->node->owner;
        struct core_message *m;
        __u64 j;
        int r;

        m = core_cache_alloc(h, &sender->engine->message_cache,
                             sizeof(*m) + pl->n_nodes * sizeof(m->handles[0]));
        if (!m)
                return CORE_TRACE(h, -ENOMEM);
        m->n_handles = pl->n_nodes;
        list_node_init(&m->entry.link);
        m->entry.type = CORE_ENTRY_DATA;
        m->entry.node = core_node_ref(d->node);
        m->entry.creds = core_creds_ref(sender->creds);
        m->entry.sender = sender->id;
        m->payload = pl;
        host_atomic_inc(&pl->n_refs);
        m->sender_user = sender->user;
        m->charge.messages = 1;
        m->charge.bytes = pl->charge_bytes;
        m->charge.handles = pl->n_nodes + (pl->reply ? 1 : 0);
        m->charge.fds = pl->charge_fds;

        for (j = 0; j < pl->n_nodes; ++j) {
                struct core_handle *hd;

                if (pl->nodes[j]->owner == dst)
                        continue;
                r = core_handle_new(dst, pl->nodes[j], &hd);
                if (r)
                        goto fail;
                r = core_node_acquire_remote(pl->nodes[j]);
                if (r) {
                        core_handle_unref(hd);
                        goto fail;
                }
                m->handles[j] = hd;
        }
        if (pl->reply) {
                struct core_handle *hd;

                r = core_handle_new(dst, pl->reply, &hd);
                if (r)
                        goto fail;
                hd->oneshot = true;
                r = core_node_acquire_remote(pl->reply);
                if (r) {
                        core_handle_unref(hd);
                        goto fail;
                }
                m->reply_handle = hd;
        }
        *out = m;
        return 0;

fail:
        core_entry_free(h, &m->entry);
        return r;
}

/* Stage (and with @commit, commit) @m on its destination. */
static int core_message_stage(struct core_dest *d, __u64 floor, bool commit, __u64 *max)
{
        struct core_peer *dst = d->node->owner;
        struct core_message *m = d->m;
        int r;

        host_lock_lock(&dst->lock);
        if (dst->disconnected) {
                host_lock_unlock(&dst->lock);
                return EHOSTUNREACH;
        }
        r = core_user_charge_locked(dst, m->sender_user, m->entry.sender, &m->charge, &m->charge_refs);
        if (r) {
                host_lock_unlock(&dst->lock);
                return -r;
        }
        m->charged = true;
        m->entry.ts = core_peer_stage_locked(dst, floor);
        if (commit) {
                ++m->entry.ts;
                core_peer_sync_locked(dst, m->entry.ts);
        }
        core_queue_link(&dst->queue, &m->entry);
        if (commit)
                core_peer_update_readable_locked(dst);
        if (m->entry.ts > *max)
                *max = m->entry.ts;
        d->staged = true;
        host_lock_unlock(&dst->lock);
        /* once committed, @m may be received and freed at any time */
        return 0;
}

/* Commit a staged message at @t; returns false if it was dropped instead. */
static bool core_message_commit(struct core_dest *d, __u64 t)
{
        struct core_peer *dst = d->node->owner;
        bool kept = true;

        host_lock_lock(&dst->lock);
        if (dst->disconnected) {
                core_message_unqueue_locked(dst, &d->m->entry);
                kept = false;
        } else {
                core_queue_relink(&dst->queue, &d->m->entry, t);
                core_peer_sync_locked(dst, t);
                core_peer_update_readable_locked(dst);
        }
        host_lock_unlock(&dst->lock);
        return kept;
}

static void core_message_unstage(struct core_dest *d)
{
        struct core_peer *dst = d->node->owner;

        host_lock_lock(&dst->lock);
        core_message_unqueue_locked(dst, &d->m->entry);
        core_peer_update_readable_locked(dst);
        host_lock_unlock(&dst->lock);
        d->staged = false;
}

/**
 * core_send() - the send transaction
 * @p:          sender
 * @cmd:        validated command (kernel copy)
 * @reply:      reply node of a call, or NULL
 *
 * Return: 0, a negative errno of the command, or (without
 * BUS1_SEND_CONTINUE) the negative errno of the first failing destination.
 */
static int core_send(struct core_peer *p, const struct bus1_cmd_send *cmd, struct core_node *reply)
{
        struct core_host *h = p->engine->host;
        __u64 s_dest[CORE_STACK_N], s_vec[CORE_STACK_N * 2], s_hnd[CORE_STACK_N], s_fd[CORE_STACK_N];
        struct core_dest s_d[CORE_STACK_N];
        __u64 *ids = NULL, *vecs = NULL, *hids = NULL, *fds = NULL;
        struct core_dest *dests = s_d;
        struct core_payload *pl = NULL;
        __u64 i, size = 0, floor = 0, max = 0, t, n_ok = 0, n_d = 0;
        bool cont = cmd->flags & BUS1_SEND_CONTINUE, commit;
        int r, first_error = 0;

        if ((cmd->flags & ~(BUS1_SEND_CONTINUE | BUS1_SEND_CHARGE)) || cmd->reserved ||
            !cmd->n_destinations || cmd->n_destinations > BUS1_DESTINATION_MAX ||
            cmd->n_vecs > BUS1_VEC_MAX || cmd->n_handles > BUS1_HANDLE_MAX || cmd->n_fds > BUS1_FD_MAX)
                return -EINVAL;
        /*
         * A declared charge needs no privilege: it only ever raises what each
         * destination is charged above the payload's own figures (the max()
         * below), and every charge falls on the sending user's own shares of
         * the receiver (doc/core-quota.md), so a sender inflating it uses up
         * only its own user's room. It is bounded like a payload, which also
         * keeps the quota arithmetic (3 * c) far from overflowing.
         */
        if (cmd->flags & BUS1_SEND_CHARGE) {
                if (cmd->charge_bytes > BUS1_PAYLOAD_MAX || cmd->charge_fds > BUS1_FD_MAX)
                        return -EINVAL;
        } else if (cmd->charge_bytes || cmd->charge_fds) {
                return -EINVAL;
        }

        r = core_copy_array(h, &ids, s_dest, cmd->ptr_destinations, cmd->n_destinations);
        if (r)
                goto out;
        if (cmd->n_vecs * 2 > CORE_STACK_N * 2) {
                r = core_copy_array(h, &vecs, NULL, cmd->ptr_vecs, cmd->n_vecs * 2);
        } else {
                vecs = s_vec;
                r = host_copy_from(vecs, cmd->ptr_vecs, cmd->n_vecs * sizeof(struct bus1_vec));
        }
        if (r) {
                vecs = NULL;
                goto out;
        }
        r = core_copy_array(h, &hids, s_hnd, cmd->ptr_handles, cmd->n_handles);
        if (r)
                goto out;
        r = core_copy_array(h, &fds, s_fd, cmd->ptr_fds, cmd->n_fds);
        if (r)
                goto out;

        for (i = 0; i < cmd->n_vecs; ++i) {
                if (vecs[2 * i + 1] > BUS1_PAYLOAD_MAX || size + vecs[2 * i + 1] > BUS1_PAYLOAD_MAX) {
                        r = -EINVAL;
                        goto out;
                }
                size += vecs[2 * i + 1];
        }

        if (cmd->n_destinations > CORE_STACK_N) {
                dests = host_alloc(h, cmd->n_destinations * sizeof(*dests));
                if (!dests) {
                        dests = s_d;
                        r = CORE_TRACE(h, -ENOMEM);
                        goto out;
                }
        }
        host_memset(dests, 0, cmd->n_destinations * sizeof(*dests));
        n_d = cmd->n_destinations;

        pl = core_cache_alloc(h, &p->engine->payload_cache, sizeof(*pl) + size);
        if (!pl) {
                r = CORE_TRACE(h, -ENOMEM);
                goto out;
        }
        pl->n_refs = 1;
        pl->n_data = size;
        pl->charge_bytes = size > cmd->charge_bytes ? size : cmd->charge_bytes;
        pl->charge_fds = cmd->n_fds > cmd->charge_fds ? cmd->n_fds : cmd->charge_fds;
        for (i = 0, size = 0; i < cmd->n_vecs; ++i) {
                r = host_copy_from(pl->data + size, vecs[2 * i], vecs[2 * i + 1]);
                if (r)
                        goto out;
                size += vecs[2 * i + 1];
        }
        if (cmd->n_fds) {
                pl->files = host_alloc(h, cmd->n_fds * sizeof(*pl->files));
                if (!pl->files) {
                        r = CORE_TRACE(h, -ENOMEM);
                        goto out;
                }
                for (i = 0; i < cmd->n_fds; ++i) {
                        r = host_file_get(h, fds[i], &pl->files[i]);
                        if (r)
                                goto out;
                        pl->n_files = i + 1;
                }
        }
        if (cmd->n_handles) {
                pl->nodes = host_alloc(h, cmd->n_handles * sizeof(*pl->nodes));
                if (!pl->nodes) {
                        r = CORE_TRACE(h, -ENOMEM);
                        goto out;
                }
        }
        pl->reply = core_node_ref(reply);

        /* resolve */
        host_lock_lock(&p->lock);
        if (p->disconnected) {
                host_lock_unlock(&p->lock);
                r = -ESHUTDOWN;
                goto out;
        }
        for (i = 0; i < cmd->n_handles; ++i) {
                struct core_handle *hd = core_peer_lookup_locked(p, hids[i]);

                if (!hd) {
                        host_lock_unlock(&p->lock);
                        r = -ENXIO;
                        goto out;
                }
                pl->nodes[i] = core_node_ref(hd->node);
                pl->n_nodes = i + 1;
        }
        for (i = 0; i < cmd->n_destinations; ++i) {
                struct core_handle *hd = core_peer_lookup_locked(p, ids[i]);

                dests[i].id = ids[i];
                if (!hd) {
                        dests[i].error = ENXIO;
                        continue;
                }
                dests[i].node = core_node_ref(hd->node);
                if (hd->oneshot) {
                        dests[i].oneshot = core_handle_ref(hd);
                        core_handle_unlink_locked(hd);
                }
        }
        floor = p->clock;
        host_lock_unlock(&p->lock);

        /* prepare */
        for (i = 0; i < cmd->n_destinations; ++i) {
                struct core_dest *d = &dests[i];

                if (!d->error) {
                        if (core_node_is_gone(d->node)) {
                                d->error = EHOSTUNREACH;
                        } else {
                                r = core_message_new(p, d, pl, &d->m);
                                if (r) {
                                        d->error = -r;
                                        r = 0;
                                }
                        }
                }
                if (!d->error)
                        ++n_ok;
                else if (!first_error)
                        first_error = d->error;
        }
        if (first_error && !cont)
                goto abort;

        /* stage (and commit, for a single destination) */
        for (i = 0; i < cmd->n_destinations; ++i) {
                struct core_dest *d = &dests[i];
                int e;

                if (d->error)
                        continue;
                d->m->entry.seq = host_atomic_inc(&p->seq);
                e = core_message_stage(d, floor, n_ok == 1 && !d->oneshot, &max);
                if (e) {
                        d->error = e;
                        if (!first_error)
                                first_error = e;
                        if (!cont)
                                goto abort;
                }
        }

        for (i = 0; i < cmd->n_destinations; ++i)
                core_oneshot_finish(p, &dests[i], floor, dests[i].staged);

        /* a single destination committed when it staged, unless it had to wait for a one-shot */
        commit = n_ok > 1 || (max & 1);
        t = commit ? max + 1 : max;
        for (i = 0; i < cmd->n_destinations; ++i) {
                struct core_dest *d = &dests[i];

                if (!d->staged)
                        continue;
                if (commit && !core_message_commit(d, t))
                        d->staged = false;
                else
                        d->m = NULL;            /* the queue owns it now */
        }

        host_lock_lock(&p->lock);
        core_peer_sync_locked(p, t);
        host_lock_unlock(&p->lock);
        r = 0;
        goto report;

abort:
        for (i = 0; i < cmd->n_destinations; ++i) {
                if (dests[i].staged)
                        core_message_unstage(&dests[i]);
                core_oneshot_finish(p, &dests[i], floor, false);
        }
        r = -first_error;

report:
        if (cmd->ptr_errors) {
                int rr;

                /* the destination IDs are resolved: reuse their array for one copy */
                for (i = 0; i < cmd->n_destinations; ++i)
                        ids[i] = dests[i].error;
                rr = host_copy_to(cmd->ptr_errors, ids, cmd->n_destinations * sizeof(*ids));
                if (rr && !r)
                        r = rr;
        }

out:
        for (i = 0; i < n_d; ++i) {
                core_oneshot_finish(p, &dests[i], 0, false);
                core_entry_free(h, dests[i].m ? &dests[i].m->entry : NULL);
                core_node_unref(dests[i].node);
        }
        if (dests != s_d)
                host_free(h, dests);
        core_payload_unref(p->engine, pl);
        if (ids != s_dest)
                host_free(h, ids);
        if (vecs != s_vec)
                host_free(h, vecs);
        if (hids != s_hnd)
                host_free(h, hids);
        if (fds != s_fd)
                host_free(h, fds);
        return r;
}

int core_peer_send_cmd(struct core_peer *p, __u64 arg);
int core_peer_send_cmd(struct core_peer *p, __u64 arg)
{
        struct bus1_cmd_send cmd;
        int r;

        r = host_copy_from(&cmd, arg, sizeof(cmd));
        if (r)
                return r;
        return core_send(p, &cmd, NULL);
}

static __u64 core_owner_handle_id_locked(struct core_node *n)
{
        return n->owner_handle ? n->owner_handle->id : BUS1_HANDLE_INVALID;
}

/*
 * Copy @e into the caller's buffers and, unless peeking, dequeue it
 * (*consumed). Peer lock held. Handles are installed by the caller after
 * unlocking (core_recv_finish()).
 */
int core_peer_recv_entry_locked(struct core_peer *p, struct core_entry *e, struct bus1_cmd_recv *cmd,
                                struct list_node *to_free, struct core_entry **consumed)
{
        struct core_host *h = p->engine->host;
        struct core_message *m = e->type == CORE_ENTRY_DATA ? (struct core_message *)e : NULL;
        __u64 n_payload = m ? m->payload->n_data : 0;
        __u64 n_handles = m ? m->payload->n_nodes : 0;
        __u64 n_fds = m ? m->payload->n_files : 0;
        __u64 fdv[BUS1_FD_MAX];
        __u64 i;
        int r;

        (void)to_free;
        if (cmd->n_payload < n_payload || cmd->n_handles < n_handles || cmd->n_fds < n_fds ||
            (cmd->ptr_gids && cmd->n_gids < e->creds->n_gids) ||
            (cmd->ptr_label && cmd->n_label < e->creds->n_label)) {
                cmd->n_payload = n_payload;
                cmd->n_handles = n_handles;
                cmd->n_fds = n_fds;
                cmd->n_gids = e->creds->n_gids;
                cmd->n_label = e->creds->n_label;
                return -EMSGSIZE;
        }
        if (m) {
                r = host_copy_to(cmd->ptr_payload, m->payload->data, n_payload);
                if (r)
                        return r;
        }
        if (cmd->ptr_gids) {
                r = host_copy_to(cmd->ptr_gids, e->creds->gids, e->creds->n_gids * sizeof(__u64));
                if (r)
                        return r;
        }
        if (cmd->ptr_label) {
                r = host_copy_to(cmd->ptr_label, e->creds->label, e->creds->n_label);
                if (r)
                        return r;
        }

        cmd->n_payload = n_payload;
        cmd->n_handles = n_handles;
        cmd->n_fds = n_fds;
        cmd->n_gids = e->creds->n_gids;
        cmd->n_label = e->creds->n_label;
        cmd->uid = e->creds->uid;
        cmd->gid = e->creds->gid;
        cmd->pid = e->creds->pid;
        cmd->timestamp = e->ts;
        cmd->reply_handle = BUS1_HANDLE_INVALID;
        switch (e->type) {
        case CORE_ENTRY_DATA:
                cmd->type = BUS1_MSG_DATA;
                cmd->destination = core_owner_handle_id_locked(e->node);
                break;
        case CORE_ENTRY_DESTROY_HOLDER:
                cmd->type = BUS1_MSG_NODE_DESTROY;
                cmd->destination = list_entry(e, struct core_handle, notify)->id;
                break;
        case CORE_ENTRY_DESTROY_OWNER:
                cmd->type = BUS1_MSG_NODE_DESTROY;
                cmd->destination = core_owner_handle_id_locked(e->node);
                break;
        default:
                cmd->type = BUS1_MSG_NODE_RELEASE;
                cmd->destination = core_owner_handle_id_locked(e->node);
                break;
        }
        if (cmd->flags & BUS1_RECV_PEEK)
                return 0;

        for (i = 0; i < n_fds; ++i) {
                r = host_file_install(h, m->payload->files[i], &fdv[i]);
                if (r) {
                        while (i-- > 0)
                                host_file_uninstall(h, fdv[i]);
                        return r;
                }
        }
        if (n_fds) {
                r = host_copy_to(cmd->ptr_fds, fdv, n_fds * sizeof(__u64));
                if (r) {
                        for (i = 0; i < n_fds; ++i)
                                host_file_uninstall(h, fdv[i]);
                        return r;
                }
        }

        core_message_unqueue_locked(p, e);
        core_peer_update_readable_locked(p);
        *consumed = e;
        return 0;
}

/*
 * Install the handles of a consumed entry, report their IDs and free it.
 * No lock held. @ids has room for every handle of the entry (the capacity
 * the caller gave, checked before the entry was dequeued), so nothing here
 * allocates.
 */
static int core_recv_finish(struct core_peer *p, struct core_entry *e, struct bus1_cmd_recv *cmd, __u64 *ids)
{
        struct core_host *h = p->engine->host;
        struct core_message *m;
        __u64 i;
        int r;

        if (e->type != CORE_ENTRY_DATA) {
                core_entry_free(h, e);
                return 0;
        }
        m = (struct core_message *)e;
        for (i = 0; i < m->payload->n_nodes; ++i) {
                struct core_node *n = m->payload->nodes[i];
                __u64 d;

                if (m->handles[i]) {
                        ids[i] = core_handle_install(p, m->handles[i], e->ts, false);
                        m->handles[i] = NULL;
                } else {
                        d = host_atomic_load(&n->destroy_ts);
                        host_lock_lock(&p->lock);
                        ids[i] = d && d < e->ts ? BUS1_HANDLE_INVALID : core_owner_handle_id_locked(n);
                        host_lock_unlock(&p->lock);
                }
        }
        if (m->reply_handle) {
                cmd->reply_handle = core_handle_install(p, m->reply_handle, e->ts, false);
                m->reply_handle = NULL;
        }
        r = 0;
        if (m->payload->n_nodes)
                r = host_copy_to(cmd->ptr_handles, ids, m->payload->n_nodes * sizeof(*ids));
        core_entry_free(h, e);
        return r;
}

/* A buffer for the handle IDs a receive may report, taken before dequeuing. */
static int core_recv_ids_new(struct core_host *h, __u64 capacity, __u64 *stack, __u64 **out)
{
        if (capacity > BUS1_HANDLE_MAX)
                capacity = BUS1_HANDLE_MAX;
        if (capacity <= CORE_STACK_N) {
                *out = stack;
                return 0;
        }
        *out = host_alloc(h, capacity * sizeof(__u64));
        return *out ? 0 : CORE_TRACE(h, -ENOMEM);
}

/* Whether a ready DATA entry is for a node destroyed before it. */
static bool core_entry_is_stale(struct core_entry *e)
{
        __u64 d;

        if (e->type != CORE_ENTRY_DATA)
                return false;
        d = host_atomic_load(&e->node->destroy_ts);
        if (d && d < e->ts)
                return true;
        return e->node->oneshot && core_node_is_gone(e->node);
}

int core_peer_recv_cmd(struct core_peer *p, __u64 arg);
int core_peer_recv_cmd(struct core_peer *p, __u64 arg)
{
        struct list_node to_free = LIST_INIT(to_free);
        struct core_entry *e, *consumed = NULL;
        __u64 s_ids[CORE_STACK_N], *ids;
        struct bus1_cmd_recv cmd;
        int r;

        r = host_copy_from(&cmd, arg, sizeof(cmd));
        if (r)
                return r;
        if ((cmd.flags & ~BUS1_RECV_PEEK) || cmd.reserved)
                return -EINVAL;
        r = core_recv_ids_new(p->engine->host, cmd.n_handles, s_ids, &ids);
        if (r)
                return r;
        if (cmd.n_handles > BUS1_HANDLE_MAX)
                cmd.n_handles = BUS1_HANDLE_MAX;

        host_lock_lock(&p->lock);
        if (p->disconnected) {
                r = -ESHUTDOWN;
        } else {
                for (;;) {
                        e = core_queue_first_ready(&p->queue);
                        if (!e) {
                                r = -EAGAIN;
                                break;
                        }
                        if (core_entry_is_stale(e)) {
                                core_message_unqueue_locked(p, e);
                                list_link_tail(&to_free, &e->link);
                                continue;
                        }
                        r = core_peer_recv_entry_locked(p, e, &cmd, &to_free, &consumed);
                        break;
                }
                /* consuming an entry updated it already */
                if (!consumed)
                        core_peer_update_readable_locked(p);
        }
        host_lock_unlock(&p->lock);

        if (!list_is_empty(&to_free))
                core_entries_free(p->engine, &to_free);
        if (consumed)
                r = core_recv_finish(p, consumed, &cmd, ids);
        if (ids != s_ids)
                host_free(p->engine->host, ids);
        if (!r || r == -EMSGSIZE) {
                int rr = host_copy_to(arg, &cmd, sizeof(cmd));

                if (rr)
                        r = rr;
        }
        return r;
}

int core_peer_call_cmd(struct core_peer *p, __u64 arg);
int core_peer_call_cmd(struct core_peer *p, __u64 arg)
{
        struct list_node to_free = LIST_INIT(to_free);
        struct core_entry *e, *tmp, *consumed = NULL, *found;
        struct core_node *reply;
        struct bus1_cmd_call cmd;
        __u64 deadline = 0, owner_id = BUS1_HANDLE_INVALID, s_ids[CORE_STACK_N], *ids;
        int r;

        r = host_copy_from(&cmd, arg, sizeof(cmd));
        if (r)
                return r;
        if (cmd.flags || cmd.reserved || (cmd.send.flags & ~BUS1_SEND_CHARGE) || cmd.send.n_destinations != 1 ||
            cmd.recv.flags || cmd.recv.reserved)
                return -EINVAL;
        r = core_recv_ids_new(p->engine->host, cmd.recv.n_handles, s_ids, &ids);
        if (r)
                return r;
        if (cmd.recv.n_handles > BUS1_HANDLE_MAX)
                cmd.recv.n_handles = BUS1_HANDLE_MAX;

        r = core_node_new(p, true, &reply);
        if (r) {
                if (ids != s_ids)
                        host_free(p->engine->host, ids);
                return r;
        }
        r = core_send(p, &cmd.send, reply);
        if (r)
                goto destroy;

        if (cmd.timeout_ns)
                deadline = host_now_ns() + cmd.timeout_ns;

        host_lock_lock(&p->lock);
        ++p->n_waiters;
        for (;;) {
                if (p->disconnected) {
                        r = -ESHUTDOWN;
                        break;
                }
                found = NULL;
                for (e = core_queue_first(&p->queue); e; e = core_queue_next(e)) {
                        if (e->node == reply) {
                                /* a staged reply ahead of a release is still coming */
                                if (core_entry_is_committed(e))
                                        found = e;
                                break;
                        }
                }
                if (found && found->type == CORE_ENTRY_DATA) {
                        r = core_peer_recv_entry_locked(p, found, &cmd.recv, &to_free, &consumed);
                        if (r && !consumed) {
                                /* the reply does not fit (or cannot be copied): drop it */
                                core_message_unqueue_locked(p, found);
                                list_link_tail(&to_free, &found->link);
                                core_peer_update_readable_locked(p);
                        }
                        break;
                }
                if (found) {
                        r = -EPIPE;
                        break;
                }
                r = host_wait_wait(&p->wait, &p->lock, deadline);
                if (r)
                        break;
        }
        --p->n_waiters;
        host_lock_unlock(&p->lock);

        if (consumed)
                r = core_recv_finish(p, consumed, &cmd.recv, ids);

destroy:
        core_nodes_destroy(p, &reply, 1);
        host_lock_lock(&p->lock);
        if (reply->owner_handle)
                owner_id = reply->owner_handle->id;
        for (e = core_queue_first(&p->queue); e; e = tmp) {
                tmp = core_queue_next(e);
                if (e->node == reply && core_entry_is_committed(e)) {
                        core_message_unqueue_locked(p, e);
                        list_link_tail(&to_free, &e->link);
                }
        }
        core_peer_update_readable_locked(p);
        host_lock_unlock(&p->lock);
        if (owner_id != BUS1_HANDLE_INVALID)
                core_peer_handle_release(p, owner_id);
        core_entries_free(p->engine, &to_free);
        core_node_unref(reply);
        if (ids != s_ids)
                host_free(p->engine->host, ids);

        if (!r || r == -EMSGSIZE) {
                int rr = host_copy_to(arg + __builtin_offsetof(struct bus1_cmd_call, recv), &cmd.recv,
                                      sizeof(cmd.recv));

                if (rr)
                        r = rr;
        }
        return r;
}
