# test/core/ (included by the top-level Makefile.am).
