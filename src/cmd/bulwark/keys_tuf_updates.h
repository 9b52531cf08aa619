/*
 * `bulwark keys tuf updates` and `rotate-offline-key`: what the command
 * groups share (keys_tuf_updates.c: the opened proposal, new keys, the
 * command table) and their entry points: editing a proposal
 * (keys_tuf_edit.c), signing, reviewing and applying it
 * (keys_tuf_sign.c), and the one-admin shortcut (keys_tuf_rotate.c).
 */
#ifndef BW_KEYS_TUF_UPDATES_H
#define BW_KEYS_TUF_UPDATES_H

#include "repo_cli.h"

struct up {
	const char *prog;
	const char *repo, *proposal, *role, *out, *key, *key_id, *key_type;
	const char *pin_file, *tag, *hsm_token;
	char *loc; /* a new HSM key's URI */
	const char *pos;
	struct bw_cli_list keys;
	struct bw_repo *r;
	struct bw_repo_proposal *p;
	char *path;
};

#define OPT_REPO(u) REPO_OPT((u).repo)
#define OPT_PROPOSAL(u)                                                        \
	{                                                                      \
		"--proposal", BW_CLI_STR, "F",                                 \
		    "proposal file (default: DIR/proposal.json)",              \
		    &(u).proposal                                              \
	}
#define OPT_KEYS(u)                                                            \
	{"--keys", BW_CLI_LIST | BW_CLI_REQUIRED, "ARCHIVE|URI",               \
	 "your key archive(s) or pkcs11: URI(s)", &(u).keys},                  \
	{                                                                      \
		"--hsm-pin-file", BW_CLI_STR, "F",                             \
		    "PIN for pkcs11: keys (else $" BW_PIN_ENV ")",             \
		    &(u).pin_file                                              \
	}
#define OPT_ROLE(u, what)                                                      \
	{                                                                      \
		"--role", BW_CLI_STR, "ROLE", what, &(u).role                  \
	}
#define OPT_ROLE_REQUIRED(u, what)                                             \
	{                                                                      \
		"--role", BW_CLI_STR | BW_CLI_REQUIRED, "ROLE", what,          \
		    &(u).role                                                  \
	}
/* Where the new key of add- and rotate-offline-key comes from. */
#define OPT_NEW_KEY(u)                                                         \
	{"--out", BW_CLI_STR, "ARCHIVE",                                       \
	 "generate the new key into this new archive", &(u).out},              \
	{"--key", BW_CLI_STR, "ARCHIVE|URI",                                   \
	 "or use this existing key (archive or pkcs11: URI)", &(u).key},       \
	{"--hsm-token", BW_CLI_STR, "LABEL",                                   \
	 "or generate it in this token (ECDSA P-256)", &(u).hsm_token},        \
	{"--key-type", BW_CLI_STR, "TYPE", "ed25519, ecdsa or rsa",            \
	 &(u).key_type},                                                       \
	{                                                                      \
		"--hsm-pin-file", BW_CLI_STR, "F", "PIN for a pkcs11: key",    \
		    &(u).pin_file                                              \
	}

/* Open, parse, save and close the workspace and proposal of one command
 * (keys_tuf_updates.c); new_key makes the key an add/rotate names. Then
 * every command's entry point. */
int bw_tufup_add_key(int argc, char **argv);
int bw_tufup_apply(int argc, char **argv);
int bw_tufup_cancel(int argc, char **argv);
int bw_tufup_delete_key(int argc, char **argv);
int bw_tufup_init(int argc, char **argv);
int bw_tufup_review(int argc, char **argv);
int bw_tufup_rotate_key(int argc, char **argv);
int bw_tufup_rotate_online(int argc, char **argv);
int bw_tufup_sign(int argc, char **argv);
int bw_tufup_sign_targets(int argc, char **argv);
int bw_tufup_threshold(int argc, char **argv);
int bw_tufup_new_key(struct up *u, struct bw_repo_keys *k, const char **loc);
void bw_tufup_up_close(struct up *u);
int bw_tufup_up_open(struct up *u, int load);
int bw_tufup_up_parse(struct up *u, const struct bw_cli_spec *spec, int argc,
		    char **argv, int *done);
int bw_tufup_up_save(struct up *u, int rc, const struct bw_err *err);

#endif
