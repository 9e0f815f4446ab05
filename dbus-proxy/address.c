/*
 * D-Bus server address parsing and escaping (see address.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dbus-proxy/address.h"
#include "dbus-proxy/hex.h"
#include "util/error.h"

/* Keys that select the kind of a unix: address, in enum address_kind order. */
static const char *const unix_keys[] = {
        [ADDRESS_UNIX_PATH] = "path",
        [ADDRESS_UNIX_TMPDIR] = "tmpdir",
        [ADDRESS_UNIX_DIR] = "dir",
        [ADDRESS_UNIX_ABSTRACT] = "abstract",
        [ADDRESS_UNIX_RUNTIME] = "runtime",
};
#define N_UNIX_KEYS (sizeof(unix_keys) / sizeof(*unix_keys))

static bool is_optionally_escaped(unsigned char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               c == '-' || c == '_' || c == '/' || c == '\\' || c == '.' || c == '*';
}

/* Unescape @n bytes at @s into a new string. */
static int address_unescape(char **out, const char *s, size_t n)
{
        char *v = malloc(n + 1);
        size_t j = 0;

        if (!v)
                return error_origin(-ENOMEM);
        for (size_t i = 0; i < n; ++i) {
                unsigned char c = (unsigned char)s[i];

                if (c == '%') {
                        int hi = i + 1 < n ? hex_digit_value(s[i + 1]) : -1;
                        int lo = i + 2 < n ? hex_digit_value(s[i + 2]) : -1;

                        if (hi < 0 || lo < 0) {
                                free(v);
                                return ADDRESS_E_BAD_ESCAPE;
                        }
                        if (hi == 0 && lo == 0) {
                                free(v);
                                return ADDRESS_E_NUL;
                        }
                        v[j++] = (char)(hi << 4 | lo);
                        i += 2;
                } else if (is_optionally_escaped(c)) {
                        v[j++] = (char)c;
                } else {
                        free(v);
                        return ADDRESS_E_UNESCAPED;
                }
        }
        v[j] = 0;
        *out = v;
        return 0;
}

static int address_parse_entry(struct address *a, const char *s, size_t n)
{
        const char *colon = memchr(s, ':', n), *p, *end = s + n;
        char *values[N_UNIX_KEYS] = {};
        size_t n_transport, n_set = 0;
        int kind = -1, r = 0;

        if (!colon)
                return ADDRESS_E_NO_COLON;
        n_transport = (size_t)(colon - s);

        /* every pair is validated, also those with unknown keys */
        for (p = colon + 1; p < end;) {
                const char *comma = memchr(p, ',', (size_t)(end - p));
                const char *pend = comma ? comma : end;
                const char *eq = memchr(p, '=', (size_t)(pend - p));
                char *value = NULL;
                size_t k;

                if (!eq || eq == p || eq + 1 == pend) {
                        r = ADDRESS_E_BAD_PAIR;
                        goto out;
                }
                r = address_unescape(&value, eq + 1, (size_t)(pend - eq - 1));
                if (r) {
                        error_trace(r);
                        goto out;
                }
                for (k = 0; k < N_UNIX_KEYS; ++k)
                        if (strlen(unix_keys[k]) == (size_t)(eq - p) &&
                            !memcmp(unix_keys[k], p, (size_t)(eq - p)))
                                break;
                if (k < N_UNIX_KEYS && !values[k])
                        values[k] = value;  /* the first of duplicates counts */
                else
                        free(value);
                if (!comma)
                        break;
                p = comma + 1;
                if (p == end) {
                        /* trailing ',' : an empty pair */
                        r = ADDRESS_E_BAD_PAIR;
                        goto out;
                }
        }

        if (n_transport == 7 && !memcmp(s, "systemd", 7)) {
                a->kind = ADDRESS_SYSTEMD;
                a->value = NULL;
                goto out;
        }
        if (n_transport != 4 || memcmp(s, "unix", 4)) {
                r = ADDRESS_E_TRANSPORT;
                goto out;
        }

        for (size_t k = 0; k < N_UNIX_KEYS; ++k) {
                if (values[k]) {
                        ++n_set;
                        kind = (int)k;
                }
        }
        if (n_set == 0) {
                r = ADDRESS_E_MISSING;
                goto out;
        }
        if (n_set > 1) {
                r = ADDRESS_E_CONFLICT;
                goto out;
        }

        switch (kind) {
        case ADDRESS_UNIX_RUNTIME:
                if (strcmp(values[kind], "yes")) {
                        r = ADDRESS_E_RUNTIME;
                        goto out;
                }
                a->kind = ADDRESS_UNIX_RUNTIME;
                a->value = NULL;
                goto out;
        case ADDRESS_UNIX_TMPDIR:
        case ADDRESS_UNIX_DIR:
                if (strlen(values[kind]) + ADDRESS_RANDOM_NAME_LEN > ADDRESS_UNIX_NAME_MAX) {
                        r = ADDRESS_E_TOO_LONG;
                        goto out;
                }
                break;
        default:
                if (strlen(values[kind]) > ADDRESS_UNIX_NAME_MAX) {
                        r = ADDRESS_E_TOO_LONG;
                        goto out;
                }
                break;
        }
        a->kind = (enum address_kind)kind;
        a->value = values[kind];
        values[kind] = NULL;

out:
        for (size_t k = 0; k < N_UNIX_KEYS; ++k)
                free(values[k]);
        return r;
}

int address_list_parse(struct address_list **out, const char *text)
{
        struct address_list *list;
        const char *p = text;
        int r;

        list = calloc(1, sizeof(*list));
        if (!list)
                return error_origin(-ENOMEM);

        while (*p) {
                const char *semi = strchr(p, ';');
                size_t n = semi ? (size_t)(semi - p) : strlen(p);

                if (n > 0) {
                        struct address *v = realloc(list->entries, (list->n + 1) * sizeof(*v));

                        if (!v) {
                                address_list_free(list);
                                return error_origin(-ENOMEM);
                        }
                        list->entries = v;
                        r = address_parse_entry(&list->entries[list->n], p, n);
                        if (r) {
                                address_list_free(list);
                                return error_trace(r);
                        }
                        ++list->n;
                }
                p += n;
                if (*p == ';')
                        ++p;
        }

        if (list->n == 0) {
                address_list_free(list);
                return ADDRESS_E_EMPTY;
        }
        *out = list;
        return 0;
}

struct address_list *address_list_free(struct address_list *list)
{
        if (!list)
                return NULL;
        for (size_t i = 0; i < list->n; ++i)
                free(list->entries[i].value);
        free(list->entries);
        free(list);
        return NULL;
}

int address_escape(char **out, const char *value)
{
        static const char hex[] = "0123456789abcdef";
        size_t n = strlen(value), j = 0;
        char *v;

        v = malloc(3 * n + 1);
        if (!v)
                return error_origin(-ENOMEM);
        for (size_t i = 0; i < n; ++i) {
                unsigned char c = (unsigned char)value[i];

                if (is_optionally_escaped(c)) {
                        v[j++] = (char)c;
                } else {
                        v[j++] = '%';
                        v[j++] = hex[c >> 4];
                        v[j++] = hex[c & 0xf];
                }
        }
        v[j] = 0;
        *out = v;
        return 0;
}

const char *address_error_string(int code)
{
        switch (code) {
        case ADDRESS_E_EMPTY:
                return "the address is empty";
        case ADDRESS_E_NO_COLON:
                return "an address entry has no ':' after its transport";
        case ADDRESS_E_BAD_PAIR:
                return "an address entry has a key=value pair without '=', key or value";
        case ADDRESS_E_BAD_ESCAPE:
                return "a '%' in an address value is not followed by two hex digits";
        case ADDRESS_E_UNESCAPED:
                return "an address value contains a character that must be %-escaped";
        case ADDRESS_E_NUL:
                return "an address value contains an escaped NUL byte";
        case ADDRESS_E_TRANSPORT:
                return "unknown address transport (the bus listens on unix: and systemd: only)";
        case ADDRESS_E_MISSING:
                return "a unix: address needs one of path=, tmpdir=, dir=, abstract=, runtime=yes";
        case ADDRESS_E_CONFLICT:
                return "a unix: address may have only one of path=, tmpdir=, dir=, abstract=, runtime=";
        case ADDRESS_E_RUNTIME:
                return "runtime= accepts only the value \"yes\"";
        case ADDRESS_E_TOO_LONG:
                return "the socket name is too long for a unix socket address";
        default:
                return "invalid address";
        }
}
