/*
 * C2SP signed-note (Ed25519 signatures, alg byte 0x01) and C2SP
 * tlog-checkpoint bodies. The key hash of an Ed25519 verifier key is the
 * first 4 bytes of SHA-256(name || "\n" || 0x01 || public key).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "bulwark/hash.h"
#include "bulwark/tlog.h"

#define ALG_ED25519 0x01
/* "— " : U+2014 EM DASH and a space start every signature line. */
static const char sig_prefix[] = "\xe2\x80\x94 ";
#define SIG_PREFIX_LEN 4

/* ---- base64 ------------------------------------------------------------- */

int bw_tlog_b64_encode(const void *data, size_t len, char **out)
{
	size_t n;

	*out = NULL;
	if (len > (SIZE_MAX - 1) / 4 * 3 - 3 || len > INT32_MAX)
		return BW_ETOOBIG;
	n = (len + 2) / 3 * 4;
	*out = malloc(n + 1);
	if (!*out)
		return BW_ENOMEM;
	EVP_EncodeBlock((unsigned char *)*out, data, (int)len);
	(*out)[n] = '\0';
	return 0;
}

static int b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '/';
}

int bw_tlog_b64_decode(const char *s, size_t len, size_t max, uint8_t **out,
		       size_t *outlen)
{
	size_t pad = 0, i, n;
	uint8_t *buf;
	char *again = NULL;
	int rc = BW_EFORMAT;

	*out = NULL;
	*outlen = 0;
	if (len % 4 != 0 || len > INT32_MAX)
		return BW_EFORMAT;
	if (len / 4 * 3 > max + 2)
		return BW_ETOOBIG;
	if (len >= 1 && s[len - 1] == '=')
		pad++;
	if (len >= 2 && s[len - 2] == '=')
		pad++;
	for (i = 0; i < len - pad; i++)
		if (!b64_char(s[i]))
			return BW_EFORMAT;
	buf = malloc(len / 4 * 3 + 1);
	if (!buf)
		return BW_ENOMEM;
	if (EVP_DecodeBlock(buf, (const unsigned char *)s, (int)len) < 0)
		goto out;
	n = len / 4 * 3 - pad;
	if (n > max) {
		rc = BW_ETOOBIG;
		goto out;
	}
	/* Canonical: the unused bits of the last character are zero, so one
	 * byte string has one encoding. */
	rc = bw_tlog_b64_encode(buf, n, &again);
	if (rc != 0)
		goto out;
	if (memcmp(again, s, len) != 0) {
		rc = BW_EFORMAT;
		goto out;
	}
	*out = buf;
	*outlen = n;
	buf = NULL;
	rc = 0;
out:
	free(again);
	free(buf);
	return rc;
}

void bw_tlog_hash_b64(const struct bw_tlog_hash *h, char out[BW_TLOG_HASH_B64])
{
	EVP_EncodeBlock((unsigned char *)out, h->h, BW_TLOG_HASH_LEN);
	out[BW_TLOG_HASH_B64 - 1] = '\0';
}

int bw_tlog_hash_from_b64(const char *s, size_t len, struct bw_tlog_hash *out)
{
	uint8_t *raw = NULL;
	size_t n = 0;
	int rc;

	if (len != BW_TLOG_HASH_B64 - 1)
		return BW_EFORMAT;
	rc = bw_tlog_b64_decode(s, len, BW_TLOG_HASH_LEN, &raw, &n);
	if (rc == 0 && n != BW_TLOG_HASH_LEN)
		rc = BW_EFORMAT;
	if (rc == 0)
		memcpy(out->h, raw, BW_TLOG_HASH_LEN);
	free(raw);
	return rc;
}

/* ---- verifier keys -------------------------------------------------------- */

/* Key names: printable ASCII without space or '+' (C2SP signed-note
 * allows more; bulwark writes and accepts only these). */
static int name_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > BW_TLOG_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '+')
			return 0;
	return 1;
}

static int key_hash(const char *name, const uint8_t pub[32], uint8_t out[4])
{
	uint8_t buf[BW_TLOG_NAME_MAX + 2 + 32], d[32];
	size_t n = strlen(name);

	memcpy(buf, name, n);
	buf[n] = '\n';
	buf[n + 1] = ALG_ED25519;
	memcpy(buf + n + 2, pub, 32);
	if (bw_hash_buf(BW_HASH_SHA256, buf, n + 34, d) != 0)
		return BW_ECRYPTO;
	memcpy(out, d, 4);
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int bw_tlog_vkey_parse(const char *s, size_t len, struct bw_tlog_vkey *out,
		       struct bw_err *err)
{
	const char *p1, *p2;
	uint8_t *raw = NULL, kh[4];
	size_t n = 0, i;
	int rc = bw_err_set(err, BW_EFORMAT, "tlog: a verifier key is "
			    "<name>+<8 hex digits>+<base64 key>");

	memset(out, 0, sizeof(*out));
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;
	p1 = memchr(s, '+', len);
	if (!p1)
		return rc;
	p2 = memchr(p1 + 1, '+', len - (size_t)(p1 + 1 - s));
	if (!p2 || p2 - p1 != 9 || !name_ok(s, (size_t)(p1 - s)))
		return rc;
	for (i = 0; i < 4; i++) {
		int hi = hexval(p1[1 + 2 * i]), lo = hexval(p1[2 + 2 * i]);

		if (hi < 0 || lo < 0)
			return rc;
		out->keyhash[i] = (uint8_t)(hi << 4 | lo);
	}
	if (bw_tlog_b64_decode(p2 + 1, len - (size_t)(p2 + 1 - s), 33, &raw,
			       &n) != 0 || n != 33 || raw[0] != ALG_ED25519) {
		free(raw);
		return bw_err_set(err, BW_EFORMAT, "tlog: verifier key is not "
				  "an Ed25519 key (base64 of 0x01 and 32 "
				  "bytes)");
	}
	memcpy(out->pub, raw + 1, 32);
	free(raw);
	memcpy(out->name, s, (size_t)(p1 - s));
	if (key_hash(out->name, out->pub, kh) != 0 ||
	    memcmp(kh, out->keyhash, 4) != 0)
		return bw_err_set(err, BW_EFORMAT, "tlog: verifier key '%s': "
				  "key hash does not match name and key",
				  out->name);
	bw_err_clear(err);
	return 0;
}

int bw_tlog_vkey_from_key(const char *name, const struct bw_key *key,
			  struct bw_tlog_vkey *vk, char **out,
			  struct bw_err *err)
{
	uint8_t raw[33];
	size_t publen = 32;
	char *b64 = NULL;
	int rc;

	if (out)
		*out = NULL;
	memset(vk, 0, sizeof(*vk));
	if (!name_ok(name, strlen(name)))
		return bw_err_set(err, BW_EINVAL, "tlog: key name '%.64s' "
				  "must be printable ASCII without space or "
				  "'+', at most %d characters", name,
				  BW_TLOG_NAME_MAX);
	if (key->type != BW_KEY_ED25519 ||
	    EVP_PKEY_get_raw_public_key(key->pkey, vk->pub, &publen) != 1 ||
	    publen != 32)
		return bw_err_set(err, BW_EUNSUPPORTED, "tlog: the log and "
				  "witness keys must be Ed25519 keys");
	memcpy(vk->name, name, strlen(name) + 1);
	if (key_hash(name, vk->pub, vk->keyhash) != 0)
		return bw_err_set(err, BW_ECRYPTO, "tlog: hash failed");
	if (!out)
		return 0;
	raw[0] = ALG_ED25519;
	memcpy(raw + 1, vk->pub, 32);
	rc = bw_tlog_b64_encode(raw, sizeof(raw), &b64);
	if (rc != 0)
		return bw_err_set(err, rc, "tlog: out of memory");
	if (asprintf(out, "%s+%02x%02x%02x%02x+%s", name, vk->keyhash[0],
		     vk->keyhash[1], vk->keyhash[2], vk->keyhash[3], b64) < 0) {
		*out = NULL;
		rc = bw_err_set(err, BW_ENOMEM, "tlog: out of memory");
	}
	free(b64);
	return rc;
}

/* ---- notes ---------------------------------------------------------------- */

/* UTF-8 without control characters other than newline (C2SP signed-note). */
static int text_ok(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		size_t n, k;
		uint32_t cp;

		if (c < 0x80) {
			if ((c < 0x20 && c != '\n') || c == 0x7f)
				return 0;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (len - i <= n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
		    (cp >= 0x80 && cp < 0xa0))
			return 0;
		i += n + 1;
	}
	return 1;
}

void bw_tlog_note_free(struct bw_tlog_note *n)
{
	if (!n)
		return;
	free(n->text);
	free(n);
}

static int sig_line_parse(const char *l, size_t len, struct bw_tlog_sig *sig,
			  struct bw_err *err)
{
	const char *sp;
	uint8_t *raw = NULL;
	size_t n = 0;
	int rc;

	if (len < SIG_PREFIX_LEN || memcmp(l, sig_prefix, SIG_PREFIX_LEN) != 0)
		return bw_err_set(err, BW_EFORMAT, "tlog: note: a signature "
				  "line must start with an em dash and a "
				  "space");
	l += SIG_PREFIX_LEN;
	len -= SIG_PREFIX_LEN;
	sp = memchr(l, ' ', len);
	if (!sp || !name_ok(l, (size_t)(sp - l)))
		return bw_err_set(err, BW_EFORMAT, "tlog: note: bad key name "
				  "in a signature line");
	memset(sig, 0, sizeof(*sig));
	memcpy(sig->name, l, (size_t)(sp - l));
	rc = bw_tlog_b64_decode(sp + 1, len - (size_t)(sp + 1 - l),
				4 + sizeof(sig->sig), &raw, &n);
	if (rc != 0 || n < 5) {
		free(raw);
		return bw_err_set(err, BW_EFORMAT, "tlog: note: signature of "
				  "'%s' is not base64 of a key hash and a "
				  "signature", sig->name);
	}
	memcpy(sig->keyhash, raw, 4);
	sig->siglen = n - 4;
	memcpy(sig->sig, raw + 4, sig->siglen);
	free(raw);
	return 0;
}

int bw_tlog_note_parse(const uint8_t *buf, size_t len,
		       struct bw_tlog_note **out, struct bw_err *err)
{
	struct bw_tlog_note *n = NULL;
	const char *s = (const char *)buf, *p, *end;
	size_t split = 0, i;
	int rc;

	*out = NULL;
	if (len > BW_TLOG_NOTE_MAX)
		return bw_err_set(err, BW_ETOOBIG, "tlog: note larger than %d "
				  "bytes", BW_TLOG_NOTE_MAX);
	if (!text_ok(buf, len))
		return bw_err_set(err, BW_EFORMAT, "tlog: note is not UTF-8 "
				  "text without control characters");
	/* The text ends at the last blank line; signatures follow. */
	for (i = len; i >= 2; i--)
		if (s[i - 1] == '\n' && s[i - 2] == '\n') {
			split = i - 1;
			break;
		}
	if (split == 0 || split == len || s[len - 1] != '\n')
		return bw_err_set(err, BW_EFORMAT, "tlog: note needs text, a "
				  "blank line and signature lines, each "
				  "ending in a newline");
	n = calloc(1, sizeof(*n));
	if (!n)
		return bw_err_set(err, BW_ENOMEM, "tlog: out of memory");
	n->text = malloc(split + 1);
	if (!n->text) {
		rc = bw_err_set(err, BW_ENOMEM, "tlog: out of memory");
		goto out;
	}
	memcpy(n->text, s, split);
	n->text[split] = '\0';
	n->text_len = split;
	for (p = s + split + 1, end = s + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (n->nsigs == BW_TLOG_SIGS_MAX) {
			rc = bw_err_set(err, BW_ETOOBIG, "tlog: note has more "
					"than %d signatures", BW_TLOG_SIGS_MAX);
			goto out;
		}
		rc = sig_line_parse(p, (size_t)(nl - p), &n->sigs[n->nsigs],
				    err);
		if (rc != 0)
			goto out;
		n->nsigs++;
		p = nl + 1;
	}
	if (n->nsigs == 0) {
		rc = bw_err_set(err, BW_EFORMAT, "tlog: note has no "
				"signature");
		goto out;
	}
	*out = n;
	n = NULL;
	rc = 0;
out:
	bw_tlog_note_free(n);
	return rc;
}

static int ed25519_verify(const uint8_t pub[32], const uint8_t *msg,
			  size_t len, const uint8_t *sig, size_t siglen)
{
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *c = NULL;
	int ok = 0;

	if (siglen != 64)
		return 0;
	pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
	c = EVP_MD_CTX_new();
	if (pk && c && EVP_DigestVerifyInit(c, NULL, NULL, NULL, pk) == 1 &&
	    EVP_DigestVerify(c, sig, siglen, msg, len) == 1)
		ok = 1;
	EVP_MD_CTX_free(c);
	EVP_PKEY_free(pk);
	return ok;
}

int bw_tlog_note_verify(const struct bw_tlog_note *n,
			const struct bw_tlog_vkey *vk, struct bw_err *err)
{
	size_t i;
	int seen = 0;

	for (i = 0; i < n->nsigs; i++) {
		const struct bw_tlog_sig *s = &n->sigs[i];

		if (strcmp(s->name, vk->name) != 0 ||
		    memcmp(s->keyhash, vk->keyhash, 4) != 0)
			continue;
		seen = 1;
		if (ed25519_verify(vk->pub, (const uint8_t *)n->text,
				   n->text_len, s->sig, s->siglen))
			return 0;
	}
	if (seen)
		return bw_err_set(err, BW_ESIG, "tlog: the signature by '%s' "
				  "does not verify (the note was altered)",
				  vk->name);
	return bw_err_set(err, BW_ENOTFOUND, "tlog: no signature by key "
			  "'%s' (%02x%02x%02x%02x)", vk->name, vk->keyhash[0],
			  vk->keyhash[1], vk->keyhash[2], vk->keyhash[3]);
}

int bw_tlog_note_sign(const char *text, size_t text_len, const char *name,
		      struct bw_signer *signer, char **note, size_t *note_len,
		      struct bw_err *err)
{
	struct bw_tlog_vkey vk;
	uint8_t *sig = NULL, raw[4 + 64];
	size_t siglen = 0, base, total;
	char *b64 = NULL, *buf = NULL;
	int rc;

	if (text_len == 0 || text[text_len - 1] != '\n' ||
	    !text_ok((const uint8_t *)text, text_len) ||
	    (text_len >= 2 && text[text_len - 2] == '\n'))
		return bw_err_set(err, BW_EINVAL, "tlog: note text must be "
				  "lines ending in a newline, no blank line");
	rc = bw_tlog_vkey_from_key(name, bw_signer_key(signer), &vk, NULL,
				   err);
	if (rc != 0)
		return rc;
	rc = signer->ops->sign(signer, (const uint8_t *)text, text_len, &sig,
			       &siglen, err);
	if (rc != 0)
		return rc;
	if (siglen != 64) {
		rc = bw_err_set(err, BW_ECRYPTO, "tlog: Ed25519 signature of "
				"%zu bytes", siglen);
		goto out;
	}
	memcpy(raw, vk.keyhash, 4);
	memcpy(raw + 4, sig, 64);
	rc = bw_tlog_b64_encode(raw, sizeof(raw), &b64);
	if (rc != 0)
		goto out;
	/* The existing note (text, blank line, lines) or a fresh one. */
	base = *note ? *note_len : text_len + 1;
	total = base + SIG_PREFIX_LEN + strlen(name) + 1 + strlen(b64) + 1;
	buf = malloc(total + 1);
	if (!buf) {
		rc = bw_err_set(err, BW_ENOMEM, "tlog: out of memory");
		goto out;
	}
	if (*note) {
		memcpy(buf, *note, base);
	} else {
		memcpy(buf, text, text_len);
		buf[text_len] = '\n';
	}
	snprintf(buf + base, total + 1 - base, "%s%s %s\n", sig_prefix, name,
		 b64);
	free(*note);
	*note = buf;
	*note_len = total;
	buf = NULL;
out:
	free(buf);
	free(b64);
	free(sig);
	return rc;
}

/* ---- checkpoints ------------------------------------------------------ */

int bw_tlog_checkpoint_format(const struct bw_tlog_checkpoint *c, char **out,
			      size_t *len, struct bw_err *err)
{
	char root[BW_TLOG_HASH_B64];
	int n;

	*out = NULL;
	if (!name_ok(c->origin, strlen(c->origin)))
		return bw_err_set(err, BW_EINVAL, "tlog: bad origin");
	bw_tlog_hash_b64(&c->root, root);
	n = asprintf(out, "%s\n%" PRIu64 "\n%s\n", c->origin, c->size, root);
	if (n < 0) {
		*out = NULL;
		return bw_err_set(err, BW_ENOMEM, "tlog: out of memory");
	}
	*len = (size_t)n;
	return 0;
}

/* Decimal without sign or leading zero, below 2^63. */
static int parse_size(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 19 || (len > 1 && s[0] == '0'))
		return BW_EFORMAT;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return BW_EFORMAT;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v >= ((uint64_t)1 << 63))
		return BW_EFORMAT;
	*out = v;
	return 0;
}

int bw_tlog_checkpoint_parse(const char *text, size_t len,
			     struct bw_tlog_checkpoint *out,
			     struct bw_err *err)
{
	const char *line[3], *p = text, *end = text + len, *nl;
	size_t ll[3];
	int i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < 3; i++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return bw_err_set(err, BW_EFORMAT, "tlog: checkpoint "
					  "needs origin, size and root hash "
					  "lines");
		line[i] = p;
		ll[i] = (size_t)(nl - p);
		p = nl + 1;
	}
	/* Extension lines (C2SP tlog-checkpoint) follow: non-empty lines. */
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl || nl == p)
			return bw_err_set(err, BW_EFORMAT, "tlog: checkpoint "
					  "extension lines must be non-empty "
					  "lines");
		p = nl + 1;
	}
	if (!name_ok(line[0], ll[0]))
		return bw_err_set(err, BW_EFORMAT, "tlog: checkpoint origin "
				  "must be printable ASCII without space, at "
				  "most %d characters", BW_TLOG_NAME_MAX);
	memcpy(out->origin, line[0], ll[0]);
	if (parse_size(line[1], ll[1], &out->size) != 0)
		return bw_err_set(err, BW_EFORMAT, "tlog: checkpoint tree size "
				  "is not a decimal number below 2^63");
	if (bw_tlog_hash_from_b64(line[2], ll[2], &out->root) != 0)
		return bw_err_set(err, BW_EFORMAT, "tlog: checkpoint root hash "
				  "is not base64 of 32 bytes");
	return 0;
}

static void signers_list(const struct bw_tlog_note *n, char *buf, size_t cap)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < n->nsigs && off < cap; i++) {
		int k = snprintf(buf + off, cap - off, "%s'%s' %02x%02x%02x%02x",
				 i ? ", " : "", n->sigs[i].name,
				 n->sigs[i].keyhash[0], n->sigs[i].keyhash[1],
				 n->sigs[i].keyhash[2], n->sigs[i].keyhash[3]);
		if (k < 0)
			break;
		off += (size_t)k;
	}
}

int bw_tlog_checkpoint_open(const uint8_t *note, size_t len,
			    const struct bw_tlog_vkey *log, const char *origin,
			    const struct bw_tlog_vkey *witnesses, size_t nwit,
			    size_t min_witness, struct bw_tlog_checkpoint *out,
			    struct bw_err *err)
{
	struct bw_tlog_note *n = NULL;
	char who[256];
	size_t i, good = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = bw_tlog_note_parse(note, len, &n, err);
	if (rc != 0)
		return rc;
	rc = bw_tlog_note_verify(n, log, err);
	if (rc == BW_ENOTFOUND) {
		signers_list(n, who, sizeof(who));
		rc = bw_err_set(err, BW_ESIG, "tlog: checkpoint is not signed "
				"by the log key '%s' (signed by: %s)",
				log->name, who);
	}
	if (rc != 0)
		goto out;
	rc = bw_tlog_checkpoint_parse(n->text, n->text_len, out, err);
	if (rc != 0)
		goto out;
	if (origin && strcmp(origin, out->origin) != 0) {
		rc = bw_err_set(err, BW_ESIG, "tlog: checkpoint of log '%s', "
				"not '%s'", out->origin, origin);
		goto out;
	}
	/* Witnesses: distinct keys (a key listed twice counts once). */
	for (i = 0; i < nwit; i++) {
		size_t j;
		int dup = 0;

		for (j = 0; j < i; j++)
			if (memcmp(witnesses[j].pub, witnesses[i].pub, 32) == 0)
				dup = 1;
		if (!dup && memcmp(witnesses[i].pub, log->pub, 32) != 0 &&
		    bw_tlog_note_verify(n, &witnesses[i], NULL) == 0)
			good++;
	}
	if (good < min_witness) {
		rc = bw_err_set(err, BW_ESIG, "tlog: checkpoint of size %llu "
				"has %zu of the %zu witness signatures "
				"required", (unsigned long long)out->size, good,
				min_witness);
		goto out;
	}
	bw_err_clear(err);
out:
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	bw_tlog_note_free(n);
	return rc;
}
