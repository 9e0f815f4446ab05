# util/ -- generic building blocks (included by the top-level Makefile.am).
#
# Freestanding (no libc, usable from core/): list.h, rbtree.[ch].
# Userspace: error tracing, logging, cleanup macros.
#
# util/libutil.la holds everything compiled; link it with LIBADD/LDADD.

noinst_HEADERS += \
	util/cleanup.h \
	util/error.h \
	util/list.h \
	util/log.h \
	util/rbtree.h

noinst_LTLIBRARIES += util/libutil.la
util_libutil_la_SOURCES = \
	util/error.c \
	util/log.c \
	util/rbtree.c
