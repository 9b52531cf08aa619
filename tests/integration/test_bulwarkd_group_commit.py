"""Registrations and device events under group commit (run on SQLite
and, as integration_pg_test_bulwarkd_group_commit, on PostgreSQL).

bulwarkd writes the registrations (and, separately, the device events)
that arrive together in one transaction, each in a savepoint of its own,
and answers after the one commit. Many requests sent at once show that:

- every 201 is durable: its device record and its transparency-log entry
  are in the database;
- a refused registration undoes only its own part: with a token of 3 uses,
  registrations of an already registered uuid (refused after the token
  was used) never take a use from the fresh ones, which all get 201;
- nothing refused is stored;
- every event acknowledged with 204 is stored, and a refused body
  (400) among them changes nothing for the others;
- a registration is one write transaction: its rate-limit count commits
  with it (the server's own count of committed write transactions:
  SQLite's commit hook, PostgreSQL's COMMITs; bench_gateway --postgres
  counts them in pg_stat_database as well).

Environment: BW_BINARY_DIR (bulwarkd)."""
import json
import os
import shutil
import tempfile
import threading
import unittest

import bwserver as c


@unittest.skipUnless(os.path.exists(c.BULWARKD), "bulwarkd not built")
class RegisterBatch(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bw-regbatch-")
        self.srv = c.Server(self.tmp, c.Tuf()).start()

    def tearDown(self):
        rc = self.srv.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.assertEqual(rc, 0)

    def token(self, uses):
        st, r = self.srv.admin("POST", "/tokens", {
            "scope": "ci", "expires-in": 3600, "uses": uses})
        self.assertEqual(st, 201, r)
        return r["token"]

    def body(self, uuid=None):
        u = uuid or str(c.uuidlib.uuid4())
        return {"uuid": u, "name": "dev", "hardware-id": "board",
                "csr": c.csr_pem(u)}

    def at_once(self, bodies, tok):
        """Send every body at the same moment; statuses in order."""
        out = [None] * len(bodies)
        go = threading.Barrier(len(bodies))

        def one(i):
            go.wait()
            out[i] = self.srv.register(bodies[i], tok)[0]
        ts = [threading.Thread(target=one, args=(i,))
              for i in range(len(bodies))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        return out

    def stored(self, uuid):
        """(device rows, transparency-log entries naming uuid)."""
        devs = self.srv.query("SELECT COUNT(*) FROM devices WHERE uuid"
                              " = '%s'" % uuid)[0][0]
        if c.PG:
            q = ("SELECT COUNT(*) FROM tlog_leaves WHERE position('%s' in"
                 " convert_from(entry, 'UTF8')) > 0" % uuid)
        else:
            q = ("SELECT COUNT(*) FROM tlog_leaves WHERE"
                 " instr(CAST(entry AS TEXT), '%s') > 0" % uuid)
        return int(devs), int(self.srv.query(q)[0][0])

    def test_every_201_is_durable(self):
        tok = self.token(1000)
        # below server.max_connections_per_address (16)
        bodies = [self.body() for _ in range(12)]
        self.assertEqual(self.at_once(bodies, tok), [201] * 12)
        for b in bodies:
            devs, entries = self.stored(b["uuid"])
            self.assertEqual(devs, 1, b["uuid"])
            self.assertGreaterEqual(entries, 1, b["uuid"])

    def test_a_refusal_undoes_only_its_part(self):
        taken = self.body()
        self.assertEqual(self.srv.register(taken, self.token(1))[0], 201)
        tok = self.token(3)
        fresh = [self.body() for _ in range(3)]
        again = [self.body(taken["uuid"]) for _ in range(5)]
        bad = dict(self.body(), csr="not a CSR")
        bodies = again[:3] + fresh + again[3:] + [bad]
        got = self.at_once(bodies, tok)
        self.assertEqual(got[3:6], [201] * 3, got)
        # refused as registered, or (once the 3 uses are gone) as
        # unauthorized; never a use taken
        for st in got[:3] + got[6:8]:
            self.assertIn(st, (409, 401), got)
        self.assertIn(got[8], (400, 401), got)
        for b in fresh:
            self.assertEqual(self.stored(b["uuid"])[0], 1)
        self.assertEqual(self.stored(bad["uuid"]), (0, 0))
        # the token is used up: exactly its 3 uses went to the fresh ones
        self.assertEqual(self.srv.register(self.body(), tok)[0], 401)


@unittest.skipUnless(os.path.exists(c.BULWARKD), "bulwarkd not built")
class OneTransaction(unittest.TestCase):
    """A registration, its rate-limit count included, is one write
    transaction on either backend."""
    N = 10

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bw-regtxn-")
        self.srv = c.Server(self.tmp, c.Tuf()).start()

    def tearDown(self):
        rc = self.srv.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.assertEqual(rc, 0)

    def commits(self):
        st, r = self.srv.admin("GET", "/status")
        self.assertEqual(st, 200, r)
        return r["storage"]["write-transactions"]

    def test_a_registration_is_one_transaction(self):
        st, r = self.srv.admin("POST", "/tokens", {
            "scope": "ci", "expires-in": 3600, "uses": 100})
        self.assertEqual(st, 201, r)
        tok = r["token"]
        before = self.commits()
        for _ in range(self.N):
            u = str(c.uuidlib.uuid4())
            st, r = self.srv.register({"uuid": u, "name": "dev",
                                       "hardware-id": "board",
                                       "csr": c.csr_pem(u)}, tok)
            self.assertEqual(st, 201, r)
        made = self.commits() - before
        # sequential registrations: nothing else writes meanwhile (one
        # more allowed for a timer's write); two each before the count
        # was folded in
        self.assertGreaterEqual(made, self.N)
        self.assertLessEqual(made, self.N + 1,
                             "%d write transactions for %d registrations"
                             % (made, self.N))


@unittest.skipUnless(os.path.exists(c.BULWARKD), "bulwarkd not built")
class EventBatch(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bw-evbatch-")
        self.srv = c.Server(self.tmp, c.Tuf()).start()
        self.srv.seed()

    def tearDown(self):
        rc = self.srv.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.assertEqual(rc, 0)

    @staticmethod
    def events(n):
        return [{"id": str(c.uuidlib.uuid4()),
                 "deviceTime": "2026-01-01T00:00:00Z",
                 "eventType": {"id": "EcuDownloadStarted", "version": 0},
                 "event": {"correlationId": "c1", "ecu": "x"}}
                for _ in range(n)]

    def test_every_204_is_stored(self):
        devs = [c.device_cert(self.srv.pki, self.tmp, "d%d" % i)
                for i in range(8)]
        conns = [self.srv.device(d) for d in devs]
        for conn in conns:  # connected and bound before the burst
            conn.request("GET", "/device")
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
        bodies = [json.dumps(self.events(3)) for _ in devs]
        bodies[5] = json.dumps([{"id": "x"}])  # refused: 400
        out = [None] * len(devs)
        go = threading.Barrier(len(devs))

        def one(i):
            go.wait()
            conns[i].request("POST", "/events", body=bodies[i].encode())
            r = conns[i].getresponse()
            r.read()
            out[i] = r.status
        ts = [threading.Thread(target=one, args=(i,))
              for i in range(len(devs))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        for conn in conns:
            conn.close()
        self.assertEqual(out, [204] * 5 + [400] + [204] * 2)
        for i, d in enumerate(devs):
            st, lst = self.srv.admin("GET", "/events?device=" + d["uuid"])
            self.assertEqual(st, 200)
            want = set() if i == 5 else {e["id"]
                                         for e in json.loads(bodies[i])}
            self.assertEqual({e["event"]["id"] for e in lst}, want,
                             d["uuid"])


if __name__ == "__main__":
    unittest.main()
