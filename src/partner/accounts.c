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
