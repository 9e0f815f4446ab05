#!/bin/sh
# Self-test of test/reference/run-reference with fake test programs: TAP
# parsing, whole-program SKIP, rerunning the rest alone after an abort and
# after a hang, no rerun of a completed program, the summary line, exit
# status with and without an expected-failures file, a missing daemon, and
# that the program lists cover the installed dbus tests.

runner="/usr/bin/python3 ${top_srcdir:-.}/test/reference/run-reference"
work="$(mktemp -d "${TMPDIR:-/tmp}/bus1-runref-XXXXXX")" || exit 1
trap 'rm -rf "$work"' EXIT
fake="$work/tests"
mkdir "$fake" "$fake/data"

# GLib-like: /a ok, /b skipped, aborts in /c; alone /c aborts again,
# /c/sub passes, /d bails out.
cat > "$fake/test-fake" <<'FAKE'
#!/bin/sh
if [ "$DBUS_TEST_DAEMON" != /bin/true ] || [ -z "$DBUS_TEST_DATA" ] || [ -z "$DBUS_TEST_EXEC" ]; then
        echo "1..1"; echo "not ok 1 /env-not-set"; exit 1
fi
case "$*" in
"-l") printf '# random seed: R02S\n1..5\n/a\n/b\n# Start of c tests\n/c\n/c/sub\n/d\n' ;;
"--tap") printf '# random seed: R02S\n1..5\nok 1 /a\nok 2 /b # SKIP not here\n# running /c\n'; kill -ABRT $$ ;;
"--tap -p /c") printf '1..2\n'; kill -ABRT $$ ;;
"--tap -p /c/sub") printf '1..1\nok 1 /c/sub\n' ;;
"--tap -p /d") printf '1..1\nBail out! fake:1:d: assertion failed\n'; kill -ABRT $$ ;;
*) echo "unexpected arguments: $*" >&2; exit 99 ;;
esac
FAKE

# whole program skipped
cat > "$fake/test-skipall.sh" <<'FAKE'
#!/bin/sh
echo "1..0 # SKIP - no AppArmor here"
FAKE

# completes its plan with one failure: no rerun
cat > "$fake/test-complete-fail" <<'FAKE'
#!/bin/sh
case "$*" in
"--tap") printf '1..2\nok 1 - /x\nnot ok 2 - /y\n'; exit 1 ;;
*) touch "$DBUS_TEST_EXEC/complete-fail-rerun"; exit 1 ;;
esac
FAKE

# hangs in /h1: /h1 is not run again, /h2 runs alone
cat > "$fake/test-hang" <<'FAKE'
#!/bin/sh
case "$*" in
"-l") printf '1..2\n/h1\n/h2\n' ;;
"--tap") printf '1..2\n'; exec sleep 60 ;;
"--tap -p /h2") printf '1..1\nok 1 /h2\n' ;;
*) touch "$DBUS_TEST_EXEC/hang-rerun-h1"; exit 1 ;;
esac
FAKE
# reports the uid it runs as
cat > "$fake/test-uid.sh" <<'FAKE'
#!/bin/sh
printf '1..1\nok 1 - uid=%s\n' "$(id -u)"
FAKE
chmod +x "$fake"/test-*
chmod 755 "$work" "$fake"

run() {
        $runner --tests-dir="$fake" --timeout=2 --subtest-timeout=5 \
                --program=test-fake --program=test-skipall.sh \
                --program=test-complete-fail --program=test-hang "$@"
}

echo "1..10"
n=0
check() {
        n=$((n + 1))
        if eval "$1"; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}

run /bin/true > "$work/out" 2>&1
rc=$?
sed 's/^/# /' "$work/out"

check '[ "$(tail -n1 "$work/out")" = "4 passed, 4 failed, 2 skipped" ]' "summary line is last and right"
check '[ $rc -eq 1 ]' "exit status 1 with failures (got $rc)"
check 'grep -Eq "^test-fake +/a +ok$" "$work/out" &&
       grep -Eq "^test-fake +/b +SKIP - not here$" "$work/out" &&
       grep -Eq "^test-skipall.sh +\(all\) +SKIP - no AppArmor here$" "$work/out"' \
      "results before the abort and the whole-program skip"
check 'grep -Eq "^test-fake +/c +not ok - rerun alone: killed by SIGABRT; full run stopped here: killed by SIGABRT$" "$work/out" &&
       grep -Eq "^test-fake +/c/sub +ok - rerun alone$" "$work/out" &&
       grep -Eq "^test-fake +/d +not ok - rerun alone: killed by SIGABRT: Bail out! fake:1:d: assertion failed$" "$work/out"' \
      "subtests after an abort rerun alone"
check 'grep -Eq "^test-complete-fail +/y +not ok$" "$work/out" && ! [ -e "$fake/complete-fail-rerun" ]' \
      "a completed program with a failure is not rerun"
check 'grep -Eq "^test-hang +/h1 +not ok - hung the program" "$work/out" &&
       grep -Eq "^test-hang +/h2 +ok - rerun alone$" "$work/out" && ! [ -e "$fake/hang-rerun-h1" ]' \
      "after a hang the hung subtest is not rerun, the rest is"

printf '# known broken\ntest-fake /c\ntest-fake /d\ntest-complete-fail\ntest-hang /h1\ntest-fake /nope\n' > "$work/xfail"
run --expected-failures="$work/xfail" /bin/true > "$work/out2" 2>&1
rc=$?
sed 's/^/# /' "$work/out2" | tail -n 4
check '[ $rc -eq 0 ] && grep -q "^# 4 of 4 failures expected" "$work/out2" &&
       grep -q "^# expected failure did not fail: test-fake /nope" "$work/out2" &&
       [ "$(tail -n1 "$work/out2")" = "4 passed, 4 failed, 2 skipped" ]' \
      "expected failures give exit 0 and are reported (got $rc)"

run /nonexistent/bus1-dbus > "$work/out3" 2>&1
rc=$?
check '[ $rc -eq 77 ] && [ "$(tail -n1 "$work/out3")" = "0 passed, 0 failed, 4 skipped" ] &&
       grep -q "daemon /nonexistent/bus1-dbus not found" "$work/out3"' \
      "missing daemon: everything skipped with the reason, exit 77 (got $rc)"

installed=/usr/lib/dbus-1.0/installed-tests/dbus
if [ -d "$installed" ]; then
        $runner --list > "$work/list"
        missing=
        for p in "$installed"/test-* "$installed"/integration/*; do
                name="${p#"$installed"/}"
                grep -Eq "^(run|excluded) +$name " "$work/list" || missing="$missing $name"
        done
        check '[ -z "$missing" ]' "every installed dbus test is run or excluded with a reason${missing:+ (missing:$missing)}"
else
        n=$((n + 1))
        echo "ok $n # SKIP dbus-tests not installed ($installed)"
fi

if [ "$(id -u)" = 0 ] && nobody_uid="$(id -u nobody 2>/dev/null)"; then
        $runner --tests-dir="$fake" --program=test-uid.sh --user=nobody /bin/true > "$work/out4" 2>&1
        rc=$?
        sed 's/^/# /' "$work/out4" | grep uid
        check '[ $rc -eq 0 ] && grep -Eq "^test-uid.sh +uid=$nobody_uid +ok$" "$work/out4"' \
              "--user runs the programs as that user"
else
        n=$((n + 1))
        echo "ok $n # SKIP --user needs root and a user nobody"
fi
