# dbus-proxy/ activation: service files, spawning, run-session (included by the top-level Makefile.am).
