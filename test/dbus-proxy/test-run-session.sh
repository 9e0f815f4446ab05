#!/bin/sh
# bus1-run-session: address passing, environment, exit status, the bus is
# stopped and reaped afterwards, option errors, --config-file. Runs against
# $DBUS_DAEMON (dbus-daemon) and, when it has been built, $BUS1_DBUS.
# Prints TAP.

RUN="${top_builddir:-.}/bus1-run-session"
DAEMON="${DBUS_DAEMON:-dbus-daemon}"
BUS1="${BUS1_DBUS:-${top_builddir:-.}/bus1-dbus}"
TMP=$(mktemp -d /tmp/test-run-session-XXXXXX)
trap 'rm -rf "$TMP"' EXIT

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; }
check() { # description, then a command
        desc=$1; shift
        if "$@" >"$TMP/out" 2>&1; then ok "$desc"; else not_ok "$desc"; sed 's/^/# /' "$TMP/out"; fi
}
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }

# status of: bus1-run-session ARGS...
status_of() { "$RUN" "$@" >/dev/null 2>&1; echo $?; }

session_checks() { # daemon binary, label
        d=$1; l=$2
        check "$l: program sees the bus and calls it" \
                "$RUN" --dbus-daemon="$d" -- sh -c \
                'test -n "$DBUS_SESSION_BUS_ADDRESS" && dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.GetId'
        check "$l: starter variables are removed" \
                env DBUS_STARTER_ADDRESS=x DBUS_STARTER_BUS_TYPE=y DBUS_SESSION_BUS_PID=1 \
                "$RUN" --dbus-daemon "$d" sh -c \
                'test -z "${DBUS_STARTER_ADDRESS+x}${DBUS_STARTER_BUS_TYPE+x}${DBUS_SESSION_BUS_PID+x}"'
        s=$(status_of --dbus-daemon="$d" sh -c 'exit 7')
        if [ "$s" = 7 ]; then ok "$l: exit status passed on"; else not_ok "$l: exit status passed on (got $s)"; fi
        s=$(status_of --dbus-daemon="$d" sh -c 'kill -TERM $$')
        if [ "$s" = 143 ]; then ok "$l: killed program gives 128+signal"; else not_ok "$l: killed program gives 128+signal (got $s)"; fi

        # the bus pid, then check it is gone (and reaped) once we are done
        "$RUN" --dbus-daemon="$d" sh -c \
                'dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.DBus' \
                >"$TMP/pid" 2>&1
        pid=$(sed -n 's/.*uint32 //p' "$TMP/pid")
        if [ -n "$pid" ] && [ ! -e "/proc/$pid" ]; then
                ok "$l: bus stopped and reaped afterwards"
        else
                not_ok "$l: bus stopped and reaped afterwards (pid '$pid')"
                sed 's/^/# /' "$TMP/pid"
        fi

        cat >"$TMP/session.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$TMP/bus-socket</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
        check "$l: --config-file is passed to the bus" \
                "$RUN" --dbus-daemon="$d" --config-file="$TMP/session.conf" -- sh -c \
                'case "$DBUS_SESSION_BUS_ADDRESS" in *"$0"*) dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.GetId;; *) exit 1;; esac' \
                "$TMP/bus-socket"
        rm -f "$TMP/bus-socket"
}

if [ ! -x "$RUN" ]; then
        echo "1..1"
        echo "not ok 1 - $RUN not built"
        exit 1
fi

s=$(status_of --dbus-daemon="$DAEMON")
if [ "$s" = 127 ]; then ok "no program: 127"; else not_ok "no program: 127 (got $s)"; fi
s=$(status_of --dbus-daemon="$DAEMON" --)
if [ "$s" = 127 ]; then ok "only --: 127"; else not_ok "only --: 127 (got $s)"; fi
s=$(status_of --bogus true)
if [ "$s" = 127 ]; then ok "unknown option: 127"; else not_ok "unknown option: 127 (got $s)"; fi
s=$(status_of --dbus-daemon=a --dbus-daemon=b true)
if [ "$s" = 127 ]; then ok "option twice: 127"; else not_ok "option twice: 127 (got $s)"; fi
s=$(status_of --dbus-daemon="$DAEMON" sh -c 'test "$1" = --dbus-daemon' sh --dbus-daemon)
if [ "$s" = 0 ]; then ok "options after the program belong to it"; else not_ok "options after the program belong to it (got $s)"; fi
s=$(status_of --dbus-daemon)
if [ "$s" = 127 ]; then ok "missing option argument: 127"; else not_ok "missing option argument: 127 (got $s)"; fi
s=$(status_of --dbus-daemon=/nonexistent/bus true)
if [ "$s" = 127 ]; then ok "bus that cannot start: 127"; else not_ok "bus that cannot start: 127 (got $s)"; fi
s=$(status_of --dbus-daemon="$DAEMON" /nonexistent/program)
if [ "$s" = 127 ]; then ok "program that cannot start: 127"; else not_ok "program that cannot start: 127 (got $s)"; fi
check "--help" "$RUN" --help
check "--version" "$RUN" --version

if command -v "$DAEMON" >/dev/null 2>&1; then
        session_checks "$DAEMON" dbus-daemon
else
        skip "dbus-daemon checks" "$DAEMON not installed"
fi
if [ -x "$BUS1" ]; then
        session_checks "$BUS1" bus1-dbus
else
        skip "bus1-dbus checks" "bus1-dbus not built in this tree"
fi

echo "1..$n"
exit $failed
