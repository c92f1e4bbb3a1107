/* partner/accounts.c: PUT and GET /v1/accounts/{account_id}. */
#include "partner/partner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partner/partner_int.h"

/* One PUT in flight: the writer creates or updates the account. */
struct account_put {
	struct store_intent intent;
	struct http_request *req;
	char account_id[STORE_ACCOUNT_ID_MAX + 1];
	enum store_account_state state;
	bool created;
};

/* Sets the state; a change to suspended or banned is an
 * account.suspended event. The account's lock is taken first. */
static int put_apply(struct store_tx *tx, struct store_intent *in)
{
	struct account_put *p = UTIL_CONTAINER_OF(in, struct account_put, intent);
	enum store_account_state before;
	bool found;
	int rc;

	if ((rc = store_tx_account_get(tx, p->account_id, &before, &found)) ||
	    (rc = store_tx_account_put(tx, p->account_id, p->state,
				       util_now_ms(), &p->created)))
		return rc;
	if (p->state == STORE_ACCOUNT_ACTIVE || (found && before == p->state))
		return STORE_OK;
	return engine_events_account_suspended(tx, p->account_id, p->state,
					       found ? &before : NULL, "api", 0);
}

/* Writer thread: the reply is the last use of p (http frees it after). */
static void put_done(struct store_intent *in, int rc)
{
	struct account_put *p = UTIL_CONTAINER_OF(in, struct account_put, intent);

	if (rc != STORE_OK) {
		partner_reply_store_error(p->req, rc);
		return;
	}
	http_reply_json(p->req, p->created ? 201 : 200,
			json_pack("{s:s, s:s}", "account_id", p->account_id,
				  "state", store_account_state_name(p->state)));
}

int partner_parse_account_body(const char *body, size_t len,
				enum store_account_state *state, char *msg,
				size_t msg_size)
{
	json_t *root, *v = partner_parse_object(body, len, "state", &root, msg,
						msg_size);
	int rc = -1;

	if (!root)
		return -1;
	if (!json_is_string(v) || store_account_state_parse(json_string_value(v), state)) {
		snprintf(msg, msg_size, "state: %s", v ? "must be \"active\", "
			 "\"suspended\" or \"banned\"" : "required");
		goto out;
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

void partner_account_put(struct http_request *req)
{
	struct store *st = http_request_ctx(req);
	const char *id = partner_account_param(req);
	enum store_account_state state;
	struct account_put *p;
	const char *body;
	char msg[512];
	size_t len;

	if (!id)
		return;
	body = http_request_body(req, &len);
	if (partner_parse_account_body(body, len, &state, msg, sizeof(msg))) {
		http_reply_error(req, 400, "InvalidRequest", "%s", msg);
		return;
	}
	p = util_xcalloc(1, sizeof(*p));
	p->req = req;
	p->state = state;
	snprintf(p->account_id, sizeof(p->account_id), "%s", id);
	p->intent.apply = put_apply;
	p->intent.done = put_done;
	p->intent.order_key = p->account_id;
	http_request_set_state(req, p, free);
	http_request_suspend(req);
	if (store_submit(st, &p->intent) != STORE_OK)
		put_done(&p->intent, STORE_CLOSED);
}

json_t *partner_account_json(const struct store_account *a)
{
	return json_pack("{s:s, s:s, s:I, s:I}", "account_id", a->account_id,
			 "state", store_account_state_name(a->state),
			 "created_at_millis", (json_int_t)a->created_at_ms,
			 "updated_at_millis", (json_int_t)a->updated_at_ms);
}

void partner_account_get(struct http_request *req)
{
	struct store *st = http_request_ctx(req);
	const char *id = partner_account_param(req);
	struct store_account a;

	if (id && partner_account_found(req, st, id, &a))
		http_reply_json(req, 200, partner_account_json(&a));
}

/* ---- PUT /v1/operator/accounts/{account_id}/state ---------------------- */

int partner_parse_state_body(const char *body, size_t len,
			     enum store_account_state *state, char *reason,
			     size_t reason_size, char *msg, size_t msg_size)
{
	json_error_t jerr;
	json_t *r = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
			       &jerr), *v, *rest = NULL;
	char *text = NULL;
	int rc = -1;

	if (!r) {
		http_json_error_format(&jerr, msg, msg_size);
		return -1;
	}
	v = json_is_object(r) ? json_object_get(r, "state") : NULL;
	if (!json_is_object(r)) {
		snprintf(msg, msg_size, "body: must be a JSON object");
	} else if (!json_is_string(v) ||
		   store_account_state_parse(json_string_value(v), state)) {
		snprintf(msg, msg_size, "state: %s", v ? "must be \"active\", "
			 "\"suspended\" or \"banned\"" : "required");
	} else {
		/* the rest must be {"reason": …} alone */
		rest = json_deep_copy(r);
		json_object_del(rest, "state");
		text = json_dumps(rest, JSON_COMPACT);
		rc = text ? partner_parse_reason_body(text, strlen(text), reason,
						      reason_size, msg,
						      msg_size) : -1;
	}
	free(text);
	json_decref(rest);
	json_decref(r);
	return rc;
}

/* One operator state change in flight. */
struct state_put {
	struct store_intent intent;
	struct http_request *req;
	char account_id[STORE_ACCOUNT_ID_MAX + 1];
	char reason[PARTNER_REVOKE_REASON_BYTES_MAX + 1];
	char actor[80];
	enum store_account_state state;
	enum store_account_state before;
	bool found;
};

static int state_audit(struct store_tx *tx, struct state_put *p)
{
	json_t *d = json_pack("{s:s, s:s, s:s}", "state",
			      store_account_state_name(p->state), "previous_state",
			      store_account_state_name(p->before), "reason",
			      p->reason);
	char *text = json_dumps(d, JSON_COMPACT);
	int rc = text ? store_tx_audit_add(tx, &(struct store_audit){
		.at_ms = util_now_ms(), .actor = p->actor,
		.action = "account.state_changed", .target = p->account_id,
		.detail = text,
	}) : STORE_ERR;

	free(text);
	json_decref(d);
	return rc;
}

/* Changes an existing account's state (under its lock), with the audit
 * row and, for a suspension or ban, the account.suspended event. */
static int state_apply(struct store_tx *tx, struct store_intent *in)
{
	struct state_put *p = UTIL_CONTAINER_OF(in, struct state_put, intent);
	bool created;
	int rc;

	if ((rc = store_tx_account_get(tx, p->account_id, &p->before,
				       &p->found)) || !p->found)
		return rc;
	if ((rc = store_tx_account_put(tx, p->account_id, p->state,
				       util_now_ms(), &created)) ||
	    (rc = state_audit(tx, p)))
		return rc;
	if (p->state == STORE_ACCOUNT_ACTIVE || p->before == p->state)
		return STORE_OK;
	return engine_events_account_suspended(tx, p->account_id, p->state,
					       &p->before, "operator", 0);
}

/* Writer thread: the reply is the last use of p (http frees it after). */
static void state_done(struct store_intent *in, int rc)
{
	struct state_put *p = UTIL_CONTAINER_OF(in, struct state_put, intent);

	if (rc != STORE_OK) {
		partner_reply_store_error(p->req, rc);
		return;
	}
	if (!p->found) {
		partner_reply_no_account(p->req, p->account_id);
		return;
	}
	http_reply_json(p->req, 200, json_pack("{s:s, s:s, s:s, s:s}",
		"account_id", p->account_id,
		"state", store_account_state_name(p->state),
		"previous_state", store_account_state_name(p->before),
		"reason", p->reason));
}

void partner_account_state_put(struct http_request *req)
{
	struct store *st = http_request_ctx(req);
	const char *id = partner_account_param(req);
	const struct http_principal *who = http_request_principal(req);
	struct state_put *p;
	const char *body;
	char msg[512];
	size_t len;

	if (!id)
		return;
	p = util_xcalloc(1, sizeof(*p));
	body = http_request_body(req, &len);
	if (partner_parse_state_body(body, len, &p->state, p->reason,
				     sizeof(p->reason), msg, sizeof(msg))) {
		free(p);
		http_reply_error(req, 400, "InvalidRequest", "%s", msg);
		return;
	}
	p->req = req;
	snprintf(p->account_id, sizeof(p->account_id), "%s", id);
	snprintf(p->actor, sizeof(p->actor), "api:%s",
		 who && who->name[0] ? who->name : "unknown");
	p->intent.apply = state_apply;
	p->intent.done = state_done;
	p->intent.order_key = p->account_id;
	http_request_set_state(req, p, free);
	http_request_suspend(req);
	if (store_submit(st, &p->intent) != STORE_OK)
		state_done(&p->intent, STORE_CLOSED);
}
