/*
 * Fuzz target for the key ceremony's proposal file parser
 * (bw_repo_proposal_parse, src/lib/repo/proposal.c): the file passes from
 * admin to admin and may be tampered with.
 *
 * Properties checked for every input:
 *   - parse returns 0 or BW_EFORMAT, BW_ETOOBIG, BW_EUNSUPPORTED,
 *     BW_ENOMEM, with a message on failure, and no object;
 *   - an accepted proposal written the way `updates` saves it (sorted,
 *     indented JSON) parses again.
 * Any violation abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo/proposal_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void violation(const char *what, const struct bw_err *err)
{
	fprintf(stderr, "fuzz_proposal: %s (%s)\n", what, err->msg);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_repo_proposal *p = NULL, *q = NULL;
	struct bw_err err = {0};
	char *out = NULL;
	int rc;

	rc = bw_repo_proposal_parse(data, size, &p, &err);
	if (rc != 0) {
		if (rc != BW_EFORMAT && rc != BW_ETOOBIG &&
		    rc != BW_EUNSUPPORTED && rc != BW_ENOMEM)
			violation("unexpected code", &err);
		if (err.msg[0] == '\0' || p != NULL)
			violation("failure without message, or with object",
				  &err);
		return 0;
	}
	out = json_dumps(p->doc, JSON_SORT_KEYS | JSON_INDENT(1));
	if (out == NULL)
		violation("cannot serialise an accepted proposal", &err);
	if (bw_repo_proposal_parse(out, strlen(out), &q, &err) != 0)
		violation("saved proposal does not parse again", &err);
	bw_repo_proposal_free(q);
	bw_repo_proposal_free(p);
	free(out);
	return 0;
}
