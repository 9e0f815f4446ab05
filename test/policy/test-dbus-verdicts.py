#!/usr/bin/python3
#
# Records verdicts from the reference dbus-daemon and compares them with
# libpolicy's (through test/policy/test-policy-eval).
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
  <policy context="mandatory">
    <deny send_destination="com.example.Svc" send_interface="com.example.Svc" send_member="Kill"/>
    <deny receive_interface="com.example.Muted" receive_type="method_call"/>
  </policy>
</busconfig>
'''

ROOT, DAEMON_UID, NOBODY, BIN = 0, 1, 65534, 2

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
                           ('eavesdropper.py', EAVESDROPPER_PY)):
            with open(os.path.join(tmp, name), 'w') as f:
                f.write(text)
            os.chmod(os.path.join(tmp, name), 0o644)

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

        print('1..%d' % len(ROWS))
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
        return 1 if failed else 0
    finally:
        for p in reversed(procs):
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
