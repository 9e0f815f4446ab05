#!/bin/sh
# core/ is freestanding: every engine object (all but core/host-user.c)
# references only the engine itself (core_*), the host interface (host_*),
# the freestanding util/rbtree.c (rb_*),
# memcpy/memset (emitted by the compiler for built-ins) and sanitizer
# runtime symbols. Any libc call outside the host file fails this test.
echo "1..1"
dir="$top_builddir/core/.libs"
if ! command -v nm >/dev/null; then
        echo "ok 1 # SKIP nm not installed"
        exit 0
fi
objs=$(ls "$dir"/libcore_la-*.o "$top_builddir"/util/.libs/*libcore_la-rbtree.o 2>/dev/null | grep -v host-user)
if [ -z "$objs" ]; then
        echo "not ok 1 - no engine objects in $dir"
        exit 0
fi
bad=$(for o in $objs; do nm -u "$o"; done | awk '{ print $2 }' | sort -u | \
        grep -Ev '^(core_|host_|rb_|memcpy$|memset$|__asan|__ubsan|__sanitizer|__tsan|_GLOBAL_OFFSET_TABLE_$|__stack_chk_fail$)')
if [ -z "$bad" ]; then
        echo "ok 1 - $(echo $objs | wc -w) engine objects use only core_*, host_*, rb_* and compiler built-ins"
else
        echo "not ok 1 - engine objects reference outside symbols"
        echo "$bad" | sed 's/^/# /'
fi
