"""Device CAs uploaded on the admin API and their production flag, and an
operator binding a new certificate to an existing device: a real bulwarkd,
a real PKI from `bulwark keys ca`, real certificates over real TLS."""
import base64
import json
import os
import shutil
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


if __name__ == "__main__":
    unittest.main()
