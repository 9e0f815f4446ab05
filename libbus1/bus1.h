#pragma once

/*
 * libbus1 - client library of the bus1 capability IPC system
 *
 * A context is a connection to one bus1 engine (today: the in-process
 * backend, an engine living in the caller's process; the socket and
 * /dev/bus1 backends will be further constructors with the same API). A peer
 * is an endpoint on that engine; the commands and their semantics are those
 * of the ABI in core/uapi/bus1.h, whose structs this library uses unchanged.
 *
 * Every function checks its arguments and returns 0 or a negative errno; it
 * never aborts the caller. Objects are not reference counted by the
 * library: the caller frees each peer before its context. Commands on one
 * peer may be issued from several threads at once.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "core/uapi/bus1.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bus1_context bus1_context;
typedef struct bus1_peer bus1_peer;

/**
 * bus1_context_new_inprocess() - create an engine in this process
 * @out:        the new context, on success
 * @user_limits: quota limits of every user (NULL or 0 fields: defaults)
 *
 * Return: 0, -EINVAL (@out is NULL), -ENOMEM.
 */
int bus1_context_new_inprocess(bus1_context **out, const struct bus1_limits *user_limits);

/**
 * bus1_context_free() - free a context (NULL is fine)
 *
 * Every peer of the context must have been freed.
 * Return: NULL.
 */
bus1_context *bus1_context_free(bus1_context *ctx);

/**
 * bus1_peer_new() - create a peer with the credentials of this process
 * @out:        the new peer, on success
 * @ctx:        its context
 *
 * Return: 0, -EINVAL (a NULL argument), -ENOMEM.
 */
int bus1_peer_new(bus1_peer **out, bus1_context *ctx);

/**
 * bus1_peer_new_with_creds() - create a peer with explicit credentials
 * @out:        the new peer, on success
 * @ctx:        its context
 * @cmd:        credentials and limits (see struct bus1_cmd_peer_create);
 *              @cmd->peer_id is set on success
 *
 * In-process, the caller is trusted to state credentials (the broker uses
 * it for the peers of its clients).
 *
 * Return: 0, -EINVAL (NULL argument, or as BUS1_CMD_PEER_CREATE), -EFAULT,
 * -ENOMEM.
 */
int bus1_peer_new_with_creds(bus1_peer **out, bus1_context *ctx, struct bus1_cmd_peer_create *cmd);

/**
 * bus1_peer_free() - disconnect and free a peer (NULL is fine)
 *
 * Its nodes are destroyed (holders are notified), its handles released, its
 * queue dropped, its fd closed. No other thread may be using @peer (to stop
 * a thread blocked in bus1_call(), disconnect the peer with
 * bus1_peer_ioctl(peer, BUS1_CMD_PEER_DISCONNECT, NULL) first: the call
 * returns -ESHUTDOWN).
 * Return: NULL.
 */
bus1_peer *bus1_peer_free(bus1_peer *peer);

/**
 * bus1_peer_get_fd() - the pollable fd of a peer
 *
 * The fd is readable (POLLIN) whenever a message is ready to be received.
 * After the queue drained it may stay readable until bus1_recv() returns
 * -EAGAIN (which resets it): drain the peer until -EAGAIN on every wakeup.
 * It belongs to the peer: do not close it and do not read from it. The
 * fd is created by the first call (a peer driven only by a wake callback,
 * see bus1_peer_set_wake(), never has one); later calls return the same fd.
 * Return: the fd (>= 0), -EINVAL (@peer is NULL), or, from the first call,
 * -EMFILE or -ENOMEM (no fd could be created; a later call tries again).
 */
int bus1_peer_get_fd(bus1_peer *peer);

/**
 * bus1_peer_set_wake() - be called, instead of the fd, when a message is ready
 * @peer:       the peer
 * @fn:         the callback, or NULL to go back to the fd
 * @userdata:   passed to @fn
 *
 * For a caller that runs its own event loop in the process of an in-process
 * context (a broker: it sends to its peers and writes their queues out in
 * the same thread). @fn runs when the peer goes from "nothing ready" to "a
 * message ready", inside the bus1 command that made it ready (on the thread
 * that issued it), with the peer's internal lock held: it must not call any
 * bus1 function, and should only note that @peer wants draining. It also
 * runs once from this call if a message is ready now. While a callback is
 * set the fd of bus1_peer_get_fd() is never signalled, which saves the
 * eventfd write, the poll wakeup and the drain of every delivery. The
 * callback is not re-armed while messages stay ready: the caller drains
 * until bus1_recv() returns -EAGAIN, or remembers itself that it stopped
 * early. With @fn NULL the fd is signalled again (and at once if a message
 * is ready).
 *
 * Return: 0, -EINVAL (@peer is NULL), -EOPNOTSUPP (a backend whose engine
 * lives in another process; none exists yet).
 */
int bus1_peer_set_wake(bus1_peer *peer, void (*fn)(void *userdata), void *userdata);

/**
 * bus1_peer_is_idle() - whether a peer with a wake callback has nothing ready
 * @peer:       the peer
 *
 * With a callback set (bus1_peer_set_wake()), the engine tells the peer when
 * its last ready message was taken; this returns what it said last, without
 * a command or a lock. A caller that drains the queue can stop when it is
 * true instead of calling bus1_recv() once more for -EAGAIN: a message that
 * becomes ready afterwards runs the callback again. Without a callback the
 * state is not tracked and the answer is false (try bus1_recv()).
 *
 * Return: true if nothing is ready; false if something is, or if unknown.
 */
bool bus1_peer_is_idle(bus1_peer *peer);

/**
 * bus1_peer_get_id() - the engine-wide ID of a peer
 *
 * Return: the ID (> 0), or 0 if @peer is NULL.
 */
uint64_t bus1_peer_get_id(bus1_peer *peer);

/**
 * bus1_peer_ioctl() - run any ABI command on a peer
 * @peer:       the calling peer
 * @cmd:        BUS1_CMD_* other than BUS1_CMD_PEER_CREATE
 * @arg:        the command struct (NULL only for BUS1_CMD_PEER_DISCONNECT)
 *
 * For BUS1_CMD_HANDLE_TRANSFER, dst_peer is a bus1_peer pointer of the same
 * context, cast to uint64_t (bus1_handle_transfer() does that for you).
 *
 * Return: 0 or the negative errno documented for @cmd in core/uapi/bus1.h;
 * -EINVAL for a NULL @peer or @arg, -ENOTTY for an unknown @cmd.
 */
int bus1_peer_ioctl(bus1_peer *peer, unsigned long cmd, void *arg);

/**
 * bus1_node_new() - create a node owned by @peer
 * @id_out:     the owner handle ID
 *
 * Return: 0, -EINVAL, -ENOMEM, -ESHUTDOWN.
 */
int bus1_node_new(bus1_peer *peer, uint64_t *id_out);

/**
 * bus1_handle_transfer() - give @dst a handle to the node of @src's handle @id
 * @dst_id_out: @dst's handle ID (coalesced)
 *
 * Return: 0, -EINVAL (NULL argument, or peers of different contexts),
 * -ENXIO, -EHOSTUNREACH, -ESHUTDOWN, -ENOMEM.
 */
int bus1_handle_transfer(bus1_peer *src, uint64_t id, bus1_peer *dst, uint64_t *dst_id_out);

/**
 * bus1_handle_release() - drop one reference of handle @id
 *
 * Return: 0, -EINVAL, -ENXIO, -EBUSY (owner handle of a live node), -ESHUTDOWN.
 */
int bus1_handle_release(bus1_peer *peer, uint64_t id);

/**
 * bus1_nodes_destroy() - destroy @n_ids nodes (owner handle IDs) atomically
 *
 * Return: 0, -EINVAL, -ENXIO, -EPERM, -EHOSTUNREACH, -ESHUTDOWN, -ENOMEM.
 */
int bus1_nodes_destroy(bus1_peer *peer, const uint64_t *ids, size_t n_ids);

/**
 * bus1_send() - send one message to @n_dests destinations
 * @dests:      destination handle IDs
 * @errors:     NULL, or @n_dests entries receiving 0 or a positive errno
 * @vecs:       payload segments (NULL if @n_vecs is 0)
 * @handles:    handle IDs to pass (NULL if @n_handles is 0)
 * @fds:        fds to pass (NULL if @n_fds is 0)
 * @flags:      BUS1_SEND_CONTINUE, BUS1_SEND_CHARGE, or 0
 *
 * This call has no charge fields, so BUS1_SEND_CHARGE here declares nothing
 * beyond the payload; a sender that declares a charge fills a struct
 * bus1_cmd_send (charge_bytes, charge_fds; fds as __u64) and issues it with
 * bus1_peer_ioctl(peer, BUS1_CMD_SEND, &cmd).
 *
 * Return: as BUS1_CMD_SEND: 0, -EINVAL, -EFAULT, -EBADF, -ENXIO,
 * -EHOSTUNREACH, -EDQUOT, -ENOMEM, -ESHUTDOWN.
 */
int bus1_send(bus1_peer *peer, const uint64_t *dests, size_t n_dests, uint64_t *errors,
              const struct bus1_vec *vecs, size_t n_vecs, const uint64_t *handles, size_t n_handles,
              const int *fds, size_t n_fds, uint64_t flags);

/**
 * bus1_recv() - receive the next message into the buffers of @cmd
 *
 * See struct bus1_cmd_recv. Return: 0, -EINVAL, -EFAULT, -EAGAIN,
 * -EMSGSIZE (sizes written to @cmd, message kept), -EMFILE, -ESHUTDOWN.
 */
int bus1_recv(bus1_peer *peer, struct bus1_cmd_recv *cmd);

/**
 * bus1_call() - send a request and wait for its reply (struct bus1_cmd_call)
 *
 * Return: 0, the errors of bus1_send(), -ETIMEDOUT, -EPIPE, -EMSGSIZE.
 */
int bus1_call(bus1_peer *peer, struct bus1_cmd_call *cmd);

#ifdef __cplusplus
}
#endif
