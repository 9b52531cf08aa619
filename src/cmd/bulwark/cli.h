/*
 * The bulwark operator CLI: its command groups. The framework (tables,
 * option parser, --help) is src/cmd/common/bw_cli.h.
 *
 * Adding a command group (e.g. `bulwark factory ...`, `bulwark keys tuf
 * ...`): write <group>.c with an entry point `int bw_cmd_<group>(int argc,
 * char **argv)` that dispatches its own table with bw_cli_dispatch(),
 * declare it below, and add one line to the table in main.c.
 *
 * Exit codes (stable, docs/pki.md): 0 success, 1 failure, 2 usage error.
 */
#ifndef BULWARK_CLI_H
#define BULWARK_CLI_H

#include "bw_cli.h"

/* ---- command groups ---------------------------------------------------- */
int bw_cmd_keys_ca(int argc, char **argv);
int bw_cmd_keys_boot(int argc, char **argv);
int bw_cmd_sign(int argc, char **argv);
int bw_cmd_devices(int argc, char **argv);
int bw_cmd_tokens(int argc, char **argv);
int bw_cmd_accounts(int argc, char **argv);
int bw_cmd_log(int argc, char **argv);

#endif
