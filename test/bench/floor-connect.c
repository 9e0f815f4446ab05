/*
 * bench-dbus: the floor of connect + Hello + disconnect (see bench.h).
 *
 * The clients are the ones of the broker rows: bench_bus_connect() (sd-bus
 * opens a connection, authenticates, calls Hello, closes), then
 * bench_raw_connect() (the same by hand, with the writes of sd-bus). The server is
 * the least a bus can do for it, in a forked process: accept one
 * connection at a time (blocking), answer the SASL lines (DATA to a bare
 * AUTH EXTERNAL, OK to its DATA or to an AUTH with an identity,
 * AGREE_UNIX_FD), read the Hello, write its reply and NameAcquired in one
 * write, read to the end and close. No bus, no policy, no credentials.
 * Its CPU time per connection is reported as the floor's broker CPU.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "test/bench/bench.h"
#include "test/integration/raw.h"

#define CANNED_GUID "0123456789abcdef0123456789abcdef"

/* @out (empty, little-endian): the Hello reply to @serial and NameAcquired, for unique name @name. */
static void canned_hello(struct raw_buf *out, uint32_t serial, const char *name)
{
        const struct raw_header reply = {
                .type = RAW_METHOD_RETURN, .flags = 1, .serial = 1, .reply_serial = serial,
                .destination = name, .sender = "org.freedesktop.DBus", .signature = "s",
        };
        const struct raw_header acquired = {
                .type = RAW_SIGNAL, .flags = 1, .serial = 2, .path = "/org/freedesktop/DBus",
                .interface = "org.freedesktop.DBus", .member = "NameAcquired",
                .destination = name, .sender = "org.freedesktop.DBus", .signature = "s",
        };
        struct raw_buf body, second;

        raw_buf_init(&body, false);
        raw_buf_init(&second, false);
        raw_buf_put_string(&body, name);
        raw_message_build(out, &reply, body.data, body.len);
        /* built on its own: alignment counts from each message's start, and messages are not padded */
        raw_message_build(&second, &acquired, body.data, body.len);
        raw_buf_put(out, second.data, second.len);
        raw_buf_deinit(&second);
        raw_buf_deinit(&body);
}

/* Answer the SASL lines in buf[0..*n); return the offset after BEGIN\r\n, or 0 if not there yet. */
static size_t canned_sasl(int fd, char *buf, size_t *n, size_t *done)
{
        char out[256];
        size_t o = 0, i = *done;

        for (;;) {
                char *eol = memmem(buf + i, *n - i, "\r\n", 2);
                const char *line = buf + i;
                size_t l;

                if (!eol)
                        break;
                l = (size_t)(eol - line);
                if (l && line[0] == 0) {        /* the leading NUL byte */
                        ++line;
                        --l;
                }
                i = (size_t)(eol - buf) + 2;
                /* every answer is shorter than 64 bytes: keep room for one */
                if (o > sizeof(out) - 64) {
                        bench_write_all(fd, out, o);
                        o = 0;
                }
                if (l == 13 && !memcmp(line, "AUTH EXTERNAL", 13))
                        o += (size_t)snprintf(out + o, sizeof(out) - o, "DATA\r\n");
                else if ((l >= 4 && !memcmp(line, "DATA", 4)) || (l > 14 && !memcmp(line, "AUTH EXTERNAL ", 14)))
                        o += (size_t)snprintf(out + o, sizeof(out) - o, "OK " CANNED_GUID "\r\n");
                else if (l == 17 && !memcmp(line, "NEGOTIATE_UNIX_FD", 17))
                        o += (size_t)snprintf(out + o, sizeof(out) - o, "AGREE_UNIX_FD\r\n");
                else if (l == 5 && !memcmp(line, "BEGIN", 5)) {
                        if (o)
                                bench_write_all(fd, out, o);
                        return i;
                } else
                        o += (size_t)snprintf(out + o, sizeof(out) - o, "ERROR\r\n");
        }
        *done = i;
        if (o)
                bench_write_all(fd, out, o);
        return 0;
}

/* read more into buf[*n..); 0 at EOF or on error */
static ssize_t canned_read(int fd, char *buf, size_t size, size_t *n)
{
        ssize_t k;

        do
                k = read(fd, buf + *n, size - *n);
        while (k < 0 && errno == EINTR);
        if (k > 0)
                *n += (size_t)k;
        return k;
}

static void canned_serve_one(int fd, unsigned long id)
{
        static char buf[65536];
        struct raw_buf m;
        size_t n = 0, done = 0, off = 0, need;
        uint32_t body, fields, serial;
        char name[32];

        while (!off) {
                if (canned_read(fd, buf, sizeof(buf), &n) <= 0)
                        return;
                off = canned_sasl(fd, buf, &n, &done);
        }
        /* the Hello: fixed header, fields padded to 8, body */
        while (n - off < 16)
                if (canned_read(fd, buf, sizeof(buf), &n) <= 0)
                        return;
        memcpy(&body, buf + off + 4, 4);
        memcpy(&serial, buf + off + 8, 4);
        memcpy(&fields, buf + off + 12, 4);
        need = 16 + (((size_t)fields + 7) & ~(size_t)7) + body;
        if (need > sizeof(buf) - off)
                return;
        while (n - off < need)
                if (canned_read(fd, buf, sizeof(buf), &n) <= 0)
                        return;
        snprintf(name, sizeof(name), ":1.%lu", id);
        raw_buf_init(&m, false);
        canned_hello(&m, serial, name);
        bench_write_all(fd, m.data, m.len);
        raw_buf_deinit(&m);
        /* to the end: the client closes */
        for (;;) {
                n = 0;
                if (canned_read(fd, buf, sizeof(buf), &n) <= 0)
                        return;
        }
}

static _Noreturn void canned_bus(int lfd)
{
        for (unsigned long id = 1;; ++id) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        _exit(1);
                }
                canned_serve_one(fd, id);
                close(fd);
        }
}

void bench_floor_connect(const struct bench_opts *opts)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char dir[] = "/tmp/bus1-bench-floor-XXXXXX", address[sizeof(sa.sun_path) + 16];
        struct bench_opts o = *opts;
        pid_t server;
        int lfd;

        if (!mkdtemp(dir))
                bench_die("mkdtemp: %m");
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/bus", dir);
        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 128) < 0)
                bench_die("listen on %s: %m", sa.sun_path);
        server = bench_fork();
        if (server == 0) {
                /* it stands in for a broker: in a session of its own like them */
                if (opts->relay_session && setsid() < 0)
                        bench_die("setsid: %m");
                canned_bus(lfd);
        }
        close(lfd);
        snprintf(address, sizeof(address), "unix:path=%s", sa.sun_path);
        o.address = address;
        o.cpu_pids[0] = server;
        o.n_cpu_pids = 1;
        bench_bus_connect(&o);
        bench_raw_connect(&o);
        bench_reap(server, true);
        unlink(sa.sun_path);
        rmdir(dir);
}
