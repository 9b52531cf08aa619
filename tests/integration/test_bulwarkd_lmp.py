"""lmp-device-register against a real bulwarkd: the registration body
exactly as that client writes it (boost::property_tree's JSON writer:
every scalar a string, '/' escaped, override values as TOML literals),
with real CSRs (a key file made by OpenSSL, or a key inside a SoftHSM2
token signed through the pkcs11 engine), the sota.toml of the answer
parsed as TOML field by field, and the device then using what it got.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import unittest
import uuid as uuidlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bwserver as c  # noqa: E402
from bwtest import SOFTHSM_MODULE, softhsm_token  # noqa: E402

HWID = "intel-corei7-64"
PIN = "1234"


def boost_json(tree, indent=0):
    """What boost::property_tree::write_json(stream, tree) writes: every
    leaf a string, '"', '\\' and '/' escaped, 4-space indentation."""
    def esc(s):
        out = []
        for ch in s:
            if ch in '"\\/':
                out.append("\\" + ch)
            elif ch == "\n":
                out.append("\\n")
            elif ord(ch) < 0x20:
                out.append("\\u%04X" % ord(ch))
            else:
                out.append(ch)
        return "".join(out)
    pad = " " * (indent + 4)
    items = []
    for k, v in tree.items():
        val = boost_json(v, indent + 4) if isinstance(v, dict) \
            else '"%s"' % esc(v)
        items.append('%s"%s": %s' % (pad, esc(k), val))
    return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"


def lmp_body(uid, csr, tags="main", sota_dir="/var/sota", hsm=False,
             compose=False, group=None, name=None):
    """The request of lmp-device-register (src/main.cpp get_device_info,
    put_hsm_info, put_compose_app_info), keys in its order."""
    t = {"use-ostree-server": "true", "sota-config-dir": sota_dir,
         "hardware-id": HWID, "name": name or uid, "uuid": uid, "csr": csr}
    ov = {}
    if hsm:
        ov["tls"] = {"pkey_source": '"pkcs11"', "cert_source": '"pkcs11"'}
        ov["storage"] = {"tls_pkey_path": "", "tls_clientcert_path": ""}
        ov["import"] = {"tls_pkey_path": "", "tls_clientcert_path": ""}
    if compose:
        ov["pacman"] = {
            "type": '"ostree+compose_apps"',
            "compose_apps_root": '"%s/compose-apps"' % sota_dir,
            "compose_apps": '"shellhttpd,fiotest"',
            "reset_apps_root": '"%s/reset-apps"' % sota_dir,
            "reset_apps": '""'}
    if ov:
        t["overrides"] = ov
    if group:
        t["group"] = group
    if tags is not None:
        t.setdefault("overrides", {}).setdefault("pacman", {})["tags"] = \
            '"%s"' % tags
    return (boost_json(t) + "\n").encode()


def openssl_csr(uid, production, outdir):
    """A key file and CSR as openssl_create_csr makes them: EC P-256,
    CN=uuid, OU=factory, businessCategory=production with -p, keyUsage
    digitalSignature and extendedKeyUsage clientAuth, both critical."""
    key = os.path.join(outdir, uid + ".pkey.pem")
    c.run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
          "-out", key)
    subj = "/CN=%s/OU=%s" % (uid, c.FACTORY)
    if production:
        subj += "/businessCategory=production"
    p = c.run("openssl", "req", "-new", "-key", key, "-subj", subj,
              "-addext", "keyUsage=critical,digitalSignature",
              "-addext", "extendedKeyUsage=critical,clientAuth")
    return key, p.stdout


class Base(unittest.TestCase):
    extra = None

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="bwd-lmp-")
        cls.tuf = c.Tuf()
        cls.srv = c.Server(cls.dir, cls.tuf, extra=cls.extra).start()
        cls.srv.seed(tag="prod")
        cls.url = "https://127.0.0.1:%d" % cls.srv.gw_port

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        log = cls.srv.logtext()
        shutil.rmtree(cls.dir)
        assert rc == 0, "bulwarkd did not stop cleanly: %r\n%s" % (rc, log)

    def token(self, scope="ci"):
        st, r = self.srv.admin("POST", "/tokens",
                               {"scope": scope, "expires-in": 3600})
        self.assertEqual(st, 201, r)
        return r["token"]

    def populate(self, ans, sota_dir, key_pem=None):
        """What populate_sota_dir does with a 201: every answer entry a
        file in sota_dir, sota.toml last; pkey.pem for a file key."""
        os.makedirs(sota_dir, exist_ok=True)
        if key_pem:
            shutil.copy(key_pem, os.path.join(sota_dir, "pkey.pem"))
        for name, text in ans.items():
            self.assertNotIn("/", name)
            if name != "sota.toml":
                with open(os.path.join(sota_dir, name), "w") as f:
                    f.write(text)
        with open(os.path.join(sota_dir, "sota.toml"), "w") as f:
            f.write(ans["sota.toml"] + "\n")

    def check_common(self, toml, sota_dir, tags):
        """Fields every answer has, whatever the key source."""
        url = self.url
        self.assertEqual(toml["tls"]["server"], url)
        self.assertEqual(toml["tls"]["ca_source"], "file")
        self.assertEqual(toml["provision"]["server"], url)
        self.assertEqual(toml["provision"]["primary_ecu_hardware_id"], HWID)
        self.assertEqual(toml["uptane"]["repo_server"], url + "/repo")
        self.assertEqual(toml["storage"]["type"], "sqlite")
        self.assertEqual(toml["storage"]["path"], sota_dir + "/")
        self.assertEqual(toml["storage"]["sqldb_path"],
                         sota_dir + "/sql.db")
        self.assertEqual(toml["import"]["base_path"], sota_dir)
        self.assertEqual(toml["import"]["tls_cacert_path"],
                         sota_dir + "/root.crt")
        if tags is None:
            self.assertNotIn("tags", toml.get("pacman", {}))
        else:
            self.assertEqual(toml["pacman"]["tags"], tags)
        # only URLs this server serves: no OSTree server of any kind
        self.assertNotIn("ostree_server", toml.get("pacman", {}))

        def urls(o):
            for v in o.values():
                if isinstance(v, dict):
                    yield from urls(v)
                elif isinstance(v, str) and "://" in v:
                    yield v
        for u in urls(toml):
            self.assertTrue(u == url or u.startswith(url + "/"), u)


class LmpRegisterTest(Base):
    extra = {"gateway": {"default_tag": "prod"}}

    def test_file_key_body_and_device_uses_its_answer(self):
        uid = str(uuidlib.uuid4())
        sota_dir = os.path.join(self.dir, "var-lib-" + uid[:8], "sota")
        key, csr = openssl_csr(uid, True, self.dir)
        body = lmp_body(uid, csr, tags="prod,beta", sota_dir=sota_dir,
                        group="line-2")
        self.assertIn(b'"sota-config-dir": "\\/', body)  # as boost writes
        st, ans = self.srv.register(None, self.token("production"),
                                    raw=body)
        self.assertEqual(st, 201, ans)
        self.assertEqual(set(ans), {"root.crt", "client.pem",
                                    "client.chained", "sota.toml"})
        toml = tomllib.loads(ans["sota.toml"])
        self.check_common(toml, sota_dir, "prod,beta")
        self.assertEqual(toml["tls"]["pkey_source"], "file")
        self.assertEqual(toml["tls"]["cert_source"], "file")
        self.assertEqual(toml["import"]["tls_clientcert_path"],
                         sota_dir + "/client.pem")
        self.assertEqual(toml["import"]["tls_pkey_path"],
                         sota_dir + "/pkey.pem")
        self.assertEqual(set(toml), {"tls", "provision", "uptane", "pacman",
                                     "storage", "import"})
        # the record has the first requested tag before any contact
        st, d = self.srv.admin("GET", "/devices/" + uid)
        self.assertEqual((st, d["tag"], d["production"]), (200, "prod", True))
        # the device, from the files it wrote, without x-ats-tags
        self.populate(ans, sota_dir, key)
        dev = {"cert": toml["import"]["tls_clientcert_path"],
               "key": toml["import"]["tls_pkey_path"]}
        st, _, tg = self.srv.device_get(dev, "/repo/targets.json")
        self.assertEqual(st, 200)
        self.assertEqual(list(json.loads(tg)["signed"]["targets"]),
                         ["fw-prod-1"])

    def test_pkcs11_body_with_compose_apps(self):
        uid = str(uuidlib.uuid4())
        hsm = os.path.join(self.dir, "hsm-" + uid[:8])
        os.makedirs(hsm)
        conf = softhsm_token(hsm, "aktualizr", pin=PIN)
        env = dict(os.environ, SOFTHSM2_CONF=conf)
        ossl = os.path.join(hsm, "openssl.cnf")
        with open(ossl, "w") as f:
            f.write("openssl_conf = conf\n[conf]\nengines = engines\n"
                    "[engines]\npkcs11 = p11\n[p11]\nengine_id = pkcs11\n"
                    "MODULE_PATH = %s\ninit = 0\n" % SOFTHSM_MODULE)
        env["OPENSSL_CONF"] = ossl
        subprocess.run(["pkcs11-tool", "--module", SOFTHSM_MODULE,
                        "--token-label", "aktualizr", "--login", "--pin",
                        PIN, "--keypairgen", "--key-type", "EC:prime256v1",
                        "--label", "tls", "--id", "01"], env=env,
                       check=True, capture_output=True, timeout=60)
        uri = "pkcs11:token=aktualizr;object=tls;type=private;pin-value=" \
            + PIN
        p = subprocess.run(
            ["openssl", "req", "-new", "-engine", "pkcs11", "-keyform",
             "engine", "-key", uri, "-subj",
             "/CN=%s/OU=%s" % (uid, c.FACTORY),
             "-addext", "keyUsage=critical,digitalSignature",
             "-addext", "extendedKeyUsage=critical,clientAuth"],
            env=env, check=True, capture_output=True, text=True, timeout=60)
        body = lmp_body(uid, p.stdout, tags="main", hsm=True, compose=True)
        st, ans = self.srv.register(None, self.token(), raw=body)
        self.assertEqual(st, 201, ans)
        toml = tomllib.loads(ans["sota.toml"])
        self.check_common(toml, "/var/sota", "main")
        self.assertEqual(toml["tls"]["pkey_source"], "pkcs11")
        self.assertEqual(toml["tls"]["cert_source"], "pkcs11")
        self.assertNotIn("tls_pkey_path", toml["import"])
        self.assertNotIn("tls_clientcert_path", toml["import"])
        self.assertNotIn("tls_pkey_path", toml["storage"])
        # lmp-device-register appends its [p11] section: still one TOML
        full = tomllib.loads(
            ans["sota.toml"] + "\n[p11]\nmodule = \"%s\"\npass = \"%s\"\n"
            "tls_pkey_id = \"01\"\ntls_clientcert_id = \"03\"\n"
            % (SOFTHSM_MODULE, PIN))
        self.assertEqual(full["p11"]["tls_pkey_id"], "01")
        # the certificate holds the token's key, and the gateway takes a
        # TLS client authentication made inside the token
        cert = os.path.join(hsm, "client.pem")
        with open(cert, "w") as f:
            f.write(ans["client.pem"])
        ca = os.path.join(hsm, "root.crt")
        with open(ca, "w") as f:
            f.write(ans["root.crt"])
        p = subprocess.run(
            ["curl", "-sS", "--engine", "pkcs11", "--key-type", "ENG",
             "--key", uri, "--cert", cert, "--cacert", ca,
             "-o", "/dev/null", "-w", "%{http_code}",
             self.url + "/device"],
            env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.stdout, "200", p.stderr)

    def test_tagless_production_device_gets_the_default_tag(self):
        uid = str(uuidlib.uuid4())
        key, csr = openssl_csr(uid, True, self.dir)
        st, ans = self.srv.register(None, self.token("production"),
                                    raw=lmp_body(uid, csr, tags=None))
        self.assertEqual(st, 201, ans)
        toml = tomllib.loads(ans["sota.toml"])
        self.check_common(toml, "/var/sota", None)
        st, d = self.srv.admin("GET", "/devices/" + uid)
        self.assertEqual(d["tag"], "")
        cert = os.path.join(self.dir, uid + ".pem")
        with open(cert, "w") as f:
            f.write(ans["client.pem"])
        dev = {"cert": cert, "key": key}
        for role in ("timestamp", "snapshot", "targets"):
            st, _, body = self.srv.device_get(dev, "/repo/%s.json" % role)
            self.assertEqual(st, 200, (role, body))
        self.assertEqual(list(json.loads(body)["signed"]["targets"]),
                         ["fw-prod-1"])

    def test_fields_bounded_and_typed(self):
        uid = str(uuidlib.uuid4())
        _, csr = openssl_csr(uid, False, self.dir)
        tok = self.token()

        def body(**kw):
            b = {"uuid": uid, "hardware-id": HWID, "csr": csr,
                 "use-ostree-server": "false", "sota-config-dir": "/var/sota",
                 "overrides": {"pacman": {"tags": '"main"'}}}
            b.update(kw)
            return json.dumps(b).encode()
        bad = [
            body(**{"sota-config-dir": "var/sota"}),
            body(**{"sota-config-dir": "/var/../etc"}),
            body(**{"sota-config-dir": "/var/./sota"}),
            body(**{"sota-config-dir": '/var/so"ta'}),
            body(**{"sota-config-dir": "/"}),
            body(**{"sota-config-dir": "/" + "a" * 300}),
            body(**{"sota-config-dir": 7}),
            body(**{"use-ostree-server": "maybe"}),
            body(overrides={"tls": {"pkey_source": '"tpm"'}}),
            body(overrides={"tls": {"cert_source": 1}}),
            body(overrides={"pacman": {"tags": '"main,"'}}),
            body(overrides={"pacman": {"tags": '"ma in"'}}),
            body(overrides={"pacman": {"tags": '"a$b"'}}),
            body(overrides={"pacman": {"tags": ",".join(["t"] * 9)}}),
            body(overrides={"pacman": {"tags": ["main"]}}),
            body(overrides={"pacman": "x"}),
            body(overrides=[]),
            body(overrides={"storage": {"x": "y" * 1025}}),
            body(newer={"nested": 1}),
            body(newer="z" * 1025),
            body(**{"f%d" % i: "v" for i in range(33)}),
        ]
        for b in bad:
            st, r = self.srv.register(None, tok, raw=b)
            self.assertEqual(st, 400, (b[-200:], r))
        self.assertEqual(self.srv.admin("GET", "/devices/" + uid)[0], 404)
        # unknown scalars within bounds are ignored, not refused
        ok = body(**{"newer-field": "x" * 1024, "count": 3, "flag": True,
                     "nothing": None, "sota-config-dir": "/data/sota/"},
                  overrides={"pacman": {"tags": "main, beta"},
                             "uptane": {"polling_sec": "300"}})
        st, ans = self.srv.register(None, tok, raw=ok)
        self.assertEqual(st, 201, ans)
        toml = tomllib.loads(ans["sota.toml"])
        self.check_common(toml, "/data/sota", "main,beta")


    def test_ping_is_answered_below_500(self):
        """auth_ping_server: HEAD on DEVICE_API must answer < 500."""
        import http.client
        conn = http.client.HTTPSConnection(
            "127.0.0.1", self.srv.reg_port, timeout=30,
            context=self.srv.ctx())
        try:
            conn.request("HEAD", "/sign")
            st = conn.getresponse().status
        finally:
            conn.close()
        self.assertLess(st, 500)


class NoDefaultTagTest(Base):
    def test_tagless_production_device_is_told_why(self):
        uid = str(uuidlib.uuid4())
        key, csr = openssl_csr(uid, True, self.dir)
        st, ans = self.srv.register(None, self.token("production"),
                                    raw=lmp_body(uid, csr, tags=None))
        self.assertEqual(st, 201, ans)
        cert = os.path.join(self.dir, uid + ".pem")
        with open(cert, "w") as f:
            f.write(ans["client.pem"])
        dev = {"cert": cert, "key": key}
        st, _, body = self.srv.device_get(dev, "/repo/timestamp.json")
        self.assertEqual(st, 404)
        self.assertIn("default_tag", json.loads(body)["error"])
        # root is per flavour: a tagless device still gets it
        self.assertEqual(self.srv.device_get(dev, "/repo/1.root.json")[0],
                         200)
        # naming a tag gets the metadata (and is remembered)
        st, _, _ = self.srv.device_get(dev, "/repo/timestamp.json",
                                       {"x-ats-tags": "prod"})
        self.assertEqual(st, 200)
        self.assertEqual(self.srv.device_get(
            dev, "/repo/timestamp.json")[0], 200)


if __name__ == "__main__":
    unittest.main()
