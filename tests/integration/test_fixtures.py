"""The integration fixtures themselves: the TUF root bwserver.Tuf builds is
accepted by bulwark-tuf-client, for CI and production."""
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bwserver import BIN, Tuf, run  # noqa: E402


class TestFixtures(unittest.TestCase):
    def test_root_accepted_by_bulwark_tuf_client(self):
        d = tempfile.mkdtemp(prefix="bwd-fix-")
        try:
            t = Tuf()
            for prod in (False, True):
                path = os.path.join(d, "root.json")
                with open(path, "wb") as f:
                    f.write(t.root(production=prod))
                md = os.path.join(d, "md%d" % prod)
                os.makedirs(md)
                run(os.path.join(BIN, "bulwark-tuf-client"), "--metadata-dir",
                    md, "init", path)
        finally:
            shutil.rmtree(d)


if __name__ == "__main__":
    unittest.main()
