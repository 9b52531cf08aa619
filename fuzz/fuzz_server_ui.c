/*
 * Fuzz target: what the fleet page reads from a browser before any
 * session check: the Cookie header, the form action path, and the HTML
 * and URL escaping every untrusted value goes through.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "ui.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), out[65], kind[16], name[65];
	const char *action = NULL;
	struct evbuffer *b = evbuffer_new();

	if (!s || !b)
		goto out;
	memcpy(s, data, size);
	s[size] = '\0';
	if (bw_ui_cookie_value(s, "bw_session", out) && strlen(out) != 64)
		abort();
	if (!bw_ui_action_path(s, kind, sizeof(kind), name, sizeof(name),
			       &action) &&
	    (strlen(kind) >= sizeof(kind) || !*name || !*action))
		abort();
	bw_ui_esc(b, s);
	bw_ui_urlenc(b, s);
	/* escaped text never holds a character that ends an attribute or
	 * starts a tag */
	{
		size_t n = evbuffer_get_length(b);
		const char *e = (const char *)evbuffer_pullup(b, -1);

		for (size_t i = 0; e && i < n; i++)
			if (e[i] == '<' || e[i] == '>' || e[i] == '"' ||
			    e[i] == '\'')
				abort();
	}
out:
	if (b)
		evbuffer_free(b);
	free(s);
	return 0;
}
