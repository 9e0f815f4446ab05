#!/bin/sh
# Command-line clients against a private broker: dbus-send (driver methods,
# errors, --print-reply output parsed), gdbus call and gdbus monitor, busctl
# list/call/introspect/monitor. Every client runs under `timeout`; monitors
# are bounded and synchronised by bounded polling of their output.
#
# The broker is the one test/lib/bus.sh selects (BUS1_TEST_BROKER, default
# our bus1-dbus); the whole program reports SKIP while it does not exist.
# test-cli-reference.sh runs it with BUS1_TEST_BROKER=dbus-daemon.
. "${top_srcdir:-.}/test/lib/bus.sh"

T=10    # bound for one client run, seconds
tap_n=0

ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1"; }
not_ok() { tap_n=$((tap_n + 1)); echo "not ok $tap_n - $1"; }
# check DESCRIPTION COMMAND...: ok when COMMAND succeeds; on failure the
# last client output ($out) is shown as TAP comments
check() {
        d="$1"; shift
        if "$@"; then
                ok "$d"
        else
                not_ok "$d"
                printf '%s\n' "${out:-}" | sed 's/^/# /'
        fi
}

# driver METHOD ARGS...: dbus-send --print-reply to the driver; stdout+stderr
driver() {
        m="$1"; shift
        timeout $T dbus-send --session --print-reply --dest=org.freedesktop.DBus \
                /org/freedesktop/DBus "org.freedesktop.DBus.$m" "$@" 2>&1
}

# The value lines of a --print-reply answer (everything after the header).
body() { sed -n '2,$p'; }

bus_start
case $? in
0) ;;
2) echo "1..0 # SKIP $BUS_SKIP_REASON"; exit 0 ;;
*) echo "1..0"; echo "Bail out! the broker did not start"; exit 1 ;;
esac

tmp="$BUS_DIR/cli"
mkdir "$tmp" || exit 1
uid="$(id -u)"
addr="$DBUS_SESSION_BUS_ADDRESS"

# --- dbus-send: driver methods ----------------------------------------------

out="$(driver ListNames)"
check "dbus-send ListNames: a method return from the driver" \
        test "$(echo "$out" | head -n1 | sed -n 's/^method return .*sender=\([^ ]*\) .*/\1/p')" = org.freedesktop.DBus
names="$(echo "$out" | body | sed -n 's/^ *string "\(.*\)"$/\1/p')"
check "dbus-send ListNames: array holds org.freedesktop.DBus and a unique name" \
        sh -c 'echo "$1" | grep -qx org.freedesktop.DBus && echo "$1" | grep -qx ":[0-9.]*"' sh "$names"

out="$(driver GetNameOwner string:org.freedesktop.DBus | body)"
check "dbus-send GetNameOwner(org.freedesktop.DBus) = org.freedesktop.DBus" \
        test "$out" = '   string "org.freedesktop.DBus"'

out="$(driver NameHasOwner string:org.freedesktop.DBus | body)"
out2="$(driver NameHasOwner string:com.example.Nobody | body)"
check "dbus-send NameHasOwner: true for the driver, false for an unowned name" \
        test "$out" = '   boolean true' -a "$out2" = '   boolean false'

id1="$(driver GetId | body | sed -n 's/^ *string "\([0-9a-f]*\)"$/\1/p')"
id2="$(driver GetId | body | sed -n 's/^ *string "\([0-9a-f]*\)"$/\1/p')"
check "dbus-send GetId: 32 hex digits, stable across connections ($id1)" \
        test "${#id1}" -eq 32 -a "$id1" = "$id2"

# The driver answers credential queries about itself: the broker's uid and pid.
out="$(driver GetConnectionUnixUser string:org.freedesktop.DBus | body)"
check "dbus-send GetConnectionUnixUser(driver) = $uid" test "$out" = "   uint32 $uid"
out="$(driver GetConnectionUnixProcessID string:org.freedesktop.DBus | body)"
check "dbus-send GetConnectionUnixProcessID(driver) = broker pid $BUS_PID" \
        test "$out" = "   uint32 $BUS_PID"

out="$(driver GetConnectionCredentials string:org.freedesktop.DBus | body | tr -s ' \n' ' ')"
check "dbus-send GetConnectionCredentials(driver): UnixUserID and ProcessID entries" \
        sh -c 'case "$1" in *"string \"UnixUserID\" variant uint32 $2 )"*"string \"ProcessID\" variant uint32 $3 )"*|*"string \"ProcessID\" variant uint32 $3 )"*"string \"UnixUserID\" variant uint32 $2 )"*) exit 0;; esac; exit 1' \
        sh "$out" "$uid" "$BUS_PID"

# --- dbus-send: errors ------------------------------------------------------

out="$(driver GetNameOwner string:com.example.Nobody)"; rc=$?
check "dbus-send GetNameOwner(unowned): NameHasNoOwner, exit status 1" \
        sh -c 'test $1 -eq 1 && echo "$2" | grep -q "^Error org.freedesktop.DBus.Error.NameHasNoOwner: "' sh $rc "$out"

out="$(timeout $T dbus-send --session --print-reply --dest=com.example.Nobody /com/example \
        com.example.Iface.Method 2>&1)"; rc=$?
check "dbus-send to an unowned destination: ServiceUnknown" \
        sh -c 'test $1 -eq 1 && echo "$2" | grep -q "^Error org.freedesktop.DBus.Error.ServiceUnknown: "' sh $rc "$out"

out="$(driver NoSuchMethod)"; rc=$?
check "dbus-send unknown driver method: UnknownMethod" \
        sh -c 'test $1 -eq 1 && echo "$2" | grep -q "^Error org.freedesktop.DBus.Error.UnknownMethod: "' sh $rc "$out"

out="$(driver GetNameOwner uint32:1)"; rc=$?
check "dbus-send GetNameOwner(uint32): InvalidArgs" \
        sh -c 'test $1 -eq 1 && echo "$2" | grep -q "^Error org.freedesktop.DBus.Error.InvalidArgs: "' sh $rc "$out"

out="$(driver RequestName string:not..valid uint32:0)"; rc=$?
check "dbus-send RequestName(invalid bus name): InvalidArgs" \
        sh -c 'test $1 -eq 1 && echo "$2" | grep -q "^Error org.freedesktop.DBus.Error.InvalidArgs: "' sh $rc "$out"

# --- gdbus ------------------------------------------------------------------

out="$(timeout $T gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
        --method org.freedesktop.DBus.GetNameOwner org.freedesktop.DBus 2>&1)"
check "gdbus call GetNameOwner: ('org.freedesktop.DBus',)" test "$out" = "('org.freedesktop.DBus',)"

out="$(timeout $T gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
        --method org.freedesktop.DBus.GetNameOwner com.example.Nobody 2>&1)"; rc=$?
check "gdbus call GetNameOwner(unowned): fails with NameHasNoOwner" \
        sh -c 'test $1 -ne 0 && echo "$2" | grep -q "org.freedesktop.DBus.Error.NameHasNoOwner"' sh $rc "$out"

out="$(timeout $T gdbus introspect --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus 2>&1)"
check "gdbus introspect driver: interface org.freedesktop.DBus with RequestName" \
        sh -c 'echo "$1" | grep -q "interface org.freedesktop.DBus {" && echo "$1" | grep -q "RequestName("' sh "$out"

# wait_for FILE PATTERN [TRIGGER...]: poll FILE (bounded, 10 s) until a line
# matches PATTERN; before each poll run TRIGGER (if any).
wait_for() {
        f="$1"; p="$2"; shift 2
        i=0
        while [ $i -lt 100 ]; do
                [ $# -gt 0 ] && "$@" >/dev/null 2>&1
                grep -q "$p" "$f" 2>/dev/null && return 0
                sleep 0.1
                i=$((i + 1))
        done
        return 1
}

# own_and_release NAME: take and drop a well-known name on a short connection
own_and_release() {
        timeout $T dbus-send --session --print-reply --dest=org.freedesktop.DBus \
                /org/freedesktop/DBus org.freedesktop.DBus.RequestName string:"$1" uint32:0
}

# gdbus monitor on the driver sees NameOwnerChanged for names that come and go.
timeout 15 gdbus monitor --session --dest org.freedesktop.DBus >"$tmp/gmon" 2>&1 &
gmon=$!
k=0
trigger() { k=$((k + 1)); own_and_release "com.example.GMon$k"; }
if wait_for "$tmp/gmon" "NameOwnerChanged ('com.example.GMon[0-9]*', '', ':" trigger; then
        ok "gdbus monitor: NameOwnerChanged of a new name seen"
else
        not_ok "gdbus monitor: no NameOwnerChanged within 10 s"; sed 's/^/# /' "$tmp/gmon"
fi
kill $gmon 2>/dev/null; wait $gmon 2>/dev/null

# --- busctl -----------------------------------------------------------------

out="$(timeout $T busctl --address="$addr" list --no-pager --no-legend 2>&1)"
check "busctl list: org.freedesktop.DBus with the broker's pid" \
        sh -c 'echo "$1" | grep -q "^org.freedesktop.DBus *$2 "' sh "$out" "$BUS_PID"
check "busctl list: lists busctl's own unique connection" \
        sh -c 'echo "$1" | grep -q "^:[0-9]*\.[0-9]* *[0-9]* busctl "' sh "$out"

out="$(timeout $T busctl --address="$addr" call org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus NameHasOwner s org.freedesktop.DBus 2>&1)"
check "busctl call NameHasOwner: b true" test "$out" = "b true"

out="$(timeout $T busctl --address="$addr" call org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus GetConnectionUnixProcessID s org.freedesktop.DBus 2>&1)"
check "busctl call GetConnectionUnixProcessID(driver): u $BUS_PID" test "$out" = "u $BUS_PID"

out="$(timeout $T busctl --address="$addr" call org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus GetNameOwner s com.example.Nobody 2>&1)"; rc=$?
check "busctl call GetNameOwner(unowned): fails" \
        sh -c 'test $1 -ne 0 && test -n "$2"' sh $rc "$out"

out="$(timeout $T busctl --address="$addr" introspect --no-pager --no-legend org.freedesktop.DBus \
        /org/freedesktop/DBus 2>&1)"
check "busctl introspect: GetNameOwner s -> s, NameOwnerChanged signal sss" \
        sh -c 'echo "$1" | grep -q "^\.GetNameOwner *method *s *s " && echo "$1" | grep -q "^\.NameOwnerChanged *signal *sss "' sh "$out"

# busctl tree walks the driver's objects from / (the child node on / leads there).
out="$(timeout $T busctl --address="$addr" tree --list --no-pager org.freedesktop.DBus 2>&1)"
check "busctl tree: / and /org/freedesktop/DBus" test "$(echo "$out" | tr '\n' ' ')" = "/ /org/freedesktop/DBus "

# busctl monitor (a BecomeMonitor client) sees a method call between others.
timeout 15 busctl --address="$addr" monitor --no-pager >"$tmp/bmon" 2>&1 &
bmon=$!
k=0
btrigger() {
        k=$((k + 1))
        timeout $T dbus-send --session --dest=org.freedesktop.DBus /org/freedesktop/DBus \
                org.freedesktop.DBus.NameHasOwner string:"com.example.BMon$k"
}
if wait_for "$tmp/bmon" "com.example.BMon[0-9]" btrigger; then
        ok "busctl monitor: sees a NameHasOwner call's argument"
else
        not_ok "busctl monitor: saw nothing within 10 s"; sed 's/^/# /' "$tmp/bmon"
fi
check "busctl monitor: the call is shown as a method call to the driver" \
        grep -q "Member=NameHasOwner" "$tmp/bmon"
kill $bmon 2>/dev/null; wait $bmon 2>/dev/null

# The broker survived all of it and still answers.
out="$(driver GetNameOwner string:org.freedesktop.DBus | body)"
check "broker still answers after the CLI clients" test "$out" = '   string "org.freedesktop.DBus"'

bus_stop
echo "1..$tap_n"
exit 0
