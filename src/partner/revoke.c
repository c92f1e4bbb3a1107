/* partner/revoke.c: POST /v1/fulfillments/{fulfillment_id}/revoke — a
 * fulfilment's grants taken back (a refund, a chargeback, a mistake), for
 * the game backend and for support staff. */
#include "partner/partner_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One revocation in flight: the engine runs it. */
struct revoke_call {
	struct engine_revocation rev;
	struct http_request *req;
	char fulfillment_id[STORE_FULFILMENT_ID_LEN + 1];
	char reason[PARTNER_REVOKE_REASON_BYTES_MAX + 1];
	char actor[HTTP_PRINCIPAL_NAME_MAX + 8];
};

/* Characters (code points) of valid UTF-8 text. */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* The body {"reason": …} with, when release_claim is not NULL, an
 * optional "release_claim": bool. */
static int parse_reason_body(const char *body, size_t len, char *reason,
			     size_t reason_size, bool *release_claim,
			     char *msg, size_t msg_size)
{
	json_error_t jerr;
	json_t *r = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
			       &jerr), *v;
	const char *k, *text;
	size_t n;

	msg[0] = '\0';
	if (release_claim)
		*release_claim = false;
	if (!r) {
		http_json_error_format(&jerr, msg, msg_size);
		return -1;
	}
	if (!json_is_object(r))
		snprintf(msg, msg_size, "body: must be a JSON object");
	json_object_foreach(r, k, v) {
		if (msg[0])
			break;
		if (release_claim && strcmp(k, "release_claim") == 0) {
			if (json_is_boolean(v))
				*release_claim = json_is_true(v);
			else
				snprintf(msg, msg_size, "release_claim: must be "
					 "true or false");
		} else if (strcmp(k, "reason") != 0) {
			snprintf(msg, msg_size, "body: unknown field \"%.64s\"", k);
		}
	}
	v = msg[0] ? NULL : json_object_get(r, "reason");
	if (!msg[0] && !json_is_string(v)) {
		snprintf(msg, msg_size, "reason: %s", v ? "must be a string" :
			 "required");
	} else if (!msg[0]) {
		text = json_string_value(v);
		n = utf8_chars(text);
		if (n < 1 || n > PARTNER_REVOKE_REASON_MAX ||
		    strlen(text) != json_string_length(v) ||
		    strlen(text) >= reason_size)
			snprintf(msg, msg_size, "reason: must be 1 to %d "
				 "characters, without NUL", PARTNER_REVOKE_REASON_MAX);
		else
			snprintf(reason, reason_size, "%s", text);
	}
	json_decref(r);
	return msg[0] ? -1 : 0;
}

int partner_parse_revoke_body(const char *body, size_t len, char *reason,
			      size_t reason_size, bool *release_claim,
			      char *msg, size_t msg_size)
{
	return parse_reason_body(body, len, reason, reason_size, release_claim,
				 msg, msg_size);
}

int partner_parse_reason_body(const char *body, size_t len, char *reason,
			      size_t reason_size, char *msg, size_t msg_size)
{
	return parse_reason_body(body, len, reason, reason_size, NULL, msg,
				 msg_size);
}

/* Writer thread: the reply is the last use of c (http frees it after,
 * with call_free). */
static void revoke_done(struct engine_revocation *rev)
{
	struct revoke_call *c = UTIL_CONTAINER_OF(rev, struct revoke_call, rev);

	switch (rev->outcome) {
	case ENGINE_REVOKE_DONE:
	case ENGINE_REVOKE_REPLAYED:
		http_reply_json(c->req, 200, json_incref(rev->result));
		break;
	case ENGINE_REVOKE_NOT_FOUND:
		http_reply_error(c->req, 404, "FulfillmentNotFound", "%s",
				 rev->message);
		break;
	case ENGINE_REVOKE_NOT_GRANTED:
		http_reply_error(c->req, 409, "NotGranted", "%s", rev->message);
		break;
	case ENGINE_REVOKE_INSUFFICIENT:
		http_reply_error(c->req, 409, "InsufficientBalance", "%s",
				 rev->message);
		break;
	case ENGINE_REVOKE_UNAVAILABLE:
		partner_reply_store_error(c->req, STORE_CLOSED);
		break;
	case ENGINE_REVOKE_STORE_ERROR:
		partner_reply_store_error(c->req, STORE_ERR);
		break;
	}
	/* c may be gone now: call_free releases the result */
}

static void call_free(void *p)
{
	struct revoke_call *c = p;

	engine_revocation_release(&c->rev);
	free(c);
}

void partner_fulfillment_revoke(struct http_request *req)
{
	struct engine *e = http_request_ctx(req);
	const char *id = http_request_param(req, "fulfillment_id");
	const struct http_principal *who = http_request_principal(req);
	struct revoke_call *c;
	const char *body;
	char msg[256];
	size_t len;
	int64_t row;

	if (!id || store_fulfilment_id_parse(id, &row)) {
		http_reply_error(req, 404, "FulfillmentNotFound", "no fulfilment "
				 "\"%.64s\" exists (ids are f_ and 16 hex digits)",
				 id ? id : "");
		return;
	}
	c = util_xcalloc(1, sizeof(*c));
	body = http_request_body(req, &len);
	if (partner_parse_revoke_body(body, len, c->reason, sizeof(c->reason),
				      &c->rev.release_claim, msg, sizeof(msg))) {
		http_reply_error(req, 400, "InvalidRequest", "%s", msg);
		free(c);
		return;
	}
	c->req = req;
	snprintf(c->fulfillment_id, sizeof(c->fulfillment_id), "%s", id);
	snprintf(c->actor, sizeof(c->actor), "api:%s",
		 who && who->name[0] ? who->name : "unknown");
	c->rev.row = row;
	c->rev.reason = c->reason;
	c->rev.actor = c->actor;
	http_request_set_state(req, c, call_free);
	http_request_suspend(req);
	engine_submit_revocation(e, &c->rev, revoke_done);
}
