/*
 * Fuzz target for RFC 7512 pkcs11: URIs (include/bulwark/pkcs11.h).
 *
 * For every input (as a C string, cut at the first NUL):
 *   - bw_pkcs11_uri_parse returns 0, BW_EFORMAT, BW_ETOOBIG, BW_EINVAL,
 *     BW_EUNSUPPORTED or BW_ENOMEM;
 *   - a parsed URI has NUL-terminated fields within their buffers, an id of
 *     at most BW_PKCS11_ID_MAX bytes and id_hex its hex;
 *   - a URI with a token and an object or id re-builds
 *     (bw_pkcs11_uri_build) into a URI that parses back to the same token,
 *     object and id.
 * Any violation abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/buf.h"
#include "bulwark/pkcs11.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void violation(const char *what, const struct bw_err *err)
{
	fprintf(stderr, "fuzz_pkcs11_uri: %s (%s)\n", what,
		err != NULL ? err->msg : "");
	abort();
}

static void check_fields(const struct bw_pkcs11_uri *u)
{
	char hex[2 * BW_PKCS11_ID_MAX + 1];

	if (memchr(u->token, 0, sizeof(u->token)) == NULL ||
	    memchr(u->object, 0, sizeof(u->object)) == NULL ||
	    memchr(u->type, 0, sizeof(u->type)) == NULL ||
	    memchr(u->module_path, 0, sizeof(u->module_path)) == NULL ||
	    memchr(u->pin_source, 0, sizeof(u->pin_source)) == NULL)
		violation("unterminated field", NULL);
	if (u->id_len > BW_PKCS11_ID_MAX)
		violation("id too long", NULL);
	bw_hex_encode(u->id, u->id_len, hex);
	if (strcmp(u->id_hex, hex) != 0)
		violation("id_hex is not the id", NULL);
}

static void check_roundtrip(const struct bw_pkcs11_uri *u)
{
	struct bw_pkcs11_opts o;
	struct bw_pkcs11_uri v;
	struct bw_err err = { 0 };
	char *uri = NULL;
	int rc;

	if (u->token[0] == '\0' || (u->object[0] == '\0' && u->id_len == 0))
		return;
	memset(&o, 0, sizeof(o));
	o.token_label = u->token;
	o.object_label = u->object[0] ? u->object : NULL;
	o.id_hex = u->id_len ? u->id_hex : NULL;
	rc = bw_pkcs11_uri_build(&o, "private", &uri, &err);
	if (rc == BW_ENOMEM)
		return;
	if (rc != 0)
		violation("parsed URI does not rebuild", &err);
	if (bw_pkcs11_uri_parse(uri, &v, &err) != 0)
		violation("rebuilt URI does not parse", &err);
	if (strcmp(v.token, u->token) != 0 ||
	    strcmp(v.object, u->object) != 0 || v.id_len != u->id_len ||
	    memcmp(v.id, u->id, u->id_len) != 0 ||
	    strcmp(v.type, "private") != 0)
		violation("round trip changed the URI", NULL);
	free(uri);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_pkcs11_uri u;
	struct bw_err err = { 0 };
	char *s;
	int rc;

	if (size > 4 * BW_PKCS11_URI_MAX)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	memset(&u, 0xa5, sizeof(u));
	rc = bw_pkcs11_uri_parse(s, &u, &err);
	if (rc == 0) {
		check_fields(&u);
		check_roundtrip(&u);
	} else if (rc != BW_EFORMAT && rc != BW_ETOOBIG && rc != BW_EINVAL &&
		   rc != BW_EUNSUPPORTED && rc != BW_ENOMEM) {
		violation("unexpected error code", &err);
	} else if (err.msg[0] == '\0') {
		violation("failure without a message", &err);
	}
	free(s);
	return 0;
}
