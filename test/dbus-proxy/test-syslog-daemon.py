#!/usr/bin/python3
"""
Logging to syslog, on dbus-daemon and on bus1-dbus: the same scenarios on
each, the same outcome expected of each (what dbus-daemon 1.14.10 does,
observed).

The test re-runs itself in a private mount namespace (unshare --mount)
whose /dev is a fresh tmpfs holding the usual device nodes and, at
/dev/log, a datagram socket of the test's own: the real syslog path, no
test hook. Needs root and unshare(1); SKIP otherwise.

For each broker and each way of asking (no option, <syslog/> in the
configuration, --syslog, --syslog-only, --nosyslog together with
<syslog/>), a SIGHUP makes the broker log that it reloaded its
configuration; the line must arrive
 - on syslog exactly with <syslog/>, --syslog and --syslog-only (the
   command line beats the configuration: --nosyslog turns <syslog/> off),
 - on stderr exactly without --syslog-only,
and every syslog datagram must be "<PRI>timestamp IDENT[PID]: ..." with
facility LOG_DAEMON, IDENT the broker's name and PID the broker's.
For bus1-dbus also a client that sends garbage instead of SASL: its
disconnect line arrives on syslog, and with --syslog-only not on stderr.

Prints TAP.
"""

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from daemons import ALLOW_ALL, NOISE, Bus, Tap, brokers, hello_message, reply_destination, sasl

NS_MARKER = "BUS1_TEST_SYSLOG_NAMESPACE"
LOG_DAEMON = 3
WAIT = 5.0

# (description, extra configuration, extra arguments, syslog?, stderr?)
CASES = [
    ("no option", "", [], False, True),
    ("<syslog/>", "<syslog/>", [], True, True),
    ("--syslog", "", ["--syslog"], True, True),
    ("--syslog-only", "", ["--syslog-only"], True, False),
    ("--nosyslog with <syslog/>", "<syslog/>", ["--nosyslog"], False, True),
]

RELOADED = re.compile(r"reloaded configuration|configuration reloaded", re.I)
GARBAGE = re.compile(r"authentication failed")


def reexec_in_namespace():
    """Run this file again in a new mount namespace; returns its status."""
    if os.getuid() != 0:
        print("1..0 # SKIP needs root for a mount namespace with a private /dev/log")
        return 0
    unshare = shutil.which("unshare")
    if not unshare:
        print("1..0 # SKIP unshare(1) not installed")
        return 0
    probe = subprocess.run([unshare, "--mount", "true"], stderr=subprocess.PIPE, universal_newlines=True)
    if probe.returncode != 0:
        print("1..0 # SKIP unshare --mount does not work here: %s" % probe.stderr.strip())
        return 0
    env = dict(os.environ)
    env[NS_MARKER] = "1"
    return subprocess.run([unshare, "--mount", "--propagation", "private", sys.executable,
                           os.path.abspath(__file__)], env=env).returncode


def private_dev():
    """Replace /dev (in our namespace only) by a tmpfs with the usual nodes."""
    new = tempfile.mkdtemp(prefix="bus1-test-dev-")

    def sh(*argv):
        subprocess.run(argv, check=True)

    sh("mount", "-t", "tmpfs", "-o", "mode=755", "bus1-test-dev", new)
    for node in ("null", "zero", "full", "random", "urandom", "tty"):
        if os.path.exists("/dev/" + node):
            open(os.path.join(new, node), "w").close()
            sh("mount", "--bind", "/dev/" + node, os.path.join(new, node))
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, os.path.join(new, name))
    sh("mount", "--move", new, "/dev")
    os.rmdir(new)


def drain(sock, quiet=0.3):
    """Every datagram until @sock is quiet for @quiet seconds."""
    out = []
    while select.select([sock], [], [], quiet)[0]:
        out.append(sock.recv(65536).decode(errors="replace"))
    return out


def wait_line(sock, collected, pattern, stderr_of=None):
    """
    Wait up to WAIT seconds for a line matching @pattern on syslog (adding
    every datagram to @collected) or, with @stderr_of (a Bus), on its
    stderr. True once seen.
    """
    end = time.monotonic() + WAIT
    while time.monotonic() < end:
        if any(pattern.search(l) for l in collected):
            return True
        if stderr_of is not None and pattern.search(stderr_of.stderr()):
            return True
        if select.select([sock], [], [], 0.05)[0]:
            collected.append(sock.recv(65536).decode(errors="replace"))
    return False


def bad_syslog_lines(lines, label, pid):
    """Lines not of the form "<PRI>Mmm dd hh:mm:ss label[pid]: ..." with facility daemon."""
    bad = []
    form = re.compile(r"^<(\d+)>[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d %s\[%d\]: " % (re.escape(label), pid))
    for line in lines:
        m = form.match(line)
        if not m or int(m.group(1)) >> 3 != LOG_DAEMON:
            bad.append(line)
    return bad


def garbage_client(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(b"this is not SASL\r\n")
    s.settimeout(WAIT)
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
    s.close()


def run_case(tap, log, label, binary, case):
    what, extra, args, want_syslog, want_stderr = case
    drain(log, 0.05)
    bus = Bus(binary, ALLOW_ALL + extra, args=args)
    if not tap.ok(bus.address is not None, "%s, %s: starts" % (label, what), bus.stderr()):
        bus.stop()
        return
    pid = bus.proc.pid
    lines = []
    # a Hello answered: the main loop runs, so SIGHUP is handled (before
    # that, dbus-daemon still has the default action: exit)
    replies, _ = sasl(bus.socket, [b"AUTH EXTERNAL %s\r\n" % str(os.getuid()).encode().hex().encode(),
                                   b"BEGIN\r\n" + hello_message()])
    tap.ok(len(replies) > 1 and reply_destination(replies[1]) is not None,
           "%s, %s: answers Hello" % (label, what), repr(replies))
    bus.proc.send_signal(signal.SIGHUP)
    # wait where the line must show up; then give the other target time too
    seen = wait_line(log, lines, RELOADED, bus if want_stderr else None)
    lines += drain(log)
    on_syslog = any(RELOADED.search(l) for l in lines)
    on_stderr = bool(RELOADED.search(bus.stderr()))
    tap.ok(seen and on_syslog == want_syslog,
           "%s, %s: the reload line %s syslog" % (label, what, "reaches" if want_syslog else "stays off"),
           "syslog: %r\nstderr: %r" % (lines, bus.stderr()))
    tap.ok(seen and on_stderr == want_stderr,
           "%s, %s: the reload line %s stderr" % (label, what, "reaches" if want_stderr else "stays off"),
           "syslog: %r\nstderr: %r" % (lines, bus.stderr()))

    if label == "bus1-dbus" and want_syslog:
        garbage_client(bus.socket)
        seen = wait_line(log, lines, GARBAGE)
        tap.ok(seen, "%s, %s: a client sending garbage is logged on syslog" % (label, what), repr(lines))
        if not want_stderr:
            lines += drain(log)
            tap.ok(not GARBAGE.search(bus.stderr()), "%s, %s: ... and not on stderr" % (label, what),
                   bus.stderr())

    lines += drain(log, 0.1)
    ours = [l for l in lines if not any(n in l for n in NOISE)]
    bad = bad_syslog_lines(ours, label, pid)
    if want_syslog:
        tap.ok(ours and not bad, "%s, %s: syslog lines are <daemon.PRI> %s[%d]: ..." % (label, what, label, pid),
               "bad: %r" % (bad or lines))
    else:
        tap.ok(not ours, "%s, %s: nothing on syslog" % (label, what), repr(ours))
    bus.stop()


def main():
    if os.environ.get(NS_MARKER) != "1":
        return reexec_in_namespace()
    found = brokers()
    if len(found) < 2:
        print("1..0 # SKIP need dbus-daemon and bus1-dbus, found %s" % [b for b, _ in found])
        return 0
    private_dev()
    log = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    log.bind("/dev/log")
    os.chmod("/dev/log", 0o666)
    tap = Tap()
    for label, binary in found:
        for case in CASES:
            run_case(tap, log, label, binary, case)
    log.close()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
