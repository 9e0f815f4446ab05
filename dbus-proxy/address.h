#pragma once

/*
 * D-Bus server addresses
 *
 * A `struct address_list` is the parsed form of one server address string
 * as given to <listen> or --address: entries separated by ';', each
 * "transport:key=value,key=value". Values use the escaping of the D-Bus
 * specification ("Server Addresses"): bytes outside [-0-9A-Za-z_/.\*] must
 * be written as %XX (hex, either case); parsing unescapes them.
 *
 * The entries of one list are alternatives, as in dbus_server_listen(): the
 * listener uses the first one that works (several <listen> elements, not
 * ';', make a bus listen on several sockets).
 *
 * Supported server transports:
 *  - unix: with exactly one of path=, tmpdir=, dir=, abstract=, runtime=yes;
 *  - systemd: (the sockets passed by systemd socket activation).
 * As in dbus-daemon, unknown keys (e.g. guid=) are ignored, the first of
 * duplicate keys counts, and empty entries (";;", a trailing ';') are skipped.
 *
 * Invariants of a parsed list: n >= 1; `value` is a non-empty string without
 * NUL bytes for PATH, TMPDIR, DIR and ABSTRACT (and fits a sockaddr_un,
 * leaving room for the generated name in TMPDIR and DIR), NULL for RUNTIME
 * and SYSTEMD.
 */

#include <stddef.h>

enum address_kind {
        ADDRESS_UNIX_PATH,
        ADDRESS_UNIX_TMPDIR,
        ADDRESS_UNIX_DIR,
        ADDRESS_UNIX_ABSTRACT,
        ADDRESS_UNIX_RUNTIME,
        ADDRESS_SYSTEMD,
};

/* Parse errors (positive: invalid input, not a failure of the program). */
enum {
        ADDRESS_E_EMPTY = 1,    /* no entry at all */
        ADDRESS_E_NO_COLON,     /* entry without "transport:" */
        ADDRESS_E_BAD_PAIR,     /* pair without '=', or empty key or value */
        ADDRESS_E_BAD_ESCAPE,   /* '%' not followed by two hex digits */
        ADDRESS_E_UNESCAPED,    /* a byte that must be escaped is not */
        ADDRESS_E_NUL,          /* value contains %00 */
        ADDRESS_E_TRANSPORT,    /* transport other than unix: and systemd: */
        ADDRESS_E_MISSING,      /* unix: without path/tmpdir/dir/abstract/runtime */
        ADDRESS_E_CONFLICT,     /* two of path/tmpdir/dir/abstract/runtime */
        ADDRESS_E_RUNTIME,      /* runtime= with a value other than "yes" */
        ADDRESS_E_TOO_LONG,     /* socket name does not fit a sockaddr_un */
};

/* Longest socket name (sun_path without its terminating or leading NUL). */
#define ADDRESS_UNIX_NAME_MAX 107
/* Name tmpdir=/dir= sockets get inside the directory: "/dbus-" + 10 chars. */
#define ADDRESS_RANDOM_NAME_LEN 16

struct address {
        enum address_kind kind;
        char *value;            /* unescaped; NULL for RUNTIME and SYSTEMD */
};

struct address_list {
        size_t n;
        struct address *entries;
};

/**
 * address_list_parse() - parse a server address string
 * @out:  written on success: the new list (free with address_list_free())
 * @text: the address string, e.g. "unix:path=/run/dbus/system_bus_socket"
 *
 * Return: 0 on success; a positive ADDRESS_E_* code if @text is invalid
 * (address_error_string() describes it); -ENOMEM.
 */
int address_list_parse(struct address_list **out, const char *text);

/**
 * address_list_free() - free a list
 * @list: list or NULL
 *
 * Return: NULL.
 */
struct address_list *address_list_free(struct address_list *list);

/**
 * address_escape() - escape a value for an address string
 * @out:   written on success: new string (free())
 * @value: raw value (any bytes but NUL)
 *
 * Bytes outside [-0-9A-Za-z_/.\*] become "%xx" (lower-case hex), exactly as
 * libdbus escapes them, so printed addresses match dbus-daemon's.
 *
 * Return: 0 on success; -ENOMEM.
 */
int address_escape(char **out, const char *value);

/**
 * address_error_string() - describe an ADDRESS_E_* code
 * @code: a positive ADDRESS_E_* code
 *
 * Return: static string (a generic text for unknown codes).
 */
const char *address_error_string(int code);
