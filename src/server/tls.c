/*
 * TLS plumbing for the listeners (tls.h): SSL_CTX set-up, one
 * bufferevent_openssl per connection, a connection cap, a handshake
 * deadline, close_notify on close (so clients keep their session for
 * resumption), and the device identity check in the handshake and again
 * per request (a resumed session skips the verify callback).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "bulwark/hash.h"
#include "bulwark/pki.h"
#include "binding.h"
#include "devcache.h"
#include "est.h"
#include "log.h"
#include "policy.h"
#include "server.h"
#include "tls.h"

struct conn {
	struct bw_srv *srv;
	struct bw_srv_listener *l;
	struct bufferevent *bev;
	struct evbuffer_cb_entry *out_cb; /* out_added_cb on bev's output */
	struct evbuffer_cb_entry *in_cb;  /* in_added_cb on bev's input */
	struct event *kick; /* reads what OpenSSL holds (read_kick) */
	struct event *hs_timer;
	struct event *req_timer; /* the request deadline */
	int in_request;		 /* a handler has the current request */
	long addr_slot;		 /* per-address count taken, or -1 */
	int tracked;
	int logged; /* one refusal line per connection */
	int id_ok;
	unsigned long gen;
	struct bw_srv_identity id;
	struct bw_device_rec dev;
};

/* Connections per client address on a listener without client
 * authentication: a fixed table, one slot per address hash (a collision
 * shares a budget; memory never grows). */
#define ADDR_SLOTS 4096

struct bw_srv_addrcount {
	long n[ADDR_SLOTS];
};

static int g_conn_idx = -1;

static void read_kick(struct conn *c);

static void conn_free_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
			 long argl, void *argp)
{
	struct conn *c = ptr;

	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	if (!c)
		return;
	/* called from the bufferevent's destructor (its buffers are still
	 * there) or before it had one */
	if (c->out_cb)
		evbuffer_remove_cb_entry(bufferevent_get_output(c->bev),
					 c->out_cb);
	if (c->in_cb)
		evbuffer_remove_cb_entry(bufferevent_get_input(c->bev),
					 c->in_cb);
	if (c->kick)
		event_free(c->kick);
	if (c->hs_timer)
		event_free(c->hs_timer);
	if (c->req_timer)
		event_free(c->req_timer);
	if (c->addr_slot >= 0 && c->l->per_addr)
		c->l->per_addr->n[c->addr_slot]--;
	c->srv->nconns--;
	c->l->nconns--;
	free(c);
}

static struct conn *conn_of(SSL *ssl)
{
	return ssl ? SSL_get_ex_data(ssl, g_conn_idx) : NULL;
}

/*
 * Accepted identities per certificate (parsing and checking a
 * certificate costs more than the chain verification; a device that
 * reconnects should not pay it again). Keyed by the certificate's SHA-256,
 * valid while srv->id_epoch holds (see server.h: struct bw_srv), and only for successes:
 * a refusal is always re-examined. Direct-mapped: a collision just evicts.
 */
#define IDCACHE_SLOTS 4096

struct idcache_entry {
	unsigned char fp[32];
	unsigned long epoch; /* 0: empty */
	struct bw_srv_identity id;
};

struct bw_srv_idcache {
	struct idcache_entry e[IDCACHE_SLOTS];
};

int bw_srv_idcache_new(struct bw_srv_idcache **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : BW_ENOMEM;
}

void bw_srv_idcache_free(struct bw_srv_idcache *c)
{
	free(c);
}

static struct idcache_entry *idcache_slot(struct bw_srv *srv, X509 *cert,
					  unsigned char fp[32])
{
	unsigned int n = 0;

	if (srv->idcache == NULL ||
	    X509_digest(cert, EVP_sha256(), fp, &n) != 1 || n != 32)
		return NULL;
	return &srv->idcache->e[(fp[0] | (unsigned)fp[1] << 8) % IDCACHE_SLOTS];
}

/* A cached acceptance of this very certificate, still within its
 * validity period and decided under the current epoch. */
static int idcache_hit(struct bw_srv *srv, const struct idcache_entry *e,
		       const unsigned char fp[32], X509 *cert,
		       struct bw_srv_identity *id)
{
	time_t now = time(NULL);

	if (e == NULL || e->epoch != srv->id_epoch ||
	    CRYPTO_memcmp(e->fp, fp, 32) != 0 ||
	    X509_cmp_time(X509_get0_notBefore(cert), &now) >= 0 ||
	    X509_cmp_time(X509_get0_notAfter(cert), &now) <= 0)
		return 0;
	*id = e->id;
	return 1;
}

/*
 * Full identity check: policy, deny-list, then the device's binding
 * (binding.c). *cacheable: the decision may be cached for this
 * certificate (a match with the record; a first contact is decided again
 * until its record exists).
 */
static int identity_decide(struct bw_srv *srv, struct conn *c, X509 *cert,
			   int *cacheable, struct bw_err *err)
{
	enum bw_srv_binding_verdict v = BW_SRV_BINDING_REFUSED;
	struct bw_device_rec *dev = &c->dev;
	struct bw_srv_identity pol;
	int hit = 0, rc = bw_srv_policy_check(srv->policy, cert, time(NULL),
					      &c->id, err);

	*cacheable = 0;
	if (!rc) {
		rc = srv->store->ops->deny_has(srv->store, c->id.uuid, err);
		if (rc == 1)
			rc = bw_err_set(err, BW_ESTATE, "deny-listed");
	}
	if (!rc) { /* replaced by a rotation whose successor was used */
		rc = srv->store->ops->cert_deny_has(srv->store,
						    c->id.fingerprint, err);
		if (rc == 1)
			rc = bw_err_set(err, BW_ESTATE,
					"certificate replaced by rotation");
	}
	/* the first use of a rotated certificate completes the rotation:
	 * the binding moves to it (bw_srv_binding_set) before the check */
	if (!rc)
		rc = bw_srv_est_first_use(srv, &c->id, err);
	if (rc)
		return rc;
	pol = c->id;
	rc = bw_srv_devcache_get(srv, c->id.uuid, dev, &hit, err);
	if (rc && rc != BW_ENOTFOUND)
		return rc;
	rc = bw_srv_binding_check(rc == BW_ENOTFOUND ? NULL : dev, &c->id, &v,
				  err);
	if (hit && (rc || v != BW_SRV_BINDING_MATCH)) {
		/* a refusal is never decided on a cached copy of the record:
		 * its binding may have moved in another process */
		c->id = pol;
		rc = bw_srv_devcache_reread(srv, c->id.uuid, dev, err);
		if (rc && rc != BW_ENOTFOUND)
			return rc;
		rc = bw_srv_binding_check(rc == BW_ENOTFOUND ? NULL : dev,
					  &c->id, &v, err);
	}
	if (rc == BW_ESTATE)
		bw_srv_binding_refused(srv, &c->id, err->msg);
	*cacheable = rc == 0 && v == BW_SRV_BINDING_MATCH;
	return rc;
}

static int identity_check(struct bw_srv *srv, struct conn *c, X509 *cert)
{
	struct bw_err err = {0};
	struct idcache_entry *e = NULL;
	unsigned char fp[32];
	char who[40];
	int rc = 0, cacheable = 0;

	e = idcache_slot(srv, cert, fp);
	if (!idcache_hit(srv, e, fp, cert, &c->id)) {
		rc = identity_decide(srv, c, cert, &cacheable, &err);
		if (rc == 0 && cacheable && e != NULL) {
			memcpy(e->fp, fp, sizeof(e->fp));
			e->id = c->id;
			e->epoch = srv->id_epoch;
		}
	}
	c->id_ok = rc == 0;
	c->gen = srv->generation;
	if (rc && !c->logged) {
		c->logged = 1;
		bw_srv_log(BW_SRV_LOG_NOTICE, "gateway: refused device %s: %s",
			   bw_srv_log_clean(c->id.uuid, strlen(c->id.uuid), who,
					    sizeof(who)),
			   err.msg);
	}
	return rc;
}

static int verify_cb(int ok, X509_STORE_CTX *x)
{
	SSL *ssl =
	    X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct conn *c = conn_of(ssl);
	int depth = X509_STORE_CTX_get_error_depth(x);

	if (!c)
		return 0;
	if (!ok) {
		if (!c->logged) {
			c->logged = 1;
			bw_srv_log(
			    BW_SRV_LOG_NOTICE,
			    "gateway: refused certificate (depth %d): %s",
			    depth,
			    X509_verify_cert_error_string(
				X509_STORE_CTX_get_error(x)));
		}
		return 0;
	}
	if (depth != 0)
		return 1;
	return identity_check(c->srv, c, X509_STORE_CTX_get_current_cert(x)) ==
	       0;
}

const struct bw_srv_identity *bw_srv_tls_identity(struct bw_srv *srv,
						  struct evhttp_request *req)
{
	SSL *ssl = bw_srv_tls_ssl(req);
	struct conn *c = conn_of(ssl);
	X509 *cert = NULL;

	if (!c)
		return NULL;
	if (c->gen == srv->generation)
		return c->id_ok ? &c->id : NULL;
	cert = SSL_get0_peer_certificate(ssl);
	if (!cert)
		return NULL;
	c->logged = 0;
	return identity_check(srv, c, cert) == 0 ? &c->id : NULL;
}

struct bw_device_rec *bw_srv_tls_device(struct evhttp_request *req)
{
	struct conn *c = conn_of(bw_srv_tls_ssl(req));

	return c ? &c->dev : NULL;
}

SSL *bw_srv_tls_ssl(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev =
	    evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;

	return bev ? bufferevent_openssl_get_ssl(bev) : NULL;
}

const char *bw_srv_peer_addr(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	char *addr = NULL;
	ev_uint16_t port = 0;

	if (!evcon)
		return "?";
	evhttp_connection_get_peer(evcon, &addr, &port);
	return addr ? addr : "?";
}

/* libevent 2.1 never sends close_notify; OpenSSL 3 clients then drop the
 * session, and the next connection cannot resume it. */
static void close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;

	(void)arg;
	if (ssl && SSL_is_init_finished(ssl))
		SSL_shutdown(ssl);
}

/* The next request must arrive whole within request_timeout. */
static void req_deadline_arm(struct conn *c, long seconds)
{
	struct timeval tv = {(time_t)seconds, 0};

	c->in_request = 0;
	if (c->req_timer)
		evtimer_add(c->req_timer, &tv);
}

/*
 * After an answer: the next request must arrive whole within
 * request_timeout on the listeners without client authentication (a
 * stranger holds a connection no longer than that); a device that
 * authenticated with its certificate may keep its connection for the
 * idle timeout between check-ins (keep-alive), so a device polling at
 * about request_timeout never races the server closing it.
 */
static void request_done(struct evhttp_request *req, void *arg)
{
	struct bw_srv *srv = arg;
	struct conn *c = conn_of(bw_srv_tls_ssl(req));
	long next = (long)srv->cfg->request_timeout;

	srv->inflight--;
	if (c && c->l->mtls == BW_SRV_TLS_CLIENT_REQUIRED &&
	    srv->cfg->idle_timeout > next)
		next = (long)srv->cfg->idle_timeout;
	if (c) {
		req_deadline_arm(c, next);
		read_kick(c);
	}
}

void bw_srv_request_track(struct bw_srv *srv, struct evhttp_request *req)
{
	struct conn *c = conn_of(bw_srv_tls_ssl(req));

	srv->inflight++;
	if (c) { /* the request arrived whole: no deadline while it runs */
		c->in_request = 1;
		if (c->req_timer)
			evtimer_del(c->req_timer);
	}
	evhttp_request_set_on_complete_cb(req, request_done, srv);
}

void bw_srv_tls_track(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct conn *c = conn_of(bw_srv_tls_ssl(req));

	if (!c || c->tracked || !evcon)
		return;
	c->tracked = 1;
	evhttp_connection_set_closecb(evcon, close_cb, NULL);
}

/* The handshake deadline: shut the socket, evhttp then frees the
 * connection on the resulting EOF. */
static void hs_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	evutil_socket_t sfd = bufferevent_getfd(c->bev);

	(void)fd, (void)what;
	if (ssl && !SSL_is_init_finished(ssl) && sfd >= 0)
		shutdown(sfd, SHUT_RDWR);
}

/*
 * The request deadline: from the connection's start (handshake included)
 * or the previous answer, a whole request (head and body) must arrive
 * within request_timeout (after an answer to an authenticated device:
 * the idle timeout, see request_done), however slowly its bytes trickle
 * in (the idle timeout restarts on every byte). Shut the socket as on the
 * handshake deadline.
 */
static void req_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	evutil_socket_t sfd = bufferevent_getfd(c->bev);

	(void)fd, (void)what;
	if (!c->in_request && sfd >= 0) {
		bw_srv_log(BW_SRV_LOG_INFO,
			   "%s: no whole request within the deadline: closed",
			   c->l->name);
		shutdown(sfd, SHUT_RDWR);
	}
}

/*
 * Read-ahead. OpenSSL reads a whole flight from the socket at once
 * (SSL_CTX_set_read_ahead) instead of two read()s per TLS record (its
 * 5-byte header, then its body). But records it has already taken off the
 * socket are invisible to epoll, and libevent's OpenSSL bufferevent only
 * drains the rest of the current record (SSL_pending), so whenever OpenSSL
 * may hold more (SSL_has_pending) at a point where libevent stops reading
 * or starts reading again, the connection is kicked: its read event is
 * activated as if the socket were readable. The points: the end of the
 * handshake (a request sent with the client's Finished), every read (a
 * second record read with the first), an answer queued (evhttp enables
 * reading again) and a request completed.
 */
static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

	(void)fd, (void)what;
	/* only while the bufferevent reads (its read event added): not
	 * while evhttp holds reading off (a later kick comes when it
	 * resumes), nor once the bufferevent is being freed */
	if (ssl && SSL_is_init_finished(ssl) && SSL_has_pending(ssl) &&
	    event_pending(&c->bev->ev_read, EV_READ, NULL))
		event_active(&c->bev->ev_read, EV_READ, 1);
}

/* Activated, not called: the bufferevent may be in the middle of
 * switching its events from the handshake to the open connection. */
static void read_kick(struct conn *c)
{
	SSL *ssl = c->bev ? bufferevent_openssl_get_ssl(c->bev) : NULL;

	if (c->kick && ssl && SSL_has_pending(ssl))
		event_active(c->kick, EV_TIMEOUT, 1);
}

static void in_added_cb(struct evbuffer *buf,
			const struct evbuffer_cb_info *info, void *arg)
{
	(void)buf;
	if (info->n_added)
		read_kick(arg);
}

/* At the start of the handshake (the socket is known by then): count the
 * peer's address, or shut the connection when it is over its cap. At its
 * end: read what OpenSSL already holds. */
static void info_cb(const SSL *ssl, int where, int ret)
{
	struct conn *c = conn_of((SSL *)ssl);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	unsigned char h[32];
	int fd = SSL_get_fd(ssl);
	long slot;

	(void)ret;
	if ((where & SSL_CB_HANDSHAKE_DONE) && c)
		read_kick(c);
	if (!(where & SSL_CB_HANDSHAKE_START) || !c || c->addr_slot != -1 ||
	    !c->l->per_addr || fd < 0)
		return;
	c->addr_slot = -2; /* decided once per connection */
	memset(&ss, 0, sizeof(ss));
	if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
		return;
	/* the address bytes only (the port differs per connection) */
	if (ss.ss_family == AF_INET)
		bw_hash_buf(BW_HASH_SHA256,
			    &((struct sockaddr_in *)&ss)->sin_addr, 4, h);
	else
		bw_hash_buf(BW_HASH_SHA256,
			    &((struct sockaddr_in6 *)&ss)->sin6_addr, 16, h);
	slot = (long)((h[0] | (unsigned)h[1] << 8) % ADDR_SLOTS);
	if (c->l->per_addr->n[slot] >= c->l->max_per_addr) {
		bw_srv_log(BW_SRV_LOG_NOTICE,
			   "%s: too many connections from one address: "
			   "closed",
			   c->l->name);
		shutdown(fd, SHUT_RDWR);
		return;
	}
	c->l->per_addr->n[slot]++;
	c->addr_slot = slot;
}

/*
 * An answer queued on an open TLS connection is written in the same loop
 * turn. bufferevent_openssl on a socket only adds its write event when
 * output is queued and writes once epoll reports the socket writable: one
 * more epoll_wait and two epoll_ctl per answer, and the answer leaves a
 * turn later. Activating that write event runs its own writer (SSL_write,
 * and EPOLLOUT only if the socket is full) now; with the changelist
 * (bw_srv_event_base_new) the event's add and its removal once the output
 * is empty cancel out. libevent has no call for this (bufferevent_flush is
 * a no-op for OpenSSL bufferevents), hence the event from
 * bufferevent_struct.h.
 */
static void out_added_cb(struct evbuffer *buf,
			 const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;
	SSL *ssl = NULL;

	(void)buf;
	if (info->n_added == 0)
		return;
	ssl = bufferevent_openssl_get_ssl(c->bev);
	if (ssl && SSL_is_init_finished(ssl)) {
		event_active(&c->bev->ev_write, EV_WRITE, 1);
		read_kick(c);
	}
}

static struct bufferevent *bev_cb(struct event_base *base, void *arg)
{
	struct bw_srv_listener *l = arg;
	struct bw_srv *srv = l->srv;
	struct timeval tv = {(time_t)srv->cfg->handshake_timeout, 0};
	struct conn *c = NULL;
	SSL *ssl = NULL;

	/* Over the cap: a plain socket; evhttp answers the ClientHello with
	 * 400 and closes, and handlers refuse anything without TLS. */
	if (l->nconns >= l->max_conns || srv->stopping)
		return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!(c = calloc(1, sizeof(*c))))
		return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!(ssl = SSL_new(l->ctx))) {
		free(c);
		return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	}
	c->srv = srv;
	c->l = l;
	c->addr_slot = -1;
	srv->nconns++; /* conn_free_cb gives it back with the SSL */
	l->nconns++;
	if (!SSL_set_ex_data(ssl, g_conn_idx, c)) {
		srv->nconns--;
		l->nconns--;
		free(c);
		SSL_free(ssl);
		return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	}
	c->bev = bufferevent_openssl_socket_new(
	    base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) /* ssl and c were freed with it */
		return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	c->out_cb =
	    evbuffer_add_cb(bufferevent_get_output(c->bev), out_added_cb, c);
	c->in_cb =
	    evbuffer_add_cb(bufferevent_get_input(c->bev), in_added_cb, c);
	c->kick = event_new(base, -1, 0, kick_cb, c);
	if (!c->kick) /* nothing could read what OpenSSL read ahead */
		SSL_set_read_ahead(ssl, 0);
	c->hs_timer = evtimer_new(base, hs_timeout_cb, c);
	if (c->hs_timer)
		evtimer_add(c->hs_timer, &tv);
	c->req_timer = evtimer_new(base, req_timeout_cb, c);
	req_deadline_arm(c, (long)(srv->cfg->handshake_timeout +
				   srv->cfg->request_timeout));
	return c->bev;
}

struct event_base *bw_srv_event_base_new(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base = NULL;

	/* With the changelist, an fd's event removed and added again within
	 * one loop iteration (evhttp disables reading while it answers and
	 * enables it again once the answer is queued) costs no epoll_ctl:
	 * two to four system calls fewer per request. Safe here because no
	 * socket of ours is dup()ed (the changelist's one caveat). */
	if (cfg && event_config_set_flag(
		       cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) == 0)
		base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base ? base : event_base_new();
}

static int ctx_load_keys(SSL_CTX *ctx, const char *cert, const char *key,
			 struct bw_err *err)
{
	EVP_PKEY *pk = NULL;
	int rc = 0;

	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		return bw_err_set(err, BW_EFORMAT, "%s: no usable certificate",
				  cert);
	/* refuses a key file readable by group or others */
	if ((rc = bw_pki_key_load(key, &pk, err)))
		return rc;
	if (SSL_CTX_use_PrivateKey(ctx, pk) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		rc = bw_err_set(err, BW_ECRYPTO, "%s does not match %s", key,
				cert);
	EVP_PKEY_free(pk);
	return rc;
}

static int ctx_mtls(struct bw_srv *srv, SSL_CTX *ctx, int mtls,
		    struct bw_err *err)
{
	X509_STORE *st = bw_srv_policy_store(srv->policy);
	STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
	X509_NAME *fn = NULL;

	if (!st || !names)
		goto fail;
	fn = X509_NAME_dup(
	    X509_get_subject_name(bw_srv_policy_factory_cert(srv->policy)));
	if (!fn || !sk_X509_NAME_push(names, fn))
		goto fail;
	fn = NULL; /* transferred */
	SSL_CTX_set_client_CA_list(ctx, names);
	names = NULL;
	SSL_CTX_set_cert_store(ctx, st);
	SSL_CTX_set_verify(ctx,
			   mtls == BW_SRV_TLS_CLIENT_OPTIONAL
			       ? SSL_VERIFY_PEER
			       : SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
			   verify_cb);
	SSL_CTX_set_verify_depth(ctx, 2);
	SSL_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
	return 0;
fail:
	X509_NAME_free(fn);
	sk_X509_NAME_pop_free(names, X509_NAME_free);
	X509_STORE_free(st);
	return bw_err_set(err, BW_ENOMEM, "TLS trust store");
}

/*
 * The chain this server sends, decided once: the certificates after the
 * leaf in the certificate file, or, when the file has none, the ones the
 * trust store holds up to (not including) the root. Without this OpenSSL
 * rebuilds and verifies the chain from the trust store on every full
 * handshake (X509_verify_cert, a signature check per handshake) and sends
 * the root too, which every client already holds as its anchor and
 * ignores: about 400 bytes more in the server's first flight and more
 * work for the client.
 */
static void ctx_own_chain(SSL_CTX *ctx)
{
	STACK_OF(X509) *chain = NULL;

	if (SSL_CTX_get0_chain_certs(ctx, &chain) == 1 &&
	    sk_X509_num(chain) == 0)
		(void)SSL_CTX_build_cert_chain(
		    ctx, SSL_BUILD_CHAIN_FLAG_NO_ROOT |
			     SSL_BUILD_CHAIN_FLAG_IGNORE_ERROR |
			     SSL_BUILD_CHAIN_FLAG_CLEAR_ERROR);
	ERR_clear_error();
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
}

int bw_srv_tls_ctx_new(struct bw_srv *srv, const char *cert, const char *key,
		       int mtls, SSL_CTX **out, struct bw_err *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	static const unsigned char sid[] = "bulwarkd";
	int rc = BW_ECRYPTO;

	*out = NULL;
	if (g_conn_idx < 0)
		g_conn_idx =
		    SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_free_cb);
	if (!ctx || g_conn_idx < 0) {
		bw_err_set(err, rc, "SSL_CTX_new");
		goto out;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
				     SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* resumption with client auth needs a session id context (OpenSSL
	 * refuses to resume without one); one ticket per handshake is
	 * cheaper than OpenSSL's default of two */
	SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
	SSL_CTX_set_num_tickets(ctx, 1);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	if (srv->have_ticket_keys &&
	    SSL_CTX_set_tlsext_ticket_keys(ctx, srv->ticket_keys,
					   sizeof(srv->ticket_keys)) != 1) {
		bw_err_set(err, rc, "TLS ticket keys");
		goto out;
	}
	/*
	 * One process (no workers sharing ticket keys): sessions stay in
	 * this process's memory and a ticket only names one. Resuming from
	 * a sealed ticket makes OpenSSL 3.0 decode the session it holds,
	 * the client certificate included, and decoding that certificate's
	 * key costs about a third of a resumed check-in's CPU. Oldest
	 * sessions are dropped beyond the cap (an expired one is refused
	 * when it is looked up), so no periodic sweep of the whole cache.
	 * A client that closes without close_notify would otherwise end
	 * its connection in a fatal alert, and OpenSSL drops the session of
	 * a connection that ended so: the end of the stream is read as a
	 * close (every request is framed by its length or its chunks, so a
	 * cut request is still incomplete and refused).
	 */
	if (!srv->have_ticket_keys && srv->cfg->tls_session_cache > 0) {
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET |
					     SSL_OP_IGNORE_UNEXPECTED_EOF);
		SSL_CTX_set_session_cache_mode(
		    ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_AUTO_CLEAR);
		SSL_CTX_sess_set_cache_size(ctx,
					    (long)srv->cfg->tls_session_cache);
	}
	if ((rc = ctx_load_keys(ctx, cert, key, err)) ||
	    (mtls && (rc = ctx_mtls(srv, ctx, mtls, err))))
		goto out;
	ctx_own_chain(ctx);
	*out = ctx;
	ctx = NULL; /* transferred */
out:
	SSL_CTX_free(ctx);
	return rc;
}

int bw_srv_listen_socket(const char *listen_on, int reuseport,
			 struct bw_err *err)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t salen = sizeof(*s4);
	char host[64];
	uint16_t port = 0;
	int fd = -1, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (bw_srv_listen_parse(listen_on, host, sizeof(host), &port))
		return bw_err_set(err, BW_EINVAL, "bad listen address");
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
	} else {
		inet_pton(AF_INET6, host, &s6->sin6_addr);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		salen = sizeof(*s6);
	}
	fd =
	    socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return bw_err_set(err, BW_EIO, "socket: %s", strerror(errno));
	/* SO_REUSEPORT only for the sockets of one bulwarkd's workers (the
	 * supervisor binds them all before any worker starts); otherwise a
	 * second server on the port must fail to start, not share the port
	 * silently. TCP_NODELAY is inherited by accepted sockets. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (reuseport &&
	     setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one))) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ||
	    (ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(fd, (struct sockaddr *)&ss, salen) || listen(fd, 1024)) {
		int e = errno;

		close(fd);
		return bw_err_set(err, BW_EIO, "listen on %s: %s", listen_on,
				  strerror(e));
	}
	return fd;
}

int bw_srv_listener_start(struct bw_srv *srv, struct bw_srv_listener *l,
			  const char *listen_on, int fd, struct bw_err *err)
{
	if (fd < 0 && (fd = bw_srv_listen_socket(listen_on, 0, err)) < 0)
		return fd;
	l->srv = srv;
	/* the gateway authenticates every client; the others do not, and
	 * get a smaller cap of their own and one per address */
	if (!strcmp(l->name, "gateway")) {
		l->max_conns = (long)srv->cfg->max_connections;
	} else {
		l->max_conns = (long)srv->cfg->max_unauth_connections;
		l->max_per_addr = (long)srv->cfg->max_connections_per_address;
		if (!l->per_addr &&
		    !(l->per_addr = calloc(1, sizeof(*l->per_addr)))) {
			close(fd);
			return bw_err_set(err, BW_ENOMEM, "out of memory");
		}
	}
	SSL_CTX_set_info_callback(l->ctx, info_cb);
	SSL_CTX_set_read_ahead(l->ctx, 1);
	l->http = evhttp_new(srv->base);
	if (!l->http) {
		close(fd);
		return bw_err_set(err, BW_ENOMEM, "evhttp_new");
	}
	evhttp_set_bevcb(l->http, bev_cb, l);
	evhttp_set_gencb(l->http, l->handler, srv);
	evhttp_set_max_headers_size(l->http, srv->cfg->max_header_bytes);
	evhttp_set_max_body_size(l->http, l->max_body);
	evhttp_set_timeout(l->http, (int)srv->cfg->idle_timeout);
	evhttp_set_allowed_methods(
	    l->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
			 EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	if (!(l->bound = evhttp_accept_socket_with_handle(l->http, fd))) {
		close(fd);
		return bw_err_set(err, BW_EIO, "evhttp_accept_socket");
	}
	bw_srv_log(BW_SRV_LOG_INFO, "%s listening on %s", l->name, listen_on);
	return 0;
}
