# test/lib/ (included by the top-level Makefile.am).
