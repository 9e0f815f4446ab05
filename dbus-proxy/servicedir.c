/*
 * Service directories and the registry of activatable names (servicedir.h).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dbus-proxy/service.h"
#include "dbus-proxy/servicedir.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/log.h"

DEFINE_CLEANUP_FUNC(DIR *, closedir);

struct servicedir {
        char *path;
        unsigned int flags;     /* BUS_CONFIG_SERVICEDIR_* */
        int wd;                 /* inotify watch, -1 if none */
};

struct servicedir_entry {
        struct rb_node rb;      /* in servicedir_registry.entries, by name */
        struct service *service;
};

struct servicedir_registry {
        unsigned int flags;
        struct servicedir *dirs;
        size_t n_dirs;
        struct rb_root entries;
        size_t n_entries;
        int inotify_fd;         /* -1 unless watching */
        struct loop_source *inotify_source;
        servicedir_changed_fn changed_fn;
        void *changed_userdata;
};

static int entry_cmp(const void *key, const struct rb_node *node)
{
        return strcmp(key, rb_entry(node, struct servicedir_entry, rb)->service->name);
}

static void entries_free(struct rb_root *root)
{
        struct rb_node *n, *t;

        rb_for_each_safe(n, t, root) {
                struct servicedir_entry *e = rb_entry(n, struct servicedir_entry, rb);

                rb_remove(root, n);
                service_unref(e->service);
                free(e);
        }
}

void servicedir_changes_deinit(struct servicedir_changes *changes)
{
        size_t i;

        for (i = 0; i < changes->n_changes; ++i)
                free(changes->changes[i].name);
        free(changes->changes);
        changes->changes = NULL;
        changes->n_changes = 0;
}

static void dirs_free(struct servicedir *dirs, size_t n)
{
        size_t i;

        for (i = 0; i < n; ++i)
                free(dirs[i].path);
        free(dirs);
}

/*
 * The transient (runtime) service directory, the one with strict naming: as
 * dbus-daemon, create it (and its parent "dbus-1") if missing, so clients
 * can drop service files there once the bus runs. Failures only mean the
 * directory stays missing.
 */
static void dir_ensure_transient(const char *path)
{
        _cleanup_free_ char *parent = strdup(path);
        char *slash = parent ? strrchr(parent, '/') : NULL;

        if (slash && slash != parent) {
                *slash = 0;
                if (mkdir(parent, 0700) < 0 && errno != EEXIST)
                        log_debug("cannot create %s: %m", parent);
        }
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
                log_debug("cannot create transient service directory %s: %m", path);
}

static int dirs_copy(struct servicedir **outp, const struct bus_config_servicedir *dirs, size_t n)
{
        struct servicedir *d = calloc(n ? n : 1, sizeof(*d));
        size_t i;

        if (!d)
                return error_origin(-ENOMEM);
        for (i = 0; i < n; ++i) {
                d[i].wd = -1;
                d[i].flags = dirs[i].flags;
                d[i].path = strdup(dirs[i].path);
                if (!d[i].path) {
                        dirs_free(d, i);
                        return error_origin(-ENOMEM);
                }
                if (d[i].flags & BUS_CONFIG_SERVICEDIR_STRICT_NAMING)
                        dir_ensure_transient(d[i].path);
        }
        *outp = d;
        return 0;
}

int servicedir_registry_new(struct servicedir_registry **registryp,
                            const struct bus_config_servicedir *dirs, size_t n_dirs,
                            unsigned int flags)
{
        struct servicedir_registry *r;
        int ret;

        r = calloc(1, sizeof(*r));
        if (!r)
                return error_origin(-ENOMEM);
        r->flags = flags;
        r->inotify_fd = -1;
        rb_root_init(&r->entries);
        ret = dirs_copy(&r->dirs, dirs, n_dirs);
        if (ret < 0) {
                free(r);
                return error_trace(ret);
        }
        r->n_dirs = n_dirs;
        *registryp = r;
        return 0;
}

struct servicedir_registry *servicedir_registry_free(struct servicedir_registry *registry)
{
        if (!registry)
                return NULL;
        loop_source_free(registry->inotify_source);
        if (registry->inotify_fd >= 0)
                close(registry->inotify_fd);
        entries_free(&registry->entries);
        dirs_free(registry->dirs, registry->n_dirs);
        free(registry);
        return NULL;
}

static int name_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_free(char **names, size_t n)
{
        size_t i;

        for (i = 0; i < n; ++i)
                free(names[i]);
        free(names);
}

/* the ".service" files of an open directory, sorted */
static int dir_read_names(DIR *d, char ***namesp, size_t *np)
{
        char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;

        for (;;) {
                size_t l;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno == ENOMEM) {
                                names_free(names, n);
                                return error_origin(-ENOMEM);
                        }
                        break; /* end, or an I/O error: use what we have */
                }
                l = strlen(de->d_name);
                if (l < 8 || strcmp(de->d_name + l - 8, ".service"))
                        continue;
                if (n == cap) {
                        char **t = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof(*names));

                        if (!t) {
                                names_free(names, n);
                                return error_origin(-ENOMEM);
                        }
                        names = t;
                }
                names[n] = strdup(de->d_name);
                if (!names[n]) {
                        names_free(names, n);
                        return error_origin(-ENOMEM);
                }
                ++n;
        }
        if (n)
                qsort(names, n, sizeof(*names), name_cmp);
        *namesp = names;
        *np = n;
        return 0;
}

static int scan_dir(struct servicedir_registry *reg, const struct servicedir *dir,
                    struct rb_root *into, size_t *n_into)
{
        _cleanup_(closedirp) DIR *d = NULL;
        char **names = NULL;
        size_t n = 0, i;
        int r = 0;

        d = opendir(dir->path);
        if (!d) {
                if (errno == ENOMEM)
                        return error_origin(-ENOMEM);
                log_debug("cannot open service directory %s: %m", dir->path);
                return 0;
        }
        r = dir_read_names(d, &names, &n);
        if (r < 0)
                return error_trace(r);

        for (i = 0; i < n; ++i) {
                _cleanup_free_ char *path = NULL, *err = NULL;
                struct service *s = NULL;
                struct servicedir_entry *e;
                struct rb_node *old;

                if (asprintf(&path, "%s/%s", dir->path, names[i]) < 0) {
                        r = error_origin(-ENOMEM);
                        break;
                }
                r = service_load(&s, dirfd(d), names[i], path, &err);
                if (r < 0)
                        break;
                if (r) {
                        log_warn("ignoring invalid service file %s: %s", path, err ? err : "invalid");
                        r = 0;
                        continue;
                }
                if (!service_filename_matches(s)) {
                        if (dir->flags & BUS_CONFIG_SERVICEDIR_STRICT_NAMING) {
                                log_warn("service file %s should have been named %s.service: not loading it",
                                         path, s->name);
                                service_unref(s);
                                continue;
                        }
                        if (reg->flags & SERVICEDIR_REGISTRY_SYSTEM)
                                log_warn("service file %s should have been named %s.service and will not work with direct system bus activation",
                                         path, s->name);
                }
                e = calloc(1, sizeof(*e));
                if (!e) {
                        service_unref(s);
                        r = error_origin(-ENOMEM);
                        break;
                }
                e->service = s;
                rb_node_init(&e->rb);
                old = rb_insert(into, &e->rb, s->name, entry_cmp);
                if (old) {
                        log_info("ignoring service file %s: name %s is already provided by %s",
                                 path, s->name,
                                 rb_entry(old, struct servicedir_entry, rb)->service->path);
                        service_unref(s);
                        free(e);
                        continue;
                }
                ++*n_into;
        }
        names_free(names, n);
        return r;
}

static int changes_add(struct servicedir_changes *c, size_t *cap, const char *name, unsigned int kind)
{
        if (c->n_changes == *cap) {
                struct servicedir_change *t;

                t = realloc(c->changes, (*cap = *cap ? 2 * *cap : 8) * sizeof(*t));
                if (!t)
                        return error_origin(-ENOMEM);
                c->changes = t;
        }
        c->changes[c->n_changes].name = strdup(name);
        if (!c->changes[c->n_changes].name)
                return error_origin(-ENOMEM);
        c->changes[c->n_changes++].kind = kind;
        return 0;
}

/* the differences between two sorted trees */
static int diff(const struct rb_root *old, const struct rb_root *new, struct servicedir_changes *c)
{
        struct rb_node *a = rb_first(old), *b = rb_first(new);
        size_t cap = 0;
        int r = 0;

        while (!r && (a || b)) {
                struct service *sa = a ? rb_entry(a, struct servicedir_entry, rb)->service : NULL;
                struct service *sb = b ? rb_entry(b, struct servicedir_entry, rb)->service : NULL;
                int cmp = !sa ? 1 : !sb ? -1 : strcmp(sa->name, sb->name);

                if (cmp < 0) {
                        r = changes_add(c, &cap, sa->name, SERVICEDIR_CHANGE_REMOVED);
                        a = rb_next(a);
                } else if (cmp > 0) {
                        r = changes_add(c, &cap, sb->name, SERVICEDIR_CHANGE_ADDED);
                        b = rb_next(b);
                } else {
                        if (!service_equal(sa, sb))
                                r = changes_add(c, &cap, sa->name, SERVICEDIR_CHANGE_MODIFIED);
                        a = rb_next(a);
                        b = rb_next(b);
                }
        }
        return r;
}

int servicedir_registry_rescan(struct servicedir_registry *registry,
                               struct servicedir_changes *changes)
{
        struct rb_root fresh = RB_ROOT_INIT;
        struct servicedir_changes c = {};
        size_t n = 0, i;
        int r = 0;

        for (i = 0; i < registry->n_dirs && !r; ++i)
                r = scan_dir(registry, &registry->dirs[i], &fresh, &n);
        if (!r && changes)
                r = diff(&registry->entries, &fresh, &c);
        if (r < 0) {
                entries_free(&fresh);
                servicedir_changes_deinit(&c);
                return error_trace(r);
        }
        entries_free(&registry->entries);
        registry->entries = fresh;
        registry->n_entries = n;
        if (changes)
                *changes = c;
        return 0;
}

struct service *servicedir_registry_find(struct servicedir_registry *registry, const char *name)
{
        struct rb_node *n = rb_find(&registry->entries, name, entry_cmp);

        return n ? rb_entry(n, struct servicedir_entry, rb)->service : NULL;
}

static bool service_file_unchanged(const struct service *s)
{
        struct stat st;

        if (!s->path)
                return true;
        if (stat(s->path, &st) < 0)
                return false;
        return st.st_dev == s->dev && st.st_ino == s->ino && st.st_size == s->size &&
               (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec == s->mtime_nsec;
}

int servicedir_registry_lookup(struct servicedir_registry *registry, const char *name,
                               struct service **servicep, struct servicedir_changes *changes)
{
        struct servicedir_changes c = {};
        struct service *s;
        int r;

        s = servicedir_registry_find(registry, name);
        if (!s || !service_file_unchanged(s)) {
                r = servicedir_registry_rescan(registry, changes ? &c : NULL);
                if (r < 0)
                        return error_trace(r);
                s = servicedir_registry_find(registry, name);
        }
        if (changes)
                *changes = c;
        if (!s)
                return SERVICEDIR_E_UNKNOWN;
        *servicep = s;
        return 0;
}

size_t servicedir_registry_count(struct servicedir_registry *registry)
{
        return registry->n_entries;
}

int servicedir_registry_list_names(struct servicedir_registry *registry,
                                   const char ***namesp, size_t *n_namesp)
{
        const char **names;
        struct rb_node *n;
        size_t i = 0;

        names = malloc((registry->n_entries + 1) * sizeof(*names));
        if (!names)
                return error_origin(-ENOMEM);
        rb_for_each(n, &registry->entries)
                names[i++] = rb_entry(n, struct servicedir_entry, rb)->service->name;
        names[i] = NULL;
        *namesp = names;
        if (n_namesp)
                *n_namesp = i;
        return 0;
}

#define WATCH_MASK (IN_CREATE | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
                    IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

static int registry_add_watches(struct servicedir_registry *registry)
{
        size_t i;

        for (i = 0; i < registry->n_dirs; ++i) {
                struct servicedir *d = &registry->dirs[i];

                d->wd = -1;
                if (d->flags & BUS_CONFIG_SERVICEDIR_NO_WATCH)
                        continue;
                d->wd = inotify_add_watch(registry->inotify_fd, d->path, WATCH_MASK);
                if (d->wd < 0) {
                        if (errno == ENOMEM)
                                return error_origin(-ENOMEM);
                        /* missing or unreadable: not watched, like dbus-daemon */
                        log_debug("cannot watch service directory %s: %m", d->path);
                }
        }
        return 0;
}

int servicedir_registry_set_dirs(struct servicedir_registry *registry,
                                 const struct bus_config_servicedir *dirs, size_t n_dirs)
{
        struct servicedir *d = NULL;
        size_t i;
        int r;

        r = dirs_copy(&d, dirs, n_dirs);
        if (r < 0)
                return error_trace(r);
        if (registry->inotify_fd >= 0)
                for (i = 0; i < registry->n_dirs; ++i)
                        if (registry->dirs[i].wd >= 0)
                                inotify_rm_watch(registry->inotify_fd, registry->dirs[i].wd);
        dirs_free(registry->dirs, registry->n_dirs);
        registry->dirs = d;
        registry->n_dirs = n_dirs;
        if (registry->inotify_fd >= 0)
                return error_trace(registry_add_watches(registry));
        return 0;
}

static int registry_on_inotify(struct loop_source *source, int fd, uint32_t revents, void *userdata)
{
        struct servicedir_registry *registry = userdata;
        struct servicedir_changes c = {};
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        int r;

        (void)source;
        (void)revents;
        for (;;) {
                ssize_t l = read(fd, buf, sizeof(buf));

                if (l > 0)
                        continue;
                if (l < 0 && errno == EINTR)
                        continue;
                break; /* EAGAIN: drained */
        }
        r = servicedir_registry_rescan(registry, &c);
        if (r < 0) {
                error_trace_log("cannot rescan service directories");
                return 0;
        }
        if (c.n_changes && registry->changed_fn)
                registry->changed_fn(registry->changed_userdata, &c);
        servicedir_changes_deinit(&c);
        return 0;
}

int servicedir_registry_watch(struct servicedir_registry *registry, struct loop *loop,
                              servicedir_changed_fn fn, void *userdata)
{
        int r;

        if (registry->inotify_fd >= 0)
                return -EBUSY;
        registry->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (registry->inotify_fd < 0)
                return error_origin(-errno);
        r = registry_add_watches(registry);
        if (r >= 0)
                r = loop_add_io(loop, &registry->inotify_source, registry->inotify_fd, EPOLLIN,
                                registry_on_inotify, registry);
        if (r < 0) {
                close(registry->inotify_fd);
                registry->inotify_fd = -1;
                return error_origin(r);
        }
        registry->changed_fn = fn;
        registry->changed_userdata = userdata;
        return 0;
}
