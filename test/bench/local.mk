# test/bench/ -- make bench: brokers side by side (included by the top-level Makefile.am).
