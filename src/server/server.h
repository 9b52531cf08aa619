/*
 * bulwarkd internals shared by the listener modules: the server context,
 * device identity and trust policy (policy.c), TLS plumbing (tls.c), HTTP
 * helpers (http.c), the repository store and online signer (repo.c), and
 * the listeners (gateway.c, admin.c, registration.c, server.c).
 *
 * Threading: one event_base, one thread. Every callback runs on it, so the
 * storage handle and caches need no locks.
 */
#ifndef BW_SRV_SERVER_H
#define BW_SRV_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "bulwark/crypto.h"
#include "bulwark/error.h"
#include "config.h"
#include "storage.h"

struct event_base;
struct event;
struct evhttp;
struct evhttp_request;
struct evhttp_bound_socket;

/* ---- trust policy (policy.c) ------------------------------------------- */

enum bw_srv_ca_status {
	BW_SRV_CA_ENABLED = 1,
	BW_SRV_CA_DISABLED = 2,
	BW_SRV_CA_REVOKED = 3,
};

/* Who a device certificate says the device is (after the policy check). */
struct bw_srv_identity {
	char uuid[BW_STORE_UUID_MAX + 1];
	int production;
	int ca_disabled;      /* issued by a disabled device CA */
	char ca[64];	      /* device CA file base */
	char serial[80];      /* uppercase hex */
	char fingerprint[65]; /* sha256 hex of the certificate DER */
};

struct bw_srv_policy;
struct bw_srv;
struct bw_srv_idcache;
struct bw_srv_metacache;

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

/* [{"name","cn","status","crl-number","revoked-serials"}] (new reference) */
json_t *bw_srv_policy_describe(const struct bw_srv_policy *p);
/* The gateway's cache of the newest metadata (gateway.c). */
int bw_srv_metacache_new(struct bw_srv_metacache **out);
void bw_srv_metacache_free(struct bw_srv_metacache *c);

/* The gateway's per-certificate identity cache (tls.c). */
int bw_srv_idcache_new(struct bw_srv_idcache **out);
void bw_srv_idcache_free(struct bw_srv_idcache *c);

/* 1 if two loaded policies decide every certificate alike (same CAs,
 * statuses, CRL numbers and revoked serials). */
int bw_srv_policy_same(const struct bw_srv_policy *a,
		       const struct bw_srv_policy *b);

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

/* Re-read the PKI directory and uploaded CRLs; on failure the current
 * policy stays. Open connections re-check their identity. */
int bw_srv_policy_reload(struct bw_srv *srv, struct bw_err *err);
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

/* ---- repository (repo.c) ------------------------------------------------ */

struct bw_srv_repo;

struct bw_srv_repo_opts {
	struct bw_signer *timestamp; /* borrowed; may be NULL (no signing) */
	struct bw_signer *snapshot;
	struct bw_signer *ci_targets;
	int64_t timestamp_expiry, timestamp_resign_before;
	int64_t snapshot_expiry, ci_targets_expiry, expiry_warn;
	size_t max_bytes;
};

int bw_srv_repo_new(struct bw_store *store, const struct bw_srv_repo_opts *opts,
		    struct bw_srv_repo **out);
void bw_srv_repo_free(struct bw_srv_repo *r);

/*
 * Root upload for a flavour ("ci" / "production"): the first must be
 * version 1 and signed by its own threshold; later ones must pass TUF
 * 5.3.4/5.3.5 against the newest stored root. BW_ESIG / BW_EROLLBACK /
 * BW_EFORMAT with the reason in err.
 */
int bw_srv_repo_root_upload(struct bw_srv_repo *r, const char *flavour,
			    const uint8_t *md, size_t len, int64_t now,
			    struct bw_err *err);

/*
 * Targets upload (CI: tag ""; production: per tag): signed by the
 * flavour's targets threshold, not expired, version above the stored one.
 * The server then signs a new snapshot and timestamp; all stored in one
 * transaction.
 */
int bw_srv_repo_targets_upload(struct bw_srv_repo *r, const char *flavour,
			       const char *tag, const uint8_t *md, size_t len,
			       int64_t now, struct bw_err *err);

/* What a static export (`bulwark repo export`) holds for one flavour/tag;
 * snapshot and timestamp may be NULL. */
struct bw_srv_import_md {
	const uint8_t *targets, *snapshot, *timestamp;
	size_t targets_len, snapshot_len, timestamp_len;
};

/*
 * Seed (flavour, tag) from a static export: targets must verify against
 * the newest stored root (TUF rules, unexpired) and be above the stored
 * version. The exported snapshot and timestamp are kept as they are when
 * they verify, chain (timestamp -> snapshot -> targets version) and are
 * newer than what is stored (*kept = 1), so devices that used the static
 * repository see no version go back; otherwise the server signs a new
 * snapshot and timestamp. One transaction.
 */
int bw_srv_repo_import(struct bw_srv_repo *r, const char *flavour,
		       const char *tag, const struct bw_srv_import_md *md,
		       int64_t now, int *kept, struct bw_err *err);

/*
 * bulwarkd --import: every DIR/metadata/N.root.json above the stored
 * root (in order, each verified), then targets/snapshot/timestamp as
 * bw_srv_repo_import, then the target files targets.json lists, copied
 * from DIR/targets/ into the gateway's targets_dir.
 */
int bw_srv_import(struct bw_srv *srv, const char *dir, const char *flavour,
		  const char *tag, struct bw_err *err);

/* Add (or replace) one CI target: new CI targets, snapshot, timestamp. */
int bw_srv_repo_ci_target_add(struct bw_srv_repo *r, const char *name,
			      json_t *fileinfo, int64_t now,
			      struct bw_err *err);

/*
 * Re-sign every timestamp (and snapshot) that expires within its resign
 * window; log offline roles close to expiry. *nsigned: count.
 */
int bw_srv_repo_resign(struct bw_srv_repo *r, int64_t now, int *nsigned,
		       struct bw_err *err);

/* Newest version of every role with expiry and warnings (admin API). */
int bw_srv_repo_status(struct bw_srv_repo *r, int64_t now, json_t **out,
		       struct bw_err *err);

/* ---- the server --------------------------------------------------------- */

struct bw_srv_listener {
	struct bw_srv *srv;
	const char *name; /* "gateway", "admin", "registration" */
	SSL_CTX *ctx;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	int mtls;
	long max_body;
	void (*handler)(struct evhttp_request *req, void *arg);
};

struct bw_srv_ratelimit;

struct bw_srv {
	struct bw_srv_config *cfg;
	struct event_base *base;
	struct bw_store *store;
	struct bw_srv_policy *policy;
	struct bw_srv_repo *repo;
	struct bw_signer *signers[3]; /* timestamp, snapshot, ci targets */
	unsigned long generation;     /* bump: cached identities re-checked */
	/* Identity decisions cached per certificate (tls.c) hold while
	 * id_epoch is unchanged: bumped when a reload finds another policy,
	 * when the store's identity_changes counter moved (another process
	 * deny-listed a device, uploaded a CRL or CA), and on a local deny. */
	unsigned long id_epoch;
	int64_t store_id_changes;
	struct bw_srv_idcache *idcache;
	struct bw_srv_metacache *metacache; /* gateway.c */
	struct bw_srv_listener gw, admin, reg;
	struct event *ev_sigterm, *ev_sigint, *ev_sighup, *ev_resign,
	    *ev_reload, *ev_drain;
	char *admin_token; /* secret */
	size_t admin_token_len;
	X509 *reg_ca; /* registration device CA */
	EVP_PKEY *reg_ca_key;
	struct bw_signer *reg_signer; /* PKCS#11 registration CA key */
	struct bw_srv_ratelimit *reg_rl;
	long nconns;
	long inflight; /* requests whose answer is not fully written yet */
	int64_t stop_deadline;
	int stopping;
};

/* Build everything from cfg (opens DB, keys, PKI, listeners). */
int bw_srv_new(struct bw_srv_config *cfg, struct bw_srv **out,
	       struct bw_err *err);
/* Run until SIGTERM/SIGINT; in-flight requests finish. */
int bw_srv_run(struct bw_srv *srv);
void bw_srv_free(struct bw_srv *srv);

/* Validate cfg and every file it names without listening (--check-config). */
int bw_srv_check(struct bw_srv_config *cfg, struct bw_err *err);

/*
 * Read a secret file: regular file owned by us with no group/other bits
 * (BW_EINVAL otherwise), at most max bytes, one trailing newline dropped.
 * *out malloc'd; wipe with OPENSSL_cleanse before free.
 */
int bw_srv_secret_read(const char *path, size_t max, char **out, size_t *len,
		       struct bw_err *err);

/* Load an online signing key: a PEM file (0600) or "pkcs11:" URI with
 * "?pin-source=FILE". */
int bw_srv_signer_load(const char *spec, struct bw_signer **out,
		       struct bw_err *err);

/* ---- TLS (tls.c) --------------------------------------------------------- */

/*
 * Server SSL_CTX: TLS 1.2-1.3, cert/key from files, tickets (one per
 * handshake) and a session id context. mtls: client certificate required,
 * chain checked against the policy store and the identity callback.
 */
int bw_srv_tls_ctx_new(struct bw_srv *srv, const char *cert, const char *key,
		       int mtls, SSL_CTX **out, struct bw_err *err);

/* Start a listener on "ip:port" (TCP_NODELAY, no SO_REUSEPORT). */
int bw_srv_listener_start(struct bw_srv *srv, struct bw_srv_listener *l,
			  const char *listen, struct bw_err *err);

/*
 * The device identity of the request's TLS connection, re-checked against
 * the current policy, deny-list and device table when the generation
 * moved (resumed sessions skip the handshake callback). NULL: refuse the
 * request (reason logged).
 */
const struct bw_srv_identity *bw_srv_tls_identity(struct bw_srv *srv,
						  struct evhttp_request *req);

/* Per-connection bookkeeping: the device record last written. */
struct bw_device_rec *bw_srv_tls_device(struct evhttp_request *req);

/* The TLS connection of a request (NULL if none) and the peer address. */
SSL *bw_srv_tls_ssl(struct evhttp_request *req);
const char *bw_srv_peer_addr(struct evhttp_request *req);

/* Count req as in flight until its answer is written (clean shutdown
 * waits for these). Call once at the start of every handler. */
void bw_srv_request_track(struct bw_srv *srv, struct evhttp_request *req);

/* Install a close callback that sends close_notify (once per connection). */
void bw_srv_tls_track(struct evhttp_request *req);

/* ---- HTTP helpers (http.c) ------------------------------------------------
 */

/* Send a JSON body (stolen reference) with status code. */
void bw_srv_http_json(struct evhttp_request *req, int code, json_t *body);
/* Send {"error": msg} with code (msg is ours, never untrusted text). */
void bw_srv_http_error(struct evhttp_request *req, int code, const char *msg);
/* Send a status with an empty body. */
void bw_srv_http_status(struct evhttp_request *req, int code);
/* The request body as a contiguous buffer (NUL-terminated), or NULL. */
const uint8_t *bw_srv_http_body(struct evhttp_request *req, size_t *len);
/* A request header value (bounded: NULL if longer than max). */
const char *bw_srv_http_header(struct evhttp_request *req, const char *name,
			       size_t max);
/* Status code for a BW_E* code of an upload (400/404/409/500). */
int bw_srv_http_code(int rc);

/* Listener request handlers. */
void bw_srv_gateway_handle(struct evhttp_request *req, void *arg);
void bw_srv_admin_handle(struct evhttp_request *req, void *arg);
void bw_srv_registration_handle(struct evhttp_request *req, void *arg);

/* Validate and store a POST /events body for uuid (at most max_events;
 * keep > 0: only the device's newest keep events stay). 0 or
 * BW_EFORMAT/ETOOBIG. */
int bw_srv_events_store(struct bw_store *store, const char *uuid,
			const uint8_t *body, size_t len, size_t max_events,
			int64_t keep, int64_t now, char *target,
			size_t target_len, struct bw_err *err);

/* Parse "bytes=a-b" / "bytes=a-" / "bytes=-n" against size. 0 and the
 * inclusive range, BW_ENOTFOUND for no usable range (serve all),
 * BW_EFORMAT if unsatisfiable (416). */
int bw_srv_range_parse(const char *h, uint64_t size, uint64_t *first,
		       uint64_t *last);

/* A target path is safe: relative, no "." / ".." / empty segments, no
 * control characters or backslash, bounded. */
int bw_srv_target_path_ok(const char *path, size_t len);

/* Metadata file names a device may ask for: "timestamp.json",
 * "[N.]snapshot.json", "[N.]targets.json", "[N.]root.json". */
int bw_srv_meta_name_parse(const char *name, char *role, size_t rolelen,
			   int64_t *version);

/* POST /sign body: {uuid, name?, hardware-id, csr, group?, overrides?};
 * integers are accepted for string scalars. r->csr points into b. */
#define BW_SRV_REG_STR_MAX 128
struct bw_srv_reg_req {
	char uuid[BW_STORE_UUID_MAX + 1];
	char name[BW_SRV_REG_STR_MAX + 1];
	char hwid[BW_SRV_REG_STR_MAX + 1];
	const char *csr;
	size_t csr_len;
};
int bw_srv_registration_parse(json_t *b, struct bw_srv_reg_req *r,
			      struct bw_err *err);

/* Admin "add CI target" body {name, length, hashes.sha256, custom?} into
 * a TUF fileinfo (*fileinfo new reference). */
int bw_srv_admin_fileinfo_parse(json_t *b, json_t **fileinfo,
				struct bw_err *err);

/* A device tag from x-ats-tags: first entry, [A-Za-z0-9._-], <= 128. */
int bw_srv_tag_parse(const char *h, char *out, size_t outlen);

#endif
