#!/usr/bin/python3
#
# Records verdicts from the reference dbus-daemon and compares them with
# libpolicy's (through test/policy/test-policy-eval).
#
# Replies (REPLY_ROWS: send_requested_reply/receive_requested_reply rules) are
# also run against bus1-dbus ($BUS1_DBUS or $top_builddir/bus1-dbus, when
# built), so each reply row must agree three ways: dbus-daemon, libpolicy,
# the broker. A caller (another uid) either calls a replier and waits for
# its answer (a requested reply), or is sent a reply it never asked for (an
# unrequested one, reply serial 4242); the replier then sends the caller a
# unicast signal "Replied", so the caller knows the reply, if it passed,
# arrived before it (one sender, one order). Their clients are raw
# connections from test/lib/bustest.py.
#
# A private dbus-daemon runs with the policy below. Receiver processes (as
# root) own names and answer every method call; client processes run as
# other users (setpriv --reuid/--regid --init-groups) and try to connect,
# to own a name, or to call a method. "allow"/"deny" is what the client
# observed (AccessDenied means deny). Each row is then evaluated by
# test-policy-eval (policy-eval.c) on the same configuration file; the two must agree.
#
# Needs root (to switch users), setpriv, dbus-daemon and python3-dbus;
# otherwise the whole test is skipped with its reason. Speaks TAP.

import os
import shutil
import subprocess
import sys
import tempfile
import time

BUILDDIR = os.environ.get('top_builddir', '.')
SRCDIR = os.environ.get('top_srcdir', os.path.join(os.path.dirname(os.path.abspath(__file__)), '../..'))
BUS1_DBUS = os.environ.get('BUS1_DBUS') or os.path.join(BUILDDIR, 'bus1-dbus')
EVAL = os.path.join(BUILDDIR, 'test/policy/test-policy-eval')
DAEMON = os.environ.get('DBUS_DAEMON') or shutil.which('dbus-daemon') or ''

POLICY = '''<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path=@SOCKET@</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny user="bin"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus" send_member="UpdateActivationEnvironment"/>
    <allow send_destination="com.example.Svc"/>
    <deny send_destination="com.example.Svc" send_interface="com.example.Admin"/>
    <deny send_destination="com.example.Svc" send_path="/secret"/>
    <deny send_destination="com.example.Svc" min_fds="1"/>
    <allow send_destination="com.example.Lonely" send_interface="com.example.NoFds" max_fds="0"/>
    <allow own_prefix="com.example.Prefix"/>
    <allow send_destination_prefix="com.example.Prefix"/>
    <deny send_destination="com.example.Prefix.Secret"/>
    <allow send_destination="com.example.Other" send_interface="com.example.Open" send_member="Ping"/>
    <allow send_destination="com.example.DaemonSvc"/>
    <deny send_type="signal" send_interface="com.example.Quiet" send_broadcast="true"/>
    <deny send_type="signal" send_interface="com.example.ToWatch" send_destination="com.example.Watch"/>
  </policy>
  <policy user="root">
    <allow own="*"/>
    <allow eavesdrop="true"/>
    <deny eavesdrop="true" receive_interface="com.example.Private"/>
    <deny receive_type="signal" receive_interface="com.example.NoRecv"/>
  </policy>
  <policy user="daemon">
    <allow own="com.example.DaemonName"/>
    <allow own="com.example.DaemonSvc"/>
    <deny receive_interface="com.example.Hidden" receive_type="method_call"/>
  </policy>
  <policy group="daemon">
    <allow own="com.example.GroupName"/>
  </policy>
  <policy user="nobody">
    <deny own="com.example.Prefix.NotNobody"/>
    <allow send_destination="*" send_interface="com.example.Tapped" eavesdrop="true"/>
  </policy>
  <policy group="nogroup">
    <allow send_destination="com.example.Other" send_interface="com.example.GroupOnly"/>
  </policy>
  <!-- replies: REPLY_ROWS -->
  <policy context="default">
    <allow send_destination_prefix="com.example.Replier"/>
    <allow send_destination="com.example.Muted"/>
  </policy>
  <policy user="mail">
    <allow own="com.example.Replier.Mail"/>
    <deny send_requested_reply="true" send_type="method_return"/>
    <deny send_type="error"/>
  </policy>
  <policy user="news">
    <allow own="com.example.Replier.News"/>
    <allow send_requested_reply="false" send_type="method_return"/>
    <allow send_requested_reply="false" send_type="error"/>
  </policy>
  <policy user="sys">
    <allow receive_requested_reply="false" receive_type="method_return"/>
    <allow receive_requested_reply="false" receive_type="error"/>
    <deny receive_type="error" receive_error="com.example.Error.Unsolicited"/>
    <deny receive_requested_reply="true" receive_type="error" receive_error="com.example.Error.Blocked"/>
  </policy>
  <policy user="nobody">
    <deny receive_requested_reply="true" receive_type="method_return" receive_sender="com.example.Muted"/>
  </policy>
  <policy context="mandatory">
    <deny send_destination="com.example.Svc" send_interface="com.example.Svc" send_member="Kill"/>
    <deny receive_interface="com.example.Muted" receive_type="method_call"/>
  </policy>
</busconfig>
'''

ROOT, DAEMON_UID, NOBODY, BIN, SYS, MAIL, NEWS = 0, 1, 65534, 2, 3, 8, 9

# each receiver runs as a user and owns a set of names
RECEIVERS = [
    (0, ['com.example.Svc', 'com.example.Svc2']),
    (0, ['com.example.Other', 'com.example.Prefix.A', 'com.example.Prefix.Secret']),
    (0, ['com.example.Prefix.B']),
    (0, ['com.example.Lonely']),
    (DAEMON_UID, ['com.example.DaemonSvc']),
]

ROWS = [
    ('connect', NOBODY),
    ('connect', DAEMON_UID),
    ('connect', BIN),
    ('own', DAEMON_UID, 'com.example.DaemonName'),
    ('own', NOBODY, 'com.example.DaemonName'),
    ('own', DAEMON_UID, 'com.example.GroupName'),
    ('own', NOBODY, 'com.example.GroupName'),
    ('own', NOBODY, 'com.example.Prefix.X'),
    ('own', NOBODY, 'com.example.Prefix'),
    ('own', NOBODY, 'com.example.Prefixed'),
    ('own', NOBODY, 'com.example.Prefix.NotNobody'),
    ('own', DAEMON_UID, 'com.example.Prefix.NotNobody'),
    ('own', NOBODY, 'org.example.Random'),
    ('call', NOBODY, 'com.example.Svc', '/p', 'com.example.Svc', 'Get'),
    ('call', NOBODY, 'com.example.Svc', '/p', 'com.example.Admin', 'Reboot'),
    ('call', NOBODY, 'com.example.Svc', '/secret', 'com.example.Svc', 'Get'),
    ('call', NOBODY, 'com.example.Svc', '/p', 'com.example.Svc', 'Kill'),
    ('call', NOBODY, 'com.example.Svc', '/p', None, 'Get'),
    ('call', NOBODY, 'com.example.Svc2', '/p', 'com.example.Svc', 'Get'),
    ('call', NOBODY, 'com.example.Svc', '/p', 'com.example.Muted', 'Get'),
    ('call', NOBODY, 'com.example.Prefix.A', '/p', 'a.b', 'C'),
    ('call', NOBODY, 'com.example.Prefix.B', '/p', 'a.b', 'C'),
    ('call', NOBODY, 'com.example.Lonely', '/p', 'a.b', 'C'),
    ('call', NOBODY, 'com.example.Other', '/p', 'com.example.Open', 'Ping'),
    ('call', NOBODY, 'com.example.Other', '/p', 'com.example.Open', 'Pong'),
    ('call', NOBODY, 'com.example.Other', '/p', 'com.example.GroupOnly', 'X'),
    ('call', DAEMON_UID, 'com.example.Other', '/p', 'com.example.GroupOnly', 'X'),
    ('call', DAEMON_UID, 'com.example.Svc', '/p', 'com.example.Svc', 'Get'),
    # (..., n_fds): calls carrying file descriptors
    ('call', NOBODY, 'com.example.Svc', '/p', 'com.example.Svc', 'Get', 1),
    ('call', NOBODY, 'com.example.Svc2', '/p', 'com.example.Svc', 'Get', 2),
    ('call', NOBODY, 'com.example.Prefix.B', '/p', 'a.b', 'C', 1),
    ('call', NOBODY, 'com.example.Lonely', '/p', 'com.example.NoFds', 'C'),
    ('call', NOBODY, 'com.example.Lonely', '/p', 'com.example.NoFds', 'C', 1),
    ('call', NOBODY, 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetId'),
    ('call', NOBODY, 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
     'UpdateActivationEnvironment'),
    ('call', NOBODY, 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.Peer', 'Ping'),
    # receive rules of the receiving user
    ('call', NOBODY, 'com.example.DaemonSvc', '/p', 'com.example.Visible', 'Get'),
    ('call', NOBODY, 'com.example.DaemonSvc', '/p', 'com.example.Hidden', 'Get'),
    ('call', NOBODY, 'com.example.DaemonSvc', '/p', None, 'Get'),
    # (op, eavesdropper uid, caller uid, ...): does the eavesdropper see the
    # call? dbus-daemon 1.14 lets only the bus's own uid add eavesdropping
    # matches (a driver check, not policy), so the eavesdropper is root.
    ('eavesdrop', ROOT, NOBODY, 'com.example.Svc', '/p', 'com.example.Svc', 'TapA'),
    ('eavesdrop', ROOT, NOBODY, 'com.example.Svc', '/p', 'com.example.Private', 'TapB'),
    ('eavesdrop', ROOT, NOBODY, 'com.example.Prefix.B', '/p', 'a.b', 'TapC'),
    ('eavesdrop', ROOT, NOBODY, 'com.example.Lonely', '/p', 'a.b', 'TapD'),
    ('eavesdrop', ROOT, NOBODY, 'com.example.Svc', '/p', 'com.example.Tapped', 'TapE'),
    ('eavesdrop', ROOT, NOBODY, 'com.example.Prefix.B', '/p', 'com.example.Tapped', 'TapF'),
    ('eavesdrop', ROOT, DAEMON_UID, 'com.example.Svc', '/p', 'com.example.Tapped', 'TapG'),
    # (op, subscriber uid, subscriber's names, sender uid, destination, path,
    # interface, member): does the subscriber get the signal?
    ('signal', ROOT, ['com.example.Watch'], NOBODY, None, '/s', 'com.example.Loud', 'SigA'),
    ('signal', ROOT, ['com.example.Watch'], NOBODY, None, '/s', 'com.example.Quiet', 'SigB'),
    ('signal', ROOT, ['com.example.Watch'], NOBODY, 'com.example.Watch', '/s', 'com.example.Quiet', 'SigC'),
    ('signal', ROOT, ['com.example.Watch'], NOBODY, None, '/s', 'com.example.ToWatch', 'SigD'),
    ('signal', ROOT, [], NOBODY, None, '/s', 'com.example.ToWatch', 'SigE'),
    ('signal', ROOT, [], NOBODY, None, '/s', 'com.example.NoRecv', 'SigF'),
    ('signal', DAEMON_UID, [], NOBODY, None, '/s', 'com.example.NoRecv', 'SigG'),
]

# repliers (REPLY_ROWS): key -> (uid, names)
REPLIERS = {
    'root': (ROOT, ['com.example.Replier.Root']),
    'mail': (MAIL, ['com.example.Replier.Mail']),
    'news': (NEWS, ['com.example.Replier.News']),
    'muted': (ROOT, ['com.example.Muted']),
}

# (replier, caller uid, requested, type, error name): does the caller get it?
REPLY_ROWS = [
    ('root', NOBODY, True, 'method_return', None),
    ('mail', NOBODY, True, 'method_return', None),
    ('mail', NOBODY, True, 'error', 'com.example.Error.Any'),
    ('news', NOBODY, True, 'method_return', None),
    ('muted', NOBODY, True, 'method_return', None),
    ('muted', SYS, True, 'method_return', None),
    ('root', SYS, True, 'error', 'com.example.Error.Blocked'),
    ('root', SYS, True, 'error', 'com.example.Error.Unsolicited'),
    ('news', SYS, False, 'method_return', None),
    ('news', NOBODY, False, 'method_return', None),
    ('root', SYS, False, 'method_return', None),
    ('mail', SYS, False, 'method_return', None),
    ('news', SYS, False, 'error', 'com.example.Error.Unsolicited'),
    ('news', SYS, False, 'error', 'com.example.Error.Other'),
    ('news', NOBODY, False, 'error', 'com.example.Error.Other'),
    ('mail', SYS, False, 'error', 'com.example.Error.Other'),
    ('muted', SYS, False, 'method_return', None),
]

# A replier: owns its names, answers com.example.Reply.Return with a method
# return and .Fail(s name) with that error; on a line "CALLER TYPE [ERROR]"
# on stdin sends CALLER an unrequested reply (reply serial 4242). After
# either it sends the caller the signal Replied.
REPLIER_PY = r'''
import os, select, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bustest as bt
c = bt.Conn(sys.argv[1])
for name in sys.argv[2:]:
    c.call(*bt.DRIVER, "RequestName", "su", [name, 4])
def replied(to):
    c.send_message(bt.SIGNAL, dest=to, path="/r", iface="com.example.Reply", member="Replied")
print("ready", flush=True)
while True:
    r = select.select([c.sock, sys.stdin], [], [])[0]
    if sys.stdin in r:
        line = sys.stdin.readline().split()
        if not line:
            break
        kind = bt.ERROR if line[1] == "error" else bt.METHOD_RETURN
        c.send_message(kind, dest=line[0], reply_serial=4242, error=line[2] if len(line) > 2 else None)
        replied(line[0])
        c.ping()
        print("sent", flush=True)
    if c.sock in r:
        c._read(0)
    while c.queue:
        m = c.queue.pop(0)
        if m.type == bt.METHOD_CALL and m.interface == "com.example.Reply":
            c.reply(m, error=m.body[0] if m.member == "Fail" else None)
            replied(m.sender)
'''

# A caller: "call DEST MEMBER [ERROR]" (a requested reply) or "wait" (prints
# its unique name, then waits to be sent one); prints allow or deny.
CALLER_PY = r'''
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bustest as bt
c = bt.Conn(sys.argv[1])
if sys.argv[2] == "call":
    fail = len(sys.argv) > 5
    serial = c.call_async(sys.argv[3], "/r", "com.example.Reply", "Fail" if fail else "Return",
                          "s" if fail else "", [sys.argv[5]] if fail else [])
else:
    serial = 4242
    print(c.unique_name, flush=True)
if c.recv(20, lambda m: m.member == "Replied") is None:
    print("error:no Replied signal")
else:
    got = [m for m in c.queue if m.type in (bt.METHOD_RETURN, bt.ERROR) and m.reply_serial == serial]
    print("allow" if got else "deny")
'''

RECEIVER_PY = r'''
import sys, dbus, dbus.lowlevel, dbus.mainloop.glib
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(sys.argv[1])
for name in sys.argv[2:]:
    bus.request_name(name, dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
def on_message(conn, msg):
    if msg.get_type() == dbus.lowlevel.MESSAGE_TYPE_METHOD_CALL and not msg.get_no_reply():
        conn.send_message(dbus.lowlevel.MethodReturnMessage(msg))
        return dbus.lowlevel.HANDLER_RESULT_HANDLED
    return dbus.lowlevel.HANDLER_RESULT_NOT_YET_HANDLED
bus.add_message_filter(on_message)
print('ready', flush=True)
GLib.MainLoop().run()
'''

# watches for a message with the given member: argv addr, member, match, names to own
EAVESDROPPER_PY = r'''
import sys, dbus, dbus.lowlevel, dbus.mainloop.glib
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(sys.argv[1])
member = sys.argv[2]
for name in sys.argv[4:]:
    bus.request_name(name, dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
loop = GLib.MainLoop()
seen = []
def on_message(conn, msg):
    if msg.get_member() == member:
        seen.append(msg)
        loop.quit()
    return dbus.lowlevel.HANDLER_RESULT_NOT_YET_HANDLED
bus.add_message_filter(on_message)
bus.add_match_string(sys.argv[3])
print('ready', flush=True)
GLib.timeout_add(2000, loop.quit)
loop.run()
print('allow' if seen else 'deny', flush=True)
'''

CLIENT_PY = r'''
import sys, dbus, dbus.lowlevel
def verdict(e):
    name = e.get_dbus_name()
    return 'deny' if name == 'org.freedesktop.DBus.Error.AccessDenied' else 'error:' + str(name)
op, addr = sys.argv[1], sys.argv[2]
try:
    bus = dbus.bus.BusConnection(addr)
except dbus.exceptions.DBusException as e:
    print('deny' if op == 'connect' else 'error:connect:' + str(e.get_dbus_name()))
    sys.exit(0)
if op == 'connect':
    print('allow')
elif op == 'own':
    try:
        bus.request_name(sys.argv[3], dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
        print('allow')
    except dbus.exceptions.DBusException as e:
        print(verdict(e))
elif op == 'signal':
    dest, path, iface, member = sys.argv[3:7]
    msg = dbus.lowlevel.SignalMessage(path, iface, member)
    if dest != '-':
        msg.set_destination(dest)
    bus.send_message(msg)
    bus.flush()
    # a round trip to the driver: the signal has been dispatched
    bus.get_unique_name()
    bus.call_blocking('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetId', '', ())
    print('sent')
elif op == 'call':
    dest, path, iface, member = sys.argv[3:7]
    msg = dbus.lowlevel.MethodCallMessage(dest, path, None if iface == '-' else iface, member)
    for _ in range(int(sys.argv[7]) if len(sys.argv) > 7 else 0):
        msg.append(dbus.types.UnixFd(open('/dev/null')), signature='h')
    try:
        bus.send_message_with_reply_and_block(msg, 10000)
        print('allow')
    except dbus.exceptions.DBusException as e:
        # an error reply from the driver (e.g. bad arguments) still means
        # the call was delivered
        n = e.get_dbus_name()
        print('allow' if dest == 'org.freedesktop.DBus' and n != 'org.freedesktop.DBus.Error.AccessDenied' else verdict(e))
'''


def as_uid(uid, argv):
    return ['setpriv', '--reuid=%d' % uid, '--regid=%d' % uid, '--init-groups'] + argv


def start_daemon(binary, conf, socket):
    daemon = subprocess.Popen([binary, '--config-file=' + conf, '--nofork', '--print-address', '--nosyslog'],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    addr = daemon.stdout.readline().strip()
    if addr:
        os.chmod(socket, 0o777)
    return daemon, addr


def run_reply_rows(binary, tmp, label):
    """The verdict of every REPLY_ROWS row on a bus of @binary with POLICY
    (socket and configuration named after @label), or None if it did not
    start."""
    procs = []
    verdicts = []
    socket = os.path.join(tmp, 'bus-' + label)
    conf = os.path.join(tmp, 'bus-%s.conf' % label)
    with open(conf, 'w') as f:
        f.write(POLICY.replace('@SOCKET@', socket))
    try:
        daemon, addr = start_daemon(binary, conf, socket)
        procs.append(daemon)
        if not addr:
            return None
        repliers = {}
        for key, (uid, names) in REPLIERS.items():
            p = subprocess.Popen(as_uid(uid, ['/usr/bin/python3', os.path.join(tmp, 'replier.py'), addr] + names),
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            procs.append(p)
            if p.stdout.readline().strip() != 'ready':
                return None
            repliers[key] = p
        for key, caller_uid, requested, kind, err in REPLY_ROWS:
            caller = ['/usr/bin/python3', os.path.join(tmp, 'caller.py'), addr]
            if requested:
                args = ['call', REPLIERS[key][1][0], kind] + ([err] if err else [])
                r = subprocess.run(as_uid(caller_uid, caller + args), capture_output=True, text=True, timeout=60)
                verdicts.append(r.stdout.strip() or 'error:' + (r.stderr.strip().splitlines() or ['no output'])[-1])
                continue
            c = subprocess.Popen(as_uid(caller_uid, caller + ['wait']), stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
            procs.append(c)
            name = c.stdout.readline().strip()
            p = repliers[key]
            p.stdin.write('%s %s%s\n' % (name, kind, ' ' + err if err else ''))
            p.stdin.flush()
            if p.stdout.readline().strip() != 'sent':
                verdicts.append('error:replier failed')
                continue
            try:
                out, _ = c.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                out = 'error:timeout'
            verdicts.append(out.strip() or 'error:no output')
        return verdicts
    finally:
        for p in reversed(procs):
            p.kill()
            p.wait()


def reply_desc(row):
    key, caller_uid, requested, kind, err = row
    return '%s %s%s from %s (uid %d) to uid %d' % ('requested' if requested else 'unrequested', kind,
                                                   ' ' + err if err else '', key, REPLIERS[key][0], caller_uid)


def skip_all(reason):
    print('1..0 # SKIP %s' % reason)
    sys.exit(0)


def main():
    if os.geteuid() != 0:
        skip_all('needs root to run clients as other users')
    if not shutil.which('setpriv'):
        skip_all('setpriv not found')
    if not DAEMON or not os.access(DAEMON, os.X_OK):
        skip_all('dbus-daemon not found')
    if subprocess.run(['/usr/bin/python3', '-c', 'import dbus, gi'], capture_output=True).returncode:
        skip_all('python3-dbus or python3-gi missing')
    if not os.access(EVAL, os.X_OK):
        print('1..1\nnot ok 1 - %s not built' % EVAL)
        sys.exit(1)

    tmp = tempfile.mkdtemp(prefix='bus1-verdicts-')
    os.chmod(tmp, 0o755)
    procs = []
    try:
        socket = os.path.join(tmp, 'bus')
        conf = os.path.join(tmp, 'bus.conf')
        with open(conf, 'w') as f:
            f.write(POLICY.replace('@SOCKET@', socket))
        for name, text in (('receiver.py', RECEIVER_PY), ('client.py', CLIENT_PY),
                           ('eavesdropper.py', EAVESDROPPER_PY), ('replier.py', REPLIER_PY),
                           ('caller.py', CALLER_PY)):
            with open(os.path.join(tmp, name), 'w') as f:
                f.write(text)
            os.chmod(os.path.join(tmp, name), 0o644)
        shutil.copy(os.path.join(SRCDIR, 'test/lib/bustest.py'), os.path.join(tmp, 'bustest.py'))
        os.chmod(os.path.join(tmp, 'bustest.py'), 0o644)

        daemon = subprocess.Popen([DAEMON, '--config-file=' + conf, '--nofork', '--print-address', '--nosyslog'],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(daemon)
        addr = daemon.stdout.readline().strip()
        if not addr:
            print('1..1\nnot ok 1 - dbus-daemon did not start')
            sys.exit(1)
        os.chmod(socket, 0o777)

        for uid, names in RECEIVERS:
            p = subprocess.Popen(['setpriv', '--reuid=%d' % uid, '--regid=%d' % uid, '--init-groups',
                                  '/usr/bin/python3', os.path.join(tmp, 'receiver.py'), addr] + names,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            procs.append(p)
            if p.stdout.readline().strip() != 'ready':
                print('1..1\nnot ok 1 - receiver for %s did not start' % names)
                sys.exit(1)

        print('1..%d' % (len(ROWS) + len(REPLY_ROWS)))
        failed = 0
        for i, row in enumerate(ROWS, 1):
            op, uid = row[0], row[1]
            if op == 'eavesdrop':
                eavesdropper_uid, uid = uid, row[2]
                dest, path, iface, member = row[3:7]
                args = [dest, path, iface or '-', member]
                owner_uid, owners = next((r for r in RECEIVERS if dest in r[1]), (0, [dest]))
                ours = [EVAL, conf, 'eavesdrop', str(uid), str(owner_uid), dest, path, iface or '-',
                        member, ','.join(owners), str(eavesdropper_uid)]
                tap = subprocess.Popen(['setpriv', '--reuid=%d' % eavesdropper_uid, '--regid=%d' % eavesdropper_uid,
                                        '--init-groups', '/usr/bin/python3', os.path.join(tmp, 'eavesdropper.py'),
                                        addr, member, "eavesdrop=true,type='method_call',member='%s'" % member],
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                procs.append(tap)
                if tap.stdout.readline().strip() != 'ready':
                    print('not ok %d - eavesdropper did not start' % i)
                    failed += 1
                    continue
                subprocess.run(['setpriv', '--reuid=%d' % uid, '--regid=%d' % uid, '--init-groups',
                                '/usr/bin/python3', os.path.join(tmp, 'client.py'), 'call', addr] + args,
                               capture_output=True, text=True, timeout=60)
                recorded = tap.stdout.readline().strip() or 'error:no output'
                mine = subprocess.run(ours, capture_output=True, text=True).stdout.strip()
                desc = 'eavesdrop as uid %d on a call from uid %d %s: dbus-daemon %s, libpolicy %s' % (
                    eavesdropper_uid, uid, ' '.join(args), recorded, mine)
                print('%s %d - %s' % ('ok' if recorded == mine else 'not ok', i, desc))
                failed += recorded != mine
                continue
            if op == 'signal':
                watcher_uid, watcher_names, uid = row[1], row[2], row[3]
                dest, path, iface, member = row[4:8]
                args = [dest or '-', path, iface, member]
                ours = [EVAL, conf, 'signal', str(uid), str(watcher_uid), dest or '-', path, iface, member,
                        ','.join(watcher_names)]
                watch = subprocess.Popen(['setpriv', '--reuid=%d' % watcher_uid, '--regid=%d' % watcher_uid,
                                          '--init-groups', '/usr/bin/python3', os.path.join(tmp, 'eavesdropper.py'),
                                          addr, member, "type='signal',member='%s'" % member] + watcher_names,
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                procs.append(watch)
                if watch.stdout.readline().strip() != 'ready':
                    print('not ok %d - subscriber did not start' % i)
                    failed += 1
                    continue
                subprocess.run(['setpriv', '--reuid=%d' % uid, '--regid=%d' % uid, '--init-groups',
                                '/usr/bin/python3', os.path.join(tmp, 'client.py'), 'signal', addr] + args,
                               capture_output=True, text=True, timeout=60)
                recorded = watch.stdout.readline().strip() or 'error:no output'
                mine = subprocess.run(ours, capture_output=True, text=True).stdout.strip()
                desc = 'signal %s from uid %d to a subscriber of uid %d owning %s: dbus-daemon %s, libpolicy %s' % (
                    ' '.join(args), uid, watcher_uid, watcher_names or 'nothing', recorded, mine)
                print('%s %d - %s' % ('ok' if recorded == mine else 'not ok', i, desc))
                failed += recorded != mine
                continue
            if op == 'connect':
                args = []
                ours = [EVAL, conf, 'connect', str(uid), '0']
            elif op == 'own':
                args = [row[2]]
                ours = [EVAL, conf, 'own', str(uid), row[2]]
            else:
                dest, path, iface, member = row[2:6]
                fds = [str(row[6])] if len(row) > 6 else []
                args = [dest, path, iface or '-', member] + fds
                owner_uid, owners = next((r for r in RECEIVERS if dest in r[1]), (0, [dest]))
                ours = [EVAL, conf, 'call', str(uid), str(owner_uid), dest, path, iface or '-', member,
                        ','.join(owners)] + fds
            client = subprocess.run(['setpriv', '--reuid=%d' % uid, '--regid=%d' % uid, '--init-groups',
                                     '/usr/bin/python3', os.path.join(tmp, 'client.py'), op, addr] + args,
                                    capture_output=True, text=True, timeout=60)
            recorded = client.stdout.strip() or ('error:' + client.stderr.strip().splitlines()[-1]
                                                 if client.stderr.strip() else 'error:no output')
            mine = subprocess.run(ours, capture_output=True, text=True).stdout.strip()
            desc = '%s as uid %d %s: dbus-daemon %s, libpolicy %s' % (op, uid, ' '.join(args), recorded, mine)
            if recorded == mine:
                print('ok %d - %s' % (i, desc))
            else:
                failed += 1
                print('not ok %d - %s' % (i, desc))

        # replies: on a bus of their own, dbus-daemon's then bus1-dbus's
        for p in reversed(procs):
            p.kill()
            p.wait()
        procs = []
        recorded = run_reply_rows(DAEMON, tmp, 'dbus-daemon')
        broker = None
        if os.access(BUS1_DBUS, os.X_OK):
            broker = run_reply_rows(os.path.abspath(BUS1_DBUS), tmp, 'bus1-dbus')
        for j, row in enumerate(REPLY_ROWS):
            i = len(ROWS) + 1 + j
            key, caller_uid, requested, kind, err = row
            rec = recorded[j] if recorded else 'error:dbus-daemon did not start'
            ours = [EVAL, conf, 'reply', str(REPLIERS[key][0]), str(caller_uid), kind, '1' if requested else '0',
                    ','.join(REPLIERS[key][1])] + ([err] if err else [])
            mine = subprocess.run(ours, capture_output=True, text=True).stdout.strip()
            if broker is None and not os.access(BUS1_DBUS, os.X_OK):
                theirs, agree = 'not built', rec == mine
            else:
                theirs = broker[j] if broker else 'error:bus1-dbus did not start'
                agree = rec == mine == theirs
            desc = '%s: dbus-daemon %s, libpolicy %s, bus1-dbus %s' % (reply_desc(row), rec, mine, theirs)
            print('%s %d - %s' % ('ok' if agree else 'not ok', i, desc))
            failed += not agree
        return 1 if failed else 0
    finally:
        for p in reversed(procs):
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
