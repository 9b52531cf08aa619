/*
 * What the TUF repository commands share (repo_cli.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/pkcs11.h"
#include "repo_cli.h"

int bw_repocli_open(const char *prog, const char *dir, struct bw_repo **out)
{
	struct bw_err err = {0};

	*out = NULL;
	if (dir == NULL)
		dir = getenv(BW_REPO_ENV);
	if (dir == NULL || dir[0] == '\0')
		return bw_cli_usage(prog, "give --repo DIR or set $%s",
				    BW_REPO_ENV);
	if (bw_repo_open(dir, out, &err) != 0)
		return bw_cli_fail(prog, "%s", err.msg);
	return BW_EXIT_OK;
}

static int needs_pin(const struct bw_cli_list *specs)
{
	for (size_t i = 0; i < specs->n; i++)
		if (strncmp(specs->v[i], "pkcs11:", 7) == 0)
			return 1;
	return 0;
}

int bw_repocli_pin(const char *prog, const char *pin_file, char **pin)
{
	struct bw_err err = {0};
	int rc;

	*pin = NULL;
	rc = pin_file != NULL ? bw_pkcs11_pin_from_file(pin_file, pin, &err)
			      : bw_pkcs11_pin_from_env(BW_PIN_ENV, pin, &err);
	if (rc == BW_ENOTFOUND && pin_file == NULL)
		return bw_cli_fail(prog,
				   "PKCS#11 keys need a PIN: "
				   "--hsm-pin-file F or $%s",
				   BW_PIN_ENV);
	if (rc != 0)
		return bw_cli_fail(prog, "%s", err.msg);
	return BW_EXIT_OK;
}

int bw_repocli_keys(const char *prog, struct bw_repo *r,
		     const struct bw_cli_list *specs, const char *pin_file,
		     struct bw_repo_keys *out)
{
	struct bw_err err = {0};
	char *pin = NULL;
	int rc = 0;

	bw_repo_keys_init(out);
	if (needs_pin(specs)) {
		rc = pin_file != NULL
			 ? bw_pkcs11_pin_from_file(pin_file, &pin, &err)
			 : bw_pkcs11_pin_from_env(BW_PIN_ENV, &pin, &err);
		if (rc == BW_ENOTFOUND && pin_file == NULL)
			bw_err_set(&err, rc,
				   "PKCS#11 keys need a PIN: "
				   "--hsm-pin-file F or $%s",
				   BW_PIN_ENV);
	}
	for (size_t i = 0; rc == 0 && i < specs->n; i++)
		rc = bw_repo_keys_load(out, specs->v[i],
				       r != NULL ? bw_repo_hsm_module(r) : NULL,
				       pin, &err);
	bw_pkcs11_pin_free(pin);
	if (rc != 0) {
		bw_repo_keys_dispose(out);
		return bw_cli_fail(prog, "%s", err.msg);
	}
	return BW_EXIT_OK;
}

void bw_repocli_report(void *ctx, int warning, const char *msg)
{
	(void)ctx;
	if (warning)
		fprintf(stderr, "warning: %s\n", msg);
	else
		printf("%s\n", msg);
}

