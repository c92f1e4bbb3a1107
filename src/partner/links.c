/* partner/links.c: the links of an account to provider identities, made by
 * a game backend that already knows them — PUT, GET and DELETE
 * /v1/accounts/{account_id}/links[/{provider}]. */
#include "partner/partner_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sources/sources.h"

/* One PUT or DELETE in flight: the writer changes the link. */
struct link_change {
	struct store_intent intent;
	struct http_request *req;
	struct outbox *outbox;
	char account_id[STORE_ACCOUNT_ID_MAX + 1];
	const struct source *source;
	char external_id[STORE_EXTERNAL_ID_MAX + 1];  /* PUT */
	enum store_link_result result;                /* PUT */
	struct store_link_row link;                   /* PUT: as it now is */
	bool found;                                   /* DELETE */
	bool no_account;                              /* DELETE */
};

static json_t *link_json(const char *provider, const char *external_id,
			 enum store_link_state state, int64_t linked_at_ms)
{
	char at[25];

	util_rfc3339_format(linked_at_ms, at);
	return json_pack("{s:s, s:s, s:s, s:s}", "provider", provider,
			 "external_id", external_id,
			 "state", store_link_state_name(state), "linked_at", at);
}

/* The {provider} path parameter if it names a provider accounts can be
 * linked to (borrowed source); otherwise replies 404 and returns NULL. */
static const struct source *provider_param(struct http_request *req)
{
	const char *id = http_request_param(req, "provider");
	const struct source *s = id ? sources_find(id) : NULL;
	const struct source *const *all;
	struct util_buf names;
	size_t n;

	if (s && s->linkable)
		return s;
	util_buf_init(&names, 0);
	all = sources_all(&n);
	for (size_t i = 0; i < n; i++)
		if (all[i]->linkable)
			util_buf_printf(&names, "%s%s", names.len ? ", " : "",
					all[i]->id);
	http_reply_error(req, 404, "UnknownProvider", "no provider \"%s\" to link "
			 "accounts to; known: %s", id ? id : "", names.data);
	util_buf_release(&names);
	return NULL;
}

int partner_parse_link_body(const char *body, size_t len, const char **external_id,
			    json_t **root, char *msg, size_t msg_size)
{
	json_t *v = partner_parse_object(body, len, "external_id", root, msg,
					 msg_size);

	if (!*root)
		return -1;
	if (!json_is_string(v)) {
		snprintf(msg, msg_size, "external_id: %s", v ? "must be a string" :
			 "required");
		json_decref(*root);
		*root = NULL;
		return -1;
	}
	*external_id = json_string_value(v);
	return 0;
}

/* ---- PUT ------------------------------------------------------------------ */

static int put_apply(struct store_tx *tx, struct store_intent *in)
{
	struct link_change *c = UTIL_CONTAINER_OF(in, struct link_change, intent);
	int64_t now = util_now_ms();

	if (store_tx_link_put(tx, c->account_id, c->source->id, c->external_id,
			      now, &c->result, &c->link))
		return STORE_ERR;
	if ((c->result == STORE_LINK_CREATED ||
	     c->result == STORE_LINK_REPLACED) &&
	    engine_events_link_created(tx, c->account_id, c->source->id,
				       c->link.external_id,
				       c->result == STORE_LINK_REPLACED,
				       c->link.linked_at_ms, "api"))
		return STORE_ERR;
	/* a new identity: fetch what it already holds, crash or not */
	if (c->source->pull && (c->result == STORE_LINK_CREATED ||
				c->result == STORE_LINK_REPLACED))
		return pull_tx_schedule_sync(tx, c->account_id, c->source->id,
					     now);
	return STORE_OK;
}

/* Writer thread: the reply is the last use of c (http frees it after). */
static void put_done(struct store_intent *in, int rc)
{
	struct link_change *c = UTIL_CONTAINER_OF(in, struct link_change, intent);

	if (rc != STORE_OK) {
		partner_reply_store_error(c->req, rc);
	} else if (c->result == STORE_LINK_NO_ACCOUNT) {
		partner_reply_no_account(c->req, c->account_id);
	} else if (c->result == STORE_LINK_TAKEN) {
		http_reply_error(c->req, 409, "AlreadyLinked", "%s identity \"%s\" "
				 "is linked to another account; unlink it there "
				 "first", c->source->name, c->external_id);
	} else {
		if (c->source->pull && c->outbox &&
		    (c->result == STORE_LINK_CREATED ||
		     c->result == STORE_LINK_REPLACED))
			outbox_kick(c->outbox);  /* its background sync */
		http_reply_json(c->req, c->result == STORE_LINK_CREATED ? 201 : 200,
				link_json(c->source->id, c->link.external_id,
					  c->link.state, c->link.linked_at_ms));
	}
}

/* A change for the request's account and provider, or NULL after a reply. */
static struct link_change *change_new(struct http_request *req)
{
	const char *account = partner_account_param(req);
	const struct source *source = account ? provider_param(req) : NULL;
	struct link_change *c;

	if (!source)
		return NULL;
	c = util_xcalloc(1, sizeof(*c));
	c->req = req;
	c->source = source;
	snprintf(c->account_id, sizeof(c->account_id), "%s", account);
	return c;
}

static void submit(struct http_request *req, struct link_change *c)
{
	struct partner_links *ctx = http_request_ctx(req);
	struct store *st = ctx->store;

	c->outbox = ctx->outbox;
	http_request_set_state(req, c, free);
	http_request_suspend(req);
	if (store_submit(st, &c->intent) != STORE_OK)
		c->intent.done(&c->intent, STORE_CLOSED);
}

void partner_link_put(struct http_request *req)
{
	struct link_change *c = change_new(req);
	const char *body, *external_id;
	char msg[256];
	json_t *root;
	size_t len;

	if (!c)
		return;
	body = http_request_body(req, &len);
	if (partner_parse_link_body(body, len, &external_id, &root, msg,
				    sizeof(msg)) == 0) {
		if (sources_check_external_id(c->source, external_id, msg,
					      sizeof(msg)) == 0)
			snprintf(c->external_id, sizeof(c->external_id), "%s",
				 external_id);
		json_decref(root);
	}
	if (!c->external_id[0]) {
		http_reply_error(req, 400, "InvalidRequest", "%s", msg);
		free(c);
		return;
	}
	c->intent.apply = put_apply;
	c->intent.done = put_done;
	submit(req, c);
}

/* ---- DELETE ---------------------------------------------------------------- */

static int delete_apply(struct store_tx *tx, struct store_intent *in)
{
	struct link_change *c = UTIL_CONTAINER_OF(in, struct link_change, intent);
	enum store_account_state state;
	bool account;
	int rc = store_tx_account_get(tx, c->account_id, &state, &account);

	c->no_account = !account;
	c->found = false;
	if (rc || !account)
		return rc;
	return store_tx_link_delete(tx, c->account_id, c->source->id, &c->found);
}

static void delete_done(struct store_intent *in, int rc)
{
	struct link_change *c = UTIL_CONTAINER_OF(in, struct link_change, intent);

	if (rc != STORE_OK)
		partner_reply_store_error(c->req, rc);
	else if (c->no_account)
		partner_reply_no_account(c->req, c->account_id);
	else if (!c->found)
		http_reply_error(c->req, 404, "LinkNotFound", "account \"%s\" has no "
				 "%s link", c->account_id, c->source->name);
	else
		http_reply_empty(c->req, 204);
}

void partner_link_delete(struct http_request *req)
{
	struct link_change *c = change_new(req);

	if (!c)
		return;
	c->intent.apply = delete_apply;
	c->intent.done = delete_done;
	submit(req, c);
}

/* ---- GET -------------------------------------------------------------------- */

static void add_link(void *arg, const struct store_link *l)
{
	json_array_append_new(arg, link_json(l->provider, l->external_id,
					     l->state, l->linked_at_ms));
}

int partner_links_json(struct store *st, const char *id, json_t **out)
{
	json_t *links = json_array();

	*out = NULL;
	if (store_links_read(st, id, add_link, links)) {
		json_decref(links);
		return -1;
	}
	*out = links;
	return 0;
}

void partner_links_get(struct http_request *req)
{
	struct store *st = ((struct partner_links *)http_request_ctx(req))->store;
	const char *id = partner_account_param(req);
	struct store_account a;
	json_t *links;

	if (!id || !partner_account_found(req, st, id, &a))
		return;
	if (partner_links_json(st, id, &links)) {
		partner_reply_store_error(req, STORE_ERR);
		return;
	}
	http_reply_json(req, 200, json_pack("{s:o}", "links", links));
}
