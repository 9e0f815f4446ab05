/*
 * Listening sockets of the bus (see listener.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "dbus-proxy/listener.h"
#include "util/error.h"

/* How often tmpdir=/dir= try a new random name when one is taken. */
#define LISTENER_RANDOM_TRIES 32

static int listener_alloc(struct listener **out)
{
        struct listener *l = calloc(1, sizeof(*l));
        int r;

        if (!l)
                return error_origin(-ENOMEM);
        l->fd = -1;
        r = guid_generate(l->guid);
        if (r < 0) {
                free(l);
                return r;
        }
        *out = l;
        return 0;
}

struct listener *listener_free(struct listener *listener)
{
        if (!listener)
                return NULL;
        if (listener->fd >= 0)
                close(listener->fd);
        if (listener->unlink_path)
                unlink(listener->unlink_path);
        free(listener->unlink_path);
        free(listener->address);
        free(listener);
        return NULL;
}

/* "unix:<key>=<escaped name>,guid=<guid>" */
static int listener_format(struct listener *l, const char *key, const char *name)
{
        char *escaped = NULL;
        int r;

        r = address_escape(&escaped, name);
        if (r < 0)
                return r;
        r = asprintf(&l->address, "unix:%s=%s,guid=%s", key, escaped, l->guid);
        free(escaped);
        if (r < 0) {
                l->address = NULL;
                return error_origin(-ENOMEM);
        }
        return 0;
}

/*
 * Bind and listen on @name (a path, or an abstract name without its leading
 * NUL). Returns the socket or a negative errno.
 */
static int listener_bind(const char *name, bool abstract)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t n = strlen(name);
        socklen_t len;
        int fd;

        if (n > ADDRESS_UNIX_NAME_MAX)
                return error_origin(-ENAMETOOLONG);
        if (abstract) {
                memcpy(sa.sun_path + 1, name, n);
                len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
        } else {
                memcpy(sa.sun_path, name, n);
                len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        }

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return error_origin(-errno);
        if (bind(fd, (struct sockaddr *)&sa, len) < 0) {
                int r = error_origin(-errno);

                close(fd);
                return r;
        }
        /*
         * Anyone may connect, whatever the umask: access is decided by the
         * bus (SASL, policy), as with dbus-daemon, whose sockets are 0777.
         */
        if ((!abstract && chmod(name, 0777) < 0) || listen(fd, SOMAXCONN) < 0) {
                int r = error_origin(-errno);

                if (!abstract)
                        unlink(name);
                close(fd);
                return r;
        }
        return fd;
}

/* Remove a stale socket file at @path; other kinds of files are left alone. */
static void listener_unlink_stale(const char *path)
{
        struct stat st;

        if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
                unlink(path);
}

static int listener_listen_path(struct listener *l, const char *path, bool unlink_stale)
{
        int fd;

        if (unlink_stale)
                listener_unlink_stale(path);
        fd = listener_bind(path, false);
        if (fd < 0)
                return fd;
        l->fd = fd;
        l->unlink_path = strdup(path);
        if (!l->unlink_path)
                return error_origin(-ENOMEM);
        return listener_format(l, "path", path);
}

static int listener_listen_random(struct listener *l, const char *dir)
{
        static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        char path[ADDRESS_UNIX_NAME_MAX + 1];
        unsigned char rnd[10];
        int r = -EADDRINUSE;

        if (strlen(dir) + ADDRESS_RANDOM_NAME_LEN > ADDRESS_UNIX_NAME_MAX)
                return error_origin(-ENAMETOOLONG);

        for (int tries = 0; tries < LISTENER_RANDOM_TRIES && r == -EADDRINUSE; ++tries) {
                size_t n;

                if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
                        return error_origin(errno ? -errno : -EIO);
                n = (size_t)snprintf(path, sizeof(path), "%s/dbus-", dir);
                for (size_t i = 0; i < sizeof(rnd); ++i)
                        path[n + i] = chars[rnd[i] % (sizeof(chars) - 1)];
                path[n + sizeof(rnd)] = 0;
                r = listener_listen_path(l, path, false);
        }
        return r;
}

static int listener_listen_one(struct listener **out, const struct address *a)
{
        struct listener *l = NULL;
        char *runtime = NULL;
        const char *xdg;
        int r, fd;

        if (a->kind == ADDRESS_SYSTEMD)
                return LISTENER_E_NOT_ACTIVATED;

        r = listener_alloc(&l);
        if (r < 0)
                return r;

        switch (a->kind) {
        case ADDRESS_UNIX_PATH:
                r = listener_listen_path(l, a->value, true);
                break;
        case ADDRESS_UNIX_TMPDIR:
        case ADDRESS_UNIX_DIR:
                r = listener_listen_random(l, a->value);
                break;
        case ADDRESS_UNIX_RUNTIME:
                xdg = getenv("XDG_RUNTIME_DIR");
                if (!xdg || xdg[0] != '/') {
                        r = LISTENER_E_NO_RUNTIME_DIR;
                        break;
                }
                if (asprintf(&runtime, "%s/bus", xdg) < 0) {
                        runtime = NULL;
                        r = error_origin(-ENOMEM);
                        break;
                }
                r = listener_listen_path(l, runtime, true);
                free(runtime);
                break;
        case ADDRESS_UNIX_ABSTRACT:
                fd = listener_bind(a->value, true);
                if (fd < 0) {
                        r = fd;
                        break;
                }
                l->fd = fd;
                r = listener_format(l, "abstract", a->value);
                break;
        default:
                r = error_origin(-EINVAL);
                break;
        }

        if (r) {
                listener_free(l);
                return r;
        }
        *out = l;
        return 0;
}

int listener_new(struct listener **out, const struct address_list *addresses)
{
        int r = error_origin(-EINVAL);

        for (size_t i = 0; i < addresses->n; ++i) {
                r = listener_listen_one(out, &addresses->entries[i]);
                if (r == 0)
                        return 0;
        }
        return r;
}

int listener_new_from_fd(struct listener **out, int fd)
{
        struct sockaddr_un sa = {};
        socklen_t len = sizeof(sa);
        const size_t base = offsetof(struct sockaddr_un, sun_path);
        struct listener *l = NULL;
        char name[sizeof(sa.sun_path) + 1];
        bool abstract;
        int r, flags;

        r = sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0);
        if (r < 0)
                return r == -EBADF ? LISTENER_E_BAD_FD : error_origin(r);
        if (r == 0)
                return LISTENER_E_BAD_FD;
        if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
                return error_origin(-errno);
        if (len <= base + 1 && (len <= base || sa.sun_path[0] == 0))
                return LISTENER_E_BAD_FD; /* unnamed */
        abstract = sa.sun_path[0] == 0;
        if (abstract) {
                size_t n = len - base - 1;

                memcpy(name, sa.sun_path + 1, n);
                name[n] = 0;
                if (strlen(name) != n)
                        return LISTENER_E_BAD_FD; /* NUL inside the name */
        } else {
                size_t n = strnlen(sa.sun_path, len - base);

                memcpy(name, sa.sun_path, n);
                name[n] = 0;
        }

        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return error_origin(-errno);
        flags = fcntl(fd, F_GETFD);
        if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
                return error_origin(-errno);

        r = listener_alloc(&l);
        if (r < 0)
                return r;
        r = listener_format(l, abstract ? "abstract" : "path", name);
        if (r < 0) {
                listener_free(l);
                return r;
        }
        l->fd = fd;
        *out = l;
        return 0;
}

int listener_accept(struct listener *listener, int *fdp)
{
        int fd = accept4(listener->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
                if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                        return LISTENER_E_AGAIN;
                return error_origin(-errno);
        }
        *fdp = fd;
        return 0;
}

int listener_set_new(struct listener_set **out)
{
        struct listener_set *set = calloc(1, sizeof(*set));

        if (!set)
                return error_origin(-ENOMEM);
        *out = set;
        return 0;
}

struct listener_set *listener_set_free(struct listener_set *set)
{
        if (!set)
                return NULL;
        for (size_t i = 0; i < set->n; ++i)
                listener_free(set->listeners[i]);
        free(set->listeners);
        free(set);
        return NULL;
}

/* Make room for @n more listeners, so adding cannot fail half-way. */
static int listener_set_reserve(struct listener_set *set, size_t n)
{
        struct listener **v = realloc(set->listeners, (set->n + n) * sizeof(*v));

        if (!v)
                return error_origin(-ENOMEM);
        set->listeners = v;
        return 0;
}

int listener_set_add_fds(struct listener_set *set, const int *fds, size_t n)
{
        struct listener **made;
        size_t i;
        int r = 0;

        if (n == 0)
                return error_origin(-EINVAL);
        r = listener_set_reserve(set, n);
        if (r < 0)
                return r;
        made = calloc(n, sizeof(*made));
        if (!made)
                return error_origin(-ENOMEM);
        for (i = 0; i < n; ++i) {
                r = listener_new_from_fd(&made[i], fds[i]);
                if (r)
                        break;
        }
        if (r) {
                /* give every fd back to the caller */
                for (size_t j = 0; j < i; ++j) {
                        if (made[j]) {
                                made[j]->fd = -1;
                                listener_free(made[j]);
                        }
                }
                free(made);
                return r;
        }
        for (i = 0; i < n; ++i)
                set->listeners[set->n++] = made[i];
        free(made);
        return 0;
}

int listener_set_add_systemd(struct listener_set *set)
{
        int *fds, n, r;

        n = sd_listen_fds(1);
        if (n < 0)
                return error_origin(n);
        if (n == 0)
                return LISTENER_E_NOT_ACTIVATED;
        fds = calloc((size_t)n, sizeof(*fds));
        if (!fds)
                return error_origin(-ENOMEM);
        for (int k = 0; k < n; ++k)
                fds[k] = SD_LISTEN_FDS_START + k;
        r = listener_set_add_fds(set, fds, (size_t)n);
        free(fds);
        return error_trace(r);
}

int listener_set_add(struct listener_set *set, const struct address_list *addresses)
{
        struct listener *l;
        int r = error_origin(-EINVAL);

        for (size_t i = 0; i < addresses->n; ++i) {
                const struct address *a = &addresses->entries[i];

                if (a->kind == ADDRESS_SYSTEMD) {
                        r = listener_set_add_systemd(set);
                        if (r == 0)
                                return 0;
                        continue;
                }

                r = listener_set_reserve(set, 1);
                if (r < 0)
                        return r;
                r = listener_listen_one(&l, a);
                if (r == 0) {
                        set->listeners[set->n++] = l;
                        return 0;
                }
        }
        return r;
}

int listener_set_address(const struct listener_set *set, char **out)
{
        size_t n = 1;
        char *s, *p;

        for (size_t i = 0; i < set->n; ++i)
                n += strlen(set->listeners[i]->address) + 1;
        s = malloc(n);
        if (!s)
                return error_origin(-ENOMEM);
        p = s;
        *p = 0;
        /* dbus-daemon prints the last listener first */
        for (size_t i = set->n; i-- > 0;) {
                if (p != s)
                        *p++ = ';';
                p = stpcpy(p, set->listeners[i]->address);
        }
        *out = s;
        return 0;
}
