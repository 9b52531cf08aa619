"""Fixtures for the bulwarkd integration tests (test_bulwarkd*.py).

Builds, with real tools and real keys: a factory PKI (`bulwark keys ca`),
device certificates (python `cryptography`, signed by the PKI's device CA
keys, so expired or odd certificates can be made too), TUF metadata
(ed25519 keys, canonical JSON as securesystemslib writes it), a bulwarkd
configuration, and a running bulwarkd on 127.0.0.1 with free ports.

test_fixtures.py checks the fixtures themselves (the TUF root they build
is accepted by bulwark-tuf-client).
"""
import datetime
import hashlib
import http.client
import http.server
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import uuid as uuidlib

from bwtest import free_port  # noqa: E402
import pgcluster  # noqa: E402

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

BIN = os.environ.get("BW_BINARY_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..", "build-srv"))
BULWARK = os.path.join(BIN, "bulwark")
BULWARKD = os.path.join(BIN, "bulwarkd")
TUF_CLIENT = os.path.join(BIN, "bulwark-tuf-client")
FACTORY = "acme"
# "sqlite" (the default) or "postgresql": the backend every Server uses;
# ctest runs the bulwarkd suites once with each.
STORAGE = os.environ.get("BW_TEST_STORAGE", "sqlite")
PG = STORAGE == "postgresql"


def _canon(o):
    if isinstance(o, bool):
        return "true" if o else "false"
    if o is None:
        return "null"
    if isinstance(o, int):
        return str(o)
    if isinstance(o, str):  # raw UTF-8; only '"' and '\\' are escaped
        return '"' + o.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(o, list):
        return "[" + ",".join(_canon(x) for x in o) + "]"
    if isinstance(o, dict):
        return "{" + ",".join(_canon(k) + ":" + _canon(o[k])
                              for k in sorted(o)) + "}"
    raise TypeError(type(o))


def canonical(obj):
    """Canonical JSON as securesystemslib writes it (what TUF signs)."""
    return _canon(obj).encode()


def served(obj):
    """Compact sorted JSON (valid JSON: escapes control characters)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def expires(days, base=None):
    t = (base or datetime.datetime.now(datetime.timezone.utc)) + \
        datetime.timedelta(days=days)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class TufKey:
    def __init__(self):
        self.priv = ed25519.Ed25519PrivateKey.generate()
        pub = self.priv.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.obj = {"keytype": "ed25519", "scheme": "ed25519",
                    "keyval": {"public": pub.hex()}}
        self.keyid = hashlib.sha256(canonical(self.obj)).hexdigest()

    def sign(self, signed):
        return {"keyid": self.keyid,
                "sig": self.priv.sign(canonical(signed)).hex()}

    def save(self, path):
        pem = self.priv.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)


def envelope(signed, keys):
    return served({"signatures": [k.sign(signed) for k in keys],
                   "signed": signed})


class Tuf:
    """Keys and metadata of one repository with both flavours."""

    def __init__(self):
        self.root_key = TufKey()
        self.timestamp = TufKey()
        self.snapshot = TufKey()
        self.ci_targets = TufKey()
        self.offline_targets = TufKey()
        # one clock for every root: root() gives the same bytes when
        # called again (tests compare what was uploaded byte for byte)
        self.created = datetime.datetime.now(datetime.timezone.utc)

    def root_signed(self, version, production, root_keys=None,
                    days=365):
        root_keys = root_keys or [self.root_key]
        tkeys = [self.ci_targets] + ([self.offline_targets]
                                     if production else [])
        keys = {}
        for k in root_keys + [self.timestamp, self.snapshot] + tkeys:
            keys[k.keyid] = k.obj
        return {"_type": "root", "spec_version": "1.0.31",
                "version": version,
                "expires": expires(days, self.created),
                "consistent_snapshot": False, "keys": keys,
                "roles": {
                    "root": {"keyids": [k.keyid for k in root_keys],
                             "threshold": 1},
                    "timestamp": {"keyids": [self.timestamp.keyid],
                                  "threshold": 1},
                    "snapshot": {"keyids": [self.snapshot.keyid],
                                 "threshold": 1},
                    "targets": {"keyids": [k.keyid for k in tkeys],
                                "threshold": 2 if production else 1}}}

    def root(self, version=1, production=False, signers=None, **kw):
        s = self.root_signed(version, production, **kw)
        return envelope(s, signers or [self.root_key])

    def targets(self, version, targets, signers, days=90):
        s = {"_type": "targets", "spec_version": "1.0.31",
             "version": version, "expires": expires(days),
             "targets": targets}
        return envelope(s, signers)


def fileinfo(data, custom=None):
    fi = {"length": len(data),
          "hashes": {"sha256": hashlib.sha256(data).hexdigest()}}
    if custom is not None:
        fi["custom"] = custom
    return fi


def run(*args, check=True):
    p = subprocess.run(list(args), capture_output=True, text=True,
                       timeout=120)
    if check and p.returncode != 0:
        raise AssertionError("%s failed: %s%s" % (args, p.stdout, p.stderr))
    return p


def make_pki(path, factory=FACTORY):
    run(BULWARK, "keys", "ca", "create", path, "--factory", factory,
        "--ip", "127.0.0.1", "--online-ca", "--local-ca")
    return path


def load_pem_key(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


def load_cert(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def device_cert(pki, outdir, name, ca="online-ca", uuid=None,
                production=False, ou=FACTORY, days=30, not_before=None,
                client_auth=True, serial=None):
    """A device key and certificate signed by <pki>/<ca>.key (a random
    serial unless given)."""
    uuid = uuid or str(uuidlib.uuid4())
    key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = load_cert(os.path.join(pki, ca + ".pem"))
    ca_key = load_pem_key(os.path.join(pki, ca + ".key"))
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, uuid),
             x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou)]
    if production:
        attrs.append(x509.NameAttribute(NameOID.BUSINESS_CATEGORY,
                                        "production"))
    now = datetime.datetime.now(datetime.timezone.utc)
    nb = not_before or now - datetime.timedelta(minutes=5)
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name(attrs))
         .issuer_name(ca_cert.subject)
         .public_key(key.public_key())
         .serial_number(serial or x509.random_serial_number())
         .not_valid_before(nb)
         .not_valid_after(nb + datetime.timedelta(days=days))
         .add_extension(x509.KeyUsage(True, False, False, False, False,
                                      False, False, False, False), True))
    if client_auth:
        b = b.add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.CLIENT_AUTH]), True)
    cert = b.sign(ca_key, hashes.SHA256())
    cpath = os.path.join(outdir, name + ".pem")
    kpath = os.path.join(outdir, name + ".key")
    with open(cpath, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(kpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return {"uuid": uuid, "cert": cpath, "key": kpath}


def csr_pem(uuid, ou=FACTORY, production=False, key=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, uuid),
             x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou)]
    if production:
        attrs.append(x509.NameAttribute(NameOID.BUSINESS_CATEGORY,
                                        "production"))
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name(attrs)).sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM).decode()




def port_free(port):
    """Whether bulwarkd could listen on port now. It binds with
    SO_REUSEADDR, so connections of its previous run still in TIME_WAIT
    on that port do not count as "in use" (they would for a plain bind)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class Server:
    """A bulwarkd process with its own directory, PKI, keys and ports."""

    def __init__(self, workdir, tuf, pki=None, extra=None, roles="all",
                 db=None):
        """db: another Server's db to share its database (SQLite path or
        PostgreSQL URL); None: a new one."""
        self.dir = workdir
        self.tuf = tuf
        self.pki = pki or make_pki(os.path.join(workdir, "pki"))
        self.gw_port, self.admin_port, self.reg_port = \
            free_port(), free_port(), free_port()
        self.token = secrets.token_hex(16)
        self.token_file = os.path.join(workdir, "admin.token")
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, (self.token + "\n").encode())
        os.close(fd)
        self.targets_dir = os.path.join(workdir, "targets")
        os.makedirs(self.targets_dir, exist_ok=True)
        keys = {}
        for name in ("timestamp", "snapshot", "ci_targets"):
            keys[name] = os.path.join(workdir, name + ".key")
            getattr(tuf, name).save(keys[name])
        self.pg = None
        if PG:
            self.pg = pgcluster.shared()
            self.db = db or self.pg.url(self.pg.createdb())
            store = {"database": os.path.join(workdir, "unused.db")}
        else:
            self.db = db or os.path.join(workdir, "bulwarkd.db")
            store = {"database": self.db}
        self.conf = os.path.join(workdir, "bulwarkd.conf")
        sections = {
            "server": dict(store, pki_dir=self.pki, role=roles,
                           log_level="debug", handshake_timeout="3",
                           idle_timeout="5"),
            "storage": {"url": self.db if PG else ""},
            "gateway": {"listen": "127.0.0.1:%d" % self.gw_port,
                        "targets_dir": self.targets_dir,
                        "last_seen_interval": "0"},
            "admin": {"listen": "127.0.0.1:%d" % self.admin_port,
                      "token_file": self.token_file},
            "registration": {"listen": "127.0.0.1:%d" % self.reg_port,
                             "gateway_url": "https://127.0.0.1:%d"
                             % self.gw_port, "rate_per_minute": "1000"},
            "signing": {"timestamp_key": keys["timestamp"],
                        "snapshot_key": keys["snapshot"],
                        "ci_targets_key": keys["ci_targets"]},
        }
        for sec, kv in (extra or {}).items():
            sections.setdefault(sec, {}).update(kv)
        with open(self.conf, "w") as f:
            for sec, kv in sections.items():
                f.write("[%s]\n" % sec)
                for k, v in kv.items():
                    f.write("%s = %s\n" % (k, v))
        self.proc = None
        self.log = os.path.join(workdir, "bulwarkd.log")
        role = sections["server"]["role"]
        self.wait_ports = [p for name, p in (("gateway", self.gw_port),
                                             ("admin", self.admin_port),
                                             ("registration", self.reg_port))
                           if role == "all" or name in role.split(",")]

    def start(self, timeout=15):
        for p in (self.gw_port, self.admin_port, self.reg_port):
            assert port_free(p), "port %d in use" % p
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen([BULWARKD, "--config", self.conf],
                                     stdout=self.logf, stderr=self.logf)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("bulwarkd exited: " + self.logtext())
            try:
                for p in self.wait_ports:
                    socket.create_connection(("127.0.0.1", p), 0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.kill()
        raise AssertionError("bulwarkd did not start: " + self.logtext())

    def stop(self, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.logf.close()
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc:
            self.logf.close()
        self.proc = None

    def query(self, sql):
        """Rows of one SQL query on this server's database (lists of
        strings), whichever the backend."""
        if self.pg:
            return self.pg.psql(self.db.rsplit("/", 1)[1], sql)
        import sqlite3
        db = sqlite3.connect(self.db)
        try:
            rows = [[str(v) for v in row] for row in db.execute(sql)]
            db.commit()
            return rows
        finally:
            db.close()

    def db_consistent(self):
        """The database passes its backend's own integrity check."""
        if self.pg:
            return self.query("SELECT 1") == [["1"]]
        return self.query("PRAGMA integrity_check") == [["ok"]]

    def logtext(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def hup(self, timeout=10):
        """SIGHUP, then wait until the server logged the PKI reload."""
        before = self.logtext().count("PKI reloaded")
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.logtext().count("PKI reloaded") > before:
                return
            time.sleep(0.05)
        raise AssertionError("no PKI reload: " + self.logtext()[-2000:])

    # -- clients --------------------------------------------------------
    def ctx(self, cert=None, key=None):
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        c.load_verify_locations(os.path.join(self.pki, "factory_ca.pem"))
        c.check_hostname = False
        if cert:
            c.load_cert_chain(cert, key)
        return c

    def device(self, dev, timeout=10):
        return http.client.HTTPSConnection(
            "127.0.0.1", self.gw_port, timeout=timeout,
            context=self.ctx(dev["cert"], dev["key"]))

    def device_get(self, dev, path, headers=None):
        """(status, headers, body) or raises on a TLS refusal."""
        c = self.device(dev)
        try:
            c.request("GET", path, headers=headers or {})
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()

    def refused(self, dev, path="/repo/1.root.json"):
        """True if the gateway refuses dev in the handshake or with 403."""
        try:
            st, _, _ = self.device_get(dev, path)
            return st == 403
        except (ssl.SSLError, ConnectionError, OSError):
            return True

    def admin(self, method, path, body=None, token=None):
        c = http.client.HTTPSConnection("127.0.0.1", self.admin_port,
                                        timeout=30, context=self.ctx())
        try:
            hdr = {"Authorization": "Bearer " + (token or self.token)}
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
            c.request(method, path, body=body, headers=hdr)
            r = c.getresponse()
            data = r.read()
            try:
                return r.status, json.loads(data)
            except ValueError:
                return r.status, data
        finally:
            c.close()

    def register(self, body, token=None, header="OSF-TOKEN", raw=None):
        c = http.client.HTTPSConnection("127.0.0.1", self.reg_port,
                                        timeout=30, context=self.ctx())
        try:
            hdr = {"Content-Type": "application/json"}
            if token:
                hdr[header] = token if header == "OSF-TOKEN" \
                    else "Bearer " + token
            c.request("POST", "/sign", body=raw if raw is not None
                      else json.dumps(body).encode(), headers=hdr)
            r = c.getresponse()
            data = r.read()
            try:
                return r.status, json.loads(data)
            except ValueError:
                return r.status, data
        finally:
            c.close()

    def seed(self, tag="prod"):
        """Both roots, a CI target (server-signed) and production targets
        for tag (offline + online signatures)."""
        t = self.tuf
        assert self.admin("PUT", "/repo/ci/root", t.root())[0] == 200
        assert self.admin("PUT", "/repo/production/root",
                          t.root(production=True))[0] == 200
        data = b"ci firmware v1\n" * 100
        with open(os.path.join(self.targets_dir, "fw-ci-1"), "wb") as f:
            f.write(data)
        body = dict(fileinfo(data, {"hardwareIds": ["board"]}),
                    name="fw-ci-1")
        st, r = self.admin("POST", "/repo/ci/targets/add", body)
        assert st == 200, r
        pdata = b"production firmware\n" * 50
        with open(os.path.join(self.targets_dir, "fw-prod-1"), "wb") as f:
            f.write(pdata)
        md = t.targets(1, {"fw-prod-1": fileinfo(pdata)},
                       [t.ci_targets, t.offline_targets])
        st, r = self.admin("PUT", "/repo/production/targets/" + tag, md)
        assert st == 200, r


class Proxy:
    """http://127.0.0.1:<port>/X  ->  https gateway /X with a device cert."""

    def __init__(self, srv, dev, tag=None):
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                hdr = {"x-ats-tags": tag} if tag else {}
                if "Range" in self.headers:
                    hdr["Range"] = self.headers["Range"]
                st, h, body = srv.device_get(dev, self.path, hdr)
                outer.paths.append(self.path)
                self.send_response(st)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.paths = []
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        self.th = threading.Thread(target=self.httpd.serve_forever)
        self.th.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.th.join()


def tuf_client(top, proxy, root, name, targets=()):
    """Run bulwark-tuf-client through proxy with its state under top/name:
    init from root on first use, then download targets (or refresh).
    Returns (metadata dir, target dir); raises AssertionError on failure."""
    md = os.path.join(top, name + "-md")
    tdir = os.path.join(top, name + "-targets")
    if not os.path.isdir(md):
        os.makedirs(md)
        os.makedirs(tdir)
        rp = os.path.join(top, name + "-root.json")
        with open(rp, "wb") as f:
            f.write(root)
        run(TUF_CLIENT, "--metadata-dir", md, "init", rp)
    base = "http://127.0.0.1:%d" % proxy.port
    args = [TUF_CLIENT, "--metadata-dir", md, "--metadata-url",
            base + "/repo/", "--target-base-url", base + "/targets/",
            "--target-dir", tdir]
    for t in targets:
        args += ["--target-name", t]
    p = run(*(args + (["download"] if targets else ["refresh"])), check=False)
    if p.returncode != 0:
        raise AssertionError(p.stdout + p.stderr)
    return md, tdir


class SeededServerTest(unittest.TestCase):
    """One bulwarkd for the whole class, seeded with metadata (tag
    "prod"); it must stop cleanly when the class is done."""
    prefix = "bwd-"

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix=cls.prefix)
        cls.tuf = Tuf()
        cls.srv = Server(cls.dir, cls.tuf).start()
        cls.srv.seed(tag="prod")

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        log = cls.srv.logtext()
        shutil.rmtree(cls.dir)
        assert rc == 0, "bulwarkd did not stop cleanly: %r\n%s" % (rc, log)
