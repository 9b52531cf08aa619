/* `bulwark-device daemon`: the update loop. */
#include <errno.h>
#include <stdlib.h>

#include "cli.h"
#include "update.h"

static int parse_count(const char *prog, const char *what, const char *v,
		       long *out)
{
	char *end = NULL;

	if (v == NULL)
		return BW_EXIT_OK;
	errno = 0;
	*out = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || *out < 0 ||
	    *out > 1000000000L)
		return bw_cli_usage(prog, "%s: not a number 0..1e9", what);
	return BW_EXIT_OK;
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
