/*
 * U-Boot FIT configuration signatures, the format `mkimage -k` writes and
 * U-Boot's `bootm` / `fdt checksign` verify (U-Boot doc/usage/fit/
 * signature.rst), and the public-key node U-Boot reads from its control
 * device tree.
 *
 * libfdt reads and edits the trees. The signed bytes are chosen the way
 * U-Boot's fdt_find_regions() chooses them, which is U-Boot code, not part
 * of libfdt: walk the structure block and keep, for every node listed in
 * "hashed-nodes", its tags and properties (except the image data, covered
 * by the images' hash nodes), for the nodes in between only their begin
 * and end tags, then the end tag and the strings block. That walk is
 * written here (find_regions) because no library on Debian offers it, and
 * the key node is written here because mkimage writes it only from a key
 * file, which a token key or a key archive never becomes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libfdt.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>

#include "bulwark/boot.h"
#include "bulwark/hash.h"

#define FIT_MAX (256u * 1024u * 1024u)
#define MAX_NODES 64
#define MAX_DEPTH 32
#define GROW 65536
#define PATH_MAX_LEN 256

/* Properties of a configuration that name images (mkimage signs these). */
static const char *const image_props[] = {
	"kernel", "fdt", "ramdisk", "firmware", "loadables", "fpga", "setup",
};
/* Excluded from the signed bytes: the data itself, covered by the hash. */
static const char *const exc_props[] = {
	"data", "data-size", "data-position", "data-offset",
};

struct nodes {
	char *path[MAX_NODES];
	size_t n;
};

static void nodes_free(struct nodes *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->path[i]);
	l->n = 0;
}

static int nodes_add(struct nodes *l, const char *a, const char *b,
		     const char *c)
{
	char p[PATH_MAX_LEN];
	int n = snprintf(p, sizeof(p), "%s%s%s%s%s", a, b ? "/" : "",
			 b ? b : "", c ? "/" : "", c ? c : "");

	if (l->n >= MAX_NODES || n < 0 || (size_t)n >= sizeof(p))
		return BW_ETOOBIG;
	if ((l->path[l->n] = strdup(p)) == NULL)
		return BW_ENOMEM;
	l->n++;
	return 0;
}

static int in_list(const char *s, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, v[i]) == 0)
			return 1;
	return 0;
}

struct region {
	size_t off, len; /* from the start of the blob */
};

/*
 * U-Boot's fdt_find_regions() with add_string_tab = 0: the regions of the
 * structure block to sign for the nodes in inc. want is 2 inside a listed
 * node, 1 in its direct subnodes (their tags only), 0 elsewhere.
 */
static int find_regions(const void *fdt, const struct nodes *inc,
			struct region *r, size_t max, size_t *count)
{
	char path[PATH_MAX_LEN], *end = path;
	int stack[MAX_DEPTH], depth = -1, want = 0, start = -1;
	int next = 0, base = (int)fdt_off_dt_struct(fdt);
	uint32_t tag;
	size_t n = 0;

	path[0] = '\0';
	do {
		int offset = next, stop_at, include = 0, len = 0;
		const char *name;

		tag = fdt_next_tag(fdt, offset, &next);
		stop_at = next;
		switch (tag) {
		case FDT_PROP: {
			const struct fdt_property *p =
			    fdt_get_property_by_offset(fdt, offset, NULL);

			if (p == NULL)
				return BW_EFORMAT;
			name = fdt_string(fdt, (int)fdt32_to_cpu(p->nameoff));
			include = want >= 2 && name != NULL &&
				  !in_list(name, exc_props, 4);
			stop_at = offset;
			break;
		}
		case FDT_NOP:
			include = want >= 2;
			stop_at = offset;
			break;
		case FDT_BEGIN_NODE:
			if (++depth >= MAX_DEPTH)
				return BW_EFORMAT;
			name = fdt_get_name(fdt, offset, &len);
			if (name == NULL ||
			    (size_t)(end - path) + 2 + (size_t)len >= sizeof(path))
				return BW_EFORMAT;
			if (end != path + 1)
				*end++ = '/';
			memcpy(end, name, (size_t)len + 1);
			end += len;
			stack[depth] = want;
			if (want == 1)
				stop_at = offset;
			if (in_list(path, (const char *const *)inc->path, inc->n))
				want = 2;
			else if (want)
				want--;
			else
				stop_at = offset;
			include = want;
			break;
		case FDT_END_NODE:
			if (depth < 0)
				return BW_EFORMAT;
			include = want;
			want = stack[depth--];
			while (end > path && *--end != '/')
				;
			*end = '\0';
			break;
		case FDT_END:
			include = 1;
			break;
		default:
			return BW_EFORMAT;
		}
		if (include && start == -1) {
			if (n > 0 && (size_t)(base + offset) == r[n - 1].off + r[n - 1].len)
				start = (int)(r[--n].off) - base;
			else
				start = offset;
		}
		if (!include && start != -1) {
			if (n >= max)
				return BW_ETOOBIG;
			r[n].off = (size_t)(base + start);
			r[n++].len = (size_t)(stop_at - start);
			start = -1;
		}
	} while (tag != FDT_END);
	if (next != (int)fdt_size_dt_struct(fdt) || n >= max || start < 0)
		return BW_EFORMAT;
	r[n].off = (size_t)(base + start);
	r[n++].len = (size_t)(next - start);
	*count = n;
	return 0;
}

/* The image's hash node must hold the SHA-256 of its data. */
static int check_image(const void *fit, int img, const char *name,
		       struct nodes *inc, struct bw_err *err)
{
	const void *data;
	int sub, dlen = 0, hashes = 0, rc;

	if ((rc = nodes_add(inc, "/images", name, NULL)) != 0)
		return bw_err_set(err, rc, "FIT: too many nodes");
	data = fdt_getprop(fit, img, "data", &dlen);
	fdt_for_each_subnode(sub, fit, img) {
		const char *sn = fdt_get_name(fit, sub, NULL);
		const char *algo = fdt_getprop(fit, sub, "algo", NULL);
		const uint8_t *value;
		uint8_t d[32];
		int vlen = 0;

		if (sn == NULL || strncmp(sn, "hash", 4) != 0)
			continue;
		value = fdt_getprop(fit, sub, "value", &vlen);
		if (algo == NULL || strcmp(algo, "sha256") != 0 || value == NULL ||
		    vlen != 32 || data == NULL ||
		    bw_hash_buf(BW_HASH_SHA256, data, (size_t)dlen, d) != 0 ||
		    CRYPTO_memcmp(d, value, 32) != 0)
			return bw_err_set(err, BW_EHASH, "FIT image %s: %s is not "
					  "the sha256 of its data", name, sn);
		if ((rc = nodes_add(inc, "/images", name, sn)) != 0)
			return bw_err_set(err, rc, "FIT: too many nodes");
		hashes++;
	}
	if (hashes == 0)
		return bw_err_set(err, BW_EFORMAT, "FIT image %s has no hash "
				  "node: give it hash-1 { algo = \"sha256\"; } "
				  "in the .its", name);
	return 0;
}

/* The nodes a configuration's signature covers, and its sign-images. */
static int config_nodes(const void *fit, int conf, struct nodes *inc,
			char *signs, int *signs_len, struct bw_err *err)
{
	const char *cname = fdt_get_name(fit, conf, NULL);
	int images = fdt_path_offset(fit, "/images"), rc;

	*signs_len = 0;
	if ((rc = nodes_add(inc, "/", NULL, NULL)) != 0 ||
	    (rc = nodes_add(inc, "/configurations", cname, NULL)) != 0)
		return bw_err_set(err, rc, "FIT: names too long");
	for (size_t i = 0; i < sizeof(image_props) / sizeof(image_props[0]); i++) {
		int count = fdt_stringlist_count(fit, conf, image_props[i]);

		if (count <= 0)
			continue;
		memcpy(signs + *signs_len, image_props[i],
		       strlen(image_props[i]) + 1);
		*signs_len += (int)strlen(image_props[i]) + 1;
		for (int k = 0; k < count; k++) {
			const char *iname = fdt_stringlist_get(fit, conf,
							       image_props[i],
							       k, NULL);
			int img = iname ? fdt_subnode_offset(fit, images, iname)
					: -1;

			if (img < 0)
				return bw_err_set(err, BW_EFORMAT, "FIT "
						  "configuration %s names a "
						  "missing image", cname);
			if ((rc = check_image(fit, img, iname, inc, err)) != 0)
				return rc;
		}
	}
	if (*signs_len == 0)
		return bw_err_set(err, BW_EFORMAT, "FIT configuration %s names "
				  "no image", cname);
	return 0;
}

static int stringlist(const struct nodes *l, char **out, int *len)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		n += strlen(l->path[i]) + 1;
	if ((*out = malloc(n)) == NULL)
		return BW_ENOMEM;
	n = 0;
	for (size_t i = 0; i < l->n; i++) {
		memcpy(*out + n, l->path[i], strlen(l->path[i]) + 1);
		n += strlen(l->path[i]) + 1;
	}
	*len = (int)n;
	return 0;
}

/* Add signature-1 to conf with every property it will have ("value"
 * zeroed), so the strings block and the layout no longer change. */
static int add_sig_node(void *fit, int conf, const char *algo,
			const char *key_name, int siglen, struct nodes *inc,
			struct bw_err *err)
{
	char signs[128], *hashed = NULL;
	uint8_t *zero = calloc(1, (size_t)siglen);
	int slen = 0, hlen = 0, sig, rc;

	rc = config_nodes(fit, conf, inc, signs, &slen, err);
	if (rc == 0 && fdt_subnode_offset(fit, conf, "signature-1") >= 0)
		rc = bw_err_set(err, BW_EEXIST, "FIT configuration %s is "
				"already signed", fdt_get_name(fit, conf, NULL));
	if (rc == 0 && (zero == NULL || stringlist(inc, &hashed, &hlen) != 0))
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	if (rc == 0) {
		sig = fdt_add_subnode(fit, conf, "signature-1");
		if (sig < 0 ||
		    fdt_setprop_string(fit, sig, "algo", algo) ||
		    fdt_setprop_string(fit, sig, "key-name-hint", key_name) ||
		    fdt_setprop(fit, sig, "sign-images", signs, slen) ||
		    fdt_setprop_string(fit, sig, "signer-name", "bulwark") ||
		    fdt_setprop_u32(fit, sig, "timestamp", (uint32_t)time(NULL)) ||
		    fdt_setprop(fit, sig, "hashed-nodes", hashed, hlen) ||
		    fdt_setprop_u64(fit, sig, "hashed-strings", 0) ||
		    fdt_setprop(fit, sig, "value", zero, siglen))
			rc = bw_err_set(err, BW_ETOOBIG, "FIT: cannot add the "
					"signature node");
	}
	free(hashed);
	free(zero);
	return rc;
}

static int sign_regions(void *fit, const struct region *r, size_t n,
			EVP_PKEY *key, uint8_t *sig, size_t siglen,
			struct bw_err *err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t len = siglen;
	int ok = md != NULL &&
		 EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1;

	for (size_t i = 0; ok && i < n; i++)
		ok = EVP_DigestSignUpdate(md, (uint8_t *)fit + r[i].off,
					  r[i].len) == 1;
	ok = ok && EVP_DigestSignFinal(md, sig, &len) == 1 && len == siglen;
	EVP_MD_CTX_free(md);
	return ok ? 0 : bw_err_set(err, BW_ECRYPTO, "RSA signing failed");
}

/* Sign configuration conf: its regions, then the value in place. */
static int sign_config(void *fit, int conf, const struct nodes *inc,
		       EVP_PKEY *key, int siglen, struct bw_err *err)
{
	struct region r[20 + MAX_NODES * 7];
	uint8_t sig[512];
	size_t n = 0;
	int s = fdt_subnode_offset(fit, conf, "signature-1");
	fdt32_t strings[2] = {0, cpu_to_fdt32(fdt_size_dt_strings(fit))};

	if (s < 0 || fdt_setprop_inplace(fit, s, "hashed-strings", strings,
					 sizeof(strings)) != 0)
		return bw_err_set(err, BW_EFORMAT, "FIT: signature node lost");
	if (find_regions(fit, inc, r, sizeof(r) / sizeof(r[0]) - 1, &n) != 0)
		return bw_err_set(err, BW_EFORMAT, "FIT: malformed structure");
	r[n].off = fdt_off_dt_strings(fit);
	r[n++].len = fdt_size_dt_strings(fit);
	if (sign_regions(fit, r, n, key, sig, (size_t)siglen, err) != 0)
		return BW_ECRYPTO;
	return fdt_setprop_inplace(fit, s, "value", sig, siglen) == 0
		   ? 0 : bw_err_set(err, BW_EFORMAT, "FIT: value lost");
}

static int rsa_bits(EVP_PKEY *key, struct bw_err *err)
{
	int bits = EVP_PKEY_get_bits(key);

	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA ||
	    (bits != 2048 && bits != 3072))
		return bw_err_set(err, BW_EUNSUPPORTED, "FIT keys are RSA-2048 "
				  "or RSA-3072 (what U-Boot verifies)");
	return bits;
}

static int load_tree(const uint8_t *in, size_t len, void **out,
		     struct bw_err *err)
{
	*out = NULL;
	if (len > FIT_MAX || len < sizeof(struct fdt_header) ||
	    fdt_check_header(in) != 0 || fdt_totalsize(in) != len)
		return bw_err_set(err, BW_EFORMAT, "not a flattened device tree "
				  "(FIT or DTB)");
	if ((*out = malloc(len + GROW)) == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	if (fdt_open_into(in, *out, (int)(len + GROW)) != 0) {
		free(*out);
		*out = NULL;
		return bw_err_set(err, BW_EFORMAT, "device tree does not open");
	}
	return 0;
}

static int finish_tree(void *fdt, uint8_t **out, size_t *outlen)
{
	fdt_pack(fdt);
	*outlen = fdt_totalsize(fdt);
	*out = fdt;
	return 0;
}

int bw_boot_fit_sign(const uint8_t *in, size_t len, EVP_PKEY *key,
		     const char *key_name, uint8_t **out, size_t *outlen,
		     struct bw_err *err)
{
	struct nodes inc[MAX_NODES] = {{{0}, 0}};
	char algo[32];
	void *fit = NULL;
	int bits = rsa_bits(key, err), confs, conf, n = 0, rc;

	*out = NULL;
	if (bits < 0)
		return bits;
	if ((rc = load_tree(in, len, &fit, err)) != 0)
		return rc;
	snprintf(algo, sizeof(algo), "sha256,rsa%d", bits);
	confs = fdt_path_offset(fit, "/configurations");
	if (confs < 0 || fdt_path_offset(fit, "/images") < 0)
		rc = bw_err_set(err, BW_EFORMAT, "not a FIT image (no "
				"/images or /configurations)");
	/* First every node and property, then the signatures: adding a
	 * node later would move what an earlier signature covers. */
	fdt_for_each_subnode(conf, fit, confs) {
		if (rc != 0)
			break;
		if (n >= MAX_NODES)
			rc = bw_err_set(err, BW_ETOOBIG, "FIT: too many "
					"configurations");
		else
			rc = add_sig_node(fit, conf, algo, key_name, bits / 8,
					  &inc[n++], err);
	}
	if (rc == 0 && n == 0)
		rc = bw_err_set(err, BW_EFORMAT, "FIT has no configuration");
	n = 0;
	fdt_for_each_subnode(conf, fit, confs) {
		if (rc != 0)
			break;
		rc = sign_config(fit, conf, &inc[n++], key, bits / 8, err);
	}
	for (int i = 0; i < MAX_NODES; i++)
		nodes_free(&inc[i]);
	if (rc != 0) {
		free(fit);
		return rc;
	}
	return finish_tree(fit, out, outlen);
}

/* A big number as U-Boot stores it: big-endian 32-bit cells. */
static int set_bignum(void *fdt, int node, const char *name, const BIGNUM *v,
		      int bits)
{
	uint8_t buf[512];

	if (BN_bn2binpad(v, buf, bits / 8) != bits / 8)
		return -1;
	return fdt_setprop(fdt, node, name, buf, bits / 8);
}

/* rsa,n0-inverse = -n^-1 mod 2^32; rsa,r-squared = (2^bits)^2 mod n:
 * the Montgomery constants U-Boot's verifier uses. */
static int key_constants(const BIGNUM *n, int bits, uint32_t *n0inv,
			 BIGNUM *rr)
{
	BN_CTX *ctx = BN_CTX_new();
	BIGNUM *b32 = BN_new(), *inv = BN_new(), *r = BN_new();
	int ok = ctx && b32 && inv && r && BN_set_bit(b32, 32) &&
		 BN_mod_inverse(inv, n, b32, ctx) != NULL &&
		 BN_sub(inv, b32, inv) && BN_set_bit(r, 2 * bits) &&
		 BN_mod(rr, r, n, ctx);

	if (ok)
		*n0inv = (uint32_t)BN_get_word(inv);
	BN_free(b32);
	BN_free(inv);
	BN_free(r);
	BN_CTX_free(ctx);
	return ok ? 0 : -1;
}

int bw_boot_fit_add_key(const uint8_t *dtb, size_t len, EVP_PKEY *pub,
			const char *key_name, uint8_t **out, size_t *outlen,
			struct bw_err *err)
{
	BIGNUM *n = NULL, *e = NULL, *rr = BN_new();
	char algo[32], node[64];
	uint32_t n0inv = 0;
	void *fdt = NULL;
	int bits = rsa_bits(pub, err), sig, key, rc;

	*out = NULL;
	if (bits < 0) {
		BN_free(rr);
		return bits;
	}
	rc = load_tree(dtb, len, &fdt, err);
	if (rc == 0 &&
	    (rr == NULL ||
	     !EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_N, &n) ||
	     !EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_E, &e) ||
	     BN_num_bits(e) > 64 || key_constants(n, bits, &n0inv, rr) != 0))
		rc = bw_err_set(err, BW_ECRYPTO, "RSA key parameters");
	snprintf(algo, sizeof(algo), "sha256,rsa%d", bits);
	snprintf(node, sizeof(node), "key-%s", key_name);
	if (rc == 0) {
		sig = fdt_subnode_offset(fdt, 0, "signature");
		if (sig < 0)
			sig = fdt_add_subnode(fdt, 0, "signature");
		if (sig >= 0 && fdt_subnode_offset(fdt, sig, node) >= 0)
			rc = bw_err_set(err, BW_EEXIST, "the device tree already "
					"has /signature/%s", node);
		else if (sig < 0 || (key = fdt_add_subnode(fdt, sig, node)) < 0 ||
			 fdt_setprop_string(fdt, key, "algo", algo) ||
			 fdt_setprop_string(fdt, key, "key-name-hint", key_name) ||
			 fdt_setprop_string(fdt, key, "required", "conf") ||
			 fdt_setprop_u32(fdt, key, "rsa,num-bits", (uint32_t)bits) ||
			 fdt_setprop_u32(fdt, key, "rsa,n0-inverse", n0inv) ||
			 fdt_setprop_u64(fdt, key, "rsa,exponent", BN_get_word(e)) ||
			 set_bignum(fdt, key, "rsa,modulus", n, bits) ||
			 set_bignum(fdt, key, "rsa,r-squared", rr, bits))
			rc = bw_err_set(err, BW_ETOOBIG, "cannot add the key node");
	}
	BN_free(n);
	BN_free(e);
	BN_free(rr);
	if (rc != 0) {
		free(fdt);
		return rc;
	}
	return finish_tree(fdt, out, outlen);
}

static int verify_config(const void *fit, int conf, EVP_PKEY *key,
			 struct bw_err *err)
{
	struct nodes want = {{0}, 0};
	struct region r[20 + MAX_NODES * 7];
	const char *cname = fdt_get_name(fit, conf, NULL), *algo;
	const fdt32_t *strings;
	const uint8_t *value;
	char signs[128], expect[32], *hashed = NULL;
	const char *got;
	EVP_MD_CTX *md = NULL;
	size_t n = 0;
	int slen = 0, hlen = 0, glen = 0, vlen = 0, sig, rc;

	rc = config_nodes(fit, conf, &want, signs, &slen, err);
	sig = fdt_subnode_offset(fit, conf, "signature-1");
	snprintf(expect, sizeof(expect), "sha256,rsa%d", EVP_PKEY_get_bits(key));
	if (rc == 0 && sig < 0)
		rc = bw_err_set(err, BW_ESIG, "FIT configuration %s is not "
				"signed", cname);
	if (rc != 0)
		goto out;
	algo = fdt_getprop(fit, sig, "algo", NULL);
	got = fdt_getprop(fit, sig, "hashed-nodes", &glen);
	strings = fdt_getprop(fit, sig, "hashed-strings", NULL);
	value = fdt_getprop(fit, sig, "value", &vlen);
	/* The signed node list is ours to decide, not the image's. */
	if (stringlist(&want, &hashed, &hlen) != 0 || algo == NULL ||
	    strcmp(algo, expect) != 0 || got == NULL || glen != hlen ||
	    memcmp(got, hashed, (size_t)hlen) != 0 || strings == NULL ||
	    value == NULL || vlen != EVP_PKEY_get_size(key) ||
	    fdt32_to_cpu(strings[1]) > fdt_size_dt_strings(fit)) {
		rc = bw_err_set(err, BW_ESIG, "FIT configuration %s: signature "
				"node does not cover what it must", cname);
		goto out;
	}
	if (find_regions(fit, &want, r, sizeof(r) / sizeof(r[0]) - 1, &n) != 0) {
		rc = bw_err_set(err, BW_EFORMAT, "FIT: malformed structure");
		goto out;
	}
	r[n].off = fdt_off_dt_strings(fit);
	r[n++].len = fdt32_to_cpu(strings[1]);
	md = EVP_MD_CTX_new();
	rc = md != NULL &&
	     EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1;
	for (size_t i = 0; rc && i < n; i++)
		rc = EVP_DigestVerifyUpdate(md, (const uint8_t *)fit + r[i].off,
					    r[i].len) == 1;
	rc = rc && EVP_DigestVerifyFinal(md, value, (size_t)vlen) == 1
		 ? 0 : bw_err_set(err, BW_ESIG, "FIT configuration %s: "
				  "signature does not verify with the key",
				  cname);
out:
	EVP_MD_CTX_free(md);
	free(hashed);
	nodes_free(&want);
	return rc;
}

int bw_boot_fit_verify(const uint8_t *in, size_t len, EVP_PKEY *key,
		       struct bw_err *err)
{
	int confs, conf, n = 0, rc;

	if (rsa_bits(key, err) < 0)
		return BW_EUNSUPPORTED;
	if (len > FIT_MAX || len < sizeof(struct fdt_header) ||
	    fdt_check_header(in) != 0 || fdt_totalsize(in) != len ||
	    fdt_check_full(in, len) != 0)
		return bw_err_set(err, BW_EFORMAT, "not a FIT image");
	confs = fdt_path_offset(in, "/configurations");
	if (confs < 0 || fdt_path_offset(in, "/images") < 0)
		return bw_err_set(err, BW_EFORMAT, "not a FIT image (no /images "
				  "or /configurations)");
	fdt_for_each_subnode(conf, in, confs) {
		if ((rc = verify_config(in, conf, key, err)) != 0)
			return rc;
		n++;
	}
	return n > 0 ? 0 : bw_err_set(err, BW_EFORMAT, "FIT has no "
				      "configuration");
}
