"""Fleet simulator fixtures: a real bulwarkd set up for a production wave
and a run of bw-fleetsim against it (its JSON report back).

The server gets both TUF roots, production targets for the tag that no
simulated device matches (so devices sit on their factory image until a
wave offers them its release), the wave's release file, and a charter
signed by the online and the offline production targets keys. Devices
get their certificates from the PKI's online device CA (bulk issuance in
bw-fleetsim) and trust the production root."""
import json
import os
import secrets
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bwserver as c  # noqa: E402
from bwdevice import image  # noqa: E402

FLEETSIM = os.path.join(c.BIN, "bw-fleetsim")
TAG = "prod"
HW = "sim-board"


def wave_config(poll, silence_polls=3, admit_per_minute=1000,
                max_failure_ppm=200000, min_sample=5):
    """bulwarkd's [waves] for devices polling every `poll` seconds."""
    return {"poll_interval": str(poll), "silence_polls": str(silence_polls),
            "evaluate_interval": "1",
            "admit_per_minute": str(admit_per_minute),
            "max_failure_ppm": str(max_failure_ppm),
            "min_sample": str(min_sample)}


class FleetServer:
    """A bulwarkd ready for a simulated fleet (see the module text)."""

    def __init__(self, workdir, waves, extra=None, image_size=20000):
        self.dir = workdir
        self.tuf = c.Tuf()
        # every simulated device connects from 127.0.0.1: the per-address
        # connection cap (meant for real fleets) would refuse most of them
        sections = {"waves": waves,
                    "server": {"log_level": "info",
                               "max_connections_per_address": "100000"}}
        for k, v in (extra or {}).items():
            sections.setdefault(k, {}).update(v)
        self.sections = sections  # for another gateway on this database
        os.makedirs(os.path.join(workdir, "srv"), exist_ok=True)
        self.srv = c.Server(os.path.join(workdir, "srv"), self.tuf,
                            extra=sections)
        self.srv.start()
        t = self.tuf
        root = t.root(production=True)
        assert self.srv.admin("PUT", "/repo/ci/root", t.root())[0] == 200
        assert self.srv.admin("PUT", "/repo/production/root", root)[0] == 200
        self.root_file = os.path.join(workdir, "root.json")
        with open(self.root_file, "wb") as f:
            f.write(root)
        prod = image("fw-prod-1", 1000)
        self.put_target("fw-prod-1", prod)
        md = t.targets(1, {"fw-prod-1": c.fileinfo(prod, {
            "version": "1", "hardwareIds": ["other-board"],
            "tags": [TAG]})}, [t.ci_targets, t.offline_targets])
        st, r = self.srv.admin("PUT", "/repo/production/targets/" + TAG, md)
        assert st == 200, r
        self.fw = image("fw-wave-2", image_size)
        self.put_target("fw-wave-2", self.fw)

    def put_target(self, name, data):
        with open(os.path.join(self.srv.targets_dir, name), "wb") as f:
            f.write(data)

    def charter(self, name, steps):
        """A signed charter for steps [(admit_ppm, bake_seconds)]: bytes."""
        signed = {"_type": "wave-charter", "spec_version": "1.0",
                  "version": 1, "name": name, "tag": TAG,
                  "expires": c.expires(30), "hardware_ids": [HW],
                  "salt": secrets.token_hex(32),
                  "steps": [{"admit_ppm": p, "bake_seconds": b}
                            for p, b in steps],
                  "targets": {"fw-wave-2": c.fileinfo(self.fw, {
                      "version": "2", "hardwareIds": [HW],
                      "tags": [TAG]})}}
        return c.envelope(signed, [self.tuf.ci_targets,
                                   self.tuf.offline_targets])

    def start_wave(self, name, steps):
        """Upload a charter for steps [(admit_ppm, bake_seconds)]."""
        st, r = self.srv.admin("POST", "/waves", self.charter(name, steps))
        assert st == 201, r

    def fleetsim(self, simdir, devices, *args, timeout=600, srv=None):
        """Run bw-fleetsim against srv (default: this fixture's
        bulwarkd); (process, report dict or None)."""
        report = os.path.join(simdir + ".json")
        s = srv or self.srv
        cmd = [FLEETSIM,
               "--server", "https://127.0.0.1:%d" % s.gw_port,
               "--admin", "https://127.0.0.1:%d" % s.admin_port,
               "--admin-token-file", s.token_file,
               "--ca-file", os.path.join(s.pki, "factory_ca.pem"),
               "--device-ca", os.path.join(s.pki, "online-ca.pem"),
               "--device-ca-key", os.path.join(s.pki, "online-ca.key"),
               "--root", self.root_file, "--hardware-id", HW,
               "--tag", TAG, "--dir", simdir, "--devices", str(devices),
               "--report", report,
               "--server-pid", str(s.proc.pid)] + list(args)
        p = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=timeout)
        rep = None
        if p.returncode == 0 and os.path.exists(report):
            with open(report) as f:
                rep = json.load(f)
        return p, rep

    def stop(self):
        return self.srv.stop()
