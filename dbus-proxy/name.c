/*
 * Name registry; see name.h for the object and its invariants.
 *
 * Every operation allocates what it may need (a change slot, a name entry,
 * an ownership) before it changes anything, so a failed allocation leaves
 * the registry as it was and the rest cannot fail.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dbus-proxy/name.h"
#include "dbus-proxy/syntax.h"
#include "util/error.h"

void name_registry_init(struct name_registry *r)
{
        rb_root_init(&r->entries);
        r->n_entries = 0;
}

void name_registry_deinit(struct name_registry *r)
{
        assert(rb_root_is_empty(&r->entries));
        assert(r->n_entries == 0);
}

void name_owner_init(struct name_owner *o)
{
        list_node_init(&o->ownerships);
        o->n_ownerships = 0;
}

void name_owner_deinit(struct name_owner *o)
{
        assert(list_is_empty(&o->ownerships));
        assert(o->n_ownerships == 0);
}

static void name_entry_unref(struct name_entry *e)
{
        assert(e->n_refs > 0);
        if (--e->n_refs == 0) {
                assert(!rb_node_is_linked(&e->rb));
                assert(list_is_empty(&e->queue));
                free(e);
        }
}

void name_changes_init(struct name_changes *c)
{
        c->changes = NULL;
        c->n_changes = 0;
        c->n_allocated = 0;
}

void name_changes_clear(struct name_changes *c)
{
        for (size_t i = 0; i < c->n_changes; ++i)
                name_entry_unref(c->changes[i].entry);
        free(c->changes);
        name_changes_init(c);
}

/* Make room for @n more changes, so appending them cannot fail. */
static int name_changes_reserve(struct name_changes *c, size_t n)
{
        struct name_change *v;
        size_t want;

        if (c->n_allocated - c->n_changes >= n)
                return 0;
        if (n > SIZE_MAX / sizeof(*v) / 2 - c->n_changes)
                return error_origin(-ENOMEM);
        want = c->n_changes + n;
        if (want < 2 * c->n_allocated)
                want = 2 * c->n_allocated;
        if (want < 4)
                want = 4;
        v = realloc(c->changes, want * sizeof(*v));
        if (!v)
                return error_origin(-ENOMEM);
        c->changes = v;
        c->n_allocated = want;
        return 0;
}

static void name_changes_append(struct name_changes *c, struct name_entry *e,
                                struct name_owner *old_owner, struct name_owner *new_owner)
{
        assert(c->n_changes < c->n_allocated);
        ++e->n_refs;
        c->changes[c->n_changes++] = (struct name_change){
                .entry = e,
                .old_owner = old_owner,
                .new_owner = new_owner,
        };
}

static int name_entry_cmp(const void *key, const struct rb_node *n)
{
        return strcmp(key, rb_entry(n, const struct name_entry, rb)->name);
}

struct name_entry *name_registry_find(const struct name_registry *r, const char *name)
{
        return rb_entry_safe(rb_find(&r->entries, name, name_entry_cmp), struct name_entry, rb);
}

struct name_owner *name_registry_lookup(const struct name_registry *r, const char *name)
{
        struct name_entry *e = name_registry_find(r, name);

        return e ? name_entry_primary(e)->owner : NULL;
}

struct name_entry *name_registry_first(const struct name_registry *r)
{
        return rb_entry_safe(rb_first(&r->entries), struct name_entry, rb);
}

struct name_entry *name_entry_next(const struct name_entry *e)
{
        return rb_entry_safe(rb_next(&e->rb), struct name_entry, rb);
}

size_t name_owner_primary_names(const struct name_owner *owner, const char **names, size_t n_max)
{
        const struct name_ownership *o;
        size_t n = 0;

        list_for_each_entry(o, &owner->ownerships, const struct name_ownership, owner_link) {
                if (!name_ownership_is_primary(o))
                        continue;
                if (n < n_max)
                        names[n] = o->entry->name;
                ++n;
        }
        return n;
}

/* The ownership of @owner in the queue of @e, or NULL. O(queue length). */
static struct name_ownership *name_entry_find_ownership(struct name_entry *e, const struct name_owner *owner)
{
        struct name_ownership *o;

        name_entry_for_each_ownership(o, e)
                if (o->owner == owner)
                        return o;
        return NULL;
}

/* Classify a name a client wants to request or release. */
static int name_check(const char *name)
{
        if (!syntax_is_bus_name(name))
                return NAME_E_INVALID;
        if (name[0] == ':')
                return NAME_E_UNIQUE;
        if (strcmp(name, NAME_DRIVER) == 0)
                return NAME_E_RESERVED;
        return 0;
}

/* Unlink and free @o; if its queue empties, take the entry off the tree. */
static void name_ownership_unlink(struct name_registry *r, struct name_ownership *o)
{
        struct name_entry *e = o->entry;

        list_unlink(&o->entry_link);
        list_unlink(&o->owner_link);
        --e->n_queue;
        --o->owner->n_ownerships;
        free(o);
        if (list_is_empty(&e->queue)) {
                rb_remove(&r->entries, &e->rb);
                --r->n_entries;
                name_entry_unref(e);
        }
}

/*
 * Remove @o from its queue. If it was the primary owner, the next in line
 * takes over and a change is reported (the caller reserved its slot);
 * a waiting owner leaves silently.
 */
static void name_ownership_remove(struct name_registry *r, struct name_ownership *o,
                                  struct name_changes *changes)
{
        struct name_entry *e = o->entry;

        if (name_ownership_is_primary(o)) {
                struct name_owner *next = NULL;

                if (o->entry_link.next != &e->queue)
                        next = list_entry(o->entry_link.next, struct name_ownership, entry_link)->owner;
                name_changes_append(changes, e, o->owner, next);
        }
        name_ownership_unlink(r, o);
}

/* Link a fresh ownership @o of @owner into @e, at the end of the queue. */
static void name_ownership_link(struct name_ownership *o, struct name_entry *e,
                                struct name_owner *owner, unsigned int flags)
{
        o->owner = owner;
        o->entry = e;
        o->flags = flags;
        list_link_tail(&e->queue, &o->entry_link);
        list_link_tail(&owner->ownerships, &o->owner_link);
        ++e->n_queue;
        ++owner->n_ownerships;
}

/* Move linked, non-primary @o right behind the primary owner of its queue. */
static void name_ownership_move_second(struct name_ownership *o)
{
        struct name_entry *e = o->entry;

        assert(!name_ownership_is_primary(o));
        list_unlink(&o->entry_link);
        list_link_after(e->queue.next, &o->entry_link);
}

int name_registry_request(struct name_registry *r, struct name_owner *owner, const char *name,
                          unsigned int flags, struct name_changes *changes)
{
        struct name_ownership *o, *primary;
        struct name_entry *e;
        unsigned int keep;
        size_t len;
        int res;

        res = name_check(name);
        if (res)
                return res;

        keep = flags & (NAME_FLAG_ALLOW_REPLACEMENT | NAME_FLAG_DO_NOT_QUEUE);

        res = name_changes_reserve(changes, 1);
        if (res < 0)
                return error_trace(res);

        e = name_registry_find(r, name);
        if (!e) {
                /* Nobody owns it: @owner takes it. */
                len = strlen(name);
                e = malloc(sizeof(*e) + len + 1);
                o = malloc(sizeof(*o));
                if (!e || !o) {
                        free(e);
                        free(o);
                        return error_origin(-ENOMEM);
                }
                e->n_refs = 1;
                rb_node_init(&e->rb);
                list_node_init(&e->queue);
                e->n_queue = 0;
                memcpy(e->name, name, len + 1);
                rb_insert(&r->entries, &e->rb, e->name, name_entry_cmp);
                ++r->n_entries;
                name_ownership_link(o, e, owner, keep);
                name_changes_append(changes, e, NULL, owner);
                return NAME_E_PRIMARY_OWNER;
        }

        primary = name_entry_primary(e);
        if (primary->owner == owner) {
                primary->flags = keep;
                return NAME_E_ALREADY_OWNER;
        }

        o = name_entry_find_ownership(e, owner);

        if ((flags & NAME_FLAG_DO_NOT_QUEUE) &&
            (!(primary->flags & NAME_FLAG_ALLOW_REPLACEMENT) || !(flags & NAME_FLAG_REPLACE_EXISTING))) {
                /* Cannot take it and must not wait: leave the queue. */
                if (o)
                        name_ownership_unlink(r, o);
                return NAME_E_EXISTS;
        }

        if (!o) {
                o = malloc(sizeof(*o));
                if (!o)
                        return error_origin(-ENOMEM);
                name_ownership_link(o, e, owner, keep);
        } else {
                o->flags = keep;
        }
        if (flags & NAME_FLAG_REPLACE_EXISTING)
                name_ownership_move_second(o);

        if (!(flags & NAME_FLAG_REPLACE_EXISTING) || !(primary->flags & NAME_FLAG_ALLOW_REPLACEMENT))
                return NAME_E_IN_QUEUE;

        /* Replace: @o is second in line, the primary owner steps aside. */
        name_changes_append(changes, e, primary->owner, owner);
        if (primary->flags & NAME_FLAG_DO_NOT_QUEUE) {
                name_ownership_unlink(r, primary);
        } else {
                list_unlink(&primary->entry_link);
                list_link_after(&o->entry_link, &primary->entry_link);
        }
        assert(name_entry_primary(e) == o);
        return NAME_E_PRIMARY_OWNER;
}

int name_registry_release(struct name_registry *r, struct name_owner *owner, const char *name,
                          struct name_changes *changes)
{
        struct name_ownership *o;
        struct name_entry *e;
        int res;

        res = name_check(name);
        if (res)
                return res;

        e = name_registry_find(r, name);
        if (!e)
                return NAME_E_NON_EXISTENT;
        o = name_entry_find_ownership(e, owner);
        if (!o)
                return NAME_E_NOT_OWNER;

        res = name_changes_reserve(changes, 1);
        if (res < 0)
                return error_trace(res);
        name_ownership_remove(r, o, changes);
        return NAME_E_RELEASED;
}

int name_registry_release_all(struct name_registry *r, struct name_owner *owner,
                              struct name_changes *changes)
{
        int res;

        res = name_changes_reserve(changes, owner->n_ownerships);
        if (res < 0)
                return error_trace(res);
        while (!list_is_empty(&owner->ownerships))
                name_ownership_remove(r, list_entry(owner->ownerships.prev, struct name_ownership, owner_link),
                                      changes);
        return 0;
}
