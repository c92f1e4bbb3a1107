/* sources: one adapter per provider. Each parses and authenticates what its
 * provider sends, turns it into a canonical entitlement for the engine, and
 * answers in the provider's own contract. The sources table is the one
 * place a provider is declared (docs/internals/adding-a-provider.md). */
#ifndef GRANTD_SOURCES_H
#define GRANTD_SOURCES_H

#include <stddef.h>

#include "catalog/catalog.h"
#include "http/http.h"

/* A route a provider calls (a push source). The handler's route ctx is the
 * struct engine. */
struct source_route {
	enum http_method method;
	const char *pattern;
	http_handler_fn handler;
	unsigned flags;              /* HTTP_ROUTE_* */
	const char *name;            /* for logs and metrics: "primegaming.fulfill" */
	http_handler_fn throttled;   /* the answer over the rate limit; NULL: generic */
};

/* A provider grantd knows. Each provider's file defines one; sources.c
 * lists them. */
struct source {
	const char *id;              /* "primegaming": in records, metrics, config */
	const char *name;            /* "Prime Gaming", for people */
	unsigned scope;              /* AUTH_SCOPE_* its routes require; 0: none */
	/* The catalog namespaces its provider item ids are looked up in. */
	const enum catalog_provider *namespaces;
	size_t n_namespaces;
	const struct source_route *routes;
	size_t n_routes;
	/* Accounts may be linked to this provider's identities (grantd calls
	 * the provider for them). check_external_id, if not NULL, adds the
	 * provider's own rule for an identity: returns 0, or -1 with the rule
	 * in msg. */
	bool linkable;
	int (*check_external_id)(const char *id, char *msg, size_t size);
};

/* Every source, in a fixed order (borrowed, static); *n gets the count. */
const struct source *const *sources_all(size_t *n);
/* The source with `id` (borrowed), or NULL. */
const struct source *sources_find(const char *id);
/* How many routes all sources declare together. */
size_t sources_route_count(void);
/* Checks an identity at linkable source `s`: 1..STORE_EXTERNAL_ID_MAX
 * printable ASCII characters, then the provider's own rule. Returns 0, or
 * -1 with "external_id: <rule>" in msg. */
int sources_check_external_id(const struct source *s, const char *id,
			      char *msg, size_t size);

/* ---- the sources ---------------------------------------------------- */

/* Prime Gaming: push fulfilment (POST /v1/primegaming/fulfillment), and
 * linkable Amazon accounts for its pull API. */
extern const struct source source_primegaming;
/* Twitch Drops: linkable Twitch users. */
extern const struct source source_twitch;
/* Epic Games Store: linkable Epic accounts. */
extern const struct source source_epic;
/* Steam: linkable SteamID64s. */
extern const struct source source_steam;

/* Parses a Prime Gaming fulfilment body. On success returns 0 and borrowed
 * pointers into *root (a new reference the caller releases). On failure
 * returns -1 with *code and a message in msg (and *root NULL). Exposed for
 * the fuzzer and unit tests. */
struct sources_pg_body {
	const char *account_id;
	const char *sku;
	const char *transaction_id;
};
int sources_primegaming_parse(const char *body, size_t len, json_t **root,
			      struct sources_pg_body *out, const char **code,
			      char *msg, size_t msg_size);

#endif
