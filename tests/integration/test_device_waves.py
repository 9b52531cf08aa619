"""Waves end to end with real bulwark-device processes: devices registered
with a real SoftHSM2 token against a real bulwarkd on 127.0.0.1, file-backed
A/B slots, the charter signed by the production targets keys.

The attack: a compromised server edits its database to put every device
in the last step at once (every device "admitted", the last step open).
It can serve that, but the devices decide: those in the first step take
the wave, those in the last step refuse because its bake time has not
passed on their own clocks, and those outside the approved cohort refuse
for good. A device that takes the wave installs the charter's target
(hash-checked against the charter) and reports; the server counts it.

Uses the bulwarkd fixtures (bwserver.py) and the device
helpers (test_device.py).
"""
import hashlib
import os
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import time
import unittest
import uuid as uuidlib

import bwserver as c
from bwdevice import AGENT, OK, REBOOT, UPDATE, Device, image
from bwtest import SOFTHSM_MODULE, softhsm_env

HAVE = os.path.exists(c.BULWARKD) and os.path.exists(AGENT) and \
    os.path.exists(SOFTHSM_MODULE)
TAG = "prod"
HW = "board-x"


def step_of(signed, uuid):
    h = hashlib.sha256(bytes.fromhex(signed["salt"]) +
                       uuid.lower().encode()).digest()
    x = int.from_bytes(h[:8], "big")
    for i, st in enumerate(signed["steps"]):
        if x * 10**6 < st["admit_ppm"] << 64:
            return i
    return None


@unittest.skipUnless(HAVE, "bulwarkd, bulwark-device or SoftHSM2 missing")
class DeviceWaves(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bw-devwave-")
        self.tuf = c.Tuf()
        os.makedirs(os.path.join(self.tmp, "srv"))
        self.srv = c.Server(os.path.join(self.tmp, "srv"), self.tuf,
                            extra={"waves": {"evaluate_interval": "3600"}})
        self.srv.start()
        self.pin = os.path.join(self.tmp, "pin")
        with open(self.pin, "w") as f:
            f.write("1234\n")
        os.chmod(self.pin, 0o600)
        t = self.tuf
        self.assertEqual(self.srv.admin("PUT", "/repo/ci/root",
                                        t.root())[0], 200)
        self.assertEqual(self.srv.admin(
            "PUT", "/repo/production/root", t.root(production=True))[0], 200)
        self.put_target("fw-prod-1", image("fw-prod-1", 20000))
        md = t.targets(1, {"fw-prod-1": c.fileinfo(
            image("fw-prod-1", 20000), {"version": "1", "hardwareIds": [HW],
                                        "tags": [TAG]})},
            [t.ci_targets, t.offline_targets])
        self.assertEqual(self.srv.admin(
            "PUT", "/repo/production/targets/" + TAG, md)[0], 200)
        self.fw2 = image("fw-wave-2", 30000)
        self.put_target("fw-wave-2", self.fw2)
        st, r = self.srv.admin("POST", "/tokens",
                               {"scope": "production", "expires-in": 3600})
        self.assertEqual(st, 201, r)
        self.token = os.path.join(self.tmp, "prod.token")
        with open(self.token, "w") as f:
            f.write(r["token"] + "\n")

    def tearDown(self):
        rc = self.srv.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.assertEqual(rc, 0, "bulwarkd did not stop cleanly")

    def put_target(self, name, data):
        with open(os.path.join(self.srv.targets_dir, name), "wb") as f:
            f.write(data)

    def charter(self, steps):
        signed = {"_type": "wave-charter", "spec_version": "1.0",
                  "version": 1, "name": "w2", "tag": TAG,
                  "expires": c.expires(30), "hardware_ids": [HW],
                  "salt": secrets.token_hex(32),
                  "steps": [{"admit_ppm": p, "bake_seconds": b}
                            for p, b in steps],
                  "targets": {"fw-wave-2": c.fileinfo(self.fw2, {
                      "version": "2", "hardwareIds": [HW],
                      "tags": [TAG]})}}
        return signed, c.envelope(signed, [self.tuf.ci_targets,
                                           self.tuf.offline_targets])

    def device(self, name, uid):
        """A registered production device with its own SoftHSM2 token
        (dev.env: the environment that reaches it)."""
        env = softhsm_env(os.path.join(self.tmp, "hsm-" + name))
        dev = Device(os.path.join(self.tmp, name),
                     "https://127.0.0.1:%d" % self.srv.gw_port)
        with open(dev.config) as f:
            text = f.read().replace("tag = main\n", "")
        with open(dev.config, "w") as f:
            f.write(text)
        p = subprocess.run(
            [AGENT, "register", "--config", dev.config, "--server",
             "https://127.0.0.1:%d" % self.srv.reg_port, "--token-file",
             self.token, "--ca-file",
             os.path.join(self.srv.pki, "factory_ca.pem"), "--uuid", uid,
             "--hardware-id", HW, "--tag", TAG, "--token-label",
             "dev1", "--key-label", name, "--pin-file", self.pin],
            capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(p.returncode, OK, p.stdout + p.stderr)
        dev.provision(self.tuf.root(production=True))
        dev.env = env
        return dev

    def uuids(self, signed, want):
        """One fresh UUID per wanted step (None: outside the wave)."""
        out = []
        for w in want:
            while True:
                u = str(uuidlib.uuid4())
                if step_of(signed, u) == w:
                    out.append(u)
                    break
        return out

    def test_server_can_not_widen_the_wave(self):
        signed, raw = self.charter([(300000, 3600), (600000, 0)])
        st, r = self.srv.admin("POST", "/waves", raw)
        self.assertEqual(st, 201, r)
        want = [0, 1, None]
        uids = self.uuids(signed, want)
        devs = [self.device("dev%d" % i, u) for i, u in enumerate(uids)]
        # The compromised server: every device admitted, the last step
        # open, straight in its database.
        self.srv.query("UPDATE waves SET step = 1 WHERE name = 'w2'")
        for u in uids:  # (uuids: hex and dashes, safe inline)
            now = int(time.time())
            self.srv.query("INSERT INTO wave_devices VALUES ('w2', '%s', 1,"
                           " %d, 0, 0) ON CONFLICT (wave, uuid) DO UPDATE"
                           " SET step = 1, admitted = %d, outcome = 0,"
                           " reported = 0" % (u, now, now))
        out = {}
        for w, d in zip(want, devs):
            p = d.run("check", env=d.env)
            out[w] = p
            # the server did offer the last step to every device
            st, r = self.srv.admin("GET", "/waves/w2")
            self.assertEqual(r["step"], 1)
        self.assertEqual(out[0].returncode, UPDATE,
                         out[0].stdout + out[0].stderr)
        self.assertIn("update available: fw-wave-2", out[0].stdout)
        for w in (1, None):
            self.assertNotIn("fw-wave-2", out[w].stdout, out[w].stdout)
            self.assertIn("wave not taken", out[w].stderr)
        self.assertIn("step 1 opens 3600 s after", out[1].stderr)
        self.assertIn("outside the cohort", out[None].stderr)
        # the device in the first step installs the charter's release and
        # its report reaches the wave
        d = devs[0]
        self.assertEqual(d.run("pull", env=d.env).returncode, OK)
        self.assertEqual(d.run("install", env=d.env).returncode, REBOOT)
        with open(d.slot[1], "rb") as f:
            self.assertEqual(f.read(), self.fw2)
        self.assertEqual(d.run("boot", env=d.env).returncode, OK)
        p = d.run("run", env=d.env)
        self.assertEqual(p.returncode, OK, p.stdout + p.stderr)
        st, r = self.srv.admin("GET", "/waves/w2")
        self.assertEqual(r["steps"][1]["succeeded"], 1, r)

    @unittest.skipIf(c.PG, "writes a blob with SQLite's API")
    def test_refused_charter_keeps_the_production_release(self):
        """A charter the server made alone (online key only) can not even
        be uploaded; one slipped into the database is refused by the
        device, which keeps the production release."""
        signed, _ = self.charter([(1000000, 0)])
        forged = c.envelope(signed, [self.tuf.ci_targets])
        self.assertEqual(self.srv.admin("POST", "/waves", forged)[0], 400)
        uid = self.uuids(signed, [0])[0]
        d = self.device("dev-f", uid)
        db = sqlite3.connect(self.srv.db)
        db.execute("INSERT INTO waves VALUES ('w2', ?, 1, 0, 0, ?, 0, 0,"
                   " 'forged')", (TAG, forged))
        db.commit()
        db.close()
        p = d.run("check", env=d.env)
        self.assertEqual(p.returncode, UPDATE, p.stdout + p.stderr)
        self.assertIn("fw-prod-1", p.stdout)
        self.assertNotIn("fw-wave-2", p.stdout)
        self.assertIn("signed by 1 of the 2", p.stderr)


if __name__ == "__main__":
    unittest.main()
