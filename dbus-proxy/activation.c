/*
 * Service activation (activation.h).
 *
 * Objects:
 *  - struct pending: one start in progress, per name, in activation.pending
 *    (by name) until it completes. "Detaching" a pending removes it from the
 *    tree, stops its timeout and lets go of its child; after that nothing
 *    but the function finishing it can reach it, so the callbacks it runs
 *    may call back into the activation freely.
 *  - struct request: one queued request of a pending, charged to its owner
 *    (struct owner_usage, by owner pointer, freed when it drops to 0).
 *  - struct tracked_child: every child we spawned and have not reaped yet,
 *    linked to its pending while the start is in progress.
 */

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "dbus-proxy/activation.h"
#include "dbus-proxy/service.h"
#include "dbus-proxy/servicedir.h"
#include "dbus-proxy/spawn.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/list.h"
#include "util/log.h"
#include "util/rbtree.h"

#define SYSTEMD_NAME "org.freedesktop.systemd1"

extern char **environ;

struct tracked_child;

struct request {
        struct list_node link;          /* in pending.requests */
        void *owner;
        void *request;
        size_t n_bytes;
};

struct owner_usage {
        struct rb_node rb;              /* in activation.owners */
        void *owner;
        size_t n_bytes;
};

struct pending {
        struct rb_node rb;              /* in activation.pending while attached */
        struct list_node detached;      /* in a local list while being finished */
        struct activation *activation;
        char *name;
        char *exec;                     /* NULL unless exec'd */
        char *unit;                     /* NULL unless started through systemd */
        struct list_node requests;
        struct loop_source *timeout;
        struct tracked_child *child;
};

struct tracked_child {
        struct list_node link;          /* in activation.children */
        struct activation *activation;
        struct pending *pending;        /* NULL once the start completed */
        struct spawn_child *child;
        char *name;
};

struct activation {
        struct loop *loop;
        struct servicedir_registry *registry;
        const struct activation_ops *ops;
        void *userdata;
        char *address;
        char *bus_type;
        uint64_t timeout_usec;
        size_t max_pending;
        size_t max_bytes_per_owner;
        unsigned int flags;

        struct rb_root pending;         /* struct pending by name */
        struct rb_root owners;          /* struct owner_usage by owner */
        size_t n_requests;
        struct list_node children;      /* struct tracked_child */

        char **env;                     /* "KEY=VALUE", n_env of them */
        size_t n_env;
        char **envp;                    /* built by activation_get_environment() */
        size_t n_envp;
};

void activation_error_deinit(struct activation_error *error)
{
        free(error->message);
        error->message = NULL;
        error->name = NULL;
}

static int set_error(struct activation_error *error, const char *name, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int set_error(struct activation_error *error, const char *name, const char *fmt, ...)
{
        va_list ap;
        int r;

        error->name = name;
        va_start(ap, fmt);
        r = vasprintf(&error->message, fmt, ap);
        va_end(ap);
        if (r < 0) {
                error->message = NULL;
                return error_origin(-ENOMEM);
        }
        return 0;
}

/*
 * Environment.
 */

static void env_free(char **env, size_t n)
{
        size_t i;

        if (!env)
                return;
        for (i = 0; i < n; ++i)
                free(env[i]);
        free(env);
}

/* index of @key in @env, or n */
static size_t env_find(char **env, size_t n, const char *key, size_t n_key)
{
        size_t i;

        for (i = 0; i < n; ++i)
                if (!strncmp(env[i], key, n_key) && env[i][n_key] == '=')
                        return i;
        return n;
}

/* set KEY=VALUE in a growable array (takes @kv) */
static int env_put(char ***envp, size_t *np, char *kv)
{
        size_t n_key = strcspn(kv, "=");
        size_t i = env_find(*envp, *np, kv, n_key);
        char **t;

        if (i < *np) {
                free((*envp)[i]);
                (*envp)[i] = kv;
                return 0;
        }
        t = realloc(*envp, (*np + 2) * sizeof(*t));
        if (!t) {
                free(kv);
                return error_origin(-ENOMEM);
        }
        t[(*np)++] = kv;
        t[*np] = NULL;
        *envp = t;
        return 0;
}

static int env_set(char ***envp, size_t *np, const char *key, const char *value)
{
        char *kv;

        if (asprintf(&kv, "%s=%s", key, value) < 0)
                return error_origin(-ENOMEM);
        return error_trace(env_put(envp, np, kv));
}

int activation_update_environment(struct activation *activation, const char *const *keys,
                                  const char *const *values, size_t n)
{
        char **env = NULL;
        size_t n_env = 0, i;
        int r = 0;

        for (i = 0; i < n; ++i)
                if (!keys[i][0] || strchr(keys[i], '='))
                        return ACTIVATION_E_INVALID_ENVIRONMENT;

        /* work on a copy, so a failure changes nothing */
        env = calloc(activation->n_env + 1, sizeof(*env));
        if (!env)
                return error_origin(-ENOMEM);
        for (i = 0; i < activation->n_env && !r; ++i) {
                env[i] = strdup(activation->env[i]);
                if (!env[i])
                        r = error_origin(-ENOMEM);
                else
                        ++n_env;
        }
        for (i = 0; i < n && !r; ++i)
                r = env_set(&env, &n_env, keys[i], values[i]);
        if (r < 0) {
                env_free(env, n_env);
                return error_trace(r);
        }
        env_free(activation->env, activation->n_env);
        activation->env = env;
        activation->n_env = n_env;
        return 0;
}

const char *const *activation_get_environment(struct activation *activation)
{
        char **envp = NULL;
        size_t n = 0, i;
        int r = 0;

        for (i = 0; i < activation->n_env && !r; ++i) {
                char *kv = strdup(activation->env[i]);

                r = kv ? env_put(&envp, &n, kv) : -ENOMEM;
        }
        if (!r && activation->address)
                r = env_set(&envp, &n, "DBUS_STARTER_ADDRESS", activation->address);
        if (!r && activation->bus_type)
                r = env_set(&envp, &n, "DBUS_STARTER_BUS_TYPE", activation->bus_type);
        if (!r && activation->address && activation->bus_type) {
                if (!strcmp(activation->bus_type, "session"))
                        r = env_set(&envp, &n, "DBUS_SESSION_BUS_ADDRESS", activation->address);
                else if (!strcmp(activation->bus_type, "system"))
                        r = env_set(&envp, &n, "DBUS_SYSTEM_BUS_ADDRESS", activation->address);
        }
        if (!r && !envp) {
                envp = calloc(1, sizeof(*envp));
                if (!envp)
                        r = -ENOMEM;
        }
        if (r < 0) {
                env_free(envp, n);
                return NULL;
        }
        env_free(activation->envp, activation->n_envp);
        activation->envp = envp;
        activation->n_envp = n;
        return (const char *const *)envp;
}

/*
 * Accounting.
 */

static int owner_cmp(const void *key, const struct rb_node *node)
{
        uintptr_t a = (uintptr_t)key, b = (uintptr_t)rb_entry(node, struct owner_usage, rb)->owner;

        return a < b ? -1 : a > b ? 1 : 0;
}

static struct owner_usage *owner_find(struct activation *a, void *owner)
{
        struct rb_node *n = rb_find(&a->owners, owner, owner_cmp);

        return n ? rb_entry(n, struct owner_usage, rb) : NULL;
}

size_t activation_owner_bytes(struct activation *activation, void *owner)
{
        struct owner_usage *u = owner_find(activation, owner);

        return u ? u->n_bytes : 0;
}

size_t activation_count_requests(struct activation *activation)
{
        return activation->n_requests;
}

size_t activation_count_children(struct activation *activation)
{
        struct list_node *n;
        size_t i = 0;

        list_for_each(n, &activation->children)
                ++i;
        return i;
}

static int charge(struct activation *a, void *owner, size_t n_bytes)
{
        struct owner_usage *u = owner_find(a, owner);

        if (!u) {
                u = calloc(1, sizeof(*u));
                if (!u)
                        return error_origin(-ENOMEM);
                u->owner = owner;
                rb_node_init(&u->rb);
                rb_insert(&a->owners, &u->rb, owner, owner_cmp);
        }
        u->n_bytes += n_bytes;
        ++a->n_requests;
        return 0;
}

static void uncharge(struct activation *a, void *owner, size_t n_bytes)
{
        struct owner_usage *u = owner_find(a, owner);

        --a->n_requests;
        if (!u)
                return;
        u->n_bytes -= n_bytes;
        if (!u->n_bytes) {
                rb_remove(&a->owners, &u->rb);
                free(u);
        }
}

/*
 * Pending starts.
 */

static int pending_cmp(const void *key, const struct rb_node *node)
{
        return strcmp(key, rb_entry(node, struct pending, rb)->name);
}

static struct pending *pending_find(struct activation *a, const char *name)
{
        struct rb_node *n = rb_find(&a->pending, name, pending_cmp);

        return n ? rb_entry(n, struct pending, rb) : NULL;
}

bool activation_is_pending(struct activation *activation, const char *name)
{
        return pending_find(activation, name) != NULL;
}

static void pending_free(struct pending *p)
{
        loop_source_free(p->timeout);
        free(p->name);
        free(p->exec);
        free(p->unit);
        free(p);
}

/* take @p out of every lookup structure (see the top of the file) */
static void pending_detach(struct pending *p)
{
        if (rb_node_is_linked(&p->rb))
                rb_remove(&p->activation->pending, &p->rb);
        p->timeout = loop_source_free(p->timeout);
        if (p->child) {
                p->child->pending = NULL;
                p->child = NULL;
        }
}

/* hand every request of a detached @p back (ready if !error), free @p */
static void pending_finish(struct pending *p, const struct activation_error *error)
{
        struct activation *a = p->activation;

        while (!list_is_empty(&p->requests)) {
                struct request *r = list_entry(list_first(&p->requests), struct request, link);
                void *request = r->request;

                list_unlink(&r->link);
                uncharge(a, r->owner, r->n_bytes);
                free(r);
                if (error)
                        a->ops->failed(a->userdata, p->name, request, error);
                else
                        a->ops->ready(a->userdata, p->name, request);
        }
        pending_free(p);
}

/*
 * gcc 12 at -O2 warns that pending_fail() stores the address of its local
 * list head in heap nodes (-Wdangling-pointer); every node is unlinked again
 * before the function returns, which it cannot see.
 */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif

/* fail @p and, if it was exec'd, every other start with the same Exec= */
static void pending_fail(struct pending *p, const struct activation_error *error)
{
        struct activation *a = p->activation;
        struct list_node victims = LIST_INIT(victims);
        struct rb_node *n, *t;

        log_info("activated service '%s' failed: %s", p->name, error->message);
        pending_detach(p);
        list_link_tail(&victims, &p->detached);
        if (p->exec) {
                rb_for_each_safe(n, t, &a->pending) {
                        struct pending *o = rb_entry(n, struct pending, rb);

                        if (o->exec && !strcmp(o->exec, p->exec)) {
                                pending_detach(o);
                                list_link_tail(&victims, &o->detached);
                        }
                }
        }
        while (!list_is_empty(&victims)) {
                struct pending *v = list_entry(list_first(&victims), struct pending, detached);

                list_unlink(&v->detached);
                pending_finish(v, error);
        }
}

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic pop
#endif

static void pending_fail_msg(struct pending *p, const char *name, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void pending_fail_msg(struct pending *p, const char *name, const char *fmt, ...)
{
        char msg[1024];
        struct activation_error e = { .name = name, .message = msg };
        va_list ap;

        /* no allocation: a failure must reach the waiters even without memory */
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        pending_fail(p, &e);
}

static int pending_on_timeout(struct loop_source *source, uint64_t usec, void *userdata)
{
        struct pending *p = userdata;
        struct activation *a = p->activation;

        (void)source;
        (void)usec;
        if (p->child)
                (void)spawn_child_kill(p->child->child, SIGKILL);
        log_warn("failed to activate service '%s': timed out (service_start_timeout=%llums)",
                 p->name, (unsigned long long)(a->timeout_usec / 1000));
        pending_fail_msg(p, ACTIVATION_ERROR_TIMED_OUT,
                         "Failed to activate service '%s': timed out (service_start_timeout=%llums)",
                         p->name, (unsigned long long)(a->timeout_usec / 1000));
        return 0;
}

/*
 * Children.
 */

static struct tracked_child *tracked_child_free(struct tracked_child *tc)
{
        if (!tc)
                return NULL;
        if (tc->pending)
                tc->pending->child = NULL;
        list_unlink(&tc->link);
        spawn_child_free(tc->child);
        free(tc->name);
        free(tc);
        return NULL;
}

static void child_on_exit(struct spawn_child *child, const struct spawn_status *status, void *userdata)
{
        struct tracked_child *tc = userdata;
        struct pending *p = tc->pending;
        _cleanup_free_ char *name = steal_ptr(tc->name);
        pid_t pid = spawn_child_get_pid(child);

        tracked_child_free(tc);
        if (status->code == CLD_EXITED)
                log_debug("activated service '%s' (pid %d) exited with status %d", name, (int)pid, status->status);
        else
                log_info("activated service '%s' (pid %d) was killed by signal %d", name, (int)pid, status->status);
        if (!p)
                return;
        if (status->code == CLD_EXITED) {
                /* status 0: it may have daemonized; wait for the name */
                if (status->status != 0)
                        pending_fail_msg(p, ACTIVATION_ERROR_CHILD_EXITED, "Process %s exited with status %d",
                                         name, status->status);
        } else {
                pending_fail_msg(p, ACTIVATION_ERROR_CHILD_SIGNALED, "Process %s received signal %d",
                                 name, status->status);
        }
}

/* exec @service for @p; fills @error on a positive return */
static int pending_exec(struct activation *a, struct pending *p, const struct service *service,
                        struct activation_error *error)
{
        _cleanup_close_ int out_fd = -1, err_fd = -1;
        _cleanup_free_ char *msg = NULL;
        struct spawn_options o = { .stdout_fd = -1, .stderr_fd = -1 };
        struct tracked_child *tc;
        const char *const *envp;
        char **argv = NULL;
        int r, err = 0;

        if (a->flags & ACTIVATION_SYSTEM_BUS) {
                if (!service_filename_matches(service))
                        return set_error(error, ACTIVATION_ERROR_SERVICE_NOT_FOUND,
                                         "Service file %s should be named %s.service for system bus activation",
                                         service->path ? service->path : "(none)", service->name) ?:
                               ACTIVATION_E_FAILED;
                if (!service->user)
                        return set_error(error, ACTIVATION_ERROR_FILE_INVALID,
                                         "Cannot do system-bus activation with no user") ?:
                               ACTIVATION_E_FAILED;
                o.user = service->user;
        }

        r = spawn_parse_command_line(service->exec, &argv, &msg);
        if (r < 0)
                return error_trace(r);
        if (r)
                return set_error(error, ACTIVATION_ERROR_INVALID_ARGS, "Invalid Exec= line of %s: %s",
                                 service->name, msg) ?: ACTIVATION_E_FAILED;
        envp = activation_get_environment(a);
        if (!envp) {
                spawn_argv_free(argv);
                return error_origin(-ENOMEM);
        }
        if (a->flags & ACTIVATION_REDIRECT_OUTPUT) {
                out_fd = sd_journal_stream_fd(service->name, LOG_INFO, 0);
                err_fd = sd_journal_stream_fd(service->name, LOG_WARNING, 0);
                o.stdout_fd = out_fd;
                o.stderr_fd = err_fd;
        }
        o.argv = (const char *const *)argv;
        o.envp = envp;

        tc = calloc(1, sizeof(*tc));
        if (!tc || !(tc->name = strdup(service->name))) {
                free(tc);
                spawn_argv_free(argv);
                return error_origin(-ENOMEM);
        }
        log_info("activating service name='%s'", service->name);
        r = spawn_child_new(&tc->child, &o, &err);
        if (r) {
                const char *prog = argv[0];

                free(tc->name);
                free(tc);
                switch (r) {
                case SPAWN_E_USER_UNKNOWN:
                        r = set_error(error, ACTIVATION_ERROR_SETUP_FAILED, "User \"%s\" of %s does not exist",
                                      service->user, service->name);
                        break;
                case SPAWN_E_SETUP_FAILED:
                        r = set_error(error, ACTIVATION_ERROR_SETUP_FAILED, "Failed to set up %s for %s: %s",
                                      prog, service->name, strerror(err));
                        break;
                case SPAWN_E_EXEC_FAILED:
                        r = set_error(error, ACTIVATION_ERROR_EXEC_FAILED, "Failed to execute program %s: %s",
                                      prog, strerror(err));
                        break;
                default:
                        if (r == -ENOMEM)
                                break;
                        r = set_error(error, ACTIVATION_ERROR_FORK_FAILED, "Failed to fork: %s", strerror(-r));
                        break;
                }
                spawn_argv_free(argv);
                if (!r) {
                        log_info("failed to activate service '%s': %s", service->name, error->message);
                        return ACTIVATION_E_FAILED;
                }
                return error_trace(r);
        }
        spawn_argv_free(argv);
        tc->activation = a;
        list_link_tail(&a->children, &tc->link);
        r = spawn_child_watch(tc->child, a->loop, child_on_exit, tc);
        if (r < 0) {
                /* cannot watch it: reap it now rather than leak it */
                struct spawn_status st;

                (void)spawn_child_kill(tc->child, SIGKILL);
                (void)spawn_child_wait(tc->child, &st);
                tracked_child_free(tc);
                return error_trace(r);
        }
        tc->pending = p;
        p->child = tc;
        return 0;
}

static int request_new(struct activation *a, struct pending *p, void *owner, void *request, size_t n_bytes)
{
        struct request *r = calloc(1, sizeof(*r));

        if (!r)
                return error_origin(-ENOMEM);
        if (charge(a, owner, n_bytes) < 0) {
                free(r);
                return error_origin(-ENOMEM);
        }
        r->owner = owner;
        r->request = request;
        r->n_bytes = n_bytes;
        list_link_tail(&p->requests, &r->link);
        return 0;
}

/*
 * The service file providing @name (*servicep; NULL for systemd itself in
 * systemd mode, which needs none), looked up as dbus-daemon does (a rescan
 * if unknown; see servicedir_registry_lookup()); a rescan that changed
 * something is reported through ops->services_changed. Return: 0,
 * ACTIVATION_E_SERVICE_UNKNOWN, -ENOMEM.
 */
static int activation_find(struct activation *a, const char *name, struct service **servicep)
{
        struct servicedir_changes changes = {};
        int r;

        *servicep = NULL;
        if ((a->flags & ACTIVATION_SYSTEMD) && !strcmp(name, SYSTEMD_NAME))
                return 0;
        r = servicedir_registry_lookup(a->registry, name, servicep, &changes);
        if (r < 0)
                return error_trace(r);
        if (changes.n_changes && a->ops->services_changed)
                a->ops->services_changed(a->userdata);
        servicedir_changes_deinit(&changes);
        return r ? ACTIVATION_E_SERVICE_UNKNOWN : 0;
}

int activation_lookup(struct activation *activation, const char *name)
{
        struct service *service;

        return activation_find(activation, name, &service);
}

int activation_start(struct activation *activation, const char *name, void *owner,
                     void *request, size_t n_bytes, struct activation_error *errorp)
{
        struct activation *a = activation;
        struct activation_error dummy = {}, *error = errorp ? errorp : &dummy;
        struct service *service = NULL;
        struct pending *p;
        int r;

        if (a->n_requests >= a->max_pending) {
                r = set_error(error, ACTIVATION_ERROR_LIMITS_EXCEEDED,
                              "The maximum number of pending activations has been reached, activation of %s failed (max_pending_service_starts=%zu)",
                              name, a->max_pending);
                activation_error_deinit(&dummy);
                return r ?: ACTIVATION_E_LIMITS_EXCEEDED;
        }
        if (activation_owner_bytes(a, owner) + n_bytes > a->max_bytes_per_owner ||
            n_bytes > a->max_bytes_per_owner) {
                r = set_error(error, ACTIVATION_ERROR_LIMITS_EXCEEDED,
                              "Too much data queued for activation of %s (limit %zu bytes)",
                              name, a->max_bytes_per_owner);
                activation_error_deinit(&dummy);
                return r ?: ACTIVATION_E_LIMITS_EXCEEDED;
        }

        p = pending_find(a, name);
        if (p)
                return error_trace(request_new(a, p, owner, request, n_bytes));

        r = activation_find(a, name, &service);
        if (r < 0)
                return error_trace(r);
        if (r) {
                r = set_error(error, ACTIVATION_ERROR_SERVICE_UNKNOWN,
                              "The name %s was not provided by any .service files", name);
                activation_error_deinit(&dummy);
                return r ?: ACTIVATION_E_SERVICE_UNKNOWN;
        }

        p = calloc(1, sizeof(*p));
        if (!p)
                return error_origin(-ENOMEM);
        p->activation = a;
        rb_node_init(&p->rb);
        list_node_init(&p->detached);
        list_node_init(&p->requests);
        p->name = strdup(name);
        if (!p->name) {
                pending_free(p);
                return error_origin(-ENOMEM);
        }
        r = loop_add_time_relative(a->loop, &p->timeout, a->timeout_usec, pending_on_timeout, p);
        if (r < 0) {
                pending_free(p);
                return error_origin(r);
        }

        if (!service) {
                /* systemd itself: wait for it to connect */
                r = 0;
        } else if ((a->flags & ACTIVATION_SYSTEMD) && service->systemd_service) {
                p->unit = strdup(service->systemd_service);
                if (!p->unit) {
                        pending_free(p);
                        return error_origin(-ENOMEM);
                }
                log_info("activating via systemd: service name='%s' unit='%s'", name, p->unit);
                r = a->ops->systemd_start ? a->ops->systemd_start(a->userdata, name, p->unit) : -EOPNOTSUPP;
                if (r < 0) {
                        r = set_error(error, ACTIVATION_ERROR_SPAWN_FAILED,
                                      "Failed to activate %s via systemd unit %s: %s", name, p->unit, strerror(-r)) ?:
                            ACTIVATION_E_FAILED;
                }
        } else if ((a->flags & ACTIVATION_SYSTEMD) && (a->flags & ACTIVATION_NO_EXEC_FALLBACK)) {
                r = set_error(error, ACTIVATION_ERROR_SPAWN_FAILED,
                              "Cannot activate %s: it has no SystemdService= and direct activation is disabled",
                              name) ?: ACTIVATION_E_FAILED;
        } else {
                p->exec = strdup(service->exec);
                r = p->exec ? pending_exec(a, p, service, error) : error_origin(-ENOMEM);
        }
        if (!r)
                r = request_new(a, p, owner, request, n_bytes);
        if (r) {
                if (p->child) {
                        /* started, but we cannot queue: it runs unattended */
                        p->child->pending = NULL;
                        p->child = NULL;
                }
                pending_free(p);
                activation_error_deinit(&dummy);
                return error_trace(r);
        }
        rb_insert(&a->pending, &p->rb, p->name, pending_cmp);
        activation_error_deinit(&dummy);
        return 0;
}

void activation_name_acquired(struct activation *activation, const char *name)
{
        struct pending *p = pending_find(activation, name);

        if (!p)
                return;
        log_info("successfully activated service '%s'", name);
        pending_detach(p);
        pending_finish(p, NULL);
}

void activation_systemd_failure(struct activation *activation, const char *unit,
                                const char *error_name, const char *error_message)
{
        struct list_node victims = LIST_INIT(victims);
        struct activation_error e = { .name = error_name, .message = (char *)error_message };
        struct rb_node *n, *t;

        log_info("activation via systemd failed for unit '%s': %s", unit, error_message);
        rb_for_each_safe(n, t, &activation->pending) {
                struct pending *p = rb_entry(n, struct pending, rb);

                if (p->unit && !strcmp(p->unit, unit)) {
                        pending_detach(p);
                        list_link_tail(&victims, &p->detached);
                }
        }
        while (!list_is_empty(&victims)) {
                struct pending *p = list_entry(list_first(&victims), struct pending, detached);

                list_unlink(&p->detached);
                pending_finish(p, &e);
        }
}

void activation_cancel_owner(struct activation *activation, void *owner)
{
        struct list_node dropped = LIST_INIT(dropped);
        struct rb_node *n;

        rb_for_each(n, &activation->pending) {
                struct pending *p = rb_entry(n, struct pending, rb);
                struct request *r, *t;

                list_for_each_entry_safe(r, t, &p->requests, struct request, link) {
                        if (r->owner != owner)
                                continue;
                        list_unlink(&r->link);
                        list_link_tail(&dropped, &r->link);
                }
        }
        while (!list_is_empty(&dropped)) {
                struct request *r = list_entry(list_first(&dropped), struct request, link);
                void *request = r->request;

                list_unlink(&r->link);
                uncharge(activation, r->owner, r->n_bytes);
                free(r);
                activation->ops->discard(activation->userdata, request);
        }
}

int activation_new(struct activation **activationp, struct loop *loop,
                   struct servicedir_registry *registry,
                   const struct activation_config *config,
                   const struct activation_ops *ops, void *userdata)
{
        struct activation *a;
        char **e;

        a = calloc(1, sizeof(*a));
        if (!a)
                return error_origin(-ENOMEM);
        a->loop = loop;
        a->registry = registry;
        a->ops = ops;
        a->userdata = userdata;
        a->timeout_usec = config->start_timeout_usec;
        a->max_pending = config->max_pending;
        a->max_bytes_per_owner = config->max_bytes_per_owner;
        a->flags = config->flags;
        rb_root_init(&a->pending);
        rb_root_init(&a->owners);
        list_node_init(&a->children);
        if ((config->address && !(a->address = strdup(config->address))) ||
            (config->bus_type && !(a->bus_type = strdup(config->bus_type))))
                goto oom;
        for (e = environ; e && *e; ++e) {
                char *kv = strdup(*e);

                if (!kv || env_put(&a->env, &a->n_env, kv) < 0)
                        goto oom;
        }
        *activationp = a;
        return 0;
oom:
        activation_free(a);
        return error_origin(-ENOMEM);
}

void activation_set_limits(struct activation *activation, const struct activation_config *config)
{
        activation->timeout_usec = config->start_timeout_usec;
        activation->max_pending = config->max_pending;
        activation->max_bytes_per_owner = config->max_bytes_per_owner;
}

struct activation *activation_free(struct activation *activation)
{
        struct activation *a = activation;
        struct list_node victims = LIST_INIT(victims);
        struct rb_node *n, *t;

        if (!a)
                return NULL;
        rb_for_each_safe(n, t, &a->pending) {
                struct pending *p = rb_entry(n, struct pending, rb);

                pending_detach(p);
                list_link_tail(&victims, &p->detached);
        }
        while (!list_is_empty(&victims)) {
                struct pending *p = list_entry(list_first(&victims), struct pending, detached);

                list_unlink(&p->detached);
                while (!list_is_empty(&p->requests)) {
                        struct request *r = list_entry(list_first(&p->requests), struct request, link);
                        void *request = r->request;

                        list_unlink(&r->link);
                        uncharge(a, r->owner, r->n_bytes);
                        free(r);
                        a->ops->discard(a->userdata, request);
                }
                pending_free(p);
        }
        while (!list_is_empty(&a->children))
                tracked_child_free(list_entry(list_first(&a->children), struct tracked_child, link));
        env_free(a->env, a->n_env);
        env_free(a->envp, a->n_envp);
        free(a->address);
        free(a->bus_type);
        free(a);
        return NULL;
}
