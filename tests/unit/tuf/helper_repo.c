/*
 * In-memory TUF repository for updater unit tests (helper_repo.h).
 */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bulwark/buf.h"
#include "bulwark/hash.h"
#include "bulwark/json.h"
#include "helper_repo.h"

#define BASE "mem://repo/"

static int repo_fetch(struct bw_fetcher *f, const char *url, uint64_t offset,
		      uint64_t max_len, bw_fetch_sink_fn sink, void *ctx,
		      struct bw_err *err)
{
	struct repo *r = f->ctx;
	const struct repo_file *file;

	r->fetches++;
	if (strncmp(url, BASE, strlen(BASE)) != 0)
		return bw_err_set(err, BW_ENET, "bad url %s", url);
	file = repo_get(r, url + strlen(BASE));
	if (file == NULL)
		return bw_err_set(err, BW_ENOTFOUND, "%s: 404", url);
	if (offset > 0 && r->no_range)
		return bw_err_set(err, BW_ENORANGE, "%s: Range ignored", url);
	if (offset > file->len)
		return bw_err_set(err, BW_ENET, "bad range");
	if (file->len - offset > max_len)
		return bw_err_set(err, BW_ETOOBIG, "%s: too big", url);
	return sink(ctx, file->data + offset, file->len - offset);
}

void repo_init(struct repo *r)
{
	struct bw_signer **s[] = {&r->root, &r->timestamp, &r->snapshot,
				  &r->targets, &r->deleg};
	uint8_t seed[32];

	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < 5; i++) {
		memset(seed, (int)(i + 1), sizeof(seed));
		assert_int_equal(bw_signer_keyfile_from_ed25519_seed(seed, s[i],
								     NULL), 0);
	}
	r->fetcher.fetch = repo_fetch;
	r->fetcher.ctx = r;
}

void repo_dispose(struct repo *r)
{
	bw_signer_free(r->root);
	bw_signer_free(r->timestamp);
	bw_signer_free(r->snapshot);
	bw_signer_free(r->targets);
	bw_signer_free(r->deleg);
	for (size_t i = 0; i < r->nfiles; i++) {
		free(r->files[i].name);
		free(r->files[i].data);
	}
}

const struct repo_file *repo_get(const struct repo *r, const char *name)
{
	for (size_t i = 0; i < r->nfiles; i++)
		if (strcmp(r->files[i].name, name) == 0)
			return &r->files[i];
	return NULL;
}

void repo_del(struct repo *r, const char *name)
{
	for (size_t i = 0; i < r->nfiles; i++) {
		if (strcmp(r->files[i].name, name) != 0)
			continue;
		free(r->files[i].name);
		free(r->files[i].data);
		r->files[i] = r->files[--r->nfiles];
		return;
	}
}

void repo_put(struct repo *r, const char *name, const void *data, size_t len)
{
	struct repo_file *f;

	repo_del(r, name);
	assert_true(r->nfiles < REPO_MAX_FILES);
	f = &r->files[r->nfiles++];
	f->name = strdup(name);
	f->data = malloc(len + 1);
	assert_non_null(f->name);
	assert_non_null(f->data);
	memcpy(f->data, data, len);
	f->len = len;
}

void repo_put_signed(struct repo *r, const char *name, json_t *signed_obj,
		     struct bw_signer *const *signers, size_t n)
{
	json_t *env = NULL;
	uint8_t *bytes = NULL;
	size_t len = 0;

	assert_int_equal(bw_tuf_envelope_sign(signed_obj, signers, n, &env,
					      NULL), 0);
	assert_int_equal(bw_json_canonical_alloc(env, &bytes, &len, NULL), 0);
	repo_put(r, name, bytes, len);
	free(bytes);
	json_decref(env);
	json_decref(signed_obj);
}

json_t *repo_key_json(struct bw_signer *s)
{
	json_t *k = NULL;

	assert_int_equal(bw_key_to_json(bw_signer_key(s), &k, NULL), 0);
	return k;
}

json_t *repo_role(struct bw_signer *const *signers, size_t n, int threshold)
{
	json_t *ids = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(ids,
				      json_string(bw_signer_key(signers[i])->keyid));
	return json_pack("{s:o,s:i}", "keyids", ids, "threshold", threshold);
}

static json_t *common(const char *type, int version, int64_t expires)
{
	char when[32];

	bw_tuf_time_format(expires, when, sizeof(when));
	return json_pack("{s:s,s:s,s:i,s:s}", "_type", type, "spec_version",
			 "1.0.31", "version", version, "expires", when);
}

json_t *repo_root_signed(struct repo *r, int version, int64_t expires)
{
	json_t *s = common("root", version, expires), *keys = json_object();
	struct bw_signer *all[] = {r->root, r->timestamp, r->snapshot,
				   r->targets};

	for (size_t i = 0; i < 4; i++)
		json_object_set_new(keys, bw_signer_key(all[i])->keyid,
				    repo_key_json(all[i]));
	json_object_set_new(s, "keys", keys);
	json_object_set_new(s, "consistent_snapshot", json_false());
	json_object_set_new(
		s, "roles",
		json_pack("{s:o,s:o,s:o,s:o}", "root", repo_role(&r->root, 1, 1),
			  "timestamp", repo_role(&r->timestamp, 1, 1),
			  "snapshot", repo_role(&r->snapshot, 1, 1), "targets",
			  repo_role(&r->targets, 1, 1)));
	return s;
}

json_t *repo_timestamp_signed(struct repo *r, int version, int snap_version,
			      int64_t expires)
{
	json_t *s = common("timestamp", version, expires);

	(void)r;
	json_object_set_new(s, "meta",
			    json_pack("{s:{s:i}}", "snapshot.json", "version",
				      snap_version));
	return s;
}

json_t *repo_snapshot_signed(struct repo *r, int version, int targets_version,
			     int64_t expires)
{
	json_t *s = common("snapshot", version, expires);

	(void)r;
	json_object_set_new(s, "meta",
			    json_pack("{s:{s:i}}", "targets.json", "version",
				      targets_version));
	return s;
}

json_t *repo_targets_signed(int version, int64_t expires)
{
	json_t *s = common("targets", version, expires);

	json_object_set_new(s, "targets", json_object());
	return s;
}

void repo_add_target(struct repo *r, json_t *targets_signed, const char *path,
		     const char *content)
{
	char hex[BW_HASH_MAX_HEX], name[512];

	bw_hash_buf_hex(BW_HASH_SHA256, content, strlen(content), hex);
	json_object_set_new(json_object_get(targets_signed, "targets"), path,
			    json_pack("{s:I,s:{s:s}}", "length",
				      (json_int_t)strlen(content), "hashes",
				      "sha256", hex));
	snprintf(name, sizeof(name), "targets/%s", path);
	repo_put(r, name, content, strlen(content));
}

void repo_build_basic(struct repo *r)
{
	json_t *t = repo_targets_signed(1, REPO_EXPIRES);

	repo_put_signed(r, "metadata/1.root.json",
			repo_root_signed(r, 1, REPO_EXPIRES), &r->root, 1);
	repo_put_signed(r, "metadata/timestamp.json",
			repo_timestamp_signed(r, 1, 1, REPO_EXPIRES),
			&r->timestamp, 1);
	repo_put_signed(r, "metadata/snapshot.json",
			repo_snapshot_signed(r, 1, 1, REPO_EXPIRES),
			&r->snapshot, 1);
	repo_add_target(r, t, "hello.txt", "hello, world\n");
	repo_put_signed(r, "metadata/targets.json", t, &r->targets, 1);
}

char *repo_client_dir(struct repo *r)
{
	char tmpl[] = "/tmp/bw-test-XXXXXX";
	const struct repo_file *root = repo_get(r, "metadata/1.root.json");
	char *dir;

	assert_non_null(mkdtemp(tmpl));
	dir = strdup(tmpl);
	assert_non_null(root);
	assert_int_equal(bw_tuf_trust_root(dir, root->data, root->len, NULL), 0);
	return dir;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void repo_rmrf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
