/*
 * Binary transparency on the device: before a release is downloaded, the
 * server must prove that the targets metadata the device trusts is in
 * the transparency log, under a checkpoint signed by the log key (and the
 * witnesses) the device was given. The rule itself is libbulwark's
 * (bw_tlog_release_verify); this file fetches the proof.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/buf.h"
#include "bulwark/fetch.h"
#include "bulwark/hash.h"
#include "bulwark/tlog.h"
#include "transparency.h"

#define TARGETS_MAX (16u * 1024u * 1024u)
#define PROOF_MAX (1024u * 1024u)

static int fetch_proof(struct bw_dev *d, const char *hex, struct bw_buf *resp,
		       struct bw_err *err)
{
	const char *base = d->cfg.server_url;
	struct bw_http_request req = {0};
	struct bw_fetcher *f = NULL;
	char url[1024];
	long status = 0;
	int rc;

	if (!base)
		return bw_err_set(err, BW_EINVAL, "[server] url is not set");
	snprintf(url, sizeof(url), "%s%slog/release?sha256=%s", base,
		 base[0] && base[strlen(base) - 1] == '/' ? "" : "/", hex);
	req.method = "GET";
	req.url = url;
	req.max_response = PROOF_MAX;
	rc = bw_dev_fetcher(d, &f, err); /* the device's, borrowed */
	if (rc == 0)
		rc = bw_http_request(f, &req, &status, resp, err);
	if (rc == 0 && status == 404)
		rc = bw_err_set(err, BW_ENOTFOUND, "the server has no witnessed "
				"log entry for this release");
	else if (rc == 0 && status != 200)
		rc = bw_err_set(err, BW_ENET, "log proof: HTTP %ld", status);
	return rc;
}

int bw_dev_transparency_check(struct bw_dev *d, struct bw_err *err)
{
	struct bw_tlog_vkey log, wit;
	struct bw_buf targets, resp;
	char path[4096], hex[BW_HASH_MAX_HEX];
	size_t nwit = 0;
	int rc;

	if (!d->cfg.tlog_key)
		return 0;
	bw_buf_init(&targets, TARGETS_MAX);
	bw_buf_init(&resp, PROOF_MAX);
	rc = bw_tlog_vkey_parse(d->cfg.tlog_key, strlen(d->cfg.tlog_key), &log,
				err);
	if (rc == 0 && d->cfg.tlog_witness_key) {
		rc = bw_tlog_vkey_parse(d->cfg.tlog_witness_key,
					strlen(d->cfg.tlog_witness_key), &wit,
					err);
		nwit = 1;
	}
	if (rc)
		goto out;
	snprintf(path, sizeof(path), "%s/targets.json", d->mdir);
	if ((rc = bw_io_read_file(path, TARGETS_MAX, &targets, err)) ||
	    (rc = bw_hash_buf_hex(BW_HASH_SHA256, targets.data, targets.len,
				  hex)) ||
	    (rc = fetch_proof(d, hex, &resp, err)))
		goto out;
	rc = bw_tlog_release_verify(resp.data, resp.len, targets.data,
				    targets.len, &log, &wit, nwit,
				    (size_t)d->cfg.tlog_witnesses, err);
out:
	bw_buf_dispose(&targets);
	bw_buf_dispose(&resp);
	return rc;
}
