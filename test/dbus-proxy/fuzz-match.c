/*
 * Fuzz target of the match rule parser (match_rule_new(), match_rule_explain()),
 * and its replay.
 *
 * For every input: the parser returns 0, a MATCH_E_* refusal or -ENOMEM and
 * nothing else; an accepted rule's normalised text parses again to an equal
 * rule whose normalised text is the same (a fixed point); the rule in a
 * registry is reported by a lookup exactly when match_rule_matches() says
 * so, and RemoveMatch with its normalised text removes it. Any violation
 * aborts.
 *
 * Built with -DBUS1_LIBFUZZER and -fsanitize=fuzzer it is a libFuzzer
 * target (see test/dbus-proxy/fuzz-common.h):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -DBUS1_LIBFUZZER \
 *     -include config.h -I. test/dbus-proxy/fuzz-match.c dbus-proxy/match.c \
 *     dbus-proxy/syntax.c util/error.c util/log.c -o fuzz-match
 *   ./fuzz-match test/dbus-proxy/corpus/match
 * Otherwise (make check) it replays test/dbus-proxy/corpus/match and prints
 * TAP.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbus-proxy/match.h"
#include "test/dbus-proxy/fuzz-common.h"

#define CHECK(_x) FUZZ_CHECK(_x)

static int found_fn(struct match_owner *owner, void *userdata)
{
        ++*(int *)userdata;
        return 0;
}

static void check_rule(struct match_rule *rule)
{
        static const char *const sender_names[] = { ":1.1", "a.b" };
        struct match_registry reg;
        struct match_owner owner;
        struct match_filter f;
        struct match_rule *again;
        char *s, *s2;
        int found = 0;

        CHECK(match_rule_to_string(rule, &s) == 0);
        CHECK(strlen(s) > 0 || (rule->type == MATCH_TYPE_ANY && !rule->sender && !rule->interface &&
                                !rule->member && !rule->path && !rule->destination && !rule->eavesdrop &&
                                rule->n_args == 0));
        CHECK(match_rule_new(&again, s) == 0 || strlen(s) > MATCH_RULE_LENGTH_MAX);
        if (strlen(s) <= MATCH_RULE_LENGTH_MAX) {
                CHECK(match_rule_equal(rule, again));
                CHECK(match_rule_to_string(again, &s2) == 0);
                CHECK(strcmp(s, s2) == 0);
                free(s2);
        }

        /* a message built from the rule's own keys */
        memset(&f, 0, sizeof(f));
        f.type = rule->type ? rule->type : MATCH_TYPE_SIGNAL;
        f.sender_names = rule->sender ? &rule->sender : sender_names;
        f.n_sender_names = 1;
        f.interface = rule->interface;
        f.member = rule->member;
        f.path = rule->path;
        f.destination = rule->destination;
        for (size_t i = 0; i < rule->n_args; ++i)
                f.args[rule->args[i].index].value = rule->args[i].value;

        match_registry_init(&reg);
        match_owner_init(&owner);
        CHECK(match_registry_add(&reg, &owner, rule) == 0);
        CHECK(match_registry_lookup(&reg, &f, NULL, found_fn, &found) == 0);
        CHECK(found == (int)match_rule_matches(rule, &f));
        if (strlen(s) <= MATCH_RULE_LENGTH_MAX) {
                CHECK(match_registry_remove(&reg, &owner, again) == 0);
                CHECK(owner.n_rules == 0);
                match_rule_free(again);
        } else {
                match_registry_remove_all(&reg, &owner);
        }
        match_owner_deinit(&owner);
        match_registry_deinit(&reg);
        free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct match_rule *rule = NULL;
        char *text;
        int r;

        text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';

        r = match_rule_new(&rule, text);
        CHECK(r == 0 || r == -ENOMEM || (r >= MATCH_E_TOO_LONG && r < MATCH_E_NOT_FOUND));
        CHECK((r == 0) == (rule != NULL));
        if (r == 0)
                check_rule(rule);
        if (r > 0) {
                /* the explanation of a refusal: a message (or NULL: out of memory) */
                char *why = match_rule_explain(text, r);

                CHECK(!why || why[0]);
                free(why);
        }
        free(text);
        return 0;
}

#ifndef BUS1_LIBFUZZER
int main(int argc, char **argv)
{
        return fuzz_replay_main("match", argc, argv);
}
#endif
