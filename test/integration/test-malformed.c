/*
 * Malformed input over a raw socket (test/integration/raw.h): truncated
 * headers and bodies, lying lengths, invalid signatures, bad UTF-8, invalid
 * names, bad SASL lines, unix fds claimed but not passed. Each case checks
 * how the offending connection is treated (closed, or an SASL ERROR/REJECTED
 * where the protocol says so) and that two other clients connected before
 * it (one libdbus, one raw big-endian) still work afterwards and the broker
 * is still running.
 *
 * Every case starts its own broker (the environment's choice; SKIP while it
 * does not exist); test-malformed-reference.sh runs this program again with
 * BUS1_TEST_BROKER=dbus-daemon.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "test/integration/raw.h"
#include "test/lib/bus.h"
#include "test/lib/client.h"
#include "test/lib/tap.h"

#define TIMEOUT_MS 5000

struct fixture {
        struct test_bus *bus;
        DBusConnection *good;           /* libdbus client */
        int raw;                        /* raw big-endian client */
        char raw_name[256];
        uint32_t raw_serial;
};

static int fixture_setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        if (!f)
                return -1;
        f->raw = -1;
        *state = f;
        return 0;
}

/* Start the bus and the two good clients (in the test: a SKIP counts there). */
static struct fixture *start(void **state)
{
        struct fixture *f = *state;

        TEST_BUS_NEW_OR_SKIP(&f->bus, NULL);
        assert_int_equal(test_client_connect(&f->good, test_bus_address(f->bus)), 0);
        f->raw = raw_connect_hello(test_bus_address(f->bus), true, true, f->raw_name, TIMEOUT_MS);
        assert_true(f->raw >= 0);
        f->raw_serial = 1;
        return f;
}

static int fixture_teardown(void **state)
{
        struct fixture *f = *state;

        if (f) {
                test_client_free(f->good);
                if (f->raw >= 0)
                        close(f->raw);
                test_bus_free(f->bus);
                free(f);
        }
        return 0;
}

/* The broker runs, and both good clients get answers from the driver. */
static void assert_others_alive(struct fixture *f)
{
        const char *name = f->raw_name;
        DBusMessage *m, *reply;
        struct raw_buf msg, body, in;
        struct raw_info info;
        DBusError error;
        const char *owner;

        assert_int_equal(kill(test_bus_pid(f->bus), 0), 0);

        /* libdbus: GetNameOwner(raw client's name) = its name */
        m = dbus_message_new_method_call(DBUS_SERVICE_DBUS, DBUS_PATH_DBUS, DBUS_INTERFACE_DBUS,
                                         "GetNameOwner");
        assert_non_null(m);
        assert_true(dbus_message_append_args(m, DBUS_TYPE_STRING, &name, DBUS_TYPE_INVALID));
        dbus_error_init(&error);
        reply = dbus_connection_send_with_reply_and_block(f->good, m, TIMEOUT_MS, &error);
        if (!reply)
                print_message("# GetNameOwner: %s: %s\n", error.name, error.message);
        assert_non_null(reply);
        assert_true(dbus_message_get_args(reply, &error, DBUS_TYPE_STRING, &owner, DBUS_TYPE_INVALID));
        assert_string_equal(owner, f->raw_name);
        dbus_message_unref(reply);
        dbus_message_unref(m);

        /* raw big-endian client: NameHasOwner(libdbus client's name) = true */
        raw_buf_init(&body, true);
        raw_buf_put_string(&body, dbus_bus_get_unique_name(f->good));
        raw_buf_init(&msg, true);
        raw_message_build(&msg, &(struct raw_header){
                .type = RAW_METHOD_CALL, .serial = ++f->raw_serial,
                .path = "/org/freedesktop/DBus", .interface = "org.freedesktop.DBus",
                .member = "NameHasOwner", .destination = "org.freedesktop.DBus",
                .signature = "s" }, body.data, body.len);
        assert_int_equal(raw_send(f->raw, msg.data, msg.len, NULL, 0), 0);
        raw_buf_init(&in, false);
        assert_int_equal(raw_read_reply(f->raw, f->raw_serial, &in, &info, TIMEOUT_MS), 0);
        assert_int_equal(info.type, RAW_METHOD_RETURN);
        assert_string_equal(info.signature, "b");
        assert_int_equal(info.body_len, 4);
        /* a boolean true in the reply's byte order */
        assert_true(in.data[info.body_offset + (info.big_endian ? 3 : 0)] == 1);
        raw_buf_deinit(&in);
        raw_buf_deinit(&msg);
        raw_buf_deinit(&body);
}

/* Connect, authenticate, optionally Hello; the offending connection. */
static int bad_connect(struct fixture *f, bool hello, bool unix_fds)
{
        char name[256];
        int fd;

        if (hello) {
                fd = raw_connect_hello(test_bus_address(f->bus), false, unix_fds, name, TIMEOUT_MS);
                assert_true(fd >= 0);
        } else {
                fd = raw_connect(test_bus_address(f->bus));
                assert_true(fd >= 0);
                assert_int_equal(raw_auth(fd, unix_fds, TIMEOUT_MS), 0);
        }
        return fd;
}

/* Send @bytes on a fresh registered connection, expect it closed, others fine. */
static void expect_closed_after(struct fixture *f, bool hello, const void *bytes, size_t n)
{
        int fd = bad_connect(f, hello, false);

        /* the broker may close before it read everything: EPIPE is fine */
        (void)raw_send(fd, bytes, n, NULL, 0);
        assert_int_equal(raw_wait_closed(fd, TIMEOUT_MS), 0);
        close(fd);
        assert_others_alive(f);
}

/* A method call to the driver, NameHasOwner(@arg), in @be byte order. */
static void build_call(struct raw_buf *out, bool be, const struct raw_header *override,
                       const char *arg)
{
        struct raw_header h = {
                .type = RAW_METHOD_CALL, .serial = 2,
                .path = "/org/freedesktop/DBus", .interface = "org.freedesktop.DBus",
                .member = "NameHasOwner", .destination = "org.freedesktop.DBus",
                .signature = "s",
        };
        struct raw_buf body;

        if (override)
                h = *override;
        raw_buf_init(&body, be);
        raw_buf_put_string(&body, arg);
        raw_buf_init(out, be);
        raw_message_build(out, &h, body.data, body.len);
        raw_buf_deinit(&body);
}

/* sanity: the well-formed message that the cases below break is answered */
static void test_valid_baseline(void **state)
{
        struct fixture *f = start(state);
        struct raw_buf m, in;
        struct raw_info info;
        int fd = bad_connect(f, true, false);

        build_call(&m, false, NULL, "org.freedesktop.DBus");
        assert_int_equal(raw_send(fd, m.data, m.len, NULL, 0), 0);
        raw_buf_init(&in, false);
        assert_int_equal(raw_read_reply(fd, 2, &in, &info, TIMEOUT_MS), 0);
        assert_int_equal(info.type, RAW_METHOD_RETURN);
        assert_string_equal(info.signature, "b");
        raw_buf_deinit(&in);
        raw_buf_deinit(&m);
        close(fd);
        assert_others_alive(f);
}

static void test_truncated_header_then_close(void **state)
{
        struct fixture *f = start(state);
        struct raw_buf m;
        int fd = bad_connect(f, true, false);

        build_call(&m, false, NULL, "org.freedesktop.DBus");
        assert_int_equal(raw_send(fd, m.data, 10, NULL, 0), 0);
        close(fd);
        raw_buf_deinit(&m);
        assert_others_alive(f);
}

static void test_truncated_body_then_close(void **state)
{
        struct fixture *f = start(state);
        struct raw_buf m;
        int fd = bad_connect(f, true, false);

        build_call(&m, false, NULL, "org.freedesktop.DBus");
        assert_int_equal(raw_send(fd, m.data, m.len - 6, NULL, 0), 0);
        close(fd);
        raw_buf_deinit(&m);
        assert_others_alive(f);
}

/* The string's length runs past the end of the body. */
static void test_string_length_past_body(void **state)
{
        struct fixture *f = start(state);
        struct raw_buf m;

        build_call(&m, false, NULL, "org.freedesktop.DBus");
        /* body starts 8-aligned after the fields; its first u32 is the length */
        m.data[m.len - 25] = 200;
        expect_closed_after(f, true, m.data, m.len);
        raw_buf_deinit(&m);
}

/* A header-field array length that ends inside a field. */
static void test_field_array_length_wrong(void **state)
{
        struct fixture *f = start(state);
        struct raw_buf m;

        build_call(&m, false, NULL, "org.freedesktop.DBus");
        m.data[12] -= 3;
        expect_closed_after(f, true, m.data, m.len);
        raw_buf_deinit(&m);
}

/* A body length far beyond the 128 MiB limit: closed without the body. */
static void test_huge_body_length(void **state)
{
        struct fixture *f = start(state);
        struct raw_buf m;

        build_call(&m, false, NULL, "org.freedesktop.DBus");
        m.data[4] = 0xf0; m.data[5] = 0xff; m.data[6] = 0xff; m.data[7] = 0xff;
        expect_closed_after(f, true, m.data, m.len);
        raw_buf_deinit(&m);
}

/* A body length that does not match what the signature describes. */
static void test_body_longer_than_signature(void **state)
{
        struct fixture *f = start(state);
        struct raw_buf m, body;

        raw_buf_init(&body, false);
        raw_buf_put_string(&body, "org.freedesktop.DBus");
        raw_buf_put_u32(&body, 7);      /* not in signature "s" */
        raw_buf_init(&m, false);
        raw_message_build(&m, &(struct raw_header){
                .type = RAW_METHOD_CALL, .serial = 2, .path = "/org/freedesktop/DBus",
                .interface = "org.freedesktop.DBus", .member = "NameHasOwner",
                .destination = "org.freedesktop.DBus", .signature = "s" }, body.data, body.len);
        expect_closed_after(f, true, m.data, m.len);
        raw_buf_deinit(&m);
        raw_buf_deinit(&body);
}

static void check_bad_signature(void **state, const char *sig)
{
        struct fixture *f = start(state);
        struct raw_buf m;

        build_call(&m, false, &(struct raw_header){
                .type = RAW_METHOD_CALL, .serial = 2, .path = "/org/freedesktop/DBus",
                .interface = "org.freedesktop.DBus", .member = "NameHasOwner",
                .destination = "org.freedesktop.DBus", .signature = sig }, "x");
        expect_closed_after(f, true, m.data, m.len);
        raw_buf_deinit(&m);
}

static void test_signature_unbalanced(void **state) { check_bad_signature(state, "(s"); }
static void test_signature_unknown_type(void **state) { check_bad_signature(state, "Z"); }
static void test_signature_empty_struct(void **state) { check_bad_signature(state, "()"); }

static void test_bad_utf8_argument(void **state)
{
        struct fixture *f = start(state);
        struct raw_buf m;

        build_call(&m, false, NULL, "com.example.\xff\xfe");
        expect_closed_after(f, true, m.data, m.len);
        raw_buf_deinit(&m);
}

static void test_bad_utf8_overlong(void **state)
{
        struct fixture *f = start(state);
        struct raw_buf m;

        /* an overlong encoding of '/' and a NUL inside the string */
        build_call(&m, false, NULL, "com.example.\xc0\xaf");
        expect_closed_after(f, true, m.data, m.len);
        raw_buf_deinit(&m);
}

static void test_invalid_member_name(void **state)
{
        struct fixture *f = start(state);
        struct raw_buf m;

        build_call(&m, false, &(struct raw_header){
                .type = RAW_METHOD_CALL, .serial = 2, .path = "/org/freedesktop/DBus",
                .interface = "org.freedesktop.DBus", .member = "Name-Has.Owner",
                .destination = "org.freedesktop.DBus", .signature = "s" }, "x");
        expect_closed_after(f, true, m.data, m.len);
        raw_buf_deinit(&m);
}

static void test_invalid_path(void **state)
{
        struct fixture *f = start(state);
        struct raw_buf m;

        build_call(&m, false, &(struct raw_header){
                .type = RAW_METHOD_CALL, .serial = 2, .path = "/org//x/",
                .interface = "org.freedesktop.DBus", .member = "NameHasOwner",
                .destination = "org.freedesktop.DBus", .signature = "s" }, "x");
        expect_closed_after(f, true, m.data, m.len);
        raw_buf_deinit(&m);
}

static void test_method_call_without_member(void **state)
{
        struct fixture *f = start(state);
        struct raw_buf m;

        build_call(&m, false, &(struct raw_header){
                .type = RAW_METHOD_CALL, .serial = 2, .path = "/org/freedesktop/DBus",
                .destination = "org.freedesktop.DBus", .signature = "s" }, "x");
        expect_closed_after(f, true, m.data, m.len);
        raw_buf_deinit(&m);
}

static void test_serial_zero(void **state)
{
        struct fixture *f = start(state);
        struct raw_buf m;

        build_call(&m, false, &(struct raw_header){
                .type = RAW_METHOD_CALL, .serial = 0, .path = "/org/freedesktop/DBus",
                .interface = "org.freedesktop.DBus", .member = "NameHasOwner",
                .destination = "org.freedesktop.DBus", .signature = "s" }, "x");
        expect_closed_after(f, true, m.data, m.len);
        raw_buf_deinit(&m);
}

static void test_bad_endianness_byte(void **state)
{
        struct fixture *f = start(state);
        struct raw_buf m;

        build_call(&m, false, NULL, "org.freedesktop.DBus");
        m.data[0] = 'X';
        expect_closed_after(f, true, m.data, m.len);
        raw_buf_deinit(&m);
}

static void test_bad_protocol_version(void **state)
{
        struct fixture *f = start(state);
        struct raw_buf m;

        build_call(&m, false, NULL, "org.freedesktop.DBus");
        m.data[3] = 2;
        expect_closed_after(f, true, m.data, m.len);
        raw_buf_deinit(&m);
}

static void test_message_type_invalid(void **state)
{
        struct fixture *f = start(state);
        struct raw_buf m;

        build_call(&m, false, NULL, "org.freedesktop.DBus");
        m.data[1] = 0;
        expect_closed_after(f, true, m.data, m.len);
        raw_buf_deinit(&m);
}

/* Anything but Hello as the first message: an AccessDenied error reply. */
static void test_call_before_hello(void **state)
{
        struct fixture *f = start(state);
        struct raw_buf m, in;
        struct raw_info info;
        int fd = bad_connect(f, false, false);

        build_call(&m, false, NULL, "org.freedesktop.DBus");
        assert_int_equal(raw_send(fd, m.data, m.len, NULL, 0), 0);
        raw_buf_init(&in, false);
        assert_int_equal(raw_read_reply(fd, 2, &in, &info, TIMEOUT_MS), 0);
        assert_int_equal(info.type, RAW_ERROR);
        assert_string_equal(info.error_name, "org.freedesktop.DBus.Error.AccessDenied");
        raw_buf_deinit(&in);
        raw_buf_deinit(&m);
        close(fd);
        assert_others_alive(f);
}

/* A second Hello on a registered connection. */
static void test_second_hello(void **state)
{
        struct fixture *f = start(state);
        struct raw_buf m, in;
        struct raw_info info;
        int fd = bad_connect(f, true, false);
        int r;

        raw_buf_init(&m, false);
        raw_message_build(&m, &(struct raw_header){
                .type = RAW_METHOD_CALL, .serial = 2, .path = "/org/freedesktop/DBus",
                .interface = "org.freedesktop.DBus", .member = "Hello",
                .destination = "org.freedesktop.DBus" }, NULL, 0);
        assert_int_equal(raw_send(fd, m.data, m.len, NULL, 0), 0);
        raw_buf_init(&in, false);
        /* dbus-daemon answers with an error and keeps the connection */
        r = raw_read_reply(fd, 2, &in, &info, TIMEOUT_MS);
        assert_int_equal(r, 0);
        assert_int_equal(info.type, RAW_ERROR);
        assert_string_equal(info.error_name, "org.freedesktop.DBus.Error.Failed");
        raw_buf_deinit(&in);
        raw_buf_deinit(&m);
        close(fd);
        assert_others_alive(f);
}

/* --- SASL ----------------------------------------------------------------- */

/* A connection that sends @bytes as its very first bytes. */
static int sasl_connect_send(struct fixture *f, const void *bytes, size_t n)
{
        int fd = raw_connect(test_bus_address(f->bus));

        assert_true(fd >= 0);
        (void)raw_send(fd, bytes, n, NULL, 0);
        return fd;
}

static void test_sasl_no_nul_byte(void **state)
{
        struct fixture *f = start(state);
        static const char s[] = "AUTH EXTERNAL 30\r\n";
        int fd = sasl_connect_send(f, s, sizeof(s) - 1);

        assert_int_equal(raw_wait_closed(fd, TIMEOUT_MS), 0);
        close(fd);
        assert_others_alive(f);
}

/* An unknown command gets ERROR; the conversation goes on and can succeed. */
static void test_sasl_unknown_command(void **state)
{
        struct fixture *f = start(state);
        static const char s[] = "\0FROBNICATE now\r\n";
        char line[256], name[256];
        int fd = sasl_connect_send(f, s, sizeof(s) - 1);

        assert_true(raw_read_line(fd, line, sizeof(line), TIMEOUT_MS) >= 0);
        assert_memory_equal(line, "ERROR", 5);
        /* no second NUL: the session continues with a valid AUTH */
        {
                char uid[32], cmd[128] = "AUTH EXTERNAL ";
                size_t i;

                snprintf(uid, sizeof(uid), "%u", (unsigned)getuid());
                for (i = 0; uid[i]; ++i)
                        sprintf(cmd + strlen(cmd), "%02x", (unsigned char)uid[i]);
                strcat(cmd, "\r\n");
                assert_int_equal(raw_send(fd, cmd, strlen(cmd), NULL, 0), 0);
        }
        assert_true(raw_read_line(fd, line, sizeof(line), TIMEOUT_MS) >= 0);
        assert_memory_equal(line, "OK ", 3);
        assert_int_equal(raw_send(fd, "BEGIN\r\n", 7, NULL, 0), 0);
        assert_int_equal(raw_hello(fd, false, name, TIMEOUT_MS), 0);
        assert_int_equal(name[0], ':');
        close(fd);
        assert_others_alive(f);
}

/* EXTERNAL claiming another uid is rejected. */
static void test_sasl_wrong_uid(void **state)
{
        struct fixture *f = start(state);
        char line[256];
        /* "4242424" as hex; not our uid (we are never uid 4242424 in CI) */
        static const char s[] = "\0AUTH EXTERNAL 34323432343234\r\n";
        int fd;

        if (getuid() == 4242424)
                skip();
        fd = sasl_connect_send(f, s, sizeof(s) - 1);
        assert_true(raw_read_line(fd, line, sizeof(line), TIMEOUT_MS) >= 0);
        assert_memory_equal(line, "REJECTED", 8);
        close(fd);
        assert_others_alive(f);
}

/* Not hex after EXTERNAL. */
static void test_sasl_bad_hex(void **state)
{
        struct fixture *f = start(state);
        char line[256];
        static const char s[] = "\0AUTH EXTERNAL zz\r\n";
        int fd = sasl_connect_send(f, s, sizeof(s) - 1);
        int r = raw_read_line(fd, line, sizeof(line), TIMEOUT_MS);

        /* either refused in words or by closing; never OK */
        if (r >= 0)
                assert_true(!strncmp(line, "REJECTED", 8) || !strncmp(line, "ERROR", 5));
        else
                assert_int_equal(r, -ECONNRESET);
        close(fd);
        assert_others_alive(f);
}

/* BEGIN before any AUTH. */
static void test_sasl_begin_first(void **state)
{
        struct fixture *f = start(state);
        char line[256];
        static const char s[] = "\0BEGIN\r\n";
        int fd = sasl_connect_send(f, s, sizeof(s) - 1);
        int r = raw_read_line(fd, line, sizeof(line), TIMEOUT_MS);

        if (r >= 0)
                assert_memory_equal(line, "ERROR", 5);
        else
                assert_int_equal(r, -ECONNRESET);
        close(fd);
        assert_others_alive(f);
}

/* A line far longer than any SASL line: closed. */
static void test_sasl_overlong_line(void **state)
{
        struct fixture *f = start(state);
        size_t n = 64 * 1024;
        char *s = malloc(n);
        int fd;

        assert_non_null(s);
        s[0] = 0;
        memset(s + 1, 'A', n - 1);
        fd = sasl_connect_send(f, s, n);
        free(s);
        assert_int_equal(raw_wait_closed(fd, TIMEOUT_MS), 0);
        close(fd);
        assert_others_alive(f);
}

/* Binary garbage and a half line, then close mid-conversation. */
static void test_sasl_garbage_then_close(void **state)
{
        struct fixture *f = start(state);
        static const char s[] = "\0\xff\xfe\x01\x02\r\nAUTH EXTER";
        int fd = sasl_connect_send(f, s, sizeof(s) - 1);

        close(fd);
        assert_others_alive(f);
}

/* Number of open fds of the broker, from /proc. */
static int broker_fd_count(struct fixture *f)
{
        char path[64];
        struct dirent *e;
        DIR *d;
        int n = 0;

        snprintf(path, sizeof(path), "/proc/%d/fd", (int)test_bus_pid(f->bus));
        d = opendir(path);
        assert_non_null(d);
        while ((e = readdir(d)))
                if (e->d_name[0] != '.')
                        ++n;
        closedir(d);
        return n;
}

/* The broker gets back to @baseline open fds within the bound: nothing leaked. */
static void assert_broker_fds(struct fixture *f, int baseline)
{
        struct timespec ts = { .tv_nsec = 10 * 1000 * 1000 };
        int i, n = -1;

        for (i = 0; i < TIMEOUT_MS / 10; ++i) {
                n = broker_fd_count(f);
                if (n == baseline)
                        return;
                nanosleep(&ts, NULL);
        }
        print_message("# broker has %d fds, %d before\n", n, baseline);
        fail();
}

/* --- unix fds --------------------------------------------------------------- */

/* UNIX_FDS says 1, no fd comes with the message. */
static void test_fds_claimed_not_sent(void **state)
{
        struct fixture *f = start(state);
        int baseline = broker_fd_count(f);
        struct raw_buf m, body;
        int fd = bad_connect(f, true, true);

        raw_buf_init(&body, false);
        raw_buf_put_u32(&body, 0);
        raw_buf_init(&m, false);
        raw_message_build(&m, &(struct raw_header){
                .type = RAW_METHOD_CALL, .serial = 2, .path = "/com/example",
                .interface = "com.example.Fd", .member = "Take",
                .destination = dbus_bus_get_unique_name(f->good), .signature = "h",
                .unix_fds = 1 }, body.data, body.len);
        (void)raw_send(fd, m.data, m.len, NULL, 0);
        assert_int_equal(raw_wait_closed(fd, TIMEOUT_MS), 0);
        close(fd);
        raw_buf_deinit(&m);
        raw_buf_deinit(&body);
        assert_others_alive(f);
        assert_broker_fds(f, baseline);
}

/* An fd is passed on a connection that did not negotiate fd passing. */
static void test_fds_without_negotiation(void **state)
{
        struct fixture *f = start(state);
        int baseline = broker_fd_count(f);
        struct raw_buf m, body;
        int fd = bad_connect(f, true, false);
        int pipefd[2];

        assert_int_equal(pipe(pipefd), 0);
        raw_buf_init(&body, false);
        raw_buf_put_u32(&body, 0);
        raw_buf_init(&m, false);
        raw_message_build(&m, &(struct raw_header){
                .type = RAW_METHOD_CALL, .serial = 2, .path = "/com/example",
                .interface = "com.example.Fd", .member = "Take",
                .destination = dbus_bus_get_unique_name(f->good), .signature = "h",
                .unix_fds = 1 }, body.data, body.len);
        (void)raw_send(fd, m.data, m.len, pipefd, 1);
        assert_int_equal(raw_wait_closed(fd, TIMEOUT_MS), 0);
        close(fd);
        close(pipefd[0]);
        close(pipefd[1]);
        raw_buf_deinit(&m);
        raw_buf_deinit(&body);
        assert_others_alive(f);
        assert_broker_fds(f, baseline);
}

/* More fds passed than the header claims. */
static void test_fds_more_than_claimed(void **state)
{
        struct fixture *f = start(state);
        int baseline = broker_fd_count(f);
        struct raw_buf m, body;
        int fd = bad_connect(f, true, true);
        int pipefd[2], fds[3];

        assert_int_equal(pipe(pipefd), 0);
        fds[0] = fds[1] = fds[2] = pipefd[0];
        raw_buf_init(&body, false);
        raw_buf_put_u32(&body, 0);
        raw_buf_init(&m, false);
        raw_message_build(&m, &(struct raw_header){
                .type = RAW_METHOD_CALL, .serial = 2, .path = "/com/example",
                .interface = "com.example.Fd", .member = "Take",
                .destination = dbus_bus_get_unique_name(f->good), .signature = "h",
                .unix_fds = 1 }, body.data, body.len);
        /* whether the broker closes the connection or drops the extra fds,
         * it must not keep them */
        (void)raw_send(fd, m.data, m.len, fds, 3);
        close(fd);
        close(pipefd[0]);
        close(pipefd[1]);
        raw_buf_deinit(&m);
        raw_buf_deinit(&body);
        assert_others_alive(f);
        assert_broker_fds(f, baseline);
}

/*
 * Framing, not malformation: several calls in one write, a large one among
 * them (the broker parses them out of one buffer and takes a large message's
 * buffer over instead of copying it), are all answered, in order.
 */
/* NameHasOwner calls @first..@last in one write; the calls in @big carry a large argument */
static void send_calls_one_write(int fd, uint32_t first, uint32_t last, const uint32_t *big, size_t n_big,
                                 const char *arg)
{
        struct raw_buf all;

        raw_buf_init(&all, false);
        for (uint32_t serial = first; serial <= last; ++serial) {
                struct raw_header h = {
                        .type = RAW_METHOD_CALL, .serial = serial,
                        .path = "/org/freedesktop/DBus", .interface = "org.freedesktop.DBus",
                        .member = "NameHasOwner", .destination = "org.freedesktop.DBus",
                        .signature = "s",
                };
                const char *a = "org.freedesktop.DBus";
                struct raw_buf m;

                for (size_t i = 0; i < n_big; ++i)
                        if (big[i] == serial)
                                a = arg;
                build_call(&m, false, &h, a);
                raw_buf_put(&all, m.data, m.len);
                raw_buf_deinit(&m);
        }
        assert_int_equal(raw_send(fd, all.data, all.len, NULL, 0), 0);
        raw_buf_deinit(&all);
}

/* the replies to @first..@last, in order (signals in between are skipped) */
static void expect_replies_in_order(int fd, uint32_t first, uint32_t last)
{
        for (uint32_t serial = first; serial <= last;) {
                struct raw_info info;
                struct raw_buf in;

                raw_buf_init(&in, false);
                assert_int_equal(raw_read_message(fd, &in, TIMEOUT_MS), 0);
                assert_int_equal(raw_message_parse(&info, in.data, in.len), 0);
                /* NameAcquired after Hello may come first */
                if (info.type != RAW_SIGNAL) {
                        assert_int_equal(info.reply_serial, serial);
                        ++serial;
                }
                raw_buf_deinit(&in);
        }
}

/*
 * Framing, not malformation: several calls in one write are all answered,
 * once each and in order -- small ones that arrive in one read, and large
 * ones among small ones (the broker takes a large message's buffer over
 * instead of copying it; what follows moves to a new buffer).
 */
static void test_pipelined_calls_one_write(void **state)
{
        static const uint32_t big_serials[] = { 23, 25 };
        struct fixture *f = start(state);
        size_t big = 100 * 1024;
        char *arg = malloc(big + 1);
        int fd = bad_connect(f, true, false);

        assert_non_null(arg);
        /* ASCII with a two-byte character every 1000 bytes: both UTF-8 paths */
        for (size_t i = 0; i < big; ++i)
                arg[i] = 'a' + (char)(i % 26);
        for (size_t i = 500; i + 1 < big; i += 1000) {
                arg[i] = (char)0xc3;
                arg[i + 1] = (char)0xa9;
        }
        arg[big] = 0;

        send_calls_one_write(fd, 10, 14, NULL, 0, NULL);
        expect_replies_in_order(fd, 10, 14);
        send_calls_one_write(fd, 20, 27, big_serials, 2, arg);
        expect_replies_in_order(fd, 20, 27);

        free(arg);
        close(fd);
        assert_others_alive(f);
}

/*
 * Framing across reads: the login, the Hello and calls written in pieces
 * that end anywhere -- inside a SASL line, a header, a body, and on a
 * message boundary -- with a pause after each, so that the broker reads
 * them one by one, are all understood and answered in order: what a read
 * leaves of a line or a message waits for the next read.
 */
static void test_split_writes(void **state)
{
        static const size_t pieces[] = { 1, 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 64, 100 };
        struct fixture *f = start(state);
        struct raw_buf all, m;
        char line[256];
        size_t off = 0, k = 0;
        int fd = raw_connect(test_bus_address(f->bus));

        assert_true(fd >= 0);
        raw_buf_init(&all, false);
        raw_buf_put_auth_external(&all);
        raw_buf_put(&all, "BEGIN\r\n", 7);
        raw_buf_init(&m, false);
        raw_message_build(&m, &(struct raw_header){
                .type = RAW_METHOD_CALL, .serial = 1, .path = "/org/freedesktop/DBus",
                .interface = "org.freedesktop.DBus", .member = "Hello",
                .destination = "org.freedesktop.DBus" }, NULL, 0);
        raw_buf_put(&all, m.data, m.len);
        raw_buf_deinit(&m);
        for (uint32_t serial = 2; serial <= 9; ++serial) {
                struct raw_header h = {
                        .type = RAW_METHOD_CALL, .serial = serial,
                        .path = "/org/freedesktop/DBus", .interface = "org.freedesktop.DBus",
                        .member = "NameHasOwner", .destination = "org.freedesktop.DBus",
                        .signature = "s",
                };

                build_call(&m, false, &h, "org.freedesktop.DBus");
                raw_buf_put(&all, m.data, m.len);
                raw_buf_deinit(&m);
        }

        while (off < all.len) {
                size_t n = pieces[k++ % (sizeof(pieces) / sizeof(*pieces))];

                if (n > all.len - off)
                        n = all.len - off;
                assert_int_equal(raw_send(fd, all.data + off, n, NULL, 0), 0);
                off += n;
                usleep(2000);
        }
        /* the OK line, then the messages */
        assert_true(raw_read_line(fd, line, sizeof(line), TIMEOUT_MS) > 0);
        assert_true(!strncmp(line, "OK ", 3));
        expect_replies_in_order(fd, 1, 9);

        raw_buf_deinit(&all);
        close(fd);
        assert_others_alive(f);
}

#define T(_fn) cmocka_unit_test_setup_teardown(_fn, fixture_setup, fixture_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(test_valid_baseline),
                T(test_truncated_header_then_close),
                T(test_truncated_body_then_close),
                T(test_string_length_past_body),
                T(test_field_array_length_wrong),
                T(test_huge_body_length),
                T(test_body_longer_than_signature),
                T(test_signature_unbalanced),
                T(test_signature_unknown_type),
                T(test_signature_empty_struct),
                T(test_bad_utf8_argument),
                T(test_bad_utf8_overlong),
                T(test_invalid_member_name),
                T(test_invalid_path),
                T(test_method_call_without_member),
                T(test_serial_zero),
                T(test_bad_endianness_byte),
                T(test_bad_protocol_version),
                T(test_message_type_invalid),
                T(test_call_before_hello),
                T(test_second_hello),
                T(test_sasl_no_nul_byte),
                T(test_sasl_unknown_command),
                T(test_sasl_wrong_uid),
                T(test_sasl_bad_hex),
                T(test_sasl_begin_first),
                T(test_sasl_overlong_line),
                T(test_sasl_garbage_then_close),
                T(test_fds_claimed_not_sent),
                T(test_fds_without_negotiation),
                T(test_fds_more_than_claimed),
                T(test_pipelined_calls_one_write),
                T(test_split_writes),
        };

        signal(SIGPIPE, SIG_IGN);
        return test_tap_run_group(tests);
}
