#!/usr/bin/env python3
"""Waves end to end with the fleet simulator (docs/benchmarks/waves.md).

1,000 simulated production devices (24 of them real bulwark-device
processes) against a real bulwarkd on 127.0.0.1. Time is compressed 10x
for polling: a 5-minute poll becomes 30 s (1,000 devices: ~33 check-ins a
second, what one simulator process sustains on a loaded 2-core machine),
the silence limit is 4 polls (120 s); reports come 10-30 s after
admission (every download is "slow": 0.5-1.5 x 20 s). bulwarkd admits 30
devices a minute. Its health rule runs with its defaults (3% at 99.99%
to halt, minimum sample 5). The charter has one step admitting the whole
tag, so only the rule and the throttle bound the exposure; the simulator
uploads it once every device has checked in once.

Scenarios, a few seeds each:
- bad: 20% of devices fail (10% installation error, 10% boot fallback);
- bricking: every device dies silently after installing.
For each run: devices exposed (admitted), outcomes before the halt and
the time from the deciding outcome to the halt, in seconds and in poll
intervals. Exits 1 if a halt is missing or later than 2 poll intervals.

Usage: fleet_waves.py BUILD_DIR [SEEDS] [DEVICES]
"""
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests",
                                "integration"))
os.environ.setdefault("BW_BINARY_DIR", os.path.abspath(
    sys.argv[1] if len(sys.argv) > 1 else "build"))
import bwfleet as F  # noqa: E402

SEEDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
DEVICES = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
POLL = 30
ADMIT = 30
WAVES = {"poll_interval": str(POLL), "silence_polls": "4",
         "evaluate_interval": "1", "admit_per_minute": str(ADMIT)}
# last-seen writes at bulwarkd's default pace (the test fixture writes
# every request)
GATEWAY = {"last_seen_interval": "300"}
SCENARIOS = [
    ("bad (20% fail)", ["--install-error", "10", "--boot-fallback", "10"]),
    ("bricking (all silent)", ["--silent", "100"]),
]
COMMON = ["--poll", str(POLL), "--jitter", "2", "--slow", "100",
          "--slow-seconds", "20", "--reboot", "1", "--processes", "24",
          "--threads", "32", "--max-seconds", "600", "--wave", "w"]


def run(seed, args):
    tmp = tempfile.mkdtemp(prefix="bw-bench-fleet-")
    # the devices' own state (their flash) in memory when the host has
    # /dev/shm: a thousand devices' fsyncs on one host disk would measure
    # the disk, not the server; bulwarkd's database stays on disk
    simtop = tempfile.mkdtemp(prefix="bw-bench-fleet-", dir="/dev/shm") \
        if os.path.isdir("/dev/shm") else tmp
    fs = F.FleetServer(tmp, WAVES, extra={"gateway": GATEWAY})
    try:
        charter = os.path.join(tmp, "charter.json")
        with open(charter, "wb") as f:
            f.write(fs.charter("w", [(1000000, 0)]))
        p, rep = fs.fleetsim(os.path.join(simtop, "sim"), DEVICES,
                             "--seed", str(seed), "--charter", charter,
                             *COMMON, *args,
                             timeout=900)
        if rep is None:
            raise SystemExit("bw-fleetsim failed: " + p.stdout + p.stderr)
        return rep, p.stdout
    finally:
        fs.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(simtop, ignore_errors=True)


def main():
    ok = True
    print("# Waves end to end: %d simulated devices, poll %d s, "
          "%d seeds\n" % (DEVICES, POLL, SEEDS))
    print("| scenario | seed | exposed | outcomes before halt (failed) "
          "| deciding outcome -> halt | in poll intervals | check-ins/s "
          "| server CPU per check-in |")
    print("|---|---|---|---|---|---|---|---|")
    for name, args in SCENARIOS:
        exposed, lat = [], []
        for seed in range(1, SEEDS + 1):
            rep, out = run(seed, args)
            sys.stderr.write(out)
            w, t = rep["wave"], rep["traffic"]
            h = w.get("halt") or {}
            if w["state"] != "halted" or "latency-polls" not in h or \
                    h["latency-polls"] > 2:
                ok = False
            exposed.append(w["exposed"])
            lat.append(h.get("latency-seen-s", float("nan")))
            print("| %s | %d | %d | %s (%s) | %.2f s (log: %s s) | %.2f "
                  "| %.1f | %s |" % (
                      name, seed, w["exposed"], h.get("outcomes", "-"),
                      h.get("failures", "-"),
                      h.get("latency-seen-s", float("nan")),
                      h.get("latency-logged-s", "-"),
                      h.get("latency-polls", float("nan")),
                      t["checkins-per-s"],
                      "%.0f us" % t["server-cpu-us-per-checkin"]
                      if "server-cpu-us-per-checkin" in t else "-"))
            sys.stdout.flush()
        print("| %s | median | %g | | %.2f s | | | |" % (
            name, statistics.median(exposed), statistics.median(lat)))
    if not ok:
        print("\nFAILED: a wave did not halt within 2 poll intervals")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
