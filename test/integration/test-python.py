#!/usr/bin/python3
"""python3-dbus against a private broker, TAP output.

A service process (this file with --service) exports /com/example/Obj with
methods Echo, Fail (returns an error), ReadFd (takes a unix fd) and Hang
(never answers). The test process calls it, checks signal match rules
(interface, member, path, path_namespace, arg0, arg0namespace, argNpath,
sender by well-known name), name ownership (RequestName flags, queueing,
NameOwnerChanged/NameAcquired/NameLost) and a callee that disconnects during
a pending call (NoReply).

The broker is started by test/lib/bus.sh (the environment's choice, default
our bus1-dbus; SKIP while it does not exist); test-python-reference.sh runs
this file with BUS1_TEST_BROKER=dbus-daemon. Every wait is bounded.
"""
import os
import select
import signal
import subprocess
import sys
import time

import dbus
import dbus.lowlevel
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)

IFACE = "com.example.Test"
SERVICE = "com.example.Service"
WAIT = 10.0  # seconds, bound for any wait
WATCHDOG = 120  # seconds, bound for the whole program (blocking calls time out after 25 s)


# --- the service process -----------------------------------------------------

class TestObject(dbus.service.Object):
    @dbus.service.method(IFACE, in_signature="s", out_signature="s")
    def Echo(self, s):
        return s

    @dbus.service.method(IFACE, in_signature="", out_signature="")
    def Fail(self):
        raise dbus.exceptions.DBusException("it failed on purpose",
                                            name="com.example.Error.Failed")

    @dbus.service.method(IFACE, in_signature="h", out_signature="s")
    def ReadFd(self, fd):
        n = fd.take()
        try:
            return os.read(n, 4096).decode()
        finally:
            os.close(n)

    @dbus.service.method(IFACE, in_signature="", out_signature="",
                         async_callbacks=("ok", "err"))
    def Hang(self, ok, err):
        self.pending = (ok, err)  # never answered
        sys.stdout.write("HANG\n")
        sys.stdout.flush()


def service_main(address):
    conn = dbus.bus.BusConnection(address)
    name = dbus.service.BusName(SERVICE, conn)
    obj = TestObject(conn, "/com/example/Obj")
    loop = GLib.MainLoop()
    GLib.io_add_watch(0, GLib.IO_IN | GLib.IO_HUP, lambda *a: loop.quit())
    sys.stdout.write("READY %s\n" % conn.get_unique_name())
    sys.stdout.flush()
    loop.run()
    del name, obj


# --- TAP ---------------------------------------------------------------------

n_tests = 0


def ok(cond, desc, diag=None):
    global n_tests
    n_tests += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", n_tests, desc))
    if not cond and diag is not None:
        for line in str(diag).splitlines():
            print("# " + line)
    sys.stdout.flush()
    return cond


def poll(cond, bound=WAIT):
    """Iterate the main loop until cond() is true or bound seconds passed."""
    ctx = GLib.MainContext.default()
    deadline = time.monotonic() + bound
    while not cond():
        if time.monotonic() > deadline:
            return False
        while ctx.pending():
            ctx.iteration(False)
        if cond():
            break
        ctx.iteration(False)
        time.sleep(0.005)
    return True


def readline_bounded(f, bound=WAIT):
    r, _, _ = select.select([f], [], [], bound)
    return f.readline() if r else ""


# --- the bus (test/lib/bus.sh in a shell that lives as long as we do) ----------

BUS_SCRIPT = r'''
. "$1/test/lib/bus.sh"
bus_start "$2"; rc=$?
if [ $rc -ne 0 ]; then echo "FAIL $rc ${BUS_SKIP_REASON:-broker did not start}"; exit $rc; fi
echo "ADDRESS $BUS_PID $DBUS_SESSION_BUS_ADDRESS"
read _
'''


def bus_start(extra=""):
    top = os.environ.get("top_srcdir", ".")
    p = subprocess.Popen(["sh", "-c", BUS_SCRIPT, "sh", top, extra],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = readline_bounded(p.stdout, 15).split(" ", 2)
    if line[0] == "ADDRESS":
        return p, line[2].strip()
    p.stdin.close()
    p.wait()
    if len(line) == 3 and line[1] == "2":
        print("1..0 # SKIP " + line[2].strip())
        sys.exit(0)
    print("Bail out! broker did not start: " + " ".join(line).strip())
    sys.exit(1)


def bus_stop(p):
    p.stdin.close()
    p.wait(timeout=15)


def service_start(address):
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--service", address],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = readline_bounded(p.stdout)
    if not line.startswith("READY "):
        p.kill()
        p.wait()
        raise RuntimeError("service did not start")
    return p, line.split()[1]


def connect(address):
    return dbus.bus.BusConnection(address)


class Collector:
    """A message filter that records com.example.* signals and driver signals."""

    def __init__(self, conn):
        self.msgs = []
        conn.add_message_filter(self.filter)

    def filter(self, conn, msg):
        if isinstance(msg, dbus.lowlevel.SignalMessage):
            self.msgs.append((msg.get_path(), msg.get_interface(), msg.get_member(),
                              tuple(str(a) for a in msg.get_args_list())))
        return dbus.lowlevel.HANDLER_RESULT_NOT_YET_HANDLED

    def example(self):
        return [m for m in self.msgs if m[1].startswith("com.example.")
                and m[2] != "Sentinel"]


def emit(conn, path, iface, member, args):
    m = dbus.lowlevel.SignalMessage(path, iface, member)
    m.append(*args, signature="s" * len(args))
    conn.send_message(m)
    conn.flush()


# --- tests ---------------------------------------------------------------------

def test_methods(address):
    svc, svc_unique = service_start(address)
    try:
        conn = connect(address)
        obj = conn.get_object(SERVICE, "/com/example/Obj")
        o = dbus.Interface(obj, IFACE)

        ok(o.Echo("hello ünïcode") == "hello ünïcode", "method call Echo round-trips a string")
        ok(conn.get_name_owner(SERVICE) == svc_unique,
           "GetNameOwner(service) is the service's unique name")

        try:
            o.Fail()
            ok(False, "Fail returns an error")
        except dbus.exceptions.DBusException as e:
            ok(e.get_dbus_name() == "com.example.Error.Failed"
               and "on purpose" in e.get_dbus_message(),
               "Fail returns com.example.Error.Failed with its message", e)

        try:
            obj.NoSuchMethod(dbus_interface=IFACE)
            ok(False, "unknown method on the service fails")
        except dbus.exceptions.DBusException as e:
            ok(e.get_dbus_name() == "org.freedesktop.DBus.Error.UnknownMethod",
               "unknown method on the service: UnknownMethod", e)

        # credentials of another connection, by unique and by well-known name
        drv = dbus.Interface(conn.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus"),
                             "org.freedesktop.DBus")
        ok(drv.GetConnectionUnixProcessID(SERVICE) == svc.pid
           and drv.GetConnectionUnixProcessID(svc_unique) == svc.pid,
           "GetConnectionUnixProcessID(service) is the service's pid")
        ok(drv.GetConnectionUnixUser(svc_unique) == os.getuid(),
           "GetConnectionUnixUser(service) is our uid")
        creds = drv.GetConnectionCredentials(SERVICE)
        ok(creds.get("UnixUserID") == os.getuid() and creds.get("ProcessID") == svc.pid
           and os.getgid() in [int(g) for g in creds.get("UnixGroupIDs", [])],
           "GetConnectionCredentials(service): UnixUserID, ProcessID, UnixGroupIDs", creds)
        try:
            drv.GetConnectionUnixUser("com.example.Nobody")
            ok(False, "GetConnectionUnixUser of an unowned name fails")
        except dbus.exceptions.DBusException as e:
            ok(e.get_dbus_name() == "org.freedesktop.DBus.Error.NameHasNoOwner",
               "GetConnectionUnixUser of an unowned name: NameHasNoOwner", e)

        r, w = os.pipe()
        os.write(w, b"through the pipe")
        os.close(w)
        got = o.ReadFd(dbus.types.UnixFd(r))
        os.close(r)
        ok(got == "through the pipe", "ReadFd reads through a pipe fd passed as h", got)

        # disconnect during a pending call: the broker answers NoReply
        result = {}
        o.Hang(reply_handler=lambda: result.setdefault("reply", True),
               error_handler=lambda e: result.setdefault("error", e), timeout=30)
        hang = readline_bounded(svc.stdout)
        ok(hang == "HANG\n", "service received the call that it will not answer", hang)
        svc.kill()
        svc.wait()
        t0 = time.monotonic()
        poll(lambda: result)
        e = result.get("error")
        ok(e is not None and e.get_dbus_name() == "org.freedesktop.DBus.Error.NoReply"
           and time.monotonic() - t0 < WAIT,
           "callee disconnected during the call: NoReply error", result)
        ok(not conn.name_has_owner(SERVICE), "service name released after its disconnect")
        conn.close()
    finally:
        if svc.poll() is None:
            svc.kill()
            svc.wait()


SIGNALS = [  # path, interface, member, args
    ("/com/example/a", "com.example.A", "Ping", ["foo"]),
    ("/com/example/a/b", "com.example.B", "Ping", ["foo.bar"]),
    ("/com/example/ab", "com.example.A", "Pong", ["/com/example/"]),
    ("/other", "com.example.A", "Ping", ["bar", "/com/example/a/"]),
    ("/com/example", "com.example.B", "Pong", ["foo.bar.baz"]),
]

RULES = [  # rule, indices of SIGNALS it matches
    ("type='signal',interface='com.example.A'", [0, 2, 3]),
    ("member='Pong'", [2, 4]),
    ("path='/com/example/a'", [0]),
    ("path_namespace='/com/example/a'", [0, 1]),
    ("arg0='foo'", [0]),
    ("arg0namespace='foo.bar'", [1, 4]),
    ("arg0path='/com/example/'", [2]),
    ("arg1path='/com/example/a/b'", [3]),
    ("interface='com.example.A',member='Ping',path='/com/example/a',arg0='foo'", [0]),
    ("sender='com.example.Emitter'", [0, 1, 2, 3, 4]),
]


def test_matches(address):
    recv = connect(address)
    emitter = connect(address)
    other = connect(address)
    ok(emitter.request_name("com.example.Emitter", dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
       == dbus.bus.REQUEST_NAME_REPLY_PRIMARY_OWNER, "emitter owns com.example.Emitter")
    col = Collector(recv)
    recv.add_match_string("type='signal',interface='com.example.Sentinel',member='Sentinel'")

    for i, (rule, expected) in enumerate(RULES):
        recv.add_match_string(rule)
        # another sender's signals must not match sender='com.example.Emitter';
        # the call after it orders it before the emitter's signals
        emit(other, *SIGNALS[0])
        other.get_name_owner("org.freedesktop.DBus")
        for s in SIGNALS:
            emit(emitter, *s)
        emit(emitter, "/s", "com.example.Sentinel", "Sentinel", [str(i)])
        got = poll(lambda: any(m[2] == "Sentinel" and m[3] == (str(i),) for m in col.msgs))
        seen = col.example()
        want = [(p, f, m, tuple(a)) for p, f, m, a in (SIGNALS[j] for j in expected)]
        if rule.startswith("sender="):
            ok(got and seen == want, "match %s: only the emitter's %d signals" % (rule, len(want)),
               seen)
        else:
            # the other connection's copy of SIGNALS[0] comes first when it matches
            if 0 in expected:
                want = [want[0]] + want
            ok(got and seen == want, "match %s: exactly signals %s, in order" % (rule, expected),
               seen)
        recv.remove_match_string(rule)
        col.msgs.clear()

    # after RemoveMatch nothing matches any more (only the sentinel)
    for s in SIGNALS:
        emit(emitter, *s)
    emit(emitter, "/s", "com.example.Sentinel", "Sentinel", ["end"])
    got = poll(lambda: any(m[3] == ("end",) for m in col.msgs))
    ok(got and col.example() == [], "after RemoveMatch no example signal is delivered",
       col.msgs)

    try:
        recv.add_match_string("type='signal',arg0path='/x',nonsense='1'")
        ok(False, "AddMatch with an unknown key fails")
    except dbus.exceptions.DBusException as e:
        ok(e.get_dbus_name() == "org.freedesktop.DBus.Error.MatchRuleInvalid",
           "AddMatch with an unknown key: MatchRuleInvalid", e)
    try:
        recv.remove_match_string("type='signal',member='NeverAdded'")
        ok(False, "RemoveMatch of an unknown rule fails")
    except dbus.exceptions.DBusException as e:
        ok(e.get_dbus_name() == "org.freedesktop.DBus.Error.MatchRuleNotFound",
           "RemoveMatch of an unknown rule: MatchRuleNotFound", e)
    for c in (recv, emitter, other):
        c.close()


def driver_signals(col, name):
    return [(m[2], m[3]) for m in col.msgs
            if m[1] == "org.freedesktop.DBus" and m[3] and m[3][0] == name]


def test_names(address):
    name = "com.example.Name"
    c1, c2, c3, watch = (connect(address) for _ in range(4))
    u1, u2, u3 = (c.get_unique_name() for c in (c1, c2, c3))
    cols = [Collector(c) for c in (c1, c2, c3, watch)]
    for c in (c1, c2, c3, watch):
        c.add_match_string("type='signal',sender='org.freedesktop.DBus',"
                           "member='NameOwnerChanged',arg0='%s'" % name)
    B = dbus.bus

    ok(c1.request_name(name, B.NAME_FLAG_DO_NOT_QUEUE) == B.REQUEST_NAME_REPLY_PRIMARY_OWNER,
       "RequestName on a free name: PRIMARY_OWNER")
    ok(c1.request_name(name, 0) == B.REQUEST_NAME_REPLY_ALREADY_OWNER,
       "RequestName again by the owner: ALREADY_OWNER")
    ok(c2.request_name(name, B.NAME_FLAG_DO_NOT_QUEUE) == B.REQUEST_NAME_REPLY_EXISTS,
       "RequestName DO_NOT_QUEUE on an owned name: EXISTS")
    ok(c2.request_name(name, 0) == B.REQUEST_NAME_REPLY_IN_QUEUE,
       "RequestName without flags on an owned name: IN_QUEUE")
    ok(c3.request_name(name, 0) == B.REQUEST_NAME_REPLY_IN_QUEUE,
       "a second queued request: IN_QUEUE")
    drv = c1.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus")
    queued = [str(x) for x in drv.ListQueuedOwners(name, dbus_interface="org.freedesktop.DBus")]
    ok(queued == [u1, u2, u3], "ListQueuedOwners: owner, then the queue in request order", queued)

    # REPLACE_EXISTING against an owner that did not allow replacement is
    # queued, and (as dbus-daemon does it) ahead of the plain queued requests
    qname = "com.example.Queue"
    c1.request_name(qname, 0)
    c2.request_name(qname, 0)
    ok(c3.request_name(qname, B.NAME_FLAG_REPLACE_EXISTING) == B.REQUEST_NAME_REPLY_IN_QUEUE,
       "REPLACE_EXISTING when the owner did not allow replacement: IN_QUEUE")
    queued = [str(x) for x in drv.ListQueuedOwners(qname, dbus_interface="org.freedesktop.DBus")]
    ok(queued == [u1, u3, u2], "a queued REPLACE_EXISTING request goes first in the queue", queued)
    ok(c2.release_name(qname) == B.RELEASE_NAME_REPLY_RELEASED
       and [str(x) for x in drv.ListQueuedOwners(qname, dbus_interface="org.freedesktop.DBus")]
       == [u1, u3], "ReleaseName by a queued connection: RELEASED, it leaves the queue")
    ok(c2.release_name(qname) == B.RELEASE_NAME_REPLY_NOT_OWNER,
       "ReleaseName of a name owned by another: NOT_OWNER")
    ok(c1.release_name("com.example.NotMine") == B.RELEASE_NAME_REPLY_NON_EXISTENT,
       "ReleaseName of a name nobody owns: NON_EXISTENT")
    try:
        c2.release_name("org.freedesktop.DBus")
        ok(False, "ReleaseName of the driver's name fails")
    except dbus.exceptions.DBusException as e:
        ok(e.get_dbus_name() == "org.freedesktop.DBus.Error.InvalidArgs",
           "ReleaseName of the driver's name: InvalidArgs", e)
    try:
        drv.RequestName(":1.9999", dbus.UInt32(0), dbus_interface="org.freedesktop.DBus")
        ok(False, "RequestName of a unique name fails")
    except dbus.exceptions.DBusException as e:
        ok(e.get_dbus_name() == "org.freedesktop.DBus.Error.InvalidArgs",
           "RequestName of a unique name: InvalidArgs", e)

    ok(c1.release_name(name) == B.RELEASE_NAME_REPLY_RELEASED, "owner ReleaseName: RELEASED")
    c3.get_name_owner("org.freedesktop.DBus")  # a round trip on each: signals queued
    poll(lambda: driver_signals(cols[3], name))
    ok(c3.get_name_owner(name) == u2, "the first in the queue became owner")

    poll(lambda: len(driver_signals(cols[0], name)) >= 4 and len(driver_signals(cols[1], name)) >= 3
         and len(driver_signals(cols[3], name)) >= 2)
    s1 = driver_signals(cols[0], name)
    s2 = driver_signals(cols[1], name)
    sw = driver_signals(cols[3], name)
    noc_first = ("NameOwnerChanged", (name, "", u1))
    noc = ("NameOwnerChanged", (name, u1, u2))
    ok(s1 == [noc_first, ("NameAcquired", (name,)), ("NameLost", (name,)), noc],
       "old owner sees NameOwnerChanged, NameAcquired, then NameLost before NameOwnerChanged", s1)
    ok(s2 == [noc_first, noc, ("NameAcquired", (name,))],
       "new owner sees NameOwnerChanged before its NameAcquired", s2)
    ok(sw == [noc_first, noc], "a watcher sees both NameOwnerChanged, nothing else", sw)

    # the owner disconnects: the queue moves on
    c2.close()
    poll(lambda: len(driver_signals(cols[2], name)) >= 3)
    s3 = driver_signals(cols[2], name)
    ok(s3[-2:] == [("NameOwnerChanged", (name, u2, u3)), ("NameAcquired", (name,))],
       "owner disconnects: next in queue gets NameOwnerChanged then NameAcquired", s3)
    ok(watch.get_name_owner(name) == u3, "GetNameOwner follows the queue after a disconnect")

    # ALLOW_REPLACEMENT + REPLACE_EXISTING: immediate hand-over, old owner queued
    rname = "com.example.Replaceable"
    ok(c1.request_name(rname, B.NAME_FLAG_ALLOW_REPLACEMENT) == B.REQUEST_NAME_REPLY_PRIMARY_OWNER,
       "RequestName ALLOW_REPLACEMENT: PRIMARY_OWNER")
    ok(c3.request_name(rname, B.NAME_FLAG_REPLACE_EXISTING) == B.REQUEST_NAME_REPLY_PRIMARY_OWNER,
       "REPLACE_EXISTING of a replaceable owner: PRIMARY_OWNER")
    queued = [str(x) for x in drv.ListQueuedOwners(rname, dbus_interface="org.freedesktop.DBus")]
    ok(queued == [u3, u1], "replaced owner (no DO_NOT_QUEUE) is queued behind the new one", queued)
    c1.get_name_owner("org.freedesktop.DBus")
    ok(poll(lambda: ("NameLost", (rname,)) in driver_signals(cols[0], rname)),
       "replaced owner gets NameLost")
    ok(c1.request_name("com.example.Gone", B.NAME_FLAG_ALLOW_REPLACEMENT
                       | B.NAME_FLAG_DO_NOT_QUEUE) == B.REQUEST_NAME_REPLY_PRIMARY_OWNER
       and c3.request_name("com.example.Gone", B.NAME_FLAG_REPLACE_EXISTING)
       == B.REQUEST_NAME_REPLY_PRIMARY_OWNER
       and [str(x) for x in drv.ListQueuedOwners("com.example.Gone",
                                                 dbus_interface="org.freedesktop.DBus")] == [u3],
       "replaced owner with DO_NOT_QUEUE leaves the queue")
    for c in (c1, c3, watch):
        c.close()


def test_name_races(address):
    """Many connections ask for one name at the same time."""
    B = dbus.bus
    watch = connect(address)
    col = Collector(watch)
    conns = [connect(address) for _ in range(10)]
    uniques = [c.get_unique_name() for c in conns]
    drv = dbus.Interface(watch.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus"),
                         "org.freedesktop.DBus")

    for name, flags in (("com.example.Race", B.NAME_FLAG_DO_NOT_QUEUE),
                        ("com.example.RaceQueue", 0)):
        watch.add_match_string("type='signal',member='NameOwnerChanged',arg0='%s'" % name)
        replies = {}
        for i, c in enumerate(conns):  # all sent before any reply is read
            c.call_async("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                         "RequestName", "su", (name, flags),
                         lambda r, i=i: replies.__setitem__(i, int(r)),
                         lambda e, i=i: replies.__setitem__(i, e))
        poll(lambda: len(replies) == len(conns))
        winners = [i for i, r in replies.items() if r == B.REQUEST_NAME_REPLY_PRIMARY_OWNER]
        loser = B.REQUEST_NAME_REPLY_EXISTS if flags else B.REQUEST_NAME_REPLY_IN_QUEUE
        ok(len(replies) == len(conns) and len(winners) == 1
           and all(r == loser for i, r in replies.items() if i != winners[0]),
           "%s race: one PRIMARY_OWNER, %d %s" % (name, len(conns) - 1,
                                                  "EXISTS" if flags else "IN_QUEUE"), replies)
        if len(winners) != 1:
            continue
        w = uniques[winners[0]]
        ok(watch.get_name_owner(name) == w, "%s race: GetNameOwner is the winner" % name)
        poll(lambda: driver_signals(col, name))
        ok(driver_signals(col, name) == [("NameOwnerChanged", (name, "", w))],
           "%s race: exactly one NameOwnerChanged, to the winner" % name, col.msgs)
        if flags:
            continue
        queue = [str(x) for x in drv.ListQueuedOwners(name)]
        ok(queue[0] == w and sorted(queue) == sorted(uniques),
           "%s race: every connection queued exactly once, winner first" % name, queue)
        # hand the name down the queue: owners follow the queue's order
        col.msgs.clear()
        for u in queue:
            conns[uniques.index(u)].release_name(name)
        watch.get_name_owner("org.freedesktop.DBus")
        poll(lambda: len(driver_signals(col, name)) >= len(queue))
        chain = [m[1] for m in driver_signals(col, name)]
        want = [(name, queue[i], queue[i + 1] if i + 1 < len(queue) else "")
                for i in range(len(queue))]
        ok(chain == want, "%s: releases hand the name down the queue in order" % name, chain)
    for c in conns + [watch]:
        c.close()


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--service":
        service_main(sys.argv[2])
        return 0
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)

    def watchdog(*_):
        print("Bail out! test-python.py still running after %d s" % WATCHDOG)
        sys.stdout.flush()
        os._exit(1)  # the bus shell sees EOF on its stdin and stops the broker
    signal.signal(signal.SIGALRM, watchdog)
    signal.alarm(WATCHDOG)
    bus, address = bus_start()
    try:
        for t in (test_methods, test_matches, test_names, test_name_races):
            try:
                t(address)
            except Exception as e:  # a crash in one group fails it, the next ones run
                ok(False, "%s raised %r" % (t.__name__, e))
    finally:
        bus_stop(bus)
    print("1..%d" % n_tests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
