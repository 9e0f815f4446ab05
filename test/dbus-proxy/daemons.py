"""
Shared helpers of the test/dbus-proxy/test-*-daemon.py tests that run one
scenario on dbus-daemon and on bus1-dbus and compare what each does.

  brokers()       [(label, path)]: dbus-daemon ($DBUS_DAEMON, else
                  /usr/bin/dbus-daemon) first, then bus1-dbus ($BUS1_DBUS,
                  else $top_builddir/bus1-dbus); missing binaries are left out
  Tap             test/lib/bustest.py's TAP writer, re-exported
  Bus             a private bus: writes a configuration around the given
                  XML, starts the broker with --nofork --print-address=FD
                  (stderr to a file, SIGKILL when the test dies), reads the
                  address with a bound; stop() ends and reaps it
  sasl()          a raw client's SASL conversation, reply by reply
  hello_message() the bytes of a little-endian Hello call

Imported by path: the tests live beside this file, and python puts the
script's directory first on sys.path.
"""

import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "../..")),
                                "test/lib"))
from bustest import Tap  # noqa: E402,F401  (re-exported for the tests)

# The daemon's own syslog/stderr noise that is not about the scenario: as
# root in a container dbus-daemon cannot raise its fd limit.
NOISE = ("Failed to set fd limit",)

ALLOW_ALL = '''<policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>'''


def brokers():
    top = os.environ.get("top_builddir", ".")
    found = []
    for label, path in (("dbus-daemon", os.environ.get("DBUS_DAEMON") or "/usr/bin/dbus-daemon"),
                        ("bus1-dbus", os.environ.get("BUS1_DBUS") or os.path.join(top, "bus1-dbus"))):
        if os.access(path, os.X_OK):
            found.append((label, path))
    return found


def pdeathsig():
    """In a child: SIGKILL when the parent (the test) dies."""
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)


class Bus:
    """
    A private bus of @binary listening on unix:path=DIR/socket, with a
    session configuration made of @body (policy and other elements; default
    ALLOW_ALL). @args are appended to the command line; @env replaces the
    environment; @preexec runs in the child before exec (after pdeathsig).
    After the constructor, .address is the printed address or None (the
    broker exited or printed nothing within @timeout seconds).
    """

    def __init__(self, binary, body=ALLOW_ALL, args=(), env=None, preexec=None, timeout=5,
                 bus_type="session", listen=None):
        self.dir = tempfile.mkdtemp(prefix="bus1-test-")
        os.chmod(self.dir, 0o755)
        self.socket = os.path.join(self.dir, "socket")
        self.config = os.path.join(self.dir, "bus.conf")
        with open(self.config, "w") as f:
            f.write('<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"\n'
                    ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">\n'
                    '<busconfig>\n  <type>%s</type>\n  <listen>%s</listen>\n  %s\n</busconfig>\n'
                    % (bus_type, listen or "unix:path=" + self.socket, body))
        self.stderr_path = os.path.join(self.dir, "stderr")
        r, w = os.pipe()

        def child():
            pdeathsig()
            if preexec:
                preexec()

        with open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen([binary, "--nofork", "--print-address=%d" % w,
                                          "--config-file=" + self.config] + list(args),
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                         pass_fds=(w,), env=env, preexec_fn=child)
        os.close(w)
        self.address = None
        data = b""
        end = time.monotonic() + timeout
        while b"\n" not in data and time.monotonic() < end:
            ready, _, _ = select.select([r], [], [], max(0, end - time.monotonic()))
            if not ready:
                break
            chunk = os.read(r, 4096)
            if not chunk:
                break
            data += chunk
        os.close(r)
        if b"\n" in data:
            self.address = data.split(b"\n")[0].decode()

    def stderr(self):
        """What the broker wrote on stderr so far, minus NOISE lines."""
        with open(self.stderr_path) as f:
            return "".join(l for l in f if not any(n in l for n in NOISE))

    def wait(self, timeout=5):
        """The exit status once it exited within @timeout, else None."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """SIGTERM, then SIGKILL after 5 s; reaps; removes the directory."""
        if self.proc.poll() is None:
            self.proc.terminate()
            if self.wait() is None:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.proc.returncode


def _pad(b, n):
    return b + b"\0" * (-len(b) % n)


def hello_message(serial=1):
    """A little-endian method call Hello to org.freedesktop.DBus."""
    fields = [(1, "o", "/org/freedesktop/DBus"), (2, "s", "org.freedesktop.DBus"),
              (3, "s", "Hello"), (6, "s", "org.freedesktop.DBus")]
    arr = b""
    for code, sig, value in fields:
        v = value.encode()
        arr = _pad(arr, 8) + struct.pack("<BB", code, 1) + sig.encode() + b"\0" + \
            struct.pack("<I", len(v)) + v + b"\0"
    return _pad(struct.pack("<cBBBIII", b"l", 1, 0, 1, 0, serial, len(arr)) + arr, 8)


def reply_destination(data):
    """The DESTINATION header field of the first message in @data, or None."""
    if len(data) < 16 or data[0:1] != b"l":
        return None
    n = struct.unpack_from("<I", data, 12)[0]
    pos, end = 16, 16 + n
    while pos < end:
        pos = (pos + 7) & ~7
        code, siglen = data[pos], data[pos + 1]
        sig = data[pos + 2:pos + 2 + siglen]
        pos += 3 + siglen
        if sig in (b"s", b"o"):
            pos = (pos + 3) & ~3
            ln = struct.unpack_from("<I", data, pos)[0]
            value = data[pos + 4:pos + 4 + ln].decode()
            pos += 5 + ln
        elif sig == b"g":
            ln = data[pos]
            value = data[pos + 1:pos + 1 + ln].decode()
            pos += 2 + ln
        elif sig == b"u":
            pos = (pos + 3) & ~3
            value = struct.unpack_from("<I", data, pos)[0]
            pos += 4
        else:
            return None
        if code == 6:
            return value
    return None


def sasl(path, steps, wait=1.0):
    """
    Connect to @path, send a NUL byte, then each of @steps (bytes) in turn,
    collecting what the server sends back after each until it is quiet for
    0.3 s (at most @wait seconds). Returns (replies, closed): replies[i] is
    what came after steps[i] (b"" if nothing), one entry per step sent;
    closed tells whether the server closed the connection (no step is sent
    after that).
    """
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    replies = []
    closed = False
    try:
        s.sendall(b"\0")
        for step in steps:
            try:
                s.sendall(step)
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            buf = b""
            end = time.monotonic() + wait
            while time.monotonic() < end:
                ready, _, _ = select.select([s], [], [], 0.3)
                if not ready:
                    break
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    closed = True
                    break
                buf += chunk
            replies.append(buf)
            if closed:
                break
    finally:
        s.close()
    return replies, closed
