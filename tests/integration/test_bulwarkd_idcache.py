"""The gateway caches accepted identities per certificate and the newest
metadata; nothing may outlive a change that refuses the device, and
metadata written by another process shows within a second. Two real bulwarkd processes
share one SQLite database: a gateway-only one that caches, and an
admin-only one that deny-lists. The gateway must refuse the device once
its periodic reload sees the change (policy_reload_interval = 1 s), on
new and on open connections, and serve it again once it is allowed.

Environment: BW_BINARY_DIR (bulwarkd)."""

import os
import shutil
import tempfile
import time
import unittest

import bwserver as c


def eventually(pred, seconds=10.0):
    """pred() becomes true within seconds (polled, bounded)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.2)
    return pred()


@unittest.skipUnless(os.path.exists(c.BULWARKD), "bulwarkd not built")
class IdentityCacheAcrossProcesses(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bw-idcache-")
        tuf = self.tuf = c.Tuf()
        gw_dir = os.path.join(self.tmp, "gateway")
        adm_dir = os.path.join(self.tmp, "admin")
        os.makedirs(gw_dir)
        os.makedirs(adm_dir)
        self.gw = c.Server(gw_dir, tuf, roles="gateway",
                           extra={"gateway": {"policy_reload_interval": "1"}})
        self.adm = c.Server(adm_dir, tuf, pki=self.gw.pki, roles="admin",
                            db=self.gw.db)
        self.gw.start()
        self.adm.start()

    def tearDown(self):
        rc_gw, rc_adm = self.gw.stop(), self.adm.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.assertEqual((rc_gw, rc_adm), (0, 0))

    def test_deny_in_another_process_defeats_the_cache(self):
        dev = c.device_cert(self.gw.pki, self.tmp, "cached")
        # Accepted twice: the second connection is answered from the cache.
        for _ in range(2):
            self.assertEqual(self.gw.device_get(dev, "/device")[0], 200)
        open_conn = self.gw.device(dev)
        open_conn.request("GET", "/device")
        r = open_conn.getresponse()
        r.read()
        self.assertEqual(r.status, 200)
        st, _ = self.adm.admin("POST", "/devices/%s/deny" % dev["uuid"],
                               {"reason": "stolen"})
        self.assertEqual(st, 200)
        self.assertTrue(eventually(lambda: self.gw.refused(dev, "/device")),
                        "a deny-listing made by another process was hidden "
                        "by the gateway's cache")
        open_conn.request("GET", "/device")  # the same TLS connection
        r = open_conn.getresponse()
        r.read()
        self.assertEqual(r.status, 403)
        open_conn.close()
        st, _ = self.adm.admin("DELETE", "/devices/%s/deny" % dev["uuid"])
        self.assertEqual(st, 200)
        self.assertTrue(eventually(
            lambda: not self.gw.refused(dev, "/device")))


    def test_metadata_from_another_process_is_served(self):
        import json
        dev = c.device_cert(self.gw.pki, self.tmp, "meta")
        for v in (1, 2):
            st, r = self.adm.admin("PUT", "/repo/ci/root", self.tuf.root(v))
            self.assertEqual(st, 200, r)

            def newest_is_v():
                st, _, body = self.gw.device_get(dev, "/repo/root.json")
                return st == 200 and \
                    json.loads(body)["signed"]["version"] == v
            # the gateway's copy of the newest root is at most 1 s old
            self.assertTrue(eventually(newest_is_v, 5.0), "root v%d" % v)


if __name__ == "__main__":
    unittest.main()
