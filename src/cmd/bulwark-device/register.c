/* `bulwark-device register`: the device's identity. */
#include "cli.h"
#include "enroll.h"

int bw_devcmd_register(int argc, char **argv)
{
	const char *prog = "bulwark-device register";
	struct bw_dev_register_opts o = {0};
	int done = 0, rc;
	const struct bw_cli_opt opts[] = {
		{"--config", BW_CLI_STR, "FILE", "device configuration (state "
		 "dir, hardware id, tag, token settings as defaults)",
		 &o.config_path},
		{"--state-dir", BW_CLI_STR, "DIR", "where the identity goes",
		 &o.state_dir},
		{"--server", BW_CLI_STR, "URL", "registration server base URL",
		 &o.server_url},
		{"--token-file", BW_CLI_STR | BW_CLI_REQUIRED, "FILE", "factory token (OSF-TOKEN)",
		 &o.token_file},
		{"--uuid", BW_CLI_STR, "U", "device UUID (default: random)",
		 &o.uuid},
		{"--name", BW_CLI_STR, "N", "device name (default: the UUID)",
		 &o.name},
		{"--hardware-id", BW_CLI_STR, "H", "hardware id", &o.hardware_id},
		{"--tag", BW_CLI_STR, "T", "update tag", &o.tag},
		{"--pkcs11-module", BW_CLI_STR, "SO", "PKCS#11 module (default "
		 "SoftHSM2)", &o.pkcs11_module},
		{"--token-label", BW_CLI_STR, "L", "token that makes and keeps "
		 "the key", &o.token_label},
		{"--key-label", BW_CLI_STR, "L", "key label (default "
		 "bulwark-device)", &o.key_label},
		{"--pin-file", BW_CLI_STR, "F", "user PIN file (0600)",
		 &o.pin_file},
		{"--key-file", BW_CLI_FLAG, NULL, "no token: a 0600 key file",
		 &o.use_key_file},
		{"--ca-file", BW_CLI_STR, "F", "CA that signed the server's "
		 "certificate", &o.ca_file},
		{"--force", BW_CLI_FLAG, NULL, "replace an existing identity",
		 &o.force},
		BW_CLI_END,
	};
	const struct bw_cli_spec spec = {
		prog, "--server URL --token-file F [options]",
		"Generate an EC P-256 key inside the PKCS#11 token (never "
		"extractable), sign a CSR with it, POST it to URL/sign with the "
		"factory token, and store the certificate, the factory root "
		"certificate and the device identity. Refuses to run twice "
		"without --force (exit 131); on failure removes what it made.",
		opts, NULL, 0, 0};

	rc = bw_cli_parse(&spec, argc, argv, &done);
	if (rc != BW_EXIT_OK || done)
		return rc;
	return bw_dev_register(&o);
}
