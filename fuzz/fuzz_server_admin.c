/*
 * Fuzz target: admin API bodies: the "add CI target" fileinfo and the
 * metadata-info parse every upload starts with.
 */
#include <stdint.h>

#include "admin.h"
#include "bulwark/json.h"
#include "bulwark/tuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_json_limits lim = {.max_bytes = 1u << 20, .max_depth = 8};
	struct bw_tuf_info info;
	struct bw_err err;
	json_t *b = NULL, *fi = NULL;

	(void)bw_tuf_metadata_info(data, size, &info, &err);
	if (bw_json_parse(data, size, &lim, &b, &err))
		return 0;
	(void)bw_srv_admin_fileinfo_parse(b, &fi, &err);
	json_decref(fi);
	json_decref(b);
	return 0;
}
