# test/core/ (included by the top-level Makefile.am).

check_PROGRAMS += test/core/test-engine
test_core_test_engine_SOURCES = test/core/test-engine.c test/core/core-test.h
test_core_test_engine_CFLAGS = $(unit_cflags)
test_core_test_engine_LDADD = core/libcore.la $(unit_libs)
TESTS += test/core/test-engine

check_PROGRAMS += test/core/test-order
test_core_test_order_SOURCES = test/core/test-order.c test/core/order-check.c test/core/order-check.h \
	test/core/core-test.h
test_core_test_order_CFLAGS = $(unit_cflags)
test_core_test_order_LDADD = core/libcore.la $(unit_libs)
TESTS += test/core/test-order

check_PROGRAMS += test/core/test-fault
test_core_test_fault_SOURCES = test/core/test-fault.c test/core/core-test.h
test_core_test_fault_CFLAGS = $(unit_cflags)
test_core_test_fault_LDADD = core/libcore.la $(unit_libs)
TESTS += test/core/test-fault

check_PROGRAMS += test/core/test-cache
test_core_test_cache_SOURCES = test/core/test-cache.c
test_core_test_cache_CFLAGS = $(unit_cflags)
test_core_test_cache_LDADD = core/libcore.la $(unit_libs)
TESTS += test/core/test-cache

check_PROGRAMS += test/core/test-quota
test_core_test_quota_SOURCES = test/core/test-quota.c test/core/core-test.h
test_core_test_quota_CFLAGS = $(unit_cflags)
test_core_test_quota_LDADD = core/libcore.la $(unit_libs)
TESTS += test/core/test-quota

# Benchmark (not a test): taskset -c 0 test/core/bench-core [scale]
noinst_PROGRAMS += test/core/bench-core
test_core_bench_core_SOURCES = test/core/bench-core.c
test_core_bench_core_LDADD = libbus1/libbus1.la

check_PROGRAMS += test/core/test-lifetime
test_core_test_lifetime_SOURCES = test/core/test-lifetime.c test/core/core-test.h
test_core_test_lifetime_CFLAGS = $(unit_cflags)
test_core_test_lifetime_LDADD = core/libcore.la $(unit_libs)
TESTS += test/core/test-lifetime

check_PROGRAMS += test/core/test-commands
test_core_test_commands_SOURCES = test/core/test-commands.c test/core/core-test.h
test_core_test_commands_CFLAGS = $(unit_cflags)
test_core_test_commands_LDADD = core/libcore.la $(unit_libs)
TESTS += test/core/test-commands

check_PROGRAMS += test/core/test-order-model
test_core_test_order_model_SOURCES = test/core/test-order-model.c
test_core_test_order_model_CFLAGS = $(unit_cflags)
test_core_test_order_model_LDADD = $(unit_libs)
TESTS += test/core/test-order-model

TESTS += test/core/test-freestanding.sh
EXTRA_DIST += test/core/test-freestanding.sh

# Fuzz target of the ABI commands; `make check` replays test/core/corpus-abi/
# (hand-written seeds, random-*, and fuzz-*: inputs a 90-second libFuzzer run
# found reaching new edges; see the top of test/core/fuzz-abi.c).
check_PROGRAMS += test/core/test-fuzz-abi
test_core_test_fuzz_abi_SOURCES = test/core/fuzz-abi.c
test_core_test_fuzz_abi_LDADD = core/libcore.la
TESTS += test/core/test-fuzz-abi
EXTRA_DIST += test/core/corpus-abi

# `make check-tsan`: ThreadSanitizer run of the threaded core and libbus1
# tests (test-order, test-lifetime, test-engine, test-quota, test-cache, test-commands,
# test-bus1, bench-core's threaded call benchmark). TSan cannot be linked
# with the ASan of the CI build, so test/core/run-tsan.sh copies the tree to
# a temporary directory and builds it there with -fsanitize=thread; any report
# fails. ~2-3 minutes, hence not part of `make check`. BUS1_TEST_LONG=1 adds
# a 10^7-message test-order run; TSAN_CC picks the compiler (default clang).
check-tsan:
	$(AM_V_at)top_srcdir='$(abs_top_srcdir)' $(SHELL) $(top_srcdir)/test/core/run-tsan.sh
.PHONY: check-tsan
EXTRA_DIST += test/core/run-tsan.sh
