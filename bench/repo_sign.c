/*
 * bench/repo_sign: time to build, sign and write a production targets.json
 * (`bulwark targets promote`: online targets key + one offline ed25519
 * key, then the new snapshot and timestamp, all through the journal) for
 * CI targets of 10k and 100k entries, and the same with ECDSA P-256 keys.
 *
 * The CI targets.json is generated directly (synthetic length and hashes;
 * signed by the workspace's online key) so that setup does not dominate;
 * promote then runs exactly as the CLI runs it. Each size runs RUNS times
 * (each promote makes the next production version); the median is
 * reported. Bounded: fixed sizes, fixed runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bulwark/buf.h"
#include "bulwark/hash.h"
#include "bulwark/json.h"
#include "bulwark/repo.h"
#include "bulwark/tuf.h"
#include "repo/repo_priv.h"

#define RUNS 3

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *what, const struct bw_err *err)
{
	fprintf(stderr, "repo_sign: %s: %s\n", what, err ? err->msg : "");
	exit(1);
}

/* CI targets with n entries of custom.version 1, published. */
static void fill_ci(struct bw_repo *r, size_t n)
{
	json_t *sg = bw_repo__signed_new("targets", 2, time(NULL) + 86400);
	json_t *t = json_object(), *env = NULL;
	struct bw_signer *s = NULL;
	struct bw_journal tx;
	struct bw_err err = {0};
	uint8_t *b = NULL;
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		char name[64], h256[65], h512[129], seed[32];

		snprintf(name, sizeof(name), "images/fw-%08zu.img", i);
		snprintf(seed, sizeof(seed), "%zu", i);
		bw_hash_buf_hex(BW_HASH_SHA256, seed, strlen(seed), h256);
		bw_hash_buf_hex(BW_HASH_SHA512, seed, strlen(seed), h512);
		json_object_set_new(
		    t, name,
		    json_pack("{s:{s:i, s:[s], s:[]}, s:{s:s, s:s}, s:I}",
			      "custom", "version", 1, "hardwareIds", "rpi4",
			      "tags", "hashes", "sha256", h256, "sha512", h512,
			      "length", (json_int_t)(1000000 + i)));
	}
	json_object_set_new(sg, "targets", t);
	bw_journal_init(&tx, bw_repo_dir(r));
	if (bw_repo__online(r, BW_ONLINE_TARGETS, &s, &err) ||
	    bw_tuf_envelope_sign(sg, &s, 1, &env, &err) ||
	    bw_repo__serialize(env, &b, &len, &err) ||
	    bw_repo__publish(r, &tx, 0, NULL, b, len, 2, &err) ||
	    bw_journal_commit(&tx, &err))
		die("fill CI targets", &err);
	bw_journal_dispose(&tx);
	json_decref(sg);
	json_decref(env);
	free(b);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void one(const char *tmp, enum bw_key_type kt, const char *ktn, size_t n)
{
	struct bw_repo_init_opts o = {.name = "bench", .key_type = kt};
	char ws[256], kd[256], ar[300];
	struct bw_repo *r = NULL;
	struct bw_repo_keys k;
	struct bw_err err = {0};
	double t[RUNS];
	struct stat st;
	size_t have = 0;
	int64_t need = 0;

	snprintf(ws, sizeof(ws), "%s/ws-%s-%zu", tmp, ktn, n);
	snprintf(kd, sizeof(kd), "%s/keys-%s-%zu", tmp, ktn, n);
	snprintf(ar, sizeof(ar), "%s/targets-1.tar.gz", kd);
	o.keys_out = kd;
	if (bw_repo_init(ws, &o, &err) || bw_repo_open(ws, &r, &err))
		die("init", &err);
	fill_ci(r, n);
	bw_repo_keys_init(&k);
	if (bw_repo_keys_load(&k, ar, NULL, NULL, &err))
		die("keys", &err);
	for (int i = 0; i < RUNS; i++) {
		double t0 = now_ms();

		if (bw_repo_targets_promote(r, 1, "production", &k, 0, &have,
					    &need, &err))
			die("promote", &err);
		t[i] = now_ms() - t0;
	}
	qsort(t, RUNS, sizeof(t[0]), cmp_d);
	snprintf(ar, sizeof(ar), "%s/prod/tags/production/targets.json", ws);
	if (stat(ar, &st) != 0)
		die("stat", NULL);
	printf("| %7zu | %-7s | %8.1f | %8.1f | %6.1f |\n", n, ktn, t[RUNS / 2],
	       t[RUNS - 1], st.st_size / 1048576.0);
	fflush(stdout);
	bw_repo_keys_dispose(&k);
	bw_repo_free(r);
	bw_repo__rmtree(ws);
	bw_repo__rmtree(kd);
}

int main(void)
{
	static const size_t sizes[] = {10000, 100000};
	char tmp[] = "/tmp/bench-repo-sign-XXXXXX";

	if (mkdtemp(tmp) == NULL)
		die("mkdtemp", NULL);
	printf(
	    "# repo_sign: production targets.json, sign + write (promote)\n\n"
	    "| targets | keys    | median ms | max ms | MiB    |\n"
	    "|--------:|---------|---------:|-------:|-------:|\n");
	for (size_t i = 0; i < 2; i++)
		one(tmp, BW_KEY_ED25519, "ed25519", sizes[i]);
	one(tmp, BW_KEY_ECDSA_P256, "ecdsa", 100000);
	printf(
	    "\n%d runs each; each run is one promote: copy the CI entries of "
	    "the version,\ncanonical JSON, 2 signatures, serialise, journal "
	    "commit with new snapshot\nand timestamp (fsync'd).\n",
	    RUNS);
	bw_repo__rmtree(tmp);
	return 0;
}
