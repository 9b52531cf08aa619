/*
 * Device bindings (server.h): a device is its binding, not its UUID. The
 * record holds the issuing device CA, the current certificate (SHA-256
 * fingerprint and serial) and the production flag; the gateway compares
 * every connection with it (bw_srv_binding_check), and the binding changes
 * only through bw_srv_binding_set, which registration, EST re-enrolment
 * and an operator's re-certify call. Presenting another certificate never
 * changes a record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "bulwark/buf.h"
#include "bulwark/identity.h"
#include "bulwark/pki.h"
#include "binding.h"
#include "devcache.h"
#include "log.h"
#include "policy.h"
#include "server.h"
#include "translog.h"

static int digest_hex(X509 *x, char out[65], struct bw_err *err)
{
	unsigned char md[32];
	unsigned int n = 0;

	if (x == NULL || X509_digest(x, EVP_sha256(), md, &n) != 1 || n != 32)
		return bw_err_set(err, BW_ECRYPTO, "certificate digest");
	bw_hex_encode(md, 32, out);
	return 0;
}

int bw_srv_binding_of(X509 *cert, X509 *ca, const char *ca_name, int production,
		      struct bw_srv_binding *b, struct bw_err *err)
{
	char *serial = NULL;
	int rc = 0;

	memset(b, 0, sizeof(*b));
	if ((rc = digest_hex(cert, b->fingerprint, err)) ||
	    (rc = digest_hex(ca, b->ca_fingerprint, err)) ||
	    (rc = bw_pki_serial_hex(cert, &serial, err)))
		return rc;
	snprintf(b->serial, sizeof(b->serial), "%s", serial);
	snprintf(b->ca_name, sizeof(b->ca_name), "%s", ca_name ? ca_name : "");
	b->not_after = bw_srv_cert_not_after(cert);
	b->production = production ? 1 : 0;
	free(serial);
	return 0;
}

void bw_srv_binding_of_identity(const struct bw_srv_identity *id,
				struct bw_srv_binding *b)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->ca_name, sizeof(b->ca_name), "%s", id->ca);
	snprintf(b->ca_fingerprint, sizeof(b->ca_fingerprint), "%s",
		 id->ca_fingerprint);
	snprintf(b->serial, sizeof(b->serial), "%s", id->serial);
	snprintf(b->fingerprint, sizeof(b->fingerprint), "%s", id->fingerprint);
	b->not_after = id->not_after;
	b->production = id->production;
}

int bw_srv_binding_check(const struct bw_device_rec *d,
			 struct bw_srv_identity *id,
			 enum bw_srv_binding_verdict *verdict,
			 struct bw_err *err)
{
	*verdict = BW_SRV_BINDING_REFUSED;
	/* production is policy: a claim from a CA that may not make one is
	 * refused when it would bind (a new device, a record that saw no
	 * certificate yet); a bound record keeps what it was given */
	if ((d == NULL ||
	     (d->ca_fingerprint[0] == '\0' && d->fingerprint[0] == '\0')) &&
	    (d ? d->production : id->production) && !id->ca_production)
		return bw_err_set(err, BW_ESTATE,
				  "production claim from device CA %s, which "
				  "may not issue production certificates",
				  id->ca);
	if (d == NULL) {
		if (id->ca_disabled)
			return bw_err_set(err, BW_ESTATE,
					  "new device from disabled CA %s",
					  id->ca);
		*verdict = BW_SRV_BINDING_NEW;
		return 0;
	}
	if (d->ca_fingerprint[0] == '\0') {
		/* A record from before bindings (schema 5 and older): the
		 * certificate it last saw, or the first one if it saw none;
		 * a disabled CA only for the very certificate on record. */
		if (strcmp(d->fingerprint, id->fingerprint) != 0 &&
		    (d->fingerprint[0] != '\0' || id->ca_disabled))
			return bw_err_set(err, BW_ESTATE,
					  "certificate %.16s (device CA %s, "
					  "serial %s) is not the one on record",
					  id->fingerprint, id->ca, id->serial);
		*verdict = BW_SRV_BINDING_LEGACY;
		id->production = d->production;
		return 0;
	}
	if (strcmp(d->ca_fingerprint, id->ca_fingerprint) != 0)
		return bw_err_set(err, BW_ESTATE,
				  "certificate from device CA %s (serial %s), "
				  "but the device is bound to device CA %s",
				  id->ca, id->serial, d->ca_name);
	if (strcmp(d->fingerprint, id->fingerprint) != 0)
		return bw_err_set(err, BW_ESTATE,
				  "certificate serial %s from device CA %s is "
				  "not the one bound (serial %s)",
				  id->serial, id->ca, d->serial);
	*verdict = BW_SRV_BINDING_MATCH;
	id->production = d->production;
	return 0;
}

/* An event in the shape devices send, written by the server. */
static int event_store(struct bw_srv *srv, const char *uuid,
		       const char *event_id, const char *type, json_t *detail,
		       int64_t now, struct bw_err *err)
{
	struct bw_store *st = srv->store;
	char when[32];
	time_t t = (time_t)now;
	struct tm tm;
	json_t *e = NULL;
	char *s = NULL;
	int rc = BW_ENOMEM;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	e = json_pack("{s:s,s:s,s:{s:s,s:i},s:O}", "id", event_id, "deviceTime",
		      when, "eventType", "id", type, "version", 0, "event",
		      detail);
	if (e && (s = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS)) != NULL)
		rc = st->ops->event_add(st, uuid, event_id, type, now,
					(const uint8_t *)s, strlen(s), err);
	if (!rc && srv->cfg->events_per_device > 0)
		rc = st->ops->event_trim(st, uuid, srv->cfg->events_per_device,
					 err);
	free(s);
	json_decref(e);
	return rc;
}

void bw_srv_binding_refused(struct bw_srv *srv,
			    const struct bw_srv_identity *id,
			    const char *reason)
{
	struct bw_store *st = srv->store;
	struct bw_err err = {0};
	int64_t now = time(NULL);
	char event_id[96];
	json_t *detail = NULL;
	int rc = 0;

	/* one event per certificate and hour: a device that retries, or
	 * an attacker that keeps trying, does not fill the table */
	snprintf(event_id, sizeof(event_id), "binding-refused-%.16s-%lld",
		 id->fingerprint, (long long)(now / 3600));
	detail =
	    json_pack("{s:s,s:s,s:s,s:s}", "reason", reason, "ca", id->ca,
		      "serial", id->serial, "fingerprint", id->fingerprint);
	if (!detail)
		return;
	if (!(rc = st->ops->begin_light(st, &err)) &&
	    !(rc = event_store(srv, id->uuid, event_id,
			       "bulwark.binding-refused", detail, now, &err)))
		rc = st->ops->commit(st, &err);
	if (rc) {
		st->ops->rollback(st);
		bw_srv_log(BW_SRV_LOG_ERR, "binding event for %s: %s", id->uuid,
			   err.msg);
	}
	json_decref(detail);
}

/* A new or moved binding goes into the transparency log with the
 * record, in the caller's transaction. */
static int log_bind(struct bw_store *st, const struct bw_device_rec *d,
		    const struct bw_srv_binding *b, const char *how,
		    const char *prev, int64_t now, struct bw_err *err)
{
	json_t *o;
	int rc;

	if (!strcmp(prev, b->fingerprint))
		return 0; /* the same certificate: nothing changed */
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "uuid", d->uuid,
		      "how", how, "ca", b->ca_name, "serial", b->serial,
		      "sha256", b->fingerprint, "previous-sha256", prev,
		      "production", b->production);
	if (!o)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = bw_srv_tlog_append(st, "device.bind", "server", o, now, NULL,
				err);
	json_decref(o);
	return rc;
}

int bw_srv_binding_set(struct bw_srv *srv, struct bw_device_rec *d,
		       const struct bw_srv_binding *b, const char *how,
		       int64_t now, struct bw_err *err)
{
	struct bw_store *st = srv->store;
	int changed = d->fingerprint[0] != '\0' &&
		      strcmp(d->fingerprint, b->fingerprint) != 0;
	char event_id[96], prev[sizeof(d->fingerprint)];
	json_t *detail = NULL;
	int rc = 0;

	if (!bw_identity_uuid_is_canonical(d->uuid))
		return bw_err_set(err, BW_EINVAL, "device uuid not canonical");
	snprintf(prev, sizeof(prev), "%s", d->fingerprint);
	if (changed) {
		snprintf(event_id, sizeof(event_id), "binding-%.16s",
			 b->fingerprint);
		detail =
		    json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "how", how, "ca",
			      b->ca_name, "serial", b->serial, "fingerprint",
			      b->fingerprint, "previous-ca", d->ca_name,
			      "previous-fingerprint", d->fingerprint);
		if (!detail)
			return bw_err_set(err, BW_ENOMEM, "out of memory");
		rc = event_store(srv, d->uuid, event_id,
				 "bulwark.binding-changed", detail, now, err);
		json_decref(detail);
		if (rc)
			return rc;
	}
	snprintf(d->ca_name, sizeof(d->ca_name), "%s", b->ca_name);
	snprintf(d->ca_fingerprint, sizeof(d->ca_fingerprint), "%s",
		 b->ca_fingerprint);
	snprintf(d->serial, sizeof(d->serial), "%s", b->serial);
	snprintf(d->fingerprint, sizeof(d->fingerprint), "%s", b->fingerprint);
	d->cert_not_after = b->not_after;
	d->production = b->production;
	/* whatever the transaction's fate, no cached copy of the record
	 * outlives this write */
	bw_srv_devcache_drop(srv, d->uuid);
	if ((rc = st->ops->device_put(st, d, err)) ||
	    (rc = log_bind(st, d, b, how, prev, now, err)))
		return rc;
	if (changed) {
		/* cached decisions for the previous certificate no longer
		 * hold (other processes see the store's counter move) */
		srv->generation++;
		srv->id_epoch++;
	}
	bw_srv_log(BW_SRV_LOG_NOTICE,
		   "device %s bound (%s): device CA %s, serial %s%s", d->uuid,
		   how, b->ca_name, b->serial,
		   b->production ? ", production" : "");
	return 0;
}
