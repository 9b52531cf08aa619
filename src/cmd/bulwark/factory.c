/*
 * `bulwark factory init`: a new factory TUF repository workspace
 * (docs/operator-guide.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/pkcs11.h"
#include "repo_cli.h"

struct init_args {
	const char *dir, *name, *root_keys, *root_threshold, *prod_threshold;
	const char *key_type, *keys_out, *hsm_module, *hsm_token, *pin_file;
	const char *exp_root, *exp_prod, *exp_ci, *exp_snap, *exp_ts;
};

/* Expiry flags are in days. */
static int days(const char *prog, const char *name, const char *s, int64_t *out)
{
	int64_t d = 0;
	int rc;

	if (s == NULL)
		return BW_EXIT_OK;
	rc = bw_cli_int(prog, name, s, 1, 20 * 365, &d);
	if (rc == BW_EXIT_OK)
		*out = d * BW_REPO_DAY;
	return rc;
}

static int init_opts(const char *prog, const struct init_args *a,
		     struct bw_repo_init_opts *o)
{
	int64_t v;
	int rc = BW_EXIT_OK;

	o->name = a->name;
	o->keys_out = a->keys_out;
	o->hsm_module = a->hsm_module;
	o->hsm_token = a->hsm_token;
	if (a->root_keys != NULL &&
	    (rc = bw_cli_int(prog, "--root-keys", a->root_keys, 1, 16, &v)) ==
		0)
		o->root_keys = (unsigned)v;
	if (rc == 0 && a->root_threshold != NULL &&
	    (rc = bw_cli_int(prog, "--root-threshold", a->root_threshold, 1, 16,
			     &v)) == 0)
		o->root_threshold = (unsigned)v;
	if (rc == 0 && a->prod_threshold != NULL &&
	    (rc = bw_cli_int(prog, "--prod-threshold", a->prod_threshold, 2, 16,
			     &v)) == 0)
		o->prod_threshold = (unsigned)v;
	if (rc == 0 && a->key_type != NULL &&
	    bw_key_type_from_name(a->key_type, &o->key_type) != 0)
		rc = bw_cli_usage(prog, "--key-type: ed25519, ecdsa or rsa");
	if (rc == 0 && a->hsm_token != NULL && a->pin_file == NULL)
		rc = bw_cli_usage(prog, "--hsm-token needs --hsm-pin-file");
	if (rc == 0 && a->hsm_token != NULL && a->key_type != NULL &&
	    o->key_type != BW_KEY_ECDSA_P256)
		rc = bw_cli_usage(prog, "HSM keys are ECDSA P-256 "
					"(docs/hsm.md)");
	if (rc == 0)
		rc = days(prog, "--root-expiry", a->exp_root, &o->expiry.root);
	if (rc == 0)
		rc = days(prog, "--prod-targets-expiry", a->exp_prod,
			  &o->expiry.targets_prod);
	if (rc == 0)
		rc = days(prog, "--ci-targets-expiry", a->exp_ci,
			  &o->expiry.targets_ci);
	if (rc == 0)
		rc = days(prog, "--snapshot-expiry", a->exp_snap,
			  &o->expiry.snapshot);
	if (rc == 0)
		rc = days(prog, "--timestamp-expiry", a->exp_ts,
			  &o->expiry.timestamp);
	return rc;
}

static int cmd_init(int argc, char **argv)
{
	static const char *prog = "bulwark factory init";
	struct init_args a = {0};
	const struct bw_cli_opt opts[] = {
	    {"--name", BW_CLI_STR | BW_CLI_REQUIRED, "NAME", "factory name", &a.name},
	    {"--root-keys", BW_CLI_STR, "N", "number of root keys (1)",
	     &a.root_keys},
	    {"--root-threshold", BW_CLI_STR, "M", "root threshold (1)",
	     &a.root_threshold},
	    {"--prod-threshold", BW_CLI_STR, "N",
	     "production targets threshold, >= 2 (2): the online key "
	     "plus N-1 offline targets keys",
	     &a.prod_threshold},
	    {"--key-type", BW_CLI_STR, "TYPE",
	     "ed25519 (default), ecdsa (P-256) or rsa (4096)", &a.key_type},
	    {"--keys-out", BW_CLI_STR, "DIR",
	     "where the offline key archives go (DIR/offline-keys)",
	     &a.keys_out},
	    {"--hsm-module", BW_CLI_STR, "SO", "PKCS#11 module (SoftHSM2)",
	     &a.hsm_module},
	    {"--hsm-token", BW_CLI_STR, "LABEL",
	     "make the offline keys in this token (ECDSA P-256)", &a.hsm_token},
	    {"--hsm-pin-file", BW_CLI_STR, "F", "the token's user PIN",
	     &a.pin_file},
	    {"--root-expiry", BW_CLI_STR, "DAYS", "root (365)", &a.exp_root},
	    {"--prod-targets-expiry", BW_CLI_STR, "DAYS",
	     "production targets (365)", &a.exp_prod},
	    {"--ci-targets-expiry", BW_CLI_STR, "DAYS", "CI targets (90)",
	     &a.exp_ci},
	    {"--snapshot-expiry", BW_CLI_STR, "DAYS", "snapshot (90)",
	     &a.exp_snap},
	    {"--timestamp-expiry", BW_CLI_STR, "DAYS", "timestamp (1)",
	     &a.exp_ts},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog,
	    "DIR --name NAME [options]",
	    "Create a factory's TUF repository workspace in DIR (which must "
	    "not exist):\nroot keys and offline production targets keys "
	    "(one key archive each, or in\nan HSM token), the online keys "
	    "for the server (DIR/online/), CI and\nproduction root v1, empty "
	    "CI targets, snapshot and timestamp.\nMove the key archives to "
	    "offline storage afterwards.",
	    opts, &a.dir,
	    1,
	    1};
	struct bw_repo_init_opts o = {0};
	struct bw_err err = {0};
	char *pin = NULL;
	int done = 0, rc;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	rc = init_opts(prog, &a, &o);
	if (rc != BW_EXIT_OK)
		return rc;
	if (a.pin_file != NULL &&
	    bw_pkcs11_pin_from_file(a.pin_file, &pin, &err) != 0)
		return bw_cli_fail(prog, "%s", err.msg);
	o.hsm_pin = pin;
	rc = bw_repo_init(a.dir, &o, &err);
	bw_pkcs11_pin_free(pin);
	if (rc != 0)
		return bw_cli_fail(prog, "%s", err.msg);
	printf("created factory '%s' in %s\n", a.name, a.dir);
	if (a.hsm_token == NULL)
		printf("offline key archives: %s%s\nmove them to offline "
		       "storage (one admin each) and keep backups\n",
		       a.keys_out != NULL ? a.keys_out : a.dir,
		       a.keys_out != NULL ? "" : "/offline-keys");
	else
		printf("offline keys are in token '%s' (see `bulwark keys tuf "
		       "show-root`)\n",
		       a.hsm_token);
	return BW_EXIT_OK;
}

int bw_cmd_factory(int argc, char **argv)
{
	static const struct bw_cli_cmd cmds[] = {
	    {"init", "create a factory TUF repository workspace", cmd_init},
	};

	return bw_cli_dispatch("bulwark factory", "Factory repositories.", cmds,
			       sizeof(cmds) / sizeof(cmds[0]), argc, argv);
}
