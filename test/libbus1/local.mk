# test/libbus1/ (included by the top-level Makefile.am).
