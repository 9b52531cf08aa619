/*
 * bulwarkd storage behind a small ops struct. One file per backend
 * (storage_sqlite.c; PostgreSQL later). All SQL lives in the backend;
 * callers see records, JSON listings and BW_E* codes only.
 *
 * Lists come back as JSON arrays (new references) because every caller
 * serves them on the admin API as they are.
 */
#ifndef BW_SRV_STORAGE_H
#define BW_SRV_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "bulwark/error.h"

#define BW_STORE_UUID_MAX 64
#define BW_STORE_NAME_MAX 256
#define BW_STORE_TAG_MAX 128

struct bw_device_rec {
	char uuid[BW_STORE_UUID_MAX + 1];
	int production;
	char name[BW_STORE_NAME_MAX + 1];
	char hwid[BW_STORE_NAME_MAX + 1];
	char tag[BW_STORE_TAG_MAX + 1];
	char target[BW_STORE_NAME_MAX + 1]; /* current target (events) */
	/* The binding (a device is its binding, not its UUID): the issuing
	 * device CA, the current certificate, the production flag. Changed
	 * only through bw_srv_binding_set (server.h). */
	char fingerprint[65];		    /* sha256 hex of the cert DER */
	char ca_name[64];		    /* device CA file base */
	char ca_fingerprint[65];	    /* sha256 hex of the CA cert DER */
	char serial[80];		    /* uppercase hex, no leading 0 */
	int64_t cert_not_after; /* the certificate's notAfter; 0 unknown */
	int64_t first_seen;
	int64_t last_seen;
	int64_t registered; /* time of POST /sign, or 0 */
};

/* One metadata file as served. flavour "ci" / "production"; tag "" for
 * root and CI roles. */
struct bw_meta_rec {
	char flavour[16];
	char tag[BW_STORE_TAG_MAX + 1];
	char role[16];
	int64_t version;
	int64_t expires;
	char sha256[65];
	uint8_t *data; /* meta_get: malloc'd, caller frees */
	size_t len;
};

/* A certificate rotation over EST (simplereenroll). */
enum bw_rotation_state {
	BW_ROT_PENDING = 1,    /* new certificate issued, not used yet */
	BW_ROT_COMPLETED = 2,  /* the device used it: binding moved */
	BW_ROT_SUPERSEDED = 3, /* replaced by a later request, never used */
};

struct bw_rotation_rec {
	char uuid[BW_STORE_UUID_MAX + 1];
	char old_fp[65]; /* sha256 hex of the certificate it replaces */
	char new_fp[65]; /* sha256 hex of the certificate issued */
	char serial[80]; /* uppercase hex serial of the new certificate */
	char issuer[64]; /* CN of the device CA that issued it */
	int state;	 /* enum bw_rotation_state */
	int64_t requested, finished;
};

/* A production wave (waves.c): its charter and where it stands. */
enum bw_wave_state {
	BW_WAVE_RUNNING = 1,   /* admitting devices of the open steps */
	BW_WAVE_PAUSED = 2,    /* no new admissions; admitted devices go on */
	BW_WAVE_HALTED = 3,    /* stopped (rule or operator): nobody gets it */
	BW_WAVE_COMPLETED = 4, /* its release is the tag's production targets */
	BW_WAVE_CANCELLED = 5, /* withdrawn by an operator */
};

#define BW_WAVE_REC_NAME_MAX 64

struct bw_wave_rec {
	char name[BW_WAVE_REC_NAME_MAX + 1];
	char tag[BW_STORE_TAG_MAX + 1];
	int state;		/* enum bw_wave_state */
	int64_t step;		/* the open step (0-based) */
	int64_t step_started;	/* when it opened */
	int64_t created, updated;
	char reason[256];	/* why the state last changed */
};

/* A device's part in a wave. outcome: 0 pending, 1 succeeded, 2 failed. */
struct bw_wave_dev_rec {
	char wave[BW_WAVE_REC_NAME_MAX + 1];
	char uuid[BW_STORE_UUID_MAX + 1];
	int64_t step;	  /* its cohort's step */
	int64_t admitted; /* when the gateway first offered it the wave */
	int outcome;
	int64_t reported;
};

/* Per-step counts of a wave; silent = pending and admitted before the
 * silence limit. */
struct bw_wave_step_counts {
	int64_t admitted, succeeded, failed, silent, pending;
};

struct bw_token_use {
	int64_t id;
	char scope[16];
};

/* An operator account (a bearer token with a role) found by its hash. */
struct bw_account_rec {
	int64_t id;
	char role[16]; /* "viewer" / "operator" */
};

/* A browser session of the fleet page. account 0: the admin token. */
struct bw_session_rec {
	int64_t account;
	char role[16];
	char csrf[65];
	int64_t expires;
};

/*
 * A filtered page of the fleet, ordered by uuid (keyset paging: the page
 * after `after`). Empty strings and -1 mean "any".
 *   uuid_prefix / name_prefix: a search (one of them, or neither)
 *   status: "ok", "updating", "failed" (from events), "denied", or
 *           "silent" (last seen before silent_before)
 */
struct bw_device_query {
	const char *uuid; /* exactly this device, or NULL */
	const char *after;
	const char *uuid_prefix;
	const char *name_prefix;
	const char *tag;
	int production; /* -1 any, 0 CI, 1 production */
	const char *status;
	int64_t silent_before;
	int64_t limit;
};

struct bw_store;

struct bw_store_ops {
	const char *name;
	void (*close)(struct bw_store *s);
	/* One transaction at a time; rollback is safe without begin. A
	 * committed transaction survives a crash of the process and a power
	 * loss. */
	int (*begin)(struct bw_store *s, struct bw_err *err);
	/* As begin, for telemetry (last-seen times, events): the commit
	 * survives a crash of the process but may be lost with the last
	 * moments before a power loss; cheaper (no fsync per commit). */
	int (*begin_light)(struct bw_store *s, struct bw_err *err);
	int (*commit)(struct bw_store *s, struct bw_err *err);
	void (*rollback)(struct bw_store *s);
	/* Inside a transaction, a part that can fail alone (several
	 * registrations under one commit): savepoint, then release it to
	 * keep its writes or undo them all (the savepoint is gone after
	 * either; undo leaves the transaction usable). */
	int (*savepoint)(struct bw_store *s, struct bw_err *err);
	int (*savepoint_release)(struct bw_store *s, struct bw_err *err);
	void (*savepoint_undo)(struct bw_store *s);

	/* BW_ENOTFOUND if unknown. */
	int (*device_get)(struct bw_store *s, const char *uuid,
			  struct bw_device_rec *out, struct bw_err *err);
	/* Insert, or update every field (uuid canonical, BW_EINVAL
	 * otherwise). */
	int (*device_put)(struct bw_store *s, const struct bw_device_rec *d,
			  struct bw_err *err);
	/* Telemetry of a known device, nothing else of its record: last
	 * seen (never moved back), and tag, target and certificate notAfter
	 * unless "" / 0. A device without a record is left alone (0). */
	int (*device_note)(struct bw_store *s, const char *uuid,
			   int64_t last_seen, const char *tag,
			   const char *target, int64_t cert_not_after,
			   struct bw_err *err);
	/* Devices ordered by uuid, those after `after` ("" = from start). */
	int (*device_list)(struct bw_store *s, const char *after, int64_t limit,
			   json_t **out, struct bw_err *err);
	/* Devices whose certificate expires before `before` (notAfter
	 * known), soonest first, at most limit; rows as device_list's. */
	int (*device_expiring)(struct bw_store *s, int64_t before,
			       int64_t limit, json_t **out,
			       struct bw_err *err);

	/* deny != 0 adds (or updates the reason), 0 removes. uuid
	 * canonical (BW_EINVAL otherwise). */
	int (*deny_set)(struct bw_store *s, const char *uuid, int deny,
			const char *reason, int64_t now, struct bw_err *err);
	/* 1 if deny-listed, 0 if not, < 0 on error. */
	int (*deny_has)(struct bw_store *s, const char *uuid,
			struct bw_err *err);
	int (*deny_list)(struct bw_store *s, json_t **out, struct bw_err *err);

	/* Duplicates (same device and event id) are ignored (retries). */
	int (*event_add)(struct bw_store *s, const char *uuid,
			 const char *event_id, const char *event_type,
			 int64_t received, const uint8_t *json, size_t len,
			 struct bw_err *err);
	/* Keep only the newest `keep` events of a device. */
	int (*event_trim)(struct bw_store *s, const char *uuid, int64_t keep,
			  struct bw_err *err);
	/* Newest first; uuid NULL for every device. */
	int (*event_list)(struct bw_store *s, const char *uuid, int64_t limit,
			  json_t **out, struct bw_err *err);

	/* hash_hex: sha256 of the token; uses < 0: unlimited. */
	int (*token_add)(struct bw_store *s, const char *hash_hex,
			 const char *scope, int64_t expires, int64_t uses,
			 const char *comment, int64_t now, int64_t *id,
			 struct bw_err *err);
	int (*token_list)(struct bw_store *s, json_t **out, struct bw_err *err);
	int (*token_revoke)(struct bw_store *s, int64_t id, struct bw_err *err);
	/*
	 * Find a live token (not revoked, not expired at now, uses left) and
	 * count one use. BW_ENOTFOUND / BW_EEXPIRED otherwise. Call inside a
	 * transaction so a failed registration gives the use back.
	 */
	int (*token_use)(struct bw_store *s, const char *hash_hex, int64_t now,
			 struct bw_token_use *out, struct bw_err *err);

	/* BW_EEXIST if that (flavour, tag, role, version) exists. */
	int (*meta_put)(struct bw_store *s, const struct bw_meta_rec *m,
			int64_t now, struct bw_err *err);
	/*
	 * version 0: the newest. Fills *out (out->data malloc'd).
	 * BW_ENOTFOUND if none.
	 */
	int (*meta_get)(struct bw_store *s, const char *flavour,
			const char *tag, const char *role, int64_t version,
			struct bw_meta_rec *out, struct bw_err *err);
	/* Newest version of every (flavour, tag, role), without data:
	 * [{"flavour","tag","role","version","expires"}]. */
	int (*meta_heads)(struct bw_store *s, json_t **out, struct bw_err *err);

	/* Uploaded CRLs (admin API), one per issuer (a CA file base, or
	 * "factory_ca"); a later upload replaces the earlier one. */
	int (*crl_put)(struct bw_store *s, const char *issuer, int64_t number,
		       const uint8_t *pem, size_t len, int64_t now,
		       struct bw_err *err);
	/* [{"issuer", "number", "pem"}] */
	int (*crl_list)(struct bw_store *s, json_t **out, struct bw_err *err);

	/* Device CA certificates uploaded on the admin API (PEM by name);
	 * production: it may issue production certificates. */
	int (*ca_put)(struct bw_store *s, const char *name, const uint8_t *pem,
		      size_t len, int production, int64_t now,
		      struct bw_err *err);
	/* [{"name", "pem", "production": bool}] */
	int (*ca_list)(struct bw_store *s, json_t **out, struct bw_err *err);
	/* A counter that grows with every change to the deny-list, uploaded
	 * CRLs or uploaded device CAs, by any process on this database. */
	int (*identity_changes)(struct bw_store *s, int64_t *out,
				struct bw_err *err);

	/* Certificate rotations (EST). rotation_add records a pending one
	 * with the issued certificate's PEM (answered again, unchanged, to a
	 * device that retries with the same key). */
	int (*rotation_add)(struct bw_store *s, const struct bw_rotation_rec *r,
			    const char *cert_pem, struct bw_err *err);
	/* The device's pending rotation (BW_ENOTFOUND if none); *cert_pem
	 * (optional, malloc'd) receives the issued certificate. */
	int (*rotation_pending)(struct bw_store *s, const char *uuid,
				struct bw_rotation_rec *out, char **cert_pem,
				struct bw_err *err);
	/* The rotation that issued the certificate with this fingerprint
	 * (BW_ENOTFOUND if none). */
	int (*rotation_by_fp)(struct bw_store *s, const char *new_fp,
			      struct bw_rotation_rec *out, struct bw_err *err);
	/* Move a pending rotation to state (completed / superseded). */
	int (*rotation_finish)(struct bw_store *s, const char *new_fp,
			       int state, int64_t now, struct bw_err *err);
	/* Newest first; state 0 for every state. [{"uuid","state",
	 * "old-fingerprint","new-fingerprint","serial","issuer",
	 * "requested","finished"}] */
	int (*rotation_list)(struct bw_store *s, int state, int64_t limit,
			     json_t **out, struct bw_err *err);
	/* Certificates refused by fingerprint (replaced by a rotation). */
	int (*cert_deny_add)(struct bw_store *s, const char *fp,
			     const char *uuid, const char *reason, int64_t now,
			     struct bw_err *err);
	/* 1 if denied, 0 if not, < 0 on error. */
	int (*cert_deny_has)(struct bw_store *s, const char *fp,
			     struct bw_err *err);
	/* An operator's request to rotate: kind "device" (name: uuid) or
	 * "ca" (name: device CA file base). Certificates issued before the
	 * request's time should rotate. */
	int (*rotate_request_set)(struct bw_store *s, const char *kind,
				  const char *name, int64_t now,
				  struct bw_err *err);
	/* The request's time, or BW_ENOTFOUND. */
	int (*rotate_request_get)(struct bw_store *s, const char *kind,
				  const char *name, int64_t *when,
				  struct bw_err *err);

	int (*ci_target_add)(struct bw_store *s, const char *name,
			     uint64_t length, const char *sha256,
			     const char *custom_json, int64_t now,
			     struct bw_err *err);

	/* Devices matching q, each as device_list's rows plus "status". */
	int (*device_query)(struct bw_store *s, const struct bw_device_query *q,
			    json_t **out, struct bw_err *err);
	/* The install status events last reported ("ok", "updating",
	 * "failed"). */
	int (*device_status_set)(struct bw_store *s, const char *uuid,
				 const char *status, struct bw_err *err);

	/* Operator accounts: hash_hex is the sha256 of the bearer token; role
	 * "viewer" or "operator". */
	int (*account_add)(struct bw_store *s, const char *hash_hex,
			   const char *role, int64_t expires,
			   const char *comment, int64_t now, int64_t *id,
			   struct bw_err *err);
	/* [{"id","role","expires","created","revoked","comment"}] */
	int (*account_list)(struct bw_store *s, json_t **out,
			    struct bw_err *err);
	int (*account_revoke)(struct bw_store *s, int64_t id,
			      struct bw_err *err);
	/* A live account (not revoked, not expired at now): BW_ENOTFOUND. */
	int (*account_find)(struct bw_store *s, const char *hash_hex,
			    int64_t now, struct bw_account_rec *out,
			    struct bw_err *err);

	/* Fleet page sessions by the sha256 of the session id (the id
	 * itself lives only in the browser's cookie). session_put also
	 * drops expired sessions. session_get: BW_ENOTFOUND unless live and
	 * its account still is. */
	int (*session_put)(struct bw_store *s, const char *hash_hex,
			   const struct bw_session_rec *rec, int64_t now,
			   struct bw_err *err);
	int (*session_get)(struct bw_store *s, const char *hash_hex,
			   int64_t now, struct bw_session_rec *out,
			   struct bw_err *err);
	int (*session_del)(struct bw_store *s, const char *hash_hex,
			   struct bw_err *err);
	/* Waves. wave_add stores a new wave (BW_EEXIST if the name is
	 * taken) with its charter bytes; wave_update writes state, step,
	 * step_started, updated and reason. */
	int (*wave_add)(struct bw_store *s, const struct bw_wave_rec *w,
			const uint8_t *charter, size_t len, struct bw_err *err);
	int (*wave_update)(struct bw_store *s, const struct bw_wave_rec *w,
			   struct bw_err *err);
	/* BW_ENOTFOUND if unknown; *charter (optional, malloc'd). */
	int (*wave_get)(struct bw_store *s, const char *name,
			struct bw_wave_rec *out, uint8_t **charter,
			size_t *len, struct bw_err *err);
	/* The newest running or paused wave of tag, or BW_ENOTFOUND. */
	int (*wave_active)(struct bw_store *s, const char *tag,
			   struct bw_wave_rec *out, uint8_t **charter,
			   size_t *len, struct bw_err *err);
	/* [{"name","tag","state","step","step-started","created","updated",
	 * "reason"}], newest first; active_only: running and paused. */
	int (*wave_list)(struct bw_store *s, int active_only, json_t **out,
			 struct bw_err *err);
	int (*wave_device_get)(struct bw_store *s, const char *wave,
			       const char *uuid, struct bw_wave_dev_rec *out,
			       struct bw_err *err);
	/* Insert or replace. */
	int (*wave_device_put)(struct bw_store *s,
			       const struct bw_wave_dev_rec *d,
			       struct bw_err *err);
	/* Counts per step into out[0..nsteps); silent_before: a pending
	 * device admitted before it counts as silent. */
	int (*wave_counts)(struct bw_store *s, const char *wave,
			   int64_t silent_before,
			   struct bw_wave_step_counts *out, size_t nsteps,
			   struct bw_err *err);
	/* Devices admitted at or after since. */
	int (*wave_admitted_since)(struct bw_store *s, const char *wave,
				   int64_t since, int64_t *n,
				   struct bw_err *err);
	/* The wave's decisions, oldest first: wave_log_add appends one
	 * (JSON object), wave_log lists [{"time", "entry"}]. */
	int (*wave_log_add)(struct bw_store *s, const char *wave, int64_t now,
			    const char *entry_json, struct bw_err *err);
	int (*wave_log)(struct bw_store *s, const char *wave, json_t **out,
			struct bw_err *err);

	/* The transparency log (translog.h keeps the tree consistent; call
	 * these through it). Entries are numbered from 0 without gaps. */
	int (*tlog_size)(struct bw_store *s, uint64_t *out,
			 struct bw_err *err);
	int (*tlog_leaf_add)(struct bw_store *s, uint64_t index,
			     const uint8_t *entry, size_t len, int64_t now,
			     struct bw_err *err);
	/* *entry malloc'd (NUL-terminated); BW_ENOTFOUND, BW_ETOOBIG > max. */
	int (*tlog_leaf_get)(struct bw_store *s, uint64_t index, size_t max,
			     uint8_t **entry, size_t *len, struct bw_err *err);
	int (*tlog_node_put)(struct bw_store *s, int level, uint64_t index,
			     const uint8_t hash[32], struct bw_err *err);
	/* BW_ENOTFOUND if missing (a damaged tree). */
	int (*tlog_node_get)(struct bw_store *s, int level, uint64_t index,
			     uint8_t out[32], struct bw_err *err);
	/* A signed checkpoint of the tree at size (one per size: a witnessed
	 * copy of the same checkpoint replaces it). */
	int (*tlog_checkpoint_put)(struct bw_store *s, uint64_t size,
				   const char *note, size_t len, int64_t now,
				   struct bw_err *err);
	/* size < 0: the newest. *note malloc'd. BW_ENOTFOUND if none. */
	int (*tlog_checkpoint_get)(struct bw_store *s, int64_t size,
				   uint64_t *out_size, char **note,
				   size_t *len, struct bw_err *err);
	/* The newest checkpoint above size min that carries a second
	 * signature line (a witness's). BW_ENOTFOUND if none. */
	int (*tlog_checkpoint_witnessed)(struct bw_store *s, uint64_t min,
					 uint64_t *out_size, char **note,
					 size_t *len, struct bw_err *err);
	/* The newest entry naming sha256 hex digest (as "sha256" or
	 * "targets-sha256"). BW_ENOTFOUND if none. Scans the entries. */
	int (*tlog_find_digest)(struct bw_store *s, const char *hex,
				uint64_t *index, struct bw_err *err);

	/* Rate limits shared by every worker and gateway on the database:
	 * count one hit of key on limiter in time window win (a minute
	 * number, say); *count receives the hits so far in that window,
	 * this one included. The first hit of a window also drops every
	 * limiter's rows of earlier windows. One statement, atomic. */
	int (*rate_hit)(struct bw_store *s, const char *limiter,
			const char *key, int64_t win, int64_t *count,
			struct bw_err *err);

	/* PKI policies whose changes the transparency log holds, by
	 * bw_srv_policy_digest. put (inside the transaction of the log
	 * entries): this digest is now the newest logged policy (its seq
	 * above every other). get: its seq; BW_ENOTFOUND if never logged. */
	int (*pki_logged_put)(struct bw_store *s, const char *digest,
			      int64_t now, struct bw_err *err);
	int (*pki_logged_get)(struct bw_store *s, const char *digest,
			      int64_t *seq, struct bw_err *err);
};

struct bw_store {
	const struct bw_store_ops *ops;
	void *backend;
	/* Metadata written through this handle (meta_put) so far: lets a
	 * cache of this process tell that its copy is out of date. */
	uint64_t meta_writes;
	/* Statements sent to the database through this handle (the
	 * benchmarks' queries per operation; GET /status shows it). */
	uint64_t queries;
	/* Write transactions this handle committed (SQLite: its commit
	 * hook, so also a write outside BEGIN; PostgreSQL: every COMMIT). */
	uint64_t commits;
};

/*
 * Open (creating if needed) an SQLite database at path: WAL, foreign
 * keys, busy timeout, schema migrated to the newest version. BW_ESTATE if
 * the file has a newer schema than this program knows.
 */
int bw_store_sqlite_open(const char *path, struct bw_store **out,
			 struct bw_err *err);

/*
 * Connect to PostgreSQL (a libpq connection string or
 * postgresql:// URL; several hosts and target_session_attrs=read-write
 * for failover) and migrate the schema to the newest version under an
 * advisory lock. BW_EIO if the server can not be reached, BW_ESTATE if the
 * database has a newer schema than this program knows.
 */
int bw_store_postgres_open(const char *url, struct bw_store **out,
			   struct bw_err *err);

/*
 * The schema version this program writes (SQLite), and that of the
 * PostgreSQL schema: always the same number (a unit test checks it), each
 * version one migration in each backend.
 */
int bw_store_schema_version(void);
int bw_store_postgres_schema_version(void);

/* Close and free. NULL is a no-op. */
void bw_store_close(struct bw_store *s);

#endif
