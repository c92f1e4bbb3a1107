/* engine: the fulfilment engine. Turns a canonical entitlement from any
 * source into grants, exactly once, inside one store transaction. */
#ifndef GRANTD_ENGINE_H
#define GRANTD_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "catalog/catalog.h"
#include "store/store.h"
#include "util/util.h"

/* What became of a submitted entitlement. */
enum engine_outcome {
	ENGINE_GRANTED,           /* fulfilled now; the grants are durable */
	ENGINE_REPLAYED,          /* fulfilled earlier; nothing new granted */
	ENGINE_INVALID_CUSTOMER,  /* no such account (and auto-create is off) */
	ENGINE_INVALID_ITEM,      /* provider item id not in the catalog */
	ENGINE_OUTSIDE_WINDOW,    /* catalog entry not available at received_at */
	ENGINE_ALREADY_OWNED,     /* per-account limit reached, or owns it all */
	ENGINE_ACCOUNT_STATE,     /* account suspended or banned */
	ENGINE_CONFLICT,          /* same (source, external_id), other request */
	ENGINE_STORE_ERROR,       /* nothing committed; safe to retry */
	ENGINE_UNAVAILABLE,       /* shutting down; nothing done */
	ENGINE_OUTCOME_COUNT
};

/* Stable, provider-neutral code for an outcome ("UnknownAccount",
 * "UnknownItem", "NotAvailable", …), as recorded in the fulfilment's
 * error_code and counted in metrics; borrowed static string. A source
 * answers its provider in the provider's own words. */
const char *engine_outcome_code(enum engine_outcome o);
/* True for the outcomes a source should answer as success. */
bool engine_outcome_ok(enum engine_outcome o);

#define ENGINE_QUANTITY_MAX 1000

/* The canonical entitlement every source produces. Strings are borrowed and
 * must stay valid until the job's done callback has run. */
struct engine_entitlement {
	const char *source;             /* "primegaming", "twitch", … */
	enum catalog_provider provider; /* catalog namespace of provider_item_id */
	const char *external_id;        /* with source: the idempotency key */
	const char *account_id;
	const char *provider_item_id;
	int64_t quantity;               /* 1..ENGINE_QUANTITY_MAX (checked) */
	int64_t received_at_ms;
	/* NULL, or the rest of the request as NUL-free text: fingerprinted
	 * too, so a repeat that differs only there is a conflict. */
	const char *fingerprint_extra;
	/* true: only record that the entitlement arrived. The catalog is not
	 * consulted (no entry, window, limit or ownership rule); the account
	 * is checked and the fulfilment recorded completed with no catalog
	 * entry and no grants, exactly once like any other. Not
	 * fingerprinted: a repeat replays however the original was recorded. */
	bool record_only;
};

#define ENGINE_MESSAGE_MAX 320

/* One submission. The caller owns it (typically embedded in its request
 * state), fills `ent`, and must not touch it again until `done` runs. */
struct engine_job {
	struct engine_entitlement ent;
	/* Optional: runs inside the fulfilment's transaction when the outcome
	 * is granted or replayed, to write what must commit with it (a
	 * consumption report in the outbox). Returns 0 or a store_rc; a
	 * failure rolls the fulfilment back. */
	int (*also)(struct store_tx *tx, struct engine_job *job);

	/* Results, valid inside done. */
	enum engine_outcome outcome;
	char message[ENGINE_MESSAGE_MAX];   /* detail for errors, "" on success */
	char fulfillment_id[STORE_FULFILMENT_ID_LEN + 1]; /* "" if none recorded */
	/* Granted or replayed: true if the fulfilment was recorded without a
	 * catalog entry (record_only, now or when first recorded), so it
	 * granted nothing. */
	bool recorded_only;

	/* Private to the engine. */
	struct store_intent intent_;
	struct engine *engine_;
	struct catalog *catalog_;
	const struct catalog_entitlement *entry_;
	unsigned char fingerprint_[STORE_FINGERPRINT_LEN];
	bool create_account_;
	void (*done_)(struct engine_job *job);
};

/* What a revocation does to a stackable balance (revocation.stackable). */
enum engine_revoke_policy {
	ENGINE_REVOKE_CLAMP,          /* subtract, floor at 0, record the shortfall */
	ENGINE_REVOKE_ALLOW_NEGATIVE, /* subtract; the balance may go below 0 */
	ENGINE_REVOKE_FAIL,           /* refuse if any balance is short */
};
/* Parses "clamp", "allow_negative" or "fail". Returns 0, or -1. */
int engine_revoke_policy_parse(const char *s, enum engine_revoke_policy *out);

struct engine_options {
	bool auto_create_accounts;
	enum engine_revoke_policy revoke_stackable;
};

struct engine;

/* Creates an engine over a store and the catalog in force; both are
 * borrowed and must outlive it. Returns a new engine (owned). */
struct engine *engine_new(const struct engine_options *opts, struct store *st,
			  struct catalog_holder *catalog);
void engine_free(struct engine *e);

/* Submits a job. `done` runs exactly once: normally on the store's writer
 * thread after the commit, or before engine_submit returns if the store is
 * closing. It may free the job. Keep it short: it delays the next batch. */
void engine_submit(struct engine *e, struct engine_job *job,
		   void (*done)(struct engine_job *job));

/* ---- groups: entitlements granted together ---------------------------- */

/* Several entitlements granted in one transaction, every one or none (a
 * coupon's items). The caller owns it and its jobs, fills each job's ent
 * (all for one account), and must not touch them until `done` runs. */
struct engine_group {
	struct engine_job *jobs;   /* borrowed; n >= 1 */
	size_t n;

	/* Results, valid inside done: GRANTED if any job was granted now
	 * (every one granted or replayed), REPLAYED if every one was
	 * before, else the first refusal (jobs[failed], with its message)
	 * or STORE_ERROR / UNAVAILABLE. Each job's fulfillment_id is set
	 * when the group succeeded. */
	enum engine_outcome outcome;
	size_t failed;

	/* Private to the engine. */
	struct store_intent intent_;
	struct engine *engine_;
	struct catalog *catalog_;
	void (*done_)(struct engine_group *g);
};

/* Submits a group; `done` runs exactly once, as for engine_submit. */
void engine_submit_group(struct engine *e, struct engine_group *g,
			 void (*done)(struct engine_group *g));

/* ---- broadcasts: grants to every account ------------------------------ */

/* One line of a broadcast: a provider item id and how many times its
 * entry is granted. */
struct engine_broadcast_line {
	const char *provider_item_id;
	int64_t quantity;               /* 1..ENGINE_QUANTITY_MAX */
};

/* A grant to every account (a GAMEPOT gift to "all"): stored once, then
 * granted to each active account exactly once — all its lines in one
 * transaction — on that account's next fulfilment, sync or inventory
 * read, while before expires_at_ms. Strings are borrowed until done. */
struct engine_broadcast {
	const char *source;             /* static, as for jobs */
	const char *external_id;        /* with source: the idempotency key */
	enum catalog_provider provider; /* namespace of the lines' item ids */
	const struct engine_broadcast_line *lines;
	size_t n;
	int64_t expires_at_ms;          /* INT64_MAX: never */
	const char *detail;             /* JSON object for people, or NULL */
	/* Optional: runs in the transaction that stores it (an audit row). */
	int (*also)(struct store_tx *tx, struct engine_broadcast *b);

	/* Results, valid inside done: GRANTED (stored now), REPLAYED (stored
	 * before), INVALID_ITEM (a line's item is not in the catalog),
	 * OUTSIDE_WINDOW (already expired), STORE_ERROR, UNAVAILABLE. */
	enum engine_outcome outcome;
	char message[ENGINE_MESSAGE_MAX];

	/* Private to the engine. */
	struct store_intent intent_;
	struct engine *engine_;
	void (*done_)(struct engine_broadcast *b);
};

/* Stores a broadcast; `done` runs exactly once, as for engine_submit. */
void engine_submit_broadcast(struct engine *e, struct engine_broadcast *b,
			     void (*done)(struct engine_broadcast *b));

/* Whether a broadcast may be live now: reads the latest expiry from the
 * store when the engine's view is older than a few seconds. */
bool engine_broadcasts_live(struct engine *e);

/* Grants `account_id` the live broadcasts it has not had yet, and waits
 * for the commit (blocks the calling thread; call it before an inventory
 * read or a sync). Reads only when nothing is pending. Returns 0 or a
 * store_rc. */
int engine_broadcasts_deliver(struct engine *e, const char *account_id);

/* ---- revocations: a fulfilment's grants taken back (revoke.c) --------- */

enum engine_revoke_outcome {
	ENGINE_REVOKE_DONE,          /* revoked now */
	ENGINE_REVOKE_REPLAYED,      /* revoked before: its result, nothing changed */
	ENGINE_REVOKE_NOT_FOUND,     /* no such fulfilment */
	ENGINE_REVOKE_NOT_GRANTED,   /* failed or pending: it granted nothing */
	ENGINE_REVOKE_INSUFFICIENT,  /* policy "fail" and a balance is short */
	ENGINE_REVOKE_STORE_ERROR,   /* nothing committed; safe to retry */
	ENGINE_REVOKE_UNAVAILABLE,   /* shutting down; nothing done */
};

/* One revocation. The caller owns it, fills the inputs, and must not
 * touch it again until `done` runs. */
struct engine_revocation {
	int64_t row;              /* the fulfilment's (store_fulfilment_id_parse) */
	const char *reason;       /* borrowed until done */
	const char *actor;        /* "api:<credential name>"; borrowed */
	bool release_claim;       /* give the account its claim back */

	/* Results, valid inside done. */
	enum engine_revoke_outcome outcome;
	char message[ENGINE_MESSAGE_MAX];   /* detail for refusals */
	/* DONE or REPLAYED: the revocation as the API shows it, owned by the
	 * revocation (take a reference to keep it); NULL otherwise. Freed by
	 * engine_revocation_release. */
	json_t *result;

	/* Private to the engine. */
	struct store_intent intent_;
	struct engine *engine_;
	char account_[STORE_ACCOUNT_ID_MAX + 1];   /* the order_key */
	void (*done_)(struct engine_revocation *r);
};

/* Submits a revocation (reading the fulfilment's account first, on the
 * calling thread, to order it among intents): under the account's lock,
 * it removes
 * what the fulfilment's grants ledger says it granted (stackables by the
 * engine's revoke_stackable policy, its instances), releases its claim
 * if asked, records the revocation and an audit row, and marks the
 * fulfilment revoked — one transaction. `done` runs exactly once, as for
 * engine_submit. */
void engine_submit_revocation(struct engine *e, struct engine_revocation *r,
			      void (*done)(struct engine_revocation *r));
/* Releases r's result. Accepts a revocation never submitted. */
void engine_revocation_release(struct engine_revocation *r);

/* Calls fn for every (source, outcome) seen since the engine started, with
 * its count. Source names are borrowed from the submitted jobs' sources,
 * which must be static strings. */
typedef void (*engine_stats_fn)(void *arg, const char *source,
				enum engine_outcome outcome, uint64_t count);
void engine_stats_each(struct engine *e, engine_stats_fn fn, void *arg);

/* ---- events: what happened, for the game backend (events.c) --------- */

/* Event types (the `type` of an event; docs/api.md, Events). */
#define ENGINE_EVENT_GRANT_CREATED "grant.created"
#define ENGINE_EVENT_GRANT_REVOKED "grant.revoked"
#define ENGINE_EVENT_ACCOUNT_SUSPENDED "account.suspended"
#define ENGINE_EVENT_LINK_CREATED "link.created"
/* True if `type` is an event type grantd emits. */
bool engine_event_type_known(const char *type);

/* The outbox kind of event webhook deliveries; a row's dedupe key is
 * "<webhook index>:<event id>" and its payload the body to POST. */
#define ENGINE_EVENT_WEBHOOK_KIND "event.webhook"

/* A webhook events are sent to (events.webhook_*). Strings borrowed. */
/* Most webhooks events are queued for. */
#define ENGINE_WEBHOOKS_MAX 16

struct engine_webhook {
	const char *url;
	const char *secret;          /* signs each delivery (HMAC-SHA256) */
	const char *const *events;   /* the types it takes; none: every type */
	size_t n_events;
};

/* Names the webhooks every event is queued for (borrowed; they must
 * outlive every write). Call before the store takes writes; NULL, 0:
 * none. */
void engine_events_configure(const struct engine_webhook *hooks, size_t n);
/* Webhook `index` as configured, or NULL if there is no such one
 * (borrowed). */
const struct engine_webhook *engine_webhook_get(size_t index);

struct json_t;
/* Records an event of `type` about `account_id` with `data` (a JSON
 * object, borrowed) inside tx, and a delivery to every configured webhook
 * that takes the type, in the same transaction: the event exists iff the
 * change it tells of commits. An emitter about an account calls
 * store_tx_account_get first (its lock orders the account's events on
 * every node). Returns 0 or a store_rc. */
int engine_events_emit(struct store_tx *tx, const char *type,
		       const char *account_id, struct json_t *data);
/* account.suspended: `account_id` was set to `state` (suspended or
 * banned) from `previous` (NULL: it did not exist), by `cause` ("api",
 * "gamepot_login"). `validation_id` (>0) names the GAMEPOT login
 * validation that caused it. Returns 0 or a store_rc. */
int engine_events_account_suspended(struct store_tx *tx,
				    const char *account_id,
				    enum store_account_state state,
				    const enum store_account_state *previous,
				    const char *cause, int64_t validation_id);
/* link.created: `account_id` was linked to `external_id` at `provider`
 * (`replaced`: instead of another identity there), by `via` ("api",
 * "oauth"). Returns 0 or a store_rc. */
int engine_events_link_created(struct store_tx *tx, const char *account_id,
			       const char *provider, const char *external_id,
			       bool replaced, int64_t linked_at_ms,
			       const char *via);

/* An event as the feed and the webhooks show it: {"id", "type",
 * "created_at", "account_id", "data"}. Returns a new reference, or NULL
 * if e->data is not JSON. */
struct json_t *engine_event_json(const struct store_event *e);

/* A feed position (txid, id) as the opaque cursor clients pass back. */
#define ENGINE_EVENTS_CURSOR_MAX 48
void engine_events_cursor_format(int64_t txid, int64_t id,
				 char out[ENGINE_EVENTS_CURSOR_MAX]);
/* Parses a cursor (untrusted) made by engine_events_cursor_format.
 * Returns 0, or -1 (nothing set) if `s` is not one. */
int engine_events_cursor_parse(const char *s, int64_t *txid, int64_t *id);

#endif
