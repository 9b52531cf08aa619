"""bulwark-device rotate-cert against a real bulwarkd (EST listener) with
a real SoftHSM2 token: the device makes a new key in the token, re-enrols
over EST with its current key, switches identity, checks in with the new
certificate and deletes the old key. Then the power-loss runs: the agent
is killed (SIGKILL) after every durable write of a rotation, and at
random writes over many rotations; after each kill the device must still
check in (never locked out), the next run must finish or undo the
rotation, the token must hold exactly one private key (none leaked) and
the server's binding must be the certificate the device uses.

BW_SLOW_TESTS=1 runs 1,000 randomised rotations (default 25).
Environment: BW_BINARY_DIR (bulwarkd, bulwark, bulwark-device)."""

import base64
import http.server
import os
import random
import re
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import uuid as uuidlib

import bwserver as c
from bwtest import free_port
from bwdevice import AGENT, OK, Device
from bwtest import SOFTHSM_MODULE, softhsm_env

HAVE = os.path.exists(c.BULWARKD) and os.path.exists(AGENT) and \
    os.path.exists(SOFTHSM_MODULE)
CHECKIN_FAILED = 4
KILLED = -9
# check's exit codes that mean "the gateway accepted the device"
CHECKED = (0, 6, 16)


def pem_fp(path):
    """SHA-256 of the first certificate in a PEM file."""
    with open(path, "rb") as f:
        cert = c.x509.load_pem_x509_certificate(f.read())
    return cert.fingerprint(c.hashes.SHA256()).hex()


class RotationWorld:
    """One bulwarkd with EST, one registered device with a token key."""

    def __init__(self, tmp, extra=None):
        self.tmp = tmp
        self.tuf = c.Tuf()
        os.makedirs(os.path.join(tmp, "srv"))
        self.est_port = free_port()
        conf = {"est": {"listen": "127.0.0.1:%d" % self.est_port,
                        "url": "https://127.0.0.1:%d" % self.est_port,
                        "rate_per_minute": "100000"}}
        for sec, kv in (extra or {}).items():
            conf.setdefault(sec, {}).update(kv)
        self.srv = c.Server(os.path.join(tmp, "srv"), self.tuf, extra=conf)
        self.srv.wait_ports.append(self.est_port)
        self.srv.start()
        self.srv.seed()
        self.env = softhsm_env(os.path.join(tmp, "hsm"))
        self.pin = os.path.join(tmp, "pin")
        with open(self.pin, "w") as f:
            f.write("1234\n")
        os.chmod(self.pin, 0o600)

    def register(self, name):
        st, r = self.srv.admin("POST", "/tokens",
                               {"scope": "ci", "expires-in": 3600})
        assert st == 201, r
        tok = os.path.join(self.tmp, name + ".token")
        with open(tok, "w") as f:
            f.write(r["token"] + "\n")
        dev = Device(os.path.join(self.tmp, name),
                     "https://127.0.0.1:%d" % self.srv.gw_port)
        dev.uuid = str(uuidlib.uuid4())
        p = subprocess.run(
            [AGENT, "register", "--config", dev.config, "--server",
             "https://127.0.0.1:%d" % self.srv.reg_port, "--token-file",
             tok, "--ca-file", os.path.join(self.srv.pki, "factory_ca.pem"),
             "--uuid", dev.uuid, "--hardware-id", "board-x",
             "--token-label", "dev1", "--key-label", name, "--pin-file",
             self.pin], capture_output=True, text=True, timeout=60,
            env=self.env)
        assert p.returncode == OK, p.stdout + p.stderr
        dev.provision(self.tuf.root())
        return dev

    def run(self, dev, *args, crash_after=None):
        env = dict(self.env)
        if crash_after:
            env["BW_DEVICE_CRASH_AFTER_WRITES"] = str(crash_after)
        e = dict(os.environ)
        e.pop("BW_DEVICE_CRASH_AFTER_WRITES", None)
        e.update(env)
        return subprocess.run([AGENT] + list(args) + ["--config",
                                                      dev.config],
                              capture_output=True, text=True, timeout=120,
                              env=e)

    def private_keys(self):
        """Labels of the private keys in the token."""
        p = subprocess.run(
            ["pkcs11-tool", "--module", SOFTHSM_MODULE, "--token-label",
             "dev1", "--login", "--pin", "1234", "--list-objects",
             "--type", "privkey"], capture_output=True, text=True,
            timeout=60, env=self.env)
        assert p.returncode == 0, p.stderr
        return re.findall(r"label:\s+(\S+)", p.stdout)

    def identity(self, dev):
        out = {}
        with open(os.path.join(dev.state, "identity.ini")) as f:
            for line in f:
                if " = " in line:
                    k, v = line.strip().split(" = ", 1)
                    out[k] = v
        return out

    def binding(self, dev):
        st, d = self.srv.admin("GET", "/devices/" + dev.uuid)
        assert st == 200, d
        return d["fingerprint"]

    def stop(self):
        return self.srv.stop()


@unittest.skipUnless(HAVE, "bulwarkd, bulwark-device or SoftHSM2 missing")
class RotateCert(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bw-rot-")
        self.w = RotationWorld(self.tmp)

    def tearDown(self):
        rc = self.w.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.assertEqual(rc, 0, "bulwarkd did not stop cleanly")

    def assertHealthy(self, dev, what):
        """Checks in, one private key (the current one), binding = the
        certificate in use, no key file anywhere in the state dir."""
        w = self.w
        p = w.run(dev, "check")
        self.assertIn(p.returncode, CHECKED, "%s: locked out? %s%s" %
                      (what, p.stdout, p.stderr))
        ident = w.identity(dev)
        self.assertEqual(w.private_keys(), [ident["key_label"]], what)
        self.assertEqual(w.binding(dev), pem_fp(ident["cert_file"]), what)
        for name in os.listdir(dev.state):
            self.assertFalse(name.endswith(".key") or name == "pkey.pem",
                             "%s: key file %s" % (what, name))

    def test_rotate_cert(self):
        w = self.w
        dev = w.register("devr")
        old = w.identity(dev)
        old_fp = pem_fp(old["cert_file"])
        self.assertEqual(w.private_keys(), ["devr"])
        p = w.run(dev, "rotate-cert")
        self.assertEqual(p.returncode, OK, p.stdout + p.stderr)
        new = w.identity(dev)
        self.assertNotEqual(new["key_label"], old["key_label"])
        self.assertNotEqual(pem_fp(new["cert_file"]), old_fp)
        self.assertFalse(os.path.exists(old["cert_file"]))
        self.assertFalse(os.path.exists(os.path.join(dev.state,
                                                     "rotation.json")))
        self.assertHealthy(dev, "after rotation")
        st, rots = w.srv.admin("GET", "/rotations?state=completed")
        self.assertEqual([r["old-fingerprint"] for r in rots
                          if r["uuid"] == dev.uuid], [old_fp])
        # the daemon leaves a fresh certificate alone ...
        p = w.run(dev, "rotate-cert", "--if-due")
        self.assertEqual(p.returncode, OK, p.stderr)
        self.assertEqual(w.identity(dev), new)
        # ... and rotates when the operator asks (a request counts for
        # certificates issued before its second)
        time.sleep(1.1)
        st, r = w.srv.admin("POST", "/rotate-cert", {"uuid": dev.uuid})
        self.assertEqual(st, 200, r)
        p = w.run(dev, "daemon", "--max-loops", "1")
        self.assertIn(p.returncode, CHECKED, p.stdout + p.stderr)
        self.assertNotEqual(w.identity(dev)["key_label"], new["key_label"])
        self.assertHealthy(dev, "after the daemon's rotation")

    def test_server_unreachable_keeps_the_journal(self):
        w = self.w
        dev = w.register("devu")
        gw = "https://127.0.0.1:%d" % w.srv.gw_port
        dev.write_config(gw, "[server]\nest_url = https://127.0.0.1:%d\n"
                         % free_port())
        p = w.run(dev, "rotate-cert")
        self.assertEqual(p.returncode, CHECKIN_FAILED, p.stderr)
        self.assertTrue(os.path.exists(os.path.join(dev.state,
                                                    "rotation.json")))
        # the old identity still works; the new key waits in the token
        p = w.run(dev, "check")
        self.assertIn(p.returncode, CHECKED, p.stderr)
        self.assertEqual(len(w.private_keys()), 2)
        # with the server back, the next run finishes
        dev.write_config(gw)
        p = w.run(dev, "rotate-cert")
        self.assertEqual(p.returncode, OK, p.stdout + p.stderr)
        self.assertHealthy(dev, "after the retry")

    def test_refuses_a_certificate_for_another_key(self):
        """An EST server that answers with a certificate that is not for
        the new key (here: the device's current one) is refused; the
        identity stays, the new key waits for a retry (its request may
        have reached a real server), and the retry against the real
        server finishes the rotation."""
        w = self.w
        dev = w.register("devf")
        before = w.identity(dev)
        answer = base64.b64encode(subprocess.run(
            ["openssl", "crl2pkcs7", "-nocrl", "-certfile",
             before["cert_file"], "-outform", "DER"], capture_output=True,
            check=True).stdout)

        class Liar(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(200)
                self.send_header("Content-Type", "application/pkcs7-mime")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *a):
                pass

        httpd = http.server.HTTPServer(("127.0.0.1", 0), Liar)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(w.srv.pki, "est-tls.pem"),
                            os.path.join(w.srv.pki, "est-tls.key"))
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        t = threading.Thread(target=httpd.serve_forever, daemon=True)
        t.start()
        try:
            dev.write_config("https://127.0.0.1:%d" % w.srv.gw_port,
                             "[server]\nest_url = https://127.0.0.1:%d\n"
                             % httpd.server_address[1])
            p = w.run(dev, "rotate-cert")
        finally:
            httpd.shutdown()
            httpd.server_close()
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("not for the new key", p.stderr)
        self.assertEqual(w.identity(dev), before)
        self.assertEqual(len(w.private_keys()), 2)
        self.assertTrue(os.path.exists(os.path.join(dev.state,
                                                    "rotation.json")))
        p = w.run(dev, "check")
        self.assertIn(p.returncode, CHECKED, p.stderr)
        dev.write_config("https://127.0.0.1:%d" % w.srv.gw_port)
        p = w.run(dev, "rotate-cert")
        self.assertEqual(p.returncode, OK, p.stdout + p.stderr)
        self.assertHealthy(dev, "after the liar")

    def kill_and_recover(self, dev, n, what):
        """Kill rotate-cert after durable write n; True if it was
        killed. Then the device must work, and the next run finishes."""
        w = self.w
        before = w.identity(dev)
        p = w.run(dev, "rotate-cert", crash_after=n)
        if p.returncode != KILLED:
            self.assertEqual(p.returncode, OK, p.stdout + p.stderr)
            return False
        p = w.run(dev, "check")
        self.assertIn(p.returncode, CHECKED, "%s: locked out after kill "
                      "%d: %s" % (what, n, p.stderr))
        p = w.run(dev, "rotate-cert")
        self.assertEqual(p.returncode, OK, "%s: recovery after kill %d: "
                         "%s%s" % (what, n, p.stdout, p.stderr))
        self.assertNotEqual(w.identity(dev), before)
        self.assertHealthy(dev, "%s, kill after write %d" % (what, n))
        return True

    def test_kill_at_every_write(self):
        dev = self.w.register("devk")
        killed = 0
        for n in range(1, 40):
            if not self.kill_and_recover(dev, n, "every write"):
                break
            killed += 1
        self.assertGreaterEqual(killed, 10, "fewer writes than expected")
        self.assertHealthy(dev, "at the end")

    def test_kill_at_random_writes(self):
        count = 1000 if os.environ.get("BW_SLOW_TESTS") else 25
        rnd = random.Random(int(os.environ.get("BW_ROTATE_SEED", "1")))
        dev = self.w.register("devx")
        kills = 0
        for i in range(count):
            if self.kill_and_recover(dev, rnd.randint(1, 12),
                                     "rotation %d" % i):
                kills += 1
        self.assertGreater(kills, count // 2)
        st, rots = self.w.srv.admin("GET", "/rotations?state=completed"
                                    "&limit=100000")
        mine = [r for r in rots if r["uuid"] == dev.uuid]
        self.assertGreaterEqual(len(mine), count)
        print("randomised kills: %d rotations, %d killed, 0 locked out, "
              "0 keys leaked" % (len(mine), kills))


@unittest.skipUnless(HAVE, "bulwarkd, bulwark-device or SoftHSM2 missing")
class RenewalWindow(unittest.TestCase):
    def test_daemon_rotates_inside_the_window(self):
        """Certificates of 30 days and a renewal window of 45: the
        daemon's check (rotate-cert --if-due) rotates without being
        asked."""
        tmp = tempfile.mkdtemp(prefix="bw-rotw-")
        w = RotationWorld(tmp, {"registration": {"cert_days": "30"},
                                "est": {"renew_before_days": "45"}})
        try:
            dev = w.register("devw")
            before = w.identity(dev)
            p = w.run(dev, "rotate-cert", "--if-due")
            self.assertEqual(p.returncode, OK, p.stdout + p.stderr)
            self.assertNotEqual(w.identity(dev)["key_label"],
                                before["key_label"])
            self.assertEqual(w.private_keys(),
                             [w.identity(dev)["key_label"]])
        finally:
            self.assertEqual(w.stop(), 0)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
