/*
 * All-or-nothing replacement of several files of one directory: the one
 * crash-safe commit of libbulwark, used by the repository workspace
 * (lib/repo) and the PKI directory (lib/pki). Internal, not installed.
 *
 * A commit goes through these durable steps, in order:
 *   1. every new file is written completely as <rel>.bw-new and fsync'd
 *      (bw_journal_put, bw_journal_put_copy);
 *   2. the journal <dir>/.txn (a JSON array of the relative paths, a
 *      staged removal written "-<rel>") is written as .txn.bw-new,
 *      fsync'd and renamed into place: from here the commit is decided;
 *   3. every <rel>.bw-new is renamed over <rel> (or <rel> removed), each
 *      followed by an fsync of its directory;
 *   4. the journal is removed.
 * A kill before step 2 leaves the old files and stray .bw-new files that
 * bw_journal_recover removes; a kill after it is rolled forward by
 * bw_journal_recover. Renames and removals are idempotent, so a recovery
 * that is itself killed is simply run again.
 *
 * The caller serialises commits and recovery (an exclusive lock on the
 * directory); a reader that finds bw_journal_pending must not trust what
 * it reads until a writer has run bw_journal_recover.
 */
#ifndef BW_UTIL_JOURNAL_H
#define BW_UTIL_JOURNAL_H

#include <stddef.h>
#include <sys/types.h>

#include "bulwark/error.h"

#define BW_JOURNAL_FILE ".txn"
#define BW_JOURNAL_NEW_SUFFIX ".bw-new"

struct bw_journal {
	char *dir;
	char **rel; /* relative paths, "-<rel>" for a removal */
	size_t n, cap;
	int committed;
};

void bw_journal_init(struct bw_journal *j, const char *dir);
/* Stage data as the new content of rel (written now as <rel>.bw-new,
 * exactly mode, parent directories created). Staging rel again replaces
 * the earlier content. */
int bw_journal_put(struct bw_journal *j, const char *rel, const void *data,
		   size_t len, mode_t mode, struct bw_err *err);
/* The same with the content streamed from the file src. */
int bw_journal_put_copy(struct bw_journal *j, const char *rel,
			const char *src, mode_t mode, struct bw_err *err);
/* Stage a removal: rel is deleted at commit. */
int bw_journal_del(struct bw_journal *j, const char *rel,
		   struct bw_err *err);
/* Steps 2-4 above. Once the journal is written a later failure still
 * leaves the commit decided: recovery finishes it. */
int bw_journal_commit(struct bw_journal *j, struct bw_err *err);
/* Remove what was staged unless the commit was decided; free j. */
void bw_journal_dispose(struct bw_journal *j);
/* 1 if dir holds a journal (an interrupted commit), 0 if not; 1 also
 * when that cannot be told (fail closed). */
int bw_journal_pending(const char *dir);
/* Finish an interrupted commit (roll forward), then remove stray
 * .bw-new files below dir. 0 when dir is consistent. */
int bw_journal_recover(const char *dir, struct bw_err *err);

#endif
