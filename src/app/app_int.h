/* app/app_int.h (private to app): helpers shared by the command files. */
#ifndef GRANTD_APP_INT_H
#define GRANTD_APP_INT_H

#include "app/config.h"
#include "auth/auth.h"
#include "catalog/catalog.h"
#include "engine/engine.h"
#include "http/http.h"
#include "offers/offers.h"
#include "partner/partner.h"
#include "sources/sources.h"
#include "store/store.h"

/* Loads the configuration (file + GRANTD_* environment), printing every
 * problem to stderr. Returns 0 or -1. */
int app_config_load(const char *path, struct config *out);
/* Opens config and store for a one-shot command, with quiet logs (the
 * command prints). Only `migrate` may create the database (create); other
 * commands are refused when there is none. Returns the store (owned) or
 * NULL after printing why. */
struct store *app_open_for_command(const char *config_path, struct config *cfg,
				   bool create);
/* Prints `j` as one line of compact JSON on stdout, and drops the
 * reference it is given. */
void app_print_json(json_t *j);
/* Opens the configured store (creating the database if `create`),
 * printing a failure to stderr. Returns the store or NULL. */
struct store *app_store_open(const struct config *cfg, bool create);
/* Loads the catalog, logging every problem as `event`. Returns a new
 * snapshot, or NULL with the problems appended to `problems_out` (if not
 * NULL). */
struct catalog *app_catalog_load(const char *path, const char *event,
				 struct util_strlist *problems_out);

/* ---- signing keys in the database (signing.c) ---- */

/* Adds a signing key if none is active (a new database), recording it in
 * the audit trail. *created tells whether it did. Returns 0 or -1. */
int app_signing_keys_ensure(struct store *st, bool *created);

/* ---- the audit trail (audit.c) ---- */

/* Adds an audit record inside a writer transaction. `detail` is borrowed
 * (NULL: {}). Returns a store_rc. */
int app_audit_tx(struct store_tx *tx, const char *actor, const char *action,
		 const char *target, json_t *detail);
/* Adds an audit record in a transaction of its own, logging a failure.
 * Takes over `detail` (NULL: {}). */
void app_audit_record(struct store *st, const char *actor, const char *action,
		      const char *target, json_t *detail);
/* "cli:<unix user>", the actor of command-line changes. */
void app_audit_cli_actor(char *out, size_t size);

/* What the operations handlers read (their route ctx). */
struct app_ctx {
	struct store *store;
	struct catalog_holder *catalog;
	struct engine *engine;
	struct auth *auth;
	struct pull *pull;
	struct outbox *outbox;
	struct partner_links links;   /* the link routes' ctx */
	struct partner_inventory inventory; /* the inventory route's ctx */
	struct linking *linking;
	const struct gamepot_settings *gamepot; /* GAMEPOT's routes' ctx */
	struct offers_relay *offers;  /* the TentuPlay relay's route ctx */
	const char *catalog_path;     /* catalog.path, for reloads */
};

/* Most sources grantd may know. */
#define APP_SOURCES_MAX 16

/* Fills `routes` (at least APP_ROUTES_MAX entries) and returns the count. */
#define APP_ROUTES_MAX 64
size_t app_routes_build(struct http_route *routes, struct app_ctx *ctx);

/* GET /v1/operator/outbox and POST /v1/operator/outbox/{id}/retry,
 * /v1/operator/outbox/retry-dead (outbox.c); route ctx: struct app_ctx. */
void app_outbox_list(struct http_request *req);
void app_outbox_retry(struct http_request *req);
/* POST /v1/operator/outbox/{id}/give-up {"reason"}: a waiting delivery
 * is marked dead with the reason, audited. */
void app_outbox_give_up(struct http_request *req);

/* ---- the catalog in force (catalog_routes.c) ---- */

/* What a reload acts on; all borrowed. */
struct app_catalog_reload_args {
	struct store *store;            /* for the audit record */
	struct catalog_holder *holder;
	const char *path;
	const char *actor;              /* "server", "api:<key name>" */
};
/* Rereads the catalog file and, if it is valid, puts it in force (SIGHUP
 * and POST /v1/operator/catalog/reload); either way an audit record says
 * so. Returns 0 with the entitlement count in *entries (if not NULL), or
 * -1 with every problem appended to `problems_out` (if not NULL) and the
 * catalog in force kept. */
int app_catalog_reload(const struct app_catalog_reload_args *a,
		       struct util_strlist *problems_out, size_t *entries);
/* The catalog as GET /v1/operator/catalog shows it (a new object). */
json_t *app_catalog_json(const struct catalog *c);
/* GET /v1/operator/catalog and POST /v1/operator/catalog/reload; route
 * ctx: struct app_ctx. */
void app_catalog_get(struct http_request *req);
void app_catalog_reload_post(struct http_request *req);

/* GET /console/ and /console/{file}, the operator console's static files
 * (console.c); no credential, route ctx unused. */
void app_console_index(struct http_request *req);
/* The console's files, embedded at build time (the generated
 * console_assets.c); static, sorted by name. */
struct app_console_asset {
	const char *name;             /* "app.js" */
	const unsigned char *data;    /* len bytes, then a NUL */
	size_t len;
};
extern const struct app_console_asset app_console_assets[];
extern const size_t app_console_asset_count;
void app_console_file(struct http_request *req);

/* GET /metrics (metrics.c). */
void app_metrics(struct http_request *req);

/* docs/openapi.yaml, NUL-terminated, and its length without the NUL
 * (generated from the file at build time by cmake/embed.cmake). */
extern const unsigned char app_openapi_yaml[];
extern const size_t app_openapi_yaml_len;
/* GET /openapi.yaml (openapi.c): the document as application/yaml. */
void app_openapi(struct http_request *req);

#endif
