/*
 * Fuzz target of the service file parser (dbus-proxy/service.c) and of the
 * Exec= line splitter (dbus-proxy/spawn.c).
 *
 * Input: the bytes of a service file; the same bytes (cut at the first NUL)
 * are also split as a command line.
 *
 * Checked: results are 0, SERVICE_E_INVALID/SPAWN_E_INVALID_COMMAND (with a
 * message) or -ENOMEM; a parsed file has a valid name and an Exec= line;
 * every split command line re-quotes (each word in single quotes) and splits
 * again into the same words.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbus-proxy/service.h"
#include "dbus-proxy/spawn.h"
#include "dbus-proxy/syntax.h"
#include "test/dbus-proxy/fuzz-common.h"

static void check_split(const char *line)
{
        char **argv = NULL, **again = NULL, *err = NULL, *quoted, *q;
        size_t n = 0, i;
        int r;

        r = spawn_parse_command_line(line, &argv, &err);
        FUZZ_CHECK(r == 0 || r == SPAWN_E_INVALID_COMMAND || r == -ENOMEM);
        if (r) {
                FUZZ_CHECK(r < 0 || err != NULL);
                free(err);
                return;
        }
        FUZZ_CHECK(err == NULL && argv && argv[0]);
        for (i = 0; argv[i]; ++i)
                n += 4 * strlen(argv[i]) + 3;
        quoted = malloc(n + 1);
        FUZZ_CHECK(quoted);
        q = quoted;
        for (i = 0; argv[i]; ++i) {
                *q++ = '\'';
                for (const char *s = argv[i]; *s; ++s) {
                        if (*s == '\'') {
                                memcpy(q, "'\\''", 4);
                                q += 4;
                        } else {
                                *q++ = *s;
                        }
                }
                *q++ = '\'';
                *q++ = ' ';
        }
        *q = 0;
        FUZZ_CHECK(spawn_parse_command_line(quoted, &again, NULL) == 0);
        for (i = 0; argv[i]; ++i)
                FUZZ_CHECK(again[i] && !strcmp(again[i], argv[i]));
        FUZZ_CHECK(again[i] == NULL);
        spawn_argv_free(again);
        spawn_argv_free(argv);
        free(quoted);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct service *s = NULL;
        char *err = NULL, *text;
        int r;

        r = service_parse(&s, (const char *)data, size, "/fuzz/x.service", &err);
        FUZZ_CHECK(r == 0 || r == SERVICE_E_INVALID || r == -ENOMEM);
        if (r == 0) {
                FUZZ_CHECK(s && !err);
                FUZZ_CHECK(syntax_is_bus_name(s->name) && s->name[0] != ':');
                FUZZ_CHECK(s->exec != NULL);
                check_split(s->exec);
                service_unref(s);
        } else {
                FUZZ_CHECK(r < 0 || err != NULL);
                free(err);
        }

        text = malloc(size + 1);
        FUZZ_CHECK(text);
        memcpy(text, data, size);
        text[size] = 0;
        check_split(text);
        free(text);
        return 0;
}

#ifndef BUS1_LIBFUZZER
int main(int argc, char **argv)
{
        return fuzz_replay_main("service", argc, argv);
}
#endif
