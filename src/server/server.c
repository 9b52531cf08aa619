/*
 * bulwarkd process: builds the server from its configuration, runs the
 * event loop, timers (timestamp re-signing, trust policy reload) and the
 * signal handling for a clean shutdown (server.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>
#include <openssl/crypto.h>

#include "admin.h"
#include "bulwark/est.h"
#include "bulwark/pkcs11.h"
#include "bulwark/pki.h"
#include "batch.h"
#include "devcache.h"
#include "est.h"
#include "gateway.h"
#include "http.h"
#include "log.h"
#include "policy.h"
#include "registration.h"
#include "repo.h"
#include "server.h"
#include "tls.h"
#include "translog.h"
#include "waves.h"

int bw_srv_secret_read(const char *path, size_t max, char **out, size_t *len,
		       struct bw_err *err)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), rc = BW_EINVAL;

	*out = NULL;
	*len = 0;
	if (fd < 0)
		return bw_err_set(err, errno == ENOENT ? BW_ENOTFOUND : BW_EIO,
				  "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077)) {
		bw_err_set(err, rc,
			   "%s: must be a regular file of ours with "
			   "mode 0600 or stricter",
			   path);
		goto out;
	}
	if (!(buf = calloc(1, max + 2))) {
		rc = BW_ENOMEM;
		goto out;
	}
	n = read(fd, buf, max + 1);
	if (n < 0 || (size_t)n > max) {
		rc = bw_err_set(err, n < 0 ? BW_EIO : BW_ETOOBIG, "%s: %s",
				path, n < 0 ? strerror(errno) : "too large");
		goto out;
	}
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (n == 0 || memchr(buf, 0, (size_t)n)) {
		rc = bw_err_set(err, BW_EFORMAT, "%s: empty or binary", path);
		goto out;
	}
	*out = buf;
	*len = (size_t)n;
	buf = NULL; /* transferred */
	rc = 0;
out:
	if (buf) {
		OPENSSL_cleanse(buf, max + 2);
		free(buf);
	}
	close(fd);
	return rc;
}

int bw_srv_signer_load(const char *spec, const char *pin_file,
		       const char *module, struct bw_signer **out,
		       struct bw_err *err)
{
	struct bw_pkcs11_uri u;
	struct bw_pkcs11_opts o;
	char *pin = NULL;
	int rc = 0;

	*out = NULL;
	if (strncmp(spec, "pkcs11:", 7))
		return bw_signer_keyfile_load(spec, 0, out, err);
	memset(&o, 0, sizeof(o));
	if ((rc = bw_pkcs11_uri_parse(spec, &u, err)))
		return rc;
	if (pin_file == NULL || !pin_file[0])
		pin_file = u.pin_source;
	if (!pin_file[0])
		return bw_err_set(err, BW_EINVAL,
				  "a pkcs11 key needs "
				  "?pin-source=FILE (mode 0600)");
	if ((rc = bw_pkcs11_pin_from_file(pin_file, &pin, err)))
		return rc;
	o.uri = spec;
	o.pin = pin;
	o.module_path = module != NULL && module[0] ? module : NULL;
	/* Online keys sign through the signer interface only, so an Ed25519
	 * key (the log key) may use the direct PKCS#11 signer. */
	o.allow_eddsa = 1;
	rc = bw_pkcs11_signer_open(&o, out, err);
	bw_pkcs11_pin_free(pin);
	return rc;
}

/* What the admin API stored for the trust policy. */
static int extra_load(struct bw_store *st, struct bw_srv_policy_extra *ex,
		      struct bw_err *err)
{
	int rc = st->ops->crl_list(st, &ex->crls, err);

	if (!rc)
		rc = st->ops->ca_list(st, &ex->cas, err);
	return rc;
}

static void extra_free(struct bw_srv_policy_extra *ex)
{
	json_decref(ex->crls);
	json_decref(ex->cas);
	ex->crls = ex->cas = NULL;
}

/* The PKI directory plus what the admin API stored. Without the gateway
 * role a directory with only factory_ca.pem will do (a site's
 * registration service). */
static int policy_open(struct bw_srv *srv, struct bw_srv_policy **out,
		       struct bw_err *err)
{
	struct bw_srv_config *c = srv->cfg;
	struct bw_srv_policy_extra ex = {NULL, NULL};
	int rc = extra_load(srv->store, &ex, err);

	if (!rc)
		rc = bw_srv_policy_load(c->pki_dir, c->factory, &ex, out, err);
	extra_free(&ex);
	if (rc == BW_ENOTFOUND && !(c->roles & BW_SRV_ROLE_GATEWAY)) {
		bw_srv_log(BW_SRV_LOG_DEBUG,
			   "no full PKI directory (%s): factory CA only",
			   err ? err->msg : "");
		rc = bw_srv_policy_load_minimal(c->pki_dir, c->factory, out,
						err);
	}
	return rc;
}

/* The transparency log's checkpoint key: entries are appended whether or
 * not it is set; without it GET /log/checkpoint answers 503. */
static int load_log_key(struct bw_srv *srv, struct bw_err *err)
{
	const struct bw_srv_config *c = srv->cfg;
	int rc;

	snprintf(srv->log_origin, sizeof(srv->log_origin), "%s",
		 c->log_origin[0] ? c->log_origin : "");
	if (!srv->log_origin[0])
		snprintf(srv->log_origin, sizeof(srv->log_origin),
			 "bulwark/%s", bw_srv_policy_factory(srv->policy));
	if (!c->log_key[0]) {
		bw_srv_log(BW_SRV_LOG_WARN, "no log.key: the transparency log "
			   "is kept but no checkpoint is signed");
		return 0;
	}
	if ((rc = bw_srv_signer_load(c->log_key, c->log_pin_file,
				     c->log_pkcs11_module, &srv->log_key,
				     err)))
		return rc;
	if (bw_signer_key(srv->log_key)->type != BW_KEY_ED25519)
		return bw_err_set(err, BW_EUNSUPPORTED, "log.key must be an "
				  "Ed25519 key (C2SP signed notes)");
	return 0;
}

static int load_signers(struct bw_srv *srv, struct bw_err *err)
{
	const char *specs[3] = {srv->cfg->timestamp_key, srv->cfg->snapshot_key,
				srv->cfg->ci_targets_key};
	int rc = 0;

	for (int i = 0; i < 3; i++) {
		if (!specs[i][0])
			continue;
		if ((rc = bw_srv_signer_load(specs[i], NULL, NULL,
					     &srv->signers[i], err)))
			return rc;
	}
	if (!srv->signers[0] || !srv->signers[1])
		bw_srv_log(BW_SRV_LOG_WARN,
			   "no timestamp/snapshot key: "
			   "targets uploads and re-signing are refused");
	return load_log_key(srv, err);
}

static int load_registration(struct bw_srv *srv, struct bw_err *err)
{
	struct bw_srv_config *c = srv->cfg;
	int rc = 0;

	if ((rc = bw_pki_cert_load(c->reg_ca_cert, &srv->reg_ca, err)))
		return rc;
	if (c->reg_ca_pkcs11_uri[0]) {
		struct bw_pkcs11_opts o;
		char *pin = NULL;

		memset(&o, 0, sizeof(o));
		o.uri = c->reg_ca_pkcs11_uri;
		o.module_path =
		    c->reg_ca_pkcs11_module[0] ? c->reg_ca_pkcs11_module : NULL;
		if ((rc = bw_pkcs11_pin_from_file(c->reg_ca_pin_file, &pin,
						  err)))
			return rc;
		o.pin = pin;
		rc = bw_pkcs11_signer_open(&o, &srv->reg_signer, err);
		bw_pkcs11_pin_free(pin);
		if (rc)
			return rc;
		srv->reg_ca_key = srv->reg_signer->pkey;
		EVP_PKEY_up_ref(srv->reg_ca_key);
		return 0;
	}
	return bw_pki_key_load(c->reg_ca_key, &srv->reg_ca_key, err);
}

static int reg_enabled(const struct bw_srv_config *c)
{
	return (c->roles & BW_SRV_ROLE_REGISTRATION) && c->reg_listen[0];
}

/* EST issues with the registration CA, so it runs with that role. */
static int est_enabled(const struct bw_srv_config *c)
{
	return (c->roles & BW_SRV_ROLE_REGISTRATION) && c->est_listen[0];
}

/* Open everything a configuration names (no listening). */
static int srv_open(struct bw_srv *srv, struct bw_err *err)
{
	struct bw_srv_config *c = srv->cfg;
	struct bw_srv_repo_opts ro;
	int rc = 0;

	memset(&ro, 0, sizeof(ro));
	if (c->storage_url[0])
		rc = bw_store_postgres_open(c->storage_url, &srv->store, err);
	else
		rc = bw_store_sqlite_open(c->database, &srv->store, err);
	if (rc || (rc = policy_open(srv, &srv->policy, err)) ||
	    (rc = load_signers(srv, err)))
		return rc;
	ro.timestamp = srv->signers[0];
	ro.snapshot = srv->signers[1];
	ro.ci_targets = srv->signers[2];
	ro.timestamp_expiry = c->timestamp_expiry;
	ro.timestamp_resign_before = c->timestamp_resign_before;
	ro.snapshot_expiry = c->snapshot_expiry;
	ro.ci_targets_expiry = c->ci_targets_expiry;
	ro.expiry_warn = c->expiry_warn;
	ro.max_bytes = (size_t)c->max_upload_bytes;
	if ((rc = bw_srv_repo_new(srv->store, &ro, &srv->repo)))
		return rc;
	if ((c->roles & BW_SRV_ROLE_ADMIN) &&
	    (rc = bw_srv_secret_read(c->admin_token_file, 4096,
				     &srv->admin_token, &srv->admin_token_len,
				     err)))
		return rc;
	if ((reg_enabled(c) || est_enabled(c)) &&
	    (rc = load_registration(srv, err)))
		return rc;
	return 0;
}

int bw_srv_check(struct bw_srv_config *cfg, struct bw_err *err)
{
	struct bw_srv *srv = NULL;
	int rc = bw_srv_new(cfg, &srv, err);

	bw_srv_free(srv);
	return rc;
}

/*
 * Another process on this database (an admin-only bulwarkd, say) may have
 * deny-listed a device or uploaded a CRL: drop cached identity decisions
 * when the store's counter moved. A read failure drops them too.
 */
static void identity_changes_poll(struct bw_srv *srv)
{
	int64_t n = 0;

	if (srv->store->ops->identity_changes(srv->store, &n, NULL) != 0 ||
	    n != srv->store_id_changes) {
		srv->store_id_changes = n;
		srv->id_epoch++;
	}
}

/*
 * Workers 2..N: 0 once the transparency log holds the change to p.
 * Worker 1 logs a PKI change and, in the same transaction, names the new
 * policy (its digest) as the newest logged one; until then, or if an
 * earlier entry names it but a newer one names the current policy (a
 * change back that is not logged yet), BW_ESTATE. digest receives p's.
 */
static int policy_logged(struct bw_srv *srv, const struct bw_srv_policy *p,
			 char digest[BW_HASH_MAX_HEX], struct bw_err *err)
{
	struct bw_store *st = srv->store;
	char cur[BW_HASH_MAX_HEX];
	int64_t s_new = 0, s_cur = 0;
	int rc = bw_srv_policy_digest(p, digest, err);

	if (rc || (rc = bw_srv_policy_digest(srv->policy, cur, err)))
		return rc;
	rc = st->ops->pki_logged_get(st, digest, &s_new, err);
	if (rc == BW_ENOTFOUND)
		return bw_err_set(err, BW_ESTATE,
				  "no transparency log entry for it yet");
	if (rc || ((rc = st->ops->pki_logged_get(st, cur, &s_cur, err)) &&
		   rc != BW_ENOTFOUND))
		return rc;
	if (s_new <= s_cur)
		return bw_err_set(err, BW_ESTATE,
				  "no transparency log entry for the change "
				  "back to it yet");
	return 0;
}

/* Log what changes from the current policy to p (worker 1, and a server
 * of one worker), or wait until that is logged (workers 2..N). 0: p may
 * take effect. */
static int policy_change_logged(struct bw_srv *srv,
				const struct bw_srv_policy *p,
				char digest[BW_HASH_MAX_HEX],
				struct bw_err *err)
{
	json_t *before = NULL, *after = NULL;
	int rc = 0;

	if (srv->worker != 0)
		return policy_logged(srv, p, digest, err);
	if ((rc = bw_srv_policy_digest(p, digest, err)))
		return rc;
	before = bw_srv_policy_describe(srv->policy);
	after = bw_srv_policy_describe(p);
	rc = bw_srv_tlog_policy_diff(
	    srv->store, before, after, srv->policy_by == NULL,
	    srv->policy_by ? srv->policy_by : "server:pki-dir", digest,
	    time(NULL), err);
	json_decref(before);
	json_decref(after);
	return rc;
}

static void pki_wait_cb(evutil_socket_t fd, short what, void *arg);

/* Workers 2..N: a change waits for its log entry; re-check every second
 * until the bound, then only at the next reload or identity change. */
static void pki_wait(struct bw_srv *srv, const char *digest,
		     const struct bw_err *why)
{
	int64_t now = (int64_t)time(NULL);
	struct timeval tv = {1, 0};

	if (!srv->pki_wait_since || strcmp(srv->pki_wait_digest, digest)) {
		snprintf(srv->pki_wait_digest, sizeof(srv->pki_wait_digest),
			 "%s", digest);
		srv->pki_wait_since = now;
		bw_srv_log(BW_SRV_LOG_WARN,
			   "PKI change (policy %.16s) waits for its "
			   "transparency log entry, which worker 1 writes "
			   "(%s); the current policy stays until the log "
			   "holds it",
			   digest, why->msg);
	} else if (now - srv->pki_wait_since >= srv->pki_wait_bound) {
		bw_srv_log(BW_SRV_LOG_ERR,
			   "PKI change (policy %.16s) not applied: still no "
			   "transparency log entry after %llds (%s); can "
			   "worker 1 write to the database?",
			   digest, (long long)(now - srv->pki_wait_since),
			   why->msg);
		return; /* the next reload or identity change re-checks */
	}
	if (!srv->ev_pkiwait)
		srv->ev_pkiwait = evtimer_new(srv->base, pki_wait_cb, srv);
	if (srv->ev_pkiwait)
		evtimer_add(srv->ev_pkiwait, &tv);
}

/* The waiting change took effect (applied), or the directory went back
 * to the current policy before it was logged. */
static void pki_wait_done(struct bw_srv *srv, int applied)
{
	if (!srv->pki_wait_since)
		return;
	bw_srv_log(BW_SRV_LOG_NOTICE,
		   "PKI change (policy %.16s) %s (waited %llds)",
		   srv->pki_wait_digest,
		   applied ? "applied: the transparency log holds it"
			   : "withdrawn before it was logged",
		   (long long)((int64_t)time(NULL) - srv->pki_wait_since));
	srv->pki_wait_since = 0;
	srv->pki_wait_digest[0] = '\0';
	if (srv->ev_pkiwait)
		evtimer_del(srv->ev_pkiwait);
}

int bw_srv_policy_reload(struct bw_srv *srv, struct bw_err *err)
{
	struct bw_srv_policy *p = NULL;
	X509_STORE *st = NULL;
	char digest[BW_HASH_MAX_HEX];
	int rc = 0;

	srv->generation++; /* deny-list changes apply even if this fails */
	identity_changes_poll(srv);
	if ((rc = policy_open(srv, &p, err)))
		return rc;
	if (!bw_srv_policy_same(srv->policy, p)) {
		/* logged before it takes effect; unlogged, it does not.
		 * Every worker reads the same PKI directory: worker 1 logs,
		 * the others apply it once the log holds it. */
		digest[0] = '\0';
		if ((rc = policy_change_logged(srv, p, digest, err))) {
			bw_srv_policy_free(p);
			if (srv->worker != 0 && digest[0]) {
				pki_wait(srv, digest, err);
				return BW_ESTATE;
			}
			return rc;
		}
		srv->id_epoch++; /* cached identity decisions no longer hold */
		pki_wait_done(srv, 1);
	} else {
		pki_wait_done(srv, 0);
	}
	if (srv->gw.ctx && (st = bw_srv_policy_store(p)) != NULL) {
		SSL_CTX_set1_cert_store(srv->gw.ctx, st);
		X509_STORE_free(st);
	}
	bw_srv_policy_free(srv->policy);
	srv->policy = p;
	return 0;
}

static void reload_policy(struct bw_srv *srv)
{
	struct bw_err err = {0};
	int rc = bw_srv_policy_reload(srv, &err);

	if (rc == BW_ESTATE && srv->pki_wait_since)
		return; /* logged by pki_wait */
	if (rc)
		bw_srv_log(BW_SRV_LOG_ERR,
			   "PKI reload failed, keeping the "
			   "current policy: %s",
			   err.msg);
	else
		bw_srv_log(BW_SRV_LOG_DEBUG, "PKI reloaded (generation %lu)",
			   srv->generation);
}

static void pki_wait_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	reload_policy(arg);
}

/*
 * Every gateway.identity_poll_interval: one small read of the store's
 * identity change counter. When another process (any gateway's or admin
 * process's admin API, on this database) deny-listed a device or uploaded
 * a CRL or device CA, reload now, so the change holds on every gateway
 * within this interval instead of the PKI reload interval.
 */
static void identity_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bw_srv *srv = arg;
	int64_t n = 0;

	(void)fd, (void)what;
	/* a failed read waits for the next poll or the periodic reload
	 * (which then drops every cached decision) */
	if (srv->store->ops->identity_changes(srv->store, &n, NULL) != 0 ||
	    n == srv->store_id_changes)
		return;
	reload_policy(srv);
}

static void reload_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	reload_policy(arg);
}

static void resign_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bw_srv *srv = arg;
	struct bw_err err = {0};
	int n = 0;

	(void)fd, (void)what;
	/* without a timestamp key this only warns about expiring roles */
	bw_srv_repo_resign(srv->repo, time(NULL), &n, &err);
	if (n)
		bw_srv_log(BW_SRV_LOG_INFO, "re-signed %d timestamp(s)", n);
}

static void stop_listening(struct bw_srv_listener *l)
{
	if (l->http && l->bound) {
		evhttp_del_accept_socket(l->http, l->bound);
		l->bound = NULL;
	}
}

/* Finish: no new connections; requests in flight complete, then exit
 * when every connection is gone or after a grace period. */
static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bw_srv *srv = arg;

	(void)fd, (void)what;
	/* idle keep-alive connections do not hold the shutdown up */
	if (srv->inflight <= 0 || srv->nconns <= 0 ||
	    (int64_t)time(NULL) >= srv->stop_deadline) {
		if (srv->inflight > 0)
			bw_srv_log(BW_SRV_LOG_WARN,
				   "%ld request(s) still running at the end of "
				   "server.shutdown_grace",
				   srv->inflight);
		event_base_loopexit(srv->base, NULL);
	}
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct bw_srv *srv = arg;
	struct timeval tv = {0, 100000};
	(void)what;
	if (sig == SIGHUP) {
		bw_srv_log(BW_SRV_LOG_INFO, "SIGHUP: reloading the PKI");
		reload_policy(srv);
		return;
	}
	if (srv->stopping)
		return;
	srv->stopping = 1;
	bw_srv_log(BW_SRV_LOG_NOTICE, "stopping (signal %d)", (int)sig);
	stop_listening(&srv->gw);
	stop_listening(&srv->admin);
	stop_listening(&srv->reg);
	stop_listening(&srv->est);
	srv->stop_deadline = (int64_t)time(NULL) + srv->cfg->shutdown_grace;
	srv->ev_drain = event_new(srv->base, -1, EV_PERSIST, drain_cb, srv);
	if (!srv->ev_drain || event_add(srv->ev_drain, &tv))
		event_base_loopexit(srv->base, NULL);
}

/* Waves advance and halt on their own; the gateway's roles run them. */
static void waves_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bw_srv *srv = arg;

	(void)fd;
	(void)what;
	if (srv->cfg->roles & BW_SRV_ROLE_GATEWAY)
		bw_srv_waves_tick(srv);
}

static int add_timer(struct bw_srv *srv, struct event **ev, int64_t secs,
		     event_callback_fn cb)
{
	struct timeval tv = {(time_t)secs, 0};

	*ev = event_new(srv->base, -1, EV_PERSIST, cb, srv);
	return *ev && event_add(*ev, &tv) == 0 ? 0 : BW_ENOMEM;
}

static int start_listeners(struct bw_srv *srv, struct bw_err *err)
{
	struct bw_srv_config *c = srv->cfg;
	struct bw_srv_listener *ls[4] = {&srv->gw, &srv->admin, &srv->reg,
					 &srv->est};
	const char *addr[4] = {c->gw_listen, c->admin_listen, c->reg_listen,
			       c->est_listen};
	int on[4] = {c->roles & BW_SRV_ROLE_GATEWAY,
		     (c->roles & BW_SRV_ROLE_ADMIN) && srv->worker == 0,
		     reg_enabled(c), est_enabled(c)};
	int rc = 0;

	srv->gw = (struct bw_srv_listener){srv,
					   "gateway",
					   NULL,
					   NULL,
					   NULL,
					   1,
					   (long)c->max_events_body,
					   bw_srv_gateway_handle,
					   0,
					   0,
					   0,
					   NULL};
	srv->admin = (struct bw_srv_listener){srv,
					      "admin",
					      NULL,
					      NULL,
					      NULL,
					      0,
					      (long)c->max_upload_bytes,
					      bw_srv_admin_handle,
					      0,
					      0,
					      0,
					      NULL};
	srv->reg = (struct bw_srv_listener){srv,
					    "registration",
					    NULL,
					    NULL,
					    NULL,
					    0,
					    (long)c->reg_max_body,
					    bw_srv_registration_handle,
					    0,
					    0,
					    0,
					    NULL};
	/* EST: its own certificate; a client certificate is asked for and
	 * checked when sent (simplereenroll), not required (cacerts,
	 * csrattrs, simpleenroll with a token) */
	srv->est = (struct bw_srv_listener){srv,
					    "est",
					    NULL,
					    NULL,
					    NULL,
					    BW_SRV_TLS_CLIENT_OPTIONAL,
					    (long)BW_EST_BODY_MAX,
					    bw_srv_est_handle,
					    0,
					    0,
					    0,
					    NULL};
	for (int i = 0; i < 4; i++) {
		const char *cert = i == 3 ? c->est_tls_cert : c->tls_cert;
		const char *key = i == 3 ? c->est_tls_key : c->tls_key;

		if (!on[i])
			continue;
		int fd = srv->listen_fd[i];

		srv->listen_fd[i] = -1; /* the listener's now */
		if ((rc = bw_srv_tls_ctx_new(srv, cert, key, ls[i]->mtls,
					     &ls[i]->ctx, err)) ||
		    (rc = bw_srv_listener_start(srv, ls[i], addr[i], fd, err)))
			return rc;
	}
	return 0;
}

int bw_srv_new(struct bw_srv_config *cfg, struct bw_srv **out,
	       struct bw_err *err)
{
	struct bw_srv *srv = calloc(1, sizeof(*srv));
	int rc = BW_ENOMEM;

	*out = srv;
	if (!srv)
		return bw_err_set(err, rc, "out of memory");
	srv->cfg = cfg;
	srv->generation = 1; /* a connection's 0 means "never checked" */
	srv->id_epoch = 1;
	srv->nworkers = 1;
	for (int i = 0; i < 4; i++)
		srv->listen_fd[i] = -1;
	bw_srv_log_set_level(cfg->log_level);
	if ((rc = srv_open(srv, err)))
		return rc;
	if ((rc = bw_srv_idcache_new(&srv->idcache)) ||
	    (rc = bw_srv_metacache_new(&srv->metacache)) ||
	    (rc = bw_srv_devcache_new((size_t)cfg->device_cache,
				      &srv->devcache)) ||
	    (rc = srv->store->ops->identity_changes(srv->store,
						    &srv->store_id_changes,
						    err)))
		return rc == BW_ENOMEM ? bw_err_set(err, rc, "out of memory")
				       : rc;
	if (!(srv->base = bw_srv_event_base_new()))
		return bw_err_set(err, BW_ENOMEM, "event_base_new");
	/* check every TLS file too, without listening */
	if ((rc = bw_srv_tls_ctx_new(srv, cfg->tls_cert, cfg->tls_key, 1,
				     &srv->gw.ctx, err)))
		return rc;
	SSL_CTX_free(srv->gw.ctx);
	srv->gw.ctx = NULL;
	if (est_enabled(cfg)) {
		if ((rc = bw_srv_tls_ctx_new(srv, cfg->est_tls_cert,
					     cfg->est_tls_key,
					     BW_SRV_TLS_CLIENT_OPTIONAL,
					     &srv->est.ctx, err)))
			return rc;
		SSL_CTX_free(srv->est.ctx);
		srv->est.ctx = NULL;
	}
	return 0;
}

int bw_srv_run(struct bw_srv *srv)
{
	struct bw_err err = {0};
	int rc = 0;

	signal(SIGPIPE, SIG_IGN);
	/* a PKI change waits (workers 2..N) at most until worker 1's next
	 * periodic reload has logged it and this one has seen that */
	srv->pki_wait_bound = srv->cfg->policy_reload_interval +
			      srv->cfg->identity_poll_interval + 5;
	if ((rc = start_listeners(srv, &err))) {
		bw_srv_log(BW_SRV_LOG_ERR, "%s", err.msg);
		return rc;
	}
	srv->ev_sigterm = evsignal_new(srv->base, SIGTERM, signal_cb, srv);
	srv->ev_sigint = evsignal_new(srv->base, SIGINT, signal_cb, srv);
	srv->ev_sighup = evsignal_new(srv->base, SIGHUP, signal_cb, srv);
	if (!srv->ev_sigterm || !srv->ev_sigint || !srv->ev_sighup ||
	    event_add(srv->ev_sigterm, NULL) ||
	    event_add(srv->ev_sigint, NULL) ||
	    event_add(srv->ev_sighup, NULL) ||
	    add_timer(srv, &srv->ev_reload, srv->cfg->policy_reload_interval,
		      reload_cb) ||
	    add_timer(srv, &srv->ev_idpoll, srv->cfg->identity_poll_interval,
		      identity_poll_cb) ||
	    bw_srv_devcache_start(srv,
				  srv->cfg->last_seen_flush_interval * 1000))
		return BW_ENOMEM;
	/* jobs that must run once per server: worker 0's */
	if (srv->worker == 0 &&
	    (add_timer(srv, &srv->ev_resign, srv->cfg->resign_interval,
		       resign_cb) ||
	     add_timer(srv, &srv->ev_waves, srv->cfg->wave_evaluate_interval,
		       waves_cb)))
		return BW_ENOMEM;
	if (srv->worker == 0)
		resign_cb(-1, 0, srv); /* expired timestamps after a long stop */
	bw_srv_log(BW_SRV_LOG_NOTICE,
		   "started (factory %s, storage %s, worker %d of %d, pid %ld)",
		   bw_srv_policy_factory(srv->policy), srv->store->ops->name,
		   srv->worker + 1, srv->nworkers, (long)getpid());
	event_base_dispatch(srv->base);
	/* writes queued in the last turn, answered while the listeners
	 * still stand */
	if (srv->reg_batch)
		bw_srv_batch_run(srv->reg_batch);
	if (srv->ev_batch)
		bw_srv_batch_run(srv->ev_batch);
	/* the last device telemetry (last seen, tags) before the store
	 * closes */
	if (bw_srv_devcache_flush(srv, &err))
		bw_srv_log(BW_SRV_LOG_ERR,
			   "device telemetry not written at shutdown: %s",
			   err.msg);
	bw_srv_log(BW_SRV_LOG_NOTICE, "stopped");
	return 0;
}

static void listener_free(struct bw_srv_listener *l)
{
	if (l->http)
		evhttp_free(l->http); /* closes its connections */
	SSL_CTX_free(l->ctx);
	free(l->per_addr); /* after evhttp_free: its connections are gone */
	l->http = NULL;
	l->ctx = NULL;
	l->per_addr = NULL;
}

void bw_srv_free(struct bw_srv *srv)
{
	struct event *evs[9];

	if (!srv)
		return;
	evs[0] = srv->ev_sigterm, evs[1] = srv->ev_sigint;
	evs[2] = srv->ev_sighup, evs[3] = srv->ev_resign;
	evs[4] = srv->ev_reload, evs[5] = srv->ev_drain;
	evs[6] = srv->ev_waves;
	evs[7] = srv->ev_idpoll;
	evs[8] = srv->ev_pkiwait;
	listener_free(&srv->gw);
	listener_free(&srv->admin);
	listener_free(&srv->reg);
	listener_free(&srv->est);
	for (int i = 0; i < 4; i++)
		if (srv->listen_fd[i] >= 0)
			close(srv->listen_fd[i]);
	for (int i = 0; i < 9; i++)
		if (evs[i])
			event_free(evs[i]);
	bw_srv_devcache_free(srv->devcache); /* its timer before the base */
	bw_srv_batch_free(srv->reg_batch);
	bw_srv_batch_free(srv->ev_batch);
	if (srv->base)
		event_base_free(srv->base);
	for (int i = 0; i < 3; i++)
		bw_signer_free(srv->signers[i]);
	bw_signer_free(srv->log_key);
	bw_srv_repo_free(srv->repo);
	bw_srv_policy_free(srv->policy);
	bw_srv_idcache_free(srv->idcache);
	bw_srv_metacache_free(srv->metacache);
	bw_store_close(srv->store); /* checkpoints the WAL */
	if (srv->admin_token) {
		OPENSSL_cleanse(srv->admin_token, srv->admin_token_len);
		free(srv->admin_token);
	}
	OPENSSL_cleanse(srv->ticket_keys, sizeof(srv->ticket_keys));
	X509_free(srv->reg_ca);
	EVP_PKEY_free(srv->reg_ca_key);
	bw_signer_free(srv->reg_signer);
	free(srv);
}
