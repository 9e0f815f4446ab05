#pragma once

/*
 * Listening sockets of the bus
 *
 * A `struct listener` is one listening AF_UNIX stream socket (non-blocking,
 * close-on-exec) with its server GUID and the address string that clients
 * use to reach it, formatted exactly as dbus-daemon prints it:
 * "unix:path=<escaped path>,guid=<guid>" for path=, tmpdir=, dir= and
 * runtime=yes sockets, "unix:abstract=<escaped name>,guid=<guid>" for
 * abstract sockets (dbus-daemon 1.14 on Linux also makes tmpdir= a path
 * socket, named "dbus-" plus 10 random alphanumerics).
 *
 * A `struct listener_set` holds the listeners of all <listen> elements (or
 * the --address) of one bus. Its printable address lists them in the order
 * dbus-daemon prints them: the last one added first, separated by ';'.
 *
 * Socket files are created with mode 0777 whatever the umask (as
 * dbus-daemon does: the bus, not the file mode, decides who may connect).
 * path= and runtime=yes remove a stale socket (only a socket,
 * never another kind of file) before binding, as dbus-daemon does. Every
 * socket file a listener created is removed when it is freed. Sockets
 * received from systemd are never unlinked.
 *
 * Invariants: fd >= 0 and address != NULL for every listener in a set.
 */

#include <stdbool.h>
#include <stddef.h>

#include "dbus-proxy/address.h"
#include "dbus-proxy/guid.h"

/* Expected outcomes (positive). */
enum {
        LISTENER_E_AGAIN = 1,           /* listener_accept(): no connection pending */
        LISTENER_E_NO_RUNTIME_DIR,      /* runtime=yes but $XDG_RUNTIME_DIR unset/relative */
        LISTENER_E_NOT_ACTIVATED,       /* systemd: but no LISTEN_FDS for this process */
        LISTENER_E_BAD_FD,              /* a passed fd is not a listening AF_UNIX stream socket */
};

struct listener {
        int fd;                         /* listening socket, owned */
        char guid[GUID_LEN + 1];        /* immutable after creation */
        char *address;                  /* printable address incl. ",guid=" */
        char *unlink_path;              /* socket file to remove on free, or NULL */
};

struct listener_set {
        size_t n;
        struct listener **listeners;    /* in the order they were added */
};

/**
 * listener_new() - listen on the first alternative of @addresses that works
 * @out:       written on success: the new listener
 * @addresses: parsed address (its entries are alternatives); must not be
 *             of kind ADDRESS_SYSTEMD (see listener_set_add())
 *
 * Return: 0 on success; LISTENER_E_NO_RUNTIME_DIR if runtime=yes is the
 * last alternative tried and $XDG_RUNTIME_DIR is unusable; otherwise the
 * negative errno of the last alternative that failed (e.g. -EADDRINUSE,
 * -ENOENT from bind(2), -EACCES), or -ENOMEM.
 */
int listener_new(struct listener **out, const struct address_list *addresses);

/**
 * listener_new_from_fd() - adopt an already listening socket
 * @out: written on success: the new listener (owning @fd)
 * @fd:  a bound, listening AF_UNIX SOCK_STREAM socket; ownership passes to
 *       the listener only on success
 *
 * Sets O_NONBLOCK and FD_CLOEXEC and derives the address from the socket's
 * name (path or abstract).
 *
 * Return: 0 on success; LISTENER_E_BAD_FD if @fd is not a listening unix
 * stream socket with a name; negative errno (fcntl(2)), -ENOMEM.
 */
int listener_new_from_fd(struct listener **out, int fd);

/**
 * listener_free() - close the socket and remove its socket file
 * @listener: listener or NULL
 *
 * Return: NULL.
 */
struct listener *listener_free(struct listener *listener);

/**
 * listener_accept() - accept one pending connection
 * @listener: the listener
 * @fdp:      written on success: the new connection, non-blocking and
 *            close-on-exec
 *
 * Return: 0 on success; LISTENER_E_AGAIN if no connection is pending (or
 * the pending one was aborted by the client); negative errno otherwise
 * (e.g. -EMFILE: the caller decides whether to back off).
 */
int listener_accept(struct listener *listener, int *fdp);

/**
 * listener_set_new() - make an empty set
 * @out: written on success
 *
 * Return: 0 or -ENOMEM.
 */
int listener_set_new(struct listener_set **out);

/**
 * listener_set_free() - free every listener of a set and the set
 * @set: set or NULL
 *
 * Return: NULL.
 */
struct listener_set *listener_set_free(struct listener_set *set);

/**
 * listener_set_add() - listen on one address (one <listen> or --address)
 * @set:       the set
 * @addresses: the parsed address; its entries are alternatives. An entry of
 *             kind ADDRESS_SYSTEMD adds one listener per socket passed by
 *             systemd (LISTEN_FDS/LISTEN_PID, consumed from the environment).
 *
 * On failure the set is unchanged.
 *
 * Return: 0 on success; the positive and negative codes of listener_new(),
 * listener_new_from_fd(); LISTENER_E_NOT_ACTIVATED if a systemd: entry was
 * tried and the process received no sockets.
 */
int listener_set_add(struct listener_set *set, const struct address_list *addresses);

/**
 * listener_set_add_systemd() - adopt the sockets of systemd socket activation
 * @set: the set
 *
 * Takes the sockets passed in LISTEN_FDS (if LISTEN_PID is this process),
 * one listener each, and removes LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES
 * from the environment, so a second call finds none. This is what the
 * "systemd:" address does (dbus.service runs dbus-daemon with
 * --address=systemd:); a broker may also call it directly to prefer
 * activation sockets over its <listen> configuration.
 *
 * Return: 0 on success; LISTENER_E_NOT_ACTIVATED if no sockets were passed;
 * LISTENER_E_BAD_FD if one is not a listening unix stream socket (the set is
 * then unchanged); negative errno.
 */
int listener_set_add_systemd(struct listener_set *set);

/**
 * listener_set_add_fds() - adopt sockets passed by a service manager
 * @set:  the set
 * @fds:  listening AF_UNIX stream sockets; all are owned by the set on
 *        success, none on failure
 * @n:    number of fds (at least 1)
 *
 * Return: 0 on success; LISTENER_E_BAD_FD; negative errno.
 */
int listener_set_add_fds(struct listener_set *set, const int *fds, size_t n);

/**
 * listener_set_address() - the address to print (--print-address)
 * @set: a set with at least one listener
 * @out: written on success: new string, free()
 *
 * Return: 0 on success; -ENOMEM.
 */
int listener_set_address(const struct listener_set *set, char **out);
