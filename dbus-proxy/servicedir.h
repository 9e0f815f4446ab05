#pragma once

/*
 * The registry of activatable services: every service file of an ordered
 * list of service directories, by bus name.
 *
 * Precedence, as dbus-daemon: directories are read in the order given (the
 * order of <servicedir>, <standard_session_servicedirs/> and
 * <standard_system_servicedirs/> in the configuration, see policy/config.h);
 * the first file that provides a name wins, later files for the same name
 * are skipped with a log line. Inside one directory dbus-daemon takes
 * whichever file readdir() returns first; we read the files sorted by name
 * (strcmp), so the winner is the same on every scan. Only files whose name
 * ends in ".service" are read; a missing directory is no error.
 *
 * Validation: invalid files (service.h) are skipped with a warning. In a
 * directory flagged BUS_CONFIG_SERVICEDIR_STRICT_NAMING (the runtime
 * directory of the session bus), a file must be named "<Name>.service" or
 * is skipped with a warning; that directory (and its parent) is created,
 * mode 0700, when the registry gets it, as dbus-daemon does. With
 * SERVICEDIR_REGISTRY_SYSTEM (a bus with a
 * <servicehelper>, i.e. the system bus) a misnamed file is loaded with a
 * warning, but it cannot be started by direct execution (the activation
 * code refuses it, as dbus-daemon's launch helper does; systemd activation
 * still works).
 *
 * The registry changes only in servicedir_registry_rescan() (also called
 * by servicedir_registry_lookup() and by the inotify handler), which
 * computes the set of names that appeared, disappeared or changed, for
 * ActivatableServicesChanged.
 *
 * Not thread-safe; one event loop owns it.
 */

#include <stdbool.h>
#include <stddef.h>
#include "dbus-proxy/loop.h"

#include "policy/config.h"
#include "util/rbtree.h"

struct service;

enum {
        /* no service file provides the name */
        SERVICEDIR_E_UNKNOWN = 1,
};

enum servicedir_registry_flags {
        /* system-bus naming rules (see above) */
        SERVICEDIR_REGISTRY_SYSTEM = 1u << 0,
};

enum servicedir_change_kind {
        SERVICEDIR_CHANGE_ADDED,
        SERVICEDIR_CHANGE_REMOVED,
        SERVICEDIR_CHANGE_MODIFIED,     /* other file or other content */
};

struct servicedir_change {
        char *name;
        unsigned int kind;              /* enum servicedir_change_kind */
};

/* The result of a rescan: changes sorted by name. */
struct servicedir_changes {
        struct servicedir_change *changes;
        size_t n_changes;
};

struct servicedir_registry;

/**
 * servicedir_changed_fn - called after an inotify-triggered rescan changed
 * the registry
 * @userdata: as registered
 * @changes: what changed (not empty); valid during the call only
 */
typedef void (*servicedir_changed_fn)(void *userdata, const struct servicedir_changes *changes);

/** servicedir_changes_deinit() - free the contents of @changes and empty it. */
void servicedir_changes_deinit(struct servicedir_changes *changes);

/**
 * servicedir_registry_new() - create an empty registry for a directory list
 * @registryp: output, written only on success
 * @dirs: the directories, in precedence order (copied)
 * @n_dirs: their number
 * @flags: enum servicedir_registry_flags
 *
 * Nothing is read until servicedir_registry_rescan().
 *
 * Return: 0; -ENOMEM.
 */
int servicedir_registry_new(struct servicedir_registry **registryp,
                            const struct bus_config_servicedir *dirs, size_t n_dirs,
                            unsigned int flags);

/** servicedir_registry_free() - free @registry (may be NULL). Return: NULL. */
struct servicedir_registry *servicedir_registry_free(struct servicedir_registry *registry);

/**
 * servicedir_registry_set_dirs() - replace the directory list (on reload)
 * @registry: the registry
 * @dirs: the new list (copied)
 * @n_dirs: its length
 *
 * The entries stay until the next rescan; inotify watches (if enabled) are
 * moved to the new directories.
 *
 * Return: 0; -ENOMEM; a negative errno from inotify.
 */
int servicedir_registry_set_dirs(struct servicedir_registry *registry,
                                 const struct bus_config_servicedir *dirs, size_t n_dirs);

/**
 * servicedir_registry_rescan() - read all directories again
 * @registry: the registry
 * @changes: if not NULL, receives the changes (the caller deinits it);
 *           written only on success
 *
 * Return: 0; -ENOMEM (the registry is unchanged then).
 */
int servicedir_registry_rescan(struct servicedir_registry *registry,
                               struct servicedir_changes *changes);

/**
 * servicedir_registry_find() - the entry for @name, without disk access
 * Return: the service (borrowed: valid until the next rescan unless
 * service_ref()'d), or NULL.
 */
struct service *servicedir_registry_find(struct servicedir_registry *registry, const char *name);

/**
 * servicedir_registry_lookup() - the entry for @name, as dbus-daemon finds it
 * @registry: the registry
 * @name: a bus name
 * @servicep: output (borrowed as for find), written only on success
 * @changes: if not NULL, receives the changes of a rescan this caused
 *           (empty if none); the caller deinits it
 *
 * Like dbus-daemon: if @name is not known, all directories are rescanned
 * (a file may have been added to a directory that is not watched); if it is
 * known but its file changed or disappeared (compared by device, inode,
 * size and modification time), the directories are rescanned too.
 *
 * Return: 0; SERVICEDIR_E_UNKNOWN if no file provides @name; -ENOMEM.
 */
int servicedir_registry_lookup(struct servicedir_registry *registry, const char *name,
                               struct service **servicep, struct servicedir_changes *changes);

/** servicedir_registry_count() - number of entries. */
size_t servicedir_registry_count(struct servicedir_registry *registry);

/**
 * servicedir_registry_list_names() - the names of all entries, sorted
 * @registry: the registry
 * @namesp: output: malloc'd array of borrowed strings (valid until the
 *          next rescan), followed by NULL; free only the array
 * @n_namesp: output: number of names (may be NULL)
 *
 * Return: 0; -ENOMEM.
 */
int servicedir_registry_list_names(struct servicedir_registry *registry,
                                   const char ***namesp, size_t *n_namesp);

/**
 * servicedir_registry_watch() - rescan when a watched directory changes
 * @registry: the registry
 * @event: the event loop
 * @fn: called after each rescan that changed something; may be NULL
 * @userdata: passed to @fn
 *
 * Watches (inotify) every existing directory not flagged
 * BUS_CONFIG_SERVICEDIR_NO_WATCH for files created, written, deleted,
 * moved or changed in attributes. A directory created later is not
 * watched (as in dbus-daemon); lookups still find its files.
 *
 * Return: 0; -EBUSY if already watching; a negative errno from inotify or
 * the loop.
 */
int servicedir_registry_watch(struct servicedir_registry *registry, struct loop *loop,
                              servicedir_changed_fn fn, void *userdata);
