#pragma once

/*
 * Match rules and the match registry
 *
 * A match rule (AddMatch/RemoveMatch) is parsed and validated from its
 * string form exactly as dbus-daemon 1.14 does, and kept as a `struct
 * match_rule`: an immutable set of keys. A rule that is added to the
 * registry belongs to a `struct match_owner` the caller embeds in its
 * connection object.
 *
 * The registry answers one question for the router: given a message,
 * described by a `struct match_filter` of plain strings, which owners have at
 * least one rule that matches it? Each owner is reported at most once.
 *
 * Index. Every rule is filed under exactly one index key, the first of these
 * that it has, in this order:
 *   1. arg0='s'             (exact string)
 *   2. path='/p'            (exact)
 *   3. sender='n'           (exact bus name)
 *   4. member='m'           (exact)
 *   5. interface='i'        (exact)
 *   6. path_namespace='/p'  (prefix on '/' boundaries)
 *   7. arg0namespace='n'    (prefix on '.' boundaries)
 * A bucket is a list of the rules with one (index key, value) pair; all
 * buckets live in one chained hash table keyed by that pair (FNV-1a), which
 * doubles when it holds more buckets than slots. Rules with none of these keys (e.g. "type='signal'", or an
 * eavesdropper's empty rule) go on a fallback list, grouped by message type.
 * A lookup probes each index that has buckets (rules filed under it) only
 * with the values the message has: arg0
 * (if a string), path, each name of the sender, member, interface, every
 * ancestor of the path ("/", "/a", "/a/b" for "/a/b"), every dotted prefix
 * of arg0; then the fallback lists of "any type" and of the message's type.
 * A rule in a bucket that is not probed cannot match (its index key differs
 * from the message's value), so it is never looked at.
 *
 * Complexity of a lookup: O(P + R) expected, where P is the number of probes
 * (5 + number of sender names + path depth + arg0 dots; each hashes one
 * string and walks one chain of expected length <= 1), and R the number of
 * rules in the probed buckets and fallback lists, i.e. rules that share
 * their index key value with the message; each is checked in full
 * (O(number of its keys)). Rules whose index key value differs from the
 * message's cost nothing. Adding a rule is O(1) amortised (the table may
 * grow, which can fail with -ENOMEM before anything changed); removing one
 * is O(1) plus a walk of the owner's rules to find an equal one (as
 * dbus-daemon does).
 *
 * Semantics (dbus-daemon's, see match_rule_matches()): all keys of a rule
 * must match. sender= and destination= compare against every name the
 * sender/recipient currently is primary owner of. A rule without
 * destination= matches only broadcasts (messages without a destination),
 * unless it has eavesdrop='true'; a rule with destination= matches only
 * messages to that destination, and only with eavesdrop='true' (messages
 * addressed to the owner itself are delivered to it anyway). Hence, for a
 * message with a destination, every owner reported is an eavesdropper, and
 * the broker decides (policy, BecomeMonitor) whether to deliver to it.
 *
 * Not thread-safe: callers serialise all access to one registry.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/list.h"

/** MATCH_RULE_LENGTH_MAX - longest accepted rule text (bytes), as dbus-daemon. */
#define MATCH_RULE_LENGTH_MAX 1024

/** MATCH_ARGS_MAX - argument keys go from arg0 to arg63. */
#define MATCH_ARGS_MAX 64

/* Message types (the D-Bus wire values); MATCH_TYPE_ANY for "no type key". */
enum {
        MATCH_TYPE_ANY = 0,
        MATCH_TYPE_METHOD_CALL = 1,
        MATCH_TYPE_METHOD_RETURN = 2,
        MATCH_TYPE_ERROR = 3,
        MATCH_TYPE_SIGNAL = 4,
        _MATCH_TYPE_N,
};

/* How a rule's argument key compares. */
enum {
        MATCH_ARG_STRING = 1,   /* argN='s': a string argument equal to s */
        MATCH_ARG_PATH,         /* argNpath='p': string or object path, path-prefix semantics */
        MATCH_ARG_NAMESPACE,    /* arg0namespace='n': string equal to n or starting with "n." */
};

/*
 * Refusals of match_rule_new() (and match_registry_remove()). All but
 * MATCH_E_TOO_LONG and MATCH_E_NOT_FOUND are reported by dbus-daemon as
 * org.freedesktop.DBus.Error.MatchRuleInvalid; match_error_name() maps them.
 */
enum {
        MATCH_E_TOO_LONG = 1,           /* longer than MATCH_RULE_LENGTH_MAX (LimitsExceeded) */
        MATCH_E_NO_EQUALS,              /* a key without '=' after it */
        MATCH_E_NO_KEY,                 /* '=' without a key before it */
        MATCH_E_UNBALANCED_QUOTES,      /* an apostrophe is not closed */
        MATCH_E_UNKNOWN_KEY,            /* a key that is none of the known ones */
        MATCH_E_DUPLICATE_KEY,          /* a key (or path/path_namespace, or argument) twice */
        MATCH_E_BAD_TYPE,               /* type= not one of the four message types */
        MATCH_E_BAD_SENDER,             /* sender= not a valid bus name */
        MATCH_E_BAD_INTERFACE,          /* interface= not a valid interface name */
        MATCH_E_BAD_MEMBER,             /* member= not a valid member name */
        MATCH_E_BAD_PATH,               /* path= or path_namespace= not a valid object path */
        MATCH_E_BAD_DESTINATION,        /* destination= not a valid bus name */
        MATCH_E_BAD_EAVESDROP,          /* eavesdrop= neither 'true' nor 'false' */
        MATCH_E_ARG_NO_NUMBER,          /* "arg" without anything after it */
        MATCH_E_ARG_BAD_NUMBER,         /* "arg" not followed by a number */
        MATCH_E_ARG_JUNK,               /* argN followed by other than "path" (or arg0namespace) */
        MATCH_E_ARG_TOO_LARGE,          /* argN with N > 63 */
        MATCH_E_BAD_NAMESPACE,          /* arg0namespace= not a valid bus name prefix */
        MATCH_E_NOT_FOUND,              /* match_registry_remove(): no equal rule (MatchRuleNotFound) */
        _MATCH_E_N,
};

struct match_arg {
        unsigned int index;             /* 0..63 */
        unsigned int kind;              /* MATCH_ARG_* */
        const char *value;
        size_t len;                     /* strlen(value) */
};

struct match_owner;
struct match_bucket;

struct match_rule {
        /* Keys; immutable after match_rule_new(). NULL: key absent. */
        unsigned int type;              /* MATCH_TYPE_*, MATCH_TYPE_ANY if absent */
        bool eavesdrop;
        bool path_is_namespace;         /* path holds path_namespace= */
        const char *sender;
        const char *interface;
        const char *member;
        const char *path;
        const char *destination;
        size_t n_args;                  /* args sorted by index, no index twice */
        struct match_arg *args;

        /* Registry membership; set by match_registry_add(). */
        struct match_owner *owner;
        struct list_node owner_link;    /* in owner->rules */
        struct list_node bucket_link;   /* in bucket->rules */
        struct match_bucket *bucket;
};

struct match_owner {
        struct list_node rules;         /* match_rule.owner_link, oldest first */
        size_t n_rules;                 /* for max_match_rules_per_connection */
        uint64_t stamp;                 /* last lookup that reported this owner */
};

/* MATCH_INDEX_KINDS - number of index keys (the list above). */
#define MATCH_INDEX_KINDS 7

struct match_registry {
        struct match_bucket **buckets;  /* hash table of all buckets, chained via match_bucket.next */
        size_t n_slots;                 /* size of @buckets: 0 or a power of two */
        size_t n_buckets;               /* buckets in the table */
        /* buckets per index key: a lookup skips the probes of a key no rule is filed under */
        size_t n_index_buckets[MATCH_INDEX_KINDS];
        struct list_node fallback[_MATCH_TYPE_N]; /* rules without index key, by type */
        size_t n_rules;
        size_t n_eavesdrop_rules;       /* rules with eavesdrop='true' (the only ones for unicast) */
        uint64_t stamp;                 /* incremented by every lookup */
};

/*
 * A message as the matcher sees it. Strings are NUL-terminated; a NULL field
 * is a header the message does not have. The caller zero-initialises it.
 */
struct match_filter {
        unsigned int type;              /* MATCH_TYPE_METHOD_CALL .. MATCH_TYPE_SIGNAL */
        /*
         * The names sender= is compared with: the sender's unique name and
         * every well-known name it is primary owner of; for messages from
         * the bus driver just "org.freedesktop.DBus".
         */
        const char *const *sender_names;
        size_t n_sender_names;
        const char *interface;
        const char *member;
        const char *path;
        const char *destination;        /* DESTINATION header; NULL for broadcasts */
        /*
         * The names destination= is compared with: the addressed recipient's
         * unique name and every well-known name it is primary owner of. If
         * NULL (message to the driver, or to a name whose owner is not
         * known yet, e.g. during activation), destination= is compared with
         * @destination itself, as dbus-daemon does.
         */
        const char *const *destination_names;
        size_t n_destination_names;
        /*
         * The body's first 64 arguments: value NULL unless the argument is a
         * string (is_path false) or an object path (is_path true).
         */
        struct {
                const char *value;
                bool is_path;
        } args[MATCH_ARGS_MAX];
};

/**
 * match_error_name() - the D-Bus error name dbus-daemon uses for @e.
 * @e: a MATCH_E_* code
 *
 * Return: "org.freedesktop.DBus.Error.LimitsExceeded" for MATCH_E_TOO_LONG,
 *         "...MatchRuleNotFound" for MATCH_E_NOT_FOUND, otherwise
 *         "...MatchRuleInvalid".
 */
const char *match_error_name(int e);

/**
 * match_error_message() - a human-readable explanation of @e (static text).
 */
const char *match_error_message(int e);

/**
 * match_rule_explain() - what is wrong with @text, which match_rule_new()
 * refused with @e, in dbus-daemon's words (naming the key or value at
 * fault where it does, without its trailing newlines)
 * Return: a malloc'd message, or NULL if out of memory (fall back to
 *         match_error_message()).
 */
char *match_rule_explain(const char *text, int e);

/**
 * match_rule_new() - parse and validate a match rule.
 * @out:  the new rule, written only on success
 * @text: NUL-terminated rule text, untrusted
 *
 * Grammar of dbus-daemon: comma-separated key=value pairs; whitespace before
 * and after a key is skipped, a value is taken verbatim up to an unquoted
 * ','; inside apostrophes every byte is literal; outside, \' is a literal
 * apostrophe and any other backslash is literal. Empty values are allowed;
 * trailing whitespace and an empty rule are fine. Every value is validated
 * (see the MATCH_E_* codes); "arg" keys follow dbus-daemon too, including
 * its number syntax (strtoul base 0, so arg0x1 is arg1).
 *
 * Deliberate differences from dbus-daemon (which tokenises at most 16
 * key=value pairs and silently ignores the rest, and silently stops at an
 * '=' without a key): every pair is honoured, and an '=' without a key is
 * MATCH_E_NO_KEY. Both only affect rules dbus-daemon would mis-handle.
 *
 * Return: 0, a positive MATCH_E_* code (MATCH_E_TOO_LONG .. MATCH_E_BAD_NAMESPACE),
 *         or -ENOMEM.
 */
int match_rule_new(struct match_rule **out, const char *text);

/**
 * match_rule_free() - free @rule (which must not be in a registry); NULL ok.
 * Return: NULL.
 */
struct match_rule *match_rule_free(struct match_rule *rule);

/**
 * match_rule_to_string() - the normalised text of @rule.
 * @rule: the rule
 * @out:  a newly allocated NUL-terminated string (free() it), on success
 *
 * Keys in the order type, interface, member, path/path_namespace, sender,
 * destination, eavesdrop (only if true), then arguments by index; every
 * value in apostrophes, an apostrophe in a value written as '\''. Parsing
 * the result gives an equal rule. This is what GetAllMatchRules reports.
 *
 * Return: 0 or -ENOMEM.
 */
int match_rule_to_string(const struct match_rule *rule, char **out);

/**
 * match_rule_equal() - whether @a and @b have the same keys (RemoveMatch's
 * notion of equality; eavesdrop='false' equals no eavesdrop key).
 */
bool match_rule_equal(const struct match_rule *a, const struct match_rule *b);

/**
 * match_rule_matches() - whether @rule matches the message @f.
 *
 * The full check, without the index; match_registry_lookup() gives the same
 * answer for every rule it holds.
 */
bool match_rule_matches(const struct match_rule *rule, const struct match_filter *f);

/** match_owner_init() - make @o an owner of no rules. */
void match_owner_init(struct match_owner *o);

/** match_owner_deinit() - tear down @o; it must own no rules (see match_registry_remove_all()). */
void match_owner_deinit(struct match_owner *o);

/** match_registry_init() - make @r an empty registry. */
void match_registry_init(struct match_registry *r);

/** match_registry_deinit() - tear down @r, which must hold no rules. */
void match_registry_deinit(struct match_registry *r);

/**
 * match_registry_add() - add @rule (from match_rule_new()) for @owner.
 * @r:     the registry
 * @owner: the owner
 * @rule:  a rule not in any registry; the registry takes it over on success
 *
 * Identical rules may be added several times (each counts). The
 * per-connection limit is the caller's: compare @owner->n_rules before.
 *
 * Return: 0, or -ENOMEM (nothing changed, @rule still the caller's).
 */
int match_registry_add(struct match_registry *r, struct match_owner *owner, struct match_rule *rule);

/**
 * match_registry_remove() - RemoveMatch: drop one rule of @owner equal to @rule.
 * @r:     the registry
 * @owner: the owner
 * @rule:  the rule to compare with (stays the caller's)
 *
 * If @owner has several equal rules, the newest one goes.
 *
 * Return: 0, or MATCH_E_NOT_FOUND if @owner has no rule equal to @rule.
 */
int match_registry_remove(struct match_registry *r, struct match_owner *owner, const struct match_rule *rule);

/** match_registry_remove_all() - drop every rule of @owner (disconnect). */
void match_registry_remove_all(struct match_registry *r, struct match_owner *owner);

/**
 * match_fn - callback of match_registry_lookup().
 * @owner:    an owner with a matching rule (reported once per lookup)
 * @userdata: as passed to match_registry_lookup()
 *
 * Must not change the registry. Return 0 to continue, anything else stops
 * the lookup and is returned by it.
 */
typedef int (*match_fn)(struct match_owner *owner, void *userdata);

/**
 * match_registry_lookup() - report every owner with a rule matching @f.
 * @r:        the registry
 * @f:        the message
 * @skip:     an owner never to report (the addressed recipient, which gets
 *            the message anyway), or NULL
 * @fn:       called once per matching owner, in no particular order
 * @userdata: passed to @fn
 *
 * Return: 0, or the first non-zero value @fn returned.
 */
int match_registry_lookup(struct match_registry *r, const struct match_filter *f,
                          struct match_owner *skip, match_fn fn, void *userdata);
