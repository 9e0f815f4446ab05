# test/dbus-proxy/ tests of names and match rules.

check_PROGRAMS += test/dbus-proxy/test-name
test_dbus_proxy_test_name_SOURCES = test/dbus-proxy/test-name.c
test_dbus_proxy_test_name_CFLAGS = $(unit_cflags)
test_dbus_proxy_test_name_LDADD = dbus-proxy/libbus.la $(unit_libs)

TESTS += test/dbus-proxy/test-name

check_PROGRAMS += test/dbus-proxy/test-match
test_dbus_proxy_test_match_SOURCES = test/dbus-proxy/test-match.c
test_dbus_proxy_test_match_CFLAGS = $(unit_cflags)
test_dbus_proxy_test_match_LDADD = dbus-proxy/libbus.la $(unit_libs)

TESTS += test/dbus-proxy/test-match

# The parser table of test-match against the real dbus-daemon.
TESTS += test/dbus-proxy/test-match-daemon.py
EXTRA_DIST += test/dbus-proxy/test-match-daemon.py

# Microbenchmark of routing cost versus unrelated rules (run by hand:
# test/dbus-proxy/bench-match [iterations]); not a test.
noinst_PROGRAMS += test/dbus-proxy/bench-match
test_dbus_proxy_bench_match_SOURCES = test/dbus-proxy/bench-match.c
test_dbus_proxy_bench_match_LDADD = dbus-proxy/libbus.la
