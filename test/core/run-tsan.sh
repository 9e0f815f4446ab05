#!/bin/sh
# ThreadSanitizer run of the threaded core and libbus1 tests (`make check-tsan`).
#
# TSan cannot be linked together with ASan (the CI build), so this copies the
# source tree (tracked and untracked-but-not-ignored files, as they are in
# the working tree) into a temporary directory, configures it without the
# project's sanitizer switch and with CFLAGS='-fsanitize=thread -g -O1', builds
# the threaded programs and runs them with halt_on_error. Any TSan report
# fails the run. Prints TAP, one line per program.
#
# Usage: test/core/run-tsan.sh [SRCDIR]
#   SRCDIR            source tree (default: $top_srcdir, or this script's ../..)
#   TSAN_CC           compiler (default: clang if installed, else gcc)
#   BUS1_TEST_LONG=1  also runs test-order with 10^7 messages (minutes)
#   BUS1_TSAN_KEEP=1  keeps the temporary build directory
# Takes ~2-3 minutes on 2 cores, so it is not part of plain `make check`.

set -u
src=${1:-${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}}
cc=${TSAN_CC:-$(command -v clang >/dev/null && echo clang || echo gcc)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bus1-tsan.XXXXXX") || exit 1
cleanup() { [ "${BUS1_TSAN_KEEP:-0}" = 1 ] || rm -rf "$tmp"; }
trap cleanup EXIT

tests="test/core/test-order test/core/test-lifetime test/core/test-engine test/core/test-quota test/core/test-cache
test/core/test-commands test/libbus1/test-bus1"
n=$(echo $tests | wc -w)
n=$((n + 2))
[ "${BUS1_TEST_LONG:-0}" = 1 ] && n=$((n + 1))
echo "1..$n"

# 1: copy and build
if ! (cd "$src" && git ls-files -z --cached --others --exclude-standard | \
      xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh | \
      tar --null -T - -cf - | tar -xf - -C "$tmp") ; then
        echo "not ok 1 - copy $src"
        exit 1
fi
if ! (cd "$tmp" && ./autogen.sh && \
      CC=$cc CFLAGS='-fsanitize=thread -g -O1' LDFLAGS=-fsanitize=thread \
      ./configure -q --disable-sanitizers && \
      make -j2 $tests test/core/bench-core) >"$tmp/build.log" 2>&1; then
        echo "not ok 1 - build with $cc -fsanitize=thread"
        tail -n 30 "$tmp/build.log" | sed 's/^/# /'
        exit 1
fi
echo "ok 1 - build with $cc -fsanitize=thread"

export CMOCKA_MESSAGE_OUTPUT=TAP
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1"
export top_srcdir="$tmp" top_builddir="$tmp"
i=1
fail=0
run() {
        i=$((i + 1))
        name=$1
        shift
        start=$(date +%s)
        (cd "$tmp" && "$@") >"$tmp/run.log" 2>&1
        rc=$?
        secs=$(( $(date +%s) - start ))
        if [ $rc -eq 0 ] && ! grep -q 'WARNING: ThreadSanitizer' "$tmp/run.log"; then
                echo "ok $i - $name (${secs}s, no TSan report)"
        else
                echo "not ok $i - $name (exit $rc)"
                grep -A40 'WARNING: ThreadSanitizer' "$tmp/run.log" | head -n 60 | sed 's/^/# /'
                grep '^not ok' "$tmp/run.log" | sed 's/^/# /'
                fail=1
        fi
}
for t in $tests; do
        run "$t" env BUS1_TEST_LONG=0 "./$t"
done
run "bench-core threaded call (scale 0.02)" ./test/core/bench-core 0.02
[ "${BUS1_TEST_LONG:-0}" = 1 ] && run "test/core/test-order BUS1_TEST_LONG=1" env BUS1_TEST_LONG=1 ./test/core/test-order
exit $fail
