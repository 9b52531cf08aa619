/*
 * bulwark-device: its commands. The framework (tables, option parser,
 * --help) is src/cmd/common/bw_cli.h.
 *
 * Exit codes: BW_DEV_EXIT_* in src/device/exit.h, docs/device.md.
 */
#ifndef BULWARK_DEVICE_CLI_H
#define BULWARK_DEVICE_CLI_H

#include "bw_cli.h"

/* ---- commands (one file each) ------------------------------------------ */
struct bw_dev;
/* Open the agent for config (NULL: $BW_DEVICE_CONFIG or the default). */
int bw_devcmd_open(const char *prog, const char *config, int readonly,
		   struct bw_dev **out);
#define BW_DEVICE_DEFAULT_CONFIG "/etc/bulwark/device.ini"
/* A command whose only option is --config (and -v): parse, open, run fn. */
int bw_devcmd_simple(int argc, char **argv, const char *prog,
		     const char *desc, int (*fn)(struct bw_dev *),
		     int readonly);

int bw_devcmd_provision(int argc, char **argv);
int bw_devcmd_register(int argc, char **argv);
int bw_devcmd_check(int argc, char **argv);
int bw_devcmd_list(int argc, char **argv);
int bw_devcmd_pull(int argc, char **argv);
int bw_devcmd_install(int argc, char **argv);
int bw_devcmd_boot(int argc, char **argv);
int bw_devcmd_run(int argc, char **argv);
int bw_devcmd_rollback(int argc, char **argv);
int bw_devcmd_status(int argc, char **argv);
int bw_devcmd_send_events(int argc, char **argv);
int bw_devcmd_daemon(int argc, char **argv);
int bw_devcmd_rotate_cert(int argc, char **argv);

#endif
