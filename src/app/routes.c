/* app/routes.c: the route table — every source's routes (declared in the
 * sources table) and grantd's own endpoints, with their scopes and
 * handlers — and the health endpoints. */
#include "app/app_int.h"

#include "auth/auth.h"
#include "linking/linking.h"
#include "partner/partner.h"
#include "sources/sources.h"

static void healthz(struct http_request *req)
{
	http_reply_static(req, 200, "{\"status\":\"ok\"}");
}

static void readyz(struct http_request *req)
{
	struct app_ctx *h = http_request_ctx(req);
	struct catalog *c = catalog_holder_get(h->catalog);
	bool catalog_ok = c != NULL;
	enum store_health health;

	catalog_unref(c);
	if (!catalog_ok) {
		http_reply_error(req, 503, "NotReady", "no catalog is loaded");
		return;
	}
	health = store_health(h->store);
	if (health != STORE_HEALTHY) {
		http_reply_error(req, 503, "NotReady", "%s",
				 store_health_reason(health));
		return;
	}
	http_reply_static(req, 200, "{\"status\":\"ready\"}");
}

/* Appends every source's routes, with the source's scope and the engine
 * as their ctx (GAMEPOT's: its settings, which hold the engine). */
static size_t source_routes(struct http_route *r, struct app_ctx *ctx)
{
	size_t n_sources, n = 0;
	const struct source *const *all = sources_all(&n_sources);

	for (size_t i = 0; i < n_sources; i++) {
		for (size_t j = 0; j < all[i]->n_routes; j++) {
			const struct source_route *sr = &all[i]->routes[j];

			r[n++] = (struct http_route){
				.method = sr->method, .pattern = sr->pattern,
				.handler = sr->handler, .scopes = all[i]->scope,
				.flags = sr->flags, .name = sr->name,
				.ctx = all[i] == &source_gamepot ?
				       (void *)ctx->gamepot : ctx->engine,
				.throttled = sr->throttled,
			};
		}
	}
	return n;
}

size_t app_routes_build(struct http_route *r, struct app_ctx *ctx)
{
	struct store *st = ctx->store;
	size_t n;

	const struct http_route table[] = {
		/* clients authenticate inside (RFC 6749 §2.3), not by bearer */
		{ HTTP_POST, "/oauth2/token", auth_token_endpoint, 0, 0,
		  "oauth2.token", ctx->auth, NULL },
		{ HTTP_PUT, "/v1/accounts/{account_id}", partner_account_put,
		  AUTH_SCOPE_PARTNER, HTTP_ROUTE_JSON_BODY, "accounts.put", st, NULL },
		{ HTTP_GET, "/v1/accounts/{account_id}", partner_account_get,
		  AUTH_SCOPE_PARTNER, 0, "accounts.get", st, NULL },
		{ HTTP_PUT, "/v1/accounts/{account_id}/links/{provider}",
		  partner_link_put, AUTH_SCOPE_PARTNER, HTTP_ROUTE_JSON_BODY,
		  "links.put", &ctx->links, NULL },
		{ HTTP_DELETE, "/v1/accounts/{account_id}/links/{provider}",
		  partner_link_delete, AUTH_SCOPE_PARTNER, 0, "links.delete",
		  &ctx->links, NULL },
		{ HTTP_GET, "/v1/accounts/{account_id}/links", partner_links_get,
		  AUTH_SCOPE_PARTNER, 0, "links.get", &ctx->links, NULL },
		{ HTTP_GET, "/v1/accounts/{account_id}/inventory",
		  partner_inventory_get, AUTH_SCOPE_PARTNER, 0, "inventory.get",
		  &ctx->inventory, NULL },
		{ HTTP_POST, "/v1/accounts/{account_id}/entitlements/sync",
		  pull_sync_handler, AUTH_SCOPE_PARTNER, 0, "entitlements.sync",
		  ctx->pull, NULL },
		{ HTTP_POST, "/v1/accounts/{account_id}/link-tokens",
		  linking_token_handler, AUTH_SCOPE_PARTNER, 0, "links.token",
		  ctx->linking, NULL },
		/* the player's browser: the link token or state is the authority */
		{ HTTP_GET, "/v1/link/{provider}/start", linking_start_handler, 0,
		  0, "link.start", ctx->linking, NULL },
		{ HTTP_GET, "/v1/link/{provider}/callback",
		  linking_callback_handler, 0, 0, "link.callback", ctx->linking,
		  NULL },
		{ HTTP_POST, "/v1/accounts/{account_id}/offers/verify",
		  offers_verify_handler, AUTH_SCOPE_PARTNER, HTTP_ROUTE_JSON_BODY,
		  "offers.verify", ctx->offers, NULL },
		{ HTTP_POST, "/v1/accounts/{account_id}/gamepot/login",
		  sources_gamepot_login_post, AUTH_SCOPE_PARTNER,
		  HTTP_ROUTE_JSON_BODY, "gamepot.login.post",
		  (void *)ctx->gamepot, NULL },
		{ HTTP_GET, "/v1/accounts/{account_id}/gamepot/login",
		  sources_gamepot_login_get, AUTH_SCOPE_PARTNER, 0,
		  "gamepot.login.get", (void *)ctx->gamepot, NULL },
		{ HTTP_POST, "/v1/accounts/{account_id}/gamepot/external-payments",
		  sources_gamepot_payment_handler, AUTH_SCOPE_PARTNER,
		  HTTP_ROUTE_JSON_BODY, "gamepot.external_payment",
		  (void *)ctx->gamepot, NULL },
		{ HTTP_POST, "/v1/accounts/{account_id}/offers/{offer_id}/redeem",
		  offers_redeem_handler, AUTH_SCOPE_PARTNER, HTTP_ROUTE_JSON_BODY,
		  "offers.redeem", ctx->offers, NULL },
		{ HTTP_GET, "/v1/accounts/{account_id}/entitlements/history",
		  partner_history_get, AUTH_SCOPE_PARTNER, 0, "history.get", st, NULL },
		{ HTTP_GET, "/v1/operator/fulfillments",
		  partner_fulfillments_search, AUTH_SCOPE_OPERATOR, 0,
		  "operator.fulfillments", st, NULL },
		{ HTTP_GET, "/v1/operator/fulfillments/{fulfillment_id}",
		  partner_fulfillment_get, AUTH_SCOPE_OPERATOR, 0,
		  "operator.fulfillment", st, NULL },
		{ HTTP_PUT, "/v1/operator/accounts/{account_id}/state",
		  partner_account_state_put, AUTH_SCOPE_OPERATOR,
		  HTTP_ROUTE_JSON_BODY, "operator.account_state", st, NULL },
		{ HTTP_GET, "/v1/operator/accounts/{account_id}/entitlements/history",
		  partner_history_get, AUTH_SCOPE_OPERATOR, 0,
		  "operator.history", st, NULL },
		{ HTTP_GET, "/v1/operator/accounts/{account_id}",
		  partner_operator_account_get, AUTH_SCOPE_OPERATOR, 0,
		  "operator.account", st, NULL },
		{ HTTP_GET, "/v1/operator/catalog", app_catalog_get,
		  AUTH_SCOPE_OPERATOR, 0, "operator.catalog", ctx, NULL },
		{ HTTP_POST, "/v1/operator/catalog/reload", app_catalog_reload_post,
		  AUTH_SCOPE_OPERATOR, 0, "operator.catalog.reload", ctx, NULL },
		/* the console's files are public; its data routes need the key */
		{ HTTP_GET, "/console/", app_console_index, 0, 0, "console",
		  ctx, NULL },
		{ HTTP_GET, "/console/{file}", app_console_file, 0, 0,
		  "console.file", ctx, NULL },
		{ HTTP_GET, "/v1/events", partner_events_get, AUTH_SCOPE_PARTNER,
		  0, "events.get", st, NULL },
		/* the game backend (refunds) and support staff alike */
		{ HTTP_POST, "/v1/fulfillments/{fulfillment_id}/revoke",
		  partner_fulfillment_revoke,
		  AUTH_SCOPE_PARTNER | AUTH_SCOPE_OPERATOR,
		  HTTP_ROUTE_JSON_BODY | HTTP_ROUTE_ANY_SCOPE,
		  "fulfillments.revoke", ctx->engine, NULL },
		{ HTTP_GET, "/healthz", healthz, 0, 0, "healthz", ctx, NULL },
		{ HTTP_GET, "/readyz", readyz, 0, 0, "readyz", ctx, NULL },
		{ HTTP_GET, "/metrics", app_metrics, AUTH_SCOPE_OPERATOR, 0,
		  "metrics", ctx, NULL },
		{ HTTP_GET, "/openapi.yaml", app_openapi, 0, 0, "openapi", ctx,
		  NULL },
		{ HTTP_GET, "/v1/operator/outbox", app_outbox_list,
		  AUTH_SCOPE_OPERATOR, 0, "operator.outbox.list", ctx, NULL },
		{ HTTP_POST, "/v1/operator/outbox/{id}/retry", app_outbox_retry,
		  AUTH_SCOPE_OPERATOR, 0, "operator.outbox.retry", ctx, NULL },
		{ HTTP_POST, "/v1/operator/outbox/retry-dead", app_outbox_retry,
		  AUTH_SCOPE_OPERATOR, 0, "operator.outbox.retry_dead", ctx, NULL },
		{ HTTP_POST, "/v1/operator/outbox/{id}/give-up", app_outbox_give_up,
		  AUTH_SCOPE_OPERATOR, HTTP_ROUTE_JSON_BODY,
		  "operator.outbox.give_up", ctx, NULL },
	};

	UTIL_ASSERT(sources_route_count() + UTIL_ARRAY_LEN(table) <= APP_ROUTES_MAX);
	n = source_routes(r, ctx);
	for (size_t i = 0; i < UTIL_ARRAY_LEN(table); i++)
		r[n++] = table[i];
	return n;
}
