# Shell helper for .sh integration tests: a private broker per test.
#
# Usage (POSIX sh, sourced):
#     . "$top_srcdir/test/lib/bus.sh"
#     bus_start [EXTRA_XML] || { echo "1..0 # SKIP $BUS_SKIP_REASON"; exit 0; }
#     dbus-send --session ...        # DBUS_SESSION_BUS_ADDRESS is exported
#     bus_stop                        # also run by the EXIT trap bus_start sets
#
# The broker is chosen as in test/lib/bus.h: $BUS1_TEST_BROKER ("dbus-daemon"
# selects $DBUS_DAEMON), else $BUS1_DBUS, else $top_builddir/bus1-dbus.
# bus_start writes a session-like config (unix socket in a fresh temp dir,
# EXTERNAL auth, allow-everything policy, EXTRA_XML appended) and runs the
# broker with --nofork --print-address under `setpriv --pdeathsig KILL`, so
# it dies with the shell. It sets BUS_PID, BUS_DIR, BUS_BROKER and exports
# DBUS_SESSION_BUS_ADDRESS.
#
# Return codes of bus_start: 0 started; 2 broker binary missing
# (BUS_SKIP_REASON says which); 1 the broker failed to print an address
# within BUS_START_TIMEOUT seconds (default 10).

bus_select_broker() {
        case "${BUS1_TEST_BROKER:-}" in
        "") BUS_BROKER="${BUS1_DBUS:-${top_builddir:-.}/bus1-dbus}" ;;
        dbus-daemon) BUS_BROKER="${DBUS_DAEMON:-/usr/bin/dbus-daemon}" ;;
        *) BUS_BROKER="$BUS1_TEST_BROKER" ;;
        esac
}

bus_start() {
        bus_select_broker
        if ! test -x "$BUS_BROKER"; then
                BUS_SKIP_REASON="broker $BUS_BROKER not found or not executable"
                return 2
        fi

        BUS_DIR="$(mktemp -d "${TMPDIR:-/tmp}/bus1-test-XXXXXX")" || return 1
        trap bus_stop EXIT
        cat > "$BUS_DIR/bus.conf" <<BUSCONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$BUS_DIR/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
${1:-}
</busconfig>
BUSCONF
        mkfifo "$BUS_DIR/address.fifo" || return 1
        setpriv --pdeathsig KILL -- "$BUS_BROKER" --nofork --print-address=3 \
                --config-file="$BUS_DIR/bus.conf" 3>"$BUS_DIR/address.fifo" </dev/null >&2 &
        BUS_PID=$!
        # read the first line with a bound; the fifo sees EOF if the broker dies
        DBUS_SESSION_BUS_ADDRESS="$(timeout "${BUS_START_TIMEOUT:-10}" head -n1 "$BUS_DIR/address.fifo")"
        if test -z "$DBUS_SESSION_BUS_ADDRESS"; then
                echo "# bus_start: $BUS_BROKER printed no address" >&2
                bus_stop
                return 1
        fi
        export DBUS_SESSION_BUS_ADDRESS
        return 0
}

bus_stop() {
        if test -n "${BUS_PID:-}"; then
                kill -TERM "$BUS_PID" 2>/dev/null
                n=0
                while kill -0 "$BUS_PID" 2>/dev/null && test $n -lt 50; do
                        # a zombie still answers kill -0: stop once it is one
                        case "$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' /proc/"$BUS_PID"/status 2>/dev/null)" in
                        Z|"") break ;;
                        esac
                        sleep 0.1
                        n=$((n + 1))
                done
                kill -KILL "$BUS_PID" 2>/dev/null
                wait "$BUS_PID" 2>/dev/null
                BUS_PID=
        fi
        if test -n "${BUS_DIR:-}"; then
                rm -rf "$BUS_DIR"
                BUS_DIR=
        fi
        unset DBUS_SESSION_BUS_ADDRESS
}
