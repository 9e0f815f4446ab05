#pragma once

/*
 * bus1 ABI
 *
 * The command set of the bus1 capability IPC engine. The same structs are
 * used by every transport: the in-process engine (core/), the socket server,
 * the CUSE daemon and a kernel module (as ioctls on /dev/bus1).
 *
 * Conventions:
 *  - every struct has a fixed size, a multiple of 8 bytes, no implicit padding;
 *  - every field is a __u64 (or an array of them); pointers travel as __u64;
 *  - every command struct starts with `flags`; unknown flag bits and every
 *    field named `reserved*` must be zero, or the command fails with EINVAL;
 *  - fields marked [in] are read, [out] are written only when the command
 *    succeeds (or, where stated, when it fails with EMSGSIZE);
 *  - a handle ID names a handle in the table of the calling peer. IDs are
 *    allocated by the engine, are never 0 nor BUS1_HANDLE_INVALID, and are
 *    never reused while the peer lives (a reset does not reset the counter).
 *
 * Objects:
 *  - peer: an endpoint with a receive queue and credentials;
 *  - node: an object owned by one peer; created together with the owner's
 *    handle to it (the "owner handle");
 *  - handle: a capability to send to a node. Handles of one peer to one
 *    node are coalesced into one ID that counts its references.
 *
 * Errors common to all commands (not repeated below):
 *   EINVAL    a flag or reserved field is non-zero, a count is too large;
 *   EFAULT    a pointer given by the caller cannot be read or written;
 *   ENOMEM    the engine ran out of memory; nothing changed;
 *   ESHUTDOWN the calling peer is disconnected.
 */

#include <linux/ioctl.h>
#include <linux/types.h>

#define BUS1_HANDLE_INVALID ((__u64)-1)

/* Upper bounds of every count in a command (EINVAL when exceeded). */
#define BUS1_VEC_MAX            512
#define BUS1_DESTINATION_MAX    4096
#define BUS1_HANDLE_MAX         1024
#define BUS1_FD_MAX             253
#define BUS1_GID_MAX            65536
#define BUS1_LABEL_MAX          4096
#define BUS1_PAYLOAD_MAX        (128ULL << 20)

/**
 * struct bus1_limits - quota limits of a peer
 * @messages:   messages queued on the peer
 * @bytes:      payload bytes queued on the peer
 * @handles:    handles carried by messages queued on the peer
 * @fds:        fds carried by messages queued on the peer
 *
 * A field of 0 means "the engine default". The limits of a user are those of
 * the engine (configured when the engine is created); the limit of a peer
 * caps what may be queued on that one peer on top of the user-level rules
 * described in doc/core-quota.md.
 */
struct bus1_limits {
        __u64 messages;
        __u64 bytes;
        __u64 handles;
        __u64 fds;
};

/**
 * struct bus1_vec - one payload segment
 * @ptr:        address of the segment
 * @len:        length in bytes
 */
struct bus1_vec {
        __u64 ptr;
        __u64 len;
};

/**
 * struct bus1_cmd_peer_create - create a peer (BUS1_CMD_PEER_CREATE)
 * @flags:      [in] 0
 * @uid:        [in] user ID; the peer's quota is accounted to this user
 * @gid:        [in] primary group ID
 * @pid:        [in] process ID
 * @n_gids:     [in] number of supplementary groups at @ptr_gids (__u64 each)
 * @ptr_gids:   [in] supplementary groups
 * @n_label:    [in] size of the security label at @ptr_label (may be 0)
 * @ptr_label:  [in] security label (bytes, not necessarily terminated)
 * @limits:     [in] per-peer limits (0 fields: engine defaults)
 * @peer_id:    [out] engine-wide unique, never reused ID of the peer
 * @reserved:   [in] 0
 *
 * The credentials are captured once and delivered with every message the
 * peer sends. In-process the creator supplies them (it is trusted); the
 * kernel and socket transports fill them from the opener.
 *
 * Errors: EINVAL (also n_gids > BUS1_GID_MAX, n_label > BUS1_LABEL_MAX,
 * uid/gid/pid not representable in 32 bits), EFAULT, ENOMEM.
 */
struct bus1_cmd_peer_create {
        __u64 flags;
        __u64 uid;
        __u64 gid;
        __u64 pid;
        __u64 n_gids;
        __u64 ptr_gids;
        __u64 n_label;
        __u64 ptr_label;
        struct bus1_limits limits;
        __u64 peer_id;
        __u64 reserved;
};

/**
 * struct bus1_cmd_peer_query - describe the calling peer (BUS1_CMD_PEER_QUERY)
 * @flags:      [in] 0
 * @peer_id:    [out] peer ID
 * @limits:     [out] effective per-peer limits
 * @n_queued:   [out] messages on the queue (committed or staged)
 * @n_handles:  [out] entries in the handle table (including owner handles)
 * @n_nodes:    [out] live nodes owned by the peer
 * @reserved:   [in] 0
 *
 * Errors: EINVAL, ESHUTDOWN.
 */
struct bus1_cmd_peer_query {
        __u64 flags;
        __u64 peer_id;
        struct bus1_limits limits;
        __u64 n_queued;
        __u64 n_handles;
        __u64 n_nodes;
        __u64 reserved;
};

/* Also replace the per-peer limits with @limits. */
#define BUS1_PEER_RESET_LIMITS  (1ULL << 0)

/**
 * struct bus1_cmd_peer_reset - reset the calling peer (BUS1_CMD_PEER_RESET)
 * @flags:      [in] BUS1_PEER_RESET_LIMITS or 0
 * @limits:     [in] new limits (with BUS1_PEER_RESET_LIMITS)
 * @reserved:   [in] 0
 *
 * Destroys every node of the peer (holders are notified), releases every
 * handle it holds (owners are notified where it was the last one) and drops
 * every committed message on its queue, as one step. The peer stays
 * connected and keeps its ID counter: IDs handed out before the reset are
 * never handed out again.
 *
 * Errors: EINVAL, ESHUTDOWN.
 */
struct bus1_cmd_peer_reset {
        __u64 flags;
        struct bus1_limits limits;
        __u64 reserved;
};

/*
 * BUS1_CMD_PEER_DISCONNECT takes no argument: it does what a reset does and
 * then marks the peer disconnected; every later command on it fails with
 * ESHUTDOWN, and messages sent to its nodes fail with EHOSTUNREACH.
 * Errors: ESHUTDOWN (already disconnected).
 */

/**
 * struct bus1_cmd_node_create - create a node (BUS1_CMD_NODE_CREATE)
 * @flags:      [in] 0
 * @handle_id:  [out] ID of the owner handle of the new node
 * @reserved:   [in] 0
 *
 * Errors: EINVAL, ENOMEM, ESHUTDOWN.
 */
struct bus1_cmd_node_create {
        __u64 flags;
        __u64 handle_id;
        __u64 reserved;
};

/**
 * struct bus1_cmd_handle_transfer - copy a handle into another peer
 *                                   (BUS1_CMD_HANDLE_TRANSFER)
 * @flags:      [in] 0
 * @src_id:     [in] handle ID in the calling peer
 * @dst_peer:   [in] the destination peer: an fd of it (kernel, socket), or
 *              the peer object (in-process); the caller must hold both
 * @dst_id:     [out] ID of the handle in the destination peer (coalesced
 *              with an existing handle to the same node)
 * @reserved:   [in] 0
 *
 * The bootstrap path: a process holding two peers hands a capability from
 * one to the other without a message. The transfer is ordered after
 * everything either peer has received (doc/core-order.md); a node destroyed
 * before that position gives EHOSTUNREACH.
 *
 * Errors: EINVAL, ENXIO (no handle @src_id), EBADF (@dst_peer does not name a
 * peer), EHOSTUNREACH (the node is destroyed), ESHUTDOWN (either peer is
 * disconnected), ENOMEM.
 */
struct bus1_cmd_handle_transfer {
        __u64 flags;
        __u64 src_id;
        __u64 dst_peer;
        __u64 dst_id;
        __u64 reserved;
};

/**
 * struct bus1_cmd_handle_release - drop one reference of a handle
 *                                  (BUS1_CMD_HANDLE_RELEASE)
 * @flags:      [in] 0
 * @handle_id:  [in] handle ID
 * @reserved:   [in] 0
 *
 * A handle received N times (coalesced) must be released N times. When the
 * last handle of any peer other than the owner goes (handles travelling in
 * queued messages count as held until received or dropped), the owner
 * receives BUS1_MSG_NODE_RELEASE (unless the node is destroyed). A handle to
 * one's own node received in a message is reported as the owner handle and
 * adds no reference. The owner handle can
 * be released only once its node is destroyed.
 *
 * Errors: EINVAL, ENXIO (no handle @handle_id), EBUSY (owner handle of a
 * live node), ESHUTDOWN.
 */
struct bus1_cmd_handle_release {
        __u64 flags;
        __u64 handle_id;
        __u64 reserved;
};

/**
 * struct bus1_cmd_nodes_destroy - destroy nodes (BUS1_CMD_NODES_DESTROY)
 * @flags:      [in] 0
 * @n_ids:      [in] number of owner handle IDs at @ptr_ids
 * @ptr_ids:    [in] owner handle IDs (__u64 each) of the nodes to destroy
 * @reserved:   [in] 0
 *
 * All nodes are destroyed in one transaction: it takes one position in the
 * global order, every holder of a handle to any of them (and the owner) gets
 * one BUS1_MSG_NODE_DESTROY per node at that position, messages to the nodes
 * ordered after it are dropped, and handles to them carried by messages
 * ordered after it arrive as BUS1_HANDLE_INVALID. Either all IDs are valid
 * and all nodes are destroyed, or nothing changes.
 *
 * Errors: EINVAL (also n_ids > BUS1_HANDLE_MAX or an ID listed twice),
 * ENXIO (an ID is not a handle of the caller), EPERM (a handle is not an
 * owner handle), EHOSTUNREACH (a node is already destroyed), ESHUTDOWN.
 */
struct bus1_cmd_nodes_destroy {
        __u64 flags;
        __u64 n_ids;
        __u64 ptr_ids;
        __u64 reserved;
};

/* Deliver to the destinations that accept the message; report the others. */
#define BUS1_SEND_CONTINUE      (1ULL << 0)
/* Charge each destination at least @charge_bytes and @charge_fds (see below). */
#define BUS1_SEND_CHARGE        (1ULL << 1)

/**
 * struct bus1_cmd_send - send a message (BUS1_CMD_SEND)
 * @flags:              [in] BUS1_SEND_CONTINUE, BUS1_SEND_CHARGE, or 0
 * @n_destinations:     [in] number of handle IDs at @ptr_destinations
 * @ptr_destinations:   [in] destination handle IDs (__u64 each)
 * @ptr_errors:         [in] 0, or an array of @n_destinations __u64 that
 *                      receives a positive errno or 0 per destination
 * @n_vecs:             [in] number of struct bus1_vec at @ptr_vecs
 * @ptr_vecs:           [in] payload segments, concatenated
 * @n_handles:          [in] number of handle IDs at @ptr_handles
 * @ptr_handles:        [in] handles to pass (__u64 IDs of the caller);
 *                      each destination gets its own handle IDs
 * @n_fds:              [in] number of fds at @ptr_fds
 * @ptr_fds:            [in] fds to pass (__u64 each)
 * @charge_bytes:       [in] with BUS1_SEND_CHARGE: bytes to charge each
 *                      destination if more than the payload (at most
 *                      BUS1_PAYLOAD_MAX); otherwise 0
 * @charge_fds:         [in] with BUS1_SEND_CHARGE: fds to charge each
 *                      destination if more than @n_fds (at most
 *                      BUS1_FD_MAX); otherwise 0
 * @reserved:           [in] 0
 *
 * One command for unicast and multicast. The message gets one position in
 * the global order, the same for every destination. Without
 * BUS1_SEND_CONTINUE the send is all-or-nothing: if any destination fails,
 * no destination gets the message, @ptr_errors names the failing one and its
 * errno is returned. With BUS1_SEND_CONTINUE every destination that can take
 * it gets the whole message; the others are reported in @ptr_errors and the
 * command returns 0.
 *
 * Each destination is charged 1 message, the payload size in bytes, the
 * handles passed (and the reply handle of a call) and @n_fds fds
 * (doc/core-quota.md). With BUS1_SEND_CHARGE it is charged
 * max(payload size, @charge_bytes) bytes and max(@n_fds, @charge_fds) fds
 * instead: a sender whose payload stands for something bigger (a broker
 * passing a reference to a message it keeps, with the fds that travel
 * beside it) declares what the message really costs the receiver, so the
 * quota counts that. The flag needs no privilege: a sender can only charge
 * more than its payload, never less, and every charge falls on the sending
 * user's own shares of the receiver, so inflating it only uses up that
 * user's room, which it could do as well by sending bigger payloads.
 *
 * Per-destination errors: ENXIO (no such handle), EHOSTUNREACH (the node is
 * destroyed or its owner disconnected), EDQUOT (the destination's quota
 * refuses the message, see doc/core-quota.md), ENOMEM.
 * Command errors: EINVAL (also a count above its BUS1_*_MAX, payload above
 * BUS1_PAYLOAD_MAX, 0 destinations, a charge field non-zero without
 * BUS1_SEND_CHARGE, @charge_bytes above BUS1_PAYLOAD_MAX or @charge_fds above
 * BUS1_FD_MAX), EFAULT, EBADF (an fd to pass is not
 * open), ENXIO (a handle to pass does not exist), ENOMEM, ESHUTDOWN.
 */
struct bus1_cmd_send {
        __u64 flags;
        __u64 n_destinations;
        __u64 ptr_destinations;
        __u64 ptr_errors;
        __u64 n_vecs;
        __u64 ptr_vecs;
        __u64 n_handles;
        __u64 ptr_handles;
        __u64 n_fds;
        __u64 ptr_fds;
        __u64 charge_bytes;
        __u64 charge_fds;
        __u64 reserved;
};

/* Message types (struct bus1_cmd_recv.type). */
enum {
        BUS1_MSG_NONE           = 0,
        BUS1_MSG_DATA           = 1,    /* sent by BUS1_CMD_SEND / CALL */
        BUS1_MSG_NODE_DESTROY   = 2,    /* a node the receiver holds (or owns) was destroyed */
        BUS1_MSG_NODE_RELEASE   = 3,    /* the last non-owner handle of an owned node went */
};

/* Copy the next message but leave it queued (no handles or fds are passed). */
#define BUS1_RECV_PEEK          (1ULL << 0)

/**
 * struct bus1_cmd_recv - receive the next message (BUS1_CMD_RECV)
 * @flags:      [in] BUS1_RECV_PEEK or 0
 * @ptr_payload: [in] buffer for the payload
 * @n_payload:  [in] its size; [out] payload size of the message
 * @ptr_handles: [in] buffer for handle IDs (__u64 each)
 * @n_handles:  [in] its capacity; [out] number of handles of the message
 * @ptr_fds:    [in] buffer for fds (__u64 each)
 * @n_fds:      [in] its capacity; [out] number of fds of the message
 * @ptr_gids:   [in] buffer for the sender's supplementary groups (__u64)
 * @n_gids:     [in] its capacity; [out] number of groups
 * @ptr_label:  [in] buffer for the sender's security label
 * @n_label:    [in] its size; [out] size of the label
 * @type:       [out] BUS1_MSG_*
 * @destination: [out] the receiver's handle ID of the node the message is
 *              about: the destination node (DATA, NODE_RELEASE: the owner
 *              handle; NODE_DESTROY: the receiver's handle to the node)
 * @reply_handle: [out] for a message sent by BUS1_CMD_CALL, the one-shot
 *              handle to send the reply to (it is released by the first send
 *              through it); otherwise BUS1_HANDLE_INVALID
 * @uid, @gid, @pid: [out] credentials of the sender (of the peer whose action
 *              caused a notification)
 * @timestamp:  [out] position of the message in the global order
 * @reserved:   [in] 0
 *
 * Copies the first message of the queue into the buffers and dequeues it;
 * received handles are installed in the receiver's table (coalesced; a handle
 * to a node destroyed before the message is BUS1_HANDLE_INVALID), received fds
 * are installed in the receiver. @ptr_gids and @ptr_label may be 0: then the
 * groups and label are not copied (their sizes are still reported). If any
 * buffer is too small, the command fails
 * with EMSGSIZE, writes every [out] size field, and the message stays queued.
 *
 * Errors: EINVAL, EFAULT (a buffer cannot be written; if this happens while
 * writing the handle IDs or this struct, after the message was dequeued, the
 * message is consumed), EAGAIN (no message ready), EMSGSIZE, EMFILE (fds
 * cannot be installed; the message stays queued), ENOMEM (no buffer for the
 * handle IDs; nothing dequeued), ESHUTDOWN.
 */
struct bus1_cmd_recv {
        __u64 flags;
        __u64 ptr_payload;
        __u64 n_payload;
        __u64 ptr_handles;
        __u64 n_handles;
        __u64 ptr_fds;
        __u64 n_fds;
        __u64 ptr_gids;
        __u64 n_gids;
        __u64 ptr_label;
        __u64 n_label;
        __u64 type;
        __u64 destination;
        __u64 reply_handle;
        __u64 uid;
        __u64 gid;
        __u64 pid;
        __u64 timestamp;
        __u64 reserved;
};

/**
 * struct bus1_cmd_call - send a request and wait for its reply (BUS1_CMD_CALL)
 * @flags:      [in] 0
 * @timeout_ns: [in] relative timeout in nanoseconds; 0 waits forever
 * @send:       [in] the request; exactly one destination; its flags must be
 *              0 or BUS1_SEND_CHARGE
 * @recv:       [in/out] receives the reply as BUS1_CMD_RECV does
 * @reserved:   [in] 0
 *
 * Creates a one-shot reply node, sends the request with a handle to it
 * (reported to the receiver in bus1_cmd_recv.reply_handle), and blocks until
 * a message arrives on the reply node. The reply is handed to the caller
 * directly: it is ordered with respect to the request, not with the rest of
 * the caller's queue (other messages stay queued). The reply node is
 * destroyed when the command returns.
 *
 * Errors: those of BUS1_CMD_SEND (for the request); ETIMEDOUT (no reply in
 * time; the replier sees the reply handle destroyed); EPIPE (the receiver
 * released the reply handle or disconnected without replying); EMSGSIZE (the
 * reply does not fit; it is dropped, the sizes are reported); EINTR is never
 * returned by the in-process engine.
 */
struct bus1_cmd_call {
        __u64 flags;
        __u64 timeout_ns;
        struct bus1_cmd_send send;
        struct bus1_cmd_recv recv;
        __u64 reserved;
};

#define BUS1_IOCTL_MAGIC 0x96
#define BUS1_CMD_PEER_CREATE     _IOWR(BUS1_IOCTL_MAGIC, 0x00, struct bus1_cmd_peer_create)
#define BUS1_CMD_PEER_QUERY      _IOWR(BUS1_IOCTL_MAGIC, 0x01, struct bus1_cmd_peer_query)
#define BUS1_CMD_PEER_RESET      _IOWR(BUS1_IOCTL_MAGIC, 0x02, struct bus1_cmd_peer_reset)
#define BUS1_CMD_PEER_DISCONNECT _IO(BUS1_IOCTL_MAGIC, 0x03)
#define BUS1_CMD_NODE_CREATE     _IOWR(BUS1_IOCTL_MAGIC, 0x10, struct bus1_cmd_node_create)
#define BUS1_CMD_HANDLE_TRANSFER _IOWR(BUS1_IOCTL_MAGIC, 0x11, struct bus1_cmd_handle_transfer)
#define BUS1_CMD_HANDLE_RELEASE  _IOWR(BUS1_IOCTL_MAGIC, 0x12, struct bus1_cmd_handle_release)
#define BUS1_CMD_NODES_DESTROY   _IOWR(BUS1_IOCTL_MAGIC, 0x13, struct bus1_cmd_nodes_destroy)
#define BUS1_CMD_SEND            _IOWR(BUS1_IOCTL_MAGIC, 0x20, struct bus1_cmd_send)
#define BUS1_CMD_RECV            _IOWR(BUS1_IOCTL_MAGIC, 0x21, struct bus1_cmd_recv)
#define BUS1_CMD_CALL            _IOWR(BUS1_IOCTL_MAGIC, 0x22, struct bus1_cmd_call)
