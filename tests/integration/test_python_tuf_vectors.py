"""python-tuf interop vectors ($BW_VECTORS/python-tuf) against the CLI.

One test method per scenario; inside it one subTest per step (refresh,
metadata dir) and per target, as the README of the vectors directory
(BW_VECTORS) describes.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bwtest  # noqa: E402

VECTORS = os.path.join(bwtest.VECTORS_DIR, "python-tuf")


def _scenarios():
    if not os.path.isdir(VECTORS):
        return []
    return sorted(d for d in os.listdir(VECTORS)
                  if os.path.isfile(os.path.join(VECTORS, d, "expected.json")))


class PythonTufVectors(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        if not os.access(bwtest.CLI, os.X_OK):
            self.fail("CLI not built: %s" % bwtest.CLI)

    def test_vectors_present(self):
        self.assertGreaterEqual(len(_scenarios()), 14, VECTORS)


def _make_test(name):
    def test(self):
        bwtest.ScenarioRunner(self, os.path.join(VECTORS, name)).run()
    test.__doc__ = "python-tuf vector %s" % name
    return test


for _name in _scenarios():
    setattr(PythonTufVectors, "test_" + _name.replace("-", "_"),
            _make_test(_name))


if __name__ == "__main__":
    unittest.main()
