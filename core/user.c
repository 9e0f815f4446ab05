/*
 * core/user: quota accounting on a receiving user
 *
 * Everything queued on a peer (messages, payload bytes, handles, fds) is
 * charged to the sending user on the receiving peer's user. With, per
 * resource, L the user limit, U what is charged on the receiving user in
 * total, r = L - U what it has left, a what the sending user already has
 * charged there, p what the receiving peer already holds and c the new
 * charge, a charge is granted iff
 *
 *      a + c <= r - c          (level 1: sending user, fair share)
 *      p + c <= r - c          (level 2: receiving peer within its user)
 *      p + c <= peer limit     (configured per peer)
 *
 * i.e. after the charge, neither the sending user nor the receiving peer
 * holds more than what is left. doc/core-quota.md proves what this
 * guarantees. Notifications are never charged.
 *
 * Locking: called with the receiving peer's lock held; takes the receiving
 * user's lock (peer->lock -> user->lock). user->lock protects used and the
 * charges list.
 */

#include "core/internal.h"

static struct core_charge *core_user_find_charge_locked(struct core_user *u, struct core_user *sender)
{
        struct core_charge *c;

        list_for_each_entry(c, &u->charges, struct core_charge, link)
                if (c->sender == sender)
                        return c;
        return NULL;
}

static bool core_quota_fits(__u64 limit, __u64 used, __u64 a, __u64 p, __u64 peer_limit, __u64 c)
{
        __u64 r;

        if (!c)
                return true;
        if (used >= limit)
                return false;
        r = limit - used;
        if (c > r / 2)
                return false;           /* also keeps the sums below from overflowing */
        if (a + 2 * c > r)
                return false;
        if (p + 2 * c > r)
                return false;
        if (p + c > peer_limit)
                return false;
        return true;
}

int core_user_charge_locked(struct core_peer *dst, struct core_user *sender, const struct core_quota *c)
{
        struct core_user *u = dst->user;
        const struct bus1_limits *L = &u->engine->user_limits;
        struct core_charge *ch;
        int r = 0;

        host_lock_lock(&u->lock);
        ch = core_user_find_charge_locked(u, sender);
        if (!ch) {
                ch = host_alloc(u->engine->host, sizeof(*ch));
                if (!ch) {
                        host_lock_unlock(&u->lock);
                        return CORE_TRACE(u->engine->host, -ENOMEM);
                }
                ch->sender = sender;
                list_link_tail(&u->charges, &ch->link);
        }
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

        host_lock_lock(&u->lock);
        ch = core_user_find_charge_locked(u, sender);
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
