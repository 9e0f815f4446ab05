# dbus-proxy/ the broker: connections, routing, driver, main -> bus1-dbus (included by the top-level Makefile.am).
#
# libbroker.la: the bus on top of the core (connections, routing through
# libbus1, reply tracking, the driver); bus1-dbus is main.c over it.

noinst_LTLIBRARIES += dbus-proxy/libbroker.la
dbus_proxy_libbroker_la_SOURCES = \
	dbus-proxy/broker.c \
	dbus-proxy/broker.h \
	dbus-proxy/connection.c \
	dbus-proxy/connection.h \
	dbus-proxy/driver.c \
	dbus-proxy/driver.h
dbus_proxy_libbroker_la_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS)
dbus_proxy_libbroker_la_LIBADD = \
	dbus-proxy/libactivation.la \
	dbus-proxy/libtransport.la \
	dbus-proxy/libbus.la \
	dbus-proxy/libwire.la \
	policy/libpolicy.la \
	libbus1/libbus1.la \
	util/libutil.la \
	$(SYSTEMD_LIBS)

bin_PROGRAMS += bus1-dbus
bus1_dbus_SOURCES = dbus-proxy/main.c
bus1_dbus_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS)
bus1_dbus_LDADD = dbus-proxy/libbroker.la $(SYSTEMD_LIBS)

# Tests of the broker: real clients against bus1-dbus.
TESTS += test/dbus-proxy/test-broker.py
EXTRA_DIST += test/dbus-proxy/test-broker.py
