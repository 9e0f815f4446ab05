# test/dbus-proxy/ (included by the top-level Makefile.am).
