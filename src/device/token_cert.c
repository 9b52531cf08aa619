/*
 * Store the device certificate in the token next to its key (CKO_CERTIFICATE,
 * same label and CKA_ID), so a token moved to another host, or a tool that
 * reads the token (pkcs11-tool, p11tool), sees the identity whole.
 * The token work itself is bw_pkcs11_store_cert (the crypto module).
 */
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "bulwark/pkcs11.h"
#include "enroll.h"

int bw_dev_token_store_cert(const struct bw_pkcs11_opts *o, const char *label,
			    const uint8_t *id, size_t id_len,
			    const char *cert_pem, struct bw_err *err)
{
	BIO *bio = BIO_new_mem_buf(cert_pem, -1);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	int rc;

	if (x == NULL)
		rc = bw_err_set(err, BW_EFORMAT, "certificate does not parse");
	else
		rc = bw_pkcs11_store_cert(o, label, id, id_len, x, err);
	X509_free(x);
	BIO_free(bio);
	return rc;
}
