#!/usr/bin/python3
#
# Cross-check of the wire codec with GDBus (GLib's independent D-Bus
# implementation, through python3-gi), in both byte orders; GDBus can
# marshal big-endian messages itself, so this checks our big-endian parsing
# against an encoder that is not ours.
#  - GDBus-marshalled messages parse with us: same header fields, same body
#    (compared through a canonical dump, see wire-tool.c);
#  - our set_sender output is accepted by GDBus with the new sender, the
#    same body and the same byte order;
#  - messages our builder produces are accepted by GDBus with the content
#    the builder was given.
# Prints TAP. SKIP (with the reason) if python3-gi is missing.

import os
import subprocess
import sys

n = 0
failed = 0


def tap(ok, name, detail=''):
    global n, failed
    n += 1
    if not ok:
        failed += 1
    print('%s %d - %s' % ('ok' if ok else 'not ok', n, name))
    if not ok and detail:
        for line in str(detail).splitlines():
            print('# ' + line)


try:
    import gi
    gi.require_version('Gio', '2.0')
    from gi.repository import Gio, GLib
except (ImportError, ValueError) as e:
    print('1..0 # SKIP python3-gi (Gio) not available: %s' % e)
    sys.exit(0)

builddir = os.environ.get('top_builddir', '.')
TOOL = os.path.join(builddir, 'test', 'dbus-proxy', 'test-wire-tool')
ORDERS = [('le', Gio.DBusMessageByteOrder.LITTLE_ENDIAN),
          ('be', Gio.DBusMessageByteOrder.BIG_ENDIAN)]
CAPS = Gio.DBusCapabilityFlags.UNIX_FD_PASSING


def tool(args, data=b''):
    p = subprocess.run([TOOL] + args, input=data, stdout=subprocess.PIPE)
    return p.returncode, p.stdout


def dump(v):
    t = v.get_type_string()
    c = t[0]
    if c == 'b':
        return 'b1' if v.unpack() else 'b0'
    if c == 'd':
        return 'd%.17g' % v.unpack()
    if c in 'ynqiuxth':
        return c + str(v.unpack())
    if c in 'sog':
        return c + v.unpack().encode('utf-8').hex()
    children = ','.join(dump(v.get_child_value(i)) for i in range(v.n_children()))
    if c == 'a':
        return 'a[' + children + ']'
    if c == '(':
        return '(' + children + ')'
    if c == '{':
        return '{' + children + '}'
    if c == 'v':
        inner = v.get_variant()
        return 'v' + inner.get_type_string() + ':' + dump(inner)
    raise ValueError(t)


def dump_body(body):
    if body is None:
        return ''
    return ' '.join(dump(body.get_child_value(i)) for i in range(body.n_children()))


def parse_output(out):
    fields = {}
    for line in out.decode('utf-8').splitlines():
        key, _, value = line.partition(' ')
        fields[key] = value
    return fields


def expected_fields(m):
    f = {
        'endian': 'B' if m.get_byte_order() == Gio.DBusMessageByteOrder.BIG_ENDIAN else 'l',
        'type': str(int(m.get_message_type())),
        'flags': str(int(m.get_flags())),
        'serial': str(m.get_serial()),
        'signature': m.get_signature() or '',
        'body': dump_body(m.get_body()),
        'unix_fds': str(m.get_num_unix_fds()),
    }
    for key, value in (('path', m.get_path()), ('interface', m.get_interface()),
                       ('member', m.get_member()), ('error_name', m.get_error_name()),
                       ('destination', m.get_destination()), ('sender', m.get_sender())):
        if value is not None:
            f[key] = value
    if m.get_reply_serial():
        f['reply_serial'] = str(m.get_reply_serial())
    return f


BODIES = [
    ('basic', GLib.Variant('(ybnqiuxtdsog)', (255, True, -32768, 65535, -2147483648, 4294967295,
                                              -2**63, 2**64 - 1, 1e-300, 'h\u00e9\u20ac\U0001f600',
                                              '/org/x_1/Y', 'a{sv}(i)'))),
    ('containers', GLib.Variant('(asa{sv}a(ii)aayv)', (
        ['a', '', 'c'],
        {'k': GLib.Variant('u', 5), 'nested': GLib.Variant('a{sv}', {'x': GLib.Variant('as', ['y'])})},
        [(1, 2), (3, 4)],
        [b'ab', b''],
        GLib.Variant('(sv)', ('deep', GLib.Variant('v', GLib.Variant('t', 9)))),
    ))),
    ('empty-arrays', GLib.Variant('(atasa{ss}ay)', ([], [], {}, b''))),
    ('dict-keys', GLib.Variant('(a{yd}a{ob}a{xs})', ({1: 0.5}, {'/a': False}, {-5: 'v'}))),
    ('no-body', None),
]


def gdbus_messages(order):
    for name, body in BODIES:
        m = Gio.DBusMessage.new_method_call('org.example.Service', '/org/example/Obj',
                                            'org.example.Iface', 'Do' + name.replace('-', '_'))
        if body is not None:
            m.set_body(body)
        m.set_serial(1000 + len(name))
        m.set_byte_order(order)
        yield 'call-' + name, m
    s = Gio.DBusMessage.new_signal('/org/example/Obj', 'org.example.Iface', 'Changed')
    s.set_body(BODIES[1][1])
    s.set_serial(5)
    s.set_sender(':1.99')
    s.set_byte_order(order)
    yield 'signal', s
    call = Gio.DBusMessage.new_method_call(None, '/', 'a.b', 'M')
    call.set_serial(77)
    e = Gio.DBusMessage.new_method_error_literal(call, 'org.example.Error.Failed', 'it failed')
    e.set_serial(78)
    e.set_byte_order(order)
    yield 'error', e
    r = Gio.DBusMessage.new_method_reply(call)
    r.set_body(GLib.Variant('(s)', (':1.42',)))
    r.set_serial(79)
    r.set_byte_order(order)
    yield 'reply', r


def main():
    if not os.access(TOOL, os.X_OK):
        print('Bail out! %s not built' % TOOL)
        sys.exit(1)

    for oname, order in ORDERS:
        for name, m in gdbus_messages(order):
            blob = m.to_blob(CAPS)
            label = '%s %s' % (oname, name)
            tap(blob[0:1] == (b'B' if oname == 'be' else b'l'), label + ': GDBus byte order')

            rc, out = tool(['parse'], blob)
            got = parse_output(out)
            want = expected_fields(m)
            tap(rc == 0 and got == want, label + ': parses like GDBus',
                'got  %r\nwant %r' % (got, want))

            rc, out = tool(['set-sender', ':1.42'], blob)
            ok = rc == 0
            detail = out
            if ok:
                try:
                    m2 = Gio.DBusMessage.new_from_blob(out, CAPS)
                    ok = (m2.get_sender() == ':1.42'
                          and m2.get_byte_order() == m.get_byte_order()
                          and dump_body(m2.get_body()) == dump_body(m.get_body())
                          and m2.get_path() == m.get_path()
                          and m2.get_member() == m.get_member()
                          and m2.get_serial() == m.get_serial())
                    detail = m2.print_(0)
                except GLib.Error as e:
                    ok = False
                    detail = e
            tap(ok, label + ': set_sender output accepted by GDBus', detail)

    want_body = ("(byte 0xc8, true, int16 -300, uint16 60000, -70000, uint32 3000000000, "
                 "int64 -1099511627776, uint64 9223372036854775808, -2.75, 'caf\u00e9', "
                 "objectpath '/x', signature 'a{sv}', {'n': <([1, 2],)>}, [@ay []])")
    for oname, order in ORDERS:
        rc, out = tool(['build', oname])
        ok = rc == 0
        detail = out
        if ok:
            try:
                m = Gio.DBusMessage.new_from_blob(out, CAPS)
                body = m.get_body().print_(True)
                ok = (m.get_byte_order() == order
                      and m.get_message_type() == Gio.DBusMessageType.SIGNAL
                      and m.get_path() == '/org/example/Obj'
                      and m.get_interface() == 'org.example.Iface'
                      and m.get_member() == 'Changed'
                      and m.get_sender() == ':1.5'
                      and m.get_serial() == 77
                      and body == want_body)
                detail = 'got  %s\nwant %s' % (body, want_body)
            except GLib.Error as e:
                ok = False
                detail = e
        tap(ok, '%s: our builder accepted by GDBus' % oname, detail)

    print('1..%d' % n)
    sys.exit(1 if failed else 0)


main()
