/*
 * A client connection of the broker: socket I/O, SASL, the Hello handshake
 * and the writer that drains the connection's core peer. See connection.h.
 */

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "dbus-proxy/broker.h"
#include "dbus-proxy/connection.h"
#include "dbus-proxy/message.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/log.h"

/*
 * Messages written per wakeup, and reads of CONNECTION_READ_CHUNK bytes per
 * wakeup (fairness between clients: a client with more to send waits for
 * the next round of the loop); everything read is parsed and dispatched at
 * once, so no complete message waits in the buffer for a wakeup that never
 * comes.
 */
#define CONNECTION_BATCH 64
#define CONNECTION_READS 1
#define CONNECTION_READ_CHUNK BROKER_READ_BUF
#define CONNECTION_STEAL_MIN (64 * 1024)        /* messages this large are not copied */
#define CONNECTION_SNDBUF (1024 * 1024)         /* socket send buffer (the kernel doubles it) */

static bool connection_no_peersec;     /* SO_PEERSEC gave ENOPROTOOPT: no LSM labels sockets */

static void connection_read_creds(struct connection *c)
{
        struct ucred ucred;
        socklen_t n = sizeof(ucred);
        gid_t gids[64];
        char label[4096];

        c->uid = (uid_t)-1;
        c->gid = (gid_t)-1;
        c->pid = 0;
        if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &ucred, &n) == 0) {
                c->uid = ucred.uid;
                c->gid = ucred.gid;
                c->pid = ucred.pid;
        }

        /* the groups: the primary group first, then SO_PEERGROUPS */
        n = sizeof(gids) - sizeof(gid_t);
        if (getsockopt(c->fd, SOL_SOCKET, SO_PEERGROUPS, gids + 1, &n) < 0)
                n = 0;
        if (c->gid != (gid_t)-1) {
                size_t k = 1;

                gids[0] = c->gid;
                for (size_t i = 1; i <= n / sizeof(gid_t); ++i)
                        if (gids[i] != c->gid)
                                gids[k++] = gids[i];
                c->gids = malloc(k * sizeof(gid_t));
                if (c->gids) {
                        memcpy(c->gids, gids, k * sizeof(gid_t));
                        c->n_gids = k;
                }
        }

        /* without an LSM that labels sockets this never works: ask once */
        n = sizeof(label) - 1;
        if (!connection_no_peersec) {
                if (getsockopt(c->fd, SOL_SOCKET, SO_PEERSEC, label, &n) == 0 && n > 0) {
                        label[n] = 0;
                        c->label = strdup(label);
                        if (c->label)
                                c->n_label = strlen(c->label);
                } else if (errno == ENOPROTOOPT) {
                        connection_no_peersec = true;
                }
        }
}

/*
 * Whether the messages this connection sent that are still alive in the
 * broker reach max_incoming_bytes or max_incoming_unix_fds: then its socket
 * is not read (dbus-daemon reads a connection only while its live messages
 * stay below both limits, and only once it is authenticated).
 */
static bool connection_over_incoming(const struct connection *c)
{
        const struct bus_config_limits *l = &c->broker->config->limits;

        return c->state != CONNECTION_SASL &&
               (c->account->n_bytes >= (uint64_t)l->max_incoming_bytes ||
                c->account->n_fds >= (uint64_t)l->max_incoming_unix_fds);
}

void connection_update_events(struct connection *c)
{
        uint32_t events = EPOLLIN;

        if (c->closing)
                return;
        /*
         * A client blocked writing to us is still read unless it has too
         * much of its own output alive in the broker (max_incoming_*): its
         * messages are then waiting for slow receivers, and reading on
         * would only buffer more. Its hangup is still seen (EPOLLHUP).
         */
        c->throttled = connection_over_incoming(c);
        if (c->throttled)
                events &= ~EPOLLIN;
        if (c->out_blocked)
                events |= EPOLLOUT;
        /* during SASL, stop reading until our reply is out */
        if (c->state == CONNECTION_SASL && c->sasl->n_output > 0)
                events = EPOLLOUT;
        if (c->close_after_flush)
                events &= ~EPOLLIN;
        if (loop_source_set_io_events(c->io, events) < 0)
                error_trace_log("cannot change the events of a connection");
}

/* Write pending SASL output. Return: 0, or negative errno (close). */
static int connection_flush_sasl(struct connection *c)
{
        const char *p;
        size_t n;
        ssize_t l;

        p = sasl_output(c->sasl, &n);
        if (!n)
                return 0;
        l = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (l < 0)
                return (errno == EAGAIN || errno == EINTR) ? 0 : -errno;
        sasl_output_advance(c->sasl, (size_t)l);
        return 0;
}

static void connection_fail(struct connection *c, int r);
static void connection_auth_done(struct connection *c);
static void connection_auth_restart(struct connection *c);

/*
 * Put @c on the broker's ready list: the end of the socket read in progress
 * writes it, or else the loop's post hook before the loop waits again.
 */
static void connection_queue_flush(struct connection *c)
{
        if (c->closing || list_node_is_linked(&c->ready_link))
                return;
        list_link_tail(&c->broker->ready, &c->ready_link);
}

/*
 * The core peer's wake callback: a message became ready. Runs inside the
 * bus1 command that queued it, under the peer's lock: only note it.
 */
static void connection_on_ready(void *userdata)
{
        connection_queue_flush(userdata);
}

/*
 * The socket is full: wait for EPOLLOUT. The first time, let the kernel
 * hold more: with the default send buffer (wmem_default, about 200 KiB) a
 * 1 MiB message goes out in five writes, each a wakeup of the broker and
 * the client. The memory stays bounded: it is part of what a connection may
 * have queued (max_outgoing_bytes is far larger). Without CAP_NET_ADMIN the
 * kernel caps the size at net.core.wmem_max; failing is harmless.
 */
static void connection_out_full(struct connection *c)
{
        if (!c->sndbuf_raised) {
                int size = CONNECTION_SNDBUF;

                c->sndbuf_raised = true;
                if (setsockopt(c->fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
                        (void)setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
        }
        c->out_blocked = true;
        connection_update_events(c);
}

/* out[0] is written completely: drop it */
static void connection_out_retire(struct connection *c)
{
        struct message *m = c->out[0];

        c->n_queued_msgs -= c->n_queued_msgs > 0;
        c->n_queued_bytes -= m->n_wire < c->n_queued_bytes ? m->n_wire : c->n_queued_bytes;
        c->n_queued_fds -= m->n_fds < c->n_queued_fds ? m->n_fds : c->n_queued_fds;
        message_unref(m);
        --c->n_out_msgs;
        memmove(c->out, c->out + 1, c->n_out_msgs * sizeof(c->out[0]));
        c->n_out = 0;
}

/*
 * Take messages off the core peer and write them, several per sendmsg().
 * Return: 0 (everything written, or the socket is full and EPOLLOUT will
 * resume), 1 (a batch was written and more is ready), or negative errno
 * when the socket is broken (close).
 */
static int connection_flush(struct connection *c)
{
        unsigned int n_batch = 0;
        bool drained = false;

        for (;;) {
                struct iovec iov[CONNECTION_OUT_MAX * MESSAGE_N_VECS];
                union {
                        struct cmsghdr cmsg;
                        uint8_t buf[CMSG_SPACE(sizeof(int) * BUS1_FD_MAX)];
                } control;
                struct msghdr mh = { .msg_iov = iov };
                size_t n_iov = 0, total = 0, skip = c->n_out, done;
                ssize_t l;

                /* refill from the peer */
                while (!drained && c->n_out_msgs < CONNECTION_OUT_MAX && n_batch < CONNECTION_BATCH) {
                        struct bus1_cmd_recv recv = {};
                        uint64_t ptr = 0;
                        int r;

                        recv.ptr_payload = (uint64_t)(uintptr_t)&ptr;
                        recv.n_payload = sizeof(ptr);
                        r = bus1_recv(c->endpoint.peer, &recv);
                        if (r == -EAGAIN) {
                                drained = true;
                                break;
                        }
                        if (r < 0)
                                return error_origin(r);
                        if (recv.type != BUS1_MSG_DATA || recv.n_payload != sizeof(ptr))
                                continue;
                        c->out[c->n_out_msgs++] = (struct message *)(uintptr_t)ptr;
                        ++n_batch;
                        /* the last ready one: no bus1_recv() for -EAGAIN (the wake callback re-arms) */
                        if (bus1_peer_is_idle(c->endpoint.peer)) {
                                drained = true;
                                break;
                        }
                }
                if (c->n_out_msgs == 0) {
                        if (!drained)
                                return 1;
                        return c->close_after_flush ? -ECONNRESET : 0;
                }

                /* out[0] from where it stopped, then whole messages up to the next one with fds */
                for (size_t k = 0; k < c->n_out_msgs; ++k) {
                        const struct message *m = c->out[k];

                        if (k > 0 && m->n_fds > 0)
                                break;
                        for (size_t i = 0; i < MESSAGE_N_VECS; ++i) {
                                size_t len = m->vecs[i].iov_len;

                                if (skip >= len) {
                                        skip -= len;
                                        continue;
                                }
                                iov[n_iov].iov_base = (uint8_t *)m->vecs[i].iov_base + skip;
                                iov[n_iov].iov_len = len - skip;
                                total += len - skip;
                                skip = 0;
                                ++n_iov;
                        }
                }
                mh.msg_iovlen = n_iov;
                if (c->n_out == 0 && c->out[0]->n_fds > 0) {
                        const struct message *m = c->out[0];

                        memset(&control, 0, sizeof(control));
                        mh.msg_control = &control;
                        mh.msg_controllen = CMSG_SPACE(sizeof(int) * m->n_fds);
                        control.cmsg.cmsg_level = SOL_SOCKET;
                        control.cmsg.cmsg_type = SCM_RIGHTS;
                        control.cmsg.cmsg_len = CMSG_LEN(sizeof(int) * m->n_fds);
                        memcpy(CMSG_DATA(&control.cmsg), m->fds, sizeof(int) * m->n_fds);
                }

                l = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (l < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                connection_out_full(c);
                                return 0;
                        }
                        return -errno;
                }

                /* retire what went out completely; remember how far the next one got */
                done = (size_t)l;
                while (c->n_out_msgs > 0) {
                        size_t rest = c->out[0]->n_wire - c->n_out;

                        if (done < rest) {
                                c->n_out += done;
                                break;
                        }
                        done -= rest;
                        connection_out_retire(c);
                }
                if ((size_t)l < total) {
                        connection_out_full(c);
                        return 0;
                }
                if (c->out_blocked) {
                        c->out_blocked = false;
                        connection_update_events(c);
                }
        }
}

void connection_flush_ready(struct broker *b)
{
        struct list_node todo;

        /* one pass over who is ready now; a connection with more goes to the back */
        list_node_init(&todo);
        list_splice_tail(&todo, &b->ready);
        while (!list_is_empty(&todo)) {
                struct connection *c = list_entry(list_first(&todo), struct connection, ready_link);
                int r;

                list_unlink(&c->ready_link);
                if (c->out_blocked || c->state == CONNECTION_SASL)
                        continue;
                r = connection_flush(c);
                if (r < 0)
                        connection_fail(c, r);
                else if (r > 0)
                        connection_queue_flush(c);
        }
}

static int connection_ensure_in(struct connection *c, size_t size)
{
        uint8_t *p;

        assert(!c->in_shared);
        if (c->n_in_alloc >= size)
                return 0;
        if (size < CONNECTION_READ_CHUNK)
                size = CONNECTION_READ_CHUNK;
        p = realloc(c->in, size);
        if (!p)
                return error_origin(-ENOMEM);
        c->in = p;
        c->n_in_alloc = size;
        return 0;
}

static void connection_in_consume(struct connection *c, size_t n)
{
        memmove(c->in, c->in + n, c->n_in - n);
        c->n_in -= n;
}

/*
 * After a read's parse: the shared read buffer is given back, and what is
 * left of it (part of a message, or SASL input not taken yet) moves to a
 * buffer of the connection's own; an own buffer that has been emptied is
 * freed. Return: 0, -ENOMEM (the input is dropped).
 */
static int connection_in_settle(struct connection *c)
{
        uint8_t *p;
        size_t n;

        if (c->n_in == 0 || c->closing) {
                if (!c->in_shared)
                        free(c->in);
                c->in = NULL;
                c->n_in = 0;
                c->n_in_alloc = 0;
                c->in_shared = false;
                return 0;
        }
        if (!c->in_shared)
                return 0;
        c->in_shared = false;
        n = c->n_in < CONNECTION_READ_CHUNK ? CONNECTION_READ_CHUNK : c->n_in;
        p = malloc(n);
        if (!p) {
                c->in = NULL;
                c->n_in = 0;
                c->n_in_alloc = 0;
                return error_origin(-ENOMEM);
        }
        memcpy(p, c->in, c->n_in);
        c->in = p;
        c->n_in_alloc = n;
        return 0;
}

static void connection_close_in_fds(struct connection *c)
{
        for (size_t i = 0; i < c->n_in_fds; ++i)
                close(c->in_fds[i]);
        c->n_in_fds = 0;
}

/*
 * Read once from the socket into the input buffer; *@np receives the number
 * of bytes read (0 at EOF), *@fullp whether they filled the buffer (if not,
 * the socket is empty: a stream socket returns what it has). Return: 0,
 * -EAGAIN, BROKER_E_PROTOCOL, negative errno.
 */
static int connection_read(struct connection *c, size_t want, size_t *np, bool *fullp)
{
        union {
                struct cmsghdr cmsg;
                uint8_t buf[CMSG_SPACE(sizeof(int) * BUS1_FD_MAX)];
        } control;
        struct iovec iov;
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof(control),
        };
        struct cmsghdr *cmsg;
        ssize_t l;
        int r;

        if (!c->in && want <= sizeof(c->broker->read_buf)) {
                /* nothing buffered: read into the shared buffer (connection_in_settle() gives it back) */
                iov.iov_base = c->broker->read_buf;
                iov.iov_len = sizeof(c->broker->read_buf);
        } else {
                r = connection_ensure_in(c, c->n_in + want);
                if (r < 0)
                        return r;
                iov.iov_base = c->in + c->n_in;
                iov.iov_len = c->n_in_alloc - c->n_in;
        }

        l = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (l < 0)
                return (errno == EINTR) ? -EAGAIN : -errno;
        if (l > 0 && c->n_in == 0) {
                c->in = iov.iov_base;
                c->n_in_alloc = iov.iov_len;
                c->in_shared = c->in == c->broker->read_buf;
        }

        for (cmsg = CMSG_FIRSTHDR(&mh); cmsg; cmsg = CMSG_NXTHDR(&mh, cmsg)) {
                const int *fds = (const int *)CMSG_DATA(cmsg);
                size_t n_fds;
                int *p;

                if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
                        continue;
                n_fds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                p = realloc(c->in_fds, (c->n_in_fds + n_fds) * sizeof(int));
                if (!p) {
                        for (size_t i = 0; i < n_fds; ++i)
                                close(fds[i]);
                        return error_origin(-ENOMEM);
                }
                c->in_fds = p;
                memcpy(c->in_fds + c->n_in_fds, fds, n_fds * sizeof(int));
                c->n_in_fds += n_fds;
        }
        if (mh.msg_flags & MSG_CTRUNC) {
                log_warn("%s: file descriptors truncated, disconnecting", c->unique_name[0] ? c->unique_name : "client");
                return BROKER_E_PROTOCOL;
        }
        if (c->n_in_fds > 0 && !c->fds_allowed) {
                log_warn("client pid %d: passed file descriptors without negotiating them, disconnecting", (int)c->pid);
                return BROKER_E_PROTOCOL;
        }
        c->n_in += (size_t)l;
        *np = (size_t)l;
        *fullp = (size_t)l == iov.iov_len;
        return 0;
}

static int connection_hello(struct connection *c, struct message *m);

/*
 * Make the message of @size bytes at @off of the input buffer; it takes the
 * first fds received (the rest are for later messages). A large message at
 * the start of the buffer takes the buffer over instead of copying it (a
 * 1 MiB copy costs more than the read); what follows it moves to a new
 * buffer. Return: 0, MARSHAL_E_* (invalid), -ENOMEM.
 */
static int connection_take_message(struct connection *c, size_t off, size_t size, struct message **mp)
{
        int r;

        if (off == 0 && size >= CONNECTION_STEAL_MIN && !c->in_shared) {
                size_t n_rest = c->n_in - size, n_alloc = n_rest < CONNECTION_READ_CHUNK ? CONNECTION_READ_CHUNK : n_rest;
                uint8_t *rest = NULL;

                if (n_rest > 0) {
                        rest = malloc(n_alloc);
                        if (!rest)
                                return error_origin(-ENOMEM);
                        memcpy(rest, c->in + size, n_rest);
                }
                r = message_new_from_stream_buffer(mp, c->in, size, c->in_fds, c->n_in_fds);
                if (r == 0) {
                        c->in = rest;
                        c->n_in = n_rest;
                        c->n_in_alloc = rest ? n_alloc : 0;
                } else {
                        free(rest);
                }
        } else {
                r = message_new_from_stream(mp, c->in + off, size, c->in_fds, c->n_in_fds);
        }
        if (r == 0 && (*mp)->n_fds > 0) {
                c->n_in_fds -= (*mp)->n_fds;
                memmove(c->in_fds, c->in_fds + (*mp)->n_fds, c->n_in_fds * sizeof(int));
        }
        return r;
}

/*
 * Parse and dispatch the complete messages in the input buffer, from its
 * start; *@offp receives how many bytes they took (the caller consumes them
 * once, not one memmove per message).
 */
static int connection_parse_messages(struct connection *c, unsigned int *n_batch, size_t *offp)
{
        struct broker *b = c->broker;
        long max = b->config->limits.max_message_size;
        size_t off = 0;
        int r = 0;

        while (c->n_in - off >= MARSHAL_FIXED_HEADER_SIZE && !c->closing && !c->close_after_flush) {
                const uint8_t *base = c->in, *p = base + off;
                struct message *m = NULL;
                size_t size;

                r = message_frame_size(p, c->n_in - off, &size);
                if (r > 0) {
                        log_warn("client pid %d: invalid message header (%s), disconnecting",
                                 (int)c->pid, marshal_strerror(r));
                        r = BROKER_E_PROTOCOL;
                        break;
                }
                if (max > 0 && size > (size_t)max) {
                        log_warn("client pid %d: message of %zu bytes exceeds max_message_size, disconnecting",
                                 (int)c->pid, size);
                        r = BROKER_E_PROTOCOL;
                        break;
                }
                if (c->n_in - off < size)
                        break;

                r = connection_take_message(c, off, size, &m);
                if (r < 0)
                        break;
                if (r > 0) {
                        log_warn("client pid %d: invalid message (%s), disconnecting",
                                 (int)c->pid, marshal_strerror(r));
                        r = BROKER_E_PROTOCOL;
                        break;
                }
                /* a large message took the buffer with it: the rest starts at 0 */
                if (c->in != base)
                        off = 0;
                else
                        off += size;
                ++*n_batch;
                /* charged to us until every receiver is done with it */
                message_charge(m, c->account, size);

                if (b->config->limits.max_message_unix_fds >= 0 &&
                    m->n_fds > (size_t)b->config->limits.max_message_unix_fds) {
                        message_unref(m);
                        log_warn("client pid %d: too many file descriptors in a message, disconnecting", (int)c->pid);
                        r = BROKER_E_PROTOCOL;
                        break;
                }

                if (c->state == CONNECTION_HELLO) {
                        r = connection_hello(c, m);
                } else if (c->is_monitor) {
                        /* monitors are read-only; dbus-daemon disconnects them too */
                        r = BROKER_E_PROTOCOL;
                } else {
                        r = message_set_sender(m, c->unique_name);
                        if (r == 0)
                                r = broker_dispatch(b, c, m);
                }
                message_unref(m);
                if (r)
                        break;
        }
        *offp = off;
        return r;
}

/* Parse and dispatch complete messages in the input buffer. */
static int connection_parse(struct connection *c, unsigned int *n_batch)
{
        size_t off;
        int r;

        r = connection_parse_messages(c, n_batch, &off);
        if (off > 0 && !c->closing)
                connection_in_consume(c, off);
        if (r)
                return r;
        r = connection_in_settle(c);
        if (r)
                return r;
        /* room for the whole next message, once its size is known */
        if (c->n_in >= MARSHAL_FIXED_HEADER_SIZE) {
                size_t size;

                if (message_frame_size(c->in, c->n_in, &size) == 0 && size > c->n_in_alloc)
                        return connection_ensure_in(c, size);
        }
        return 0;
}

static int connection_compare_unique(const void *key, const struct rb_node *n)
{
        uint64_t id = *(const uint64_t *)key;
        const struct connection *c = rb_entry(n, struct connection, unique_rb);

        return id < c->unique_id ? -1 : id > c->unique_id ? 1 : 0;
}

static int connection_hello(struct connection *c, struct message *m)
{
        struct broker *b = c->broker;
        int r;

        if (m->type != MARSHAL_TYPE_METHOD_CALL || !m->destination || strcmp(m->destination, NAME_DRIVER) ||
            !m->member || strcmp(m->member, "Hello") ||
            (m->interface && strcmp(m->interface, "org.freedesktop.DBus"))) {
                log_info("client pid %d: first message is not Hello, disconnecting", (int)c->pid);
                /* as dbus-daemon: an AccessDenied error, then the disconnect */
                connection_close_after_flush(c);
                return broker_send_error_unregistered(b, c, m, "org.freedesktop.DBus.Error.AccessDenied",
                                                      "Client tried to send a message other than Hello "
                                                      "without being registered");
        }

        c->unique_id = b->next_unique_id;
        snprintf(c->unique_name, sizeof(c->unique_name), ":1.%llu", (unsigned long long)c->unique_id);
        r = message_set_sender(m, c->unique_name);
        if (r)
                return r > 0 ? BROKER_E_PROTOCOL : r;
        ++b->next_unique_id;
        rb_insert(&b->unique_names, &c->unique_rb, &c->unique_id, connection_compare_unique);
        c->state = CONNECTION_RUNNING;
        connection_auth_done(c);
        if (b->n_incomplete > 0)
                --b->n_incomplete;
        broker_update_accepting(b);
        return broker_dispatch(b, c, m);
}

void connection_hello_refused(struct connection *c)
{
        struct broker *b = c->broker;

        c->state = CONNECTION_HELLO;
        /* no name was given: the number is free for the next Hello */
        rb_remove(&b->unique_names, &c->unique_rb);
        if (b->next_unique_id == c->unique_id + 1)
                --b->next_unique_id;
        c->unique_id = 0;
        c->unique_name[0] = 0;
        ++b->n_incomplete;
        /* the deadline still counts from the connect, as in dbus-daemon */
        connection_auth_restart(c);
        broker_update_accepting(b);
}

/*
 * An ANONYMOUS login keeps only the peer's process ID (as dbus-daemon): the
 * driver reports no uid, groups or security label for it, and its policy
 * is the default and mandatory rules only (no user or group rules apply).
 * The core peer keeps the real credentials it was created with, so quotas
 * are still charged to the real user.
 */
static int connection_make_anonymous(struct connection *c)
{
        struct policy_snapshot s;
        int r;

        r = policy_snapshot_init(&s, c->broker->policy, (uint32_t)-1, NULL, 0, false);
        if (r < 0)
                return r;
        policy_snapshot_deinit(&c->policy);
        c->policy = s;
        c->uid = (uid_t)-1;
        c->gid = (gid_t)-1;
        free(c->gids);
        c->gids = NULL;
        c->n_gids = 0;
        free(c->label);
        c->label = NULL;
        c->n_label = 0;
        return 0;
}

static int connection_sasl(struct connection *c)
{
        struct broker *b = c->broker;
        size_t consumed = 0;
        int r;

        r = sasl_feed(c->sasl, c->in, c->n_in, &consumed);
        connection_in_consume(c, consumed);
        if (r == SASL_E_FAILED) {
                log_info("client pid %d: authentication failed: %s", (int)c->pid, sasl_failure(c->sasl));
                return BROKER_E_PROTOCOL;
        }
        if (r == SASL_DONE) {
                struct policy_verdict v;

                if (c->sasl->auth == SASL_AUTH_ANONYMOUS) {
                        /* as dbus-daemon: OK was sent, the close follows BEGIN */
                        if (!b->config->allow_anonymous) {
                                log_info("client pid %d: anonymous login not allowed", (int)c->pid);
                                return BROKER_E_PROTOCOL;
                        }
                        r = connection_make_anonymous(c);
                        if (r < 0)
                                return error_trace(r);
                }
                if (c->sasl->auth == SASL_AUTH_EXTERNAL) {
                        policy_db_check_connect(b->policy, c->uid, (const uint32_t *)c->gids, c->n_gids,
                                                b->uid, &v);
                        if (!v.allow) {
                                log_info("connection of uid %u rejected by policy", (unsigned)c->uid);
                                return BROKER_E_PROTOCOL;
                        }
                }
                c->fds_allowed = sasl_fds_agreed(c->sasl);
                c->state = CONNECTION_HELLO;
        }
        return 0;
}

/*
 * BEGIN was read: the SASL server goes. Its last replies are out already
 * unless the client stopped reading with them in flight, which a client
 * that means to talk cannot do (they are a few lines, and the socket holds
 * far more): such a client is disconnected rather than answered out of
 * order. Return: 0, BROKER_E_PROTOCOL.
 */
static int connection_sasl_finish(struct connection *c)
{
        if (c->sasl->n_output > 0) {
                log_warn("client pid %d: not reading its authentication replies, disconnecting", (int)c->pid);
                return BROKER_E_PROTOCOL;
        }
        free(c->sasl);
        c->sasl = NULL;
        return 0;
}

static void connection_fail(struct connection *c, int r)
{
        if (r < 0 && r != -ECONNRESET && r != -EPIPE)
                log_warn("client pid %d (%s): disconnecting: %s", (int)c->pid,
                         c->unique_name[0] ? c->unique_name : "unauthenticated", strerror(-r));
        else
                log_debug("client pid %d (%s): disconnecting (%d)", (int)c->pid,
                          c->unique_name[0] ? c->unique_name : "unauthenticated", r);
        connection_free(c);
}

static int connection_on_pending_fds_timeout(struct loop_source *s, uint64_t usec, void *userdata)
{
        struct connection *c = userdata;

        (void)s;
        (void)usec;
        log_warn("connection \"%s\" (uid=%u pid=%d) has had Unix fds pending for too long, closing it "
                 "(pending_fd_timeout=%ld ms)", c->unique_name[0] ? c->unique_name : "(null)", (unsigned)c->uid,
                 (int)c->pid, c->broker->config->limits.pending_fd_timeout);
        connection_free(c);
        return 0;
}

/*
 * fds received before the rest of their message are "pending": as in
 * dbus-daemon, a connection holding pending fds longer than
 * pending_fd_timeout (counted from when it began to hold any) is
 * disconnected, so it cannot pin fds in the broker by never finishing a
 * message. Return: 0, negative errno.
 */
static int connection_check_pending_fds(struct connection *c)
{
        long timeout = c->broker->config->limits.pending_fd_timeout;
        int r;

        if (c->n_in_fds == 0) {
                c->pending_fds_timeout = loop_source_free(c->pending_fds_timeout);
                return 0;
        }
        if (c->pending_fds_timeout)
                return 0;
        r = loop_add_time_relative(c->broker->loop, &c->pending_fds_timeout, (uint64_t)timeout * 1000,
                                   connection_on_pending_fds_timeout, c);
        return r < 0 ? error_origin(r) : 0;
}

static int connection_on_socket(struct loop_source *s, int fd, uint32_t revents, void *userdata)
{
        struct connection *c = userdata;
        struct broker *b = c->broker;
        unsigned int n_batch = 0;
        bool full = true;
        size_t l;
        int r = 0;

        (void)s;
        (void)fd;

        if (revents & EPOLLOUT) {
                if (c->state == CONNECTION_SASL) {
                        r = connection_flush_sasl(c);
                } else {
                        c->out_blocked = false;
                        r = connection_flush(c);
                        if (r > 0) {
                                connection_queue_flush(c);
                                r = 0;
                        }
                }
                if (r)
                        goto fail;
                connection_update_events(c);
        }

        if (!(revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                return 0;

        for (unsigned int i = 0; i < CONNECTION_READS && full; ++i) {
                if (c->state == CONNECTION_SASL && c->sasl->n_output > 0)
                        break;
                /* throttled (max_incoming_*); after a hangup read to the end */
                if (!(revents & (EPOLLHUP | EPOLLERR)) && connection_over_incoming(c))
                        break;
                r = connection_read(c, CONNECTION_READ_CHUNK, &l, &full);
                if (r == -EAGAIN) {
                        r = 0;
                        break;
                }
                if (r)
                        goto fail;
                if (l == 0) {
                        r = -ECONNRESET;
                        goto fail;
                }
                if (c->state == CONNECTION_SASL) {
                        r = connection_sasl(c);
                        if (r)
                                goto fail;
                        r = connection_flush_sasl(c);
                        if (r)
                                goto fail;
                        if (c->state == CONNECTION_SASL) {
                                r = connection_in_settle(c);
                                if (r)
                                        goto fail;
                                connection_update_events(c);
                                continue;
                        }
                        r = connection_sasl_finish(c);
                        if (r)
                                goto fail;
                }
                r = connection_parse(c, &n_batch);
                if (r)
                        goto fail;
        }
        r = connection_check_pending_fds(c);
        if (r)
                goto fail;
        connection_update_events(c);
        /* write what this read made ready at once, without another loop iteration */
        connection_flush_ready(b);
        return 0;

fail:
        connection_fail(c, r);
        connection_flush_ready(b);
        return 0;
}

/*
 * The auth timeout of every incomplete connection is one broker timer:
 * b->incomplete lists them in accept order, which is deadline order (one
 * auth_timeout for all; after a reload that shortens it, a newer connection
 * may wait up to the old timeout). The timer is armed for the head's
 * deadline and left alone when the head completes, so a busy bus does not
 * reprogram a timerfd for every connection: when it fires, everything past
 * its deadline goes and it is re-armed for the new head.
 */
static void connection_auth_timer_arm(struct broker *b)
{
        struct connection *head;

        if (list_is_empty(&b->incomplete) || !b->auth_timer)
                return;
        head = list_entry(list_first(&b->incomplete), struct connection, incomplete_link);
        loop_source_set_time(b->auth_timer, head->auth_deadline);
}

int connection_on_auth_timer(struct loop_source *s, uint64_t usec, void *userdata)
{
        struct broker *b = userdata;

        (void)s;
        while (!list_is_empty(&b->incomplete)) {
                struct connection *c = list_entry(list_first(&b->incomplete), struct connection, incomplete_link);

                if (c->auth_deadline > usec)
                        break;
                log_info("client pid %d: authentication timed out, disconnecting", (int)c->pid);
                connection_free(c);
        }
        connection_auth_timer_arm(b);
        return 0;
}

/* @c is through SASL and Hello, or gone: no auth timeout any more */
static void connection_auth_done(struct connection *c)
{
        list_unlink(&c->incomplete_link);
}

/*
 * A refused Hello: back on the list, at its place by deadline (which still
 * counts from the connect). Usually near the tail; the walk is from there.
 */
static void connection_auth_restart(struct connection *c)
{
        struct broker *b = c->broker;
        struct list_node *pos;

        if (!c->auth_deadline || list_node_is_linked(&c->incomplete_link))
                return;
        for (pos = b->incomplete.prev; pos != &b->incomplete; pos = pos->prev)
                if (list_entry(pos, struct connection, incomplete_link)->auth_deadline <= c->auth_deadline)
                        break;
        list_link_after(pos, &c->incomplete_link);
        if (list_first(&b->incomplete) == &c->incomplete_link)
                connection_auth_timer_arm(b);
}

static void connection_auth_start(struct connection *c)
{
        struct broker *b = c->broker;
        long timeout = b->config->limits.auth_timeout;
        uint64_t now;

        if (timeout <= 0 || !b->auth_timer)
                return;
        now = loop_now(b->loop);
        c->auth_deadline = now + (uint64_t)timeout * 1000;
        list_link_tail(&b->incomplete, &c->incomplete_link);
        if (loop_source_get_time(b->auth_timer) == LOOP_TIME_OFF)
                connection_auth_timer_arm(b);
}

/* a message we sent was freed: read again once below max_incoming_* */
static void connection_on_released(void *userdata)
{
        struct connection *c = userdata;

        if (c->throttled && !connection_over_incoming(c))
                connection_update_events(c);
}

static int connection_compare(const void *key, const struct rb_node *n)
{
        uint64_t id = *(const uint64_t *)key;
        const struct connection *c = rb_entry(n, struct connection, rb);

        return id < c->id ? -1 : id > c->id ? 1 : 0;
}

int connection_new(struct connection **out, struct broker *b, int fd)
{
        struct bus1_cmd_peer_create create = {};
        uint64_t gids[64];
        struct connection *c;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return error_origin(-ENOMEM);
        c->broker = b;
        c->fd = -1;
        c->state = CONNECTION_SASL;
        rb_node_init(&c->rb);
        rb_node_init(&c->unique_rb);
        list_node_init(&c->holders);
        list_node_init(&c->calls);
        list_node_init(&c->monitor_link);
        list_node_init(&c->monitor_rules);
        list_node_init(&c->ready_link);
        list_node_init(&c->incomplete_link);
        rb_root_init(&c->replies);
        rb_root_init(&c->endpoint.handles);
        name_owner_init(&c->names);
        match_owner_init(&c->matches);
        c->id = b->next_id++;
        c->fd = fd;

        connection_read_creds(c);

        r = message_account_new(&c->account, connection_on_released, c);
        if (r < 0)
                goto fail;

        create.uid = c->uid == (uid_t)-1 ? 65534 : c->uid;
        create.gid = c->gid == (gid_t)-1 ? 65534 : c->gid;
        create.pid = c->pid > 0 ? (uint64_t)c->pid : 0;
        for (size_t i = 0; i < c->n_gids && i < 64; ++i)
                gids[i] = c->gids[i];
        create.n_gids = c->n_gids < 64 ? c->n_gids : 64;
        create.ptr_gids = (uint64_t)(uintptr_t)gids;
        create.n_label = c->n_label;
        create.ptr_label = (uint64_t)(uintptr_t)c->label;
        create.limits = b->core_limits;         /* the user rules bound a peer, see broker_new() */
        r = bus1_peer_new_with_creds(&c->endpoint.peer, b->engine, &create);
        if (r < 0)
                goto fail;
        r = bus1_node_new(c->endpoint.peer, &c->node);
        if (r < 0)
                goto fail;

        r = policy_snapshot_init(&c->policy, b->policy, c->uid, (const uint32_t *)c->gids, c->n_gids, false);
        if (r < 0)
                goto fail;

        c->sasl = malloc(sizeof(*c->sasl));
        if (!c->sasl) {
                r = error_origin(-ENOMEM);
                goto fail;
        }
        sasl_init(c->sasl, b->sasl_mechs, c->uid != (uid_t)-1, c->uid, true, b->guid);

        r = loop_add_io(b->loop, &c->io, fd, EPOLLIN, connection_on_socket, c);
        if (r < 0)
                goto fail;
        r = bus1_peer_set_wake(c->endpoint.peer, connection_on_ready, c);
        if (r < 0)
                goto fail;
        connection_auth_start(c);

        rb_insert(&b->connections, &c->rb, &c->id, connection_compare);
        ++b->n_connections;
        ++b->n_incomplete;
        broker_update_accepting(b);
        *out = c;
        return 0;

fail:
        c->fd = -1; /* the caller keeps the fd on failure */
        connection_free(c);
        return error_trace(r);
}

struct connection *connection_free(struct connection *c)
{
        struct broker *b;

        if (!c)
                return NULL;
        b = c->broker;
        if (c->closing)
                return NULL;
        c->closing = true;
        /* what it sent may live on in others' queues; stop hearing of it */
        c->account = message_account_detach(c->account);

        if (rb_node_is_linked(&c->rb)) {
                broker_connection_gone(b, c);
                rb_remove(&b->connections, &c->rb);
                --b->n_connections;
                if (c->state != CONNECTION_RUNNING && b->n_incomplete > 0)
                        --b->n_incomplete;
                broker_update_accepting(b);
        }
        if (rb_node_is_linked(&c->unique_rb))
                rb_remove(&b->unique_names, &c->unique_rb);

        /* drop the references of messages still queued for us */
        list_unlink(&c->ready_link);
        while (c->n_out_msgs > 0)
                message_unref(c->out[--c->n_out_msgs]);
        if (c->endpoint.peer) {
                for (;;) {
                        struct bus1_cmd_recv recv = {};
                        uint64_t ptr = 0;

                        recv.ptr_payload = (uint64_t)(uintptr_t)&ptr;
                        recv.n_payload = sizeof(ptr);
                        if (bus1_recv(c->endpoint.peer, &recv) < 0)
                                break;
                        if (recv.type == BUS1_MSG_DATA && recv.n_payload == sizeof(ptr))
                                message_unref((struct message *)(uintptr_t)ptr);
                }
        }
        broker_endpoint_deinit(&c->endpoint);
        c->endpoint.peer = bus1_peer_free(c->endpoint.peer);

        policy_snapshot_deinit(&c->policy);
        match_owner_deinit(&c->matches);
        name_owner_deinit(&c->names);
        loop_source_free(c->io);
        connection_auth_done(c);
        loop_source_free(c->pending_fds_timeout);
        connection_close_in_fds(c);
        free(c->in_fds);
        if (!c->in_shared)
                free(c->in);
        if (c->fd >= 0)
                close(c->fd);
        free(c->gids);
        free(c->label);
        free(c->sasl);
        free(c);
        return NULL;
}

void connection_close(struct connection *c)
{
        connection_free(c);
}

void connection_close_after_flush(struct connection *c)
{
        c->close_after_flush = true;
}

void connection_wake_writer(struct connection *c)
{
        (void)c;
}

size_t connection_names(const struct connection *c, const char **names, size_t n_max)
{
        size_t n = 0;

        if (n_max == 0)
                return 0;
        names[n++] = c->unique_name;
        n += name_owner_primary_names(&c->names, names + 1, n_max - 1);
        return n < n_max ? n : n_max;
}

size_t connection_all_names(const struct connection *c, const char **names, size_t n_max)
{
        struct name_ownership *o;
        size_t n = 0;

        if (n_max == 0)
                return 0;
        names[n++] = c->unique_name;
        name_owner_for_each_ownership(o, &c->names) {
                if (n >= n_max)
                        break;
                names[n++] = o->entry->name;
        }
        return n;
}
