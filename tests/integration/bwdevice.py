"""bulwark-device fixtures: a TUF repository written here (ed25519 keys
from the `cryptography` package, canonical JSON as securesystemslib
defines it for ASCII data), a small HTTP(S) server for it that speaks
Range, can cut a transfer short, can serve tampered bytes, records
x-ats-tags and accepts POST /events, a device (real bulwark-device
process, real SQLite state, real slot files), the DeviceTest base class
and the power-loss cases every bootloader backend runs.

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
NO_ROLLBACK_TARGET, ROLLBACK_REBOOT = 21, 120


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


class PowerLossCases:
    """Mixed into a DeviceTest (test_device.py, test_device_bootloaders.py):
    kill the agent after each durable write of each step; the next
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

    def test_kill_during_operator_rollback(self):
        """Back to the previous slot, cut after any write: asking again
        finishes it and never flips back to the slot rolled back from."""
        self.standard_repo()
        self.update_to_v2()
        base = self.snapshot("two-good")
        n = 1
        while True:
            self.restore(base)
            p = self.dev.run("rollback", env={
                "BW_DEVICE_CRASH_AFTER_WRITES": str(n)})
            if p.returncode != -signal.SIGKILL:
                self.assertExit(p, ROLLBACK_REBOOT)
                break
            b = self.boot()
            self.assertExit(b, OK)
            self.check_boot_is_verified(b)
            # 120: the cut came before the switch; 21: it was done.
            self.assertIn(self.dev.run("rollback").returncode,
                          (ROLLBACK_REBOOT, NO_ROLLBACK_TARGET))
            st = self.dev.status()
            self.assertIn("current: factory", st)
            self.assertIn("slot B: bad", st)
            self.assertIn("pending: none", st)
            b = self.boot()
            self.assertIn("slot A", b.stdout)
            self.check_boot_is_verified(b)
            n += 1
        self.assertGreaterEqual(n, 2)
