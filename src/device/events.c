/*
 * The event queue: events are written in the same transaction as the state
 * change they report, so a power cut can not lose one or report a change
 * that did not happen. They leave the queue only after the server accepted
 * the batch (2xx); the queue is bounded (oldest dropped first).
 *
 * Wire format (docs/server.md, POST /events): a JSON array of
 *   {"id", "deviceTime", "eventType": {"id", "version"},
 *    "event": {"correlationId", "targetName", "version", "success",
 *              "details"}}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "bulwark/buf.h"
#include "bulwark/json.h"
#include "bulwark/tuf.h"
#include "agent.h"
#include "crash.h"
#include "events.h"

#define EVENT_MAX_BYTES 4096

void bw_dev_printable(const uint8_t *in, size_t len, char *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; in != NULL && i < len && n + 1 < cap; i++)
		if (in[i] >= 0x20 && in[i] < 0x7f)
			out[n++] = (char)in[i];
	out[n] = '\0';
}

int bw_dev_uuid(char out[37])
{
	uint8_t b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return BW_ECRYPTO;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* RFC 4122 version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

static json_t *event_json(const struct bw_dev_event *ev, const char *corr)
{
	char id[37], now[32];
	json_t *body, *e;

	if (bw_dev_uuid(id) != 0 ||
	    bw_tuf_time_format((int64_t)time(NULL), now, sizeof(now)) != 0)
		return NULL;
	e = json_pack("{s:s, s:s, s:s}", "correlationId", corr, "targetName",
		      ev->target ? ev->target->name : "", "version",
		      ev->target ? ev->target->version : "");
	if (e != NULL && ev->success >= 0)
		json_object_set_new(e, "success", json_boolean(ev->success));
	if (e != NULL && ev->details != NULL)
		json_object_set_new(e, "details", json_string(ev->details));
	body = json_pack("{s:s, s:s, s:{s:s, s:i}, s:o}", "id", id,
			 "deviceTime", now, "eventType", "id", ev->type,
			 "version", 0, "event", e);
	return body;
}

int bw_dev_event_queue(sqlite3 *db, const struct bw_dev_event *ev,
		       const char *correlation, long max_events,
		       struct bw_err *err)
{
	sqlite3_stmt *s = NULL;
	json_t *j = event_json(ev, correlation);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	int rc = BW_EIO;

	json_decref(j);
	if (text == NULL || strlen(text) > EVENT_MAX_BYTES) {
		free(text);
		return bw_err_set(err, BW_ENOMEM, "event %s: cannot encode",
				  ev->type);
	}
	if (sqlite3_prepare_v2(db, "INSERT INTO event(body) VALUES(?)", -1, &s,
			       NULL) == SQLITE_OK) {
		sqlite3_bind_text(s, 1, text, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_DONE)
			rc = 0;
	}
	sqlite3_finalize(s);
	s = NULL;
	/* Bounded: drop the oldest beyond max_events. */
	if (rc == 0 &&
	    (sqlite3_prepare_v2(db, "DELETE FROM event WHERE seq <= "
				"(SELECT max(seq) FROM event) - ?", -1, &s,
				NULL) != SQLITE_OK ||
	     sqlite3_bind_int64(s, 1, max_events) != SQLITE_OK ||
	     sqlite3_step(s) != SQLITE_DONE))
		rc = BW_EIO;
	sqlite3_finalize(s);
	free(text);
	return rc ? bw_err_set(err, rc, "event queue: %s", sqlite3_errmsg(db))
		  : 0;
}

int bw_dev_events_count(sqlite3 *db, long *n, struct bw_err *err)
{
	sqlite3_stmt *s = NULL;
	int rc = BW_EIO;

	*n = 0;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM event", -1, &s,
			       NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW) {
		*n = (long)sqlite3_column_int64(s, 0);
		rc = 0;
	}
	sqlite3_finalize(s);
	return rc ? bw_err_set(err, rc, "event queue: %s", sqlite3_errmsg(db))
		  : 0;
}

int bw_dev_events_batch(sqlite3 *db, long batch, char **json, size_t *len,
			int64_t *last_seq, size_t *count, struct bw_err *err)
{
	sqlite3_stmt *s = NULL;
	struct bw_buf b;
	int rc = 0, step;

	*json = NULL;
	*count = 0;
	*last_seq = 0;
	bw_buf_init(&b, (size_t)batch * (EVENT_MAX_BYTES + 1) + 2);
	if (sqlite3_prepare_v2(db, "SELECT seq, body FROM event ORDER BY seq"
			       " LIMIT ?", -1, &s, NULL) != SQLITE_OK)
		return bw_err_set(err, BW_EIO, "event queue: %s",
				  sqlite3_errmsg(db));
	sqlite3_bind_int64(s, 1, batch);
	rc = bw_buf_append_str(&b, "[");
	while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *body = (const char *)sqlite3_column_text(s, 1);

		if (*count > 0)
			rc = bw_buf_append_str(&b, ",");
		if (rc == 0)
			rc = bw_buf_append_str(&b, body ? body : "{}");
		*last_seq = sqlite3_column_int64(s, 0);
		(*count)++;
	}
	sqlite3_finalize(s);
	if (rc == 0)
		rc = bw_buf_append_str(&b, "]");
	if (rc == 0)
		rc = bw_buf_steal(&b, (uint8_t **)json, len);
	bw_buf_dispose(&b);
	return rc ? bw_err_set(err, rc, "event queue: cannot build batch") : 0;
}

int bw_dev_events_drop(sqlite3 *db, int64_t last_seq, struct bw_err *err)
{
	sqlite3_stmt *s = NULL;
	int rc = BW_EIO;

	if (sqlite3_prepare_v2(db, "DELETE FROM event WHERE seq <= ?", -1, &s,
			       NULL) == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, last_seq);
		if (sqlite3_step(s) == SQLITE_DONE)
			rc = 0;
	}
	sqlite3_finalize(s);
	if (rc != 0)
		return bw_err_set(err, rc, "event queue: %s", sqlite3_errmsg(db));
	bw_dev_durable("events sent");
	return 0;
}

static int send_batch(struct bw_fetcher *f, const char *url, const char *json,
		      size_t len, struct bw_err *err)
{
	struct bw_http_request req = {.url = url, .body = json,
				      .body_len = len, .max_response = 65536};
	struct bw_buf resp;
	long status = 0;
	int rc;

	bw_buf_init(&resp, 65536);
	rc = bw_http_request(f, &req, &status, &resp, err);
	if (rc == 0 && (status < 200 || status > 299)) {
		char said[81];
		/* 400/413/422: the server will never take this batch; keeping
		 * it would block every later event. Anything else (auth,
		 * rate limit, 5xx) is worth retrying. */
		int refused = status == 400 || status == 413 || status == 422;

		bw_dev_printable(resp.data, resp.len, said, sizeof(said));
		rc = bw_err_set(err, refused ? BW_EFORMAT : BW_ENET,
				"%.200s: HTTP %ld: %s", url, status, said);
	}
	bw_buf_dispose(&resp);
	return rc;
}

int bw_dev_events_flush(sqlite3 *db, struct bw_fetcher *f, const char *url,
			long batch, size_t *sent, struct bw_err *err)
{
	char *json = NULL;
	size_t len = 0, n = 0;
	int64_t last = 0;
	int rc;

	*sent = 0;
	for (;;) {
		rc = bw_dev_events_batch(db, batch, &json, &len, &last, &n, err);
		if (rc != 0 || n == 0)
			break;
		rc = send_batch(f, url, json, len, err);
		free(json);
		json = NULL;
		if (rc == BW_EFORMAT) {
			fprintf(stderr, "bulwark-device: %zu events refused by "
				"the server, dropped: %s\n", n,
				err ? err->msg : "");
			rc = bw_dev_events_drop(db, last, err);
			if (rc != 0)
				break;
			continue;
		}
		if (rc == 0)
			rc = bw_dev_events_drop(db, last, err);
		if (rc != 0)
			break;
		*sent += n;
	}
	free(json);
	return rc;
}

/* ---- upload ---------------------------------------------------------------- */

int bw_dev_send_events(struct bw_dev *d)
{
	struct bw_err err = {0};
	struct bw_fetcher *f = NULL;
	size_t sent = 0;
	long left = 0;
	int rc;

	if (d->cfg.events_url == NULL || d->cfg.events_url[0] == '\0')
		return BW_DEV_EXIT_OK; /* reporting switched off */
	rc = bw_dev_fetcher(d, &f, &err);
	if (rc == 0)
		rc = bw_dev_events_flush(d->db, f, d->cfg.events_url,
					 d->cfg.event_batch, &sent, &err);
	bw_dev_events_count(d->db, &left, NULL);
	if (d->verbose || rc != 0)
		fprintf(stderr, "bulwark-device: events: %zu sent, %ld queued%s%s\n",
			sent, left, rc ? ": " : "", rc ? err.msg : "");
	return rc ? BW_DEV_EXIT_CHECKIN_FAILED : BW_DEV_EXIT_OK;
}
