"""`make install` gives integrators libbulwark: the static library, the
public headers, bulwark.pc, the programs and their man pages, staged with
DESTDIR. The README's C example is compiled against the installed copy
with pkg-config alone (no path into the source tree) and run.
Environment: BW_BINARY_DIR, BW_SOURCE_DIR."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

SOURCE = os.environ.get("BW_SOURCE_DIR",
                        os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("BW_BINARY_DIR", os.path.join(SOURCE, "build"))
PREFIX = "/opt/bulwark"


def readme_example():
    """The first ```c block of README.md."""
    with open(os.path.join(SOURCE, "README.md")) as f:
        m = re.search(r"```c\n(.*?)```", f.read(), re.S)
    return m.group(1)


class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="bw_install_")
        cls.dest = os.path.join(cls.tmp, "stage")
        env = dict(os.environ, DESTDIR=cls.dest)
        p = subprocess.run(["cmake", "--install", BINARY, "--prefix",
                            PREFIX], env=env, capture_output=True,
                           text=True, timeout=300)
        if p.returncode != 0:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise AssertionError(p.stdout + p.stderr)
        cls.root = cls.dest + PREFIX

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_files_in_place(self):
        for rel in ("lib/libbulwark.a", "lib/pkgconfig/bulwark.pc",
                    "include/bulwark/tuf.h", "include/bulwark/error.h",
                    "bin/bulwark", "bin/bulwarkd", "bin/bulwark-device",
                    "bin/bulwark-tuf-client", "share/man/man1/bulwark.1",
                    "share/man/man1/bulwark-device.1"):
            self.assertTrue(os.path.exists(os.path.join(self.root, rel)),
                            rel)

    def test_no_private_header_installed(self):
        for dirpath, _, names in os.walk(os.path.join(self.root,
                                                      "include")):
            for n in names:
                self.assertNotIn("priv", n, os.path.join(dirpath, n))

    def test_man_page_renders(self):
        if shutil.which("man") is None:
            self.skipTest("no man(1)")
        p = subprocess.run(["man", "-l", os.path.join(
            self.root, "share/man/man1/bulwark-tuf-client.1")],
            capture_output=True, text=True, timeout=60,
            env=dict(os.environ, MANPAGER="cat", PAGER="cat"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("bulwark-tuf-client", p.stdout)

    def test_readme_example_builds_with_pkg_config_only(self):
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(
            self.root, "lib", "pkgconfig"))
        p = subprocess.run(["pkg-config", "--cflags", "--libs", "bulwark"],
                           env=env, capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        flags = p.stdout.split()
        self.assertFalse([f for f in flags if SOURCE in f], flags)
        src = os.path.join(self.tmp, "example.c")
        with open(src, "w") as f:
            f.write("#include <stdio.h>\n#include <bulwark/error.h>\n"
                    "#include <bulwark/fetch.h>\n#include <bulwark/tuf.h>\n"
                    "\nint main(void)\n{\n" + readme_example() +
                    "return 0;\n}\n")
        exe = os.path.join(self.tmp, "example")
        p = subprocess.run(["cc", "-std=c17", "-Wall", "-Werror", src,
                            "-o", exe] + flags, capture_output=True,
                           text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        # No trusted root in ./meta: the example must say so, not crash.
        p = subprocess.run([exe], cwd=self.tmp, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("verified", p.stdout)
        self.assertIn("meta", p.stderr)


if __name__ == "__main__":
    unittest.main()
