/*
 * The broker: setup, routing through the core, reply tracking, name change
 * signals. See broker.h and doc/dbus-proxy.md.
 */

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbus-proxy/address.h"
#include "dbus-proxy/broker.h"
#include "dbus-proxy/cmdline.h"
#include "dbus-proxy/connection.h"
#include "dbus-proxy/driver.h"
#include "dbus-proxy/listener.h"
#include "dbus-proxy/marshal-builder.h"
#include "dbus-proxy/message.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/log.h"

#define BROKER_NAMES_MAX 256
#define BROKER_USER_MESSAGES (1ULL << 20)
#define BROKER_MULTICAST_STACK 16       /* receivers routed without a heap allocation */
#define BROKER_ACCEPT_PAUSE_USEC 100000U  /* accepting pauses this long after EMFILE and the like */

/* ---- handles of endpoints to connections' nodes ---- */

static int broker_handle_compare(const void *key, const struct rb_node *n)
{
        uint64_t id = *(const uint64_t *)key;
        const struct broker_handle *h = rb_entry(n, struct broker_handle, rb);

        return id < h->target->id ? -1 : id > h->target->id ? 1 : 0;
}

static int broker_endpoint_handle(struct broker_endpoint *e, struct connection *target, uint64_t *idp)
{
        struct broker_handle *h;
        struct rb_node *n;
        int r;

        if (e == &target->endpoint) {
                *idp = target->node;
                return 0;
        }
        n = rb_find(&e->handles, &target->id, broker_handle_compare);
        if (n) {
                *idp = rb_entry(n, struct broker_handle, rb)->id;
                return 0;
        }

        h = calloc(1, sizeof(*h));
        if (!h)
                return error_origin(-ENOMEM);
        r = bus1_handle_transfer(target->endpoint.peer, target->node, e->peer, &h->id);
        if (r < 0) {
                free(h);
                return error_origin(r);
        }
        h->holder = e;
        h->target = target;
        rb_node_init(&h->rb);
        rb_insert(&e->handles, &h->rb, &target->id, broker_handle_compare);
        list_link_tail(&target->holders, &h->target_link);
        *idp = h->id;
        return 0;
}

void broker_endpoint_deinit(struct broker_endpoint *e)
{
        struct rb_node *n, *t;

        rb_for_each_safe(n, t, &e->handles) {
                struct broker_handle *h = rb_entry(n, struct broker_handle, rb);

                rb_remove(&e->handles, n);
                list_unlink(&h->target_link);
                free(h);
        }
}

/* ---- sending through the core ---- */

static int broker_scratch_reserve(struct broker *b, size_t n)
{
        struct connection **p;

        if (b->n_scratch_alloc >= n)
                return 0;
        n = n < 64 ? 64 : n * 2;
        p = realloc(b->scratch, n * sizeof(*p));
        if (!p)
                return error_origin(-ENOMEM);
        b->scratch = p;
        b->n_scratch_alloc = n;
        return 0;
}

/*
 * One core send of @m from @from to @dests. errors[i] receives 0 or a
 * positive errno per destination: EDQUOT also when the receiver's queue is
 * full by the broker's count -- more than max_outgoing_bytes bytes or
 * max_outgoing_unix_fds fds waiting for it, which is dbus-daemon's test
 * (the queue may thus overshoot by one message). Each receiver that got the
 * message holds one reference to it.
 */
static int broker_multicast(struct broker *b, struct broker_endpoint *from, struct message *m,
                            struct connection **dests, size_t n, uint64_t *errors)
{
        /* the common case (a call, a reply, a signal to a few) needs no allocation */
        uint64_t ids_buf[BROKER_MULTICAST_STACK], errs_buf[BROKER_MULTICAST_STACK];
        size_t map_buf[BROKER_MULTICAST_STACK];
        _cleanup_free_ uint64_t *ids_heap = NULL;
        _cleanup_free_ size_t *map_heap = NULL;
        _cleanup_free_ uint64_t *errs_heap = NULL;
        uint64_t *ids = ids_buf, *errs = errs_buf;
        size_t *map = map_buf;
        uint64_t max_bytes = (uint64_t)b->config->limits.max_outgoing_bytes;
        uint64_t max_fds = (uint64_t)b->config->limits.max_outgoing_unix_fds;
        struct bus1_vec vec;
        uint64_t ptr = (uint64_t)(uintptr_t)m;
        struct bus1_cmd_send cmd;
        size_t n_ids = 0;
        int r;

        if (n == 0)
                return 0;
        if (n > BROKER_MULTICAST_STACK) {
                ids = ids_heap = malloc(n * sizeof(*ids));
                map = map_heap = malloc(n * sizeof(*map));
                errs = errs_heap = malloc(n * sizeof(*errs));
                if (!ids || !map || !errs)
                        return error_origin(-ENOMEM);
        }
        memset(errs, 0, n * sizeof(*errs));

        for (size_t i = 0; i < n; ++i) {
                errors[i] = 0;
                if (dests[i]->closing) {
                        errors[i] = EHOSTUNREACH;
                        continue;
                }
                if (dests[i]->n_queued_bytes > max_bytes || dests[i]->n_queued_fds > max_fds) {
                        errors[i] = EDQUOT;
                        continue;
                }
                r = broker_endpoint_handle(from, dests[i], &ids[n_ids]);
                if (r < 0) {
                        errors[i] = (uint64_t)-r;
                        continue;
                }
                map[n_ids++] = i;
        }
        if (n_ids == 0)
                return 0;

        /*
         * The payload is the pointer; the core charges each receiver what
         * the message really holds there: its wire bytes and its fds (a
         * message is at most MARSHAL_MAX_MESSAGE_SIZE <= BUS1_PAYLOAD_MAX;
         * more than BUS1_FD_MAX fds, which max_message_unix_fds could allow,
         * cannot be written in one SCM_RIGHTS anyway and are charged as
         * BUS1_FD_MAX).
         */
        _Static_assert(MARSHAL_MAX_MESSAGE_SIZE <= BUS1_PAYLOAD_MAX, "a message's charge must be valid");
        vec.ptr = (uint64_t)(uintptr_t)&ptr;
        vec.len = sizeof(ptr);
        cmd = (struct bus1_cmd_send){
                .flags = BUS1_SEND_CONTINUE | BUS1_SEND_CHARGE,
                .n_destinations = n_ids,
                .ptr_destinations = (uint64_t)(uintptr_t)ids,
                .ptr_errors = (uint64_t)(uintptr_t)errs,
                .n_vecs = 1,
                .ptr_vecs = (uint64_t)(uintptr_t)&vec,
                .charge_bytes = m->n_wire < BUS1_PAYLOAD_MAX ? m->n_wire : BUS1_PAYLOAD_MAX,
                .charge_fds = m->n_fds < BUS1_FD_MAX ? m->n_fds : BUS1_FD_MAX,
        };
        r = bus1_peer_ioctl(from->peer, BUS1_CMD_SEND, &cmd);
        if (r < 0) {
                for (size_t i = 0; i < n_ids; ++i)
                        errors[map[i]] = (uint64_t)-r;
                return 0;
        }
        for (size_t i = 0; i < n_ids; ++i) {
                struct connection *d = dests[map[i]];

                errors[map[i]] = errs[i];
                if (errs[i] == 0) {
                        message_ref(m);
                        ++d->n_queued_msgs;
                        d->n_queued_bytes += m->n_wire;
                        d->n_queued_fds += m->n_fds;
                        if (d->n_queued_bytes > d->peak_queued_bytes)
                                d->peak_queued_bytes = d->n_queued_bytes;
                        if (d->n_queued_fds > d->peak_queued_fds)
                                d->peak_queued_fds = d->n_queued_fds;
                }
        }
        return 0;
}

/* ---- match filters ---- */

struct broker_filter {
        struct match_filter f;
        const char *sender_names[BROKER_NAMES_MAX];
        const char *dest_names[BROKER_NAMES_MAX];
};

/*
 * broker_multicast() to the first @n scratch receivers (b->scratch), with
 * the per-receiver errors on the stack for a few; *@first_error (if not
 * NULL) receives the first receiver's.
 */
static int broker_multicast_scratch(struct broker *b, struct broker_endpoint *from, struct message *m, size_t n,
                                    uint64_t *first_error)
{
        uint64_t errors_buf[BROKER_MULTICAST_STACK];
        _cleanup_free_ uint64_t *errors_heap = NULL;
        uint64_t *errors = errors_buf;
        int r;

        if (n > BROKER_MULTICAST_STACK) {
                errors = errors_heap = calloc(n, sizeof(*errors));
                if (!errors)
                        return error_origin(-ENOMEM);
        }
        r = broker_multicast(b, from, m, b->scratch, n, errors);
        if (r >= 0 && first_error)
                *first_error = errors[0];
        return r;
}

static void broker_filter_init(struct broker_filter *bf, struct message *m, struct connection *sender,
                               struct connection *dest)
{
        struct message_arg args[MATCH_ARGS_MAX];
        size_t n_args;

        memset(&bf->f, 0, sizeof(bf->f));
        bf->f.type = m->type;
        if (sender) {
                bf->f.n_sender_names = connection_names(sender, bf->sender_names, BROKER_NAMES_MAX);
        } else {
                bf->sender_names[0] = NAME_DRIVER;
                bf->f.n_sender_names = 1;
        }
        bf->f.sender_names = bf->sender_names;
        bf->f.interface = m->interface;
        bf->f.member = m->member;
        bf->f.path = m->path;
        bf->f.destination = m->destination;
        if (dest) {
                bf->f.n_destination_names = connection_names(dest, bf->dest_names, BROKER_NAMES_MAX);
                bf->f.destination_names = bf->dest_names;
        }
        n_args = message_read_args(m, args, MATCH_ARGS_MAX);
        for (size_t i = 0; i < n_args; ++i) {
                if (args[i].type == 's') {
                        bf->f.args[i].value = args[i].value;
                } else if (args[i].type == 'o') {
                        bf->f.args[i].value = args[i].value;
                        bf->f.args[i].is_path = true;
                }
        }
}

struct broker_collect {
        struct broker *b;
        size_t n;
        int error;
};

static int broker_collect_fn(struct match_owner *owner, void *userdata)
{
        struct broker_collect *col = userdata;
        struct connection *c = (struct connection *)((char *)owner - offsetof(struct connection, matches));
        int r;

        if (c->closing || c->state != CONNECTION_RUNNING || c->is_monitor)
                return 0;
        r = broker_scratch_reserve(col->b, col->n + 1);
        if (r < 0)
                return r;
        col->b->scratch[col->n++] = c;
        return 0;
}

/* append the monitors interested in @f to the scratch array */
static int broker_collect_monitors(struct broker *b, const struct match_filter *f, struct broker_collect *col)
{
        struct connection *mon;
        int r;

        list_for_each_entry(mon, &b->monitors, struct connection, monitor_link) {
                struct connection_monitor_rule *mr;
                bool match = list_is_empty(&mon->monitor_rules);

                if (mon->closing)
                        continue;
                list_for_each_entry(mr, &mon->monitor_rules, struct connection_monitor_rule, link) {
                        if (match_rule_matches(mr->rule, f)) {
                                match = true;
                                break;
                        }
                }
                if (!match)
                        continue;
                r = broker_scratch_reserve(b, col->n + 1);
                if (r < 0)
                        return r;
                b->scratch[col->n++] = mon;
        }
        return 0;
}

/* what the policy looks at in @m */
static struct policy_message broker_policy_message(const struct message *m)
{
        return (struct policy_message){
                .type = m->type,
                .is_reply = m->has_reply_serial,
                .n_fds = (uint32_t)m->n_fds,
                .path = m->path,
                .interface = m->interface,
                .member = m->member,
                .error = m->error_name,
                .destination = m->destination,
                .sender = m->sender,
        };
}

/* policy: may @sender (NULL: driver) send @m to @receiver (NULL: driver)? */
static bool broker_check_send(struct broker *b, struct connection *sender, struct connection *receiver,
                              struct message *m, bool requested_reply, bool eavesdropping)
{
        const char *names[BROKER_NAMES_MAX];
        struct policy_message pm = broker_policy_message(m);
        struct policy_verdict v;
        size_t n;

        (void)b;
        if (sender && receiver == NULL) {
                policy_snapshot_check_send(&sender->policy, &pm, NULL, 0, requested_reply, &v);
                return v.allow;
        }
        if (sender) {
                n = connection_all_names(receiver, names, BROKER_NAMES_MAX);
                policy_snapshot_check_send(&sender->policy, &pm, names, n, requested_reply, &v);
                if (!v.allow)
                        return false;
        }
        if (receiver) {
                if (sender) {
                        n = connection_all_names(sender, names, BROKER_NAMES_MAX);
                        policy_snapshot_check_receive(&receiver->policy, &pm, names, n, requested_reply,
                                                      eavesdropping, &v);
                } else {
                        policy_snapshot_check_receive(&receiver->policy, &pm, NULL, 0, requested_reply,
                                                      eavesdropping, &v);
                }
                if (!v.allow)
                        return false;
        }
        return true;
}

/* the send policy for a message to @name, which has no owner yet (activation) */
static bool broker_check_send_to_name(struct connection *sender, struct message *m, const char *name)
{
        struct policy_message pm = broker_policy_message(m);
        struct policy_verdict v;

        policy_snapshot_check_send(&sender->policy, &pm, &name, 1, false, &v);
        return v.allow;
}

/*
 * Filter the scratch receivers [start, n) by policy (eavesdroppers and
 * broadcast subscribers), keeping the order.
 */
static size_t broker_filter_policy(struct broker *b, struct connection *sender, struct message *m,
                                   size_t start, size_t n, bool eavesdropping, bool *denied)
{
        size_t k = start;

        for (size_t i = start; i < n; ++i) {
                struct connection *r = b->scratch[i];

                if (m->n_fds > 0 && !r->fds_allowed)
                        continue;
                if (!r->is_monitor && !broker_check_send(b, sender, r, m, false, eavesdropping)) {
                        *denied = true;
                        continue;
                }
                b->scratch[k++] = r;
        }
        return k;
}

static int broker_access_denied(struct broker *b, struct connection *sender, struct message *m,
                                const char *dest_name);

/*
 * Deliver @m from @from (@sender NULL: the driver) to @dest (NULL: a
 * broadcast) plus every eavesdropper and monitor. *@dest_error receives
 * the destination's positive errno (0 if delivered).
 */
static int broker_route_full(struct broker *b, struct connection *sender, struct message *m,
                             struct connection *dest, uint64_t *dest_error, bool monitors)
{
        struct broker_endpoint *from = sender ? &sender->endpoint : &b->driver;
        struct broker_filter bf;
        struct broker_collect col = { .b = b };
        uint64_t first_error = 0;
        size_t n_first = 0;
        bool denied = false, lookup;
        int r;

        if (dest) {
                r = broker_scratch_reserve(b, 1);
                if (r < 0)
                        return r;
                b->scratch[col.n++] = dest;
                n_first = 1;
        }
        /*
         * The match filter costs more than the rest of a unicast: build it
         * only if some rule could see the message (an eavesdropper; for the
         * driver's messages also a monitor). As dbus-daemon: what the driver
         * sends to one connection (replies, errors, NameAcquired) reaches
         * monitors but no eavesdropper.
         */
        lookup = !dest || (sender && b->matches.n_eavesdrop_rules > 0);
        if (lookup || (!sender && monitors && !list_is_empty(&b->monitors)))
                broker_filter_init(&bf, m, sender, dest);
        if (lookup) {
                r = match_registry_lookup(&b->matches, &bf.f, dest ? &dest->matches : NULL, broker_collect_fn,
                                          &col);
                if (r < 0)
                        return r;
        }
        /* a broadcast's sender gets its own signal only if it matches, as any other */
        col.n = broker_filter_policy(b, sender, m, n_first, col.n, dest != NULL, &denied);
        /* monitors saw what clients send when it arrived (broker_dispatch) */
        if (!sender && monitors && !list_is_empty(&b->monitors)) {
                r = broker_collect_monitors(b, &bf.f, &col);
                if (r < 0)
                        return r;
        }

        if (col.n == 0) {
                if (dest_error)
                        *dest_error = 0;
                if (denied && sender && !dest)
                        return broker_access_denied(b, sender, m, "(broadcast)");
                return 0;
        }
        r = broker_multicast_scratch(b, from, m, col.n, &first_error);
        if (r < 0)
                return r;
        if (dest_error)
                *dest_error = dest ? first_error : 0;
        /*
         * As dbus-daemon: a broadcast the policy withholds from a subscriber
         * is answered with AccessDenied (once per message here).
         */
        if (denied && sender && !dest)
                return broker_access_denied(b, sender, m, "(broadcast)");
        return 0;
}

/*
 * A copy of @m, a call @sender made to the driver, for every eavesdropper
 * whose rule and policy let it see it (rules without eavesdrop='true' do
 * not match a message with a destination).
 */
static int broker_eavesdrop_driver_call(struct broker *b, struct connection *sender, struct message *m)
{
        struct broker_filter bf;
        struct broker_collect col = { .b = b };
        bool denied = false;
        int r;

        if (sender->closing)
                return 0;
        broker_filter_init(&bf, m, sender, NULL);
        r = match_registry_lookup(&b->matches, &bf.f, NULL, broker_collect_fn, &col);
        if (r < 0)
                return r;
        col.n = broker_filter_policy(b, sender, m, 0, col.n, true, &denied);
        if (col.n == 0)
                return 0;
        return broker_multicast_scratch(b, &sender->endpoint, m, col.n, NULL);
}

static int broker_route(struct broker *b, struct connection *sender, struct message *m,
                        struct connection *dest, uint64_t *dest_error)
{
        return broker_route_full(b, sender, m, dest, dest_error, true);
}

int broker_deliver_from_driver(struct broker *b, struct message *m, struct connection *to)
{
        uint64_t err = 0;

        if (!to || to->closing || to->state != CONNECTION_RUNNING)
                return 0;
        return broker_route_full(b, NULL, m, to, &err, false);
}

static int broker_error_message(struct broker *b, struct message **out, const char *dest, uint32_t reply_serial,
                                const char *name, const char *text);

int broker_send_from_driver(struct broker *b, struct message *m, struct connection *to)
{
        uint64_t err = 0;
        int r;

        if (to && (to->closing || to->state != CONNECTION_RUNNING))
                return 0;
        if (to && !to->is_monitor && !broker_check_send(b, NULL, to, m, m->has_reply_serial, false)) {
                struct message *e = NULL;

                /*
                 * As dbus-daemon: the receiver's policy refuses a message of
                 * the driver; monitors see it and an AccessDenied error the
                 * driver sends itself.
                 */
                r = broker_monitor_copy(b, NULL, m);
                if (r < 0)
                        return r;
                r = broker_error_message(b, &e, NAME_DRIVER, m->serial, "org.freedesktop.DBus.Error.AccessDenied",
                                         "Rejected message from the bus driver by the receiver's policy");
                if (r < 0)
                        return r;
                r = broker_monitor_copy(b, NULL, e);
                message_unref(e);
                return r;
        }
        return broker_route(b, NULL, m, to, &err);
}

uint32_t broker_next_serial(struct broker *b)
{
        if (++b->driver_serial == 0)
                b->driver_serial = 1;
        return b->driver_serial;
}

static int broker_error_message(struct broker *b, struct message **out, const char *dest, uint32_t reply_serial,
                                const char *name, const char *text)
{
        struct message_builder mb;
        int r;

        message_builder_init(&mb, MARSHAL_TYPE_ERROR, false, broker_next_serial(b));
        message_builder_set_flags(&mb, MARSHAL_FLAG_NO_REPLY_EXPECTED);
        message_builder_set_reply_serial(&mb, reply_serial);
        message_builder_set_field(&mb, MARSHAL_FIELD_ERROR_NAME, name);
        message_builder_set_field(&mb, MARSHAL_FIELD_DESTINATION, dest);
        message_builder_set_field(&mb, MARSHAL_FIELD_SENDER, NAME_DRIVER);
        message_builder_append_string(&mb, text);
        r = message_builder_seal(&mb, out, NULL, 0);
        message_builder_deinit(&mb);
        if (r > 0) {
                log_err("cannot build error %s: %s", name, marshal_strerror(r));
                return error_origin(-EINVAL);
        }
        return r;
}

static int broker_send_error_text(struct broker *b, struct connection *to, const struct message *in_reply_to,
                                  const char *name, const char *text)
{
        struct message *m = NULL;
        int r;

        b->driver_call_failed = true;
        if (to->closing || to->state != CONNECTION_RUNNING)
                return 0;
        r = broker_error_message(b, &m, to->unique_name, in_reply_to->serial, name, text);
        if (r < 0)
                return r;
        r = broker_send_from_driver(b, m, to);
        message_unref(m);
        return r;
}

int broker_send_error(struct broker *b, struct connection *to, const struct message *in_reply_to,
                      const char *name, const char *text, ...)
{
        _cleanup_free_ char *s = NULL;
        va_list ap;
        int r;

        /* dbus-daemon sends errors even for messages that asked for no reply */
        if (in_reply_to->type != MARSHAL_TYPE_METHOD_CALL && in_reply_to->type != MARSHAL_TYPE_SIGNAL)
                return 0;
        va_start(ap, text);
        r = vasprintf(&s, text, ap);
        va_end(ap);
        if (r < 0)
                return error_origin(-ENOMEM);
        return broker_send_error_text(b, to, in_reply_to, name, s);
}

int broker_send_error_unregistered(struct broker *b, struct connection *to, const struct message *in_reply_to,
                                   const char *name, const char *text)
{
        struct message *m = NULL;
        uint64_t err = 0;
        int r;

        if (in_reply_to->type != MARSHAL_TYPE_METHOD_CALL)
                return 0;
        r = broker_error_message(b, &m, NULL, in_reply_to->serial, name, text);
        if (r < 0)
                return r;
        r = broker_route(b, NULL, m, to, &err);
        message_unref(m);
        return r;
}

/* ---- names ---- */

struct connection *broker_find_connection(struct broker *b, const char *name)
{
        struct name_owner *o;

        if (!name)
                return NULL;
        if (name[0] == ':') {
                uint64_t id = 0;
                struct rb_node *n;
                struct connection *c;
                const char *p;

                if (strncmp(name, ":1.", 3) || !name[3])
                        return NULL;
                /* decimal digits only; more than 19 cannot be a number we gave out */
                for (p = name + 3; *p; ++p) {
                        if (*p < '0' || *p > '9' || p - name >= 3 + 19)
                                return NULL;
                        id = id * 10 + (uint64_t)(*p - '0');
                }
                for (n = b->unique_names.node; n;) {
                        c = rb_entry(n, struct connection, unique_rb);
                        if (id < c->unique_id)
                                n = n->left;
                        else if (id > c->unique_id)
                                n = n->right;
                        else
                                break;
                }
                if (!n)
                        return NULL;
                c = rb_entry(n, struct connection, unique_rb);
                if (c->state != CONNECTION_RUNNING || c->closing || strcmp(c->unique_name, name))
                        return NULL;
                return c;
        }
        o = name_registry_lookup(&b->names, name);
        if (!o)
                return NULL;
        return (struct connection *)((char *)o - offsetof(struct connection, names));
}

static int broker_found_fn(struct match_owner *owner, void *userdata)
{
        (void)owner;
        (void)userdata;
        return 1; /* one is enough */
}

/*
 * Whether a broadcast of the driver with these fields would reach anyone: a
 * connection going away announces NameOwnerChanged, and building and
 * validating a signal nobody subscribed to would cost more than the rest of
 * the disconnect. Monitors see every driver signal.
 */
static bool broker_signal_wanted(struct broker *b, const char *member, const char *sig, va_list ap)
{
        static const char *const driver_names[] = { NAME_DRIVER };
        struct match_filter f = {
                .type = MARSHAL_TYPE_SIGNAL,
                .sender_names = driver_names,
                .n_sender_names = 1,
                .interface = "org.freedesktop.DBus",
                .member = member,
                .path = "/org/freedesktop/DBus",
        };
        size_t i = 0;

        if (!list_is_empty(&b->monitors))
                return true;
        for (const char *p = sig; *p && i < MATCH_ARGS_MAX; ++p)
                f.args[i++].value = va_arg(ap, const char *);
        return match_registry_lookup(&b->matches, &f, NULL, broker_found_fn, NULL) != 0;
}

static int broker_signal(struct broker *b, struct connection *to, const char *member, const char *sig, ...)
{
        struct message_builder mb;
        struct message *m = NULL;
        va_list ap;
        int r;

        if (!to) {
                bool wanted;

                va_start(ap, sig);
                wanted = broker_signal_wanted(b, member, sig, ap);
                va_end(ap);
                if (!wanted)
                        return 0;
        }

        message_builder_init(&mb, MARSHAL_TYPE_SIGNAL, false, broker_next_serial(b));
        message_builder_set_field(&mb, MARSHAL_FIELD_PATH, "/org/freedesktop/DBus");
        message_builder_set_field(&mb, MARSHAL_FIELD_INTERFACE, "org.freedesktop.DBus");
        message_builder_set_field(&mb, MARSHAL_FIELD_MEMBER, member);
        message_builder_set_field(&mb, MARSHAL_FIELD_SENDER, NAME_DRIVER);
        if (to)
                message_builder_set_field(&mb, MARSHAL_FIELD_DESTINATION, to->unique_name);
        va_start(ap, sig);
        for (const char *p = sig; *p; ++p)
                message_builder_append_string(&mb, va_arg(ap, const char *));
        va_end(ap);
        r = message_builder_seal(&mb, &m, NULL, 0);
        message_builder_deinit(&mb);
        if (r > 0)
                return error_origin(-EINVAL);
        if (r < 0)
                return r;
        r = broker_send_from_driver(b, m, to);
        message_unref(m);
        return r;
}

int broker_name_signal(struct broker *b, struct connection *to, const char *member, const char *name)
{
        return broker_signal(b, to, member, "s", name);
}

int broker_activatable_services_changed(struct broker *b)
{
        return broker_signal(b, NULL, "ActivatableServicesChanged", "");
}

int broker_name_owner_changed(struct broker *b, const char *name, const char *old, const char *new)
{
        return broker_signal(b, NULL, "NameOwnerChanged", "sss", name, old ? old : "", new ? new : "");
}

int broker_name_changes_emit(struct broker *b, struct name_changes *changes)
{
        int r = 0;

        for (size_t i = 0; i < changes->n_changes && r >= 0; ++i) {
                struct name_change *ch = &changes->changes[i];
                const char *name = name_change_name(ch);
                struct connection *old = ch->old_owner ?
                        (struct connection *)((char *)ch->old_owner - offsetof(struct connection, names)) : NULL;
                struct connection *new = ch->new_owner ?
                        (struct connection *)((char *)ch->new_owner - offsetof(struct connection, names)) : NULL;

                if (old)
                        r = broker_signal(b, old, "NameLost", "s", name);
                if (r >= 0)
                        r = broker_name_owner_changed(b, name, old ? old->unique_name : NULL,
                                                      new ? new->unique_name : NULL);
                if (r >= 0 && new)
                        r = broker_signal(b, new, "NameAcquired", "s", name);
                /* messages queued for its activation go now (after the signals) */
                if (r >= 0 && new)
                        driver_activation_name_acquired(b, name);
        }
        name_changes_clear(changes);
        return r;
}

/* ---- reply tracking ---- */

struct broker_reply_key {
        uint64_t caller_id;
        uint32_t serial;
};

static int broker_reply_compare(const void *key, const struct rb_node *n)
{
        const struct broker_reply_key *k = key;
        const struct broker_reply *r = rb_entry(n, struct broker_reply, rb);

        if (k->caller_id != r->caller_id)
                return k->caller_id < r->caller_id ? -1 : 1;
        if (k->serial != r->serial)
                return k->serial < r->serial ? -1 : 1;
        return 0;
}

struct broker_reply *broker_reply_free(struct broker_reply *r)
{
        if (!r)
                return NULL;
        if (r->callee)
                rb_remove(&r->callee->replies, &r->rb);
        if (r->caller) {
                list_unlink(&r->caller_link);
                --r->caller->n_calls;
        }
        if (r->deadline)
                list_unlink(&r->deadline_link);
        free(r);
        return NULL;
}

static int broker_reply_send_noreply(struct broker *b, struct broker_reply *rep, const char *text)
{
        struct message *m = NULL;
        int r;

        if (rep->caller->closing || rep->caller->state != CONNECTION_RUNNING)
                return 0;
        r = broker_error_message(b, &m, rep->caller->unique_name, rep->serial,
                                 "org.freedesktop.DBus.Error.NoReply", text);
        if (r < 0)
                return r;
        r = broker_send_from_driver(b, m, rep->caller);
        message_unref(m);
        return r;
}

/*
 * Reply timeouts are one broker timer over b->replies, the tracked replies
 * with a deadline in deadline order. A call's deadline is the loop's time
 * plus reply_timeout, so it nearly always goes at the tail; after a reload
 * that shortens reply_timeout the insertion walks back from the tail to
 * keep the order. The timer is armed when the list gains a new head and
 * left alone when a reply removes one: a call answered in time costs a list
 * link and unlink, not a timer source, and a new head is only armed for when
 * no timer is armed or the armed one is later. When it
 * fires (possibly early, for a head that was answered), every reply past
 * its deadline gets its NoReply error and the timer is re-armed for the new
 * head.
 */
static void broker_reply_timer_arm(struct broker *b)
{
        const struct broker_reply *head;

        if (!b->reply_timer)
                return;
        if (list_is_empty(&b->replies)) {
                loop_source_set_time(b->reply_timer, LOOP_TIME_OFF);
                return;
        }
        head = list_entry(list_first(&b->replies), struct broker_reply, deadline_link);
        loop_source_set_time(b->reply_timer, head->deadline);
}

static int broker_reply_on_timer(struct loop_source *s, uint64_t usec, void *userdata)
{
        struct broker *b = userdata;
        uint64_t now;

        (void)s;
        /* @usec is when it was due; it may run later */
        now = loop_now(b->loop);
        if (now > usec)
                usec = now;
        while (!list_is_empty(&b->replies)) {
                struct broker_reply *rep = list_entry(list_first(&b->replies), struct broker_reply, deadline_link);

                if (rep->deadline > usec)
                        break;
                broker_reply_send_noreply(b, rep, "Message did not receive a reply (timeout by message bus)");
                broker_reply_free(rep);
        }
        broker_reply_timer_arm(b);
        return 0;
}

/* file @rep under its deadline in b->replies; arm the timer if it is the new head */
static void broker_reply_link_deadline(struct broker *b, struct broker_reply *rep)
{
        struct list_node *pos = b->replies.prev;

        while (pos != &b->replies &&
               list_entry(pos, struct broker_reply, deadline_link)->deadline > rep->deadline)
                pos = pos->prev;
        list_link_after(pos, &rep->deadline_link);
        /* a timer armed for an earlier (maybe answered) head stays: it re-arms when it fires */
        if (pos == &b->replies && b->reply_timer && loop_source_get_time(b->reply_timer) > rep->deadline)
                broker_reply_timer_arm(b);
}

int broker_reply_track(struct broker *b, struct connection *caller, struct connection *callee, uint32_t serial)
{
        struct broker_reply_key key = { .caller_id = caller->id, .serial = serial };
        struct broker_reply *rep;
        long max = b->config->limits.max_replies_per_connection;
        long timeout = b->config->limits.reply_timeout;

        /* a serial reused while its call is pending wins over the limit, as in dbus-daemon */
        if (max >= 0 && caller->n_calls >= (size_t)max)
                return rb_find(&callee->replies, &key, broker_reply_compare) ? BROKER_REPLY_EXISTS
                                                                             : BROKER_REPLY_LIMIT;
        /* malloc, not calloc: glibc serves small mallocs from a per-thread cache, callocs not */
        rep = malloc(sizeof(*rep));
        if (!rep)
                return error_origin(-ENOMEM);
        *rep = (struct broker_reply){ .caller_id = caller->id, .serial = serial };
        rb_node_init(&rep->rb);
        /* one descent finds a pending record or links the new one */
        if (rb_insert(&callee->replies, &rep->rb, &key, broker_reply_compare)) {
                free(rep);
                return BROKER_REPLY_EXISTS;
        }
        if (timeout > 0) {
                rep->deadline = loop_now(b->loop) + (uint64_t)timeout * 1000;
                broker_reply_link_deadline(b, rep);
        }
        rep->callee = callee;
        rep->caller = caller;
        list_link_tail(&caller->calls, &rep->caller_link);
        ++caller->n_calls;
        return 0;
}

/* ---- dispatch ---- */

static const char *broker_type_name(uint8_t type)
{
        switch (type) {
        case MARSHAL_TYPE_METHOD_CALL: return "method_call";
        case MARSHAL_TYPE_METHOD_RETURN: return "method_return";
        case MARSHAL_TYPE_ERROR: return "error";
        case MARSHAL_TYPE_SIGNAL: return "signal";
        default: return "unknown";
        }
}

static int broker_access_denied(struct broker *b, struct connection *sender, struct message *m,
                                const char *dest_name)
{
        return broker_send_error(b, sender, m, "org.freedesktop.DBus.Error.AccessDenied",
                                 "Rejected send message, %zu matched rules; type=\"%s\", sender=\"%s\" (%s) "
                                 "interface=\"%s\" member=\"%s\" error name=\"%s\" requested_reply=\"%d\" "
                                 "destination=\"%s\"",
                                 (size_t)0, broker_type_name(m->type), sender->unique_name, "",
                                 m->interface ? m->interface : "(unset)", m->member ? m->member : "(unset)",
                                 m->error_name ? m->error_name : "(unset)", 0, dest_name);
}

/*
 * The addressed receiver @dest of @m has a full queue: as dbus-daemon, the
 * sender learns it by a LimitsExceeded error, whatever the message's type
 * (also for a reply, an error, or a call that asked for no reply).
 */
static int broker_queue_full(struct broker *b, struct connection *sender, struct message *m,
                             struct connection *dest, bool requested_reply)
{
        _cleanup_free_ char *text = NULL;

        if (asprintf(&text,
                     "Rejected: destination has a full message queue, 0 matched rules; type=\"%s\", "
                     "sender=\"%s\" (uid=%u pid=%d) interface=\"%s\" member=\"%s\" error name=\"%s\" "
                     "requested_reply=\"%d\" destination=\"%s\" (uid=%u pid=%d)",
                     broker_type_name(m->type), sender->unique_name, (unsigned)sender->uid, (int)sender->pid,
                     m->interface ? m->interface : "(unset)", m->member ? m->member : "(unset)",
                     m->error_name ? m->error_name : "(unset)", requested_reply, m->destination,
                     (unsigned)dest->uid, (int)dest->pid) < 0)
                return error_origin(-ENOMEM);
        return broker_send_error_text(b, sender, m, "org.freedesktop.DBus.Error.LimitsExceeded", text);
}

/*
 * Monitors see every message a client sends, as it arrives (before policy);
 * @sender NULL: a message of the driver.
 */
int broker_monitor_copy(struct broker *b, struct connection *sender, struct message *m)
{
        struct broker_filter bf;
        struct broker_collect col = { .b = b };
        _cleanup_free_ uint64_t *errors = NULL;
        struct connection *dest = NULL;
        int r;

        if (list_is_empty(&b->monitors))
                return 0;
        if (m->destination && strcmp(m->destination, NAME_DRIVER))
                dest = broker_find_connection(b, m->destination);
        broker_filter_init(&bf, m, sender, dest);
        r = broker_collect_monitors(b, &bf.f, &col);
        if (r < 0 || col.n == 0)
                return r;
        errors = calloc(col.n, sizeof(*errors));
        if (!errors)
                return error_origin(-ENOMEM);
        return broker_multicast(b, sender ? &sender->endpoint : &b->driver, m, b->scratch, col.n, errors);
}

static int broker_dispatch_routed(struct broker *b, struct connection *sender, struct message *m);

/*
 * Whether routing @m will start (or wait for) an activation: a call or
 * unicast signal to a well-known name nobody owns, auto-start allowed.
 */
static bool broker_will_activate(struct broker *b, const struct message *m)
{
        return b->activation && m->destination && m->destination[0] != ':' &&
               strcmp(m->destination, NAME_DRIVER) && !(m->flags & MARSHAL_FLAG_NO_AUTO_START) &&
               (m->type == MARSHAL_TYPE_METHOD_CALL || m->type == MARSHAL_TYPE_SIGNAL) &&
               !broker_find_connection(b, m->destination);
}

int broker_dispatch(struct broker *b, struct connection *sender, struct message *m)
{
        int r;

        /*
         * A message type the specification does not define (the codec passes
         * them on, as receivers must ignore them): dbus-daemon refuses to
         * route it and says so; dbus-broker drops it. Neither delivers it.
         */
        if (m->type < MARSHAL_TYPE_METHOD_CALL || m->type > MARSHAL_TYPE_SIGNAL)
                return broker_send_error_text(b, sender, m, "org.freedesktop.DBus.Error.AccessDenied",
                                              "Message bus will not accept messages of unknown type");

        /*
         * A message that starts an activation reaches monitors after the
         * ActivationRequest it causes, as dbus-daemon orders them: the
         * activation path (driver_activate()) or its policy refusal makes
         * the copy.
         */
        /* systemd's ActivationFailure is consumed by the driver unseen, as in dbus-daemon */
        bool activation_failure = m->type == MARSHAL_TYPE_SIGNAL && m->destination &&
                                  !strcmp(m->destination, NAME_DRIVER) && m->interface && m->member &&
                                  !strcmp(m->interface, "org.freedesktop.systemd1.Activator") &&
                                  !strcmp(m->member, "ActivationFailure");

        if (!activation_failure && !broker_will_activate(b, m)) {
                r = broker_monitor_copy(b, sender, m);
                if (r < 0)
                        return r;
        }
        return broker_dispatch_routed(b, sender, m);
}

int broker_dispatch_activated(struct broker *b, struct connection *sender, struct message *m)
{
        /* monitors saw it when it arrived */
        return broker_dispatch_routed(b, sender, m);
}

static int broker_dispatch_routed(struct broker *b, struct connection *sender, struct message *m)
{
        struct connection *dest;
        struct broker_reply *rep = NULL;
        bool requested = false;
        uint64_t err = 0;
        int r;

        if (m->destination && !strcmp(m->destination, NAME_DRIVER)) {
                if (m->type == MARSHAL_TYPE_SIGNAL && m->interface && m->member &&
                    !strcmp(m->interface, "org.freedesktop.systemd1.Activator") &&
                    !strcmp(m->member, "ActivationFailure"))
                        return driver_activation_failure(b, sender, m);
                if (m->type != MARSHAL_TYPE_METHOD_CALL)
                        return 0;
                /* Hello is always allowed (dbus-daemon: inactive connections may send it) */
                if (sender->hello_done && !broker_check_send(b, sender, NULL, m, false, false))
                        return broker_access_denied(b, sender, m, NAME_DRIVER);
                b->driver_call_failed = false;
                r = driver_dispatch(b, sender, m);
                /*
                 * As dbus-daemon: eavesdroppers see calls to the driver too,
                 * after the driver handled them, and only those it did not
                 * answer with an error (its transaction is then dropped).
                 */
                if (r == 0 && !b->driver_call_failed && sender->hello_done && b->matches.n_eavesdrop_rules > 0)
                        r = broker_eavesdrop_driver_call(b, sender, m);
                return r;
        }

        if (!m->destination) {
                if (m->type != MARSHAL_TYPE_SIGNAL && m->type != MARSHAL_TYPE_METHOD_CALL)
                        return 0;
                return broker_route(b, sender, m, NULL, NULL);
        }

        dest = broker_find_connection(b, m->destination);
        if (!dest) {
                /* dbus-daemon auto-starts for unicast signals too */
                if (m->type == MARSHAL_TYPE_SIGNAL && m->destination[0] != ':' &&
                    !(m->flags & MARSHAL_FLAG_NO_AUTO_START)) {
                        if (!broker_check_send_to_name(sender, m, m->destination))
                                return broker_monitor_copy(b, sender, m);
                        return driver_activate(b, sender, m);
                }
                if (m->type != MARSHAL_TYPE_METHOD_CALL)
                        return 0;
                if (m->destination[0] != ':' && !(m->flags & MARSHAL_FLAG_NO_AUTO_START)) {
                        /* dbus-daemon checks the send policy against the service's name */
                        if (!broker_check_send_to_name(sender, m, m->destination)) {
                                r = broker_monitor_copy(b, sender, m);
                                if (r < 0)
                                        return r;
                                return broker_access_denied(b, sender, m, m->destination);
                        }
                        return driver_activate(b, sender, m);
                }
                if (m->flags & MARSHAL_FLAG_NO_AUTO_START)
                        return broker_send_error(b, sender, m, "org.freedesktop.DBus.Error.NameHasNoOwner",
                                                 "Name \"%s\" does not exist", m->destination);
                return broker_send_error(b, sender, m, "org.freedesktop.DBus.Error.ServiceUnknown",
                                         "The name %s was not provided by any .service files", m->destination);
        }

        if (m->type == MARSHAL_TYPE_METHOD_RETURN || m->type == MARSHAL_TYPE_ERROR) {
                struct broker_reply_key key = { .caller_id = dest->id, .serial = m->reply_serial };
                struct rb_node *n = rb_find(&sender->replies, &key, broker_reply_compare);

                if (n) {
                        rep = rb_entry(n, struct broker_reply, rb);
                        requested = true;
                }
        }

        if (!broker_check_send(b, sender, dest, m, requested, false)) {
                if (m->type == MARSHAL_TYPE_METHOD_CALL || m->type == MARSHAL_TYPE_SIGNAL)
                        return broker_access_denied(b, sender, m, m->destination);
                return 0;
        }
        if (m->type != MARSHAL_TYPE_METHOD_CALL && m->has_reply_serial && !requested) {
                /* an unrequested reply passes only where the policy allows it */
                if (!broker_check_send(b, sender, dest, m, false, false))
                        return 0;
        }

        if (m->n_fds > 0 && !dest->fds_allowed) {
                if (m->type != MARSHAL_TYPE_METHOD_CALL)
                        return 0;
                return broker_send_error(b, sender, m, "org.freedesktop.DBus.Error.NotSupported",
                                         "Tried to send message with Unix file descriptors to a client "
                                         "that doesn't support that.");
        }

        if (m->type == MARSHAL_TYPE_METHOD_CALL && !(m->flags & MARSHAL_FLAG_NO_REPLY_EXPECTED)) {
                r = broker_reply_track(b, sender, dest, m->serial);
                if (r < 0)
                        return r;
                if (r == BROKER_REPLY_LIMIT)
                        return broker_send_error(b, sender, m, "org.freedesktop.DBus.Error.LimitsExceeded",
                                                 "The maximum number of pending replies for \"%s\" (%ld) has been reached",
                                                 sender->unique_name,
                                                 b->config->limits.max_replies_per_connection);
                /* two replies to one serial could not tell the caller which is which */
                if (r == BROKER_REPLY_EXISTS)
                        return broker_send_error(b, sender, m, "org.freedesktop.DBus.Error.AccessDenied",
                                                 "Message has the same reply serial as a currently-outstanding "
                                                 "existing method call");
        }

        r = broker_route(b, sender, m, dest, &err);
        if (r < 0)
                return r;
        if (err) {
                /* not delivered: the call waits for no reply (a reply keeps its record) */
                if (m->type == MARSHAL_TYPE_METHOD_CALL) {
                        struct broker_reply_key key = { .caller_id = sender->id, .serial = m->serial };
                        struct rb_node *n = rb_find(&dest->replies, &key, broker_reply_compare);

                        if (n)
                                broker_reply_free(rb_entry(n, struct broker_reply, rb));
                }
                if (err == EDQUOT)
                        return broker_queue_full(b, sender, m, dest, requested);
                if (m->type == MARSHAL_TYPE_METHOD_CALL)
                        return broker_send_error(b, sender, m, "org.freedesktop.DBus.Error.LimitsExceeded",
                                                 "The destination %s cannot receive the message: %s",
                                                 m->destination, strerror((int)err));
                return 0;
        }
        if (rep)
                broker_reply_free(rep);
        return 0;
}

/* ---- connections going away ---- */

void broker_connection_gone(struct broker *b, struct connection *c)
{
        struct name_changes changes = NAME_CHANGES_INIT;
        struct rb_node *n, *t;
        struct broker_reply *rep, *rt;

        driver_activation_connection_gone(b, c);
        if (c->state == CONNECTION_RUNNING) {
                if (name_registry_release_all(&b->names, &c->names, &changes) < 0)
                        log_err("out of memory releasing the names of %s", c->unique_name);
                broker_name_changes_emit(b, &changes);
                if (!c->is_monitor && c->hello_done)
                        broker_name_owner_changed(b, c->unique_name, c->unique_name, NULL);
        }
        match_registry_remove_all(&b->matches, &c->matches);
        if (c->is_monitor) {
                struct connection_monitor_rule *mr, *mt;

                list_unlink(&c->monitor_link);
                list_for_each_entry_safe(mr, mt, &c->monitor_rules, struct connection_monitor_rule, link) {
                        list_unlink(&mr->link);
                        match_rule_free(mr->rule);
                        free(mr);
                }
        }

        /* calls to @c: their callers get NoReply */
        rb_for_each_safe(n, t, &c->replies) {
                rep = rb_entry(n, struct broker_reply, rb);
                broker_reply_send_noreply(b, rep, "Message recipient disconnected from message bus without replying");
                broker_reply_free(rep);
        }
        /* calls of @c: nobody waits for them any more */
        list_for_each_entry_safe(rep, rt, &c->calls, struct broker_reply, caller_link)
                broker_reply_free(rep);

        /* handles other endpoints hold to @c's node */
        while (!list_is_empty(&c->holders)) {
                struct broker_handle *h = list_entry(list_first(&c->holders), struct broker_handle, target_link);

                bus1_handle_release(h->holder->peer, h->id);
                rb_remove(&h->holder->handles, &h->rb);
                list_unlink(&h->target_link);
                free(h);
        }
}

/* ---- setup ---- */

static int broker_on_signal(struct loop_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        struct broker *b = userdata;

        (void)s;
        if (si->ssi_signo == SIGHUP) {
                broker_reload(b);
                return 0;
        }
        log_debug("exiting on signal %u", si->ssi_signo);
        loop_exit(b->loop, 0);
        return 0;
}

/* fewer than max_incomplete_connections connections without a name */
static bool broker_may_accept(const struct broker *b)
{
        return b->n_incomplete < (size_t)b->config->limits.max_incomplete_connections;
}

void broker_update_accepting(struct broker *b)
{
        bool on = broker_may_accept(b) && !b->accept_paused;

        if (!b->listen_sources || on == b->accepting)
                return;
        b->accepting = on;
        if (!on && !b->accept_paused)
                log_debug("%zu incomplete connections (max_incomplete_connections): not accepting",
                          b->n_incomplete);
        for (size_t i = 0; i < b->listeners->n; ++i)
                if (loop_source_set_enabled(b->listen_sources[i], on) < 0)
                        error_trace_log("cannot switch a listening socket");
}

static int broker_on_accept_resume(struct loop_source *s, uint64_t usec, void *userdata)
{
        struct broker *b = userdata;

        (void)s;
        (void)usec;
        b->accept_paused = false;
        broker_update_accepting(b);
        return 0;
}

/*
 * One connection per wakeup: a listening socket with more pending stays
 * readable and is reported again in the next iteration (level-triggered),
 * between the other clients' events; draining until EAGAIN would cost an
 * accept4() per connection that finds nothing.
 *
 * An accept that fails otherwise, mostly for want of resources (EMFILE,
 * ENFILE, ENOBUFS, ENOMEM), leaves the connection pending and the socket
 * readable: retrying at once would spin. Accepting pauses for
 * BROKER_ACCEPT_PAUSE_USEC instead (logged once per pause); the waiting
 * clients are accepted when it ends, if resources were freed meanwhile.
 */
static int broker_on_accept(struct loop_source *s, int fd, uint32_t revents, void *userdata)
{
        struct broker *b = userdata;
        struct listener *l = NULL;
        struct connection *c;
        int cfd = -1, r;

        (void)s;
        (void)revents;
        for (size_t i = 0; i < b->listeners->n; ++i)
                if (b->listeners->listeners[i]->fd == fd)
                        l = b->listeners->listeners[i];
        /* max_incomplete_connections: each connection_new() counts one */
        if (!l || !broker_may_accept(b) || b->accept_paused)
                return 0;
        r = listener_accept(l, &cfd);
        if (r == LISTENER_E_AGAIN)
                return 0;
        if (r < 0) {
                log_warn("cannot accept a connection: %s; not accepting for %u ms", strerror(-r),
                         BROKER_ACCEPT_PAUSE_USEC / 1000);
                b->accept_paused = true;
                broker_update_accepting(b);
                loop_source_set_time(b->accept_timer, loop_now(b->loop) + BROKER_ACCEPT_PAUSE_USEC);
                return 0;
        }
        r = connection_new(&c, b, cfd);
        if (r < 0) {
                log_warn("cannot set up a connection: %s", strerror(-r));
                close(cfd);
        }
        return 0;
}

static int broker_load_config(struct broker *b, struct bus_config **configp, struct policy_db **dbp)
{
        _cleanup_free_ char *error = NULL;
        struct bus_config *config = NULL;
        struct policy_db *db = NULL;
        int r;

        r = bus_config_load(&config, b->config_path, NULL, &error);
        if (r > 0) {
                log_err("%s", error ? error : "invalid configuration");
                return r;
        }
        if (r < 0)
                return r;
        for (size_t i = 0; i < config->n_warnings; ++i)
                log_warn("%s", config->warnings[i]);
        r = policy_db_new(&db, config);
        if (r < 0) {
                bus_config_free(config);
                return r;
        }
        *configp = config;
        *dbp = db;
        return 0;
}

int broker_reload(struct broker *b)
{
        struct bus_config *config = NULL;
        struct policy_db *db = NULL;
        struct rb_node *n;
        int r;

        r = broker_load_config(b, &config, &db);
        if (r) {
                log_err("reloading the configuration failed; keeping the old one");
                return r;
        }
        /* swap policy snapshots of every connection */
        rb_for_each(n, &b->connections) {
                struct connection *c = rb_entry(n, struct connection, rb);
                struct policy_snapshot s;

                if (policy_snapshot_init(&s, db, c->uid, (const uint32_t *)c->gids, c->n_gids, false) < 0)
                        continue;
                policy_snapshot_deinit(&c->policy);
                c->policy = s;
        }
        policy_db_unref(b->policy);
        b->policy = db;
        /* listen addresses and auth are not changed by a reload (as dbus-daemon) */
        bus_config_free(b->config);
        b->config = config;
        /* the new limits apply at once: reading (max_incoming_*), accepting */
        rb_for_each(n, &b->connections)
                connection_update_events(rb_entry(n, struct connection, rb));
        broker_update_accepting(b);
        r = driver_activation_reload(b);
        if (r < 0)
                log_err("cannot rescan the service directories: %s", strerror(-r));
        log_info("configuration reloaded");
        return 0;
}

static int broker_listen(struct broker *b, const char *text)
{
        struct address_list *addresses = NULL;
        int r;

        r = address_list_parse(&addresses, text);
        if (r > 0) {
                log_err("invalid address \"%s\": %s", text, address_error_string(r));
                return r;
        }
        if (r < 0)
                return r;
        r = listener_set_add(b->listeners, addresses);
        address_list_free(addresses);
        if (r == LISTENER_E_NO_RUNTIME_DIR)
                log_err("cannot listen on \"%s\": \"XDG_RUNTIME_DIR\" is %s", text,
                        getenv("XDG_RUNTIME_DIR") ? "not an absolute path" : "not set");
        else if (r > 0)
                log_err("cannot listen on \"%s\" (error %d)", text, r);
        else if (r < 0)
                log_err("cannot listen on \"%s\": %s", text, strerror(-r));
        return r;
}

/* max(2 * per_connection, 6 * per_message), saturating (per_message is at
 * most 128 MiB); 0, the engine default, if both are 0 */
static uint64_t broker_core_limit(long per_connection, long per_message)
{
        uint64_t a = (uint64_t)per_connection, m = (uint64_t)per_message;

        a = a > UINT64_MAX / 2 ? UINT64_MAX : 2 * a;
        m = 6 * m;
        return a > m ? a : m;
}

/*
 * The engine's per-user limits from the configuration (doc/dbus-proxy.md,
 * "Limits and flow control"). By the rules of doc/core-quota.md, with L the
 * limit of a resource, a receiving peer holds at most L/2 (while its user's
 * other peers hold nothing), one sending peer at most L/6 of it, and one
 * sending user at most L/2 of its receiving user. So, for bytes and fds:
 *
 *   L = max(2 * max_outgoing_*, 6 * largest message)
 *
 * The first term makes the core's own bound of one connection dbus-daemon's
 * per-connection limit, of which a single sender may fill a third (the core
 * refuses it, LimitsExceeded, while two thirds stay for others); the second
 * makes room for one message of the largest size (max_message_size, at most
 * the protocol's 128 MiB; max_message_unix_fds, at most BUS1_FD_MAX) from one
 * sender to an idle reader. The message quota stays at BROKER_USER_MESSAGES,
 * far above the core default, so that a burst of pipelined calls between two
 * connections does not fail where dbus-daemon queues (it counts no
 * messages; the byte quota bounds them). The limits are fixed when the
 * engine is created: a reload does not change them.
 * Every connection's peer gets the same figures as its own limits, so the
 * core's per-peer defaults (16384 messages, 256 MiB, 4096 fds) do not cap
 * a connection below what the user rules allow: a peer limit that one
 * sender could fill would let it lock everyone else out of that receiver.
 */
static void broker_core_limits(const struct bus_config_limits *cl, struct bus1_limits *out)
{
        long max_size = cl->max_message_size, max_fds = cl->max_message_unix_fds;

        if (max_size <= 0 || max_size > (long)MARSHAL_MAX_MESSAGE_SIZE)
                max_size = MARSHAL_MAX_MESSAGE_SIZE;    /* 0: no configured limit */
        if (max_fds > BUS1_FD_MAX)
                max_fds = BUS1_FD_MAX;
        *out = (struct bus1_limits){
                .messages = BROKER_USER_MESSAGES,
                .bytes = broker_core_limit(cl->max_outgoing_bytes, max_size),
                .fds = broker_core_limit(cl->max_outgoing_unix_fds, max_fds),
        };
}

int broker_new(struct broker **out, const struct cmdline *cmdline)
{
        struct broker *b;
        sigset_t mask;
        int r;

        /* from now on SIGTERM/SIGHUP wait for the loop (broker_run) */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        b = calloc(1, sizeof(*b));
        if (!b)
                return error_origin(-ENOMEM);
        b->cmdline = cmdline;
        b->uid = getuid();
        b->next_id = 1;
        name_registry_init(&b->names);
        match_registry_init(&b->matches);
        rb_root_init(&b->connections);
        rb_root_init(&b->unique_names);
        rb_root_init(&b->driver.handles);
        list_node_init(&b->monitors);
        list_node_init(&b->ready);
        list_node_init(&b->incomplete);
        list_node_init(&b->replies);

        b->config_path = strdup(cmdline->config_file);
        if (!b->config_path) {
                r = error_origin(-ENOMEM);
                goto fail;
        }
        r = broker_load_config(b, &b->config, &b->policy);
        if (r)
                goto fail;

        /*
         * As dbus-daemon: <auth> (or, without one, every mechanism) decides
         * what is offered; <allow_anonymous/> decides whether an ANONYMOUS
         * login may go on after BEGIN (connection_sasl()).
         */
        for (size_t i = 0; i < b->config->n_auth; ++i) {
                const char *mech = b->config->auth[i];

                /* DBUS_COOKIE_SHA1 is known, but not offered (doc/compatibility.md) */
                if (!sasl_mech_from_name(mech) && strcmp(mech, "DBUS_COOKIE_SHA1")) {
                        log_err("Failed to start message bus: Unsupported auth mechanism \"%s\" in bus config file "
                                "detected. Supported mechanisms are \"EXTERNAL, ANONYMOUS\".", mech);
                        r = BUS_CONFIG_E_INVALID;
                        goto fail;
                }
        }
        if (b->config->n_auth == 0) {
                b->sasl_mechs = SASL_MECH_EXTERNAL | SASL_MECH_ANONYMOUS;
        } else {
                for (size_t i = 0; i < b->config->n_auth; ++i)
                        b->sasl_mechs |= sasl_mech_from_name(b->config->auth[i]);
        }

        r = guid_generate(b->guid);
        if (r < 0)
                goto fail;

        r = listener_set_new(&b->listeners);
        if (r < 0)
                goto fail;
        if (cmdline->address) {
                r = broker_listen(b, cmdline->address);
                if (r)
                        goto fail;
        } else {
                for (size_t i = 0; i < b->config->n_listen; ++i) {
                        r = broker_listen(b, b->config->listen[i]);
                        if (r)
                                goto fail;
                }
        }
        if (b->listeners->n == 0) {
                log_err("no address to listen on");
                r = error_origin(-EINVAL);
                goto fail;
        }
        r = listener_set_address(b->listeners, &b->address);
        if (r < 0)
                goto fail;
        /* the bus ID is the GUID of the listener printed first */
        memcpy(b->guid, b->listeners->listeners[b->listeners->n - 1]->guid, sizeof(b->guid));

        broker_core_limits(&b->config->limits, &b->core_limits);
        r = bus1_context_new_inprocess(&b->engine, &b->core_limits);
        if (r < 0)
                goto fail;
        r = bus1_peer_new(&b->driver.peer, b->engine);
        if (r < 0)
                goto fail;

        *out = b;
        return 0;

fail:
        broker_free(b);
        return r;
}

struct broker *broker_free(struct broker *b)
{
        if (!b)
                return NULL;
        driver_activation_free(b);
        while (b->connections.node)
                connection_free(rb_entry(b->connections.node, struct connection, rb));
        if (b->listen_sources) {
                for (size_t i = 0; b->listeners && i < b->listeners->n; ++i)
                        loop_source_free(b->listen_sources[i]);
                free(b->listen_sources);
        }
        loop_source_free(b->sigterm);
        loop_source_free(b->sigint);
        loop_source_free(b->sighup);
        loop_source_free(b->auth_timer);
        loop_source_free(b->reply_timer);
        loop_source_free(b->accept_timer);
        loop_free(b->loop);
        broker_endpoint_deinit(&b->driver);
        bus1_peer_free(b->driver.peer);
        bus1_context_free(b->engine);
        listener_set_free(b->listeners);
        free(b->address);
        name_registry_deinit(&b->names);
        match_registry_deinit(&b->matches);
        policy_db_unref(b->policy);
        bus_config_free(b->config);
        free(b->scratch);
        free(b->config_path);
        free(b);
        return NULL;
}

/*
 * The loop's post hook: write out messages made ready outside a socket read
 * (timers, activation, signals, a writer that hit its batch limit).
 */
static bool broker_on_post(void *userdata)
{
        struct broker *b = userdata;

        if (list_is_empty(&b->ready))
                return false;
        connection_flush_ready(b);
        return !list_is_empty(&b->ready);
}

/*
 * The event loop is set up when it starts running, after a --fork: a loop
 * belongs to the process that created it.
 */
static int broker_setup_loop(struct broker *b)
{
        sigset_t mask;
        int r;

        r = loop_new(&b->loop);
        if (r < 0)
                return r;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        loop_set_post(b->loop, broker_on_post, b);
        r = loop_add_signal(b->loop, &b->sigterm, SIGTERM, broker_on_signal, b);
        if (r >= 0)
                r = loop_add_signal(b->loop, &b->sigint, SIGINT, broker_on_signal, b);
        if (r >= 0)
                r = loop_add_signal(b->loop, &b->sighup, SIGHUP, broker_on_signal, b);
        if (r >= 0)
                r = loop_add_time(b->loop, &b->auth_timer, LOOP_TIME_OFF, connection_on_auth_timer, b);
        if (r >= 0)
                r = loop_add_time(b->loop, &b->reply_timer, LOOP_TIME_OFF, broker_reply_on_timer, b);
        if (r >= 0)
                r = loop_add_time(b->loop, &b->accept_timer, LOOP_TIME_OFF, broker_on_accept_resume, b);
        if (r < 0)
                return r;

        b->listen_sources = calloc(b->listeners->n, sizeof(*b->listen_sources));
        if (!b->listen_sources)
                return error_origin(-ENOMEM);
        for (size_t i = 0; i < b->listeners->n; ++i) {
                r = loop_add_io(b->loop, &b->listen_sources[i], b->listeners->listeners[i]->fd, EPOLLIN,
                                broker_on_accept, b);
                if (r < 0)
                        return r;
        }
        b->accepting = true;
        broker_update_accepting(b);

        /* activation watches service directories and children on the loop */
        return driver_activation_new(b);
}

int broker_run(struct broker *b)
{
        int r;

        r = broker_setup_loop(b);
        if (r < 0)
                return r;
        return loop_run(b->loop);
}

size_t broker_n_match_rules(const struct broker *b)
{
        return b->matches.n_rules;
}
