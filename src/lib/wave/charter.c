/*
 * The wave rollout charter (include/bulwark/wave.h): strict parsing,
 * verification against the production root's targets keys, and the
 * cohort rule every device applies to itself.
 */
#include <stdlib.h>
#include <string.h>

#include "bulwark/buf.h"
#include "bulwark/hash.h"
#include "bulwark/identity.h"
#include "bulwark/json.h"
#include "bulwark/tuf.h"
#include "bulwark/wave.h"
#include "tuf/tuf_priv.h"

#define HWID_MAX 128u
#define TAG_MAX 128u

void bw_wave_charter_free(struct bw_wave_charter *c)
{
	if (c == NULL)
		return;
	free(c->name);
	free(c->tag);
	for (size_t i = 0; i < c->nhwids; i++)
		free(c->hwids[i]);
	free(c->hwids);
	free(c->steps);
	for (size_t i = 0; i < c->ntargets; i++)
		bw_tuf__target_free(c->targets[i]);
	free(c->targets);
	json_decref(c->doc);
	free(c);
}

int bw_wave_name_is_valid(const char *n)
{
	size_t len = n != NULL ? strlen(n) : 0;

	if (len == 0 || len > BW_WAVE_NAME_MAX || n[0] == '.')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') ||
		      (n[i] >= 'A' && n[i] <= 'Z') ||
		      (n[i] >= '0' && n[i] <= '9') || n[i] == '.' ||
		      n[i] == '_' || n[i] == '-'))
			return 0;
	return 1;
}

/* An object whose keys are exactly names[0..n). */
static int exact_keys(const json_t *o, const char *const *names, size_t n)
{
	if (!json_is_object(o) || json_object_size(o) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (json_object_get(o, names[i]) == NULL)
			return 0;
	return 1;
}

/* A printable ASCII string of 1..max bytes, copied to *out. */
static int text_field(const json_t *v, size_t max, char **out)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);

	if (s == NULL || n == 0 || n > max)
		return BW_EFORMAT;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return BW_EFORMAT;
	*out = strdup(s);
	return *out != NULL ? 0 : BW_ENOMEM;
}

static int int_field(const json_t *v, int64_t lo, int64_t hi, int64_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return BW_EFORMAT;
	*out = json_integer_value(v);
	return 0;
}

static int parse_hwids(struct bw_wave_charter *c, const json_t *a,
		       struct bw_err *err)
{
	size_t i;
	json_t *v;

	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > BW_WAVE_MAX_HWIDS)
		return bw_err_set(err, BW_EFORMAT, "charter: hardware_ids must "
				  "list 1 to %u ids", BW_WAVE_MAX_HWIDS);
	c->hwids = calloc(json_array_size(a), sizeof(*c->hwids));
	if (c->hwids == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	json_array_foreach(a, i, v) {
		int rc = text_field(v, HWID_MAX, &c->hwids[i]);

		if (rc != 0)
			return bw_err_set(err, rc, "charter: hardware id %zu is "
					  "not 1-%u printable characters", i,
					  HWID_MAX);
		c->nhwids++;
	}
	return 0;
}

static int parse_steps(struct bw_wave_charter *c, const json_t *a,
		       struct bw_err *err)
{
	static const char *const keys[] = { "admit_ppm", "bake_seconds" };
	size_t i;
	json_t *v;

	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > BW_WAVE_MAX_STEPS)
		return bw_err_set(err, BW_EFORMAT, "charter: steps must list 1 "
				  "to %u steps", BW_WAVE_MAX_STEPS);
	c->steps = calloc(json_array_size(a), sizeof(*c->steps));
	if (c->steps == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	json_array_foreach(a, i, v) {
		int64_t ppm, bake;
		int64_t prev = i == 0 ? 0 : c->steps[i - 1].admit_ppm;

		if (!exact_keys(v, keys, 2) ||
		    int_field(json_object_get(v, "admit_ppm"), prev + 1,
			      BW_WAVE_PPM, &ppm) != 0 ||
		    int_field(json_object_get(v, "bake_seconds"), 0,
			      BW_WAVE_MAX_BAKE, &bake) != 0)
			return bw_err_set(err, BW_EFORMAT, "charter: step %zu "
					  "needs admit_ppm above the previous "
					  "step's (at most %u) and bake_seconds "
					  "in 0..%d", i, BW_WAVE_PPM,
					  BW_WAVE_MAX_BAKE);
		c->steps[i].admit_ppm = (uint32_t)ppm;
		c->steps[i].bake_seconds = bake;
		c->nsteps++;
	}
	return 0;
}

static int parse_targets(struct bw_wave_charter *c, const json_t *o,
			 struct bw_err *err)
{
	const char *path;
	json_t *v;

	if (!json_is_object(o) || json_object_size(o) == 0 ||
	    json_object_size(o) > BW_WAVE_MAX_TARGETS)
		return bw_err_set(err, BW_EFORMAT, "charter: targets must list "
				  "1 to %u targets", BW_WAVE_MAX_TARGETS);
	c->targets = calloc(json_object_size(o), sizeof(*c->targets));
	if (c->targets == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	json_object_foreach((json_t *)o, path, v) {
		int rc;

		if (!bw_tuf_target_path_is_safe(path, strlen(path)))
			return bw_err_set(err, BW_EFORMAT, "charter: unsafe "
					  "target path");
		rc = bw_tuf__target_parse(path, v, &c->targets[c->ntargets],
					  err);
		if (rc != 0)
			return rc;
		c->ntargets++;
	}
	return 0;
}

/* Exactly n lowercase hex digits (checked before decoding). */
static int lower_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int parse_signed(struct bw_wave_charter *c, const json_t *sg,
			struct bw_err *err)
{
	static const char *const keys[] = {
		"_type", "spec_version", "version", "name", "tag", "expires",
		"hardware_ids", "salt", "steps", "targets"
	};
	const char *type = json_string_value(json_object_get(sg, "_type"));
	const char *spec =
		json_string_value(json_object_get(sg, "spec_version"));
	const char *exp = json_string_value(json_object_get(sg, "expires"));
	const char *salt = json_string_value(json_object_get(sg, "salt"));
	int rc;

	if (!exact_keys(sg, keys, sizeof(keys) / sizeof(keys[0])))
		return bw_err_set(err, BW_EFORMAT, "charter: signed must hold "
				  "exactly the charter fields");
	if (type == NULL || strcmp(type, "wave-charter") != 0)
		return bw_err_set(err, BW_EFORMAT, "charter: _type is not "
				  "wave-charter");
	if (spec == NULL || strcmp(spec, "1.0") != 0)
		return bw_err_set(err, BW_EUNSUPPORTED, "charter: spec_version "
				  "is not 1.0");
	if (int_field(json_object_get(sg, "version"), 1, INT64_MAX,
		      &c->version) != 0)
		return bw_err_set(err, BW_EFORMAT, "charter: bad version");
	if (text_field(json_object_get(sg, "name"), BW_WAVE_NAME_MAX,
		       &c->name) != 0 || !bw_wave_name_is_valid(c->name) ||
	    text_field(json_object_get(sg, "tag"), TAG_MAX, &c->tag) != 0)
		return bw_err_set(err, BW_EFORMAT, "charter: bad name or tag");
	if (exp == NULL || bw_tuf_time_parse(exp, &c->expires) != 0)
		return bw_err_set(err, BW_EFORMAT, "charter: bad expires");
	if (salt == NULL || !lower_hex(salt, 2 * BW_WAVE_SALT_LEN) ||
	    bw_hex_decode(salt, strlen(salt), c->salt, sizeof(c->salt)) != 0)
		return bw_err_set(err, BW_EFORMAT, "charter: salt must be %u "
				  "hex digits", 2 * BW_WAVE_SALT_LEN);
	rc = parse_hwids(c, json_object_get(sg, "hardware_ids"), err);
	if (rc == 0)
		rc = parse_steps(c, json_object_get(sg, "steps"), err);
	if (rc == 0)
		rc = parse_targets(c, json_object_get(sg, "targets"), err);
	return rc;
}

int bw_wave_charter_parse(const void *buf, size_t len,
			  struct bw_wave_charter **out, struct bw_err *err)
{
	static const char *const keys[] = { "signatures", "signed" };
	struct bw_json_limits lim = { .max_bytes = BW_WAVE_MAX_CHARTER };
	struct bw_wave_charter *c = NULL;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = bw_json_parse(buf, len, &lim, &c->doc, err);
	if (rc == 0 && (!exact_keys(c->doc, keys, 2) ||
			!json_is_array(json_object_get(c->doc, "signatures"))))
		rc = bw_err_set(err, BW_EFORMAT, "charter: not an envelope of "
				"signatures and signed");
	if (rc == 0)
		rc = parse_signed(c, json_object_get(c->doc, "signed"), err);
	if (rc != 0) {
		bw_wave_charter_free(c);
		return rc;
	}
	*out = c; /* transferred */
	return 0;
}

int bw_wave_charter_verify(const void *buf, size_t len, const void *root,
			   size_t root_len, int64_t now,
			   struct bw_wave_charter **out, struct bw_err *err)
{
	struct bw_wave_charter *c = NULL;
	size_t have = 0;
	int64_t need = 0;
	int rc;

	*out = NULL;
	rc = bw_wave_charter_parse(buf, len, &c, err);
	if (rc == 0)
		rc = bw_tuf_count_envelope_signatures(root, root_len, "targets",
						      c->doc, &have, &need,
						      err);
	/* Signed like production targets: the production threshold. */
	if (rc == 0 && (need < 1 || (int64_t)have < need))
		rc = bw_err_set(err, BW_ESIG, "charter '%s' is signed by %zu "
				"of the %lld production targets keys it needs",
				c->name, have, (long long)need);
	if (rc == 0 && now != 0 && c->expires <= now)
		rc = bw_err_set(err, BW_EEXPIRED, "charter '%s' has expired",
				c->name);
	if (rc != 0) {
		bw_wave_charter_free(c);
		return rc;
	}
	*out = c; /* transferred */
	return 0;
}

int bw_wave_cohort(const uint8_t salt[BW_WAVE_SALT_LEN], const char *uuid,
		   uint64_t *out, struct bw_err *err)
{
	uint8_t msg[BW_WAVE_SALT_LEN + 36], md[32];
	char canon[BW_UUID_BUF];
	int rc;

	/* The canonical text form (lowercase), by the identity rule every
	 * program shares. */
	rc = bw_identity_uuid_normalize(uuid, uuid ? strlen(uuid) : 0, canon,
					err);
	if (rc != 0)
		return rc;
	memcpy(msg, salt, BW_WAVE_SALT_LEN);
	memcpy(msg + BW_WAVE_SALT_LEN, canon, 36);
	if (bw_hash_buf(BW_HASH_SHA256, msg, sizeof(msg), md) != 0)
		return bw_err_set(err, BW_ECRYPTO, "sha256 failed");
	*out = 0;
	for (size_t i = 0; i < 8; i++)
		*out = (*out << 8) | md[i];
	return 0;
}

int bw_wave_charter_step_of(const struct bw_wave_charter *c, const char *uuid,
			    size_t *step, struct bw_err *err)
{
	uint64_t x;
	int rc = bw_wave_cohort(c->salt, uuid, &x, err);

	if (rc != 0)
		return rc;
	for (size_t i = 0; i < c->nsteps; i++) {
		/* x / 2^64 < ppm / 10^6, exactly, in 128 bits. */
		unsigned __int128 lhs = (unsigned __int128)x * BW_WAVE_PPM;
		unsigned __int128 rhs = (unsigned __int128)c->steps[i].admit_ppm
					<< 64;

		if (lhs < rhs) {
			*step = i;
			return 0;
		}
	}
	return bw_err_set(err, BW_ENOTFOUND, "device is outside every step "
			  "of wave '%s'", c->name);
}

int64_t bw_wave_charter_bake_before(const struct bw_wave_charter *c,
				    size_t step)
{
	int64_t sum = 0;

	for (size_t i = 0; i < step && i < c->nsteps; i++)
		sum += c->steps[i].bake_seconds; /* each <= 366 days: no overflow */
	return sum;
}

int bw_wave_charter_admits(const struct bw_wave_charter *c, const char *uuid,
			   const char *hwid, int64_t open_step,
			   int64_t first_seen, int64_t now, struct bw_err *err)
{
	size_t step = 0, i;
	int64_t wait;
	int rc, hw = 0;

	for (i = 0; hwid != NULL && i < c->nhwids; i++)
		hw |= strcmp(c->hwids[i], hwid) == 0;
	if (!hw)
		return bw_err_set(err, BW_ESTATE, "wave '%s' is not for this "
				  "hardware", c->name);
	if (now >= c->expires)
		return bw_err_set(err, BW_ESTATE, "wave '%s' has expired",
				  c->name);
	rc = bw_wave_charter_step_of(c, uuid, &step, err);
	if (rc == BW_ENOTFOUND)
		return bw_err_set(err, BW_ESTATE, "this device is outside the "
				  "cohort wave '%s' approves", c->name);
	if (rc != 0)
		return rc;
	if (open_step < 0)
		return bw_err_set(err, BW_ESTATE, "wave '%s': the server has not "
				  "admitted this device (step %zu) yet", c->name,
				  step);
	if ((uint64_t)open_step < step)
		return bw_err_set(err, BW_ESTATE, "wave '%s': this device is in "
				  "step %zu, step %lld is open", c->name, step,
				  (long long)open_step);
	wait = bw_wave_charter_bake_before(c, step);
	if (first_seen > now || now - first_seen < wait)
		return bw_err_set(err, BW_ESTATE, "wave '%s': step %zu opens "
				  "%lld s after this device first saw the "
				  "charter", c->name, step, (long long)wait);
	return 0;
}
