"""The gateway's device record cache and its batched last-seen writes (run
on SQLite and, as integration_pg_test_bulwarkd_devcache, on PostgreSQL).

A device that opens a new TLS connection is served from the cached
record; these tests show that the trust decisions stay right with it:

- a binding moved by another process (as an EST rotation on another
  gateway does: the devices row changes and the store's identity counter
  moves) is followed: the old certificate is refused within
  gateway.identity_poll_interval, and the new one is accepted at once,
  even with no poll at all (a refusal is never decided on a cached
  copy);
- a deny-listing through this gateway refuses at once, on new and on
  open connections, and lifting it serves the device again;

and that the batched writes lose nothing they should keep:

- last seen is written by the flush timer, and at shutdown (SIGTERM)
  whatever is still pending;
- a last-seen write changes nothing else of the record (a name another
  process wrote stays).

Environment: BW_BINARY_DIR (bulwarkd)."""
import hashlib
import os
import shutil
import tempfile
import time
import unittest

from cryptography.hazmat.primitives import serialization

import bwserver as c
from bwtest import until

POLL = 2.0  # gateway.identity_poll_interval in these tests


def binding_of(dev):
    """(fingerprint, serial) as the store keeps them."""
    cert = c.load_cert(dev["cert"])
    der = cert.public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest(), "%X" % cert.serial_number


@unittest.skipUnless(os.path.exists(c.BULWARKD), "bulwarkd not built")
class DeviceCache(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bw-devcache-")
        self.srv = None

    def tearDown(self):
        rc = self.srv.stop() if self.srv else 0
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.assertEqual(rc, 0)

    def start(self, gateway):
        gw = {"policy_reload_interval": "3600",
              "identity_poll_interval": str(int(POLL))}
        gw.update(gateway)
        self.srv = c.Server(self.tmp, c.Tuf(), extra={"gateway": gw})
        self.srv.start()
        self.srv.seed()
        return self.srv

    def row(self, uuid, cols, srv=None):
        rows = (srv or self.srv).query("SELECT %s FROM devices WHERE uuid = '%s'"
                              % (cols, uuid))
        self.assertEqual(len(rows), 1)
        return rows[0]

    def test_binding_moved_elsewhere_is_followed(self):
        srv = self.start({})
        old = c.device_cert(srv.pki, self.tmp, "old")
        new = c.device_cert(srv.pki, self.tmp, "new", uuid=old["uuid"])
        other = c.device_cert(srv.pki, self.tmp, "other")
        for _ in range(3):  # bound to old, and cached
            self.assertEqual(srv.device_get(old, "/device")[0], 200)
        self.assertTrue(srv.refused(new, "/device"))  # not the one bound

        # another process moves the binding (the write an EST rotation
        # completed on another gateway makes): the row and, through the
        # trigger, the store's identity counter
        fp, serial = binding_of(new)
        srv.query("UPDATE devices SET fingerprint = '%s', serial = '%s'"
                  " WHERE uuid = '%s'" % (fp, serial, old["uuid"]))
        t0 = time.monotonic()
        took = until(lambda: srv.refused(old, "/device"), POLL + 5)
        self.assertIsNotNone(took, "the old certificate is still served "
                             "after the binding moved")
        took = time.monotonic() - t0
        print("\n[devcache] %s: old certificate refused %.2f s after the "
              "binding moved (poll interval %.0f s)" % (c.STORAGE, took,
                                                         POLL))
        self.assertLess(took, POLL + 3)
        self.assertEqual(srv.device_get(new, "/device")[0], 200)
        self.assertEqual(srv.device_get(other, "/device")[0], 200)

        # and back, while the record is cached with `new`: the certificate
        # now bound is accepted at once, before any poll
        fp, serial = binding_of(old)
        srv.query("UPDATE devices SET fingerprint = '%s', serial = '%s'"
                  " WHERE uuid = '%s'" % (fp, serial, old["uuid"]))
        self.assertEqual(srv.device_get(old, "/device")[0], 200)
        self.assertTrue(srv.refused(new, "/device"))

    def test_binding_moved_elsewhere_new_certificate_at_once(self):
        # no identity poll during the test: only the re-read of a record
        # that refuses can accept the certificate now bound
        srv = self.start({"identity_poll_interval": "3600"})
        old = c.device_cert(srv.pki, self.tmp, "old")
        new = c.device_cert(srv.pki, self.tmp, "new", uuid=old["uuid"])
        for _ in range(3):
            self.assertEqual(srv.device_get(old, "/device")[0], 200)
        fp, serial = binding_of(new)
        srv.query("UPDATE devices SET fingerprint = '%s', serial = '%s'"
                  " WHERE uuid = '%s'" % (fp, serial, old["uuid"]))
        self.assertEqual(srv.device_get(new, "/device")[0], 200)
        self.assertTrue(srv.refused(old, "/device"))

    def test_deny_here_refuses_at_once(self):
        srv = self.start({})
        dev = c.device_cert(srv.pki, self.tmp, "stolen")
        for _ in range(3):
            self.assertEqual(srv.device_get(dev, "/device")[0], 200)
        conn = srv.device(dev)
        conn.request("GET", "/device")
        r = conn.getresponse()
        r.read()
        self.assertEqual(r.status, 200)
        st, _ = srv.admin("POST", "/devices/%s/deny" % dev["uuid"],
                          {"reason": "stolen"})
        self.assertEqual(st, 200)
        self.assertTrue(srv.refused(dev, "/device"))  # no wait
        conn.request("GET", "/device")
        r = conn.getresponse()
        r.read()
        self.assertEqual(r.status, 403)
        conn.close()
        self.assertEqual(srv.admin(
            "DELETE", "/devices/%s/deny" % dev["uuid"])[0], 200)
        self.assertEqual(srv.device_get(dev, "/device")[0], 200)

    def test_last_seen_batched_then_written_at_shutdown(self):
        # no timer flush within the test: only the shutdown writes
        srv = self.start({"last_seen_interval": "0",
                          "last_seen_flush_interval": "3600"})
        dev = c.device_cert(srv.pki, self.tmp, "late")
        self.assertEqual(srv.device_get(dev, "/device")[0], 200)
        time.sleep(1.1)
        t = int(time.time())
        self.assertEqual(srv.device_get(dev, "/repo/timestamp.json")[0], 200)
        seen = int(self.row(dev["uuid"], "last_seen")[0])
        self.assertLess(seen, t)  # still pending
        self.assertEqual(srv.stop(), 0)
        self.srv = None
        seen = int(self.row(dev["uuid"], "last_seen", srv)[0])
        self.assertGreaterEqual(seen, t)

    def test_last_seen_flushed_on_the_timer_and_nothing_else(self):
        srv = self.start({"last_seen_interval": "0",
                          "last_seen_flush_interval": "1"})
        dev = c.device_cert(srv.pki, self.tmp, "timer")
        tags = {"x-ats-tags": "prod"}
        # a new tag is written at once, not batched
        self.assertEqual(srv.device_get(dev, "/device", tags)[0], 200)
        self.assertEqual(self.row(dev["uuid"], "tag")[0], "prod")
        # another process renames the device while this gateway holds
        # its record
        srv.query("UPDATE devices SET name = 'renamed elsewhere'"
                  " WHERE uuid = '%s'" % dev["uuid"])
        time.sleep(1.1)
        t = int(time.time())
        self.assertEqual(srv.device_get(dev, "/repo/timestamp.json",
                                        tags)[0], 200)
        took = until(lambda: int(self.row(dev["uuid"], "last_seen")[0])
                     >= t, 5)
        self.assertIsNotNone(took, "last seen not written by the timer")
        name, tag = self.row(dev["uuid"], "name, tag")
        self.assertEqual(name, "renamed elsewhere")
        self.assertEqual(tag, "prod")


if __name__ == "__main__":
    unittest.main()
