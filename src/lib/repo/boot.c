/*
 * Boot signing requests in the factory workspace: before a production
 * boot artifact is signed with a boot key, the production targets keys
 * approve exactly its bytes (format, length, sha256), with the online
 * targets key and the offline keys up to the production threshold, one
 * admin after another: the production ceremony of targets.c and waves.c.
 *
 *   boot/<name>.pending.json   below the threshold
 *   boot/<name>.json           approved: `bulwark sign boot --production`
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "bulwark/boot.h"
#include "bulwark/buf.h"
#include "bulwark/hash.h"
#include "bulwark/json.h"
#include "bulwark/repo.h"
#include "bulwark/tuf.h"
#include "repo/repo_priv.h"

#define REQUEST_MAX (64u * 1024u)
#define REQUEST_LIFETIME (30 * 86400)

static int name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || s[0] == '.')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' ||
		      *s == '-'))
			return 0;
	return 1;
}

static int format_ok(const char *f)
{
	return strcmp(f, "uefi") == 0 || strcmp(f, "fit") == 0;
}

/* Store env as pending or approved (in one transaction). */
static int store(struct bw_repo *r, const char *name, const json_t *root,
		 const json_t *env, int partial, size_t *have, int64_t *need,
		 struct bw_err *err)
{
	struct bw_journal t;
	char rel[96], prel[96];
	uint8_t *b = NULL;
	size_t n = 0;
	int rc = bw_repo__count(root, "targets", env, have, need, err);

	bw_journal_init(&t, r->dir);
	snprintf(rel, sizeof(rel), "boot/%s.json", name);
	snprintf(prel, sizeof(prel), "boot/%s.pending.json", name);
	if (rc == 0)
		rc = bw_repo__serialize(env, &b, &n, err);
	if (rc == 0 && (int64_t)*have < *need && !partial)
		rc = bw_err_set(err, BW_ESIG, "boot request '%s' has %zu of %lld "
				"signatures (give more --keys, or --partial for "
				"another admin to finish with `bulwark sign "
				"approve`)", name, *have, (long long)*need);
	if (rc == 0)
		rc = bw_journal_put(&t, (int64_t)*have < *need ? prel : rel, b,
				      n, 0644, err);
	if (rc == 0 && (int64_t)*have >= *need)
		rc = bw_journal_del(&t, prel, err);
	if (rc == 0)
		rc = bw_journal_commit(&t, err);
	bw_journal_dispose(&t);
	free(b);
	return rc;
}

static const char *str(const json_t *sg, const char *key)
{
	const char *v = json_string_value(json_object_get(sg, key));

	return v != NULL ? v : "";
}

static int exists(struct bw_repo *r, const char *name, const char *suffix)
{
	char *p = bw_repo__path(r->dir, "boot/%s%s", name, suffix);
	json_t *j = NULL;
	int rc = p ? bw_repo__read_json(p, REQUEST_MAX, &j, NULL) : BW_ENOMEM;

	json_decref(j);
	free(p);
	return rc == 0;
}

int bw_repo_boot_request(struct bw_repo *r, const char *name,
			 const char *format, const uint8_t *data, size_t len,
			 const struct bw_repo_keys *keys, int partial,
			 size_t *have, int64_t *need, struct bw_err *err)
{
	json_t *root = NULL, *sg = NULL, *env = NULL;
	char hex[65], exp[32];
	int rc = 0;

	*have = 0;
	*need = 0;
	if (!name_ok(name) || !format_ok(format))
		return bw_err_set(err, BW_EINVAL, "boot request: name 1-64 of "
				  "[A-Za-z0-9._-], format uefi or fit");
	if (exists(r, name, ".json") || exists(r, name, ".pending.json"))
		return bw_err_set(err, BW_EEXIST, "boot request '%s' exists",
				  name);
	if (bw_hash_buf_hex(BW_HASH_SHA256, data, len, hex) != 0 ||
	    bw_repo__expires(bw_repo__now(r) + REQUEST_LIFETIME, exp) != 0)
		return bw_err_set(err, BW_ECRYPTO, "hash failed");
	sg = json_pack("{s:s,s:s,s:I,s:s,s:s,s:I,s:s,s:s}", "_type",
		       "boot-signing", "spec_version", "1.0", "version",
		       (json_int_t)1, "name", name, "format", format, "length",
		       (json_int_t)len, "sha256", hex, "expires", exp);
	if (sg == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = bw_repo__root_latest(r, 1, &root, err);
	if (rc == 0)
		rc = bw_repo__sign_prod_new(r, root, sg, keys, &env, err);
	if (rc == 0)
		rc = store(r, name, root, env, partial, have, need, err);
	json_decref(root);
	json_decref(sg);
	json_decref(env);
	return rc;
}

int bw_repo_boot_approve(struct bw_repo *r, const char *name,
			 const struct bw_repo_keys *keys, size_t *have,
			 int64_t *need, struct bw_err *err)
{
	json_t *root = NULL, *env = NULL;
	char *p = NULL;
	int rc;

	*have = 0;
	*need = 0;
	if (!name_ok(name))
		return bw_err_set(err, BW_EINVAL, "bad boot request name");
	if ((p = bw_repo__path(r->dir, "boot/%s.pending.json", name)) == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = bw_repo__read_json(p, REQUEST_MAX, &env, err);
	if (rc == BW_ENOTFOUND)
		bw_err_set(err, rc, "nothing pending for boot request '%s' (see "
			   "bulwark sign request --partial)", name);
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

int bw_repo_boot_approved(struct bw_repo *r, const char *name,
			  const char *format, const uint8_t *data, size_t len,
			  struct bw_err *err)
{
	json_t *root = NULL, *env = NULL, *sg;
	char *p = NULL, hex[65];
	int64_t need = 0, exp = 0;
	size_t have = 0;
	int rc;

	if (!name_ok(name))
		return bw_err_set(err, BW_EINVAL, "bad boot request name");
	if ((p = bw_repo__path(r->dir, "boot/%s.json", name)) == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = bw_repo__read_json(p, REQUEST_MAX, &env, err);
	if (rc == BW_ENOTFOUND)
		bw_err_set(err, BW_ESIG, "boot request '%s' is not approved "
			   "(bulwark sign request / approve)", name);
	if (rc == 0)
		rc = bw_repo__root_latest(r, 1, &root, err);
	/* The threshold under the current root, not the one it was made
	 * under: a key removed since no longer counts. */
	if (rc == 0)
		rc = bw_repo__count(root, "targets", env, &have, &need, err);
	sg = json_object_get(env, "signed");
	if (rc == 0 && (int64_t)have < need)
		rc = bw_err_set(err, BW_ESIG, "boot request '%s' has %zu of %lld "
				"signatures under the current root", name, have,
				(long long)need);
	if (rc == 0 && bw_hash_buf_hex(BW_HASH_SHA256, data, len, hex) != 0)
		rc = bw_err_set(err, BW_ECRYPTO, "hash failed");
	if (rc == 0 &&
	    (strcmp(str(sg, "_type"), "boot-signing") != 0 ||
	     strcmp(str(sg, "format"), format) != 0 ||
	     json_integer_value(json_object_get(sg, "length")) != (json_int_t)len ||
	     strcmp(str(sg, "sha256"), hex) != 0))
		rc = bw_err_set(err, BW_ESIG, "boot request '%s' approved other "
				"bytes or another format than these", name);
	if (rc == 0 &&
	    (bw_tuf_time_parse(str(sg, "expires"), &exp) != 0 ||
	     exp <= bw_repo__now(r)))
		rc = bw_err_set(err, BW_EEXPIRED, "boot request '%s' expired",
				name);
	json_decref(root);
	json_decref(env);
	free(p);
	return rc;
}
