/* `bulwark-device daemon`: the update loop. */
#include <stdlib.h>

#include "cli.h"
#include "daemon.h"

static int parse_count(const char *prog, const char *what, const char *v,
		       long *out)
{
	int64_t n = 0;
	int rc;

	if (v == NULL)
		return BW_EXIT_OK;
	rc = bw_cli_int(prog, what, v, 0, 1000000000L, &n);
	if (rc == BW_EXIT_OK)
		*out = (long)n;
	return rc;
}

int bw_devcmd_daemon(int argc, char **argv)
{
	const char *prog = "bulwark-device daemon";
	const char *config = NULL, *loops_s = NULL, *interval_s = NULL;
	long loops = 0, interval = 0;
	int verbose = 0, done = 0, rc;
	const struct bw_cli_opt opts[] = {
		{"--config", BW_CLI_STR, "FILE", "agent configuration", &config},
		{"--max-loops", BW_CLI_STR, "N", "stop after N rounds (0: "
		 "never; for tests)", &loops_s},
		{"--interval", BW_CLI_STR, "S", "seconds between rounds "
		 "(default [update] interval)", &interval_s},
		{"--verbose", BW_CLI_FLAG, NULL, "say more", &verbose},
		BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
		prog, "[--config FILE] [--max-loops N] [--interval S]",
		"Check, pull, install and report at the configured interval "
		"plus random jitter, doubling the wait after each failed round "
		"up to [update] max_backoff. Stops with exit 100 when an "
		"installation needs a reboot.",
		opts, NULL, 0, 0};
	struct bw_dev *d = NULL;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc == BW_EXIT_OK && !done)
		rc = parse_count(prog, "--max-loops", loops_s, &loops);
	if (rc == BW_EXIT_OK && !done)
		rc = parse_count(prog, "--interval", interval_s, &interval);
	if (rc != BW_EXIT_OK || done)
		return rc;
	rc = bw_devcmd_open(prog, config, 0, &d);
	if (rc != BW_EXIT_OK)
		return rc;
	d->verbose = verbose;
	d->progress = 0;
	rc = bw_dev_daemon(d, loops, interval);
	bw_dev_free(d);
	return rc;
}
