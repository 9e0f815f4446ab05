#!/usr/bin/python3
"""
Odd messages on the wire, on dbus-daemon and on bus1-dbus: a raw client
sends one message each to a second client, and what happens must be what
dbus-daemon 1.14.10 does (observed; dbus-broker 33 agrees but where noted):
the sender is disconnected (the message is malformed), or the message is
delivered, or it is dropped without a word.

The cases: missing, doubled, mistyped and unknown header fields per
message type; flags and a SENDER set by the client; invalid names in the
header; body values (booleans, nested variants, paths, signatures, NULs in
strings, UTF-8 edges, padding, array lengths, nesting depth); protocol
version; lengths at their limits; an unknown message type (AccessDenied:
dbus-broker drops it, neither delivers it). One outcome differs on purpose
(doc/compatibility.md): a 'h' value with no fd behind it is refused by
bus1-dbus.

Each case costs two round trips (no sleeps): the sender pings the driver
(a reply, or the connection closes), then sends a marker signal the
receiver reads up to.

Prints TAP; SKIP for a broker that is not there.
"""

import os
import struct
import sys
import tempfile
import shutil

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "../..")),
                                "test", "lib"))
import bustest  # noqa: E402
from bustest import Conn, Daemon, _Writer, _split_types  # noqa: E402
from daemons import ALLOW_ALL  # noqa: E402

CONFIG = bustest.CONFIG_HEAD + "  <type>session</type>\n  " + ALLOW_ALL + "\n</busconfig>\n"

DISCONNECTED, DELIVERED, DROPPED = "disconnected", "delivered", "dropped"


def header_fields(fields):
    """The fields array (length included) of (code, signature, value), in order, as it sits at offset 12."""
    w = _Writer()
    w.b.extend(b"\0" * 12)
    w.put("a(yv)", [(code, (sig, value)) for code, sig, value in fields])
    return bytes(w.b[12:])


def message(type, serial, fields, sig=None, body=b"", values=None, flags=0, version=1, pad=b"\0"):
    """Wire bytes, built by hand so that anything can be wrong in them."""
    if values is not None:
        w = _Writer()
        for t, v in zip(_split_types(sig), values):
            w.put(t, v)
        body = bytes(w.b)
    fields = list(fields) + ([(8, "g", sig)] if sig is not None else [])
    head = struct.pack("<cBBBII", b"l", type, flags, version, len(body), serial) + header_fields(fields)
    return head + pad * (-len(head) % 8) + body


def call(dest, member="M", iface="org.example.I", path="/x"):
    f = [(1, "o", path)]
    if iface:
        f.append((2, "s", iface))
    if member:
        f.append((3, "s", member))
    if dest:
        f.append((6, "s", dest))
    return f


def cases(d):
    """(name, bytes, expected on dbus-daemon, expected on bus1-dbus if it differs on purpose)"""
    C = []

    def add(name, data, want, ours=None):
        C.append((name, data, want, ours or want))
    add("a valid call", message(1, 100, call(d), "s", values=["hi"]), DELIVERED)
    add("an unknown header field (s)", message(1, 101, call(d) + [(200, "s", "x")]), DELIVERED)
    add("an unknown header field 10 of type u", message(1, 102, call(d) + [(10, "u", 5)]), DISCONNECTED)
    add("PATH of type s", message(1, 103, [(1, "s", "/x"), (3, "s", "M"), (6, "s", d)]), DISCONNECTED)
    add("MEMBER twice", message(1, 104, call(d) + [(3, "s", "N")]), DISCONNECTED)
    add("a signal without INTERFACE", message(4, 105, [(1, "o", "/x"), (3, "s", "S")]), DISCONNECTED)
    add("a signal without PATH", message(4, 106, [(2, "s", "a.b"), (3, "s", "S")]), DISCONNECTED)
    add("a call without PATH", message(1, 107, [(3, "s", "M"), (6, "s", d)]), DISCONNECTED)
    add("a call without MEMBER", message(1, 108, [(1, "o", "/x"), (6, "s", d)]), DISCONNECTED)
    add("an error without REPLY_SERIAL", message(3, 109, [(4, "s", "a.b.E"), (6, "s", d)]), DISCONNECTED)
    add("an error without ERROR_NAME", message(3, 110, [(5, "u", 7), (6, "s", d)]), DISCONNECTED)
    add("a return without REPLY_SERIAL", message(2, 111, [(6, "s", d)]), DISCONNECTED)
    add("a return with REPLY_SERIAL 0", message(2, 112, [(5, "u", 0), (6, "s", d)]), DISCONNECTED)
    add("a body without SIGNATURE", message(1, 113, call(d), None, body=b"\x01\0\0\0"), DISCONNECTED)
    add("a SIGNATURE without its body", message(1, 114, call(d), "u"), DISCONNECTED)
    add("unknown flag bits", message(1, 115, call(d), flags=0x80), DELIVERED)
    add("a SENDER set by the client", message(1, 116, call(d) + [(7, "s", ":1.999")]), DELIVERED)
    add("a boolean 2", message(1, 117, call(d), "b", body=struct.pack("<I", 2)), DISCONNECTED)
    add("a variant of two types", message(1, 118, call(d), "v", body=b"\x02ss\0"), DISCONNECTED)
    add("an invalid object path in the body", message(1, 119, call(d), "o", values=["a/b"]), DISCONNECTED)
    add("an invalid signature in the body", message(1, 120, call(d), "g", values=["(s"]), DISCONNECTED)
    add("a string with a NUL inside", message(1, 121, call(d), "s", body=struct.pack("<I", 3) + b"a\0b\0"),
        DISCONNECTED)
    add("header padding not zero", message(1, 122, call(d, member="Mx"), pad=b"\x01"), DISCONNECTED)
    add("a 'h' with no fds", message(1, 123, call(d), "h", body=struct.pack("<I", 0)), DELIVERED, DISCONNECTED)
    add("UNIX_FDS 0", message(1, 124, call(d) + [(9, "u", 0)]), DELIVERED)
    add("structs nested 33 deep", message(1, 125, call(d), "(" * 33 + "y" + ")" * 33, body=b"\0" * 8),
        DISCONNECTED)
    add("arrays nested 33 deep", message(1, 126, call(d), "a" * 33 + "y", body=b"\0" * 4), DISCONNECTED)
    add("a dict entry outside an array", message(1, 127, call(d), "{sy}"), DISCONNECTED)
    add("array padding not zero", message(1, 128, call(d), "at", body=struct.pack("<I", 8) + b"\x01" * 4 + b"\0" * 8),
        DISCONNECTED)
    add("an array length that is no multiple of its elements",
        message(1, 129, call(d), "au", body=struct.pack("<I", 3) + b"\0" * 3), DISCONNECTED)
    add("protocol version 2", message(1, 130, call(d), version=2), DISCONNECTED)
    add("message type 5", message(5, 131, call(d)), "AccessDenied")
    add("a signal with a DESTINATION", message(4, 132, [(1, "o", "/x"), (2, "s", "a.b"), (3, "s", "S"), (6, "s", d)]),
        DELIVERED)
    add("an invalid INTERFACE", message(1, 133, call(d, iface="ab")), DISCONNECTED)
    add("a MEMBER with a dot", message(1, 134, call(d, member="a.b")), DISCONNECTED)
    add("an invalid ERROR_NAME", message(3, 135, [(4, "s", "Err"), (5, "u", 7), (6, "s", d)]), DISCONNECTED)
    add("an invalid DESTINATION", message(1, 136, call("bad..dest")), DISCONNECTED)
    add("a signature of 255 types", message(1, 137, call(d), "y" * 255, body=b"\0" * 255), DELIVERED)
    add("REPLY_SERIAL in a call", message(1, 138, call(d) + [(5, "u", 9)]), DELIVERED)
    add("ERROR_NAME in a call", message(1, 139, call(d) + [(4, "s", "a.b.E")]), DELIVERED)
    add("an empty array of structs, padded", message(1, 140, call(d), "a(y)", body=struct.pack("<I", 0) + b"\0" * 4),
        DELIVERED)
    add("an empty array of structs, not padded", message(1, 141, call(d), "a(y)", body=struct.pack("<I", 0)),
        DISCONNECTED)
    add("a MEMBER of 255 bytes", message(1, 142, call(d, member="m" * 255)), DELIVERED)
    add("a MEMBER of 256 bytes", message(1, 143, call(d, member="m" * 256)), DISCONNECTED)
    add("a PATH with a trailing '/'", message(1, 144, call(d, path="/x/")), DISCONNECTED)
    add("a PATH with '//'", message(1, 145, call(d, path="/x//y")), DISCONNECTED)
    add("UTF-8 noncharacter U+FFFE", message(1, 146, call(d), "s", values=[b"\xef\xbf\xbe"]), DELIVERED)
    add("UTF-8 surrogate", message(1, 147, call(d), "s", values=[b"\xed\xa0\x80"]), DISCONNECTED)
    add("UTF-8 U+10FFFF", message(1, 148, call(d), "s", values=[b"\xf4\x8f\xbf\xbf"]), DELIVERED)
    add("UTF-8 above U+10FFFF", message(1, 149, call(d), "s", values=[b"\xf4\x90\x80\x80"]), DISCONNECTED)
    return C


def outcome(address, receiver, data):
    """What became of @data, sent by a new client to @receiver."""
    s = Conn(address)
    try:
        s.send(data)
        try:
            reply = s.call(*bustest.DRIVER, "GetId", timeout=5)
        except (ConnectionError, OSError):
            return DISCONNECTED
        if reply is None:
            return DISCONNECTED
        errors = [m.error_name.split(".")[-1] for m in s.drain(0) if m.type == bustest.ERROR]
        s.send_message(bustest.SIGNAL, dest=receiver.unique_name, path="/x", iface="org.example.Marker", member="End")
        seen = False
        while True:
            m = receiver.recv(timeout=5)
            if m is None or (m.interface == "org.example.Marker" and m.sender == s.unique_name):
                break
            seen = seen or m.sender == s.unique_name
        if errors:
            return ",".join(errors)
        return DELIVERED if seen else DROPPED
    finally:
        s.close()


def main():
    tap = bustest.Tap()
    tmp = tempfile.mkdtemp(prefix="test-wire-daemon-")
    try:
        for label, binary, why in bustest.brokers():
            if binary is None:
                tap.skip(label, why)
                continue
            d = Daemon(binary, CONFIG, os.path.join(tmp, label))
            try:
                receiver = Conn(d.address)
                for name, data, want, ours in cases(receiver.unique_name):
                    expect = ours if label == "bus1-dbus" else want
                    got = outcome(d.address, receiver, data)
                    tap.ok(got == expect, "%s: %s: %s" % (label, name, expect), "got %s" % got)
                receiver.close()
                tap.ok(d.alive(), "%s: ... and the bus is still running" % label, d.log_text())
            finally:
                d.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
