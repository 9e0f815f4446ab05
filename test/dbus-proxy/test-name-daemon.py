#!/usr/bin/python3
#
# The name registry (dbus-proxy/name.c, driven through test-name-replay) against
# the real dbus-daemon: a random script of RequestName (every flag
# combination), ReleaseName and disconnects over a few connections and names
# runs on both. After every step the reply codes and every name's queue
# (ListQueuedOwners) must agree, and at the end the NameOwnerChanged
# signals a watching connection saw must be exactly the ownership changes our
# registry reported, in the same order; and a monitor (BecomeMonitor) must
# have seen NameLost, NameOwnerChanged and NameAcquired in exactly the order
# name.h tells the broker to emit them for those changes.
#
# TAP output; SKIP when dbus-daemon, python3-dbus or python3-gi is missing.

import os
import random
import subprocess
import sys
import time

SLOTS = 5
NAMES = ["org.xcheck.a", "org.xcheck.b", "org.xcheck.c"]
STEPS = 400


def die_with_parent():
    """In the child: get SIGTERM when the test dies (PR_SET_PDEATHSIG)."""
    import ctypes
    import signal
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)


def main():
    builddir = os.environ.get("top_builddir", ".")
    daemon = os.environ.get("DBUS_DAEMON") or "dbus-daemon"
    try:
        import dbus
        import dbus.mainloop.glib
        from gi.repository import GLib
    except ImportError as e:
        print("1..0 # SKIP python3-dbus/python3-gi missing: %s" % e)
        return 0

    rng = random.Random(4242)
    script = []
    for _ in range(STEPS):
        op = rng.randrange(100)
        slot = rng.randrange(SLOTS)
        name = rng.choice(NAMES)
        if op < 65:
            script.append("req %d %s %d" % (slot, name, rng.randrange(8)))
        elif op < 92:
            script.append("rel %d %s" % (slot, name))
        else:
            script.append("drop %d" % slot)

    # Our side: each command's output, with a queue dump of every name after it.
    lines = []
    for cmd in script:
        lines.append(cmd)
        lines.extend("queue %s" % n for n in NAMES)
    out = subprocess.run([os.path.join(builddir, "test/dbus-proxy/test-name-replay")], input="\n".join(lines) + "\n",
                         check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout.splitlines()
    ours = []       # per step: (reply, [queues])
    our_changes = []
    it = iter(out)
    for _ in script:
        reply = int(next(it).split()[1])
        queues = []
        while True:
            line = next(it)
            if line.startswith("C "):
                _, n, old, new = line.split()
                our_changes.append((n, old, new))
                continue
            queues.append(line.split()[1:])
            if len(queues) == len(NAMES):
                break
        ours.append((reply, queues))

    try:
        proc = subprocess.Popen([daemon, "--session", "--nofork", "--print-address"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)
    except OSError as e:
        print("1..0 # SKIP cannot start %s: %s" % (daemon, e))
        return 0
    try:
        address = proc.stdout.readline().decode().strip()
        if not address:
            print("1..0 # SKIP %s printed no address" % daemon)
            return 0
        dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
        watcher = dbus.bus.BusConnection(address)
        wdriver = dbus.Interface(watcher.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus"),
                                 "org.freedesktop.DBus")
        seen = []
        watcher.add_signal_receiver(lambda n, old, new: seen.append((str(n), str(old), str(new))),
                                    signal_name="NameOwnerChanged", dbus_interface="org.freedesktop.DBus",
                                    bus_name="org.freedesktop.DBus")
        # A monitor sees every message in the bus's order, unicast ones too.
        monitor = dbus.bus.BusConnection(address)
        mon_seen = []
        mon_done = []

        def mon_filter(conn, msg):
            if msg.get_type() == 4 and msg.get_sender() == "org.freedesktop.DBus" and \
                    msg.get_member() in ("NameOwnerChanged", "NameAcquired", "NameLost"):
                args = [str(a) for a in msg.get_args_list()]
                if args and args[0] in NAMES:
                    mon_seen.append((str(msg.get_member()), args, str(msg.get_destination() or "")))
            elif msg.get_type() == 1 and msg.get_member() == "NameHasOwner" and \
                    msg.get_args_list() == ["org.xcheck.end"]:
                mon_done.append(True)
            return dbus.lowlevel.HANDLER_RESULT_HANDLED

        monitor.add_message_filter(mon_filter)
        monitor.call_blocking("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus.Monitoring",
                              "BecomeMonitor", "asu", ([], 0))
        slot_of = {}
        conns = [None] * SLOTS

        def connect(slot):
            c = dbus.bus.BusConnection(address)
            slot_of[str(c.get_unique_name())] = str(slot)
            conns[slot] = (c, dbus.Interface(c.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus"),
                                             "org.freedesktop.DBus"))

        for s in range(SLOTS):
            connect(s)

        def queue(name):
            try:
                return [slot_of[str(u)] for u in wdriver.ListQueuedOwners(name)]
            except dbus.exceptions.DBusException as e:
                if e.get_dbus_name() == "org.freedesktop.DBus.Error.NameHasNoOwner":
                    return []
                raise

        print("1..%d" % (len(script) + 2))
        failed = 0
        for i, cmd in enumerate(script):
            words = cmd.split()
            slot = int(words[1])
            c, drv = conns[slot]
            if words[0] == "req":
                reply = int(drv.RequestName(words[2], dbus.UInt32(int(words[3]))))
            elif words[0] == "rel":
                reply = int(drv.ReleaseName(words[2]))
            else:
                unique = str(c.get_unique_name())
                c.close()
                deadline = time.time() + 10
                while wdriver.NameHasOwner(unique) and time.time() < deadline:
                    time.sleep(0.001)
                connect(slot)
                reply = 0
            queues = [queue(n) for n in NAMES]
            ok = (reply, queues) == ours[i]
            failed += not ok
            print("%s %d - %s: dbus-daemon %r, ours %r" % ("ok" if ok else "not ok", i + 1, cmd,
                                                          (reply, queues), ours[i]))

        # Everything the watcher was sent is in before the reply to this call.
        wdriver.GetId()
        ctx = GLib.MainContext.default()
        while ctx.iteration(False):
            pass
        wdriver.NameHasOwner("org.xcheck.end")
        deadline = time.time() + 10
        while not mon_done and time.time() < deadline:
            ctx.iteration(True)

        theirs = [(n, slot_of.get(old, "-") if old else "-", slot_of.get(new, "-") if new else "-")
                  for n, old, new in seen if not n.startswith(":")]
        ok = theirs == our_changes and len(our_changes) > 0
        failed += not ok
        print("%s %d - NameOwnerChanged sequence (%d signals, %d changes)" % ("ok" if ok else "not ok",
                                                                           len(script) + 1, len(theirs),
                                                                           len(our_changes)))
        if not ok:
            for a, b in zip(theirs, our_changes):
                print("#   dbus-daemon %r ours %r%s" % (a, b, "" if a == b else "   <<<"))

        # The signal order name.h prescribes for each change: NameLost to the
        # old owner, NameOwnerChanged, NameAcquired to the new owner.
        expected = []
        for n, old, new in our_changes:
            if old != "-":
                expected.append(("NameLost", n, old))
            expected.append(("NameOwnerChanged", n, old, new))
            if new != "-":
                expected.append(("NameAcquired", n, new))
        got = []
        for member, args, dest in mon_seen:
            if member == "NameOwnerChanged":
                got.append((member, args[0], slot_of.get(args[1], "-") if args[1] else "-",
                            slot_of.get(args[2], "-") if args[2] else "-"))
            else:
                got.append((member, args[0], slot_of.get(dest, "?")))
        ok = bool(mon_done) and got == expected
        failed += not ok
        print("%s %d - NameLost/NameOwnerChanged/NameAcquired order seen by a monitor (%d signals, %d expected)"
              % ("ok" if ok else "not ok", len(script) + 2, len(got), len(expected)))
        if not ok:
            for a, b in zip(got, expected):
                print("#   dbus-daemon %r ours %r%s" % (a, b, "" if a == b else "   <<<"))
        return 1 if failed else 0
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    sys.exit(main())
