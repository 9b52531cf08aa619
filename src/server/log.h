/*
 * bulwarkd logging: one line per message on stderr, prefixed with the
 * syslog priority in the form journald understands ("<6>bulwarkd: ...").
 * Untrusted text goes through bw_srv_log_clean first: bounded and
 * printable, so a device can not forge log lines.
 */
#ifndef BW_SRV_LOG_H
#define BW_SRV_LOG_H

#include <stddef.h>

enum {
	BW_SRV_LOG_ERR = 3,
	BW_SRV_LOG_WARN = 4,
	BW_SRV_LOG_NOTICE = 5,
	BW_SRV_LOG_INFO = 6,
	BW_SRV_LOG_DEBUG = 7,
};

/* Messages above this priority number are dropped (default INFO). */
void bw_srv_log_set_level(int level);

void bw_srv_log(int prio, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Copy at most outlen-1 bytes of in[0..len) into out, replacing anything
 * outside printable ASCII by '?', and mark truncation with "...". Returns
 * out.
 */
const char *bw_srv_log_clean(const void *in, size_t len, char *out,
			     size_t outlen);

#endif
