"""UEFI Secure Boot keys and signatures made by bulwark, checked by the
verifiers that boot devices.

- sbverify (sbsigntool) accepts an image `bulwark sign boot --format uefi`
  signed, against db.crt only, and refuses every bit flip in the signed
  bytes and in the signature.
- OVMF (Debian's `ovmf`, Secure Boot build) under qemu-system-x86_64 (TCG,
  no network): in setup mode the firmware's shell enrols bulwark's signed
  db, KEK and PK updates (.auth, written through `dmpstore -l`, which calls
  SetVariable with the time-based authenticated attribute, so the
  firmware itself checks each update); then, with Secure Boot enforced,
  efitools' HelloWorld.efi signed by bulwark runs, the unsigned one is
  refused ("Security Violation"), a tampered dbx update is refused by the
  firmware, and after bulwark's dbx update the revoked image is refused.
- No byte of a private key exists outside its key archive.
- Keys made inside a SoftHSM2 token by `keys boot create --hsm-token` sign
  through their pkcs11: URIs (sbverify accepts) and are in no file.

Each QEMU boot is bounded (BOOT_TIMEOUT); boots that do not depend on each
other run side by side.

Environment: BW_BINARY_DIR (build dir with bulwark).
"""

import os
import re
import shutil
import struct
import subprocess
import tarfile
import tempfile
import time
import unittest
import uuid
import zlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from bwtest import rsa_private_key_files, softhsm_token

SOURCE_DIR = os.environ.get(
    "BW_SOURCE_DIR",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BINARY_DIR = os.environ.get("BW_BINARY_DIR", os.path.join(SOURCE_DIR, "build"))
BULWARK = os.path.join(BINARY_DIR, "bulwark")

EFITOOLS = "/usr/lib/efitools/x86_64-linux-gnu"
HELLO = os.path.join(EFITOOLS, "HelloWorld.efi")
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
BOOT_TIMEOUT = 90  # seconds per QEMU boot; a boot takes 10-30 s on TCG

GLOBAL = "8be4df61-93ca-11d2-aa0d-00e098032b8c"
IMAGE_DB = "d719b2cb-3d3a-4596-a3bc-dad00e67656f"
GUIDS = {"PK": GLOBAL, "KEK": GLOBAL, "db": IMAGE_DB, "dbx": IMAGE_DB}
ATTR_NV_BS_RT_AT = 0x27

# HelloWorld.efi draws this dialog once it runs.
RAN = b"prove you have managed"
REFUSED = b"Security Violation"


def have_tools():
    return (all(shutil.which(t) for t in
                ("qemu-system-x86_64", "sbverify", "mformat", "mcopy"))
            and os.path.exists(OVMF_CODE) and os.path.exists(HELLO))


def dmpstore_record(name, data):
    """A variable in the file format of the UEFI shell's `dmpstore -s`,
    which `dmpstore -l` hands to SetVariable as it is."""
    n = (name + "\0").encode("utf-16-le")
    body = (struct.pack("<II", len(n), len(data)) + n +
            uuid.UUID(GUIDS[name]).bytes_le +
            struct.pack("<I", ATTR_NV_BS_RT_AT) + data)
    return body + struct.pack("<I", zlib.crc32(body) & 0xffffffff)


def flip(data, offset, bit=0):
    b = bytearray(data)
    b[offset] ^= 1 << bit
    return bytes(b)


class Qemu:
    """One OVMF boot; stops at the first marker seen on the serial
    console, at power-off, or at BOOT_TIMEOUT."""

    def __init__(self, top, name, vars_fd, esp):
        self.log = os.path.join(top, name + ".serial.log")
        self.proc = subprocess.Popen(
            ["qemu-system-x86_64", "-machine", "q35,smm=on", "-accel", "tcg",
             "-global", "driver=cfi.pflash01,property=secure,value=on",
             "-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" +
             OVMF_CODE,
             "-drive", "if=pflash,format=raw,unit=1,file=" + vars_fd,
             "-drive", "file=%s,format=raw,if=virtio" % esp,
             "-serial", "file:" + self.log, "-display", "none",
             "-net", "none", "-m", "256", "-no-reboot"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        self.start = time.monotonic()

    def serial(self):
        """The console text without its ANSI colour and cursor codes."""
        try:
            with open(self.log, "rb") as f:
                return re.sub(rb"\x1b\[[0-9;=?]*[A-Za-z]", b"", f.read())
        except FileNotFoundError:
            return b""

    def wait(self, markers=()):
        """Serial output once a marker shows, QEMU exits, or time runs
        out (then the test fails on what is missing)."""
        while time.monotonic() - self.start < BOOT_TIMEOUT:
            if self.proc.poll() is not None:
                break
            if any(m in self.serial() for m in markers):
                break
            time.sleep(0.5)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        return self.serial()


@unittest.skipUnless(have_tools(), "qemu-system-x86, ovmf, efitools, "
                     "sbsigntool or mtools missing (scripts/install-deps.sh)")
class UefiSecureBoot(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="bw-uefi-")
        cls.keys = os.path.join(cls.tmp, "keys")
        cls.run_ok(BULWARK, "keys", "boot", "create", cls.keys,
                   "--factory", "Acme")
        cls.signed = cls.path("hello-signed.efi")
        cls.unsigned = cls.path("hello-unsigned.efi")
        shutil.copy(HELLO, cls.unsigned)
        cls.run_ok(BULWARK, "sign", "boot", "--format", "uefi",
                   "--key", cls.key("db"), "--cert", cls.crt("db"),
                   HELLO, cls.signed)
        signer = {"PK": "PK", "KEK": "PK", "db": "KEK"}
        for var in ("PK", "KEK", "db"):
            cls.auth(var, signer[var], "--add-cert", cls.crt(var))
        cls.auth("dbx", "KEK", "--revoke-image", cls.signed)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def path(cls, name):
        return os.path.join(cls.tmp, name)

    @classmethod
    def key(cls, role):
        return os.path.join(cls.keys, role + ".keys.tar.gz")

    @classmethod
    def crt(cls, role):
        return os.path.join(cls.keys, role + ".crt")

    @classmethod
    def run_ok(cls, *args):
        p = subprocess.run(args, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, "%s: %s %s" % (args, p.stdout, p.stderr)
        return p

    @classmethod
    def auth(cls, var, signer, *entries):
        cls.run_ok(BULWARK, "sign", "boot", "--format", "auth", "--var", var,
                   "--key", cls.key(signer), "--cert", cls.crt(signer),
                   *entries, cls.path(var + ".auth"))

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    # ---- sbverify ----------------------------------------------------------

    def sbverify(self, image, cert):
        return subprocess.run(["sbverify", "--cert", cert, image],
                              capture_output=True, text=True, timeout=60)

    def test_sbverify_accepts_db_signature_only(self):
        p = self.sbverify(self.signed, self.crt("db"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("Signature verification OK", p.stdout + p.stderr)
        for other in ("KEK", "PK"):
            self.assertNotEqual(self.sbverify(self.signed,
                                              self.crt(other)).returncode, 0)

    def test_sbverify_refuses_bit_flips(self):
        data = self.read(self.signed)
        size = len(self.read(HELLO))
        # Code, the PE header, the padding before the signature, the
        # signature's certificate and its signature value.
        for off in (0x3c, 0x200, size // 2, size - 1, size + 40,
                    len(data) // 2 + size // 2, len(data) - 120):
            bad = self.path("flip.efi")
            with open(bad, "wb") as f:
                f.write(flip(data, off))
            p = self.sbverify(bad, self.crt("db"))
            self.assertNotEqual(p.returncode, 0,
                                "bit flip at %d accepted" % off)

    def test_refusals_are_clear(self):
        cases = [
            (["--format", "uefi", "--key", self.key("db"), "--cert",
              self.crt("db"), self.signed, self.path("x.efi")],
             "already signed"),
            (["--format", "uefi", "--key", self.key("db"), "--cert",
              self.crt("KEK"), HELLO, self.path("x.efi")],
             "is not the certificate of"),
            (["--format", "uefi", "--key", self.key("db"), "--cert",
              self.crt("db"), self.crt("db"), self.path("x.efi")],
             "not a PE image"),
            (["--format", "auth", "--var", "Boot0000", "--key",
              self.key("KEK"), "--cert", self.crt("KEK"), "--add-cert",
              self.crt("db"), self.path("x.auth")], "not PK, KEK, db or dbx"),
            (["--format", "fat", "--key", self.key("KEK"), "--cert",
              self.crt("KEK"), self.path("x.auth")], "uefi, auth or fit"),
        ]
        for args, msg in cases:
            p = subprocess.run([BULWARK, "sign", "boot"] + args,
                               capture_output=True, text=True, timeout=60)
            self.assertIn(p.returncode, (1, 2), args)
            self.assertIn(msg, p.stderr, args)
            self.assertFalse(os.path.exists(self.path("x.efi")))
            self.assertFalse(os.path.exists(self.path("x.auth")))

    def test_token_key_signs(self):
        """A db key made inside a SoftHSM2 token (non-extractable) signs
        through its pkcs11: URI; sbverify accepts the result."""
        tools = ("softhsm2-util", "pkcs11-tool", "openssl")
        if not all(shutil.which(t) for t in tools):
            self.skipTest("softhsm2 / opensc missing")
        d = self.path("token")
        os.makedirs(os.path.join(d, "tokens"))
        env = dict(os.environ, SOFTHSM2_CONF=os.path.join(d, "softhsm2.conf"),
                   OPENSSL_CONF="/dev/null")
        with open(env["SOFTHSM2_CONF"], "w") as f:
            f.write("directories.tokendir = %s/tokens\n" % d)
        pin = os.path.join(d, "pin")
        with open(os.open(pin, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("1234\n")
        module = "/usr/lib/softhsm/libsofthsm2.so"
        for cmd in (["softhsm2-util", "--init-token", "--free", "--label",
                     "boot", "--pin", "1234", "--so-pin", "5678"],
                    ["pkcs11-tool", "--module", module, "--token-label",
                     "boot", "--login", "--pin", "1234", "--keypairgen",
                     "--key-type", "rsa:2048", "--label", "db", "--id", "01"],
                    ["openssl", "req", "-new", "-x509", "-engine", "pkcs11",
                     "-keyform", "engine", "-key",
                     "pkcs11:token=boot;object=db;type=private;"
                     "pin-value=1234", "-subj", "/CN=token db", "-days", "30",
                     "-out", os.path.join(d, "db.crt")]):
            p = subprocess.run(cmd, capture_output=True, text=True,
                               timeout=60, env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
        out = os.path.join(d, "hello.efi")
        p = subprocess.run([BULWARK, "sign", "boot", "--format", "uefi",
                            "--key", "pkcs11:token=boot;object=db",
                            "--hsm-pin-file", pin, "--cert",
                            os.path.join(d, "db.crt"), HELLO, out],
                           capture_output=True, text=True, timeout=60,
                           env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        v = self.sbverify(out, os.path.join(d, "db.crt"))
        self.assertEqual(v.returncode, 0, v.stderr)
        self.assertNotEqual(self.sbverify(out, self.crt("db")).returncode, 0)

    def test_keys_made_in_token(self):
        """`keys boot create --hsm-token`: PK, KEK and db generated inside
        a SoftHSM2 token (RSA-3072, never extractable), their certificates
        made with the token keys; db signs HelloWorld.efi (sbverify
        accepts it against db.crt only), KEK signs a db update; no file
        holds a private key of theirs, while the same scan finds the key
        archives' keys."""
        if not (shutil.which("softhsm2-util") and shutil.which("pkcs11-tool")):
            self.skipTest("softhsm2 / opensc missing")
        d = self.path("made-in-token")
        env = dict(os.environ, SOFTHSM2_CONF=softhsm_token(d, "boot"))
        pin = os.path.join(d, "pin")
        with open(os.open(pin, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("1234\n")
        keys = os.path.join(d, "keys")

        def bw(*args):
            return subprocess.run([BULWARK] + list(args), capture_output=True,
                                  text=True, timeout=180, env=env)

        p = bw("keys", "boot", "create", keys, "--factory", "Acme", "--bits",
               "3072", "--hsm-token", "boot", "--hsm-pin-file", pin)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(sorted(os.listdir(keys)),
                         ["KEK.crt", "KEK.uri", "PK.crt", "PK.uri", "db.crt",
                          "db.uri"])
        uri = {}
        for role in ("PK", "KEK", "db"):
            with open(os.path.join(keys, role + ".uri")) as f:
                uri[role] = f.read().strip()
            self.assertTrue(uri[role].startswith(
                "pkcs11:token=boot;object=bulwark-boot-%s-" % role))
        objs = subprocess.run(
            ["pkcs11-tool", "--module", "/usr/lib/softhsm/libsofthsm2.so",
             "--token-label", "boot", "--login", "--pin", "1234",
             "--list-objects", "--type", "privkey"],
            capture_output=True, text=True, timeout=60, env=env).stdout
        self.assertEqual(objs.count("never extractable"), 3, objs)
        out = os.path.join(d, "hello.efi")
        p = bw("sign", "boot", "--format", "uefi", "--key", uri["db"],
               "--hsm-pin-file", pin, "--cert", os.path.join(keys, "db.crt"),
               HELLO, out)
        self.assertEqual(p.returncode, 0, p.stderr)
        v = self.sbverify(out, os.path.join(keys, "db.crt"))
        self.assertEqual(v.returncode, 0, v.stderr)
        for other in (os.path.join(keys, "KEK.crt"), self.crt("db")):
            self.assertNotEqual(self.sbverify(out, other).returncode, 0)
        p = bw("sign", "boot", "--format", "auth", "--var", "db", "--key",
               uri["KEK"], "--hsm-pin-file", pin, "--cert",
               os.path.join(keys, "KEK.crt"), "--add-cert",
               os.path.join(keys, "db.crt"), os.path.join(d, "db.auth"))
        self.assertEqual(p.returncode, 0, p.stderr)
        for role in ("PK", "KEK", "db"):
            with open(os.path.join(keys, role + ".crt"), "rb") as f:
                n = x509.load_pem_x509_certificate(
                    f.read()).public_key().public_numbers().n
            self.assertEqual(n.bit_length(), 3072)
            self.assertEqual(rsa_private_key_files(self.tmp, n), [], role)
        with open(self.crt("db"), "rb") as f:
            n = x509.load_pem_x509_certificate(
                f.read()).public_key().public_numbers().n
        self.assertEqual(rsa_private_key_files(self.tmp, n), [self.key("db")])

    # ---- OVMF --------------------------------------------------------------

    def esp(self, name, files, startup=None):
        img = self.path(name + ".esp.img")
        with open(img, "wb") as f:
            f.truncate(8 << 20)
        self.run_ok("mformat", "-i", img, "::")
        self.run_ok("mmd", "-i", img, "::EFI", "::EFI/BOOT")
        for dst, src in files.items():
            self.run_ok("mcopy", "-i", img, src, "::" + dst)
        if startup is not None:
            nsh = self.path(name + ".nsh")
            with open(nsh, "w") as f:
                f.write("\r\n".join(["fs0:"] + startup + ["reset -s", ""]))
            self.run_ok("mcopy", "-i", img, nsh, "::startup.nsh")
        return img

    def var_file(self, var, auth_bytes):
        p = self.path(var + ("-bad" if auth_bytes is None else "") + ".var")
        if auth_bytes is None:  # the dbx update with one signature bit off
            data = self.read(self.path("dbx.auth"))
            auth_bytes = flip(data, len(data) - 200)
        with open(p, "wb") as f:
            f.write(dmpstore_record(var, auth_bytes))
        return p

    def enrol(self, name, extra=()):
        """Setup mode: the shell enrols db, KEK, then PK (Secure Boot on
        from here), then runs extra shell lines."""
        vars_fd = self.path(name + ".vars.fd")
        shutil.copy(OVMF_VARS, vars_fd)
        files, lines = {}, []
        for var in ("db", "KEK", "PK"):
            files[var + ".var"] = self.var_file(
                var, self.read(self.path(var + ".auth")))
            lines.append("dmpstore %s-l %s.var" % (
                "-guid %s " % IMAGE_DB if var == "db" else "", var))
        files["dbx.var"] = self.var_file("dbx", self.read(
            self.path("dbx.auth")))
        files["dbxbad.var"] = self.var_file("dbx", None)
        esp = self.esp(name, files, lines + list(extra))
        return vars_fd, Qemu(self.tmp, name, vars_fd, esp)

    def boot(self, name, vars_fd, image):
        """Secure Boot on: the firmware boots image as the removable-media
        loader of the ESP."""
        copy = self.path(name + ".vars.fd")
        shutil.copy(vars_fd, copy)
        esp = self.esp(name, {"EFI/BOOT/BOOTX64.EFI": image})
        return Qemu(self.tmp, name, copy, esp)

    def test_ovmf_enrol_enforce_and_revoke(self):
        dbx = "-guid %s -l " % IMAGE_DB
        vars1, q1 = self.enrol("enrol")
        vars2, q2 = self.enrol("enrol-dbx", ["dmpstore %sdbxbad.var" % dbx,
                                             "echo bad-dbx-done",
                                             "dmpstore %sdbx.var" % dbx,
                                             "echo dbx-done"])
        out1, out2 = q1.wait(), q2.wait()
        for out in (out1, out2):
            self.assertNotIn(b"Failed to set variable PK", out)
            self.assertNotIn(b"Failed to set variable KEK", out)
            self.assertNotIn(b"Failed to set variable db:", out)
        # The tampered dbx update is refused by the firmware, the real
        # one (checked against KEK, Secure Boot already on) accepted.
        i = out2.index(b"\nbad-dbx-done")
        self.assertIn(b"Failed to set variable dbx: Security Violation",
                      out2[:i])
        j = out2.index(b"\ndbx-done", i + 12)
        self.assertNotIn(b"Failed to set variable", out2[i:j])

        runs = {
            "signed": self.boot("boot-signed", vars1, self.signed),
            "unsigned": self.boot("boot-unsigned", vars1, self.unsigned),
            "revoked": self.boot("boot-revoked", vars2, self.signed),
        }
        out = {k: q.wait((RAN, REFUSED)) for k, q in runs.items()}
        self.assertIn(RAN, out["signed"])
        self.assertNotIn(REFUSED, out["signed"])
        self.assertIn(REFUSED, out["unsigned"])
        self.assertNotIn(RAN, out["unsigned"])
        self.assertIn(REFUSED, out["revoked"])
        self.assertNotIn(RAN, out["revoked"])

    # ---- key material ------------------------------------------------------

    def test_z_no_private_key_byte_outside_its_archive(self):
        """Runs last (z), so it scans what every other test wrote."""
        secrets = []
        for role in ("PK", "KEK", "db"):
            archive = self.key(role)
            self.assertEqual(os.stat(archive).st_mode & 0o077, 0)
            with tarfile.open(archive) as t:
                for m in t.getmembers():
                    pem = t.extractfile(m).read()
                    k = serialization.load_pem_private_key(pem, None)
                    n = k.private_numbers()
                    for v in (n.p, n.q, n.d):
                        raw = v.to_bytes((v.bit_length() + 7) // 8, "big")
                        secrets += [raw[:32], raw[::-1][:32]]
                    secrets.append(pem.splitlines()[1])
        scanned = 0
        for root, _, files in os.walk(self.tmp):
            for name in files:
                if name.endswith(".keys.tar.gz"):
                    continue
                data = self.read(os.path.join(root, name))
                scanned += 1
                for s in secrets:
                    self.assertNotIn(s, data, "key bytes in " + name)
        self.assertGreater(scanned, 8)


if __name__ == "__main__":
    unittest.main()
