/* `bulwark-device pull [--version V]`: download and verify a target. */
#include "cli.h"
#include "update.h"

int bw_devcmd_pull(int argc, char **argv)
{
	const char *prog = "bulwark-device pull";
	const char *config = NULL, *version = NULL;
	int verbose = 0, done = 0, rc;
	const struct bw_cli_opt opts[] = {
		{"--config", BW_CLI_STR, "FILE", "agent configuration", &config},
		{"--version", BW_CLI_STR, "V", "this version, even if older "
		 "than the running one (an explicit downgrade)", &version},
		{"--verbose", BW_CLI_FLAG, NULL, "say more", &verbose},
		BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
		prog, "[--config FILE] [--version V]",
		"Download the newest target for this device (or --version V) "
		"through the TUF client: bounded by its signed length, checked "
		"against its signed hashes, resumed with HTTP Range after an "
		"interruption. Exit 0: downloaded; 50: download failed (the "
		"partial file is kept); 70: hash or length mismatch; 20: no "
		"such version; 22: refused by boot-firmware anti-rollback or "
		"boot artifact signatures.",
		opts, NULL, 0, 0};
	struct bw_dev *d = NULL;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	rc = bw_devcmd_open(prog, config, 0, &d);
	if (rc != BW_EXIT_OK)
		return rc;
	d->verbose = verbose;
	rc = bw_dev_pull(d, version);
	bw_dev_free(d);
	return rc;
}
