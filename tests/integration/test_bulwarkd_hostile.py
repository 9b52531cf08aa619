"""bulwarkd under hostile clients and crashes: slow handshakes, half-open
connections, oversized headers, pipelined garbage, connection floods, and
kill -9 in the middle of uploads (no accepted data lost, database
consistent). Every loop is bounded in count and time."""
import json
import os
import random
import shutil
import socket
import ssl
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bwserver as c  # noqa: E402


class HostileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="bwd-hostile-")
        cls.srv = c.Server(cls.dir, c.Tuf(), extra={
            "server": {"max_connections": "40", "max_header_bytes": "4096"}
        }).start()
        cls.srv.seed()
        cls.dev = c.device_cert(cls.srv.pki, cls.dir, "good")

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        shutil.rmtree(cls.dir)
        assert rc == 0, rc

    def assert_serves(self):
        st, _, _ = self.srv.device_get(self.dev, "/repo/timestamp.json")
        self.assertEqual(st, 200)
        self.assertIsNone(self.srv.proc.poll())

    def raw(self):
        return socket.create_connection(("127.0.0.1", self.srv.gw_port), 5)

    def tls(self):
        ctx = self.srv.ctx(self.dev["cert"], self.dev["key"])
        return ctx.wrap_socket(self.raw())

    def test_slow_handshake_is_cut_off(self):
        s = self.raw()
        s.sendall(b"\x16\x03\x01")  # the start of a ClientHello, then nothing
        self.assert_serves()
        s.settimeout(10)
        t0 = time.time()
        self.assertEqual(s.recv(100), b"")  # closed by the server
        self.assertLess(time.time() - t0, 8)
        s.close()

    def test_half_open_connections(self):
        socks = [self.raw() for _ in range(25)]
        for i, s in enumerate(socks):
            if i % 2:
                s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        self.assert_serves()
        for s in socks:
            s.shutdown(socket.SHUT_WR)  # half-close: never read the answer
        self.assert_serves()
        for s in socks:
            s.close()

    def test_connection_flood_beyond_the_cap(self):
        socks = [self.raw() for _ in range(60)]
        time.sleep(0.2)
        self.assertIsNone(self.srv.proc.poll())
        for s in socks:
            s.close()
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                self.assert_serves()
                return
            except (AssertionError, ssl.SSLError, OSError):
                time.sleep(0.2)
        self.assert_serves()

    def test_oversized_headers(self):
        s = self.tls()
        s.sendall(b"GET /repo/timestamp.json HTTP/1.1\r\nHost: x\r\n" +
                  b"X-Big: " + b"a" * 20000 + b"\r\n\r\n")
        s.settimeout(10)
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (ssl.SSLError, ConnectionError):
            pass
        self.assertNotIn(b"200 OK", data)
        s.close()
        self.assert_serves()

    def test_pipelined_garbage(self):
        s = self.tls()
        s.sendall(b"GET /device HTTP/1.1\r\nHost: x\r\n\r\n" +
                  b"\x00\xffGARBAGE \r\n\r\n" * 200 +
                  b"GET /device HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(10)
        data = b""
        try:
            while len(data) < 1 << 20:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (ssl.SSLError, ConnectionError, socket.timeout):
            pass
        self.assertTrue(data.startswith(b"HTTP/1.1 200"))
        s.close()
        self.assert_serves()

    def test_plain_http_on_tls_port(self):
        s = self.raw()
        s.sendall(b"GET /repo/timestamp.json HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(10)
        try:
            data = s.recv(4096)
        except ConnectionError:
            data = b""
        self.assertNotIn(b"200", data)
        s.close()
        self.assert_serves()

    def test_random_bytes_after_handshake(self):
        rnd = random.Random(5)
        for _ in range(20):
            s = self.tls()
            s.sendall(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 3000))))
            s.close()
        self.assert_serves()


class KillTest(unittest.TestCase):
    """kill -9 while an operator adds CI targets: everything answered 200
    is still there after a restart, and the metadata chain is whole."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="bwd-kill-")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def check_consistent(self, srv, accepted):
        self.assertTrue(srv.db_consistent())
        dev = c.device_cert(srv.pki, self.dir, "checker")
        _, _, ts = srv.device_get(dev, "/repo/timestamp.json")
        snapv = json.loads(ts)["signed"]["meta"]["snapshot.json"]["version"]
        st, _, snap = srv.device_get(dev, "/repo/%d.snapshot.json" % snapv)
        self.assertEqual(st, 200)
        tv = json.loads(snap)["signed"]["meta"]["targets.json"]["version"]
        _, _, tg = srv.device_get(dev, "/repo/targets.json")
        self.assertEqual(json.loads(tg)["signed"]["version"], tv)
        names = set(json.loads(tg)["signed"]["targets"])
        self.assertTrue(accepted <= names, accepted - names)

    def test_kill9_during_uploads(self):
        tuf = c.Tuf()
        srv = c.Server(self.dir, tuf)
        srv.start()
        srv.seed()
        accepted = {"fw-ci-1"}
        try:
            for rnd in range(3):
                stop = threading.Event()

                def uploader(r=rnd):
                    i = 0
                    while not stop.is_set() and i < 500:
                        name = "kill-%d-%d" % (r, i)
                        i += 1
                        try:
                            st, _ = srv.admin("POST", "/repo/ci/targets/add",
                                              dict(c.fileinfo(name.encode()),
                                                   name=name))
                        except (OSError, ssl.SSLError, c.http.client.HTTPException):
                            return
                        if st == 200:
                            accepted.add(name)
                th = threading.Thread(target=uploader)
                th.start()
                time.sleep(0.3 + 0.2 * rnd)
                srv.kill()  # SIGKILL
                stop.set()
                th.join(30)
                srv.start()
                self.check_consistent(srv, accepted)
            self.assertGreater(len(accepted), 3)
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main()
