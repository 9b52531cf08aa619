/*
 * tuf_gen: writes TUF client test scenarios, signed with bulwark's own
 * signing code, in the layout of $BW_VECTORS/python-tuf so that one test
 * runner handles both suites:
 *
 *   OUTDIR/<scenario>/expected.json      outcome a conforming client reaches
 *   OUTDIR/<scenario>/initial_root.json  the root the client is given
 *   OUTDIR/<scenario>/metadata/ targets/ what the server serves, or
 *   OUTDIR/<scenario>/state1/ state2/    for a "sequence" of server states
 *
 * Usage: tuf_gen OUTDIR [SCENARIO...]   (no SCENARIO: all of them)
 *        tuf_gen --list
 *
 * Keys are ed25519 from fixed seeds (sha256 of "bulwark tuf_gen <name>"),
 * so the output is the same on every run, except for the one delegated role
 * signed by an ecdsa key generated at run time ("delegations"). Served bytes
 * are the canonical JSON of each envelope (compact sorted JSON where a PEM
 * key's newlines would make canonical JSON invalid JSON). Valid metadata
 * expires VALID, expired metadata EXPIRED. Every failing scenario names its
 * defect in "reason" / "download_reasons"; "download_any" lists targets
 * whose outcome is free but whose side effects tests check.
 *
 * tests/integration/test_tuf_scenarios.py runs all of them against
 * bulwark-tuf-client.
 *
 * A test tool, not library code: any failure prints a message and exits 1.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "bulwark/buf.h"
#include "bulwark/crypto.h"
#include "bulwark/hash.h"
#include "bulwark/json.h"
#include "bulwark/tuf.h"

#define VALID "2099-01-01T00:00:00Z"
#define EXPIRED "2020-01-01T00:00:00Z"
#define SPEC_VERSION "1.0.31"
#define MAX_KEYS 128
#define PATH_BUF 4096

/* NULL-terminated list of key names: KEYS("a", "b"). */
#define KEYS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define CK(expr) ck((expr), #expr, __LINE__)

struct blob {
	uint8_t *p;
	size_t n;
};

/* Where one server state is written. */
struct st {
	char scen[PATH_BUF]; /* OUTDIR/<scenario> */
	char dir[PATH_BUF];  /* the scenario dir, or a state below it */
	int cs;		     /* consistent snapshots */
};

struct nkey {
	char name[64];
	struct bw_signer *s;
};

static const char *g_outdir;
static struct nkey g_keys[MAX_KEYS];
static size_t g_nkeys;

/* ---- failure handling -------------------------------------------------- */

static void die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("tuf_gen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void ck(int rc, const char *what, int line)
{
	if (rc != 0)
		die("line %d: %s: %s (%d)", line, what, bw_strerror(rc), rc);
}

static void *nonnull(void *p)
{
	if (p == NULL)
		die("out of memory");
	return p;
}

static void fmt(char *buf, size_t len, const char *f, ...)
    __attribute__((format(printf, 3, 4)));
static void fmt(char *buf, size_t len, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, len, f, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len)
		die("path too long");
}

/* ---- files --------------------------------------------------------------- */

static void mkdirs_for(const char *path)
{
	char dir[PATH_BUF];
	char *slash;
	struct bw_err err;

	fmt(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return;
	*slash = '\0';
	if (bw_io_mkdirs(dir, 0755, &err) != 0)
		die("mkdir %s: %s", dir, err.msg);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f;

	mkdirs_for(path);
	f = fopen(path, "wb");
	if (f == NULL)
		die("open %s: %s", path, strerror(errno));
	if ((len > 0 && fwrite(data, 1, len, f) != len) || fclose(f) != 0)
		die("write %s failed", path);
}

static void sha256_hex(const void *data, size_t len, char out[BW_HASH_MAX_HEX])
{
	CK(bw_hash_buf_hex(BW_HASH_SHA256, data, len, out));
}

/* ---- keys ---------------------------------------------------------------- */

/* The signer called name: seeded ed25519, or a fresh ecdsa key ("ecdsa-*"). */
static struct bw_signer *key(const char *name)
{
	uint8_t seed[32];
	char label[128];
	struct nkey *k;
	struct bw_err err;

	for (size_t i = 0; i < g_nkeys; i++)
		if (strcmp(g_keys[i].name, name) == 0)
			return g_keys[i].s;
	if (g_nkeys == MAX_KEYS)
		die("too many keys");
	k = &g_keys[g_nkeys];
	fmt(k->name, sizeof(k->name), "%s", name);
	if (strncmp(name, "ecdsa-", 6) == 0) {
		if (bw_signer_keyfile_generate(BW_KEY_ECDSA_P256, &k->s, &err))
			die("ecdsa key: %s", err.msg);
	} else {
		fmt(label, sizeof(label), "bulwark tuf_gen %s", name);
		CK(bw_hash_buf(BW_HASH_SHA256, label, strlen(label), seed));
		if (bw_signer_keyfile_from_ed25519_seed(seed, &k->s, &err))
			die("seeded key %s: %s", name, err.msg);
	}
	g_nkeys++;
	return k->s;
}

static const char *kid(const char *name)
{
	return bw_signer_key(key(name))->keyid;
}

static json_t *kjson(const char *name)
{
	json_t *j = NULL;
	struct bw_err err;

	if (bw_key_to_json(bw_signer_key(key(name)), &j, &err) != 0)
		die("key json %s: %s", name, err.msg);
	return j;
}

/* Add the named keys to a "keys" object; return a "keyids" array. */
static json_t *add_keys(json_t *keys, const char *const *names)
{
	json_t *ids = nonnull(json_array());

	for (size_t i = 0; names[i] != NULL; i++) {
		json_object_set_new(keys, kid(names[i]), kjson(names[i]));
		json_array_append_new(ids, json_string(kid(names[i])));
	}
	return ids;
}

/* ---- metadata builders ------------------------------------------------- */

static json_t *mk_signed(const char *type, int version, const char *expires)
{
	return nonnull(json_pack("{s:s, s:s, s:i, s:s}", "_type", type,
				 "spec_version", SPEC_VERSION, "version",
				 version, "expires", expires));
}

static json_t *mk_root(int version, const char *expires, int cs)
{
	json_t *r = mk_signed("root", version, expires);

	json_object_set_new(r, "consistent_snapshot", json_boolean(cs));
	json_object_set_new(r, "keys", json_object());
	json_object_set_new(r, "roles", json_object());
	return r;
}

static void root_role(json_t *root, const char *role, int threshold,
		      const char *const *names)
{
	json_t *ids = add_keys(json_object_get(root, "keys"), names);

	json_object_set_new(json_object_get(root, "roles"), role,
			    nonnull(json_pack("{s:o, s:i}", "keyids", ids,
					      "threshold", threshold)));
}

/* Root with one key per role, named after the role (prefix for variants). */
static json_t *std_root(int version, const char *expires, int cs)
{
	json_t *r = mk_root(version, expires, cs);

	root_role(r, "root", 1, KEYS("root"));
	root_role(r, "timestamp", 1, KEYS("timestamp"));
	root_role(r, "snapshot", 1, KEYS("snapshot"));
	root_role(r, "targets", 1, KEYS("targets"));
	return r;
}

static json_t *mk_targets(int version, const char *expires)
{
	json_t *t = mk_signed("targets", version, expires);

	json_object_set_new(t, "targets", json_object());
	return t;
}

static json_t *mk_snapshot(int version, const char *expires, json_t *meta)
{
	json_t *s = mk_signed("snapshot", version, expires);

	json_object_set_new(s, "meta", meta); /* stolen */
	return s;
}

static json_t *mk_timestamp(int version, const char *expires, json_t *snap)
{
	json_t *t = mk_signed("timestamp", version, expires);

	json_object_set_new(t, "meta",
			    nonnull(json_pack("{s:o}", "snapshot.json",
					      snap))); /* snap stolen */
	return t;
}

/* Wrap signed_obj (stolen) in an envelope signed by the named keys. */
static json_t *sign(json_t *signed_obj, const char *const *names)
{
	struct bw_signer *signers[16];
	json_t *env = NULL;
	size_t n = 0;
	struct bw_err err;

	for (; names != NULL && names[n] != NULL; n++) {
		if (n == 16)
			die("too many signers");
		signers[n] = key(names[n]);
	}
	if (bw_tuf_envelope_sign(signed_obj, signers, n, &env, &err) != 0)
		die("sign: %s", err.msg);
	json_decref(signed_obj);
	return env;
}

static struct blob canon(const json_t *env)
{
	struct blob b = {NULL, 0};
	struct bw_err err;

	if (bw_json_canonical_alloc(env, &b.p, &b.n, &err) != 0)
		die("canonical: %s", err.msg);
	return b;
}

/*
 * The bytes served for an envelope: its canonical JSON, unless that holds a
 * raw control character (canonical JSON leaves the newlines of a PEM key
 * unescaped, which is not valid JSON); then the same document as compact
 * JSON with sorted keys, which escapes them.
 */
static struct blob serve_bytes(const json_t *env)
{
	struct blob b = canon(env);
	char *text;

	for (size_t i = 0; i < b.n; i++) {
		if (b.p[i] >= 0x20)
			continue;
		free(b.p);
		text = nonnull(json_dumps(env, JSON_COMPACT | JSON_SORT_KEYS));
		b.p = (uint8_t *)text;
		b.n = strlen(text);
		break;
	}
	return b;
}

/* File name a role's metadata is served under in state s. */
static void meta_name(const struct st *s, const char *role, int version,
		      char *out, size_t outlen)
{
	if (strcmp(role, "timestamp") == 0)
		fmt(out, outlen, "timestamp.json");
	else if (strcmp(role, "root") == 0 || s->cs)
		fmt(out, outlen, "%d.%s.json", version, role);
	else
		fmt(out, outlen, "%s.json", role);
}

static void write_meta_bytes(const struct st *s, const char *fname,
			     const void *data, size_t len)
{
	char path[PATH_BUF];

	fmt(path, sizeof(path), "%s/metadata/%s", s->dir, fname);
	write_file(path, data, len);
}

/* {"version", "length", "hashes": {"sha256"}} of served bytes. */
static json_t *meta_of(int version, const struct blob *b)
{
	char hex[BW_HASH_MAX_HEX];

	sha256_hex(b->p, b->n, hex);
	return nonnull(json_pack("{s:i, s:I, s:{s:s}}", "version", version,
				 "length", (json_int_t)b->n, "hashes", "sha256",
				 hex));
}

/*
 * Write an envelope (stolen) as role's metadata and return its meta entry.
 * *out (optional) receives the served bytes.
 */
static json_t *publish_env(const struct st *s, const char *role, json_t *env,
			   struct blob *out)
{
	int version = (int)json_integer_value(
	    json_object_get(json_object_get(env, "signed"), "version"));
	char fname[PATH_BUF];
	json_t *meta;
	struct blob b;

	meta_name(s, role, version, fname, sizeof(fname));
	b = serve_bytes(env);
	json_decref(env);
	write_meta_bytes(s, fname, b.p, b.n);
	meta = meta_of(version, &b);
	if (out != NULL)
		*out = b;
	else
		free(b.p);
	return meta;
}

/* Sign signed_obj (stolen) with names and publish it as role. */
static json_t *publish(const struct st *s, const char *role, json_t *signed_obj,
		       const char *const *names, struct blob *out)
{
	return publish_env(s, role, sign(signed_obj, names), out);
}

/* As publish, for results nobody needs. */
static void publish0(const struct st *s, const char *role, json_t *signed_obj,
		     const char *const *names)
{
	json_decref(publish(s, role, signed_obj, names, NULL));
}

/* Publish a root; the first one of a scenario is also initial_root.json. */
static void publish_root(const struct st *s, json_t *root,
			 const char *const *names, int initial)
{
	char path[PATH_BUF];
	struct blob b;

	json_decref(publish(s, "root", root, names, &b));
	if (initial) {
		fmt(path, sizeof(path), "%s/initial_root.json", s->scen);
		write_file(path, b.p, b.n);
	}
	free(b.p);
}

/*
 * The key object of name with an extra field: the same key material under
 * another key id. *alias_id receives that key id.
 */
static json_t *alias_key(const char *name, char alias_id[BW_HASH_MAX_HEX])
{
	json_t *j = kjson(name);
	struct blob b;

	json_object_set_new(j, "x-bulwark-alias", json_string("same key"));
	b = canon(j);
	sha256_hex(b.p, b.n, alias_id);
	free(b.p);
	return j;
}

/* Append to env's signatures a copy of entry 0 under another key id. */
static void dup_signature(json_t *env, const char *as_keyid)
{
	json_t *sigs = json_object_get(env, "signatures");
	json_t *copy = nonnull(json_deep_copy(json_array_get(sigs, 0)));

	json_object_set_new(copy, "keyid", json_string(as_keyid));
	json_array_append_new(sigs, copy);
}

/* ---- targets and delegations -------------------------------------------- */

/* Serve data as target path: <dir>/<name_hash>.<base> with cs, else path. */
static void put_target_file(const struct st *s, const char *path,
			    const char *name_hash, const void *data, size_t len)
{
	char file[PATH_BUF];
	const char *slash = strrchr(path, '/');

	if (!s->cs)
		fmt(file, sizeof(file), "%s/targets/%s", s->dir, path);
	else if (slash == NULL)
		fmt(file, sizeof(file), "%s/targets/%s.%s", s->dir, name_hash,
		    path);
	else
		fmt(file, sizeof(file), "%s/targets/%.*s/%s.%s", s->dir,
		    (int)(slash - path), path, name_hash, slash + 1);
	write_file(file, data, len);
}

/* List path with data's length and sha256 in a targets object. */
static void list_target(json_t *tsigned, const char *path, const void *data,
			size_t len, char hex[BW_HASH_MAX_HEX])
{
	sha256_hex(data, len, hex);
	json_object_set_new(
	    json_object_get(tsigned, "targets"), path,
	    nonnull(json_pack("{s:I, s:{s:s}}", "length", (json_int_t)len,
			      "hashes", "sha256", hex)));
}

/* List a target and serve its content. */
static void add_target(const struct st *s, json_t *tsigned, const char *path,
		       const char *content)
{
	char hex[BW_HASH_MAX_HEX];

	list_target(tsigned, path, content, strlen(content), hex);
	put_target_file(s, path, hex, content, strlen(content));
}

static json_t *delegations_of(json_t *tsigned)
{
	json_t *d = json_object_get(tsigned, "delegations");

	if (d == NULL) {
		d = nonnull(json_pack("{s:{}, s:[]}", "keys", "roles"));
		json_object_set_new(tsigned, "delegations", d);
	}
	return d;
}

/* Delegate to role name; paths or prefixes (path_hash_prefixes) or both. */
static void delegate(json_t *tsigned, const char *name, const char *const *keys,
		     int threshold, int terminating, const char *const *paths,
		     const char *const *prefixes)
{
	json_t *d = delegations_of(tsigned);
	json_t *role = nonnull(
	    json_pack("{s:s, s:o, s:i, s:b}", "name", name, "keyids",
		      add_keys(json_object_get(d, "keys"), keys), "threshold",
		      threshold, "terminating", terminating));
	json_t *arr;

	if (paths != NULL) {
		arr = nonnull(json_array());
		for (size_t i = 0; paths[i] != NULL; i++)
			json_array_append_new(arr, json_string(paths[i]));
		json_object_set_new(role, "paths", arr);
	}
	if (prefixes != NULL) {
		arr = nonnull(json_array());
		for (size_t i = 0; prefixes[i] != NULL; i++)
			json_array_append_new(arr, json_string(prefixes[i]));
		json_object_set_new(role, "path_hash_prefixes", arr);
	}
	json_array_append_new(json_object_get(d, "roles"), role);
}

/* ---- server states and the standard top-level set ---------------------- */

static void st_open(struct st *s, const char *scen, const char *state, int cs)
{
	fmt(s->scen, sizeof(s->scen), "%s/%s", g_outdir, scen);
	if (state != NULL)
		fmt(s->dir, sizeof(s->dir), "%s/%s", s->scen, state);
	else
		fmt(s->dir, sizeof(s->dir), "%s", s->scen);
	s->cs = cs;
}

/*
 * Publish targets (stolen, signed by "targets"), a snapshot of version
 * sn_ver listing it plus snap_meta (stolen, may be NULL), and a timestamp
 * of version ts_ver; all valid.
 */
static void std_top(const struct st *s, json_t *tsigned, json_t *snap_meta,
		    int sn_ver, int ts_ver)
{
	json_t *m = snap_meta != NULL ? snap_meta : nonnull(json_object());
	json_t *sm;

	json_object_set_new(
	    m, "targets.json",
	    publish(s, "targets", tsigned, KEYS("targets"), NULL));
	sm = publish(s, "snapshot", mk_snapshot(sn_ver, VALID, m),
		     KEYS("snapshot"), NULL);
	publish0(s, "timestamp", mk_timestamp(ts_ver, VALID, sm),
		 KEYS("timestamp"));
}

/* std_root v1 (initial) and targets v1 with hello.txt. */
static json_t *std_start(const struct st *s)
{
	json_t *t;

	publish_root(s, std_root(1, VALID, s->cs), KEYS("root"), 1);
	t = mk_targets(1, VALID);
	add_target(s, t, "hello.txt", "hello from bulwark\n");
	return t;
}

/* ---- expected.json ----------------------------------------------------- */

static json_t *ex_step(const char *state, const char *refresh,
		       const char *reason, int root, int ts, int sn, int tg)
{
	json_t *e = nonnull(json_object());
	const int v[4] = {root, ts, sn, tg};
	const char *const names[4] = {"root.json", "timestamp.json",
				      "snapshot.json", "targets.json"};
	json_t *after = nonnull(json_object());

	if (state != NULL)
		json_object_set_new(e, "state", json_string(state));
	json_object_set_new(e, "refresh", json_string(refresh));
	json_object_set_new(e, "reason", json_string(reason));
	json_object_set_new(e, "download", json_object());
	for (int i = 0; i < 4; i++)
		json_object_set_new(after, names[i],
				    v[i] > 0 ? json_integer(v[i])
					     : json_null());
	json_object_set_new(e, "metadata_dir_after", after);
	return e;
}

static void ex_dl(json_t *step, const char *path, const char *outcome,
		  const char *why)
{
	json_t *r;

	json_object_set_new(json_object_get(step, "download"), path,
			    json_string(outcome));
	if (why == NULL)
		return;
	r = json_object_get(step, "download_reasons");
	if (r == NULL) {
		r = nonnull(json_object());
		json_object_set_new(step, "download_reasons", r);
	}
	json_object_set_new(r, path, json_string(why));
}

static void ex_dump(const char *scen, json_t *top)
{
	char path[PATH_BUF];
	char *text = nonnull(json_dumps(top, JSON_INDENT(2)));
	size_t n = strlen(text);
	char *line = nonnull(malloc(n + 2));

	memcpy(line, text, n);
	line[n] = '\n';
	line[n + 1] = '\0';
	fmt(path, sizeof(path), "%s/%s/expected.json", g_outdir, scen);
	write_file(path, line, n + 1);
	free(line);
	free(text);
	json_decref(top);
}

/* One server state: step (stolen) holds the outcome. */
static void ex_write(const char *scen, const char *desc, json_t *step)
{
	json_t *top = nonnull(
	    json_pack("{s:s, s:s}", "scenario", scen, "description", desc));

	json_object_update(top, step);
	json_decref(step);
	ex_dump(scen, top);
}

/* A sequence of two states (steps stolen). */
static void ex_write_seq(const char *scen, const char *desc, json_t *s1,
			 json_t *s2)
{
	json_t *top = nonnull(json_pack(
	    "{s:s, s:s, s:O, s:O, s:{}, s:[o, o]}", "scenario", scen,
	    "description", desc, "refresh", json_object_get(s2, "refresh"),
	    "reason", json_object_get(s2, "reason"), "download", "sequence", s1,
	    s2));

	ex_dump(scen, top);
}

/* ---- scenarios: valid repositories -------------------------------------- */

static void valid_repo(const char *name, int cs)
{
	struct st s;
	json_t *t, *e;

	st_open(&s, name, NULL, cs);
	publish_root(&s, std_root(1, VALID, cs), KEYS("root"), 1);
	t = mk_targets(2, VALID);
	add_target(&s, t, "hello.txt", "hello from bulwark\n");
	add_target(&s, t, "dir/sub/nested.bin", "nested target\n");
	add_target(&s, t, "files/notes \xc3\xbc \xe6\x97\xa5.txt",
		   "a path with a space and UTF-8\n");
	std_top(&s, t, NULL, 3, 4);
	e = ex_step(NULL, "ok", "valid repository", 1, 4, 3, 2);
	ex_dl(e, "hello.txt", "ok", NULL);
	ex_dl(e, "dir/sub/nested.bin", "ok", NULL);
	ex_dl(e, "files/notes \xc3\xbc \xe6\x97\xa5.txt", "ok", NULL);
	ex_dl(e, "missing.txt", "fail", "no role lists it");
	ex_write(name,
		 cs ? "valid repository, consistent snapshots on "
		      "(versions: timestamp 4, snapshot 3, targets 2; "
		      "hash-prefixed target files)"
		    : "valid repository, consistent snapshots off "
		      "(snapshot.json, targets.json, plain target files)",
		 e);
}

static void sc_valid_cs(const char *name)
{
	valid_repo(name, 1);
}

static void sc_valid_no_cs(const char *name)
{
	valid_repo(name, 0);
}

/* ---- scenarios: root rotation ----------------------------------------------
 */

/* Root of version v whose root role is keys/threshold; std other roles. */
static json_t *root_v(int v, const char *expires, int threshold,
		      const char *const *keys)
{
	json_t *r = mk_root(v, expires, 1);

	root_role(r, "root", threshold, keys);
	root_role(r, "timestamp", 1, KEYS("timestamp"));
	root_role(r, "snapshot", 1, KEYS("snapshot"));
	root_role(r, "targets", 1, KEYS("targets"));
	return r;
}

/* v1 root key R1; the rest of the repository valid at version 1. */
static void rot_start(struct st *s, const char *name)
{
	json_t *t;

	st_open(s, name, NULL, 1);
	publish_root(s, root_v(1, VALID, 1, KEYS("R1")), KEYS("R1"), 1);
	t = mk_targets(1, VALID);
	add_target(s, t, "hello.txt", "hello from bulwark\n");
	std_top(s, t, NULL, 1, 1);
}

static void rot_finish(const char *name, const char *desc, int ok,
		       const char *reason, int root)
{
	json_t *e = ex_step(NULL, ok ? "ok" : "fail", reason, root, ok ? 1 : 0,
			    ok ? 1 : 0, ok ? 1 : 0);

	ex_dl(e, "hello.txt", ok ? "ok" : "fail", NULL);
	ex_write(name, desc, e);
}

static void sc_root_rotation(const char *name)
{
	struct st s;

	rot_start(&s, name);
	publish_root(&s, root_v(2, VALID, 2, KEYS("R1", "R2", "R3")),
		     KEYS("R1", "R2"), 0);
	publish_root(&s, root_v(3, VALID, 2, KEYS("R2", "R3")),
		     KEYS("R2", "R3"), 0);
	rot_finish(name,
		   "root 1 -> 2 -> 3: v1 R1 threshold 1; v2 adds R2, R3 "
		   "and raises the threshold to 2 (signed by R1, R2); v3 "
		   "removes R1 (signed by R2, R3)",
		   1,
		   "every new root is signed by a threshold of the old and of "
		   "its own keys; the client ends at root v3",
		   3);
}

static void sc_root_unsigned_by_old(const char *name)
{
	struct st s;

	rot_start(&s, name);
	publish_root(&s, root_v(2, VALID, 1, KEYS("R2")), KEYS("R2"), 0);
	rot_finish(name,
		   "2.root.json replaces R1 by R2 and is signed by R2 "
		   "only",
		   0,
		   "2.root.json is not signed by a threshold of "
		   "trusted root v1's keys (TUF 5.3.4); root stays at v1",
		   1);
}

static void sc_root_threshold_unmet(const char *name)
{
	struct st s;

	rot_start(&s, name);
	publish_root(&s, root_v(2, VALID, 2, KEYS("R1", "R2")), KEYS("R1"), 0);
	rot_finish(name,
		   "2.root.json lists R1, R2 with threshold 2 and is "
		   "signed by R1 only",
		   0,
		   "2.root.json is signed by 1 of its "
		   "own threshold of 2 (TUF 5.3.5); root stays at v1",
		   1);
}

static void sc_root_version_skip(const char *name)
{
	struct st s;
	struct blob b;
	json_t *env;

	rot_start(&s, name);
	env = sign(root_v(3, VALID, 1, KEYS("R1")), KEYS("R1"));
	b = serve_bytes(env);
	json_decref(env);
	write_meta_bytes(&s, "2.root.json", b.p, b.n);
	free(b.p);
	rot_finish(name,
		   "the file served as 2.root.json is a validly signed "
		   "root whose version is 3",
		   0,
		   "2.root.json has version 3, "
		   "not 2 (TUF 5.3.5: version must be trusted + 1)",
		   1);
}

static void sc_root_expired(const char *name)
{
	struct st s;

	rot_start(&s, name);
	publish_root(&s, root_v(2, EXPIRED, 1, KEYS("R1")), KEYS("R1"), 0);
	rot_finish(name,
		   "2.root.json (the newest root, correctly signed) "
		   "expired 2020-01-01T00:00:00Z",
		   0,
		   "the final root is expired (TUF 5.3.10 freeze attack); v2 "
		   "itself is verified and persisted (5.3.8) before that check",
		   2);
}

static void sc_root_expired_intermediate(const char *name)
{
	struct st s;

	rot_start(&s, name);
	publish_root(&s, root_v(2, EXPIRED, 1, KEYS("R1")), KEYS("R1"), 0);
	publish_root(&s, root_v(3, VALID, 1, KEYS("R1")), KEYS("R1"), 0);
	rot_finish(name,
		   "2.root.json expired 2020-01-01T00:00:00Z, "
		   "3.root.json is valid",
		   1,
		   "only the final root's expiry "
		   "matters (TUF 5.3.10); the client ends at root v3",
		   3);
}

static void sc_root_one_key_two_keyids(const char *name)
{
	struct st s;
	char alias[BW_HASH_MAX_HEX];
	json_t *r, *roles, *env, *ak;

	rot_start(&s, name);
	r = root_v(2, VALID, 2, KEYS("R1"));
	ak = alias_key("R1", alias);
	json_object_set_new(json_object_get(r, "keys"), alias, ak);
	roles = json_object_get(json_object_get(r, "roles"), "root");
	json_array_append_new(json_object_get(roles, "keyids"),
			      json_string(alias));
	env = sign(r, KEYS("R1"));
	dup_signature(env, alias);
	json_decref(publish_env(&s, "root", env, NULL));
	rot_finish(name,
		   "2.root.json lists root key R1 twice, under its key "
		   "id and under a second key id (the key object with an "
		   "extra field), threshold 2, and carries R1's signature "
		   "under both key ids",
		   0,
		   "one key counted twice: 2.root.json has 1 distinct signing "
		   "key of threshold 2 (python-tuf counts key ids and would "
		   "accept it)",
		   1);
}

/* state1 trusted ts/sn v3; state2 rotates timestamp+snapshot keys and
 * serves ts/sn v1 signed by the new keys. */
static void sc_rotate_ts_sn_keys(const char *name)
{
	struct st s1, s2;
	json_t *t, *r, *e1, *e2, *m, *sm;

	st_open(&s1, name, "state1", 1);
	publish_root(&s1, std_root(1, VALID, 1), KEYS("root"), 1);
	t = mk_targets(1, VALID);
	add_target(&s1, t, "hello.txt", "hello from bulwark\n");
	std_top(&s1, t, NULL, 3, 3);

	st_open(&s2, name, "state2", 1);
	publish_root(&s2, std_root(1, VALID, 1), KEYS("root"), 0);
	r = mk_root(2, VALID, 1);
	root_role(r, "root", 1, KEYS("root"));
	root_role(r, "timestamp", 1, KEYS("timestamp-2"));
	root_role(r, "snapshot", 1, KEYS("snapshot-2"));
	root_role(r, "targets", 1, KEYS("targets"));
	publish_root(&s2, r, KEYS("root"), 0);
	t = mk_targets(1, VALID);
	add_target(&s2, t, "hello.txt", "hello from bulwark\n");
	m = nonnull(json_object());
	json_object_set_new(m, "targets.json",
			    publish(&s2, "targets", t, KEYS("targets"), NULL));
	sm = publish(&s2, "snapshot", mk_snapshot(1, VALID, m),
		     KEYS("snapshot-2"), NULL);
	publish0(&s2, "timestamp", mk_timestamp(1, VALID, sm),
		 KEYS("timestamp-2"));

	e1 = ex_step("state1", "ok", "valid repository", 1, 3, 3, 1);
	ex_dl(e1, "hello.txt", "ok", NULL);
	e2 = ex_step("state2", "ok",
		     "root v2 rotates the timestamp and "
		     "snapshot keys; the cached v3 timestamp/snapshot no "
		     "longer verify and must be dropped (TUF 5.3.11, fast-"
		     "forward attack recovery), so the new v1 ones are "
		     "accepted",
		     2, 1, 1, 1);
	ex_dl(e2, "hello.txt", "ok", NULL);
	ex_write_seq(name,
		     "state1: timestamp/snapshot v3 signed by the old "
		     "keys; state2: root v2 with new timestamp and snapshot "
		     "keys, timestamp/snapshot v1 signed by them",
		     e1, e2);
}

/* ---- scenarios: expiry ----------------------------------------------------
 */

/* Top-level set with one role expired. */
static void expired_role(const char *name, const char *role)
{
	struct st s;
	json_t *t, *m, *sm, *e;
	int is_ts = strcmp(role, "timestamp") == 0;
	int is_sn = strcmp(role, "snapshot") == 0;
	int is_tg = strcmp(role, "targets") == 0;
	char desc[256], why[256];

	st_open(&s, name, NULL, 1);
	t = std_start(&s);
	json_object_set_new(t, "expires", json_string(is_tg ? EXPIRED : VALID));
	m = nonnull(json_object());
	json_object_set_new(m, "targets.json",
			    publish(&s, "targets", t, KEYS("targets"), NULL));
	sm = publish(&s, "snapshot", mk_snapshot(1, is_sn ? EXPIRED : VALID, m),
		     KEYS("snapshot"), NULL);
	publish0(&s, "timestamp", mk_timestamp(1, is_ts ? EXPIRED : VALID, sm),
		 KEYS("timestamp"));
	fmt(desc, sizeof(desc),
	    "%s (correctly signed) expired %s; the other "
	    "roles are valid",
	    role, EXPIRED);
	fmt(why, sizeof(why),
	    "%s is expired (freeze attack); it must not be "
	    "persisted",
	    role);
	e = ex_step(NULL, "fail", why, 1, is_ts ? 0 : 1, is_ts || is_sn ? 0 : 1,
		    0);
	ex_dl(e, "hello.txt", "fail", NULL);
	ex_write(name, desc, e);
}

static void sc_expired_timestamp(const char *name)
{
	expired_role(name, "timestamp");
}

static void sc_expired_snapshot(const char *name)
{
	expired_role(name, "snapshot");
}

static void sc_expired_targets(const char *name)
{
	expired_role(name, "targets");
}

/* ---- scenarios: rollback ------------------------------------------------- */

/*
 * A valid state at the given versions (targets lists hello.txt and, from
 * version 2 on, hello-2.txt). Older targets/snapshot files stay served.
 */
static void versioned_state(const struct st *s, int initial, int ts, int sn,
			    int tg)
{
	json_t *t, *m = NULL, *sm = NULL;

	publish_root(s, std_root(1, VALID, 1), KEYS("root"), initial);
	for (int v = 1; v <= tg; v++) {
		t = mk_targets(v, VALID);
		add_target(s, t, "hello.txt", "hello from bulwark\n");
		if (v >= 2)
			add_target(s, t, "hello-2.txt", "hello again\n");
		m = publish(s, "targets", t, KEYS("targets"), NULL);
		if (v < tg)
			json_decref(m);
	}
	for (int v = 1; v <= sn; v++) {
		json_t *meta = nonnull(json_object());

		json_object_set(meta, "targets.json", m);
		sm = publish(s, "snapshot", mk_snapshot(v, VALID, meta),
			     KEYS("snapshot"), NULL);
		if (v < sn)
			json_decref(sm);
	}
	json_decref(m);
	publish0(s, "timestamp", mk_timestamp(ts, VALID, sm),
		 KEYS("timestamp"));
}

static json_t *state1_v2(const char *name)
{
	struct st s1;
	json_t *e1;

	st_open(&s1, name, "state1", 1);
	versioned_state(&s1, 1, 2, 2, 2);
	e1 = ex_step("state1", "ok", "valid repository", 1, 2, 2, 2);
	ex_dl(e1, "hello.txt", "ok", NULL);
	ex_dl(e1, "hello-2.txt", "ok", NULL);
	return e1;
}

static void sc_rollback_timestamp(const char *name)
{
	json_t *e1 = state1_v2(name), *e2;
	struct st s2;

	st_open(&s2, name, "state2", 1);
	/* Only the timestamp goes back: the v1 timestamp lists the trusted
	 * snapshot v2, so no other check (5.4.3.2's snapshot version, 5.5.5)
	 * has anything to refuse; the timestamp version check alone does. */
	versioned_state(&s2, 0, 1, 2, 2);
	e2 = ex_step("state2", "fail",
		     "timestamp rollback: trusted v2, "
		     "served v1 (validly signed, listing the trusted snapshot "
		     "v2) (TUF 5.4.3.1)",
		     1, 2, 2, 2);
	ex_dl(e2, "hello.txt", "fail", NULL);
	ex_write_seq(name,
		     "state1: timestamp/snapshot/targets v2; state2: the "
		     "same repository with an older timestamp v1 that lists "
		     "snapshot v2",
		     e1, e2);
}

static void sc_rollback_snapshot(const char *name)
{
	json_t *e1 = state1_v2(name), *e2, *t, *m, *sm;
	struct st s2;

	st_open(&s2, name, "state2", 1);
	publish_root(&s2, std_root(1, VALID, 1), KEYS("root"), 0);
	t = mk_targets(1, VALID);
	add_target(&s2, t, "hello.txt", "hello from bulwark\n");
	m = nonnull(json_object());
	json_object_set_new(m, "targets.json",
			    publish(&s2, "targets", t, KEYS("targets"), NULL));
	sm = publish(&s2, "snapshot", mk_snapshot(1, VALID, m),
		     KEYS("snapshot"), NULL);
	publish0(&s2, "timestamp", mk_timestamp(3, VALID, sm),
		 KEYS("timestamp"));
	e2 = ex_step("state2", "fail",
		     "snapshot rollback: the new timestamp "
		     "v3 lists snapshot v1, the trusted timestamp listed v2 "
		     "(TUF 5.4.3.2); the new timestamp is rejected",
		     1, 2, 2, 2);
	ex_dl(e2, "hello.txt", "fail", NULL);
	ex_write_seq(name,
		     "state1: v2 everywhere; state2: a newer timestamp v3 "
		     "that lists the old snapshot v1 (validly signed)",
		     e1, e2);
}

static void sc_rollback_targets(const char *name)
{
	json_t *e1 = state1_v2(name), *e2, *t, *m, *sm;
	struct st s2;

	st_open(&s2, name, "state2", 1);
	publish_root(&s2, std_root(1, VALID, 1), KEYS("root"), 0);
	t = mk_targets(1, VALID);
	add_target(&s2, t, "hello.txt", "hello from bulwark\n");
	m = nonnull(json_object());
	json_object_set_new(m, "targets.json",
			    publish(&s2, "targets", t, KEYS("targets"), NULL));
	sm = publish(&s2, "snapshot", mk_snapshot(3, VALID, m),
		     KEYS("snapshot"), NULL);
	publish0(&s2, "timestamp", mk_timestamp(3, VALID, sm),
		 KEYS("timestamp"));
	e2 = ex_step("state2", "fail",
		     "targets rollback: the new snapshot v3 "
		     "lists targets v1, the trusted snapshot listed v2 (TUF "
		     "5.5.5); timestamp v3 is valid and kept, the snapshot is "
		     "rejected",
		     1, 3, 2, 2);
	ex_dl(e2, "hello.txt", "fail", NULL);
	ex_write_seq(name,
		     "state1: v2 everywhere; state2: timestamp and "
		     "snapshot v3 (valid), snapshot lists the old targets v1",
		     e1, e2);
}

/* ---- scenarios: mismatches between referrer and served file ------------- */

/* Single state: only a defect between snapshot and targets. */
static void sc_mix_and_match(const char *name)
{
	struct st s;
	json_t *t, *m, *sm, *e;

	st_open(&s, name, NULL, 0);
	t = std_start(&s);
	json_decref(publish(&s, "targets", t, KEYS("targets"), NULL));
	m = nonnull(json_pack("{s:{s:i}}", "targets.json", "version", 2));
	sm = publish(&s, "snapshot", mk_snapshot(1, VALID, m), KEYS("snapshot"),
		     NULL);
	publish0(&s, "timestamp", mk_timestamp(1, VALID, sm),
		 KEYS("timestamp"));
	e = ex_step(NULL, "fail",
		    "mix-and-match: snapshot lists targets v2, "
		    "the served targets.json is v1 (TUF 5.6.2 version check)",
		    1, 1, 1, 0);
	ex_dl(e, "hello.txt", "fail", NULL);
	ex_write(name,
		 "consistent snapshots off; snapshot lists targets.json "
		 "version 2 (version only), the server serves a validly "
		 "signed targets.json version 1",
		 e);
}

enum snap_defect { SNAP_LEN_PLUS1, SNAP_BAD_HASH, SNAP_SERVED_LONGER };

/* timestamp -> snapshot defects. */
static void snapshot_defect(const char *name, enum snap_defect d)
{
	struct st s;
	json_t *t, *m, *sm, *e, *env;
	struct blob b;
	char fname[64];
	const char *desc = NULL, *why = NULL;

	st_open(&s, name, NULL, 1);
	t = std_start(&s);
	m = nonnull(json_object());
	json_object_set_new(m, "targets.json",
			    publish(&s, "targets", t, KEYS("targets"), NULL));
	env = sign(mk_snapshot(1, VALID, m), KEYS("snapshot"));
	b = serve_bytes(env);
	json_decref(env);
	sm = meta_of(1, &b);
	fmt(fname, sizeof(fname), "1.snapshot.json");
	switch (d) {
	case SNAP_LEN_PLUS1:
		json_object_set_new(sm, "length",
				    json_integer((json_int_t)b.n + 1));
		write_meta_bytes(&s, fname, b.p, b.n);
		desc =
		    "timestamp lists the snapshot's length + 1 (sha256 right)";
		why =
		    "snapshot length differs from the timestamp's (TUF 5.5.2)";
		break;
	case SNAP_BAD_HASH:
		json_object_set_new(
		    json_object_get(sm, "hashes"), "sha256",
		    json_string("00000000000000000000000000000000"
				"00000000000000000000000000000000"));
		write_meta_bytes(&s, fname, b.p, b.n);
		desc =
		    "timestamp lists the snapshot's length and a wrong sha256";
		why =
		    "snapshot sha256 differs from the timestamp's (TUF 5.5.2)";
		break;
	case SNAP_SERVED_LONGER: {
		size_t extra = 64 * 1024;
		uint8_t *p = nonnull(malloc(b.n + extra));

		memcpy(p, b.p, b.n);
		memset(p + b.n, ' ', extra);
		write_meta_bytes(&s, fname, p, b.n + extra);
		free(p);
		desc = "timestamp lists the snapshot's true length and sha256; "
		       "the server sends the snapshot followed by 64 KiB of "
		       "spaces";
		why = "endless data: more bytes than the listed length; the "
		      "client must stop at the length and fail";
		break;
	}
	}
	free(b.p);
	publish0(&s, "timestamp", mk_timestamp(1, VALID, sm),
		 KEYS("timestamp"));
	e = ex_step(NULL, "fail", why, 1, 1, 0, 0);
	ex_dl(e, "hello.txt", "fail", NULL);
	ex_write(name, desc, e);
}

static void sc_ts_snapshot_length(const char *name)
{
	snapshot_defect(name, SNAP_LEN_PLUS1);
}

static void sc_ts_snapshot_hash(const char *name)
{
	snapshot_defect(name, SNAP_BAD_HASH);
}

static void sc_snapshot_longer(const char *name)
{
	snapshot_defect(name, SNAP_SERVED_LONGER);
}

static void sc_snapshot_targets_hash(const char *name)
{
	struct st s;
	json_t *t, *m, *tm, *sm, *e;

	st_open(&s, name, NULL, 1);
	t = std_start(&s);
	tm = publish(&s, "targets", t, KEYS("targets"), NULL);
	json_object_set_new(json_object_get(tm, "hashes"), "sha256",
			    json_string("ffffffffffffffffffffffffffffffff"
					"ffffffffffffffffffffffffffffffff"));
	m = nonnull(json_pack("{s:o}", "targets.json", tm));
	sm = publish(&s, "snapshot", mk_snapshot(1, VALID, m), KEYS("snapshot"),
		     NULL);
	publish0(&s, "timestamp", mk_timestamp(1, VALID, sm),
		 KEYS("timestamp"));
	e = ex_step(NULL, "fail",
		    "targets sha256 differs from the snapshot's "
		    "(TUF 5.6.2)",
		    1, 1, 1, 0);
	ex_dl(e, "hello.txt", "fail", NULL);
	ex_write(name,
		 "snapshot lists targets v1 with the right length and a "
		 "wrong sha256",
		 e);
}

static void sc_oversize_timestamp(const char *name)
{
	struct st s;
	json_t *t, *m, *sm, *ts, *e;
	char *pad = nonnull(malloc(20001));

	st_open(&s, name, NULL, 1);
	t = std_start(&s);
	m = nonnull(json_object());
	json_object_set_new(m, "targets.json",
			    publish(&s, "targets", t, KEYS("targets"), NULL));
	sm = publish(&s, "snapshot", mk_snapshot(1, VALID, m), KEYS("snapshot"),
		     NULL);
	ts = mk_timestamp(1, VALID, sm);
	memset(pad, 'x', 20000);
	pad[20000] = '\0';
	json_object_set_new(ts, "x-padding", json_string(pad));
	free(pad);
	publish0(&s, "timestamp", ts, KEYS("timestamp"));
	e = ex_step(NULL, "fail",
		    "timestamp.json is larger than the 16 KiB "
		    "the client accepts for it (endless data)",
		    1, 0, 0, 0);
	ex_dl(e, "hello.txt", "fail", NULL);
	ex_write(name,
		 "a validly signed timestamp.json of about 20 KiB (a "
		 "custom field holds 20000 characters)",
		 e);
}

/* ---- scenarios: signatures --------------------------------------------- */

/* Targets role with keys T1, T2 (root lists them); env handled by fn. */
static void targets_sig_defect(const char *name, int mode)
{
	struct st s;
	json_t *r, *t, *env, *m, *sm, *e, *ak, *ids;
	char alias[BW_HASH_MAX_HEX];
	const char *desc, *why;

	st_open(&s, name, NULL, 1);
	r = mk_root(1, VALID, 1);
	root_role(r, "root", 1, KEYS("root"));
	root_role(r, "timestamp", 1, KEYS("timestamp"));
	root_role(r, "snapshot", 1, KEYS("snapshot"));
	if (mode == 2) {
		root_role(r, "targets", 2, KEYS("T1"));
		ak = alias_key("T1", alias);
		json_object_set_new(json_object_get(r, "keys"), alias, ak);
		ids = json_object_get(
		    json_object_get(json_object_get(r, "roles"), "targets"),
		    "keyids");
		json_array_append_new(ids, json_string(alias));
	} else {
		root_role(r, "targets", 2, KEYS("T1", "T2"));
	}
	publish_root(&s, r, KEYS("root"), 1);
	t = mk_targets(1, VALID);
	add_target(&s, t, "hello.txt", "hello from bulwark\n");
	env = sign(t, KEYS("T1"));
	if (mode == 0) {
		desc = "targets lists keys T1, T2 with threshold 2; only T1 "
		       "signs";
		why = "targets is signed by 1 of threshold 2 keys (TUF 5.6.3)";
	} else if (mode == 1) {
		dup_signature(env, kid("T1"));
		desc = "targets lists keys T1, T2 with threshold 2; T1's "
		       "signature is listed twice";
		why = "the same key id signs twice: 1 distinct key of "
		      "threshold 2";
	} else {
		dup_signature(env, alias);
		desc = "root lists key T1 under two key ids (the second key "
		       "object has an extra field) as the targets keys, "
		       "threshold 2; targets carries T1's signature under "
		       "both key ids";
		why = "one key counted twice: 1 distinct key of threshold 2 "
		      "(python-tuf counts key ids and would accept it)";
	}
	m = nonnull(json_object());
	json_object_set_new(m, "targets.json",
			    publish_env(&s, "targets", env, NULL));
	sm = publish(&s, "snapshot", mk_snapshot(1, VALID, m), KEYS("snapshot"),
		     NULL);
	publish0(&s, "timestamp", mk_timestamp(1, VALID, sm),
		 KEYS("timestamp"));
	e = ex_step(NULL, "fail", why, 1, 1, 1, 0);
	ex_dl(e, "hello.txt", "fail", NULL);
	ex_write(name, desc, e);
}

static void sc_targets_threshold(const char *name)
{
	targets_sig_defect(name, 0);
}

static void sc_targets_dup_sig(const char *name)
{
	targets_sig_defect(name, 1);
}

static void sc_targets_one_key_two_ids(const char *name)
{
	targets_sig_defect(name, 2);
}

static void sc_timestamp_wrong_key(const char *name)
{
	struct st s;
	json_t *t, *m, *sm, *e;

	st_open(&s, name, NULL, 1);
	t = std_start(&s);
	m = nonnull(json_object());
	json_object_set_new(m, "targets.json",
			    publish(&s, "targets", t, KEYS("targets"), NULL));
	sm = publish(&s, "snapshot", mk_snapshot(1, VALID, m), KEYS("snapshot"),
		     NULL);
	publish0(&s, "timestamp", mk_timestamp(1, VALID, sm), KEYS("targets"));
	e = ex_step(NULL, "fail",
		    "timestamp is signed by the targets key, "
		    "not by a timestamp key (0 of threshold 1)",
		    1, 0, 0, 0);
	ex_dl(e, "hello.txt", "fail", NULL);
	ex_write(name, "timestamp.json is signed by the targets role's key", e);
}

static void sc_snapshot_wrong_type(const char *name)
{
	struct st s;
	json_t *t, *m, *sn, *sm, *e;

	st_open(&s, name, NULL, 1);
	t = std_start(&s);
	m = nonnull(json_object());
	json_object_set_new(m, "targets.json",
			    publish(&s, "targets", t, KEYS("targets"), NULL));
	sn = mk_snapshot(1, VALID, m);
	json_object_set_new(sn, "_type", json_string("timestamp"));
	sm = publish(&s, "snapshot", sn, KEYS("snapshot"), NULL);
	publish0(&s, "timestamp", mk_timestamp(1, VALID, sm),
		 KEYS("timestamp"));
	e = ex_step(NULL, "fail", "the snapshot file's _type is \"timestamp\"",
		    1, 1, 0, 0);
	ex_dl(e, "hello.txt", "fail", NULL);
	ex_write(name,
		 "1.snapshot.json is validly signed by the snapshot key "
		 "and listed correctly by timestamp, but its _type is "
		 "\"timestamp\"",
		 e);
}

/* TUF 4.2: a key id is listed once in signatures, threshold met or not. */
static void sc_snapshot_duplicate_keyid(const char *name)
{
	struct st s;
	json_t *t, *m, *env, *sm, *e;

	st_open(&s, name, NULL, 1);
	t = std_start(&s);
	m = nonnull(json_object());
	json_object_set_new(m, "targets.json",
			    publish(&s, "targets", t, KEYS("targets"), NULL));
	env = sign(mk_snapshot(1, VALID, m), KEYS("snapshot"));
	dup_signature(env, kid("snapshot"));
	sm = publish_env(&s, "snapshot", env, NULL);
	publish0(&s, "timestamp", mk_timestamp(1, VALID, sm),
		 KEYS("timestamp"));
	e = ex_step(NULL, "fail",
		    "the snapshot key id appears twice in signatures "
		    "(the threshold of 1 is met without the duplicate)",
		    1, 1, 0, 0);
	ex_dl(e, "hello.txt", "fail", NULL);
	ex_write(name,
		 "snapshot.json carries its one valid signature twice under "
		 "the same key id",
		 e);
}

/* ---- scenarios: delegations -----------------------------------------------
 */

/* Publish a delegated role (stolen) and list it in snapshot meta m. */
static void publish_deleg(const struct st *s, json_t *m, const char *role,
			  json_t *signed_obj, const char *const *names)
{
	char file[PATH_BUF];

	fmt(file, sizeof(file), "%s.json", role);
	json_object_set_new(m, file, publish(s, role, signed_obj, names, NULL));
}

/* First two hex digits of sha256(path). */
static void path_prefix(const char *path, char out[3])
{
	char hex[BW_HASH_MAX_HEX];

	sha256_hex(path, strlen(path), hex);
	out[0] = hex[0];
	out[1] = hex[1];
	out[2] = '\0';
}

static void sc_delegations(const char *name)
{
	struct st s;
	json_t *t, *a, *a1, *a2, *b, *o1, *o2, *m, *e;
	char pfx_in[3], pfx_out[3], out_name[64], hex[BW_HASH_MAX_HEX];
	const char *const prefixes[2] = {pfx_in, NULL};
	const char *o2_text = "o/x.txt as o2 lists it\n";

	st_open(&s, name, NULL, 1);
	publish_root(&s, std_root(1, VALID, 1), KEYS("root"), 1);
	path_prefix("b/in.txt", pfx_in);
	for (int i = 0;; i++) {
		fmt(out_name, sizeof(out_name), "b/out-%d.txt", i);
		path_prefix(out_name, pfx_out);
		if (strcmp(pfx_in, pfx_out) != 0)
			break;
	}
	t = mk_targets(1, VALID);
	add_target(&s, t, "top.txt", "listed by targets\n");
	delegate(t, "a", KEYS("deleg-a"), 1, 0, KEYS("a/*"), NULL);
	delegate(t, "b", KEYS("deleg-b"), 1, 0, NULL, prefixes);
	delegate(t, "o1", KEYS("deleg-o1"), 1, 0, KEYS("o/*"), NULL);
	delegate(t, "o2", KEYS("deleg-o2"), 1, 0, KEYS("o/*"), NULL);

	a = mk_targets(1, VALID);
	add_target(&s, a, "a/a.txt", "listed by a\n");
	add_target(&s, a, "a/sub/deep.txt", "listed by a outside a/*\n");
	add_target(&s, a, "c/outside-a.txt", "listed by a outside a/*\n");
	delegate(a, "a1", KEYS("ecdsa-a1"), 1, 1, KEYS("a/a1-*"), NULL);
	delegate(a, "a2", KEYS("deleg-a2"), 1, 0, KEYS("a/*"), NULL);
	a1 = mk_targets(1, VALID);
	add_target(&s, a1, "a/a1-fw.bin", "listed by a1\n");
	a2 = mk_targets(1, VALID);
	add_target(&s, a2, "a/a2-cfg.txt", "listed by a2\n");
	add_target(&s, a2, "a/a1-shadow.txt", "listed by a2 only\n");
	b = mk_targets(1, VALID);
	add_target(&s, b, "b/in.txt", "listed by b, prefix delegated\n");
	add_target(&s, b, out_name, "listed by b, prefix not delegated\n");
	o1 = mk_targets(1, VALID);
	add_target(&s, o1, "o/x.txt", "o/x.txt as o1 lists it\n");
	o2 = mk_targets(1, VALID);
	/* o2's version of o/x.txt is not on the server. */
	list_target(o2, "o/x.txt", o2_text, strlen(o2_text), hex);

	m = nonnull(json_object());
	publish_deleg(&s, m, "a", a, KEYS("deleg-a"));
	publish_deleg(&s, m, "a1", a1, KEYS("ecdsa-a1"));
	publish_deleg(&s, m, "a2", a2, KEYS("deleg-a2"));
	publish_deleg(&s, m, "b", b, KEYS("deleg-b"));
	publish_deleg(&s, m, "o1", o1, KEYS("deleg-o1"));
	publish_deleg(&s, m, "o2", o2, KEYS("deleg-o2"));
	std_top(&s, t, m, 1, 1);

	e = ex_step(NULL, "ok",
		    "valid repository; lookups follow the "
		    "pre-order depth-first delegation search (TUF 5.7)",
		    1, 1, 1, 1);
	ex_dl(e, "top.txt", "ok", "listed by targets");
	ex_dl(e, "a/a.txt", "ok", "listed by a");
	ex_dl(e, "a/a1-fw.bin", "ok", "listed by a1 (ecdsa key), via a");
	ex_dl(e, "a/a2-cfg.txt", "ok",
	      "listed by a2; the terminating a1 "
	      "does not match it, so the search goes on");
	ex_dl(e, "b/in.txt", "ok",
	      "listed by b; its path hash prefix is "
	      "delegated");
	ex_dl(e, "o/x.txt", "ok",
	      "o1 and o2 both list it with different "
	      "hashes; o1 comes first and wins (only o1's file is served)");
	ex_dl(e, "a/a1-shadow.txt", "fail",
	      "only a2 lists it, but a1 is "
	      "terminating and matches a/a1-*: the search stops at a1");
	ex_dl(e, "a/sub/deep.txt", "fail",
	      "'*' does not match '/': a is not "
	      "trusted for it");
	ex_dl(e, "c/outside-a.txt", "fail", "a lists it outside its paths");
	ex_dl(e, out_name, "fail",
	      "b lists it, but its path hash prefix is "
	      "not delegated to b");
	ex_write(name,
		 "targets delegates, in order, to a (a/*), b "
		 "(path_hash_prefixes), o1 (o/*), o2 (o/*); a delegates to "
		 "a1 (a/a1-*, terminating, ecdsa key generated at run time) "
		 "and a2 (a/*)",
		 e);
}

static void sc_delegation_cycle(const char *name)
{
	struct st s;
	json_t *t, *ca, *cb, *m, *e;

	st_open(&s, name, NULL, 1);
	publish_root(&s, std_root(1, VALID, 1), KEYS("root"), 1);
	t = mk_targets(1, VALID);
	add_target(&s, t, "top.txt", "listed by targets\n");
	delegate(t, "cyc-a", KEYS("deleg-a"), 1, 0, KEYS("*"), NULL);
	ca = mk_targets(1, VALID);
	delegate(ca, "cyc-b", KEYS("deleg-b"), 1, 0, KEYS("*"), NULL);
	cb = mk_targets(1, VALID);
	add_target(&s, cb, "in-b.txt", "listed by cyc-b\n");
	delegate(cb, "cyc-a", KEYS("deleg-a"), 1, 0, KEYS("*"), NULL);
	m = nonnull(json_object());
	publish_deleg(&s, m, "cyc-a", ca, KEYS("deleg-a"));
	publish_deleg(&s, m, "cyc-b", cb, KEYS("deleg-b"));
	std_top(&s, t, m, 1, 1);
	e = ex_step(NULL, "ok", "valid metadata with a delegation cycle", 1, 1,
		    1, 1);
	ex_dl(e, "top.txt", "ok", NULL);
	ex_dl(e, "in-b.txt", "ok", "targets -> cyc-a -> cyc-b lists it");
	ex_dl(e, "nowhere.txt", "fail",
	      "no role lists it; the search must "
	      "not loop through cyc-a -> cyc-b -> cyc-a and must end");
	ex_write(name,
		 "targets delegates * to cyc-a, cyc-a to cyc-b, cyc-b "
		 "back to cyc-a",
		 e);
}

#define CHAIN_LEN 34

static void sc_delegation_chain(const char *name)
{
	struct st s;
	json_t *t, *roles[CHAIN_LEN + 1], *m, *e;
	char rn[16], why[160];

	st_open(&s, name, NULL, 1);
	publish_root(&s, std_root(1, VALID, 1), KEYS("root"), 1);
	t = mk_targets(1, VALID);
	add_target(&s, t, "top.txt", "listed by targets\n");
	roles[0] = t;
	for (int i = 1; i <= CHAIN_LEN; i++) {
		fmt(rn, sizeof(rn), "c%02d", i);
		delegate(roles[i - 1], rn, KEYS("deleg-chain"), 1, 0, KEYS("*"),
			 NULL);
		roles[i] = mk_targets(1, VALID);
	}
	add_target(&s, roles[3], "shallow.txt", "listed by c03\n");
	add_target(&s, roles[CHAIN_LEN], "deep.txt", "listed by the last\n");
	m = nonnull(json_object());
	for (int i = 1; i <= CHAIN_LEN; i++) {
		fmt(rn, sizeof(rn), "c%02d", i);
		publish_deleg(&s, m, rn, roles[i], KEYS("deleg-chain"));
	}
	std_top(&s, t, m, 1, 1);
	e = ex_step(NULL, "ok", "valid repository", 1, 1, 1, 1);
	ex_dl(e, "top.txt", "ok", NULL);
	ex_dl(e, "shallow.txt", "ok", "listed by c03 (4th role visited)");
	fmt(why, sizeof(why),
	    "only c%02d lists it: the lookup would visit %d "
	    "roles, more than the 32 allowed; it must stop and fail cleanly",
	    CHAIN_LEN, CHAIN_LEN + 1);
	ex_dl(e, "deep.txt", "fail", why);
	ex_write(name,
		 "a chain of 34 delegations targets -> c01 -> ... -> "
		 "c34, each for *",
		 e);
}

static void sc_hash_bins(const char *name)
{
	struct st s;
	json_t *t, *bins[8], *m, *e, *d;
	char path[64], rn[16], why[160];
	uint8_t dg[32];
	int bin = 0;

	st_open(&s, name, NULL, 1);
	publish_root(&s, std_root(1, VALID, 1), KEYS("root"), 1);
	t = mk_targets(1, VALID);
	d = nonnull(json_pack("{s:{}, s:{s:[s], s:i, s:i, s:s}}", "keys",
			      "succinct_roles", "keyids", kid("bins-key"),
			      "threshold", 1, "bit_length", 3, "name_prefix",
			      "bins"));
	json_object_set_new(json_object_get(d, "keys"), kid("bins-key"),
			    kjson("bins-key"));
	json_object_set_new(t, "delegations", d);
	for (int i = 0; i < 8; i++)
		bins[i] = mk_targets(1, VALID);
	e = ex_step(NULL, "ok", "valid repository", 1, 1, 1, 1);
	for (int i = 0; i < 6; i++) {
		fmt(path, sizeof(path), "files/f-%d.txt", i);
		CK(bw_hash_buf(BW_HASH_SHA256, path, strlen(path), dg));
		bin = dg[0] >> 5; /* the first bit_length (3) bits */
		add_target(&s, bins[bin], path, path);
		ex_dl(e, path, "ok", NULL);
	}
	CK(bw_hash_buf(BW_HASH_SHA256, "files/misplaced.txt", 19, dg));
	bin = dg[0] >> 5;
	add_target(&s, bins[(bin + 1) % 8], "files/misplaced.txt",
		   "wrong bin\n");
	fmt(why, sizeof(why),
	    "it hashes to bins-%x, which does not list it; "
	    "bins-%x lists it but is not trusted for it",
	    bin, (bin + 1) % 8);
	ex_dl(e, "files/misplaced.txt", "fail", why);
	m = nonnull(json_object());
	for (int i = 0; i < 8; i++) {
		fmt(rn, sizeof(rn), "bins-%x", i);
		publish_deleg(&s, m, rn, bins[i], KEYS("bins-key"));
	}
	std_top(&s, t, m, 1, 1);
	ex_write(name,
		 "succinct hash-bin delegation (TAP 15), bit_length 3, "
		 "name_prefix bins: bins-0 ... bins-7, one shared key; six "
		 "targets in their bins, one in the wrong bin",
		 e);
}

static void sc_delegated_not_in_snapshot(const char *name)
{
	struct st s;
	json_t *t, *a, *e;

	st_open(&s, name, NULL, 1);
	publish_root(&s, std_root(1, VALID, 1), KEYS("root"), 1);
	t = mk_targets(1, VALID);
	add_target(&s, t, "top.txt", "listed by targets\n");
	delegate(t, "a", KEYS("deleg-a"), 1, 0, KEYS("a/*"), NULL);
	a = mk_targets(1, VALID);
	add_target(&s, a, "a/x.txt", "listed by a\n");
	publish0(&s, "a", a, KEYS("deleg-a"));
	std_top(&s, t, NULL, 1, 1);
	e = ex_step(NULL, "ok", "valid top-level metadata", 1, 1, 1, 1);
	ex_dl(e, "top.txt", "ok", NULL);
	ex_dl(e, "a/x.txt", "fail",
	      "snapshot does not list a.json: role a "
	      "can not be verified (TUF 5.6.1 / 5.7)");
	ex_write(name,
		 "targets delegates a/* to a; 1.a.json is on the server "
		 "but snapshot does not list a.json",
		 e);
}

/* ---- scenarios: target files -----------------------------------------------
 */

enum file_defect { FILE_OTHER_CONTENT, FILE_LONGER, FILE_SHORTER };

static void target_file_defect(const char *name, enum file_defect d)
{
	static const char *const served[] = {
	    "firmware IMAGE v6.6\n",
	    "firmware image v1.0\nand more bytes after it\n",
	    "firmware image",
	};
	static const char *const why[] = {
	    "the served file's sha256 differs from the signed one",
	    "the server sends more bytes than the signed length",
	    "the server sends fewer bytes than the signed length",
	};
	static const char *const desc[] = {
	    "firmware.bin is served with the signed length and other content",
	    "firmware.bin is served with extra bytes after the signed content",
	    "firmware.bin is served truncated (a prefix of the signed content)",
	};
	struct st s;
	json_t *t, *e;
	char hex[BW_HASH_MAX_HEX];
	const char *good = "firmware image v1.0\n";

	st_open(&s, name, NULL, 1);
	t = std_start(&s);
	list_target(t, "firmware.bin", good, strlen(good), hex);
	put_target_file(&s, "firmware.bin", hex, served[d], strlen(served[d]));
	std_top(&s, t, NULL, 1, 1);
	e = ex_step(NULL, "ok", "valid metadata", 1, 1, 1, 1);
	ex_dl(e, "hello.txt", "ok", NULL);
	ex_dl(e, "firmware.bin", "fail", why[d]);
	ex_write(name, desc[d], e);
}

static void sc_target_hash(const char *name)
{
	target_file_defect(name, FILE_OTHER_CONTENT);
}

static void sc_target_length(const char *name)
{
	target_file_defect(name, FILE_LONGER);
}

static void sc_target_shorter(const char *name)
{
	target_file_defect(name, FILE_SHORTER);
}

static void sc_bad_target_paths(const char *name)
{
	static const char *const bad[] = {"../escape.txt", "/abs.txt",
					  "a/../../x"};
	/* Where a client that resolves the URL naively would fetch them. */
	static const char *const served[] = {"escape.txt", "targets/abs.txt",
					     "x"};
	struct st s;
	json_t *t, *e;
	char hex[BW_HASH_MAX_HEX], path[PATH_BUF];
	struct bw_err err;

	st_open(&s, name, NULL, 0);
	t = std_start(&s);
	e = ex_step(NULL, "ok", "valid metadata", 1, 1, 1, 1);
	ex_dl(e, "hello.txt", "ok", NULL);
	fmt(path, sizeof(path), "%s/targets/a", s.dir);
	if (bw_io_mkdirs(path, 0755, &err) != 0)
		die("mkdir %s: %s", path, err.msg);
	for (size_t i = 0; i < 3; i++) {
		list_target(t, bad[i], "escaped!\n", 9, hex);
		fmt(path, sizeof(path), "%s/%s", s.dir, served[i]);
		write_file(path, "escaped!\n", 9);
		ex_dl(e, bad[i], "fail",
		      "a target path with '..' segments or "
		      "a leading '/' is refused; nothing is written outside "
		      "the target dir (stricter than tuf-js, which fetches "
		      "and stores it under a flat encoded name)");
	}
	std_top(&s, t, NULL, 1, 1);
	ex_write(name,
		 "targets lists ../escape.txt, /abs.txt and a/../../x "
		 "(files served where naive URL resolution would look)",
		 e);
}

/* ---- scenarios: more format and delegation defects ----------------------- */

static void sc_root_threshold_zero(const char *name)
{
	struct st s;
	json_t *r;

	rot_start(&s, name);
	r = root_v(2, VALID, 1, KEYS("R1"));
	json_object_set_new(
	    json_object_get(json_object_get(r, "roles"), "targets"),
	    "threshold", json_integer(0));
	publish_root(&s, r, KEYS("R1"), 0);
	rot_finish(name,
		   "2.root.json (signed by R1) gives the targets role "
		   "threshold 0",
		   0,
		   "a threshold must be at least 1: "
		   "2.root.json is malformed; root stays at v1",
		   1);
}

/* Insert text into b at offset at. */
static void blob_insert(struct blob *b, size_t at, const char *text)
{
	size_t n = strlen(text);
	uint8_t *p = nonnull(malloc(b->n + n));

	memcpy(p, b->p, at);
	memcpy(p + at, text, n);
	memcpy(p + at + n, b->p + at, b->n - at);
	free(b->p);
	b->p = p;
	b->n += n;
}

static void sc_timestamp_duplicate_key(const char *name)
{
	static const char tail[] = "\"version\":1}}";
	struct st s;
	json_t *t, *m, *sm, *env, *e;
	struct blob b;

	st_open(&s, name, NULL, 1);
	t = std_start(&s);
	m = nonnull(json_object());
	json_object_set_new(m, "targets.json",
			    publish(&s, "targets", t, KEYS("targets"), NULL));
	sm = publish(&s, "snapshot", mk_snapshot(1, VALID, m), KEYS("snapshot"),
		     NULL);
	env = sign(mk_timestamp(1, VALID, sm), KEYS("timestamp"));
	b = serve_bytes(env);
	json_decref(env);
	/* Canonical: the envelope ends with signed.version, the last key. */
	if (b.n < sizeof(tail) ||
	    memcmp(b.p + b.n - (sizeof(tail) - 1), tail, sizeof(tail) - 1))
		die("unexpected timestamp tail");
	blob_insert(&b, b.n - (sizeof(tail) - 1), "\"version\":2,");
	write_meta_bytes(&s, "timestamp.json", b.p, b.n);
	free(b.p);
	e = ex_step(NULL, "fail",
		    "duplicate key \"version\" in signed: the "
		    "JSON is ambiguous and must be rejected (python's json "
		    "keeps the last value, which is the signed one, so "
		    "python-tuf would accept it)",
		    1, 0, 0, 0);
	ex_dl(e, "hello.txt", "fail", NULL);
	ex_write(name,
		 "timestamp.json's signed object has \"version\":2 "
		 "followed by \"version\":1; the signature covers the object "
		 "with version 1",
		 e);
}

static void sc_unsupported_spec_version(const char *name)
{
	struct st s;
	json_t *t, *e;

	st_open(&s, name, NULL, 1);
	t = std_start(&s);
	json_object_set_new(t, "spec_version", json_string("2.0.0"));
	std_top(&s, t, NULL, 1, 1);
	e = ex_step(NULL, "fail",
		    "targets has spec_version 2.0.0: a major "
		    "version this client does not implement",
		    1, 1, 1, 0);
	ex_dl(e, "hello.txt", "fail", NULL);
	ex_write(name,
		 "targets.json (validly signed) says spec_version "
		 "\"2.0.0\"",
		 e);
}

static void sc_snapshot_version_mismatch(const char *name)
{
	struct st s;
	json_t *t, *m, *sm, *env, *e;
	struct blob b;

	st_open(&s, name, NULL, 1);
	t = std_start(&s);
	m = nonnull(json_object());
	json_object_set_new(m, "targets.json",
			    publish(&s, "targets", t, KEYS("targets"), NULL));
	env = sign(mk_snapshot(1, VALID, m), KEYS("snapshot"));
	b = serve_bytes(env);
	json_decref(env);
	write_meta_bytes(&s, "2.snapshot.json", b.p, b.n);
	free(b.p);
	sm = nonnull(json_pack("{s:i}", "version", 2));
	publish0(&s, "timestamp", mk_timestamp(1, VALID, sm),
		 KEYS("timestamp"));
	e = ex_step(NULL, "fail",
		    "snapshot version 1, timestamp lists 2 "
		    "(TUF 5.5.3)",
		    1, 1, 0, 0);
	ex_dl(e, "hello.txt", "fail", NULL);
	ex_write(name,
		 "timestamp lists snapshot version 2 (version only); "
		 "2.snapshot.json is a validly signed snapshot version 1",
		 e);
}

enum deleg_defect { DELEG_BAD_SIG, DELEG_EXPIRED, DELEG_VERSION };

static void delegated_defect(const char *name, enum deleg_defect d)
{
	static const char *const why[] = {
	    "a.json is signed by a key a's delegation does not list",
	    "a.json is expired",
	    "snapshot lists a.json version 2, the served 2.a.json says 1",
	};
	static const char *const desc[] = {
	    "targets delegates a/* to a; a.json is signed by the wrong key",
	    "targets delegates a/* to a; a.json expired 2020-01-01T00:00:00Z",
	    "targets delegates a/* to a; snapshot lists a.json version 2, "
	    "the server serves a validly signed version 1 as 2.a.json",
	};
	struct st s;
	json_t *t, *a, *m, *e, *am;
	struct blob b;

	st_open(&s, name, NULL, 1);
	publish_root(&s, std_root(1, VALID, 1), KEYS("root"), 1);
	t = mk_targets(1, VALID);
	add_target(&s, t, "top.txt", "listed by targets\n");
	delegate(t, "a", KEYS("deleg-a"), 1, 0, KEYS("a/*"), NULL);
	a = mk_targets(1, d == DELEG_EXPIRED ? EXPIRED : VALID);
	add_target(&s, a, "a/x.txt", "listed by a\n");
	m = nonnull(json_object());
	am =
	    publish(&s, "a", a,
		    d == DELEG_BAD_SIG ? KEYS("deleg-b") : KEYS("deleg-a"), &b);
	if (d == DELEG_VERSION) {
		json_decref(am);
		am = nonnull(json_pack("{s:i}", "version", 2));
		write_meta_bytes(&s, "2.a.json", b.p, b.n);
	}
	free(b.p);
	json_object_set_new(m, "a.json", am);
	std_top(&s, t, m, 1, 1);
	e = ex_step(NULL, "ok", "valid top-level metadata", 1, 1, 1, 1);
	ex_dl(e, "top.txt", "ok", NULL);
	ex_dl(e, "a/x.txt", "fail", why[d]);
	ex_write(name, desc[d], e);
}

static void sc_deleg_bad_sig(const char *name)
{
	delegated_defect(name, DELEG_BAD_SIG);
}

static void sc_deleg_expired(const char *name)
{
	delegated_defect(name, DELEG_EXPIRED);
}

static void sc_deleg_version(const char *name)
{
	delegated_defect(name, DELEG_VERSION);
}

/*
 * A delegated role named "../../escape-role". No outcome is prescribed
 * ("download_any"): whatever the client does, the role's metadata must
 * not be written outside the metadata dir (checked by
 * test_tuf_scenarios.py). cs off: a client that percent-encodes the name
 * asks for metadata/..%2F..%2Fescape-role.json, which the test server
 * decodes and normalises to <scenario>/escape-role.json, where the file is.
 */
static void sc_role_name_traversal(const char *name)
{
	struct st s;
	json_t *t, *a, *m, *e;
	struct blob b;
	char path[PATH_BUF];

	st_open(&s, name, NULL, 0);
	publish_root(&s, std_root(1, VALID, 0), KEYS("root"), 1);
	t = mk_targets(1, VALID);
	add_target(&s, t, "top.txt", "listed by targets\n");
	delegate(t, "../../escape-role", KEYS("deleg-a"), 1, 0, KEYS("e/*"),
		 NULL);
	a = mk_targets(1, VALID);
	add_target(&s, a, "e/x.txt", "listed by ../../escape-role\n");
	m = nonnull(json_object());
	json_object_set_new(m, "../../escape-role.json",
			    publish(&s, "escape-role", a, KEYS("deleg-a"), &b));
	fmt(path, sizeof(path), "%s/escape-role.json", s.dir);
	write_file(path, b.p, b.n);
	free(b.p);
	std_top(&s, t, m, 1, 1);
	e = ex_step(NULL, "ok", "valid metadata", 1, 1, 1, 1);
	ex_dl(e, "top.txt", "ok", NULL);
	json_object_set_new(e, "download_any",
			    nonnull(json_pack("{s:s}", "e/x.txt",
					      "ok or fail; nothing may be "
					      "written outside the metadata "
					      "and target dirs")));
	ex_write(name,
		 "targets delegates e/* to a role named "
		 "\"../../escape-role\"",
		 e);
}

static void sc_delegation_both_selectors(const char *name)
{
	struct st s;
	json_t *t, *a, *m, *e;

	st_open(&s, name, NULL, 1);
	publish_root(&s, std_root(1, VALID, 1), KEYS("root"), 1);
	t = mk_targets(1, VALID);
	add_target(&s, t, "hello.txt", "hello from bulwark\n");
	delegate(t, "a", KEYS("deleg-a"), 1, 0, KEYS("a/*"), KEYS("00", "ff"));
	a = mk_targets(1, VALID);
	m = nonnull(json_object());
	publish_deleg(&s, m, "a", a, KEYS("deleg-a"));
	std_top(&s, t, m, 1, 1);
	e = ex_step(NULL, "fail",
		    "a delegated role has both paths and "
		    "path_hash_prefixes (exactly one is allowed): targets.json "
		    "is malformed",
		    1, 1, 1, 0);
	ex_dl(e, "hello.txt", "fail", NULL);
	ex_write(name,
		 "targets delegates to a with both \"paths\" and "
		 "\"path_hash_prefixes\"",
		 e);
}

static void sc_delegation_glob(const char *name)
{
	struct st s;
	json_t *t, *q, *m, *e;

	st_open(&s, name, NULL, 1);
	publish_root(&s, std_root(1, VALID, 1), KEYS("root"), 1);
	t = mk_targets(1, VALID);
	delegate(t, "q", KEYS("deleg-a"), 1, 0,
		 KEYS("q/file-?.txt", "r/[ab].txt", "s/*.bin"), NULL);
	q = mk_targets(1, VALID);
	add_target(&s, q, "q/file-1.txt", "q1\n");
	add_target(&s, q, "q/file-10.txt", "q10\n");
	add_target(&s, q, "r/a.txt", "ra\n");
	add_target(&s, q, "r/c.txt", "rc\n");
	add_target(&s, q, "s/x.bin", "sx\n");
	add_target(&s, q, "s/x.bin.sig", "sxs\n");
	m = nonnull(json_object());
	publish_deleg(&s, m, "q", q, KEYS("deleg-a"));
	std_top(&s, t, m, 1, 1);
	e = ex_step(NULL, "ok",
		    "valid repository; delegated paths are "
		    "shell-style patterns matched per path segment (fnmatch: "
		    "*, ?, [seq]) as python-tuf does",
		    1, 1, 1, 1);
	ex_dl(e, "q/file-1.txt", "ok", "matches q/file-?.txt");
	ex_dl(e, "q/file-10.txt", "fail", "'?' matches exactly one character");
	ex_dl(e, "r/a.txt", "ok", "matches r/[ab].txt");
	ex_dl(e, "r/c.txt", "fail", "c is not in [ab]");
	ex_dl(e, "s/x.bin", "ok", "matches s/*.bin");
	ex_dl(e, "s/x.bin.sig", "fail",
	      "the pattern must match the whole "
	      "name: s/*.bin does not match s/x.bin.sig");
	ex_write(name,
		 "targets delegates q/file-?.txt, r/[ab].txt and "
		 "s/*.bin to q, which lists matching and non-matching paths",
		 e);
}

static void sc_target_special_chars(const char *name)
{
	static const char *const paths[] = {
	    "pct/a%20b.txt",	   "pct/q?x=1.txt",
	    "pct/hash#frag.txt",   "pct/plus+sign&amp;.txt",
	    "pct/semi;colon:.txt",
	};
	struct st s;
	json_t *t, *e;

	st_open(&s, name, NULL, 1);
	t = std_start(&s);
	e = ex_step(NULL, "ok", "valid repository", 1, 1, 1, 1);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		add_target(&s, t, paths[i], paths[i]);
		ex_dl(e, paths[i], "ok",
		      "characters that are special in URLs "
		      "must be percent-encoded ('%' as %25, '?' as %3F, '#' as "
		      "%23), as bulwark's client contract says (python's "
		      "urllib.parse.quote); python-tuf and tuf-js put the path "
		      "into the URL as it is and fail here");
	}
	std_top(&s, t, NULL, 1, 1);
	ex_write(name,
		 "target paths with %, ?, #, +, &, ; and : (served "
		 "under their literal names, hash-prefixed)",
		 e);
}

static void sc_snapshot_without_targets(const char *name)
{
	struct st s;
	json_t *t, *m, *sm, *e;

	st_open(&s, name, NULL, 1);
	t = std_start(&s);
	json_decref(publish(&s, "targets", t, KEYS("targets"), NULL));
	m = nonnull(json_object());
	sm = publish(&s, "snapshot", mk_snapshot(1, VALID, m), KEYS("snapshot"),
		     NULL);
	publish0(&s, "timestamp", mk_timestamp(1, VALID, sm),
		 KEYS("timestamp"));
	e = ex_step(NULL, "fail",
		    "snapshot does not list targets.json: the "
		    "top-level targets can not be verified",
		    1, 1, 1, 0);
	ex_dl(e, "hello.txt", "fail", NULL);
	ex_write(name,
		 "snapshot.meta is empty (no targets.json entry); "
		 "1.targets.json is on the server",
		 e);
}

static void sc_timestamp_without_snapshot(const char *name)
{
	struct st s;
	json_t *t, *ts, *e;

	st_open(&s, name, NULL, 1);
	t = std_start(&s);
	std_top(&s, t, NULL, 1, 1);
	/* Overwrite timestamp.json with one whose meta lacks snapshot.json. */
	ts = mk_timestamp(2, VALID, nonnull(json_pack("{s:i}", "version", 1)));
	json_object_set_new(ts, "meta", json_object());
	publish0(&s, "timestamp", ts, KEYS("timestamp"));
	e = ex_step(NULL, "fail",
		    "timestamp.meta must hold exactly "
		    "snapshot.json: timestamp.json is malformed",
		    1, 0, 0, 0);
	ex_dl(e, "hello.txt", "fail", NULL);
	ex_write(name,
		 "timestamp.json (validly signed) has an empty meta "
		 "object",
		 e);
}

/* state1: ts/sn v3; state2: root v2 with the same keys, ts/sn v1. */
static void sc_root_rotation_keeps_rollback(const char *name)
{
	struct st s1, s2;
	json_t *t, *e1, *e2;

	st_open(&s1, name, "state1", 1);
	publish_root(&s1, std_root(1, VALID, 1), KEYS("root"), 1);
	t = mk_targets(1, VALID);
	add_target(&s1, t, "hello.txt", "hello from bulwark\n");
	std_top(&s1, t, NULL, 3, 3);

	st_open(&s2, name, "state2", 1);
	publish_root(&s2, std_root(1, VALID, 1), KEYS("root"), 0);
	publish_root(&s2, std_root(2, VALID, 1), KEYS("root"), 0);
	t = mk_targets(1, VALID);
	add_target(&s2, t, "hello.txt", "hello from bulwark\n");
	std_top(&s2, t, NULL, 1, 1);

	e1 = ex_step("state1", "ok", "valid repository", 1, 3, 3, 1);
	ex_dl(e1, "hello.txt", "ok", NULL);
	e2 = ex_step("state2", "fail",
		     "root v2 keeps the timestamp and snapshot keys, so the "
		     "trusted timestamp v3 stays trusted (TUF 5.3.11 only "
		     "drops it when the keys change) and timestamp v1 is a "
		     "rollback; root v2 itself is verified and kept",
		     2, 3, 3, 1);
	ex_dl(e2, "hello.txt", "fail", NULL);
	ex_write_seq(name,
		     "state1: timestamp/snapshot v3; state2: root v2 with the "
		     "same keys for every role and timestamp/snapshot v1",
		     e1, e2);
}

static void sc_initial_root_expired(const char *name)
{
	struct st s;
	json_t *t, *e;

	st_open(&s, name, NULL, 1);
	publish_root(&s, std_root(1, EXPIRED, 1), KEYS("root"), 1);
	publish_root(&s, std_root(2, VALID, 1), KEYS("root"), 0);
	t = mk_targets(1, VALID);
	add_target(&s, t, "hello.txt", "hello from bulwark\n");
	std_top(&s, t, NULL, 1, 1);
	e = ex_step(NULL, "ok",
		    "the provisioned root may be expired (TUF 5.2 "
		    "does not check it); the client updates to root v2, which "
		    "is not",
		    2, 1, 1, 1);
	ex_dl(e, "hello.txt", "ok", NULL);
	ex_write(name,
		 "initial_root.json (root v1) expired "
		 "2020-01-01T00:00:00Z; 2.root.json is valid",
		 e);
}

static void sc_target_edge_files(const char *name)
{
	static const char sha512_text[] = "listed with sha512 only\n";
	char hex[BW_HASH_MAX_HEX];
	struct st s;
	json_t *t, *e;

	st_open(&s, name, NULL, 1);
	t = std_start(&s);
	add_target(&s, t, "empty.txt", "");
	CK(bw_hash_buf_hex(BW_HASH_SHA512, sha512_text, strlen(sha512_text),
			   hex));
	json_object_set_new(json_object_get(t, "targets"), "sha512-only.txt",
			    nonnull(json_pack("{s:I, s:{s:s}}", "length",
					      (json_int_t)strlen(sha512_text),
					      "hashes", "sha512", hex)));
	put_target_file(&s, "sha512-only.txt", hex, sha512_text,
			strlen(sha512_text));
	std_top(&s, t, NULL, 1, 1);
	e = ex_step(NULL, "ok", "valid repository", 1, 1, 1, 1);
	ex_dl(e, "hello.txt", "ok", NULL);
	ex_dl(e, "empty.txt", "ok", "a zero-length target is a valid target");
	ex_dl(e, "sha512-only.txt", "ok",
	      "listed with a sha512 hash only "
	      "(served as <sha512>.sha512-only.txt)");
	ex_write(name,
		 "targets lists an empty file and a file with only a "
		 "sha512 hash",
		 e);
}

/* ---- main ---------------------------------------------------------------- */

struct scenario {
	const char *name;
	void (*fn)(const char *name);
};

static const struct scenario scenarios[] = {
    {"valid-cs", sc_valid_cs},
    {"valid-no-cs", sc_valid_no_cs},
    {"root-rotation", sc_root_rotation},
    {"root-rotation-unsigned-by-old", sc_root_unsigned_by_old},
    {"root-rotation-threshold-unmet", sc_root_threshold_unmet},
    {"root-version-skip", sc_root_version_skip},
    {"root-expired", sc_root_expired},
    {"root-expired-intermediate", sc_root_expired_intermediate},
    {"root-one-key-two-keyids", sc_root_one_key_two_keyids},
    {"rotate-timestamp-snapshot-keys", sc_rotate_ts_sn_keys},
    {"expired-timestamp", sc_expired_timestamp},
    {"expired-snapshot", sc_expired_snapshot},
    {"expired-targets", sc_expired_targets},
    {"rollback-timestamp", sc_rollback_timestamp},
    {"rollback-snapshot", sc_rollback_snapshot},
    {"rollback-targets", sc_rollback_targets},
    {"mix-and-match-targets", sc_mix_and_match},
    {"timestamp-snapshot-length-mismatch", sc_ts_snapshot_length},
    {"timestamp-snapshot-hash-mismatch", sc_ts_snapshot_hash},
    {"snapshot-served-longer", sc_snapshot_longer},
    {"snapshot-targets-hash-mismatch", sc_snapshot_targets_hash},
    {"oversize-timestamp", sc_oversize_timestamp},
    {"targets-threshold-unmet", sc_targets_threshold},
    {"targets-duplicate-signature", sc_targets_dup_sig},
    {"targets-one-key-two-keyids", sc_targets_one_key_two_ids},
    {"timestamp-signed-by-targets-key", sc_timestamp_wrong_key},
    {"snapshot-wrong-type", sc_snapshot_wrong_type},
    {"snapshot-duplicate-keyid", sc_snapshot_duplicate_keyid},
    {"delegations", sc_delegations},
    {"delegation-cycle", sc_delegation_cycle},
    {"delegation-chain", sc_delegation_chain},
    {"hash-bins", sc_hash_bins},
    {"delegated-role-not-in-snapshot", sc_delegated_not_in_snapshot},
    {"target-hash-mismatch", sc_target_hash},
    {"target-length-mismatch", sc_target_length},
    {"bad-target-paths", sc_bad_target_paths},
    {"target-length-shorter", sc_target_shorter},
    {"root-threshold-zero", sc_root_threshold_zero},
    {"timestamp-duplicate-json-key", sc_timestamp_duplicate_key},
    {"unsupported-spec-version", sc_unsupported_spec_version},
    {"snapshot-version-mismatch", sc_snapshot_version_mismatch},
    {"delegated-role-bad-signature", sc_deleg_bad_sig},
    {"delegated-role-expired", sc_deleg_expired},
    {"delegated-role-version-mismatch", sc_deleg_version},
    {"delegated-role-name-traversal", sc_role_name_traversal},
    {"delegation-both-selectors", sc_delegation_both_selectors},
    {"delegation-glob-patterns", sc_delegation_glob},
    {"target-special-chars", sc_target_special_chars},
    {"snapshot-without-targets", sc_snapshot_without_targets},
    {"timestamp-without-snapshot", sc_timestamp_without_snapshot},
    {"root-rotation-keeps-rollback", sc_root_rotation_keeps_rollback},
    {"initial-root-expired", sc_initial_root_expired},
    {"target-edge-files", sc_target_edge_files},
};

#define NSCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

static void run(const struct scenario *sc)
{
	char dir[PATH_BUF];
	struct stat sb;

	fmt(dir, sizeof(dir), "%s/%s", g_outdir, sc->name);
	if (stat(dir, &sb) == 0)
		die("%s exists; refusing to mix old and new files", dir);
	sc->fn(sc->name);
}

int main(int argc, char **argv)
{
	struct bw_err err;

	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < NSCENARIOS; i++)
			puts(scenarios[i].name);
		return 0;
	}
	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: tuf_gen OUTDIR [SCENARIO...]\n"
				"       tuf_gen --list\n");
		return 2;
	}
	g_outdir = argv[1];
	if (bw_io_mkdirs(g_outdir, 0755, &err) != 0)
		die("mkdir %s: %s", g_outdir, err.msg);
	for (int a = 2; a < argc; a++) {
		size_t i = 0;

		while (i < NSCENARIOS && strcmp(argv[a], scenarios[i].name))
			i++;
		if (i == NSCENARIOS)
			die("unknown scenario %s", argv[a]);
	}
	for (size_t i = 0; i < NSCENARIOS; i++) {
		int wanted = argc == 2;

		for (int a = 2; a < argc && !wanted; a++)
			wanted = strcmp(argv[a], scenarios[i].name) == 0;
		if (wanted)
			run(&scenarios[i]);
	}
	for (size_t i = 0; i < g_nkeys; i++)
		bw_signer_free(g_keys[i].s);
	return 0;
}
