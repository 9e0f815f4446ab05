#!/usr/bin/python3
#
# Match semantics against the real dbus-daemon. Random match rules (every
# key, eavesdropping included), one per connection, are added on a private
# dbus-daemon; a sender that owns two well-known names (and only waits for a
# third) sends random broadcast signals, unicast signals and method calls to
# a target; every rule connection records what dbus-daemon delivered to it.
# test-match-replay evaluates the same rules on the same message descriptions with
# match_rule_matches(); both must agree on every (rule, message) pair.
#
# TAP output; SKIP when dbus-daemon, python3-dbus or python3-gi is missing.

import os
import random
import subprocess
import sys

N_RULES = 150
N_MESSAGES = 80


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
        import dbus.lowlevel
        import dbus.mainloop.glib
        from gi.repository import GLib
    except ImportError as e:
        print("1..0 # SKIP python3-dbus/python3-gi missing: %s" % e)
        return 0
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

        def connect():
            c = dbus.bus.BusConnection(address)
            return c, dbus.Interface(c.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus"),
                                     "org.freedesktop.DBus")

        target, tdrv = connect()
        sender, sdrv = connect()
        assert tdrv.RequestName("org.mx.T", dbus.UInt32(0)) == 1
        assert tdrv.RequestName("org.mx.Q", dbus.UInt32(0)) == 1
        assert sdrv.RequestName("org.mx.S1", dbus.UInt32(0)) == 1
        assert sdrv.RequestName("org.mx.S2", dbus.UInt32(0)) == 1
        assert sdrv.RequestName("org.mx.Q", dbus.UInt32(0)) == 2   # waits only
        s_unique = str(sender.get_unique_name())
        t_unique = str(target.get_unique_name())
        sender_names = [s_unique, "org.mx.S1", "org.mx.S2"]
        target_names = [t_unique, "org.mx.T", "org.mx.Q"]

        rng = random.Random(777)
        names = [s_unique, "org.mx.S1", "org.mx.S2", "org.mx.Q", t_unique, "org.mx.T", ":1.9999",
                 "org.freedesktop.DBus"]
        ifaces = ["org.mx.I1", "org.mx.I2"]
        members = ["A", "B"]
        paths = ["/", "/a", "/a/b", "/b"]
        argvals = ["", "a", "a.b", "a.b.c", "/a", "/a/", "/a/b", "x"]

        def q(v):
            return "'" + v.replace("'", "'\\''") + "'"

        rules = []
        for _ in range(N_RULES):
            keys = []
            if rng.random() < 0.5:
                keys.append("type=" + rng.choice(["signal", "signal", "method_call", "error"]))
            if rng.random() < 0.35:
                keys.append("sender=" + rng.choice(names))
            if rng.random() < 0.35:
                keys.append("interface=" + rng.choice(ifaces))
            if rng.random() < 0.35:
                keys.append("member=" + rng.choice(members))
            r = rng.random()
            if r < 0.25:
                keys.append("path=" + rng.choice(paths))
            elif r < 0.5:
                keys.append("path_namespace=" + rng.choice(paths))
            if rng.random() < 0.25:
                keys.append("destination=" + rng.choice(names))
            if rng.random() < 0.4:
                keys.append("eavesdrop=true")
            r = rng.random()
            if r < 0.2:
                keys.append("arg0=" + q(rng.choice(argvals)))
            elif r < 0.4:
                keys.append("arg0path=" + q(rng.choice(argvals)))
            elif r < 0.5:
                keys.append("arg0namespace=" + rng.choice(["a", "a.b", "x"]))
            if rng.random() < 0.3:
                keys.append("arg%d%s=%s" % (rng.randrange(1, 3), rng.choice(["", "path"]), q(rng.choice(argvals))))
            rules.append(",".join(keys))

        received = []
        for text in rules:
            c, drv = connect()
            got = set()

            def filt(conn, msg, got=got):
                if msg.get_sender() == s_unique:
                    got.add(msg.get_serial())
                return dbus.lowlevel.HANDLER_RESULT_HANDLED

            c.add_message_filter(filt)
            drv.AddMatch(text)
            received.append((c, drv, got))

        messages = []
        for _ in range(N_MESSAGES):
            kind = rng.choice(["signal", "signal", "unicast", "call"])
            path, member = rng.choice(paths), rng.choice(members)
            iface = rng.choice(ifaces)
            args = [rng.choice(["s:" + rng.choice(argvals), "o:" + rng.choice(["/a", "/a/b", "/"]), "i:5"])
                    for _ in range(rng.randrange(4))]
            dest = None
            if kind == "signal":
                m = dbus.lowlevel.SignalMessage(path, iface, member)
            elif kind == "unicast":
                dest = rng.choice(["org.mx.T", t_unique, "org.mx.Q"])
                m = dbus.lowlevel.SignalMessage(path, iface, member)
                m.set_destination(dest)
            else:
                dest = rng.choice(["org.mx.T", t_unique])
                if rng.random() < 0.3:
                    iface = None
                m = dbus.lowlevel.MethodCallMessage(dest, path, iface, member)
                m.set_no_reply(True)
            for a in args:
                if a[0] == "s":
                    m.append(a[2:], signature="s")
                elif a[0] == "o":
                    m.append(dbus.ObjectPath(a[2:]), signature="o")
                else:
                    m.append(5, signature="i")
            serial = sender.send_message(m)
            mtype = 4 if kind != "call" else 1
            desc = ["msg", str(mtype), ",".join(sender_names), iface or "-", member, path, dest or "-",
                    ",".join(target_names) if dest else "-"] + args
            messages.append((serial, "%s %s %s" % (kind, dest or "", args), "\t".join(desc)))

        # dbus-daemon has routed everything the sender sent once it answers;
        # each receiver has it queued before the answer to its own call.
        sdrv.GetId()
        for c, drv, got in received:
            drv.GetId()
        ctx = GLib.MainContext.default()
        while ctx.iteration(False):
            pass

        script = "".join("rule\t%s\n" % t for t in rules) + "".join(d + "\n" for _, _, d in messages)
        matrix = subprocess.run([os.path.join(builddir, "test/dbus-proxy/test-match-replay")], input=script,
                                check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout.splitlines()

        print("1..%d" % (len(messages) + 1))
        failed = 0
        deliveries = 0
        for i, (serial, what, _) in enumerate(messages):
            diffs = []
            for k, (c, drv, got) in enumerate(received):
                theirs = serial in got
                ours = matrix[i][k] == "1"
                deliveries += theirs
                if theirs != ours:
                    diffs.append("rule %r: dbus-daemon %s, ours %s" % (rules[k], theirs, ours))
            failed += bool(diffs)
            print("%s %d - %s: %d receivers%s" % ("not ok" if diffs else "ok", i + 1, what,
                                                  matrix[i].count("1"), "".join("\n# " + d for d in diffs)))
        ok = deliveries > 100
        failed += not ok
        print("%s %d - enough deliveries to mean something (%d)" % ("ok" if ok else "not ok", len(messages) + 1,
                                                                     deliveries))
        return 1 if failed else 0
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    sys.exit(main())
