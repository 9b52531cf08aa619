/*
 * Fuzz target for the device's stored listing (src/device/state.c: the
 * chunks of packed target records that `check` writes and `list`, `pull
 * --version` and the stored answer read back). A chunk comes from the
 * agent's own database, but a damaged file must give BW_EIO, never a
 * read past the blob or a name without its NUL. The input is one chunk;
 * it is walked whole, searched by version and looked up by name.
 * Properties: every target handed out has a non-empty NUL-terminated name
 * and a NUL-terminated version within their buffers. Any violation
 * abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_target(const struct bw_dev_target *t)
{
	if (memchr(t->name, '\0', sizeof(t->name)) == NULL ||
	    t->name[0] == '\0' ||
	    memchr(t->version, '\0', sizeof(t->version)) == NULL)
		abort();
}

static int seen(void *ctx, const struct bw_dev_target *t, int failed)
{
	char *first = ctx;

	(void)failed;
	check_target(t);
	if (first[0] == '\0')
		memcpy(first, t->name, strlen(t->name) + 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static sqlite3 *db;
	char first[BW_DEV_NAME_MAX] = "";
	struct bw_dev_target t;
	sqlite3_stmt *s = NULL;
	int found, have, stored;

	if (db == NULL && bw_dev_state_open(":memory:", &db, NULL) != 0)
		abort();
	if (sqlite3_exec(db, "DELETE FROM listing", NULL, NULL, NULL) !=
		    SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO listing VALUES('', ?)", -1, &s,
			       NULL) != SQLITE_OK)
		abort();
	sqlite3_bind_blob(s, 1, data, (int)size, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		abort();
	sqlite3_finalize(s);
	bw_dev_state_listing_foreach(db, 0, seen, first, NULL);
	if (bw_dev_state_listing_find_version(db, "1", &t, &found, NULL) == 0 &&
	    found)
		check_target(&t);
	if (first[0] != '\0') {
		t = (struct bw_dev_target){0};
		memcpy(t.name, first, sizeof(first));
		if (bw_dev_state_best_save(db, "", &t, NULL) != 0 ||
		    bw_dev_state_best_load(db, "", &t, &have, &stored,
					   NULL) != 0)
			return 0;
		if (have)
			check_target(&t);
	}
	return 0;
}
