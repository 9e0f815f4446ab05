/*
 * Policy database compiler and evaluator.
 *
 * Layout: one array of rules in precedence order (context, then document
 * order), so a rule's index is its precedence: the verdict is the matching,
 * applicable rule of highest index. Per rule kind (own, send, receive) an
 * index splits the rules into
 *   - "any": rules without a name key (own="*", no send_destination, ...),
 *   - "exact" buckets: sorted by name, each with its ascending rule indices,
 *   - "prefix" buckets: likewise, for own_prefix/send_destination_prefix.
 * A check scans each relevant list backwards and stops at the first hit or
 * as soon as the indices drop below the best hit found so far.
 *
 * Locking: none. A database is immutable after policy_db_new(); only its
 * reference count changes, atomically. A snapshot is owned by its connection.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/config.h"
#include "policy/db.h"
#include "util/cleanup.h"
#include "util/error.h"

struct policy_bucket {
        const char *name;
        const uint32_t *rules;          /* ascending indices */
        size_t n_rules;
};

struct policy_index {
        uint32_t *any;
        size_t n_any;
        struct policy_bucket *exact;
        size_t n_exact;
        struct policy_bucket *prefix;
        size_t n_prefix;
        uint32_t *keyed;                /* storage of the buckets' indices */
};

struct policy_db {
        unsigned long n_refs;           /* atomic */
        struct policy_rule *rules;      /* precedence order; immutable */
        size_t n_rules;
        char *strings;                  /* storage of the rules' strings */
        uint32_t *connect;              /* connect rules of default+mandatory */
        size_t n_connect;
        struct policy_index own;
        struct policy_index send;
        struct policy_index receive;
};

struct key {
        const char *name;
        uint32_t rule;
};

static int key_compare(const void *a, const void *b)
{
        const struct key *x = a, *y = b;
        int r = strcmp(x->name, y->name);

        if (r)
                return r;
        return (x->rule > y->rule) - (x->rule < y->rule);
}

static void policy_index_deinit(struct policy_index *index)
{
        free(index->any);
        free(index->exact);
        free(index->prefix);
        free(index->keyed);
}

/* groups sorted @keys[0..n) into buckets */
static int buckets_build(struct key *keys, size_t n, uint32_t *storage,
                         struct policy_bucket **bucketsp, size_t *np)
{
        struct policy_bucket *buckets;
        size_t i, n_buckets = 0;

        *bucketsp = NULL;
        *np = 0;
        if (!n)
                return 0;
        qsort(keys, n, sizeof(*keys), key_compare);
        buckets = calloc(n, sizeof(*buckets));
        if (!buckets)
                return error_origin(-ENOMEM);
        for (i = 0; i < n; ++i) {
                storage[i] = keys[i].rule;
                if (!n_buckets || strcmp(buckets[n_buckets - 1].name, keys[i].name)) {
                        buckets[n_buckets].name = keys[i].name;
                        buckets[n_buckets].rules = &storage[i];
                        ++n_buckets;
                }
                ++buckets[n_buckets - 1].n_rules;
        }
        *bucketsp = buckets;
        *np = n_buckets;
        return 0;
}

static int policy_index_init(struct policy_index *index, const struct policy_db *db, unsigned int kind)
{
        _cleanup_free_ struct key *exact = NULL, *prefix = NULL;
        size_t i, n_exact = 0, n_prefix = 0;
        int r;

        *index = (struct policy_index){};
        index->any = calloc(db->n_rules + 1, sizeof(*index->any));
        index->keyed = calloc(db->n_rules + 1, sizeof(*index->keyed));
        exact = calloc(db->n_rules + 1, sizeof(*exact));
        prefix = calloc(db->n_rules + 1, sizeof(*prefix));
        if (!index->any || !index->keyed || !exact || !prefix)
                return error_origin(-ENOMEM);

        for (i = 0; i < db->n_rules; ++i) {
                const struct policy_rule *rule = &db->rules[i];

                if (rule->kind != kind)
                        continue;
                if (!rule->name)
                        index->any[index->n_any++] = i;
                else if (rule->name_is_prefix)
                        prefix[n_prefix++] = (struct key){ rule->name, i };
                else
                        exact[n_exact++] = (struct key){ rule->name, i };
        }
        r = buckets_build(exact, n_exact, index->keyed, &index->exact, &index->n_exact);
        if (r < 0)
                return error_trace(r);
        r = buckets_build(prefix, n_prefix, index->keyed + n_exact, &index->prefix, &index->n_prefix);
        return error_trace(r);
}

static size_t str_size(const char *s)
{
        return s ? strlen(s) + 1 : 0;
}

static const char *str_copy(char **cursor, const char *s)
{
        char *p = *cursor;
        size_t n;

        if (!s)
                return NULL;
        n = strlen(s) + 1;
        memcpy(p, s, n);
        *cursor += n;
        return p;
}

DEFINE_CLEANUP_FUNC(struct policy_db *, policy_db_unref);

int policy_db_new(struct policy_db **dbp, const struct bus_config *config)
{
        _cleanup_(policy_db_unrefp) struct policy_db *db = NULL;
        size_t i, n = 0, size = 0;
        unsigned int context;
        char *cursor;
        int r;

        db = calloc(1, sizeof(*db));
        if (!db)
                return error_origin(-ENOMEM);
        db->n_refs = 1;

        for (i = 0; i < config->n_rules; ++i) {
                const struct policy_rule *rule = &config->rules[i];

                size += str_size(rule->name) + str_size(rule->path) + str_size(rule->interface) +
                        str_size(rule->member) + str_size(rule->error) + str_size(rule->file);
        }
        db->rules = calloc(config->n_rules + 1, sizeof(*db->rules));
        db->strings = malloc(size + 1);
        db->connect = calloc(config->n_rules + 1, sizeof(*db->connect));
        if (!db->rules || !db->strings || !db->connect)
                return error_origin(-ENOMEM);

        /* stable partition by context: precedence order */
        cursor = db->strings;
        for (context = POLICY_CONTEXT_DEFAULT; context <= POLICY_CONTEXT_MANDATORY; ++context) {
                for (i = 0; i < config->n_rules; ++i) {
                        const struct policy_rule *src = &config->rules[i];
                        struct policy_rule *dst = &db->rules[n];

                        if (src->context != context)
                                continue;
                        *dst = *src;
                        dst->name = str_copy(&cursor, src->name);
                        dst->path = str_copy(&cursor, src->path);
                        dst->interface = str_copy(&cursor, src->interface);
                        dst->member = str_copy(&cursor, src->member);
                        dst->error = str_copy(&cursor, src->error);
                        dst->file = str_copy(&cursor, src->file);
                        if ((dst->kind == POLICY_RULE_CONNECT_USER || dst->kind == POLICY_RULE_CONNECT_GROUP) &&
                            (context == POLICY_CONTEXT_DEFAULT || context == POLICY_CONTEXT_MANDATORY))
                                db->connect[db->n_connect++] = n;
                        ++n;
                }
        }
        db->n_rules = n;

        r = policy_index_init(&db->own, db, POLICY_RULE_OWN);
        if (r >= 0)
                r = policy_index_init(&db->send, db, POLICY_RULE_SEND);
        if (r >= 0)
                r = policy_index_init(&db->receive, db, POLICY_RULE_RECEIVE);
        if (r < 0)
                return error_trace(r);
        *dbp = steal_ptr(db);
        return 0;
}

struct policy_db *policy_db_ref(struct policy_db *db)
{
        if (db)
                __atomic_fetch_add(&db->n_refs, 1, __ATOMIC_RELAXED);
        return db;
}

struct policy_db *policy_db_unref(struct policy_db *db)
{
        if (!db || __atomic_sub_fetch(&db->n_refs, 1, __ATOMIC_ACQ_REL))
                return NULL;
        policy_index_deinit(&db->own);
        policy_index_deinit(&db->send);
        policy_index_deinit(&db->receive);
        free(db->connect);
        free(db->strings);
        free(db->rules);
        free(db);
        return NULL;
}

size_t policy_db_n_rules(const struct policy_db *db)
{
        return db->n_rules;
}

static bool gids_contain(const uint32_t *gids, size_t n, uint32_t gid)
{
        size_t i;

        for (i = 0; i < n; ++i)
                if (gids[i] == gid)
                        return true;
        return false;
}

static void verdict_set(struct policy_verdict *v, const struct policy_rule *rule, bool default_allow)
{
        v->rule = rule;
        v->allow = rule ? rule->allow : default_allow;
        v->log = rule ? rule->log : false;
}

void policy_db_check_connect(const struct policy_db *db, uint32_t uid, const uint32_t *gids,
                             size_t n_gids, uint32_t bus_uid, struct policy_verdict *verdict)
{
        const struct policy_rule *match = NULL;
        size_t i;

        for (i = 0; i < db->n_connect; ++i) {
                const struct policy_rule *rule = &db->rules[db->connect[i]];

                if (rule->id != POLICY_ID_ANY &&
                    (rule->kind == POLICY_RULE_CONNECT_USER ? rule->id != uid :
                                                              !gids_contain(gids, n_gids, rule->id)))
                        continue;
                match = rule;
        }
        verdict_set(verdict, match, uid == bus_uid);
}

static int u32_compare(const void *a, const void *b)
{
        uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

        return (x > y) - (x < y);
}

static bool snapshot_applies(const struct policy_snapshot *s, const struct policy_rule *rule)
{
        switch (rule->context) {
        case POLICY_CONTEXT_GROUP:
                return bsearch(&rule->context_id, s->gids, s->n_gids, sizeof(*s->gids), u32_compare);
        case POLICY_CONTEXT_USER:
                return rule->context_id == s->uid;
        case POLICY_CONTEXT_CONSOLE:
                return rule->context_id == (uint32_t)s->at_console;
        default:
                return true;
        }
}

/* the rule of @kind that decides first for @s, if it is open (see struct policy_snapshot) */
static long snapshot_open_rule(const struct policy_snapshot *s, unsigned int kind)
{
        const struct policy_db *db = s->db;
        size_t i = db->n_rules;

        while (i-- > 0) {
                const struct policy_rule *rule = &db->rules[i];

                if (rule->kind != kind || !snapshot_applies(s, rule))
                        continue;
                if (!rule->allow || rule->name || rule->type || rule->broadcast != POLICY_BROADCAST_ANY ||
                    rule->path || rule->interface || rule->member || rule->error ||
                    rule->min_fds || rule->max_fds < POLICY_MAX_FDS)
                        return -1;
                return (long)i;
        }
        return -1;
}

int policy_snapshot_init(struct policy_snapshot *s, struct policy_db *db, uint32_t uid,
                         const uint32_t *gids, size_t n_gids, bool at_console)
{
        size_t i, n = 0;

        *s = (struct policy_snapshot){ .uid = uid, .at_console = at_console };
        s->gids = malloc((n_gids + 1) * sizeof(*s->gids));
        if (!s->gids)
                return error_origin(-ENOMEM);
        if (n_gids)
                memcpy(s->gids, gids, n_gids * sizeof(*gids));
        qsort(s->gids, n_gids, sizeof(*s->gids), u32_compare);
        for (i = 0; i < n_gids; ++i)
                if (!n || s->gids[n - 1] != s->gids[i])
                        s->gids[n++] = s->gids[i];
        s->n_gids = n;
        s->db = policy_db_ref(db);
        s->send_open = snapshot_open_rule(s, POLICY_RULE_SEND);
        s->receive_open = snapshot_open_rule(s, POLICY_RULE_RECEIVE);
        return 0;
}

void policy_snapshot_deinit(struct policy_snapshot *s)
{
        s->db = policy_db_unref(s->db);
        free(s->gids);
        s->gids = NULL;
        s->n_gids = 0;
}

struct check {
        const struct policy_snapshot *snapshot;
        const struct policy_message *message;
        bool requested_reply;
        bool eavesdropping;
        bool (*match)(const struct policy_rule *rule, const struct check *check);
        long best;                      /* highest matching index, -1: none */
};

static bool match_own(const struct policy_rule *rule, const struct check *check)
{
        return true;    /* the name was matched by the index */
}

static bool match_fields(const struct policy_rule *rule, const struct policy_message *m)
{
        if (rule->path && m->path && strcmp(m->path, rule->path))
                return false;
        /* interface is optional in messages: a missing one escapes <allow>
         * but not <deny> */
        if (rule->interface && (m->interface ? strcmp(m->interface, rule->interface) : rule->allow))
                return false;
        if (rule->member && m->member && strcmp(m->member, rule->member))
                return false;
        if (rule->error && m->error && strcmp(m->error, rule->error))
                return false;
        if ((rule->min_fds || rule->max_fds < POLICY_MAX_FDS) &&
            (m->n_fds < rule->min_fds || m->n_fds > rule->max_fds))
                return false;
        return true;
}

static bool match_reply(const struct policy_rule *rule, const struct check *check)
{
        if (!check->message->is_reply)
                return true;
        if (!check->requested_reply && rule->allow && rule->requested_reply && !rule->eavesdrop)
                return false;
        if (check->requested_reply && !rule->allow && !rule->requested_reply)
                return false;
        return true;
}

static bool match_send(const struct policy_rule *rule, const struct check *check)
{
        const struct policy_message *m = check->message;

        if (rule->type && rule->type != m->type)
                return false;
        if (!match_reply(rule, check))
                return false;
        if (rule->broadcast != POLICY_BROADCAST_ANY) {
                bool broadcast = !m->destination && m->type == POLICY_TYPE_SIGNAL;

                if (broadcast != (rule->broadcast == POLICY_BROADCAST_TRUE))
                        return false;
        }
        return match_fields(rule, m);
}

static bool match_receive(const struct policy_rule *rule, const struct check *check)
{
        const struct policy_message *m = check->message;

        if (rule->type && rule->type != m->type)
                return false;
        if (check->eavesdropping && rule->allow && !rule->eavesdrop)
                return false;
        if (!check->eavesdropping && !rule->allow && rule->eavesdrop)
                return false;
        if (!match_reply(rule, check))
                return false;
        return match_fields(rule, m);
}

static void check_list(struct check *check, const uint32_t *list, size_t n)
{
        const struct policy_db *db = check->snapshot->db;

        while (n-- > 0) {
                const struct policy_rule *rule = &db->rules[list[n]];

                if ((long)list[n] <= check->best)
                        return;
                if (snapshot_applies(check->snapshot, rule) && check->match(rule, check)) {
                        check->best = list[n];
                        return;
                }
        }
}

static const struct policy_bucket *buckets_find(const struct policy_bucket *buckets, size_t n,
                                                const char *name, size_t len)
{
        size_t lo = 0, hi = n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                const char *b = buckets[mid].name;
                int r = strncmp(name, b, len);

                if (!r && b[len])
                        r = -1;         /* @name[0..len) is a proper prefix of b */
                if (!r)
                        return &buckets[mid];
                if (r < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return NULL;
}

/* checks the buckets for @name: exact, and every dot-prefix (incl. itself) */
static void check_name(struct check *check, const struct policy_index *index, const char *name)
{
        const struct policy_bucket *b;
        size_t len = strlen(name), i;

        b = buckets_find(index->exact, index->n_exact, name, len);
        if (b)
                check_list(check, b->rules, b->n_rules);
        if (!index->n_prefix)
                return;
        for (i = 0; i <= len; ++i) {
                if (i < len && name[i] != '.')
                        continue;
                b = buckets_find(index->prefix, index->n_prefix, name, i);
                if (b)
                        check_list(check, b->rules, b->n_rules);
        }
}

static void check_finish(const struct check *check, struct policy_verdict *verdict)
{
        const struct policy_db *db = check->snapshot->db;

        verdict_set(verdict, check->best >= 0 ? &db->rules[check->best] : NULL, false);
}

void policy_snapshot_check_own(const struct policy_snapshot *s, const char *name,
                               struct policy_verdict *verdict)
{
        struct check check = { .snapshot = s, .match = match_own, .best = -1 };

        check_list(&check, s->db->own.any, s->db->own.n_any);
        check_name(&check, &s->db->own, name);
        check_finish(&check, verdict);
}

static void check_message(struct check *check, const struct policy_index *index, const char *const *names,
                          size_t n_names, const char *header_name, struct policy_verdict *verdict)
{
        size_t i;

        check_list(check, index->any, index->n_any);
        if (!names) {
                if (header_name)
                        check_name(check, index, header_name);
        } else {
                for (i = 0; i < n_names; ++i)
                        check_name(check, index, names[i]);
        }
        check_finish(check, verdict);
}

/*
 * Whether the open rule @open (struct policy_snapshot) decides the check:
 * it is the highest-precedence rule that applies, so if it matches, no
 * other rule can win. Its only conditions are those of match_reply() and,
 * for receiving, eavesdrop (match_receive()).
 */
static bool check_open(const struct policy_snapshot *s, long open, const struct policy_message *m,
                       bool requested_reply, bool eavesdropping, struct policy_verdict *verdict)
{
        const struct policy_rule *rule;

        if (open < 0)
                return false;
        rule = &s->db->rules[open];
        if (m->is_reply && !requested_reply && rule->requested_reply && !rule->eavesdrop)
                return false;
        if (eavesdropping && !rule->eavesdrop)
                return false;
        verdict_set(verdict, rule, false);
        return true;
}

void policy_snapshot_check_send(const struct policy_snapshot *s, const struct policy_message *message,
                                const char *const *receiver_names, size_t n_receiver_names,
                                bool requested_reply, struct policy_verdict *verdict)
{
        struct check check = {
                .snapshot = s,
                .message = message,
                .requested_reply = requested_reply,
                .match = match_send,
                .best = -1,
        };

        if (check_open(s, s->send_open, message, requested_reply, false, verdict))
                return;
        check_message(&check, &s->db->send, receiver_names, n_receiver_names, message->destination, verdict);
}

void policy_snapshot_check_receive(const struct policy_snapshot *s, const struct policy_message *message,
                                   const char *const *sender_names, size_t n_sender_names,
                                   bool requested_reply, bool eavesdropping, struct policy_verdict *verdict)
{
        struct check check = {
                .snapshot = s,
                .message = message,
                .requested_reply = requested_reply,
                .eavesdropping = eavesdropping,
                .match = match_receive,
                .best = -1,
        };

        if (check_open(s, s->receive_open, message, requested_reply, eavesdropping, verdict))
                return;
        check_message(&check, &s->db->receive, sender_names, n_sender_names, message->sender, verdict);
}
