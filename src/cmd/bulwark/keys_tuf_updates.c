/*
 * `bulwark keys tuf updates ...`: the multi-person key ceremony around a
 * proposal file (default DIR/proposal.json; plain JSON, no secrets), and
 * `bulwark keys tuf rotate-offline-key`, the one-admin shortcut that runs
 * the same steps in memory.
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

void bw_tufup_up_close(struct up *u)
{
	bw_repo_proposal_free(u->p);
	bw_repo_free(u->r);
	free(u->path);
	free(u->loc);
	u->loc = NULL;
	u->p = NULL;
	u->r = NULL;
	u->path = NULL;
}

/* Open the workspace and (unless load is 0) the proposal. */
int bw_tufup_up_open(struct up *u, int load)
{
	struct bw_err err = {0};
	int rc = bw_repocli_open(u->prog, u->repo, &u->r);

	if (rc != BW_EXIT_OK)
		return rc;
	if (u->proposal != NULL)
		u->path = strdup(u->proposal);
	else if (bw_path_join(bw_repo_dir(u->r), "proposal.json", &u->path))
		u->path = NULL;
	if (u->path == NULL)
		rc = bw_cli_fail(u->prog, "out of memory");
	else if (load && bw_repo_proposal_load(u->r, u->path, &u->p, &err))
		rc = bw_cli_fail(u->prog, "%s", err.msg);
	if (rc != BW_EXIT_OK)
		bw_tufup_up_close(u);
	return rc;
}

int bw_tufup_up_save(struct up *u, int rc, const struct bw_err *err)
{
	struct bw_err e = {0};

	if (rc != 0)
		rc = bw_cli_fail(u->prog, "%s (proposal unchanged)", err->msg);
	else if (bw_repo_proposal_save(u->r, u->p, u->path, &e) != 0)
		rc = bw_cli_fail(u->prog, "%s", e.msg);
	else
		printf("proposal %s updated; run `bulwark keys tuf updates "
		       "review`\n",
		       u->path);
	bw_tufup_up_close(u);
	return rc;
}

int bw_tufup_up_parse(struct up *u, const struct bw_cli_spec *spec, int argc,
		    char **argv, int *done)
{
	(void)u;
	return bw_cli_parse(spec, argc, argv, done);
}

static int keep_one(struct up *u, struct bw_repo_keys *k, struct bw_signer *s,
		    const char *where)
{
	k->s = malloc(sizeof(*k->s));
	k->where = malloc(sizeof(*k->where));
	if (k->s == NULL || k->where == NULL ||
	    (k->where[0] = strdup(where)) == NULL) {
		bw_signer_free(s);
		bw_repo_keys_dispose(k);
		return bw_cli_fail(u->prog, "out of memory");
	}
	k->s[0] = s;
	k->n = 1;
	printf("new %s key %s in %s\n", u->role, s->key->keyid, where);
	return BW_EXIT_OK;
}

/* A new key made inside the factory's token. */
static int new_hsm_key(struct up *u, struct bw_repo_keys *k, const char **loc)
{
	struct bw_signer *s = NULL;
	struct bw_err err = {0};
	char *pin = NULL;
	int rc;

	rc = bw_repocli_pin(u->prog, u->pin_file, &pin);
	if (rc != BW_EXIT_OK)
		return rc;
	if (bw_repo_hsm_keygen(bw_repo_hsm_module(u->r), u->hsm_token, pin,
			       u->role, &s, &u->loc, &err) != 0)
		rc = bw_cli_fail(u->prog, "%s", err.msg);
	bw_pkcs11_pin_free(pin);
	if (rc != BW_EXIT_OK)
		return rc;
	*loc = u->loc;
	return keep_one(u, k, s, u->loc);
}

/* A new key in a new archive (out) or the token, or an existing one. */
int bw_tufup_new_key(struct up *u, struct bw_repo_keys *k, const char **loc)
{
	struct bw_signer *s = NULL;
	struct bw_err err = {0};
	enum bw_key_type kt = BW_KEY_ED25519;
	struct bw_cli_list one = {.v = {u->key}, .n = 1};

	bw_repo_keys_init(k);
	if ((u->out != NULL) + (u->key != NULL) + (u->hsm_token != NULL) != 1)
		return bw_cli_usage(u->prog,
				    "give --out ARCHIVE (new key), --hsm-token "
				    "LABEL (new HSM key) or --key ARCHIVE|URI "
				    "(existing key)");
	if (u->key != NULL) {
		*loc = u->key;
		return bw_repocli_keys(u->prog, u->r, &one, u->pin_file, k);
	}
	if (u->hsm_token != NULL)
		return new_hsm_key(u, k, loc);
	if (u->key_type != NULL && bw_key_type_from_name(u->key_type, &kt))
		return bw_cli_usage(u->prog, "--key-type: ed25519, ecdsa, rsa");
	*loc = u->out;
	if (access(u->out, F_OK) == 0)
		return bw_cli_fail(u->prog, "%s exists", u->out);
	if (bw_signer_keyfile_generate(kt, &s, &err) != 0 ||
	    bw_repo_archive_write(u->out, &s, 1, &err) != 0) {
		bw_signer_free(s);
		return bw_cli_fail(u->prog, "%s", err.msg);
	}
	return keep_one(u, k, s, u->out);
}

int bw_cmd_keys_tuf_updates(int argc, char **argv)
{
	static const struct bw_cli_cmd cmds[] = {
	    {"init", "start a proposal for the next root", bw_tufup_init},
	    {"add-offline-key", "add a root/targets key", bw_tufup_add_key},
	    {"delete-offline-key", "remove a root/targets key", bw_tufup_delete_key},
	    {"rotate-offline-key", "replace a root/targets key",
	     bw_tufup_rotate_key},
	    {"rotate-online-key", "new targets/snapshot/timestamp key",
	     bw_tufup_rotate_online},
	    {"set-threshold", "root or production targets threshold",
	     bw_tufup_threshold},
	    {"sign", "sign the proposed root", bw_tufup_sign},
	    {"sign-prod-targets", "sign production targets for it",
	     bw_tufup_sign_targets},
	    {"review", "changes and problems", bw_tufup_review},
	    {"apply", "verify and commit", bw_tufup_apply},
	    {"cancel", "drop the proposal", bw_tufup_cancel},
	};

	return bw_cli_dispatch("bulwark keys tuf updates",
			       "The key ceremony (no server needed).", cmds,
			       sizeof(cmds) / sizeof(cmds[0]), argc, argv);
}
