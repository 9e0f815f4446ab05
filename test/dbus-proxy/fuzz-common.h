#pragma once

/*
 * Corpus replay for the fuzz targets of test/dbus-proxy/.
 *
 * A fuzz target defines LLVMFuzzerTestOneInput() and includes this file.
 * Built normally, main() replays every file of the target's corpus
 * directory ($top_srcdir/test/dbus-proxy/corpus/<name>/, or the files given
 * as arguments) and prints TAP; a failing invariant aborts (and fails the
 * test). Built with -DBUS1_LIBFUZZER and clang -fsanitize=fuzzer, libFuzzer
 * provides main():
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -DBUS1_LIBFUZZER \
 *       -include config.h -I. test/dbus-proxy/fuzz-sasl.c dbus-proxy/sasl.c \
 *       util/error.c util/log.c $(pkg-config --cflags --libs libsystemd) \
 *       -o fuzz-sasl && ./fuzz-sasl test/dbus-proxy/corpus/sasl
 *
 * (fuzz-address: the same with fuzz-address.c and dbus-proxy/address.c.)
 *
 * Every crashing input found goes into the corpus directory, so `make
 * check` replays it from then on.
 */

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(_cond)                                                               \
        do {                                                                            \
                if (!(_cond)) {                                                         \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #_cond); \
                        abort();                                                        \
                }                                                                       \
        } while (0)

#ifndef BUS1_LIBFUZZER
static int fuzz_replay_file(const char *path, int n)
{
        FILE *f = fopen(path, "rb");
        uint8_t *buf;
        size_t len;
        long l;

        if (!f || fseek(f, 0, SEEK_END) < 0 || (l = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
                printf("not ok %d - %s (cannot read)\n", n, path);
                if (f)
                        fclose(f);
                return 1;
        }
        len = (size_t)l;
        buf = malloc(len ? len : 1);
        if (!buf || fread(buf, 1, len, f) != len) {
                printf("not ok %d - %s (cannot read)\n", n, path);
                free(buf);
                fclose(f);
                return 1;
        }
        fclose(f);
        LLVMFuzzerTestOneInput(buf, len);
        free(buf);
        printf("ok %d - %s\n", n, path);
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int fuzz_replay_main(const char *name, int argc, char **argv)
{
        const char *top = getenv("top_srcdir");
        char dir[4096], path[8192];
        char *names[4096];
        size_t n = 0;
        struct dirent *de;
        DIR *d;
        int failed = 0;

        if (argc > 1) {
                printf("1..%d\n", argc - 1);
                for (int i = 1; i < argc; ++i)
                        failed |= fuzz_replay_file(argv[i], i);
                return failed;
        }

        snprintf(dir, sizeof(dir), "%s/test/dbus-proxy/corpus/%s", top ? top : ".", name);
        d = opendir(dir);
        if (!d) {
                printf("1..1\nnot ok 1 - corpus directory %s missing\n", dir);
                return 1;
        }
        while ((de = readdir(d)) && n < sizeof(names) / sizeof(*names))
                if (de->d_name[0] != '.')
                        names[n++] = strdup(de->d_name);
        closedir(d);
        qsort(names, n, sizeof(*names), cmp_str);
        if (n == 0) {
                printf("1..1\nnot ok 1 - corpus directory %s is empty\n", dir);
                return 1;
        }
        printf("1..%zu\n", n);
        for (size_t i = 0; i < n; ++i) {
                snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
                failed |= fuzz_replay_file(path, (int)i + 1);
                free(names[i]);
        }
        return failed;
}
#endif
