"""A real TUF client against bulwarkd: bulwark-tuf-client refreshes and
downloads through a small local proxy that speaks mutual TLS to the
gateway with a device certificate (the client itself has no client
certificate option). Checks that everything the server signs (snapshot,
timestamp, CI targets) passes the full TUF client workflow, for CI and
production devices, after re-signing, after a root rotation, and with
consistent snapshots."""
import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bwserver as c  # noqa: E402

class TufClientTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="bwd-tufc-")
        self.tuf = c.Tuf()

    def tearDown(self):
        shutil.rmtree(self.dir)

    def client(self, proxy, root, name, targets=()):
        return c.tuf_client(self.dir, proxy, root, name, targets)

    def test_refresh_and_download_ci_and_production(self):
        srv = c.Server(self.dir, self.tuf).start()
        try:
            srv.seed(tag="prod")
            ci = c.device_cert(srv.pki, self.dir, "ci")
            prod = c.device_cert(srv.pki, self.dir, "prod", production=True)
            px = c.Proxy(srv, ci)
            pp = c.Proxy(srv, prod, tag="prod")
            try:
                _, tdir = self.client(px, self.tuf.root(), "ci", ["fw-ci-1"])
                self.assertEqual(len(os.listdir(tdir)), 1)
                _, tdir = self.client(pp, self.tuf.root(production=True),
                                      "prod", ["fw-prod-1"])
                self.assertEqual(len(os.listdir(tdir)), 1)
                # a CI device can not be handed the production target list
                with self.assertRaises(AssertionError):
                    self.client(px, self.tuf.root(), "ci", ["fw-prod-1"])
                # a new CI target and a root rotation: the client follows
                body = dict(c.fileinfo(b"two"), name="fw-ci-2")
                with open(os.path.join(srv.targets_dir, "fw-ci-2"), "wb") as f:
                    f.write(b"two")
                self.assertEqual(srv.admin("POST", "/repo/ci/targets/add",
                                           body)[0], 200)
                nk = c.TufKey()
                v2 = c.envelope(self.tuf.root_signed(2, False, root_keys=[nk]),
                                [self.tuf.root_key, nk])
                self.assertEqual(srv.admin("PUT", "/repo/ci/root", v2)[0], 200)
                md, _ = self.client(px, self.tuf.root(), "ci", ["fw-ci-2"])
                with open(os.path.join(md, "root.json"), "rb") as f:
                    self.assertEqual(json.load(f)["signed"]["version"], 2)
            finally:
                px.close()
                pp.close()
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_resigned_timestamp_is_accepted(self):
        # timestamps valid 2 minutes, re-signed when under 100 s left,
        # timer every second: the client must accept the newer one
        srv = c.Server(self.dir, self.tuf, extra={"signing": {
            "timestamp_expiry": "120", "timestamp_resign_before": "119",
            "resign_interval": "1", "expiry_warn": "400d"}}).start()
        try:
            srv.seed()
            dev = c.device_cert(srv.pki, self.dir, "d")
            px = c.Proxy(srv, dev)
            try:
                self.client(px, self.tuf.root(), "d")
                _, _, ts1 = srv.device_get(dev, "/repo/timestamp.json")
                v1 = json.loads(ts1)["signed"]["version"]
                # re-signed within about 2 s; a loaded machine (or a
                # database server) may take longer: wait up to 15 s
                deadline = c.time.time() + 15
                while True:
                    c.time.sleep(0.5)
                    _, _, ts2 = srv.device_get(dev, "/repo/timestamp.json")
                    if json.loads(ts2)["signed"]["version"] > v1 or \
                            c.time.time() > deadline:
                        break
                self.assertGreater(json.loads(ts2)["signed"]["version"], v1)
                self.client(px, self.tuf.root(), "d")
            finally:
                px.close()
            self.assertIn("re-signed", srv.logtext())
            # roots expire in 365 days, under the 400-day warning
            self.assertIn("ci root expires in", srv.logtext())
            st, r = srv.admin("GET", "/status")
            roots = [x for x in r["repository"] if x["role"] == "root"]
            self.assertTrue(roots and all(x["warning"] for x in roots))
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_consistent_snapshots(self):
        srv = c.Server(self.dir, self.tuf).start()
        try:
            s = self.tuf.root_signed(1, False)
            s["consistent_snapshot"] = True
            root = c.envelope(s, [self.tuf.root_key])
            self.assertEqual(srv.admin("PUT", "/repo/ci/root", root)[0], 200)
            data = b"cs firmware"
            with open(os.path.join(srv.targets_dir, "fw-cs"), "wb") as f:
                f.write(data)
            self.assertEqual(srv.admin("POST", "/repo/ci/targets/add", dict(
                c.fileinfo(data), name="fw-cs"))[0], 200)
            dev = c.device_cert(srv.pki, self.dir, "cs")
            px = c.Proxy(srv, dev)
            try:
                _, tdir = self.client(px, root, "cs", ["fw-cs"])
                self.assertEqual(len(os.listdir(tdir)), 1)
                self.assertIn("/repo/1.snapshot.json", px.paths)
                self.assertTrue(any(p.startswith("/targets/") and "." in
                                    p[len("/targets/"):] for p in px.paths))
            finally:
                px.close()
        finally:
            self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    unittest.main()
