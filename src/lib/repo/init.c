/*
 * `bulwark factory init`: a new workspace, built in a temporary directory
 * beside DIR and renamed into place, so a failure leaves nothing behind.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/buf.h"
#include "bulwark/json.h"
#include "bulwark/pkcs11.h"
#include "bulwark/tuf.h"
#include "repo/repo_priv.h"

#define MAX_OFFLINE 16

struct init_ctx {
	const struct bw_repo_init_opts *o;
	struct bw_repo r; /* the staged workspace */
	struct bw_journal t;
	char *keys_dir; /* where archives go */
	struct bw_signer *root[MAX_OFFLINE];
	struct bw_signer *tgt[MAX_OFFLINE];
	unsigned nroot, ntgt;
	json_t *cfg;
	json_t *offline; /* factory.json offline_keys */
	json_t *made;	 /* archive paths and token key URIs made so far */
};

static int check_opts(const struct bw_repo_init_opts *o, struct bw_err *err)
{
	if (o->name == NULL || o->name[0] == '\0' || strlen(o->name) > 64)
		return bw_err_set(err, BW_EINVAL, "factory name: 1-64 chars");
	if (o->root_keys < 1 || o->root_keys > MAX_OFFLINE)
		return bw_err_set(err, BW_EINVAL, "root keys: 1 to %d",
				  MAX_OFFLINE);
	if (o->root_threshold < 1 || o->root_threshold > o->root_keys)
		return bw_err_set(err, BW_EINVAL,
				  "root threshold %u must be 1..%u (the number "
				  "of root keys)",
				  o->root_threshold, o->root_keys);
	if (o->prod_threshold < 2 || o->prod_threshold > MAX_OFFLINE)
		return bw_err_set(err, BW_EINVAL,
				  "production targets threshold must be 2..%d",
				  MAX_OFFLINE);
	if ((o->hsm_token != NULL) != (o->hsm_pin != NULL))
		return bw_err_set(err, BW_EINVAL,
				  "an HSM needs both token and PIN");
	return 0;
}

/* One offline key, in its own archive (or the token). */
static int offline_key(struct init_ctx *c, const char *role, unsigned i,
		       struct bw_signer **out, struct bw_err *err)
{
	char *loc = NULL, *path = NULL;
	int rc;

	if (c->o->hsm_token != NULL) {
		rc = bw_repo_hsm_keygen(c->o->hsm_module, c->o->hsm_token,
					c->o->hsm_pin, role, out, &loc, err);
		if (rc == 0)
			json_array_append_new(c->made, json_string(loc));
	} else {
		rc = bw_signer_keyfile_generate(c->o->key_type, out, err);
		if (rc == 0 && asprintf(&loc, "%s-%u.tar.gz", role, i) < 0) {
			loc = NULL;
			rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		}
		if (rc == 0 &&
		    (path = bw_repo__path(c->keys_dir, "%s", loc)) == NULL)
			rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		/* never overwrite an archive (--keys-out may hold others) */
		if (rc == 0 && access(path, F_OK) == 0)
			rc = bw_err_set(err, BW_EEXIST, "%s already exists",
					path);
		if (rc == 0)
			rc = bw_repo_archive_write(path, out, 1, err);
		if (rc == 0)
			json_array_append_new(c->made, json_string(path));
	}
	if (rc == 0 && json_object_set_new(c->offline, (*out)->key->keyid,
					   json_pack("{s:s, s:s}", "role", role,
						     "location", loc)) != 0)
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	free(loc);
	free(path);
	return rc;
}

static int online_keys(struct init_ctx *c, struct bw_err *err)
{
	char *p = NULL;
	int rc = bw_io_mkdirs(c->r.dir, 0700, err);

	if (rc == 0 && (p = bw_repo__path(c->r.dir, "online")) == NULL)
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	if (rc == 0 && mkdir(p, 0700) != 0)
		rc =
		    bw_err_set(err, BW_EIO, "mkdir %s: %s", p, strerror(errno));
	free(p);
	for (int i = 0; rc == 0 && i < BW_ONLINE_N; i++) {
		enum bw_key_type kt = c->o->key_type;

		rc = bw_signer_keyfile_generate(kt, &c->r.online[i], err);
		p = bw_repo__path(c->r.dir, "online/%s.pem",
				  bw_repo__online_name(i));
		if (rc == 0 && p == NULL)
			rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		if (rc == 0)
			rc = bw_signer_keyfile_save(c->r.online[i], p, err);
		free(p);
		p = NULL;
	}
	return rc;
}

static int add_role(json_t *sg, const char *role, struct bw_signer *const *s,
		    unsigned n, unsigned threshold)
{
	json_t *keys = json_object_get(sg, "keys"), *ids = json_array();
	json_t *kj = NULL;

	for (unsigned i = 0; i < n; i++) {
		if (bw_key_to_json(s[i]->key, &kj, NULL) != 0 ||
		    json_object_set_new(keys, s[i]->key->keyid, kj) != 0 ||
		    json_array_append_new(ids, json_string(s[i]->key->keyid)))
			return BW_ENOMEM;
	}
	return json_object_set_new(json_object_get(sg, "roles"), role,
				   json_pack("{s:o, s:i}", "keyids", ids,
					     "threshold", (int)threshold))
		   ? BW_ENOMEM
		   : 0;
}

/* TUF 4.3 root v1 in both flavours, signed by every root key. */
static int roots(struct init_ctx *c, struct bw_err *err)
{
	int64_t now = bw_repo__now(&c->r);
	json_t *sg = bw_repo__signed_new("root", 1, now + c->r.exp.root);
	json_t *ci = NULL, *env = NULL;
	struct bw_signer *pt[MAX_OFFLINE + 1];
	int rc = BW_ENOMEM;

	pt[0] = c->r.online[BW_ONLINE_TARGETS];
	for (unsigned i = 0; i < c->ntgt; i++)
		pt[i + 1] = c->tgt[i];
	if (sg == NULL ||
	    json_object_set_new(sg, "consistent_snapshot", json_true()) ||
	    json_object_set_new(sg, "keys", json_object()) ||
	    json_object_set_new(sg, "roles", json_object()) ||
	    add_role(sg, "root", c->root, c->nroot, c->o->root_threshold) ||
	    add_role(sg, "targets", pt, c->ntgt + 1, c->o->prod_threshold) ||
	    add_role(sg, "snapshot", &c->r.online[BW_ONLINE_SNAPSHOT], 1, 1) ||
	    add_role(sg, "timestamp", &c->r.online[BW_ONLINE_TIMESTAMP], 1, 1))
		goto out;
	ci = bw_repo__root_ci(sg, pt[0]->key->keyid);
	if (ci == NULL)
		goto out;
	rc = bw_tuf_envelope_sign(sg, c->root, c->nroot, &env, err);
	if (rc == 0)
		rc = bw_repo__txn_put_json(&c->t, "prod/root/1.root.json", env,
					   err);
	json_decref(env);
	env = NULL;
	if (rc == 0)
		rc = bw_tuf_envelope_sign(ci, c->root, c->nroot, &env, err);
	if (rc == 0)
		rc = bw_repo__txn_put_json(&c->t, "ci/root/1.root.json", env,
					   err);
out:
	if (rc == BW_ENOMEM)
		bw_err_set(err, rc, "out of memory");
	json_decref(sg);
	json_decref(ci);
	json_decref(env);
	return rc;
}

static int ci_targets(struct init_ctx *c, struct bw_err *err)
{
	json_t *sg = bw_repo__signed_new(
	    "targets", 1, bw_repo__now(&c->r) + c->r.exp.targets_ci);
	json_t *env = NULL;
	uint8_t *b = NULL;
	size_t n = 0;
	int rc = BW_ENOMEM;

	if (sg == NULL || json_object_set_new(sg, "targets", json_object()))
		goto out;
	rc = bw_tuf_envelope_sign(sg, &c->r.online[BW_ONLINE_TARGETS], 1, &env,
				  err);
	if (rc == 0)
		rc = bw_repo__serialize(env, &b, &n, err);
	if (rc == 0)
		rc = bw_repo__publish(&c->r, &c->t, 0, NULL, b, n, 1, err);
out:
	if (rc == BW_ENOMEM)
		bw_err_set(err, rc, "out of memory");
	json_decref(sg);
	json_decref(env);
	free(b);
	return rc;
}

static int config(struct init_ctx *c, struct bw_err *err)
{
	const struct bw_repo_expiry *e = &c->r.exp;
	json_t *x = json_pack("{s:I, s:I, s:I, s:I, s:I}", "root", e->root,
			      "targets_prod", e->targets_prod, "targets_ci",
			      e->targets_ci, "snapshot", e->snapshot,
			      "timestamp", e->timestamp);
	int rc = 0;

	if (x == NULL || json_object_set_new(c->cfg, "expiry", x) ||
	    json_object_set(c->cfg, "offline_keys", c->offline) ||
	    (c->o->hsm_token != NULL &&
	     json_object_set_new(c->cfg, "hsm",
				 json_pack("{s:s, s:s}", "module",
					   c->o->hsm_module != NULL
					       ? c->o->hsm_module
					       : BW_PKCS11_DEFAULT_MODULE,
					   "token", c->o->hsm_token)) != 0))
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	if (rc == 0)
		rc = bw_repo__txn_put_json(&c->t, "factory.json", c->cfg, err);
	return rc;
}

static int build(struct init_ctx *c, struct bw_err *err)
{
	int rc = online_keys(c, err);

	if (rc == 0 && c->o->hsm_token == NULL)
		rc = bw_io_mkdirs(c->keys_dir, 0700, err);
	for (unsigned i = 0; rc == 0 && i < c->o->root_keys; i++, c->nroot++)
		rc = offline_key(c, "root", i + 1, &c->root[i], err);
	for (unsigned i = 0; rc == 0 && i + 1 < c->o->prod_threshold;
	     i++, c->ntgt++)
		rc = offline_key(c, "targets", i + 1, &c->tgt[i], err);
	if (rc == 0)
		rc = roots(c, err);
	if (rc == 0)
		rc = ci_targets(c, err);
	if (rc == 0)
		rc = config(c, err);
	if (rc == 0)
		rc = bw_journal_put(&c->t, ".lock", "", 0, 0600, err);
	if (rc == 0)
		rc = bw_journal_commit(&c->t, err);
	return rc;
}

static void init_dispose(struct init_ctx *c)
{
	bw_journal_dispose(&c->t);
	for (unsigned i = 0; i < MAX_OFFLINE; i++) {
		bw_signer_free(c->root[i]);
		bw_signer_free(c->tgt[i]);
	}
	for (int i = 0; i < BW_ONLINE_N; i++)
		bw_signer_free(c->r.online[i]);
	json_decref(c->cfg);
	json_decref(c->offline);
	json_decref(c->made);
	free(c->keys_dir);
}

/* A failed init takes back the archives and token keys it made. */
static void unmake(struct init_ctx *c)
{
	struct bw_pkcs11_opts o = {.module_path = c->o->hsm_module,
				   .pin = c->o->hsm_pin};
	size_t i;
	json_t *v;

	json_array_foreach(c->made, i, v)
	{
		const char *m = json_string_value(v);

		if (strncmp(m, "pkcs11:", 7) == 0) {
			o.uri = m;
			(void)bw_pkcs11_delete_key(&o, NULL, NULL);
		} else {
			(void)unlink(m);
		}
	}
}

static void opts_defaults(struct bw_repo_init_opts *o)
{
	if (o->root_keys == 0)
		o->root_keys = 1;
	if (o->root_threshold == 0)
		o->root_threshold = 1;
	if (o->prod_threshold == 0)
		o->prod_threshold = 2;
	if (o->key_type == 0)
		o->key_type = BW_KEY_ED25519;
}

static void expiry_merge(struct bw_repo_expiry *e,
			 const struct bw_repo_expiry *o)
{
	bw_repo_expiry_defaults(e);
	if (o->root)
		e->root = o->root;
	if (o->targets_prod)
		e->targets_prod = o->targets_prod;
	if (o->targets_ci)
		e->targets_ci = o->targets_ci;
	if (o->snapshot)
		e->snapshot = o->snapshot;
	if (o->timestamp)
		e->timestamp = o->timestamp;
}

static const char *type_name(const struct bw_repo_init_opts *o)
{
	if (o->hsm_token != NULL || o->key_type == BW_KEY_ECDSA_P256)
		return "ecdsa";
	return o->key_type == BW_KEY_ED25519 ? "ed25519" : "rsa";
}

/* The context for a workspace staged in stage (owned by the caller). */
static int ctx_setup(struct init_ctx *c, const struct bw_repo_init_opts *o,
		     char *stage, struct bw_err *err)
{
	c->o = o;
	c->r.dir = stage;
	c->r.now = o->now;
	c->r.lock_fd = -1;
	expiry_merge(&c->r.exp, &o->expiry);
	c->keys_dir = o->keys_out != NULL
			  ? strdup(o->keys_out)
			  : bw_repo__path(stage, "offline-keys");
	c->cfg = json_pack("{s:i, s:s, s:s}", "bulwark_factory", 1, "name",
			   o->name, "key_type", type_name(o));
	c->offline = json_object();
	c->made = json_array();
	bw_journal_init(&c->t, stage);
	if (c->keys_dir == NULL || c->cfg == NULL || c->offline == NULL ||
	    c->made == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	return 0;
}

int bw_repo_init(const char *dir, const struct bw_repo_init_opts *opts,
		 struct bw_err *err)
{
	struct bw_repo_init_opts o = *opts;
	struct init_ctx c;
	char *stage = NULL;
	struct stat st;
	int rc;

	memset(&c, 0, sizeof(c));
	opts_defaults(&o);
	rc = check_opts(&o, err);
	if (rc != 0)
		return rc;
	if (lstat(dir, &st) == 0)
		return bw_err_set(err, BW_EEXIST, "%s already exists", dir);
	if (asprintf(&stage, "%s.init-%ld", dir, (long)getpid()) < 0)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = ctx_setup(&c, &o, stage, err);
	if (rc == 0)
		rc = build(&c, err);
	/* rename(2) would replace an empty directory made meanwhile */
	if (rc == 0 && lstat(dir, &st) == 0)
		rc = bw_err_set(err, BW_EEXIST, "%s already exists", dir);
	if (rc == 0 && rename(stage, dir) != 0)
		rc = bw_err_set(err, BW_EIO, "rename to %s: %s", dir,
				strerror(errno));
	if (rc != 0 && c.made != NULL)
		unmake(&c);
	if (rc != 0)
		bw_repo__rmtree(stage);
	init_dispose(&c);
	free(stage);
	return rc;
}
