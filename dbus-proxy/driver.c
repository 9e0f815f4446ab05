/*
 * The bus driver (org.freedesktop.DBus). See driver.h.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbus-proxy/activation.h"
#include "dbus-proxy/broker.h"
#include "dbus-proxy/cmdline.h"
#include "dbus-proxy/connection.h"
#include "dbus-proxy/driver.h"
#include "dbus-proxy/marshal-builder.h"
#include "dbus-proxy/message.h"
#include "dbus-proxy/servicedir.h"
#include "dbus-proxy/syntax.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/log.h"

#define DRIVER_PATH "/org/freedesktop/DBus"
#define DRIVER_IFACE "org.freedesktop.DBus"
#define ERR(x) "org.freedesktop.DBus.Error." x

enum {
        DRIVER_CANONICAL_PATH = 1u << 0,        /* only at /org/freedesktop/DBus */
        DRIVER_PRIVILEGED = 1u << 1,            /* only for the bus's uid (or root) */
        DRIVER_GROWS = 1u << 2,                 /* may add a name or rule: update the Debug.Stats peaks */
};

struct driver_method {
        const char *interface;
        const char *member;
        const char *signature;
        int (*fn)(struct broker *b, struct connection *c, struct message *m);
        unsigned int flags;
};

/* ---- replies ---- */

static void driver_reply_init(struct broker *b, struct message_builder *mb, struct connection *c, struct message *m)
{
        message_builder_init(mb, MARSHAL_TYPE_METHOD_RETURN, false, broker_next_serial(b));
        message_builder_set_flags(mb, MARSHAL_FLAG_NO_REPLY_EXPECTED);
        message_builder_set_reply_serial(mb, m->serial);
        message_builder_set_field(mb, MARSHAL_FIELD_DESTINATION, c->unique_name);
        message_builder_set_field(mb, MARSHAL_FIELD_SENDER, NAME_DRIVER);
}

static int driver_reply_send(struct broker *b, struct message_builder *mb, struct connection *c, struct message *m)
{
        struct message *reply = NULL;
        int r;

        r = message_builder_seal(mb, &reply, NULL, 0);
        message_builder_deinit(mb);
        if (r > 0) {
                log_err("driver: cannot build the reply to %s: %s", m->member, marshal_strerror(r));
                return error_origin(-EINVAL);
        }
        if (r < 0)
                return r;
        if (!(m->flags & MARSHAL_FLAG_NO_REPLY_EXPECTED))
                r = broker_send_from_driver(b, reply, c);
        message_unref(reply);
        return r;
}

static int driver_reply_empty(struct broker *b, struct connection *c, struct message *m)
{
        struct message_builder mb;

        driver_reply_init(b, &mb, c, m);
        return driver_reply_send(b, &mb, c, m);
}

static int driver_reply_value(struct broker *b, struct connection *c, struct message *m, char type, const void *v)
{
        struct message_builder mb;

        driver_reply_init(b, &mb, c, m);
        message_builder_append(&mb, type, v);
        return driver_reply_send(b, &mb, c, m);
}

static int driver_reply_string(struct broker *b, struct connection *c, struct message *m, const char *s)
{
        return driver_reply_value(b, c, m, 's', &s);
}

static int driver_reply_u32(struct broker *b, struct connection *c, struct message *m, uint32_t u)
{
        return driver_reply_value(b, c, m, 'u', &u);
}

static int driver_reply_bool(struct broker *b, struct connection *c, struct message *m, bool v)
{
        return driver_reply_value(b, c, m, 'b', &v);
}

/* ---- org.freedesktop.DBus ---- */

static int driver_hello(struct broker *b, struct connection *c, struct message *m)
{
        int r;

        if (c->hello_done)
                return broker_send_error(b, c, m, ERR("Failed"), "Already handled an Hello message");
        {
                long max_all = b->config->limits.max_completed_connections;
                long max_user = b->config->limits.max_connections_per_user;
                size_t n_all = 0, n_user = 0;
                struct rb_node *n;

                rb_for_each(n, &b->connections) {
                        struct connection *x = rb_entry(n, struct connection, rb);

                        if (x == c || x->closing || !x->hello_done)
                                continue;
                        ++n_all;
                        if (x->uid == c->uid)
                                ++n_user;
                }
                if ((max_all >= 0 && n_all >= (size_t)max_all) || (max_user >= 0 && n_user >= (size_t)max_user)) {
                        _cleanup_free_ char *text = NULL;

                        if (asprintf(&text, n_all >= (size_t)max_all ?
                                     "The maximum number of active connections has been reached" :
                                     "The maximum number of active connections for UID %u has been reached",
                                     (unsigned)c->uid) < 0)
                                return error_origin(-ENOMEM);
                        /*
                         * As dbus-daemon: the error has no destination (the
                         * connection got no name), and the connection stays,
                         * free to say Hello again once there is room.
                         */
                        connection_hello_refused(c);
                        return broker_send_error_unregistered(b, c, m, ERR("LimitsExceeded"), text);
                }
        }
        c->hello_done = true;
        /* dbus-daemon answers Hello even if it asked for no reply */
        m->flags &= ~MARSHAL_FLAG_NO_REPLY_EXPECTED;
        r = driver_reply_string(b, c, m, c->unique_name);
        if (r < 0)
                return r;
        r = broker_name_owner_changed(b, c->unique_name, NULL, c->unique_name);
        if (r < 0)
                return r;
        return broker_name_signal(b, c, "NameAcquired", c->unique_name);
}

static int driver_request_name(struct broker *b, struct connection *c, struct message *m)
{
        struct name_changes changes = NAME_CHANGES_INIT;
        struct policy_verdict v;
        const char *name;
        uint32_t flags;
        long max = b->config->limits.max_names_per_connection;
        int r;

        message_read_basic(m, "su", &name, &flags);
        if (!syntax_is_bus_name(name))
                return broker_send_error(b, c, m, ERR("InvalidArgs"), "Requested bus name \"%s\" is not valid", name);
        if (name[0] == ':')
                return broker_send_error(b, c, m, ERR("InvalidArgs"),
                                         "Cannot acquire a service starting with ':' such as \"%s\"", name);
        if (!strcmp(name, NAME_DRIVER))
                return broker_send_error(b, c, m, ERR("InvalidArgs"),
                                         "Connection \"%s\" is not allowed to own the service \"%s\" because "
                                         "it is reserved for D-Bus' use only", c->unique_name, name);
        policy_snapshot_check_own(&c->policy, name, &v);
        if (!v.allow)
                return broker_send_error(b, c, m, ERR("AccessDenied"),
                                         "Connection \"%s\" is not allowed to own the service \"%s\" due to "
                                         "security policies in the configuration file", c->unique_name, name);
        /* the unique name counts as a name, as in dbus-daemon */
        if (max >= 0 && c->names.n_ownerships + 1 >= (size_t)max) {
                struct name_entry *e = name_registry_find(&b->names, name);
                struct name_ownership *o;
                bool have = false;

                if (e)
                        name_entry_for_each_ownership(o, e)
                                if (o->owner == &c->names)
                                        have = true;
                if (!have)
                        return broker_send_error(b, c, m, ERR("LimitsExceeded"),
                                                 "Connection \"%s\" is not allowed to own more services (increase "
                                                 "limits in configuration file if required; "
                                                 "max_names_per_connection=%ld)", c->unique_name, max);
        }
        r = name_registry_request(&b->names, &c->names, name, flags, &changes);
        if (r < 0) {
                name_changes_clear(&changes);
                return r;
        }
        if (r >= NAME_E_INVALID) {
                name_changes_clear(&changes);
                return broker_send_error(b, c, m, ERR("InvalidArgs"), "Requested bus name \"%s\" is not valid", name);
        }
        {
                int e = broker_name_changes_emit(b, &changes);

                if (e < 0)
                        return e;
        }
        return driver_reply_u32(b, c, m, (uint32_t)r);
}

static int driver_release_name(struct broker *b, struct connection *c, struct message *m)
{
        struct name_changes changes = NAME_CHANGES_INIT;
        const char *name;
        int r, e;

        message_read_basic(m, "s", &name);
        if (!syntax_is_bus_name(name))
                return broker_send_error(b, c, m, ERR("InvalidArgs"), "Given bus name \"%s\" is not valid", name);
        if (name[0] == ':')
                return broker_send_error(b, c, m, ERR("InvalidArgs"),
                                         "Cannot release a service starting with ':' such as \"%s\"", name);
        if (!strcmp(name, NAME_DRIVER))
                return broker_send_error(b, c, m, ERR("InvalidArgs"),
                                         "Cannot release the %s service because it is owned by the bus", name);
        r = name_registry_release(&b->names, &c->names, name, &changes);
        if (r < 0) {
                name_changes_clear(&changes);
                return r;
        }
        e = broker_name_changes_emit(b, &changes);
        if (e < 0)
                return e;
        if (r >= NAME_E_INVALID)
                return broker_send_error(b, c, m, ERR("InvalidArgs"), "Given bus name \"%s\" is not valid", name);
        return driver_reply_u32(b, c, m, (uint32_t)r);
}

static int driver_list_names(struct broker *b, struct connection *c, struct message *m)
{
        struct message_builder mb;
        struct rb_node *n;
        const char *s = NAME_DRIVER;

        driver_reply_init(b, &mb, c, m);
        message_builder_open(&mb, "as");
        message_builder_append(&mb, 's', &s);
        rb_for_each(n, &b->connections) {
                struct connection *x = rb_entry(n, struct connection, rb);

                if (x->state != CONNECTION_RUNNING || x->closing || x->is_monitor || !x->hello_done)
                        continue;
                s = x->unique_name;
                message_builder_append(&mb, 's', &s);
        }
        for (struct name_entry *e = name_registry_first(&b->names); e; e = name_entry_next(e)) {
                s = e->name;
                message_builder_append(&mb, 's', &s);
        }
        message_builder_close(&mb);
        return driver_reply_send(b, &mb, c, m);
}

static int driver_list_activatable_names(struct broker *b, struct connection *c, struct message *m)
{
        struct message_builder mb;
        const char *s = NAME_DRIVER, **names = NULL;
        int r;

        r = servicedir_registry_list_names(b->services, &names, NULL);
        if (r < 0)
                return r;
        driver_reply_init(b, &mb, c, m);
        message_builder_open(&mb, "as");
        message_builder_append(&mb, 's', &s);
        for (const char **n = names; *n; ++n)
                message_builder_append(&mb, 's', n);
        message_builder_close(&mb);
        free(names);
        return driver_reply_send(b, &mb, c, m);
}

/* resolve a name argument: the driver itself, a connection, or nothing */
static struct connection *driver_lookup(struct broker *b, const char *name, bool *is_driver)
{
        *is_driver = !strcmp(name, NAME_DRIVER);
        if (*is_driver)
                return NULL;
        return broker_find_connection(b, name);
}

static int driver_name_has_owner(struct broker *b, struct connection *c, struct message *m)
{
        const char *name;
        bool is_driver;
        struct connection *x;

        message_read_basic(m, "s", &name);
        x = driver_lookup(b, name, &is_driver);
        return driver_reply_bool(b, c, m, is_driver || x);
}

static int driver_get_name_owner(struct broker *b, struct connection *c, struct message *m)
{
        const char *name;
        bool is_driver;
        struct connection *x;

        message_read_basic(m, "s", &name);
        x = driver_lookup(b, name, &is_driver);
        if (is_driver)
                return driver_reply_string(b, c, m, NAME_DRIVER);
        if (!x)
                return broker_send_error(b, c, m, ERR("NameHasNoOwner"),
                                         "Could not get owner of name '%s': no such name", name);
        return driver_reply_string(b, c, m, x->unique_name);
}

static int driver_list_queued_owners(struct broker *b, struct connection *c, struct message *m)
{
        struct message_builder mb;
        struct name_ownership *o;
        struct name_entry *e;
        const char *name, *s;
        struct connection *x;

        message_read_basic(m, "s", &name);
        driver_reply_init(b, &mb, c, m);
        message_builder_open(&mb, "as");
        if (!strcmp(name, NAME_DRIVER)) {
                s = NAME_DRIVER;
                message_builder_append(&mb, 's', &s);
        } else if (name[0] == ':') {
                x = broker_find_connection(b, name);
                if (!x) {
                        message_builder_deinit(&mb);
                        return broker_send_error(b, c, m, ERR("NameHasNoOwner"),
                                                 "Could not get owners of name '%s': no such name", name);
                }
                s = x->unique_name;
                message_builder_append(&mb, 's', &s);
        } else {
                e = name_registry_find(&b->names, name);
                if (!e) {
                        message_builder_deinit(&mb);
                        return broker_send_error(b, c, m, ERR("NameHasNoOwner"),
                                                 "Could not get owners of name '%s': no such name", name);
                }
                name_entry_for_each_ownership(o, e) {
                        x = (struct connection *)((char *)o->owner - offsetof(struct connection, names));
                        s = x->unique_name;
                        message_builder_append(&mb, 's', &s);
                }
        }
        message_builder_close(&mb);
        return driver_reply_send(b, &mb, c, m);
}

/* ---- activation (dbus-proxy/activation.h) ---- */

/* a request waiting for an activated name */
struct driver_activation_request {
        struct connection *sender;      /* NULL: the driver's own (ActivationRequest) */
        struct message *m;
        bool start_service;             /* StartServiceByName: reply 1 when started */
};

static void driver_activation_request_free(struct driver_activation_request *q)
{
        message_unref(q->m);
        free(q);
}

static void driver_activation_ready(void *userdata, const char *name, void *request)
{
        struct broker *b = userdata;
        struct driver_activation_request *q = request;
        int r;

        (void)name;
        if (!q->sender) /* an ActivationRequest; monitors saw it when it was made */
                r = broker_deliver_from_driver(b, q->m, broker_find_connection(b, q->m->destination));
        else if (q->start_service)
                r = driver_reply_u32(b, q->sender, q->m, 1); /* DBUS_START_REPLY_SUCCESS */
        else
                r = broker_dispatch_activated(b, q->sender, q->m);
        if (r < 0)
                log_err("cannot deliver a message queued for activation: %s", strerror(-r));
        driver_activation_request_free(q);
}

static void driver_activation_failed(void *userdata, const char *name, void *request,
                                     const struct activation_error *e)
{
        struct broker *b = userdata;
        struct driver_activation_request *q = request;

        (void)name;
        if (q->sender)
                (void)broker_send_error(b, q->sender, q->m, e->name, "%s", e->message);
        driver_activation_request_free(q);
}

static void driver_activation_discard(void *userdata, void *request)
{
        (void)userdata;
        driver_activation_request_free(request);
}

#define SYSTEMD_NAME "org.freedesktop.systemd1"

/*
 * Hand @m (consumed) to systemd: at once if @systemd (its connection) is on
 * the bus, else queued on the activation of SYSTEMD_NAME until systemd
 * takes the name, as dbus-daemon does. Return: what broker_send_from_driver()
 * returns, or 0 once queued, a negative errno or the positive ACTIVATION_E_*
 * of activation_start() if it could not be.
 */
static int driver_to_systemd(struct broker *b, struct connection *systemd, struct message *m)
{
        struct driver_activation_request *q;
        int r;

        if (systemd) {
                r = broker_send_from_driver(b, m, systemd);
                message_unref(m);
                return r;
        }
        q = calloc(1, sizeof(*q));
        if (!q) {
                message_unref(m);
                return error_origin(-ENOMEM);
        }
        q->m = m;
        r = activation_start(b->activation, SYSTEMD_NAME, NULL, q, m->n_data, NULL);
        if (r)
                driver_activation_request_free(q);
        return r;
}

static int driver_activation_systemd_start(void *userdata, const char *name, const char *unit)
{
        struct broker *b = userdata;
        struct message_builder mb;
        struct connection *systemd;
        struct message *m = NULL;
        int r;

        (void)name;
        message_builder_init(&mb, MARSHAL_TYPE_SIGNAL, false, broker_next_serial(b));
        message_builder_set_field(&mb, MARSHAL_FIELD_PATH, DRIVER_PATH);
        message_builder_set_field(&mb, MARSHAL_FIELD_INTERFACE, "org.freedesktop.systemd1.Activator");
        message_builder_set_field(&mb, MARSHAL_FIELD_MEMBER, "ActivationRequest");
        message_builder_set_field(&mb, MARSHAL_FIELD_DESTINATION, SYSTEMD_NAME);
        message_builder_set_field(&mb, MARSHAL_FIELD_SENDER, NAME_DRIVER);
        message_builder_append_string(&mb, unit);
        r = message_builder_seal(&mb, &m, NULL, 0);
        message_builder_deinit(&mb);
        if (r > 0)
                return error_origin(-EINVAL);
        if (r < 0)
                return r;

        systemd = broker_find_connection(b, SYSTEMD_NAME);
        if (!systemd) {
                /* systemd is not on the bus (yet): monitors see the signal now, systemd when it comes */
                r = broker_monitor_copy(b, NULL, m);
                if (r < 0) {
                        message_unref(m);
                        return r;
                }
        }
        r = driver_to_systemd(b, systemd, m);
        return !systemd && r > 0 ? -ENOTCONN : r;
}

static void driver_activation_services_changed(void *userdata)
{
        (void)broker_activatable_services_changed(userdata);
}

static void driver_services_changed(void *userdata, const struct servicedir_changes *changes)
{
        (void)changes;
        (void)broker_activatable_services_changed(userdata);
}

static const struct activation_ops driver_activation_ops = {
        .ready = driver_activation_ready,
        .failed = driver_activation_failed,
        .discard = driver_activation_discard,
        .systemd_start = driver_activation_systemd_start,
        .services_changed = driver_activation_services_changed,
};

/* the limits of the configuration for activation */
static void driver_activation_limits(const struct bus_config *config, struct activation_config *ac)
{
        ac->start_timeout_usec = (uint64_t)config->limits.service_start_timeout * 1000;
        ac->max_pending = (size_t)config->limits.max_pending_service_starts;
        /*
         * No separate byte limit: a message waiting for its service stays
         * charged to its sender, whose reading stops at max_incoming_bytes
         * (connection.h), as in dbus-daemon.
         */
        ac->max_bytes_per_owner = SIZE_MAX;
}

int driver_activation_new(struct broker *b)
{
        const struct bus_config *config = b->config;
        struct activation_config ac = {
                .address = b->address,
                .bus_type = config->type,
        };
        int r;

        driver_activation_limits(config, &ac);

        if (config->servicehelper)
                ac.flags |= ACTIVATION_SYSTEM_BUS;
        if (b->cmdline->systemd_activation)
                ac.flags |= ACTIVATION_SYSTEMD;
        if (config->syslog)
                ac.flags |= ACTIVATION_REDIRECT_OUTPUT;
        r = servicedir_registry_new(&b->services, config->servicedirs, config->n_servicedirs,
                                    config->servicehelper ? SERVICEDIR_REGISTRY_SYSTEM : 0);
        if (r < 0)
                return r;
        r = servicedir_registry_rescan(b->services, NULL);
        if (r < 0)
                return r;
        r = servicedir_registry_watch(b->services, b->loop, driver_services_changed, b);
        if (r < 0)
                log_warn("cannot watch the service directories: %s", strerror(-r));
        return activation_new(&b->activation, b->loop, b->services, &ac, &driver_activation_ops, b);
}

void driver_activation_free(struct broker *b)
{
        b->activation = activation_free(b->activation);
        b->services = servicedir_registry_free(b->services);
}

int driver_activation_reload(struct broker *b)
{
        struct servicedir_changes changes = {};
        struct activation_config ac = {};
        int r;

        if (b->activation) {
                driver_activation_limits(b->config, &ac);
                activation_set_limits(b->activation, &ac);
        }
        if (!b->services)
                return 0;
        r = servicedir_registry_set_dirs(b->services, b->config->servicedirs, b->config->n_servicedirs);
        if (r >= 0)
                r = servicedir_registry_rescan(b->services, &changes);
        if (r >= 0 && changes.n_changes)
                r = broker_activatable_services_changed(b);
        servicedir_changes_deinit(&changes);
        return r;
}

static int driver_activation_queue(struct broker *b, struct connection *c, struct message *m, const char *name,
                                   bool start_service)
{
        struct activation_error e = {};
        struct driver_activation_request *q;
        int r;

        q = calloc(1, sizeof(*q));
        if (!q)
                return error_origin(-ENOMEM);
        q->sender = c;
        q->m = message_ref(m);
        q->start_service = start_service;
        r = activation_start(b->activation, name, c, q, m->n_data, &e);
        /* monitors see the message after the ActivationRequest it caused (broker_dispatch()) */
        if (!start_service) {
                int k = broker_monitor_copy(b, c, m);

                if (k < 0 && r == 0)
                        return k; /* the request stays queued; the copy failed */
        }
        if (r) {
                driver_activation_request_free(q);
                if (r > 0)
                        r = broker_send_error(b, c, m, e.name, "%s", e.message);
                activation_error_deinit(&e);
        }
        return r;
}

static int driver_start_service(struct broker *b, struct connection *c, struct message *m)
{
        const char *name;
        uint32_t flags;
        bool is_driver;
        int r;

        message_read_basic(m, "su", &name, &flags);
        /*
         * As dbus-daemon and dbus-broker: only a name that can be activated
         * is started or "already running"; any other, owned or not (the
         * driver's, a unique name, one no file provides), is unknown.
         */
        r = name[0] != ':' && syntax_is_bus_name(name) ? activation_lookup(b->activation, name)
                                                          : ACTIVATION_E_SERVICE_UNKNOWN;
        if (r < 0)
                return r;
        if (r)
                return broker_send_error(b, c, m, ERR("ServiceUnknown"),
                                         "The name %s was not provided by any .service files", name);
        if (driver_lookup(b, name, &is_driver) || is_driver)
                return driver_reply_u32(b, c, m, 2); /* DBUS_START_REPLY_ALREADY_RUNNING */
        return driver_activation_queue(b, c, m, name, true);
}

int driver_activate(struct broker *b, struct connection *sender, struct message *m)
{
        return driver_activation_queue(b, sender, m, m->destination, false);
}

void driver_activation_name_acquired(struct broker *b, const char *name)
{
        if (b->activation && name[0] != ':')
                activation_name_acquired(b->activation, name);
}

void driver_activation_connection_gone(struct broker *b, struct connection *c)
{
        if (b->activation)
                activation_cancel_owner(b->activation, c);
}

int driver_activation_failure(struct broker *b, struct connection *sender, struct message *m)
{
        const char *unit, *error_name, *text;

        if (!b->activation || broker_find_connection(b, SYSTEMD_NAME) != sender ||
            strcmp(m->signature, "sss"))
                return 0;
        message_read_basic(m, "sss", &unit, &error_name, &text);
        if (!syntax_is_interface(error_name))
                error_name = ERR("Spawn.Failed");
        activation_systemd_failure(b->activation, unit, error_name, text);
        return 0;
}

/*
 * In systemd mode, dbus-daemon passes activation environment updates on to
 * systemd (org.freedesktop.systemd1.Manager.SetEnvironment), addressed to
 * systemd's unique name, or to org.freedesktop.systemd1 and queued until
 * systemd connects.
 */
static int driver_systemd_set_environment(struct broker *b, const char **keys, const char **values, size_t n)
{
        struct connection *systemd = broker_find_connection(b, SYSTEMD_NAME);
        struct message_builder mb;
        struct message *m = NULL;
        int r;

        message_builder_init(&mb, MARSHAL_TYPE_METHOD_CALL, false, broker_next_serial(b));
        message_builder_set_flags(&mb, MARSHAL_FLAG_NO_REPLY_EXPECTED);
        message_builder_set_field(&mb, MARSHAL_FIELD_PATH, "/org/freedesktop/systemd1");
        message_builder_set_field(&mb, MARSHAL_FIELD_INTERFACE, "org.freedesktop.systemd1.Manager");
        message_builder_set_field(&mb, MARSHAL_FIELD_MEMBER, "SetEnvironment");
        message_builder_set_field(&mb, MARSHAL_FIELD_DESTINATION, systemd ? systemd->unique_name : SYSTEMD_NAME);
        message_builder_set_field(&mb, MARSHAL_FIELD_SENDER, NAME_DRIVER);
        message_builder_open(&mb, "as");
        for (size_t i = 0; i < n; ++i) {
                _cleanup_free_ char *kv = NULL;

                if (asprintf(&kv, "%s=%s", keys[i], values[i]) < 0) {
                        message_builder_deinit(&mb);
                        return error_origin(-ENOMEM);
                }
                message_builder_append_string(&mb, kv);
        }
        message_builder_close(&mb);
        r = message_builder_seal(&mb, &m, NULL, 0);
        message_builder_deinit(&mb);
        if (r > 0)
                return error_origin(-EINVAL);
        if (r < 0)
                return r;
        r = driver_to_systemd(b, systemd, m);
        if (systemd)
                return r;
        if (r)
                log_warn("cannot pass the activation environment on to systemd");
        return r < 0 ? r : 0;
}

static int driver_update_activation_environment(struct broker *b, struct connection *c, struct message *m)
{
        struct marshal_reader r;
        const char **keys = NULL, **values = NULL;
        size_t n = 0, cap = 0;
        int ret;

        message_body_reader(m, &r);
        marshal_reader_enter(&r, 'a');
        while (marshal_reader_peek(&r)) {
                const char *k, *v;

                marshal_reader_enter(&r, '{');
                marshal_reader_read(&r, 's', &k);
                marshal_reader_read(&r, 's', &v);
                marshal_reader_exit(&r);
                /*
                 * dbus-daemon accepts any name and puts "=v" or "A=B=v" into
                 * the environment of what it starts; the call succeeds here
                 * too, but a name no environment can hold is left out.
                 */
                if (!k[0] || strchr(k, '=')) {
                        log_warn("%s: UpdateActivationEnvironment: ignoring \"%s\", not a valid variable name",
                                 c->unique_name, k);
                        continue;
                }
                if (n == cap) {
                        const char **nk, **nv;

                        cap = cap ? 2 * cap : 16;
                        nk = realloc(keys, cap * sizeof(*keys));
                        if (nk)
                                keys = nk;
                        nv = realloc(values, cap * sizeof(*values));
                        if (nv)
                                values = nv;
                        if (!nk || !nv) {
                                free(keys);
                                free(values);
                                return error_origin(-ENOMEM);
                        }
                }
                keys[n] = k;
                values[n++] = v;
        }
        ret = activation_update_environment(b->activation, keys, values, n);
        if (ret == 0 && b->cmdline->systemd_activation)
                ret = driver_systemd_set_environment(b, keys, values, n);
        free(keys);
        free(values);
        if (ret < 0)
                return ret;
        if (ret)
                return broker_send_error(b, c, m, ERR("InvalidArgs"), "Environment variable name is invalid");
        return driver_reply_empty(b, c, m);
}

static int driver_cred_target(struct broker *b, struct connection *c, struct message *m, const char *what,
                              struct connection **xp, bool *is_driver)
{
        const char *name;

        message_read_basic(m, "s", &name);
        *xp = driver_lookup(b, name, is_driver);
        if (!*xp && !*is_driver) {
                broker_send_error(b, c, m, ERR("NameHasNoOwner"), "Could not get %s of name '%s': no such name",
                                  what, name);
                return 1;
        }
        return 0;
}

static int driver_get_unix_user(struct broker *b, struct connection *c, struct message *m)
{
        struct connection *x;
        bool is_driver;

        if (driver_cred_target(b, c, m, "UID", &x, &is_driver))
                return 0;
        if (!is_driver && x->uid == (uid_t)-1)
                return broker_send_error(b, c, m, ERR("Failed"), "Could not determine UID for '%s'", x->unique_name);
        return driver_reply_u32(b, c, m, is_driver ? (uint32_t)b->uid : (uint32_t)x->uid);
}

static int driver_get_unix_pid(struct broker *b, struct connection *c, struct message *m)
{
        struct connection *x;
        bool is_driver;

        if (driver_cred_target(b, c, m, "PID", &x, &is_driver))
                return 0;
        if (!is_driver && x->pid <= 0)
                return broker_send_error(b, c, m, ERR("UnixProcessIdUnknown"),
                                         "Could not determine PID for '%s'", x->unique_name);
        return driver_reply_u32(b, c, m, is_driver ? (uint32_t)getpid() : (uint32_t)x->pid);
}

static int driver_get_adt(struct broker *b, struct connection *c, struct message *m)
{
        struct connection *x;
        bool is_driver;

        if (driver_cred_target(b, c, m, "audit session data", &x, &is_driver))
                return 0;
        return broker_send_error(b, c, m, ERR("AdtAuditDataUnknown"),
                                 "Could not determine audit session data for '%s'",
                                 is_driver ? NAME_DRIVER : x->unique_name);
}

static int driver_get_selinux(struct broker *b, struct connection *c, struct message *m)
{
        struct connection *x;
        bool is_driver;

        if (driver_cred_target(b, c, m, "security context", &x, &is_driver))
                return 0;
        return broker_send_error(b, c, m, ERR("SELinuxSecurityContextUnknown"),
                                 "Could not determine security context for '%s'",
                                 is_driver ? NAME_DRIVER : x->unique_name);
}

static void driver_dict_u32(struct message_builder *mb, const char *key, uint32_t v)
{
        message_builder_open(mb, "{sv}");
        message_builder_append(mb, 's', &key);
        message_builder_open_variant(mb, "u");
        message_builder_append(mb, 'u', &v);
        message_builder_close(mb);
        message_builder_close(mb);
}

static int driver_get_credentials(struct broker *b, struct connection *c, struct message *m)
{
        struct message_builder mb;
        struct connection *x;
        bool is_driver;
        const char *key;

        if (driver_cred_target(b, c, m, "credentials", &x, &is_driver))
                return 0;
        driver_reply_init(b, &mb, c, m);
        message_builder_open(&mb, "a{sv}");
        if (is_driver) {
                driver_dict_u32(&mb, "UnixUserID", (uint32_t)b->uid);
                driver_dict_u32(&mb, "ProcessID", (uint32_t)getpid());
        } else {
                if (x->uid != (uid_t)-1) {
                        driver_dict_u32(&mb, "UnixUserID", (uint32_t)x->uid);
                        if (x->gids) {
                                key = "UnixGroupIDs";
                                message_builder_open(&mb, "{sv}");
                                message_builder_append(&mb, 's', &key);
                                message_builder_open_variant(&mb, "au");
                                message_builder_open(&mb, "au");
                                for (size_t i = 0; i < x->n_gids; ++i) {
                                        uint32_t g = (uint32_t)x->gids[i];

                                        message_builder_append(&mb, 'u', &g);
                                }
                                message_builder_close(&mb);
                                message_builder_close(&mb);
                                message_builder_close(&mb);
                        }
                }
                if (x->pid > 0)
                        driver_dict_u32(&mb, "ProcessID", (uint32_t)x->pid);
                if (x->label) {
                        key = "LinuxSecurityLabel";
                        message_builder_open(&mb, "{sv}");
                        message_builder_append(&mb, 's', &key);
                        message_builder_open_variant(&mb, "ay");
                        message_builder_open(&mb, "ay");
                        for (size_t i = 0; i <= x->n_label; ++i) {
                                uint8_t y = (uint8_t)x->label[i];

                                message_builder_append(&mb, 'y', &y);
                        }
                        message_builder_close(&mb);
                        message_builder_close(&mb);
                        message_builder_close(&mb);
                }
        }
        message_builder_close(&mb);
        return driver_reply_send(b, &mb, c, m);
}

/* the error reply for a match rule @text that match_rule_new() refused with @e */
static int driver_match_error(struct broker *b, struct connection *c, struct message *m, const char *text, int e)
{
        _cleanup_free_ char *why = match_rule_explain(text, e);

        return broker_send_error(b, c, m, match_error_name(e), "%s", why ? why : match_error_message(e));
}

static int driver_add_match(struct broker *b, struct connection *c, struct message *m)
{
        struct match_rule *rule = NULL;
        long max = b->config->limits.max_match_rules_per_connection;
        const char *text;
        int r;

        message_read_basic(m, "s", &text);
        r = match_rule_new(&rule, text);
        if (r < 0)
                return r;
        if (r > 0)
                return driver_match_error(b, c, m, text, r);
        if (max >= 0 && c->matches.n_rules >= (size_t)max) {
                match_rule_free(rule);
                return broker_send_error(b, c, m, ERR("LimitsExceeded"),
                                         "Connection \"%s\" is not allowed to add more match rules (increase "
                                         "limits in configuration file if required; max_match_rules_per_connection=%ld)",
                                         c->unique_name, max);
        }
        r = match_registry_add(&b->matches, &c->matches, rule);
        if (r < 0) {
                match_rule_free(rule);
                return r;
        }
        return driver_reply_empty(b, c, m);
}

static int driver_remove_match(struct broker *b, struct connection *c, struct message *m)
{
        struct match_rule *rule = NULL;
        const char *text;
        int r;

        message_read_basic(m, "s", &text);
        r = match_rule_new(&rule, text);
        if (r < 0)
                return r;
        if (r > 0)
                return driver_match_error(b, c, m, text, r);
        r = match_registry_remove(&b->matches, &c->matches, rule);
        match_rule_free(rule);
        if (r > 0)
                return broker_send_error(b, c, m, match_error_name(r),
                                         "The given match rule wasn't found and can't be removed");
        return driver_reply_empty(b, c, m);
}

static int driver_get_id(struct broker *b, struct connection *c, struct message *m)
{
        return driver_reply_string(b, c, m, b->guid);
}

static int driver_reload_config(struct broker *b, struct connection *c, struct message *m)
{
        int r = broker_reload(b);

        if (r < 0)
                return r;
        if (r > 0)
                return broker_send_error(b, c, m, ERR("Failed"), "Unable to reload configuration");
        return driver_reply_empty(b, c, m);
}

/* ---- Introspectable, Peer ---- */

/*
 * The introspection data, as dbus-daemon 1.14 gives it: on
 * /org/freedesktop/DBus every interface of the driver; on any other path
 * the three that every path answers (org.freedesktop.DBus, Introspectable,
 * Peer) and, on an ancestor of /org/freedesktop/DBus, the child node that
 * leads there.
 */
#define DRIVER_XML_HEAD \
        "<!DOCTYPE node PUBLIC \"-//freedesktop//DTD D-BUS Object Introspection 1.0//EN\"\n" \
        "\"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd\">\n" \
        "<node>\n"

#define DRIVER_XML_DBUS \
        "  <interface name=\"org.freedesktop.DBus\">\n" \
        "    <method name=\"Hello\">\n      <arg direction=\"out\" type=\"s\"/>\n    </method>\n" \
        "    <method name=\"RequestName\">\n      <arg direction=\"in\" type=\"s\"/>\n" \
        "      <arg direction=\"in\" type=\"u\"/>\n      <arg direction=\"out\" type=\"u\"/>\n    </method>\n" \
        "    <method name=\"ReleaseName\">\n      <arg direction=\"in\" type=\"s\"/>\n" \
        "      <arg direction=\"out\" type=\"u\"/>\n    </method>\n" \
        "    <method name=\"StartServiceByName\">\n      <arg direction=\"in\" type=\"s\"/>\n" \
        "      <arg direction=\"in\" type=\"u\"/>\n      <arg direction=\"out\" type=\"u\"/>\n    </method>\n" \
        "    <method name=\"UpdateActivationEnvironment\">\n      <arg direction=\"in\" type=\"a{ss}\"/>\n    </method>\n" \
        "    <method name=\"NameHasOwner\">\n      <arg direction=\"in\" type=\"s\"/>\n" \
        "      <arg direction=\"out\" type=\"b\"/>\n    </method>\n" \
        "    <method name=\"ListNames\">\n      <arg direction=\"out\" type=\"as\"/>\n    </method>\n" \
        "    <method name=\"ListActivatableNames\">\n      <arg direction=\"out\" type=\"as\"/>\n    </method>\n" \
        "    <method name=\"AddMatch\">\n      <arg direction=\"in\" type=\"s\"/>\n    </method>\n" \
        "    <method name=\"RemoveMatch\">\n      <arg direction=\"in\" type=\"s\"/>\n    </method>\n" \
        "    <method name=\"GetNameOwner\">\n      <arg direction=\"in\" type=\"s\"/>\n" \
        "      <arg direction=\"out\" type=\"s\"/>\n    </method>\n" \
        "    <method name=\"ListQueuedOwners\">\n      <arg direction=\"in\" type=\"s\"/>\n" \
        "      <arg direction=\"out\" type=\"as\"/>\n    </method>\n" \
        "    <method name=\"GetConnectionUnixUser\">\n      <arg direction=\"in\" type=\"s\"/>\n" \
        "      <arg direction=\"out\" type=\"u\"/>\n    </method>\n" \
        "    <method name=\"GetConnectionUnixProcessID\">\n      <arg direction=\"in\" type=\"s\"/>\n" \
        "      <arg direction=\"out\" type=\"u\"/>\n    </method>\n" \
        "    <method name=\"GetAdtAuditSessionData\">\n      <arg direction=\"in\" type=\"s\"/>\n" \
        "      <arg direction=\"out\" type=\"ay\"/>\n    </method>\n" \
        "    <method name=\"GetConnectionSELinuxSecurityContext\">\n      <arg direction=\"in\" type=\"s\"/>\n" \
        "      <arg direction=\"out\" type=\"ay\"/>\n    </method>\n" \
        "    <method name=\"ReloadConfig\">\n    </method>\n" \
        "    <method name=\"GetId\">\n      <arg direction=\"out\" type=\"s\"/>\n    </method>\n" \
        "    <method name=\"GetConnectionCredentials\">\n      <arg direction=\"in\" type=\"s\"/>\n" \
        "      <arg direction=\"out\" type=\"a{sv}\"/>\n    </method>\n" \
        "    <property name=\"Features\" type=\"as\" access=\"read\">\n" \
        "      <annotation name=\"org.freedesktop.DBus.Property.EmitsChangedSignal\" value=\"const\"/>\n" \
        "    </property>\n" \
        "    <property name=\"Interfaces\" type=\"as\" access=\"read\">\n" \
        "      <annotation name=\"org.freedesktop.DBus.Property.EmitsChangedSignal\" value=\"const\"/>\n" \
        "    </property>\n" \
        "    <signal name=\"NameOwnerChanged\">\n      <arg type=\"s\"/>\n      <arg type=\"s\"/>\n" \
        "      <arg type=\"s\"/>\n    </signal>\n" \
        "    <signal name=\"NameLost\">\n      <arg type=\"s\"/>\n    </signal>\n" \
        "    <signal name=\"NameAcquired\">\n      <arg type=\"s\"/>\n    </signal>\n" \
        "    <signal name=\"ActivatableServicesChanged\">\n    </signal>\n" \
        "  </interface>\n"

#define DRIVER_XML_PROPERTIES \
        "  <interface name=\"org.freedesktop.DBus.Properties\">\n" \
        "    <method name=\"Get\">\n      <arg direction=\"in\" type=\"s\"/>\n      <arg direction=\"in\" type=\"s\"/>\n" \
        "      <arg direction=\"out\" type=\"v\"/>\n    </method>\n" \
        "    <method name=\"GetAll\">\n      <arg direction=\"in\" type=\"s\"/>\n" \
        "      <arg direction=\"out\" type=\"a{sv}\"/>\n    </method>\n" \
        "    <method name=\"Set\">\n      <arg direction=\"in\" type=\"s\"/>\n      <arg direction=\"in\" type=\"s\"/>\n" \
        "      <arg direction=\"in\" type=\"v\"/>\n    </method>\n" \
        "    <signal name=\"PropertiesChanged\">\n      <arg type=\"s\" name=\"interface_name\"/>\n" \
        "      <arg type=\"a{sv}\" name=\"changed_properties\"/>\n" \
        "      <arg type=\"as\" name=\"invalidated_properties\"/>\n    </signal>\n" \
        "  </interface>\n"

#define DRIVER_XML_INTROSPECTABLE \
        "  <interface name=\"org.freedesktop.DBus.Introspectable\">\n" \
        "    <method name=\"Introspect\">\n      <arg direction=\"out\" type=\"s\"/>\n    </method>\n" \
        "  </interface>\n"

#define DRIVER_XML_MONITORING \
        "  <interface name=\"org.freedesktop.DBus.Monitoring\">\n" \
        "    <method name=\"BecomeMonitor\">\n      <arg direction=\"in\" type=\"as\"/>\n" \
        "      <arg direction=\"in\" type=\"u\"/>\n    </method>\n" \
        "  </interface>\n"

#define DRIVER_XML_STATS \
        "  <interface name=\"org.freedesktop.DBus.Debug.Stats\">\n" \
        "    <method name=\"GetStats\">\n      <arg direction=\"out\" type=\"a{sv}\"/>\n    </method>\n" \
        "    <method name=\"GetConnectionStats\">\n      <arg direction=\"in\" type=\"s\"/>\n" \
        "      <arg direction=\"out\" type=\"a{sv}\"/>\n    </method>\n" \
        "    <method name=\"GetAllMatchRules\">\n      <arg direction=\"out\" type=\"a{sas}\"/>\n    </method>\n" \
        "  </interface>\n"

#define DRIVER_XML_PEER \
        "  <interface name=\"org.freedesktop.DBus.Peer\">\n" \
        "    <method name=\"GetMachineId\">\n      <arg direction=\"out\" type=\"s\"/>\n    </method>\n" \
        "    <method name=\"Ping\">\n    </method>\n" \
        "  </interface>\n"

static const char driver_xml[] = DRIVER_XML_HEAD DRIVER_XML_DBUS DRIVER_XML_PROPERTIES DRIVER_XML_INTROSPECTABLE
        DRIVER_XML_MONITORING DRIVER_XML_STATS DRIVER_XML_PEER "</node>\n";

static const char driver_xml_other[] = DRIVER_XML_HEAD DRIVER_XML_DBUS DRIVER_XML_INTROSPECTABLE DRIVER_XML_PEER;

const char *driver_introspect_xml(void)
{
        return driver_xml;
}

static int driver_introspect(struct broker *b, struct connection *c, struct message *m)
{
        static const char path[] = DRIVER_PATH;
        _cleanup_free_ char *xml = NULL;
        const char *child = "";
        size_t n = strlen(m->path);

        if (!strcmp(m->path, path))
                return driver_reply_string(b, c, m, driver_xml);
        /* "/" and "/org", "/org/freedesktop": the rest of the driver's path is a child node */
        if (n < sizeof(path) - 1 && !strncmp(path, m->path, n) && (n == 1 || path[n] == '/'))
                child = path + (n == 1 ? 1 : n + 1);
        if (asprintf(&xml, "%s%s%s%s</node>\n", driver_xml_other, *child ? "  <node name=\"" : "", child,
                     *child ? "\"/>\n" : "") < 0) {
                xml = NULL;
                return error_origin(-ENOMEM);
        }
        return driver_reply_string(b, c, m, xml);
}

static int driver_ping(struct broker *b, struct connection *c, struct message *m)
{
        return driver_reply_empty(b, c, m);
}

static int driver_get_machine_id(struct broker *b, struct connection *c, struct message *m)
{
        static const char *const paths[] = { "/etc/machine-id", "/var/lib/dbus/machine-id" };
        char id[64] = "";

        for (size_t i = 0; i < sizeof(paths) / sizeof(*paths) && !id[0]; ++i) {
                _cleanup_fclose_ FILE *f = fopen(paths[i], "re");

                if (f && fgets(id, sizeof(id), f))
                        id[strcspn(id, "\r\n")] = 0;
                if (strlen(id) != 32)
                        id[0] = 0;
        }
        if (!id[0])
                return broker_send_error(b, c, m, ERR("Failed"), "Unable to read the machine ID");
        return driver_reply_string(b, c, m, id);
}

/* ---- Properties ---- */

static void driver_append_property(struct broker *b, struct message_builder *mb, const char *prop)
{
        /* as dbus-daemon 1.14: SystemdActivation only with --systemd-activation */
        static const char *const features[] = { "ActivatableServicesChanged", "HeaderFiltering",
                                                "SystemdActivation" };
        static const char *const interfaces[] = { "org.freedesktop.DBus.Monitoring",
                                                  "org.freedesktop.DBus.Debug.Stats" };
        const char *const *v = !strcmp(prop, "Features") ? features : interfaces;
        size_t n = !strcmp(prop, "Features") ? (b->cmdline->systemd_activation ? 3 : 2) : 2;

        message_builder_open_variant(mb, "as");
        message_builder_open(mb, "as");
        for (size_t i = 0; i < n; ++i)
                message_builder_append(mb, 's', &v[i]);
        message_builder_close(mb);
        message_builder_close(mb);
}

/*
 * The driver's interfaces as org.freedesktop.DBus.Properties sees them
 * (dbus-daemon's view: every interface the driver implements exists, only
 * org.freedesktop.DBus has properties): the number of properties of @iface
 * (its names are driver_properties[]), or -1 if it does not exist.
 */
static const char *const driver_properties[] = { "Features", "Interfaces" };

static int driver_interface_properties(const char *iface)
{
        static const char *const others[] = {
                "org.freedesktop.DBus.Peer", "org.freedesktop.DBus.Introspectable",
                "org.freedesktop.DBus.Properties", "org.freedesktop.DBus.Monitoring",
                "org.freedesktop.DBus.Debug.Stats",
        };

        if (!strcmp(iface, DRIVER_IFACE))
                return 2;
        for (size_t i = 0; i < sizeof(others) / sizeof(*others); ++i)
                if (!strcmp(iface, others[i]))
                        return 0;
        return -1;
}

/*
 * Check @iface and @prop (NULL: any, for GetAll) as dbus-daemon does; if
 * either does not exist, the error is sent and 1 returned.
 */
static int driver_property_check(struct broker *b, struct connection *c, struct message *m, const char *iface,
                                 const char *prop, int *np)
{
        int n = driver_interface_properties(iface);

        *np = n;
        if (n < 0) {
                int r = broker_send_error(b, c, m, ERR("UnknownInterface"), "Interface \"%s\" not found", iface);

                return r < 0 ? r : 1;
        }
        for (int i = 0; prop && i < n; ++i)
                if (!strcmp(prop, driver_properties[i]))
                        return 0;
        if (prop) {
                int r = broker_send_error(b, c, m, ERR("UnknownProperty"), "Property \"%s.%s\" not found", iface,
                                          prop);

                return r < 0 ? r : 1;
        }
        return 0;
}

static int driver_properties_get(struct broker *b, struct connection *c, struct message *m)
{
        struct message_builder mb;
        const char *iface, *prop;
        int n, r;

        message_read_basic(m, "ss", &iface, &prop);
        r = driver_property_check(b, c, m, iface, prop, &n);
        if (r)
                return r < 0 ? r : 0;
        driver_reply_init(b, &mb, c, m);
        driver_append_property(b, &mb, prop);
        return driver_reply_send(b, &mb, c, m);
}

static int driver_properties_get_all(struct broker *b, struct connection *c, struct message *m)
{
        struct message_builder mb;
        const char *iface;
        int n, r;

        message_read_basic(m, "s", &iface);
        r = driver_property_check(b, c, m, iface, NULL, &n);
        if (r)
                return r < 0 ? r : 0;
        driver_reply_init(b, &mb, c, m);
        message_builder_open(&mb, "a{sv}");
        for (int i = 0; i < n; ++i) {
                message_builder_open(&mb, "{sv}");
                message_builder_append(&mb, 's', &driver_properties[i]);
                driver_append_property(b, &mb, driver_properties[i]);
                message_builder_close(&mb);
        }
        message_builder_close(&mb);
        return driver_reply_send(b, &mb, c, m);
}

static int driver_properties_set(struct broker *b, struct connection *c, struct message *m)
{
        struct marshal_reader r;
        const char *iface = NULL, *prop = NULL;
        int n, k;

        message_body_reader(m, &r);
        marshal_reader_read(&r, 's', &iface);
        marshal_reader_read(&r, 's', &prop);
        k = driver_property_check(b, c, m, iface, prop, &n);
        if (k)
                return k < 0 ? k : 0;
        return broker_send_error(b, c, m, ERR("PropertyReadOnly"), "Property '%s.%s' cannot be set", iface, prop);
}

/* ---- Monitoring ---- */

static int driver_become_monitor(struct broker *b, struct connection *c, struct message *m)
{
        struct name_changes changes = NAME_CHANGES_INIT;
        struct list_node rules;
        struct connection_monitor_rule *mr, *mt;
        struct marshal_reader rd;
        uint32_t flags = 0;
        size_t n = 0;
        int r = 0;

        list_node_init(&rules);
        message_body_reader(m, &rd);
        marshal_reader_enter(&rd, 'a');
        while (marshal_reader_peek(&rd)) {
                const char *text;
                struct match_rule *rule = NULL;

                marshal_reader_read(&rd, 's', &text);
                r = match_rule_new(&rule, text);
                if (r < 0)
                        goto out;
                if (r > 0) {
                        r = driver_match_error(b, c, m, text, r);
                        goto out;
                }
                rule->eavesdrop = true;
                mr = calloc(1, sizeof(*mr));
                if (!mr) {
                        match_rule_free(rule);
                        r = error_origin(-ENOMEM);
                        goto out;
                }
                mr->rule = rule;
                list_link_tail(&rules, &mr->link);
                ++n;
        }
        marshal_reader_exit(&rd);
        marshal_reader_read(&rd, 'u', &flags);
        if (flags) {
                r = broker_send_error(b, c, m, ERR("InvalidArgs"), "BecomeMonitor does not support any flags yet");
                goto out;
        }

        r = driver_reply_empty(b, c, m);
        if (r < 0)
                goto out;

        /* drop what a monitor cannot have: names, match rules, its unique name */
        match_registry_remove_all(&b->matches, &c->matches);
        r = name_registry_release_all(&b->names, &c->names, &changes);
        if (r < 0)
                goto out;
        r = broker_name_changes_emit(b, &changes);
        if (r < 0)
                goto out;
        r = broker_name_signal(b, c, "NameLost", c->unique_name);
        if (r < 0)
                goto out;
        r = broker_name_owner_changed(b, c->unique_name, c->unique_name, NULL);
        if (r < 0)
                goto out;

        c->is_monitor = true;
        list_splice_tail(&c->monitor_rules, &rules);
        c->n_monitor_rules = n;
        list_link_tail(&b->monitors, &c->monitor_link);
        r = 0;

out:
        list_for_each_entry_safe(mr, mt, &rules, struct connection_monitor_rule, link) {
                list_unlink(&mr->link);
                match_rule_free(mr->rule);
                free(mr);
        }
        return r;
}

/* ---- Debug.Stats ---- */

/* names of @x as dbus-daemon counts them: owned or queued for, and its unique name */
static size_t driver_stats_names(const struct connection *x)
{
        return x->names.n_ownerships + (x->state == CONNECTION_RUNNING);
}

/* names on the bus as dbus-daemon counts them: well-known ones and unique names */
static size_t driver_stats_bus_names(const struct broker *b)
{
        return b->names.n_entries + (b->n_connections - b->n_incomplete);
}

static void driver_stats_peaks(struct broker *b, struct connection *c)
{
        size_t n;

        if (c->closing)
                return;
        n = driver_stats_names(c);
        if (n > c->peak_names)
                c->peak_names = n;
        if (c->matches.n_rules > c->peak_rules)
                c->peak_rules = c->matches.n_rules;
        if (c->peak_names > b->peak_names_per_connection)
                b->peak_names_per_connection = c->peak_names;
        if (c->peak_rules > b->peak_rules_per_connection)
                b->peak_rules_per_connection = c->peak_rules;
        n = driver_stats_bus_names(b);
        if (n > b->peak_names)
                b->peak_names = n;
        if (broker_n_match_rules(b) > b->peak_rules)
                b->peak_rules = broker_n_match_rules(b);
}

/*
 * org.freedesktop.DBus.Debug.Stats as dbus-daemon 1.14 answers it, but for
 * its ListMemPool* figures (its allocator's). "Serial" counts the calls of
 * each method; incoming figures are the connection's messages alive in the
 * broker (max_incoming_*; dbus-daemon's IncomingMessages counts only those
 * it has read and not yet dispatched, almost always 0), outgoing ones what
 * is queued for it (max_outgoing_*), peaks the most either ever was.
 */
static int driver_get_stats(struct broker *b, struct connection *c, struct message *m)
{
        struct message_builder mb;

        driver_reply_init(b, &mb, c, m);
        message_builder_open(&mb, "a{sv}");
        driver_dict_u32(&mb, "Serial", b->n_get_stats++);
        driver_dict_u32(&mb, "ActiveConnections", (uint32_t)(b->n_connections - b->n_incomplete));
        driver_dict_u32(&mb, "IncompleteConnections", (uint32_t)b->n_incomplete);
        driver_dict_u32(&mb, "MatchRules", (uint32_t)broker_n_match_rules(b));
        driver_dict_u32(&mb, "PeakMatchRules", (uint32_t)b->peak_rules);
        driver_dict_u32(&mb, "PeakMatchRulesPerConnection", (uint32_t)b->peak_rules_per_connection);
        driver_dict_u32(&mb, "BusNames", (uint32_t)driver_stats_bus_names(b));
        driver_dict_u32(&mb, "PeakBusNames", (uint32_t)b->peak_names);
        driver_dict_u32(&mb, "PeakBusNamesPerConnection", (uint32_t)b->peak_names_per_connection);
        message_builder_close(&mb);
        return driver_reply_send(b, &mb, c, m);
}

static int driver_get_connection_stats(struct broker *b, struct connection *c, struct message *m)
{
        struct message_builder mb;
        struct connection *x;
        bool is_driver;
        const char *name;

        message_read_basic(m, "s", &name);
        x = driver_lookup(b, name, &is_driver);
        if (is_driver)
                return broker_send_error(b, c, m, ERR("InvalidArgs"),
                                         "GetConnectionStats is not meaningful for the message bus \"%s\" itself",
                                         NAME_DRIVER);
        if (!x)
                return broker_send_error(b, c, m, ERR("NameHasNoOwner"),
                                         "Could not get statistics of name '%s': no such name", name);
        driver_reply_init(b, &mb, c, m);
        message_builder_open(&mb, "a{sv}");
        driver_dict_u32(&mb, "Serial", b->n_get_connection_stats++);
        driver_dict_u32(&mb, "MatchRules", (uint32_t)x->matches.n_rules);
        driver_dict_u32(&mb, "PeakMatchRules", (uint32_t)x->peak_rules);
        driver_dict_u32(&mb, "BusNames", (uint32_t)driver_stats_names(x));
        driver_dict_u32(&mb, "PeakBusNames", (uint32_t)x->peak_names);
        {
                const char *key = "UniqueName", *v = x->unique_name;

                message_builder_open(&mb, "{sv}");
                message_builder_append(&mb, 's', &key);
                message_builder_open_variant(&mb, "s");
                message_builder_append(&mb, 's', &v);
                message_builder_close(&mb);
                message_builder_close(&mb);
        }
        driver_dict_u32(&mb, "IncomingMessages", (uint32_t)x->account->n_messages);
        driver_dict_u32(&mb, "IncomingBytes", (uint32_t)x->account->n_bytes);
        driver_dict_u32(&mb, "IncomingFDs", (uint32_t)x->account->n_fds);
        driver_dict_u32(&mb, "PeakIncomingBytes", (uint32_t)x->account->peak_bytes);
        driver_dict_u32(&mb, "PeakIncomingFDs", (uint32_t)x->account->peak_fds);
        driver_dict_u32(&mb, "OutgoingMessages", (uint32_t)x->n_queued_msgs);
        driver_dict_u32(&mb, "OutgoingBytes", (uint32_t)x->n_queued_bytes);
        driver_dict_u32(&mb, "OutgoingFDs", (uint32_t)x->n_queued_fds);
        driver_dict_u32(&mb, "PeakOutgoingBytes", (uint32_t)x->peak_queued_bytes);
        driver_dict_u32(&mb, "PeakOutgoingFDs", (uint32_t)x->peak_queued_fds);
        message_builder_close(&mb);
        return driver_reply_send(b, &mb, c, m);
}

static int driver_get_all_match_rules(struct broker *b, struct connection *c, struct message *m)
{
        struct message_builder mb;
        struct rb_node *n;
        int r = 0;

        driver_reply_init(b, &mb, c, m);
        message_builder_open(&mb, "a{sas}");
        rb_for_each(n, &b->connections) {
                struct connection *x = rb_entry(n, struct connection, rb);
                struct match_rule *rule;
                const char *name = x->unique_name;

                /* as dbus-daemon: every connection with a unique name, rules or not */
                if (x->state != CONNECTION_RUNNING)
                        continue;
                message_builder_open(&mb, "{sas}");
                message_builder_append(&mb, 's', &name);
                message_builder_open(&mb, "as");
                list_for_each_entry(rule, &x->matches.rules, struct match_rule, owner_link) {
                        _cleanup_free_ char *s = NULL;

                        r = match_rule_to_string(rule, &s);
                        if (r < 0)
                                break;
                        message_builder_append_string(&mb, s);
                }
                message_builder_close(&mb);
                message_builder_close(&mb);
        }
        message_builder_close(&mb);
        if (r < 0) {
                message_builder_deinit(&mb);
                return r;
        }
        return driver_reply_send(b, &mb, c, m);
}

/* ---- dispatch ---- */

static const struct driver_method driver_methods[] = {
        { DRIVER_IFACE, "Hello", "", driver_hello, DRIVER_GROWS },
        { DRIVER_IFACE, "RequestName", "su", driver_request_name, DRIVER_GROWS },
        { DRIVER_IFACE, "ReleaseName", "s", driver_release_name, 0 },
        { DRIVER_IFACE, "StartServiceByName", "su", driver_start_service, 0 },
        { DRIVER_IFACE, "UpdateActivationEnvironment", "a{ss}", driver_update_activation_environment,
          DRIVER_CANONICAL_PATH | DRIVER_PRIVILEGED },
        { DRIVER_IFACE, "NameHasOwner", "s", driver_name_has_owner, 0 },
        { DRIVER_IFACE, "ListNames", "", driver_list_names, 0 },
        { DRIVER_IFACE, "ListActivatableNames", "", driver_list_activatable_names, 0 },
        { DRIVER_IFACE, "AddMatch", "s", driver_add_match, DRIVER_GROWS },
        { DRIVER_IFACE, "RemoveMatch", "s", driver_remove_match, 0 },
        { DRIVER_IFACE, "GetNameOwner", "s", driver_get_name_owner, 0 },
        { DRIVER_IFACE, "ListQueuedOwners", "s", driver_list_queued_owners, 0 },
        { DRIVER_IFACE, "GetConnectionUnixUser", "s", driver_get_unix_user, 0 },
        { DRIVER_IFACE, "GetConnectionUnixProcessID", "s", driver_get_unix_pid, 0 },
        { DRIVER_IFACE, "GetAdtAuditSessionData", "s", driver_get_adt, 0 },
        { DRIVER_IFACE, "GetConnectionSELinuxSecurityContext", "s", driver_get_selinux, 0 },
        { DRIVER_IFACE, "ReloadConfig", "", driver_reload_config, 0 },
        { DRIVER_IFACE, "GetId", "", driver_get_id, 0 },
        { DRIVER_IFACE, "GetConnectionCredentials", "s", driver_get_credentials, 0 },
        { "org.freedesktop.DBus.Introspectable", "Introspect", "", driver_introspect, 0 },
        { "org.freedesktop.DBus.Peer", "Ping", "", driver_ping, 0 },
        { "org.freedesktop.DBus.Peer", "GetMachineId", "", driver_get_machine_id, 0 },
        { "org.freedesktop.DBus.Properties", "Get", "ss", driver_properties_get, DRIVER_CANONICAL_PATH },
        { "org.freedesktop.DBus.Properties", "GetAll", "s", driver_properties_get_all, DRIVER_CANONICAL_PATH },
        { "org.freedesktop.DBus.Properties", "Set", "ssv", driver_properties_set, DRIVER_CANONICAL_PATH },
        { "org.freedesktop.DBus.Monitoring", "BecomeMonitor", "asu", driver_become_monitor,
          DRIVER_CANONICAL_PATH | DRIVER_PRIVILEGED },
        { "org.freedesktop.DBus.Debug.Stats", "GetStats", "", driver_get_stats, DRIVER_CANONICAL_PATH },
        { "org.freedesktop.DBus.Debug.Stats", "GetConnectionStats", "s", driver_get_connection_stats,
          DRIVER_CANONICAL_PATH },
        { "org.freedesktop.DBus.Debug.Stats", "GetAllMatchRules", "", driver_get_all_match_rules,
          DRIVER_CANONICAL_PATH },
};

int driver_dispatch(struct broker *b, struct connection *c, struct message *m)
{
        const struct driver_method *method = NULL;
        bool iface_known = false;
        int r;

        for (size_t i = 0; i < sizeof(driver_methods) / sizeof(*driver_methods); ++i) {
                const struct driver_method *dm = &driver_methods[i];

                if (m->interface && strcmp(m->interface, dm->interface))
                        continue;
                iface_known = true;
                if (strcmp(m->member, dm->member))
                        continue;
                method = dm;
                break;
        }

        if (!c->hello_done && !(method && method->fn == driver_hello))
                return BROKER_E_PROTOCOL;

        if (!method) {
                if (m->interface && !iface_known)
                        return broker_send_error(b, c, m, ERR("UnknownInterface"),
                                                 "org.freedesktop.DBus does not understand message %s", m->member);
                return broker_send_error(b, c, m, ERR("UnknownMethod"),
                                         "org.freedesktop.DBus does not understand message %s", m->member);
        }
        if (strcmp(m->signature, method->signature))
                return broker_send_error(b, c, m, ERR("InvalidArgs"),
                                         "Call to %s has wrong args (%s, expected %s)", m->member, m->signature,
                                         method->signature);
        if ((method->flags & DRIVER_CANONICAL_PATH) && strcmp(m->path, DRIVER_PATH)) {
                /* dbus-daemon: other interfaces do not exist at other paths (and says so in these words) */
                if (strcmp(method->interface, DRIVER_IFACE))
                        return broker_send_error(b, c, m, ERR("UnknownInterface"),
                                                 "org.freedesktop.DBus does not understand message %s", m->member);
                return broker_send_error(b, c, m, ERR("AccessDenied"),
                                         "Method '%s' is only available at the canonical object path '%s'",
                                         m->member, DRIVER_PATH);
        }
        if ((method->flags & DRIVER_PRIVILEGED) && c->uid != 0 && c->uid != b->uid)
                return broker_send_error(b, c, m, ERR("AccessDenied"),
                                         "The caller does not have the necessary privileges to call %s",
                                         m->member);
        r = method->fn(b, c, m);
        if (method->flags & DRIVER_GROWS)
                driver_stats_peaks(b, c);
        return r > 0 ? 0 : r;
}
