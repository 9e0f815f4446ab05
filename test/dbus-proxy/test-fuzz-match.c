/*
 * Fuzz target of the match rule parser (match_rule_new()), and its replay.
 *
 * For every input: the parser returns 0, a MATCH_E_* refusal or -ENOMEM and
 * nothing else; an accepted rule's normalised text parses again to an equal
 * rule whose normalised text is the same (a fixed point); the rule in a
 * registry is reported by a lookup exactly when match_rule_matches() says
 * so, and RemoveMatch with its normalised text removes it. Any violation
 * aborts.
 *
 * Built with -DBUS1_LIBFUZZER and -fsanitize=fuzzer it is a libFuzzer
 * target:
 *   clang -DBUS1_LIBFUZZER -fsanitize=fuzzer,address -I. -include config.h \
 *     test/dbus-proxy/test-fuzz-match.c dbus-proxy/match.c dbus-proxy/syntax.c \
 *     util/rbtree.c util/error.c util/log.c -o fuzz-match
 *   ./fuzz-match test/dbus-proxy/fuzz-match-corpus
 * Otherwise (make check) it replays every file of the kept corpus
 * ($top_srcdir/test/dbus-proxy/fuzz-match-corpus, or the directories and
 * files given as arguments) and prints TAP.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbus-proxy/match.h"

#define CHECK(_x) do { if (!(_x)) { fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #_x); abort(); } } while (0)

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
        free(text);
        return 0;
}

#ifndef BUS1_LIBFUZZER
static int n_tests;

static void replay_file(const char *path)
{
        FILE *f = fopen(path, "rb");
        uint8_t buf[65536];
        size_t n;

        if (!f) {
                printf("not ok %d - %s: %s\n", ++n_tests, path, strerror(errno));
                return;
        }
        n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
        printf("ok %d - %s\n", ++n_tests, path);
}

static int replay(const char *path)
{
        struct dirent **entries;
        int n;

        n = scandir(path, &entries, NULL, alphasort);
        if (n < 0) {
                if (errno == ENOTDIR) {
                        replay_file(path);
                        return 0;
                }
                printf("Bail out! %s: %s\n", path, strerror(errno));
                return -1;
        }
        for (int i = 0; i < n; ++i) {
                char file[4096];

                if (entries[i]->d_name[0] != '.') {
                        snprintf(file, sizeof(file), "%s/%s", path, entries[i]->d_name);
                        replay_file(file);
                }
                free(entries[i]);
        }
        free(entries);
        return 0;
}

int main(int argc, char **argv)
{
        char dir[4096];

        if (argc > 1) {
                for (int i = 1; i < argc; ++i)
                        if (replay(argv[i]) < 0)
                                return 1;
        } else {
                const char *top = getenv("top_srcdir");

                snprintf(dir, sizeof(dir), "%s/test/dbus-proxy/fuzz-match-corpus", top ? top : ".");
                if (replay(dir) < 0)
                        return 1;
        }
        if (n_tests == 0) {
                printf("Bail out! empty corpus\n");
                return 1;
        }
        printf("1..%d\n", n_tests);
        return 0;
}
#endif
