"""The operator CLI against a real bulwarkd (admin API): `bulwark tokens`,
`bulwark devices`, `bulwark repo push`, and the --server variants of
`targets add`, `targets promote`, `keys tuf updates apply` and `keys ca
revoke-device`. The server runs on 127.0.0.1 with the factory workspace's
online keys and a PKI made by `bulwark keys ca create`; every server
started here is stopped."""
import json
import os
import shutil
import socket
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bwserver as c  # noqa: E402
from bwtest import free_port  # noqa: E402


class CliServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="bw-cli-srv-")
        cls.ws = os.path.join(cls.dir, "factory")
        c.run(c.BULWARK, "factory", "init", cls.ws, "--name", "acme")
        on = os.path.join(cls.ws, "online")
        cls.srv = c.Server(cls.dir, c.Tuf(), extra={"signing": {
            "timestamp_key": os.path.join(on, "timestamp.pem"),
            "snapshot_key": os.path.join(on, "snapshot.pem"),
            "ci_targets_key": os.path.join(on, "targets.pem")}})
        cls.srv.start()
        cls.url = "https://127.0.0.1:%d" % cls.srv.admin_port
        cls.ca = os.path.join(cls.srv.pki, "factory_ca.pem")
        try:
            # the server learns the workspace's roots from the CLI itself
            p = cls.cli("repo", "push", "--repo", cls.ws)
            assert p.returncode == 0, p.stdout + p.stderr
        except BaseException:
            cls.srv.stop()
            shutil.rmtree(cls.dir)
            raise

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        shutil.rmtree(cls.dir)
        assert rc == 0, rc

    @classmethod
    def cli(cls, *args, server=True, env=None):
        a = [c.BULWARK] + list(args)
        if server:
            a += ["--server", cls.url]
        e = dict(os.environ, BULWARK_ADMIN_TOKEN_FILE=cls.srv.token_file,
                 BULWARK_CA_FILE=cls.ca)
        e.update(env or {})
        return c.subprocess.run(a, capture_output=True, text=True,
                                timeout=120, env=e)

    def ok(self, *args, **kw):
        p = self.cli(*args, **kw)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return p

    def fails(self, code, *args, msg=None, **kw):
        p = self.cli(*args, **kw)
        self.assertEqual(p.returncode, code, p.stdout + p.stderr)
        if msg:
            self.assertIn(msg, p.stderr)
        return p

    # -- tokens -----------------------------------------------------------
    def test_tokens_create_list_revoke(self):
        out = os.path.join(self.dir, "reg.token")
        p = self.ok("tokens", "create", "--scope", "ci", "--uses", "3",
                    "--comment", "line 4", "--out", out)
        self.assertEqual(os.stat(out).st_mode & 0o777, 0o600)
        with open(out) as f:
            tok = f.read().strip()
        self.assertNotIn(tok, p.stdout)
        tid = int(p.stdout.split("token id ")[1].split()[0])
        lst = self.ok("tokens", "list").stdout
        self.assertIn("line 4", lst)
        self.assertNotIn(tok, lst)
        rows = json.loads(self.ok("tokens", "list", "--json").stdout)
        mine = [t for t in rows if t["id"] == tid][0]
        self.assertEqual((mine["uses-left"], mine["revoked"]), (3, False))
        # printed once on stdout without --out
        p = self.ok("tokens", "create", "--scope", "production",
                    "--expires-in", "60")
        self.assertIn("token: ", p.stdout)
        self.ok("tokens", "revoke", str(tid))
        rows = json.loads(self.ok("tokens", "list", "--json").stdout)
        self.assertTrue([t for t in rows if t["id"] == tid][0]["revoked"])
        self.fails(1, "tokens", "revoke", "999999", msg="HTTP 404")
        self.fails(2, "tokens", "create", "--scope", "root")
        self.fails(2, "tokens", "create", "--scope", "ci",
                   "--expires-in", "-5")

    # -- accounts ---------------------------------------------------------
    def test_accounts_create_list_revoke(self):
        out = os.path.join(self.dir, "viewer.token")
        p = self.ok("accounts", "create", "--role", "viewer", "--comment",
                    "night shift", "--out", out)
        self.assertEqual(os.stat(out).st_mode & 0o777, 0o600)
        with open(out) as f:
            tok = f.read().strip()
        self.assertNotIn(tok, p.stdout)
        aid = int(p.stdout.split("account ")[1].split()[0])
        # the account reads through the admin API and may not write
        self.assertEqual(self.srv.admin("GET", "/devices", token=tok)[0], 200)
        self.assertEqual(self.srv.admin("POST", "/tokens", {"scope": "ci",
                         "expires-in": 60}, token=tok)[0], 403)
        lst = self.ok("accounts", "list").stdout
        self.assertIn("night shift", lst)
        self.assertIn("viewer", lst)
        self.assertNotIn(tok, lst)
        self.ok("accounts", "revoke", str(aid))
        rows = json.loads(self.ok("accounts", "list", "--json").stdout)
        self.assertTrue([a for a in rows if a["id"] == aid][0]["revoked"])
        self.assertEqual(self.srv.admin("GET", "/devices", token=tok)[0], 401)
        self.fails(2, "accounts", "create", "--role", "admin")
        self.fails(2, "accounts", "create")
        self.fails(1, "accounts", "revoke", "999999", msg="HTTP 404")

    # -- devices ----------------------------------------------------------
    def test_devices_list_show_deny_allow(self):
        dev = c.device_cert(self.srv.pki, self.dir, "dev1")
        st, _, _ = self.srv.device_get(dev, "/repo/1.root.json")
        self.assertEqual(st, 200)
        lst = self.ok("devices", "list").stdout
        self.assertIn("UUID", lst.splitlines()[0])
        self.assertIn(dev["uuid"], lst)
        rows = json.loads(self.ok("devices", "list", "--json").stdout)
        self.assertIn(dev["uuid"], [d["uuid"] for d in rows])
        shown = json.loads(self.ok("devices", "show", dev["uuid"]).stdout)
        self.assertEqual(shown["uuid"], dev["uuid"])
        self.assertFalse(shown["denied"])
        self.ok("devices", "deny", dev["uuid"], "--reason", "stolen")
        self.assertTrue(self.srv.refused(dev))
        line = [ln for ln in self.ok("devices", "list").stdout.splitlines()
                if dev["uuid"] in ln][0]
        self.assertIn("DENIED", line)
        self.ok("devices", "allow", dev["uuid"])
        self.assertEqual(self.srv.device_get(dev, "/repo/1.root.json")[0],
                         200)
        self.fails(1, "devices", "show",
                   "00000000-0000-0000-0000-000000000000", msg="HTTP 404")
        self.fails(2, "devices", "show", "../tokens")

    # -- refusals ---------------------------------------------------------
    def test_refusals(self):
        self.fails(2, "devices", "list",
                   env={"BULWARK_ADMIN_TOKEN_FILE": ""}, msg="--token-file")
        loose = os.path.join(self.dir, "loose.token")
        with open(loose, "w") as f:
            f.write(self.srv.token + "\n")
        os.chmod(loose, 0o644)
        self.fails(1, "devices", "list", "--token-file", loose,
                   msg="readable by others")
        wrong = os.path.join(self.dir, "wrong.token")
        fd = os.open(wrong, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, b"not-the-token\n")
        os.close(fd)
        p = self.fails(1, "tokens", "list", "--token-file", wrong,
                       msg="HTTP 401")
        self.assertNotIn("not-the-token", p.stderr + p.stdout)
        self.fails(1, "tokens", "list", "--token-file",
                   os.path.join(self.dir, "missing"), msg="token file")
        # nothing listens there: a clear error, exit 1
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = "https://127.0.0.1:%d" % s.getsockname()[1]
        self.fails(1, "devices", "list", "--server", dead, server=False,
                   msg="cannot reach the server")
        self.fails(2, "devices", "list", "--server",
                   "http://127.0.0.1:%d" % free_port(), server=False,
                   msg="https://")
        # a server certificate from another CA is refused
        other = c.make_pki(os.path.join(self.dir, "other-pki"), "other")
        self.fails(1, "devices", "list", "--ca-file",
                   os.path.join(other, "factory_ca.pem"),
                   msg="cannot reach the server")

    def test_upload_fails_after_local_change(self):
        """The local change stays; the command says so; repo push
        --target publishes the entry later."""
        fw = os.path.join(self.dir, "late.bin")
        with open(fw, "wb") as f:
            f.write(b"late\n")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = "https://127.0.0.1:%d" % s.getsockname()[1]
        p = self.fails(1, "targets", "add", fw, "--repo", self.ws,
                       "--name", "late", "--version", "9", "--hardware-id",
                       "board", "--server", dead, server=False,
                       msg="local change is committed")
        self.assertIn("repo push --server URL --target NAME", p.stderr)
        self.assertIn("late", self.ok("targets", "list", "--repo", self.ws,
                                      server=False).stdout)
        st, doc = self.srv.admin("GET", "/repo/ci/targets")
        self.assertNotIn("late", doc["signed"]["targets"])
        self.ok("repo", "push", "--repo", self.ws, "--target", "late")
        st, doc = self.srv.admin("GET", "/repo/ci/targets")
        self.assertIn("late", doc["signed"]["targets"])
        # options checked before any local change
        self.fails(2, "targets", "add", fw, "--repo", self.ws, "--name",
                   "late2", "--version", "10", "--hardware-id", "board",
                   "--server", "http://127.0.0.1:1", server=False)
        self.assertNotIn("late2", self.ok("targets", "list", "--repo",
                                          self.ws, server=False).stdout)

    # -- TUF: targets, root rotation --------------------------------------
    def test_targets_add_promote_and_apply(self):
        fw = os.path.join(self.dir, "fw.bin")
        with open(fw, "wb") as f:
            f.write(b"firmware\n" * 500)
        p = self.ok("targets", "add", fw, "--repo", self.ws, "--name",
                    "fw-srv", "--version", "7", "--hardware-id", "board",
                    "--targets-dir", self.srv.targets_dir)
        self.assertIn("published fw-srv", p.stdout)
        dev = c.device_cert(self.srv.pki, self.dir, "tdev")
        st, _, body = self.srv.device_get(dev, "/repo/targets.json")
        self.assertEqual(st, 200)
        ent = json.loads(body)["signed"]["targets"]["fw-srv"]
        self.assertEqual(ent["custom"]["version"], 7)
        st, _, data = self.srv.device_get(dev, "/targets/fw-srv")
        self.assertEqual((st, data), (200, b"firmware\n" * 500))
        # without --targets-dir: told where the file must go
        p = self.ok("targets", "add", fw, "--repo", self.ws, "--name",
                    "fw-2", "--version", "8", "--hardware-id", "board")
        self.assertIn("gateway.targets_dir", p.stdout)
        # production: promote --server publishes the tag on the server
        keys = os.path.join(self.ws, "offline-keys")
        self.ok("targets", "promote", "--repo", self.ws, "--version", "7",
                "--tag", "stable", "--keys",
                os.path.join(keys, "targets-1.tar.gz"))
        st, doc = self.srv.admin("GET", "/repo/production/targets/stable")
        self.assertEqual(st, 200)
        self.assertIn("fw-srv", doc["signed"]["targets"])
        # a root rotation: apply --server uploads the new roots
        self.ok("keys", "tuf", "updates", "init", "--repo", self.ws,
                server=False)
        self.ok("keys", "tuf", "updates", "sign", "--repo", self.ws,
                "--keys", os.path.join(keys, "root-1.tar.gz"), server=False)
        self.ok("keys", "tuf", "updates", "sign-prod-targets", "--repo",
                self.ws, "--keys", os.path.join(keys, "targets-1.tar.gz"),
                server=False)
        self.ok("keys", "tuf", "updates", "apply", "--repo", self.ws)
        with open(os.path.join(self.ws, "ci", "root", "2.root.json"),
                  "rb") as f:
            want = f.read()
        st, _, got = self.srv.device_get(dev, "/repo/2.root.json")
        self.assertEqual((st, got), (200, want))
        st, doc = self.srv.admin("GET", "/repo/production/root")
        self.assertEqual((st, doc["signed"]["version"]), (200, 2))
        # push again: nothing newer, still success
        p = self.ok("repo", "push", "--repo", self.ws, "--all-tags")
        self.assertIn("the server has version 2", p.stdout)

    # -- PKI: CRLs ----------------------------------------------------------
    def test_revoke_device_uploads_crl(self):
        dev = c.device_cert(self.srv.pki, self.dir, "rdev")
        self.assertEqual(self.srv.device_get(dev, "/repo/1.root.json")[0],
                         200)
        before = {ca["name"]: ca["crl-number"] for ca in
                  self.srv.admin("GET", "/pki")[1]["device-cas"]}
        p = self.ok("keys", "ca", "revoke-device", self.srv.pki, "--cert",
                    dev["cert"], env={"BULWARK_CA_FILE": ""})
        self.assertIn("/pki/crl/online-ca", p.stdout)
        after = {ca["name"]: ca for ca in
                 self.srv.admin("GET", "/pki")[1]["device-cas"]}
        self.assertGreater(after["online-ca"]["crl-number"],
                           before["online-ca"])
        self.assertTrue(self.srv.refused(dev))
        # a device CA on hold, then back: the factory CRL each time
        for cmd, want in (("disable-device-ca", "disabled"),
                          ("enable-device-ca", "enabled")):
            p = self.ok("keys", "ca", cmd, self.srv.pki, "--ca", "local-ca",
                        env={"BULWARK_CA_FILE": ""})
            self.assertIn("/pki/crl/factory_ca", p.stdout)
            st = {ca["name"]: ca["status"] for ca in
                  self.srv.admin("GET", "/pki")[1]["device-cas"]}
            self.assertEqual(st["local-ca"], want, st)
        # unchanged CRLs again: "already has", exit 0
        p = self.ok("keys", "ca", "update-crl", self.srv.pki,
                    env={"BULWARK_CA_FILE": ""})
        self.assertIn("/pki/crl/factory_ca", p.stdout)


if __name__ == "__main__":
    unittest.main()
