/*
 * Unit tests of the device identity rules (include/bulwark/identity.h):
 * UUID syntax and canonical form, device subject layout and reader.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/objects.h>
#include <openssl/x509.h>

#include "bulwark/identity.h"

#define LOWER "0b4f3e2a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
#define UPPER "0B4F3E2A-1C2D-4E5F-8A9B-0C1D2E3F4A5B"

static void test_identity_uuid__normalize(void **state)
{
	static const char *const bad[] = {
	    "",
	    "0b4f3e2a1c2d4e5f8a9b0c1d2e3f4a5b",
	    "0b4f3e2a-1c2d-4e5f-8a9b-0c1d2e3f4a5",
	    "0b4f3e2a-1c2d-4e5f-8a9b-0c1d2e3f4a5bb",
	    "0b4f3e2a-1c2d-4e5f-8a9b_0c1d2e3f4a5b",
	    "0b4f3e2a-1c2d-4e5f-8a9b-0c1d2e3f4a5g",
	    " b4f3e2a-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
	    "0b4f3e2a--c2d-4e5f-8a9b-0c1d2e3f4a5b",
	    "{b4f3e2a-1c2d-4e5f-8a9b-0c1d2e3f4a5}",
	};
	char out[BW_UUID_BUF];
	struct bw_err err = {0};

	(void)state;
	assert_int_equal(
	    bw_identity_uuid_normalize(UPPER, strlen(UPPER), out, &err), 0);
	assert_string_equal(out, LOWER);
	assert_int_equal(
	    bw_identity_uuid_normalize(LOWER, strlen(LOWER), out, &err), 0);
	assert_string_equal(out, LOWER);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(bw_identity_uuid_normalize(
				     bad[i], strlen(bad[i]), out, &err),
				 BW_EFORMAT);
		assert_string_equal(out, "");
	}
	/* the length given is the whole input: a NUL inside is refused */
	assert_int_equal(
	    bw_identity_uuid_normalize("0b4f3e2a-1c2d-4e5f-8a9b-0c1d2e3f4a5\0",
				       36, out, &err),
	    BW_EFORMAT);
	assert_true(bw_identity_uuid_is_canonical(LOWER));
	assert_false(bw_identity_uuid_is_canonical(UPPER));
	assert_false(bw_identity_uuid_is_canonical(LOWER "0"));
	assert_false(bw_identity_uuid_is_canonical(NULL));
}

static X509_NAME *name_of(const char *const *kv, size_t n)
{
	X509_NAME *nm = X509_NAME_new();

	assert_non_null(nm);
	for (size_t i = 0; i + 1 < n; i += 2)
		assert_int_equal(
		    X509_NAME_add_entry_by_txt(nm, kv[i], MBSTRING_UTF8,
					       (const unsigned char *)kv[i + 1],
					       -1, -1, 0),
		    1);
	return nm;
}

static void test_identity_subject__build_and_read(void **state)
{
	struct bw_identity_subject s;
	struct bw_err err = {0};
	X509_NAME *nm = NULL;

	(void)state;
	/* built from any case, the CN is canonical */
	assert_int_equal(bw_identity_subject_build(UPPER, "acme", 1, &nm, &err),
			 0);
	assert_int_equal(X509_NAME_entry_count(nm), 3);
	assert_int_equal(bw_identity_subject_read(nm, &s, &err), 0);
	assert_string_equal(s.uuid, LOWER);
	assert_string_equal(s.factory, "acme");
	assert_int_equal(s.production, 1);
	X509_NAME_free(nm);
	assert_int_equal(bw_identity_subject_build(LOWER, "acme", 0, &nm, &err),
			 0);
	assert_int_equal(bw_identity_subject_read(nm, &s, &err), 0);
	assert_int_equal(s.production, 0);
	X509_NAME_free(nm);
	assert_int_equal(
	    bw_identity_subject_build("nope", "acme", 0, &nm, &err),
	    BW_EFORMAT);
	assert_null(nm);
}

static void test_identity_subject__reader_refusals(void **state)
{
	static const char *const upper_cn[] = {"CN", UPPER, "OU", "acme"};
	static const char *const no_ou[] = {"CN", LOWER};
	static const char *const two_cn[] = {"CN", LOWER, "CN", LOWER};
	static const char *const two_ou[] = {"CN", LOWER, "OU", "a", "OU", "b"};
	static const char *const bad_bc[] = {"CN", LOWER, "businessCategory",
					     "ci"};
	static const char *const two_bc[] = {"CN",
					     LOWER,
					     "businessCategory",
					     "production",
					     "businessCategory",
					     "production"};
	static const char *const extra[] = {"CN", LOWER, "O", "evil"};
	static const char *const not_uuid[] = {"CN", "gateway", "OU", "acme"};
	static const char *const no_cn[] = {"OU", "acme"};
	struct {
		const char *const *kv;
		size_t n;
		int rc;
	} cases[] = {
	    {upper_cn, 4, 0},	     {no_ou, 2, 0},
	    {two_cn, 4, BW_EFORMAT}, {two_ou, 6, BW_EFORMAT},
	    {bad_bc, 4, BW_EFORMAT}, {two_bc, 6, BW_EFORMAT},
	    {extra, 4, BW_EFORMAT},  {not_uuid, 4, BW_EFORMAT},
	    {no_cn, 2, BW_EFORMAT},
	};
	struct bw_identity_subject s;
	struct bw_err err = {0};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		X509_NAME *nm = name_of(cases[i].kv, cases[i].n);

		assert_int_equal(bw_identity_subject_read(nm, &s, &err),
				 cases[i].rc);
		if (cases[i].rc == 0)
			assert_string_equal(s.uuid, LOWER);
		else
			assert_string_equal(s.uuid, "");
		X509_NAME_free(nm);
	}
	assert_int_equal(bw_identity_subject_read(NULL, &s, &err), BW_EFORMAT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_identity_uuid__normalize),
	    cmocka_unit_test(test_identity_subject__build_and_read),
	    cmocka_unit_test(test_identity_subject__reader_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
