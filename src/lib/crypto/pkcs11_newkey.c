/*
 * Making a key in a PKCS#11 token and naming it by URI (pkcs11.h:
 * bw_pkcs11_key_create): the factory CA key, offline TUF keys, device
 * keys, the transparency log key and the boot keys all come from here, so
 * a failed step always leaves the token as it was.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "bulwark/buf.h"
#include "bulwark/crypto.h"
#include "bulwark/pkcs11.h"

#define NEWKEY_ID_LEN 8

/* Characters a module path may have to go into a URI unescaped. */
static int path_uri_safe(const char *p)
{
	for (; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("/._-+", *p) != NULL))
			return 0;
	return 1;
}

/* "pkcs11:...;type=private", with "?module-path=" when asked and safe. */
static int newkey_uri(const struct bw_pkcs11_opts *o, int with_module,
		      char **out, struct bw_err *err)
{
	char *base = NULL;
	size_t need;
	int rc;

	rc = bw_pkcs11_uri_build(o, "private", &base, err);
	if (rc != 0 || !with_module || !path_uri_safe(o->module_path)) {
		*out = base;
		return rc;
	}
	need = strlen(base) + strlen("?module-path=") +
	       strlen(o->module_path) + 1;
	*out = malloc(need);
	if (*out == NULL)
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	else
		snprintf(*out, need, "%s?module-path=%s", base, o->module_path);
	free(base);
	return rc;
}

int bw_pkcs11_key_create(const struct bw_pkcs11_newkey *k,
			 struct bw_signer **signer, char **uri,
			 struct bw_err *err)
{
	struct bw_pkcs11_opts o = {0};
	uint8_t rid[NEWKEY_ID_LEN];
	const uint8_t *id = k->id;
	size_t id_len = k->id_len;
	char id_hex[2 * BW_PKCS11_ID_MAX + 1];
	char label[BW_PKCS11_LABEL_MAX + 1];
	struct bw_signer *s = NULL;
	char *u = NULL;
	enum bw_key_type type = k->type != 0 ? k->type : BW_KEY_ECDSA_P256;
	int rc;

	if (signer != NULL)
		*signer = NULL;
	if (uri != NULL)
		*uri = NULL;
	if (k->token_label == NULL || k->pin == NULL || k->label == NULL)
		return bw_err_set(err, BW_EINVAL, "a token key needs a token, "
				  "a PIN and a label");
	if (id == NULL) {
		/* A random CKA_ID, so keys of several factories, roles and
		 * rotations can share a token. */
		if (RAND_bytes(rid, sizeof(rid)) != 1)
			return bw_err_set(err, BW_ECRYPTO, "no randomness");
		id = rid;
		id_len = sizeof(rid);
	}
	if (id_len == 0 || id_len > BW_PKCS11_ID_MAX)
		return bw_err_set(err, BW_EINVAL, "pkcs11: bad key id length");
	bw_hex_encode(id, id_len, id_hex);
	if ((size_t)snprintf(label, sizeof(label), "%s%s%s", k->label,
			     k->label_add_id ? "-" : "",
			     k->label_add_id ? id_hex : "") >= sizeof(label))
		return bw_err_set(err, BW_ETOOBIG, "pkcs11: key label too long");
	o.module_path = k->module_path != NULL ? k->module_path
					       : BW_PKCS11_DEFAULT_MODULE;
	o.token_label = k->token_label;
	o.pin = k->pin;
	rc = bw_pkcs11_keygen_sized(&o, type, k->bits, label, id, id_len,
				    err);
	if (rc != 0)
		return rc; /* nothing was made */
	o.object_label = label;
	o.id_hex = id_hex;
	o.allow_eddsa = type == BW_KEY_ED25519;
	if (signer != NULL)
		rc = bw_pkcs11_signer_open(&o, &s, err);
	if (rc == 0 && uri != NULL)
		rc = newkey_uri(&o, k->uri_module, &u, err);
	if (rc != 0) {
		bw_signer_free(s);
		free(u);
		(void)bw_pkcs11_delete_key(&o, NULL, NULL);
		return rc;
	}
	if (signer != NULL)
		*signer = s; /* transferred */
	if (uri != NULL)
		*uri = u; /* transferred */
	return 0;
}
