/*
 * The fleet page's views (ui_priv.h). Each reads through the admin API's
 * own functions (admin.h), so that the page shows exactly what the CLI
 * and the JSON API show; every value written into the page is escaped.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "bulwark/buf.h"
#include "bulwark/json.h"
#include "bulwark/tlog.h"
#include "log.h"
#include "server.h"
#include "ui_priv.h"
#include "waves.h"

#define PAGE_ROWS "50"

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static int64_t jint(json_t *o, const char *k)
{
	return (int64_t)json_integer_value(json_object_get(o, k));
}

static struct evbuffer *page(struct bw_ui_ctx *c, const char *title,
			     const char *nav)
{
	struct evbuffer *b = evbuffer_new();

	if (b)
		bw_ui_page_begin(c, b, title, nav);
	else
		evhttp_send_error(c->req, 500, NULL);
	return b;
}

static void finish(struct bw_ui_ctx *c, struct evbuffer *b)
{
	bw_ui_page_end(b);
	bw_ui_send(c->req, 200, b);
}

static void notice(struct evbuffer *b, const char *cls, const char *msg)
{
	evbuffer_add_printf(b, "<p class=\"notice %s\" role=\"status\">", cls);
	bw_ui_esc(b, msg);
	evbuffer_add_printf(b, "</p>");
}

/* What the fleet view calls a device's state. */
static const char *device_state(struct bw_ui_ctx *c, json_t *d)
{
	const char *st = jstr(d, "status");

	if (json_is_true(json_object_get(d, "denied")))
		return "denied";
	if (json_is_true(json_object_get(d, "rotation-pending")))
		return "rotation pending";
	if (jint(d, "last-seen") < c->now - c->srv->cfg->silent_after)
		return "silent";
	if (!strcmp(st, "ok"))
		return "up to date";
	if (*st)
		return st;
	return "registered";
}

static void state_badge(struct evbuffer *b, const char *state)
{
	const char *cls = !strcmp(state, "up to date") ? "ok"
			  : !strcmp(state, "updating") ||
				  !strcmp(state, "registered") ||
				  !strcmp(state, "rotation pending")
			      ? "info"
			      : "bad";

	evbuffer_add_printf(b, "<span class=\"badge %s\">%s</span>", cls,
			    state);
}

/* ---- fleet ----------------------------------------------------------------- */

static void option(struct evbuffer *b, const char *value, const char *label,
		   const char *cur)
{
	evbuffer_add_printf(b, "<option value=\"%s\"%s>%s</option>", value,
			    cur && !strcmp(cur, value) ? " selected" : "",
			    label);
}

static void fleet_filters(struct bw_ui_ctx *c, struct evbuffer *b)
{
	const char *st = evhttp_find_header(c->q, "status");
	const char *fl = evhttp_find_header(c->q, "flavour");

	evbuffer_add_printf(b, "<form class=\"filters\" method=\"get\" "
			       "action=\"/ui/fleet\" role=\"search\">"
			       "<div><label for=\"q\">Search</label><input "
			       "id=\"q\" name=\"q\" type=\"search\" "
			       "placeholder=\"uuid or name prefix\" value=\"");
	bw_ui_esc(b, evhttp_find_header(c->q, "q"));
	evbuffer_add_printf(b, "\"></div><div><label for=\"tag\">Tag</label>"
			       "<input id=\"tag\" name=\"tag\" value=\"");
	bw_ui_esc(b, evhttp_find_header(c->q, "tag"));
	evbuffer_add_printf(b, "\"></div><div><label for=\"flavour\">Flavour"
			       "</label><select id=\"flavour\" "
			       "name=\"flavour\">");
	option(b, "", "any", fl);
	option(b, "ci", "CI", fl);
	option(b, "production", "production", fl);
	evbuffer_add_printf(b, "</select></div><div><label for=\"status\">"
			       "Status</label><select id=\"status\" "
			       "name=\"status\">");
	option(b, "", "any", st);
	option(b, "ok", "up to date", st);
	option(b, "updating", "updating", st);
	option(b, "failed", "failed", st);
	option(b, "silent", "silent", st);
	option(b, "denied", "denied", st);
	evbuffer_add_printf(b, "</select></div><button "
			       "type=\"submit\">Filter</button></form>\n");
}

/* The fleet URL with the current filters and after=. */
static void fleet_link(struct bw_ui_ctx *c, struct evbuffer *b,
		       const char *after)
{
	static const char *const keep[] = {"q", "tag", "flavour", "status"};

	evbuffer_add_printf(b, "/ui/fleet?");
	for (size_t i = 0; i < 4; i++) {
		const char *v = evhttp_find_header(c->q, keep[i]);

		if (!v || !*v)
			continue;
		evbuffer_add_printf(b, "%s=", keep[i]);
		bw_ui_urlenc(b, v);
		evbuffer_add_printf(b, "&amp;");
	}
	evbuffer_add_printf(b, "after=");
	bw_ui_urlenc(b, after);
}

void bw_ui_view_fleet(struct bw_ui_ctx *c)
{
	uint64_t limit = 0;
	struct bw_err err = {0};
	struct evbuffer *b = NULL;
	json_t *arr = NULL, *d = NULL;
	size_t i = 0;
	int rc = 0;

	if (!evhttp_find_header(c->q, "limit"))
		evhttp_add_header(c->q, "limit", PAGE_ROWS);
	rc = bw_srv_admin_devices_query(c->srv, c->q, &arr, &err);
	if (!(b = page(c, "Fleet", "fleet")))
		goto out;
	fleet_filters(c, b);
	if (rc) {
		notice(b, "bad", rc == BW_EFORMAT ? err.msg : "Query failed.");
		finish(c, b);
		goto out;
	}
	evbuffer_add_printf(
	    b, "<div class=\"scroll\"><table class=\"sortable\" "
	       "id=\"fleet\"><caption>Devices, ordered by uuid</caption>"
	       "<thead><tr><th scope=\"col\">Name</th><th scope=\"col\">UUID"
	       "</th><th scope=\"col\">Flavour</th><th scope=\"col\">Tag</th>"
	       "<th scope=\"col\">Hardware ID</th><th scope=\"col\">Target"
	       "</th><th scope=\"col\">Last seen</th><th "
	       "scope=\"col\">Status</th></tr></thead><tbody>");
	json_array_foreach(arr, i, d)
	{
		evbuffer_add_printf(b, "<tr><td>");
		bw_ui_esc(b, jstr(d, "name"));
		evbuffer_add_printf(b, "</td><td class=\"mono\"><a "
				       "href=\"/ui/devices/");
		bw_ui_urlenc(b, jstr(d, "uuid"));
		evbuffer_add_printf(b, "\">");
		bw_ui_esc(b, jstr(d, "uuid"));
		evbuffer_add_printf(b, "</a></td><td>%s</td><td>",
				    json_is_true(json_object_get(d,
								 "production"))
					? "production"
					: "CI");
		bw_ui_esc(b, jstr(d, "tag"));
		evbuffer_add_printf(b, "</td><td>");
		bw_ui_esc(b, jstr(d, "hardware-id"));
		evbuffer_add_printf(b, "</td><td>");
		bw_ui_esc(b, jstr(d, "target"));
		evbuffer_add_printf(b, "</td><td data-sort=\"%" PRId64 "\">",
				    jint(d, "last-seen"));
		bw_ui_time(b, jint(d, "last-seen"));
		evbuffer_add_printf(b, "</td><td>");
		state_badge(b, device_state(c, d));
		evbuffer_add_printf(b, "</td></tr>\n");
	}
	evbuffer_add_printf(b, "</tbody></table></div>");
	if (json_array_size(arr) == 0)
		notice(b, "info", "No device matches.");
	evbuffer_add_printf(b, "<nav class=\"pager\" aria-label=\"Pages\">");
	if (evhttp_find_header(c->q, "after")) {
		evbuffer_add_printf(b, "<a href=\"");
		fleet_link(c, b, "");
		evbuffer_add_printf(b, "\">First page</a>");
	}
	if (bw_num_parse(evhttp_find_header(c->q, "limit"), SIZE_MAX,
			 &limit) != 0)
		limit = 0;
	if (json_array_size(arr) > 0 && json_array_size(arr) >= limit) {
		evbuffer_add_printf(b, "<a rel=\"next\" href=\"");
		fleet_link(c, b,
			   jstr(json_array_get(arr, json_array_size(arr) - 1),
				"uuid"));
		evbuffer_add_printf(b, "\">Next page</a>");
	}
	evbuffer_add_printf(b, "</nav>");
	finish(c, b);
out:
	json_decref(arr);
}

/* ---- one device --------------------------------------------------------------- */

static void dl_row(struct evbuffer *b, const char *k, const char *v)
{
	evbuffer_add_printf(b, "<dt>%s</dt><dd>", k);
	bw_ui_esc(b, *v ? v : "\xe2\x80\x94");
	evbuffer_add_printf(b, "</dd>");
}

static void device_actions(struct bw_ui_ctx *c, struct evbuffer *b,
			   json_t *d)
{
	const char *uuid = jstr(d, "uuid");
	char api[128];
	int denied = json_is_true(json_object_get(d, "denied"));

	snprintf(api, sizeof(api), "/devices/%s/deny", uuid);
	evbuffer_add_printf(b, "<section aria-labelledby=\"act\"><h2 "
			       "id=\"act\">Actions</h2>");
	if (!bw_srv_admin_allows(c->role,
				 denied ? EVHTTP_REQ_DELETE : EVHTTP_REQ_POST,
				 api)) {
		evbuffer_add_printf(b,
				    "<p>Your role (%s) can read but not act "
				    "on devices.</p></section>",
				    bw_srv_access_name(c->role));
		return;
	}
	evbuffer_add_printf(b, "<form class=\"inline\" method=\"post\" "
			       "action=\"/ui/devices/");
	bw_ui_urlenc(b, uuid);
	evbuffer_add_printf(b, "/%s\">", denied ? "allow" : "deny");
	bw_ui_csrf_field(c, b);
	if (denied)
		evbuffer_add_printf(b, "<button type=\"submit\">Allow this "
				       "device again</button></form>");
	else
		evbuffer_add_printf(
		    b, "<label for=\"reason\">Reason</label><input "
		       "id=\"reason\" name=\"reason\" maxlength=\"256\">"
		       "<button type=\"submit\" class=\"danger\">Deny this "
		       "device</button></form>");
	evbuffer_add_printf(b, "<form class=\"inline\" method=\"post\" "
			       "action=\"/ui/devices/");
	bw_ui_urlenc(b, uuid);
	evbuffer_add_printf(b, "/rotate-cert\">");
	bw_ui_csrf_field(c, b);
	evbuffer_add_printf(b, "<button type=\"submit\">Ask it to rotate its "
			       "certificate</button></form></section>");
}

static void device_events(struct evbuffer *b, json_t *evs, int installs)
{
	json_t *e = NULL;
	size_t i = 0, n = 0;

	evbuffer_add_printf(
	    b, "<div class=\"scroll\"><table><thead><tr><th "
	       "scope=\"col\">Received</th><th scope=\"col\">Event</th><th "
	       "scope=\"col\">Target</th><th scope=\"col\">Result</th>"
	       "</tr></thead><tbody>");
	json_array_foreach(evs, i, e)
	{
		json_t *ev = json_object_get(e, "event");
		json_t *inner = json_object_get(ev, "event");
		const char *type =
		    jstr(json_object_get(ev, "eventType"), "id");
		json_t *succ = json_object_get(inner, "success");
		const char *result = "";

		if (installs && strcmp(type, "EcuInstallationCompleted") &&
		    strcmp(type, "EcuRollback"))
			continue;
		if (succ)
			result = json_is_true(succ) ||
					 (json_is_string(succ) &&
					  !strcmp(json_string_value(succ),
						  "true"))
				     ? "success"
				     : "failure";
		n++;
		evbuffer_add_printf(b, "<tr><td>");
		bw_ui_time(b, jint(e, "received"));
		evbuffer_add_printf(b, "</td><td>");
		bw_ui_esc(b, type);
		evbuffer_add_printf(b, "</td><td>");
		bw_ui_esc(b, jstr(inner, "targetName"));
		evbuffer_add_printf(b, "</td><td>%s</td></tr>", result);
	}
	evbuffer_add_printf(b, "</tbody></table></div>");
	if (!n)
		evbuffer_add_printf(b, "<p>None yet.</p>");
}

void bw_ui_view_device(struct bw_ui_ctx *c, const char *uuid)
{
	struct bw_err err = {0};
	struct evbuffer *b = NULL;
	json_t *d = NULL, *evs = NULL;
	const char *done = evhttp_find_header(c->q, "done");

	if (bw_srv_admin_device_get(c->srv, uuid, &d, &err)) {
		bw_ui_error(c, 404, "No such device.");
		return;
	}
	if (bw_srv_admin_events(c->srv, uuid, 50, &evs, &err))
		evs = json_array();
	if (!(b = page(c, *jstr(d, "name") ? jstr(d, "name") : "Device",
		       "fleet")))
		goto out;
	if (done && !strcmp(done, "denied"))
		notice(b, "ok", "The device is deny-listed; the gateway "
				"refuses it from now on.");
	else if (done && !strcmp(done, "allowed"))
		notice(b, "ok", "The device is allowed again.");
	else if (done && !strcmp(done, "rotate"))
		notice(b, "ok", "The device is asked to rotate its certificate "
				"at its next check-in.");
	evbuffer_add_printf(b, "<p>");
	state_badge(b, device_state(c, d));
	evbuffer_add_printf(b, "</p><section aria-labelledby=\"bind\"><h2 "
			       "id=\"bind\">Binding</h2><dl>");
	dl_row(b, "UUID", jstr(d, "uuid"));
	dl_row(b, "Flavour",
	       json_is_true(json_object_get(d, "production")) ? "production"
							       : "CI");
	dl_row(b, "Issuing CA", jstr(d, "ca"));
	dl_row(b, "Certificate serial", jstr(d, "serial"));
	dl_row(b, "Certificate SHA-256", jstr(d, "fingerprint"));
	evbuffer_add_printf(b, "<dt>Certificate expires</dt><dd>");
	if (jint(d, "cert-not-after") > 0) {
		const char *cls = bw_ui_expiry_class(jint(d, "cert-not-after"),
						     c->now,
						     c->srv->cfg->expiry_warn);

		bw_ui_time(b, jint(d, "cert-not-after"));
		if (strcmp(cls, "ok"))
			evbuffer_add_printf(b, " <span class=\"badge %s\">%s"
					       "</span>",
					    cls,
					    jint(d, "cert-not-after") < c->now
						? "expired"
						: "expires soon");
	} else {
		evbuffer_add_printf(b, "not known yet (learnt at its next "
				       "check-in)");
	}
	evbuffer_add_printf(b, "</dd>");
	dl_row(b, "Tag", jstr(d, "tag"));
	dl_row(b, "Hardware ID", jstr(d, "hardware-id"));
	dl_row(b, "Current target", jstr(d, "target"));
	evbuffer_add_printf(b, "<dt>Registered</dt><dd>");
	bw_ui_time(b, jint(d, "registered"));
	evbuffer_add_printf(b, "</dd><dt>First seen</dt><dd>");
	bw_ui_time(b, jint(d, "first-seen"));
	evbuffer_add_printf(b, "</dd><dt>Last seen</dt><dd>");
	bw_ui_time(b, jint(d, "last-seen"));
	evbuffer_add_printf(b, "</dd></dl></section>");
	device_actions(c, b, d);
	evbuffer_add_printf(b, "<section aria-labelledby=\"inst\"><h2 "
			       "id=\"inst\">Install history</h2>");
	device_events(b, evs, 1);
	evbuffer_add_printf(b, "</section><section aria-labelledby=\"evs\">"
			       "<h2 id=\"evs\">Events</h2>");
	device_events(b, evs, 0);
	evbuffer_add_printf(b, "</section>");
	finish(c, b);
out:
	json_decref(d);
	json_decref(evs);
}

void bw_ui_act_device(struct bw_ui_ctx *c, const char *uuid,
		      const char *action)
{
	struct bw_err err = {0};
	struct evbuffer *loc = NULL;
	int deny = !strcmp(action, "deny");
	int rotate = !strcmp(action, "rotate-cert");
	int rc = 0;

	if (rotate)
		rc = bw_srv_admin_rotate_request(c->srv, uuid, NULL, c->who,
						 &err);
	else
		rc = bw_srv_admin_device_deny(
		    c->srv, uuid, deny, evhttp_find_header(c->form, "reason"),
		    c->who, &err);
	if (rc) {
		bw_ui_error(c, rc == BW_ENOTFOUND ? 404 : 400,
			    rc == BW_EFORMAT ? err.msg : "Refused.");
		return;
	}
	if (!(loc = evbuffer_new())) {
		evhttp_send_error(c->req, 500, NULL);
		return;
	}
	evbuffer_add_printf(loc, "/ui/devices/");
	bw_ui_urlenc(loc, uuid);
	evbuffer_add_printf(loc, "?done=%s",
			    rotate ? "rotate" : deny ? "denied" : "allowed");
	evbuffer_add(loc, "", 1);
	bw_ui_redirect(c->req, (const char *)evbuffer_pullup(loc, -1));
	evbuffer_free(loc);
}

/* ---- waves ------------------------------------------------------------------------ */

static const char *wave_class(const char *state)
{
	return !strcmp(state, "running")     ? "info"
	       : !strcmp(state, "completed") ? "ok"
	       : !strcmp(state, "halted")    ? "bad"
					     : "warn";
}

static void wave_actions(struct bw_ui_ctx *c, struct evbuffer *b,
			 const char *name, const char *state)
{
	static const char *const acts[][2] = {
	    {"pause", "running"}, {"resume", "paused"}, {"resume", "halted"},
	    {"halt", "running"},  {"halt", "paused"}};
	char api[96];

	for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
		if (strcmp(state, acts[i][1]))
			continue;
		snprintf(api, sizeof(api), "/waves/%s/%s", name, acts[i][0]);
		if (!bw_srv_admin_allows(c->role, EVHTTP_REQ_POST, api))
			continue;
		evbuffer_add_printf(b, "<form class=\"inline\" method=\"post\" "
				       "action=\"/ui/waves/");
		bw_ui_urlenc(b, name);
		evbuffer_add_printf(b, "/%s\">", acts[i][0]);
		bw_ui_csrf_field(c, b);
		evbuffer_add_printf(b,
				    "<button type=\"submit\"%s>%c%s wave "
				    "</button></form>",
				    !strcmp(acts[i][0], "halt")
					? " class=\"danger\""
					: "",
				    acts[i][0][0] - 'a' + 'A', acts[i][0] + 1);
	}
}

/* One wave: state, the health rule's bound and decision, each step. */
static void wave_block(struct bw_ui_ctx *c, struct evbuffer *b, json_t *w)
{
	json_t *v = json_object_get(w, "verdict"), *st = NULL;
	json_t *rule = json_object_get(w, "rule");
	const char *name = jstr(w, "name"), *state = jstr(w, "state");
	size_t i = 0;

	evbuffer_add_printf(b, "<article class=\"wave\" aria-label=\"Wave ");
	bw_ui_esc(b, name);
	evbuffer_add_printf(b, "\"><h3>Wave ");
	bw_ui_esc(b, name);
	evbuffer_add_printf(b, " <span class=\"badge %s\">", wave_class(state));
	bw_ui_esc(b, state);
	evbuffer_add_printf(b, "</span></h3><p>Tag ");
	bw_ui_esc(b, jstr(w, "tag"));
	evbuffer_add_printf(b, ", step %" PRId64 ". ", jint(w, "step"));
	bw_ui_esc(b, jstr(w, "reason"));
	evbuffer_add_printf(
	    b,
	    "</p><p class=\"stat\">Health rule: %" PRId64 " outcomes, %" PRId64
	    " failures (silent devices count); failure rate between %.1f%% and "
	    "%.1f%% (confidence bounds) against a limit of %.1f%%; decision: "
	    "<strong>",
	    jint(v, "outcomes"), jint(v, "failures"),
	    (double)jint(v, "lower-ppm") / 1e4, (double)jint(v, "upper-ppm") / 1e4,
	    (double)jint(rule, "max-failure-ppm") / 1e4);
	bw_ui_esc(b, jstr(v, "decision"));
	evbuffer_add_printf(
	    b, "</strong></p><div class=\"scroll\"><table><thead><tr><th "
	       "scope=\"col\">Step</th><th scope=\"col\">Admits</th><th "
	       "scope=\"col\">Bake</th><th scope=\"col\">Admitted</th><th "
	       "scope=\"col\">Succeeded</th><th scope=\"col\">Failed</th><th "
	       "scope=\"col\">Silent</th><th scope=\"col\">Pending</th></tr>"
	       "</thead><tbody>");
	json_array_foreach(json_object_get(w, "steps"), i, st)
	{
		evbuffer_add_printf(
		    b,
		    "<tr%s><td>%" PRId64 "</td><td>%.1f%%</td><td>%" PRId64
		    " s</td><td>%" PRId64 "</td><td>%" PRId64 "</td><td>%" PRId64
		    "</td><td>%" PRId64 "</td><td>%" PRId64 "</td></tr>",
		    jint(st, "step") == jint(w, "step")
			? " aria-current=\"step\""
			: "",
		    jint(st, "step"), (double)jint(st, "admit-ppm") / 1e4,
		    jint(st, "bake-seconds"), jint(st, "admitted"),
		    jint(st, "succeeded"), jint(st, "failed"), jint(st, "silent"),
		    jint(st, "pending"));
	}
	evbuffer_add_printf(b, "</tbody></table></div>");
	wave_actions(c, b, name, state);
	evbuffer_add_printf(b, "</article>");
}

/* The waves section (also served alone for live updates). */
static void waves_section(struct bw_ui_ctx *c, struct evbuffer *b)
{
	struct bw_err err = {0};
	json_t *list = NULL, *w = NULL;
	size_t i = 0, shown = 0;

	evbuffer_add_printf(b, "<section id=\"waves\" "
			       "data-live=\"/ui/releases?part=waves\" "
			       "aria-live=\"polite\" aria-labelledby=\"wh\"><h2 "
			       "id=\"wh\">Waves</h2>");
	if (c->srv->store->ops->wave_list(c->srv->store, 0, &list, &err))
		list = NULL;
	json_array_foreach(list, i, w)
	{
		json_t *full = NULL;

		if (bw_srv_waves_status(c->srv, jstr(w, "name"), &full, &err))
			continue;
		wave_block(c, b, full);
		json_decref(full);
		shown++;
	}
	if (!shown)
		evbuffer_add_printf(b, "<p>No wave.</p>");
	evbuffer_add_printf(b, "</section>");
	json_decref(list);
}

void bw_ui_act_wave(struct bw_ui_ctx *c, const char *name,
		    const char *action)
{
	struct bw_err err = {0};
	int rc = bw_srv_waves_command(c->srv, name, action, c->who, &err);

	if (rc) {
		bw_ui_error(c, rc == BW_ENOTFOUND ? 404 : 409,
			    rc == BW_EEXIST ? "The wave's state does not "
					      "allow this now."
					    : "No such wave.");
		return;
	}
	bw_ui_redirect(c->req, "/ui/releases");
}

/* ---- releases --------------------------------------------------------------------- */

void bw_ui_view_releases(struct bw_ui_ctx *c)
{
	struct bw_err err = {0};
	struct evbuffer *b = NULL;
	json_t *rel = NULL, *r = NULL, *t = NULL;
	size_t i = 0, j = 0;
	const char *part = evhttp_find_header(c->q, "part");
	int rc = 0;

	if (part && !strcmp(part, "waves")) {
		/* the live region alone, for the page's script */
		if (!(b = evbuffer_new())) {
			evhttp_send_error(c->req, 500, NULL);
			return;
		}
		waves_section(c, b);
		bw_ui_send(c->req, 200, b);
		return;
	}
	rc = bw_srv_admin_releases(c->srv, &rel, &err);
	if (!(b = page(c, "Releases and waves", "releases")))
		goto out;
	waves_section(c, b);
	if (rc) {
		notice(b, "bad", "The repository could not be read.");
		finish(c, b);
		goto out;
	}
	if (json_array_size(rel) == 0)
		notice(b, "info", "Nothing published yet.");
	json_array_foreach(rel, i, r)
	{
		evbuffer_add_printf(b, "<section><h2>%s",
				    !strcmp(jstr(r, "flavour"), "ci")
					? "CI targets"
					: "Production targets, tag ");
		bw_ui_esc(b, jstr(r, "tag"));
		evbuffer_add_printf(b,
				    "</h2><p>Version %" PRId64 ", expires ",
				    jint(r, "version"));
		bw_ui_time(b, jint(r, "expires"));
		evbuffer_add_printf(
		    b, "</p><div class=\"scroll\"><table class=\"sortable\">"
		       "<thead><tr><th scope=\"col\">Target</th><th "
		       "scope=\"col\">Version</th><th scope=\"col\">Hardware "
		       "IDs</th><th scope=\"col\">Length</th></tr></thead>"
		       "<tbody>");
		json_array_foreach(json_object_get(r, "targets"), j, t)
		{
			evbuffer_add_printf(b, "<tr><td>");
			bw_ui_esc(b, jstr(t, "name"));
			evbuffer_add_printf(b, "</td><td>");
			bw_ui_esc(b, jstr(t, "version"));
			evbuffer_add_printf(b, "</td><td>");
			bw_ui_esc(b, jstr(t, "hardware-ids"));
			evbuffer_add_printf(b,
					    "</td><td data-sort=\"%" PRId64
					    "\">%" PRId64 "</td></tr>",
					    jint(t, "length"),
					    jint(t, "length"));
		}
		evbuffer_add_printf(b, "</tbody></table></div></section>");
	}
	finish(c, b);
out:
	json_decref(rel);
}

/* ---- expiry ------------------------------------------------------------------------- */

static void expiry_cell(struct evbuffer *b, int64_t t, int64_t now,
			int64_t warn)
{
	const char *cls = bw_ui_expiry_class(t, now, warn);
	const char *word = !strcmp(cls, "bad")	  ? (t < now ? "expired"
							     : "expires soon")
			   : !strcmp(cls, "warn") ? "expires soon"
			   : !strcmp(cls, "ok")	  ? "ok"
						  : "none";

	evbuffer_add_printf(b, "<td data-sort=\"%" PRId64 "\">", t);
	bw_ui_time(b, t);
	evbuffer_add_printf(b, "</td><td data-sort=\"%" PRId64 "\">", t);
	bw_ui_until(b, t, now);
	evbuffer_add_printf(b, "</td><td><span class=\"badge %s\">%s</span>"
			       "</td>",
			    cls, word);
}

static void expiry_head(struct evbuffer *b, const char *id, const char *h2,
			const char *c1, const char *c2, const char *when)
{
	evbuffer_add_printf(
	    b, "<section aria-labelledby=\"%s\"><h2 id=\"%s\">%s</h2><div "
	       "class=\"scroll\"><table class=\"sortable\"><thead><tr><th "
	       "scope=\"col\">%s</th><th scope=\"col\">%s</th><th "
	       "scope=\"col\">%s</th><th scope=\"col\">When</th><th "
	       "scope=\"col\">State</th></tr></thead><tbody>",
	    id, id, h2, c1, c2, when);
}

/* Devices whose certificates expire within the warning window, soonest
 * first (EST renews them before; one listed here has not rotated). */
static void expiry_devices(struct evbuffer *b, json_t *x, int64_t now,
			   int64_t warn)
{
	json_t *devs = json_object_get(x, "devices"), *d = NULL;
	size_t i = 0;

	expiry_head(b, "devcerts", "Device certificates", "Device", "UUID",
		    "Expires");
	json_array_foreach(devs, i, d)
	{
		evbuffer_add_printf(b, "<tr><td>");
		bw_ui_esc(b, *jstr(d, "name") ? jstr(d, "name") : "(unnamed)");
		evbuffer_add_printf(b, "</td><td class=\"mono\"><a "
				       "href=\"/ui/devices/");
		bw_ui_urlenc(b, jstr(d, "uuid"));
		evbuffer_add_printf(b, "\">");
		bw_ui_esc(b, jstr(d, "uuid"));
		evbuffer_add_printf(b, "</a></td>");
		expiry_cell(b, jint(d, "cert-not-after"), now, warn);
		evbuffer_add_printf(b, "</tr>");
	}
	evbuffer_add_printf(b, "</tbody></table></div>");
	if (json_array_size(devs) == 0)
		evbuffer_add_printf(b, "<p>No device certificate expires "
				       "within the warning window.</p>");
	else if ((json_int_t)json_array_size(devs) >= jint(x, "devices-max"))
		evbuffer_add_printf(b, "<p>The %zu that expire first are "
				       "listed.</p>",
				    json_array_size(devs));
	evbuffer_add_printf(b, "</section>");
}

void bw_ui_view_expiry(struct bw_ui_ctx *c)
{
	struct bw_err err = {0};
	struct evbuffer *b = NULL;
	json_t *x = NULL, *e = NULL;
	int64_t warn = c->srv->cfg->expiry_warn;
	size_t i = 0;
	int rc = bw_srv_admin_expiry(c->srv, c->now, &x, &err);

	if (!(b = page(c, "Expiry", "expiry")))
		goto out;
	if (rc) {
		notice(b, "bad", "The expiry report could not be made.");
		finish(c, b);
		goto out;
	}
	expiry_head(b, "roles", "TUF metadata", "Role", "Flavour and tag",
		    "Expires");
	json_array_foreach(json_object_get(x, "repository"), i, e)
	{
		int server = !strcmp(jstr(e, "signed-by"), "server");

		evbuffer_add_printf(b, "<tr><td>");
		bw_ui_esc(b, jstr(e, "role"));
		evbuffer_add_printf(b, " (%s)</td><td>",
				    server ? "re-signed by the server"
					   : "offline keys");
		bw_ui_esc(b, jstr(e, "flavour"));
		evbuffer_add_printf(b, " ");
		bw_ui_esc(b, jstr(e, "tag"));
		evbuffer_add_printf(b, "</td>");
		/* the server renews its own roles; only offline ones need
		 * people before they expire */
		expiry_cell(b, jint(e, "expires"), c->now,
			    server ? 3600 : warn);
		evbuffer_add_printf(b, "</tr>");
	}
	evbuffer_add_printf(b, "</tbody></table></div></section>");
	expiry_head(b, "certs", "Certificates", "Certificate", "Name",
		    "Expires");
	json_array_foreach(json_object_get(x, "certificates"), i, e)
	{
		evbuffer_add_printf(b, "<tr><td>");
		bw_ui_esc(b, jstr(e, "what"));
		evbuffer_add_printf(b, "</td><td>");
		bw_ui_esc(b, jstr(e, "name"));
		evbuffer_add_printf(b, "</td>");
		expiry_cell(b, jint(e, "not-after"), c->now, warn);
		evbuffer_add_printf(b, "</tr>");
	}
	evbuffer_add_printf(b, "</tbody></table></div></section>");
	expiry_devices(b, x, c->now, warn);
	expiry_head(b, "crls", "Revocation lists", "Issuer", "Kind",
		    "Next update");
	json_array_foreach(json_object_get(x, "crls"), i, e)
	{
		evbuffer_add_printf(b, "<tr><td>");
		bw_ui_esc(b, jstr(e, "issuer"));
		evbuffer_add_printf(b, "</td><td>CRL</td>");
		/* CRLs are re-issued often: a week's notice is enough */
		expiry_cell(b, jint(e, "next-update"), c->now,
			    warn < 7 * 86400 ? warn : 7 * 86400);
		evbuffer_add_printf(b, "</tr>");
	}
	evbuffer_add_printf(b, "</tbody></table></div></section>");
	finish(c, b);
out:
	json_decref(x);
}

/* ---- PKI ---------------------------------------------------------------------------- */

void bw_ui_view_pki(struct bw_ui_ctx *c)
{
	struct evbuffer *b = page(c, "PKI", "pki");
	json_t *p = bw_srv_admin_pki_json(c->srv), *ca = NULL;
	size_t i = 0;

	if (!b)
		goto out;
	evbuffer_add_printf(b, "<p>Factory: <strong>");
	bw_ui_esc(b, jstr(p, "factory"));
	evbuffer_add_printf(
	    b, "</strong></p><div class=\"scroll\"><table "
	       "class=\"sortable\"><caption>Device CAs</caption><thead><tr>"
	       "<th scope=\"col\">Name</th><th scope=\"col\">Common name</th>"
	       "<th scope=\"col\">Status</th><th scope=\"col\">May issue "
	       "production</th><th scope=\"col\">CRL number</th><th "
	       "scope=\"col\">Revoked serials</th><th "
	       "scope=\"col\">Expires</th></tr></thead><tbody>");
	json_array_foreach(json_object_get(p, "device-cas"), i, ca)
	{
		const char *st = jstr(ca, "status");
		json_t *prod = json_object_get(ca, "production");

		evbuffer_add_printf(b, "<tr><td>");
		bw_ui_esc(b, jstr(ca, "name"));
		evbuffer_add_printf(b, "</td><td>");
		bw_ui_esc(b, jstr(ca, "cn"));
		evbuffer_add_printf(
		    b, "</td><td><span class=\"badge %s\">",
		    !strcmp(st, "enabled") ? "ok"
		    : !strcmp(st, "disabled") ? "warn"
					      : "bad");
		bw_ui_esc(b, st);
		evbuffer_add_printf(b, "</span></td><td>%s</td><td>%" PRId64
				       "</td><td>%" PRId64 "</td><td>",
				    !prod ? "&mdash;"
				    : json_is_true(prod) ? "yes"
							 : "no",
				    jint(ca, "crl-number"),
				    jint(ca, "revoked-serials"));
		bw_ui_time(b, jint(ca, "not-after"));
		evbuffer_add_printf(b, "</td></tr>");
	}
	evbuffer_add_printf(b, "</tbody></table></div>");
	finish(c, b);
out:
	json_decref(p);
}

/* ---- log ------------------------------------------------------------------------------ */

#define LOG_ROWS 50

/* One entry of the transparency log as a table row. */
static void log_row(struct evbuffer *b, json_t *e)
{
	struct bw_json_limits lim = {.max_bytes = 65536, .max_depth = 16};
	struct bw_err err = {0};
	const char *b64 = jstr(e, "entry");
	uint8_t *raw = NULL;
	size_t n = 0;
	json_t *rec = NULL;
	char *objs = NULL;

	evbuffer_add_printf(b, "<tr><td>%" PRId64 "</td>", jint(e, "index"));
	if (bw_tlog_b64_decode(b64, strlen(b64), 65536, &raw, &n) ||
	    bw_json_parse(raw, n, &lim, &rec, &err)) {
		evbuffer_add_printf(b, "<td colspan=\"4\"><span class=\"badge "
				       "bad\">unreadable entry</span></td></tr>");
		free(raw);
		return;
	}
	evbuffer_add_printf(b, "<td>");
	bw_ui_time(b, jint(rec, "time"));
	evbuffer_add_printf(b, "</td><td>");
	bw_ui_esc(b, jstr(rec, "action"));
	evbuffer_add_printf(b, "</td><td class=\"mono\">");
	bw_ui_esc(b, jstr(rec, "by"));
	evbuffer_add_printf(b, "</td><td class=\"mono\">");
	objs = json_dumps(json_object_get(rec, "objects"),
			  JSON_COMPACT | JSON_SORT_KEYS);
	bw_ui_esc(b, objs);
	evbuffer_add_printf(b, "</td></tr>");
	free(objs);
	json_decref(rec);
	free(raw);
}

void bw_ui_view_log(struct bw_ui_ctx *c)
{
	struct bw_err err = {0};
	struct evbuffer *b = page(c, "Transparency log", "log");
	const char *before = evhttp_find_header(c->q, "before");
	json_t *all = NULL, *e = NULL;
	char *note = NULL;
	size_t len = 0;
	uint64_t size = 0, end = 0;
	int64_t start = 0;

	if (!b)
		return;
	if (bw_srv_admin_log_checkpoint(c->srv, &note, &len, &err) == 0) {
		evbuffer_add_printf(b, "<section aria-labelledby=\"cp\"><h2 "
				       "id=\"cp\">Newest signed checkpoint</h2>"
				       "<pre class=\"mono\">");
		bw_ui_esc(b, note);
		evbuffer_add_printf(b, "</pre><p>Check it with <code>bulwark log "
				       "verify</code>: every entry below is "
				       "under it.</p></section>");
		free(note);
	} else {
		notice(b, "info", "This server has no log key: entries are "
				  "kept but no checkpoint is signed.");
	}
	/* newest first: the page ending below `before` */
	if (bw_srv_admin_log_entries(c->srv, 0, 0, &all, &err) == 0)
		size = (uint64_t)jint(all, "size");
	json_decref(all);
	all = NULL;
	end = size;
	if (before && bw_num_parse(before, size, &end))
		end = size;
	start = end > LOG_ROWS ? (int64_t)(end - LOG_ROWS) : 0;
	if (bw_srv_admin_log_entries(c->srv, start, (int64_t)end, &all,
				     &err)) {
		notice(b, "bad", "The log could not be read.");
		finish(c, b);
		return;
	}
	evbuffer_add_printf(
	    b, "<p>%" PRIu64 " entries. Every trust decision is one entry: "
	       "uploads, ceremonies, certificates issued, device CAs, CRLs, "
	       "denies and allows, tokens, wave steps.</p><div "
	       "class=\"scroll\"><table><caption>Entries %" PRId64
	       " to %" PRIu64 ", newest first</caption><thead><tr><th "
	       "scope=\"col\">#</th><th scope=\"col\">Time</th><th "
	       "scope=\"col\">Action</th><th scope=\"col\">By</th><th "
	       "scope=\"col\">Objects</th></tr></thead><tbody>",
	    size, start, end ? end - 1 : 0);
	for (size_t i = json_array_size(json_object_get(all, "entries"));
	     i-- > 0;) {
		e = json_array_get(json_object_get(all, "entries"), i);
		log_row(b, e);
	}
	evbuffer_add_printf(b, "</tbody></table></div><nav class=\"pager\" "
			       "aria-label=\"Pages\">");
	if (end < size)
		evbuffer_add_printf(b, "<a href=\"/ui/log\">Newest</a>");
	if (start > 0)
		evbuffer_add_printf(b,
				    "<a rel=\"next\" href=\"/ui/log?before=%" PRId64
				    "\">Older</a>",
				    start);
	evbuffer_add_printf(b, "</nav>");
	finish(c, b);
	json_decref(all);
}
