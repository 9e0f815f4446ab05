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

# The name registry against the real dbus-daemon: test-name-replay runs a script
# of requests/releases/disconnects that test-name-daemon.py also runs on a
# private dbus-daemon; results, queues and NameOwnerChanged order must agree.
check_PROGRAMS += test/dbus-proxy/test-name-replay
test_dbus_proxy_test_name_replay_SOURCES = test/dbus-proxy/test-name-replay.c
test_dbus_proxy_test_name_replay_LDADD = dbus-proxy/libbus.la

TESTS += test/dbus-proxy/test-name-daemon.py
EXTRA_DIST += test/dbus-proxy/test-name-daemon.py

# Match semantics against the real dbus-daemon: test-match-replay evaluates rules
# on message descriptions; test-match-daemon-routing.py sends the same
# messages through dbus-daemon and compares who receives them.
check_PROGRAMS += test/dbus-proxy/test-match-replay
test_dbus_proxy_test_match_replay_SOURCES = test/dbus-proxy/test-match-replay.c
test_dbus_proxy_test_match_replay_LDADD = dbus-proxy/libbus.la

TESTS += test/dbus-proxy/test-match-daemon-routing.py
EXTRA_DIST += test/dbus-proxy/test-match-daemon-routing.py

# The match rule parser's fuzz target, replaying test/dbus-proxy/corpus/match
# (the corpus directory is distributed by test/dbus-proxy/transport.mk); see
# the head of fuzz-match.c for running it under libFuzzer.
check_PROGRAMS += test/dbus-proxy/test-fuzz-match
test_dbus_proxy_test_fuzz_match_SOURCES = test/dbus-proxy/fuzz-match.c test/dbus-proxy/fuzz-common.h
test_dbus_proxy_test_fuzz_match_LDADD = dbus-proxy/libbus.la

TESTS += test/dbus-proxy/test-fuzz-match

# Allocation failures injected into dbus-proxy/libbus.la through --wrap.
check_PROGRAMS += test/dbus-proxy/test-bus-oom
test_dbus_proxy_test_bus_oom_SOURCES = test/dbus-proxy/test-bus-oom.c
test_dbus_proxy_test_bus_oom_CFLAGS = $(unit_cflags)
test_dbus_proxy_test_bus_oom_LDFLAGS = $(AM_LDFLAGS) -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc
test_dbus_proxy_test_bus_oom_LDADD = dbus-proxy/libbus.la $(unit_libs)

TESTS += test/dbus-proxy/test-bus-oom
