"""bulwark-device against real parts on 127.0.0.1.

A TUF repository written here (ed25519 keys from the `cryptography`
package, canonical JSON as securesystemslib defines it for ASCII data) is
served by a small HTTP(S) server that speaks Range, can cut a transfer
short, can serve tampered bytes, records x-ats-tags, and accepts
POST /events. The agent runs as a real process with a real SQLite state,
real slot files and real fsyncs; the power-loss test kills it (SIGKILL)
after every durable write of pull/install/boot/run.

Environment: BW_BINARY_DIR (build dir with bulwark-device).
"""

import hashlib
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bwdevice import (  # noqa: E402
    AGENT, CHECKIN_FAILED, DL_FAILED, EXPIRED, EXPIRED_MD, NO_MATCH,
    NO_PENDING, NOT_FOUND, OK, PENDING, REBOOT, REFUSED, ROLLED_BACK, TAG,
    TUF_INVALID, UPDATE, VERIFY_FAILED, DeviceTest, PowerLossCases, image,
    sha)


class Lifecycle(DeviceTest):
    def test_check_pull_install_boot_run(self):
        self.standard_repo()
        p = self.dev.run("check")
        self.assertExit(p, UPDATE)
        self.assertIn("fw-2", p.stdout)
        self.assertNotIn("other-board", p.stdout)
        self.assertNotIn("other-tag", p.stdout)
        tags = {t for (_, path, t, _) in self.srv.httpd.log
                if path.startswith(("/repo/", "/targets/"))}
        self.assertEqual(tags, {TAG})
        self.assertExit(self.dev.run("list"), UPDATE)
        self.assertExit(self.dev.run("install"), NOT_FOUND)  # nothing pulled
        self.assertExit(self.dev.run("pull"), OK)
        self.assertExit(self.dev.run("install"), REBOOT)
        self.assertEqual(sha(self.dev.slot[1]),
                         hashlib.sha256(self.v2).hexdigest())
        self.assertExit(self.dev.run("install"), PENDING)
        self.assertExit(self.dev.run("run"), REBOOT)  # not rebooted yet
        p = self.dev.run("boot")
        self.assertExit(p, OK)
        self.assertIn("slot B", p.stdout)
        self.assertExit(self.dev.run("run"), OK)
        st = self.dev.status()
        self.assertIn("current: fw-2 version 2", st)
        self.assertExit(self.dev.run("run"), NO_PENDING)
        self.assertExit(self.dev.run("check"), OK)  # up to date
        types = self.event_types()
        for t in ("EcuDownloadStarted", "EcuDownloadCompleted",
                  "EcuInstallationStarted", "EcuInstallationApplied",
                  "EcuInstallationCompleted"):
            self.assertIn(t, types)
        done = [e for e in self.srv.httpd.events
                if e["eventType"]["id"] == "EcuInstallationCompleted"]
        self.assertTrue(done[-1]["event"]["success"])
        self.assertEqual(done[-1]["event"]["targetName"], "fw-2")
        self.assertEqual(len({e["event"]["correlationId"] for e in done}), 1)
        self.assertEqual(len({e["id"] for e in self.srv.httpd.events}),
                         len(self.srv.httpd.events))

    def test_pull_interrupted_then_resumed(self):
        self.standard_repo(v2_size=3 * 1024 * 1024)
        self.srv.httpd.cut["fw-2"] = 1024 * 1024
        self.assertExit(self.dev.run("pull"), DL_FAILED)
        parts = [f for f in os.listdir(os.path.join(self.dev.state,
                                                    "downloads"))
                 if f.endswith(".part")]
        self.assertEqual(len(parts), 1)
        size = os.path.getsize(os.path.join(self.dev.state, "downloads",
                                            parts[0]))
        self.assertGreater(size, 0)
        self.assertLess(size, len(self.v2))
        self.assertExit(self.dev.run("pull"), OK)
        ranges = [r for (_, path, _, r) in self.srv.httpd.log
                  if path.endswith("/fw-2") and r]
        self.assertEqual(ranges, ["bytes=%d-" % size])
        self.assertExit(self.dev.run("install"), REBOOT)
        self.assertEqual(sha(self.dev.slot[1]),
                         hashlib.sha256(self.v2).hexdigest())

    def test_progress_bar_on_a_terminal(self):
        import pty
        self.standard_repo(v2_size=2 * 1024 * 1024)
        master, slave = pty.openpty()
        try:
            p = subprocess.run([AGENT, "pull", "--config", self.dev.config],
                               stdout=slave, stderr=subprocess.PIPE,
                               timeout=60)
            os.close(slave)
            slave = None
            out = b""
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
        finally:
            if slave is not None:
                os.close(slave)
            os.close(master)
        self.assertEqual(p.returncode, OK, p.stderr)
        self.assertIn(b"100% 2/2 MiB", out)
        self.assertIn(b"\r[", out)
        # Not a terminal: no bar.
        self.assertNotIn("%", self.dev.run("pull", "--version", "1").stdout)

    def test_no_server_url(self):
        self.dev.write_config("")
        p = self.dev.run("check")
        self.assertExit(p, 1)
        self.assertIn("url is not set", p.stderr)

    def test_power_cut_during_download_resumes(self):
        self.standard_repo(v2_size=4 * 1024 * 1024)
        self.srv.httpd.slow["fw-2"] = 0.02
        dl = os.path.join(self.dev.state, "downloads")
        proc = subprocess.Popen([AGENT, "pull", "--config", self.dev.config],
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            part = None
            while time.monotonic() < deadline:
                parts = [f for f in os.listdir(dl) if f.endswith(".part")] \
                    if os.path.isdir(dl) else []
                if parts and os.path.getsize(os.path.join(dl, parts[0])) \
                        > 512 * 1024:
                    part = os.path.join(dl, parts[0])
                    break
                time.sleep(0.02)
            self.assertIsNotNone(part, "download never started")
            proc.send_signal(signal.SIGKILL)  # the plug
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        size = os.path.getsize(part)
        self.assertLess(size, len(self.v2))
        self.assertIn("download: partial fw-2", self.dev.status())
        del self.srv.httpd.slow["fw-2"]
        self.assertExit(self.dev.run("pull"), OK)
        ranges = [r for (_, path, _, r) in self.srv.httpd.log
                  if path.endswith("/fw-2") and r]
        self.assertEqual(ranges, ["bytes=%d-" % size])
        self.assertExit(self.dev.run("install"), REBOOT)
        self.assertEqual(sha(self.dev.slot[1]),
                         hashlib.sha256(self.v2).hexdigest())

    def test_offline_bundle_resumes_from_part(self):
        """file:// (an offline bundle) resumes with a range read too."""
        self.standard_repo(v2_size=1024 * 1024)
        self.dev.write_config("file://" + self.repo.top,
                              "[server]\ntargets_url = file://%s/repo/"
                              "targets/\nevents_url =\n" % self.repo.top)
        self.assertExit(self.dev.run("check"), UPDATE)
        dl = os.path.join(self.dev.state, "downloads")
        os.makedirs(dl, exist_ok=True)
        part = os.path.join(dl, hashlib.sha256(self.v2).hexdigest() +
                            ".img.part")
        with open(part, "wb") as f:
            f.write(self.v2[:300000])
        self.assertExit(self.dev.run("pull"), OK)
        self.assertExit(self.dev.run("install"), REBOOT)
        self.assertEqual(sha(self.dev.slot[1]),
                         hashlib.sha256(self.v2).hexdigest())

    def test_corrupted_part_is_dropped(self):
        """A part whose bytes are not a prefix of the target fails the
        hash, is deleted, and the next pull starts from byte 0."""
        self.standard_repo(v2_size=2 * 1024 * 1024)
        self.srv.httpd.cut["fw-2"] = 512 * 1024
        self.assertExit(self.dev.run("pull"), DL_FAILED)
        dl = os.path.join(self.dev.state, "downloads")
        part = [os.path.join(dl, f) for f in os.listdir(dl)][0]
        with open(part, "r+b") as f:
            f.write(b"\xff" * 100)
        self.assertExit(self.dev.run("pull"), VERIFY_FAILED)
        self.assertFalse(os.path.exists(part))
        self.assertExit(self.dev.run("install"), NOT_FOUND)
        self.assertExit(self.dev.run("pull"), OK)
        ranges = [r for (_, path, _, r) in self.srv.httpd.log
                  if path.endswith("/fw-2")]
        self.assertEqual(ranges[-1], None)  # from byte 0

    def test_install_checks_the_download_and_the_slot_write(self):
        """A download changed since pull is refused and dropped; a slot
        that can not be written leaves it empty and the download kept."""
        self.standard_repo()
        self.assertExit(self.dev.run("pull"), OK)
        dl = os.path.join(self.dev.state, "downloads")
        img = [os.path.join(dl, f) for f in os.listdir(dl)][0]
        with open(img, "r+b") as f:
            f.write(b"\xff")
        p = self.dev.run("install")
        self.assertExit(p, VERIFY_FAILED)
        self.assertIn("no longer matches its signed hash", p.stderr)
        self.assertIn("download: none", self.dev.status())
        self.assertEqual(os.listdir(dl), [])
        # The slot path is a directory: the write fails.
        self.assertExit(self.dev.run("pull"), OK)
        if os.path.exists(self.dev.slot[1]):
            os.remove(self.dev.slot[1])
        os.mkdir(self.dev.slot[1])
        p = self.dev.run("install")
        self.assertExit(p, 1)
        self.assertIn("installation failed", p.stderr)
        st = self.dev.status()
        self.assertIn("slot B: empty", st)
        self.assertIn("pending: none", st)
        self.assertIn("download: complete fw-2", st)
        os.rmdir(self.dev.slot[1])
        self.assertExit(self.dev.run("install"), REBOOT)
        self.assertIn("slot B: pending", self.dev.status())

    def test_operator_cancels_pending_install(self):
        self.standard_repo()
        self.assertExit(self.dev.run("pull"), OK)
        self.assertExit(self.dev.run("install"), REBOOT)
        self.assertExit(self.dev.run("rollback"), ROLLED_BACK)
        st = self.dev.status()
        self.assertIn("pending: none", st)
        self.assertIn("slot B: bad", st)
        p = self.dev.run("boot")
        self.assertIn("slot A", p.stdout)
        self.assertExit(self.dev.run("run"), NO_PENDING)
        p = self.dev.run("check")
        self.assertIn("update available: fw-1", p.stdout)

    def test_tampered_target_refused_before_install(self):
        self.standard_repo()
        bad = bytearray(self.v2)
        bad[1000] ^= 1
        self.srv.httpd.tamper["fw-2"] = bytes(bad)
        self.assertExit(self.dev.run("pull"), VERIFY_FAILED)
        self.assertExit(self.dev.run("install"), NOT_FOUND)
        self.assertFalse(os.path.exists(self.dev.slot[1]))
        self.assertEqual(os.listdir(os.path.join(self.dev.state,
                                                 "downloads")), [])
        # A longer body than signed is cut at the signed length.
        self.srv.httpd.tamper["fw-2"] = self.v2 + b"x" * 100000
        self.assertExit(self.dev.run("pull"), VERIFY_FAILED)
        del self.srv.httpd.tamper["fw-2"]
        self.assertExit(self.dev.run("pull"), OK)

    def test_boot_fails_three_times_falls_back(self):
        self.standard_repo()
        self.assertExit(self.dev.run("pull"), OK)
        self.assertExit(self.dev.run("install"), REBOOT)
        for _ in range(3):  # the new slot never reaches `run`
            p = self.dev.run("boot")
            self.assertExit(p, OK)
            self.assertIn("slot B", p.stdout)
        p = self.dev.run("boot")
        self.assertIn("slot A", p.stdout)
        self.assertExit(self.dev.run("run"), ROLLED_BACK)
        st = self.dev.status()
        self.assertIn("slot B: bad", st)
        self.assertIn("current: factory", st)
        types = self.event_types()
        self.assertIn("EcuRollback", types)
        fail = [e for e in self.srv.httpd.events
                if e["eventType"]["id"] == "EcuInstallationCompleted"]
        self.assertFalse(fail[-1]["event"]["success"])
        # The failed target is not picked again automatically (fw-1 is
        # still newer than the factory image)...
        p = self.dev.run("check")
        self.assertExit(p, UPDATE)
        self.assertIn("update available: fw-1", p.stdout)
        self.assertIn("(failed here before)", p.stdout)
        # ...but may be named explicitly.
        self.assertExit(self.dev.run("pull", "--version", "2"), OK)

    def test_no_silent_downgrade_and_operator_rollback(self):
        self.standard_repo()
        self.update_to_v2()
        self.repo.targets.pop("fw-2")
        self.repo.publish()
        self.assertExit(self.dev.run("check"), OK)
        p = self.dev.run("pull")
        self.assertIn("nothing to pull", p.stdout)
        self.assertExit(self.dev.run("pull", "--version", "1"), OK)
        # Operator rollback: back to the factory slot A.
        self.assertExit(self.dev.run("rollback"), 120)
        self.assertIn("current: factory", self.dev.status())
        self.assertExit(self.dev.run("rollback"), 21)
        # Slot B still runs until the reboot: never written over.
        p = self.dev.run("install")
        self.assertExit(p, REBOOT)
        self.assertIn("still running", p.stderr)
        self.assertEqual(sha(self.dev.slot[1]),
                         hashlib.sha256(self.v2).hexdigest())
        self.assertIn("slot A", self.dev.run("boot").stdout)
        self.assertExit(self.dev.run("install"), REBOOT)
        self.assertEqual(sha(self.dev.slot[1]),
                         hashlib.sha256(self.v1).hexdigest())

    def test_malformed_custom_skipped_with_a_message(self):
        """A target for this hardware id whose custom fields can not be
        read is skipped, said once on stderr, never offered or listed;
        one for another board is not mentioned."""
        self.repo.add("fw-1", image("fw-1", 1000), "1")
        bad = {"fw-7": {"hardwareIds": "board-x"},
               "fw-8": {"bootfirmware_version": "abc"},
               "fw-9": {"version": {"major": 9}},
               "fw-6": {"boot": {"secure_version": 3}},
               "other-9": {"version": {"major": 9}, "hardwareIds": ["b-y"]}}
        for name, fields in bad.items():
            self.repo.add(name, image(name, 1000), "9")
            self.repo.targets[name]["custom"].update(fields)
        self.repo.publish()
        p = self.dev.run("check")
        self.assertExit(p, UPDATE)
        self.assertIn("update available: fw-1", p.stdout)
        self.assertIn("target skipped: fw-7: custom.hardwareIds is not an "
                      "array", p.stderr)
        self.assertIn("target skipped: fw-8: custom.bootfirmware_version",
                      p.stderr)
        self.assertIn("target skipped: fw-9: custom.version", p.stderr)
        self.assertIn("target skipped: fw-6: custom.boot must be", p.stderr)
        self.assertNotIn("other-9", p.stderr + p.stdout)
        p = self.dev.run("list")
        for name in bad:
            self.assertNotIn(name, p.stdout)
        self.assertIn("fw-1", p.stdout)

    def test_boot_firmware_anti_rollback(self):
        self.standard_repo(bootfw=5)
        self.update_to_v2()
        self.repo.add("fw-3", image("fw-3", 1000), "3", bootfw=4)
        self.repo.publish()
        self.assertExit(self.dev.run("check"), UPDATE)
        self.assertExit(self.dev.run("pull"), REFUSED)
        self.dev.write_config(self.srv.url,
                              "rollback_protection = off\n")
        self.assertExit(self.dev.run("pull"), OK)

    def test_expired_metadata(self):
        self.standard_repo()
        self.assertExit(self.dev.run("check"), UPDATE)
        self.repo.expires["timestamp"] = EXPIRED
        self.repo.publish()
        p = self.dev.run("check")
        self.assertExit(p, EXPIRED_MD)
        self.assertIn("expired", p.stderr)

    def test_server_down_keeps_state(self):
        self.standard_repo()
        self.update_to_v2()
        before = self.dev.status()
        self.srv.stop()
        p = self.dev.run("check")
        self.assertExit(p, CHECKIN_FAILED)
        self.assertIn("unreachable", p.stderr)
        self.assertExit(self.dev.run("pull"), CHECKIN_FAILED)
        self.assertEqual(self.dev.status().split("last check-in")[0],
                         before.split("last check-in")[0])
        self.assertExit(self.dev.run("list"), OK)  # cached, no network

    def test_events_survive_outage_and_are_bounded(self):
        self.standard_repo()
        self.dev.write_config(self.srv.url, "max_events = 3\n")
        self.srv.httpd.events_down = 503
        self.assertExit(self.dev.run("pull"), OK)
        self.assertExit(self.dev.run("install"), REBOOT)
        self.assertIn("events queued: 3", self.dev.status())
        self.srv.httpd.events_down = False
        self.assertExit(self.dev.run("send-events"), OK)
        self.assertIn("events queued: 0", self.dev.status())
        self.assertEqual(self.event_types(),
                         ["EcuDownloadCompleted", "EcuInstallationStarted",
                          "EcuInstallationApplied"])
        # A batch the server will never take (400) is dropped, not retried
        # forever in front of every later event.
        self.srv.httpd.events_down = 400
        self.assertExit(self.dev.run("boot"), OK)
        p = self.dev.run("run")
        self.assertExit(p, OK)
        self.assertIn("refused by the server, dropped", p.stderr)
        self.assertIn("events queued: 0", self.dev.status())

    def test_daemon_installs_and_stops_for_reboot(self):
        self.standard_repo()
        p = self.dev.run("daemon", "--max-loops", "3", "--interval", "1")
        self.assertExit(p, REBOOT)
        self.assertIn("pending: slot B", self.dev.status())

    def test_daemon_confirms_after_reboot_then_checks(self):
        self.standard_repo()
        self.assertExit(self.dev.run("daemon", "--max-loops", "1"), REBOOT)
        self.assertExit(self.dev.run("daemon", "--max-loops", "1"), REBOOT)
        self.assertExit(self.dev.run("boot"), OK)
        p = self.dev.run("daemon", "--max-loops", "1")
        self.assertExit(p, OK)  # confirmed, then up to date
        self.assertIn("confirmed in slot B", p.stdout)
        self.assertIn("current: fw-2 version 2", self.dev.status())

    def test_one_agent_at_a_time(self):
        self.standard_repo()
        self.repo.targets.pop("fw-2")
        self.repo.targets.pop("fw-1")
        self.repo.publish()  # nothing to install: the daemon just waits
        d = subprocess.Popen([AGENT, "daemon", "--config", self.dev.config,
                              "--max-loops", "2", "--interval", "20"],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if "last check-in: never" not in self.dev.status():
                    break
                time.sleep(0.05)
            p = self.dev.run("check")
            self.assertExit(p, 1)
            self.assertIn("another bulwark-device", p.stderr)
            self.assertIn("pending: none", self.dev.status())  # read-only
        finally:
            d.kill()
            d.wait()
        self.assertExit(self.dev.run("check"), NO_MATCH)

    def test_daemon_backs_off_when_server_down(self):
        self.standard_repo()
        self.srv.stop()
        t0 = time.monotonic()
        p = self.dev.run("daemon", "--max-loops", "3", "--interval", "1")
        self.assertExit(p, CHECKIN_FAILED)
        # 2 s then 4 s: doubled per failed round.
        self.assertGreaterEqual(time.monotonic() - t0, 6)
        self.assertIn("next check in 4 s", p.stderr)


class Production(DeviceTest):
    production = True

    def test_production_root_accepts_only_production_targets(self):
        self.standard_repo()
        self.repo.publish(signers=["targets"])  # CI-signed only
        p = self.dev.run("check")
        self.assertExit(p, TUF_INVALID)
        self.assertExit(self.dev.run("pull"), TUF_INVALID)
        self.assertFalse(os.path.exists(self.dev.slot[1]))
        self.repo.publish()  # online + offline signatures
        self.assertExit(self.dev.run("check"), UPDATE)


class PowerLoss(PowerLossCases, DeviceTest):
    """Kill the agent after each durable write of each step; the next
    runs must recover and never boot an unverified slot."""


if __name__ == "__main__":
    unittest.main()
