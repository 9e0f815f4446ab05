/*
 * D-Bus service files (see service.h for the syntax).
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dbus-proxy/service.h"
#include "dbus-proxy/syntax.h"
#include "dbus-proxy/validate.h"
#include "util/cleanup.h"
#include "util/error.h"

#define SERVICE_GROUP "D-BUS Service"

struct parser {
        const char *data;
        size_t n_data;
        size_t pos;
        unsigned int line;
        bool in_group;          /* any group opened */
        bool in_service;        /* current group is the first [D-BUS Service] */
        bool seen_service;      /* [D-BUS Service] was opened before */
        char *name, *exec, *user, *systemd_service, *apparmor_label;
        char **errorp;
};

static int parser_error(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int parser_error(struct parser *p, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        if (!p->errorp)
                return SERVICE_E_INVALID;
        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                return error_origin(-ENOMEM);
        if (p->line) {
                if (asprintf(p->errorp, "line %u: %s", p->line, msg) < 0)
                        return error_origin(-ENOMEM);
        } else {
                *p->errorp = steal_ptr(msg);
        }
        return SERVICE_E_INVALID;
}

static bool is_key_char(unsigned char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* unescape data[start, end) into a new string */
static int parser_unescape(struct parser *p, size_t start, size_t end, char **outp)
{
        _cleanup_free_ char *s = malloc(end - start + 1);
        char *q = s;
        size_t i;

        if (!s)
                return error_origin(-ENOMEM);
        for (i = start; i < end; ++i) {
                char c = p->data[i];

                if (c != '\\') {
                        *q++ = c;
                        continue;
                }
                if (++i >= end)
                        return parser_error(p, "value ends in a backslash");
                switch (p->data[i]) {
                case 's': *q++ = ' '; break;
                case 't': *q++ = '\t'; break;
                case 'n': *q++ = '\n'; break;
                case 'r': *q++ = '\r'; break;
                case '\\': *q++ = '\\'; break;
                default:
                        return parser_error(p, "invalid escape sequence \"\\%c\"", p->data[i]);
                }
        }
        *q = 0;
        *outp = steal_ptr(s);
        return 0;
}

static int parser_group(struct parser *p, size_t end)
{
        size_t i;

        if (end - p->pos <= 2 || p->data[end - 1] != ']')
                return parser_error(p, "invalid group header");
        for (i = p->pos + 1; i < end - 1; ++i) {
                unsigned char c = p->data[i];

                if (c < 0x20 || c >= 0x7f || c == '[' || c == ']')
                        return parser_error(p, "invalid character in group name");
        }
        p->in_group = true;
        p->in_service = false;
        if (end - p->pos - 2 == strlen(SERVICE_GROUP) &&
            !memcmp(p->data + p->pos + 1, SERVICE_GROUP, strlen(SERVICE_GROUP))) {
                /* a repeated group: the first one counts (dbus-daemon
                 * looks keys up in the first group of that name) */
                p->in_service = !p->seen_service;
                p->seen_service = true;
        }
        return 0;
}

static char **parser_slot(struct parser *p, const char *key, size_t n_key)
{
        static const struct {
                const char *key;
                size_t offset;
        } keys[] = {
                { "Name", offsetof(struct parser, name) },
                { "Exec", offsetof(struct parser, exec) },
                { "User", offsetof(struct parser, user) },
                { "SystemdService", offsetof(struct parser, systemd_service) },
                { "AssumedAppArmorLabel", offsetof(struct parser, apparmor_label) },
        };
        size_t i;

        for (i = 0; i < sizeof(keys) / sizeof(*keys); ++i)
                if (strlen(keys[i].key) == n_key && !memcmp(keys[i].key, key, n_key))
                        return (char **)(void *)((char *)p + keys[i].offset);
        return NULL;
}

static int parser_key(struct parser *p, size_t end)
{
        size_t i = p->pos, key_end;
        char **slot;
        char *value = NULL;
        int r;

        while (i < end && is_key_char((unsigned char)p->data[i]))
                ++i;
        key_end = i;
        if (key_end == p->pos)
                return parser_error(p, "empty key name");
        if (i < end && p->data[i] == '[')
                return 0; /* localized key: ignored, as dbus-daemon does */
        while (i < end && p->data[i] == ' ')
                ++i;
        if (i == end)
                return parser_error(p, "no '=' in key/value pair");
        if (p->data[i] != '=')
                return parser_error(p, "invalid character in key name");
        ++i;
        while (i < end && p->data[i] == ' ')
                ++i;

        /* every value is checked, also of keys and groups we ignore */
        r = parser_unescape(p, i, end, &value);
        if (r)
                return r;
        if (!p->in_group) {
                free(value);
                return parser_error(p, "key/value pair before the first group");
        }
        slot = p->in_service ? parser_slot(p, p->data + p->pos, key_end - p->pos) : NULL;
        if (slot && !*slot)
                *slot = value;
        else
                free(value);
        return 0;
}

static void parser_deinit(struct parser *p)
{
        free(p->name);
        free(p->exec);
        free(p->user);
        free(p->systemd_service);
        free(p->apparmor_label);
}

int service_parse(struct service **servicep, const char *data, size_t n_data,
                  const char *path, char **errorp)
{
        struct parser p = { .data = data, .n_data = n_data, .line = 0, .errorp = errorp };
        struct service *s;
        const char *slash;
        int r = 0;

        if (n_data > SERVICE_FILE_MAX) {
                r = parser_error(&p, "file is too large (%zu bytes)", n_data);
                goto out;
        }
        if (!validate_utf8(data, n_data)) {
                r = parser_error(&p, "not valid UTF-8 (or contains a NUL byte)");
                goto out;
        }

        while (p.pos < n_data) {
                size_t end = p.pos, next;
                bool blank = true;

                while (end < n_data && data[end] != '\n' && data[end] != '\r')
                        ++end;
                next = end;
                if (next < n_data)
                        next += (data[next] == '\r' && next + 1 < n_data && data[next + 1] == '\n') ? 2 : 1;
                ++p.line;

                for (size_t i = p.pos; i < end; ++i)
                        if (data[i] != ' ' && data[i] != '\t' && data[i] != '\f')
                                blank = false;

                if (data[p.pos] == '[')
                        r = parser_group(&p, end);
                else if (!blank && data[p.pos] != '#')
                        r = parser_key(&p, end);
                if (r)
                        goto out;
                p.pos = next;
        }
        p.line = 0;

        if (!p.seen_service) {
                r = parser_error(&p, "no [" SERVICE_GROUP "] group");
                goto out;
        }
        if (!p.name) {
                r = parser_error(&p, "no \"Name\" key in [" SERVICE_GROUP "]");
                goto out;
        }
        if (!p.exec) {
                r = parser_error(&p, "no \"Exec\" key in [" SERVICE_GROUP "]");
                goto out;
        }
        if (!syntax_is_bus_name(p.name) || p.name[0] == ':') {
                r = parser_error(&p, "\"%s\" is not a valid well-known bus name", p.name);
                goto out;
        }

        s = calloc(1, sizeof(*s));
        if (!s) {
                r = error_origin(-ENOMEM);
                goto out;
        }
        s->n_refs = 1;
        if (path) {
                s->path = strdup(path);
                if (!s->path) {
                        free(s);
                        r = error_origin(-ENOMEM);
                        goto out;
                }
                slash = strrchr(s->path, '/');
                s->filename = slash ? slash + 1 : s->path;
        }
        s->name = steal_ptr(p.name);
        s->exec = steal_ptr(p.exec);
        s->user = steal_ptr(p.user);
        s->systemd_service = steal_ptr(p.systemd_service);
        s->apparmor_label = steal_ptr(p.apparmor_label);
        *servicep = s;
out:
        parser_deinit(&p);
        return r;
}

int service_load(struct service **servicep, int dirfd, const char *name,
                 const char *path, char **errorp)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        struct service *s = NULL;
        struct stat st;
        size_t n = 0;
        int r;

        fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0 || fstat(fd, &st) < 0) {
                if (errno == ENOMEM)
                        return error_origin(-ENOMEM);
                if (errorp && asprintf(errorp, "cannot open: %s", strerror(errno)) < 0)
                        return error_origin(-ENOMEM);
                return SERVICE_E_INVALID;
        }
        if (!S_ISREG(st.st_mode)) {
                if (errorp && !(*errorp = strdup("not a regular file")))
                        return error_origin(-ENOMEM);
                return SERVICE_E_INVALID;
        }
        if (st.st_size > SERVICE_FILE_MAX) {
                if (errorp && asprintf(errorp, "file is too large (%lld bytes)", (long long)st.st_size) < 0)
                        return error_origin(-ENOMEM);
                return SERVICE_E_INVALID;
        }
        /* one byte more than allowed, to notice a file that grew */
        buf = malloc(SERVICE_FILE_MAX + 1);
        if (!buf)
                return error_origin(-ENOMEM);
        for (;;) {
                ssize_t l = read(fd, buf + n, SERVICE_FILE_MAX + 1 - n);

                if (l < 0 && errno == EINTR)
                        continue;
                if (l < 0) {
                        if (errorp && asprintf(errorp, "cannot read: %s", strerror(errno)) < 0)
                                return error_origin(-ENOMEM);
                        return SERVICE_E_INVALID;
                }
                if (l == 0 || (n += (size_t)l) > SERVICE_FILE_MAX)
                        break;
        }

        r = service_parse(&s, buf, n, path, errorp);
        if (r)
                return error_trace(r);
        s->dev = st.st_dev;
        s->ino = st.st_ino;
        s->size = st.st_size;
        s->mtime_nsec = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        *servicep = s;
        return 0;
}

struct service *service_ref(struct service *service)
{
        if (service)
                ++service->n_refs;
        return service;
}

struct service *service_unref(struct service *service)
{
        if (!service || --service->n_refs > 0)
                return NULL;
        free(service->name);
        free(service->exec);
        free(service->user);
        free(service->systemd_service);
        free(service->apparmor_label);
        free(service->path);
        free(service);
        return NULL;
}

static bool str_eq(const char *a, const char *b)
{
        return a == b || (a && b && !strcmp(a, b));
}

bool service_equal(const struct service *a, const struct service *b)
{
        return str_eq(a->name, b->name) && str_eq(a->exec, b->exec) && str_eq(a->user, b->user) &&
               str_eq(a->systemd_service, b->systemd_service) &&
               str_eq(a->apparmor_label, b->apparmor_label) && str_eq(a->path, b->path);
}

bool service_filename_matches(const struct service *service)
{
        size_t n;

        if (!service->filename)
                return false;
        n = strlen(service->name);
        return !strncmp(service->filename, service->name, n) && !strcmp(service->filename + n, ".service");
}
