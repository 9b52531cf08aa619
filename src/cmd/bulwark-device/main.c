/*
 * bulwark-device: the device agent. Dispatches from a table of commands
 * (wireguard-tools style), one file per command; src/device/ does the work.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "cli.h"

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("bulwark-device %s\n", BW_VERSION);
	return BW_EXIT_OK;
}

static const struct bw_cli_cmd cmds[] = {
	{"provision", "install the factory's TUF root.json (before the first "
		      "check-in)", bw_devcmd_provision},
	{"register", "create the device key in the token, get a certificate",
	 bw_devcmd_register},
	{"rotate-cert", "renew the device certificate over EST (new key in "
			"the token)", bw_devcmd_rotate_cert},
	{"check", "refresh TUF metadata; is there a newer version?",
	 bw_devcmd_check},
	{"list", "targets for this device from the last check (no network)",
	 bw_devcmd_list},
	{"pull", "download and verify a target (resumable)", bw_devcmd_pull},
	{"install", "write the pulled target into the inactive slot",
	 bw_devcmd_install},
	{"boot", "bootloader role: count the boot, pick the slot",
	 bw_devcmd_boot},
	{"run", "after a reboot: confirm the new slot or record the rollback",
	 bw_devcmd_run},
	{"rollback", "go back to the previous slot", bw_devcmd_rollback},
	{"status", "current and pending target, slots, last check-in",
	 bw_devcmd_status},
	{"send-events", "upload queued events", bw_devcmd_send_events},
	{"daemon", "check, pull, install and report in a loop",
	 bw_devcmd_daemon},
	{"version", "print the version", cmd_version},
};

int bw_devcmd_open(const char *prog, const char *config, int readonly,
		   struct bw_dev **out)
{
	struct bw_err err = {0};
	int rc;

	if (config == NULL)
		config = getenv("BW_DEVICE_CONFIG");
	if (config == NULL)
		config = BW_DEVICE_DEFAULT_CONFIG;
	rc = bw_dev_open(config, readonly ? BW_DEV_OPEN_READONLY
					  : BW_DEV_OPEN_EXCLUSIVE, out, &err);
	if (rc != 0)
		return bw_cli_fail(prog, "%s", err.msg);
	(*out)->progress = isatty(STDOUT_FILENO);
	return BW_EXIT_OK;
}

int bw_devcmd_simple(int argc, char **argv, const char *prog,
		     const char *desc, int (*fn)(struct bw_dev *),
		     int readonly)
{
	const char *config = NULL;
	int verbose = 0, done = 0, rc;
	const struct bw_cli_opt opts[] = {
		{"--config", BW_CLI_STR, "FILE", "agent configuration "
		 "(default $BW_DEVICE_CONFIG or " BW_DEVICE_DEFAULT_CONFIG ")",
		 &config},
		{"--verbose", BW_CLI_FLAG, NULL, "say more", &verbose},
		BW_CLI_END,
	};
	const struct bw_cli_spec spec = {prog, "[--config FILE]", desc, opts, NULL, 0, 0};
	struct bw_dev *d = NULL;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	rc = bw_devcmd_open(prog, config, readonly, &d);
	if (rc != BW_EXIT_OK)
		return rc;
	d->verbose = verbose;
	rc = fn(d);
	bw_dev_free(d);
	return rc;
}

const char bw_cli_exit_help[] =
	"Exit codes: docs/device.md (0 success, 1 failure, 2 usage).";

int main(int argc, char **argv)
{
	int rc = bw_cli_dispatch("bulwark-device",
				 "bulwark-device: the bulwark update agent "
				 "(docs/device.md).",
				 cmds, sizeof(cmds) / sizeof(cmds[0]), argc,
				 argv);

	fflush(stdout);
	return rc;
}
