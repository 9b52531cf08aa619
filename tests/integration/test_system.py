"""The whole system end to end, with real processes on 127.0.0.1.

scripts/demo.sh is the scenario (factory with an archive and an HSM root
key, HSM factory CA, bulwarkd with SQLite, devices with keys in their
own SoftHSM2 tokens, CI and production releases, a failed boot that
falls back, CA disable and device revocation, a two-person root rotation,
a local device CA retired while its devices re-enrol over EST);
it asserts every step and exits non-zero naming the one that failed. This
test runs it, leaves bulwarkd running (BW_DEMO_KEEP_RUNNING), checks the
outcome through the admin API and the devices, then attacks the running
system:

- a tampered target in the server's file store is refused before install;
- a timestamp that expired while nothing re-signed it (the device's clock
  moved past its expiry with faketime) is refused, trusted state kept;
- old metadata replayed by a man in the middle is refused as a rollback.

Environment: BW_BINARY_DIR, BW_SOURCE_DIR (set by ctest).
"""

import base64
import hashlib
import http.client
import http.server
import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

SOURCE = os.environ.get("BW_SOURCE_DIR",
                        os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("BW_BINARY_DIR", os.path.join(SOURCE, "build"))
AGENT = os.path.join(BINARY, "bulwark-device")
BULWARK = os.path.join(BINARY, "bulwark")
DEMO = os.path.join(SOURCE, "scripts", "demo.sh")

# bulwark-device exit codes (docs/device.md)
OK, UNREACHABLE, INVALID, EXPIRED, UPDATE, MISMATCH = 0, 4, 11, 12, 16, 70

NEEDED = [AGENT, BULWARK, os.path.join(BINARY, "bulwarkd"),
          "/usr/lib/softhsm/libsofthsm2.so", shutil.which("faketime") or "-"]


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@unittest.skipUnless(all(os.path.exists(p) for p in NEEDED),
                     "programs, SoftHSM2 or faketime missing")
class System(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="bw-system-")
        envfile = os.path.join(cls.tmp, "env.json")
        env = dict(os.environ, BW_DEMO_KEEP_RUNNING=envfile)
        cls.demo = subprocess.run(["bash", DEMO, BINARY], env=env,
                                  capture_output=True, text=True,
                                  timeout=600)
        cls.env = None
        if os.path.exists(envfile):
            with open(envfile) as f:
                cls.env = json.load(f)

    @classmethod
    def tearDownClass(cls):
        if cls.env is not None:
            pid = cls.env["server_pid"]
            try:
                os.kill(pid, signal.SIGTERM)
                for _ in range(100):
                    os.kill(pid, 0)
                    time.sleep(0.05)
            except ProcessLookupError:
                pass
            shutil.rmtree(cls.env["work"], ignore_errors=True)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.assertEqual(self.demo.returncode, 0,
                         "demo failed:\n" + self.demo.stdout[-4000:] +
                         self.demo.stderr[-2000:])
        self.w = self.env["work"]

    # ---- helpers --------------------------------------------------------

    def agent(self, name, *args, clock=None):
        cmd = [AGENT] + list(args) + [
            "--config", os.path.join(self.w, "devices", name, "device.ini")]
        if clock is not None:
            cmd = ["faketime", clock] + cmd
        env = dict(os.environ, SOFTHSM2_CONF=self.env["softhsm2_conf"])
        return subprocess.run(cmd, capture_output=True, text=True,
                              timeout=120, env=env)

    def assertExit(self, p, code):
        self.assertEqual(p.returncode, code,
                         "exit %d, wanted %d\n%s%s" %
                         (p.returncode, code, p.stdout, p.stderr))

    def admin(self, method, path, body=None):
        ctx = ssl.create_default_context(
            cafile=os.path.join(self.w, "pki", "factory_ca.pem"))
        with open(os.path.join(self.w, "server", "admin.token")) as f:
            token = f.read().strip()
        conn = http.client.HTTPSConnection("127.0.0.1",
                                           self.env["admin_port"],
                                           context=ctx, timeout=30)
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        conn.request(method, path, body=body,
                     headers={"Authorization": "Bearer " + token})
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, json.loads(data) if data else None

    def publish(self, name, data, version):
        """Add a CI target in the workspace and on the server."""
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        p = subprocess.run(
            [BULWARK, "targets", "add", path, "--name", name, "--version",
             str(version), "--hardware-id", "demo-board", "--tag", "main"],
            env=dict(os.environ, BULWARK_REPO=os.path.join(self.w, "tuf")),
            capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(self.w, "tuf", "ci", "targets.json")) as f:
            entry = json.load(f)["signed"]["targets"][name]
        shutil.copy(path, os.path.join(self.w, "server", "targets", name))
        st, r = self.admin("POST", "/repo/ci/targets/add",
                           dict(entry, name=name))
        self.assertEqual(st, 200, r)

    def trusted_version(self, name, role):
        with open(os.path.join(self.w, "devices", name, "state", "metadata",
                               role + ".json")) as f:
            return json.load(f)["signed"]["version"]

    # ---- the scenario -----------------------------------------------------

    def test_1_scenario_outcome(self):
        for n in range(1, 12):
            self.assertIn("\n== %d. " % n, self.demo.stdout)
        st, devices = self.admin("GET", "/devices")
        self.assertEqual(st, 200)
        by_name = {d["name"]: d for d in devices}
        self.assertEqual(by_name["ci-1"]["target"], "demo-os-3.0.img")
        # Step 10: the signed boot image; the unsigned one was refused.
        self.assertEqual(by_name["prod-1"]["target"], "bootx64-4.efi")
        self.assertTrue(by_name["prod-1"]["production"])
        self.assertFalse(by_name["ci-1"]["production"])
        st, events = self.admin(
            "GET", "/events?device=%s&limit=1000" % self.env["uuids"]["ci-1"])
        kinds = [e["event"]["eventType"]["id"] for e in events]
        self.assertIn("EcuRollback", kinds)
        # Root rotated to v3; the revoked ci-2 stayed behind at v2.
        self.assertEqual(self.trusted_version("ci-1", "root"), 3)
        self.assertEqual(self.trusted_version("prod-1", "root"), 3)
        self.assertEqual(self.trusted_version("ci-2", "root"), 2)
        self.assertExit(self.agent("ci-2", "check"), UNREACHABLE)
        # A production device never sees CI-only targets.
        p = self.agent("prod-1", "list")
        self.assertNotIn("demo-os-3.0.img", p.stdout)

    def test_1b_local_ca_retired_over_est(self):
        """The demo's step 9: every device of the local device CA moved to
        the online CA over EST (one of them after a kill mid-rotation),
        the local CA is revoked, and the moved devices updated."""
        st, rots = self.admin("GET", "/rotations?state=completed")
        self.assertEqual(st, 200)
        self.assertEqual(len(rots), 3)
        self.assertTrue(all(r["issuer"].startswith("online-ca")
                            for r in rots))
        st, rots = self.admin("GET", "/rotations?state=pending")
        self.assertEqual(rots, [])
        st, pki = self.admin("GET", "/pki")
        status = {c["name"]: c["status"] for c in pki["device-cas"]}
        self.assertEqual(status["local-ca"], "revoked")
        st, devices = self.admin("GET", "/devices")
        by_name = {d["name"]: d for d in devices}
        for n in ("floor-a", "floor-b"):
            self.assertEqual(by_name[n]["target"], "demo-os-3.0.img")
            state = os.path.join(self.w, "devices", n, "state")
            self.assertFalse(os.path.exists(os.path.join(state,
                                                         "rotation.json")))
            ident = open(os.path.join(state, "identity.ini")).read()
            cert = [line.split(" = ", 1)[1] for line in ident.splitlines()
                    if line.startswith("cert_file = ")][0]
            issuer = subprocess.run(
                ["openssl", "x509", "-in", cert, "-noout", "-issuer"],
                capture_output=True, text=True, check=True).stdout
            self.assertIn("online-ca", issuer)
            self.assertExit(self.agent(n, "check"), OK)

    def test_1_transparency_log_holds_every_decision(self):
        st, ent = self.admin("GET", "/log/entries?start=0&end=1000")
        self.assertEqual(st, 200)
        recs = [json.loads(base64.b64decode(e["entry"]))
                for e in ent["entries"]]
        self.assertEqual(len(recs), ent["size"])
        actions = {r["action"] for r in recs}
        for a in ("tuf.root.upload", "tuf.targets.upload",
                  "tuf.ci-target.add", "token.create", "token.revoke",
                  "device.cert.issue", "device.deny", "device.allow",
                  "pki.ca.disable", "pki.crl.install", "pki.ca.revoke",
                  "device.cert.reenroll", "device.cert.rotate",
                  "device.bind", "account.create"):
            self.assertIn(a, actions)
        # certificates signed offline on the factory floor (keys ca sign
        # --log-server) are logged at issuance
        self.assertIn("keys ca sign", [r["objects"].get("how") for r in recs
                                       if r["action"] == "device.cert.issue"])
        # the ceremony of step 8: root v3 signed by several offline keys
        v3 = [r for r in recs if r["action"] == "tuf.root.upload"
              and r["objects"]["version"] == 3]
        self.assertEqual(len(v3), 2)
        self.assertGreaterEqual(
            len(v3[0]["objects"]["signed-by"].split(",")), 2)
        with open(os.path.join(self.w, "server", "admin.token")) as f:
            token = f.read().strip()
        self.assertNotIn(token, json.dumps(recs))
        # the demo's own last step verified the log against a witnessed
        # checkpoint
        self.assertIn("entries verified against the signed checkpoint",
                      self.demo.stdout)

    def test_2_tampered_target_refused_before_install(self):
        data = bytes(range(256)) * 1000
        self.publish("demo-os-4.0.img", data, 4)
        served = os.path.join(self.w, "server", "targets", "demo-os-4.0.img")
        with open(served, "r+b") as f:  # same length, other bytes
            f.seek(1000)
            f.write(b"\x00" * 64)
        slots = os.path.join(self.w, "devices", "ci-1", "slots")
        before = {s: sha256(os.path.join(slots, s)) for s in os.listdir(slots)}
        self.assertExit(self.agent("ci-1", "check"), UPDATE)
        self.assertExit(self.agent("ci-1", "pull"), MISMATCH)
        self.assertExit(self.agent("ci-1", "install"), 20)  # nothing pulled
        after = {s: sha256(os.path.join(slots, s)) for s in os.listdir(slots)}
        self.assertEqual(before, after)
        with open(served, "wb") as f:  # the genuine file again
            f.write(data)
        self.assertExit(self.agent("ci-1", "pull"), OK)

    def test_3_expired_timestamp_refused(self):
        ts = self.trusted_version("prod-1", "timestamp")
        root = self.trusted_version("prod-1", "root")
        # Three days later, with nothing re-signed in between (the server's
        # timestamps last one day), the device refuses the stale timestamp.
        p = self.agent("prod-1", "check", clock="+3 days")
        self.assertExit(p, EXPIRED)
        self.assertIn("expired", p.stdout + p.stderr)
        self.assertEqual(self.trusted_version("prod-1", "timestamp"), ts)
        self.assertEqual(self.trusted_version("prod-1", "root"), root)
        self.assertExit(self.agent("prod-1", "check"), OK)

    def test_4_replayed_metadata_refused(self):
        meta = os.path.join(self.w, "devices", "ci-1", "state", "metadata")
        old = os.path.join(self.tmp, "replay")
        os.makedirs(old)
        shutil.copy(os.path.join(meta, "timestamp.json"), old)
        self.publish("demo-os-5.0.img", b"five" * 1000, 5)
        self.assertExit(self.agent("ci-1", "check"), UPDATE)
        newest = self.trusted_version("ci-1", "timestamp")
        # A man in the middle answers with the old, validly signed
        # timestamp (and 404 for newer roots).
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a):
                super().__init__(*a, directory=old)

            def log_message(self, *a):
                pass

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        ini = os.path.join(self.w, "devices", "ci-1", "device.ini")
        with open(ini) as f:
            saved = f.read()
        try:
            with open(ini, "w") as f:
                f.write(saved.replace(
                    "[server]\n", "[server]\nmetadata_url = "
                    "http://127.0.0.1:%d/\n" % srv.server_address[1], 1))
            p = self.agent("ci-1", "check")
            self.assertExit(p, INVALID)
            self.assertIn("older than trusted", p.stdout + p.stderr)
        finally:
            with open(ini, "w") as f:
                f.write(saved)
            srv.shutdown()
            srv.server_close()
        self.assertEqual(self.trusted_version("ci-1", "timestamp"), newest)


if __name__ == "__main__":
    unittest.main()
