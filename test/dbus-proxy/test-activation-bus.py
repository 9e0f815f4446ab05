#!/usr/bin/python3
"""
Activation end to end: a private bus (dbus-daemon from $DBUS_DAEMON, and
bus1-dbus from $BUS1_DBUS when it has been built) with a service directory
of test services, driven by python-dbus clients. The same checks run against
both, so differences show.

Checked: ListActivatableNames; auto-start by a method call with several
callers waiting at once (one start, all answered); StartServiceByName
(1 = started, 2 = already running); a service that exits before owning its
name (Spawn.ChildExited), one that crashes (Spawn.ChildSignaled), one that
never appears (TimedOut), a missing binary (Spawn.ExecFailed), an unknown
name (ServiceUnknown); UpdateActivationEnvironment visible to the next
started service, along with DBUS_STARTER_ADDRESS/DBUS_STARTER_BUS_TYPE;
a service file added at run time shows in ListActivatableNames and is
announced by ActivatableServicesChanged (bus1-dbus; dbus-daemon 1.14 does
not have that signal, so there it is only listed). With
--systemd-activation and a fake systemd: ActivationRequest and
UpdateActivationEnvironment (as Manager.SetEnvironment) queued until
systemd connects, ActivationFailure, services without SystemdService=.

Prints TAP.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "../..")),
                                "test/lib"))
from bustest import Tap  # noqa: E402

try:
    import dbus
except ImportError:
    print("1..0 # SKIP python3-dbus not installed")
    sys.exit(0)

SERVICE_PY = r'''
import os, sys, dbus, dbus.service
from gi.repository import GLib
from dbus.mainloop.glib import DBusGMainLoop
name, envfile = sys.argv[1], sys.argv[2]
with open(envfile + ".tmp", "w") as f:
    for k, v in sorted(os.environ.items()):
        f.write("%s=%s\n" % (k, v))
os.rename(envfile + ".tmp", envfile)
DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(os.environ["DBUS_STARTER_ADDRESS"])
loop = GLib.MainLoop()
class Svc(dbus.service.Object):
    @dbus.service.method("org.example.Test", in_signature="s", out_signature="s")
    def Echo(self, s):
        return s
    @dbus.service.method("org.example.Test", in_signature="", out_signature="")
    def Exit(self):
        GLib.idle_add(loop.quit)
Svc(bus, "/org/example/Test")
bus.request_name(name)
loop.run()
'''

FAKE_SYSTEMD_PY = r'''
import os, signal, subprocess, sys, dbus
from gi.repository import GLib
from dbus.mainloop.glib import DBusGMainLoop
address, service_py, dir = sys.argv[1], sys.argv[2], sys.argv[3]
DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(address)
loop = GLib.MainLoop()
children = []
def on_request(unit):
    with open(os.path.join(dir, "requests"), "a") as f:
        f.write(unit + "\n")
    name = unit[len("dbus-"):-len(".service")]
    if name.endswith("Fail"):
        m = dbus.lowlevel.SignalMessage("/org/freedesktop/systemd1", "org.freedesktop.systemd1.Activator",
                                        "ActivationFailure")
        m.set_destination("org.freedesktop.DBus")
        m.append(unit, "org.freedesktop.systemd1.NoSuchUnit", "Unit %s not found." % unit, signature="sss")
        bus.send_message(m)
    else:
        env = dict(os.environ, DBUS_STARTER_ADDRESS=address, DBUS_STARTER_BUS_TYPE="session")
        children.append(subprocess.Popen([sys.executable, service_py, name, os.path.join(dir, "env-" + name)],
                                         env=env))
bus.add_signal_receiver(on_request, signal_name="ActivationRequest",
                        dbus_interface="org.freedesktop.systemd1.Activator")
def on_message(conn, m):
    # the bus passes UpdateActivationEnvironment on as Manager.SetEnvironment(as)
    if m.get_member() == "SetEnvironment" and m.get_interface() == "org.freedesktop.systemd1.Manager":
        with open(os.path.join(dir, "setenv"), "a") as f:
            f.write(" ".join(str(kv) for kv in m.get_args_list()[0]) + "\n")
bus.add_message_filter(on_message)
bus.request_name("org.freedesktop.systemd1")
def stop(*a):
    loop.quit()
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, stop)
loop.run()
for c in children:
    try:
        c.wait(timeout=5)
    except subprocess.TimeoutExpired:
        c.kill()
        c.wait()
'''

# TAP writer of test/lib/bustest.py
TAP = Tap()
ok = TAP.ok
skip = TAP.skip


def error_name(e):
    return e.get_dbus_name() if isinstance(e, dbus.exceptions.DBusException) else repr(e)


class Bus:
    def __init__(self, binary, label, tmp, extra=()):
        self.label = label
        self.dir = os.path.join(tmp, label)
        self.services = os.path.join(self.dir, "services")
        os.makedirs(self.services)
        self.socket = os.path.join(self.dir, "socket")
        self.address = "unix:path=" + self.socket
        conf = os.path.join(self.dir, "bus.conf")
        with open(conf, "w") as f:
            f.write('<busconfig><type>session</type><listen>%s</listen>'
                    '<servicedir>%s</servicedir>'
                    '<limit name="service_start_timeout">2000</limit>'
                    '<policy context="default"><allow send_destination="*" eavesdrop="true"/>'
                    '<allow eavesdrop="true"/><allow own="*"/></policy></busconfig>\n'
                    % (self.address, self.services))
        self.proc = subprocess.Popen([binary, "--nofork", "--config-file=" + conf] + list(extra),
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "log"), "w"),
                                     preexec_fn=lambda: __import__("ctypes").CDLL(None).prctl(1, signal.SIGKILL))
        for _ in range(500):
            if os.path.exists(self.socket):
                break
            time.sleep(0.01)
        self.pids = []
        self.fake = None

    def connect(self):
        # the socket file appears at bind(), before listen(): retry a while
        for _ in range(500):
            try:
                return dbus.bus.BusConnection(self.address)
            except dbus.exceptions.DBusException:
                time.sleep(0.01)
        return dbus.bus.BusConnection(self.address)

    def add_service(self, name, exec_line=None, file=None, extra=""):
        if exec_line is None:
            exec_line = "/usr/bin/python3 %s/service.py %s %s/env-%s" % (self.dir, name, self.dir, name)
        with open(os.path.join(self.services, (file or name) + ".service"), "w") as f:
            f.write("[D-BUS Service]\nName=%s\nExec=%s\n%s" % (name, exec_line, extra))

    def start_fake_systemd(self):
        path = os.path.join(self.dir, "fake-systemd.py")
        with open(path, "w") as f:
            f.write(FAKE_SYSTEMD_PY)
        self.fake = subprocess.Popen(["/usr/bin/python3", path, self.address,
                                      os.path.join(self.dir, "service.py"), self.dir])

    def envfile(self, name):
        return os.path.join(self.dir, "env-" + name)

    def stop(self):
        # services first (the bus reaps them), then the bus
        c = self.connect()
        drv = c.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus")
        for name in drv.ListNames(dbus_interface="org.freedesktop.DBus"):
            if name.startswith("org.example."):
                try:
                    c.call_blocking(name, "/org/example/Test", "org.example.Test", "Exit", "", [], timeout=2)
                except dbus.exceptions.DBusException:
                    pass
        c.close()
        time.sleep(0.3)
        if self.fake:
            self.fake.terminate()
            self.fake.wait()
        self.proc.terminate()
        self.proc.wait()


def call(c, name, method="Echo", args=("x",), timeout=10):
    sig = "s" if args else ""
    return c.call_blocking(name, "/org/example/Test", "org.example.Test", method, sig, list(args), timeout=timeout)


def checks(bus):
    l = bus.label
    with open(os.path.join(bus.dir, "service.py"), "w") as f:
        f.write(SERVICE_PY)
    bus.add_service("org.example.Echo")
    bus.add_service("org.example.Started")
    bus.add_service("org.example.EnvCheck")
    bus.add_service("org.example.ExitEarly", "/bin/sh -c 'exit 3'")
    bus.add_service("org.example.Crash", "/bin/sh -c 'kill -SEGV $$'")
    bus.add_service("org.example.Never", "/bin/sleep 30")
    bus.add_service("org.example.Missing", "/nonexistent/binary")

    c = bus.connect()
    drv = dbus.Interface(c.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus"), "org.freedesktop.DBus")
    names = [str(x) for x in drv.ListActivatableNames()]
    ok("org.example.Echo" in names and "org.freedesktop.DBus" in names, "%s: ListActivatableNames" % l, names)

    # several callers at once: one start, everybody answered
    results = []

    def caller(i):
        try:
            cc = bus.connect()
            results.append(str(call(cc, "org.example.Echo", args=("hello %d" % i,))))
            cc.close()
        except Exception as e:
            results.append(error_name(e))
    threads = [threading.Thread(target=caller, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok(sorted(results) == ["hello %d" % i for i in range(4)], "%s: auto-start, 4 callers answered" % l, results)
    ok(len([x for x in drv.ListQueuedOwners("org.example.Echo")]) == 1, "%s: started once" % l)

    r = drv.StartServiceByName("org.example.Started", dbus.UInt32(0))
    ok(r == 1, "%s: StartServiceByName starts (1)" % l, r)
    r = drv.StartServiceByName("org.example.Started", dbus.UInt32(0))
    ok(r == 2, "%s: StartServiceByName already running (2)" % l, r)

    for name, want in (("org.example.ExitEarly", "org.freedesktop.DBus.Error.Spawn.ChildExited"),
                       ("org.example.Crash", "org.freedesktop.DBus.Error.Spawn.ChildSignaled"),
                       ("org.example.Missing", "org.freedesktop.DBus.Error.Spawn.ExecFailed"),
                       ("org.example.Unknown", "org.freedesktop.DBus.Error.ServiceUnknown"),
                       ("org.example.Never", "org.freedesktop.DBus.Error.TimedOut")):
        try:
            got = "reply %r" % call(c, name)
        except dbus.exceptions.DBusException as e:
            got = e.get_dbus_name()
        ok(got == want, "%s: %s gives %s" % (l, name, want.split(".")[-1]), got)

    drv.UpdateActivationEnvironment({"BUS1_TEST_VAR": "value one", "BUS1_OTHER": "2"})
    call(c, "org.example.EnvCheck")
    env = dict(line.rstrip("\n").split("=", 1) for line in open(bus.envfile("org.example.EnvCheck")) if "=" in line)
    ok(env.get("BUS1_TEST_VAR") == "value one" and env.get("BUS1_OTHER") == "2",
       "%s: UpdateActivationEnvironment reaches the service" % l)
    # dbus-daemon appends ",guid=..." to the address
    ok((env.get("DBUS_STARTER_ADDRESS") or "").startswith(bus.address) and
       env.get("DBUS_STARTER_BUS_TYPE") == "session",
       "%s: DBUS_STARTER_ADDRESS and DBUS_STARTER_BUS_TYPE" % l,
       (env.get("DBUS_STARTER_ADDRESS"), env.get("DBUS_STARTER_BUS_TYPE")))

    # a service file added at run time
    got_signal = []

    def on_signal(*args, **kw):
        got_signal.append(kw.get("member"))
    c.add_match_string("type='signal',interface='org.freedesktop.DBus',member='ActivatableServicesChanged'")
    bus.add_service("org.example.Late")
    deadline = time.time() + 5
    listed = False
    while time.time() < deadline:
        if "org.example.Late" in [str(x) for x in drv.ListActivatableNames()]:
            listed = True
            break
        time.sleep(0.05)
    ok(listed, "%s: a service file added at run time is listed" % l)
    if bus.label == "bus1-dbus":
        from dbus.mainloop.glib import DBusGMainLoop
        from gi.repository import GLib
        loop_bus = dbus.bus.BusConnection(bus.address, mainloop=DBusGMainLoop())
        loop_bus.add_signal_receiver(on_signal, signal_name="ActivatableServicesChanged",
                                     dbus_interface="org.freedesktop.DBus", member_keyword="member")
        loop_bus.call_blocking("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "GetId", "", [])
        bus.add_service("org.example.Later")
        ctx = GLib.MainContext.default()
        deadline = time.time() + 5
        while not got_signal and time.time() < deadline:
            ctx.iteration(False)
            time.sleep(0.01)
        ok(bool(got_signal), "%s: ActivatableServicesChanged after adding a file" % l)
        feats = [str(x) for x in c.call_blocking("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                                 "org.freedesktop.DBus.Properties", "Get", "ss",
                                                 ["org.freedesktop.DBus", "Features"])]
        ok("ActivatableServicesChanged" in feats, "%s: Features announces ActivatableServicesChanged" % l, feats)
        loop_bus.close()
    else:
        skip("%s: ActivatableServicesChanged" % l, "dbus-daemon 1.14 does not emit it")
    c.close()


def systemd_checks(bus):
    """--systemd-activation with a fake org.freedesktop.systemd1 peer."""
    l = bus.label + " --systemd-activation"
    with open(os.path.join(bus.dir, "service.py"), "w") as f:
        f.write(SERVICE_PY)
    bus.add_service("org.example.SdOk", "/bin/false", extra="SystemdService=dbus-org.example.SdOk.service\n")
    bus.add_service("org.example.SdFail", "/bin/false", extra="SystemdService=dbus-org.example.SdFail.service\n")
    bus.add_service("org.example.SdExec")  # no SystemdService=: exec'd by the bus

    # a call before systemd is on the bus waits for it
    result = []

    def early():
        try:
            cc = bus.connect()
            result.append(str(call(cc, "org.example.SdOk", args=("early",))))
            cc.close()
        except Exception as e:
            result.append(error_name(e))
    t = threading.Thread(target=early)
    t.start()
    # an environment update before systemd is on the bus: queued for it
    env_conn = bus.connect()
    env_conn.call_blocking("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                           "UpdateActivationEnvironment", "a{ss}", [{"BUS1_SD_EARLY": "1"}])
    time.sleep(0.5)
    ok(not result, "%s: call waits while systemd is not connected" % l, result)
    bus.start_fake_systemd()
    t.join(15)
    ok(result == ["early"], "%s: ActivationRequest queued until systemd connected, then answered" % l, result)
    try:
        with open(os.path.join(bus.dir, "requests")) as f:
            reqs = f.read().split()
    except OSError:
        reqs = []
    ok(reqs == ["dbus-org.example.SdOk.service"], "%s: one ActivationRequest with the unit" % l, reqs)

    def setenv_lines(want):
        deadline = time.time() + 5
        while True:
            try:
                with open(os.path.join(bus.dir, "setenv")) as f:
                    lines = f.read().splitlines()
            except OSError:
                lines = []
            if len(lines) >= want or time.time() > deadline:
                return lines
            time.sleep(0.05)
    got = setenv_lines(1)
    ok(got == ["BUS1_SD_EARLY=1"],
       "%s: UpdateActivationEnvironment before systemd connected reaches it as SetEnvironment" % l, got)
    env_conn.call_blocking("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                           "UpdateActivationEnvironment", "a{ss}", [{"BUS1_SD_LATE": "2"}])
    got = setenv_lines(2)
    ok(got == ["BUS1_SD_EARLY=1", "BUS1_SD_LATE=2"],
       "%s: ... and once it is connected, at once" % l, got)
    env_conn.close()

    c = bus.connect()
    try:
        got = "reply %r" % call(c, "org.example.SdFail")
    except dbus.exceptions.DBusException as e:
        got = e.get_dbus_name()
    ok(got == "org.freedesktop.systemd1.NoSuchUnit", "%s: ActivationFailure reaches the caller" % l, got)
    try:
        got = str(call(c, "org.example.SdExec", args=("exec",)))
    except dbus.exceptions.DBusException as e:
        got = e.get_dbus_name()
    ok(got == "exec", "%s: no SystemdService=: started directly" % l, got)
    c.close()


def main():
    tmp = tempfile.mkdtemp(prefix="test-activation-bus-")
    try:
        daemons = []
        dd = os.environ.get("DBUS_DAEMON") or shutil.which("dbus-daemon")
        if dd and os.access(dd, os.X_OK):
            daemons.append((dd, "dbus-daemon"))
        else:
            skip("dbus-daemon", "not installed")
        b1 = os.environ.get("BUS1_DBUS") or os.path.join(os.environ.get("top_builddir", "."), "bus1-dbus")
        if os.access(b1, os.X_OK):
            daemons.append((b1, "bus1-dbus"))
        else:
            skip("bus1-dbus", "bus1-dbus not built in this tree")
        for binary, label in daemons:
            bus = Bus(binary, label, tmp)
            try:
                checks(bus)
            except Exception as e:
                ok(False, "%s: checks ran" % label, repr(e))
            finally:
                bus.stop()
            bus = Bus(binary, label + "-systemd", tmp, ["--systemd-activation"])
            bus.label = label
            try:
                systemd_checks(bus)
            except Exception as e:
                ok(False, "%s --systemd-activation: checks ran" % label, repr(e))
            finally:
                bus.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return TAP.done()


if __name__ == "__main__":
    sys.exit(main())
