/*
 * Shared fixtures for the crypto unit tests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/pem.h>

#include "bulwark/buf.h"
#include "bulwark/json.h"
#include "helper_crypto.h"

json_t *bw_test_crypto_load_json(const char *path)
{
	struct bw_buf b;
	json_t *v = NULL;

	bw_buf_init(&b, BW_JSON_DEFAULT_MAX_BYTES);
	if (bw_io_read_file(path, BW_JSON_DEFAULT_MAX_BYTES, &b, NULL) == 0)
		bw_json_parse(b.data, b.len, NULL, &v, NULL);
	bw_buf_dispose(&b);
	return v;
}

json_t *bw_test_crypto_key_obj(const char *keytype, const char *scheme,
			       const char *public)
{
	return json_pack("{s:s, s:{s:s}, s:s}", "keytype", keytype, "keyval",
			 "public", public, "scheme", scheme);
}

static char *bio_string(BIO *bio)
{
	char *data = NULL;
	long len = BIO_get_mem_data(bio, &data);

	return len > 0 ? strndup(data, (size_t)len) : NULL;
}

char *bw_test_crypto_pubkey_pem(EVP_PKEY *pkey)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (bio != NULL && PEM_write_bio_PUBKEY(bio, pkey) == 1)
		s = bio_string(bio);
	BIO_free(bio);
	return s;
}

char *bw_test_crypto_privkey_pem(EVP_PKEY *pkey)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (bio != NULL &&
	    PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) == 1)
		s = bio_string(bio);
	BIO_free(bio);
	return s;
}

const char *bw_test_crypto_vectors(void)
{
	static char path[4096];
	const char *base = getenv("BW_VECTORS");
	struct stat st;
	int n;

	if (base == NULL)
		return NULL;
	n = snprintf(path, sizeof(path), "%s/python-tuf", base);
	if (n < 0 || (size_t)n >= sizeof(path) || stat(path, &st) != 0 ||
	    !S_ISDIR(st.st_mode))
		return NULL;
	return path;
}
