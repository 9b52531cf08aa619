"""U-Boot FIT signatures made by bulwark, checked by U-Boot itself.

mkimage (u-boot-tools) builds an unsigned FIT from an .its (a random
"kernel" and a device tree, each with a sha256 hash node); `bulwark sign
boot --format fit` signs its configuration with a key from a key archive;
`bulwark keys boot fit-key` writes the public key node (required = "conf")
into QEMU's own device tree for the `virt` machine. Debian's U-Boot for
qemu_arm64 (u-boot-qemu, built with FIT signature checking) boots under
qemu-system-aarch64 with that device tree as its control tree, finds the
FIT in memory and runs `fdt checksign` and `bootm`:

- the signed FIT verifies ("sha256,rsa2048:bulwark+");
- one flipped bit in a signed property, the unsigned FIT, and a FIT signed
  by another key fail `fdt checksign`;
- one flipped bit in the kernel's data fails bootm's image hash check;
- a FIT key made inside a SoftHSM2 token (`keys boot create --hsm-token`)
  signs, its node goes into the control tree, U-Boot accepts its FIT.

Each U-Boot run is bounded (RUN_TIMEOUT); the runs go side by side.

Environment: BW_BINARY_DIR (build dir with bulwark).
"""

import os
import select
import shutil
import subprocess
import tempfile
import time
import unittest

from cryptography.hazmat.primitives import serialization

from bwtest import rsa_private_key_files, softhsm_token

SOURCE_DIR = os.environ.get(
    "BW_SOURCE_DIR",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BINARY_DIR = os.environ.get("BW_BINARY_DIR", os.path.join(SOURCE_DIR, "build"))
BULWARK = os.path.join(BINARY_DIR, "bulwark")
UBOOT = "/usr/lib/u-boot/qemu_arm64/u-boot.bin"
FIT_ADDR = "0x50000000"
RUN_TIMEOUT = 60

ITS = """/dts-v1/;
/ {
	description = "bulwark test FIT";
	#address-cells = <1>;
	images {
		kernel-1 {
			description = "test kernel";
			data = /incbin/("kernel.bin");
			type = "kernel";
			arch = "arm64";
			os = "linux";
			compression = "none";
			load = <0x40400000>;
			entry = <0x40400000>;
			hash-1 { algo = "sha256"; };
		};
		fdt-1 {
			description = "test device tree";
			data = /incbin/("board.dtb");
			type = "flat_dt";
			arch = "arm64";
			compression = "none";
			hash-1 { algo = "sha256"; };
		};
	};
	configurations {
		default = "conf-1";
		conf-1 {
			description = "bulwark test configuration";
			kernel = "kernel-1";
			fdt = "fdt-1";
		};
	};
};
"""


def have_tools():
    return (all(shutil.which(t) for t in
                ("qemu-system-aarch64", "mkimage", "dtc", "fdtget"))
            and os.path.exists(UBOOT))


class UBoot:
    """U-Boot on the QEMU virt board with dtb as its control device tree
    and fit in memory at FIT_ADDR; commands typed on its console."""

    def __init__(self, fit, dtb):
        self.out = b""
        self.proc = subprocess.Popen(
            ["qemu-system-aarch64", "-machine", "virt", "-cpu", "cortex-a57",
             "-m", "512", "-bios", UBOOT, "-dtb", dtb, "-nographic",
             "-net", "none", "-device",
             "loader,file=%s,addr=%s,force-raw=on" % (fit, FIT_ADDR)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.deadline = time.monotonic() + RUN_TIMEOUT

    def wait(self, marker, count=1, other=None):
        """Until marker shows count times (or other once)."""
        while time.monotonic() < self.deadline:
            if self.out.count(marker) >= count or (
                    other is not None and other in self.out):
                return True
            r, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if r:
                self.out += self.proc.stdout.read() or b""
        return False

    def type(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def run(self):
        """Stop autoboot, check the signature, try to boot; the console
        text. Markers appear twice: in the typed line and in its output."""
        try:
            if self.wait(b"Hit any key"):
                self.type("")
                self.wait(b"=> ")
                self.type("fdt addr %s; if fdt checksign; then echo CHECK-OK;"
                          " else echo CHECK-BAD; fi" % FIT_ADDR)
                self.wait(b"CHECK-OK\r\n", other=b"CHECK-BAD\r\n")
                # By name: this U-Boot otherwise picks the configuration
                # whose device tree matches the board's compatible.
                self.type("bootm %s#conf-1; echo BOOTM-END" % FIT_ADDR)
                # A refused image returns to the prompt; an accepted one
                # is started (and, being random bytes, crashes).
                self.wait(b"BOOTM-END", 2, other=b"Starting kernel")
        finally:
            self.proc.kill()
            self.proc.wait()
            self.proc.stdin.close()
            self.proc.stdout.close()
        return self.out.decode(errors="replace")


@unittest.skipUnless(have_tools(), "qemu-system-arm, u-boot-qemu, "
                     "u-boot-tools or device-tree-compiler missing "
                     "(scripts/install-deps.sh)")
class FitSignatures(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="bw-fit-")
        with open(cls.path("kernel.bin"), "wb") as f:
            f.write(os.urandom(8192))
        with open(cls.path("board.dts"), "w") as f:
            f.write('/dts-v1/;\n/ { model = "bulwark test board"; };\n')
        cls.ok("dtc", "-I", "dts", "-O", "dtb", "-o", cls.path("board.dtb"),
               cls.path("board.dts"))
        with open(cls.path("image.its"), "w") as f:
            f.write(ITS)
        cls.ok("mkimage", "-f", cls.path("image.its"), cls.path("image.fit"))
        cls.ok(BULWARK, "keys", "boot", "create", cls.path("keys"),
               "--type", "fit")
        cls.ok(BULWARK, "keys", "boot", "create", cls.path("other"),
               "--type", "fit", "--bits", "3072")
        cls.sign("keys", "signed.fit")
        cls.sign("other", "other.fit")
        cls.ok("qemu-system-aarch64", "-machine",
               "virt,dumpdtb=" + cls.path("virt.dtb"), "-cpu", "cortex-a57",
               "-m", "512", "-nographic")
        cls.ok(BULWARK, "keys", "boot", "fit-key", "--pub",
               cls.path("keys/fit.pub.pem"), "--key-name", "bulwark",
               cls.path("virt.dtb"), cls.path("control.dtb"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def path(cls, name):
        return os.path.join(cls.tmp, name)

    @classmethod
    def ok(cls, *args):
        p = subprocess.run(args, capture_output=True, text=True, timeout=120,
                           cwd=cls.tmp)
        assert p.returncode == 0, "%s: %s %s" % (args, p.stdout, p.stderr)
        return p

    @classmethod
    def sign(cls, keys, out):
        cls.ok(BULWARK, "sign", "boot", "--format", "fit", "--key",
               cls.path(keys + "/fit.keys.tar.gz"), "--key-name", "bulwark",
               cls.path("image.fit"), cls.path(out))

    def flipped(self, src, offset, name):
        with open(self.path(src), "rb") as f:
            data = bytearray(f.read())
        data[offset] ^= 0x01
        with open(self.path(name), "wb") as f:
            f.write(data)
        return self.path(name)

    def offset_of(self, src, needle):
        with open(self.path(src), "rb") as f:
            return f.read().index(needle)

    def test_signature_node_is_mkimage_s(self):
        get = lambda prop: self.ok(
            "fdtget", self.path("signed.fit"),
            "/configurations/conf-1/signature-1", prop).stdout.split()
        self.assertEqual(get("algo"), ["sha256,rsa2048"])
        self.assertEqual(get("key-name-hint"), ["bulwark"])
        self.assertEqual(get("sign-images"), ["kernel", "fdt"])
        self.assertEqual(get("hashed-nodes"), [
            "/", "/configurations/conf-1", "/images/kernel-1",
            "/images/kernel-1/hash-1", "/images/fdt-1",
            "/images/fdt-1/hash-1"])
        self.assertEqual(self.ok("fdtget", self.path("control.dtb"),
                                 "/signature/key-bulwark",
                                 "required").stdout.split(), ["conf"])

    def test_refusals(self):
        cases = [
            (["--format", "fit", "--key", self.path("keys/fit.keys.tar.gz"),
              "--key-name", "bulwark", self.path("signed.fit"),
              self.path("x.fit")], "already signed"),
            (["--format", "fit", "--key", self.path("keys/fit.keys.tar.gz"),
              "--key-name", "bulwark", self.path("kernel.bin"),
              self.path("x.fit")], "not a flattened device tree"),
            (["--format", "fit", "--key", self.path("keys/fit.keys.tar.gz"),
              "--key-name", "no/slash", self.path("image.fit"),
              self.path("x.fit")], "--key-name"),
        ]
        # An image whose hash node does not match its data.
        data_at = self.offset_of("image.fit", b"bulwark test board")
        cases.append((["--format", "fit", "--key",
                       self.path("keys/fit.keys.tar.gz"), "--key-name",
                       "bulwark", self.flipped("image.fit", data_at,
                                               "baddata.fit"),
                       self.path("x.fit")], "is not the sha256 of its data"))
        for args, msg in cases:
            p = subprocess.run([BULWARK, "sign", "boot"] + args,
                               capture_output=True, text=True, timeout=60)
            self.assertIn(p.returncode, (1, 2), args)
            self.assertIn(msg, p.stderr, args)
            self.assertFalse(os.path.exists(self.path("x.fit")))

    def test_uboot_verifies_and_refuses(self):
        # A bit of the signed configuration (its description), and a bit
        # of the kernel bytes (covered by the kernel's hash node).
        conf_at = self.offset_of("signed.fit", b"bulwark test configuration")
        with open(self.path("kernel.bin"), "rb") as f:
            kernel_at = self.offset_of("signed.fit", f.read(64))
        runs = {
            "signed": self.path("signed.fit"),
            "unsigned": self.path("image.fit"),
            "other-key": self.path("other.fit"),
            "flipped-conf": self.flipped("signed.fit", conf_at, "fc.fit"),
            "flipped-kernel": self.flipped("signed.fit", kernel_at + 10,
                                           "fk.fit"),
        }
        boards = {k: UBoot(v, self.path("control.dtb"))
                  for k, v in runs.items()}
        out = {k: b.run() for k, b in boards.items()}
        self.assertIn("sha256,rsa2048:bulwark+", out["signed"])
        self.assertIn("Verifying Hash Integrity ... sha256+ OK", out["signed"])
        self.assertIn("Starting kernel", out["signed"])
        self.assertIn("CHECK-OK\r\n", out["signed"])
        self.assertNotIn("Bad hash value", out["signed"])
        for bad in ("unsigned", "other-key", "flipped-conf"):
            self.assertIn("CHECK-BAD\r\n", out[bad], bad + out[bad])
            self.assertNotIn("CHECK-OK\r\n", out[bad], bad)
        self.assertIn("sha256,rsa2048:bulwark-", out["flipped-conf"])
        # The configuration still verifies (data is not part of it), but
        # the kernel's hash does not: bootm stops.
        self.assertIn("CHECK-OK\r\n", out["flipped-kernel"])
        self.assertIn("Bad hash value", out["flipped-kernel"])
        self.assertIn("ERROR: can't get kernel image!", out["flipped-kernel"])
        for bad in ("unsigned", "other-key", "flipped-conf", "flipped-kernel"):
            self.assertNotIn("Starting kernel", out[bad], bad)


    def test_token_key_made_by_bulwark(self):
        """`keys boot create --type fit --hsm-token`: the FIT key generated
        inside a SoftHSM2 token (RSA-2048, never extractable), its public
        key node in the control device tree; U-Boot accepts the FIT signed
        in the token and refuses the one signed by the archive key; no
        file holds the token key's private half."""
        if not (shutil.which("softhsm2-util") and shutil.which("pkcs11-tool")):
            self.skipTest("softhsm2 / opensc missing")
        d = self.path("token")
        env = dict(os.environ, SOFTHSM2_CONF=softhsm_token(d, "fit"))
        pin = os.path.join(d, "pin")
        with open(os.open(pin, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("1234\n")
        keys = os.path.join(d, "keys")

        def bw(*args):
            p = subprocess.run([BULWARK] + list(args), capture_output=True,
                               text=True, timeout=180, env=env)
            self.assertEqual(p.returncode, 0, p.stderr)

        bw("keys", "boot", "create", keys, "--type", "fit", "--hsm-token",
           "fit", "--hsm-pin-file", pin)
        self.assertEqual(sorted(os.listdir(keys)), ["fit.pub.pem", "fit.uri"])
        with open(os.path.join(keys, "fit.uri")) as f:
            uri = f.read().strip()
        signed = os.path.join(d, "token-signed.fit")
        bw("sign", "boot", "--format", "fit", "--key", uri, "--hsm-pin-file",
           pin, "--key-name", "bulwark", self.path("image.fit"), signed)
        dtb = os.path.join(d, "control.dtb")
        bw("keys", "boot", "fit-key", "--pub",
           os.path.join(keys, "fit.pub.pem"), "--key-name", "bulwark",
           self.path("virt.dtb"), dtb)
        boards = {"token": UBoot(signed, dtb),
                  "archive": UBoot(self.path("signed.fit"), dtb)}
        out = {k: b.run() for k, b in boards.items()}
        self.assertIn("sha256,rsa2048:bulwark+", out["token"])
        self.assertIn("CHECK-OK\r\n", out["token"])
        self.assertIn("Starting kernel", out["token"])
        self.assertIn("CHECK-BAD\r\n", out["archive"])
        self.assertNotIn("Starting kernel", out["archive"])
        with open(os.path.join(keys, "fit.pub.pem"), "rb") as f:
            n = serialization.load_pem_public_key(
                f.read()).public_numbers().n
        self.assertEqual(rsa_private_key_files(self.tmp, n), [])
        with open(self.path("keys/fit.pub.pem"), "rb") as f:
            n = serialization.load_pem_public_key(
                f.read()).public_numbers().n
        self.assertEqual(rsa_private_key_files(self.tmp, n),
                         [self.path("keys/fit.keys.tar.gz")])

if __name__ == "__main__":
    unittest.main()
