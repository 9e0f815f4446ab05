/*
 * libdbus and sd-bus clients talking to each other through a private broker:
 * method calls and errors in both directions, unix fd passing (a pipe, read
 * through), messages exactly at the configured max_message_size and one
 * byte over it, big-endian messages from a raw client decoded by libdbus
 * and sd-bus receivers, pipelined calls, and a broadcast to many
 * subscribers that each must receive exactly once and in one global order.
 *
 * Each service runs in its own thread and owns its connection there; the
 * test thread is the client. Every wait is bounded.
 *
 * The broker is the environment's choice (SKIP while it does not exist);
 * test-clients-reference.sh runs this program with
 * BUS1_TEST_BROKER=dbus-daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <systemd/sd-bus.h>

#include "test/integration/raw.h"
#include "test/lib/bus.h"
#include "test/lib/client.h"
#include "test/lib/tap.h"

#define TIMEOUT_MS 5000
#define IFACE "com.example.Test"
#define PATH "/com/example/Obj"
#define MAX_MESSAGE_SIZE 65536

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read a pipe to EOF (the writer closed its end before sending). */
static int read_all(int fd, char *buf, size_t size)
{
        size_t n = 0;

        while (n + 1 < size) {
                ssize_t l = read(fd, buf + n, size - 1 - n);

                if (l < 0 && errno == EINTR)
                        continue;
                if (l < 0)
                        return -errno;
                if (l == 0)
                        break;
                n += l;
        }
        buf[n] = 0;
        return 0;
}

/* The bytes of a Size(ay) payload: byte i is (i * 7) & 0xff. */
static bool pattern_ok(const uint8_t *p, size_t n)
{
        size_t i;

        for (i = 0; i < n; ++i)
                if (p[i] != (uint8_t)(i * 7))
                        return false;
        return true;
}

static uint8_t *pattern_new(size_t n)
{
        uint8_t *p = malloc(n ? n : 1);
        size_t i;

        assert_non_null(p);
        for (i = 0; i < n; ++i)
                p[i] = (uint8_t)(i * 7);
        return p;
}

/*
 * A service thread: exports PATH with interface IFACE:
 *   Echo(s) -> s, EchoU(u) -> u, Fail() -> com.example.Error.Failed,
 *   Size(ay) -> u (checks the pattern), ReadFd(h) -> s (reads to EOF),
 *   Check(suai) -> s "s=<s> u=<u> ai=<i>,<i>,..."
 */
struct service {
        bool sdbus;
        char unique[256];
        pthread_t thread;
        int stop_fd;
        atomic_int n_size;      /* Size calls handled */
        sd_bus *sd;
        DBusConnection *ld;
};

static void format_check(char *out, size_t size, const char *s, uint32_t u, const int32_t *a,
                         size_t n)
{
        size_t i, l;

        l = snprintf(out, size, "s=%s u=%u ai=", s, u);
        for (i = 0; i < n && l < size; ++i)
                l += snprintf(out + l, size - l, "%s%d", i ? "," : "", a[i]);
}

static int sd_handler(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        struct service *s = userdata;
        const char *member = sd_bus_message_get_member(m);
        char buf[4096];
        int r;

        (void)error;
        if (!sd_bus_message_is_method_call(m, IFACE, NULL))
                return 0;
        if (!strcmp(member, "Echo")) {
                const char *x;

                r = sd_bus_message_read(m, "s", &x);
                return r < 0 ? r : sd_bus_reply_method_return(m, "s", x);
        } else if (!strcmp(member, "EchoU")) {
                uint32_t u;

                r = sd_bus_message_read(m, "u", &u);
                return r < 0 ? r : sd_bus_reply_method_return(m, "u", u);
        } else if (!strcmp(member, "Fail")) {
                return sd_bus_reply_method_errorf(m, "com.example.Error.Failed", "failed on purpose");
        } else if (!strcmp(member, "Size")) {
                const void *p;
                size_t n;

                r = sd_bus_message_read_array(m, 'y', &p, &n);
                if (r < 0)
                        return r;
                atomic_fetch_add(&s->n_size, 1);
                if (!pattern_ok(p, n))
                        return sd_bus_reply_method_errorf(m, "com.example.Error.Pattern", "bad bytes");
                return sd_bus_reply_method_return(m, "u", (uint32_t)n);
        } else if (!strcmp(member, "ReadFd")) {
                int fd;

                r = sd_bus_message_read(m, "h", &fd);
                if (r < 0)
                        return r;
                r = read_all(fd, buf, sizeof(buf));
                return r < 0 ? r : sd_bus_reply_method_return(m, "s", buf);
        } else if (!strcmp(member, "Check")) {
                const char *x;
                uint32_t u;
                int32_t a[64], i;
                size_t n = 0;

                r = sd_bus_message_read(m, "su", &x, &u);
                if (r < 0)
                        return r;
                r = sd_bus_message_enter_container(m, 'a', "i");
                if (r < 0)
                        return r;
                while (n < 64 && (r = sd_bus_message_read(m, "i", &i)) > 0)
                        a[n++] = i;
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
                format_check(buf, sizeof(buf), x, u, a, n);
                return sd_bus_reply_method_return(m, "s", buf);
        }
        return 0;
}

static void ld_reply(DBusConnection *c, DBusMessage *reply)
{
        if (reply) {
                dbus_connection_send(c, reply, NULL);
                dbus_message_unref(reply);
        }
}

static void ld_handle(struct service *s, DBusMessage *m)
{
        DBusConnection *c = s->ld;
        DBusMessage *reply = NULL;
        DBusError error;
        char buf[4096];
        const char *str;
        uint32_t u;

        dbus_error_init(&error);
        if (dbus_message_get_type(m) != DBUS_MESSAGE_TYPE_METHOD_CALL ||
            !dbus_message_has_interface(m, IFACE))
                return;
        if (dbus_message_has_member(m, "Echo") &&
            dbus_message_get_args(m, &error, DBUS_TYPE_STRING, &str, DBUS_TYPE_INVALID)) {
                reply = dbus_message_new_method_return(m);
                dbus_message_append_args(reply, DBUS_TYPE_STRING, &str, DBUS_TYPE_INVALID);
        } else if (dbus_message_has_member(m, "EchoU") &&
                   dbus_message_get_args(m, &error, DBUS_TYPE_UINT32, &u, DBUS_TYPE_INVALID)) {
                reply = dbus_message_new_method_return(m);
                dbus_message_append_args(reply, DBUS_TYPE_UINT32, &u, DBUS_TYPE_INVALID);
        } else if (dbus_message_has_member(m, "Fail")) {
                reply = dbus_message_new_error(m, "com.example.Error.Failed", "failed on purpose");
        } else if (dbus_message_has_member(m, "Size")) {
                const uint8_t *p;
                int n;

                if (dbus_message_get_args(m, &error, DBUS_TYPE_ARRAY, DBUS_TYPE_BYTE, &p, &n,
                                          DBUS_TYPE_INVALID)) {
                        atomic_fetch_add(&s->n_size, 1);
                        if (pattern_ok(p, n)) {
                                u = n;
                                reply = dbus_message_new_method_return(m);
                                dbus_message_append_args(reply, DBUS_TYPE_UINT32, &u, DBUS_TYPE_INVALID);
                        } else {
                                reply = dbus_message_new_error(m, "com.example.Error.Pattern", "bad bytes");
                        }
                }
        } else if (dbus_message_has_member(m, "ReadFd")) {
                int fd;

                if (dbus_message_get_args(m, &error, DBUS_TYPE_UNIX_FD, &fd, DBUS_TYPE_INVALID)) {
                        if (read_all(fd, buf, sizeof(buf)) < 0)
                                buf[0] = 0;
                        close(fd);
                        str = buf;
                        reply = dbus_message_new_method_return(m);
                        dbus_message_append_args(reply, DBUS_TYPE_STRING, &str, DBUS_TYPE_INVALID);
                }
        } else if (dbus_message_has_member(m, "Check")) {
                int32_t *a;
                int n;

                if (dbus_message_get_args(m, &error, DBUS_TYPE_STRING, &str, DBUS_TYPE_UINT32, &u,
                                          DBUS_TYPE_ARRAY, DBUS_TYPE_INT32, &a, &n,
                                          DBUS_TYPE_INVALID)) {
                        format_check(buf, sizeof(buf), str, u, a, n);
                        str = buf;
                        reply = dbus_message_new_method_return(m);
                        dbus_message_append_args(reply, DBUS_TYPE_STRING, &str, DBUS_TYPE_INVALID);
                }
        }
        if (!reply)
                reply = dbus_message_new_error(m, DBUS_ERROR_INVALID_ARGS,
                                               error.message ? error.message : "unknown method");
        dbus_error_free(&error);
        ld_reply(c, reply);
}

static void *service_thread(void *userdata)
{
        struct service *s = userdata;

        for (;;) {
                struct pollfd p[2] = { { .fd = s->stop_fd, .events = POLLIN } };

                if (s->sdbus) {
                        int r;

                        do {
                                r = sd_bus_process(s->sd, NULL);
                        } while (r > 0);
                        if (r < 0)
                                return NULL;
                        p[1].fd = sd_bus_get_fd(s->sd);
                        p[1].events = sd_bus_get_events(s->sd);
                        poll(p, 2, 100);
                } else {
                        DBusMessage *m;

                        while ((m = dbus_connection_pop_message(s->ld))) {
                                ld_handle(s, m);
                                dbus_message_unref(m);
                        }
                        if (poll(p, 1, 0) > 0)
                                break;
                        if (!dbus_connection_read_write(s->ld, 20))
                                return NULL;
                        continue;
                }
                if (p[0].revents)
                        break;
        }
        return NULL;
}

static int sd_connect(sd_bus **busp, const char *address)
{
        sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, address);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, 1);
        if (r >= 0)
                r = sd_bus_negotiate_fds(bus, 1);
        if (r >= 0)
                r = sd_bus_set_method_call_timeout(bus, TIMEOUT_MS * 1000ULL);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0) {
                sd_bus_unref(bus);
                return r;
        }
        *busp = bus;
        return 0;
}

static void service_start(struct service *s, struct test_bus *bus, bool sdbus)
{
        const char *unique;

        memset(s, 0, sizeof(*s));
        s->sdbus = sdbus;
        s->stop_fd = eventfd(0, EFD_CLOEXEC);
        assert_true(s->stop_fd >= 0);
        if (sdbus) {
                assert_int_equal(sd_connect(&s->sd, test_bus_address(bus)), 0);
                assert_true(sd_bus_add_object(s->sd, NULL, PATH, sd_handler, s) >= 0);
                assert_true(sd_bus_get_unique_name(s->sd, &unique) >= 0);
        } else {
                assert_int_equal(test_client_connect(&s->ld, test_bus_address(bus)), 0);
                unique = dbus_bus_get_unique_name(s->ld);
        }
        snprintf(s->unique, sizeof(s->unique), "%s", unique);
        assert_int_equal(pthread_create(&s->thread, NULL, service_thread, s), 0);
}

static void service_stop(struct service *s)
{
        uint64_t one = 1;

        if (s->stop_fd <= 0)
                return;
        assert_int_equal(write(s->stop_fd, &one, sizeof(one)), sizeof(one));
        assert_int_equal(pthread_join(s->thread, NULL), 0);
        close(s->stop_fd);
        s->stop_fd = -1;
        if (s->sd)
                sd_bus_flush_close_unref(s->sd);
        test_client_free(s->ld);
}

struct fixture {
        struct test_bus *bus;
        struct service sd_svc;  /* sd-bus service */
        struct service ld_svc;  /* libdbus service */
        DBusConnection *ld;     /* libdbus client */
        sd_bus *sd;             /* sd-bus client */
};

static int fixture_alloc(void **state)
{
        *state = calloc(1, sizeof(struct fixture));
        return *state ? 0 : -1;
}

static int fixture_free(void **state)
{
        struct fixture *f = *state;

        service_stop(&f->sd_svc);
        service_stop(&f->ld_svc);
        test_client_free(f->ld);
        sd_bus_flush_close_unref(f->sd);
        test_bus_free(f->bus);
        free(f);
        return 0;
}

static struct fixture *start_with(void **state, const char *extra_config)
{
        struct test_bus_options options = { .extra_config = extra_config };
        struct fixture *f = *state;

        TEST_BUS_NEW_OR_SKIP(&f->bus, &options);
        service_start(&f->sd_svc, f->bus, true);
        service_start(&f->ld_svc, f->bus, false);
        assert_int_equal(test_client_connect(&f->ld, test_bus_address(f->bus)), 0);
        assert_int_equal(sd_connect(&f->sd, test_bus_address(f->bus)), 0);
        return f;
}

static struct fixture *start(void **state)
{
        return start_with(state, NULL);
}

/* libdbus: call @member(s @arg) on @dest; returns the reply (unref it). */
static DBusMessage *ld_call_s(DBusConnection *c, const char *dest, const char *member,
                              const char *arg)
{
        DBusMessage *m, *reply;
        DBusError error;

        m = dbus_message_new_method_call(dest, PATH, IFACE, member);
        assert_non_null(m);
        if (arg)
                assert_true(dbus_message_append_args(m, DBUS_TYPE_STRING, &arg, DBUS_TYPE_INVALID));
        dbus_error_init(&error);
        reply = dbus_connection_send_with_reply_and_block(c, m, TIMEOUT_MS, &error);
        dbus_message_unref(m);
        if (!reply) {
                /* turn a local error into an error message for uniform checks */
                DBusMessage *fake = dbus_message_new(DBUS_MESSAGE_TYPE_ERROR);

                assert_non_null(fake);
                dbus_message_set_error_name(fake, error.name);
                dbus_message_set_reply_serial(fake, 1);
                dbus_error_free(&error);
                return fake;
        }
        return reply;
}

static void assert_reply_string(DBusMessage *reply, const char *expected)
{
        DBusError error;
        const char *s;

        dbus_error_init(&error);
        if (dbus_message_get_type(reply) == DBUS_MESSAGE_TYPE_ERROR)
                print_message("# error reply %s\n", dbus_message_get_error_name(reply));
        assert_int_equal(dbus_message_get_type(reply), DBUS_MESSAGE_TYPE_METHOD_RETURN);
        assert_true(dbus_message_get_args(reply, &error, DBUS_TYPE_STRING, &s, DBUS_TYPE_INVALID));
        assert_string_equal(s, expected);
}

/* --- calls --------------------------------------------------------------- */

static void test_call_libdbus_to_sdbus(void **state)
{
        struct fixture *f = start(state);
        DBusMessage *reply;

        reply = ld_call_s(f->ld, f->sd_svc.unique, "Echo", "hello sd-bus");
        assert_reply_string(reply, "hello sd-bus");
        assert_string_equal(dbus_message_get_sender(reply), f->sd_svc.unique);
        dbus_message_unref(reply);

        reply = ld_call_s(f->ld, f->sd_svc.unique, "Fail", NULL);
        assert_int_equal(dbus_message_get_type(reply), DBUS_MESSAGE_TYPE_ERROR);
        assert_string_equal(dbus_message_get_error_name(reply), "com.example.Error.Failed");
        dbus_message_unref(reply);

        /* an unknown method: sd-bus answers UnknownMethod through the broker */
        reply = ld_call_s(f->ld, f->sd_svc.unique, "NoSuchMethod", NULL);
        assert_int_equal(dbus_message_get_type(reply), DBUS_MESSAGE_TYPE_ERROR);
        assert_string_equal(dbus_message_get_error_name(reply), DBUS_ERROR_UNKNOWN_METHOD);
        dbus_message_unref(reply);
}

static void test_call_sdbus_to_libdbus(void **state)
{
        struct fixture *f = start(state);
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *s, *sender;

        assert_true(sd_bus_call_method(f->sd, f->ld_svc.unique, PATH, IFACE, "Echo", &error,
                                       &reply, "s", "hello libdbus") >= 0);
        assert_true(sd_bus_message_read(reply, "s", &s) > 0);
        assert_string_equal(s, "hello libdbus");
        sender = sd_bus_message_get_sender(reply);
        assert_non_null(sender);
        assert_string_equal(sender, f->ld_svc.unique);
        reply = sd_bus_message_unref(reply);

        assert_true(sd_bus_call_method(f->sd, f->ld_svc.unique, PATH, IFACE, "Fail", &error,
                                       &reply, "") < 0);
        assert_string_equal(error.name, "com.example.Error.Failed");
        assert_string_equal(error.message, "failed on purpose");
        sd_bus_error_free(&error);

        /* a destination nobody owns: ServiceUnknown from the driver */
        assert_true(sd_bus_call_method(f->sd, "com.example.Nobody", PATH, IFACE, "Echo", &error,
                                       &reply, "s", "x") < 0);
        assert_string_equal(error.name, "org.freedesktop.DBus.Error.ServiceUnknown");
        sd_bus_error_free(&error);
}

/* --- fd passing -------------------------------------------------------------- */

static void test_fd_libdbus_to_sdbus(void **state)
{
        struct fixture *f = start(state);
        static const char text[] = "through a pipe from libdbus";
        DBusMessage *m, *reply;
        DBusError error;
        const char *s;
        int p[2];

        assert_true(dbus_connection_can_send_type(f->ld, DBUS_TYPE_UNIX_FD));
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        assert_int_equal(write(p[1], text, strlen(text)), (ssize_t)strlen(text));
        close(p[1]);
        m = dbus_message_new_method_call(f->sd_svc.unique, PATH, IFACE, "ReadFd");
        assert_non_null(m);
        assert_true(dbus_message_append_args(m, DBUS_TYPE_UNIX_FD, &p[0], DBUS_TYPE_INVALID));
        close(p[0]);    /* the message holds its own dup */
        dbus_error_init(&error);
        reply = dbus_connection_send_with_reply_and_block(f->ld, m, TIMEOUT_MS, &error);
        dbus_message_unref(m);
        assert_non_null(reply);
        assert_true(dbus_message_get_args(reply, &error, DBUS_TYPE_STRING, &s, DBUS_TYPE_INVALID));
        assert_string_equal(s, text);
        dbus_message_unref(reply);
}

static void test_fd_sdbus_to_libdbus(void **state)
{
        struct fixture *f = start(state);
        static const char text[] = "through a pipe from sd-bus";
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *s;
        int p[2], r;

        assert_true(sd_bus_can_send(f->sd, 'h') > 0);
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        assert_int_equal(write(p[1], text, strlen(text)), (ssize_t)strlen(text));
        close(p[1]);
        r = sd_bus_call_method(f->sd, f->ld_svc.unique, PATH, IFACE, "ReadFd", &error, &reply,
                               "h", p[0]);
        close(p[0]);
        if (r < 0)
                print_message("# ReadFd: %s: %s\n", error.name, error.message);
        assert_true(r >= 0);
        assert_true(sd_bus_message_read(reply, "s", &s) > 0);
        assert_string_equal(s, text);
        sd_bus_message_unref(reply);
}

/* --- message size limit ------------------------------------------------------- */

static const char size_config[] =
        "  <limit name=\"max_message_size\">65536</limit>\n";

/* A libdbus Size(ay) call whose marshalled size is exactly @total bytes. */
static DBusMessage *size_message(const char *dest, size_t total)
{
        DBusMessage *m;
        char *wire;
        int len;
        size_t n;
        uint8_t *p;

        /* the empty message tells the fixed overhead (serial slot included) */
        m = dbus_message_new_method_call(dest, PATH, IFACE, "Size");
        assert_non_null(m);
        p = pattern_new(0);
        assert_true(dbus_message_append_args(m, DBUS_TYPE_ARRAY, DBUS_TYPE_BYTE, &p, 0,
                                             DBUS_TYPE_INVALID));
        dbus_message_set_serial(m, 1);
        assert_true(dbus_message_marshal(m, &wire, &len));
        dbus_free(wire);
        dbus_message_unref(m);
        free(p);
        assert_true((size_t)len <= total);
        n = total - len;

        m = dbus_message_new_method_call(dest, PATH, IFACE, "Size");
        assert_non_null(m);
        p = pattern_new(n);
        assert_true(dbus_message_append_args(m, DBUS_TYPE_ARRAY, DBUS_TYPE_BYTE, &p, (int)n,
                                             DBUS_TYPE_INVALID));
        free(p);
        dbus_message_set_serial(m, 1);
        assert_true(dbus_message_marshal(m, &wire, &len));
        dbus_free(wire);
        assert_int_equal(len, total);
        return m;
}

/* Poll @c (bounded) until libdbus notices the broker closed it. */
static bool ld_wait_disconnected(DBusConnection *c)
{
        int64_t deadline = now_ms() + TIMEOUT_MS;

        while (now_ms() < deadline) {
                DBusMessage *m;

                if (!dbus_connection_read_write(c, 50))
                        return true;
                while ((m = dbus_connection_pop_message(c)))
                        dbus_message_unref(m);
                if (!dbus_connection_get_is_connected(c))
                        return true;
        }
        return false;
}

static void test_max_message_size(void **state)
{
        struct fixture *f = start_with(state, size_config);
        DBusMessage *m, *reply;
        DBusConnection *sender = NULL;
        DBusError error;
        uint32_t u;

        /* exactly at the limit: delivered and answered */
        m = size_message(f->sd_svc.unique, MAX_MESSAGE_SIZE);
        dbus_error_init(&error);
        reply = dbus_connection_send_with_reply_and_block(f->ld, m, TIMEOUT_MS, &error);
        dbus_message_unref(m);
        if (!reply)
                print_message("# at the limit: %s: %s\n", error.name, error.message);
        assert_non_null(reply);
        assert_true(dbus_message_get_args(reply, &error, DBUS_TYPE_UINT32, &u, DBUS_TYPE_INVALID));
        assert_true(u > MAX_MESSAGE_SIZE - 200 && u < MAX_MESSAGE_SIZE);
        dbus_message_unref(reply);
        assert_int_equal(atomic_load(&f->sd_svc.n_size), 1);

        /* one byte over, from a connection of its own: dbus-daemon drops the
         * sender's connection; the receiver never sees the message */
        assert_int_equal(test_client_connect(&sender, test_bus_address(f->bus)), 0);
        m = size_message(f->sd_svc.unique, MAX_MESSAGE_SIZE + 1);
        assert_true(dbus_connection_send(sender, m, NULL));
        dbus_message_unref(m);
        dbus_connection_flush(sender);
        assert_true(ld_wait_disconnected(sender));
        test_client_free(sender);

        /* everyone else unaffected; the oversized message never arrived */
        reply = ld_call_s(f->ld, f->sd_svc.unique, "Echo", "after");
        assert_reply_string(reply, "after");
        dbus_message_unref(reply);
        assert_int_equal(atomic_load(&f->sd_svc.n_size), 1);
}

/* The same with exact bytes from a raw client, to the libdbus service. */
static void test_max_message_size_raw(void **state)
{
        struct fixture *f = start_with(state, size_config);
        struct raw_header h = {
                .type = RAW_METHOD_CALL, .serial = 2, .path = PATH, .interface = IFACE,
                .member = "Size", .destination = f->ld_svc.unique, .signature = "ay",
        };
        struct raw_buf m, body, in;
        struct raw_info info;
        char name[256];
        size_t overhead, n;
        uint8_t *p;
        int fd, over;

        for (over = 0; over <= 1; ++over) {
                fd = raw_connect_hello(test_bus_address(f->bus), false, false, name, TIMEOUT_MS);
                assert_true(fd >= 0);

                raw_buf_init(&m, false);
                raw_buf_init(&body, false);
                raw_buf_put_u32(&body, 0);
                raw_message_build(&m, &h, body.data, body.len);
                overhead = m.len;
                raw_buf_deinit(&m);
                raw_buf_deinit(&body);

                n = MAX_MESSAGE_SIZE + over - overhead;
                p = pattern_new(n);
                raw_buf_init(&body, false);
                raw_buf_put_u32(&body, n);
                raw_buf_put(&body, p, n);
                free(p);
                raw_buf_init(&m, false);
                raw_message_build(&m, &h, body.data, body.len);
                assert_int_equal(m.len, MAX_MESSAGE_SIZE + over);
                (void)raw_send(fd, m.data, m.len, NULL, 0);
                raw_buf_init(&in, false);
                if (!over) {
                        assert_int_equal(raw_read_reply(fd, 2, &in, &info, TIMEOUT_MS), 0);
                        assert_int_equal(info.type, RAW_METHOD_RETURN);
                        assert_string_equal(info.signature, "u");
                        assert_int_equal(atomic_load(&f->ld_svc.n_size), 1);
                } else {
                        assert_int_equal(raw_wait_closed(fd, TIMEOUT_MS), 0);
                }
                raw_buf_deinit(&in);
                raw_buf_deinit(&m);
                raw_buf_deinit(&body);
                close(fd);
        }
        assert_int_equal(atomic_load(&f->ld_svc.n_size), 1);
        {
                DBusMessage *reply = ld_call_s(f->ld, f->ld_svc.unique, "Echo", "still here");

                assert_reply_string(reply, "still here");
                dbus_message_unref(reply);
        }
}

/* --- byte orders -------------------------------------------------------------- */

/* A big-endian Check(s u ai) from a raw client; @dest decodes and answers. */
static void check_big_endian_call(struct fixture *f, const char *dest)
{
        static const int32_t a[] = { 1, -2, 0x01020304, -0x7fffffff };
        struct raw_buf m, body, in;
        struct raw_info info;
        char name[256], expected[256];
        uint32_t len;
        size_t i;
        int fd;

        fd = raw_connect_hello(test_bus_address(f->bus), true, false, name, TIMEOUT_MS);
        assert_true(fd >= 0);
        raw_buf_init(&body, true);
        raw_buf_put_string(&body, "big-endian ü");
        raw_buf_put_u32(&body, 0xdeadbeef);
        raw_buf_put_u32(&body, sizeof(a));
        for (i = 0; i < 4; ++i)
                raw_buf_put_u32(&body, (uint32_t)a[i]);
        raw_buf_init(&m, true);
        raw_message_build(&m, &(struct raw_header){
                .type = RAW_METHOD_CALL, .serial = 7, .path = PATH, .interface = IFACE,
                .member = "Check", .destination = dest, .signature = "suai" },
                body.data, body.len);
        assert_int_equal(m.data[0], 'B');
        assert_int_equal(raw_send(fd, m.data, m.len, NULL, 0), 0);

        raw_buf_init(&in, false);
        assert_int_equal(raw_read_reply(fd, 7, &in, &info, TIMEOUT_MS), 0);
        if (info.type == RAW_ERROR)
                print_message("# error %s\n", info.error_name);
        assert_int_equal(info.type, RAW_METHOD_RETURN);
        assert_string_equal(info.sender, dest);
        assert_string_equal(info.signature, "s");
        /* the reply comes in the replier's byte order (little-endian here) */
        len = info.big_endian ? (uint32_t)in.data[info.body_offset] << 24 |
                                in.data[info.body_offset + 1] << 16 |
                                in.data[info.body_offset + 2] << 8 | in.data[info.body_offset + 3]
                              : (uint32_t)in.data[info.body_offset + 3] << 24 |
                                in.data[info.body_offset + 2] << 16 |
                                in.data[info.body_offset + 1] << 8 | in.data[info.body_offset];
        assert_true(len < info.body_len);
        format_check(expected, sizeof(expected), "big-endian ü", 0xdeadbeef, a, 4);
        assert_int_equal(len, strlen(expected));
        assert_memory_equal(in.data + info.body_offset + 4, expected, len);
        raw_buf_deinit(&in);
        raw_buf_deinit(&m);
        raw_buf_deinit(&body);
        close(fd);
}

static void test_big_endian_to_libdbus(void **state)
{
        struct fixture *f = start(state);

        check_big_endian_call(f, f->ld_svc.unique);
}

static void test_big_endian_to_sdbus(void **state)
{
        struct fixture *f = start(state);

        check_big_endian_call(f, f->sd_svc.unique);
}

/* A big-endian broadcast signal, decoded by libdbus and sd-bus subscribers. */
static void test_big_endian_signal(void **state)
{
        struct fixture *f = start(state);
        const char *rule = "type='signal',interface='com.example.BE'";
        struct raw_buf m, body;
        char name[256];
        DBusError error;
        sd_bus_message *sm = NULL;
        int64_t deadline;
        bool ld_ok = false, sd_ok = false;
        int fd;

        dbus_error_init(&error);
        dbus_bus_add_match(f->ld, rule, &error);
        assert_false(dbus_error_is_set(&error));
        assert_true(sd_bus_call_method(f->sd, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "AddMatch", NULL, NULL, "s",
                                       rule) >= 0);

        fd = raw_connect_hello(test_bus_address(f->bus), true, false, name, TIMEOUT_MS);
        assert_true(fd >= 0);
        raw_buf_init(&body, true);
        raw_buf_put_string(&body, "sig");
        raw_buf_put_u32(&body, 0x11223344);
        raw_buf_init(&m, true);
        raw_message_build(&m, &(struct raw_header){
                .type = RAW_SIGNAL, .serial = 3, .path = "/com/example/be",
                .interface = "com.example.BE", .member = "Hi", .signature = "su" },
                body.data, body.len);
        assert_int_equal(raw_send(fd, m.data, m.len, NULL, 0), 0);

        deadline = now_ms() + TIMEOUT_MS;
        while ((!ld_ok || !sd_ok) && now_ms() < deadline) {
                DBusMessage *lm;

                dbus_connection_read_write(f->ld, 10);
                while ((lm = dbus_connection_pop_message(f->ld))) {
                        const char *s;
                        uint32_t u;

                        if (dbus_message_is_signal(lm, "com.example.BE", "Hi") &&
                            dbus_message_get_args(lm, &error, DBUS_TYPE_STRING, &s,
                                                  DBUS_TYPE_UINT32, &u, DBUS_TYPE_INVALID)) {
                                assert_string_equal(s, "sig");
                                assert_int_equal(u, 0x11223344);
                                assert_string_equal(dbus_message_get_sender(lm), name);
                                ld_ok = true;
                        }
                        dbus_message_unref(lm);
                }
                while (sd_bus_process(f->sd, &sm) > 0) {
                        const char *s;
                        uint32_t u;

                        if (sm && sd_bus_message_is_signal(sm, "com.example.BE", "Hi")) {
                                assert_true(sd_bus_message_read(sm, "su", &s, &u) > 0);
                                assert_string_equal(s, "sig");
                                assert_int_equal(u, 0x11223344);
                                sd_ok = true;
                        }
                        sm = sd_bus_message_unref(sm);
                }
                sd_bus_wait(f->sd, 10 * 1000);
        }
        assert_true(ld_ok);
        assert_true(sd_ok);
        raw_buf_deinit(&m);
        raw_buf_deinit(&body);
        close(fd);
}

/* --- pipelining ----------------------------------------------------------------- */

#define N_PIPELINED 200

static void test_pipelined_libdbus(void **state)
{
        /* more pending calls than dbus-daemon's built-in default of 128 */
        struct fixture *f = start_with(state,
                "  <limit name=\"max_replies_per_connection\">1000</limit>\n");
        DBusPendingCall *pending[N_PIPELINED];
        uint32_t i, u;

        for (i = 0; i < N_PIPELINED; ++i) {
                DBusMessage *m = dbus_message_new_method_call(i % 2 ? f->sd_svc.unique
                                                                    : f->ld_svc.unique,
                                                              PATH, IFACE, "EchoU");

                assert_non_null(m);
                assert_true(dbus_message_append_args(m, DBUS_TYPE_UINT32, &i, DBUS_TYPE_INVALID));
                assert_true(dbus_connection_send_with_reply(f->ld, m, &pending[i], TIMEOUT_MS));
                assert_non_null(pending[i]);
                dbus_message_unref(m);
        }
        dbus_connection_flush(f->ld);
        for (i = 0; i < N_PIPELINED; ++i) {
                DBusMessage *reply;
                DBusError error;

                dbus_pending_call_block(pending[i]);
                reply = dbus_pending_call_steal_reply(pending[i]);
                assert_non_null(reply);
                dbus_error_init(&error);
                assert_true(dbus_message_get_args(reply, &error, DBUS_TYPE_UINT32, &u,
                                                  DBUS_TYPE_INVALID));
                assert_int_equal(u, i);
                dbus_message_unref(reply);
                dbus_pending_call_unref(pending[i]);
        }
}

/* Many calls in one write; the driver answers in order, the services all. */
static void test_pipelined_raw(void **state)
{
        struct fixture *f = start(state);
        struct raw_buf all, in;
        struct raw_info info;
        char name[256];
        uint32_t i, last = 0, n_services = 0, n_driver = 0;
        int fd;

        fd = raw_connect_hello(test_bus_address(f->bus), false, false, name, TIMEOUT_MS);
        assert_true(fd >= 0);
        raw_buf_init(&all, false);
        for (i = 0; i < N_PIPELINED; ++i) {
                struct raw_buf body, one;
                bool driver = i % 2 == 0;

                raw_buf_init(&body, false);
                raw_buf_init(&one, false);
                if (driver)
                        raw_buf_put_string(&body, "org.freedesktop.DBus");
                else
                        raw_buf_put_u32(&body, i);
                /* built alone: alignment is relative to the message start */
                raw_message_build(&one, &(struct raw_header){
                        .type = RAW_METHOD_CALL, .serial = 100 + i,
                        .path = driver ? "/org/freedesktop/DBus" : PATH,
                        .interface = driver ? "org.freedesktop.DBus" : IFACE,
                        .member = driver ? "GetNameOwner" : "EchoU",
                        .destination = driver ? "org.freedesktop.DBus"
                                              : (i % 4 == 1 ? f->sd_svc.unique : f->ld_svc.unique),
                        .signature = driver ? "s" : "u" }, body.data, body.len);
                raw_buf_put(&all, one.data, one.len);
                raw_buf_deinit(&one);
                raw_buf_deinit(&body);
        }
        assert_int_equal(raw_send(fd, all.data, all.len, NULL, 0), 0);
        raw_buf_init(&in, false);
        while (n_services + n_driver < N_PIPELINED) {
                assert_int_equal(raw_read_message(fd, &in, TIMEOUT_MS), 0);
                assert_int_equal(raw_message_parse(&info, in.data, in.len), 0);
                if (info.type == RAW_SIGNAL)
                        continue;       /* NameAcquired */
                assert_int_equal(info.type, RAW_METHOD_RETURN);
                assert_true(info.reply_serial >= 100 && info.reply_serial < 100 + N_PIPELINED);
                if (!strcmp(info.sender, "org.freedesktop.DBus")) {
                        /* the driver's replies come in the order of the calls */
                        assert_true(info.reply_serial > last);
                        last = info.reply_serial;
                        ++n_driver;
                } else {
                        ++n_services;
                }
        }
        assert_int_equal(n_driver, N_PIPELINED / 2);
        assert_int_equal(n_services, N_PIPELINED / 2);
        raw_buf_deinit(&in);
        raw_buf_deinit(&all);
        close(fd);
}

/*
 * max_replies_per_connection: with a callee that never answers, the call
 * past the limit fails at once with LimitsExceeded; when the callee goes
 * away, every pending call gets NoReply.
 */
#define REPLY_LIMIT 8

static void test_pending_replies_limit(void **state)
{
        struct fixture *f = start_with(state,
                "  <limit name=\"max_replies_per_connection\">8</limit>\n");
        DBusPendingCall *pending[REPLY_LIMIT + 1];
        char callee[256];
        uint32_t i;
        int fd;

        fd = raw_connect_hello(test_bus_address(f->bus), false, false, callee, TIMEOUT_MS);
        assert_true(fd >= 0);
        for (i = 0; i <= REPLY_LIMIT; ++i) {
                DBusMessage *m = dbus_message_new_method_call(callee, PATH, IFACE, "EchoU");

                assert_non_null(m);
                assert_true(dbus_message_append_args(m, DBUS_TYPE_UINT32, &i, DBUS_TYPE_INVALID));
                assert_true(dbus_connection_send_with_reply(f->ld, m, &pending[i], 4 * TIMEOUT_MS));
                assert_non_null(pending[i]);
                dbus_message_unref(m);
        }
        dbus_connection_flush(f->ld);

        /* the one past the limit: an error from the broker, long before the timeout */
        {
                int64_t t0 = now_ms();
                DBusMessage *reply;

                dbus_pending_call_block(pending[REPLY_LIMIT]);
                reply = dbus_pending_call_steal_reply(pending[REPLY_LIMIT]);
                assert_non_null(reply);
                assert_int_equal(dbus_message_get_type(reply), DBUS_MESSAGE_TYPE_ERROR);
                assert_string_equal(dbus_message_get_error_name(reply), DBUS_ERROR_LIMITS_EXCEEDED);
                assert_true(now_ms() - t0 < TIMEOUT_MS);
                dbus_message_unref(reply);
                dbus_pending_call_unref(pending[REPLY_LIMIT]);
        }
        for (i = 0; i < REPLY_LIMIT; ++i)
                assert_false(dbus_pending_call_get_completed(pending[i]));

        /* the callee disconnects: NoReply for each pending call */
        close(fd);
        for (i = 0; i < REPLY_LIMIT; ++i) {
                int64_t t0 = now_ms();
                DBusMessage *reply;

                dbus_pending_call_block(pending[i]);
                reply = dbus_pending_call_steal_reply(pending[i]);
                assert_non_null(reply);
                assert_int_equal(dbus_message_get_type(reply), DBUS_MESSAGE_TYPE_ERROR);
                assert_string_equal(dbus_message_get_error_name(reply), DBUS_ERROR_NO_REPLY);
                assert_true(now_ms() - t0 < TIMEOUT_MS);
                dbus_message_unref(reply);
                dbus_pending_call_unref(pending[i]);
        }
}

/* --- broadcast ------------------------------------------------------------------- */

#define N_SUBSCRIBERS 16
#define N_SIGNALS 50

static void test_broadcast_order(void **state)
{
        struct fixture *f = start(state);
        DBusConnection *sub[N_SUBSCRIBERS] = { NULL };
        uint32_t seen[N_SUBSCRIBERS][3 * N_SIGNALS];
        size_t n_seen[N_SUBSCRIBERS] = { 0 };
        const char *rule = "type='signal',interface='com.example.Bcast',member='Tick'";
        struct raw_buf rm;
        char raw_name[256];
        int64_t deadline;
        uint32_t i, k;
        int fd;
        size_t s;

        for (s = 0; s < N_SUBSCRIBERS; ++s) {
                DBusError error;

                assert_int_equal(test_client_connect(&sub[s], test_bus_address(f->bus)), 0);
                dbus_error_init(&error);
                dbus_bus_add_match(sub[s], rule, &error);
                assert_false(dbus_error_is_set(&error));
        }
        fd = raw_connect_hello(test_bus_address(f->bus), true, false, raw_name, TIMEOUT_MS);
        assert_true(fd >= 0);

        /* three senders (libdbus, sd-bus, raw big-endian), interleaved;
         * each signal carries sender * 1000 + sequence number */
        raw_buf_init(&rm, true);
        for (i = 0; i < N_SIGNALS; ++i) {
                DBusMessage *m = dbus_message_new_signal("/com/example/b", "com.example.Bcast", "Tick");
                struct raw_buf body;

                k = 0 * 1000 + i;
                assert_non_null(m);
                assert_true(dbus_message_append_args(m, DBUS_TYPE_UINT32, &k, DBUS_TYPE_INVALID));
                assert_true(dbus_connection_send(f->ld, m, NULL));
                dbus_message_unref(m);

                assert_true(sd_bus_emit_signal(f->sd, "/com/example/b", "com.example.Bcast", "Tick",
                                               "u", 1 * 1000 + i) >= 0);

                raw_buf_init(&body, true);
                raw_buf_put_u32(&body, 2 * 1000 + i);
                rm.len = 0;
                raw_message_build(&rm, &(struct raw_header){
                        .type = RAW_SIGNAL, .serial = 10 + i, .path = "/com/example/b",
                        .interface = "com.example.Bcast", .member = "Tick", .signature = "u" },
                        body.data, body.len);
                assert_int_equal(raw_send(fd, rm.data, rm.len, NULL, 0), 0);
                raw_buf_deinit(&body);
                if (i % 8 == 0) {
                        dbus_connection_flush(f->ld);
                        assert_true(sd_bus_flush(f->sd) >= 0);
                }
        }
        dbus_connection_flush(f->ld);
        assert_true(sd_bus_flush(f->sd) >= 0);

        deadline = now_ms() + 3 * TIMEOUT_MS;
        for (s = 0; s < N_SUBSCRIBERS; ++s) {
                while (n_seen[s] < 3 * N_SIGNALS && now_ms() < deadline) {
                        DBusMessage *m;

                        dbus_connection_read_write(sub[s], 10);
                        while ((m = dbus_connection_pop_message(sub[s]))) {
                                DBusError error;

                                dbus_error_init(&error);
                                if (dbus_message_is_signal(m, "com.example.Bcast", "Tick")) {
                                        assert_true(n_seen[s] < 3 * N_SIGNALS);
                                        assert_true(dbus_message_get_args(m, &error, DBUS_TYPE_UINT32,
                                                                          &k, DBUS_TYPE_INVALID));
                                        seen[s][n_seen[s]++] = k;
                                }
                                dbus_message_unref(m);
                        }
                }
                if (n_seen[s] != 3 * N_SIGNALS)
                        print_message("# subscriber %zu got %zu of %d\n", s, n_seen[s], 3 * N_SIGNALS);
                assert_int_equal(n_seen[s], 3 * N_SIGNALS);
        }

        /* a little more time to catch duplicates */
        for (s = 0; s < N_SUBSCRIBERS; ++s) {
                DBusMessage *m;
                uint32_t next[3] = { 0, 0, 0 };

                dbus_connection_read_write(sub[s], 0);
                while ((m = dbus_connection_pop_message(sub[s]))) {
                        assert_false(dbus_message_is_signal(m, "com.example.Bcast", "Tick"));
                        dbus_message_unref(m);
                }
                /* each sender's signals exactly once, in its own order */
                for (i = 0; i < 3 * N_SIGNALS; ++i) {
                        k = seen[s][i];
                        assert_true(k / 1000 < 3);
                        assert_int_equal(k % 1000, next[k / 1000]);
                        ++next[k / 1000];
                }
                /* and the same interleaving for every subscriber */
                assert_memory_equal(seen[s], seen[0], sizeof(seen[0]));
        }

        for (s = 0; s < N_SUBSCRIBERS; ++s)
                test_client_free(sub[s]);
        raw_buf_deinit(&rm);
        close(fd);
}

#define T(_fn) cmocka_unit_test_setup_teardown(_fn, fixture_alloc, fixture_free)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(test_call_libdbus_to_sdbus),
                T(test_call_sdbus_to_libdbus),
                T(test_fd_libdbus_to_sdbus),
                T(test_fd_sdbus_to_libdbus),
                T(test_max_message_size),
                T(test_max_message_size_raw),
                T(test_big_endian_to_libdbus),
                T(test_big_endian_to_sdbus),
                T(test_big_endian_signal),
                T(test_pipelined_libdbus),
                T(test_pipelined_raw),
                T(test_pending_replies_limit),
                T(test_broadcast_order),
        };

        signal(SIGPIPE, SIG_IGN);
        dbus_threads_init_default();
        return test_tap_run_group(tests);
}
