/*
 * The --hsm-* options of the commands that make a key inside a PKCS#11
 * token (`keys ca create`, `log key --generate`, `keys boot create`), and
 * the one way they make and undo it (bw_pkcs11_key_create underneath).
 */
#ifndef BW_CLI_HSM_H
#define BW_CLI_HSM_H

#include "bulwark/crypto.h"
#include "cli.h"

/* Which token and how to unlock it; all borrowed from argv. */
struct hsm_args {
	const char *module;   /* NULL: SoftHSM2 */
	const char *token;
	const char *pin_file; /* mode 0600 */
	const char *label;    /* NULL: the command's default */
};

/* --hsm-module, --hsm-token, --hsm-pin-file, --hsm-key-label for a
 * command that makes its key(s) in the token; what: "the factory CA key". */
#define HSM_NEW_OPTS(h, what, label_help)                                      \
	{"--hsm-module", BW_CLI_STR, "SO",                                     \
	 "PKCS#11 module for the token (default SoftHSM2)", &(h).module},      \
	    {"--hsm-token", BW_CLI_STR, "LABEL",                               \
	     "make " what " in this token (never extractable)", &(h).token},   \
	    {"--hsm-pin-file", BW_CLI_STR, "F",                                \
	     "file with the token's user PIN (mode 0600)", &(h).pin_file},     \
	{                                                                      \
		"--hsm-key-label", BW_CLI_STR, "L", label_help, &(h).label     \
	}

/* What to make: the key type (RSA: bits) and its label when --hsm-key-label
 * is not given; add_id: the label gets "-<CKA_ID as hex>" (several keys of
 * one kind can share a token); module_always: the URI names the module
 * even when it is the default (else only a --hsm-module one, so the URI
 * stays short enough for a bulwarkd.conf line). */
struct hsm_newkey {
	enum bw_key_type type;
	unsigned bits;
	const char *label;
	int add_id;
	int module_always;
};

/*
 * Make the key in h's token: *signer signs with it, *uri (malloc'd) names
 * it with the module. Needs --hsm-token and --hsm-pin-file (usage error
 * otherwise); prints the error. On failure the token is as it was.
 */
int bw_hsm_key_create(const char *prog, const struct hsm_args *h,
		      const struct hsm_newkey *k, struct bw_signer **signer,
		      char **uri);

/* Delete the key uri names again (a later step of the command failed). */
void bw_hsm_key_undo(const struct hsm_args *h, const char *uri);

#endif
