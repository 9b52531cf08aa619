/*
 * `bulwark keys boot create` and `bulwark sign boot`: UEFI Secure Boot
 * keys (PK, KEK, db) and U-Boot FIT keys whose private halves live only in
 * key archives or inside a PKCS#11 token, and the signatures made with
 * them (docs/boot.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "bulwark/boot.h"
#include "bulwark/buf.h"
#include "bulwark/pki.h"
#include "bulwark/repo.h"
#include "hsm.h"
#include "repo_cli.h"

/* A signer over a new RSA key; the PEM passes through memory only and is
 * wiped. */
static int new_signer(int bits, struct bw_signer **out, struct bw_err *err)
{
	EVP_PKEY *k = NULL;
	char *pem = NULL;
	size_t len = 0;
	int rc = bw_boot_rsa_generate(bits, &k, err);

	if (rc == 0)
		rc = bw_pki_key_pem(k, &pem, &len, err);
	if (rc == 0)
		rc = bw_signer_keyfile_load_mem(pem, len, out, err);
	if (pem != NULL)
		OPENSSL_cleanse(pem, len);
	free(pem);
	EVP_PKEY_free(k);
	return rc;
}

/*
 * Where a new boot key goes: a key archive (DIR/<name>.keys.tar.gz, 0600),
 * or, with --hsm-token, the token (non-extractable RSA key labelled
 * "<prefix>-<name>-<id>"; its pkcs11: URI in DIR/<name>.uri).
 */
struct boot_keys {
	const char *dir;
	int bits;
	const struct hsm_args *hsm; /* NULL: key archives */
	char *uris[BW_BOOT_UEFI_ROLES]; /* made in the token so far */
	size_t nuris;
};

static int boot_key_new(struct boot_keys *bk, const char *name,
			struct bw_signer **s, char *where, size_t cap,
			struct bw_err *err)
{
	struct hsm_args h;
	struct hsm_newkey nk = {BW_KEY_RSA, (unsigned)bk->bits, NULL, 1, 0};
	char label[96], path[4096], *uri = NULL, *line;
	int rc;

	if (bk->hsm == NULL) {
		snprintf(where, cap, "%s/%s.keys.tar.gz (private key, mode "
			 "0600)", bk->dir, name);
		snprintf(path, sizeof(path), "%s/%s.keys.tar.gz", bk->dir,
			 name);
		rc = new_signer(bk->bits, s, err);
		return rc != 0 ? rc : bw_repo_archive_write(path, s, 1, err);
	}
	h = *bk->hsm;
	snprintf(label, sizeof(label), "%.64s-%s",
		 h.label != NULL ? h.label : "bulwark-boot", name);
	h.label = NULL; /* --hsm-key-label is the prefix here */
	nk.label = label;
	if (bw_hsm_key_create("bulwark keys boot create", &h, &nk, s, &uri) !=
	    BW_EXIT_OK)
		return bw_err_set(err, BW_EINVAL, "no key made in token '%s'",
				  h.token);
	bk->uris[bk->nuris++] = uri;
	snprintf(where, cap, "%s/%s.uri (private key in token '%s')", bk->dir,
		 name, h.token);
	snprintf(path, sizeof(path), "%s/%s.uri", bk->dir, name);
	line = malloc(strlen(uri) + 2);
	if (line == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	snprintf(line, strlen(uri) + 2, "%s\n", uri);
	rc = bw_io_write_atomic(path, line, strlen(line), 0644, err);
	free(line);
	return rc;
}

/* Undo the keys made in the token when a later one failed. */
static void boot_keys_dispose(struct boot_keys *bk, int failed)
{
	for (size_t i = 0; i < bk->nuris; i++) {
		if (failed)
			bw_hsm_key_undo(bk->hsm, bk->uris[i]);
		free(bk->uris[i]);
	}
	bk->nuris = 0;
}

/* DIR/<role>.crt (public) and the key (boot_key_new). */
static int create_role(struct boot_keys *bk, const char *factory, int role,
		       long days, struct bw_err *err)
{
	const char *name = bw_boot_uefi_role_names[role];
	struct bw_signer *s = NULL;
	X509 *cert = NULL;
	char cn[160], path[4096], where[4200], *pem = NULL;
	size_t len = 0;
	int rc = boot_key_new(bk, name, &s, where, sizeof(where), err);

	snprintf(cn, sizeof(cn), "%.100s UEFI %s", factory, name);
	if (rc == 0)
		rc = bw_boot_cert_selfsign(s->pkey, cn, days, &cert, err);
	if (rc == 0)
		rc = bw_pki_cert_pem(cert, &pem, &len, err);
	snprintf(path, sizeof(path), "%s/%s.crt", bk->dir, name);
	if (rc == 0)
		rc = bw_io_write_atomic(path, pem, len, 0644, err);
	if (rc == 0)
		printf("%s: %s (certificate), %s\n", name, path, where);
	free(pem);
	X509_free(cert);
	bw_signer_free(s);
	return rc;
}

/* DIR/fit.pub.pem and the key (boot_key_new). */
static int create_fit(struct boot_keys *bk, struct bw_err *err)
{
	struct bw_signer *s = NULL;
	char path[4096], where[4200];
	BIO *b = BIO_new(BIO_s_mem());
	char *pub = NULL;
	long len = 0;
	int rc = boot_key_new(bk, "fit", &s, where, sizeof(where), err);

	if (rc == 0 && (b == NULL || PEM_write_bio_PUBKEY(b, s->pkey) != 1 ||
			(len = BIO_get_mem_data(b, &pub)) <= 0))
		rc = bw_err_set(err, BW_ECRYPTO, "public key");
	snprintf(path, sizeof(path), "%s/fit.pub.pem", bk->dir);
	if (rc == 0)
		rc = bw_io_write_atomic(path, pub, (size_t)len, 0644, err);
	if (rc == 0)
		printf("fit: %s (public key), %s\n", path, where);
	BIO_free(b);
	bw_signer_free(s);
	return rc;
}

static int cmd_keys_create(int argc, char **argv)
{
	static const char *prog = "bulwark keys boot create";
	const char *pos[1] = {NULL}, *factory = NULL, *bits_s = NULL;
	const char *days_s = NULL, *type = NULL;
	struct hsm_args h = {0};
	const struct bw_cli_opt opts[] = {
	    {"--type", BW_CLI_STR, "uefi|fit",
	     "uefi (default): PK, KEK, db; fit: one U-Boot FIT key", &type},
	    {"--factory", BW_CLI_STR, "NAME",
	     "uefi: factory name in the certificates' subjects (required)",
	     &factory},
	    {"--bits", BW_CLI_STR, "N", "RSA size: 2048 (default) or 3072",
	     &bits_s},
	    {"--days", BW_CLI_STR, "N", "certificate validity (default 7300)",
	     &days_s},
	    HSM_NEW_OPTS(h, "the keys", "label prefix of the keys in the "
			 "token (default bulwark-boot: bulwark-boot-db-<id>)"),
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog, "DIR [--type uefi] --factory NAME [options]\n       DIR --type fit [--bits N]\n"
	    "       DIR ... --hsm-token LABEL --hsm-pin-file F",
	    "Create the boot keys of a factory in DIR (which must not exist). "
	    "uefi: PK, KEK\nand db, each a self-signed certificate <role>.crt "
	    "and its private key in a key\narchive <role>.keys.tar.gz (mode "
	    "0600). fit: fit.keys.tar.gz and fit.pub.pem,\nthe key U-Boot "
	    "checks FIT images with. Keep the archives offline; `bulwark\n"
	    "sign boot` reads them. With --hsm-token the RSA keys are "
	    "generated inside the\nPKCS#11 token and never leave it: DIR gets "
	    "<role>.uri (fit.uri), the pkcs11: URI\n`bulwark sign boot --key` "
	    "takes, instead of an archive; on failure the keys\nmade in the "
	    "token are deleted again.",
	    opts, pos, 1, 1};
	struct boot_keys bk = {0};
	struct bw_err err = {0};
	int64_t bits = 2048, days = 7300;
	int done = 0, rc = bw_cli_parse(&spec, argc, argv, &done);

	if (rc != BW_EXIT_OK || done)
		return rc;
	if ((bits_s && (rc = bw_cli_int(prog, "--bits", bits_s, 2048, 3072,
					&bits)) != 0) ||
	    (days_s && (rc = bw_cli_int(prog, "--days", days_s, 1, 36500,
					&days)) != 0))
		return rc;
	if (bits != 2048 && bits != 3072)
		return bw_cli_usage(prog, "--bits is 2048 or 3072");
	if (type != NULL && strcmp(type, "uefi") != 0 && strcmp(type, "fit") != 0)
		return bw_cli_usage(prog, "--type is uefi or fit");
	if (factory == NULL && (type == NULL || strcmp(type, "uefi") == 0))
		return bw_cli_usage(prog, "--factory is required for UEFI keys");
	if ((h.module || h.pin_file || h.label) && !h.token)
		return bw_cli_usage(prog, "the --hsm-* options go with "
				    "--hsm-token");
	if (h.token != NULL && h.pin_file == NULL)
		return bw_cli_usage(prog, "--hsm-token needs --hsm-pin-file");
	if (mkdir(pos[0], 0700) != 0)
		return bw_cli_fail(prog, "cannot create %s: %s", pos[0],
				   strerror(errno));
	bk.dir = pos[0];
	bk.bits = (int)bits;
	bk.hsm = h.token != NULL ? &h : NULL;
	if (type != NULL && strcmp(type, "fit") == 0)
		rc = create_fit(&bk, &err);
	for (int r = 0; (type == NULL || strcmp(type, "fit") != 0) && rc == 0 &&
			r < BW_BOOT_UEFI_ROLES; r++)
		rc = create_role(&bk, factory, r, (long)days, &err);
	boot_keys_dispose(&bk, rc != 0);
	return rc == 0 ? BW_EXIT_OK : bw_cli_fail(prog, "%s", err.msg);
}

/* Key names go into node names and U-Boot messages. */
static int key_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return 0;
	return 1;
}

static int cmd_keys_fit_key(int argc, char **argv)
{
	static const char *prog = "bulwark keys boot fit-key";
	const char *pos[2] = {NULL, NULL}, *pub_path = NULL, *name = NULL;
	const struct bw_cli_opt opts[] = {
	    {"--pub", BW_CLI_STR | BW_CLI_REQUIRED, "FILE",
	     "the FIT public key (fit.pub.pem)", &pub_path},
	    {"--key-name", BW_CLI_STR | BW_CLI_REQUIRED, "NAME",
	     "the key-name-hint the FIT signatures carry", &name},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog, "--pub FILE --key-name NAME IN.dtb OUT.dtb",
	    "Write the public key node /signature/key-NAME (required = "
	    "\"conf\") into U-Boot's\ncontrol device tree IN.dtb: U-Boot "
	    "built with it boots only FIT configurations\nsigned by the key.",
	    opts, pos, 2, 2};
	struct bw_err err = {0};
	struct bw_buf dtb;
	EVP_PKEY *pub = NULL;
	uint8_t *out = NULL;
	size_t len = 0;
	FILE *f = NULL;
	int done = 0, rc = bw_cli_parse(&spec, argc, argv, &done);

	if (rc != BW_EXIT_OK || done)
		return rc;
	if (!key_name_ok(name))
		return bw_cli_usage(prog, "--key-name: 1-32 of [A-Za-z0-9_-]");
	if ((f = fopen(pub_path, "r")) == NULL ||
	    (pub = PEM_read_PUBKEY(f, NULL, NULL, NULL)) == NULL) {
		if (f != NULL)
			fclose(f);
		return bw_cli_fail(prog, "%s: not a PEM public key", pub_path);
	}
	fclose(f);
	bw_buf_init(&dtb, 16u << 20);
	rc = bw_io_read_file(pos[0], 16u << 20, &dtb, &err);
	if (rc == 0)
		rc = bw_boot_fit_add_key(dtb.data, dtb.len, pub, name, &out,
					 &len, &err);
	if (rc == 0)
		rc = bw_io_write_atomic(pos[1], out, len, 0644, &err);
	bw_buf_dispose(&dtb);
	EVP_PKEY_free(pub);
	free(out);
	if (rc != 0)
		return bw_cli_fail(prog, "%s", err.msg);
	printf("wrote %s with /signature/key-%s\n", pos[1], name);
	return BW_EXIT_OK;
}

static const struct bw_cli_cmd keys_boot_cmds[] = {
	{"create", "create UEFI PK, KEK and db keys, or a U-Boot FIT key",
	 cmd_keys_create},
	{"fit-key", "write the FIT public key into U-Boot's device tree",
	 cmd_keys_fit_key},
};

int bw_cmd_keys_boot(int argc, char **argv)
{
	return bw_cli_dispatch("bulwark keys boot",
			       "Secure Boot keys (UEFI PK, KEK, db; U-Boot FIT).",
			       keys_boot_cmds,
			       sizeof(keys_boot_cmds) / sizeof(keys_boot_cmds[0]),
			       argc, argv);
}

/* ---- sign boot ----------------------------------------------------------- */

static int sign_uefi(const char *prog, struct bw_signer *s, X509 *cert,
		     const char *in, const char *out)
{
	struct bw_err err = {0};
	struct bw_buf b;
	uint8_t *signed_img = NULL;
	size_t len = 0;
	int rc;

	bw_buf_init(&b, BW_BOOT_PE_MAX);
	rc = bw_io_read_file(in, BW_BOOT_PE_MAX, &b, &err);
	if (rc == 0)
		rc = bw_boot_pe_sign(b.data, b.len, s->pkey, cert, &signed_img,
				     &len, &err);
	if (rc == 0)
		rc = bw_io_write_atomic(out, signed_img, len, 0644, &err);
	bw_buf_dispose(&b);
	free(signed_img);
	if (rc != 0)
		return bw_cli_fail(prog, "%s: %s", in, err.msg);
	printf("signed %s -> %s (Authenticode, SHA-256)\n", in, out);
	return BW_EXIT_OK;
}

/* The Authenticode digests of the images a dbx update revokes. */
static int image_hashes(const struct bw_cli_list *imgs, uint8_t (*h)[32],
			struct bw_err *err)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < imgs->n; i++) {
		struct bw_buf b;

		bw_buf_init(&b, BW_BOOT_PE_MAX);
		rc = bw_io_read_file(imgs->v[i], BW_BOOT_PE_MAX, &b, err);
		if (rc == 0)
			rc = bw_boot_pe_digest(b.data, b.len, h[i], err);
		bw_buf_dispose(&b);
	}
	return rc;
}

static int sign_auth(const char *prog, struct bw_signer *s, X509 *cert,
		     const char *var, const struct bw_cli_list *add,
		     const struct bw_cli_list *revoke, const char *out)
{
	X509 *certs[BW_CLI_LIST_MAX] = {NULL};
	uint8_t hashes[BW_CLI_LIST_MAX][32], *auth = NULL;
	struct bw_err err = {0};
	size_t len = 0;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < add->n; i++)
		rc = bw_pki_cert_load(add->v[i], &certs[i], &err);
	if (rc == 0)
		rc = image_hashes(revoke, hashes, &err);
	if (rc == 0)
		rc = bw_boot_uefi_auth(var, certs, add->n,
				       (const uint8_t(*)[32])hashes, revoke->n,
				       (int64_t)time(NULL), s->pkey, cert,
				       &auth, &len, &err);
	if (rc == 0)
		rc = bw_io_write_atomic(out, auth, len, 0644, &err);
	for (size_t i = 0; i < add->n; i++)
		X509_free(certs[i]);
	free(auth);
	if (rc != 0)
		return bw_cli_fail(prog, "%s", err.msg);
	printf("signed update of %s -> %s (%zu certificates, %zu revoked "
	       "images)\n", var, out, add->n, revoke->n);
	return BW_EXIT_OK;
}

static int sign_fit(const char *prog, struct bw_signer *s, const char *name,
		    const char *in, const char *out)
{
	struct bw_err err = {0};
	struct bw_buf b;
	uint8_t *signed_fit = NULL;
	size_t len = 0;
	int rc;

	bw_buf_init(&b, BW_BOOT_PE_MAX);
	rc = bw_io_read_file(in, BW_BOOT_PE_MAX, &b, &err);
	if (rc == 0)
		rc = bw_boot_fit_sign(b.data, b.len, s->pkey, name, &signed_fit,
				      &len, &err);
	if (rc == 0)
		rc = bw_io_write_atomic(out, signed_fit, len, 0644, &err);
	bw_buf_dispose(&b);
	free(signed_fit);
	if (rc != 0)
		return bw_cli_fail(prog, "%s: %s", in, err.msg);
	printf("signed %s -> %s (FIT configurations, key %s)\n", in, out,
	       name);
	return BW_EXIT_OK;
}

/* --production NAME: the production threshold approved exactly IN. */
static int check_approved(const char *prog, const char *repo, const char *name,
			  const char *format, const char *in)
{
	struct bw_repo *r = NULL;
	struct bw_err err = {0};
	struct bw_buf b;
	int rc = bw_repocli_open(prog, repo, &r);

	if (rc != BW_EXIT_OK)
		return rc;
	bw_buf_init(&b, BW_BOOT_PE_MAX);
	rc = bw_io_read_file(in, BW_BOOT_PE_MAX, &b, &err);
	if (rc == 0)
		rc = bw_repo_boot_approved(r, name, format, b.data, b.len, &err);
	bw_buf_dispose(&b);
	bw_repo_free(r);
	if (rc != 0)
		return bw_cli_fail(prog, "%s", err.msg);
	printf("boot request %s: approved by the production threshold\n",
	       name);
	return BW_EXIT_OK;
}

static int cmd_sign_boot(int argc, char **argv)
{
	static const char *prog = "bulwark sign boot";
	const char *pos[2] = {NULL, NULL}, *format = NULL, *key = NULL;
	const char *cert_path = NULL, *pin_file = NULL, *var = NULL;
	const char *key_name = NULL, *production = NULL, *repo = NULL;
	struct bw_cli_list add = {0}, revoke = {0};
	const struct bw_cli_opt opts[] = {
	    {"--format", BW_CLI_STR | BW_CLI_REQUIRED, "uefi|auth|fit",
	     "uefi: Authenticode on a PE/COFF image; auth: a signed UEFI "
	     "variable update; fit: U-Boot FIT configuration signatures",
	     &format},
	    {"--key", BW_CLI_STR | BW_CLI_REQUIRED, "ARCHIVE|URI",
	     "the signing key: a key archive or a pkcs11: URI", &key},
	    {"--cert", BW_CLI_STR, "FILE",
	     "uefi, auth: the key's certificate", &cert_path},
	    {"--key-name", BW_CLI_STR, "NAME",
	     "fit: the key-name-hint (as in fit-key)", &key_name},
	    {"--hsm-pin-file", BW_CLI_STR, "F",
	     "PIN for a pkcs11: key (else $BULWARK_HSM_PIN)", &pin_file},
	    {"--var", BW_CLI_STR, "PK|KEK|db|dbx",
	     "auth: the variable the update replaces", &var},
	    {"--add-cert", BW_CLI_LIST, "FILE",
	     "auth: a certificate the variable holds (repeatable)", &add},
	    {"--revoke-image", BW_CLI_LIST, "FILE",
	     "auth: a PE image whose digest dbx holds (repeatable)", &revoke},
	    {"--production", BW_CLI_STR, "NAME",
	     "uefi, fit: sign only if boot request NAME approved these bytes",
	     &production},
	    REPO_OPT(repo),
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog,
	    "--format uefi --key K --cert C IN OUT\n"
	    "       --format fit --key K --key-name NAME IN.fit OUT.fit\n"
	    "       --format auth --var V --key K --cert C [--add-cert F]... "
	    "[--revoke-image F]... OUT",
	    "Sign a boot artifact. uefi: an Authenticode signature (PKCS#7, "
	    "SHA-256) on the\nPE/COFF image IN, written to OUT: the format "
	    "sbsign makes and UEFI firmware\nchecks against db. auth: a "
	    "signed update (EFI_VARIABLE_AUTHENTICATION_2) that\nreplaces "
	    "the variable V with the certificates and image digests given; "
	    "PK and\nKEK updates are signed with PK, db and dbx updates with "
	    "KEK. A dbx update\nrevokes images on devices as an ordinary "
	    "update. fit: a signature node in every\nconfiguration of the "
	    "FIT image IN (made by mkimage, images with sha256 hash\nnodes), "
	    "the format `mkimage -k` writes and U-Boot verifies.",
	    opts, pos, 1, 2};
	struct bw_cli_list specs = {0};
	struct bw_repo_keys keys;
	struct bw_err err = {0};
	X509 *cert = NULL;
	int done = 0, auth, fit, rc = bw_cli_parse(&spec, argc, argv, &done);

	if (rc != BW_EXIT_OK || done)
		return rc;
	auth = strcmp(format, "auth") == 0;
	fit = strcmp(format, "fit") == 0;
	if (!auth && !fit && strcmp(format, "uefi") != 0)
		return bw_cli_usage(prog, "--format %s: uefi, auth or fit",
				    format);
	if (fit != (key_name != NULL) || fit == (cert_path != NULL))
		return bw_cli_usage(prog, "--format fit takes --key-name, the "
				    "others --cert");
	if (fit && !key_name_ok(key_name))
		return bw_cli_usage(prog, "--key-name: 1-32 of [A-Za-z0-9_-]");
	if (auth && (var == NULL || pos[1] != NULL))
		return bw_cli_usage(prog, "--format auth takes --var and one "
				    "output file");
	if (!auth && (pos[1] == NULL || var || add.n || revoke.n))
		return bw_cli_usage(prog, "--format %s takes IN and OUT only",
				    format);
	if (production != NULL &&
	    (auth || (rc = check_approved(prog, repo, production, format,
					  pos[0])) != BW_EXIT_OK))
		return auth ? bw_cli_usage(prog, "--production is for uefi and "
					   "fit images") : rc;
	if (!fit && bw_pki_cert_load(cert_path, &cert, &err) != 0)
		return bw_cli_fail(prog, "%s", err.msg);
	specs.v[0] = key;
	specs.n = 1;
	rc = bw_repocli_keys(prog, NULL, &specs, pin_file, &keys);
	if (rc != BW_EXIT_OK) {
		X509_free(cert);
		return rc;
	}
	if (keys.n != 1)
		rc = bw_cli_fail(prog, "%s: holds %zu keys, want one", key,
				 keys.n);
	else if (fit)
		rc = sign_fit(prog, keys.s[0], key_name, pos[0], pos[1]);
	else if (X509_check_private_key(cert, keys.s[0]->pkey) != 1)
		rc = bw_cli_fail(prog, "%s is not the certificate of %s",
				 cert_path, key);
	else if (auth)
		rc = sign_auth(prog, keys.s[0], cert, var, &add, &revoke,
			       pos[0]);
	else
		rc = sign_uefi(prog, keys.s[0], cert, pos[0], pos[1]);
	bw_repo_keys_dispose(&keys);
	X509_free(cert);
	return rc;
}

static int report_request(const char *prog, const char *name, int rc,
			  const struct bw_err *err, size_t have, int64_t need)
{
	if (rc != 0)
		return bw_cli_fail(prog, "%s", err->msg);
	if ((int64_t)have < need)
		printf("boot request %s: %zu of %lld signatures; pending for "
		       "`bulwark sign approve --name %s`\n", name, have,
		       (long long)need, name);
	else
		printf("boot request %s: approved (%zu of %lld signatures); "
		       "sign with `bulwark sign boot --production %s`\n", name,
		       have, (long long)need, name);
	return BW_EXIT_OK;
}

static int cmd_request(int argc, char **argv)
{
	static const char *prog = "bulwark sign request";
	const char *pos[1] = {NULL}, *name = NULL, *format = NULL;
	const char *repo = NULL, *pin_file = NULL;
	struct bw_cli_list specs = {0};
	int partial = 0;
	const struct bw_cli_opt opts[] = {
	    {"--name", BW_CLI_STR | BW_CLI_REQUIRED, "NAME",
	     "request name (1-64 of A-Z a-z 0-9 . _ -)", &name},
	    {"--format", BW_CLI_STR | BW_CLI_REQUIRED, "uefi|fit",
	     "what the artifact will be signed as", &format},
	    {"--keys", BW_CLI_LIST, "ARCHIVE|URI",
	     "production targets keys approving it (repeatable)", &specs},
	    {"--partial", BW_CLI_FLAG, NULL,
	     "store below the threshold for another admin", &partial},
	    {"--hsm-pin-file", BW_CLI_STR, "F",
	     "PIN for pkcs11: keys (else $BULWARK_HSM_PIN)", &pin_file},
	    REPO_OPT(repo),
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog, "--name NAME --format uefi|fit IN --keys K... [--partial]",
	    "Ask the production targets keys to approve the unsigned boot "
	    "artifact IN\n(its length and sha256) before a boot key signs it: "
	    "the online targets key\nand the given offline keys sign "
	    "DIR/boot/NAME.json, up to the production\nthreshold, or with "
	    "--partial keep it pending for `bulwark sign approve`.",
	    opts, pos, 1, 1};
	struct bw_repo *r = NULL;
	struct bw_repo_keys keys;
	struct bw_err err = {0};
	struct bw_buf b;
	size_t have = 0;
	int64_t need = 0;
	int done = 0, rc = bw_cli_parse(&spec, argc, argv, &done);

	if (rc != BW_EXIT_OK || done)
		return rc;
	if ((rc = bw_repocli_open(prog, repo, &r)) != BW_EXIT_OK)
		return rc;
	if ((rc = bw_repocli_keys(prog, r, &specs, pin_file, &keys)) != 0) {
		bw_repo_free(r);
		return rc;
	}
	bw_buf_init(&b, BW_BOOT_PE_MAX);
	rc = bw_io_read_file(pos[0], BW_BOOT_PE_MAX, &b, &err);
	if (rc == 0)
		rc = bw_repo_boot_request(r, name, format, b.data, b.len, &keys,
					  partial, &have, &need, &err);
	bw_buf_dispose(&b);
	bw_repo_keys_dispose(&keys);
	bw_repo_free(r);
	return report_request(prog, name, rc, &err, have, need);
}

static int cmd_approve(int argc, char **argv)
{
	static const char *prog = "bulwark sign approve";
	const char *name = NULL, *repo = NULL, *pin_file = NULL;
	struct bw_cli_list specs = {0};
	const struct bw_cli_opt opts[] = {
	    {"--name", BW_CLI_STR | BW_CLI_REQUIRED, "NAME", "request name",
	     &name},
	    {"--keys", BW_CLI_LIST, "ARCHIVE|URI",
	     "production targets keys approving it (repeatable)", &specs},
	    {"--hsm-pin-file", BW_CLI_STR, "F",
	     "PIN for pkcs11: keys (else $BULWARK_HSM_PIN)", &pin_file},
	    REPO_OPT(repo),
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog, "--name NAME --keys K...",
	    "Add your signature to the pending boot request NAME; at the "
	    "production\nthreshold it is approved.",
	    opts, NULL, 0, 0};
	struct bw_repo *r = NULL;
	struct bw_repo_keys keys;
	struct bw_err err = {0};
	size_t have = 0;
	int64_t need = 0;
	int done = 0, rc = bw_cli_parse(&spec, argc, argv, &done);

	if (rc != BW_EXIT_OK || done)
		return rc;
	if ((rc = bw_repocli_open(prog, repo, &r)) != BW_EXIT_OK)
		return rc;
	if ((rc = bw_repocli_keys(prog, r, &specs, pin_file, &keys)) != 0) {
		bw_repo_free(r);
		return rc;
	}
	rc = bw_repo_boot_approve(r, name, &keys, &have, &need, &err);
	bw_repo_keys_dispose(&keys);
	bw_repo_free(r);
	return report_request(prog, name, rc, &err, have, need);
}

static const struct bw_cli_cmd sign_cmds[] = {
	{"request", "ask the production targets keys to approve a boot "
		    "artifact", cmd_request},
	{"approve", "approve a pending boot request", cmd_approve},
	{"boot", "sign a boot artifact: UEFI image or variable update",
	 cmd_sign_boot},
};

int bw_cmd_sign(int argc, char **argv)
{
	return bw_cli_dispatch("bulwark sign", "Sign boot artifacts.",
			       sign_cmds, sizeof(sign_cmds) / sizeof(sign_cmds[0]),
			       argc, argv);
}
