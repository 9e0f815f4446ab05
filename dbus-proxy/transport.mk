# dbus-proxy/ transports, SASL, addresses, command line (included by the top-level Makefile.am).
#
# libtransport.la: the socket-facing half of the broker that knows nothing of
# bus semantics: the SASL server state machine, server GUIDs, D-Bus server
# addresses, listening sockets (incl. systemd socket activation) and the
# dbus-daemon command line.

noinst_LTLIBRARIES += dbus-proxy/libtransport.la
dbus_proxy_libtransport_la_SOURCES = \
	dbus-proxy/address.c \
	dbus-proxy/address.h \
	dbus-proxy/cmdline.c \
	dbus-proxy/cmdline.h \
	dbus-proxy/guid.c \
	dbus-proxy/guid.h \
	dbus-proxy/hex.h \
	dbus-proxy/listener.c \
	dbus-proxy/listener.h \
	dbus-proxy/sasl.c \
	dbus-proxy/sasl.h
dbus_proxy_libtransport_la_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS)
dbus_proxy_libtransport_la_LIBADD = dbus-proxy/libwire.la util/libutil.la $(SYSTEMD_LIBS)
