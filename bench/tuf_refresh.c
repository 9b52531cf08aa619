/*
 * bench/tuf_refresh: TUF client refresh cost against generated
 * repositories of 1k, 10k and 100k targets and one of 256 hash bins.
 *
 * For each repository: a cold refresh (empty metadata cache), a warm
 * refresh (nothing changed), peak RSS of each (measured in a forked child),
 * and the floor on this machine: strict-parse the same targets.json, hash
 * it and verify one signature. The transport is a local directory read
 * through the fetcher interface, so the figures are the client's own cost.
 * Bounded: a fixed number of runs per measurement.
 */
#include <errno.h>
#include <spawn.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bulwark/buf.h"
#include "bulwark/crypto.h"
#include "bulwark/hash.h"
#include "bulwark/json.h"
#include "bulwark/tuf.h"

#define RUNS 5

extern char **environ;
#define EXPIRES "2099-01-01T00:00:00Z"
#define MAX_FILE (256u * 1024u * 1024u)

static struct bw_signer *keys[5]; /* root, timestamp, snapshot, targets, bins */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *what, const struct bw_err *err)
{
	fprintf(stderr, "tuf_refresh: %s: %s\n", what, err ? err->msg : "");
	exit(1);
}

/* ---- repository generation ------------------------------------------- */

static void put(const char *dir, const char *name, json_t *signed_obj,
		struct bw_signer *s, size_t *len_out, char *sha_out)
{
	struct bw_err err;
	json_t *env = NULL;
	uint8_t *bytes = NULL;
	size_t len = 0;
	char path[1024];

	if (bw_tuf_envelope_sign(signed_obj, &s, 1, &env, &err) != 0 ||
	    bw_json_canonical_alloc(env, &bytes, &len, &err) != 0)
		die("sign", &err);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (bw_io_write_atomic(path, bytes, len, 0644, &err) != 0)
		die("write", &err);
	if (len_out != NULL)
		*len_out = len;
	if (sha_out != NULL)
		bw_hash_buf_hex(BW_HASH_SHA256, bytes, len, sha_out);
	free(bytes);
	json_decref(env);
	json_decref(signed_obj);
}

static json_t *common(const char *type)
{
	return json_pack("{s:s,s:s,s:i,s:s}", "_type", type, "spec_version",
			 "1.0.31", "version", 1, "expires", EXPIRES);
}

static json_t *key_json(struct bw_signer *s)
{
	json_t *k = NULL;

	bw_key_to_json(bw_signer_key(s), &k, NULL);
	return k;
}

static json_t *role(struct bw_signer *s)
{
	return json_pack("{s:[s],s:i}", "keyids", bw_signer_key(s)->keyid,
			 "threshold", 1);
}

static json_t *target_entry(size_t i)
{
	char content[64], sha256[BW_HASH_MAX_HEX], sha512[BW_HASH_MAX_HEX];

	snprintf(content, sizeof(content), "firmware image %zu\n", i);
	bw_hash_buf_hex(BW_HASH_SHA256, content, strlen(content), sha256);
	bw_hash_buf_hex(BW_HASH_SHA512, content, strlen(content), sha512);
	return json_pack("{s:I,s:{s:s,s:s},s:{s:I,s:[s],s:[s]}}", "length",
			 (json_int_t)strlen(content), "hashes", "sha256", sha256,
			 "sha512", sha512, "custom", "version", (json_int_t)i,
			 "hardwareIds", "board-a", "tags", "main");
}

/* Top-level targets with n targets, or 2^bits hash bins holding them. */
static void gen_repo(const char *dir, size_t n, int bits)
{
	json_t *root = common("root"), *rkeys = json_object();
	json_t *targets = common("targets"), *snap = common("snapshot");
	json_t *ts = common("timestamp"), *tmap = json_object();
	json_t *smeta = json_object();
	char sha[BW_HASH_MAX_HEX], name[256];
	size_t len;

	mkdir(dir, 0755);
	for (int i = 0; i < 4; i++)
		json_object_set_new(rkeys, bw_signer_key(keys[i])->keyid,
				    key_json(keys[i]));
	json_object_set_new(root, "keys", rkeys);
	json_object_set_new(root, "consistent_snapshot", json_false());
	json_object_set_new(root, "roles",
			    json_pack("{s:o,s:o,s:o,s:o}", "root", role(keys[0]),
				      "timestamp", role(keys[1]), "snapshot",
				      role(keys[2]), "targets", role(keys[3])));
	put(dir, "1.root.json", root, keys[0], NULL, NULL);
	if (bits == 0) {
		for (size_t i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "files/target-%06zu.bin", i);
			json_object_set_new(tmap, name, target_entry(i));
		}
	} else {
		size_t nbins = (size_t)1 << bits;
		json_t **bins = calloc(nbins, sizeof(*bins));
		json_t *bkeys = json_object();

		for (size_t b = 0; b < nbins; b++) {
			bins[b] = common("targets");
			json_object_set_new(bins[b], "targets", json_object());
		}
		for (size_t i = 0; i < n; i++) {
			uint8_t d[32];

			snprintf(name, sizeof(name), "files/target-%06zu.bin", i);
			bw_hash_buf(BW_HASH_SHA256, name, strlen(name), d);
			json_object_set_new(
				json_object_get(bins[d[0] >> (8 - bits)], "targets"),
				name, target_entry(i));
		}
		for (size_t b = 0; b < nbins; b++) {
			char fname[64];

			snprintf(fname, sizeof(fname), "bins-%02zx.json", b);
			put(dir, fname, bins[b], keys[4], &len, sha);
			fname[strlen(fname)] = '\0';
			json_object_set_new(smeta, fname,
					    json_pack("{s:i,s:I,s:{s:s}}", "version", 1,
						      "length", (json_int_t)len,
						      "hashes", "sha256", sha));
		}
		json_object_set_new(bkeys, bw_signer_key(keys[4])->keyid,
				    key_json(keys[4]));
		json_object_set_new(
			targets, "delegations",
			json_pack("{s:o,s:{s:[s],s:i,s:i,s:s}}", "keys", bkeys,
				  "succinct_roles", "keyids",
				  bw_signer_key(keys[4])->keyid, "threshold", 1,
				  "bit_length", bits, "name_prefix", "bins"));
		free(bins);
	}
	json_object_set_new(targets, "targets", tmap);
	put(dir, "targets.json", targets, keys[3], &len, sha);
	json_object_set_new(smeta, "targets.json",
			    json_pack("{s:i,s:I,s:{s:s}}", "version", 1, "length",
				      (json_int_t)len, "hashes", "sha256", sha));
	json_object_set_new(snap, "meta", smeta);
	put(dir, "snapshot.json", snap, keys[2], &len, sha);
	json_object_set_new(ts, "meta",
			    json_pack("{s:{s:i,s:I,s:{s:s}}}", "snapshot.json",
				      "version", 1, "length", (json_int_t)len,
				      "hashes", "sha256", sha));
	put(dir, "timestamp.json", ts, keys[1], NULL, NULL);
}

/* ---- transport: files of a directory ---------------------------------- */

static int dir_fetch(struct bw_fetcher *f, const char *url, uint64_t offset,
		     uint64_t max_len, bw_fetch_sink_fn sink, void *ctx,
		     struct bw_err *err)
{
	struct bw_buf b;
	int rc;

	(void)f;
	(void)offset;
	bw_buf_init(&b, MAX_FILE);
	rc = bw_io_read_file(url, max_len, &b, err);
	if (rc == 0)
		rc = sink(ctx, b.data, b.len);
	bw_buf_dispose(&b);
	return rc;
}

/* ---- measurements ----------------------------------------------------- */

static int rm_one(const char *p, const struct stat *s, int f, struct FTW *w)
{
	(void)s;
	(void)f;
	(void)w;
	return remove(p);
}

/* One refresh (plus a lookup when lookup != NULL); milliseconds. */
static double refresh(const char *repo, const char *mdir, const char *lookup)
{
	struct bw_fetcher f = {.fetch = dir_fetch};
	struct bw_tuf_updater *u = NULL;
	const struct bw_tuf_target *t;
	struct bw_err err;
	char url[1024];
	double t0;

	snprintf(url, sizeof(url), "%s/", repo);
	t0 = now_ms();
	if (bw_tuf_updater_new(mdir, url, NULL, NULL, &f, NULL, &u, &err) != 0 ||
	    bw_tuf_updater_refresh(u, &err) != 0)
		die("refresh", &err);
	if (lookup != NULL && bw_tuf_updater_get_target(u, lookup, &t, &err) != 0)
		die("lookup", &err);
	bw_tuf_updater_free(u);
	return now_ms() - t0;
}

static void reset_mdir(const char *repo, const char *mdir)
{
	struct bw_buf b;
	struct bw_err err;
	char path[1024];

	nftw(mdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	snprintf(path, sizeof(path), "%s/1.root.json", repo);
	bw_buf_init(&b, MAX_FILE);
	if (bw_io_read_file(path, MAX_FILE, &b, &err) != 0 ||
	    bw_tuf_trust_root(mdir, b.data, b.len, &err) != 0)
		die("trust root", &err);
	bw_buf_dispose(&b);
}

struct result {
	double cold_ms, warm_ms, floor_ms;
	long cold_rss_kb, warm_rss_kb;
	double parse_ms, hash_ms, canon_ms, verify_ms;
	size_t bytes;
};

/*
 * Peak RSS of this address space (VmHWM). Not getrusage: the kernel carries
 * the spawning parent's high-water mark into ru_maxrss across exec.
 */
static long peak_rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmHWM:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

/*
 * One refresh in a freshly spawned copy of this program. posix_spawn (not
 * fork) so the child never holds a copy of the generator's heap: its peak
 * RSS is the refresh's own.
 */
static double in_child(int cold, const char *repo, const char *mdir,
		       const char *lookup, long *rss_kb)
{
	posix_spawn_file_actions_t fa;
	struct rusage ru;
	int fds[2], status;
	char out[64] = {0};
	char *args[] = {"bench_tuf_refresh", "--refresh", (char *)repo,
			(char *)mdir, (char *)(lookup ? lookup : "-"), NULL};
	ssize_t n;
	pid_t pid;

	if (cold)
		reset_mdir(repo, mdir);
	if (pipe(fds) != 0)
		die("pipe", NULL);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	if (posix_spawn(&pid, "/proc/self/exe", &fa, NULL, args, environ) != 0)
		die("spawn", NULL);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	n = read(fds[0], out, sizeof(out) - 1);
	close(fds[0]);
	if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0 || n <= 0)
		die("child refresh failed", NULL);
	{
		char *end = NULL;
		double ms = strtod(out, &end);

		*rss_kb = strtol(end, NULL, 10);
		(void)ru;
		return ms;
	}
}

static double median(double *v, int n)
{
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (v[j] < v[i]) {
				double t = v[i];
				v[i] = v[j];
				v[j] = t;
			}
	return v[n / 2];
}

/* The floor: strict parse + sha256 + one signature check of targets.json. */
static void floor_of(const char *repo, struct result *r)
{
	double p[RUNS], h[RUNS], c[RUNS], v[RUNS];
	char path[1024], hex[BW_HASH_MAX_HEX];

	snprintf(path, sizeof(path), "%s/targets.json", repo);
	for (int i = 0; i < RUNS; i++) {
		struct bw_buf b;
		struct bw_err err;
		json_t *doc = NULL, *sig;
		uint8_t *canon = NULL;
		size_t clen = 0;
		double t0;

		bw_buf_init(&b, MAX_FILE);
		if (bw_io_read_file(path, MAX_FILE, &b, &err) != 0)
			die("read", &err);
		r->bytes = b.len;
		t0 = now_ms();
		struct bw_json_limits lim = {.max_bytes = MAX_FILE};

		if (bw_json_parse(b.data, b.len, &lim, &doc, &err) != 0)
			die("parse", &err);
		p[i] = now_ms() - t0;
		t0 = now_ms();
		bw_hash_buf_hex(BW_HASH_SHA256, b.data, b.len, hex);
		h[i] = now_ms() - t0;
		t0 = now_ms();
		bw_json_canonical_alloc(json_object_get(doc, "signed"), &canon,
					&clen, &err);
		c[i] = now_ms() - t0;
		sig = json_object_get(json_array_get(json_object_get(doc,
								     "signatures"),
						     0),
				      "sig");
		t0 = now_ms();
		if (bw_key_verify(bw_signer_key(keys[3]), canon, clen,
				  json_string_value(sig), json_string_length(sig),
				  &err) != 0)
			die("verify", &err);
		v[i] = now_ms() - t0;
		free(canon);
		json_decref(doc);
		bw_buf_dispose(&b);
	}
	r->parse_ms = median(p, RUNS);
	r->hash_ms = median(h, RUNS);
	r->canon_ms = median(c, RUNS);
	r->verify_ms = median(v, RUNS);
	r->floor_ms = r->parse_ms + r->hash_ms + r->verify_ms;
}

static void measure(const char *repo, const char *mdir, const char *lookup,
		    struct result *r)
{
	double cold[RUNS], warm[RUNS];

	for (int i = 0; i < RUNS; i++)
		cold[i] = in_child(1, repo, mdir, lookup, &r->cold_rss_kb);
	for (int i = 0; i < RUNS; i++)
		warm[i] = in_child(0, repo, mdir, NULL, &r->warm_rss_kb);
	r->cold_ms = median(cold, RUNS);
	r->warm_ms = median(warm, RUNS);
	floor_of(repo, r);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		size_t n;
		int bits;
	} cases[] = {{"1k", 1000, 0}, {"10k", 10000, 0}, {"100k", 100000, 0},
		     {"bins256-100k", 100000, 8}};
	char base[] = "/tmp/bw-bench-XXXXXX", repo[512], mdir[512];
	struct bw_err err;
	uint8_t seed[32];

	if (argc == 5 && strcmp(argv[1], "--refresh") == 0) {
		double ms = refresh(argv[2], argv[3],
				    strcmp(argv[4], "-") ? argv[4] : NULL);

		printf("%.3f %ld\n", ms, peak_rss_kb());
		return 0;
	}
	if (mkdtemp(base) == NULL)
		die("mkdtemp", NULL);
	for (int i = 0; i < 5; i++) {
		memset(seed, 0x40 + i, sizeof(seed));
		if (bw_signer_keyfile_from_ed25519_seed(seed, &keys[i], &err) != 0)
			die("key", &err);
	}
	printf("# bench/tuf_refresh: median of %d runs, ms; RSS = peak KiB of "
	       "the refreshing process\n", RUNS);
	printf("| repository | targets.json bytes | cold ms | cold RSS KiB | "
	       "warm ms | warm RSS KiB | floor ms (parse + sha256 + verify) | "
	       "canonicalize ms | cold / floor |\n");
	printf("|---|---|---|---|---|---|---|---|---|\n");
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct result r = {0};

		snprintf(repo, sizeof(repo), "%s/%s", base, cases[c].name);
		snprintf(mdir, sizeof(mdir), "%s/%s-client", base, cases[c].name);
		gen_repo(repo, cases[c].n, cases[c].bits);
		measure(repo, mdir,
			cases[c].bits ? "files/target-000042.bin" : NULL, &r);
		printf("| %s | %zu | %.1f | %ld | %.2f | %ld | %.1f (%.1f + %.1f + "
		       "%.2f) | %.1f | %.2f |\n",
		       cases[c].name, r.bytes, r.cold_ms, r.cold_rss_kb, r.warm_ms,
		       r.warm_rss_kb, r.floor_ms, r.parse_ms, r.hash_ms,
		       r.verify_ms, r.canon_ms, r.cold_ms / r.floor_ms);
		fflush(stdout);
	}
	nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	for (int i = 0; i < 5; i++)
		bw_signer_free(keys[i]);
	return 0;
}
