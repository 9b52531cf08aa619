/*
 * Device bindings (binding.c). A device is its binding, not its UUID: the
 * record (storage.h) holds the issuing device CA, the current
 * certificate's fingerprint and serial, and the production flag. The
 * gateway compares every connection with it; the binding changes only
 * through bw_srv_binding_set.
 */
#ifndef BW_SRV_BINDING_H
#define BW_SRV_BINDING_H

#include <stdint.h>

#include <openssl/x509.h>

#include "bulwark/error.h"
#include "policy.h"
#include "storage.h"

struct bw_srv;

/* What a binding holds (a certificate and its issuer, reduced). */
struct bw_srv_binding {
	char ca_name[64];	 /* device CA file base */
	char ca_fingerprint[65]; /* sha256 hex of the CA certificate DER */
	char serial[80];	 /* uppercase hex, no leading zero */
	char fingerprint[65];	 /* sha256 hex of the certificate DER */
	int64_t not_after;	 /* the certificate's notAfter */
	int production;
};

/* The binding that cert (issued by ca, named ca_name) gives, with the
 * production flag the issuer decided. */
int bw_srv_binding_of(X509 *cert, X509 *ca, const char *ca_name, int production,
		      struct bw_srv_binding *b, struct bw_err *err);

/* The binding of a policy-checked identity (its production claim as is). */
void bw_srv_binding_of_identity(const struct bw_srv_identity *id,
				struct bw_srv_binding *b);

enum bw_srv_binding_verdict {
	BW_SRV_BINDING_REFUSED = 0,
	BW_SRV_BINDING_MATCH,  /* the certificate on record */
	BW_SRV_BINDING_NEW,    /* no record: the first contact binds */
	BW_SRV_BINDING_LEGACY, /* a record from before bindings whose
				  certificate this is (or that saw none) */
};

/*
 * Compare a policy-checked connection identity with the device's record
 * d (NULL: none). 0 and *verdict MATCH / NEW / LEGACY to accept; then
 * id->production is the record's (NEW: the certificate's claim, which
 * the caller checks against the CA's policy). BW_ESTATE with the reason in
 * err to refuse: another device CA, another certificate of the same CA, a
 * new device or a record without certificate from a disabled CA.
 */
int bw_srv_binding_check(const struct bw_device_rec *d,
			 struct bw_srv_identity *id,
			 enum bw_srv_binding_verdict *verdict,
			 struct bw_err *err);

/* Record a refused connection for the operator: event
 * "bulwark.binding-refused" on the device (at most one per certificate
 * and hour). The caller logs; the client never learns the reason. */
void bw_srv_binding_refused(struct bw_srv *srv,
			    const struct bw_srv_identity *id,
			    const char *reason);

/*
 * The one way a device's binding changes: registration (how
 * "registration"), EST re-enrolment ("est-reenroll"), an operator's
 * re-certify ("operator"), and the gateway's first contact ("first
 * contact") or adoption of a record from before bindings ("legacy
 * record"). d is the record (uuid canonical; a new record for a first
 * registration), updated in place and written with device_put inside
 * the caller's transaction. Replacing another certificate stores event
 * "bulwark.binding-changed" (how, old and new CA and fingerprint) and
 * drops cached identity decisions. Logged.
 */
int bw_srv_binding_set(struct bw_srv *srv, struct bw_device_rec *d,
		       const struct bw_srv_binding *b, const char *how,
		       int64_t now, struct bw_err *err);

#endif
