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
 *      p  what the receiving peer holds (from all senders),
 *      a  what the sending user holds on the receiving peer,
 *      P  the receiving peer's own limit,
 *      c  the new charge,
 *
 * the peer may still take s = (r - p) / 2 (its share of what its user has
 * left), and the charge is granted iff
 *
 *      a + c <= s - c          (the sending user keeps at most what stays
 *                               available to the others on this peer)
 *      p + c <= P              (the peer's configured limit)
 *
 * doc/core-quota.md proves the guarantees: a stuck peer holds at most
 * (L - U_others) / 2 - a bounded share of its user, and a flooding user at
 * most half of what its receiver may take, so another user always gets in.
 * Notifications are never charged.
 *
 * Locking: called with the receiving peer's lock held (it protects
 * peer->charges and peer->charged); takes the receiving user's lock for
 * user->used (peer->lock -> user->lock).
 */

#include "core/internal.h"

static struct core_charge *core_user_find_charge_locked(struct core_peer *p, struct core_user *sender)
{
        struct core_charge *c;

        list_for_each_entry(c, &p->charges, struct core_charge, link)
                if (c->sender == sender)
                        return c;
        return NULL;
}

static bool core_quota_fits(__u64 limit, __u64 used, __u64 a, __u64 p, __u64 peer_limit, __u64 c)
{
        __u64 r, s;

        if (!c)
                return true;
        if (used >= limit)
                return false;
        r = limit - used;
        if (p > r || c > r)
                return false;
        s = (r - p) / 2;
        if (a > s || 2 * c > s - a)
                return false;
        if (p > peer_limit || c > peer_limit - p)
                return false;
        return true;
}

int core_user_charge_locked(struct core_peer *dst, struct core_user *sender, const struct core_quota *c)
{
        struct core_user *u = dst->user;
        const struct bus1_limits *L = &u->engine->user_limits;
        struct core_charge *ch;
        int r = 0;

        ch = core_user_find_charge_locked(dst, sender);
        if (!ch) {
                ch = host_alloc(u->engine->host, sizeof(*ch));
                if (!ch)
                        return CORE_TRACE(u->engine->host, -ENOMEM);
                ch->sender = sender;
                list_link_tail(&dst->charges, &ch->link);
        }
        host_lock_lock(&u->lock);
        if (!core_quota_fits(L->messages, u->used.messages, ch->q.messages, dst->charged.messages,
                             dst->limits.messages, c->messages) ||
            !core_quota_fits(L->bytes, u->used.bytes, ch->q.bytes, dst->charged.bytes,
                             dst->limits.bytes, c->bytes) ||
            !core_quota_fits(L->handles, u->used.handles, ch->q.handles, dst->charged.handles,
                             dst->limits.handles, c->handles) ||
            !core_quota_fits(L->fds, u->used.fds, ch->q.fds, dst->charged.fds,
                             dst->limits.fds, c->fds)) {
                r = -EDQUOT;
        } else {
                ch->q.messages += c->messages;
                ch->q.bytes += c->bytes;
                ch->q.handles += c->handles;
                ch->q.fds += c->fds;
                u->used.messages += c->messages;
                u->used.bytes += c->bytes;
                u->used.handles += c->handles;
                u->used.fds += c->fds;
                dst->charged.messages += c->messages;
                dst->charged.bytes += c->bytes;
                dst->charged.handles += c->handles;
                dst->charged.fds += c->fds;
        }
        host_lock_unlock(&u->lock);
        return r;
}

void core_user_discharge_locked(struct core_peer *dst, struct core_user *sender, const struct core_quota *c)
{
        struct core_user *u = dst->user;
        struct core_charge *ch;

        ch = core_user_find_charge_locked(dst, sender);
        host_lock_lock(&u->lock);
        ch->q.messages -= c->messages;
        ch->q.bytes -= c->bytes;
        ch->q.handles -= c->handles;
        ch->q.fds -= c->fds;
        u->used.messages -= c->messages;
        u->used.bytes -= c->bytes;
        u->used.handles -= c->handles;
        u->used.fds -= c->fds;
        dst->charged.messages -= c->messages;
        dst->charged.bytes -= c->bytes;
        dst->charged.handles -= c->handles;
        dst->charged.fds -= c->fds;
        host_lock_unlock(&u->lock);
}
