# dbus-proxy/ bus semantics: names, match rules (included by the top-level Makefile.am).
