#!/bin/sh
# Run the test-lib tests with BUS1_TEST_BROKER=dbus-daemon, so the env/
# tests (which use the environment's broker) run against the reference.
BUS1_TEST_BROKER=dbus-daemon exec "${top_builddir:-.}/test/lib/test-testbus"
