/* sources/primegaming_pull.c: Prime Gaming's pull integration — players
 * link their Amazon account through Login with Amazon; their open
 * entitlements are read with the player's token and reported fulfilled
 * one by one. */
#include "sources/pull_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"

/* A token this close to its expiry is refreshed before it is used. */
#define PG_TOKEN_MARGIN_MS 60000

/* Results of a call with the player's token. */
enum pg_call_rc {
	PG_CALLED = 0,           /* an answer is in *r */
	PG_RELINK = -1,          /* the player must link again */
	PG_UNAVAILABLE = -2,     /* a refresh failed for now */
};

/* Refreshes the player's LWA tokens (form client credentials). */
static enum pg_call_rc pg_refresh(struct pull_provider *p, struct pull_link *link,
				  char *err, size_t size)
{
	int rc = pull_refresh_user_token(p, link, p->settings.token_url, false,
					 err, size);

	return rc == 0 ? PG_CALLED : rc == -1 ? PG_RELINK : PG_UNAVAILABLE;
}

/* True if a call answered as LWA does for a token it refuses. */
static bool token_refused(const struct outbound_result *r)
{
	return r->error == OUTBOUND_OK && (r->status == 400 || r->status == 401);
}

/* Calls the Prime Gaming API with the player's token (x-amz-access-token).
 * A token past its expiry is refreshed first; a 400 or 401 answer (LWA's
 * answers to an expired token) refreshes it once and tries again. On
 * PG_CALLED the answer is in *r (release it); otherwise why is in err. */
static enum pg_call_rc pg_call(struct pull_provider *p, struct pull_link *link,
			       const char *method, const char *url,
			       const char *body, struct outbound_result *r,
			       char *err, size_t size)
{
	int64_t expires = link->tokens.expires_at_ms;
	bool refreshed = false;
	enum pg_call_rc rc;

	if (!link->tokens.access) {
		snprintf(err, size, "primegaming: the link holds no Login with "
			 "Amazon tokens; the player must link in a browser");
		link->relink_required = true;
		return PG_RELINK;
	}
	if (expires && expires - PG_TOKEN_MARGIN_MS <= util_now_ms()) {
		if ((rc = pg_refresh(p, link, err, size)) != PG_CALLED)
			return rc;
		refreshed = true;
	}
	for (;;) {
		char *token = util_xasprintf("x-amz-access-token: %s",
					     link->tokens.access);
		const char *headers[3] = { token, body ? "Content-Type: "
					   "application/json" : NULL };

		pull_http(p, method, url, headers, body, r);
		memset(token, 0, strlen(token));
		free(token);
		if (!token_refused(r) || refreshed)
			return PG_CALLED;
		outbound_result_release(r);
		if ((rc = pg_refresh(p, link, err, size)) != PG_CALLED)
			return rc;
		refreshed = true;
	}
}

/* ---- entitlements ------------------------------------------------------ */

/* Adds one entry of the answer if Prime Gaming asks for it to be
 * fulfilled. Returns -1 if the entry is malformed. */
static int add_entry(json_t *e, struct pull_fetch *out)
{
	const char *next = json_string_value(json_object_get(e, "NextInstruction"));
	const char *id = json_string_value(json_object_get(e, "EntitlementId"));
	const char *sku = json_string_value(json_object_get(e, "VendorProductId"));
	char *report;

	if (!json_is_object(e))
		return -1;
	if (!next || strcmp(next, "FULFILL") != 0)
		return 0;  /* NOOP: nothing to deliver */
	if (!id || !*id || strlen(id) > STORE_EXTERNAL_ID_MAX ||
	    !util_is_printable_ascii(id, strlen(id)) || !sku || !*sku)
		return -1;
	report = pull_json_text(json_pack("{s:s}", "id", id));
	pull_fetch_add(out, id, sku, CATALOG_PRIME_GAMING, 1, report);
	free(report);
	return 0;
}

/* Reads {"Entitlements": [...]}. Returns -1 if it is not shaped so. */
static int add_entitlements(json_t *answer, struct pull_fetch *out)
{
	json_t *list = json_object_get(answer, "Entitlements"), *e;
	size_t i, bad = 0;

	if (!json_is_array(list))
		return -1;
	json_array_foreach(list, i, e)
		if (add_entry(e, out))
			bad++;
	if (bad)
		ops_log(OPS_LOG_WARN, "pull_entries_skipped", "primegaming: %zu "
			"entitlement(s) without a usable EntitlementId or "
			"VendorProductId were skipped", bad);
	return 0;
}

static void primegaming_parse_listing(struct pull_provider *p,
				      const char *body, size_t len,
				      struct pull_fetch *out)
{
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);

	(void)p;
	if (!j || add_entitlements(j, out))
		pull_fetch_fail(out, PULL_UNAVAILABLE, "primegaming: GET "
				"entitlements: an answer not shaped as Prime "
				"Gaming's");
	json_decref(j);
}

static void primegaming_fetch(struct pull_provider *p, struct pull_link *link,
			      struct pull_fetch *out)
{
	char *url = util_xasprintf("%s/entitlements", p->settings.api_base);
	char err[PULL_MESSAGE_MAX];
	struct outbound_result r;
	json_t *j = NULL;
	enum pg_call_rc rc = pg_call(p, link, "GET", url, NULL, &r, err,
				     sizeof(err));

	free(url);
	if (rc != PG_CALLED) {
		pull_fetch_fail(out, rc == PG_RELINK ? PULL_RELINK_REQUIRED :
				PULL_UNAVAILABLE, "%s", err);
		return;
	}
	if (r.error != OUTBOUND_OK || r.status != 200) {
		pull_describe(p, "GET entitlements", &r, err, sizeof(err));
		pull_fetch_fail(out, PULL_UNAVAILABLE, "%s", err);
	} else if (!(j = pull_json(&r)) || add_entitlements(j, out)) {
		pull_fetch_fail(out, PULL_UNAVAILABLE, "primegaming: GET "
				"entitlements: an answer not shaped as Prime "
				"Gaming's");
	}
	json_decref(j);
	outbound_result_release(&r);
}

/* ---- fulfilment reports ------------------------------------------------ */

/* The Result Prime Gaming gave entitlement `id` in a fulfil answer, or
 * NULL. */
static const char *result_of(json_t *answer, const char *id)
{
	json_t *u;
	size_t i;

	json_array_foreach(json_object_get(answer, "FulfillmentStatusUpdates"),
			   i, u) {
		const char *eid = json_string_value(json_object_get(u,
								    "EntitlementId"));

		if (eid && strcmp(eid, id) == 0)
			return json_string_value(json_object_get(u, "Result"));
	}
	return NULL;
}

/* The verdict on a fulfil call that did not answer 200 with JSON. */
static enum outbox_verdict failed_call(const struct outbound_result *r)
{
	if (r->error != OUTBOUND_OK || r->status == 200 || r->status == 400 ||
	    r->status == 401 || r->status == 403 || r->status == 429 ||
	    r->status >= 500)
		return OUTBOX_RETRY;
	return OUTBOX_DEAD;  /* 404 and the like: the call can never work */
}

/* Reports one entitlement fulfilled. The FulfillmentAddress is the game
 * account the content went to. */
static enum outbox_verdict primegaming_report(struct pull_provider *p,
					      struct pull_link *link,
					      const char *payload,
					      const char *fulfillment_id,
					      char *err, size_t size)
{
	json_t *pj = json_loads(payload, 0, NULL), *answer = NULL;
	const char *id = json_string_value(json_object_get(pj, "id")), *result;
	char *url = util_xasprintf("%s/fulfill", p->settings.api_base), *body;
	enum outbox_verdict v = OUTBOX_RETRY;
	struct outbound_result r;

	(void)fulfillment_id;
	if (!id) {
		snprintf(err, size, "primegaming: a report without an "
			 "entitlement id");
		v = OUTBOX_DEAD;
		goto out;
	}
	body = pull_json_text(json_pack(
		"{s:[{s:s, s:s, s:s}]}", "FulfillmentStatusUpdates",
		"EntitlementId", id, "LastInstruction", "FULFILL",
		"FulfillmentAddress", link->account_id));
	if (pg_call(p, link, "POST", url, body, &r, err, size) != PG_CALLED) {
		free(body);
		goto out;
	}
	free(body);
	if (r.error != OUTBOUND_OK || r.status != 200 ||
	    !(answer = pull_json(&r))) {
		pull_describe(p, "POST fulfill", &r, err, size);
		v = failed_call(&r);
		outbound_result_release(&r);
		goto out;
	}
	outbound_result_release(&r);
	result = result_of(answer, id);
	if (result && strcmp(result, "SUCCESS") == 0)
		v = OUTBOX_DELIVERED;
	else
		snprintf(err, size, "primegaming: entitlement %s: %s", id,
			 result ? result : "not in the answer");
out:
	json_decref(answer);
	json_decref(pj);
	free(url);
	return v;
}

/* ---- linking with Login with Amazon ------------------------------------ */

static void primegaming_authorize(const struct pull_provider *p, char *out,
				  size_t size)
{
	snprintf(out, size, "%s", p->settings.authorize_url);
}

/* Reads the LWA user id (amzn1.account.…) of a fresh access token. */
static int read_profile(struct pull_provider *p, const char *access,
			char *user_id, size_t size, char *err, size_t err_size)
{
	char *auth = util_xasprintf("Authorization: Bearer %s", access);
	const char *headers[2] = { auth };
	struct outbound_result r;
	json_t *who = NULL;
	const char *uid;
	int rc = -1;

	pull_http(p, "GET", p->settings.profile_url, headers, NULL, &r);
	if (r.error != OUTBOUND_OK || r.status != 200 || !(who = pull_json(&r)) ||
	    !(uid = json_string_value(json_object_get(who, "user_id"))) || !*uid) {
		pull_describe(p, "GET profile", &r, err, err_size);
	} else {
		snprintf(user_id, size, "%s", uid);
		rc = 0;
	}
	json_decref(who);
	outbound_result_release(&r);
	memset(auth, 0, strlen(auth));
	free(auth);
	return rc;
}

static int primegaming_exchange(struct pull_provider *p, const char *code,
				const char *verifier, const char *redirect_uri,
				struct pull_tokens *tokens, char *user_id,
				size_t size, char *err, size_t err_size)
{
	json_t *answer = NULL;

	if (pull_code_exchange(p, p->settings.token_url, false, code, verifier,
			       redirect_uri, tokens, &answer, err, err_size))
		return -1;
	json_decref(answer);
	if (read_profile(p, tokens->access, user_id, size, err, err_size) == 0)
		return 0;
	pull_tokens_release(tokens);
	return -1;
}

const struct source_pull pull_primegaming = {
	.fetch = primegaming_fetch,
	.report = primegaming_report,
	.parse_listing = primegaming_parse_listing,
	.authorize_scope = "games::prime profile",
	.authorize_endpoint = primegaming_authorize,
	.exchange = primegaming_exchange,
};
