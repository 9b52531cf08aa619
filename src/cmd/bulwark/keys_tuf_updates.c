#include "repo_cli.h"
int bw_cli_keys_tuf_updates(int argc, char **argv);
int bw_cli_keys_tuf_rotate(int argc, char **argv);
int bw_cli_keys_tuf_updates(int argc, char **argv) { (void)argc; (void)argv; return 1; }
int bw_cli_keys_tuf_rotate(int argc, char **argv) { (void)argc; (void)argv; return 1; }
