/*
 * bulwark-tuf-client: the command-line protocol TUF clients expose for
 * cross-implementation conformance testing, on top of libbulwark's updater.
 *
 *   bulwark-tuf-client --metadata-dir DIR init TRUSTED_ROOT_FILE
 *   bulwark-tuf-client --metadata-dir DIR --metadata-url URL refresh
 *   bulwark-tuf-client --metadata-dir DIR --metadata-url URL
 *       --target-name PATH [--target-name PATH ...]
 *       --target-base-url URL --target-dir DIR download
 *
 * Exit codes: 0 success, 1 failure (verification, network, I/O), 2 usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/buf.h"
#include "bulwark/fetch.h"
#include "bulwark/tuf.h"

#define EXIT_USAGE 2
#define MAX_TARGET_NAMES 1024

struct client {
	const char *metadata_dir;
	const char *metadata_url;
	const char *target_base_url;
	const char *target_dir;
	const char *target_names[MAX_TARGET_NAMES];
	size_t ntargets;
	long low_speed_time;
	int verbose;
};

enum opt_id {
	OPT_METADATA_DIR = 'm',
	OPT_METADATA_URL = 'u',
	OPT_TARGET_NAME = 'n',
	OPT_TARGET_BASE_URL = 'b',
	OPT_TARGET_DIR = 't',
	OPT_LOW_SPEED_TIME = 'l',
	OPT_VERBOSE = 'v',
	OPT_HELP = 'h',
};

/* The one table that both parses the options and prints --help. */
static const struct option_doc {
	struct option opt;
	const char *arg;
	const char *help;
} options[] = {
	{{"metadata-dir", required_argument, NULL, OPT_METADATA_DIR}, "DIR",
	 "directory of trusted metadata (root.json, timestamp.json, ...)"},
	{{"metadata-url", required_argument, NULL, OPT_METADATA_URL}, "URL",
	 "base URL of the repository's metadata"},
	{{"target-name", required_argument, NULL, OPT_TARGET_NAME}, "PATH",
	 "target path to download (repeatable; in order)"},
	{{"target-base-url", required_argument, NULL, OPT_TARGET_BASE_URL}, "URL",
	 "base URL of the target files"},
	{{"target-dir", required_argument, NULL, OPT_TARGET_DIR}, "DIR",
	 "where downloaded targets are stored (one file per target, its path "
	 "percent-encoded)"},
	{{"low-speed-time", required_argument, NULL, OPT_LOW_SPEED_TIME}, "SEC",
	 "abandon a transfer slower than 1 KiB/s for SEC seconds (default 30)"},
	{{"verbose", no_argument, NULL, OPT_VERBOSE}, NULL,
	 "log every fetch"},
	{{"help", no_argument, NULL, OPT_HELP}, NULL, "show this help"},
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

static void usage(FILE *out)
{
	fprintf(out,
		"usage: bulwark-tuf-client [options] init TRUSTED_ROOT_FILE\n"
		"       bulwark-tuf-client [options] refresh\n"
		"       bulwark-tuf-client [options] download\n"
		"\n"
		"A TUF 1.0 client (conformance protocol).\n"
		"  init      store TRUSTED_ROOT_FILE as the trusted root (it must be\n"
		"            signed by its own root threshold); no network\n"
		"  refresh   update root, timestamp, snapshot and targets from\n"
		"            --metadata-url, verifying every step\n"
		"  download  refresh, then look up and download each --target-name\n"
		"            (length- and hash-checked; cached targets are reused)\n"
		"\noptions:\n");
	for (size_t i = 0; i < NOPTIONS; i++) {
		char left[64];

		snprintf(left, sizeof(left), "--%s%s%s", options[i].opt.name,
			 options[i].arg ? " " : "",
			 options[i].arg ? options[i].arg : "");
		fprintf(out, "  %-26s %s\n", left, options[i].help);
	}
	fprintf(out, "\nexit status: 0 success, 1 failure, 2 usage error\n");
}

static void log_stderr(void *ctx, enum bw_log_level level, const char *msg)
{
	const struct client *c = ctx;
	static const char *const names[] = {"debug", "info", "warning", "error"};

	if (level == BW_LOG_DEBUG && !c->verbose)
		return;
	fprintf(stderr, "bulwark-tuf-client: %s: %s\n", names[level], msg);
}

static int parse_args(int argc, char **argv, struct client *c)
{
	struct option longopts[NOPTIONS + 1];
	uint64_t n = 0;
	int ch;

	for (size_t i = 0; i < NOPTIONS; i++)
		longopts[i] = options[i].opt;
	memset(&longopts[NOPTIONS], 0, sizeof(longopts[NOPTIONS]));
	while ((ch = getopt_long(argc, argv, "+m:u:n:b:t:l:vh", longopts,
				 NULL)) != -1) {
		switch (ch) {
		case OPT_METADATA_DIR: c->metadata_dir = optarg; break;
		case OPT_METADATA_URL: c->metadata_url = optarg; break;
		case OPT_TARGET_BASE_URL: c->target_base_url = optarg; break;
		case OPT_TARGET_DIR: c->target_dir = optarg; break;
		case OPT_VERBOSE: c->verbose = 1; break;
		case OPT_TARGET_NAME:
			if (c->ntargets == MAX_TARGET_NAMES) {
				fprintf(stderr, "too many --target-name\n");
				return -1;
			}
			c->target_names[c->ntargets++] = optarg;
			break;
		case OPT_LOW_SPEED_TIME:
			if (bw_num_parse(optarg, 3600, &n) != 0 || n < 1) {
				fprintf(stderr, "--low-speed-time: 1..3600\n");
				return -1;
			}
			c->low_speed_time = (long)n;
			break;
		case OPT_HELP: usage(stdout); exit(0);
		default: return -1;
		}
	}
	return 0;
}

static int cmd_init(const struct client *c, const char *root_file)
{
	struct bw_buf b;
	struct bw_err err;
	int rc;

	bw_buf_init(&b, 1024 * 1024);
	rc = bw_io_read_file(root_file, 1024 * 1024, &b, &err);
	if (rc == 0)
		rc = bw_tuf_trust_root(c->metadata_dir, b.data, b.len, &err);
	bw_buf_dispose(&b);
	if (rc != 0) {
		fprintf(stderr, "bulwark-tuf-client: init: %s\n", err.msg);
		return 1;
	}
	fprintf(stderr, "bulwark-tuf-client: trusted root stored in %s\n",
		c->metadata_dir);
	return 0;
}

static int download_one(struct bw_tuf_updater *u, const char *name,
			struct bw_err *err)
{
	const struct bw_tuf_target *t = NULL;
	char *path = NULL;
	int rc;

	rc = bw_tuf_updater_get_target(u, name, &t, err);
	if (rc != 0)
		return rc;
	if (bw_tuf_updater_find_cached(u, t, NULL, &path, NULL) == 0) {
		fprintf(stderr, "bulwark-tuf-client: %s: already present (%s)\n",
			name, path);
		free(path);
		return 0;
	}
	rc = bw_tuf_updater_download(u, t, NULL, &path, err);
	if (rc == 0)
		fprintf(stderr, "bulwark-tuf-client: %s: verified, %llu bytes -> %s\n",
			name, (unsigned long long)t->length, path);
	free(path);
	return rc;
}

static int cmd_update(struct client *c, int download)
{
	struct bw_http_opts hopts = {.low_speed_time_s = c->low_speed_time};
	struct bw_tuf_config cfg;
	struct bw_fetcher *f = NULL;
	struct bw_tuf_updater *u = NULL;
	struct bw_err err = {0};
	int rc;

	bw_tuf_config_init(&cfg);
	cfg.log = log_stderr;
	cfg.log_ctx = c;
	rc = bw_http_fetcher_new(&hopts, &f, &err);
	if (rc == 0)
		rc = bw_tuf_updater_new(c->metadata_dir, c->metadata_url,
					c->target_dir, c->target_base_url, f,
					&cfg, &u, &err);
	if (rc == 0)
		rc = bw_tuf_updater_refresh(u, &err);
	for (size_t i = 0; rc == 0 && download && i < c->ntargets; i++) {
		rc = download_one(u, c->target_names[i], &err);
		if (rc != 0)
			fprintf(stderr, "bulwark-tuf-client: download %s failed\n",
				c->target_names[i]);
	}
	if (rc != 0)
		fprintf(stderr, "bulwark-tuf-client: error (%s): %s\n",
			bw_strerror(rc), err.msg);
	bw_tuf_updater_free(u);
	bw_fetcher_free(f);
	return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct client c = {0};
	const char *cmd;

	if (parse_args(argc, argv, &c) != 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (optind >= argc || c.metadata_dir == NULL) {
		fprintf(stderr, "bulwark-tuf-client: a command and "
				"--metadata-dir are required\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind];
	if (strcmp(cmd, "init") == 0) {
		if (optind + 2 != argc) {
			usage(stderr);
			return EXIT_USAGE;
		}
		return cmd_init(&c, argv[optind + 1]);
	}
	if (optind + 1 != argc || c.metadata_url == NULL) {
		fprintf(stderr, "bulwark-tuf-client: %s needs --metadata-url\n", cmd);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "refresh") == 0)
		return cmd_update(&c, 0);
	if (strcmp(cmd, "download") == 0) {
		if (c.ntargets == 0 || c.target_base_url == NULL ||
		    c.target_dir == NULL) {
			fprintf(stderr, "bulwark-tuf-client: download needs "
					"--target-name, --target-base-url and "
					"--target-dir\n");
			return EXIT_USAGE;
		}
		return cmd_update(&c, 1);
	}
	fprintf(stderr, "bulwark-tuf-client: unknown command \"%s\"\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
