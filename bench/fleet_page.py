#!/usr/bin/env python3
"""Fleet page paging with 1,000,000 devices (docs/benchmarks/fleet_page.md).

Builds a bulwarkd database of N devices (default 1,000,000; tags, flavours,
install statuses, silent and deny-listed devices mixed in), starts a real
bulwarkd on 127.0.0.1, signs in to the fleet page and times pages of every
kind: the first page, deep pages (a random `after`), each status filter, a
tag, a flavour, a uuid prefix and a name prefix search, and a tag+status
combination. Beside each, the same query on the admin JSON API (GET
/devices): the page's own floor, in the same run. Bounded: a fixed count
of requests per kind on one keep-alive connection.

Usage: fleet_page.py BUILD_DIR [N]
"""
import http.client
import os
import random
import re
import shutil
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests",
                                "integration"))
os.environ.setdefault("BW_BINARY_DIR", os.path.abspath(
    sys.argv[1] if len(sys.argv) > 1 else "build"))
from bwserver import Server, Tuf  # noqa: E402

N = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
PER_KIND = 40
TAGS = ["t%d" % i for i in range(20)]


def fill(db_path, n, now):
    rnd = random.Random(7)
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA journal_mode=MEMORY")
    cols = [r[1] for r in db.execute("PRAGMA table_info(devices)")]
    uuids = []

    def rows():
        for i in range(n):
            u = "%08x-%04x-4%03x-a%03x-%012x" % (
                rnd.getrandbits(32), rnd.getrandbits(16),
                rnd.getrandbits(12), rnd.getrandbits(12),
                rnd.getrandbits(48))
            uuids.append(u)
            r = rnd.random()
            status = ("ok" if r < 0.9 else "updating" if r < 0.95
                      else "failed" if r < 0.99 else "")
            silent = rnd.random() < 0.02
            rec = {"uuid": u, "production": int(rnd.random() < 0.7),
                   "name": "dev-%07d" % i, "hwid": "board",
                   "tag": rnd.choice(TAGS), "target": "fw-%d" % (i % 7),
                   "fingerprint": "%064x" % i, "first_seen": now - 86400,
                   "last_seen": now - (10 * 86400 if silent else 60),
                   "registered": now - 86400, "status": status}
            yield tuple(rec.get(c, "" if c not in ("production",) else 0)
                        for c in cols)
    ph = ",".join("?" * len(cols))
    db.executemany("INSERT INTO devices (%s) VALUES (%s)" %
                   (",".join(cols), ph), rows())
    db.executemany("INSERT INTO deny (uuid, reason, since) VALUES (?,'',?)",
                   [(u, now) for u in rnd.sample(uuids, n // 100)])
    db.commit()
    db.execute("ANALYZE")
    db.close()
    return uuids


class Client:
    def __init__(self, srv):
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        c.load_verify_locations(os.path.join(srv.pki, "factory_ca.pem"))
        c.check_hostname = False
        self.conn = http.client.HTTPSConnection("127.0.0.1", srv.admin_port,
                                                context=c, timeout=30)
        self.cookie = ""
        self.token = srv.token

    def req(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        if self.cookie:
            h["Cookie"] = self.cookie
        self.conn.request(method, path, body=body, headers=h)
        r = self.conn.getresponse()
        data = r.read()
        return r, data

    def sign_in(self):
        r, page = self.req("GET", "/ui/login")
        nonce = re.search(rb'name="nonce" value="([0-9a-f]{64})"',
                          page).group(1).decode()
        self.cookie = r.getheader("Set-Cookie").split(";")[0]
        body = urllib.parse.urlencode({"token": self.token, "nonce": nonce})
        r, _ = self.req("POST", "/ui/login", body,
                        {"Content-Type":
                         "application/x-www-form-urlencoded"})
        assert r.status == 303, r.status
        self.cookie = [v for k, v in r.getheaders() if k == "Set-Cookie"
                       and v.startswith("bw_session=")][0].split(";")[0]

    def timed(self, path, api=False):
        h = {"Authorization": "Bearer " + self.token} if api else {}
        t = time.perf_counter()
        r, data = self.req("GET", path, headers=h)
        dt = (time.perf_counter() - t) * 1000
        assert r.status == 200, (path, r.status, data[:200])
        return dt


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    work = tempfile.mkdtemp(prefix="bw-bench-fleet-")
    srv = None
    try:
        srv = Server(work, Tuf())
        subprocess.run([os.path.join(os.environ["BW_BINARY_DIR"],
                                     "bulwarkd"), "--config", srv.conf,
                        "--check-config"], check=True,
                       capture_output=True)
        now = int(time.time())
        t0 = time.time()
        uuids = fill(srv.db, N, now)
        fill_s = time.time() - t0
        srv.start(timeout=60)
        cl = Client(srv)
        cl.sign_in()
        rnd = random.Random(11)
        kinds = {
            "first page": lambda: "",
            "deep page (random after)": lambda: "after=" + rnd.choice(uuids),
            "status=failed": lambda: "status=failed",
            "status=updating, deep": lambda: "status=updating&after=" +
            rnd.choice(uuids),
            "status=silent": lambda: "status=silent",
            "status=denied": lambda: "status=denied",
            "tag": lambda: "tag=" + rnd.choice(TAGS),
            "tag + status=failed, deep": lambda: "tag=%s&status=failed&after=%s"
            % (rnd.choice(TAGS), rnd.choice(uuids)),
            "flavour=production, deep": lambda: "flavour=production&after=" +
            rnd.choice(uuids),
            "uuid prefix search": lambda: "q=" + rnd.choice(uuids)[:4],
            "name prefix search": lambda: "q=dev-%04d" % rnd.randrange(10000),
        }
        print("# Fleet page with %d devices\n" % N)
        print("bulwarkd on SQLite (database filled in %.1f s), one "
              "keep-alive TLS connection, %d requests per kind, 50 rows "
              "a page. Milliseconds, client-side, request to last byte.\n"
              % (fill_s, PER_KIND))
        print("| query | page p50 | page p95 | page max | JSON API p50 | "
              "JSON API p95 |")
        print("|---|---|---|---|---|---|")
        allp = []
        for name, q in kinds.items():
            page, api = [], []
            for _ in range(PER_KIND):
                qs = q()
                page.append(cl.timed("/ui/fleet?" + qs))
                api.append(cl.timed("/devices?limit=50&" + qs, api=True))
            allp += page
            print("| %s | %.1f | %.1f | %.1f | %.1f | %.1f |" % (
                name, statistics.median(page), pct(page, 95), max(page),
                statistics.median(api), pct(api, 95)))
        print("\nAll pages: p50 %.1f ms, p95 %.1f ms, max %.1f ms "
              "(goal: p95 < 100 ms for any page)." % (
                  statistics.median(allp), pct(allp, 95), max(allp)))
    finally:
        if srv:
            srv.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
