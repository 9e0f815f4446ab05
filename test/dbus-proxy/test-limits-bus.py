#!/usr/bin/python3
"""
Limits reached and recovered, on bus1-dbus and on dbus-daemon.

Every scenario starts a private bus with small <limit>s (the same
configuration for both brokers), drives it with raw clients
(test/lib/bustest.py), and records what the clients observe: the error a
request gets, whether a client is disconnected, whether a sender is
throttled. Each observation must equal the expected value on dbus-daemon
and on bus1-dbus; a bus1-dbus line that differs names both.

  names      max_names_per_connection: RequestName over the limit gets
             LimitsExceeded; after ReleaseName it succeeds
  matches    max_match_rules_per_connection: AddMatch over the limit,
             then RemoveMatch, then AddMatch again
  replies    max_replies_per_connection: a call over the limit gets
             LimitsExceeded; once the callee answered one, the call passes
  serials    a call reusing the serial of a pending call to the same
             callee gets AccessDenied, also at max_replies_per_connection
             (checked first); to another callee, or once answered, it passes
  timeout    reply_timeout: an unanswered call gets NoReply from the bus
  outgoing   max_outgoing_bytes: a receiver that does not read; unicast
             signals, calls, calls without reply, replies to it get
             LimitsExceeded, broadcasts skip it silently, nothing is lost
             without an error; after it read, all of that passes again
  out-fds    max_outgoing_unix_fds: the same with messages carrying fds
  incoming   max_incoming_bytes: a fast sender to a receiver that does not
             read is throttled (the bus stops reading it), gets no error,
             and once the receiver reads, everything arrives
  in-fds     max_incoming_unix_fds: the same counting fds
  conns      max_connections_per_user, max_completed_connections: Hello
             gets LimitsExceeded, the connection stays and its Hello passes
             once another connection left
  incomplete max_incomplete_connections: the bus stops accepting while the
             limit is reached; a waiting client is served once one left
  auth       auth_timeout: unauthenticated and Hello-less connections are
             dropped; a prompt one is not
  pending-fd pending_fd_timeout: fds sent with an unfinished message get the
             client disconnected; an unfinished message without fds or a
             finished one with fds does not
  size       max_message_size, max_message_unix_fds: a message at the limit
             passes, one over it gets the client disconnected
  activation max_pending_service_starts, service_start_timeout: a start over
             the limit gets LimitsExceeded; once the service appeared new
             starts are accepted; an unanswered start times out

Needs root for the per-user connection limit (SKIP of those lines
otherwise). Prints TAP.
"""

import os
import socket
import struct
import sys
import tempfile
import time
import shutil

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "../..")),
                                "test/lib"))
import bustest  # noqa: E402
from bustest import (Conn, Daemon, DRIVER, ERROR, METHOD_CALL, METHOD_RETURN, SIGNAL,  # noqa: E402
                     NO_REPLY_EXPECTED, error_name)

LIMITS_EXCEEDED = "org.freedesktop.DBus.Error.LimitsExceeded"
ROOT = os.geteuid() == 0

POLICY = '''
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
'''


def config(limits, extra=""):
    return bustest.CONFIG_HEAD + POLICY + extra + "".join(
        '  <limit name="%s">%d</limit>\n' % kv for kv in limits.items()) + "</busconfig>\n"


def is_error(m, name=LIMITS_EXCEEDED):
    return m is not None and m.type == ERROR and m.error_name == name


def pending_errors(conn, pred=is_error):
    """Round trip to the driver, then take the queued messages matching pred."""
    conn.ping()
    got = [m for m in conn.queue if pred(m)]
    conn.queue = [m for m in conn.queue if not pred(m)]
    return got


def reply_of(conn, serial, timeout=5):
    return error_name(conn.recv(timeout, lambda m: m.type in (METHOD_RETURN, ERROR) and m.reply_serial == serial))


def request_name(conn, name):
    m = conn.call(*DRIVER, "RequestName", "su", [name, 4])
    return str(m.body[0]) if m.type == METHOD_RETURN else m.error_name


def dbus_ok(m):
    return error_name(m)


# ---- scenarios: each returns [(key, observed)] ----

def sc_names(d):
    c = Conn(d.address)
    out = [("names-first", request_name(c, "com.example.N1")),
           ("names-second", request_name(c, "com.example.N2")),
           ("names-over", request_name(c, "com.example.N3"))]
    c.call(*DRIVER, "ReleaseName", "s", ["com.example.N1"])
    out.append(("names-recovered", request_name(c, "com.example.N3")))
    return out


def sc_matches(d):
    c = Conn(d.address)
    add = lambda r: dbus_ok(c.call(*DRIVER, "AddMatch", "s", [r]))  # noqa: E731
    out = [("matches-in", ",".join(add("member='M%d'" % i) for i in range(3))),
           ("matches-over", add("member='M3'"))]
    c.call(*DRIVER, "RemoveMatch", "s", ["member='M0'"])
    out.append(("matches-recovered", add("member='M3'")))
    return out


def sc_replies(d):
    caller, callee = Conn(d.address), Conn(d.address)
    s1 = caller.call_async(callee.unique_name, "/p", "com.example.T", "A")
    s2 = caller.call_async(callee.unique_name, "/p", "com.example.T", "B")
    calls = [callee.recv(5, lambda m: m.member == x) for x in "AB"]
    s3 = caller.call_async(callee.unique_name, "/p", "com.example.T", "C")
    out = [("replies-over", reply_of(caller, s3))]
    callee.reply(calls[0])
    out.append(("replies-answered", reply_of(caller, s1)))
    s4 = caller.call_async(callee.unique_name, "/p", "com.example.T", "D")
    got = callee.recv(5, lambda m: m.member == "D")
    out.append(("replies-recovered", "delivered" if got is not None else "lost"))
    callee.reply(calls[1])
    callee.reply(got)
    out.append(("replies-all-answered", reply_of(caller, s2) + "," + reply_of(caller, s4)))
    return out


def call_with_serial(conn, serial, dest, member):
    """A call whose serial is @serial (the connection's counter is set back)."""
    conn.serial = serial - 1
    assert conn.call_async(dest, "/p", "com.example.T", member) == serial


def sc_serials(d):
    caller, callee, other = Conn(d.address), Conn(d.address), Conn(d.address)
    s1 = caller.call_async(callee.unique_name, "/p", "com.example.T", "A")
    a = callee.recv(5, lambda m: m.member == "A")
    call_with_serial(caller, s1, callee.unique_name, "Again")
    out = [("serials-pending", reply_of(caller, s1))]
    out.append(("serials-pending-dropped",
                "delivered" if callee.recv(0.3, lambda m: m.member == "Again") else "not delivered"))
    call_with_serial(caller, s1, other.unique_name, "Other")
    o = other.recv(5, lambda m: m.member == "Other")
    out.append(("serials-other-callee", "delivered" if o is not None else "lost"))
    # two calls pending now, the limit: the reused serial is still the error
    call_with_serial(caller, s1, callee.unique_name, "AtLimit")
    out.append(("serials-at-limit", reply_of(caller, s1)))
    callee.reply(a)
    other.reply(o)
    out.append(("serials-answered", reply_of(caller, s1) + "," + reply_of(caller, s1)))
    call_with_serial(caller, s1, callee.unique_name, "After")
    after = callee.recv(5, lambda m: m.member == "After")
    out.append(("serials-after-answer", "delivered" if after is not None else "lost"))
    return out


def sc_timeout(d):
    caller, callee = Conn(d.address), Conn(d.address)
    t = time.monotonic()
    s1 = caller.call_async(callee.unique_name, "/p", "com.example.T", "Slow")
    callee.recv(5, lambda m: m.member == "Slow")
    out = [("timeout-noreply", reply_of(caller, s1, 10))]
    out.append(("timeout-late", "late" if time.monotonic() - t >= 0.4 else "early"))
    s2 = caller.call_async(callee.unique_name, "/p", "com.example.T", "Fast")
    callee.reply(callee.recv(5, lambda m: m.member == "Fast"))
    out.append(("timeout-recovered", reply_of(caller, s2)))

    # three pending calls; the oldest is answered, the other two time out
    # in the order they were made, each about reply_timeout after its call
    # (150 ms apart: calls due in the same instant may go in any order)
    t0 = time.monotonic()
    s3 = caller.call_async(callee.unique_name, "/p", "com.example.T", "First")
    time.sleep(0.2)
    s4 = caller.call_async(callee.unique_name, "/p", "com.example.T", "Second")
    time.sleep(0.15)
    s5 = caller.call_async(callee.unique_name, "/p", "com.example.T", "Third")
    first = callee.recv(5, lambda m: m.member == "First")
    callee.recv(5, lambda m: m.member == "Third")
    callee.reply(first)
    out.append(("timeout-head-answered", reply_of(caller, s3)))
    got = []
    for _ in range(2):
        m = caller.recv(10, lambda m: m.type == ERROR and m.reply_serial in (s4, s5))
        got.append(("second" if m.reply_serial == s4 else "third", m.error_name, time.monotonic() - t0))
    out.append(("timeout-order", ",".join("%s:%s" % (w, e.rsplit(".", 1)[-1]) for w, e, _ in got)))
    out.append(("timeout-after-head", "late" if min(t for _, _, t in got) >= 0.2 + 0.4 else "early"))
    return out


def fill(sender, receiver, make, limit=1500):
    """Send make() to @receiver until the sender gets LimitsExceeded for
    one; returns (messages sent, LimitsExceeded errors)."""
    sent, errors = 0, []
    while sent < limit and not errors:
        for _ in range(10):
            sender.send(*make())
            sent += 1
        errors = pending_errors(sender)
    return sent, errors


def sc_outgoing(d):
    s, r = Conn(d.address), Conn(d.address)
    r.call(*DRIVER, "AddMatch", "s", ["type='signal',member='B'"])
    # r calls s now, s answers when r is full (a requested reply)
    rs = r.call_async(s.unique_name, "/p", "com.example.T", "Ask")
    ask = s.recv(5, lambda m: m.member == "Ask")
    big = "x" * 4000

    def make():
        return s.build(SIGNAL, dest=r.unique_name, path="/p", iface="com.example.T", member="S",
                       signature="s", body=[big])[1], ()
    sent, errors = fill(s, r, make)
    out = [("outgoing-signal", errors[0].error_name if errors else "none after %d" % sent)]
    refused = len(errors)
    out.append(("outgoing-call", reply_of(s, s.call_async(r.unique_name, "/p", "com.example.T", "Call"))))
    s.send_message(METHOD_CALL, dest=r.unique_name, path="/p", iface="com.example.T", member="NoReply",
                   flags=NO_REPLY_EXPECTED)
    out.append(("outgoing-call-noreply", ",".join(m.error_name for m in pending_errors(s)) or "none"))
    s.reply(ask)
    out.append(("outgoing-reply", ",".join(m.error_name for m in pending_errors(s)) or "none"))
    s.send_message(SIGNAL, path="/p", iface="com.example.T", member="B")
    out.append(("outgoing-broadcast", ",".join(m.error_name for m in pending_errors(s, lambda m: m.type == ERROR))
                or "none"))
    # the receiver reads: every signal either arrived or was refused with an error
    got = r.drain(0.5)
    n_s = sum(1 for m in got if m.member == "S")
    out.append(("outgoing-accounted", "yes" if n_s + refused == sent else
                "no: sent %d, delivered %d, refused %d" % (sent, n_s, refused)))
    out.append(("outgoing-reply-lost", "yes" if not any(m.reply_serial == rs for m in got) else "delivered"))
    # recovered: the same kinds pass now
    cs = s.call_async(r.unique_name, "/p", "com.example.T", "Again")
    call = r.recv(5, lambda m: m.member == "Again")
    out.append(("outgoing-recovered-call", "delivered" if call is not None else "lost"))
    s.reply(ask)
    out.append(("outgoing-recovered-reply", reply_of(r, rs)))
    s.send(*make())
    out.append(("outgoing-recovered-signal",
                "delivered" if r.recv(5, lambda m: m.member == "S") is not None else "lost"))
    r.reply(call)
    out.append(("outgoing-recovered-answer", reply_of(s, cs)))
    return out


def sc_outgoing_fds(d):
    s, r = Conn(d.address), Conn(d.address)
    fd = os.open("/dev/null", os.O_RDONLY)

    def make():
        return s.build(SIGNAL, dest=r.unique_name, path="/p", iface="com.example.T", member="F",
                       signature="h", body=[0], n_fds=1)[1], (fd,)
    try:
        sent, errors = fill(s, r, make, 3000)
        out = [("outfds-signal", errors[0].error_name if errors else "none after %d" % sent)]
        got = r.drain(0.5)
        n = sum(1 for m in got if m.member == "F")
        n_fds = sum(len(m.fds) for m in got if m.member == "F")
        out.append(("outfds-accounted", "yes" if n + len(errors) == sent and n_fds == n else
                    "no: sent %d, delivered %d with %d fds, refused %d" % (sent, n, n_fds, len(errors))))
        for m in got:
            for x in m.fds:
                os.close(x)
        s.send(*make())
        m = r.recv(5, lambda m: m.member == "F")
        out.append(("outfds-recovered", "delivered" if m is not None and len(m.fds) == 1 else "lost"))
        for x in (m.fds if m else []):
            os.close(x)
    finally:
        os.close(fd)
    return out


def throttle(s, r, make, limit):
    """Send make() until a write cannot finish within 2 s; then let r read
    while the sender finishes. Returns observations."""
    sent, accepted, rest = 0, 0, None
    while sent < limit:
        data, fds = make()
        n = s.try_send(data, 2.0, fds)
        accepted += n
        if n < len(data):
            rest = (data[n:], ()) if n else (data, fds)
            break
        sent += 1
    out = [("throttled", "yes" if rest else "no, %d messages written" % sent),
           ("bounded", "yes" if accepted < 4 << 20 else "no: %d bytes" % accepted)]
    # no error while throttled: read what the bus sent us so far
    try:
        while s._read(0.2):
            pass
    except (ConnectionError, OSError) as e:
        out.append(("sender-error", str(e)))
    out.append(("no-error", ",".join(m.error_name for m in s.queue if m.type == ERROR) or "none"))
    # the receiver reads; the sender's write goes through
    got = []
    end = time.monotonic() + 20
    while rest and time.monotonic() < end:
        got += r.drain(0.1)
        data, fds = rest
        n = s.try_send(data, 0.1, fds)
        rest = None if n == len(data) else (data[n:], ()) if n else rest
        if not rest:
            sent += 1
    s.ping()
    while time.monotonic() < end and sum(1 for m in got if m.member == "S") < sent:
        got += r.drain(0.2)
    n = sum(1 for m in got if m.member == "S")
    for m in got:
        for x in m.fds:
            os.close(x)
    out.append(("resumed", "yes" if not rest else "no"))
    out.append(("all-delivered", "yes" if n == sent else "no: sent %d, delivered %d" % (sent, n)))
    return out


def sc_incoming(d):
    s, r = Conn(d.address, sndbuf=8192), Conn(d.address)
    big = "x" * 4000

    def make():
        return s.build(SIGNAL, dest=r.unique_name, path="/p", iface="com.example.T", member="S",
                       signature="s", body=[big])[1], ()
    return [("incoming-" + k, v) for k, v in throttle(s, r, make, 2000)]


def sc_incoming_fds(d):
    s, r = Conn(d.address, sndbuf=8192), Conn(d.address)
    fd = os.open("/dev/null", os.O_RDONLY)
    big = "x" * 4000

    def make():
        return s.build(SIGNAL, dest=r.unique_name, path="/p", iface="com.example.T", member="S",
                       signature="sh", body=[big, 0], n_fds=1)[1], (fd,)
    try:
        return [("infds-" + k, v) for k, v in throttle(s, r, make, 2000)]
    finally:
        os.close(fd)


def hello(c):
    return error_name(c.call(*DRIVER, "Hello"))


def sc_conns(d):
    a, b = Conn(d.address), Conn(d.address)
    c = Conn(d.address, hello=False)
    out = [("conns-per-user", hello(c)), ("conns-refused-stays", "closed" if c.disconnected(0.3) else "open")]
    if ROOT:
        n1 = Conn(d.address, euid=65534)
        n2 = Conn(d.address, euid=65534, hello=False)
        out.append(("conns-total", hello(n2)))
        n1.close()
        time.sleep(0.2)
        out.append(("conns-total-recovered", hello(n2)))
    a.close()
    bustest.wait_for(lambda: False, 0.2)
    m = c.call(*DRIVER, "Hello")
    out.append(("conns-per-user-recovered", error_name(m)))
    # refused Hellos took no number: :1.0 and :1.1, (:1.2 for nobody), then this one
    out.append(("conns-recovered-name", m.body[0] if m.type == METHOD_RETURN else "none"))
    return out


def raw_socket(d):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(d.socket)
    return s


def sc_incomplete(d):
    s1, s2 = raw_socket(d), raw_socket(d)
    time.sleep(0.2)
    s3 = raw_socket(d)  # waits in the listen backlog
    s3.sendall(b"\0AUTH EXTERNAL " + str(os.geteuid()).encode().hex().encode() + b"\r\n")
    s3.settimeout(0.5)
    try:
        first = "answered: %r" % s3.recv(100)
    except socket.timeout:
        first = "waiting"
    out = [("incomplete-over", first)]
    s1.close()
    s3.settimeout(5)
    try:
        line = s3.recv(100)
        out.append(("incomplete-recovered", "OK" if line.startswith(b"OK ") else repr(line)))
    except socket.timeout:
        out.append(("incomplete-recovered", "still waiting"))
    s2.close()
    s3.close()
    return out


def sc_auth(d):
    s = raw_socket(d)
    s.settimeout(5)
    t = time.monotonic()
    try:
        closed = s.recv(100) == b""
    except (socket.timeout, OSError):
        closed = False
    out = [("auth-silent", "closed" if closed else "open"),
           ("auth-silent-late", "late" if time.monotonic() - t >= 0.4 else "early")]
    c = Conn(d.address, hello=False)
    out.append(("auth-no-hello", "closed" if c.disconnected(5) else "open"))
    c = Conn(d.address)
    out.append(("auth-prompt", "open" if not c.disconnected(1.0) and c.ping() else "closed"))
    return out


def partial_with_fd(c, data, fd):
    c.sock.sendmsg([data[:20]], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", fd))])


def sc_pending_fd(d):
    fd = os.open("/dev/null", os.O_RDONLY)
    try:
        a = Conn(d.address)
        data = a.build(SIGNAL, dest=a.unique_name, path="/p", iface="com.example.T", member="F",
                       signature="h", body=[0], n_fds=1)[1]
        t = time.monotonic()
        partial_with_fd(a, data, fd)
        out = [("pendingfd-held", "closed" if a.disconnected(5) else "open"),
               ("pendingfd-late", "late" if time.monotonic() - t >= 0.4 else "early")]
        b = Conn(d.address)
        b.send(b.build(SIGNAL, dest=b.unique_name, path="/p", iface="com.example.T", member="P")[1][:20])
        out.append(("pendingfd-no-fds", "closed" if b.disconnected(1.5) else "open"))
        c = Conn(d.address)
        data = c.build(SIGNAL, dest=c.unique_name, path="/p", iface="com.example.T", member="F",
                       signature="h", body=[0], n_fds=1)[1]
        partial_with_fd(c, data, fd)
        time.sleep(0.2)
        c.send(data[20:])
        m = c.recv(5, lambda m: m.member == "F")
        for x in (m.fds if m else []):
            os.close(x)
        out.append(("pendingfd-finished", "delivered" if m is not None and len(m.fds) == 1 else "lost"))
        out.append(("pendingfd-finished-stays", "closed" if c.disconnected(1.5) else "open"))
    finally:
        os.close(fd)
    return out


def sized(c, total, n_fds=0):
    """A signal to @c itself of exactly @total bytes with @n_fds fds."""
    pad = 0
    while True:
        data = c.build(SIGNAL, dest=c.unique_name, path="/p", iface="com.example.T", member="Z",
                       signature="ay" + "h" * n_fds, body=[b"z" * pad] + [i for i in range(n_fds)],
                       n_fds=n_fds)[1]
        if len(data) >= total:
            assert len(data) == total, (len(data), total)
            return data
        pad += total - len(data)


def send_self(c, data, fds=()):
    """Send @data to @c itself: "delivered", or "closed" if the bus hung up."""
    try:
        c.send(data, fds)
        m = c.recv(3, lambda m: m.member == "Z")
    except (ConnectionError, OSError):
        return "closed"
    for x in (m.fds if m else []):
        os.close(x)
    return "delivered" if m is not None else ("closed" if c.disconnected(2) else "lost")


def sc_size(d):
    fd = os.open("/dev/null", os.O_RDONLY)
    try:
        c = Conn(d.address)
        out = [("size-at-limit", send_self(c, sized(c, 4096)))]
        c = Conn(d.address)
        out.append(("size-over", send_self(c, sized(c, 4104))))
        c = Conn(d.address)
        out.append(("fds-at-limit", send_self(c, sized(c, 256, 2), (fd, fd))))
        c = Conn(d.address)
        out.append(("fds-over", send_self(c, sized(c, 256, 3), (fd, fd, fd))))
        c = Conn(d.address)
        out.append(("size-recovered", send_self(c, sized(c, 1024))))
    finally:
        os.close(fd)
    return out


def sc_activation(d):
    c = Conn(d.address)
    s1 = c.call_async("com.example.Slow", "/p", "com.example.T", "M1")
    s2 = c.call_async("com.example.Slow", "/p", "com.example.T", "M2")
    s3 = c.call_async("com.example.Slow", "/p", "com.example.T", "M3")
    out = [("activation-over", reply_of(c, s3))]
    svc = Conn(d.address)
    out.append(("activation-owned", request_name(svc, "com.example.Slow")))
    got = [svc.recv(5, lambda m, x=x: m.member == x) for x in ("M1", "M2")]
    out.append(("activation-delivered", "yes" if all(got) else "no"))
    for m in got:
        if m:
            svc.reply(m)
    out.append(("activation-answered", reply_of(c, s1) + "," + reply_of(c, s2)))
    # room again: a start is accepted (no immediate error), then times out
    t = time.monotonic()
    s4 = c.call_async("com.example.Slow2", "/p", "com.example.T", "M4")
    s5 = c.call_async("com.example.Slow2", "/p", "com.example.T", "M5")
    out.append(("activation-recovered", "pending" if c.recv(0.3, lambda m: m.reply_serial in (s4, s5)) is None
                else "refused"))
    out.append(("activation-timeout", reply_of(c, s4, 10)))
    out.append(("activation-timeout-late", "late" if time.monotonic() - t >= 0.9 else "early"))
    out.append(("activation-timeout-all", reply_of(c, s5, 10)))
    return out


SERVICES = {"com.example.Slow": "/bin/true", "com.example.Slow2": "/bin/true"}


def activation_config(dir):
    sdir = os.path.join(dir, "services")
    os.makedirs(sdir, exist_ok=True)
    for name, exe in SERVICES.items():
        with open(os.path.join(sdir, name + ".service"), "w") as f:
            f.write("[D-BUS Service]\nName=%s\nExec=%s\n" % (name, exe))
    return "  <servicedir>%s</servicedir>\n" % sdir


# (name, limits, scenario, [(key, description, expected)])
SCENARIOS = [
    ("names", {"max_names_per_connection": 3}, sc_names, [
        ("names-first", "RequestName within max_names_per_connection (the unique name counts)", "1"),
        ("names-second", "RequestName up to the limit", "1"),
        ("names-over", "RequestName over max_names_per_connection", LIMITS_EXCEEDED),
        ("names-recovered", "RequestName after ReleaseName", "1")]),
    ("matches", {"max_match_rules_per_connection": 3}, sc_matches, [
        ("matches-in", "AddMatch up to max_match_rules_per_connection", "ok,ok,ok"),
        ("matches-over", "AddMatch over the limit", LIMITS_EXCEEDED),
        ("matches-recovered", "AddMatch after RemoveMatch", "ok")]),
    ("replies", {"max_replies_per_connection": 2}, sc_replies, [
        ("replies-over", "a call over max_replies_per_connection", LIMITS_EXCEEDED),
        ("replies-answered", "a pending call is answered", "ok"),
        ("replies-recovered", "a call after one was answered reaches the callee", "delivered"),
        ("replies-all-answered", "the other calls are answered", "ok,ok")]),
    ("serials", {"max_replies_per_connection": 2}, sc_serials, [
        ("serials-pending", "a call reusing the serial of a pending call to the same callee",
         "org.freedesktop.DBus.Error.AccessDenied"),
        ("serials-pending-dropped", "it does not reach the callee", "not delivered"),
        ("serials-other-callee", "the same serial to another callee passes", "delivered"),
        ("serials-at-limit", "at max_replies_per_connection the reused serial is still refused as reused",
         "org.freedesktop.DBus.Error.AccessDenied"),
        ("serials-answered", "both pending calls with that serial are answered", "ok,ok"),
        ("serials-after-answer", "once answered, the serial may be used again", "delivered")]),
    ("timeout", {"reply_timeout": 500}, sc_timeout, [
        ("timeout-noreply", "an unanswered call past reply_timeout", "org.freedesktop.DBus.Error.NoReply"),
        ("timeout-late", "NoReply comes after reply_timeout, not before", "late"),
        ("timeout-recovered", "a call answered in time", "ok"),
        ("timeout-head-answered", "the oldest of three pending calls is answered", "ok"),
        ("timeout-order", "the two unanswered calls time out in call order", "second:NoReply,third:NoReply"),
        ("timeout-after-head", "after the answered head, no NoReply before reply_timeout", "late")]),
    ("outgoing", {"max_outgoing_bytes": 65536}, sc_outgoing, [
        ("outgoing-signal", "unicast signals to a receiver that does not read (max_outgoing_bytes)",
         LIMITS_EXCEEDED),
        ("outgoing-call", "a call to the full receiver", LIMITS_EXCEEDED),
        ("outgoing-call-noreply", "a call without reply to the full receiver", LIMITS_EXCEEDED),
        ("outgoing-reply", "a requested reply to the full receiver", LIMITS_EXCEEDED),
        ("outgoing-broadcast", "a broadcast it subscribed to: skipped, no error", "none"),
        ("outgoing-accounted", "every signal was delivered or refused with an error", "yes"),
        ("outgoing-reply-lost", "the refused reply did not arrive", "yes"),
        ("outgoing-recovered-call", "after the receiver read: a call reaches it", "delivered"),
        ("outgoing-recovered-reply", "after the receiver read: the reply, sent again, passes (still requested)",
         "ok"),
        ("outgoing-recovered-signal", "after the receiver read: a unicast signal reaches it", "delivered"),
        ("outgoing-recovered-answer", "after the receiver read: its answer comes back", "ok")]),
    ("out-fds", {"max_outgoing_unix_fds": 4}, sc_outgoing_fds, [
        ("outfds-signal", "signals with fds to a receiver that does not read (max_outgoing_unix_fds)",
         LIMITS_EXCEEDED),
        ("outfds-accounted", "every signal was delivered with its fd or refused with an error", "yes"),
        ("outfds-recovered", "after the receiver read: a signal with an fd reaches it", "delivered")]),
    ("incoming", {"max_incoming_bytes": 65536, "max_outgoing_bytes": 64 << 20}, sc_incoming, [
        ("incoming-throttled", "a fast sender to a receiver that does not read is throttled (max_incoming_bytes)",
         "yes"),
        ("incoming-bounded", "the bus took less than 4 MiB from it", "yes"),
        ("incoming-no-error", "the throttled sender got no error", "none"),
        ("incoming-resumed", "once the receiver reads, the sender's write goes through", "yes"),
        ("incoming-all-delivered", "every signal arrived", "yes")]),
    ("in-fds", {"max_incoming_unix_fds": 4, "max_outgoing_unix_fds": 4096}, sc_incoming_fds, [
        ("infds-throttled", "a fast sender of fds to a receiver that does not read is throttled "
         "(max_incoming_unix_fds)", "yes"),
        ("infds-bounded", "the bus took less than 4 MiB from it", "yes"),
        ("infds-no-error", "the throttled sender got no error", "none"),
        ("infds-resumed", "once the receiver reads, the sender's write goes through", "yes"),
        ("infds-all-delivered", "every signal arrived", "yes")]),
    ("conns", {"max_connections_per_user": 2, "max_completed_connections": 3}, sc_conns, [
        ("conns-per-user", "Hello over max_connections_per_user", LIMITS_EXCEEDED),
        ("conns-refused-stays", "the refused connection is not closed", "open"),
        ("conns-total", "Hello of another user over max_completed_connections", LIMITS_EXCEEDED),
        ("conns-total-recovered", "its Hello again after one of its user's connections left", "ok"),
        ("conns-per-user-recovered", "the first refused Hello again after a connection of its user left", "ok"),
        ("conns-recovered-name", "refused Hellos used no unique name number", ":1.4" if ROOT else ":1.2")]),
    ("incomplete", {"max_incomplete_connections": 2, "auth_timeout": 30000}, sc_incomplete, [
        ("incomplete-over", "a client over max_incomplete_connections is not served", "waiting"),
        ("incomplete-recovered", "it is served once an incomplete connection left", "OK")]),
    ("auth", {"auth_timeout": 500}, sc_auth, [
        ("auth-silent", "a connection that does not authenticate is closed (auth_timeout)", "closed"),
        ("auth-silent-late", "not before auth_timeout", "late"),
        ("auth-no-hello", "an authenticated connection without Hello is closed too", "closed"),
        ("auth-prompt", "a connection that says Hello in time stays", "open")]),
    ("pending-fd", {"pending_fd_timeout": 500}, sc_pending_fd, [
        ("pendingfd-held", "fds sent with a message that is never finished: disconnected (pending_fd_timeout)",
         "closed"),
        ("pendingfd-late", "not before pending_fd_timeout", "late"),
        ("pendingfd-no-fds", "an unfinished message without fds: not disconnected", "open"),
        ("pendingfd-finished", "a message with an fd finished in time is delivered", "delivered"),
        ("pendingfd-finished-stays", "and its sender stays", "open")]),
    ("size", {"max_message_size": 4096, "max_message_unix_fds": 2}, sc_size, [
        ("size-at-limit", "a message of max_message_size bytes", "delivered"),
        ("size-over", "a message over max_message_size: disconnected", "closed"),
        ("fds-at-limit", "a message with max_message_unix_fds fds", "delivered"),
        ("fds-over", "a message with more fds: disconnected", "closed"),
        ("size-recovered", "a new connection sends normally", "delivered")]),
    ("activation", {"max_pending_service_starts": 2, "service_start_timeout": 1000}, sc_activation, [
        ("activation-over", "an auto-start over max_pending_service_starts", LIMITS_EXCEEDED),
        ("activation-owned", "the service appears", "1"),
        ("activation-delivered", "the pending calls reach it", "yes"),
        ("activation-answered", "and are answered", "ok,ok"),
        ("activation-recovered", "new starts are accepted again", "pending"),
        ("activation-timeout", "a start whose service never appears (service_start_timeout)",
         "org.freedesktop.DBus.Error.TimedOut"),
        ("activation-timeout-late", "not before service_start_timeout", "late"),
        ("activation-timeout-all", "every call waiting for it fails", "org.freedesktop.DBus.Error.TimedOut")]),
]

PER_USER_KEYS = {"conns-total", "conns-total-recovered"}


def run(binary, label, tmp):
    """{scenario: {key: observed}} for one broker."""
    results = {}
    for name, limits, fn, _ in SCENARIOS:
        dir = os.path.join(tmp, label, name)
        os.makedirs(dir)
        extra = activation_config(dir) if name == "activation" else ""
        try:
            d = Daemon(binary, config(limits, extra), dir)
        except RuntimeError as e:
            results[name] = {"start": str(e)}
            continue
        try:
            results[name] = dict(fn(d))
        except Exception as e:  # a client failing is an observation too
            results[name] = {"exception": "%s: %s" % (type(e).__name__, e)}
        finally:
            alive = d.alive()
            d.stop()
            if not alive:
                results[name]["exit"] = "died: %s\n%s" % (d.proc.returncode, d.log_text()[-2000:])
    return results


def report(tap, label, results, reference):
    for name, _, _, checks in SCENARIOS:
        got = results.get(name, {})
        for special in ("start", "exception", "exit"):
            if special in got:
                tap.ok(False, "%s: %s: %s" % (label, name, special), got[special])
        for key, desc, expected in checks:
            if key in PER_USER_KEYS and not ROOT:
                tap.skip("%s: %s" % (label, desc), "needs root to connect as another user")
                continue
            value = got.get(key, "(not reached)")
            if reference is None:
                tap.ok(value == expected, "%s: %s" % (label, desc), "got %r, expected %r" % (value, expected))
            else:
                ref = reference.get(name, {}).get(key, "(not reached)")
                tap.ok(value == expected and value == ref, "%s: %s" % (label, desc),
                       "bus1-dbus: %r; dbus-daemon: %r; expected %r" % (value, ref, expected))


def main():
    tap = bustest.Tap()
    brokers = bustest.brokers()
    tmp = tempfile.mkdtemp(prefix="test-limits-bus-")
    os.chmod(tmp, 0o755)
    try:
        reference = None
        for label, binary, why in brokers:
            if binary is None:
                tap.skip(label, why)
                continue
            results = run(binary, label, tmp)
            report(tap, label, results, reference if label == "bus1-dbus" else None)
            if label == "dbus-daemon":
                reference = results
    finally:
        if not os.environ.get("KEEP_TMP"):
            shutil.rmtree(tmp, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
