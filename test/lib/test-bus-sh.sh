#!/bin/sh
# Tests of test/lib/bus.sh against dbus-daemon: start, talk, stop, cleanup,
# missing broker.
. "${top_srcdir:-.}/test/lib/bus.sh"

echo "1..6"

BUS1_TEST_BROKER=/nonexistent/bus1-dbus
if bus_start; then
        echo "not ok 1 - missing broker starts"
else
        rc=$?
        case "$rc:$BUS_SKIP_REASON" in
        "2:broker /nonexistent/bus1-dbus not found"*) echo "ok 1 - missing broker gives 2 and a reason" ;;
        *) echo "not ok 1 - missing broker: rc=$rc reason=$BUS_SKIP_REASON" ;;
        esac
fi

BUS1_TEST_BROKER=dbus-daemon
if bus_start '<policy context="mandatory"><deny own="com.example.Denied"/></policy>'; then
        echo "ok 2 - bus_start with dbus-daemon: $DBUS_SESSION_BUS_ADDRESS"
else
        echo "not ok 2 - bus_start with dbus-daemon failed"
        exit 1
fi

if timeout 10 dbus-send --session --print-reply --dest=org.freedesktop.DBus \
        /org/freedesktop/DBus org.freedesktop.DBus.ListNames | grep -q '"org.freedesktop.DBus"'; then
        echo "ok 3 - dbus-send ListNames over the exported address"
else
        echo "not ok 3 - dbus-send ListNames"
fi

if timeout 10 dbus-send --session --print-reply --dest=org.freedesktop.DBus \
        /org/freedesktop/DBus org.freedesktop.DBus.RequestName \
        string:com.example.Denied uint32:0 >/dev/null 2>&1; then
        echo "not ok 4 - extra XML was not applied (Denied name acquired)"
else
        echo "ok 4 - extra XML applied (RequestName denied)"
fi

pid=$BUS_PID
dir=$BUS_DIR
bus_stop
if kill -0 "$pid" 2>/dev/null || test -e "$dir" || test -n "${DBUS_SESSION_BUS_ADDRESS:-}"; then
        echo "not ok 5 - bus_stop left pid $pid or dir $dir"
else
        echo "ok 5 - bus_stop reaped the broker and removed its directory"
fi

# a shell that dies by SIGKILL takes its broker with it (setpriv --pdeathsig);
# the orphan goes to PID 1, which may not reap: a zombie counts as dead
tmp="$(mktemp -d)"
sh -c '. "$1/test/lib/bus.sh"; BUS1_TEST_BROKER=dbus-daemon; bus_start || exit 1
       echo "$BUS_PID" > "$2/pid"; echo "$BUS_DIR" > "$2/dir"; kill -KILL $$' sh "${top_srcdir:-.}" "$tmp"
pid="$(cat "$tmp/pid" 2>/dev/null)"
gone=
i=0
while [ -n "$pid" ] && [ $i -lt 50 ]; do
        state="$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' /proc/"$pid"/status 2>/dev/null)"
        if [ -z "$state" ] || [ "$state" = Z ]; then gone=1; break; fi
        sleep 0.1
        i=$((i + 1))
done
if [ -n "$gone" ]; then
        echo "ok 6 - broker $pid died with its killed shell"
else
        echo "not ok 6 - broker ${pid:-?} survived its killed shell"
        [ -n "$pid" ] && kill -KILL "$pid"
fi
[ -s "$tmp/dir" ] && rm -rf "$(cat "$tmp/dir")"
rm -rf "$tmp"
