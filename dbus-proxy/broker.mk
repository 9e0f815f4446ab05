# dbus-proxy/ the broker: connections, routing, driver, main -> bus1-dbus (included by the top-level Makefile.am).
