# dbus-proxy/ transports, SASL, addresses, command line (included by the top-level Makefile.am).
