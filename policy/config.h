#pragma once

/*
 * A bus configuration: the result of reading a busconfig XML file (the
 * format of dbus-daemon(1)) together with everything it includes.
 *
 * A struct bus_config is immutable once bus_config_load()/bus_config_parse()
 * returned it; it owns all its strings. It holds the bus settings (listen
 * addresses, auth mechanisms, service directories, limits, ...) and the
 * validated policy rules in document order (includes expanded in place).
 * Compile the rules with policy_db_new() (policy/db.h) to evaluate them.
 *
 * Semantics follow dbus-daemon:
 *  - scalar settings (<user>, <type>, <pidfile>, <servicehelper>, each limit)
 *    take the last value in document order; <fork/>, <syslog/>,
 *    <keep_umask/>, <allow_anonymous/> are flags set by their presence;
 *  - <listen>, <auth> accumulate in order; <servicedir> and the standard
 *    service directories accumulate in order, dropping repeated paths;
 *  - <include> paths are relative to the including file's directory;
 *    <includedir> includes every "*.conf" file of the directory, sorted by
 *    name (dbus-daemon leaves the order undefined); a missing directory is
 *    not an error, and a file of the directory that fails to load is
 *    skipped (with a warning, see @warnings) as dbus-daemon does;
 *  - an include cycle is an error;
 *  - <policy user=".."> or group="..": an unknown user/group makes the whole
 *    <policy> ignored (warning); user="..."/group="..." on a rule: unknown
 *    names make the rule ignored (warning). Names are resolved with
 *    getpwnam/getgrnam while loading; numeric values are ids, which must
 *    exist in the user/group database too (as in dbus-daemon).
 *  - the top-level file needs at least one <listen> (unless
 *    BUS_CONFIG_FRAGMENT);
 *  - <standard_session_servicedirs/> starts with the transient directory
 *    $XDG_RUNTIME_DIR/dbus-1/services (NO_WATCH, STRICT_NAMING) only if
 *    $XDG_RUNTIME_DIR and its dbus-1 subdirectory (when it exists) are
 *    directories owned by getuid(); otherwise a warning says why. Unset
 *    $XDG_RUNTIME_DIR: silently no transient directory. Loading never
 *    creates directories.
 * Deviation: entity declarations in a DOCTYPE internal subset are rejected
 * (no real configuration uses them, and they allow entity expansion bombs);
 * predefined and character entities work.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/rule.h"

enum {
        /* the configuration is invalid; the error string says why, as
         * "FILE:LINE:COLUMN: message" (LINE and COLUMN 1-based; dbus-daemon
         * prints expat's 0-based column), or "FILE: message" when the
         * problem is the file as a whole (missing, no <listen>) */
        BUS_CONFIG_E_INVALID = 1,
};

enum bus_config_flags {
        /* no <listen> required (parse a fragment such as a system.d file) */
        BUS_CONFIG_FRAGMENT = 1u << 0,
        /* do not follow <include>/<includedir> (validated only) */
        BUS_CONFIG_NO_INCLUDE = 1u << 1,
        /* act as if SELinux is enabled: <include if_selinux_enabled="yes">
         * is followed */
        BUS_CONFIG_SELINUX_ENABLED = 1u << 2,
};

enum bus_config_apparmor {
        BUS_CONFIG_APPARMOR_ENABLED,    /* default */
        BUS_CONFIG_APPARMOR_DISABLED,
        BUS_CONFIG_APPARMOR_REQUIRED,
};

/* service directory flags (as dbus-daemon attaches them) */
enum {
        BUS_CONFIG_SERVICEDIR_NO_WATCH = 1u << 0,
        BUS_CONFIG_SERVICEDIR_STRICT_NAMING = 1u << 1,
};

struct bus_config_options {
        unsigned int flags;                     /* enum bus_config_flags */
        /* SELinux policy root for <include selinux_root_relative="yes">;
         * NULL: such an include (when followed) is an error */
        const char *selinux_policy_root;
};

/* Every <limit> of dbus-daemon(1); times in milliseconds. */
struct bus_config_limits {
        long max_incoming_bytes;
        long max_incoming_unix_fds;
        long max_outgoing_bytes;
        long max_outgoing_unix_fds;
        long max_message_size;
        long max_message_unix_fds;
        long service_start_timeout;
        long auth_timeout;
        long pending_fd_timeout;
        long max_completed_connections;
        long max_incomplete_connections;
        long max_connections_per_user;
        long max_pending_service_starts;
        long max_names_per_connection;
        long max_match_rules_per_connection;
        long max_replies_per_connection;
        long reply_timeout;                     /* -1: never */
        long max_containers;
        long max_containers_per_user;
        long max_container_metadata_bytes;
        long max_connections_per_container;
};

struct bus_config_servicedir {
        const char *path;
        unsigned int flags;
};

/* <selinux><associate own=".." context=".."/></selinux>; later ones for
 * the same name replace earlier ones */
struct bus_config_association {
        const char *name;
        const char *context;
};

struct bus_config {
        const char *user;               /* NULL: do not change user */
        const char *type;               /* NULL: unset */
        const char *pidfile;            /* NULL: none */
        const char *servicehelper;      /* NULL: none */
        bool fork;
        bool syslog;
        bool keep_umask;
        bool allow_anonymous;
        unsigned int apparmor;          /* enum bus_config_apparmor */
        struct bus_config_limits limits;

        const char **listen;            /* in document order */
        size_t n_listen;
        const char **auth;              /* empty: all mechanisms allowed */
        size_t n_auth;
        struct bus_config_servicedir *servicedirs;
        size_t n_servicedirs;
        const char **conf_dirs;         /* <includedir> directories read */
        size_t n_conf_dirs;
        struct bus_config_association *associations;
        size_t n_associations;
        struct policy_rule *rules;      /* document order */
        size_t n_rules;
        /* non-fatal problems, "FILE:LINE:COLUMN: message" */
        const char **warnings;
        size_t n_warnings;

        /* private: every string above, owned */
        char **strings;
        size_t n_strings;
        size_t cap_strings;
        size_t cap_listen, cap_auth, cap_servicedirs, cap_conf_dirs;
        size_t cap_associations, cap_rules, cap_warnings;
};

/**
 * bus_config_limits_init_default() - dbus-daemon's built-in limits
 * @limits: filled with the values dbus-daemon uses when no <limit> is given
 */
void bus_config_limits_init_default(struct bus_config_limits *limits);

/**
 * bus_config_load() - read a configuration file and its includes
 * @configp: output, written only on success
 * @path: the file
 * @options: NULL for defaults (all flags off)
 * @errorp: on BUS_CONFIG_E_INVALID, receives a malloc'd message naming
 *          file, line and column; may be NULL
 *
 * Return: 0 on success; BUS_CONFIG_E_INVALID if a file is missing,
 * unreadable, malformed or invalid; -ENOMEM on allocation failure.
 */
int bus_config_load(struct bus_config **configp, const char *path,
                    const struct bus_config_options *options, char **errorp);

/**
 * bus_config_parse() - parse a configuration held in memory
 * @configp: output, written only on success
 * @data: the XML text (need not be NUL-terminated)
 * @n_data: its length
 * @name: file name used for messages and to resolve relative includes
 * @options: NULL for defaults
 * @errorp: as for bus_config_load()
 *
 * Return: as for bus_config_load().
 */
int bus_config_parse(struct bus_config **configp, const char *data, size_t n_data,
                     const char *name, const struct bus_config_options *options,
                     char **errorp);

/**
 * bus_config_free() - free a configuration
 * @config: the configuration or NULL
 *
 * Return: NULL.
 */
struct bus_config *bus_config_free(struct bus_config *config);

/**
 * bus_config_find_association() - SELinux context associated with a name
 * @config: the configuration
 * @name: a well-known name
 *
 * Return: the context, or NULL if none is associated.
 */
const char *bus_config_find_association(const struct bus_config *config, const char *name);
