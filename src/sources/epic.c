/* sources/epic.c: Epic Games Store — players are linked by their Epic
 * account id; their open entitlements are read from the Ecom API with the
 * application's client-credentials token and mapped through
 * epicEntitlement.audienceItemId. CONSUMABLE offers are redeemed once
 * granted; every other offer type is durable: granted once, never redeemed. */
#include "sources/pull_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The catalog's offerType whose entitlements are redeemed after the grant. */
#define EPIC_CONSUMABLE "CONSUMABLE"

static const enum catalog_provider namespaces[] = { CATALOG_EPIC };

static const char *const required[] = { "client_id", "client_secret",
					"deployment_id", "sandbox_id", NULL };

/* {api_base}/identities/{account}/entitlements{suffix}, the account
 * percent-encoded (owned). */
static char *entitlements_url(const struct pull_settings *s,
			      const char *account, const char *suffix)
{
	struct util_buf b;

	util_buf_init(&b, 0);
	util_buf_printf(&b, "%s/identities/", s->api_base);
	util_percent_encode(&b, account);
	util_buf_printf(&b, "/entitlements%s", suffix);
	return util_buf_take(&b);
}

/* Waits out a rate limit Epic asked for if it ends within the timeout.
 * Returns 0 when calls may go on, or -1 with why in err. */
static int wait_rate_limit(struct pull_provider *p, char *err, size_t size)
{
	int64_t wait;

	if (!pull_rate_limited(p, &wait))
		return 0;
	if (wait > p->settings.timeout_ms) {
		snprintf(err, size, "epic: rate limited for %lld ms more",
			 (long long)wait);
		return -1;
	}
	usleep((useconds_t)(wait * 1000));
	return 0;
}

/* One Ecom call with the app token (asked for with the deployment id). A
 * 401 forgets the token and tries once more with a new one; a 429 is
 * remembered, and later calls wait for its end (or fail at once if that
 * is beyond the timeout). Returns 0 with the answer in *r (release it),
 * or -1 with why in err (nothing to release). */
static int ecom(struct pull_provider *p, const char *method, const char *url,
		const char *body, struct outbound_result *r, char *err,
		size_t size)
{
	const struct pull_settings *s = &p->settings;
	char *token_url = util_xasprintf("%s/token", s->auth_base);
	struct util_buf form;
	int rc = -1;

	util_buf_init(&form, 0);
	pull_form_add(&form, "deployment_id", s->deployment_id);
	for (int attempt = 0; attempt < 2; attempt++) {
		const char *headers[3] = { NULL,
					   body ? "Content-Type: application/json" : NULL };
		char *token, *auth;

		if (wait_rate_limit(p, err, size) ||
		    !(token = pull_app_token(p, token_url, true, form.data, err,
					     size)))
			break;
		auth = util_xasprintf("Authorization: Bearer %s", token);
		headers[0] = auth;
		pull_http(p, method, url, headers, body, r);
		free(auth);
		if (r->error == OUTBOUND_OK && r->status == 401 && attempt == 0) {
			pull_app_token_forget(p, token);
			free(token);
			outbound_result_release(r);
			continue;
		}
		free(token);
		if (r->error == OUTBOUND_OK && r->status == 429)
			pull_note_rate_limit(p, r);
		rc = 0;
		break;
	}
	util_buf_release(&form);
	free(token_url);
	return rc;
}

/* True if the catalog in `c` maps Epic item `item_id` to a CONSUMABLE
 * offer. */
static bool consumable(const struct catalog *c, const char *item_id)
{
	const struct catalog_entitlement *e = catalog_lookup(c, CATALOG_EPIC,
							     item_id);

	return e && e->epic_offer_type &&
	       strcmp(e->epic_offer_type, EPIC_CONSUMABLE) == 0;
}

/* True if the entitlement is spent or switched off: redeemed, inactive,
 * or in a status other than ACTIVE. */
static bool closed(json_t *ent)
{
	const char *status = json_string_value(json_object_get(ent, "status"));

	return json_is_true(json_object_get(ent, "redeemed")) ||
	       json_is_false(json_object_get(ent, "active")) ||
	       (status && strcmp(status, "ACTIVE") != 0);
}

/* Adds one entitlement of `account` to out. Returns 0, or -1 if it is not
 * shaped as Ecom's (no id or catalogItemId, or one out of bounds). */
static int add_entitlement(json_t *ent, const char *account,
			   const struct catalog *c, struct pull_fetch *out)
{
	const char *id = json_string_value(json_object_get(ent, "id"));
	const char *item = json_string_value(json_object_get(ent,
							     "catalogItemId"));
	char *report = NULL;

	if (!id || !item || !*id || !*item ||
	    strlen(id) > STORE_EXTERNAL_ID_MAX ||
	    !util_is_printable_ascii(id, strlen(id)) ||
	    strlen(item) > CATALOG_PROVIDER_ITEM_ID_MAX)
		return -1;
	if (closed(ent))
		return 0;
	if (consumable(c, item))
		report = pull_json_text(json_pack("{s:s, s:s}", "account",
						  account, "id", id));
	pull_fetch_add(out, id, item, CATALOG_EPIC, 1, report);
	free(report);
	return 0;
}

/* Reads Ecom's listing of `account`'s entitlements (`len` bytes of the
 * answer: a bare JSON array) into out, or sets out failed if it is not
 * JSON or not shaped as Ecom's. */
static void parse_entitlements(const struct pull_provider *p,
			       const char *body, size_t len,
			       const char *account, struct pull_fetch *out)
{
	json_t *list = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL), *ent;
	struct catalog *c;
	size_t i;

	if (!json_is_array(list)) {
		pull_fetch_fail(out, PULL_UNAVAILABLE, "epic: GET entitlements: "
				"%s", list ? "an answer that is not a JSON array"
				: "invalid JSON");
		json_decref(list);
		return;
	}
	c = catalog_holder_get(p->catalog);
	json_array_foreach(list, i, ent) {
		if (add_entitlement(ent, account, c, out) == 0)
			continue;
		pull_fetch_fail(out, PULL_UNAVAILABLE, "epic: GET entitlements: "
				"entitlement %zu is not shaped as Ecom's", i);
		break;
	}
	catalog_unref(c);
	json_decref(list);
}

/* A listing read without a link (the fuzzer's): reports name no account. */
static void epic_parse_listing(struct pull_provider *p, const char *body,
			       size_t len, struct pull_fetch *out)
{
	parse_entitlements(p, body, len, "", out);
}

static void epic_fetch(struct pull_provider *p, struct pull_link *link,
		       struct pull_fetch *out)
{
	struct util_buf suffix;
	char *url;
	char err[PULL_MESSAGE_MAX];
	struct outbound_result r;

	util_buf_init(&suffix, 0);
	util_buf_puts(&suffix, "?sandboxId=");
	util_percent_encode(&suffix, p->settings.sandbox_id);
	url = entitlements_url(&p->settings, link->external_id, suffix.data);
	util_buf_release(&suffix);
	if (ecom(p, "GET", url, NULL, &r, err, sizeof(err))) {
		pull_fetch_fail(out, PULL_UNAVAILABLE, "%s", err);
		goto out;
	}
	if (r.error != OUTBOUND_OK || r.status != 200) {
		pull_describe(p, "GET entitlements", &r, err, sizeof(err));
		pull_fetch_fail(out, PULL_UNAVAILABLE, "%s", err);
	} else {
		parse_entitlements(p, r.body, r.len, link->external_id, out);
	}
	outbound_result_release(&r);
out:
	free(url);
}

/* The verdict on a redeem answer: 204 (or 200) delivered; a 401 that
 * survived a new token, a 403 (the client's policy or sandbox, which the
 * operator can fix), a 429, a 5xx or no answer are retried; any other 4xx
 * concerns the entitlement itself and never succeeds. */
static enum outbox_verdict redeem_verdict(const struct pull_provider *p,
					  const struct outbound_result *r,
					  const char *id, char *err, size_t size)
{
	json_t *body;
	const char *code;

	if (r->error == OUTBOUND_OK && (r->status == 204 || r->status == 200))
		return OUTBOX_DELIVERED;
	pull_describe(p, "redeem", r, err, size);
	if (pull_transient(r) || r->status == 401 || r->status == 403)
		return OUTBOX_RETRY;
	body = pull_json(r);
	code = json_string_value(json_object_get(body, "errorCode"));
	snprintf(err, size, "epic: redeem %s: HTTP %ld%s%s", id, r->status,
		 code ? " " : "", code ? code : "");
	json_decref(body);
	return r->status >= 400 && r->status < 500 ? OUTBOX_DEAD : OUTBOX_RETRY;
}

static enum outbox_verdict epic_report(struct pull_provider *p,
				       struct pull_link *link,
				       const char *payload,
				       const char *fulfillment_id, char *err,
				       size_t size)
{
	json_t *pj = json_loads(payload, 0, NULL);
	const char *account = json_string_value(json_object_get(pj, "account"));
	const char *id = json_string_value(json_object_get(pj, "id"));
	enum outbox_verdict v = OUTBOX_DEAD;
	struct outbound_result r;
	char *url = NULL, *body = NULL;

	(void)link;  /* the report names the account it was granted for */
	(void)fulfillment_id;
	if (!account || !id || !*account || !*id) {
		snprintf(err, size, "epic: a report without an account or an "
			 "entitlement id");
		goto out;
	}
	url = entitlements_url(&p->settings, account, "/redeem");
	body = pull_json_text(json_pack("{s:[s], s:s}", "entitlementIds", id,
					"sandboxId", p->settings.sandbox_id));
	if (ecom(p, "PUT", url, body, &r, err, size)) {
		v = OUTBOX_RETRY;
		goto out;
	}
	v = redeem_verdict(p, &r, id, err, size);
	outbound_result_release(&r);
out:
	free(body);
	free(url);
	json_decref(pj);
	return v;
}

/* Epic's authorize page is on its accounts site, not the API host. */
static void epic_authorize(const struct pull_provider *p, char *out,
			   size_t size)
{
	snprintf(out, size, "%s", p->settings.authorize_url);
}

/* Exchanges the code at {auth_base}/token (HTTP Basic); the Epic account
 * id is the token answer's account_id. */
static int epic_exchange(struct pull_provider *p, const char *code,
			 const char *verifier, const char *redirect_uri,
			 struct pull_tokens *tokens, char *user_id, size_t size,
			 char *err, size_t err_size)
{
	char *token_url = util_xasprintf("%s/token", p->settings.auth_base);
	json_t *answer = NULL;
	const char *account;
	int rc = -1;

	if (pull_code_exchange(p, token_url, true, code, verifier,
			       redirect_uri, tokens, &answer, err, err_size))
		goto out;
	account = json_string_value(json_object_get(answer, "account_id"));
	if (!account || !*account || strlen(account) >= size ||
	    strlen(account) > STORE_EXTERNAL_ID_MAX ||
	    !util_is_printable_ascii(account, strlen(account))) {
		snprintf(err, err_size, "epic: code exchange: the answer names "
			 "no usable account_id");
		pull_tokens_release(tokens);
		goto out;
	}
	snprintf(user_id, size, "%s", account);
	rc = 0;
out:
	json_decref(answer);
	free(token_url);
	return rc;
}

const struct source_pull pull_epic = {
	.fetch = epic_fetch,
	.report = epic_report,
	.parse_listing = epic_parse_listing,
	.authorize_scope = "basic_profile",
	.authorize_endpoint = epic_authorize,
	.exchange = epic_exchange,
};

const struct source source_epic = {
	.id = "epic",
	.name = "Epic Games Store",
	.namespaces = namespaces,
	.n_namespaces = UTIL_ARRAY_LEN(namespaces),
	.linkable = true,
	.pull = &pull_epic,
	.required = required,
};
