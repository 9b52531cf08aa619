/*
 * Enrollment over Secure Transport (RFC 7030, with the RFC 8951
 * clarifications): the wire pieces both ends of an EST exchange need.
 *
 *  - bodies: binary payloads travel base64 encoded (RFC 4648, section 4),
 *    line breaks and other white space allowed anywhere (RFC 8951 3.2.2);
 *    a Content-Transfer-Encoding header, if a client still sends one, may
 *    only say "base64" (RFC 7030 4.2.1 / errata 5107).
 *  - certs-only PKCS#7: a degenerate CMS SignedData carrying certificates
 *    and nothing else (RFC 7030 4.1.3 and 4.2.3, RFC 5652 5.1), the answer
 *    of /cacerts, /simpleenroll and /simplereenroll.
 *  - the re-enrolment rule (RFC 7030 4.2.2): a CSR that renews a
 *    certificate has its subject, and a new key.
 *  - request paths: /.well-known/est[/<label>]/<operation> (RFC 7030
 *    3.2.2).
 *
 * All input is untrusted and bounded. Functions return 0 or a negative
 * BW_E* code with the reason in err.
 */
#ifndef BULWARK_EST_H
#define BULWARK_EST_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "bulwark/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest base64 body accepted (a CSR is at most BW_PKI_CSR_MAX bytes of
 * DER; four thirds of that plus room for line breaks). */
#define BW_EST_BODY_MAX (32u * 1024u)
/* Longest CA label (RFC 7030 3.2.2 leaves it open; ours is bounded). */
#define BW_EST_LABEL_MAX 64u

/* The operations of RFC 7030 3.2.2. */
enum bw_est_op {
	BW_EST_CACERTS = 1,
	BW_EST_SIMPLEENROLL,
	BW_EST_SIMPLEREENROLL,
	BW_EST_FULLCMC,
	BW_EST_SERVERKEYGEN,
	BW_EST_CSRATTRS,
};

/*
 * Decode an EST body: base64 with any spaces, tabs, CR and LF between the
 * characters; padding only at the end; no other character. cte is the
 * Content-Transfer-Encoding header (NULL if absent): absent or "base64"
 * (any case) is accepted, anything else is BW_EUNSUPPORTED. Empty input
 * or a body above BW_EST_BODY_MAX is BW_EFORMAT / BW_ETOOBIG. *out is
 * malloc'd (caller frees), *out_len its length.
 */
int bw_est_body_decode(const uint8_t *body, size_t len, const char *cte,
		       uint8_t **out, size_t *out_len, struct bw_err *err);

/*
 * A base64 DER PKCS#10 body (bw_est_body_decode) parsed as a CSR whose
 * self-signature is valid (bw_pki_csr_parse, DER only: a PEM armour
 * inside the base64 is refused). *out: caller frees (X509_REQ_free).
 */
int bw_est_csr_parse(const uint8_t *body, size_t len, const char *cte,
		     X509_REQ **out, struct bw_err *err);

/*
 * RFC 7030 4.2.2: a re-enrolment CSR names the same subject as the
 * certificate it renews (X509_NAME_cmp, RFC 5280 7.1 matching), asks for
 * no subjectAltName unless the certificate has the same one, and carries
 * a key that is not the certificate's key (we rotate keys with every
 * certificate). The CSR's self-signature was checked when it was parsed.
 * BW_EFORMAT (subject, SAN) / BW_EEXIST (same key).
 */
int bw_est_reenroll_check(X509_REQ *req, X509 *current, struct bw_err *err);

/*
 * Build a certs-only PKCS#7 of certs (n >= 1) as base64 with 64-character
 * lines ending in "\n", NUL-terminated. *out malloc'd, *out_len without
 * the NUL.
 */
int bw_est_certs_build(X509 *const *certs, size_t n, char **out,
		       size_t *out_len, struct bw_err *err);

/*
 * Read a certs-only PKCS#7 body (base64 as bw_est_body_decode, cte NULL):
 * SignedData with at least one certificate, no signers, no trailing
 * bytes. *out: caller frees (sk_X509_pop_free(.., X509_free)).
 */
int bw_est_certs_parse(const uint8_t *body, size_t len,
		       STACK_OF(X509) **out, struct bw_err *err);

/*
 * The csrattrs answer (RFC 7030 4.5.2) of this server as base64 DER:
 * ecdsa-with-SHA256 and id-ecPublicKey with the curve prime256v1, which
 * every bulwark certificate uses. *out malloc'd, NUL-terminated.
 */
int bw_est_csrattrs(char **out, size_t *out_len, struct bw_err *err);

/*
 * Parse a request path (no query): "/.well-known/est/<op>" or
 * "/.well-known/est/<label>/<op>". label (BW_EST_LABEL_MAX + 1 bytes)
 * receives the label or "". BW_ENOTFOUND for a path outside
 * /.well-known/est/ or an unknown operation, BW_EFORMAT for a malformed
 * label (empty, "." / "..", characters outside RFC 3986 unreserved).
 */
int bw_est_path_parse(const char *path, enum bw_est_op *op,
		      char label[BW_EST_LABEL_MAX + 1]);

#ifdef __cplusplus
}
#endif
#endif
