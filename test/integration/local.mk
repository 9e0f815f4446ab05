# test/integration/ -- real clients against a private broker (included by the top-level Makefile.am).
#
# Every test program runs twice: once against the broker the environment
# selects (default our bus1-dbus; SKIP while it does not exist) and once
# through its *-reference.sh wrapper with BUS1_TEST_BROKER=dbus-daemon.
# See test/integration/README.md.

TESTS += \
	test/integration/test-cli.sh \
	test/integration/test-cli-reference.sh \
	test/integration/test-python.py \
	test/integration/test-python-reference.sh
EXTRA_DIST += \
	test/integration/README.md \
	test/integration/test-cli.sh \
	test/integration/test-cli-reference.sh \
	test/integration/test-python.py \
	test/integration/test-python-reference.sh

noinst_LTLIBRARIES += test/integration/libraw.la
test_integration_libraw_la_SOURCES = \
	test/integration/raw.c \
	test/integration/raw.h

check_PROGRAMS += test/integration/test-malformed
test_integration_test_malformed_SOURCES = test/integration/test-malformed.c
test_integration_test_malformed_CFLAGS = $(unit_cflags) $(DBUS_CFLAGS)
test_integration_test_malformed_LDADD = test/integration/libraw.la test/lib/libtestbus.la \
	$(unit_libs) $(DBUS_LIBS)
TESTS += \
	test/integration/test-malformed \
	test/integration/test-malformed-reference.sh
EXTRA_DIST += test/integration/test-malformed-reference.sh

check_PROGRAMS += test/integration/test-clients
test_integration_test_clients_SOURCES = test/integration/test-clients.c
test_integration_test_clients_CFLAGS = $(unit_cflags) $(DBUS_CFLAGS) $(SYSTEMD_CFLAGS) -pthread
test_integration_test_clients_LDADD = test/integration/libraw.la test/lib/libtestbus.la \
	$(unit_libs) $(DBUS_LIBS) $(SYSTEMD_LIBS) -lpthread
TESTS += \
	test/integration/test-clients \
	test/integration/test-clients-reference.sh
EXTRA_DIST += test/integration/test-clients-reference.sh
