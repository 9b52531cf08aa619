"""bulwark-device refuses targets whose boot artifacts are not signed by
the device's boot keys.

A production target (offline-signed TUF metadata, the repository of
test_device.py) names its boot artifacts in custom.boot: format, offset
and length inside the target file, sha256, and the target's
secure_version. The device holds the UEFI db certificate and the FIT
public key ([boot] uefi_db, fit_key). Artifacts are made by bulwark
(`keys boot create`, `sign boot`) from efitools' HelloWorld.efi and a FIT
built by mkimage.

- a target whose UEFI image and FIT verify is installed, and its
  secure_version becomes the device's counter;
- unsigned, signed by another key, or bytes that differ from the hash the
  metadata names: refused at pull (exit 22), a clear message, nothing
  downloaded kept, nothing installed, the target never picked again;
- a secure_version below the counter: refused (exit 22);
- with [boot] require_signed, a target without boot artifacts: refused.

Environment: BW_BINARY_DIR (build dir with bulwark, bulwark-device).
"""

import hashlib
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bwdevice as td  # noqa: E402

BULWARK = os.path.join(td.BINARY_DIR, "bulwark")
HELLO = "/usr/lib/efitools/x86_64-linux-gnu/HelloWorld.efi"
UNSIGNED_FIT = os.path.join(td.SOURCE_DIR, "fuzz", "corpus", "boot_fit",
                            "unsigned.fit")


def run_ok(*args):
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, "%s: %s %s" % (args, p.stdout, p.stderr)


@unittest.skipUnless(os.path.exists(HELLO), "efitools missing "
                     "(scripts/install-deps.sh)")
class SignedBootArtifacts(td.DeviceTest):
    production = True

    def setUp(self):
        super().setUp()
        k = os.path.join(self.tmp, "keys")
        os.makedirs(k)
        self.art = {}
        for who in ("ours", "theirs"):
            run_ok(BULWARK, "keys", "boot", "create",
                   os.path.join(k, who), "--factory", who)
            run_ok(BULWARK, "keys", "boot", "create",
                   os.path.join(k, who + "-fit"), "--type", "fit")
            out = os.path.join(k, who + ".efi")
            run_ok(BULWARK, "sign", "boot", "--format", "uefi", "--key",
                   os.path.join(k, who, "db.keys.tar.gz"), "--cert",
                   os.path.join(k, who, "db.crt"), HELLO, out)
            self.art["uefi-" + who] = self.read(out)
            out = os.path.join(k, who + ".fit")
            run_ok(BULWARK, "sign", "boot", "--format", "fit", "--key",
                   os.path.join(k, who + "-fit", "fit.keys.tar.gz"),
                   "--key-name", who, UNSIGNED_FIT, out)
            self.art["fit-" + who] = self.read(out)
        self.art["uefi-unsigned"] = self.read(HELLO)
        self.art["fit-unsigned"] = self.read(UNSIGNED_FIT)
        self.boot_config = ("[boot]\nuefi_db = %s\nfit_key = %s\n" % (
            os.path.join(k, "ours", "db.crt"),
            os.path.join(k, "ours-fit", "fit.pub.pem")))
        self.dev.write_config(self.srv.url, self.boot_config)

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def add(self, name, version, parts, secure_version, lie=None):
        """A target made of a 4 KiB header then each artifact in parts."""
        data = bytearray(td.image(name, 4096))
        arts = []
        for fmt_who in parts:
            blob = self.art[fmt_who]
            arts.append({"format": fmt_who.split("-")[0],
                         "offset": len(data), "length": len(blob),
                         "sha256": hashlib.sha256(
                             lie or blob).hexdigest()})
            data += blob
        self.repo.add(name, bytes(data), version)
        self.repo.targets[name]["custom"]["boot"] = {
            "secure_version": secure_version, "artifacts": arts}

    def pull_refused(self, why):
        p = self.dev.run("pull")
        self.assertExit(p, td.REFUSED)
        self.assertIn("refused, nothing installed", p.stderr)
        self.assertIn(why, p.stderr)
        self.assertEqual(os.listdir(os.path.join(self.dev.state,
                                                 "downloads")), [])
        self.assertExit(self.dev.run("install"), td.NOT_FOUND)
        self.assertFalse(os.path.exists(self.dev.slot[1]))
        st = self.dev.status()
        self.assertIn("pending: none", st)
        self.assertIn("(failed here before)", self.dev.run("list").stdout)
        return p

    def test_signed_artifacts_install_and_set_the_counter(self):
        self.add("fw-2", "2", ["uefi-ours", "fit-ours"], 5)
        self.repo.publish()
        self.assertExit(self.dev.run("pull"), td.OK)
        self.assertExit(self.dev.run("install"), td.REBOOT)
        self.assertExit(self.dev.run("boot"), td.OK)
        self.assertExit(self.dev.run("run"), td.OK)
        st = self.dev.status()
        self.assertIn("current: fw-2 version 2", st)
        self.assertIn("boot firmware: 5", st)
        # Below the counter now: refused, named or not.
        self.add("fw-3", "3", ["uefi-ours"], 4)
        self.repo.publish()
        p = self.dev.run("pull", "--version", "3")
        self.assertExit(p, td.REFUSED)
        self.assertIn("anti-rollback", p.stderr)

    def test_unsigned_uefi_image_refused(self):
        self.add("fw-2", "2", ["uefi-unsigned"], 1)
        self.repo.publish()
        self.pull_refused("the image is not signed")

    def test_uefi_image_of_another_key_refused(self):
        self.add("fw-2", "2", ["fit-ours", "uefi-theirs"], 1)
        self.repo.publish()
        self.pull_refused("signed by a key that is not in db")

    def test_unsigned_fit_refused(self):
        self.add("fw-2", "2", ["uefi-ours", "fit-unsigned"], 1)
        self.repo.publish()
        self.pull_refused("is not signed")

    def test_fit_of_another_key_refused(self):
        self.add("fw-2", "2", ["fit-theirs"], 1)
        self.repo.publish()
        self.pull_refused("does not verify with the key")

    def test_artifact_other_than_the_metadata_says_refused(self):
        self.add("fw-2", "2", ["uefi-ours"], 1,
                 lie=self.art["uefi-theirs"])
        self.repo.publish()
        self.pull_refused("not the bytes the metadata names")

    def test_altered_signed_image_refused(self):
        bad = bytearray(self.art["uefi-ours"])
        bad[1000] ^= 1
        self.art["uefi-altered"] = bytes(bad)
        self.add("fw-2", "2", ["uefi-altered"], 1)
        self.repo.publish()
        self.pull_refused("altered after signing")

    def test_no_anchor_configured_refused(self):
        self.dev.write_config(self.srv.url, "")
        self.add("fw-2", "2", ["uefi-ours"], 1)
        self.repo.publish()
        self.pull_refused("uefi_db is not set")

    def test_require_signed_refuses_a_target_without_artifacts(self):
        self.dev.write_config(self.srv.url,
                              self.boot_config + "require_signed = on\n")
        self.repo.add("fw-2", td.image("fw-2", 5000), "2")
        self.repo.publish()
        self.pull_refused("carries no signed boot artifact")


if __name__ == "__main__":
    unittest.main()
