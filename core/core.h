#pragma once

/*
 * Core engine: entry points
 *
 * The engine is the capability IPC system of doc/core-order.md and
 * doc/core-quota.md: peers, nodes, handles, queues in one global order, and
 * quotas. It is freestanding (see core/host.h). Every command of the ABI
 * (core/uapi/bus1.h) goes through core_peer_ioctl(), which validates the
 * command struct once (the border) and reports errors as negative errno.
 *
 * An engine lives until core_engine_free(), which requires that every peer
 * has been freed. Several engines may live in one process.
 */

#include <linux/types.h>
#include <stdbool.h>
#include "core/host.h"
#include "core/uapi/bus1.h"

struct core_engine;
struct core_peer;

/* Default limits of a user (and of a peer) of an engine. */
#define CORE_DEFAULT_MESSAGES   16384ULL
#define CORE_DEFAULT_BYTES      (256ULL << 20)
#define CORE_DEFAULT_HANDLES    65536ULL
#define CORE_DEFAULT_FDS        4096ULL

/**
 * core_engine_new() - create an engine
 * @out:        the engine, on success
 * @host:       host context; must outlive the engine
 * @user_limits: limits of every user (NULL or 0 fields: defaults)
 * @peer_limits: default limits of a peer (NULL or 0 fields: defaults)
 *
 * Return: 0, or -ENOMEM.
 */
int core_engine_new(struct core_engine **out, struct core_host *host,
                    const struct bus1_limits *user_limits, const struct bus1_limits *peer_limits);

/**
 * core_engine_free() - free an engine (NULL is fine)
 *
 * Every peer must have been freed with core_peer_free() before.
 * Return: NULL.
 */
struct core_engine *core_engine_free(struct core_engine *e);

/**
 * core_peer_create() - BUS1_CMD_PEER_CREATE
 * @e:          engine
 * @arg:        caller address of a struct bus1_cmd_peer_create
 * @out:        the new peer, on success
 *
 * Return: 0, or -EINVAL, -EFAULT, -ENOMEM (see the ABI).
 */
int core_peer_create(struct core_engine *e, __u64 arg, struct core_peer **out);

/**
 * core_peer_free() - disconnect a peer (if still connected) and drop the
 *                    caller's reference (NULL is fine)
 *
 * Commands running on @p in other threads keep it alive until they return
 * (a waiting BUS1_CMD_CALL returns -ESHUTDOWN).
 * Return: NULL.
 */
struct core_peer *core_peer_free(struct core_peer *p);

/* Events of the readiness callback (see core_peer_set_wake()). */
enum {
        CORE_WAKE_READY = 1,    /* a message became ready (or: still is, on a check) */
        CORE_WAKE_IDLE,         /* the last ready message was taken */
        CORE_WAKE_CHECK_IDLE,   /* core_peer_wake_check() found nothing ready */
};

/**
 * core_peer_set_wake() - set the readiness callback of a peer
 * @fn:         called with the peer lock held with CORE_WAKE_READY when the
 *              peer goes from "no message ready" to "a message ready", with
 *              CORE_WAKE_IDLE on the way back, and from core_peer_wake_check();
 *              it must not call into the engine. NULL: none.
 *
 * @fn is called immediately with the current state (READY or CHECK_IDLE).
 */
void core_peer_set_wake(struct core_peer *p, void (*fn)(void *userdata, unsigned int event), void *userdata);

/**
 * core_peer_wake_check() - report the current state to the callback
 *
 * Calls the callback with CORE_WAKE_READY or CORE_WAKE_CHECK_IDLE under the
 * peer lock, so a user that signals lazily (e.g. an eventfd that is written
 * on READY and drained only when a receive finds nothing) cannot lose a
 * wakeup.
 */
void core_peer_wake_check(struct core_peer *p);

/**
 * core_peer_ioctl() - run a command on a peer
 * @p:          the calling peer
 * @cmd:        BUS1_CMD_* (except BUS1_CMD_PEER_CREATE)
 * @arg:        caller address of the command struct (0 for
 *              BUS1_CMD_PEER_DISCONNECT)
 *
 * Return: 0 or a negative errno as documented per command in
 * core/uapi/bus1.h; -ENOTTY for an unknown @cmd.
 */
int core_peer_ioctl(struct core_peer *p, unsigned long cmd, __u64 arg);

/** core_peer_id() - the ID of @p (immutable). */
__u64 core_peer_id(struct core_peer *p);

/** core_engine_host() - the host context of @e. */
struct core_host *core_engine_host(struct core_engine *e);

/**
 * core_engine_set_debug_broken_tiebreak() - deliberately break the order
 *
 * For tests of the order checker only: peers created afterwards with an odd
 * ID sort messages with equal timestamps by descending sender key, which
 * violates the global order whenever two senders commit at one timestamp.
 */
void core_engine_set_debug_broken_tiebreak(struct core_engine *e, bool on);
