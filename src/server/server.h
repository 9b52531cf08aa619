/*
 * The bulwarkd process (server.c): the context every listener shares,
 * built from the configuration, and its event loop.
 *
 * Threading: one event_base, one thread. Every callback runs on it, so the
 * storage handle and caches need no locks. Several cores: server.workers
 * processes (workers.c), each a whole server of its own on the same
 * database, like several gateways.
 */
#ifndef BW_SRV_SERVER_H
#define BW_SRV_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "bulwark/crypto.h"
#include "bulwark/error.h"
#include "bulwark/hash.h"
#include "config.h"
#include "storage.h"

struct event_base;
struct event;
struct evhttp;
struct evhttp_request;
struct evhttp_bound_socket;
struct bw_srv_policy;
struct bw_srv_repo;
struct bw_srv_idcache;
struct bw_srv_metacache;
struct bw_srv_devcache;
struct bw_srv_batch;

struct bw_srv_listener {
	struct bw_srv *srv;
	const char *name; /* "gateway", "admin", "registration" */
	SSL_CTX *ctx;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	int mtls;
	long max_body;
	void (*handler)(struct evhttp_request *req, void *arg);
	/* Budgets (tls.c): this listener's own connection cap, so that one
	 * listener never uses up another's; on the listeners without client
	 * authentication also a cap per client address. */
	long nconns, max_conns;
	long max_per_addr; /* 0: no per-address cap */
	struct bw_srv_addrcount *per_addr;
};

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
	struct bw_srv_devcache *devcache;   /* devcache.c */
	/* group commits (batch.h) of registrations and of device events */
	struct bw_srv_batch *reg_batch, *ev_batch;
	struct bw_srv_listener gw, admin, reg, est;
	struct event *ev_sigterm, *ev_sigint, *ev_sighup, *ev_resign,
	    *ev_reload, *ev_drain, *ev_waves, *ev_idpoll;
	char *admin_token; /* secret */
	size_t admin_token_len;
	X509 *reg_ca; /* registration device CA */
	EVP_PKEY *reg_ca_key;
	struct bw_signer *reg_signer; /* PKCS#11 registration CA key */
	struct bw_signer *log_key;    /* transparency log checkpoints */
	const char *policy_by; /* who the next policy reload is logged for
				  (NULL: the PKI directory) */
	char log_origin[256];
	/* Worker processes (workers.c): this one's index and how many.
	 * Worker 0 owns the admin listener and the jobs that must run once
	 * (timestamp re-signing, wave evaluation, logging PKI changes). */
	int worker, nworkers;
	/* Workers 2..N: a changed PKI policy waiting for worker 1's
	 * transparency-log entry (bw_srv_policy_reload): its digest, since
	 * when (0: none waits), and the timer that re-checks every second
	 * until pki_wait_bound seconds have passed. */
	char pki_wait_digest[BW_HASH_MAX_HEX];
	int64_t pki_wait_since, pki_wait_bound;
	struct event *ev_pkiwait;
	int listen_fd[4]; /* gateway, admin, registration, EST; -1: bind */
	/* TLS session ticket keys shared by every worker (secret), so a
	 * device resumes whichever worker takes its next connection; unset:
	 * OpenSSL's own per-process keys */
	unsigned char ticket_keys[80];
	int have_ticket_keys;
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
/* bulwarkd with cfg->workers processes (workers.c): binds the listeners
 * (SO_REUSEPORT), forks the workers, restarts one that dies, forwards
 * SIGHUP and SIGTERM; returns when every worker has stopped. */
int bw_srv_workers_run(struct bw_srv_config *cfg);
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

/* Load an online signing key: a PEM file (0600) or "pkcs11:" URI whose
 * PIN file is pin_file (NULL or "": the URI's "?pin-source=FILE"), module
 * NULL or "": the URI's module-path, else SoftHSM2 (ECDSA P-256 or RSA
 * through the engine, Ed25519 through the module directly; *out signs
 * through bw_signer_sign*). */
int bw_srv_signer_load(const char *spec, const char *pin_file,
		       const char *module, struct bw_signer **out,
		       struct bw_err *err);

/* Re-read the PKI directory and uploaded CRLs; on failure the current
 * policy stays. Open connections re-check their identity. */
int bw_srv_policy_reload(struct bw_srv *srv, struct bw_err *err);

#endif
