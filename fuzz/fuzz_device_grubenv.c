/*
 * Fuzz target for the GRUB environment block parser and the kernel
 * command line's bulwark.slot= (src/device/bootenv_grub.c, bootenv.c).
 * Properties: parse returns 0 or BW_EFORMAT / BW_ETOOBIG / BW_ENOMEM with
 * a message; an accepted block serializes back to 1024 bytes that parse
 * to the same variables; the slot is -1, 0 or 1. Any violation abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootenv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void violation(const char *what)
{
	fprintf(stderr, "fuzz_grubenv: %s\n", what);
	abort();
}

static void round_trip(const struct bw_grubenv *env)
{
	uint8_t out[BW_GRUBENV_SIZE];
	struct bw_grubenv again;
	struct bw_err err = {0};

	/* The block came in as 1024 bytes with the same escaping, and
	 * comments are dropped: it always fits again. */
	if (bw_grubenv_serialize(env, out, &err) != 0)
		violation("accepted block does not serialize");
	if (bw_grubenv_parse(out, sizeof(out), &again, &err) != 0)
		violation("serialized block does not parse");
	if (again.n != env->n)
		violation("round trip changed the variable count");
	for (size_t i = 0; i < env->n; i++)
		if (strcmp(again.vars[i].name, env->vars[i].name) != 0 ||
		    strcmp(again.vars[i].value, env->vars[i].value) != 0)
			violation("round trip changed a variable");
	bw_grubenv_dispose(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_grubenv env;
	struct bw_err err = {0};
	int rc, slot;

	slot = bw_dev_cmdline_slot((const char *)data, size);
	if (slot < -1 || slot > 1)
		violation("slot out of range");
	rc = bw_grubenv_parse(data, size, &env, &err);
	if (rc != 0 && rc != BW_EFORMAT && rc != BW_ETOOBIG && rc != BW_ENOMEM)
		violation("unexpected code");
	if (rc != 0 && err.msg[0] == '\0')
		violation("failure without a message");
	if (rc == 0) {
		round_trip(&env);
		bw_grubenv_dispose(&env);
	}
	return 0;
}
