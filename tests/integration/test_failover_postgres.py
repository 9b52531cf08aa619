"""Failover with PostgreSQL's own streaming replication, under load.

A primary and a synchronous streaming standby on 127.0.0.1 (throwaway
clusters), two bulwarkd gateways whose storage.url names both hosts with
target_session_attrs=read-write. While clients register devices, post
events, upload CI targets and check in through both gateways, the primary
is killed (SIGKILL) and the standby promoted. The gateways must reconnect
by themselves; the test prints how many seconds each kind of request
failed, and checks that nothing acknowledged (201 registration, 200
upload, 200 events) is missing on the new primary.

Bounded: about 15 seconds of load, every loop capped in count and time.

Environment: BW_BINARY_DIR (bulwarkd)."""
import os
import shutil
import ssl
import tempfile
import threading
import time
import unittest
import uuid as uuidlib

import pgcluster
import bwserver as c

LOAD_BEFORE = 2.0  # seconds of load before the primary dies
PROMOTE_AFTER = 1.0  # seconds without a primary (an operator's delay)
LOAD_AFTER = 8.0  # seconds of load after the promotion
MAX_OPS = 3000  # per client thread


class Client(threading.Thread):
    """One kind of request in a loop; records (time, ok, key)."""

    def __init__(self, name, fn, stop):
        super().__init__(daemon=True)
        self.name, self.fn, self.stop = name, fn, stop
        self.log = []

    def run(self):
        i = 0
        while not self.stop.is_set() and i < MAX_OPS:
            i += 1
            t = time.monotonic()
            try:
                ok, key = self.fn(i)
            except (OSError, ssl.SSLError, c.http.client.HTTPException):
                ok, key = False, None
            self.log.append((t, ok, key))
            if not ok:
                time.sleep(0.02)

    def acked(self):
        return {k for _, ok, k in self.log if ok and k is not None}

    def error_seconds(self, since):
        """From the first failure after since to the last failure."""
        bad = [t for t, ok, _ in self.log if not ok and t >= since]
        return (bad[-1] - bad[0]) if bad else 0.0


@unittest.skipUnless(os.path.exists(c.BULWARKD) and pgcluster.available(),
                     "bulwarkd not built or PostgreSQL not installed")
class Failover(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bw-failover-")
        self.primary = pgcluster.Cluster().init(primary=True).start()
        self.db = self.primary.createdb("failover")
        self.standby = self.primary.standby()
        # synchronous replication: a commit is acknowledged only once the
        # standby has it (set after the copy, so the standby, once
        # promoted, does not wait for a standby of its own)
        self.primary.psql(self.db, "ALTER SYSTEM SET"
                          " synchronous_standby_names = '*'")
        self.primary.psql(self.db, "SELECT pg_reload_conf()")
        deadline = time.time() + 20
        while time.time() < deadline and self.primary.psql(
                self.db, "SELECT count(*) FROM pg_stat_replication"
                " WHERE sync_state = 'sync'") != [["1"]]:
            time.sleep(0.1)
        self.url = ("postgresql://postgres@127.0.0.1:%d,127.0.0.1:%d/%s"
                    "?target_session_attrs=read-write&connect_timeout=2"
                    % (self.primary.port, self.standby.port, self.db))
        self.tuf = c.Tuf()
        self.gws = []
        pki = None
        for name in ("a", "b"):
            d = os.path.join(self.tmp, name)
            os.makedirs(d)
            gw = c.Server(d, self.tuf, pki=pki,
                          extra={"storage": {"url": self.url},
                                 "server": {"shutdown_grace": "2"}})
            pki = gw.pki
            self.gws.append(gw)
        for gw in self.gws:
            gw.start()

    def tearDown(self):
        for gw in self.gws:
            gw.stop()
        self.standby.remove()
        self.primary.remove()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_kill_primary_under_load(self):
        a, b = self.gws
        a.seed()
        st, r = a.admin("POST", "/tokens", {"scope": "ci",
                                            "expires-in": 3600})
        self.assertEqual(st, 201, r)
        token = r["token"]
        dev = c.device_cert(a.pki, self.tmp, "eventer")
        checker = c.device_cert(a.pki, self.tmp, "checker")
        for gw in self.gws:  # known to both before the failure
            self.assertEqual(gw.device_get(dev, "/device")[0], 200)

        def register(i):
            u = str(uuidlib.uuid4())
            gw = self.gws[i % 2]
            st, _ = gw.register({"uuid": u, "name": "d%d" % i,
                                 "hardware-id": "board",
                                 "csr": c.csr_pem(u)}, token)
            return st == 201, u

        def events(i):
            eid = str(uuidlib.uuid4())
            conn = self.gws[i % 2].device(dev)
            try:
                conn.request("POST", "/events", body=c.json.dumps([{
                    "id": eid, "deviceTime": "2026-01-01T00:00:00Z",
                    "eventType": {"id": "EcuDownloadStarted",
                                  "version": 0},
                    "event": {}}]).encode(),
                    headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                return r.status in (200, 204), eid
            finally:
                conn.close()

        def upload(i):
            name = "fo-%d" % i
            st, _ = a.admin("POST", "/repo/ci/targets/add",
                            dict(c.fileinfo(name.encode()), name=name))
            return st == 200, name

        def checkin(i):
            st, _, _ = self.gws[i % 2].device_get(checker,
                                                  "/repo/timestamp.json")
            return st == 200, None

        stop = threading.Event()
        clients = [Client(n, f, stop) for n, f in (
            ("registration", register), ("events", events),
            ("upload", upload), ("check-in", checkin))]
        for cl in clients:
            cl.start()
        time.sleep(LOAD_BEFORE)
        t_kill = time.monotonic()
        self.primary.kill()
        time.sleep(PROMOTE_AFTER)
        self.standby.promote()
        t_promoted = time.monotonic()
        time.sleep(LOAD_AFTER)
        stop.set()
        for cl in clients:
            cl.join(30)

        print("\n[failover] promotion %.2f s after the kill" %
              (t_promoted - t_kill))
        for cl in clients:
            after = [ok for t, ok, _ in cl.log if t >= t_promoted + 3]
            print("[failover] %-12s %4d requests, %4d acknowledged, errors "
                  "for %.2f s" % (cl.name, len(cl.log), len(cl.acked())
                                  if cl.name != "check-in" else
                                  sum(ok for _, ok, _ in cl.log),
                                  cl.error_seconds(t_kill)))
            # every kind of request works again once promoted
            self.assertTrue(after and all(after[-5:]),
                            "%s still failing after the promotion"
                            % cl.name)
            # and the gateways were really cut off for a while
            self.assertTrue(any(not ok for _, ok, _ in cl.log)
                            or cl.name == "check-in")

        # nothing acknowledged is missing on the new primary
        sb, db = self.standby, self.db
        regs = {r[0] for r in sb.psql(db, "SELECT uuid FROM devices")}
        missing = clients[0].acked() - regs
        self.assertFalse(missing, "acknowledged registrations lost")
        evs = {r[0] for r in sb.psql(db, "SELECT event_id FROM events")}
        self.assertFalse(clients[1].acked() - evs,
                         "acknowledged events lost")
        st, _, tg = a.device_get(checker, "/repo/targets.json")
        self.assertEqual(st, 200)
        names = set(c.json.loads(tg)["signed"]["targets"])
        self.assertFalse(clients[2].acked() - names,
                         "acknowledged uploads lost")


if __name__ == "__main__":
    unittest.main()
