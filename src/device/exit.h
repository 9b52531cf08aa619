/*
 * bulwark-device's stable exit codes (docs/device.md). Functions of the
 * device modules return 0 or a negative BW_E* code unless they say they
 * return one of these.
 */
#ifndef BW_DEV_EXIT_H
#define BW_DEV_EXIT_H


/* Stable exit codes (docs/device.md); numbers follow aktualizr-lite's CLI
 * where the meaning is the same, so existing scripts keep working. */
enum bw_dev_exit {
	BW_DEV_EXIT_OK = 0,
	BW_DEV_EXIT_FAIL = 1,
	BW_DEV_EXIT_USAGE = 2,
	BW_DEV_EXIT_CHECKIN_FAILED = 4,       /* server unreachable */
	BW_DEV_EXIT_NO_MATCHING_TARGET = 6,
	BW_DEV_EXIT_TUF_INVALID = 11,         /* signature, rollback, format */
	BW_DEV_EXIT_TUF_EXPIRED = 12,
	BW_DEV_EXIT_TUF_FETCH_FAILED = 13,
	BW_DEV_EXIT_UPDATE_AVAILABLE = 16,
	BW_DEV_EXIT_TARGET_NOT_FOUND = 20,
	BW_DEV_EXIT_NO_ROLLBACK_TARGET = 21,
	BW_DEV_EXIT_REFUSED = 22,             /* downgrade, boot firmware or signature */
	BW_DEV_EXIT_PENDING = 30,             /* an installation is pending */
	BW_DEV_EXIT_NO_PENDING = 40,
	BW_DEV_EXIT_DOWNLOAD_FAILED = 50,
	BW_DEV_EXIT_VERIFY_FAILED = 70,       /* length or hash mismatch */
	BW_DEV_EXIT_NEEDS_REBOOT = 100,
	BW_DEV_EXIT_ROLLED_BACK = 110,
	BW_DEV_EXIT_ROLLBACK_NEEDS_REBOOT = 120,
	BW_DEV_EXIT_NOT_REGISTERED = 130,
	BW_DEV_EXIT_ALREADY_REGISTERED = 131,
};

#endif
