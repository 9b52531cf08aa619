/*
 * The factory PKI: factory CA (root of trust), gateway and EST server
 * certificates, device CAs (online / local), device certificates issued
 * from CSRs, CRLs, and the PKI directory that holds them (docs/pki.md).
 *
 * Every certificate is ECDSA P-256 / SHA-256 with UTF8String subjects:
 *   factory CA  CN=Factory-CA, OU=<factory>; CA, keyCertSign+cRLSign; 20 y
 *   server      CN=<first SAN>, OU=<factory>; serverAuth, DNS/IP SANs; 10 y
 *   device CA   CN=<base>-<serial8>, OU=<factory>; CA pathlen 0,
 *               keyCertSign+cRLSign; 10 y
 *   device      CN=<uuid>, OU=<factory>[, businessCategory=production];
 *               digitalSignature (critical), clientAuth (critical)
 * Serials are random 128-bit. Signing keys are plain EVP_PKEY handles, so a
 * file key and a PKCS#11 engine key work alike.
 *
 * Time is injected (`now`, seconds since the epoch) so expiry is testable.
 */
#ifndef BULWARK_PKI_H
#define BULWARK_PKI_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "bulwark/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BW_PKI_DAY 86400L
#define BW_PKI_FACTORY_CA_DAYS (20L * 365 + 5)
#define BW_PKI_SERVER_DAYS (10L * 365 + 2)
#define BW_PKI_DEVICE_CA_DAYS (10L * 365 + 2)
#define BW_PKI_DEVICE_DAYS (10L * 365 + 2)
#define BW_PKI_CRL_DAYS 30L
/* Certificates start this many seconds before `now` (clock skew). */
#define BW_PKI_BACKDATE 300L
/* Largest CSR accepted (PEM or DER). */
#define BW_PKI_CSR_MAX (16u * 1024u)
/* Largest state.json accepted. */
#define BW_PKI_STATE_MAX (8u * 1024u * 1024u)
/* Longest factory name / device CA name. */
#define BW_PKI_FACTORY_MAX 64u
#define BW_PKI_CA_NAME_MAX 32u
#define BW_PKI_MAX_SANS 32u

/* What a certificate (or a CSR) is for. */
enum bw_pki_profile {
	BW_PKI_PROFILE_DEVICE = 1, /* device client certificate */
	BW_PKI_PROFILE_SERVER = 2, /* gateway / EST / TLS terminator */
	BW_PKI_PROFILE_DEVICE_CA = 3,
};

/* CRL reason codes used here (RFC 5280 5.3.1 values). */
enum bw_pki_reason {
	BW_PKI_REASON_KEY_COMPROMISE = 1,
	BW_PKI_REASON_SUPERSEDED = 4,
	BW_PKI_REASON_CESSATION = 5,
	BW_PKI_REASON_HOLD = 6, /* certificateHold: a disabled device CA */
	BW_PKI_REASON_PRIVILEGE_WITHDRAWN = 9,
};

/* Subject alternative names of a server certificate. */
struct bw_pki_sans {
	const char *const *dns;
	size_t ndns;
	const char *const *ip; /* IPv4 or IPv6 literals */
	size_t nip;
};

/* ---- building blocks (cert.c, csr.c, crl.c) -------------------------- */

/* New ECDSA P-256 private key (*out: caller frees with EVP_PKEY_free). */
int bw_pki_key_generate(EVP_PKEY **out, struct bw_err *err);

/*
 * Self-signed factory CA for `factory` with key. *out is caller-owned.
 * BW_EINVAL for an empty / too long / non-UTF-8 factory name.
 */
int bw_pki_factory_ca_create(EVP_PKEY *key, const char *factory, time_t now,
			     X509 **out, struct bw_err *err);

/*
 * Server certificate (serverAuth, SANs) for pub, signed by ca/ca_key.
 * At least one SAN. BW_EEXPIRED if ca is not valid at now.
 */
int bw_pki_server_cert_issue(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *pub,
			     const char *factory, const struct bw_pki_sans *sans,
			     time_t now, X509 **out, struct bw_err *err);

/*
 * Device CA certificate for pub: CN=<base>-<first 8 hex of serial>,
 * OU=<factory>, CA:TRUE pathlen 0, signed by the factory CA.
 */
int bw_pki_device_ca_issue(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *pub,
			   const char *factory, const char *base, time_t now,
			   X509 **out, struct bw_err *err);

/*
 * Parse an untrusted CSR (PEM or DER, at most BW_PKI_CSR_MAX bytes, no
 * trailing data). Verifies its self-signature. BW_EFORMAT / BW_ETOOBIG /
 * BW_ESIG with a message. *out is caller-owned (X509_REQ_free).
 */
int bw_pki_csr_parse(const uint8_t *data, size_t len, X509_REQ **out,
		     struct bw_err *err);

/* What the issuer asks of a CSR. */
struct bw_pki_csr_policy {
	enum bw_pki_profile profile;
	const char *factory; /* OU, if the CSR carries one, must equal this */
	int production;      /* device: businessCategory=production allowed */
};

/*
 * Check a parsed CSR against a profile: P-256 key; subject attributes (for
 * a device: exactly one CN that is a UUID, OU = factory if present,
 * businessCategory=production only when policy->production; nothing else);
 * requested extensions must not ask for more than the profile gives
 * (CA:TRUE, keyCertSign, cRLSign or a foreign EKU on a device / server CSR;
 * CA:FALSE on a CA CSR). BW_EFORMAT / BW_EUNSUPPORTED with a message.
 */
int bw_pki_csr_check(X509_REQ *req, const struct bw_pki_csr_policy *policy,
		     struct bw_err *err);

/*
 * The device UUID (CN) of a device CSR, read with bw_identity_subject_read:
 * out (37 bytes) receives its canonical lowercase form.
 */
int bw_pki_csr_uuid(X509_REQ *req, char out[37], struct bw_err *err);

/*
 * Device certificate for a checked CSR: subject rebuilt with
 * bw_identity_subject_build as CN=<canonical uuid>, OU=<factory>[,
 * businessCategory=production] (never copied from the CSR),
 * random serial, `days` of validity clamped to the CA's notAfter.
 * BW_EEXPIRED if ca is not valid at now; BW_EINVAL if ca is no CA.
 */
int bw_pki_device_cert_issue(X509 *ca, EVP_PKEY *ca_key, X509_REQ *req,
			     const char *factory, int production, long days,
			     time_t now, X509 **out, struct bw_err *err);

/*
 * The same certificate (same DER) for a server that stores and sends it
 * without using its key: the subject key is the CSR's
 * SubjectPublicKeyInfo copied byte for byte, which spares OpenSSL 3.0's
 * encode-and-decode of the key (about a quarter of a registration's CPU).
 * The returned X509 holds the key encoded only: X509_get0_pubkey() on it
 * is NULL (use the CSR's key, or parse the DER).
 */
int bw_pki_device_cert_sign(X509 *ca, EVP_PKEY *ca_key, X509_REQ *req,
			    const char *factory, int production, long days,
			    time_t now, X509 **out, struct bw_err *err);

/* One entry of a CRL. serial_hex: uppercase hex as `openssl x509 -serial`. */
struct bw_pki_crl_entry {
	const char *serial_hex;
	time_t revoked_at;
	enum bw_pki_reason reason;
};

/*
 * CRL v2 signed by ca/ca_key: lastUpdate now, nextUpdate now + days,
 * crlNumber, authorityKeyIdentifier, one entry per revoked serial with its
 * reason code. *out caller-owned (X509_CRL_free).
 */
int bw_pki_crl_build(X509 *ca, EVP_PKEY *ca_key,
		     const struct bw_pki_crl_entry *entries, size_t n,
		     uint64_t crl_number, time_t now, long days,
		     X509_CRL **out, struct bw_err *err);

/*
 * The name of a device CA (its file base in a PKI directory, its name in
 * bulwarkd): "online-ca", "local-ca", or either followed by "-<name>" of
 * at most BW_PKI_CA_NAME_MAX letters, digits, '-' and '_'. 1 if name is
 * one; the one rule every program applies to a CA name it is given.
 */
int bw_pki_device_ca_name_ok(const char *name);

/* Serial of a certificate as uppercase hex without leading zeros, the
 * canonical form of bw_pki_serial_normalize (malloc'd *out). */
int bw_pki_serial_hex(const X509 *cert, char **out, struct bw_err *err);

/* The same for a serial number of a CRL entry or a certificate. */
int bw_pki_serial_hex_of(const ASN1_INTEGER *serial, char **out,
			 struct bw_err *err);

/*
 * Normalise a serial typed by a user ("0x1f", "1F:2A", "01f") into the
 * canonical uppercase hex without leading zeros (malloc'd *out).
 */
int bw_pki_serial_normalize(const char *in, char **out, struct bw_err *err);

/* PEM encodings into malloc'd NUL-terminated strings (*out, *len). */
int bw_pki_cert_pem(const X509 *cert, char **out, size_t *len,
		    struct bw_err *err);
int bw_pki_crl_pem(const X509_CRL *crl, char **out, size_t *len,
		   struct bw_err *err);
/* PKCS#8 PEM of a private key; wipe with OPENSSL_cleanse before free. */
int bw_pki_key_pem(EVP_PKEY *key, char **out, size_t *len, struct bw_err *err);

/* Load one PEM certificate (bounded). */
int bw_pki_cert_load(const char *path, X509 **out, struct bw_err *err);

/* A certificate from memory, PEM or DER, at most 64 KiB (untrusted input:
 * BW_EFORMAT for anything else). */
int bw_pki_cert_parse(const uint8_t *data, size_t len, X509 **out,
		      struct bw_err *err);

/*
 * Load a PKCS#8/traditional PEM private key file. Refuses a file readable
 * by group or others (BW_EINVAL) and a key that is not P-256.
 */
int bw_pki_key_load(const char *path, EVP_PKEY **out, struct bw_err *err);

/* ---- the PKI directory (dir.c, state.c) ------------------------------ */

/* Status of a device CA. */
enum bw_pki_ca_status {
	BW_PKI_CA_ENABLED = 1,
	BW_PKI_CA_DISABLED = 2, /* certificateHold: no new devices */
	BW_PKI_CA_REVOKED = 3,  /* terminal: every device cut off */
};

struct bw_pki_create_opts {
	const char *dir;
	const char *factory;
	struct bw_pki_sans sans; /* gateway and EST certificate SANs */
	int online_ca;		 /* may issue production certificates */
	int local_ca;
	int local_ca_production; /* the local CA may issue production ones */
	/*
	 * Factory CA key held elsewhere (PKCS#11): key is the handle, uri is
	 * written to factory_ca.uri. NULL key: a new file key is generated
	 * and written to factory_ca.key (0600).
	 */
	EVP_PKEY *factory_key;
	const char *factory_key_uri;
	time_t now;
};

/*
 * Create a new PKI directory (the directory may exist but must not hold a
 * root of trust: BW_EEXIST). Everything is built in memory and committed
 * at the end; on failure the directory is left as it was.
 */
int bw_pki_create(const struct bw_pki_create_opts *opts, struct bw_err *err);

/* An opened PKI directory. */
struct bw_pki;

/*
 * Open dir: factory_ca.pem, state.json (strictly parsed) and every device
 * CA certificate it lists. The factory CA key is not loaded: see
 * bw_pki_use_factory_key / bw_pki_load_factory_key.
 */
int bw_pki_open(const char *dir, struct bw_pki **out, struct bw_err *err);
/*
 * As bw_pki_open, for a reader that never changes the directory (the
 * server's trust policy): takes the directory lock shared, so several
 * readers (gateways, workers) open it at once; BW_ESTATE while a writer
 * (`bulwark keys ca ...`) holds it. Never write through this handle.
 */
int bw_pki_open_shared(const char *dir, struct bw_pki **out,
		       struct bw_err *err);
void bw_pki_free(struct bw_pki *pki);

/* 1 if the factory CA key is a file (factory_ca.key), 0 if a factory_ca.uri. */
int bw_pki_factory_key_is_file(const struct bw_pki *pki);
/* The pkcs11 URI of an HSM factory key (borrowed) or NULL. */
const char *bw_pki_factory_key_uri(const struct bw_pki *pki);

/* Load factory_ca.key (file keys). Checks it matches factory_ca.pem. */
int bw_pki_load_factory_key(struct bw_pki *pki, struct bw_err *err);

/* Use a key obtained elsewhere (HSM). Takes a reference on key. */
int bw_pki_use_factory_key(struct bw_pki *pki, EVP_PKEY *key,
			   struct bw_err *err);

/* The factory name (OU of the factory CA; borrowed). */
const char *bw_pki_factory(const struct bw_pki *pki);

/*
 * Add a device CA: online (becomes online-ca.*; an existing online CA is
 * kept as online-ca-<serial8>.*) or local (local-ca.* or
 * local-ca-<name>.*). production: whether it may issue production
 * certificates (fixed for its life; state.json "production", shown by
 * bw_pki_show, enforced by bw_pki_sign_csr and bulwarkd). Needs the
 * factory key. Regenerates bundle and CRLs. *base_out (optional,
 * malloc'd) receives the file base name.
 */
int bw_pki_add_device_ca(struct bw_pki *pki, int online, const char *name,
			 int production, time_t now, char **base_out,
			 struct bw_err *err);

/*
 * Find a device CA by the certificate file (its content is compared) or
 * by serial. Returns the file base (borrowed) in *base.
 */
int bw_pki_find_device_ca(struct bw_pki *pki, const char *cert_file,
			  const char *serial, const char **base,
			  struct bw_err *err);

/*
 * Change a device CA's status (enable, disable, revoke with a reason).
 * A revoked CA stays revoked (BW_ESTATE). Regenerates bundle and CRLs.
 */
int bw_pki_set_device_ca_status(struct bw_pki *pki, const char *base,
				enum bw_pki_ca_status status,
				enum bw_pki_reason reason, time_t now,
				struct bw_err *err);

/* Which device certificate to revoke: one of cert_pem/serial/uuid. */
struct bw_pki_device_sel {
	const uint8_t *cert; /* PEM or DER device certificate */
	size_t cert_len;
	const char *serial;
	const char *uuid;
	const char *issuer; /* device CA base; needed with an unknown serial */
};

/*
 * Revoke one device certificate: recorded in state.json and published in
 * the issuing device CA's CRL (the CA's key must be in the directory).
 */
int bw_pki_revoke_device(struct bw_pki *pki, const struct bw_pki_device_sel *sel,
			 enum bw_pki_reason reason, time_t now,
			 struct bw_err *err);

/*
 * Sign a CSR offline. DEVICE: issuer is the device CA base (NULL: the only
 * enabled CA whose key is here, else local-ca, else online-ca); the issued
 * certificate is recorded in state.json. SERVER: signed by the factory CA
 * with sans. DEVICE_CA: signed by the factory CA, stored as
 * local-ca-<name>.pem (no key) and added to the bundle. *pem_out receives
 * the certificate PEM (malloc'd).
 */
struct bw_pki_sign_opts {
	enum bw_pki_profile profile;
	const char *issuer;
	int production;
	long days; /* 0: the profile default */
	struct bw_pki_sans sans;
	const char *name; /* DEVICE_CA */
};
int bw_pki_sign_csr(struct bw_pki *pki, const uint8_t *csr, size_t csr_len,
		    const struct bw_pki_sign_opts *opts, time_t now,
		    char **pem_out, struct bw_err *err);

/*
 * New gateway (est = 0) or EST (est = 1) server certificate and key from
 * the factory CA, for sans (NULL or empty: the same SANs as the current
 * one); the old files are kept as tls.pem.bak / tls.key.bak (est-tls.*).
 */
int bw_pki_rotate_server(struct bw_pki *pki, int est,
			 const struct bw_pki_sans *sans, time_t now,
			 struct bw_err *err);

/* Re-sign every CRL (new lastUpdate/nextUpdate and crlNumber). */
int bw_pki_update_crls(struct bw_pki *pki, time_t now, struct bw_err *err);

/*
 * Describe the directory as JSON (new reference in *out): every
 * certificate with file, role, subject, serial, validity, status, and
 * warnings (expired / expiring within 90 days, CRL nextUpdate passed).
 */
int bw_pki_show(struct bw_pki *pki, time_t now, json_t **out,
		struct bw_err *err);

#ifdef __cplusplus
}
#endif
#endif
