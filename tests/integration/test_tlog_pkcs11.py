"""The transparency log key inside a PKCS#11 token (SoftHSM2): `bulwark
log key --generate --hsm-token` makes an Ed25519 key that never leaves the
token, bulwarkd signs its checkpoints there (`[log] key = pkcs11:...`,
the PIN from a 0600 file: log.pin_file or the URI's pin-source), and `bulwark log verify` and the
verifier built from Go's golang.org/x/mod/sumdb/{tlog,note} accept them; a
witness key in a token co-signs. The private key is sensitive and never
extractable, and no file under the test's directory holds it (every
Ed25519 private key found there, PEM or DER, is another key). A
wrong PIN and a key of the wrong type stop bulwarkd with a clear message."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import \
    Ed25519PrivateKey

import bwserver as c
from bwtest import SOFTHSM_MODULE, decoded_blobs, go_tlog_verifier, \
    softhsm_token

ORIGIN = "bulwark/acme"
PIN = "1234"
# PKCS#8 DER of an Ed25519 private key starts with these bytes (RFC 8410).
ED25519_PKCS8 = bytes.fromhex("302e020100300506032b657004220420")
HAVE = os.path.exists(c.BULWARKD) and os.path.exists(SOFTHSM_MODULE) and \
    shutil.which("pkcs11-tool") is not None


def ed25519_seeds(path):
    """Every Ed25519 private key in the file: PKCS#8 DER, bare, inside PEM
    (base64) blocks or gzip'ed."""
    with open(path, "rb") as f:
        blobs = decoded_blobs(f.read())
    for blob in blobs:
        at = blob.find(ED25519_PKCS8)
        while at >= 0:
            yield blob[at + len(ED25519_PKCS8):at + len(ED25519_PKCS8) + 32]
            at = blob.find(ED25519_PKCS8, at + 1)


def seed_public(seed):
    return Ed25519PrivateKey.from_private_bytes(seed).public_key() \
        .public_bytes(serialization.Encoding.Raw,
                      serialization.PublicFormat.Raw)


def write_secret(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, text.encode())
    os.close(fd)


@unittest.skipUnless(HAVE, "bulwarkd, SoftHSM2 or pkcs11-tool missing")
class TokenLogKey(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="bw-tlog-p11-")
        hsm = os.path.join(cls.dir, "hsm")
        # Every token before the first process uses the module: SoftHSM2
        # sees only the tokens that existed when it was initialised.
        softhsm_token(hsm, "logtoken", pin=PIN)
        cls.conf = softhsm_token(hsm, "ectoken", pin=PIN)
        cls.saved_env = os.environ.get("SOFTHSM2_CONF")
        os.environ["SOFTHSM2_CONF"] = cls.conf
        cls.pin = os.path.join(cls.dir, "pin")
        write_secret(cls.pin, PIN + "\n")
        cls.vkey = os.path.join(cls.dir, "log.vkey")
        out = c.run(c.BULWARK, "log", "key", "--generate", "--hsm-token",
                    "logtoken", "--hsm-pin-file", cls.pin, "--name", ORIGIN,
                    "--out", cls.vkey).stdout.splitlines()
        cls.uri = out[1]
        assert out[1].startswith("pkcs11:token=logtoken;"), out
        with open(cls.vkey) as f:
            assert f.read().strip() == out[0]

    @classmethod
    def tearDownClass(cls):
        if cls.saved_env is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = cls.saved_env
        shutil.rmtree(cls.dir)

    def setUp(self):
        self.work = tempfile.mkdtemp(dir=self.dir)

    def server(self, key=None, pin_file=None):
        """bulwarkd with log.key = key (default: the token key, its PIN in
        log.pin_file)."""
        log = {"key": key or self.uri, "origin": ORIGIN}
        if key is None or pin_file:
            log["pin_file"] = pin_file or self.pin
        return c.Server(tempfile.mkdtemp(dir=self.work), c.Tuf(),
                        extra={"log": log})

    def log_cli(self, srv, *args):
        env = dict(os.environ, BULWARK_ADMIN_TOKEN_FILE=srv.token_file,
                   BULWARK_CA_FILE=os.path.join(srv.pki, "factory_ca.pem"))
        return subprocess.run(
            [c.BULWARK, "log"] + list(args) +
            ["--server", "https://127.0.0.1:%d" % srv.admin_port],
            capture_output=True, text=True, timeout=120, env=env)

    def p11tool(self, *args):
        return subprocess.run(
            ["pkcs11-tool", "--module", SOFTHSM_MODULE, "--token-label",
             "logtoken", "--login", "--pin", PIN] + list(args),
            capture_output=True, text=True, timeout=60)

    def actions(self, srv, n):
        for i in range(n):
            st, r = srv.admin("POST", "/tokens", {
                "scope": "ci", "expires-in": 600, "comment": "t%d" % i})
            self.assertEqual(st, 201, r)
            self.assertEqual(srv.admin("DELETE", "/tokens/%d" % r["id"])[0],
                             200)

    def test_checkpoints_signed_in_the_token(self):
        srv = self.server().start()
        try:
            self.actions(srv, 4)
            cp = os.path.join(self.work, "cp")
            p = self.log_cli(srv, "verify", "--log-key", self.vkey,
                             "--save", cp)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("8 entries verified", p.stdout)
            # the same key after a restart: the log verifies on
            self.assertEqual(srv.stop(), 0)
            srv.start()
            self.actions(srv, 1)
            p = self.log_cli(srv, "verify", "--log-key", self.vkey,
                             "--checkpoint", cp)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            # Go's sumdb note and tlog packages agree
            st, note = srv.admin("GET", "/log/checkpoint")
            self.assertEqual(st, 200)
            size = int(note.decode().split("\n")[1])
            st, ent = srv.admin("GET", "/log/entries?start=0&end=%d" % size)
            self.assertEqual(st, 200)
            with open(self.vkey) as f:
                case = {"vkeys": [f.read().strip()],
                        "checkpoint": note.decode(),
                        "entries": [e["entry"] for e in ent["entries"]],
                        "inclusion": [], "consistency": [], "signers": 1}
            path = os.path.join(self.work, "case.json")
            with open(path, "w") as f:
                json.dump(case, f)
            p = subprocess.run([go_tlog_verifier(self.dir), path],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("OK %d entries" % size, p.stdout)
            # a witness whose key is in the token too co-signs offline
            wv = os.path.join(self.work, "w.vkey")
            out = c.run(c.BULWARK, "log", "key", "--generate",
                        "--hsm-token", "logtoken", "--hsm-pin-file",
                        self.pin, "--hsm-key-label", "witness", "--name",
                        "witness.example", "--out", wv).stdout
            wuri = out.splitlines()[1]
            with open(cp + ".now", "wb") as f:
                f.write(note)
            c.run(c.BULWARK, "log", "cosign", "--checkpoint", cp + ".now",
                  "--log-key", self.vkey, "--key", wuri, "--hsm-pin-file",
                  self.pin, "--name", "witness.example", "--out", cp + ".w")
            p = self.log_cli(srv, "verify", "--log-key", self.vkey,
                             "--checkpoint", cp + ".w", "--witness-key", wv,
                             "--witnesses", "1")
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        finally:
            self.assertEqual(srv.stop(), 0, srv.logtext()[-3000:])
        self.assertNotIn(PIN + "\n", srv.logtext())

    def test_key_stays_in_the_token(self):
        objs = self.p11tool("--list-objects", "--type", "privkey")
        self.assertEqual(objs.returncode, 0, objs.stderr)
        self.assertIn("EC_EDWARDS", objs.stdout)
        for block in objs.stdout.split("Private Key Object")[1:]:
            self.assertIn("sensitive, always sensitive, never extractable",
                          block)
        # Sign with it, then look for private key material anywhere under
        # the test's directory (PEM or PKCS#8 DER of an Ed25519 key).
        # the PIN in the URI's pin-source, as for the [signing] keys
        srv = self.server(self.uri + "?pin-source=" + self.pin).start()
        try:
            self.actions(srv, 2)
            self.assertEqual(srv.admin("GET", "/log/checkpoint")[0], 200)
        finally:
            self.assertEqual(srv.stop(), 0, srv.logtext()[-3000:])
        with open(self.vkey) as f:
            vkey = f.read().strip()
        logpub = base64.b64decode(vkey.split("+", 2)[2])[1:]
        found = 0
        for root, _, files in os.walk(self.dir):
            for name in files:
                path = os.path.join(root, name)
                if not os.path.islink(path):
                    for seed in ed25519_seeds(path):
                        found += 1
                        self.assertNotEqual(seed_public(seed), logpub, path)
        # the scan does find keys: the fixture's TUF online keys are files
        self.assertGreater(found, 0)

    def start_fails(self, message, key=None, pin_file=None):
        srv = self.server(key, pin_file)
        try:
            with self.assertRaises(AssertionError) as cm:
                srv.start(timeout=30)
        finally:
            srv.kill()  # also when it started after all
        self.assertIn(message, str(cm.exception))

    def test_wrong_pin_stops_bulwarkd(self):
        bad = os.path.join(self.work, "bad.pin")
        write_secret(bad, "9999\n")
        self.start_fails("wrong PIN for token 'logtoken'", pin_file=bad)
        # the PIN file must be the owner's alone
        loose = os.path.join(self.work, "loose.pin")
        write_secret(loose, PIN + "\n")
        os.chmod(loose, 0o644)
        self.start_fails("loose.pin", pin_file=loose)

    def test_wrong_key_type_is_refused(self):
        gen = subprocess.run(
            ["pkcs11-tool", "--module", SOFTHSM_MODULE, "--token-label",
             "ectoken", "--login", "--pin", PIN, "--keypairgen",
             "--key-type", "EC:prime256v1", "--label", "p256", "--id",
             "0e"], capture_output=True, text=True, timeout=60)
        self.assertEqual(gen.returncode, 0, gen.stderr)
        uri = "pkcs11:token=ectoken;object=p256;type=private"
        self.start_fails("log.key must be an Ed25519 key", key=uri,
                         pin_file=self.pin)
        p = subprocess.run([c.BULWARK, "log", "key", "--key", uri,
                            "--hsm-pin-file", self.pin, "--name", "x"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("not an Ed25519 key", p.stderr)


if __name__ == "__main__":
    unittest.main()
