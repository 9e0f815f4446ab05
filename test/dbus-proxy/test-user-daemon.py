#!/usr/bin/python3
"""
<user> in the configuration, on dbus-daemon and on bus1-dbus: the same
scenarios on each, the same outcome expected of each (what dbus-daemon
1.14.10 does, observed). Needs root (SKIP otherwise).

 - Started as root with <user>nobody</user>: the socket (in a directory
   only root may write) is bound and made 0777 and the pid file written
   while still root; then the daemon runs with real, effective, saved and
   filesystem uid and gid of nobody, no supplementary groups and no
   capability but (dbus-daemon, built with libcap-ng) CAP_AUDIT_WRITE.
   A client running as nobody connects, says Hello, and the driver reports
   nobody's uid for itself (GetConnectionUnixUser of org.freedesktop.DBus).
   The bus now belongs to nobody: a root client is refused, since the
   policy has no <allow user="*"/>; with it, root gets in too.
 - <user> naming a user that does not exist: the address is printed (the
   sockets come first), then the daemon exits with status 1 naming the
   user, and leaves no pid file.
 - Started as nobody with <user>root</user>: nothing changes and nothing
   is said; the daemon runs as nobody and serves clients.

Prints TAP.
"""

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile

from daemons import ALLOW_ALL, Bus, Tap, brokers

try:
    import dbus  # noqa: F401 (the clients use it)
except ImportError:
    print("1..0 # SKIP python3-dbus not installed")
    sys.exit(0)

NOBODY = pwd.getpwnam("nobody")
CAP_AUDIT_WRITE = 1 << 29

# Runs as nobody: Hello, then the driver's uid for itself.
CLIENT = r'''
import sys, dbus
c = dbus.bus.BusConnection(sys.argv[1])
drv = dbus.Interface(c.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus"), "org.freedesktop.DBus")
print(c.get_unique_name(), int(drv.GetConnectionUnixUser("org.freedesktop.DBus")))
'''


def as_nobody():
    os.setgroups([])
    os.setgid(NOBODY.pw_gid)
    os.setuid(NOBODY.pw_uid)


def status_of(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()
    return fields


def client_as_nobody(address):
    """(unique name, driver uid) as a nobody client sees them, or an error string."""
    try:
        r = subprocess.run([sys.executable, "-c", CLIENT, address], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, timeout=10,
                           preexec_fn=as_nobody, cwd="/")
    except subprocess.TimeoutExpired:
        return "timeout"
    words = r.stdout.split()
    if r.returncode != 0 or len(words) != 2:
        return "client failed: %s" % (r.stderr.strip().splitlines()[-1:] or r.returncode)
    return words[0], int(words[1])


def root_connects(address):
    try:
        c = dbus.bus.BusConnection(address)
        c.close()
        return True
    except dbus.exceptions.DBusException:
        return False


def check_switch(tap, label, binary):
    for allow_all in (False, True):
        body = ALLOW_ALL + "\n  <user>nobody</user>"
        if allow_all:
            body += '\n  <policy context="default"><allow user="*"/></policy>'
        tmp = tempfile.mkdtemp(prefix="bus1-test-user-")
        os.chmod(tmp, 0o755)
        pidfile = os.path.join(tmp, "pid")
        bus = Bus(binary, body + "\n  <pidfile>%s</pidfile>" % pidfile)
        try:
            if not tap.ok(bus.address is not None, "%s: starts as root with <user>nobody</user>%s" %
                          (label, " and <allow user=\"*\"/>" if allow_all else ""), bus.stderr()):
                continue
            if allow_all:
                tap.ok(root_connects(bus.address), "%s: ... with <allow user=\"*\"/> a root client gets in" % label)
                continue
            # once a Hello is answered the switch is done: it comes before the loop
            got = client_as_nobody(bus.address)
            tap.ok(isinstance(got, tuple) and got[0].startswith(":1.") and got[1] == NOBODY.pw_uid,
                   "%s: a nobody client says Hello; the driver reports uid %d for itself" % (label, NOBODY.pw_uid),
                   repr(got))
            st = status_of(bus.proc.pid)
            nob_uid, nob_gid = str(NOBODY.pw_uid), str(NOBODY.pw_gid)
            tap.ok(st["Uid"] == [nob_uid] * 4 and st["Gid"] == [nob_gid] * 4,
                   "%s: runs with uid and gid of nobody (real, effective, saved, fs)" % label,
                   "Uid %s Gid %s" % (st["Uid"], st["Gid"]))
            tap.ok(st["Groups"] == [], "%s: ... with no supplementary groups" % label, st["Groups"])
            caps = int(st["CapEff"][0], 16) | int(st["CapPrm"][0], 16)
            tap.ok(caps & ~CAP_AUDIT_WRITE == 0, "%s: ... and no capability (but CAP_AUDIT_WRITE)" % label,
                   "CapEff %s CapPrm %s" % (st["CapEff"], st["CapPrm"]))
            try:
                with open(pidfile) as f:
                    written = f.read().strip()
            except OSError as e:
                written = str(e)
            tap.ok(written == str(bus.proc.pid), "%s: the pid file was written as root" % label, written)
            mode = os.stat(bus.socket)
            tap.ok(stat.S_IMODE(mode.st_mode) == 0o777 and mode.st_uid == 0,
                   "%s: the socket was made (0777, by root) before the switch" % label,
                   "mode %o uid %d" % (mode.st_mode, mode.st_uid))
            tap.ok(not root_connects(bus.address),
                   "%s: the bus belongs to nobody now: a root client is refused" % label)
        finally:
            bus.stop()
            shutil.rmtree(tmp, ignore_errors=True)


def check_unknown_user(tap, label, binary):
    tmp = tempfile.mkdtemp(prefix="bus1-test-user-")
    pidfile = os.path.join(tmp, "pid")
    bus = Bus(binary, ALLOW_ALL + "\n  <user>bus1-no-such-user</user>\n  <pidfile>%s</pidfile>" % pidfile)
    status = bus.wait()
    tap.ok(bus.address is not None, "%s: an unknown <user>: the address is printed first" % label)
    tap.ok(status == 1, "%s: ... then it exits with status 1" % label, "status %r" % status)
    tap.ok('"bus1-no-such-user"' in bus.stderr(), "%s: ... naming the user" % label, bus.stderr())
    tap.ok(not os.path.exists(pidfile), "%s: ... and leaves no pid file" % label)
    bus.stop()
    shutil.rmtree(tmp, ignore_errors=True)


def nobody_can_run(binary):
    """Whether nobody can execute @binary (a build tree in a 0700 directory: no)."""
    try:
        subprocess.run([binary, "--version"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=10, preexec_fn=as_nobody, cwd="/")
    except PermissionError:
        return False
    return True


def check_not_root(tap, label, binary):
    if not nobody_can_run(binary):
        for what in ("started as nobody with <user>root</user>: runs", "... still as nobody",
                     "... and serves a nobody client", "... saying nothing"):
            tap.skip("%s: %s" % (label, what), "'nobody' cannot execute %s (a directory on its path is "
                     "not searchable)" % binary)
        return
    tmp = tempfile.mkdtemp(prefix="bus1-test-user-")
    os.chmod(tmp, 0o755)
    os.chown(tmp, NOBODY.pw_uid, NOBODY.pw_gid)
    address = "unix:path=" + os.path.join(tmp, "socket")
    bus = Bus(binary, ALLOW_ALL + "\n  <user>root</user>", preexec=as_nobody, listen=address)
    try:
        if not tap.ok(bus.address is not None, "%s: started as nobody with <user>root</user>: runs" % label,
                      bus.stderr()):
            return
        st = status_of(bus.proc.pid)
        tap.ok(st["Uid"] == [str(NOBODY.pw_uid)] * 4, "%s: ... still as nobody" % label, st["Uid"])
        got = client_as_nobody(bus.address)
        tap.ok(isinstance(got, tuple) and got[1] == NOBODY.pw_uid, "%s: ... and serves a nobody client" % label,
               repr(got))
        tap.ok(bus.stderr() == "", "%s: ... saying nothing" % label, bus.stderr())
    finally:
        bus.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if os.getuid() != 0:
        print("1..0 # SKIP needs root to switch users")
        return 0
    found = brokers()
    if len(found) < 2:
        print("1..0 # SKIP need dbus-daemon and bus1-dbus, found %s" % [b for b, _ in found])
        return 0
    tap = Tap()
    for label, binary in found:
        check_switch(tap, label, binary)
        check_unknown_user(tap, label, binary)
        check_not_root(tap, label, binary)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
