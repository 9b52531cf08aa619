/*
 * The agent's state in SQLite (WAL, synchronous=FULL): every state change
 * is one transaction, so a power cut leaves either the old or the new
 * state, never a mix. Schema versions are applied in order by migrate().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/buf.h"
#include "config.h"
#include "crash.h"
#include "events.h"
#include "state.h"

/* migrations[i] takes the schema from version i to i + 1. */
static const char *const migrations[] = {
	"CREATE TABLE agent(id INTEGER PRIMARY KEY CHECK (id = 1),"
	" active INTEGER NOT NULL, booted INTEGER NOT NULL,"
	" pending INTEGER NOT NULL, attempts_left INTEGER NOT NULL,"
	" correlation TEXT NOT NULL, bootfw INTEGER NOT NULL,"
	" last_checkin INTEGER NOT NULL, dl_state INTEGER NOT NULL,"
	" dl_path TEXT NOT NULL);"
	/* role: 'slot0', 'slot1' (state = slot state) or 'download'. */
	"CREATE TABLE target_rec(role TEXT PRIMARY KEY, state INTEGER NOT NULL,"
	" name TEXT NOT NULL, version TEXT NOT NULL, length INTEGER NOT NULL,"
	" sha256 TEXT NOT NULL, bootfw INTEGER NOT NULL);"
	"CREATE TABLE failed_target(name TEXT PRIMARY KEY, version TEXT,"
	" at INTEGER NOT NULL);"
	"CREATE TABLE event(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" body TEXT NOT NULL);"
	"CREATE TABLE listing(name TEXT PRIMARY KEY, version TEXT NOT NULL,"
	" length INTEGER NOT NULL, sha256 TEXT NOT NULL,"
	" bootfw INTEGER NOT NULL);"
	/* Slot A holds the factory image: confirmed, version unknown. */
	"INSERT INTO agent VALUES(1, 0, -1, -1, 0, '', -1, 0, 0, '');"
	"INSERT INTO target_rec VALUES('slot0', 3, 'factory', '', 0, '', -1);"
	"INSERT INTO target_rec VALUES('slot1', 0, '', '', 0, '', -1);"
	"INSERT INTO target_rec VALUES('download', 0, '', '', 0, '', -1);",
	/* v2: what the listing was built from ("<targets version>|<hardware
	 * id>|<tag>"), so a check that finds nothing new skips re-reading
	 * targets.json (100k targets: 280 MiB and seconds otherwise). */
	"ALTER TABLE agent ADD COLUMN listing_key TEXT NOT NULL DEFAULT ''",
	/* v3: the answer of the last check for the stored listing (the
	 * target to install, '' for none) and the running version it was
	 * decided for (NULL: decide again), so a check that finds nothing
	 * new reads one row instead of the whole listing. */
	"ALTER TABLE agent ADD COLUMN best_for TEXT;"
	"ALTER TABLE agent ADD COLUMN best_name TEXT NOT NULL DEFAULT ''",
	/* v4: the listing in half the bytes (one B-tree keyed by name, the
	 * sha256 as 32 bytes): 100k targets are written at every new
	 * targets version. The old rows are dropped, not converted: the
	 * listing is a copy of verified metadata that the next check writes
	 * again (an empty key makes it). */
	"CREATE TABLE listing_v4(name TEXT PRIMARY KEY,"
	" version TEXT NOT NULL, length INTEGER NOT NULL,"
	" sha256 BLOB NOT NULL, bootfw INTEGER NOT NULL) WITHOUT ROWID;"
	"DROP TABLE listing;"
	"ALTER TABLE listing_v4 RENAME TO listing;"
	"UPDATE agent SET listing_key = '', best_for = NULL",
	/* v5: the listing in chunks of packed records (see "the listing"
	 * below): 100k targets are ~140 rows, not 100,000. Old rows are
	 * dropped; the next check writes the listing again. */
	"DROP TABLE listing;"
	"CREATE TABLE listing(first TEXT PRIMARY KEY, data BLOB NOT NULL);"
	"UPDATE agent SET listing_key = '', best_for = NULL",
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

static int db_fail(sqlite3 *db, struct bw_err *err, const char *what)
{
	return bw_err_set(err, BW_EIO, "state database: %s: %s", what,
			  sqlite3_errmsg(db));
}

static int exec(sqlite3 *db, const char *sql, struct bw_err *err)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc == SQLITE_OK)
		return 0;
	rc = bw_err_set(err, BW_EIO, "state database: %.200s",
			msg ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
	return rc;
}

static int user_version(sqlite3 *db, int *v)
{
	sqlite3_stmt *s = NULL;
	int rc = BW_EIO;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) ==
		    SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW) {
		*v = sqlite3_column_int(s, 0);
		rc = 0;
	}
	sqlite3_finalize(s);
	return rc;
}

static int migrate(sqlite3 *db, struct bw_err *err)
{
	char sql[64];
	int v = 0, rc;

	if (user_version(db, &v) != 0)
		return db_fail(db, err, "schema version");
	if (v > SCHEMA_VERSION)
		return bw_err_set(err, BW_EUNSUPPORTED,
				  "state database schema %d is newer than this "
				  "agent (%d)", v, SCHEMA_VERSION);
	for (; v < SCHEMA_VERSION; v++) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		rc = exec(db, "BEGIN IMMEDIATE", err);
		if (rc == 0)
			rc = exec(db, migrations[v], err);
		if (rc == 0)
			rc = exec(db, sql, err);
		if (rc == 0)
			rc = exec(db, "COMMIT", err);
		if (rc != 0) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return rc;
		}
	}
	return 0;
}

int bw_dev_state_open(const char *path, sqlite3 **out, struct bw_err *err)
{
	sqlite3 *db = NULL;
	int rc;

	*out = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
				   SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW,
			    NULL) != SQLITE_OK) {
		rc = bw_err_set(err, BW_EIO, "%s: %s", path,
				db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return rc;
	}
	sqlite3_busy_timeout(db, 5000);
	/* The WAL is folded into the database by SQLite's own checkpoint
	 * once it holds 1000 pages, not at every exit: a check that writes
	 * a new listing would otherwise write it twice and sync twice more
	 * before it returns. Durability is the WAL's (synchronous=FULL). */
	sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	/* FULL: a commit is on disk when it returns (WAL's NORMAL could lose
	 * the last commit on power loss, e.g. "pending" after a slot write). */
	rc = exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
		      "PRAGMA foreign_keys = ON", err);
	if (rc == 0)
		rc = migrate(db, err);
	if (rc != 0) {
		sqlite3_close(db);
		return rc;
	}
	*out = db;
	return 0;
}

static void copy_text(char *dst, size_t cap, const unsigned char *src)
{
	snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

static void read_target(sqlite3_stmt *s, int col, struct bw_dev_target *t)
{
	memset(t, 0, sizeof(*t));
	copy_text(t->name, sizeof(t->name), sqlite3_column_text(s, col));
	copy_text(t->version, sizeof(t->version),
		  sqlite3_column_text(s, col + 1));
	t->length = (uint64_t)sqlite3_column_int64(s, col + 2);
	copy_text(t->sha256, sizeof(t->sha256), sqlite3_column_text(s, col + 3));
	t->bootfw = sqlite3_column_int64(s, col + 4);
}

static int load_targets(sqlite3 *db, struct bw_dev_state *st,
			struct bw_err *err)
{
	sqlite3_stmt *s = NULL;
	int rc = 0, n = 0;

	if (sqlite3_prepare_v2(db, "SELECT role, state, name, version, length,"
			       " sha256, bootfw FROM target_rec", -1, &s,
			       NULL) != SQLITE_OK)
		return db_fail(db, err, "load targets");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *role = (const char *)sqlite3_column_text(s, 0);
		int state = sqlite3_column_int(s, 1);

		if (role == NULL || state < 0 || state > BW_DEV_SLOT_BAD)
			break;
		if (strcmp(role, "download") == 0) {
			read_target(s, 2, &st->dl);
		} else if (strcmp(role, "slot0") == 0 ||
			   strcmp(role, "slot1") == 0) {
			st->slot_state[role[4] - '0'] = state;
			read_target(s, 2, &st->slot[role[4] - '0']);
		}
		n++;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE || n != 3)
		return bw_err_set(err, BW_EFORMAT, "state database: bad targets");
	return 0;
}

int bw_dev_state_load(sqlite3 *db, struct bw_dev_state *st,
		      struct bw_err *err)
{
	sqlite3_stmt *s = NULL;
	int rc = BW_EFORMAT;

	memset(st, 0, sizeof(*st));
	if (sqlite3_prepare_v2(db, "SELECT active, booted, pending,"
			       " attempts_left, correlation, bootfw,"
			       " last_checkin, dl_state, dl_path FROM agent",
			       -1, &s, NULL) != SQLITE_OK)
		return db_fail(db, err, "load");
	if (sqlite3_step(s) == SQLITE_ROW) {
		st->active = sqlite3_column_int(s, 0);
		st->booted = sqlite3_column_int(s, 1);
		st->pending = sqlite3_column_int(s, 2);
		st->attempts_left = (long)sqlite3_column_int64(s, 3);
		copy_text(st->correlation, sizeof(st->correlation),
			  sqlite3_column_text(s, 4));
		st->bootfw = sqlite3_column_int64(s, 5);
		st->last_checkin = sqlite3_column_int64(s, 6);
		st->dl_state = sqlite3_column_int(s, 7);
		copy_text(st->dl_path, sizeof(st->dl_path),
			  sqlite3_column_text(s, 8));
		rc = 0;
	}
	sqlite3_finalize(s);
	/* Rows are trusted only within range (a damaged database must not
	 * index outside the slot array). */
	if (rc == 0 && (st->active < 0 || st->active >= BW_DEV_SLOTS ||
			st->pending < -1 || st->pending >= BW_DEV_SLOTS ||
			st->booted < -1 || st->booted >= BW_DEV_SLOTS ||
			st->dl_state < 0 || st->dl_state > BW_DEV_DL_DONE))
		rc = BW_EFORMAT;
	if (rc != 0)
		return bw_err_set(err, rc, "state database: bad agent row");
	return load_targets(db, st, err);
}

static int save_target(sqlite3 *db, const char *role, int state,
		       const struct bw_dev_target *t, struct bw_err *err)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, "UPDATE target_rec SET state = ?, name = ?,"
			       " version = ?, length = ?, sha256 = ?,"
			       " bootfw = ? WHERE role = ?", -1, &s,
			       NULL) != SQLITE_OK)
		return db_fail(db, err, "save target");
	sqlite3_bind_int(s, 1, state);
	sqlite3_bind_text(s, 2, t->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, t->version, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)t->length);
	sqlite3_bind_text(s, 5, t->sha256, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, t->bootfw);
	sqlite3_bind_text(s, 7, role, -1, SQLITE_STATIC);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_fail(db, err, role);
	sqlite3_finalize(s);
	return rc;
}

static int save_agent(sqlite3 *db, const struct bw_dev_state *st,
		      struct bw_err *err)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, "UPDATE agent SET active = ?, booted = ?,"
			       " pending = ?, attempts_left = ?,"
			       " correlation = ?, bootfw = ?, last_checkin = ?,"
			       " dl_state = ?, dl_path = ?", -1, &s,
			       NULL) != SQLITE_OK)
		return db_fail(db, err, "save");
	sqlite3_bind_int(s, 1, st->active);
	sqlite3_bind_int(s, 2, st->booted);
	sqlite3_bind_int(s, 3, st->pending);
	sqlite3_bind_int64(s, 4, st->attempts_left);
	sqlite3_bind_text(s, 5, st->correlation, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, st->bootfw);
	sqlite3_bind_int64(s, 7, st->last_checkin);
	sqlite3_bind_int(s, 8, st->dl_state);
	sqlite3_bind_text(s, 9, st->dl_path, -1, SQLITE_STATIC);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_fail(db, err, "save");
	sqlite3_finalize(s);
	return rc;
}

int bw_dev_state_save(sqlite3 *db, const struct bw_dev_state *st,
		      const struct bw_dev_event *evs, size_t nevs,
		      long max_events, struct bw_err *err)
{
	int rc = exec(db, "BEGIN IMMEDIATE", err);

	if (rc != 0)
		return rc;
	rc = save_agent(db, st, err);
	for (int i = 0; rc == 0 && i < BW_DEV_SLOTS; i++)
		rc = save_target(db, i ? "slot1" : "slot0", st->slot_state[i],
				 &st->slot[i], err);
	if (rc == 0)
		rc = save_target(db, "download", st->dl_state, &st->dl, err);
	for (size_t i = 0; rc == 0 && i < nevs; i++)
		rc = bw_dev_event_queue(db, &evs[i], st->correlation,
					max_events, err);
	if (rc == 0)
		rc = exec(db, "COMMIT", err);
	if (rc != 0) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	bw_dev_durable("state");
	return 0;
}

int bw_dev_state_mark_failed(sqlite3 *db, const struct bw_dev_target *t,
			     struct bw_err *err)
{
	sqlite3_stmt *s = NULL;
	int rc = exec(db, "BEGIN IMMEDIATE", err);

	if (rc != 0)
		return rc;
	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO failed_target"
			       " VALUES(?, ?, strftime('%s','now'))", -1, &s,
			       NULL) != SQLITE_OK) {
		rc = db_fail(db, err, "failed target");
	} else {
		sqlite3_bind_text(s, 1, t->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, t->version, -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = db_fail(db, err, "failed target");
	}
	sqlite3_finalize(s);
	/* The stored answer may have been this target: decide again. */
	if (rc == 0)
		rc = exec(db, "UPDATE agent SET best_for = NULL", err);
	if (rc == 0)
		rc = exec(db, "COMMIT", err);
	if (rc != 0) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	bw_dev_durable("failed target");
	return 0;
}

int bw_dev_state_is_failed(sqlite3 *db, const char *name, int *failed,
			   struct bw_err *err)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*failed = 0;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM failed_target WHERE name = ?",
			       -1, &s, NULL) != SQLITE_OK)
		return db_fail(db, err, "failed target");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	*failed = rc == SQLITE_ROW;
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE
		       ? 0
		       : db_fail(db, err, "failed target");
}

static int set_checkin(sqlite3 *db, int64_t checkin, const char *key,
		       struct bw_err *err)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, key ? "UPDATE agent SET last_checkin = ?,"
			       " listing_key = ?" : "UPDATE agent SET"
			       " last_checkin = ?", -1, &s, NULL) != SQLITE_OK)
		return db_fail(db, err, "check-in");
	sqlite3_bind_int64(s, 1, checkin);
	if (key != NULL)
		sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_fail(db, err, "check-in");
	sqlite3_finalize(s);
	return rc;
}

int bw_dev_state_checkin(sqlite3 *db, int64_t checkin, struct bw_err *err)
{
	int rc = set_checkin(db, checkin, NULL, err);

	if (rc == 0)
		bw_dev_durable("check-in");
	return rc;
}

int bw_dev_state_listing_key(sqlite3 *db, char *out, size_t cap)
{
	sqlite3_stmt *s = NULL;
	int rc = BW_EIO;

	out[0] = '\0';
	if (sqlite3_prepare_v2(db, "SELECT listing_key FROM agent", -1, &s,
			       NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW) {
		copy_text(out, cap, sqlite3_column_text(s, 0));
		rc = 0;
	}
	sqlite3_finalize(s);
	return rc;
}

/* ---- the listing, written while the targets are walked ------------------ */

/*
 * The listing is stored in chunks of about LISTING_CHUNK bytes, each row
 * holding consecutive targets in name order (first: the first name in it)
 * packed as records:
 *   u8 bytes of the name shared with the previous record's (0 for a
 *   chunk's first), u8 length of the rest, the rest of the name,
 *   u8 version length, version, length (LEB128), bootfw (zigzag LEB128).
 * No digest: what `pull` downloads and records is what TUF verifies at
 * that moment (the listing is what `list` shows and `check` chose from).
 * 100,000 targets are ~140 rows instead of 100,000 (one B-tree insert per
 * row was most of what a cold check added to the TUF refresh); one name
 * is found by one index seek and a scan of one chunk.
 */
#define LISTING_CHUNK (64u * 1024u)

struct bw_dev_listing_tx {
	sqlite3 *db;
	sqlite3_stmt *insert; /* one statement for every chunk */
	sqlite3_stmt *failed;
	struct bw_buf chunk;
	char first[BW_DEV_NAME_MAX]; /* of the chunk being filled */
	char last[BW_DEV_NAME_MAX];  /* names must come in order */
};

void bw_dev_state_listing_abort(struct bw_dev_listing_tx *tx)
{
	if (tx == NULL)
		return;
	sqlite3_finalize(tx->insert);
	sqlite3_finalize(tx->failed);
	sqlite3_exec(tx->db, "ROLLBACK", NULL, NULL, NULL);
	bw_buf_dispose(&tx->chunk);
	free(tx);
}

int bw_dev_state_listing_begin(sqlite3 *db, struct bw_dev_listing_tx **out,
			       struct bw_err *err)
{
	struct bw_dev_listing_tx *tx;
	int rc;

	*out = NULL;
	tx = calloc(1, sizeof(*tx));
	if (tx == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	tx->db = db;
	bw_buf_init(&tx->chunk, 2 * LISTING_CHUNK);
	rc = exec(db, "BEGIN IMMEDIATE", err);
	if (rc != 0) {
		bw_buf_dispose(&tx->chunk);
		free(tx);
		return rc;
	}
	rc = exec(db, "DELETE FROM listing", err);
	if (rc == 0 &&
	    (sqlite3_prepare_v2(db, "INSERT INTO listing VALUES(?, ?)", -1,
				&tx->insert, NULL) != SQLITE_OK ||
	     sqlite3_prepare_v2(db, "SELECT 1 FROM failed_target WHERE"
				" name = ?", -1, &tx->failed, NULL) !=
		     SQLITE_OK))
		rc = db_fail(db, err, "listing");
	if (rc != 0) {
		bw_dev_state_listing_abort(tx);
		return rc;
	}
	*out = tx;
	return 0;
}

static int flush_chunk(struct bw_dev_listing_tx *tx, struct bw_err *err)
{
	sqlite3_stmt *s = tx->insert;
	int rc;

	if (tx->chunk.len == 0)
		return 0;
	sqlite3_bind_text(s, 1, tx->first, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, tx->chunk.data, (int)tx->chunk.len,
			  SQLITE_STATIC);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0
					     : db_fail(tx->db, err, "listing");
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	tx->chunk.len = 0;
	return rc;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	for (; v >= 0x80; v >>= 7)
		*p++ = (uint8_t)(v | 0x80);
	*p++ = (uint8_t)v;
	return p;
}

/* 0, or BW_EIO past e or beyond 64 bits. */
static int get_varint(const uint8_t **p, const uint8_t *e, uint64_t *v)
{
	const uint8_t *q = *p;

	*v = 0;
	for (unsigned shift = 0; q < e && shift < 64; shift += 7) {
		*v |= (uint64_t)(*q & 0x7f) << shift;
		if ((*q++ & 0x80) == 0) {
			*p = q;
			return 0;
		}
	}
	return BW_EIO;
}

int bw_dev_state_listing_add(struct bw_dev_listing_tx *tx,
			     const struct bw_dev_target *t, struct bw_err *err)
{
	size_t nl = strlen(t->name), vl = strlen(t->version), shared = 0;
	uint8_t rec[3 + BW_DEV_NAME_MAX + BW_DEV_VERSION_MAX + 20];
	uint8_t *p = rec;
	uint64_t fw = t->bootfw < 0 ? ((uint64_t)(-(t->bootfw + 1)) << 1) | 1
				    : (uint64_t)t->bootfw << 1;

	if (nl == 0 || nl >= BW_DEV_NAME_MAX || vl >= BW_DEV_VERSION_MAX)
		return bw_err_set(err, BW_EINVAL, "listing: %.128s: bad name "
				  "or version", t->name);
	if (tx->last[0] != '\0' && strcmp(tx->last, t->name) >= 0)
		return bw_err_set(err, BW_EINVAL, "listing: %.128s: not in "
				  "name order", t->name);
	if (tx->chunk.len > 0)
		while (shared < nl && tx->last[shared] == t->name[shared])
			shared++;
	*p++ = (uint8_t)shared;
	*p++ = (uint8_t)(nl - shared);
	memcpy(p, t->name + shared, nl - shared);
	p += nl - shared;
	*p++ = (uint8_t)vl;
	memcpy(p, t->version, vl);
	p += vl;
	p = put_varint(p, t->length);
	p = put_varint(p, fw);
	if (tx->chunk.len == 0)
		memcpy(tx->first, t->name, nl + 1);
	memcpy(tx->last, t->name, nl + 1);
	if (bw_buf_append(&tx->chunk, rec, (size_t)(p - rec)) != 0)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	return tx->chunk.len >= LISTING_CHUNK ? flush_chunk(tx, err) : 0;
}

int bw_dev_state_listing_is_failed(struct bw_dev_listing_tx *tx,
				   const char *name, int *failed,
				   struct bw_err *err)
{
	sqlite3_stmt *s = tx->failed;
	int rc;

	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	*failed = rc == SQLITE_ROW;
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE
		       ? 0
		       : db_fail(tx->db, err, "failed target");
}

/* Store the answer for the listing (best NULL: nothing newer) as computed
 * for the running version. */
static int set_best(sqlite3 *db, const char *running,
		    const struct bw_dev_target *best, struct bw_err *err)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, "UPDATE agent SET best_for = ?,"
			       " best_name = ?", -1, &s, NULL) != SQLITE_OK)
		return db_fail(db, err, "best target");
	sqlite3_bind_text(s, 1, running, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, best ? best->name : "", -1, SQLITE_STATIC);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0
					     : db_fail(db, err, "best target");
	sqlite3_finalize(s);
	return rc;
}

int bw_dev_state_listing_commit(struct bw_dev_listing_tx *tx, int64_t checkin,
				const char *key, const char *running,
				const struct bw_dev_target *best,
				struct bw_err *err)
{
	int rc = flush_chunk(tx, err);

	if (rc == 0)
		rc = set_checkin(tx->db, checkin, key ? key : "", err);
	if (rc == 0)
		rc = set_best(tx->db, running, best, err);
	sqlite3_finalize(tx->insert);
	sqlite3_finalize(tx->failed);
	tx->insert = tx->failed = NULL;
	if (rc == 0)
		rc = exec(tx->db, "COMMIT", err);
	if (rc != 0) {
		bw_dev_state_listing_abort(tx);
		return rc;
	}
	bw_buf_dispose(&tx->chunk);
	free(tx);
	bw_dev_durable("listing");
	return 0;
}

/* ---- reading the listing ------------------------------------------------ */

int bw_dev_state_listing_any(sqlite3 *db, int *any, struct bw_err *err)
{
	sqlite3_stmt *s = NULL;
	int rc = BW_EIO;

	*any = 0;
	if (sqlite3_prepare_v2(db, "SELECT EXISTS(SELECT 1 FROM listing)", -1,
			       &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW) {
		*any = sqlite3_column_int(s, 0);
		rc = 0;
	}
	sqlite3_finalize(s);
	return rc ? db_fail(db, err, "listing") : 0;
}

/*
 * The next record of a chunk at *p (end at e) into t, whose name holds
 * the previous record's ("" before a chunk's first). 0, or BW_EIO when
 * the chunk is damaged.
 */
static int next_record(const uint8_t **p, const uint8_t *e,
		       struct bw_dev_target *t)
{
	const uint8_t *q = *p;
	size_t shared, rest, vl;
	uint64_t len, fw;

	if (e - q < 2)
		return BW_EIO;
	shared = q[0];
	rest = q[1];
	q += 2;
	if (shared > strlen(t->name) || shared + rest == 0 ||
	    shared + rest >= sizeof(t->name) || (size_t)(e - q) < rest + 1)
		return BW_EIO;
	memcpy(t->name + shared, q, rest);
	t->name[shared + rest] = '\0';
	q += rest;
	vl = *q++;
	if (vl >= sizeof(t->version) || (size_t)(e - q) < vl)
		return BW_EIO;
	memcpy(t->version, q, vl);
	t->version[vl] = '\0';
	q += vl;
	if (get_varint(&q, e, &len) != 0 || get_varint(&q, e, &fw) != 0)
		return BW_EIO;
	t->length = len;
	t->bootfw = (fw & 1) ? -(int64_t)(fw >> 1) - 1 : (int64_t)(fw >> 1);
	*p = q;
	return 0;
}

/* The failed targets' names, sorted (they are few: one per rollback). */
struct failed_set {
	char **names;
	size_t n;
};

static void failed_set_free(struct failed_set *fs)
{
	for (size_t i = 0; i < fs->n; i++)
		free(fs->names[i]);
	free(fs->names);
	fs->names = NULL;
	fs->n = 0;
}

static int failed_set_load(sqlite3 *db, struct failed_set *fs,
			   struct bw_err *err)
{
	sqlite3_stmt *s = NULL;
	size_t cap = 0;
	int rc;

	fs->names = NULL;
	fs->n = 0;
	if (sqlite3_prepare_v2(db, "SELECT name FROM failed_target ORDER BY"
			       " name", -1, &s, NULL) != SQLITE_OK)
		return db_fail(db, err, "failed target");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *name = sqlite3_column_text(s, 0);
		char *c;

		if (fs->n == cap) {
			char **g = realloc(fs->names, (cap ? cap * 2 : 16) *
							      sizeof(*g));

			if (g == NULL)
				break;
			fs->names = g;
			cap = cap ? cap * 2 : 16;
		}
		c = strdup(name ? (const char *)name : "");
		if (c == NULL)
			break;
		fs->names[fs->n++] = c;
	}
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW) {
		failed_set_free(fs);
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	}
	if (rc != SQLITE_DONE) {
		failed_set_free(fs);
		return db_fail(db, err, "failed target");
	}
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, *(char *const *)b);
}

static int failed_has(const struct failed_set *fs, const char *name)
{
	return fs->n > 0 && bsearch(name, fs->names, fs->n,
				    sizeof(*fs->names), cmp_name) != NULL;
}

/* Every stored target in name order, with its failed flag. */
static int walk_all(sqlite3 *db, const struct failed_set *fs,
		    bw_dev_listing_fn fn, void *ctx, struct bw_err *err)
{
	sqlite3_stmt *s = NULL;
	struct bw_dev_target t;
	int rc, cb = 0;

	if (sqlite3_prepare_v2(db, "SELECT data FROM listing ORDER BY first",
			       -1, &s, NULL) != SQLITE_OK)
		return db_fail(db, err, "listing");
	while (cb == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		/* blob, then its size: the order that keeps the pointer */
		const uint8_t *p = sqlite3_column_blob(s, 0);
		const uint8_t *e = p + sqlite3_column_bytes(s, 0);

		memset(&t, 0, sizeof(t));
		while (cb == 0 && p != NULL && p < e) {
			if (next_record(&p, e, &t) != 0) {
				cb = bw_err_set(err, BW_EIO, "listing: a "
						"damaged chunk");
				break;
			}
			cb = fn(ctx, &t, failed_has(fs, t.name));
		}
	}
	if (cb == 0 && rc != SQLITE_DONE)
		cb = db_fail(db, err, "listing");
	sqlite3_finalize(s);
	return cb;
}

/* The stored target named name: one index seek, one chunk. */
static int find_name(sqlite3 *db, const char *name, struct bw_dev_target *out,
		     int *found, struct bw_err *err)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*found = 0;
	if (sqlite3_prepare_v2(db, "SELECT data FROM listing WHERE first <= ?"
			       " ORDER BY first DESC LIMIT 1", -1, &s,
			       NULL) != SQLITE_OK)
		return db_fail(db, err, "listing");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const uint8_t *p = sqlite3_column_blob(s, 0);
		const uint8_t *e = p + sqlite3_column_bytes(s, 0);

		rc = 0;
		memset(out, 0, sizeof(*out));
		while (p != NULL && p < e && !*found) {
			if (next_record(&p, e, out) != 0) {
				rc = bw_err_set(err, BW_EIO, "listing: a "
						"damaged chunk");
				break;
			}
			*found = strcmp(out->name, name) == 0;
		}
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = db_fail(db, err, "listing");
	}
	sqlite3_finalize(s);
	return rc;
}

int bw_dev_state_listing_foreach(sqlite3 *db, int only_failed,
				 bw_dev_listing_fn fn, void *ctx,
				 struct bw_err *err)
{
	struct failed_set fs;
	struct bw_dev_target t;
	int rc = failed_set_load(db, &fs, err), found;

	if (rc != 0)
		return rc;
	if (!only_failed) {
		rc = walk_all(db, &fs, fn, ctx, err);
	} else {
		/* the few failed targets, never the whole listing */
		for (size_t i = 0; rc == 0 && i < fs.n; i++) {
			rc = find_name(db, fs.names[i], &t, &found, err);
			if (rc == 0 && found)
				rc = fn(ctx, &t, 1);
		}
	}
	failed_set_free(&fs);
	return rc;
}

struct by_version {
	const char *version;
	struct bw_dev_target *out;
	int found;
};

static int take_version(void *ctx, const struct bw_dev_target *t, int failed)
{
	struct by_version *v = ctx;

	(void)failed;
	if (strcmp(t->version, v->version) != 0)
		return 0;
	*v->out = *t;
	v->found = 1;
	return 1; /* stop */
}

int bw_dev_state_listing_find_version(sqlite3 *db, const char *version,
				      struct bw_dev_target *out, int *found,
				      struct bw_err *err)
{
	struct by_version v = {version, out, 0};
	struct failed_set none = {NULL, 0};
	int rc = walk_all(db, &none, take_version, &v, err);

	*found = v.found;
	return v.found ? 0 : rc;
}

int bw_dev_state_best_load(sqlite3 *db, const char *running,
			   struct bw_dev_target *best, int *have, int *stored,
			   struct bw_err *err)
{
	sqlite3_stmt *s = NULL;
	char name[BW_DEV_NAME_MAX] = "";
	int rc;

	*have = *stored = 0;
	if (sqlite3_prepare_v2(db, "SELECT best_name FROM agent WHERE"
			       " best_for = ?", -1, &s, NULL) != SQLITE_OK)
		return db_fail(db, err, "best target");
	sqlite3_bind_text(s, 1, running, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*stored = 1;
		copy_text(name, sizeof(name), sqlite3_column_text(s, 0));
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(db, err, "best target");
	if (!*stored || name[0] == '\0')
		return 0;
	rc = find_name(db, name, best, have, err);
	/* A stored name the listing no longer holds answers nothing. */
	if (rc == 0 && !*have)
		*stored = 0;
	return rc;
}

int bw_dev_state_best_save(sqlite3 *db, const char *running,
			   const struct bw_dev_target *best, struct bw_err *err)
{
	int rc = set_best(db, running, best, err);

	if (rc == 0)
		bw_dev_durable("best target");
	return rc;
}

const char *bw_dev_slot_state_name(int s)
{
	static const char *const names[] = {"empty", "writing", "pending",
					    "good", "bad"};

	return s >= 0 && s <= BW_DEV_SLOT_BAD ? names[s] : "?";
}
