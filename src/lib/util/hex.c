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

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int bw_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t outlen)
{
	if (hexlen % 2 != 0 || hexlen / 2 != outlen)
		return BW_EFORMAT;
	for (size_t i = 0; i < outlen; i++) {
		int hi = hex_nibble(hex[2 * i]);
		int lo = hex_nibble(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return BW_EFORMAT;
		out[i] = (uint8_t)((hi << 4) | lo);
	}
	return 0;
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
