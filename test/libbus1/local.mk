# test/libbus1/ (included by the top-level Makefile.am).

check_PROGRAMS += test/libbus1/test-bus1
test_libbus1_test_bus1_SOURCES = test/libbus1/test-bus1.c
test_libbus1_test_bus1_CFLAGS = $(unit_cflags)
test_libbus1_test_bus1_LDADD = libbus1/libbus1.la $(unit_libs)
TESTS += test/libbus1/test-bus1 test/libbus1/test-symbols.sh
EXTRA_DIST += test/libbus1/test-symbols.sh
