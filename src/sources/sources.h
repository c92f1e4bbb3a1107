/* sources: one adapter per provider. Each parses and authenticates what its
 * provider sends, turns it into a canonical entitlement for the engine, and
 * answers in the provider's own contract. The sources table is the one
 * place a provider is declared (docs/internals/adding-a-provider.md). */
#ifndef GRANTD_SOURCES_H
#define GRANTD_SOURCES_H

#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "engine/engine.h"
#include "http/http.h"
#include "outbound/outbound.h"
#include "outbox/outbox.h"
#include "store/store.h"
#include "util/util.h"

struct source_pull;  /* the pull side of a provider (sources/pull_int.h) */

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
	/* grantd fetches this provider's entitlements and reports them
	 * consumed (NULL: it only receives). */
	const struct source_pull *pull;
	/* The settings keys that must be set for the provider to be enabled
	 * (NULL-ended names of struct pull_settings fields, for messages). */
	const char *const *required;
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

/* ---- pulling: the providers grantd calls ------------------------------ */

/* providers.<id>, as configured. Strings are borrowed ("" when unset) and
 * must outlive the pull runtime. */
struct pull_settings {
	const char *client_id, *client_secret;
	const char *game_id;                        /* twitch */
	const char *deployment_id, *sandbox_id;     /* epic */
	const char *publisher_key, *app_id;         /* steam */
	const char *authorize_url, *token_url, *profile_url; /* primegaming */
	const char *auth_base, *api_base;
	int64_t timeout_ms;                         /* default 5000 */
	int64_t max_response_bytes;                 /* default 4 MiB */
	int64_t poll_interval_seconds;              /* twitch; 0: off */
};

/* True if `s` can be pulled and its settings hold the credentials it
 * needs. */
bool sources_pull_enabled(const struct source *s, const struct pull_settings *ps);
/* The required settings of `s` that `ps` lacks (names borrowed, static),
 * at most `max`; returns how many are missing. */
size_t sources_pull_missing(const struct source *s,
			    const struct pull_settings *ps,
			    const char **missing, size_t max);

struct pull_options {
	struct store *store;               /* all borrowed */
	struct engine *engine;
	struct catalog_holder *catalog;
	struct outbound *outbound;
	struct outbox *outbox;             /* report kinds are registered on it */
	/* Settings per source, in sources_all order (NULL: not configured). */
	const struct pull_settings *const *settings;
	/* Seals provider tokens at rest (UTIL_SEAL_KEY_LEN bytes, copied). */
	const unsigned char *token_key;
	int workers;                       /* pull threads; default 32 */
};

/* The pull runtime: enabled providers, their worker threads, the Twitch
 * poller. */
struct pull;

/* Starts the runtime and registers the report deliverers on opts->outbox
 * (before outbox_start). Returns 0 and a new runtime (owned), or -1 with
 * a message in *err (owned by the caller). */
int pull_new(const struct pull_options *opts, struct pull **out, char **err);
/* Stops the workers and the poller; syncs in progress finish first. The
 * runtime stays valid for the outbox deliverers registered on it, so stop
 * the outbox after this and before pull_free. Accepts NULL. */
void pull_stop(struct pull *p);
/* Stops (if still running) and frees the runtime. Accepts NULL. */
void pull_free(struct pull *p);
/* How many providers are enabled, and the id of each (borrowed). */
size_t pull_enabled(const struct pull *p, const char **ids, size_t max);

/* POST /v1/accounts/{account_id}/entitlements/sync; route ctx: struct pull. */
void pull_sync_handler(struct http_request *req);

/* Queues a sync of one provider for an account in the background (after a
 * new link): written to the outbox as kind "sync.<provider>" inside `tx`.
 * Returns a store_rc. */
int pull_tx_schedule_sync(struct store_tx *tx, const char *account_id,
			  const char *provider, int64_t now_ms);

/* ---- the browser link flow (sources/pull_link.c) ---------------------- */

/* Whether a provider links players in their browser. */
enum pull_link_offer {
	PULL_LINK_OFFERED,
	PULL_LINK_NOT_ENABLED,   /* its providers.<id> section lacks credentials */
	PULL_LINK_NO_BROWSER,    /* enabled, but it has no authorize endpoint */
};
enum pull_link_offer pull_link_offer(struct pull *p, const char *provider);

/* Appends to `out` the URL that sends a player to `provider`'s authorize
 * endpoint: client_id, redirect_uri, response_type=code, the provider's
 * scope, state, and the PKCE code_challenge (S256). The provider must be
 * PULL_LINK_OFFERED. */
void pull_link_authorize_url(struct pull *p, const char *provider,
			     const char *redirect_uri, const char *state,
			     const char *code_challenge, struct util_buf *out);

/* What a code exchange came to. Pointers are borrowed for the callback. */
struct pull_link_result {
	bool ok;
	const char *user_id;         /* the player's id at the provider */
	const void *sealed;          /* the tokens, sealed for the link of the */
	size_t sealed_len;           /* account at the provider */
	const char *message;         /* why not ok, for the log; no secrets */
};
typedef void (*pull_link_done_fn)(void *arg, const struct pull_link_result *r);

/* Exchanges an authorization code on a pull worker: the provider's token
 * endpoint (with the PKCE verifier and the redirect_uri of the authorize
 * request), then the provider's user id, checked as a link identity, and
 * the tokens sealed for the link of `account_id`. done(arg, result) runs
 * on that worker. Strings are copied. Returns 0, or -1 if the runtime is
 * stopping or the provider is not offered; done is then never called. */
int pull_link_exchange(struct pull *p, const char *provider,
		       const char *account_id, const char *code,
		       const char *verifier, const char *redirect_uri,
		       pull_link_done_fn done, void *arg);

/* Asks the outbox to look for due rows now (after a commit that scheduled
 * a sync). */
void pull_outbox_kick(struct pull *p);

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

/* GAMEPOT: the purchase and the coupon webhooks (GET or POST
 * /v1/gamepot/{webhook_secret}/purchase and …/coupon), authenticated by
 * the secret in their path. Its routes' ctx is a struct gamepot_settings. */
extern const struct source source_gamepot;

/* gamepot.*, as configured, with the engine (all borrowed; they must
 * outlive the server). */
struct gamepot_settings {
	struct engine *engine;
	const char *project_id;           /* "": every webhook is refused */
	const char *const *secrets;       /* none: every webhook is 404 */
	size_t n_secrets;
	const struct util_cidr *allowed;  /* none: any client address */
	size_t n_allowed;
	bool reject_test_payments;        /* test_payments: reject */
	/* grantd as GAMEPOT's client (login validation, external payments) */
	struct store *store;
	struct catalog_holder *catalog;
	struct outbound *outbound;
	struct outbox *outbox;
	const char *api_base;             /* no trailing slash */
	const char *api_key;              /* "": external payments refused */
	int64_t timeout_ms;
	bool block_on_failure;            /* login_validation.block_on_failure */
};

/* The purchase webhook's fields, in the order GAMEPOT documents them. */
#define SOURCES_GP_FIELDS(X) \
	X(USER_ID, "userId", 128) \
	X(ORDER_ID, "orderId", 512) \
	X(PROJECT_ID, "projectId", 128) \
	X(PLATFORM, "platform", 128) \
	X(PRODUCT_ID, "productId", 256) \
	X(STORE, "store", 64) \
	X(PAYMENT, "payment", 64) \
	X(TRANSACTION_ID, "transactionId", 512) \
	X(GAMEPOT_ORDER_ID, "gamepotOrderId", 512) \
	X(UNIQUE_ID, "uniqueId", 512) \
	X(SERVER_ID, "serverId", 1024) \
	X(PLAYER_ID, "playerId", 1024) \
	X(ETC, "etc", 1024) \
	X(TP, "tp", 16)

enum sources_gp_field {
#define SOURCES_GP_ENUM(id, name, max) SOURCES_GP_##id,
	SOURCES_GP_FIELDS(SOURCES_GP_ENUM)
#undef SOURCES_GP_ENUM
	SOURCES_GP_FIELD_COUNT
};

/* A parsed purchase webhook: each field decoded (owned; NULL when absent
 * or empty). */
struct sources_gp_purchase {
	char *field[SOURCES_GP_FIELD_COUNT];
	bool test_payment;                /* tp=1 */
};

/* Parses a purchase webhook's arguments, form-encoded ("k=v&…", '+' a
 * space, %-escapes), from a query string or a POST body of `len` bytes.
 * Unknown names are ignored; a known name given twice, a malformed
 * escape, a field over its maximum length, a missing userId, projectId,
 * productId or both transactionId and gamepotOrderId, or a tp other than
 * 0 or 1 is refused. Returns 0 with *out filled (release it with
 * sources_gamepot_purchase_release), or -1 with a message in msg (and *out
 * empty). Exposed for the fuzzer and unit tests. */
int sources_gamepot_parse(const char *form, size_t len,
			  struct sources_gp_purchase *out, char *msg,
			  size_t msg_size);
/* Frees the fields; accepts an empty struct. */
void sources_gamepot_purchase_release(struct sources_gp_purchase *p);

/* The coupon and gift webhook's fields, in the order GAMEPOT documents
 * them, with the longest value grantd takes. */
#define SOURCES_GP_COUPON_FIELDS(X) \
	X(USER_ID, "userId", 128) \
	X(PROJECT_ID, "projectId", 128) \
	X(PLATFORM, "platform", 128) \
	X(STORE, "store", 64) \
	X(TITLE, "title", 1024) \
	X(CONTENT, "content", 4096) \
	X(TARGET, "target", 128) \
	X(EXPIRE_MS, "expireMs", 20) \
	X(USER_DATA, "userData", 1024) \
	X(ITEM_ID, "itemId", 32768)

enum sources_gp_coupon_field {
#define SOURCES_GP_COUPON_ENUM(id, name, max) SOURCES_GP_COUPON_##id,
	SOURCES_GP_COUPON_FIELDS(SOURCES_GP_COUPON_ENUM)
#undef SOURCES_GP_COUPON_ENUM
	SOURCES_GP_COUPON_FIELD_COUNT
};

#define SOURCES_GP_COUPON_ITEMS_MAX 100
#define SOURCES_GP_COUPON_KEY_LEN 71    /* "coupon:" and 64 hex digits */

/* One entry of itemId: strings owned. */
struct sources_gp_coupon_item {
	char *item_id;                  /* maps through gamepot.itemId */
	char *store_item_id;            /* NULL if absent */
	int64_t count;                  /* 1..ENGINE_QUANTITY_MAX */
};

/* A parsed coupon or gift webhook. */
struct sources_gp_coupon {
	char *field[SOURCES_GP_COUPON_FIELD_COUNT];  /* owned; NULL: absent */
	struct sources_gp_coupon_item *items;        /* owned */
	size_t n_items;
	bool broadcast;                 /* userId "all": a gift to everyone */
	int64_t expire_ms;              /* INT64_MAX when expireMs is absent */
	/* The idempotency key: "coupon:" and the hex SHA-256 of the
	 * canonical form of every field (sources/gamepot_coupon.c). */
	char key[SOURCES_GP_COUPON_KEY_LEN + 1];
};

/* Parses a coupon webhook's arguments (as sources_gamepot_parse does), its
 * itemId JSON array and expireMs, and derives its key. userId, projectId
 * and a non-empty itemId are required. Returns 0 with *out filled (release
 * it with sources_gamepot_coupon_release), or -1 with a message in msg
 * (and *out empty). Exposed for the fuzzer and unit tests. */
int sources_gamepot_coupon_parse(const char *form, size_t len,
				 struct sources_gp_coupon *out, char *msg,
				 size_t msg_size);
/* Frees what a parse filled; accepts an empty struct. */
void sources_gamepot_coupon_release(struct sources_gp_coupon *c);

/* ---- GAMEPOT login validation (sources/gamepot_login.c) ---------------- */

/* The outbox kind of a login validation waiting for GAMEPOT. */
#define SOURCES_GP_LOGIN_KIND "gamepot.login"
/* Longest member_id and token (GAMEPOT's own maxima), remote_ip (an IPv6
 * address in text) and platform accepted. */
#define SOURCES_GP_MEMBER_ID_MAX 128
#define SOURCES_GP_TOKEN_MAX 2048
#define SOURCES_GP_REMOTE_IP_MAX 45
#define SOURCES_GP_PLATFORM_MAX 32

/* What a validation came to, by GAMEPOT's loginauth status. */
enum sources_gp_login_state {
	SOURCES_GP_LOGIN_PENDING,          /* GAMEPOT has not answered yet */
	SOURCES_GP_LOGIN_VALID,            /* 1 */
	SOURCES_GP_LOGIN_MISSING_DATA,     /* 0: GAMEPOT saw a field missing */
	SOURCES_GP_LOGIN_FORGED,           /* -1: token validation failed */
	SOURCES_GP_LOGIN_MEMBER_MISMATCH,  /* -2: the token is another member's */
	SOURCES_GP_LOGIN_EXPIRED,          /* -3: too long after the SDK login */
	SOURCES_GP_LOGIN_UNKNOWN_RESULT,   /* any other status */
};
/* "pending", "valid", "missing_data", "forged", "member_mismatch",
 * "expired", "unknown_result" (static strings). */
const char *sources_gamepot_login_state_name(enum sources_gp_login_state s);
/* The state GAMEPOT's loginauth `status` means. */
enum sources_gp_login_state sources_gamepot_login_state_of(long long status);

/* A login validation request {"member_id", "token", "remote_ip",
 * "platform"}: pointers borrowed from the parsed document; remote_ip and
 * platform are NULL when absent or empty. */
struct sources_gp_login {
	const char *member_id;
	const char *token;
	const char *remote_ip;
	const char *platform;
};
/* Parses a login validation body strictly: a JSON object with no other
 * field; member_id (1..128) and token (1..2048) printable ASCII strings;
 * remote_ip, if given, an IPv4 or IPv6 address; platform, if given, up
 * to 32 printable ASCII characters. Returns 0 with *root a new reference
 * the caller releases, or -1 with the problem (naming the field, never
 * quoting the token) in msg and *root NULL. Exposed for the fuzzer and
 * unit tests. */
int sources_gamepot_login_parse(const char *body, size_t len,
				struct sources_gp_login *out, json_t **root,
				char *msg, size_t msg_size);

/* Reads GAMEPOT's loginauth answer {"status": <integer>, "message": …}.
 * Returns 0 with *status and the message (truncated at a character
 * boundary to fit, "" if absent) in `message`, or -1 if the body is not
 * a JSON object with an integer status. Exposed for the fuzzer and unit
 * tests. */
int sources_gamepot_login_answer(const char *body, size_t len,
				 long long *status, char *message,
				 size_t message_size);

/* Registers the deliverer of SOURCES_GP_LOGIN_KIND on gs->outbox (before
 * outbox_start); gs is borrowed and must outlive the outbox. */
void sources_gamepot_login_register(const struct gamepot_settings *gs);

/* POST /v1/accounts/{account_id}/gamepot/login (202 at once; GAMEPOT is
 * asked in the background) and GET of the newest validation; route ctx:
 * struct gamepot_settings. */
void sources_gamepot_login_post(struct http_request *req);
void sources_gamepot_login_get(struct http_request *req);

/* ---- GAMEPOT external payments (sources/gamepot_payments.c) ---------- */

/* POST /v1/accounts/{account_id}/gamepot/external-payments; route ctx:
 * struct gamepot_settings. Records a payment taken outside the stores with
 * GAMEPOT's external payment API (on the outbound loop: no HTTP thread
 * waits), then grants its product through the engine, keyed
 * "external:<transaction_id>" in source "gamepot". */
void sources_gamepot_payment_handler(struct http_request *req);

/* The request body's fields as GAMEPOT's external payment API names them
 * (maximum lengths in characters). */
#define SOURCES_GP_PAY_FIELDS(X) \
	X(STORE, "store", "store", 64, true) \
	X(PRODUCT_ID, "product_id", "productId", 256, true) \
	X(TRANSACTION_ID, "transaction_id", "transactionId", 512, true) \
	X(CURRENCY, "currency", "currency", 64, true) \
	X(PAYMENT_ID, "payment_id", "paymentId", 64, true) \
	X(UNIQUE_ID, "unique_id", "uniqueId", 512, false)

enum sources_gp_pay_field {
#define SOURCES_GP_PAY_ENUM(id, name, gp_name, max, required) \
	SOURCES_GP_PAY_##id,
	SOURCES_GP_PAY_FIELDS(SOURCES_GP_PAY_ENUM)
#undef SOURCES_GP_PAY_ENUM
	SOURCES_GP_PAY_FIELD_COUNT
};

/* A parsed external payment request. Strings are borrowed from the root
 * the parser returns ("" for an absent unique_id); price is a new
 * reference (an integer, or a real when it has a fraction). */
struct sources_gp_payment {
	const char *field[SOURCES_GP_PAY_FIELD_COUNT];
	json_t *price;
};

/* Parses {"store", "product_id", "transaction_id", "currency", "price",
 * "payment_id", "unique_id"} strictly: unknown or repeated fields,
 * missing required ones, wrong types, control characters, strings over
 * GAMEPOT's maximum length and a negative or non-numeric price are
 * refused. Returns 0 with *out filled and *root a new reference (release
 * both with sources_gamepot_payment_release), or -1 with the problem,
 * naming the field, in msg (and nothing to release). Exposed for the
 * fuzzer and unit tests. */
int sources_gamepot_payment_parse(const char *body, size_t len, json_t **root,
				  struct sources_gp_payment *out, char *msg,
				  size_t msg_size);
void sources_gamepot_payment_release(json_t *root,
				     struct sources_gp_payment *p);

/* What GAMEPOT's answer to an external payment came to. */
enum sources_gp_pay_result {
	SOURCES_GP_PAY_ACCEPTED,        /* status 1: recorded now */
	SOURCES_GP_PAY_DUPLICATE,       /* -5: transactionId already recorded */
	SOURCES_GP_PAY_MISSING_DATA,    /* -1 */
	SOURCES_GP_PAY_INVALID_PRICE,   /* -2 */
	SOURCES_GP_PAY_INVALID_PROJECT, /* -3 */
	SOURCES_GP_PAY_NOT_SUPPORTED,   /* -4: the project lacks the API */
	SOURCES_GP_PAY_DB_ERROR,        /* -6 */
	SOURCES_GP_PAY_KEY_REFUSED,     /* HTTP 401 or 403: x-api-key refused */
	SOURCES_GP_PAY_UNAVAILABLE,     /* HTTP 5xx, 408 or 429 */
	SOURCES_GP_PAY_BAD_ANSWER,      /* anything else */
};

#define SOURCES_GP_MESSAGE_MAX 200

/* GAMEPOT's answer, read defensively (untrusted input). */
struct sources_gp_pay_answer {
	enum sources_gp_pay_result result;
	bool has_status;
	json_int_t status;              /* GAMEPOT's status, if has_status */
	/* GAMEPOT's message: valid UTF-8 without control characters, cut to
	 * at most SOURCES_GP_MESSAGE_MAX bytes on a character boundary */
	char message[SOURCES_GP_MESSAGE_MAX + 1];
};

/* Reads an answer of HTTP status `http_status` with body[0..len) (any
 * bytes). Every input yields a result; *out is always filled. */
void sources_gamepot_payment_answer(long http_status, const char *body,
				    size_t len,
				    struct sources_gp_pay_answer *out);

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
