/*
 * Boot keys: RSA keys and self-signed certificates for UEFI Secure Boot
 * (PK, KEK, db). The private halves go into key archives or a PKCS#11
 * token through the repo module's key code; nothing here writes them.
 */
#include <time.h>

#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "bulwark/boot.h"

const char *const bw_boot_uefi_role_names[BW_BOOT_UEFI_ROLES] = {
	"PK", "KEK", "db",
};

int bw_boot_rsa_generate(int bits, EVP_PKEY **out, struct bw_err *err)
{
	*out = NULL;
	if (bits != 2048 && bits != 3072)
		return bw_err_set(err, BW_EINVAL, "boot keys are RSA-2048 or "
				  "RSA-3072, not %d bits", bits);
	*out = EVP_RSA_gen((unsigned)bits);
	return *out ? 0 : bw_err_set(err, BW_ECRYPTO, "RSA key generation "
				     "failed");
}

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	int ok;

	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	ok = e != NULL && X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok;
}

int bw_boot_cert_selfsign(EVP_PKEY *key, const char *cn, long days,
			  X509 **out, struct bw_err *err)
{
	X509 *x = X509_new();
	BIGNUM *bn = BN_new();
	uint8_t serial[16];
	int rc = BW_ECRYPTO;

	*out = NULL;
	if (days < 1 || days > 36500)
		rc = bw_err_set(err, BW_EINVAL, "validity of %ld days out of "
				"range (1..36500)", days);
	else if (x != NULL && bn != NULL &&
		 RAND_bytes(serial, sizeof(serial)) == 1 &&
		 (serial[0] &= 0x7f, BN_bin2bn(serial, sizeof(serial), bn)) &&
		 BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) &&
		 X509_set_version(x, 2) &&
		 X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
					    MBSTRING_UTF8,
					    (const unsigned char *)cn, -1, -1,
					    0) &&
		 X509_set_issuer_name(x, X509_get_subject_name(x)) &&
		 X509_gmtime_adj(X509_getm_notBefore(x), 0) &&
		 X509_gmtime_adj(X509_getm_notAfter(x), days * 86400L) &&
		 X509_set_pubkey(x, key) &&
		 add_ext(x, NID_subject_key_identifier, "hash") &&
		 add_ext(x, NID_basic_constraints, "critical,CA:FALSE") &&
		 add_ext(x, NID_key_usage, "critical,digitalSignature") &&
		 X509_sign(x, key, EVP_sha256()) > 0) {
		*out = x;
		x = NULL; /* transferred */
		rc = 0;
	} else {
		bw_err_set(err, rc, "certificate for %s failed", cn);
	}
	BN_free(bn);
	X509_free(x);
	return rc;
}
