/*
 * D-Bus server GUIDs (see guid.h).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "dbus-proxy/guid.h"
#include "util/error.h"

int guid_generate(char out[GUID_LEN + 1])
{
        static const char hex[] = "0123456789abcdef";
        uint8_t bytes[GUID_LEN / 2];
        uint32_t now = (uint32_t)time(NULL);
        size_t got = 0;
        ssize_t l;

        while (got < 12) {
                l = getrandom(bytes + got, 12 - got, 0);
                if (l < 0) {
                        if (errno == EINTR)
                                continue;
                        return error_origin(-errno);
                }
                got += (size_t)l;
        }
        bytes[12] = (uint8_t)(now >> 24);
        bytes[13] = (uint8_t)(now >> 16);
        bytes[14] = (uint8_t)(now >> 8);
        bytes[15] = (uint8_t)now;

        for (size_t i = 0; i < sizeof(bytes); ++i) {
                out[2 * i] = hex[bytes[i] >> 4];
                out[2 * i + 1] = hex[bytes[i] & 0xf];
        }
        out[GUID_LEN] = 0;
        return 0;
}

int guid_is_valid(const char *s)
{
        size_t i;

        for (i = 0; s[i]; ++i)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return 0;
        return i == GUID_LEN;
}
