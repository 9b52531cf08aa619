/*
 * Fuzz target for the PKI directory's state.json loader (src/lib/pki/
 * state.c) -- the file from which every CRL is regenerated.
 *
 * Properties checked for every input:
 *   - parse returns 0, BW_EFORMAT, BW_ETOOBIG, BW_EUNSUPPORTED or
 *     BW_ENOMEM, with a message on failure;
 *   - an accepted state serialises, and the serialisation parses again to
 *     the same counts and CRL number, and serialises to the same bytes.
 * Any violation abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pki/pki_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void violation(const char *what, const struct bw_err *err)
{
	fprintf(stderr, "fuzz_pki_state: %s (%s)\n", what, err->msg);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_pki__state st, st2;
	struct bw_err err = {0};
	char *out = NULL, *out2 = NULL;
	size_t len = 0, len2 = 0;
	int rc;

	rc = bw_pki__state_parse(data, size, &st, &err);
	if (rc != 0) {
		if (rc != BW_EFORMAT && rc != BW_ETOOBIG &&
		    rc != BW_EUNSUPPORTED && rc != BW_ENOMEM)
			violation("unexpected code", &err);
		if (err.msg[0] == '\0')
			violation("failure without a message", &err);
		return 0;
	}
	if (bw_pki__state_serialize(&st, &out, &len, &err) != 0)
		violation("accepted state does not serialise", &err);
	if (bw_pki__state_parse((const uint8_t *)out, len, &st2, &err) != 0)
		violation("serialised state does not parse", &err);
	if (st2.ncas != st.ncas || st2.nrevoked != st.nrevoked ||
	    st2.nissued != st.nissued || st2.crl_number != st.crl_number)
		violation("round trip changed the state", &err);
	if (bw_pki__state_serialize(&st2, &out2, &len2, &err) != 0 ||
	    len2 != len || memcmp(out, out2, len) != 0)
		violation("serialisation is not stable", &err);
	free(out);
	free(out2);
	bw_pki__state_dispose(&st);
	bw_pki__state_dispose(&st2);
	return 0;
}
