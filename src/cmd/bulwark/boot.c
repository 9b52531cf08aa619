/*
 * `bulwark keys boot create` and `bulwark sign boot`: UEFI Secure Boot
 * keys (PK, KEK, db) whose private halves live only in key archives, and
 * Authenticode signatures made with them (docs/boot.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "bulwark/boot.h"
#include "bulwark/buf.h"
#include "bulwark/pki.h"
#include "bulwark/repo.h"
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

/* DIR/<role>.crt (public) and DIR/<role>.keys.tar.gz (0600). */
static int create_role(const char *dir, const char *factory, int role,
		       int bits, long days, struct bw_err *err)
{
	const char *name = bw_boot_uefi_role_names[role];
	struct bw_signer *s = NULL;
	X509 *cert = NULL;
	char cn[160], path[4096], *pem = NULL;
	size_t len = 0;
	int rc = new_signer(bits, &s, err);

	snprintf(cn, sizeof(cn), "%.100s UEFI %s", factory, name);
	if (rc == 0)
		rc = bw_boot_cert_selfsign(s->pkey, cn, days, &cert, err);
	if (rc == 0)
		rc = bw_pki_cert_pem(cert, &pem, &len, err);
	snprintf(path, sizeof(path), "%s/%s.keys.tar.gz", dir, name);
	if (rc == 0)
		rc = bw_repo_archive_write(path, &s, 1, err);
	snprintf(path, sizeof(path), "%s/%s.crt", dir, name);
	if (rc == 0)
		rc = bw_io_write_atomic(path, pem, len, 0644, err);
	if (rc == 0)
		printf("%s: %s (certificate), %s/%s.keys.tar.gz (private key, "
		       "mode 0600)\n", name, path, dir, name);
	free(pem);
	X509_free(cert);
	bw_signer_free(s);
	return rc;
}

static int cmd_keys_create(int argc, char **argv)
{
	static const char *prog = "bulwark keys boot create";
	const char *pos[1] = {NULL}, *factory = NULL, *bits_s = NULL;
	const char *days_s = NULL;
	const struct bw_cli_opt opts[] = {
	    {"--factory", BW_CLI_STR | BW_CLI_REQUIRED, "NAME",
	     "factory name in the certificates' subjects", &factory},
	    {"--bits", BW_CLI_STR, "N", "RSA size: 2048 (default) or 3072",
	     &bits_s},
	    {"--days", BW_CLI_STR, "N", "certificate validity (default 7300)",
	     &days_s},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog, "DIR --factory NAME [options]",
	    "Create the UEFI Secure Boot keys of a factory in DIR (which must "
	    "not exist):\nPK, KEK and db, each a self-signed certificate "
	    "<role>.crt and its private\nkey in a key archive "
	    "<role>.keys.tar.gz (mode 0600). Keep the archives offline;\n"
	    "`bulwark sign boot` reads them.",
	    opts, pos, 1, 1};
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
	if (mkdir(pos[0], 0700) != 0)
		return bw_cli_fail(prog, "cannot create %s: %s", pos[0],
				   strerror(errno));
	for (int r = 0; r < BW_BOOT_UEFI_ROLES; r++)
		if (create_role(pos[0], factory, r, (int)bits, (long)days,
				&err) != 0)
			return bw_cli_fail(prog, "%s", err.msg);
	return BW_EXIT_OK;
}

static const struct bw_cli_cmd keys_boot_cmds[] = {
	{"create", "create PK, KEK and db keys and certificates",
	 cmd_keys_create},
};

int bw_cmd_keys_boot(int argc, char **argv)
{
	return bw_cli_dispatch("bulwark keys boot",
			       "Secure Boot keys (UEFI PK, KEK, db).",
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
	if (rc == 0 && X509_check_private_key(cert, s->pkey) != 1)
		rc = bw_err_set(&err, BW_EINVAL, "the certificate is not the "
				"key's");
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

static int cmd_sign_boot(int argc, char **argv)
{
	static const char *prog = "bulwark sign boot";
	const char *pos[2] = {NULL, NULL}, *format = NULL, *key = NULL;
	const char *cert_path = NULL, *pin_file = NULL;
	const struct bw_cli_opt opts[] = {
	    {"--format", BW_CLI_STR | BW_CLI_REQUIRED, "uefi",
	     "uefi: Authenticode on a PE/COFF image", &format},
	    {"--key", BW_CLI_STR | BW_CLI_REQUIRED, "ARCHIVE|URI",
	     "the db key: a key archive or a pkcs11: URI", &key},
	    {"--cert", BW_CLI_STR | BW_CLI_REQUIRED, "FILE",
	     "the key's certificate (db.crt)", &cert_path},
	    {"--hsm-pin-file", BW_CLI_STR, "F",
	     "PIN for a pkcs11: key (else $BULWARK_HSM_PIN)", &pin_file},
	    BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
	    prog, "--format uefi --key ARCHIVE|URI --cert FILE IN OUT",
	    "Sign the boot artifact IN into OUT. uefi: an Authenticode "
	    "signature (PKCS#7,\nSHA-256) on a PE/COFF image, the format "
	    "sbsign makes and UEFI firmware checks\nagainst db.",
	    opts, pos, 2, 2};
	struct bw_cli_list specs = {0};
	struct bw_repo_keys keys;
	struct bw_err err = {0};
	X509 *cert = NULL;
	int done = 0, rc = bw_cli_parse(&spec, argc, argv, &done);

	if (rc != BW_EXIT_OK || done)
		return rc;
	if (strcmp(format, "uefi") != 0)
		return bw_cli_usage(prog, "--format %s: only uefi is supported",
				    format);
	if (bw_pki_cert_load(cert_path, &cert, &err) != 0)
		return bw_cli_fail(prog, "%s", err.msg);
	specs.v[0] = key;
	specs.n = 1;
	rc = bw_repocli_keys(prog, NULL, &specs, pin_file, &keys);
	if (rc == BW_EXIT_OK && keys.n != 1)
		rc = bw_cli_fail(prog, "%s: holds %zu keys, want one", key,
				 keys.n);
	if (rc == BW_EXIT_OK)
		rc = sign_uefi(prog, keys.s[0], cert, pos[0], pos[1]);
	if (rc == BW_EXIT_OK || keys.n > 0)
		bw_repo_keys_dispose(&keys);
	X509_free(cert);
	return rc;
}

static const struct bw_cli_cmd sign_cmds[] = {
	{"boot", "sign a boot artifact (UEFI Authenticode)", cmd_sign_boot},
};

int bw_cmd_sign(int argc, char **argv)
{
	return bw_cli_dispatch("bulwark sign", "Sign boot artifacts.",
			       sign_cmds, sizeof(sign_cmds) / sizeof(sign_cmds[0]),
			       argc, argv);
}
