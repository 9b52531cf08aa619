/*
 * The proposal object shared by proposal.c (file format) and ceremony.c.
 */
#ifndef BW_REPO_PROPOSAL_PRIV_H
#define BW_REPO_PROPOSAL_PRIV_H

#include <jansson.h>

#include "repo/repo_priv.h"

struct bw_repo_proposal {
	json_t *doc; /* the whole proposal, checked by check_doc */
};

#endif
