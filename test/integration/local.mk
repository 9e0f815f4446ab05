# test/integration/ -- real clients against a private broker (included by the top-level Makefile.am).
#
# Every test program runs twice: once against the broker the environment
# selects (default our bus1-dbus; SKIP while it does not exist) and once
# through its *-reference.sh wrapper with BUS1_TEST_BROKER=dbus-daemon.
# See test/integration/README.md.

TESTS += \
	test/integration/test-cli.sh \
	test/integration/test-cli-reference.sh \
	test/integration/test-python.py \
	test/integration/test-python-reference.sh
EXTRA_DIST += \
	test/integration/README.md \
	test/integration/test-cli.sh \
	test/integration/test-cli-reference.sh \
	test/integration/test-python.py \
	test/integration/test-python-reference.sh
