# test/policy/ (included by the top-level Makefile.am).
