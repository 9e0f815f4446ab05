#pragma once

/*
 * D-Bus name syntax on plain C strings
 *
 * Validators for the names the bus semantics (name registry, match rules)
 * take from clients: bus names, interface and member names, object paths.
 * They follow the "Valid Names" rules of the D-Bus specification and work on
 * NUL-terminated strings, independent of the wire codec. Each function is
 * pure: no allocation, no state, no failure other than "invalid".
 */

#include <stdbool.h>
#include <stddef.h>

/** SYNTAX_NAME_MAX - the longest bus, interface or member name (bytes). */
#define SYNTAX_NAME_MAX 255

/**
 * syntax_is_bus_name() - whether @s is a valid unique or well-known bus name.
 * @s: NUL-terminated string
 *
 * Well-known names need at least two '.'-separated elements of [A-Za-z0-9_-],
 * none empty or starting with a digit. Unique names start with ':' and are
 * checked as libdbus does: after the ':', characters of [A-Za-z0-9_-] where
 * every '.' is followed by one of them (so ":" and ":.1" pass, ":1." and
 * ":1..2" do not). At most 255 bytes either way.
 *
 * Return: true if valid.
 */
bool syntax_is_bus_name(const char *s);

/**
 * syntax_is_bus_namespace() - whether @s is valid as arg0namespace= value.
 * @s: NUL-terminated string
 *
 * Like syntax_is_bus_name(), but a single-element well-known name ("org")
 * is allowed too.
 *
 * Return: true if valid.
 */
bool syntax_is_bus_namespace(const char *s);

/**
 * syntax_is_interface() - whether @s is a valid interface name.
 * @s: NUL-terminated string
 *
 * At least two elements of [A-Za-z0-9_], none empty or starting with a digit,
 * at most 255 bytes. (Error names have the same syntax.)
 *
 * Return: true if valid.
 */
bool syntax_is_interface(const char *s);

/**
 * syntax_is_member() - whether @s is a valid member (method/signal) name.
 * @s: NUL-terminated string
 *
 * One element of [A-Za-z0-9_], not starting with a digit, 1..255 bytes.
 *
 * Return: true if valid.
 */
bool syntax_is_member(const char *s);

/**
 * syntax_is_path() - whether @s is a valid object path.
 * @s: NUL-terminated string
 *
 * "/" or "/" followed by '/'-separated, non-empty elements of [A-Za-z0-9_];
 * no trailing '/' (except the root path itself).
 *
 * Return: true if valid.
 */
bool syntax_is_path(const char *s);
