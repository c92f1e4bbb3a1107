/* app/app_int.h (private to app): helpers shared by the command files. */
#ifndef GRANTD_APP_INT_H
#define GRANTD_APP_INT_H

#include "app/config.h"
#include "catalog/catalog.h"
#include "engine/engine.h"
#include "http/http.h"
#include "store/store.h"

/* Loads the configuration (file + GRANTD_* environment), printing every
 * problem to stderr. Returns 0 or -1. */
int app_config_load(const char *path, struct config *out);
/* Opens the configured store, printing a failure to stderr. Returns the
 * store or NULL. */
struct store *app_store_open(const struct config *cfg);
/* Loads the catalog, logging every problem. Returns a new snapshot or NULL. */
struct catalog *app_catalog_load(const char *path, const char *event);

/* What the operations handlers read (their route ctx). */
struct app_ctx {
	struct store *store;
	struct catalog_holder *catalog;
	struct engine *engine;
};

/* Fills `routes` (at least APP_ROUTES_MAX entries) and returns the count. */
#define APP_ROUTES_MAX 16
size_t app_routes_build(struct http_route *routes, struct app_ctx *ctx);

/* GET /metrics (metrics.c). */
void app_metrics(struct http_request *req);

#endif
