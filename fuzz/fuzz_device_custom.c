/*
 * Fuzz target for target matching (src/device/agent.c:
 * bw_dev_target_matches): the "custom" object of a TUF target is signed
 * but written by whoever holds a targets key, so it is parsed with bounds.
 * Properties: a match has a NUL-terminated, non-empty version within its
 * buffer, without control bytes, and a boot firmware version >= -1. Any violation abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent.h"
#include "bulwark/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_dev_config c;
	struct bw_dev_target t;
	json_t *j = NULL;

	if (bw_json_parse(data, size, NULL, &j, NULL) != 0)
		return 0;
	bw_dev_config_init(&c);
	c.hardware_id = "board-x";
	c.tag = "main";
	if (bw_dev_target_matches(&c, "fw", 1, j, &t)) {
		if (memchr(t.version, '\0', sizeof(t.version)) == NULL ||
		    t.version[0] == '\0' || t.bootfw < -1 ||
		    strcmp(t.name, "fw") != 0)
			abort();
		for (const char *v = t.version; *v; v++)
			if ((unsigned char)*v < 0x20 || *v == 0x7f)
				abort(); /* control bytes never get through */
	}
	json_decref(j);
	return 0;
}
