/*
 * bulwark-device internals (library bwdevice, linked by the program, its
 * tests and its fuzz targets). docs/device.md describes the behaviour.
 *
 * Layers: config.c (INI), state.c (SQLite: slots, pending install, boot
 * counter, download, failed targets, target listing), events.c (bounded
 * event queue and POST /events), crash.c (power-loss test hook),
 * net.c (fetcher with mTLS and the TUF updater), update.c (check, list,
 * pull), lifecycle.c (install, boot, run, rollback), enroll.c
 * (registration). Functions return 0 or a negative BW_E* code unless they
 * say they return an exit code (BW_DEV_EXIT_*).
 */
#ifndef BW_DEVICE_H
#define BW_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "bulwark/crypto.h"
#include "bulwark/error.h"
#include "bulwark/fetch.h"

/* Stable exit codes (docs/device.md); numbers follow aktualizr-lite's CLI
 * where the meaning is the same, so existing scripts keep working. */
enum bw_dev_exit {
	BW_DEV_EXIT_OK = 0,
	BW_DEV_EXIT_FAIL = 1,
	BW_DEV_EXIT_USAGE = 2,
	BW_DEV_EXIT_CHECKIN_FAILED = 4,       /* server unreachable */
	BW_DEV_EXIT_NO_MATCHING_TARGET = 6,
	BW_DEV_EXIT_TUF_INVALID = 11,         /* signature, rollback, format */
	BW_DEV_EXIT_TUF_EXPIRED = 12,
	BW_DEV_EXIT_TUF_FETCH_FAILED = 13,
	BW_DEV_EXIT_UPDATE_AVAILABLE = 16,
	BW_DEV_EXIT_TARGET_NOT_FOUND = 20,
	BW_DEV_EXIT_NO_ROLLBACK_TARGET = 21,
	BW_DEV_EXIT_REFUSED = 22,             /* downgrade / boot firmware */
	BW_DEV_EXIT_PENDING = 30,             /* an installation is pending */
	BW_DEV_EXIT_NO_PENDING = 40,
	BW_DEV_EXIT_DOWNLOAD_FAILED = 50,
	BW_DEV_EXIT_VERIFY_FAILED = 70,       /* length or hash mismatch */
	BW_DEV_EXIT_NEEDS_REBOOT = 100,
	BW_DEV_EXIT_ROLLED_BACK = 110,
	BW_DEV_EXIT_ROLLBACK_NEEDS_REBOOT = 120,
	BW_DEV_EXIT_NOT_REGISTERED = 130,
	BW_DEV_EXIT_ALREADY_REGISTERED = 131,
};

/* ---- config.c ---------------------------------------------------------- */

#define BW_DEV_SLOTS 2

struct bw_dev_config {
	char *server_url;     /* [server] url */
	char *metadata_url;   /* default <url>/repo/ */
	char *targets_url;    /* default <url>/targets/ (bulwarkd gateway) */
	char *events_url;     /* default <url>/events */
	char *ca_file, *cert_file, *key_file;
	char *pkcs11_module, *token_label, *key_label, *pin_file;
	char *uuid, *name, *hardware_id, *tag;
	char *state_dir;      /* sota.db, metadata/, downloads/ */
	char *slot[BW_DEV_SLOTS];
	long boot_attempts;   /* default 3 */
	long interval_s;      /* default 300 */
	long jitter_s;        /* default 30 */
	long max_backoff_s;   /* default 3600 */
	long max_events;      /* queue bound, default 1000 */
	long event_batch;     /* default 50 */
	long low_speed_time_s; /* default 30 */
	int rollback_protection; /* default 1 */
};

void bw_dev_config_init(struct bw_dev_config *c);
/* Parse INI text into c. Keys already set are kept when keep_set is 1 (a
 * second file only fills gaps). Unknown sections/keys and bad numbers are
 * errors (BW_EFORMAT, message names the line). */
int bw_dev_config_parse(struct bw_dev_config *c, const char *text,
			int keep_set, struct bw_err *err);
/* Read path (at most 64 KiB), then state_dir/identity.ini if present
 * (written by `register`), then fill defaults and check required keys. */
int bw_dev_config_load(struct bw_dev_config *c, const char *path,
		       struct bw_err *err);
void bw_dev_config_dispose(struct bw_dev_config *c);

/* ---- state.c ------------------------------------------------------------ */

#define BW_DEV_NAME_MAX 256
#define BW_DEV_VERSION_MAX 64

struct bw_dev_target {
	char name[BW_DEV_NAME_MAX];
	char version[BW_DEV_VERSION_MAX];
	uint64_t length;
	char sha256[65];  /* hex */
	int64_t bootfw;   /* custom.bootfirmware_version, -1 if none */
};

enum bw_dev_slot_state {
	BW_DEV_SLOT_EMPTY = 0,   /* nothing bootable */
	BW_DEV_SLOT_WRITING,     /* being written: never bootable */
	BW_DEV_SLOT_PENDING,     /* written and verified, on trial */
	BW_DEV_SLOT_GOOD,        /* confirmed by `run` (or factory image) */
	BW_DEV_SLOT_BAD,         /* failed to boot / rolled back from */
};

enum bw_dev_dl_state { BW_DEV_DL_NONE = 0, BW_DEV_DL_ACTIVE, BW_DEV_DL_DONE };

struct bw_dev_state {
	int active;          /* confirmed slot, 0 (A) or 1 (B) */
	int booted;          /* slot chosen by the last boot, -1 none yet */
	int pending;         /* slot on trial, -1 none */
	long attempts_left;  /* boots left for the pending slot */
	char correlation[64];
	int64_t bootfw;      /* installed boot firmware version, -1 none */
	int slot_state[BW_DEV_SLOTS];
	struct bw_dev_target slot[BW_DEV_SLOTS];
	int dl_state;
	struct bw_dev_target dl;
	char dl_path[1024];
	int64_t last_checkin; /* unix time, 0 never */
};

/* An event to queue in the same transaction as a state change. */
struct bw_dev_event {
	const char *type;    /* "EcuDownloadStarted", ... */
	int success;         /* -1: no success field */
	const char *details; /* may be NULL */
	const struct bw_dev_target *target;
};

/* Open (create, migrate) the database: WAL, synchronous=FULL. */
int bw_dev_state_open(const char *path, sqlite3 **out, struct bw_err *err);
int bw_dev_state_load(sqlite3 *db, struct bw_dev_state *st,
		      struct bw_err *err);
/* Write st and queue evs in one transaction (then the crash hook counts
 * one durable write). max_events bounds the queue (oldest dropped). */
int bw_dev_state_save(sqlite3 *db, const struct bw_dev_state *st,
		      const struct bw_dev_event *evs, size_t nevs,
		      long max_events, struct bw_err *err);
int bw_dev_state_mark_failed(sqlite3 *db, const struct bw_dev_target *t,
			     struct bw_err *err);
int bw_dev_state_is_failed(sqlite3 *db, const char *name, int *failed,
			   struct bw_err *err);
/* Replace the cached listing of targets for this device and record the
 * check-in time and what the listing was built from (key), one txn. */
int bw_dev_state_listing_save(sqlite3 *db, const struct bw_dev_target *ts,
			      size_t n, int64_t checkin, const char *key,
			      struct bw_err *err);
/* The key the current listing was built from ("" if none). */
int bw_dev_state_listing_key(sqlite3 *db, char *out, size_t cap);
/* Record a check-in that found the listing unchanged. */
int bw_dev_state_checkin(sqlite3 *db, int64_t checkin, struct bw_err *err);
/* The cached listing, malloc'd array (*out, free()). */
int bw_dev_state_listing_load(sqlite3 *db, struct bw_dev_target **out,
			      size_t *n, struct bw_err *err);
const char *bw_dev_slot_state_name(int s);

/* ---- events.c ----------------------------------------------------------- */

/* Server text for a message: printable ASCII only, at most cap - 1. */
void bw_dev_printable(const uint8_t *in, size_t len, char *out, size_t cap);
/* A random RFC 4122 version 4 UUID (event ids, correlation ids). */
int bw_dev_uuid(char out[37]);
/* Queue one event (inside the caller's transaction). */
int bw_dev_event_queue(sqlite3 *db, const struct bw_dev_event *ev,
		       const char *correlation, long max_events,
		       struct bw_err *err);
int bw_dev_events_count(sqlite3 *db, long *n, struct bw_err *err);
/* Build the JSON array of up to batch oldest events; *last_seq is the
 * highest sequence number included (for bw_dev_events_drop). */
int bw_dev_events_batch(sqlite3 *db, long batch, char **json, size_t *len,
			int64_t *last_seq, size_t *count, struct bw_err *err);
int bw_dev_events_drop(sqlite3 *db, int64_t last_seq, struct bw_err *err);
/* POST queued events in batches until the queue is empty or a send fails
 * (events stay queued). *sent receives the number delivered. */
int bw_dev_events_flush(sqlite3 *db, struct bw_fetcher *f, const char *url,
			long batch, size_t *sent, struct bw_err *err);

/* ---- crash.c ------------------------------------------------------------ */

/*
 * Count a durable write (a committed transaction, an fsync'd slot). When
 * BW_DEVICE_CRASH_AFTER_WRITES=N is set, the N-th call kills the process
 * with SIGKILL, as a power cut would. Inert when the variable is unset.
 */
void bw_dev_durable(const char *what);

/* ---- agent (update.c, lifecycle.c) -------------------------------------- */

struct bw_dev {
	struct bw_dev_config cfg;
	sqlite3 *db;
	struct bw_dev_state st;
	char *mdir, *ddir;     /* state_dir/metadata, state_dir/downloads */
	struct bw_fetcher *fetcher; /* lazily made; one per run (TLS reuse) */
	struct bw_signer *signer;   /* PKCS#11 key for mTLS, lazily opened */
	int lock_fd;           /* state_dir/agent.lock, -1 if not held */
	int progress;          /* draw a progress bar on stdout */
	int verbose;
};

/*
 * Load config and open the database. BW_DEV_OPEN_EXCLUSIVE takes the
 * state directory's lock (BW_ESTATE if another agent, e.g. the daemon,
 * holds it) and recovers from an interrupted install; BW_DEV_OPEN_READONLY
 * (status, list) takes no lock and changes nothing.
 */
enum { BW_DEV_OPEN_EXCLUSIVE = 0, BW_DEV_OPEN_READONLY = 1 };
int bw_dev_open(const char *config_path, int flags, struct bw_dev **out,
		struct bw_err *err);
void bw_dev_free(struct bw_dev *d);
/* The fetcher for this run (x-ats-tags, CA, client cert, token key). */
int bw_dev_fetcher(struct bw_dev *d, struct bw_fetcher **out,
		   struct bw_err *err);
/* Save d->st with events (max_events from the config). */
int bw_dev_save(struct bw_dev *d, const struct bw_dev_event *evs, size_t n,
		struct bw_err *err);

/* Version order ("1.10" > "1.9"; numbers compare as numbers). */
int bw_dev_version_cmp(const char *a, const char *b);
/* Does custom (a TUF target's custom object) name this hardware id and
 * tag? Fills t's version and bootfw from it. 1 yes, 0 no. */
int bw_dev_target_matches(const struct bw_dev_config *c, const char *name,
			  uint64_t length, const void *custom_json,
			  struct bw_dev_target *t);

/* With rollback protection on: is t's boot firmware below the installed? */
int bw_dev_bootfw_refused(const struct bw_dev *d, const struct bw_dev_target *t);

/* Exit-code returning operations (message on stderr / stdout). */
int bw_dev_check(struct bw_dev *d, int print);
int bw_dev_list(struct bw_dev *d);
int bw_dev_pull(struct bw_dev *d, const char *version);
int bw_dev_install(struct bw_dev *d);
int bw_dev_boot(struct bw_dev *d);
int bw_dev_run(struct bw_dev *d);
int bw_dev_rollback(struct bw_dev *d);
int bw_dev_status(struct bw_dev *d);
int bw_dev_send_events(struct bw_dev *d);
/* Check, pull and install in a loop until max_loops (0: forever) or an
 * installation needs a reboot (returns that exit code). */
int bw_dev_daemon(struct bw_dev *d, long max_loops, long interval_s);

/* ---- enroll.c ----------------------------------------------------------- */

struct bw_dev_register_opts {
	const char *config_path; /* where the device config is; read for
				    state_dir when it exists */
	const char *state_dir;
	const char *server_url;
	const char *token_file;
	const char *uuid, *name, *hardware_id, *tag;
	const char *pkcs11_module, *token_label, *pin_file;
	const char *key_label;
	const char *ca_file;    /* trust for the registration server */
	int use_key_file;       /* file key instead of a token key */
	int force;
};

/* Returns a BW_DEV_EXIT_* code. */
int bw_dev_register(const struct bw_dev_register_opts *o);

/* token_cert.c: store cert_pem in the token o selects (token_label, pin,
 * module) as a CKO_CERTIFICATE with this label and CKA_ID. */
struct bw_pkcs11_opts;
int bw_dev_token_store_cert(const struct bw_pkcs11_opts *o, const char *label,
			    const uint8_t *id, size_t id_len,
			    const char *cert_pem, struct bw_err *err);

#endif
