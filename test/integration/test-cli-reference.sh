#!/bin/sh
# test-cli.sh against the reference broker (see README.md).
BUS1_TEST_BROKER=dbus-daemon exec "${SHELL:-/bin/sh}" "${top_srcdir:-.}/test/integration/test-cli.sh"
