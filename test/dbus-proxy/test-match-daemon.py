#!/usr/bin/python3
#
# Cross-check of the match rule parser with the real dbus-daemon: every rule
# of test-match's parser table is sent as AddMatch to a private dbus-daemon;
# the daemon must accept exactly the rules our parser accepts, and refuse the
# others with the error name and reason our code stands for. The deliberate
# differences documented in dbus-proxy/match.h (MATCH_E_NO_KEY) are checked
# to still be differences, so a change on either side shows up.
#
# TAP output; SKIP when dbus-daemon or python3-dbus is not available.

import os
import subprocess
import sys

# Expected dbus-daemon answer per result of our parser: (error name suffix,
# a fragment of its message), or None for "accepted".
EXPECT = {
    "0": None,
    "MATCH_E_NO_EQUALS": ("MatchRuleInvalid", "no subsequent '='"),
    "MATCH_E_UNBALANCED_QUOTES": ("MatchRuleInvalid", "Unbalanced quotation"),
    "MATCH_E_UNKNOWN_KEY": ("MatchRuleInvalid", "Unknown key"),
    "MATCH_E_DUPLICATE_KEY": ("MatchRuleInvalid", ("specified twice", "matched more than once")),
    "MATCH_E_BAD_TYPE": ("MatchRuleInvalid", "Invalid message type"),
    "MATCH_E_BAD_SENDER": ("MatchRuleInvalid", "Sender name"),
    "MATCH_E_BAD_INTERFACE": ("MatchRuleInvalid", "Interface name"),
    "MATCH_E_BAD_MEMBER": ("MatchRuleInvalid", "Member name"),
    "MATCH_E_BAD_PATH": ("MatchRuleInvalid", "Path '"),
    "MATCH_E_BAD_DESTINATION": ("MatchRuleInvalid", "Destination name"),
    "MATCH_E_BAD_EAVESDROP": ("MatchRuleInvalid", "eavesdrop="),
    "MATCH_E_ARG_NO_NUMBER": ("MatchRuleInvalid", "lacks an arg number"),
    "MATCH_E_ARG_BAD_NUMBER": ("MatchRuleInvalid", "could not parse arg number"),
    "MATCH_E_ARG_JUNK": ("MatchRuleInvalid", "junk after argument number"),
    "MATCH_E_ARG_TOO_LARGE": ("MatchRuleInvalid", "maximum is 63"),
    "MATCH_E_BAD_NAMESPACE": ("MatchRuleInvalid", "not a valid prefix of a bus name"),
    "MATCH_E_TOO_LONG": ("LimitsExceeded", "maximum is"),
}
# Deliberate differences: dbus-daemon silently ignores the rest of the rule.
DIFFERENT = {"MATCH_E_NO_KEY": None}


def die_with_parent():
    """In the child: get SIGTERM when the test dies (PR_SET_PDEATHSIG)."""
    import ctypes
    import signal
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)


def main():
    builddir = os.environ.get("top_builddir", ".")
    daemon = os.environ.get("DBUS_DAEMON") or "dbus-daemon"
    try:
        import dbus
    except ImportError:
        print("1..0 # SKIP python3-dbus is not installed")
        return 0
    table = subprocess.run([os.path.join(builddir, "test/dbus-proxy/test-match"), "--print-parse-table"],
                           check=True, stdout=subprocess.PIPE).stdout.decode().splitlines()
    try:
        proc = subprocess.Popen([daemon, "--session", "--nofork", "--print-address"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)
    except OSError as e:
        print("1..0 # SKIP cannot start %s: %s" % (daemon, e))
        return 0
    try:
        address = proc.stdout.readline().decode().strip()
        if not address:
            print("1..0 # SKIP %s printed no address" % daemon)
            return 0
        bus = dbus.bus.BusConnection(address)
        driver = dbus.Interface(bus.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus"),
                                "org.freedesktop.DBus")
        print("1..%d" % len(table))
        failed = 0
        for i, line in enumerate(table, 1):
            symbol, hexrule = line.split("\t")
            rule = bytes.fromhex(hexrule).decode("utf-8")
            try:
                driver.AddMatch(rule)
                driver.RemoveMatch(rule)
                got = None
            except dbus.exceptions.DBusException as e:
                got = (e.get_dbus_name().rsplit(".", 1)[-1], e.get_dbus_message())
            if symbol in DIFFERENT:
                ok = got == DIFFERENT[symbol]
                note = " (deliberate difference: dbus-daemon accepts)"
            else:
                want = EXPECT[symbol]
                if want is None or got is None:
                    ok = want == got
                else:
                    frags = want[1] if isinstance(want[1], tuple) else (want[1],)
                    ok = got[0] == want[0] and any(f in got[1] for f in frags)
                note = ""
            if not ok:
                failed += 1
            print("%s %d - %r: ours %s, dbus-daemon %s%s" % ("ok" if ok else "not ok", i, rule, symbol,
                                                           "accepts" if got is None else "%s: %r" % (got[0], got[1].strip()), note))
        return 1 if failed else 0
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    sys.exit(main())
