/*
 * Fuzz target of the server address parser (dbus-proxy/address.c).
 *
 * Input: an address string (cut at the first NUL byte).
 *
 * Checked: a parsed list satisfies the invariants of address.h; every
 * value survives address_escape() and a second parse unchanged; errors are
 * documented codes with a description.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbus-proxy/address.h"
#include "test/dbus-proxy/fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct address_list *l = NULL;
        char *text = malloc(size + 1);
        int r;

        FUZZ_CHECK(text);
        memcpy(text, data, size);
        text[size] = 0;

        r = address_list_parse(&l, text);
        FUZZ_CHECK(r == 0 || r == -ENOMEM || (r >= ADDRESS_E_EMPTY && r <= ADDRESS_E_TOO_LONG));
        FUZZ_CHECK(address_error_string(r) != NULL);
        if (r) {
                FUZZ_CHECK(l == NULL);
                free(text);
                return 0;
        }

        FUZZ_CHECK(l && l->n >= 1);
        for (size_t i = 0; i < l->n; ++i) {
                const struct address *a = &l->entries[i];
                struct address_list *again = NULL;
                char *escaped = NULL, *text2 = NULL;

                switch (a->kind) {
                case ADDRESS_UNIX_RUNTIME:
                case ADDRESS_SYSTEMD:
                        FUZZ_CHECK(a->value == NULL);
                        continue;
                case ADDRESS_UNIX_PATH:
                case ADDRESS_UNIX_ABSTRACT:
                        FUZZ_CHECK(a->value && *a->value && strlen(a->value) <= ADDRESS_UNIX_NAME_MAX);
                        break;
                case ADDRESS_UNIX_TMPDIR:
                case ADDRESS_UNIX_DIR:
                        FUZZ_CHECK(a->value && *a->value &&
                                   strlen(a->value) + ADDRESS_RANDOM_NAME_LEN <= ADDRESS_UNIX_NAME_MAX);
                        break;
                default:
                        FUZZ_CHECK(0);
                }
                FUZZ_CHECK(address_escape(&escaped, a->value) == 0);
                FUZZ_CHECK(asprintf(&text2, "unix:abstract=%s", escaped) > 0);
                FUZZ_CHECK(address_list_parse(&again, text2) == 0);
                FUZZ_CHECK(again->n == 1 && !strcmp(again->entries[0].value, a->value));
                address_list_free(again);
                free(text2);
                free(escaped);
        }
        address_list_free(l);
        free(text);
        return 0;
}

#ifndef BUS1_LIBFUZZER
int main(int argc, char **argv)
{
        return fuzz_replay_main("address", argc, argv);
}
#endif
