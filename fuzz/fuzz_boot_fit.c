/*
 * Fuzz target for the device-tree handling of FIT signing and of the key
 * node (src/lib/boot/fit.c): any blob goes through bw_boot_fit_sign and
 * bw_boot_fit_add_key with one RSA-2048 key made at start. Properties:
 * both return 0 or a BW_E* code with a message, and what sign accepts is
 * a valid device tree. Any violation abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <libfdt.h>

#include "bulwark/boot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void violation(const char *what)
{
	fprintf(stderr, "fuzz_boot_fit: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static EVP_PKEY *key;
	struct bw_err err = {0};
	uint8_t *out = NULL;
	size_t len = 0;
	int rc;

	if (key == NULL && bw_boot_rsa_generate(2048, &key, NULL) != 0)
		violation("key generation");
	if (size > (1u << 20))
		return 0;
	rc = bw_boot_fit_sign(data, size, key, "fuzz", &out, &len, &err);
	if (rc > 0 || (rc != 0 && err.msg[0] == '\0'))
		violation("bad return from sign");
	if (rc == 0 && (fdt_check_header(out) != 0 || fdt_totalsize(out) != len))
		violation("signed FIT is not a device tree");
	free(out);
	out = NULL;
	err.msg[0] = '\0';
	rc = bw_boot_fit_add_key(data, size, key, "fuzz", &out, &len, &err);
	if (rc > 0 || (rc != 0 && err.msg[0] == '\0'))
		violation("bad return from add_key");
	free(out);
	return 0;
}
