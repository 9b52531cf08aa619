/*
 * Store the device certificate in the token next to its key (CKO_CERTIFICATE,
 * same label and CKA_ID), so a token moved to another host, or a tool that
 * reads the token (pkcs11-tool, p11tool), sees the identity whole.
 * Registration is single-threaded and the module is usually already
 * initialised by the engine in this process (CKR_CRYPTOKI_ALREADY_
 * INITIALIZED); we finalise only what we initialised. The PKCS#11 types
 * come from the crypto module's subset (crypto/pkcs11_ck.h).
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "bulwark/pkcs11.h"
#include "crypto/pkcs11_ck.h"
#include "device.h"

#define CKO_CERTIFICATE 1UL
#define CKC_X_509 0UL
#define CKA_VALUE 0x011UL
#define CKA_CERTIFICATE_TYPE 0x080UL
#define CKA_ISSUER 0x081UL
#define CKA_SERIAL_NUMBER 0x082UL
#define CKA_SUBJECT 0x101UL
#define MAX_SLOTS 64

typedef CK_RV (*create_object_fn)(CK_SESSION_HANDLE, CK_ATTRIBUTE *, CK_ULONG,
				  CK_OBJECT_HANDLE *);

struct tok {
	void *dl;
	CK_FUNCTION_LIST *f;
	int finalize;
	CK_SESSION_HANDLE sess;
	int have_sess;
};

static int tok_load(struct tok *t, const char *module, struct bw_err *err)
{
	CK_C_GetFunctionList getfl = NULL;
	CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
	CK_RV rv;

	t->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	if (t->dl == NULL)
		return bw_err_set(err, BW_ENOTFOUND, "pkcs11: cannot load %s",
				  module);
	/* POSIX allows the object-to-function pointer conversion here. */
	*(void **)&getfl = dlsym(t->dl, "C_GetFunctionList");
	if (getfl == NULL || getfl(&t->f) != CKR_OK || t->f == NULL)
		return bw_err_set(err, BW_ECRYPTO, "pkcs11: %s is not a module",
				  module);
	rv = t->f->C_Initialize(&args);
	if (rv == CKR_OK)
		t->finalize = 1;
	else if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
		return bw_err_set(err, BW_ECRYPTO, "pkcs11: C_Initialize 0x%lx",
				  rv);
	return 0;
}

static void tok_close(struct tok *t)
{
	if (t->have_sess)
		t->f->C_CloseSession(t->sess);
	if (t->finalize)
		t->f->C_Finalize(NULL);
	if (t->dl != NULL)
		dlclose(t->dl);
}

/* Open a logged-in read-write session on the token labelled label. */
static int tok_session(struct tok *t, const char *label, const char *pin,
		       struct bw_err *err)
{
	CK_SLOT_ID slots[MAX_SLOTS];
	CK_ULONG n = MAX_SLOTS;
	CK_TOKEN_INFO ti;
	size_t ll = strlen(label);
	CK_RV rv;

	if (ll > 32 || t->f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		return bw_err_set(err, BW_ECRYPTO, "pkcs11: cannot list slots");
	for (CK_ULONG i = 0; i < n && !t->have_sess; i++) {
		if (t->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK ||
		    memcmp(ti.label, label, ll) != 0 ||
		    (ll < 32 && ti.label[ll] != ' '))
			continue;
		if (t->f->C_OpenSession(slots[i], CKF_SERIAL_SESSION |
					CKF_RW_SESSION, NULL, NULL,
					&t->sess) != CKR_OK)
			return bw_err_set(err, BW_ECRYPTO, "pkcs11: no session");
		t->have_sess = 1;
	}
	if (!t->have_sess)
		return bw_err_set(err, BW_ENOTFOUND, "pkcs11: no token '%s'",
				  label);
	rv = t->f->C_Login(t->sess, CKU_USER, (CK_BYTE *)pin, strlen(pin));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
		return bw_err_set(err, BW_EINVAL, "pkcs11: login 0x%lx", rv);
	return 0;
}

/* DER of the parts a CKO_CERTIFICATE carries. */
struct der {
	unsigned char *cert, *subject, *issuer, *serial;
	int ncert, nsubject, nissuer, nserial;
};

static int der_parts(X509 *x, struct der *d)
{
	d->ncert = i2d_X509(x, &d->cert);
	d->nsubject = i2d_X509_NAME(X509_get_subject_name(x), &d->subject);
	d->nissuer = i2d_X509_NAME(X509_get_issuer_name(x), &d->issuer);
	d->nserial = i2d_ASN1_INTEGER(X509_get_serialNumber(x), &d->serial);
	return d->ncert > 0 && d->nsubject > 0 && d->nissuer > 0 &&
	       d->nserial > 0 ? 0 : BW_ECRYPTO;
}

static int create_cert(struct tok *t, const struct der *d, const char *label,
		       const uint8_t *id, size_t id_len, struct bw_err *err)
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
	/* The subset header leaves C_CreateObject untyped; void (*)(void)
	 * is the generic function pointer the cast goes through. */
	create_object_fn create =
		(create_object_fn)(void (*)(void))t->f->C_CreateObject;
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	CK_RV rv = create(t->sess, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &h);

	return rv == CKR_OK ? 0 : bw_err_set(err, BW_ECRYPTO, "pkcs11: storing "
					     "the certificate: 0x%lx", rv);
}

int bw_dev_token_store_cert(const struct bw_pkcs11_opts *o, const char *label,
			    const uint8_t *id, size_t id_len,
			    const char *cert_pem, struct bw_err *err)
{
	struct tok t = {0};
	struct der d = {0};
	BIO *bio = BIO_new_mem_buf(cert_pem, -1);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	int rc;

	if (x == NULL || der_parts(x, &d) != 0) {
		rc = bw_err_set(err, BW_EFORMAT, "certificate does not parse");
		goto out;
	}
	rc = tok_load(&t, o->module_path ? o->module_path
					 : BW_PKCS11_DEFAULT_MODULE, err);
	if (rc == 0)
		rc = tok_session(&t, o->token_label, o->pin, err);
	if (rc == 0)
		rc = create_cert(&t, &d, label, id, id_len, err);
out:
	if (t.f != NULL)
		tok_close(&t);
	else if (t.dl != NULL)
		dlclose(t.dl);
	OPENSSL_free(d.cert);
	OPENSSL_free(d.subject);
	OPENSSL_free(d.issuer);
	OPENSSL_free(d.serial);
	X509_free(x);
	BIO_free(bio);
	return rc;
}
