# test/reference/ (included by the top-level Makefile.am).
