#!/usr/bin/python3
"""
Connecting, on dbus-daemon and on bus1-dbus: the same conversations on
each, the same outcome expected of each (what dbus-daemon 1.14.10 does,
observed). A line for dbus-daemon that fails means the expectation is
wrong; one for bus1-dbus that fails means we differ.

Authentication mechanisms, for every combination of <auth> and
<allow_anonymous/>, by a raw client:
 - "AUTH" lists what <auth> allows (all mechanisms without <auth>);
   dbus-daemon also offers DBUS_COOKIE_SHA1, which bus1-dbus does not
   (doc/compatibility.md), so that word is left out of the comparison;
 - "AUTH ANONYMOUS <trace>", then BEGIN and Hello: REJECTED when <auth>
   does not list ANONYMOUS; OK, then the connection is closed without a
   reply when <allow_anonymous/> is missing; OK and a Hello reply with it;
 - "AUTH EXTERNAL <our uid>", then BEGIN and Hello: REJECTED when <auth>
   does not list EXTERNAL, else OK and a Hello reply.
An anonymous connection (libdbus falls back to ANONYMOUS when only that is
offered) has no uid: GetConnectionUnixUser fails, GetConnectionCredentials
holds only its ProcessID, and <policy user="..."> rules for the user it
runs as do not apply to it (an EXTERNAL connection of the same user is
refused the name those rules deny).

A mechanism in <auth> that the bus does not know: it does not start (exit
status 1) and names the mechanism. DBUS_COOKIE_SHA1 is known to both.

Unique names: ":1.0" first, numbered at Hello, so connections that close
before Hello (after authenticating, or right after connecting) use no
number, and numbers are not reused after a disconnect.

Prints TAP; SKIP when python3-dbus or a broker is missing.
"""

import os
import pwd
import sys

from daemons import ALLOW_ALL, Bus, Tap, brokers, hello_message, reply_destination, sasl

try:
    import dbus
except ImportError:
    print("1..0 # SKIP python3-dbus not installed")
    sys.exit(0)

UID_HEX = str(os.getuid()).encode().hex().encode()
TRACE_HEX = b"test@example.org".hex().encode()

# (configuration, mechanisms listed, ANONYMOUS outcome, EXTERNAL outcome)
MECHANISMS = [
    ("", "EXTERNAL ANONYMOUS", "closed after OK", "hello"),
    ("<allow_anonymous/>", "EXTERNAL ANONYMOUS", "hello", "hello"),
    ("<auth>EXTERNAL</auth>", "EXTERNAL", "REJECTED EXTERNAL", "hello"),
    ("<auth>EXTERNAL</auth><allow_anonymous/>", "EXTERNAL", "REJECTED EXTERNAL", "hello"),
    ("<auth>ANONYMOUS</auth>", "ANONYMOUS", "closed after OK", "REJECTED ANONYMOUS"),
    ("<auth>ANONYMOUS</auth><allow_anonymous/>", "ANONYMOUS", "hello", "REJECTED ANONYMOUS"),
]


def listed(reply):
    """The mechanisms of a REJECTED line, without DBUS_COOKIE_SHA1."""
    words = reply.decode(errors="replace").split()
    if not words or words[0] != "REJECTED":
        return "not REJECTED: %r" % reply
    return " ".join(w for w in words[1:] if w != "DBUS_COOKIE_SHA1")


def login(path, mechanism):
    """AUTH <mechanism>, then BEGIN + Hello: the outcome in MECHANISMS' words."""
    ir = TRACE_HEX if mechanism == "ANONYMOUS" else UID_HEX
    replies, closed = sasl(path, [b"AUTH %s %s\r\n" % (mechanism.encode(), ir),
                                  b"BEGIN\r\n" + hello_message()])
    if not replies:
        return "no reply"
    first = replies[0].decode(errors="replace").strip()
    if first.startswith("REJECTED"):
        return "REJECTED " + listed(replies[0])
    if not first.startswith("OK "):
        return "unexpected %r" % first
    after = replies[1] if len(replies) > 1 else b""
    if not after and closed:
        return "closed after OK"
    name = reply_destination(after)
    return "hello" if name and name.startswith(":1.") else "OK, then %r (closed %s)" % (after[:64], closed)


def raw_hello(path):
    """A raw EXTERNAL login with Hello; the unique name the reply names."""
    replies, _ = sasl(path, [b"AUTH EXTERNAL %s\r\n" % UID_HEX, b"BEGIN\r\n" + hello_message()])
    return reply_destination(replies[1]) if len(replies) > 1 else None


def check_mechanisms(tap, label, binary):
    for body, mechs, anonymous, external in MECHANISMS:
        what = body or "no <auth>"
        bus = Bus(binary, ALLOW_ALL + body)
        if not tap.ok(bus.address is not None, "%s, %s: starts" % (label, what), bus.stderr()):
            bus.stop()
            continue
        replies, _ = sasl(bus.socket, [b"AUTH\r\n"])
        got = listed(replies[0]) if replies else "no reply"
        tap.ok(got == mechs, "%s, %s: AUTH lists %s" % (label, what, mechs), "got %r" % got)
        got = login(bus.socket, "ANONYMOUS")
        tap.ok(got == anonymous, "%s, %s: ANONYMOUS: %s" % (label, what, anonymous), "got %r" % got)
        got = login(bus.socket, "EXTERNAL")
        tap.ok(got == external, "%s, %s: EXTERNAL: %s" % (label, what, external), "got %r" % got)
        bus.stop()


def check_anonymous_identity(tap, label, binary):
    user = pwd.getpwuid(os.getuid()).pw_name
    body = ALLOW_ALL + '\n  <policy user="%s"><deny own="org.example.Denied"/></policy>' % user
    anon = Bus(binary, body + "<auth>ANONYMOUS</auth><allow_anonymous/>")
    ext = Bus(binary, body)
    try:
        c = dbus.bus.BusConnection(anon.address)
        me = c.get_unique_name()
        drv = dbus.Interface(c.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus"),
                             "org.freedesktop.DBus")
        try:
            got = "uid %d" % drv.GetConnectionUnixUser(me)
        except dbus.exceptions.DBusException as e:
            got = "%s: %s" % (e.get_dbus_name(), e.get_dbus_message())
        want = "org.freedesktop.DBus.Error.Failed: Could not determine UID for '%s'" % me
        tap.ok(got == want, "%s: anonymous: GetConnectionUnixUser fails" % label, "got %r" % got)
        creds = drv.GetConnectionCredentials(me)
        tap.ok(dict(creds) == {"ProcessID": os.getpid()},
               "%s: anonymous: GetConnectionCredentials holds only ProcessID" % label, repr(creds))
        r = c.request_name("org.example.Denied", dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
        tap.ok(r == dbus.bus.REQUEST_NAME_REPLY_PRIMARY_OWNER,
               "%s: anonymous: <policy user=\"%s\"> does not apply (owns the denied name)" % (label, user),
               "reply %r" % r)
        c.close()

        c = dbus.bus.BusConnection(ext.address)
        try:
            c.request_name("org.example.Denied", dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
            got = "owned"
        except dbus.exceptions.DBusException as e:
            got = e.get_dbus_name()
        tap.ok(got == "org.freedesktop.DBus.Error.AccessDenied",
               "%s: EXTERNAL as %s: the same name is denied" % (label, user), "got %r" % got)
        c.close()
    finally:
        anon.stop()
        ext.stop()


def check_unique_names(tap, label, binary):
    bus = Bus(binary)
    try:
        seq = []
        first = dbus.bus.BusConnection(bus.address)
        seq.append(first.get_unique_name())
        # authenticated, then gone without Hello
        sasl(bus.socket, [b"AUTH EXTERNAL %s\r\n" % UID_HEX, b"BEGIN\r\n"])
        # connected, then gone before authenticating
        sasl(bus.socket, [])
        seq.append(raw_hello(bus.socket))
        # rejected authentication
        sasl(bus.socket, [b"AUTH EXTERNAL %s\r\n" % b"99999".hex().encode()])
        first.close()
        c = dbus.bus.BusConnection(bus.address)
        seq.append(c.get_unique_name())
        seq.append(raw_hello(bus.socket))
        c.close()
        want = [":1.0", ":1.1", ":1.2", ":1.3"]
        tap.ok(seq == want, "%s: unique names %s: numbered at Hello, never reused" % (label, " ".join(want)),
               "got %r" % seq)
    finally:
        bus.stop()


def check_unknown_mechanism(tap, label, binary):
    bus = Bus(binary, ALLOW_ALL + "\n  <auth>EXTERNAL</auth><auth>FROBNICATE</auth>")
    status = bus.wait()
    tap.ok(bus.address is None and status == 1,
           "%s: an unknown <auth> mechanism: the bus exits with status 1" % label,
           "address %r, status %r" % (bus.address, status))
    tap.ok('Unsupported auth mechanism "FROBNICATE"' in bus.stderr(), "%s: ... naming it" % label, bus.stderr())
    bus.stop()
    bus = Bus(binary, ALLOW_ALL + "\n  <auth>EXTERNAL</auth><auth>DBUS_COOKIE_SHA1</auth>")
    tap.ok(bus.address is not None and login(bus.socket, "EXTERNAL") == "hello",
           "%s: <auth>DBUS_COOKIE_SHA1</auth> is known: the bus starts and EXTERNAL works" % label, bus.stderr())
    bus.stop()


def main():
    found = brokers()
    if len(found) < 2:
        print("1..0 # SKIP need dbus-daemon and bus1-dbus, found %s" % [b for b, _ in found])
        return 0
    tap = Tap()
    for label, binary in found:
        check_mechanisms(tap, label, binary)
        check_anonymous_identity(tap, label, binary)
        check_unique_names(tap, label, binary)
        check_unknown_mechanism(tap, label, binary)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
