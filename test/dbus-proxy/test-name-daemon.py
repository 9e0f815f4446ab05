#!/usr/bin/python3
#
# The name registry (dbus-proxy/name.c, driven through test-name-replay) against
# the real dbus-daemon: a random script of RequestName (every flag
# combination), ReleaseName and disconnects over a few connections and names
# runs on both. After every step the reply codes and every name's queue
# (ListQueuedOwners) must agree, and at the end the NameOwnerChanged
# signals a watching connection saw must be exactly the ownership changes our
# registry reported, in the same order.
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
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
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

        print("1..%d" % (len(script) + 1))
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
        return 1 if failed else 0
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    sys.exit(main())
