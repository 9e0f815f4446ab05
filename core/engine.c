/*
 * core/engine: the engine context, its users and credentials
 *
 * An engine owns the registry of users (one per UID, created on first use,
 * freed with the engine) and the configured limits. There is no global
 * state: everything of an engine hangs off struct core_engine.
 *
 * It also holds the caches of freed messages and payloads (core/cache.c),
 * emptied when the engine is freed.
 *
 * Locking: engine->lock protects engine->users and engine->next_peer_id.
 * It is innermost: nothing else is locked while holding it. Each cache
 * has its own lock, also innermost (core/cache.c).
 */

#include "core/core.h"
#include "core/internal.h"

static void core_limits_fill(struct bus1_limits *dst, const struct bus1_limits *src)
{
        dst->messages = src && src->messages ? src->messages : CORE_DEFAULT_MESSAGES;
        dst->bytes = src && src->bytes ? src->bytes : CORE_DEFAULT_BYTES;
        dst->handles = src && src->handles ? src->handles : CORE_DEFAULT_HANDLES;
        dst->fds = src && src->fds ? src->fds : CORE_DEFAULT_FDS;
}

int core_engine_new(struct core_engine **out, struct core_host *host,
                    const struct bus1_limits *user_limits, const struct bus1_limits *peer_limits)
{
        struct core_engine *e;

        e = host_alloc(host, sizeof(*e));
        if (!e)
                return CORE_TRACE(host, -ENOMEM);
        e->host = host;
        core_limits_fill(&e->user_limits, user_limits);
        core_limits_fill(&e->peer_limits, peer_limits);
        host_lock_init(&e->lock);
        list_node_init(&e->users);
        e->next_peer_id = 1;
        e->next_node_id = 0;
        core_cache_init(&e->message_cache, CORE_MESSAGE_CACHE_SIZE);
        core_cache_init(&e->payload_cache, CORE_PAYLOAD_CACHE_SIZE);
        *out = e;
        return 0;
}

struct core_engine *core_engine_free(struct core_engine *e)
{
        struct core_user *u, *tmp;

        if (!e)
                return NULL;
        list_for_each_entry_safe(u, tmp, &e->users, struct core_user, link)
                core_user_free(u);
        core_cache_deinit(e->host, &e->message_cache);
        core_cache_deinit(e->host, &e->payload_cache);
        host_lock_deinit(&e->lock);
        host_free(e->host, e);
        return NULL;
}

void core_engine_set_debug_broken_tiebreak(struct core_engine *e, bool on)
{
        host_lock_lock(&e->lock);
        e->debug_broken_tiebreak = on;
        host_lock_unlock(&e->lock);
}

struct core_host *core_engine_host(struct core_engine *e)
{
        return e->host;
}

int core_user_get(struct core_engine *e, __u64 uid, struct core_user **out)
{
        struct core_user *u, *new;

        new = host_alloc(e->host, sizeof(*new));
        if (!new)
                return CORE_TRACE(e->host, -ENOMEM);

        host_lock_lock(&e->lock);
        list_for_each_entry(u, &e->users, struct core_user, link) {
                if (u->uid == uid) {
                        host_lock_unlock(&e->lock);
                        host_free(e->host, new);
                        *out = u;
                        return 0;
                }
        }
        new->engine = e;
        new->uid = uid;
        host_lock_init(&new->lock);
        core_map_init(&new->charges);
        list_link_tail(&e->users, &new->link);
        host_lock_unlock(&e->lock);
        *out = new;
        return 0;
}

struct core_user *core_user_free(struct core_user *u)
{
        if (!u)
                return NULL;
        list_unlink(&u->link);
        core_charges_free(u->engine->host, &u->charges);
        host_lock_deinit(&u->lock);
        host_free(u->engine->host, u);
        return NULL;
}

void core_creds_free_unused(struct core_host *h, struct core_creds *c)
{
        host_free(h, c->gids);
        host_free(h, c->label);
        host_free(h, c);
}
