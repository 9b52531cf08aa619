"""Shared helpers for bulwark's integration tests.

- StaticServer: a static HTTP server on 127.0.0.1 (port picked by binding 0)
  in a thread, with optional misbehaving paths: "slow" paths drip their body
  one byte per interval, "endless" paths stream data forever (bounded by a
  hard cap so a broken client can not hang the test run).
- run_cli(): run bulwark-tuf-client with a timeout and captured output.
- read_versions(): versions of the top-level roles in a metadata dir.
- softhsm_token(): a fresh SoftHSM2 token in a directory of its own (the
  one place the tests set a token up).
- rsa_private_key_files(): files under a directory that hold the private
  half of an RSA key (raw DER, PEM, or inside a gzip'ed archive);
  decoded_blobs(): a file's bytes as that scan sees them.
- go_tlog_verifier(): the transparency-log verifier built from Go's
  golang.org/x/mod/sumdb/{tlog,note} (tests/tools/tlogverify).
- ScenarioRunner: runs one scenario directory laid out like
  $BW_VECTORS/python-tuf/<scenario> (expected.json, initial_root.json,
  metadata/, targets/ or state1/, state2/ ...) against the CLI.

Environment: BW_BINARY_DIR (build dir), BW_SOURCE_DIR, BW_VECTORS, and
optionally BW_TUF_CLIENT (another client program with the same CLI).
"""

import base64
import gzip
import hashlib
import http.server
import json
import os
import random
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

SOURCE_DIR = os.environ.get(
    "BW_SOURCE_DIR",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BINARY_DIR = os.environ.get("BW_BINARY_DIR", os.path.join(SOURCE_DIR, "build"))
VECTORS_DIR = os.environ.get(
    "BW_VECTORS", os.path.join(SOURCE_DIR, "..", "shared", "vectors"))
# BW_TUF_CLIENT runs the suites against another client with the same
# command-line interface (e.g. a wrapper around python-tuf or tuf-js).
CLI = os.environ.get("BW_TUF_CLIENT",
                     os.path.join(BINARY_DIR, "bulwark-tuf-client"))

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"


def softhsm_token(base, label, pin="1234", so_pin="5678"):
    """Initialise a SoftHSM2 token labelled label whose objects live in
    base/tokens (file backend). Returns the SOFTHSM2_CONF path to put into
    the environment of the programs that use it."""
    tokens = os.path.join(base, "tokens")
    os.makedirs(tokens, exist_ok=True)
    conf = os.path.join(base, "softhsm2.conf")
    with open(conf, "w") as f:
        f.write("directories.tokendir = %s\nobjectstore.backend = file\n"
                "log.level = ERROR\n" % tokens)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label",
                    label, "--pin", pin, "--so-pin", so_pin],
                   env=dict(os.environ, SOFTHSM2_CONF=conf), check=True,
                   capture_output=True, timeout=60)
    return conf


def _der_int(n):
    b = n.to_bytes((n.bit_length() + 8) // 8, "big")  # leading 0 if needed
    if len(b) < 0x80:
        return b"\x02" + bytes([len(b)]) + b
    ln = len(b).to_bytes((len(b).bit_length() + 7) // 8, "big")
    return b"\x02" + bytes([0x80 | len(ln)]) + ln + b


def decoded_blobs(data):
    """data, its gunzip'ed form and the base64 bodies of its PEM blocks."""
    out = [data]
    if data[:2] == b"\x1f\x8b":
        try:
            out.append(gzip.decompress(data))
        except (OSError, EOFError):
            pass
    for blob in list(out):
        for m in re.finditer(rb"-----BEGIN [A-Z ]*-----(.*?)-----END",
                             blob, re.S):
            try:
                out.append(base64.b64decode(m.group(1)))
            except ValueError:
                pass
    return out


def rsa_private_key_files(root, modulus):
    """Files under root holding an RSAPrivateKey (PKCS#1, also inside
    PKCS#8) of this modulus: version 0 followed by the modulus, the
    encoding no public key uses."""
    needle = b"\x02\x01\x00" + _der_int(modulus)
    hits = []
    for top, _, files in os.walk(root):
        for name in files:
            path = os.path.join(top, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            with open(path, "rb") as f:
                data = f.read()
            if any(needle in blob for blob in decoded_blobs(data)):
                hits.append(path)
    return hits


def go_tlog_verifier(cache_dir):
    """Build tests/tools/tlogverify/main.go (Debian's
    golang-golang-x-mod-dev, offline) once into cache_dir; its path."""
    out = os.path.join(cache_dir, "tlogverify")
    if not os.path.exists(out):
        env = dict(os.environ, GOPATH="/usr/share/gocode", GO111MODULE="off",
                   GOCACHE=os.path.join(cache_dir, "gocache"))
        p = subprocess.run(
            ["go", "build", "-o", out,
             os.path.join(SOURCE_DIR, "tests", "tools", "tlogverify",
                          "main.go")],
            capture_output=True, text=True, env=env, timeout=300)
        if p.returncode != 0:
            raise AssertionError("go build tlogverify: " + p.stderr)
    return out


TOP_LEVEL = ("root.json", "timestamp.json", "snapshot.json", "targets.json")

# Per CLI invocation. Refresh + one download of small files takes well under
# a second; the cap only matters when the client hangs.
CLI_TIMEOUT = 60


def softhsm_env(d):
    """The environment of a device whose token "dev1" lives in d."""
    return dict(os.environ, SOFTHSM2_CONF=softhsm_token(d, "dev1"))


def tool_path(name):
    """Path of a test tool built from tests/tools/<name>.c."""
    return os.path.join(BINARY_DIR, "tests", name)


# ---- HTTP server ----------------------------------------------------------


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files from server.root; slow and endless paths on request."""

    protocol_version = "HTTP/1.1"

    def __init__(self, request, client_address, server):
        super().__init__(request, client_address, server,
                         directory=server.root)

    def log_message(self, format, *args):  # noqa: A002 (quiet)
        pass

    def _url_path(self):
        return urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)

    def do_GET(self):
        path = self._url_path()
        with self.server.lock:
            self.server.requests.append(path)
        if path in self.server.endless:
            return self._send_endless()
        if path in self.server.slow:
            return self._send_slow(self.server.slow[path])
        if self.server.ranges and self.headers.get("Range"):
            return self._send_range(self.headers["Range"])
        return super().do_GET()

    def do_HEAD(self):
        path = self._url_path()
        with self.server.lock:
            self.server.requests.append(path)
        return super().do_HEAD()

    def _file_bytes(self):
        fs_path = self.translate_path(self.path)
        if not os.path.isfile(fs_path):
            return None
        with open(fs_path, "rb") as f:
            return f.read()

    def _send_range(self, spec):
        """One "bytes=N-" or "bytes=N-M" range: 206, or 416 past the end."""
        body = self._file_bytes()
        if body is None:
            return self.send_error(404)
        unit, _, rng = spec.partition("=")
        first, _, last = rng.partition("-")
        if (unit.strip() != "bytes" or not first.isdigit() or
                (last and not last.isdigit())):
            return super().do_GET()  # unsupported: ignore it like a server may
        start = int(first)
        end = min(int(last), len(body) - 1) if last else len(body) - 1
        if start >= len(body) or end < start:
            self.send_response(416)
            self.send_header("Content-Range", "bytes */%d" % len(body))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", "bytes %d-%d/%d" %
                         (start, end, len(body)))
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        self.wfile.write(body[start:end + 1])
        return None

    def _send_slow(self, interval):
        """Announce the real length, then drip one byte per interval."""
        body = self._file_bytes()
        if body is None:
            return self.send_error(404)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.flush()
        deadline = time.monotonic() + self.server.misbehave_limit_s
        for i in range(len(body)):
            if self.server.stopping.is_set() or time.monotonic() > deadline:
                break
            try:
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
            except OSError:
                break  # the client gave up: what the test wants
            with self.server.lock:
                self.server.bytes_sent[self._url_path()] = i + 1
            if self.server.stopping.wait(interval):
                break
        self.close_connection = True

    def _send_endless(self):
        """Stream data with no length until the client hangs up (or a cap)."""
        chunk = b" " * 65536
        self.protocol_version = "HTTP/1.0"  # body ends at close
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.end_headers()
        sent = 0
        deadline = time.monotonic() + self.server.misbehave_limit_s
        path = self._url_path()
        while (sent < self.server.endless_cap and
               time.monotonic() < deadline and
               not self.server.stopping.is_set()):
            try:
                self.wfile.write(chunk)
                self.wfile.flush()
            except OSError:
                break
            sent += len(chunk)
            with self.server.lock:
                self.server.bytes_sent[path] = sent
        self.close_connection = True


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # clients that hang up early are expected here


class StaticServer:
    """Serve a directory on 127.0.0.1 in a thread.

    slow: {url_path: seconds_per_byte}; endless: set of url paths;
    ranges: honour single "Range: bytes=N-[M]" requests (http.server's
    handler ignores Range, as some static servers do).
    misbehave_limit_s bounds how long a slow/endless response may last.
    Use as a context manager or call start()/stop().
    """

    def __init__(self, root, slow=None, endless=None, misbehave_limit_s=90,
                 endless_cap=1 << 30, ranges=False):
        self.root = os.path.abspath(root)
        self.ranges = ranges
        self.slow = dict(slow or {})
        self.endless = set(endless or ())
        self.misbehave_limit_s = misbehave_limit_s
        self.endless_cap = endless_cap
        self._httpd = None
        self._thread = None

    def start(self):
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.root = self.root
        httpd.slow = self.slow
        httpd.endless = self.endless
        httpd.misbehave_limit_s = self.misbehave_limit_s
        httpd.endless_cap = self.endless_cap
        httpd.ranges = self.ranges
        httpd.lock = threading.Lock()
        httpd.stopping = threading.Event()
        httpd.requests = []
        httpd.bytes_sent = {}
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
            daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._httpd is None:
            return
        self._httpd.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)
        self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        return self._httpd.server_address[1]

    @property
    def base_url(self):
        return "http://127.0.0.1:%d" % self.port

    def url(self, sub):
        return "%s/%s/" % (self.base_url, sub.strip("/"))

    @property
    def requests(self):
        with self._httpd.lock:
            return list(self._httpd.requests)

    def bytes_sent(self, path):
        with self._httpd.lock:
            return self._httpd.bytes_sent.get(path, 0)


# Listening ports come from below the kernel's ephemeral range
# (32768-60999): a port picked there and released could be taken by an
# outgoing connection of a test running in parallel before the server
# under test binds it.
_PORT_LOW, _PORT_HIGH = 20000, 32000


def until(pred, seconds):
    """Seconds until pred() held (polled every 20 ms), or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if pred():
            return time.monotonic() - t0
        time.sleep(0.02)
    return None


_ports_given = set()


def free_port():
    """A port nobody uses right now, for a server a test is about to start.
    Never one this process handed out before: a server takes its ports
    only when it starts, so two picked in a row could otherwise be equal."""
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(_PORT_LOW, _PORT_HIGH)
        if port in _ports_given:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            _ports_given.add(port)
            return port
    raise RuntimeError("no free port in %d-%d" % (_PORT_LOW, _PORT_HIGH))


# ---- the CLI ----------------------------------------------------------------


class CliResult:
    def __init__(self, args, returncode, stdout, stderr, elapsed, timed_out):
        self.args = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.elapsed = elapsed
        self.timed_out = timed_out

    def describe(self):
        return "$ %s\nexit %s%s after %.1fs\nstdout: %s\nstderr: %s" % (
            " ".join(self.args), self.returncode,
            " (TIMED OUT)" if self.timed_out else "", self.elapsed,
            self.stdout.strip()[-2000:], self.stderr.strip()[-2000:])


def run_cli(args, timeout=CLI_TIMEOUT):
    """Run bulwark-tuf-client with args; never raises on failure/timeout."""
    cmd = [CLI] + list(args)
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout)
        return CliResult(cmd, p.returncode,
                         p.stdout.decode("utf-8", "replace"),
                         p.stderr.decode("utf-8", "replace"),
                         time.monotonic() - start, False)
    except subprocess.TimeoutExpired as e:  # run() has killed the child
        return CliResult(cmd, None,
                         (e.stdout or b"").decode("utf-8", "replace"),
                         (e.stderr or b"").decode("utf-8", "replace"),
                         time.monotonic() - start, True)


def cli_init(metadata_dir, root_file):
    return run_cli(["--metadata-dir", metadata_dir, "init", root_file])


def cli_refresh(metadata_dir, metadata_url, extra=()):
    return run_cli(["--metadata-dir", metadata_dir, "--metadata-url",
                    metadata_url] + list(extra) + ["refresh"])


def cli_download(metadata_dir, metadata_url, target_base_url, target_dir,
                 names, extra=(), timeout=CLI_TIMEOUT):
    args = ["--metadata-dir", metadata_dir, "--metadata-url", metadata_url]
    for n in names:
        args += ["--target-name", n]
    args += ["--target-base-url", target_base_url, "--target-dir",
             target_dir] + list(extra) + ["download"]
    return run_cli(args, timeout=timeout)


def local_target_name(path):
    """File name the CLI stores a target under (python-tuf's convention)."""
    return urllib.parse.quote(path, safe="")


# ---- metadata dir ---------------------------------------------------------


def read_version(path):
    """signed.version of a metadata file, None if absent or unreadable."""
    try:
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8"))["signed"]["version"]
    except FileNotFoundError:
        return None


def read_versions(metadata_dir, names=TOP_LEVEL):
    return {n: read_version(os.path.join(metadata_dir, n)) for n in names}


def list_files(root):
    """Every file under root, as paths relative to it."""
    out = []
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            out.append(os.path.relpath(os.path.join(dirpath, f), root))
    return sorted(out)


# ---- scenario runner --------------------------------------------------------


class ScenarioRunner:
    """Run a scenario dir (vectors layout) inside a unittest.TestCase.

    Every check is one subTest named scenario/step/what, so a failure names
    its case and the other checks still run.
    """

    def __init__(self, testcase, scenario_dir, label=None):
        self.tc = testcase
        self.dir = scenario_dir
        self.name = label or os.path.basename(scenario_dir.rstrip("/"))
        with open(os.path.join(scenario_dir, "expected.json"), "rb") as f:
            self.expected = json.load(f)

    def steps(self):
        seq = self.expected.get("sequence")
        if seq:
            return [(s["state"], s) for s in seq]
        return [(None, self.expected)]

    def run(self):
        work = tempfile.mkdtemp(prefix="bw-%s-" % self.name[:40])
        try:
            self._run_in(work)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _run_in(self, work):
        tc = self.tc
        md = os.path.join(work, "metadata")
        os.mkdir(md)
        r = cli_init(md, os.path.join(self.dir, "initial_root.json"))
        with tc.subTest(scenario=self.name, check="init"):
            tc.assertEqual(r.returncode, 0, r.describe())
        if r.returncode != 0:
            return
        for idx, (state, step) in enumerate(self.steps()):
            served = os.path.join(self.dir, state) if state else self.dir
            label = state or "-"
            with StaticServer(served) as srv:
                self._run_step(work, md, idx, label, step, srv)

    @staticmethod
    def _is_served_content(root, target, local):
        """local holds the bytes served for target (plain or hash-prefixed
        name; a prefixed name must be the digest of those bytes)."""
        with open(local, "rb") as f:
            data = f.read()
        d, _, base = target.rpartition("/")
        tdir = os.path.join(root, "targets", d)
        plain = os.path.join(tdir, base)
        if os.path.isfile(plain):
            with open(plain, "rb") as f:
                if f.read() == data:
                    return True
        digests = {hashlib.sha256(data).hexdigest(),
                   hashlib.sha512(data).hexdigest()}
        for h in digests:
            p = os.path.join(tdir, "%s.%s" % (h, base))
            if os.path.isfile(p):
                with open(p, "rb") as f:
                    if f.read() == data:
                        return True
        return False

    def _run_step(self, work, md, idx, label, step, srv):
        tc = self.tc
        srv_root = srv.root
        meta_url = srv.url("metadata")
        tgt_url = srv.url("targets")
        why = step.get("reason", "")
        r = cli_refresh(md, meta_url)
        with tc.subTest(scenario=self.name, step=label, check="refresh"):
            tc.assertFalse(r.timed_out, r.describe())
            want = 0 if step["refresh"] == "ok" else 1
            tc.assertEqual(r.returncode, want, "expected refresh %s (%s)\n%s"
                           % (step["refresh"], why, r.describe()))
        after = step.get("metadata_dir_after")
        if after is not None:
            with tc.subTest(scenario=self.name, step=label,
                            check="metadata_dir_after"):
                got = read_versions(md, tuple(after.keys()))
                tc.assertEqual(got, after, "metadata dir after refresh "
                               "(%s)\n%s" % (why, r.describe()))
        reasons = step.get("download_reasons", {})
        for n, (target, outcome) in enumerate(sorted(
                step.get("download", {}).items())):
            # Nested two levels down so an escaping write is visible.
            base = os.path.join(work, "dl-%d-%d" % (idx, n))
            tdir = os.path.join(base, "targets")
            os.makedirs(tdir)
            r = cli_download(md, meta_url, tgt_url, tdir, [target])
            with tc.subTest(scenario=self.name, step=label, target=target):
                tc.assertFalse(r.timed_out, r.describe())
                why_t = reasons.get(target, why)
                if outcome == "ok":
                    tc.assertEqual(r.returncode, 0, "expected download ok "
                                   "(%s)\n%s" % (why_t, r.describe()))
                    tc.assertEqual(list_files(tdir),
                                   [local_target_name(target)],
                                   "target dir content\n" + r.describe())
                    tc.assertTrue(self._is_served_content(
                        srv_root, target,
                        os.path.join(tdir, local_target_name(target))),
                        "downloaded bytes are not the served file")
                else:
                    tc.assertEqual(r.returncode, 1, "expected download fail "
                                   "(%s)\n%s" % (why_t, r.describe()))
                    tc.assertEqual(list_files(tdir), [],
                                   "a failed download left files\n" +
                                   r.describe())
                tc.assertEqual(list_files(base),
                               [os.path.join("targets", f)
                                for f in list_files(tdir)],
                               "files written outside the target dir")
