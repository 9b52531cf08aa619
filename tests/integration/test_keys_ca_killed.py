"""`bulwark keys ca`: SIGKILL at every durable step of every command that
changes the PKI directory.

Each command runs with the fault injector build/bw_killshim.so
(tests/fault/killshim.c) preloaded and BW_KILL_AT=N for N = 1, 2, ...
until it completes: it is killed once before each of its steps that
create, write, rename, remove or fsync a file, in order, with no timing
involved. After each kill the next open of the directory (`bulwark keys
ca show`) must find it entirely as it was or entirely as the completed
command leaves it (the same files changed), with no temporary or journal
left, and a new directory must pass `show` and `openssl verify` with its
CRLs.

Environment: BW_BINARY_DIR (build dir with ./bulwark and bw_killshim.so).
"""

import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
import unittest
import uuid

BINARY_DIR = os.environ.get("BW_BINARY_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..", "build"))
BULWARK = os.path.join(BINARY_DIR, "bulwark")
SHIM = os.path.join(BINARY_DIR, "bw_killshim.so")
TIMEOUT = 60
FACTORY = "acme-plant-1"
MAX_STEPS = 400  # bound on the kill loop; commands take far fewer


def run(args, check=0, env=None):
    """args run to completion; its exit status must be check (None: any)."""
    p = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT,
                       env=env)
    assert check is None or p.returncode == check, (
        "%s: exit %d\n%s" % (" ".join(args), p.returncode, p.stderr))
    return p


def bw(*args, check=0):
    return run([BULWARK, "keys", "ca"] + list(args), check)


def snapshot(d):
    """{relative path: (mode, sha256)} of every file below d, hidden too."""
    out = {}
    if not os.path.isdir(d):
        return out
    for root, _dirs, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, d)] = (
                    stat.S_IMODE(os.lstat(p).st_mode),
                    hashlib.sha256(fh.read()).hexdigest())
    return out


def changed(before, after):
    return {k for k in set(before) | set(after)
            if before.get(k) != after.get(k)}


class KilledKeysCaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="bw-keys-ca-killed-")
        cls.base = os.path.join(cls.tmp, "base")
        bw("create", cls.base, "--factory", FACTORY, "--dns",
           "gw.example.com", "--ip", "127.0.0.1", "--online-ca",
           "--local-ca")
        # a device signed by the online CA (for revoke-device)
        key = os.path.join(cls.tmp, "dev.key")
        cls.csr = os.path.join(cls.tmp, "dev.csr")
        run(["openssl", "ecparam", "-name", "prime256v1", "-genkey",
             "-noout", "-out", key], check=0)
        run(["openssl", "req", "-new", "-key", key, "-subj",
             "/CN=%s/OU=%s" % (uuid.uuid4(), FACTORY), "-out", cls.csr],
            check=0)
        cls.devcert = os.path.join(cls.tmp, "dev.pem")
        bw("sign", cls.base, cls.csr, "--issuer", "online-ca", "-o",
           cls.devcert)
        # the same with the online CA disabled (for enable-device-ca)
        cls.disabled = os.path.join(cls.tmp, "disabled")
        shutil.copytree(cls.base, cls.disabled, symlinks=True)
        bw("disable-device-ca", cls.disabled, "--ca", "online-ca")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def kill_env(self, n):
        env = dict(os.environ)
        env["LD_PRELOAD"] = SHIM
        env["BW_KILL_AT"] = str(n)
        return env

    def consistent(self, pki):
        """The next open finishes or drops what a kill left; the result
        passes show and openssl verify (gateway certificate, all CRLs)."""
        bw("show", pki)
        left = [k for k in snapshot(pki)
                if k.endswith(".bw-new") or k == ".txn" or ".tmp." in k]
        self.assertEqual(left, [], pki)
        run(["openssl", "verify", "-crl_check_all", "-CAfile",
             os.path.join(pki, "factory_ca.pem"), "-CRLfile",
             os.path.join(pki, "crl", "all.crl"),
             os.path.join(pki, "tls.pem")], check=0)

    def kill_every_step(self, template, args):
        """Run `keys ca <args[0]> DIR <args[1:]>` on a copy of template,
        killed before step 1, 2, ... until it completes. Returns the
        number of steps."""
        before = snapshot(template) if template is not None else {}
        outcomes = []  # (step, kill message, changed set)
        for n in range(1, MAX_STEPS + 1):
            work = os.path.join(self.tmp, "work")
            shutil.rmtree(work, ignore_errors=True)
            if template is not None:
                shutil.copytree(template, work, symlinks=True)
            p = run([BULWARK, "keys", "ca", args[0], work] + args[1:],
                    None, self.kill_env(n))
            if p.returncode != -9:
                self.assertEqual(p.returncode, 0, p.stderr)
                self.consistent(work)
                done = changed(before, snapshot(work))
                self.assertTrue(done)
                break
            msg = p.stderr.strip().splitlines()[-1]
            if template is None:
                # nothing existed before: the next open either finds a
                # complete directory or no root of trust at all
                r = bw("show", work, check=None)
                if r.returncode != 0:
                    self.assertEqual(snapshot(work), {}, msg)
                    bw("create", work, "--factory", FACTORY)
                    self.consistent(work)
                    outcomes.append((n, msg, set()))
                    continue
            self.consistent(work)
            outcomes.append((n, msg, changed(before, snapshot(work))))
        else:
            self.fail("%s: not done after %d steps" % (args[0], MAX_STEPS))
        olds = news = 0
        for n, msg, c in outcomes:
            with self.subTest(step=n, killed=msg):
                self.assertIn(c, (set(), done),
                              "half old, half new: %s" % sorted(c))
            olds += c == set()
            news += c == done
        # every command has kills on both sides of its commit
        self.assertGreater(olds, 0)
        self.assertGreater(news, 0)
        return n

    def test_create(self):
        self.kill_every_step(None, ["create", "--factory", FACTORY,
                                    "--online-ca", "--local-ca"])

    def test_add_local_device_ca(self):
        self.kill_every_step(self.base, ["add-device-ca", "--local",
                                         "--name", "line-2"])

    def test_add_online_device_ca(self):
        self.kill_every_step(self.base, ["add-device-ca", "--online"])

    def test_disable_device_ca(self):
        self.kill_every_step(self.base, ["disable-device-ca", "--ca",
                                         "online-ca"])

    def test_enable_device_ca(self):
        self.kill_every_step(self.disabled, ["enable-device-ca", "--ca",
                                             "online-ca"])

    def test_revoke_device_ca(self):
        self.kill_every_step(self.base, ["revoke-device-ca", "--ca",
                                         "local-ca", "--reason",
                                         "key-compromise"])

    def test_revoke_device(self):
        self.kill_every_step(self.base, ["revoke-device", "--cert",
                                         self.devcert])

    def test_sign_device(self):
        out = os.path.join(self.tmp, "signed.pem")
        self.kill_every_step(self.base, ["sign", self.csr, "--issuer",
                                         "local-ca", "-o", out])

    def test_rotate_tls(self):
        self.kill_every_step(self.base, ["rotate-tls"])

    def test_rotate_est(self):
        self.kill_every_step(self.base, ["rotate-est"])

    def test_update_crl(self):
        self.kill_every_step(self.base, ["update-crl"])


if __name__ == "__main__":
    unittest.main()
