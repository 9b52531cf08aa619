"""Waves in bulwarkd: a real process on 127.0.0.1 with real device
certificates over mTLS (see bwserver.py).

The charter is made here the way `bulwark waves init` makes it (canonical
JSON signed by the production targets keys), independently of the C code,
so these tests also pin the wire format. What they show:
- a charter below the production threshold (the server's own online key
  alone) is refused; a signed one starts a running wave;
- the gateway admits only devices whose cohort step is open, at most
  admit_per_minute a minute;
- explicit failures halt the wave by themselves; so do devices that go
  silent; successes after the bake time advance it;
- operators pause, resume, halt, cancel and complete (complete only once
  the production targets list the wave's release);
- SIGKILL of the server during step changes leaves a consistent wave.
"""
import base64
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bwserver as c  # noqa: E402

from bwwaves import (FW, TAG, WAVE_CFG, event, make_charter,  # noqa: E402
                    step_of)


class WaveTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="bwd-wave-")
        self.tuf = c.Tuf()
        self.srv = c.Server(self.dir, self.tuf,
                            extra={"waves": dict(WAVE_CFG)}).start()
        self.srv.seed(tag=TAG)
        with open(os.path.join(self.srv.targets_dir, "fw-wave-2"),
                  "wb") as f:
            f.write(FW)
        self.devs = []

    def tearDown(self):
        self.srv.kill()
        shutil.rmtree(self.dir)

    def fleet(self, n):
        self.devs = [c.device_cert(self.srv.pki, self.dir, "d%d" % i,
                                   production=True) for i in range(n)]
        return self.devs

    def poll(self, d):
        """(status, granted step, state) of GET /wave for device d."""
        st, _, body = self.srv.device_get(d, "/wave", {"x-ats-tags": TAG})
        if st != 200:
            return st, None, None, None
        r = json.loads(body)
        self.assertEqual(sorted(r), ["charter", "state", "step"])
        return st, r["step"], r["state"], r["charter"]

    def report(self, d, events):
        conn = self.srv.device(d)
        try:
            conn.request("POST", "/events", body=json.dumps(events).encode(),
                         headers={"x-ats-tags": TAG})
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 204)
        finally:
            conn.close()

    def start(self, name, steps):
        charter, raw = make_charter(self.tuf, name, steps)
        st, r = self.srv.admin("POST", "/waves", raw)
        self.assertEqual(st, 201, r)
        self.assertEqual(r["state"], "running")
        return charter

    def status(self, name):
        st, r = self.srv.admin("GET", "/waves/" + name)
        self.assertEqual(st, 200, r)
        return r

    def wait_state(self, name, state, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self.status(name)
            if r["state"] == state:
                return r
            time.sleep(0.2)
        self.fail("wave %s not %s: %s" % (name, state, self.status(name)))

    def test_charter_needs_the_production_threshold(self):
        _, online_only = make_charter(self.tuf, "w", [(500000, 0)],
                                      signers=[self.tuf.ci_targets])
        st, r = self.srv.admin("POST", "/waves", online_only)
        self.assertEqual(st, 400, r)
        self.assertIn("signed by 1 of the 2", r["reason"])
        _, expired = make_charter(self.tuf, "w", [(500000, 0)], days=-1)
        self.assertEqual(self.srv.admin("POST", "/waves", expired)[0], 400)
        self.assertEqual(self.srv.admin("POST", "/waves", b"{}")[0], 400)
        self.start("w", [(500000, 0)])
        # one active wave per tag
        _, other = make_charter(self.tuf, "w2", [(500000, 0)])
        self.assertEqual(self.srv.admin("POST", "/waves", other)[0], 409)
        st, lst = self.srv.admin("GET", "/waves")
        self.assertEqual([w["name"] for w in lst], ["w"])

    def test_only_open_steps_are_admitted(self):
        charter = self.start("w", [(300000, 3600), (1000000, 0)])
        for d in self.fleet(16):
            st, step, state, body = self.poll(d)
            self.assertEqual((st, state), (200, "running"))
            self.assertEqual(body, charter)
            want = 0 if step_of(charter, d["uuid"]) == 0 else -1
            self.assertEqual(step, want, d["uuid"])
        # the wave's file: served to admitted devices only
        for d in self.devs:
            st, _, body = self.srv.device_get(d, "/targets/fw-wave-2",
                                              {"x-ats-tags": TAG})
            if step_of(charter, d["uuid"]) == 0:
                self.assertEqual((st, body), (200, FW))
            else:
                self.assertEqual(st, 404)
        r = self.status("w")
        admitted = sum(1 for d in self.devs
                       if step_of(charter, d["uuid"]) == 0)
        self.assertEqual(r["steps"][0]["admitted"], admitted)
        self.assertEqual(r["steps"][1]["admitted"], 0)
        # a CI device never gets a production wave
        ci = c.device_cert(self.srv.pki, self.dir, "ci")
        self.assertEqual(self.poll(ci)[0], 404)

    def restart(self, **cfg):
        """A fresh server with other [waves] settings."""
        self.srv.kill()
        d = tempfile.mkdtemp(dir=self.dir)
        self.srv = c.Server(d, self.tuf, extra={
            "waves": dict(WAVE_CFG, **cfg)}).start()
        self.srv.seed(tag=TAG)
        with open(os.path.join(self.srv.targets_dir, "fw-wave-2"),
                  "wb") as f:
            f.write(FW)

    def test_admissions_are_throttled(self):
        self.restart(admit_per_minute="3")
        self.start("w", [(1000000, 0)])
        granted = [self.poll(d)[1] for d in self.fleet(8)]
        self.assertEqual(granted.count(0), 3, granted)
        self.assertEqual(self.status("w")["steps"][0]["admitted"], 3)

    def test_failures_halt_the_wave(self):
        # no periodic evaluation: the report itself must halt the wave
        self.restart(evaluate_interval="3600")
        charter = self.start("w", [(1000000, 3600)])
        for d in self.fleet(8):
            self.assertEqual(self.poll(d)[1], 0)
        for d in self.devs[:4]:
            self.report(d, [event("EcuInstallationCompleted", False)])
        self.assertEqual(self.status("w")["state"], "running")
        self.report(self.devs[4], [event("EcuInstallationCompleted", False),
                                   event("EcuRollback", True)])
        # halted by the report itself, not by the next timer tick
        r = self.status("w")
        self.assertEqual(r["state"], "halted", r)
        self.assertEqual(r["steps"][0]["failed"], 5)
        self.assertEqual(r["log"][-1]["entry"]["action"], "halt")
        self.assertEqual(r["log"][-1]["entry"]["by"], "health rule")
        self.assertGreater(r["log"][-1]["entry"]["verdict"]["lower-ppm"],
                           200000)
        # halting stops the wave for everyone, admitted or not
        for d in self.devs:
            self.assertEqual(self.poll(d)[0], 404)
        self.assertIn("wave w", self.srv.logtext())
        del charter

    def test_silent_devices_halt_the_wave(self):
        self.start("w", [(1000000, 3600)])
        t0 = time.time()
        for d in self.fleet(6):
            self.assertEqual(self.poll(d)[1], 0)
        r = self.wait_state("w", "halted", timeout=20)
        # silence limit 3 s, evaluated every second: well within 2 polls
        # after the limit
        self.assertGreaterEqual(time.time() - t0, 3)
        self.assertEqual(r["steps"][0]["silent"], 6)
        self.assertIn("health rule", r["reason"])

    def test_successes_advance_after_the_bake_time(self):
        self.fleet(40)
        t0 = time.time()
        charter = self.start("w", [(500000, 4), (1000000, 0)])
        first = [d for d in self.devs if step_of(charter, d["uuid"]) == 0]
        later = [d for d in self.devs if step_of(charter, d["uuid"]) == 1]
        self.assertGreaterEqual(len(first), 8)
        for d in later:
            self.assertEqual(self.poll(d)[1], -1)
        for d in first:
            self.assertGreaterEqual(self.poll(d)[1], 0)
            self.report(d, [event("EcuInstallationCompleted", True)])
        r = self.wait_state_step("w", 1)
        # the bake time (4 s, counted by the server in whole seconds)
        self.assertGreaterEqual(time.time() - t0, 3)
        self.assertEqual(r["log"][-1]["entry"]["action"], "advance")
        for d in later:
            self.assertEqual(self.poll(d)[1], 1)

    def wait_state_step(self, name, step, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self.status(name)
            if r["step"] == step:
                return r
            time.sleep(0.2)
        self.fail("wave %s not at step %d: %s" % (name, step,
                                                   self.status(name)))

    def test_operator_commands(self):
        self.start("w", [(1000000, 3600)])
        d = self.fleet(1)[0]
        for action, state in (("pause", "paused"), ("resume", "running"),
                              ("halt", "halted"), ("resume", "running")):
            st, r = self.srv.admin("POST", "/waves/w/" + action)
            self.assertEqual((st, r["state"]), (200, state), r)
        self.assertEqual(self.srv.admin("POST", "/waves/w/resume")[0], 409)
        self.assertEqual(self.srv.admin("POST", "/waves/w/explode")[0], 404)
        self.assertEqual(self.srv.admin("POST", "/waves/nope/halt")[0], 404)
        self.assertEqual(self.srv.admin("GET", "/waves/..%2f")[0], 404)
        # complete only once the production targets list the release
        st, r = self.srv.admin("POST", "/waves/w/complete")
        self.assertEqual(st, 409, r)
        self.assertIn("promote", r["reason"])
        md = self.tuf.targets(2, {"fw-wave-2": c.fileinfo(
            FW, {"hardwareIds": ["board"], "version": 2})},
            [self.tuf.ci_targets, self.tuf.offline_targets])
        self.assertEqual(self.srv.admin(
            "PUT", "/repo/production/targets/" + TAG, md)[0], 200)
        st, r = self.srv.admin("POST", "/waves/w/complete")
        self.assertEqual((st, r["state"]), (200, "completed"), r)
        self.assertEqual(self.poll(d)[0], 404)
        self.assertEqual(self.srv.admin("POST", "/waves/w/cancel")[0], 409)
        actions = [e["entry"]["action"] for e in r["log"]]
        self.assertEqual(actions, ["start", "pause", "resume", "halt",
                                   "resume", "complete"])
        # each step is in the transparency log too, in the same order
        st, ent = self.srv.admin("GET", "/log/entries?start=0&end=1000")
        self.assertEqual(st, 200)
        logged = [json.loads(base64.b64decode(e["entry"]))
                  for e in ent["entries"]]
        self.assertEqual([x["action"][5:] for x in logged
                          if x["action"].startswith("wave.")], actions)

    def test_cli_status_and_commands(self):
        self.start("w", [(500000, 3600), (1000000, 0)])
        for d in self.fleet(6):
            self.poll(d)
        base = [c.BULWARK, "waves"]
        srv = ["--server", "https://127.0.0.1:%d" % self.srv.admin_port,
               "--token-file", self.srv.token_file,
               "--ca-file", os.path.join(self.srv.pki, "factory_ca.pem")]
        out = c.run(*base, "status", "--name", "w", *srv).stdout
        self.assertIn("wave w (tag prod): running, step 0 open", out)
        self.assertIn("decision: wait", out)
        admitted = self.status("w")["steps"][0]["admitted"]
        self.assertRegex(out, r"\n\s+0\s+50\.00\s+3600\s+%d\s" % admitted)
        out = c.run(*base, "pause", "--name", "w", *srv).stdout
        self.assertIn("paused", out)
        self.assertIn("w  tag prod  paused  step 0",
                      c.run(*base, "status", *srv).stdout)
        p = c.run(*base, "pause", "--name", "w", *srv, check=False)
        self.assertEqual(p.returncode, 1)
        p = c.run(*base, "halt", "--name", "../x", *srv, check=False)
        self.assertEqual(p.returncode, 2)
        js = json.loads(c.run(*base, "status", "--name", "w", "--json",
                              *srv).stdout)
        self.assertEqual(js["state"], "paused")

    def test_sigkill_during_step_changes(self):
        """Kill the server again and again while the health rule opens
        steps: every restart finds the wave's step, its start time and its
        log in agreement (one transaction each)."""
        steps = [(p, 0) for p in (300000, 400000, 500000, 600000, 700000,
                                  800000, 900000, 1000000)]
        self.fleet(40)
        charter = self.start("w", steps)
        reported = set()
        for rnd in range(12):
            for d in self.devs:
                if d["uuid"] in reported:
                    continue
                st, step, _, _ = self.poll(d)
                if st == 200 and step >= 0:
                    self.report(d, [event("EcuInstallationCompleted", True)])
                    reported.add(d["uuid"])
            time.sleep(0.05 * (rnd % 5))
            self.srv.proc.send_signal(signal.SIGKILL)
            self.srv.proc.wait()
            self.srv.logf.close()
            self.srv.proc = None
            step, started = [int(v) for v in self.srv.query(
                "SELECT step, step_started FROM waves WHERE name='w'")[0]]
            rows = self.srv.query("SELECT entry, time FROM wave_log"
                                  " WHERE wave='w' ORDER BY id")
            log = [json.loads(e) for e, _ in rows]
            times = [int(t) for _, t in rows]
            adv = [i for i, e in enumerate(log) if e["action"] == "advance"]
            self.assertEqual(len(adv), step)
            if adv:
                self.assertEqual(log[adv[-1]]["step"], step)
                self.assertEqual(times[adv[-1]], started)
            self.srv.start()
        self.assertGreater(self.status("w")["step"], 0)
        del charter


if __name__ == "__main__":
    unittest.main()
