/*
 * Rollout charters in the factory workspace: built from CI targets like
 * production targets, signed by the same keys up to the same threshold
 * (one admin can start, others finish: the production ceremony).
 *
 *   waves/<name>.pending.json   below the threshold
 *   waves/<name>.json           complete: what `bulwark waves push` uploads
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "bulwark/buf.h"
#include "bulwark/json.h"
#include "bulwark/tuf.h"
#include "bulwark/wave.h"
#include "repo/repo_priv.h"

/* Signatures of the charter env under the production root's targets. */
static int count(const json_t *root_env, const json_t *env, size_t *have,
		 int64_t *need, struct bw_err *err)
{
	uint8_t *rb = NULL;
	size_t rn = 0;
	int rc = bw_repo__serialize(root_env, &rb, &rn, err);

	if (rc == 0)
		rc = bw_tuf_count_envelope_signatures(rb, rn, "targets", env,
						      have, need, err);
	free(rb);
	return rc;
}

static json_t *steps_json(const struct bw_repo_wave_opts *o)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < o->nsteps; i++)
		if (json_array_append_new(
			a, json_pack("{s:I,s:I}", "admit_ppm",
				     (json_int_t)o->steps[i].admit_ppm,
				     "bake_seconds",
				     (json_int_t)o->steps[i].bake_seconds)) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static int signed_new(struct bw_repo *r, const struct bw_repo_wave_opts *o,
		      json_t **out, struct bw_err *err)
{
	uint8_t salt[BW_WAVE_SALT_LEN];
	char salt_hex[2 * BW_WAVE_SALT_LEN + 1], exp[32];
	json_t *ci = NULL, *hw = NULL, *sg = NULL;
	int rc;

	*out = NULL;
	if (o->salt != NULL)
		memcpy(salt, o->salt, sizeof(salt));
	else if (RAND_bytes(salt, sizeof(salt)) != 1)
		return bw_err_set(err, BW_ECRYPTO, "RAND_bytes failed");
	bw_hex_encode(salt, sizeof(salt), salt_hex);
	rc = bw_repo__expires(bw_repo__now(r) + o->lifetime, exp);
	if (rc != 0)
		return bw_err_set(err, BW_EINVAL, "bad wave lifetime");
	hw = json_array();
	for (size_t i = 0; hw != NULL && i < o->nhwids; i++)
		json_array_append_new(hw, json_string(o->hwids[i]));
	sg = json_pack("{s:s,s:s,s:I,s:s,s:s,s:s,s:o,s:s,s:o,s:o}", "_type",
		       "wave-charter", "spec_version", "1.0", "version",
		       (json_int_t)1, "name", o->name, "tag", o->tag, "expires",
		       exp, "hardware_ids", hw, "salt", salt_hex, "steps",
		       steps_json(o), "targets", json_object());
	hw = NULL; /* transferred (json_pack "o" steals even on failure) */
	if (sg == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = bw_repo_targets_load(r, 0, NULL, &ci, err);
	if (rc == 0)
		rc = bw_repo__take_version(ci, o->version, o->tag,
					   json_object_get(sg, "targets"), err);
	json_decref(ci);
	if (rc != 0) {
		json_decref(sg);
		return rc;
	}
	*out = sg; /* transferred */
	return 0;
}

/* Store env as pending or complete; check it parses as a charter first. */
static int store(struct bw_repo *r, const char *name, const json_t *root_env,
		 const json_t *env, int partial, size_t *have, int64_t *need,
		 struct bw_err *err)
{
	struct bw_wave_charter *c = NULL;
	struct bw_journal t;
	char rel[BW_WAVE_NAME_MAX + 32], prel[BW_WAVE_NAME_MAX + 32];
	uint8_t *b = NULL;
	size_t n = 0;
	int rc;

	bw_journal_init(&t, r->dir);
	snprintf(rel, sizeof(rel), "waves/%s.json", name);
	snprintf(prel, sizeof(prel), "waves/%s.pending.json", name);
	rc = count(root_env, env, have, need, err);
	if (rc == 0)
		rc = bw_repo__serialize(env, &b, &n, err);
	if (rc == 0)
		rc = bw_wave_charter_parse(b, n, &c, err);
	if (rc == 0 && (int64_t)*have < *need && !partial)
		rc = bw_err_set(err, BW_ESIG,
				"wave '%s' has %zu of %lld signatures (give "
				"more --keys, or --partial for another admin "
				"to finish with `bulwark waves sign`)",
				name, *have, (long long)*need);
	if (rc == 0 && (int64_t)*have < *need)
		rc = bw_journal_put(&t, prel, b, n, 0644, err);
	else if (rc == 0)
		rc = bw_journal_put(&t, rel, b, n, 0644, err);
	if (rc == 0 && (int64_t)*have >= *need && partial >= 0)
		rc = bw_journal_del(&t, prel, err);
	if (rc == 0)
		rc = bw_journal_commit(&t, err);
	bw_journal_dispose(&t);
	bw_wave_charter_free(c);
	free(b);
	return rc;
}

static int exists(struct bw_repo *r, const char *name, const char *suffix)
{
	char *p = bw_repo__path(r->dir, "waves/%s%s", name, suffix);
	uint8_t *b = NULL;
	size_t n = 0;
	int rc = p != NULL ? bw_repo__read(p, BW_WAVE_MAX_CHARTER, &b, &n, NULL)
			   : BW_ENOMEM;

	free(p);
	free(b);
	return rc == 0;
}

static int check_opts(const struct bw_repo_wave_opts *o, struct bw_err *err)
{
	if (!bw_wave_name_is_valid(o->name))
		return bw_err_set(err, BW_EINVAL, "bad wave name (1-%u of "
				  "A-Z a-z 0-9 . _ -)", BW_WAVE_NAME_MAX);
	if (!bw_repo__tag_ok(o->tag))
		return bw_err_set(err, BW_EINVAL, "bad tag");
	if (o->nhwids == 0 || o->nsteps == 0 || o->lifetime <= 0)
		return bw_err_set(err, BW_EINVAL, "a wave needs hardware ids, "
				  "steps and a lifetime");
	return 0;
}

int bw_repo_wave_init(struct bw_repo *r, const struct bw_repo_wave_opts *o,
		      const struct bw_repo_keys *keys, int partial,
		      size_t *have, int64_t *need, struct bw_err *err)
{
	json_t *root = NULL, *sg = NULL, *env = NULL;
	int rc = check_opts(o, err);

	*have = 0;
	*need = 0;
	if (rc == 0 && (exists(r, o->name, ".json") ||
			exists(r, o->name, ".pending.json")))
		rc = bw_err_set(err, BW_EEXIST, "wave '%s' exists", o->name);
	if (rc == 0)
		rc = bw_repo__root_latest(r, 1, &root, err);
	if (rc == 0)
		rc = signed_new(r, o, &sg, err);
	if (rc == 0)
		rc = bw_repo__sign_prod_new(r, root, sg, keys, &env, err);
	if (rc == 0)
		rc = store(r, o->name, root, env, partial ? 1 : 0, have, need,
			   err);
	json_decref(root);
	json_decref(sg);
	json_decref(env);
	return rc;
}

int bw_repo_wave_sign(struct bw_repo *r, const char *name,
		      const struct bw_repo_keys *keys, size_t *have,
		      int64_t *need, struct bw_err *err)
{
	json_t *root = NULL, *env = NULL;
	char *p = NULL;
	int rc = 0;

	*have = 0;
	*need = 0;
	if (!bw_wave_name_is_valid(name))
		return bw_err_set(err, BW_EINVAL, "bad wave name");
	p = bw_repo__path(r->dir, "waves/%s.pending.json", name);
	if (p == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = bw_repo__read_json(p, BW_WAVE_MAX_CHARTER, &env, err);
	if (rc == BW_ENOTFOUND)
		bw_err_set(err, rc, "nothing pending for wave '%s' (see "
			   "bulwark waves init --partial)", name);
	if (rc == 0)
		rc = bw_repo__root_latest(r, 1, &root, err);
	if (rc == 0)
		rc = bw_repo__sign_prod(root, env, keys, err);
	if (rc == 0)
		rc = store(r, name, root, env, 1, have, need, err);
	json_decref(root);
	json_decref(env);
	free(p);
	return rc;
}

int bw_repo_wave_read(struct bw_repo *r, const char *name, uint8_t **out,
		      size_t *len, struct bw_err *err)
{
	char *p;
	int rc;

	if (!bw_wave_name_is_valid(name))
		return bw_err_set(err, BW_EINVAL, "bad wave name");
	p = bw_repo__path(r->dir, "waves/%s.json", name);
	if (p == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = bw_repo__read(p, BW_WAVE_MAX_CHARTER, out, len, err);
	if (rc == BW_ENOTFOUND)
		bw_err_set(err, rc, "no signed charter for wave '%s'", name);
	free(p);
	return rc;
}
