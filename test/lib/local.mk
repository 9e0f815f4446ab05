# test/lib/ -- the integration-test library: a private broker per test
# (bus.c), libdbus clients (client.c), command-line clients with the bus
# address (command.c), a cmocka group runner with valid TAP SKIP lines
# (tap.c), bus.sh for shell tests and bustest.py for python tests
# (included by the top-level Makefile.am).

noinst_LTLIBRARIES += test/lib/libtestbus.la
test_lib_libtestbus_la_SOURCES = \
	test/lib/bus.c \
	test/lib/bus.h \
	test/lib/client.c \
	test/lib/client.h \
	test/lib/command.c \
	test/lib/command.h \
	test/lib/tap.c \
	test/lib/tap.h
test_lib_libtestbus_la_CFLAGS = $(AM_CFLAGS) $(DBUS_CFLAGS) $(CMOCKA_CFLAGS)
test_lib_libtestbus_la_LIBADD = $(DBUS_LIBS) $(CMOCKA_LIBS)

# Tests of the library itself: once with the environment's broker (SKIPs the
# env/ tests while bus1-dbus does not exist), once with dbus-daemon selected.
check_PROGRAMS += test/lib/test-testbus
test_lib_test_testbus_SOURCES = test/lib/test-testbus.c
test_lib_test_testbus_CFLAGS = $(unit_cflags) $(DBUS_CFLAGS)
test_lib_test_testbus_LDADD = test/lib/libtestbus.la $(unit_libs) $(DBUS_LIBS)

TESTS += \
	test/lib/test-testbus \
	test/lib/test-testbus-reference.sh \
	test/lib/test-bus-sh.sh
EXTRA_DIST += \
	test/lib/bus.sh \
	test/lib/bustest.py \
	test/lib/test-testbus-reference.sh \
	test/lib/test-bus-sh.sh
