#pragma once

/*
 * Name registry: ownership of well-known bus names
 *
 * The registry maps well-known bus names ("org.example.Foo") to a queue of
 * owners, exactly as dbus-daemon does: the first entry of a queue is the
 * primary owner, the others wait in order. Owners are `struct name_owner`
 * objects the caller embeds in its connection object; the registry never
 * allocates owners. It allocates one `struct name_entry` per name that has
 * at least one owner and one `struct name_ownership` per (owner, name) pair
 * in a queue.
 *
 * Unique names (":1.42") are not stored here: the broker manages them (it
 * announces a unique name before any well-known name of the connection and
 * drops it after name_registry_release_all()).
 *
 * Invariants (between any two calls):
 *  - an entry is linked in the registry's tree if and only if its queue is
 *    non-empty; names in the tree are unique;
 *  - an owner appears at most once in one queue;
 *  - every ownership is on exactly one queue and on its owner's list; the
 *    owner's list is in the order the ownerships were created (requests that
 *    update an existing ownership do not move it);
 *  - an ownership's flags are the ALLOW_REPLACEMENT and DO_NOT_QUEUE bits of
 *    the last request that created or updated it.
 *
 * Change reports: every operation appends the ownership changes it caused to
 * a `struct name_changes` (at most one per name per operation). A change
 * (name, old, new) means the primary owner of name went from old to new
 * (either may be NULL: the name appeared or vanished). To reproduce
 * dbus-daemon's signal order, the caller emits per change, in list order:
 *    NameLost(name) to old        if old != NULL
 *    NameOwnerChanged(name, old, new)
 *    NameAcquired(name) to new    if new != NULL
 * A change keeps its name entry alive (it holds a reference), so the name
 * stays readable after the name has vanished; the owners are the caller's
 * and must stay alive until the caller has processed the changes.
 *
 * Not thread-safe: callers serialise all access to one registry.
 */

#include <stdbool.h>
#include <stddef.h>

#include "util/list.h"
#include "util/rbtree.h"

/* RequestName flags (values of the D-Bus specification). */
enum {
        NAME_FLAG_ALLOW_REPLACEMENT = 0x1,
        NAME_FLAG_REPLACE_EXISTING = 0x2,
        NAME_FLAG_DO_NOT_QUEUE = 0x4,
};

/* Results of name_registry_request() (the D-Bus RequestName reply codes). */
enum {
        NAME_E_PRIMARY_OWNER = 1,
        NAME_E_IN_QUEUE = 2,
        NAME_E_EXISTS = 3,
        NAME_E_ALREADY_OWNER = 4,
};

/* Results of name_registry_release() (the D-Bus ReleaseName reply codes). */
enum {
        NAME_E_RELEASED = 1,
        NAME_E_NON_EXISTENT = 2,
        NAME_E_NOT_OWNER = 3,
};

/*
 * Refusals of request and release for names no client can own. dbus-daemon
 * answers all three with org.freedesktop.DBus.Error.InvalidArgs.
 */
enum {
        NAME_E_INVALID = 16,    /* not a valid bus name */
        NAME_E_UNIQUE = 17,     /* a unique name (starts with ':') */
        NAME_E_RESERVED = 18,   /* org.freedesktop.DBus, owned by the bus */
};

/** NAME_DRIVER - the bus driver's name, which no client can own. */
#define NAME_DRIVER "org.freedesktop.DBus"

struct name_owner {
        struct list_node ownerships;    /* name_ownership.owner_link, oldest first */
        size_t n_ownerships;            /* names owned or queued for */
};

struct name_entry {
        unsigned long n_refs;           /* the registry's (while linked) + changes' */
        struct rb_node rb;              /* in name_registry.entries */
        struct list_node queue;         /* name_ownership.entry_link; first = primary */
        size_t n_queue;
        char name[];
};

struct name_ownership {
        struct name_owner *owner;
        struct name_entry *entry;
        struct list_node owner_link;    /* in owner->ownerships */
        struct list_node entry_link;    /* in entry->queue */
        unsigned int flags;             /* NAME_FLAG_ALLOW_REPLACEMENT | NAME_FLAG_DO_NOT_QUEUE */
};

struct name_registry {
        struct rb_root entries;         /* name_entry.rb, ordered by strcmp() of the name */
        size_t n_entries;
};

struct name_change {
        struct name_entry *entry;       /* holds a reference */
        struct name_owner *old_owner;   /* NULL if the name had no owner */
        struct name_owner *new_owner;   /* NULL if the name has no owner now */
};

struct name_changes {
        struct name_change *changes;
        size_t n_changes;
        size_t n_allocated;
};

#define NAME_REGISTRY_INIT { .entries = RB_ROOT_INIT }
#define NAME_CHANGES_INIT { .changes = NULL }

/** name_registry_init() - make @r an empty registry. */
void name_registry_init(struct name_registry *r);

/**
 * name_registry_deinit() - tear down @r.
 *
 * Every owner must have been released (name_registry_release_all()) before:
 * the registry must be empty.
 */
void name_registry_deinit(struct name_registry *r);

/** name_owner_init() - make @o an owner of nothing. */
void name_owner_init(struct name_owner *o);

/**
 * name_owner_deinit() - tear down @o.
 *
 * @o must own and wait for no name (release it with
 * name_registry_release_all() first).
 */
void name_owner_deinit(struct name_owner *o);

/** name_changes_init() - make @c an empty change list. */
void name_changes_init(struct name_changes *c);

/**
 * name_changes_clear() - drop every change of @c (and the references they
 * hold) and free its memory; @c is then empty and can be reused.
 */
void name_changes_clear(struct name_changes *c);

/** name_change_name() - the name a change is about. */
static inline const char *name_change_name(const struct name_change *c)
{
        return c->entry->name;
}

/**
 * name_registry_request() - RequestName(@name, @flags) on behalf of @owner.
 * @r:       the registry
 * @owner:   the requesting owner
 * @name:    NUL-terminated name, untrusted (validated here)
 * @flags:   NAME_FLAG_* bits; other bits are ignored (as dbus-daemon does)
 * @changes: the change caused (at most one) is appended here
 *
 * Semantics of dbus-daemon (see the "RequestName" table of the spec):
 *  - no owner: @owner becomes primary owner -> NAME_E_PRIMARY_OWNER;
 *  - @owner is primary already: its flags are updated -> NAME_E_ALREADY_OWNER;
 *  - DO_NOT_QUEUE and the primary owner cannot be replaced (it did not allow
 *    replacement, or @flags lacks REPLACE_EXISTING): @owner is taken out of
 *    the queue if it was waiting -> NAME_E_EXISTS;
 *  - no DO_NOT_QUEUE and no replacement possible: @owner is queued at the
 *    end, or, with REPLACE_EXISTING, right behind the primary owner; if it
 *    was queued already, only that move and its new flags apply
 *    -> NAME_E_IN_QUEUE;
 *  - otherwise (REPLACE_EXISTING and the primary owner allowed replacement):
 *    @owner becomes primary owner; the old primary owner is dropped if it had
 *    asked for DO_NOT_QUEUE, otherwise it waits right behind @owner
 *    -> NAME_E_PRIMARY_OWNER.
 * The per-connection name limit is the caller's: compare
 * @owner->n_ownerships with it before calling (dbus-daemon counts queued
 * names too).
 *
 * Return: a positive NAME_E_* result as above, or
 *         NAME_E_INVALID / NAME_E_UNIQUE / NAME_E_RESERVED (nothing changed),
 *         -ENOMEM (nothing changed).
 */
int name_registry_request(struct name_registry *r, struct name_owner *owner, const char *name,
                          unsigned int flags, struct name_changes *changes);

/**
 * name_registry_release() - ReleaseName(@name) on behalf of @owner.
 * @r:       the registry
 * @owner:   the releasing owner
 * @name:    NUL-terminated name, untrusted (validated here)
 * @changes: the change caused (at most one) is appended here
 *
 * If @owner is the primary owner, the next in the queue (if any) becomes
 * primary owner; if it only waits, it silently leaves the queue.
 *
 * Return: NAME_E_RELEASED, NAME_E_NON_EXISTENT (nobody owns @name),
 *         NAME_E_NOT_OWNER (@owner neither owns nor waits for @name),
 *         NAME_E_INVALID / NAME_E_UNIQUE / NAME_E_RESERVED (nothing changed),
 *         -ENOMEM (nothing changed).
 */
int name_registry_release(struct name_registry *r, struct name_owner *owner, const char *name,
                          struct name_changes *changes);

/**
 * name_registry_release_all() - release everything @owner owns or waits for
 * (its connection goes away).
 * @r:       the registry
 * @owner:   the owner
 * @changes: the changes caused are appended here
 *
 * Names are released newest ownership first, as dbus-daemon does on
 * disconnect, each as name_registry_release() would.
 *
 * Return: 0, or -ENOMEM (nothing changed).
 */
int name_registry_release_all(struct name_registry *r, struct name_owner *owner,
                              struct name_changes *changes);

/**
 * name_registry_find() - the entry of @name, or NULL if nobody owns it.
 * O(log n).
 */
struct name_entry *name_registry_find(const struct name_registry *r, const char *name);

/** name_entry_primary() - the primary ownership of linked @e (never NULL). */
static inline struct name_ownership *name_entry_primary(const struct name_entry *e)
{
        return list_entry(e->queue.next, struct name_ownership, entry_link);
}

/** name_ownership_is_primary() - whether @o is first in its queue. */
static inline bool name_ownership_is_primary(const struct name_ownership *o)
{
        return o->entry->queue.next == &o->entry_link;
}

/**
 * name_registry_lookup() - the primary owner of @name, or NULL if none.
 * O(log n).
 */
struct name_owner *name_registry_lookup(const struct name_registry *r, const char *name);

/**
 * name_owner_primary_names() - the names @owner is primary owner of, e.g.
 * for the sender_names of a match filter.
 * @owner: the owner
 * @names: receives up to @n_max names, oldest ownership first; they stay
 *         valid until the registry changes
 * @n_max: room in @names
 *
 * O(number of names @owner owns or waits for).
 *
 * Return: how many names @owner is primary owner of; if that exceeds
 *         @n_max, only the first @n_max were written.
 */
size_t name_owner_primary_names(const struct name_owner *owner, const char **names, size_t n_max);

/**
 * name_registry_first() - the entry with the smallest name (strcmp order),
 * or NULL if the registry is empty; with name_entry_next() for ListNames.
 */
struct name_entry *name_registry_first(const struct name_registry *r);

/** name_entry_next() - the entry after linked @e, or NULL. */
struct name_entry *name_entry_next(const struct name_entry *e);

/**
 * name_entry_for_each_ownership() - walk the queue of @e, primary first
 * (ListQueuedOwners); the body must not change the registry.
 */
#define name_entry_for_each_ownership(_o, _e) \
        list_for_each_entry(_o, &(_e)->queue, struct name_ownership, entry_link)

/**
 * name_owner_for_each_ownership() - walk everything @owner owns or waits for,
 * oldest first; the body must not change the registry.
 */
#define name_owner_for_each_ownership(_o, _owner) \
        list_for_each_entry(_o, &(_owner)->ownerships, struct name_ownership, owner_link)
