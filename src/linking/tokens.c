/* linking/tokens.c: POST /v1/accounts/{account_id}/link-tokens — the game
 * backend asks for a single-use link token it hands to the player's
 * browser, which starts the link flow with it. */
#include "linking/linking_int.h"
#include "partner/partner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One link token on its way to the store. */
struct token_make {
	struct store_intent intent;
	struct http_request *req;
	char account_id[STORE_ACCOUNT_ID_MAX + 1];
	char token[LINKING_SECRET_MAX + 1];
	char hash[STORE_SECRET_HASH_LEN + 1];
	int64_t expires_at_ms;
	bool no_account;
};

static void token_free(void *p)
{
	struct token_make *t = p;

	memset(t->token, 0, sizeof(t->token));
	free(t);
}

static int token_apply(struct store_tx *tx, struct store_intent *in)
{
	struct token_make *t = UTIL_CONTAINER_OF(in, struct token_make, intent);
	enum store_account_state state;
	bool found;
	int rc = store_tx_account_get(tx, t->account_id, &state, &found);

	t->no_account = !found;
	if (rc || !found)
		return rc;
	return store_tx_link_token_add(tx, t->hash, t->account_id,
				       util_now_ms(), t->expires_at_ms);
}

/* Writer thread: the reply is the last use of t (http frees it after). */
static void token_done(struct store_intent *in, int rc)
{
	struct token_make *t = UTIL_CONTAINER_OF(in, struct token_make, intent);
	char at[25];

	if (rc != STORE_OK) {
		partner_reply_store_error(t->req, rc);
	} else if (t->no_account) {
		partner_reply_no_account(t->req, t->account_id);
	} else {
		util_rfc3339_format(t->expires_at_ms, at);
		http_reply_header(t->req, "Cache-Control", "no-store");
		http_reply_json(t->req, 201, json_pack("{s:s, s:s}", "link_token",
						       t->token, "expires_at", at));
	}
}

/* The body may be absent or {}: the route takes no options. */
static bool body_empty(struct http_request *req)
{
	size_t len;
	const char *body = http_request_body(req, &len);
	json_t *j;
	bool ok;

	if (len == 0)
		return true;
	j = json_loadb(body, len, 0, NULL);
	ok = json_is_object(j) && json_object_size(j) == 0;
	json_decref(j);
	return ok;
}

void linking_token_handler(struct http_request *req)
{
	struct linking *l = http_request_ctx(req);
	const char *account = partner_account_param(req);
	struct token_make *t;

	if (!account || !linking_enabled(req, l))
		return;
	if (!body_empty(req)) {
		http_reply_error(req, 400, "InvalidRequest", "body: must be empty "
				 "or {}");
		return;
	}
	t = util_xcalloc(1, sizeof(*t));
	if (linking_secret_new(LINKING_TOKEN_PREFIX, t->token, sizeof(t->token))) {
		free(t);
		http_reply_error(req, 503, "Unavailable", "no random bytes; retry");
		return;
	}
	t->req = req;
	snprintf(t->account_id, sizeof(t->account_id), "%s", account);
	linking_secret_hash(t->token, t->hash);
	t->expires_at_ms = util_now_ms() + LINKING_SECRET_TTL_MS;
	t->intent.apply = token_apply;
	t->intent.done = token_done;
	http_request_set_state(req, t, token_free);
	http_request_suspend(req);
	if (store_submit(l->opts.store, &t->intent) != STORE_OK)
		token_done(&t->intent, STORE_CLOSED);
}
