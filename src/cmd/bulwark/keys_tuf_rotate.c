/*
 * `bulwark keys tuf rotate-offline-key`: the one-admin shortcut that runs
 * the ceremony's steps in memory (keys_tuf_updates.h).
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

/* ---- the one-admin shortcut ------------------------------------------- */

struct rot {
	struct up u;
	struct bw_cli_list tkeys;
	struct bw_repo_keys root, tgt, fresh;
	struct bw_repo_proposal *p;
};

/* Replace every key of old that is a role key by a new one in out. */
static int rot_replace(struct rot *x, const char *role,
		       const struct bw_repo_keys *old, struct bw_err *err)
{
	enum bw_key_type kt = BW_KEY_ED25519;
	struct bw_signer *s = NULL;
	size_t first = x->fresh.n;
	int rc = 0;

	if (x->u.key_type != NULL && bw_key_type_from_name(x->u.key_type, &kt))
		return bw_err_set(err, BW_EINVAL,
				  "--key-type: ed25519, ecdsa, "
				  "rsa");
	for (size_t i = 0; rc == 0 && i < old->n; i++) {
		if (x->u.key_id != NULL &&
		    strcmp(x->u.key_id, old->s[i]->key->keyid) != 0)
			continue;
		rc = bw_signer_keyfile_generate(kt, &s, err);
		if (rc == 0)
			rc = bw_repo_proposal_add_key(x->u.r, x->p, role,
						      s->key, x->u.out, err);
		if (rc == 0)
			rc = bw_repo_proposal_delete_key(
			    x->u.r, x->p, role, old->s[i]->key->keyid, err);
		if (rc == BW_ENOTFOUND) { /* not a key of this role: undo */
			rc = bw_repo_proposal_delete_key(x->u.r, x->p, role,
							 s->key->keyid, err);
			bw_signer_free(s);
			s = NULL;
			if (rc != 0)
				break;
			continue;
		}
		if (rc == 0) {
			struct bw_signer **v =
			    realloc(x->fresh.s, (x->fresh.n + 1) * sizeof(*v));
			char **w = realloc(x->fresh.where,
					   (x->fresh.n + 1) * sizeof(*w));

			if (v != NULL)
				x->fresh.s = v;
			if (w != NULL)
				x->fresh.where = w;
			if (v == NULL || w == NULL ||
			    (w[x->fresh.n] = strdup(x->u.out)) == NULL)
				rc = bw_err_set(err, BW_ENOMEM, "no memory");
			else
				v[x->fresh.n++] = s; /* transferred */
		}
		if (rc != 0)
			bw_signer_free(s);
		s = NULL;
	}
	if (rc == 0 && x->fresh.n == first)
		rc = bw_err_set(err, BW_ENOTFOUND,
				"no current %s key in the "
				"given archive(s)",
				role);
	return rc;
}

/* Keys that sign: the old root keys and, for a root rotation, the new. */
static int rot_sign(struct rot *x, const char *role, struct bw_err *err)
{
	size_t n = 0;
	int rc = bw_repo_proposal_sign(x->u.r, x->p, &x->root, &n, err);

	if (rc == 0 && strcmp(role, "root") == 0)
		rc = bw_repo_proposal_sign(x->u.r, x->p, &x->fresh, &n, err);
	if (rc == 0 && strcmp(role, "targets") == 0) {
		char **tags = NULL;

		rc = bw_repo_tags(x->u.r, &tags, err);
		if (rc == 0 && tags[0] != NULL)
			rc = bw_repo_proposal_sign_targets(x->u.r, x->p, NULL,
							   &x->fresh, &n, err);
		bw_repo_strv_free(tags);
	}
	return rc;
}

static int rot_run(struct rot *x, struct bw_err *err)
{
	const char *role = x->u.role;
	int rc;

	if (strcmp(role, "targets") == 0 && x->tkeys.n == 0)
		return bw_cli_usage(x->u.prog,
				    "--role targets needs "
				    "--targets-keys (the keys to replace)");
	rc = bw_repocli_keys(x->u.prog, x->u.r, &x->u.keys, x->u.pin_file,
			      &x->root);
	if (rc == BW_EXIT_OK && x->tkeys.n > 0)
		rc = bw_repocli_keys(x->u.prog, x->u.r, &x->tkeys,
				      x->u.pin_file, &x->tgt);
	if (rc != BW_EXIT_OK)
		return rc;
	if (bw_repo_proposal_new(x->u.r, &x->p, err) != 0 ||
	    rot_replace(x, role, strcmp(role, "root") == 0 ? &x->root : &x->tgt,
			err) != 0 ||
	    rot_sign(x, role, err) != 0)
		return bw_cli_fail(x->u.prog, "%s (workspace unchanged)",
				   err->msg);
	/* The new key is saved before the root that needs it is applied. */
	if (bw_repo_archive_write(x->u.out, x->fresh.s, x->fresh.n, err) != 0)
		return bw_cli_fail(x->u.prog, "%s (workspace unchanged)",
				   err->msg);
	if (bw_repo_proposal_apply(x->u.r, x->p, NULL, err) != 0) {
		(void)unlink(x->u.out);
		return bw_cli_fail(x->u.prog, "%s (workspace unchanged)",
				   err->msg);
	}
	for (size_t i = 0; i < x->fresh.n; i++)
		printf("new %s key %s in %s\n", role, x->fresh.s[i]->key->keyid,
		       x->u.out);
	printf("root v%lld applied; keep %s offline, destroy the old key\n",
	       (long long)bw_repo_root_version(x->u.r), x->u.out);
	return BW_EXIT_OK;
}

int bw_cmd_keys_tuf_rotate(int argc, char **argv)
{
	struct rot x = {.u = {.prog = "bulwark keys tuf rotate-offline-key"}};
	const struct bw_cli_opt opts[] = {
	    OPT_REPO(x.u),
	    OPT_ROLE(x.u, "root or targets"),
	    {"--keys", BW_CLI_LIST, "ARCHIVE|URI",
	     "root key archive(s): sign the new root (and, for --role "
	     "root, the keys replaced)",
	     &x.u.keys},
	    {"--targets-keys", BW_CLI_LIST, "ARCHIVE|URI",
	     "offline targets keys to replace (--role targets)", &x.tkeys},
	    {"--key-id", BW_CLI_STR, "ID",
	     "replace only this key (default: every key of the role in "
	     "the archives)",
	     &x.u.key_id},
	    {"--out", BW_CLI_STR, "ARCHIVE",
	     "archive for the new key(s) (must not exist)", &x.u.out},
	    {"--key-type", BW_CLI_STR, "TYPE", "ed25519, ecdsa or rsa",
	     &x.u.key_type},
	    {"--hsm-pin-file", BW_CLI_STR, "F", "PIN for pkcs11: keys",
	     &x.u.pin_file},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    x.u.prog,
	    "--role root|targets --keys ARCHIVE [--targets-keys "
	    "ARCHIVE] --out ARCHIVE",
	    "One admin's shortcut for a key rotation: new key(s) into "
	    "--out, a new\nroot signed by the old and the new root keys, "
	    "production targets\nre-signed with the new targets key(s), "
	    "all applied at once.",
	    opts, NULL,
	    0,
	    0};
	struct bw_err err = {0};
	int done = 0, rc;

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (x.u.role == NULL || x.u.keys.n == 0 || x.u.out == NULL)
		return bw_cli_usage(x.u.prog, "--role, --keys and --out are "
					      "required");
	if (strcmp(x.u.role, "root") != 0 && strcmp(x.u.role, "targets") != 0)
		return bw_cli_usage(x.u.prog, "--role: root or targets");
	if (access(x.u.out, F_OK) == 0)
		return bw_cli_fail(x.u.prog, "%s exists", x.u.out);
	rc = bw_repocli_open(x.u.prog, x.u.repo, &x.u.r);
	if (rc == BW_EXIT_OK)
		rc = rot_run(&x, &err);
	bw_repo_keys_dispose(&x.root);
	bw_repo_keys_dispose(&x.tgt);
	bw_repo_keys_dispose(&x.fresh);
	bw_repo_proposal_free(x.p);
	bw_repo_free(x.u.r);
	return rc;
}
