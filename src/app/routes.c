/* app/routes.c: the route table (every endpoint, its scope and handler) and
 * the health endpoints. */
#include "app/app_int.h"

#include "auth/auth.h"
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

	catalog_unref(c);
	if (!catalog_ok) {
		http_reply_error(req, 503, "NotReady", "no catalog is loaded");
		return;
	}
	if (store_ping(h->store)) {
		http_reply_error(req, 503, "NotReady", "the store is unreachable");
		return;
	}
	http_reply_static(req, 200, "{\"status\":\"ready\"}");
}

size_t app_routes_build(struct http_route *r, struct app_ctx *ctx)
{
	struct store *st = ctx->store;

	const struct http_route table[] = {
		{ HTTP_POST, "/v1/primegaming/fulfillment",
		  sources_primegaming_fulfill, AUTH_SCOPE_PRIMEGAMING,
		  HTTP_ROUTE_JSON_BODY, "primegaming.fulfill", ctx->engine,
		  sources_primegaming_throttled },
		/* clients authenticate inside (RFC 6749 §2.3), not by bearer */
		{ HTTP_POST, "/oauth2/token", auth_token_endpoint, 0, 0,
		  "oauth2.token", ctx->auth, NULL },
		{ HTTP_PUT, "/v1/accounts/{account_id}", partner_account_put,
		  AUTH_SCOPE_PARTNER, HTTP_ROUTE_JSON_BODY, "accounts.put", st, NULL },
		{ HTTP_GET, "/v1/accounts/{account_id}", partner_account_get,
		  AUTH_SCOPE_PARTNER, 0, "accounts.get", st, NULL },
		{ HTTP_GET, "/v1/accounts/{account_id}/inventory",
		  partner_inventory_get, AUTH_SCOPE_PARTNER, 0, "inventory.get", st, NULL },
		{ HTTP_GET, "/v1/accounts/{account_id}/entitlements/history",
		  partner_history_get, AUTH_SCOPE_PARTNER, 0, "history.get", st, NULL },
		{ HTTP_GET, "/healthz", healthz, 0, 0, "healthz", ctx, NULL },
		{ HTTP_GET, "/readyz", readyz, 0, 0, "readyz", ctx, NULL },
		{ HTTP_GET, "/metrics", app_metrics, AUTH_SCOPE_OPERATOR, 0,
		  "metrics", ctx, NULL },
	};

	UTIL_ASSERT(UTIL_ARRAY_LEN(table) <= APP_ROUTES_MAX);
	for (size_t i = 0; i < UTIL_ARRAY_LEN(table); i++)
		r[i] = table[i];
	return UTIL_ARRAY_LEN(table);
}
