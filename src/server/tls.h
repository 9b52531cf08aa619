/*
 * bulwarkd's TLS plumbing (tls.c): server contexts, listeners, the device
 * identity of a connection and its per-certificate cache, and request
 * bookkeeping for a clean shutdown.
 */
#ifndef BW_SRV_TLS_H
#define BW_SRV_TLS_H

#include <openssl/ssl.h>

#include "bulwark/error.h"
#include "policy.h"

struct bw_srv;
struct bw_srv_listener;
struct bw_srv_idcache;
struct bw_device_rec;
struct evhttp_request;
struct event_base;

/* The gateway's per-certificate identity cache (tls.c). */
int bw_srv_idcache_new(struct bw_srv_idcache **out);
void bw_srv_idcache_free(struct bw_srv_idcache *c);


/*
 * Server SSL_CTX: TLS 1.2-1.3, cert/key from files, tickets (one per
 * handshake) and a session id context. mtls: client certificate required,
 * chain checked against the policy store and the identity callback.
 */
/* mtls values: no client certificate, required, asked for but optional */
enum {
	BW_SRV_TLS_NO_CLIENT = 0,
	BW_SRV_TLS_CLIENT_REQUIRED = 1,
	BW_SRV_TLS_CLIENT_OPTIONAL = 2,
};
int bw_srv_tls_ctx_new(struct bw_srv *srv, const char *cert, const char *key,
		       int mtls, SSL_CTX **out, struct bw_err *err);

/* An event loop for the listeners (epoll's changelist on, so that a
 * request costs no epoll_ctl when evhttp toggles reading). */
struct event_base *bw_srv_event_base_new(void);

/* A listening socket on "ip:port" (TCP_NODELAY; SO_REUSEPORT when
 * reuseport: one socket per worker on the same port). */
int bw_srv_listen_socket(const char *listen, int reuseport,
			 struct bw_err *err);

/* Start a listener on fd (a socket from bw_srv_listen_socket, owned by
 * the listener from now on), or on a new socket on "ip:port" if fd < 0. */
int bw_srv_listener_start(struct bw_srv *srv, struct bw_srv_listener *l,
			  const char *listen, int fd, struct bw_err *err);

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

#endif
