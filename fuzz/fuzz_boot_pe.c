/*
 * Fuzz target for the PE/COFF parsing behind the Authenticode digest
 * (src/lib/boot/authenticode.c). Properties: the digest returns 0 or
 * BW_EFORMAT / BW_ENOMEM with a message, and is deterministic. Any
 * violation abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/boot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void violation(const char *what)
{
	fprintf(stderr, "fuzz_boot_pe: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t a[32], b[32];
	struct bw_err err = {0};
	int rc = bw_boot_pe_digest(data, size, a, &err);

	if (rc != 0 && rc != BW_EFORMAT && rc != BW_ENOMEM)
		violation("unexpected code");
	if (rc != 0 && err.msg[0] == '\0')
		violation("failure without a message");
	if (rc == 0 && (bw_boot_pe_digest(data, size, b, NULL) != 0 ||
			memcmp(a, b, 32) != 0))
		violation("digest not deterministic");
	return 0;
}
