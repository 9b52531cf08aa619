/*
 * bulwark: the operator CLI. Dispatches from a table of command groups
 * (wireguard-tools style); each group lives in its own file (cli.h says how
 * to add one).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "repo_cli.h"

/* `bulwark keys <group>`: one line per key group. */
static const struct bw_cli_cmd keys_cmds[] = {
	{"ca", "factory PKI: factory CA, server certificates, device CAs, "
	       "CRLs",
	 bw_cmd_keys_ca},
	{"tuf", "offline TUF keys: root chain, rotation, ceremony",
	 bw_cmd_keys_tuf},
	{"boot", "Secure Boot keys: UEFI PK, KEK, db", bw_cmd_keys_boot},
};

static int cmd_keys(int argc, char **argv)
{
	return bw_cli_dispatch("bulwark keys", "Offline keys and certificates.",
			       keys_cmds, sizeof(keys_cmds) / sizeof(keys_cmds[0]),
			       argc, argv);
}

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("bulwark %s\n", BW_VERSION);
	return BW_EXIT_OK;
}

/* `bulwark <group>`: one line per command group. */
static const struct bw_cli_cmd top_cmds[] = {
	{"keys", "offline keys: `keys ca` (factory PKI)", cmd_keys},
	{"factory", "create a factory TUF repository", bw_cmd_factory},
	{"targets", "add, promote and sign targets", bw_cmd_targets},
	{"repo", "export a static TUF repository", bw_cmd_repo},
	{"waves", "production rollouts in steps: charter init, sign, show",
	 bw_cmd_waves},
	{"sign", "sign boot artifacts (UEFI Authenticode)", bw_cmd_sign},
	{"devices", "devices on a server: list, show, deny, allow",
	 bw_cmd_devices},
	{"tokens", "registration tokens on a server", bw_cmd_tokens},
	{"accounts", "operator accounts (admin API, fleet page) on a server",
	 bw_cmd_accounts},
	{"log", "the server's transparency log: verify, show, monitor, "
		"cosign",
	 bw_cmd_log},
	{"version", "print the version", cmd_version},
};

const char bw_cli_exit_help[] =
	"Exit codes: 0 success, 1 failure, 2 usage error.";

int main(int argc, char **argv)
{
	int rc = bw_cli_dispatch(
		"bulwark",
		"bulwark: secure OTA updates for embedded Linux fleets "
		"(operator CLI).",
		top_cmds, sizeof(top_cmds) / sizeof(top_cmds[0]), argc, argv);

	fflush(stdout);
	return rc;
}
