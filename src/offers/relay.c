/* offers/relay.c: the call to TentuPlay's offer verification that the
 * verify and redeem routes share — made on the outbound loop (the HTTP
 * thread never waits on TentuPlay), its `result` then decrypted and
 * checked — and POST /v1/accounts/{account_id}/offers/verify, which
 * replies {"valid", "reason", "offer"}. */
#include "offers/offers.h"
#include "offers/offers_int.h"

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

/* One verification in flight; freed by its done callback. */
struct verify_call {
	struct offers_relay *relay;
	struct http_request *req;
	char account_id[STORE_ACCOUNT_ID_MAX + 1];
	json_int_t offer_id;
	offers__verdict_fn fn;
	void *arg;
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
	r->engine = o->engine;
	r->grant_on_redeem = o->grant_on_redeem;
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

/* `plain` as a JSON object (new reference), or NULL if it is not one. */
static json_t *object_of(const struct util_buf *plain)
{
	json_t *doc = NULL;

	if (plain && plain->len)
		doc = json_loadb(plain->data, plain->len,
				 JSON_REJECT_DUPLICATES, NULL);
	if (doc && !json_is_object(doc)) {
		json_decref(doc);
		doc = NULL;
	}
	return doc;
}

/* Decrypts and checks `result` for the call's account, and hands the
 * verdict on. */
static void check_result(const struct verify_call *c, const char *result)
{
	const struct offers_relay *r = c->relay;
	struct offers__verdict v = { .valid = false };
	struct util_buf plain;
	char why[WHY_MAX];

	util_buf_init(&plain, 0);
	v.reason = why;
	if (offers_decrypt(result, r->key, r->nonce_bytes, &plain, why,
			   sizeof(why)) == 0) {
		if (offers_validate(plain.data ? plain.data : "", plain.len,
				    c->account_id, util_now_ms(),
				    r->zone_minutes, &v.doc, why, sizeof(why)))
			v.doc = object_of(&plain);
		else
			v = (struct offers__verdict){ true, "the offer is valid",
						      v.doc };
	}
	util_buf_release(&plain);
	c->fn(c->req, c->arg, &v);
	json_decref(v.doc);
}

/* Replies to a call TentuPlay did not answer with a verification, or
 * hands the verdict on. */
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
	if (json_is_string(result))
		check_result(c, json_string_value(result));
	else
		c->fn(req, c->arg, &(struct offers__verdict){
			false, "result is missing or not a string", NULL });
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

const char *offers__account_of(struct http_request *req, struct store *st)
{
	const char *id = partner_account_param(req);
	struct store_account acct;

	return id && partner_account_found(req, st, id, &acct) ? id : NULL;
}

bool offers__enabled(struct http_request *req, const struct offers_relay *r)
{
	if (r->enabled)
		return true;
	http_reply_error(req, 503, "OffersNotConfigured", "the TentuPlay "
			 "offer relay is off: set tentuplay.verify_url, "
			 "tentuplay.api_key and tentuplay.payload_key");
	return false;
}

void offers__verify(struct offers_relay *r, struct http_request *req,
		    const char *account_id, json_int_t offer_id,
		    offers__verdict_fn fn, void *arg)
{
	struct outbound_request out = { .peer = "tentuplay", .method = "POST" };
	struct verify_call *c = util_xcalloc(1, sizeof(*c));
	json_t *j;
	char *body;

	c->relay = r;
	c->req = req;
	c->offer_id = offer_id;
	c->fn = fn;
	c->arg = arg;
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

/* The verify route's reply: {"valid", "reason", "offer"} (the decrypted
 * document when it is a JSON object, else null). */
static void reply_verdict(struct http_request *req, void *arg,
			  const struct offers__verdict *v)
{
	(void)arg;
	http_reply_json(req, 200, json_pack("{s:b, s:s, s:O}", "valid",
					    v->valid, "reason", v->reason,
					    "offer", v->doc ? v->doc :
					    json_null()));
}

void offers_verify_handler(struct http_request *req)
{
	struct offers_relay *r = http_request_ctx(req);
	const char *account_id;
	json_int_t offer_id = 0;

	if (!(account_id = offers__account_of(req, r->store)) ||
	    parse_body(req, &offer_id) || !offers__enabled(req, r))
		return;
	offers__verify(r, req, account_id, offer_id, reply_verdict, NULL);
}
