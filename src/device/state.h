/*
 * The device's durable state (state.c, SQLite): slots, the pending
 * installation, the boot counter, the download, failed targets and the
 * cached target listing.
 */
#ifndef BW_DEV_STATE_H
#define BW_DEV_STATE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "bulwark/error.h"
#include "config.h"

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
/* The key the current listing was built from ("" if none). */
int bw_dev_state_listing_key(sqlite3 *db, char *out, size_t cap);
/* Record a check-in that found the listing unchanged. */
int bw_dev_state_checkin(sqlite3 *db, int64_t checkin, struct bw_err *err);

/*
 * Replacing the listing of targets for this device, one transaction,
 * targets added in name order and written in chunks (memory does not
 * grow with the number of targets): begin, add each target, commit (or
 * abort). Commit also records the
 * check-in time, what the listing was built from (key) and the answer
 * for it: best (NULL: nothing newer) as decided for the running version.
 * Commit and abort free tx. While tx is open, is_failed answers from the
 * same transaction.
 */
struct bw_dev_listing_tx;
int bw_dev_state_listing_begin(sqlite3 *db, struct bw_dev_listing_tx **out,
			       struct bw_err *err);
/* t's name, version, length and bootfw (not its sha256: listed targets
 * come back with sha256 "", pull takes TUF's). */
int bw_dev_state_listing_add(struct bw_dev_listing_tx *tx,
			     const struct bw_dev_target *t, struct bw_err *err);
int bw_dev_state_listing_is_failed(struct bw_dev_listing_tx *tx,
				   const char *name, int *failed,
				   struct bw_err *err);
int bw_dev_state_listing_commit(struct bw_dev_listing_tx *tx, int64_t checkin,
				const char *key, const char *running,
				const struct bw_dev_target *best,
				struct bw_err *err);
void bw_dev_state_listing_abort(struct bw_dev_listing_tx *tx);

/* Called for each listed target (failed: it failed here before); a
 * non-zero return stops the walk and is returned. */
typedef int (*bw_dev_listing_fn)(void *ctx, const struct bw_dev_target *t,
				 int failed);
/* The stored listing in name order, one chunk in memory at a time; with
 * only_failed, only the targets that failed here before. */
int bw_dev_state_listing_foreach(sqlite3 *db, int only_failed,
				 bw_dev_listing_fn fn, void *ctx,
				 struct bw_err *err);
/* Does the stored listing hold any target? */
int bw_dev_state_listing_any(sqlite3 *db, int *any, struct bw_err *err);
/* The first listed target (name order) of this version; *found 0 if none. */
int bw_dev_state_listing_find_version(sqlite3 *db, const char *version,
				      struct bw_dev_target *out, int *found,
				      struct bw_err *err);
/*
 * The stored answer for the listing when it was decided for the running
 * version: *stored 1, and *have 1 with *best the target to install (0:
 * nothing newer). *stored 0 when no answer is stored for running (the
 * listing or the running version changed, a target failed since).
 */
int bw_dev_state_best_load(sqlite3 *db, const char *running,
			   struct bw_dev_target *best, int *have, int *stored,
			   struct bw_err *err);
/* Store the answer decided for the running version (best NULL: none). */
int bw_dev_state_best_save(sqlite3 *db, const char *running,
			   const struct bw_dev_target *best, struct bw_err *err);
const char *bw_dev_slot_state_name(int s);

#endif
