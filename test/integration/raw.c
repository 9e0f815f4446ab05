/*
 * Minimal raw D-Bus client for integration tests; see raw.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "test/integration/raw.h"

enum {
        FIELD_PATH = 1,
        FIELD_INTERFACE = 2,
        FIELD_MEMBER = 3,
        FIELD_ERROR_NAME = 4,
        FIELD_REPLY_SERIAL = 5,
        FIELD_DESTINATION = 6,
        FIELD_SENDER = 7,
        FIELD_SIGNATURE = 8,
        FIELD_UNIX_FDS = 9,
};

static int64_t raw_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for @events on @fd until @deadline; 0, or -ETIMEDOUT. */
static int raw_poll(int fd, short events, int64_t deadline)
{
        struct pollfd p = { .fd = fd, .events = events };

        for (;;) {
                int64_t left = deadline - raw_now_ms();
                int r;

                if (left < 0)
                        left = 0;
                r = poll(&p, 1, (int)left);
                if (r > 0)
                        return 0;
                if (r == 0)
                        return -ETIMEDOUT;
                if (errno != EINTR)
                        return -errno;
        }
}

void raw_buf_init(struct raw_buf *b, bool big_endian)
{
        *b = (struct raw_buf){ .big_endian = big_endian };
}

void raw_buf_deinit(struct raw_buf *b)
{
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
}

void raw_buf_put(struct raw_buf *b, const void *p, size_t n)
{
        if (b->len + n > b->cap) {
                size_t cap = b->cap ? b->cap : 256;

                while (cap < b->len + n)
                        cap *= 2;
                b->data = realloc(b->data, cap);
                if (!b->data)
                        abort();
                b->cap = cap;
        }
        if (n && p)
                memcpy(b->data + b->len, p, n);
        else if (n)
                memset(b->data + b->len, 0, n);
        b->len += n;
}

void raw_buf_align(struct raw_buf *b, size_t n)
{
        static const uint8_t zero[8];

        raw_buf_put(b, zero, (n - b->len % n) % n);
}

void raw_buf_put_u8(struct raw_buf *b, uint8_t v)
{
        raw_buf_put(b, &v, 1);
}

void raw_buf_put_u32(struct raw_buf *b, uint32_t v)
{
        uint8_t x[4];

        raw_buf_align(b, 4);
        if (b->big_endian) {
                x[0] = v >> 24; x[1] = v >> 16; x[2] = v >> 8; x[3] = v;
        } else {
                x[3] = v >> 24; x[2] = v >> 16; x[1] = v >> 8; x[0] = v;
        }
        raw_buf_put(b, x, 4);
}

void raw_buf_put_string(struct raw_buf *b, const char *s)
{
        raw_buf_put_u32(b, strlen(s));
        raw_buf_put(b, s, strlen(s) + 1);
}

void raw_buf_put_signature(struct raw_buf *b, const char *s)
{
        raw_buf_put_u8(b, strlen(s));
        raw_buf_put(b, s, strlen(s) + 1);
}

void raw_buf_put_auth_external(struct raw_buf *b)
{
        char uid[32];

        snprintf(uid, sizeof(uid), "%u", (unsigned)getuid());
        raw_buf_put(b, "\0AUTH EXTERNAL ", 15);
        for (const char *p = uid; *p; ++p) {
                char hex[3];

                snprintf(hex, sizeof(hex), "%02x", (unsigned char)*p);
                raw_buf_put(b, hex, 2);
        }
        raw_buf_put(b, "\r\n", 2);
}

static void raw_field_string(struct raw_buf *b, uint8_t code, char type, const char *s)
{
        char sig[2] = { type, 0 };

        if (!s)
                return;
        raw_buf_align(b, 8);
        raw_buf_put_u8(b, code);
        raw_buf_put_signature(b, sig);
        if (type == 'g')
                raw_buf_put_signature(b, s);
        else
                raw_buf_put_string(b, s);
}

static void raw_field_u32(struct raw_buf *b, uint8_t code, uint32_t v)
{
        if (!v)
                return;
        raw_buf_align(b, 8);
        raw_buf_put_u8(b, code);
        raw_buf_put_signature(b, "u");
        raw_buf_put_u32(b, v);
}

void raw_message_build(struct raw_buf *out, const struct raw_header *h,
                       const void *body, size_t body_len)
{
        size_t array_start;
        uint32_t array_len;

        raw_buf_put_u8(out, out->big_endian ? 'B' : 'l');
        raw_buf_put_u8(out, h->type);
        raw_buf_put_u8(out, h->flags);
        raw_buf_put_u8(out, 1);
        raw_buf_put_u32(out, body_len);
        raw_buf_put_u32(out, h->serial);
        raw_buf_put_u32(out, 0);        /* array length, patched below */
        array_start = out->len;         /* 16: already 8-aligned */
        raw_field_string(out, FIELD_PATH, 'o', h->path);
        raw_field_string(out, FIELD_INTERFACE, 's', h->interface);
        raw_field_string(out, FIELD_MEMBER, 's', h->member);
        raw_field_string(out, FIELD_ERROR_NAME, 's', h->error_name);
        raw_field_u32(out, FIELD_REPLY_SERIAL, h->reply_serial);
        raw_field_string(out, FIELD_DESTINATION, 's', h->destination);
        raw_field_string(out, FIELD_SENDER, 's', h->sender);
        raw_field_string(out, FIELD_SIGNATURE, 'g', h->signature);
        raw_field_u32(out, FIELD_UNIX_FDS, h->unix_fds);
        array_len = out->len - array_start;
        raw_buf_align(out, 8);
        raw_buf_put(out, body, body_len);

        /* patch the array length at offset 12 */
        {
                struct raw_buf t;

                raw_buf_init(&t, out->big_endian);
                raw_buf_put_u32(&t, array_len);
                memcpy(out->data + 12, t.data, 4);
                raw_buf_deinit(&t);
        }
}

static uint32_t raw_get_u32(const uint8_t *p, bool be)
{
        if (be)
                return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

size_t raw_message_size(const uint8_t *h)
{
        bool be;
        uint64_t fields, body;

        if (h[0] != 'l' && h[0] != 'B')
                return 0;
        be = h[0] == 'B';
        body = raw_get_u32(h + 4, be);
        fields = raw_get_u32(h + 12, be);
        if (body > (1u << 28) || fields > (1u << 26))
                return 0;
        return 16 + ((fields + 7) & ~(uint64_t)7) + body;
}

int raw_message_parse(struct raw_info *info, const uint8_t *msg, size_t len)
{
        size_t pos = 16, end;
        uint32_t fields_len;
        bool be;

        if (len < 16 || raw_message_size(msg) != len)
                return -EBADMSG;
        memset(info, 0, sizeof(*info));
        be = info->big_endian = msg[0] == 'B';
        info->type = msg[1];
        info->body_len = raw_get_u32(msg + 4, be);
        info->serial = raw_get_u32(msg + 8, be);
        fields_len = raw_get_u32(msg + 12, be);
        end = 16 + fields_len;
        info->body_offset = (end + 7) & ~(size_t)7;

        while (pos < end) {
                uint8_t code, type;
                char *dst = NULL;
                uint32_t n;

                pos = (pos + 7) & ~(size_t)7;
                if (pos + 4 > end || msg[pos + 1] != 1)
                        return -EBADMSG;
                code = msg[pos];
                type = msg[pos + 2];
                pos += 4;
                switch (code) {
                case FIELD_MEMBER: dst = info->member; break;
                case FIELD_INTERFACE: dst = info->interface; break;
                case FIELD_ERROR_NAME: dst = info->error_name; break;
                case FIELD_SENDER: dst = info->sender; break;
                case FIELD_SIGNATURE: dst = info->signature; break;
                default: break;
                }
                switch (type) {
                case 'u':
                        pos = (pos + 3) & ~(size_t)3;
                        if (pos + 4 > end)
                                return -EBADMSG;
                        if (code == FIELD_REPLY_SERIAL)
                                info->reply_serial = raw_get_u32(msg + pos, be);
                        pos += 4;
                        break;
                case 'g':
                        n = msg[pos];
                        if (pos + 1 + n + 1 > end || n > 255)
                                return -EBADMSG;
                        if (dst)
                                memcpy(dst, msg + pos + 1, n);
                        pos += 1 + n + 1;
                        break;
                case 's':
                case 'o':
                        pos = (pos + 3) & ~(size_t)3;
                        if (pos + 4 > end)
                                return -EBADMSG;
                        n = raw_get_u32(msg + pos, be);
                        if (n > 255 || pos + 4 + n + 1 > end)
                                return -EBADMSG;
                        if (dst)
                                memcpy(dst, msg + pos + 4, n);
                        pos += 4 + n + 1;
                        break;
                default:
                        return -EBADMSG;
                }
        }
        return 0;
}

int raw_connect(const char *address)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        const char *p = strstr(address, "unix:path=");
        size_t n;
        int fd;

        if (!p)
                return -EINVAL;
        p += strlen("unix:path=");
        n = strcspn(p, ",;");
        if (n >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, p, n);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        return fd;
}

int raw_send(int fd, const void *p, size_t n, const int *fds, size_t n_fds)
{
        const uint8_t *q = p;

        while (n > 0) {
                struct iovec iov = { .iov_base = (void *)q, .iov_len = n };
                struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
                union {
                        struct cmsghdr h;
                        char buf[CMSG_SPACE(sizeof(int) * 16)];
                } control;
                ssize_t l;

                if (n_fds) {
                        struct cmsghdr *c;

                        if (n_fds > 16)
                                return -EINVAL;
                        memset(&control, 0, sizeof(control));
                        mh.msg_control = &control;
                        mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
                        c = CMSG_FIRSTHDR(&mh);
                        c->cmsg_level = SOL_SOCKET;
                        c->cmsg_type = SCM_RIGHTS;
                        c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
                        memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
                }
                l = sendmsg(fd, &mh, MSG_NOSIGNAL);
                if (l < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                q += l;
                n -= l;
                n_fds = 0;
        }
        return 0;
}

/* Read exactly @n bytes by @deadline. */
static int raw_read_exact(int fd, void *p, size_t n, int64_t deadline)
{
        uint8_t *q = p;

        while (n > 0) {
                ssize_t l;
                int r = raw_poll(fd, POLLIN, deadline);

                if (r < 0)
                        return r;
                l = read(fd, q, n);
                if (l == 0)
                        return -ECONNRESET;
                if (l < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return errno == ECONNRESET ? -ECONNRESET : -errno;
                }
                q += l;
                n -= l;
        }
        return 0;
}

int raw_read_line(int fd, char *line, size_t size, int timeout_ms)
{
        int64_t deadline = raw_now_ms() + timeout_ms;
        size_t n = 0;

        for (;;) {
                char c;
                int r = raw_read_exact(fd, &c, 1, deadline);

                if (r < 0)
                        return r;
                if (c == '\n' && n > 0 && line[n - 1] == '\r') {
                        line[n - 1] = 0;
                        return (int)n - 1;
                }
                if (n + 1 >= size)
                        return -E2BIG;
                line[n++] = c;
        }
}

int raw_auth(int fd, bool unix_fds, int timeout_ms)
{
        struct raw_buf cmd;
        char line[512];
        int r;

        raw_buf_init(&cmd, false);
        raw_buf_put_auth_external(&cmd);
        r = raw_send(fd, cmd.data, cmd.len, NULL, 0);
        raw_buf_deinit(&cmd);
        if (r < 0)
                return r;
        r = raw_read_line(fd, line, sizeof(line), timeout_ms);
        if (r < 0)
                return r;
        if (strncmp(line, "OK ", 3))
                return -EACCES;
        if (unix_fds) {
                r = raw_send(fd, "NEGOTIATE_UNIX_FD\r\n", 19, NULL, 0);
                if (r < 0)
                        return r;
                r = raw_read_line(fd, line, sizeof(line), timeout_ms);
                if (r < 0)
                        return r;
                if (strcmp(line, "AGREE_UNIX_FD"))
                        return -EACCES;
        }
        return raw_send(fd, "BEGIN\r\n", 7, NULL, 0);
}

int raw_read_message(int fd, struct raw_buf *out, int timeout_ms)
{
        int64_t deadline = raw_now_ms() + timeout_ms;
        size_t size;
        int r;

        out->len = 0;
        raw_buf_put(out, NULL, 16);
        r = raw_read_exact(fd, out->data, 16, deadline);
        if (r < 0)
                return r;
        size = raw_message_size(out->data);
        if (!size)
                return -EBADMSG;
        raw_buf_put(out, NULL, size - 16);
        return raw_read_exact(fd, out->data + 16, size - 16, deadline);
}

int raw_read_reply(int fd, uint32_t serial, struct raw_buf *out, struct raw_info *info,
                   int timeout_ms)
{
        int64_t deadline = raw_now_ms() + timeout_ms;

        for (;;) {
                int64_t left = deadline - raw_now_ms();
                int r;

                r = raw_read_message(fd, out, left > 0 ? (int)left : 0);
                if (r < 0)
                        return r;
                r = raw_message_parse(info, out->data, out->len);
                if (r < 0)
                        return r;
                if ((info->type == RAW_METHOD_RETURN || info->type == RAW_ERROR) &&
                    info->reply_serial == serial)
                        return 0;
        }
}

int raw_hello(int fd, bool big_endian, char *unique, int timeout_ms)
{
        const struct raw_header h = {
                .type = RAW_METHOD_CALL,
                .serial = 1,
                .path = "/org/freedesktop/DBus",
                .interface = "org.freedesktop.DBus",
                .member = "Hello",
                .destination = "org.freedesktop.DBus",
        };
        struct raw_buf m, reply;
        struct raw_info info;
        uint32_t n;
        int r;

        raw_buf_init(&m, big_endian);
        raw_message_build(&m, &h, NULL, 0);
        r = raw_send(fd, m.data, m.len, NULL, 0);
        raw_buf_deinit(&m);
        if (r < 0)
                return r;
        raw_buf_init(&reply, false);
        r = raw_read_reply(fd, 1, &reply, &info, timeout_ms);
        if (r == 0) {
                if (info.type != RAW_METHOD_RETURN || strcmp(info.signature, "s") ||
                    info.body_len < 5) {
                        r = -EPROTO;
                } else {
                        n = raw_get_u32(reply.data + info.body_offset, info.big_endian);
                        if (n > 255 || 4 + n + 1 > info.body_len) {
                                r = -EPROTO;
                        } else {
                                memcpy(unique, reply.data + info.body_offset + 4, n);
                                unique[n] = 0;
                        }
                }
        }
        raw_buf_deinit(&reply);
        return r;
}

int raw_connect_hello(const char *address, bool big_endian, bool unix_fds, char *unique,
                      int timeout_ms)
{
        int fd, r;

        fd = raw_connect(address);
        if (fd < 0)
                return fd;
        r = raw_auth(fd, unix_fds, timeout_ms);
        if (r == 0)
                r = raw_hello(fd, big_endian, unique, timeout_ms);
        if (r < 0) {
                close(fd);
                return r;
        }
        return fd;
}

int raw_wait_closed(int fd, int timeout_ms)
{
        int64_t deadline = raw_now_ms() + timeout_ms;
        uint8_t buf[4096];

        for (;;) {
                ssize_t l;
                int r = raw_poll(fd, POLLIN, deadline);

                if (r < 0)
                        return r;
                l = read(fd, buf, sizeof(buf));
                if (l == 0 || (l < 0 && errno == ECONNRESET))
                        return 0;
                if (l < 0 && errno != EINTR && errno != EAGAIN)
                        return -errno;
        }
}
