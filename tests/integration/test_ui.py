"""The fleet page in a real browser (Debian's chromium, playwright-core).

A real bulwarkd with devices that check in over mutual TLS; the browser
part (tests/ui/ui_test.cjs) signs in, finds a device, denies it through the
page, checks a refused sign-in, a form without its CSRF token, a read-only
account, an expiring role, and runs axe-core on every view. This file then
checks that the gateway refuses the device the page denied.
"""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from bwserver import (BULWARK, Server, Tuf, device_cert, fileinfo,
                                  run)
from bwwaves import FW, WAVE_CFG, event, make_charter

SRC = os.environ.get("BW_SOURCE_DIR",
                     os.path.join(os.path.dirname(__file__), "..", ".."))
UI_DIR = os.path.join(SRC, "tests", "ui")
CHROMIUM = "/usr/bin/chromium"


def ui_tools_missing():
    if not shutil.which("node"):
        return "node is not installed"
    if not os.path.exists(CHROMIUM):
        return "chromium is not installed"
    if not os.path.isdir(os.path.join(UI_DIR, "node_modules",
                                      "playwright-core")):
        return "tests/ui: npm ci has not run (scripts/install-deps.sh)"
    return None


class TestFleetPage(unittest.TestCase):
    def setUp(self):
        missing = ui_tools_missing()
        if missing and os.environ.get("CI"):
            self.fail(missing)
        if missing:
            self.skipTest(missing)
        self.dir = tempfile.mkdtemp(prefix="bw-ui-")
        self.tuf = Tuf()
        # devices of the wave go silent only after 3 minutes: the test's
        # failures, not silence, halt it
        logkey = os.path.join(self.dir, "log.pem")
        run(BULWARK, "log", "key", "--generate", "--key", logkey, "--name",
            "bulwark/ui-test", "--out", os.path.join(self.dir, "log.vkey"))
        self.srv = Server(self.dir, self.tuf, extra={
            "waves": dict(WAVE_CFG, poll_interval="60"),
            "log": {"key": logkey, "origin": "bulwark/ui-test"}}).start()
        self.srv.seed(tag="prod")
        with open(os.path.join(self.srv.targets_dir, "fw-wave-2"),
                  "wb") as f:
            f.write(FW)
        # production targets of a second tag that expire in 5 days: within
        # the 30-day warning of offline roles
        t = self.tuf
        data = b"canary firmware\n" * 10
        with open(os.path.join(self.srv.targets_dir, "fw-canary"), "wb") as f:
            f.write(data)
        md = t.targets(1, {"fw-canary": fileinfo(data)},
                       [t.ci_targets, t.offline_targets], days=5)
        st, r = self.srv.admin("PUT", "/repo/production/targets/canary", md)
        self.assertEqual(st, 200, r)

    def tearDown(self):
        if hasattr(self, "srv"):
            self.srv.stop()
            shutil.rmtree(self.dir, ignore_errors=True)

    def report(self, d, events):
        conn = self.srv.device(d)
        try:
            conn.request("POST", "/events", body=json.dumps(events).encode(),
                         headers={"x-ats-tags": "prod"})
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 204)
        finally:
            conn.close()

    def account(self, role):
        st, r = self.srv.admin("POST", "/accounts",
                               {"role": role, "expires-in": 3600,
                                "comment": "ui test " + role})
        self.assertEqual(st, 201, r)
        return r["token"]

    def test_page_in_browser(self):
        srv = self.srv
        devs = []
        for i in range(5):
            d = device_cert(srv.pki, self.dir, "dev%d" % i)
            st, _, _ = srv.device_get(d, "/device",
                                      {"x-ats-tags": "prod"})
            self.assertIn(st, (200, 404))
            devs.append(d)
        target = devs[2]
        self.assertFalse(srv.refused(target))
        # a device whose certificate expires in 4 days (the others' in
        # 30, 400 for the last): flagged on the expiry view
        expiring = device_cert(srv.pki, self.dir, "expiring", days=4)
        lasting = device_cert(srv.pki, self.dir, "lasting", days=400)
        for d in (expiring, lasting):
            self.assertEqual(srv.device_get(d, "/device")[0], 200)
        # the page searches by name: registration names devices; name this
        # one through the admin API's record
        name = "dev-" + target["uuid"][:8]
        hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script>'

        def lit(v):  # an SQL string literal (quotes doubled)
            return "'" + v.replace("'", "''") + "'"
        srv.query("UPDATE devices SET name = %s WHERE uuid = %s"
                  % (lit(name), lit(target["uuid"])))
        srv.query("UPDATE devices SET name = %s WHERE uuid = %s"
                  % (lit(hostile), lit(devs[0]["uuid"])))
        shots = os.environ.get("BW_UI_SHOTS") or os.path.join(self.dir,
                                                                 "shots")
        os.makedirs(shots, exist_ok=True)
        env = dict(os.environ,
                   BW_UI_URL="https://127.0.0.1:%d" % srv.admin_port,
                   BW_UI_SHOTS=shots, BW_ADMIN_TOKEN=srv.token,
                   BW_VIEWER_TOKEN=self.account("viewer"),
                   BW_OPERATOR_TOKEN=self.account("operator"),
                   BW_DEVICE_UUID=target["uuid"], BW_DEVICE_NAME=name,
                   BW_EXPIRING_TAG="canary", BW_HOSTILE_NAME=hostile,
                   BW_EXPIRING_DEVICE=expiring["uuid"],
                   BW_LASTING_DEVICE=lasting["uuid"],
                   BW_CHROMIUM=CHROMIUM)
        # a wave that the page watches; its devices poll and get admitted
        _, raw = make_charter(self.tuf, "w42", [(1000000, 3600)])
        st, r = srv.admin("POST", "/waves", raw)
        self.assertEqual(st, 201, r)
        wave_devs = [device_cert(srv.pki, self.dir, "w%d" % i,
                                 production=True) for i in range(6)]
        for d in wave_devs:
            st, _, _ = srv.device_get(d, "/wave", {"x-ats-tags": "prod"})
            self.assertEqual(st, 200)
        ready = os.path.join(self.dir, "watching")
        env["BW_UI_READY"] = ready
        node = subprocess.Popen(["node", os.path.join(UI_DIR, "ui_test.cjs")],
                                env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.time() + 240
            while not os.path.exists(ready) and node.poll() is None and \
                    time.time() < deadline:
                time.sleep(0.1)
            if os.path.exists(ready):
                # the page is open on the waves; bad news arrives
                for d in wave_devs:
                    self.report(d, [event("EcuInstallationCompleted",
                                          False)])
            out, _ = node.communicate(timeout=240)
        finally:
            if node.poll() is None:
                node.kill()
        print(out)
        self.assertEqual(node.returncode, 0, out + srv.logtext()[-3000:])
        st, w = srv.admin("GET", "/waves/w42")
        self.assertEqual(w["state"], "halted", w)
        self.assertIn("health rule", json.dumps(w["log"]))
        # the device the page asked to rotate is told so by the gateway
        # (asked before it was denied)
        self.assertEqual(srv.query(
            "SELECT COUNT(*) FROM rotate_requests WHERE kind = 'device'"
            " AND name = %s" % lit(target["uuid"])), [["1"]])
        # the device the page denied is refused by the gateway, the others
        # are still served
        self.assertTrue(srv.refused(target))
        self.assertFalse(srv.refused(devs[0]))
        st, r = srv.admin("GET", "/devices/" + target["uuid"])
        self.assertTrue(r["denied"])
        self.assertIn("deny-listed by account", srv.logtext())
        # the browser asked for nothing outside the page (no favicon miss)
        self.assertNotIn("bad token", srv.logtext())


class TestAccounts(unittest.TestCase):
    """Roles on the admin API itself (the page's rules are the API's)."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="bw-acc-")
        self.srv = Server(self.dir, Tuf()).start()

    def tearDown(self):
        self.srv.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_roles(self):
        srv = self.srv
        d = device_cert(srv.pki, self.dir, "d")
        srv.device_get(d, "/device")
        st, v = srv.admin("POST", "/accounts", {"role": "viewer",
                                                "expires-in": 60})
        self.assertEqual(st, 201)
        st, o = srv.admin("POST", "/accounts", {"role": "operator",
                                                "expires-in": 60})
        self.assertEqual(st, 201)
        st, _ = srv.admin("POST", "/accounts", {"role": "admin",
                                                "expires-in": 60})
        self.assertEqual(st, 400, "no admin accounts: the token file is")
        path = "/devices/%s/deny" % d["uuid"]
        # a viewer reads, never writes
        self.assertEqual(srv.admin("GET", "/devices", token=v["token"])[0],
                         200)
        self.assertEqual(srv.admin("POST", path, token=v["token"])[0], 403)
        self.assertEqual(srv.admin("GET", "/accounts", token=v["token"])[0],
                         403)
        # an operator acts on devices, uploads nothing, makes no accounts
        self.assertEqual(srv.admin("POST", path, token=o["token"])[0], 200)
        self.assertEqual(srv.admin("DELETE", path, token=o["token"])[0], 200)
        self.assertEqual(srv.admin("PUT", "/repo/ci/root", b"{}",
                                   token=o["token"])[0], 403)
        self.assertEqual(srv.admin("POST", "/tokens", {"scope": "ci",
                                   "expires-in": 60}, token=o["token"])[0],
                         403)
        self.assertEqual(srv.admin("POST", "/accounts", {"role": "viewer",
                                   "expires-in": 60}, token=o["token"])[0],
                         403)
        # a revoked account is refused at once
        self.assertEqual(srv.admin("DELETE", "/accounts/%d" % o["id"])[0],
                         200)
        self.assertEqual(srv.admin("GET", "/devices", token=o["token"])[0],
                         401)
        st, lst = srv.admin("GET", "/accounts")
        self.assertEqual([a["revoked"] for a in lst], [False, True])
        self.assertNotIn(o["token"], json.dumps(lst))
        self.assertNotIn(o["token"], srv.logtext())

    def test_sign_in_needs_the_nonce_cookie(self):
        """Another site can not sign a browser in: a sign-in without the
        nonce cookie of the sign-in page is refused, even with a good
        token; with it, the session cookie has every flag."""
        import http.client
        import re
        import urllib.parse
        srv = self.srv

        def post(body, cookie=None):
            c = http.client.HTTPSConnection("127.0.0.1", srv.admin_port,
                                            timeout=10, context=srv.ctx())
            h = {"Content-Type": "application/x-www-form-urlencoded"}
            if cookie:
                h["Cookie"] = cookie
            c.request("POST", "/ui/login", urllib.parse.urlencode(body), h)
            r = c.getresponse()
            r.read()
            c.close()
            return r
        nonce = "ab" * 32
        r = post({"token": srv.token, "nonce": nonce})
        self.assertEqual(r.status, 403)
        self.assertNotIn("bw_session=",
                         " ".join(r.headers.get_all("Set-Cookie") or []))
        r = post({"token": srv.token, "nonce": nonce},
                 cookie="bw_login=" + "cd" * 32)
        self.assertEqual(r.status, 403)
        r = post({"token": srv.token, "nonce": nonce},
                 cookie="bw_login=" + nonce)
        self.assertEqual(r.status, 303)
        sess = [v for v in r.headers.get_all("Set-Cookie")
                if v.startswith("bw_session=")][0]
        for flag in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/ui"):
            self.assertIn(flag, sess)
        self.assertTrue(re.match(r"bw_session=[0-9a-f]{64};", sess))
        self.assertNotIn(srv.token, srv.logtext())

    def test_fleet_filters(self):
        srv = self.srv
        for i in range(3):
            d = device_cert(srv.pki, self.dir, "f%d" % i)
            srv.device_get(d, "/device", {"x-ats-tags": "t%d" % (i % 2)})
        st, r = srv.admin("GET", "/devices?tag=t0")
        self.assertEqual(st, 200)
        self.assertEqual(len(r), 2)
        st, r = srv.admin("GET", "/devices?status=silent")
        self.assertEqual((st, r), (200, []))
        st, r = srv.admin("GET", "/devices?status=bogus")
        self.assertEqual(st, 400)
        st, r = srv.admin("GET", "/devices?flavour=production")
        self.assertEqual((st, r), (200, []))
        st, r = srv.admin("GET", "/devices?limit=1")
        self.assertEqual(len(r), 1)
        st, r2 = srv.admin("GET", "/devices?q=" + r[0]["uuid"][:6].upper())
        self.assertEqual(r2[0]["uuid"], r[0]["uuid"])
        st, x = srv.admin("GET", "/expiry")
        self.assertEqual(st, 200)
        self.assertEqual({c["what"] for c in x["certificates"]},
                         {"factory CA", "server TLS certificate",
                          "device CA"})


if __name__ == "__main__":
    unittest.main()
