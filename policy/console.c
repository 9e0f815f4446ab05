/*
 * at_console from a pam_console-style directory; see console.h.
 */
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/console.h"

bool policy_console_user_is_at_console(const char *console_dir, uint32_t uid)
{
        struct passwd pw, *result = NULL;
        char buf[4096], path[4096 + 256];
        struct stat st;
        int n;

        if (getpwuid_r(uid, &pw, buf, sizeof(buf), &result) != 0 || !result)
                return false;
        if (!result->pw_name[0] || result->pw_name[0] == '.' || strchr(result->pw_name, '/'))
                return false;
        n = snprintf(path, sizeof(path), "%s/%s", console_dir ? console_dir : POLICY_CONSOLE_DIR,
                     result->pw_name);
        if (n < 0 || (size_t)n >= sizeof(path))
                return false;
        return lstat(path, &st) == 0;
}
