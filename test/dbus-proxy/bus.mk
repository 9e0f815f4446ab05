# test/dbus-proxy/ tests of names and match rules.
