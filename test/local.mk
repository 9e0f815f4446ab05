# test/ -- unit tests, integration-test library, reference-test runner.

unit_cflags = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
unit_libs = $(CMOCKA_LIBS)

check_PROGRAMS += test/util/test-list
test_util_test_list_SOURCES = test/util/test-list.c
test_util_test_list_CFLAGS = $(unit_cflags)
test_util_test_list_LDADD = $(unit_libs)

TESTS += test/util/test-list
