#pragma once

/*
 * The bus driver: org.freedesktop.DBus and its other interfaces
 * (Introspectable, Peer, Properties, Monitoring, Debug.Stats), as
 * dbus-daemon 1.14 implements them: method names, signatures, reply
 * contents, error names and the order of signals versus replies (signals a
 * call causes are sent before its reply, except for Hello, whose reply
 * comes first). Replies and signals leave through the driver's core peer
 * (broker_send_from_driver()), so they are ordered with all other traffic.
 */

struct broker;
struct connection;
struct message;

/**
 * driver_dispatch() - handle a method call addressed to org.freedesktop.DBus
 * @b:          the broker
 * @sender:     the calling connection
 * @m:          the call (SENDER set)
 *
 * Every failure the caller can cause is answered with a D-Bus error.
 * Return: 0, or negative errno (unexpected failure; the caller logs it).
 */
int driver_dispatch(struct broker *b, struct connection *sender, struct message *m);

/**
 * driver_activate() - a call to a well-known name nobody owns, with
 * auto-start allowed: without activation support, answered with
 * ServiceUnknown as dbus-daemon does for names without a .service file.
 * Return: 0, or negative errno.
 */
int driver_activate(struct broker *b, struct connection *sender, struct message *m);

/*
 * Activation (dbus-proxy/activation.h): the service directories and the
 * activation state of the bus live in b->services and b->activation.
 */

/** driver_activation_new() - load the service files, set up activation. Return: 0, negative errno. */
int driver_activation_new(struct broker *b);

/** driver_activation_free() - drop queued requests (without replies), free the state. */
void driver_activation_free(struct broker *b);

/** driver_activation_reload() - after a reload: new directories, rescan, signal changes. */
int driver_activation_reload(struct broker *b);

/** driver_activation_name_acquired() - a name got a primary owner: release its queue. */
void driver_activation_name_acquired(struct broker *b, const char *name);

/** driver_activation_connection_gone() - drop the queued requests of @c. */
void driver_activation_connection_gone(struct broker *b, struct connection *c);

/**
 * driver_activation_failure() - systemd's ActivationFailure signal (sent to
 * the driver by the owner of org.freedesktop.systemd1; ignored otherwise).
 * Return: 0.
 */
int driver_activation_failure(struct broker *b, struct connection *sender, struct message *m);

/** driver_introspect_xml() - the introspection data of the driver (static). */
const char *driver_introspect_xml(void);
