/*
 * Editing and signing a proposal (the multi-person key ceremony). Every
 * change edits the staged production root (the CI root is derived from it)
 * and clears the root signatures collected so far: admins sign what they
 * reviewed, nothing else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bulwark/buf.h"
#include "bulwark/json.h"
#include "bulwark/tuf.h"
#include "repo/proposal_priv.h"

static json_t *staged(struct bw_repo_proposal *p, const char *flavour)
{
	return json_object_get(json_object_get(p->doc, "root"), flavour);
}

static json_t *staged_prod(struct bw_repo_proposal *p)
{
	return json_object_get(staged(p, "prod"), "signed");
}

/* Derive the CI root, drop root signatures, note the change. */
static int restage(struct bw_repo_proposal *p, const char *change,
		   struct bw_err *err)
{
	json_t *root = json_object_get(p->doc, "root");
	const char *okid = json_string_value(
	    json_object_get(json_object_get(p->doc, "online_keys"), "targets"));
	json_t *prod = json_deep_copy(staged_prod(p));
	json_t *ci = prod != NULL ? bw_repo__root_ci(prod, okid) : NULL;
	int rc = 0;

	if (ci == NULL ||
	    json_object_set_new(
		root, "prod",
		json_pack("{s:[], s:o}", "signatures", "signed", prod)) != 0 ||
	    json_object_set_new(
		root, "ci",
		json_pack("{s:[], s:o}", "signatures", "signed", ci)) != 0 ||
	    (change != NULL &&
	     json_array_append_new(json_object_get(p->doc, "changes"),
				   json_string(change)) != 0))
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	if (ci == NULL)
		json_decref(prod);
	return rc;
}

static int online_ids(struct bw_repo *r, json_t **out, struct bw_err *err)
{
	struct bw_signer *s = NULL;
	int rc = 0;

	*out = json_object();
	for (int i = 0; rc == 0 && i < BW_ONLINE_N; i++) {
		rc = bw_repo__online(r, i, &s, err);
		if (rc == 0 &&
		    json_object_set_new(*out, bw_repo__online_name(i),
					json_string(s->key->keyid)) != 0)
			rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	}
	return rc;
}

int bw_repo_proposal_new(struct bw_repo *r, struct bw_repo_proposal **out,
			 struct bw_err *err)
{
	struct bw_repo_proposal *p = calloc(1, sizeof(*p));
	json_t *env = NULL, *on = NULL, *sg = NULL;
	int rc = p != NULL ? 0 : bw_err_set(err, BW_ENOMEM, "out of memory");

	*out = NULL;
	if (rc == 0)
		rc = bw_repo__root_latest(r, 1, &env, err);
	if (rc == 0)
		rc = online_ids(r, &on, err);
	if (rc == 0)
		sg = bw_repo__next_signed(env, bw_repo__now(r) + r->exp.root);
	if (rc == 0 &&
	    (sg == NULL ||
	     (p->doc = json_pack(
		  "{s:i, s:s, s:I, s:[], s:O, s:O, s:{s:{s:[], s:O}}, s:{}}",
		  "bulwark_proposal", 1, "factory", bw_repo_name(r),
		  "from_version", (json_int_t)r->root_version, "changes",
		  "offline_keys", json_object_get(r->cfg, "offline_keys"),
		  "online_keys", on, "root", "prod", "signatures", "signed", sg,
		  "prod_targets")) == NULL))
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	if (rc == 0)
		rc = restage(p, NULL, err);
	if (rc == 0) {
		*out = p;
		p = NULL;
	}
	bw_repo_proposal_free(p);
	json_decref(env);
	json_decref(on);
	json_decref(sg);
	return rc;
}

int bw_repo_proposal_init(struct bw_repo *r, const char *path,
			  struct bw_err *err)
{
	struct bw_repo_proposal *p = NULL;
	struct stat st;
	int rc;

	if (lstat(path, &st) == 0)
		return bw_err_set(err, BW_EEXIST,
				  "%s exists: a ceremony is in progress "
				  "(review, apply or cancel it)",
				  path);
	rc = bw_repo_proposal_new(r, &p, err);
	if (rc == 0)
		rc = bw_repo_proposal_save(r, p, path, err);
	bw_repo_proposal_free(p);
	return rc;
}

static json_t *role_of(struct bw_repo_proposal *p, const char *role)
{
	return json_object_get(json_object_get(staged_prod(p), "roles"), role);
}

static long key_index(json_t *ids, const char *kid)
{
	size_t i;
	json_t *v;

	json_array_foreach(ids, i, v)
	{
		if (strcmp(json_string_value(v), kid) == 0)
			return (long)i;
	}
	return -1;
}

static int sole_key(const json_t *sg, const char *role, const char *kid)
{
	const json_t *ids = json_object_get(
	    json_object_get(json_object_get(sg, "roles"), role), "keyids");

	return json_array_size(ids) == 1 &&
	       strcmp(json_string_value(json_array_get(ids, 0)), kid) == 0;
}

/*
 * Admins review the production root; what they sign must not hide
 * anything else: the CI root must be exactly the production root with
 * the online targets key (threshold 1), and the online roles must name
 * the online keys this proposal carries.
 */
static int check_flavours(struct bw_repo_proposal *p, struct bw_err *err)
{
	const json_t *on = json_object_get(p->doc, "online_keys");
	const char *t = json_string_value(json_object_get(on, "targets"));
	json_t *prod = staged_prod(p), *ci = NULL;
	int ok;

	if (!sole_key(prod, "snapshot",
		      json_string_value(json_object_get(on, "snapshot"))) ||
	    !sole_key(prod, "timestamp",
		      json_string_value(json_object_get(on, "timestamp"))) ||
	    key_index(json_object_get(role_of(p, "targets"), "keyids"), t) < 0)
		return bw_err_set(err, BW_EFORMAT,
				  "proposal: the root's online roles do not "
				  "match its online keys");
	ci = bw_repo__root_ci(prod, t);
	ok = ci != NULL &&
	     json_equal(ci, json_object_get(staged(p, "ci"), "signed"));
	json_decref(ci);
	if (!ok)
		return bw_err_set(err, BW_EFORMAT,
				  "proposal: the CI root is not the production "
				  "root with the online targets key "
				  "(tampered?)");
	return 0;
}

/*
 * A ceremony re-signs production targets for the new root; it never
 * changes what they list. Staged targets must be the published ones,
 * one version up, so nobody signs a target slipped into the file.
 */
static int check_staged(struct bw_repo *r, struct bw_repo_proposal *p,
			struct bw_err *err)
{
	const char *tag;
	json_t *env;
	int rc = 0;

	json_object_foreach(json_object_get(p->doc, "prod_targets"), tag, env)
	{
		const json_t *ns = json_object_get(env, "signed");
		json_t *cur = NULL;
		const json_t *cs;

		rc = bw_repo_targets_load(r, 1, tag, &cur, err);
		cs = json_object_get(cur, "signed");
		if (rc == 0 &&
		    (!json_equal(json_object_get(ns, "targets"),
				 json_object_get(cs, "targets")) ||
		     json_integer_value(json_object_get(ns, "version")) !=
			 json_integer_value(json_object_get(cs, "version")) +
			     1))
			rc = bw_err_set(err, BW_EFORMAT,
					"proposal: staged production targets "
					"of '%s' differ from the published "
					"ones (tampered?)",
					tag);
		json_decref(cur);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int bw_repo_proposal_load(struct bw_repo *r, const char *path,
			  struct bw_repo_proposal **out, struct bw_err *err)
{
	uint8_t *b = NULL;
	size_t n = 0;
	int64_t from;
	int rc;

	*out = NULL;
	rc = bw_repo__read(path, BW_REPO_MAX_META, &b, &n, err);
	if (rc == BW_ENOTFOUND)
		bw_err_set(err, rc,
			   "no proposal %s (start one with `bulwark "
			   "keys tuf updates init`)",
			   path);
	if (rc == 0)
		rc = bw_repo_proposal_parse(b, n, out, err);
	free(b);
	if (rc == 0 && ((rc = check_flavours(*out, err)) != 0 ||
			(rc = check_staged(r, *out, err)) != 0)) {
		bw_repo_proposal_free(*out);
		*out = NULL;
	}
	if (rc != 0)
		return rc;
	from = json_integer_value(json_object_get((*out)->doc, "from_version"));
	if (strcmp(json_string_value(json_object_get((*out)->doc, "factory")),
		   bw_repo_name(r)) != 0 ||
	    from != r->root_version) {
		bw_repo_proposal_free(*out);
		*out = NULL;
		return bw_err_set(
		    err, BW_ESTATE,
		    "the proposal is for factory root v%lld; this "
		    "workspace is '%s' at root v%lld",
		    (long long)from, bw_repo_name(r),
		    (long long)r->root_version);
	}
	return 0;
}

int bw_repo_proposal_save(struct bw_repo *r, struct bw_repo_proposal *p,
			  const char *path, struct bw_err *err)
{
	char *s = json_dumps(p->doc, JSON_SORT_KEYS | JSON_INDENT(1));
	int rc;

	(void)r;
	if (s == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = bw_io_write_atomic(path, s, strlen(s), 0644, err);
	free(s);
	return rc;
}

static int offline_role(const char *role, struct bw_err *err)
{
	if (role == NULL || (strcmp(role, "root") && strcmp(role, "targets")))
		return bw_err_set(err, BW_EINVAL,
				  "offline keys are root or targets keys");
	return 0;
}

int bw_repo_proposal_add_key(struct bw_repo *r, struct bw_repo_proposal *p,
			     const char *role, const struct bw_key *key,
			     const char *location, struct bw_err *err)
{
	json_t *ids, *kj = NULL;
	char change[256];
	int rc;

	(void)r;
	rc = offline_role(role, err);
	if (rc != 0)
		return rc;
	ids = json_object_get(role_of(p, role), "keyids");
	if (key_index(ids, key->keyid) >= 0)
		return bw_err_set(err, BW_EEXIST,
				  "key %.16s... is already a "
				  "%s key",
				  key->keyid, role);
	rc = bw_key_to_json(key, &kj, err);
	if (rc != 0)
		return rc;
	if (json_object_set_new(json_object_get(staged_prod(p), "keys"),
				key->keyid, kj) != 0 ||
	    json_array_append_new(ids, json_string(key->keyid)) != 0 ||
	    json_object_set_new(json_object_get(p->doc, "offline_keys"),
				key->keyid,
				json_pack("{s:s, s:s}", "role", role,
					  "location", location)) != 0)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	snprintf(change, sizeof(change), "add %s key %s (%s)", role, key->keyid,
		 key->keytype);
	return restage(p, change, err);
}

/* Drop the key object when no role refers to it any more. */
static void prune_key(struct bw_repo_proposal *p, const char *kid)
{
	const char *role;
	json_t *v;

	json_object_foreach(json_object_get(staged_prod(p), "roles"), role, v)
	{
		if (key_index(json_object_get(v, "keyids"), kid) >= 0)
			return;
	}
	json_object_del(json_object_get(staged_prod(p), "keys"), kid);
}

int bw_repo_proposal_delete_key(struct bw_repo *r, struct bw_repo_proposal *p,
				const char *role, const char *keyid,
				struct bw_err *err)
{
	const char *online = json_string_value(
	    json_object_get(json_object_get(p->doc, "online_keys"), "targets"));
	char change[256];
	json_t *ids;
	long i;
	int rc;

	(void)r;
	rc = offline_role(role, err);
	if (rc != 0)
		return rc;
	ids = json_object_get(role_of(p, role), "keyids");
	i = key_index(ids, keyid);
	if (i < 0)
		return bw_err_set(err, BW_ENOTFOUND,
				  "%.64s is not a %s key of "
				  "the proposed root",
				  keyid, role);
	if (strcmp(role, "targets") == 0 && strcmp(keyid, online) == 0)
		return bw_err_set(err, BW_EINVAL,
				  "that is the online targets "
				  "key: use rotate-online-key");
	if (json_array_size(ids) == 1)
		return bw_err_set(err, BW_EINVAL,
				  "cannot delete the last %s "
				  "key",
				  role);
	snprintf(change, sizeof(change), "delete %s key %s", role, keyid);
	json_array_remove(ids, (size_t)i);
	json_object_del(json_object_get(p->doc, "offline_keys"), keyid);
	prune_key(p, keyid);
	return restage(p, change, err);
}

int bw_repo_proposal_set_threshold(struct bw_repo *r,
				   struct bw_repo_proposal *p, const char *role,
				   int64_t threshold, struct bw_err *err)
{
	char change[128];
	int rc;

	(void)r;
	rc = offline_role(role, err);
	if (rc != 0)
		return rc;
	if (threshold < 1 || threshold > 64 ||
	    (strcmp(role, "targets") == 0 && threshold < 2))
		return bw_err_set(err, BW_EINVAL,
				  "threshold: root 1..64, production targets "
				  "2..64");
	snprintf(change, sizeof(change), "set %s threshold %lld -> %lld", role,
		 (long long)json_integer_value(
		     json_object_get(role_of(p, role), "threshold")),
		 (long long)threshold);
	if (json_object_set_new(role_of(p, role), "threshold",
				json_integer(threshold)) != 0)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	return restage(p, change, err);
}

int bw_repo_proposal_rotate_online(struct bw_repo *r,
				   struct bw_repo_proposal *p, const char *role,
				   struct bw_err *err)
{
	json_t *on = json_object_get(p->doc, "online_keys"), *ids, *kj = NULL;
	struct bw_signer *s = NULL;
	char change[256], *path = NULL, old[BW_KEYID_HEX_LEN + 1];
	int rc;

	if (role == NULL || json_object_get(on, role) == NULL)
		return bw_err_set(err, BW_EINVAL,
				  "online roles: targets, "
				  "snapshot, timestamp");
	snprintf(old, sizeof(old), "%s",
		 json_string_value(json_object_get(on, role)));
	path = bw_repo__path(r->dir, "online/%s.pem.proposed", role);
	rc = path != NULL ? bw_signer_keyfile_generate(BW_KEY_ED25519, &s, err)
			  : BW_ENOMEM;
	if (rc == 0)
		rc = bw_signer_keyfile_save(s, path, err);
	if (rc == 0)
		rc = bw_key_to_json(s->key, &kj, err);
	if (rc != 0)
		goto out;
	ids = json_object_get(role_of(p, role), "keyids");
	json_array_set_new(ids, (size_t)key_index(ids, old),
			   json_string(s->key->keyid));
	json_object_set_new(json_object_get(staged_prod(p), "keys"),
			    s->key->keyid, kj);
	json_object_set_new(on, role, json_string(s->key->keyid));
	prune_key(p, old);
	snprintf(change, sizeof(change), "rotate online %s key %.16s... -> %s",
		 role, old, s->key->keyid);
	rc = restage(p, change, err);
out:
	bw_signer_free(s);
	free(path);
	return rc;
}

int bw_repo_proposal_sign(struct bw_repo *r, struct bw_repo_proposal *p,
			  const struct bw_repo_keys *keys, size_t *nsigned,
			  struct bw_err *err)
{
	json_t *old = NULL;
	int rc;

	*nsigned = 0;
	rc = bw_repo__root_latest(r, 1, &old, err);
	for (size_t i = 0; rc == 0 && i < keys->n; i++) {
		struct bw_repo_keys one = {
		    .s = &keys->s[i], .where = &keys->where[i], .n = 1};
		size_t a = 0, b = 0;

		/* TUF 5.3.4: the old root's keys and the new root's keys. */
		rc = bw_repo__sign_as(json_object_get(old, "signed"), "root",
				      staged(p, "prod"), &one, &a, err);
		if (rc == 0 && a == 0)
			rc = bw_repo__sign_as(staged_prod(p), "root",
					      staged(p, "prod"), &one, &b, err);
		if (rc == 0 && a + b == 0)
			rc = bw_err_set(err, BW_ESIG,
					"key %.16s... (%.200s) is not a root "
					"key of root v%lld or v%lld",
					keys->s[i]->key->keyid, keys->where[i],
					(long long)r->root_version,
					(long long)r->root_version + 1);
		if (rc == 0)
			rc = bw_tuf_envelope_add_signature(staged(p, "ci"),
							   keys->s[i], err);
		if (rc == 0)
			(*nsigned)++;
	}
	json_decref(old);
	return rc;
}
