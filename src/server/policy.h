/*
 * bulwarkd's device trust policy (policy.c): which device CAs, CRLs and
 * certificates it accepts, and who a certificate says the device is.
 */
#ifndef BW_SRV_POLICY_H
#define BW_SRV_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "bulwark/error.h"
#include "bulwark/hash.h"
#include "storage.h"

enum bw_srv_ca_status {
	BW_SRV_CA_ENABLED = 1,
	BW_SRV_CA_DISABLED = 2,
	BW_SRV_CA_REVOKED = 3,
};

/*
 * Who a device certificate says the device is (after the policy check),
 * and, once the gateway compared it with the device's binding
 * (bw_srv_binding_check, binding.h), who the device is: production then
 * comes from the binding, not from the certificate.
 */
struct bw_srv_identity {
	char uuid[BW_STORE_UUID_MAX + 1]; /* canonical (lowercase) */
	int production;
	int ca_disabled;	 /* issued by a disabled device CA */
	int ca_production;	 /* the device CA may issue production */
	char ca[64];		 /* device CA file base */
	char ca_fingerprint[65]; /* sha256 hex of the device CA's DER */
	char serial[80];	 /* uppercase hex, no leading zero */
	char fingerprint[65];	 /* sha256 hex of the certificate DER */
	int64_t not_after;	 /* the certificate's notAfter */
};

struct bw_srv_policy;

/*
 * Load the trust material from a PKI directory (docs/pki.md): the factory
 * CA, every device CA with its status (state.json, overridden by
 * crl/factory_ca.crl entries: certificateHold = disabled, any other reason
 * = revoked) and each device CA's revoked serials (crl/<base>.crl, whose
 * signature is checked). extra (may be NULL): what the admin API stored:
 * CRLs (per issuer the CRL with the higher crlNumber wins) and device CA
 * certificates (added unless the directory has a CA of that name; checked
 * again here).
 * factory: "" takes the factory CA's OU.
 */
struct bw_srv_policy_extra {
	json_t *crls; /* [{"issuer","pem"}] uploaded CRLs, or NULL */
	json_t *cas;  /* [{"name","pem"}] uploaded device CAs, or NULL */
};
int bw_srv_policy_load(const char *pki_dir, const char *factory,
		       const struct bw_srv_policy_extra *extra,
		       struct bw_srv_policy **out, struct bw_err *err);

/*
 * A device CA certificate to upload under name ([A-Za-z0-9_-]): signed by
 * the factory CA, CA with pathlen 0, OU = this factory, valid now; a
 * different CA of that name is BW_EEXIST. Uploaded CAs are enabled; the
 * factory CRL disables or revokes them like any other.
 */
int bw_srv_policy_ca_check(const struct bw_srv_policy *p, const char *name,
			   const uint8_t *pem, size_t len, struct bw_err *err);

/* [{"name","cn","status","crl-number","revoked-serials","not-after",
 * "crl-next-update"}] (new reference; times in unix seconds, 0: none) */
json_t *bw_srv_policy_describe(const struct bw_srv_policy *p);
/* {"name":"factory_ca","not-after","crl-number","crl-next-update"} */
json_t *bw_srv_policy_factory_describe(const struct bw_srv_policy *p);
/* A certificate's notAfter in unix seconds (0 for NULL). */
int64_t bw_srv_cert_not_after(const X509 *cert);
/* 1 if two loaded policies decide every certificate alike (same CAs,
 * statuses, CRL numbers and revoked serials). */
int bw_srv_policy_same(const struct bw_srv_policy *a,
		       const struct bw_srv_policy *b);
/* SHA-256 (hex) over everything bw_srv_policy_same compares: two loaded
 * policies have the same digest exactly when they are the same. Names a
 * policy in the store (pki_logged) across processes. */
int bw_srv_policy_digest(const struct bw_srv_policy *p,
			 char hex[BW_HASH_MAX_HEX], struct bw_err *err);

/*
 * Only the factory CA (factory_ca.pem) and its name, for a registration
 * service at a manufacturing site whose directory holds no state.json:
 * no device CA is trusted, so this policy refuses every device.
 */
int bw_srv_policy_load_minimal(const char *pki_dir, const char *factory,
			       struct bw_srv_policy **out, struct bw_err *err);

/*
 * An uploaded CRL (PEM) for issuer ("factory_ca" or a device CA file
 * base): signed by that CA and with a crlNumber above the one in use.
 * *number receives its crlNumber. BW_ENOTFOUND / BW_EFORMAT /
 * BW_EROLLBACK.
 */
int bw_srv_policy_crl_check(const struct bw_srv_policy *p, const char *issuer,
			    const uint8_t *pem, size_t len, int64_t *number,
			    struct bw_err *err);

void bw_srv_policy_free(struct bw_srv_policy *p);

/* Factory name (borrowed). */
const char *bw_srv_policy_factory(const struct bw_srv_policy *p);

/*
 * A new X509_STORE holding the factory CA and every device CA that is not
 * revoked, for the TLS chain check (caller frees).
 */
X509_STORE *bw_srv_policy_store(const struct bw_srv_policy *p);

/*
 * The certificate checks that need no database: issued (signature
 * checked) by a known device CA that is not revoked, valid at now,
 * clientAuth, not on the CA's CRL, OU = factory, CN = a UUID. Fills *id.
 * BW_ENOTFOUND (unknown CA), BW_ESIG, BW_EEXPIRED, BW_EFORMAT, BW_ESTATE
 * (revoked), with the reason in err.
 */
int bw_srv_policy_check(const struct bw_srv_policy *p, X509 *cert, time_t now,
			struct bw_srv_identity *id, struct bw_err *err);

/* The issuing online/local device CA's certificate and file base. */
X509 *bw_srv_policy_ca_cert(const struct bw_srv_policy *p, const char *base);
X509 *bw_srv_policy_factory_cert(const struct bw_srv_policy *p);
/* The file base of device CA certificate ca in the policy (borrowed), or
 * "registration-ca" for a CA the policy does not list (a registration
 * service at a site whose directory holds only the factory CA). */
const char *bw_srv_policy_ca_name(const struct bw_srv_policy *p, X509 *ca);
/* 1 if device CA certificate ca may issue production certificates
 * (state.json "production"; uploaded CAs may not), 0 if not, -1 if the
 * policy does not list it. */
int bw_srv_policy_ca_production(const struct bw_srv_policy *p, X509 *ca);

#endif
