# test/util/ -- unit tests of util/ (included by the top-level Makefile.am).


check_PROGRAMS += test/util/test-list
test_util_test_list_SOURCES = test/util/test-list.c
test_util_test_list_CFLAGS = $(unit_cflags)
test_util_test_list_LDADD = $(unit_libs)

TESTS += test/util/test-list

check_PROGRAMS += test/util/test-rbtree
test_util_test_rbtree_SOURCES = test/util/test-rbtree.c
test_util_test_rbtree_CFLAGS = $(unit_cflags)
test_util_test_rbtree_LDADD = util/libutil.la $(unit_libs)

TESTS += test/util/test-rbtree

check_PROGRAMS += test/util/test-cleanup
test_util_test_cleanup_SOURCES = test/util/test-cleanup.c
test_util_test_cleanup_CFLAGS = $(unit_cflags)
test_util_test_cleanup_LDADD = $(unit_libs)

TESTS += test/util/test-cleanup

check_PROGRAMS += test/util/test-error
test_util_test_error_SOURCES = test/util/test-error.c
test_util_test_error_CFLAGS = $(unit_cflags)
test_util_test_error_LDADD = util/libutil.la $(unit_libs)

TESTS += test/util/test-error

check_PROGRAMS += test/util/test-log
test_util_test_log_SOURCES = test/util/test-log.c
test_util_test_log_CFLAGS = $(unit_cflags)
test_util_test_log_LDADD = util/libutil.la $(unit_libs)

TESTS += test/util/test-log
