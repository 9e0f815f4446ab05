#!/usr/bin/python3
"""
$XDG_RUNTIME_DIR and the session bus, on dbus-daemon and on bus1-dbus:
the same scenario on each, the same outcome expected of each (what
dbus-daemon 1.14.10 does, observed).

 - <standard_session_servicedirs/> with $XDG_RUNTIME_DIR unset: the bus
   starts and says nothing on stderr;
 - with $XDG_RUNTIME_DIR our own directory: a service file in
   $XDG_RUNTIME_DIR/dbus-1/services is activatable, nothing on stderr;
 - with $XDG_RUNTIME_DIR missing: a warning "Unable to set up transient
   service directory: XDG_RUNTIME_DIR "..." not available: No such file or
   directory", and the bus runs;
 - with $XDG_RUNTIME_DIR/dbus-1 owned by another user (root only): a
   warning naming the owner, and its service file is not activatable;
 - <listen>unix:runtime=yes</listen> with $XDG_RUNTIME_DIR unset: the bus
   exits with status 1 and says "XDG_RUNTIME_DIR" is not set.

Prints TAP; SKIP when python3-dbus is missing.
"""

import os
import shutil
import sys
import tempfile

from daemons import ALLOW_ALL, Bus, Tap, brokers

try:
    import dbus
except ImportError:
    print("1..0 # SKIP python3-dbus not installed")
    sys.exit(0)

SERVICE = "org.example.Transient"
BODY = ALLOW_ALL + "\n  <standard_session_servicedirs/>"


def environment(runtime, tmp):
    env = dict(os.environ)
    env.pop("XDG_RUNTIME_DIR", None)
    if runtime is not None:
        env["XDG_RUNTIME_DIR"] = runtime
    # keep the machine's and the caller's service files out of the scenario
    env["XDG_DATA_HOME"] = os.path.join(tmp, "data-home")
    env["XDG_DATA_DIRS"] = os.path.join(tmp, "data-dirs")
    return env


def activatable(address):
    c = dbus.bus.BusConnection(address)
    try:
        return SERVICE in c.list_activatable_names()
    finally:
        c.close()


def make_runtime(tmp, name, dbus1_owner=None):
    """A runtime dir of ours holding dbus-1/services/SERVICE.service."""
    rt = os.path.join(tmp, name)
    services = os.path.join(rt, "dbus-1", "services")
    os.makedirs(services, mode=0o700)
    with open(os.path.join(services, SERVICE + ".service"), "w") as f:
        f.write("[D-BUS Service]\nName=%s\nExec=/bin/false\n" % SERVICE)
    if dbus1_owner is not None:
        os.chown(os.path.join(rt, "dbus-1"), dbus1_owner, -1)
    return rt


def main():
    tap = Tap()
    found = brokers()
    if len(found) < 2:
        print("1..0 # SKIP need dbus-daemon and bus1-dbus, found %s" % [b for b, _ in found])
        return 0
    tmp = tempfile.mkdtemp(prefix="bus1-test-xdg-")
    os.chmod(tmp, 0o755)
    try:
        for label, binary in found:
            # unset: silence
            bus = Bus(binary, BODY, env=environment(None, tmp))
            tap.ok(bus.address is not None, "%s: starts with XDG_RUNTIME_DIR unset" % label, bus.stderr())
            tap.ok(bus.stderr() == "", "%s: ... and writes nothing on stderr" % label, bus.stderr())
            bus.stop()

            # our own runtime dir: the transient directory is used
            rt = make_runtime(tmp, label + "-own")
            bus = Bus(binary, BODY, env=environment(rt, tmp))
            tap.ok(bus.address is not None and activatable(bus.address),
                   "%s: a service file in $XDG_RUNTIME_DIR/dbus-1/services is activatable" % label,
                   bus.stderr())
            tap.ok(bus.stderr() == "", "%s: ... and nothing on stderr" % label, bus.stderr())
            bus.stop()

            # missing: a warning, and the bus runs
            missing = os.path.join(tmp, "missing")
            bus = Bus(binary, BODY, env=environment(missing, tmp))
            want = ('Unable to set up transient service directory: XDG_RUNTIME_DIR "%s" not available: '
                    'No such file or directory' % missing)
            tap.ok(bus.address is not None and want in bus.stderr(),
                   "%s: a missing XDG_RUNTIME_DIR is a warning" % label, bus.stderr())
            bus.stop()

            # another user's dbus-1: a warning, and its services are not used
            if os.getuid() == 0:
                rt = make_runtime(tmp, label + "-foreign", dbus1_owner=65534)
                bus = Bus(binary, BODY, env=environment(rt, tmp))
                want = ('Unable to set up transient service directory: XDG_RUNTIME_DIR subdirectory "%s/dbus-1" '
                        'is owned by uid 65534, not our uid 0' % rt)
                tap.ok(bus.address is not None and want in bus.stderr(),
                       "%s: another user's $XDG_RUNTIME_DIR/dbus-1 is a warning" % label, bus.stderr())
                tap.ok(bus.address is not None and not activatable(bus.address),
                       "%s: ... and its service files are not activatable" % label)
                bus.stop()
            else:
                tap.skip("%s: another user's $XDG_RUNTIME_DIR/dbus-1" % label, "needs root to chown")
                tap.skip("%s: ... its service files" % label, "needs root to chown")

            # runtime=yes without XDG_RUNTIME_DIR: fails when used
            bus = Bus(binary, ALLOW_ALL, env=environment(None, tmp), listen="unix:runtime=yes")
            status = bus.wait()
            tap.ok(bus.address is None and status == 1,
                   "%s: <listen>unix:runtime=yes</listen> without XDG_RUNTIME_DIR exits with 1" % label,
                   "address %r, status %r" % (bus.address, status))
            tap.ok('"XDG_RUNTIME_DIR" is not set' in bus.stderr(),
                   "%s: ... saying \"XDG_RUNTIME_DIR\" is not set" % label, bus.stderr())
            bus.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
