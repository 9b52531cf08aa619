"""Wave fixtures: a rollout charter made the way `bulwark waves init` makes
it (canonical JSON signed by the production targets keys, independently of
the C code, so the tests pin the wire format), the cohort maths, the
gateway configuration the wave tests use, and a device event."""
import hashlib
import json
import os
import secrets
import sys
import uuid as uuidlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bwserver as c  # noqa: E402

TAG = "prod"
FW = b"wave firmware v2\n" * 64
WAVE_CFG = {"poll_interval": "1", "silence_polls": "3",
            "evaluate_interval": "1", "admit_per_minute": "1000",
            "max_failure_ppm": "200000", "min_sample": "5"}


def cohort(salt, uuid):
    h = hashlib.sha256(salt + uuid.lower().encode()).digest()
    return int.from_bytes(h[:8], "big")


def step_of(charter, uuid):
    s = charter["signed"]
    x = cohort(bytes.fromhex(s["salt"]), uuid)
    for i, st in enumerate(s["steps"]):
        if x * 10**6 < st["admit_ppm"] << 64:
            return i
    return None


def make_charter(tuf, name, steps, signers=None, days=30, hwids=("board",)):
    signed = {"_type": "wave-charter", "spec_version": "1.0", "version": 1,
              "name": name, "tag": TAG, "expires": c.expires(days),
              "hardware_ids": list(hwids), "salt": secrets.token_hex(32),
              "steps": [{"admit_ppm": p, "bake_seconds": b}
                        for p, b in steps],
              "targets": {"fw-wave-2": c.fileinfo(
                  FW, {"hardwareIds": list(hwids), "version": 2})}}
    keys = signers or [tuf.ci_targets, tuf.offline_targets]
    return json.loads(c.envelope(signed, keys)), c.envelope(signed, keys)


def event(kind, success, target="fw-wave-2"):
    return {"id": str(uuidlib.uuid4()), "deviceTime": "2026-01-01T00:00:00Z",
            "eventType": {"id": kind, "version": 0},
            "event": {"correlationId": "c", "targetName": target,
                      "version": "2", "success": success, "ecu": "x"}}
