/*
 * Metadata signing helpers for the repository side (include/bulwark/tuf.h):
 * sign the canonical JSON of "signed" and keep one {"keyid","sig"} entry
 * per key id in "signatures".
 */
#include <stdlib.h>
#include <string.h>

#include "bulwark/crypto.h"
#include "bulwark/json.h"
#include "bulwark/tuf.h"

/*
 * Sign msg with signer and put {"keyid","sig"} into sigs, replacing an
 * entry with the same keyid (so a key never counts twice).
 */
static int sign_into(json_t *sigs, const uint8_t *msg, size_t msglen,
		     struct bw_signer *signer, struct bw_err *err)
{
	const struct bw_key *key;
	char *sig_hex = NULL;
	json_t *entry = NULL;
	size_t i;
	int rc;

	if (signer == NULL)
		return bw_err_set(err, BW_EINVAL, "envelope: NULL signer");
	key = bw_signer_key(signer);
	if (key == NULL)
		return bw_err_set(err, BW_EINVAL,
				  "envelope: signer has no key");
	rc = bw_signer_sign_hex(signer, msg, msglen, &sig_hex, err);
	if (rc != 0)
		goto out;
	entry = json_pack("{s:s, s:s}", "keyid", key->keyid, "sig", sig_hex);
	if (entry == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "envelope: out of memory");
		goto out;
	}
	for (i = 0; i < json_array_size(sigs); i++) {
		const char *kid = json_string_value(
		    json_object_get(json_array_get(sigs, i), "keyid"));

		if (kid != NULL && strcmp(kid, key->keyid) == 0)
			break;
	}
	if (i < json_array_size(sigs))
		rc = json_array_set_new(sigs, i, entry);
	else
		rc = json_array_append_new(sigs, entry);
	entry = NULL; /* transferred (the _new calls steal it, even on error) */
	if (rc != 0)
		rc = bw_err_set(err, BW_ENOMEM, "envelope: out of memory");
out:
	json_decref(entry);
	free(sig_hex);
	return rc;
}

int bw_tuf_envelope_sign(json_t *signed_obj, struct bw_signer *const *signers,
			 size_t nsigners, json_t **out, struct bw_err *err)
{
	uint8_t *msg = NULL;
	size_t msglen = 0;
	json_t *sigs = NULL, *env = NULL;
	int rc;

	if (signed_obj == NULL || !json_is_object(signed_obj) || out == NULL ||
	    (signers == NULL && nsigners > 0))
		return bw_err_set(err, BW_EINVAL, "envelope: bad arguments");
	rc = bw_json_canonical_alloc(signed_obj, &msg, &msglen, err);
	if (rc != 0)
		goto out;
	sigs = json_array();
	if (sigs == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "envelope: out of memory");
		goto out;
	}
	for (size_t i = 0; i < nsigners; i++) {
		rc = sign_into(sigs, msg, msglen, signers[i], err);
		if (rc != 0)
			goto out;
	}
	env = json_pack("{s:O, s:O}", "signatures", sigs, "signed", signed_obj);
	if (env == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "envelope: out of memory");
		goto out;
	}
	*out = env;
	env = NULL; /* transferred */
	rc = 0;
out:
	json_decref(env);
	json_decref(sigs);
	free(msg);
	return rc;
}

int bw_tuf_envelope_add_signature(json_t *envelope, struct bw_signer *signer,
				  struct bw_err *err)
{
	json_t *signed_obj, *sigs;
	uint8_t *msg = NULL;
	size_t msglen = 0;
	int rc;

	if (envelope == NULL || signer == NULL)
		return bw_err_set(err, BW_EINVAL, "envelope: bad arguments");
	signed_obj = json_object_get(envelope, "signed");
	if (!json_is_object(signed_obj))
		return bw_err_set(err, BW_EFORMAT,
				  "envelope: \"signed\" is not an object");
	sigs = json_object_get(envelope, "signatures");
	if (sigs == NULL) {
		if (json_object_set_new(envelope, "signatures", json_array()))
			return bw_err_set(err, BW_ENOMEM,
					  "envelope: out of memory");
		sigs = json_object_get(envelope, "signatures");
	}
	if (!json_is_array(sigs))
		return bw_err_set(err, BW_EFORMAT,
				  "envelope: \"signatures\" is not an array");
	rc = bw_json_canonical_alloc(signed_obj, &msg, &msglen, err);
	if (rc != 0)
		goto out;
	rc = sign_into(sigs, msg, msglen, signer, err);
out:
	free(msg);
	return rc;
}
