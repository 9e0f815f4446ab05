/*
 * core/peer: peers and the commands that act on one peer's tables
 *
 * A peer is created with credentials and limits, and lives until its last
 * reference goes; its "connected" state ends with disconnect (explicitly, or
 * by core_peer_free()). Deactivation order: mark disconnected (no new
 * command, nothing new is linked to it) -> destroy its nodes -> release its
 * handles -> flush its queue -> free when the last reference goes. Entries
 * that other senders staged on it before the disconnect are removed by those
 * senders when they commit.
 *
 * Locking: peer->lock protects the fields marked so in core/internal.h; it
 * is taken after node locks and before user locks, and never together with
 * another peer's lock. The wake callback runs under peer->lock.
 */

#include "core/core.h"
#include "core/internal.h"

void core_peer_free_unused(struct core_peer *p)
{
        struct core_host *host = p->engine->host;

        core_charges_free(host, &p->charges_user);
        core_charges_free(host, &p->charges_peer);
        core_map_deinit(host, &p->handles_by_id);
        core_map_deinit(host, &p->handles_by_node);
        core_creds_unref(host, p->creds);
        host_wait_deinit(&p->wait);
        host_lock_deinit(&p->lock);
        host_atomic_dec(&p->engine->n_peers);
        host_free(host, p);
}

__u64 core_peer_id(struct core_peer *p)
{
        return p->id;
}

__u64 core_peer_clock(struct core_peer *p)
{
        __u64 c;

        host_lock_lock(&p->lock);
        c = p->clock;
        host_lock_unlock(&p->lock);
        return c;
}

void core_peer_update_readable_slow_locked(struct core_peer *p, bool ready)
{
        if (ready != p->readable) {
                p->readable = ready;
                if (p->wake_fn)
                        p->wake_fn(p->wake_userdata, ready ? CORE_WAKE_READY : CORE_WAKE_IDLE);
        }
        if (p->n_waiters)
                host_wait_wake_all(&p->wait);
}

void core_peer_set_wake(struct core_peer *p, void (*fn)(void *userdata, unsigned int event), void *userdata)
{
        host_lock_lock(&p->lock);
        p->wake_fn = fn;
        p->wake_userdata = userdata;
        if (fn)
                fn(userdata, p->readable ? CORE_WAKE_READY : CORE_WAKE_CHECK_IDLE);
        host_lock_unlock(&p->lock);
}

void core_peer_wake_check(struct core_peer *p)
{
        host_lock_lock(&p->lock);
        if (p->wake_fn)
                p->wake_fn(p->wake_userdata, p->readable ? CORE_WAKE_READY : CORE_WAKE_CHECK_IDLE);
        host_lock_unlock(&p->lock);
}

static void core_limits_apply(struct bus1_limits *dst, const struct bus1_limits *src,
                              const struct bus1_limits *def)
{
        dst->messages = src->messages ? src->messages : def->messages;
        dst->bytes = src->bytes ? src->bytes : def->bytes;
        dst->handles = src->handles ? src->handles : def->handles;
        dst->fds = src->fds ? src->fds : def->fds;
}

int core_peer_create(struct core_engine *e, __u64 arg, struct core_peer **out)
{
        struct core_host *host = e->host;
        struct bus1_cmd_peer_create cmd;
        struct core_creds *creds;
        struct core_user *user;
        struct core_peer *p;
        int r;

        r = host_copy_from(&cmd, arg, sizeof(cmd));
        if (r)
                return r;
        if (cmd.flags || cmd.reserved || cmd.n_gids > BUS1_GID_MAX || cmd.n_label > BUS1_LABEL_MAX ||
            cmd.uid > 0xffffffffULL || cmd.gid > 0xffffffffULL || cmd.pid > 0xffffffffULL)
                return -EINVAL;

        r = core_user_get(e, cmd.uid, &user);
        if (r)
                return r;

        creds = host_alloc(host, sizeof(*creds));
        if (!creds)
                return CORE_TRACE(host, -ENOMEM);
        creds->n_refs = 1;
        creds->uid = cmd.uid;
        creds->gid = cmd.gid;
        creds->pid = cmd.pid;
        if (cmd.n_gids) {
                creds->gids = host_alloc(host, cmd.n_gids * sizeof(__u64));
                if (!creds->gids) {
                        core_creds_unref(host, creds);
                        return CORE_TRACE(host, -ENOMEM);
                }
                r = host_copy_from(creds->gids, cmd.ptr_gids, cmd.n_gids * sizeof(__u64));
                if (r) {
                        core_creds_unref(host, creds);
                        return r;
                }
                creds->n_gids = cmd.n_gids;
        }
        if (cmd.n_label) {
                creds->label = host_alloc(host, cmd.n_label);
                if (!creds->label) {
                        core_creds_unref(host, creds);
                        return CORE_TRACE(host, -ENOMEM);
                }
                r = host_copy_from(creds->label, cmd.ptr_label, cmd.n_label);
                if (r) {
                        core_creds_unref(host, creds);
                        return r;
                }
                creds->n_label = cmd.n_label;
        }

        p = host_alloc(host, sizeof(*p));
        if (!p) {
                core_creds_unref(host, creds);
                return CORE_TRACE(host, -ENOMEM);
        }
        p->engine = e;
        p->user = user;
        p->creds = creds;
        p->n_refs = 1;
        host_lock_init(&p->lock);
        host_wait_init(&p->wait);
        core_queue_init(&p->queue);
        core_map_init(&p->handles_by_id);
        core_map_init(&p->handles_by_node);
        list_node_init(&p->handles);
        list_node_init(&p->nodes);
        core_map_init(&p->charges_user);
        core_map_init(&p->charges_peer);
        core_limits_apply(&p->limits, &cmd.limits, &e->peer_limits);

        host_lock_lock(&e->lock);
        p->id = e->next_peer_id++;
        p->queue.reverse_ties = e->debug_broken_tiebreak && (p->id & 1);
        host_lock_unlock(&e->lock);
        host_atomic_inc(&e->n_peers);

        cmd.peer_id = p->id;
        r = host_copy_to(arg + __builtin_offsetof(struct bus1_cmd_peer_create, peer_id),
                         &cmd.peer_id, sizeof(cmd.peer_id));
        if (r) {
                core_peer_unref(p);
                return r;
        }
        *out = p;
        return 0;
}

/* Destroy every node, release every handle, flush committed entries. */
static void core_peer_flush(struct core_peer *p)
{
        struct core_host *host = p->engine->host;
        struct list_node handles = LIST_INIT(handles);
        struct list_node entries = LIST_INIT(entries);
        struct core_handle *h, *tmp;
        struct core_entry *e, *etmp;
        struct core_node *n;
        __u64 floor;

        for (;;) {
                host_lock_lock(&p->lock);
                n = NULL;
                if (!list_is_empty(&p->nodes))
                        n = core_node_ref(list_entry(p->nodes.next, struct core_node, owner_link));
                host_lock_unlock(&p->lock);
                if (!n)
                        break;
                /* fails only if a concurrent destroy of it is running; wait for it */
                if (core_nodes_destroy(p, &n, 1)) {
                        host_lock_lock(&n->lock);
                        host_lock_unlock(&n->lock);
                }
                core_node_unref(n);
        }

        host_lock_lock(&p->lock);
        list_for_each_entry_safe(h, tmp, &p->handles, struct core_handle, peer_link) {
                core_handle_unlink_locked(h);
                if (h->node->owner == p)
                        h->node->owner_handle = NULL;
                list_link_tail(&handles, &h->peer_link);
        }
        floor = p->clock;
        host_lock_unlock(&p->lock);

        list_for_each_entry_safe(h, tmp, &handles, struct core_handle, peer_link) {
                list_unlink(&h->peer_link);
                if (h->node->owner != p) {
                        host_lock_lock(&h->node->lock);
                        list_unlink(&h->node_link);
                        host_lock_unlock(&h->node->lock);
                        core_node_release_remote(h->node, p, floor);
                }
                core_handle_unref(h);
        }

        host_lock_lock(&p->lock);
        for (e = core_queue_first(&p->queue); e; e = etmp) {
                etmp = core_queue_next(e);
                if (!core_entry_is_committed(e))
                        continue;
                core_queue_unlink(&p->queue, e);
                if (e->type == CORE_ENTRY_DATA) {
                        struct core_message *m = (struct core_message *)e;

                        if (m->charged) {
                                core_user_discharge_locked(p, &m->charge_refs, &m->charge);
                                m->charged = false;
                        }
                }
                list_link_tail(&entries, &e->link);
        }
        core_peer_update_readable_locked(p);
        host_lock_unlock(&p->lock);

        core_entries_free(p->engine, &entries);
        (void)host;
}

static int core_peer_disconnect(struct core_peer *p)
{
        host_lock_lock(&p->lock);
        if (p->disconnected) {
                host_lock_unlock(&p->lock);
                return -ESHUTDOWN;
        }
        p->disconnected = true;
        host_wait_wake_all(&p->wait);
        host_lock_unlock(&p->lock);
        core_peer_flush(p);
        return 0;
}

struct core_peer *core_peer_free(struct core_peer *p)
{
        if (p) {
                core_peer_disconnect(p);
                core_peer_unref(p);
        }
        return NULL;
}

static int core_peer_reset(struct core_peer *p, __u64 arg)
{
        struct bus1_cmd_peer_reset cmd;
        int r;

        r = host_copy_from(&cmd, arg, sizeof(cmd));
        if (r)
                return r;
        if ((cmd.flags & ~BUS1_PEER_RESET_LIMITS) || cmd.reserved)
                return -EINVAL;
        host_lock_lock(&p->lock);
        if (p->disconnected) {
                host_lock_unlock(&p->lock);
                return -ESHUTDOWN;
        }
        if (cmd.flags & BUS1_PEER_RESET_LIMITS)
                core_limits_apply(&p->limits, &cmd.limits, &p->engine->peer_limits);
        host_lock_unlock(&p->lock);
        core_peer_flush(p);
        return 0;
}

static int core_peer_query(struct core_peer *p, __u64 arg)
{
        struct bus1_cmd_peer_query cmd;
        int r;

        r = host_copy_from(&cmd, arg, sizeof(cmd));
        if (r)
                return r;
        if (cmd.flags || cmd.reserved)
                return -EINVAL;
        host_lock_lock(&p->lock);
        if (p->disconnected) {
                host_lock_unlock(&p->lock);
                return -ESHUTDOWN;
        }
        cmd.peer_id = p->id;
        cmd.limits = p->limits;
        cmd.n_queued = p->queue.n_entries;
        cmd.n_handles = p->n_handles;
        cmd.n_nodes = p->n_nodes;
        host_lock_unlock(&p->lock);
        return host_copy_to(arg, &cmd, sizeof(cmd));
}

static int core_peer_node_create(struct core_peer *p, __u64 arg)
{
        struct bus1_cmd_node_create cmd;
        struct core_node *n;
        int r;

        r = host_copy_from(&cmd, arg, sizeof(cmd));
        if (r)
                return r;
        if (cmd.flags || cmd.reserved)
                return -EINVAL;
        r = core_node_new(p, false, &n);
        if (r)
                return r;
        host_lock_lock(&p->lock);
        cmd.handle_id = n->owner_handle ? n->owner_handle->id : BUS1_HANDLE_INVALID;
        host_lock_unlock(&p->lock);
        core_node_unref(n);
        return host_copy_to(arg, &cmd, sizeof(cmd));
}

/* Drop one user reference of handle @id (the one-shot path uses it too). */
int core_peer_handle_release(struct core_peer *p, __u64 id)
{
        struct core_handle *h;
        struct core_node *n;
        __u64 floor;

        host_lock_lock(&p->lock);
        if (p->disconnected) {
                host_lock_unlock(&p->lock);
                return -ESHUTDOWN;
        }
        h = core_peer_lookup_locked(p, id);
        if (!h) {
                host_lock_unlock(&p->lock);
                return -ENXIO;
        }
        n = h->node;
        if (n->owner == p) {
                if (!core_node_is_gone(n)) {
                        host_lock_unlock(&p->lock);
                        return -EBUSY;
                }
                core_handle_unlink_locked(h);
                n->owner_handle = NULL;
                host_lock_unlock(&p->lock);
                core_handle_unref(h);
                return 0;
        }
        if (--h->n_user) {
                host_lock_unlock(&p->lock);
                return 0;
        }
        core_handle_unlink_locked(h);
        floor = p->clock;
        host_lock_unlock(&p->lock);

        host_lock_lock(&n->lock);
        list_unlink(&h->node_link);
        host_lock_unlock(&n->lock);
        core_node_release_remote(n, p, floor);
        core_handle_unref(h);
        return 0;
}

static int core_peer_handle_release_cmd(struct core_peer *p, __u64 arg)
{
        struct bus1_cmd_handle_release cmd;
        int r;

        r = host_copy_from(&cmd, arg, sizeof(cmd));
        if (r)
                return r;
        if (cmd.flags || cmd.reserved)
                return -EINVAL;
        return core_peer_handle_release(p, cmd.handle_id);
}

static int core_peer_handle_transfer(struct core_peer *p, __u64 arg)
{
        struct bus1_cmd_handle_transfer cmd;
        struct core_peer *dst;
        struct core_handle *h, *nh;
        struct core_node *n;
        __u64 ts;
        int r;

        r = host_copy_from(&cmd, arg, sizeof(cmd));
        if (r)
                return r;
        if (cmd.flags || cmd.reserved)
                return -EINVAL;
        if (!cmd.dst_peer)
                return -EBADF;
        dst = (struct core_peer *)(unsigned long)cmd.dst_peer;
        if (dst->engine != p->engine)
                return -EBADF;

        host_lock_lock(&p->lock);
        if (p->disconnected) {
                host_lock_unlock(&p->lock);
                return -ESHUTDOWN;
        }
        h = core_peer_lookup_locked(p, cmd.src_id);
        if (!h) {
                host_lock_unlock(&p->lock);
                return -ENXIO;
        }
        n = core_node_ref(h->node);
        host_lock_unlock(&p->lock);

        if (core_node_is_gone(n)) {
                core_node_unref(n);
                return -EHOSTUNREACH;
        }

        if (n->owner == dst) {
                host_lock_lock(&dst->lock);
                r = dst->disconnected ? -ESHUTDOWN : 0;
                cmd.dst_id = n->owner_handle ? n->owner_handle->id : BUS1_HANDLE_INVALID;
                host_lock_unlock(&dst->lock);
                core_node_unref(n);
                if (r)
                        return r;
                if (cmd.dst_id == BUS1_HANDLE_INVALID)
                        return -EHOSTUNREACH;
                return host_copy_to(arg, &cmd, sizeof(cmd));
        }

        r = core_handle_new(dst, n, &nh);
        if (r) {
                core_node_unref(n);
                return r;
        }
        r = core_node_acquire_remote(n);
        if (r) {
                core_handle_unref(nh);
                core_node_unref(n);
                return r;
        }
        /* after everything the caller's peer has seen (and, in the install, dst) */
        ts = core_peer_clock(p);
        host_lock_lock(&dst->lock);
        r = dst->disconnected ? -ESHUTDOWN : 0;
        host_lock_unlock(&dst->lock);
        if (r) {
                core_handle_unref(nh);
                core_node_release_remote(n, p, 0);
                core_node_unref(n);
                return r;
        }
        cmd.dst_id = core_handle_install(dst, nh, ts, true);
        core_node_unref(n);
        if (cmd.dst_id == BUS1_HANDLE_INVALID)
                return -EHOSTUNREACH;
        return host_copy_to(arg, &cmd, sizeof(cmd));
}

static int core_peer_nodes_destroy_cmd(struct core_peer *p, __u64 arg)
{
        struct core_host *host = p->engine->host;
        struct bus1_cmd_nodes_destroy cmd;
        struct core_node **nodes = NULL;
        __u64 *ids = NULL;
        size_t i, j;
        int r;

        r = host_copy_from(&cmd, arg, sizeof(cmd));
        if (r)
                return r;
        if (cmd.flags || cmd.reserved || cmd.n_ids > BUS1_HANDLE_MAX)
                return -EINVAL;
        if (!cmd.n_ids)
                return 0;

        ids = host_alloc(host, cmd.n_ids * sizeof(*ids));
        nodes = host_alloc(host, cmd.n_ids * sizeof(*nodes));
        if (!ids || !nodes) {
                r = CORE_TRACE(host, -ENOMEM);
                goto out;
        }
        r = host_copy_from(ids, cmd.ptr_ids, cmd.n_ids * sizeof(*ids));
        if (r)
                goto out;

        host_lock_lock(&p->lock);
        r = p->disconnected ? -ESHUTDOWN : 0;
        for (i = 0; !r && i < cmd.n_ids; ++i) {
                struct core_handle *h = core_peer_lookup_locked(p, ids[i]);

                if (!h)
                        r = -ENXIO;
                else if (h->node->owner != p)
                        r = -EPERM;
                else if (core_node_is_gone(h->node))
                        r = -EHOSTUNREACH;
                else
                        nodes[i] = core_node_ref(h->node);
        }
        host_lock_unlock(&p->lock);
        if (r) {
                while (i-- > 0)
                        core_node_unref(nodes[i]);
                for (i = 0; i < cmd.n_ids; ++i)
                        nodes[i] = NULL;
                goto out;
        }

        /* ascending id (lock order); an ID listed twice is EINVAL */
        for (i = 1; i < cmd.n_ids; ++i) {
                struct core_node *t = nodes[i];

                for (j = i; j > 0 && nodes[j - 1]->id > t->id; --j)
                        nodes[j] = nodes[j - 1];
                nodes[j] = t;
        }
        for (i = 1; i < cmd.n_ids; ++i)
                if (nodes[i - 1] == nodes[i])
                        r = -EINVAL;
        if (!r)
                r = core_nodes_destroy(p, nodes, cmd.n_ids);

out:
        if (nodes)
                for (i = 0; i < cmd.n_ids; ++i)
                        core_node_unref(nodes[i]);
        host_free(host, nodes);
        host_free(host, ids);
        return r;
}

int core_peer_send_cmd(struct core_peer *p, __u64 arg);
int core_peer_recv_cmd(struct core_peer *p, __u64 arg);
int core_peer_call_cmd(struct core_peer *p, __u64 arg);

/* Not inlined: it would give core_peer_ioctl() the frame of every command it inlines. */
__attribute__((__noinline__)) static int core_peer_dispatch(struct core_peer *p, unsigned long cmd, __u64 arg)
{
        switch (cmd) {
        case BUS1_CMD_PEER_QUERY:
                return core_peer_query(p, arg);
        case BUS1_CMD_PEER_RESET:
                return core_peer_reset(p, arg);
        case BUS1_CMD_PEER_DISCONNECT:
                return core_peer_disconnect(p);
        case BUS1_CMD_NODE_CREATE:
                return core_peer_node_create(p, arg);
        case BUS1_CMD_HANDLE_TRANSFER:
                return core_peer_handle_transfer(p, arg);
        case BUS1_CMD_HANDLE_RELEASE:
                return core_peer_handle_release_cmd(p, arg);
        case BUS1_CMD_NODES_DESTROY:
                return core_peer_nodes_destroy_cmd(p, arg);
        case BUS1_CMD_SEND:
                return core_peer_send_cmd(p, arg);
        case BUS1_CMD_RECV:
                return core_peer_recv_cmd(p, arg);
        case BUS1_CMD_CALL:
                return core_peer_call_cmd(p, arg);
        default:
                return -ENOTTY;
        }
}

int core_peer_ioctl(struct core_peer *p, unsigned long cmd, __u64 arg)
{
        int r;

        /*
         * A command in flight holds a reference, like a syscall holds its
         * file: core_peer_free() from another thread disconnects the peer
         * (the command then fails or returns ESHUTDOWN) but cannot free it
         * under the command.
         */
        core_peer_ref(p);
        /* the per-message commands first: the switch over sparse ioctl numbers is a compare chain */
        if (cmd == BUS1_CMD_SEND)
                r = core_peer_send_cmd(p, arg);
        else if (cmd == BUS1_CMD_RECV)
                r = core_peer_recv_cmd(p, arg);
        else
                r = core_peer_dispatch(p, cmd, arg);
        core_peer_unref(p);
        return r;
}
