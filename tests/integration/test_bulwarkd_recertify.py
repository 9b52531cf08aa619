"""Device CAs uploaded on the admin API and their production flag, and an
operator binding a new certificate to an existing device: a real bulwarkd,
a real PKI from `bulwark keys ca`, real certificates over real TLS."""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bwserver as c  # noqa: E402


def log_entries(srv):
    """Every transparency log entry, decoded (JSON objects)."""
    st, r = srv.admin("GET", "/log/entries?start=0&end=0")
    assert st == 200, r
    st, r = srv.admin("GET", "/log/entries?start=0&end=%d" % r["size"])
    assert st == 200, r
    return [json.loads(base64.b64decode(e["entry"])) for e in r["entries"]]


class UploadedCaProductionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="bwd-upca-")
        cls.tuf = c.Tuf()
        logkey = os.path.join(cls.dir, "log.pem")
        c.run(c.BULWARK, "log", "key", "--generate", "--key", logkey,
              "--name", "bulwark/acme", "--out",
              os.path.join(cls.dir, "log.vkey"))
        cls.srv = c.Server(cls.dir, cls.tuf, extra={
            "log": {"key": logkey, "origin": "bulwark/acme"}}).start()
        cls.srv.seed(tag="prod")
        cls.offline = os.path.join(cls.dir, "offline-pki")
        shutil.copytree(cls.srv.pki, cls.offline)
        for site in ("cisite", "prodsite"):
            c.run(c.BULWARK, "keys", "ca", "add-device-ca", cls.offline,
                  "--local", "--name", site)

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        log = cls.srv.logtext()
        shutil.rmtree(cls.dir)
        assert rc == 0, "bulwarkd did not stop cleanly: %r\n%s" % (rc, log)

    def put(self, name, query=""):
        with open(os.path.join(self.offline, name + ".pem"), "rb") as f:
            return self.srv.admin("PUT", "/pki/ca/" + name + query, f.read())

    def dev(self, name, ca, production):
        return c.device_cert(self.offline, self.dir, name, ca=ca,
                             production=production)

    def test_production_only_by_explicit_opt_in(self):
        srv = self.srv
        for q in ("?production=maybe", "?production=", "?production=YES"):
            st, r = self.put("local-ca-cisite", q)
            self.assertEqual(st, 400, (q, r))
        self.assertEqual(self.put("local-ca-cisite")[0], 200)
        self.assertEqual(self.put("local-ca-prodsite", "?production=yes")[0],
                         200)
        st, r = srv.admin("GET", "/pki")
        cas = {x["name"]: x for x in r["device-cas"]}
        self.assertEqual((cas["local-ca-cisite"]["production"],
                          cas["local-ca-cisite"]["source"]),
                         (False, "uploaded"))
        self.assertEqual((cas["local-ca-prodsite"]["production"],
                          cas["local-ca-prodsite"]["source"]),
                         (True, "uploaded"))
        self.assertEqual((cas["online-ca"]["production"],
                          cas["online-ca"]["source"]), (True, "pki-dir"))
        # the fleet page lists the flag too
        ci_prod = self.dev("ci-prod", "local-ca-cisite", True)
        ci_ci = self.dev("ci-ci", "local-ca-cisite", False)
        pr_prod = self.dev("pr-prod", "local-ca-prodsite", True)
        # a production claim from the CI-only upload is refused, like one
        # from a `keys ca` CA made with --ci-only
        self.assertTrue(srv.refused(ci_prod))
        self.assertEqual(srv.device_get(ci_ci, "/device")[0], 200)
        st, _, dv = srv.device_get(pr_prod, "/device")
        self.assertEqual((st, json.loads(dv)["production"]), (200, True))
        st, _, root = srv.device_get(pr_prod, "/repo/1.root.json")
        self.assertEqual(
            json.loads(root)["signed"]["roles"]["targets"]["threshold"], 2)
        # the choice is logged and survives a restart
        adds = {e["objects"]["name"]: e["objects"]["production"]
                for e in log_entries(srv) if e["action"] == "pki.ca.add"}
        self.assertEqual(adds, {"local-ca-cisite": False,
                                "local-ca-prodsite": True})
        srv.stop()
        srv.start()
        self.assertTrue(srv.refused(self.dev("ci-prod2", "local-ca-cisite",
                                             True)))
        self.assertEqual(srv.device_get(
            self.dev("pr-prod2", "local-ca-prodsite", True), "/device")[0],
            200)
        # a re-upload may withdraw it
        self.assertEqual(self.put("local-ca-prodsite", "?production=no")[0],
                         200)
        self.assertTrue(srv.refused(self.dev("pr-prod3", "local-ca-prodsite",
                                             True)))


def write_key(path, key):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(c.serialization.Encoding.PEM,
                                  c.serialization.PrivateFormat.PKCS8,
                                  c.serialization.NoEncryption()))


class RecertifyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="bwd-recert-")
        logkey = os.path.join(cls.dir, "log.pem")
        c.run(c.BULWARK, "log", "key", "--generate", "--key", logkey,
              "--name", "bulwark/acme", "--out",
              os.path.join(cls.dir, "log.vkey"))
        cls.srv = c.Server(cls.dir, c.Tuf(), extra={
            "log": {"key": logkey, "origin": "bulwark/acme"}}).start()
        cls.srv.seed(tag="prod")
        cls.tokens = {}
        for role in ("viewer", "operator"):
            st, r = cls.srv.admin("POST", "/accounts",
                                  {"role": role, "expires-in": 3600})
            assert st == 201, r
            path = os.path.join(cls.dir, role + ".token")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            os.write(fd, (r["token"] + "\n").encode())
            os.close(fd)
            cls.tokens[role] = (r["token"], path, r["id"])

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        log = cls.srv.logtext()
        shutil.rmtree(cls.dir)
        assert rc == 0, "bulwarkd did not stop cleanly: %r\n%s" % (rc, log)

    def registered(self, scope="ci"):
        """A device registered over POST /sign, as its files on disk."""
        uid = str(c.uuidlib.uuid4())
        key = c.ec.generate_private_key(c.ec.SECP256R1())
        st, tok = self.srv.admin("POST", "/tokens",
                                 {"scope": scope, "expires-in": 600})
        self.assertEqual(st, 201, tok)
        st, r = self.srv.register(
            {"uuid": uid, "hardware-id": "board",
             "csr": c.csr_pem(uid, key=key,
                              production=scope == "production")},
            tok["token"])
        self.assertEqual(st, 201, r)
        return self.files(uid, "old", key, r["client.pem"])

    def files(self, uid, tag, key, pem):
        kpath = os.path.join(self.dir, "%s.%s.key" % (uid, tag))
        cpath = os.path.join(self.dir, "%s.%s.pem" % (uid, tag))
        write_key(kpath, key)
        with open(cpath, "w") as f:
            f.write(pem)
        return {"uuid": uid, "key": kpath, "cert": cpath}

    def recertify(self, uid, csr, role="operator"):
        return self.srv.admin("POST", "/devices/%s/recertify" % uid,
                              {"csr": csr}, token=self.tokens[role][0])

    def test_operator_binds_a_new_certificate_with_the_cli(self):
        srv = self.srv
        old = self.registered()
        uid = old["uuid"]
        self.assertEqual(srv.device_get(old, "/device")[0], 200)
        key = c.ec.generate_private_key(c.ec.SECP256R1())
        csr = os.path.join(self.dir, uid + ".csr")
        with open(csr, "w") as f:
            f.write(c.csr_pem(uid, key=key))
        out = os.path.join(self.dir, uid + ".cli.pem")
        # a viewer may not
        st, r = self.recertify(uid, open(csr).read(), role="viewer")
        self.assertEqual(st, 403, r)
        cli = [c.BULWARK, "devices", "recertify", uid.upper(), "--csr", csr,
               "--server", "https://127.0.0.1:%d" % srv.admin_port,
               "--ca-file", os.path.join(srv.pki, "factory_ca.pem")]
        p = subprocess.run(cli + ["--token-file", self.tokens["viewer"][1]],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertFalse(os.path.exists(out))
        p = subprocess.run(cli + ["--token-file", self.tokens["operator"][1],
                                  "--out", out],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        new = {"uuid": uid, "cert": out,
               "key": self.files(uid, "new", key, "")["key"]}
        cert = c.load_cert(out)
        self.assertEqual(cert.subject.get_attributes_for_oid(
            c.NameOID.COMMON_NAME)[0].value, uid)
        # the new certificate is accepted, the old one refused
        st, _, dv = srv.device_get(new, "/device")
        self.assertEqual((st, json.loads(dv)["uuid"]), (200, uid))
        self.assertTrue(srv.refused(old))
        st, d = srv.admin("GET", "/devices/" + uid)
        self.assertEqual(d["serial"], "%X" % cert.serial_number)
        # recorded for the operator and in the transparency log
        st, evs = srv.admin("GET", "/events?device=" + uid)
        changed = [e for e in evs
                   if e["event"]["eventType"]["id"]
                   == "bulwark.binding-changed"]
        self.assertTrue(changed, evs)
        self.assertIn("operator", json.dumps(changed))
        by = "account:%d" % self.tokens["operator"][2]
        logged = [(e["action"], e["by"]) for e in log_entries(srv)
                  if e["objects"].get("uuid") == uid]
        self.assertIn(("device.cert.issue", by), logged)
        self.assertIn("device.bind", [a for a, _ in logged])

    def test_production_device_stays_production(self):
        old = self.registered("production")
        uid = old["uuid"]
        key = c.ec.generate_private_key(c.ec.SECP256R1())
        st, r = self.recertify(uid, c.csr_pem(uid, key=key,
                                              production=True))
        self.assertEqual(st, 200, r)
        new = self.files(uid, "new", key, r["chain"])
        st, _, root = self.srv.device_get(new, "/repo/1.root.json")
        self.assertEqual(
            json.loads(root)["signed"]["roles"]["targets"]["threshold"], 2)
        self.assertTrue(self.srv.refused(old))

    def test_bad_requests_refused_and_nothing_changes(self):
        srv = self.srv
        old = self.registered()
        uid = old["uuid"]
        other = str(c.uuidlib.uuid4())
        key = c.ec.generate_private_key(c.ec.SECP256R1())
        good = c.csr_pem(uid, key=key)
        cases = [
            (uid, c.csr_pem(other, key=key), 400),   # CSR of another device
            (uid, c.csr_pem(uid, key=key, ou="other"), 400),  # factory
            (uid, c.csr_pem(uid, key=key, production=True), 403),  # CI dev
            (uid, "not a CSR", 400),
            (uid, good[:-40], 400),
            (other, c.csr_pem(other, key=key), 404),  # unknown device
            ("not-a-uuid", good, 404),
        ]
        for u, csr, want in cases:
            st, r = self.recertify(u, csr)
            self.assertEqual(st, want, (u, csr[:80], r))
        for body in ({"csr": good, "extra": 1}, {"csr": 5}, {}, [good]):
            st, r = srv.admin("POST", "/devices/%s/recertify" % uid, body,
                              token=self.tokens["operator"][0])
            self.assertEqual(st, 400, (body, r))
        st, r = srv.admin("DELETE", "/devices/%s/recertify" % uid,
                          token=self.tokens["operator"][0])
        self.assertEqual(st, 403, r)  # not an operator action
        # deny-listed devices are not re-certified
        self.assertEqual(srv.admin("POST", "/devices/%s/deny" % uid,
                                   {"reason": "t"})[0], 200)
        self.assertEqual(self.recertify(uid, good)[0], 403)
        self.assertEqual(srv.admin("DELETE", "/devices/%s/deny" % uid)[0],
                         200)
        # nothing of the above moved the binding
        self.assertEqual(srv.device_get(old, "/device")[0], 200)


class RecertifyPolicyTest(unittest.TestCase):
    """Re-certify where this process may not issue what the record needs."""

    def test_registration_ca_that_may_not_issue_production(self):
        d = tempfile.mkdtemp(prefix="bwd-recert-pol-")
        pki = c.make_pki(os.path.join(d, "pki"))
        srv = c.Server(d, c.Tuf(), pki=pki)
        try:
            srv.start()
            uid = str(c.uuidlib.uuid4())
            st, tok = srv.admin("POST", "/tokens",
                                {"scope": "production", "expires-in": 600})
            st, r = srv.register({"uuid": uid, "hardware-id": "board",
                                  "csr": c.csr_pem(uid, production=True)},
                                 tok["token"])
            self.assertEqual(st, 201, r)
            self.assertEqual(srv.stop(), 0)
            # the registration CA is replaced by a CI-only one
            c.run(c.BULWARK, "keys", "ca", "add-device-ca", pki, "--online",
                  "--ci-only")
            srv.start()
            st, r = srv.admin("POST", "/devices/%s/recertify" % uid,
                              {"csr": c.csr_pem(uid, production=True)})
            self.assertEqual(st, 403, r)
            st, dv = srv.admin("GET", "/devices/" + uid)
            self.assertTrue(dv["production"])
            self.assertEqual(srv.stop(), 0)
        finally:
            srv.kill()
            shutil.rmtree(d)

    def test_no_registration_ca_in_this_process(self):
        d = tempfile.mkdtemp(prefix="bwd-recert-role-")
        srv = c.Server(d, c.Tuf(), roles="gateway,admin")
        try:
            srv.start()
            dev = c.device_cert(srv.pki, d, "gw-only")
            self.assertEqual(srv.device_get(dev, "/device")[0], 200)
            st, r = srv.admin("POST", "/devices/%s/recertify" % dev["uuid"],
                              {"csr": c.csr_pem(dev["uuid"])})
            self.assertEqual(st, 409, r)
            self.assertEqual(srv.device_get(dev, "/device")[0], 200)
            self.assertEqual(srv.stop(), 0)
        finally:
            srv.kill()
            shutil.rmtree(d)


if __name__ == "__main__":
    unittest.main()
