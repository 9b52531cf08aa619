/*
 * Fuzz target: the gateway's POST /events body (validation and storage
 * into a real in-memory SQLite database).
 */
#include <stdint.h>
#include <stdlib.h>

#include "events.h"
#include "storage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bw_store *st;
	char target[BW_STORE_NAME_MAX + 1] = "";
	struct bw_err err;

	if (!st && bw_store_sqlite_open(":memory:", &st, &err))
		abort();
	(void)bw_srv_events_store(st, "00000000-0000-0000-0000-000000000000",
				  data, size, 100, 50, 1, target,
				  sizeof(target), &err);
	return 0;
}
