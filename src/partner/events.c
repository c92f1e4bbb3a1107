/* partner/events.c: the game backend's events — GET /v1/events (the pull
 * feed, in commit order, paged by an opaque cursor) and the deliverer of
 * event webhooks (signed POSTs, from the outbox). */
#include "partner/partner.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "outbound/outbound.h"
#include "partner/partner_int.h"

#define EVENTS_PAGE_DEFAULT 100
#define EVENTS_PAGE_MAX 1000

/* ---- the feed ----------------------------------------------------------- */

struct feed_page {
	json_t *events;
	int64_t txid, id;        /* the position after the last event read */
};

static void add_event(void *arg, const struct store_event *e)
{
	struct feed_page *p = arg;
	json_t *j = engine_event_json(e);

	p->txid = e->txid;
	p->id = e->id;
	if (!j)  /* never written so; shown rather than hidden */
		j = json_pack("{s:I, s:s, s:s?, s:s}", "id", (json_int_t)e->id,
			      "type", e->type, "account_id", e->account_id,
			      "data", e->data);
	json_array_append_new(p->events, j);
}

void partner_events_get(struct http_request *req)
{
	struct store *st = http_request_ctx(req);
	struct feed_page p = { 0 };
	int64_t limit = EVENTS_PAGE_DEFAULT;
	char cursor[ENGINE_EVENTS_CURSOR_MAX];
	const char *after;
	bool bad = false;

	after = http_request_query(req, "after", &bad);
	if (bad || (after && engine_events_cursor_parse(after, &p.txid, &p.id))) {
		http_reply_error(req, 400, "InvalidRequest", "after: must be a "
				 "next_cursor this feed returned");
		return;
	}
	if (http_request_query_int(req, "limit", 1, EVENTS_PAGE_MAX, &limit))
		return;
	p.events = json_array();
	if (store_events_read(st, p.txid, p.id, limit, add_event, &p)) {
		json_decref(p.events);
		partner_reply_store_error(req, STORE_ERR);
		return;
	}
	engine_events_cursor_format(p.txid, p.id, cursor);
	http_reply_json(req, 200, json_pack("{s:o, s:s}", "events", p.events,
					    "next_cursor", cursor));
}

/* ---- webhooks ------------------------------------------------------------- */

#define WEBHOOK_TIMEOUT_MS 10000
#define WEBHOOK_RESPONSE_MAX 65536
#define WEBHOOK_HEADER_MAX 160
#define WEBHOOK_BATCH_MAX 64

/* out: "t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>". */
static void webhook_signature(const char *secret, const char *body, time_t t,
			      char *out, size_t size)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	char *signed_text = util_xasprintf("%lld.%s", (long long)t, body);

	if (!HMAC(EVP_sha256(), secret, (int)strlen(secret),
		  (const unsigned char *)signed_text, strlen(signed_text), mac,
		  &mac_len))
		util_bug(__FILE__, __LINE__, "HMAC-SHA256 failed");
	free(signed_text);
	util_hex_encode(mac, mac_len, hex);
	snprintf(out, size, "t=%lld,v1=%s", (long long)t, hex);
}

/* One delivery's request, with the storage its headers point into. */
struct webhook_call {
	char event_id[24];
	char id_header[WEBHOOK_HEADER_MAX];
	char sig_header[WEBHOOK_HEADER_MAX];
};

/* The webhook a row is for, from its key "<index>:<event id>" (the event
 * id into call->event_id); NULL if the key is not one or no such webhook
 * is configured now. */
static const struct engine_webhook *row_webhook(const struct store_outbox_item *it,
						struct webhook_call *call)
{
	const char *colon = strchr(it->dedupe_key, ':');
	char index[24];
	int64_t i;

	if (!colon || (size_t)(colon - it->dedupe_key) >= sizeof(index) ||
	    strlen(colon + 1) >= sizeof(call->event_id))
		return NULL;
	memcpy(index, it->dedupe_key, (size_t)(colon - it->dedupe_key));
	index[colon - it->dedupe_key] = '\0';
	if (util_parse_int64(index, 0, INT64_MAX, &i))
		return NULL;
	snprintf(call->event_id, sizeof(call->event_id), "%s", colon + 1);
	return engine_webhook_get((size_t)i);
}

/* What a webhook's answer comes to. */
static enum outbox_verdict webhook_verdict(const struct outbound_result *r,
					   char *error, size_t size)
{
	if (r->error == OUTBOUND_OK && r->status >= 200 && r->status < 300)
		return OUTBOX_DELIVERED;
	if (r->error == OUTBOUND_OK)
		snprintf(error, size, "the webhook answered HTTP %ld", r->status);
	else
		snprintf(error, size, "the webhook call failed: %s (%s)",
			 outbound_error_name(r->error), r->message);
	return OUTBOX_RETRY;
}

/* outbox_deliver_many_fn: POSTs the claimed events at once. A claim
 * holds at most one row per webhook and account (an account's later
 * events wait for its earlier ones), so those sent together are of
 * different accounts or webhooks, and their order does not matter. */
static void deliver_webhooks(void *ctx, const struct store_outbox_item *items,
			     size_t n, enum outbox_verdict *verdicts,
			     char *errors, size_t size)
{
	struct outbound_request *reqs = util_xcalloc(n, sizeof(*reqs));
	struct outbound_result *results = util_xcalloc(n, sizeof(*results));
	struct webhook_call *calls = util_xcalloc(n, sizeof(*calls));
	size_t *at = util_xcalloc(n, sizeof(*at)), m = 0;
	time_t now = time(NULL);
	for (size_t i = 0; i < n; i++) {
		const struct engine_webhook *w = row_webhook(&items[i], &calls[m]);
		struct webhook_call *c = &calls[m];

		if (!w) {
			verdicts[i] = OUTBOX_DEAD;
			snprintf(errors + i * size, size, "no webhook of key "
				 "\"%s\" is configured", items[i].dedupe_key);
			continue;
		}
		snprintf(c->id_header, sizeof(c->id_header),
			 "grantd-event-id: %s", c->event_id);
		memcpy(c->sig_header, "grantd-signature: ", 18);
		webhook_signature(w->secret, items[i].payload, now,
				  c->sig_header + 18, sizeof(c->sig_header) - 18);
		reqs[m] = (struct outbound_request){
			.peer = "webhook",
			.method = "POST", .url = w->url,
			.headers = { "Content-Type: application/json",
				     c->id_header, c->sig_header, NULL },
			.body = items[i].payload,
			.body_len = strlen(items[i].payload),
			.timeout_ms = WEBHOOK_TIMEOUT_MS,
			.max_response_bytes = WEBHOOK_RESPONSE_MAX,
		};
		at[m++] = i;
	}
	if (m)
		outbound_run(ctx, reqs, results, m);
	for (size_t j = 0; j < m; j++) {
		verdicts[at[j]] = webhook_verdict(&results[j],
						  errors + at[j] * size, size);
		outbound_result_release(&results[j]);
	}
	free(at);
	free(calls);
	free(results);
	free(reqs);
}

void partner_webhooks_register(struct outbox *ob, struct outbound *o)
{
	outbox_register_many(ob, ENGINE_EVENT_WEBHOOK_KIND, deliver_webhooks,
			     o, WEBHOOK_BATCH_MAX);
}
