# dbus-proxy/ activation: service files, spawning, run-session (included by the top-level Makefile.am).
#
# libactivation: service files (service.c), the registry of service
# directories (servicedir.c), the launcher (spawn.c) and the per-name
# activation state machine (activation.c). The broker links it and drives it
# through activation.h.

noinst_HEADERS += \
	dbus-proxy/service.h \
	dbus-proxy/servicedir.h \
	dbus-proxy/spawn.h \
	dbus-proxy/activation.h

noinst_LTLIBRARIES += dbus-proxy/libactivation.la
dbus_proxy_libactivation_la_SOURCES = \
	dbus-proxy/service.c \
	dbus-proxy/servicedir.c \
	dbus-proxy/spawn.c \
	dbus-proxy/activation.c
dbus_proxy_libactivation_la_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS)
dbus_proxy_libactivation_la_LIBADD = dbus-proxy/libloop.la dbus-proxy/libbus.la dbus-proxy/libwire.la util/libutil.la $(SYSTEMD_LIBS)

#
# Tests.
#
check_PROGRAMS += test/dbus-proxy/test-service
test_dbus_proxy_test_service_SOURCES = test/dbus-proxy/test-service.c
test_dbus_proxy_test_service_CFLAGS = $(unit_cflags) $(SYSTEMD_CFLAGS)
test_dbus_proxy_test_service_LDADD = dbus-proxy/libactivation.la $(unit_libs)
TESTS += test/dbus-proxy/test-service

check_PROGRAMS += test/dbus-proxy/test-servicedir
test_dbus_proxy_test_servicedir_SOURCES = test/dbus-proxy/test-servicedir.c
test_dbus_proxy_test_servicedir_CFLAGS = $(unit_cflags) $(SYSTEMD_CFLAGS)
test_dbus_proxy_test_servicedir_LDADD = dbus-proxy/libactivation.la policy/libpolicy.la $(unit_libs) $(SYSTEMD_LIBS)
TESTS += test/dbus-proxy/test-servicedir

check_PROGRAMS += test/dbus-proxy/test-spawn
test_dbus_proxy_test_spawn_SOURCES = test/dbus-proxy/test-spawn.c
test_dbus_proxy_test_spawn_CFLAGS = $(unit_cflags) $(SYSTEMD_CFLAGS)
test_dbus_proxy_test_spawn_LDADD = dbus-proxy/libactivation.la $(unit_libs) $(SYSTEMD_LIBS)
TESTS += test/dbus-proxy/test-spawn

check_PROGRAMS += test/dbus-proxy/test-activation
test_dbus_proxy_test_activation_SOURCES = test/dbus-proxy/test-activation.c
test_dbus_proxy_test_activation_CFLAGS = $(unit_cflags) $(SYSTEMD_CFLAGS)
test_dbus_proxy_test_activation_LDADD = dbus-proxy/libactivation.la $(unit_libs) $(SYSTEMD_LIBS)
TESTS += test/dbus-proxy/test-activation

#
# bus1-run-session (like dbus-run-session).
#
bin_PROGRAMS += bus1-run-session
bus1_run_session_SOURCES = dbus-proxy/run-session.c

TESTS += test/dbus-proxy/test-run-session.sh
EXTRA_DIST += test/dbus-proxy/test-run-session.sh

#
# units/: systemd units for the system and the user bus (units/README).
# The .service files get @bindir@ substituted.
#
systemdsystemunitdir = $(prefix)/lib/systemd/system
systemduserunitdir = $(prefix)/lib/systemd/user
systemdsystemunit_DATA = units/system/bus1-dbus.service units/system/bus1-dbus.socket
systemduserunit_DATA = units/user/bus1-dbus.service units/user/bus1-dbus.socket
EXTRA_DIST += \
	units/README \
	units/system/bus1-dbus.service.in \
	units/system/bus1-dbus.socket \
	units/user/bus1-dbus.service.in \
	units/user/bus1-dbus.socket
CLEANFILES += units/system/bus1-dbus.service units/user/bus1-dbus.service

units/system/bus1-dbus.service units/user/bus1-dbus.service: %: %.in Makefile
	$(AM_V_GEN)$(MKDIR_P) $(@D) && sed -e 's|@BUS1_BINDIR@|$(bindir)|g' $< > $@.tmp && mv $@.tmp $@

TESTS += test/dbus-proxy/test-units.sh
EXTRA_DIST += test/dbus-proxy/test-units.sh

check_PROGRAMS += test/dbus-proxy/test-activation-daemon
test_dbus_proxy_test_activation_daemon_SOURCES = test/dbus-proxy/test-activation-daemon.c
test_dbus_proxy_test_activation_daemon_CFLAGS = $(unit_cflags) $(SYSTEMD_CFLAGS)
test_dbus_proxy_test_activation_daemon_LDADD = dbus-proxy/libactivation.la $(unit_libs) $(SYSTEMD_LIBS)
TESTS += test/dbus-proxy/test-activation-daemon

# Fuzz target of the service file parser and the Exec= splitter: built as a
# corpus replay (test/dbus-proxy/corpus/service/); see
# test/dbus-proxy/fuzz-common.h for building it with libFuzzer.
check_PROGRAMS += test/dbus-proxy/test-fuzz-service
test_dbus_proxy_test_fuzz_service_SOURCES = test/dbus-proxy/fuzz-service.c test/dbus-proxy/fuzz-common.h
test_dbus_proxy_test_fuzz_service_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS)
test_dbus_proxy_test_fuzz_service_LDADD = dbus-proxy/libactivation.la
TESTS += test/dbus-proxy/test-fuzz-service

# Activation end to end against dbus-daemon and (once built) bus1-dbus.
TESTS += test/dbus-proxy/test-activation-bus.py
EXTRA_DIST += test/dbus-proxy/test-activation-bus.py

# Policy enforcement end to end (own, own_prefix, send_destination_prefix,
# receive rules) for an unprivileged client, bus1-dbus against dbus-daemon.
TESTS += test/dbus-proxy/test-policy-bus.py
EXTRA_DIST += test/dbus-proxy/test-policy-bus.py
