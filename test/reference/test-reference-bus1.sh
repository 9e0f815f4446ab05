#!/bin/sh
#
# The dbus reference tests (package dbus-tests) against our bus1-dbus, as
# part of `make check`: one TAP line per subtest, from run-reference's table.
# Every subtest dbus-daemon 1.14 passes must pass here (76 of them; the 19
# skips are the test suite's own: Containers1, AppArmor, root-only limits).
#
set -u
broker=${BUS1_DBUS:-$top_builddir/bus1-dbus}
tests=/usr/lib/dbus-1.0/installed-tests/dbus
if [ ! -x "$broker" ] || [ ! -d "$tests" ]; then
        echo "1..0 # SKIP needs $broker and the dbus-tests package"
        exit 0
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# test-uid-permissions starts the broker as another user ('nobody'); that
# needs a build tree other users can reach. When they cannot, the program is
# reported as skipped with that reason instead of failing on our layout.
programs=""
skip_uid=""
if [ "$(id -u)" -eq 0 ] && ! setpriv --reuid=nobody --regid=nogroup --clear-groups \
                test -x "$broker" 2>/dev/null; then
        skip_uid="the build tree is not accessible to user nobody"
        for p in $(/usr/bin/python3 "$top_srcdir/test/reference/run-reference" --list |
                   awk '$1 == "run" && $2 != "test-uid-permissions" { print $2 }'); do
                programs="$programs --program $p"
        done
fi
# shellcheck disable=SC2086
/usr/bin/python3 "$top_srcdir/test/reference/run-reference" --tests-dir="$tests" \
        --timeout 60 --total-timeout 240 $programs "$broker" >"$out" 2>&1 </dev/null
rc=$?
if [ -n "$skip_uid" ]; then
        echo "test-uid-permissions  (all)  SKIP - $skip_uid" >>"$out"
fi
# Table rows are fixed-width columns separated by 2+ spaces:
# "program  subtest  result[ - reason]".
awk -v rc="$rc" 'BEGIN { FS = "   *" }
        /^#/ || $1 == "program" { next }
        /^[0-9]+ passed, [0-9]+ failed/ { summary = $0; next }
        NF >= 3 {
                prog = $1; sub_ = $2; res = $3
                for (i = 4; i <= NF; i++) res = res "  " $i
                n++
                if (res == "ok") line[n] = "ok " n " - " prog " " sub_
                else if (res ~ /^SKIP/) line[n] = "ok " n " - " prog " " sub_ " # SKIP " substr(res, 8)
                else line[n] = "not ok " n " - " prog " " sub_ " (" res ")"
        }
        END {
                if (n == 0) { print "1..1"; print "not ok 1 - run-reference produced no results (status " rc ")"; exit }
                print "1.." n
                for (i = 1; i <= n; i++) print line[i]
                print "# " summary
        }' "$out"
