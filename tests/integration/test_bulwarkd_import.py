"""Seeding bulwarkd from a static export made by the operator CLI:
`bulwark factory init`, `bulwark targets add/promote`, `bulwark repo
export`, then `bulwarkd --import`. The server uses the factory's online
keys; devices that used the static repository see no version go back;
the real TUF client refreshes and downloads through the gateway."""
import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bwserver as c  # noqa: E402


class ImportTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="bwd-imp-")
        self.fw = os.path.join(self.dir, "factory")
        c.run(c.BULWARK, "factory", "init", self.fw, "--name", "acme")
        self.fwfile = os.path.join(self.dir, "fw.bin")
        with open(self.fwfile, "wb") as f:
            f.write(b"firmware one\n" * 1000)
        c.run(c.BULWARK, "targets", "add", self.fwfile, "--repo", self.fw,
              "--name", "fw-1", "--version", "1", "--hardware-id", "board")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def export(self, name, *args):
        out = os.path.join(self.dir, name)
        c.run(c.BULWARK, "repo", "export", out, "--repo", self.fw, *args)
        return out

    def server(self):
        on = os.path.join(self.fw, "online")
        return c.Server(self.dir, c.Tuf(), extra={"signing": {
            "timestamp_key": os.path.join(on, "timestamp.pem"),
            "snapshot_key": os.path.join(on, "snapshot.pem"),
            "ci_targets_key": os.path.join(on, "targets.pem")}})

    def bulwarkd(self, srv, *args, check=True):
        return c.run(c.BULWARKD, "--config", srv.conf, *args, check=check)

    def test_import_ci_then_serve_and_continue(self):
        out = self.export("ci-export")
        srv = self.server()
        p = self.bulwarkd(srv, "--import", out, "--flavour", "ci")
        self.assertIn("kept from the export", p.stderr)
        # a second import of the same export: nothing newer
        p = self.bulwarkd(srv, "--import", out, "--flavour", "ci",
                          check=False)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(self.bulwarkd(srv, "--import", out, check=False)
                         .returncode, 2)
        srv.start()
        try:
            dev = c.device_cert(srv.pki, self.dir, "d")
            md = os.path.join(out, "metadata")
            for name in ("1.root.json", "timestamp.json", "snapshot.json",
                         "targets.json"):
                with open(os.path.join(md, name), "rb") as f:
                    want = f.read()
                st, _, got = srv.device_get(dev, "/repo/" + name)
                self.assertEqual((st, got), (200, want), name)
            with open(os.path.join(md, "timestamp.json")) as f:
                tsv = json.load(f)["signed"]["version"]
            # the real client, trusting the exported root
            px = c.Proxy(srv, dev)
            try:
                with open(os.path.join(md, "1.root.json"), "rb") as f:
                    root = f.read()
                _, tdir = c.tuf_client(self.dir, px, root, "imp", ["fw-1"])
                self.assertEqual(len(os.listdir(tdir)), 1)
                # the server continues the version numbers
                body = dict(c.fileinfo(b"two"), name="fw-2")
                self.assertEqual(srv.admin("POST", "/repo/ci/targets/add",
                                           body)[0], 200)
                _, _, ts = srv.device_get(dev, "/repo/timestamp.json")
                self.assertEqual(json.loads(ts)["signed"]["version"], tsv + 1)
                c.tuf_client(self.dir, px, root, "imp")
            finally:
                px.close()
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_import_production_tag(self):
        keys = os.path.join(self.fw, "offline-keys", "targets-1.tar.gz")
        c.run(c.BULWARK, "targets", "promote", "--repo", self.fw,
              "--version", "1", "--tag", "stable", "--keys", keys)
        out = self.export("prod-export", "--prod", "--tag", "stable")
        srv = self.server()
        self.bulwarkd(srv, "--import", out, "--flavour", "production",
                      "--tag", "stable")
        srv.start()
        try:
            dev = c.device_cert(srv.pki, self.dir, "p", production=True)
            st, _, tg = srv.device_get(dev, "/repo/targets.json",
                                       {"x-ats-tags": "stable"})
            self.assertEqual(st, 200)
            self.assertIn("fw-1", json.loads(tg)["signed"]["targets"])
            st, _, root = srv.device_get(dev, "/repo/1.root.json")
            self.assertGreaterEqual(
                json.loads(root)["signed"]["roles"]["targets"]["threshold"], 2)
            ci = c.device_cert(srv.pki, self.dir, "ci")
            self.assertEqual(srv.device_get(ci, "/repo/1.root.json")[0], 404)
        finally:
            self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    unittest.main()
