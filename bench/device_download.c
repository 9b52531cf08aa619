/*
 * bench/device_download: what the device agent costs.
 *
 * 1. Download-and-verify throughput of one large target (BW_BENCH_MB,
 *    default 256, clamped to 256..1024 MiB) served on 127.0.0.1, over
 *    plain HTTP (python3 http.server), over mutual TLS (the same server
 *    behind python's ssl module, client certificate required; the device
 *    key in a file, then in a SoftHSM2 token), and through the real
 *    bulwarkd gateway (when built next to the agent): `bulwark-device
 *    pull` (TUF refresh, length-bounded download, sha256 check, state
 *    commits) against `curl -o F URL && sha256sum F` of the same file from
 *    the same server. Best of RUNS runs each.
 * 2. Time and peak RSS of `bulwark-device check` refreshing a repository
 *    of 100k targets that all match the device (file:// transport, so the
 *    figure is the agent's own), cold and warm, beside `bulwark-tuf-client
 *    refresh` on the same repository (the TUF work alone), each as a
 *    process, peak RSS from wait4().
 *
 * Needs bulwark-device next to the bench directory, python3, openssl,
 * curl, sha256sum; SoftHSM2 + pkcs11-tool and bulwarkd + bulwark for their
 * rows (skipped when missing). Bounded: fixed runs, one file.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
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

#define RUNS 3
#define EXPIRES "2099-01-01T00:00:00Z"
#define HWID "bench-board"
#define ADMIN_TOKEN "bench-admin-token-0123456789abcdef"

static struct bw_signer *key;
static char dir[64], agent[1100], root_path[128], bindir[1024], bwd_path[1100];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static pid_t server_pid; /* the running server, stopped on any failure */

static void die(const char *what)
{
	fprintf(stderr, "device_download: %s\n", what);
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
	}
	exit(1);
}

static void sh(const char *cmd)
{
	if (system(cmd) != 0) {
		fprintf(stderr, "device_download: failed: %s\n", cmd);
		die("command failed");
	}
}

/* ---- repository ----------------------------------------------------------- */

static int g_indent; /* write indented JSON (python-tuf's layout) */

static void put(const char *name, json_t *signed_obj, size_t *len_out)
{
	struct bw_signer *signers[1] = {key};
	struct bw_err err;
	json_t *env = NULL;
	uint8_t *bytes = NULL;
	size_t len = 0;
	char path[256];

	if (bw_tuf_envelope_sign(signed_obj, signers, 1, &env, &err) != 0)
		die(err.msg);
	if (g_indent) {
		/* python-tuf's layout: indent 1, sorted keys, ": " */
		char *text = json_dumps(env, JSON_INDENT(1) | JSON_SORT_KEYS);

		if (text == NULL)
			die("indent");
		len = strlen(text);
		bytes = (uint8_t *)text;
	} else if (bw_json_canonical_alloc(env, &bytes, &len, &err) != 0) {
		die(err.msg);
	}
	snprintf(path, sizeof(path), "%s/srv/repo/%s", dir, name);
	if (bw_io_write_atomic(path, bytes, len, 0644, &err) != 0)
		die(err.msg);
	if (len_out != NULL)
		*len_out = len;
	json_decref(env);
	json_decref(signed_obj);
	free(bytes);
}

static json_t *role(const char *type)
{
	return json_pack("{s:s, s:s, s:i, s:s}", "_type", type, "spec_version",
			 "1.0.31", "version", 1, "expires", EXPIRES);
}

static void write_root(void)
{
	json_t *r = role("root"), *keys = json_object(), *roles = json_object();
	const char *names[] = {"root", "targets", "snapshot", "timestamp"};
	json_t *kj = NULL;

	if (bw_key_to_json(bw_signer_key(key), &kj, NULL) != 0)
		die("key to json");
	json_object_set_new(keys, bw_signer_key(key)->keyid, kj);
	for (size_t i = 0; i < 4; i++)
		json_object_set_new(roles, names[i],
				    json_pack("{s:[s], s:i}", "keyids",
					      bw_signer_key(key)->keyid,
					      "threshold", 1));
	json_object_set_new(r, "consistent_snapshot", json_false());
	json_object_set_new(r, "keys", keys);
	json_object_set_new(r, "roles", roles);
	put("1.root.json", r, NULL);
}

static json_t *target_entry(uint64_t len, const char *sha, const char *ver)
{
	return json_pack("{s:I, s:{s:s}, s:{s:s, s:[s], s:[s]}}", "length",
			 (json_int_t)len, "hashes", "sha256", sha, "custom",
			 "version", ver, "hardwareIds", HWID, "tags", "main");
}

/* targets.json from tmap, then snapshot and timestamp naming it. */
static void write_top(json_t *tmap)
{
	json_t *t = role("targets");

	json_object_set_new(t, "targets", tmap);
	put("targets.json", t, NULL);
	t = role("snapshot");
	json_object_set_new(t, "meta", json_pack("{s:{s:i}}", "targets.json",
						 "version", 1));
	put("snapshot.json", t, NULL);
	t = role("timestamp");
	json_object_set_new(t, "meta", json_pack("{s:{s:i}}", "snapshot.json",
						 "version", 1));
	put("timestamp.json", t, NULL);
}

/* A file of mb MiB of pseudo-random bytes and its sha256. */
static void make_image(const char *path, size_t mb, char *sha_hex)
{
	struct bw_hash *h = NULL;
	uint8_t *buf = malloc(1u << 20), d[32];
	FILE *f = fopen(path, "wb");
	uint64_t x = 0x9e3779b97f4a7c15ull;

	if (buf == NULL || f == NULL || bw_hash_new(BW_HASH_SHA256, &h) != 0)
		die("image");
	for (size_t m = 0; m < mb; m++) {
		for (size_t i = 0; i < (1u << 20); i += 8) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			memcpy(buf + i, &x, 8);
		}
		if (fwrite(buf, 1, 1u << 20, f) != 1u << 20 ||
		    bw_hash_update(h, buf, 1u << 20) != 0)
			die("write image");
	}
	if (fclose(f) != 0 || bw_hash_final(h, d) != 0)
		die("close image");
	bw_hex_encode(d, 32, sha_hex);
	bw_hash_free(h);
	free(buf);
}

/* ---- processes -------------------------------------------------------------- */

static pid_t spawn_sh(const char *cmd)
{
	pid_t pid = fork();

	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static double last_cpu_s; /* user + system CPU of the last timed() */

/* Run cmd, return seconds; *rss_kib (may be NULL) gets its peak RSS. */
static double timed(const char *cmd, long *rss_kib, int want_rc)
{
	struct rusage ru;
	double t0 = now_s();
	pid_t pid = spawn_sh(cmd);
	int st = 0;

	if (pid < 0 || wait4(pid, &st, 0, &ru) != pid)
		die("wait4");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != want_rc) {
		fprintf(stderr, "device_download: `%s` exited %d\n", cmd,
			WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		die("benchmark step failed");
	}
	if (rss_kib != NULL)
		*rss_kib = ru.ru_maxrss;
	last_cpu_s = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		     (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	return now_s() - t0;
}

static void write_config(const char *url, const char *tls)
{
	char path[128], text[2048];
	struct bw_err err;

	snprintf(path, sizeof(path), "%s/device.ini", dir);
	snprintf(text, sizeof(text),
		 "[server]\nurl = %s\nevents_url =\n%s[device]\nstate_dir = %s/state\n"
		 "hardware_id = " HWID "\ntag = main\n[update]\nslot_a = %s/a\n"
		 "slot_b = %s/b\n", url, tls, dir, dir, dir);
	if (bw_io_write_atomic(path, text, strlen(text), 0600, &err) != 0)
		die(err.msg);
}

static double agent_pull(void)
{
	char cmd[8192];

	/* Fresh state each run (a full refresh and a full download); a
	 * registered identity in the state directory stays. */
	snprintf(cmd, sizeof(cmd), "cd %s && rm -rf state/sota.db* "
		 "state/metadata state/downloads && %s provision --config "
		 "device.ini --root %s && %s pull --config device.ini "
		 ">/dev/null", dir, agent, root_path, agent);
	return timed(cmd, NULL, 0);
}

static double curl_sha(const char *url, const char *tlsopts)
{
	char cmd[8192];

	snprintf(cmd, sizeof(cmd), "curl -sf %s -o %s/curl.img %s/targets/"
		 "big.img && sha256sum %s/curl.img >/dev/null && rm -f "
		 "%s/curl.img", tlsopts, dir, url, dir, dir);
	return timed(cmd, NULL, 0);
}

static void compare(const char *label, const char *url, const char *tls_ini,
		    const char *curl_opts, size_t mb)
{
	double a = 1e9, c = 1e9;

	write_config(url, tls_ini);
	for (int i = 0; i < RUNS; i++) {
		double t = agent_pull(), u = curl_sha(url, curl_opts);

		a = t < a ? t : a;
		c = u < c ? u : c;
	}
	printf("| %s | %zu MiB | %.2f s (%.0f MiB/s) | %.2f s (%.0f MiB/s) | "
	       "%.2f |\n", label, mb, a, mb / a, c, mb / c, a / c);
	fflush(stdout);
}

/* ---- servers -------------------------------------------------------------- */

static pid_t start_server(const char *cmd, const char *probe)
{
	pid_t pid = spawn_sh(cmd);

	/* Up when a probe request answers (bounded wait). */
	for (int i = 0; i < 100; i++) {
		usleep(100000);
		if (system(probe) == 0)
			return server_pid = pid;
	}
	kill(pid, SIGTERM);
	die("server did not start");
	return -1;
}

static void stop_server(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	server_pid = 0;
}

static int free_port(void)
{
	/* Distinct per run; collisions fail the start probe loudly. */
	return 20000 + (int)(getpid() % 20000);
}

/* A SoftHSM2 token with a P-256 key and a self-signed certificate made
 * through the engine: the agent's production set-up (key never leaves the
 * token). 0 when SoftHSM2 is not installed. */
static int make_token(void)
{
	char cmd[8192];

	if (access("/usr/lib/softhsm/libsofthsm2.so", R_OK) != 0)
		return 0;
	snprintf(cmd, sizeof(cmd), "%s/softhsm2.conf", dir);
	setenv("SOFTHSM2_CONF", cmd, 1);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && mkdir tokens && echo 'directories.tokendir = %s/tokens'"
		 " > softhsm2.conf && printf 1234 > pin && chmod 600 pin && "
		 "softhsm2-util --init-token --free --label bench --pin 1234 "
		 "--so-pin 5678 >/dev/null && pkcs11-tool --module "
		 "/usr/lib/softhsm/libsofthsm2.so --token-label bench --login "
		 "--pin 1234 --keypairgen --key-type EC:prime256v1 --label devkey"
		 " --id 01 >/dev/null 2>&1 && openssl req -new -x509 -days 2 "
		 "-engine pkcs11 -keyform engine -key "
		 "'pkcs11:token=bench;object=devkey;type=private;pin-value=1234'"
		 " -subj /CN=token-device -out token.pem 2>/dev/null", dir, dir);
	sh(cmd);
	return 1;
}

static void make_certs(void)
{
	char cmd[8192];

	snprintf(cmd, sizeof(cmd),
		 "cd %s && for n in server client; do openssl req -x509 "
		 "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
		 "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
		 "-keyout $n.key -out $n.pem 2>/dev/null || exit 1; done && "
		 "cat client.pem > clients.pem && (cat token.pem >> clients.pem "
		 "2>/dev/null || true)", dir);
	sh(cmd);
}

static void bulwarkd_row(size_t mb, const char *sha);

static void throughput(size_t mb)
{
	char sha[65], cmd[4096], probe[2048], url[64], tls[1024], copts[1024];
	int port = free_port(), token;
	json_t *tmap;
	pid_t srv;

	snprintf(cmd, sizeof(cmd), "%s/srv/targets/big.img", dir);
	make_image(cmd, mb, sha);
	tmap = json_object();
	json_object_set_new(tmap, "big.img",
			    target_entry((uint64_t)mb << 20, sha, "2"));
	write_top(tmap);
	printf("| transport | size | bulwark-device pull | curl + sha256sum | "
	       "ratio |\n|---|---|---|---|---|\n");
	snprintf(cmd, sizeof(cmd), "cd %s/srv && exec python3 -m http.server "
		 "--bind 127.0.0.1 %d >/dev/null 2>&1", dir, port);
	snprintf(probe, sizeof(probe), "curl -sf -o /dev/null "
		 "http://127.0.0.1:%d/repo/timestamp.json", port);
	srv = start_server(cmd, probe);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	compare("HTTP (python3 http.server)", url, "", "", mb);
	stop_server(srv);

	token = make_token();
	make_certs();
	port++;
	/* python's ssl server, client certificate required: the same
	 * server code as the HTTP run (openssl s_server -WWW answers a
	 * missing file with 200 and an error text, which TUF rightly
	 * rejects). */
	snprintf(cmd, sizeof(cmd), "exec python3 -c '%s' %s/srv %d %s/server.pem "
		 "%s/server.key %s/clients.pem >/dev/null 2>&1",
		 "import http.server as h,ssl,sys,os;os.chdir(sys.argv[1]);"
		 "s=h.ThreadingHTTPServer((\"127.0.0.1\",int(sys.argv[2])),"
		 "h.SimpleHTTPRequestHandler);c=ssl.SSLContext("
		 "ssl.PROTOCOL_TLS_SERVER);c.load_cert_chain(sys.argv[3],"
		 "sys.argv[4]);c.load_verify_locations(sys.argv[5]);"
		 "c.verify_mode=ssl.CERT_REQUIRED;s.socket=c.wrap_socket("
		 "s.socket,server_side=True);s.serve_forever()",
		 dir, port, dir, dir, dir);
	snprintf(copts, sizeof(copts), "--cacert %s/server.pem --cert "
		 "%s/client.pem --key %s/client.key", dir, dir, dir);
	snprintf(probe, sizeof(probe), "curl -sf -o /dev/null %s "
		 "https://127.0.0.1:%d/repo/timestamp.json", copts, port);
	srv = start_server(cmd, probe);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
	snprintf(tls, sizeof(tls), "[tls]\nca_file = %s/server.pem\ncert_file "
		 "= %s/client.pem\nkey_file = %s/client.key\n", dir, dir, dir);
	compare("mTLS, key file (python3 http.server + ssl)", url, tls, copts,
		mb);
	if (token) {
		snprintf(tls, sizeof(tls), "[tls]\nca_file = %s/server.pem\n"
			 "cert_file = %s/token.pem\n[pkcs11]\ntoken_label = "
			 "bench\nkey_label = devkey\npin_file = %s/pin\n", dir,
			 dir, dir);
		snprintf(copts, sizeof(copts), "--cacert %s/server.pem --engine "
			 "pkcs11 --key-type ENG --key 'pkcs11:token=bench;"
			 "object=devkey;type=private;pin-value=1234' --cert "
			 "%s/token.pem", dir, dir);
		compare("mTLS, key in SoftHSM2 (same server)", url, tls, copts,
			mb);
	}
	stop_server(srv);
	bulwarkd_row(mb, sha);
	snprintf(cmd, sizeof(cmd), "rm -f %s/srv/targets/big.img", dir);
	sh(cmd);
}

/* ---- the real gateway ------------------------------------------------------ */

static void save_key(struct bw_signer *k, const char *name)
{
	char path[256];
	struct bw_err err;

	snprintf(path, sizeof(path), "%s/bwd/%s.key", dir, name);
	if (bw_signer_keyfile_save(k, path, &err) != 0)
		die(err.msg);
}

/* root.json for bulwarkd's online keys (timestamp, snapshot, CI targets). */
static void bwd_root(struct bw_signer *const on[3])
{
	const char *names[] = {"timestamp", "snapshot", "targets"};
	json_t *r = role("root"), *keys = json_object(), *roles = json_object();
	struct bw_signer *signers[1] = {key};
	struct bw_err err;
	json_t *kj = NULL, *env = NULL;
	uint8_t *bytes = NULL;
	size_t len = 0;

	for (size_t i = 0; i < 4; i++) {
		struct bw_signer *k = i < 3 ? on[i] : key;

		if (bw_key_to_json(bw_signer_key(k), &kj, NULL) != 0)
			die("key to json");
		json_object_set_new(keys, bw_signer_key(k)->keyid, kj);
		json_object_set_new(roles, i < 3 ? names[i] : "root",
				    json_pack("{s:[s], s:i}", "keyids",
					      bw_signer_key(k)->keyid,
					      "threshold", 1));
	}
	json_object_set_new(r, "consistent_snapshot", json_false());
	json_object_set_new(r, "keys", keys);
	json_object_set_new(r, "roles", roles);
	if (bw_tuf_envelope_sign(r, signers, 1, &env, &err) != 0 ||
	    bw_json_canonical_alloc(env, &bytes, &len, &err) != 0 ||
	    bw_io_write_atomic(root_path, bytes, len, 0644, &err) != 0)
		die(err.msg);
	json_decref(env);
	json_decref(r);
	free(bytes);
}

static void bwd_config(int gw, int adm, int reg)
{
	char path[256], text[2048];
	struct bw_err err;

	snprintf(path, sizeof(path), "%s/bwd/bulwarkd.conf", dir);
	snprintf(text, sizeof(text),
		 "[server]\ndatabase = %s/bwd/db\npki_dir = %s/bwd/pki\n"
		 "role = all\n[gateway]\nlisten = 127.0.0.1:%d\ntargets_dir = "
		 "%s/bwd/targets\n[admin]\nlisten = 127.0.0.1:%d\ntoken_file "
		 "= %s/bwd/admin.token\n[registration]\nlisten = 127.0.0.1:%d"
		 "\ngateway_url = https://127.0.0.1:%d\n[signing]\n"
		 "timestamp_key = %s/bwd/timestamp.key\nsnapshot_key = "
		 "%s/bwd/snapshot.key\nci_targets_key = %s/bwd/ci.key\n", dir,
		 dir, gw, dir, adm, dir, reg, gw, dir, dir, dir);
	if (bw_io_write_atomic(path, text, strlen(text), 0600, &err) != 0)
		die(err.msg);
	snprintf(path, sizeof(path), "%s/bwd/admin.token", dir);
	if (bw_io_write_atomic(path, ADMIN_TOKEN "\n", strlen(ADMIN_TOKEN) + 1,
			       0600, &err) != 0)
		die(err.msg);
}

/* Admin API call with curl; the answer goes to dir/bwd/answer.json. */
static void admin(int port, const char *method, const char *path,
		  const char *body_file)
{
	char cmd[8192];

	snprintf(cmd, sizeof(cmd), "curl -sf --cacert %s/bwd/pki/factory_ca.pem "
		 "-H 'Authorization: Bearer " ADMIN_TOKEN "' -X %s %s%s "
		 "-o %s/bwd/answer.json https://127.0.0.1:%d%s", dir, method,
		 body_file ? "--data-binary @" : "", body_file ? body_file : "",
		 dir, port, path);
	sh(cmd);
}

/* A CI target and a registration token through the admin API; the
 * token lands in dir/bwd/reg.token. */
static void bwd_seed(int adm, size_t mb, const char *sha)
{
	char path[256], body[1024];
	struct bw_err err;
	json_t *tok;

	admin(adm, "PUT", "/repo/ci/root", root_path);
	snprintf(path, sizeof(path), "%s/bwd/add.json", dir);
	snprintf(body, sizeof(body), "{\"name\":\"big.img\",\"length\":%llu,"
		 "\"hashes\":{\"sha256\":\"%s\"},\"custom\":{\"version\":"
		 "\"2\",\"hardwareIds\":[\"" HWID "\"],\"tags\":[\"main\"]}}",
		 (unsigned long long)mb << 20, sha);
	if (bw_io_write_atomic(path, body, strlen(body), 0600, &err) != 0)
		die(err.msg);
	admin(adm, "POST", "/repo/ci/targets/add", path);
	snprintf(path, sizeof(path), "%s/bwd/tok.json", dir);
	snprintf(body, sizeof(body), "{\"scope\":\"ci\",\"expires-in\":3600}");
	if (bw_io_write_atomic(path, body, strlen(body), 0600, &err) != 0)
		die(err.msg);
	admin(adm, "POST", "/tokens", path);
	snprintf(path, sizeof(path), "%s/bwd/answer.json", dir);
	tok = json_load_file(path, 0, NULL);
	if (!json_is_string(json_object_get(tok, "token")))
		die("no registration token");
	snprintf(path, sizeof(path), "%s/bwd/reg.token", dir);
	if (bw_io_write_atomic(path, json_string_value(json_object_get(tok,
			       "token")), strlen(json_string_value(
			       json_object_get(tok, "token"))), 0600, &err))
		die(err.msg);
	json_decref(tok);
}

static pid_t bwd_start(size_t mb, const char *sha, int *gw_out)
{
	struct bw_signer *on[3] = {NULL, NULL, NULL};
	const char *names[] = {"timestamp", "snapshot", "ci"};
	int gw = free_port() + 10, adm = gw + 1, reg = gw + 2;
	char cmd[8192], probe[1024];
	struct bw_err err;
	pid_t pid;

	snprintf(cmd, sizeof(cmd), "mkdir -p %s/bwd/targets && ln "
		 "%s/srv/targets/big.img %s/bwd/targets/big.img && %s/../bulwark"
		 " keys ca create %s/bwd/pki --factory acme --ip 127.0.0.1 "
		 "--online-ca --local-ca >/dev/null", dir, dir, dir, bindir,
		 dir);
	sh(cmd);
	for (int i = 0; i < 3; i++) {
		if (bw_signer_keyfile_generate(BW_KEY_ED25519, &on[i], &err))
			die(err.msg);
		save_key(on[i], names[i]);
	}
	snprintf(root_path, sizeof(root_path), "%s/bwd/root.json", dir);
	bwd_root(on);
	for (int i = 0; i < 3; i++)
		bw_signer_free(on[i]);
	bwd_config(gw, adm, reg);
	snprintf(cmd, sizeof(cmd), "exec %s/../bulwarkd --config "
		 "%s/bwd/bulwarkd.conf >%s/bwd/log 2>&1", bindir, dir, dir);
	snprintf(probe, sizeof(probe), "curl -sf --cacert %s/bwd/pki/"
		 "factory_ca.pem -H 'Authorization: Bearer " ADMIN_TOKEN "' -o "
		 "/dev/null https://127.0.0.1:%d/devices", dir, adm);
	pid = start_server(cmd, probe);
	bwd_seed(adm, mb, sha);
	snprintf(cmd, sizeof(cmd), "%s register --state-dir %s/state --server "
		 "https://127.0.0.1:%d --token-file %s/bwd/reg.token --ca-file "
		 "%s/bwd/pki/factory_ca.pem --hardware-id " HWID " --tag main "
		 "--key-file >/dev/null", agent, dir, reg, dir, dir);
	sh(cmd);
	*gw_out = gw;
	return pid;
}

/* Same 1 file through bulwarkd's mTLS gateway (file key; one row). */
static void bulwarkd_row(size_t mb, const char *sha)
{
	char url[64], copts[1024];
	int gw = 0;
	pid_t pid;

	if (access(bwd_path, X_OK) != 0)
		return;
	pid = bwd_start(mb, sha, &gw);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", gw);
	snprintf(copts, sizeof(copts), "--cacert %s/bwd/pki/factory_ca.pem "
		 "--cert %s/state/client.pem --key %s/state/pkey.pem -H "
		 "'x-ats-tags: main'", dir, dir, dir);
	compare("mTLS, bulwarkd gateway (key file)", url, "", copts, mb);
	stop_server(pid);
}
/* ---- 100k-target refresh --------------------------------------------------- */

/* In a child: the parent's RSS high-water mark would otherwise be
 * inherited by every process it forks (Linux keeps it across exec), and
 * 100k targets of JSON would show up as the agent's. */
static void write_many(size_t n)
{
	json_t *tmap;
	char name[64];
	pid_t pid = fork();
	int st = 0;

	if (pid < 0)
		die("fork");
	if (pid > 0) {
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			die("repository generation failed");
		return;
	}
	tmap = json_object();
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "fw-%06zu.img", i);
		json_object_set_new(tmap, name,
				    target_entry(1000 + i, "00000000000000000"
						 "000000000000000000000000000000"
						 "00000000000000000", "1"));
	}
	write_top(tmap);
	_exit(0);
}

#define REFRESH_RUNS 7

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One timed command: run after prep (untimed, when not NULL). */
struct timed_cmd {
	const char *prep, *cmd;
	int want_rc;
	double t[REFRESH_RUNS], c[REFRESH_RUNS];
	long rss_kib; /* the highest peak RSS */
};

static void run_once(struct timed_cmd *x, int i)
{
	long rss = 0;

	if (x->prep != NULL)
		sh(x->prep);
	x->t[i] = timed(x->cmd, &rss, x->want_rc);
	x->c[i] = last_cpu_s;
	if (rss > x->rss_kib)
		x->rss_kib = rss;
}

/* Median wall time of x's runs; *cpu the median CPU time (user + system:
 * what the process itself needed, whatever else runs). */
static double median_of(struct timed_cmd *x, double *cpu)
{
	qsort(x->t, REFRESH_RUNS, sizeof(x->t[0]), cmp_double);
	qsort(x->c, REFRESH_RUNS, sizeof(x->c[0]), cmp_double);
	*cpu = x->c[REFRESH_RUNS / 2];
	return x->t[REFRESH_RUNS / 2];
}

/* REFRESH_RUNS runs of a and b, one of each in turn, so that both see
 * the same load whatever else the machine does. */
static void run_pair(struct timed_cmd *a, struct timed_cmd *b)
{
	for (int i = 0; i < REFRESH_RUNS; i++) {
		run_once(a, i);
		run_once(b, i);
	}
}

/*
 * `bulwark-device check` against `bulwark-tuf-client refresh` (the peer:
 * the same TUF work without the device's listing) on the same repository,
 * cold and warm, each as a process.
 */
static void refresh_rss(size_t n)
{
	char url[128], prep[4096], cmd[4096], cprep[4096], ccmd[4096];
	long rss[4] = {0};
	double t[4], c[4];

	write_many(n);
	snprintf(url, sizeof(url), "file://%s/srv", dir);
	write_config(url, "");
	snprintf(prep, sizeof(prep), "rm -rf %s/state && %s provision --config "
		 "%s/device.ini --root %s/srv/repo/1.root.json", dir, agent, dir,
		 dir);
	snprintf(cmd, sizeof(cmd), "exec %s check --config %s/device.ini "
		 ">/dev/null", agent, dir);
	snprintf(cprep, sizeof(cprep), "rm -rf %s/client && mkdir %s/client && "
		 "%s/../bulwark-tuf-client --metadata-dir %s/client init "
		 "%s/srv/repo/1.root.json 2>/dev/null", dir, dir, bindir, dir, dir);
	snprintf(ccmd, sizeof(ccmd), "exec %s/../bulwark-tuf-client "
		 "--metadata-dir %s/client --metadata-url file://%s/srv/repo "
		 "refresh 2>/dev/null", bindir, dir, dir);
	struct timed_cmd x[4] = {
		{.prep = prep, .cmd = cmd, .want_rc = 16},
		{.prep = NULL, .cmd = cmd, .want_rc = 16},
		{.prep = cprep, .cmd = ccmd, .want_rc = 0},
		{.prep = NULL, .cmd = ccmd, .want_rc = 0}};

	/* Cold check and cold client in turn, then warm and warm. */
	run_pair(&x[0], &x[2]);
	run_pair(&x[1], &x[3]);
	for (int i = 0; i < 4; i++) {
		t[i] = median_of(&x[i], &c[i]);
		rss[i] = x[i].rss_kib;
	}
	printf("\n%zu targets, all for this device, %s JSON, file://, median "
	       "of %d runs each (peak RSS: the highest run):\n\n"
	       "| process | cold ms | cold CPU ms | cold peak RSS MiB | warm ms "
	       "| warm CPU ms | warm peak RSS MiB |\n"
	       "|---|---|---|---|---|---|---|\n", n,
	       g_indent ? "indented" : "compact canonical", REFRESH_RUNS);
	printf("| `bulwark-device check` | %.1f | %.1f | %.1f | %.1f | %.1f | "
	       "%.1f |\n", t[0] * 1e3, c[0] * 1e3, rss[0] / 1024.0, t[1] * 1e3,
	       c[1] * 1e3, rss[1] / 1024.0);
	printf("| `bulwark-tuf-client refresh` (peer) | %.1f | %.1f | %.1f | "
	       "%.1f | %.1f | %.1f |\n", t[2] * 1e3, c[2] * 1e3,
	       rss[2] / 1024.0, t[3] * 1e3, c[3] * 1e3, rss[3] / 1024.0);
	printf("| check / client | %.2fx | %.2fx | %.2fx | %.2fx | %.2fx | "
	       "%.2fx |\n", t[0] / t[2], c[0] / c[2],
	       (double)rss[0] / (double)rss[2], t[1] / t[3], c[1] / c[3],
	       (double)rss[1] / (double)rss[3]);
}

int main(int argc, char **argv)
{
	const char *mbs = getenv("BW_BENCH_MB");
	long mb = mbs ? strtol(mbs, NULL, 10) : 256;
	char *slash, path[256], rp[PATH_MAX];
	struct bw_err err;

	(void)argc;
	mb = mb < 256 ? 256 : mb > 1024 ? 1024 : mb;
	/* build/bench/bench_device_download -> build/bulwark-device */
	/* Absolute: the commands below run from other directories. */
	if (realpath(argv[0], rp) == NULL || strlen(rp) >= sizeof(bindir))
		die("realpath");
	snprintf(bindir, sizeof(bindir), "%s", rp);
	slash = strrchr(bindir, '/');
	if (slash == NULL)
		die("run with a path");
	*slash = '\0';
	snprintf(agent, sizeof(agent), "%s/../bulwark-device", bindir);
	snprintf(bwd_path, sizeof(bwd_path), "%s/../bulwarkd", bindir);
	if (access(agent, X_OK) != 0)
		die("bulwark-device not found next to the bench directory");
	snprintf(dir, sizeof(dir), "/tmp/bw_bench_device.XXXXXX");
	if (mkdtemp(dir) == NULL ||
	    bw_signer_keyfile_generate(BW_KEY_ED25519, &key, &err) != 0)
		die("setup");
	snprintf(path, sizeof(path), "%s/srv/targets", dir);
	if (bw_io_mkdirs(path, 0755, &err) != 0)
		die(err.msg);
	snprintf(path, sizeof(path), "%s/srv/repo", dir);
	if (bw_io_mkdirs(path, 0755, &err) != 0)
		die(err.msg);
	write_root();
	snprintf(root_path, sizeof(root_path), "%s/srv/repo/1.root.json", dir);
	printf("# device_download\n\n");
	if (getenv("BW_BENCH_RSS_ONLY") == NULL)
		throughput((size_t)mb);
	refresh_rss(100000);
	g_indent = 1;
	refresh_rss(100000);
	bw_signer_free(key);
	if (getenv("BW_BENCH_KEEP") != NULL) {
		fprintf(stderr, "kept %s\n", dir);
		return 0;
	}
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	sh(path);
	return 0;
}
