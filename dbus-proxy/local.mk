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
dbus_proxy_libwire_la_LIBADD = util/libutil.la
