# test/dbus-proxy/ (included by the top-level Makefile.am).

#
# Wire codec (dbus-proxy/libwire.la).
#
check_PROGRAMS += test/dbus-proxy/test-validate
test_dbus_proxy_test_validate_SOURCES = test/dbus-proxy/test-validate.c
test_dbus_proxy_test_validate_CFLAGS = $(unit_cflags)
test_dbus_proxy_test_validate_LDADD = dbus-proxy/libwire.la $(unit_libs)
TESTS += test/dbus-proxy/test-validate

check_PROGRAMS += test/dbus-proxy/test-message
test_dbus_proxy_test_message_SOURCES = test/dbus-proxy/test-message.c test/dbus-proxy/wire-raw.h
test_dbus_proxy_test_message_CFLAGS = $(unit_cflags)
test_dbus_proxy_test_message_LDADD = dbus-proxy/libwire.la $(unit_libs)
TESTS += test/dbus-proxy/test-message

check_PROGRAMS += test/dbus-proxy/test-message-libdbus
test_dbus_proxy_test_message_libdbus_SOURCES = test/dbus-proxy/test-message-libdbus.c test/dbus-proxy/wire-raw.h
test_dbus_proxy_test_message_libdbus_CFLAGS = $(unit_cflags) $(DBUS_CFLAGS)
test_dbus_proxy_test_message_libdbus_LDADD = dbus-proxy/libwire.la $(unit_libs) $(DBUS_LIBS)
TESTS += test/dbus-proxy/test-message-libdbus
