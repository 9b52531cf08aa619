/*
 * Workspace commits go through the shared journal (util/journal.h); the
 * repository adds only how its JSON files are written.
 */
#include <stdlib.h>

#include "repo/repo_priv.h"

int bw_repo__txn_put_json(struct bw_journal *t, const char *rel,
			  const json_t *v, struct bw_err *err)
{
	uint8_t *b = NULL;
	size_t n = 0;
	int rc;

	rc = bw_repo__serialize(v, &b, &n, err);
	if (rc == 0)
		rc = bw_journal_put(t, rel, b, n, 0644, err);
	free(b);
	return rc;
}
