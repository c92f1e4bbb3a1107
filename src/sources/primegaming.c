/* sources/primegaming.c: the Prime Gaming push fulfilment API — the request
 * schema of Amazon's "Create a Fulfillment API" document in, its vendor
 * error codes out, exactly once through the engine. */
#include "sources/pull_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "engine/engine.h"

#define PG_FIELD_MAX 256

/* One in-flight fulfilment: the job and the parsed body its strings
 * borrow from. Freed by http when the request completes. */
struct pg_request {
	struct engine_job job;
	struct http_request *req;
	json_t *root;
};

static int field(json_t *root, const char *name, const char **out,
		 char *msg, size_t size)
{
	json_t *v = json_object_get(root, name);
	size_t n;

	if (!v) {
		snprintf(msg, size, "%s: required", name);
		return -1;
	}
	if (!json_is_string(v)) {
		snprintf(msg, size, "%s: must be a string", name);
		return -1;
	}
	n = json_string_length(v);
	if (n == 0) {
		snprintf(msg, size, "%s: must not be empty", name);
		return -1;
	}
	if (n > PG_FIELD_MAX) {
		snprintf(msg, size, "%s: must be at most %d bytes (got %zu)", name,
			 PG_FIELD_MAX, n);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

int sources_primegaming_parse(const char *body, size_t len, json_t **root,
			      struct sources_pg_body *out, const char **code,
			      char *msg, size_t msg_size)
{
	json_error_t jerr;
	json_t *r = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
			     &jerr);

	*root = NULL;
	*code = "InvalidRequest";
	if (!r) {
		http_json_error_format(&jerr, msg, msg_size);
		return -1;
	}
	if (!json_is_object(r)) {
		snprintf(msg, msg_size, "body: must be a JSON object");
		goto fail;
	}
	if (field(r, "account_id", &out->account_id, msg, msg_size) ||
	    field(r, "sku", &out->sku, msg, msg_size) ||
	    field(r, "transaction_id", &out->transaction_id, msg, msg_size))
		goto fail;
	if (!catalog_sku_valid(out->sku, strlen(out->sku))) {
		*code = "InvalidSku";
		snprintf(msg, msg_size, "SKU is invalid: it may contain only "
			 "letters, digits and - _ : .");
		goto fail;
	}
	*root = r;
	return 0;
fail:
	json_decref(r);
	return -1;
}

static void pg_request_free(void *p)
{
	struct pg_request *pg = p;

	json_decref(pg->root);
	free(pg);
}

/* The answer for each engine outcome, in Prime Gaming's contract: the
 * push document's vendor error codes and its example messages. */
static const struct {
	unsigned status;
	const char *code;
	const char *prefix;
} answers[] = {
	[ENGINE_GRANTED] = { 200, NULL, NULL },
	[ENGINE_REPLAYED] = { 200, NULL, NULL },
	[ENGINE_INVALID_CUSTOMER] = { 400, "InvalidCustomer",
				      "The customer ID is invalid: " },
	[ENGINE_INVALID_ITEM] = { 400, "InvalidSku", "SKU is invalid: " },
	[ENGINE_OUTSIDE_WINDOW] = { 400, "SkuExpired", "SKU " },
	[ENGINE_ALREADY_OWNED] = { 400, "ContentAlreadyOwned", "A customer with "
				   "this ID already owns this content: " },
	[ENGINE_ACCOUNT_STATE] = { 400, "AccountStateError", "The account is in "
				   "an invalid state: " },
	[ENGINE_CONFLICT] = { 409, "TransactionConflict", "transaction_id " },
	[ENGINE_STORE_ERROR] = { 503, "StoreUnavailable", "" },
	[ENGINE_UNAVAILABLE] = { 503, "ShuttingDown", "" },
};

/* Runs on the store's writer thread once the outcome is durable. The reply
 * is the last use of pg: after it, http may free the request. */
static void pg_done(struct engine_job *job)
{
	struct pg_request *pg = UTIL_CONTAINER_OF(job, struct pg_request, job);
	enum engine_outcome o = job->outcome;

	if (engine_outcome_ok(o)) {
		http_reply_static(pg->req, 200, "{}");
		return;
	}
	if (answers[o].status == 503)
		http_reply_header(pg->req, "Retry-After", "1");
	http_reply_error(pg->req, answers[o].status, answers[o].code, "%s%s",
			 answers[o].prefix, job->message);
}

/* POST /v1/primegaming/fulfillment: parse, then hand the entitlement to
 * the engine and answer once it is durable. */
static void fulfill(struct http_request *req)
{
	struct engine *engine = http_request_ctx(req);
	struct sources_pg_body b;
	struct pg_request *pg;
	const char *body, *code;
	char msg[512];
	json_t *root;
	size_t len;

	body = http_request_body(req, &len);
	if (sources_primegaming_parse(body, len, &root, &b, &code, msg, sizeof(msg))) {
		http_reply_error(req, 400, code, "%s", msg);
		return;
	}
	http_request_log_account(req, b.account_id);
	http_request_log_transaction(req, b.transaction_id);
	pg = util_xcalloc(1, sizeof(*pg));
	pg->req = req;
	pg->root = root;
	pg->job.ent = (struct engine_entitlement){
		.source = source_primegaming.id,
		.provider = CATALOG_PRIME_GAMING,
		.external_id = b.transaction_id,
		.account_id = b.account_id,
		.provider_item_id = b.sku,
		.quantity = 1,
		.received_at_ms = util_now_ms(),
	};
	http_request_set_state(req, pg, pg_request_free);
	http_request_suspend(req);
	engine_submit(engine, &pg->job, pg_done);
}

/* The answer over the rate limit: 429 RequestThrottled naming the body's
 * transaction_id ("request" if the body has none), as the push document's
 * example does. */
static void throttled(struct http_request *req)
{
	size_t len;
	const char *body = http_request_body(req, &len);
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	const char *id = json_string_value(json_object_get(root, "transaction_id"));

	if (!id || !*id || strlen(id) > PG_FIELD_MAX)
		id = "request";
	else
		http_request_log_transaction(req, id);
	http_reply_error(req, 429, "RequestThrottled", "%s has been throttled.", id);
	json_decref(root);
}

static const enum catalog_provider namespaces[] = { CATALOG_PRIME_GAMING };

static const struct source_route routes[] = {
	{ HTTP_POST, "/v1/primegaming/fulfillment", fulfill,
	  HTTP_ROUTE_JSON_BODY, "primegaming.fulfill", throttled },
};

static const char *const primegaming_required[] = { "client_id",
						    "client_secret", NULL };

const struct source source_primegaming = {
	.id = "primegaming",
	.name = "Prime Gaming",
	.scope = AUTH_SCOPE_PRIMEGAMING,
	.namespaces = namespaces,
	.n_namespaces = UTIL_ARRAY_LEN(namespaces),
	.routes = routes,
	.n_routes = UTIL_ARRAY_LEN(routes),
	.linkable = true,   /* Login with Amazon user ids, amzn1.account.… */
	.pull = &pull_primegaming,
	.required = primegaming_required,
};
