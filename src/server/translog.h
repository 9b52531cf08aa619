/*
 * bulwarkd's transparency log: entries appended in the same database
 * transaction as the action they record, proofs from the stored tree,
 * checkpoints signed by the log key. The tree, proof and note rules are
 * libbulwark's (bulwark/tlog.h); this file only keeps them in storage.
 *
 * To log an action:
 *
 *	store->ops->begin(store, err);
 *	... the action's own writes ...
 *	json_t *o = json_pack("{s:s, s:s}", "uuid", uuid, "reason", why);
 *	rc = bw_srv_tlog_append(store, "device.deny", by, o, now, err);
 *	json_decref(o);
 *	... commit if rc == 0, else roll back (the action fails too) ...
 *
 * Never put a secret or a token value into objects: name things by hash
 * or id.
 */
#ifndef BW_SRV_TRANSLOG_H
#define BW_SRV_TRANSLOG_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "bulwark/crypto.h"
#include "bulwark/tlog.h"
#include "storage.h"

/* Room for an actor string ("admin:<16 hex>", "keys:<id>,<id>", ...). */
#define BW_SRV_TLOG_BY_MAX 512

/*
 * Append one entry {action, by, objects, time: now} (bulwark/tlog.h) and
 * the tree nodes it completes. Call inside the caller's open transaction,
 * so the entry commits or rolls back with the action; a failure here must
 * fail the action. objects is borrowed (NULL: {}).
 * *index (may be NULL) receives the entry's number.
 */
int bw_srv_tlog_append(struct bw_store *st, const char *action,
		       const char *by, const json_t *objects, int64_t now,
		       uint64_t *index, struct bw_err *err);

/* "admin:<first 16 hex digits of sha256(token)>": names the admin token
 * without revealing it. */
void bw_srv_tlog_admin_by(const char *token, size_t len,
			  char out[BW_SRV_TLOG_BY_MAX]);

/* "keys:<keyid>,<keyid>,...": the key ids that signed a TUF metadata
 * document (md: its bytes), sorted, at most 8. "keys:none" if unsigned. */
void bw_srv_tlog_signers_by(const uint8_t *md, size_t len,
			    char out[BW_SRV_TLOG_BY_MAX]);

/*
 * The proof a device with binary transparency on asks for: the newest
 * entry naming targets digest hex, under the newest witnessed checkpoint
 * that covers it ({"checkpoint","index","size","entry","hashes"}, the
 * form bw_tlog_release_verify checks). BW_ENOTFOUND if the digest is not
 * logged or no witnessed checkpoint covers it yet.
 */
int bw_srv_tlog_release(struct bw_store *st, const char *hex, json_t **out,
			struct bw_err *err);

/*
 * Keep a witnessed copy of one of our checkpoints (note: the checkpoint
 * with the log's signature and at least one more line): the log key must
 * verify it and its root must be our tree's at its size (BW_ESIG,
 * BW_EHASH, BW_EFORMAT otherwise). Witness lines are kept unchecked; the
 * devices check the ones they trust.
 */
int bw_srv_tlog_witnessed_put(struct bw_store *st, struct bw_signer *key,
			      const char *origin, const uint8_t *note,
			      size_t len, int64_t now, struct bw_err *err);

/*
 * Log what a new trust policy changes (own transaction): for every device
 * CA of after (bw_srv_policy_describe form) whose status differs from
 * before, "pki.ca.enable" / "pki.ca.disable" / "pki.ca.revoke"; with
 * log_new, "pki.ca.add" for one that was not in before; for a CA whose
 * CRL number moved, "pki.crl.install". No entry is written when nothing
 * of that changed. In the same transaction, digest (bw_srv_policy_digest
 * of the new policy) becomes the newest logged policy (pki_logged_put):
 * the other processes on this database apply that policy only once this
 * commits.
 */
int bw_srv_tlog_policy_diff(struct bw_store *st, const json_t *before,
			    const json_t *after, int log_new, const char *by,
			    const char *digest, int64_t now,
			    struct bw_err *err);

/* A reader over the store's tree nodes (for bulwark/tlog.h proofs). */
void bw_srv_tlog_reader(struct bw_store *st, struct bw_tlog_reader *r);

/*
 * The newest signed checkpoint, signing and storing one first (in its own
 * transaction) when the tree has grown past the newest stored one.
 * key: the log key (Ed25519), origin: the log's name. *note malloc'd.
 */
int bw_srv_tlog_checkpoint(struct bw_store *st, struct bw_signer *key,
			   const char *origin, int64_t now, char **note,
			   size_t *len, struct bw_err *err);

#endif
