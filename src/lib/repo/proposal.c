/*
 * The key ceremony's proposal file: plain JSON, no secrets, strictly
 * parsed (it passes from admin to admin and is fuzzed). It carries
 *   {"bulwark_proposal":1, "factory":NAME, "from_version":N,
 *    "changes":[...], "offline_keys":{keyid:{"role","location"}},
 *    "online_keys":{"targets":id,"snapshot":id,"timestamp":id},
 *    "root":{"ci":ENVELOPE,"prod":ENVELOPE}, "prod_targets":{tag:ENVELOPE}}
 * Nothing in it is trusted: apply re-verifies every signature (TUF 5.3.4).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/buf.h"
#include "bulwark/json.h"
#include "bulwark/tuf.h"
#include "repo/proposal_priv.h"

#define MAX_CHANGES 256
#define MAX_CHANGE_LEN 512
#define MAX_LOCATION 2048
#define MAX_OFFLINE_KEYS 64
#define MAX_STAGED_TAGS 256

static int only_keys(const json_t *o, const char *const *names, size_t n)
{
	const char *k;
	json_t *v;

	if (!json_is_object(o) || json_object_size(o) != n)
		return 0;
	json_object_foreach((json_t *)o, k, v)
	{
		size_t i;

		for (i = 0; i < n && strcmp(names[i], k) != 0; i++)
			;
		if (i == n)
			return 0;
	}
	return 1;
}

static int is_keyid(const char *s)
{
	if (s == NULL || strlen(s) != BW_KEYID_HEX_LEN)
		return 0;
	for (size_t i = 0; i < BW_KEYID_HEX_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* An envelope of the given type (and version, when version > 0). */
static int check_env(const json_t *env, const char *type, int64_t version,
		     struct bw_err *err)
{
	static const char *const f[] = {"signatures", "signed"};
	struct bw_tuf_info info;
	uint8_t *b = NULL;
	size_t n = 0;
	int rc;

	if (!only_keys(env, f, 2))
		return bw_err_set(err, BW_EFORMAT, "proposal: bad %s envelope",
				  type);
	rc = bw_json_serialize(env, &b, &n, err);
	if (rc == 0)
		rc = bw_tuf_metadata_info(b, n, &info, err);
	free(b);
	if (rc != 0)
		return bw_err_set(err, BW_EFORMAT, "proposal: bad %s metadata",
				  type);
	if (strcmp(info.type, type) != 0 ||
	    (version > 0 && info.version != version))
		return bw_err_set(err, BW_EFORMAT,
				  "proposal: %s is not version %lld of %s",
				  info.type, (long long)version, type);
	return 0;
}

static int check_offline(const json_t *o, struct bw_err *err)
{
	static const char *const f[] = {"role", "location"};
	const char *kid;
	json_t *v;

	if (!json_is_object(o) || json_object_size(o) > MAX_OFFLINE_KEYS)
		return bw_err_set(err, BW_EFORMAT,
				  "proposal: bad offline_keys");
	json_object_foreach((json_t *)o, kid, v)
	{
		const char *role =
		    json_string_value(json_object_get(v, "role"));
		const char *loc =
		    json_string_value(json_object_get(v, "location"));

		if (!is_keyid(kid) || !only_keys(v, f, 2) || role == NULL ||
		    (strcmp(role, "root") && strcmp(role, "targets")) ||
		    loc == NULL || strlen(loc) > MAX_LOCATION)
			return bw_err_set(err, BW_EFORMAT,
					  "proposal: bad offline key entry");
	}
	return 0;
}

static int check_simple(const json_t *d, struct bw_err *err)
{
	static const char *const on[] = {"targets", "snapshot", "timestamp"};
	const json_t *ch = json_object_get(d, "changes");
	const json_t *ok = json_object_get(d, "online_keys");
	const json_t *fv = json_object_get(d, "from_version");
	const char *fac = json_string_value(json_object_get(d, "factory"));
	size_t i;
	json_t *v;

	if (json_integer_value(json_object_get(d, "bulwark_proposal")) != 1 ||
	    !json_is_integer(json_object_get(d, "bulwark_proposal")))
		return bw_err_set(err, BW_EUNSUPPORTED,
				  "not a bulwark proposal (version 1)");
	if (fac == NULL || strlen(fac) == 0 || strlen(fac) > 64 ||
	    !json_is_integer(fv) || json_integer_value(fv) < 1 ||
	    json_integer_value(fv) >= INT32_MAX)
		return bw_err_set(err, BW_EFORMAT, "proposal: bad header");
	if (!json_is_array(ch) || json_array_size(ch) > MAX_CHANGES)
		return bw_err_set(err, BW_EFORMAT, "proposal: bad changes");
	json_array_foreach(ch, i, v)
	{
		if (!json_is_string(v) ||
		    json_string_length(v) > MAX_CHANGE_LEN)
			return bw_err_set(err, BW_EFORMAT,
					  "proposal: bad change entry");
	}
	if (!only_keys(ok, on, 3))
		return bw_err_set(err, BW_EFORMAT, "proposal: bad online_keys");
	for (i = 0; i < 3; i++)
		if (!is_keyid(json_string_value(json_object_get(ok, on[i]))))
			return bw_err_set(err, BW_EFORMAT,
					  "proposal: bad online key id");
	return check_offline(json_object_get(d, "offline_keys"), err);
}

static int check_doc(const json_t *d, struct bw_err *err)
{
	static const char *const top[] = {
	    "bulwark_proposal", "factory",     "from_version", "changes",
	    "offline_keys",	"online_keys", "root",	       "prod_targets"};
	static const char *const fl[] = {"ci", "prod"};
	const json_t *root = json_object_get(d, "root");
	const json_t *pt = json_object_get(d, "prod_targets");
	int64_t next;
	const char *tag;
	json_t *v;
	int rc;

	if (!only_keys(d, top, sizeof(top) / sizeof(top[0])))
		return bw_err_set(err, BW_EFORMAT,
				  "proposal: unexpected or missing fields");
	rc = check_simple(d, err);
	if (rc != 0)
		return rc;
	next = json_integer_value(json_object_get(d, "from_version")) + 1;
	if (!only_keys(root, fl, 2))
		return bw_err_set(err, BW_EFORMAT, "proposal: bad root");
	for (size_t i = 0; i < 2; i++) {
		rc = check_env(json_object_get(root, fl[i]), "root", next, err);
		if (rc != 0)
			return rc;
	}
	if (!json_is_object(pt) || json_object_size(pt) > MAX_STAGED_TAGS)
		return bw_err_set(err, BW_EFORMAT,
				  "proposal: bad prod_targets");
	json_object_foreach((json_t *)pt, tag, v)
	{
		if (!bw_repo__tag_ok(tag))
			return bw_err_set(err, BW_EFORMAT, "proposal: bad tag");
		rc = check_env(v, "targets", 0, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int bw_repo_proposal_parse(const void *buf, size_t len,
			   struct bw_repo_proposal **out, struct bw_err *err)
{
	struct bw_json_limits lim = {.max_bytes = BW_REPO_MAX_META};
	struct bw_repo_proposal *p = NULL;
	json_t *d = NULL;
	int rc;

	*out = NULL;
	rc = bw_json_parse(buf, len, &lim, &d, err);
	if (rc == 0)
		rc = check_doc(d, err);
	if (rc == 0 && (p = calloc(1, sizeof(*p))) == NULL)
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	if (rc != 0) {
		json_decref(d);
		return rc;
	}
	p->doc = d;
	*out = p;
	return 0;
}

void bw_repo_proposal_free(struct bw_repo_proposal *p)
{
	if (p == NULL)
		return;
	json_decref(p->doc);
	free(p);
}
