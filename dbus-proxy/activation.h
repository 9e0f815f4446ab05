#pragma once

/*
 * Service activation: per well-known name, the requests waiting for the
 * name to get an owner, and the start that will give it one.
 *
 * One struct activation per bus. The broker calls it at four points:
 *  - a message for an activatable name without owner (auto-start), or
 *    StartServiceByName for a name without owner: activation_start() with
 *    an opaque request pointer. The first request for a name starts the
 *    service; later ones join the queue (one start, however many callers);
 *  - whenever a well-known name gets a primary owner:
 *    activation_name_acquired(). The queue is handed back in order through
 *    ops->ready (deliver the message / reply to StartServiceByName);
 *  - a connection goes away: activation_cancel_owner() hands its queued
 *    requests back through ops->discard;
 *  - systemd reports ActivationFailure: activation_systemd_failure().
 * Failures (spawn errors, the child exiting or crashing before the name
 * appeared, the start timeout, systemd's failure report) reach every
 * request of the queue through ops->failed with the D-Bus error the client
 * expects; the request is then the broker's again.
 *
 * Ownership of a request: from a successful activation_start() until
 * exactly one of ops->ready, ops->failed or ops->discard is called with it.
 *
 * Callbacks run from activation_name_acquired(),
 * activation_systemd_failure(), activation_cancel_owner(),
 * activation_free() and from the event loop (child exit, timeout); never
 * from activation_start(). Before a callback runs, the pending start it
 * belongs to is already unlinked, so callbacks may call back into the
 * activation (e.g. activation_start() for the same name starts afresh).
 *
 * Accounting: every queued request is charged @n_bytes to its owner. A
 * request is refused with ACTIVATION_E_LIMITS_EXCEEDED when the total number
 * of queued requests would exceed max_pending (dbus-daemon's
 * max_pending_service_starts, which also counts requests, not names) or the
 * owner's queued bytes would exceed max_bytes_per_owner.
 *
 * Direct activation (exec) follows dbus-daemon: argv from the Exec= line
 * (spawn_parse_command_line()); environment: the bus's environment at
 * activation_new() plus activation_update_environment() changes plus
 * DBUS_STARTER_ADDRESS, DBUS_STARTER_BUS_TYPE and DBUS_SESSION_BUS_ADDRESS
 * or DBUS_SYSTEM_BUS_ADDRESS (by bus type); a child exiting with status 0
 * before the name appears is not a failure (it may have daemonized); on
 * failure every other pending start with the same Exec= line fails too; on
 * timeout the child gets SIGKILL. Children stay tracked (and are reaped)
 * after their start completed; they are not killed when the activation is
 * freed.
 *
 * With ACTIVATION_SYSTEM_BUS (dbus-daemon with a <servicehelper>), direct
 * activation needs User= and a file named "<Name>.service"; the child runs
 * as User= when the bus runs as root.
 *
 * With ACTIVATION_SYSTEMD (--systemd-activation), a service with
 * SystemdService= is started through ops->systemd_start (the broker sends
 * the org.freedesktop.systemd1.Activator.ActivationRequest signal); others
 * are exec'd unless ACTIVATION_NO_EXEC_FALLBACK. The name
 * "org.freedesktop.systemd1" needs no service file: its requests wait for
 * systemd to connect (the broker queues ActivationRequest signals that way
 * while systemd is not on the bus, with owner NULL).
 *
 * How the broker drives it (the "activation" section of dbus-proxy/driver.c
 * and its calls from broker.c):
 *  - start-up, after the configuration is loaded: servicedir_registry_new()
 *    with config->servicedirs (SERVICEDIR_REGISTRY_SYSTEM if
 *    config->servicehelper), _rescan(), _watch() with a callback that emits
 *    ActivatableServicesChanged; then activation_new() with .address = the
 *    address --print-address prints, .bus_type = config->type,
 *    .start_timeout_usec = limits.service_start_timeout * 1000,
 *    .max_pending = limits.max_pending_service_starts,
 *    .max_bytes_per_owner = SIZE_MAX (a sender's queued messages are
 *    bounded by its max_incoming_bytes, see connection.h), .flags =
 *    ACTIVATION_SYSTEM_BUS if config->servicehelper, ACTIVATION_SYSTEMD with
 *    --systemd-activation, ACTIVATION_REDIRECT_OUTPUT if config->syslog;
 *  - broker_route(), call to an unowned well-known name without
 *    NO_AUTO_START (driver_activate()): after the send policy check,
 *    activation_start(act, name, sender, message (ref'd), its size, &err); a
 *    positive result becomes the error reply err.name/err.message;
 *  - driver StartServiceByName: owned name -> reply 2 (already running);
 *    else activation_start() with a request the broker marks as "start"
 *    (ops->ready then replies 1, DBUS_START_REPLY_SUCCESS);
 *  - ops->ready: route the message again as if just received from its
 *    sender (drop it if the sender is gone); ops->failed: error reply (if a
 *    reply is expected), unref; ops->discard: unref;
 *  - broker_name_changes_emit(), a well-known name got a new primary owner:
 *    activation_name_acquired() after NameOwnerChanged/NameAcquired went out;
 *  - broker_connection_gone(): activation_cancel_owner(act, c);
 *  - ListActivatableNames: servicedir_registry_list_names() plus
 *    "org.freedesktop.DBus"; UpdateActivationEnvironment:
 *    activation_update_environment() (in systemd mode dbus-daemon also
 *    forwards it to systemd's SetEnvironment); ReloadConfig:
 *    servicedir_registry_set_dirs() + _rescan(&changes), signal if changed;
 *  - ops->systemd_start: the signal org.freedesktop.systemd1.Activator
 *    ActivationRequest(s unit) from org.freedesktop.DBus, path
 *    /org/freedesktop/DBus, destination org.freedesktop.systemd1; if that
 *    name has no owner, activation_start(act, "org.freedesktop.systemd1",
 *    NULL, signal, ...) queues it until systemd connects. A signal
 *    org.freedesktop.systemd1.Activator.ActivationFailure(sss unit, error
 *    name, message) sent to org.freedesktop.DBus by the owner of
 *    org.freedesktop.systemd1: activation_systemd_failure().
 *
 * Not thread-safe; runs on one event loop (loop.h).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "dbus-proxy/loop.h"

struct servicedir_registry;

/* D-Bus error names used by activation */
#define ACTIVATION_ERROR_SERVICE_UNKNOWN "org.freedesktop.DBus.Error.ServiceUnknown"
#define ACTIVATION_ERROR_LIMITS_EXCEEDED "org.freedesktop.DBus.Error.LimitsExceeded"
#define ACTIVATION_ERROR_INVALID_ARGS "org.freedesktop.DBus.Error.InvalidArgs"
#define ACTIVATION_ERROR_TIMED_OUT "org.freedesktop.DBus.Error.TimedOut"
#define ACTIVATION_ERROR_EXEC_FAILED "org.freedesktop.DBus.Error.Spawn.ExecFailed"
#define ACTIVATION_ERROR_FORK_FAILED "org.freedesktop.DBus.Error.Spawn.ForkFailed"
#define ACTIVATION_ERROR_CHILD_EXITED "org.freedesktop.DBus.Error.Spawn.ChildExited"
#define ACTIVATION_ERROR_CHILD_SIGNALED "org.freedesktop.DBus.Error.Spawn.ChildSignaled"
#define ACTIVATION_ERROR_SETUP_FAILED "org.freedesktop.DBus.Error.Spawn.SetupFailed"
#define ACTIVATION_ERROR_FILE_INVALID "org.freedesktop.DBus.Error.Spawn.FileInvalid"
#define ACTIVATION_ERROR_SERVICE_NOT_FOUND "org.freedesktop.DBus.Error.Spawn.ServiceNotFound"
#define ACTIVATION_ERROR_SPAWN_FAILED "org.freedesktop.DBus.Error.Spawn.Failed"

enum {
        /* no service file provides the name (error filled: ServiceUnknown) */
        ACTIVATION_E_SERVICE_UNKNOWN = 1,
        /* a limit refused the request (error filled: LimitsExceeded) */
        ACTIVATION_E_LIMITS_EXCEEDED,
        /* the start failed at once (error filled: Spawn.*, InvalidArgs) */
        ACTIVATION_E_FAILED,
        /* activation_update_environment(): an invalid variable name */
        ACTIVATION_E_INVALID_ENVIRONMENT,
};

enum activation_flags {
        ACTIVATION_SYSTEM_BUS = 1u << 0,
        ACTIVATION_SYSTEMD = 1u << 1,
        ACTIVATION_NO_EXEC_FALLBACK = 1u << 2,
        /* children's stdout/stderr go to the journal (as dbus-daemon does
         * with <syslog/>); if that fails, or without the flag, they inherit
         * the bus's */
        ACTIVATION_REDIRECT_OUTPUT = 1u << 3,
};

/* A D-Bus error: @name is a static string, @message is malloc'd. */
struct activation_error {
        const char *name;
        char *message;
};

struct activation_config {
        const char *address;            /* DBUS_STARTER_ADDRESS; NULL: not set */
        const char *bus_type;           /* "session", "system" or NULL */
        uint64_t start_timeout_usec;    /* service_start_timeout */
        size_t max_pending;             /* max_pending_service_starts */
        size_t max_bytes_per_owner;     /* queued bytes per owner */
        unsigned int flags;             /* enum activation_flags */
};

struct activation_ops {
        /* @name got an owner: deliver @request now (queue order) */
        void (*ready)(void *userdata, const char *name, void *request);
        /* the start of @name failed: send @error to @request's sender */
        void (*failed)(void *userdata, const char *name, void *request,
                       const struct activation_error *error);
        /* drop @request without a reply */
        void (*discard)(void *userdata, void *request);
        /* systemd mode: ask systemd to start @unit for @name. Return 0, or
         * a negative errno (the start fails with Spawn.Failed). May be NULL
         * without ACTIVATION_SYSTEMD. */
        int (*systemd_start)(void *userdata, const char *name, const char *unit);
        /* optional: a lookup rescanned the service directories and found
         * changes (emit ActivatableServicesChanged) */
        void (*services_changed)(void *userdata);
};

struct activation;

/** activation_error_deinit() - free @error's message and clear it. */
void activation_error_deinit(struct activation_error *error);

/**
 * activation_new() - create the activation state of a bus
 * @activationp: output, written only on success
 * @loop: the event loop (borrowed; must outlive the activation)
 * @registry: the service files (borrowed; must outlive the activation)
 * @config: settings (strings copied)
 * @ops: callbacks (borrowed; must outlive the activation)
 * @userdata: passed to every callback
 *
 * The activation environment starts as a copy of the process environment.
 *
 * Return: 0; -ENOMEM.
 */
int activation_new(struct activation **activationp, struct loop *loop,
                   struct servicedir_registry *registry,
                   const struct activation_config *config,
                   const struct activation_ops *ops, void *userdata);

/**
 * activation_set_limits() - change the start timeout and the limits (a
 * configuration reload): they apply to starts and requests from now on;
 * starts already pending keep their deadline. address, bus_type and flags
 * of @config are ignored.
 * @activation: the state
 * @config: start_timeout_usec, max_pending, max_bytes_per_owner
 */
void activation_set_limits(struct activation *activation, const struct activation_config *config);

/**
 * activation_free() - free the activation state
 * @activation: the state or NULL
 *
 * Every queued request goes back through ops->discard. Running children
 * are neither killed nor reaped.
 *
 * Return: NULL.
 */
struct activation *activation_free(struct activation *activation);

/**
 * activation_start() - queue a request for @name and start it if needed
 * @activation: the state
 * @name: a well-known name that currently has no owner
 * @owner: who is charged (e.g. the connection); may be NULL
 * @request: the broker's request (message), non-NULL
 * @n_bytes: bytes charged to @owner while queued
 * @errorp: on a positive return, receives the error for @request's sender
 *          (deinit it); may be NULL
 *
 * Return: 0 if the request is queued (its outcome comes later through the
 * ops); ACTIVATION_E_SERVICE_UNKNOWN; ACTIVATION_E_LIMITS_EXCEEDED;
 * ACTIVATION_E_FAILED if the start failed at once (nothing queued then);
 * -ENOMEM.
 */
int activation_start(struct activation *activation, const char *name, void *owner,
                     void *request, size_t n_bytes, struct activation_error *errorp);

/**
 * activation_name_acquired() - @name got a primary owner
 * @activation: the state
 * @name: the name
 *
 * Hands every queued request for @name to ops->ready, in queue order. Does
 * nothing if nothing is pending for @name.
 */
void activation_name_acquired(struct activation *activation, const char *name);

/**
 * activation_lookup() - whether @name can be activated: a service file
 * provides it (looked up as activation_start() does, which may rescan the
 * directories), or it is systemd's name in systemd mode
 * Return: 0, ACTIVATION_E_SERVICE_UNKNOWN, -ENOMEM.
 */
int activation_lookup(struct activation *activation, const char *name);

/**
 * activation_systemd_failure() - systemd's ActivationFailure signal
 * @activation: the state
 * @unit: the unit systemd failed to start
 * @error_name: the D-Bus error name systemd reported (copied; validated by
 *              the caller)
 * @error_message: its message
 *
 * Every pending start through @unit fails with that error.
 */
void activation_systemd_failure(struct activation *activation, const char *unit,
                                const char *error_name, const char *error_message);

/**
 * activation_cancel_owner() - drop every queued request of @owner
 * (ops->discard); pending starts are not cancelled.
 */
void activation_cancel_owner(struct activation *activation, void *owner);

/** activation_is_pending() - whether a start of @name is in progress. */
bool activation_is_pending(struct activation *activation, const char *name);

/** activation_count_requests() - number of queued requests, all names. */
size_t activation_count_requests(struct activation *activation);

/** activation_count_children() - number of spawned children not reaped yet. */
size_t activation_count_children(struct activation *activation);

/** activation_owner_bytes() - bytes currently charged to @owner. */
size_t activation_owner_bytes(struct activation *activation, void *owner);

/**
 * activation_update_environment() - UpdateActivationEnvironment
 * @activation: the state
 * @keys: variable names
 * @values: their values
 * @n: number of pairs
 *
 * All or nothing: if any name is invalid (empty or containing '='),
 * nothing changes. Later pairs win over earlier ones. Whether the caller
 * may do this (dbus-daemon refuses it on the system bus and for
 * unprivileged callers) is the broker's decision.
 *
 * Return: 0; ACTIVATION_E_INVALID_ENVIRONMENT; -ENOMEM.
 */
int activation_update_environment(struct activation *activation, const char *const *keys,
                                  const char *const *values, size_t n);

/**
 * activation_get_environment() - the environment the next exec'd service
 * gets, NULL-terminated "KEY=VALUE" strings (borrowed; valid until the next
 * call into the activation).
 *
 * Return: the array; NULL on -ENOMEM.
 */
const char *const *activation_get_environment(struct activation *activation);
