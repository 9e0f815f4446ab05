#!/usr/bin/python3
"""
The bus driver's answers to odd arguments, on dbus-daemon and on bus1-dbus:
the same calls on each, the same outcome expected of each (what
dbus-daemon 1.14.10 does, observed; dbus-broker 33 answers the same except
where noted).

 - name queries (NameHasOwner, GetNameOwner, ListQueuedOwners, the
   GetConnection* credential calls) do not validate the name: one that is
   not a bus name simply has no owner (NameHasOwner false, NameHasNoOwner);
 - StartServiceByName of a name no .service file provides is
   ServiceUnknown, whether or not it is owned (a unique name, the driver's
   own name, an owned well-known name, an invalid name); a provided name
   that is owned is "already running" (2);
 - GetConnectionStats of the driver is InvalidArgs;
 - org.freedesktop.DBus.Properties knows every interface the driver
   implements: GetAll of one without properties is an empty dict, Get and
   Set of a property it lacks UnknownProperty; an unknown or empty interface
   is UnknownInterface (dbus-broker: UnknownInterface for all but
   org.freedesktop.DBus);
 - UpdateActivationEnvironment with an empty variable name or one with '='
   succeeds (bus1-dbus leaves such a variable out of the environment and
   logs it: doc/compatibility.md);
 - Debug.Stats: GetStats and GetConnectionStats have dbus-daemon's keys
   (but for its allocator's ListMemPool* figures) and, for a scripted
   connection, its counts: unique names count as bus names, peaks are the
   most there ever were, "Serial" counts the calls of each method;
   GetAllMatchRules lists connections without rules too;
 - AddMatch, RemoveMatch and BecomeMonitor refuse a bad rule with
   dbus-daemon's text, which names the key or value at fault (compared
   without the trailing newline some of dbus-daemon's texts have);
 - BecomeMonitor with flags: InvalidArgs, dbus-daemon's text;
 - Properties, Monitoring and Debug.Stats exist only on
   /org/freedesktop/DBus: elsewhere UnknownInterface, "org.freedesktop.DBus
   does not understand message M";
 - eavesdropping (an AddMatch rule with eavesdrop='true'): calls to the
   driver are seen once it handled them, but not those it answered with an
   error; the driver's replies and errors to one connection are not seen
   (monitors see all of it);
 - Introspect: on /org/freedesktop/DBus every interface of the driver, in
   dbus-daemon's order; on any other path only org.freedesktop.DBus,
   Introspectable and Peer, and on an ancestor of /org/freedesktop/DBus a
   child node leading there; `--introspect` prints dbus-daemon's text
   byte for byte (the canonical path's data and an empty line).

Prints TAP; SKIP when python3-dbus is missing.
"""

import difflib
import os
import shutil
import subprocess
import sys
import tempfile
from xml.etree import ElementTree

from daemons import ALLOW_ALL, Bus, Tap, brokers

try:
    import dbus
    import dbus.lowlevel
except ImportError:
    print("1..0 # SKIP python3-dbus not installed")
    sys.exit(0)

D = "org.freedesktop.DBus"
P = "/org/freedesktop/DBus"
PROPS = "org.freedesktop.DBus.Properties"
ERR = "org.freedesktop.DBus.Error."
OWNED = "org.example.Owned"
SERVICE = "org.example.Provided"


def outcome(conn, iface, member, sig="", args=()):
    """'error NAME' or 'reply SIG VALUES' of one driver call."""
    m = dbus.lowlevel.MethodCallMessage(D, P, iface, member)
    if sig:
        m.append(*args, signature=sig)
    try:
        r = conn.send_message_with_reply_and_block(m, 5)
    except dbus.exceptions.DBusException as e:
        return "error " + e.get_dbus_name()
    values = []
    for v in r.get_args_list():
        if isinstance(v, (dbus.Boolean, dbus.UInt32)):
            values.append(int(v))
        elif isinstance(v, dbus.Dictionary):
            values.append(sorted(str(k) for k in v))
        else:
            values.append(str(v))
    return "reply %s %r" % (r.get_signature(), values)


def cases(own_unique):
    """(description, call, expected outcome)"""
    bad = "bad..name"
    c = []
    c.append(("NameHasOwner of an invalid name", (D, "NameHasOwner", "s", (bad,)), "reply b [0]"))
    c.append(("NameHasOwner of \"\"", (D, "NameHasOwner", "s", ("",)), "reply b [0]"))
    c.append(("NameHasOwner of an owned name", (D, "NameHasOwner", "s", (OWNED,)), "reply b [1]"))
    for member in ("GetNameOwner", "ListQueuedOwners", "GetConnectionUnixUser", "GetConnectionUnixProcessID",
                   "GetConnectionCredentials", "GetAdtAuditSessionData", "GetConnectionSELinuxSecurityContext"):
        c.append(("%s of an invalid name" % member, (D, member, "s", (bad,)), "error " + ERR + "NameHasNoOwner"))
    c.append(("GetNameOwner of \"\"", (D, "GetNameOwner", "s", ("",)), "error " + ERR + "NameHasNoOwner"))
    for label, name in (("its own unique name", own_unique), ("the driver's name", D),
                        ("an owned name without a .service file", OWNED), ("an invalid name", bad),
                        ("\"\"", "")):
        c.append(("StartServiceByName of %s" % label, (D, "StartServiceByName", "su", (name, 0)),
                  "error " + ERR + "ServiceUnknown"))
    c.append(("StartServiceByName of a provided name that is owned", (D, "StartServiceByName", "su", (SERVICE, 0)),
              "reply u [2]"))
    c.append(("GetConnectionStats of the driver",
              ("org.freedesktop.DBus.Debug.Stats", "GetConnectionStats", "s", (D,)), "error " + ERR + "InvalidArgs"))
    c.append(("Properties.GetAll of org.freedesktop.DBus", (PROPS, "GetAll", "s", (D,)),
              "reply a{sv} [['Features', 'Interfaces']]"))
    for iface in ("org.freedesktop.DBus.Peer", "org.freedesktop.DBus.Introspectable", PROPS,
                  "org.freedesktop.DBus.Monitoring", "org.freedesktop.DBus.Debug.Stats"):
        c.append(("Properties.GetAll of %s" % iface, (PROPS, "GetAll", "s", (iface,)), "reply a{sv} [[]]"))
        c.append(("Properties.Get of %s.Features" % iface, (PROPS, "Get", "ss", (iface, "Features")),
                  "error " + ERR + "UnknownProperty"))
        c.append(("Properties.Set of %s.X" % iface,
                  (PROPS, "Set", "ssv", (iface, "X", dbus.String("v", variant_level=1))),
                  "error " + ERR + "UnknownProperty"))
    for label, iface in (("\"\"", ""), ("an unknown interface", "org.example.Nope")):
        c.append(("Properties.GetAll of %s" % label, (PROPS, "GetAll", "s", (iface,)),
                  "error " + ERR + "UnknownInterface"))
        c.append(("Properties.Get of %s" % label, (PROPS, "Get", "ss", (iface, "Features")),
                  "error " + ERR + "UnknownInterface"))
    c.append(("Properties.Set of org.freedesktop.DBus.Features",
              (PROPS, "Set", "ssv", (D, "Features", dbus.String("v", variant_level=1))),
              "error " + ERR + "PropertyReadOnly"))
    for label, key in (("an empty variable name", ""), ("a variable name with '='", "A=B")):
        c.append(("UpdateActivationEnvironment with %s" % label,
                  (D, "UpdateActivationEnvironment", "a{ss}", ({key: "v"},)), "reply  []"))
    return c


RULE_ERRORS = [
    ("AddMatch", "type='bogus'", "Invalid message type (bogus) in match rule"),
    ("AddMatch", "sender='bad..'", "Sender name 'bad..' is invalid"),
    ("AddMatch", "frob='x'", 'Unknown key "frob" in match rule'),
    ("AddMatch", "arg64='x'", "Key 'arg64' in match rule has arg number 64 but the maximum is 63."),
    ("RemoveMatch", "path='/a/'", "Path '/a/' is invalid"),
    ("RemoveMatch", "eavesdrop='maybe'", "eavesdrop='maybe' is invalid, it should be 'true' or 'false'"),
]


def rule_error(conn, method, rule):
    """The error message of @method with the bad @rule (BecomeMonitor: as its only rule)."""
    try:
        if method == "BecomeMonitor":
            conn.call_blocking(D, P, "org.freedesktop.DBus.Monitoring", method, "asu", [[rule], 0])
        else:
            conn.call_blocking(D, P, D, method, "s", [rule])
    except dbus.exceptions.DBusException as e:
        return e.get_dbus_message().rstrip("\n")
    return "accepted"


INTROSPECTION = [
    ("/org/freedesktop/DBus", ["org.freedesktop.DBus", PROPS, "org.freedesktop.DBus.Introspectable",
                               "org.freedesktop.DBus.Monitoring", "org.freedesktop.DBus.Debug.Stats",
                               "org.freedesktop.DBus.Peer"], []),
    ("/", ["org.freedesktop.DBus", "org.freedesktop.DBus.Introspectable", "org.freedesktop.DBus.Peer"],
     ["org/freedesktop/DBus"]),
    ("/org", ["org.freedesktop.DBus", "org.freedesktop.DBus.Introspectable", "org.freedesktop.DBus.Peer"],
     ["freedesktop/DBus"]),
    ("/org/freedesktop", ["org.freedesktop.DBus", "org.freedesktop.DBus.Introspectable",
                          "org.freedesktop.DBus.Peer"], ["DBus"]),
    ("/org/freedesktop/DBus/x", ["org.freedesktop.DBus", "org.freedesktop.DBus.Introspectable",
                                 "org.freedesktop.DBus.Peer"], []),
    ("/org/freedesktop/DBu", ["org.freedesktop.DBus", "org.freedesktop.DBus.Introspectable",
                              "org.freedesktop.DBus.Peer"], []),
]


def introspection(conn, path):
    """(interfaces, child nodes) of the driver's Introspect on @path."""
    xml = str(conn.call_blocking(D, path, "org.freedesktop.DBus.Introspectable", "Introspect", "", []))
    root = ElementTree.fromstring(xml)
    return ([i.get("name") for i in root.findall("interface")], [n.get("name") for n in root.findall("node")])


STATS = "org.freedesktop.DBus.Debug.Stats"


def eavesdrop_checks(tap, label, address):
    """What an eavesdropper (raw client) sees of a call to the driver and of the driver's error."""
    import bustest
    e = bustest.Conn(address)
    a = bustest.Conn(address)
    e.call(*bustest.DRIVER, "AddMatch", "s", ["eavesdrop='true'"])
    e.drain(0)
    a.call(*bustest.DRIVER, "GetNameOwner", "s", ["org.example.Nobody"])
    a.call(*bustest.DRIVER, "GetId")
    e.ping()
    seen = [(m.type, m.member or m.error_name) for m in e.drain(0.2) if m.type != bustest.METHOD_RETURN]
    calls = [x[1] for x in seen if x[0] == bustest.METHOD_CALL]
    # dbus-daemon drops a call the driver answered with an error with its transaction; the
    # eavesdropper's own GetId (ping) counts too, handled before it is copied
    tap.ok(calls == ["GetId", "GetId"], "%s: an eavesdropper sees the driver's successful calls only" % label, seen)
    tap.ok(not [x for x in seen if x[0] == bustest.ERROR],
           "%s: ... but not the driver's error to the caller" % label, seen)
    e.close()
    a.close()


def plain(d):
    return {str(k): (str(v) if isinstance(v, dbus.String) else int(v)) for k, v in d.items()}


def stats_checks(tap, label, binary):
    """A fresh bus: one connection with a scripted history, one idle."""
    bus = Bus(binary, ALLOW_ALL)
    if bus.address is None:
        tap.ok(False, "%s: stats bus starts" % label, bus.stderr())
        return
    c = dbus.bus.BusConnection(bus.address)
    me = c.get_unique_name()
    c.request_name("org.example.A")
    c.request_name("org.example.B")
    c.release_name("org.example.B")
    c.add_match_string("type='signal',member='X'")
    c.add_match_string("type='signal',member='Y'")
    c.add_match_string("type='signal',member='Z'")
    c.remove_match_string("type='signal',member='Z'")
    idle = dbus.bus.BusConnection(bus.address)
    idle_name = idle.get_unique_name()
    got = [plain(c.call_blocking(D, P, STATS, "GetStats", "", [])) for _ in range(2)]
    want = {"Serial": 0, "ActiveConnections": 2, "IncompleteConnections": 0, "MatchRules": 2,
            "PeakMatchRules": 3, "PeakMatchRulesPerConnection": 3, "BusNames": 3, "PeakBusNames": 3,
            "PeakBusNamesPerConnection": 3}
    got[0] = {k: v for k, v in got[0].items() if not k.startswith("ListMemPool")}
    tap.ok(got[0] == want, "%s: GetStats: %s" % (label, want), got[0])
    tap.ok(got[1].get("Serial") == 1, "%s: ... Serial counts the GetStats calls" % label, got[1])
    cs = plain(c.call_blocking(D, P, STATS, "GetConnectionStats", "s", [me]))
    fixed = {k: cs.get(k) for k in ("Serial", "UniqueName", "BusNames", "PeakBusNames", "MatchRules",
                                    "PeakMatchRules", "IncomingFDs", "OutgoingMessages", "OutgoingBytes",
                                    "OutgoingFDs", "PeakIncomingFDs", "PeakOutgoingFDs")}
    want = {"Serial": 0, "UniqueName": me, "BusNames": 2, "PeakBusNames": 3, "MatchRules": 2,
            "PeakMatchRules": 3, "IncomingFDs": 0, "OutgoingMessages": 0, "OutgoingBytes": 0, "OutgoingFDs": 0,
            "PeakIncomingFDs": 0, "PeakOutgoingFDs": 0}
    tap.ok(fixed == want, "%s: GetConnectionStats of a scripted connection: %s" % (label, want), cs)
    tap.ok(set(cs) == {"Serial", "UniqueName", "BusNames", "PeakBusNames", "MatchRules", "PeakMatchRules",
                       "IncomingMessages", "IncomingBytes", "IncomingFDs", "PeakIncomingBytes", "PeakIncomingFDs",
                       "OutgoingMessages", "OutgoingBytes", "OutgoingFDs", "PeakOutgoingBytes", "PeakOutgoingFDs"},
           "%s: ... with every key of dbus-daemon's" % label, sorted(cs))
    tap.ok(cs.get("IncomingBytes", 0) > 0 and cs.get("PeakIncomingBytes", 0) >= cs.get("IncomingBytes", 0)
           and cs.get("PeakOutgoingBytes", 0) > 0,
           "%s: ... the call itself is incoming, replies went out before" % label, cs)
    rules = {str(k): [str(r) for r in v] for k, v in c.call_blocking(D, P, STATS, "GetAllMatchRules", "", []).items()}
    want = {me: ["type='signal',member='X'", "type='signal',member='Y'"], idle_name: []}
    tap.ok(rules == want, "%s: GetAllMatchRules lists the idle connection too" % label, rules)
    c.close()
    idle.close()
    bus.stop()


def main():
    tap = Tap()
    found = brokers()
    if not found:
        print("1..0 # SKIP no broker found")
        return 0
    servicedir = tempfile.mkdtemp(prefix="bus1-test-driver-")
    with open(os.path.join(servicedir, SERVICE + ".service"), "w") as f:
        f.write("[D-BUS Service]\nName=%s\nExec=/bin/false\n" % SERVICE)
    for label, binary in found:
        bus = Bus(binary, ALLOW_ALL + "\n  <servicedir>%s</servicedir>" % servicedir)
        if not tap.ok(bus.address is not None, "%s: starts" % label, bus.stderr()):
            bus.stop()
            continue
        conn = dbus.bus.BusConnection(bus.address)
        owner = dbus.bus.BusConnection(bus.address)
        owner.request_name(OWNED)
        owner.request_name(SERVICE)
        for desc, call, want in cases(conn.get_unique_name()):
            got = outcome(conn, *call)
            tap.ok(got == want, "%s: %s: %s" % (label, desc, want), "got %s" % got)
        for method, rule, want in RULE_ERRORS + [("BecomeMonitor", "member='a.b'", "Member name 'a.b' is invalid")]:
            got = rule_error(conn, method, rule)
            tap.ok(got == want, "%s: %s(\"%s\"): %s" % (label, method, rule, want), got)
        for iface, member, sig, args in ((PROPS, "GetAll", "s", [D]), (STATS, "GetStats", "", []),
                                         ("org.freedesktop.DBus.Monitoring", "BecomeMonitor", "asu", [[], 0])):
            try:
                conn.call_blocking(D, "/", iface, member, sig, args)
                got = "accepted"
            except dbus.exceptions.DBusException as e:
                got = "%s: %s" % (e.get_dbus_name(), e.get_dbus_message())
            want = "%sUnknownInterface: org.freedesktop.DBus does not understand message %s" % (ERR, member)
            tap.ok(got == want, "%s: %s.%s on /: %s" % (label, iface, member, want), got)
        try:
            conn.call_blocking(D, P, "org.freedesktop.DBus.Monitoring", "BecomeMonitor", "asu", [[], 1])
            got = "accepted"
        except dbus.exceptions.DBusException as e:
            got = "%s: %s" % (e.get_dbus_name(), e.get_dbus_message())
        want = ERR + "InvalidArgs: BecomeMonitor does not support any flags yet"
        tap.ok(got == want, "%s: BecomeMonitor with flags 1: %s" % (label, want), got)
        for path, ifaces, nodes in INTROSPECTION:
            got = introspection(conn, path)
            tap.ok(got == (ifaces, nodes), "%s: Introspect %s: %s, nodes %s" % (label, path, ifaces, nodes),
                   "got %s" % (got,))
        conn.close()
        owner.close()
        eavesdrop_checks(tap, label, bus.address)
        stats_checks(tap, label, binary)
        if label == "bus1-dbus":
            tap.ok("not a valid variable name" in bus.stderr(),
                   "%s: ... and the left-out variable names are logged" % label, bus.stderr())
        bus.stop()
    shutil.rmtree(servicedir, ignore_errors=True)
    texts = {label: subprocess.run([binary, "--introspect"], capture_output=True, timeout=10).stdout
             for label, binary in found}
    for label in texts:
        if label != "dbus-daemon" and "dbus-daemon" in texts:
            tap.ok(texts[label] == texts["dbus-daemon"], "%s: --introspect prints what dbus-daemon prints" % label,
                   "\n".join(difflib.unified_diff(texts["dbus-daemon"].decode().splitlines(),
                                                  texts[label].decode().splitlines(), lineterm="")))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
