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
#include "repo_cli.h"
#include "server_cli.h"

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

static void up_close(struct up *u)
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
static int up_open(struct up *u, int load)
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
		up_close(u);
	return rc;
}

static int up_save(struct up *u, int rc, const struct bw_err *err)
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
	up_close(u);
	return rc;
}

static int up_parse(struct up *u, const struct bw_cli_spec *spec, int argc,
		    char **argv, int *done)
{
	(void)u;
	return bw_cli_parse(spec, argc, argv, done);
}

static int cmd_init(int argc, char **argv)
{
	struct up u = {.prog = "bulwark keys tuf updates init"};
	const struct bw_cli_opt opts[] = {OPT_REPO(u), OPT_PROPOSAL(u),
	BW_CLI_END
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

	rc = up_parse(&u, &spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	rc = up_open(&u, 0);
	if (rc != BW_EXIT_OK)
		return rc;
	if (bw_repo_proposal_init(u.r, u.path, &err) != 0)
		rc = bw_cli_fail(u.prog, "%s", err.msg);
	else
		printf("proposal for root v%lld written to %s\n",
		       (long long)bw_repo_root_version(u.r) + 1, u.path);
	up_close(&u);
	return rc;
}

/* A new key in a new archive (out), or an existing one (archive/URI). */
/* Take s (transferred) as the only key of k. */
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
static int new_key(struct up *u, struct bw_repo_keys *k, const char **loc)
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

static int cmd_add_key(int argc, char **argv)
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

	rc = up_parse(&u, &spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	rc = up_open(&u, 1);
	if (rc != BW_EXIT_OK)
		return rc;
	rc = new_key(&u, &k, &loc);
	if (rc != BW_EXIT_OK) {
		up_close(&u);
		return rc;
	}
	for (size_t i = 0; rc == 0 && i < k.n; i++)
		rc = bw_repo_proposal_add_key(u.r, u.p, u.role, k.s[i]->key,
					      loc, &err);
	bw_repo_keys_dispose(&k);
	return up_save(&u, rc, &err);
}

static int cmd_delete_key(int argc, char **argv)
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

	rc = up_parse(&u, &spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (u.role == NULL || u.key_id == NULL)
		return bw_cli_usage(u.prog, "--role and --key-id are required");
	rc = up_open(&u, 1);
	if (rc != BW_EXIT_OK)
		return rc;
	rc = bw_repo_proposal_delete_key(u.r, u.p, u.role, u.key_id, &err);
	return up_save(&u, rc, &err);
}

static int cmd_rotate_key(int argc, char **argv)
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

	rc = up_parse(&u, &spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	if (u.role == NULL || u.key_id == NULL)
		return bw_cli_usage(u.prog, "--role and --key-id are required");
	rc = up_open(&u, 1);
	if (rc != BW_EXIT_OK)
		return rc;
	rc = new_key(&u, &k, &loc);
	if (rc != BW_EXIT_OK) {
		up_close(&u);
		return rc;
	}
	rc = bw_repo_proposal_add_key(u.r, u.p, u.role, k.s[0]->key, loc, &err);
	if (rc == 0)
		rc = bw_repo_proposal_delete_key(u.r, u.p, u.role, u.key_id,
						 &err);
	bw_repo_keys_dispose(&k);
	return up_save(&u, rc, &err);
}

static int cmd_rotate_online(int argc, char **argv)
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

	rc = up_parse(&u, &spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	rc = up_open(&u, 1);
	if (rc != BW_EXIT_OK)
		return rc;
	rc = bw_repo_proposal_rotate_online(u.r, u.p, u.role, &err);
	return up_save(&u, rc, &err);
}

static int cmd_threshold(int argc, char **argv)
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

	rc = up_parse(&u, &spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	rc = bw_cli_int(u.prog, "N", u.pos, 1, 64, &n);
	if (rc == BW_EXIT_OK)
		rc = up_open(&u, 1);
	if (rc != BW_EXIT_OK)
		return rc;
	rc = bw_repo_proposal_set_threshold(u.r, u.p, u.role, n, &err);
	return up_save(&u, rc, &err);
}

static int do_sign(int argc, char **argv, int targets)
{
	struct up u = {.prog = targets ? "bulwark keys tuf updates "
					 "sign-prod-targets"
				       : "bulwark keys tuf updates sign"};
	const struct bw_cli_opt root_opts[] = {
	    OPT_REPO(u),
	    OPT_PROPOSAL(u),
	    OPT_KEYS(u),
	    BW_CLI_END,
	};
	const struct bw_cli_opt targets_opts[] = {
	    OPT_REPO(u),
	    OPT_PROPOSAL(u),
	    OPT_KEYS(u),
	    {"--tag", BW_CLI_STR, "T", "only this tag (sign-prod-targets)",
	     &u.tag},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    u.prog,
	    "--keys ARCHIVE...",
	    targets ? "Sign the next production targets of every tag (or "
		      "--tag) for the proposed\nroot with your offline "
		      "targets keys."
		    : "Sign the proposed root (both flavours) with your "
		      "root keys: keys of the\ncurrent root and of the "
		      "proposed root both count (TUF 5.3.4).",
	    targets ? targets_opts : root_opts, NULL,
	    0,
	    0};
	struct bw_repo_keys k;
	struct bw_err err = {0};
	size_t n = 0;
	int done = 0, rc;

	rc = up_parse(&u, &spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	rc = up_open(&u, 1);
	if (rc == BW_EXIT_OK)
		rc = bw_repocli_keys(u.prog, u.r, &u.keys, u.pin_file, &k);
	if (rc != BW_EXIT_OK) {
		up_close(&u);
		return rc;
	}
	rc = targets
		 ? bw_repo_proposal_sign_targets(u.r, u.p, u.tag, &k, &n, &err)
		 : bw_repo_proposal_sign(u.r, u.p, &k, &n, &err);
	bw_repo_keys_dispose(&k);
	if (rc == 0)
		printf("%zu signature(s) added\n", n);
	return up_save(&u, rc, &err);
}

static int cmd_sign(int argc, char **argv)
{
	return do_sign(argc, argv, 0);
}

static int cmd_sign_targets(int argc, char **argv)
{
	return do_sign(argc, argv, 1);
}

/* After apply: --server gets the new roots and re-signed targets. */
static int push_applied(struct up *u, const struct bw_admin_client *s)
{
	printf("root v%lld applied\n", (long long)bw_repo_root_version(u->r));
	if (s->server == NULL)
		return BW_EXIT_OK;
	if (bw_admin_push_roots(u->prog, s, u->r) != BW_EXIT_OK ||
	    bw_admin_push_all_tags(u->prog, s, u->r) != BW_EXIT_OK)
		return bw_admin_upload_failed(u->prog,
					    "bulwark repo push --server URL "
					    "--all-tags");
	return BW_EXIT_OK;
}

static int review_or_apply(int argc, char **argv, int apply)
{
	struct up u = {.prog = apply ? "bulwark keys tuf updates apply"
				     : "bulwark keys tuf updates review"};
	struct bw_admin_client s = {0};
	const struct bw_cli_opt review_opts[] = {OPT_REPO(u), OPT_PROPOSAL(u),
						 BW_CLI_END};
	const struct bw_cli_opt apply_opts[] = {OPT_REPO(u), OPT_PROPOSAL(u),
						BW_ADMIN_OPTS(s), BW_CLI_END};
	const struct bw_cli_spec spec = {
	    u.prog,
	    apply ? "[--proposal F] [--server URL]" : "[--proposal F]",
	    apply ? "Re-verify the proposal (the new root signed by the "
		    "threshold of the old root\nAND of the new root, both "
		    "flavours; production targets under the new\nroot) and "
		    "commit the new versions atomically. With --server, then "
		    "upload\nthe new roots of both flavours and every "
		    "production tag's targets that\nare newer than the "
		    "server's (as `bulwark repo push`)."
		  : "Print the proposed changes and problems (thresholds "
		    "above key counts,\nexpiry within 30 days, root keys "
		    "sharing an archive, missing signatures).\nExit 1 when "
		    "there are problems.",
	    apply ? apply_opts : review_opts, NULL,
	    0,
	    0};
	struct bw_err err = {0};
	size_t problems = 0;
	int done = 0, rc;

	rc = up_parse(&u, &spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	rc = bw_admin_ready(u.prog, &s, 0);
	if (rc == BW_EXIT_OK)
		rc = up_open(&u, 1);
	if (rc != BW_EXIT_OK)
		return rc;
	if (apply && bw_repo_proposal_apply(u.r, u.p, u.path, &err) != 0)
		rc = bw_cli_fail(u.prog, "refused: %s (workspace unchanged)",
				 err.msg);
	else if (apply)
		rc = push_applied(&u, &s);
	else if (bw_repo_proposal_review(u.r, u.p, bw_repocli_report, NULL,
					 &problems, &err) != 0)
		rc = bw_cli_fail(u.prog, "%s", err.msg);
	else if (problems > 0)
		rc = bw_cli_fail(u.prog, "%zu problem(s)", problems);
	up_close(&u);
	return rc;
}

static int cmd_review(int argc, char **argv)
{
	return review_or_apply(argc, argv, 0);
}

static int cmd_apply(int argc, char **argv)
{
	return review_or_apply(argc, argv, 1);
}

static int cmd_cancel(int argc, char **argv)
{
	struct up u = {.prog = "bulwark keys tuf updates cancel"};
	const struct bw_cli_opt opts[] = {OPT_REPO(u), OPT_PROPOSAL(u),
	BW_CLI_END
};
	const struct bw_cli_spec spec = {
	    u.prog,
	    "[--proposal F]",
	    "Drop the proposal and any proposed online keys.",
	    opts, NULL,
	    0,
	    0};
	static const char *const online[] = {"targets", "snapshot",
					     "timestamp"};
	struct bw_err err = {0};
	int done = 0, rc;

	rc = up_parse(&u, &spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	rc = up_open(&u, 0);
	if (rc != BW_EXIT_OK)
		return rc;
	for (size_t i = 0; rc == 0 && i < 3; i++) {
		char *p = NULL, rel[64];

		snprintf(rel, sizeof(rel), "online/%s.pem.proposed", online[i]);
		if (bw_path_join(bw_repo_dir(u.r), rel, &p) == 0 &&
		    bw_io_remove(p, &err) != 0)
			rc = bw_cli_fail(u.prog, "%s", err.msg);
		free(p);
	}
	if (rc == 0 && bw_io_remove(u.path, &err) != 0)
		rc = bw_cli_fail(u.prog, "%s", err.msg);
	else if (rc == 0)
		printf("proposal cancelled\n");
	up_close(&u);
	return rc;
}

int bw_cmd_keys_tuf_updates(int argc, char **argv)
{
	static const struct bw_cli_cmd cmds[] = {
	    {"init", "start a proposal for the next root", cmd_init},
	    {"add-offline-key", "add a root/targets key", cmd_add_key},
	    {"delete-offline-key", "remove a root/targets key", cmd_delete_key},
	    {"rotate-offline-key", "replace a root/targets key",
	     cmd_rotate_key},
	    {"rotate-online-key", "new targets/snapshot/timestamp key",
	     cmd_rotate_online},
	    {"set-threshold", "root or production targets threshold",
	     cmd_threshold},
	    {"sign", "sign the proposed root", cmd_sign},
	    {"sign-prod-targets", "sign production targets for it",
	     cmd_sign_targets},
	    {"review", "changes and problems", cmd_review},
	    {"apply", "verify and commit", cmd_apply},
	    {"cancel", "drop the proposal", cmd_cancel},
	};

	return bw_cli_dispatch("bulwark keys tuf updates",
			       "The key ceremony (no server needed).", cmds,
			       sizeof(cmds) / sizeof(cmds[0]), argc, argv);
}

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
