/* sources/pull_int.h (private to sources): the pull provider interface —
 * what a provider file implements so grantd can fetch a linked player's
 * open entitlements, report them consumed, and link players in a browser —
 * and the helpers every provider shares (sources/pull_http.c). */
#ifndef GRANTD_SOURCES_PULL_INT_H
#define GRANTD_SOURCES_PULL_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "outbound/outbound.h"
#include "outbox/outbox.h"
#include "sources/sources.h"

#define PULL_MESSAGE_MAX 200

/* A player's tokens at a provider (user tokens from the browser flow).
 * Strings are owned (NULL when absent); released by pull_tokens_release. */
struct pull_tokens {
	char *access;
	char *refresh;
	int64_t expires_at_ms;       /* 0: unknown */
};
void pull_tokens_release(struct pull_tokens *t);

/* The link a call is made for. Strings are borrowed; the provider may
 * replace `tokens` (releasing the old ones) and set the flags. */
struct pull_link {
	const char *account_id;
	const char *external_id;     /* the player's id at the provider */
	struct pull_tokens tokens;   /* decrypted; empty if none stored */
	bool tokens_changed;         /* set when the provider refreshed them */
	bool relink_required;        /* set when it refused them for good */
};

/* One open entitlement a fetch found. Strings are owned by the fetch. */
struct pull_item {
	char *entitlement_id;        /* the provider's id: the engine's external_id */
	char *item_id;               /* provider item id, looked up in `ns` */
	enum catalog_provider ns;
	int64_t quantity;            /* 1..ENGINE_QUANTITY_MAX */
	/* The consumption report delivered once it is granted (a JSON text the
	 * provider's report reads back), or NULL: never reported (durable
	 * content the provider keeps showing, granted once by the engine). */
	char *report;
	char *user_id;               /* the provider user it belongs to (set by
				      * poll), or NULL */
};

enum pull_status {
	PULL_OK,
	PULL_UNAVAILABLE,            /* timeout, 5xx, garbage, rate limited */
	PULL_RELINK_REQUIRED,        /* the provider refused the link's tokens */
};

struct pull_fetch {
	enum pull_status status;
	char message[PULL_MESSAGE_MAX];   /* why, when not PULL_OK; no secrets */
	struct pull_item *items;     /* owned */
	size_t n, cap;
};

/* Adds an item (strings copied; report may be NULL). */
void pull_fetch_add(struct pull_fetch *f, const char *entitlement_id,
		    const char *item_id, enum catalog_provider ns,
		    int64_t quantity, const char *report);
/* Sets status and message (printf-style). */
__attribute__((format(printf, 3, 4)))
void pull_fetch_fail(struct pull_fetch *f, enum pull_status status,
		     const char *fmt, ...);
void pull_fetch_release(struct pull_fetch *f);

/* A provider grantd calls, as configured (sources/pull.c makes one per
 * enabled source). */
struct pull_provider {
	const struct source *source;
	struct pull_settings settings;     /* strings owned */
	struct outbound *outbound;         /* borrowed */
	struct catalog_holder *catalog;    /* borrowed */

	pthread_mutex_t lock;              /* guards what follows */
	char *app_token;                   /* client-credentials token, or NULL */
	int64_t app_token_expires_ms;
	int64_t blocked_until_ms;          /* rate limited until then */
};

/* What a provider implements. Every function may block on outbound calls
 * and runs on a pull worker or the outbox thread, never an HTTP thread. */
struct source_pull {
	/* Fills *out with `link`'s open entitlements, or a failure status. May
	 * refresh link->tokens (setting tokens_changed) or set
	 * relink_required. */
	void (*fetch)(struct pull_provider *p, struct pull_link *link,
		      struct pull_fetch *out);
	/* Delivers one consumption report: `payload` is an item's `report`,
	 * `fulfillment_id` the fulfilment it follows ("f_" and 16 hex digits:
	 * a stable request id for providers that replay by one). Idempotent:
	 * it may be delivered again after a crash. Writes what went wrong
	 * into err unless it delivered. */
	enum outbox_verdict (*report)(struct pull_provider *p,
				      struct pull_link *link,
				      const char *payload,
				      const char *fulfillment_id, char *err,
				      size_t size);

	/* Optional, for providers that take many reports per call with the
	 * application's own credentials (no link): delivers n reports at
	 * once (at most report_max), setting verdicts[i] and, unless
	 * delivered, errors + i * size for payloads[i]. */
	void (*report_many)(struct pull_provider *p,
			    const char *const *payloads,
			    const char *const *fulfillment_ids, size_t n,
			    enum outbox_verdict *verdicts, char *errors,
			    size_t size);
	size_t report_max;

	/* Reads one answer of the provider's entitlement listing (`len`
	 * bytes of untrusted input, as fetch receives it) into out, setting
	 * PULL_UNAVAILABLE if it is not the API's shape. For the fuzzer and
	 * unit tests; fetch uses the same code. */
	void (*parse_listing)(struct pull_provider *p, const char *body,
			      size_t len, struct pull_fetch *out);

	/* Fetches every open entitlement of the game, whoever holds it,
	 * with each item's user_id set (Twitch polling); NULL: not offered. */
	void (*poll)(struct pull_provider *p, struct pull_fetch *out);

	/* ---- the browser link flow (NULL: servers link players only) ---- */
	/* The scope asked for at authorize ("games::prime profile"). */
	const char *authorize_scope;
	/* Writes the authorize endpoint (without a query) into out. */
	void (*authorize_endpoint)(const struct pull_provider *p, char *out,
				   size_t size);
	/* Exchanges an authorization code (PKCE `verifier`) for tokens, and
	 * reads the provider's user id into `user_id` (`size` bytes). Returns
	 * 0, or -1 with a message for the player's redirect in err. */
	int (*exchange)(struct pull_provider *p, const char *code,
			const char *verifier, const char *redirect_uri,
			struct pull_tokens *tokens, char *user_id, size_t size,
			char *err, size_t err_size);
};

/* ---- helpers for providers (sources/pull_http.c) ----------------------- */

/* Runs one request with the provider's timeout and response cap and waits
 * for it. `headers` is NULL-ended (may be NULL). The result is released by
 * outbound_result_release. */
void pull_http(struct pull_provider *p, const char *method, const char *url,
	       const char *const *headers, const char *body,
	       struct outbound_result *out);
/* Runs `n` requests at once with the provider's timeout and cap. */
void pull_http_many(struct pull_provider *p, struct outbound_request *reqs,
		    struct outbound_result *results, size_t n);

/* Describes a failed call for a message: "timeout after 5000 ms",
 * "HTTP 503", "invalid JSON"… `what` names the call ("GET drops"). */
void pull_describe(const struct pull_provider *p, const char *what,
		   const struct outbound_result *r, char *out, size_t size);
/* True if the answer is a 5xx, 429, or transport failure: worth retrying. */
bool pull_transient(const struct outbound_result *r);

/* Compact JSON text of `j` (owned), dropping the reference given. */
char *pull_json_text(json_t *j);
/* Parses a JSON answer body; NULL if it is not JSON (new reference). */
json_t *pull_json(const struct outbound_result *r);

/* application/x-www-form-urlencoded: appends name=value (value encoded)
 * with '&' when needed. */
void pull_form_add(struct util_buf *b, const char *name, const char *value);

/* The provider's client-credentials token (cached until a minute before
 * it expires). `token_url` is where to ask; `basic` sends the client id
 * and secret as HTTP Basic (Epic), otherwise as form fields (Twitch).
 * Returns an owned copy, or NULL with why in err. */
char *pull_app_token(struct pull_provider *p, const char *token_url, bool basic,
		     const char *extra_form, char *err, size_t size);
/* Forgets the cached app token (after a 401), so the next call asks anew. */
void pull_app_token_forget(struct pull_provider *p, const char *token);

/* Refreshes link->tokens with the refresh token at `token_url` (form
 * client_id/client_secret, or HTTP Basic if `basic`). Returns 0 with
 * link->tokens replaced and tokens_changed set; -1 with relink_required
 * set if the provider answered invalid_grant (or there is no refresh
 * token); -2 for a transient failure. err says why. */
int pull_refresh_user_token(struct pull_provider *p, struct pull_link *link,
			    const char *token_url, bool basic, char *err,
			    size_t size);
/* Reads an OAuth token answer into *out (expires_in → expires_at_ms).
 * Returns 0, or -1 if it lacks access_token. */
int pull_tokens_from_json(json_t *answer, struct pull_tokens *out);
/* Posts an authorization-code exchange to `token_url`. On success returns
 * 0 with the parsed answer in *answer (new reference) and tokens in *out;
 * else -1 with why in err. */
int pull_code_exchange(struct pull_provider *p, const char *token_url,
		       bool basic, const char *code, const char *verifier,
		       const char *redirect_uri, struct pull_tokens *out,
		       json_t **answer, char *err, size_t size);

/* Remembers a rate limit: until `reset` (epoch seconds, a Ratelimit-Reset
 * value) or Retry-After seconds, at most 60 s. */
void pull_note_rate_limit(struct pull_provider *p, const struct outbound_result *r);
/* True (with the wait in *ms) while rate limited. */
bool pull_rate_limited(struct pull_provider *p, int64_t *ms);

/* ---- the pull side of each provider ---------------------------------- */

extern const struct source_pull pull_primegaming;
extern const struct source_pull pull_twitch;
extern const struct source_pull pull_epic;
extern const struct source_pull pull_steam;

#endif
