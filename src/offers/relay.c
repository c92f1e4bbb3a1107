/* offers/relay.c: POST /v1/accounts/{account_id}/offers/verify — asks
 * TentuPlay to verify an offer for the account, on the outbound loop (the
 * HTTP thread never waits on TentuPlay), then decrypts and checks the
 * answer's `result` and replies {"valid", "reason", "offer"}. */
#include "offers/offers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "outbound/outbound.h"
#include "partner/partner.h"
#include "store/store.h"

/* Most of an answer read beyond the result itself. */
#define ANSWER_SLACK 65536
#define WHY_MAX 256

struct offers_relay {
	struct outbound *outbound;
	struct store *store;
	bool enabled;
	char *verify_url;
	char *key_header;            /* "x-api-key: <key>" */
	unsigned char key[OFFERS_KEY_LEN];
	int nonce_bytes;
	int zone_minutes;
	int64_t timeout_ms;
};

/* One verification in flight; freed by its done callback. */
struct verify_call {
	struct offers_relay *relay;
	struct http_request *req;
	char account_id[STORE_ACCOUNT_ID_MAX + 1];
	json_int_t offer_id;
};

static int fail(char **err, const char *msg)
{
	*err = util_xstrdup(msg);
	return -1;
}

int offers_relay_new(const struct offers_relay_options *o,
		     struct offers_relay **out, char **err)
{
	struct offers_relay *r;
	char why[WHY_MAX];
	int zone = 0;

	*out = NULL;
	*err = NULL;
	if (o->verify_url && *o->verify_url) {
		if (!o->api_key || !*o->api_key)
			return fail(err, "tentuplay.api_key: must be set "
				    "when tentuplay.verify_url is");
		if (!o->payload_key || strlen(o->payload_key) != OFFERS_KEY_LEN)
			return fail(err, "tentuplay.payload_key: must be "
				    "exactly 32 bytes when tentuplay.verify_url "
				    "is set");
		if (o->nonce_bytes != 8 && o->nonce_bytes != 12)
			return fail(err, "tentuplay.nonce_bytes: must be 8 "
				    "or 12");
		if (offers_zone_parse(o->timezone ? o->timezone : "UTC", &zone,
				      why, sizeof(why))) {
			*err = util_xasprintf("tentuplay.timezone: %s", why);
			return -1;
		}
	}
	r = util_xcalloc(1, sizeof(*r));
	r->outbound = o->outbound;
	r->store = o->store;
	r->enabled = o->verify_url && *o->verify_url;
	if (r->enabled) {
		r->verify_url = util_xstrdup(o->verify_url);
		r->key_header = util_xasprintf("%s: %s", o->api_key_header,
					       o->api_key);
		UTIL_ASSERT(offers_key_from_text(o->payload_key, r->key, NULL,
						 0) == 0);
	}
	r->nonce_bytes = o->nonce_bytes;
	r->zone_minutes = zone;
	r->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;
	*out = r;
	return 0;
}

void offers_relay_free(struct offers_relay *r)
{
	if (!r)
		return;
	if (r->key_header) {
		memset(r->key_header, 0, strlen(r->key_header));
		free(r->key_header);
	}
	free(r->verify_url);
	memset(r->key, 0, sizeof(r->key));
	free(r);
}

/* ---- the answer -------------------------------------------------------- */

/* {"valid": false, "reason": why, "offer": <the decrypted document if it
 * is a JSON object, else null>}. */
static json_t *invalid(const char *why, const struct util_buf *plain)
{
	json_t *doc = NULL;

	if (plain && plain->len)
		doc = json_loadb(plain->data, plain->len,
				 JSON_REJECT_DUPLICATES, NULL);
	if (doc && !json_is_object(doc)) {
		json_decref(doc);
		doc = NULL;
	}
	return json_pack("{s:b, s:s, s:o}", "valid", 0, "reason", why,
			 "offer", doc ? doc : json_null());
}

/* Decrypts and checks `result` for the call's account. Returns the reply
 * body (new reference). */
static json_t *check_result(const struct verify_call *c, const char *result)
{
	const struct offers_relay *r = c->relay;
	struct util_buf plain;
	char why[WHY_MAX];
	json_t *doc = NULL, *reply;

	util_buf_init(&plain, 0);
	if (offers_decrypt(result, r->key, r->nonce_bytes, &plain, why,
			   sizeof(why)))
		reply = invalid(why, NULL);
	else if (offers_validate(plain.data ? plain.data : "", plain.len,
				 c->account_id, util_now_ms(), r->zone_minutes,
				 &doc, why, sizeof(why)))
		reply = invalid(why, &plain);
	else
		reply = json_pack("{s:b, s:s, s:o}", "valid", 1, "reason",
				  "the offer is valid", "offer", doc);
	util_buf_release(&plain);
	return reply;
}

/* Replies to a call once TentuPlay has answered (or not). */
static void answer(struct verify_call *c, const struct outbound_response *resp)
{
	struct http_request *req = c->req;
	json_t *body = NULL, *success, *result;

	if (resp->error == OUTBOUND_TIMEOUT) {
		http_reply_error(req, 502, "TentuPlayUnavailable", "TentuPlay "
				 "did not answer within %lld ms",
				 (long long)c->relay->timeout_ms);
		return;
	}
	if (resp->error != OUTBOUND_OK) {
		http_reply_error(req, 502, "TentuPlayUnavailable", "TentuPlay "
				 "could not be reached: %s", resp->message ?
				 resp->message : outbound_error_name(resp->error));
		return;
	}
	body = json_loadb(resp->body, resp->len, 0, NULL);
	success = json_object_get(body, "success");
	if (resp->status != 200 || !json_is_object(body) ||
	    !json_is_boolean(success)) {
		http_reply_error(req, 502, "TentuPlayError", "TentuPlay answered "
				 "HTTP %ld without a verification result",
				 resp->status);
		goto out;
	}
	if (!json_is_true(success)) {
		http_reply_error(req, 502, "TentuPlayRefused", "TentuPlay did "
				 "not verify offer %lld for \"%s\" "
				 "(success: false)", (long long)c->offer_id,
				 c->account_id);
		goto out;
	}
	result = json_object_get(body, "result");
	if (!json_is_string(result))
		http_reply_json(req, 200, invalid("result is missing or not a "
						  "string", NULL));
	else
		http_reply_json(req, 200, check_result(c, json_string_value(result)));
out:
	json_decref(body);
}

static void verify_done(const struct outbound_response *resp, void *arg)
{
	struct verify_call *c = arg;

	answer(c, resp);
	free(c);
}

/* ---- the request ------------------------------------------------------- */

/* Reads {"offer_id": <integer>} strictly. Returns 0, or -1 after a 400. */
static int parse_body(struct http_request *req, json_int_t *offer_id)
{
	size_t len;
	const char *text = http_request_body(req, &len);
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES |
				  JSON_DECODE_ANY, &jerr), *v;
	const char *k;
	char msg[256];

	msg[0] = '\0';
	if (!root) {
		http_json_error_format(&jerr, msg, sizeof(msg));
	} else if (!json_is_object(root)) {
		snprintf(msg, sizeof(msg), "body: must be a JSON object");
	} else {
		json_object_foreach(root, k, v) {
			if (!msg[0] && strcmp(k, "offer_id") != 0)
				snprintf(msg, sizeof(msg), "body: unknown "
					 "field \"%.64s\"", k);
		}
		v = json_object_get(root, "offer_id");
		if (!msg[0] && !v)
			snprintf(msg, sizeof(msg), "offer_id: is required");
		else if (!msg[0] && (!json_is_integer(v) ||
				     json_integer_value(v) < 0))
			snprintf(msg, sizeof(msg), "offer_id: must be a "
				 "non-negative integer");
		else if (!msg[0])
			*offer_id = json_integer_value(v);
	}
	json_decref(root);
	if (!msg[0])
		return 0;
	http_reply_error(req, 400, "InvalidRequest", "%s", msg);
	return -1;
}

/* Replies 400/404/503 unless the request's account exists. Returns its
 * id (borrowed), or NULL after the reply. */
static const char *account_of(struct http_request *req, struct store *st)
{
	const char *id = partner_account_param(req);
	struct store_account acct;

	return id && partner_account_found(req, st, id, &acct) ? id : NULL;
}

void offers_verify_handler(struct http_request *req)
{
	struct offers_relay *r = http_request_ctx(req);
	const char *account_id;
	struct outbound_request out = { .method = "POST" };
	struct verify_call *c;
	json_int_t offer_id = 0;
	json_t *j;
	char *body;

	if (!(account_id = account_of(req, r->store)) ||
	    parse_body(req, &offer_id))
		return;
	if (!r->enabled) {
		http_reply_error(req, 503, "OffersNotConfigured", "the TentuPlay "
				 "offer relay is off: set tentuplay.verify_url, "
				 "tentuplay.api_key and tentuplay.payload_key");
		return;
	}
	c = util_xcalloc(1, sizeof(*c));
	c->relay = r;
	c->req = req;
	c->offer_id = offer_id;
	snprintf(c->account_id, sizeof(c->account_id), "%s", account_id);
	j = json_pack("{s:s, s:I}", "player_uuid", account_id, "offer_id",
		      offer_id);
	body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	UTIL_ASSERT(body);
	out.url = r->verify_url;
	out.headers[0] = "Content-Type: application/json";
	out.headers[1] = "Accept: application/json";
	out.headers[2] = r->key_header;
	out.body = body;
	out.body_len = strlen(body);
	out.timeout_ms = (long)r->timeout_ms;
	out.max_response_bytes = OFFERS_RESULT_MAX + ANSWER_SLACK;
	out.done = verify_done;
	out.arg = c;
	http_request_suspend(req);
	if (outbound_submit(r->outbound, &out)) {
		free(c);
		http_reply_error(req, 503, "ShuttingDown", "grantd is shutting "
				 "down; retry");
	}
	free(body);
}
