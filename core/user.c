/*
 * core/user: quota accounting
 *
 * Everything queued on a peer (messages, payload bytes, handles, fds) is
 * charged to the sending user, on the receiving peer and on the receiving
 * peer's user. Per resource, with
 *
 *      L  the limit of the receiving user (engine configuration),
 *      U  what is charged on the receiving user in total (all its peers),
 *      r  = L - U, what the receiving user has left,
 *      A  what the sending user holds on all peers of the receiving user,
 *      p  what the receiving peer holds (from all senders),
 *      a  what the sending user holds on the receiving peer,
 *      q  what the sending peer holds on the receiving peer,
 *      P  the receiving peer's own limit,
 *      c  the new charge,
 *
 * the receiving peer may still take s = (r - p) / 2 (its share of what its
 * user has left), the sending user may still add t = s - a, and the charge
 * is granted iff
 *
 *      A + c <= r - c          (level 0: the sending user keeps at most what
 *                               stays available to its receiving user)
 *      a + c <= s - c          (level 1: the sending user keeps at most what
 *                               stays available to other users on the peer)
 *      q + c <= t - 2c         (level 2: the sending peer keeps at most what
 *                               its user may still add afterwards)
 *      p + c <= P              (the peer's configured limit)
 *
 * doc/core-quota.md proves the guarantees: a sending user alone holds at
 * most half of a receiving user's budget, however many of its peers it
 * floods; a stuck peer holds at most half
 * of what its siblings leave; a flooding user leaves at least as much as it
 * holds to other users; a flooding peer leaves room to its user's other
 * peers. Notifications are never charged.
 *
 * Charge records per (receiving peer, sending user) and (receiving peer,
 * sending peer) live in hash maps of the receiving peer and are freed when
 * they drop to zero (beyond a small cache of idle ones), so they are bounded
 * by what is queued. A charge hands back the three records it was added to
 * (struct core_charge_refs); the charged message keeps them and gives them
 * to the discharge, which therefore looks nothing up. They cannot go away
 * in between: each charge counts one message in each of its records, and
 * a record is freed only at zero or with its map's owner (the receiving
 * peer or user, which outlive what is queued on them).
 *
 * Locking: called with the receiving peer's lock held (it protects the
 * peer's charge maps and peer->charged); takes the receiving user's lock for
 * user->used and user->charges (peer->lock -> user->lock). A missing
 * user->charges record is allocated with the user lock dropped and looked
 * up again after retaking it; the map insertion itself may grow the bucket
 * array (an allocation) under the user lock, as the peer maps do under the
 * peer lock.
 */

#include "core/internal.h"

static struct core_charge *core_charge_find(struct core_map *m, __u64 key)
{
        struct core_map_entry *e = core_map_lookup(m, key);

        return e ? list_entry(e, struct core_charge, entry) : NULL;
}

/*
 * Drop a record that went to zero. Up to CORE_CHARGE_CACHE records per map
 * are kept while idle, so a steady sender does not allocate per message;
 * beyond that, idle records are freed, so the maps stay bounded by what is
 * queued plus a constant.
 */
#define CORE_CHARGE_CACHE 32

static void core_charge_put(struct core_host *h, struct core_map *m, struct core_charge *ch)
{
        unsigned int i;

        if (m->n_entries <= CORE_CHARGE_CACHE)
                return;
        for (i = 0; i < CORE_QUOTA_N; ++i)
                if (ch->q.v[i])
                        return;
        core_map_remove(m, &ch->entry);
        host_free(h, ch);
}

static int core_charge_new(struct core_host *h, struct core_map *m, __u64 key, struct core_charge **out)
{
        struct core_charge *ch = host_alloc(h, sizeof(*ch));

        if (!ch)
                return CORE_TRACE(h, -ENOMEM);
        core_map_insert(h, m, &ch->entry, key);
        *out = ch;
        return 0;
}

static inline int core_charge_get(struct core_host *h, struct core_map *m, __u64 key, struct core_charge **out)
{
        struct core_charge *ch = core_charge_find(m, key);

        if (!ch)
                return core_charge_new(h, m, key, out);
        *out = ch;
        return 0;
}

/*
 * The rule for one resource (see the top of the file): @A what the sending
 * user holds on the receiving user, @a what the sending user holds on the peer, @q what the sending peer holds, @p what the peer
 * holds, @c the charge.
 */
static bool core_quota_fits(__u64 limit, __u64 used, __u64 peer_limit, __u64 p, __u64 A, __u64 a,
                            __u64 q, __u64 c)
{
        __u64 r, s, t;

        if (!c)
                return true;
        if (used >= limit)
                return false;
        r = limit - used;
        if (p > r || c > r)
                return false;
        if (A > r || 2 * c > r - A)
                return false;
        s = (r - p) / 2;
        if (a > s || 2 * c > s - a)
                return false;
        t = s - a;
        if (q > t || 3 * c > t - q)
                return false;
        if (p > peer_limit || c > peer_limit - p)
                return false;
        return true;
}

int core_user_charge_locked(struct core_peer *dst, struct core_user *sender, __u64 sender_peer,
                            const struct core_quota *c, struct core_charge_refs *refs)
{
        struct core_user *u = dst->user;
        struct core_host *h = u->engine->host;
        const struct bus1_limits *L = &u->engine->user_limits;
        const __u64 limit[CORE_QUOTA_N] = { L->messages, L->bytes, L->handles, L->fds };
        const __u64 peer_limit[CORE_QUOTA_N] = {
                dst->limits.messages, dst->limits.bytes, dst->limits.handles, dst->limits.fds,
        };
        struct core_charge *chu = NULL, *chp = NULL, *cha, *spare = NULL;
        unsigned int i;
        int r;

        r = core_charge_get(h, &dst->charges_user, sender->uid, &chu);
        if (r)
                return r;
        r = core_charge_get(h, &dst->charges_peer, sender_peer, &chp);
        if (r) {
                core_charge_put(h, &dst->charges_user, chu);
                return r;
        }

        host_lock_lock(&u->lock);
        cha = core_charge_find(&u->charges, sender->uid);
        if (!cha) {
                host_lock_unlock(&u->lock);
                spare = host_alloc(h, sizeof(*spare));
                if (!spare) {
                        core_charge_put(h, &dst->charges_user, chu);
                        core_charge_put(h, &dst->charges_peer, chp);
                        return CORE_TRACE(h, -ENOMEM);
                }
                host_lock_lock(&u->lock);
                cha = core_charge_find(&u->charges, sender->uid);
                if (!cha) {
                        cha = spare;
                        spare = NULL;
                        core_map_insert(h, &u->charges, &cha->entry, sender->uid);
                }
        }
        /* a resource the message does not use (no handles, no fds) always fits and adds nothing */
        for (i = 0; i < CORE_QUOTA_N; ++i) {
                if (c->v[i] &&
                    !core_quota_fits(limit[i], u->used.v[i], peer_limit[i], dst->charged.v[i],
                                     cha->q.v[i], chu->q.v[i], chp->q.v[i], c->v[i])) {
                        core_charge_put(h, &u->charges, cha);
                        host_lock_unlock(&u->lock);
                        host_free(h, spare);
                        core_charge_put(h, &dst->charges_user, chu);
                        core_charge_put(h, &dst->charges_peer, chp);
                        return -EDQUOT;
                }
        }
        for (i = 0; i < CORE_QUOTA_N; ++i) {
                if (!c->v[i])
                        continue;
                u->used.v[i] += c->v[i];
                dst->charged.v[i] += c->v[i];
                cha->q.v[i] += c->v[i];
                chu->q.v[i] += c->v[i];
                chp->q.v[i] += c->v[i];
        }
        host_lock_unlock(&u->lock);
        host_free(h, spare);
        refs->peer_user = chu;
        refs->peer_peer = chp;
        refs->user_user = cha;
        return 0;
}

void core_user_discharge_locked(struct core_peer *dst, const struct core_charge_refs *refs,
                               const struct core_quota *c)
{
        struct core_user *u = dst->user;
        struct core_host *h = u->engine->host;
        struct core_charge *chu = refs->peer_user, *chp = refs->peer_peer, *cha = refs->user_user;
        unsigned int i;

        host_lock_lock(&u->lock);
        for (i = 0; i < CORE_QUOTA_N; ++i) {
                if (!c->v[i])
                        continue;
                u->used.v[i] -= c->v[i];
                dst->charged.v[i] -= c->v[i];
                cha->q.v[i] -= c->v[i];
                chu->q.v[i] -= c->v[i];
                chp->q.v[i] -= c->v[i];
        }
        core_charge_put(h, &u->charges, cha);
        host_lock_unlock(&u->lock);
        core_charge_put(h, &dst->charges_user, chu);
        core_charge_put(h, &dst->charges_peer, chp);
}

/* Free every (idle) charge record of @m; the peer is going away. */
void core_charges_free(struct core_host *h, struct core_map *m)
{
        size_t i;

        for (i = 0; i < m->n_buckets; ++i) {
                while (m->buckets[i]) {
                        struct core_map_entry *e = m->buckets[i];

                        core_map_remove(m, e);
                        host_free(h, list_entry(e, struct core_charge, entry));
                }
        }
        core_map_deinit(h, m);
}
