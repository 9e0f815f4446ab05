# util/ -- generic building blocks (included by the top-level Makefile.am).
#
# Freestanding (no libc, usable from core/): list.h, rbtree.[ch].
# Userspace: error tracing, logging, cleanup macros.

noinst_HEADERS += util/list.h
