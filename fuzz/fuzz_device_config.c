/*
 * Fuzz target for the device agent's INI config parser (src/device/
 * config.c). Properties: parse returns 0, BW_EFORMAT, BW_ETOOBIG or
 * BW_ENOMEM, with a message on failure; accepted numbers are within their
 * documented ranges. Any violation abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void violation(const char *what, const struct bw_err *err)
{
	fprintf(stderr, "fuzz_device_config: %s (%s)\n", what, err->msg);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_dev_config c;
	struct bw_err err = {0};
	char *text;
	int rc;

	if (size > 65536)
		return 0;
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	bw_dev_config_init(&c);
	rc = bw_dev_config_parse(&c, text, 0, &err);
	if (rc != 0 && rc != BW_EFORMAT && rc != BW_ETOOBIG && rc != BW_ENOMEM)
		violation("unexpected code", &err);
	if (rc != 0 && err.msg[0] == '\0')
		violation("failure without a message", &err);
	if (c.boot_attempts < 0 || c.boot_attempts > 100 ||
	    c.max_events < 0 || c.max_events > 1000000 ||
	    c.rollback_protection < -1 || c.rollback_protection > 1)
		violation("number out of range", &err);
	bw_dev_config_dispose(&c);
	free(text);
	return 0;
}
