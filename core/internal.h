#pragma once

/*
 * Core engine: object definitions shared by the engine's files
 *
 * Objects and what they are:
 *  - engine  (engine.c): one bus; owns the user registry and the limits.
 *  - user    (user.c):   one UID of an engine; the unit of quota accounting.
 *  - creds   (engine.c): immutable credentials of a peer, shared by messages.
 *  - peer    (peer.c):   an endpoint: queue, clock, handle table, nodes.
 *  - node    (node.c):   an object owned by a peer; target of messages.
 *  - handle  (handle.c): a peer's capability to a node (coalesced per node).
 *  - entry / message (message.c): an item on a queue; a message is the
 *    per-destination entry of a DATA send, sharing one payload.
 *  - queue   (queue.c):  a peer's queue, sorted by (timestamp, sender, seq).
 *  - map     (map.c):    u64-keyed intrusive hash map (handle table).
 *  - cache   (cache.c):  freed objects of one size kept for reuse (messages,
 *    payloads).
 *
 * Lock order (outermost first; see also the top of each file):
 *   node->lock (several: ascending node->id)  ->  peer->lock (one at a time)
 *     ->  user->lock  ->  engine->lock
 * No code holds two peer locks at once, and no code takes a node lock while
 * holding a peer lock. Host allocations never happen under node or user
 * locks of other peers' hot paths, except where noted.
 *
 * Invariants:
 *  - a queue is sorted by (ts, sender, seq, node ID, address); an entry's ts
 *    is odd while staged, even once committed, and never decreases;
 *  - a peer's clock is >= the ts of every entry it has committed or staged;
 *  - a handle is in its holder's tables iff handle->linked; a peer holds at
 *    most one handle per node; handle IDs of a peer only grow;
 *  - node->n_remote == non-owner handles in holders' tables + handles
 *    preallocated in queued or in-flight messages; while it is > 0 and the
 *    node is not destroyed, node->release holds the reserved notification;
 *  - destroy_ts != 0 implies destroying; both are set once.
 *
 * Kinds of references:
 *  - memory refs (n_refs, atomic): keep the struct alive; ref/unref are
 *    acq_rel read-modify-writes, so the thread whose unref frees the struct
 *    acquires every earlier unref's release: all accesses before any unref
 *    happen before the free (the "refcount-then-free" Helgrind flagged is a
 *    false positive; TSan, which models C11 atomics, reports nothing);
 *  - capability refs: handle->n_user (how often the holder got it) and
 *    node->n_remote (handles of non-owners, installed or in flight);
 *  - the peer's "connected" state: once disconnected, no command acts on it
 *    and nothing new is linked to it (deactivate -> flush -> free).
 */

#include <linux/errno.h>
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include "core/host.h"
#include "core/uapi/bus1.h"
#include "util/list.h"
#include "util/rbtree.h"

struct core_engine;
struct core_peer;
struct core_node;
struct core_handle;

/* ---- map ---------------------------------------------------------------- */

struct core_map_entry {
        struct core_map_entry *next;
        __u64 key;
};

/*
 * struct core_map - hash map of intrusive entries keyed by u64.
 * Insertion never fails: the bucket array grows opportunistically and
 * chains simply get longer when growing fails.
 */
struct core_map {
        struct core_map_entry **buckets;
        size_t n_buckets;       /* power of two, >= 1 */
        size_t n_entries;
        struct core_map_entry *inline_bucket;
};

void core_map_init(struct core_map *m);
void core_map_deinit(struct core_host *h, struct core_map *m);
void core_map_insert(struct core_host *h, struct core_map *m, struct core_map_entry *e, __u64 key);

static inline size_t core_map_hash(__u64 key, size_t n_buckets)
{
        key ^= key >> 33;
        key *= 0xff51afd7ed558ccdULL;
        key ^= key >> 33;
        return (size_t)key & (n_buckets - 1);
}

/* Inline: a send and a receive look up a handle and the charge records. */
static inline struct core_map_entry *core_map_lookup(struct core_map *m, __u64 key)
{
        struct core_map_entry *e;

        for (e = m->buckets[core_map_hash(key, m->n_buckets)]; e; e = e->next)
                if (e->key == key)
                        return e;
        return NULL;
}
void core_map_remove(struct core_map *m, struct core_map_entry *e);

/* ---- cache ---------------------------------------------------------------- */

#define CORE_CACHE_MAX 64

/*
 * struct core_cache - up to CORE_CACHE_MAX + 1 freed objects of c->size
 * bytes, kept for reuse (core/cache.c).
 */
struct core_cache {
        size_t size;                            /* immutable: the size class */
        void *hot;                              /* atomic: NULL or a cached object */
        struct host_lock lock;                  /* innermost */
        unsigned int n;                         /* protected by lock */
        void *objs[CORE_CACHE_MAX];             /* protected by lock: objs[0..n) */
};

void core_cache_init(struct core_cache *c, size_t size);
void core_cache_deinit(struct core_host *h, struct core_cache *c);
void *core_cache_alloc(struct core_host *h, struct core_cache *c, size_t size);
void core_cache_free(struct core_host *h, struct core_cache *c, void *p, size_t size);

/* ---- engine, user, creds -------------------------------------------------- */

#define CORE_QUOTA_N 4

struct core_quota {
        union {
                struct {
                        __u64 messages;
                        __u64 bytes;
                        __u64 handles;
                        __u64 fds;
                };
                __u64 v[CORE_QUOTA_N];
        };
};

struct core_engine {
        struct core_host *host;                 /* immutable */
        struct bus1_limits user_limits;         /* immutable */
        struct bus1_limits peer_limits;         /* immutable: default per-peer limits */
        struct host_lock lock;
        struct list_node users;                 /* protected by lock */
        __u64 next_peer_id;                     /* protected by lock */
        __u64 next_node_id;                     /* atomic */
        long n_peers;                           /* atomic: live peer structs */
        struct core_cache message_cache;        /* messages with few handles (core/message.c) */
        struct core_cache payload_cache;        /* payloads with little data (core/message.c) */
        bool debug_broken_tiebreak;             /* test knob, see core_engine_set_debug_broken_tiebreak() */
};

/*
 * struct core_charge - what one sender (a user, keyed by UID, or a peer,
 * keyed by peer ID) has queued on one receiving peer (protected by that
 * peer's lock), or what a sending user has queued on all peers of one
 * receiving user (in core_user.charges, protected by that user's lock).
 * Freed when idle beyond a small cache (core/user.c).
 */
struct core_charge {
        struct core_map_entry entry;            /* in peer->charges_user / charges_peer */
        struct core_quota q;
};

/*
 * struct core_user - one UID of an engine. Lives until the engine is freed
 * (bounded by the number of UIDs), so pointers to it need no reference.
 */
struct core_user {
        struct core_engine *engine;             /* immutable */
        __u64 uid;                              /* immutable */
        struct list_node link;                  /* in engine->users, protected by engine->lock */
        struct host_lock lock;
        struct core_quota used;                 /* protected by lock: all charges on this user's peers */
        struct core_map charges;                /* protected by lock: struct core_charge per sending
                                                 * user (UID), summed over this user's peers */
};

struct core_creds {
        unsigned long n_refs;                   /* atomic */
        __u64 uid, gid, pid;                    /* immutable */
        __u64 n_gids;                           /* immutable */
        __u64 *gids;                            /* immutable */
        __u64 n_label;                          /* immutable */
        unsigned char *label;                   /* immutable */
};

int core_user_get(struct core_engine *e, __u64 uid, struct core_user **out);
struct core_user *core_user_free(struct core_user *u);
/*
 * struct core_charge_refs - the three records one charge was added to: on
 * the receiving peer per sending user and per sending peer, and on the
 * receiving user per sending user. Filled by core_user_charge_locked() and
 * kept by the charged message, so the discharge needs no lookups. Valid
 * while the charge stands: every charge counts one message, a record is
 * freed only when all its counters are zero (core_charge_put()) or with its
 * map's owner, and neither happens while a message charged to it is queued.
 */
struct core_charge_refs {
        struct core_charge *peer_user;          /* in dst->charges_user */
        struct core_charge *peer_peer;          /* in dst->charges_peer */
        struct core_charge *user_user;          /* in dst->user->charges */
};

int core_user_charge_locked(struct core_peer *dst, struct core_user *sender, __u64 sender_peer,
                            const struct core_quota *c, struct core_charge_refs *refs);
void core_charges_free(struct core_host *h, struct core_map *m);
void core_user_discharge_locked(struct core_peer *dst, const struct core_charge_refs *refs,
                               const struct core_quota *c);

/*
 * Reference counting (memory refs, see the top of this file) is inline: a
 * message takes and drops several. The *_free_unused() functions free an
 * object whose last reference is gone.
 */
void core_creds_free_unused(struct core_host *h, struct core_creds *c);

static inline struct core_creds *core_creds_ref(struct core_creds *c)
{
        if (c)
                host_atomic_inc(&c->n_refs);
        return c;
}

static inline struct core_creds *core_creds_unref(struct core_host *h, struct core_creds *c)
{
        if (c && !host_atomic_dec(&c->n_refs))
                core_creds_free_unused(h, c);
        return NULL;
}

/* ---- queue entries ---------------------------------------------------------- */

enum {
        CORE_ENTRY_DATA = 1,
        CORE_ENTRY_DESTROY_HOLDER,              /* embedded in a handle */
        CORE_ENTRY_DESTROY_OWNER,               /* embedded in a node */
        CORE_ENTRY_RELEASE,                     /* allocated, reserved by the node */
};

/*
 * struct core_entry - one item on a peer queue. All fields are protected by
 * the lock of the peer whose queue it is on (or owned by the thread that
 * unlinked it).
 */
struct core_entry {
        struct rb_node rb;                      /* in peer->queue */
        struct list_node link;                  /* on a to-be-freed list, once unqueued */
        __u64 ts;                               /* odd: staged, even: committed */
        __u64 sender;                           /* tie-break: sender peer ID */
        __u64 seq;                              /* tie-break: sender's sequence number */
        unsigned int type;                      /* CORE_ENTRY_* */
        bool queued;
        struct core_creds *creds;               /* ref: credentials of the actor */
        struct core_node *node;                 /* the node it is about (ref for DATA/RELEASE) */
};

#define core_entry_is_committed(_e) (((_e)->ts & 1) == 0)

/* ---- queue -------------------------------------------------------------- */

struct core_queue {
        struct rb_root tree;                    /* sorted by (ts, sender, seq) */
        __u64 n_entries;
        bool reverse_ties;                      /* immutable: test knob, breaks the tie-break */
};

void core_queue_init(struct core_queue *q);
void core_queue_link(struct core_queue *q, struct core_entry *e);
void core_queue_relink(struct core_queue *q, struct core_entry *e, __u64 ts);
void core_queue_unlink(struct core_queue *q, struct core_entry *e);

/* The first entry if it is ready (committed), else NULL. Inline: several calls per message. */
static inline struct core_entry *core_queue_first_ready(struct core_queue *q)
{
        struct rb_node *n = q->tree.node;
        struct core_entry *e;

        if (!n)
                return NULL;
        while (n->left)
                n = n->left;
        e = rb_entry(n, struct core_entry, rb);
        return core_entry_is_committed(e) ? e : NULL;
}
struct core_entry *core_queue_first(struct core_queue *q);
struct core_entry *core_queue_next(struct core_entry *e);
int core_entry_compare(const struct core_entry *a, const struct core_entry *b);

/* ---- peer --------------------------------------------------------------------- */

struct core_peer {
        struct core_engine *engine;             /* immutable */
        struct core_user *user;                 /* immutable */
        struct core_creds *creds;               /* immutable (ref) */
        __u64 id;                               /* immutable */
        unsigned long n_refs;                   /* atomic */
        __u64 seq;                              /* atomic: last sequence number */
        struct host_lock lock;
        struct host_wait wait;
        /* protected by lock: */
        bool disconnected;
        bool readable;                          /* last state reported to wake_fn */
        __u64 n_waiters;
        __u64 clock;
        struct core_queue queue;
        struct core_map handles_by_id;
        struct core_map handles_by_node;
        struct list_node handles;               /* every handle in the table */
        __u64 n_handles;
        __u64 next_handle_id;
        struct list_node nodes;                 /* live owned nodes, ascending id */
        __u64 n_nodes;
        struct core_quota charged;              /* everything queued on this peer */
        struct core_map charges_user;           /* struct core_charge per sending user */
        struct core_map charges_peer;           /* struct core_charge per sending peer */
        struct bus1_limits limits;
        void (*wake_fn)(void *userdata, unsigned int event);
        void *wake_userdata;
};

void core_peer_free_unused(struct core_peer *p);

static inline struct core_peer *core_peer_ref(struct core_peer *p)
{
        if (p)
                host_atomic_inc(&p->n_refs);
        return p;
}

static inline struct core_peer *core_peer_unref(struct core_peer *p)
{
        if (p && !host_atomic_dec(&p->n_refs))
                core_peer_free_unused(p);
        return NULL;
}

void core_peer_update_readable_slow_locked(struct core_peer *p, bool ready);

/*
 * Report a change of readiness to the wake callback and wake waiters of a
 * call. Inline for the common case: the state did not change and nobody
 * waits.
 */
static inline void core_peer_update_readable_locked(struct core_peer *p)
{
        bool ready = core_queue_first_ready(&p->queue) != NULL;

        if (ready != p->readable || p->n_waiters)
                core_peer_update_readable_slow_locked(p, ready);
}

/* A new staged timestamp: odd, above the clock and @floor. Peer lock held. */
static inline __u64 core_peer_stage_locked(struct core_peer *p, __u64 floor)
{
        __u64 c = p->clock > floor ? p->clock : floor;

        p->clock = (c & 1) ? c + 2 : c + 1;
        return p->clock;
}

/* Clock sync: the clock never falls behind a position seen on the peer. Peer lock held. */
static inline void core_peer_sync_locked(struct core_peer *p, __u64 ts)
{
        if (ts > p->clock)
                p->clock = ts;
}
__u64 core_peer_clock(struct core_peer *p);

/* ---- node ------------------------------------------------------------------- */

struct core_node {
        struct core_peer *owner;                /* immutable (ref) */
        __u64 id;                               /* immutable: engine-unique */
        bool oneshot;                           /* immutable: reply node of a call */
        unsigned long n_refs;                   /* atomic */
        bool destroying;                        /* atomic: set once, under lock */
        __u64 destroy_ts;                       /* atomic: 0 or the committed destroy position */
        struct host_lock lock;
        /* protected by lock: */
        __u64 destroy_sender, destroy_seq;      /* tie-break key of the destroy */
        struct list_node holders;               /* struct core_handle.node_link */
        __u64 n_remote;
        struct core_entry *release;             /* reserved release notification or NULL */
        /* protected by owner->lock: */
        struct core_handle *owner_handle;
        struct list_node owner_link;            /* in owner->nodes while live */
        struct core_entry destroy_entry;        /* notification to the owner */
};

int core_node_new(struct core_peer *owner, bool oneshot, struct core_node **out);
void core_node_free_unused(struct core_node *n);

static inline struct core_node *core_node_ref(struct core_node *n)
{
        if (n)
                host_atomic_inc(&n->n_refs);
        return n;
}

static inline struct core_node *core_node_unref(struct core_node *n)
{
        if (n && !host_atomic_dec(&n->n_refs))
                core_node_free_unused(n);
        return NULL;
}

int core_node_acquire_remote(struct core_node *n);
void core_node_release_remote(struct core_node *n, struct core_peer *actor, __u64 floor);
int core_nodes_destroy(struct core_peer *owner, struct core_node **nodes, size_t n_nodes);
bool core_node_is_gone(struct core_node *n);

/* ---- handle ---------------------------------------------------------------- */

struct core_handle {
        struct core_peer *holder;               /* immutable: the holder (no ref; see handle.c) */
        struct core_node *node;                 /* immutable (ref) */
        unsigned long n_refs;                   /* atomic */
        bool oneshot;                           /* immutable */
        /* protected by holder->lock: */
        __u64 id;
        __u64 n_user;
        bool linked;
        struct core_map_entry by_id;
        struct core_map_entry by_node;
        struct list_node peer_link;
        /* protected by node->lock: */
        struct list_node node_link;
        /* protected by holder->lock while queued: */
        struct core_entry notify;
};

int core_handle_new(struct core_peer *holder, struct core_node *node, struct core_handle **out);
struct core_handle *core_handle_ref(struct core_handle *h);
struct core_handle *core_handle_unref(struct core_handle *h);
__u64 core_handle_install(struct core_peer *p, struct core_handle *h, __u64 ts, bool now);
void core_handle_unlink_locked(struct core_handle *h);
void core_handle_relink_locked(struct core_handle *h);
int core_peer_handle_release(struct core_peer *p, __u64 id);

static inline struct core_handle *core_peer_lookup_locked(struct core_peer *p, __u64 id)
{
        struct core_map_entry *e = core_map_lookup(&p->handles_by_id, id);

        return e ? list_entry(e, struct core_handle, by_id) : NULL;
}

/* ---- message ------------------------------------------------------------------ */

struct core_payload {
        unsigned long n_refs;                   /* atomic */
        __u64 n_data;
        __u64 charge_bytes;                     /* max(n_data, declared charge): bytes per destination */
        __u64 charge_fds;                       /* max(number of fds, declared charge): fds per destination */
        __u64 n_files;
        struct host_file **files;
        __u64 n_nodes;
        struct core_node **nodes;               /* refs: nodes of the handles passed */
        struct core_node *reply;                /* ref or NULL: reply node of a call */
        unsigned char data[];
};

struct core_message {
        struct core_entry entry;                /* type CORE_ENTRY_DATA */
        struct core_payload *payload;           /* ref */
        struct core_user *sender_user;
        struct core_quota charge;               /* what is charged on the destination */
        bool charged;
        struct core_charge_refs charge_refs;    /* valid while charged */
        struct core_handle *reply_handle;       /* preallocated for the receiver, or NULL */
        __u64 n_handles;                        /* immutable: payload->n_nodes (sizes the allocation) */
        struct core_handle *handles[];          /* preallocated; NULL where the receiver owns the node
                                                 * (or not yet made, while core_message_new() runs) */
};

/*
 * Size classes of the engine's message and payload caches: a message with
 * at most CORE_MESSAGE_CACHE_HANDLES handle slots and a payload with at most
 * CORE_PAYLOAD_CACHE_DATA bytes of data are allocated at class size and
 * recycled; bigger ones come from and go back to the host allocator.
 */
#define CORE_MESSAGE_CACHE_HANDLES 4
#define CORE_PAYLOAD_CACHE_DATA 256
#define CORE_MESSAGE_CACHE_SIZE \
        (sizeof(struct core_message) + CORE_MESSAGE_CACHE_HANDLES * sizeof(struct core_handle *))
#define CORE_PAYLOAD_CACHE_SIZE (sizeof(struct core_payload) + CORE_PAYLOAD_CACHE_DATA)

struct core_entry *core_entry_free(struct core_host *h, struct core_entry *e);
int core_peer_recv_entry_locked(struct core_peer *p, struct core_entry *e, struct bus1_cmd_recv *cmd,
                                struct list_node *to_free, struct core_entry **consumed);
void core_entries_free(struct core_engine *e, struct list_node *list);
