# test/bench/ -- make bench: brokers side by side (included by the top-level Makefile.am).
#
# bench-dbus is the client program (one metric group per run); bench.py is
# the driver: it starts every broker fresh per repetition, interleaves them,
# and prints a table, writes JSON and draws a PNG (see test/bench/README.md).
# `make check` runs test-bench.py: the driver in smoke mode, checking that
# every metric was produced for every available broker.

noinst_PROGRAMS += test/bench/bench-dbus
test_bench_bench_dbus_SOURCES = \
	test/bench/bench.h \
	test/bench/main.c \
	test/bench/util.c \
	test/bench/bus.c \
	test/bench/signal.c \
	test/bench/rawcall.c \
	test/bench/floor.c \
	test/bench/floor-connect.c \
	test/bench/native.c
test_bench_bench_dbus_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS)
test_bench_bench_dbus_LDADD = test/integration/libraw.la libbus1/libbus1.la $(SYSTEMD_LIBS) -lpthread

EXTRA_DIST += \
	test/bench/README.md \
	test/bench/bench.py \
	test/bench/test-bench.py \
	test/bench/results.json \
	test/bench/results.png \
	test/bench/results-same-session.json \
	test/bench/results-same-session.png
CLEANFILES += test/bench/bench-out.json test/bench/bench-out.png test/bench/bench-out.0.dat \
	test/bench/bench-out.1.dat test/bench/bench-out.gp

BENCH_ARGS ?=
bench: test/bench/bench-dbus $(bin_PROGRAMS)
	/usr/bin/python3 $(top_srcdir)/test/bench/bench.py \
		--client $(abs_top_builddir)/test/bench/bench-dbus \
		--ours $(abs_top_builddir)/bus1-dbus \
		--dbus-daemon $(DBUS_DAEMON) \
		--out $(abs_top_builddir)/test/bench/bench-out $(BENCH_ARGS)
.PHONY: bench

TESTS += test/bench/test-bench.py
