"""`bulwark factory / keys tuf / targets / repo`: the factory TUF repository,
driven through the CLI in temporary directories and checked with the real
TUF client (bulwark-tuf-client) over HTTP on 127.0.0.1 and over file://.

The chain test is the issue's: init, rotate root twice, add a second
targets key, raise the production threshold to 3 with three admins,
promote, then a client that trusts root v1 reaches the latest root and
accepts the production targets. Bad input (wrong key, missing signature,
expired role, tampered proposal) must fail with exit 1 and leave the
workspace byte-for-byte unchanged.

Environment: BW_BINARY_DIR (build dir with ./bulwark, ./bulwark-tuf-client).
"""

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bwtest  # noqa: E402
from bwtest import softhsm_token  # noqa: E402

BULWARK = os.path.join(bwtest.BINARY_DIR, "bulwark")
TIMEOUT = 60


def run(args, check=0, env=None):
    p = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT,
                       env=env, stdin=subprocess.DEVNULL)
    if check is not None and p.returncode != check:
        raise AssertionError("%s: exit %d (want %d)\nstdout: %s\nstderr: %s"
                             % (" ".join(args), p.returncode, check,
                                p.stdout, p.stderr))
    return p


def tree_state(d):
    """{relative path: sha256} of every file below d."""
    out = {}
    for root, _dirs, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, d)] = hashlib.sha256(
                    fh.read()).hexdigest()
    return out


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def load(path):
    with open(path, "rb") as f:
        return json.loads(f.read().decode("utf-8"))


class RepoTestBase(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bw-cli-repo-")
        self.ws = os.path.join(self.tmp, "ws")
        self.env = dict(os.environ)
        self.env["BULWARK_REPO"] = self.ws
        self.env.pop("BULWARK_HSM_PIN", None)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def bw(self, *args, check=0):
        return run([BULWARK] + list(args), check=check, env=self.env)

    def path(self, *p):
        return os.path.join(self.tmp, *p)

    def keys(self, name):
        return os.path.join(self.ws, "offline-keys", name)

    def write(self, name, data):
        p = self.path(name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def assert_refused(self, *args, msg=None):
        """Exit 1, the message on stderr, the workspace unchanged."""
        before = tree_state(self.ws)
        p = self.bw(*args, check=1)
        if msg is not None:
            self.assertIn(msg, p.stderr)
        self.assertEqual(before, tree_state(self.ws))
        return p

    def client(self, flavour_args, name, url_kind):
        """bulwark-tuf-client from the exported root v1 over http/file."""
        out = self.path("export-%s-%s" % (url_kind, len(os.listdir(self.tmp))))
        self.bw("repo", "export", out, *flavour_args)
        md = out + "-client"
        os.makedirs(md)
        r = bwtest.cli_init(md, os.path.join(out, "metadata", "1.root.json"))
        self.assertEqual(r.returncode, 0, r.describe())
        dl = out + "-dl"
        os.makedirs(dl)
        if url_kind == "http":
            with bwtest.StaticServer(out) as srv:
                r = bwtest.cli_download(md, srv.url("metadata/"),
                                        srv.url("targets/"), dl, [name])
        else:
            r = bwtest.cli_download(md, "file://%s/metadata/" % out,
                                    "file://%s/targets/" % out, dl, [name])
        self.assertEqual(r.returncode, 0, r.describe())
        return md, dl


class FactoryInitTest(RepoTestBase):

    def test_layout_modes_and_python_tuf_shape(self):
        p = self.bw("factory", "init", self.ws, "--name", "acme",
                    "--root-keys", "3", "--root-threshold", "2")
        self.assertIn("offline-keys", p.stdout)
        st = tree_state(self.ws)
        for f in ("factory.json", "ci/root/1.root.json",
                  "prod/root/1.root.json", "ci/targets.json",
                  "ci/snapshot.json", "ci/timestamp.json",
                  "online/targets.pem", "online/snapshot.pem",
                  "online/timestamp.pem", "offline-keys/root-1.tar.gz",
                  "offline-keys/root-2.tar.gz", "offline-keys/root-3.tar.gz",
                  "offline-keys/targets-1.tar.gz"):
            self.assertIn(f, st)
        for f in ("online/targets.pem", "offline-keys/root-1.tar.gz"):
            mode = os.stat(os.path.join(self.ws, f)).st_mode
            self.assertEqual(stat.S_IMODE(mode), 0o600, f)
        self.assertEqual(stat.S_IMODE(os.stat(
            os.path.join(self.ws, "online")).st_mode), 0o700)
        cfg = load(os.path.join(self.ws, "factory.json"))
        self.assertNotIn("pin", json.dumps(cfg).lower())
        # Field by field as python-tuf writes root (vectors/python-tuf).
        ci = load(os.path.join(self.ws, "ci/root/1.root.json"))["signed"]
        prod = load(os.path.join(self.ws, "prod/root/1.root.json"))["signed"]
        for s in (ci, prod):
            self.assertEqual(s["spec_version"], "1.0.31")
            self.assertEqual(s["_type"], "root")
            self.assertIs(s["consistent_snapshot"], True)
            self.assertEqual(s["version"], 1)
            self.assertEqual(set(s), {"_type", "consistent_snapshot",
                                      "expires", "keys", "roles",
                                      "spec_version", "version"})
            for k in s["keys"].values():
                self.assertEqual(set(k), {"keytype", "keyval", "scheme"})
                self.assertEqual(k["keytype"], "ed25519")
            self.assertEqual(s["roles"]["root"]["threshold"], 2)
            self.assertEqual(len(s["roles"]["root"]["keyids"]), 3)
        self.assertEqual(ci["roles"]["targets"]["threshold"], 1)
        self.assertEqual(prod["roles"]["targets"]["threshold"], 2)
        self.assertEqual(ci["roles"]["targets"]["keyids"],
                         prod["roles"]["targets"]["keyids"][:1])
        self.assertEqual(ci["roles"]["root"], prod["roles"]["root"])
        ts = load(os.path.join(self.ws, "ci/timestamp.json"))["signed"]
        meta = ts["meta"]["snapshot.json"]
        self.assertEqual(set(meta), {"version", "length", "hashes"})
        snap = load(os.path.join(self.ws, "ci/snapshot.json"))["signed"]
        self.assertEqual(snap["meta"], {"targets.json": {"version": 1}})
        # Key archives: one <keyid>.pem, mode 0600 inside.
        out = run(["tar", "tzvf", self.keys("root-1.tar.gz")]).stdout.split()
        self.assertEqual(out[0], "-rw-------")
        self.assertIn(out[-1][:-4], prod["roles"]["root"]["keyids"])
        self.bw("keys", "tuf", "verify")

    def test_key_types_and_refusals(self):
        self.bw("factory", "init", self.ws, "--name", "acme", "--key-type",
                "ecdsa")
        root = load(os.path.join(self.ws, "prod/root/1.root.json"))["signed"]
        self.assertEqual({k["scheme"] for k in root["keys"].values()},
                         {"ecdsa-sha2-nistp256"})
        self.bw("keys", "tuf", "verify")
        self.bw("factory", "init", self.ws, "--name", "x", check=1)
        self.bw("factory", "init", self.path("b"), "--name", "x",
                "--root-keys", "2", "--root-threshold", "3", check=1)
        self.assertFalse(os.path.exists(self.path("b")))
        # --keys-out never overwrites an archive; a failed init leaves
        # neither a workspace nor new archives behind.
        kd = self.path("keys")
        self.bw("factory", "init", self.path("e"), "--name", "e",
                "--keys-out", kd)
        before = tree_state(kd)
        p = self.bw("factory", "init", self.path("f"), "--name", "f",
                    "--keys-out", kd, check=1)
        self.assertIn("already exists", p.stderr)
        self.assertEqual(before, tree_state(kd))
        self.assertFalse(os.path.exists(self.path("f")))
        self.bw("factory", "init", self.path("g"), "--name", "g",
                "--root-keys", "3", "--keys-out", kd + "2")
        os.unlink(os.path.join(kd + "2", "root-1.tar.gz"))
        os.unlink(os.path.join(kd + "2", "root-2.tar.gz"))
        os.unlink(os.path.join(kd + "2", "targets-1.tar.gz"))
        before = tree_state(kd + "2")  # root-3 stays: init h collides
        self.bw("factory", "init", self.path("h"), "--name", "h",
                "--root-keys", "3", "--keys-out", kd + "2", check=1)
        self.assertEqual(before, tree_state(kd + "2"))
        self.assertFalse(os.path.exists(self.path("h")))
        self.bw("factory", "init", self.path("c"), check=2)
        self.bw("factory", "init", self.path("d"), "--name", "x",
                "--key-type", "dsa", check=2)

    def test_rsa(self):
        self.bw("factory", "init", self.ws, "--name", "acme", "--key-type",
                "rsa")
        root = load(os.path.join(self.ws, "prod/root/1.root.json"))["signed"]
        self.assertEqual({k["scheme"] for k in root["keys"].values()},
                         {"rsassa-pss-sha256"})

    def test_help_on_every_command(self):
        groups = {("factory",): ["init"],
                  ("keys", "tuf"): ["show-root", "verify",
                                    "rotate-offline-key"],
                  ("keys", "tuf", "updates"): [
                      "init", "add-offline-key", "delete-offline-key",
                      "rotate-offline-key", "rotate-online-key",
                      "set-threshold", "sign", "sign-prod-targets",
                      "review", "apply", "cancel"],
                  ("targets",): ["add", "promote", "sign", "list", "show"],
                  ("repo",): ["export"]}
        for g, cmds in groups.items():
            top = self.bw(*g, "--help").stdout
            for c in cmds:
                self.assertIn(c, top)
                h = self.bw(*g, c, "--help").stdout
                self.assertIn("Usage: bulwark %s %s" % (" ".join(g), c), h)
                self.assertIn("Exit codes", h)
        self.bw("targets", "list", check=2 if "BULWARK_REPO" not in
                self.env else 1)


class ChainTest(RepoTestBase):
    """The issue's end-to-end chain, three admins A, B, C."""

    def ceremony(self, *args, check=0):
        return self.bw("keys", "tuf", "updates", *args, check=check)

    def test_chain(self):
        self.bw("factory", "init", self.ws, "--name", "acme",
                "--root-keys", "2", "--root-threshold", "2")
        fw1 = self.write("fw1.bin", b"firmware one\n" * 100)
        self.bw("targets", "add", fw1, "--name", "fw-1.bin", "--version",
                "1", "--hardware-id", "rpi4", "--custom", '{"size":"s"}')
        self.bw("targets", "promote", "--version", "1", "--tag",
                "production", "--keys", self.keys("targets-1.tar.gz"))
        # Rotation 1: the one-admin shortcut, holding both root archives
        # (threshold 2), replaces root key 1.
        kid_1 = run(["tar", "tzf", self.keys("root-1.tar.gz")]).stdout[:64]
        a1 = self.path("admin-a-root-2.tar.gz")
        self.bw("keys", "tuf", "rotate-offline-key", "--role", "root",
                "--keys", self.keys("root-1.tar.gz"), "--keys",
                self.keys("root-2.tar.gz"), "--key-id", kid_1, "--out", a1)
        # Rotation 2: A replaces A's key in a ceremony; B co-signs.
        kid_a = [m[:-4] for m in run(["tar", "tzf", a1]).stdout.split()][0]
        a2 = self.path("admin-a-root-3.tar.gz")
        self.ceremony("init")
        self.ceremony("rotate-offline-key", "--role", "root", "--key-id",
                      kid_a, "--out", a2)
        self.ceremony("sign", "--keys", a1, "--keys", a2)
        p = self.ceremony("review", check=1)  # B has not signed yet
        self.assertIn("not enough signatures", p.stderr)
        self.assert_refused("keys", "tuf", "updates", "apply",
                            msg="refused")
        self.ceremony("sign", "--keys", self.keys("root-2.tar.gz"))
        self.ceremony("review")
        self.ceremony("apply")
        # Ceremony 3: second offline targets key, production threshold 3.
        c2 = self.path("admin-c-targets-2.tar.gz")
        self.ceremony("init")
        self.ceremony("add-offline-key", "--role", "targets", "--out", c2)
        self.ceremony("set-threshold", "--role", "targets", "3")
        self.ceremony("sign", "--keys", a2)                      # admin A
        self.ceremony("sign", "--keys", self.keys("root-2.tar.gz"))  # B
        p = self.ceremony("review", check=1)
        self.assertIn("tag production", p.stderr)
        self.assert_refused("keys", "tuf", "updates", "apply",
                            msg="sign-prod-targets")
        self.ceremony("sign-prod-targets", "--keys",
                      self.keys("targets-1.tar.gz"))             # B
        self.ceremony("sign-prod-targets", "--keys", c2)         # admin C
        self.ceremony("review")
        self.ceremony("apply")
        self.assertFalse(os.path.exists(os.path.join(self.ws,
                                                     "proposal.json")))
        prod = load(os.path.join(self.ws, "prod/root/4.root.json"))["signed"]
        self.assertEqual(prod["roles"]["targets"]["threshold"], 3)
        self.assertEqual(len(prod["roles"]["targets"]["keyids"]), 3)
        # Promote v2: B partially, C finishes.
        fw2 = self.write("fw2.bin", os.urandom(50000))
        self.bw("targets", "add", fw2, "--name", "fw-2.bin", "--version",
                "2", "--hardware-id", "rpi4", "--tag", "beta")
        self.assert_refused("targets", "promote", "--version", "2", "--tag",
                            "production", "--keys",
                            self.keys("targets-1.tar.gz"),
                            msg="2 of 3 signatures")
        p = self.bw("targets", "promote", "--version", "2", "--tag",
                    "production", "--keys", self.keys("targets-1.tar.gz"),
                    "--partial")
        self.assertIn("pending", p.stdout)
        self.bw("targets", "sign", "--tag", "production", "--keys", c2)
        lst = self.bw("targets", "list", "--prod", "--tag",
                      "production").stdout
        self.assertIn("fw-1.bin", lst)
        self.assertIn("fw-2.bin", lst)
        show = self.bw("targets", "show", "fw-2.bin").stdout
        self.assertIn("sha512", show)
        self.assertIn('"beta"', show)
        v = self.bw("keys", "tuf", "verify")
        self.assertIn("reached root v4", v.stdout)
        self.assertIn("production:production: ok", v.stdout)
        # The real client, from root v1, over HTTP and over file://.
        for kind in ("http", "file"):
            md, dl = self.client(["--prod", "--tag", "production"],
                                 "fw-2.bin", kind)
            self.assertEqual(bwtest.read_version(
                os.path.join(md, "root.json")), 4)
            with open(os.path.join(dl, "fw-2.bin"), "rb") as f, \
                    open(fw2, "rb") as g:
                self.assertEqual(f.read(), g.read())
        md, _dl = self.client([], "fw-1.bin", "file")
        self.assertEqual(bwtest.read_version(os.path.join(md, "root.json")),
                         4)
        # Export layout: versioned roots, consistent-snapshot names.
        out = self.path("export-layout")
        self.bw("repo", "export", out, "--prod", "--tag", "production")
        names = set(os.listdir(os.path.join(out, "metadata")))
        for n in ("1.root.json", "2.root.json", "3.root.json", "4.root.json",
                  "root.json", "timestamp.json", "snapshot.json",
                  "targets.json"):
            self.assertIn(n, names)
        tg = load(os.path.join(out, "metadata", "targets.json"))["signed"]
        ent = tg["targets"]["fw-2.bin"]
        self.assertEqual(set(ent["hashes"]), {"sha256", "sha512"})
        self.assertEqual(ent["custom"]["version"], 2)
        self.assertEqual(ent["custom"]["hardwareIds"], ["rpi4"])
        self.assertIn("production", ent["custom"]["tags"])
        self.assertIn("%s.fw-2.bin" % ent["hashes"]["sha256"],
                      os.listdir(os.path.join(out, "targets")))
        self.assertIn("%d.targets.json" % tg["version"], names)
        v = self.bw("keys", "tuf", "verify", out)
        self.assertIn("reached root v4", v.stdout)
        # A tampered export: the client refuses it.
        with open(os.path.join(out, "targets", "fw-2.bin"), "ab") as f:
            f.write(b"!")
        for t in os.listdir(os.path.join(out, "targets")):
            if t.endswith("fw-2.bin"):
                with open(os.path.join(out, "targets", t), "ab") as f:
                    f.write(b"!")
        self.bw("keys", "tuf", "verify", out, check=1)


class BadInputTest(RepoTestBase):

    def setUp(self):
        super().setUp()
        self.bw("factory", "init", self.ws, "--name", "acme")
        self.fw = self.write("fw.bin", b"x" * 1000)
        self.bw("targets", "add", self.fw, "--name", "fw", "--version", "1",
                "--hardware-id", "hw")

    def test_wrong_key(self):
        # A root key is not a production targets key, and vice versa.
        self.assert_refused("targets", "promote", "--version", "1", "--tag",
                            "production", "--keys",
                            self.keys("root-1.tar.gz"),
                            msg="not a production targets key")
        self.bw("keys", "tuf", "updates", "init")
        self.assert_refused("keys", "tuf", "updates", "sign", "--keys",
                            self.keys("targets-1.tar.gz"),
                            msg="not a root key")
        # A foreign archive, and one readable by others.
        other = self.path("other")
        self.bw("factory", "init", other, "--name", "other")
        self.assert_refused("targets", "promote", "--version", "1", "--tag",
                            "production", "--keys",
                            os.path.join(other, "offline-keys",
                                         "targets-1.tar.gz"),
                            msg="not a production targets key")
        loose = self.path("loose.tar.gz")
        shutil.copy(self.keys("targets-1.tar.gz"), loose)
        os.chmod(loose, 0o644)
        self.assert_refused("targets", "promote", "--version", "1", "--tag",
                            "production", "--keys", loose,
                            msg="readable by others")
        # An archive member whose name is not its key id.
        bad = self.path("bad")
        os.makedirs(bad)
        run(["tar", "xzf", self.keys("root-1.tar.gz"), "-C", bad])
        pem = os.listdir(bad)[0]
        os.rename(os.path.join(bad, pem), os.path.join(bad, "0" * 64 +
                                                       ".pem"))
        badtgz = self.path("bad.tar.gz")
        run(["tar", "czf", badtgz, "-C", bad, "0" * 64 + ".pem"])
        os.chmod(badtgz, 0o600)
        self.assert_refused("targets", "promote", "--version", "1", "--tag",
                            "production", "--keys", badtgz,
                            msg="different key")

    def test_missing_signature(self):
        self.bw("keys", "tuf", "updates", "init")
        self.bw("keys", "tuf", "updates", "set-threshold", "--role", "root",
                "1")
        self.assert_refused("keys", "tuf", "updates", "apply",
                            msg="refused")
        self.assert_refused("targets", "sign", "--tag", "production",
                            "--keys", self.keys("targets-1.tar.gz"),
                            msg="nothing pending")
        self.assert_refused("targets", "promote", "--version", "9", "--tag",
                            "production", "--keys",
                            self.keys("targets-1.tar.gz"),
                            msg="no CI target has version 9")

    def test_killed_command(self):
        """SIGKILL during `targets add` at several points: afterwards the
        workspace is either exactly as before or has the new target, and
        it verifies either way."""
        big = self.path("big.img")
        with open(big, "wb") as f:
            f.write(os.urandom(1 << 20) * 48)
        for i, delay in enumerate((0.02, 0.1, 0.3, 0.6)):
            before = tree_state(self.ws)
            p = subprocess.Popen([BULWARK, "targets", "add", big, "--name",
                                  "big-%d" % i, "--version", "7",
                                  "--hardware-id", "hw"], env=self.env,
                                 stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            try:
                p.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                p.kill()
            p.wait(timeout=TIMEOUT)
            lst = self.bw("targets", "list").stdout
            if "big-%d" % i not in lst:
                self.assertEqual(before, tree_state(self.ws))
            self.bw("keys", "tuf", "verify")

    def test_killed_at_every_step(self):
        """`targets add` killed before each of its steps that touch the
        disk (build/bw_killshim.so, BW_KILL_AT=N, N = 1, 2, ... until it
        completes): after the next open the workspace is entirely as
        before or has exactly the files the completed command changed,
        no journal or .bw-new file is left, and it verifies."""
        small = self.write("small.bin", b"s" * 4096)
        before = tree_state(self.ws)
        work = self.path("work")
        outcomes = []
        for n in range(1, 400):
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(self.ws, work, symlinks=True)
            env = dict(self.env, BULWARK_REPO=work, BW_KILL_AT=str(n),
                       LD_PRELOAD=os.path.join(bwtest.BINARY_DIR,
                                               "bw_killshim.so"))
            p = subprocess.run([BULWARK, "targets", "add", small, "--name",
                                "killed", "--version", "8", "--hardware-id",
                                "hw"], env=env, capture_output=True,
                               text=True, timeout=TIMEOUT)
            env = dict(self.env, BULWARK_REPO=work)
            run([BULWARK, "targets", "list"], check=0, env=env)
            run([BULWARK, "keys", "tuf", "verify"], check=0, env=env)
            after = tree_state(work)
            left = [k for k in after if k.endswith(".bw-new") or
                    k == ".txn" or ".tmp." in k]
            self.assertEqual(left, [], p.stderr)
            diff = {k for k in set(before) | set(after)
                    if before.get(k) != after.get(k)}
            if p.returncode != -9:
                self.assertEqual(p.returncode, 0, p.stderr)
                done = diff
                break
            outcomes.append((p.stderr.strip().splitlines()[-1], diff))
        else:
            self.fail("targets add not done after 400 steps")
        self.assertTrue(done)
        for msg, diff in outcomes:
            self.assertIn(diff, (set(), done), msg)
        self.assertIn(set(), [d for _m, d in outcomes])
        self.assertIn(done, [d for _m, d in outcomes])

    def test_stale_pending(self):
        """Pending targets overtaken by a ceremony's re-signed v2."""
        self.bw("targets", "promote", "--version", "1", "--tag", "prod",
                "--keys", self.keys("targets-1.tar.gz"))
        self.bw("targets", "promote", "--version", "1", "--tag", "prod",
                "--partial")
        self.bw("keys", "tuf", "updates", "init")
        self.bw("keys", "tuf", "updates", "sign", "--keys",
                self.keys("root-1.tar.gz"))
        self.bw("keys", "tuf", "updates", "sign-prod-targets", "--keys",
                self.keys("targets-1.tar.gz"))
        self.bw("keys", "tuf", "updates", "apply")
        self.assert_refused("targets", "sign", "--tag", "prod", "--keys",
                            self.keys("targets-1.tar.gz"),
                            msg="not newer than the published")

    def test_expired_role(self):
        """An expired CI timestamp (re-signed by its own online key, so
        only the date is wrong): verify fails and names it."""
        from cryptography.hazmat.primitives import serialization
        with open(os.path.join(self.ws, "online/timestamp.pem"), "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
        tsp = os.path.join(self.ws, "ci/timestamp.json")
        md = load(tsp)
        md["signed"]["expires"] = "2020-01-01T00:00:00Z"
        canon = json.dumps(md["signed"], sort_keys=True,
                           separators=(",", ":")).encode()
        md["signatures"][0]["sig"] = key.sign(canon).hex()
        with open(tsp, "w") as f:
            json.dump(md, f, sort_keys=True, separators=(",", ":"))
        before = tree_state(self.ws)
        p = self.bw("keys", "tuf", "verify", check=1)
        self.assertIn("expired", (p.stdout + p.stderr).lower())
        self.assertEqual(before, tree_state(self.ws))

    def test_expiry_warnings(self):
        ws2 = self.path("short")
        self.bw("factory", "init", ws2, "--name", "short",
                "--root-expiry", "20", "--ci-targets-expiry", "10")
        p = self.bw("keys", "tuf", "verify", ws2)
        self.assertRegex(p.stderr, "warning: root: root v1 expires in "
                         "(19|20) days")
        self.assertRegex(p.stderr, "warning: CI: targets v1 expires in "
                         "(9|10) days")
        self.env["BULWARK_REPO"] = ws2
        self.bw("keys", "tuf", "updates", "init")
        p = self.bw("keys", "tuf", "updates", "review", check=1)
        self.assertRegex(p.stderr, "the new root expires in (19|20) day")

    def test_tampered_proposal(self):
        self.bw("keys", "tuf", "updates", "init")
        self.bw("keys", "tuf", "updates", "sign", "--keys",
                self.keys("root-1.tar.gz"))
        prop = os.path.join(self.ws, "proposal.json")
        good = read_bytes(prop)
        doc = json.loads(good)
        # 1. the signed roots (both, consistently) changed after signing:
        # the signatures no longer verify.
        for fl in ("ci", "prod"):
            doc["root"][fl]["signed"]["expires"] = "2099-01-01T00:00:00Z"
        with open(prop, "w") as f:
            json.dump(doc, f)
        self.assert_refused("keys", "tuf", "updates", "apply",
                            msg="refused")
        # 2. an extra field, 3. not JSON, 4. duplicate keys.
        for bad in (good[:-2] + b',"x":1}', b"{not json",
                    b'{"factory":"a","factory":"b"}'):
            with open(prop, "wb") as f:
                f.write(bad)
            self.assert_refused("keys", "tuf", "updates", "apply")
            self.assert_refused("keys", "tuf", "updates", "review")
        # 5. a change hidden in the CI root (not shown by review): an extra
        # CI targets key, re-signed by the admin's key afterwards.
        doc = json.loads(good)
        ci = doc["root"]["ci"]["signed"]
        extra = dict(ci["keys"][ci["roles"]["targets"]["keyids"][0]])
        extra["keyval"] = {"public": "00" * 32}
        kid = hashlib.sha256(json.dumps(extra, sort_keys=True, separators=(
            ",", ":")).encode()).hexdigest()
        ci["keys"][kid] = extra
        ci["roles"]["targets"]["keyids"].append(kid)
        with open(prop, "w") as f:
            json.dump(doc, f)
        self.assert_refused("keys", "tuf", "updates", "sign", "--keys",
                            self.keys("root-1.tar.gz"), msg="CI root")
        self.assert_refused("keys", "tuf", "updates", "apply",
                            msg="CI root")
        # 6. a target slipped into staged production targets.
        self.bw("targets", "promote", "--version", "1", "--tag", "prod",
                "--keys", self.keys("targets-1.tar.gz"))
        self.bw("keys", "tuf", "updates", "cancel")
        self.bw("keys", "tuf", "updates", "init")
        self.bw("keys", "tuf", "updates", "sign-prod-targets", "--keys",
                self.keys("targets-1.tar.gz"))
        doc = json.loads(read_bytes(prop))
        tg = doc["prod_targets"]["prod"]["signed"]["targets"]
        tg["evil.bin"] = dict(tg["fw"])
        with open(prop, "w") as f:
            json.dump(doc, f)
        self.assert_refused("keys", "tuf", "updates", "sign-prod-targets",
                            "--keys", self.keys("targets-1.tar.gz"),
                            msg="differ from the published")
        # 7. a proposal made for another root version.
        doc = json.loads(good)
        doc["from_version"] = 7
        with open(prop, "w") as f:
            json.dump(doc, f)
        self.assert_refused("keys", "tuf", "updates", "apply",
                            msg="not version 8 of root")
        with open(prop, "wb") as f:
            f.write(good)
        self.bw("keys", "tuf", "updates", "apply")
        self.assertEqual(len(os.listdir(os.path.join(self.ws, "prod",
                                                     "root"))), 2)

    def test_online_key_rotation_and_cancel(self):
        self.bw("keys", "tuf", "updates", "init")
        self.bw("keys", "tuf", "updates", "rotate-online-key", "--role",
                "timestamp")
        self.assertTrue(os.path.exists(os.path.join(
            self.ws, "online/timestamp.pem.proposed")))
        self.bw("keys", "tuf", "updates", "cancel")
        self.assertFalse(os.path.exists(os.path.join(
            self.ws, "online/timestamp.pem.proposed")))
        old = read_bytes(os.path.join(self.ws, "online/targets.pem"))
        self.bw("keys", "tuf", "updates", "init")
        self.bw("keys", "tuf", "updates", "rotate-online-key", "--role",
                "targets")
        self.bw("keys", "tuf", "updates", "sign", "--keys",
                self.keys("root-1.tar.gz"))
        self.bw("keys", "tuf", "updates", "apply")
        self.assertNotEqual(old, read_bytes(os.path.join(
            self.ws, "online/targets.pem")))
        self.bw("keys", "tuf", "verify")
        self.client([], "fw", "file")

    def test_rotate_targets_shortcut(self):
        self.bw("targets", "promote", "--version", "1", "--tag", "prod",
                "--keys", self.keys("targets-1.tar.gz"))
        new = self.path("t2.tar.gz")
        self.bw("keys", "tuf", "rotate-offline-key", "--role", "targets",
                "--keys", self.keys("root-1.tar.gz"), "--targets-keys",
                self.keys("targets-1.tar.gz"), "--out", new)
        self.assertEqual(stat.S_IMODE(os.stat(new).st_mode), 0o600)
        self.assert_refused("targets", "promote", "--version", "1",
                            "--tag", "prod", "--keys",
                            self.keys("targets-1.tar.gz"),
                            msg="not a production targets key")
        self.bw("targets", "promote", "--version", "1", "--tag", "prod",
                "--keys", new)
        self.bw("keys", "tuf", "verify")
        self.client(["--prod", "--tag", "prod"], "fw", "http")


def tufjs_dir():
    """Where scripts/install-deps.sh installed tuf-js (or BW_TUFJS_DIR)."""
    cache = os.environ.get("XDG_CACHE_HOME",
                           os.path.join(os.path.expanduser("~"), ".cache"))
    d = os.environ.get("BW_TUFJS_DIR",
                       os.path.join(cache, "bulwark", "tuf-js"))
    if shutil.which("node") and os.path.isdir(
            os.path.join(d, "node_modules", "tuf-js")):
        return d
    return None


TUFJS_MISSING = ("tuf-js not installed (scripts/install-deps.sh installs it"
                 " from the npm registry; or set BW_TUFJS_DIR)")


class TufJsInteropTest(RepoTestBase):
    """Another TUF implementation (tuf-js) accepts the exported repository
    unchanged: root rotations, production threshold 3, both flavours.
    Skipped without tuf-js, except in CI, where install-deps.sh must have
    installed it."""

    def setUp(self):
        if not tufjs_dir():
            if os.environ.get("CI"):
                self.fail(TUFJS_MISSING)
            self.skipTest(TUFJS_MISSING)
        super().setUp()

    def test_tufjs_accepts_export(self):
        self.bw("factory", "init", self.ws, "--name", "acme")
        fw = self.write("fw.bin", os.urandom(4096))
        self.bw("targets", "add", fw, "--name", "dir/fw.bin", "--version",
                "1", "--hardware-id", "hw")
        self.bw("keys", "tuf", "rotate-offline-key", "--role", "root",
                "--keys", self.keys("root-1.tar.gz"), "--out",
                self.path("r2.tar.gz"))
        self.bw("keys", "tuf", "updates", "init")
        self.bw("keys", "tuf", "updates", "add-offline-key", "--role",
                "targets", "--out", self.path("t2.tar.gz"), "--key-type",
                "ecdsa")
        self.bw("keys", "tuf", "updates", "set-threshold", "--role",
                "targets", "3")
        self.bw("keys", "tuf", "updates", "sign", "--keys",
                self.path("r2.tar.gz"))
        self.bw("keys", "tuf", "updates", "apply")
        self.bw("targets", "promote", "--version", "1", "--tag", "prod",
                "--keys", self.keys("targets-1.tar.gz"), "--keys",
                self.path("t2.tar.gz"))
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              "tufjs_client.cjs")
        env = dict(self.env, BW_TUFJS_DIR=tufjs_dir())
        for args in ([], ["--prod", "--tag", "prod"]):
            out = self.path("exp%d" % len(args))
            self.bw("repo", "export", out, *args)
            with bwtest.StaticServer(out) as srv:
                p = run(["node", script,
                         os.path.join(out, "metadata", "1.root.json"),
                         srv.url("metadata/"), srv.url("targets/"),
                         out + "-tufjs", "dir/fw.bin"], env=env)
            self.assertIn("root 3", p.stdout)
            self.assertIn("ok dir/fw.bin 4096", p.stdout)


SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"


HSM_PIN = "pin-Zq7-hsm"


@unittest.skipUnless(shutil.which("softhsm2-util") and
                     os.path.exists(SOFTHSM_MODULE), "SoftHSM2 not installed")
class HsmTest(RepoTestBase):
    """Offline keys made inside a real SoftHSM2 token (ECDSA P-256)."""

    def setUp(self):
        super().setUp()
        # a PIN no key id or URI can contain by chance (the test looks
        # for it in what the commands write)
        self.env["SOFTHSM2_CONF"] = softhsm_token(self.path("hsm"), "tuf",
                                                  pin=HSM_PIN)
        self.pin = self.write("pin", HSM_PIN.encode() + b"\n")
        os.chmod(self.pin, 0o600)

    def test_hsm_keys(self):
        self.bw("factory", "init", self.ws, "--name", "acme", "--hsm-token",
                "tuf", "--hsm-pin-file", self.pin)
        cfg = load(os.path.join(self.ws, "factory.json"))
        locs = {k: v["location"] for k, v in cfg["offline_keys"].items()}
        self.assertTrue(all(l.startswith("pkcs11:token=tuf;")
                            for l in locs.values()))
        self.assertNotIn(HSM_PIN, json.dumps(cfg))
        self.assertFalse(os.path.exists(os.path.join(self.ws,
                                                     "offline-keys")))
        root = load(os.path.join(self.ws, "prod/root/1.root.json"))["signed"]
        tkey = [k for k, v in cfg["offline_keys"].items()
                if v["role"] == "targets"][0]
        self.assertEqual(root["keys"][tkey]["scheme"], "ecdsa-sha2-nistp256")
        uri = locs[tkey]
        fw = self.write("fw.bin", b"hsm firmware")
        self.bw("targets", "add", fw, "--name", "fw", "--version", "1",
                "--hardware-id", "hw")
        # No PIN: refused; wrong PIN: refused; right PIN file: signed.
        self.assert_refused("targets", "promote", "--version", "1", "--tag",
                            "production", "--keys", uri, msg="PIN")
        badpin = self.write("badpin", b"9999\n")
        os.chmod(badpin, 0o600)
        self.assert_refused("targets", "promote", "--version", "1", "--tag",
                            "production", "--keys", uri, "--hsm-pin-file",
                            badpin)
        self.bw("targets", "promote", "--version", "1", "--tag",
                "production", "--keys", uri, "--hsm-pin-file", self.pin)
        # Root rotation signed by the HSM root key (PIN from the env).
        rkey = [v for v in locs.values() if "root" in v][0]
        self.env["BULWARK_HSM_PIN"] = HSM_PIN
        self.bw("keys", "tuf", "updates", "init")
        self.bw("keys", "tuf", "updates", "add-offline-key", "--role",
                "root", "--out", self.path("r2.tar.gz"))
        self.bw("keys", "tuf", "updates", "sign", "--keys", rkey,
                "--keys", self.path("r2.tar.gz"))
        self.bw("keys", "tuf", "updates", "apply")
        # A second production targets key made in the token by a ceremony,
        # threshold 3, production targets re-signed in the token.
        self.bw("keys", "tuf", "updates", "init")
        p = self.bw("keys", "tuf", "updates", "add-offline-key", "--role",
                    "targets", "--hsm-token", "tuf")
        uri2 = p.stdout.split(" in ", 1)[1].split("\n", 1)[0]
        self.assertTrue(uri2.startswith("pkcs11:token=tuf;"), uri2)
        self.bw("keys", "tuf", "updates", "set-threshold", "--role",
                "targets", "3")
        self.bw("keys", "tuf", "updates", "sign", "--keys",
                self.path("r2.tar.gz"))
        self.bw("keys", "tuf", "updates", "sign-prod-targets", "--keys",
                uri, "--keys", uri2)
        self.bw("keys", "tuf", "updates", "review")
        self.bw("keys", "tuf", "updates", "apply")
        self.bw("keys", "tuf", "verify")
        self.client(["--prod", "--tag", "production"], "fw", "http")


if __name__ == "__main__":
    unittest.main()
