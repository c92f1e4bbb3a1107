/* sources/twitch.c: Twitch Drops — players are linked by their Twitch user
 * id; their CLAIMED drops are read from Helix with the application's
 * token, mapped through twitchDrop.rewardId (the drop's benefit_id), and
 * marked FULFILLED once granted. */
#include "sources/pull_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* first= on the drops list: Helix's largest page. */
#define DROPS_PAGE 1000
/* Drops one PATCH may name (Helix's limit). */
#define DROPS_PATCH_MAX 100
/* Pages followed in one fetch at most (a million drops). */
#define DROPS_PAGES_MAX 1000

static const enum catalog_provider namespaces[] = { CATALOG_TWITCH_DROP };
static const char *const required[] = { "client_id", "client_secret",
					"game_id", NULL };

/* A Helix call with the app token: a 401 forgets the token and tries once
 * more with a new one; a 429 waits for Ratelimit-Reset once if that is
 * within the timeout. Returns 0 with the answer in *r (release it), or -1
 * with why in err (nothing to release). */
static int helix(struct pull_provider *p, const char *method, const char *url,
		 const char *body, struct outbound_result *r, char *err,
		 size_t size)
{
	const struct pull_settings *s = &p->settings;
	char *token_url = util_xasprintf("%s/token", s->auth_base);
	char *client = util_xasprintf("Client-Id: %s", s->client_id);
	bool retried_auth = false, retried_limit = false;
	int rc = -1;

	for (;;) {
		char *token, *auth;
		const char *headers[4] = { NULL, client,
					   body ? "Content-Type: application/json" : NULL };
		int64_t wait;

		/* the bucket is empty until its reset: every call waits */
		if (pull_rate_limited(p, &wait)) {
			if (wait > s->timeout_ms) {
				snprintf(err, size, "twitch: rate limited for "
					 "%lld ms more", (long long)wait);
				break;
			}
			usleep((useconds_t)(wait * 1000));
		}
		if (!(token = pull_app_token(p, token_url, false, NULL, err, size)))
			break;
		auth = util_xasprintf("Authorization: Bearer %s", token);
		headers[0] = auth;
		pull_http(p, method, url, headers, body, r);
		free(auth);
		if (r->error == OUTBOUND_OK && r->status == 401 && !retried_auth) {
			pull_app_token_forget(p, token);
			free(token);
			outbound_result_release(r);
			retried_auth = true;
			continue;
		}
		free(token);
		if (r->error == OUTBOUND_OK && r->status == 429) {
			pull_note_rate_limit(p, r);
			if (!retried_limit && pull_rate_limited(p, &wait) &&
			    wait <= s->timeout_ms) {
				outbound_result_release(r);
				retried_limit = true;
				continue;  /* waits for the reset above */
			}
		}
		rc = 0;
		break;
	}
	free(client);
	free(token_url);
	return rc;
}

/* Adds the drops of one page; returns the next cursor (borrowed from j)
 * or NULL on the last page. Sets *bad if the page is malformed. */
static const char *add_page(json_t *j, bool with_user, struct pull_fetch *out,
			    bool *bad)
{
	json_t *data = json_object_get(j, "data"), *drop;
	const char *cursor = json_string_value(json_object_get(
		json_object_get(j, "pagination"), "cursor"));
	size_t i;

	*bad = !json_is_array(data);
	json_array_foreach(data, i, drop) {
		const char *id = json_string_value(json_object_get(drop, "id"));
		const char *benefit = json_string_value(json_object_get(drop,
									"benefit_id"));
		const char *user = json_string_value(json_object_get(drop, "user_id"));
		char *report;

		if (!id || !benefit || !*id || !*benefit ||
		    strlen(id) > STORE_EXTERNAL_ID_MAX || (with_user && !user)) {
			*bad = true;
			continue;
		}
		report = pull_json_text(json_pack("{s:s}", "id", id));
		pull_fetch_add(out, id, benefit, CATALOG_TWITCH_DROP, 1, report);
		if (with_user)
			out->items[out->n - 1].user_id = util_xstrdup(user);
		free(report);
	}
	return cursor && *cursor ? cursor : NULL;
}

static void twitch_parse_listing(struct pull_provider *p, const char *body,
				 size_t len, struct pull_fetch *out)
{
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	bool bad = true;

	(void)p;
	if (json_is_object(j))
		add_page(j, false, out, &bad);
	if (bad)
		pull_fetch_fail(out, PULL_UNAVAILABLE, "twitch: GET drops: an "
				"answer not shaped as Helix's");
	json_decref(j);
}

/* Lists CLAIMED drops of the game (of `user_id` if not NULL), following
 * the cursor. */
static void list_drops(struct pull_provider *p, const char *user_id,
		       struct pull_fetch *out)
{
	const struct pull_settings *s = &p->settings;
	char *cursor = NULL;

	for (int page = 0; page < DROPS_PAGES_MAX; page++) {
		struct util_buf url;
		struct outbound_result r;
		char err[PULL_MESSAGE_MAX];
		const char *next;
		json_t *j;
		bool bad;

		util_buf_init(&url, 0);
		util_buf_printf(&url, "%s/entitlements/drops?", s->api_base);
		if (user_id) {
			pull_form_add(&url, "user_id", user_id);
			util_buf_putc(&url, '&');
		}
		util_buf_puts(&url, "game_id=");
		util_percent_encode(&url, s->game_id);
		util_buf_printf(&url, "&fulfillment_status=CLAIMED&first=%d",
				DROPS_PAGE);
		if (cursor) {
			util_buf_puts(&url, "&after=");
			util_percent_encode(&url, cursor);
		}
		free(cursor);
		cursor = NULL;
		if (helix(p, "GET", url.data, NULL, &r, err, sizeof(err))) {
			util_buf_release(&url);
			pull_fetch_fail(out, PULL_UNAVAILABLE, "%s", err);
			return;
		}
		util_buf_release(&url);
		j = r.status == 200 ? pull_json(&r) : NULL;
		if (!j) {
			if (r.error == OUTBOUND_OK && r.status == 200)
				snprintf(err, sizeof(err), "twitch: GET drops: "
					 "invalid JSON");
			else
				pull_describe(p, "GET drops", &r, err, sizeof(err));
			pull_fetch_fail(out, PULL_UNAVAILABLE, "%s", err);
			outbound_result_release(&r);
			return;
		}
		next = add_page(j, user_id == NULL, out, &bad);
		if (bad) {
			pull_fetch_fail(out, PULL_UNAVAILABLE, "twitch: GET drops: "
					"an answer not shaped as Helix's");
			json_decref(j);
			outbound_result_release(&r);
			return;
		}
		cursor = next ? util_xstrdup(next) : NULL;
		json_decref(j);
		outbound_result_release(&r);
		if (!cursor)
			return;
	}
	free(cursor);
}

static void twitch_fetch(struct pull_provider *p, struct pull_link *link,
			 struct pull_fetch *out)
{
	list_drops(p, link->external_id, out);
}

static void twitch_poll(struct pull_provider *p, struct pull_fetch *out)
{
	list_drops(p, NULL, out);
}

/* The status Twitch gave drop `id` in a PATCH answer, or NULL. */
static const char *status_of(json_t *answer, const char *id)
{
	json_t *group, *ids, *v;
	size_t i, k;

	json_array_foreach(json_object_get(answer, "data"), i, group) {
		ids = json_object_get(group, "ids");
		json_array_foreach(ids, k, v)
			if (json_is_string(v) && strcmp(json_string_value(v), id) == 0)
				return json_string_value(json_object_get(group,
									 "status"));
	}
	return NULL;
}

/* The verdict for drop `id` from a PATCH answer. */
static enum outbox_verdict verdict_of(json_t *answer, const char *id, char *err,
				      size_t size)
{
	const char *status = status_of(answer, id);

	if (status && strcmp(status, "SUCCESS") == 0)
		return OUTBOX_DELIVERED;
	snprintf(err, size, "twitch: drop %s: %s", id,
		 status ? status : "not in the answer");
	if (!status || strcmp(status, "UPDATE_FAILED") == 0)
		return OUTBOX_RETRY;
	return OUTBOX_DEAD;  /* NOT_FOUND, INVALID_ID, UNAUTHORIZED: final */
}

/* Sets every verdict to `v` with the same message. */
static void all_verdicts(enum outbox_verdict *verdicts, char *errors,
			 size_t size, size_t n, enum outbox_verdict v,
			 const char *msg)
{
	for (size_t i = 0; i < n; i++) {
		verdicts[i] = v;
		snprintf(errors + i * size, size, "%s", msg);
	}
}

/* Marks up to DROPS_PATCH_MAX drops FULFILLED in one PATCH; each id's
 * status decides its verdict. */
static void twitch_report_many(struct pull_provider *p,
			       const char *const *payloads,
			       const char *const *fulfillment_ids, size_t n,
			       enum outbox_verdict *verdicts, char *errors,
			       size_t size)
{
	char *url = util_xasprintf("%s/entitlements/drops", p->settings.api_base);
	json_t *ids = json_array(), *answer = NULL;
	const char **id = util_xcalloc(n, sizeof(*id));
	json_t **parsed = util_xcalloc(n, sizeof(json_t *));
	char msg[PULL_MESSAGE_MAX], *body;
	struct outbound_result r;
	bool called;

	(void)fulfillment_ids;
	for (size_t i = 0; i < n; i++) {
		parsed[i] = json_loads(payloads[i], 0, NULL);
		id[i] = json_string_value(json_object_get(parsed[i], "id"));
		if (id[i])
			json_array_append_new(ids, json_string(id[i]));
	}
	body = pull_json_text(json_pack("{s:s, s:o}", "fulfillment_status",
					"FULFILLED", "entitlement_ids", ids));
	called = helix(p, "PATCH", url, body, &r, msg, sizeof(msg)) == 0;
	if (!called) {
		all_verdicts(verdicts, errors, size, n, OUTBOX_RETRY, msg);
	} else if (r.error != OUTBOUND_OK || r.status != 200 ||
		   !(answer = pull_json(&r))) {
		pull_describe(p, "PATCH drops", &r, msg, sizeof(msg));
		/* a 400 refuses the request as a whole: it can never pass */
		all_verdicts(verdicts, errors, size, n, r.error == OUTBOUND_OK &&
			     r.status == 400 ? OUTBOX_DEAD : OUTBOX_RETRY, msg);
	} else {
		for (size_t i = 0; i < n; i++)
			verdicts[i] = id[i] ? verdict_of(answer, id[i],
							 errors + i * size, size) :
				      OUTBOX_DEAD;
	}
	if (called)
		outbound_result_release(&r);
	for (size_t i = 0; i < n; i++)
		json_decref(parsed[i]);
	json_decref(answer);
	free(parsed);
	free(id);
	free(body);
	free(url);
}

static enum outbox_verdict twitch_report(struct pull_provider *p,
					 struct pull_link *link,
					 const char *payload,
					 const char *fulfillment_id, char *err,
					 size_t size)
{
	enum outbox_verdict v;

	(void)link;
	twitch_report_many(p, &payload, &fulfillment_id, 1, &v, err, size);
	return v;
}

static void twitch_authorize(const struct pull_provider *p, char *out,
			     size_t size)
{
	snprintf(out, size, "%s/authorize", p->settings.auth_base);
}

/* Reads the Twitch user id of a user token from {auth_base}/validate. */
static int twitch_exchange(struct pull_provider *p, const char *code,
			   const char *verifier, const char *redirect_uri,
			   struct pull_tokens *tokens, char *user_id,
			   size_t size, char *err, size_t err_size)
{
	char *token_url = util_xasprintf("%s/token", p->settings.auth_base);
	char *validate = util_xasprintf("%s/validate", p->settings.auth_base);
	char *auth = NULL;
	const char *headers[2] = { NULL };
	struct outbound_result r;
	json_t *answer = NULL, *who = NULL;
	const char *uid;
	int rc = -1;

	if (pull_code_exchange(p, token_url, false, code, verifier,
			       redirect_uri, tokens, &answer, err, err_size))
		goto out;
	auth = util_xasprintf("Authorization: OAuth %s", tokens->access);
	headers[0] = auth;
	pull_http(p, "GET", validate, headers, NULL, &r);
	if (r.error != OUTBOUND_OK || r.status != 200 || !(who = pull_json(&r)) ||
	    !(uid = json_string_value(json_object_get(who, "user_id"))) || !*uid) {
		pull_describe(p, "validate", &r, err, err_size);
		outbound_result_release(&r);
		pull_tokens_release(tokens);
		goto out;
	}
	snprintf(user_id, size, "%s", uid);
	outbound_result_release(&r);
	rc = 0;
out:
	json_decref(who);
	json_decref(answer);
	free(auth);
	free(validate);
	free(token_url);
	return rc;
}

const struct source_pull pull_twitch = {
	.fetch = twitch_fetch,
	.report = twitch_report,
	.report_many = twitch_report_many,
	.report_max = DROPS_PATCH_MAX,
	.poll = twitch_poll,
	.parse_listing = twitch_parse_listing,
	.authorize_scope = "",
	.authorize_endpoint = twitch_authorize,
	.exchange = twitch_exchange,
};

const struct source source_twitch = {
	.id = "twitch",
	.name = "Twitch Drops",
	.namespaces = namespaces,
	.n_namespaces = UTIL_ARRAY_LEN(namespaces),
	.linkable = true,
	.pull = &pull_twitch,
	.required = required,
};
