#pragma once

/*
 * A client connection of the broker.
 *
 * A connection is one accepted AF_UNIX socket. It goes through three
 * states: SASL (the handshake, with its auth timeout), HELLO (authenticated;
 * the first message must be Hello) and RUNNING (it has a unique name ":1.N").
 * A monitor (BecomeMonitor) is a RUNNING connection that only receives.
 *
 * Reading: bytes are read into an input buffer; every complete message is
 * parsed and validated once (message_new_from_data), its SENDER set to the
 * connection's unique name, and handed to broker_dispatch(). At most a
 * batch of messages is read per wakeup, so one client cannot starve others.
 * A message larger than max_message_size, an invalid message, or an fd
 * passed without NEGOTIATE_UNIX_FD disconnects the client (logged).
 *
 * Flow control, as dbus-daemon's limits (doc/dbus-proxy.md, "Limits"):
 *  - incoming: every message read is charged to the connection's account
 *    (struct message_account) until its last reference goes, i.e. until
 *    every receiver wrote or dropped it. While the account holds
 *    max_incoming_bytes or max_incoming_unix_fds or more, the socket is not
 *    read: a fast sender to a slow receiver is throttled, not buffered;
 *  - outgoing: n_queued_bytes/n_queued_fds count what waits for this
 *    connection (on its peer and being written); while either is above
 *    max_outgoing_bytes/max_outgoing_unix_fds, messages to it are refused
 *    (broker_multicast(): EDQUOT, LimitsExceeded to their sender);
 *  - fds received for a message not complete yet may stay at most
 *    pending_fd_timeout, then the client is disconnected.
 *
 * Writing: the connection's core peer is its only outgoing queue. The peer
 * has no fd on the event loop: its wake callback (bus1_peer_set_wake())
 * puts the connection on the broker's ready list, and the list is written
 * out right after the read that caused it (or by the broker's flush source
 * for messages sent from elsewhere: timers, activation). The writer takes
 * up to CONNECTION_OUT_MAX messages off the peer (bus1_recv) and writes them
 * with one sendmsg(); a message with fds starts its own sendmsg (the fds,
 * as SCM_RIGHTS, travel with its first byte). While the socket is full the
 * peer is not drained: its queue grows until the core's quota refuses
 * senders, so a client that does not read costs bounded memory (the
 * limits above, and the core's quota behind them). At most
 * CONNECTION_OUT_MAX messages are off the peer and not yet written.
 *
 * Credentials are SO_PEERCRED/SO_PEERGROUPS/SO_PEERSEC, taken at accept.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dbus-proxy/broker.h"
#include "dbus-proxy/match.h"
#include "dbus-proxy/name.h"
#include "dbus-proxy/sasl.h"
#include "policy/db.h"
#include "util/list.h"
#include "util/rbtree.h"

struct message;

/* Messages written with one sendmsg() at most. */
#define CONNECTION_OUT_MAX 32

enum connection_state {
        CONNECTION_SASL,
        CONNECTION_HELLO,
        CONNECTION_RUNNING,
};

/* A BecomeMonitor rule list entry. */
struct connection_monitor_rule {
        struct list_node link;
        struct match_rule *rule;
};

struct connection {
        struct broker *broker;
        struct rb_node rb;                      /* in broker->connections, by id */
        uint64_t id;                            /* internal ID (assigned at accept) */
        struct rb_node unique_rb;               /* in broker->unique_names once RUNNING */
        uint64_t unique_id;                     /* N of ":1.N" (assigned at Hello) */
        enum connection_state state;
        bool is_monitor;
        bool hello_done;                        /* Hello was answered */
        bool closing;
        bool close_after_flush;                 /* write what is queued, then disconnect */
        char unique_name[32];                   /* ":1.N" once RUNNING, else "" */

        int fd;
        struct loop_source *io;                 /* the socket */
        struct list_node incomplete_link;       /* in broker->incomplete until RUNNING */
        uint64_t auth_deadline;                 /* CLOCK_MONOTONIC µs: auth_timeout ends */
        struct loop_source *pending_fds_timeout; /* armed while in_fds wait for their message */

        /* credentials */
        uid_t uid;
        gid_t gid;
        pid_t pid;
        gid_t *gids;
        size_t n_gids;
        char *label;                            /* SO_PEERSEC, NUL-terminated, or NULL */
        size_t n_label;

        /*
         * The SASL server, from the accept until BEGIN; freed then, so an
         * authenticated connection does not carry its line and output
         * buffers. NULL once the state is past CONNECTION_SASL.
         */
        struct sasl *sasl;
        bool fds_allowed;

        /*
         * input: n_in bytes at in, read and not yet taken. in is NULL when
         * nothing is buffered (between reads); in_shared: in is the
         * broker's read_buf, not owned, during one read's parse only.
         */
        uint8_t *in;
        size_t n_in;
        size_t n_in_alloc;
        bool in_shared;
        int *in_fds;
        size_t n_in_fds;
        struct message_account *account;        /* live messages this connection sent */
        bool throttled;                         /* not reading: account over max_incoming_* */

        /*
         * output: messages taken off the peer and not yet (fully) written,
         * in order; n_out bytes of out[0] are written already
         */
        struct message *out[CONNECTION_OUT_MAX];
        size_t n_out_msgs;
        size_t n_out;
        bool out_blocked;                       /* socket full: wait for EPOLLOUT */
        bool sndbuf_raised;                     /* the send buffer was enlarged (first full socket) */
        struct list_node ready_link;            /* in broker->ready: the peer wants draining */
        uint64_t n_queued_msgs;                 /* messages queued on the peer + out */
        uint64_t n_queued_bytes;                /* their wire bytes */
        uint64_t n_queued_fds;                  /* their fds */
        uint64_t peak_queued_bytes;             /* the most n_queued_bytes ever was (Debug.Stats) */
        uint64_t peak_queued_fds;               /* the most n_queued_fds ever was */

        /* core */
        struct broker_endpoint endpoint;        /* this connection's peer */
        uint64_t node;                          /* owner handle of its node */
        struct list_node holders;               /* struct broker_handle.target_link */

        /* bus semantics */
        struct name_owner names;
        struct match_owner matches;
        struct policy_snapshot policy;
        struct rb_root replies;                 /* struct broker_reply.rb: calls to us */
        struct list_node calls;                 /* struct broker_reply.caller_link: ours */
        size_t n_calls;
        struct list_node monitor_link;          /* in broker->monitors */
        struct list_node monitor_rules;         /* struct connection_monitor_rule */
        size_t n_monitor_rules;

        /* Debug.Stats: the most names (unique name included) and match rules it ever held */
        size_t peak_names;
        size_t peak_rules;
};

/**
 * connection_new() - take over an accepted socket
 * @out:        the new connection, on success
 * @b:          the broker
 * @fd:         the socket (non-blocking); owned on success
 *
 * Reads the peer's credentials, creates its core peer and node and starts
 * the SASL handshake with the auth timeout of the configuration.
 *
 * Return: 0, -ENOMEM, or a negative errno of getsockopt/the engine.
 */
int connection_new(struct connection **out, struct broker *b, int fd);

/**
 * connection_free() - disconnect: announce its names going away, drop its
 * rules and pending replies, drain and free its core peer. NULL ok.
 * Return: NULL.
 */
struct connection *connection_free(struct connection *c);

/**
 * connection_flush_ready() - write out every connection on the broker's
 * ready list (those whose core peer received messages since). A connection
 * that has more than a batch ready stays on the list; a broken socket
 * disconnects its connection. The broker calls it after each read and from
 * its flush source.
 */
void connection_flush_ready(struct broker *b);

/**
 * connection_on_auth_timer() - the broker's auth timer (see broker->auth_timer):
 * disconnect every connection past its auth_timeout, re-arm for the next.
 * @userdata: the broker. Return: 0.
 */
int connection_on_auth_timer(struct loop_source *s, uint64_t usec, void *userdata);

/**
 * connection_close() - free @c from a later iteration of the loop (safe
 * inside the connection's own callbacks).
 */
void connection_close(struct connection *c);

/**
 * connection_close_after_flush() - stop reading from @c and disconnect it
 * once everything queued for it is written (e.g. after a refused Hello).
 */
void connection_close_after_flush(struct connection *c);

/**
 * connection_hello_refused() - Hello was refused (a connection limit): the
 * connection stays open without a name, as dbus-daemon leaves it: it may
 * send Hello again, counts as incomplete, and the auth timeout (from its
 * connect) applies again.
 */
void connection_hello_refused(struct connection *c);

/**
 * connection_update_events() - re-evaluate what to wait for on the socket
 * (after the limits changed, e.g. on reload).
 */
void connection_update_events(struct connection *c);

/** connection_wake_writer() - re-enable draining the peer (after a send to it). */
void connection_wake_writer(struct connection *c);

/**
 * connection_names() - the names the connection is primary owner of, and
 * its unique name first.
 * @c:          the connection
 * @names:      receives up to @n_max names
 * Return: how many names were written.
 */
size_t connection_names(const struct connection *c, const char **names, size_t n_max);

/**
 * connection_all_names() - like connection_names(), with the names it is
 * only queued for too (what policy send_destination compares against).
 */
size_t connection_all_names(const struct connection *c, const char **names, size_t n_max);
