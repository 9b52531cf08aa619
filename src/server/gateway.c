/*
 * The device gateway (mutual TLS): repository metadata, target files,
 * events and the device's own record. Identity comes only from the
 * client certificate (tls.c); the response never says why a device was
 * refused, the log does.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "bulwark/buf.h"
#include "bulwark/tuf.h"
#include "events.h"
#include "admin.h"
#include "gateway.h"
#include "http.h"
#include "est.h"
#include "batch.h"
#include "binding.h"
#include "devcache.h"
#include "log.h"
#include "policy.h"
#include "server.h"
#include "tls.h"
#include "waves.h"

#define META_NAME_MAX 64

/* Bind a first contact, or a record from before bindings, to this
 * connection's certificate. Inside one transaction that re-reads the
 * record, so two gateways seeing two certificates for one new UUID at
 * the same moment bind only one. */
static int device_bind(struct bw_srv *srv, struct bw_device_rec *dev,
		       const struct bw_srv_identity *id, int64_t now,
		       struct bw_err *err)
{
	struct bw_store *st = srv->store;
	struct bw_srv_identity again = *id;
	struct bw_srv_binding b;
	enum bw_srv_binding_verdict v = BW_SRV_BINDING_REFUSED;
	int found = 1, rc = st->ops->begin(st, err);

	if (rc)
		return rc;
	rc = st->ops->device_get(st, id->uuid, dev, err);
	if (rc == BW_ENOTFOUND) {
		memset(dev, 0, sizeof(*dev));
		snprintf(dev->uuid, sizeof(dev->uuid), "%s", id->uuid);
		dev->first_seen = now;
		found = 0;
		rc = 0;
	}
	if (!rc)
		rc = bw_srv_binding_check(found ? dev : NULL, &again, &v, err);
	if (!rc && v != BW_SRV_BINDING_MATCH) {
		bw_srv_binding_of_identity(&again, &b);
		rc = bw_srv_binding_set(srv, dev, &b,
					v == BW_SRV_BINDING_NEW
					    ? "first contact"
					    : "legacy record",
					now, err);
	}
	if (!rc)
		rc = st->ops->commit(st, err);
	if (rc)
		st->ops->rollback(st);
	else
		bw_srv_devcache_put(srv, dev);
	return rc;
}

/*
 * The device's record for this connection: taken once per connection
 * from the device cache (read from the store on a miss), compared with
 * the certificate again (a decision cached before the record changed is
 * never trusted alone), bound on first contact; then tag and last-seen,
 * noted for the next batched write only when something changed or the
 * last-seen throttle expired. BW_ESTATE: refuse the request.
 */
static int device_touch(struct bw_srv *srv, struct evhttp_request *req,
			const struct bw_srv_identity *id, const char *tag)
{
	struct bw_device_rec *dev = bw_srv_tls_device(req);
	struct bw_srv_identity chk = *id;
	enum bw_srv_binding_verdict v = BW_SRV_BINDING_REFUSED;
	struct bw_err err = {0};
	int64_t now = time(NULL);
	int changed = 0, rc = 0, found = 1, hit = 0;
	int64_t not_after = 0;

	if (!dev)
		return BW_EINVAL;
	if (strcmp(dev->uuid, id->uuid)) {
		rc = bw_srv_devcache_get(srv, id->uuid, dev, &hit, &err);
		if (rc == BW_ENOTFOUND) {
			found = 0;
		} else if (rc) {
			bw_srv_log(BW_SRV_LOG_ERR, "device lookup: %s",
				   err.msg);
			dev->uuid[0] = '\0';
			return rc;
		}
	}
	rc = bw_srv_binding_check(found ? dev : NULL, &chk, &v, &err);
	if (hit && (rc || v != BW_SRV_BINDING_MATCH)) {
		/* neither refuse nor bind on a cached copy: the binding may
		 * have moved in another process since it was read */
		chk = *id;
		rc = bw_srv_devcache_reread(srv, id->uuid, dev, &err);
		found = rc != BW_ENOTFOUND;
		if (rc == 0 || rc == BW_ENOTFOUND)
			rc = bw_srv_binding_check(found ? dev : NULL, &chk, &v,
						  &err);
	}
	if (!rc && v != BW_SRV_BINDING_MATCH)
		rc = device_bind(srv, dev, id, now, &err);
	if (rc) {
		bw_srv_log(BW_SRV_LOG_NOTICE, "gateway: refused device %s: %s",
			   id->uuid, err.msg);
		if (rc == BW_ESTATE)
			bw_srv_binding_refused(srv, id, err.msg);
		dev->uuid[0] = '\0';
		srv->generation++; /* this connection decides again */
		srv->id_epoch++;
		return rc;
	}
	if (tag[0] && strcmp(dev->tag, tag))
		changed = 1;
	else
		tag = ""; /* the note leaves the stored tag alone */
	/* a record bound before the store kept notAfter learns it from the
	 * certificate on record (the binding matched) */
	if (!dev->cert_not_after && id->not_after) {
		dev->cert_not_after = id->not_after;
		not_after = id->not_after;
		changed = 1;
	}
	if (!changed && now - dev->last_seen < srv->cfg->last_seen_interval)
		return 0;
	if (tag[0])
		snprintf(dev->tag, sizeof(dev->tag), "%s", tag);
	dev->last_seen = now;
	if (bw_srv_devcache_note(srv, dev->uuid, now, tag, "", not_after,
				 &err))
		bw_srv_log(BW_SRV_LOG_ERR, "device update: %s", err.msg);
	return 0;
}

/* "timestamp.json", "snapshot.json", "targets.json", "root.json" or
 * "<N>.<role>.json" (N: 1..2^53). */
int bw_srv_meta_name_parse(const char *name, char *role, size_t rolelen,
			   int64_t *version)
{
	static const char *const roles[] = {"root", "timestamp", "snapshot",
					    "targets"};
	const char *p = name;
	int64_t v = 0;

	*version = 0;
	if (strnlen(name, META_NAME_MAX + 1) > META_NAME_MAX)
		return BW_EFORMAT;
	if (*p >= '1' && *p <= '9') {
		uint64_t n = 0;

		if (bw_num_read(&p, UINT64_C(1) << 53, &n) != 0 || *p++ != '.')
			return BW_EFORMAT;
		v = (int64_t)n;
	}
	for (size_t i = 0; i < 4; i++) {
		size_t n = strlen(roles[i]);

		if (!strncmp(p, roles[i], n) && !strcmp(p + n, ".json")) {
			/* timestamp is never versioned (TUF 5.4) */
			if (i == 1 && v)
				return BW_EFORMAT;
			snprintf(role, rolelen, "%s", roles[i]);
			*version = v;
			return 0;
		}
	}
	return BW_EFORMAT;
}

/*
 * The newest (unversioned) metadata per flavour, tag and role, so that a
 * check-in answered 304 costs no database read. A copy is used while no
 * metadata was written through this process's store since it was read
 * (exact), and for at most META_CACHE_MS (a write by another process on
 * the same database shows within that time; for TUF a timestamp a moment
 * old is as good as the newest, freshness being judged by its expiry).
 */
#define META_CACHE_SLOTS 64
#define META_CACHE_MS 1000

struct bw_srv_metacache {
	struct {
		struct bw_meta_rec m; /* m.data owned */
		uint64_t writes;
		int64_t at_ms;
		int used;
	} e[META_CACHE_SLOTS];
	unsigned next; /* round-robin eviction */
};

int bw_srv_metacache_new(struct bw_srv_metacache **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : BW_ENOMEM;
}

void bw_srv_metacache_free(struct bw_srv_metacache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < META_CACHE_SLOTS; i++)
		free(c->e[i].m.data);
	free(c);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The newest metadata of flavour/tag/role: from the cache, or read and
 * kept. *m is borrowed from the cache (do not free). */
static int meta_latest(struct bw_srv *srv, const char *flavour,
		       const char *tag, const char *role,
		       const struct bw_meta_rec **m, struct bw_err *err)
{
	struct bw_srv_metacache *c = srv->metacache;
	int64_t t = now_ms();
	size_t i;
	int rc;

	for (i = 0; i < META_CACHE_SLOTS; i++) {
		if (c->e[i].used && !strcmp(c->e[i].m.role, role) &&
		    !strcmp(c->e[i].m.flavour, flavour) &&
		    !strcmp(c->e[i].m.tag, tag))
			break;
	}
	if (i < META_CACHE_SLOTS && c->e[i].writes == srv->store->meta_writes &&
	    t - c->e[i].at_ms < META_CACHE_MS) {
		*m = &c->e[i].m;
		return 0;
	}
	if (i == META_CACHE_SLOTS)
		i = c->next++ % META_CACHE_SLOTS;
	free(c->e[i].m.data);
	memset(&c->e[i], 0, sizeof(c->e[i]));
	rc = srv->store->ops->meta_get(srv->store, flavour, tag, role, 0,
				       &c->e[i].m, err);
	if (rc != 0)
		return rc;
	/* meta_get fills the record's data; the key fields are ours */
	snprintf(c->e[i].m.flavour, sizeof(c->e[i].m.flavour), "%s", flavour);
	snprintf(c->e[i].m.tag, sizeof(c->e[i].m.tag), "%s", tag);
	snprintf(c->e[i].m.role, sizeof(c->e[i].m.role), "%s", role);
	c->e[i].writes = srv->store->meta_writes;
	c->e[i].at_ms = t;
	c->e[i].used = 1;
	*m = &c->e[i].m;
	return 0;
}

static void serve_meta(struct bw_srv *srv, struct evhttp_request *req,
		       const struct bw_srv_identity *id, const char *tag,
		       const char *name)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	const char *flavour = id->production ? "production" : "ci";
	const char *inm = bw_srv_http_header(req, "If-None-Match", 128);
	struct bw_meta_rec own;
	const struct bw_meta_rec *m = &own;
	struct bw_err err = {0};
	char role[16], etag[70];
	int64_t version = 0;
	int rc = 0;

	memset(&own, 0, sizeof(own));
	if (bw_srv_meta_name_parse(name, role, sizeof(role), &version)) {
		bw_srv_http_status(req, 404);
		return;
	}
	/* root and CI roles are per flavour; production roles per tag */
	if (strcmp(role, "root") == 0 || !id->production)
		tag = "";
	else if (!tag[0]) {
		/* a production device that names no tag, has none on record
		 * and no [gateway] default_tag: say why, not a bare 404 */
		bw_srv_http_error(req, 404,
				  "no tag: send x-ats-tags (sota.toml "
				  "pacman.tags) or set [gateway] default_tag");
		return;
	}
	/* A numbered version at or above the newest (a client's probe for
	 * the next root on every refresh, TUF 5.3.4) is answered from the
	 * cache, as fresh as the newest itself; older ones are read. */
	rc = meta_latest(srv, flavour, tag, role, &m, &err);
	if (rc == 0 && version > m->version)
		rc = BW_ENOTFOUND;
	else if (rc == 0 && version != 0 && version < m->version) {
		m = &own;
		rc = srv->store->ops->meta_get(srv->store, flavour, tag, role,
					       version, &own, &err);
	}
	if (rc) {
		if (rc != BW_ENOTFOUND)
			bw_srv_log(BW_SRV_LOG_ERR, "metadata: %s", err.msg);
		bw_srv_http_status(req, rc == BW_ENOTFOUND ? 404 : 500);
		free(own.data);
		return;
	}
	snprintf(etag, sizeof(etag), "\"%s\"", m->sha256);
	evhttp_add_header(oh, "ETag", etag);
	evhttp_add_header(oh, "Cache-Control", "no-cache");
	if (inm && !strcmp(inm, etag)) {
		bw_srv_http_status(req, 304);
	} else {
		evhttp_add_header(oh, "Content-Type", "application/json");
		evbuffer_add(evhttp_request_get_output_buffer(req), m->data,
			     m->len);
		evhttp_send_reply(req, 200, "OK", NULL);
	}
	free(own.data);
}

static int target_open(struct bw_srv *srv, const char *path, int *fd,
		       uint64_t *size)
{
	char full[BW_SRV_PATH_MAX + 1100];
	struct stat st;
	int n =
	    snprintf(full, sizeof(full), "%s/%s", srv->cfg->targets_dir, path);

	if (n < 0 || (size_t)n >= sizeof(full))
		return BW_ENOTFOUND;
	*fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (*fd < 0)
		return BW_ENOTFOUND;
	if (fstat(*fd, &st) || !S_ISREG(st.st_mode)) {
		close(*fd);
		*fd = -1;
		return BW_ENOTFOUND;
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

/*
 * With consistent snapshots a client asks for "<dir>/<hex digest>.<name>"
 * (TUF 5.7.3). Files are stored once under their plain name, so drop the
 * digest prefix of the last segment (integrity comes from TUF, which
 * checks length and hashes of what it downloads).
 */
static int strip_digest(char *path)
{
	char *base = strrchr(path, '/');
	size_t n = 0;

	base = base ? base + 1 : path;
	while (base[n] && ((base[n] >= '0' && base[n] <= '9') ||
			   (base[n] >= 'a' && base[n] <= 'f')))
		n++;
	if ((n != 64 && n != 128) || base[n] != '.' || !base[n + 1])
		return 0;
	memmove(base, base + n + 1, strlen(base + n + 1) + 1);
	return 1;
}

/*
 * Entitlement: a device may download a target only if the newest
 * top-level targets metadata of its own flavour (and, for production,
 * its tag) lists it. Read from the metadata cache; parsed per request
 * (downloads are rare beside check-ins). Delegated targets are not
 * served by the gateway.
 */
static int target_listed(struct bw_srv *srv, const struct bw_srv_identity *id,
			 const char *tag, const char *name)
{
	const struct bw_meta_rec *m = NULL;
	struct bw_err err = {0};
	json_t *md = NULL, *targets = NULL;
	int listed = 0;

	if (meta_latest(srv, id->production ? "production" : "ci",
			id->production ? tag : "", "targets", &m, &err))
		return bw_srv_waves_target_allowed(srv, id, tag, name);
	md = json_loadb((const char *)m->data, m->len, JSON_REJECT_DUPLICATES,
			NULL);
	targets = json_object_get(json_object_get(md, "signed"), "targets");
	listed = json_is_object(targets) &&
		 json_object_get(targets, name) != NULL;
	json_decref(md);
	/* or the release of a wave that admitted this device */
	return listed || bw_srv_waves_target_allowed(srv, id, tag, name);
}

static void serve_target(struct bw_srv *srv, struct evhttp_request *req,
			 const struct bw_srv_identity *id, const char *tag,
			 const char *raw)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	uint64_t size = 0, first = 0, last = 0;
	char *path = NULL, cr[96];
	size_t plen = 0;
	int fd = -1, rc = 0, code = 200;

	path = evhttp_uridecode(raw, 0, &plen);
	if (!path || strlen(path) != plen ||
	    !bw_tuf_target_path_is_safe(path, plen) ||
	    ((!target_listed(srv, id, tag, path) ||
	      target_open(srv, path, &fd, &size)) &&
	     (!strip_digest(path) ||
	      !bw_tuf_target_path_is_safe(path, strlen(path)) ||
	      !target_listed(srv, id, tag, path) ||
	      target_open(srv, path, &fd, &size)))) {
		/* not this device's target, or no such file: the same 404 */
		bw_srv_http_status(req, 404);
		goto out;
	}
	rc = bw_srv_range_parse(bw_srv_http_header(req, "Range", 64), size,
				&first, &last);
	if (rc == BW_EFORMAT) {
		snprintf(cr, sizeof(cr), "bytes */%" PRIu64, size);
		evhttp_add_header(oh, "Content-Range", cr);
		bw_srv_http_status(req, 416);
		goto out;
	}
	if (rc == 0) {
		code = 206;
		snprintf(cr, sizeof(cr),
			 "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last,
			 size);
		evhttp_add_header(oh, "Content-Range", cr);
	} else {
		first = 0;
		last = size ? size - 1 : 0;
	}
	evhttp_add_header(oh, "Accept-Ranges", "bytes");
	evhttp_add_header(oh, "Content-Type", "application/octet-stream");
	if (size && evbuffer_add_file(evhttp_request_get_output_buffer(req), fd,
				      (ev_off_t)first,
				      (ev_off_t)(last - first + 1)) == 0)
		fd = -1; /* transferred */
	evhttp_send_reply(req, code, code == 206 ? "Partial Content" : "OK",
			  NULL);
out:
	if (fd >= 0)
		close(fd);
	free(path);
}

/*
 * POST /events under group commit (batch.h): the events of every device
 * that posts in one turn of the event loop are written in one light
 * transaction, each device's in a savepoint of its own, and each device
 * gets its 204 only after that commit (an acknowledged event is stored).
 */
struct ev_job {
	struct bw_srv_batch_job job; /* first: the batch's handle */
	struct evhttp_request *req;
	char uuid[BW_STORE_UUID_MAX + 1];
	char tag[BW_STORE_TAG_MAX + 1];
	int production;
	json_t *arr;
	const uint8_t *body; /* the request's, alive until it is answered */
	size_t len;
	char target[BW_STORE_NAME_MAX + 1];
	struct bw_err err;
};

static int ev_run(struct bw_srv *srv, struct bw_srv_batch_job *bj)
{
	struct ev_job *j = (struct ev_job *)bj;

	return bw_srv_events_write(srv->store, j->uuid, j->arr,
				   srv->cfg->events_per_device, time(NULL),
				   j->target, sizeof(j->target), &j->err);
}

static void ev_done(struct bw_srv *srv, struct bw_srv_batch_job *bj, int rc,
		    const struct bw_err *commit_err)
{
	struct ev_job *j = (struct ev_job *)bj;
	struct bw_device_rec *dev = bw_srv_tls_device(j->req);
	struct bw_err err = {0};

	if (rc) {
		bw_srv_log(BW_SRV_LOG_ERR, "events from %s not stored: %s",
			   j->uuid, commit_err ? commit_err->msg : j->err.msg);
		bw_srv_http_status(j->req, 500);
		goto out;
	}
	if (j->target[0] && dev && !strcmp(dev->uuid, j->uuid) &&
	    strcmp(dev->target, j->target)) {
		snprintf(dev->target, sizeof(dev->target), "%s", j->target);
		if (bw_srv_devcache_note(srv, dev->uuid, dev->last_seen, "",
					 j->target, 0, &err))
			bw_srv_log(BW_SRV_LOG_ERR, "device update: %s",
				   err.msg);
	}
	if (j->production)
		bw_srv_waves_note_events(srv, j->uuid, j->tag, j->body, j->len);
	bw_srv_http_status(j->req, 204);
out:
	json_decref(j->arr);
	free(j);
}

static void post_events(struct bw_srv *srv, struct evhttp_request *req,
			const struct bw_srv_identity *id, const char *tag)
{
	struct ev_job *j = calloc(1, sizeof(*j));
	size_t len = 0;
	const uint8_t *body = bw_srv_http_body(req, &len);
	int rc = 0;

	if (!body || !j) {
		free(j);
		bw_srv_http_status(req, 500);
		return;
	}
	rc = bw_srv_events_parse(body, len, (size_t)srv->cfg->max_events,
				 &j->arr, &j->err);
	if (rc) {
		bw_srv_log(BW_SRV_LOG_INFO, "events from %s refused: %s",
			   id->uuid, j->err.msg);
		bw_srv_http_status(req, rc == BW_ETOOBIG ? 413 : 400);
		free(j);
		return;
	}
	j->job.run = ev_run;
	j->job.done = ev_done;
	j->req = req;
	snprintf(j->uuid, sizeof(j->uuid), "%s", id->uuid);
	snprintf(j->tag, sizeof(j->tag), "%s", tag);
	j->production = id->production;
	j->body = body;
	j->len = len;
	if ((!srv->ev_batch && bw_srv_batch_new(srv, 1, &srv->ev_batch)) ||
	    bw_srv_batch_add(srv->ev_batch, &j->job)) {
		json_decref(j->arr);
		free(j);
		bw_srv_http_status(req, 500);
	}
}

static void get_device(struct bw_srv *srv, struct evhttp_request *req,
		       const struct bw_srv_identity *id)
{
	struct bw_device_rec d;
	struct bw_err err = {0};

	if (srv->store->ops->device_get(srv->store, id->uuid, &d, &err)) {
		bw_srv_http_status(req, 500);
		return;
	}
	bw_srv_http_json(
	    req, 200,
	    json_pack("{s:s,s:b,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:o*}",
		      "uuid", d.uuid, "production", d.production, "name",
		      d.name, "hardware-id", d.hwid, "tag", d.tag, "target",
		      d.target, "fingerprint", d.fingerprint, "ca", d.ca_name,
		      "serial", d.serial, "first-seen",
		      (json_int_t)d.first_seen, "last-seen",
		      (json_int_t)d.last_seen, "est",
		      bw_srv_est_device_info(
			  srv, id,
			  SSL_get0_peer_certificate(bw_srv_tls_ssl(req)))));
}

void bw_srv_gateway_handle(struct evhttp_request *req, void *arg)
{
	struct bw_srv *srv = arg;
	const struct bw_srv_identity *id = NULL;
	struct bw_srv_identity bound;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	char tag[BW_STORE_TAG_MAX + 1];
	const char *eff = NULL;

	if (!bw_srv_tls_ssl(req) || !path) {
		evhttp_send_error(req, 400, NULL);
		return;
	}
	bw_srv_tls_track(req);
	bw_srv_request_track(srv, req);
	if (!(id = bw_srv_tls_identity(srv, req))) {
		bw_srv_http_status(req, 403);
		return;
	}
	if (bw_srv_tag_parse(bw_srv_http_header(req, "x-ats-tags", 512), tag,
			     sizeof(tag))) {
		bw_srv_http_status(req, 400);
		return;
	}
	if (device_touch(srv, req, id, tag)) {
		bw_srv_http_status(req, 403);
		return;
	}
	/* production comes from the binding, not from this certificate */
	bound = *id;
	bound.production = bw_srv_tls_device(req)->production;
	id = &bound;
	/* the tag: named now, else on record, else the configured default */
	eff = tag[0]				 ? tag
	      : bw_srv_tls_device(req)->tag[0] ? bw_srv_tls_device(req)->tag
					       : srv->cfg->default_tag;
	if (cmd == EVHTTP_REQ_GET && !strncmp(path, "/repo/", 6))
		serve_meta(srv, req, id, eff, path + 6);
	else if (cmd == EVHTTP_REQ_GET && !strncmp(path, "/targets/", 9))
		serve_target(srv, req, id, eff, path + 9);
	else if (cmd == EVHTTP_REQ_POST && !strcmp(path, "/events"))
		post_events(srv, req, id, eff);
	else if (cmd == EVHTTP_REQ_GET && !strcmp(path, "/wave"))
		bw_srv_waves_serve(srv, req, id, bw_srv_tls_device(req), eff);
	else if (cmd == EVHTTP_REQ_GET && !strcmp(path, "/device"))
		get_device(srv, req, id);
	else if (cmd == EVHTTP_REQ_GET && !strcmp(path, "/log/release"))
		bw_srv_gateway_log_release(srv, req);
	else
		bw_srv_http_status(req, 404);
}
