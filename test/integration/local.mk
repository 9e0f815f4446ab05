# test/integration/ -- real clients against a private broker (included by the top-level Makefile.am).
