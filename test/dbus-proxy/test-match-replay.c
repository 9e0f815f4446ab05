/*
 * Evaluates match rules against message descriptions from stdin, for
 * test-match-daemon-routing.py, which sends the same messages through
 * dbus-daemon and compares who receives them. Input, one item per line,
 * fields separated by tabs:
 *   rule <text>
 *   msg <type> <sender names, comma-separated> <interface|-> <member|-> <path|->
 *       <destination|-> <destination names, comma-separated|-> <args...>
 * where each arg is "s:<string>" or "o:<object path>". Output per msg: one
 * line with a '0' or '1' per rule (in rule order), from match_rule_matches().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbus-proxy/match.h"

#define MAX_RULES 4096
#define MAX_NAMES 16

static struct match_rule *rules[MAX_RULES];
static size_t n_rules;

static const char *field(char **cursor)
{
        char *s = strsep(cursor, "\t");

        if (!s)
                return NULL;
        return strcmp(s, "-") == 0 ? NULL : s;
}

static size_t split_names(char *s, const char **names)
{
        size_t n = 0;
        char *t;

        while (s && (t = strsep(&s, ",")) && n < MAX_NAMES)
                names[n++] = t;
        return n;
}

int main(void)
{
        static char line[65536];
        int r;

        while (fgets(line, sizeof(line), stdin)) {
                char *cursor = line, *kind;

                line[strcspn(line, "\n")] = '\0';
                kind = strsep(&cursor, "\t");
                if (strcmp(kind, "rule") == 0 && cursor && n_rules < MAX_RULES) {
                        r = match_rule_new(&rules[n_rules], cursor);
                        if (r != 0) {
                                fprintf(stderr, "rule \"%s\": %d\n", cursor, r);
                                return 2;
                        }
                        ++n_rules;
                } else if (strcmp(kind, "msg") == 0) {
                        const char *sender_names[MAX_NAMES], *dest_names[MAX_NAMES], *type, *a;
                        char *names;
                        struct match_filter f;
                        size_t i = 0;

                        memset(&f, 0, sizeof(f));
                        type = field(&cursor);
                        f.type = type ? (unsigned int)atoi(type) : 0;
                        names = (char *)field(&cursor);
                        f.n_sender_names = split_names(names, sender_names);
                        f.sender_names = sender_names;
                        f.interface = field(&cursor);
                        f.member = field(&cursor);
                        f.path = field(&cursor);
                        f.destination = field(&cursor);
                        names = (char *)field(&cursor);
                        if (names) {
                                f.n_destination_names = split_names(names, dest_names);
                                f.destination_names = dest_names;
                        }
                        while (cursor && (a = strsep(&cursor, "\t")) && i < MATCH_ARGS_MAX) {
                                if (a[0] == 's' || a[0] == 'o') {
                                        f.args[i].value = a + 2;
                                        f.args[i].is_path = a[0] == 'o';
                                }
                                ++i;
                        }
                        for (size_t k = 0; k < n_rules; ++k)
                                putchar(match_rule_matches(rules[k], &f) ? '1' : '0');
                        putchar('\n');
                } else {
                        fprintf(stderr, "bad line: %s\n", line);
                        return 2;
                }
        }
        for (size_t k = 0; k < n_rules; ++k)
                match_rule_free(rules[k]);
        return 0;
}
