/* sources: one adapter per provider. Each parses and authenticates what its
 * provider sends, turns it into a canonical entitlement for the engine, and
 * answers in the provider's own contract. */
#ifndef GRANTD_SOURCES_H
#define GRANTD_SOURCES_H

#include "http/http.h"

/* Prime Gaming push fulfilment: POST /v1/primegaming/fulfillment.
 * Route ctx: the struct engine. */
void sources_primegaming_fulfill(struct http_request *req);
/* The route's answer over the rate limit: 429 RequestThrottled naming the
 * body's transaction_id ("request" if the body has none). */
void sources_primegaming_throttled(struct http_request *req);

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
