/*
 * Waves on the device (wave.h). The gateway's answer is untrusted: only
 * the charter's signatures (production targets keys, production
 * threshold) and the device's own cohort and clock decide.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "bulwark/buf.h"
#include "bulwark/hash.h"
#include "bulwark/identity.h"
#include "bulwark/json.h"
#include "bulwark/tuf.h"
#include "bulwark/wave.h"
#include "wave.h"

#define WAVE_BODY_MAX (BW_WAVE_MAX_CHARTER + 4096)
#define CERT_MAX (64 * 1024)
#define ROOT_MAX (4u * 1024u * 1024u)

static int sink(void *ctx, const uint8_t *data, size_t len)
{
	return bw_buf_append(ctx, data, len);
}

/* The UUID in the device certificate's subject CN (the first certificate
 * of cert_file). */
static int cert_uuid(const struct bw_dev *d, char out[37], struct bw_err *err)
{
	struct bw_identity_subject subj;
	X509 *x = NULL;
	BIO *bio = NULL;
	struct bw_buf b;
	int rc;

	bw_buf_init(&b, CERT_MAX);
	if (d->cfg.cert_file == NULL)
		return bw_err_set(err, BW_EINVAL, "no certificate configured");
	rc = bw_io_read_file(d->cfg.cert_file, CERT_MAX, &b, err);
	if (rc == 0 && ((bio = BIO_new_mem_buf(b.data, (int)b.len)) == NULL ||
			(x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL))
		rc = bw_err_set(err, BW_EFORMAT, "can not read the certificate");
	if (rc == 0)
		rc = bw_identity_subject_read(X509_get_subject_name(x), &subj,
					      err);
	if (rc == 0)
		memcpy(out, subj.uuid, BW_UUID_BUF);
	X509_free(x);
	BIO_free(bio);
	bw_buf_dispose(&b);
	return rc;
}

/* The trusted root the last refresh left in the metadata directory. */
static int trusted_root(const struct bw_dev *d, struct bw_buf *b,
			struct bw_err *err)
{
	char *p = NULL;
	int rc = bw_path_join(d->mdir, "root.json", &p);

	if (rc == 0)
		rc = bw_io_read_file(p, ROOT_MAX, b, err);
	free(p);
	return rc;
}

/*
 * When this device first saw the charter, by its own clock: a file per
 * charter (named by the SHA-256 of its signed part's name and salt) in
 * the state directory, written once, atomically.
 */
static int first_seen(const struct bw_dev *d, const struct bw_wave_charter *c,
		      int64_t now, int64_t *out, struct bw_err *err)
{
	char hex[BW_HASH_MAX_HEX], file[100], *p = NULL;
	uint8_t key[BW_WAVE_NAME_MAX + BW_WAVE_SALT_LEN];
	size_t kn = strlen(c->name);
	struct bw_buf b;
	char text[32];
	int rc;

	memcpy(key, c->name, kn);
	memcpy(key + kn, c->salt, BW_WAVE_SALT_LEN);
	rc = bw_hash_buf_hex(BW_HASH_SHA256, key, kn + BW_WAVE_SALT_LEN, hex);
	snprintf(file, sizeof(file), "wave-%.64s.seen", hex);
	if (rc == 0)
		rc = bw_path_join(d->cfg.state_dir, file, &p);
	if (rc != 0) {
		free(p);
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	}
	bw_buf_init(&b, 64);
	rc = bw_io_read_file(p, 64, &b, NULL);
	if (rc == 0) {
		const char *q;
		uint64_t v = 0;

		bw_buf_append(&b, "", 1);
		q = (const char *)b.data;
		if (bw_num_read(&q, INT64_MAX, &v) != 0 || *q != '\n' ||
		    v == 0)
			rc = bw_err_set(err, BW_EFORMAT, "%s is damaged", file);
		else
			*out = (int64_t)v;
	} else {
		*out = now;
		snprintf(text, sizeof(text), "%" PRId64 "\n", now);
		rc = bw_io_write_atomic(p, text, strlen(text), 0600, err);
	}
	bw_buf_dispose(&b);
	free(p);
	return rc;
}

/* GET /wave: the charter (re-encoded for parsing) and the granted step.
 * BW_ENOTFOUND when the tag has no wave. */
static int fetch_wave(struct bw_dev *d, uint8_t **charter, size_t *len,
		      int64_t *step, struct bw_err *err)
{
	struct bw_json_limits lim = {.max_bytes = WAVE_BODY_MAX};
	struct bw_fetcher *f = NULL;
	json_t *doc = NULL, *s;
	struct bw_buf b;
	int rc;

	bw_buf_init(&b, WAVE_BODY_MAX);
	rc = bw_dev_fetcher(d, &f, err);
	if (rc == 0)
		rc = f->fetch(f, d->cfg.wave_url, 0, WAVE_BODY_MAX, sink, &b,
			      err);
	if (rc == 0)
		rc = bw_json_parse(b.data, b.len, &lim, &doc, err);
	s = json_object_get(doc, "step");
	if (rc == 0 && (!json_is_integer(s) || json_integer_value(s) < -1 ||
			!json_is_object(json_object_get(doc, "charter"))))
		rc = bw_err_set(err, BW_EFORMAT, "the wave answer is malformed");
	if (rc == 0) {
		*step = json_integer_value(s);
		rc = bw_json_serialize(json_object_get(doc, "charter"), charter,
				       len, err);
	}
	json_decref(doc);
	bw_buf_dispose(&b);
	return rc;
}

/* Verify the charter and decide; on success *out is the charter. */
static int accept_wave(struct bw_dev *d, struct bw_wave_charter **out,
		       struct bw_err *err)
{
	struct bw_wave_charter *c = NULL;
	uint8_t *charter = NULL;
	size_t len = 0;
	int64_t step = -1, seen = 0, now = time(NULL);
	struct bw_buf root;
	char uuid[37];
	int rc;

	*out = NULL;
	bw_buf_init(&root, ROOT_MAX);
	rc = fetch_wave(d, &charter, &len, &step, err);
	if (rc == 0)
		rc = trusted_root(d, &root, err);
	if (rc == 0)
		rc = bw_wave_charter_verify(charter, len, root.data, root.len,
					    now, &c, err);
	if (rc == 0 && d->cfg.tag != NULL && strcmp(c->tag, d->cfg.tag) != 0)
		rc = bw_err_set(err, BW_ESTATE, "wave '%s' is for tag %s",
				c->name, c->tag);
	if (rc == 0)
		rc = cert_uuid(d, uuid, err);
	/* The clock starts when the device first sees a valid charter,
	 * admitted or not. */
	if (rc == 0)
		rc = first_seen(d, c, now, &seen, err);
	if (rc == 0)
		rc = bw_wave_charter_admits(c, uuid, d->cfg.hardware_id, step,
					    seen, now, err);
	if (rc == 0) {
		*out = c;
		c = NULL; /* transferred */
	}
	bw_wave_charter_free(c);
	bw_buf_dispose(&root);
	free(charter);
	return rc;
}

static int sha256_of(const struct bw_tuf_target *t, char out[65])
{
	for (size_t i = 0; i < t->nhashes; i++)
		if (strcmp(t->hashes[i].name, "sha256") == 0 &&
		    t->hashes[i].len == 32) {
			bw_hex_encode(t->hashes[i].digest, 32, out);
			return 1;
		}
	return 0;
}

void bw_dev_wave_offer(struct bw_dev *d, struct bw_dev_target **ts,
		       size_t *n)
{
	struct bw_wave_charter *c = NULL;
	struct bw_dev_target *grown;
	struct bw_err err = {0};
	int rc;

	bw_wave_charter_free(d->wave);
	d->wave = NULL;
	if (d->cfg.wave_url == NULL || d->cfg.wave_url[0] == '\0')
		return;
	rc = accept_wave(d, &c, &err);
	if (rc != 0) {
		if (rc != BW_ENOTFOUND && (d->verbose || rc == BW_ESTATE ||
					   rc == BW_ESIG))
			fprintf(stderr, "bulwark-device: wave not taken: %s\n",
				err.msg);
		return;
	}
	grown = realloc(*ts, (*n + c->ntargets) * sizeof(**ts));
	if (grown == NULL) {
		bw_wave_charter_free(c);
		return;
	}
	*ts = grown;
	for (size_t i = 0; i < c->ntargets; i++) {
		const struct bw_tuf_target *t = c->targets[i];
		struct bw_dev_target *o = &(*ts)[*n];

		memset(o, 0, sizeof(*o));
		if (bw_dev_target_matches(&d->cfg, t->path, t->length,
					  t->custom, o) &&
		    sha256_of(t, o->sha256))
			(*n)++;
	}
	printf("wave %s: this device is admitted\n", c->name);
	d->wave = c; /* transferred */
}

const struct bw_tuf_target *bw_dev_wave_target(const struct bw_dev *d,
					       const char *name)
{
	for (size_t i = 0; d->wave != NULL && i < d->wave->ntargets; i++)
		if (strcmp(d->wave->targets[i]->path, name) == 0)
			return d->wave->targets[i];
	return NULL;
}
