"""bulwarkd with keys in a PKCS#11 token (SoftHSM2): the registration
device CA key and the online timestamp key live in the token, the key
files are not on the server. Skipped without SoftHSM2."""
import json
import os
import shutil
import sys
import tempfile
import unittest
import uuid as uuidlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bwserver as c  # noqa: E402
from bwtest import softhsm_token  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

MODULE = "/usr/lib/softhsm/libsofthsm2.so"


class EcdsaTufKey(c.TufKey):
    """A TUF ecdsa-sha2-nistp256 key (PEM public key, DER signatures)."""

    def __init__(self):
        self.priv = ec.generate_private_key(ec.SECP256R1())
        pem = self.priv.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.obj = {"keytype": "ecdsa", "scheme": "ecdsa-sha2-nistp256",
                    "keyval": {"public": pem}}
        self.keyid = c.hashlib.sha256(c.canonical(self.obj)).hexdigest()

    def sign(self, signed):
        sig = self.priv.sign(c.canonical(signed), ec.ECDSA(hashes.SHA256()))
        return {"keyid": self.keyid, "sig": sig.hex()}


@unittest.skipUnless(shutil.which("softhsm2-util") and os.path.exists(MODULE),
                     "SoftHSM2 not installed")
class Pkcs11Test(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="bwd-p11-")
        conf = softhsm_token(self.dir, "bwd")
        self.env = os.environ.get("SOFTHSM2_CONF")
        os.environ["SOFTHSM2_CONF"] = conf
        self.pin = os.path.join(self.dir, "pin")
        fd = os.open(self.pin, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, b"1234\n")
        os.close(fd)

    def tearDown(self):
        if self.env is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = self.env
        shutil.rmtree(self.dir)

    def import_key(self, pem_path, label, kid):
        c.run("softhsm2-util", "--import", pem_path, "--token", "bwd",
              "--label", label, "--id", kid, "--pin", "1234")

    def test_registration_ca_and_timestamp_key_in_token(self):
        self.keys_in_token(workers=1, registrations=1)

    def test_keys_in_token_with_two_workers(self):
        """server.workers = 2: each worker opens its own session on the
        token after the fork; registrations spread over both workers are
        all signed in the token."""
        self.keys_in_token(workers=2, registrations=8)

    def keys_in_token(self, workers, registrations):
        tuf = c.Tuf()
        tuf.timestamp = EcdsaTufKey()
        pki = c.make_pki(os.path.join(self.dir, "pki"))
        ca_key = os.path.join(pki, "online-ca.key")
        self.import_key(ca_key, "online-ca", "01")
        ts_pem = os.path.join(self.dir, "ts.pem")
        tuf.timestamp.save(ts_pem)
        self.import_key(ts_pem, "timestamp", "02")
        os.remove(ts_pem)
        # the device CA key is no longer on the server
        os.rename(ca_key, os.path.join(self.dir, "online-ca.key.offline"))
        srv = c.Server(self.dir, tuf, pki=pki, extra={
            "registration": {
                "ca_pkcs11_uri": "pkcs11:token=bwd;object=online-ca;type=private",
                "ca_pkcs11_module": MODULE, "ca_pin_file": self.pin},
            "server": {"workers": str(workers)},
        })
        # the timestamp key: a token URI instead of the file Server wrote
        with open(srv.conf) as f:
            conf = f.read()
        conf = conf.replace("timestamp_key = %s" % os.path.join(
            self.dir, "timestamp.key"), "timestamp_key = pkcs11:token=bwd;"
            "object=timestamp;type=private?module-path=%s&pin-source=%s"
            % (MODULE, self.pin))
        with open(srv.conf, "w") as f:
            f.write(conf)
        os.remove(os.path.join(self.dir, "timestamp.key"))
        srv.start()
        try:
            srv.seed()
            st, tok = srv.admin("POST", "/tokens", {"scope": "ci",
                                                    "expires-in": 600,
                                                    "uses": registrations})
            for i in range(registrations):
                uid = str(uuidlib.uuid4())
                key = ec.generate_private_key(ec.SECP256R1())
                st, r = srv.register({"uuid": uid, "hardware-id": "board",
                                      "csr": c.csr_pem(uid, key=key)},
                                     tok["token"])
                self.assertEqual(st, 201, r)
                cpath = os.path.join(self.dir, "d%d.pem" % i)
                kpath = os.path.join(self.dir, "d%d.key" % i)
                with open(cpath, "w") as f:
                    f.write(r["client.pem"])
                with open(kpath, "wb") as f:
                    f.write(key.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption()))
                st, _, ts = srv.device_get({"cert": cpath, "key": kpath},
                                           "/repo/timestamp.json")
                self.assertEqual(st, 200)
                sig = json.loads(ts)["signatures"][0]
                self.assertEqual(sig["keyid"], tuf.timestamp.keyid)
        finally:
            self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    unittest.main()
