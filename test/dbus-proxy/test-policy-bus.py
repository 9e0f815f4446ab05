#!/usr/bin/python3
"""
Policy enforcement end to end: a system-bus-like private bus (dbus-daemon
from $DBUS_DAEMON, and bus1-dbus from $BUS1_DBUS or $top_builddir/bus1-dbus)
whose default policy denies owning names and method calls, with an
unprivileged client (user nobody, switched to with setpriv) that is allowed
or denied what the policy says.

Checked, for each broker: own (an allowed name, a denied one), own_prefix
(the prefix itself, a name below it, a name that only shares the leading
characters), send_destination_prefix (a name below the prefix owned by
root, a name outside it, a name that only shares the leading characters, a
name outside it whose connection also owns one inside: dbus-daemon matches
send rules against every name of the receiving connection),
a receive rule (a call with a denied interface is refused and never reaches
the service; the same call with another interface does).

The verdicts of bus1-dbus must equal those of dbus-daemon: when they
differ, the bus1-dbus line fails naming both. Needs root and setpriv
(SKIP otherwise). Prints TAP.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "../..")),
                                "test/lib"))
from bustest import Tap  # noqa: E402

try:
    import dbus  # noqa: F401 (the clients and the service need it)
except ImportError:
    print("1..0 # SKIP python3-dbus not installed")
    sys.exit(0)

CONFIG = '''<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus"/>
    <allow send_destination_prefix="org.example.Service" send_type="method_call"/>
    <deny receive_interface="org.example.Secret"/>
  </policy>
  <policy user="root">
    <allow own="*"/>
  </policy>
  <policy user="nobody">
    <allow own="org.example.Allowed"/>
    <allow own_prefix="org.example.Prefix"/>
  </policy>
</busconfig>
'''

# Runs as root: owns the names the client sends to, counts the calls it gets.
SERVICE_PY = r'''
import signal, sys, dbus, dbus.service
from gi.repository import GLib
from dbus.mainloop.glib import DBusGMainLoop
address, ready = sys.argv[1], sys.argv[2]
DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(address)
loop = GLib.MainLoop()
counts = {"Test": 0, "Secret": 0}
class Svc(dbus.service.Object):
    @dbus.service.method("org.example.Test", in_signature="", out_signature="s")
    def Ping(self):
        counts["Test"] += 1
        return "pong"
    @dbus.service.method("org.example.Secret", in_signature="", out_signature="s")
    def Peek(self):
        counts["Secret"] += 1
        return "pong"
    @dbus.service.method("org.example.Admin", in_signature="s", out_signature="u")
    def Count(self, iface):
        return counts[iface]
Svc(bus, "/org/example/Test")
names = sys.argv[3:]
for name in names:
    if bus.request_name(name, dbus.bus.NAME_FLAG_DO_NOT_QUEUE) != dbus.bus.REQUEST_NAME_REPLY_PRIMARY_OWNER:
        sys.exit(1)
open(ready, "w").close()
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
loop.run()
'''

# Runs as nobody: one operation, prints its verdict (a word or an error name).
CLIENT_PY = r'''
import sys, dbus
address, op = sys.argv[1], sys.argv[2]
try:
    c = dbus.bus.BusConnection(address)
    if op == "own":
        r = c.request_name(sys.argv[3], dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
        print("owned" if r == dbus.bus.REQUEST_NAME_REPLY_PRIMARY_OWNER else "reply-%d" % r)
    else:
        method = "Peek" if sys.argv[4] == "org.example.Secret" else "Ping"
        c.call_blocking(sys.argv[3], "/org/example/Test", sys.argv[4], method, "", [], timeout=3)
        print("delivered")
except dbus.exceptions.DBusException as e:
    print(e.get_dbus_name())
'''

SERVICE_NAMES = [["org.example.Service.X"], ["org.example.Other", "org.example.ServiceX"],
                 ["org.example.Shared", "org.example.Service.Y"]]
ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"

# (key, description, client argv, expected verdict)
CHECKS = [
    ("own-allowed", "nobody owns org.example.Allowed (own)",
     ["own", "org.example.Allowed"], "owned"),
    ("own-denied", "nobody is refused org.example.Denied",
     ["own", "org.example.Denied"], ACCESS_DENIED),
    ("own-prefix-sub", "nobody owns org.example.Prefix.Sub (own_prefix)",
     ["own", "org.example.Prefix.Sub"], "owned"),
    ("own-prefix-self", "nobody owns org.example.Prefix itself (own_prefix)",
     ["own", "org.example.Prefix"], "owned"),
    ("own-prefix-partial", "own_prefix matches whole elements: org.example.PrefixOther refused",
     ["own", "org.example.PrefixOther"], ACCESS_DENIED),
    ("send-prefix", "call to root's org.example.Service.X allowed (send_destination_prefix)",
     ["call", "org.example.Service.X", "org.example.Test"], "delivered"),
    ("send-other", "call to root's org.example.Other refused",
     ["call", "org.example.Other", "org.example.Test"], ACCESS_DENIED),
    ("send-prefix-partial", "send_destination_prefix matches whole elements: org.example.ServiceX refused",
     ["call", "org.example.ServiceX", "org.example.Test"], ACCESS_DENIED),
    ("send-prefix-any-name", "call to org.example.Shared allowed: its connection also owns org.example.Service.Y",
     ["call", "org.example.Shared", "org.example.Test"], "delivered"),
    ("receive-denied", "call with interface org.example.Secret refused (receive_interface)",
     ["call", "org.example.Service.X", "org.example.Secret"], ACCESS_DENIED),
]

# TAP writer of test/lib/bustest.py
TAP = Tap()
ok = TAP.ok
skip = TAP.skip


def pdeathsig():
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)


def wait_for(path, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if os.path.exists(path):
            return True
        time.sleep(0.02)
    return False


class Bus:
    def __init__(self, binary, label, tmp):
        self.label = label
        self.dir = os.path.join(tmp, label)
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.socket = os.path.join(self.dir, "socket")
        self.address = "unix:path=" + self.socket
        conf = os.path.join(self.dir, "system.conf")
        with open(conf, "w") as f:
            f.write(CONFIG % self.address)
        self.log = os.path.join(self.dir, "log")
        self.services = []
        self.proc = subprocess.Popen([binary, "--nofork", "--config-file=" + conf],
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "w"),
                                     preexec_fn=pdeathsig)
        if not wait_for(self.socket, 5):
            raise RuntimeError("%s: no socket within 5 s" % label)

    def start_services(self, tmp):
        """One root connection per group of names: dbus-daemon matches send
        rules against every name the receiving connection owns, so names
        that must be refused cannot share a connection with allowed ones."""
        self.services = []
        for i, names in enumerate(SERVICE_NAMES):
            ready = os.path.join(self.dir, "service-ready-%d" % i)
            self.services.append(subprocess.Popen(["/usr/bin/python3", os.path.join(tmp, "service.py"),
                                                   self.address, ready] + names,
                                                  stderr=open(os.path.join(self.dir, "service-log-%d" % i), "w"),
                                                  preexec_fn=pdeathsig))
            end = time.monotonic() + 5
            while not os.path.exists(ready):
                if self.services[-1].poll() is not None or time.monotonic() > end:
                    return False
                time.sleep(0.02)
        return True

    def count(self, iface):
        c = dbus.bus.BusConnection(self.address)
        try:
            return int(c.call_blocking("org.example.Service.X", "/org/example/Test", "org.example.Admin",
                                       "Count", "s", [iface], timeout=3))
        finally:
            c.close()

    def stop(self):
        for p in self.services + [self.proc]:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def client(bus, tmp, argv):
    try:
        r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                            "/usr/bin/python3", os.path.join(tmp, "client.py"), bus.address] + argv,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=8,
                           universal_newlines=True, cwd="/")
    except subprocess.TimeoutExpired:
        return "timeout"
    out = r.stdout.strip()
    if r.returncode != 0 or not out:
        return "client-failed(%d): %s" % (r.returncode, r.stderr.strip().splitlines()[-1:] or "")
    return out


def run_broker(binary, label, tmp):
    """Returns {key: verdict} for every check (missing keys mean not run)."""
    verdicts = {}
    bus = Bus(binary, label, tmp)
    try:
        if not bus.start_services(tmp):
            verdicts["service"] = "root service did not own %s" % " and ".join(", ".join(g) for g in SERVICE_NAMES)
            return verdicts
        verdicts["service"] = "ok"
        for key, _, argv, _ in CHECKS:
            verdicts[key] = client(bus, tmp, argv)
        try:
            verdicts["receive-not-delivered"] = "Secret calls received: %d" % bus.count("Secret")
            verdicts["receive-control"] = "Test calls received: %d" % bus.count("Test")
        except dbus.exceptions.DBusException as e:
            verdicts["receive-not-delivered"] = verdicts["receive-control"] = e.get_dbus_name()
    finally:
        bus.stop()
        if bus.proc.returncode not in (0, -signal.SIGTERM):
            verdicts["exit"] = "exited with %s" % bus.proc.returncode
    return verdicts


EXTRA = [
    ("receive-not-delivered", "the refused org.example.Secret call never reached the service",
     "Secret calls received: 0"),
    ("receive-control", "the org.example.Test call reached the service once",
     "Test calls received: 1"),
]


def report(label, verdicts, reference):
    if verdicts.get("service") != "ok":
        ok(False, "%s: root service owns its names" % label, verdicts.get("service"))
        return
    for key, desc, expected in [(k, d, e) for k, d, _, e in CHECKS] + EXTRA:
        got = verdicts.get(key)
        if reference is None:
            ok(got == expected, "%s: %s" % (label, desc), "got %s, expected %s" % (got, expected))
        else:
            ref = reference.get(key)
            ok(got == ref and got == expected, "%s: %s" % (label, desc),
               "bus1-dbus: %s; dbus-daemon: %s; expected %s" % (got, ref, expected))
    if "exit" in verdicts:
        ok(False, "%s: exits cleanly on SIGTERM" % label, verdicts["exit"])


def main():
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root to run clients as user nobody")
        return 0
    if not shutil.which("setpriv"):
        print("1..0 # SKIP setpriv not found")
        return 0
    tmp = tempfile.mkdtemp(prefix="test-policy-bus-")
    try:
        os.chmod(tmp, 0o755)
        for name, text in (("service.py", SERVICE_PY), ("client.py", CLIENT_PY)):
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)
            os.chmod(os.path.join(tmp, name), 0o644)
        reference = None
        dd = os.environ.get("DBUS_DAEMON") or shutil.which("dbus-daemon")
        if dd and os.access(dd, os.X_OK):
            try:
                reference = run_broker(dd, "dbus-daemon", tmp)
            except Exception as e:
                ok(False, "dbus-daemon: checks ran", repr(e))
            if reference is not None:
                report("dbus-daemon", reference, None)
        else:
            skip("dbus-daemon", "not installed")
        b1 = os.environ.get("BUS1_DBUS") or os.path.join(os.environ.get("top_builddir", "."), "bus1-dbus")
        if os.access(b1, os.X_OK):
            b1 = os.path.abspath(b1)
            try:
                report("bus1-dbus", run_broker(b1, "bus1-dbus", tmp), reference)
            except Exception as e:
                ok(False, "bus1-dbus: checks ran", repr(e))
        else:
            skip("bus1-dbus", "not built in this tree")
    finally:
        if not os.environ.get("KEEP_TMP"):
            shutil.rmtree(tmp, ignore_errors=True)
    return TAP.done()


if __name__ == "__main__":
    sys.exit(main())
