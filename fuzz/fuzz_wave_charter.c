/*
 * Fuzz target for the wave charter parser (bw_wave_charter_parse,
 * src/lib/wave/charter.c): the gateway serves charters to devices, and a
 * compromised server may serve anything.
 *
 * Properties checked for every input:
 *   - parse returns 0 or an error code with no object;
 *   - an accepted charter has 1..16 steps with strictly increasing
 *     admit_ppm up to 10^6, bake times in range, 1..64 hardware ids and
 *     1..16 targets, and its cohort maths runs for a fixed UUID.
 * Any violation abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bulwark/wave.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void violation(const char *what)
{
	fprintf(stderr, "fuzz_wave_charter: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_wave_charter *c = NULL;
	struct bw_err err = { 0 };
	size_t step = 0;
	int rc;

	rc = bw_wave_charter_parse(data, size, &c, &err);
	if (rc != 0) {
		if (c != NULL || rc > 0 || err.msg[0] == '\0')
			violation("failure without a message, or with an object");
		return 0;
	}
	if (c->nsteps < 1 || c->nsteps > BW_WAVE_MAX_STEPS ||
	    c->nhwids < 1 || c->nhwids > BW_WAVE_MAX_HWIDS ||
	    c->ntargets < 1 || c->ntargets > BW_WAVE_MAX_TARGETS)
		violation("accepted counts out of range");
	for (size_t i = 0; i < c->nsteps; i++)
		if (c->steps[i].admit_ppm > BW_WAVE_PPM ||
		    (i > 0 && c->steps[i].admit_ppm <= c->steps[i - 1].admit_ppm) ||
		    c->steps[i].bake_seconds < 0 ||
		    c->steps[i].bake_seconds > BW_WAVE_MAX_BAKE)
			violation("accepted a bad step");
	rc = bw_wave_charter_step_of(c, "0e4f1f2a-9a3c-4b4e-8f1d-3a1b2c3d4e5f",
				     &step, &err);
	if (rc != 0 && rc != BW_ENOTFOUND)
		violation("cohort maths failed on a valid UUID");
	if (rc == 0 && step >= c->nsteps)
		violation("step out of range");
	bw_wave_charter_free(c);
	return 0;
}
