"""bulwark-device against a real bulwarkd on 127.0.0.1 and a real SoftHSM2
token: register (POST /sign with a factory token from the admin API),
then check / pull / install / boot / run over mutual TLS with the token
key, events delivered to POST /events and visible in the admin API; a
production device sees only production targets.

Uses the bulwarkd fixtures (bwserver.py). Environment:
BW_BINARY_DIR (bulwarkd, bulwark, bulwark-device).
"""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import uuid as uuidlib

import bwserver as c
from bwdevice import AGENT, OK, REBOOT, UPDATE, Device, image
from bwtest import SOFTHSM_MODULE, softhsm_env

HAVE = os.path.exists(c.BULWARKD) and os.path.exists(AGENT) and \
    os.path.exists(SOFTHSM_MODULE)


@unittest.skipUnless(HAVE, "bulwarkd, bulwark-device or SoftHSM2 missing")
class AgainstBulwarkd(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bw-devd-")
        self.tuf = c.Tuf()
        os.makedirs(os.path.join(self.tmp, "srv"))
        self.srv = c.Server(os.path.join(self.tmp, "srv"), self.tuf)
        self.srv.start()
        self.env = softhsm_env(os.path.join(self.tmp, "hsm"))
        self.pin = os.path.join(self.tmp, "pin")
        with open(self.pin, "w") as f:
            f.write("1234\n")
        os.chmod(self.pin, 0o600)

    def tearDown(self):
        rc = self.srv.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.assertEqual(rc, 0, "bulwarkd did not stop cleanly")

    def token_file(self, scope):
        st, r = self.srv.admin("POST", "/tokens",
                               {"scope": scope, "expires-in": 3600})
        self.assertEqual(st, 201, r)
        path = os.path.join(self.tmp, scope + ".token")
        with open(path, "w") as f:
            f.write(r["token"] + "\n")
        return path

    def device(self, name, tag, scope, root):
        dev = Device(os.path.join(self.tmp, name),
                     "https://127.0.0.1:%d" % self.srv.gw_port)
        # Tag and hardware id come from register's identity.ini.
        with open(dev.config) as f:
            text = f.read().replace("tag = main\n", "")
        with open(dev.config, "w") as f:
            f.write(text)
        uid = str(uuidlib.uuid4())
        p = subprocess.run(
            [AGENT, "register", "--config", dev.config, "--server",
             "https://127.0.0.1:%d" % self.srv.reg_port, "--token-file",
             self.token_file(scope), "--ca-file",
             os.path.join(self.srv.pki, "factory_ca.pem"), "--uuid", uid,
             "--hardware-id", "board-x", "--tag", tag, "--token-label",
             "dev1", "--key-label", name, "--pin-file", self.pin],
            capture_output=True, text=True, timeout=60, env=self.env)
        self.assertEqual(p.returncode, OK, p.stdout + p.stderr)
        dev.provision(root)
        return dev, uid

    def add_ci_target(self, name, data, version, tag):
        with open(os.path.join(self.srv.targets_dir, name), "wb") as f:
            f.write(data)
        body = dict(c.fileinfo(data, {"version": version,
                                      "hardwareIds": ["board-x"],
                                      "tags": [tag]}), name=name)
        st, r = self.srv.admin("POST", "/repo/ci/targets/add", body)
        self.assertEqual(st, 200, r)

    def test_ci_device_full_update(self):
        t = self.tuf
        self.assertEqual(self.srv.admin("PUT", "/repo/ci/root",
                                        t.root())[0], 200)
        fw = image("fw-ci-2", 500000)
        self.add_ci_target("fw-ci-2", fw, "2", "main")
        dev, uid = self.device("dev-ci", "main", "ci", t.root())
        p = dev.run("check", env=self.env)
        self.assertEqual(p.returncode, UPDATE, p.stdout + p.stderr)
        self.assertEqual(dev.run("pull", env=self.env).returncode, OK)
        self.assertEqual(dev.run("install", env=self.env).returncode,
                         REBOOT)
        with open(dev.slot[1], "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(),
                             hashlib.sha256(fw).hexdigest())
        self.assertEqual(dev.run("boot", env=self.env).returncode, OK)
        p = dev.run("run", env=self.env)
        self.assertEqual(p.returncode, OK, p.stdout + p.stderr)
        self.assertIn("events queued: 0", dev.status())
        st, evs = self.srv.admin("GET", "/events?device=" + uid)
        self.assertEqual(st, 200, evs)
        text = json.dumps(evs)
        for typ in ("EcuDownloadStarted", "EcuDownloadCompleted",
                    "EcuInstallationApplied", "EcuInstallationCompleted"):
            self.assertIn(typ, text)

    def test_production_device_sees_production_targets_only(self):
        t = self.tuf
        self.assertEqual(self.srv.admin("PUT", "/repo/ci/root",
                                        t.root())[0], 200)
        self.assertEqual(self.srv.admin(
            "PUT", "/repo/production/root",
            t.root(production=True))[0], 200)
        self.add_ci_target("fw-ci-9", image("ci", 1000), "9", "prod")
        pdata = image("fw-prod-3", 20000)
        with open(os.path.join(self.srv.targets_dir, "fw-prod-3"),
                  "wb") as f:
            f.write(pdata)
        md = t.targets(1, {"fw-prod-3": c.fileinfo(
            pdata, {"version": "3", "hardwareIds": ["board-x"],
                    "tags": ["prod"]})}, [t.ci_targets, t.offline_targets])
        st, r = self.srv.admin("PUT", "/repo/production/targets/prod", md)
        self.assertEqual(st, 200, r)
        dev, _ = self.device("dev-prod", "prod", "production",
                             t.root(production=True))
        p = dev.run("check", env=self.env)
        self.assertEqual(p.returncode, UPDATE, p.stdout + p.stderr)
        self.assertIn("fw-prod-3", p.stdout)
        self.assertNotIn("fw-ci-9", p.stdout)
        self.assertEqual(dev.run("pull", env=self.env).returncode, OK)


if __name__ == "__main__":
    unittest.main()
