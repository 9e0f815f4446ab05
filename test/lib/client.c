/*
 * libdbus client connections for integration tests; see client.h.
 */
#include <errno.h>
#include <stdio.h>

#include "test/lib/client.h"

int test_client_connect(DBusConnection **connp, const char *address)
{
        DBusConnection *conn;
        DBusError error;

        dbus_error_init(&error);

        conn = dbus_connection_open_private(address, &error);
        if (!conn) {
                printf("# test_client: cannot connect to %s: %s: %s\n",
                       address, error.name, error.message);
                dbus_error_free(&error);
                return TEST_CLIENT_E_CONNECT;
        }
        dbus_connection_set_exit_on_disconnect(conn, FALSE);

        if (!dbus_bus_register(conn, &error)) {
                int r = dbus_error_has_name(&error, DBUS_ERROR_NO_MEMORY) ? -ENOMEM
                                                                          : TEST_CLIENT_E_HELLO;

                printf("# test_client: Hello failed on %s: %s: %s\n",
                       address, error.name, error.message);
                dbus_error_free(&error);
                test_client_free(conn);
                return r;
        }

        *connp = conn;
        return 0;
}

int test_client_call(DBusMessage **replyp, DBusConnection *conn, const char *dest,
                     const char *path, const char *interface, const char *method,
                     int timeout_ms)
{
        DBusMessage *call, *reply;
        DBusPendingCall *pending = NULL;

        call = dbus_message_new_method_call(dest, path, interface, method);
        if (!call)
                return -ENOMEM;

        if (!dbus_connection_send_with_reply(conn, call, &pending, timeout_ms)) {
                dbus_message_unref(call);
                return -ENOMEM;
        }
        dbus_message_unref(call);
        if (!pending)
                return TEST_CLIENT_E_CONNECT;

        dbus_pending_call_block(pending);
        reply = dbus_pending_call_steal_reply(pending);
        dbus_pending_call_unref(pending);
        if (!reply)
                return TEST_CLIENT_E_CONNECT;

        *replyp = reply;
        return 0;
}

DBusConnection *test_client_free(DBusConnection *conn)
{
        if (!conn)
                return NULL;
        if (dbus_connection_get_is_connected(conn))
                dbus_connection_close(conn);
        dbus_connection_unref(conn);
        return NULL;
}
