#pragma once

/*
 * libdbus client connections for integration tests.
 *
 * test_client_connect() opens a private libdbus connection to an address,
 * performs the Hello handshake (dbus_bus_register) and disables exit on
 * disconnect, so a broker crash shows up as a test failure, not as the
 * test process exiting. The caller owns the connection and gives it back
 * with test_client_free().
 */

#include <dbus/dbus.h>

/* Expected outcomes (positive codes). */
enum {
        _TEST_CLIENT_E_SUCCESS,
        TEST_CLIENT_E_CONNECT,  /* connecting or authenticating failed */
        TEST_CLIENT_E_HELLO,    /* the bus did not answer Hello properly */
};

/**
 * test_client_connect() - connect and register with a bus
 * @connp:      output: the connection
 * @address:    a D-Bus address (e.g. test_bus_address())
 *
 * On failure the libdbus error is printed to stdout as a TAP comment.
 *
 * Return: 0 on success, TEST_CLIENT_E_CONNECT, TEST_CLIENT_E_HELLO,
 *         -ENOMEM.
 */
int test_client_connect(DBusConnection **connp, const char *address);

/**
 * test_client_call() - call a method and wait for the reply
 * @replyp:     output: the reply (method return or error message); unref it
 * @conn:       a connection
 * @dest:       destination bus name
 * @path:       object path
 * @interface:  interface name
 * @method:     method name
 * @timeout_ms: reply timeout
 *
 * The call has no arguments; for calls with arguments build the message
 * and use dbus_connection_send_with_reply_and_block() directly.
 *
 * A timeout or a lost connection shows up as an error reply that libdbus
 * makes up (org.freedesktop.DBus.Error.NoReply / .Disconnected).
 *
 * Return: 0 when a reply (return or error) is stored, TEST_CLIENT_E_CONNECT
 *         when the message could not be queued on a closed connection,
 *         -ENOMEM.
 */
int test_client_call(DBusMessage **replyp, DBusConnection *conn, const char *dest,
                     const char *path, const char *interface, const char *method,
                     int timeout_ms);

/**
 * test_client_free() - close and release a connection
 * @conn:       the connection, or NULL
 *
 * Return: NULL.
 */
DBusConnection *test_client_free(DBusConnection *conn);
