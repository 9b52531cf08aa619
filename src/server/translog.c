/*
 * The transparency log kept in bulwarkd's database (translog.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "bulwark/hash.h"
#include "bulwark/json.h"
#include "translog.h"

static int store_read(void *ctx, int level, uint64_t index,
		      struct bw_tlog_hash *out, struct bw_err *err)
{
	struct bw_store *st = ctx;

	return st->ops->tlog_node_get(st, level, index, out->h, err);
}

void bw_srv_tlog_reader(struct bw_store *st, struct bw_tlog_reader *r)
{
	r->read = store_read;
	r->ctx = st;
}

int bw_srv_tlog_append(struct bw_store *st, const char *action,
		       const char *by, const json_t *objects, int64_t now,
		       uint64_t *index, struct bw_err *err)
{
	struct bw_tlog_node nodes[BW_TLOG_LEVELS];
	struct bw_tlog_reader r;
	struct bw_tlog_hash leaf;
	uint8_t *entry = NULL;
	size_t len = 0, n = 0, i;
	uint64_t size = 0;
	int rc;

	rc = bw_tlog_entry_build(action, by, now, objects, &entry, &len, err);
	if (rc != 0)
		return rc;
	rc = st->ops->tlog_size(st, &size, err);
	if (rc != 0)
		goto out;
	bw_tlog_leaf_hash(entry, len, &leaf);
	bw_srv_tlog_reader(st, &r);
	rc = bw_tlog_stored_hashes(size, &leaf, &r, nodes, &n, err);
	if (rc != 0)
		goto out;
	rc = st->ops->tlog_leaf_add(st, size, entry, len, now, err);
	for (i = 0; rc == 0 && i < n; i++)
		rc = st->ops->tlog_node_put(st, nodes[i].level, nodes[i].index,
					    nodes[i].hash.h, err);
	if (rc == 0 && index)
		*index = size;
out:
	free(entry);
	return rc;
}

void bw_srv_tlog_admin_by(const char *token, size_t len,
			  char out[BW_SRV_TLOG_BY_MAX])
{
	char hex[BW_HASH_MAX_HEX];

	if (bw_hash_buf_hex(BW_HASH_SHA256, token, len, hex) != 0)
		snprintf(hex, sizeof(hex), "unknown");
	snprintf(out, BW_SRV_TLOG_BY_MAX, "admin:%.16s", hex);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void bw_srv_tlog_signers_by(const uint8_t *md, size_t len,
			    char out[BW_SRV_TLOG_BY_MAX])
{
	const char *ids[8];
	json_t *doc = NULL, *sigs, *s;
	size_t i, n = 0, off;

	snprintf(out, BW_SRV_TLOG_BY_MAX, "keys:none");
	if (bw_json_parse(md, len, NULL, &doc, NULL) != 0)
		return;
	sigs = json_object_get(doc, "signatures");
	json_array_foreach(sigs, i, s)
	{
		const char *id = json_string_value(json_object_get(s, "keyid"));
		size_t k, j;
		int dup = 0;

		if (!id || strlen(id) != BW_KEYID_HEX_LEN || n == 8)
			continue;
		for (k = 0; k < BW_KEYID_HEX_LEN; k++)
			if (!((id[k] >= '0' && id[k] <= '9') ||
			      (id[k] >= 'a' && id[k] <= 'f')))
				break;
		for (j = 0; j < n; j++)
			dup |= strcmp(ids[j], id) == 0;
		if (k == BW_KEYID_HEX_LEN && !dup)
			ids[n++] = id;
	}
	qsort(ids, n, sizeof(ids[0]), cmp_str);
	off = (size_t)snprintf(out, BW_SRV_TLOG_BY_MAX, "keys:");
	for (i = 0; i < n && off < BW_SRV_TLOG_BY_MAX; i++)
		off += (size_t)snprintf(out + off, BW_SRV_TLOG_BY_MAX - off,
					"%s%s", i ? "," : "", ids[i]);
	if (n == 0)
		snprintf(out, BW_SRV_TLOG_BY_MAX, "keys:none");
	json_decref(doc);
}

/* Sign a checkpoint of the tree at size and store it (open transaction). */
static int sign_size(struct bw_store *st, struct bw_signer *key,
		     const char *origin, uint64_t size, int64_t now,
		     char **note, size_t *len, struct bw_err *err)
{
	struct bw_tlog_checkpoint c;
	struct bw_tlog_reader r;
	char *body = NULL;
	size_t blen = 0;
	int rc;

	memset(&c, 0, sizeof(c));
	if (strlen(origin) >= sizeof(c.origin))
		return bw_err_set(err, BW_EINVAL, "tlog: origin too long");
	memcpy(c.origin, origin, strlen(origin) + 1);
	c.size = size;
	bw_srv_tlog_reader(st, &r);
	rc = bw_tlog_tree_hash(size, &r, &c.root, err);
	if (rc == 0)
		rc = bw_tlog_checkpoint_format(&c, &body, &blen, err);
	if (rc == 0)
		rc = bw_tlog_note_sign(body, blen, origin, key, note, len, err);
	if (rc == 0)
		rc = st->ops->tlog_checkpoint_put(st, size, *note, *len, now,
						  err);
	free(body);
	return rc;
}

/*
 * The stored tree of size still holds the tree of the newest signed
 * checkpoint (note): not smaller, and the same root at its size. A
 * database edited, truncated or put back to an older copy fails here, so
 * the server does not sign over it (verifiers would catch it anyway).
 */
static int extends(struct bw_store *st, const char *note, size_t len,
		   uint64_t size, struct bw_err *err)
{
	struct bw_tlog_note *n = NULL;
	struct bw_tlog_checkpoint c;
	struct bw_tlog_reader r;
	struct bw_tlog_hash root;
	int rc = bw_tlog_note_parse((const uint8_t *)note, len, &n, err);

	if (rc == 0)
		rc = bw_tlog_checkpoint_parse(n->text, n->text_len, &c, err);
	bw_tlog_note_free(n);
	if (rc)
		return rc;
	if (size < c.size)
		return bw_err_set(err, BW_EROLLBACK, "tlog: the stored log has "
				  "%llu entries, fewer than the %llu of its "
				  "last checkpoint: refusing to sign",
				  (unsigned long long)size,
				  (unsigned long long)c.size);
	bw_srv_tlog_reader(st, &r);
	if ((rc = bw_tlog_tree_hash(c.size, &r, &root, err)))
		return rc;
	if (CRYPTO_memcmp(root.h, c.root.h, BW_TLOG_HASH_LEN) != 0)
		return bw_err_set(err, BW_EHASH, "tlog: the stored tree no "
				  "longer holds the tree of the last "
				  "checkpoint (size %llu): refusing to sign",
				  (unsigned long long)c.size);
	return 0;
}

int bw_srv_tlog_checkpoint(struct bw_store *st, struct bw_signer *key,
			   const char *origin, int64_t now, char **note,
			   size_t *len, struct bw_err *err)
{
	uint64_t size = 0, have = 0;
	int rc, wrote = 0;

	*note = NULL;
	*len = 0;
	rc = st->ops->begin(st, err);
	if (rc != 0)
		return rc;
	rc = st->ops->tlog_size(st, &size, err);
	if (rc != 0)
		goto out;
	rc = st->ops->tlog_checkpoint_get(st, -1, &have, note, len, err);
	if (rc == 0 && have == size)
		goto out; /* the newest already covers the tree */
	if (rc != 0 && rc != BW_ENOTFOUND)
		goto out;
	/* never sign a tree that does not extend what was signed before */
	if (rc == 0 && (rc = extends(st, *note, *len, size, err)) != 0)
		goto out;
	free(*note);
	*note = NULL;
	rc = sign_size(st, key, origin, size, now, note, len, err);
	if (rc == 0)
		rc = st->ops->commit(st, err);
	wrote = rc == 0;
out:
	if (!wrote)
		st->ops->rollback(st); /* failed, or nothing to write */
	if (rc != 0) {
		free(*note);
		*note = NULL;
		*len = 0;
	}
	return rc;
}

int bw_srv_tlog_release(struct bw_store *st, const char *hex, json_t **out,
			struct bw_err *err)
{
	struct bw_tlog_reader r;
	struct bw_tlog_proof *p = NULL;
	uint64_t idx = 0, size = 0;
	uint8_t *entry = NULL;
	char *note = NULL, *b64 = NULL;
	size_t len = 0, elen = 0;
	json_t *hashes = NULL;
	int rc;

	*out = NULL;
	if ((rc = st->ops->tlog_find_digest(st, hex, &idx, err)) ||
	    (rc = st->ops->tlog_checkpoint_witnessed(st, idx, &size, &note,
						     &len, err)) ||
	    (rc = st->ops->tlog_leaf_get(st, idx, BW_TLOG_ENTRY_MAX, &entry,
					 &elen, err)))
		goto out;
	p = calloc(1, sizeof(*p));
	if (!p || bw_tlog_b64_encode(entry, elen, &b64) != 0) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	bw_srv_tlog_reader(st, &r);
	if ((rc = bw_tlog_prove_inclusion(size, idx, &r, p, err)))
		goto out;
	hashes = bw_tlog_proof_to_json(p);
	*out = hashes ? json_pack("{s:s%, s:I, s:I, s:s, s:o}", "checkpoint",
				  note, len, "index", (json_int_t)idx, "size",
				  (json_int_t)size, "entry", b64, "hashes",
				  hashes)
		      : NULL;
	if (!*out)
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
out:
	free(p);
	free(b64);
	free(entry);
	free(note);
	return rc;
}

int bw_srv_tlog_witnessed_put(struct bw_store *st, struct bw_signer *key,
			      const char *origin, const uint8_t *note,
			      size_t len, int64_t now, struct bw_err *err)
{
	struct bw_tlog_checkpoint c;
	struct bw_tlog_note *n = NULL;
	struct bw_tlog_vkey vk;
	struct bw_tlog_reader r;
	struct bw_tlog_hash root;
	uint64_t size = 0;
	int rc;

	if ((rc = bw_tlog_vkey_from_key(origin, bw_signer_key(key), &vk, NULL,
					err)) ||
	    (rc = bw_tlog_checkpoint_open(note, len, &vk, origin, NULL, 0, 0,
					  &c, err)) ||
	    (rc = bw_tlog_note_parse(note, len, &n, err)))
		return rc;
	if (n->nsigs < 2) {
		rc = bw_err_set(err, BW_EFORMAT, "no witness signature");
		goto out;
	}
	if ((rc = st->ops->begin(st, err)))
		goto out;
	bw_srv_tlog_reader(st, &r);
	if ((rc = st->ops->tlog_size(st, &size, err)) ||
	    (c.size > size &&
	     (rc = bw_err_set(err, BW_EHASH, "checkpoint of size %llu, the "
			      "log has %llu", (unsigned long long)c.size,
			      (unsigned long long)size))) ||
	    (rc = bw_tlog_tree_hash(c.size, &r, &root, err)))
		goto fail;
	if (memcmp(root.h, c.root.h, BW_TLOG_HASH_LEN) != 0) {
		rc = bw_err_set(err, BW_EHASH, "checkpoint root is not this "
				"log's at size %llu", (unsigned long long)c.size);
		goto fail;
	}
	if (!(rc = st->ops->tlog_checkpoint_put(st, c.size, (const char *)note,
						len, now, err)) &&
	    !(rc = st->ops->commit(st, err)))
		goto out;
fail:
	st->ops->rollback(st);
out:
	bw_tlog_note_free(n);
	return rc;
}

/* The entry of device CA name in a policy description, or NULL. */
static const json_t *ca_find(const json_t *desc, const char *name)
{
	const json_t *c;
	size_t i;

	json_array_foreach(desc, i, c)
	{
		const char *n = json_string_value(json_object_get(c, "name"));

		if (n && !strcmp(n, name))
			return c;
	}
	return NULL;
}

static const char *status_action(const char *status)
{
	return !strcmp(status, "enabled")    ? "pki.ca.enable"
	       : !strcmp(status, "disabled") ? "pki.ca.disable"
					     : "pki.ca.revoke";
}

/* The entries one CA's change makes (0, 1 or 2). */
static int ca_diff(struct bw_store *st, const json_t *was, const json_t *now_c,
		   int log_new, const char *by, int64_t now,
		   struct bw_err *err)
{
	const char *name = json_string_value(json_object_get(now_c, "name"));
	const char *s1 = json_string_value(json_object_get(now_c, "status"));
	const char *s0 = was ? json_string_value(json_object_get(was, "status"))
			     : NULL;
	json_int_t n1 = json_integer_value(json_object_get(now_c, "crl-number"));
	json_int_t n0 = was ? json_integer_value(json_object_get(was,
								 "crl-number"))
			    : 0;
	json_t *o;
	int rc = 0;

	if (!name || !s1)
		return 0;
	if ((!was && log_new) || (s0 && strcmp(s0, s1))) {
		o = json_pack("{s:s, s:s, s:s}", "name", name, "from",
			      s0 ? s0 : "", "to", s1);
		rc = o ? bw_srv_tlog_append(st, was ? status_action(s1)
						    : "pki.ca.add",
					    by, o, now, NULL, err)
		       : BW_ENOMEM;
		json_decref(o);
	}
	if (!rc && was && n1 != n0) {
		o = json_pack("{s:s, s:I, s:I}", "issuer", name, "from", n0,
			      "crl-number", n1);
		rc = o ? bw_srv_tlog_append(st, "pki.crl.install", by, o, now,
					    NULL, err)
		       : BW_ENOMEM;
		json_decref(o);
	}
	return rc;
}

int bw_srv_tlog_policy_diff(struct bw_store *st, const json_t *before,
			    const json_t *after, int log_new, const char *by,
			    const char *digest, int64_t now,
			    struct bw_err *err)
{
	const json_t *c;
	size_t i;
	int rc = st->ops->begin(st, err);

	if (rc)
		return rc;
	json_array_foreach(after, i, c)
	{
		const char *n = json_string_value(json_object_get(c, "name"));

		rc = ca_diff(st, n ? ca_find(before, n) : NULL, c, log_new, by,
			     now, err);
		if (rc)
			break;
	}
	if (!rc)
		rc = st->ops->pki_logged_put(st, digest, now, err);
	if (!rc)
		rc = st->ops->commit(st, err);
	if (rc)
		st->ops->rollback(st);
	return rc;
}
