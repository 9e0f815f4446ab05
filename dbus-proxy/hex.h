#pragma once

/*
 * Hex digits, as the D-Bus address escapes (%XX) and SASL's hex-encoded
 * identities and data use them. Header-only: two users in libtransport.
 */

/** hex_digit_value() - the value of hex digit @c (either case), or -1. */
static inline int hex_digit_value(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}
