/* linking/flow.c: the browser link flow — GET /v1/link/{provider}/start
 * spends a link token and sends the player to the provider's authorize
 * page (OAuth authorization code with PKCE); GET .../callback spends the
 * state, has a pull worker exchange the code, and links the identity,
 * stores its sealed tokens and schedules a first sync in one transaction
 * before sending the player back to return_to. */
#include "linking/linking_int.h"
#include "partner/partner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"

/* ---- shared ------------------------------------------------------------- */

struct linking *linking_new(const struct linking_options *opts)
{
	struct linking *l = util_xcalloc(1, sizeof(*l));

	l->opts = *opts;
	return l;
}

void linking_free(struct linking *l)
{
	free(l);
}

bool linking_enabled(struct http_request *req, const struct linking *l)
{
	if (l->opts.public_url && *l->opts.public_url)
		return true;
	http_reply_error(req, 404, "LinkingDisabled", "browser linking is off: "
			 "linking.public_url is not set");
	return false;
}

/* The {provider} path parameter if it links players in a browser
 * (borrowed source); otherwise replies 404 and returns NULL. */
static const struct source *provider_param(struct http_request *req,
					   const struct linking *l)
{
	const char *id = http_request_param(req, "provider");
	const struct source *s = id ? sources_find(id) : NULL;

	if (!s || !s->linkable) {
		http_reply_error(req, 404, "UnknownProvider", "no provider \"%s\" "
				 "to link accounts to", id ? id : "");
		return NULL;
	}
	switch (pull_link_offer(l->opts.pull, s->id)) {
	case PULL_LINK_OFFERED:
		return s;
	case PULL_LINK_NOT_ENABLED:
		http_reply_error(req, 404, "ProviderNotEnabled", "%s is not "
				 "enabled: its providers.%s section lacks "
				 "credentials", s->name, s->id);
		return NULL;
	default:
		http_reply_error(req, 404, "BrowserLinkUnsupported", "%s links "
				 "players from the game backend only (PUT "
				 "/v1/accounts/{account_id}/links/%s)", s->name,
				 s->id);
		return NULL;
	}
}

/* A query argument, or NULL (also when it is malformed). */
static const char *query(struct http_request *req, const char *name)
{
	bool bad;
	const char *v = http_request_query(req, name, &bad);

	return bad ? NULL : v;
}

/* {public_url}/v1/link/{provider}/callback (owned). */
static char *redirect_uri(const struct linking *l, const char *provider)
{
	return util_xasprintf("%s/v1/link/%s/callback", l->opts.public_url,
			      provider);
}

/* Replies 302 to `location`, which neither caches nor leaks as a
 * referrer. */
static void reply_redirect(struct http_request *req, const char *location)
{
	http_reply_header(req, "Location", location);
	http_reply_header(req, "Cache-Control", "no-store");
	http_reply_header(req, "Referrer-Policy", "no-referrer");
	http_reply_empty(req, 302);
}

/* ---- start -------------------------------------------------------------- */

/* One start in flight: spend the link token, keep the state. */
struct start {
	struct store_intent intent;
	struct http_request *req;
	const char *provider;                    /* static */
	const char *return_to;                   /* borrowed from the query */
	char token_hash[STORE_SECRET_HASH_LEN + 1];
	char state_hash[STORE_SECRET_HASH_LEN + 1];
	char verifier[LINKING_VERIFIER_SEALED_MAX + 1];  /* sealed */
	char account_id[STORE_ACCOUNT_ID_MAX + 1];
	enum store_secret_result result;
	struct util_buf location;                /* the authorize URL */
};

static void start_free(void *p)
{
	struct start *s = p;

	util_buf_release(&s->location);
	free(s);
}

static int start_apply(struct store_tx *tx, struct store_intent *in)
{
	struct start *s = UTIL_CONTAINER_OF(in, struct start, intent);
	int64_t now = util_now_ms();
	struct store_oauth_state st = {
		.account_id = s->account_id, .provider = s->provider,
		.verifier = s->verifier, .return_to = s->return_to,
		.expires_at_ms = now + LINKING_SECRET_TTL_MS,
	};

	if (store_tx_link_token_spend(tx, s->token_hash, now, s->account_id,
				      sizeof(s->account_id), &s->result))
		return STORE_ERR;
	if (s->result != STORE_SECRET_SPENT)
		return STORE_OK;
	return store_tx_oauth_state_add(tx, s->state_hash, &st, now);
}

/* Writer thread: the reply is the last use of s (http frees it after). */
static void start_done(struct store_intent *in, int rc)
{
	struct start *s = UTIL_CONTAINER_OF(in, struct start, intent);

	if (rc != STORE_OK) {
		partner_reply_store_error(s->req, rc);
		return;
	}
	switch (s->result) {
	case STORE_SECRET_SPENT:
		http_request_log_account(s->req, s->account_id);
		reply_redirect(s->req, s->location.data);
		break;
	case STORE_SECRET_EXPIRED:
		http_reply_error(s->req, 400, "LinkTokenExpired", "link_token: "
				 "expired; ask the game for a new link");
		break;
	case STORE_SECRET_USED:
		http_reply_error(s->req, 400, "LinkTokenUsed", "link_token: "
				 "already used; ask the game for a new link");
		break;
	default:
		http_reply_error(s->req, 400, "InvalidLinkToken", "link_token: "
				 "unknown");
	}
}

/* Checks the query of a start; replies 400 and returns -1 if it is bad. */
static int start_query(struct http_request *req, const struct linking *l,
		       const char **token, const char **return_to)
{
	*token = query(req, "link_token");
	*return_to = query(req, "return_to");
	if (!*token || !**token) {
		http_reply_error(req, 400, "InvalidRequest", "link_token: required");
		return -1;
	}
	if (!linking_secret_well_formed(LINKING_TOKEN_PREFIX, *token)) {
		http_reply_error(req, 400, "InvalidLinkToken", "link_token: unknown");
		return -1;
	}
	if (!*return_to || !**return_to) {
		http_reply_error(req, 400, "InvalidReturnTo", "return_to: required");
		return -1;
	}
	if (linking_return_to_check(*return_to, l->opts.return_to_allow)) {
		http_reply_error(req, 400, "InvalidReturnTo", "return_to: must "
				 "start with one of linking.return_to_allow");
		return -1;
	}
	return 0;
}

/* Makes the state and verifier, and the authorize URL that carries them. */
static int start_prepare(struct start *s, const struct linking *l)
{
	char state[LINKING_SECRET_MAX + 1];
	char verifier[LINKING_SECRET_MAX + 1];
	char challenge[LINKING_CHALLENGE_LEN + 1];
	char *uri;
	int rc = -1;

	util_buf_init(&s->location, 0);
	if (linking_secret_new("", state, sizeof(state)) ||
	    linking_secret_new("", verifier, sizeof(verifier)) ||
	    linking_verifier_seal(state, verifier, s->verifier,
				  sizeof(s->verifier)))
		goto out;
	linking_secret_hash(state, s->state_hash);
	linking_pkce_challenge(verifier, challenge);
	uri = redirect_uri(l, s->provider);
	pull_link_authorize_url(l->opts.pull, s->provider, uri, state, challenge,
				&s->location);
	free(uri);
	rc = 0;
out:
	memset(state, 0, sizeof(state));
	memset(verifier, 0, sizeof(verifier));
	return rc;
}

void linking_start_handler(struct http_request *req)
{
	struct linking *l = http_request_ctx(req);
	const struct source *source;
	const char *token, *return_to;
	struct start *s;

	if (!linking_enabled(req, l) || !(source = provider_param(req, l)) ||
	    start_query(req, l, &token, &return_to))
		return;
	s = util_xcalloc(1, sizeof(*s));
	s->req = req;
	s->provider = source->id;
	s->return_to = return_to;
	linking_secret_hash(token, s->token_hash);
	http_request_set_state(req, s, start_free);
	if (start_prepare(s, l)) {
		http_reply_error(req, 503, "Unavailable", "cannot make a state; "
				 "retry");
		return;
	}
	s->intent.apply = start_apply;
	s->intent.done = start_done;
	http_request_suspend(req);
	if (store_submit(l->opts.store, &s->intent) != STORE_OK)
		start_done(&s->intent, STORE_CLOSED);
}

/* ---- callback ----------------------------------------------------------- */

/* One callback in flight: spend the state, exchange the code on a pull
 * worker, then link in one transaction. */
struct callback {
	struct store_intent intent;
	struct http_request *req;
	struct linking *linking;
	const struct source *source;
	const char *state;                       /* borrowed from the query */
	const char *code;                        /* borrowed from the query */
	const char *provider_error;              /* borrowed from the query */
	char state_hash[STORE_SECRET_HASH_LEN + 1];
	struct store_oauth_state_row st;         /* its verifier sealed */
	char verifier[LINKING_SECRET_MAX + 1];   /* opened */
	enum store_secret_result result;
	/* after the exchange */
	char user_id[STORE_EXTERNAL_ID_MAX + 1];
	void *sealed;                            /* owned */
	size_t sealed_len;
	enum store_link_result link_result;
};

static void callback_free(void *p)
{
	struct callback *c = p;

	memset(c->verifier, 0, sizeof(c->verifier));
	free(c->sealed);
	free(c);
}

/* Logs why a link did not happen. */
static void log_failure(const struct callback *c, const char *error,
			const char *detail)
{
	struct ops_log_line l;

	if (!ops_log_begin(&l, OPS_LOG_WARN, "link_failed"))
		return;
	ops_log_str(&l, "provider", c->source->id);
	ops_log_str(&l, "account_id", c->st.account_id);
	ops_log_str(&l, "error", error);
	ops_log_str(&l, "detail", detail);
	ops_log_end(&l);
}

/* Sends the player back to return_to with `name`=`value`: the last use of
 * c. */
static void back(struct callback *c, const char *name, const char *value)
{
	struct util_buf url;

	util_buf_init(&url, 0);
	linking_return_url(c->st.return_to, name, value, &url);
	reply_redirect(c->req, url.data);
	util_buf_release(&url);
}

static void fail(struct callback *c, const char *error, const char *detail)
{
	log_failure(c, error, detail);
	back(c, "error", error);
}

static int link_apply(struct store_tx *tx, struct store_intent *in)
{
	struct callback *c = UTIL_CONTAINER_OF(in, struct callback, intent);
	const char *account = c->st.account_id, *provider = c->source->id;
	int64_t now = util_now_ms();
	struct store_link_row row;
	bool found;

	if (store_tx_link_put(tx, account, provider, c->user_id, now,
			      &c->link_result, &row))
		return STORE_ERR;
	if (c->link_result == STORE_LINK_TAKEN ||
	    c->link_result == STORE_LINK_NO_ACCOUNT)
		return STORE_OK;
	if (store_tx_link_tokens_set(tx, account, provider, c->sealed,
				     c->sealed_len, now, &found) || !found)
		return STORE_ERR;
	if ((c->link_result == STORE_LINK_CREATED ||
	     c->link_result == STORE_LINK_REPLACED) &&
	    engine_events_link_created(tx, account, provider, row.external_id,
				       c->link_result == STORE_LINK_REPLACED,
				       row.linked_at_ms, "oauth"))
		return STORE_ERR;
	return pull_tx_schedule_sync(tx, account, provider, now);
}

/* Writer thread: the link is committed (or not). */
static void link_done(struct store_intent *in, int rc)
{
	struct callback *c = UTIL_CONTAINER_OF(in, struct callback, intent);
	struct ops_log_line l;

	if (rc != STORE_OK) {
		fail(c, "temporarily_unavailable", "the store failed");
	} else if (c->link_result == STORE_LINK_TAKEN) {
		fail(c, "already_linked", "the identity is linked to another "
		     "account");
	} else if (c->link_result == STORE_LINK_NO_ACCOUNT) {
		fail(c, "account_not_found", "the account no longer exists");
	} else {
		pull_outbox_kick(c->linking->opts.pull);
		if (ops_log_begin(&l, OPS_LOG_INFO, "link_completed")) {
			ops_log_str(&l, "provider", c->source->id);
			ops_log_str(&l, "account_id", c->st.account_id);
			ops_log_str(&l, "external_id", c->user_id);
			ops_log_end(&l);
		}
		back(c, "linked", c->source->id);
	}
}

/* Pull worker: the exchange is over; on success the link is written. */
static void exchanged(void *arg, const struct pull_link_result *r)
{
	struct callback *c = arg;

	if (!r->ok) {
		fail(c, "exchange_failed", r->message);
		return;
	}
	snprintf(c->user_id, sizeof(c->user_id), "%s", r->user_id);
	c->sealed = util_xmalloc(r->sealed_len ? r->sealed_len : 1);
	memcpy(c->sealed, r->sealed, r->sealed_len);
	c->sealed_len = r->sealed_len;
	c->intent.apply = link_apply;
	c->intent.done = link_done;
	if (store_submit(c->linking->opts.store, &c->intent) != STORE_OK)
		link_done(&c->intent, STORE_CLOSED);
}

static int state_apply(struct store_tx *tx, struct store_intent *in)
{
	struct callback *c = UTIL_CONTAINER_OF(in, struct callback, intent);

	return store_tx_oauth_state_spend(tx, c->state_hash, c->source->id,
					  util_now_ms(), &c->st, &c->result);
}

/* The error sent back for a provider's refusal at authorize. */
static const char *provider_refusal(const char *error)
{
	return strcmp(error, "access_denied") == 0 ? "access_denied" :
	       "provider_error";
}

/* Writer thread: the state is spent (or refused); go on with the code. */
static void state_done(struct store_intent *in, int rc)
{
	struct callback *c = UTIL_CONTAINER_OF(in, struct callback, intent);
	struct linking *l = c->linking;
	char *uri;
	int queued;

	if (rc != STORE_OK) {
		partner_reply_store_error(c->req, rc);
		return;
	}
	if (c->result == STORE_SECRET_EXPIRED) {
		http_reply_error(c->req, 400, "StateExpired", "state: expired; "
				 "start the link again");
		return;
	}
	if (c->result == STORE_SECRET_USED) {
		http_reply_error(c->req, 400, "StateUsed", "state: already used");
		return;
	}
	if (c->result != STORE_SECRET_SPENT) {
		http_reply_error(c->req, 400, "InvalidState", "state: unknown");
		return;
	}
	http_request_log_account(c->req, c->st.account_id);
	if (c->provider_error) {
		fail(c, provider_refusal(c->provider_error), c->provider_error);
		return;
	}
	if (!c->code || !*c->code) {
		fail(c, "invalid_request", "the callback has neither code nor "
		     "error");
		return;
	}
	if (linking_verifier_open(c->state, c->st.verifier, c->verifier,
				  sizeof(c->verifier))) {
		fail(c, "exchange_failed", "the stored verifier does not open");
		return;
	}
	uri = redirect_uri(l, c->source->id);
	queued = pull_link_exchange(l->opts.pull, c->source->id,
				    c->st.account_id, c->code, c->verifier,
				    uri, exchanged, c);
	free(uri);  /* c may be gone from here on: the worker answers */
	if (queued)
		fail(c, "temporarily_unavailable", "the server is shutting down");
}

void linking_callback_handler(struct http_request *req)
{
	struct linking *l = http_request_ctx(req);
	const struct source *source;
	const char *state;
	struct callback *c;

	if (!linking_enabled(req, l) || !(source = provider_param(req, l)))
		return;
	state = query(req, "state");
	if (!linking_secret_well_formed("", state)) {
		http_reply_error(req, 400, "InvalidState", "state: %s",
				 state && *state ? "unknown" : "required");
		return;
	}
	c = util_xcalloc(1, sizeof(*c));
	c->req = req;
	c->linking = l;
	c->source = source;
	c->state = state;
	c->code = query(req, "code");
	c->provider_error = query(req, "error");
	linking_secret_hash(state, c->state_hash);
	c->intent.apply = state_apply;
	c->intent.done = state_done;
	http_request_set_state(req, c, callback_free);
	http_request_suspend(req);
	if (store_submit(l->opts.store, &c->intent) != STORE_OK)
		state_done(&c->intent, STORE_CLOSED);
}
