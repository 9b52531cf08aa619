"""A device is its binding, not its UUID: a real bulwarkd on 127.0.0.1, a
PKI made by `bulwark keys ca`, devices registered over POST /sign or with
certificates signed by the PKI's device CA keys, over real mutual TLS.

Each test names the attack it stops. The gateway compares every connection
with the device's record (issuing device CA, certificate fingerprint and
serial, production flag); UUIDs are one device whatever their case; a
database made before bindings keeps working.
"""
import hashlib
import json
import os
import shutil
import socket
import ssl
import sqlite3
import sys
import tempfile
import time
import unittest
import uuid as uuidlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bwserver as c  # noqa: E402

SCHEMA5 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                       "vectors", "bulwarkd-schema5", "schema5.sql")


def fingerprint(cert_path):
    cert = c.load_cert(cert_path)
    return hashlib.sha256(
        cert.public_bytes(c.serialization.Encoding.DER)).hexdigest()


class Base(c.SeededServerTest):
    prefix = "bwd-id-"

    def dev(self, name, **kw):
        return c.device_cert(self.srv.pki, self.dir, name, **kw)

    def token(self, scope="ci"):
        st, r = self.srv.admin("POST", "/tokens",
                               {"scope": scope, "expires-in": 3600})
        self.assertEqual(st, 201, r)
        return r["token"]

    def register(self, uid, scope="ci", csr_uuid=None):
        """Register uid over POST /sign; a device dict for the gateway."""
        key = c.ec.generate_private_key(c.ec.SECP256R1())
        st, r = self.srv.register(
            {"uuid": uid, "hardware-id": "board",
             "csr": c.csr_pem(csr_uuid or uid, key=key)}, self.token(scope))
        self.assertEqual(st, 201, r)
        name = "reg-" + uid
        cpath = os.path.join(self.dir, name + ".pem")
        kpath = os.path.join(self.dir, name + ".key")
        with open(cpath, "w") as f:
            f.write(r["client.pem"])
        fd = os.open(kpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.private_bytes(
                c.serialization.Encoding.PEM,
                c.serialization.PrivateFormat.PKCS8,
                c.serialization.NoEncryption()))
        return {"uuid": uid.lower(), "cert": cpath, "key": kpath}

    def record(self, uid):
        st, r = self.srv.admin("GET", "/devices/" + uid)
        self.assertEqual(st, 200, r)
        return r

    def events(self, uid):
        st, r = self.srv.admin("GET", "/events?device=" + uid)
        self.assertEqual(st, 200, r)
        return [e["event"]["eventType"]["id"] for e in r]

    def wait_log(self, text, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.srv.logtext():
                return
            time.sleep(0.05)
        self.fail("not in the log: %r\n%s" % (text,
                                              self.srv.logtext()[-3000:]))


class BindingTest(Base):
    """Finding 1: the gateway knew a device only by its UUID."""

    def test_other_ca_same_uuid_is_refused_and_changes_nothing(self):
        # a CI device registered through the online CA
        victim = self.register(str(uuidlib.uuid4()))
        st, _, body = self.srv.device_get(victim, "/device")
        self.assertEqual(st, 200)
        before = self.record(victim["uuid"])
        self.assertEqual(before["fingerprint"], fingerprint(victim["cert"]))
        self.assertEqual(before["ca"], "online-ca")
        # a site's local CA certifies the same UUID, claiming production
        thief = self.dev("thief-local", ca="local-ca", uuid=victim["uuid"],
                         production=True)
        self.assertTrue(self.srv.refused(thief, "/device"))
        self.assertTrue(self.srv.refused(thief, "/repo/targets.json"))
        self.wait_log("bound to device CA online-ca")
        after = self.record(victim["uuid"])
        for k in ("fingerprint", "ca", "serial", "production"):
            self.assertEqual(after[k], before[k], k)
        self.assertIn("bulwark.binding-refused", self.events(victim["uuid"]))
        # the device itself keeps working, with CI metadata
        st, _, tg = self.srv.device_get(victim, "/repo/targets.json")
        self.assertEqual(st, 200)
        self.assertIn("fw-ci-1", json.loads(tg)["signed"]["targets"])

    def test_another_certificate_from_the_same_ca_is_refused(self):
        first = self.dev("same-ca-1")
        self.assertEqual(self.srv.device_get(first, "/device")[0], 200)
        second = self.dev("same-ca-2", uuid=first["uuid"])
        self.assertTrue(self.srv.refused(second, "/device"))
        self.wait_log("is not the one bound")
        self.assertEqual(self.record(first["uuid"])["fingerprint"],
                         fingerprint(first["cert"]))
        self.assertEqual(self.srv.device_get(first, "/device")[0], 200)

    def test_production_claim_of_a_known_ci_device_gets_nothing(self):
        ci = self.dev("ci-known")
        self.assertEqual(self.srv.device_get(ci, "/device")[0], 200)
        prod = self.dev("ci-known-prod", uuid=ci["uuid"], production=True)
        # refused outright: no production targets.json for the claim
        self.assertTrue(self.srv.refused(
            prod, "/repo/targets.json"))
        self.assertFalse(self.record(ci["uuid"])["production"])

    def test_disabled_ca_only_for_the_certificate_on_record(self):
        d = tempfile.mkdtemp(prefix="bwd-id2-")
        srv = c.Server(d, c.Tuf())
        try:
            srv.start()
            srv.seed(tag="prod")
            known = c.device_cert(srv.pki, d, "known", ca="local-ca")
            self.assertEqual(srv.device_get(known, "/device")[0], 200)
            c.run(c.BULWARK, "keys", "ca", "disable-device-ca", srv.pki,
                  "--ca", "local-ca")
            srv.hup()
            self.assertEqual(srv.device_get(known, "/device")[0], 200)
            # the same UUID with another certificate of the disabled CA
            again = c.device_cert(srv.pki, d, "again", ca="local-ca",
                                  uuid=known["uuid"])
            self.assertTrue(srv.refused(again, "/device"))
            # and a new UUID from the disabled CA
            self.assertTrue(srv.refused(
                c.device_cert(srv.pki, d, "new", ca="local-ca"), "/device"))
            st, r = srv.admin("GET", "/devices/" + known["uuid"])
            self.assertEqual(r["fingerprint"], fingerprint(known["cert"]))
            self.assertEqual(srv.stop(), 0)
        finally:
            srv.kill()
            shutil.rmtree(d)


class UuidCaseTest(Base):
    """Finding 3: UUIDs compared case-sensitively."""

    def test_deny_listing_in_uppercase_applies(self):
        d = self.dev("case-deny")
        self.assertEqual(self.srv.device_get(d, "/device")[0], 200)
        st, r = self.srv.admin("POST", "/devices/%s/deny" % d["uuid"].upper(),
                               {"reason": "lost"})
        self.assertEqual(st, 200, r)
        self.assertTrue(self.srv.refused(d, "/device"))
        st, r = self.srv.admin("GET", "/deny")
        self.assertIn(d["uuid"], [x["uuid"] for x in r])
        st, r = self.srv.admin("GET", "/devices/" + d["uuid"].upper())
        self.assertEqual((st, r["uuid"], r["denied"]),
                         (200, d["uuid"], True))

    def test_registering_an_existing_uuid_in_uppercase_is_409(self):
        uid = str(uuidlib.uuid4())
        self.register(uid)
        key = c.ec.generate_private_key(c.ec.SECP256R1())
        st, r = self.srv.register(
            {"uuid": uid.upper(), "hardware-id": "board",
             "csr": c.csr_pem(uid.upper(), key=key)}, self.token())
        self.assertEqual(st, 409, r)

    def test_denied_device_cannot_register_again_in_another_case(self):
        uid = str(uuidlib.uuid4())
        st, _ = self.srv.admin("POST", "/devices/%s/deny" % uid, {})
        self.assertEqual(st, 200)
        key = c.ec.generate_private_key(c.ec.SECP256R1())
        st, r = self.srv.register(
            {"uuid": uid.upper(), "hardware-id": "board",
             "csr": c.csr_pem(uid.upper(), key=key)}, self.token())
        self.assertEqual(st, 403, r)

    def test_uppercase_csr_gets_a_canonical_certificate(self):
        uid = str(uuidlib.uuid4()).upper()
        d = self.register(uid)
        cn = c.load_cert(d["cert"]).subject.get_attributes_for_oid(
            c.NameOID.COMMON_NAME)[0].value
        self.assertEqual(cn, uid.lower())
        st, _, body = self.srv.device_get(d, "/device")
        self.assertEqual((st, json.loads(body)["uuid"]), (200, uid.lower()))

    def test_uppercase_cn_is_the_same_device(self):
        d = self.dev("lower-first")
        self.assertEqual(self.srv.device_get(d, "/device")[0], 200)
        up = self.dev("upper-cn", uuid=d["uuid"].upper())
        # the same device, another certificate: refused
        self.assertTrue(self.srv.refused(up, "/device"))
        # and a deny-listed lowercase UUID refuses an uppercase CN
        d2 = self.dev("upper-only", uuid=str(uuidlib.uuid4()).upper())
        self.assertEqual(self.srv.device_get(d2, "/device")[0], 200)
        st, _ = self.srv.admin("POST",
                               "/devices/%s/deny" % d2["uuid"].lower(), {})
        self.assertEqual(st, 200)
        self.assertTrue(self.srv.refused(d2, "/device"))

    def test_admin_and_cli_refuse_what_is_no_uuid(self):
        st, _ = self.srv.admin("POST", "/devices/abc-def/deny", {})
        self.assertEqual(st, 404)
        st, _ = self.srv.admin("GET", "/events?device=zz")
        self.assertEqual(st, 400)
        p = c.run(c.BULWARK, "devices", "deny", "abcdef", "--server",
                  "https://127.0.0.1:%d" % self.srv.admin_port,
                  check=False)
        self.assertNotEqual(p.returncode, 0)


class EntitlementTest(Base):
    """Finding 4: a CI device could download production-only files."""

    def test_target_files_by_entitlement(self):
        ci = self.dev("ent-ci")
        prod = self.dev("ent-prod", production=True)
        # CI: its own target, never a production-only one
        self.assertEqual(self.srv.device_get(ci, "/targets/fw-ci-1")[0], 200)
        self.assertEqual(
            self.srv.device_get(ci, "/targets/fw-prod-1")[0], 404)
        # production (tag prod): its tag's targets only
        h = {"x-ats-tags": "prod"}
        st, _, body = self.srv.device_get(prod, "/targets/fw-prod-1", h)
        self.assertEqual(st, 200)
        digest = hashlib.sha256(body).hexdigest()
        self.assertEqual(self.srv.device_get(
            prod, "/targets/%s.fw-prod-1" % digest, h)[0], 200)
        self.assertEqual(
            self.srv.device_get(prod, "/targets/fw-ci-1", h)[0], 404)
        self.assertEqual(self.srv.device_get(
            prod, "/targets/%s.fw-ci-1" % digest, h)[0], 404)
        # another tag lists nothing
        other = self.dev("ent-other", production=True)
        self.assertEqual(self.srv.device_get(
            other, "/targets/fw-prod-1", {"x-ats-tags": "other"})[0], 404)


class ProductionPolicyTest(Base):
    """Finding 5: any accepted device CA could issue production
    certificates."""

    def test_production_claim_from_a_ci_only_ca_is_refused(self):
        # local-ca was created without --local-ca-production
        claim = self.dev("local-prod", ca="local-ca", production=True)
        self.assertTrue(self.srv.refused(claim, "/repo/1.root.json"))
        self.wait_log("may not issue production certificates")
        st, r = self.srv.admin("GET", "/devices/" + claim["uuid"])
        self.assertEqual(st, 404, r)  # nothing was bound
        # the same CA's CI devices are fine
        ci = self.dev("local-ci", ca="local-ca")
        self.assertEqual(self.srv.device_get(ci, "/device")[0], 200)

    def test_a_production_ca_may(self):
        c.run(c.BULWARK, "keys", "ca", "add-device-ca", self.srv.pki,
              "--local", "--name", "prodsite", "--production")
        self.srv.hup()
        d = self.dev("site-prod", ca="local-ca-prodsite", production=True)
        st, _, root = self.srv.device_get(d, "/repo/1.root.json")
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(root)["signed"]["roles"]["targets"]
                         ["threshold"], 2)

    def test_registration_ca_without_production_refuses_production(self):
        d = tempfile.mkdtemp(prefix="bwd-id-reg-")
        pki = os.path.join(d, "pki")
        c.make_pki(pki)
        # the online (registration) CA is replaced by a CI-only one
        c.run(c.BULWARK, "keys", "ca", "add-device-ca", pki, "--online",
              "--ci-only")
        srv = c.Server(d, c.Tuf(), pki=pki)
        try:
            srv.start()
            for scope, want in (("production", 403), ("ci", 201)):
                st, r = srv.admin("POST", "/tokens",
                                  {"scope": scope, "expires-in": 600})
                uid = str(uuidlib.uuid4())
                st, r = srv.register(
                    {"uuid": uid, "hardware-id": "board",
                     "csr": c.csr_pem(uid)}, r["token"])
                self.assertEqual(st, want, (scope, r))
            self.assertIn("registration CA may not issue production",
                          srv.logtext())
            self.assertEqual(srv.stop(), 0)
        finally:
            srv.kill()
            shutil.rmtree(d)


class ListenerBudgetTest(unittest.TestCase):
    """Finding 2: unauthenticated clients could starve the gateway (one
    connection counter for every listener, and an idle timeout that a
    byte a second keeps restarting)."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="bwd-id-budget-")
        cls.est_port = c.free_port()
        cls.srv = c.Server(cls.dir, c.Tuf(), extra={
            "server": {"max_connections": "20",
                       "max_unauthenticated_connections": "20",
                       "max_connections_per_address": "20",
                       "request_timeout": "3", "idle_timeout": "30"},
            "est": {"listen": "127.0.0.1:%d" % cls.est_port}}).start()
        cls.srv.seed(tag="prod")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        shutil.rmtree(cls.dir)

    def slow_client(self, port, cert=None):
        """A TLS connection that sends one header line and then waits."""
        ctx = self.srv.ctx(cert and cert["cert"], cert and cert["key"])
        raw = socket.create_connection(("127.0.0.1", port), 5)
        s = ctx.wrap_socket(raw)
        s.sendall(b"POST /sign HTTP/1.1\r\nHost: x\r\n")
        return s

    def closed_within(self, s, seconds):
        s.settimeout(seconds)
        start = time.time()
        try:
            while s.recv(4096):
                pass
        except (socket.timeout, TimeoutError):
            return False
        except (ssl.SSLError, OSError):
            pass
        return time.time() - start < seconds

    def test_slow_request_after_handshake_closed_on_each_listener(self):
        dev = c.device_cert(self.srv.pki, self.dir, "slow-dev")
        ports = {"gateway": (self.srv.gw_port, dev),
                 "registration": (self.srv.reg_port, None),
                 "admin": (self.srv.admin_port, None),
                 "est": (self.est_port, None)}
        socks = {n: self.slow_client(p, d) for n, (p, d) in ports.items()}
        for name, s in socks.items():
            # a byte a second keeps an idle timeout away, not the deadline
            for _ in range(2):
                try:
                    s.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    break
                time.sleep(1)
            self.assertTrue(self.closed_within(s, 8), name)
            s.close()

    def test_device_keeps_its_connection_between_check_ins(self):
        """A device's kept-alive gateway connection outlives
        request_timeout (3 s here) up to the idle timeout; a connection of
        the registration listener (no client certificate) does not."""
        dev = c.device_cert(self.srv.pki, self.dir, "keepalive-dev")
        conn = self.srv.device(dev)
        socks = []
        try:
            for _ in range(2):
                conn.request("GET", "/device")
                r = conn.getresponse()
                r.read()
                self.assertEqual(r.status, 200)
                socks.append(conn.sock)
                time.sleep(4.5)  # past request_timeout, within idle
        finally:
            conn.close()
        self.assertIs(socks[0], socks[1])  # one connection, kept
        s = self.srv.ctx().wrap_socket(socket.create_connection(
            ("127.0.0.1", self.srv.reg_port), 5))
        s.sendall(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b"HTTP/1.1 ", s.recv(4096))
        self.assertTrue(self.closed_within(s, 8))
        s.close()

    def test_per_address_cap_on_unauthenticated_listeners(self):
        d = tempfile.mkdtemp(prefix="bwd-id-addr-")
        srv = c.Server(d, c.Tuf(), extra={
            "server": {"max_connections_per_address": "3"}})
        socks = []
        try:
            srv.start()
            self.srv, saved = srv, self.srv
            try:
                refused = 0
                for _ in range(5):
                    try:
                        socks.append(self.slow_client(srv.reg_port))
                    except (ssl.SSLError, OSError):
                        refused += 1  # shut in the handshake
                    time.sleep(0.1)
                # the first three wait for their request, the rest are shut
                self.assertFalse(self.closed_within(socks[0], 1))
                self.assertEqual(refused + sum(
                    self.closed_within(x, 2) for x in socks[3:]), 2)
                self.assertIn("too many connections from one address",
                              srv.logtext())
                # the gateway has no per-address cap (devices behind NAT)
                dev = c.device_cert(srv.pki, d, "nat")
                self.assertEqual(srv.device_get(dev, "/device")[0], 200)
            finally:
                self.srv = saved
            self.assertEqual(srv.stop(), 0)
        finally:
            for s in socks:
                s.close()
            srv.kill()
            shutil.rmtree(d)

    def test_slow_registration_clients_do_not_starve_the_gateway(self):
        dev = c.device_cert(self.srv.pki, self.dir, "budget-dev")
        slow = []
        try:
            for _ in range(30):
                try:
                    slow.append(self.slow_client(self.srv.reg_port))
                except OSError:
                    pass  # over the registration listener's own cap
            # every gateway request of a valid device still succeeds
            for _ in range(5):
                self.assertEqual(self.srv.device_get(dev, "/device")[0],
                                 200)
        finally:
            for s in slow:
                s.close()


class MigrationTest(unittest.TestCase):
    """A database made by the schema before bindings (schema 5) keeps its
    devices working; the first connection binds them."""

    @unittest.skipIf(c.PG, "an SQLite file of schema 5; PostgreSQL's "
                     "migrations: test_storage_postgres.py")
    def test_schema5_database(self):
        d = tempfile.mkdtemp(prefix="bwd-id-mig-")
        srv = None
        try:
            tuf = c.Tuf()
            srv = c.Server(d, tuf)
            seen = c.device_cert(srv.pki, d, "seen")        # connected
            # registered with a CI token only; its certificate claims
            # production (made offline): the record decides
            unseen = c.device_cert(srv.pki, d, "unseen", production=True)
            thief = c.device_cert(srv.pki, d, "thief", ca="local-ca",
                                  uuid=seen["uuid"])
            dup_lower = str(uuidlib.uuid4())
            denied = c.device_cert(srv.pki, d, "denied")
            with open(SCHEMA5) as f:
                schema = f.read()
            db = sqlite3.connect(srv.db)
            db.executescript(schema)
            # rows as that version wrote them: the gateway stored the
            # fingerprint it last saw, registration none
            now = int(time.time())
            rows = [
                (seen["uuid"], 0, "seen", "board", "", "",
                 fingerprint(seen["cert"]), now, now, 0),
                (unseen["uuid"], 0, "unseen", "board", "", "", "", now, 0,
                 now),
                (dup_lower, 0, "first", "board", "", "", "", now, 0, now),
                # a second registration of the same UUID in uppercase
                (dup_lower.upper(), 1, "second", "board", "", "", "", now,
                 0, now),
            ]
            db.executemany("INSERT INTO devices VALUES (?,?,?,?,?,?,?,?,?,?)",
                           rows)
            # an operator's uppercase deny that changed nothing then
            db.execute("INSERT INTO deny VALUES (?, 'lost', ?)",
                       (denied["uuid"].upper(), now))
            db.execute("INSERT INTO events (device, event_id, event_type,"
                       " received, body) VALUES (?, 'e1', 'T', ?, '{}')",
                       (seen["uuid"], now))
            db.commit()
            db.close()
            srv.start()
            srv.seed(tag="prod")
            # another CA's certificate for a device the old gateway saw is
            # refused before that device comes back, and binds nothing
            self.assertTrue(srv.refused(thief, "/device"))
            # the device itself keeps working and is bound
            self.assertEqual(srv.device_get(seen, "/device")[0], 200)
            st, r = srv.admin("GET", "/devices/" + seen["uuid"])
            self.assertEqual((r["ca"], r["fingerprint"]),
                             ("online-ca", fingerprint(seen["cert"])))
            self.assertTrue(r["serial"])
            self.assertTrue(srv.refused(thief, "/device"))
            # the registered device binds on its first connection
            self.assertEqual(srv.device_get(unseen, "/device")[0], 200)
            st, r = srv.admin("GET", "/devices/" + unseen["uuid"])
            self.assertEqual((r["name"], r["fingerprint"], r["production"]),
                             ("unseen", fingerprint(unseen["cert"]), False))
            st, _, root = srv.device_get(unseen, "/repo/1.root.json")
            self.assertEqual(json.loads(root)["signed"]["roles"]["targets"]
                             ["threshold"], 1)
            # the uppercase deny now holds
            self.assertTrue(srv.refused(denied, "/device"))
            # the duplicate keeps its spelling, the original its record
            st, r = srv.admin("GET", "/devices/" + dup_lower)
            self.assertEqual(r["name"], "first")
            st, lst = srv.admin("GET", "/devices?limit=1000")
            self.assertIn(dup_lower.upper(), [x["uuid"] for x in lst])
            st, ev = srv.admin("GET", "/events?device=" + seen["uuid"])
            self.assertIn({}, [e["event"] for e in ev])  # the old event
            self.assertIn("bulwark.binding-refused",
                          [e["event"].get("eventType", {}).get("id")
                           for e in ev])
            self.assertEqual(srv.stop(), 0)
            db = sqlite3.connect(srv.db)
            self.assertGreaterEqual(db.execute(
                "SELECT MAX(version) FROM schema_version").fetchone()[0], 8)
            cols = [r[1] for r in db.execute("PRAGMA table_info(devices)")]
            for col in ("ca_name", "ca_fingerprint", "serial"):
                self.assertIn(col, cols)
            db.close()
        finally:
            if srv:
                srv.kill()
            shutil.rmtree(d)


if __name__ == "__main__":
    unittest.main(verbosity=2)
