"""bulwark-device register and mutual TLS with a key inside a real SoftHSM2
token, against HTTPS servers on 127.0.0.1.

The registration server here implements the wire format of docs/server.md
(POST /sign, OSF-TOKEN, 201 {"root.crt", "client.pem", "client.chained",
"sota.toml"}) with the `cryptography` package, so the agent is tested
while bulwarkd's is being written; the gateway is an HTTPS server that
requires a client certificate from the device CA and serves a TUF
repository (test_device.py).

Environment: BW_BINARY_DIR.
"""

import datetime
import ipaddress
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bwdevice import (AGENT, HWID, TAG, OK, REBOOT, UPDATE, Device, Repo,
                         RepoServer, image)

from bwtest import SOFTHSM_MODULE, softhsm_env  # noqa: E402
FACTORY_TOKEN = "factory-token-1234"
ALREADY_REGISTERED = 131


def _name(cn, ou=None):
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if ou:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    return x509.Name(attrs)


def _cert(subject, pub, issuer, issuer_key, ca=False, eku=None, san=None,
          pathlen=0):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(subject)
         .issuer_name(issuer).public_key(pub)
         .serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=30))
         .add_extension(x509.BasicConstraints(
             ca=ca, path_length=pathlen if ca else None), critical=True))
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if san:
        b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def pem(c):
    return c.public_bytes(serialization.Encoding.PEM).decode()


class Factory:
    """Factory root CA, device CA, gateway certificate; signs CSRs."""

    def __init__(self, d):
        self.d = d
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = _cert(_name("factory root"), self.root_key.public_key(),
                          _name("factory root"), self.root_key, ca=True,
                          pathlen=1)
        self.dca_key = ec.generate_private_key(ec.SECP256R1())
        self.dca = _cert(_name("device ca"), self.dca_key.public_key(),
                         self.root.subject, self.root_key, ca=True)
        skey = ec.generate_private_key(ec.SECP256R1())
        srv = _cert(_name("gateway"), skey.public_key(), self.root.subject,
                    self.root_key, eku=[ExtendedKeyUsageOID.SERVER_AUTH],
                    san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        self.root_pem = os.path.join(d, "root.crt")
        self.srv_pem = os.path.join(d, "server.pem")
        self.srv_key = os.path.join(d, "server.key")
        with open(self.root_pem, "w") as f:
            f.write(pem(self.root))
        with open(self.srv_pem, "w") as f:
            f.write(pem(srv))
        with open(self.srv_key, "wb") as f:
            f.write(skey.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
        self.requests = []
        self.fail_with = None

    def sign(self, headers, body):
        """POST /sign as docs/server.md describes it."""
        req = json.loads(body)
        self.requests.append(req)
        if headers.get("OSF-TOKEN") != FACTORY_TOKEN:
            return 401, b'{"error":"bad token"}'
        if self.fail_with is not None:
            return self.fail_with, b'{"error":"refused"}'
        csr = x509.load_pem_x509_csr(req["csr"].encode())
        assert csr.is_signature_valid
        cn = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        assert cn == req["uuid"], (cn, req["uuid"])
        cert = _cert(_name(cn, "factory-1"), csr.public_key(),
                     self.dca.subject, self.dca_key,
                     eku=[ExtendedKeyUsageOID.CLIENT_AUTH])
        answer = {"root.crt": pem(self.root), "client.pem": pem(cert),
                  "client.chained": pem(cert) + pem(self.dca),
                  "sota.toml": "[tls]\nserver = \"x\"\n"}
        return 201, json.dumps(answer).encode()


@unittest.skipUnless(os.path.exists(SOFTHSM_MODULE), "SoftHSM2 not installed")
class Register(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bw-devreg-")
        self.env = softhsm_env(os.path.join(self.tmp, "hsm"))
        os.environ["SOFTHSM2_CONF"] = self.env["SOFTHSM2_CONF"]
        self.factory = Factory(self.tmp)
        self.reg = RepoServer(self.tmp, tls=(self.factory.srv_pem,
                                             self.factory.srv_key, None),
                              sign=self.factory.sign)
        self.pin = os.path.join(self.tmp, "pin")
        with open(self.pin, "w") as f:
            f.write("1234\n")
        os.chmod(self.pin, 0o600)
        self.token = os.path.join(self.tmp, "token")
        with open(self.token, "w") as f:
            f.write(FACTORY_TOKEN + "\n")
        self.repo = Repo(os.path.join(self.tmp, "server"))
        self.gw = None
        self.dev = Device(os.path.join(self.tmp, "device"), "https://unset")

    def tearDown(self):
        self.reg.stop()
        if self.gw:
            self.gw.stop()
        os.environ.pop("SOFTHSM2_CONF", None)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def register(self, *extra):
        args = [AGENT, "register", "--config", self.dev.config,
                "--server", self.reg.url, "--token-file", self.token,
                "--ca-file", self.factory.root_pem, "--hardware-id", HWID,
                "--tag", TAG, "--token-label", "dev1", "--pin-file",
                self.pin, "--uuid", "0a1b2c3d-0000-4000-8000-000000000001"]
        return subprocess.run(args + list(extra), capture_output=True,
                              text=True, timeout=60, env=self.env)

    def token_objects(self):
        p = subprocess.run(["pkcs11-tool", "--module", SOFTHSM_MODULE,
                            "--token-label", "dev1", "--login", "--pin",
                            "1234", "--list-objects"], capture_output=True,
                           text=True, env=self.env)
        return p.stdout

    def start_gateway(self):
        """mTLS gateway: client certificates from the factory root."""
        self.gw = RepoServer(self.repo.top,
                             tls=(self.factory.srv_pem, self.factory.srv_key,
                                  self.factory.root_pem))
        self.dev.write_config(self.gw.url)

    def test_register_then_mtls_update(self):
        p = self.register()
        self.assertEqual(p.returncode, OK, p.stderr)
        req = self.factory.requests[-1]
        self.assertEqual(req["hardware-id"], HWID)
        self.assertIn("BEGIN CERTIFICATE REQUEST", req["csr"])
        st = os.path.join(self.dev.state)
        modes = {f: os.stat(os.path.join(st, f)).st_mode & 0o777
                 for f in ("root.crt", "client.pem", "identity.ini",
                           "sota.toml")}
        self.assertEqual(modes, {"root.crt": 0o644, "client.pem": 0o644,
                                 "identity.ini": 0o600, "sota.toml": 0o644})
        with open(os.path.join(st, "identity.ini")) as f:
            ident = f.read()
        self.assertNotIn("1234", ident.replace(
            "0a1b2c3d-0000-4000-8000-000000000001", ""))
        # The key is in the token, private, sensitive, never extractable.
        objs = self.token_objects()
        self.assertIn("bulwark-device", objs)
        self.assertIn("never extractable", objs)
        # The certificate is in the token too, next to its key.
        self.assertIn("Certificate Object", objs)
        self.assertIn("0a1b2c3d-0000-4000-8000-000000000001", objs)
        # Twice: refused.
        p = self.register()
        self.assertEqual(p.returncode, ALREADY_REGISTERED, p.stderr)
        # Check-in over mutual TLS with the token key.
        self.repo.add("fw-2", image("fw-2", 100000), "2")
        self.repo.publish()
        self.start_gateway()
        self.dev.provision(self.repo.root())
        p = self.dev.run("check", env=self.env)
        self.assertEqual(p.returncode, UPDATE, p.stderr)
        # One TLS connection (one token signature) for the whole check-in.
        self.assertEqual(self.gw.httpd.connections, 1)
        self.assertGreaterEqual(len(self.gw.httpd.log), 4)
        p = self.dev.run("pull", env=self.env)
        self.assertEqual(p.returncode, OK, p.stderr)
        self.assertEqual(self.dev.run("install", env=self.env).returncode,
                         REBOOT)
        with open(self.dev.slot[1], "rb") as f:
            self.assertEqual(f.read(), image("fw-2", 100000))

    def test_gateway_refuses_without_client_certificate(self):
        self.repo.add("fw-2", image("fw-2", 1000), "2")
        self.repo.publish()
        self.start_gateway()
        self.dev.provision(self.repo.root())
        self.dev.write_config(self.gw.url, "")
        with open(self.dev.config, "a") as f:
            f.write("[tls]\nca_file = %s\n" % self.factory.root_pem)
        p = self.dev.run("check", env=self.env)
        self.assertEqual(p.returncode, 4, p.stderr)

    def test_failed_registration_leaves_nothing(self):
        self.factory.fail_with = 500
        p = self.register()
        self.assertNotEqual(p.returncode, OK)
        self.assertIn("HTTP 500", p.stderr)
        self.assertNotIn("bulwark-device", self.token_objects())
        self.assertEqual(sorted(os.listdir(self.dev.state))
                         if os.path.isdir(self.dev.state) else [], [])
        # Wrong factory token: same.
        self.factory.fail_with = None
        with open(self.token, "w") as f:
            f.write("wrong\n")
        p = self.register()
        self.assertIn("HTTP 401", p.stderr)
        self.assertNotIn("bulwark-device", self.token_objects())
        with open(self.token, "w") as f:
            f.write(FACTORY_TOKEN)
        self.assertEqual(self.register().returncode, OK)

    def test_force_replaces_identity(self):
        self.assertEqual(self.register().returncode, OK)
        with open(os.path.join(self.dev.state, "client.pem")) as f:
            first = f.read()
        p = self.register("--force")
        self.assertEqual(p.returncode, OK, p.stderr)
        with open(os.path.join(self.dev.state, "client.pem")) as f:
            self.assertNotEqual(f.read(), first)
        # Key pair and certificate, the old ones gone.
        self.assertEqual(self.token_objects().count("label:      "
                                                    "bulwark-device"), 3)


if __name__ == "__main__":
    unittest.main()
