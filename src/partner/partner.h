/* partner: the game backend's API (scope "partner") — accounts, their links
 * to provider identities, inventory and the entitlement history support
 * staff read. */
#ifndef GRANTD_PARTNER_H
#define GRANTD_PARTNER_H

#include "engine/engine.h"
#include "http/http.h"
#include "outbox/outbox.h"
#include "store/store.h"

/* Route ctx for the handlers here: the struct store, unless said. */
void partner_account_put(struct http_request *req);
void partner_account_get(struct http_request *req);
/* GET /v1/accounts/{account_id}/inventory; route ctx: struct
 * partner_inventory. Live broadcasts the account has not had are granted
 * first. */
struct partner_inventory {
	struct store *store;      /* both borrowed */
	struct engine *engine;
};
void partner_inventory_get(struct http_request *req);
void partner_history_get(struct http_request *req);

/* GET /v1/operator/fulfillments (search, newest first, cursor pages) and
 * GET /v1/operator/fulfillments/{fulfillment_id} (one, with its grants);
 * scope operator; route ctx: struct store. */
void partner_fulfillments_search(struct http_request *req);
void partner_fulfillment_get(struct http_request *req);
/* GET /v1/operator/accounts/{account_id}: the account, its links and its
 * inventory in one reply; scope operator; route ctx: struct store. */
void partner_operator_account_get(struct http_request *req);
/* Route ctx of the link handlers: a new link queues a background sync in
 * the outbox, which is woken once it commits. Both borrowed. */
struct partner_links {
	struct store *store;
	struct outbox *outbox;
};

/* PUT and DELETE /v1/accounts/{account_id}/links/{provider}, and GET
 * /v1/accounts/{account_id}/links; route ctx: struct partner_links. */
void partner_link_put(struct http_request *req);
void partner_link_delete(struct http_request *req);
void partner_links_get(struct http_request *req);

/* GET /v1/events: the events feed (route ctx: struct store). */
void partner_events_get(struct http_request *req);
struct outbound;
/* Has `o` (borrowed; it must outlive the outbox) deliver the outbox's
 * event webhooks, to the webhooks engine_events_configure named. Before
 * outbox_start. */
void partner_webhooks_register(struct outbox *ob, struct outbound *o);

/* Parses a PUT account body: {"state": "active"|"suspended"|"banned"} and
 * nothing else. Returns 0, or -1 with the problem in msg. Exposed for the
 * fuzzer. */
int partner_parse_account_body(const char *body, size_t len,
			       enum store_account_state *state, char *msg,
			       size_t msg_size);

/* Parses a PUT link body: {"external_id": "…"} and nothing else. Returns 0
 * with *external_id borrowed from *root (a new reference the caller
 * releases), or -1 with the problem in msg (and *root NULL). Exposed for
 * the fuzzer. */
int partner_parse_link_body(const char *body, size_t len,
			    const char **external_id, json_t **root, char *msg,
			    size_t msg_size);

/* POST /v1/fulfillments/{fulfillment_id}/revoke (scopes partner or
 * operator); route ctx: the struct engine. */
void partner_fulfillment_revoke(struct http_request *req);

#define PARTNER_REVOKE_REASON_MAX 500   /* characters */
#define PARTNER_REVOKE_REASON_BYTES_MAX (4 * PARTNER_REVOKE_REASON_MAX)
/* Parses a revoke body: {"reason": "1 to 500 characters", "release_claim":
 * bool (optional, false)} and nothing else. Returns 0 with the reason
 * copied into `reason` (reason_size > PARTNER_REVOKE_REASON_BYTES_MAX),
 * or -1 with the problem in msg. Exposed for the fuzzer. */
int partner_parse_revoke_body(const char *body, size_t len, char *reason,
			      size_t reason_size, bool *release_claim,
			      char *msg, size_t msg_size);
/* The body {"reason": "…"} and nothing else (operator actions that only
 * say why), with the same rules for reason as above. */
int partner_parse_reason_body(const char *body, size_t len, char *reason,
			      size_t reason_size, char *msg, size_t msg_size);

/* PUT /v1/operator/accounts/{account_id}/state {"state", "reason"}: an
 * existing account's state changed by support staff, audited with the
 * reason (scope operator; route ctx: struct store). */
void partner_account_state_put(struct http_request *req);
/* Its body: state as in partner_parse_account_body, reason as in
 * partner_parse_reason_body, nothing else. Returns 0, or -1 + msg. */
int partner_parse_state_body(const char *body, size_t len,
			     enum store_account_state *state, char *reason,
			     size_t reason_size, char *msg, size_t msg_size);

/* ---- for every handler of /v1/accounts/{account_id}/… (also the link
 * flow's and the offer relay's) ---- */

/* The {account_id} path parameter if it is a valid account id (borrowed);
 * otherwise replies 400 and returns NULL. */
const char *partner_account_param(struct http_request *req);
/* Replies 404 AccountNotFound. */
void partner_reply_no_account(struct http_request *req, const char *id);
/* Reads account `id` into *out. Returns true if it exists; otherwise
 * replies (404, or 503 for a store failure) and returns false. */
bool partner_account_found(struct http_request *req, struct store *st,
			   const char *id, struct store_account *out);
/* Replies 503 for a store failure (or shutdown). */
void partner_reply_store_error(struct http_request *req, int rc);
#define PARTNER_PAGE_SIZE_DEFAULT 50
#define PARTNER_PAGE_SIZE_MAX 1000

#endif
