/*
 * PKCS#11 signer backend against a real SoftHSM2 token made in a temporary
 * directory (SOFTHSM2_CONF). Skips only if the SoftHSM2 module is absent.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "bulwark/buf.h"
#include "bulwark/crypto.h"
#include "bulwark/pkcs11.h"

extern char **environ;

#define MODULE BW_PKCS11_DEFAULT_MODULE
#define TOKEN "bw-test"
#define TOKEN_PIN "bw-pin" /* never logged in by the engine before its test */
#define TOKEN_ED "bw-ed"   /* holds an EdDSA key */
#define PIN "1234"
#define SO_PIN "5678"

static char tmpdir[256];
static int have_module;
static int have_pkcs11_tool;

/* Run argv (PATH lookup) with stdout/stderr to dev/null; exit status. */
static int run(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st = 0;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (getenv("BW_TEST_VERBOSE") == NULL)
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY,
						 0);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* Run a shell pipeline and return its stdout (test-only helper). */
static char *capture(const char *cmd)
{
	static char out[16384];
	size_t n = 0;
	FILE *f = popen(cmd, "r");

	if (f == NULL)
		return NULL;
	while (n + 1 < sizeof(out)) {
		size_t r = fread(out + n, 1, sizeof(out) - 1 - n, f);

		if (r == 0)
			break;
		n += r;
	}
	out[n] = '\0';
	pclose(f);
	return out;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static int init_token(const char *label)
{
	char *argv[] = { "softhsm2-util", "--init-token", "--free", "--label",
			 (char *)label, "--pin", PIN, "--so-pin", SO_PIN,
			 NULL };

	return run(argv);
}

static int group_setup(void **state)
{
	char conf[512], tokens[512], text[600];

	(void)state;
	have_module = access(MODULE, R_OK) == 0;
	if (!have_module)
		return 0;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/bw-p11-test.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(tokens, sizeof(tokens), "%s/tokens", tmpdir);
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", tmpdir);
	if (mkdir(tokens, 0700) != 0)
		return -1;
	snprintf(text, sizeof(text), "directories.tokendir = %s\n"
		 "objectstore.backend = file\nlog.level = ERROR\n", tokens);
	write_file(conf, text, 0600);
	setenv("SOFTHSM2_CONF", conf, 1);
	/*
	 * Every token is made before the module is first initialised in this
	 * process: SoftHSM2 only sees tokens that existed at C_Initialize,
	 * and libp11 keeps the module initialised until exit.
	 */
	if (init_token(TOKEN) != 0 || init_token(TOKEN_PIN) != 0)
		return -1;
	have_pkcs11_tool = access("/usr/bin/pkcs11-tool", X_OK) == 0;
	if (have_pkcs11_tool) {
		char *argv[] = { "pkcs11-tool", "--module", MODULE,
				 "--token-label", TOKEN_ED, "--login", "--pin",
				 PIN, "--keypairgen", "--key-type",
				 "EC:edwards25519", "--label", "edkey", "--id",
				 "91", NULL };

		if (init_token(TOKEN_ED) != 0 || run(argv) != 0)
			return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	char *argv[] = { "rm", "-rf", tmpdir, NULL };

	(void)state;
	if (have_module && tmpdir[0] != '\0')
		run(argv);
	return 0;
}

#define NEED_MODULE()                  \
	do {                           \
		if (!have_module)      \
			skip();        \
	} while (0)

static struct bw_pkcs11_opts opts_for(const char *label, const char *id_hex)
{
	struct bw_pkcs11_opts o;

	memset(&o, 0, sizeof(o));
	o.token_label = TOKEN;
	o.object_label = label;
	o.id_hex = id_hex;
	o.pin = PIN;
	return o;
}

static void make_key(const char *label, uint8_t id)
{
	struct bw_pkcs11_opts o = opts_for(NULL, NULL);
	struct bw_err err = { 0 };

	assert_int_equal(bw_pkcs11_keygen(&o, BW_KEY_ECDSA_P256, label, &id, 1,
					  &err), 0);
}

/* ---- URIs --------------------------------------------------------------- */

static void test_pkcs11_uri__build_parse_roundtrip(void **state)
{
	struct bw_pkcs11_opts o = opts_for("tuf root;1", "01ff");
	struct bw_pkcs11_uri u;
	struct bw_err err = { 0 };
	char *uri = NULL;

	(void)state;
	assert_int_equal(bw_pkcs11_uri_build(&o, "private", &uri, &err), 0);
	assert_string_equal(uri, "pkcs11:token=bw-test;object=tuf%20root%3B1;"
			    "id=%01%FF;type=private");
	assert_int_equal(bw_pkcs11_uri_parse(uri, &u, &err), 0);
	assert_string_equal(u.token, "bw-test");
	assert_string_equal(u.object, "tuf root;1");
	assert_int_equal(u.id_len, 2);
	assert_string_equal(u.id_hex, "01ff");
	assert_string_equal(u.type, "private");
	free(uri);

	assert_int_equal(bw_pkcs11_uri_parse("pkcs11:token=a;object=b?"
					     "module-path=/x/y.so&pin-source="
					     "/p/pin", &u, &err), 0);
	assert_string_equal(u.module_path, "/x/y.so");
	assert_string_equal(u.pin_source, "/p/pin");
	assert_int_equal(u.id_len, 0);
}

static void test_pkcs11_uri__parse_rejects(void **state)
{
	static const struct {
		const char *uri;
		int code;
	} bad[] = {
		{ "pkcs11:token=a;object=b?pin-value=1234", BW_EINVAL },
		{ "pkcs11:token=a;serial=42", BW_EUNSUPPORTED },
		{ "pkcs11:token=a;x-vendor=1", BW_EUNSUPPORTED },
		{ "pkcs11:token=a;token=b", BW_EFORMAT },
		{ "pkcs11:token=a%2", BW_EFORMAT },
		{ "pkcs11:token=a%zz", BW_EFORMAT },
		{ "pkcs11:token=a%00b", BW_EFORMAT },
		{ "pkcs11:token=", BW_EFORMAT },
		{ "pkcs11:token=a;", BW_EFORMAT },
		{ "pkcs11:token", BW_EFORMAT },
		{ "pkcs11:token=a b", BW_EFORMAT },
		{ "pkcs11:type=weird", BW_EFORMAT },
		{ "file:token=a", BW_EFORMAT },
		{ "pkcs11:token=0123456789012345678901234567890123",
		  BW_ETOOBIG },
	};
	struct bw_pkcs11_uri u;
	struct bw_err err = { 0 };
	char big[BW_PKCS11_URI_MAX + 20];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = bw_pkcs11_uri_parse(bad[i].uri, &u, &err);

		if (rc != bad[i].code)
			fail_msg("%s: got %d want %d", bad[i].uri, rc,
				 bad[i].code);
	}
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "pkcs11:token=", 13);
	assert_int_equal(bw_pkcs11_uri_parse(big, &u, &err), BW_ETOOBIG);
	/* A 65-byte id does not fit. */
	{
		char id[7 + 4 + 65 * 3 + 1];
		size_t n = 0;

		n += (size_t)snprintf(id, sizeof(id), "pkcs11:id=");
		for (int i = 0; i < 65; i++)
			n += (size_t)snprintf(id + n, sizeof(id) - n, "%%01");
		assert_int_equal(bw_pkcs11_uri_parse(id, &u, &err),
				 BW_ETOOBIG);
	}
}

/* ---- PINs --------------------------------------------------------------- */

static void test_pkcs11_pin__file_modes(void **state)
{
	char path[512], link[512];
	struct bw_err err = { 0 };
	char *pin = NULL;

	(void)state;
	NEED_MODULE();
	snprintf(path, sizeof(path), "%s/pin", tmpdir);
	write_file(path, "1234\n", 0600);
	assert_int_equal(bw_pkcs11_pin_from_file(path, &pin, &err), 0);
	assert_string_equal(pin, "1234");
	bw_pkcs11_pin_free(pin);

	write_file(path, "1234\n", 0644);
	assert_int_equal(bw_pkcs11_pin_from_file(path, &pin, &err), BW_EINVAL);
	assert_null(pin);
	assert_non_null(strstr(err.msg, "group/others"));
	write_file(path, "1234", 0640);
	assert_int_equal(bw_pkcs11_pin_from_file(path, &pin, &err), BW_EINVAL);

	write_file(path, "1234", 0600);
	snprintf(link, sizeof(link), "%s/pinlink", tmpdir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(bw_pkcs11_pin_from_file(link, &pin, &err), BW_EINVAL);
	unlink(link);

	write_file(path, "\n", 0600);
	assert_int_equal(bw_pkcs11_pin_from_file(path, &pin, &err), BW_EFORMAT);
	snprintf(link, sizeof(link), "%s/nope", tmpdir);
	assert_int_equal(bw_pkcs11_pin_from_file(link, &pin, &err),
			 BW_ENOTFOUND);
	unlink(path);
}

static void test_pkcs11_pin__env(void **state)
{
	struct bw_err err = { 0 };
	char *pin = NULL;

	(void)state;
	setenv("BW_TEST_P11_PIN", "9876", 1);
	assert_int_equal(bw_pkcs11_pin_from_env("BW_TEST_P11_PIN", &pin, &err),
			 0);
	assert_string_equal(pin, "9876");
	bw_pkcs11_pin_free(pin);
	unsetenv("BW_TEST_P11_PIN");
	assert_int_equal(bw_pkcs11_pin_from_env("BW_TEST_P11_PIN", &pin, &err),
			 BW_ENOTFOUND);
}

/* ---- keygen ------------------------------------------------------------- */

static void test_pkcs11_keygen__sensitive_not_extractable(void **state)
{
	struct bw_pkcs11_opts o = opts_for("kg1", NULL);
	struct bw_pkcs11_key_flags f;
	struct bw_err err = { 0 };
	char cmd[1024];
	const char *out;

	(void)state;
	NEED_MODULE();
	make_key("kg1", 0x11);
	assert_int_equal(bw_pkcs11_key_flags(&o, &f, &err), 0);
	assert_int_equal(f.sensitive, 1);
	assert_int_equal(f.extractable, 0);
	assert_int_equal(f.never_extractable, 1);
	assert_int_equal(f.always_sensitive, 1);
	if (!have_pkcs11_tool)
		return;
	/* Independent check with OpenSC's pkcs11-tool. */
	snprintf(cmd, sizeof(cmd), "pkcs11-tool --module %s --token-label %s "
		 "--login --pin %s --list-objects --type privkey --label kg1 "
		 "2>/dev/null", MODULE, TOKEN, PIN);
	out = capture(cmd);
	assert_non_null(out);
	assert_non_null(strstr(out, "label:      kg1"));
	assert_non_null(strstr(out, "Access:     sensitive, always sensitive, "
			       "never extractable, local"));
	assert_non_null(strstr(out, "Usage:      sign\n"));
}

static void test_pkcs11_keygen__duplicates_refused(void **state)
{
	struct bw_pkcs11_opts o = opts_for(NULL, NULL);
	struct bw_err err = { 0 };
	uint8_t id = 0x21, other = 0x22;

	(void)state;
	NEED_MODULE();
	make_key("dup", id);
	assert_int_equal(bw_pkcs11_keygen(&o, BW_KEY_ECDSA_P256, "dup", &other,
					  1, &err), BW_EEXIST);
	assert_non_null(strstr(err.msg, "dup"));
	assert_int_equal(bw_pkcs11_keygen(&o, BW_KEY_ECDSA_P256, "dup2", &id,
					  1, &err), BW_EEXIST);
	/* RSA needs one of the sizes bulwark makes. */
	assert_int_equal(bw_pkcs11_keygen(&o, BW_KEY_RSA, "rsa", &other, 1,
					  &err), BW_EINVAL);
	assert_int_equal(bw_pkcs11_keygen_sized(&o, BW_KEY_RSA, 1024, "rsa",
						&other, 1, &err), BW_EINVAL);
	assert_int_equal(bw_pkcs11_keygen_sized(&o, 99, 0, "x", &other, 1,
						&err), BW_EUNSUPPORTED);
}

/*
 * On a token this process has not logged into yet (see pkcs11.h: once the
 * engine logged in, the token stays logged in until exit).
 */
static void test_pkcs11_signer__wrong_pin(void **state)
{
	struct bw_pkcs11_opts o = opts_for(NULL, NULL);
	struct bw_signer *s = NULL;
	struct bw_err err = { 0 };
	uint8_t id = 0xa1;

	(void)state;
	NEED_MODULE();
	o.token_label = TOKEN_PIN;
	o.pin = "0000";
	assert_int_equal(bw_pkcs11_keygen(&o, BW_KEY_ECDSA_P256, "pinkey", &id,
					  1, &err), BW_EINVAL);
	assert_non_null(strstr(err.msg, "wrong PIN"));
	o.pin = PIN;
	assert_int_equal(bw_pkcs11_keygen(&o, BW_KEY_ECDSA_P256, "pinkey", &id,
					  1, &err), 0);
	o.object_label = "pinkey";
	o.pin = "4321";
	assert_int_equal(bw_pkcs11_signer_open(&o, &s, &err), BW_EINVAL);
	assert_non_null(strstr(err.msg, "wrong PIN for token 'bw-pin'"));
	assert_null(s);
	o.pin = NULL;
	assert_int_equal(bw_pkcs11_signer_open(&o, &s, &err), BW_EINVAL);
	assert_non_null(strstr(err.msg, "needs a PIN"));
	o.pin = PIN;
	assert_int_equal(bw_pkcs11_signer_open(&o, &s, &err), 0);
	bw_signer_free(s);
}

/* ---- signer ------------------------------------------------------------- */

static void verify_openssl(const struct bw_key *key, const uint8_t *msg,
			   size_t msglen, const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL,
					      key->pkey), 1);
	assert_int_equal(EVP_DigestVerify(ctx, sig, siglen, msg, msglen), 1);
	EVP_MD_CTX_free(ctx);
}

static void test_pkcs11_signer__sign_verify(void **state)
{
	static const uint8_t msg[] = "{\"_type\":\"root\",\"version\":1}";
	struct bw_pkcs11_opts o = opts_for("signer1", "31");
	struct bw_signer *s = NULL;
	struct bw_err err = { 0 };
	uint8_t *sig = NULL;
	size_t siglen = 0;
	char *hex = NULL;

	(void)state;
	NEED_MODULE();
	make_key("signer1", 0x31);
	assert_int_equal(bw_pkcs11_signer_open(&o, &s, &err), 0);
	assert_string_equal(s->ops->name, "pkcs11");
	assert_int_equal(s->key->type, BW_KEY_ECDSA_P256);
	assert_string_equal(s->key->scheme, "ecdsa-sha2-nistp256");
	assert_non_null(s->pkey);

	assert_int_equal(bw_signer_sign_hex(s, msg, sizeof(msg) - 1, &hex,
					    &err), 0);
	assert_int_equal(bw_key_verify(s->key, msg, sizeof(msg) - 1, hex,
				       strlen(hex), &err), 0);
	/* The signature covers the message: a changed message fails. */
	assert_int_equal(bw_key_verify(s->key, msg, sizeof(msg) - 2, hex,
				       strlen(hex), &err), BW_ESIG);
	free(hex);

	assert_int_equal(s->ops->sign(s, msg, sizeof(msg) - 1, &sig, &siglen,
				      &err), 0);
	assert_true(siglen >= 8 && siglen <= 72 && sig[0] == 0x30);
	verify_openssl(s->key, msg, sizeof(msg) - 1, sig, siglen);
	free(sig);
	bw_signer_free(s);
}

static void test_pkcs11_signer__uri_and_id(void **state)
{
	struct bw_pkcs11_opts o = opts_for(NULL, NULL);
	struct bw_signer *a = NULL, *b = NULL;
	struct bw_err err = { 0 };
	char *uri = NULL;

	(void)state;
	NEED_MODULE();
	make_key("byuri", 0x41);
	o.object_label = "byuri";
	assert_int_equal(bw_pkcs11_uri_build(&o, "private", &uri, &err), 0);
	memset(&o, 0, sizeof(o));
	o.uri = uri;
	o.pin = PIN;
	assert_int_equal(bw_pkcs11_signer_open(&o, &a, &err), 0);
	/* The same key by id only, open at the same time (shared engine). */
	o = opts_for(NULL, "41");
	assert_int_equal(bw_pkcs11_signer_open(&o, &b, &err), 0);
	assert_true(bw_key_same_material(a->key, b->key));
	assert_string_equal(a->key->keyid, b->key->keyid);
	bw_signer_free(a);
	/* b still signs after a released its hold on the engine. */
	{
		char *hex = NULL;

		assert_int_equal(bw_signer_sign_hex(b, (const uint8_t *)"x", 1,
						    &hex, &err), 0);
		assert_int_equal(bw_key_verify(b->key, (const uint8_t *)"x", 1,
					       hex, strlen(hex), &err), 0);
		free(hex);
	}
	bw_signer_free(b);

	/* A URI plus parts is ambiguous; a public-key URI is no signer. */
	o = opts_for("byuri", NULL);
	o.uri = uri;
	assert_int_equal(bw_pkcs11_signer_open(&o, &a, &err), BW_EINVAL);
	memset(&o, 0, sizeof(o));
	o.uri = "pkcs11:token=bw-test;object=byuri;type=public";
	o.pin = PIN;
	assert_int_equal(bw_pkcs11_signer_open(&o, &a, &err), BW_EINVAL);
	assert_null(a);
	free(uri);
}

static void test_pkcs11_signer__errors(void **state)
{
	struct bw_pkcs11_opts o = opts_for("errkey", NULL);
	struct bw_signer *s = NULL;
	struct bw_err err = { 0 };
	uint8_t id = 0x51;
	char link[512];

	(void)state;
	NEED_MODULE();
	make_key("errkey", id);
	o = opts_for("no-such-key", NULL);
	assert_int_equal(bw_pkcs11_signer_open(&o, &s, &err), BW_ENOTFOUND);
	assert_non_null(strstr(err.msg, "no private key"));
	o = opts_for("errkey", "52"); /* label right, id wrong */
	assert_int_equal(bw_pkcs11_signer_open(&o, &s, &err), BW_ENOTFOUND);
	o = opts_for("errkey", NULL);
	o.token_label = "no-such-token";
	assert_int_equal(bw_pkcs11_signer_open(&o, &s, &err), BW_ENOTFOUND);
	assert_non_null(strstr(err.msg, "no token"));
	o = opts_for("errkey", NULL);
	o.module_path = "/nonexistent/libnothing.so";
	assert_int_equal(bw_pkcs11_keygen(&o, BW_KEY_ECDSA_P256, "m", &id, 1,
					  &err), BW_ENOTFOUND);
	assert_non_null(strstr(err.msg, "cannot load module"));
	assert_int_equal(bw_pkcs11_signer_open(&o, &s, &err), BW_ENOTFOUND);
	/* Earlier tests bound the process's engine to SoftHSM2 by its path;
	 * the engine refuses another path (here to the same module). */
	snprintf(link, sizeof(link), "%s/errors-link.so", tmpdir);
	(void)unlink(link);
	assert_int_equal(symlink(MODULE, link), 0);
	o.module_path = link;
	assert_int_equal(bw_pkcs11_signer_open(&o, &s, &err), BW_ESTATE);
	assert_non_null(strstr(err.msg, "already bound"));
	(void)unlink(link);

	/* Two keys with one label: refuse rather than pick one. */
	id = 0x53;
	o = opts_for(NULL, NULL);
	assert_int_equal(bw_pkcs11_keygen(&o, BW_KEY_ECDSA_P256, "twin", &id, 1,
					  &err), 0);
	if (have_pkcs11_tool) {
		char *argv[] = { "pkcs11-tool", "--module", MODULE,
				 "--token-label", TOKEN, "--login", "--pin",
				 PIN, "--keypairgen", "--key-type",
				 "EC:prime256v1", "--label", "twin", "--id",
				 "54", NULL };

		assert_int_equal(run(argv), 0);
		o = opts_for("twin", NULL);
		assert_int_equal(bw_pkcs11_signer_open(&o, &s, &err),
				 BW_EEXIST);
		/* By id each is unique again... */
		o = opts_for(NULL, "54");
		assert_int_equal(bw_pkcs11_signer_open(&o, &s, &err), 0);
		bw_signer_free(s);
		s = NULL;
		/* ...but label+id must be unique under each alone. */
		o = opts_for("twin", "54");
		assert_int_equal(bw_pkcs11_signer_open(&o, &s, &err),
				 BW_EEXIST);
	}
	assert_null(s);
}

static void test_pkcs11_signer__x509_req(void **state)
{
	struct bw_pkcs11_opts o = opts_for("csrkey", NULL);
	struct bw_signer *s = NULL;
	struct bw_err err = { 0 };
	X509_REQ *req = NULL;
	X509_NAME *name = NULL;

	(void)state;
	NEED_MODULE();
	make_key("csrkey", 0x61);
	assert_int_equal(bw_pkcs11_signer_open(&o, &s, &err), 0);
	req = X509_REQ_new();
	name = X509_NAME_new();
	assert_non_null(req);
	assert_non_null(name);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
		(const unsigned char *)"4b1c2f7e-device", -1, -1, 0), 1);
	assert_int_equal(X509_REQ_set_subject_name(req, name), 1);
	assert_int_equal(X509_REQ_set_pubkey(req, s->key->pkey), 1);
	assert_true(X509_REQ_sign(req, s->pkey, EVP_sha256()) > 0);
	assert_int_equal(X509_REQ_verify(req, s->key->pkey), 1);
	/* And the CSR's own key is the token key. */
	{
		EVP_PKEY *k = X509_REQ_get0_pubkey(req);

		assert_int_equal(EVP_PKEY_eq(k, s->key->pkey), 1);
		assert_int_equal(X509_REQ_verify(req, k), 1);
	}
	X509_NAME_free(name);
	X509_REQ_free(req);
	bw_signer_free(s);
}

/* A CA key in the token: self-signed certificate, then TLS use. */
static void test_pkcs11_signer__x509_cert_and_tls(void **state)
{
	struct bw_pkcs11_opts o = opts_for("cakey", NULL);
	struct bw_signer *s = NULL;
	struct bw_err err = { 0 };
	X509 *cert = NULL;
	X509_NAME *name = NULL;
	SSL_CTX *ctx = NULL;

	(void)state;
	NEED_MODULE();
	make_key("cakey", 0x65);
	assert_int_equal(bw_pkcs11_signer_open(&o, &s, &err), 0);
	cert = X509_new();
	name = X509_NAME_new();
	assert_non_null(cert);
	assert_non_null(name);
	assert_int_equal(X509_set_version(cert, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(cert), 1), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
		(const unsigned char *)"bulwark test factory CA", -1, -1, 0), 1);
	assert_int_equal(X509_set_subject_name(cert, name), 1);
	assert_int_equal(X509_set_issuer_name(cert, name), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(cert), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(cert), 3600));
	assert_int_equal(X509_set_pubkey(cert, s->key->pkey), 1);
	assert_true(X509_sign(cert, s->pkey, EVP_sha256()) > 0);
	assert_int_equal(X509_verify(cert, s->key->pkey), 1);

	/* The engine key as a TLS key (device mTLS client). */
	ctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_use_certificate(ctx, cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, s->pkey), 1);
	assert_int_equal(SSL_CTX_check_private_key(ctx), 1);
	SSL_CTX_free(ctx);
	X509_NAME_free(name);
	X509_free(cert);
	bw_signer_free(s);
}

static void test_pkcs11_delete__removes_key(void **state)
{
	struct bw_pkcs11_opts o = opts_for("gone", NULL);
	struct bw_signer *s = NULL;
	struct bw_err err = { 0 };
	size_t n = 0;

	(void)state;
	NEED_MODULE();
	make_key("gone", 0x71);
	assert_int_equal(bw_pkcs11_delete_key(&o, &n, &err), 0);
	assert_int_equal(n, 2); /* private and public key */
	assert_int_equal(bw_pkcs11_signer_open(&o, &s, &err), BW_ENOTFOUND);
	assert_int_equal(bw_pkcs11_delete_key(&o, &n, &err), BW_ENOTFOUND);
	assert_int_equal(n, 0);
	/* Label and id are free again. */
	make_key("gone", 0x71);
	o = opts_for(NULL, "71");
	assert_int_equal(bw_pkcs11_delete_key(&o, &n, &err), 0);
	assert_int_equal(n, 2);

	/* Label and id together must both match; by URI as well. */
	make_key("gone", 0x72);
	o = opts_for("gone", "73");
	assert_int_equal(bw_pkcs11_delete_key(&o, &n, &err), BW_ENOTFOUND);
	memset(&o, 0, sizeof(o));
	o.uri = "pkcs11:token=bw-test;object=gone;id=%72";
	o.pin = PIN;
	assert_int_equal(bw_pkcs11_delete_key(&o, &n, &err), 0);
	assert_int_equal(n, 2);
}

static void test_pkcs11_keygen__by_uri(void **state)
{
	struct bw_pkcs11_opts o;
	struct bw_signer *s = NULL;
	struct bw_err err = { 0 };
	uint8_t id[3] = { 0xb1, 0x00, 0xff };

	(void)state;
	NEED_MODULE();
	memset(&o, 0, sizeof(o));
	/* The URI's object/id are ignored by keygen: only the token counts. */
	o.uri = "pkcs11:token=bw-test;object=ignored";
	o.pin = PIN;
	assert_int_equal(bw_pkcs11_keygen(&o, BW_KEY_ECDSA_P256, "uri key",
					  id, sizeof(id), &err), 0);
	o.uri = "pkcs11:token=bw-test;object=uri%20key;id=%B1%00%FF";
	assert_int_equal(bw_pkcs11_signer_open(&o, &s, &err), 0);
	bw_signer_free(s);
	o.uri = "pkcs11:token=bw-test;object=ignored";
	assert_int_equal(bw_pkcs11_signer_open(&o, &s, &err), BW_ENOTFOUND);
	assert_null(s);
}

static void test_pkcs11_signer__rsa_pss(void **state)
{
	struct bw_pkcs11_opts o = opts_for("rsakey", NULL);
	struct bw_signer *s = NULL;
	struct bw_err err = { 0 };
	char *hex = NULL;
	char *argv[] = { "pkcs11-tool", "--module", MODULE, "--token-label",
			 TOKEN, "--login", "--pin", PIN, "--keypairgen",
			 "--key-type", "rsa:2048", "--label", "rsakey", "--id",
			 "81", NULL };

	(void)state;
	NEED_MODULE();
	if (!have_pkcs11_tool)
		skip();
	assert_int_equal(run(argv), 0);
	assert_int_equal(bw_pkcs11_signer_open(&o, &s, &err), 0);
	assert_int_equal(s->key->type, BW_KEY_RSA);
	assert_string_equal(s->key->scheme, "rsassa-pss-sha256");
	assert_int_equal(bw_signer_sign_hex(s, (const uint8_t *)"abc", 3, &hex,
					    &err), 0);
	assert_int_equal(strlen(hex), 512);
	assert_int_equal(bw_key_verify(s->key, (const uint8_t *)"abc", 3, hex,
				       strlen(hex), &err), 0);
	free(hex);
	bw_signer_free(s);
}

/*
 * Ed25519 keys (here one made by OpenSC's pkcs11-tool, curve given as
 * "edwards25519") sign through the module directly, for callers that ask
 * for it; libp11 0.4.12 can not list keys on a token holding one, so the
 * ENGINE keys there are refused with a clear message.
 */
static void test_pkcs11_signer__ed25519_direct(void **state)
{
	struct bw_pkcs11_opts o = opts_for(NULL, NULL);
	struct bw_signer *s = NULL;
	struct bw_err err = { 0 };
	uint8_t id = 0x92;
	char *hex = NULL;

	(void)state;
	NEED_MODULE();
	if (!have_pkcs11_tool)
		skip();
	o.token_label = TOKEN_ED;
	assert_int_equal(bw_pkcs11_keygen(&o, BW_KEY_ECDSA_P256, "eckey", &id,
					  1, &err), 0);
	o.object_label = "edkey";
	assert_int_equal(bw_pkcs11_signer_open(&o, &s, &err), BW_EUNSUPPORTED);
	assert_non_null(strstr(err.msg, "Ed25519"));
	assert_null(s);
	o.allow_eddsa = 1;
	assert_int_equal(bw_pkcs11_signer_open(&o, &s, &err), 0);
	assert_int_equal(s->key->type, BW_KEY_ED25519);
	assert_null(s->pkey);
	assert_int_equal(bw_signer_sign_hex(s, (const uint8_t *)"abc", 3, &hex,
					    &err), 0);
	assert_int_equal(strlen(hex), 128);
	assert_int_equal(bw_key_verify(s->key, (const uint8_t *)"abc", 3, hex,
				       128, &err), 0);
	hex[0] = hex[0] == '0' ? '1' : '0';
	assert_int_equal(bw_key_verify(s->key, (const uint8_t *)"abc", 3, hex,
				       128, &err), BW_ESIG);
	free(hex);
	bw_signer_free(s);
	s = NULL;
	o.object_label = "eckey";
	assert_int_equal(bw_pkcs11_signer_open(&o, &s, &err), BW_EUNSUPPORTED);
	assert_non_null(strstr(err.msg, "EdDSA"));
	assert_null(s);
}

/*
 * The public key object carries the verifier's key: one that is not the
 * private key's (the private key's own removed, another key's public
 * object given its id) is refused, not trusted.
 */
static void test_pkcs11_signer__ed25519_foreign_public_key(void **state)
{
	struct bw_pkcs11_opts o = opts_for(NULL, "0a");
	struct bw_signer *s = NULL;
	struct bw_err err = { 0 };
	char *gen_a[] = { "pkcs11-tool", "--module", MODULE, "--token-label",
			  TOKEN_ED, "--login", "--pin", PIN, "--keypairgen",
			  "--key-type", "EC:edwards25519", "--label", "pair",
			  "--id", "0a", NULL };
	char *gen_b[] = { "pkcs11-tool", "--module", MODULE, "--token-label",
			  TOKEN_ED, "--login", "--pin", PIN, "--keypairgen",
			  "--key-type", "EC:edwards25519", "--label", "pair",
			  "--id", "0b", NULL };
	char *del_a[] = { "pkcs11-tool", "--module", MODULE, "--token-label",
			  TOKEN_ED, "--login", "--pin", PIN, "--delete-object",
			  "--type", "pubkey", "--id", "0a", NULL };
	char *move_b[] = { "pkcs11-tool", "--module", MODULE, "--token-label",
			   TOKEN_ED, "--login", "--pin", PIN, "--set-id", "0a",
			   "--id", "0b", "--type", "pubkey", NULL };

	(void)state;
	NEED_MODULE();
	if (!have_pkcs11_tool)
		skip();
	o.token_label = TOKEN_ED;
	o.allow_eddsa = 1;
	assert_int_equal(run(gen_a), 0);
	assert_int_equal(run(gen_b), 0);
	assert_int_equal(bw_pkcs11_signer_open(&o, &s, &err), 0);
	bw_signer_free(s);
	s = NULL;
	assert_int_equal(run(del_a), 0);
	assert_int_equal(bw_pkcs11_signer_open(&o, &s, &err), BW_ENOTFOUND);
	assert_non_null(strstr(err.msg, "public key"));
	assert_int_equal(run(move_b), 0);
	assert_int_equal(bw_pkcs11_signer_open(&o, &s, &err), BW_ESIG);
	assert_non_null(strstr(err.msg, "does not belong"));
	assert_null(s);
}

/* Ed25519 made by bulwark: never extractable, named by its URI again. */
static void test_pkcs11_key_create__ed25519(void **state)
{
	struct bw_pkcs11_newkey k = {.token_label = TOKEN_ED, .pin = PIN,
				     .label = "log", .label_add_id = 1,
				     .type = BW_KEY_ED25519};
	struct bw_pkcs11_opts o = opts_for(NULL, NULL);
	struct bw_pkcs11_key_flags f;
	struct bw_signer *s = NULL, *again = NULL;
	struct bw_err err = {0};
	char *uri = NULL, *hex = NULL;

	(void)state;
	NEED_MODULE();
	if (!have_pkcs11_tool) /* the token is made with it */
		skip();
	assert_int_equal(bw_pkcs11_key_create(&k, &s, &uri, &err), 0);
	assert_int_equal(s->key->type, BW_KEY_ED25519);
	o.token_label = NULL;
	o.uri = uri;
	o.allow_eddsa = 1;
	assert_int_equal(bw_pkcs11_signer_open(&o, &again, &err), 0);
	assert_string_equal(again->key->keyid, s->key->keyid);
	assert_int_equal(bw_signer_sign_hex(again, (const uint8_t *)"m", 1,
					    &hex, &err), 0);
	assert_int_equal(bw_key_verify(s->key, (const uint8_t *)"m", 1, hex,
				       strlen(hex), &err), 0);
	assert_int_equal(bw_pkcs11_key_flags(&o, &f, &err), 0);
	assert_int_equal(f.sensitive, 1);
	assert_int_equal(f.extractable, 0);
	assert_int_equal(f.never_extractable, 1);
	free(hex);
	bw_signer_free(again);
	bw_signer_free(s);
	free(uri);
}

/* RSA boot keys: 2048 and 3072 bits, usable as OpenSSL keys (engine). */
static void test_pkcs11_key_create__rsa(void **state)
{
	static const unsigned sizes[] = {2048, 3072};
	struct bw_pkcs11_newkey k = {.token_label = TOKEN, .pin = PIN,
				     .label = "boot", .label_add_id = 1,
				     .type = BW_KEY_RSA};
	struct bw_err err = {0};

	(void)state;
	NEED_MODULE();
	for (size_t i = 0; i < 2; i++) {
		struct bw_signer *s = NULL;
		char *hex = NULL;

		k.bits = sizes[i];
		assert_int_equal(bw_pkcs11_key_create(&k, &s, NULL, &err), 0);
		assert_int_equal(s->key->type, BW_KEY_RSA);
		assert_non_null(s->pkey);
		assert_int_equal(EVP_PKEY_get_bits(s->pkey), (int)sizes[i]);
		assert_int_equal(bw_signer_sign_hex(s, (const uint8_t *)"b", 1,
						    &hex, &err), 0);
		assert_int_equal(bw_key_verify(s->key, (const uint8_t *)"b", 1,
					       hex, strlen(hex), &err), 0);
		free(hex);
		bw_signer_free(s);
	}
	k.bits = 1024;
	assert_int_equal(bw_pkcs11_key_create(&k, NULL, NULL, &err),
			 BW_EINVAL);
}

/* bw_pkcs11_key_create: a signer, a URI that names the key again (with
 * the module), a never-extractable key, and the label made from the id. */
static void test_pkcs11_key_create__signer_and_uri(void **state)
{
	struct bw_pkcs11_newkey k = {.token_label = TOKEN, .pin = PIN,
				     .label = "kc", .label_add_id = 1,
				     .uri_module = 1};
	struct bw_pkcs11_opts o = opts_for(NULL, NULL);
	struct bw_pkcs11_key_flags f;
	struct bw_pkcs11_uri u;
	struct bw_signer *s = NULL, *again = NULL;
	struct bw_err err = {0};
	char *uri = NULL;

	(void)state;
	NEED_MODULE();
	assert_int_equal(bw_pkcs11_key_create(&k, &s, &uri, &err), 0);
	assert_non_null(s);
	assert_non_null(uri);
	assert_int_equal(bw_pkcs11_uri_parse(uri, &u, &err), 0);
	assert_string_equal(u.token, TOKEN);
	assert_string_equal(u.type, "private");
	assert_string_equal(u.module_path, MODULE);
	assert_int_equal(u.id_len, 8);
	assert_int_equal(strncmp(u.object, "kc-", 3), 0);
	assert_string_equal(u.object + 3, u.id_hex);
	o.token_label = NULL;
	o.uri = uri;
	assert_int_equal(bw_pkcs11_signer_open(&o, &again, &err), 0);
	assert_string_equal(again->key->keyid, s->key->keyid);
	assert_int_equal(bw_pkcs11_key_flags(&o, &f, &err), 0);
	assert_int_equal(f.extractable, 0);
	assert_int_equal(f.never_extractable, 1);
	/* The same label and id again: refused, the first key untouched. */
	k.label = u.object;
	k.label_add_id = 0;
	k.id = u.id;
	k.id_len = u.id_len;
	assert_int_equal(bw_pkcs11_key_create(&k, NULL, NULL, &err), BW_EEXIST);
	assert_int_equal(bw_pkcs11_key_flags(&o, &f, &err), 0);
	bw_signer_free(again);
	bw_signer_free(s);
	free(uri);
}

/*
 * A step after the generation fails (here the signer: the engine is bound
 * to the module by its first path, and this key is made through another
 * path to the same module): the new key is deleted again, nothing is
 * returned.
 */
static void test_pkcs11_key_create__failure_leaves_token_as_was(void **state)
{
	char link[512];
	static const uint8_t id[] = {0x4b, 0x43};
	struct bw_pkcs11_newkey k = {.token_label = TOKEN, .pin = PIN,
				     .label = "kcfail", .id = id,
				     .id_len = sizeof(id)};
	struct bw_pkcs11_opts o = opts_for("kcfail", NULL);
	struct bw_pkcs11_key_flags f;
	struct bw_signer *s = (struct bw_signer *)&k;
	struct bw_err err = {0};
	char *uri = (char *)link;
	size_t n = 0;

	(void)state;
	NEED_MODULE();
	snprintf(link, sizeof(link), "%s/module-link.so", tmpdir);
	(void)unlink(link);
	assert_int_equal(symlink(MODULE, link), 0);
	k.module_path = link;
	assert_int_not_equal(bw_pkcs11_key_create(&k, &s, &uri, &err), 0);
	assert_null(s);
	assert_null(uri);
	assert_int_equal(bw_pkcs11_key_flags(&o, &f, &err), BW_ENOTFOUND);
	assert_int_equal(bw_pkcs11_delete_key(&o, &n, &err), BW_ENOTFOUND);
	assert_int_equal(n, 0);
	(void)unlink(link);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pkcs11_uri__build_parse_roundtrip),
		cmocka_unit_test(test_pkcs11_uri__parse_rejects),
		cmocka_unit_test(test_pkcs11_pin__file_modes),
		cmocka_unit_test(test_pkcs11_pin__env),
		cmocka_unit_test(test_pkcs11_keygen__sensitive_not_extractable),
		cmocka_unit_test(test_pkcs11_keygen__duplicates_refused),
		cmocka_unit_test(test_pkcs11_signer__sign_verify),
		cmocka_unit_test(test_pkcs11_signer__uri_and_id),
		cmocka_unit_test(test_pkcs11_signer__wrong_pin),
		cmocka_unit_test(test_pkcs11_signer__errors),
		cmocka_unit_test(test_pkcs11_signer__x509_req),
		cmocka_unit_test(test_pkcs11_signer__x509_cert_and_tls),
		cmocka_unit_test(test_pkcs11_delete__removes_key),
		cmocka_unit_test(test_pkcs11_keygen__by_uri),
		cmocka_unit_test(test_pkcs11_signer__rsa_pss),
		cmocka_unit_test(test_pkcs11_signer__ed25519_direct),
		cmocka_unit_test(test_pkcs11_signer__ed25519_foreign_public_key),
		cmocka_unit_test(test_pkcs11_key_create__ed25519),
		cmocka_unit_test(test_pkcs11_key_create__rsa),
		cmocka_unit_test(test_pkcs11_key_create__signer_and_uri),
		cmocka_unit_test(test_pkcs11_key_create__failure_leaves_token_as_was),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
