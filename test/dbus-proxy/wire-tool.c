/*
 * Helper of test-message-gdbus.py: exposes the wire codec on stdin/stdout so
 * another implementation (GDBus, through python3-gi) can be compared with it.
 *
 *   test-wire-tool parse        blob on stdin; prints "error NAME" or the
 *                               header fields, one "key value" per line, and
 *                               "body DUMP" (format below)
 *   test-wire-tool set-sender N blob on stdin; writes it with SENDER=N
 *   test-wire-tool build le|be  writes a message built with the builder
 *
 * DUMP: values separated by ' ' at the top level and ',' inside containers;
 * y n q i u x t h as the type code and the decimal value, b as b0/b1, d as
 * d and %.17g, s o g as the type code and the hex of the bytes, arrays
 * a[...], structs (...), dict entries {k,v}, variants v<signature>:value.
 * Exit status: 0 on success, 1 on invalid input, 2 on usage errors.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbus-proxy/marshal-builder.h"
#include "dbus-proxy/marshal-reader.h"
#include "dbus-proxy/message.h"

static uint8_t *read_all(size_t *np)
{
        size_t n = 0, alloc = 4096;
        uint8_t *buf = malloc(alloc);
        ssize_t l;

        while (buf && (l = read(0, buf + n, alloc - n)) > 0) {
                n += l;
                if (n == alloc)
                        buf = realloc(buf, alloc *= 2);
        }
        *np = n;
        return buf;
}

static void dump_hex(const char *s)
{
        for (; *s; ++s)
                printf("%02x", (uint8_t)*s);
}

static void dump(struct marshal_reader *r, char sep)
{
        union {
                uint8_t y;
                bool b;
                uint16_t q;
                uint32_t u;
                uint64_t t;
                double d;
                const char *s;
        } v;
        bool first = true;
        char t;

        while ((t = marshal_reader_peek(r))) {
                if (!first)
                        putchar(sep);
                first = false;
                switch (t) {
                case 'a':
                        marshal_reader_enter(r, 'a');
                        printf("a[");
                        dump(r, ',');
                        printf("]");
                        marshal_reader_exit(r);
                        break;
                case '(': case '{':
                        marshal_reader_enter(r, t);
                        putchar(t);
                        dump(r, ',');
                        putchar(t == '(' ? ')' : '}');
                        marshal_reader_exit(r);
                        break;
                case 'v':
                        marshal_reader_enter(r, 'v');
                        printf("v%s:", marshal_reader_signature(r));
                        dump(r, ',');
                        marshal_reader_exit(r);
                        break;
                case 's': case 'o': case 'g':
                        marshal_reader_read(r, t, &v);
                        putchar(t);
                        dump_hex(v.s);
                        break;
                case 'y':
                        marshal_reader_read(r, t, &v);
                        printf("y%u", v.y);
                        break;
                case 'b':
                        marshal_reader_read(r, t, &v);
                        printf("b%d", v.b);
                        break;
                case 'n':
                        marshal_reader_read(r, t, &v);
                        printf("n%d", (int16_t)v.q);
                        break;
                case 'q':
                        marshal_reader_read(r, t, &v);
                        printf("q%u", v.q);
                        break;
                case 'i':
                        marshal_reader_read(r, t, &v);
                        printf("i%" PRId32, (int32_t)v.u);
                        break;
                case 'u': case 'h':
                        marshal_reader_read(r, t, &v);
                        printf("%c%" PRIu32, t, v.u);
                        break;
                case 'x':
                        marshal_reader_read(r, t, &v);
                        printf("x%" PRId64, (int64_t)v.t);
                        break;
                case 't':
                        marshal_reader_read(r, t, &v);
                        printf("t%" PRIu64, v.t);
                        break;
                case 'd':
                        marshal_reader_read(r, t, &v);
                        printf("d%.17g", v.d);
                        break;
                }
        }
}

static int parse(struct message **mp)
{
        int fds[16] = { -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1 };
        size_t n, n_fds = 0;
        uint8_t *buf;
        int r;

        buf = read_all(&n);
        if (!buf)
                return -1;
        r = message_new_from_data(mp, buf, n, NULL, 0);
        for (n_fds = 1; r == MARSHAL_E_UNIX_FDS && n_fds <= 16; ++n_fds)
                r = message_new_from_data(mp, buf, n, fds, n_fds);
        free(buf);
        if (r)
                printf("error %s\n", marshal_strerror(r));
        return r;
}

static void print_field(const char *key, const char *value)
{
        if (value)
                printf("%s %s\n", key, value);
}

static int cmd_parse(void)
{
        struct marshal_reader r;
        struct message *m;

        if (parse(&m))
                return 1;

        printf("endian %c\n", m->big_endian ? 'B' : 'l');
        printf("type %u\n", m->type);
        printf("flags %u\n", m->flags);
        printf("serial %" PRIu32 "\n", m->serial);
        print_field("path", m->path);
        print_field("interface", m->interface);
        print_field("member", m->member);
        print_field("error_name", m->error_name);
        print_field("destination", m->destination);
        print_field("sender", m->sender);
        printf("signature %s\n", m->signature);
        if (m->has_reply_serial)
                printf("reply_serial %" PRIu32 "\n", m->reply_serial);
        printf("unix_fds %" PRIu32 "\n", m->unix_fds);
        printf("body ");
        message_body_reader(m, &r);
        dump(&r, ' ');
        printf("\n");
        message_unref(m);
        return 0;
}

static int cmd_set_sender(const char *sender)
{
        struct message *m;
        uint8_t *wire;
        int r;

        if (parse(&m))
                return 1;
        r = message_set_sender(m, sender);
        if (r) {
                printf("error %s\n", marshal_strerror(r));
                message_unref(m);
                return 1;
        }
        wire = malloc(m->n_wire);
        if (!wire)
                return 1;
        message_write(m, wire);
        fwrite(wire, 1, m->n_wire, stdout);
        free(wire);
        message_unref(m);
        return 0;
}

static int cmd_build(bool be)
{
        struct message_builder b;
        struct message *m;
        uint8_t *wire;
        double d = -2.75;
        int r;

        message_builder_init(&b, MARSHAL_TYPE_SIGNAL, be, 77);
        message_builder_set_field(&b, MARSHAL_FIELD_PATH, "/org/example/Obj");
        message_builder_set_field(&b, MARSHAL_FIELD_INTERFACE, "org.example.Iface");
        message_builder_set_field(&b, MARSHAL_FIELD_MEMBER, "Changed");
        message_builder_set_field(&b, MARSHAL_FIELD_SENDER, ":1.5");
        message_builder_append(&b, 'y', &(uint8_t){ 200 });
        message_builder_append(&b, 'b', &(bool){ true });
        message_builder_append(&b, 'n', &(int16_t){ -300 });
        message_builder_append(&b, 'q', &(uint16_t){ 60000 });
        message_builder_append(&b, 'i', &(int32_t){ -70000 });
        message_builder_append(&b, 'u', &(uint32_t){ 3000000000U });
        message_builder_append(&b, 'x', &(int64_t){ -1099511627776LL });
        message_builder_append(&b, 't', &(uint64_t){ 1ULL << 63 });
        message_builder_append(&b, 'd', &d);
        message_builder_append(&b, 's', &(const char *){ "caf\xc3\xa9" });
        message_builder_append(&b, 'o', &(const char *){ "/x" });
        message_builder_append(&b, 'g', &(const char *){ "a{sv}" });
        message_builder_open(&b, "a{sv}");
        message_builder_open(&b, "{sv}");
        message_builder_append_string(&b, "n");
        message_builder_open_variant(&b, "(ai)");
        message_builder_open(&b, "(ai)");
        message_builder_open(&b, "ai");
        message_builder_append(&b, 'i', &(int32_t){ 1 });
        message_builder_append(&b, 'i', &(int32_t){ 2 });
        message_builder_close(&b);
        message_builder_close(&b);
        message_builder_close(&b);
        message_builder_close(&b);
        message_builder_close(&b);
        message_builder_open(&b, "aay");
        message_builder_open(&b, "ay");
        message_builder_close(&b);
        message_builder_close(&b);
        r = message_builder_seal(&b, &m, NULL, 0);
        message_builder_deinit(&b);
        if (r) {
                printf("error %s\n", marshal_strerror(r));
                return 1;
        }
        wire = malloc(m->n_wire);
        if (!wire)
                return 1;
        message_write(m, wire);
        fwrite(wire, 1, m->n_wire, stdout);
        free(wire);
        message_unref(m);
        return 0;
}

int main(int argc, char **argv)
{
        if (argc == 2 && !strcmp(argv[1], "parse"))
                return cmd_parse();
        if (argc == 3 && !strcmp(argv[1], "set-sender"))
                return cmd_set_sender(argv[2]);
        if (argc == 3 && !strcmp(argv[1], "build"))
                return cmd_build(!strcmp(argv[2], "be"));
        fprintf(stderr, "usage: %s parse | set-sender NAME | build le|be\n", argv[0]);
        return 2;
}
