#!/bin/sh
# libbus1.so exports exactly the functions declared in libbus1/bus1.h.
echo "1..1"
so="$top_builddir/libbus1/.libs/libbus1.so"
if ! command -v nm >/dev/null; then
        echo "ok 1 # SKIP nm not installed"
        exit 0
fi
if [ ! -e "$so" ]; then
        echo "not ok 1 - $so missing"
        exit 0
fi
exported=$(nm -D --defined-only "$so" | awk '$2 == "T" { print $3 }' | sed 's/@.*//' | sort)
declared=$(sed -n 's/^[a-z_0-9 *]*[ *]\(bus1_[a-z_0-9]*\)(.*/\1/p' "$top_srcdir/libbus1/bus1.h" | sort -u)
if [ "$exported" = "$declared" ]; then
        echo "ok 1 - exported symbols match bus1.h ($(echo "$exported" | wc -l) functions)"
else
        echo "not ok 1 - exported symbols differ from bus1.h"
        echo "$exported" | sed 's/^/# exported: /'
        echo "$declared" | sed 's/^/# declared: /'
fi
