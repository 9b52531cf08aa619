"""bulwarkd with server.workers = 2 (run on SQLite and, as
integration_pg_test_bulwarkd_workers, on PostgreSQL): a supervisor and two
worker processes on SO_REUSEPORT sockets.

- both workers serve: open gateway connections are held by both worker
  processes (their sockets, read from /proc);
- a TLS session ticket from one worker resumes on the other (the workers
  share the ticket keys);
- a worker killed with SIGKILL is restarted by the supervisor while
  requests keep succeeding;
- a deny-listing through the admin API (worker 0) refuses the device on
  every worker, on open and new connections, within
  gateway.identity_poll_interval;
- SIGHUP reaches every worker (each reloads its PKI);
- a PKI-directory change takes effect on no worker while worker 1 cannot
  write its transparency-log entry (the log table refuses inserts): a
  device of a device CA just revoked in the directory is still judged by
  the logged policy on every connection, and refused on every worker
  once the revocation is logged;
- SIGTERM stops every worker and the supervisor, and a SIGKILLed
  supervisor takes its workers with it: no process is left behind;
- the registration rate limit is one budget for both workers, and for two
  servers on one database; many registrations at once over both workers
  all succeed (SQLite: WAL and the busy timeout let the processes share
  the file).

Environment: BW_BINARY_DIR (bulwarkd)."""
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
import unittest
import uuid as uuidlib

import bwserver as c

POLL = 1.0  # gateway.identity_poll_interval


def until(pred, seconds):
    """Seconds until pred() held (polled every 50 ms), or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if pred():
            return time.monotonic() - t0
        time.sleep(0.05)
    return None


def children(pid):
    """PIDs whose parent is pid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        # the command may hold spaces: fields after the last ')'
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            out.append(int(d))
    return sorted(out)


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


def established_inodes(port):
    """Socket inodes of established TCP connections whose local port is
    port (the server side)."""
    inodes = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def socket_owners(pids, port):
    """{pid: number of established connections on port it holds}."""
    inodes = established_inodes(port)
    owners = {}
    for pid in pids:
        n = 0
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in inodes:
                n += 1
        owners[pid] = n
    return owners


def wait_minute_start():
    """Rate windows are clock minutes: start a counted burst early in
    one, so it does not straddle two."""
    if time.time() % 60 > 45:
        time.sleep(61 - time.time() % 60)


WORKERS = {"server": {"workers": "2"},
           "gateway": {"policy_reload_interval": "3600",
                       "identity_poll_interval": "1"}}


@unittest.skipUnless(os.path.exists(c.BULWARKD), "bulwarkd not built")
class TwoWorkers(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bw-workers-")
        self.srv = c.Server(self.tmp, c.Tuf(), extra=WORKERS).start()
        self.workers = self.wait_workers(2)
        self.srv.seed()
        self.dev = c.device_cert(self.srv.pki, self.tmp, "dev")

    def tearDown(self):
        rc = self.srv.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.assertEqual(rc, 0)

    def wait_workers(self, n, not_in=()):
        got = []

        def ready():
            got[:] = [p for p in children(self.srv.proc.pid)
                      if p not in not_in]
            return len(got) >= n
        self.assertIsNotNone(until(ready, 15), "workers: %s" % got)
        return got

    def hold(self, n):
        """n open keep-alive gateway connections, each answered once."""
        conns = []
        for _ in range(n):
            h = self.srv.device(self.dev)
            h.request("GET", "/device")
            r = h.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
            conns.append(h)
        return conns

    def both_serve(self):
        conns = self.hold(24)
        try:
            owners = socket_owners(children(self.srv.proc.pid),
                                   self.srv.gw_port)
        finally:
            for h in conns:
                h.close()
        busy = [p for p, n in owners.items() if n > 0]
        self.assertEqual(len(busy), 2, "connections per worker: %s" % owners)
        self.assertEqual(sum(owners.values()), 24, owners)

    def test_both_workers_serve(self):
        self.both_serve()
        self.assertIn("worker 2 of 2", self.srv.logtext())

    def get_on_new_connection(self, ctx, session=None):
        """(status line, session, resumed) of GET /device on a new TLS
        connection, offering session."""
        raw = socket.create_connection(("127.0.0.1", self.srv.gw_port), 10)
        with ctx.wrap_socket(raw, session=session) as s:
            s.sendall(b"GET /device HTTP/1.1\r\nHost: x\r\n"
                      b"Connection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            return data.split(b"\r\n", 1)[0], s.session, s.session_reused

    def test_session_ticket_resumes_on_every_worker(self):
        ctx = self.srv.ctx(self.dev["cert"], self.dev["key"])
        line, sess, _ = self.get_on_new_connection(ctx)
        self.assertIn(b" 200 ", line)
        resumed = []
        for _ in range(12):  # the kernel spreads these over both workers
            line, _, again = self.get_on_new_connection(ctx, sess)
            self.assertIn(b" 200 ", line)
            resumed.append(again)
        self.assertEqual(resumed, [True] * 12)

    def test_killed_worker_is_restarted_while_requests_succeed(self):
        victim = self.workers[1]
        os.kill(victim, signal.SIGKILL)
        codes = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < 3:
            codes.append(self.srv.device_get(self.dev, "/device")[0])
        self.assertEqual(set(codes), {200}, codes)
        self.assertGreater(len(codes), 5)
        new = self.wait_workers(2)
        self.assertNotIn(victim, new)
        self.assertIn(self.workers[0], new)
        self.assertIn("restarting it", self.srv.logtext())
        self.both_serve()

    def test_deny_refuses_on_every_worker(self):
        conns = self.hold(16)
        owners = socket_owners(children(self.srv.proc.pid), self.srv.gw_port)
        self.assertEqual(len([p for p, n in owners.items() if n]), 2, owners)
        t0 = time.monotonic()
        st, _ = self.srv.admin("POST", "/devices/%s/deny" % self.dev["uuid"],
                               {"reason": "stolen"})
        self.assertEqual(st, 200)

        def open_refused(h):
            try:
                h.request("GET", "/device")
                r = h.getresponse()
                r.read()
                return r.status == 403
            except (OSError, c.http.client.HTTPException):
                return True
        pending = list(conns)

        def all_refused():
            pending[:] = [h for h in pending if not open_refused(h)]
            return not pending and all(self.srv.refused(self.dev, "/device")
                                       for _ in range(8))
        took = until(all_refused, POLL + 5)
        for h in conns:
            h.close()
        self.assertIsNotNone(took, "a worker still serves a deny-listed "
                             "device")
        took = time.monotonic() - t0
        print("\n[workers] %s: deny refused on both workers after %.2f s "
              "(poll interval %.0f s)" % (c.STORAGE, took, POLL))
        self.assertLess(took, POLL + 5)

    def test_sighup_reaches_every_worker(self):
        before = self.srv.logtext().count("PKI reloaded")
        self.srv.proc.send_signal(signal.SIGHUP)
        self.assertIsNotNone(until(
            lambda: self.srv.logtext().count("PKI reloaded") >= before + 2,
            10), self.srv.logtext()[-2000:])
        self.assertIn("SIGHUP: forwarded to 2 worker(s)", self.srv.logtext())
        self.assertEqual(self.srv.device_get(self.dev, "/device")[0], 200)

    def log_readonly(self, on):
        """Make the transparency log refuse (on) or take (off) entries."""
        if c.PG:
            self.srv.query(
                "CREATE OR REPLACE FUNCTION test_tlog_ro() RETURNS trigger"
                " LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION"
                " 'transparency log read-only for the test'; END $$;"
                "CREATE TRIGGER test_tlog_ro BEFORE INSERT ON tlog_leaves"
                " FOR EACH ROW EXECUTE FUNCTION test_tlog_ro()" if on else
                "DROP TRIGGER test_tlog_ro ON tlog_leaves")
        else:
            self.srv.query(
                "CREATE TRIGGER test_tlog_ro BEFORE INSERT ON tlog_leaves"
                " BEGIN SELECT RAISE(ABORT, 'transparency log read-only"
                " for the test'); END" if on else
                "DROP TRIGGER test_tlog_ro")

    def ca_logged(self, name):
        """Transparency-log entries whose text holds name."""
        if c.PG:
            q = ("SELECT COUNT(*) FROM tlog_leaves WHERE position('%s' in"
                 " convert_from(entry, 'UTF8')) > 0" % name)
        else:
            q = ("SELECT COUNT(*) FROM tlog_leaves WHERE"
                 " instr(CAST(entry AS TEXT), '%s') > 0" % name)
        return int(self.srv.query(q)[0][0])

    def served_everywhere(self, dev, want):
        """want (True: served, False: refused) on 16 new connections,
        which the kernel spreads over both workers."""
        return [not self.srv.refused(dev, "/device")
                for _ in range(16)] == [want] * 16

    def test_unlogged_pki_change_takes_effect_on_no_worker(self):
        c.run(c.BULWARK, "keys", "ca", "add-device-ca", self.srv.pki,
              "--local", "--name", "site9")
        site = c.device_cert(self.srv.pki, self.tmp, "site9-dev",
                             ca="local-ca-site9")
        self.srv.proc.send_signal(signal.SIGHUP)
        self.assertIsNotNone(until(
            lambda: self.served_everywhere(site, True), POLL + 10),
            self.srv.logtext()[-3000:])
        # the log can no longer be written; the CA is revoked
        self.log_readonly(True)
        c.run(c.BULWARK, "keys", "ca", "revoke-device-ca", self.srv.pki,
              "--ca", "local-ca-site9")
        reloads = self.srv.logtext().count("PKI reloaded")
        self.srv.proc.send_signal(signal.SIGHUP)
        # both workers reloaded: worker 1 failed to log the change,
        # worker 2 waits for the entry (or, wrongly, applied it)
        self.assertIsNotNone(until(lambda: (
            "PKI reload failed" in self.srv.logtext() and
            ("waits for its transparency log entry" in self.srv.logtext()
             or self.srv.logtext().count("PKI reloaded") > reloads)),
            10), self.srv.logtext()[-3000:])
        # unlogged, the revocation takes effect on no worker: every
        # connection is judged by the logged policy
        self.assertTrue(self.served_everywhere(site, True),
                        "a worker applied an unlogged PKI change")
        self.assertEqual(self.ca_logged("pki.ca.revoke"), 0)
        self.assertIn("waits for its transparency log entry",
                      self.srv.logtext())
        # the log works again: worker 1 logs the change at its next
        # reload, worker 2 applies it once its poll sees the entry
        self.log_readonly(False)
        self.srv.proc.send_signal(signal.SIGHUP)
        self.assertIsNotNone(until(
            lambda: self.served_everywhere(site, False), POLL + 10),
            self.srv.logtext()[-3000:])
        self.assertEqual(self.ca_logged("pki.ca.revoke"), 1)
        self.assertIn("applied: the transparency log holds it",
                      self.srv.logtext())

    def test_sigterm_stops_every_worker(self):
        pids = children(self.srv.proc.pid)
        self.assertEqual(self.srv.stop(), 0)
        self.assertEqual([p for p in pids if alive(p)], [])
        self.assertIn("all workers stopped", self.srv.logtext())
        self.srv.start()  # for tearDown, and the ports are free again
        self.wait_workers(2)

    def test_killed_supervisor_takes_its_workers(self):
        pids = children(self.srv.proc.pid)
        self.srv.kill()
        gone = until(lambda: not any(alive(p) for p in pids), 15)
        self.assertIsNotNone(gone, "workers outlived their supervisor")
        self.srv.start()
        self.wait_workers(2)

    def test_registration_rate_limit_is_shared_by_the_workers(self):
        """Over registration.rate_per_minute the answer is 429 whichever
        worker takes the connection: one budget, not one per worker."""
        self.srv.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
        os.makedirs(self.tmp)
        extra = dict(WORKERS, registration={"rate_per_minute": "5"})
        self.srv = c.Server(self.tmp, c.Tuf(), extra=extra).start()
        self.wait_workers(2)
        wait_minute_start()
        codes = [self.srv.register({"uuid": str(uuidlib.uuid4())})[0]
                 for _ in range(24)]
        self.assertEqual(len([x for x in codes if x != 429]), 5, codes)


@unittest.skipUnless(os.path.exists(c.BULWARKD), "bulwarkd not built")
class SharedLimits(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bw-workers-rl-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_two_servers_with_two_workers_share_one_budget(self):
        """Two bulwarkd (two workers each) on one database: together they
        admit rate_per_minute registrations a minute per address."""
        tuf = c.Tuf()
        extra = dict(WORKERS, registration={"rate_per_minute": "6"})
        for n in ("a", "b"):
            os.makedirs(os.path.join(self.tmp, n))
        a = c.Server(os.path.join(self.tmp, "a"), tuf, extra=extra)
        b = c.Server(os.path.join(self.tmp, "b"), tuf, pki=a.pki, db=a.db,
                     extra=extra)
        a.start()
        b.start()
        try:
            wait_minute_start()
            codes = [(a if i % 2 else b).register(
                {"uuid": str(uuidlib.uuid4())})[0] for i in range(24)]
            self.assertEqual(len([x for x in codes if x != 429]), 6, codes)
        finally:
            self.assertEqual((a.stop(), b.stop()), (0, 0))

    def test_workers_0_is_one_per_cpu(self):
        srv = c.Server(self.tmp, c.Tuf(),
                       extra={"server": {"workers": "0"}}).start()
        try:
            want = min(os.cpu_count() or 1, 256)
            got = []

            def ready():
                got[:] = children(srv.proc.pid)
                return len(got) == want
            self.assertIsNotNone(until(ready, 15), (got, want))
            self.assertIn("starting %d worker(s)" % want, srv.logtext())
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_registrations_at_once_over_two_workers(self):
        """16 registrations at once, spread over both workers by the
        kernel: every one is answered 201 and recorded (the processes
        share the SQLite file through WAL and the busy timeout)."""
        srv = c.Server(self.tmp, c.Tuf(), extra=WORKERS).start()
        try:
            st, tok = srv.admin("POST", "/tokens",
                                {"scope": "ci", "uses": 100,
                                 "expires-in": 3600})
            self.assertEqual(st, 201, tok)
            results = []

            def one():
                uid = str(uuidlib.uuid4())
                body = {"uuid": uid, "hardware-id": "board",
                        "csr": c.csr_pem(uid)}
                results.append((uid, srv.register(body, tok["token"])[0]))
            ts = [threading.Thread(target=one) for _ in range(16)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(60)
            self.assertEqual([s for _, s in results], [201] * 16, results)
            rows = srv.query("SELECT uuid FROM devices")
            got = {r[0] for r in rows}
            self.assertTrue({u for u, _ in results} <= got)
            self.assertTrue(srv.db_consistent())
        finally:
            self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    unittest.main()
