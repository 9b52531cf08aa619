"""A production boot artifact is signed only after the production targets
keys approved exactly its bytes, one admin after another, with the
production threshold (the ceremony of production targets).

A factory workspace with --prod-threshold 3 (the online targets key and
two offline targets keys). `bulwark sign request` starts the approval of
HelloWorld.efi (admin A, --partial), `bulwark sign approve` completes it
(admin B), and `bulwark sign boot --production NAME` signs with the db key
only then; sbverify accepts the result.

Refused, with a clear message and no output file: signing before the
threshold, a request below the threshold without --partial, approval by a
key that is not a production targets key, the same admin twice, and
signing other bytes or another format than the approved ones.

Environment: BW_BINARY_DIR (build dir with bulwark).
"""

import os
import shutil
import subprocess
import tempfile
import unittest

SOURCE_DIR = os.environ.get(
    "BW_SOURCE_DIR",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BINARY_DIR = os.environ.get("BW_BINARY_DIR", os.path.join(SOURCE_DIR, "build"))
BULWARK = os.path.join(BINARY_DIR, "bulwark")
HELLO = "/usr/lib/efitools/x86_64-linux-gnu/HelloWorld.efi"


@unittest.skipUnless(os.path.exists(HELLO), "efitools missing "
                     "(scripts/install-deps.sh)")
class BootCeremony(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bw-boot-ceremony-")
        self.ws = os.path.join(self.tmp, "ws")
        self.env = dict(os.environ, BULWARK_REPO=self.ws)
        self.ok("factory", "init", self.ws, "--name", "acme",
                "--prod-threshold", "3")
        self.ok("keys", "boot", "create", self.path("boot"), "--factory",
                "acme")
        self.offline = [os.path.join(self.ws, "offline-keys",
                                     "targets-%d.tar.gz" % i) for i in (1, 2)]

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def bw(self, *args):
        return subprocess.run([BULWARK] + list(args), capture_output=True,
                              text=True, timeout=120, env=self.env)

    def ok(self, *args):
        p = self.bw(*args)
        self.assertEqual(p.returncode, 0, "%s: %s" % (args, p.stderr))
        return p

    def refused(self, msg, *args):
        p = self.bw(*args)
        self.assertEqual(p.returncode, 1, "%s: %s" % (args, p.stdout))
        self.assertIn(msg, p.stderr)
        return p

    def sign(self, image, out, fmt="uefi"):
        args = ["sign", "boot", "--format", fmt, "--production", "hello"]
        if fmt == "uefi":
            args += ["--key", self.path("boot/db.keys.tar.gz"), "--cert",
                     self.path("boot/db.crt")]
        else:
            args += ["--key", self.path("boot/db.keys.tar.gz"),
                     "--key-name", "x"]
        return self.bw(*(args + [image, out]))

    def test_two_admins_then_the_boot_key(self):
        out = self.path("hello.signed.efi")
        p = self.sign(HELLO, out)
        self.assertEqual(p.returncode, 1)
        self.assertIn("is not approved", p.stderr)
        self.assertFalse(os.path.exists(out))
        # Admin A alone is below the threshold.
        self.refused("has 2 of 3 signatures", "sign", "request", "--name",
                     "hello", "--format", "uefi", HELLO, "--keys",
                     self.offline[0])
        p = self.ok("sign", "request", "--name", "hello", "--format", "uefi",
                    HELLO, "--keys", self.offline[0], "--partial")
        self.assertIn("2 of 3 signatures", p.stdout)
        self.assertFalse(self.sign(HELLO, out).returncode == 0)
        # A key that is not a production targets key, or admin A again.
        self.refused("", "sign", "approve", "--name", "hello", "--keys",
                     os.path.join(self.ws, "offline-keys", "root-1.tar.gz"))
        p = self.bw("sign", "approve", "--name", "hello", "--keys",
                    self.offline[0])
        self.assertIn("2 of 3 signatures", p.stdout + p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.ws, "boot",
                                                     "hello.json")))
        # Admin B completes it.
        p = self.ok("sign", "approve", "--name", "hello", "--keys",
                    self.offline[1])
        self.assertIn("approved (3 of 3 signatures)", p.stdout)
        # Only exactly the approved bytes, in the approved format.
        other = self.path("other.efi")
        with open(HELLO, "rb") as f:
            data = bytearray(f.read())
        data[500] ^= 1
        with open(other, "wb") as f:
            f.write(data)
        p = self.sign(other, out)
        self.assertEqual(p.returncode, 1)
        self.assertIn("approved other bytes", p.stderr)
        p = self.sign(HELLO, self.path("x.fit"), fmt="fit")
        self.assertEqual(p.returncode, 1)
        self.assertIn("approved other bytes or another format", p.stderr)
        self.assertFalse(os.path.exists(out))
        p = self.sign(HELLO, out)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("approved by the production threshold", p.stdout)
        if shutil.which("sbverify"):
            v = subprocess.run(["sbverify", "--cert",
                                self.path("boot/db.crt"), out],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(v.returncode, 0, v.stderr)
        # The name is taken.
        self.refused("exists", "sign", "request", "--name", "hello",
                     "--format", "uefi", HELLO, "--keys", self.offline[0],
                     "--partial")


if __name__ == "__main__":
    unittest.main()
