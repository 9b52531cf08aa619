#!/usr/bin/env python3
"""Fleet traffic against real bulwarkd gateways (docs/benchmarks/scale.md,
"A fleet with downloads, events and registrations").

Each run: DEVICES simulated production devices (bw-fleetsim, the device
library in-process, 24 of them real bulwark-device processes) check in
every 10 s (+ up to 2 s) for 150 s; the first 60 s (every device's first
contact: full handshake and binding) are left out of every figure. A
check-in is what the agent does: a TUF refresh (the next root's 404,
timestamp 304) and GET /wave, over a resumed TLS 1.3 session.

Runs (any of them on the command line; default: all four):
  poll   polling only, one gateway on SQLite
  mixed  one gateway on SQLite, and in the same run: a wave offering a
         release (a real file, IMAGE bytes) to 30% of the devices,
         admitted 40 a minute, so devices download it through the gateway,
         install, reboot and post their events; and new devices
         registering (POST /sign with a CSR and a factory token, REG_RATE
         a second from a separate client)
  pg1    the mixed run with the gateway on PostgreSQL (a throwaway
         cluster, default durability)
  pg2    the mixed run with two gateways on that one database, half the
         fleet on each (two simulators), registrations alternating

Reported per run: check-ins, downloads, events stored, registrations (all
in the measured window), failures of each (must be 0), p50/p99 check-in
latency, the gateways' CPU (utime+stime from /proc) per check-in with
everything else of the run included, the devices one gateway core serves
at a 5-minute poll (300 s / that CPU), and database statements (every
gateway's GET /status "storage.queries") and, on PostgreSQL, committed
transactions (pg_stat_database) per check-in. The script exits 1 when
anything failed.

Usage: fleet_traffic.py BUILD_DIR [DEVICES] [poll|mixed|pg1|pg2 ...]
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid as uuidlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
os.environ.setdefault("BW_BINARY_DIR", os.path.abspath(
    sys.argv[1] if len(sys.argv) > 1 else "build"))
ARGS = sys.argv[2:]
DEVICES = int(ARGS.pop(0)) if ARGS and ARGS[0].isdigit() else 1000
RUNS = ARGS or ["poll", "mixed", "pg1", "pg2"]
if any(r.startswith("pg") for r in RUNS):
    # bwserver picks its backend when it is imported
    os.environ["BW_TEST_STORAGE"] = "postgresql"

import bwfleet as F  # noqa: E402
import bwserver as C  # noqa: E402

POLL, JITTER, SECONDS, WARMUP = 10, 2, 150, 60
IMAGE = 1 << 20          # the wave's release: 1 MiB
REG_RATE = 4.0           # registrations per second, in the window
WAVE_PPM, ADMIT_PER_MINUTE = 300000, 40


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def queries(srv):
    st, r = srv.admin("GET", "/status")
    assert st == 200, r
    return r["storage"]["queries"]


def pg_commits(srv):
    return int(srv.query("SELECT xact_commit FROM pg_stat_database WHERE"
                         " datname = current_database()")[0][0])


def table_use(srv):
    """PostgreSQL's per-table scans and writes: where the statements go."""
    rows = srv.query("SELECT relname, seq_scan + coalesce(idx_scan, 0),"
                     " n_tup_ins + n_tup_upd + n_tup_del"
                     " FROM pg_stat_user_tables")
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


def events_stored(srv):
    """Device events in the database (the server's own record)."""
    return int(srv.query("SELECT count(*) FROM events")[0][0])


class Registrations(threading.Thread):
    """New devices registering at REG_RATE, from `start` for `seconds`
    (bounded: at most REG_RATE * seconds), over the given servers."""

    def __init__(self, servers, token, seconds):
        super().__init__(daemon=True)
        self.servers, self.token = servers, token
        self.start_at, self.seconds = None, seconds
        self.go = threading.Event()
        self.ok = self.failed = 0
        self.errors = []

    def run(self):
        n = int(REG_RATE * self.seconds)
        if not self.go.wait(timeout=900):
            return
        self.start_at = time.monotonic()
        for i in range(n):
            due = self.start_at + i / REG_RATE
            time.sleep(max(0.0, due - time.monotonic()))
            u = str(uuidlib.uuid4())
            body = {"uuid": u, "name": "new", "hardware-id": F.HW,
                    "csr": C.csr_pem(u)}
            try:
                st, r = self.servers[i % len(self.servers)].register(
                    body, self.token)
            except OSError as e:
                st, r = 0, str(e)
            if st == 201:
                self.ok += 1
            else:
                self.failed += 1
                self.errors.append((st, str(r)[:200]))


def second_gateway(fs, workdir):
    """Another bulwarkd on fs's database and PKI, with the same targets."""
    os.makedirs(workdir)
    srv = C.Server(workdir, fs.tuf, pki=fs.srv.pki, db=fs.srv.db,
                   extra=fs.sections)
    for name in os.listdir(fs.srv.targets_dir):
        shutil.copy(os.path.join(fs.srv.targets_dir, name),
                    srv.targets_dir)
    return srv.start()


def one_run(kind, tmp, simtop):
    mixed = kind != "poll"
    waves = F.wave_config(POLL, admit_per_minute=ADMIT_PER_MINUTE)
    fs = F.FleetServer(tmp, waves, image_size=IMAGE if mixed else 20000,
                       extra={"gateway": {"last_seen_interval": "300"}})
    servers = [fs.srv]
    try:
        if kind == "pg2":
            servers.append(second_gateway(fs, os.path.join(tmp, "gw2")))
        common = ["--poll", str(POLL), "--jitter", str(JITTER),
                  "--threads", "32", "--max-seconds", str(SECONDS),
                  "--warmup", str(WARMUP)]
        per = DEVICES // len(servers)
        sims = []
        for i, srv in enumerate(servers):
            args = common + ["--processes", str(24 // len(servers)),
                             "--seed", str(i + 1)]
            if mixed and i == 0:
                charter = os.path.join(tmp, "charter.json")
                with open(charter, "wb") as f:
                    f.write(fs.charter("bench", [(WAVE_PPM, 3600),
                                                    (1000000, 60)]))
                args += ["--wave", "bench", "--charter", charter]
            sims.append((srv, os.path.join(simtop, "sim%d" % i), args))
        reg = None
        t0 = time.monotonic()
        if mixed:
            st, r = fs.srv.admin("POST", "/tokens", {
                "scope": "ci", "expires-in": 3600, "uses": 100000})
            assert st == 201, r
            reg = Registrations(servers, r["token"], SECONDS - WARMUP - 5)
            reg.start()
        # the window's start: database counters and CPU at WARMUP after
        # the simulators' own start (they open devices.log once their
        # devices' certificates are issued, then start the clock)
        marks = {}

        def mark():
            logs = [os.path.join(d, "devices.log") for _, d, _ in sims]
            while time.monotonic() - t0 < 900 and \
                    not all(os.path.exists(x) for x in logs):
                time.sleep(0.05)
            time.sleep(WARMUP)
            marks["cpu"] = [cpu_seconds(s.proc.pid) for s in servers]
            marks["q"] = [queries(s) for s in servers]
            marks["ev"] = events_stored(fs.srv)
            if fs.srv.pg:
                marks["tx"] = pg_commits(fs.srv)
                marks["tables"] = table_use(fs.srv)
            if reg:
                reg.go.set()
        mt = threading.Thread(target=mark, daemon=True)
        mt.start()
        results = [None] * len(sims)

        def go(i):
            srv, d, args = sims[i]
            results[i] = fs.fleetsim(d, per, *args, timeout=600,
                                     srv=srv)
        ths = [threading.Thread(target=go, args=(i,)) for i in
               range(len(sims))]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        mt.join()
        cpu = sum(cpu_seconds(s.proc.pid) for s in servers) - \
            sum(marks["cpu"])
        q = sum(queries(s) for s in servers) - sum(marks["q"])
        ev = events_stored(fs.srv) - marks["ev"]
        tx = pg_commits(fs.srv) - marks["tx"] if fs.srv.pg else None
        tables = {}
        if fs.srv.pg:
            for k, (sc, wr) in table_use(fs.srv).items():
                s0, w0 = marks["tables"].get(k, (0, 0))
                if sc - s0 or wr - w0:
                    tables[k] = [sc - s0, wr - w0]
        if reg:
            reg.go.set()
            reg.join(timeout=60)
    finally:
        codes = [s.stop() for s in reversed(servers)]
    for p, rep in results:
        if rep is None:
            print("bw-fleetsim failed: " + p.stdout[-2000:] +
                  p.stderr[-2000:])
            return None
    ts = [rep["traffic"] for _, rep in results]
    checkins = sum(t["checkins"] for t in ts)
    lat = [(t["latency-p50-ms"], t["latency-p99-ms"]) for t in ts]
    out = {
        "run": kind, "gateways": len(servers),
        "storage": "PostgreSQL" if fs.srv.pg else "SQLite",
        "checkins": checkins,
        "seconds": max(t["seconds"] for t in ts),
        "failures": sum(t["checkin-failures"] for t in ts),
        "downloads": sum(t["downloads"] for t in ts),
        "download-failures": sum(t["download-failures"] for t in ts),
        "event-send-failures": sum(t["event-send-failures"] for t in ts),
        "events": ev,
        "registrations": reg.ok if reg else 0,
        "registration-failures": reg.failed if reg else 0,
        "registration-errors": reg.errors[:3] if reg else [],
        # the simulators' windows are the same: the worse of each
        "p50": max(x[0] for x in lat), "p99": max(x[1] for x in lat),
        "cpu-us": cpu * 1e6 / checkins if checkins else 0,
        "queries": q / checkins if checkins else 0,
        "tx": tx / checkins if checkins and tx is not None else None,
        "exit-codes": codes,
        "table-scans-writes": tables,
    }
    return out


def bad(r):
    return (r["failures"] or r["download-failures"] or
            r["event-send-failures"] or r["registration-failures"] or
            any(r["exit-codes"]) or
            (r["run"] != "poll" and (not r["downloads"] or
                                     not r["registrations"] or
                                     not r["events"])))


def main():
    rows = []
    if len(RUNS) > 1:
        # one process per run: bwserver picks its backend at import
        for kind in RUNS:
            env = dict(os.environ)
            env.pop("BW_TEST_STORAGE", None)
            p = subprocess.run([sys.executable, os.path.abspath(__file__),
                                os.environ["BW_BINARY_DIR"], str(DEVICES),
                                kind], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True,
                               timeout=1200)
            lines = [x for x in p.stderr.splitlines() if x.startswith("{")]
            if not lines:
                print(p.stderr[-3000:])
                return 1
            print(lines[-1], file=sys.stderr)
            rows.append(json.loads(lines[-1]))
        return table(rows)
    for kind in RUNS:
        tmp = tempfile.mkdtemp(prefix="bw-bench-traffic-")
        simtop = tempfile.mkdtemp(prefix="bw-bench-traffic-",
                                  dir="/dev/shm") \
            if os.path.isdir("/dev/shm") else tmp
        try:
            r = one_run(kind, tmp, simtop)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(simtop, ignore_errors=True)
        if r is None:
            return 1
        print(json.dumps(r), file=sys.stderr)
        rows.append(r)
    return table(rows)


def table(rows):
    print("# Fleet traffic: %d devices, poll %d s (+%d), %d s measured\n"
          % (DEVICES, POLL, JITTER, SECONDS - WARMUP))
    print("| run | storage, gateways | check-ins | downloads | events "
          "| registrations | failures | p50 / p99 | gateway CPU per "
          "check-in | devices per core at a 5-min poll | DB statements "
          "per check-in | DB transactions per check-in |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        fails = r["failures"] + r["download-failures"] + \
            r["event-send-failures"] + r["registration-failures"]
        print("| %s | %s, %d | %d | %d | %d | %d | %d | %.1f / %.1f ms "
              "| %.0f µs | %s | %.2f | %s |" % (
                  r["run"], r["storage"], r["gateways"], r["checkins"],
                  r["downloads"], r["events"], r["registrations"], fails,
                  r["p50"], r["p99"], r["cpu-us"],
                  "{:,}".format(int(300e6 / r["cpu-us"]))
                  if r["cpu-us"] else "-", r["queries"],
                  "%.2f" % r["tx"] if r["tx"] is not None else "-"))
    return 1 if any(bad(r) for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
