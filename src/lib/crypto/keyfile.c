/*
 * Key file signer backend: private keys held in memory, loaded from and
 * saved to unencrypted PKCS#8 PEM files (include/bulwark/crypto.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/buffer.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "bulwark/buf.h"
#include "bulwark/crypto.h"
#include "crypto_priv.h"

/* An RSA-16384 PKCS#8 PEM is about 12.5 KB. */
#define KEYFILE_MAX (64u * 1024u)

static int keyfile_sign(struct bw_signer *s, const uint8_t *msg, size_t msglen,
			uint8_t **sig, size_t *siglen, struct bw_err *err)
{
	return bw_crypto__pkey_sign(s->pkey, s->key->type, msg, msglen, sig,
				    siglen, err);
}

/*
 * Nothing beyond s->pkey to release: bw_signer_free frees it, and
 * EVP_PKEY_free clears private key material.
 */
static const struct bw_signer_ops KEYFILE_OPS = {
    .name = "file",
    .sign = keyfile_sign,
    .dispose = NULL,
};

/* On success *pkey belongs to the signer and is set to NULL. */
static int keyfile_wrap(EVP_PKEY **pkey, struct bw_signer **out,
			struct bw_err *err)
{
	int rc = bw_crypto__signer_new(&KEYFILE_OPS, *pkey, NULL, out, err);

	if (rc == 0)
		*pkey = NULL; /* transferred */
	return rc;
}

int bw_signer_keyfile_generate(enum bw_key_type type, struct bw_signer **out,
			       struct bw_err *err)
{
	EVP_PKEY *pkey = NULL;
	int rc;

	if (out == NULL)
		return bw_err_set(err, BW_EINVAL,
				  "keyfile_generate: NULL argument");
	*out = NULL;
	switch (type) {
	case BW_KEY_ED25519:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	case BW_KEY_ECDSA_P256:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case BW_KEY_RSA:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
		break;
	default:
		return bw_err_set(err, BW_EUNSUPPORTED, "unknown key type %d",
				  (int)type);
	}
	if (pkey == NULL) {
		ERR_clear_error();
		return bw_err_set(err, BW_ECRYPTO, "key generation failed");
	}
	rc = keyfile_wrap(&pkey, out, err);
	EVP_PKEY_free(pkey);
	return rc;
}

/* Never let OpenSSL prompt on a terminal for a passphrase. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

int bw_signer_keyfile_load_mem(const void *pem, size_t len,
			       struct bw_signer **out, struct bw_err *err)
{
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	int rc = BW_EFORMAT;

	if (pem == NULL || out == NULL)
		return bw_err_set(err, BW_EINVAL,
				  "keyfile_load_mem: NULL argument");
	*out = NULL;
	if (len > KEYFILE_MAX)
		return bw_err_set(err, BW_ETOOBIG, "key of %zu bytes", len);
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (pkey == NULL) {
		bw_err_set(err, rc, "not an unencrypted PEM private key");
		goto out;
	}
	rc = keyfile_wrap(&pkey, out, err);
out:
	ERR_clear_error();
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	return rc;
}

/* Read exactly the st_size bytes fstat promised, into a wipeable buffer. */
static int read_fd_exact(int fd, size_t size, uint8_t *buf, struct bw_err *err)
{
	size_t got = 0;
	uint8_t extra;
	ssize_t n;

	while (got <= size) {
		/* One byte past size detects a file that grew under us. */
		n = got < size ? read(fd, buf + got, size - got)
			       : read(fd, &extra, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return bw_err_set(err, BW_EIO, "reading key file: %s",
					  strerror(errno));
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got != size)
		return bw_err_set(err, BW_EIO,
				  "key file changed while reading");
	return 0;
}

int bw_signer_keyfile_load(const char *path, int allow_loose_mode,
			   struct bw_signer **out, struct bw_err *err)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t size = 0;
	int fd = -1, rc = BW_EIO;

	if (path == NULL || out == NULL)
		return bw_err_set(err, BW_EINVAL,
				  "keyfile_load: NULL argument");
	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = errno == ENOENT ? BW_ENOTFOUND : BW_EIO;
		bw_err_set(err, rc, "%s: %s", path, strerror(errno));
		goto out;
	}
	/* fstat on the open fd: the file checked is the file read. */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		bw_err_set(err, rc, "%s: not a regular file", path);
		goto out;
	}
	/* Like ssh: any group/other access to a private key is refused. */
	if (!allow_loose_mode && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		rc = bw_err_set(
		    err, BW_EINVAL,
		    "%s: key file mode %04o is accessible by group or "
		    "others (chmod 600)",
		    path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size > KEYFILE_MAX) {
		rc =
		    bw_err_set(err, BW_ETOOBIG, "%s: key file too large", path);
		goto out;
	}
	size = (size_t)st.st_size;
	buf = malloc(size + 1);
	if (buf == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	rc = read_fd_exact(fd, size, buf, err);
	if (rc == 0)
		rc = bw_signer_keyfile_load_mem(buf, size, out, err);
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, size);
		free(buf);
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

int bw_signer_keyfile_save(const struct bw_signer *s, const char *path,
			   struct bw_err *err)
{
	BIO *bio = NULL;
	BUF_MEM *bm = NULL;
	int rc = BW_ECRYPTO;

	if (s == NULL || path == NULL || s->pkey == NULL)
		return bw_err_set(err, BW_EINVAL,
				  "keyfile_save: NULL argument");
	if (s->ops != &KEYFILE_OPS)
		return bw_err_set(
		    err, BW_EINVAL,
		    "a %s signer's key can not be saved to a file",
		    s->ops && s->ops->name ? s->ops->name : "?");
	/* secmem: the storage comes from the secure heap if there is one. */
	bio = BIO_new(BIO_s_secmem());
	if (bio == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	/* OpenSSL 3 writes PKCS#8 ("BEGIN PRIVATE KEY") here. */
	if (PEM_write_bio_PrivateKey(bio, s->pkey, NULL, NULL, 0, NULL, NULL) !=
		1 ||
	    BIO_get_mem_ptr(bio, &bm) != 1 || bm == NULL) {
		ERR_clear_error();
		bw_err_set(err, rc, "encoding the private key failed");
		goto out;
	}
	rc = bw_io_write_atomic(path, bm->data, bm->length, 0600, err);
out:
	if (bm != NULL)
		OPENSSL_cleanse(bm->data, bm->length);
	BIO_free(bio);
	return rc;
}

int bw_signer_keyfile_from_ed25519_seed(const uint8_t seed[32],
					struct bw_signer **out,
					struct bw_err *err)
{
	EVP_PKEY *pkey = NULL;
	int rc;

	if (seed == NULL || out == NULL)
		return bw_err_set(err, BW_EINVAL,
				  "from_ed25519_seed: NULL argument");
	*out = NULL;
	pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	if (pkey == NULL) {
		ERR_clear_error();
		return bw_err_set(err, BW_ECRYPTO, "ed25519 key import failed");
	}
	rc = keyfile_wrap(&pkey, out, err);
	EVP_PKEY_free(pkey);
	return rc;
}
