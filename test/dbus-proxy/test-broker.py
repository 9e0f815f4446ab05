#!/usr/bin/python3
# Integration test of bus1-dbus: start the broker on a private socket and
# drive it with real clients (python-dbus/libdbus, gdbus, busctl, dbus-send).
# The same checks run against dbus-daemon when BUS1_TEST_BROKER=dbus-daemon,
# so differences show up as failures, not guesses. Prints TAP.

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

RESULTS = []

ECHO_SERVICE = """
import sys, dbus, dbus.lowlevel, dbus.mainloop.glib
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
conn = dbus.bus.BusConnection(sys.argv[1])
conn.request_name("org.example.Echo")
def handler(conn, msg):
    if msg.get_member() == "Echo":
        reply = dbus.lowlevel.MethodReturnMessage(msg)
        reply.append(signature=msg.get_signature(), *msg.get_args_list())
        conn.send_message(reply)
        return dbus.lowlevel.HANDLER_RESULT_HANDLED
    return dbus.lowlevel.HANDLER_RESULT_NOT_YET_HANDLED
conn.add_message_filter(handler)
print("ready", flush=True)
GLib.MainLoop().run()
"""


def ok(cond, name):
    RESULTS.append((bool(cond), name))
    print("%s %d - %s" % ("ok" if cond else "not ok", len(RESULTS), name), flush=True)


def broker_path():
    sel = os.environ.get("BUS1_TEST_BROKER")
    if sel == "dbus-daemon":
        return os.environ.get("DBUS_DAEMON") or "/usr/bin/dbus-daemon"
    if sel:
        return sel
    if os.environ.get("BUS1_DBUS"):
        return os.environ["BUS1_DBUS"]
    return os.path.join(os.environ.get("top_builddir", "."), "bus1-dbus")


CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s/bus</listen>
  <auth>EXTERNAL</auth>
  <limit name="reply_timeout">%d</limit>
  <limit name="max_match_rules_per_connection">50</limit>
  <limit name="max_outgoing_bytes">8000000</limit>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
    <deny own="org.example.Forbidden"/>
  </policy>
</busconfig>
"""


def start_broker(tmp, reply_timeout=60000):
    with open(os.path.join(tmp, "bus.conf"), "w") as f:
        f.write(CONFIG % (tmp, reply_timeout))
    r, w = os.pipe()
    proc = subprocess.Popen([broker_path(), "--nofork", "--print-address=%d" % w,
                             "--config-file=%s/bus.conf" % tmp],
                            pass_fds=[w], stdin=subprocess.DEVNULL)
    os.close(w)
    addr = b""
    deadline = time.time() + 10
    while time.time() < deadline:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        addr += chunk
        if addr.endswith(b"\n"):
            break
    os.close(r)
    return proc, addr.decode().strip()


def run(cmd, timeout=10):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


BROKER_IS_OURS = os.environ.get("BUS1_TEST_BROKER") != "dbus-daemon"


def main():
    broker = broker_path()
    if not os.path.exists(broker):
        print("1..0 # SKIP broker %s not built" % broker)
        return 0
    try:
        import dbus
        import dbus.lowlevel
        import dbus.mainloop.glib
        dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    except ImportError:
        print("1..0 # SKIP python3-dbus not installed")
        return 0

    tmp = tempfile.mkdtemp(prefix="bus1-test-broker-")
    proc, addr = start_broker(tmp)
    try:
        ok(addr.startswith("unix:path=%s/bus,guid=" % tmp), "address printed like dbus-daemon: %s" % addr)

        a = dbus.bus.BusConnection(addr)
        b = dbus.bus.BusConnection(addr)
        drv = a.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus")
        ok(a.get_unique_name().startswith(":1."), "Hello gives a unique name")
        names = drv.ListNames(dbus_interface="org.freedesktop.DBus")
        ok("org.freedesktop.DBus" in names and a.get_unique_name() in names and b.get_unique_name() in names,
           "ListNames lists the driver and both clients")
        ok(drv.GetNameOwner("org.freedesktop.DBus", dbus_interface="org.freedesktop.DBus") == "org.freedesktop.DBus",
           "GetNameOwner of the driver")
        ok(drv.GetConnectionUnixUser(b.get_unique_name(), dbus_interface="org.freedesktop.DBus") == os.getuid(),
           "GetConnectionUnixUser")
        ok(drv.GetConnectionUnixProcessID(b.get_unique_name(), dbus_interface="org.freedesktop.DBus") == os.getpid(),
           "GetConnectionUnixProcessID")
        creds = drv.GetConnectionCredentials(b.get_unique_name(), dbus_interface="org.freedesktop.DBus")
        ok(creds.get("UnixUserID") == os.getuid() and creds.get("ProcessID") == os.getpid(),
           "GetConnectionCredentials")
        ok(len(drv.GetId(dbus_interface="org.freedesktop.DBus")) == 32, "GetId")
        ok("<interface name=\"org.freedesktop.DBus\">" in
           drv.Introspect(dbus_interface="org.freedesktop.DBus.Introspectable"), "Introspect")
        feats = drv.Get("org.freedesktop.DBus", "Interfaces", dbus_interface="org.freedesktop.DBus.Properties")
        ok("org.freedesktop.DBus.Monitoring" in feats, "Properties.Get Interfaces")

        # errors
        try:
            drv.GetNameOwner("org.example.Nobody", dbus_interface="org.freedesktop.DBus")
            ok(False, "GetNameOwner of an unowned name fails")
        except dbus.DBusException as e:
            ok(e.get_dbus_name() == "org.freedesktop.DBus.Error.NameHasNoOwner",
               "GetNameOwner of an unowned name: NameHasNoOwner (%s)" % e.get_dbus_name())
        try:
            drv.NoSuchMethod(dbus_interface="org.freedesktop.DBus")
            ok(False, "unknown driver method fails")
        except dbus.DBusException as e:
            ok(e.get_dbus_name() == "org.freedesktop.DBus.Error.UnknownMethod", "unknown method: UnknownMethod")
        try:
            a.call_blocking("org.example.Nobody", "/", "org.example.I", "M", "", ())
            ok(False, "call to an unowned name fails")
        except dbus.DBusException as e:
            ok(e.get_dbus_name() == "org.freedesktop.DBus.Error.ServiceUnknown", "call to unowned name: ServiceUnknown")
        try:
            drv.AddMatch("type='nonsense'", dbus_interface="org.freedesktop.DBus")
            ok(False, "invalid match rule fails")
        except dbus.DBusException as e:
            ok(e.get_dbus_name() == "org.freedesktop.DBus.Error.MatchRuleInvalid", "invalid match rule: MatchRuleInvalid")
        try:
            drv.RequestName("org.example.Forbidden", 0, dbus_interface="org.freedesktop.DBus")
            ok(False, "policy denies owning a name")
        except dbus.DBusException as e:
            ok(e.get_dbus_name() == "org.freedesktop.DBus.Error.AccessDenied", "own denied by policy: AccessDenied")

        # names, signals, matches
        seen = []
        a.add_signal_receiver(lambda *args, **kw: seen.append(("noc",) + tuple(str(x) for x in args)),
                              signal_name="NameOwnerChanged", dbus_interface="org.freedesktop.DBus",
                              arg0="org.example.Test")
        ok(b.request_name("org.example.Test") == 1, "RequestName: primary owner")
        c = dbus.bus.BusConnection(addr)
        ok(c.request_name("org.example.Test") == 2, "RequestName: queued")
        q = drv.ListQueuedOwners("org.example.Test", dbus_interface="org.freedesktop.DBus")
        ok(list(q) == [b.get_unique_name(), c.get_unique_name()], "ListQueuedOwners")
        ok(b.release_name("org.example.Test") == 1, "ReleaseName: released")
        ok(drv.GetNameOwner("org.example.Test", dbus_interface="org.freedesktop.DBus") == c.get_unique_name(),
           "queued owner takes over")
        # flush: a driver call orders after the signals
        drv.GetId(dbus_interface="org.freedesktop.DBus")
        from gi.repository import GLib
        ctx = GLib.MainContext.default()
        deadline = time.time() + 5
        while len(seen) < 3 and time.time() < deadline:
            ctx.iteration(False)
        ok(seen[:3] == [("noc", "org.example.Test", "", b.get_unique_name()),
                        ("noc", "org.example.Test", b.get_unique_name(), c.get_unique_name())][:len(seen[:3])]
           and len(seen) == 2, "NameOwnerChanged through arg0 match rule: %s" % seen)

        # unicast call and reply between clients, with a file descriptor:
        # the callee is a child process with its own main loop
        callee = subprocess.Popen([sys.executable, "-c", ECHO_SERVICE, addr], stdout=subprocess.PIPE)
        ok(callee.stdout.readline().strip() == b"ready", "echo service started")
        rd, wr = os.pipe()
        os.write(wr, b"x")
        rep = a.call_blocking("org.example.Echo", "/", "org.example.I", "Echo", "sh",
                              ("hello", dbus.types.UnixFd(rd)), timeout=10)
        ok(rep[0] == "hello", "call through the broker is answered")
        fd = rep[1].take()
        ok(os.read(fd, 1) == b"x", "unix fd passed both ways")
        os.close(fd)
        os.close(rd)
        os.close(wr)
        big = "x" * (1 << 20)
        rep = a.call_blocking("org.example.Echo", "/", "org.example.I", "Echo", "s", (big,), timeout=10)
        ok(rep == big, "1 MiB message round trip")
        callee.kill()
        callee.wait()

        # disconnect during a call: NoReply
        d = dbus.bus.BusConnection(addr)
        d.request_name("org.example.Silent")
        pending = []
        a.call_async("org.example.Silent", "/", "org.example.I", "M", "", (),
                     lambda *x: pending.append("reply"), lambda e: pending.append(e.get_dbus_name()))
        a.flush()
        time.sleep(0.2)
        d.close()
        deadline = time.time() + 5
        while not pending and time.time() < deadline:
            ctx.iteration(False)
            time.sleep(0.01)
        ok(pending == ["org.freedesktop.DBus.Error.NoReply"], "callee disconnects: NoReply (%s)" % pending)

        # a client that does not read: the broker queues a bounded amount
        # for it and refuses the rest with LimitsExceeded
        stuck = dbus.bus.BusConnection(addr)
        results = []
        big = "y" * (1 << 20)
        for i in range(40):
            a.call_async(stuck.get_unique_name(), "/", "org.example.I", "M", "s", (big,),
                         lambda *x: results.append("reply"), lambda e: results.append(e.get_dbus_name()),
                         timeout=30)
        a.flush()
        deadline = time.time() + 20
        while results.count("org.freedesktop.DBus.Error.LimitsExceeded") < 20 and time.time() < deadline:
            ctx.iteration(False)
            time.sleep(0.001)
        n_limited = results.count("org.freedesktop.DBus.Error.LimitsExceeded")
        ok(n_limited >= 20, "non-reading receiver: calls beyond max_outgoing_bytes get LimitsExceeded (%d of 40)"
           % n_limited)
        if BROKER_IS_OURS:
            with open("/proc/%d/status" % proc.pid) as f:
                rss = [int(l.split()[1]) for l in f if l.startswith("VmRSS:")][0]
            ok(rss < 200 * 1024, "broker memory stays bounded (%d KiB)" % rss)
        ok(drv.GetId(dbus_interface="org.freedesktop.DBus"), "bus still answers")
        stuck.close()

        # command-line clients
        rc, out, err = run(["dbus-send", "--bus=" + addr, "--print-reply", "--dest=org.freedesktop.DBus",
                            "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", "string:org.example.Test"])
        ok(rc == 0 and "boolean true" in out, "dbus-send NameHasOwner")
        rc, out, err = run(["gdbus", "call", "-a", addr, "-d", "org.freedesktop.DBus", "-o", "/org/freedesktop/DBus",
                            "-m", "org.freedesktop.DBus.GetNameOwner", "org.example.Test"])
        ok(rc == 0 and c.get_unique_name() in out, "gdbus GetNameOwner")
        rc, out, err = run(["busctl", "--address=" + addr.split(",guid=")[0], "--no-pager", "list"])
        ok(rc == 0 and "org.example.Test" in out, "busctl list")

        # garbage closes only the offending connection
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(os.path.join(tmp, "bus"))
        s.sendall(b"\0AUTH EXTERNAL 30\r\nBEGIN\r\n" + b"\xff" * 64)
        s.settimeout(5)
        data = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            data = None
        s.close()
        ok(data is not None, "garbage after BEGIN disconnects that client")
        ok(drv.NameHasOwner("org.example.Test", dbus_interface="org.freedesktop.DBus"),
           "other clients keep working")

        # out of fds: accept fails (EMFILE); the broker must not spin on the
        # readable listening socket, and accepts the waiting client once fds
        # are available again
        if BROKER_IS_OURS:
            import resource
            nfds = len(os.listdir("/proc/%d/fd" % proc.pid))
            limits = resource.prlimit(proc.pid, resource.RLIMIT_NOFILE)
            resource.prlimit(proc.pid, resource.RLIMIT_NOFILE, (nfds, limits[1]))
            w = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            w.settimeout(5)
            w.connect(os.path.join(tmp, "bus"))
            w.sendall(b"\0AUTH EXTERNAL %s\r\n" % str(os.getuid()).encode().hex().encode())

            def cpu_ticks():
                with open("/proc/%d/stat" % proc.pid) as f:
                    st = f.read().rsplit(")", 1)[1].split()
                return int(st[11]) + int(st[12])

            t0 = cpu_ticks()
            time.sleep(1.0)
            used = (cpu_ticks() - t0) / os.sysconf("SC_CLK_TCK")
            ok(used < 0.3, "EMFILE on accept: the broker does not spin (%.2f s CPU in 1 s)" % used)
            resource.prlimit(proc.pid, resource.RLIMIT_NOFILE, limits)
            try:
                reply = w.recv(4096)
            except socket.timeout:
                reply = b""
            ok(reply.startswith(b"OK "), "EMFILE on accept: the waiting client is served later (%r)" % reply[:20])
            w.close()
            ok(drv.GetId(dbus_interface="org.freedesktop.DBus"), "bus works after EMFILE")

        # SIGHUP reloads, SIGTERM exits cleanly
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.2)
        ok(drv.GetId(dbus_interface="org.freedesktop.DBus"), "bus works after SIGHUP")
        for x in (a, b, c):
            x.close()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=10)
        ok(rc == 0, "SIGTERM: clean exit (%d)" % rc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        subprocess.run(["rm", "-rf", tmp])

    print("1..%d" % len(RESULTS))
    return 0 if all(r for r, _ in RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
