/*
 * CI targets (online key) and production targets per tag (online key plus
 * offline targets keys up to the production threshold, TUF 4.5).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/buf.h"
#include "bulwark/hash.h"
#include "bulwark/json.h"
#include "bulwark/tuf.h"
#include "repo/repo_priv.h"

#define NAME_MAX_LEN 255

struct file_info {
	uint64_t length;
	char sha256[BW_HASH_MAX_HEX];
	char sha512[BW_HASH_MAX_HEX];
};

static int hash_fd(int fd, struct bw_hash *h256, struct bw_hash *h512,
		   uint64_t *len, struct bw_err *err)
{
	uint8_t buf[65536];

	*len = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return bw_err_set(err, BW_EIO, "read: %s",
					  strerror(errno));
		if (n == 0)
			return 0;
		if (bw_hash_update(h256, buf, (size_t)n) ||
		    bw_hash_update(h512, buf, (size_t)n))
			return bw_err_set(err, BW_ECRYPTO, "hash failed");
		*len += (uint64_t)n;
	}
}

static int file_hash(const char *path, struct file_info *fi, struct bw_err *err)
{
	struct bw_hash *h256 = NULL, *h512 = NULL;
	uint8_t d[BW_HASH_MAX_LEN];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return bw_err_set(err, BW_ENOTFOUND, "%s: %s", path,
				  strerror(errno));
	rc = bw_hash_new(BW_HASH_SHA256, &h256);
	if (rc == 0)
		rc = bw_hash_new(BW_HASH_SHA512, &h512);
	if (rc == 0)
		rc = hash_fd(fd, h256, h512, &fi->length, err);
	if (rc == 0 && bw_hash_final(h256, d) == 0)
		bw_hex_encode(d, 32, fi->sha256);
	if (rc == 0 && bw_hash_final(h512, d) == 0)
		bw_hex_encode(d, 64, fi->sha512);
	bw_hash_free(h256);
	bw_hash_free(h512);
	close(fd);
	return rc;
}

/* A workspace target name: the target path rule, and at most NAME_MAX_LEN
 * bytes. */
static int name_ok(const char *n)
{
	size_t len = n != NULL ? strlen(n) : 0;

	return len <= NAME_MAX_LEN && bw_tuf_target_path_is_safe(n, len);
}

static int custom_new(const struct bw_repo_target_opts *o, json_t **out,
		      struct bw_err *err)
{
	json_t *c = NULL, *hw = json_array(), *tags = json_array();
	int rc = 0;

	*out = NULL;
	if (o->custom_json != NULL) {
		rc = bw_json_parse(o->custom_json, strlen(o->custom_json), NULL,
				   &c, err);
		if (rc == 0 && !json_is_object(c))
			rc = bw_err_set(err, BW_EFORMAT,
					"--custom must be a JSON object");
	} else if ((c = json_object()) == NULL) {
		rc = BW_ENOMEM;
	}
	if (rc == 0 &&
	    (json_object_get(c, "version") ||
	     json_object_get(c, "hardwareIds") || json_object_get(c, "tags")))
		rc = bw_err_set(err, BW_EINVAL,
				"--custom may not set version, hardwareIds or "
				"tags (they have their own options)");
	for (size_t i = 0; rc == 0 && i < o->nhwids; i++)
		json_array_append_new(hw, json_string(o->hwids[i]));
	for (size_t i = 0; rc == 0 && i < o->ntags; i++)
		json_array_append_new(tags, json_string(o->tags[i]));
	if (rc == 0 &&
	    (json_object_set_new(c, "version", json_integer(o->version)) ||
	     json_object_set(c, "hardwareIds", hw) ||
	     json_object_set(c, "tags", tags)))
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	json_decref(hw);
	json_decref(tags);
	if (rc == 0)
		*out = c;
	else
		json_decref(c);
	return rc;
}

static int check_target_opts(const struct bw_repo_target_opts *o,
			     struct bw_err *err)
{
	if (!name_ok(o->name))
		return bw_err_set(err, BW_EINVAL,
				  "bad target name '%.80s' (relative path, no "
				  "'..' or control characters)",
				  o->name != NULL ? o->name : "");
	if (o->version <= 0)
		return bw_err_set(err, BW_EINVAL, "--version must be > 0");
	if (o->nhwids == 0)
		return bw_err_set(err, BW_EINVAL, "give --hardware-id");
	for (size_t i = 0; i < o->nhwids; i++)
		if (o->hwids[i][0] == '\0')
			return bw_err_set(err, BW_EINVAL, "empty hardware id");
	return 0;
}

/* Copy of the signed part with version+1, new expiry, no signatures. */
json_t *bw_repo__next_signed(const json_t *env, int64_t expires)
{
	json_t *sg = json_deep_copy(json_object_get(env, "signed"));
	char exp[32];
	json_int_t v;

	if (sg == NULL || bw_repo__expires(expires, exp) != 0) {
		json_decref(sg);
		return NULL;
	}
	v = json_integer_value(json_object_get(sg, "version"));
	json_object_set_new(sg, "version", json_integer(v + 1));
	json_object_set_new(sg, "expires", json_string(exp));
	return sg;
}

/* Sign sg with one online targets key and stage the publication. */
static int publish_signed(struct bw_repo *r, struct bw_journal *t, json_t *sg,
			  struct bw_err *err)
{
	struct bw_signer *s = NULL;
	json_t *env = NULL;
	uint8_t *b = NULL;
	size_t n = 0;
	int rc;

	rc = bw_repo__online(r, BW_ONLINE_TARGETS, &s, err);
	if (rc == 0)
		rc = bw_tuf_envelope_sign(sg, &s, 1, &env, err);
	if (rc == 0)
		rc = bw_repo__serialize(env, &b, &n, err);
	if (rc == 0)
		rc = bw_repo__publish(
		    r, t, 0, NULL, b, n,
		    json_integer_value(json_object_get(sg, "version")), err);
	json_decref(env);
	free(b);
	return rc;
}

int bw_repo_targets_add(struct bw_repo *r, const struct bw_repo_target_opts *o,
			struct bw_err *err)
{
	struct bw_journal t;
	struct file_info fi;
	json_t *env = NULL, *sg = NULL, *custom = NULL, *ent = NULL;
	char rel[BW_HASH_MAX_HEX + 16];
	struct stat st;
	char *p = NULL;
	int rc;

	bw_journal_init(&t, r->dir);
	rc = check_target_opts(o, err);
	if (rc == 0)
		rc = custom_new(o, &custom, err);
	if (rc == 0)
		rc = file_hash(o->file, &fi, err);
	if (rc == 0)
		rc = bw_repo_targets_load(r, 0, NULL, &env, err);
	if (rc != 0)
		goto out;
	sg = bw_repo__next_signed(env, bw_repo__now(r) + r->exp.targets_ci);
	if (sg == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	if (json_object_get(json_object_get(sg, "targets"), o->name)) {
		rc = bw_err_set(err, BW_EEXIST, "target '%.80s' exists",
				o->name);
		goto out;
	}
	ent = json_pack("{s:O, s:{s:s, s:s}, s:I}", "custom", custom, "hashes",
			"sha256", fi.sha256, "sha512", fi.sha512, "length",
			(json_int_t)fi.length);
	if (ent == NULL || json_object_set_new(json_object_get(sg, "targets"),
					       o->name, ent) != 0) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	snprintf(rel, sizeof(rel), "targets/%s", fi.sha256);
	p = bw_repo__path(r->dir, "%s", rel);
	if (p != NULL && stat(p, &st) != 0)
		rc = bw_journal_put_copy(&t, rel, o->file, 0644, err);
	if (rc == 0)
		rc = publish_signed(r, &t, sg, err);
	if (rc == 0)
		rc = bw_journal_commit(&t, err);
out:
	bw_journal_dispose(&t);
	json_decref(env);
	json_decref(sg);
	json_decref(custom);
	free(p);
	return rc;
}

/* Every keys entry must be a targets key of the production root. */
static int check_prod_keys(const json_t *root_env,
			   const struct bw_repo_keys *keys, struct bw_err *err)
{
	const json_t *rs = json_object_get(root_env, "signed");
	const json_t *ids = json_object_get(
	    json_object_get(json_object_get(rs, "roles"), "targets"), "keyids");

	for (size_t i = 0; i < keys->n; i++) {
		size_t j;
		json_t *v;
		int found = 0;

		json_array_foreach(ids, j, v) found |=
		    strcmp(json_string_value(v), keys->s[i]->key->keyid) == 0;
		if (!found)
			return bw_err_set(
			    err, BW_ESIG,
			    "key %.16s... (%.200s) is not a production "
			    "targets key of root v%lld",
			    keys->s[i]->key->keyid, keys->where[i],
			    (long long)json_integer_value(
				json_object_get(rs, "version")));
	}
	return 0;
}

int bw_repo__sign_prod(const json_t *root_env, json_t *env,
		     const struct bw_repo_keys *keys, struct bw_err *err)
{
	int rc = check_prod_keys(root_env, keys, err);

	for (size_t i = 0; rc == 0 && i < keys->n; i++)
		rc = bw_tuf_envelope_add_signature(env, keys->s[i], err);
	return rc;
}

/* The online targets key and keys, in one pass over the canonical form. */
int bw_repo__sign_prod_new(struct bw_repo *r, const json_t *root_env, json_t *sg,
			 const struct bw_repo_keys *keys, json_t **env,
			 struct bw_err *err)
{
	struct bw_signer **all = calloc(keys->n + 1, sizeof(*all));
	int rc = all != NULL ? 0 : bw_err_set(err, BW_ENOMEM, "no memory");

	if (rc == 0)
		rc = check_prod_keys(root_env, keys, err);
	if (rc == 0)
		rc = bw_repo__online(r, BW_ONLINE_TARGETS, &all[0], err);
	for (size_t i = 0; rc == 0 && i < keys->n; i++)
		all[i + 1] = keys->s[i];
	if (rc == 0)
		rc = bw_tuf_envelope_sign(sg, all, keys->n + 1, env, err);
	free(all);
	return rc;
}

/* Publish env for tag when it meets the threshold, else keep it pending. */
static int finish_prod(struct bw_repo *r, const char *tag,
		       const json_t *root_env, json_t *env, int partial,
		       size_t *have, int64_t *need, struct bw_err *err)
{
	struct bw_journal t;
	char rel[160];
	uint8_t *b = NULL;
	size_t n = 0;
	int rc;

	bw_journal_init(&t, r->dir);
	rc = bw_repo__count(root_env, "targets", env, have, need, err);
	snprintf(rel, sizeof(rel), "prod/tags/%s/pending-targets.json", tag);
	if (rc == 0 && (int64_t)*have < *need && !partial)
		rc = bw_err_set(err, BW_ESIG,
				"production targets for '%s' have %zu of %lld "
				"signatures (give more --keys, or --partial "
				"for another admin to finish with `bulwark "
				"targets sign`)",
				tag, *have, (long long)*need);
	if (rc == 0 && (int64_t)*have < *need)
		rc = bw_repo__txn_put_json(&t, rel, env, err);
	else if (rc == 0)
		rc = bw_repo__serialize(env, &b, &n, err);
	if (rc == 0 && (int64_t)*have >= *need) {
		rc = bw_repo__publish(
		    r, &t, 1, tag, b, n,
		    json_integer_value(json_object_get(
			json_object_get(env, "signed"), "version")),
		    err);
		if (rc == 0)
			rc = bw_journal_del(&t, rel, err);
	}
	if (rc == 0)
		rc = bw_journal_commit(&t, err);
	bw_journal_dispose(&t);
	free(b);
	return rc;
}

/* The CI entries of version v, tagged with tag, added to targets. */
int bw_repo__take_version(const json_t *ci, int64_t v, const char *tag,
			json_t *targets, struct bw_err *err)
{
	const char *name;
	json_t *e;
	size_t n = 0;

	json_object_foreach(
	    json_object_get(json_object_get(ci, "signed"), "targets"), name, e)
	{
		json_t *c, *tags, *x;
		size_t i;
		int has = 0;

		c = json_object_get(e, "custom");
		if (json_integer_value(json_object_get(c, "version")) != v)
			continue;
		e = json_deep_copy(e);
		tags = json_object_get(json_object_get(e, "custom"), "tags");
		json_array_foreach(tags, i, x) has |=
		    strcmp(json_string_value(x), tag) == 0;
		if (!has)
			json_array_append_new(tags, json_string(tag));
		json_object_set_new(targets, name, e);
		n++;
	}
	if (n == 0)
		return bw_err_set(err, BW_ENOTFOUND,
				  "no CI target has version %lld",
				  (long long)v);
	return 0;
}

/* The next production targets of tag (version 1 if there are none). */
static int prod_next(struct bw_repo *r, const char *tag, json_t **sg,
		     struct bw_err *err)
{
	int64_t exp = bw_repo__now(r) + r->exp.targets_prod;
	json_t *cur = NULL;
	int rc;

	*sg = NULL;
	rc = bw_repo_targets_load(r, 1, tag, &cur, err);
	if (rc == BW_ENOTFOUND) {
		*sg = bw_repo__signed_new("targets", 1, exp);
		if (*sg != NULL &&
		    json_object_set_new(*sg, "targets", json_object()) != 0) {
			json_decref(*sg);
			*sg = NULL;
		}
	} else if (rc == 0) {
		*sg = bw_repo__next_signed(cur, exp);
	}
	json_decref(cur);
	if (rc == BW_ENOTFOUND || rc == 0)
		rc = *sg != NULL ? 0 : bw_err_set(err, BW_ENOMEM, "no memory");
	return rc;
}

int bw_repo_targets_promote(struct bw_repo *r, int64_t version, const char *tag,
			    const struct bw_repo_keys *keys, int partial,
			    size_t *have, int64_t *need, struct bw_err *err)
{
	json_t *ci = NULL, *root = NULL, *sg = NULL, *env = NULL;
	size_t h = 0;
	int64_t nd = 0;
	int rc;

	if (!bw_repo__tag_ok(tag))
		return bw_err_set(err, BW_EINVAL, "bad tag '%.64s'",
				  tag != NULL ? tag : "");
	rc = bw_repo_targets_load(r, 0, NULL, &ci, err);
	if (rc == 0)
		rc = bw_repo__root_latest(r, 1, &root, err);
	if (rc == 0)
		rc = prod_next(r, tag, &sg, err);
	if (rc == 0)
		rc = bw_repo__take_version(ci, version, tag,
				  json_object_get(sg, "targets"), err);
	if (rc == 0)
		rc = bw_repo__sign_prod_new(r, root, sg, keys, &env, err);
	if (rc == 0)
		rc = finish_prod(r, tag, root, env, partial, &h, &nd, err);
	if (have != NULL)
		*have = h;
	if (need != NULL)
		*need = nd;
	json_decref(ci);
	json_decref(root);
	json_decref(sg);
	json_decref(env);
	return rc;
}

/* TUF 5.6.5 from the signing side: never publish a version that is not
 * above the published one (another promote may have happened since). */
static int pending_fresh(struct bw_repo *r, const char *tag, const json_t *env,
			 struct bw_err *err)
{
	json_t *cur = NULL;
	json_int_t pv = json_integer_value(
	    json_object_get(json_object_get(env, "signed"), "version"));
	json_int_t cv;
	int rc = bw_repo_targets_load(r, 1, tag, &cur, err);

	if (rc == BW_ENOTFOUND)
		return 0;
	cv = json_integer_value(
	    json_object_get(json_object_get(cur, "signed"), "version"));
	json_decref(cur);
	if (rc == 0 && pv <= cv)
		rc = bw_err_set(err, BW_EROLLBACK,
				"pending targets v%" JSON_INTEGER_FORMAT
				" of '%s' are not newer than the published "
				"v%" JSON_INTEGER_FORMAT ": promote again",
				pv, tag, cv);
	return rc;
}

int bw_repo_targets_sign(struct bw_repo *r, const char *tag,
			 const struct bw_repo_keys *keys, size_t *have,
			 int64_t *need, struct bw_err *err)
{
	json_t *root = NULL, *env = NULL;
	char *p = NULL;
	size_t h = 0;
	int64_t nd = 0;
	int rc;

	if (!bw_repo__tag_ok(tag))
		return bw_err_set(err, BW_EINVAL, "bad tag '%.64s'",
				  tag != NULL ? tag : "");
	p = bw_repo__path(r->dir, "prod/tags/%s/pending-targets.json", tag);
	if (p == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = bw_repo__read_json(p, BW_REPO_MAX_META, &env, err);
	if (rc == BW_ENOTFOUND)
		bw_err_set(err, rc,
			   "nothing pending for tag '%s' (see "
			   "bulwark targets promote --partial)",
			   tag);
	if (rc == 0)
		rc = pending_fresh(r, tag, env, err);
	if (rc == 0)
		rc = bw_repo__root_latest(r, 1, &root, err);
	if (rc == 0)
		rc = bw_repo__sign_prod(root, env, keys, err);
	if (rc == 0)
		rc = finish_prod(r, tag, root, env, 1, &h, &nd, err);
	if (have != NULL)
		*have = h;
	if (need != NULL)
		*need = nd;
	json_decref(root);
	json_decref(env);
	free(p);
	return rc;
}
