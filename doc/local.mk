# doc/ -- man pages and design notes (included by the top-level Makefile.am).

man_MANS += doc/bus1-dbus.1
EXTRA_DIST += doc/bus1-dbus.1 doc/dbus-proxy.md
