# test/reference/ -- the dbus reference tests (package dbus-tests) against a
# broker (included by the top-level Makefile.am).
#
#   make check-reference                                  # our bus1-dbus
#   make check-reference DBUS_DAEMON=/usr/bin/dbus-daemon # the reference
#
# DBUS_DAEMON is also configure's path of dbus-daemon; only a value given
# on the make command line selects the daemon here, otherwise our broker
# runs. REFERENCE_FLAGS passes options to the runner, e.g.
# REFERENCE_FLAGS='--expected-failures=FILE --log=reference.log'.
# `make check` runs the reference tests against bus1-dbus
# (test-reference-bus1.sh) and the runner's self-test (fake programs).

EXTRA_DIST += \
	test/reference/README.md \
	test/reference/run-reference \
	test/reference/test-run-reference.sh \
	test/reference/test-reference-bus1.sh

TESTS += test/reference/test-run-reference.sh test/reference/test-reference-bus1.sh

REFERENCE_FLAGS =

# A command-line variable shows up in MAKEFLAGS (after "--" in GNU make);
# this keeps the recipe free of GNU make functions.
check-reference:
	$(AM_V_at)daemon='$(abs_top_builddir)/bus1-dbus'; \
	case ' $(MAKEFLAGS) ' in *' DBUS_DAEMON='*) daemon='$(DBUS_DAEMON)' ;; esac; \
	/usr/bin/python3 $(top_srcdir)/test/reference/run-reference \
		--tests-dir='$(DBUS_REFTEST_DIR)' $(REFERENCE_FLAGS) "$$daemon"
.PHONY: check-reference
