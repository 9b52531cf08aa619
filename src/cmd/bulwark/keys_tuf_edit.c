/*
 * `bulwark keys tuf updates init | add-offline-key | delete-offline-key |
 * rotate-offline-key | rotate-online-key | set-threshold`: editing the
 * proposal (keys_tuf_updates.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulwark/buf.h"
#include "bulwark/pkcs11.h"
#include "keys_tuf_updates.h"
#include "repo_cli.h"
#include "server_cli.h"

int bw_tufup_init(int argc, char **argv)
{
	struct up u = {.prog = "bulwark keys tuf updates init"};
	const struct bw_cli_opt opts[] = {
	    OPT_REPO(u),
	    OPT_PROPOSAL(u),
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    u.prog,
	    "[--proposal F]",
	    "Start a ceremony: write a proposal for the next root version "
	    "(both\nflavours; same keys, a new expiry) and no signatures. "
	    "Pass the file from\nadmin to admin; it holds no secrets.",
	    opts, NULL,
	    0,
	    0};
	struct bw_err err = {0};
	int done = 0, rc;

	rc = bw_tufup_up_parse(&u, &spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	rc = bw_tufup_up_open(&u, 0);
	if (rc != BW_EXIT_OK)
		return rc;
	if (bw_repo_proposal_init(u.r, u.path, &err) != 0)
		rc = bw_cli_fail(u.prog, "%s", err.msg);
	else
		printf("proposal for root v%lld written to %s\n",
		       (long long)bw_repo_root_version(u.r) + 1, u.path);
	bw_tufup_up_close(&u);
	return rc;
}

/* Add an offline key to the proposed root: a new key in a new archive
 * (out), or an existing one (archive or PKCS#11 URI). */
int bw_tufup_add_key(int argc, char **argv)
{
	struct up u = {.prog = "bulwark keys tuf updates add-offline-key"};
	const struct bw_cli_opt opts[] = {
	    OPT_REPO(u),
	    OPT_PROPOSAL(u),
	    OPT_ROLE_REQUIRED(u, "root or targets (production)"),
	    OPT_NEW_KEY(u),
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    u.prog,
	    "--role ROLE (--out ARCHIVE | --hsm-token LABEL | --key K)",
	    "Add an offline key to the proposed root (clears the root "
	    "signatures\ncollected so far).",
	    opts, NULL,
	    0,
	    0};
	struct bw_repo_keys k;
	struct bw_err err = {0};
	const char *loc = NULL;
	int done = 0, rc;

	rc = bw_tufup_up_parse(&u, &spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	rc = bw_tufup_up_open(&u, 1);
	if (rc != BW_EXIT_OK)
		return rc;
	rc = bw_tufup_new_key(&u, &k, &loc);
	if (rc != BW_EXIT_OK) {
		bw_tufup_up_close(&u);
		return rc;
	}
	for (size_t i = 0; rc == 0 && i < k.n; i++)
		rc = bw_repo_proposal_add_key(u.r, u.p, u.role, k.s[i]->key,
					      loc, &err);
	bw_repo_keys_dispose(&k);
	return bw_tufup_up_save(&u, rc, &err);
}

int bw_tufup_delete_key(int argc, char **argv)
{
	struct up u = {.prog = "bulwark keys tuf updates delete-offline-key"};
	const struct bw_cli_opt opts[] = {
	    OPT_REPO(u),
	    OPT_PROPOSAL(u),
	    OPT_ROLE(u, "root or targets"),
	    {"--key-id", BW_CLI_STR, "ID", "key id to remove", &u.key_id},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    u.prog,
	    "--role ROLE --key-id ID",
	    "Remove an offline key from the proposed root (a lost or stolen "
	    "key).",
	    opts, NULL,
	    0,
	    0};
	struct bw_err err = {0};
	int done = 0, rc;

	rc = bw_tufup_up_parse(&u, &spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (u.role == NULL || u.key_id == NULL)
		return bw_cli_usage(u.prog, "--role and --key-id are required");
	rc = bw_tufup_up_open(&u, 1);
	if (rc != BW_EXIT_OK)
		return rc;
	rc = bw_repo_proposal_delete_key(u.r, u.p, u.role, u.key_id, &err);
	return bw_tufup_up_save(&u, rc, &err);
}

int bw_tufup_rotate_key(int argc, char **argv)
{
	struct up u = {.prog = "bulwark keys tuf updates rotate-offline-key"};
	const struct bw_cli_opt opts[] = {
	    OPT_REPO(u),
	    OPT_PROPOSAL(u),
	    OPT_ROLE(u, "root or targets"),
	    {"--key-id", BW_CLI_STR, "ID", "the key to replace", &u.key_id},
	    OPT_NEW_KEY(u),
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    u.prog,
	    "--role ROLE --key-id OLD (--out A | --hsm-token L | --key K)",
	    "Replace one offline key of the proposed root by another.",
	    opts, NULL,
	    0,
	    0};
	struct bw_repo_keys k;
	struct bw_err err = {0};
	const char *loc = NULL;
	int done = 0, rc;

	rc = bw_tufup_up_parse(&u, &spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (u.role == NULL || u.key_id == NULL)
		return bw_cli_usage(u.prog, "--role and --key-id are required");
	rc = bw_tufup_up_open(&u, 1);
	if (rc != BW_EXIT_OK)
		return rc;
	rc = bw_tufup_new_key(&u, &k, &loc);
	if (rc != BW_EXIT_OK) {
		bw_tufup_up_close(&u);
		return rc;
	}
	rc = bw_repo_proposal_add_key(u.r, u.p, u.role, k.s[0]->key, loc, &err);
	if (rc == 0)
		rc = bw_repo_proposal_delete_key(u.r, u.p, u.role, u.key_id,
						 &err);
	bw_repo_keys_dispose(&k);
	return bw_tufup_up_save(&u, rc, &err);
}

int bw_tufup_rotate_online(int argc, char **argv)
{
	struct up u = {.prog = "bulwark keys tuf updates rotate-online-key"};
	const struct bw_cli_opt opts[] = {
	    OPT_REPO(u),
	    OPT_PROPOSAL(u),
	    OPT_ROLE_REQUIRED(u, "targets, snapshot or timestamp"),
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    u.prog,
	    "--role ROLE",
	    "Generate a new online key (kept as DIR/online/ROLE.pem.proposed "
	    "until\napply) and put it into the proposed root.",
	    opts, NULL,
	    0,
	    0};
	struct bw_err err = {0};
	int done = 0, rc;

	rc = bw_tufup_up_parse(&u, &spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	rc = bw_tufup_up_open(&u, 1);
	if (rc != BW_EXIT_OK)
		return rc;
	rc = bw_repo_proposal_rotate_online(u.r, u.p, u.role, &err);
	return bw_tufup_up_save(&u, rc, &err);
}

int bw_tufup_threshold(int argc, char **argv)
{
	struct up u = {.prog = "bulwark keys tuf updates set-threshold"};
	const struct bw_cli_opt opts[] = {
	    OPT_REPO(u),
	    OPT_PROPOSAL(u),
	    OPT_ROLE_REQUIRED(u, "root, or targets (production flavour)"),
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    u.prog,
	    "--role ROLE N",
	    "Set the threshold of root (both flavours) or of production "
	    "targets\n(>= 2: the online key plus offline keys).",
	    opts, &u.pos,
	    1,
	    1};
	struct bw_err err = {0};
	int64_t n = 0;
	int done = 0, rc;

	rc = bw_tufup_up_parse(&u, &spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	rc = bw_cli_int(u.prog, "N", u.pos, 1, 64, &n);
	if (rc == BW_EXIT_OK)
		rc = bw_tufup_up_open(&u, 1);
	if (rc != BW_EXIT_OK)
		return rc;
	rc = bw_repo_proposal_set_threshold(u.r, u.p, u.role, n, &err);
	return bw_tufup_up_save(&u, rc, &err);
}
