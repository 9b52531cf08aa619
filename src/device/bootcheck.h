/*
 * Signed boot artifacts in a target (bootcheck.c): the production
 * target's custom "boot" object names each boot artifact inside the
 * target file and its hash; the device checks every one against its own
 * trust anchors (the UEFI db certificates, the U-Boot FIT key) before
 * anything is installed.
 */
#ifndef BW_DEVICE_BOOTCHECK_H
#define BW_DEVICE_BOOTCHECK_H

#include <stdint.h>

#include "bulwark/error.h"

struct bw_dev_config;

#define BW_DEV_BOOT_ARTIFACTS_MAX 16

/*
 * custom.boot.secure_version when present: 0 and *sv set (-1 when the
 * target has no boot object), BW_EFORMAT when the boot object is not
 * {"secure_version": N >= 0, "artifacts": [...]}.
 */
int bw_dev_boot_secure_version(const void *custom_json, int64_t *sv);

/*
 * Check the boot artifacts custom (the target's custom object, trusted:
 * it comes from verified TUF metadata) lists in the file at path: each
 * {"format": "uefi"|"fit", "offset": O, "length": L, "sha256": hex}
 * must hash to sha256 and verify with the configured anchor ([boot]
 * uefi_db, fit_key). With [boot] require_signed, a target without boot
 * artifacts is refused too. BW_ESIG / BW_EHASH / BW_EFORMAT with a
 * message naming the artifact.
 */
int bw_dev_boot_check(const struct bw_dev_config *c, const void *custom_json,
		      const char *path, struct bw_err *err);

#endif
