/*
 * Fuzz target of the D-Bus message parser (dbus-proxy/message.c) through its
 * real entry points: message_frame_size(), message_new_from_data(), the
 * body reader, message_read_args() and message_set_sender().
 *
 * Properties checked on every input:
 *  - the frame size agrees with the parser: a message that parses has
 *    exactly the size message_frame_size() announced;
 *  - a valid message can be walked completely by the reader, which ends
 *    exactly at the end of the body;
 *  - after message_set_sender() the wire form parses again, with the new
 *    sender, every other header field unchanged and the same body bytes;
 *    a second set_sender (a 255-byte name) does the same.
 * Any violation aborts (assert), which libFuzzer and `make check` report.
 *
 * Built two ways:
 *  - by `make check` (gcc, no libFuzzer): main() below replays every file in
 *    test/dbus-proxy/corpus-message/ (or the files/directories given as
 *    arguments) and prints TAP;
 *  - by `make fuzz-message` (clang -fsanitize=fuzzer, -DFUZZ_LIBFUZZER): the
 *    libFuzzer driver calls LLVMFuzzerTestOneInput(); see
 *    test/dbus-proxy/local.mk.
 */
#undef NDEBUG
#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dbus-proxy/marshal-reader.h"
#include "dbus-proxy/message.h"
#include "dbus-proxy/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* read every value at the current level and below */
static void fuzz_walk(struct marshal_reader *r)
{
        union {
                uint64_t u;
                bool b;
                const char *s;
        } v;
        char t;

        while ((t = marshal_reader_peek(r))) {
                switch (t) {
                case 'a': case '(': case '{': case 'v':
                        assert(marshal_reader_enter(r, t) == 0);
                        fuzz_walk(r);
                        assert(marshal_reader_exit(r) == 0);
                        break;
                case 's': case 'o': case 'g':
                        assert(marshal_reader_read(r, t, &v) == 0);
                        assert(v.s);
                        if (t == 's')
                                assert(validate_utf8(v.s, strlen(v.s)));
                        else if (t == 'o')
                                assert(syntax_is_object_path_n(v.s, strlen(v.s)));
                        else
                                assert(validate_signature(v.s, strlen(v.s)) == 0);
                        break;
                default:
                        assert(marshal_reader_read(r, t, &v) == 0);
                        break;
                }
        }
}

static bool same_field(const char *a, size_t n_a, const char *b, size_t n_b)
{
        if (!a || !b)
                return !a && !b;
        return n_a == n_b && !memcmp(a, b, n_a) && !a[n_a] && !b[n_b];
}

/* @m2 is @m re-parsed after set_sender(@sender) */
static void fuzz_check_resent(const struct message *m, const struct message *m2, const char *sender)
{
        assert(m2->big_endian == m->big_endian);
        assert(m2->type == m->type);
        assert(m2->flags == m->flags);
        assert(m2->serial == m->serial);
        assert(same_field(m2->path, m2->n_path, m->path, m->n_path));
        assert(same_field(m2->interface, m2->n_interface, m->interface, m->n_interface));
        assert(same_field(m2->member, m2->n_member, m->member, m->n_member));
        assert(same_field(m2->error_name, m2->n_error_name, m->error_name, m->n_error_name));
        assert(same_field(m2->destination, m2->n_destination, m->destination, m->n_destination));
        assert(same_field(m2->signature, m2->n_signature, m->signature, m->n_signature));
        assert(m2->has_reply_serial == m->has_reply_serial);
        assert(m2->reply_serial == m->reply_serial);
        assert(m2->unix_fds == m->unix_fds);
        assert(m2->sender && !strcmp(m2->sender, sender));
        assert(m2->n_body == m->n_body);
        assert(!memcmp(m2->data + m2->body_offset, m->vecs[2].iov_base, m->n_body));
}

static void fuzz_set_sender(struct message *m, const char *sender)
{
        struct message *m2 = NULL;
        uint8_t *wire;
        int fds[8], r;
        size_t i;

        assert(message_set_sender(m, sender) == 0);
        assert(!strcmp(m->sender, sender));
        assert(m->n_wire == m->vecs[0].iov_len + m->vecs[1].iov_len + m->vecs[2].iov_len);

        wire = malloc(m->n_wire);
        assert(wire);
        message_write(m, wire);
        for (i = 0; i < m->n_fds; ++i)
                fds[i] = -1;
        r = message_new_from_data(&m2, wire, m->n_wire, fds, m->n_fds);
        if (r)
                fprintf(stderr, "re-parse after set_sender: %s\n", marshal_strerror(r));
        assert(r == 0);
        fuzz_check_resent(m, m2, sender);
        message_unref(m2);
        free(wire);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct message_arg args[64];
        struct marshal_reader rd;
        struct message *m = NULL;
        char long_name[256];
        int fds[8], r, r_frame;
        size_t frame = 0, n_fds;

        r_frame = message_frame_size(data, size, &frame);

        /* fds are -1 placeholders: the message never closes them */
        for (n_fds = 0; n_fds < 8; ++n_fds)
                fds[n_fds] = -1;
        r = message_new_from_data(&m, data, size, NULL, 0);
        for (n_fds = 1; r == MARSHAL_E_UNIX_FDS && n_fds <= 8; ++n_fds)
                r = message_new_from_data(&m, data, size, fds, n_fds);
        if (r) {
                assert(r > 0 && r < _MARSHAL_E_N);
                assert(!m);
                return 0;
        }

        assert(r_frame == 0 && frame == size);

        message_body_reader(m, &rd);
        fuzz_walk(&rd);
        assert(rd.pos == m->n_data);
        message_read_args(m, args, 64);

        fuzz_set_sender(m, ":1.42");
        memset(long_name, 'x', 255);
        long_name[0] = ':';
        long_name[255] = 0;
        fuzz_set_sender(m, long_name);

        message_unref(m);
        return 0;
}

#ifndef FUZZ_LIBFUZZER

static int replay_file(const char *path, unsigned int *n)
{
        struct stat st;
        uint8_t *buf;
        ssize_t len;
        int fd;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0) {
                printf("not ok %u - %s: cannot open\n", ++*n, path);
                if (fd >= 0)
                        close(fd);
                return 1;
        }
        buf = malloc(st.st_size ? st.st_size : 1);
        assert(buf);
        len = read(fd, buf, st.st_size);
        close(fd);
        if (len != st.st_size) {
                printf("not ok %u - %s: short read\n", ++*n, path);
                free(buf);
                return 1;
        }

        /* an assertion failure aborts the whole run: the test fails */
        LLVMFuzzerTestOneInput(buf, len);
        printf("ok %u - %s\n", ++*n, path);
        free(buf);
        return 0;
}

static int replay_dir(const char *dir, unsigned int *n)
{
        struct dirent **list;
        int i, count, failed = 0;

        count = scandir(dir, &list, NULL, alphasort);
        if (count < 0) {
                printf("not ok %u - %s: cannot read directory\n", ++*n, dir);
                return 1;
        }
        for (i = 0; i < count; ++i) {
                char path[4096];

                if (list[i]->d_name[0] != '.') {
                        snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
                        failed |= replay_file(path, n);
                }
                free(list[i]);
        }
        free(list);
        return failed;
}

int main(int argc, char **argv)
{
        const char *srcdir = getenv("top_srcdir");
        unsigned int n = 0;
        char dir[4096];
        int i, failed = 0;
        struct stat st;

        /* stdout is the TAP stream; keep it in order with abort messages */
        setvbuf(stdout, NULL, _IOLBF, 0);

        if (argc > 1) {
                for (i = 1; i < argc; ++i) {
                        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
                                failed |= replay_dir(argv[i], &n);
                        else
                                failed |= replay_file(argv[i], &n);
                }
        } else {
                snprintf(dir, sizeof(dir), "%s/test/dbus-proxy/corpus-message", srcdir ? srcdir : ".");
                failed |= replay_dir(dir, &n);
        }

        if (!n) {
                printf("not ok 1 - empty corpus\n");
                n = 1;
                failed = 1;
        }
        printf("1..%u\n", n);
        return failed;
}

#endif
