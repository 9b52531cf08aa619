"""The transparency log end to end, against a real bulwarkd on 127.0.0.1
with a real SQLite file: every action on the server is logged and `bulwark
log verify|show|monitor` check it against the signed checkpoint; witness
co-signing; attacks on the database (an entry altered, an entry deleted,
the log rolled back, history rewritten, a checkpoint by another key) are
named by verify and monitor with exit 1; SIGKILL during uploads leaves a
log whose checkpoints verify and that holds every acknowledged upload;
and a verifier built from Go's golang.org/x/mod/sumdb/{tlog,note} accepts
the checkpoints and proofs."""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
import uuid as uuidlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bwserver as c  # noqa: E402
from bwtest import go_tlog_verifier  # noqa: E402

ORIGIN = "bulwark/acme"


def sqlite(db, sql):
    subprocess.run(["sqlite3", db, sql], check=True, capture_output=True)


class TlogTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="bw-tlog-")
        cls.logkey = os.path.join(cls.dir, "log.pem")
        cls.vkey = os.path.join(cls.dir, "log.vkey")
        c.run(c.BULWARK, "log", "key", "--generate", "--key", cls.logkey,
              "--name", ORIGIN, "--out", cls.vkey)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def setUp(self):
        self.work = tempfile.mkdtemp(dir=self.dir)
        self.srv = c.Server(self.work, c.Tuf(), extra={
            "log": {"key": self.logkey, "origin": ORIGIN}})
        self.srv.start()
        self.url = "https://127.0.0.1:%d" % self.srv.admin_port

    def tearDown(self):
        rc = self.srv.stop()
        self.assertEqual(rc, 0, self.srv.logtext()[-3000:])

    def cli(self, *args, vkey=True):
        a = [c.BULWARK, "log"] + list(args) + ["--server", self.url]
        if vkey:
            a += ["--log-key", self.vkey]
        env = dict(os.environ, BULWARK_ADMIN_TOKEN_FILE=self.srv.token_file,
                   BULWARK_CA_FILE=os.path.join(self.srv.pki,
                                                "factory_ca.pem"))
        return subprocess.run(a, capture_output=True, text=True,
                              timeout=120, env=env)

    def ok(self, *args):
        p = self.cli(*args)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return p.stdout

    def fails(self, msg, *args):
        p = self.cli(*args)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn(msg, p.stderr)
        return p.stderr

    def restart(self):
        self.assertEqual(self.srv.stop(), 0)
        self.srv.start()

    def tokens(self, n, comment="t"):
        for _ in range(n):
            st, r = self.srv.admin("POST", "/tokens", {
                "scope": "ci", "expires-in": 600, "comment": comment})
            self.assertEqual(st, 201, r)
            self.assertEqual(self.srv.admin(
                "DELETE", "/tokens/%d" % r["id"])[0], 200)

    def every_action(self):
        """One of each action the server performs; returns the token value
        used for registration (it must never appear in the log)."""
        srv = self.srv
        srv.seed()
        st, tok = srv.admin("POST", "/tokens", {"scope": "ci",
                                                "expires-in": 600})
        self.assertEqual(st, 201, tok)
        uid = str(uuidlib.uuid4())
        st, r = srv.register({"uuid": uid, "name": "d", "hardware-id": "b",
                              "csr": c.csr_pem(uid)}, tok["token"])
        self.assertEqual(st, 201, r)
        self.assertEqual(srv.admin("DELETE", "/tokens/%d" % tok["id"])[0],
                         200)
        self.assertEqual(srv.admin("POST", "/devices/%s/deny" % uid,
                                   {"reason": "stolen"})[0], 200)
        self.assertEqual(srv.admin("DELETE", "/devices/%s/deny" % uid)[0],
                         200)
        offline = os.path.join(self.work, "offline-pki")
        shutil.copytree(srv.pki, offline)
        c.run(c.BULWARK, "keys", "ca", "add-device-ca", offline, "--local",
              "--name", "site2")
        with open(os.path.join(offline, "local-ca-site2.pem"), "rb") as f:
            st, r = srv.admin("PUT", "/pki/ca/local-ca-site2", f.read())
        self.assertEqual(st, 200, r)
        for cmd in ("disable-device-ca", "enable-device-ca",
                    "revoke-device-ca"):
            c.run(c.BULWARK, "keys", "ca", cmd, offline, "--ca", "local-ca")
            with open(os.path.join(offline, "crl", "factory_ca.crl"),
                      "rb") as f:
                st, r = srv.admin("PUT", "/pki/crl/factory_ca", f.read())
            self.assertEqual(st, 200, r)
        return tok["token"]

    def test_every_action_is_logged_and_verifies(self):
        secret = self.every_action()
        cp1 = os.path.join(self.work, "cp1")
        out = self.ok("verify", "--save", cp1)
        self.assertIn("entries verified", out)
        shown = self.ok("show")
        actions = {ln.split("\t")[2] for ln in shown.splitlines()}
        for a in ("tuf.root.upload", "tuf.targets.upload",
                  "tuf.ci-target.add", "token.create", "token.revoke",
                  "device.cert.issue", "device.deny", "device.allow",
                  "pki.ca.add", "pki.crl.upload", "pki.ca.disable",
                  "pki.ca.enable", "pki.ca.revoke"):
            self.assertIn(a, actions, shown)
        self.assertNotIn(secret, shown)
        self.assertNotIn(self.srv.token, shown)
        self.assertIn("admin:", shown)
        self.assertIn("keys:", shown)
        self.assertIn("registration-token:", shown)
        # later: the log extends the saved checkpoint; monitor remembers
        state = os.path.join(self.work, "monitor.state")
        self.ok("monitor", "--state", state)
        self.tokens(3)
        self.ok("verify", "--checkpoint", cp1)
        self.ok("monitor", "--state", state)
        with open(state) as f:
            self.assertIn("\n%d\n" % self.size(), f.read())
        # witnesses: co-sign offline, then require it
        wkey = os.path.join(self.work, "w.pem")
        wv = os.path.join(self.work, "w.vkey")
        c.run(c.BULWARK, "log", "key", "--generate", "--key", wkey,
              "--name", "witness.example", "--out", wv)
        cos = os.path.join(self.work, "cp1.witnessed")
        p = subprocess.run([c.BULWARK, "log", "cosign", "--checkpoint", cp1,
                            "--log-key", self.vkey, "--key", wkey, "--name",
                            "witness.example", "--out", cos],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.ok("verify", "--checkpoint", cos, "--witness-key", wv,
                "--witnesses", "1")
        self.fails("witness signatures", "verify", "--checkpoint", cp1,
                   "--witness-key", wv, "--witnesses", "1")

    def test_offline_issuance_is_logged(self):
        """keys ca sign --log-server logs a device certificate issued
        offline (device.cert.issue, how "keys ca sign") once; the server
        logs only what its gateway would accept."""
        uid = str(uuidlib.uuid4())
        csr = os.path.join(self.work, "d.csr")
        with open(csr, "w") as f:
            f.write(c.csr_pem(uid))
        cert = os.path.join(self.work, "d.pem")
        env = dict(os.environ, BULWARK_ADMIN_TOKEN_FILE=self.srv.token_file)
        p = subprocess.run([c.BULWARK, "keys", "ca", "sign", self.srv.pki,
                            csr, "--issuer", "online-ca", "-o", cert,
                            "--log-server", self.url], capture_output=True,
                           text=True, timeout=60, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("issuance logged in the transparency log", p.stderr)
        shown = self.ok("show")
        issued = [ln for ln in shown.splitlines()
                  if "device.cert.issue" in ln and uid in ln]
        self.assertEqual(len(issued), 1, shown)
        self.assertIn("keys ca sign", issued[0])
        self.assertIn("admin:", issued[0])
        # the same certificate again: already logged, not twice
        with open(cert, "rb") as f:
            pem = f.read()
        st, r = self.srv.admin("POST", "/pki/issued", pem)
        self.assertEqual((st, r["uuid"]), (200, uid), r)
        # refused, nothing logged: another CA's certificate, a production
        # one from a CA that may not issue them, a revoked one, garbage
        other = os.path.join(self.work, "other-pki")
        c.make_pki(other)
        foreign = c.device_cert(other, self.work, "foreign")
        prod = c.device_cert(self.srv.pki, self.work, "prod-local",
                             ca="local-ca", production=True)
        revoked = c.device_cert(self.srv.pki, self.work, "revoked")
        c.run(c.BULWARK, "keys", "ca", "revoke-device", self.srv.pki,
              "--cert", revoked["cert"], "--issuer", "online-ca")
        self.srv.hup()
        size = self.size()
        for d, why in ((foreign, "device CA"), (prod, "production"),
                       (revoked, "revoked")):
            with open(d["cert"], "rb") as f:
                st, r = self.srv.admin("POST", "/pki/issued", f.read())
            self.assertEqual(st, 400, r)
            self.assertIn(why, r["reason"])
        self.assertEqual(self.srv.admin("POST", "/pki/issued",
                                        b"not a certificate")[0], 400)
        self.assertEqual(self.size(), size)
        # a viewer account may not
        st, acc = self.srv.admin("POST", "/accounts", {
            "role": "viewer", "expires-in": 600})
        self.assertEqual(st, 201, acc)
        self.assertEqual(self.srv.admin("POST", "/pki/issued", pem,
                                        token=acc["token"])[0], 403)

    def size(self):
        st, body = self.srv.admin("GET", "/log/checkpoint")
        self.assertEqual(st, 200)
        return int(body.decode().split("\n")[1])

    def test_admin_endpoints_refuse_bad_requests(self):
        self.tokens(2)
        for path in ("/log/entries?start=5&end=1",
                     "/log/proof/inclusion?index=4&size=4",
                     "/log/proof/inclusion?index=-1&size=4",
                     "/log/proof/inclusion?index=0&size=99",
                     "/log/proof/consistency?old=0&size=4",
                     "/log/proof/consistency?old=3&size=2",
                     "/log/proof/consistency?old=1x&size=2"):
            self.assertEqual(self.srv.admin("GET", path)[0], 400, path)
        self.assertEqual(self.srv.admin("GET", "/log/checkpoint",
                                        token="wrong")[0], 401)
        self.assertEqual(self.srv.admin("POST", "/log/checkpoint")[0], 405)
        self.assertEqual(self.srv.admin("GET", "/log/nosuch")[0], 404)

    # -- attacks on the database -------------------------------------------
    def test_altered_entry(self):
        self.tokens(4)
        self.ok("verify")
        self.srv.stop()
        if c.PG:
            self.srv.query(
                "ALTER TABLE tlog_leaves DISABLE TRIGGER tlog_leaves_ro;"
                " UPDATE tlog_leaves SET entry = convert_to(replace("
                "convert_from(entry, 'UTF8'), 'token.revoke',"
                " 'token.create'), 'UTF8') WHERE idx = 3")
        else:
            sqlite(self.srv.db, "DROP TRIGGER tlog_leaves_upd; UPDATE "
                   "tlog_leaves SET entry = replace(entry, 'token.revoke', "
                   "'token.create') WHERE idx = 3")
        self.srv.start()
        self.fails("ALTERED ENTRY 3", "verify")
        self.fails("ALTERED ENTRY 3", "monitor", "--state",
                   os.path.join(self.work, "st"))

    def test_deleted_entry(self):
        self.tokens(4)
        self.ok("verify")
        self.srv.stop()
        if c.PG:
            self.srv.query(
                "ALTER TABLE tlog_leaves DISABLE TRIGGER tlog_leaves_ro;"
                " DELETE FROM tlog_leaves WHERE idx = 2")
        else:
            sqlite(self.srv.db, "DROP TRIGGER tlog_leaves_del; DELETE FROM "
                   "tlog_leaves WHERE idx = 2")
        self.srv.start()
        self.fails("MISSING ENTRY 2", "verify")

    @unittest.skipIf(c.PG, "puts back a copy of the SQLite file")
    def test_rollback_and_rewritten_history(self):
        self.tokens(2)
        old_db = os.path.join(self.work, "old.db")
        self.srv.stop()
        shutil.copy(self.srv.db, old_db)
        self.srv.start()
        self.tokens(3)
        cp = os.path.join(self.work, "cp")
        self.ok("verify", "--save", cp)
        state = os.path.join(self.work, "state")
        self.ok("monitor", "--state", state)
        good = self.size()
        # the database put back to an older copy: the log shrank
        self.srv.stop()
        shutil.copy(old_db, self.srv.db)
        for suffix in ("-wal", "-shm"):
            if os.path.exists(self.srv.db + suffix):
                os.remove(self.srv.db + suffix)
        self.srv.start()
        self.fails("ROLLBACK", "verify", "--checkpoint", cp)
        self.fails("ROLLBACK", "monitor", "--state", state)
        # other actions on the old copy: longer, but another history
        # (entries made in the same second with the same content would
        # be the same history: these differ)
        self.tokens(5, comment="rewritten")
        self.assertGreater(self.size(), good)
        self.fails("FORK", "verify", "--checkpoint", cp)
        self.fails("FORK", "monitor", "--state", state)
        with open(state) as f:  # the monitor kept the last good one
            self.assertIn("\n%d\n" % good, f.read())

    def test_checkpoint_by_another_key(self):
        self.tokens(1)
        other = os.path.join(self.work, "other.pem")
        c.run(c.BULWARK, "log", "key", "--generate", "--key", other,
              "--name", ORIGIN)
        self.srv.stop()
        with open(self.srv.conf) as f:
            conf = f.read().replace(self.logkey, other)
        with open(self.srv.conf, "w") as f:
            f.write(conf)
        self.srv.start()
        self.tokens(1)
        self.fails("not signed by the log key", "verify")

    # -- durability ------------------------------------------------------------
    def test_sigkill_during_uploads(self):
        srv = self.srv
        srv.seed()
        acked = []

        def upload(i):
            data = b"fw %d\n" % i
            body = dict(c.fileinfo(data), name="kill-%d" % i)
            try:
                st, _ = srv.admin("POST", "/repo/ci/targets/add", body)
            except OSError:
                return
            if st == 200:
                acked.append("kill-%d" % i)

        n = 0
        for round_ in range(3):
            threads = [threading.Thread(target=upload, args=(n + i,))
                       for i in range(12)]
            n += 12
            for t in threads:
                t.start()
            threading.Event().wait(0.05 + 0.05 * round_)
            srv.kill()
            for t in threads:
                t.join(30)
            srv.start()
            self.ok("verify")
        shown = self.ok("show")
        logged = {json.loads(ln.split("\t")[4])["name"]
                  for ln in shown.splitlines()
                  if ln.split("\t")[2] == "tuf.ci-target.add"}
        for name in acked:
            self.assertIn(name, logged)
        # the log and the state agree: every target served is logged
        st, doc = srv.admin("GET", "/repo/ci/targets")
        served = set(doc["signed"]["targets"])
        self.assertEqual(served, logged)

    # -- independent check ----------------------------------------------------
    def go_verifier(self):
        return go_tlog_verifier(self.dir)

    def go_check(self, case):
        path = os.path.join(self.work, "case.json")
        with open(path, "w") as f:
            json.dump(case, f)
        return subprocess.run([self.go_verifier(), path],
                              capture_output=True, text=True, timeout=60)

    def test_go_sumdb_accepts_checkpoints_and_proofs(self):
        self.every_action()
        self.tokens(10)
        st, note = self.srv.admin("GET", "/log/checkpoint")
        self.assertEqual(st, 200)
        size = int(note.decode().split("\n")[1])
        st, ent = self.srv.admin("GET", "/log/entries?start=0&end=%d" % size)
        self.assertEqual(st, 200)
        entries = [e["entry"] for e in ent["entries"]]
        inc, con = [], []
        for t in range(1, size + 1, 3):
            for i in range(0, t, 2):
                st, p = self.srv.admin(
                    "GET", "/log/proof/inclusion?index=%d&size=%d" % (i, t))
                self.assertEqual(st, 200, p)
                inc.append(p)
            for m in range(1, t + 1, 2):
                st, p = self.srv.admin(
                    "GET", "/log/proof/consistency?old=%d&size=%d" % (m, t))
                self.assertEqual(st, 200, p)
                con.append(p)
        with open(self.vkey) as f:
            vkey = f.read().strip()
        case = {"vkeys": [vkey], "checkpoint": note.decode(),
                "entries": entries, "inclusion": inc, "consistency": con,
                "signers": 1}
        p = self.go_check(case)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("OK %d entries" % size, p.stdout)
        # a witness line that Go's note package verifies too
        cp = os.path.join(self.work, "cp")
        with open(cp, "wb") as f:
            f.write(note)
        wkey = os.path.join(self.work, "w.pem")
        wv = os.path.join(self.work, "w.vkey")
        c.run(c.BULWARK, "log", "key", "--generate", "--key", wkey,
              "--name", "witness.example", "--out", wv)
        c.run(c.BULWARK, "log", "cosign", "--checkpoint", cp, "--log-key",
              self.vkey, "--key", wkey, "--name", "witness.example",
              "--out", cp + ".w")
        with open(wv) as f, open(cp + ".w") as g:
            p = self.go_check(dict(case, vkeys=[vkey, f.read().strip()],
                                   checkpoint=g.read(), signers=2))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        # Go refuses what bulwark refuses: a proof for another tree size,
        # an altered entry, a checkpoint signed by an unknown key
        bad = dict(inc[-1], size=inc[-1]["size"] - 1)
        if bad["index"] < bad["size"]:
            p = self.go_check(dict(case, inclusion=[bad], consistency=[]))
            self.assertEqual(p.returncode, 1, p.stdout)
        badc = dict(con[1], size=con[1]["size"] + 1)
        p = self.go_check(dict(case, inclusion=[], consistency=[badc]))
        self.assertEqual(p.returncode, 1, p.stdout)
        alt = list(entries)
        raw = base64.b64decode(alt[3]).replace(b'"v":1', b'"v":2')
        alt[3] = base64.b64encode(raw).decode()
        p = self.go_check(dict(case, entries=alt))
        self.assertEqual(p.returncode, 1, p.stdout)
        with open(wv) as f:
            p = self.go_check(dict(case, vkeys=[f.read().strip()]))
        self.assertEqual(p.returncode, 1, p.stdout)


if __name__ == "__main__":
    unittest.main()
