/*
 * The repository store and online signer (repo.h). Metadata is kept
 * per flavour ("ci", "production") and, for the roles below root, per tag
 * (production; CI uses tag ""), as the exact bytes served. Offline-signed
 * uploads are verified with the TUF client rules before they are stored;
 * what the server signs itself (timestamp, snapshot, CI targets) is
 * verified against the stored root before it is published, so a wrong
 * key in the configuration can never reach devices.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/hash.h"
#include "bulwark/json.h"
#include "bulwark/tuf.h"
#include "log.h"
#include "repo.h"
#include "translog.h"

#define SPEC_VERSION "1.0.31"

struct bw_srv_repo {
	struct bw_store *store;
	struct bw_srv_repo_opts o;
	int64_t last_warned;
	char by[BW_SRV_TLOG_BY_MAX]; /* who the next write is logged for */
};

int bw_srv_repo_new(struct bw_store *store, const struct bw_srv_repo_opts *opts,
		    struct bw_srv_repo **out)
{
	struct bw_srv_repo *r = calloc(1, sizeof(*r));

	*out = r;
	if (!r)
		return BW_ENOMEM;
	r->store = store;
	r->o = *opts;
	snprintf(r->by, sizeof(r->by), "server");
	if (!r->o.max_bytes)
		r->o.max_bytes = 8u * 1024u * 1024u;
	return 0;
}

void bw_srv_repo_free(struct bw_srv_repo *r)
{
	free(r);
}

void bw_srv_repo_set_actor(struct bw_srv_repo *r, const char *by)
{
	snprintf(r->by, sizeof(r->by), "%s", by && by[0] ? by : "server");
}

/*
 * Log an uploaded metadata document in the open transaction: who
 * uploaded it, the key ids that signed it, what it is and its digest.
 */
static int log_meta(struct bw_srv_repo *r, const char *action,
		    const struct bw_meta_rec *m, int64_t now,
		    struct bw_err *err)
{
	char keys[BW_SRV_TLOG_BY_MAX];
	json_t *o;
	int rc;

	bw_srv_tlog_signers_by(m->data, m->len, keys);
	o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "flavour", m->flavour,
		      "tag", m->tag, "role", m->role, "version",
		      (json_int_t)m->version, "sha256", m->sha256,
		      "signed-by", keys);
	if (!o)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = bw_srv_tlog_append(r->store, action, r->by, o, now, NULL, err);
	json_decref(o);
	return rc;
}

/* Fill a record from served bytes (type, version, expiry, digest). */
static int rec_fill(struct bw_meta_rec *m, const char *flavour, const char *tag,
		    const uint8_t *md, size_t len, struct bw_err *err)
{
	struct bw_tuf_info info;
	int rc = bw_tuf_metadata_info(md, len, &info, err);

	if (rc)
		return rc;
	memset(m, 0, sizeof(*m));
	snprintf(m->flavour, sizeof(m->flavour), "%s", flavour);
	snprintf(m->tag, sizeof(m->tag), "%s", tag);
	snprintf(m->role, sizeof(m->role), "%s", info.type);
	m->version = info.version;
	m->expires = info.expires;
	m->data = (uint8_t *)md;
	m->len = len;
	return bw_hash_buf_hex(BW_HASH_SHA256, md, len, m->sha256);
}

static int newest(struct bw_srv_repo *r, const char *flavour, const char *tag,
		  const char *role, struct bw_meta_rec *m, struct bw_err *err)
{
	return r->store->ops->meta_get(r->store, flavour, tag, role, 0, m, err);
}

static int flavour_ok(const char *f)
{
	return !strcmp(f, "ci") || !strcmp(f, "production");
}

int bw_srv_repo_root_upload(struct bw_srv_repo *r, const char *flavour,
			    const uint8_t *md, size_t len, int64_t now,
			    struct bw_err *err)
{
	struct bw_meta_rec cur, m;
	int rc = 0;

	memset(&cur, 0, sizeof(cur));
	if (!flavour_ok(flavour))
		return bw_err_set(err, BW_EINVAL, "unknown flavour");
	if ((rc = rec_fill(&m, flavour, "", md, len, err)))
		return rc;
	if (strcmp(m.role, "root"))
		return bw_err_set(err, BW_EFORMAT, "not root metadata");
	rc = newest(r, flavour, "", "root", &cur, err);
	if (rc == BW_ENOTFOUND) {
		/* first root: trusted because the operator uploads it, but it
		 * must be self-consistent (signed by its own threshold) */
		if (m.version != 1)
			rc = bw_err_set(err, BW_EROLLBACK,
					"the first root must be version 1");
		else
			rc = bw_tuf_verify_role(md, len, "root", md, len, 0,
						NULL, err);
	} else if (!rc) {
		rc = bw_tuf_verify_root_update(cur.data, cur.len, md, len, err);
	}
	free(cur.data);
	if (rc)
		return rc;
	if ((rc = r->store->ops->begin(r->store, err)))
		return rc;
	if ((rc = r->store->ops->meta_put(r->store, &m, now, err)) ||
	    (rc = log_meta(r, "tuf.root.upload", &m, now, err)) ||
	    (rc = r->store->ops->commit(r->store, err)))
		r->store->ops->rollback(r->store);
	if (!rc)
		bw_srv_log(BW_SRV_LOG_NOTICE, "%s root version %lld stored",
			   flavour, (long long)m.version);
	return rc;
}

/* Sign signed_obj with s and serialize the envelope as served. */
static int sign_serialize(struct bw_signer *s, json_t *signed_obj,
			  uint8_t **out, size_t *len, struct bw_err *err)
{
	json_t *env = NULL;
	int rc = 0;

	if (!s)
		return bw_err_set(err, BW_ESTATE, "no online key configured");
	if (!(rc = bw_tuf_envelope_sign(signed_obj, &s, 1, &env, err)))
		rc = bw_json_serialize(env, out, len, err);
	json_decref(env);
	return rc;
}

/* {"<name>": {"version", "length", "hashes": {"sha256"}}} */
static json_t *meta_entry(const char *name, const struct bw_meta_rec *m)
{
	return json_pack("{s:{s:I,s:I,s:{s:s}}}", name, "version",
			 (json_int_t)m->version, "length", (json_int_t)m->len,
			 "hashes", "sha256", m->sha256);
}

/*
 * Sign, verify against root and store one online role (inside the
 * caller's transaction). version = newest stored + 1. rec_out receives the
 * stored record (data malloc'd, caller frees) when not NULL.
 */
static int publish(struct bw_srv_repo *r, const struct bw_meta_rec *root,
		   const char *flavour, const char *tag, const char *role,
		   struct bw_signer *s, json_t *meta, int64_t expiry,
		   int64_t now, struct bw_meta_rec *rec_out, struct bw_err *err)
{
	struct bw_meta_rec cur, m;
	char exp[32];
	json_t *obj = NULL;
	uint8_t *bytes = NULL;
	size_t len = 0;
	int rc = 0;

	memset(&cur, 0, sizeof(cur));
	rc = newest(r, flavour, tag, role, &cur, err);
	if (rc && rc != BW_ENOTFOUND)
		return rc;
	free(cur.data);
	bw_tuf_time_format(now + expiry, exp, sizeof(exp));
	obj = json_pack("{s:s,s:s,s:I,s:s}", "_type", role, "spec_version",
			SPEC_VERSION, "version", (json_int_t)(cur.version + 1),
			"expires", exp);
	if (!obj ||
	    json_object_set(obj, !strcmp(role, "targets") ? "targets" : "meta",
			    meta)) {
		rc = BW_ENOMEM;
		goto out;
	}
	if ((rc = sign_serialize(s, obj, &bytes, &len, err)) ||
	    (rc = bw_tuf_verify_role(root->data, root->len, role, bytes, len,
				     now, NULL, err)) ||
	    (rc = rec_fill(&m, flavour, tag, bytes, len, err)) ||
	    (rc = r->store->ops->meta_put(r->store, &m, now, err)))
		goto out;
	if (rec_out) {
		*rec_out = m;
		bytes = NULL; /* transferred */
	}
out:
	free(bytes);
	json_decref(obj);
	return rc;
}

/* New snapshot over targets (a stored record), then a new timestamp. */
static int publish_snapshot_chain(struct bw_srv_repo *r,
				  const struct bw_meta_rec *root,
				  const char *flavour, const char *tag,
				  const struct bw_meta_rec *targets,
				  int64_t now, struct bw_err *err)
{
	struct bw_meta_rec snap;
	json_t *meta = meta_entry("targets.json", targets);
	int rc = 0;

	memset(&snap, 0, sizeof(snap));
	if (!meta)
		return BW_ENOMEM;
	rc = publish(r, root, flavour, tag, "snapshot", r->o.snapshot, meta,
		     r->o.snapshot_expiry, now, &snap, err);
	json_decref(meta);
	if (rc)
		return rc;
	meta = meta_entry("snapshot.json", &snap);
	rc = meta ? publish(r, root, flavour, tag, "timestamp", r->o.timestamp,
			    meta, r->o.timestamp_expiry, now, NULL, err)
		  : BW_ENOMEM;
	json_decref(meta);
	free(snap.data);
	return rc;
}

int bw_srv_repo_targets_upload(struct bw_srv_repo *r, const char *flavour,
			       const char *tag, const uint8_t *md, size_t len,
			       int64_t now, struct bw_err *err)
{
	struct bw_meta_rec root, cur, m;
	int64_t version = 0;
	int rc = 0;

	memset(&root, 0, sizeof(root));
	memset(&cur, 0, sizeof(cur));
	if (!flavour_ok(flavour))
		return bw_err_set(err, BW_EINVAL, "unknown flavour");
	if ((rc = newest(r, flavour, "", "root", &root, err))) {
		if (rc == BW_ENOTFOUND)
			rc = bw_err_set(err, BW_ESTATE, "no %s root yet",
					flavour);
		goto out;
	}
	/* TUF 5.6.3 (signatures, threshold) and 5.6.5 (expiry) */
	if ((rc = bw_tuf_verify_role(root.data, root.len, "targets", md, len,
				     now, &version, err)) ||
	    (rc = rec_fill(&m, flavour, tag, md, len, err)))
		goto out;
	rc = newest(r, flavour, tag, "targets", &cur, err);
	if (rc && rc != BW_ENOTFOUND)
		goto out;
	/* TUF 5.6.4-style rollback check against what devices have */
	if (!rc && version <= cur.version) {
		rc = bw_err_set(err, BW_EROLLBACK,
				"targets version %lld is not above %lld",
				(long long)version, (long long)cur.version);
		goto out;
	}
	if ((rc = r->store->ops->begin(r->store, err)))
		goto out;
	if ((rc = r->store->ops->meta_put(r->store, &m, now, err)) ||
	    (rc = log_meta(r, "tuf.targets.upload", &m, now, err)) ||
	    (rc = publish_snapshot_chain(r, &root, flavour, tag, &m, now,
					 err)) ||
	    (rc = r->store->ops->commit(r->store, err)))
		r->store->ops->rollback(r->store);
out:
	free(root.data);
	free(cur.data);
	return rc;
}

/* The version that meta[name] of signed metadata md lists, or -1. */
static int64_t listed_version(const uint8_t *md, size_t len, const char *name)
{
	json_t *env = NULL;
	int64_t v = -1;

	if (bw_json_parse(md, len, NULL, &env, NULL))
		return -1;
	v = json_integer_value(json_object_get(
	    json_object_get(
		json_object_get(json_object_get(env, "signed"), "meta"), name),
	    "version"));
	json_decref(env);
	return v ? v : -1;
}

/* Keep an exported online role as it is if it verifies, is newer than the
 * stored one and lists `lists_version` of the role below it. */
static int keep_exported(struct bw_srv_repo *r, const struct bw_meta_rec *root,
			 const char *flavour, const char *tag, const char *role,
			 const uint8_t *md, size_t len, const char *below,
			 int64_t lists_version, int64_t now,
			 struct bw_meta_rec *out)
{
	struct bw_meta_rec cur;
	int rc = 0;

	memset(&cur, 0, sizeof(cur));
	if (!md ||
	    bw_tuf_verify_role(root->data, root->len, role, md, len, now, NULL,
			       NULL) ||
	    listed_version(md, len, below) != lists_version ||
	    rec_fill(out, flavour, tag, md, len, NULL))
		return 0;
	rc = newest(r, flavour, tag, role, &cur, NULL);
	free(cur.data);
	if (rc == 0 && cur.version >= out->version)
		return 0;
	return rc == 0 || rc == BW_ENOTFOUND;
}

int bw_srv_repo_import(struct bw_srv_repo *r, const char *flavour,
		       const char *tag, const struct bw_srv_import_md *md,
		       int64_t now, int *kept, struct bw_err *err)
{
	struct bw_meta_rec root, cur, tg, sn, ts;
	int64_t version = 0;
	int rc = 0;

	*kept = 0;
	memset(&root, 0, sizeof(root));
	memset(&cur, 0, sizeof(cur));
	memset(&sn, 0, sizeof(sn));
	memset(&ts, 0, sizeof(ts));
	if ((rc = newest(r, flavour, "", "root", &root, err)) ||
	    (rc =
		 bw_tuf_verify_role(root.data, root.len, "targets", md->targets,
				    md->targets_len, now, &version, err)) ||
	    (rc = rec_fill(&tg, flavour, tag, md->targets, md->targets_len,
			   err)))
		goto out;
	rc = newest(r, flavour, tag, "targets", &cur, err);
	if (!rc && version <= cur.version) {
		rc = bw_err_set(err, BW_EROLLBACK,
				"targets version %lld is not above %lld",
				(long long)version, (long long)cur.version);
		goto out;
	}
	if ((rc && rc != BW_ENOTFOUND) ||
	    (rc = r->store->ops->begin(r->store, err)))
		goto out;
	if ((rc = r->store->ops->meta_put(r->store, &tg, now, err)) ||
	    (rc = log_meta(r, "tuf.targets.import", &tg, now, err)))
		goto fail;
	if (keep_exported(r, &root, flavour, tag, "snapshot", md->snapshot,
			  md->snapshot_len, "targets.json", tg.version, now,
			  &sn) &&
	    keep_exported(r, &root, flavour, tag, "timestamp", md->timestamp,
			  md->timestamp_len, "snapshot.json", sn.version, now,
			  &ts)) {
		/* version numbers continue where the static repository was */
		*kept = 1;
		if ((rc = r->store->ops->meta_put(r->store, &sn, now, err)) ||
		    (rc = r->store->ops->meta_put(r->store, &ts, now, err)))
			goto fail;
	} else if ((rc = publish_snapshot_chain(r, &root, flavour, tag, &tg,
						now, err))) {
		goto fail;
	}
	if (!(rc = r->store->ops->commit(r->store, err)))
		goto out;
fail:
	r->store->ops->rollback(r->store);
out:
	free(root.data);
	free(cur.data);
	return rc;
}

/* The CI targets object to extend: the newest one's, or an empty one. */
static int ci_targets_current(struct bw_srv_repo *r, json_t **targets,
			      struct bw_err *err)
{
	struct bw_meta_rec cur;
	json_t *env = NULL;
	int rc = newest(r, "ci", "", "targets", &cur, err);

	*targets = NULL;
	if (rc == BW_ENOTFOUND) {
		*targets = json_object();
		return *targets ? 0 : BW_ENOMEM;
	}
	if (rc)
		return rc;
	rc = bw_json_parse(cur.data, cur.len, NULL, &env, err);
	free(cur.data);
	if (rc)
		return rc;
	*targets = json_deep_copy(
	    json_object_get(json_object_get(env, "signed"), "targets"));
	json_decref(env);
	if (!json_is_object(*targets)) {
		json_decref(*targets);
		*targets = NULL;
		return bw_err_set(err, BW_EFORMAT, "stored CI targets");
	}
	return 0;
}

/* A CI target the server listed in CI targets it signed itself. */
static int log_ci_target(struct bw_srv_repo *r, const char *name,
			 json_t *fileinfo, const struct bw_meta_rec *tg,
			 int64_t now, struct bw_err *err)
{
	json_t *o = json_pack(
	    "{s:s, s:O, s:O, s:I, s:s}", "name", name, "length",
	    json_object_get(fileinfo, "length"), "hashes",
	    json_object_get(fileinfo, "hashes"), "targets-version",
	    (json_int_t)tg->version, "targets-sha256", tg->sha256);
	int rc;

	if (!o)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = bw_srv_tlog_append(r->store, "tuf.ci-target.add", r->by, o, now,
				NULL, err);
	json_decref(o);
	return rc;
}

int bw_srv_repo_ci_target_add(struct bw_srv_repo *r, const char *name,
			      json_t *fileinfo, int64_t now, struct bw_err *err)
{
	struct bw_meta_rec root, tg;
	json_t *targets = NULL, *custom = json_object_get(fileinfo, "custom");
	char *custom_s = NULL;
	int rc = 0;

	memset(&root, 0, sizeof(root));
	memset(&tg, 0, sizeof(tg));
	if ((rc = newest(r, "ci", "", "root", &root, err))) {
		if (rc == BW_ENOTFOUND)
			rc = bw_err_set(err, BW_ESTATE, "no ci root yet");
		goto out;
	}
	if ((rc = ci_targets_current(r, &targets, err)))
		goto out;
	if (json_object_set(targets, name, fileinfo)) {
		rc = BW_ENOMEM;
		goto out;
	}
	custom_s =
	    custom ? json_dumps(custom, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if ((rc = r->store->ops->begin(r->store, err)))
		goto out;
	if ((rc = publish(r, &root, "ci", "", "targets", r->o.ci_targets,
			  targets, r->o.ci_targets_expiry, now, &tg, err)) ||
	    (rc = r->store->ops->ci_target_add(
		 r->store, name,
		 (uint64_t)json_integer_value(
		     json_object_get(fileinfo, "length")),
		 json_string_value(json_object_get(
		     json_object_get(fileinfo, "hashes"), "sha256")),
		 custom_s, now, err)) ||
	    (rc = log_ci_target(r, name, fileinfo, &tg, now, err)) ||
	    (rc = publish_snapshot_chain(r, &root, "ci", "", &tg, now, err)) ||
	    (rc = r->store->ops->commit(r->store, err)))
		r->store->ops->rollback(r->store);
out:
	free(custom_s);
	free(tg.data);
	free(root.data);
	json_decref(targets);
	return rc;
}

/* A new timestamp (and snapshot, if it expires soon too) for one
 * (flavour, tag). */
static int resign_one(struct bw_srv_repo *r, const char *flavour,
		      const char *tag, int64_t now, struct bw_err *err)
{
	struct bw_meta_rec root, snap, tg;
	json_t *meta = NULL;
	int rc = 0;

	memset(&root, 0, sizeof(root));
	memset(&snap, 0, sizeof(snap));
	memset(&tg, 0, sizeof(tg));
	if ((rc = newest(r, flavour, "", "root", &root, err)) ||
	    (rc = newest(r, flavour, tag, "snapshot", &snap, err)) ||
	    (rc = r->store->ops->begin(r->store, err)))
		goto out;
	if (snap.expires - now < r->o.timestamp_resign_before) {
		if (!(rc = newest(r, flavour, tag, "targets", &tg, err)))
			rc = publish_snapshot_chain(r, &root, flavour, tag, &tg,
						    now, err);
	} else if (!(meta = meta_entry("snapshot.json", &snap))) {
		rc = BW_ENOMEM;
	} else {
		rc =
		    publish(r, &root, flavour, tag, "timestamp", r->o.timestamp,
			    meta, r->o.timestamp_expiry, now, NULL, err);
	}
	if (rc || (rc = r->store->ops->commit(r->store, err)))
		r->store->ops->rollback(r->store);
out:
	json_decref(meta);
	free(root.data);
	free(snap.data);
	free(tg.data);
	return rc;
}

static int is_offline(const char *flavour, const char *role)
{
	return !strcmp(role, "root") ||
	       (!strcmp(role, "targets") && !strcmp(flavour, "production"));
}

int bw_srv_repo_resign(struct bw_srv_repo *r, int64_t now, int *nsigned,
		       struct bw_err *err)
{
	json_t *heads = NULL, *h = NULL;
	size_t i = 0;
	int rc = r->store->ops->meta_heads(r->store, &heads, err);
	int warn = now - r->last_warned >= 6 * 3600;

	*nsigned = 0;
	if (rc)
		return rc;
	json_array_foreach(heads, i, h)
	{
		const char *f =
		    json_string_value(json_object_get(h, "flavour"));
		const char *t = json_string_value(json_object_get(h, "tag"));
		const char *role =
		    json_string_value(json_object_get(h, "role"));
		int64_t left =
		    json_integer_value(json_object_get(h, "expires")) - now;

		if (!strcmp(role, "timestamp") && r->o.timestamp &&
		    left < r->o.timestamp_resign_before) {
			int rc1 = resign_one(r, f, t, now, err);

			if (rc1) {
				bw_srv_log(BW_SRV_LOG_ERR,
					   "re-signing %s/%s "
					   "timestamp failed: %s",
					   f, t, err ? err->msg : "");
				rc = rc1;
			} else {
				(*nsigned)++;
			}
		} else if (warn && is_offline(f, role) &&
			   left < r->o.expiry_warn) {
			bw_srv_log(BW_SRV_LOG_WARN,
				   "%s %s%s%s expires in %lld "
				   "hours: sign a new version",
				   f, role, t[0] ? " of tag " : "", t,
				   (long long)(left / 3600));
			r->last_warned = now;
		}
	}
	json_decref(heads);
	return rc;
}

int bw_srv_repo_status(struct bw_srv_repo *r, int64_t now, json_t **out,
		       struct bw_err *err)
{
	json_t *heads = NULL, *h = NULL;
	size_t i = 0;
	int rc = r->store->ops->meta_heads(r->store, &heads, err);

	*out = NULL;
	if (rc)
		return rc;
	json_array_foreach(heads, i, h)
	{
		const char *f =
		    json_string_value(json_object_get(h, "flavour"));
		const char *role =
		    json_string_value(json_object_get(h, "role"));
		int64_t left =
		    json_integer_value(json_object_get(h, "expires")) - now;
		int offline = is_offline(f, role);

		json_object_set_new(
		    h, "signed-by",
		    json_string(offline ? "offline" : "server"));
		json_object_set_new(h, "expires-in", json_integer(left));
		json_object_set_new(
		    h, "warning",
		    json_boolean(left < 0 ||
				 (offline && left < r->o.expiry_warn)));
	}
	*out = heads;
	return 0;
}
