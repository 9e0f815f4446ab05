# test/dbus-proxy/ (included by the top-level Makefile.am).

#
# Wire codec (dbus-proxy/libwire.la).
#
check_PROGRAMS += test/dbus-proxy/test-validate
test_dbus_proxy_test_validate_SOURCES = test/dbus-proxy/test-validate.c
test_dbus_proxy_test_validate_CFLAGS = $(unit_cflags)
test_dbus_proxy_test_validate_LDADD = dbus-proxy/libwire.la $(unit_libs)
TESTS += test/dbus-proxy/test-validate

check_PROGRAMS += test/dbus-proxy/test-message
test_dbus_proxy_test_message_SOURCES = test/dbus-proxy/test-message.c test/dbus-proxy/wire-raw.h
test_dbus_proxy_test_message_CFLAGS = $(unit_cflags)
test_dbus_proxy_test_message_LDADD = dbus-proxy/libwire.la $(unit_libs)
TESTS += test/dbus-proxy/test-message

check_PROGRAMS += test/dbus-proxy/test-message-libdbus
test_dbus_proxy_test_message_libdbus_SOURCES = test/dbus-proxy/test-message-libdbus.c test/dbus-proxy/wire-raw.h
test_dbus_proxy_test_message_libdbus_CFLAGS = $(unit_cflags) $(DBUS_CFLAGS)
test_dbus_proxy_test_message_libdbus_LDADD = dbus-proxy/libwire.la $(unit_libs) $(DBUS_LIBS)
TESTS += test/dbus-proxy/test-message-libdbus

#
# Fuzz target of the message parser. `make check` builds it with the normal
# compiler (test-fuzz-message) and replays test/dbus-proxy/corpus-message/
# (TAP, one line per file). test-gen-corpus-message writes the seed files.
#
# (Binaries are named test-* so the tree's .gitignore covers them.)
check_PROGRAMS += test/dbus-proxy/test-fuzz-message
test_dbus_proxy_test_fuzz_message_SOURCES = test/dbus-proxy/fuzz-message.c
test_dbus_proxy_test_fuzz_message_LDADD = dbus-proxy/libwire.la
TESTS += test/dbus-proxy/test-fuzz-message

check_PROGRAMS += test/dbus-proxy/test-gen-corpus-message
test_dbus_proxy_test_gen_corpus_message_SOURCES = test/dbus-proxy/gen-corpus-message.c test/dbus-proxy/wire-raw.h
test_dbus_proxy_test_gen_corpus_message_LDADD = dbus-proxy/libwire.la

EXTRA_DIST += test/dbus-proxy/corpus-message

#
# `make fuzz-message [FUZZ_CC=clang] [FUZZ_TIME=seconds]`: build the libFuzzer
# binary (needs clang with -fsanitize=fuzzer) and fuzz for FUZZ_TIME seconds,
# starting from the corpus in the tree; new inputs go to
# test/dbus-proxy/test-fuzz-corpus-message/ in the build tree, crashers to crash-*
# in the build directory: copy them into test/dbus-proxy/corpus-message/
# once fixed. The corpus in the tree was minimised with
#   test-fuzz-message-libfuzzer -merge=1 -use_counters=0 NEW SEEDS FOUND
# (files fuzz-*: inputs that reached new edges in a 4-minute run).
#
FUZZ_CC = clang
FUZZ_TIME = 300
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
fuzz_message_sources = \
	$(top_srcdir)/dbus-proxy/marshal-builder.c \
	$(top_srcdir)/dbus-proxy/marshal-reader.c \
	$(top_srcdir)/dbus-proxy/message.c \
	$(top_srcdir)/dbus-proxy/validate.c \
	$(top_srcdir)/util/error.c \
	$(top_srcdir)/util/log.c \
	$(top_srcdir)/test/dbus-proxy/fuzz-message.c

test/dbus-proxy/test-fuzz-message-libfuzzer: $(fuzz_message_sources)
	$(AM_V_CCLD)$(FUZZ_CC) $(FUZZ_FLAGS) -DFUZZ_LIBFUZZER -I$(top_srcdir) -I$(top_builddir) \
		-include $(top_builddir)/config.h -o $@ $(fuzz_message_sources)

fuzz-message: test/dbus-proxy/test-fuzz-message-libfuzzer
	$(MKDIR_P) test/dbus-proxy/test-fuzz-corpus-message
	./test/dbus-proxy/test-fuzz-message-libfuzzer -max_total_time=$(FUZZ_TIME) \
		test/dbus-proxy/test-fuzz-corpus-message $(top_srcdir)/test/dbus-proxy/corpus-message

CLEANFILES += test/dbus-proxy/test-fuzz-message-libfuzzer
.PHONY: fuzz-message

#
# Cross-check with GDBus (python3-gi) through test-wire-tool.
#
check_PROGRAMS += test/dbus-proxy/test-wire-tool
test_dbus_proxy_test_wire_tool_SOURCES = test/dbus-proxy/wire-tool.c
test_dbus_proxy_test_wire_tool_LDADD = dbus-proxy/libwire.la
TESTS += test/dbus-proxy/test-message-gdbus.py
EXTRA_DIST += test/dbus-proxy/test-message-gdbus.py

#
# Administration of the daemon against dbus-daemon 1.14 (each runs the same
# scenario on both): $XDG_RUNTIME_DIR and the transient service directory.
# daemons.py holds their shared helpers (brokers, TAP, a private bus, a raw
# SASL client).
#
TESTS += test/dbus-proxy/test-xdg-runtime-daemon.py
EXTRA_DIST += \
	test/dbus-proxy/daemons.py \
	test/dbus-proxy/test-xdg-runtime-daemon.py

# The driver's answers to odd arguments (names that are no bus names,
# StartServiceByName of names without a service file, Properties of every
# driver interface, UpdateActivationEnvironment with bad variable names).
TESTS += test/dbus-proxy/test-driver-daemon.py
EXTRA_DIST += test/dbus-proxy/test-driver-daemon.py

# Odd messages on the wire (header fields, body values, limits): disconnected,
# delivered or dropped as by dbus-daemon (raw clients from test/lib/bustest.py).
TESTS += test/dbus-proxy/test-wire-daemon.py
EXTRA_DIST += test/dbus-proxy/test-wire-daemon.py

# Connecting: authentication mechanisms, <allow_anonymous/>, unique names.
TESTS += test/dbus-proxy/test-connect-daemon.py
EXTRA_DIST += test/dbus-proxy/test-connect-daemon.py

# Logging to syslog (--syslog, --syslog-only, --nosyslog, <syslog/>) through
# a private /dev/log in a mount namespace; needs root (SKIP otherwise).
TESTS += test/dbus-proxy/test-syslog-daemon.py
EXTRA_DIST += test/dbus-proxy/test-syslog-daemon.py

# <user>: switching to the configured user after binding; needs root.
TESTS += test/dbus-proxy/test-user-daemon.py
EXTRA_DIST += test/dbus-proxy/test-user-daemon.py

#
# Every <limit> reached and recovered, bus1-dbus side by side with
# dbus-daemon (raw clients from test/lib/bustest.py; needs bus1-dbus built).
#
TESTS += test/dbus-proxy/test-limits-bus.py
EXTRA_DIST += test/dbus-proxy/test-limits-bus.py

# Per-user quotas: a client running as nobody floods a root receiver, another
# user must still get through (the core's byte quota, fed with real message
# sizes); dbus-daemon's lock-out is checked as the reference. Needs root and
# setpriv (SKIP otherwise).
TESTS += test/dbus-proxy/test-quota-daemon.py
EXTRA_DIST += test/dbus-proxy/test-quota-daemon.py
