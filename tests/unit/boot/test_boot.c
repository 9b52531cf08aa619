/*
 * Unit tests for the boot module (src/lib/boot/): Authenticode sign and
 * verify round trip on a small PE32+ image, every bit of the signed image
 * flipped (outside the checksum, which Authenticode leaves out) and
 * truncations refused; FIT sign and verify round trip, another key, the
 * unsigned image, flipped bits in covered bytes and a forged hashed-nodes
 * list refused; the UEFI variable update's layout. Fixtures are the fuzz
 * corpora (fuzz/corpus/boot_pe, boot_fit) under $BW_SOURCE_DIR.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bulwark/boot.h"
#include "bulwark/buf.h"

struct fx {
	EVP_PKEY *key, *other;
	X509 *cert, *other_cert;
};

static struct fx fx;

static int setup(void **state)
{
	(void)state;
	if (bw_boot_rsa_generate(2048, &fx.key, NULL) != 0 ||
	    bw_boot_rsa_generate(2048, &fx.other, NULL) != 0 ||
	    bw_boot_cert_selfsign(fx.key, "test db", 30, &fx.cert, NULL) != 0 ||
	    bw_boot_cert_selfsign(fx.other, "other db", 30, &fx.other_cert,
				  NULL) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(fx.key);
	EVP_PKEY_free(fx.other);
	X509_free(fx.cert);
	X509_free(fx.other_cert);
	return 0;
}

static void load(const char *rel, struct bw_buf *b)
{
	const char *src = getenv("BW_SOURCE_DIR");
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", src ? src : ".", rel);
	bw_buf_init(b, 1u << 20);
	assert_int_equal(bw_io_read_file(path, 1u << 20, b, NULL), 0);
}

static void test_boot_pe__sign_verify_flip(void **state)
{
	struct bw_buf pe;
	uint8_t *s = NULL, *again = NULL;
	size_t len = 0, alen = 0;
	struct bw_err err = {0};
	X509 *db[2] = {fx.other_cert, fx.cert};

	(void)state;
	load("fuzz/corpus/boot_pe/minimal-pe32plus", &pe);
	assert_int_equal(bw_boot_pe_verify(pe.data, pe.len, db, 2, &err),
			 BW_ESIG);
	assert_int_equal(bw_boot_pe_sign(pe.data, pe.len, fx.key, fx.cert, &s,
					 &len, &err), 0);
	assert_int_equal(len % 8, 0);
	assert_int_equal(bw_boot_pe_verify(s, len, db, 2, &err), 0);
	assert_int_equal(bw_boot_pe_verify(s, len, db, 1, &err), BW_ESIG);
	assert_int_equal(bw_boot_pe_sign(s, len, fx.key, fx.cert, &again,
					 &alen, &err), BW_EEXIST);
	/* Every bit of the image part except CheckSum (0x40 + 24 + 64). */
	for (size_t i = 0; i < (pe.len + 7) / 8 * 8; i++) {
		if (i >= 0x98 && i < 0x9c)
			continue;
		for (int bit = 0; bit < 8; bit++) {
			s[i] ^= (uint8_t)(1u << bit);
			assert_int_not_equal(bw_boot_pe_verify(s, len, db, 2,
							       NULL), 0);
			s[i] ^= (uint8_t)(1u << bit);
		}
	}
	/* The signature value: the last bytes of the PKCS#7. */
	for (size_t i = len - 80; i < len - 16; i++) {
		s[i] ^= 0x10;
		assert_int_not_equal(bw_boot_pe_verify(s, len, db, 2, NULL), 0);
		s[i] ^= 0x10;
	}
	for (size_t n = 0; n < len; n += 97)
		assert_int_not_equal(bw_boot_pe_verify(s, n, db, 2, NULL), 0);
	assert_int_equal(bw_boot_pe_verify(s, len, db, 2, NULL), 0);
	free(s);
	bw_buf_dispose(&pe);
}

static void test_boot_fit__sign_verify_refusals(void **state)
{
	struct bw_buf fit;
	uint8_t *s = NULL, *o = NULL;
	size_t len = 0, olen = 0;
	struct bw_err err = {0};
	const char *desc = "test kernel";
	uint8_t *hn;

	(void)state;
	load("fuzz/corpus/boot_fit/unsigned.fit", &fit);
	assert_int_equal(bw_boot_fit_verify(fit.data, fit.len, fx.key, &err),
			 BW_ESIG);
	assert_int_equal(bw_boot_fit_sign(fit.data, fit.len, fx.key, "t", &s,
					  &len, &err), 0);
	assert_int_equal(bw_boot_fit_verify(s, len, fx.key, &err), 0);
	assert_int_equal(bw_boot_fit_verify(s, len, fx.other, &err), BW_ESIG);
	assert_int_equal(bw_boot_fit_sign(fit.data, fit.len, fx.other, "o", &o,
					  &olen, &err), 0);
	assert_int_equal(bw_boot_fit_verify(o, olen, fx.key, &err), BW_ESIG);
	/* A signed property (an image description) and the image data. */
	for (size_t i = 0; i + strlen(desc) < len; i++) {
		if (memcmp(s + i, desc, strlen(desc)) != 0)
			continue;
		s[i] ^= 1;
		assert_int_not_equal(bw_boot_fit_verify(s, len, fx.key, NULL), 0);
		s[i] ^= 1;
	}
	s[0x200] ^= 1; /* inside the kernel data */
	assert_int_not_equal(bw_boot_fit_verify(s, len, fx.key, NULL), 0);
	s[0x200] ^= 1;
	/* hashed-nodes that leave an image out: refused even if signed. */
	hn = memmem(s, len, "/images/fdt-1/hash-1", 20);
	assert_non_null(hn);
	hn[9] = 'x';
	assert_int_equal(bw_boot_fit_verify(s, len, fx.key, &err), BW_ESIG);
	hn[9] = 'd';
	assert_int_equal(bw_boot_fit_verify(s, len, fx.key, NULL), 0);
	free(s);
	free(o);
	bw_buf_dispose(&fit);
}

static void test_boot_uefi__auth_layout(void **state)
{
	uint8_t *a = NULL, h[1][32] = {{0}};
	size_t len = 0;
	struct bw_err err = {0};
	X509 *certs[1] = {fx.cert};

	(void)state;
	assert_int_equal(bw_boot_uefi_auth("db", certs, 1, NULL, 0, 1700000000,
					   fx.key, fx.cert, &a, &len, &err), 0);
	/* EFI_TIME 2023-11-14 22:13:20, then WIN_CERTIFICATE_UEFI_GUID. */
	assert_int_equal(a[0] | a[1] << 8, 2023);
	assert_int_equal(a[2], 11);
	assert_int_equal(a[3], 14);
	assert_int_equal(a[20] | a[21] << 8, 0x0200);
	assert_int_equal(a[22] | a[23] << 8, 0x0EF1);
	free(a);
	assert_int_equal(bw_boot_uefi_auth("dbx", NULL, 0, (const uint8_t(*)[32])h,
					   1, 1700000000, fx.key, fx.cert, &a,
					   &len, &err), 0);
	free(a);
	assert_int_equal(bw_boot_uefi_auth("Boot0000", certs, 1, NULL, 0, 0,
					   fx.key, fx.cert, &a, &len, &err),
			 BW_EINVAL);
	assert_int_equal(bw_boot_uefi_auth("db", NULL, 0, NULL, 0, 0, fx.key,
					   fx.cert, &a, &len, &err), BW_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boot_pe__sign_verify_flip),
		cmocka_unit_test(test_boot_fit__sign_verify_refusals),
		cmocka_unit_test(test_boot_uefi__auth_layout),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
