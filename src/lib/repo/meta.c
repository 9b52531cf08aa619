/*
 * Building, signing and publishing metadata in the shape python-tuf writes
 * (spec_version 1.0.31, consistent snapshots, snapshot meta by version,
 * timestamp meta with version, length and sha256).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/buf.h"
#include "bulwark/hash.h"
#include "bulwark/json.h"
#include "bulwark/tuf.h"
#include "repo/repo_priv.h"

static const char *const online_names[BW_ONLINE_N] = {"targets", "snapshot",
						      "timestamp"};

const char *bw_repo__online_name(enum bw_repo_online role)
{
	return online_names[role];
}

json_t *bw_repo__signed_new(const char *type, int64_t version, int64_t expires)
{
	char exp[32];

	if (bw_repo__expires(expires, exp) != 0)
		return NULL;
	return json_pack("{s:s, s:s, s:s, s:I}", "_type", type, "expires", exp,
			 "spec_version", BW_REPO_SPEC_VERSION, "version",
			 (json_int_t)version);
}

int bw_repo__serialize(const json_t *v, uint8_t **out, size_t *len,
		       struct bw_err *err)
{
	return bw_json_serialize(v, out, len, err);
}

/* TUF 4.3: the CI root lists only the online targets key (threshold 1);
 * keys no role refers to any more are dropped. */
json_t *bw_repo__root_ci(const json_t *prod_signed, const char *online_kid)
{
	json_t *ci = json_deep_copy(prod_signed), *keys, *roles, *used;
	const char *role, *kid;
	json_t *r, *v, *tmp;
	size_t i;

	if (ci == NULL)
		return NULL;
	roles = json_object_get(ci, "roles");
	keys = json_object_get(ci, "keys");
	used = json_object();
	if (json_object_set_new(roles, "targets",
				json_pack("{s:[s], s:i}", "keyids", online_kid,
					  "threshold", 1)) != 0 ||
	    used == NULL)
		goto fail;
	json_object_foreach(roles, role, r)
	{
		json_array_foreach(json_object_get(r, "keyids"), i, v)
		    json_object_set(used, json_string_value(v), json_true());
	}
	json_object_foreach_safe(keys, tmp, kid, v)
	{
		if (json_object_get(used, kid) == NULL)
			json_object_del(keys, kid);
	}
	json_decref(used);
	return ci;
fail:
	json_decref(used);
	json_decref(ci);
	return NULL;
}

int bw_repo__online(struct bw_repo *r, enum bw_repo_online role,
		    struct bw_signer **out, struct bw_err *err)
{
	char *p = NULL;
	int rc = 0;

	if (r->online[role] == NULL) {
		p = bw_repo__path(r->dir, "online/%s.pem", online_names[role]);
		if (p == NULL)
			return bw_err_set(err, BW_ENOMEM, "out of memory");
		rc = bw_signer_keyfile_load(p, 0, &r->online[role], err);
		free(p);
	}
	*out = r->online[role];
	return rc;
}

int bw_repo__flavour_dir(int prod, const char *tag, char *out, size_t len)
{
	int n;

	if (!prod)
		n = snprintf(out, len, "ci");
	else if (!bw_repo__tag_ok(tag))
		return BW_EINVAL;
	else
		n = snprintf(out, len, "prod/tags/%s", tag);
	return n < 0 || (size_t)n >= len ? BW_ETOOBIG : 0;
}

/* Version of the existing role file in fdir (0 if none). */
static int cur_version(struct bw_repo *r, const char *fdir, const char *role,
		       int64_t *v, struct bw_err *err)
{
	char *p = bw_repo__path(r->dir, "%s/%s.json", fdir, role);
	uint8_t *b = NULL;
	size_t n = 0;
	struct bw_tuf_info info;
	int rc;

	*v = 0;
	if (p == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = bw_repo__read(p, BW_REPO_MAX_META, &b, &n, err);
	if (rc == BW_ENOTFOUND) {
		rc = 0;
	} else if (rc == 0) {
		rc = bw_tuf_metadata_info(b, n, &info, err);
		if (rc == 0)
			*v = info.version;
	}
	free(p);
	free(b);
	return rc;
}

/* Sign signed_obj with one online key and stage it as fdir/<role>.json. */
static int stage_online(struct bw_repo *r, struct bw_journal *t,
			const char *fdir, enum bw_repo_online role,
			json_t *signed_obj, uint8_t **bytes, size_t *len,
			struct bw_err *err)
{
	struct bw_signer *s = NULL;
	json_t *env = NULL;
	char rel[256];
	int rc;

	rc = bw_repo__online(r, role, &s, err);
	if (rc == 0)
		rc = bw_tuf_envelope_sign(signed_obj, &s, 1, &env, err);
	if (rc == 0)
		rc = bw_repo__serialize(env, bytes, len, err);
	snprintf(rel, sizeof(rel), "%s/%s.json", fdir, online_names[role]);
	if (rc == 0)
		rc = bw_journal_put(t, rel, *bytes, *len, 0644, err);
	json_decref(env);
	return rc;
}

static int stage_timestamp(struct bw_repo *r, struct bw_journal *t,
			   const char *fdir, int64_t snap_v,
			   const uint8_t *snap, size_t slen, struct bw_err *err)
{
	char hex[BW_HASH_MAX_HEX];
	json_t *sg = NULL;
	uint8_t *b = NULL;
	size_t n = 0;
	int64_t v = 0;
	int rc;

	rc = cur_version(r, fdir, "timestamp", &v, err);
	if (rc == 0)
		rc = bw_hash_buf_hex(BW_HASH_SHA256, snap, slen, hex);
	if (rc != 0)
		return rc;
	sg = bw_repo__signed_new("timestamp", v + 1,
				 bw_repo__now(r) + r->exp.timestamp);
	if (sg == NULL ||
	    json_object_set_new(
		sg, "meta",
		json_pack("{s:{s:I, s:I, s:{s:s}}}", "snapshot.json", "version",
			  (json_int_t)snap_v, "length", (json_int_t)slen,
			  "hashes", "sha256", hex)) != 0)
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	if (rc == 0)
		rc = stage_online(r, t, fdir, BW_ONLINE_TIMESTAMP, sg, &b, &n,
				  err);
	json_decref(sg);
	free(b);
	return rc;
}

int bw_repo__publish(struct bw_repo *r, struct bw_journal *t, int prod,
		     const char *tag, const uint8_t *targets, size_t tlen,
		     int64_t tversion, struct bw_err *err)
{
	char fdir[128], rel[160];
	struct bw_tuf_info info;
	json_t *sg = NULL;
	uint8_t *b = NULL;
	size_t n = 0;
	int64_t v = 0;
	int rc;

	rc = bw_repo__flavour_dir(prod, tag, fdir, sizeof(fdir));
	if (rc != 0)
		return bw_err_set(err, rc, "bad tag");
	info.version = tversion;
	/* A strict parse of a large targets.json costs; callers that built
	 * it know its version. */
	rc = tversion > 0 ? 0 : bw_tuf_metadata_info(targets, tlen, &info, err);
	if (rc == 0)
		rc = cur_version(r, fdir, "snapshot", &v, err);
	if (rc != 0)
		return rc;
	snprintf(rel, sizeof(rel), "%s/targets.json", fdir);
	rc = bw_journal_put(t, rel, targets, tlen, 0644, err);
	sg = bw_repo__signed_new("snapshot", v + 1,
				 bw_repo__now(r) + r->exp.snapshot);
	if (rc == 0 &&
	    (sg == NULL || json_object_set_new(
			       sg, "meta",
			       json_pack("{s:{s:I}}", "targets.json", "version",
					 (json_int_t)info.version)) != 0))
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	if (rc == 0)
		rc = stage_online(r, t, fdir, BW_ONLINE_SNAPSHOT, sg, &b, &n,
				  err);
	if (rc == 0)
		rc = stage_timestamp(r, t, fdir, v + 1, b, n, err);
	json_decref(sg);
	free(b);
	return rc;
}

int bw_repo__root_latest(struct bw_repo *r, int prod, json_t **env,
			 struct bw_err *err)
{
	char *p =
	    bw_repo__path(r->dir, "%s/root/%lld.root.json",
			  prod ? "prod" : "ci", (long long)r->root_version);
	int rc;

	*env = NULL;
	if (p == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = bw_repo__read_json(p, BW_REPO_MAX_SMALL, env, err);
	free(p);
	return rc;
}

static int role_has(const json_t *root_signed, const char *role,
		    const char *kid)
{
	json_t *ids = json_object_get(
	    json_object_get(json_object_get(root_signed, "roles"), role),
	    "keyids");
	size_t i;
	json_t *v;

	json_array_foreach(ids, i, v)
	{
		if (json_is_string(v) && strcmp(json_string_value(v), kid) == 0)
			return 1;
	}
	return 0;
}

int bw_repo__sign_as(const json_t *root_signed, const char *role, json_t *env,
		     const struct bw_repo_keys *keys, size_t *n,
		     struct bw_err *err)
{
	int rc;

	*n = 0;
	for (size_t i = 0; i < keys->n; i++) {
		if (!role_has(root_signed, role, keys->s[i]->key->keyid))
			continue;
		rc = bw_tuf_envelope_add_signature(env, keys->s[i], err);
		if (rc != 0)
			return rc;
		(*n)++;
	}
	return 0;
}

/* One signature by key kid of the role, checked against root's key. */
static int sig_valid(const json_t *root_signed, const char *kid,
		     const char *sig, const uint8_t *msg, size_t len)
{
	const json_t *kj =
	    json_object_get(json_object_get(root_signed, "keys"), kid);
	struct bw_key *k = NULL;
	int ok;

	if (kj == NULL || bw_key_from_json(kj, &k, NULL) != 0)
		return 0;
	ok = strcmp(k->keyid, kid) == 0 &&
	     bw_key_verify(k, msg, len, sig, strlen(sig), NULL) == 0;
	bw_key_free(k);
	return ok;
}

/*
 * TUF 5.4.2-style count over the canonical form of env's signed part:
 * distinct key ids of the role with a valid signature. Encodes the
 * (possibly very large) signed part once instead of re-parsing it.
 */
int bw_repo__count(const json_t *root_env, const char *role, const json_t *env,
		   size_t *have, int64_t *need, struct bw_err *err)
{
	const json_t *rs = json_object_get(root_env, "signed");
	const json_t *r = json_object_get(json_object_get(rs, "roles"), role);
	json_t *seen = json_object(), *v;
	uint8_t *msg = NULL;
	size_t len = 0, i;
	int rc;

	*have = 0;
	*need = json_integer_value(json_object_get(r, "threshold"));
	if (r == NULL || seen == NULL || *need < 1) {
		json_decref(seen);
		return bw_err_set(err, BW_EFORMAT, "root has no %s role", role);
	}
	rc = bw_json_canonical_alloc(json_object_get(env, "signed"), &msg, &len,
				     err);
	json_array_foreach(json_object_get(env, "signatures"), i, v)
	{
		const char *kid =
		    json_string_value(json_object_get(v, "keyid"));
		const char *sig = json_string_value(json_object_get(v, "sig"));

		if (rc != 0 || kid == NULL || sig == NULL ||
		    json_object_get(seen, kid) != NULL ||
		    !role_has(rs, role, kid) ||
		    !sig_valid(rs, kid, sig, msg, len))
			continue;
		json_object_set_new(seen, kid, json_true());
		(*have)++;
	}
	json_decref(seen);
	free(msg);
	return rc;
}
