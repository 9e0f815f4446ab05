/*
 * D-Bus name syntax: the one implementation of the name and object path
 * grammars, for the wire codec and the bus semantics alike; see syntax.h.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dbus-proxy/syntax.h"

/*
 * Character classes of the name grammars, one table lookup per byte.
 * Every byte >= 0x80 and NUL are in no class, so a name validator that
 * accepts only classed bytes also rejects non-ASCII and embedded NUL.
 */
enum {
        CC_ALPHA = 1 << 0,      /* [A-Za-z_] */
        CC_DIGIT = 1 << 1,      /* [0-9] */
        CC_DASH = 1 << 2,       /* '-' */
        CC_DOT = 1 << 3,        /* '.' */
        CC_SLASH = 1 << 4,      /* '/' */
        CC_WORD = CC_ALPHA | CC_DIGIT,
};

#define CC_RANGE4(c, v) [(c)] = (v), [(c) + 1] = (v), [(c) + 2] = (v), [(c) + 3] = (v)
#define CC_RANGE8(c, v) CC_RANGE4(c, v), CC_RANGE4((c) + 4, v)
static const uint8_t char_class[256] = {
        CC_RANGE8('0', CC_DIGIT), ['8'] = CC_DIGIT, ['9'] = CC_DIGIT,
        CC_RANGE8('A', CC_ALPHA), CC_RANGE8('I', CC_ALPHA), CC_RANGE8('Q', CC_ALPHA),
        ['Y'] = CC_ALPHA, ['Z'] = CC_ALPHA,
        CC_RANGE8('a', CC_ALPHA), CC_RANGE8('i', CC_ALPHA), CC_RANGE8('q', CC_ALPHA),
        ['y'] = CC_ALPHA, ['z'] = CC_ALPHA,
        ['_'] = CC_ALPHA, ['-'] = CC_DASH, ['.'] = CC_DOT, ['/'] = CC_SLASH,
};
#undef CC_RANGE8
#undef CC_RANGE4

static unsigned int cc(char c)
{
        return char_class[(uint8_t)c];
}

bool syntax_is_object_path_n(const char *s, size_t n)
{
        size_t i;

        if (n < 1 || s[0] != '/')
                return false;
        if (n == 1)
                return true;

        /* elements of [A-Za-z0-9_]; '/' only after an element's last byte */
        for (i = 1; i < n; ++i) {
                unsigned int c = cc(s[i]);

                if (c & CC_WORD)
                        continue;
                if (!(c & CC_SLASH) || s[i - 1] == '/')
                        return false;
        }

        return s[n - 1] != '/';
}

/*
 * Dotted names: elements separated by '.', each non-empty and not starting
 * with a digit; @dash allows '-' in elements; at least @min_elements
 * elements.
 */
static bool syntax_dotted(const char *s, size_t n, bool dash, size_t min_elements)
{
        const unsigned int inner = CC_WORD | (dash ? CC_DASH : 0);
        const unsigned int first = inner & ~(unsigned int)CC_DIGIT;
        size_t i = 0, n_elements = 0;

        if (n < 1 || n > SYNTAX_NAME_MAX)
                return false;

        for (;;) {
                /* one element: a valid first byte, then inner bytes */
                if (i >= n || !(cc(s[i]) & first))
                        return false;
                ++n_elements;
                for (++i; i < n && (cc(s[i]) & inner); ++i)
                        ;
                if (i == n)
                        break;
                if (s[i] != '.')
                        return false;
                ++i;
        }

        return n_elements >= min_elements;
}

bool syntax_is_interface_n(const char *s, size_t n)
{
        return syntax_dotted(s, n, false, 2);
}

bool syntax_is_error_name_n(const char *s, size_t n)
{
        return syntax_dotted(s, n, false, 2);
}

bool syntax_is_member_n(const char *s, size_t n)
{
        size_t i;

        if (n < 1 || n > SYNTAX_NAME_MAX || !(cc(s[0]) & CC_ALPHA))
                return false;
        for (i = 1; i < n; ++i)
                if (!(cc(s[i]) & CC_WORD))
                        return false;
        return true;
}

bool syntax_is_unique_name_n(const char *s, size_t n)
{
        size_t i;

        if (n < 1 || n > SYNTAX_NAME_MAX || s[0] != ':')
                return false;

        for (i = 1; i < n; ++i) {
                if (s[i] == '.') {
                        if (i + 1 == n || s[i + 1] == '.')
                                return false;
                } else if (!(cc(s[i]) & (CC_WORD | CC_DASH))) {
                        return false;
                }
        }

        return true;
}

bool syntax_is_well_known_name_n(const char *s, size_t n)
{
        return syntax_dotted(s, n, true, 2);
}

bool syntax_is_bus_name_n(const char *s, size_t n)
{
        if (n > 0 && s[0] == ':')
                return syntax_is_unique_name_n(s, n);
        return syntax_is_well_known_name_n(s, n);
}

bool syntax_is_bus_namespace_n(const char *s, size_t n)
{
        if (n > 0 && s[0] == ':')
                return syntax_is_unique_name_n(s, n);
        return syntax_dotted(s, n, true, 1);
}

bool syntax_is_bus_name(const char *s)
{
        return syntax_is_bus_name_n(s, strlen(s));
}

bool syntax_is_bus_namespace(const char *s)
{
        return syntax_is_bus_namespace_n(s, strlen(s));
}

bool syntax_is_interface(const char *s)
{
        return syntax_is_interface_n(s, strlen(s));
}

bool syntax_is_member(const char *s)
{
        return syntax_is_member_n(s, strlen(s));
}

bool syntax_is_path(const char *s)
{
        return syntax_is_object_path_n(s, strlen(s));
}
