"""bulwarkd end to end: a real process on 127.0.0.1, a PKI made by
`bulwark keys ca`, TUF metadata signed with real keys, devices with real
client certificates over real TLS (see bwserver.py)."""
import datetime
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import uuid as uuidlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bwserver as c  # noqa: E402


class GatewayTest(c.SeededServerTest):
    prefix = "bwd-gw-"

    def dev(self, name, **kw):
        return c.device_cert(self.srv.pki, self.dir, name, **kw)

    def signed(self, body):
        return json.loads(body)["signed"]

    def test_ci_device_refreshes_ci_flavour(self):
        d = self.dev("ci1")
        st, _, root = self.srv.device_get(d, "/repo/1.root.json")
        self.assertEqual(st, 200)
        self.assertEqual(root, self.tuf.root())  # byte-exact as uploaded
        self.assertEqual(self.signed(root)["roles"]["targets"]["threshold"], 1)
        self.assertEqual(self.srv.device_get(d, "/repo/2.root.json")[0], 404)
        st, _, ts = self.srv.device_get(d, "/repo/timestamp.json")
        self.assertEqual(st, 200)
        snapinfo = self.signed(ts)["meta"]["snapshot.json"]
        st, _, snap = self.srv.device_get(d, "/repo/snapshot.json")
        self.assertEqual(len(snap), snapinfo["length"])
        st2, _, snap2 = self.srv.device_get(
            d, "/repo/%d.snapshot.json" % snapinfo["version"])
        self.assertEqual((st2, snap2), (200, snap))
        st, _, tg = self.srv.device_get(d, "/repo/targets.json")
        self.assertIn("fw-ci-1", self.signed(tg)["targets"])
        st, _, dv = self.srv.device_get(d, "/device")
        self.assertEqual(json.loads(dv)["uuid"], d["uuid"])
        self.assertFalse(json.loads(dv)["production"])

    def test_production_device_gets_production_metadata_of_its_tag(self):
        d = self.dev("prod1", production=True)
        st, _, root = self.srv.device_get(d, "/repo/1.root.json")
        self.assertEqual(self.signed(root)["roles"]["targets"]["threshold"], 2)
        st, _, tg = self.srv.device_get(d, "/repo/targets.json",
                                        {"x-ats-tags": "prod"})
        self.assertEqual(st, 200)
        self.assertEqual(list(self.signed(tg)["targets"]), ["fw-prod-1"])
        # the tag is remembered for the device
        st, _, tg2 = self.srv.device_get(d, "/repo/targets.json")
        self.assertEqual(tg2, tg)
        self.assertEqual(self.srv.device_get(
            d, "/repo/targets.json", {"x-ats-tags": "other"})[0], 404)
        self.assertEqual(self.srv.device_get(
            d, "/repo/targets.json", {"x-ats-tags": "bad$tag"})[0], 400)

    def test_etag_304(self):
        d = self.dev("etag")
        st, h, body = self.srv.device_get(d, "/repo/timestamp.json")
        st, h2, body2 = self.srv.device_get(
            d, "/repo/timestamp.json", {"If-None-Match": h["ETag"]})
        self.assertEqual((st, body2), (304, b""))
        st, _, _ = self.srv.device_get(d, "/repo/timestamp.json",
                                       {"If-None-Match": '"nope"'})
        self.assertEqual(st, 200)

    def test_target_range_and_paths(self):
        d = self.dev("range")
        with open(os.path.join(self.srv.targets_dir, "fw-ci-1"), "rb") as f:
            full = f.read()
        st, h, body = self.srv.device_get(d, "/targets/fw-ci-1",
                                          {"Range": "bytes=10-19"})
        self.assertEqual((st, body), (206, full[10:20]))
        self.assertEqual(h["Content-Range"], "bytes 10-19/%d" % len(full))
        st, _, body = self.srv.device_get(d, "/targets/fw-ci-1",
                                          {"Range": "bytes=100-"})
        self.assertEqual((st, body), (206, full[100:]))
        st, _, body = self.srv.device_get(d, "/targets/fw-ci-1",
                                          {"Range": "bytes=-5"})
        self.assertEqual((st, body), (206, full[-5:]))
        st, _, _ = self.srv.device_get(d, "/targets/fw-ci-1",
                                       {"Range": "bytes=999999-"})
        self.assertEqual(st, 416)
        secret = os.path.join(self.dir, "secret")
        with open(secret, "w") as f:
            f.write("x")
        for p in ("/targets/../secret", "/targets/%2e%2e/secret",
                  "/targets/a/%2e%2e/%2e%2e/secret", "/targets//etc/passwd",
                  "/targets/fw-ci-1%00x", "/targets/"):
            self.assertEqual(self.srv.device_get(d, p)[0], 404, p)

    def test_refusals(self):
        other = c.make_pki(os.path.join(self.dir, "other-pki"))
        cases = {
            "unknown CA": c.device_cert(other, self.dir, "unk"),
            "expired": self.dev("expired", not_before=c.datetime.datetime(
                2020, 1, 1, tzinfo=c.datetime.timezone.utc), days=30),
            "not yet valid": self.dev("future", not_before=c.datetime.datetime(
                2090, 1, 1, tzinfo=c.datetime.timezone.utc)),
            "other factory OU": self.dev("ou", ou="evil"),
            "no clientAuth": self.dev("noeku", client_auth=False),
        }
        for what, d in cases.items():
            self.assertTrue(self.srv.refused(d), what)
        # no client certificate at all: refused in the handshake
        self.assertTrue(self.srv.refused({"cert": None, "key": None}))
        # a valid device still works afterwards
        ok = self.dev("after-refusals")
        self.assertEqual(self.srv.device_get(ok, "/repo/1.root.json")[0], 200)

    def test_deny_list_applies_to_open_connections(self):
        d = self.dev("deny")
        conn = self.srv.device(d)
        conn.request("GET", "/repo/1.root.json")
        r = conn.getresponse()
        r.read()
        self.assertEqual(r.status, 200)
        st, _ = self.srv.admin("POST", "/devices/%s/deny" % d["uuid"],
                               {"reason": "stolen"})
        self.assertEqual(st, 200)
        conn.request("GET", "/repo/1.root.json")  # same TLS connection
        r = conn.getresponse()
        r.read()
        self.assertEqual(r.status, 403)
        conn.close()
        self.assertTrue(self.srv.refused(d))
        st, lst = self.srv.admin("GET", "/deny")
        self.assertIn(d["uuid"], [x["uuid"] for x in lst])
        self.assertEqual(self.srv.admin(
            "DELETE", "/devices/%s/deny" % d["uuid"])[0], 200)
        self.assertEqual(self.srv.device_get(d, "/repo/1.root.json")[0], 200)

    def test_revoked_serials_with_leading_zeros(self):
        """Serials whose hex form starts with zeros (one in 16 random
        serials starts with a 0 nibble, one in 256 with a 00 byte) are
        revoked by certificate and by serial in any spelling, and the
        gateway refuses them."""
        pki = self.srv.pki
        devs = [self.dev("zero-%d" % i, serial=s) for i, s in enumerate(
            (0x0ABCDEF0123456789 << 80, 0x00FEDCBA98765 << 100, 0x01))]
        for d in devs:
            self.assertEqual(self.srv.device_get(d, "/device")[0], 200)
        c.run(c.BULWARK, "keys", "ca", "revoke-device", pki, "--cert",
              devs[0]["cert"], "--issuer", "online-ca")
        c.run(c.BULWARK, "keys", "ca", "revoke-device", pki, "--serial",
              "00:%X" % (0x00FEDCBA98765 << 100), "--issuer", "online-ca")
        c.run(c.BULWARK, "keys", "ca", "revoke-device", pki, "--serial",
              "0x0001", "--issuer", "online-ca")
        c.run(c.BULWARK, "keys", "ca", "show", pki)
        self.srv.hup()
        for d in devs:
            self.assertTrue(self.srv.refused(d), d["cert"])

    def test_revoked_cert_and_disabled_then_revoked_ca(self):
        pki = self.srv.pki
        rev = self.dev("revoked")
        self.assertEqual(self.srv.device_get(rev, "/device")[0], 200)
        c.run(c.BULWARK, "keys", "ca", "revoke-device", pki, "--cert",
              rev["cert"], "--issuer", "online-ca")
        known = self.dev("known-local", ca="local-ca")
        self.assertEqual(self.srv.device_get(known, "/device")[0], 200)
        c.run(c.BULWARK, "keys", "ca", "disable-device-ca", pki, "--ca",
              "local-ca")
        self.srv.hup()
        self.assertTrue(self.srv.refused(rev), "revoked certificate")
        # disabled CA: the known device keeps working, a new one is refused
        self.assertEqual(self.srv.device_get(known, "/device")[0], 200)
        self.assertTrue(self.srv.refused(self.dev("new-local", ca="local-ca")))
        c.run(c.BULWARK, "keys", "ca", "revoke-device-ca", pki, "--ca",
              "local-ca")
        self.srv.hup()
        self.assertTrue(self.srv.refused(known), "revoked CA")
        self.assertEqual(self.srv.device_get(self.dev("online-ok"),
                                             "/device")[0], 200)

    def test_events(self):
        d = self.dev("events")
        ev = [{"id": str(uuidlib.uuid4()), "deviceTime": "2026-01-01T00:00:00Z",
               "eventType": {"id": "EcuInstallationCompleted", "version": 0},
               "event": {"correlationId": "c1", "targetName": "fw-ci-1",
                         "version": "1", "success": True, "ecu": "x"}}]
        conn = self.srv.device(d)
        try:
            for body, want in ((ev, 204), (ev, 204), ({"not": "array"}, 400),
                               ([{"id": "x"}], 400), ("[" * 100, 400),
                               (ev * 101, 413)):
                raw = body if isinstance(body, str) else json.dumps(body)
                conn.request("POST", "/events", body=raw.encode())
                r = conn.getresponse()
                r.read()
                self.assertEqual(r.status, want, raw[:60])
        finally:
            conn.close()
        # a body above gateway.max_events_body (64 KiB): 413 or closed
        conn = self.srv.device(d)
        try:
            conn.request("POST", "/events", body=b"[" + b" " * 70000 + b"]")
            r = conn.getresponse()
            self.assertEqual(r.status, 413)
        except (ssl.SSLError, ConnectionError):
            pass
        finally:
            conn.close()
        st, lst = self.srv.admin("GET", "/events?device=" + d["uuid"])
        self.assertEqual(st, 200)
        self.assertEqual(len(lst), 1)  # the retry was not stored twice
        self.assertEqual(lst[0]["event"]["event"]["targetName"], "fw-ci-1")
        st, dv = self.srv.admin("GET", "/devices/" + d["uuid"])
        self.assertEqual(dv["target"], "fw-ci-1")

    def test_status_counts_database_statements(self):
        st, r = self.srv.admin("GET", "/status")
        self.assertEqual(st, 200, r)
        before = r["storage"]["queries"]
        d = self.dev("queries")
        self.assertEqual(self.srv.device_get(d, "/device")[0], 200)
        st, r = self.srv.admin("GET", "/status")
        # GET /device reads the device's row; the binding wrote it
        self.assertGreaterEqual(r["storage"]["queries"], before + 2)

    def test_server_sends_its_certificate_without_the_root(self):
        # the gateway and the registration listener send their own
        # certificate only (it is issued by the factory root, which every
        # client holds as its trust anchor); the chain still verifies
        d = self.dev("chain")
        ca = os.path.join(self.srv.pki, "factory_ca.pem")
        for port, client in ((self.srv.gw_port, ["-cert", d["cert"],
                                                  "-key", d["key"]]),
                             (self.srv.reg_port, [])):
            r = subprocess.run(
                ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                 "-CAfile", ca, "-showcerts", "-verify_return_error",
                 "-tls1_3"] + client,
                input=b"", capture_output=True, timeout=30)
            out = r.stdout.decode(errors="replace")
            self.assertEqual(r.returncode, 0, out + r.stderr.decode())
            self.assertIn("Verify return code: 0 (ok)", out)
            self.assertEqual(out.count("-----BEGIN CERTIFICATE-----"), 1,
                             out)

    def test_records_that_arrive_together_are_all_answered(self):
        # the request in the same segment as the client's Finished, then
        # two requests in one segment: every byte OpenSSL reads ahead is
        # served without waiting for more input (or for a timeout)
        d = self.dev("together")
        ctx = self.srv.ctx(d["cert"], d["key"])
        ctx.maximum_version = ssl.TLSVersion.TLSv1_3
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = ctx.wrap_bio(inc, out, server_side=False)
        sock = c.socket.create_connection(("127.0.0.1", self.srv.gw_port),
                                          timeout=5)
        req = b"GET /device HTTP/1.1\r\nHost: x\r\n\r\n"

        def whole(got):  # complete answers in got, and their statuses
            sts = []
            while b"\r\n\r\n" in got:
                head, rest = got.split(b"\r\n\r\n", 1)
                n = int(head.lower().split(b"content-length:")[1]
                        .split(b"\r\n")[0])
                if len(rest) < n:
                    break
                sts.append(int(head.split(b" ")[1]))
                got = rest[n:]
            return sts

        def answers(n):
            got = b""
            deadline = time.time() + 5
            while len(whole(got)) < n:
                self.assertLess(time.time(), deadline, got)
                try:
                    got += tls.read(65536)
                    continue
                except ssl.SSLWantReadError:
                    pass
                data = sock.recv(65536)
                self.assertTrue(data, got)
                inc.write(data)
            return got

        try:
            while True:
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    if out.pending:
                        sock.sendall(out.read())
                    data = sock.recv(65536)
                    self.assertTrue(data)
                    inc.write(data)
            tls.write(req)  # queued behind the client's Finished
            sock.sendall(out.read())
            self.assertEqual(whole(answers(1)), [200])
            tls.write(req)
            tls.write(req)  # two records, one segment
            sock.sendall(out.read())
            self.assertEqual(whole(answers(2)), [200, 200])
        finally:
            sock.close()

    def test_session_resumption(self):
        d = self.dev("resume")
        ctx = self.srv.ctx(d["cert"], d["key"])
        s1 = ctx.wrap_socket(c.socket.create_connection(
            ("127.0.0.1", self.srv.gw_port)))
        s1.sendall(b"GET /device HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b"200", s1.recv(65536))
        sess = s1.session
        s1.close()  # the server sent close_notify on its side too
        s2 = ctx.wrap_socket(c.socket.create_connection(
            ("127.0.0.1", self.srv.gw_port)), session=sess)
        s2.sendall(b"GET /device HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b"200", s2.recv(65536))
        self.assertTrue(s2.session_reused)
        s2.close()


class AdminTest(c.SeededServerTest):
    prefix = "bwd-adm-"

    def test_bad_token(self):
        st, _ = self.srv.admin("GET", "/devices", token="x" * 32)
        self.assertEqual(st, 401)

    def test_root_uploads_verified(self):
        t = self.tuf
        # wrong signature: signed by a key that is not a root key
        st, r = self.srv.admin("PUT", "/repo/ci/root",
                               t.root(2, signers=[c.TufKey()]))
        self.assertEqual(st, 400, r)
        # version going backwards / repeating
        st, r = self.srv.admin("PUT", "/repo/ci/root", t.root(1))
        self.assertEqual(st, 400, r)
        # rotation to a new root key, signed by old and new
        newkey = c.TufKey()
        v2 = c.envelope(t.root_signed(2, False, root_keys=[newkey]),
                        [t.root_key, newkey])
        st, r = self.srv.admin("PUT", "/repo/ci/root", v2)
        self.assertEqual(st, 200, r)
        d = c.device_cert(self.srv.pki, self.dir, "rot")
        self.assertEqual(self.srv.device_get(d, "/repo/2.root.json")[2], v2)
        # the older root is still read, the next one (a client's probe on
        # every refresh, answered from the cache) does not exist yet
        st, _, v1 = self.srv.device_get(d, "/repo/1.root.json")
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(v1)["signed"]["version"], 1)
        self.assertEqual(self.srv.device_get(d, "/repo/3.root.json")[0], 404)
        # production root is unaffected
        dp = c.device_cert(self.srv.pki, self.dir, "rotp", production=True)
        self.assertEqual(self.srv.device_get(dp, "/repo/2.root.json")[0], 404)

    def test_targets_uploads_verified(self):
        t = self.tuf
        data = b"x"
        one_sig = t.targets(5, {"a": c.fileinfo(data)}, [t.offline_targets])
        st, r = self.srv.admin("PUT", "/repo/production/targets/prod", one_sig)
        self.assertEqual(st, 400)
        self.assertIn("1/2", r["reason"])
        back = t.targets(1, {"a": c.fileinfo(data)},
                         [t.ci_targets, t.offline_targets])
        st, r = self.srv.admin("PUT", "/repo/production/targets/prod", back)
        self.assertEqual(st, 400, r)
        expired = t.targets(7, {}, [t.ci_targets, t.offline_targets], days=-1)
        self.assertEqual(self.srv.admin(
            "PUT", "/repo/production/targets/prod", expired)[0], 400)
        good = t.targets(2, {"b": c.fileinfo(data)},
                         [t.ci_targets, t.offline_targets])
        st, r = self.srv.admin("PUT", "/repo/production/targets/prod", good)
        self.assertEqual(st, 200, r)
        st, r = self.srv.admin("PUT", "/repo/production/targets/bad%20tag",
                               good)
        self.assertEqual(st, 404)

    def test_ci_target_add_is_atomic_and_versioned(self):
        d = c.device_cert(self.srv.pki, self.dir, "ci-add")
        _, _, ts1 = self.srv.device_get(d, "/repo/timestamp.json")
        body = dict(c.fileinfo(b"new"), name="dir/fw-ci-2")
        self.assertEqual(self.srv.admin("POST", "/repo/ci/targets/add",
                                        body)[0], 200)
        _, _, ts2 = self.srv.device_get(d, "/repo/timestamp.json")
        v1 = json.loads(ts1)["signed"]["version"]
        self.assertEqual(json.loads(ts2)["signed"]["version"], v1 + 1)
        _, _, tg = self.srv.device_get(d, "/repo/targets.json")
        self.assertEqual(set(json.loads(tg)["signed"]["targets"]),
                         {"fw-ci-1", "dir/fw-ci-2"})
        for bad in ({"name": "../x", "length": 1, "hashes": {"sha256": "00" * 32}},
                    {"name": "x", "length": -1, "hashes": {"sha256": "00" * 32}},
                    {"name": "x", "length": 1, "hashes": {"sha256": "zz"}}):
            self.assertEqual(self.srv.admin("POST", "/repo/ci/targets/add",
                                            bad)[0], 400)

    def test_crl_upload(self):
        srv = self.srv
        offline = os.path.join(self.dir, "offline-pki")
        shutil.copytree(srv.pki, offline)
        dev = c.device_cert(srv.pki, self.dir, "crl-dev")
        known = c.device_cert(srv.pki, self.dir, "crl-known", ca="local-ca")
        for d in (dev, known):
            self.assertEqual(srv.device_get(d, "/device")[0], 200)

        def upload(issuer, name):
            with open(os.path.join(offline, "crl", name), "rb") as f:
                return srv.admin("PUT", "/pki/crl/" + issuer, f.read())

        c.run(c.BULWARK, "keys", "ca", "revoke-device", offline, "--cert",
              dev["cert"], "--issuer", "online-ca")
        # a CRL signed by another CA, an unknown issuer: refused
        self.assertEqual(upload("online-ca", "factory_ca.crl")[0], 400)
        self.assertEqual(upload("nosuch-ca", "online-ca.crl")[0], 404)
        st, r = upload("online-ca", "online-ca.crl")
        self.assertEqual(st, 200, r)
        self.assertTrue(srv.refused(dev))  # at once, no reload needed
        st, r = upload("online-ca", "online-ca.crl")  # not newer
        self.assertEqual(st, 400, r)
        c.run(c.BULWARK, "keys", "ca", "disable-device-ca", offline, "--ca",
              "local-ca")
        self.assertEqual(upload("factory_ca", "factory_ca.crl")[0], 200)
        self.assertEqual(srv.device_get(known, "/device")[0], 200)
        self.assertTrue(srv.refused(c.device_cert(
            srv.pki, self.dir, "crl-new", ca="local-ca")))
        # uploaded CRLs survive a restart
        srv.stop()
        srv.start()
        self.assertTrue(srv.refused(dev))
        self.assertEqual(srv.device_get(known, "/device")[0], 200)

    def test_device_ca_upload(self):
        srv = self.srv
        offline = os.path.join(self.dir, "offline-pki-ca")
        shutil.copytree(srv.pki, offline)
        c.run(c.BULWARK, "keys", "ca", "add-device-ca", offline, "--local",
              "--name", "site2")
        site = c.device_cert(offline, self.dir, "site2-dev",
                             ca="local-ca-site2")
        site_b = c.device_cert(offline, self.dir, "site2-dev-b",
                               ca="local-ca-site2")
        self.assertTrue(srv.refused(site))

        def put(name, path):
            with open(path, "rb") as f:
                return srv.admin("PUT", "/pki/ca/" + name, f.read())

        other = c.make_pki(os.path.join(self.dir, "other-ca-pki"))
        self.assertEqual(put("evil", os.path.join(other, "online-ca.pem"))[0],
                         400)
        self.assertEqual(put("tls", os.path.join(srv.pki, "tls.pem"))[0], 400)
        self.assertEqual(put("online-ca", os.path.join(
            offline, "local-ca-site2.pem"))[0], 409)
        self.assertEqual(put("../x", os.path.join(
            offline, "local-ca-site2.pem"))[0], 400)
        st, r = put("local-ca-site2", os.path.join(offline,
                                                   "local-ca-site2.pem"))
        self.assertEqual(st, 200, r)
        self.assertEqual(srv.device_get(site, "/device")[0], 200)
        st, r = srv.admin("GET", "/pki")
        cas = {x["name"]: x["status"] for x in r["device-cas"]}
        self.assertEqual(cas.get("local-ca-site2"), "enabled")
        # its CRL can be uploaded too
        c.run(c.BULWARK, "keys", "ca", "revoke-device", offline, "--cert",
              site["cert"], "--issuer", "local-ca-site2")
        with open(os.path.join(offline, "crl", "local-ca-site2.crl"),
                  "rb") as f:
            self.assertEqual(srv.admin("PUT", "/pki/crl/local-ca-site2",
                                       f.read())[0], 200)
        self.assertTrue(srv.refused(site))
        srv.stop()
        srv.start()
        self.assertTrue(srv.refused(site))
        self.assertEqual(srv.device_get(site_b, "/device")[0], 200)

    def test_get_newest_metadata(self):
        st, r = self.srv.admin("GET", "/repo/production/root")
        self.assertEqual(st, 200)
        self.assertEqual(r["signed"]["roles"]["targets"]["threshold"], 2)
        st, r = self.srv.admin("GET", "/repo/production/timestamp/prod")
        self.assertEqual((st, r["signed"]["_type"]), (200, "timestamp"))
        st, r = self.srv.admin("GET", "/repo/ci/targets")
        self.assertIn("fw-ci-1", r["signed"]["targets"])
        for bad in ("/repo/ci/targets/x", "/repo/production/targets",
                    "/repo/production/targets/a$b", "/repo/x/root",
                    "/repo/ci/rootx", "/repo/production/root/prod"):
            self.assertEqual(self.srv.admin("GET", bad)[0], 404, bad)

    def test_status_reports_expiry(self):
        st, r = self.srv.admin("GET", "/status")
        self.assertEqual(st, 200)
        roles = {(x["flavour"], x["tag"], x["role"]) for x in r["repository"]}
        self.assertIn(("production", "prod", "timestamp"), roles)


class RegistrationTest(c.SeededServerTest):
    prefix = "bwd-reg-"

    def token(self, scope="ci", expires_in=3600, uses=None):
        body = {"scope": scope, "expires-in": expires_in}
        if uses:
            body["uses"] = uses
        st, r = self.srv.admin("POST", "/tokens", body)
        self.assertEqual(st, 201, r)
        return r["token"]

    def body(self, uid=None, **kw):
        uid = uid or str(uuidlib.uuid4())
        b = {"uuid": uid, "name": "dev", "hardware-id": "board",
             "csr": c.csr_pem(uid, **kw)}
        return b

    def devices(self):
        return {d["uuid"] for d in self.srv.admin("GET", "/devices")[1]}

    def test_register_and_use_the_certificate(self):
        tok = self.token()
        b = self.body()
        key = None
        st, r = self.srv.register(b, tok)
        self.assertEqual(st, 201, r)
        self.assertEqual(set(r), {"root.crt", "client.pem", "client.chained",
                                  "sota.toml"})
        cert = c.x509.load_pem_x509_certificate(r["client.pem"].encode())
        self.assertNotIn("businessCategory", cert.subject.rfc4514_string())
        self.assertIn(b["uuid"], self.devices())
        # replayed uuid
        self.assertEqual(self.srv.register(b, tok)[0], 409)
        del key

    def test_certificate_works_on_the_gateway(self):
        uid = str(uuidlib.uuid4())
        key = c.ec.generate_private_key(c.ec.SECP256R1())
        tok = self.token("production")
        b = {"uuid": uid, "hardware-id": "board",
             "csr": c.csr_pem(uid, key=key)}
        st, r = self.srv.register(b, tok, header="Authorization")
        self.assertEqual(st, 201, r)
        cpath = os.path.join(self.dir, uid + ".pem")
        kpath = os.path.join(self.dir, uid + ".key")
        with open(cpath, "w") as f:
            f.write(r["client.pem"])
        with open(kpath, "wb") as f:
            f.write(key.private_bytes(
                c.serialization.Encoding.PEM,
                c.serialization.PrivateFormat.PKCS8,
                c.serialization.NoEncryption()))
        st, _, root = self.srv.device_get({"cert": cpath, "key": kpath},
                                          "/repo/1.root.json")
        self.assertEqual(st, 200)
        # production token: production metadata
        self.assertEqual(json.loads(root)["signed"]["roles"]["targets"]
                         ["threshold"], 2)

    def test_refusals_store_nothing(self):
        before = self.devices()
        ci = self.token("ci")
        expired = self.token("ci", expires_in=1)
        time.sleep(1.5)
        denied = str(uuidlib.uuid4())
        self.srv.admin("POST", "/devices/%s/deny" % denied)
        bad_csr = self.body()
        bad_csr["csr"] = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n" \
                         "-----END CERTIFICATE REQUEST-----\n"
        other_uuid = self.body()
        other_uuid["uuid"] = str(uuidlib.uuid4())
        cases = [
            ("no token", self.body(), None, 401),
            ("unknown token", self.body(), "f" * 64, 401),
            ("expired token", self.body(), expired, 401),
            ("CI token asks production", self.body(production=True), ci, 403),
            ("malformed CSR", bad_csr, ci, 400),
            ("CSR of another uuid", other_uuid, ci, 400),
            ("other factory", self.body(ou="evil"), ci, 400),
            ("deny-listed", self.body(denied), ci, 403),
            ("missing fields", {"uuid": "x"}, ci, 400),
        ]
        for what, body, tok, want in cases:
            st, r = self.srv.register(body, tok)
            self.assertEqual(st, want, "%s: %r" % (what, r))
        try:  # 413, or the server closes while the client still sends
            st, _ = self.srv.register(None, ci,
                                      raw=b"{" + b" " * 100000 + b"}")
            self.assertEqual(st, 413)
        except (ssl.SSLError, ConnectionError):
            pass
        self.assertEqual(self.devices(), before)

    def test_token_uses_and_revoke(self):
        tok = self.token("ci", uses=1)
        self.assertEqual(self.srv.register(self.body(), tok)[0], 201)
        self.assertEqual(self.srv.register(self.body(), tok)[0], 401)
        tok2 = self.token("ci")
        lst = self.srv.admin("GET", "/tokens")[1]
        self.assertNotIn(tok2, json.dumps(lst))  # only hashes are stored
        tid = lst[-1]["id"]
        self.assertEqual(self.srv.admin("DELETE", "/tokens/%d" % tid)[0], 200)
        self.assertEqual(self.srv.register(self.body(), tok2)[0], 401)
        hashes = [r[0] for r in self.srv.query("SELECT hash FROM tokens")]
        self.assertNotIn(tok2, hashes)


class ProcessTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="bwd-proc-")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_check_config_and_secret_modes(self):
        srv = c.Server(self.dir, c.Tuf())
        p = c.run(c.BULWARKD, "--config", srv.conf, "--check-config")
        self.assertIn("configuration OK", p.stderr)
        os.chmod(srv.token_file, 0o644)
        p = c.run(c.BULWARKD, "--config", srv.conf, "--check-config",
                  check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("0600", p.stderr)
        self.assertNotIn(srv.token, p.stderr)
        os.chmod(srv.token_file, 0o600)
        p = c.run(c.BULWARKD, "--config", srv.conf, "--check-config",
                  "--set", "server.max_connections=0", check=False)
        self.assertEqual(p.returncode, 1)
        p = c.run(c.BULWARKD, "--config", srv.conf, "--check-config",
                  "--set", "nosuch.key=1", check=False)
        self.assertEqual(p.returncode, 1)
        p = c.run(c.BULWARKD, "--bogus", check=False)
        self.assertEqual(p.returncode, 2)

    def test_resumed_session_on_a_fresh_server(self):
        # regression: a resumed session (no verify callback) on a server
        # whose policy generation never moved was refused with 403
        srv = c.Server(self.dir, c.Tuf()).start()
        try:
            d = c.device_cert(srv.pki, self.dir, "fresh")
            ctx = srv.ctx(d["cert"], d["key"])
            sess = None
            for i in range(3):
                s = ctx.wrap_socket(c.socket.create_connection(
                    ("127.0.0.1", srv.gw_port)), session=sess)
                s.sendall(b"GET /device HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertIn(b"HTTP/1.1 200", s.recv(65536))
                self.assertEqual(s.session_reused, i > 0)
                sess = s.session
                s.close()
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_device_certificates_in_the_expiry_report(self):
        """GET /expiry lists the devices whose certificates expire within
        the warning window (30 days here), soonest first, from the
        notAfter their binding stored; a record bound before the store
        kept notAfter learns it at the device's next connection."""
        srv = c.Server(self.dir, c.Tuf()).start()
        try:
            soon = c.device_cert(srv.pki, self.dir, "soon", days=10)
            sooner = c.device_cert(srv.pki, self.dir, "sooner", days=3)
            later = c.device_cert(srv.pki, self.dir, "later", days=400)
            for d in (soon, sooner, later):
                self.assertEqual(srv.device_get(d, "/device")[0], 200)

            def listed():
                st, r = srv.admin("GET", "/expiry")
                self.assertEqual(st, 200)
                return [(x["uuid"], x["cert-not-after"])
                        for x in r["devices"]]

            def not_after(d):
                # naive UTC (the attribute every cryptography has)
                return int(c.load_cert(d["cert"]).not_valid_after.replace(
                    tzinfo=datetime.timezone.utc).timestamp())

            want = [(sooner["uuid"], not_after(sooner)),
                    (soon["uuid"], not_after(soon))]
            self.assertEqual(listed(), want)
            st, r = srv.admin("GET", "/devices/" + later["uuid"])
            self.assertEqual(r["cert-not-after"], not_after(later))
            # a record from before the column: notAfter unknown, not
            # listed, then learnt from the matching certificate
            self.assertEqual(srv.stop(), 0)
            srv.query("UPDATE devices SET cert_not_after = 0 WHERE uuid"
                      " = '%s'" % soon["uuid"])
            srv.start()
            self.assertEqual(listed(), want[:1])
            self.assertEqual(srv.device_get(soon, "/device")[0], 200)
            self.assertEqual(listed(), want)
        finally:
            srv.stop()

    def test_sigterm_lets_a_download_in_flight_finish(self):
        srv = c.Server(self.dir, c.Tuf()).start()
        try:
            srv.seed()
            data = os.urandom(8 << 20)
            with open(os.path.join(srv.targets_dir, "big"), "wb") as f:
                f.write(data)
            # a device downloads only what its targets metadata lists
            st, r = srv.admin("POST", "/repo/ci/targets/add",
                              dict(c.fileinfo(data), name="big"))
            self.assertEqual(st, 200, r)
            d = c.device_cert(srv.pki, self.dir, "dl")
            conn = srv.device(d)
            conn.request("GET", "/targets/big")
            r = conn.getresponse()
            first = r.read(1024)
            srv.proc.send_signal(c.signal.SIGTERM)
            rest = r.read()
            self.assertEqual(first + rest, data)
            conn.close()
            self.assertNotIn("still running", srv.logtext())
            self.assertEqual(srv.proc.wait(10), 0)
            # no new connections after SIGTERM
            self.assertTrue(srv.refused(d))
        finally:
            srv.stop()

    def test_manufacturing_site_registration_only(self):
        # a site runs registration (+ local admin for its tokens) with its
        # local device CA; no gateway, no online TUF keys, and only the
        # files it needs from the PKI directory (no state.json)
        full = c.make_pki(os.path.join(self.dir, "pki-full"))
        pki = os.path.join(self.dir, "pki")
        os.makedirs(pki)
        for f in ("factory_ca.pem", "local-ca.pem", "local-ca.key", "tls.pem",
                  "tls.key"):
            shutil.copy2(os.path.join(full, f), pki)
        srv = c.Server(self.dir, c.Tuf(), pki=pki,
                       roles="registration,admin", extra={
                           "registration": {
                               "ca_cert": os.path.join(pki, "local-ca.pem"),
                               "ca_key": os.path.join(pki, "local-ca.key")},
                           "signing": {"timestamp_key": "",
                                       "snapshot_key": "",
                                       "ci_targets_key": ""}}).start()
        try:
            self.assertTrue(c.port_free(srv.gw_port))
            st, tok = srv.admin("POST", "/tokens", {"scope": "production",
                                                    "expires-in": 600})
            uid = str(uuidlib.uuid4())
            st, r = srv.register({"uuid": uid, "hardware-id": "board",
                                  "csr": c.csr_pem(uid)}, tok["token"])
            self.assertEqual(st, 201, r)
            cert = c.x509.load_pem_x509_certificate(r["client.pem"].encode())
            local = c.load_cert(os.path.join(pki, "local-ca.pem"))
            self.assertEqual(cert.issuer, local.subject)
            self.assertIn("2.5.4.15=production", cert.subject.rfc4514_string())
            chain = c.x509.load_pem_x509_certificates(
                r["client.chained"].encode())
            self.assertEqual([x.subject for x in chain],
                             [cert.subject, local.subject])
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_registration_rate_limit(self):
        srv = c.Server(self.dir, c.Tuf(), extra={
            "registration": {"rate_per_minute": "3"}}).start()
        try:
            codes = [srv.register({"uuid": "x"}, None)[0] for _ in range(5)]
            # a minute boundary may reset the budget once
            self.assertIn(429, codes)
            self.assertEqual(codes[:3].count(401) + codes[:3].count(429), 3)
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_port_in_use_refused(self):
        srv = c.Server(self.dir, c.Tuf())
        srv.start()
        try:
            p = c.run(c.BULWARKD, "--config", srv.conf, check=False)
            self.assertEqual(p.returncode, 1)
        finally:
            self.assertEqual(srv.stop(), 0)
        self.assertTrue(srv.db_consistent())


if __name__ == "__main__":
    unittest.main()
