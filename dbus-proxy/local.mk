# dbus-proxy/ build rules (included by the top-level Makefile.am).

#
# libwire: the D-Bus wire codec (validation, message parsing, SENDER
# rewriting, reader, builder). No dependencies beyond libc.
#
noinst_LTLIBRARIES += dbus-proxy/libwire.la
dbus_proxy_libwire_la_SOURCES = \
	dbus-proxy/marshal.h \
	dbus-proxy/marshal-builder.c \
	dbus-proxy/marshal-builder.h \
	dbus-proxy/marshal-reader.c \
	dbus-proxy/marshal-reader.h \
	dbus-proxy/message.c \
	dbus-proxy/message.h \
	dbus-proxy/validate.c \
	dbus-proxy/validate.h
dbus_proxy_libwire_la_LIBADD = dbus-proxy/libsyntax.la util/libutil.la

#
# libloop: the broker's event loop (epoll, deadlines, signals), used by the
# broker and by activation.
#
noinst_LTLIBRARIES += dbus-proxy/libloop.la
dbus_proxy_libloop_la_SOURCES = \
	dbus-proxy/loop.c \
	dbus-proxy/loop.h
dbus_proxy_libloop_la_LIBADD = util/libutil.la

check_PROGRAMS += test/dbus-proxy/test-loop
test_dbus_proxy_test_loop_SOURCES = test/dbus-proxy/test-loop.c
test_dbus_proxy_test_loop_CFLAGS = $(unit_cflags)
test_dbus_proxy_test_loop_LDADD = dbus-proxy/libloop.la $(unit_libs)
TESTS += test/dbus-proxy/test-loop
