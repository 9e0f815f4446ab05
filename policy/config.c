/*
 * Busconfig parser: expat callbacks drive a small element-stack machine
 * that validates each element the way dbus-daemon does and records the
 * result in a struct bus_config. Included files are parsed recursively into
 * the same bus_config (so "last one wins" follows document order); a file
 * read through <includedir> that fails is rolled back and skipped.
 *
 * Text content is handed over raw (not trimmed), at the next element
 * boundary, exactly like dbus-daemon's expat loader: "<listen> x</listen>"
 * is the address " x".
 */
#include <dirent.h>
#include <errno.h>
#include <expat.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/config.h"
#include "util/cleanup.h"
#include "util/error.h"

#define CONFIG_MAX_DEPTH 64             /* nested includes */
#define CONFIG_MAX_FILE_SIZE (16u << 20)
#define CONFIG_MAX_ELEMENT_DEPTH 16     /* the format nests 3 deep */

enum element_type {
        ELEMENT_NONE,
        ELEMENT_BUSCONFIG,
        ELEMENT_USER,
        ELEMENT_TYPE,
        ELEMENT_FORK,
        ELEMENT_SYSLOG,
        ELEMENT_KEEP_UMASK,
        ELEMENT_LISTEN,
        ELEMENT_AUTH,
        ELEMENT_POLICY,
        ELEMENT_LIMIT,
        ELEMENT_ALLOW,
        ELEMENT_DENY,
        ELEMENT_PIDFILE,
        ELEMENT_SERVICEDIR,
        ELEMENT_SERVICEHELPER,
        ELEMENT_INCLUDEDIR,
        ELEMENT_INCLUDE,
        ELEMENT_SELINUX,
        ELEMENT_ASSOCIATE,
        ELEMENT_STANDARD_SESSION_SERVICEDIRS,
        ELEMENT_STANDARD_SYSTEM_SERVICEDIRS,
        ELEMENT_ALLOW_ANONYMOUS,
        ELEMENT_APPARMOR,
};

static const char *const element_names[] = {
        [ELEMENT_NONE] = NULL,
        [ELEMENT_BUSCONFIG] = "busconfig",
        [ELEMENT_USER] = "user",
        [ELEMENT_TYPE] = "type",
        [ELEMENT_FORK] = "fork",
        [ELEMENT_SYSLOG] = "syslog",
        [ELEMENT_KEEP_UMASK] = "keep_umask",
        [ELEMENT_LISTEN] = "listen",
        [ELEMENT_AUTH] = "auth",
        [ELEMENT_POLICY] = "policy",
        [ELEMENT_LIMIT] = "limit",
        [ELEMENT_ALLOW] = "allow",
        [ELEMENT_DENY] = "deny",
        [ELEMENT_PIDFILE] = "pidfile",
        [ELEMENT_SERVICEDIR] = "servicedir",
        [ELEMENT_SERVICEHELPER] = "servicehelper",
        [ELEMENT_INCLUDEDIR] = "includedir",
        [ELEMENT_INCLUDE] = "include",
        [ELEMENT_SELINUX] = "selinux",
        [ELEMENT_ASSOCIATE] = "associate",
        [ELEMENT_STANDARD_SESSION_SERVICEDIRS] = "standard_session_servicedirs",
        [ELEMENT_STANDARD_SYSTEM_SERVICEDIRS] = "standard_system_servicedirs",
        [ELEMENT_ALLOW_ANONYMOUS] = "allow_anonymous",
        [ELEMENT_APPARMOR] = "apparmor",
};

struct element {
        unsigned int type;
        bool had_content;
        union {
                struct {
                        bool ignore_missing;
                        bool if_selinux_enabled;
                        bool selinux_root_relative;
                } include;
                struct {
                        bool ignored;
                        uint8_t context;
                        uint32_t id;
                } policy;
                struct {
                        const char *name;
                        long value;
                } limit;
        };
};

struct loader {
        struct bus_config *config;
        unsigned int flags;
        const char *selinux_policy_root;
        char *error;                    /* first fatal error message */
        const char *stack[CONFIG_MAX_DEPTH];    /* canonical paths, borrowed */
        size_t depth;
};

struct file {
        struct loader *loader;
        XML_Parser xml;
        const char *path;
        char *basedir;
        char *content;
        size_t n_content;
        size_t cap_content;
        struct element elements[CONFIG_MAX_ELEMENT_DEPTH];
        size_t n_elements;
        int r;                          /* first failure of this file */
};

/* what an <includedir> file may have changed, to undo it if it fails */
struct config_mark {
        struct bus_config scalars;
        size_t n_listen, n_auth, n_servicedirs, n_conf_dirs, n_associations, n_rules;
};

void bus_config_limits_init_default(struct bus_config_limits *l)
{
        /* dbus-daemon's built-in values (see the comments in system.conf) */
        *l = (struct bus_config_limits){
                .max_incoming_bytes = 127L * 1024 * 1024,
                .max_incoming_unix_fds = 64,
                .max_outgoing_bytes = 127L * 1024 * 1024,
                .max_outgoing_unix_fds = 64,
                .max_message_size = 32L * 1024 * 1024,
                .max_message_unix_fds = 16,
                .service_start_timeout = 25000,
                .auth_timeout = 5000,
                .pending_fd_timeout = 150000,
                .max_completed_connections = 2048,
                .max_incomplete_connections = 64,
                .max_connections_per_user = 256,
                .max_pending_service_starts = 512,
                .max_names_per_connection = 512,
                .max_match_rules_per_connection = 512,
                .max_replies_per_connection = 128,
                .reply_timeout = -1,
                .max_containers = 512,
                .max_containers_per_user = 16,
                .max_container_metadata_bytes = 4096,
                .max_connections_per_container = 8,
        };
}

struct bus_config *bus_config_free(struct bus_config *c)
{
        size_t i;

        if (!c)
                return NULL;
        for (i = 0; i < c->n_strings; ++i)
                free(c->strings[i]);
        free(c->strings);
        free(c->listen);
        free(c->auth);
        free(c->servicedirs);
        free(c->conf_dirs);
        free(c->associations);
        free(c->rules);
        free(c->warnings);
        free(c);
        return NULL;
}

const char *bus_config_find_association(const struct bus_config *c, const char *name)
{
        size_t i;

        for (i = c->n_associations; i > 0; --i)
                if (!strcmp(c->associations[i - 1].name, name))
                        return c->associations[i - 1].context;
        return NULL;
}

static int grow(void **array, size_t *cap, size_t n, size_t size)
{
        size_t new_cap;
        void *p;

        if (n < *cap)
                return 0;
        new_cap = *cap ? *cap * 2 : 8;
        p = realloc(*array, new_cap * size);
        if (!p)
                return error_origin(-ENOMEM);
        *array = p;
        *cap = new_cap;
        return 0;
}

#define GROW(c, field) grow((void **)&(c)->field, &(c)->cap_##field, (c)->n_##field, sizeof(*(c)->field))

/* takes ownership of @s (also on failure) */
static const char *config_own(struct bus_config *c, char *s)
{
        if (!s)
                return NULL;
        if (grow((void **)&c->strings, &c->cap_strings, c->n_strings, sizeof(*c->strings)) < 0) {
                free(s);
                return NULL;
        }
        c->strings[c->n_strings++] = s;
        return s;
}

static const char *config_strndup(struct bus_config *c, const char *s, size_t n)
{
        return config_own(c, strndup(s, n));
}

static const char *config_strdup(struct bus_config *c, const char *s)
{
        return s ? config_own(c, strdup(s)) : NULL;
}

static int config_add_string(struct bus_config *c, const char ***v, size_t *n, size_t *cap, const char *s)
{
        if (!s || grow((void **)v, cap, *n, sizeof(**v)) < 0)
                return -ENOMEM;
        (*v)[(*n)++] = s;
        return 0;
}

static int config_add_warning(struct bus_config *c, char *msg)
{
        const char *s = config_own(c, msg);

        if (!s)
                return -ENOMEM;
        return config_add_string(c, &c->warnings, &c->n_warnings, &c->cap_warnings, s);
}

static int config_add_servicedir(struct bus_config *c, const char *path, unsigned int flags)
{
        size_t i;

        if (!path)
                return -ENOMEM;
        for (i = 0; i < c->n_servicedirs; ++i)
                if (!strcmp(c->servicedirs[i].path, path))
                        return 0;
        if (GROW(c, servicedirs) < 0)
                return -ENOMEM;
        c->servicedirs[c->n_servicedirs++] = (struct bus_config_servicedir){ .path = path, .flags = flags };
        return 0;
}

static void config_mark(const struct bus_config *c, struct config_mark *m)
{
        m->scalars = *c;
        m->n_listen = c->n_listen;
        m->n_auth = c->n_auth;
        m->n_servicedirs = c->n_servicedirs;
        m->n_conf_dirs = c->n_conf_dirs;
        m->n_associations = c->n_associations;
        m->n_rules = c->n_rules;
}

static void config_rollback(struct bus_config *c, const struct config_mark *m)
{
        c->user = m->scalars.user;
        c->type = m->scalars.type;
        c->pidfile = m->scalars.pidfile;
        c->servicehelper = m->scalars.servicehelper;
        c->fork = m->scalars.fork;
        c->syslog = m->scalars.syslog;
        c->keep_umask = m->scalars.keep_umask;
        c->allow_anonymous = m->scalars.allow_anonymous;
        c->apparmor = m->scalars.apparmor;
        c->limits = m->scalars.limits;
        c->n_listen = m->n_listen;
        c->n_auth = m->n_auth;
        c->n_servicedirs = m->n_servicedirs;
        c->n_conf_dirs = m->n_conf_dirs;
        c->n_associations = m->n_associations;
        c->n_rules = m->n_rules;
}

static char *path_dirname(const char *path)
{
        const char *slash = strrchr(path, '/');

        if (!slash)
                return strdup(".");
        if (slash == path)
                return strdup("/");
        return strndup(path, slash - path);
}

static char *path_join(const char *dir, const char *file)
{
        char *s;

        if (file[0] == '/')
                return strdup(file);
        if (asprintf(&s, "%s/%s", dir, file) < 0)
                return NULL;
        return s;
}

/*
 * Errors
 */

__attribute__((format(printf, 5, 0)))
static void loader_vfail(struct loader *l, const char *path, unsigned long line,
                         unsigned long column, const char *fmt, va_list ap)
{
        char *msg = NULL, *full = NULL;

        if (l->error)
                return;
        if (vasprintf(&msg, fmt, ap) < 0)
                return;
        if (line)
                (void)!asprintf(&full, "%s:%lu:%lu: %s", path, line, column, msg);
        else
                (void)!asprintf(&full, "%s: %s", path, msg);
        free(msg);
        l->error = full;
}

static void loader_fail(struct loader *l, const char *path, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void loader_fail(struct loader *l, const char *path, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        loader_vfail(l, path, 0, 0, fmt, ap);
        va_end(ap);
}

/* records the first failure of @f and stops its parser; @r < 0 is an errno */
static void file_fail(struct file *f, int r, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void file_fail(struct file *f, int r, const char *fmt, ...)
{
        va_list ap;

        if (f->r)
                return;
        f->r = error_trace(r);
        if (r > 0 && fmt) {
                va_start(ap, fmt);
                loader_vfail(f->loader, f->path, XML_GetCurrentLineNumber(f->xml),
                             XML_GetCurrentColumnNumber(f->xml) + 1, fmt, ap);
                va_end(ap);
        }
        XML_StopParser(f->xml, XML_FALSE);
}

static int file_warn(struct file *f, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static int file_warn(struct file *f, const char *fmt, ...)
{
        char *msg = NULL, *full = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (!msg)
                return -ENOMEM;
        if (asprintf(&full, "%s:%lu:%lu: %s", f->path, (unsigned long)XML_GetCurrentLineNumber(f->xml),
                     (unsigned long)XML_GetCurrentColumnNumber(f->xml) + 1, msg) < 0)
                full = NULL;
        free(msg);
        if (!full)
                return -ENOMEM;
        return config_add_warning(f->loader->config, full);
}

static int loader_load_file(struct loader *l, struct file *from, const char *path, bool ignore_missing);

/*
 * Attributes
 */

struct attr {
        const char *name;
        const char **value;
};

/* Assigns the known attributes of @atts to @attrs; unknown ones fail. */
static bool file_locate_attributes(struct file *f, const char *element, const char **atts,
                                   const struct attr *attrs, size_t n_attrs)
{
        size_t i, j;

        for (j = 0; j < n_attrs; ++j)
                *attrs[j].value = NULL;

        for (i = 0; atts[i]; i += 2) {
                for (j = 0; j < n_attrs; ++j) {
                        if (!strcmp(attrs[j].name, atts[i])) {
                                /* expat rejects repeated attributes already */
                                *attrs[j].value = atts[i + 1];
                                break;
                        }
                }
                if (j == n_attrs) {
                        file_fail(f, BUS_CONFIG_E_INVALID,
                                  "Attribute \"%s\" is invalid on <%s> element in this context",
                                  atts[i], element);
                        return false;
                }
        }
        return true;
}

static bool file_check_no_attributes(struct file *f, const char *element, const char **atts)
{
        return file_locate_attributes(f, element, atts, NULL, 0);
}

static bool parse_yes_no(struct file *f, const char *attr, const char *value, bool *out)
{
        if (!value)
                return true;
        if (!strcmp(value, "yes"))
                *out = true;
        else if (!strcmp(value, "no"))
                *out = false;
        else {
                file_fail(f, BUS_CONFIG_E_INVALID, "%s attribute must have value \"yes\" or \"no\"", attr);
                return false;
        }
        return true;
}

static bool parse_true_false(struct file *f, const char *attr, const char *value)
{
        if (!value || !strcmp(value, "true") || !strcmp(value, "false"))
                return true;
        file_fail(f, BUS_CONFIG_E_INVALID, "Bad value \"%s\" for %s attribute, must be true or false",
                  value, attr);
        return false;
}

static bool parse_fds(struct file *f, const char *attr, const char *value, uint32_t def, uint32_t *out)
{
        char *end;
        long v;

        *out = def;
        if (!value)
                return true;
        errno = 0;
        v = strtol(value, &end, 0);
        if (errno || end == value || v < 0 || v > (long)POLICY_MAX_FDS) {
                file_fail(f, BUS_CONFIG_E_INVALID,
                          "Bad value \"%s\" for %s attribute, must be an integer in range 0 to %u inclusive",
                          value, attr, POLICY_MAX_FDS);
                return false;
        }
        *out = (uint32_t)v;
        return true;
}

static bool parse_message_type(struct file *f, const char *value, uint8_t *out)
{
        static const char *const types[] = {
                [POLICY_TYPE_METHOD_CALL] = "method_call",
                [POLICY_TYPE_METHOD_RETURN] = "method_return",
                [POLICY_TYPE_ERROR] = "error",
                [POLICY_TYPE_SIGNAL] = "signal",
        };
        uint8_t i;

        *out = POLICY_TYPE_ANY;
        if (!value)
                return true;
        for (i = POLICY_TYPE_METHOD_CALL; i <= POLICY_TYPE_SIGNAL; ++i) {
                if (!strcmp(value, types[i])) {
                        *out = i;
                        return true;
                }
        }
        file_fail(f, BUS_CONFIG_E_INVALID, "Bad message type \"%s\"", value);
        return false;
}

static bool parse_id(const char *s, uint32_t *out)
{
        char *end;
        unsigned long v;

        if (!*s || *s < '0' || *s > '9')
                return false;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || *end || v >= UINT32_MAX)
                return false;
        *out = (uint32_t)v;
        return true;
}

static bool resolve_user(const char *name, uint32_t *uid)
{
        struct passwd *pw;

        /* like dbus-daemon, a numeric id must exist in the user database */
        if (parse_id(name, uid))
                return getpwuid(*uid) != NULL;
        pw = getpwnam(name);
        if (!pw)
                return false;
        *uid = pw->pw_uid;
        return true;
}

static bool resolve_group(const char *name, uint32_t *gid)
{
        struct group *gr;

        if (parse_id(name, gid))
                return getgrgid(*gid) != NULL;
        gr = getgrnam(name);
        if (!gr)
                return false;
        *gid = gr->gr_gid;
        return true;
}

/*
 * Elements
 */

static struct element *file_push(struct file *f, unsigned int type)
{
        struct element *e;

        if (f->n_elements >= CONFIG_MAX_ELEMENT_DEPTH) {
                file_fail(f, BUS_CONFIG_E_INVALID, "Elements nested too deeply");
                return NULL;
        }
        e = &f->elements[f->n_elements++];
        memset(e, 0, sizeof(*e));
        e->type = type;
        return e;
}

static unsigned int file_top(struct file *f)
{
        return f->n_elements ? f->elements[f->n_elements - 1].type : ELEMENT_NONE;
}

static bool is_wildcard(const char *s)
{
        return s && s[0] == '*' && !s[1];
}

static const char *wild(const char *s)
{
        return is_wildcard(s) ? NULL : s;
}

static bool file_add_rule(struct file *f, const char *element, const char **atts, bool allow)
{
        const char *send_interface, *send_member, *send_error, *send_destination,
                *send_destination_prefix, *send_path, *send_type, *send_requested_reply,
                *send_broadcast, *receive_interface, *receive_member, *receive_error,
                *receive_sender, *receive_path, *receive_type, *receive_requested_reply,
                *eavesdrop, *max_fds, *min_fds, *own, *own_prefix, *user, *group, *log;
        const struct attr attrs[] = {
                { "send_interface", &send_interface },
                { "send_member", &send_member },
                { "send_error", &send_error },
                { "send_destination", &send_destination },
                { "send_destination_prefix", &send_destination_prefix },
                { "send_path", &send_path },
                { "send_type", &send_type },
                { "send_broadcast", &send_broadcast },
                { "receive_interface", &receive_interface },
                { "receive_member", &receive_member },
                { "receive_error", &receive_error },
                { "receive_sender", &receive_sender },
                { "receive_path", &receive_path },
                { "receive_type", &receive_type },
                { "eavesdrop", &eavesdrop },
                { "max_fds", &max_fds },
                { "min_fds", &min_fds },
                { "send_requested_reply", &send_requested_reply },
                { "receive_requested_reply", &receive_requested_reply },
                { "own", &own },
                { "own_prefix", &own_prefix },
                { "user", &user },
                { "group", &group },
                { "log", &log },
        };
        struct bus_config *c = f->loader->config;
        const struct element *policy = &f->elements[f->n_elements - 1];
        struct policy_rule rule = { .allow = allow, .requested_reply = allow };
        bool any_send, any_receive, any_message, keep = true;
        const char *requested_reply;
        int n_other;

        if (!file_locate_attributes(f, element, atts, attrs, sizeof(attrs) / sizeof(*attrs)))
                return false;

        any_send = send_destination || send_destination_prefix || send_broadcast || send_path ||
                   send_type || send_interface || send_member || send_error || send_requested_reply;
        /* a lone eavesdrop="..." is a receive rule */
        any_receive = receive_sender || receive_path || receive_type || receive_interface ||
                      receive_member || receive_error || receive_requested_reply ||
                      (!any_send && eavesdrop);
        any_message = any_send || any_receive || eavesdrop || max_fds || min_fds;

        if (!(any_send || any_receive || own || own_prefix || user || group)) {
                file_fail(f, BUS_CONFIG_E_INVALID, "Element <%s> must have one or more attributes", element);
                return false;
        }
        if ((send_member && !send_interface && !send_path) ||
            (receive_member && !receive_interface && !receive_path)) {
                file_fail(f, BUS_CONFIG_E_INVALID,
                          "On element <%s>, if you specify a member you must specify an interface or a path. "
                          "Keep in mind that not all messages have an interface field.", element);
                return false;
        }
        n_other = !!own + !!own_prefix + !!user + !!group;
        if (any_message + n_other > 1) {
                file_fail(f, BUS_CONFIG_E_INVALID,
                          "Invalid combination of attributes on element <%s>: own, own_prefix, user, group "
                          "and the message-related attributes cannot be combined", element);
                return false;
        }
        if (any_send && any_receive) {
                file_fail(f, BUS_CONFIG_E_INVALID,
                          "Invalid combination of attributes on element <%s>: send and receive attributes "
                          "cannot be combined", element);
                return false;
        }
        if ((send_member || send_interface) && send_error) {
                file_fail(f, BUS_CONFIG_E_INVALID,
                          "Invalid combination of attributes on element <%s>: send_error cannot be combined "
                          "with send_member or send_interface", element);
                return false;
        }
        if (send_destination && send_destination_prefix) {
                file_fail(f, BUS_CONFIG_E_INVALID,
                          "Invalid combination of attributes on element <%s>: send_destination cannot be "
                          "combined with send_destination_prefix", element);
                return false;
        }
        if ((receive_member || receive_interface) && receive_error) {
                file_fail(f, BUS_CONFIG_E_INVALID,
                          "Invalid combination of attributes on element <%s>: receive_error cannot be "
                          "combined with receive_member or receive_interface", element);
                return false;
        }

        if (any_send || any_receive) {
                const char *type = any_send ? send_type : receive_type;

                if (!parse_message_type(f, wild(type), &rule.type) ||
                    !parse_true_false(f, "eavesdrop", eavesdrop))
                        return false;
                if (any_send) {
                        if (!parse_true_false(f, "send_broadcast", send_broadcast))
                                return false;
                        if (wild(send_destination) && send_broadcast && !strcmp(send_broadcast, "true")) {
                                file_fail(f, BUS_CONFIG_E_INVALID,
                                          "Rule with send_broadcast=\"true\" and send_destination=\"%s\" "
                                          "cannot match anything", send_destination);
                                return false;
                        }
                }
                requested_reply = any_send ? send_requested_reply : receive_requested_reply;
                if (!parse_true_false(f, any_send ? "send_requested_reply" : "receive_requested_reply",
                                      requested_reply) ||
                    !parse_fds(f, "max_fds", max_fds, POLICY_MAX_FDS, &rule.max_fds) ||
                    !parse_fds(f, "min_fds", min_fds, 0, &rule.min_fds))
                        return false;

                rule.kind = any_send ? POLICY_RULE_SEND : POLICY_RULE_RECEIVE;
                rule.eavesdrop = eavesdrop && !strcmp(eavesdrop, "true");
                if (requested_reply)
                        rule.requested_reply = !strcmp(requested_reply, "true");
                if (any_send) {
                        if (send_broadcast)
                                rule.broadcast = !strcmp(send_broadcast, "true") ?
                                                 POLICY_BROADCAST_TRUE : POLICY_BROADCAST_FALSE;
                        rule.path = wild(send_path);
                        rule.interface = wild(send_interface);
                        rule.member = wild(send_member);
                        rule.error = wild(send_error);
                        if (send_destination_prefix) {
                                rule.name = send_destination_prefix;
                                rule.name_is_prefix = true;
                        } else {
                                rule.name = wild(send_destination);
                        }
                } else {
                        rule.path = wild(receive_path);
                        rule.interface = wild(receive_interface);
                        rule.member = wild(receive_member);
                        rule.error = wild(receive_error);
                        rule.name = wild(receive_sender);
                }
        } else if (own || own_prefix) {
                rule.kind = POLICY_RULE_OWN;
                if (own) {
                        rule.name = wild(own);
                } else {
                        rule.name = own_prefix;
                        rule.name_is_prefix = true;
                }
        } else {
                rule.kind = user ? POLICY_RULE_CONNECT_USER : POLICY_RULE_CONNECT_GROUP;
                if (is_wildcard(user ? user : group)) {
                        rule.id = POLICY_ID_ANY;
                } else if (user ? !resolve_user(user, &rule.id) : !resolve_group(group, &rule.id)) {
                        if (file_warn(f, "Unknown %s \"%s\" on element <%s>", user ? "username" : "group",
                                      user ? user : group, element) < 0) {
                                file_fail(f, -ENOMEM, NULL);
                                return false;
                        }
                        keep = false;
                }
        }
        rule.log = log && !strcmp(log, "true");

        if (policy->policy.ignored || !keep)
                return true;

        if ((rule.kind == POLICY_RULE_CONNECT_USER || rule.kind == POLICY_RULE_CONNECT_GROUP) &&
            (policy->policy.context == POLICY_CONTEXT_USER || policy->policy.context == POLICY_CONTEXT_GROUP)) {
                file_fail(f, BUS_CONFIG_E_INVALID, "<%s> rule cannot be per-%s because it has bus-global semantics",
                          element, policy->policy.context == POLICY_CONTEXT_USER ? "user" : "group");
                return false;
        }

        rule.context = policy->policy.context;
        rule.context_id = policy->policy.id;
        rule.line = XML_GetCurrentLineNumber(f->xml);
#define DUP(field) do { if (rule.field && !(rule.field = config_strdup(c, rule.field))) goto nomem; } while (0)
        DUP(name);
        DUP(path);
        DUP(interface);
        DUP(member);
        DUP(error);
#undef DUP
        if (!(rule.file = config_strdup(c, f->path)) || GROW(c, rules) < 0)
                goto nomem;
        c->rules[c->n_rules++] = rule;
        return true;

nomem:
        file_fail(f, -ENOMEM, NULL);
        return false;
}

static void file_start_policy(struct file *f, const char **atts)
{
        const char *context, *user, *group, *at_console;
        const struct attr attrs[] = {
                { "context", &context },
                { "user", &user },
                { "group", &group },
                { "at_console", &at_console },
        };
        struct element *e;

        if (!file_locate_attributes(f, "policy", atts, attrs, 4))
                return;
        if (!!context + !!user + !!group + !!at_console != 1) {
                file_fail(f, BUS_CONFIG_E_INVALID,
                          "<policy> element must have exactly one of (context|user|group|at_console) attributes");
                return;
        }
        e = file_push(f, ELEMENT_POLICY);
        if (!e)
                return;
        if (context) {
                if (!strcmp(context, "default")) {
                        e->policy.context = POLICY_CONTEXT_DEFAULT;
                } else if (!strcmp(context, "mandatory")) {
                        e->policy.context = POLICY_CONTEXT_MANDATORY;
                } else {
                        file_fail(f, BUS_CONFIG_E_INVALID,
                                  "context attribute on <policy> must have the value \"default\" or "
                                  "\"mandatory\", not \"%s\"", context);
                }
        } else if (user) {
                e->policy.context = POLICY_CONTEXT_USER;
                if (!resolve_user(user, &e->policy.id)) {
                        e->policy.ignored = true;
                        if (file_warn(f, "Unknown username \"%s\" in message bus configuration file", user) < 0)
                                file_fail(f, -ENOMEM, NULL);
                }
        } else if (group) {
                e->policy.context = POLICY_CONTEXT_GROUP;
                if (!resolve_group(group, &e->policy.id)) {
                        e->policy.ignored = true;
                        if (file_warn(f, "Unknown group \"%s\" in message bus configuration file", group) < 0)
                                file_fail(f, -ENOMEM, NULL);
                }
        } else {
                e->policy.context = POLICY_CONTEXT_CONSOLE;
                if (!strcmp(at_console, "true"))
                        e->policy.id = 1;
                else if (strcmp(at_console, "false"))
                        file_fail(f, BUS_CONFIG_E_INVALID,
                                  "Unknown value \"%s\" for at_console in message bus configuration file",
                                  at_console);
        }
}

static void file_start_include(struct file *f, const char **atts)
{
        const char *ignore_missing, *if_selinux_enabled, *selinux_root_relative;
        const struct attr attrs[] = {
                { "ignore_missing", &ignore_missing },
                { "if_selinux_enabled", &if_selinux_enabled },
                { "selinux_root_relative", &selinux_root_relative },
        };
        struct element *e;

        if (!file_locate_attributes(f, "include", atts, attrs, 3))
                return;
        e = file_push(f, ELEMENT_INCLUDE);
        if (!e)
                return;
        if (!parse_yes_no(f, "ignore_missing", ignore_missing, &e->include.ignore_missing) ||
            !parse_yes_no(f, "if_selinux_enabled", if_selinux_enabled, &e->include.if_selinux_enabled))
                return;
        parse_yes_no(f, "selinux_root_relative", selinux_root_relative, &e->include.selinux_root_relative);
}

/*
 * Check one directory of the transient service directory's path as
 * dbus-daemon does: it must exist, be a directory and belong to our uid.
 * Returns NULL if it passes, else the reason (written to @buf).
 */
static const char *check_runtime_dir(const char *what, const char *path, char *buf, size_t n_buf)
{
        struct stat st;

        if (stat(path, &st) < 0)
                snprintf(buf, n_buf, "%s \"%s\" not available: %s", what, path, strerror(errno));
        else if (!S_ISDIR(st.st_mode))
                snprintf(buf, n_buf, "%s \"%s\" is not a directory", what, path);
        else if (st.st_uid != getuid())
                snprintf(buf, n_buf, "%s \"%s\" is owned by uid %ld, not our uid %ld", what, path,
                         (long)st.st_uid, (long)getuid());
        else
                return NULL;
        return buf;
}

/*
 * The transient service directory $XDG_RUNTIME_DIR/dbus-1/services, as
 * dbus-daemon sets it up: nothing (and no warning) when $XDG_RUNTIME_DIR
 * is unset; a warning and no directory when $XDG_RUNTIME_DIR, or its
 * "dbus-1" subdirectory if that exists, is missing, not a directory or
 * owned by another uid (a directory another user controls must not supply
 * our service files). A missing "dbus-1" is created later, with the
 * services directory (dbus-proxy/servicedir.c), owned by us.
 * Deliberate difference: a relative $XDG_RUNTIME_DIR is ignored with a
 * warning (the XDG base directory specification calls it invalid);
 * dbus-daemon resolves it against its working directory.
 */
static int add_transient_session_dir(struct file *f)
{
        struct bus_config *c = f->loader->config;
        const char *runtime = getenv("XDG_RUNTIME_DIR");
        _cleanup_free_ char *sub = NULL;
        const char *why = NULL;
        char buf[PATH_MAX + 128];
        struct stat st;
        char *s;

        if (!runtime)
                return 0;
        if (runtime[0] && runtime[0] != '/') {
                snprintf(buf, sizeof(buf), "XDG_RUNTIME_DIR \"%s\" is not an absolute path", runtime);
                why = buf;
        }
        if (!why)
                why = check_runtime_dir("XDG_RUNTIME_DIR", runtime, buf, sizeof(buf));
        if (!why) {
                if (asprintf(&sub, "%s/dbus-1", runtime) < 0) {
                        sub = NULL;
                        return error_origin(-ENOMEM);
                }
                if (lstat(sub, &st) == 0 || errno != ENOENT)
                        why = check_runtime_dir("XDG_RUNTIME_DIR subdirectory", sub, buf, sizeof(buf));
        }
        if (why)
                return file_warn(f, "Unable to set up transient service directory: %s", why);

        if (asprintf(&s, "%s/dbus-1/services", runtime) < 0)
                return error_origin(-ENOMEM);
        return config_add_servicedir(c, config_own(c, s),
                                     BUS_CONFIG_SERVICEDIR_NO_WATCH | BUS_CONFIG_SERVICEDIR_STRICT_NAMING);
}

static int add_standard_session_dirs(struct file *f)
{
        struct bus_config *c = f->loader->config;
        const char *data_home = getenv("XDG_DATA_HOME");
        const char *data_dirs = getenv("XDG_DATA_DIRS");
        const char *home = getenv("HOME");
        char *s;
        int r;

        r = add_transient_session_dir(f);
        if (r < 0)
                return r;

        if (data_home && data_home[0])
                r = asprintf(&s, "%s/dbus-1/services", data_home);
        else if (home && home[0])
                r = asprintf(&s, "%s/.local/share/dbus-1/services", home);
        else
                r = 0, s = NULL;
        if (r < 0)
                return -ENOMEM;
        if (s && (r = config_add_servicedir(c, config_own(c, s), 0)) < 0)
                return r;

        if (!data_dirs || !data_dirs[0])
                data_dirs = "/usr/local/share:/usr/share";
        while (*data_dirs) {
                size_t n = strcspn(data_dirs, ":");

                if (n) {
                        if (asprintf(&s, "%.*s/dbus-1/services", (int)n, data_dirs) < 0)
                                return -ENOMEM;
                        r = config_add_servicedir(c, config_own(c, s), 0);
                        if (r < 0)
                                return r;
                }
                data_dirs += n;
                if (*data_dirs == ':')
                        ++data_dirs;
        }
        return config_add_servicedir(c, config_strdup(c, "/usr/share/dbus-1/services"), 0);
}

static int add_standard_system_dirs(struct bus_config *c)
{
        static const char *const dirs[] = {
                "/usr/local/share/dbus-1/system-services",
                "/usr/share/dbus-1/system-services",
                "/lib/dbus-1/system-services",
        };
        size_t i;
        int r;

        for (i = 0; i < sizeof(dirs) / sizeof(*dirs); ++i) {
                r = config_add_servicedir(c, config_strdup(c, dirs[i]), 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void file_start_busconfig_child(struct file *f, const char *name, const char **atts)
{
        static const unsigned int simple[] = {
                ELEMENT_USER, ELEMENT_TYPE, ELEMENT_FORK, ELEMENT_SYSLOG, ELEMENT_KEEP_UMASK,
                ELEMENT_PIDFILE, ELEMENT_LISTEN, ELEMENT_AUTH, ELEMENT_SERVICEHELPER,
                ELEMENT_INCLUDEDIR, ELEMENT_STANDARD_SESSION_SERVICEDIRS,
                ELEMENT_STANDARD_SYSTEM_SERVICEDIRS, ELEMENT_ALLOW_ANONYMOUS, ELEMENT_SERVICEDIR,
                ELEMENT_SELINUX,
        };
        struct bus_config *c = f->loader->config;
        const char *mode, *lname;
        const struct attr mode_attr[] = { { "mode", &mode } };
        const struct attr name_attr[] = { { "name", &lname } };
        struct element *e;
        size_t i;
        int r;

        for (i = 0; i < sizeof(simple) / sizeof(*simple); ++i) {
                unsigned int type = simple[i];

                if (strcmp(name, element_names[type]))
                        continue;
                if (!file_check_no_attributes(f, name, atts) || !file_push(f, type))
                        return;
                switch (type) {
                case ELEMENT_FORK:
                        c->fork = true;
                        break;
                case ELEMENT_SYSLOG:
                        c->syslog = true;
                        break;
                case ELEMENT_KEEP_UMASK:
                        c->keep_umask = true;
                        break;
                case ELEMENT_ALLOW_ANONYMOUS:
                        c->allow_anonymous = true;
                        break;
                case ELEMENT_STANDARD_SESSION_SERVICEDIRS:
                        r = add_standard_session_dirs(f);
                        if (r < 0)
                                file_fail(f, r, NULL);
                        break;
                case ELEMENT_STANDARD_SYSTEM_SERVICEDIRS:
                        r = add_standard_system_dirs(c);
                        if (r < 0)
                                file_fail(f, r, NULL);
                        break;
                default:
                        break;
                }
                return;
        }

        if (!strcmp(name, "include")) {
                file_start_include(f, atts);
        } else if (!strcmp(name, "policy")) {
                file_start_policy(f, atts);
        } else if (!strcmp(name, "limit")) {
                if (!file_locate_attributes(f, "limit", atts, name_attr, 1))
                        return;
                if (!lname) {
                        file_fail(f, BUS_CONFIG_E_INVALID, "<limit> element must have a \"name\" attribute");
                        return;
                }
                e = file_push(f, ELEMENT_LIMIT);
                if (e && !(e->limit.name = config_strdup(c, lname)))
                        file_fail(f, -ENOMEM, NULL);
        } else if (!strcmp(name, "apparmor")) {
                if (!file_locate_attributes(f, "apparmor", atts, mode_attr, 1) || !file_push(f, ELEMENT_APPARMOR))
                        return;
                if (!mode)
                        return;
                if (!strcmp(mode, "enabled"))
                        c->apparmor = BUS_CONFIG_APPARMOR_ENABLED;
                else if (!strcmp(mode, "disabled"))
                        c->apparmor = BUS_CONFIG_APPARMOR_DISABLED;
                else if (!strcmp(mode, "required"))
                        c->apparmor = BUS_CONFIG_APPARMOR_REQUIRED;
                else
                        file_fail(f, BUS_CONFIG_E_INVALID,
                                  "Mode attribute on <apparmor> must have value \"required\", \"enabled\" or "
                                  "\"disabled\", not \"%s\"", mode);
        } else {
                file_fail(f, BUS_CONFIG_E_INVALID,
                          "Element <%s> not allowed inside <%s> in configuration file", name, "busconfig");
        }
}

static void file_start_selinux_child(struct file *f, const char *name, const char **atts)
{
        struct bus_config *c = f->loader->config;
        const char *own, *context;
        const struct attr attrs[] = { { "own", &own }, { "context", &context } };

        if (strcmp(name, "associate")) {
                file_fail(f, BUS_CONFIG_E_INVALID,
                          "Element <%s> not allowed inside <%s> in configuration file", name, "selinux");
                return;
        }
        if (!file_locate_attributes(f, "associate", atts, attrs, 2) || !file_push(f, ELEMENT_ASSOCIATE))
                return;
        if (!own || !context) {
                file_fail(f, BUS_CONFIG_E_INVALID,
                          "Element <associate> must have attributes own=\"<servicename>\" and "
                          "context=\"<selinux context>\"");
                return;
        }
        if (GROW(c, associations) < 0) {
                file_fail(f, -ENOMEM, NULL);
                return;
        }
        c->associations[c->n_associations].name = config_strdup(c, own);
        c->associations[c->n_associations].context = config_strdup(c, context);
        if (!c->associations[c->n_associations].name || !c->associations[c->n_associations].context) {
                file_fail(f, -ENOMEM, NULL);
                return;
        }
        ++c->n_associations;
}

static bool is_all_whitespace(const char *s, size_t n)
{
        size_t i;

        for (i = 0; i < n; ++i)
                if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
                        return false;
        return true;
}

static void file_include_dir(struct file *f, const char *dir)
{
        struct loader *l = f->loader;
        struct bus_config *c = l->config;
        struct dirent **entries = NULL;
        struct config_mark mark;
        int i, n, r = 0;

        n = scandir(dir, &entries, NULL, alphasort);
        if (n < 0) {
                if (errno == ENOENT || errno == ENOTDIR)
                        return;
                if (errno == ENOMEM) {
                        file_fail(f, -ENOMEM, NULL);
                        return;
                }
                file_fail(f, BUS_CONFIG_E_INVALID, "Failed to read directory \"%s\": %s", dir, strerror(errno));
                return;
        }

        for (i = 0; i < n; ++i) {
                const char *e = entries[i]->d_name;
                size_t len = strlen(e);
                char *path;

                if (r < 0 || len < 5 || strcmp(e + len - 5, ".conf"))
                        continue;
                path = path_join(dir, e);
                if (!path) {
                        r = -ENOMEM;
                        continue;
                }
                config_mark(c, &mark);
                /* no @from: a failure here must not stop the parser of @f */
                r = loader_load_file(l, NULL, path, true);
                if (r > 0) {
                        /* dbus-daemon logs and skips a broken file of a directory */
                        config_rollback(c, &mark);
                        r = config_add_warning(c, l->error);
                        l->error = NULL;
                }
                free(path);
        }
        for (i = 0; i < n; ++i)
                free(entries[i]);
        free(entries);

        if (r >= 0)
                r = config_add_string(c, &c->conf_dirs, &c->n_conf_dirs, &c->cap_conf_dirs,
                                      config_strdup(c, dir));
        if (r < 0)
                file_fail(f, r, NULL);
}

static void file_process_content(struct file *f)
{
        struct loader *l = f->loader;
        struct bus_config *c = l->config;
        struct element *e;
        const char *s, *text = f->content;
        size_t n = f->n_content;
        char *full = NULL, *end;
        int r = 0;

        if (f->r || !n)
                return;
        f->n_content = 0;

        if (!f->n_elements) {
                file_fail(f, BUS_CONFIG_E_INVALID, "Text content outside of any XML element in configuration file");
                return;
        }
        e = &f->elements[f->n_elements - 1];

        switch (e->type) {
        case ELEMENT_PIDFILE:
        case ELEMENT_USER:
        case ELEMENT_TYPE:
        case ELEMENT_LISTEN:
        case ELEMENT_AUTH:
                e->had_content = true;
                s = config_strndup(c, text, n);
                if (!s) {
                        r = -ENOMEM;
                        break;
                }
                if (e->type == ELEMENT_PIDFILE)
                        c->pidfile = s;
                else if (e->type == ELEMENT_USER)
                        c->user = s;
                else if (e->type == ELEMENT_TYPE)
                        c->type = s;
                else if (e->type == ELEMENT_LISTEN)
                        r = config_add_string(c, &c->listen, &c->n_listen, &c->cap_listen, s);
                else
                        r = config_add_string(c, &c->auth, &c->n_auth, &c->cap_auth, s);
                break;

        case ELEMENT_INCLUDE:
                e->had_content = true;
                if (e->include.if_selinux_enabled && !(l->flags & BUS_CONFIG_SELINUX_ENABLED))
                        break;
                if (e->include.selinux_root_relative && !l->selinux_policy_root) {
                        file_fail(f, BUS_CONFIG_E_INVALID,
                                  "Could not determine SELinux policy root for relative inclusion");
                        return;
                }
                s = strndup(text, n);
                if (s)
                        full = path_join(e->include.selinux_root_relative ? l->selinux_policy_root : f->basedir, s);
                free((char *)s);
                if (!full) {
                        r = -ENOMEM;
                        break;
                }
                if (!(l->flags & BUS_CONFIG_NO_INCLUDE)) {
                        r = loader_load_file(l, f, full, e->include.ignore_missing);
                        if (r > 0) {
                                f->r = r;       /* message already recorded */
                                XML_StopParser(f->xml, XML_FALSE);
                                r = 0;
                        }
                }
                break;

        case ELEMENT_INCLUDEDIR:
        case ELEMENT_SERVICEHELPER:
        case ELEMENT_SERVICEDIR:
                e->had_content = true;
                s = strndup(text, n);
                if (s)
                        full = path_join(f->basedir, s);
                free((char *)s);
                if (!full) {
                        r = -ENOMEM;
                        break;
                }
                if (e->type == ELEMENT_SERVICEHELPER) {
                        c->servicehelper = config_own(c, full);
                        full = NULL;
                        r = c->servicehelper ? 0 : -ENOMEM;
                } else if (e->type == ELEMENT_SERVICEDIR) {
                        r = config_add_servicedir(c, config_own(c, full), 0);
                        full = NULL;
                } else if (!(l->flags & BUS_CONFIG_NO_INCLUDE)) {
                        file_include_dir(f, full);
                }
                break;

        case ELEMENT_LIMIT:
                e->had_content = true;
                s = strndup(text, n);
                if (!s) {
                        r = -ENOMEM;
                        break;
                }
                /* like dbus-daemon: leading number, base auto-detected,
                 * trailing text ignored */
                errno = 0;
                e->limit.value = strtol(s, &end, 0);
                if (errno || end == s)
                        file_fail(f, BUS_CONFIG_E_INVALID,
                                  "<limit name=\"%s\"> element has invalid value (could not parse as integer)",
                                  e->limit.name);
                free((char *)s);
                break;

        default:
                if (!is_all_whitespace(text, n))
                        file_fail(f, BUS_CONFIG_E_INVALID,
                                  "No text content expected inside XML element %s in configuration file",
                                  element_names[e->type]);
                break;
        }
        free(full);
        if (r < 0)
                file_fail(f, r, NULL);
}

static bool file_set_limit(struct file *f, const char *name, long value)
{
        static const struct {
                const char *name;
                size_t offset;
                bool is_int;
        } limits[] = {
#define L(n, i) { #n, offsetof(struct bus_config_limits, n), i }
                L(max_incoming_bytes, false),
                L(max_incoming_unix_fds, false),
                L(max_outgoing_bytes, false),
                L(max_outgoing_unix_fds, false),
                L(max_message_size, false),
                L(max_message_unix_fds, false),
                L(service_start_timeout, true),
                L(auth_timeout, true),
                L(pending_fd_timeout, true),
                L(reply_timeout, true),
                L(max_completed_connections, true),
                L(max_incomplete_connections, true),
                L(max_connections_per_user, true),
                L(max_pending_service_starts, true),
                L(max_names_per_connection, true),
                L(max_match_rules_per_connection, true),
                L(max_replies_per_connection, true),
                L(max_containers, true),
                L(max_containers_per_user, true),
                L(max_container_metadata_bytes, true),
                L(max_connections_per_container, true),
#undef L
        };
        size_t i;

        for (i = 0; i < sizeof(limits) / sizeof(*limits); ++i) {
                if (strcmp(limits[i].name, name))
                        continue;
                if (value < 0) {
                        file_fail(f, BUS_CONFIG_E_INVALID, "<limit name=\"%s\"> must be a positive number", name);
                        return false;
                }
                if (limits[i].is_int && value > INT_MAX) {
                        file_fail(f, BUS_CONFIG_E_INVALID, "<limit name=\"%s\"> value is too large", name);
                        return false;
                }
                *(long *)((char *)&f->loader->config->limits + limits[i].offset) = value;
                return true;
        }
        file_fail(f, BUS_CONFIG_E_INVALID, "There is no limit called \"%s\"", name);
        return false;
}

static void XMLCALL on_start(void *userdata, const XML_Char *name, const XML_Char **atts)
{
        struct file *f = userdata;
        unsigned int top;

        file_process_content(f);
        if (f->r)
                return;

        top = file_top(f);
        switch (top) {
        case ELEMENT_NONE:
                if (strcmp(name, "busconfig")) {
                        file_fail(f, BUS_CONFIG_E_INVALID, "Unknown element <%s> at root of configuration file",
                                  name);
                        return;
                }
                if (file_check_no_attributes(f, "busconfig", atts))
                        file_push(f, ELEMENT_BUSCONFIG);
                break;
        case ELEMENT_BUSCONFIG:
                file_start_busconfig_child(f, name, atts);
                break;
        case ELEMENT_POLICY:
                if (strcmp(name, "allow") && strcmp(name, "deny")) {
                        file_fail(f, BUS_CONFIG_E_INVALID,
                                  "Element <%s> not allowed inside <%s> in configuration file", name, "policy");
                        return;
                }
                if (file_add_rule(f, name, atts, name[0] == 'a'))
                        file_push(f, name[0] == 'a' ? ELEMENT_ALLOW : ELEMENT_DENY);
                break;
        case ELEMENT_SELINUX:
                file_start_selinux_child(f, name, atts);
                break;
        default:
                file_fail(f, BUS_CONFIG_E_INVALID, "Element <%s> is not allowed in this context", name);
                break;
        }
}

static void XMLCALL on_end(void *userdata, const XML_Char *name)
{
        struct file *f = userdata;
        struct element *e;

        file_process_content(f);
        if (f->r)
                return;
        if (!f->n_elements)
                return;         /* expat guarantees balance; defensive */
        e = &f->elements[f->n_elements - 1];

        switch (e->type) {
        case ELEMENT_INCLUDE:
        case ELEMENT_USER:
        case ELEMENT_TYPE:
        case ELEMENT_LISTEN:
        case ELEMENT_PIDFILE:
        case ELEMENT_AUTH:
        case ELEMENT_SERVICEDIR:
        case ELEMENT_SERVICEHELPER:
        case ELEMENT_INCLUDEDIR:
        case ELEMENT_LIMIT:
                if (!e->had_content) {
                        file_fail(f, BUS_CONFIG_E_INVALID, "XML element <%s> was expected to have content inside it",
                                  element_names[e->type]);
                        return;
                }
                if (e->type == ELEMENT_LIMIT && !file_set_limit(f, e->limit.name, e->limit.value))
                        return;
                break;
        default:
                break;
        }
        --f->n_elements;
}

static void XMLCALL on_text(void *userdata, const XML_Char *s, int len)
{
        struct file *f = userdata;

        if (f->r || len <= 0)
                return;
        if (f->n_content + (size_t)len + 1 > f->cap_content) {
                size_t cap = (f->n_content + len + 1) * 2;
                char *p = realloc(f->content, cap);

                if (!p) {
                        file_fail(f, -ENOMEM, NULL);
                        return;
                }
                f->content = p;
                f->cap_content = cap;
        }
        memcpy(f->content + f->n_content, s, len);
        f->n_content += len;
        f->content[f->n_content] = 0;
}

static void XMLCALL on_entity_decl(void *userdata, const XML_Char *name, int is_parameter,
                                   const XML_Char *value, int value_length, const XML_Char *base,
                                   const XML_Char *system_id, const XML_Char *public_id,
                                   const XML_Char *notation)
{
        struct file *f = userdata;

        file_fail(f, BUS_CONFIG_E_INVALID, "Entity declarations are not supported in configuration files");
}

/* Parses @data as the file @path; includes are resolved against its directory. */
static void file_deinit(struct file *f)
{
        if (f->xml)
                XML_ParserFree(f->xml);
        free(f->content);
        free(f->basedir);
}

/* Parses @data as the file @path; includes are resolved against its directory. */
static int loader_parse(struct loader *l, const char *data, size_t n_data, const char *path, bool toplevel)
{
        _cleanup_(file_deinit) struct file f = { .loader = l, .path = path };
        enum XML_Status status;
        int r = 0;

        if (n_data > INT_MAX)
                n_data = INT_MAX;       /* callers cap file sizes far below */

        f.basedir = path_dirname(path);
        f.xml = XML_ParserCreate("UTF-8");
        if (!f.basedir || !f.xml)
                return error_origin(-ENOMEM);
        XML_SetUserData(f.xml, &f);
        XML_SetElementHandler(f.xml, on_start, on_end);
        XML_SetCharacterDataHandler(f.xml, on_text);
        XML_SetEntityDeclHandler(f.xml, on_entity_decl);

        status = XML_Parse(f.xml, data, (int)n_data, XML_TRUE);
        if (f.r) {
                r = error_trace(f.r);
        } else if (status != XML_STATUS_OK) {
                enum XML_Error e = XML_GetErrorCode(f.xml);
                char *msg = NULL;

                if (e == XML_ERROR_NO_MEMORY)
                        return error_origin(-ENOMEM);
                r = BUS_CONFIG_E_INVALID;
                if (!l->error && asprintf(&msg, "%s:%lu:%lu: %s", path,
                                          (unsigned long)XML_GetCurrentLineNumber(f.xml),
                                          (unsigned long)XML_GetCurrentColumnNumber(f.xml) + 1,
                                          XML_ErrorString(e)) >= 0)
                        l->error = msg;
        } else if (f.n_elements) {
                r = BUS_CONFIG_E_INVALID;
                loader_fail(l, path, "Element <%s> was not closed in configuration file",
                            element_names[file_top(&f)]);
        } else if (toplevel && !(l->flags & BUS_CONFIG_FRAGMENT) && !l->config->n_listen) {
                r = BUS_CONFIG_E_INVALID;
                loader_fail(l, path, "Configuration file needs one or more <listen> elements giving addresses");
        }

        if (r > 0 && !l->error)
                return error_origin(-ENOMEM);   /* the message could not be allocated */
        return r;
}

/*
 * Reads a regular file of at most CONFIG_MAX_FILE_SIZE bytes. Returns 0, or
 * -1 with the reason in *errnop (an expected outcome), or -ENOMEM.
 */
static int read_file(const char *path, char **datap, size_t *np, int *errnop)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *data = NULL;
        struct stat st;
        size_t n = 0;
        ssize_t k;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                *errnop = errno;
                return -1;
        }
        if (fstat(fd, &st) < 0) {
                *errnop = errno;
                return -1;
        }
        if (!S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX_FILE_SIZE) {
                *errnop = S_ISDIR(st.st_mode) ? EISDIR : (S_ISREG(st.st_mode) ? EFBIG : EINVAL);
                return -1;
        }
        data = malloc(st.st_size + 1);
        if (!data)
                return error_origin(-ENOMEM);
        while (n < (size_t)st.st_size) {
                k = read(fd, data + n, st.st_size - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        *errnop = k < 0 ? errno : EIO;
                        return -1;
                }
                n += k;
        }
        data[n] = 0;
        *datap = steal_ptr(data);
        *np = n;
        return 0;
}

/* fails loading @path; the error is located at the including element, if any */
static int loader_fail_open(struct loader *l, struct file *from, const char *what, const char *path,
                            const char *detail)
{
        if (from) {
                file_fail(from, BUS_CONFIG_E_INVALID, "%s '%s'%s%s", what, path, detail ? ": " : "",
                          detail ? detail : "");
                from->r = 0;    /* the caller reports the failure of @from */
        } else {
                loader_fail(l, path, "%s '%s'%s%s", what, path, detail ? ": " : "", detail ? detail : "");
        }
        return l->error ? BUS_CONFIG_E_INVALID : -ENOMEM;
}

static int loader_load_file(struct loader *l, struct file *from, const char *path, bool ignore_missing)
{
        _cleanup_free_ char *canonical = NULL, *data = NULL;
        size_t i, n = 0;
        int r, err = 0;

        canonical = realpath(path, NULL);
        if (!canonical) {
                if (errno == ENOMEM)
                        return error_origin(-ENOMEM);
                if (errno == ENOENT && ignore_missing)
                        return 0;
                return loader_fail_open(l, from, "Failed to open", path, strerror(errno));
        }
        for (i = 0; i < l->depth; ++i)
                if (!strcmp(l->stack[i], canonical))
                        return loader_fail_open(l, from, "Circular inclusion of file", path, NULL);
        if (l->depth >= CONFIG_MAX_DEPTH)
                return loader_fail_open(l, from, "Includes nested too deeply at", path, NULL);

        r = read_file(canonical, &data, &n, &err);
        if (r == -1) {
                if (err == ENOENT && ignore_missing)
                        return 0;
                return loader_fail_open(l, from, "Failed to read", path, strerror(err));
        } else if (r < 0) {
                return error_trace(r);
        }

        l->stack[l->depth++] = canonical;
        r = loader_parse(l, data, n, path, l->depth == 1);
        --l->depth;
        return error_trace(r);
}

static int loader_init(struct loader *l, const struct bus_config_options *options)
{
        *l = (struct loader){};
        if (options) {
                l->flags = options->flags;
                l->selinux_policy_root = options->selinux_policy_root;
        }
        l->config = calloc(1, sizeof(*l->config));
        if (!l->config)
                return error_origin(-ENOMEM);
        bus_config_limits_init_default(&l->config->limits);
        return 0;
}

static int loader_finish(struct loader *l, int r, struct bus_config **configp, char **errorp)
{
        if (r == 0) {
                *configp = l->config;
                l->config = NULL;
        } else if (r > 0 && errorp) {
                *errorp = l->error;
                l->error = NULL;
        }
        free(l->error);
        bus_config_free(l->config);
        return r;
}

int bus_config_load(struct bus_config **configp, const char *path,
                    const struct bus_config_options *options, char **errorp)
{
        struct loader l;
        int r;

        r = loader_init(&l, options);
        if (r < 0)
                return error_trace(r);
        r = loader_load_file(&l, NULL, path, false);
        return error_trace(loader_finish(&l, r, configp, errorp));
}

int bus_config_parse(struct bus_config **configp, const char *data, size_t n_data,
                     const char *name, const struct bus_config_options *options, char **errorp)
{
        struct loader l;
        int r;

        r = loader_init(&l, options);
        if (r < 0)
                return error_trace(r);
        l.stack[l.depth++] = name;
        r = loader_parse(&l, data, n_data, name, true);
        return error_trace(loader_finish(&l, r, configp, errorp));
}
