#!/usr/bin/python3
"""make check: the benchmark in smoke mode (test/bench/bench.py --smoke).

Checks that every metric was produced (not its value) for every target
that can run here: dbus-daemon and the floors always; bus1-dbus once it is
built and dbus-broker when it is installed (SKIP with the reason
otherwise). Prints TAP.
"""

import json
import os
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import bench  # noqa: E402

top = os.environ.get("top_builddir", os.path.join(here, "..", ".."))
client = os.path.join(top, "test", "bench", "bench-dbus")
targets = bench.BROKERS + bench.FLOORS

with tempfile.TemporaryDirectory(prefix="bus1-bench-check-") as tmp:
    prefix = os.path.join(tmp, "smoke")
    p = subprocess.run([sys.executable, os.path.join(here, "bench.py"), "--smoke", "--client", client,
                        "--out", prefix], capture_output=True, text=True, timeout=300)
    for line in (p.stdout + p.stderr).splitlines():
        print("# " + line)
    print("1..%d" % (len(targets) + 2))
    n = 1
    try:
        with open(prefix + ".json") as f:
            data = json.load(f)
        print("ok %d - smoke run wrote its JSON" % n)
    except (OSError, ValueError) as e:
        print("not ok %d - smoke run wrote no JSON: %s" % (n, e))
        data = None
    for t in targets:
        n += 1
        if data is None:
            print("not ok %d - %s: no results" % (n, t))
            continue
        st = data["targets"][t]["status"]
        if st != "ok":
            if t == "dbus-daemon" or t in bench.FLOORS:
                print("not ok %d - %s must always run: %s" % (n, t, st))
            else:
                print("ok %d - %s # SKIP %s" % (n, t, st))
            continue
        missing = [m for m in bench.expected_metrics(t) if m not in data["targets"][t]["metrics"]]
        errs = [e for e in data["errors"] if e.startswith(t + ":")]
        if missing:
            print("not ok %d - %s: missing %s" % (n, t, ", ".join(missing)))
            for e in errs:
                print("# " + e)
        else:
            print("ok %d - %s: all %d metrics produced" % (n, t, len(bench.expected_metrics(t))))
    n += 1
    if data is None:
        print("not ok %d - plot: no results" % n)
    elif "gnuplot not found" in p.stdout:
        print("ok %d - plot # SKIP gnuplot not installed (Debian package gnuplot-nox)" % n)
    elif os.path.exists(prefix + ".png") and os.path.getsize(prefix + ".png") > 0:
        print("ok %d - plot drawn" % n)
    else:
        print("not ok %d - plot not drawn" % n)
