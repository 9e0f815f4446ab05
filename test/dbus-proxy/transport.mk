# test/dbus-proxy/ tests of transports, SASL, addresses, command line.
