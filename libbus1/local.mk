# libbus1/ build rules (included by the top-level Makefile.am).
#
# libbus1.so: the in-process backend over core/libcore.la; only the
# functions of libbus1/bus1.h are exported (libbus1/libbus1.sym). The ABI
# header it includes is installed as $(includedir)/core/uapi/bus1.h so the
# same include line works in-tree and installed.

lib_LTLIBRARIES += libbus1/libbus1.la
include_HEADERS += libbus1/bus1.h
libbus1uapidir = $(includedir)/core/uapi
libbus1uapi_HEADERS = core/uapi/bus1.h
libbus1_libbus1_la_SOURCES = libbus1/bus1.c libbus1/bus1.h
libbus1_libbus1_la_LIBADD = core/libcore.la
libbus1_libbus1_la_LDFLAGS = $(AM_LDFLAGS) -version-info 0:0:0 \
	-Wl,--version-script=$(top_srcdir)/libbus1/libbus1.sym
EXTRA_libbus1_libbus1_la_DEPENDENCIES = libbus1/libbus1.sym
EXTRA_DIST += libbus1/libbus1.sym libbus1/libbus1.pc.in
pkgconfig_DATA += libbus1/libbus1.pc
DISTCLEANFILES += libbus1/libbus1.pc
