/*
 * bulwarkd gateway load: a self-contained benchmark. It builds a factory
 * PKI, N device certificates and a signed CI repository in a temporary
 * directory, forks a real bulwarkd server (the bwserver library, gateway +
 * registration listeners on 127.0.0.1) and drives it with client threads
 * speaking TLS with client certificates (OpenSSL):
 *
 *   full       connect, full mTLS handshake, GET /repo/timestamp.json, close
 *   resumed    the same with a TLS 1.3 session ticket (no client signature)
 *   keepalive  N devices on N open connections, each sending
 *              GET /repo/timestamp.json with If-None-Match (304), all
 *              requests of a round in flight at once
 *   register   POST /sign with a fresh CSR (token, CSR checks, issuance,
 *              one SQLite transaction) on keep-alive connections
 *
 * and reports operations per second, the server's CPU time per operation
 * (from /proc: meaningful even when the machine is shared) and the
 * server's peak RSS. Every mode
 * is bounded in time (--seconds, default 2) and count (--max, default
 * 200000). 127.0.0.1 only.
 *
 * Then (unless --no-nginx; --nginx is the default) it stops bulwarkd and
 * runs the same client, the same certificates and the same timestamp.json
 * (saved as a file) against nginx, the bar bulwarkd is held to: one worker,
 * mutual TLS with the same server certificate and CA bundle, ETag on,
 * resumption as bulwarkd does it (one process: OpenSSL's session cache,
 * tickets naming a session; several workers: sealed session tickets), in a
 * temporary prefix; --nginx-file-cache adds open_file_cache (nginx then
 * keeps the document's descriptor and stat() result, as bulwarkd keeps the
 * metadata in memory). Without an nginx binary those rows are
 * skipped with a message. Both servers are stopped on every exit path (SIGTERM,
 * then SIGKILL after 5 s).
 *
 * With --postgres it starts a throwaway PostgreSQL cluster (bench_pg.h)
 * and keeps the state there instead of SQLite, and with --gateways 2 it
 * forks two gateways on that one database, the client threads spread over
 * both; the CPU column then sums both servers, and a last column counts
 * the database transactions per operation (pg_stat_database).
 *
 * With --workers N every core: bulwarkd runs with server.workers = N (a
 * supervisor and N worker processes on SO_REUSEPORT sockets) and nginx
 * with worker_processes N; the CPU column sums every worker.
 *
 * Usage: bench_gateway [--seconds S] [--devices N] [--threads T] [--max M]
 *                      [--nginx | --no-nginx] [--nginx-file-cache]
 *                      [--nginx-first]
 *                      [--postgres] [--gateways G]
 *                      [--workers N]
 *                      [--case full|resumed|keepalive|register]...
 * (--case, repeatable: only these cases; all by default)
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "bench_pg.h"
#include "bulwark/hash.h"
#include "bulwark/json.h"
#include "bulwark/pki.h"
#include "bulwark/tuf.h"
#include "config.h"
#include "gateway.h"
#include "repo.h"
#include "server.h"
#include "storage.h"

#define MAX_DEVICES 1000
#define MAX_THREADS 16
#define MAX_GW 4
#define MAX_WORKERS 8
#define MAX_CPU_PIDS (MAX_GW * (MAX_WORKERS + 1))
#define TOKEN "bench-token-0123456789abcdef"
#define RESP_MAX 65536

struct dev {
	X509 *cert;
	EVP_PKEY *key;
	SSL_CTX *ctx;
};

static struct {
	char dir[256];
	int ngw; /* bulwarkd gateways (--gateways) */
	int gw_ports[MAX_GW], reg_ports[MAX_GW];
	pid_t servers[MAX_GW];
	int port; /* nginx's port, or the first gateway's */
	int ncpu;
	int nworkers; /* --workers: server.workers and nginx worker_processes */
	pid_t cpu_pids[MAX_CPU_PIDS]; /* whose CPU time is counted per op */
	int postgres;		/* --postgres */
	struct bench_pg pg;
	int ngx_file_cache; /* --nginx-file-cache: open_file_cache on */
	int ngx_first;	    /* --nginx-first: nginx's cases before bulwarkd's */
	int nginx;    /* also measure nginx (default; --no-nginx: not) */
	unsigned cases; /* bit per M_* case to run (--case; default all) */
	pid_t parent; /* cleanup runs in this process only */
	pid_t ngx;    /* nginx master, 0 when not running */
	double seconds;
	long max_ops;
	int ndev, nthreads;
	struct dev devs[MAX_DEVICES];
	SSL_CTX *reg_ctx;
	char etag[80];
	volatile long ops;
	volatile int stop;
	char *ts_body; /* timestamp.json as bulwarkd serves it */
	size_t ts_len;
} B;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_gateway: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

/* Binds 127.0.0.1:port (0: any) and lets go; returns the port or -1. */
static int bind_port(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t n = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), got = -1;

	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && !bind(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	    !getsockname(fd, (struct sockaddr *)&sa, &n))
		got = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return got;
}

static int free_port(void)
{
	int port = bind_port(0);

	if (port <= 0)
		die("free port");
	return port;
}

static int tcp_connect(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- fixtures ------------------------------------------------------------ */

static void make_pki(void)
{
	struct bw_pki_create_opts o;
	const char *ips[] = {"127.0.0.1"};
	struct bw_err err = {0};

	memset(&o, 0, sizeof(o));
	o.dir = B.dir;
	o.factory = "bench";
	o.sans.ip = ips;
	o.sans.nip = 1;
	o.online_ca = 1;
	o.now = time(NULL);
	if (bw_pki_create(&o, &err))
		die(err.msg);
}

static X509_REQ *make_csr(const char *uuid, EVP_PKEY *key)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *n = X509_NAME_new();

	X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
				   (const unsigned char *)uuid, -1, -1, 0);
	X509_NAME_add_entry_by_NID(n, NID_organizationalUnitName, MBSTRING_UTF8,
				   (const unsigned char *)"bench", -1, -1, 0);
	X509_REQ_set_subject_name(req, n);
	X509_REQ_set_pubkey(req, key);
	X509_REQ_sign(req, key, EVP_sha256());
	X509_NAME_free(n);
	return req;
}

static void random_uuid(char out[37])
{
	unsigned char r[16];
	char hex[33];

	RAND_bytes(r, sizeof(r));
	bw_hex_encode(r, 16, hex);
	snprintf(out, 37, "%.8s-%.4s-4%.3s-8%.3s-%.12s", hex, hex + 8, hex + 12,
		 hex + 16, hex + 20);
}

static SSL_CTX *client_ctx(X509 *cert, EVP_PKEY *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char ca[300];

	snprintf(ca, sizeof(ca), "%s/factory_ca.pem", B.dir);
	if (!ctx || SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
		die("client ctx");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
	if (cert && (SSL_CTX_use_certificate(ctx, cert) != 1 ||
		     SSL_CTX_use_PrivateKey(ctx, key) != 1))
		die("client cert");
	return ctx;
}

static void make_devices(void)
{
	char path[300], uuid[37];
	X509 *ca = NULL;
	EVP_PKEY *cakey = NULL;

	snprintf(path, sizeof(path), "%s/online-ca.pem", B.dir);
	if (bw_pki_cert_load(path, &ca, NULL))
		die("online-ca.pem");
	snprintf(path, sizeof(path), "%s/online-ca.key", B.dir);
	if (bw_pki_key_load(path, &cakey, NULL))
		die("online-ca.key");
	for (int i = 0; i < B.ndev; i++) {
		X509_REQ *req = NULL;

		if (bw_pki_key_generate(&B.devs[i].key, NULL))
			die("keygen");
		random_uuid(uuid);
		req = make_csr(uuid, B.devs[i].key);
		if (bw_pki_device_cert_issue(ca, cakey, req, "bench", 0, 30,
					     time(NULL), &B.devs[i].cert, NULL))
			die("device cert");
		X509_REQ_free(req);
		B.devs[i].ctx = client_ctx(B.devs[i].cert, B.devs[i].key);
	}
	B.reg_ctx = client_ctx(NULL, NULL);
	X509_free(ca);
	EVP_PKEY_free(cakey);
}

/* A CI root and one server-signed target, through the server's own code. */
static void make_repo(const struct bw_srv_config *cfg)
{
	struct bw_signer *k[4] = {NULL};
	const char *roles[4] = {"root", "timestamp", "snapshot", "targets"};
	struct bw_store *st = NULL;
	struct bw_srv_repo *r = NULL;
	struct bw_srv_repo_opts o = {.timestamp_expiry = 86400,
				     .timestamp_resign_before = 3600,
				     .snapshot_expiry = 86400 * 30,
				     .ci_targets_expiry = 86400 * 30};
	struct bw_err err = {0};
	json_t *keys = json_object(), *rl = json_object(), *obj = NULL,
	       *env = NULL, *fi = NULL;
	uint8_t *root = NULL;
	size_t len = 0;
	char hash[65];

	for (int i = 0; i < 4; i++) {
		json_t *kj = NULL;

		if (bw_signer_keyfile_generate(BW_KEY_ED25519, &k[i], NULL) ||
		    bw_key_to_json(bw_signer_key(k[i]), &kj, NULL))
			die("tuf key");
		json_object_set_new(keys, bw_signer_key(k[i])->keyid, kj);
		json_object_set_new(rl, roles[i],
				    json_pack("{s:[s],s:i}", "keyids",
					      bw_signer_key(k[i])->keyid,
					      "threshold", 1));
	}
	obj = json_pack("{s:s,s:s,s:i,s:s,s:b,s:o,s:o}", "_type", "root",
			"spec_version", "1.0.31", "version", 1, "expires",
			"2099-01-01T00:00:00Z", "consistent_snapshot", 0,
			"keys", keys, "roles", rl);
	if (bw_tuf_envelope_sign(obj, &k[0], 1, &env, NULL) ||
	    bw_json_serialize(env, &root, &len, NULL))
		die("root");
	o.timestamp = k[1], o.snapshot = k[2], o.ci_targets = k[3];
	bw_hash_buf_hex(BW_HASH_SHA256, "fw", 2, hash);
	fi = json_pack("{s:i,s:{s:s}}", "length", 2, "hashes", "sha256", hash);
	if ((cfg->storage_url[0]
		 ? bw_store_postgres_open(cfg->storage_url, &st, &err)
		 : bw_store_sqlite_open(cfg->database, &st, &err)) ||
	    bw_srv_repo_new(st, &o, &r) ||
	    bw_srv_repo_root_upload(r, "ci", root, len, time(NULL), &err) ||
	    bw_srv_repo_ci_target_add(r, "fw", fi, time(NULL), &err))
		die(err.msg);
	bw_hash_buf_hex(BW_HASH_SHA256, TOKEN, strlen(TOKEN), hash);
	if (st->ops->token_add(st, hash, "ci", time(NULL) + 3600, -1, "bench",
			       time(NULL), NULL, &err))
		die(err.msg);
	bw_srv_repo_free(r);
	bw_store_close(st);
	for (int i = 0; i < 4; i++)
		bw_signer_free(k[i]);
	free(root);
	json_decref(fi);
	json_decref(obj);
	json_decref(env);
}

/* ---- the server (child process) --------------------------------------- */

/* Gateway i (its own ports; all on one database). */
static pid_t start_server(int i)
{
	struct bw_srv_config cfg;
	struct bw_srv *srv = NULL;
	struct bw_err err = {0};
	pid_t pid = 0;

	bw_srv_config_init(&cfg);
	snprintf(cfg.database, sizeof(cfg.database), "%s/bench.db", B.dir);
	snprintf(cfg.pki_dir, sizeof(cfg.pki_dir), "%s", B.dir);
	snprintf(cfg.gw_listen, sizeof(cfg.gw_listen), "127.0.0.1:%d",
		 B.gw_ports[i]);
	snprintf(cfg.reg_listen, sizeof(cfg.reg_listen), "127.0.0.1:%d",
		 B.reg_ports[i]);
	snprintf(cfg.targets_dir, sizeof(cfg.targets_dir), "%s", B.dir);
	cfg.roles = BW_SRV_ROLE_GATEWAY | BW_SRV_ROLE_REGISTRATION;
	cfg.reg_rate_per_minute = 100000000;
	cfg.log_level = 4;
	cfg.workers = B.nworkers;
	if (B.postgres)
		snprintf(cfg.storage_url, sizeof(cfg.storage_url), "%s",
			 B.pg.url);
	if (bw_srv_config_finish(&cfg, &err))
		die(err.msg);
	if (i == 0)
		make_repo(&cfg);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid > 0)
		return pid;
	if (B.nworkers > 1)
		_exit(bw_srv_workers_run(&cfg) ? 1 : 0);
	if (bw_srv_new(&cfg, &srv, &err)) {
		fprintf(stderr, "server: %s\n", err.msg);
		_exit(1);
	}
	bw_srv_run(srv);
	bw_srv_free(srv);
	_exit(0);
}

static void wait_port(int port)
{
	for (int i = 0; i < 200; i++) {
		int fd = tcp_connect(port);

		if (fd >= 0) {
			close(fd);
			return;
		}
		usleep(25000);
	}
	die("server did not start");
}

/* ---- HTTP over TLS ------------------------------------------------------- */

static int ssl_write_all(SSL *ssl, const char *buf, size_t n)
{
	return SSL_write(ssl, buf, (int)n) == (int)n ? 0 : -1;
}

/* Read one response; returns the status code or -1. */
static int read_response(SSL *ssl, char *buf, size_t cap)
{
	size_t have = 0, need = 0;
	char *hdr_end = NULL, *cl = NULL;
	int status = 0;

	while (!hdr_end) {
		int n = SSL_read(ssl, buf + have, (int)(cap - have - 1));

		if (n <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
		hdr_end = strstr(buf, "\r\n\r\n");
		if (!hdr_end && have >= cap - 1)
			return -1;
	}
	if (strncmp(buf, "HTTP/1.1 ", 9))
		return -1;
	status = (int)strtol(buf + 9, NULL, 10);
	cl = strcasestr(buf, "Content-Length:");
	need = (size_t)(hdr_end + 4 - buf) +
	       (cl && cl < hdr_end ? strtoul(cl + 15, NULL, 10) : 0);
	if (need >= cap)
		return -1;
	while (have < need) {
		int n = SSL_read(ssl, buf + have, (int)(need - have));

		if (n <= 0)
			return -1;
		have += (size_t)n;
	}
	buf[have] = '\0';
	return status;
}

static SSL *tls_open(SSL_CTX *ctx, int port, SSL_SESSION *sess)
{
	int fd = tcp_connect(port);
	SSL *ssl = fd >= 0 ? SSL_new(ctx) : NULL;

	if (!ssl) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	SSL_set_fd(ssl, fd);
	if (sess)
		SSL_set_session(ssl, sess);
	if (SSL_connect(ssl) != 1) {
		SSL_free(ssl);
		close(fd);
		return NULL;
	}
	return ssl;
}

static void tls_close(SSL *ssl)
{
	int fd = SSL_get_fd(ssl);

	SSL_shutdown(ssl);
	SSL_free(ssl);
	close(fd);
}

static const char *ts_request(int with_etag)
{
	static char req[256];

	snprintf(req, sizeof(req),
		 "GET /repo/timestamp.json HTTP/1.1\r\n"
		 "Host: 127.0.0.1\r\n%s%s%s\r\n",
		 with_etag ? "If-None-Match: " : "", with_etag ? B.etag : "",
		 with_etag ? "\r\n" : "");
	return req;
}

/* ---- modes -----------------------------------------------------------------
 */

struct worker {
	int idx;
	int mode;
	long ok, fail, reused;
};

enum { M_FULL, M_RESUMED, M_KEEPALIVE, M_REGISTER };

/* Latencies of one case (ms), for its p50 and p99; a fixed array, later
 * operations beyond it are not sampled. */
#define LAT_MAX 200000
static double lat_ms[LAT_MAX];
static long lat_n;

static void lat_add(double t0)
{
	long i = __atomic_fetch_add(&lat_n, 1, __ATOMIC_RELAXED);

	if (i < LAT_MAX)
		lat_ms[i] = (now_s() - t0) * 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* "p50 / p99 ms" of what lat_add recorded since the last call. */
static void lat_report(char *out, size_t size)
{
	long n = lat_n < LAT_MAX ? lat_n : LAT_MAX;

	if (n == 0) {
		snprintf(out, size, "-");
		return;
	}
	qsort(lat_ms, (size_t)n, sizeof(lat_ms[0]), cmp_double);
	snprintf(out, size, "%.2f / %.2f", lat_ms[n / 2],
		 lat_ms[(long)((double)n * 0.99) < n ? (long)((double)n * 0.99)
						     : n - 1]);
	lat_n = 0;
}

/* The port client idx talks to: nginx, or one of the gateways. */
static int port_for(int idx)
{
	return B.ngx ? B.port : B.gw_ports[idx % B.ngw];
}

static int more(void)
{
	return !B.stop &&
	       __atomic_add_fetch(&B.ops, 1, __ATOMIC_RELAXED) <= B.max_ops;
}

static void *worker_handshake(struct worker *w)
{
	struct dev *d = &B.devs[w->idx % B.ndev];
	SSL_SESSION *sess = NULL;
	char *buf = malloc(RESP_MAX);
	const char *req = ts_request(1);

	while (buf && more()) {
		double t0 = now_s();
		SSL *ssl = tls_open(d->ctx, port_for(w->idx),
				    w->mode == M_RESUMED ? sess : NULL);

		if (!ssl || ssl_write_all(ssl, req, strlen(req)) ||
		    read_response(ssl, buf, RESP_MAX) != 304) {
			w->fail++;
		} else {
			w->ok++;
			lat_add(t0);
			w->reused += SSL_session_reused(ssl);
			/* TLS 1.3 tickets are single-use on the client:
			 * keep the one that came with this response */
			if (w->mode == M_RESUMED) {
				SSL_SESSION_free(sess);
				sess = SSL_get1_session(ssl);
			}
		}
		if (ssl)
			tls_close(ssl);
	}
	SSL_SESSION_free(sess);
	free(buf);
	return NULL;
}

/* This worker's share of the devices, each on its own connection; every
 * round sends one request on each and then reads every answer. */
static void *worker_keepalive(struct worker *w)
{
	SSL *ssl[MAX_DEVICES] = {NULL};
	char *buf = malloc(RESP_MAX);
	const char *req = ts_request(1);
	int n = 0;

	for (int i = w->idx; i < B.ndev; i += B.nthreads)
		if ((ssl[n] = tls_open(B.devs[i].ctx, port_for(i), NULL)))
			n++;
	while (buf && n && !B.stop) {
		/* a request's latency: from the round's start (all of the
		 * round's requests are in flight together) to its answer */
		double t0 = now_s();

		for (int i = 0; i < n; i++)
			if (ssl_write_all(ssl[i], req, strlen(req)))
				w->fail++;
		for (int i = 0; i < n; i++) {
			if (read_response(ssl[i], buf, RESP_MAX) == 304)
				w->ok++, lat_add(t0);
			else
				w->fail++;
		}
		if (__atomic_add_fetch(&B.ops, n, __ATOMIC_RELAXED) >=
		    B.max_ops)
			break;
	}
	for (int i = 0; i < n; i++)
		tls_close(ssl[i]);
	free(buf);
	return NULL;
}

static char *register_body(void)
{
	EVP_PKEY *key = NULL;
	X509_REQ *req = NULL;
	BIO *b = BIO_new(BIO_s_mem());
	char uuid[37], *pem = NULL, *out = NULL;
	long n = 0;
	json_t *j = NULL;

	random_uuid(uuid);
	if (bw_pki_key_generate(&key, NULL) || !b)
		die("csr key");
	req = make_csr(uuid, key);
	PEM_write_bio_X509_REQ(b, req);
	n = BIO_get_mem_data(b, &pem);
	j = json_pack("{s:s,s:s,s:s%}", "uuid", uuid, "hardware-id", "board",
		      "csr", pem, (size_t)n);
	out = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	BIO_free(b);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return out;
}

static void *worker_register(struct worker *w)
{
	SSL *ssl = tls_open(B.reg_ctx, B.reg_ports[w->idx % B.ngw], NULL);
	char *buf = malloc(RESP_MAX), head[256];

	while (ssl && buf && more()) {
		char *body = register_body();
		int hn = snprintf(head, sizeof(head),
				  "POST /sign HTTP/1.1\r\n"
				  "Host: 127.0.0.1\r\nOSF-TOKEN: %s\r\n"
				  "Content-Length: %zu\r\n\r\n",
				  TOKEN, strlen(body));
		double t0 = now_s(); /* the CSR is the client's work */

		if (ssl_write_all(ssl, head, (size_t)hn) ||
		    ssl_write_all(ssl, body, strlen(body)) ||
		    read_response(ssl, buf, RESP_MAX) != 201)
			w->fail++;
		else
			w->ok++, lat_add(t0);
		free(body);
	}
	if (ssl)
		tls_close(ssl);
	free(buf);
	return NULL;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	if (w->mode == M_KEEPALIVE)
		return worker_keepalive(w);
	if (w->mode == M_REGISTER)
		return worker_register(w);
	return worker_handshake(w);
}

/* CPU seconds (user + system) one process used so far. */
static double proc_cpu(pid_t pid)
{
	char path[64], buf[1024], *p = NULL;
	unsigned long long ut = 0, st = 0;
	FILE *f = NULL;
	size_t n = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* fields after the ")" that ends the command name: 14 utime, 15 stime
	 */
	p = strrchr(buf, ')');
	for (int field = 2; p && field < 14; field++)
		p = strchr(p + 1, ' ');
	if (!p)
		return 0;
	ut = strtoull(p + 1, &p, 10);
	st = strtoull(p + 1, NULL, 10);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ... and all server processes together. */
static double server_cpu(void)
{
	double t = 0;

	for (int i = 0; i < B.ncpu; i++)
		t += proc_cpu(B.cpu_pids[i]);
	return t;
}

/* CPU seconds this process (the client threads) used so far. */
static double client_cpu(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* The machine's idle and total jiffies so far (all CPUs, /proc/stat):
 * idle time during a case means neither the server nor the client had
 * work, i.e. latency that no CPU figure shows. */
static void machine_jiffies(double *idle, double *total)
{
	unsigned long long v[10] = {0};
	FILE *f = fopen("/proc/stat", "r");
	char line[512];

	*idle = *total = 0;
	if (!f)
		return;
	if (fgets(line, sizeof(line), f) && !strncmp(line, "cpu ", 4)) {
		char *p = line + 4;

		for (int i = 0; i < 10; i++) {
			v[i] = strtoull(p, &p, 10);
			*total += (double)v[i];
		}
		*idle = (double)(v[3] + v[4]); /* idle + iowait */
	}
	fclose(f);
}

/* Database transactions so far (PostgreSQL only; -1 otherwise). */
static long db_xacts(void)
{
	if (!B.postgres || B.ngx)
		return -1;
	sleep(2); /* the server publishes backend counts once a second */
	return bench_pg_xacts(&B.pg);
}

static void run_mode(int mode, const char *name, const char *unit)
{
	pthread_t th[MAX_THREADS];
	struct worker w[MAX_THREADS];
	long ok = 0, fail = 0, reused = 0;
	double t0 = 0, dt = 0, cpu0 = server_cpu(), cpu1 = 0;
	double ccpu0 = client_cpu(), ccpu1 = 0, id0 = 0, tot0 = 0, id1 = 0,
	       tot1 = 0;
	long x0 = db_xacts(), x1 = 0;
	char xs[32] = "-", ls[48];

	if (!(B.cases & (1u << mode)))
		return;
	B.ops = 0;
	B.stop = 0;
	lat_n = 0;
	memset(w, 0, sizeof(w));
	machine_jiffies(&id0, &tot0);
	t0 = now_s();
	for (int i = 0; i < B.nthreads; i++) {
		w[i].idx = i;
		w[i].mode = mode;
		pthread_create(&th[i], NULL, worker_main, &w[i]);
	}
	while (now_s() - t0 < B.seconds && B.ops < B.max_ops)
		usleep(10000);
	B.stop = 1;
	for (int i = 0; i < B.nthreads; i++) {
		pthread_join(th[i], NULL);
		ok += w[i].ok, fail += w[i].fail, reused += w[i].reused;
	}
	dt = now_s() - t0;
	cpu1 = server_cpu();
	ccpu1 = client_cpu();
	machine_jiffies(&id1, &tot1);
	lat_report(ls, sizeof(ls));
	/* minus 1: the reading's own transaction */
	if (x0 >= 0 && ok && (x1 = db_xacts()) >= 0)
		snprintf(xs, sizeof(xs), "%.3f",
			 (double)(x1 - x0 - 1) / (double)ok);
	printf("| %-34s | %8.0f %-7s | %16.1f | %16.1f | %7.0f%% | %8ld | "
	       "%6ld | %-11s | %s | %s |\n",
	       name, ok / dt, unit, ok ? (cpu1 - cpu0) * 1e6 / (double)ok : 0.0,
	       ok ? (ccpu1 - ccpu0) * 1e6 / (double)ok : 0.0,
	       tot1 > tot0 ? (id1 - id0) * 100.0 / (tot1 - tot0) : 0.0, ok,
	       fail,
	       mode == M_RESUMED
		   ? (reused * 2 >= ok ? "resumed" : "NOT resumed")
		   : "",
	       xs, ls);
}

/* GET /repo/timestamp.json without If-None-Match: keeps the ETag for the
 * 304 cases and, when keep_body, the document itself (served to nginx). */
static void fetch_timestamp(int keep_body)
{
	char *buf = malloc(RESP_MAX), *e = NULL, *end = NULL, *body = NULL;
	SSL *ssl = tls_open(B.devs[0].ctx, port_for(0), NULL);
	const char *req = ts_request(0);

	if (!buf || !ssl || ssl_write_all(ssl, req, strlen(req)) ||
	    read_response(ssl, buf, RESP_MAX) != 200 ||
	    !(e = strcasestr(buf, "ETag: ")) || !(end = strstr(e, "\r\n")) ||
	    end - e - 6 >= (long)sizeof(B.etag) ||
	    !(body = strstr(buf, "\r\n\r\n")))
		die("GET /repo/timestamp.json");
	memcpy(B.etag, e + 6, (size_t)(end - e - 6));
	B.etag[end - e - 6] = '\0';
	if (keep_body) {
		B.ts_len = strlen(body + 4);
		if (!(B.ts_body = strdup(body + 4)))
			die("out of memory");
	}
	tls_close(ssl);
	free(buf);
}

/*
 * One check-in per device before the timed cases, on either server: a
 * device's first contact with bulwarkd binds it (a durable write, once in
 * the device's life), which is not what a fleet's check-ins cost.
 */
static void warm_up(void)
{
	char *buf = malloc(RESP_MAX);
	const char *req = ts_request(1);

	for (int i = 0; buf && i < B.ndev; i++) {
		SSL *ssl = tls_open(B.devs[i].ctx, port_for(i), NULL);

		if (!ssl || ssl_write_all(ssl, req, strlen(req)) ||
		    read_response(ssl, buf, RESP_MAX) != 304)
			die("warm-up check-in");
		tls_close(ssl);
	}
	free(buf);
}

static void print_header(const char *server)
{
	printf("\n# %s, 127.0.0.1, %d devices, %d client threads, %.0f s per "
	       "case, ECDSA P-256 client certificates\n\n",
	       server, B.ndev, B.nthreads, B.seconds);
	printf("| case                               | rate             |"
	       " server CPU µs/op | client CPU µs/op | machine idle |"
	       "       ok |  fails | | DB xact/op | p50 / p99 ms |\n"
	       "|---|---|---|---|---|---|---|---|---|---|\n");
}

/* ---- processes ----------------------------------------------------------- */

/* SIGTERM, then SIGKILL to the whole group if it has not gone after 5 s. */
static void stop_child(pid_t pid, int group, struct rusage *ru, int *status)
{
	int st = 0;

	kill(pid, SIGTERM);
	for (int i = 0; i < 500; i++) {
		pid_t r = wait4(pid, &st, WNOHANG, ru);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return;
		if (i == 499) {
			kill(group ? -pid : pid, SIGKILL);
			wait4(pid, &st, 0, ru);
		}
		usleep(10000);
	}
	if (status)
		*status = st;
}

static void cleanup(void)
{
	char cmd[300];

	if (getpid() != B.parent)
		return;
	if (B.ngx > 0)
		stop_child(B.ngx, 1, NULL, NULL);
	for (int i = 0; i < B.ngw; i++)
		if (B.servers[i] > 0)
			stop_child(B.servers[i], 0, NULL, NULL);
	memset(B.servers, 0, sizeof(B.servers));
	B.ngx = 0;
	bench_pg_stop(&B.pg);
	if (B.dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", B.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_gateway: could not remove %s\n",
				B.dir);
	}
}

/* Interrupted (^C, timeout(1)): stop both servers, async-signal-safely.
 * nginx's master takes its worker down on SIGTERM. */
static void on_signal(int sig)
{
	if (getpid() == B.parent) {
		if (B.ngx > 0)
			kill(B.ngx, SIGTERM);
		for (int i = 0; i < B.ngw; i++)
			if (B.servers[i] > 0)
				kill(B.servers[i], SIGTERM);
	}
	_exit(128 + sig);
}

/* ---- nginx --------------------------------------------------------------- */

static const char *nginx_path(void)
{
	static const char *const cand[] = {
	    "/usr/sbin/nginx", "/usr/local/sbin/nginx",
	    "/usr/local/nginx/sbin/nginx", "/usr/bin/nginx"};

	for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]); i++)
		if (access(cand[i], X_OK) == 0)
			return cand[i];
	return NULL;
}

/* A free port below the ephemeral range (32768 up), so that none of the
 * client's own outgoing connections can be holding it. */
static int free_low_port(void)
{
	for (int i = 0; i < 200; i++) {
		unsigned char r[2] = {0};
		int port = 0;

		RAND_bytes(r, sizeof(r));
		port = 20000 + (r[0] << 8 | r[1]) % 12000;
		if (bind_port(port) == port)
			return port;
	}
	die("no free port in 20000-31999");
	return 0;
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");

	if (!f || fwrite(data, 1, len, f) != len || fclose(f))
		die(path);
}

static void append_file(FILE *out, const char *path)
{
	char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (!f)
		die(path);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			die("write CA bundle");
	fclose(f);
}

/* The same server certificate, the same client CAs (factory + device CA),
 * the same timestamp.json; one worker. */
static void nginx_files(const char *conf)
{
	char path[400];
	FILE *f = NULL;

	snprintf(path, sizeof(path), "%s/ngx-ca.pem", B.dir);
	if (!(f = fopen(path, "w")))
		die(path);
	snprintf(path, sizeof(path), "%s/factory_ca.pem", B.dir);
	append_file(f, path);
	snprintf(path, sizeof(path), "%s/online-ca.pem", B.dir);
	append_file(f, path);
	if (fclose(f))
		die("CA bundle");
	snprintf(path, sizeof(path), "%s/www", B.dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/www/repo", B.dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/www/repo/timestamp.json", B.dir);
	write_file(path, B.ts_body, B.ts_len);
	if (!(f = fopen(conf, "w")))
		die(conf);
	fprintf(f,
		"daemon off;\nmaster_process on;\nworker_processes %4$d;\n%3$s"
		"pid %1$s/ngx.pid;\nerror_log %1$s/ngx-error.log warn;\n"
		"events { worker_connections 4096; }\n"
		"http {\n access_log off;\n default_type application/json;\n"
		" client_body_temp_path %1$s/ngx-tmp;\n"
		" keepalive_requests 100000000;\n keepalive_timeout 75s;\n"
		" tcp_nodelay on;\n"
		" server {\n  listen 127.0.0.1:%2$d ssl;\n"
		"  ssl_protocols TLSv1.2 TLSv1.3;\n"
		"  ssl_certificate %1$s/tls.pem;\n"
		"  ssl_certificate_key %1$s/tls.key;\n"
		"  ssl_client_certificate %1$s/ngx-ca.pem;\n"
		"  ssl_verify_client on;\n  ssl_verify_depth 2;\n"
		"%5$s"
		"  root %1$s/www;\n%6$s"
		"  location = /repo/timestamp.json { etag on; }\n"
		"  location / { return 404; }\n }\n}\n",
		B.dir, B.port,
		/* the worker must read the 0700 temporary directory */
		geteuid() == 0 ? "user root;\n" : "", B.nworkers,
		/* resumption as bulwarkd does it: one process keeps its
		 * sessions in OpenSSL's own cache (server.tls_session_cache,
		 * the ticket only names the session); several workers seal
		 * them in tickets (shared ticket keys) */
		B.nworkers == 1 ? "  ssl_session_cache builtin:131072;\n"
				  "  ssl_session_tickets off;\n"
				: "  ssl_session_tickets on;\n",
		B.ngx_file_cache ? "  open_file_cache max=64 inactive=60s;\n"
				   "  open_file_cache_valid 60s;\n"
				 : "");
	if (fclose(f))
		die(conf);
}

static pid_t spawn_nginx(const char *bin, const char *conf)
{
	char log[300];
	pid_t pid = 0;

	snprintf(log, sizeof(log), "%s/ngx-error.log", B.dir);
	fflush(NULL);
	if ((pid = fork()) < 0)
		die("fork");
	if (pid == 0) {
		/* its own process group, so a stuck master and its worker
		 * can be killed together */
		setpgid(0, 0);
		execl(bin, "nginx", "-p", B.dir, "-c", conf, "-e", log,
		      (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	return pid;
}

/* The children of parent (nginx's workers, bulwarkd's worker processes):
 * up to max of them into out; how many. */
static int children_of(pid_t parent, pid_t *out, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e = NULL;
	int found = 0;

	for (int i = 0; d && found < max && i < 1000000 && (e = readdir(d));
	     i++) {
		char path[300], buf[512], *p = NULL, *end = NULL;
		long pid = strtol(e->d_name, &end, 10);
		FILE *f = NULL;
		size_t n = 0;

		if (*end || pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		if (!(f = fopen(path, "r")))
			continue;
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		/* "pid (comm) state ppid ..." */
		if ((p = strrchr(buf, ')')) && strlen(p) > 4 &&
		    strtol(p + 4, NULL, 10) == parent)
			out[found++] = (pid_t)pid;
	}
	if (d)
		closedir(d);
	return found;
}

/* Every worker of a server whose top process is top (nginx master or
 * bulwarkd supervisor) joins the CPU count, the top process too. */
static void count_workers(pid_t top)
{
	int n = 0;

	for (int i = 0; i < 500; i++) {
		n = children_of(top, B.cpu_pids + B.ncpu + 1,
				MAX_CPU_PIDS - B.ncpu - 1);
		if (n >= B.nworkers)
			break;
		usleep(10000);
	}
	if (n < B.nworkers)
		die("server workers not found");
	B.cpu_pids[B.ncpu] = top;
	B.ncpu += n + 1;
}

static void run_nginx(void)
{
	const char *bin = nginx_path();
	char conf[300], title[400];

	if (!bin) {
		printf("\n# nginx: not installed (looked in /usr/sbin, "
		       "/usr/local/sbin, /usr/local/nginx/sbin, /usr/bin); "
		       "nginx rows skipped (Debian: apt-get install "
		       "nginx-light)\n");
		return;
	}
	B.port = free_low_port();
	snprintf(conf, sizeof(conf), "%s/ngx.conf", B.dir);
	nginx_files(conf);
	B.ngx = spawn_nginx(bin, conf);
	wait_port(B.port);
	B.ncpu = 0;
	count_workers(B.ngx);
	fetch_timestamp(0);
	warm_up();
	snprintf(title, sizeof(title),
		 "nginx (%s), %d worker%s, same "
		 "certificates, same timestamp.json, ETag, %s%s",
		 bin, B.nworkers, B.nworkers > 1 ? "s" : "",
		 B.nworkers == 1 ? "session cache" : "session tickets",
		 B.ngx_file_cache ? ", open_file_cache" : "");
	print_header(title);
	run_mode(M_FULL, "full mTLS handshake + GET (304)", "conn/s");
	run_mode(M_RESUMED, "resumed TLS 1.3 + GET (304)", "conn/s");
	run_mode(M_KEEPALIVE, "keep-alive GET timestamp (304)", "req/s");
	stop_child(B.ngx, 1, NULL, NULL);
	B.ngx = 0;
	printf("\nnginx stopped\n");
}

static void args(int argc, char **argv)
{
	B.seconds = 2;
	B.ndev = 100;
	B.nthreads = 2;
	B.max_ops = 200000;
	B.nginx = 1;
	B.ngw = 1;
	B.nworkers = 1;
	for (int i = 1; i < argc; i += 2) {
		static const char *const names[] = {"full", "resumed",
						    "keepalive", "register"};
		int c = -1;

		for (int k = 0; i + 1 < argc && k < 4; k++)
			if (!strcmp(argv[i + 1], names[k]))
				c = k;
		long v = i + 1 < argc ? strtol(argv[i + 1], NULL, 10) : 0;

		if (!strcmp(argv[i], "--nginx") ||
		    !strcmp(argv[i], "--no-nginx"))
			B.nginx = !strcmp(argv[i], "--nginx"), i--;
		else if (!strcmp(argv[i], "--seconds") && v >= 1 && v <= 60)
			B.seconds = (double)v;
		else if (!strcmp(argv[i], "--devices") && v >= 1 &&
			 v <= MAX_DEVICES)
			B.ndev = (int)v;
		else if (!strcmp(argv[i], "--threads") && v >= 1 &&
			 v <= MAX_THREADS)
			B.nthreads = (int)v;
		else if (!strcmp(argv[i], "--max") && v >= 1 && v <= 10000000)
			B.max_ops = v;
		else if (!strcmp(argv[i], "--nginx-file-cache"))
			B.ngx_file_cache = 1, i--;
		else if (!strcmp(argv[i], "--nginx-first"))
			B.ngx_first = 1, i--;
		else if (!strcmp(argv[i], "--postgres"))
			B.postgres = 1, i--;
		else if (!strcmp(argv[i], "--gateways") && v >= 1 &&
			 v <= MAX_GW)
			B.ngw = (int)v;
		else if (!strcmp(argv[i], "--case") && c >= 0)
			B.cases |= 1u << c;
		else if (!strcmp(argv[i], "--workers") && v >= 1 &&
			 v <= MAX_WORKERS)
			B.nworkers = (int)v;
		else
			die("usage: bench_gateway [--seconds 1..60] [--devices "
			    "1..1000] [--threads 1..16] [--max N] "
			    "[--nginx|--no-nginx] [--nginx-file-cache] "
			    "[--nginx-first] "
			    "[--postgres] [--gateways "
			    "1..4] [--workers 1..8] [--case "
			    "full|resumed|keepalive|register]...");
	}
	if (!B.cases)
		B.cases = ~0u;
}

int main(int argc, char **argv)
{
	struct rusage ru;
	int status = -1;

	args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	B.parent = getpid();
	snprintf(B.dir, sizeof(B.dir), "/tmp/bench-gateway-XXXXXX");
	if (!mkdtemp(B.dir))
		die("mkdtemp");
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	if (B.postgres && bench_pg_start(&B.pg, free_port()))
		die("--postgres: could not start a PostgreSQL cluster "
		    "(scripts/install-deps.sh installs it)");
	make_pki();
	make_devices();
	for (int i = 0; i < B.ngw; i++) {
		B.gw_ports[i] = free_port();
		B.reg_ports[i] = free_port();
		B.servers[i] = start_server(i);
		wait_port(B.gw_ports[i]);
		wait_port(B.reg_ports[i]);
		if (B.nworkers > 1)
			count_workers(B.servers[i]);
		else
			B.cpu_pids[B.ncpu++] = B.servers[i];
	}
	B.port = B.gw_ports[0];
	fetch_timestamp(1);
	warm_up();
	if (B.nginx && B.ngx_first) {
		/* the same cases on nginx first (bulwarkd idles meanwhile):
		 * alternating the order between runs shows any drift of the
		 * machine during a run */
		pid_t pids[sizeof(B.cpu_pids) / sizeof(B.cpu_pids[0])];
		char etag[sizeof(B.etag)];
		int n = B.ncpu;

		memcpy(pids, B.cpu_pids, sizeof(pids));
		memcpy(etag, B.etag, sizeof(etag));
		run_nginx();
		memcpy(B.cpu_pids, pids, sizeof(pids));
		memcpy(B.etag, etag, sizeof(etag));
		B.ncpu = n;
		B.port = B.gw_ports[0];
	}
	{
		char title[200];

		snprintf(title, sizeof(title),
			 "bulwarkd, %d gateway process%s (%d worker%s each) on "
			 "one %s database",
			 B.ngw, B.ngw > 1 ? "es" : "", B.nworkers,
			 B.nworkers > 1 ? "s" : "",
			 B.postgres ? "PostgreSQL" : "SQLite");
		print_header(title);
	}
	run_mode(M_FULL, "full mTLS handshake + GET (304)", "conn/s");
	run_mode(M_RESUMED, "resumed TLS 1.3 + GET (304)", "conn/s");
	run_mode(M_KEEPALIVE, "keep-alive GET timestamp (304)", "req/s");
	run_mode(M_REGISTER, "registration POST /sign (201)", "reg/s");
	memset(&ru, 0, sizeof(ru));
	for (int i = 0; i < B.ngw; i++) {
		stop_child(B.servers[i], 0, &ru, &status);
		B.servers[i] = 0;
	}
	printf("\nserver peak RSS: %ld KiB; clean exit: %s\n", ru.ru_maxrss,
	       WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "yes" : "no");
	if (B.nginx && !B.ngx_first)
		run_nginx();
	free(B.ts_body);
	return 0;
}
