/*
 * Fuzz target: TUF metadata parsing for every role type, plus signature
 * checking (which canonicalizes the signed part) against the keys the
 * input itself lists. Must never crash, leak or read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>

#include "tuf/tuf_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int t = BW_TUF_ROOT; t <= BW_TUF_TARGETS; t++) {
		struct bw_tuf_md *md = NULL;
		struct bw_err err;

		if (bw_tuf__md_parse(data, size, (enum bw_tuf_role_type)t, &md,
				     &err) != 0)
			continue;
		if (t == BW_TUF_ROOT)
			bw_tuf__verify_sigs(md, &md->keyring,
					    &md->roles[BW_TUF_ROOT], "root", &err);
		if (t == BW_TUF_TARGETS && md->deleg != NULL &&
		    md->deleg->nroles > 0)
			bw_tuf__verify_sigs(md, &md->deleg->keyring,
					    &md->deleg->roles[0].keys, "targets",
					    &err);
		bw_tuf__md_free(md);
	}
	return 0;
}
