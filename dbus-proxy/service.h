#pragma once

/*
 * A D-Bus service file: one `[D-BUS Service]` entry that makes a well-known
 * name activatable.
 *
 * A struct service is immutable after service_parse()/service_load()
 * returned it and is reference counted (service_ref/service_unref), so a
 * registry rescan can replace an entry while someone still holds the old one.
 *
 * File syntax (dbus-daemon's desktop-file subset, checked the same way):
 *  - at most SERVICE_FILE_MAX bytes of valid UTF-8 without NUL bytes;
 *  - lines end in "\n", "\r\n" or "\r";
 *  - a line that is empty or holds only space, tab, "\r", "\f" is blank; a
 *    line starting with '#' (first column) is a comment;
 *  - "[group]" opens a group; the line must be longer than two bytes and end
 *    in ']'; group names are ASCII 0x20..0x7e without '[' and ']';
 *  - "Key = Value": the key is [A-Za-z0-9-]+, optionally followed by
 *    "[locale]" (such lines are ignored); spaces (not tabs) around '=' are
 *    skipped; the value runs to the end of the line (trailing spaces kept)
 *    and understands the escapes \s \t \n \r \\ (any other escape, a
 *    trailing backslash and an embedded NUL make the file invalid);
 *  - a key line before the first group is an error;
 *  - a group or key that appears twice: the first one counts.
 * Content: group "[D-BUS Service]" with Name (required), Exec (required),
 * User, SystemdService, AssumedAppArmorLabel (optional); other groups and
 * keys are ignored.
 * Deviation from dbus-daemon: Name must be a valid well-known bus name
 * (dbus-daemon loads any string; a file with an invalid name could never be
 * activated anyway, but would be listed by ListActivatableNames).
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* dbus-daemon's size limit for a service file */
#define SERVICE_FILE_MAX (128 * 1024)

enum {
        /* the file is not a valid service file; see the error string */
        SERVICE_E_INVALID = 1,
};

struct service {
        unsigned long n_refs;
        char *name;                     /* well-known bus name */
        char *exec;                     /* Exec= line, unsplit */
        char *user;                     /* User=, NULL if absent */
        char *systemd_service;          /* SystemdService=, NULL if absent */
        char *apparmor_label;           /* AssumedAppArmorLabel=, NULL if absent */
        char *path;                     /* the file it came from, or NULL */
        const char *filename;           /* basename of @path (points into it), or NULL */
        /* identity of the file when loaded, to notice changes (0 if parsed
         * from memory) */
        dev_t dev;
        ino_t ino;
        off_t size;
        long long mtime_nsec;           /* st_mtim in nanoseconds */
};

/**
 * service_parse() - parse a service file held in memory
 * @servicep: output, written only on success (one reference)
 * @data: file contents (need not be NUL-terminated)
 * @n_data: their length
 * @path: the file's path, kept in the result; may be NULL
 * @errorp: on SERVICE_E_INVALID receives a malloc'd message "LINE: what"
 *          (or "what" for problems of the file as a whole); may be NULL
 *
 * Return: 0 on success; SERVICE_E_INVALID if the text is not a valid service
 * file; -ENOMEM.
 */
int service_parse(struct service **servicep, const char *data, size_t n_data,
                  const char *path, char **errorp);

/**
 * service_load() - read and parse a service file
 * @servicep: output, written only on success
 * @dirfd: directory @name is relative to (AT_FDCWD for the cwd)
 * @name: file name relative to @dirfd
 * @path: full path, kept in the result and used in messages
 * @errorp: as for service_parse(); also set for unreadable or too large
 *          files
 *
 * The file must be a regular file (symlinks are followed).
 *
 * Return: 0 on success; SERVICE_E_INVALID if the file is missing,
 * unreadable, not a regular file, too large or invalid; -ENOMEM.
 */
int service_load(struct service **servicep, int dirfd, const char *name,
                 const char *path, char **errorp);

/** service_ref() - take a reference; @service may be NULL. Return: @service. */
struct service *service_ref(struct service *service);

/** service_unref() - drop a reference; @service may be NULL. Return: NULL. */
struct service *service_unref(struct service *service);

/**
 * service_equal() - whether two entries have the same content
 * @a: a service
 * @b: another
 *
 * Compares name, exec, user, systemd_service, apparmor_label and path (not
 * the file identity).
 */
bool service_equal(const struct service *a, const struct service *b);

/**
 * service_filename_matches() - whether the file is named "<Name>.service"
 * @service: a service loaded from a file
 *
 * Return: true if @service has a file name equal to its Name plus
 * ".service"; false otherwise (also for services parsed without a path).
 */
bool service_filename_matches(const struct service *service);
