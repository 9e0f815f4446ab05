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

# Fuzz target; built here as a replay program over test/policy/corpus/
# (see the header of fuzz-policy.c for the libFuzzer build).
check_PROGRAMS += test/policy/test-fuzz-policy
test_policy_test_fuzz_policy_SOURCES = test/policy/fuzz-policy.c
test_policy_test_fuzz_policy_LDADD = policy/libpolicy.la

TESTS += test/policy/test-fuzz-policy
EXTRA_DIST += test/policy/corpus

# Verdicts recorded from the reference dbus-daemon, compared with ours
# (test-policy-eval is the helper that evaluates one request with libpolicy).
check_PROGRAMS += test/policy/test-policy-eval
test_policy_test_policy_eval_SOURCES = test/policy/policy-eval.c
test_policy_test_policy_eval_LDADD = policy/libpolicy.la

TESTS += test/policy/test-dbus-verdicts.py test/policy/test-dbus-accept.py
EXTRA_DIST += test/policy/test-dbus-verdicts.py test/policy/test-dbus-accept.py
