#!/usr/bin/python3
#
# Differential test of the configuration parser: every input is given to
# the reference dbus-daemon (does it start?) and to libpolicy (through
# test/policy/test-policy-eval CONFIG parse); both must accept or both must
# reject it.
#
# Inputs: the hand-written seeds of test/policy/corpus/ (not the fuzz-*
# files, whose arbitrary <listen> addresses dbus-daemon rejects at bind
# time), dbus-daemon's installed valid/invalid configuration corpus, and
# inline snippets. Each file is copied into a temporary directory (with its
# neighbours, so relative includes work) and rewritten to be harmless: the
# first <listen> becomes a socket in that directory, further <listen>s,
# <user>, <fork/> and <pidfile> are dropped.
#
# Known, deliberate differences are listed in EXPECTED_DIFFERENCES. Skips
# when dbus-daemon is missing. Speaks TAP.

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

SRCDIR = os.environ.get('top_srcdir', '.')
BUILDDIR = os.environ.get('top_builddir', '.')
EVAL = os.path.join(BUILDDIR, 'test/policy/test-policy-eval')
DAEMON = os.environ.get('DBUS_DAEMON') or shutil.which('dbus-daemon') or ''
DBUS_DATA = '/usr/lib/dbus-1.0/installed-tests/dbus/data'

# input name -> why we differ
EXPECTED_DIFFERENCES = {
    'corpus/entity-bomb.conf': 'we reject entity declarations (DOCTYPE internal subset)',
    'inline/entity-declaration': 'we reject entity declarations (DOCTYPE internal subset)',
}

INLINE = {
    'empty-busconfig': '<busconfig/>',
    'text-in-policy': '<busconfig><listen>x</listen><policy context="default">t</policy></busconfig>',
    'rule-in-rule': '<busconfig><listen>x</listen><policy context="default"><allow own="a">'
                    '<deny own="b"/></allow></policy></busconfig>',
    'broadcast-wildcard-destination': '<busconfig><listen>x</listen><policy context="default">'
                                      '<allow send_destination="*" send_broadcast="true"/></policy></busconfig>',
    'limit-trailing-text': '<busconfig><listen>x</listen><limit name="auth_timeout">5 s</limit></busconfig>',
    'limit-hex': '<busconfig><listen>x</listen><limit name="auth_timeout">0x10</limit></busconfig>',
    'limit-negative-hex': '<busconfig><listen>x</listen><limit name="auth_timeout">-0x1</limit></busconfig>',
    'limit-int-overflow': '<busconfig><listen>x</listen><limit name="auth_timeout">2147483648</limit></busconfig>',
    'limit-long-ok': '<busconfig><listen>x</listen><limit name="max_incoming_bytes">2147483648</limit></busconfig>',
    'own-prefix-wildcard': '<busconfig><listen>x</listen><policy context="default">'
                           '<allow own_prefix="*"/></policy></busconfig>',
    'lone-eavesdrop-fds': '<busconfig><listen>x</listen><policy context="default">'
                          '<allow eavesdrop="true" min_fds="1"/></policy></busconfig>',
    'fds-without-send-or-receive': '<busconfig><listen>x</listen><policy context="default">'
                                   '<allow min_fds="1"/></policy></busconfig>',
    'log-on-own': '<busconfig><listen>x</listen><policy context="default">'
                  '<allow own="a" log="true"/></policy></busconfig>',
    'unknown-user-policy': '<busconfig><listen>x</listen><policy user="nonexistent-bus1-user">'
                           '<allow user="*"/></policy></busconfig>',
    'console-user-rule': '<busconfig><listen>x</listen><policy at_console="true">'
                         '<allow user="*"/></policy></busconfig>',
    'apparmor-no-mode': '<busconfig><listen>x</listen><apparmor/></busconfig>',
    'associate-extra': '<busconfig><listen>x</listen><selinux><associate own="a" context="b" x="y"/>'
                       '</selinux></busconfig>',
    'include-missing-ignored': '<busconfig><listen>x</listen>'
                               '<include ignore_missing="yes">/nonexistent/a.conf</include></busconfig>',
    'includedir-missing': '<busconfig><listen>x</listen><includedir>/nonexistent.d</includedir></busconfig>',
    'entity-declaration': '<!DOCTYPE busconfig [<!ENTITY a "b">]><busconfig><listen>x</listen></busconfig>',
    'second-root': '<busconfig><listen>x</listen></busconfig><busconfig/>',
    'user-empty': '<busconfig><listen>x</listen><user></user></busconfig>',
    'type-nested': '<busconfig><listen>x</listen><type><a/></type></busconfig>',
}


def harmless(text, sock):
    first = [True]

    def listen(m):
        if first[0]:
            first[0] = False
            return '<listen>unix:path=%s</listen>' % sock
        return ''
    text = re.sub(r'<listen>[^<]*</listen>', listen, text)
    text = re.sub(r'<user>[^<]*</user>', '', text)
    text = re.sub(r'<pidfile>[^<]*</pidfile>', '', text)
    return text.replace('<fork/>', '')


def dbus_verdict(path, tmp):
    p = subprocess.Popen([DAEMON, '--config-file=' + path, '--nofork', '--print-address', '--nosyslog'],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline().strip()
    finally:
        p.kill()
        _, err = p.communicate()
    for s in glob.glob(os.path.join(tmp, 'sock*')):
        os.unlink(s)
    return ('valid', '') if line else ('invalid', err.strip().splitlines()[-1] if err.strip() else '')


def our_verdict(path):
    out = subprocess.run([EVAL, path, 'parse'], capture_output=True, text=True).stdout.splitlines()
    return (out[0], out[1] if len(out) > 1 else '') if out else ('error', '')


def main():
    if not DAEMON or not os.access(DAEMON, os.X_OK):
        print('1..0 # SKIP dbus-daemon not found')
        return 0
    if not os.access(EVAL, os.X_OK):
        print('1..1\nnot ok 1 - %s not built' % EVAL)
        return 1

    tmp = tempfile.mkdtemp(prefix='bus1-accept-')
    try:
        sock = os.path.join(tmp, 'sock')
        inputs = []             # (name, path of the rewritten copy)

        # hand-written seeds
        os.mkdir(os.path.join(tmp, 'corpus'))
        for f in sorted(glob.glob(os.path.join(SRCDIR, 'test/policy/corpus/*.conf'))):
            dst = os.path.join(tmp, 'corpus', os.path.basename(f))
            with open(f, encoding='latin-1') as src, open(dst, 'w', encoding='latin-1') as out:
                out.write(harmless(src.read(), sock))
            inputs.append(('corpus/' + os.path.basename(f), dst))

        # dbus-daemon's corpus, directories copied whole for relative includes
        for sub in ('valid-config-files', 'valid-config-files-system', 'invalid-config-files'):
            src_dir = os.path.join(DBUS_DATA, sub)
            if not os.path.isdir(src_dir):
                continue
            dst_dir = os.path.join(tmp, sub)
            shutil.copytree(src_dir, dst_dir)
            for f in glob.glob(os.path.join(dst_dir, '**/*.conf'), recursive=True):
                with open(f, encoding='latin-1') as fd:
                    text = fd.read()
                with open(f, 'w', encoding='latin-1') as fd:
                    fd.write(harmless(text, sock))
            for f in sorted(glob.glob(os.path.join(dst_dir, '*.conf'))):
                inputs.append(('%s/%s' % (sub, os.path.basename(f)), f))

        os.mkdir(os.path.join(tmp, 'inline'))
        for name, text in sorted(INLINE.items()):
            dst = os.path.join(tmp, 'inline', name + '.conf')
            with open(dst, 'w') as out:
                out.write(harmless(text.replace('<listen>x</listen>', '<listen>unix:path=x</listen>'), sock))
            inputs.append(('inline/' + name, dst))

        print('1..%d' % len(inputs))
        failed = 0
        for i, (name, path) in enumerate(inputs, 1):
            theirs, their_msg = dbus_verdict(path, tmp)
            ours, our_msg = our_verdict(path)
            agree = theirs == ours
            desc = '%s: dbus-daemon %s, libpolicy %s' % (name, theirs, ours)
            if not agree and name in EXPECTED_DIFFERENCES:
                print('ok %d - %s # expected difference: %s' % (i, desc, EXPECTED_DIFFERENCES[name]))
            elif agree and name in EXPECTED_DIFFERENCES:
                failed += 1
                print('not ok %d - %s (listed as a difference but agrees)' % (i, desc))
            elif agree:
                print('ok %d - %s' % (i, desc))
            else:
                failed += 1
                print('not ok %d - %s' % (i, desc))
                print('# dbus-daemon: %s' % their_msg)
                print('# libpolicy: %s' % our_msg)
        return 1 if failed else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
