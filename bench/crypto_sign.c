/*
 * Signatures per second through the public API (bw_signer_sign_hex,
 * bw_key_verify: hex coding included) for each key type bulwark signs with.
 * Usage: bench_crypto_sign [seconds-per-op, default 1]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>

#include "bulwark/crypto.h"

#define MAX_OPS 10000000L

/* A root.json-sized message. */
static uint8_t msg[2048];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench(const char *name, struct bw_signer *s, double secs)
{
	const struct bw_key *key = bw_signer_key(s);
	char *sig = NULL;
	double t0, t;
	long n;

	t0 = now();
	for (n = 0, t = t0; n < MAX_OPS && t - t0 < secs; n++) {
		free(sig);
		sig = NULL;
		if (bw_signer_sign_hex(s, msg, sizeof(msg), &sig, NULL) != 0)
			return -1;
		if ((n & 7) == 0)
			t = now();
	}
	t = now();
	printf("%-14s sign   %10.0f /s\n", name, (double)n / (t - t0));
	t0 = now();
	for (n = 0, t = t0; n < MAX_OPS && t - t0 < secs; n++) {
		if (bw_key_verify(key, msg, sizeof(msg), sig, strlen(sig),
				  NULL) != 0) {
			free(sig);
			return -1;
		}
		if ((n & 7) == 0)
			t = now();
	}
	t = now();
	printf("%-14s verify %10.0f /s\n", name, (double)n / (t - t0));
	free(sig);
	return 0;
}

/* RSA-2048 is not what bulwark generates, but what many TUF repos use. */
static struct bw_signer *rsa2048(void)
{
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	BIO *bio = BIO_new(BIO_s_mem());
	struct bw_signer *s = NULL;
	char *pem = NULL;
	long len;

	if (pkey != NULL && bio != NULL &&
	    PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) ==
		1) {
		len = BIO_get_mem_data(bio, &pem);
		if (len > 0)
			bw_signer_keyfile_load_mem(pem, (size_t)len, &s, NULL);
	}
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return s;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		enum bw_key_type type;
	} types[] = {
	    {"ed25519", BW_KEY_ED25519},
	    {"ecdsa-p256", BW_KEY_ECDSA_P256},
	    {"rsa-4096-pss", BW_KEY_RSA},
	};
	double secs = 1.0;
	struct bw_signer *s = NULL;
	struct bw_err err = {0};
	size_t i;
	int rc = 0;

	if (argc > 1) {
		char *end = NULL;

		secs = strtod(argv[1], &end);
		if (end == argv[1] || *end != '\0' ||
		    !(secs > 0.0 && secs <= 60.0)) {
			fprintf(stderr, "usage: %s [seconds-per-op, 0..60]\n",
				argv[0]);
			return 2;
		}
	}
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)('a' + i % 26);
	for (i = 0; i < sizeof(types) / sizeof(types[0]) && rc == 0; i++) {
		if (bw_signer_keyfile_generate(types[i].type, &s, &err) != 0) {
			fprintf(stderr, "%s: %s\n", types[i].name, err.msg);
			return 1;
		}
		rc = bench(types[i].name, s, secs);
		bw_signer_free(s);
		s = NULL;
	}
	if (rc == 0 && (s = rsa2048()) != NULL)
		rc = bench("rsa-2048-pss", s, secs);
	else if (rc == 0)
		rc = -1;
	bw_signer_free(s);
	if (rc != 0)
		fprintf(stderr, "benchmark operation failed\n");
	return rc == 0 ? 0 : 1;
}
