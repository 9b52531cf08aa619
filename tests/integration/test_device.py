"""bulwark-device against real parts on 127.0.0.1.

A TUF repository written here (ed25519 keys from the `cryptography`
package, canonical JSON as securesystemslib defines it for ASCII data) is
served by a small HTTP(S) server that speaks Range, can cut a transfer
short, can serve tampered bytes, records x-ats-tags, and accepts
POST /events. The agent runs as a real process with a real SQLite state,
real slot files and real fsyncs; the power-loss test kills it (SIGKILL)
after every durable write of pull/install/boot/run.

Environment: BW_BINARY_DIR (build dir with bulwark-device).
"""

import hashlib
import http.server
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives import serialization

SOURCE_DIR = os.environ.get(
    "BW_SOURCE_DIR",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BINARY_DIR = os.environ.get("BW_BINARY_DIR", os.path.join(SOURCE_DIR, "build"))
AGENT = os.path.join(BINARY_DIR, "bulwark-device")

VALID = "2099-01-01T00:00:00Z"
EXPIRED = "2020-01-01T00:00:00Z"
HWID = "board-x"
TAG = "main"

# Exit codes (docs/device.md).
OK, CHECKIN_FAILED, NO_MATCH, TUF_INVALID, EXPIRED_MD = 0, 4, 6, 11, 12
UPDATE, NOT_FOUND, REFUSED, PENDING, NO_PENDING = 16, 20, 22, 30, 40
DL_FAILED, VERIFY_FAILED, REBOOT, ROLLED_BACK = 50, 70, 100, 110


# ---- a TUF repository ------------------------------------------------------


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


class Key:
    def __init__(self, seed_name):
        seed = hashlib.sha256(b"bulwark device test " +
                              seed_name.encode()).digest()
        self.sk = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
        pub = self.sk.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.meta = {"keytype": "ed25519", "scheme": "ed25519",
                     "keyval": {"public": pub.hex()}}
        self.keyid = hashlib.sha256(canonical(self.meta)).hexdigest()

    def sign(self, signed):
        return {"keyid": self.keyid,
                "sig": self.sk.sign(canonical(signed)).hex()}


def envelope(signed, keys):
    return {"signatures": [k.sign(signed) for k in keys], "signed": signed}


class Repo:
    """Top-level TUF metadata and target files in DIR/repo."""

    def __init__(self, top, production=False):
        self.top = top
        self.md = os.path.join(top, "repo")
        self.tg = os.path.join(self.md, "targets")
        os.makedirs(self.tg, exist_ok=True)
        self.k = {n: Key(n) for n in ("root", "targets", "snapshot",
                                      "timestamp", "offline")}
        self.production = production
        self.targets = {}
        self.version = 0
        self.expires = {r: VALID for r in ("targets", "snapshot",
                                           "timestamp")}

    def root(self, production=None):
        prod = self.production if production is None else production
        tkeys = ["targets", "offline"] if prod else ["targets"]
        signed = {
            "_type": "root", "spec_version": "1.0.31", "version": 1,
            "expires": VALID, "consistent_snapshot": False,
            "keys": {self.k[n].keyid: self.k[n].meta for n in self.k},
            "roles": {
                "root": {"keyids": [self.k["root"].keyid], "threshold": 1},
                "targets": {"keyids": [self.k[n].keyid for n in tkeys],
                            "threshold": len(tkeys)},
                "snapshot": {"keyids": [self.k["snapshot"].keyid],
                             "threshold": 1},
                "timestamp": {"keyids": [self.k["timestamp"].keyid],
                              "threshold": 1},
            }}
        return canonical(envelope(signed, [self.k["root"]]))

    def add(self, name, data, version, hwids=(HWID,), tags=(TAG,),
            bootfw=None):
        with open(os.path.join(self.tg, name), "wb") as f:
            f.write(data)
        custom = {"version": version, "hardwareIds": list(hwids),
                  "tags": list(tags)}
        if bootfw is not None:
            custom["bootfirmware_version"] = bootfw
        self.targets[name] = {
            "length": len(data),
            "hashes": {"sha256": hashlib.sha256(data).hexdigest()},
            "custom": custom}

    def publish(self, signers=None):
        """Sign targets (by signers: default all the root wants),
        snapshot and timestamp with the next version."""
        self.version += 1
        v = self.version
        tsigned = {"_type": "targets", "spec_version": "1.0.31",
                   "version": v, "expires": self.expires["targets"],
                   "targets": self.targets}
        if signers is None:
            signers = ["targets", "offline"] if self.production else \
                ["targets"]
        tb = canonical(envelope(tsigned, [self.k[n] for n in signers]))
        ssigned = {"_type": "snapshot", "spec_version": "1.0.31",
                   "version": v, "expires": self.expires["snapshot"],
                   "meta": {"targets.json": {"version": v}}}
        sb = canonical(envelope(ssigned, [self.k["snapshot"]]))
        tssigned = {"_type": "timestamp", "spec_version": "1.0.31",
                    "version": v, "expires": self.expires["timestamp"],
                    "meta": {"snapshot.json": {"version": v}}}
        tsb = canonical(envelope(tssigned, [self.k["timestamp"]]))
        for name, b in (("targets.json", tb), ("snapshot.json", sb),
                        ("timestamp.json", tsb), ("1.root.json",
                                                  self.root())):
            with open(os.path.join(self.md, name), "wb") as f:
                f.write(b)


# ---- the server -------------------------------------------------------------


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _record(self):
        s = self.server
        with s.lock:
            s.log.append((self.command, self.path,
                          self.headers.get("x-ats-tags"),
                          self.headers.get("Range")))

    def do_GET(self):
        self._record()
        s = self.server
        # bulwarkd's layout: /repo/<metadata>, /targets/<file>.
        if self.path.startswith("/targets/"):
            rel = "repo" + self.path
        elif self.path.startswith("/repo/"):
            rel = self.path.lstrip("/")
        else:
            return self._plain(404, b"not found")
        if ".." in rel:
            return self._plain(404, b"not found")
        fs = os.path.join(s.top, rel)
        if not os.path.isfile(fs):
            return self._plain(404, b"not found")
        with open(fs, "rb") as f:
            body = f.read()
        name = os.path.basename(fs)
        body = s.tamper.get(name, body)
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(body):
                return self._plain(416, b"range")
        self.send_response(206 if rng else 200)
        if rng:
            self.send_header("Content-Range", "bytes %d-%d/%d" %
                             (start, len(body) - 1, len(body)))
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        delay = s.slow.get(name)
        if delay is not None:
            # Drip 64 KiB at a time so a test can pull the plug mid-way.
            for i in range(start, len(body), 65536):
                try:
                    self.wfile.write(body[i:i + 65536])
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(delay)
            return
        cut = s.cut.pop(name, None)
        if cut is not None:
            # Announce everything, send cut bytes, hang up: a dropped link.
            self.wfile.write(body[start:start + cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body[start:])

    def do_POST(self):
        self._record()
        s = self.server
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        if self.path == "/events":
            if s.events_down:
                return self._plain(s.events_down, b"down")
            with s.lock:
                s.events.extend(json.loads(body))
            return self._plain(200, b"{}")
        if self.path == "/sign" and s.sign is not None:
            code, answer = s.sign(self.headers, body)
            return self._plain(code, answer)
        return self._plain(404, b"not found")

    def _plain(self, code, body):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass

    def verify_request(self, request, client_address):
        with self.lock:
            self.connections += 1  # one TLS handshake each
        return True


class RepoServer:
    """HTTP(S) on 127.0.0.1 for a Repo; tls=(cert, key, client_ca|None)."""

    def __init__(self, top, tls=None, sign=None):
        self.httpd = Server(("127.0.0.1", 0), Handler)
        h = self.httpd
        h.top, h.lock, h.log, h.events = top, threading.Lock(), [], []
        h.tamper, h.cut, h.events_down, h.sign = {}, {}, False, sign
        h.connections = 0
        h.slow = {}
        self.scheme = "http"
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            if tls[2] is not None:
                ctx.load_verify_locations(tls[2])
                ctx.verify_mode = ssl.CERT_REQUIRED
            h.socket = ctx.wrap_socket(h.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=h.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % (self.scheme,
                                      self.httpd.server_address[1])

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(timeout=10)
            self.httpd = None


# ---- the device ---------------------------------------------------------------


class Device:
    def __init__(self, top, url, extra=""):
        self.top = top
        self.state = os.path.join(top, "state")
        self.slots = os.path.join(top, "slots")
        os.makedirs(self.slots, exist_ok=True)
        self.slot = [os.path.join(self.slots, "slot-a.img"),
                     os.path.join(self.slots, "slot-b.img")]
        with open(self.slot[0], "wb") as f:
            f.write(b"factory image\n")
        self.config = os.path.join(top, "device.ini")
        self.write_config(url, extra)

    def write_config(self, url, extra=""):
        with open(self.config, "w") as f:
            f.write("[server]\nurl = %s\n[device]\nstate_dir = %s\n"
                    "hardware_id = %s\ntag = %s\n[update]\nslot_a = %s\n"
                    "slot_b = %s\nboot_attempts = 3\ninterval = 1\n"
                    "jitter = 0\nlow_speed_time = 5\n%s"
                    % (url, self.state, HWID, TAG, self.slot[0],
                       self.slot[1], extra))

    def run(self, *args, env=None, timeout=120):
        e = dict(os.environ)
        e.pop("BW_DEVICE_CRASH_AFTER_WRITES", None)
        e.update(env or {})
        p = subprocess.run([AGENT] + list(args) + ["--config", self.config],
                           capture_output=True, text=True, timeout=timeout,
                           env=e)
        return p

    def provision(self, root_bytes):
        path = os.path.join(self.top, "root.json")
        with open(path, "wb") as f:
            f.write(root_bytes)
        p = self.run("provision", "--root", path)
        assert p.returncode == 0, p.stderr
        return p

    def status(self):
        return self.run("status").stdout


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def image(name, size):
    """Deterministic image bytes, distinct per name."""
    block = hashlib.sha256(name.encode()).digest() * 2048
    out = bytearray()
    while len(out) < size:
        out += block
    return bytes(out[:size])


class DeviceTest(unittest.TestCase):
    production = False

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bw-device-")
        self.repo = Repo(os.path.join(self.tmp, "server"),
                         production=self.production)
        self.srv = RepoServer(self.repo.top)
        self.dev = Device(os.path.join(self.tmp, "device"), self.srv.url)
        self.dev.provision(self.repo.root())

    def tearDown(self):
        self.srv.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def assertExit(self, p, code):
        self.assertEqual(p.returncode, code,
                         "exit %d, wanted %d\nstdout: %s\nstderr: %s" %
                         (p.returncode, code, p.stdout, p.stderr))

    def standard_repo(self, v2_size=300000, **kw):
        self.v1 = image("fw-1", 200000)
        self.v2 = image("fw-2", v2_size)
        self.repo.add("fw-1", self.v1, "1")
        self.repo.add("fw-2", self.v2, "2", **kw)
        self.repo.add("other-board", image("o", 1000), "9", hwids=("b-y",))
        self.repo.add("other-tag", image("t", 1000), "8", tags=("beta",))
        self.repo.publish()

    def update_to_v2(self):
        self.assertExit(self.dev.run("pull"), OK)
        self.assertExit(self.dev.run("install"), REBOOT)
        self.assertExit(self.boot(), OK)
        self.assertExit(self.dev.run("run"), OK)

    def event_types(self):
        return [e["eventType"]["id"] for e in self.srv.httpd.events]

    def boot(self):
        """Power the device on: the bootloader picks a slot (here the
        simulated one; test_device_bootloaders.py drives real envs)."""
        return self.dev.run("boot")

    def step(self, name, env=None):
        return self.boot() if name == "boot" else self.dev.run(name, env=env)


class Lifecycle(DeviceTest):
    def test_check_pull_install_boot_run(self):
        self.standard_repo()
        p = self.dev.run("check")
        self.assertExit(p, UPDATE)
        self.assertIn("fw-2", p.stdout)
        self.assertNotIn("other-board", p.stdout)
        self.assertNotIn("other-tag", p.stdout)
        tags = {t for (_, path, t, _) in self.srv.httpd.log
                if path.startswith(("/repo/", "/targets/"))}
        self.assertEqual(tags, {TAG})
        self.assertExit(self.dev.run("list"), UPDATE)
        self.assertExit(self.dev.run("install"), NOT_FOUND)  # nothing pulled
        self.assertExit(self.dev.run("pull"), OK)
        self.assertExit(self.dev.run("install"), REBOOT)
        self.assertEqual(sha(self.dev.slot[1]),
                         hashlib.sha256(self.v2).hexdigest())
        self.assertExit(self.dev.run("install"), PENDING)
        self.assertExit(self.dev.run("run"), REBOOT)  # not rebooted yet
        p = self.dev.run("boot")
        self.assertExit(p, OK)
        self.assertIn("slot B", p.stdout)
        self.assertExit(self.dev.run("run"), OK)
        st = self.dev.status()
        self.assertIn("current: fw-2 version 2", st)
        self.assertExit(self.dev.run("run"), NO_PENDING)
        self.assertExit(self.dev.run("check"), OK)  # up to date
        types = self.event_types()
        for t in ("EcuDownloadStarted", "EcuDownloadCompleted",
                  "EcuInstallationStarted", "EcuInstallationApplied",
                  "EcuInstallationCompleted"):
            self.assertIn(t, types)
        done = [e for e in self.srv.httpd.events
                if e["eventType"]["id"] == "EcuInstallationCompleted"]
        self.assertTrue(done[-1]["event"]["success"])
        self.assertEqual(done[-1]["event"]["targetName"], "fw-2")
        self.assertEqual(len({e["event"]["correlationId"] for e in done}), 1)
        self.assertEqual(len({e["id"] for e in self.srv.httpd.events}),
                         len(self.srv.httpd.events))

    def test_pull_interrupted_then_resumed(self):
        self.standard_repo(v2_size=3 * 1024 * 1024)
        self.srv.httpd.cut["fw-2"] = 1024 * 1024
        self.assertExit(self.dev.run("pull"), DL_FAILED)
        parts = [f for f in os.listdir(os.path.join(self.dev.state,
                                                    "downloads"))
                 if f.endswith(".part")]
        self.assertEqual(len(parts), 1)
        size = os.path.getsize(os.path.join(self.dev.state, "downloads",
                                            parts[0]))
        self.assertGreater(size, 0)
        self.assertLess(size, len(self.v2))
        self.assertExit(self.dev.run("pull"), OK)
        ranges = [r for (_, path, _, r) in self.srv.httpd.log
                  if path.endswith("/fw-2") and r]
        self.assertEqual(ranges, ["bytes=%d-" % size])
        self.assertExit(self.dev.run("install"), REBOOT)
        self.assertEqual(sha(self.dev.slot[1]),
                         hashlib.sha256(self.v2).hexdigest())

    def test_progress_bar_on_a_terminal(self):
        import pty
        self.standard_repo(v2_size=2 * 1024 * 1024)
        master, slave = pty.openpty()
        try:
            p = subprocess.run([AGENT, "pull", "--config", self.dev.config],
                               stdout=slave, stderr=subprocess.PIPE,
                               timeout=60)
            os.close(slave)
            slave = None
            out = b""
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
        finally:
            if slave is not None:
                os.close(slave)
            os.close(master)
        self.assertEqual(p.returncode, OK, p.stderr)
        self.assertIn(b"100% 2/2 MiB", out)
        self.assertIn(b"\r[", out)
        # Not a terminal: no bar.
        self.assertNotIn("%", self.dev.run("pull", "--version", "1").stdout)

    def test_no_server_url(self):
        self.dev.write_config("")
        p = self.dev.run("check")
        self.assertExit(p, 1)
        self.assertIn("url is not set", p.stderr)

    def test_power_cut_during_download_resumes(self):
        self.standard_repo(v2_size=4 * 1024 * 1024)
        self.srv.httpd.slow["fw-2"] = 0.02
        dl = os.path.join(self.dev.state, "downloads")
        proc = subprocess.Popen([AGENT, "pull", "--config", self.dev.config],
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            part = None
            while time.monotonic() < deadline:
                parts = [f for f in os.listdir(dl) if f.endswith(".part")] \
                    if os.path.isdir(dl) else []
                if parts and os.path.getsize(os.path.join(dl, parts[0])) \
                        > 512 * 1024:
                    part = os.path.join(dl, parts[0])
                    break
                time.sleep(0.02)
            self.assertIsNotNone(part, "download never started")
            proc.send_signal(signal.SIGKILL)  # the plug
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        size = os.path.getsize(part)
        self.assertLess(size, len(self.v2))
        self.assertIn("download: partial fw-2", self.dev.status())
        del self.srv.httpd.slow["fw-2"]
        self.assertExit(self.dev.run("pull"), OK)
        ranges = [r for (_, path, _, r) in self.srv.httpd.log
                  if path.endswith("/fw-2") and r]
        self.assertEqual(ranges, ["bytes=%d-" % size])
        self.assertExit(self.dev.run("install"), REBOOT)
        self.assertEqual(sha(self.dev.slot[1]),
                         hashlib.sha256(self.v2).hexdigest())

    def test_offline_bundle_resumes_from_part(self):
        """file:// (an offline bundle) resumes with a range read too."""
        self.standard_repo(v2_size=1024 * 1024)
        self.dev.write_config("file://" + self.repo.top,
                              "[server]\ntargets_url = file://%s/repo/"
                              "targets/\nevents_url =\n" % self.repo.top)
        self.assertExit(self.dev.run("check"), UPDATE)
        dl = os.path.join(self.dev.state, "downloads")
        os.makedirs(dl, exist_ok=True)
        part = os.path.join(dl, hashlib.sha256(self.v2).hexdigest() +
                            ".img.part")
        with open(part, "wb") as f:
            f.write(self.v2[:300000])
        self.assertExit(self.dev.run("pull"), OK)
        self.assertExit(self.dev.run("install"), REBOOT)
        self.assertEqual(sha(self.dev.slot[1]),
                         hashlib.sha256(self.v2).hexdigest())

    def test_corrupted_part_is_dropped(self):
        """A part whose bytes are not a prefix of the target fails the
        hash, is deleted, and the next pull starts from byte 0."""
        self.standard_repo(v2_size=2 * 1024 * 1024)
        self.srv.httpd.cut["fw-2"] = 512 * 1024
        self.assertExit(self.dev.run("pull"), DL_FAILED)
        dl = os.path.join(self.dev.state, "downloads")
        part = [os.path.join(dl, f) for f in os.listdir(dl)][0]
        with open(part, "r+b") as f:
            f.write(b"\xff" * 100)
        self.assertExit(self.dev.run("pull"), VERIFY_FAILED)
        self.assertFalse(os.path.exists(part))
        self.assertExit(self.dev.run("install"), NOT_FOUND)
        self.assertExit(self.dev.run("pull"), OK)
        ranges = [r for (_, path, _, r) in self.srv.httpd.log
                  if path.endswith("/fw-2")]
        self.assertEqual(ranges[-1], None)  # from byte 0

    def test_operator_cancels_pending_install(self):
        self.standard_repo()
        self.assertExit(self.dev.run("pull"), OK)
        self.assertExit(self.dev.run("install"), REBOOT)
        self.assertExit(self.dev.run("rollback"), ROLLED_BACK)
        st = self.dev.status()
        self.assertIn("pending: none", st)
        self.assertIn("slot B: bad", st)
        p = self.dev.run("boot")
        self.assertIn("slot A", p.stdout)
        self.assertExit(self.dev.run("run"), NO_PENDING)
        p = self.dev.run("check")
        self.assertIn("update available: fw-1", p.stdout)

    def test_tampered_target_refused_before_install(self):
        self.standard_repo()
        bad = bytearray(self.v2)
        bad[1000] ^= 1
        self.srv.httpd.tamper["fw-2"] = bytes(bad)
        self.assertExit(self.dev.run("pull"), VERIFY_FAILED)
        self.assertExit(self.dev.run("install"), NOT_FOUND)
        self.assertFalse(os.path.exists(self.dev.slot[1]))
        self.assertEqual(os.listdir(os.path.join(self.dev.state,
                                                 "downloads")), [])
        # A longer body than signed is cut at the signed length.
        self.srv.httpd.tamper["fw-2"] = self.v2 + b"x" * 100000
        self.assertExit(self.dev.run("pull"), VERIFY_FAILED)
        del self.srv.httpd.tamper["fw-2"]
        self.assertExit(self.dev.run("pull"), OK)

    def test_boot_fails_three_times_falls_back(self):
        self.standard_repo()
        self.assertExit(self.dev.run("pull"), OK)
        self.assertExit(self.dev.run("install"), REBOOT)
        for _ in range(3):  # the new slot never reaches `run`
            p = self.dev.run("boot")
            self.assertExit(p, OK)
            self.assertIn("slot B", p.stdout)
        p = self.dev.run("boot")
        self.assertIn("slot A", p.stdout)
        self.assertExit(self.dev.run("run"), ROLLED_BACK)
        st = self.dev.status()
        self.assertIn("slot B: bad", st)
        self.assertIn("current: factory", st)
        types = self.event_types()
        self.assertIn("EcuRollback", types)
        fail = [e for e in self.srv.httpd.events
                if e["eventType"]["id"] == "EcuInstallationCompleted"]
        self.assertFalse(fail[-1]["event"]["success"])
        # The failed target is not picked again automatically (fw-1 is
        # still newer than the factory image)...
        p = self.dev.run("check")
        self.assertExit(p, UPDATE)
        self.assertIn("update available: fw-1", p.stdout)
        self.assertIn("(failed here before)", p.stdout)
        # ...but may be named explicitly.
        self.assertExit(self.dev.run("pull", "--version", "2"), OK)

    def test_no_silent_downgrade_and_operator_rollback(self):
        self.standard_repo()
        self.update_to_v2()
        self.repo.targets.pop("fw-2")
        self.repo.publish()
        self.assertExit(self.dev.run("check"), OK)
        p = self.dev.run("pull")
        self.assertIn("nothing to pull", p.stdout)
        self.assertExit(self.dev.run("pull", "--version", "1"), OK)
        # Operator rollback: back to the factory slot A.
        self.assertExit(self.dev.run("rollback"), 120)
        self.assertIn("current: factory", self.dev.status())
        self.assertExit(self.dev.run("rollback"), 21)
        # Slot B still runs until the reboot: never written over.
        p = self.dev.run("install")
        self.assertExit(p, REBOOT)
        self.assertIn("still running", p.stderr)
        self.assertEqual(sha(self.dev.slot[1]),
                         hashlib.sha256(self.v2).hexdigest())
        self.assertIn("slot A", self.dev.run("boot").stdout)
        self.assertExit(self.dev.run("install"), REBOOT)
        self.assertEqual(sha(self.dev.slot[1]),
                         hashlib.sha256(self.v1).hexdigest())

    def test_boot_firmware_anti_rollback(self):
        self.standard_repo(bootfw=5)
        self.update_to_v2()
        self.repo.add("fw-3", image("fw-3", 1000), "3", bootfw=4)
        self.repo.publish()
        self.assertExit(self.dev.run("check"), UPDATE)
        self.assertExit(self.dev.run("pull"), REFUSED)
        self.dev.write_config(self.srv.url,
                              "rollback_protection = off\n")
        self.assertExit(self.dev.run("pull"), OK)

    def test_expired_metadata(self):
        self.standard_repo()
        self.assertExit(self.dev.run("check"), UPDATE)
        self.repo.expires["timestamp"] = EXPIRED
        self.repo.publish()
        p = self.dev.run("check")
        self.assertExit(p, EXPIRED_MD)
        self.assertIn("expired", p.stderr)

    def test_server_down_keeps_state(self):
        self.standard_repo()
        self.update_to_v2()
        before = self.dev.status()
        self.srv.stop()
        p = self.dev.run("check")
        self.assertExit(p, CHECKIN_FAILED)
        self.assertIn("unreachable", p.stderr)
        self.assertExit(self.dev.run("pull"), CHECKIN_FAILED)
        self.assertEqual(self.dev.status().split("last check-in")[0],
                         before.split("last check-in")[0])
        self.assertExit(self.dev.run("list"), OK)  # cached, no network

    def test_events_survive_outage_and_are_bounded(self):
        self.standard_repo()
        self.dev.write_config(self.srv.url, "max_events = 3\n")
        self.srv.httpd.events_down = 503
        self.assertExit(self.dev.run("pull"), OK)
        self.assertExit(self.dev.run("install"), REBOOT)
        self.assertIn("events queued: 3", self.dev.status())
        self.srv.httpd.events_down = False
        self.assertExit(self.dev.run("send-events"), OK)
        self.assertIn("events queued: 0", self.dev.status())
        self.assertEqual(self.event_types(),
                         ["EcuDownloadCompleted", "EcuInstallationStarted",
                          "EcuInstallationApplied"])
        # A batch the server will never take (400) is dropped, not retried
        # forever in front of every later event.
        self.srv.httpd.events_down = 400
        self.assertExit(self.dev.run("boot"), OK)
        p = self.dev.run("run")
        self.assertExit(p, OK)
        self.assertIn("refused by the server, dropped", p.stderr)
        self.assertIn("events queued: 0", self.dev.status())

    def test_daemon_installs_and_stops_for_reboot(self):
        self.standard_repo()
        p = self.dev.run("daemon", "--max-loops", "3", "--interval", "1")
        self.assertExit(p, REBOOT)
        self.assertIn("pending: slot B", self.dev.status())

    def test_daemon_confirms_after_reboot_then_checks(self):
        self.standard_repo()
        self.assertExit(self.dev.run("daemon", "--max-loops", "1"), REBOOT)
        self.assertExit(self.dev.run("daemon", "--max-loops", "1"), REBOOT)
        self.assertExit(self.dev.run("boot"), OK)
        p = self.dev.run("daemon", "--max-loops", "1")
        self.assertExit(p, OK)  # confirmed, then up to date
        self.assertIn("confirmed in slot B", p.stdout)
        self.assertIn("current: fw-2 version 2", self.dev.status())

    def test_one_agent_at_a_time(self):
        self.standard_repo()
        self.repo.targets.pop("fw-2")
        self.repo.targets.pop("fw-1")
        self.repo.publish()  # nothing to install: the daemon just waits
        d = subprocess.Popen([AGENT, "daemon", "--config", self.dev.config,
                              "--max-loops", "2", "--interval", "20"],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if "last check-in: never" not in self.dev.status():
                    break
                time.sleep(0.05)
            p = self.dev.run("check")
            self.assertExit(p, 1)
            self.assertIn("another bulwark-device", p.stderr)
            self.assertIn("pending: none", self.dev.status())  # read-only
        finally:
            d.kill()
            d.wait()
        self.assertExit(self.dev.run("check"), NO_MATCH)

    def test_daemon_backs_off_when_server_down(self):
        self.standard_repo()
        self.srv.stop()
        t0 = time.monotonic()
        p = self.dev.run("daemon", "--max-loops", "3", "--interval", "1")
        self.assertExit(p, CHECKIN_FAILED)
        # 2 s then 4 s: doubled per failed round.
        self.assertGreaterEqual(time.monotonic() - t0, 6)
        self.assertIn("next check in 4 s", p.stderr)


class Production(DeviceTest):
    production = True

    def test_production_root_accepts_only_production_targets(self):
        self.standard_repo()
        self.repo.publish(signers=["targets"])  # CI-signed only
        p = self.dev.run("check")
        self.assertExit(p, TUF_INVALID)
        self.assertExit(self.dev.run("pull"), TUF_INVALID)
        self.assertFalse(os.path.exists(self.dev.slot[1]))
        self.repo.publish()  # online + offline signatures
        self.assertExit(self.dev.run("check"), UPDATE)


class PowerLoss(DeviceTest):
    """Kill the agent after each durable write of each step; the next
    runs must recover and never boot an unverified slot."""

    STEPS = ("pull", "install", "boot", "run")

    def snapshot(self, name):
        dst = os.path.join(self.tmp, name)
        shutil.copytree(self.dev.top, dst, symlinks=True)
        return dst

    def restore(self, src):
        shutil.rmtree(self.dev.top)
        shutil.copytree(src, self.dev.top, symlinks=True)

    def check_boot_is_verified(self, p):
        """The slot `boot` picked holds exactly what the state says."""
        slot = 1 if "slot B" in p.stdout else 0
        if slot == 0:
            with open(self.dev.slot[0], "rb") as f:
                self.assertEqual(f.read(), b"factory image\n")
        else:
            self.assertEqual(sha(self.dev.slot[1]),
                             hashlib.sha256(self.v2).hexdigest())

    def finish(self, from_step):
        """Complete the update from from_step; every boot is checked."""
        i = self.STEPS.index(from_step)
        for step in self.STEPS[i:]:
            p = self.step(step)
            if step == "boot":
                self.check_boot_is_verified(p)
            # The killed step may have finished its change already.
            ok = (OK, REBOOT, NO_PENDING) + \
                ((PENDING,) if step == from_step else ())
            self.assertIn(p.returncode, ok,
                          "%s: %s %s" % (step, p.stdout, p.stderr))
        st = self.dev.status()
        self.assertIn("current: fw-2 version 2", st, st)
        self.assertIn("pending: none", st)
        # No stray download survives the cut (swept at start-up).
        self.assertEqual(os.listdir(os.path.join(self.dev.state,
                                                 "downloads")), [])

    def test_kill_at_every_durable_write(self):
        self.standard_repo(v2_size=2 * 1024 * 1024)
        kills = 0
        for step in self.STEPS:
            base = self.snapshot("before-" + step)
            n = 1
            while True:
                self.restore(base)
                p = self.step(step, env={
                    "BW_DEVICE_CRASH_AFTER_WRITES": str(n)})
                if p.returncode != -signal.SIGKILL:
                    break  # fewer than n writes: the step completed
                kills += 1
                self.assertIn("crash hook", p.stderr)
                # Power back: a boot right away must pick a verified slot.
                b = self.boot()
                self.assertExit(b, OK)
                self.check_boot_is_verified(b)
                self.restore(base)
                self.step(step, env={
                    "BW_DEVICE_CRASH_AFTER_WRITES": str(n)})
                self.finish(step)
                n += 1
            self.restore(base)
            self.assertIn(self.step(step).returncode, (OK, REBOOT))
        sys.stderr.write("power loss: %d kills survived\n" % kills)
        self.assertGreaterEqual(kills, 6)

    def test_kill_while_recording_a_fallback(self):
        self.standard_repo()
        self.assertExit(self.dev.run("pull"), OK)
        self.assertExit(self.dev.run("install"), REBOOT)
        for _ in range(4):  # three failed trials, then the fallback
            self.assertExit(self.boot(), OK)
        base = self.snapshot("fallback")
        n = 1
        while True:
            self.restore(base)
            p = self.dev.run("run", env={
                "BW_DEVICE_CRASH_AFTER_WRITES": str(n)})
            if p.returncode != -signal.SIGKILL:
                self.assertExit(p, ROLLED_BACK)
                break
            b = self.boot()
            self.assertIn("slot A", b.stdout)  # never the failed slot
            self.check_boot_is_verified(b)
            self.assertIn(self.dev.run("run").returncode,
                          (ROLLED_BACK, NO_PENDING))
            st = self.dev.status()
            self.assertIn("slot B: bad", st)
            self.assertIn("pending: none", st)
            self.assertIn("(failed here before)",
                          self.dev.run("list").stdout)
            n += 1
        self.assertGreaterEqual(n, 2)


if __name__ == "__main__":
    unittest.main()
