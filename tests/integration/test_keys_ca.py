"""`bulwark keys ca`: the factory PKI, checked with the real openssl command.

Every certificate and CRL the CLI writes must pass `openssl verify` (with
and without -crl_check_all), `openssl x509 -text`, `openssl crl -text`, and
a TLS handshake between `openssl s_server` (gateway certificate, client
certificates required, CRLs checked) and `openssl s_client` (device
certificate), including a revoked device being refused. Bad input must give
a clear error, a non-zero exit, and leave the PKI directory byte-for-byte
unchanged.

Environment: BW_BINARY_DIR (build dir with ./bulwark).
"""

import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import unittest

from bwtest import free_port, softhsm_token  # noqa: E402
import uuid

BINARY_DIR = os.environ.get("BW_BINARY_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..", "build"))
BULWARK = os.path.join(BINARY_DIR, "bulwark")
TIMEOUT = 30
FACTORY = "acme-plant-1"


def run(args, check=None, stdin=None):
    p = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT,
                       input=stdin)
    if check is not None and p.returncode != check:
        raise AssertionError("%s: exit %d (want %d)\nstdout: %s\nstderr: %s"
                             % (" ".join(args), p.returncode, check,
                                p.stdout, p.stderr))
    return p


def bw(*args, check=0):
    return run([BULWARK, "keys", "ca"] + list(args), check=check)


def ossl(*args, check=0, stdin=None):
    return run(["openssl"] + list(args), check=check, stdin=stdin)


def read(path):
    with open(path) as f:
        return f.read()


def snapshot(d):
    """Listing of d with mode and sha256 of every file (hidden ones too)."""
    out = {}
    for root, dirs, files in os.walk(d):
        for name in dirs + files:
            p = os.path.join(root, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, d)
            if stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                with open(p, "rb") as f:
                    out[rel] = (hashlib.sha256(f.read()).hexdigest(),
                                stat.S_IMODE(st.st_mode))
    return out


def make_csr(workdir, name, subj, key="ec:prime256v1", exts=()):
    keyf = os.path.join(workdir, name + ".key")
    csrf = os.path.join(workdir, name + ".csr")
    if key.startswith("ec:"):
        ossl("ecparam", "-name", key[3:], "-genkey", "-noout", "-out", keyf)
    else:
        ossl("genpkey", "-algorithm", "RSA", "-pkeyopt",
             "rsa_keygen_bits:2048", "-out", keyf)
    args = ["req", "-new", "-key", keyf, "-subj", subj, "-out", csrf,
            "-utf8"]
    for e in exts:
        args += ["-addext", e]
    ossl(*args)
    return csrf, keyf


def device_csr(workdir, name, production=False, extra="", exts=()):
    u = str(uuid.uuid4())
    subj = "/CN=%s/OU=%s%s" % (u, FACTORY, extra)
    if production:
        subj += "/businessCategory=production"
    csr, key = make_csr(workdir, name, subj, exts=exts)
    return csr, key, u




class TlsServer:
    """openssl s_server requiring a client certificate, CRLs checked."""

    def __init__(self, pki, crl_check=True):
        self.pki = pki
        self.crl_check = crl_check

    def capath(self):
        """s_server takes one CRL file: give it a hashed directory (what a
        TLS terminator would use) with the factory CA and every CRL."""
        d = tempfile.mkdtemp(dir=os.path.dirname(self.pki))
        shutil.copy(os.path.join(self.pki, "factory_ca.pem"), d)
        for n in os.listdir(os.path.join(self.pki, "crl")):
            if n != "all.crl":
                shutil.copy(os.path.join(self.pki, "crl", n),
                            os.path.join(d, n + ".pem"))
        ossl("rehash", d)
        return d

    def __enter__(self):
        for _ in range(5):
            self.port = free_port()
            args = ["openssl", "s_server", "-accept",
                    "127.0.0.1:%d" % self.port, "-cert",
                    os.path.join(self.pki, "tls.pem"), "-key",
                    os.path.join(self.pki, "tls.key"), "-CAfile",
                    os.path.join(self.pki, "factory_ca.pem"), "-Verify", "1",
                    "-verify_return_error", "-www"]
            if self.crl_check:
                args += ["-CApath", self.capath(), "-crl_check_all"]
            self.proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
            deadline = time.time() + 5
            while time.time() < deadline and self.proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port),
                                             0.2).close()
                    return self
                except OSError:
                    time.sleep(0.05)
            self.__exit__(None, None, None)
        raise AssertionError("s_server did not start")

    def __exit__(self, *exc):
        self.proc.kill()
        self.out = self.proc.communicate(timeout=10)[0].decode(errors="replace")

    def connect(self, cert, key, chain):
        p = subprocess.run(
            ["openssl", "s_client", "-connect", "127.0.0.1:%d" % self.port,
             "-servername", "gw.example.com", "-cert", cert, "-key", key,
             "-cert_chain", chain, "-CAfile",
             os.path.join(self.pki, "factory_ca.pem"),
             "-verify_return_error", "-verify_hostname", "gw.example.com",
             "-ign_eof"],
            input="GET / HTTP/1.0\r\n\r\n", capture_output=True, text=True,
            timeout=TIMEOUT)
        return p.returncode, p.stdout + p.stderr


class KeysCaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="bw-keys-ca-")
        cls.pki = os.path.join(cls.tmp, "pki")
        bw("create", cls.pki, "--factory", FACTORY, "--dns", "gw.example.com",
           "--ip", "127.0.0.1", "--online-ca", "--local-ca")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def p(self, *names):
        return os.path.join(self.pki, *names)

    def fresh_pki(self, *extra):
        d = tempfile.mkdtemp(dir=self.tmp)
        pki = os.path.join(d, "pki")
        bw("create", pki, "--factory", FACTORY, "--dns", "gw.example.com",
           "--ip", "127.0.0.1", *extra)
        return pki

    def verify(self, cert, untrusted=None, crl=False, pki=None, check=0):
        pki = pki or self.pki
        args = ["verify", "-CAfile", os.path.join(pki, "factory_ca.pem")]
        if untrusted:
            args += ["-untrusted", untrusted]
        if crl:
            args += ["-crl_check_all", "-CRLfile",
                     os.path.join(pki, "crl", "all.crl")]
        return ossl(*(args + [cert]), check=check)

    def assert_fails_unchanged(self, args, pattern, pki=None):
        pki = pki or self.pki
        before = snapshot(pki)
        p = bw(*args, check=1)
        self.assertIn(pattern, p.stderr)
        self.assertEqual(before, snapshot(pki))
        return p

    # ---- create -----------------------------------------------------------

    def test_create_layout_and_modes(self):
        names = set(os.listdir(self.pki))
        for n in ("factory_ca.pem", "factory_ca.key", "tls.pem", "tls.key",
                  "est-tls.pem", "est-tls.key", "online-ca.pem",
                  "online-ca.key", "local-ca.pem", "local-ca.key",
                  "device-cas.pem", "crl", "state.json"):
            self.assertIn(n, names)
        for n in names:
            if n.endswith(".key"):
                self.assertEqual(
                    stat.S_IMODE(os.stat(self.p(n)).st_mode), 0o600, n)
        for n in ("factory_ca", "online-ca", "local-ca", "all"):
            self.assertTrue(os.path.exists(self.p("crl", n + ".crl")))

    def test_certificates_pass_openssl(self):
        for n in ("tls.pem", "est-tls.pem", "online-ca.pem", "local-ca.pem"):
            self.verify(self.p(n))
            self.verify(self.p(n), crl=True)
        root = ossl("x509", "-in", self.p("factory_ca.pem"), "-noout",
                    "-text").stdout
        self.assertIn("Subject: CN = Factory-CA, OU = %s" % FACTORY, root)
        self.assertIn("CA:TRUE", root)
        self.assertIn("Certificate Sign, CRL Sign", root)
        self.assertIn("NIST CURVE: P-256", root)
        self.assertIn("ecdsa-with-SHA256", root)
        ca = ossl("x509", "-in", self.p("online-ca.pem"), "-noout",
                  "-text").stdout
        self.assertIn("CA:TRUE, pathlen:0", ca)
        tls = ossl("x509", "-in", self.p("tls.pem"), "-noout", "-text").stdout
        self.assertIn("TLS Web Server Authentication", tls)
        self.assertIn("DNS:gw.example.com, IP Address:127.0.0.1", tls)
        self.assertIn("CA:FALSE", tls)
        asn1 = ossl("asn1parse", "-in", self.p("factory_ca.pem")).stdout
        self.assertIn("UTF8STRING        :Factory-CA", asn1)
        self.assertNotIn("PRINTABLESTRING", asn1)
        # 20 / 10 years
        end = ossl("x509", "-in", self.p("factory_ca.pem"), "-noout",
                   "-checkend", str(19 * 365 * 86400), check=0)
        self.assertIn("will not expire", end.stdout)
        bundle = read(self.p("device-cas.pem"))
        self.assertEqual(bundle.count("BEGIN CERTIFICATE"), 2)

    def test_crls_pass_openssl(self):
        for n, issuer in (("factory_ca", "factory_ca.pem"),
                          ("online-ca", "online-ca.pem"),
                          ("local-ca", "local-ca.pem")):
            p = ossl("crl", "-in", self.p("crl", n + ".crl"), "-noout",
                     "-text", "-CAfile", self.p(issuer))
            self.assertIn("verify OK", p.stderr + p.stdout)
            self.assertIn("Next Update", p.stdout)
            self.assertIn("X509v3 CRL Number", p.stdout)
            self.assertIn("X509v3 Authority Key Identifier", p.stdout)

    def test_create_refuses_existing_root(self):
        p = self.assert_fails_unchanged(
            ["create", self.pki, "--factory", "other"], "existing root")
        self.assertIn("factory_ca", p.stderr)

    def test_create_bad_arguments(self):
        d = os.path.join(self.tmp, "bad-create")
        bw("create", d, check=2)  # --factory missing
        bw("create", d, "--factory", FACTORY, "--ip", "999.1.1.1", check=1)
        bw("create", d, "--factory", FACTORY, "--dns", "a,b", check=1)
        self.assertFalse(os.path.exists(d))

    # ---- sign ---------------------------------------------------------------

    def test_sign_device(self):
        csr, key, u = device_csr(self.tmp, "dev-ok")
        out = os.path.join(self.tmp, "dev-ok.pem")
        bw("sign", self.pki, csr, "--device", "-o", out)
        self.verify(out, untrusted=self.p("local-ca.pem"))
        self.verify(out, untrusted=self.p("device-cas.pem"), crl=True)
        text = ossl("x509", "-in", out, "-noout", "-text").stdout
        self.assertIn("Subject: CN = %s, OU = %s\n" % (u, FACTORY), text)
        self.assertIn("X509v3 Key Usage: critical\n                Digital "
                      "Signature\n", text)
        self.assertIn("X509v3 Extended Key Usage: critical\n                "
                      "TLS Web Client Authentication\n", text)
        serial = ossl("x509", "-in", out, "-noout", "-serial").stdout
        self.assertEqual(len(serial.strip().split("=")[1]), 32)  # 128 bit

    def test_sign_production_and_issuer(self):
        csr, _, u = device_csr(self.tmp, "dev-prod", production=True)
        out = os.path.join(self.tmp, "dev-prod.pem")
        bw("sign", self.pki, csr, "--production", "--issuer", "online-ca",
           "-o", out)
        self.verify(out, untrusted=self.p("online-ca.pem"), crl=True)
        subj = ossl("x509", "-in", out, "-noout", "-subject").stdout
        self.assertIn("CN = %s, OU = %s, businessCategory = production"
                      % (u, FACTORY), subj)
        # A plain CSR signed with --production gets production from the
        # signer, not from the CSR.
        csr2, _, _ = device_csr(self.tmp, "dev-prod2")
        p = bw("sign", self.pki, csr2, "--production", "--issuer",
               "online-ca")
        self.assertIn("BEGIN CERTIFICATE", p.stdout)
        # production is policy: a local CA made without --production may
        # not issue it, and `show` says which CA may
        p = bw("sign", self.pki, csr2, "--production", "--issuer",
               "local-ca", check=1)
        self.assertIn("may not issue production", p.stderr)
        show = json.loads(bw("show", self.pki).stdout)
        prod = {c["file"]: c.get("production") for c in show["certificates"]
                if c["role"].endswith("device-ca")}
        self.assertEqual((prod["online-ca.pem"], prod["local-ca.pem"]),
                         (True, False))

    def test_bad_csrs_refused_dir_unchanged(self):
        garbage = os.path.join(self.tmp, "garbage.csr")
        with open(garbage, "wb") as f:
            f.write(os.urandom(300))
        self.assert_fails_unchanged(["sign", self.pki, garbage],
                                    "not a PEM or DER")
        trunc = os.path.join(self.tmp, "trunc.csr")
        good, _, _ = device_csr(self.tmp, "dev-trunc")
        with open(good) as f, open(trunc, "w") as g:
            g.write(f.read()[:200] + "\n-----END CERTIFICATE REQUEST-----\n")
        self.assert_fails_unchanged(["sign", self.pki, trunc], "CSR")
        u = str(uuid.uuid4())
        p384, _ = make_csr(self.tmp, "p384", "/CN=%s/OU=%s" % (u, FACTORY),
                           key="ec:secp384r1")
        self.assert_fails_unchanged(["sign", self.pki, p384], "not ECDSA P-256")
        rsa, _ = make_csr(self.tmp, "rsa", "/CN=%s/OU=%s" % (u, FACTORY),
                          key="rsa")
        self.assert_fails_unchanged(["sign", self.pki, rsa], "not ECDSA P-256")
        forged, _, _ = device_csr(self.tmp, "forged", production=True)
        self.assert_fails_unchanged(["sign", self.pki, forged],
                                    "businessCategory=production")
        ca_true, _, _ = device_csr(self.tmp, "catrue",
                                   exts=["basicConstraints=critical,CA:TRUE"])
        self.assert_fails_unchanged(["sign", self.pki, ca_true, "--device"],
                                    "CA:TRUE")
        kcs, _, _ = device_csr(self.tmp, "kcs",
                               exts=["keyUsage=keyCertSign"])
        self.assert_fails_unchanged(["sign", self.pki, kcs], "keyCertSign")
        srv, _, _ = device_csr(self.tmp, "srv-eku",
                               exts=["extendedKeyUsage=serverAuth"])
        self.assert_fails_unchanged(["sign", self.pki, srv], "key usage")
        notuuid, _ = make_csr(self.tmp, "notuuid",
                              "/CN=not-a-uuid/OU=%s" % FACTORY)
        self.assert_fails_unchanged(["sign", self.pki, notuuid], "UUID")
        wrongou, _ = make_csr(self.tmp, "wrongou",
                              "/CN=%s/OU=other-factory" % u)
        self.assert_fails_unchanged(["sign", self.pki, wrongou], "factory")
        extra, _ = make_csr(self.tmp, "extra",
                            "/CN=%s/OU=%s/O=Evil" % (u, FACTORY))
        self.assert_fails_unchanged(["sign", self.pki, extra],
                                    "unexpected subject attribute")
        big = os.path.join(self.tmp, "big.csr")
        with open(big, "w") as f:
            f.write("A" * 70000)
        self.assert_fails_unchanged(["sign", self.pki, big], "larger")
        self.assert_fails_unchanged(
            ["sign", self.pki, good, "--issuer", "nope"], "no device CA")

    def test_sign_server_and_ca_profiles(self):
        pki = self.fresh_pki("--local-ca")
        csr, _ = make_csr(self.tmp, "term", "/CN=terminator/O=Acme")
        out = os.path.join(self.tmp, "term.pem")
        bw("sign", pki, csr, "--server", "--dns", "term.example.com", "--ip",
           "::1", "-o", out)
        self.verify(out, pki=pki, crl=True)
        text = ossl("x509", "-in", out, "-noout", "-text").stdout
        self.assertIn("DNS:term.example.com, IP Address:0:0:0:0:0:0:0:1", text)
        self.assertIn("TLS Web Server Authentication", text)
        bw("sign", pki, csr, "--server", check=2)
        # a site's local CA from its own key
        site, sitekey = make_csr(self.tmp, "site",
                                 "/CN=site-b", exts=["basicConstraints="
                                                     "critical,CA:TRUE"])
        bw("sign", pki, site, "--ca", "--name", "site-b")
        sitepem = os.path.join(pki, "local-ca-site-b.pem")
        self.verify(sitepem, pki=pki)
        self.assertFalse(os.path.exists(os.path.join(pki,
                                                     "local-ca-site-b.key")))
        self.assertEqual(read(os.path.join(pki, "device-cas.pem"))
                         .count("BEGIN CERTIFICATE"), 2)
        self.assertIn("pathlen:0", ossl("x509", "-in", sitepem, "-noout",
                                        "-text").stdout)
        # a CA CSR that says CA:FALSE is refused for --ca
        noca, _ = make_csr(self.tmp, "noca", "/CN=site-c",
                           exts=["basicConstraints=critical,CA:FALSE"])
        self.assert_fails_unchanged(["sign", pki, noca, "--ca", "--name",
                                     "site-c"], "CA:FALSE", pki=pki)
        # the site signs a device itself; chain verifies
        dcsr, _, _ = device_csr(self.tmp, "site-dev")
        dpem = os.path.join(self.tmp, "site-dev.pem")
        ossl("x509", "-req", "-in", dcsr, "-CA", sitepem, "-CAkey", sitekey,
             "-CAcreateserial", "-out", dpem, "-days", "30")
        self.verify(dpem, untrusted=sitepem, pki=pki)

    # ---- device CAs -----------------------------------------------------

    def test_add_device_ca(self):
        pki = self.fresh_pki("--online-ca")
        old = read(os.path.join(pki, "online-ca.pem"))
        bw("add-device-ca", pki, "--local", "--name", "line-2")
        self.verify(os.path.join(pki, "local-ca-line-2.pem"), pki=pki,
                    crl=True)
        self.assertTrue(os.path.exists(os.path.join(pki, "crl",
                                                    "local-ca-line-2.crl")))
        self.assert_fails_unchanged(["add-device-ca", pki, "--local",
                                     "--name", "line-2"], "exists", pki=pki)
        bw("add-device-ca", pki, "--online", "--local", check=2)
        bw("add-device-ca", pki, "--local", "--name", "../x", check=1)
        # a second online CA: the current one is kept under its serial
        bw("add-device-ca", pki, "--online")
        new = read(os.path.join(pki, "online-ca.pem"))
        self.assertNotEqual(old, new)
        kept = [n for n in os.listdir(pki)
                if n.startswith("online-ca-") and n.endswith(".pem")]
        self.assertEqual(len(kept), 1)
        self.assertEqual(read(os.path.join(pki, kept[0])), old)
        self.assertEqual(read(os.path.join(pki, "device-cas.pem"))
                         .count("BEGIN CERTIFICATE"), 3)
        show = json.loads(bw("show", pki).stdout)
        files = [c["file"] for c in show["certificates"]]
        self.assertIn(kept[0], files)

    def test_writer_waits_for_a_busy_directory(self):
        """Another process holding the PKI directory for a moment (a
        command, bulwarkd's reload) makes a writer wait, not fail."""
        import fcntl
        import threading
        pki = self.fresh_pki("--online-ca")
        csr, _, _ = device_csr(self.tmp, "busy-dev")
        out = os.path.join(self.tmp, "busy-dev.pem")
        fd = os.open(pki, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(fd, fcntl.LOCK_SH)  # what bulwarkd holds to read
        t = threading.Timer(1.5, fcntl.flock, (fd, fcntl.LOCK_UN))
        t0 = time.monotonic()
        t.start()
        try:
            bw("sign", pki, csr, "--issuer", "online-ca", "-o", out)
        finally:
            t.join()
            os.close(fd)
        self.assertGreaterEqual(time.monotonic() - t0, 1.4)
        self.verify(out, untrusted=os.path.join(pki, "online-ca.pem"),
                    pki=pki)

    def test_disable_enable_revoke_device_ca(self):
        pki = self.fresh_pki("--online-ca", "--local-ca")
        csr, _, _ = device_csr(self.tmp, "dis-dev")
        out = os.path.join(self.tmp, "dis-dev.pem")
        bw("sign", pki, csr, "--issuer", "online-ca", "-o", out)
        online = os.path.join(pki, "online-ca.pem")
        self.verify(out, untrusted=online, pki=pki, crl=True)

        bw("disable-device-ca", pki, "--ca-file", online)
        crl = ossl("crl", "-in", os.path.join(pki, "crl", "factory_ca.crl"),
                   "-noout", "-text").stdout
        self.assertIn("Certificate Hold", crl)
        p = self.verify(out, untrusted=online, pki=pki, crl=True, check=2)
        self.assertIn("certificate revoked", p.stdout + p.stderr)
        self.verify(out, untrusted=online, pki=pki)  # without CRLs: OK
        self.assertEqual(read(os.path.join(pki, "device-cas.pem"))
                         .count("BEGIN CERTIFICATE"), 1)
        csr2, _, _ = device_csr(self.tmp, "dis-dev2")
        self.assert_fails_unchanged(["sign", pki, csr2, "--issuer",
                                     "online-ca"], "disabled", pki=pki)
        show = json.loads(bw("show", pki).stdout)
        st = {c["file"]: c["status"] for c in show["certificates"]}
        self.assertEqual(st["online-ca.pem"], "disabled")

        serial = ossl("x509", "-in", online, "-noout",
                      "-serial").stdout.strip().split("=")[1]
        bw("enable-device-ca", pki, "--ca-serial", serial.lower())
        self.verify(out, untrusted=online, pki=pki, crl=True)
        self.assertNotIn("Certificate Hold", ossl(
            "crl", "-in", os.path.join(pki, "crl", "factory_ca.crl"),
            "-noout", "-text").stdout)

        bw("revoke-device-ca", pki, "--ca", "online-ca", "--reason",
           "privilege-withdrawn")
        crl = ossl("crl", "-in", os.path.join(pki, "crl", "factory_ca.crl"),
                   "-noout", "-text").stdout
        self.assertIn("Privilege Withdrawn", crl)
        self.verify(out, untrusted=online, pki=pki, crl=True, check=2)
        self.assert_fails_unchanged(["enable-device-ca", pki, "--ca",
                                     "online-ca"], "final", pki=pki)
        bw("disable-device-ca", pki, check=2)
        self.assert_fails_unchanged(["disable-device-ca", pki, "--ca-serial",
                                     "abcdef"], "no device CA", pki=pki)
        # crlNumber grows
        nums = ossl("crl", "-in", os.path.join(pki, "crl", "factory_ca.crl"),
                    "-noout", "-crlnumber").stdout
        self.assertRegex(nums, r"crlNumber=0x0[4-9]")

    # ---- revoke-device + TLS --------------------------------------------

    def test_tls_handshake_and_revoked_device(self):
        pki = self.fresh_pki("--local-ca")
        local = os.path.join(pki, "local-ca.pem")
        good_csr, good_key, _ = device_csr(self.tmp, "tls-good")
        bad_csr, bad_key, bad_uuid = device_csr(self.tmp, "tls-bad")
        good = os.path.join(self.tmp, "tls-good.pem")
        bad = os.path.join(self.tmp, "tls-bad.pem")
        bw("sign", pki, good_csr, "-o", good)
        bw("sign", pki, bad_csr, "-o", bad)
        with TlsServer(pki) as srv:
            rc, out = srv.connect(bad, bad_key, local)
            self.assertIn("HTTP/1.0 200 ok", out)
        bw("revoke-device", pki, "--uuid", bad_uuid, "--reason",
           "key-compromise")
        crl = ossl("crl", "-in", os.path.join(pki, "crl", "local-ca.crl"),
                   "-noout", "-text", "-CAfile", local)
        self.assertIn("Key Compromise", crl.stdout)
        p = self.verify(bad, untrusted=local, pki=pki, crl=True, check=2)
        self.assertIn("certificate revoked", p.stdout + p.stderr)
        self.verify(good, untrusted=local, pki=pki, crl=True)
        with TlsServer(pki) as srv:
            rc, out = srv.connect(good, good_key, local)
            self.assertIn("HTTP/1.0 200 ok", out)
            rc, out = srv.connect(bad, bad_key, local)
            self.assertNotIn("HTTP/1.0 200 ok", out)
        self.assertIn("certificate revoked", srv.out)
        # revoking again is a no-op; by serial / cert works too
        bw("revoke-device", pki, "--uuid", bad_uuid)
        bw("revoke-device", pki, "--cert", good)
        self.verify(good, untrusted=local, pki=pki, crl=True, check=2)
        self.assert_fails_unchanged(["revoke-device", pki, "--serial", "AB12"],
                                    "--issuer", pki=pki)
        self.assert_fails_unchanged(["revoke-device", pki, "--uuid",
                                     str(uuid.uuid4())], "no certificate",
                                    pki=pki)
        bw("revoke-device", pki, "--serial", "AB12", "--issuer", "local-ca")
        self.assertIn("AB12", ossl("crl", "-in", os.path.join(
            pki, "crl", "local-ca.crl"), "-noout", "-text").stdout)

    # ---- rotation, CRL refresh, show ----------------------------------

    def test_rotate_tls_and_est(self):
        pki = self.fresh_pki()
        for stem, cmd in (("tls", "rotate-tls"), ("est-tls", "rotate-est")):
            old = read(os.path.join(pki, stem + ".pem"))
            oldkey = read(os.path.join(pki, stem + ".key"))
            bw(cmd, pki)
            self.assertEqual(read(os.path.join(pki, stem + ".pem.bak")),
                             old)
            self.assertEqual(read(os.path.join(pki, stem + ".key.bak")),
                             oldkey)
            self.assertNotEqual(read(os.path.join(pki, stem + ".pem")),
                                old)
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(
                pki, stem + ".key.bak")).st_mode), 0o600)
            self.verify(os.path.join(pki, stem + ".pem"), pki=pki, crl=True)
            text = ossl("x509", "-in", os.path.join(pki, stem + ".pem"),
                        "-noout", "-text").stdout
            self.assertIn("DNS:gw.example.com, IP Address:127.0.0.1", text)
            ossl("x509", "-in", os.path.join(pki, stem + ".pem"), "-noout",
                 "-pubkey")

    def test_rotate_with_new_names(self):
        pki = self.fresh_pki()
        bw("rotate-tls", pki, "--dns", "gw2.example.com", "--ip", "10.0.0.7")
        text = ossl("x509", "-in", os.path.join(pki, "tls.pem"), "-noout",
                    "-text").stdout
        self.assertIn("DNS:gw2.example.com, IP Address:10.0.0.7", text)
        self.assertIn("Subject: CN = gw2.example.com", text)
        self.assert_fails_unchanged(["rotate-est", pki, "--ip", "1.2.3"],
                                    "bad IP", pki=pki)
        bw("update-crl", pki, "--dns", "x", check=2)

    def test_update_crl_and_show(self):
        pki = self.fresh_pki("--online-ca")
        before = ossl("crl", "-in", os.path.join(pki, "crl", "online-ca.crl"),
                      "-noout", "-crlnumber").stdout
        bw("update-crl", pki)
        after = ossl("crl", "-in", os.path.join(pki, "crl", "online-ca.crl"),
                     "-noout", "-crlnumber").stdout
        self.assertNotEqual(before, after)
        show = json.loads(bw("show", pki).stdout)
        self.assertEqual(show["factory"], FACTORY)
        roles = {c["role"] for c in show["certificates"]}
        self.assertEqual(roles, {"factory-ca", "gateway-tls", "est-tls",
                                 "online-device-ca"})
        for c in show["certificates"]:
            self.assertRegex(c["serial"], r"^[0-9A-F]+$")
            self.assertIn(c["status"], ("valid", "enabled"))
        self.assertEqual(show["warnings"], [])
        pretty = bw("show", pki, "--pretty").stdout
        self.assertIn("online-ca.pem", pretty)
        self.assertIn("enabled", pretty)
        bw("show", os.path.join(self.tmp, "nope"), check=1)

    def test_tampered_state_refused(self):
        pki = self.fresh_pki("--online-ca")
        st = os.path.join(pki, "state.json")
        good = read(st)
        for bad in (good.replace('"version": 1', '"version": 1, "version": 1'),
                    good.replace('"enabled"', '"maybe"'),
                    good[:-5], "[]", good.replace('"kind"', '"extra": 1, '
                                                  '"kind"')):
            with open(st, "w") as f:
                f.write(bad)
            p = bw("show", pki, check=1)
            self.assertIn("state", p.stderr)
        with open(st, "w") as f:
            f.write(good)
        bw("show", pki)

    def test_one_process_at_a_time(self):
        import fcntl
        pki = self.fresh_pki("--online-ca")
        fd = os.open(pki, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            t0 = time.monotonic()
            self.assert_fails_unchanged(["add-device-ca", pki, "--local"],
                                        "in use", pki=pki)
            # it waited for the other process (10 s), then gave up
            self.assertGreaterEqual(time.monotonic() - t0, 9.5)
        finally:
            os.close(fd)
        bw("add-device-ca", pki, "--local")

    def test_loose_key_mode_refused(self):
        pki = self.fresh_pki("--online-ca")
        os.chmod(os.path.join(pki, "factory_ca.key"), 0o644)
        self.assert_fails_unchanged(["update-crl", pki], "chmod 600", pki=pki)

    def test_help_and_usage(self):
        p = run([BULWARK, "--help"], check=0)
        self.assertIn("keys", p.stdout)
        p = run([BULWARK, "keys", "ca", "--help"], check=0)
        for cmd in ("create", "show", "add-device-ca", "disable-device-ca",
                    "enable-device-ca", "revoke-device-ca", "revoke-device",
                    "sign", "rotate-tls", "rotate-est", "update-crl"):
            self.assertIn(cmd, p.stdout)
            h = bw(cmd, "--help")
            self.assertIn("Usage: bulwark keys ca " + cmd, h.stdout)
            self.assertIn("Exit codes", h.stdout)
        bw("frobnicate", check=2)
        bw("show", check=2)
        bw("show", self.pki, "--bogus", check=2)
        bw("sign", self.pki, "x.csr", "--server", "--ca", check=2)
        run([BULWARK], check=2)


SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"


@unittest.skipUnless(shutil.which("softhsm2-util") and shutil.which(
    "pkcs11-tool") and os.path.exists(SOFTHSM_MODULE), "SoftHSM2 not installed")
class KeysCaHsmTest(unittest.TestCase):
    """Factory CA key in a SoftHSM2 token: created non-extractable, every
    factory signature goes through the token."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bw-keys-ca-hsm-")
        conf = softhsm_token(self.tmp, "factory")
        self.env_old = os.environ.get("SOFTHSM2_CONF")
        os.environ["SOFTHSM2_CONF"] = conf
        self.pin = os.path.join(self.tmp, "pin")
        with open(self.pin, "w") as f:
            f.write("1234\n")
        os.chmod(self.pin, 0o600)
        self.pki = os.path.join(self.tmp, "pki")

    def tearDown(self):
        if self.env_old is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = self.env_old
        shutil.rmtree(self.tmp, ignore_errors=True)

    def objects(self):
        return run(["pkcs11-tool", "--module", SOFTHSM_MODULE, "--login",
                    "--pin", "1234", "--list-objects"], check=0).stdout

    def test_hsm_factory_ca(self):
        bw("create", self.pki, "--factory", FACTORY, "--dns", "gw.example.com",
           "--online-ca", "--local-ca", "--hsm-token", "factory",
           "--hsm-pin-file", self.pin)
        self.assertFalse(os.path.exists(os.path.join(self.pki,
                                                     "factory_ca.key")))
        uri = read(os.path.join(self.pki, "factory_ca.uri"))
        self.assertTrue(uri.startswith("pkcs11:token=factory;"))
        objs = self.objects()
        self.assertIn("never extractable", objs)
        self.assertIn("sensitive", objs)
        ca = os.path.join(self.pki, "factory_ca.pem")
        for n in ("tls.pem", "est-tls.pem", "online-ca.pem", "local-ca.pem"):
            ossl("verify", "-CAfile", ca, os.path.join(self.pki, n))
        # the token's public key is the factory CA's
        tokpub = run(["pkcs11-tool", "--module", SOFTHSM_MODULE,
                      "--read-object", "--type", "pubkey", "--label",
                      "bulwark-factory-ca", "-o",
                      os.path.join(self.tmp, "pub.der")], check=0)
        del tokpub
        a = ossl("pkey", "-pubin", "-inform", "DER", "-in",
                 os.path.join(self.tmp, "pub.der"), "-outform", "PEM").stdout
        b = ossl("x509", "-in", ca, "-noout", "-pubkey").stdout
        self.assertEqual(a, b)
        # factory signatures need the token: no PIN, wrong PIN fail
        before = snapshot(self.pki)
        p = bw("add-device-ca", self.pki, "--local", "--name", "b", check=2)
        self.assertIn("--hsm-pin-file", p.stderr)
        bad = os.path.join(self.tmp, "badpin")
        with open(bad, "w") as f:
            f.write("0000\n")
        os.chmod(bad, 0o600)
        p = bw("add-device-ca", self.pki, "--local", "--name", "b",
               "--hsm-pin-file", bad, check=1)
        self.assertIn("PIN", p.stderr)
        self.assertEqual(before, snapshot(self.pki))
        bw("add-device-ca", self.pki, "--local", "--name", "b",
           "--hsm-pin-file", self.pin)
        ossl("verify", "-CAfile", ca, os.path.join(self.pki,
                                                   "local-ca-b.pem"))
        bw("disable-device-ca", self.pki, "--ca", "online-ca",
           "--hsm-pin-file", self.pin)
        p = ossl("crl", "-in", os.path.join(self.pki, "crl",
                                            "factory_ca.crl"),
                 "-noout", "-text", "-CAfile", ca)
        self.assertIn("verify OK", p.stdout + p.stderr)
        self.assertIn("Certificate Hold", p.stdout)
        bw("rotate-tls", self.pki, "--hsm-pin-file", self.pin)
        ossl("verify", "-CAfile", ca, os.path.join(self.pki, "tls.pem"))
        # device signing uses the device CA file key: no PIN needed
        csr, _, _ = device_csr(self.tmp, "hsm-dev")
        bw("sign", self.pki, csr, "-o", os.path.join(self.tmp, "d.pem"))
        ossl("verify", "-CAfile", ca, "-untrusted",
             os.path.join(self.pki, "local-ca.pem"),
             os.path.join(self.tmp, "d.pem"))

    def test_hsm_create_refusals_leave_token_unchanged(self):
        bw("create", self.pki, "--factory", FACTORY, "--hsm-token", "factory",
           "--hsm-pin-file", self.pin)
        objs = self.objects()
        before = snapshot(self.pki)
        # existing root: refused; the key made for it is removed again
        p = bw("create", self.pki, "--factory", FACTORY, "--hsm-token",
               "factory", "--hsm-pin-file", self.pin, "--hsm-key-label", "k2",
               check=1)
        self.assertIn("existing root", p.stderr)
        self.assertEqual(objs, self.objects())
        self.assertEqual(before, snapshot(self.pki))
        # same label again in another directory
        p = bw("create", os.path.join(self.tmp, "pki2"), "--factory", FACTORY,
               "--hsm-token", "factory", "--hsm-pin-file", self.pin, check=1)
        self.assertIn("--hsm-key-label", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "pki2")))
        p = bw("create", os.path.join(self.tmp, "pki3"), "--factory", FACTORY,
               "--hsm-token", "nosuchtoken", "--hsm-pin-file", self.pin,
               check=1)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "pki3")))
        bw("create", os.path.join(self.tmp, "pki4"), "--factory", FACTORY,
           "--hsm-token", "factory", check=2)


if __name__ == "__main__":
    unittest.main()
