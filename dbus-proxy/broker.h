#pragma once

/*
 * The broker: one D-Bus message bus on top of the bus1 core engine.
 *
 * A `struct broker` owns the event loop, the configuration and its compiled
 * policy, the listening sockets, an in-process bus1 engine, the name and
 * match registries, every connection and the driver (org.freedesktop.DBus).
 *
 * Mapping onto the core (see doc/dbus-proxy.md):
 *  - every connection is a core peer (created with the client's SO_PEERCRED
 *    credentials) owning one node; its unique name ":1.N" names that node;
 *  - the driver is a core peer of its own (with the bus's credentials);
 *  - an endpoint (connection or driver) that sends to a connection holds a
 *    handle to the target's node, made on first use with a handle transfer
 *    and kept until either side goes (struct broker_handle);
 *  - a message is parsed once, its SENDER set once, and then travels through
 *    the core as an 8-byte payload: a pointer to the refcounted struct
 *    message, declaring its wire size and fds as the charge
 *    (BUS1_SEND_CHARGE) so the core's quotas count them. The sender takes
 *    one reference per destination that accepted it; the receiving connection's writer drops it after writing the
 *    message to its socket (or when the connection goes);
 *  - a unicast is one core send; a broadcast (and a unicast with its
 *    eavesdroppers) is one atomic core multicast to the connections the
 *    match registry picked.
 *
 * Single-threaded: everything runs on the broker's event loop (loop.h).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "dbus-proxy/guid.h"
#include "dbus-proxy/loop.h"
#include "dbus-proxy/match.h"
#include "dbus-proxy/name.h"
#include "dbus-proxy/sasl.h"
#include "libbus1/bus1.h"
#include "policy/config.h"
#include "policy/db.h"
#include "util/list.h"
#include "util/rbtree.h"

struct activation;
struct cmdline;
struct servicedir_registry;
struct listener_set;
struct message;

/* Expected outcomes of routing (positive). */
enum {
        BROKER_E_PROTOCOL = 1,  /* the client broke the protocol: disconnect it */
};

/*
 * An endpoint sends on a core peer. It caches the handles it holds to other
 * connections' nodes (rb-tree keyed by the target connection's ID).
 */
struct broker_endpoint {
        bus1_peer *peer;
        struct rb_root handles;         /* struct broker_handle.rb */
};

struct connection;

/* A handle of @holder's peer to @target's node. */
struct broker_handle {
        struct rb_node rb;              /* in holder->handles */
        struct list_node target_link;   /* in target->holders */
        struct broker_endpoint *holder;
        struct connection *target;
        uint64_t id;                    /* handle ID in holder->peer */
};

/* A method call awaiting its reply (tracked on the callee). */
struct broker_reply {
        struct rb_node rb;              /* in callee->replies, by (caller id, serial) */
        struct list_node caller_link;   /* in caller->calls */
        struct connection *callee;
        struct connection *caller;
        uint64_t caller_id;
        uint32_t serial;
        uint64_t deadline;              /* CLOCK_MONOTONIC µs; 0: no reply timeout */
        struct list_node deadline_link; /* in broker.replies, if deadline */
};

/* bytes read from a socket at once into the shared buffer (struct broker.read_buf) */
#define BROKER_READ_BUF (16 * 1024)

struct broker {
        struct loop *loop;
        struct loop_source *sigterm, *sigint, *sighup;
        const struct cmdline *cmdline;
        char *config_path;
        struct bus_config *config;
        struct policy_db *policy;
        unsigned int sasl_mechs;
        struct listener_set *listeners;
        struct loop_source **listen_sources;
        struct loop_source *accept_timer;       /* ends an accept pause (broker_on_accept) */
        bool accept_paused;                     /* an accept failed for want of resources */
        char *address;                  /* printable address of all listeners */
        char guid[GUID_LEN + 1];        /* the bus ID (GetId) */
        uid_t uid;                      /* the user the bus runs as (main.c updates it after <user>) */

        bus1_context *engine;
        struct bus1_limits core_limits; /* the engine's user limits, also every connection peer's own
                                         * limits; from the configuration at startup (broker_new) */
        struct broker_endpoint driver;
        uint32_t driver_serial;

        /*
         * Debug.Stats (dbus-daemon's): the most names (unique names
         * included) and match rules the bus, and any one connection, ever
         * held; the calls of GetStats and of GetConnectionStats so far
         */
        size_t peak_names, peak_rules, peak_names_per_connection, peak_rules_per_connection;
        uint32_t n_get_stats, n_get_connection_stats;
        /* an error reply went out since the driver began the current call (eavesdroppers do not see it) */
        bool driver_call_failed;

        struct name_registry names;
        struct match_registry matches;
        struct rb_root connections;     /* struct connection.rb, by id */
        struct list_node monitors;      /* struct connection.monitor_link */
        size_t n_connections;           /* all, authenticated or not */
        size_t n_incomplete;            /* not yet through SASL and Hello */
        bool accepting;                 /* listeners on: n_incomplete < max_incomplete_connections, not paused */
        uint64_t next_id;               /* connection IDs, from 1, at accept */
        /*
         * Unique names: ":1.N" with N from 0 up, counted at Hello (as
         * dbus-daemon does), so connections that never say Hello use no
         * number. struct connection.unique_rb, by unique_id.
         */
        struct rb_root unique_names;
        uint64_t next_unique_id;

        struct servicedir_registry *services;   /* activatable names */
        struct activation *activation;          /* pending service starts */

        /* connections not yet RUNNING, in accept order = auth deadline order */
        struct list_node incomplete;    /* struct connection.incomplete_link */
        struct loop_source *auth_timer; /* armed for the head's deadline (connection_on_auth_timer) */

        /* tracked replies with a timeout, in deadline order (broker_reply_track) */
        struct list_node replies;       /* struct broker_reply.deadline_link */
        struct loop_source *reply_timer; /* armed for a deadline <= the head's, or off */

        /* connections whose core peer has messages to write (struct connection.ready_link) */
        struct list_node ready;         /* written at the end of a socket read, else by the loop's post hook */

        /* scratch for routing: receivers of one message */
        struct connection **scratch;
        size_t n_scratch_alloc;

        /*
         * Where a connection with nothing buffered reads into (see struct
         * connection.in): one connection's input at a time, from its read
         * to the end of that read's parse in connection_on_socket(); what
         * is left then (part of a message) moves to a buffer of its own.
         * Nothing in between reads a socket, so no other connection's input
         * lands here meanwhile. Idle connections hold no input buffer.
         */
        uint8_t read_buf[BROKER_READ_BUF];
};

/**
 * broker_new() - set up a bus from a parsed command line
 * @out:        the new broker, on success
 * @cmdline:    the command line (must outlive the broker)
 *
 * Loads the configuration, opens every listening socket (or the --address,
 * or the sockets of systemd socket activation), creates the core engine and
 * the driver peer, blocks SIGTERM, SIGINT and SIGHUP (broker_run() handles
 * them). Does not print anything and does not set up the event loop.
 *
 * Return: 0; BUS_CONFIG_E_INVALID (the configuration is invalid: logged);
 * a positive LISTENER_E_* or negative errno when a socket cannot be opened
 * (logged); -ENOMEM.
 */
int broker_new(struct broker **out, const struct cmdline *cmdline);

/** broker_free() - disconnect every client, close every socket. NULL ok. */
struct broker *broker_free(struct broker *b);

/**
 * broker_run() - set up the event loop (signals, listening sockets) and run
 * it until SIGTERM/SIGINT. Separate from broker_new() so that a --fork
 * happens in between: an event loop belongs to the process that made it.
 * Return: 0 or negative errno.
 */
int broker_run(struct broker *b);

/**
 * broker_reload() - re-read the configuration (SIGHUP, ReloadConfig)
 *
 * On failure the old configuration stays and the reason is logged.
 * Return: 0, BUS_CONFIG_E_INVALID, -ENOMEM.
 */
int broker_reload(struct broker *b);

/**
 * broker_update_accepting() - accept new connections only while fewer than
 * max_incomplete_connections connections have no name yet (not
 * authenticated, or no successful Hello): dbus-daemon stops accept()ing,
 * so further clients wait in the listen backlog. Call after n_incomplete
 * changed.
 */
void broker_update_accepting(struct broker *b);

/** broker_activatable_services_changed() - broadcast ActivatableServicesChanged. Return: 0, negative errno. */
int broker_activatable_services_changed(struct broker *b);

/** broker_next_serial() - the next serial of a message from the driver. */
uint32_t broker_next_serial(struct broker *b);

/**
 * broker_find_connection() - the connection with unique name @name, or the
 * primary owner of the well-known name @name; NULL if none (or @name is
 * the driver's).
 */
struct connection *broker_find_connection(struct broker *b, const char *name);

/**
 * broker_dispatch() - route a message a client sent (its SENDER set)
 * @b:          the broker
 * @sender:     the sending connection (past Hello)
 * @m:          the message; the caller keeps its reference
 *
 * Calls to the driver are handled here; everything else goes through the
 * core to the destination and the matching receivers. Errors the sender
 * must see (unknown destination, quota, ...) are sent back to it.
 *
 * Return: 0; BROKER_E_PROTOCOL (disconnect the sender); negative errno.
 */
int broker_dispatch(struct broker *b, struct connection *sender, struct message *m);

/**
 * broker_dispatch_activated() - route a message that waited for its
 * destination to be activated: broker_dispatch() without the copy to
 * monitors (they saw it when it arrived).
 * Return: as broker_dispatch().
 */
int broker_dispatch_activated(struct broker *b, struct connection *sender, struct message *m);

/**
 * broker_send_from_driver() - send a message of the driver
 * @b:          the broker
 * @m:          a sealed message with SENDER org.freedesktop.DBus; the
 *              caller keeps its reference
 * @to:         the destination connection, or NULL for a broadcast to the
 *              connections whose match rules accept @m
 *
 * Monitors get a copy. A receiver whose quota refuses the message misses
 * it (as dbus-daemon drops what it cannot queue).
 *
 * Return: 0 or negative errno.
 */
int broker_send_from_driver(struct broker *b, struct message *m, struct connection *to);

/**
 * broker_deliver_from_driver() - deliver a driver message that monitors have
 * already seen (an ActivationRequest that waited for systemd).
 * @b:  the broker
 * @m:  the message
 * @to: the receiver; nothing happens when it is NULL or not running
 *
 * Return: 0, or a negative errno.
 */
int broker_deliver_from_driver(struct broker *b, struct message *m, struct connection *to);

/**
 * broker_monitor_copy() - give every monitor whose rules match a copy of @m.
 * @b:      the broker
 * @sender: the sending connection, or NULL for a message of the driver
 * @m:      the message
 *
 * Return: 0, or a negative errno.
 */
int broker_monitor_copy(struct broker *b, struct connection *sender, struct message *m);

/**
 * broker_send_error() - send an error reply from the driver
 * @b:          the broker
 * @to:         the connection to tell
 * @in_reply_to: the message that failed (nothing is sent if it asked for
 *              no reply)
 * @name:       error name
 * @text:       error message (printf format)
 *
 * Return: 0 or negative errno.
 */
int broker_send_error(struct broker *b, struct connection *to, const struct message *in_reply_to,
                      const char *name, const char *text, ...) __attribute__((format(printf, 5, 6)));

/**
 * broker_send_error_unregistered() - an error reply (without DESTINATION)
 * to a connection that has not said Hello yet
 * Return: 0 or negative errno.
 */
int broker_send_error_unregistered(struct broker *b, struct connection *to, const struct message *in_reply_to,
                                   const char *name, const char *text);

/**
 * broker_name_signal() - send the driver's @member (NameAcquired or NameLost)
 * with the one argument @name to @to, ordered like every driver message.
 * Return: 0, negative errno.
 */
int broker_name_signal(struct broker *b, struct connection *to, const char *member, const char *name);

/**
 * broker_name_owner_changed() - broadcast NameOwnerChanged(@name, @old, @new)
 * (NULL: ""). Return: 0 or negative errno.
 */
int broker_name_owner_changed(struct broker *b, const char *name, const char *old, const char *new);

/**
 * broker_name_changes_emit() - emit NameLost/NameOwnerChanged/NameAcquired
 * for every change of @changes (and clear it), in dbus-daemon's order.
 * Return: 0 or negative errno.
 */
int broker_name_changes_emit(struct broker *b, struct name_changes *changes);

/**
 * broker_connection_gone() - forget everything that refers to @c: its
 * names (announced), match rules, pending replies (NoReply to the callers),
 * handles others hold to it. Called by connection_free().
 */
void broker_connection_gone(struct broker *b, struct connection *c);

/** broker_endpoint_deinit() - forget the cached handles of @e. */
void broker_endpoint_deinit(struct broker_endpoint *e);

enum {
        BROKER_REPLY_LIMIT = 1,         /* max_replies_per_connection reached */
        BROKER_REPLY_EXISTS,            /* a call of @caller with this serial to @callee is pending */
};

/**
 * broker_reply_track() - remember that @caller expects a reply to @serial
 * from @callee.
 * Return: 0 (tracked); BROKER_REPLY_EXISTS if a call of @caller with
 * @serial to @callee is still pending (nothing changes; checked first, as
 * dbus-daemon does); BROKER_REPLY_LIMIT if @caller has
 * max_replies_per_connection calls pending; -ENOMEM.
 */
int broker_reply_track(struct broker *b, struct connection *caller, struct connection *callee, uint32_t serial);

/** broker_reply_free() - drop a tracked reply. NULL ok. Return: NULL. */
struct broker_reply *broker_reply_free(struct broker_reply *r);

/** broker_log_stats() - Debug.Stats helper: number of match rules. */
size_t broker_n_match_rules(const struct broker *b);
