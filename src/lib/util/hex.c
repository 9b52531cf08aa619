/*
 * Hex encoding (include/bulwark/buf.h).
 */
#include <stdlib.h>

#include "bulwark/buf.h"

void bw_hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

/* Nibble value + 1 of each hex digit; 0 marks a byte that is not one. */
static const uint8_t hex_values[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5,
	['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
	['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
	['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

int bw_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t outlen)
{
	const uint8_t *h = (const uint8_t *)hex;
	int bad = 0;

	if (hexlen % 2 != 0 || hexlen / 2 != outlen)
		return BW_EFORMAT;
	for (size_t i = 0; i < outlen; i++) {
		uint8_t hi = hex_values[h[2 * i]], lo = hex_values[h[2 * i + 1]];

		bad |= (hi == 0) | (lo == 0);
		/* Computed for invalid digits too (no branch), so keep it unsigned. */
		out[i] = (uint8_t)((((unsigned)hi - 1u) << 4) | (((unsigned)lo - 1u) & 0x0fu));
	}
	return bad ? BW_EFORMAT : 0;
}

int bw_hex_decode_alloc(const char *hex, size_t hexlen, uint8_t **out,
			size_t *outlen)
{
	uint8_t *b;
	int rc;

	*out = NULL;
	if (hexlen % 2 != 0)
		return BW_EFORMAT;
	b = malloc(hexlen / 2 + 1);
	if (b == NULL)
		return BW_ENOMEM;
	rc = bw_hex_decode(hex, hexlen, b, hexlen / 2);
	if (rc != 0) {
		free(b);
		return rc;
	}
	*out = b;
	*outlen = hexlen / 2;
	return 0;
}
