/*
 * PKCS#11 signer backend (include/bulwark/pkcs11.h): a private key in a
 * token, used through OpenSSL's "pkcs11" ENGINE (libp11). Ed25519 keys,
 * which libp11 0.4.12 cannot use, go to the direct signer in
 * pkcs11_eddsa.c instead.
 *
 * The ENGINE API is deprecated in OpenSSL 3.0; this file is built with
 * -Wno-deprecated-declarations and nothing outside it touches ENGINE, so
 * moving to a provider later stays a change to this one file.
 *
 * One ENGINE per process: libp11 keeps one module context per ENGINE, and
 * ENGINE_by_id hands every caller the same one. Each signer holds its own
 * functional reference and releases it when freed. libp11 0.4.12 never
 * unloads the module before exit, though: it caches every key it loaded,
 * and each cached key holds a functional reference to the engine
 * (EVP_PKEY_set1_engine), so the count never reaches zero. Consequences:
 * the first module used stays bound for the life of the process
 * (eng_module, never cleared), and the token stays logged in. All of this
 * runs under bw_pkcs11__lock.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "bulwark/crypto.h"
#include "bulwark/pkcs11.h"
#include "crypto/crypto_priv.h"
#include "crypto/pkcs11_priv.h"

struct p11_backend {
	ENGINE *e;
	enum bw_key_type type;
};

static char eng_module[BW_PKCS11_PATH_MAX + 1]; /* "" until first use */

int bw_pkcs11__engine_holds(void *dl)
{
	void *h;
	int same;

	if (eng_module[0] == '\0')
		return 0;
	/* dlopen hands out one handle per loaded object, whatever its path. */
	h = dlopen(eng_module, RTLD_NOW | RTLD_NOLOAD);
	same = h != NULL && h == dl;
	if (h != NULL)
		dlclose(h);
	return same;
}

/* Copy the first queued OpenSSL error into buf, and clear the queue. */
static const char *ossl_reason(char *buf, size_t cap)
{
	unsigned long e = ERR_peek_error();

	if (e == 0)
		snprintf(buf, cap, "no detail");
	else
		ERR_error_string_n(e, buf, cap);
	ERR_clear_error();
	return buf;
}

/* Drop one signer's hold on the engine. Lock held. */
static void engine_release(ENGINE *e)
{
	ENGINE_finish(e);
	ENGINE_free(e);
}

/*
 * The engine must serve only the keys loaded from it. SoftHSM's
 * C_Initialize calls OPENSSL_init_crypto, which runs
 * ENGINE_register_all_complete(): every loaded engine becomes the
 * process-wide EC/RSA/pkey implementation, and from then on every EC
 * public key (a TUF root key, a peer certificate) went through libp11,
 * which can not even check one ("operation not supported for this
 * keytype"). Opt out of that, and undo a registration already made.
 */
static void engine_keep_private(ENGINE *e)
{
	ENGINE_set_flags(e, ENGINE_get_flags(e) | ENGINE_FLAGS_NO_REGISTER_ALL);
	ENGINE_unregister_pkey_meths(e);
	ENGINE_unregister_pkey_asn1_meths(e);
	ENGINE_unregister_EC(e);
	ENGINE_unregister_RSA(e);
	ENGINE_unregister_ciphers(e);
	ENGINE_unregister_digests(e);
	ENGINE_unregister_RAND(e);
}

/* Get a functional reference to the pkcs11 engine bound to module. */
static int engine_acquire(const char *module, const char *pin, ENGINE **out,
			  struct bw_err *err)
{
	char why[256];
	ENGINE *e;

	*out = NULL;
	if (strlen(module) > BW_PKCS11_PATH_MAX)
		return bw_err_set(err, BW_ETOOBIG, "pkcs11: module path too "
				  "long");
	e = ENGINE_by_id("pkcs11");
	if (e == NULL)
		return bw_err_set(err, BW_EUNSUPPORTED, "pkcs11: OpenSSL "
				  "engine 'pkcs11' not available (install "
				  "libengine-pkcs11-openssl): %s",
				  ossl_reason(why, sizeof(why)));
	/* The PIN is copied by the engine, which wipes it when finished. */
	if ((eng_module[0] == '\0' &&
	     !ENGINE_ctrl_cmd_string(e, "MODULE_PATH", module, 0)) ||
	    !ENGINE_ctrl_cmd_string(e, "PIN", pin, 0) || !ENGINE_init(e)) {
		ENGINE_free(e);
		return bw_err_set(err, BW_ECRYPTO, "pkcs11: cannot set up "
				  "engine: %s", ossl_reason(why, sizeof(why)));
	}
	memcpy(eng_module, module, strlen(module) + 1);
	engine_keep_private(e);
	*out = e;
	return 0;
}

/* Load the one private key sel names (preflight checked it exists). */
static int engine_load_key(ENGINE *e, const struct bw_pkcs11__sel *sel,
			   EVP_PKEY **out, struct bw_err *err)
{
	struct bw_pkcs11_opts o;
	char why[256];
	char *uri = NULL;
	int rc;

	memset(&o, 0, sizeof(o));
	o.token_label = sel->u.token;
	o.object_label = sel->u.object[0] ? sel->u.object : NULL;
	o.id_hex = sel->u.id_hex[0] ? sel->u.id_hex : NULL;
	rc = bw_pkcs11_uri_build(&o, "private", &uri, err);
	if (rc != 0)
		return rc;
	*out = ENGINE_load_private_key(e, uri, NULL, NULL);
	/* Loading may initialise the module again (see engine_keep_private). */
	engine_keep_private(e);
	if (*out == NULL)
		rc = bw_err_set(err, BW_ECRYPTO, "pkcs11: engine cannot load "
				"%s: %s", uri, ossl_reason(why, sizeof(why)));
	free(uri);
	return rc;
}

/*
 * The engine key carries the public part; copy it into a plain OpenSSL key
 * so the TUF key does not depend on the engine.
 */
static int public_key(EVP_PKEY *pkey, struct bw_key **out, struct bw_err *err)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pub = NULL;
	int len, rc;

	len = i2d_PUBKEY(pkey, &der);
	if (len <= 0)
		return bw_err_set(err, BW_ECRYPTO, "pkcs11: token key has no "
				  "public part");
	p = der;
	pub = d2i_PUBKEY(NULL, &p, len);
	if (pub == NULL)
		rc = bw_err_set(err, BW_ECRYPTO, "pkcs11: cannot decode the "
				"token key's public part");
	else
		rc = bw_key_from_pkey(pub, out, err);
	EVP_PKEY_free(pub);
	OPENSSL_free(der);
	return rc;
}

/* The TUF scheme's signature, made inside the token through the engine. */
static int p11_sign(struct bw_signer *s, const uint8_t *msg, size_t msglen,
		    uint8_t **sig, size_t *siglen, struct bw_err *err)
{
	const struct p11_backend *b = s->backend;
	char why[256];
	int rc;

	rc = bw_crypto__pkey_sign(s->pkey, b->type, msg, msglen, sig, siglen,
				  err);
	if (rc == BW_ECRYPTO)
		bw_err_set(err, rc, "pkcs11: token signature failed: %s",
			   ossl_reason(why, sizeof(why)));
	return rc;
}

static void p11_dispose(struct bw_signer *s)
{
	struct p11_backend *b = s->backend;

	/* The engine key must go before the engine unloads the module. */
	EVP_PKEY_free(s->pkey);
	s->pkey = NULL;
	if (b == NULL)
		return;
	bw_pkcs11__lock();
	engine_release(b->e);
	bw_pkcs11__unlock();
	free(b);
	s->backend = NULL;
}

static const struct bw_signer_ops p11_ops = {
	.name = "pkcs11",
	.sign = p11_sign,
	.dispose = p11_dispose,
};

static int pkey_matches(EVP_PKEY *pkey, enum bw_key_type type,
			struct bw_err *err)
{
	int id = EVP_PKEY_get_base_id(pkey);

	if ((type == BW_KEY_ECDSA_P256 && id == EVP_PKEY_EC) ||
	    (type == BW_KEY_RSA && id == EVP_PKEY_RSA))
		return 0;
	return bw_err_set(err, BW_ECRYPTO, "pkcs11: engine loaded a key of "
			  "another type than the token reports");
}

/* Under the lock, the key checked: take the engine, load the key. */
static int open_locked(const struct bw_pkcs11__sel *sel,
		       struct p11_backend *b, EVP_PKEY **pkey,
		       struct bw_err *err)
{
	int rc = 0;

	if (eng_module[0] != '\0' && strcmp(eng_module, sel->module) != 0)
		rc = bw_err_set(err, BW_ESTATE, "pkcs11: engine already "
				"bound to module %s in this process",
				eng_module);
	if (rc == 0)
		rc = engine_acquire(sel->module, sel->pin, &b->e, err);
	if (rc == 0)
		rc = engine_load_key(b->e, sel, pkey, err);
	if (rc == 0)
		rc = pkey_matches(*pkey, b->type, err);
	if (rc != 0) {
		EVP_PKEY_free(*pkey);
		*pkey = NULL;
		if (b->e != NULL)
			engine_release(b->e);
		b->e = NULL;
	}
	return rc;
}

int bw_pkcs11_signer_open(const struct bw_pkcs11_opts *opts,
			  struct bw_signer **out, struct bw_err *err)
{
	struct bw_pkcs11__sel sel;
	struct p11_backend *b = NULL;
	struct bw_signer *s = NULL;
	EVP_PKEY *pkey = NULL;
	int rc;

	if (out == NULL)
		return bw_err_set(err, BW_EINVAL, "pkcs11: no output");
	*out = NULL;
	rc = bw_pkcs11__sel_resolve(opts, 1, &sel, err);
	if (rc != 0)
		goto out;
	if (sel.u.type[0] != '\0' && strcmp(sel.u.type, "private") != 0) {
		rc = bw_err_set(err, BW_EINVAL, "pkcs11 URI: a signer needs "
				"type=private, not %s", sel.u.type);
		goto out;
	}
	s = calloc(1, sizeof(*s));
	b = calloc(1, sizeof(*b));
	if (s == NULL || b == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	bw_pkcs11__lock();
	rc = bw_pkcs11__preflight(&sel, &b->type, err);
	if (rc == 0 && b->type == BW_KEY_ED25519 && !opts->allow_eddsa)
		rc = bw_err_set(err, BW_EUNSUPPORTED, "pkcs11: this is an "
				"Ed25519 key; it signs transparency-log "
				"checkpoints only (the pkcs11 engine, libp11 "
				"0.4.12, cannot use ed25519 keys): use an "
				"ECDSA P-256 or RSA key here");
	else if (rc == 0 && b->type == BW_KEY_ED25519)
		rc = bw_pkcs11__eddsa_open(&sel, out, err);
	else if (rc == 0)
		rc = open_locked(&sel, b, &pkey, err);
	bw_pkcs11__unlock();
	if (rc != 0 || b->type == BW_KEY_ED25519)
		goto out;
	s->ops = &p11_ops;
	s->pkey = pkey;
	s->backend = b;
	pkey = NULL; /* transferred */
	b = NULL;    /* transferred */
	rc = public_key(s->pkey, &s->key, err);
	if (rc != 0)
		goto out;
	*out = s;
	s = NULL; /* transferred */
out:
	if (s != NULL) {
		p11_dispose(s);
		bw_key_free(s->key);
		free(s);
	}
	free(b);
	bw_pkcs11__sel_dispose(&sel);
	return rc;
}
