#pragma once

/*
 * Helpers of the core tests: thin wrappers around the ABI commands, so a
 * test reads as the sequence of commands it checks. Each returns the
 * command's result (0 or a negative errno).
 */

#include <stdint.h>
#include <string.h>
#include "core/core.h"
#include "core/uapi/bus1.h"

#define U(_p) ((__u64)(uintptr_t)(_p))

struct t_engine {
        struct core_host *host;
        struct core_engine *engine;
};

static inline int t_engine_init(struct t_engine *t, const struct bus1_limits *user_limits)
{
        int r = core_host_new(&t->host);

        if (r)
                return r;
        return core_engine_new(&t->engine, t->host, user_limits, NULL);
}

static inline void t_engine_deinit(struct t_engine *t)
{
        core_engine_free(t->engine);
        core_host_free(t->host);
}

static inline int t_peer_new_limits(struct t_engine *t, __u64 uid, const struct bus1_limits *l,
                                    struct core_peer **out)
{
        __u64 gids[2] = { 100, 200 + uid };
        struct bus1_cmd_peer_create c = {
                .uid = uid, .gid = uid, .pid = 1000 + uid,
                .n_gids = 2, .ptr_gids = U(gids), .n_label = 4, .ptr_label = U("lbl0"),
        };

        if (l)
                c.limits = *l;
        return core_peer_create(t->engine, U(&c), out);
}

static inline struct core_peer *t_peer(struct t_engine *t, __u64 uid)
{
        struct core_peer *p = NULL;

        if (t_peer_new_limits(t, uid, NULL, &p))
                return NULL;
        return p;
}

static inline __u64 t_node(struct core_peer *p)
{
        struct bus1_cmd_node_create c = {};

        if (core_peer_ioctl(p, BUS1_CMD_NODE_CREATE, U(&c)))
                return BUS1_HANDLE_INVALID;
        return c.handle_id;
}

static inline int t_transfer(struct core_peer *src, __u64 id, struct core_peer *dst, __u64 *out)
{
        struct bus1_cmd_handle_transfer c = { .src_id = id, .dst_peer = U(dst) };
        int r = core_peer_ioctl(src, BUS1_CMD_HANDLE_TRANSFER, U(&c));

        if (!r && out)
                *out = c.dst_id;
        return r;
}

static inline int t_release(struct core_peer *p, __u64 id)
{
        struct bus1_cmd_handle_release c = { .handle_id = id };

        return core_peer_ioctl(p, BUS1_CMD_HANDLE_RELEASE, U(&c));
}

static inline int t_destroy(struct core_peer *p, const __u64 *ids, __u64 n)
{
        struct bus1_cmd_nodes_destroy c = { .n_ids = n, .ptr_ids = U(ids) };

        return core_peer_ioctl(p, BUS1_CMD_NODES_DESTROY, U(&c));
}

static inline int t_sendv(struct core_peer *p, const __u64 *dests, __u64 n_dests, __u64 *errors,
                          const void *data, size_t len, const __u64 *handles, __u64 n_handles,
                          const __u64 *fds, __u64 n_fds, __u64 flags)
{
        struct bus1_vec v = { .ptr = U(data), .len = len };
        struct bus1_cmd_send c = {
                .flags = flags, .n_destinations = n_dests, .ptr_destinations = U(dests),
                .ptr_errors = U(errors), .n_vecs = 1, .ptr_vecs = U(&v),
                .n_handles = n_handles, .ptr_handles = U(handles), .n_fds = n_fds, .ptr_fds = U(fds),
        };

        return core_peer_ioctl(p, BUS1_CMD_SEND, U(&c));
}

/* A send with BUS1_SEND_CHARGE (plus @flags) declaring @charge_bytes and @charge_fds. */
static inline int t_send_charge(struct core_peer *p, const __u64 *dests, __u64 n_dests, __u64 *errors,
                                const void *data, size_t len, const __u64 *fds, __u64 n_fds, __u64 flags,
                                __u64 charge_bytes, __u64 charge_fds)
{
        struct bus1_vec v = { .ptr = U(data), .len = len };
        struct bus1_cmd_send c = {
                .flags = flags | BUS1_SEND_CHARGE, .n_destinations = n_dests, .ptr_destinations = U(dests),
                .ptr_errors = U(errors), .n_vecs = 1, .ptr_vecs = U(&v), .n_fds = n_fds, .ptr_fds = U(fds),
                .charge_bytes = charge_bytes, .charge_fds = charge_fds,
        };

        return core_peer_ioctl(p, BUS1_CMD_SEND, U(&c));
}

static inline int t_send(struct core_peer *p, __u64 dest, const void *data, size_t len)
{
        return t_sendv(p, &dest, 1, NULL, data, len, NULL, 0, NULL, 0, 0);
}

struct t_msg {
        struct bus1_cmd_recv cmd;
        char payload[256];
        __u64 handles[16];
        __u64 fds[16];
        __u64 gids[8];
        char label[32];
};

static inline int t_recv_flags(struct core_peer *p, struct t_msg *m, __u64 flags)
{
        memset(m, 0, sizeof(*m));
        m->cmd.flags = flags;
        m->cmd.ptr_payload = U(m->payload);
        m->cmd.n_payload = sizeof(m->payload);
        m->cmd.ptr_handles = U(m->handles);
        m->cmd.n_handles = 16;
        m->cmd.ptr_fds = U(m->fds);
        m->cmd.n_fds = 16;
        m->cmd.ptr_gids = U(m->gids);
        m->cmd.n_gids = 8;
        m->cmd.ptr_label = U(m->label);
        m->cmd.n_label = sizeof(m->label);
        return core_peer_ioctl(p, BUS1_CMD_RECV, U(&m->cmd));
}

static inline int t_recv(struct core_peer *p, struct t_msg *m)
{
        return t_recv_flags(p, m, 0);
}
