#pragma once

/*
 * Policy database: the rules of a bus_config compiled into an immutable,
 * reference-counted object shared by every connection until a reload swaps
 * it for a new one; and policy snapshots, one per connection, binding the
 * database to the connection's credentials as captured at connect time.
 *
 * Invariants:
 *  - A database never changes after policy_db_new() returned it; it may be
 *    read from any thread. References are atomic.
 *  - Rules are held in precedence order: by context (default, group, user,
 *    at_console, mandatory), then document order. The verdict of a check is
 *    the last rule in that order that applies to the connection and matches,
 *    or the default if none does -- dbus-daemon's evaluation.
 *  - Name-keyed rules (own, own_prefix, send_destination(_prefix),
 *    receive_sender) are indexed by exact name and by prefix, so a check
 *    looks at the rules without a name plus the buckets for the names
 *    involved (and for each dot-separated prefix of them), never all rules.
 *
 * Defaults, as dbus-daemon: connect is allowed only for the uid the bus runs
 * as; own, send and receive are denied unless a rule allows them.
 *
 * Matching follows dbus-daemon's policy.c; in particular:
 *  - send_path/member/error (and receive_*) match a message that lacks the
 *    field; send_interface on an <allow> does not match a message without an
 *    interface, on a <deny> it does;
 *  - send_destination matches if the receiving connection owns, or is
 *    queued for, the name; send_destination_prefix if it owns or is queued
 *    for a name equal to the prefix or starting with "prefix.";
 *  - min_fds/max_fds bound the number of fds the message carries;
 *  - for replies (messages with a reply serial), <allow> rules apply only to
 *    requested replies unless requested_reply="false" or eavesdrop="true";
 *    <deny> rules apply only to unrequested replies unless
 *    requested_reply="true" (send_ and receive_ alike; recorded from
 *    dbus-daemon 1.14 by test/policy/test-dbus-verdicts.py, REPLY_ROWS);
 *  - receive: when eavesdropping only <allow eavesdrop="true"> allows;
 *    <deny eavesdrop="true"> applies only when eavesdropping.
 *
 * Eavesdropping, as dbus-daemon decides it (verified against dbus-daemon
 * 1.14 by test/policy/test-dbus-verdicts.py): a copy reaches an eavesdropper
 * only if the message passed for its addressed recipient, the sender's send
 * rules allow it with the *eavesdropper's* names as receiver names, and the
 * eavesdropper's receive rules allow it with @eavesdropping set. (That is
 * why session.conf has <allow send_destination="*" eavesdrop="true"/>.)
 * Likewise a broadcast signal is checked once per subscriber, with the
 * subscriber's names as receiver names: <deny send_destination="a.B"
 * send_type="signal"/> withholds broadcasts from the owner of a.B only.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/rule.h"

struct bus_config;

struct policy_db;

struct policy_snapshot {
        struct policy_db *db;           /* reference */
        uint32_t uid;
        bool at_console;
        uint32_t *gids;                 /* sorted, unique */
        size_t n_gids;
        /*
         * The highest-precedence send (receive) rule that applies to this
         * connection, if it is an <allow> for any name with no other
         * condition than eavesdrop and requested_reply; else -1. Such a rule
         * matches nearly every message and then decides it, so a check can
         * skip the rule walk (see check_open()).
         */
        long send_open;
        long receive_open;
};

/*
 * A message as the policy sees it. Strings are NULL when the header field is
 * absent.
 */
struct policy_message {
        uint8_t type;                   /* enum policy_message_type, 1..4 */
        bool is_reply;                  /* has a reply serial */
        uint32_t n_fds;
        const char *path;
        const char *interface;
        const char *member;
        const char *error;
        const char *destination;        /* the DESTINATION header field */
        const char *sender;             /* the SENDER header field */
};

/*
 * @log: the deciding rule has log="true". dbus-daemon logs every rejected
 * send; for an *allowed* send whose deciding rule has log="true" it logs
 * "Would reject message" (bus.c), which is what @log is for.
 */
struct policy_verdict {
        bool allow;
        bool log;
        const struct policy_rule *rule; /* deciding rule; NULL: default */
};

/**
 * policy_db_new() - compile the rules of a configuration
 * @dbp: output, written only on success
 * @config: the configuration; the database copies what it needs
 *
 * Return: 0 on success, -ENOMEM.
 */
int policy_db_new(struct policy_db **dbp, const struct bus_config *config);

/**
 * policy_db_ref() - take a reference
 * @db: the database or NULL
 *
 * Return: @db.
 */
struct policy_db *policy_db_ref(struct policy_db *db);

/**
 * policy_db_unref() - drop a reference; the last one frees the database
 * @db: the database or NULL
 *
 * Return: NULL.
 */
struct policy_db *policy_db_unref(struct policy_db *db);

/**
 * policy_db_n_rules() - number of compiled rules
 * @db: the database
 *
 * Return: the count.
 */
size_t policy_db_n_rules(const struct policy_db *db);

/**
 * policy_db_check_connect() - may a user connect?
 * @db: the database
 * @uid: the connecting user
 * @gids: its groups
 * @n_gids: their number
 * @bus_uid: the user the bus runs as (allowed by default)
 * @verdict: output
 *
 * Evaluates the user="..."/group="..." rules of the default and mandatory
 * contexts (in that order), as dbus-daemon does.
 */
void policy_db_check_connect(const struct policy_db *db, uint32_t uid, const uint32_t *gids,
                             size_t n_gids, uint32_t bus_uid, struct policy_verdict *verdict);

/**
 * policy_snapshot_init() - bind a database to a connection's credentials
 * @snapshot: the snapshot to initialize
 * @db: the database; a reference is taken
 * @uid: the connection's uid
 * @gids: its groups (any order, duplicates allowed); copied
 * @n_gids: their number
 * @at_console: whether the user is "at the console"; the caller decides
 *              (e.g. from logind, or from a configured list of console users)
 *
 * Return: 0 on success, -ENOMEM.
 */
int policy_snapshot_init(struct policy_snapshot *snapshot, struct policy_db *db, uint32_t uid,
                         const uint32_t *gids, size_t n_gids, bool at_console);

/**
 * policy_snapshot_deinit() - release a snapshot
 * @snapshot: an initialized or zeroed snapshot
 */
void policy_snapshot_deinit(struct policy_snapshot *snapshot);

/**
 * policy_snapshot_check_own() - may the connection own @name?
 * @snapshot: the connection's snapshot
 * @name: a well-known name
 * @verdict: output
 */
void policy_snapshot_check_own(const struct policy_snapshot *snapshot, const char *name,
                               struct policy_verdict *verdict);

/**
 * policy_snapshot_check_send() - may the connection send @message?
 * @snapshot: the sender's snapshot
 * @message: the message
 * @receiver_names: the names the receiver owns or is queued for, including
 *                  its unique name; NULL when the receiver is the bus
 *                  driver (then the message's destination field is used, as
 *                  dbus-daemon does)
 * @n_receiver_names: their number
 * @requested_reply: the message is a reply the receiver is waiting for
 * @verdict: output
 */
void policy_snapshot_check_send(const struct policy_snapshot *snapshot,
                                const struct policy_message *message,
                                const char *const *receiver_names, size_t n_receiver_names,
                                bool requested_reply, struct policy_verdict *verdict);

/**
 * policy_snapshot_check_receive() - may the connection receive @message?
 * @snapshot: the receiver's snapshot
 * @message: the message
 * @sender_names: the names the sender owns or is queued for, including its
 *                unique name; NULL when the sender is the bus driver (then
 *                the message's sender field is used)
 * @n_sender_names: their number
 * @requested_reply: the message is a reply the receiver is waiting for
 * @eavesdropping: the receiver is not the addressed recipient
 * @verdict: output
 */
void policy_snapshot_check_receive(const struct policy_snapshot *snapshot,
                                   const struct policy_message *message,
                                   const char *const *sender_names, size_t n_sender_names,
                                   bool requested_reply, bool eavesdropping,
                                   struct policy_verdict *verdict);
