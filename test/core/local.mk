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
