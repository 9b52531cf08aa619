/*
 * Signatures per second through a PKCS#11 token (SoftHSM2), ECDSA P-256,
 * against the same operation on an in-memory key, plus the one-off costs
 * (in-token keygen, signer open). Makes its own token in a temporary
 * directory (SOFTHSM2_CONF), so it needs softhsm2-util on PATH.
 * Usage: bench_pkcs11_sign [seconds-per-op, default 1]
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

#include "bulwark/crypto.h"
#include "bulwark/pkcs11.h"

#define MAX_OPS 10000000L

extern char **environ;

/* A root.json-sized message. */
static uint8_t msg[2048];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
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

static int bench(const char *name, struct bw_signer *s, double secs)
{
	uint8_t *sig = NULL;
	size_t siglen = 0;
	double t0, t;
	long n;

	t0 = now();
	for (n = 0, t = t0; n < MAX_OPS && t - t0 < secs; n++) {
		if (s->ops->sign(s, msg, sizeof(msg), &sig, &siglen, NULL) != 0)
			return -1;
		free(sig);
		sig = NULL;
		if ((n & 7) == 0)
			t = now();
	}
	t = now();
	printf("%-22s sign %10.0f /s  (%6.1f us each)\n", name,
	       (double)n / (t - t0), (t - t0) * 1e6 / (double)n);
	return 0;
}

static int make_token(char *dir, size_t cap)
{
	char conf[512], text[600];
	char *argv[] = { "softhsm2-util", "--init-token", "--free", "--label",
			 "bench", "--pin", "1234", "--so-pin", "5678", NULL };
	FILE *f;

	snprintf(dir, cap, "/tmp/bw-p11-bench.XXXXXX");
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

int main(int argc, char **argv)
{
	struct bw_pkcs11_opts o;
	struct bw_signer *hsm = NULL, *mem = NULL;
	struct bw_err err = { 0 };
	char dir[256];
	char *rm[] = { "rm", "-rf", dir, NULL };
	double secs = 1.0, t0;
	uint8_t id = 1;
	int rc = 1;

	if (argc > 1) {
		char *end = NULL;

		secs = strtod(argv[1], &end);
		if (end == argv[1] || *end != '\0' || secs <= 0 || secs > 60) {
			fprintf(stderr, "usage: %s [seconds 0..60]\n", argv[0]);
			return 2;
		}
	}
	if (access(BW_PKCS11_DEFAULT_MODULE, R_OK) != 0) {
		printf("pkcs11: %s absent, skipped\n", BW_PKCS11_DEFAULT_MODULE);
		return 0;
	}
	memset(msg, 'm', sizeof(msg));
	if (make_token(dir, sizeof(dir)) != 0) {
		fprintf(stderr, "cannot make a SoftHSM2 token\n");
		return 1;
	}
	memset(&o, 0, sizeof(o));
	o.token_label = "bench";
	o.pin = "1234";
	t0 = now();
	if (bw_pkcs11_keygen(&o, BW_KEY_ECDSA_P256, "k", &id, 1, &err) != 0)
		goto fail;
	printf("%-22s %10.1f ms\n", "pkcs11 keygen P-256", (now() - t0) * 1e3);
	o.object_label = "k";
	t0 = now();
	if (bw_pkcs11_signer_open(&o, &hsm, &err) != 0)
		goto fail;
	printf("%-22s %10.1f ms\n", "pkcs11 signer open", (now() - t0) * 1e3);
	if (bench("pkcs11 ecdsa-p256", hsm, secs) != 0 ||
	    bw_signer_keyfile_generate(BW_KEY_ECDSA_P256, &mem, &err) != 0 ||
	    bench("in-memory ecdsa-p256", mem, secs) != 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "pkcs11 bench: %s\n", err.msg);
out:
	bw_signer_free(hsm);
	bw_signer_free(mem);
	run(rm);
	return rc;
}
