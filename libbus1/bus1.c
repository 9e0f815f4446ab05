/*
 * libbus1: the in-process backend
 *
 * A context owns a host context and an engine. A peer wraps an engine peer
 * and an eventfd signalling its readiness (created when first asked for). To keep syscalls off the fast
 * path the eventfd is signalled lazily: written when the queue becomes ready
 * and it is not yet signalled, drained only when a receive finds nothing
 * (then core_peer_wake_check() re-evaluates under the peer lock, so no
 * wakeup is lost). So the fd is readable whenever a message is ready, and
 * may stay readable after the queue drained until a receive returns EAGAIN
 * -- the usual contract of a level-triggered fd drained until EAGAIN.
 * A caller in this process may replace the fd with a callback
 * (bus1_peer_set_wake()); then the eventfd is left alone.
 */

#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "core/core.h"
#include "libbus1/bus1.h"

#define U(_p) ((__u64)(uintptr_t)(_p))

struct bus1_context {
        struct core_host *host;
        struct core_engine *engine;
};

struct bus1_peer {
        bus1_context *ctx;
        struct core_peer *peer;
        int fd;                 /* eventfd, created by the first bus1_peer_get_fd(); -1 before */
        bool signalled;         /* protected by the engine peer's lock (wake callback) */
        void (*wake_fn)(void *userdata);        /* set only while the engine has no callback */
        void *wake_userdata;
        /*
         * With wake_fn: the engine said nothing is ready (IDLE, CHECK_IDLE)
         * and has not said READY since. Written under the engine peer's lock
         * (wake callback), read without it (bus1_peer_is_idle()).
         */
        bool idle;
};

int bus1_context_new_inprocess(bus1_context **out, const struct bus1_limits *user_limits)
{
        bus1_context *ctx;
        int r;

        if (!out)
                return -EINVAL;
        ctx = calloc(1, sizeof(*ctx));
        if (!ctx)
                return -ENOMEM;
        r = core_host_new(&ctx->host);
        if (r) {
                free(ctx);
                return r;
        }
        r = core_engine_new(&ctx->engine, ctx->host, user_limits, NULL);
        if (r) {
                core_host_free(ctx->host);
                free(ctx);
                return r;
        }
        *out = ctx;
        return 0;
}

bus1_context *bus1_context_free(bus1_context *ctx)
{
        if (ctx) {
                core_engine_free(ctx->engine);
                core_host_free(ctx->host);
                free(ctx);
        }
        return NULL;
}

static void bus1_peer_wake(void *userdata, unsigned int event)
{
        bus1_peer *p = userdata;
        uint64_t v = 1;
        int fd;

        if (p->wake_fn) {
                __atomic_store_n(&p->idle, event != CORE_WAKE_READY, __ATOMIC_RELEASE);
                if (event == CORE_WAKE_READY)
                        p->wake_fn(p->wake_userdata);
                return;
        }
        /* bus1_peer_get_fd() may be creating it on another thread right now */
        fd = __atomic_load_n(&p->fd, __ATOMIC_ACQUIRE);
        if (fd < 0)
                return;
        if (event == CORE_WAKE_READY && !p->signalled) {
                (void)!write(fd, &v, sizeof(v));
                p->signalled = true;
        } else if (event == CORE_WAKE_CHECK_IDLE && p->signalled) {
                (void)!read(fd, &v, sizeof(v));
                p->signalled = false;
        }
}

int bus1_peer_new_with_creds(bus1_peer **out, bus1_context *ctx, struct bus1_cmd_peer_create *cmd)
{
        bus1_peer *p;
        int r;

        if (!out || !ctx || !cmd)
                return -EINVAL;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->ctx = ctx;
        p->fd = -1;
        r = core_peer_create(ctx->engine, U(cmd), &p->peer);
        if (r) {
                free(p);
                return r;
        }
        core_peer_set_wake(p->peer, bus1_peer_wake, p);
        *out = p;
        return 0;
}

int bus1_peer_new(bus1_peer **out, bus1_context *ctx)
{
        struct bus1_cmd_peer_create cmd = {
                .uid = getuid(),
                .gid = getgid(),
                .pid = (uint64_t)getpid(),
        };
        gid_t gids[64];
        uint64_t g[64];
        int n, i;

        n = getgroups(64, gids);
        for (i = 0; i < n; ++i)
                g[i] = gids[i];
        if (n > 0) {
                cmd.n_gids = (uint64_t)n;
                cmd.ptr_gids = U(g);
        }
        return bus1_peer_new_with_creds(out, ctx, &cmd);
}

bus1_peer *bus1_peer_free(bus1_peer *peer)
{
        if (peer) {
                core_peer_set_wake(peer->peer, NULL, NULL);
                core_peer_free(peer->peer);
                if (peer->fd >= 0)
                        close(peer->fd);
                free(peer);
        }
        return NULL;
}

int bus1_peer_set_wake(bus1_peer *peer, void (*fn)(void *userdata), void *userdata)
{
        uint64_t v;

        if (!peer)
                return -EINVAL;
        /*
         * Detach the engine's callback while the fields change (it reads them
         * under the peer lock, which core_peer_set_wake() takes), then attach
         * it again: that reports the current state, so a ready queue reaches
         * the new callback or the fd at once.
         */
        core_peer_set_wake(peer->peer, NULL, NULL);
        peer->wake_fn = fn;
        peer->wake_userdata = userdata;
        __atomic_store_n(&peer->idle, false, __ATOMIC_RELEASE);
        if (fn && peer->signalled && peer->fd >= 0) {
                (void)!read(peer->fd, &v, sizeof(v));
                peer->signalled = false;
        }
        core_peer_set_wake(peer->peer, bus1_peer_wake, peer);
        return 0;
}

bool bus1_peer_is_idle(bus1_peer *peer)
{
        return peer && __atomic_load_n(&peer->idle, __ATOMIC_ACQUIRE);
}

int bus1_peer_get_fd(bus1_peer *peer)
{
        int fd, expected = -1;

        if (!peer)
                return -EINVAL;
        fd = __atomic_load_n(&peer->fd, __ATOMIC_ACQUIRE);
        if (fd >= 0)
                return fd;

        /*
         * Created on first use: a peer that is only driven by a wake
         * callback (the broker's) never costs an fd. Two threads may race
         * here; one eventfd wins. Re-attaching the engine's callback then
         * reports the current state, so a message already ready signals it.
         */
        fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd < 0)
                return errno == ENOMEM ? -ENOMEM : -EMFILE;
        if (!__atomic_compare_exchange_n(&peer->fd, &expected, fd, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                close(fd);
                return expected;
        }
        core_peer_set_wake(peer->peer, NULL, NULL);
        core_peer_set_wake(peer->peer, bus1_peer_wake, peer);
        return fd;
}

uint64_t bus1_peer_get_id(bus1_peer *peer)
{
        return peer ? core_peer_id(peer->peer) : 0;
}

int bus1_peer_ioctl(bus1_peer *peer, unsigned long cmd, void *arg)
{
        if (!peer || cmd == BUS1_CMD_PEER_CREATE)
                return -EINVAL;
        if (!arg && cmd != BUS1_CMD_PEER_DISCONNECT)
                return -EINVAL;
        if (cmd == BUS1_CMD_HANDLE_TRANSFER) {
                struct bus1_cmd_handle_transfer c = *(struct bus1_cmd_handle_transfer *)arg;
                bus1_peer *dst = (bus1_peer *)(uintptr_t)c.dst_peer;
                int r;

                if (!dst)
                        return -EBADF;
                if (dst->ctx != peer->ctx)
                        return -EINVAL;
                c.dst_peer = U(dst->peer);
                r = core_peer_ioctl(peer->peer, cmd, U(&c));
                if (!r)
                        ((struct bus1_cmd_handle_transfer *)arg)->dst_id = c.dst_id;
                return r;
        }
        return core_peer_ioctl(peer->peer, cmd, U(arg));
}

int bus1_node_new(bus1_peer *peer, uint64_t *id_out)
{
        struct bus1_cmd_node_create c = {};
        int r;

        if (!peer || !id_out)
                return -EINVAL;
        r = core_peer_ioctl(peer->peer, BUS1_CMD_NODE_CREATE, U(&c));
        if (!r)
                *id_out = c.handle_id;
        return r;
}

int bus1_handle_transfer(bus1_peer *src, uint64_t id, bus1_peer *dst, uint64_t *dst_id_out)
{
        struct bus1_cmd_handle_transfer c = { .src_id = id, .dst_peer = U(dst) };
        int r;

        if (!src || !dst || !dst_id_out)
                return -EINVAL;
        r = bus1_peer_ioctl(src, BUS1_CMD_HANDLE_TRANSFER, &c);
        if (!r)
                *dst_id_out = c.dst_id;
        return r;
}

int bus1_handle_release(bus1_peer *peer, uint64_t id)
{
        struct bus1_cmd_handle_release c = { .handle_id = id };

        if (!peer)
                return -EINVAL;
        return core_peer_ioctl(peer->peer, BUS1_CMD_HANDLE_RELEASE, U(&c));
}

int bus1_nodes_destroy(bus1_peer *peer, const uint64_t *ids, size_t n_ids)
{
        struct bus1_cmd_nodes_destroy c = { .n_ids = n_ids, .ptr_ids = U(ids) };

        if (!peer || (n_ids && !ids))
                return -EINVAL;
        return core_peer_ioctl(peer->peer, BUS1_CMD_NODES_DESTROY, U(&c));
}

int bus1_send(bus1_peer *peer, const uint64_t *dests, size_t n_dests, uint64_t *errors,
              const struct bus1_vec *vecs, size_t n_vecs, const uint64_t *handles, size_t n_handles,
              const int *fds, size_t n_fds, uint64_t flags)
{
        struct bus1_cmd_send c = {
                .flags = flags, .n_destinations = n_dests, .ptr_destinations = U(dests),
                .ptr_errors = U(errors), .n_vecs = n_vecs, .ptr_vecs = U(vecs),
                .n_handles = n_handles, .ptr_handles = U(handles), .n_fds = n_fds,
        };
        uint64_t fdv[BUS1_FD_MAX];
        size_t i;

        if (!peer || !dests || !n_dests || (n_vecs && !vecs) || (n_handles && !handles) ||
            (n_fds && !fds) || n_fds > BUS1_FD_MAX)
                return -EINVAL;
        for (i = 0; i < n_fds; ++i) {
                if (fds[i] < 0)
                        return -EBADF;
                fdv[i] = (uint64_t)fds[i];
        }
        c.ptr_fds = U(fdv);
        return core_peer_ioctl(peer->peer, BUS1_CMD_SEND, U(&c));
}

int bus1_recv(bus1_peer *peer, struct bus1_cmd_recv *cmd)
{
        int r;

        if (!peer || !cmd)
                return -EINVAL;
        r = core_peer_ioctl(peer->peer, BUS1_CMD_RECV, U(cmd));
        if (r == -EAGAIN)
                core_peer_wake_check(peer->peer);
        return r;
}

int bus1_call(bus1_peer *peer, struct bus1_cmd_call *cmd)
{
        if (!peer || !cmd)
                return -EINVAL;
        return core_peer_ioctl(peer->peer, BUS1_CMD_CALL, U(cmd));
}
