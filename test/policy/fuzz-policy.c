/*
 * Fuzz target of the busconfig parser, through its real entry point
 * bus_config_parse(); a configuration that parses is also compiled and
 * evaluated, so the compiler and the evaluator see fuzzed rules too.
 *
 * libFuzzer build (from the top of a configured tree):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -DBUS1_LIBFUZZER \
 *         -include config.h -I. test/policy/fuzz-policy.c policy/config.c policy/db.c util/error.c util/log.c \
 *         -lexpat -o fuzz-policy
 *   ./fuzz-policy test/policy/corpus
 * Inputs that crashed go into test/policy/corpus/ so they are replayed.
 *
 * Without BUS1_LIBFUZZER this file builds a replay program for `make
 * check`: it runs every file of test/policy/corpus/ (and of dbus-daemon's
 * installed config corpus, when present) through the target and speaks TAP.
 * A crash or sanitizer report fails the test.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "policy/config.h"
#include "policy/db.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(struct policy_db *db)
{
        static const char *const names[] = { "org.freedesktop.DBus", "a.b.c", ":1.1", "", "*" };
        static const uint8_t types[] = { POLICY_TYPE_METHOD_CALL, POLICY_TYPE_METHOD_RETURN,
                                         POLICY_TYPE_ERROR, POLICY_TYPE_SIGNAL };
        uint32_t gids[] = { 0, 100 };
        struct policy_snapshot s;
        struct policy_verdict v;
        size_t i, t;

        policy_db_check_connect(db, 1000, gids, 2, 0, &v);
        if (policy_snapshot_init(&s, db, 0, gids, 2, true) < 0)
                return;
        for (i = 0; i < sizeof(names) / sizeof(*names); ++i) {
                policy_snapshot_check_own(&s, names[i], &v);
                for (t = 0; t < sizeof(types) / sizeof(*types); ++t) {
                        struct policy_message m = {
                                .type = types[t],
                                .is_reply = t == 1 || t == 2,
                                .n_fds = t,
                                .path = "/",
                                .interface = t ? names[i] : NULL,
                                .member = "M",
                                .destination = t == 3 ? NULL : names[i],
                                .sender = names[i],
                        };

                        policy_snapshot_check_send(&s, &m, &names[i], 1, t & 1, &v);
                        policy_snapshot_check_send(&s, &m, NULL, 0, false, &v);
                        policy_snapshot_check_receive(&s, &m, &names[i], 1, t & 1, i & 1, &v);
                        policy_snapshot_check_receive(&s, &m, NULL, 0, true, false, &v);
                }
        }
        policy_snapshot_deinit(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct bus_config_options opts = { .flags = BUS_CONFIG_NO_INCLUDE };
        struct bus_config *config = NULL;
        struct policy_db *db = NULL;
        char *error = NULL;
        int r;

        r = bus_config_parse(&config, (const char *)data, size, "/fuzz/input.conf", &opts, &error);
        if (r == 0) {
                if (policy_db_new(&db, config) == 0)
                        exercise(db);
                policy_db_unref(db);
        } else if (r == BUS_CONFIG_E_INVALID && (!error || strncmp(error, "/fuzz/input.conf", 16))) {
                /* every rejection must say where */
                abort();
        }
        free(error);
        bus_config_free(config);
        return 0;
}

#ifndef BUS1_LIBFUZZER

static unsigned int n_tests;
static unsigned int n_failed;

static int replay_file(const char *path)
{
        struct stat st;
        uint8_t *data;
        size_t n;
        FILE *f;

        f = fopen(path, "rb");
        if (!f || fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
                if (f)
                        fclose(f);
                return -1;
        }
        data = malloc(st.st_size + 1);
        if (!data) {
                fclose(f);
                return -1;
        }
        n = fread(data, 1, st.st_size, f);
        fclose(f);
        /* a crash or sanitizer report ends the program: the test fails */
        LLVMFuzzerTestOneInput(data, n);
        free(data);
        return 0;
}

static unsigned int replay_dir(const char *dir, bool required)
{
        struct dirent **entries = NULL;
        unsigned int count = 0;
        int i, n;

        n = scandir(dir, &entries, NULL, alphasort);
        if (n < 0) {
                if (required) {
                        printf("not ok %u - cannot read corpus %s\n", ++n_tests, dir);
                        ++n_failed;
                }
                return 0;
        }
        for (i = 0; i < n; ++i) {
                char path[4096];

                if (entries[i]->d_name[0] != '.') {
                        snprintf(path, sizeof(path), "%s/%s", dir, entries[i]->d_name);
                        if (replay_file(path) == 0) {
                                printf("ok %u - %s\n", ++n_tests, path);
                                ++count;
                        }
                }
                free(entries[i]);
        }
        free(entries);
        return count;
}

int main(int argc, char **argv)
{
        const char *srcdir = getenv("top_srcdir");
        char corpus[4096];
        int i;

        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc > 1) {
                for (i = 1; i < argc; ++i) {
                        if (replay_file(argv[i]) == 0)
                                printf("ok %u - %s\n", ++n_tests, argv[i]);
                        else
                                replay_dir(argv[i], true);
                }
        } else {
                snprintf(corpus, sizeof(corpus), "%s/test/policy/corpus", srcdir ? srcdir : ".");
                if (replay_dir(corpus, true) == 0) {
                        printf("not ok %u - empty corpus %s\n", ++n_tests, corpus);
                        ++n_failed;
                }
                /* dbus-daemon's corpus and the system's files, where installed */
                replay_dir("/usr/lib/dbus-1.0/installed-tests/dbus/data/valid-config-files", false);
                replay_dir("/usr/lib/dbus-1.0/installed-tests/dbus/data/valid-config-files-system", false);
                replay_dir("/usr/lib/dbus-1.0/installed-tests/dbus/data/invalid-config-files", false);
                replay_dir("/usr/share/dbus-1/system.d", false);
        }
        printf("1..%u\n", n_tests);
        return n_failed ? 1 : 0;
}

#endif
