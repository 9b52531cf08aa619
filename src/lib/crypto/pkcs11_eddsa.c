/*
 * Ed25519 keys in a PKCS#11 token, signing directly through the module:
 * C_SignInit with CKM_EDDSA (PKCS#11 3.0, 2.3.14; no parameters: pure
 * Ed25519 as RFC 8032 defines it), then C_Sign.
 *
 * Written by hand because the project's PKCS#11 path, libp11 0.4.12's
 * OpenSSL ENGINE, has no EdDSA support at all (it can not load an EdDSA
 * key, and lists no key on a token holding one), and OpenSSL 3.0's ENGINE
 * interface has no EdDSA method to plug one in. The transparency log's
 * checkpoints are C2SP signed notes, which are Ed25519 only, so a log key
 * in a token needs this. Everything else (module loading, the token and
 * key lookup by pkcs11: URI, the PIN and login) is the shared code in
 * pkcs11_token.c / pkcs11_uri.c.
 *
 * The signer keeps one logged-in session for its life; a mutex
 * serialises signatures on it (a PKCS#11 session runs one operation at a
 * time). Its public half is read from the token's public key object
 * (CKA_EC_POINT) and checked once against a signature the private key
 * makes, so a public key object planted beside the private key can not
 * name another key. signer->pkey is NULL: there is no OpenSSL handle for
 * this key, signatures go through the signer interface only.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "bulwark/crypto.h"
#include "crypto/pkcs11_ck.h"
#include "crypto/pkcs11_priv.h"

#define ED25519_LEN 32
#define ED25519_SIG_LEN 64

struct eddsa_backend {
	struct bw_pkcs11__conn conn;
	CK_OBJECT_HANDLE key;
	pthread_mutex_t mu; /* one operation at a time on conn.sess */
};

/* One signature by the token into sig[64]. */
static int token_sign(struct eddsa_backend *b, const uint8_t *msg,
		      size_t msglen, uint8_t sig[ED25519_SIG_LEN],
		      struct bw_err *err)
{
	CK_MECHANISM mech = { CKM_EDDSA, NULL, 0 };
	CK_ULONG len = ED25519_SIG_LEN;
	CK_RV rv;

	pthread_mutex_lock(&b->mu);
	rv = b->conn.f->C_SignInit(b->conn.sess, &mech, b->key);
	if (rv == CKR_OK)
		rv = b->conn.f->C_Sign(b->conn.sess, (CK_BYTE *)msg, msglen,
				       sig, &len);
	pthread_mutex_unlock(&b->mu);
	if (rv == CKR_MECHANISM_INVALID)
		return bw_err_set(err, BW_EUNSUPPORTED, "pkcs11: the token "
				  "has no EdDSA signing (CKM_EDDSA)");
	if (rv == CKR_USER_NOT_LOGGED_IN)
		return bw_err_set(err, BW_ESTATE, "pkcs11: the token logged "
				  "the key out; restart to log in again");
	if (rv != CKR_OK)
		return bw_err_set(err, BW_ECRYPTO, "pkcs11: EdDSA signature "
				  "failed (0x%lx)", rv);
	if (len != ED25519_SIG_LEN)
		return bw_err_set(err, BW_ECRYPTO, "pkcs11: EdDSA signature "
				  "of %lu bytes, not 64", len);
	return 0;
}

/*
 * The 32 public key bytes of CKA_EC_POINT: PKCS#11 3.0 gives them as a
 * DER OCTET STRING (04 20 ...); some tokens give them bare.
 */
static int ec_point_raw(const CK_BYTE *v, CK_ULONG n,
			uint8_t raw[ED25519_LEN])
{
	if (n == ED25519_LEN + 2 && v[0] == 0x04 && v[1] == ED25519_LEN) {
		memcpy(raw, v + 2, ED25519_LEN);
		return 0;
	}
	if (n == ED25519_LEN) {
		memcpy(raw, v, ED25519_LEN);
		return 0;
	}
	return BW_EFORMAT;
}

/* The public key object with the private key's label and id. */
static int read_public(struct bw_pkcs11__conn *c,
		       const struct bw_pkcs11__sel *sel,
		       uint8_t raw[ED25519_LEN], struct bw_err *err)
{
	static const CK_OBJECT_CLASS pub = CKO_PUBLIC_KEY;
	static const CK_KEY_TYPE ed = CKK_EC_EDWARDS;
	CK_OBJECT_HANDLE h[2];
	CK_BYTE point[80];
	CK_ATTRIBUTE a = { CKA_EC_POINT, point, sizeof(point) };
	CK_ULONG n = 0;
	char what[300];
	int rc;

	rc = bw_pkcs11__find(c, &pub, &ed, sel->u.object, sel->u.id,
			     sel->u.id_len, h, 2, &n, err);
	if (rc != 0)
		return rc;
	bw_pkcs11__sel_describe(sel, what, sizeof(what));
	if (n != 1)
		return bw_err_set(err, n == 0 ? BW_ENOTFOUND : BW_EEXIST,
				  "pkcs11: %s EdDSA public key object %s",
				  n == 0 ? "no" : "more than one", what);
	if (c->f->C_GetAttributeValue(c->sess, h[0], &a, 1) != CKR_OK ||
	    ec_point_raw(point, a.ulValueLen, raw) != 0)
		return bw_err_set(err, BW_EFORMAT, "pkcs11: unreadable "
				  "CKA_EC_POINT of the public key %s", what);
	return 0;
}

/*
 * The public key must be the private key's: the token signs a fixed
 * message and OpenSSL verifies it with raw.
 */
static int check_pair(struct eddsa_backend *b, EVP_PKEY *pub,
		      struct bw_err *err)
{
	static const uint8_t probe[] = "bulwark: does this public key belong "
				       "to this private key?";
	uint8_t sig[ED25519_SIG_LEN];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc, ok;

	rc = token_sign(b, probe, sizeof(probe), sig, err);
	if (rc != 0) {
		EVP_MD_CTX_free(ctx);
		return rc;
	}
	ok = ctx != NULL &&
	     EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) == 1 &&
	     EVP_DigestVerify(ctx, sig, sizeof(sig), probe,
			      sizeof(probe)) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : bw_err_set(err, BW_ESIG, "pkcs11: the token's public "
				   "key object does not belong to its EdDSA "
				   "private key");
}

static int eddsa_sign(struct bw_signer *s, const uint8_t *msg, size_t msglen,
		      uint8_t **sig, size_t *siglen, struct bw_err *err)
{
	uint8_t *buf;
	int rc;

	if (sig == NULL || siglen == NULL || (msg == NULL && msglen != 0))
		return bw_err_set(err, BW_EINVAL, "sign: NULL argument");
	buf = malloc(ED25519_SIG_LEN);
	if (buf == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = token_sign(s->backend, msg != NULL ? msg : (const uint8_t *)"",
			msglen, buf, err);
	if (rc != 0) {
		free(buf);
		return rc;
	}
	*sig = buf;
	*siglen = ED25519_SIG_LEN;
	return 0;
}

static void backend_free(struct eddsa_backend *b)
{
	if (b == NULL)
		return;
	bw_pkcs11__conn_close(&b->conn);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

static void eddsa_dispose(struct bw_signer *s)
{
	bw_pkcs11__lock();
	backend_free(s->backend);
	bw_pkcs11__unlock();
	s->backend = NULL;
}

static const struct bw_signer_ops eddsa_ops = {
	.name = "pkcs11",
	.sign = eddsa_sign,
	.dispose = eddsa_dispose,
};

/* Lock held: open the session, find the key pair, check it. */
static int backend_open(const struct bw_pkcs11__sel *sel,
			struct eddsa_backend *b, struct bw_key **key,
			struct bw_err *err)
{
	uint8_t raw[ED25519_LEN];
	enum bw_key_type type = 0;
	EVP_PKEY *pub = NULL;
	int rc;

	rc = bw_pkcs11__conn_open(sel, 0, &b->conn, err);
	if (rc == 0)
		rc = bw_pkcs11__find_private(&b->conn, sel, &b->key, err);
	if (rc == 0)
		rc = bw_pkcs11__key_type(&b->conn, b->key, &type, err);
	if (rc == 0 && type != BW_KEY_ED25519)
		rc = bw_err_set(err, BW_EUNSUPPORTED, "pkcs11: not an Ed25519 "
				"key");
	if (rc == 0)
		rc = read_public(&b->conn, sel, raw, err);
	if (rc == 0 && (pub = EVP_PKEY_new_raw_public_key(
				EVP_PKEY_ED25519, NULL, raw, sizeof(raw))) ==
			       NULL)
		rc = bw_err_set(err, BW_EFORMAT, "pkcs11: bad Ed25519 public "
				"key on the token");
	if (rc == 0)
		rc = check_pair(b, pub, err);
	if (rc == 0)
		rc = bw_key_from_pkey(pub, key, err);
	EVP_PKEY_free(pub);
	return rc;
}

int bw_pkcs11__eddsa_open(const struct bw_pkcs11__sel *sel,
			  struct bw_signer **out, struct bw_err *err)
{
	struct eddsa_backend *b = calloc(1, sizeof(*b));
	struct bw_signer *s = calloc(1, sizeof(*s));
	struct bw_key *key = NULL;
	int rc;

	*out = NULL;
	if (b == NULL || s == NULL ||
	    pthread_mutex_init(&b->mu, NULL) != 0) {
		free(b);
		free(s);
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	}
	rc = backend_open(sel, b, &key, err);
	if (rc != 0) {
		backend_free(b);
		free(s);
		return rc;
	}
	s->ops = &eddsa_ops;
	s->key = key;
	s->backend = b; /* transferred */
	*out = s;
	return 0;
}
