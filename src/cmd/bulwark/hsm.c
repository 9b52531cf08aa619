/*
 * Making keys inside a PKCS#11 token for the CLI (hsm.h).
 */
#include <stdlib.h>

#include "bulwark/pkcs11.h"
#include "hsm.h"

int bw_hsm_key_create(const char *prog, const struct hsm_args *h,
		      const struct hsm_newkey *k, struct bw_signer **signer,
		      char **uri)
{
	struct bw_pkcs11_newkey nk = {0};
	struct bw_err err = {0};
	char *pin = NULL;
	int rc;

	*signer = NULL;
	*uri = NULL;
	if (h->token == NULL || h->pin_file == NULL)
		return bw_cli_usage(prog, "a key in a token needs --hsm-token "
				    "and --hsm-pin-file");
	if (bw_pkcs11_pin_from_file(h->pin_file, &pin, &err) != 0)
		return bw_cli_fail(prog, "%s", err.msg);
	nk.module_path = h->module;
	nk.token_label = h->token;
	nk.pin = pin;
	nk.label = h->label != NULL ? h->label : k->label;
	nk.label_add_id = h->label == NULL && k->add_id;
	nk.uri_module = k->module_always || h->module != NULL;
	nk.type = k->type;
	nk.bits = k->bits;
	rc = bw_pkcs11_key_create(&nk, signer, uri, &err);
	bw_pkcs11_pin_free(pin);
	if (rc == BW_EEXIST)
		return bw_cli_fail(prog, "key in token '%s': %s (choose "
				   "another --hsm-key-label)", h->token,
				   err.msg);
	if (rc != 0)
		return bw_cli_fail(prog, "key in token '%s': %s", h->token,
				   err.msg);
	return BW_EXIT_OK;
}

void bw_hsm_key_undo(const struct hsm_args *h, const char *uri)
{
	struct bw_pkcs11_opts o = {0};
	char *pin = NULL;

	if (uri == NULL || h->pin_file == NULL ||
	    bw_pkcs11_pin_from_file(h->pin_file, &pin, NULL) != 0)
		return;
	o.module_path = h->module;
	o.uri = uri;
	o.pin = pin;
	(void)bw_pkcs11_delete_key(&o, NULL, NULL);
	bw_pkcs11_pin_free(pin);
}
