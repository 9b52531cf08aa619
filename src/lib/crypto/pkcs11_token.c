/*
 * Direct PKCS#11 module calls for the PKCS#11 backend: key generation
 * inside the token, key deletion, attribute audits, the checks
 * bw_pkcs11_signer_open makes before it hands the key to the ENGINE (the
 * engine only says "object not found" for a wrong PIN, a missing key, an
 * ambiguous selection or an EdDSA key alike), and the sessions of the
 * direct EdDSA signer (pkcs11_eddsa.c).
 *
 * The module is dlopen'ed and driven through C_GetFunctionList. Every
 * connection counts as a user of its module (mods[], under the lock): the
 * module is finalised when the last user that needed it initialised goes,
 * and never while the ENGINE holds it, because a long-lived EdDSA signer
 * and the ENGINE may share one module with short-lived checks.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "bulwark/pkcs11.h"
#include "crypto/pkcs11_ck.h"
#include "crypto/pkcs11_priv.h"

/* DER of OID 1.2.840.10045.3.1.7 (prime256v1), the CKA_EC_PARAMS value. */
static const CK_BYTE p256_oid[] = { 0x06, 0x08, 0x2a, 0x86, 0x48,
				    0xce, 0x3d, 0x03, 0x01, 0x07 };
/* Ed25519's CKA_EC_PARAMS (PKCS#11 3.0, 2.3.10): the OID 1.3.101.112
 * (RFC 8410) or the PrintableString "edwards25519" (what OpenSC's
 * pkcs11-tool writes); tokens accept either. */
static const CK_BYTE ed25519_oid[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
static const CK_BYTE ed25519_name[] = { 0x13, 0x0c, 'e', 'd', 'w', 'a', 'r',
					'd', 's', '2', '5', '5', '1', '9' };

#define P11_MAX_SLOTS 1024
#define P11_MAX_DELETE 64
#define P11_MAX_DELETE_ROUNDS 16
#define P11_MAX_MODULES 8

/* Serialises C_Initialize/C_Finalize, mods[] and the ENGINE set-up
 * (pkcs11.c). */
static pthread_mutex_t p11_mutex = PTHREAD_MUTEX_INITIALIZER;

void bw_pkcs11__lock(void)
{
	pthread_mutex_lock(&p11_mutex);
}

void bw_pkcs11__unlock(void)
{
	pthread_mutex_unlock(&p11_mutex);
}

/* Modules with open connections, by dlopen handle (one per loaded object,
 * whatever path named it). */
static struct {
	void *dl;
	int users;
	int initialised_by_us;
} mods[P11_MAX_MODULES];

static int mod_attach(void *dl, CK_FUNCTION_LIST *f, struct bw_err *err)
{
	CK_C_INITIALIZE_ARGS args;
	int free_slot = -1;
	CK_RV rv;

	for (int i = 0; i < P11_MAX_MODULES; i++) {
		if (mods[i].users > 0 && mods[i].dl == dl) {
			mods[i].users++;
			return 0;
		}
		if (mods[i].users == 0 && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		return bw_err_set(err, BW_ETOOBIG, "pkcs11: more than %d "
				  "modules in use", P11_MAX_MODULES);
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = f->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
		return bw_err_set(err, BW_ECRYPTO, "pkcs11: C_Initialize "
				  "failed (0x%lx)", rv);
	mods[free_slot].dl = dl;
	mods[free_slot].users = 1;
	/* Already initialised: the ENGINE holds it and keeps it. */
	mods[free_slot].initialised_by_us = rv == CKR_OK;
	return 0;
}

static void mod_detach(void *dl, CK_FUNCTION_LIST *f)
{
	for (int i = 0; i < P11_MAX_MODULES; i++) {
		if (mods[i].users == 0 || mods[i].dl != dl)
			continue;
		if (--mods[i].users == 0 && mods[i].initialised_by_us &&
		    !bw_pkcs11__engine_holds(dl))
			f->C_Finalize(NULL);
		return;
	}
}

static int p11_load(const char *module, struct bw_pkcs11__conn *p,
		    struct bw_err *err)
{
	CK_C_GetFunctionList getfl;
	int rc;

	memset(p, 0, sizeof(*p));
	p->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	if (p->dl == NULL)
		return bw_err_set(err, BW_ENOTFOUND,
				  "pkcs11: cannot load module %s: %s", module,
				  dlerror());
	/* POSIX allows the object-to-function pointer conversion here. */
	*(void **)&getfl = dlsym(p->dl, "C_GetFunctionList");
	if (getfl == NULL || getfl(&p->f) != CKR_OK || p->f == NULL)
		return bw_err_set(err, BW_ECRYPTO, "pkcs11: %s is not a "
				  "PKCS#11 module", module);
	rc = mod_attach(p->dl, p->f, err);
	if (rc == 0)
		p->attached = 1;
	return rc;
}

void bw_pkcs11__conn_close(struct bw_pkcs11__conn *p)
{
	if (p->have_sess && p->f != NULL)
		p->f->C_CloseSession(p->sess);
	if (p->attached)
		mod_detach(p->dl, p->f);
	if (p->dl != NULL)
		dlclose(p->dl);
	memset(p, 0, sizeof(*p));
}

/* CK_TOKEN_INFO.label is blank-padded, not NUL-terminated. */
static int label_matches(const CK_BYTE label[32], const char *want)
{
	size_t n = strlen(want);

	if (n > 32 || memcmp(label, want, n) != 0)
		return 0;
	for (size_t i = n; i < 32; i++)
		if (label[i] != ' ')
			return 0;
	return 1;
}

static int p11_find_slot(struct bw_pkcs11__conn *p, const char *token, CK_SLOT_ID *slot,
			 struct bw_err *err)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0;
	CK_TOKEN_INFO ti;
	int found = 0;
	int rc = BW_ECRYPTO;

	if (p->f->C_GetSlotList(CK_TRUE, NULL, &n) != CKR_OK ||
	    n > P11_MAX_SLOTS) {
		bw_err_set(err, rc, "pkcs11: cannot list slots");
		goto out;
	}
	slots = calloc(n ? n : 1, sizeof(*slots));
	if (slots == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	if (p->f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK) {
		bw_err_set(err, rc, "pkcs11: cannot list slots");
		goto out;
	}
	for (CK_ULONG i = 0; i < n; i++) {
		if (p->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK ||
		    !(ti.flags & CKF_TOKEN_INITIALIZED) ||
		    !label_matches(ti.label, token))
			continue;
		if (found++ == 0)
			*slot = slots[i];
	}
	if (found == 0)
		rc = bw_err_set(err, BW_ENOTFOUND, "pkcs11: no token "
				"labelled '%s'", token);
	else if (found > 1)
		rc = bw_err_set(err, BW_EEXIST, "pkcs11: %d tokens labelled "
				"'%s'", found, token);
	else
		rc = 0;
out:
	free(slots);
	return rc;
}

static int p11_login(struct bw_pkcs11__conn *p, const char *token, const char *pin,
		     struct bw_err *err)
{
	CK_RV rv;

	if (pin == NULL)
		return bw_err_set(err, BW_EINVAL, "pkcs11: token '%s' needs "
				  "a PIN (PIN file or environment variable)",
				  token);
	rv = p->f->C_Login(p->sess, CKU_USER, (CK_BYTE *)pin, strlen(pin));
	switch (rv) {
	case CKR_OK:
	case CKR_USER_ALREADY_LOGGED_IN:
		return 0;
	case CKR_PIN_INCORRECT:
	case CKR_PIN_INVALID:
	case CKR_PIN_LEN_RANGE:
		return bw_err_set(err, BW_EINVAL, "pkcs11: wrong PIN for "
				  "token '%s'", token);
	case CKR_PIN_LOCKED:
	case CKR_PIN_EXPIRED:
		return bw_err_set(err, BW_ESTATE, "pkcs11: PIN of token '%s' "
				  "is locked or expired", token);
	default:
		return bw_err_set(err, BW_ECRYPTO, "pkcs11: C_Login on token "
				  "'%s' failed (0x%lx)", token, rv);
	}
}

/* Load the module, open a session on sel's token and log in. */
int bw_pkcs11__conn_open(const struct bw_pkcs11__sel *sel, int rw,
			 struct bw_pkcs11__conn *p, struct bw_err *err)
{
	CK_SLOT_ID slot = 0;
	CK_RV rv;
	int rc;

	rc = p11_load(sel->module, p, err);
	if (rc == 0)
		rc = p11_find_slot(p, sel->u.token, &slot, err);
	if (rc != 0)
		return rc;
	rv = p->f->C_OpenSession(slot, CKF_SERIAL_SESSION |
				 (rw ? CKF_RW_SESSION : 0), NULL, NULL,
				 &p->sess);
	if (rv != CKR_OK)
		return bw_err_set(err, BW_ECRYPTO, "pkcs11: C_OpenSession "
				  "failed (0x%lx)", rv);
	p->have_sess = 1;
	return p11_login(p, sel->u.token, sel->pin, err);
}

/*
 * Find up to max objects of class cls (NULL: any) with the given label
 * and/or id (NULL / 0: not a criterion). *n receives how many were found.
 */
int bw_pkcs11__find(struct bw_pkcs11__conn *p, const CK_OBJECT_CLASS *cls,
		    const CK_KEY_TYPE *ktype, const char *label,
		    const uint8_t *id, size_t id_len, CK_OBJECT_HANDLE *h,
		    CK_ULONG max, CK_ULONG *n, struct bw_err *err)
{
	CK_ATTRIBUTE t[4];
	CK_ULONG nt = 0;
	CK_RV rv;

	*n = 0;
	if (cls != NULL)
		t[nt++] = (CK_ATTRIBUTE){ CKA_CLASS, (void *)cls,
					  sizeof(*cls) };
	if (ktype != NULL)
		t[nt++] = (CK_ATTRIBUTE){ CKA_KEY_TYPE, (void *)ktype,
					  sizeof(*ktype) };
	if (label != NULL && label[0] != '\0')
		t[nt++] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)label,
					  strlen(label) };
	if (id != NULL && id_len > 0)
		t[nt++] = (CK_ATTRIBUTE){ CKA_ID, (void *)id, id_len };
	rv = p->f->C_FindObjectsInit(p->sess, t, nt);
	if (rv != CKR_OK)
		return bw_err_set(err, BW_ECRYPTO, "pkcs11: C_FindObjectsInit "
				  "failed (0x%lx)", rv);
	rv = p->f->C_FindObjects(p->sess, h, max, n);
	p->f->C_FindObjectsFinal(p->sess);
	if (rv != CKR_OK)
		return bw_err_set(err, BW_ECRYPTO, "pkcs11: C_FindObjects "
				  "failed (0x%lx)", rv);
	return 0;
}

void bw_pkcs11__sel_describe(const struct bw_pkcs11__sel *sel, char *buf,
			     size_t cap)
{
	int n = snprintf(buf, cap, "object='%s' id=%s on token '%s'",
			 sel->u.object[0] ? sel->u.object : "(any)",
			 sel->u.id_hex[0] ? sel->u.id_hex : "(any)",
			 sel->u.token);

	/* A description cut short is still a useful message. */
	if (n < 0 && cap > 0)
		buf[0] = '\0';
}

/* The one private key sel names (ENOTFOUND / EEXIST otherwise). */
static int p11_one_private(struct bw_pkcs11__conn *p, const struct bw_pkcs11__sel *sel,
			   const char *label, const uint8_t *id,
			   size_t id_len, CK_OBJECT_HANDLE *h,
			   struct bw_err *err)
{
	static const CK_OBJECT_CLASS priv = CKO_PRIVATE_KEY;
	CK_OBJECT_HANDLE hs[2];
	CK_ULONG n = 0;
	char what[300];
	int rc;

	rc = bw_pkcs11__find(p, &priv, NULL, label, id, id_len, hs, 2, &n, err);
	if (rc != 0)
		return rc;
	bw_pkcs11__sel_describe(sel, what, sizeof(what));
	if (n == 0)
		return bw_err_set(err, BW_ENOTFOUND, "pkcs11: no private key "
				  "%s", what);
	if (n > 1)
		return bw_err_set(err, BW_EEXIST, "pkcs11: more than one "
				  "private key matches %s", what);
	*h = hs[0];
	return 0;
}

/*
 * Exactly one private key matches; and if both a label and an id are
 * given, each alone matches only that key too, because libp11 selects by
 * one of them and must not be able to pick a different key.
 */
int bw_pkcs11__find_private(struct bw_pkcs11__conn *p,
			    const struct bw_pkcs11__sel *sel,
			    CK_OBJECT_HANDLE *h, struct bw_err *err)
{
	CK_OBJECT_HANDLE other;
	int rc;

	rc = p11_one_private(p, sel, sel->u.object, sel->u.id, sel->u.id_len,
			     h, err);
	if (rc != 0 || sel->u.object[0] == '\0' || sel->u.id_len == 0)
		return rc;
	rc = p11_one_private(p, sel, sel->u.object, NULL, 0, &other, err);
	if (rc == 0)
		rc = p11_one_private(p, sel, NULL, sel->u.id, sel->u.id_len,
				     &other, err);
	return rc;
}

static int params_are(const CK_ATTRIBUTE *a, const CK_BYTE *want, size_t n)
{
	return a->ulValueLen == n && memcmp(a->pValue, want, n) == 0;
}

int bw_pkcs11__key_type(struct bw_pkcs11__conn *p, CK_OBJECT_HANDLE h,
			enum bw_key_type *type, struct bw_err *err)
{
	CK_KEY_TYPE kt = 0;
	CK_BYTE params[64];
	CK_ATTRIBUTE a = { CKA_KEY_TYPE, &kt, sizeof(kt) };
	CK_ATTRIBUTE ap = { CKA_EC_PARAMS, params, sizeof(params) };

	if (p->f->C_GetAttributeValue(p->sess, h, &a, 1) != CKR_OK)
		return bw_err_set(err, BW_ECRYPTO, "pkcs11: cannot read key "
				  "type");
	if (kt == CKK_RSA) {
		*type = BW_KEY_RSA;
		return 0;
	}
	if (kt != CKK_EC && kt != CKK_EC_EDWARDS)
		return bw_err_set(err, BW_EUNSUPPORTED, "pkcs11: key type "
				  "0x%lx not supported", kt);
	if (p->f->C_GetAttributeValue(p->sess, h, &ap, 1) != CKR_OK)
		ap.ulValueLen = 0;
	if (kt == CKK_EC_EDWARDS) {
		if (!params_are(&ap, ed25519_oid, sizeof(ed25519_oid)) &&
		    !params_are(&ap, ed25519_name, sizeof(ed25519_name)))
			return bw_err_set(err, BW_EUNSUPPORTED, "pkcs11: EdDSA "
					  "key is not on edwards25519 (Ed448 "
					  "is not supported)");
		*type = BW_KEY_ED25519;
		return 0;
	}
	if (!params_are(&ap, p256_oid, sizeof(p256_oid)))
		return bw_err_set(err, BW_EUNSUPPORTED, "pkcs11: EC key is "
				  "not on P-256 (prime256v1)");
	*type = BW_KEY_ECDSA_P256;
	return 0;
}

/* libp11 0.4.12 lists no private key at all on a token with an EdDSA key. */
static int p11_no_eddsa(struct bw_pkcs11__conn *p, const char *token, struct bw_err *err)
{
	static const CK_OBJECT_CLASS priv = CKO_PRIVATE_KEY;
	static const CK_KEY_TYPE ed = CKK_EC_EDWARDS;
	CK_OBJECT_HANDLE h;
	CK_ULONG n = 0;
	int rc;

	rc = bw_pkcs11__find(p, &priv, &ed, NULL, NULL, 0, &h, 1, &n, err);
	if (rc == 0 && n > 0)
		rc = bw_err_set(err, BW_EUNSUPPORTED, "pkcs11: token '%s' "
				"holds an EdDSA key; the pkcs11 engine "
				"(libp11 0.4.12) cannot list any key on such "
				"a token. Keep Ed25519 keys (the transparency "
				"log key) on a token of their own",
				token);
	return rc;
}

int bw_pkcs11__preflight(const struct bw_pkcs11__sel *sel,
			 enum bw_key_type *type, struct bw_err *err)
{
	struct bw_pkcs11__conn p;
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	int rc;

	memset(&p, 0, sizeof(p));
	/* Called with the lock held by bw_pkcs11_signer_open. */
	rc = bw_pkcs11__conn_open(sel, 0, &p, err);
	if (rc == 0)
		rc = bw_pkcs11__find_private(&p, sel, &h, err);
	if (rc == 0)
		rc = bw_pkcs11__key_type(&p, h, type, err);
	/* Ed25519 keys are used directly (pkcs11_eddsa.c), the others
	 * through the ENGINE. */
	if (rc == 0 && *type != BW_KEY_ED25519)
		rc = p11_no_eddsa(&p, sel->u.token, err);
	bw_pkcs11__conn_close(&p);
	return rc;
}

/* ---- key generation --------------------------------------------------- */

static int keygen_check_free(struct bw_pkcs11__conn *p, const char *label,
			     const uint8_t *id, size_t id_len,
			     const char *token, struct bw_err *err)
{
	CK_OBJECT_HANDLE h;
	CK_ULONG n = 0;
	int rc;

	rc = bw_pkcs11__find(p, NULL, NULL, label, NULL, 0, &h, 1, &n, err);
	if (rc == 0 && n > 0)
		return bw_err_set(err, BW_EEXIST, "pkcs11: token '%s' already "
				  "holds an object labelled '%s'", token,
				  label);
	if (rc == 0)
		rc = bw_pkcs11__find(p, NULL, NULL, NULL, id, id_len, &h, 1, &n, err);
	if (rc == 0 && n > 0)
		return bw_err_set(err, BW_EEXIST, "pkcs11: token '%s' already "
				  "holds an object with that id", token);
	return rc;
}

/* What the public key template carries for each key type. */
struct keygen_kind {
	CK_MECHANISM_TYPE mech;
	CK_ATTRIBUTE attrs[2];
	CK_ULONG nattrs;
	CK_ULONG bits;
	CK_BYTE exponent[3];
};

static int keygen_kind(enum bw_key_type type, unsigned bits,
		       struct keygen_kind *k, struct bw_err *err)
{
	memset(k, 0, sizeof(*k));
	switch (type) {
	case BW_KEY_ECDSA_P256:
		k->mech = CKM_EC_KEY_PAIR_GEN;
		k->attrs[0] = (CK_ATTRIBUTE){ CKA_EC_PARAMS, (void *)p256_oid,
					      sizeof(p256_oid) };
		k->nattrs = 1;
		return 0;
	case BW_KEY_ED25519:
		k->mech = CKM_EC_EDWARDS_KEY_PAIR_GEN;
		k->attrs[0] = (CK_ATTRIBUTE){ CKA_EC_PARAMS,
					      (void *)ed25519_oid,
					      sizeof(ed25519_oid) };
		k->nattrs = 1;
		return 0;
	case BW_KEY_RSA:
		if (bits != 2048 && bits != 3072 && bits != 4096)
			return bw_err_set(err, BW_EINVAL, "pkcs11 keygen: RSA "
					  "keys are 2048, 3072 or 4096 bits");
		k->mech = CKM_RSA_PKCS_KEY_PAIR_GEN;
		k->bits = bits;
		memcpy(k->exponent, "\x01\x00\x01", 3); /* 65537 */
		k->attrs[0] = (CK_ATTRIBUTE){ CKA_MODULUS_BITS, &k->bits,
					      sizeof(k->bits) };
		k->attrs[1] = (CK_ATTRIBUTE){ CKA_PUBLIC_EXPONENT, k->exponent,
					      sizeof(k->exponent) };
		k->nattrs = 2;
		return 0;
	}
	return bw_err_set(err, BW_EUNSUPPORTED, "pkcs11 keygen: unknown key "
			  "type %d", (int)type);
}

static int keygen_pair(struct bw_pkcs11__conn *p, const struct keygen_kind *k,
		       const char *label, const uint8_t *id, size_t id_len,
		       struct bw_err *err)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_MECHANISM mech = { k->mech, NULL, 0 };
	CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE;
	CK_ATTRIBUTE pubt[9] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_VERIFY, &yes, sizeof(yes) },
		{ CKA_ENCRYPT, &no, sizeof(no) },
		{ CKA_WRAP, &no, sizeof(no) },
		{ CKA_DERIVE, &no, sizeof(no) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_ID, (void *)id, id_len },
	};
	CK_ATTRIBUTE privt[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_SIGN, &yes, sizeof(yes) },
		{ CKA_DECRYPT, &no, sizeof(no) },
		{ CKA_UNWRAP, &no, sizeof(no) },
		{ CKA_DERIVE, &no, sizeof(no) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_ID, (void *)id, id_len },
	};
	CK_ULONG npub = 7;
	CK_RV rv;

	for (CK_ULONG i = 0; i < k->nattrs; i++)
		pubt[npub++] = k->attrs[i];
	rv = p->f->C_GenerateKeyPair(p->sess, &mech, pubt, npub, privt,
				     sizeof(privt) / sizeof(privt[0]), &pub,
				     &priv);
	if (rv == CKR_MECHANISM_INVALID)
		return bw_err_set(err, BW_EUNSUPPORTED, "pkcs11: the token "
				  "cannot generate this key type (mechanism "
				  "0x%lx)", k->mech);
	if (rv != CKR_OK)
		return bw_err_set(err, BW_ECRYPTO, "pkcs11: C_GenerateKeyPair "
				  "failed (0x%lx)", rv);
	return 0;
}

int bw_pkcs11_keygen(const struct bw_pkcs11_opts *opts, enum bw_key_type type,
		     const char *label, const uint8_t *id, size_t id_len,
		     struct bw_err *err)
{
	return bw_pkcs11_keygen_sized(opts, type, 0, label, id, id_len, err);
}

int bw_pkcs11_keygen_sized(const struct bw_pkcs11_opts *opts,
			   enum bw_key_type type, unsigned bits,
			   const char *label, const uint8_t *id,
			   size_t id_len, struct bw_err *err)
{
	struct bw_pkcs11_opts o;
	struct bw_pkcs11__sel sel;
	struct bw_pkcs11__conn p;
	struct keygen_kind kind;
	size_t llen;
	int rc;

	memset(&p, 0, sizeof(p));
	memset(&sel, 0, sizeof(sel));
	if (opts == NULL || label == NULL || id == NULL)
		return bw_err_set(err, BW_EINVAL, "pkcs11 keygen: need "
				  "options, a label and an id");
	rc = keygen_kind(type, bits, &kind, err);
	if (rc != 0)
		return rc;
	llen = strnlen(label, BW_PKCS11_LABEL_MAX + 1);
	if (llen == 0 || llen > BW_PKCS11_LABEL_MAX || id_len == 0 ||
	    id_len > BW_PKCS11_ID_MAX)
		return bw_err_set(err, BW_EINVAL, "pkcs11 keygen: label 1..%d "
				  "bytes and id 1..%d bytes required",
				  BW_PKCS11_LABEL_MAX, BW_PKCS11_ID_MAX);
	/* Only the token and module are used from opts. */
	o = *opts;
	o.object_label = NULL;
	o.id_hex = NULL;
	bw_pkcs11__lock();
	rc = bw_pkcs11__sel_resolve(&o, 0, &sel, err);
	if (rc == 0)
		rc = bw_pkcs11__conn_open(&sel, 1, &p, err);
	if (rc == 0)
		rc = keygen_check_free(&p, label, id, id_len, sel.u.token,
				       err);
	if (rc == 0)
		rc = keygen_pair(&p, &kind, label, id, id_len, err);
	bw_pkcs11__conn_close(&p);
	bw_pkcs11__unlock();
	bw_pkcs11__sel_dispose(&sel);
	return rc;
}

/* ---- certificates -------------------------------------------------------- */

/* DER of the parts a CKO_CERTIFICATE carries (OPENSSL_free each). */
struct cert_der {
	unsigned char *cert, *subject, *issuer, *serial;
	int ncert, nsubject, nissuer, nserial;
};

static void cert_der_free(struct cert_der *d)
{
	OPENSSL_free(d->cert);
	OPENSSL_free(d->subject);
	OPENSSL_free(d->issuer);
	OPENSSL_free(d->serial);
}

static int cert_der(X509 *x, struct cert_der *d)
{
	d->ncert = i2d_X509(x, &d->cert);
	d->nsubject = i2d_X509_NAME(X509_get_subject_name(x), &d->subject);
	d->nissuer = i2d_X509_NAME(X509_get_issuer_name(x), &d->issuer);
	d->nserial = i2d_ASN1_INTEGER(X509_get_serialNumber(x), &d->serial);
	return d->ncert > 0 && d->nsubject > 0 && d->nissuer > 0 &&
	       d->nserial > 0 ? 0 : BW_ECRYPTO;
}

typedef CK_RV (*create_object_fn)(CK_SESSION_HANDLE, CK_ATTRIBUTE *, CK_ULONG,
				  CK_OBJECT_HANDLE *);

static int create_cert(struct bw_pkcs11__conn *p, const struct cert_der *d,
		       const char *label, const uint8_t *id, size_t id_len,
		       struct bw_err *err)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_ULONG ctype = CKC_X_509;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_CERTIFICATE_TYPE, &ctype, sizeof(ctype)},
		{CKA_TOKEN, &yes, sizeof(yes)},
		{CKA_PRIVATE, &no, sizeof(no)},
		{CKA_LABEL, (void *)label, strlen(label)},
		{CKA_ID, (void *)id, id_len},
		{CKA_SUBJECT, d->subject, (CK_ULONG)d->nsubject},
		{CKA_ISSUER, d->issuer, (CK_ULONG)d->nissuer},
		{CKA_SERIAL_NUMBER, d->serial, (CK_ULONG)d->nserial},
		{CKA_VALUE, d->cert, (CK_ULONG)d->ncert},
	};
	/* pkcs11_ck.h leaves C_CreateObject untyped; void (*)(void) is the
	 * generic function pointer the cast goes through. */
	create_object_fn create =
		(create_object_fn)(void (*)(void))p->f->C_CreateObject;
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	CK_RV rv = create(p->sess, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &h);

	return rv == CKR_OK ? 0 : bw_err_set(err, BW_ECRYPTO, "pkcs11: storing "
					     "the certificate: 0x%lx", rv);
}

int bw_pkcs11_store_cert(const struct bw_pkcs11_opts *opts, const char *label,
			 const uint8_t *id, size_t id_len, X509 *cert,
			 struct bw_err *err)
{
	struct bw_pkcs11_opts o;
	struct bw_pkcs11__sel sel;
	struct cert_der d;
	struct bw_pkcs11__conn p;
	int rc;

	memset(&p, 0, sizeof(p));
	memset(&sel, 0, sizeof(sel));
	memset(&d, 0, sizeof(d));
	if (opts == NULL || label == NULL || id == NULL || cert == NULL ||
	    id_len == 0 || id_len > BW_PKCS11_ID_MAX ||
	    strnlen(label, BW_PKCS11_LABEL_MAX + 1) > BW_PKCS11_LABEL_MAX)
		return bw_err_set(err, BW_EINVAL, "pkcs11: a certificate, a "
				  "label and an id are required");
	if (cert_der(cert, &d) != 0) {
		cert_der_free(&d);
		return bw_err_set(err, BW_EFORMAT, "certificate does not encode");
	}
	o = *opts;
	o.object_label = NULL;
	o.id_hex = NULL;
	bw_pkcs11__lock();
	rc = bw_pkcs11__sel_resolve(&o, 0, &sel, err);
	if (rc == 0)
		rc = bw_pkcs11__conn_open(&sel, 1, &p, err);
	if (rc == 0)
		rc = create_cert(&p, &d, label, id, id_len, err);
	bw_pkcs11__conn_close(&p);
	bw_pkcs11__unlock();
	bw_pkcs11__sel_dispose(&sel);
	cert_der_free(&d);
	return rc;
}

/* ---- deletion and audit ----------------------------------------------- */

/* Objects are found in batches: a search may not run across destroys. */
static int delete_matching(struct bw_pkcs11__conn *p, const struct bw_pkcs11__sel *sel,
			   size_t *ndeleted, struct bw_err *err)
{
	CK_OBJECT_HANDLE h[P11_MAX_DELETE];
	CK_ULONG n = 0;
	char what[300];
	CK_RV rv;
	int rc;

	bw_pkcs11__sel_describe(sel, what, sizeof(what));
	for (int round = 0; round < P11_MAX_DELETE_ROUNDS; round++) {
		rc = bw_pkcs11__find(p, NULL, NULL, sel->u.object, sel->u.id,
			      sel->u.id_len, h, P11_MAX_DELETE, &n, err);
		if (rc != 0)
			return rc;
		if (n == 0 && *ndeleted == 0)
			return bw_err_set(err, BW_ENOTFOUND, "pkcs11: no "
					  "object %s", what);
		if (n == 0)
			return 0;
		for (CK_ULONG i = 0; i < n; i++) {
			rv = p->f->C_DestroyObject(p->sess, h[i]);
			if (rv != CKR_OK)
				return bw_err_set(err, BW_ECRYPTO, "pkcs11: "
						  "C_DestroyObject failed "
						  "(0x%lx) after %zu objects",
						  rv, *ndeleted);
			(*ndeleted)++;
		}
	}
	return bw_err_set(err, BW_ETOOBIG, "pkcs11: more than %d objects "
			  "match %s; deleted %zu", P11_MAX_DELETE *
			  P11_MAX_DELETE_ROUNDS, what, *ndeleted);
}

int bw_pkcs11_delete_key(const struct bw_pkcs11_opts *opts, size_t *ndeleted,
			 struct bw_err *err)
{
	struct bw_pkcs11__sel sel;
	struct bw_pkcs11__conn p;
	size_t count = 0;
	int rc;

	memset(&p, 0, sizeof(p));
	bw_pkcs11__lock();
	rc = bw_pkcs11__sel_resolve(opts, 1, &sel, err);
	if (rc == 0)
		rc = bw_pkcs11__conn_open(&sel, 1, &p, err);
	if (rc == 0)
		rc = delete_matching(&p, &sel, &count, err);
	bw_pkcs11__conn_close(&p);
	bw_pkcs11__unlock();
	bw_pkcs11__sel_dispose(&sel);
	if (ndeleted != NULL)
		*ndeleted = count;
	return rc;
}

int bw_pkcs11_key_flags(const struct bw_pkcs11_opts *opts,
			struct bw_pkcs11_key_flags *out, struct bw_err *err)
{
	struct bw_pkcs11__sel sel;
	struct bw_pkcs11__conn p;
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	CK_BBOOL v[4] = { 0, 0, 0, 0 };
	CK_ATTRIBUTE a[4] = {
		{ CKA_SENSITIVE, &v[0], 1 },
		{ CKA_EXTRACTABLE, &v[1], 1 },
		{ CKA_NEVER_EXTRACTABLE, &v[2], 1 },
		{ CKA_ALWAYS_SENSITIVE, &v[3], 1 },
	};
	int rc;

	if (out == NULL)
		return bw_err_set(err, BW_EINVAL, "pkcs11: no output");
	memset(&p, 0, sizeof(p));
	bw_pkcs11__lock();
	rc = bw_pkcs11__sel_resolve(opts, 1, &sel, err);
	if (rc == 0)
		rc = bw_pkcs11__conn_open(&sel, 0, &p, err);
	if (rc == 0)
		rc = bw_pkcs11__find_private(&p, &sel, &h, err);
	if (rc == 0 && p.f->C_GetAttributeValue(p.sess, h, a, 4) != CKR_OK)
		rc = bw_err_set(err, BW_ECRYPTO, "pkcs11: cannot read key "
				"attributes");
	bw_pkcs11__conn_close(&p);
	bw_pkcs11__unlock();
	bw_pkcs11__sel_dispose(&sel);
	if (rc == 0) {
		out->sensitive = v[0] == CK_TRUE;
		out->extractable = v[1] == CK_TRUE;
		out->never_extractable = v[2] == CK_TRUE;
		out->always_sensitive = v[3] == CK_TRUE;
	}
	return rc;
}
