#pragma once

/*
 * D-Bus name syntax
 *
 * The one implementation of the name grammars: bus names, interface, error
 * and member names, object paths, by the "Valid Names" rules of the D-Bus
 * specification (unique names as libdbus checks them, see below). The wire
 * codec (validate.h, message.c) uses the syntax_is_*_n() forms on counted,
 * unterminated strings; the bus semantics (name registry, match rules, the
 * driver) use the syntax_is_*() forms on NUL-terminated strings. Neither
 * depends on the other: this file is its own library (libsyntax).
 *
 * Each function is pure: no allocation, no state, thread-safe, no failure
 * other than "invalid". One table lookup per byte; a byte >= 0x80 or a NUL
 * is in no character class, so every name with one is invalid.
 */

#include <stdbool.h>
#include <stddef.h>

/** SYNTAX_NAME_MAX - the longest bus, interface or member name (bytes). */
#define SYNTAX_NAME_MAX 255

/** syntax_is_object_path_n() - "/" or "/"-separated non-empty [A-Za-z0-9_] elements, in @n bytes at @s. */
bool syntax_is_object_path_n(const char *s, size_t n);

/**
 * syntax_is_interface_n() - interface name: 1..255 bytes, >= 2 '.'-separated
 * [A-Za-z0-9_] elements not starting with a digit.
 */
bool syntax_is_interface_n(const char *s, size_t n);

/** syntax_is_error_name_n() - error name: same rules as an interface name. */
bool syntax_is_error_name_n(const char *s, size_t n);

/** syntax_is_member_n() - member name: 1..255 bytes of [A-Za-z0-9_], not starting with a digit, no '.'. */
bool syntax_is_member_n(const char *s, size_t n);

/**
 * syntax_is_unique_name_n() - ':' then [A-Za-z0-9_-.], no "..", not ending
 * in '.', <= 255 bytes (so ":" and ":.1" pass, ":1." and ":1..2" do not).
 *
 * This is the rule libdbus applies to the SENDER and DESTINATION of every
 * message (and so dbus-daemon): laxer than the specification, which asks
 * for at least two non-empty elements. A broker that is a drop-in for
 * dbus-daemon must route what dbus-daemon routes and accept what it
 * accepts, so this rule holds everywhere; the broker itself only hands out
 * names of the form ":1.N".
 */
bool syntax_is_unique_name_n(const char *s, size_t n);

/**
 * syntax_is_well_known_name_n() - >= 2 '.'-separated [A-Za-z0-9_-] elements
 * not starting with a digit, <= 255 bytes.
 */
bool syntax_is_well_known_name_n(const char *s, size_t n);

/** syntax_is_bus_name_n() - a unique or a well-known bus name. */
bool syntax_is_bus_name_n(const char *s, size_t n);

/** syntax_is_bus_namespace_n() - like syntax_is_bus_name_n(), but one element ("org") is enough. */
bool syntax_is_bus_namespace_n(const char *s, size_t n);

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
