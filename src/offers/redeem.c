/* offers/redeem.c: POST /v1/accounts/{account_id}/offers/{offer_id}/redeem
 * — verifies the offer with TentuPlay (relay.c), checks that it offers the
 * SKU, then records the redemption exactly once through the engine,
 * granting the SKU's catalog entry when tentuplay.grant_on_redeem is set. */
#include "offers/offers.h"
#include "offers/offers_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "http/http.h"

#define WHY_MAX 256

/* One redemption in flight: the job and the strings it borrows, and the
 * offer for the reply. Attached to the request; freed by http. */
struct redeem {
	struct engine_job job;
	struct http_request *req;
	struct offers_relay *relay;
	json_int_t offer_id;
	char account_id[STORE_ACCOUNT_ID_MAX + 1];
	char external_id[STORE_EXTERNAL_ID_MAX + 1];
	char *sku;
	/* The checked offer document, or NULL: read only, and shared with the
	 * relay's call (jansson's reference counts are atomic). */
	json_t *offer;
};

static void redeem_free(void *arg)
{
	struct redeem *rd = arg;

	free(rd->sku);
	json_decref(rd->offer);
	free(rd);
}

/* The idempotency key of an offer redeemed by an account:
 * "offer:<offer_id>:<account_id>", or "sha256:<hex>" of that when it is
 * longer than a store key — the same on every repeat. */
static void make_key(const struct redeem *rd,
		     char out[STORE_EXTERNAL_ID_MAX + 1])
{
	char *key = util_xasprintf("offer:%lld:%s", (long long)rd->offer_id,
				   rd->account_id);
	size_t n = strlen(key);
	char hex[65];

	if (n <= STORE_EXTERNAL_ID_MAX) {
		memcpy(out, key, n + 1);
	} else {
		util_sha256_hex(key, n, hex);
		snprintf(out, STORE_EXTERNAL_ID_MAX + 1, "sha256:%s", hex);
	}
	free(key);
}

/* How an engine outcome that is not a success is answered. */
static const struct {
	unsigned status;
	const char *code;
} refusals[ENGINE_OUTCOME_COUNT] = {
	[ENGINE_INVALID_CUSTOMER] = { 404, "AccountNotFound" },
	[ENGINE_INVALID_ITEM] = { 422, "UnknownSku" },
	[ENGINE_OUTSIDE_WINDOW] = { 422, "NotAvailable" },
	[ENGINE_ALREADY_OWNED] = { 409, "ContentAlreadyOwned" },
	[ENGINE_ACCOUNT_STATE] = { 409, "AccountStateError" },
	[ENGINE_CONFLICT] = { 409, "Conflict" },
	[ENGINE_STORE_ERROR] = { 503, "StoreUnavailable" },
	[ENGINE_UNAVAILABLE] = { 503, "ShuttingDown" },
};

/* Replies a refused redemption in grantd's words. */
static void reply_refused(struct redeem *rd)
{
	const struct engine_job *job = &rd->job;
	unsigned status = refusals[job->outcome].status;
	const char *code = refusals[job->outcome].code;

	if (status == 503)
		http_reply_header(rd->req, "Retry-After", "1");
	if (job->outcome == ENGINE_INVALID_ITEM)
		http_reply_error(rd->req, status, code, "sku \"%s\" is not in "
				 "the catalog (providerDetails tentuplay.sku); "
				 "nothing was granted", rd->sku);
	else if (job->outcome == ENGINE_CONFLICT)
		http_reply_error(rd->req, status, code, "offer %lld was already "
				 "redeemed by \"%s\" for another sku",
				 (long long)rd->offer_id, rd->account_id);
	else
		http_reply_error(rd->req, status, code, "%s", job->message);
}

/* Runs once the outcome is durable; the reply is the last use of rd. */
static void redeem_done(struct engine_job *job)
{
	struct redeem *rd = UTIL_CONTAINER_OF(job, struct redeem, job);

	if (!engine_outcome_ok(job->outcome)) {
		reply_refused(rd);
		return;
	}
	http_reply_json(rd->req, 200, json_pack(
		"{s:s, s:I, s:s, s:b, s:b, s:O}",
		"fulfillment_id", job->fulfillment_id,
		"offer_id", rd->offer_id,
		"sku", rd->sku,
		"granted", !job->recorded_only,
		"replayed", job->outcome == ENGINE_REPLAYED,
		"offer", rd->offer));
}

/* The verdict on the offer: a valid offer offering the SKU goes to the
 * engine; anything else is refused with nothing recorded. */
static void on_verdict(struct http_request *req, void *arg,
		       const struct offers__verdict *v)
{
	struct redeem *rd = arg;

	if (!v->valid) {
		http_reply_error(req, 409, "OfferNotValid", "offer %lld is not "
				 "valid for \"%s\": %s", (long long)rd->offer_id,
				 rd->account_id, v->reason);
		return;
	}
	if (!offers_offer_has_sku(v->doc, rd->sku)) {
		http_reply_error(req, 409, "OfferSkuMismatch", "offer %lld does "
				 "not offer sku \"%s\"", (long long)rd->offer_id,
				 rd->sku);
		return;
	}
	rd->offer = json_incref(v->doc);
	rd->job.ent = (struct engine_entitlement){
		.source = "tentuplay",
		.provider = CATALOG_TENTUPLAY_SKU,
		.external_id = rd->external_id,
		.account_id = rd->account_id,
		.provider_item_id = rd->sku,
		.quantity = 1,
		.received_at_ms = util_now_ms(),
		.record_only = !rd->relay->grant_on_redeem,
	};
	engine_submit(rd->relay->engine, &rd->job, redeem_done);
}

/* Reads the offer id and the body. Returns 0, or -1 after a 400. */
static int parse_request(struct http_request *req, json_int_t *offer_id,
			 char **sku)
{
	char msg[WHY_MAX];
	const char *body;
	size_t len;

	if (offers_offer_id_parse(http_request_param(req, "offer_id"),
				  offer_id, msg, sizeof(msg)) == 0) {
		body = http_request_body(req, &len);
		if (offers_parse_redeem_body(body, len, sku, msg,
					     sizeof(msg)) == 0)
			return 0;
	}
	http_reply_error(req, 400, "InvalidRequest", "%s", msg);
	return -1;
}

void offers_redeem_handler(struct http_request *req)
{
	struct offers_relay *r = http_request_ctx(req);
	const char *account_id;
	json_int_t offer_id = 0;
	struct redeem *rd;
	char *sku = NULL;

	if (!(account_id = offers__account_of(req, r->store)) ||
	    parse_request(req, &offer_id, &sku))
		return;
	if (!offers__enabled(req, r)) {
		free(sku);
		return;
	}
	rd = util_xcalloc(1, sizeof(*rd));
	rd->req = req;
	rd->relay = r;
	rd->offer_id = offer_id;
	rd->sku = sku;
	snprintf(rd->account_id, sizeof(rd->account_id), "%s", account_id);
	make_key(rd, rd->external_id);
	http_request_log_account(req, rd->account_id);
	http_request_log_transaction(req, rd->external_id);
	http_request_set_state(req, rd, redeem_free);
	offers__verify(r, req, rd->account_id, offer_id, on_verdict, rd);
}
