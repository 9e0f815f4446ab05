# policy/ build rules (included by the top-level Makefile.am).
#
# libpolicy: the busconfig language (parser, compiled policy database,
# evaluator). Knows nothing of sockets or the D-Bus wire format.

noinst_LTLIBRARIES += policy/libpolicy.la
policy_libpolicy_la_SOURCES = \
	policy/rule.h \
	policy/config.h \
	policy/config.c \
	policy/db.h \
	policy/db.c \
	policy/console.h \
	policy/console.c
policy_libpolicy_la_CFLAGS = $(AM_CFLAGS) $(EXPAT_CFLAGS)
policy_libpolicy_la_LIBADD = util/libutil.la $(EXPAT_LIBS)
