# test/policy/ -- unit tests and fuzz replay of policy/ (included by the
# top-level Makefile.am).

check_PROGRAMS += test/policy/test-config
test_policy_test_config_SOURCES = test/policy/test-config.c
test_policy_test_config_CFLAGS = $(unit_cflags)
test_policy_test_config_LDADD = policy/libpolicy.la $(unit_libs)

TESTS += test/policy/test-config

check_PROGRAMS += test/policy/test-db
test_policy_test_db_SOURCES = test/policy/test-db.c
test_policy_test_db_CFLAGS = $(unit_cflags)
test_policy_test_db_LDADD = policy/libpolicy.la $(unit_libs)

TESTS += test/policy/test-db
