/*
 * The transparency log on a real SQLite file (FULL sync, as bulwarkd
 * runs it): appends per second, batched (many entries per transaction, as
 * an import or a burst of uploads makes them) and one per transaction (as
 * single admin actions make them), then inclusion and consistency proof
 * generation and verification at the final size, and checkpoint signing.
 * Beside it, in the same run, Go's golang.org/x/mod/sumdb/tlog on the same
 * workload with its hashes in memory (bench/tlog_peer, built with Debian's
 * golang-golang-x-mod-dev when `go` is installed).
 *
 * Usage: bench_tlog [entries, default 1000000] [batch, default 1000]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bulwark/tlog.h"
#include "storage.h"
#include "translog.h"

#define PROOFS 2000
#define SINGLE 500

/* CPU time of this process: on a shared, loaded machine wall time
 * measures the other processes too. Appends also report wall time,
 * which includes the fsyncs. */
static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double wall_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what, const struct bw_err *err)
{
	fprintf(stderr, "bench_tlog: %s: %s\n", what, err ? err->msg : "");
	exit(1);
}

static double append_run(struct bw_store *st, uint64_t from, uint64_t n,
			 uint64_t batch, double *cpu_rate)
{
	struct bw_err err = {0};
	double t0 = wall_s(), c0 = now_s();
	uint64_t i = from;

	while (i < from + n) {
		if (st->ops->begin(st, &err))
			die("begin", &err);
		for (uint64_t k = 0; k < batch && i < from + n; k++, i++) {
			json_t *o = json_pack("{s:I}", "n", (json_int_t)i);

			if (bw_srv_tlog_append(st, "bench.append", "server", o,
					       1800000000, NULL, &err))
				die("append", &err);
			json_decref(o);
		}
		if (st->ops->commit(st, &err))
			die("commit", &err);
	}
	*cpu_rate = (double)n / (now_s() - c0);
	return (double)n / (wall_s() - t0);
}

/* splitmix64: the same proofs on every run */
static uint64_t mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void proofs(struct bw_store *st, uint64_t size)
{
	struct bw_tlog_reader r;
	struct bw_tlog_proof p;
	struct bw_tlog_hash root, old, leaf;
	struct bw_err err = {0};
	double t0, gen_i = 0, gen_c = 0, ver = 0;
	uint64_t seed = 1;
	int i;

	bw_srv_tlog_reader(st, &r);
	if (bw_tlog_tree_hash(size, &r, &root, &err))
		die("tree hash", &err);
	for (i = 0; i < PROOFS; i++) {
		uint64_t idx = mix(&seed) % size, m = 1 + mix(&seed) % size;
		uint8_t *e = NULL;
		size_t len = 0;

		t0 = now_s();
		if (bw_tlog_prove_inclusion(size, idx, &r, &p, &err))
			die("inclusion", &err);
		gen_i += now_s() - t0;
		if (st->ops->tlog_leaf_get(st, idx, BW_TLOG_ENTRY_MAX, &e, &len,
					   &err))
			die("entry", &err);
		bw_tlog_leaf_hash(e, len, &leaf);
		free(e);
		t0 = now_s();
		if (bw_tlog_verify_inclusion(size, idx, &leaf, &p, &root, &err))
			die("verify inclusion", &err);
		ver += now_s() - t0;
		t0 = now_s();
		if (bw_tlog_prove_consistency(m, size, &r, &p, &err) ||
		    bw_tlog_tree_hash(m, &r, &old, &err))
			die("consistency", &err);
		gen_c += now_s() - t0;
		if (bw_tlog_verify_consistency(m, size, &old, &root, &p, &err))
			die("verify consistency", &err);
	}
	printf("| inclusion proof, generate (SQLite reads), CPU | %.1f µs |\n",
	       gen_i / PROOFS * 1e6);
	printf("| inclusion proof, verify | %.1f µs |\n", ver / PROOFS * 1e6);
	printf("| consistency proof + old root, generate | %.1f µs |\n",
	       gen_c / PROOFS * 1e6);
}

static void checkpoint(struct bw_store *st)
{
	struct bw_signer *key = NULL;
	struct bw_err err = {0};
	uint8_t seed[32];
	char *note = NULL;
	size_t len = 0;
	double t0;
	int i;

	memset(seed, 7, sizeof(seed));
	if (bw_signer_keyfile_from_ed25519_seed(seed, &key, &err))
		die("key", &err);
	t0 = now_s();
	for (i = 0; i < 100; i++) {
		/* one new entry, then a checkpoint of the grown tree */
		if (st->ops->begin(st, &err) ||
		    bw_srv_tlog_append(st, "bench.append", "server", NULL, 1,
				       NULL, &err) ||
		    st->ops->commit(st, &err))
			die("append", &err);
		if (bw_srv_tlog_checkpoint(st, key, "bench/log", 1, &note, &len,
					   &err))
			die("checkpoint", &err);
		free(note);
	}
	printf("| append + sign and store a checkpoint (Ed25519 file key) | "
	       "%.2f ms |\n", (now_s() - t0) / 100 * 1e3);
	bw_signer_free(key);
}

/* "A I C\n" from the peer: three numbers. */
static int parse3(const char *line, double *a, double *b, double *c)
{
	char *end = NULL;

	*a = strtod(line, &end);
	if (end == line)
		return 0;
	line = end;
	*b = strtod(line, &end);
	if (end == line)
		return 0;
	line = end;
	*c = strtod(line, &end);
	return end != line;
}

/* Go's sumdb/tlog, in memory, on the same counts. */
static void peer(uint64_t n)
{
	char dir[] = "/tmp/bw-bench-tlog-go-XXXXXX", cmd[1024], line[256];
	FILE *f;
	double a = 0, inc = 0, con = 0;

	if (system("command -v go >/dev/null 2>&1") != 0 || !mkdtemp(dir)) {
		printf("| Go sumdb/tlog peer | not run (no go toolchain) |\n");
		return;
	}
	snprintf(cmd, sizeof(cmd),
		 "cd %s && GOPATH=/usr/share/gocode GO111MODULE=off "
		 "GOCACHE=%s/cache go build -o %s/peer "
		 "%s/bench/tlog_peer/main.go >/dev/null 2>&1 && %s/peer %" PRIu64
		 " %d",
		 dir, dir, dir, BW_SOURCE_DIR, dir, n, PROOFS);
	f = popen(cmd, "r");
	if (f && fgets(line, sizeof(line), f) && parse3(line, &a, &inc, &con))
		printf("| Go sumdb/tlog (in memory): appends/s, inclusion, "
		       "consistency proof | %.0f/s, %.1f µs, %.1f µs |\n",
		       a, inc, con);
	else
		printf("| Go sumdb/tlog peer | failed to build or run |\n");
	if (f)
		pclose(f);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_tlog: could not remove %s\n", dir);
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	uint64_t batch = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000;
	char dir[] = "/tmp/bw-bench-tlog-XXXXXX", path[256], cmd[300];
	struct bw_store *st = NULL;
	struct bw_err err = {0};
	double single, batched, single_cpu, batched_cpu;

	if (n < 2 || n > 100000000 || batch < 1 || !mkdtemp(dir)) {
		fprintf(stderr, "usage: bench_tlog [entries >= 2] [batch]\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/log.db", dir);
	if (bw_store_sqlite_open(path, &st, &err))
		die("open", &err);
	single = append_run(st, 0, SINGLE, 1, &single_cpu);
	batched = append_run(st, SINGLE, n - SINGLE, batch, &batched_cpu);
	printf("# transparency log, %" PRIu64 " entries, SQLite (FULL sync)\n\n",
	       n);
	printf("| measure | value |\n|---|---|\n");
	printf("| appends/s, one per transaction (%d), wall / per CPU second "
	       "| %.0f / %.0f |\n", SINGLE, single, single_cpu);
	printf("| appends/s, batches of %" PRIu64 ", wall / per CPU second | "
	       "%.0f / %.0f |\n", batch, batched, batched_cpu);
	proofs(st, n);
	checkpoint(st);
	peer(n);
	bw_store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}
