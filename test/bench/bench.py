#!/usr/bin/python3
"""make bench: the brokers side by side, with the floors no broker can beat.

Targets (table columns):
  bus1-dbus     ours ($top_builddir/bus1-dbus), dbus-daemon command line
  dbus-daemon   the reference daemon
  dbus-broker   through dbus-broker-launch: the listening socket is bound
                here and passed as fd 3 (LISTEN_FDS=1, LISTEN_PID); the
                launcher runs in a private mount namespace (unshare -m) whose
                /run/systemd is a directory of ours holding a datagram socket
                at journal/socket that this driver reads and discards
  relay, sd-bus relay, socketpair, sd-bus p2p   floors without a broker
                (sd-bus relay: the sd-bus client and server of the broker
                rows, talking through the relay process)
  canned bus    the floor of connect+Hello+disconnect: the broker rows'
                sd-bus client against a server that answers SASL and Hello
                with canned bytes, one connection at a time
  libbus1       the in-process engine's call round trip (bus1_call)

Every broker is started fresh for every repetition; repetitions interleave
the targets (the order rotates). Each metric group runs as one bench-dbus
process. Everything runs pinned to one CPU (taskset -c CPU) unless
--unpinned. Each broker runs in a session of its own (with
kernel.sched_autogroup_enabled, its own scheduling group, as a system
service in its own cgroup), and so does the relay process of the relay
floors; with --same-session both run in the clients' session. Output: one table on stdout (median and min-max over the
repetitions), PREFIX.json, and PREFIX.png (gnuplot; skipped with a note if
gnuplot is missing). A target that cannot run says why in every cell of its
column ("not built", "not installed"); a group that failed says "failed" and
its error is listed under the table.
"""

import argparse
import ctypes
import json
import math
import os
import platform
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BROKERS = ["bus1-dbus", "dbus-daemon", "dbus-broker"]
FLOORS = ["relay", "sd-bus relay", "socketpair", "sd-bus p2p", "canned bus", "libbus1"]
FLOOR_GROUP = {"relay": "floor-relay", "sd-bus relay": "floor-p2p-relay", "socketpair": "floor-socketpair",
               "sd-bus p2p": "floor-p2p", "canned bus": "floor-connect", "libbus1": "native-call"}
# floors whose server process stands in for a broker: in a session of its own like them
STAND_INS = ("relay", "sd-bus relay", "canned bus")
BROKER_GROUPS = ["rss", "rtt", "pipelined", "raw", "echo", "fanout", "matches", "connect"]

# (key, label, higher is better)
METRICS = [
    ("rtt_calls_per_s", "round trip, calls/s", True),
    ("rtt_p50_us", "round trip p50, us", False),
    ("rtt_p99_us", "round trip p99, us", False),
    ("pipe64_calls_per_s", "64 calls in flight, calls/s", True),
    ("raw_rtt_calls_per_s", "round trip, raw clients, calls/s", True),
    ("raw_rtt_p50_us", "round trip p50, raw clients, us", False),
    ("raw_rtt_p99_us", "round trip p99, raw clients, us", False),
    ("raw_pipe64_calls_per_s", "64 in flight, raw clients, calls/s", True),
    ("echo1m_per_s", "1 MiB echo, round trips/s", True),
    ("fanout1_sig_per_s", "fan-out 1 subscriber, signals/s", True),
    ("fanout10_sig_per_s", "fan-out 10 subscribers, signals/s", True),
    ("fanout100_sig_per_s", "fan-out 100 subscribers, signals/s", True),
    ("match0_sig_per_s", "signals/s, 0 unrelated rules", True),
    ("match1000_sig_per_s", "signals/s, 1000 unrelated rules", True),
    ("match10000_sig_per_s", "signals/s, 10000 unrelated rules", True),
    ("connect_per_s", "connect+Hello+disconnect/s", True),
    ("raw_connect_per_s", "connect+Hello+disconnect, raw clients/s", True),
    ("rss_idle_kib", "broker RSS idle, KiB", False),
    ("rss_per_conn_kib", "RSS per connection (10 rules), KiB", False),
    ("cpu_rtt_us", "broker CPU per call, us", False),
    ("cpu_pipe64_us", "broker CPU per pipelined call, us", False),
    ("cpu_raw_rtt_us", "broker CPU per call, raw clients, us", False),
    ("cpu_raw_pipe64_us", "broker CPU per pipelined, raw clients, us", False),
    ("cpu_echo1m_us", "broker CPU per 1 MiB echo, us", False),
    ("cpu_fanout100_us", "broker CPU per signal to 100, us", False),
    ("cpu_match10000_us", "broker CPU per signal, 10000 rules, us", False),
    ("cpu_connect_us", "broker CPU per connect, us", False),
    ("cpu_raw_connect_us", "broker CPU per connect, raw clients, us", False),
]
FLOOR_METRICS = ["rtt_calls_per_s", "rtt_p50_us", "rtt_p99_us", "pipe64_calls_per_s", "echo1m_per_s"]
NATIVE_METRICS = ["rtt_calls_per_s", "rtt_p50_us", "rtt_p99_us"]
CONNECT_METRICS = ["connect_per_s", "cpu_connect_us", "raw_connect_per_s", "cpu_raw_connect_us"]
# The raw socket floors also run the raw group's client and server, without
# a broker (test/bench/rawcall.c): the raw-client rows' floors.
RAW_FLOORS = ("relay", "socketpair")
RAW_CALL_METRICS = ["raw_rtt_calls_per_s", "raw_rtt_p50_us", "raw_rtt_p99_us", "raw_pipe64_calls_per_s"]


def expected_metrics(target):
    """The metrics a target must produce (what the smoke test checks)."""
    if target in BROKERS:
        return [m[0] for m in METRICS]
    if target == "libbus1":
        return NATIVE_METRICS
    if target == "canned bus":
        return CONNECT_METRICS
    if target in RAW_FLOORS:
        return FLOOR_METRICS + RAW_CALL_METRICS
    return FLOOR_METRICS


libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def pdeathsig():
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def reap_orphans():
    """We are a subreaper: collect the orphans (PID 1 here does not reap)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
    <allow own="*"/>
  </policy>
  <limit name="max_incoming_bytes">1000000000</limit>
  <limit name="max_outgoing_bytes">1000000000</limit>
  <limit name="max_message_size">134217728</limit>
  <limit name="max_completed_connections">100000</limit>
  <limit name="max_incomplete_connections">10000</limit>
  <limit name="max_connections_per_user">100000</limit>
  <limit name="max_match_rules_per_connection">50000</limit>
  <limit name="max_replies_per_connection">50000</limit>
</busconfig>
"""


def sasl_ready(path, timeout):
    """True once a broker answers SASL EXTERNAL on @path."""
    deadline = time.monotonic() + timeout
    hexuid = str(os.getuid()).encode().hex().encode()
    while time.monotonic() < deadline:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(max(0.1, deadline - time.monotonic()))
                s.connect(path)
                s.sendall(b"\0AUTH EXTERNAL " + hexuid + b"\r\n")
                if s.recv(256).startswith(b"OK "):
                    return True
        except OSError:
            pass
        time.sleep(0.02)
    return False


class Broker:
    """One fresh broker on a socket in its own temporary directory."""

    def __init__(self, kind, path, pin, new_session=True):
        self.kind = kind
        self.path = path
        self.pin = pin
        self.new_session = new_session
        self.dir = tempfile.mkdtemp(prefix="bus1-bench-")
        self.socket = os.path.join(self.dir, "bus")
        self.address = "unix:path=" + self.socket
        self.config = os.path.join(self.dir, "bus.conf")
        with open(self.config, "w") as f:
            f.write(CONFIG.format(socket=self.socket))
        self.proc = None
        self.cpu_pids = []
        self.rss_pid = None
        self.journal = None
        self.log = open(os.path.join(self.dir, "broker.log"), "w+")

    def start(self, timeout=10):
        if self.kind == "dbus-broker":
            self._start_dbus_broker()
        else:
            self._start_daemon()
        if not sasl_ready(self.socket, timeout):
            raise RuntimeError("%s did not answer on %s: %s" % (self.kind, self.socket, self.log_tail()))
        if self.kind == "dbus-broker":
            deadline = time.monotonic() + timeout
            children = []
            while not children and time.monotonic() < deadline:
                children = self._children(self.proc.pid)
                time.sleep(0.01)
            if not children:
                raise RuntimeError("dbus-broker-launch started no dbus-broker")
            self.rss_pid = children[0]
            self.cpu_pids = [self.proc.pid, children[0]]
        else:
            self.rss_pid = self.proc.pid
            self.cpu_pids = [self.proc.pid]
        time.sleep(0.05)

    @staticmethod
    def _children(pid):
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    def _start_daemon(self):
        r, w = os.pipe()

        def pre():
            pdeathsig()
            os.dup2(w, 3)

        cmd = self.pin + [self.path, "--nofork", "--print-address=3", "--config-file=" + self.config]
        self.proc = subprocess.Popen(cmd, preexec_fn=pre, close_fds=False, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log, start_new_session=self.new_session)
        os.close(w)
        ready, _, _ = select.select([r], [], [], 10)
        line = os.read(r, 4096).decode() if ready else ""
        os.close(r)
        if not line.strip():
            self.stop()
            raise RuntimeError("%s printed no address: %s" % (self.kind, self.log_tail()))

    def _start_dbus_broker(self):
        rundir = os.path.join(self.dir, "run-systemd")
        os.makedirs(os.path.join(rundir, "journal"))
        self.journal = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.journal.bind(os.path.join(rundir, "journal", "socket"))
        journal = self.journal

        def sink():
            try:
                while True:
                    journal.recv(65536)
            except OSError:
                pass

        threading.Thread(target=sink, daemon=True).start()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.socket)
        listener.listen(4096)
        lfd = listener.fileno()

        def pre():
            pdeathsig()
            os.dup2(lfd, 3)

        script = ('mount --make-rprivate / && '
                  '{ test -d /run/systemd || { mount -t tmpfs tmpfs /run && mkdir /run/systemd; }; } && '
                  'mount --bind "$1" /run/systemd && '
                  'export LISTEN_FDS=1 LISTEN_PID=$$ && shift && exec "$@"')
        launcher = shutil.which("dbus-broker-launch")
        cmd = self.pin + ["unshare", "-m", "sh", "-c", script, "sh", rundir, launcher,
                          "--scope", "user", "--config-file", self.config]
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.address)
        env.pop("LISTEN_FDNAMES", None)
        self.proc = subprocess.Popen(cmd, preexec_fn=pre, close_fds=False, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log, start_new_session=self.new_session)
        listener.close()

    def log_tail(self):
        self.log.flush()
        self.log.seek(0)
        return " | ".join(self.log.read().strip().splitlines()[-3:])

    def _signal(self, sig):
        """@sig to the broker: its process group, or (in the clients'
        session) the process and its children (dbus-broker-launch's
        dbus-broker)."""
        pids = [self.proc.pid] if self.new_session else self._children(self.proc.pid) + [self.proc.pid]
        for pid in pids:
            try:
                (os.killpg if self.new_session else os.kill)(pid, sig)
            except ProcessLookupError:
                pass

    def stop(self):
        if self.proc:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
            self._signal(signal.SIGKILL)
            self.proc.wait()
            self.proc = None
        if self.journal:
            self.journal.close()
            self.journal = None
        reap_orphans()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_client(args, pin, group, extra):
    cmd = pin + [args.client, "--duration", str(args.duration), "--clients", str(args.clients)] + extra + [group]
    timeout = args.group_timeout
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        return parse(out), "%s: timed out after %gs" % (group, timeout)
    finally:
        reap_orphans()
    err = None
    if p.returncode != 0:
        tail = " | ".join(p.stderr.strip().splitlines()[-2:])
        err = "%s: exit %d: %s" % (group, p.returncode, tail)
    return parse(p.stdout), err


def parse(out):
    res = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                res[parts[0]] = float(parts[1])
            except ValueError:
                pass
    return res


def availability(args):
    """Status per target: None (runs) or the reason it does not."""
    st = {}
    st["bus1-dbus"] = None if os.access(args.ours, os.X_OK) else "not built (%s missing)" % args.ours
    st["dbus-daemon"] = None if os.access(args.dbus_daemon, os.X_OK) else "not installed (%s)" % args.dbus_daemon
    if not shutil.which("dbus-broker-launch") or not shutil.which("dbus-broker"):
        st["dbus-broker"] = "not installed (no dbus-broker-launch)"
    elif os.geteuid() != 0 or not shutil.which("unshare"):
        st["dbus-broker"] = "cannot run (needs root and unshare for its private /run/systemd)"
    else:
        try:
            p = subprocess.run(["unshare", "-m", "sh", "-c", "mount --make-rprivate /"],
                               capture_output=True, text=True, timeout=10)
            err = None if p.returncode == 0 else (p.stderr.strip() or "exit %d" % p.returncode)
        except (OSError, subprocess.TimeoutExpired) as e:
            err = str(e)
        st["dbus-broker"] = None if err is None else "cannot run (no private mount namespace: %s)" % err
    for f in FLOORS:
        st[f] = None
    return st


def run_target(args, target, pin, results, errors):
    res = {}
    if target in BROKERS:
        path = {"bus1-dbus": args.ours, "dbus-daemon": args.dbus_daemon, "dbus-broker": None}[target]
        broker = Broker(target, path, pin, not args.same_session)
        try:
            broker.start()
            extra = ["--address", broker.address, "--rss-pid", str(broker.rss_pid)]
            for pid in broker.cpu_pids:
                extra += ["--cpu-pid", str(pid)]
            for group in BROKER_GROUPS:
                if broker.proc.poll() is not None:
                    errors.append("%s: broker exited (%s) before %s: %s"
                                  % (target, broker.proc.returncode, group, broker.log_tail()))
                    break
                out, err = run_client(args, pin, group, extra)
                res.update(out)
                if err:
                    errors.append("%s: %s" % (target, err))
        except RuntimeError as e:
            errors.append("%s: %s" % (target, e))
        finally:
            broker.stop()
    else:
        extra = ["--relay-session"] if target in STAND_INS and not args.same_session else []
        out, err = run_client(args, pin, FLOOR_GROUP[target], extra)
        res.update(out)
        if err:
            errors.append("%s: %s" % (target, err))
    for k, v in res.items():
        results.setdefault(k, []).append(v)


def fmt(v):
    a = abs(v)
    if a >= 1e6:
        return "%.3gM" % (v / 1e6)
    if a >= 1e4:
        return "%.3gk" % (v / 1e3)
    if a >= 100:
        return "%.0f" % v
    return "%.3g" % v


def summarize(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "values": values}


def cell(target, key, data):
    t = data["targets"][target]
    if t["status"] != "ok":
        return t["status"].split(" (")[0]
    if key not in expected_metrics(target):
        return "-"
    m = t["metrics"].get(key)
    if not m:
        return "failed"
    if len(m["values"]) == 1:
        return fmt(m["median"])
    return "%s (%s-%s)" % (fmt(m["median"]), fmt(m["min"]), fmt(m["max"]))


def table(data, targets):
    label_w = max(len(m[1]) for m in METRICS)
    widths = []
    for t in targets:
        widths.append(max([len(t)] + [len(cell(t, m[0], data)) for m in METRICS]))
    lines = []
    lines.append("| " + "metric".ljust(label_w) + " | " + " | ".join(t.ljust(w) for t, w in zip(targets, widths)) + " |")
    lines.append("|-" + "-" * label_w + "-|-" + "-|-".join("-" * w for w in widths) + "-|")
    for key, label, _ in METRICS:
        lines.append("| " + label.ljust(label_w) + " | "
                     + " | ".join(cell(t, key, data).ljust(w) for t, w in zip(targets, widths)) + " |")
    return "\n".join(lines)


def has_sanitizer(path):
    for p in (os.path.join(os.path.dirname(path), ".libs", os.path.basename(path)), path):
        try:
            with open(p, "rb") as f:
                if b"__asan_init" in f.read():
                    return True
        except OSError:
            pass
    return False


def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=5).stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


# one colour per column (gnuplot's default cycle has 8, the table up to 9 columns)
COLORS = ["#9400d3", "#009e73", "#56b4e9", "#e69f00", "#f0e442", "#0072b2", "#e51e10", "#303030", "#c0a080",
          "#80c0c0"]


def plot(data, prefix, targets):
    """Two panels, each bar relative to dbus-daemon's median (1.0)."""
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        return "gnuplot not found (Debian: gnuplot-nox): no plot"
    ref = data["targets"]["dbus-daemon"]["metrics"]
    cols = [t for t in targets if data["targets"][t]["status"] == "ok"]
    panels = [("throughput relative to dbus-daemon (higher is better)", [m for m in METRICS if m[2]]),
              ("latency, memory, CPU relative to dbus-daemon (lower is better)",
               [m for m in METRICS if not m[2] and m[0] != "rss_idle_kib"])]
    script = ['set terminal pngcairo size 1700,1200 noenhanced font ",10"' if has_term("pngcairo")
              else 'set terminal png size 1700,1200 noenhanced',
              'set output "%s.png"' % prefix, 'set multiplot layout 2,1 title "%s"' % data["meta"]["title"],
              'set style data histogram', 'set style histogram errorbars gap 2 lw 1',
              'set style fill solid 0.8 border -1', 'set key outside right top', 'set logscale y',
              'set grid ytics', 'set xtics rotate by -40 scale 0', 'set datafile missing "?"',
              'set bmargin 13']
    for i, (title, metrics) in enumerate(panels):
        dat = "%s.%d.dat" % (prefix, i)
        lowest = 1.0
        with open(dat, "w") as f:
            f.write("# metric, then median min max per target: " + ", ".join(cols) + "\n")
            for key, label, _ in metrics:
                r = ref.get(key)
                row = ['"%s"' % label]
                for c in cols:
                    m = data["targets"][c]["metrics"].get(key)
                    if not m or not r or r["median"] <= 0 or m["median"] <= 0:
                        row += ["?", "?", "?"]
                    else:
                        row += ["%g" % (m[x] / r["median"]) for x in ("median", "min", "max")]
                        if m["min"] > 0:
                            lowest = min(lowest, m["min"] / r["median"])
                f.write(" ".join(row) + "\n")
        plots = []
        for j, c in enumerate(cols):
            base = 2 + 3 * j
            xt = ":xtic(1)" if j == 0 else ""
            plots.append('"%s" using %d:%d:%d%s title "%s" lc rgb "%s"'
                         % (dat, base, base + 1, base + 2, xt, c, COLORS[j % len(COLORS)]))
        # bars start at the bottom of a log axis: below the smallest value, at most 0.01
        script.append("set yrange [%g:*]" % min(0.01, 10 ** math.floor(math.log10(lowest))))
        script.append('set title "%s"' % title)
        script.append("plot " + ", ".join(plots))
    script.append("unset multiplot")
    with open(prefix + ".gp", "w") as f:
        f.write("\n".join(script) + "\n")
    p = subprocess.run([gnuplot, prefix + ".gp"], capture_output=True, text=True)
    if p.returncode != 0:
        return "gnuplot failed: " + p.stderr.strip()[-300:]
    return None


def has_term(name):
    try:
        p = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True, timeout=10)
        return (" " + name + " ") in (p.stdout + p.stderr)
    except (OSError, subprocess.TimeoutExpired):
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    top = os.environ.get("top_builddir", ".")
    ap.add_argument("--client", default=os.path.join(top, "test/bench/bench-dbus"))
    ap.add_argument("--ours", default=os.environ.get("BUS1_DBUS", os.path.join(top, "bus1-dbus")))
    ap.add_argument("--dbus-daemon", default=os.environ.get("DBUS_DAEMON", "/usr/bin/dbus-daemon"))
    ap.add_argument("--out", default="bench", help="output prefix: PREFIX.json, PREFIX.png")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--duration", type=float, default=1.0, help="seconds per figure")
    ap.add_argument("--clients", type=int, default=1000, help="connections of the RSS figure")
    ap.add_argument("--cpu", default="0", help="CPU to pin everything to (default 0)")
    ap.add_argument("--unpinned", action="store_true", help="do not pin (cross-CPU wakeups)")
    ap.add_argument("--same-session", action="store_true",
                    help="start brokers in the clients' session (by default each gets its own session, "
                         "hence its own scheduling group with sched_autogroup, as a service would)")
    ap.add_argument("--group-timeout", type=float, default=180, help="seconds for one metric group")
    ap.add_argument("--smoke", action="store_true",
                    help="1 repetition, 0.05 s per figure, 100 RSS clients, 20 s per group at most")
    ap.add_argument("--targets", default=",".join(BROKERS + FLOORS),
                    help="comma-separated subset of: " + ", ".join(BROKERS + FLOORS))
    args = ap.parse_args()
    if args.smoke:
        args.reps, args.duration, args.clients, args.group_timeout = 1, 0.05, 100, 20
    targets = [t for t in args.targets.split(",") if t]
    for t in targets:
        if t not in BROKERS + FLOORS:
            ap.error("unknown target " + t)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    pin = [] if args.unpinned else ["taskset", "-c", args.cpu]
    status = availability(args)
    results = {t: {} for t in targets}
    errors = []
    runnable = [t for t in targets if status[t] is None]
    t0 = time.monotonic()
    for rep in range(args.reps):
        k = rep % max(1, len(runnable))
        for t in runnable[k:] + runnable[:k]:
            print("# rep %d/%d: %s" % (rep + 1, args.reps, t), file=sys.stderr, flush=True)
            run_target(args, t, pin, results[t], errors)
    elapsed = time.monotonic() - t0
    sanitizers = has_sanitizer(args.client) or (status.get("bus1-dbus") is None and has_sanitizer(args.ours))
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "host": platform.node(), "kernel": platform.release(), "cpus": os.cpu_count(),
        "pinned": "unpinned" if args.unpinned else "taskset -c " + args.cpu,
        "broker_session": "the clients' session" if args.same_session else "own session per broker",
        "reps": args.reps, "duration_s": args.duration, "rss_clients": args.clients,
        "smoke": args.smoke, "sanitizers": sanitizers, "elapsed_s": round(elapsed, 1),
        "dbus-daemon": version([args.dbus_daemon, "--version"]),
        "bus1-dbus": version([args.ours, "--version"]) if status.get("bus1-dbus") is None else "not built",
        "source": version(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "describe", "--always",
                           "--dirty"]),
        "dbus-broker": version(["dbus-broker", "--version"]) if shutil.which("dbus-broker") else "not installed",
        "command": " ".join(sys.argv),
    }
    meta["title"] = "bus1 bench %s, %s%s, %d reps x %gs%s" % (
        meta["date"], meta["pinned"], ", brokers in the clients' session" if args.same_session else "",
        args.reps, args.duration, ", SANITIZER BUILD" if sanitizers else "")
    data = {"meta": meta, "targets": {}, "errors": errors}
    for t in targets:
        data["targets"][t] = {
            "status": "ok" if status[t] is None else status[t],
            "metrics": {k: summarize(v) for k, v in sorted(results[t].items())},
        }
    with open(args.out + ".json", "w") as f:
        json.dump(data, f, indent=1)
    print("bus1 bench: %s; brokers in %s; %d repetitions x %g s per figure; median (min-max); %s"
          % (meta["pinned"], meta["broker_session"], args.reps, args.duration, meta["date"]))
    print("bus1-dbus: %s (source %s); dbus-daemon: %s; dbus-broker: %s"
          % (meta["bus1-dbus"], meta["source"], meta["dbus-daemon"], meta["dbus-broker"]))
    if sanitizers:
        print("WARNING: sanitizer build: numbers are not representative (configure without .ci/config.site)")
    print()
    print(table(data, targets))
    print()
    for t in targets:
        if status[t] is not None:
            print("%s: %s" % (t, status[t]))
    for e in errors:
        print("error: " + e)
    note = plot(data, args.out, targets) if "dbus-daemon" in targets and status["dbus-daemon"] is None \
        else "no dbus-daemon column: no plot"
    print("json: %s.json; plot: %s" % (args.out, note or args.out + ".png"))
    print("(%.0f s)" % elapsed)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
