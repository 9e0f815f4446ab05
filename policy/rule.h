#pragma once

/*
 * A policy rule: one <allow> or <deny> element of a busconfig file, after
 * validation. Rules are produced by the config parser (policy/config.c) and
 * consumed by the policy database compiler (policy/db.c).
 *
 * Invariants (established by the parser, relied upon by the compiler):
 *  - @kind selects which fields are meaningful; all others are zero/NULL.
 *  - A string field that is NULL is a wildcard: it matches anything (this is
 *    how "*" in the config file is represented).
 *  - CONNECT_USER/CONNECT_GROUP rules never appear in a USER or GROUP context
 *    (dbus-daemon rejects them there: they have bus-global semantics).
 *  - @context_id is the uid (USER), gid (GROUP) or 0/1 (CONSOLE: the value of
 *    at_console) of the <policy> element holding the rule; 0 otherwise.
 *  - min_fds <= POLICY_MAX_FDS and max_fds <= POLICY_MAX_FDS.
 * Strings are owned by whoever owns the rule array (config or database).
 */

#include <stdbool.h>
#include <stdint.h>

/* The D-Bus protocol's maximum number of fds in one message (maximum message
 * length / 4): the default of max_fds and the upper bound of min_fds/max_fds. */
#define POLICY_MAX_FDS 33554432u

/* uid/gid wildcard of user="*" / group="*" connect rules */
#define POLICY_ID_ANY UINT32_MAX

enum policy_rule_kind {
        POLICY_RULE_CONNECT_USER,       /* user="..." */
        POLICY_RULE_CONNECT_GROUP,      /* group="..." */
        POLICY_RULE_OWN,                /* own="..." / own_prefix="..." */
        POLICY_RULE_SEND,               /* send_* */
        POLICY_RULE_RECEIVE,            /* receive_* (and lone eavesdrop) */
};

/* The <policy> context of a rule, in order of precedence (later wins). */
enum policy_context {
        POLICY_CONTEXT_DEFAULT,
        POLICY_CONTEXT_GROUP,
        POLICY_CONTEXT_USER,
        POLICY_CONTEXT_CONSOLE,
        POLICY_CONTEXT_MANDATORY,
};

/* D-Bus message types as on the wire; 0 matches any type. */
enum policy_message_type {
        POLICY_TYPE_ANY = 0,
        POLICY_TYPE_METHOD_CALL = 1,
        POLICY_TYPE_METHOD_RETURN = 2,
        POLICY_TYPE_ERROR = 3,
        POLICY_TYPE_SIGNAL = 4,
};

/* send_broadcast tristate */
enum policy_broadcast {
        POLICY_BROADCAST_ANY,
        POLICY_BROADCAST_TRUE,
        POLICY_BROADCAST_FALSE,
};

struct policy_rule {
        uint8_t kind;                   /* enum policy_rule_kind */
        uint8_t context;                /* enum policy_context */
        uint8_t type;                   /* enum policy_message_type */
        uint8_t broadcast;              /* enum policy_broadcast */
        bool allow;
        bool log;                       /* log="true" */
        bool eavesdrop;                 /* eavesdrop="true" */
        bool requested_reply;           /* default: @allow */
        bool name_is_prefix;            /* own_prefix / send_destination_prefix */
        uint32_t context_id;            /* uid, gid or at_console value */
        uint32_t id;                    /* connect rules: uid/gid or POLICY_ID_ANY */
        uint32_t min_fds;
        uint32_t max_fds;
        /* own / send_destination(_prefix) / receive_sender */
        const char *name;
        const char *path;
        const char *interface;
        const char *member;
        const char *error;
        /* where the rule was written, for log lines */
        const char *file;
        unsigned long line;
};
