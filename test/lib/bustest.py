"""
bustest: helpers for python integration tests that run a private bus.

 - Tap: TAP output (ok/skip/diag, plan at the end, exit status).
 - brokers(): the brokers to compare: dbus-daemon ($DBUS_DAEMON or PATH) and
   bus1-dbus ($BUS1_DBUS or $top_builddir/bus1-dbus), each with the reason
   it cannot run, if any.
 - Daemon: one broker process on a private socket with a configuration
   written from a template (killed with the test: PR_SET_PDEATHSIG).
 - Conn: a raw D-Bus client on a unix socket, with the control a test of
   flow control needs and a binding does not give: non-blocking writes,
   not reading, a small send buffer, partial messages with fds, another
   effective uid for SO_PEERCRED. Messages are built and parsed here
   (marshal()/Message), for the basic types and arrays of them.

Import it from a test with:
    sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "test/lib"))
    import bustest
Runs with /usr/bin/python3 (needs nothing outside the standard library).
"""

import ctypes
import errno
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

METHOD_CALL, METHOD_RETURN, ERROR, SIGNAL = 1, 2, 3, 4
NO_REPLY_EXPECTED, NO_AUTO_START = 0x1, 0x2

F_PATH, F_INTERFACE, F_MEMBER, F_ERROR_NAME, F_REPLY_SERIAL = 1, 2, 3, 4, 5
F_DESTINATION, F_SENDER, F_SIGNATURE, F_UNIX_FDS = 6, 7, 8, 9
FIELD_TYPES = {F_PATH: "o", F_INTERFACE: "s", F_MEMBER: "s", F_ERROR_NAME: "s", F_REPLY_SERIAL: "u",
               F_DESTINATION: "s", F_SENDER: "s", F_SIGNATURE: "g", F_UNIX_FDS: "u"}

DRIVER = ("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus")


# ---- TAP ----

class Tap:
    """TAP output: the plan is printed by done(), which returns the exit status."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, desc, diag=None):
        self.n += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, desc))
        if not cond:
            self.failed += 1
            for line in str(diag if diag is not None else "").splitlines():
                print("# " + line)
        sys.stdout.flush()
        return cond

    def skip(self, desc, why):
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, desc, why))
        sys.stdout.flush()

    def diag(self, text):
        for line in str(text).splitlines():
            print("# " + line)
        sys.stdout.flush()

    def skip_all(self, why):
        print("1..0 # SKIP %s" % why)
        sys.stdout.flush()
        return 0

    def done(self):
        print("1..%d" % self.n)
        sys.stdout.flush()
        return 1 if self.failed else 0


# ---- brokers ----

def brokers():
    """[(label, path or None, why not)] for dbus-daemon and bus1-dbus."""
    out = []
    dd = os.environ.get("DBUS_DAEMON") or shutil.which("dbus-daemon")
    if dd and os.access(dd, os.X_OK):
        out.append(("dbus-daemon", dd, None))
    else:
        out.append(("dbus-daemon", None, "dbus-daemon not installed"))
    b1 = os.environ.get("BUS1_DBUS") or os.path.join(os.environ.get("top_builddir", "."), "bus1-dbus")
    if os.access(b1, os.X_OK):
        out.append(("bus1-dbus", os.path.abspath(b1), None))
    else:
        out.append(("bus1-dbus", None, "bus1-dbus not built in this tree"))
    return out


def pdeathsig():
    """preexec_fn: the child gets SIGKILL when the test dies."""
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)


def wait_for(cond, seconds, step=0.01):
    """Poll cond() until it is true or @seconds passed; returns its last value."""
    end = time.monotonic() + seconds
    while True:
        v = cond()
        if v or time.monotonic() > end:
            return v
        time.sleep(step)


CONFIG_HEAD = '''<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>@LISTEN@</listen>
'''


class Daemon:
    """A broker on @dir/socket with the configuration @config, in which
    @LISTEN@ is replaced by the listen address (CONFIG_HEAD starts one)."""

    def __init__(self, binary, config, dir, args=()):
        os.makedirs(dir, exist_ok=True)
        os.chmod(dir, 0o755)
        self.dir = dir
        self.socket = os.path.join(dir, "socket")
        self.address = "unix:path=" + self.socket
        self.config = os.path.join(dir, "bus.conf")
        with open(self.config, "w") as f:
            f.write(config.replace("@LISTEN@", self.address))
        self.log = os.path.join(dir, "log")
        # the address is printed once the bus listens: then it is ready
        self.proc = subprocess.Popen([binary, "--nofork", "--print-address", "--config-file=" + self.config] +
                                     list(args), stdout=subprocess.PIPE, stderr=open(self.log, "w"),
                                     preexec_fn=pdeathsig)
        ready = select.select([self.proc.stdout], [], [], 10)[0] and self.proc.stdout.readline().strip()
        if not ready or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError("%s did not start: %s" % (binary, self.log_text()))
        os.chmod(self.socket, 0o777)

    def log_text(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def alive(self):
        return self.proc.poll() is None

    def reload(self):
        self.proc.send_signal(signal.SIGHUP)

    def stop(self):
        """SIGTERM (SIGKILL after 3 s); returns the exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        return self.proc.returncode


# ---- marshalling ----

class _Writer:
    def __init__(self):
        self.b = bytearray()

    def align(self, n):
        self.b.extend(b"\0" * (-len(self.b) % n))

    def put(self, sig, v):
        """Append one value of the complete type @sig (basic types, a..., (...))."""
        c = sig[0]
        if c in "ybnqiuxtdh":
            fmt = {"y": "B", "b": "I", "n": "h", "q": "H", "i": "i", "u": "I", "x": "q", "t": "Q",
                   "d": "d", "h": "I"}[c]
            self.align(struct.calcsize(fmt))
            self.b.extend(struct.pack("<" + fmt, int(v) if c != "d" else v))
        elif c in "so":
            data = v.encode() if isinstance(v, str) else bytes(v)
            self.align(4)
            self.b.extend(struct.pack("<I", len(data)) + data + b"\0")
        elif c == "g":
            data = v.encode()
            self.b.extend(bytes([len(data)]) + data + b"\0")
        elif c == "v":
            vsig, val = v
            self.put("g", vsig)
            self.put(vsig, val)
        elif c == "a":
            elem = _first_type(sig[1:])
            self.align(4)
            at = len(self.b)
            self.b.extend(b"\0\0\0\0")
            self.align(8 if elem[0] in "xtd(" else struct.calcsize({"y": "B", "n": "h", "q": "H"}.get(elem[0], "I")))
            start = len(self.b)
            if elem == "y":
                self.b.extend(bytes(v))
            else:
                for x in v:
                    self.put(elem, x)
            struct.pack_into("<I", self.b, at, len(self.b) - start)
        elif c == "(":
            self.align(8)
            for t, x in zip(_split_types(sig[1:-1]), v):
                self.put(t, x)
        else:
            raise ValueError("cannot marshal %r" % sig)


def _first_type(sig):
    """The first complete type of @sig."""
    if sig[0] == "a":
        return "a" + _first_type(sig[1:])
    if sig[0] == "(":
        depth = 0
        for i, ch in enumerate(sig):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0:
                return sig[:i + 1]
    return sig[0]


def _split_types(sig):
    out = []
    while sig:
        t = _first_type(sig)
        out.append(t)
        sig = sig[len(t):]
    return out


def marshal(type, serial, fields, signature="", body=(), flags=0):
    """The wire bytes (little endian) of a message. @fields: {code: value};
    SIGNATURE is added from @signature."""
    w = _Writer()
    for t, v in zip(_split_types(signature), body):
        w.put(t, v)
    payload = bytes(w.b)
    fields = dict(fields)
    if signature:
        fields[F_SIGNATURE] = signature
    h = _Writer()
    h.b.extend(struct.pack("<cBBBII", b"l", type, flags, 1, len(payload), serial))
    h.put("a(yv)", [(code, (FIELD_TYPES[code], fields[code])) for code in sorted(fields)])
    h.align(8)
    return bytes(h.b) + payload


class _Reader:
    def __init__(self, data, pos=0, little=True):
        self.d = data
        self.p = pos
        self.e = "<" if little else ">"

    def align(self, n):
        self.p += -self.p % n

    def get(self, sig):
        c = sig[0]
        if c in "ybnqiuxtdh":
            fmt = {"y": "B", "b": "I", "n": "h", "q": "H", "i": "i", "u": "I", "x": "q", "t": "Q",
                   "d": "d", "h": "I"}[c]
            self.align(struct.calcsize(fmt))
            v = struct.unpack_from(self.e + fmt, self.d, self.p)[0]
            self.p += struct.calcsize(fmt)
            return bool(v) if c == "b" else v
        if c in "so":
            self.align(4)
            n = struct.unpack_from(self.e + "I", self.d, self.p)[0]
            v = bytes(self.d[self.p + 4:self.p + 4 + n]).decode(errors="replace")
            self.p += 4 + n + 1
            return v
        if c == "g":
            n = self.d[self.p]
            v = bytes(self.d[self.p + 1:self.p + 1 + n]).decode()
            self.p += n + 2
            return v
        if c == "v":
            vsig = self.get("g")
            return self.get(vsig)
        if c == "a":
            elem = _first_type(sig[1:])
            self.align(4)
            n = struct.unpack_from(self.e + "I", self.d, self.p)[0]
            self.p += 4
            self.align(8 if elem[0] in "xtd({" else 1)
            end = self.p + n
            if elem == "y":
                v = bytes(self.d[self.p:end])
                self.p = end
                return v
            out = []
            while self.p < end:
                out.append(self.get(elem))
            return out
        if c in "({":
            self.align(8)
            return tuple(self.get(t) for t in _split_types(sig[1:-1]))
        raise ValueError("cannot read %r" % sig)


class Message:
    """A parsed message: type, flags, serial, fields {code: value}, body
    (tuple, or None if its signature is not understood), fds (list)."""

    def __init__(self, data, fds=()):
        little = data[0:1] == b"l"
        r = _Reader(data, 0, little)
        _, self.type, self.flags, _ = struct.unpack_from("cBBB", data, 0)
        body_len, self.serial = struct.unpack_from(r.e + "II", data, 4)
        r.p = 12
        self.fields = {code: val for code, val in r.get("a(yv)")}
        r.align(8)
        self.size = r.p + body_len
        self.fds = list(fds)
        try:
            self.body = tuple(r.get(t) for t in _split_types(self.fields.get(F_SIGNATURE, "")))
        except (ValueError, struct.error, IndexError):
            self.body = None

    member = property(lambda self: self.fields.get(F_MEMBER))
    interface = property(lambda self: self.fields.get(F_INTERFACE))
    sender = property(lambda self: self.fields.get(F_SENDER))
    destination = property(lambda self: self.fields.get(F_DESTINATION))
    error_name = property(lambda self: self.fields.get(F_ERROR_NAME))
    reply_serial = property(lambda self: self.fields.get(F_REPLY_SERIAL))

    def __repr__(self):
        kind = {1: "call", 2: "return", 3: "error", 4: "signal"}.get(self.type, str(self.type))
        what = self.error_name or self.member or ""
        return "<%s %s serial=%d reply=%s body=%r>" % (kind, what, self.serial, self.reply_serial,
                                                       (self.body or ())[:1])


def frame_size(data):
    """Size of the message that starts @data, or None if fewer than 16 bytes."""
    if len(data) < 16:
        return None
    e = "<" if data[0:1] == b"l" else ">"
    body_len, = struct.unpack_from(e + "I", data, 4)
    fields_len, = struct.unpack_from(e + "I", data, 12)
    return 16 + fields_len + (-(16 + fields_len) % 8) + body_len


# ---- a raw client ----

def socket_path(address):
    """The socket of the first unix:path= or unix:abstract= address of a
    D-Bus address list (values unescaped)."""
    for a in address.split(";"):
        kind, _, params = a.partition(":")
        if kind != "unix":
            continue
        kv = dict(p.split("=", 1) for p in params.split(",") if "=" in p)
        if "path" in kv:
            return _unescape(kv["path"])
        if "abstract" in kv:
            return "\0" + _unescape(kv["abstract"])
    raise ValueError("no unix socket in address %r" % address)


def _unescape(v):
    out = bytearray()
    i = 0
    while i < len(v):
        if v[i] == "%":
            out.append(int(v[i + 1:i + 3], 16))
            i += 3
        else:
            out.extend(v[i].encode())
            i += 1
    return out.decode()


class Conn:
    """A D-Bus connection on a raw unix socket.

    Conn(address, euid=N) connects with effective uid N (SO_PEERCRED records
    it), so one root test process can be several users. sndbuf shrinks the
    client's send buffer before connecting. Nothing is read unless asked:
    a Conn that is left alone is a client that does not read its socket."""

    def __init__(self, address, euid=None, sndbuf=None, hello=True, fds=True, timeout=10):
        path = socket_path(address)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if sndbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        self.timeout = timeout
        self.buf = bytearray()
        self.fdq = []
        self.queue = []
        self.serial = 0
        self.unique_name = None
        uid = os.geteuid()
        if euid is not None:
            os.seteuid(euid)
        try:
            self.sock.connect(path)
        finally:
            if euid is not None:
                os.seteuid(uid)
        self.euid = uid if euid is None else euid
        self.sock.settimeout(timeout)
        self.sock.sendall(b"\0AUTH EXTERNAL " + str(self.euid).encode().hex().encode() + b"\r\n")
        line = self._line()
        if not line.startswith(b"OK "):
            raise ConnectionError("authentication refused: %r" % line)
        if fds:
            self.sock.sendall(b"NEGOTIATE_UNIX_FD\r\n")
            if not self._line().startswith(b"AGREE_UNIX_FD"):
                raise ConnectionError("fd passing refused")
        self.sock.sendall(b"BEGIN\r\n")
        if hello:
            self.unique_name = self.call(*DRIVER, "Hello").body[0]

    def _line(self):
        while b"\r\n" not in self.buf:
            d = self.sock.recv(4096)
            if not d:
                raise ConnectionError("disconnected during authentication")
            self.buf.extend(d)
        i = self.buf.index(b"\r\n")
        line = bytes(self.buf[:i])
        del self.buf[:i + 2]
        return line

    def close(self):
        for fd in self.fdq:
            os.close(fd)
        self.fdq = []
        self.sock.close()

    def next_serial(self):
        self.serial += 1
        return self.serial

    # -- sending --

    def build(self, type, dest=None, path=None, iface=None, member=None, signature="", body=(),
              flags=0, error=None, reply_serial=None, n_fds=0):
        """(serial, bytes) of a new message."""
        fields = {}
        for code, v in ((F_DESTINATION, dest), (F_PATH, path), (F_INTERFACE, iface), (F_MEMBER, member),
                        (F_ERROR_NAME, error), (F_REPLY_SERIAL, reply_serial)):
            if v is not None:
                fields[code] = v
        if n_fds:
            fields[F_UNIX_FDS] = n_fds
        serial = self.next_serial()
        return serial, marshal(type, serial, fields, signature, body, flags)

    def send(self, data, fds=()):
        """Send all of @data (blocking, within the timeout), @fds with the first byte."""
        if fds:
            n = self.sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("%di" % len(fds), *fds))])
            data = data[n:]
        if data:
            self.sock.sendall(data)

    def try_send(self, data, seconds=0.0, fds=()):
        """Write @data (@fds with its first byte) without blocking longer
        than @seconds in all; returns the number of bytes written (less than
        len(data): the broker stopped reading us; 0: the fds were not sent
        either)."""
        done = 0
        end = time.monotonic() + seconds
        anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("%di" % len(fds), *fds))] if fds else []
        self.sock.setblocking(False)
        try:
            while done < len(data):
                try:
                    done += self.sock.sendmsg([data[done:]], anc if done == 0 else [])
                except BlockingIOError:
                    left = end - time.monotonic()
                    if left <= 0 or not select.select([], [self.sock], [], left)[1]:
                        break
        finally:
            self.sock.settimeout(self.timeout)
        return done

    def send_message(self, type, fds=(), **kw):
        serial, data = self.build(type, n_fds=len(fds), **kw)
        self.send(data, fds)
        return serial

    def call_async(self, dest, path, iface, member, signature="", body=(), fds=(), flags=0):
        return self.send_message(METHOD_CALL, dest=dest, path=path, iface=iface, member=member,
                                 signature=signature, body=body, fds=fds, flags=flags)

    def call(self, dest, path, iface, member, signature="", body=(), fds=(), timeout=None):
        """A method call; returns the reply (a return or an error Message).
        Other messages read meanwhile stay queued for recv()."""
        serial = self.call_async(dest, path, iface, member, signature, body, fds)
        return self.wait_reply(serial, timeout)

    def wait_reply(self, serial, timeout=None):
        m = self.recv(timeout, lambda m: m.type in (METHOD_RETURN, ERROR) and m.reply_serial == serial)
        if m is None:
            raise TimeoutError("no reply to serial %d" % serial)
        return m

    def reply(self, call, signature="", body=(), error=None):
        """Answer @call with a method return, or an error named @error."""
        self.send_message(ERROR if error else METHOD_RETURN, dest=call.sender, reply_serial=call.serial,
                          error=error, signature=signature, body=body)

    # -- receiving --

    def _read(self, timeout):
        """Read once (waiting at most @timeout s); False on timeout, raises
        ConnectionError on EOF."""
        if timeout is not None and not select.select([self.sock], [], [], max(timeout, 0))[0]:
            return False
        try:
            data, anc, _, _ = self.sock.recvmsg(65536, socket.CMSG_SPACE(253 * 4))
        except socket.timeout:
            return False
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                n = len(payload) - len(payload) % 4
                self.fdq.extend(struct.unpack("%di" % (n // 4), payload[:n]))
        if not data:
            raise ConnectionError("disconnected by the broker")
        self.buf.extend(data)
        while True:
            n = frame_size(self.buf)
            if n is None or len(self.buf) < n:
                break
            m = Message(bytes(self.buf[:n]))
            k = m.fields.get(F_UNIX_FDS, 0)
            m.fds, self.fdq = self.fdq[:k], self.fdq[k:]
            del self.buf[:n]
            self.queue.append(m)
        return True

    def recv(self, timeout=None, match=None):
        """The first queued or incoming message that satisfies @match (any
        if None), removed from the queue; None after @timeout seconds
        (default: the connection's timeout)."""
        end = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            for i, m in enumerate(self.queue):
                if match is None or match(m):
                    return self.queue.pop(i)
            left = end - time.monotonic()
            if left <= 0:
                return None
            self._read(left)

    def drain(self, seconds=0.2):
        """Read everything that arrives until nothing came for @seconds;
        returns the messages (also those queued before)."""
        while self._read(seconds):
            pass
        out, self.queue = self.queue, []
        return out

    def disconnected(self, timeout):
        """True if the broker closes the connection within @timeout s."""
        end = time.monotonic() + timeout
        try:
            while time.monotonic() < end:
                self._read(end - time.monotonic())
        except (ConnectionError, OSError):
            return True
        return False

    def ping(self):
        """A round trip to the driver: everything we sent before was dispatched."""
        m = self.call(*DRIVER, "GetId")
        return m.type == METHOD_RETURN


def error_name(m):
    """The error name of a reply, or "ok" for a method return, "none" for None."""
    if m is None:
        return "none"
    return m.error_name if m.type == ERROR else "ok"
