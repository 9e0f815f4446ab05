/*
 * D-Bus name syntax on plain C strings; see syntax.h.
 */
#include <stdbool.h>
#include <string.h>

#include "dbus-proxy/syntax.h"

static bool is_alpha_(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

/*
 * Dotted names: elements of [A-Za-z0-9_] (plus '-' if @dash), an element may
 * start with a digit only if @digit_first; at least @min_elements elements.
 */
static bool dotted_name_is_valid(const char *s, bool dash, bool digit_first, unsigned int min_elements)
{
        unsigned int n_elements = 0;
        size_t len = 0;
        bool at_start = true;

        for (; *s; ++s, ++len) {
                char c = *s;

                if (len >= SYNTAX_NAME_MAX)
                        return false;
                if (c == '.') {
                        if (at_start)
                                return false;
                        at_start = true;
                        continue;
                }
                if (!(is_alpha_(c) || is_digit(c) || (dash && c == '-')))
                        return false;
                if (at_start) {
                        if (is_digit(c) && !digit_first)
                                return false;
                        ++n_elements;
                        at_start = false;
                }
        }
        /* an empty string or a trailing '.' leaves at_start set */
        return !at_start && n_elements >= min_elements;
}

/*
 * Unique names, after the ':'. libdbus (and so dbus-daemon) is laxer here
 * than the specification's prose: any run of [A-Za-z0-9_-] in which every
 * '.' is followed by such a character, including none at all (":" and ":.1"
 * are accepted, ":1." and ":1..2" are not). We accept what dbus-daemon
 * accepts, so that clients see the same answers.
 */
static bool unique_name_is_valid(const char *s)
{
        if (strlen(s) > SYNTAX_NAME_MAX)
                return false;
        for (++s; *s; ++s) {
                if (*s == '.')
                        ++s;
                if (!(is_alpha_(*s) || is_digit(*s) || *s == '-'))
                        return false;
        }
        return true;
}

bool syntax_is_bus_name(const char *s)
{
        if (s[0] == ':')
                return unique_name_is_valid(s);
        return dotted_name_is_valid(s, true, false, 2);
}

bool syntax_is_bus_namespace(const char *s)
{
        if (s[0] == ':')
                return unique_name_is_valid(s);
        return dotted_name_is_valid(s, true, false, 1);
}

bool syntax_is_interface(const char *s)
{
        return dotted_name_is_valid(s, false, false, 2);
}

bool syntax_is_member(const char *s)
{
        size_t len = 0;

        if (!is_alpha_(s[0]))
                return false;
        for (; *s; ++s, ++len)
                if (len >= SYNTAX_NAME_MAX || !(is_alpha_(*s) || is_digit(*s)))
                        return false;
        return true;
}

bool syntax_is_path(const char *s)
{
        bool at_start;

        if (s[0] != '/')
                return false;
        if (s[1] == '\0')
                return true;
        at_start = true;
        for (++s; *s; ++s) {
                if (*s == '/') {
                        if (at_start)
                                return false;
                        at_start = true;
                } else if (is_alpha_(*s) || is_digit(*s)) {
                        at_start = false;
                } else {
                        return false;
                }
        }
        return !at_start;
}
