/*
 * Parsing of TUF metadata (TUF spec 1.0, section 4) into the model of
 * tuf_priv.h, and signature threshold checks. Everything here treats its
 * input as hostile: strict JSON, every field type- and range-checked.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "bulwark/json.h"
#include "tuf_priv.h"

static const char *const role_names[] = {"root", "timestamp", "snapshot",
					 "targets"};

const char *bw_tuf__role_name(enum bw_tuf_role_type t)
{
	return role_names[t];
}

/* ---- small typed getters --------------------------------------------- */

static int get_str(const json_t *o, const char *k, const char **out,
		   const char *what, struct bw_err *err)
{
	const json_t *v = json_object_get(o, k);

	if (!json_is_string(v))
		return bw_err_set(err, BW_EFORMAT, "%s: \"%s\" must be a string",
				  what, k);
	*out = json_string_value(v);
	return 0;
}

static int get_posint(const json_t *o, const char *k, int64_t min,
		      int64_t *out, const char *what, struct bw_err *err)
{
	const json_t *v = json_object_get(o, k);

	if (!json_is_integer(v) || json_integer_value(v) < min)
		return bw_err_set(err, BW_EFORMAT,
				  "%s: \"%s\" must be an integer >= %lld", what,
				  k, (long long)min);
	*out = json_integer_value(v);
	return 0;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* A JSON array of distinct strings into a malloc'd vector. */
static int get_strv(const json_t *arr, char ***out, size_t *n,
		    const char *what, struct bw_err *err)
{
	size_t cnt, i, j;
	char **v;

	*out = NULL;
	*n = 0;
	if (!json_is_array(arr))
		return bw_err_set(err, BW_EFORMAT, "%s must be an array", what);
	cnt = json_array_size(arr);
	v = calloc(cnt ? cnt : 1, sizeof(*v));
	if (v == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	for (i = 0; i < cnt; i++) {
		const json_t *s = json_array_get(arr, i);

		if (!json_is_string(s) ||
		    strlen(json_string_value(s)) != json_string_length(s)) {
			free_strv(v, i);
			return bw_err_set(err, BW_EFORMAT,
					  "%s: entries must be strings", what);
		}
		for (j = 0; j < i; j++) {
			if (strcmp(v[j], json_string_value(s)) == 0) {
				free_strv(v, i);
				return bw_err_set(err, BW_EFORMAT,
						  "%s: duplicate entry \"%.64s\"",
						  what, json_string_value(s));
			}
		}
		v[i] = strdup(json_string_value(s));
		if (v[i] == NULL) {
			free_strv(v, i);
			return bw_err_set(err, BW_ENOMEM, "out of memory");
		}
	}
	*out = v;
	*n = cnt;
	return 0;
}

void bw_tuf__role_keys_dispose(struct bw_tuf_role_keys *rk)
{
	free_strv(rk->keyids, rk->nkeyids);
	rk->keyids = NULL;
	rk->nkeyids = 0;
}

static int parse_role_keys(const json_t *o, struct bw_tuf_role_keys *rk,
			   const char *what, struct bw_err *err)
{
	int rc;

	if (!json_is_object(o))
		return bw_err_set(err, BW_EFORMAT, "%s must be an object", what);
	rc = get_posint(o, "threshold", 1, &rk->threshold, what, err);
	if (rc != 0)
		return rc;
	return get_strv(json_object_get(o, "keyids"), &rk->keyids,
			&rk->nkeyids, what, err);
}

/* ---- keys --------------------------------------------------------------- */

static void keyring_dispose(struct bw_tuf_keyring *kr)
{
	for (size_t i = 0; i < kr->nkeys; i++)
		bw_key_free(kr->keys[i]);
	free(kr->keys);
	free_strv(kr->keyids, kr->nkeys);
	memset(kr, 0, sizeof(*kr));
}

/*
 * KEYID -> KEY. A key whose id is not the hash of its canonical form is
 * rejected: otherwise one key could be listed under two ids and count
 * twice toward a threshold. A key type this build does not support is kept
 * as NULL: its signatures simply never count.
 */
static int parse_keyring(const json_t *o, struct bw_tuf_keyring *kr,
			 const char *what, struct bw_err *err)
{
	const char *keyid;
	json_t *kv;
	size_t n, i = 0;
	int rc;

	if (!json_is_object(o))
		return bw_err_set(err, BW_EFORMAT, "%s: keys must be an object",
				  what);
	n = json_object_size(o);
	kr->keyids = calloc(n ? n : 1, sizeof(char *));
	kr->keys = calloc(n ? n : 1, sizeof(struct bw_key *));
	if (kr->keyids == NULL || kr->keys == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	json_object_foreach((json_t *)o, keyid, kv) {
		struct bw_key *k = NULL;
		struct bw_err kerr;

		kr->keyids[i] = strdup(keyid);
		if (kr->keyids[i] == NULL)
			return bw_err_set(err, BW_ENOMEM, "out of memory");
		kr->nkeys = ++i;
		rc = bw_key_from_json(kv, &k, &kerr);
		if (rc == BW_EUNSUPPORTED)
			continue;
		if (rc != 0)
			return bw_err_set(err, BW_EFORMAT, "%s: key %.64s: %s",
					  what, keyid, kerr.msg);
		kr->keys[i - 1] = k;
		if (strcmp(k->keyid, keyid) != 0)
			return bw_err_set(err, BW_EFORMAT,
					  "%s: key id %.64s is not the hash of "
					  "its key (%s)", what, keyid, k->keyid);
	}
	return 0;
}

static const struct bw_key *keyring_find(const struct bw_tuf_keyring *kr,
					 const char *keyid)
{
	for (size_t i = 0; i < kr->nkeys; i++)
		if (strcmp(kr->keyids[i], keyid) == 0)
			return kr->keys[i];
	return NULL;
}

/* ---- hashes and METAFILES --------------------------------------------- */

static void hashes_free(struct bw_tuf_hash *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(h[i].name);
	free(h);
}

/*
 * HASHES: a non-empty object of algorithm -> hex digest. Algorithms this
 * build does not know are kept with len 0 so that verification, which must
 * check every listed hash, fails on them instead of skipping them.
 */
static int parse_hashes(const json_t *o, struct bw_tuf_hash **out, size_t *n,
			const char *what, struct bw_err *err)
{
	const char *alg;
	json_t *v;
	struct bw_tuf_hash *h;
	size_t i = 0;

	if (!json_is_object(o) || json_object_size(o) == 0)
		return bw_err_set(err, BW_EFORMAT,
				  "%s: hashes must be a non-empty object", what);
	h = calloc(json_object_size(o), sizeof(*h));
	if (h == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	json_object_foreach((json_t *)o, alg, v) {
		enum bw_hash_alg a;
		const char *hex = json_string_value(v);

		if (hex == NULL) {
			hashes_free(h, i);
			return bw_err_set(err, BW_EFORMAT,
					  "%s: hash %.32s must be a string",
					  what, alg);
		}
		h[i].name = strdup(alg);
		if (h[i].name == NULL) {
			hashes_free(h, i);
			return bw_err_set(err, BW_ENOMEM, "out of memory");
		}
		i++;
		if (bw_hash_alg_from_name(alg, &a) != 0)
			continue;
		h[i - 1].len = bw_hash_alg_len(a);
		if (bw_hex_decode(hex, json_string_length(v), h[i - 1].digest,
				  h[i - 1].len) != 0) {
			hashes_free(h, i);
			return bw_err_set(err, BW_EFORMAT,
					  "%s: %s digest is not %zu hex bytes",
					  what, alg, bw_hash_alg_len(a));
		}
	}
	*out = h;
	*n = i;
	return 0;
}

static int parse_metafile(const char *name, const json_t *o,
			  struct bw_tuf_metafile *m, struct bw_err *err)
{
	const json_t *len, *hashes;
	int rc;

	m->length = -1;
	m->name = strdup(name);
	if (m->name == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	if (!json_is_object(o))
		return bw_err_set(err, BW_EFORMAT, "meta %.64s must be an object",
				  name);
	rc = get_posint(o, "version", 1, &m->version, name, err);
	if (rc != 0)
		return rc;
	len = json_object_get(o, "length");
	if (len != NULL) {
		if (!json_is_integer(len) || json_integer_value(len) < 0)
			return bw_err_set(err, BW_EFORMAT,
					  "meta %.64s: bad length", name);
		m->length = json_integer_value(len);
	}
	hashes = json_object_get(o, "hashes");
	if (hashes != NULL)
		return parse_hashes(hashes, &m->hashes, &m->nhashes, name, err);
	return 0;
}

static int parse_meta(const json_t *o, struct bw_tuf_md *md,
		      struct bw_err *err)
{
	const char *name = NULL;
	json_t *v;
	int rc;

	if (!json_is_object(o))
		return bw_err_set(err, BW_EFORMAT, "meta must be an object");
	md->meta = calloc(json_object_size(o) + 1, sizeof(*md->meta));
	if (md->meta == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	json_object_foreach((json_t *)o, name, v) {
		rc = parse_metafile(name, v, &md->meta[md->nmeta++], err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

const struct bw_tuf_metafile *bw_tuf__md_meta(const struct bw_tuf_md *md,
					      const char *name)
{
	for (size_t i = 0; i < md->nmeta; i++)
		if (strcmp(md->meta[i].name, name) == 0)
			return &md->meta[i];
	return NULL;
}

int bw_tuf__check_length_hashes(const uint8_t *data, size_t len,
				int64_t length, const struct bw_tuf_hash *h,
				size_t nh, const char *what,
				struct bw_err *err)
{
	uint8_t d[BW_HASH_MAX_LEN];

	if (length >= 0 && (uint64_t)length != len)
		return bw_err_set(err, BW_EHASH,
				  "%s: length %zu, expected %lld", what, len,
				  (long long)length);
	for (size_t i = 0; i < nh; i++) {
		enum bw_hash_alg a;

		if (bw_hash_alg_from_name(h[i].name, &a) != 0)
			return bw_err_set(err, BW_EHASH,
					  "%s: unsupported hash algorithm %.32s",
					  what, h[i].name);
		if (bw_hash_buf(a, data, len, d) != 0 ||
		    CRYPTO_memcmp(d, h[i].digest, h[i].len) != 0)
			return bw_err_set(err, BW_EHASH, "%s: %s mismatch", what,
					  h[i].name);
	}
	return 0;
}

/* ---- targets and delegations ---------------------------------------- */

void bw_tuf__target_free(struct bw_tuf_target *t)
{
	if (t == NULL)
		return;
	free(t->path);
	hashes_free(t->hashes, t->nhashes);
	free(t);
}

int bw_tuf__target_parse(const char *path, const json_t *obj,
			 struct bw_tuf_target **out, struct bw_err *err)
{
	struct bw_tuf_target *t;
	const json_t *custom;
	int64_t length = 0;
	int rc;

	*out = NULL;
	if (!json_is_object(obj))
		return bw_err_set(err, BW_EFORMAT,
				  "target %.128s must be an object", path);
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = get_posint(obj, "length", 0, &length, path, err);
	if (rc == 0)
		rc = parse_hashes(json_object_get(obj, "hashes"), &t->hashes,
				  &t->nhashes, path, err);
	custom = json_object_get(obj, "custom");
	if (rc == 0 && custom != NULL && !json_is_object(custom))
		rc = bw_err_set(err, BW_EFORMAT,
				"target %.128s: custom must be an object", path);
	if (rc == 0 && (t->path = strdup(path)) == NULL)
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	if (rc != 0) {
		bw_tuf__target_free(t);
		return rc;
	}
	t->length = (uint64_t)length;
	t->custom = (json_t *)custom;
	*out = t;
	return 0;
}

static void deleg_free(struct bw_tuf_delegations *d)
{
	if (d == NULL)
		return;
	keyring_dispose(&d->keyring);
	for (size_t i = 0; i < d->nroles; i++) {
		struct bw_tuf_delegated_role *r = &d->roles[i];

		free(r->name);
		bw_tuf__role_keys_dispose(&r->keys);
		free_strv(r->paths, r->npaths);
		free_strv(r->prefixes, r->nprefixes);
	}
	free(d->roles);
	if (d->succinct != NULL) {
		bw_tuf__role_keys_dispose(&d->succinct->keys);
		free(d->succinct->name_prefix);
		free(d->succinct);
	}
	free(d);
}

static int is_top_level_name(const char *name)
{
	for (size_t i = 0; i < 4; i++)
		if (strcmp(name, role_names[i]) == 0)
			return 1;
	return 0;
}

static int parse_deleg_role(const json_t *o, struct bw_tuf_delegated_role *r,
			    struct bw_err *err)
{
	const json_t *term, *paths, *prefixes;
	const char *name = NULL;
	int rc;

	if (!json_is_object(o))
		return bw_err_set(err, BW_EFORMAT,
				  "delegated role must be an object");
	rc = get_str(o, "name", &name, "delegated role", err);
	if (rc != 0)
		return rc;
	if (*name == '\0' || is_top_level_name(name))
		return bw_err_set(err, BW_EFORMAT,
				  "delegated role name \"%.64s\" not allowed",
				  name);
	r->name = strdup(name);
	if (r->name == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = parse_role_keys(o, &r->keys, name, err);
	if (rc != 0)
		return rc;
	term = json_object_get(o, "terminating");
	if (!json_is_boolean(term))
		return bw_err_set(err, BW_EFORMAT,
				  "%.64s: terminating must be a boolean", name);
	r->terminating = json_is_true(term);
	paths = json_object_get(o, "paths");
	prefixes = json_object_get(o, "path_hash_prefixes");
	/* TUF 4.5: exactly one of paths and path_hash_prefixes. */
	if ((paths == NULL) == (prefixes == NULL))
		return bw_err_set(err, BW_EFORMAT,
				  "%.64s: exactly one of paths and "
				  "path_hash_prefixes", name);
	r->has_paths = paths != NULL;
	r->has_prefixes = prefixes != NULL;
	if (paths != NULL)
		return get_strv(paths, &r->paths, &r->npaths, name, err);
	return get_strv(prefixes, &r->prefixes, &r->nprefixes, name, err);
}

static int parse_succinct(const json_t *o, struct bw_tuf_delegations *d,
			  struct bw_err *err)
{
	const char *prefix = NULL;
	int rc;

	d->succinct = calloc(1, sizeof(*d->succinct));
	if (d->succinct == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	if (!json_is_object(o))
		return bw_err_set(err, BW_EFORMAT,
				  "succinct_roles must be an object");
	rc = parse_role_keys(o, &d->succinct->keys, "succinct_roles", err);
	if (rc == 0)
		rc = get_posint(o, "bit_length", 1, &d->succinct->bit_length,
				"succinct_roles", err);
	if (rc == 0 && d->succinct->bit_length > 32)
		rc = bw_err_set(err, BW_EFORMAT,
				"succinct_roles: bit_length above 32");
	if (rc == 0)
		rc = get_str(o, "name_prefix", &prefix, "succinct_roles", err);
	if (rc == 0 && (d->succinct->name_prefix = strdup(prefix)) == NULL)
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	return rc;
}

static int parse_delegations(const json_t *o, struct bw_tuf_delegations **out,
			     struct bw_err *err)
{
	struct bw_tuf_delegations *d;
	const json_t *roles, *succ;
	int rc;

	if (!json_is_object(o))
		return bw_err_set(err, BW_EFORMAT, "delegations must be an object");
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	*out = d; /* freed by the caller's md on error */
	rc = parse_keyring(json_object_get(o, "keys"), &d->keyring,
			   "delegations", err);
	if (rc != 0)
		return rc;
	roles = json_object_get(o, "roles");
	succ = json_object_get(o, "succinct_roles");
	/* TAP 15: roles and succinct_roles are mutually exclusive. */
	if ((roles == NULL) == (succ == NULL))
		return bw_err_set(err, BW_EFORMAT,
				  "delegations: exactly one of roles and "
				  "succinct_roles");
	if (succ != NULL)
		return parse_succinct(succ, d, err);
	if (!json_is_array(roles))
		return bw_err_set(err, BW_EFORMAT, "roles must be an array");
	d->roles = calloc(json_array_size(roles) + 1, sizeof(*d->roles));
	if (d->roles == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	for (size_t i = 0; i < json_array_size(roles); i++) {
		rc = parse_deleg_role(json_array_get(roles, i), &d->roles[i],
				      err);
		d->nroles = i + 1;
		if (rc != 0)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (strcmp(d->roles[j].name, d->roles[i].name) == 0)
				return bw_err_set(err, BW_EFORMAT,
						  "duplicate delegated role "
						  "%.64s", d->roles[i].name);
	}
	return 0;
}

/*
 * TARGETS: the entries were validated while the role was streamed
 * (targets.c), which leaves "targets" empty in the tree; here only
 * delegations.
 */
static int parse_targets(struct bw_tuf_md *md, struct bw_err *err)
{
	const json_t *deleg;

	if (!json_is_object(json_object_get(md->signed_obj, "targets")))
		return bw_err_set(err, BW_EFORMAT, "targets must be an object");
	deleg = json_object_get(md->signed_obj, "delegations");
	if (deleg != NULL)
		return parse_delegations(deleg, &md->deleg, err);
	return 0;
}

static int parse_root(struct bw_tuf_md *md, struct bw_err *err)
{
	const json_t *cs, *roles;
	int rc;

	cs = json_object_get(md->signed_obj, "consistent_snapshot");
	if (cs != NULL && !json_is_boolean(cs))
		return bw_err_set(err, BW_EFORMAT,
				  "consistent_snapshot must be a boolean");
	md->consistent_snapshot = json_is_true(cs);
	rc = parse_keyring(json_object_get(md->signed_obj, "keys"),
			   &md->keyring, "root", err);
	if (rc != 0)
		return rc;
	roles = json_object_get(md->signed_obj, "roles");
	/* TUF 4.3: roles lists exactly the four top-level roles. */
	if (!json_is_object(roles) || json_object_size(roles) != 4)
		return bw_err_set(err, BW_EFORMAT,
				  "root: roles must list exactly root, "
				  "timestamp, snapshot and targets");
	for (int i = 0; i < 4; i++) {
		rc = parse_role_keys(json_object_get(roles, role_names[i]),
				     &md->roles[i], role_names[i], err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* "1", "1.0" or "1.0.31": only major version 1 is understood. */
static int check_spec_version(const char *v, struct bw_err *err)
{
	int parts = 0;
	const char *p = v;

	while (*p) {
		const char *s = p;

		while (*p >= '0' && *p <= '9')
			p++;
		if (p == s || p - s > 9)
			break;
		parts++;
		if (*p == '.')
			p++;
		else
			break;
	}
	if (*p != '\0' || parts < 2 || parts > 3 || v[0] != '1' ||
	    (v[1] != '.'))
		return bw_err_set(err, BW_EUNSUPPORTED,
				  "unsupported spec_version \"%.32s\"", v);
	return 0;
}

static int cmp_str_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * TUF 4.2: a keyid MUST be unique in "signatures". Metadata listing one
 * twice is refused as a whole, even when the threshold would be met
 * without the duplicate. Sorted, so a hostile file with many entries costs
 * n log n, not n squared.
 */
static int check_unique_keyids(const json_t *sigs, const char *what,
			       struct bw_err *err)
{
	size_t n = json_array_size(sigs), k = 0;
	const char **ids;
	int rc = 0;

	if (n < 2)
		return 0;
	ids = calloc(n, sizeof(*ids));
	if (ids == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const char *kid = json_string_value(
			json_object_get(json_array_get(sigs, i), "keyid"));

		if (kid != NULL)
			ids[k++] = kid;
	}
	qsort(ids, k, sizeof(*ids), cmp_str_ptr);
	for (size_t i = 1; i < k && rc == 0; i++)
		if (strcmp(ids[i - 1], ids[i]) == 0)
			rc = bw_err_set(err, BW_EFORMAT,
					"%s: key id %.64s appears twice in "
					"signatures", what, ids[i]);
	free((void *)ids);
	return rc;
}

static int parse_common(struct bw_tuf_md *md, struct bw_err *err)
{
	const char *what = bw_tuf__role_name(md->type);
	const char *type = NULL, *spec = NULL, *expires = NULL;
	int rc;

	if (!json_is_object(md->doc))
		return bw_err_set(err, BW_EFORMAT, "%s: not a JSON object", what);
	md->signed_obj = json_object_get(md->doc, "signed");
	md->signatures = json_object_get(md->doc, "signatures");
	if (!json_is_object(md->signed_obj) || !json_is_array(md->signatures))
		return bw_err_set(err, BW_EFORMAT,
				  "%s: needs \"signed\" and \"signatures\"",
				  what);
	rc = check_unique_keyids(md->signatures, what, err);
	if (rc != 0)
		return rc;
	rc = get_str(md->signed_obj, "_type", &type, what, err);
	if (rc != 0)
		return rc;
	if (strcmp(type, what) != 0)
		return bw_err_set(err, BW_EFORMAT,
				  "expected _type \"%s\", got \"%.32s\"", what,
				  type);
	rc = get_str(md->signed_obj, "spec_version", &spec, what, err);
	if (rc == 0)
		rc = check_spec_version(spec, err);
	if (rc == 0)
		rc = get_posint(md->signed_obj, "version", 1, &md->version,
				what, err);
	if (rc == 0)
		rc = get_str(md->signed_obj, "expires", &expires, what, err);
	if (rc == 0 && bw_tuf_time_parse(expires, &md->expires) != 0)
		rc = bw_err_set(err, BW_EFORMAT, "%s: bad expires \"%.32s\"",
				what, expires);
	return rc;
}

/*
 * Find the exact text of the "signed" value inside raw when the envelope is
 * {"signatures":C,"signed":S} with C the canonical form of the parsed
 * signatures (what bulwark and other canonical writers serve). The strict
 * parser read raw as an object of exactly these two members, C is a
 * complete JSON value, so S is precisely the text the parser turned into
 * "signed". A signature that verifies over S was made over those bytes,
 * which mean exactly the tree we use: verify_sigs may then skip
 * re-encoding a large "signed" object. Any other layout (indented, keys in
 * another order, escaped PEM newlines) falls back to the canonical form.
 */
static void locate_signed(struct bw_tuf_md *md)
{
	static const char head[] = "{\"signatures\":", mid[] = ",\"signed\":";
	uint8_t *c = NULL;
	size_t clen = 0, pre, end = md->raw_len;

	if (json_object_size(md->doc) != 2 ||
	    bw_json_canonical_alloc(md->signatures, &c, &clen, NULL) != 0)
		return;
	while (end > 0 && (md->raw[end - 1] == '\n' || md->raw[end - 1] == ' '))
		end--;
	pre = strlen(head) + clen + strlen(mid);
	if (end > pre + 1 && md->raw[end - 1] == '}' &&
	    memcmp(md->raw, head, strlen(head)) == 0 &&
	    memcmp(md->raw + strlen(head), c, clen) == 0 &&
	    memcmp(md->raw + strlen(head) + clen, mid, strlen(mid)) == 0) {
		md->signed_raw = md->raw + pre;
		md->signed_raw_len = end - 1 - pre;
	}
	free(c);
}

int bw_tuf__md_parse(const uint8_t *data, size_t len,
		     enum bw_tuf_role_type type, struct bw_tuf_md **out,
		     struct bw_err *err)
{
	struct bw_buf b;
	int rc;

	*out = NULL;
	bw_buf_init(&b, len);
	rc = bw_buf_append(&b, data, len);
	if (rc != 0)
		return bw_err_set(err, rc, "out of memory");
	return bw_tuf__md_parse_buf(&b, type, out, err);
}

int bw_tuf__md_parse_buf(struct bw_buf *b, enum bw_tuf_role_type type,
			 struct bw_tuf_md **out, struct bw_err *err)
{
	struct bw_json_limits lim = {.max_bytes = b->len + 1};
	struct bw_tuf_md *md;
	int rc;

	*out = NULL;
	if (type == BW_TUF_TARGETS)
		return bw_tuf__targets_from_buf(b, out, err);
	md = calloc(1, sizeof(*md));
	if (md == NULL || bw_buf_steal(b, &md->raw, &md->raw_len) != 0) {
		free(md);
		bw_buf_dispose(b);
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	}
	md->type = type;
	rc = bw_json_parse(md->raw, md->raw_len, &lim, &md->doc, err);
	if (rc == 0)
		rc = bw_tuf__md_parse_tree(md, err);
	if (rc == 0)
		locate_signed(md);
	if (rc != 0) {
		bw_tuf__md_free(md);
		return rc;
	}
	*out = md;
	return 0;
}

int bw_tuf__md_parse_tree(struct bw_tuf_md *md, struct bw_err *err)
{
	int rc = parse_common(md, err);

	if (rc != 0)
		return rc;
	switch (md->type) {
	case BW_TUF_ROOT:
		return parse_root(md, err);
	case BW_TUF_TIMESTAMP:
		rc = parse_meta(json_object_get(md->signed_obj, "meta"), md, err);
		/* TUF 4.6: timestamp lists snapshot.json. */
		if (rc == 0 && bw_tuf__md_meta(md, "snapshot.json") == NULL)
			rc = bw_err_set(err, BW_EFORMAT,
					"timestamp does not list snapshot.json");
		return rc;
	case BW_TUF_SNAPSHOT:
		return parse_meta(json_object_get(md->signed_obj, "meta"), md,
				  err);
	case BW_TUF_TARGETS:
		return parse_targets(md, err);
	}
	return BW_EINVAL;
}

void bw_tuf__md_free(struct bw_tuf_md *md)
{
	if (md == NULL)
		return;
	json_decref(md->doc);
	free(md->canon);
	free(md->raw);
	free(md->canon_env);
	free(md->tidx);
	free(md->tnames);
	free(md->tsel);
	if (md->tmp_path != NULL)
		unlink(md->tmp_path);
	free(md->tmp_path);
	keyring_dispose(&md->keyring);
	for (int i = 0; i < 4; i++)
		bw_tuf__role_keys_dispose(&md->roles[i]);
	for (size_t i = 0; i < md->nmeta; i++) {
		free(md->meta[i].name);
		hashes_free(md->meta[i].hashes, md->meta[i].nhashes);
	}
	free(md->meta);
	deleg_free(md->deleg);
	free(md);
}

/* ---- signatures -------------------------------------------------------- */

static int role_has_keyid(const struct bw_tuf_role_keys *rk, const char *id)
{
	for (size_t i = 0; i < rk->nkeyids; i++)
		if (strcmp(rk->keyids[i], id) == 0)
			return 1;
	return 0;
}

/* Over the served text of "signed" when it is canonical, else over the
 * canonical form (see locate_signed). */
static int sig_valid(struct bw_tuf_md *md, const struct bw_key *key,
		     const json_t *sig)
{
	const char *hex = json_string_value(sig);
	size_t hexlen = json_string_length(sig);

	if (md->signed_raw != NULL &&
	    bw_key_verify(key, md->signed_raw, md->signed_raw_len, hex, hexlen,
			  NULL) == 0)
		return 1;
	if (md->signed_is_canonical)
		return 0; /* signed_raw was the canonical form */
	if (md->canon == NULL &&
	    bw_json_canonical_alloc(md->signed_obj, &md->canon, &md->canon_len,
				    NULL) != 0)
		return 0;
	if (md->signed_raw != NULL && md->canon_len == md->signed_raw_len &&
	    memcmp(md->canon, md->signed_raw, md->canon_len) == 0)
		return 0; /* same bytes: already refused above */
	return bw_key_verify(key, md->canon, md->canon_len, hex, hexlen,
			     NULL) == 0;
}

/*
 * TUF 5.3.4 / 5.4.2 / 5.5.3 / 5.6.3: the threshold counts distinct keys of
 * the role. A signature by an unknown key, by a key of another role, or
 * one that does not verify simply does not count; the same key id or the
 * same key material counts at most once.
 */
int bw_tuf__verify_sigs(struct bw_tuf_md *md,
			const struct bw_tuf_keyring *keyring,
			const struct bw_tuf_role_keys *rk, const char *what,
			struct bw_err *err)
{
	const struct bw_key **counted = NULL;
	size_t nsigs, valid = 0;
	int rc = BW_ESIG;

	nsigs = json_array_size(md->signatures);
	counted = calloc(nsigs + 1, sizeof(*counted));
	if (counted == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	for (size_t i = 0; i < nsigs && (int64_t)valid < rk->threshold; i++) {
		const json_t *s = json_array_get(md->signatures, i);
		const char *keyid = json_string_value(json_object_get(s, "keyid"));
		const json_t *sig = json_object_get(s, "sig");
		const struct bw_key *key;
		int dup = 0;

		if (keyid == NULL || !json_is_string(sig) ||
		    !role_has_keyid(rk, keyid))
			continue;
		key = keyring_find(keyring, keyid);
		if (key == NULL)
			continue;
		for (size_t j = 0; j < valid; j++)
			if (counted[j] == key ||
			    bw_key_same_material(counted[j], key))
				dup = 1;
		if (dup)
			continue;
		if (sig_valid(md, key, sig))
			counted[valid++] = key;
	}
	if ((int64_t)valid >= rk->threshold)
		rc = 0;
	else
		bw_err_set(err, BW_ESIG, "%s was signed by %zu/%lld keys", what,
			   valid, (long long)rk->threshold);
	free(counted);
	return rc;
}
