# dbus-proxy/ bus semantics: names, match rules (included by the top-level Makefile.am).
#
# dbus-proxy/libbus.la works on plain C strings and small structs; it does not
# depend on the wire codec. The broker glues it to messages.

noinst_HEADERS += \
	dbus-proxy/match.h \
	dbus-proxy/name.h \
	dbus-proxy/syntax.h

# dbus-proxy/libsyntax.la: the name grammars, shared with the wire codec.
noinst_LTLIBRARIES += dbus-proxy/libsyntax.la
dbus_proxy_libsyntax_la_SOURCES = \
	dbus-proxy/syntax.c

noinst_LTLIBRARIES += dbus-proxy/libbus.la
dbus_proxy_libbus_la_SOURCES = \
	dbus-proxy/match.c \
	dbus-proxy/name.c
dbus_proxy_libbus_la_LIBADD = dbus-proxy/libsyntax.la util/libutil.la
