#!/usr/bin/python3
"""
One user flooding another user's receiver, on dbus-daemon and on bus1-dbus.

A root connection (a raw socket: SASL, Hello, then it never reads) is the
receiver. A client running as nobody (setpriv) sends it N method calls of
64 KiB, far more than the receiver's max_outgoing_bytes; then a root client
(another user than the flooder) sends it K more. At the end the receiver
reads everything that was queued for it and counts the calls by sender.

bus1-dbus (asserted): the core charges every queued message its wire size
to the sending user on the receiving user (doc/core-quota.md,
doc/dbus-proxy.md "Quotas and flow control"), so the flooder is refused
with LimitsExceeded well before the receiver's max_outgoing_bytes is
reached, and the other user's K calls all get through; every call that was
not refused reaches the receiver.

dbus-daemon (asserted as the reference the core improves on): it limits
only the receiving connection (max_outgoing_bytes for all senders
together), so the flooder fills it and the other user's calls are refused
too.

Needs root, setpriv and python3-dbus (SKIP otherwise). Prints TAP.
"""

import json
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import time

from daemons import Bus, Tap, brokers, hello_message, pdeathsig

try:
    import dbus
    import dbus.mainloop.glib
    from gi.repository import GLib
except ImportError:
    print("1..0 # SKIP python3-dbus or python3-gi not installed")
    sys.exit(0)

CHUNK = 64 * 1024
N_FLOOD = 400                   # 25 MiB
K_OTHER = 8
MAX_OUTGOING = 16 * 1024 * 1024

BODY = '''<auth>EXTERNAL</auth>
  <limit name="max_outgoing_bytes">%d</limit>
  <limit name="max_message_size">262144</limit>
  <limit name="max_replies_per_connection">100000</limit>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>''' % MAX_OUTGOING

# Sends n calls of CHUNK bytes to argv[2]; once nothing new has been
# answered for a second, prints {"refused": .., "other": [..]} and keeps the
# connection until stdin closes (its accepted calls stay queued meanwhile).
SENDER = r'''
import json, sys, time, dbus, dbus.mainloop.glib
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
address, dest, n, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
c = dbus.bus.BusConnection(address)
res = []
big = "x" * size
for i in range(n):
    c.call_async(dest, "/", "org.example.I", "M", "s", (big,), lambda *a: res.append("reply"),
                 lambda e: res.append(e.get_dbus_name()), timeout=120)
c.flush()
ctx = GLib.MainContext.default()
last, seen, end = time.monotonic(), 0, time.monotonic() + 20
while time.monotonic() < end and time.monotonic() - last < 1.0:
    while ctx.iteration(False):
        pass
    if len(res) != seen:
        seen, last = len(res), time.monotonic()
    time.sleep(0.01)
refused = res.count("org.freedesktop.DBus.Error.LimitsExceeded")
print(json.dumps({"unique": c.get_unique_name(), "refused": refused,
                  "other": [r for r in res if r != "org.freedesktop.DBus.Error.LimitsExceeded"]}), flush=True)
sys.stdin.read()
'''


def read_until(s, pred, timeout):
    buf = b""
    end = time.monotonic() + timeout
    while not pred(buf) and time.monotonic() < end:
        ready, _, _ = select.select([s], [], [], max(0, end - time.monotonic()))
        if not ready:
            break
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


def messages(data):
    """Split a little-endian D-Bus stream: yields (header fields dict, size)."""
    pos = 0
    while len(data) - pos >= 16:
        body_len, _, fields_len = struct.unpack_from("<III", data, pos + 4)
        size = 16 + ((fields_len + 7) & ~7) + body_len
        if len(data) - pos < size:
            return
        fields, p, end = {}, pos + 16, pos + 16 + fields_len
        while p < end:
            p = pos + ((p - pos + 7) & ~7)
            code, siglen = data[p], data[p + 1]
            sig = data[p + 2:p + 2 + siglen]
            p += 3 + siglen
            if sig in (b"s", b"o"):
                p = pos + ((p - pos + 3) & ~3)
                ln = struct.unpack_from("<I", data, p)[0]
                fields[code] = data[p + 4:p + 4 + ln].decode()
                p += 5 + ln
            elif sig == b"g":
                fields[code] = data[p + 1:p + 1 + data[p]].decode()
                p += 2 + data[p]
            elif sig == b"u":
                p = pos + ((p - pos + 3) & ~3)
                fields[code] = struct.unpack_from("<I", data, p)[0]
                p += 4
            else:
                break
        yield fields, size
        pos += size


class Receiver:
    """A root connection that says Hello and then reads only when asked."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.s.sendall(b"\0AUTH EXTERNAL %s\r\n" % str(os.getuid()).encode().hex().encode())
        if not read_until(self.s, lambda b: b"\r\n" in b, 5).startswith(b"OK "):
            raise RuntimeError("SASL EXTERNAL refused")
        self.s.sendall(b"BEGIN\r\n" + hello_message())
        self.unique = None
        data = read_until(self.s, lambda b: any(6 in f for f, _ in messages(b)), 5)
        for f, _ in messages(data):
            self.unique = self.unique or f.get(6)
        if not self.unique:
            raise RuntimeError("no Hello reply")

    def drain(self, timeout=20):
        """Everything queued for it: {sender: number of calls to member M}."""
        data = b""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            ready, _, _ = select.select([self.s], [], [], 1.0)
            if not ready:
                break
            chunk = self.s.recv(1 << 20)
            if not chunk:
                break
            data += chunk
        counts = {}
        for f, _ in messages(data):
            if f.get(3) == "M":
                counts[f.get(7)] = counts.get(f.get(7), 0) + 1
        return counts

    def close(self):
        self.s.close()


def other_user_sends(address, dest):
    """K calls from root; returns (unique name, errors seen within 2 s)."""
    c = dbus.bus.BusConnection(address)
    res = []
    big = "z" * CHUNK
    for _ in range(K_OTHER):
        c.call_async(dest, "/", "org.example.I", "M", "s", (big,), lambda *a: res.append("reply"),
                     lambda e: res.append(e.get_dbus_name()), timeout=120)
    c.flush()
    ctx = GLib.MainContext.default()
    end = time.monotonic() + 2
    while time.monotonic() < end and len(res) < K_OTHER:
        while ctx.iteration(False):
            pass
        time.sleep(0.01)
    return c, res


def scenario(tap, label, binary):
    bus = Bus(binary, BODY)
    flooder = None
    try:
        if not tap.ok(bus.address, "%s: starts" % label, bus.stderr()):
            return
        rx = Receiver(bus.socket)
        script = os.path.join(bus.dir, "sender.py")
        with open(script, "w") as f:
            f.write(SENDER)
        os.chmod(script, 0o644)
        flooder = subprocess.Popen(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                    "/usr/bin/python3", script, bus.address, rx.unique, str(N_FLOOD), str(CHUNK)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   cwd="/", preexec_fn=pdeathsig, universal_newlines=True)
        line = flooder.stdout.readline()
        if not tap.ok(line, "%s: the flooder (nobody) ran" % label, flooder.stderr.read() if not line else None):
            return
        fl = json.loads(line)
        accepted = N_FLOOD - fl["refused"] - len(fl["other"])
        conn, other = other_user_sends(bus.address, rx.unique)
        counts = rx.drain()
        flooder.stdin.close()
        flooder.wait(timeout=10)
        got_flood, got_other = counts.get(fl["unique"], 0), counts.get(conn.get_unique_name(), 0)
        print("# %s: flooder: %d of %d calls refused (%d KiB accepted), other: %s; receiver got %d + %d"
              % (label, fl["refused"], N_FLOOD, accepted * CHUNK // 1024,
                 ", ".join("%d %s" % (other.count(e), e) for e in sorted(set(other))) or "no error",
                 got_flood, got_other))
        tap.ok(fl["refused"] > 0 and not fl["other"],
               "%s: the flooder gets LimitsExceeded" % label, fl)
        tap.ok(got_flood == accepted, "%s: every call not refused reaches the receiver (%d of %d)"
               % (label, got_flood, accepted))
        if label == "bus1-dbus":
            tap.ok(accepted * CHUNK < MAX_OUTGOING // 2,
                   "%s: the core quota refuses the flooder before the receiver's max_outgoing_bytes" % label,
                   "accepted %d bytes" % (accepted * CHUNK))
            tap.ok(not other and got_other == K_OTHER,
                   "%s: another user still delivers to the same receiver (%d of %d)" % (label, got_other, K_OTHER),
                   other)
        else:
            tap.ok(accepted * CHUNK >= MAX_OUTGOING,
                   "%s: (reference) the flooder fills max_outgoing_bytes" % label,
                   "accepted %d bytes" % (accepted * CHUNK))
            tap.ok(other.count("org.freedesktop.DBus.Error.LimitsExceeded") == K_OTHER,
                   "%s: (reference) another user is locked out by the flood" % label, other)
        conn.close()
        rx.close()
    finally:
        if flooder and flooder.poll() is None:
            flooder.kill()
            flooder.wait()
        bus.stop()


def main():
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root to run a client as user nobody")
        return 0
    if not shutil.which("setpriv"):
        print("1..0 # SKIP setpriv not found")
        return 0
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    tap = Tap()
    found = brokers()
    if not any(label == "bus1-dbus" for label, _ in found):
        tap.skip("bus1-dbus", "not built")
    for label, binary in found:
        scenario(tap, label, binary)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
