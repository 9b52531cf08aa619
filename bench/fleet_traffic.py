#!/usr/bin/env python3
"""A polling fleet against one bulwarkd (docs/benchmarks/scale.md, "fleet
simulator"): 1,000 simulated production devices (bw-fleetsim, the device
library in-process, 24 real bulwark-device processes) check in every 10 s
(+ up to 2 s jitter) for 150 s; the first 60 s (every device's first
contact: full handshake and binding) are left out. Each check-in is what
the agent does: TUF refresh (next root, timestamp) and GET /wave, on the
agent's kept connection or a resumed TLS 1.3 session (bulwarkd closes
idle connections after 5 s). Reported: check-ins/s, p50/p99 latency,
bulwarkd's CPU per check-in (/proc/<pid>/stat) and the devices one core
would serve at a 5-minute poll (300 s / CPU per check-in).

Usage: fleet_traffic.py BUILD_DIR [DEVICES]
"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests",
                                "integration"))
os.environ.setdefault("BW_BINARY_DIR", os.path.abspath(
    sys.argv[1] if len(sys.argv) > 1 else "build"))
import bwfleet as F  # noqa: E402

DEVICES = int(sys.argv[2]) if len(sys.argv) > 2 else 1000


def main():
    tmp = tempfile.mkdtemp(prefix="bw-bench-traffic-")
    simtop = tempfile.mkdtemp(prefix="bw-bench-traffic-", dir="/dev/shm") \
        if os.path.isdir("/dev/shm") else tmp
    fs = F.FleetServer(tmp, F.wave_config(10),
                       extra={"gateway": {"last_seen_interval": "300"}})
    try:
        p, rep = fs.fleetsim(os.path.join(simtop, "sim"), DEVICES,
                             "--poll", "10", "--jitter", "2",
                             "--processes", "24", "--threads", "32",
                             "--max-seconds", "150", "--warmup", "60",
                             timeout=600)
    finally:
        fs.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(simtop, ignore_errors=True)
    if rep is None:
        print("bw-fleetsim failed: " + p.stdout + p.stderr)
        return 1
    t = rep["traffic"]
    cpu = t.get("server-cpu-us-per-checkin")
    print("# A polling fleet: %d devices, poll 10 s\n" % DEVICES)
    print("| check-ins | seconds | check-ins/s | failures | p50 | p99 "
          "| bulwarkd CPU per check-in | devices per core at a 5-min poll |")
    print("|---|---|---|---|---|---|---|---|")
    print("| %d | %.0f | %.1f | %d | %.1f ms | %.1f ms | %s | %s |" % (
        t["checkins"], t["seconds"], t["checkins-per-s"],
        t["checkin-failures"], t["latency-p50-ms"], t["latency-p99-ms"],
        "%.0f us" % cpu if cpu else "-",
        "%.0f" % (300e6 / cpu) if cpu else "-"))
    return 0 if t["checkin-failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
