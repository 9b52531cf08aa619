"""bulwark-device with a real bootloader environment.

U-Boot: a file-backed environment with two redundant copies (fw_env.config,
made with mkenvimage), read and written by U-Boot's own user-space tools
(fw_printenv / fw_setenv from libubootenv-tool) when this test plays the
bootloader at power-on, exactly as U-Boot's bootcount (CONFIG_BOOTCOUNT_ENV)
and the boot script of docs/device.md do: count the boot while
upgrade_available=1, run altbootcmd once bootcount passes bootlimit.

GRUB: an environment block read and written by grub-editenv while this
test plays docs/examples/grub.cfg (grub-script-check checks that script).

Both run the whole A/B lifecycle and the power-loss tests of
test_device.py (the agent killed after every durable write, the
environment writes included), with the bootloader's variables checked by
the bootloader's tools after each step.

Environment: BW_BINARY_DIR (build dir with bulwark-device).
"""

import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bwdevice as td  # noqa: E402

ENV_SIZE = 0x4000
EXAMPLES = os.path.join(td.SOURCE_DIR, "docs", "examples")


class BootResult:
    """What a power-on did: which slot the bootloader started."""

    def __init__(self, slot):
        self.returncode = 0
        self.stdout = "booting slot %s\n" % "AB"[slot]
        self.stderr = ""


def have(*tools):
    return all(shutil.which(t) for t in tools)


class UBoot:
    """U-Boot at power-on, through its environment tools."""

    def __init__(self, top):
        self.dir = os.path.join(top, "bootenv")
        os.makedirs(self.dir, exist_ok=True)
        self.copies = [os.path.join(self.dir, "uboot.env"),
                       os.path.join(self.dir, "uboot-redund.env")]
        self.config = os.path.join(self.dir, "fw_env.config")
        self.cmdline = os.path.join(self.dir, "cmdline")
        with open(self.config, "w") as f:
            for c in self.copies:
                f.write("%s 0x0 0x%x\n" % (c, ENV_SIZE))
        # The factory environment: slot A confirmed, as the board's
        # default environment would say (docs/examples/uboot-env.txt).
        subprocess.run(["mkenvimage", "-r", "-s", str(ENV_SIZE), "-o",
                        self.copies[0],
                        os.path.join(EXAMPLES, "uboot-env.txt")],
                       check=True)
        shutil.copy(self.copies[0], self.copies[1])
        self.write_cmdline(0)

    def agent_config(self):
        return ("[boot]\nbootloader = uboot\nfw_env_config = %s\n"
                "cmdline = %s\n" % (self.config, self.cmdline))

    def env(self):
        p = subprocess.run(["fw_printenv", "-c", self.config],
                           capture_output=True, text=True, check=True)
        return dict(line.split("=", 1) for line in p.stdout.splitlines()
                    if "=" in line)

    def set(self, **kv):
        script = os.path.join(self.dir, "set.txt")
        with open(script, "w") as f:
            for k, v in kv.items():
                f.write("%s=%s\n" % (k, v))
        subprocess.run(["fw_setenv", "-c", self.config, "-s", script],
                       check=True, capture_output=True)

    def write_cmdline(self, slot):
        with open(self.cmdline, "w") as f:
            f.write("console=ttyAMA0 root=PARTLABEL=root_%s bulwark.slot=%s\n"
                    % ("ab"[slot], "ab"[slot]))

    def power_on(self):
        v = self.env()
        if v.get("upgrade_available") == "1":
            # CONFIG_BOOTCOUNT_ENV: count, save, compare with bootlimit.
            count = int(v.get("bootcount", "0")) + 1
            self.set(bootcount=count)
            if count > int(v.get("bootlimit", "0")):
                # altbootcmd of docs/examples/uboot-env.txt
                self.set(bulwark_slot=v["bulwark_good"], upgrade_available=0)
        slot = "ab".index(self.env()["bulwark_slot"])
        self.write_cmdline(slot)
        return BootResult(slot)


class Grub:
    """GRUB at power-on running docs/examples/grub.cfg, through
    grub-editenv."""

    def __init__(self, top):
        self.dir = os.path.join(top, "bootenv")
        os.makedirs(self.dir, exist_ok=True)
        self.file = os.path.join(self.dir, "grubenv")
        self.cmdline = os.path.join(self.dir, "cmdline")
        subprocess.run(["grub-editenv", self.file, "create"], check=True)
        self.set(bulwark_slot="a", bulwark_good="a")
        self.write_cmdline(0)

    def agent_config(self):
        return ("[boot]\nbootloader = grub\ngrubenv = %s\ncmdline = %s\n"
                % (self.file, self.cmdline))

    def env(self):
        p = subprocess.run(["grub-editenv", self.file, "list"],
                           capture_output=True, text=True, check=True)
        return dict(line.split("=", 1) for line in p.stdout.splitlines()
                    if "=" in line)

    def set(self, **kv):
        subprocess.run(["grub-editenv", self.file, "set"] +
                       ["%s=%s" % kv_ for kv_ in kv.items()], check=True)

    write_cmdline = UBoot.write_cmdline

    def power_on(self):
        v = self.env()
        if v.get("upgrade_available") == "1":
            count = int(v.get("bootcount", "0"))
            if count >= int(v.get("bootlimit", "0")):
                self.set(bulwark_slot=v["bulwark_good"], upgrade_available=0)
            else:
                self.set(bootcount=count + 1)
        slot = "ab".index(self.env()["bulwark_slot"])
        self.write_cmdline(slot)
        return BootResult(slot)


class BootloaderMixin:
    loader = None  # UBoot or Grub

    def setUp(self):
        super().setUp()
        self.bl = self.loader(self.dev.top)
        self.dev.write_config(self.srv.url, self.bl.agent_config())

    def boot(self):
        return self.bl.power_on()


class Lifecycle:
    """The A/B lifecycle against a real environment (mixed into one
    TestCase per bootloader below)."""

    def test_trial_boot_then_confirm(self):
        self.standard_repo()
        self.assertExit(self.dev.run("pull"), td.OK)
        self.assertExit(self.dev.run("install"), td.REBOOT)
        v = self.bl.env()
        self.assertEqual((v["bulwark_slot"], v["bulwark_trial"],
                          v["bulwark_good"], v["upgrade_available"],
                          v["bootcount"], v["bootlimit"]),
                         ("b", "b", "a", "1", "0", "3"))
        self.assertExit(self.dev.run("run"), td.REBOOT)  # not rebooted yet
        self.assertIn("slot B", self.boot().stdout)
        self.assertExit(self.dev.run("run"), td.OK)
        v = self.bl.env()
        self.assertEqual((v["bulwark_slot"], v["bulwark_good"],
                          v["upgrade_available"], v["bootcount"]),
                         ("b", "b", "0", "0"))
        self.assertNotIn("bulwark_trial", v)
        self.assertIn("current: fw-2 version 2", self.dev.status())
        self.assertIn("slot B", self.boot().stdout)  # stays on B
        self.assertExit(self.dev.run("run"), td.NO_PENDING)

    def test_bootloader_falls_back_after_bootlimit(self):
        self.standard_repo()
        self.assertExit(self.dev.run("pull"), td.OK)
        self.assertExit(self.dev.run("install"), td.REBOOT)
        for _ in range(3):  # the new slot never reaches `run`
            self.assertIn("slot B", self.boot().stdout)
        self.assertIn("slot A", self.boot().stdout)  # altbootcmd
        self.assertExit(self.dev.run("run"), td.ROLLED_BACK)
        st = self.dev.status()
        self.assertIn("slot B: bad", st)
        self.assertIn("current: factory", st)
        self.assertIn("EcuRollback", self.event_types())
        v = self.bl.env()
        self.assertEqual((v["bulwark_slot"], v["bulwark_good"],
                          v["upgrade_available"]), ("a", "a", "0"))
        self.assertNotIn("bulwark_trial", v)

    def test_operator_rollback_points_the_bootloader_back(self):
        self.standard_repo()
        self.update_to_v2()
        self.assertEqual(self.bl.env()["bulwark_slot"], "b")
        self.assertExit(self.dev.run("rollback"), 120)
        self.assertEqual(self.bl.env()["bulwark_slot"], "a")
        # Slot B runs until the reboot: never written over.
        self.assertExit(self.dev.run("install"), td.REBOOT)
        self.assertIn("slot A", self.boot().stdout)

    def test_simulated_boot_refused(self):
        p = self.dev.run("boot")
        self.assertExit(p, 1)
        self.assertIn("plays it with [boot] bootloader = simulated", p.stderr)

    def test_power_cut_before_the_trial_was_armed(self):
        """The database says PENDING, the environment was never told: the
        next start arms the trial instead of taking it for a fallback."""
        self.standard_repo()
        self.assertExit(self.dev.run("pull"), td.OK)
        before = self.bl.env()
        # Writes of install: state (WRITING), slot, state (PENDING), env.
        p = self.dev.run("install", env={
            "BW_DEVICE_CRASH_AFTER_WRITES": "3"})
        self.assertEqual(p.returncode, -td.signal.SIGKILL, p.stderr)
        self.assertIn("durable write 3 (state)", p.stderr)
        self.assertEqual(self.bl.env().get("bulwark_trial"),
                         before.get("bulwark_trial"))
        self.assertIn("slot A", self.boot().stdout)  # never unverified
        self.assertExit(self.dev.run("run"), td.REBOOT)  # armed now
        self.assertEqual(self.bl.env()["bulwark_trial"], "b")
        self.assertIn("slot B", self.boot().stdout)
        self.assertExit(self.dev.run("run"), td.OK)


@unittest.skipUnless(have("fw_printenv", "fw_setenv", "mkenvimage"),
                     "libubootenv-tool / u-boot-tools missing "
                     "(scripts/install-deps.sh)")
class UBootLifecycle(BootloaderMixin, Lifecycle, td.DeviceTest):
    loader = UBoot

    def test_corrupt_copy_falls_back_to_the_other(self):
        """A torn write of one copy: libubootenv reads the other."""
        self.standard_repo()
        self.assertExit(self.dev.run("pull"), td.OK)
        self.assertExit(self.dev.run("install"), td.REBOOT)
        newest = max(self.bl.copies, key=os.path.getmtime)
        with open(newest, "r+b") as f:
            f.seek(8)
            f.write(b"\xff" * 64)
        v = self.bl.env()
        self.assertEqual(v["bulwark_slot"], "a")  # the older copy
        self.assertExit(self.dev.run("run"), td.REBOOT)  # re-armed
        self.assertEqual(self.bl.env()["bulwark_trial"], "b")

    def test_no_valid_environment_is_a_clear_error(self):
        for c in self.bl.copies:
            with open(c, "wb") as f:
                f.write(b"\0" * ENV_SIZE)
        p = self.dev.run("status")
        p = self.dev.run("run")
        self.assertExit(p, 1)
        self.assertIn("no valid copy", p.stderr)


@unittest.skipUnless(have("grub-editenv"), "grub-common missing "
                     "(scripts/install-deps.sh)")
class GrubLifecycle(BootloaderMixin, Lifecycle, td.DeviceTest):
    loader = Grub

    def test_block_stays_1024_bytes_and_keeps_other_variables(self):
        self.bl.set(saved_entry="Debian", note="a\\b")
        self.standard_repo()
        self.update_to_v2()
        self.assertEqual(os.path.getsize(self.bl.file), 1024)
        v = self.bl.env()
        self.assertEqual((v["saved_entry"], v["note"]), ("Debian", "a\\b"))

    def test_damaged_block_is_a_clear_error(self):
        with open(self.bl.file, "r+b") as f:
            f.write(b"# not a GRUB block")
        p = self.dev.run("run")
        self.assertExit(p, 1)
        self.assertIn("signature", p.stderr)

    def test_example_script_is_valid_grub(self):
        if not have("grub-script-check"):
            self.skipTest("grub-script-check missing")
        p = subprocess.run(["grub-script-check",
                            os.path.join(EXAMPLES, "grub.cfg")],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)


@unittest.skipUnless(have("fw_printenv", "fw_setenv", "mkenvimage"),
                     "libubootenv-tool / u-boot-tools missing")
class UBootPowerLoss(BootloaderMixin, td.PowerLossCases, td.DeviceTest):
    loader = UBoot


@unittest.skipUnless(have("grub-editenv"), "grub-common missing")
class GrubPowerLoss(BootloaderMixin, td.PowerLossCases, td.DeviceTest):
    loader = Grub


if __name__ == "__main__":
    unittest.main()
