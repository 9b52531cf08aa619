/*
 * The verified-targets record: lets a refresh that finds nothing changed
 * skip re-parsing a large cached targets.json.
 *
 * After the top-level targets.json has been fully verified (signatures,
 * the version, length and hashes snapshot lists, expiry) and persisted, the
 * updater writes targets.json.verified: the snapshot entry it matched, its
 * version and expiry, and the identity of the file (inode, size, mtime).
 * A later refresh whose trusted snapshot lists the very same entry, whose
 * clock is still before the recorded expiry, and whose targets.json is
 * still that file, treats targets as current without parsing it. The
 * first lookup then loads and verifies it completely, so nothing
 * unverified is ever used; the record only moves the cost from "is there
 * anything new?" to "install this".
 *
 * The record is as trustworthy as the cached metadata next to it: whoever
 * can write the metadata directory can also replace root.json.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bulwark/json.h"
#include "updater_priv.h"

#define RECORD_NAME "targets.json.verified"
#define RECORD_MAX 4096

/* The snapshot entry for targets.json, canonical (malloc'd). */
static char *meta_entry(const struct bw_tuf_updater *u)
{
	const json_t *e = json_object_get(
		json_object_get(u->snapshot->signed_obj, "meta"), "targets.json");
	uint8_t *c = NULL;
	size_t n = 0;

	if (e == NULL || bw_json_canonical_alloc(e, &c, &n, NULL) != 0)
		return NULL;
	return (char *)c;
}

static int file_identity(const struct bw_tuf_updater *u, struct stat *st)
{
	char *path = NULL;
	int rc;

	if (bw_path_join(u->mdir, "targets.json", &path) != 0)
		return -1;
	rc = stat(path, st);
	free(path);
	return rc;
}

static json_t *identity_json(const struct stat *st)
{
	return json_pack("{s:I,s:I,s:I,s:I}", "ino", (json_int_t)st->st_ino,
			 "size", (json_int_t)st->st_size, "mtime_s",
			 (json_int_t)st->st_mtim.tv_sec, "mtime_ns",
			 (json_int_t)st->st_mtim.tv_nsec);
}

int bw_tuf__record_matches(struct bw_tuf_updater *u, int64_t *version)
{
	struct bw_buf b;
	struct stat st;
	json_t *rec = NULL, *id = NULL;
	char *entry = meta_entry(u), *path = NULL;
	const char *recorded;
	int ok = 0;

	bw_buf_init(&b, RECORD_MAX);
	if (entry == NULL || bw_path_join(u->mdir, RECORD_NAME, &path) != 0 ||
	    bw_io_read_file(path, RECORD_MAX, &b, NULL) != 0 ||
	    bw_json_parse(b.data, b.len, NULL, &rec, NULL) != 0 ||
	    file_identity(u, &st) != 0)
		goto out;
	recorded = json_string_value(json_object_get(rec, "snapshot_entry"));
	id = identity_json(&st);
	ok = recorded != NULL && strcmp(recorded, entry) == 0 &&
	     json_equal(json_object_get(rec, "file"), id) &&
	     json_integer_value(json_object_get(rec, "expires")) > u->now &&
	     json_integer_value(json_object_get(rec, "version")) > 0;
	if (ok)
		*version = json_integer_value(json_object_get(rec, "version"));
out:
	json_decref(rec);
	json_decref(id);
	bw_buf_dispose(&b);
	free(entry);
	free(path);
	return ok;
}

void bw_tuf__record_write(struct bw_tuf_updater *u, const struct bw_tuf_md *md)
{
	struct stat st;
	json_t *rec = NULL;
	uint8_t *bytes = NULL;
	size_t len = 0;
	char *entry = meta_entry(u), *path = NULL;

	if (entry == NULL || file_identity(u, &st) != 0 ||
	    bw_path_join(u->mdir, RECORD_NAME, &path) != 0)
		goto out;
	rec = json_pack("{s:s,s:I,s:I,s:o}", "snapshot_entry", entry, "version",
			(json_int_t)md->version, "expires", (json_int_t)md->expires,
			"file", identity_json(&st));
	if (rec != NULL && bw_json_serialize(rec, &bytes, &len, NULL) == 0 &&
	    bw_io_write_atomic(path, bytes, len, 0644, NULL) != 0)
		bw_tuf__log(u, BW_LOG_WARN, "could not write %s", path);
out:
	json_decref(rec);
	free(bytes);
	free(entry);
	free(path);
}

void bw_tuf__record_remove(struct bw_tuf_updater *u)
{
	char *path = NULL;

	if (bw_path_join(u->mdir, RECORD_NAME, &path) == 0)
		bw_io_remove(path, NULL);
	free(path);
}
