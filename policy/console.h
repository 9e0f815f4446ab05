#pragma once

/*
 * at_console without systemd-logind: the test dbus-daemon applies when it is
 * not running under systemd. A user is "at the console" if a file named
 * after the user exists in the console directory (pam_console(8) creates
 * /var/run/console/<user> for the user logged in at the console).
 *
 * The broker evaluates this once per connection, at connect time, and
 * passes the result to policy_snapshot_init(); with logind available it may
 * instead ask logind whether the user has an active seat, as dbus-daemon
 * does under systemd.
 */

#include <stdbool.h>
#include <stdint.h>

/* dbus-daemon's default console directory */
#define POLICY_CONSOLE_DIR "/var/run/console"

/**
 * policy_console_user_is_at_console() - is @uid at the console?
 * @console_dir: directory of per-user marker files; NULL for
 *               POLICY_CONSOLE_DIR
 * @uid: the user
 *
 * Return: true if @uid has a name in the user database and
 * @console_dir/<name> exists; false otherwise (also when the lookup fails).
 */
bool policy_console_user_is_at_console(const char *console_dir, uint32_t uid);
