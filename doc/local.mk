# doc/ -- man pages and design notes (included by the top-level Makefile.am).
