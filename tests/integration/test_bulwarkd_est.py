"""EST (RFC 7030 with RFC 8951) on a real bulwarkd, spoken by an
independent client: curl for HTTP and TLS, openssl for keys, CSRs and
PKCS#7. Each test names the requirement rows of the conformance table in
docs/wire-formats.md (E1, E2, ...) it shows.

Environment: BW_BINARY_DIR (bulwark, bulwarkd)."""

import base64
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import bwserver as c
from bwtest import free_port

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID


def sh(*args, data=None):
    p = subprocess.run(list(args), input=data, capture_output=True,
                       timeout=60)
    if p.returncode != 0:
        raise AssertionError("%s: %s" % (args, p.stderr.decode()))
    return p.stdout


class Est:
    """curl + openssl against one EST listener."""

    def __init__(self, srv, port, work):
        self.srv, self.port, self.work = srv, port, work
        self.n = 0

    def url(self, op):
        return "https://127.0.0.1:%d/.well-known/est/%s" % (self.port, op)

    def call(self, op, body=None, cert=None, key=None, headers=(),
             method=None, extra=()):
        """(status, headers dict (lowercase), body bytes)"""
        self.n += 1
        out = os.path.join(self.work, "out%d" % self.n)
        hdr = os.path.join(self.work, "hdr%d" % self.n)
        args = ["curl", "-sS", "--cacert",
                os.path.join(self.srv.pki, "factory_ca.pem"),
                "-o", out, "-D", hdr, "-w", "%{http_code}",
                "--max-time", "20"]
        if cert:
            args += ["--cert", cert, "--key", key]
        for h in headers:
            args += ["-H", h]
        if body is not None:
            bpath = os.path.join(self.work, "body%d" % self.n)
            with open(bpath, "wb") as f:
                f.write(body)
            args += ["--data-binary", "@" + bpath]
        if method:
            args += ["-X", method]
        args += list(extra) + [self.url(op)]
        p = subprocess.run(args, capture_output=True, timeout=60)
        if p.returncode != 0:
            return None, {}, p.stderr
        hs = {}
        with open(hdr, "rb") as f:
            for line in f.read().decode().splitlines()[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    hs[k.strip().lower()] = v.strip()
        with open(out, "rb") as f:
            return int(p.stdout), hs, f.read()

    def certs(self, b64):
        """Certificates of a base64 certs-only PKCS#7 (openssl reads it)."""
        pem = sh("openssl", "pkcs7", "-inform", "DER", "-print_certs",
                 data=base64.b64decode(b64))
        return [x509.load_pem_x509_certificate(m.encode()) for m in
                re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END "
                           r"CERTIFICATE-----", pem.decode(), re.S)]

    def key(self, name):
        path = os.path.join(self.work, name + ".key")
        sh("openssl", "ecparam", "-name", "prime256v1", "-genkey",
           "-noout", "-out", path)
        os.chmod(path, 0o600)
        return path

    def csr(self, key, subject, wrap=0, crlf=False):
        der = sh("openssl", "req", "-new", "-key", key, "-subj", subject,
                 "-outform", "DER")
        b = base64.b64encode(der)
        if wrap:
            sep = b"\r\n" if crlf else b"\n"
            b = sep.join(b[i:i + wrap] for i in range(0, len(b), wrap))
        return b


PKCS10 = "Content-Type: application/pkcs10"


@unittest.skipUnless(os.path.exists(c.BULWARKD), "bulwarkd not built")
class EstServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="bw-est-")
        cls.tuf = c.Tuf()
        cls.port = free_port()
        cls.srv = c.Server(cls.tmp, cls.tuf, extra={
            "est": {"listen": "127.0.0.1:%d" % cls.port,
                    "url": "https://127.0.0.1:%d" % cls.port,
                    "renew_before_days": "45",
                    "rate_per_minute": "100000"}})
        cls.srv.wait_ports.append(cls.port)
        cls.srv.start()
        cls.srv.seed()
        cls.est = Est(cls.srv, cls.port, cls.tmp)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def device(self, name, ca="local-ca", production=False):
        return c.device_cert(self.srv.pki, self.tmp, name, ca=ca,
                             production=production)

    def subject(self, dev, production=False):
        return "/CN=%s/OU=%s%s" % (dev["uuid"], c.FACTORY,
                                   "/businessCategory=production"
                                   if production else "")

    def reenroll(self, dev, key, production=False, **kw):
        body = self.est.csr(key, self.subject(dev, production))
        return self.est.call("simplereenroll", body, dev["cert"],
                             dev["key"], headers=[PKCS10], **kw)

    def gateway_ok(self, dev):
        st, _, _ = self.srv.device_get(dev, "/repo/1.root.json")
        return st == 200

    def test_cacerts(self):
        """E1 E2 E3 E4 E19 E30 E39: cacerts is a base64 certs-only PKCS#7 with the
        chain, application/pkcs7-mime, 200, without client authentication
        and without Content-Transfer-Encoding; curl checks the EST server
        certificate against the factory CA."""
        st, hs, body = self.est.call("cacerts")
        self.assertEqual(st, 200)
        self.assertTrue(hs["content-type"].startswith(
            "application/pkcs7-mime"))
        self.assertNotIn("content-transfer-encoding", hs)
        certs = self.est.certs(body)
        names = [x.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0]
                 .value for x in certs]
        self.assertIn("Factory-CA", names)
        online = c.load_cert(os.path.join(self.srv.pki, "online-ca.pem"))
        self.assertIn(online, certs)
        st, _, _ = self.est.call("cacerts", method="POST", body=b"x")
        self.assertEqual(st, 405)  # E27

    def test_csrattrs(self):
        """E5 E6: csrattrs is base64 DER CsrAttrs naming the P-256 key and
        the ECDSA-SHA256 signature, application/csrattrs."""
        st, hs, body = self.est.call("csrattrs")
        self.assertEqual(st, 200)
        self.assertEqual(hs["content-type"], "application/csrattrs")
        dump = sh("openssl", "asn1parse", "-inform", "DER",
                  data=base64.b64decode(body)).decode()
        for oid in ("ecdsa-with-SHA256", "id-ecPublicKey", "prime256v1"):
            self.assertIn(oid, dump)

    def test_reenroll_and_first_use(self):
        """E7 E8 E9 E10 E11 E20 E23 E40 E41: a device of the local CA
        re-enrols over mTLS with a new key; the answer is its new
        certificate (same subject, online CA, new key); both certificates
        work until the new one is used, then the old one is refused; the
        operator sees the rotation pending, then completed."""
        dev = self.device("rot1")
        self.assertTrue(self.gateway_ok(dev))
        st, hs, body = self.est.call("cacerts")
        k2 = self.est.key("rot1-new")
        st, hs, body = self.reenroll(dev, k2)
        self.assertEqual(st, 200, body)
        self.assertTrue(hs["content-type"].startswith(
            "application/pkcs7-mime"))
        [new] = self.est.certs(body)
        old = c.load_cert(dev["cert"])
        self.assertEqual(new.subject, old.subject)
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        self.assertEqual(  # E20: the CSR's key
            new.public_key().public_bytes(serialization.Encoding.DER, spki),
            c.load_pem_key(k2).public_key().public_bytes(
                serialization.Encoding.DER, spki))
        online = c.load_cert(os.path.join(self.srv.pki, "online-ca.pem"))
        self.assertEqual(new.issuer, online.subject)
        self.assertNotEqual(new.public_key().public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo),
            old.public_key().public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo))
        newdev = dict(dev, cert=os.path.join(self.tmp, "rot1-new.pem"),
                      key=k2)
        with open(newdev["cert"], "wb") as f:
            f.write(new.public_bytes(serialization.Encoding.PEM))
            f.write(online.public_bytes(serialization.Encoding.PEM))
        # pending: the old certificate still works
        self.assertTrue(self.gateway_ok(dev))
        st, rots = self.srv.admin("GET", "/rotations?state=pending")
        self.assertEqual(st, 200)
        self.assertIn(dev["uuid"], [r["uuid"] for r in rots])
        # the retry of a device that lost the answer gets the same cert
        st, _, body = self.reenroll(dev, k2)
        self.assertEqual(st, 200)
        self.assertEqual(self.est.certs(body), [new])
        # another key while one is pending: 409
        st, _, body = self.reenroll(dev, self.est.key("rot1-other"))
        self.assertEqual(st, 409)
        self.assertEqual(body, b"a rotation is pending\n")
        # first use of the new certificate completes the rotation
        self.assertTrue(self.gateway_ok(newdev))
        self.assertTrue(self.srv.refused(dev))
        st, rots = self.srv.admin("GET", "/rotations?state=completed")
        done = [r for r in rots if r["uuid"] == dev["uuid"]]
        self.assertEqual(len(done), 1)
        self.assertEqual(done[0]["issuer"][:9], "online-ca")
        st, d = self.srv.admin("GET", "/devices/" + dev["uuid"])
        fp = new.fingerprint(c.hashes.SHA256()).hex()
        self.assertEqual(d["fingerprint"], fp)
        # the replaced certificate can not re-enrol either
        st, _, _ = self.reenroll(dev, self.est.key("rot1-third"))
        self.assertNotEqual(st, 200)
        # the new one can (a later rotation)
        st, _, body = self.reenroll(newdev, self.est.key("rot1-fourth"))
        self.assertEqual(st, 200, body)

    def test_operator_recertify_supersedes_a_pending_rotation(self):
        """A rotation issued over EST but never used must not take the
        binding back after an operator re-certified the device."""
        dev = self.device("rc-pending")
        self.assertTrue(self.gateway_ok(dev))
        k2 = self.est.key("rc-pending-rot")
        st, _, body = self.reenroll(dev, k2)
        self.assertEqual(st, 200, body)
        [rot] = self.est.certs(body)
        rot_dev = {"uuid": dev["uuid"], "key": k2,
                   "cert": os.path.join(self.tmp, "rc-pending-rot.pem")}
        with open(rot_dev["cert"], "wb") as f:
            f.write(rot.public_bytes(serialization.Encoding.PEM))
        k3 = self.est.key("rc-pending-op")
        csr = sh("openssl", "req", "-new", "-key", k3, "-subj",
                 self.subject(dev)).decode()
        st, r = self.srv.admin("POST", "/devices/%s/recertify" % dev["uuid"],
                               {"csr": csr})
        self.assertEqual(st, 200, r)
        op_dev = {"uuid": dev["uuid"], "key": k3,
                  "cert": os.path.join(self.tmp, "rc-pending-op.pem")}
        with open(op_dev["cert"], "w") as f:
            f.write(r["certificate"])
        self.assertTrue(self.srv.refused(rot_dev))
        self.assertTrue(self.srv.refused(dev))
        self.assertTrue(self.gateway_ok(op_dev))
        st, rots = self.srv.admin("GET", "/rotations?state=superseded")
        self.assertIn(dev["uuid"], [x["uuid"] for x in rots])

    def test_reenroll_refusals(self):
        """E12 E13 E14 E15 E16 E17 E24 E25 E26 E28 E29: every refusal has
        its status, a body that gives no reason, and a log line."""
        dev = self.device("ref1")
        k = self.est.key("ref1-new")
        good = self.est.csr(k, self.subject(dev))
        other = c.device_cert(self.srv.pki, self.tmp, "ref1-other",
                              ca="local-ca")
        cases = [
            # no client certificate (E12)
            (401, dict(body=good, headers=[PKCS10])),
            # subject of another device (E13)
            (400, dict(body=self.est.csr(k, self.subject(other)),
                       cert=dev["cert"], key=dev["key"],
                       headers=[PKCS10])),
            # the current key again (E14)
            (400, dict(body=self.est.csr(dev["key"], self.subject(dev)),
                       cert=dev["cert"], key=dev["key"],
                       headers=[PKCS10])),
            # asks for production on a CI device (E15)
            (400, dict(body=self.est.csr(k, self.subject(dev, True)),
                       cert=dev["cert"], key=dev["key"],
                       headers=[PKCS10])),
            # not base64 (E16)
            (400, dict(body=b"%%% not base64 %%%", cert=dev["cert"],
                       key=dev["key"], headers=[PKCS10])),
            # PEM instead of base64 DER (E16)
            (400, dict(body=sh("openssl", "req", "-new", "-key", k,
                               "-subj", self.subject(dev)),
                       cert=dev["cert"], key=dev["key"],
                       headers=[PKCS10])),
            # a transfer encoding other than base64 (E17)
            (415, dict(body=good, cert=dev["cert"], key=dev["key"],
                       headers=[PKCS10, "Content-Transfer-Encoding: "
                                "binary"])),
            # not application/pkcs10 (E24)
            (415, dict(body=good, cert=dev["cert"], key=dev["key"],
                       headers=["Content-Type: text/plain"])),
        ]
        for want, kw in cases:
            st, _, body = self.est.call("simplereenroll", **kw)
            self.assertEqual(st, want, (kw.get("headers"), body))
            self.assertNotIn(b"subject", body)
            self.assertNotIn(b"key", body)
        st, _, _ = self.est.call("simplereenroll", method="GET",
                                 cert=dev["cert"], key=dev["key"])
        self.assertEqual(st, 405)  # E27
        for op in ("fullcmc", "serverkeygen"):
            st, _, _ = self.est.call(op, body=good, headers=[PKCS10])
            self.assertEqual(st, 501)  # E28
        for op in ("nonsense", "label1/cacerts", "../cacerts"):
            st, _, _ = self.est.call(op)
            self.assertEqual(st, 404)  # E29
        log = self.srv.logtext()
        self.assertIn("est simplereenroll from 127.0.0.1 (device -) "
                      "refused with 401", log)
        self.assertIn("refused with 415: Content-Transfer-Encoding", log)
        self.assertIn("CSR reuses the current key", log)
        # nothing was issued for any of them
        st, rots = self.srv.admin("GET", "/rotations")
        self.assertNotIn(dev["uuid"], [r["uuid"] for r in rots])

    def test_line_breaks_and_cte(self):
        """E18 E19: base64 with line breaks (LF and CRLF) and a
        Content-Transfer-Encoding: base64 header are accepted."""
        dev = self.device("lb1")
        body = self.est.csr(self.est.key("lb1-new"), self.subject(dev),
                            wrap=64, crlf=True)
        st, _, out = self.est.call(
            "simplereenroll", body, dev["cert"], dev["key"],
            headers=[PKCS10, "Content-Transfer-Encoding: base64"])
        self.assertEqual(st, 200, out)
        dev2 = self.device("lb2")
        body = self.est.csr(self.est.key("lb2-new"), self.subject(dev2),
                            wrap=76)
        st, _, out = self.est.call("simplereenroll", body, dev2["cert"],
                                   dev2["key"], headers=[PKCS10])
        self.assertEqual(st, 200, out)

    def test_tls12_client(self):
        """E31: an RFC 7030 client limited to TLS 1.2 is served."""
        dev = self.device("t12")
        body = self.est.csr(self.est.key("t12-new"), self.subject(dev))
        st, _, out = self.est.call("simplereenroll", body, dev["cert"],
                                   dev["key"], headers=[PKCS10],
                                   extra=["--tls-max", "1.2"])
        self.assertEqual(st, 200, out)

    def test_production_flag_kept(self):
        """E32: a production device's new certificate is a production one
        (the CSR must say so: same subject), issued by the online CA."""
        dev = self.device("prod1", ca="online-ca", production=True)
        st, _, out = self.reenroll(dev, self.est.key("prod1-new"),
                                   production=True)
        self.assertEqual(st, 200, out)
        [new] = self.est.certs(out)
        self.assertEqual(new.subject.get_attributes_for_oid(
            NameOID.BUSINESS_CATEGORY)[0].value, "production")
        # without the attribute the subject differs: refused
        dev2 = self.device("prod2", ca="online-ca", production=True)
        st, _, _ = self.reenroll(dev2, self.est.key("prod2-new"))
        self.assertEqual(st, 400)

    def test_simpleenroll_with_factory_token(self):
        """E33 E34 E35: first enrolment over EST takes a factory token
        (Bearer or OSF-TOKEN) with the checks of POST /sign: none is 401,
        a bad one 401, a registered uuid 409, a CI token and a production
        CSR 403."""
        st, tok = self.srv.admin("POST", "/tokens",
                                 {"scope": "ci", "uses": 5,
                                  "expires-in": 3600})
        self.assertEqual(st, 201, tok)
        import uuid as uuidlib
        u = str(uuidlib.uuid4())
        k = self.est.key("se1")
        body = self.est.csr(k, "/CN=%s/OU=%s" % (u, c.FACTORY))
        st, hs, _ = self.est.call("simpleenroll", body, headers=[PKCS10])
        self.assertEqual(st, 401)
        self.assertEqual(hs.get("www-authenticate"), "Bearer")
        st, _, _ = self.est.call("simpleenroll", body, headers=[
            PKCS10, "Authorization: Bearer " + "0" * 32])
        self.assertEqual(st, 401)
        st, _, out = self.est.call("simpleenroll", body, headers=[
            PKCS10, "Authorization: Bearer " + tok["token"]])
        self.assertEqual(st, 200, out)
        [cert] = self.est.certs(out)
        self.assertEqual(cert.subject.get_attributes_for_oid(
            NameOID.COMMON_NAME)[0].value, u)
        st, _, _ = self.est.call("simpleenroll", body, headers=[
            PKCS10, "OSF-TOKEN: " + tok["token"]])
        self.assertEqual(st, 409)
        u2 = str(uuidlib.uuid4())
        body = self.est.csr(k, "/CN=%s/OU=%s/businessCategory=production"
                            % (u2, c.FACTORY))
        st, _, _ = self.est.call("simpleenroll", body, headers=[
            PKCS10, "OSF-TOKEN: " + tok["token"]])
        self.assertEqual(st, 403)

    def test_operator_asks_rotation(self):
        """E36 E37: GET /device announces est.renew_before_days and the
        EST URL; an operator's request for every device of a CA sets
        est.rotate for those devices until they rotated."""
        dev = self.device("ask1", ca="local-ca")
        other = self.device("ask2", ca="online-ca")
        st, _, body = self.srv.device_get(dev, "/device")
        import json
        info = json.loads(body)["est"]
        self.assertEqual(info["renew-before-days"], 45)
        self.assertEqual(info["url"], "https://127.0.0.1:%d" % self.port)
        self.assertFalse(info["rotate"])
        time.sleep(1)
        st, r = self.srv.admin("POST", "/rotate-cert", {"ca": "local-ca"})
        self.assertEqual(st, 200, r)
        self.assertEqual(self.srv.admin("POST", "/rotate-cert",
                                        {"ca": "nope"})[0], 404)
        self.assertTrue(json.loads(self.srv.device_get(
            dev, "/device")[2])["est"]["rotate"])
        self.assertFalse(json.loads(self.srv.device_get(
            other, "/device")[2])["est"]["rotate"])
        k = self.est.key("ask1-new")
        st, _, out = self.reenroll(dev, k)
        self.assertEqual(st, 200)
        [new] = self.est.certs(out)
        newdev = dict(dev, cert=os.path.join(self.tmp, "ask1-new.pem"),
                      key=k)
        with open(newdev["cert"], "wb") as f:
            f.write(new.public_bytes(serialization.Encoding.PEM))
        self.assertFalse(json.loads(self.srv.device_get(
            newdev, "/device")[2])["est"]["rotate"])
        # one device
        st, r = self.srv.admin("POST", "/rotate-cert", {"uuid": other["uuid"]})
        self.assertEqual(st, 200, r)
        time.sleep(0)
        self.assertTrue(json.loads(self.srv.device_get(
            other, "/device")[2])["est"]["rotate"])


    def test_fioconfig_shaped_request(self):
        """E42: what fioconfig's rotation sends and checks: a CSR with the
        current certificate's raw subject asking for keyUsage
        digitalSignature and extendedKeyUsage clientAuth (both critical);
        it accepts 200 with application/pkcs7-mime, takes the first
        certificate, and requires the raw subject and both extensions
        byte for byte."""
        dev = self.device("fio1", ca="online-ca")
        key = self.est.key("fio1-new")
        old = c.load_cert(dev["cert"])
        der = sh("openssl", "req", "-new", "-key", key, "-subj",
                 self.subject(dev), "-addext",
                 "keyUsage=critical,digitalSignature", "-addext",
                 "extendedKeyUsage=critical,clientAuth", "-outform", "DER")
        st, hs, body = self.est.call("simplereenroll",
                                     base64.b64encode(der), dev["cert"],
                                     dev["key"], headers=[PKCS10])
        self.assertEqual(st, 200, body)
        self.assertTrue(hs["content-type"].startswith(
            "application/pkcs7-mime"))
        new = self.est.certs(body)[0]
        self.assertEqual(new.subject.public_bytes(),
                         old.subject.public_bytes())
        ku = new.extensions.get_extension_for_class(x509.KeyUsage)
        eku = new.extensions.get_extension_for_class(
            x509.ExtendedKeyUsage)
        self.assertTrue(ku.critical and eku.critical)
        self.assertEqual(ku.value.public_bytes(), bytes([3, 2, 7, 128]))
        self.assertEqual(eku.value.public_bytes(), bytes(
            [48, 10, 6, 8, 43, 6, 1, 5, 5, 7, 3, 2]))

    def test_operator_cli(self):
        """E37: `bulwark devices rotate-cert` (a device or a CA) and
        `bulwark devices rotations` drive the admin API."""
        import json
        dev = self.device("cli1", ca="local-ca")
        srvopts = ["--server", "https://127.0.0.1:%d" % self.srv.admin_port,
                   "--token-file", self.srv.token_file, "--ca-file",
                   os.path.join(self.srv.pki, "factory_ca.pem")]
        time.sleep(1)
        p = c.run(c.BULWARK, "devices", "rotate-cert", "--ca", "local-ca",
                  *srvopts)
        self.assertIn("every device of local-ca", p.stdout)
        self.assertTrue(json.loads(self.srv.device_get(
            dev, "/device")[2])["est"]["rotate"])
        p = c.run(c.BULWARK, "devices", "rotate-cert", dev["uuid"],
                  *srvopts)
        self.assertIn(dev["uuid"], p.stdout)
        p = c.run(c.BULWARK, "devices", "rotate-cert", *srvopts,
                  check=False)
        self.assertEqual(p.returncode, 2)
        st, _, _ = self.reenroll(dev, self.est.key("cli1-new"))
        self.assertEqual(st, 200)
        p = c.run(c.BULWARK, "devices", "rotations", "--state", "pending",
                  *srvopts)
        self.assertIn(dev["uuid"], [r["uuid"] for r in
                                    json.loads(p.stdout)])


@unittest.skipUnless(os.path.exists(c.BULWARKD), "bulwarkd not built")
class EstConfig(unittest.TestCase):
    def test_check_config_reads_the_est_certificate(self):
        """--check-config opens the EST certificate and key; a key that
        others may read, or one that does not match, is refused."""
        tmp = tempfile.mkdtemp(prefix="bw-est-cfg-")
        try:
            srv = c.Server(tmp, c.Tuf(), extra={"est": {
                "listen": "127.0.0.1:%d" % free_port()}})
            p = c.run(c.BULWARKD, "--config", srv.conf, "--check-config",
                      check=False)
            self.assertEqual(p.returncode, 0, p.stderr)
            key = os.path.join(srv.pki, "est-tls.key")
            os.chmod(key, 0o644)
            p = c.run(c.BULWARKD, "--config", srv.conf, "--check-config",
                      check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn("est-tls.key", p.stderr)
            os.chmod(key, 0o600)
            p = c.run(c.BULWARKD, "--config", srv.conf, "--check-config",
                      "--set", "est.tls_key=" +
                      os.path.join(srv.pki, "tls.key"), check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn("does not match", p.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


@unittest.skipUnless(os.path.exists(c.BULWARKD), "bulwarkd not built")
class EstRateLimit(unittest.TestCase):
    def test_429_with_retry_after(self):
        """E38: over est.rate_per_minute the answer is 429 with
        Retry-After, and it is logged."""
        tmp = tempfile.mkdtemp(prefix="bw-est-rl-")
        try:
            port = free_port()
            srv = c.Server(tmp, c.Tuf(), extra={"est": {
                "listen": "127.0.0.1:%d" % port, "rate_per_minute": "3"}})
            srv.wait_ports.append(port)
            srv.start()
            try:
                est = Est(srv, port, tmp)
                # the budget is per clock minute: start well inside one
                if time.time() % 60 > 50:
                    time.sleep(61 - time.time() % 60)
                codes = [est.call("cacerts") for _ in range(5)]
                self.assertEqual([x[0] for x in codes],
                                 [200, 200, 200, 429, 429])
                self.assertEqual(codes[3][1].get("retry-after"), "60")
                self.assertIn("refused with 429", srv.logtext())
            finally:
                srv.stop()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
