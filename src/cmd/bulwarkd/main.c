/*
 * bulwarkd: the bulwark server (device gateway, registration, admin API,
 * online signer). Configuration reference: docs/server.md.
 *
 * Exit codes: 0 success (or clean stop), 1 failure, 2 usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "repo.h"
#include "server.h"

#define DEFAULT_CONFIG "/etc/bulwark/bulwarkd.conf"

struct opt {
	const char *name;
	const char *arg;
	const char *help;
};

static const struct opt opts[] = {
    {"--config", "FILE", "configuration file (default " DEFAULT_CONFIG ")"},
    {"--set", "SECTION.KEY=VALUE", "override one key (repeatable)"},
    {"--role", "LIST", "listeners to run: gateway,admin,registration or all"},
    {"--import", "DIR",
     "seed the repository from a static export (bulwark repo export), then "
     "exit"},
    {"--flavour", "ci|production", "with --import: which flavour DIR holds"},
    {"--tag", "T", "with --import --flavour production: the tag"},
    {"--check-config", NULL,
     "check the configuration and every file it names, then exit"},
    {"--version", NULL, "print the version"},
    {"--help", NULL, "show this help"},
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bulwarkd [options]\n\n"
		"The bulwark server: mutual-TLS device gateway, registration,\n"
		"admin API and online TUF signer.\n\noptions:\n");
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		char left[64];

		snprintf(left, sizeof(left), "%s%s%s", opts[i].name,
			 opts[i].arg ? " " : "",
			 opts[i].arg ? opts[i].arg : "");
		fprintf(f, "  %-28s %s\n", left, opts[i].help);
	}
	fprintf(f, "\nexit status: 0 success, 1 failure, 2 usage error\n");
}

struct args {
	const char *config;
	const char *sets[64];
	size_t nsets;
	const char *role;
	const char *import_dir, *flavour, *tag;
	int check;
};

static int parse_args(int argc, char **argv, struct args *a)
{
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		int has_arg = i + 1 < argc;

		if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(o, "--version")) {
			printf("bulwarkd %s\n", BW_VERSION);
			exit(0);
		} else if (!strcmp(o, "--check-config")) {
			a->check = 1;
		} else if ((!strcmp(o, "--config") || !strcmp(o, "-c")) &&
			   has_arg) {
			a->config = argv[++i];
		} else if (!strcmp(o, "--set") && has_arg && a->nsets < 64) {
			a->sets[a->nsets++] = argv[++i];
		} else if (!strcmp(o, "--role") && has_arg) {
			a->role = argv[++i];
		} else if (!strcmp(o, "--import") && has_arg) {
			a->import_dir = argv[++i];
		} else if (!strcmp(o, "--flavour") && has_arg) {
			a->flavour = argv[++i];
		} else if (!strcmp(o, "--tag") && has_arg) {
			a->tag = argv[++i];
		} else {
			fprintf(stderr, "bulwarkd: bad option %.64s\n", o);
			usage(stderr);
			return 2;
		}
	}
	return 0;
}

static int configure(const struct args *a, struct bw_srv_config *cfg)
{
	struct bw_err err = {0};
	int rc = bw_srv_config_load(cfg, a->config, &err);

	for (size_t i = 0; !rc && i < a->nsets; i++)
		rc = bw_srv_config_set(cfg, a->sets[i], &err);
	if (!rc && a->role && bw_srv_config_roles_parse(a->role, &cfg->roles))
		rc = bw_err_set(&err, BW_EFORMAT, "bad --role");
	if (!rc)
		rc = bw_srv_config_finish(cfg, &err);
	if (rc)
		bw_srv_log(BW_SRV_LOG_ERR, "configuration: %s", err.msg);
	return rc;
}

int main(int argc, char **argv)
{
	struct args a = {DEFAULT_CONFIG, {0}, 0, NULL, NULL, NULL, NULL, 0};
	struct bw_srv_config cfg;
	struct bw_srv *srv = NULL;
	struct bw_err err = {0};
	int rc = parse_args(argc, argv, &a);

	if (rc)
		return rc;
	if (a.import_dir &&
	    (!a.flavour ||
	     (strcmp(a.flavour, "ci") && strcmp(a.flavour, "production")) ||
	     (!strcmp(a.flavour, "production") != !!a.tag))) {
		fprintf(stderr, "bulwarkd: --import needs --flavour ci, or "
				"--flavour production --tag T\n");
		return 2;
	}
	bw_srv_config_init(&cfg);
	if (configure(&a, &cfg))
		return 1;
	if (a.check) {
		rc = bw_srv_check(&cfg, &err);
		if (rc)
			bw_srv_log(BW_SRV_LOG_ERR, "check failed: %s", err.msg);
		else
			bw_srv_log(BW_SRV_LOG_INFO, "configuration OK");
		return rc ? 1 : 0;
	}
	if (!a.import_dir && cfg.workers != 1)
		return bw_srv_workers_run(&cfg) ? 1 : 0;
	if ((rc = bw_srv_new(&cfg, &srv, &err))) {
		bw_srv_log(BW_SRV_LOG_ERR, "%s", err.msg);
		bw_srv_free(srv);
		return 1;
	}
	if (a.import_dir) {
		rc = bw_srv_import(srv, a.import_dir, a.flavour,
				   a.tag ? a.tag : "", &err);
		if (rc)
			bw_srv_log(BW_SRV_LOG_ERR, "import: %s", err.msg);
	} else {
		rc = bw_srv_run(srv);
	}
	bw_srv_free(srv);
	return rc ? 1 : 0;
}
