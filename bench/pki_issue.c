/*
 * Device certificates issued per second from CSRs (include/bulwark/pki.h):
 * the registration / EST hot path -- parse the CSR (PEM), verify its
 * self-signature, check it against the device profile, issue the
 * certificate (random serial, extensions, ECDSA P-256 signature), encode it
 * as PEM. Once with the device CA key in memory (a key file), once with the
 * device CA key in a SoftHSM2 token through the PKCS#11 signer (skipped when
 * SoftHSM2 is absent). Beside each, in the same run, the EST re-enrolment
 * path (include/bulwark/est.h): decode the base64 DER CSR body, verify its
 * self-signature, check the profile and the RFC 7030 4.2.2 rule against
 * the device's current certificate (same subject, new key), issue, encode
 * the answer as a base64 certs-only PKCS#7. Bounded to about `seconds` per
 * case (default 1), measured in CPU time of the one thread (per core).
 * Usage: bench_pki_issue [seconds 0..60]
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "bulwark/est.h"
#include "bulwark/pkcs11.h"
#include "bulwark/pki.h"

#define NCSR 64
#define MAX_OPS 10000000L

extern char **environ;

static char *csr_pem[NCSR];
static size_t csr_len[NCSR];
/* re-enrolment: each device's current certificate and its next CSR */
static X509 *cur_cert[NCSR];
static char *re_b64[NCSR];
static size_t re_len[NCSR];

/* CPU time of this thread: figures per core that hold on a loaded
 * machine too (the SoftHSM2 module runs in this thread as well). */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st = 0;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* NCSR device CSRs, as a device would send them (PEM). */
static int make_csrs(void)
{
	for (int i = 0; i < NCSR; i++) {
		EVP_PKEY *k = NULL;
		X509_REQ *r = X509_REQ_new();
		X509_NAME *n = X509_NAME_new();
		BIO *b = BIO_new(BIO_s_mem());
		char uuid[40], *data = NULL;
		long len;

		snprintf(uuid, sizeof(uuid),
			 "0b4f3e2a-1c2d-4e5f-8a9b-%012d", i);
		if (bw_pki_key_generate(&k, NULL) != 0 || r == NULL ||
		    n == NULL || b == NULL ||
		    !X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
						(unsigned char *)uuid, -1, -1,
						0) ||
		    !X509_NAME_add_entry_by_NID(n, NID_organizationalUnitName,
						MBSTRING_UTF8,
						(unsigned char *)"acme", -1, -1,
						0) ||
		    !X509_REQ_set_subject_name(r, n) ||
		    !X509_REQ_set_pubkey(r, k) ||
		    X509_REQ_sign(r, k, EVP_sha256()) <= 0 ||
		    !PEM_write_bio_X509_REQ(b, r))
			return -1;
		len = BIO_get_mem_data(b, &data);
		csr_pem[i] = malloc((size_t)len);
		if (csr_pem[i] == NULL)
			return -1;
		memcpy(csr_pem[i], data, (size_t)len);
		csr_len[i] = (size_t)len;
		BIO_free(b);
		X509_NAME_free(n);
		X509_REQ_free(r);
		EVP_PKEY_free(k);
	}
	return 0;
}

/* For every device: a current certificate from ca (for the key of its
 * registration CSR) and a re-enrolment CSR (base64 DER) with the same
 * subject and a new key, as bulwark-device rotate-cert sends it. */
static int make_reenrolments(X509 *ca, EVP_PKEY *ca_key)
{
	for (int i = 0; i < NCSR; i++) {
		X509_REQ *old = NULL, *r = X509_REQ_new();
		EVP_PKEY *k = NULL;
		unsigned char *der = NULL;
		int n = 0;

		if (bw_pki_csr_parse((uint8_t *)csr_pem[i], csr_len[i], &old,
				     NULL) != 0 ||
		    bw_pki_device_cert_issue(ca, ca_key, old, "acme", 0, 0,
					     time(NULL), &cur_cert[i],
					     NULL) != 0 ||
		    bw_pki_key_generate(&k, NULL) != 0 || r == NULL ||
		    !X509_REQ_set_subject_name(
			r, X509_get_subject_name(cur_cert[i])) ||
		    !X509_REQ_set_pubkey(r, k) ||
		    X509_REQ_sign(r, k, EVP_sha256()) <= 0 ||
		    (n = i2d_X509_REQ(r, &der)) <= 0 ||
		    (re_b64[i] = malloc((size_t)n * 2 + 4)) == NULL)
			return -1;
		re_len[i] = (size_t)EVP_EncodeBlock((unsigned char *)re_b64[i],
						    der, n);
		OPENSSL_free(der);
		X509_REQ_free(old);
		X509_REQ_free(r);
		EVP_PKEY_free(k);
	}
	return 0;
}

static int bench_reenroll(const char *name, X509 *ca, EVP_PKEY *ca_key,
			  double secs)
{
	struct bw_pki_csr_policy pol = {BW_PKI_PROFILE_DEVICE, "acme", 0};
	struct bw_err err = {0};
	double t0, t;
	long n;

	t0 = now();
	for (n = 0, t = t0; n < MAX_OPS && t - t0 < secs; n++) {
		X509_REQ *req = NULL;
		X509 *cert = NULL;
		char *p7 = NULL;
		size_t len = 0;
		int i = (int)(n % NCSR);

		if (bw_est_csr_parse((uint8_t *)re_b64[i], re_len[i], NULL,
				     &req, &err) != 0 ||
		    bw_pki_csr_check(req, &pol, &err) != 0 ||
		    bw_est_reenroll_check(req, cur_cert[i], &err) != 0 ||
		    bw_pki_device_cert_issue(ca, ca_key, req, "acme", 0, 0,
					     time(NULL), &cert, &err) != 0 ||
		    bw_est_certs_build(&cert, 1, &p7, &len, &err) != 0) {
			fprintf(stderr, "%s: %s\n", name, err.msg);
			return -1;
		}
		free(p7);
		X509_free(cert);
		X509_REQ_free(req);
		if ((n & 7) == 0)
			t = now();
	}
	t = now();
	printf("%-34s %8.0f certs/s  (%7.1f us each)\n", name,
	       (double)n / (t - t0), (t - t0) * 1e6 / (double)n);
	return 0;
}

static int bench(const char *name, X509 *ca, EVP_PKEY *ca_key, double secs)
{
	struct bw_pki_csr_policy pol = {BW_PKI_PROFILE_DEVICE, "acme", 0};
	struct bw_err err = {0};
	double t0, t;
	long n;

	t0 = now();
	for (n = 0, t = t0; n < MAX_OPS && t - t0 < secs; n++) {
		X509_REQ *req = NULL;
		X509 *cert = NULL;
		char *pem = NULL;
		size_t len = 0;
		int i = (int)(n % NCSR);

		if (bw_pki_csr_parse((uint8_t *)csr_pem[i], csr_len[i], &req,
				     &err) != 0 ||
		    bw_pki_csr_check(req, &pol, &err) != 0 ||
		    bw_pki_device_cert_issue(ca, ca_key, req, "acme", 0, 0,
					     time(NULL), &cert, &err) != 0 ||
		    bw_pki_cert_pem(cert, &pem, &len, &err) != 0) {
			fprintf(stderr, "%s: %s\n", name, err.msg);
			return -1;
		}
		free(pem);
		X509_free(cert);
		X509_REQ_free(req);
		if ((n & 7) == 0)
			t = now();
	}
	t = now();
	printf("%-34s %8.0f certs/s  (%7.1f us each)\n", name,
	       (double)n / (t - t0), (t - t0) * 1e6 / (double)n);
	return 0;
}

static int make_token(char *dir, size_t cap)
{
	char conf[512], text[600];
	char *argv[] = {"softhsm2-util", "--init-token", "--free", "--label",
			"bench", "--pin", "1234", "--so-pin", "5678", NULL};
	FILE *f;

	snprintf(dir, cap, "/tmp/bw-pki-bench.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(conf, sizeof(conf), "%s/tokens", dir);
	if (mkdir(conf, 0700) != 0)
		return -1;
	snprintf(text, sizeof(text), "directories.tokendir = %s\n"
		 "objectstore.backend = file\nlog.level = ERROR\n", conf);
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", dir);
	f = fopen(conf, "w");
	if (f == NULL)
		return -1;
	fputs(text, f);
	fclose(f);
	setenv("SOFTHSM2_CONF", conf, 1);
	return run(argv);
}

/* The same with the device CA key in a SoftHSM2 token. */
static int bench_hsm(X509 *root, EVP_PKEY *root_key, double secs)
{
	struct bw_pkcs11_opts o = {0};
	struct bw_signer *hsm = NULL;
	struct bw_err err = {0};
	X509 *ca = NULL;
	char dir[256];
	char *rm[] = {"rm", "-rf", dir, NULL};
	uint8_t id = 1;
	int rc = -1;

	if (access(BW_PKCS11_DEFAULT_MODULE, R_OK) != 0) {
		printf("softhsm2: %s absent, skipped\n",
		       BW_PKCS11_DEFAULT_MODULE);
		return 0;
	}
	if (make_token(dir, sizeof(dir)) != 0) {
		fprintf(stderr, "cannot make a SoftHSM2 token\n");
		return -1;
	}
	o.token_label = "bench";
	o.pin = "1234";
	if (bw_pkcs11_keygen(&o, BW_KEY_ECDSA_P256, "ca", &id, 1, &err) != 0)
		goto out;
	o.object_label = "ca";
	if (bw_pkcs11_signer_open(&o, &hsm, &err) != 0 ||
	    bw_pki_device_ca_issue(root, root_key, hsm->pkey, "acme",
				   "local-ca", time(NULL), &ca, &err) != 0)
		goto out;
	rc = bench("registration, CA key in SoftHSM2", ca, hsm->pkey, secs);
	if (rc == 0)
		rc = bench_reenroll("re-enrolment, CA key in SoftHSM2", ca,
				    hsm->pkey, secs);
out:
	if (rc != 0 && err.msg[0] != '\0')
		fprintf(stderr, "softhsm2 bench: %s\n", err.msg);
	X509_free(ca);
	bw_signer_free(hsm);
	run(rm);
	return rc;
}

int main(int argc, char **argv)
{
	EVP_PKEY *rk = NULL, *ck = NULL;
	X509 *root = NULL, *ca = NULL;
	struct bw_err err = {0};
	double secs = 1.0;
	int rc = 1;

	if (argc > 1) {
		char *end = NULL;

		secs = strtod(argv[1], &end);
		if (end == argv[1] || *end != '\0' || secs <= 0 || secs > 60) {
			fprintf(stderr, "usage: %s [seconds 0..60]\n", argv[0]);
			return 2;
		}
	}
	if (make_csrs() != 0 || bw_pki_key_generate(&rk, &err) != 0 ||
	    bw_pki_key_generate(&ck, &err) != 0 ||
	    bw_pki_factory_ca_create(rk, "acme", time(NULL), &root, &err) != 0 ||
	    bw_pki_device_ca_issue(root, rk, ck, "acme", "online-ca",
				   time(NULL), &ca, &err) != 0) {
		fprintf(stderr, "setup: %s\n", err.msg);
		goto out;
	}
	if (make_reenrolments(ca, ck) != 0) {
		fprintf(stderr, "setup: re-enrolment CSRs\n");
		goto out;
	}
	printf("device certificate issuance, one thread: registration (CSR "
	       "PEM in -> cert PEM out)\nbeside EST re-enrolment (base64 DER "
	       "CSR in, RFC 7030 4.2.2 checks -> base64 PKCS#7 out)\n");
	if (bench("registration, CA file key", ca, ck, secs) != 0 ||
	    bench_reenroll("re-enrolment, CA file key", ca, ck, secs) != 0 ||
	    bench_hsm(root, rk, secs) != 0)
		goto out;
	rc = 0;
out:
	for (int i = 0; i < NCSR; i++) {
		free(csr_pem[i]);
		free(re_b64[i]);
		X509_free(cur_cert[i]);
	}
	X509_free(ca);
	X509_free(root);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(ck);
	return rc;
}
