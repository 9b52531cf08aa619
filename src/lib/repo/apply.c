/*
 * The end of a ceremony: production targets staged for the new root,
 * the review, and apply (re-verify everything, then one journalled commit).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "bulwark/buf.h"
#include "bulwark/json.h"
#include "bulwark/tuf.h"
#include "repo/proposal_priv.h"

static json_t *staged(struct bw_repo_proposal *p, const char *flavour)
{
	return json_object_get(json_object_get(p->doc, "root"), flavour);
}

/* The staged targets of tag, made from the current ones if not yet. */
static int staged_targets(struct bw_repo *r, struct bw_repo_proposal *p,
			  const char *tag, json_t **env, struct bw_err *err)
{
	json_t *pt = json_object_get(p->doc, "prod_targets"), *cur = NULL;
	json_t *sg;
	int rc;

	*env = json_object_get(pt, tag);
	if (*env != NULL)
		return 0;
	rc = bw_repo_targets_load(r, 1, tag, &cur, err);
	if (rc != 0)
		return rc;
	sg = bw_repo__next_signed(cur, bw_repo__now(r) + r->exp.targets_prod);
	json_decref(cur);
	if (sg == NULL ||
	    json_object_set_new(
		pt, tag,
		json_pack("{s:[], s:o}", "signatures", "signed", sg)) != 0)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	*env = json_object_get(pt, tag);
	return 0;
}

static int sign_tag(struct bw_repo *r, struct bw_repo_proposal *p,
		    const char *tag, const struct bw_repo_keys *keys,
		    size_t *nsigned, struct bw_err *err)
{
	json_t *env = NULL;
	const json_t *sg = json_object_get(staged(p, "prod"), "signed");
	int rc = staged_targets(r, p, tag, &env, err);

	for (size_t i = 0; rc == 0 && i < keys->n; i++) {
		struct bw_repo_keys one = {
		    .s = &keys->s[i], .where = &keys->where[i], .n = 1};
		size_t n = 0;

		rc = bw_repo__sign_as(sg, "targets", env, &one, &n, err);
		if (rc == 0 && n == 0)
			rc = bw_err_set(err, BW_ESIG,
					"key %.16s... (%.200s) is not a "
					"production targets key of the "
					"proposed root",
					keys->s[i]->key->keyid, keys->where[i]);
		*nsigned += n;
	}
	return rc;
}

int bw_repo_proposal_sign_targets(struct bw_repo *r, struct bw_repo_proposal *p,
				  const char *tag,
				  const struct bw_repo_keys *keys,
				  size_t *nsigned, struct bw_err *err)
{
	char **tags = NULL;
	int rc;

	*nsigned = 0;
	if (tag != NULL)
		return sign_tag(r, p, tag, keys, nsigned, err);
	rc = bw_repo_tags(r, &tags, err);
	for (size_t i = 0; rc == 0 && tags[i] != NULL; i++)
		rc = sign_tag(r, p, tags[i], keys, nsigned, err);
	if (rc == 0 && tags[0] == NULL)
		rc = bw_err_set(err, BW_ENOTFOUND, "no production targets yet");
	bw_repo_strv_free(tags);
	return rc;
}

/* ---- review ---------------------------------------------------------- */

struct rv {
	bw_repo_report_fn fn;
	void *ctx;
	size_t problems;
};

static void line(struct rv *v, int problem, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void line(struct rv *v, int problem, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (problem)
		v->problems++;
	if (v->fn != NULL)
		v->fn(v->ctx, problem, msg);
}

static int has_id(const json_t *ids, const char *kid)
{
	size_t i;
	json_t *x;

	json_array_foreach(ids, i, x)
	{
		if (strcmp(json_string_value(x), kid) == 0)
			return 1;
	}
	return 0;
}

/* Key ids in a's role but not in b's, as "+"/"-" lines with key type. */
static void diff_ids(struct rv *v, const json_t *a, const json_t *b,
		     const json_t *keys, const char *sign)
{
	size_t i;
	json_t *x;

	json_array_foreach(a, i, x)
	{
		const char *kid = json_string_value(x);
		const json_t *k = json_object_get(keys, kid);

		if (!has_id(b, kid))
			line(v, 0, "            %s %s (%s)", sign, kid,
			     json_string_value(json_object_get(k, "scheme")));
	}
}

/* Computed from the two roots, not taken from the proposal's summary. */
static void diff_role(struct rv *v, const json_t *o, const json_t *n,
		      const char *role)
{
	const json_t *orr = json_object_get(json_object_get(o, "roles"), role);
	const json_t *nr = json_object_get(json_object_get(n, "roles"), role);
	const json_t *oids = json_object_get(orr, "keyids");
	const json_t *nids = json_object_get(nr, "keyids");
	json_int_t ot = json_integer_value(json_object_get(orr, "threshold"));
	json_int_t nt = json_integer_value(json_object_get(nr, "threshold"));
	size_t nk = json_array_size(nids);
	char was[48] = "";

	if (ot != nt)
		snprintf(was, sizeof(was), " (was %" JSON_INTEGER_FORMAT ")",
			 ot);
	line(v, 0, "  %-9s threshold %" JSON_INTEGER_FORMAT "%s of %zu key(s)",
	     role, nt, was, nk);
	diff_ids(v, nids, oids, json_object_get(n, "keys"), "+");
	diff_ids(v, oids, nids, json_object_get(o, "keys"), "-");
	if ((size_t)nt > nk)
		line(v, 1,
		     "%s threshold %" JSON_INTEGER_FORMAT
		     " is above its %zu key(s): nothing could ever sign it",
		     role, nt, nk);
}

/* Two root keys in one archive: losing that archive loses both. */
static void same_archive(struct rv *v, struct bw_repo_proposal *p)
{
	const json_t *ids = json_object_get(
	    json_object_get(
		json_object_get(json_object_get(staged(p, "prod"), "signed"),
				"roles"),
		"root"),
	    "keyids");
	const json_t *off = json_object_get(p->doc, "offline_keys");

	for (size_t i = 0; i < json_array_size(ids); i++) {
		const char *a = json_string_value(json_object_get(
		    json_object_get(off,
				    json_string_value(json_array_get(ids, i))),
		    "location"));

		for (size_t j = i + 1; a != NULL && j < json_array_size(ids);
		     j++) {
			const char *b = json_string_value(json_object_get(
			    json_object_get(
				off, json_string_value(json_array_get(ids, j))),
			    "location"));

			if (b != NULL && strcmp(a, b) == 0)
				line(v, 1,
				     "two root keys are kept in the same "
				     "archive %s",
				     a);
		}
	}
}

static void root_sigs(struct bw_repo *r, struct rv *v,
		      struct bw_repo_proposal *p, const char *fl)
{
	json_t *old = NULL;
	size_t ho = 0, hn = 0;
	int64_t no = 0, nn = 0;
	struct bw_err e = {0};
	int short_;

	/* TUF 5.3.4: old root's threshold, then the new root's own. */
	if (bw_repo__root_latest(r, strcmp(fl, "prod") == 0, &old, &e) != 0 ||
	    bw_repo__count(old, "root", staged(p, fl), &ho, &no, &e) != 0 ||
	    bw_repo__count(staged(p, fl), "root", staged(p, fl), &hn, &nn,
			   &e) != 0) {
		line(v, 1, "%s root: %s", fl, e.msg);
		json_decref(old);
		return;
	}
	json_decref(old);
	short_ = (int64_t)ho < no || (int64_t)hn < nn;
	line(v, short_,
	     "%s root v%lld: %zu of %lld signatures by the old root keys, "
	     "%zu of %lld by the new ones%s",
	     fl, (long long)r->root_version + 1, ho, (long long)no, hn,
	     (long long)nn, short_ ? ": not enough signatures yet" : "");
}

static void expiry_line(struct bw_repo *r, struct rv *v, const char *what,
			const json_t *sg)
{
	int64_t t = 0, left;

	if (bw_tuf_time_parse(json_string_value(json_object_get(sg, "expires")),
			      &t) != 0)
		return;
	left = t - bw_repo__now(r);
	if (left < BW_REPO_WARN_DAYS * (int64_t)BW_REPO_DAY)
		line(v, 1, "%s expires in %lld day(s)", what,
		     (long long)(left / BW_REPO_DAY));
}

/* Production targets of tag under the proposed production root. */
static void tag_review(struct bw_repo *r, struct rv *v,
		       struct bw_repo_proposal *p, const char *tag)
{
	json_t *env =
	    json_object_get(json_object_get(p->doc, "prod_targets"), tag);
	json_t *cur = NULL;
	size_t have = 0;
	int64_t need = 0;
	struct bw_err e = {0};

	if (env == NULL && bw_repo_targets_load(r, 1, tag, &cur, &e) != 0)
		return;
	if (bw_repo__count(staged(p, "prod"), "targets",
			   env != NULL ? env : cur, &have, &need, &e) != 0) {
		line(v, 1, "tag %s: %s", tag, e.msg);
	} else if (env != NULL) {
		/* apply adds the online targets key's signature */
		line(v, (int64_t)have + 1 < need,
		     "tag %s: staged production targets: %zu offline of %lld "
		     "signatures (+1 online at apply)%s",
		     tag, have, (long long)need,
		     (int64_t)have + 1 < need ? ": not enough signatures yet"
					      : "");
		expiry_line(r, v, "staged production targets",
			    json_object_get(env, "signed"));
	} else if ((int64_t)have < need) {
		line(v, 1,
		     "tag %s: production targets have %zu of the %lld "
		     "signatures the new root requires: run sign-prod-targets",
		     tag, have, (long long)need);
	}
	json_decref(cur);
}

int bw_repo_proposal_review(struct bw_repo *r, struct bw_repo_proposal *p,
			    bw_repo_report_fn report, void *ctx,
			    size_t *problems, struct bw_err *err)
{
	static const char *const roles[] = {"root", "targets", "snapshot",
					    "timestamp"};
	struct rv v = {report, ctx, 0};
	json_t *old = NULL, *nsg = json_object_get(staged(p, "prod"), "signed");
	char **tags = NULL;
	size_t i;
	json_t *c;
	int rc;

	*problems = 0;
	rc = bw_repo__root_latest(r, 1, &old, err);
	if (rc == 0)
		rc = bw_repo_tags(r, &tags, err);
	if (rc != 0)
		goto out;
	line(&v, 0, "factory '%s': root v%lld -> v%lld, expires %s",
	     bw_repo_name(r), (long long)r->root_version,
	     (long long)r->root_version + 1,
	     json_string_value(json_object_get(nsg, "expires")));
	json_array_foreach(json_object_get(p->doc, "changes"), i, c)
	    line(&v, 0, "  change: %s", json_string_value(c));
	if (json_array_size(json_object_get(p->doc, "changes")) == 0)
		line(&v, 0,
		     "  (no changes: a re-signed root with a new expiry)");
	line(&v, 0, "production root roles (+ added, - removed keys):");
	for (i = 0; i < 4; i++)
		diff_role(&v, json_object_get(old, "signed"), nsg, roles[i]);
	expiry_line(r, &v, "the new root", nsg);
	same_archive(&v, p);
	root_sigs(r, &v, p, "ci");
	root_sigs(r, &v, p, "prod");
	for (i = 0; tags[i] != NULL; i++)
		tag_review(r, &v, p, tags[i]);
	*problems = v.problems;
out:
	bw_repo_strv_free(tags);
	json_decref(old);
	return rc;
}

/* ---- apply ------------------------------------------------------------ */

struct ap {
	struct bw_repo *r;
	struct bw_repo_proposal *p;
	struct bw_journal t;
	uint8_t *root[2]; /* new ci, prod (served bytes) */
	size_t rlen[2];
};

/* TUF 5.3.4/5.3.5 for both flavours, then expiry of the new root. */
static int ap_roots(struct ap *a, struct bw_err *err)
{
	static const char *const fl[] = {"ci", "prod"};
	uint8_t *old = NULL;
	size_t n = 0;
	struct bw_tuf_info info;
	char rel[64];
	int rc = 0;

	for (int i = 0; rc == 0 && i < 2; i++) {
		rc = bw_repo__serialize(staged(a->p, fl[i]), &a->root[i],
					&a->rlen[i], err);
		if (rc == 0)
			rc = bw_repo_root_read(a->r, i, 0, &old, &n, err);
		if (rc == 0)
			rc = bw_tuf_verify_root_update(old, n, a->root[i],
						       a->rlen[i], err);
		if (rc != 0 && err != NULL && i < 2) {
			char m[BW_ERR_MSG_MAX];

			snprintf(m, sizeof(m), "%s", err->msg);
			bw_err_set(err, rc, "%s root v%lld: %s", fl[i],
				   (long long)a->r->root_version + 1, m);
		}
		free(old);
		old = NULL;
		if (rc == 0)
			rc = bw_tuf_metadata_info(a->root[i], a->rlen[i], &info,
						  err);
		if (rc == 0 && info.expires <= bw_repo__now(a->r))
			rc = bw_err_set(err, BW_EEXPIRED,
					"the proposed root has expired");
		snprintf(rel, sizeof(rel), "%s/root/%lld.root.json", fl[i],
			 (long long)a->r->root_version + 1);
		if (rc == 0)
			rc = bw_journal_put(&a->t, rel, a->root[i],
					      a->rlen[i], 0644, err);
	}
	return rc;
}

/* Swap in online keys the proposal rotated (staged as .pem.proposed). */
static int ap_online(struct ap *a, struct bw_err *err)
{
	const json_t *on = json_object_get(a->p->doc, "online_keys");
	int rc = 0;

	for (int i = 0; rc == 0 && i < BW_ONLINE_N; i++) {
		const char *name = bw_repo__online_name(i);
		const char *want = json_string_value(json_object_get(on, name));
		struct bw_signer *cur = NULL, *s = NULL;
		char rel[64], *path = NULL;
		uint8_t *b = NULL;
		size_t n = 0;

		rc = bw_repo__online(a->r, i, &cur, err);
		if (rc != 0 || strcmp(cur->key->keyid, want) == 0)
			continue;
		snprintf(rel, sizeof(rel), "online/%s.pem", name);
		path = bw_repo__path(a->r->dir, "%s.proposed", rel);
		rc = path != NULL ? bw_signer_keyfile_load(path, 0, &s, err)
				  : BW_ENOMEM;
		if (rc == 0 && strcmp(s->key->keyid, want) != 0)
			rc = bw_err_set(err, BW_ESTATE,
					"%s holds another key "
					"than the proposal names",
					path);
		if (rc == 0)
			rc = bw_repo__read(path, 65536, &b, &n, err);
		if (rc == 0)
			rc = bw_journal_put(&a->t, rel, b, n, 0600, err);
		snprintf(rel, sizeof(rel), "online/%s.pem.proposed", name);
		if (rc == 0)
			rc = bw_journal_del(&a->t, rel, err);
		if (rc == 0) {
			bw_signer_free(a->r->online[i]);
			a->r->online[i] = s; /* transferred */
			s = NULL;
		}
		bw_signer_free(s);
		if (b != NULL)
			OPENSSL_cleanse(b, n);
		free(b);
		free(path);
	}
	return rc;
}

/* Production targets of tag must verify under the new root (staged ones
 * get the online signature first); then new snapshot and timestamp. */
static int ap_tag(struct ap *a, const char *tag, struct bw_err *err)
{
	json_t *env =
	    json_object_get(json_object_get(a->p->doc, "prod_targets"), tag);
	json_t *cur = NULL;
	struct bw_signer *s = NULL;
	uint8_t *b = NULL;
	size_t n = 0;
	int rc = 0;

	if (env == NULL)
		rc = bw_repo_targets_load(a->r, 1, tag, &cur, err);
	else
		rc = bw_repo__online(a->r, BW_ONLINE_TARGETS, &s, err);
	if (rc == 0 && env != NULL)
		rc = bw_tuf_envelope_add_signature(env, s, err);
	if (rc == 0)
		rc = bw_repo__serialize(env != NULL ? env : cur, &b, &n, err);
	if (rc == 0)
		rc = bw_tuf_verify_role(a->root[1], a->rlen[1], "targets", b, n,
					env != NULL ? bw_repo__now(a->r) : 0,
					NULL, err);
	if (rc != 0 && rc != BW_ENOMEM) {
		char m[BW_ERR_MSG_MAX];

		snprintf(m, sizeof(m), "%s", err != NULL ? err->msg : "");
		bw_err_set(err, rc,
			   "production targets of tag '%s' do not "
			   "verify under the new root (%s)%s",
			   tag, m,
			   env == NULL ? ": run sign-prod-targets" : "");
	}
	if (rc == 0)
		rc = bw_repo__publish(a->r, &a->t, 1, tag, b, n, 0, err);
	json_decref(cur);
	free(b);
	return rc;
}

/* CI targets: re-signed when the online targets key changed. */
static int ap_ci(struct ap *a, struct bw_err *err)
{
	json_t *cur = NULL, *sg = NULL, *env = NULL;
	struct bw_signer *s = NULL;
	uint8_t *b = NULL;
	size_t n = 0;
	int rc;

	rc = bw_repo_targets_load(a->r, 0, NULL, &cur, err);
	if (rc == 0)
		rc = bw_repo__serialize(cur, &b, &n, err);
	if (rc == 0 && bw_tuf_verify_role(a->root[0], a->rlen[0], "targets", b,
					  n, 0, NULL, NULL) != 0) {
		free(b);
		b = NULL;
		sg = bw_repo__next_signed(cur, bw_repo__now(a->r) +
						   a->r->exp.targets_ci);
		rc = sg != NULL
			 ? bw_repo__online(a->r, BW_ONLINE_TARGETS, &s, err)
			 : bw_err_set(err, BW_ENOMEM, "out of memory");
		if (rc == 0)
			rc = bw_tuf_envelope_sign(sg, &s, 1, &env, err);
		if (rc == 0)
			rc = bw_repo__serialize(env, &b, &n, err);
	}
	if (rc == 0)
		rc = bw_repo__publish(a->r, &a->t, 0, NULL, b, n, 0, err);
	json_decref(cur);
	json_decref(sg);
	json_decref(env);
	free(b);
	return rc;
}

/* Key references only for keys the new root gives that role. */
static json_t *offline_refs(struct ap *a)
{
	const json_t *sg = json_object_get(staged(a->p, "prod"), "signed");
	json_t *out = json_object(), *v;
	const char *kid;

	json_object_foreach(json_object_get(a->p->doc, "offline_keys"), kid, v)
	{
		const char *role =
		    json_string_value(json_object_get(v, "role"));

		if (out != NULL &&
		    has_id(
			json_object_get(
			    json_object_get(json_object_get(sg, "roles"), role),
			    "keyids"),
			kid))
			json_object_set(out, kid, v);
	}
	return out;
}

static int ap_config(struct ap *a, struct bw_err *err)
{
	json_t *cfg = json_deep_copy(a->r->cfg);
	json_t *refs = offline_refs(a);
	int rc;

	if (cfg == NULL || refs == NULL) {
		json_decref(refs);
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	} else if (json_object_set_new(cfg, "offline_keys", refs) != 0) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory"); /* stolen */
	} else {
		rc = bw_repo__txn_put_json(&a->t, "factory.json", cfg, err);
	}
	if (rc == 0) {
		json_decref(a->r->cfg);
		a->r->cfg = cfg;
		cfg = NULL;
	}
	json_decref(cfg);
	return rc;
}

int bw_repo_proposal_apply(struct bw_repo *r, struct bw_repo_proposal *p,
			   const char *path, struct bw_err *err)
{
	struct ap a = {.r = r, .p = p};
	char **tags = NULL;
	int rc;

	bw_journal_init(&a.t, r->dir);
	rc = ap_roots(&a, err);
	if (rc == 0)
		rc = ap_online(&a, err);
	if (rc == 0)
		rc = bw_repo_tags(r, &tags, err);
	for (size_t i = 0; rc == 0 && tags[i] != NULL; i++)
		rc = ap_tag(&a, tags[i], err);
	if (rc == 0)
		rc = ap_ci(&a, err);
	if (rc == 0)
		rc = ap_config(&a, err);
	if (rc == 0)
		rc = bw_journal_commit(&a.t, err);
	if (rc == 0) {
		r->root_version++;
		if (path != NULL)
			rc = bw_io_remove(path, err);
	}
	bw_journal_dispose(&a.t);
	bw_repo_strv_free(tags);
	free(a.root[0]);
	free(a.root[1]);
	return rc;
}
