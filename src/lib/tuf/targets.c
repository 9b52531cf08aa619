/*
 * Targets roles without a tree (TUF 4.5 TARGETS, client steps 5.6 / 5.7).
 *
 * A targets role can list 100,000 targets (tens of megabytes). It is read
 * once, in chunks, by the streaming canonicaliser (bw_json_canonical_stream):
 * the canonical form of the whole envelope is the only copy kept, the
 * signature is verified over the canonical text of "signed" inside it, and
 * an index (target name -> offset of its entry's canonical text, sorted by
 * name) replaces the tree. Every entry is validated during the pass
 * (length, hashes, custom), so a lookup never meets a malformed one; the
 * small rest of "signed" (_type, version, expires, delegations) is parsed
 * with the ordinary strict parser.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "tuf_priv.h"

/* The envelope's members and the parts of "signed" this file reads. */
enum {
	D_ENVELOPE = 0, /* depth of the envelope object */
	D_SIGNED = 1,   /* envelope."signed" */
	D_TARGETS = 2,  /* signed."targets" */
	D_ENTRY = 3,    /* targets.<name> */
	D_FIELD = 4,    /* <name>.length / hashes / custom */
	D_HASH = 5,     /* hashes.<alg> */
};

struct walk {
	struct bw_buf *out;
	struct bw_err *err;
	int in_signed, in_targets, in_entry, in_hashes;
	int has_length, has_hashes;
	size_t nhashes;
	/* the entry's name for messages (a copy: the parser's key arena
	 * may move while the entry is read) */
	char entry_name[129];
	size_t entry_name_len;

	/* results; offsets of targets are relative to the targets object,
	 * that object's relative to "signed" (enclosing objects may still be
	 * reordered when an inner one closes) */
	struct bw_tuf_tentry *idx;
	size_t nidx;
	char *names;
	size_t targets_rel, targets_len;
	int have_targets, have_signed, have_sigs;
	size_t signed_off, signed_len, sigs_off, sigs_len;

	/* the program's selection (top-level role only): the entry being
	 * read, and what the selector kept, in the order entries came */
	const struct bw_tuf_selector *sel;
	int in_custom;
	struct bw_tuf_tsel cur;
	struct bw_tuf_tsel *kept;
	size_t nkept, capkept;
};

static int key_is(const struct bw_json_event *ev, const char *k)
{
	size_t n = strlen(k);

	return ev->key != NULL && ev->key_len == n && memcmp(ev->key, k, n) == 0;
}

static int entry_fail(struct walk *w, const char *what)
{
	return bw_err_set(w->err, BW_EFORMAT, "target %.*s: %s",
			  (int)w->entry_name_len, w->entry_name, what);
}

/* hashes.<alg>: a string; for an algorithm we know, its hex digest. */
static int check_hash(struct walk *w, const struct bw_json_event *ev)
{
	uint8_t d[BW_HASH_MAX_LEN];
	char alg[32];
	enum bw_hash_alg a;

	if (ev->type != BW_JSON_EV_STRING)
		return entry_fail(w, "every hash must be a string");
	w->nhashes++;
	if (ev->key_len >= sizeof(alg))
		return 0; /* not an algorithm we know: checked at download */
	memcpy(alg, ev->key, ev->key_len);
	alg[ev->key_len] = '\0';
	if (strlen(alg) != ev->key_len || bw_hash_alg_from_name(alg, &a) != 0)
		return 0;
	if (bw_hex_decode((const char *)ev->text + 1, ev->len - 2, d,
			  bw_hash_alg_len(a)) != 0)
		return entry_fail(w, "a digest is not hex of its length");
	if (a == BW_HASH_SHA256)
		w->cur.has_sha256 = 1;
	return 0;
}

/* <name>.length / hashes / custom, as bw_tuf__target_parse checks them. */
static int check_field(struct walk *w, const struct bw_json_event *ev)
{
	if (key_is(ev, "length")) {
		if (ev->type != BW_JSON_EV_INTEGER || ev->integer < 0)
			return entry_fail(w, "\"length\" must be an integer >= 0");
		w->has_length = 1;
		w->cur.length = (uint64_t)ev->integer;
	} else if (key_is(ev, "hashes")) {
		if (ev->type != BW_JSON_EV_OBJECT_START)
			return entry_fail(w, "hashes must be a non-empty object");
		w->in_hashes = 1;
		w->has_hashes = 1;
		w->nhashes = 0;
	} else if (key_is(ev, "custom")) {
		if (ev->type != BW_JSON_EV_OBJECT_START)
			return entry_fail(w, "custom must be an object");
		w->in_custom = w->sel != NULL;
	}
	return 0;
}

/* The entry closed and passed the checks: does the selector keep it? */
static int select_entry(struct walk *w, const struct bw_json_event *ev)
{
	int64_t v = w->sel->end(w->sel->ctx, ev->key, ev->key_len);

	if (v < 0)
		return bw_err_set(w->err, (int)v, "target %.*s: selection "
				  "failed", (int)w->entry_name_len,
				  w->entry_name);
	if (v == 0)
		return 0;
	if (w->nkept == w->capkept) {
		size_t cap = w->capkept ? w->capkept * 2 : 256;
		struct bw_tuf_tsel *n = realloc(w->kept, cap * sizeof(*n));

		if (n == NULL)
			return bw_err_set(w->err, BW_ENOMEM, "out of memory");
		w->kept = n;
		w->capkept = cap;
	}
	/* Its name's place in the parser's key arena: the targets object's
	 * members keep it when they are sorted, so the index finds it. */
	w->cur.at = (size_t)(ev->key - ev->keys);
	w->cur.entry = UINT32_MAX;
	w->cur.value = v;
	w->kept[w->nkept++] = w->cur;
	return 0;
}

static int by_key(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = ((const struct bw_tuf_tsel *)b)->at;

	return x < y ? -1 : x > y;
}

static int by_entry(const void *a, const void *b)
{
	size_t x = ((const struct bw_tuf_tsel *)a)->at;
	size_t y = ((const struct bw_tuf_tsel *)b)->at;

	return x < y ? -1 : x > y;
}

/* What the selector kept, from key offsets to index entries (kept is in
 * the order the entries came, so key offsets only grow), in name order. */
static int kept_to_index(struct walk *w, const struct bw_json_event *ev)
{
	int sorted = 1;
	size_t j = 0;

	if (ev->nmembers >= UINT32_MAX)
		return bw_err_set(w->err, BW_ETOOBIG, "too many targets");
	/* Entries that came in name order (canonical and most indented
	 * files): one merge; else a binary search per name. */
	for (size_t i = 0; i < ev->nmembers && j < w->nkept; i++)
		if (ev->members[i].key_off == w->kept[j].at)
			w->kept[j++].entry = (uint32_t)i;
	for (size_t i = 0; j < w->nkept && i < ev->nmembers; i++) {
		size_t key = ev->members[i].key_off;
		struct bw_tuf_tsel *k = bsearch(&key, w->kept, w->nkept,
						sizeof(*w->kept), by_key);

		if (k != NULL)
			k->entry = (uint32_t)i;
	}
	for (j = 0; j < w->nkept; j++) {
		if (w->kept[j].entry == UINT32_MAX)
			return bw_err_set(w->err, BW_EFORMAT,
					  "a selected target is not indexed");
		w->kept[j].at = w->kept[j].entry;
		if (j > 0 && w->kept[j].at < w->kept[j - 1].at)
			sorted = 0;
	}
	if (!sorted)
		qsort(w->kept, w->nkept, sizeof(*w->kept), by_entry);
	return 0;
}

/* The closed targets object: its members become the index. */
static int take_index(struct walk *w, const struct bw_json_event *ev)
{
	size_t total = 0, at = 0;

	for (size_t i = 0; i < ev->nmembers; i++)
		total += ev->members[i].key_len + 1;
	w->idx = calloc(ev->nmembers ? ev->nmembers : 1, sizeof(*w->idx));
	w->names = malloc(total ? total : 1);
	if (w->idx == NULL || w->names == NULL)
		return bw_err_set(w->err, BW_ENOMEM, "out of memory");
	for (size_t i = 0; i < ev->nmembers; i++) {
		const struct bw_json_member *m = &ev->members[i];

		memcpy(w->names + at, ev->keys + m->key_off, m->key_len);
		w->names[at + m->key_len] = '\0';
		w->idx[i].name_off = at;
		w->idx[i].name_len = m->key_len;
		w->idx[i].val_off = m->val_off - ev->off;
		w->idx[i].val_len = m->off + m->len - m->val_off;
		at += m->key_len + 1;
	}
	w->nidx = ev->nmembers;
	return w->sel != NULL ? kept_to_index(w, ev) : 0;
}

static const struct bw_json_member *member(const struct bw_json_event *ev,
					   const char *k)
{
	size_t n = strlen(k);

	for (size_t i = 0; i < ev->nmembers; i++)
		if (ev->members[i].key_len == n &&
		    memcmp(ev->keys + ev->members[i].key_off, k, n) == 0)
			return &ev->members[i];
	return NULL;
}

static int on_close(struct walk *w, const struct bw_json_event *ev)
{
	const struct bw_json_member *m;

	if (ev->depth == D_HASH - 1 && w->in_hashes) {
		w->in_hashes = 0;
		if (w->nhashes == 0)
			return entry_fail(w, "hashes must be a non-empty object");
	} else if (ev->depth == D_FIELD && w->in_custom) {
		w->in_custom = 0;
	} else if (ev->depth > D_FIELD && w->in_custom) {
		return w->sel->custom(w->sel->ctx, ev, ev->depth - D_FIELD);
	} else if (ev->depth == D_ENTRY && w->in_entry) {
		w->in_entry = 0;
		if (!w->has_length)
			return entry_fail(w, "\"length\" must be an integer >= 0");
		if (!w->has_hashes)
			return entry_fail(w, "hashes must be a non-empty object");
		if (w->sel != NULL)
			return select_entry(w, ev);
	} else if (ev->depth == D_TARGETS && w->in_targets) {
		w->in_targets = 0;
		w->have_targets = 1;
		w->targets_len = ev->len;
		return take_index(w, ev);
	} else if (ev->depth == D_SIGNED && w->in_signed) {
		w->in_signed = 0;
		m = member(ev, "targets");
		if (m != NULL && w->have_targets)
			w->targets_rel = m->val_off - ev->off;
	} else if (ev->depth == D_ENVELOPE && ev->type == BW_JSON_EV_OBJECT) {
		m = member(ev, "signed");
		if (m != NULL && w->have_signed) {
			w->signed_off = m->val_off;
			w->signed_len = m->off + m->len - m->val_off;
		}
		m = member(ev, "signatures");
		if (m != NULL) {
			w->have_sigs = 1;
			w->sigs_off = m->val_off;
			w->sigs_len = m->off + m->len - m->val_off;
		}
	}
	return 0;
}

static int on_event(void *ctx, const struct bw_json_event *ev)
{
	struct walk *w = ctx;
	int opens = ev->type == BW_JSON_EV_OBJECT_START;

	if (ev->type == BW_JSON_EV_OBJECT || ev->type == BW_JSON_EV_ARRAY)
		return on_close(w, ev);
	if (ev->depth == D_SIGNED && key_is(ev, "signed") && opens) {
		w->in_signed = 1;
		w->have_signed = 1;
	} else if (ev->depth == D_TARGETS && w->in_signed &&
		   key_is(ev, "targets")) {
		if (!opens)
			return bw_err_set(w->err, BW_EFORMAT,
					  "targets must be an object");
		w->in_targets = 1;
	} else if (ev->depth == D_ENTRY && w->in_targets) {
		w->entry_name_len = ev->key_len < sizeof(w->entry_name) - 1
					    ? ev->key_len
					    : sizeof(w->entry_name) - 1;
		memcpy(w->entry_name, ev->key, w->entry_name_len);
		if (!opens)
			return entry_fail(w, "must be an object");
		w->in_entry = 1;
		w->has_length = w->has_hashes = 0;
		memset(&w->cur, 0, sizeof(w->cur));
	} else if (ev->depth == D_FIELD && w->in_entry) {
		return check_field(w, ev);
	} else if (ev->depth == D_HASH && w->in_hashes) {
		return check_hash(w, ev);
	} else if (ev->depth > D_FIELD && w->in_custom) {
		return w->sel->custom(w->sel->ctx, ev, ev->depth - D_FIELD);
	}
	return 0;
}

/* ---- reading a file, hashing what is read ------------------------------ */

struct file_reader {
	int fd;
	uint64_t got, max;
	struct bw_hash *h[BW_TUF_MAX_LISTED_HASHES];
	size_t nh;
};

static int read_file(void *ctx, uint8_t *buf, size_t cap, size_t *got)
{
	struct file_reader *r = ctx;
	ssize_t n;

	do
		n = read(r->fd, buf, cap);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return BW_EIO;
	r->got += (uint64_t)n;
	if (r->got > r->max)
		return BW_ETOOBIG;
	for (size_t i = 0; i < r->nh; i++)
		if (bw_hash_update(r->h[i], buf, (size_t)n) != 0)
			return BW_ECRYPTO;
	*got = (size_t)n;
	return 0;
}

/* TUF 5.6.2: the length and every hash snapshot lists, over what was read. */
static int check_listed(struct file_reader *r, const struct bw_tuf_metafile *mf,
			const char *what, struct bw_err *err)
{
	uint8_t d[BW_HASH_MAX_LEN];

	if (mf->length >= 0 && (uint64_t)mf->length != r->got)
		return bw_err_set(err, BW_EHASH, "%s: length %llu, expected %lld",
				  what, (unsigned long long)r->got,
				  (long long)mf->length);
	for (size_t i = 0; i < mf->nhashes; i++) {
		if (i >= r->nh || r->h[i] == NULL)
			return bw_err_set(err, BW_EHASH,
					  "%s: unsupported hash algorithm %.32s",
					  what, mf->hashes[i].name);
		if (bw_hash_final(r->h[i], d) != 0 ||
		    CRYPTO_memcmp(d, mf->hashes[i].digest, mf->hashes[i].len) != 0)
			return bw_err_set(err, BW_EHASH, "%s: %s mismatch", what,
					  mf->hashes[i].name);
	}
	return 0;
}

static int reader_init(struct file_reader *r, const struct bw_tuf_metafile *mf,
		       struct bw_err *err)
{
	if (mf == NULL)
		return 0;
	if (mf->nhashes > BW_TUF_MAX_LISTED_HASHES)
		return bw_err_set(err, BW_EFORMAT, "too many hashes listed");
	for (size_t i = 0; i < mf->nhashes; i++, r->nh++) {
		enum bw_hash_alg a;

		/* An algorithm we can not compute stays NULL: check_listed
		 * refuses it. */
		if (bw_hash_alg_from_name(mf->hashes[i].name, &a) == 0 &&
		    bw_hash_new(a, &r->h[i]) != 0)
			return bw_err_set(err, BW_ECRYPTO, "hash init failed");
	}
	return 0;
}

static void reader_dispose(struct file_reader *r)
{
	for (size_t i = 0; i < r->nh; i++)
		bw_hash_free(r->h[i]);
}

/* ---- the model ------------------------------------------------------------ */

/*
 * Canonical text may hold raw control characters inside strings (canonical
 * JSON escapes only '"' and '\\'); JSON does not. Escape them as \u00XX and
 * parse strictly.
 */
int bw_tuf__parse_canonical(const uint8_t *c, size_t n, json_t **out,
			    struct bw_err *err)
{
	static const char hex[] = "0123456789abcdef";
	struct bw_json_limits lim = {.max_bytes = SIZE_MAX};
	struct bw_buf b;
	int rc = 0;

	bw_buf_init(&b, SIZE_MAX);
	for (size_t i = 0; i < n && rc == 0;) {
		size_t j = i;

		while (j < n && c[j] >= 0x20)
			j++;
		rc = bw_buf_append(&b, c + i, j - i);
		if (rc == 0 && j < n) {
			char e[6] = {'\\', 'u', '0', '0', hex[c[j] >> 4],
				     hex[c[j] & 15]};

			rc = bw_buf_append(&b, e, sizeof(e));
			j++;
		}
		i = j;
	}
	if (rc == 0)
		rc = bw_json_parse(b.data, b.len, &lim, out, err);
	else
		rc = bw_err_set(err, rc, "out of memory");
	bw_buf_dispose(&b);
	return rc;
}

/*
 * The envelope with an empty "targets": what the rest of the parser
 * (parse_common, delegations) reads as a tree.
 */
static int small_doc(struct bw_tuf_md *md, const struct walk *w,
		     struct bw_err *err)
{
	const uint8_t *s = md->canon_env + w->signed_off;
	size_t tr = w->targets_rel, tl = w->targets_len;
	struct bw_buf b;
	int rc;

	bw_buf_init(&b, SIZE_MAX);
	rc = bw_buf_append_str(&b, "{\"signatures\":");
	if (rc == 0)
		rc = bw_buf_append(&b, md->canon_env + w->sigs_off, w->sigs_len);
	if (rc == 0)
		rc = bw_buf_append_str(&b, ",\"signed\":");
	if (rc == 0)
		rc = bw_buf_append(&b, s, tr);
	if (rc == 0)
		rc = bw_buf_append_str(&b, "{}");
	if (rc == 0)
		rc = bw_buf_append(&b, s + tr + tl, w->signed_len - tr - tl);
	if (rc == 0)
		rc = bw_buf_append_str(&b, "}");
	if (rc == 0)
		rc = bw_tuf__parse_canonical(b.data, b.len, &md->doc, err);
	else
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	bw_buf_dispose(&b);
	return rc;
}

/* Stream one envelope (from rd, or else from md->raw) into md->canon_env,
 * walking it with w. */
static int stream_md(bw_json_read_fn rd, void *rctx, uint64_t max,
		     struct bw_tuf_md *md, struct walk *w, struct bw_err *err)
{
	struct bw_json_limits lim = {.max_bytes = (size_t)max};
	struct bw_buf out;
	int rc;

	/* Canonical text is never longer than its JSON source. */
	bw_buf_init(&out, (size_t)max);
	w->out = &out;
	w->err = err;
	if (rd != NULL)
		rc = bw_json_canonical_stream(rd, rctx, &lim, &out, on_event, w,
					      err);
	else
		rc = bw_json_canonical_stream_buf(md->raw, md->raw_len, &lim,
						  &out, on_event, w, err);
	if (rc == 0 && bw_buf_steal(&out, &md->canon_env, &md->canon_env_len))
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	bw_buf_dispose(&out);
	return rc;
}

/* After the stream: the envelope's shape, the small tree, the index. */
static int finish_md(struct bw_tuf_md *md, struct walk *w, const char *what,
		     struct bw_err *err)
{
	int rc = 0;

	if (!w->have_signed || !w->have_sigs)
		rc = bw_err_set(err, BW_EFORMAT,
				"%s: needs \"signed\" and \"signatures\"", what);
	else if (!w->have_targets)
		rc = bw_err_set(err, BW_EFORMAT, "targets must be an object");
	if (rc == 0)
		rc = small_doc(md, w, err);
	if (rc == 0)
		rc = bw_tuf__md_parse_tree(md, err);
	if (rc != 0)
		return rc;
	md->signed_raw = md->canon_env + w->signed_off;
	md->signed_raw_len = w->signed_len;
	md->signed_is_canonical = 1;
	md->tidx = w->idx;
	md->ntidx = w->nidx;
	md->tnames = w->names;
	md->targets_off = w->signed_off + w->targets_rel;
	md->selected = w->sel != NULL;
	md->tsel = w->kept;
	md->ntsel = w->nkept;
	w->idx = NULL;
	w->names = NULL;
	w->kept = NULL;
	return 0;
}

static struct bw_tuf_md *md_new(void)
{
	struct bw_tuf_md *md = calloc(1, sizeof(*md));

	if (md != NULL)
		md->type = BW_TUF_TARGETS;
	return md;
}

static int md_done(struct bw_tuf_md *md, struct walk *w, int rc,
		   struct bw_tuf_md **out)
{
	free(w->idx);
	free(w->names);
	free(w->kept);
	if (rc != 0) {
		bw_tuf__md_free(md);
		return rc;
	}
	*out = md;
	return 0;
}

int bw_tuf__targets_load(const char *path, uint64_t max,
			 const struct bw_tuf_metafile *mf, const char *what,
			 const struct bw_tuf_selector *sel,
			 struct bw_tuf_md **out, struct bw_err *err)
{
	struct file_reader r = {.fd = -1, .max = max};
	struct walk w = {.sel = sel};
	struct bw_tuf_md *md = md_new();
	int rc;

	*out = NULL;
	if (md == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	r.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r.fd < 0)
		rc = bw_err_set(err, errno == ENOENT ? BW_ENOTFOUND : BW_EIO,
				"%s: %s", path, strerror(errno));
	else
		rc = reader_init(&r, mf, err);
	if (rc == 0 && sel != NULL && sel->begin != NULL)
		sel->begin(sel->ctx);
	if (rc == 0)
		rc = stream_md(read_file, &r, max, md, &w, err);
	if (rc == BW_ETOOBIG && r.got > max)
		rc = bw_err_set(err, BW_ETOOBIG, "%s: more than %llu bytes",
				what, (unsigned long long)max);
	if (rc == 0 && mf != NULL)
		rc = check_listed(&r, mf, what, err);
	if (r.fd >= 0)
		close(r.fd);
	reader_dispose(&r);
	md->raw_len = (size_t)r.got;
	if (rc == 0)
		rc = finish_md(md, &w, what, err);
	return md_done(md, &w, rc, out);
}

int bw_tuf__targets_from_buf(struct bw_buf *b, struct bw_tuf_md **out,
			     struct bw_err *err)
{
	struct walk w = {0};
	struct bw_tuf_md *md = md_new();
	int rc;

	*out = NULL;
	if (md == NULL || bw_buf_steal(b, &md->raw, &md->raw_len) != 0) {
		free(md);
		bw_buf_dispose(b);
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	}
	rc = stream_md(NULL, NULL, md->raw_len, md, &w, err);
	if (rc == 0)
		rc = finish_md(md, &w, "targets", err);
	return md_done(md, &w, rc, out);
}

static int cmp_name(const struct bw_tuf_md *md, const struct bw_tuf_tentry *e,
		    const char *path, size_t n)
{
	size_t m = e->name_len < n ? e->name_len : n;
	int c = memcmp(md->tnames + e->name_off, path, m);

	if (c != 0)
		return c;
	return e->name_len < n ? -1 : e->name_len > n;
}

int bw_tuf__targets_find(const struct bw_tuf_md *md, const char *path)
{
	size_t lo = 0, hi = md->ntidx, n = strlen(path);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_name(md, &md->tidx[mid], path, n);

		if (c == 0)
			return (int)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int bw_tuf__targets_entry(const struct bw_tuf_md *md, size_t i, json_t **entry,
			  const char **name, struct bw_err *err)
{
	const struct bw_tuf_tentry *e = &md->tidx[i];

	*name = md->tnames + e->name_off;
	return bw_tuf__parse_canonical(md->canon_env + md->targets_off +
					       e->val_off,
				       e->val_len, entry, err);
}

/* ---- download into a file ------------------------------------------------ */

struct sink_file {
	int fd;
	struct file_reader r; /* only its counters and hashes */
};

static int sink_to_fd(void *ctx, const uint8_t *data, size_t len)
{
	struct sink_file *s = ctx;

	s->r.got += len;
	for (size_t i = 0; i < s->r.nh; i++)
		if (s->r.h[i] != NULL && bw_hash_update(s->r.h[i], data, len))
			return BW_ECRYPTO;
	return bw_io_write_all(s->fd, data, len) == 0 ? 0 : BW_EIO;
}

int bw_tuf__fetch_to_file(struct bw_fetcher *f, const char *url, uint64_t max,
			  const char *dir, const struct bw_tuf_metafile *mf,
			  const char *what, char **tmp_out, struct bw_err *err)
{
	struct sink_file s = {.fd = -1};
	char *tmp = NULL;
	int rc;

	*tmp_out = NULL;
	if (bw_path_join(dir, ".fetch.XXXXXX", &tmp) != 0)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	s.fd = mkostemp(tmp, O_CLOEXEC);
	if (s.fd < 0) {
		rc = bw_err_set(err, BW_EIO, "%s: %s", tmp, strerror(errno));
		free(tmp);
		return rc;
	}
	rc = reader_init(&s.r, mf, err);
	if (rc == 0)
		rc = f->fetch(f, url, 0, max, sink_to_fd, &s, err);
	if (rc == BW_ETOOBIG)
		rc = bw_err_set(err, BW_ETOOBIG, "%s: more than %llu bytes",
				what, (unsigned long long)max);
	/* TUF 5.6.2: length and hashes as snapshot lists them. */
	if (rc == 0 && mf != NULL)
		rc = check_listed(&s.r, mf, what, err);
	if (rc == 0 && (fchmod(s.fd, 0644) != 0 || fsync(s.fd) != 0))
		rc = bw_err_set(err, BW_EIO, "%s: %s", tmp, strerror(errno));
	if (close(s.fd) != 0 && rc == 0)
		rc = bw_err_set(err, BW_EIO, "%s: %s", tmp, strerror(errno));
	reader_dispose(&s.r);
	if (rc != 0) {
		unlink(tmp);
		free(tmp);
		return rc;
	}
	*tmp_out = tmp;
	return 0;
}
