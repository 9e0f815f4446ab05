/*
 * Match rules and the match registry; see match.h for the rule semantics,
 * the index and its complexity.
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbus-proxy/match.h"
#include "dbus-proxy/syntax.h"
#include "util/cleanup.h"
#include "util/error.h"

/* The index keys, in the order a rule picks its key (see match.h). */
enum {
        MATCH_INDEX_ARG0,
        MATCH_INDEX_PATH,
        MATCH_INDEX_SENDER,
        MATCH_INDEX_MEMBER,
        MATCH_INDEX_INTERFACE,
        MATCH_INDEX_PATH_NAMESPACE,
        MATCH_INDEX_ARG0_NAMESPACE,
        _MATCH_INDEX_N,
};
_Static_assert(_MATCH_INDEX_N == MATCH_INDEX_KINDS, "MATCH_INDEX_KINDS in match.h");

/* A group of rules sharing one index key value. Freed when it empties. */
struct match_bucket {
        struct match_bucket *next;      /* hash chain */
        uint64_t hash;
        struct list_node rules;         /* match_rule.bucket_link */
        unsigned int index;             /* MATCH_INDEX_* */
        size_t len;
        char key[];                     /* NUL-terminated, @len bytes */
};

/*
 * Rule text and errors
 */

static const char *const match_error_messages[_MATCH_E_N] = {
        [MATCH_E_TOO_LONG] = "Match rule is longer than 1024 bytes",
        [MATCH_E_NO_EQUALS] = "Match rule has a key with no '=' after it",
        [MATCH_E_NO_KEY] = "Match rule has an '=' with no key before it",
        [MATCH_E_UNBALANCED_QUOTES] = "Match rule has an unbalanced apostrophe",
        [MATCH_E_UNKNOWN_KEY] = "Match rule has an unknown key",
        [MATCH_E_DUPLICATE_KEY] = "Match rule has a key more than once",
        [MATCH_E_BAD_TYPE] = "Match rule has an invalid message type",
        [MATCH_E_BAD_SENDER] = "Match rule has an invalid sender name",
        [MATCH_E_BAD_INTERFACE] = "Match rule has an invalid interface name",
        [MATCH_E_BAD_MEMBER] = "Match rule has an invalid member name",
        [MATCH_E_BAD_PATH] = "Match rule has an invalid object path",
        [MATCH_E_BAD_DESTINATION] = "Match rule has an invalid destination name",
        [MATCH_E_BAD_EAVESDROP] = "Match rule has eavesdrop neither 'true' nor 'false'",
        [MATCH_E_ARG_NO_NUMBER] = "Match rule has an 'arg' key without a number",
        [MATCH_E_ARG_BAD_NUMBER] = "Match rule has an 'arg' key with an unparsable number",
        [MATCH_E_ARG_JUNK] = "Match rule has an 'arg' key with junk after the number "
                             "(only argNpath and arg0namespace exist)",
        [MATCH_E_ARG_TOO_LARGE] = "Match rule has an 'arg' key above arg63",
        [MATCH_E_BAD_NAMESPACE] = "Match rule has an arg0namespace that is not a valid bus name prefix",
        [MATCH_E_NOT_FOUND] = "The given match rule was not found and cannot be removed",
};

const char *match_error_name(int e)
{
        switch (e) {
        case MATCH_E_TOO_LONG:
                return "org.freedesktop.DBus.Error.LimitsExceeded";
        case MATCH_E_NOT_FOUND:
                return "org.freedesktop.DBus.Error.MatchRuleNotFound";
        default:
                return "org.freedesktop.DBus.Error.MatchRuleInvalid";
        }
}

const char *match_error_message(int e)
{
        if (e <= 0 || e >= _MATCH_E_N)
                return "Unknown match rule error";
        return match_error_messages[e];
}

static bool is_white(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Read one key=value pair at the cursor. On success, @key and @key_len is the key
 * (NULL at the end of the text), the unescaped value is written to @value
 * (NUL-terminated) and the cursor moves past the pair and its ','. @value needs
 * room for strlen(*@pp) + 1 bytes.
 */
static int match_next_token(const char **pp, const char **key, size_t *key_len, char *value)
{
        const char *p = *pp, *k;
        char quote = 0;

        while (is_white(*p))
                ++p;
        k = p;
        while (*p && *p != '=' && !is_white(*p))
                ++p;
        *key_len = (size_t)(p - k);
        while (is_white(*p))
                ++p;
        if (*key_len == 0) {
                if (*p)
                        return MATCH_E_NO_KEY;
                *key = NULL;
                *pp = p;
                return 0;
        }
        if (*p != '=')
                return MATCH_E_NO_EQUALS;
        ++p;
        *key = k;

        for (; *p; ++p) {
                if (quote == '\'') {
                        if (*p == '\'')
                                quote = 0;
                        else
                                *value++ = *p;
                } else if (quote == '\\') {
                        /* a backslash only escapes an apostrophe */
                        if (*p != '\'')
                                *value++ = '\\';
                        *value++ = *p;
                        quote = 0;
                } else if (*p == '\'' || *p == '\\') {
                        quote = *p;
                } else if (*p == ',') {
                        ++p;
                        break;
                } else {
                        *value++ = *p;
                }
        }
        if (quote == '\'')
                return MATCH_E_UNBALANCED_QUOTES;
        if (quote == '\\')
                *value++ = '\\';
        *value = '\0';
        *pp = p;
        return 0;
}

/* A rule being parsed: keys point into @strings, args by index. */
struct match_parse {
        struct match_rule rule;
        const char *args[MATCH_ARGS_MAX];
        unsigned int kinds[MATCH_ARGS_MAX];
        bool has_type;
};

static int match_parse_type(const char *v, unsigned int *type)
{
        static const char *const names[_MATCH_TYPE_N] = {
                [MATCH_TYPE_METHOD_CALL] = "method_call",
                [MATCH_TYPE_METHOD_RETURN] = "method_return",
                [MATCH_TYPE_ERROR] = "error",
                [MATCH_TYPE_SIGNAL] = "signal",
        };

        for (unsigned int t = 1; t < _MATCH_TYPE_N; ++t)
                if (strcmp(v, names[t]) == 0) {
                        *type = t;
                        return 0;
                }
        return MATCH_E_BAD_TYPE;
}

/* argN, argNpath, arg0namespace; @key is NUL-terminated and starts with "arg". */
static int match_parse_arg(struct match_parse *mp, const char *key, const char *value)
{
        unsigned long n;
        unsigned int kind = MATCH_ARG_STRING;
        char *end;

        if (strlen(key) < 4)
                return MATCH_E_ARG_NO_NUMBER;
        errno = 0;
        n = strtoul(key + 3, &end, 0);
        if (end == key + 3 || errno != 0)
                return MATCH_E_ARG_BAD_NUMBER;
        if (*end) {
                if (strcmp(end, "path") == 0) {
                        kind = MATCH_ARG_PATH;
                } else if (strcmp(key, "arg0namespace") == 0) {
                        kind = MATCH_ARG_NAMESPACE;
                        if (!syntax_is_bus_namespace(value))
                                return MATCH_E_BAD_NAMESPACE;
                } else {
                        return MATCH_E_ARG_JUNK;
                }
        }
        if (n >= MATCH_ARGS_MAX)
                return MATCH_E_ARG_TOO_LARGE;
        if (mp->args[n])
                return MATCH_E_DUPLICATE_KEY;
        mp->args[n] = value;
        mp->kinds[n] = kind;
        return 0;
}

/* Apply one key=value; @key is NUL-terminated, @value stays alive. */
static int match_parse_key(struct match_parse *mp, const char *key, const char *value)
{
        struct match_rule *r = &mp->rule;

        if (strcmp(key, "type") == 0) {
                if (mp->has_type)
                        return MATCH_E_DUPLICATE_KEY;
                mp->has_type = true;
                return match_parse_type(value, &r->type);
        } else if (strcmp(key, "sender") == 0) {
                if (r->sender)
                        return MATCH_E_DUPLICATE_KEY;
                if (!syntax_is_bus_name(value))
                        return MATCH_E_BAD_SENDER;
                r->sender = value;
        } else if (strcmp(key, "interface") == 0) {
                if (r->interface)
                        return MATCH_E_DUPLICATE_KEY;
                if (!syntax_is_interface(value))
                        return MATCH_E_BAD_INTERFACE;
                r->interface = value;
        } else if (strcmp(key, "member") == 0) {
                if (r->member)
                        return MATCH_E_DUPLICATE_KEY;
                if (!syntax_is_member(value))
                        return MATCH_E_BAD_MEMBER;
                r->member = value;
        } else if (strcmp(key, "path") == 0 || strcmp(key, "path_namespace") == 0) {
                if (r->path)
                        return MATCH_E_DUPLICATE_KEY;
                if (!syntax_is_path(value))
                        return MATCH_E_BAD_PATH;
                r->path = value;
                r->path_is_namespace = key[4] != '\0';
        } else if (strcmp(key, "destination") == 0) {
                if (r->destination)
                        return MATCH_E_DUPLICATE_KEY;
                if (!syntax_is_bus_name(value))
                        return MATCH_E_BAD_DESTINATION;
                r->destination = value;
        } else if (strcmp(key, "eavesdrop") == 0) {
                /* may repeat; the last one counts */
                if (strcmp(value, "true") == 0)
                        r->eavesdrop = true;
                else if (strcmp(value, "false") == 0)
                        r->eavesdrop = false;
                else
                        return MATCH_E_BAD_EAVESDROP;
        } else if (strncmp(key, "arg", 3) == 0) {
                return match_parse_arg(mp, key, value);
        } else {
                return MATCH_E_UNKNOWN_KEY;
        }
        return 0;
}

struct match_rule *match_rule_free(struct match_rule *rule)
{
        if (!rule)
                return NULL;
        assert(!rule->owner);
        free(rule);
        return NULL;
}

DEFINE_CLEANUP_FUNC(struct match_rule *, match_rule_free);

/* @s (NULL or a string inside @from) moved to the same offset in @to. */
static const char *rebase(const char *s, const char *from, const char *to)
{
        return s ? to + (s - from) : NULL;
}

/*
 * Pass 2 of match_rule_new(), after the syntax of @text passed: the keys, in
 * order, applied to @mp; their values go to @strings (strlen(text) + 1
 * bytes), *@usedp bytes of it in the end. On failure, @keybuf (as large as
 * @strings) holds the failing key and *@valuep (if not NULL) its value.
 */
static int match_parse_keys(struct match_parse *mp, const char *text, char *strings, size_t *usedp, char *keybuf,
                            const char **valuep)
{
        const char *p, *key;
        size_t key_len, used = 0;
        int res;

        for (p = text;;) {
                char *value = strings + used;

                res = match_next_token(&p, &key, &key_len, value);
                assert(res == 0);
                if (!key)
                        break;
                used += strlen(value) + 1;
                assert(used <= strlen(text) + 1);
                memcpy(keybuf, key, key_len);
                keybuf[key_len] = '\0';
                res = match_parse_key(mp, keybuf, value);
                if (res) {
                        if (valuep)
                                *valuep = value;
                        return res;
                }
        }
        *usedp = used;
        return 0;
}

char *match_rule_explain(const char *text, int e)
{
        _cleanup_free_ struct match_parse *mp = NULL;
        _cleanup_free_ char *strings = NULL, *key = NULL;
        const char *value = "";
        unsigned long n = 0;
        size_t used, len = strlen(text);
        char *msg = NULL;
        int r;

        switch (e) {
        case MATCH_E_TOO_LONG:
                r = asprintf(&msg, "Match rule text is %zu bytes, maximum is %d", len, MATCH_RULE_LENGTH_MAX);
                return r < 0 ? NULL : msg;
        case MATCH_E_NO_EQUALS:
                return strdup("Match rule has a key with no subsequent '=' character");
        case MATCH_E_UNBALANCED_QUOTES:
                return strdup("Unbalanced quotation marks in match rule");
        case MATCH_E_NO_KEY:
        case MATCH_E_NOT_FOUND:
                return strdup(match_error_message(e));
        default:
                break;
        }

        /* a key's error: parse again to learn which key and value */
        mp = calloc(1, sizeof(*mp));
        strings = malloc(len + 1);
        key = malloc(len + 1);
        if (!mp || !strings || !key)
                return NULL;
        if (match_parse_keys(mp, text, strings, &used, key, &value) != e)
                return strdup(match_error_message(e));
        if (!strncmp(key, "arg", 3))
                n = strtoul(key + 3, NULL, 0);

        switch (e) {
        case MATCH_E_UNKNOWN_KEY:
                r = asprintf(&msg, "Unknown key \"%s\" in match rule", key);
                break;
        case MATCH_E_DUPLICATE_KEY:
                if (!strncmp(key, "path", 4))
                        r = asprintf(&msg, "path or path_namespace specified twice in match rule");
                else if (!strncmp(key, "arg", 3))
                        r = asprintf(&msg, "Argument arg%lu matched more than once in match rule", n);
                else
                        r = asprintf(&msg, "Key %s specified twice in match rule", key);
                break;
        case MATCH_E_BAD_TYPE:
                r = asprintf(&msg, "Invalid message type (%s) in match rule", value);
                break;
        case MATCH_E_BAD_SENDER:
                r = asprintf(&msg, "Sender name '%s' is invalid", value);
                break;
        case MATCH_E_BAD_INTERFACE:
                r = asprintf(&msg, "Interface name '%s' is invalid", value);
                break;
        case MATCH_E_BAD_MEMBER:
                r = asprintf(&msg, "Member name '%s' is invalid", value);
                break;
        case MATCH_E_BAD_PATH:
                r = asprintf(&msg, "Path '%s' is invalid", value);
                break;
        case MATCH_E_BAD_DESTINATION:
                r = asprintf(&msg, "Destination name '%s' is invalid", value);
                break;
        case MATCH_E_BAD_EAVESDROP:
                r = asprintf(&msg, "eavesdrop='%s' is invalid, it should be 'true' or 'false'", value);
                break;
        case MATCH_E_ARG_NO_NUMBER:
                r = asprintf(&msg, "Key '%s' in match rule starts with 'arg' but lacks an arg number. Should be "
                             "'arg0' or 'arg7' for example.", key);
                break;
        case MATCH_E_ARG_BAD_NUMBER:
                r = asprintf(&msg, "Key '%s' in match rule starts with 'arg' but could not parse arg number. "
                             "Should be 'arg0' or 'arg7' for example.", key);
                break;
        case MATCH_E_ARG_JUNK:
                r = asprintf(&msg, "Key '%s' in match rule contains junk after argument number (%lu). Only "
                             "'arg%lupath' (for example) or 'arg0namespace' are valid", key, n, n);
                break;
        case MATCH_E_ARG_TOO_LARGE:
                r = asprintf(&msg, "Key '%s' in match rule has arg number %lu but the maximum is %d.", key, n,
                             MATCH_ARGS_MAX - 1);
                break;
        case MATCH_E_BAD_NAMESPACE:
                r = asprintf(&msg, "arg0namespace='%s' is not a valid prefix of a bus name", value);
                break;
        default:
                return strdup(match_error_message(e));
        }
        return r < 0 ? NULL : msg;
}

int match_rule_new(struct match_rule **out, const char *text)
{
        _cleanup_free_ struct match_parse *mp = NULL;
        _cleanup_free_ char *strings = NULL, *scratch = NULL;
        _cleanup_(match_rule_freep) struct match_rule *rule = NULL;
        char keybuf[MATCH_RULE_LENGTH_MAX + 1];
        const char *p, *key;
        size_t len, key_len, n_args = 0, used = 0;
        char *copy;
        int res;

        len = strlen(text);
        if (len > MATCH_RULE_LENGTH_MAX)
                return MATCH_E_TOO_LONG;

        mp = calloc(1, sizeof(*mp));
        strings = malloc(len + 1);
        scratch = malloc(len + 1);
        if (!mp || !strings || !scratch)
                return error_origin(-ENOMEM);

        /* Pass 1: the syntax of the whole text, as dbus-daemon tokenises first. */
        for (p = text;;) {
                res = match_next_token(&p, &key, &key_len, scratch);
                if (res)
                        return res;
                if (!key)
                        break;
        }

        res = match_parse_keys(mp, text, strings, &used, keybuf, NULL);
        if (res)
                return res;

        for (size_t i = 0; i < MATCH_ARGS_MAX; ++i)
                n_args += !!mp->args[i];

        /* One block: the rule, its args, its strings. */
        rule = calloc(1, sizeof(*rule) + n_args * sizeof(*rule->args) + used);
        if (!rule)
                return error_origin(-ENOMEM);
        *rule = mp->rule;
        rule->args = (struct match_arg *)(void *)(rule + 1);
        copy = (char *)(rule->args + n_args);
        memcpy(copy, strings, used);
        rule->sender = rebase(rule->sender, strings, copy);
        rule->interface = rebase(rule->interface, strings, copy);
        rule->member = rebase(rule->member, strings, copy);
        rule->path = rebase(rule->path, strings, copy);
        rule->destination = rebase(rule->destination, strings, copy);
        n_args = 0;
        for (unsigned int i = 0; i < MATCH_ARGS_MAX; ++i) {
                if (!mp->args[i])
                        continue;
                rule->args[n_args++] = (struct match_arg){
                        .index = i,
                        .kind = mp->kinds[i],
                        .value = rebase(mp->args[i], strings, copy),
                        .len = strlen(mp->args[i]),
                };
        }
        rule->n_args = n_args;
        rule->owner = NULL;
        list_node_init(&rule->owner_link);
        list_node_init(&rule->bucket_link);
        rule->bucket = NULL;

        *out = steal_ptr(rule);
        return 0;
}

static void match_write_value(FILE *f, const char *key, const char *value)
{
        fputs(key, f);
        fputs("='", f);
        for (; *value; ++value) {
                if (*value == '\'')
                        fputs("'\\''", f);
                else
                        fputc(*value, f);
        }
        fputc('\'', f);
}

int match_rule_to_string(const struct match_rule *rule, char **out)
{
        static const char *const types[_MATCH_TYPE_N] = {
                [MATCH_TYPE_METHOD_CALL] = "method_call",
                [MATCH_TYPE_METHOD_RETURN] = "method_return",
                [MATCH_TYPE_ERROR] = "error",
                [MATCH_TYPE_SIGNAL] = "signal",
        };
        char *buf = NULL;
        size_t size = 0;
        const char *sep = "";
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f)
                return error_origin(-ENOMEM);

#define KEY(_k, _v) do { fputs(sep, f); match_write_value(f, (_k), (_v)); sep = ","; } while (0)
        if (rule->type != MATCH_TYPE_ANY)
                KEY("type", types[rule->type]);
        if (rule->interface)
                KEY("interface", rule->interface);
        if (rule->member)
                KEY("member", rule->member);
        if (rule->path)
                KEY(rule->path_is_namespace ? "path_namespace" : "path", rule->path);
        if (rule->sender)
                KEY("sender", rule->sender);
        if (rule->destination)
                KEY("destination", rule->destination);
        if (rule->eavesdrop)
                KEY("eavesdrop", "true");
        for (size_t i = 0; i < rule->n_args; ++i) {
                const struct match_arg *a = &rule->args[i];
                char key[32];

                snprintf(key, sizeof(key), "arg%u%s", a->index,
                         a->kind == MATCH_ARG_PATH ? "path" :
                         a->kind == MATCH_ARG_NAMESPACE ? "namespace" : "");
                KEY(key, a->value);
        }
#undef KEY

        if (ferror(f)) {
                fclose(f);
                free(buf);
                return error_origin(-ENOMEM);
        }
        if (fclose(f) != 0) {
                free(buf);
                return error_origin(-ENOMEM);
        }
        *out = buf;
        return 0;
}

static bool str_equal_or_null(const char *a, const char *b)
{
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

bool match_rule_equal(const struct match_rule *a, const struct match_rule *b)
{
        if (a->type != b->type || a->eavesdrop != b->eavesdrop ||
            a->path_is_namespace != b->path_is_namespace || a->n_args != b->n_args)
                return false;
        if (!str_equal_or_null(a->sender, b->sender) || !str_equal_or_null(a->interface, b->interface) ||
            !str_equal_or_null(a->member, b->member) || !str_equal_or_null(a->path, b->path) ||
            !str_equal_or_null(a->destination, b->destination))
                return false;
        for (size_t i = 0; i < a->n_args; ++i)
                if (a->args[i].index != b->args[i].index || a->args[i].kind != b->args[i].kind ||
                    a->args[i].len != b->args[i].len || memcmp(a->args[i].value, b->args[i].value, a->args[i].len))
                        return false;
        return true;
}

/*
 * Matching
 */

static bool name_in(const char *name, const char *const *names, size_t n)
{
        for (size_t i = 0; i < n; ++i)
                if (strcmp(name, names[i]) == 0)
                        return true;
        return false;
}

static bool match_arg_matches(const struct match_arg *a, const char *actual, bool is_path)
{
        size_t al;

        if (!actual)
                return false;
        /* strings match every kind; object paths only argNpath */
        if (is_path && a->kind != MATCH_ARG_PATH)
                return false;
        al = strlen(actual);

        switch (a->kind) {
        case MATCH_ARG_PATH:
                /* equal, or the shorter is a prefix of the other and ends in '/' */
                if (al < a->len && (al == 0 || actual[al - 1] != '/'))
                        return false;
                if (a->len < al && (a->len == 0 || a->value[a->len - 1] != '/'))
                        return false;
                return memcmp(actual, a->value, al < a->len ? al : a->len) == 0;
        case MATCH_ARG_NAMESPACE:
                if (a->len > al || memcmp(a->value, actual, a->len) != 0)
                        return false;
                return a->len == al || actual[a->len] == '.';
        default:
                return a->len == al && memcmp(a->value, actual, al) == 0;
        }
}

bool match_rule_matches(const struct match_rule *rule, const struct match_filter *f)
{
        if (rule->type != MATCH_TYPE_ANY && rule->type != f->type)
                return false;
        if (rule->interface && (!f->interface || strcmp(rule->interface, f->interface) != 0))
                return false;
        if (rule->member && (!f->member || strcmp(rule->member, f->member) != 0))
                return false;
        if (rule->sender && !name_in(rule->sender, f->sender_names, f->n_sender_names))
                return false;

        if (rule->destination) {
                /* only eavesdroppers see messages addressed to others */
                if (!f->destination || !rule->eavesdrop)
                        return false;
                if (f->destination_names) {
                        if (!name_in(rule->destination, f->destination_names, f->n_destination_names))
                                return false;
                } else if (strcmp(rule->destination, f->destination) != 0) {
                        return false;
                }
        } else if (f->destination && !rule->eavesdrop) {
                return false;
        }

        if (rule->path) {
                if (!f->path)
                        return false;
                if (rule->path_is_namespace) {
                        size_t len = strlen(rule->path);

                        if (strncmp(f->path, rule->path, len) != 0)
                                return false;
                        /* "/" contains everything; otherwise a '/' boundary */
                        if (len > 1 && f->path[len] != '\0' && f->path[len] != '/')
                                return false;
                } else if (strcmp(rule->path, f->path) != 0) {
                        return false;
                }
        }

        for (size_t i = 0; i < rule->n_args; ++i) {
                const struct match_arg *a = &rule->args[i];

                if (!match_arg_matches(a, f->args[a->index].value, f->args[a->index].is_path))
                        return false;
        }
        return true;
}

/*
 * Registry
 */

void match_owner_init(struct match_owner *o)
{
        list_node_init(&o->rules);
        o->n_rules = 0;
        o->stamp = 0;
}

void match_owner_deinit(struct match_owner *o)
{
        assert(list_is_empty(&o->rules));
        assert(o->n_rules == 0);
}

void match_registry_init(struct match_registry *r)
{
        r->buckets = NULL;
        r->n_slots = 0;
        r->n_buckets = 0;
        for (size_t i = 0; i < _MATCH_INDEX_N; ++i)
                r->n_index_buckets[i] = 0;
        for (size_t i = 0; i < _MATCH_TYPE_N; ++i)
                list_node_init(&r->fallback[i]);
        r->n_rules = 0;
        r->n_eavesdrop_rules = 0;
        r->stamp = 0;
}

void match_registry_deinit(struct match_registry *r)
{
        assert(r->n_rules == 0);
        assert(r->n_buckets == 0);
        for (size_t i = 0; i < _MATCH_TYPE_N; ++i)
                assert(list_is_empty(&r->fallback[i]));
        free(r->buckets);
        r->buckets = NULL;
        r->n_slots = 0;
}

/* FNV-1a over the index number and the key bytes. */
static uint64_t match_hash(unsigned int index, const char *s, size_t len)
{
        uint64_t h = 0xcbf29ce484222325ULL;

        h = (h ^ index) * 0x100000001b3ULL;
        for (size_t i = 0; i < len; ++i)
                h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
        return h;
}

static struct match_bucket *match_registry_find_bucket(const struct match_registry *r, unsigned int index,
                                                       const char *s, size_t len)
{
        struct match_bucket *b;
        uint64_t h;

        if (r->n_buckets == 0)
                return NULL;
        h = match_hash(index, s, len);
        for (b = r->buckets[h & (r->n_slots - 1)]; b; b = b->next)
                if (b->hash == h && b->index == index && b->len == len && memcmp(b->key, s, len) == 0)
                        return b;
        return NULL;
}

/* Make room for one more bucket: double the table when it is full. */
static int match_registry_reserve_bucket(struct match_registry *r)
{
        struct match_bucket **table, *b, *next;
        size_t n;

        if (r->n_buckets < r->n_slots)
                return 0;
        n = r->n_slots ? 2 * r->n_slots : 64;
        table = calloc(n, sizeof(*table));
        if (!table)
                return error_origin(-ENOMEM);
        for (size_t i = 0; i < r->n_slots; ++i)
                for (b = r->buckets[i]; b; b = next) {
                        next = b->next;
                        b->next = table[b->hash & (n - 1)];
                        table[b->hash & (n - 1)] = b;
                }
        free(r->buckets);
        r->buckets = table;
        r->n_slots = n;
        return 0;
}

/* The index a rule is filed under and its key there, or -1 for the fallback. */
static int match_rule_index(const struct match_rule *rule, const char **key)
{
        const struct match_arg *arg0 = (rule->n_args && rule->args[0].index == 0) ? &rule->args[0] : NULL;

        if (arg0 && arg0->kind == MATCH_ARG_STRING) {
                *key = arg0->value;
                return MATCH_INDEX_ARG0;
        }
        if (rule->path && !rule->path_is_namespace) {
                *key = rule->path;
                return MATCH_INDEX_PATH;
        }
        if (rule->sender) {
                *key = rule->sender;
                return MATCH_INDEX_SENDER;
        }
        if (rule->member) {
                *key = rule->member;
                return MATCH_INDEX_MEMBER;
        }
        if (rule->interface) {
                *key = rule->interface;
                return MATCH_INDEX_INTERFACE;
        }
        if (rule->path) {
                *key = rule->path;
                return MATCH_INDEX_PATH_NAMESPACE;
        }
        if (arg0 && arg0->kind == MATCH_ARG_NAMESPACE) {
                *key = arg0->value;
                return MATCH_INDEX_ARG0_NAMESPACE;
        }
        return -1;
}

int match_registry_add(struct match_registry *r, struct match_owner *owner, struct match_rule *rule)
{
        struct match_bucket *b = NULL;
        const char *key = NULL;
        int index;

        assert(!rule->owner);

        index = match_rule_index(rule, &key);
        if (index < 0) {
                list_link_tail(&r->fallback[rule->type], &rule->bucket_link);
        } else {
                size_t len = strlen(key);

                b = match_registry_find_bucket(r, (unsigned int)index, key, len);
                if (!b) {
                        int res = match_registry_reserve_bucket(r);

                        if (res < 0)
                                return error_trace(res);
                        b = malloc(sizeof(*b) + len + 1);
                        if (!b)
                                return error_origin(-ENOMEM);
                        b->hash = match_hash((unsigned int)index, key, len);
                        list_node_init(&b->rules);
                        b->index = (unsigned int)index;
                        b->len = len;
                        memcpy(b->key, key, len + 1);
                        b->next = r->buckets[b->hash & (r->n_slots - 1)];
                        r->buckets[b->hash & (r->n_slots - 1)] = b;
                        ++r->n_buckets;
                        ++r->n_index_buckets[b->index];
                }
                list_link_tail(&b->rules, &rule->bucket_link);
        }
        rule->bucket = b;
        rule->owner = owner;
        list_link_tail(&owner->rules, &rule->owner_link);
        ++owner->n_rules;
        ++r->n_rules;
        if (rule->eavesdrop)
                ++r->n_eavesdrop_rules;
        return 0;
}

/* Take @rule out of @r and free it. */
static void match_registry_unlink(struct match_registry *r, struct match_rule *rule)
{
        struct match_bucket *b = rule->bucket;

        list_unlink(&rule->bucket_link);
        list_unlink(&rule->owner_link);
        if (b && list_is_empty(&b->rules)) {
                struct match_bucket **p = &r->buckets[b->hash & (r->n_slots - 1)];

                while (*p != b)
                        p = &(*p)->next;
                *p = b->next;
                --r->n_buckets;
                --r->n_index_buckets[b->index];
                free(b);
        }
        --rule->owner->n_rules;
        --r->n_rules;
        if (rule->eavesdrop)
                --r->n_eavesdrop_rules;
        rule->owner = NULL;
        rule->bucket = NULL;
        match_rule_free(rule);
}

int match_registry_remove(struct match_registry *r, struct match_owner *owner, const struct match_rule *rule)
{
        struct list_node *n;

        /* newest first */
        for (n = owner->rules.prev; n != &owner->rules; n = n->prev) {
                struct match_rule *m = list_entry(n, struct match_rule, owner_link);

                if (match_rule_equal(m, rule)) {
                        match_registry_unlink(r, m);
                        return 0;
                }
        }
        return MATCH_E_NOT_FOUND;
}

void match_registry_remove_all(struct match_registry *r, struct match_owner *owner)
{
        while (!list_is_empty(&owner->rules))
                match_registry_unlink(r, list_entry(owner->rules.next, struct match_rule, owner_link));
}

struct match_lookup {
        struct match_registry *r;
        const struct match_filter *f;
        match_fn fn;
        void *userdata;
};

/* Check every rule on @rules; report owners not reported yet. */
static int match_lookup_list(struct match_lookup *l, struct list_node *rules)
{
        struct match_rule *rule;
        int res;

        list_for_each_entry(rule, rules, struct match_rule, bucket_link) {
                if (rule->owner->stamp == l->r->stamp)
                        continue;
                if (!match_rule_matches(rule, l->f))
                        continue;
                rule->owner->stamp = l->r->stamp;
                res = l->fn(rule->owner, l->userdata);
                if (res)
                        return res;
        }
        return 0;
}

static int match_lookup_key(struct match_lookup *l, unsigned int index, const char *s, size_t len)
{
        struct match_bucket *b = match_registry_find_bucket(l->r, index, s, len);

        return b ? match_lookup_list(l, &b->rules) : 0;
}

int match_registry_lookup(struct match_registry *r, const struct match_filter *f,
                          struct match_owner *skip, match_fn fn, void *userdata)
{
        struct match_lookup l = { .r = r, .f = f, .fn = fn, .userdata = userdata };
        const char *arg0 = f->args[0].is_path ? NULL : f->args[0].value;
        int res;

        /* a message addressed to someone reaches only eavesdroppers' rules */
        if (f->destination && r->n_eavesdrop_rules == 0)
                return 0;

        ++r->stamp;
        if (skip)
                skip->stamp = r->stamp;

#define PROBE(_index, _s, _len) do { \
                res = match_lookup_key(&l, (_index), (_s), (_len)); \
                if (res) \
                        return res; \
        } while (0)
#define HAS(_index) (r->n_index_buckets[_index] > 0)

        if (arg0 && HAS(MATCH_INDEX_ARG0))
                PROBE(MATCH_INDEX_ARG0, arg0, strlen(arg0));
        if (f->path && HAS(MATCH_INDEX_PATH))
                PROBE(MATCH_INDEX_PATH, f->path, strlen(f->path));
        for (size_t i = 0; HAS(MATCH_INDEX_SENDER) && i < f->n_sender_names; ++i)
                PROBE(MATCH_INDEX_SENDER, f->sender_names[i], strlen(f->sender_names[i]));
        if (f->member && HAS(MATCH_INDEX_MEMBER))
                PROBE(MATCH_INDEX_MEMBER, f->member, strlen(f->member));
        if (f->interface && HAS(MATCH_INDEX_INTERFACE))
                PROBE(MATCH_INDEX_INTERFACE, f->interface, strlen(f->interface));
        if (f->path && f->path[0] == '/' && HAS(MATCH_INDEX_PATH_NAMESPACE)) {
                size_t i;

                /* "/" and every ancestor "/a", "/a/b", ..., and the path itself */
                PROBE(MATCH_INDEX_PATH_NAMESPACE, "/", 1);
                for (i = 1; f->path[i]; ++i)
                        if (f->path[i] == '/')
                                PROBE(MATCH_INDEX_PATH_NAMESPACE, f->path, i);
                if (i > 1)
                        PROBE(MATCH_INDEX_PATH_NAMESPACE, f->path, i);
        }
        if (arg0 && HAS(MATCH_INDEX_ARG0_NAMESPACE)) {
                size_t i;

                /* "a", "a.b", ..., and arg0 itself */
                for (i = 0; arg0[i]; ++i)
                        if (arg0[i] == '.')
                                PROBE(MATCH_INDEX_ARG0_NAMESPACE, arg0, i);
                PROBE(MATCH_INDEX_ARG0_NAMESPACE, arg0, i);
        }
#undef HAS
#undef PROBE

        res = match_lookup_list(&l, &r->fallback[MATCH_TYPE_ANY]);
        if (res)
                return res;
        if (f->type > MATCH_TYPE_ANY && f->type < _MATCH_TYPE_N)
                return match_lookup_list(&l, &r->fallback[f->type]);
        return 0;
}
