/*
 * The TUF repository command groups of the bulwark CLI:
 * `bulwark factory`, `bulwark keys tuf`, `bulwark targets`, `bulwark repo`,
 * and what they share (the --repo option, loading offline keys).
 */
#ifndef BW_REPO_CLI_H
#define BW_REPO_CLI_H

#include "bulwark/repo.h"
#include "cli.h"

int bw_cmd_factory(int argc, char **argv);
int bw_cmd_keys_tuf(int argc, char **argv);
int bw_cmd_targets(int argc, char **argv);
int bw_cmd_repo(int argc, char **argv);
int bw_cmd_waves(int argc, char **argv);
/* `bulwark keys tuf updates ...` and `keys tuf rotate` (keys_tuf_updates.c) */
int bw_cmd_keys_tuf_updates(int argc, char **argv);
int bw_cmd_keys_tuf_rotate(int argc, char **argv);

#define BW_REPO_ENV "BULWARK_REPO"
#define BW_PIN_ENV "BULWARK_HSM_PIN"

/* --repo DIR, or $BULWARK_REPO. */
#define REPO_OPT(dest)                                                         \
	{                                                                      \
		"--repo", BW_CLI_STR, "DIR",                                   \
		    "factory workspace (default: $" BW_REPO_ENV ")", &(dest)   \
	}

/* Open the workspace named by dir or the environment; prints the error. */
int bw_repocli_open(const char *prog, const char *dir, struct bw_repo **out);

/*
 * Load every --keys entry (archive path or pkcs11: URI). The PIN for URIs
 * comes from pin_file, else $BULWARK_HSM_PIN. Prints the error.
 */
int bw_repocli_keys(const char *prog, struct bw_repo *r,
		     const struct bw_cli_list *specs, const char *pin_file,
		     struct bw_repo_keys *out);

/* The HSM PIN from pin_file, else $BULWARK_HSM_PIN (bw_pkcs11_pin_free). */
int bw_repocli_pin(const char *prog, const char *pin_file, char **pin);

/* Report callback printing "warning: " lines to stderr, the rest to stdout. */
void bw_repocli_report(void *ctx, int warning, const char *msg);


#endif
