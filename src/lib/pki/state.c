/*
 * state.json of a PKI directory: device CA status and revoked device
 * serials, from which the CRLs are regenerated. Untrusted-input rules:
 * bounded size, duplicate keys and unknown fields rejected, every string
 * and count bounded, cross references checked.
 *
 * {"version":1,"factory":"acme","crl_number":3,
 *  "device_cas":[{"base":"online-ca","kind":"online","serial":"8F..",
 *                 "status":"enabled","reason":"keyCompromise",
 *                 "since":1700000000,"has_key":true}],
 *  "revoked_devices":[{"serial":"..","issuer":"online-ca",
 *                      "uuid":"..","reason":"privilegeWithdrawn","at":..}],
 *  "issued_devices":[{"serial":"..","issuer":"local-ca","uuid":"..",
 *                     "at":..}]}
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/identity.h"
#include "pki/pki_priv.h"

#define SERIAL_MAX 40 /* 20 octets */
#define TIME_MAX ((int64_t)253402300799) /* 9999-12-31 */

static const struct {
	enum bw_pki_reason code;
	const char *name;
} reasons[] = {
	{BW_PKI_REASON_KEY_COMPROMISE, "keyCompromise"},
	{BW_PKI_REASON_SUPERSEDED, "superseded"},
	{BW_PKI_REASON_CESSATION, "cessationOfOperation"},
	{BW_PKI_REASON_HOLD, "certificateHold"},
	{BW_PKI_REASON_PRIVILEGE_WITHDRAWN, "privilegeWithdrawn"},
};

const char *bw_pki__reason_name(enum bw_pki_reason r)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == r)
			return reasons[i].name;
	return "unspecified";
}

int bw_pki__reason_parse(const char *s, enum bw_pki_reason *out)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		if (strcmp(reasons[i].name, s) == 0) {
			*out = reasons[i].code;
			return 0;
		}
	}
	return BW_EFORMAT;
}

static int name_chars_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return 0;
	return 1;
}

int bw_pki__base_ok(const char *base)
{
	if (base == NULL)
		return 0;
	if (strcmp(base, "online-ca") == 0 || strcmp(base, "local-ca") == 0)
		return 1;
	if (strncmp(base, "online-ca-", 10) == 0)
		return name_chars_ok(base + 10, BW_PKI_CA_NAME_MAX);
	if (strncmp(base, "local-ca-", 9) == 0)
		return name_chars_ok(base + 9, BW_PKI_CA_NAME_MAX);
	return 0;
}

int bw_pki_device_ca_name_ok(const char *name)
{
	return bw_pki__base_ok(name);
}

static int serial_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SERIAL_MAX || (n > 1 && s[0] == '0'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]) &&
		    !(s[i] >= 'A' && s[i] <= 'F'))
			return 0;
	return 1;
}

static void dev_dispose(struct bw_pki__dev *d)
{
	free(d->serial);
	free(d->issuer);
	free(d->uuid);
}

void bw_pki__state_dispose(struct bw_pki__state *st)
{
	if (st == NULL)
		return;
	free(st->factory);
	for (size_t i = 0; i < st->ncas; i++) {
		free(st->cas[i].base);
		free(st->cas[i].kind);
		free(st->cas[i].serial);
		X509_free(st->cas[i].cert);
		EVP_PKEY_free(st->cas[i].key);
	}
	free(st->cas);
	for (size_t i = 0; i < st->nrevoked; i++)
		dev_dispose(&st->revoked[i]);
	free(st->revoked);
	for (size_t i = 0; i < st->nissued; i++)
		dev_dispose(&st->issued[i]);
	free(st->issued);
	memset(st, 0, sizeof(*st));
}

static char *dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

int bw_pki__state_add_ca(struct bw_pki__state *st, const char *base,
			 const char *kind, const char *serial, int has_key,
			 int64_t since, struct bw_err *err)
{
	struct bw_pki__ca *cas, *c;

	if (st->ncas >= BW_PKI__MAX_CAS)
		return bw_err_set(err, BW_ETOOBIG, "more than %u device CAs",
				  BW_PKI__MAX_CAS);
	cas = realloc(st->cas, (st->ncas + 1) * sizeof(*cas));
	if (cas == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	st->cas = cas;
	c = &cas[st->ncas];
	memset(c, 0, sizeof(*c));
	c->base = strdup(base);
	c->kind = strdup(kind);
	c->serial = strdup(serial);
	if (c->base == NULL || c->kind == NULL || c->serial == NULL) {
		free(c->base);
		free(c->kind);
		free(c->serial);
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	}
	c->status = BW_PKI_CA_ENABLED;
	c->has_key = has_key;
	/* the default of directories written before the flag: the online
	 * CA (whose production certificates the server's token decides)
	 * may, a local CA may not */
	c->production = strcmp(kind, "online") == 0;
	c->since = since;
	st->ncas++;
	return 0;
}

int bw_pki__dev_append(struct bw_pki__dev **arr, size_t *n, const char *serial,
		       const char *issuer, const char *uuid,
		       enum bw_pki_reason reason, int64_t at,
		       struct bw_err *err)
{
	struct bw_pki__dev *a, *d;

	if (*n >= BW_PKI__MAX_DEVS)
		return bw_err_set(err, BW_ETOOBIG, "more than %u device records",
				  BW_PKI__MAX_DEVS);
	a = realloc(*arr, (*n + 1) * sizeof(*a));
	if (a == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	*arr = a;
	d = &a[*n];
	memset(d, 0, sizeof(*d));
	d->serial = strdup(serial);
	d->issuer = strdup(issuer);
	d->uuid = dup_or_null(uuid);
	if (d->serial == NULL || d->issuer == NULL ||
	    (uuid != NULL && d->uuid == NULL)) {
		dev_dispose(d);
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	}
	d->reason = reason;
	d->at = at;
	(*n)++;
	return 0;
}

static const struct bw_pki__ca *find_ca(const struct bw_pki__state *st,
					const char *base)
{
	for (size_t i = 0; i < st->ncas; i++)
		if (strcmp(st->cas[i].base, base) == 0)
			return &st->cas[i];
	return NULL;
}

static int parse_ca(json_t *o, struct bw_pki__state *st, struct bw_err *err)
{
	const char *base, *kind, *serial, *status, *reason = NULL;
	json_int_t since;
	int has_key, production = -1, rc;
	json_error_t je;
	struct bw_pki__ca *c;

	if (json_unpack_ex(o, &je, JSON_STRICT,
			   "{s:s, s:s, s:s, s:s, s?s, s:I, s:b, s?b}", "base",
			   &base, "kind", &kind, "serial", &serial, "status",
			   &status, "reason", &reason, "since", &since,
			   "has_key", &has_key, "production", &production) != 0)
		return bw_err_set(err, BW_EFORMAT, "state: device CA: %.200s",
				  je.text);
	if (!bw_pki__base_ok(base) || find_ca(st, base) != NULL)
		return bw_err_set(err, BW_EFORMAT,
				  "state: bad or duplicate device CA name");
	if (strcmp(kind, "online") != 0 && strcmp(kind, "local") != 0)
		return bw_err_set(err, BW_EFORMAT, "state: bad device CA kind");
	if (!serial_ok(serial) || since < 0 || since > TIME_MAX)
		return bw_err_set(err, BW_EFORMAT,
				  "state: bad device CA serial or time");
	rc = bw_pki__state_add_ca(st, base, kind, serial, has_key, since, err);
	if (rc != 0)
		return rc;
	c = &st->cas[st->ncas - 1];
	if (production >= 0)
		c->production = production;
	if (strcmp(status, "enabled") == 0)
		c->status = BW_PKI_CA_ENABLED;
	else if (strcmp(status, "disabled") == 0)
		c->status = BW_PKI_CA_DISABLED;
	else if (strcmp(status, "revoked") == 0)
		c->status = BW_PKI_CA_REVOKED;
	else
		return bw_err_set(err, BW_EFORMAT, "state: bad device CA status");
	if ((c->status == BW_PKI_CA_ENABLED) != (reason == NULL))
		return bw_err_set(err, BW_EFORMAT,
				  "state: reason and status disagree");
	if (reason != NULL &&
	    (bw_pki__reason_parse(reason, &c->reason) != 0 ||
	     (c->status == BW_PKI_CA_DISABLED) !=
		     (c->reason == BW_PKI_REASON_HOLD)))
		return bw_err_set(err, BW_EFORMAT, "state: bad reason");
	return 0;
}

static int parse_dev(json_t *o, int revoked, struct bw_pki__state *st,
		     struct bw_err *err)
{
	const char *serial, *issuer, *uuid = NULL, *reason = NULL;
	enum bw_pki_reason r = BW_PKI_REASON_PRIVILEGE_WITHDRAWN;
	json_int_t at;
	json_error_t je;
	char norm[BW_UUID_BUF];
	int rc;

	if (revoked)
		rc = json_unpack_ex(o, &je, JSON_STRICT,
				    "{s:s, s:s, s?s, s:s, s:I}", "serial",
				    &serial, "issuer", &issuer, "uuid", &uuid,
				    "reason", &reason, "at", &at);
	else
		rc = json_unpack_ex(o, &je, JSON_STRICT, "{s:s, s:s, s?s, s:I}",
				    "serial", &serial, "issuer", &issuer,
				    "uuid", &uuid, "at", &at);
	if (rc != 0)
		return bw_err_set(err, BW_EFORMAT, "state: device: %.200s",
				  je.text);
	if (!serial_ok(serial) || find_ca(st, issuer) == NULL ||
	    (uuid != NULL &&
	     bw_identity_uuid_normalize(uuid, strlen(uuid), norm, NULL)) ||
	    at < 0 ||
	    at > TIME_MAX ||
	    (reason != NULL && (bw_pki__reason_parse(reason, &r) != 0 ||
				r == BW_PKI_REASON_HOLD)))
		return bw_err_set(err, BW_EFORMAT,
				  "state: bad device record (serial, issuer, "
				  "uuid, reason or time)");
	if (uuid != NULL)
		uuid = norm; /* older directories may hold another case */
	if (revoked)
		return bw_pki__dev_append(&st->revoked, &st->nrevoked, serial,
					  issuer, uuid, r, at, err);
	return bw_pki__dev_append(&st->issued, &st->nissued, serial, issuer,
				  uuid, 0, at, err);
}

static int parse_array(json_t *a, size_t max, int which,
		       struct bw_pki__state *st, struct bw_err *err)
{
	size_t i;
	json_t *v;
	int rc;

	if (json_array_size(a) > max)
		return bw_err_set(err, BW_ETOOBIG, "state: too many entries");
	json_array_foreach(a, i, v) {
		rc = which == 0 ? parse_ca(v, st, err)
				: parse_dev(v, which == 1, st, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int bw_pki__state_parse(const uint8_t *data, size_t len,
			struct bw_pki__state *st, struct bw_err *err)
{
	json_t *root = NULL, *cas, *rev, *iss;
	json_error_t je;
	const char *factory;
	json_int_t version, crlnum;
	int rc = BW_EFORMAT;

	memset(st, 0, sizeof(*st));
	if (len > BW_PKI_STATE_MAX)
		return bw_err_set(err, BW_ETOOBIG, "state.json larger than %u",
				  BW_PKI_STATE_MAX);
	if (memchr(data, '\0', len) != NULL)
		return bw_err_set(err, BW_EFORMAT, "state.json contains NUL");
	root = json_loadb((const char *)data, len,
			  JSON_REJECT_DUPLICATES, &je);
	if (root == NULL)
		return bw_err_set(err, BW_EFORMAT, "state.json: %.200s (line %d)",
				  je.text, je.line);
	if (json_unpack_ex(root, &je, JSON_STRICT,
			   "{s:I, s:s, s:I, s:o, s:o, s:o}", "version",
			   &version, "factory", &factory, "crl_number", &crlnum,
			   "device_cas", &cas, "revoked_devices", &rev,
			   "issued_devices", &iss) != 0) {
		rc = bw_err_set(err, BW_EFORMAT, "state.json: %.200s", je.text);
		goto out;
	}
	if (version != 1) {
		rc = bw_err_set(err, BW_EUNSUPPORTED,
				"state.json: unknown version");
		goto out;
	}
	if (crlnum < 0 || crlnum > ((json_int_t)1 << 62) ||
	    !json_is_array(cas) || !json_is_array(rev) || !json_is_array(iss)) {
		rc = bw_err_set(err, BW_EFORMAT, "state.json: bad field types");
		goto out;
	}
	rc = bw_pki__check_label("state.json factory", factory,
				 BW_PKI_FACTORY_MAX, err);
	if (rc != 0) {
		rc = BW_EFORMAT;
		goto out;
	}
	st->factory = strdup(factory);
	st->crl_number = (uint64_t)crlnum;
	if (st->factory == NULL) {
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
		goto out;
	}
	rc = parse_array(cas, BW_PKI__MAX_CAS, 0, st, err);
	if (rc == 0)
		rc = parse_array(rev, BW_PKI__MAX_DEVS, 1, st, err);
	if (rc == 0)
		rc = parse_array(iss, BW_PKI__MAX_DEVS, 2, st, err);
out:
	json_decref(root);
	if (rc != 0)
		bw_pki__state_dispose(st);
	return rc;
}

static const char *status_name(enum bw_pki_ca_status s)
{
	return s == BW_PKI_CA_ENABLED	 ? "enabled"
	       : s == BW_PKI_CA_DISABLED ? "disabled"
					 : "revoked";
}

static json_t *dev_json(const struct bw_pki__dev *d, int revoked)
{
	json_t *o = json_pack("{s:s, s:s, s:I}", "serial", d->serial, "issuer",
			      d->issuer, "at", (json_int_t)d->at);

	if (o == NULL)
		return NULL;
	if ((d->uuid != NULL &&
	     json_object_set_new(o, "uuid", json_string(d->uuid)) != 0) ||
	    (revoked && json_object_set_new(o, "reason",
					    json_string(bw_pki__reason_name(
						    d->reason))) != 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int bw_pki__state_serialize(const struct bw_pki__state *st, char **out,
			    size_t *len, struct bw_err *err)
{
	json_t *root, *cas, *rev, *iss;
	int rc = BW_ENOMEM;

	*out = NULL;
	root = json_pack("{s:i, s:s, s:I, s:[], s:[], s:[]}", "version", 1,
			 "factory", st->factory, "crl_number",
			 (json_int_t)st->crl_number, "device_cas",
			 "revoked_devices", "issued_devices");
	if (root == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	cas = json_object_get(root, "device_cas");
	rev = json_object_get(root, "revoked_devices");
	iss = json_object_get(root, "issued_devices");
	for (size_t i = 0; i < st->ncas; i++) {
		const struct bw_pki__ca *c = &st->cas[i];
		json_t *o = json_pack(
			"{s:s, s:s, s:s, s:s, s:I, s:b, s:b}", "base", c->base,
			"kind", c->kind, "serial", c->serial, "status",
			status_name(c->status), "since", (json_int_t)c->since,
			"has_key", c->has_key, "production", c->production);

		if (o != NULL && c->status != BW_PKI_CA_ENABLED &&
		    json_object_set_new(
			    o, "reason",
			    json_string(bw_pki__reason_name(c->reason))) != 0) {
			json_decref(o);
			o = NULL;
		}
		if (o == NULL || json_array_append_new(cas, o) != 0)
			goto out;
	}
	for (size_t i = 0; i < st->nrevoked; i++)
		if (json_array_append_new(rev, dev_json(&st->revoked[i], 1)) != 0)
			goto out;
	for (size_t i = 0; i < st->nissued; i++)
		if (json_array_append_new(iss, dev_json(&st->issued[i], 0)) != 0)
			goto out;
	*out = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (*out == NULL)
		goto out;
	*len = strlen(*out);
	rc = 0;
out:
	if (rc != 0)
		bw_err_set(err, rc, "cannot serialise state");
	json_decref(root);
	return rc;
}
