/* HTML writing helpers of the fleet page (ui.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "ui.h"

void bw_ui_esc(struct evbuffer *b, const char *s)
{
	const char *run = s;

	if (!s)
		return;
	for (; *s; s++) {
		const char *rep = NULL;
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		default:
			if (c < 0x20 && c != '\t' && c != '\n')
				rep = "";
		}
		if (!rep)
			continue;
		evbuffer_add(b, run, (size_t)(s - run));
		evbuffer_add(b, rep, strlen(rep));
		run = s + 1;
	}
	evbuffer_add(b, run, (size_t)(s - run));
}

void bw_ui_urlenc(struct evbuffer *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c)) {
			evbuffer_add(b, s, 1);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};

			evbuffer_add(b, e, 3);
		}
	}
}

void bw_ui_time(struct evbuffer *b, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char s[32];

	if (t <= 0 || !gmtime_r(&tt, &tm) ||
	    !strftime(s, sizeof(s), "%Y-%m-%d %H:%M UTC", &tm)) {
		evbuffer_add_printf(b, "never");
		return;
	}
	evbuffer_add_printf(b, "<time datetime=\"%" PRId64 "\">%s</time>", t,
			    s);
}

void bw_ui_until(struct evbuffer *b, int64_t t, int64_t now)
{
	int64_t d = t - now, a = d < 0 ? -d : d;
	const char *unit = "s";

	if (t <= 0) {
		evbuffer_add_printf(b, "&mdash;");
		return;
	}
	if (a >= 86400)
		a /= 86400, unit = "d";
	else if (a >= 3600)
		a /= 3600, unit = "h";
	else if (a >= 60)
		a /= 60, unit = "min";
	evbuffer_add_printf(b, d < 0 ? "%" PRId64 " %s ago" : "in %" PRId64 " %s",
			    a, unit);
}

const char *bw_ui_expiry_class(int64_t t, int64_t now, int64_t warn)
{
	if (t <= 0)
		return "none";
	if (t - now < warn / 4)
		return "bad";
	if (t - now < warn)
		return "warn";
	return "ok";
}
