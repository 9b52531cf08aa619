/*
 * Binary transparency: is this release (the bytes of a targets metadata
 * file a device trusts) in the log, under a checkpoint signed by the log
 * key and enough witnesses?
 */
#include <stdlib.h>
#include <string.h>

#include "bulwark/hash.h"
#include "bulwark/json.h"
#include "bulwark/tlog.h"

#define RELEASE_MAX (BW_TLOG_NOTE_MAX + 4 * BW_TLOG_ENTRY_MAX)

/* The entry records an upload of exactly these targets bytes. */
static int entry_names(const json_t *e, const char *hex)
{
	const char *action = json_string_value(json_object_get(e, "action"));
	const json_t *o = json_object_get(e, "objects");
	const char *d;

	if (!action)
		return 0;
	if (!strcmp(action, "tuf.targets.upload") ||
	    !strcmp(action, "tuf.targets.import"))
		d = json_string_value(json_object_get(o, "sha256"));
	else if (!strcmp(action, "tuf.ci-target.add"))
		d = json_string_value(json_object_get(o, "targets-sha256"));
	else
		return 0;
	return d && !strcmp(d, hex);
}

static int u64_of(const json_t *v, uint64_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return 0;
	*out = (uint64_t)json_integer_value(v);
	return 1;
}

int bw_tlog_release_verify(const uint8_t *doc, size_t len,
			   const uint8_t *targets, size_t targets_len,
			   const struct bw_tlog_vkey *log,
			   const struct bw_tlog_vkey *witnesses, size_t nwit,
			   size_t min_witness, struct bw_err *err)
{
	struct bw_json_limits lim = {RELEASE_MAX, 8, 0};
	struct bw_tlog_checkpoint c;
	struct bw_tlog_proof *p = NULL;
	struct bw_tlog_hash leaf;
	json_t *d = NULL, *e = NULL;
	const char *cp, *eb;
	uint8_t *raw = NULL;
	size_t rlen = 0;
	uint64_t index = 0, size = 0;
	char hex[BW_HASH_MAX_HEX];
	int rc;

	/* starts failed; succeeds in one place */
	rc = bw_json_parse(doc, len, &lim, &d, err);
	if (rc)
		goto out;
	cp = json_string_value(json_object_get(d, "checkpoint"));
	eb = json_string_value(json_object_get(d, "entry"));
	if (!cp || !eb || !u64_of(json_object_get(d, "index"), &index) ||
	    !u64_of(json_object_get(d, "size"), &size)) {
		rc = bw_err_set(err, BW_EFORMAT, "release proof needs "
				"checkpoint, index, size, entry and hashes");
		goto out;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = bw_tlog_proof_from_json(d, p, err)) ||
	    (rc = bw_tlog_checkpoint_open((const uint8_t *)cp, strlen(cp), log,
					  log->name, witnesses, nwit,
					  min_witness, &c, err)))
		goto out;
	if (c.size != size) {
		rc = bw_err_set(err, BW_EFORMAT, "release proof for tree size "
				"%llu with a checkpoint of size %llu",
				(unsigned long long)size,
				(unsigned long long)c.size);
		goto out;
	}
	if (bw_tlog_b64_decode(eb, strlen(eb), BW_TLOG_ENTRY_MAX, &raw,
			       &rlen) != 0) {
		rc = bw_err_set(err, BW_EFORMAT, "release entry is not base64");
		goto out;
	}
	if ((rc = bw_tlog_entry_parse(raw, rlen, &e, err)))
		goto out;
	if ((rc = bw_hash_buf_hex(BW_HASH_SHA256, targets, targets_len, hex)))
		goto out;
	if (!entry_names(e, hex)) {
		rc = bw_err_set(err, BW_EHASH, "the log entry is not the upload "
				"of this targets metadata (sha256 %.16s...)",
				hex);
		goto out;
	}
	bw_tlog_leaf_hash(raw, rlen, &leaf);
	rc = bw_tlog_verify_inclusion(c.size, index, &leaf, p, &c.root, err);
out:
	free(raw);
	free(p);
	json_decref(e);
	json_decref(d);
	return rc;
}
