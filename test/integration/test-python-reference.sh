#!/bin/sh
# test-python.py against the reference broker (see README.md).
BUS1_TEST_BROKER=dbus-daemon exec /usr/bin/python3 "${top_srcdir:-.}/test/integration/test-python.py"
