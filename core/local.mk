# core/ -- the capability engine (included by the top-level Makefile.am).
#
# Freestanding: only core/host-user.c uses libc. libcore.la is linked into
# libbus1 and into the core tests. It compiles the freestanding
# util/rbtree.c itself (as the kernel module will), so it does not pull the
# userspace parts of util/libutil.la into libbus1.so.

noinst_LTLIBRARIES += core/libcore.la
core_libcore_la_SOURCES = \
	core/core.h \
	core/internal.h \
	core/host.h \
	core/uapi/bus1.h \
	core/engine.c \
	core/user.c \
	core/map.c \
	core/cache.c \
	core/queue.c \
	core/peer.c \
	core/node.c \
	core/handle.c \
	core/message.c \
	core/host-user.c \
	util/rbtree.c
core_libcore_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden

EXTRA_DIST += doc/core-design.md doc/core-order.md doc/core-quota.md
