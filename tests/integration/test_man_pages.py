"""docs/man/ says what the programs do: each page is generated from the
programs' own --help (scripts/gen-man.py), and this test fails when a page
and the build disagree. Environment: BW_BINARY_DIR, BW_SOURCE_DIR."""

import os
import subprocess
import sys
import unittest

SOURCE = os.environ.get("BW_SOURCE_DIR",
                        os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("BW_BINARY_DIR", os.path.join(SOURCE, "build"))


class ManPages(unittest.TestCase):
    def test_pages_match_help(self):
        p = subprocess.run([sys.executable,
                            os.path.join(SOURCE, "scripts", "gen-man.py"),
                            "--check", BINARY],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_every_program_has_a_page(self):
        for prog in ("bulwark", "bulwarkd", "bulwark-device",
                     "bulwark-tuf-client"):
            self.assertTrue(os.path.exists(
                os.path.join(SOURCE, "docs", "man", prog + ".md")), prog)


if __name__ == "__main__":
    unittest.main()
