/* bulwarkd logging (log.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static int g_level = BW_SRV_LOG_INFO;

void bw_srv_log_set_level(int level)
{
	g_level = level;
}

void bw_srv_log(int prio, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n = 0;

	if (prio > g_level)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* one write per line so concurrent writers do not interleave */
	fprintf(stderr, "<%d>bulwarkd: %s\n", prio, line);
}

const char *bw_srv_log_clean(const void *in, size_t len, char *out,
			     size_t outlen)
{
	const unsigned char *p = in;
	size_t i = 0, n = 0;

	if (outlen == 0)
		return out;
	n = len < outlen - 1 ? len : outlen - 1;
	for (i = 0; i < n; i++)
		out[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
	out[n] = '\0';
	if (len > n && n >= 3)
		memcpy(out + n - 3, "...", 3);
	return out;
}
