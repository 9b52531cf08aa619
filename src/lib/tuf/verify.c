/*
 * Verification helpers for repository tools and servers (include/bulwark/
 * tuf.h): the same checks the client workflow makes, applied to one file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tuf_priv.h"

static int role_type(const char *role, enum bw_tuf_role_type *t)
{
	for (int i = BW_TUF_ROOT; i <= BW_TUF_TARGETS; i++) {
		if (strcmp(role, bw_tuf__role_name((enum bw_tuf_role_type)i)) == 0) {
			*t = (enum bw_tuf_role_type)i;
			return 0;
		}
	}
	return BW_EINVAL;
}

/* The _type a file claims, read with a strict parse of the envelope. */
static int peek_type(const void *md, size_t len, enum bw_tuf_role_type *t,
		     struct bw_err *err)
{
	struct bw_json_limits lim = {.max_bytes = len + 1};
	json_t *doc = NULL;
	const char *type;
	int rc;

	rc = bw_json_parse(md, len, &lim, &doc, err);
	if (rc != 0)
		return rc;
	type = json_string_value(
		json_object_get(json_object_get(doc, "signed"), "_type"));
	rc = type != NULL ? role_type(type, t) : BW_EFORMAT;
	if (rc != 0)
		rc = bw_err_set(err, BW_EFORMAT, "not TUF metadata of a "
						 "top-level role");
	json_decref(doc);
	return rc;
}

int bw_tuf_metadata_info(const void *md, size_t len, struct bw_tuf_info *out,
			 struct bw_err *err)
{
	enum bw_tuf_role_type t = BW_TUF_ROOT;
	struct bw_tuf_md *m = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = peek_type(md, len, &t, err);
	if (rc == 0)
		rc = bw_tuf__md_parse(md, len, t, &m, err);
	if (rc != 0)
		return rc;
	snprintf(out->type, sizeof(out->type), "%s", bw_tuf__role_name(t));
	out->version = m->version;
	out->expires = m->expires;
	bw_tuf__md_free(m);
	return 0;
}

int bw_tuf_verify_root_update(const void *trusted_root, size_t trusted_len,
			      const void *new_root, size_t new_len,
			      struct bw_err *err)
{
	struct bw_tuf_md *old = NULL, *md = NULL;
	int rc;

	rc = bw_tuf__md_parse(trusted_root, trusted_len, BW_TUF_ROOT, &old, err);
	if (rc == 0)
		rc = bw_tuf__md_parse(new_root, new_len, BW_TUF_ROOT, &md, err);
	/* TUF 5.3.4: the threshold of the old root keys AND of the new. */
	if (rc == 0)
		rc = bw_tuf__verify_sigs(md, &old->keyring,
					 &old->roles[BW_TUF_ROOT],
					 "new root (by the trusted root keys)", err);
	if (rc == 0)
		rc = bw_tuf__verify_sigs(md, &md->keyring, &md->roles[BW_TUF_ROOT],
					 "new root (by its own keys)", err);
	/* TUF 5.3.5: exactly one version up. */
	if (rc == 0 && md->version != old->version + 1)
		rc = bw_err_set(err, BW_EBADVERSION,
				"new root has version %lld, expected %lld",
				(long long)md->version,
				(long long)old->version + 1);
	bw_tuf__md_free(old);
	bw_tuf__md_free(md);
	return rc;
}

static int open_pair(const void *root, size_t root_len, const char *role,
		     const void *md, size_t md_len, struct bw_tuf_md **r,
		     struct bw_tuf_md **m, enum bw_tuf_role_type *t,
		     struct bw_err *err)
{
	int rc;

	if (role_type(role, t) != 0)
		return bw_err_set(err, BW_EINVAL, "unknown role \"%.32s\"", role);
	rc = bw_tuf__md_parse(root, root_len, BW_TUF_ROOT, r, err);
	if (rc == 0)
		rc = bw_tuf__md_parse(md, md_len, *t, m, err);
	return rc;
}

int bw_tuf_verify_role(const void *root, size_t root_len, const char *role,
		       const void *md, size_t md_len, int64_t now,
		       int64_t *version, struct bw_err *err)
{
	struct bw_tuf_md *r = NULL, *m = NULL;
	enum bw_tuf_role_type t = BW_TUF_ROOT;
	char when[32];
	int rc;

	rc = open_pair(root, root_len, role, md, md_len, &r, &m, &t, err);
	if (rc == 0)
		rc = bw_tuf__verify_sigs(m, &r->keyring, &r->roles[t], role, err);
	if (rc == 0 && now != 0 && m->expires <= now) {
		bw_tuf_time_format(m->expires, when, sizeof(when));
		rc = bw_err_set(err, BW_EEXPIRED, "%s expired at %s", role, when);
	}
	if (rc == 0 && version != NULL)
		*version = m->version;
	bw_tuf__md_free(r);
	bw_tuf__md_free(m);
	return rc;
}

/* How many distinct keys of role t in root r validly sign m. */
static size_t count_valid(const struct bw_tuf_md *r, enum bw_tuf_role_type t,
			  struct bw_tuf_md *m)
{
	struct bw_tuf_role_keys one = r->roles[t];
	size_t count = 0;

	/* Count by asking for ever larger thresholds of the same key set. */
	for (one.threshold = 1; one.threshold <= (int64_t)one.nkeyids;
	     one.threshold++) {
		if (bw_tuf__verify_sigs(m, &r->keyring, &one, "role", NULL) != 0)
			break;
		count = (size_t)one.threshold;
	}
	return count;
}

int bw_tuf_count_signatures(const void *root, size_t root_len,
			    const char *role, const void *md, size_t md_len,
			    size_t *count, int64_t *threshold,
			    struct bw_err *err)
{
	struct bw_tuf_md *r = NULL, *m = NULL;
	enum bw_tuf_role_type t = BW_TUF_ROOT;
	int rc;

	*count = 0;
	rc = open_pair(root, root_len, role, md, md_len, &r, &m, &t, err);
	if (rc != 0)
		goto out;
	*threshold = r->roles[t].threshold;
	*count = count_valid(r, t, m);
out:
	bw_tuf__md_free(r);
	bw_tuf__md_free(m);
	return rc;
}

int bw_tuf_count_envelope_signatures(const void *root, size_t root_len,
				     const char *role, const json_t *envelope,
				     size_t *count, int64_t *threshold,
				     struct bw_err *err)
{
	struct bw_tuf_md *r = NULL, *m = NULL;
	enum bw_tuf_role_type t = BW_TUF_ROOT;
	int rc;

	*count = 0;
	*threshold = 0;
	if (role_type(role, &t) != 0)
		return bw_err_set(err, BW_EINVAL, "unknown role \"%.32s\"", role);
	rc = bw_tuf__md_parse(root, root_len, BW_TUF_ROOT, &r, err);
	if (rc != 0)
		goto out;
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	/* Borrowed: m->doc stays NULL so bw_tuf__md_free drops no reference. */
	m->signed_obj = json_object_get(envelope, "signed");
	m->signatures = json_object_get(envelope, "signatures");
	if (!json_is_object(m->signed_obj) || !json_is_array(m->signatures)) {
		rc = bw_err_set(err, BW_EFORMAT, "not a signed envelope");
		goto out;
	}
	*threshold = r->roles[t].threshold;
	*count = count_valid(r, t, m);
out:
	bw_tuf__md_free(r);
	bw_tuf__md_free(m);
	return rc;
}
