/*
 * Which TUF targets are this device's: the one rule (select.c), read from
 * a target's "custom" values as the streaming JSON parser reports them, so
 * `check` decides it in the pass that reads targets.json (no tree per
 * target), and a wave's few targets go through the same code.
 */
#ifndef BW_DEV_SELECT_H
#define BW_DEV_SELECT_H

#include <stddef.h>
#include <stdint.h>

#include "bulwark/json.h"
#include "config.h"
#include "state.h"

/* The custom values of one target seen so far. */
struct bw_dev_match {
	const struct bw_dev_config *cfg;
	int in_hw, in_tags, in_boot;  /* inside that member */
	int hw, tag;                  /* this hardware id / tag is listed */
	int hw_bad, tags_bad;         /* present, not an array */
	int version_ok, version_bad;
	char version[BW_DEV_VERSION_MAX];
	int64_t fw;                   /* bootfirmware_version, -1 none */
	int fw_bad;
	int boot_seen, boot_bad, boot_arts;
	int64_t sv;                   /* boot.secure_version, -1 none */
};

void bw_dev_match_init(struct bw_dev_match *m, const struct bw_dev_config *c);

/* One value inside custom; depth 1 for custom's own members. Never fails:
 * what a target's custom holds decides only whether it is ours. */
void bw_dev_match_event(struct bw_dev_match *m, const struct bw_json_event *ev,
			size_t depth);

/*
 * The target (name, name_len bytes) ended: 1 it is this device's (t's
 * name, version, bootfw filled; length and sha256 are the caller's),
 * 0 it is not (another hardware id or tag), -1 it names this device but
 * can not be installed here (*why says which field is wrong). The match
 * is reset for the next target.
 */
int bw_dev_match_end(struct bw_dev_match *m, const uint8_t *name,
		     size_t name_len, struct bw_dev_target *t,
		     const char **why);

#endif
