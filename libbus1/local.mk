# libbus1/ build rules (included by the top-level Makefile.am).
