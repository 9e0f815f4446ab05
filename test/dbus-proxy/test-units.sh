#!/bin/sh
# units/: the generated systemd units pass `systemd-analyze verify` (with a
# stand-in bus1-dbus, since the real one need not be installed), and their
# command lines use the options dbus-daemon's units use. Prints TAP.

B="${top_builddir:-.}/units"
TMP=$(mktemp -d /tmp/test-units-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; }

for scope in system user; do
        svc="$B/$scope/bus1-dbus.service"
        sock="${top_srcdir:-.}/units/$scope/bus1-dbus.socket"
        if [ ! -f "$svc" ] || [ ! -f "$sock" ]; then
                not_ok "$scope units exist"
                continue
        fi
        ok "$scope units exist"

        line=$(sed -n 's/^ExecStart=//p' "$svc")
        bin=${line%% *}
        case "$bin" in
        /*/bus1-dbus) ok "$scope: ExecStart runs an absolute bus1-dbus ($bin)";;
        *) not_ok "$scope: ExecStart runs an absolute bus1-dbus ($bin)";;
        esac
        want="--$( [ $scope = system ] && echo system || echo session) --address=systemd: --nofork --nopidfile --systemd-activation"
        case "$line" in
        *"$want"*) ok "$scope: socket-activated, no fork, systemd activation";;
        *) not_ok "$scope: ExecStart has '$want'";;
        esac
        if grep -q '^Type=notify$' "$svc" && grep -q '^Sockets=bus1-dbus.socket$' "$svc"; then
                ok "$scope: Type=notify with its socket"
        else
                not_ok "$scope: Type=notify with its socket"
        fi

        if ! command -v systemd-analyze >/dev/null 2>&1; then
                n=$((n + 1)); echo "ok $n - $scope: systemd-analyze verify # SKIP systemd-analyze not installed"
                continue
        fi
        mkdir -p "$TMP/$scope/bin" "$TMP/run"
        printf '#!/bin/sh\nexit 0\n' > "$TMP/$scope/bin/bus1-dbus"
        chmod +x "$TMP/$scope/bin/bus1-dbus"
        sed "s|$bin|$TMP/$scope/bin/bus1-dbus|" "$svc" > "$TMP/$scope/bus1-dbus.service"
        cp "$sock" "$TMP/$scope/bus1-dbus.socket"
        if [ $scope = system ]; then
                (cd "$TMP" && systemd-analyze verify --man=no "$TMP/$scope/bus1-dbus.service" "$TMP/$scope/bus1-dbus.socket") > "$TMP/out" 2>&1
        else
                (cd "$TMP" && XDG_RUNTIME_DIR="$TMP/run" systemd-analyze --user verify --man=no \
                        "$TMP/$scope/bus1-dbus.service" "$TMP/$scope/bus1-dbus.socket") > "$TMP/out" 2>&1
        fi
        if [ $? -eq 0 ] && [ ! -s "$TMP/out" ]; then
                ok "$scope: systemd-analyze verify"
        else
                not_ok "$scope: systemd-analyze verify"
                sed 's/^/# /' "$TMP/out"
        fi
done
echo "1..$n"
exit $failed
