/* sources/steam.c: Steam — players are linked by their SteamID64; inventory
 * items map through steamEntitlement.inventoryItem.itemDefId and are
 * consumed once granted (ConsumeItem with a requestid derived from the
 * fulfilment, so a retry is replayed, not repeated), and owned DLC maps
 * through steamEntitlement.app.appId and is granted once per account. */
#include "sources/pull_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STEAM_ID_DIGITS 17
/* Digits of the largest uint64 (itemid, itemdefid, appid). */
#define U64_DIGITS 20
/* Ownership questions sent at once; the rest wait for a free slot. */
#define STEAM_CALLS_AT_ONCE 16

/* A SteamID64 of an individual account: 17 decimal digits. */
static int check_steam_id(const char *id, char *msg, size_t size)
{
	if (strlen(id) == STEAM_ID_DIGITS &&
	    strspn(id, "0123456789") == STEAM_ID_DIGITS)
		return 0;
	snprintf(msg, size, "must be a SteamID64: %d decimal digits",
		 STEAM_ID_DIGITS);
	return -1;
}

static const enum catalog_provider namespaces[] = {
	CATALOG_STEAM_ITEM, CATALOG_STEAM_APP,
};

static const char *const required[] = { "publisher_key", "app_id", NULL };

/* ---- reading Steam's answers -------------------------------------------- */

/* Reads a 64-bit id — a string of digits (how Steam writes them, since a
 * double cannot hold them) or a non-negative JSON integer — as the
 * decimal string without leading zeros the catalog uses, into out.
 * Returns 0, or -1 if `v` is neither or is 2^64 or more. */
static int read_u64(json_t *v, char out[U64_DIGITS + 1])
{
	const char *s = json_string_value(v);
	uint64_t n = 0;

	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		snprintf(out, U64_DIGITS + 1, "%" PRIu64,
			 (uint64_t)json_integer_value(v));
		return 0;
	}
	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' ||
		    n > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	snprintf(out, U64_DIGITS + 1, "%" PRIu64, n);
	return 0;
}

/* Reads an item's quantity — a JSON integer or a string of digits — into
 * *q. Returns 0, or -1 if it is neither. */
static int read_quantity(json_t *v, int64_t *q)
{
	if (json_is_integer(v)) {
		*q = json_integer_value(v);
		return 0;
	}
	return json_is_string(v) ? util_parse_int64(json_string_value(v), 0,
						    INT64_MAX, q) : -1;
}

/* The items of an inventory answer ({"response":{"item_json":"[…]"}}):
 * the string parsed as a JSON array (new reference), or NULL. */
static json_t *item_json(json_t *answer)
{
	const char *text = json_string_value(json_object_get(
		json_object_get(answer, "response"), "item_json"));
	json_t *items;

	if (!text)
		return NULL;
	items = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_array(items)) {
		json_decref(items);
		return NULL;
	}
	return items;
}

/* ---- fetching ----------------------------------------------------------- */

/* {api_base}/{method}/?key=…&appid=…&steamid=… (owned). The key is in the
 * query, as Steam wants it: never log the result. */
static char *get_url(const struct pull_settings *s, const char *method,
		     const char *appid, const char *steamid)
{
	struct util_buf q;
	char *url;

	util_buf_init(&q, 0);
	pull_form_add(&q, "key", s->publisher_key);
	pull_form_add(&q, "appid", appid);
	pull_form_add(&q, "steamid", steamid);
	url = util_xasprintf("%s/%s/?%s", s->api_base, method, q.data);
	memset(q.data, 0, q.len);
	util_buf_release(&q);
	return url;
}

/* Adds one inventory item of `steamid` to out. Returns 0, or -1 if it is
 * not shaped as Steam's. Items with nothing left are skipped. A stack
 * larger than one grant (ENGINE_QUANTITY_MAX) is granted and consumed a
 * grant at a time: its entitlement id names the item and the quantity
 * seen ("<itemid>@<quantity>"), so what is left after the consume is a
 * new entitlement, while a repeat before it is the same one. */
static int add_item(json_t *item, const char *steamid, struct pull_fetch *out)
{
	char itemid[U64_DIGITS + 1], def[U64_DIGITS + 1];
	char id[2 * U64_DIGITS + 2];
	int64_t q, grant;
	char *report;

	if (read_u64(json_object_get(item, "itemid"), itemid) ||
	    read_u64(json_object_get(item, "itemdefid"), def) ||
	    read_quantity(json_object_get(item, "quantity"), &q))
		return -1;
	if (q <= 0)
		return 0;
	grant = q > ENGINE_QUANTITY_MAX ? ENGINE_QUANTITY_MAX : q;
	if (q > ENGINE_QUANTITY_MAX)
		snprintf(id, sizeof(id), "%s@%" PRId64, itemid, q);
	else
		snprintf(id, sizeof(id), "%s", itemid);
	report = pull_json_text(json_pack("{s:s, s:s, s:I}", "steamid", steamid,
					  "itemid", itemid, "quantity",
					  (json_int_t)grant));
	pull_fetch_add(out, id, def, CATALOG_STEAM_ITEM, grant, report);
	free(report);
	return 0;
}

/* Reads GetInventory's answer for `steamid` (`len` bytes of
 * {"response":{"item_json":"[…]"}}) into out, or sets out failed if it is
 * not JSON or not shaped as Steam's. Returns 0, or -1 if failed. */
static int parse_inventory(const char *body, size_t len, const char *steamid,
			   struct pull_fetch *out)
{
	json_t *answer = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *items = item_json(answer), *item;
	size_t i;
	int rc = -1;

	if (!items) {
		pull_fetch_fail(out, PULL_UNAVAILABLE, "steam: GetInventory: %s",
				answer ? "no item_json array in the answer" :
				"invalid JSON");
		goto out;
	}
	json_array_foreach(items, i, item) {
		if (add_item(item, steamid, out)) {
			pull_fetch_fail(out, PULL_UNAVAILABLE, "steam: "
					"GetInventory: item %zu is not shaped "
					"as Steam's", i);
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(items);
	json_decref(answer);
	return rc;
}

/* A listing read without a link (the fuzzer's): reports name no player. */
static void steam_parse_listing(struct pull_provider *p, const char *body,
				size_t len, struct pull_fetch *out)
{
	(void)p;
	parse_inventory(body, len, "", out);
}

/* Adds the items of GetInventory's answer `r` to out. Returns 0, or -1
 * with out failed. */
static int add_inventory(struct pull_provider *p,
			 const struct outbound_result *r, const char *steamid,
			 struct pull_fetch *out)
{
	char err[PULL_MESSAGE_MAX];

	if (r->error == OUTBOUND_OK && r->status == 200)
		return parse_inventory(r->body, r->len, steamid, out);
	pull_describe(p, "GetInventory", r, err, sizeof(err));
	pull_fetch_fail(out, PULL_UNAVAILABLE, "%s", err);
	return -1;
}

/* The entitlement id of DLC `appid` for `account_id` (into out, at most
 * STORE_EXTERNAL_ID_MAX + 1 bytes): one per account, as fulfilments are
 * keyed on (provider, entitlement id) across accounts, and the app is
 * granted once to each account that owns it. An account id too long to
 * fit is replaced by its SHA-256. */
static void dlc_id(const char *appid, const char *account_id, char *out,
		   size_t size)
{
	char digest[65];

	if ((size_t)snprintf(out, size, "app:%s:%s", appid, account_id) < size &&
	    strlen(out) <= STORE_EXTERNAL_ID_MAX)
		return;
	util_sha256_hex(account_id, strlen(account_id), digest);
	snprintf(out, size, "app:%s:sha256:%s", appid, digest);
}

/* Adds DLC `appid` to out if CheckAppOwnership's answer `r` says the
 * player owns it for good (not lent by Family Sharing, not a free
 * weekend: `permanent` is not false). Returns 0, or -1 with out failed. */
static int add_app(struct pull_provider *p, const struct outbound_result *r,
		   const char *appid, const char *account_id,
		   struct pull_fetch *out)
{
	char err[PULL_MESSAGE_MAX], id[STORE_EXTERNAL_ID_MAX + 1];
	json_t *answer = NULL, *own, *owns;
	int rc = -1;

	if (r->error != OUTBOUND_OK || r->status != 200) {
		pull_describe(p, "CheckAppOwnership", r, err, sizeof(err));
		pull_fetch_fail(out, PULL_UNAVAILABLE, "%s (app %s)", err, appid);
		goto out;
	}
	answer = pull_json(r);
	own = json_object_get(answer, "appownership");
	owns = json_object_get(own, "ownsapp");
	if (!json_is_boolean(owns)) {
		pull_fetch_fail(out, PULL_UNAVAILABLE, "steam: CheckAppOwnership"
				" (app %s): %s", appid, answer ? "no "
				"appownership.ownsapp in the answer" :
				"invalid JSON");
		goto out;
	}
	if (json_is_true(owns) &&
	    !json_is_false(json_object_get(own, "permanent"))) {
		dlc_id(appid, account_id, id, sizeof(id));
		pull_fetch_add(out, id, appid, CATALOG_STEAM_APP, 1, NULL);
	}
	rc = 0;
out:
	json_decref(answer);
	return rc;
}

/* Waits out a rate limit Steam asked for if it ends within the timeout.
 * Returns 0 when calls may go on, or -1 with why in err. */
static int wait_rate_limit(struct pull_provider *p, char *err, size_t size)
{
	int64_t wait;

	if (!pull_rate_limited(p, &wait))
		return 0;
	if (wait > p->settings.timeout_ms) {
		snprintf(err, size, "steam: rate limited for %lld ms more",
			 (long long)wait);
		return -1;
	}
	usleep((useconds_t)(wait * 1000));
	return 0;
}

/* Sends the `n` GETs of urls at most STEAM_CALLS_AT_ONCE at a time,
 * stopping after a group with a failure; results not sent stay zeroed
 * (release them all the same). */
static void run_gets(struct pull_provider *p, char *const *urls,
		     struct outbound_result *results, size_t n)
{
	struct outbound_request *reqs = util_xcalloc(n, sizeof(*reqs));

	for (size_t i = 0; i < n; i++) {
		reqs[i].method = "GET";
		reqs[i].url = urls[i];
	}
	for (size_t at = 0; at < n; at += STEAM_CALLS_AT_ONCE) {
		size_t k = n - at < STEAM_CALLS_AT_ONCE ? n - at :
			   STEAM_CALLS_AT_ONCE;
		bool failed = false;

		pull_http_many(p, reqs + at, results + at, k);
		for (size_t i = at; i < at + k; i++) {
			failed |= results[i].error != OUTBOUND_OK ||
				  results[i].status != 200;
			if (results[i].error == OUTBOUND_OK &&
			    results[i].status == 429)
				pull_note_rate_limit(p, &results[i]);
		}
		if (failed)
			break;
	}
	free(reqs);
}

/* Asks for the inventory and the ownership of every app the catalog maps
 * at once: urls[0] is GetInventory, urls[1 + i] the i-th app's check. */
static void steam_fetch(struct pull_provider *p, struct pull_link *link,
			struct pull_fetch *out)
{
	const struct pull_settings *s = &p->settings;
	struct catalog *c = catalog_holder_get(p->catalog);
	size_t n_apps = catalog_provider_id_count(c, CATALOG_STEAM_APP);
	size_t n = 1 + n_apps;
	char **urls = util_xcalloc(n, sizeof(*urls));
	struct outbound_result *res = util_xcalloc(n, sizeof(*res));
	char err[PULL_MESSAGE_MAX];

	if (wait_rate_limit(p, err, sizeof(err))) {
		pull_fetch_fail(out, PULL_UNAVAILABLE, "%s", err);
		n = 0;
		goto out;
	}
	urls[0] = get_url(s, "IInventoryService/GetInventory/v1", s->app_id,
			  link->external_id);
	for (size_t i = 0; i < n_apps; i++) {
		const char *app = catalog_provider_id_at(c, CATALOG_STEAM_APP, i);

		urls[1 + i] = get_url(s, "ISteamUser/CheckAppOwnership/v4", app,
				      link->external_id);
	}
	run_gets(p, urls, res, n);
	if (add_inventory(p, &res[0], link->external_id, out))
		goto out;
	for (size_t i = 0; i < n_apps; i++) {
		const char *app = catalog_provider_id_at(c, CATALOG_STEAM_APP, i);

		if (add_app(p, &res[1 + i], app, link->account_id, out))
			break;
	}
out:
	for (size_t i = 0; i < n; i++) {
		outbound_result_release(&res[i]);
		free(urls[i]);
	}
	free(res);
	free(urls);
	catalog_unref(c);
}

/* ---- consuming ---------------------------------------------------------- */

/* True if the item list of a ConsumeItem answer holds `itemid`. */
static bool lists_item(json_t *items, const char *itemid)
{
	char id[U64_DIGITS + 1];
	json_t *item;
	size_t i;

	json_array_foreach(items, i, item)
		if (read_u64(json_object_get(item, "itemid"), id) == 0 &&
		    strcmp(id, itemid) == 0)
			return true;
	return false;
}

/* The verdict on a ConsumeItem answer. Steam answers a consume it refuses
 * (an item the player no longer holds, or holds fewer of) with an empty
 * item list, and a resend of a requestid it already ran with the item as
 * it is now: so an empty list can never succeed later, while the item
 * listed means consumed, now or by an earlier attempt. A 403 is about the
 * key (wrong, revoked, or not the app's publisher), which the operator can
 * fix: retried. */
static enum outbox_verdict consume_verdict(const struct pull_provider *p,
					   const struct outbound_result *r,
					   const char *itemid, int64_t requestid,
					   char *err, size_t size)
{
	json_t *answer, *items;
	enum outbox_verdict v;

	if (r->error != OUTBOUND_OK || r->status != 200) {
		pull_describe(p, "ConsumeItem", r, err, size);
		return pull_transient(r) || r->status == 403 ? OUTBOX_RETRY :
		       OUTBOX_DEAD;
	}
	answer = pull_json(r);
	items = item_json(answer);
	if (!items) {
		snprintf(err, size, "steam: ConsumeItem: %s", answer ? "no "
			 "item_json array in the answer" : "invalid JSON");
		v = OUTBOX_RETRY;  /* the requestid makes another try safe */
	} else if (json_array_size(items) == 0) {
		snprintf(err, size, "steam: ConsumeItem: item %s was refused: "
			 "the player no longer holds that many", itemid);
		v = OUTBOX_DEAD;
	} else if (!lists_item(items, itemid)) {
		snprintf(err, size, "steam: ConsumeItem: requestid %" PRId64
			 " was already used for another item", requestid);
		v = OUTBOX_DEAD;
	} else {
		v = OUTBOX_DELIVERED;
	}
	json_decref(items);
	json_decref(answer);
	return v;
}

static enum outbox_verdict steam_report(struct pull_provider *p,
					struct pull_link *link,
					const char *payload,
					const char *fulfillment_id, char *err,
					size_t size)
{
	const struct pull_settings *s = &p->settings;
	json_t *pj = json_loads(payload, 0, NULL);
	const char *steamid = json_string_value(json_object_get(pj, "steamid"));
	const char *itemid = json_string_value(json_object_get(pj, "itemid"));
	json_t *quantity = json_object_get(pj, "quantity");
	const char *headers[] = {
		"Content-Type: application/x-www-form-urlencoded", NULL,
	};
	enum outbox_verdict v = OUTBOX_DEAD;
	struct outbound_result r;
	struct util_buf form;
	int64_t requestid;
	char number[24], *url = NULL;

	(void)link;  /* the report names the player it was granted for */
	util_buf_init(&form, 0);
	if (!steamid || !itemid || !json_is_integer(quantity) ||
	    json_integer_value(quantity) < 1 ||
	    store_fulfilment_id_parse(fulfillment_id, &requestid)) {
		snprintf(err, size, "steam: a report without a player, an item, "
			 "a quantity or a fulfilment id");
		goto out;
	}
	pull_form_add(&form, "key", s->publisher_key);
	pull_form_add(&form, "appid", s->app_id);
	pull_form_add(&form, "itemid", itemid);
	snprintf(number, sizeof(number), "%" PRId64,
		 (int64_t)json_integer_value(quantity));
	pull_form_add(&form, "quantity", number);
	pull_form_add(&form, "steamid", steamid);
	snprintf(number, sizeof(number), "%" PRId64, requestid);
	pull_form_add(&form, "requestid", number);
	if (wait_rate_limit(p, err, size)) {
		v = OUTBOX_RETRY;
		goto out;
	}
	url = util_xasprintf("%s/IInventoryService/ConsumeItem/v1/", s->api_base);
	pull_http(p, "POST", url, headers, form.data, &r);
	if (r.error == OUTBOUND_OK && r.status == 429)
		pull_note_rate_limit(p, &r);
	v = consume_verdict(p, &r, itemid, requestid, err, size);
	outbound_result_release(&r);
out:
	if (form.data)
		memset(form.data, 0, form.len);
	util_buf_release(&form);
	free(url);
	json_decref(pj);
	return v;
}

const struct source_pull pull_steam = {
	.fetch = steam_fetch,
	.report = steam_report,
	.parse_listing = steam_parse_listing,
};

const struct source source_steam = {
	.id = "steam",
	.name = "Steam",
	.namespaces = namespaces,
	.n_namespaces = UTIL_ARRAY_LEN(namespaces),
	.linkable = true,
	.pull = &pull_steam,
	.required = required,
	.check_external_id = check_steam_id,
};
