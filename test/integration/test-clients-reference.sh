#!/bin/sh
# test-clients against the reference broker (see README.md).
BUS1_TEST_BROKER=dbus-daemon exec "${top_builddir:-.}/test/integration/test-clients"
