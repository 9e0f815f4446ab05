/*
 * Writes the seed corpus of fuzz-message into a directory:
 *     test/dbus-proxy/test-gen-corpus-message test/dbus-proxy/corpus-message
 * Valid messages of every type in both byte orders, and one invalid message
 * per validation rule. The files are kept in the tree; rerun this only to
 * regenerate the seeds (crashers found by fuzzing are added beside them).
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbus-proxy/marshal-builder.h"
#include "dbus-proxy/message.h"
#include "test/dbus-proxy/wire-raw.h"

static const char *out_dir;

static void put(const char *name, bool be, const void *data, size_t n)
{
        char path[4096];
        int fd;

        snprintf(path, sizeof(path), "%s/%s-%s", out_dir, be ? "be" : "le", name);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, data, n) != (ssize_t)n) {
                perror(path);
                exit(1);
        }
        close(fd);
}

static void put_raw(const char *name, struct raw *r)
{
        raw_finish(r);
        put(name, r->be, r->buf, r->n);
}

static void put_message(const char *name, bool be, struct message *m)
{
        uint8_t *buf = malloc(m->n_wire);

        message_write(m, buf);
        put(name, be, buf, m->n_wire);
        free(buf);
        message_unref(m);
}

static struct message *seal(struct message_builder *b)
{
        struct message *m = NULL;
        int r;

        r = message_builder_seal(b, &m, NULL, 0);
        if (r) {
                fprintf(stderr, "seal: %s\n", marshal_strerror(r));
                exit(1);
        }
        message_builder_deinit(b);
        return m;
}

static void gen(bool be)
{
        struct message_builder b;
        struct message *m;
        struct raw r;
        uint32_t u = 7;
        double d = 1.5;
        int i;

        /* driver-like messages */
        message_builder_init(&b, MARSHAL_TYPE_METHOD_CALL, be, 1);
        message_builder_set_field(&b, MARSHAL_FIELD_PATH, "/org/freedesktop/DBus");
        message_builder_set_field(&b, MARSHAL_FIELD_INTERFACE, "org.freedesktop.DBus");
        message_builder_set_field(&b, MARSHAL_FIELD_MEMBER, "Hello");
        message_builder_set_field(&b, MARSHAL_FIELD_DESTINATION, "org.freedesktop.DBus");
        put_message("hello", be, seal(&b));

        message_builder_init(&b, MARSHAL_TYPE_METHOD_RETURN, be, 2);
        message_builder_set_reply_serial(&b, 1);
        message_builder_set_field(&b, MARSHAL_FIELD_DESTINATION, ":1.42");
        message_builder_set_field(&b, MARSHAL_FIELD_SENDER, "org.freedesktop.DBus");
        message_builder_append_string(&b, ":1.42");
        put_message("hello-reply", be, seal(&b));

        message_builder_init(&b, MARSHAL_TYPE_SIGNAL, be, 3);
        message_builder_set_field(&b, MARSHAL_FIELD_PATH, "/org/freedesktop/DBus");
        message_builder_set_field(&b, MARSHAL_FIELD_INTERFACE, "org.freedesktop.DBus");
        message_builder_set_field(&b, MARSHAL_FIELD_MEMBER, "NameOwnerChanged");
        message_builder_append_string(&b, "com.example.Name");
        message_builder_append_string(&b, "");
        message_builder_append_string(&b, ":1.7");
        put_message("name-owner-changed", be, seal(&b));

        message_builder_init(&b, MARSHAL_TYPE_ERROR, be, 4);
        message_builder_set_reply_serial(&b, 9);
        message_builder_set_field(&b, MARSHAL_FIELD_ERROR_NAME, "org.freedesktop.DBus.Error.ServiceUnknown");
        message_builder_append_string(&b, "The name is not activatable");
        put_message("error", be, seal(&b));

        /* properties-like a{sv} with nesting, and a set_sender'ed copy */
        message_builder_init(&b, MARSHAL_TYPE_METHOD_RETURN, be, 5);
        message_builder_set_reply_serial(&b, 3);
        message_builder_open(&b, "a{sv}");
        message_builder_open(&b, "{sv}");
        message_builder_append_string(&b, "Features");
        message_builder_open_variant(&b, "as");
        message_builder_open(&b, "as");
        message_builder_append_string(&b, "SystemdActivation");
        message_builder_close(&b);
        message_builder_close(&b);
        message_builder_close(&b);
        message_builder_open(&b, "{sv}");
        message_builder_append_string(&b, "Nested");
        message_builder_open_variant(&b, "a{sv}");
        message_builder_open(&b, "a{sv}");
        message_builder_open(&b, "{sv}");
        message_builder_append_string(&b, "d");
        message_builder_open_variant(&b, "(dub)");
        message_builder_open(&b, "(dub)");
        message_builder_append(&b, 'd', &d);
        message_builder_append_u32(&b, 1);
        message_builder_append(&b, 'b', &(bool){ true });
        message_builder_close(&b);
        message_builder_close(&b);
        message_builder_close(&b);
        message_builder_close(&b);
        message_builder_close(&b);
        message_builder_close(&b);
        message_builder_close(&b);
        m = seal(&b);
        put_message("properties", be, message_ref(m));
        message_set_sender(m, ":1.9");
        put_message("properties-sender", be, m);

        /* every basic type */
        message_builder_init(&b, MARSHAL_TYPE_METHOD_CALL, be, 6);
        message_builder_set_field(&b, MARSHAL_FIELD_PATH, "/a");
        message_builder_set_field(&b, MARSHAL_FIELD_MEMBER, "Basic");
        message_builder_append(&b, 'y', &(uint8_t){ 255 });
        message_builder_append(&b, 'b', &(bool){ false });
        message_builder_append(&b, 'n', &(int16_t){ -1 });
        message_builder_append(&b, 'q', &(uint16_t){ 1 });
        message_builder_append(&b, 'i', &(int32_t){ -1 });
        message_builder_append(&b, 'u', &u);
        message_builder_append(&b, 'x', &(int64_t){ -1 });
        message_builder_append(&b, 't', &(uint64_t){ 1 });
        message_builder_append(&b, 'd', &d);
        message_builder_append(&b, 's', &(const char *){ "\xe2\x82\xac" });
        message_builder_append(&b, 'o', &(const char *){ "/x/y" });
        message_builder_append(&b, 'g', &(const char *){ "a(yv)" });
        message_builder_open(&b, "ay");
        for (i = 0; i < 5; ++i)
                message_builder_append(&b, 'y', &(uint8_t){ i });
        message_builder_close(&b);
        message_builder_open(&b, "aat");
        message_builder_open(&b, "at");
        message_builder_append(&b, 't', &(uint64_t){ 2 });
        message_builder_close(&b);
        message_builder_close(&b);
        put_message("basic", be, seal(&b));

        /* unix fds */
        message_builder_init(&b, MARSHAL_TYPE_METHOD_CALL, be, 7);
        message_builder_set_field(&b, MARSHAL_FIELD_PATH, "/a");
        message_builder_set_field(&b, MARSHAL_FIELD_MEMBER, "Fds");
        message_builder_append(&b, 'h', &(uint32_t){ 1 });
        message_builder_open(&b, "ah");
        message_builder_append(&b, 'h', &(uint32_t){ 0 });
        message_builder_close(&b);
        message_builder_seal(&b, &m, (int[]){ -1, -1 }, 2);
        message_builder_deinit(&b);
        put_message("fds", be, m);

        /* 64 nested variants, and 65 */
        for (i = 64; i <= 65; ++i) {
                int k;

                raw_call(&r, be, "v");
                for (k = 1; k < i; ++k)
                        raw_sig(&r, "v");
                raw_sig(&r, "y");
                raw_u8(&r, 1);
                put_raw(i == 64 ? "variants-64" : "invalid-variants-65", &r);
        }

        /* unknown header field and message type */
        raw_begin(&r, be, MARSHAL_TYPE_METHOD_CALL, 0, 1);
        raw_call_fields(&r);
        raw_field_str(&r, 77, 'g', "a{sv}");
        raw_end_fields(&r);
        put_raw("unknown-field", &r);
        raw_begin(&r, be, 9, 0, 1);
        raw_end_fields(&r);
        put_raw("unknown-type", &r);

        /* invalid: one per rule */
        raw_call(&r, be, "s");
        raw_str(&r, "\xed\xa0\x80");
        put_raw("invalid-utf8-surrogate", &r);
        raw_call(&r, be, "s");
        raw_str(&r, "\xc0\x80");
        put_raw("invalid-utf8-overlong", &r);
        raw_call(&r, be, "s");
        raw_strn(&r, "a\0b", 3);
        put_raw("invalid-string-nul", &r);
        raw_call(&r, be, "b");
        raw_u32(&r, 2);
        put_raw("invalid-boolean", &r);
        raw_call(&r, be, "yu");
        raw_u8(&r, 1);
        raw_u8(&r, 1);
        raw_u32(&r, 1);
        put_raw("invalid-padding", &r);
        raw_call(&r, be, "au");
        raw_u32(&r, 5);
        raw_u32(&r, 1);
        raw_u8(&r, 1);
        put_raw("invalid-array-length", &r);
        raw_call(&r, be, "ay");
        raw_u32(&r, MARSHAL_MAX_ARRAY_SIZE + 1);
        put_raw("invalid-array-too-large", &r);
        raw_call(&r, be, "v");
        raw_sig(&r, "");
        put_raw("invalid-variant-empty", &r);
        raw_call(&r, be, "g");
        raw_sig(&r, "a{vs}");
        put_raw("invalid-signature", &r);
        raw_call(&r, be, "o");
        raw_str(&r, "/a/");
        put_raw("invalid-object-path", &r);
        raw_call(&r, be, "u");
        raw_u32(&r, 1);
        raw_u32(&r, 1);
        put_raw("invalid-trailing-body", &r);
        raw_call(&r, be, "h");
        raw_u32(&r, 0);
        put_raw("invalid-fd-index", &r);
        raw_begin(&r, be, MARSHAL_TYPE_SIGNAL, 0, 1);
        raw_call_fields(&r);
        raw_end_fields(&r);
        put_raw("invalid-missing-interface", &r);
        raw_begin(&r, be, MARSHAL_TYPE_METHOD_CALL, 0, 1);
        raw_call_fields(&r);
        raw_field_str(&r, MARSHAL_FIELD_MEMBER, 's', "Twice");
        raw_end_fields(&r);
        put_raw("invalid-duplicate-field", &r);
        raw_begin(&r, be, MARSHAL_TYPE_METHOD_CALL, 0, 1);
        raw_call_fields(&r);
        raw_field_str(&r, MARSHAL_FIELD_DESTINATION, 'o', "/wrong/type");
        raw_end_fields(&r);
        put_raw("invalid-field-type", &r);
        raw_begin(&r, be, MARSHAL_TYPE_METHOD_CALL, 0, 1);
        raw_call_fields(&r);
        raw_field_str(&r, MARSHAL_FIELD_SENDER, 's', ":1..2");
        raw_end_fields(&r);
        put_raw("invalid-sender", &r);
        raw_call(&r, be, "s");
        raw_str(&r, "truncated");
        raw_finish(&r);
        put("invalid-truncated", be, r.buf, r.n - 3);
}

int main(int argc, char **argv)
{
        if (argc != 2) {
                fprintf(stderr, "usage: %s DIRECTORY\n", argv[0]);
                return 2;
        }
        out_dir = argv[1];
        gen(false);
        gen(true);
        return 0;
}
