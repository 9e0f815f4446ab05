# test/dbus-proxy/ tests of transports, SASL, addresses, command line.

check_PROGRAMS += test/dbus-proxy/test-sasl
test_dbus_proxy_test_sasl_SOURCES = test/dbus-proxy/test-sasl.c
test_dbus_proxy_test_sasl_CFLAGS = $(unit_cflags) $(DBUS_CFLAGS) $(SYSTEMD_CFLAGS)
test_dbus_proxy_test_sasl_LDADD = dbus-proxy/libtransport.la $(unit_libs) $(DBUS_LIBS) $(SYSTEMD_LIBS)
TESTS += test/dbus-proxy/test-sasl

check_PROGRAMS += test/dbus-proxy/test-address
test_dbus_proxy_test_address_SOURCES = test/dbus-proxy/test-address.c
test_dbus_proxy_test_address_CFLAGS = $(unit_cflags)
test_dbus_proxy_test_address_LDADD = dbus-proxy/libtransport.la $(unit_libs)
TESTS += test/dbus-proxy/test-address

check_PROGRAMS += test/dbus-proxy/test-listener
test_dbus_proxy_test_listener_SOURCES = test/dbus-proxy/test-listener.c
test_dbus_proxy_test_listener_CFLAGS = $(unit_cflags) $(DBUS_CFLAGS)
test_dbus_proxy_test_listener_LDADD = dbus-proxy/libtransport.la $(unit_libs) $(DBUS_LIBS)
TESTS += test/dbus-proxy/test-listener

check_PROGRAMS += test/dbus-proxy/test-cmdline
test_dbus_proxy_test_cmdline_SOURCES = test/dbus-proxy/test-cmdline.c
test_dbus_proxy_test_cmdline_CFLAGS = $(unit_cflags)
test_dbus_proxy_test_cmdline_LDADD = dbus-proxy/libtransport.la $(unit_libs)
TESTS += test/dbus-proxy/test-cmdline

# Fuzz targets: built here as corpus replays (TAP); see fuzz-common.h for
# building them with libFuzzer.
check_PROGRAMS += test/dbus-proxy/test-fuzz-sasl test/dbus-proxy/test-fuzz-address
test_dbus_proxy_test_fuzz_sasl_SOURCES = test/dbus-proxy/fuzz-sasl.c test/dbus-proxy/fuzz-common.h
test_dbus_proxy_test_fuzz_sasl_LDADD = dbus-proxy/libtransport.la
test_dbus_proxy_test_fuzz_address_SOURCES = test/dbus-proxy/fuzz-address.c test/dbus-proxy/fuzz-common.h
test_dbus_proxy_test_fuzz_address_LDADD = dbus-proxy/libtransport.la
TESTS += test/dbus-proxy/test-fuzz-sasl test/dbus-proxy/test-fuzz-address
EXTRA_DIST += test/dbus-proxy/corpus
