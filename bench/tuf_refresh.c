/*
 * bench/tuf_refresh: cold and warm refresh of bulwark-tuf-client against
 * generated repositories of 1k, 10k and 100k targets, each served in
 * compact canonical JSON (as bulwark writes it) and in indented JSON (as
 * python-tuf and most repository tools write it), plus one of 256 hash
 * bins.
 *
 * Every refresh is a process (`bulwark-tuf-client refresh`, file://
 * transport): wall time and peak RSS of that process. Beside it, on the
 * same repository: the floor (read targets.json, one SHA-256 pass, one
 * signature verification over the canonical "signed") and tuf-js, an
 * independent TUF client (npm, installed by scripts/install-deps.sh), whose
 * Updater.refresh() does the same four roles over HTTP from a static
 * server on 127.0.0.1. Bounded: a fixed number of runs per measurement.
 *
 * A second table gives the warm refresh (nothing changed) per transport:
 * file:// and http:// from the same static server on 127.0.0.1, wall
 * time, CPU time (user + system) and peak RSS of the process, beside the
 * cost of starting a process at all (/bin/true) and of starting this
 * client without refreshing (--help). The load average is printed with
 * the tables.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
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
#define WARM_RUNS 21 /* warm runs are short: more of them, steadier median */
#define TUFJS_RUNS 3
#define RUN_LIMIT_MS 120000.0 /* per measured process */

extern char **environ;
#define EXPIRES "2099-01-01T00:00:00Z"
#define MAX_FILE (256u * 1024u * 1024u)

static struct bw_signer *keys[5]; /* root, timestamp, snapshot, targets, bins */
static int g_indent;              /* serve indented JSON */
static char g_client[PATH_MAX + 64], g_self[PATH_MAX], g_tufjs[PATH_MAX];

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

	if (bw_tuf_envelope_sign(signed_obj, &s, 1, &env, &err) != 0)
		die("sign", &err);
	if (g_indent) {
		/* python-tuf's layout: indent 1, sorted keys, ": " */
		char *text = json_dumps(env, JSON_INDENT(1) | JSON_SORT_KEYS);

		if (text == NULL)
			die("indent", NULL);
		len = strlen(text);
		bytes = (uint8_t *)text;
	} else if (bw_json_canonical_alloc(env, &bytes, &len, &err) != 0) {
		die("canonical", &err);
	}
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

/* ---- measurements ----------------------------------------------------- */

static int rm_one(const char *p, const struct stat *s, int f, struct FTW *w)
{
	(void)s;
	(void)f;
	(void)w;
	return remove(p);
}

/*
 * --run CMD...: run CMD in a child and print "<ms> <peak RSS KiB>". A
 * fresh, small process forks the measured one: ru_maxrss of a child
 * counts the memory of the process it was exec'd from, so the bench's own
 * heap must never be that process.
 */
static int run_measured(char **argv)
{
	struct rusage ru;
	int status;
	double t0 = now_ms();
	pid_t pid = fork();

	if (pid < 0)
		return 1;
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		if (devnull >= 0) {
			dup2(devnull, 1);
			dup2(devnull, 2);
			close(devnull);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	/* Bounded: a run longer than RUN_LIMIT_MS is stopped and reported
	 * as failed. */
	for (;;) {
		pid_t w = wait4(pid, &status, WNOHANG, &ru);

		if (w == pid)
			break;
		if (w < 0)
			return 1;
		if (now_ms() - t0 > RUN_LIMIT_MS) {
			kill(pid, SIGKILL);
			wait4(pid, &status, 0, &ru);
			printf("%.3f %ld %d\n", now_ms() - t0, ru.ru_maxrss, 124);
			return 0;
		}
		usleep(100);
	}
	printf("%.3f %ld %d %.3f\n", now_ms() - t0, ru.ru_maxrss,
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128,
	       ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 +
		   ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3);
	return 0;
}

/* One measured command through --run; 0 and the figures, or -1
 * (cpu_ms: user + system time of the process; may be NULL). */
static int measured_cpu(char *const cmd[], double *ms, long *kb,
			double *cpu_ms)
{
	char *args[16] = {g_self, "--run"};
	posix_spawn_file_actions_t fa;
	int fds[2], status, rc, i;
	char out[128] = {0};
	ssize_t n;
	pid_t pid;

	for (i = 0; cmd[i] != NULL && i < 13; i++)
		args[2 + i] = cmd[i];
	args[2 + i] = NULL;
	if (pipe(fds) != 0)
		die("pipe", NULL);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	if (posix_spawn(&pid, g_self, &fa, NULL, args, environ) != 0)
		die("spawn", NULL);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	n = read(fds[0], out, sizeof(out) - 1);
	close(fds[0]);
	if (waitpid(pid, &status, 0) < 0 || n <= 0)
		return -1;
	{
		char *end = NULL;

		*ms = strtod(out, &end);
		*kb = strtol(end, &end, 10);
		rc = (int)strtol(end, &end, 10);
		if (cpu_ms != NULL)
			*cpu_ms = strtod(end, NULL);
	}
	return rc == 0 ? 0 : rc == 124 ? -2 : -1;
}

static int measured(char *const cmd[], double *ms, long *kb)
{
	return measured_cpu(cmd, ms, kb, NULL);
}

static void reset_mdir(const char *repo, const char *mdir)
{
	char root[PATH_MAX], url[PATH_MAX];
	char *init[] = {g_client, "--metadata-dir", (char *)mdir, "init", root,
			NULL};
	double ms;
	long kb;

	(void)url;
	nftw(mdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	mkdir(mdir, 0755);
	snprintf(root, sizeof(root), "%s/1.root.json", repo);
	if (measured(init, &ms, &kb) != 0)
		die("bulwark-tuf-client init", NULL);
}

struct result {
	double cold_ms, warm_ms, floor_ms, tufjs_ms;
	long cold_kb, warm_kb, tufjs_kb;
	double read_ms, hash_ms, verify_ms;
	size_t bytes;
};

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

static long max_l(long a, long b)
{
	return a > b ? a : b;
}

/* Warm figures of one command: medians of WARM_RUNS, the highest RSS. */
struct warm {
	double ms, cpu_ms;
	long kb;
};

static int warm_runs(char *const cmd[], struct warm *w)
{
	double t[WARM_RUNS], c[WARM_RUNS];
	long kb;

	w->kb = 0;
	for (int i = 0; i < WARM_RUNS; i++) {
		if (measured_cpu(cmd, &t[i], &kb, &c[i]) != 0)
			return -1;
		w->kb = max_l(w->kb, kb);
	}
	w->ms = median(t, WARM_RUNS);
	w->cpu_ms = median(c, WARM_RUNS);
	return 0;
}

static void print_load(void)
{
	char line[128] = "?";
	FILE *f = fopen("/proc/loadavg", "r");

	if (f != NULL) {
		if (fgets(line, sizeof(line), f) == NULL)
			line[0] = '\0';
		fclose(f);
		line[strcspn(line, "\n")] = '\0';
	}
	printf("# load average (1, 5, 15 min ...): %s\n", line);
}

/* The second table's rows, printed after the first table. */
static char warm_table[32][256];
static int warm_rows;

static void warm_row(const char *what, const char *transport,
		     const struct warm *w)
{
	if (warm_rows < (int)(sizeof(warm_table) / sizeof(warm_table[0])))
		snprintf(warm_table[warm_rows++], sizeof(warm_table[0]),
			 "| %s | %s | %.2f | %.2f | %.1f |", what, transport,
			 w->ms, w->cpu_ms, w->kb / 1024.0);
}

/* Warm refresh over file:// and over http:// (the static server). */
static void warm_transports(const char *name, const char *repo,
			    const char *mdir, int port)
{
	char url[PATH_MAX];
	char *cmd[] = {g_client, "--metadata-dir", (char *)mdir,
		       "--metadata-url", url, "refresh", NULL};
	struct warm w;

	snprintf(url, sizeof(url), "file://%s/", repo);
	if (warm_runs(cmd, &w) != 0)
		die("warm refresh (file://) failed", NULL);
	warm_row(name, "file://", &w);
	if (port <= 0)
		return;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/%s/", port, name);
	if (warm_runs(cmd, &w) != 0)
		die("warm refresh (http://) failed", NULL);
	warm_row(name, "http://127.0.0.1", &w);
}

/*
 * --load-libcurl: load libcurl as the fetcher does at its first http(s)
 * request (dlopen + curl_global_init) and exit; --load-nothing: exit. The
 * difference of the two is what loading libcurl costs a process.
 */
static int load_libcurl(void)
{
	void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	long (*global_init)(long);

	if (h == NULL)
		return 1;
	*(void **)&global_init = dlsym(h, "curl_global_init");
	/* CURL_GLOBAL_DEFAULT is 3 (SSL | WIN32), as the fetcher asks. */
	return global_init == NULL || global_init(3) != 0;
}

/* What starting a process costs: /bin/true, the client's --help, and
 * loading libcurl into a process. */
static void start_floor(void)
{
	char t[] = "/bin/true", help[] = "--help", none[] = "--load-nothing",
	     curl[] = "--load-libcurl";
	char *tcmd[] = {t, NULL}, *hcmd[] = {g_client, help, NULL};
	char *ncmd[] = {g_self, none, NULL}, *ccmd[] = {g_self, curl, NULL};
	struct warm w;

	if (warm_runs(tcmd, &w) == 0)
		warm_row("(start a process: /bin/true)", "-", &w);
	if (warm_runs(hcmd, &w) == 0)
		warm_row("(start the client: bulwark-tuf-client --help)", "-",
			 &w);
	if (warm_runs(ncmd, &w) == 0)
		warm_row("(this bench's binary, doing nothing)", "-", &w);
	if (warm_runs(ccmd, &w) == 0)
		warm_row("(the same, loading libcurl as the fetcher does)", "-",
			 &w);
}

/* bulwark-tuf-client refresh, cold (fresh metadata dir) and warm. */
static void client_runs(const char *repo, const char *mdir, struct result *r)
{
	char url[PATH_MAX];
	char *cmd[] = {g_client, "--metadata-dir", (char *)mdir,
		       "--metadata-url", url, "refresh", NULL};
	double cold[RUNS], warm[RUNS];
	long kb;

	snprintf(url, sizeof(url), "file://%s/", repo);
	for (int i = 0; i < RUNS; i++) {
		reset_mdir(repo, mdir);
		if (measured(cmd, &cold[i], &kb) != 0)
			die("cold refresh failed", NULL);
		r->cold_kb = max_l(r->cold_kb, kb);
	}
	for (int i = 0; i < RUNS; i++) {
		if (measured(cmd, &warm[i], &kb) != 0)
			die("warm refresh failed", NULL);
		r->warm_kb = max_l(r->warm_kb, kb);
	}
	r->cold_ms = median(cold, RUNS);
	r->warm_ms = median(warm, RUNS);
}

/*
 * The floor: read targets.json, one SHA-256 pass over it, one signature
 * verification over its canonical "signed" (prepared untimed).
 */
static void floor_of(const char *repo, struct result *r)
{
	double rd[RUNS], h[RUNS], v[RUNS];
	char path[PATH_MAX], hex[BW_HASH_MAX_HEX];
	struct bw_buf b;
	struct bw_err err;
	json_t *doc = NULL, *sig;
	uint8_t *canon = NULL;
	size_t clen = 0;
	struct bw_json_limits lim = {.max_bytes = MAX_FILE};

	snprintf(path, sizeof(path), "%s/targets.json", repo);
	bw_buf_init(&b, MAX_FILE);
	if (bw_io_read_file(path, MAX_FILE, &b, &err) != 0 ||
	    bw_json_parse(b.data, b.len, &lim, &doc, &err) != 0 ||
	    bw_json_canonical_alloc(json_object_get(doc, "signed"), &canon,
				    &clen, &err) != 0)
		die("floor setup", &err);
	r->bytes = b.len;
	sig = json_object_get(
		json_array_get(json_object_get(doc, "signatures"), 0), "sig");
	bw_buf_dispose(&b);
	for (int i = 0; i < RUNS; i++) {
		double t0 = now_ms();

		bw_buf_init(&b, MAX_FILE);
		if (bw_io_read_file(path, MAX_FILE, &b, &err) != 0)
			die("read", &err);
		rd[i] = now_ms() - t0;
		t0 = now_ms();
		bw_hash_buf_hex(BW_HASH_SHA256, b.data, b.len, hex);
		h[i] = now_ms() - t0;
		t0 = now_ms();
		if (bw_key_verify(bw_signer_key(keys[3]), canon, clen,
				  json_string_value(sig), json_string_length(sig),
				  &err) != 0)
			die("verify", &err);
		v[i] = now_ms() - t0;
		bw_buf_dispose(&b);
	}
	free(canon);
	json_decref(doc);
	r->read_ms = median(rd, RUNS);
	r->hash_ms = median(h, RUNS);
	r->verify_ms = median(v, RUNS);
	r->floor_ms = r->read_ms + r->hash_ms + r->verify_ms;
}

/* A static HTTP server on 127.0.0.1 for tuf-js (which speaks HTTP only). */
static pid_t http_server(const char *dir, int port)
{
	char portstr[16];
	char *args[] = {"python3", "-m", "http.server", "--bind", "127.0.0.1",
			"--directory", (char *)dir, portstr, NULL};
	posix_spawn_file_actions_t fa;
	pid_t pid;

	snprintf(portstr, sizeof(portstr), "%d", port);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, "python3", &fa, NULL, args, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	usleep(700 * 1000); /* bounded wait for the listener */
	return pid;
}

static void tufjs_runs(const char *base, const char *name, const char *mdir,
		       int port, struct result *r)
{
	char url[256], root[PATH_MAX], node[] = "/usr/bin/node";
	char *cmd[] = {node, g_tufjs, root, url, (char *)mdir, NULL};
	double t[TUFJS_RUNS];
	long kb;

	r->tufjs_ms = -1;
	if (g_tufjs[0] == '\0' || access(node, X_OK) != 0)
		return;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/%s/", port, name);
	snprintf(root, sizeof(root), "%s/%s/1.root.json", base, name);
	for (int i = 0; i < TUFJS_RUNS; i++) {
		nftw(mdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		int rc = measured(cmd, &t[i], &kb);

		if (rc != 0) {
			r->tufjs_ms = rc == -2 ? -2 : -1;
			if (rc != -2)
				fprintf(stderr, "tuf_refresh: tuf-js refresh "
						"failed\n");
			return;
		}
		r->tufjs_kb = max_l(r->tufjs_kb, kb);
	}
	r->tufjs_ms = median(t, TUFJS_RUNS);
}

/* Paths of bulwark-tuf-client (beside bench/), this program, tuf-js. */
static void find_programs(const char *argv0)
{
	char rp[PATH_MAX], *slash;
	const char *tdir = getenv("BW_TUFJS_DIR"), *home = getenv("HOME");
	char mod[PATH_MAX];

	if (realpath(argv0, rp) == NULL)
		die("realpath", NULL);
	snprintf(g_self, sizeof(g_self), "%s", rp);
	slash = strrchr(rp, '/');
	*slash = '\0';
	snprintf(g_client, sizeof(g_client), "%s/../bulwark-tuf-client", rp);
	if (access(g_client, X_OK) != 0)
		die("bulwark-tuf-client not found beside bench/", NULL);
	if (tdir == NULL && home != NULL) {
		snprintf(mod, sizeof(mod), "%s/.cache/bulwark/tuf-js", home);
		tdir = mod;
	}
	if (tdir != NULL) {
		char script[PATH_MAX + 64], pkg[PATH_MAX + 64];

		snprintf(pkg, sizeof(pkg), "%s/node_modules/tuf-js", tdir);
		snprintf(script, sizeof(script), "%s/../../bench/tufjs_refresh.cjs",
			 rp);
		if (access(pkg, R_OK) == 0 && realpath(script, g_tufjs) != NULL)
			setenv("BW_TUFJS_DIR", tdir, 1);
		else
			g_tufjs[0] = '\0';
	}
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		size_t n;
		int bits, indent;
	} cases[] = {{"1k", 1000, 0, 0},      {"1k-indented", 1000, 0, 1},
		     {"10k", 10000, 0, 0},    {"10k-indented", 10000, 0, 1},
		     {"100k", 100000, 0, 0},  {"100k-indented", 100000, 0, 1},
		     {"bins256-100k", 100000, 8, 0}};
	char base[] = "/tmp/bw-bench-XXXXXX", repo[512], mdir[512], jdir[512];
	struct bw_err err;
	uint8_t seed[32];
	int port = 18000 + (int)(getpid() % 2000);
	pid_t srv;

	if (argc >= 3 && strcmp(argv[1], "--run") == 0)
		return run_measured(argv + 2);
	if (argc == 2 && strcmp(argv[1], "--load-nothing") == 0)
		return 0;
	if (argc == 2 && strcmp(argv[1], "--load-libcurl") == 0)
		return load_libcurl();
	find_programs(argv[0]);
	if (mkdtemp(base) == NULL)
		die("mkdtemp", NULL);
	for (int i = 0; i < 5; i++) {
		memset(seed, 0x40 + i, sizeof(seed));
		if (bw_signer_keyfile_from_ed25519_seed(seed, &keys[i], &err) != 0)
			die("key", &err);
	}
	/* The static server: tuf-js's transport and the http:// warm rows. */
	srv = http_server(base, port);
	printf("# bench/tuf_refresh: bulwark-tuf-client refresh as a process "
	       "(file://), median of %d runs; RSS = peak of the process; "
	       "tuf-js: Updater.refresh() over HTTP on 127.0.0.1, median of "
	       "%d%s\n", RUNS, TUFJS_RUNS,
	       g_tufjs[0] ? "" : " (tuf-js not installed: skipped)");
	print_load();
	printf("| repository | targets.json bytes | cold ms | cold peak RSS MiB | "
	       "warm ms | warm peak RSS MiB | floor ms (read + sha256 + verify) | "
	       "cold / floor | tuf-js cold ms | tuf-js peak RSS MiB | "
	       "tuf-js / bulwark (time, RSS) |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct result r = {0};
		int wanted = argc < 2;

		/* bench_tuf_refresh [CASE...]: only the cases named */
		for (int a = 1; a < argc; a++)
			wanted |= strcmp(argv[a], cases[c].name) == 0;
		if (!wanted)
			continue;

		snprintf(repo, sizeof(repo), "%s/%s", base, cases[c].name);
		snprintf(mdir, sizeof(mdir), "%s/%s-client", base, cases[c].name);
		snprintf(jdir, sizeof(jdir), "%s/%s-tufjs", base, cases[c].name);
		g_indent = cases[c].indent;
		gen_repo(repo, cases[c].n, cases[c].bits);
		client_runs(repo, mdir, &r);
		warm_transports(cases[c].name, repo, mdir, srv > 0 ? port : 0);
		floor_of(repo, &r);
		if (srv > 0 && g_tufjs[0] != '\0')
			tufjs_runs(base, cases[c].name, jdir, port, &r);
		printf("| %s | %zu | %.1f | %.1f | %.2f | %.1f | %.1f (%.1f + %.1f "
		       "+ %.2f) | %.2f |",
		       cases[c].name, r.bytes, r.cold_ms, r.cold_kb / 1024.0,
		       r.warm_ms, r.warm_kb / 1024.0, r.floor_ms, r.read_ms,
		       r.hash_ms, r.verify_ms, r.cold_ms / r.floor_ms);
		if (r.tufjs_ms > 0)
			printf(" %.1f | %.1f | %.1fx, %.1fx |\n", r.tufjs_ms,
			       r.tufjs_kb / 1024.0, r.tufjs_ms / r.cold_ms,
			       (double)r.tufjs_kb / (double)r.cold_kb);
		else if (r.tufjs_ms == -2)
			printf(" > %.0f s (stopped) | n/a | > %.0fx |\n",
			       RUN_LIMIT_MS / 1000, RUN_LIMIT_MS / r.cold_ms);
		else
			printf(" n/a | n/a | n/a |\n");
		fflush(stdout);
	}
	start_floor();
	printf("\n# warm refresh (nothing changed) per transport: "
	       "bulwark-tuf-client refresh as a process, median of %d runs; "
	       "CPU = user + system time of the process; http:// from a static "
	       "server (python3 -m http.server) on 127.0.0.1\n", WARM_RUNS);
	printf("| repository | transport | warm ms | warm CPU ms | "
	       "peak RSS MiB |\n|---|---|---|---|---|\n");
	for (int i = 0; i < warm_rows; i++)
		printf("%s\n", warm_table[i]);
	print_load();
	if (srv > 0) {
		kill(srv, SIGTERM);
		waitpid(srv, NULL, 0);
	}
	if (getenv("BW_BENCH_KEEP") != NULL)
		fprintf(stderr, "tuf_refresh: repositories kept in %s\n", base);
	else
		nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	for (int i = 0; i < 5; i++)
		bw_signer_free(keys[i]);
	return 0;
}
