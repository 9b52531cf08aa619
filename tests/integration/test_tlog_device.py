"""Binary transparency: bulwark-device with [transparency] log_key and
witness_key set installs a production release only when bulwarkd proves
its targets metadata is in the transparency log under a checkpoint signed
by the log key and co-signed by the witness. A real bulwarkd, a real
SoftHSM2 device key, the real CLI for keys and co-signing."""
import os
import shutil
import subprocess
import tempfile
import unittest
import uuid as uuidlib

import bwserver as c
from bwdevice import AGENT, OK, REFUSED, UPDATE, Device, image
from bwtest import SOFTHSM_MODULE, softhsm_env

HAVE = os.path.exists(c.BULWARKD) and os.path.exists(AGENT) and \
    os.path.exists(SOFTHSM_MODULE)
ORIGIN = "bulwark/acme"


@unittest.skipUnless(HAVE, "bulwarkd, bulwark-device or SoftHSM2 missing")
class BinaryTransparency(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bw-bt-")
        self.tuf = c.Tuf()
        self.logkey = os.path.join(self.tmp, "log.pem")
        self.wkey = os.path.join(self.tmp, "w.pem")
        self.vkey = self.keygen(self.logkey, ORIGIN)
        self.wvkey = self.keygen(self.wkey, "witness.example")
        os.makedirs(os.path.join(self.tmp, "srv"))
        self.srv = c.Server(os.path.join(self.tmp, "srv"), self.tuf, extra={
            "log": {"key": self.logkey, "origin": ORIGIN}})
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

    def keygen(self, path, name):
        p = subprocess.run([c.BULWARK, "log", "key", "--generate", "--key",
                            path, "--name", name], capture_output=True,
                           text=True, check=True)
        return p.stdout.strip()

    def device(self, vkey):
        st, r = self.srv.admin("POST", "/tokens", {"scope": "production",
                                                   "expires-in": 3600})
        self.assertEqual(st, 201, r)
        tok = os.path.join(self.tmp, "prod.token")
        with open(tok, "w") as f:
            f.write(r["token"] + "\n")
        dev = Device(os.path.join(self.tmp, "dev"),
                     "https://127.0.0.1:%d" % self.srv.gw_port,
                     "[transparency]\nlog_key = %s\nwitness_key = %s\n"
                     % (vkey, self.wvkey))
        with open(dev.config) as f:
            text = f.read().replace("tag = main\n", "")
        with open(dev.config, "w") as f:
            f.write(text)
        p = subprocess.run(
            [AGENT, "register", "--config", dev.config, "--server",
             "https://127.0.0.1:%d" % self.srv.reg_port, "--token-file", tok,
             "--ca-file", os.path.join(self.srv.pki, "factory_ca.pem"),
             "--uuid", str(uuidlib.uuid4()), "--hardware-id", "board-x",
             "--tag", "prod", "--token-label", "dev1", "--key-label", "d",
             "--pin-file", self.pin],
            capture_output=True, text=True, timeout=60, env=self.env)
        self.assertEqual(p.returncode, OK, p.stdout + p.stderr)
        dev.provision(self.tuf.root(production=True))
        return dev

    def release(self, version):
        t = self.tuf
        name = "fw-prod-%d" % version
        data = image(name, 20000)
        with open(os.path.join(self.srv.targets_dir, name), "wb") as f:
            f.write(data)
        md = t.targets(version, {name: c.fileinfo(
            data, {"version": str(version), "hardwareIds": ["board-x"],
                   "tags": ["prod"]})}, [t.ci_targets, t.offline_targets])
        st, r = self.srv.admin("PUT", "/repo/production/targets/prod", md)
        self.assertEqual(st, 200, r)

    def witness(self):
        """What a witness does: fetch, check, co-sign, hand back."""
        st, note = self.srv.admin("GET", "/log/checkpoint")
        self.assertEqual(st, 200)
        cp = os.path.join(self.tmp, "cp")
        with open(cp, "wb") as f:
            f.write(note)
        vk = os.path.join(self.tmp, "log.vkey")
        with open(vk, "w") as f:
            f.write(self.vkey + "\n")
        subprocess.run([c.BULWARK, "log", "cosign", "--checkpoint", cp,
                        "--log-key", vk, "--key", self.wkey, "--name",
                        "witness.example", "--out", cp + ".w"], check=True,
                       capture_output=True)
        with open(cp + ".w", "rb") as f:
            witnessed = f.read()
        env = dict(os.environ, BULWARK_ADMIN_TOKEN_FILE=self.srv.token_file,
                   BULWARK_CA_FILE=os.path.join(self.srv.pki,
                                                "factory_ca.pem"))
        p = subprocess.run([c.BULWARK, "log", "publish", "--server",
                            "https://127.0.0.1:%d" % self.srv.admin_port,
                            "--checkpoint", cp + ".w"], capture_output=True,
                           text=True, env=env)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return note, witnessed

    def pull(self, dev):
        return dev.run("pull", env=self.env)

    def test_device_refuses_a_release_not_in_the_witnessed_log(self):
        self.assertEqual(self.srv.admin("PUT", "/repo/production/root",
                                        self.tuf.root(production=True))[0],
                         200)
        self.release(3)
        dev = self.device(self.vkey)
        self.assertEqual(dev.run("check", env=self.env).returncode, UPDATE)
        # logged, but no witness has seen it yet: refused
        p = self.pull(dev)
        self.assertEqual(p.returncode, REFUSED, p.stdout + p.stderr)
        self.assertIn("not proven to be in the transparency log", p.stderr)
        note, witnessed = self.witness()
        p = self.pull(dev)
        self.assertEqual(p.returncode, OK, p.stdout + p.stderr)
        # a newer release, uploaded after the witnessed checkpoint
        self.release(4)
        p = self.pull(dev)
        self.assertEqual(p.returncode, REFUSED, p.stdout + p.stderr)
        self.witness()
        self.assertEqual(self.pull(dev).returncode, OK)
        # the server refuses what is not a witnessed checkpoint of its log
        self.assertEqual(self.srv.admin("PUT", "/log/witnessed", note)[0],
                         400)
        lines = witnessed.split(b"\n")
        lines[1] = str(int(lines[1]) - 1).encode()  # another tree size
        self.assertEqual(self.srv.admin("PUT", "/log/witnessed",
                                        b"\n".join(lines))[0], 400)

    def test_device_refuses_a_log_signed_by_another_key(self):
        self.assertEqual(self.srv.admin("PUT", "/repo/production/root",
                                        self.tuf.root(production=True))[0],
                         200)
        self.release(3)
        self.witness()
        other = self.keygen(os.path.join(self.tmp, "o.pem"), ORIGIN)
        dev = self.device(other)
        p = self.pull(dev)
        self.assertEqual(p.returncode, REFUSED, p.stdout + p.stderr)
        self.assertIn("not signed by the log key", p.stderr)


if __name__ == "__main__":
    unittest.main()
